"""Where the tests find what they need from outside the repository, and what happens without it.

Reference data (``../shared/data``), a PostgreSQL server and Chromium are there on a developer's
machine after ``./scripts/test`` and always in CI. Without them a test is skipped loudly on a
developer's machine, and **fails** under ``CI=true``: CI must never pass on less than the whole
suite.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest

__all__ = ["SHARED_DATA", "in_ci", "missing", "require"]

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
"""``../shared/data`` beside the checkout: the national snapshot, the HJ 212 vectors."""


def in_ci() -> bool:
    """Whether the tests run in CI (``CI=true``)."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def missing(what: str) -> NoReturn:
    """Skip (on a developer's machine) or fail (in CI) because ``what`` is absent."""
    if in_ci():
        pytest.fail(f"{what} — required in CI (CI=true)", pytrace=False)
    pytest.skip(what)


def require(path: Path) -> Path:
    """``path`` when it exists; else :func:`missing`."""
    if not path.exists():
        missing(f"reference data {path} is absent")
    return path
