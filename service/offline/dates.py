"""Sane sample dates at the file doors: a date outside a window is a typing slip, not data.

A laboratory sheet dated 9999-12-31 or year 1 would become the section's "latest" value for ever,
or overflow the time arithmetic downstream. The manual import
(:mod:`service.feeds.manual`) and the offline commands (:mod:`service.offline.classify`,
:mod:`service.offline.compensate`) refuse such a date with its row, through one
:class:`DateWindow`: not before :data:`DEFAULT_EARLIEST`, not more than :data:`DEFAULT_FUTURE`
after now (Beijing time). Both bounds are parameters [A].
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

from sections.dates import EARLIEST_DAY
from service.time import BEIJING

__all__ = ["DEFAULT_EARLIEST", "DEFAULT_FUTURE", "DEFAULT_WINDOW", "DateWindow"]

DEFAULT_EARLIEST: Final = EARLIEST_DAY
"""No sample of an automatic or laboratory series Qingliu reads is older [A] (sections.dates)."""
DEFAULT_FUTURE: Final = dt.timedelta(days=1)
"""How far past now a sample time may lie (clock and time-zone slips, not typing errors) [A]."""


@dataclass(frozen=True, slots=True)
class DateWindow:
    """The dates a sample may carry: ``earliest`` 00:00 Beijing ≤ when ≤ now + ``future``.

    Examples
    --------
    >>> now = dt.datetime(2026, 7, 3, 12, tzinfo=BEIJING)
    >>> DateWindow().reason(dt.date(2026, 7, 3), now=now)
    ''
    >>> DateWindow().reason(dt.date(9999, 12, 31), now=now).startswith("日期 9999-12-31 超出")
    True
    """

    earliest: dt.date = DEFAULT_EARLIEST
    future: dt.timedelta = DEFAULT_FUTURE

    def latest(self, *, now: dt.datetime | None = None) -> dt.datetime:
        """The latest acceptable moment (zone-aware, Beijing time)."""
        moment = dt.datetime.now(BEIJING) if now is None else now.astimezone(BEIJING)
        return moment + self.future

    def reason(self, when: dt.date | dt.datetime, *, now: dt.datetime | None = None) -> str:
        """``""`` when ``when`` lies in the window, else why not (Chinese, then English).

        A date (no time) is compared by calendar day; a naive datetime is Beijing time.
        """
        latest = self.latest(now=now)
        if isinstance(when, dt.datetime):
            moment = when if when.tzinfo is not None else when.replace(tzinfo=BEIJING)
            first = dt.datetime.combine(self.earliest, dt.time(), BEIJING)
            inside = first <= moment <= latest
        else:
            inside = self.earliest <= when <= latest.date()
        if inside:
            return ""
        text = when.isoformat()
        bounds = f"{self.earliest.isoformat()} – {latest:%Y-%m-%d %H:%M}"
        return (
            f"日期 {text} 超出合理范围 {bounds}（北京时间）/ date {text} is outside the accepted "
            f"window {bounds} (Beijing time)"
        )


DEFAULT_WINDOW: Final = DateWindow()
"""Not before 2000-01-01, not more than one day after now [A]."""
