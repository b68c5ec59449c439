"""When alerts escalate, close and keep quiet: the episode policy and its [A] defaults."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from zoneinfo import ZoneInfo

__all__ = ["DEFAULT_ESCALATE_AFTER", "DEFAULT_POLICY", "EpisodePolicy"]

_RED = 4

DEFAULT_ESCALATE_AFTER: Mapping[int, dt.timedelta | None] = MappingProxyType({
    1: None,
    2: dt.timedelta(hours=4),
    3: dt.timedelta(hours=2),
    4: dt.timedelta(minutes=30),
})  # fmt: skip
"""How long an episode may stay unacknowledged at each level before it escalates [A]: notice
never, yellow 4 h, orange 2 h, red 30 min."""



@dataclass(frozen=True)
class EpisodePolicy:
    """When episodes escalate and close, and when messages are held.

    Attributes
    ----------
    escalate_after : mapping of int to timedelta or None
        Per level (1–4), how long an unacknowledged episode waits before it goes to the next
        chief up; None: never [A] (:data:`DEFAULT_ESCALATE_AFTER`).
    open_from : int
        The lowest level that opens an episode [A: 2, yellow]: a lower condition (a single
        4-hourly value over the target, 提示) keeps an open episode alive and is recorded in
        it, but does not open one — one value is often noise, two in a row are yellow.
    close_after : timedelta
        An episode closes when no condition for it has been seen this long [A: 72 h: a problem
        that returns within three days — the span of a compensation event — is the same
        problem, and its chiefs are not told of it as new].
    quiet_start, quiet_end : datetime.time or None
        Quiet hours in ``timezone`` [A: 22:00–07:00]; ``quiet_start`` None: none.
    quiet_exempt_level : int
        Messages at this level or above are sent in quiet hours [A: red].
    timezone : str
        The zone of the quiet hours and of times in messages [Asia/Shanghai].
    """

    escalate_after: Mapping[int, dt.timedelta | None] = field(
        default_factory=lambda: DEFAULT_ESCALATE_AFTER
    )
    open_from: int = 2
    close_after: dt.timedelta = dt.timedelta(hours=72)
    quiet_start: dt.time | None = dt.time(22, 0)
    quiet_end: dt.time = dt.time(7, 0)
    quiet_exempt_level: int = _RED
    timezone: str = "Asia/Shanghai"

    def quiet_until(self, at: dt.datetime) -> dt.datetime | None:
        """The end of the quiet period ``at`` lies in (UTC), or None outside quiet hours.

        >>> policy = EpisodePolicy()
        >>> policy.quiet_until(dt.datetime(2026, 7, 1, 15, 0, tzinfo=dt.UTC))  # 23:00 Beijing
        datetime.datetime(2026, 7, 1, 23, 0, tzinfo=datetime.timezone.utc)
        >>> policy.quiet_until(dt.datetime(2026, 7, 1, 4, 0, tzinfo=dt.UTC)) is None  # 12:00
        True
        """
        if self.quiet_start is None:
            return None
        zone = ZoneInfo(self.timezone)
        local = at.astimezone(zone)
        clock = local.time()
        start, end = self.quiet_start, self.quiet_end
        wraps = start > end  # 22:00–07:00 spans midnight
        inside = (clock >= start or clock < end) if wraps else (start <= clock < end)
        if not inside:
            return None
        day = local.date()
        if wraps and clock >= start:
            day += dt.timedelta(days=1)
        return dt.datetime.combine(day, end, tzinfo=zone).astimezone(dt.UTC)

    def release_at(self, level: int, at: dt.datetime) -> dt.datetime:
        """When a message of ``level`` enqueued ``at`` may go: ``at``, or the end of quiet hours."""
        if level >= self.quiet_exempt_level:
            return at
        return self.quiet_until(at) or at

    def escalation_due(self, level: int, at: dt.datetime) -> dt.datetime | None:
        """When an episode at ``level`` told ``at`` escalates if unacknowledged (None: never)."""
        wait = self.escalate_after.get(level)
        return None if wait is None else self.release_at(level, at) + wait


DEFAULT_POLICY = EpisodePolicy()
