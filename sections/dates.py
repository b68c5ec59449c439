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
    "EARLIEST_DAY",
    "YEARS_AHEAD",
    "check_period",
    "month_days",
    "month_last_day",
    "parse_day",
    "parse_month",
    "parse_year",
]

_MONTH: Final = re.compile(r"^(\d{4})-(\d{1,2})$")
_YEAR: Final = re.compile(r"^\d{4}$")

EARLIEST_DAY: Final = dt.date(2000, 1, 1)
"""The earliest day a request may name [A]: no automatic monitoring in Hengshui before 2000."""

YEARS_AHEAD: Final = 1
"""How many calendar years after today a request may name [A] (planning the next year)."""


def check_period(
    day: dt.date,
    *,
    today: dt.date,
    earliest: dt.date = EARLIEST_DAY,
    years_ahead: int = YEARS_AHEAD,
) -> dt.date:
    """``day`` itself when it lies in the sane range, else an :class:`InputError`.

    The range runs from ``earliest`` (default 2000-01-01 [A]) to the last day of the year
    ``years_ahead`` years after ``today`` (default: the end of next year [A]). Every page and API
    answer bounds the months and days it is asked for through this function, so a year-1 or
    year-9999 request is a clear refusal instead of an overflow deep inside a query.

    Parameters
    ----------
    day : datetime.date
        A day, or a month's first day.
    today : datetime.date
        The caller's today (Beijing); domain code has no clock.
    earliest : datetime.date, optional
        The first allowed day.
    years_ahead : int, optional
        Calendar years after ``today``'s year that are still allowed.

    Raises
    ------
    InputError
        When ``day`` is outside the range; the message names the range.

    Examples
    --------
    >>> check_period(dt.date(2025, 7, 1), today=dt.date(2025, 8, 3))
    datetime.date(2025, 7, 1)
    >>> check_period(dt.date(2027, 1, 1), today=dt.date(2025, 8, 3))
    Traceback (most recent call last):
    ...
    sections.errors.InputError: 日期超出范围 2000-01-01 … 2026-12-31 / date out of range: 2027-01-01
    """
    latest = dt.date(min(today.year + years_ahead, dt.MAXYEAR), 12, 31)
    if earliest <= day <= latest:
        return day
    bounds = f"{earliest:%Y-%m-%d} … {latest:%Y-%m-%d}"
    raise InputError(f"日期超出范围 {bounds} / date out of range: {day.isoformat()}")


def parse_month(text: str, *, today: dt.date | None = None) -> dt.date:
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

    With ``today`` the month must also lie in the range of :func:`check_period`:

    >>> parse_month("2025-07", today=dt.date(2025, 8, 3))
    datetime.date(2025, 7, 1)
    """
    cell = str(text).strip()
    match = _MONTH.match(cell)
    first: dt.date | None = None
    try:
        if match:
            first = dt.date(int(match[1]), int(match[2]), 1)
        else:
            first = dt.date.fromisoformat(cell).replace(day=1)
    except ValueError:
        pass
    if first is not None:
        return first if today is None else check_period(first, today=today)
    raise InputError(f"月份必须是 YYYY-MM / month must be YYYY-MM, got {text!r}")


def parse_day(text: str, *, today: dt.date | None = None) -> dt.date:
    """``"YYYY-MM-DD"`` → a date (with ``today``: within the range of :func:`check_period`).

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
        day = dt.date.fromisoformat(str(text).strip())
    except ValueError:
        raise InputError(f"日期必须是 YYYY-MM-DD / day must be YYYY-MM-DD, got {text!r}") from None
    return day if today is None else check_period(day, today=today)


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
