"""Errors raised by the domain package ``compensation``, in Qingliu's one tree
(:mod:`sections.errors`).

::

    InputError (sections.errors)
    └── CompensationError              every error of this package
        ├── RuleError (ValueError)     a rule set is unknown, unreadable or invalid
        └── MeasurementError (ValueError)  a measurement names an unknown section or factor

Messages are written for the bureau's operators (Chinese first, English where they need it).
"""

from __future__ import annotations

from sections.errors import InputError

__all__ = ["CompensationError", "MeasurementError", "RuleError"]


class CompensationError(InputError):
    """Base class of every error raised by :mod:`compensation`."""


class RuleError(CompensationError):
    """A rule set is unknown, unreadable or invalid."""


class MeasurementError(CompensationError):
    """A measurement names an unknown section or factor, or is otherwise unusable."""
