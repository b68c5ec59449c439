"""Module-level tasks for tests/service/test_fanout.py: a spawned worker imports them by name."""

from __future__ import annotations

import os
from pathlib import Path


def square(number: int) -> int:
    return number * number


def square_with_pid(number: int) -> tuple[int, int]:
    """The square and the id of the process that computed it."""
    return number * number, os.getpid()


def mark_or_fail(job: tuple[str, int]) -> int:
    """Write ``<directory>/<number>`` and return the number; refuse 3 (nothing written)."""
    directory, number = job
    if number == 3:
        raise ValueError("三号不算 / three is refused")
    Path(directory, str(number)).write_text("done", "utf-8")
    return number
