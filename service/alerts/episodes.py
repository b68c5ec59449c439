"""Alert episodes: fold the conditions of every evaluation run into episodes, and enqueue.

An **episode** is one section, factor and audience (``river_chiefs`` or ``operators``) from the
first condition to closing; the database holds at most one that is not closed (a partial unique
index, migration 0011). :func:`apply_conditions` takes one run's conditions (the pure rules of
``sections.alert_rules``) and:

- **opens** an episode for a new (section, factor, audience) at ``policy.open_from`` (yellow)
  or above, and enqueues one message per first recipient and channel: the section's
  lowest-level river chiefs (:meth:`~sections.river_chiefs.RiverChiefs.chiefs_for_section`),
  or its station operators;
- **updates** an open episode on a repeat at the same or a lower level: no message;
- **raises** it on a higher level: one message at the new level to everyone told so far (the
  chiefs of steps 0 … current); an acknowledged episode is open again (the acknowledgement was
  of the lower level) and its escalation clock restarts;
- **escalates** an episode not acknowledged within ``policy.escalate_after[level]`` to the next
  chief up each first chief's :meth:`~sections.river_chiefs.RiverChiefs.escalation_chain`
  (operators do not escalate);
- **closes** an episode no condition has been seen for in ``policy.close_after``, and tells
  everyone who was told of it (the recipients of steps 0 … its escalation step, each channel
  that reaches them) that it is over: one closing (解除) message each, held in quiet hours like
  any non-urgent message. An episode that never enqueued a message closes silently. Operators'
  episodes close the same way: the operators learn the station sends again (or the evaluation
  runs again).

Who is told and the outbox rows are :mod:`service.alerts.enqueue`'s.

:func:`acknowledge` stops escalation. Every change is an ``alert_episode_event`` row and, apart
from plain repeats, an audit event (:mod:`service.accounts.audit`), in the same transaction.

**Quiet hours.** A message below ``policy.quiet_exempt_level`` (red) enqueued in quiet hours is
held (``next_attempt_at``) until they end; the escalation clock of such an episode starts then.
A closing message is held at every level: it is not urgent.

**Exactly once.** Messages are enqueued in the transaction that changes the episode; their
``dedupe_key`` (episode, level, escalation step, channel, recipient; ``closed`` in place of the
level for the closing message) is unique. Two runs racing on the same condition (two processes,
two threads) cannot both open an episode (unique index) or both enqueue one message (unique
key): the loser's transaction fails as a whole, is retried, and then sees the winner's episode
as a repeat; an episode closes once (``closed_at`` is set in the same transaction), so its
closing message is enqueued once. Sending is :mod:`service.alerts.outbox`'s.

**The acknowledgement link.** Messages carry the literal placeholder ``{ack_url}``
(:data:`ACK_URL_PLACEHOLDER`); the outbox fills it at send time through its ``ack_url`` hook,
so the signed link (another step) is made when, and as often as, it is sent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import JsonValue
from sqlalchemy import Connection, Engine, insert, select, update

from service.accounts.audit import record
from service.alerts.enqueue import (
    EpisodeContext,
    StoredCondition,
    dedupe_key,
    enqueue_closing,
    enqueue_messages,
    recipients_at_step,
)
from service.alerts.messages import (
    ACK_URL_PLACEHOLDER,
    LEVEL_LABELS,
    message_from_json,
    message_json,
)
from service.alerts.policy import DEFAULT_ESCALATE_AFTER, DEFAULT_POLICY, EpisodePolicy
from service.db.models import AlertEpisode, AlertEpisodeEvent, table_of
from service.db.queries import in_transaction
from service.errors import InputError, NotFoundError

if TYPE_CHECKING:
    from sections.registry import Registry
    from sections.river_chiefs import Recipient, RiverChiefs

__all__ = [
    "ACK_URL_PLACEHOLDER",
    "DEFAULT_ESCALATE_AFTER",
    "LEVEL_LABELS",
    "AlertCondition",
    "EpisodeChanges",
    "EpisodePolicy",
    "acknowledge",
    "advance_episodes",
    "apply_conditions",
    "dedupe_key",
    "message_from_json",
    "message_json",
    "recipients_at_step",
]

EPISODES = table_of(AlertEpisode)
EVENTS = table_of(AlertEpisodeEvent)

SYSTEM_ACTOR = "system:alerts"
"""The audit actor of changes the service makes by itself."""


class AlertCondition(Protocol):
    """What :func:`apply_conditions` reads of a condition (``sections.alert_rules.Condition``).

    ``level`` is an ``AlertLevel`` (an ``IntEnum``: 1 notice … 4 red); ``audience`` is
    ``"river_chiefs"`` or ``"operators"``; ``observed_at`` is aware.
    """

    @property
    def section_id(self) -> str: ...
    @property
    def factor(self) -> str: ...
    @property
    def level(self) -> int: ...
    @property
    def rule_id(self) -> str: ...
    @property
    def audience(self) -> str: ...
    @property
    def observed_at(self) -> dt.datetime: ...
    @property
    def value(self) -> float | None: ...
    @property
    def limit(self) -> float | None: ...
    @property
    def detail(self) -> str: ...
    @property
    def trend(self) -> str | None: ...
    @property
    def probability(self) -> float | None: ...


@dataclass(frozen=True)
class EpisodeChanges:
    """What one :func:`apply_conditions` (or :func:`advance_episodes`) call changed: episode ids.

    ``enqueued`` counts outbox rows written; ``unreachable`` lists recipients (chief or
    operator ids) that no channel reaches, and sections with nobody to tell.
    """

    opened: tuple[int, ...] = ()
    updated: tuple[int, ...] = ()
    raised: tuple[int, ...] = ()
    escalated: tuple[int, ...] = ()
    closed: tuple[int, ...] = ()
    enqueued: int = 0
    unreachable: tuple[str, ...] = ()

    def __add__(self, other: EpisodeChanges) -> EpisodeChanges:
        return EpisodeChanges(
            self.opened + other.opened, self.updated + other.updated,
            self.raised + other.raised, self.escalated + other.escalated,
            self.closed + other.closed, self.enqueued + other.enqueued,
            tuple(dict.fromkeys(self.unreachable + other.unreachable)),
        )  # fmt: skip


def apply_conditions(
    *,
    engine: Engine,
    conditions: Iterable[AlertCondition],
    chiefs: RiverChiefs,
    registry: Registry | None,
    now: dt.datetime,
    policy: EpisodePolicy = DEFAULT_POLICY,
    advance: bool = True,
) -> EpisodeChanges:
    """Fold one evaluation run's conditions into episodes, then escalate and close.

    Each (section, factor, audience) is handled in its own transaction (retried when a
    concurrent run won a race: see the module docstring); of several conditions for one key,
    the highest level counts and the others are repeats.

    Parameters
    ----------
    engine : Engine
        The migrated database.
    conditions : iterable of AlertCondition
        This run's conditions.
    chiefs : RiverChiefs
        Who gets what, over which channels.
    registry : Registry or None
        For section names and target classes in messages (ids without it).
    now : datetime
        The time of the run (aware).
    policy : EpisodePolicy
        Escalation, closing and quiet hours.
    advance : bool
        Then :func:`advance_episodes` (escalate and close). ``False`` for conditions that are
        not a whole evaluation (the heartbeat of :func:`service.alerts.run.run_heartbeat`):
        closing needs a full pass to know that no condition holds any more.
    """
    now = _utc(now)
    ordered = sorted(conditions, key=lambda c: (c.section_id, c.factor, c.audience, -int(c.level)))
    changes = EpisodeChanges()
    context = EpisodeContext(chiefs=chiefs, registry=registry, now=now, policy=policy)
    for condition in ordered:
        _utc(condition.observed_at)
        if condition.audience not in ("river_chiefs", "operators"):
            raise InputError(f"未知告警对象 / unknown audience {condition.audience!r}")
        if int(condition.level) not in LEVEL_LABELS:
            raise InputError(f"未知告警级别 / unknown level {condition.level!r}")
        changes += in_transaction(
            engine=engine, work=partial(_apply_one, condition=condition, ctx=context)
        )
    if not advance:
        return changes
    return changes + advance_episodes(
        engine=engine, chiefs=chiefs, registry=registry, now=now, policy=policy
    )


def advance_episodes(
    *,
    engine: Engine,
    chiefs: RiverChiefs,
    registry: Registry | None,
    now: dt.datetime,
    policy: EpisodePolicy = DEFAULT_POLICY,
    close: bool = True,
) -> EpisodeChanges:
    """Escalate the open episodes whose time has come, close the quiet ones.

    Called by :func:`apply_conditions`; call it alone between runs to escalate on time
    (``close=False`` when no full evaluation has just refreshed the conditions: an episode is
    quiet only if a pass looked and found nothing).
    """
    now = _utc(now)
    context = EpisodeContext(chiefs=chiefs, registry=registry, now=now, policy=policy)
    with engine.connect() as connection:
        due = connection.execute(
            select(EPISODES.c.id).where(
                EPISODES.c.state == "open", EPISODES.c.next_escalation_at <= now
            ).order_by(EPISODES.c.id)
        ).scalars().all()  # fmt: skip
        quiet = connection.execute(
            select(EPISODES.c.id).where(
                EPISODES.c.closed_at.is_(None),
                EPISODES.c.last_condition_at <= now - policy.close_after,
            ).order_by(EPISODES.c.id)
        ).scalars().all()  # fmt: skip
    changes = EpisodeChanges()
    for episode_id in due:
        changes += in_transaction(
            engine=engine, work=partial(_escalate, episode_id=episode_id, ctx=context)
        )
    for episode_id in quiet if close else ():
        changes += in_transaction(
            engine=engine, work=partial(_close, episode_id=episode_id, ctx=context)
        )
    return changes


def acknowledge(
    *, engine: Engine, episode_id: int, by: str, note: str = "", now: dt.datetime
) -> bool:
    """Acknowledge an open episode: escalation stops. ``False`` if it was not open.

    Raises
    ------
    NotFoundError
        No episode has this id.
    """
    now = _utc(now)

    def work(connection: Connection) -> bool:
        changed = connection.execute(
            update(EPISODES)
            .where(EPISODES.c.id == episode_id, EPISODES.c.state == "open")
            .values(state="acknowledged", acknowledged_at=now, acknowledged_by=by[:64],
                    acknowledged_note=note, next_escalation_at=None, updated_at=now)
        ).rowcount  # fmt: skip
        if not changed:
            exists = connection.execute(
                select(EPISODES.c.id).where(EPISODES.c.id == episode_id)
            ).first()
            if exists is None:
                raise NotFoundError(f"没有这个告警事件 / no alert episode {episode_id}")
            return False
        detail: dict[str, JsonValue] = {"by": by, "note": note}
        _event(connection, episode_id, now, "acknowledged", detail)
        record(connection, actor=by, action="alert.acknowledged",
               target=f"alert_episode:{episode_id}", detail=detail)  # fmt: skip
        return True

    return in_transaction(engine=engine, work=work)


# --- one condition, one escalation, one closing ------------------------------------------------


def _apply_one(
    connection: Connection, *, condition: AlertCondition, ctx: EpisodeContext
) -> EpisodeChanges:
    now, level = ctx.now, int(condition.level)
    episode = connection.execute(
        _locked(connection, select(EPISODES).where(
            EPISODES.c.section_id == condition.section_id,
            EPISODES.c.factor == condition.factor,
            EPISODES.c.audience == condition.audience,
            EPISODES.c.closed_at.is_(None),
        ))
    ).first()  # fmt: skip
    last = {
        "last_condition_at": now, "last_observed_at": _utc(condition.observed_at),
        "last_detail": condition.detail, "last_value": condition.value,
        "last_limit": condition.limit, "updated_at": now,
    }  # fmt: skip
    summary: dict[str, JsonValue] = {
        "level": level, "rule_id": condition.rule_id, "value": condition.value,
        "limit": condition.limit, "detail": condition.detail,
        "observed_at": condition.observed_at.isoformat(),
    }  # fmt: skip
    if episode is None and level < ctx.policy.open_from:
        return EpisodeChanges()  # below the opening level: nothing to tell anyone yet
    if episode is None:
        has_next = bool(_recipients(ctx, condition.section_id, condition.audience, 1))
        episode_id = int(connection.execute(
            insert(EPISODES).values(
                section_id=condition.section_id, factor=condition.factor,
                audience=condition.audience, level=level, rule_id=condition.rule_id,
                state="open", escalation_step=0, opened_at=now,
                next_escalation_at=ctx.policy.escalation_due(level, now) if has_next else None,
                **last,
            ).returning(EPISODES.c.id)
        ).scalar_one())  # fmt: skip
        enqueued, unreachable = enqueue_messages(
            connection, ctx, condition, episode_id=episode_id, level=level, step=0,
            steps=range(1), kind="opened",
        )  # fmt: skip
        summary |= {"enqueued": enqueued}
        _event(connection, episode_id, now, "opened", summary)
        record(connection, actor=SYSTEM_ACTOR, action="alert.opened",
               target=f"alert_episode:{episode_id}", detail=summary)  # fmt: skip
        return EpisodeChanges(opened=(episode_id,), enqueued=enqueued, unreachable=unreachable)

    episode_id = int(episode.id)
    if level <= episode.level:
        connection.execute(update(EPISODES).where(EPISODES.c.id == episode_id).values(**last))
        _event(connection, episode_id, now, "updated", summary)
        return EpisodeChanges(updated=(episode_id,))

    step = int(episode.escalation_step)
    has_next = bool(_recipients(ctx, condition.section_id, condition.audience, step + 1))
    due = ctx.policy.escalation_due(level, now) if has_next else None
    current = _aware(episode.next_escalation_at) if episode.state == "open" else None
    if current is not None and due is not None:
        due = min(due, current)
    connection.execute(
        update(EPISODES).where(EPISODES.c.id == episode_id).values(
            level=level, rule_id=condition.rule_id, state="open", next_escalation_at=due, **last
        )
    )  # fmt: skip
    enqueued, unreachable = enqueue_messages(
        connection, ctx, condition, episode_id=episode_id, level=level, step=step,
        steps=range(step + 1), kind="level_raised",
    )  # fmt: skip
    summary |= {"from_level": int(episode.level), "enqueued": enqueued,
                "was_acknowledged": episode.state == "acknowledged"}  # fmt: skip
    _event(connection, episode_id, now, "level_raised", summary)
    record(connection, actor=SYSTEM_ACTOR, action="alert.level_raised",
           target=f"alert_episode:{episode_id}", detail=summary)  # fmt: skip
    return EpisodeChanges(raised=(episode_id,), enqueued=enqueued, unreachable=unreachable)


def _escalate(connection: Connection, *, episode_id: int, ctx: EpisodeContext) -> EpisodeChanges:
    now = ctx.now
    episode = connection.execute(
        _locked(connection, select(EPISODES).where(EPISODES.c.id == episode_id))
    ).first()
    due = None if episode is None else _aware(episode.next_escalation_at)
    if episode is None or episode.state != "open" or due is None or due > now:
        return EpisodeChanges()  # acknowledged, closed or escalated meanwhile
    step = int(episode.escalation_step) + 1
    recipients = _recipients(ctx, episode.section_id, episode.audience, step)
    if not recipients:  # the top of the chain: nobody further up
        connection.execute(
            update(EPISODES).where(EPISODES.c.id == episode_id).values(next_escalation_at=None)
        )
        return EpisodeChanges()
    level = int(episode.level)
    has_next = bool(_recipients(ctx, episode.section_id, episode.audience, step + 1))
    changed = connection.execute(
        update(EPISODES)
        .where(EPISODES.c.id == episode_id, EPISODES.c.escalation_step == step - 1,
               EPISODES.c.state == "open")
        .values(escalation_step=step, updated_at=now,
                next_escalation_at=ctx.policy.escalation_due(level, now) if has_next else None)
    ).rowcount  # fmt: skip
    if not changed:  # another process escalated it first
        return EpisodeChanges()
    condition = StoredCondition.of(episode)
    enqueued, unreachable = enqueue_messages(
        connection, ctx, condition, episode_id=episode_id, level=level, step=step,
        steps=range(step, step + 1), kind="escalated",
    )  # fmt: skip
    detail: dict[str, JsonValue] = {"step": step, "level": level, "enqueued": enqueued,
                                    "to": [r.id for r in recipients]}  # fmt: skip
    _event(connection, episode_id, now, "escalated", detail)
    record(connection, actor=SYSTEM_ACTOR, action="alert.escalated",
           target=f"alert_episode:{episode_id}", detail=detail)  # fmt: skip
    return EpisodeChanges(escalated=(episode_id,), enqueued=enqueued, unreachable=unreachable)


def _close(connection: Connection, *, episode_id: int, ctx: EpisodeContext) -> EpisodeChanges:
    now = ctx.now
    changed = connection.execute(
        update(EPISODES)
        .where(EPISODES.c.id == episode_id, EPISODES.c.closed_at.is_(None),
               EPISODES.c.last_condition_at <= now - ctx.policy.close_after)
        .values(state="closed", closed_at=now, next_escalation_at=None, updated_at=now)
    ).rowcount  # fmt: skip
    if not changed:
        return EpisodeChanges()
    episode = connection.execute(select(EPISODES).where(EPISODES.c.id == episode_id)).one()
    enqueued, unreachable = enqueue_closing(connection, ctx, episode)
    detail: dict[str, JsonValue] = {
        "close_after_h": ctx.policy.close_after.total_seconds() / 3600, "enqueued": enqueued,
    }  # fmt: skip
    _event(connection, episode_id, now, "closed", detail)
    record(connection, actor=SYSTEM_ACTOR, action="alert.closed",
           target=f"alert_episode:{episode_id}", detail=detail)  # fmt: skip
    return EpisodeChanges(closed=(episode_id,), enqueued=enqueued, unreachable=unreachable)


# --- helpers -----------------------------------------------------------------------------------


def _recipients(
    ctx: EpisodeContext, section_id: str, audience: str, step: int
) -> tuple[Recipient, ...]:
    return recipients_at_step(ctx.chiefs, section_id=section_id, audience=audience, step=step)


def _event(
    connection: Connection, episode_id: int, at: dt.datetime, kind: str,
    detail: dict[str, JsonValue],
) -> None:  # fmt: skip
    connection.execute(
        insert(EVENTS).values(episode_id=episode_id, at=at, kind=kind, detail=detail)
    )


def _locked(connection: Connection, query: Any) -> Any:
    """``FOR UPDATE`` on PostgreSQL (SQLite serialises writers anyway)."""
    return query.with_for_update() if connection.dialect.name == "postgresql" else query


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _utc(value: dt.datetime) -> dt.datetime:
    """An aware time in UTC (stored times compare as UTC text on SQLite)."""
    if value.tzinfo is None:
        raise InputError(f"时间需带时区 / a time needs its zone: {value.isoformat()}")
    return value.astimezone(dt.UTC)
