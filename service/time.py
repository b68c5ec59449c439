"""Beijing time: the zone of every date a user sees (Asia/Shanghai, UTC+8, no DST)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

__all__ = ["BEIJING", "beijing_minute", "beijing_today"]

BEIJING = ZoneInfo("Asia/Shanghai")


def beijing_today() -> dt.date:
    """Today's date in Beijing."""
    return dt.datetime.now(BEIJING).date()


def beijing_minute(moment: dt.datetime | None) -> str:
    """A moment as pages show it: ``YYYY-MM-DD HH:MM`` in Beijing time; "" for None."""
    return "" if moment is None else f"{moment.astimezone(BEIJING):%Y-%m-%d %H:%M}"
