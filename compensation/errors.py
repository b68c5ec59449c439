"""Errors raised by the domain package ``compensation``.

::

    CompensationError              every error of this package
    ├── RuleError (ValueError)     a rule set is unknown, unreadable or invalid
    └── MeasurementError (ValueError)  a measurement names an unknown section or factor

Messages are written for the bureau's operators (Chinese first, English where they need it).
"""

from __future__ import annotations


class CompensationError(Exception):
    """Base class of every error raised by :mod:`compensation`."""


class RuleError(CompensationError, ValueError):
    """A rule set is unknown, unreadable or invalid."""


class MeasurementError(CompensationError, ValueError):
    """A measurement names an unknown section or factor, or is otherwise unusable."""
