"""Errors raised by the domain package ``sections``.

::

    SectionsError                 every error of this package
    ├── RegistryError  (ValueError)   the section registry file is wrong: names the entry and field
    ├── UnknownClassError (ValueError) a water-quality class that cannot be parsed
    └── DataTableError (KeyError)     a shipped data table lookup with an unknown key

A caller that shows errors to a user catches ``SectionsError``; the messages are written for
the bureau's operators (Chinese first, the English field name where an operator needs it).
"""

from __future__ import annotations


class SectionsError(Exception):
    """Base class of every error raised by :mod:`sections`."""


class RegistryError(SectionsError, ValueError):
    """A section registry entry is invalid.

    Attributes
    ----------
    entry : str
        Which entry is wrong, e.g. ``sections[3] (xiaofanqiao)``.
    field : str or None
        The field of that entry, when one field is to blame.
    """

    def __init__(self, message: str, *, entry: str, field: str | None = None) -> None:
        self.entry = entry
        self.field = field
        where = entry if field is None else f"{entry}, field '{field}'"
        super().__init__(f"断面名录错误 / registry error in {where}: {message}")


class UnknownClassError(SectionsError, ValueError):
    """A water-quality class string or number is not one of Ⅰ…Ⅴ, 劣Ⅴ (1…6)."""


class DataTableError(SectionsError, KeyError):
    """A key is not in a shipped data table; the message names the table and the valid keys."""

    def __str__(self) -> str:  # KeyError quotes its argument; show the plain message instead
        return str(self.args[0]) if self.args else ""
