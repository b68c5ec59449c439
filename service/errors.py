"""Errors raised by the service layer.

::

    QingliuError                       every error of the service that a user may see
    ├── ConfigurationError             a setting is invalid (names the QINGLIU_ variable)
    ├── DatabaseError                  the database cannot be reached or migrated
    ├── InputError                     an input file is wrong (names the row and column)
    ├── MonthNotRolledUp               a month has no stored roll-up (run the monthly job)
    └── FeedError                      a station feed failed (bad frame, bad answer)
        ├── FrameError                 an HJ 212 frame is refused (``reason`` says why)
        ├── FeedTimeout                a remote feed did not answer in time
        └── FeedAnswerError            a remote feed answered, but not usably

Domain errors (:class:`sections.errors.SectionsError`) pass through unchanged; the CLI prints both
kinds as a one-line message with exit code 2, never a traceback.
"""

from __future__ import annotations


class QingliuError(Exception):
    """Base class of the service's errors."""


class ConfigurationError(QingliuError, ValueError):
    """A setting is invalid."""


class DatabaseError(QingliuError):
    """The database cannot be reached or migrated."""


class InputError(QingliuError, ValueError):
    """An input file is wrong; the message names the row (file line) and the column."""

    def __init__(self, message: str, *, row: int | None = None, column: str | None = None) -> None:
        self.row = row
        self.column = column
        where = []
        if row is not None:
            where.append(f"第 {row} 行 / row {row}")
        if column is not None:
            where.append(f"列 / column '{column}'")
        prefix = f"{', '.join(where)}: " if where else ""
        super().__init__(prefix + message)


class FeedError(QingliuError):
    """A station feed failed."""


class FrameError(FeedError, ValueError):
    """An HJ 212 frame is refused; ``reason`` is a short machine-readable code."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(f"{reason}: {message}")


class FeedTimeout(FeedError, TimeoutError):
    """A remote feed did not answer in time."""


class FeedAnswerError(FeedError):
    """A remote feed answered, but the answer cannot be used (status, body, truncation)."""


class MonthNotRolledUp(QingliuError, LookupError):
    """The month has no stored summary: ``qingliu run monthly --month YYYY-MM`` makes it."""
