"""Calendar periods as the service reads them: months ``YYYY-MM``, days ``YYYY-MM-DD``, years.

Every command, page and API reads a month, day or year through these functions, so one input
means one thing everywhere. Days and months are Beijing calendar days and months
(:data:`sections.periods.LOCAL_TIMEZONE`).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Final

from sections.errors import InputError

__all__ = [
    "month_days",
    "month_last_day",
    "parse_day",
    "parse_month",
    "parse_year",
]

_MONTH: Final = re.compile(r"^(\d{4})-(\d{1,2})$")
_YEAR: Final = re.compile(r"^\d{4}$")


def parse_month(text: str) -> dt.date:
    """``"YYYY-MM"`` (also ``"YYYY-M"`` and a ``dt.date``'s ISO text) → the month's first day.

    Raises
    ------
    InputError
        When the text is not a month; the message is bilingual.

    Examples
    --------
    >>> parse_month("2025-07")
    datetime.date(2025, 7, 1)
    >>> parse_month("2025-07-15")
    datetime.date(2025, 7, 1)
    """
    cell = str(text).strip()
    match = _MONTH.match(cell)
    try:
        if match:
            return dt.date(int(match[1]), int(match[2]), 1)
        return dt.date.fromisoformat(cell).replace(day=1)
    except ValueError:
        pass
    raise InputError(f"月份必须是 YYYY-MM / month must be YYYY-MM, got {text!r}")


def parse_day(text: str) -> dt.date:
    """``"YYYY-MM-DD"`` → a date.

    Raises
    ------
    InputError
        When the text is not a day.

    Examples
    --------
    >>> parse_day("2025-02-28")
    datetime.date(2025, 2, 28)
    """
    try:
        return dt.date.fromisoformat(str(text).strip())
    except ValueError:
        raise InputError(f"日期必须是 YYYY-MM-DD / day must be YYYY-MM-DD, got {text!r}") from None


def parse_year(text: str | int) -> int:
    """``"2025"`` → 2025 (1900–2999).

    Examples
    --------
    >>> parse_year("2025")
    2025
    """
    cell = str(text).strip()
    if _YEAR.match(cell) and 1900 <= int(cell) <= 2999:
        return int(cell)
    raise InputError(f"年份必须是 YYYY / year must be YYYY, got {text!r}")


def month_last_day(month: dt.date) -> dt.date:
    """The last day of the month of ``month``.

    Examples
    --------
    >>> month_last_day(dt.date(2024, 2, 10))
    datetime.date(2024, 2, 29)
    """
    following = (month.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    return following - dt.timedelta(days=1)


def month_days(month: dt.date) -> int:
    """Number of days in the month of ``month``.

    Examples
    --------
    >>> month_days(dt.date(2025, 2, 1))
    28
    """
    return month_last_day(month).day
