"""Errors raised by the service layer.

::

    QingliuError                       every error of the service that a user may see
    ├── ConfigurationError             a setting is invalid (names the QINGLIU_ variable)
    └── DatabaseError                  the database cannot be reached or migrated

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
