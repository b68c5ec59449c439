"""Acknowledging an episode from anywhere: the link, the ``/alerts`` page, the API, the command.

:func:`acknowledge_episode` wraps :func:`service.alerts.episodes.acknowledge` with what every
door says the same way: an unknown episode is 404, a closed one 409 (nothing left to stop), an
episode acknowledged before is no error — the answer names who did it and when.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine

from service.alerts.episodes import acknowledge
from service.alerts.records import EpisodeRecord, get_episode
from service.errors import ConflictError
from service.time import BEIJING

__all__ = ["NOTE_MAX", "Acknowledgement", "acknowledge_episode"]

NOTE_MAX = 500
"""The longest note kept with an acknowledgement [characters]."""


@dataclass(frozen=True)
class Acknowledgement:
    """The outcome: ``changed`` when this call acknowledged it, and the episode after."""

    changed: bool
    episode: EpisodeRecord

    def describe(self) -> str:
        """One Chinese line for a page or a command."""
        e = self.episode
        if self.changed:
            return f"告警事件 {e.id} 已确认（{e.acknowledged_by}），不再升级"
        at = e.acknowledged_at.astimezone(BEIJING) if e.acknowledged_at else None
        when = f"{at:%Y-%m-%d %H:%M}" if at else "—"
        return f"告警事件 {e.id} 已由 {e.acknowledged_by} 于 {when} 确认"


def acknowledge_episode(
    *, engine: Engine, episode_id: int, by: str, note: str = "", now: dt.datetime
) -> Acknowledgement:
    """Acknowledge an open episode as ``by`` (escalation stops; event and audit recorded).

    Raises
    ------
    NotFoundError
        No episode has this id.
    ConflictError
        The episode is closed.
    """
    note = note.strip()[:NOTE_MAX]
    changed = acknowledge(engine=engine, episode_id=episode_id, by=by, note=note, now=now)
    episode = get_episode(engine, episode_id)
    if not changed and episode.state == "closed":
        closed = episode.closed_at.astimezone(BEIJING) if episode.closed_at else None
        when = f"{closed:%Y-%m-%d %H:%M}" if closed else "—"
        raise ConflictError(
            f"告警事件 {episode_id} 已于 {when} 关闭，无需确认 / episode {episode_id} is closed"
        )
    return Acknowledgement(changed, episode)
