"""Beijing time: the zone of every date a user sees (Asia/Shanghai, UTC+8, no DST)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

__all__ = ["BEIJING", "beijing_today"]

BEIJING = ZoneInfo("Asia/Shanghai")


def beijing_today() -> dt.date:
    """Today's date in Beijing."""
    return dt.datetime.now(BEIJING).date()
