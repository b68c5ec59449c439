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


def blas_threads(_: int) -> int:
    """The most threads any BLAS library of this worker uses, NumPy imported only now (as a
    spawned worker does when it unpickles its first task)."""
    import numpy  # noqa: F401 - loads OpenBLAS in this process
    from threadpoolctl import threadpool_info

    return max(info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas")
