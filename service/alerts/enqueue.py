"""Who is told of an episode, and the outbox rows that tell them (:mod:`service.alerts.episodes`).

The episodes decide *when* a message goes (opening, a higher level, an escalation, the closing);
this module decides *to whom* and writes the rows, inside the episode's transaction:

- :func:`recipients_at_step`: the chiefs (or operators) of one escalation step;
- :func:`enqueue_messages`: one row per recipient of the given steps and channel that reaches
  them (a recipient at several steps of the chains is told once);
- :func:`enqueue_closing`: the closing (解除) message, one row to everyone told so far.

**Dedupe keys.** ``episode:level:step:channel:recipient`` (:func:`dedupe_key`), unique in the
outbox. The closing message puts the marker ``closed`` where the level goes
(``episode:closed:step:channel:recipient``): it never collides with the episode's other rows (a
level is a number) and an episode closes once, so it is enqueued at most once.

**Quiet hours.** A closing message is never urgent: it is held in quiet hours whatever the
episode's level (released as a message just below ``policy.quiet_exempt_level``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, insert, select

from service.alerts.messages import compose_message, message_json
from service.alerts.policy import EpisodePolicy
from service.db.models import AlertOutbox, table_of

if TYPE_CHECKING:
    from sections.registry import Registry
    from sections.river_chiefs import Recipient, RiverChiefs
    from service.alerts.episodes import AlertCondition

__all__ = [
    "CLOSED_MARKER",
    "EpisodeContext",
    "StoredCondition",
    "dedupe_key",
    "enqueue_closing",
    "enqueue_messages",
    "recipients_at_step",
]

OUTBOX = table_of(AlertOutbox)

CLOSED_MARKER = "closed"
"""Stands for the level in the dedupe key of a closing message."""


@dataclass(frozen=True)
class EpisodeContext:
    """What one pass over the episodes works with: who is told, registry, time and policy."""

    chiefs: RiverChiefs
    registry: Registry | None
    now: dt.datetime
    policy: EpisodePolicy


def dedupe_key(
    *, episode_id: int, level: int | str, step: int, channel_id: str, recipient_id: str
) -> str:
    """The exactly-once key of an outbox row (``level``: :data:`CLOSED_MARKER` for the closing).

    >>> dedupe_key(episode_id=7, level=3, step=1, channel_id="wecom-a", recipient_id="city")
    '7:3:1:wecom-a:city'
    >>> dedupe_key(episode_id=7, level=CLOSED_MARKER, step=1, channel_id="wecom-a",
    ...            recipient_id="city")
    '7:closed:1:wecom-a:city'
    """
    return f"{episode_id}:{level}:{step}:{channel_id}:{recipient_id}"


def recipients_at_step(
    chiefs: RiverChiefs, *, section_id: str, audience: str, step: int
) -> tuple[Recipient, ...]:
    """Who is told at an escalation step of an episode (step 0: the first recipients).

    River chiefs: step 0 is the section's chiefs at its lowest level; step k is the k-th chief
    up each of their escalation chains (each once). Operators: the section's operators at
    step 0, nobody after.
    """
    if audience == "operators":
        return chiefs.operators_for_section(section_id) if step == 0 else ()
    section_chiefs = chiefs.chiefs_for_section(section_id)
    if not section_chiefs:
        return ()
    lowest = min(c.level for c in section_chiefs)
    found: dict[str, Recipient] = {}
    for first in (c for c in section_chiefs if c.level == lowest):
        chain = chiefs.escalation_chain(first.id)
        if step < len(chain):
            found.setdefault(chain[step].id, chain[step])
    return tuple(found.values())


def enqueue_messages(
    connection: Connection,
    ctx: EpisodeContext,
    condition: AlertCondition,
    *,
    episode_id: int,
    level: int,
    step: int,
    steps: Sequence[int],
    kind: str,
    opened_at: dt.datetime | None = None,
) -> tuple[int, tuple[str, ...]]:
    """Insert one outbox row per recipient of ``steps`` and channel that reaches them.

    ``kind`` is ``opened``, ``level_raised``, ``escalated`` or ``closed`` (then the key carries
    :data:`CLOSED_MARKER` and the row is held in quiet hours at any level). Returns the rows
    written and the unreachable recipients (and ``section:…`` when step 0 has nobody).

    A plain insert: a duplicate ``dedupe_key`` (a concurrent run enqueued it first) fails the
    whole transaction, which :func:`~service.db.queries.in_transaction` retries.
    """
    policy = ctx.policy
    closing = kind == "closed"
    held_as = min(level, policy.quiet_exempt_level - 1) if closing else level
    release = policy.release_at(held_as, ctx.now)
    rows: list[dict[str, Any]] = []
    unreachable: list[str] = []
    told: set[str] = set()
    for at_step in steps:
        recipients = recipients_at_step(ctx.chiefs, section_id=condition.section_id,
                                        audience=condition.audience, step=at_step)  # fmt: skip
        if at_step == 0 and not recipients:
            unreachable.append(f"section:{condition.section_id}")
        for recipient in recipients:
            if recipient.id in told:  # on two chains at different steps: told once
                continue
            told.add(recipient.id)
            channels = [c for c in ctx.chiefs.channels_of(recipient) if c.delivers_to(recipient)]
            if not channels:
                unreachable.append(recipient.id)
            for channel in channels:
                message = compose_message(
                    condition, registry=ctx.registry, timezone=policy.timezone, level=level,
                    kind=kind, step=at_step, recipient=recipient, channel=channel,
                    opened_at=opened_at,
                )  # fmt: skip
                key = dedupe_key(episode_id=episode_id, level=CLOSED_MARKER if closing else level,
                                 step=step, channel_id=channel.id,
                                 recipient_id=recipient.id)  # fmt: skip
                rows.append({
                    "episode_id": episode_id, "level": level, "escalation_step": step,
                    "recipient_id": recipient.id, "channel_id": channel.id, "dedupe_key": key,
                    "message": message_json(message), "status": "pending", "attempts": 0,
                    "next_attempt_at": release, "created_at": ctx.now,
                })  # fmt: skip
    if rows:
        connection.execute(insert(OUTBOX), rows)
    return len(rows), tuple(unreachable)


def enqueue_closing(
    connection: Connection, ctx: EpisodeContext, episode: Any
) -> tuple[int, tuple[str, ...]]:  # Any: a row of alert_episode
    """The closing (解除) message of a closed episode, to everyone told so far (steps 0 … its
    escalation step, each recipient once per channel); nothing when the episode never enqueued
    a message (nobody was told it began)."""
    episode_id = int(episode.id)
    told = connection.execute(
        select(func.count()).select_from(OUTBOX).where(OUTBOX.c.episode_id == episode_id)
    ).scalar_one()
    if not told:
        return 0, ()
    step = int(episode.escalation_step)
    return enqueue_messages(
        connection, ctx, StoredCondition.of(episode), episode_id=episode_id,
        level=int(episode.level), step=step, steps=range(step + 1), kind="closed",
        opened_at=_aware(episode.opened_at),
    )  # fmt: skip


@dataclass(frozen=True)
class StoredCondition:
    """An episode's last condition, as stored: what escalation and closing messages say."""

    section_id: str
    factor: str
    level: int
    rule_id: str
    audience: str
    observed_at: dt.datetime
    value: float | None
    limit: float | None
    detail: str
    trend: str | None = None
    probability: float | None = None

    @classmethod
    def of(cls, episode: Any) -> StoredCondition:  # Any: a row of alert_episode
        observed = _aware(episode.last_observed_at) or _aware(episode.last_condition_at)
        assert observed is not None
        return cls(episode.section_id, episode.factor, int(episode.level), episode.rule_id,
                   episode.audience, observed, episode.last_value, episode.last_limit,
                   episode.last_detail or "")  # fmt: skip


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
