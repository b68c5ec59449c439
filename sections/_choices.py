"""Reading a named choice from a data table: the value itself, typed as the Literal it is."""

from __future__ import annotations

from typing import TypeVar

from sections.errors import DataTableError

__all__ = ["choose"]

_C = TypeVar("_C", bound=str)


def choose(value: str, options: tuple[_C, ...], *, where: str) -> _C:
    """``value`` as one of ``options`` (so a ``Literal`` type comes back), else DataTableError.

    Examples
    --------
    >>> choose("le", ("le", "ge", "range"), where="gb3838_limits.csv, direction")
    'le'
    """
    for option in options:
        if value == option:
            return option
    raise DataTableError(f"{where}: {value!r} 不是 {' | '.join(options)} 之一 / not a valid choice")
