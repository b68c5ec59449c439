"""Alert episodes as read: lists, one episode with its events and sends, who may see which.

The one reading side of ``alert_episode``, ``alert_episode_event`` and ``alert_outbox`` for the
``/alerts`` pages, ``/api/alerts`` and ``qingliu alerts list``. :class:`EpisodeScope` says which
episodes a caller may see: the bureau all; a river chief the river-chief audience of the
sections whose alerts may reach them
(:meth:`~sections.river_chiefs.RiverChiefs.sections_of_chief`); a county the river-chief
audience of its assessed sections. Station-outage episodes (audience ``operators``) are the
bureau's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from pydantic import JsonValue
from sqlalchemy import Engine, func, select

from sections.registry import Registry
from sections.river_chiefs import RiverChiefs
from service.alerts.messages import LEVEL_LABELS
from service.db.models import AlertEpisode, AlertEpisodeEvent, AlertOutbox, table_of
from service.errors import ForbiddenError, NotFoundError

__all__ = [
    "AUDIENCE_LABELS",
    "EVENT_LABELS",
    "STATE_LABELS",
    "EpisodeEvent",
    "EpisodeRecord",
    "EpisodeScope",
    "EpisodeSend",
    "count_episodes",
    "episode_events",
    "episode_sends",
    "get_episode",
    "list_episodes",
    "scope_for",
]

EPISODES = table_of(AlertEpisode)
EVENTS = table_of(AlertEpisodeEvent)
OUTBOX = table_of(AlertOutbox)

STATE_LABELS: Mapping[str, str] = MappingProxyType(
    {"open": "未确认", "acknowledged": "已确认", "closed": "已关闭"}
)
"""Episode states as shown."""
AUDIENCE_LABELS: Mapping[str, str] = MappingProxyType(
    {"river_chiefs": "河长", "operators": "运维"}
)
"""Who an episode's messages go to, as shown."""
EVENT_LABELS: Mapping[str, str] = MappingProxyType({
    "opened": "开启", "updated": "重复（未再发送）", "level_raised": "级别升高",
    "escalated": "升级", "acknowledged": "确认", "closed": "关闭", "sent": "已发送",
})  # fmt: skip
"""Episode event kinds as shown."""
SEND_LABELS: Mapping[str, str] = MappingProxyType({
    "pending": "待发", "sending": "发送中", "sent": "已发送", "dead": "发送失败",
})  # fmt: skip


@dataclass(frozen=True)
class EpisodeScope:
    """Which episodes a caller may see: ``sections`` ``None`` = every section; ``audiences``
    the audiences shown."""

    sections: frozenset[str] | None = None
    audiences: frozenset[str] = frozenset({"river_chiefs", "operators"})

    def allows(self, episode: EpisodeRecord) -> bool:
        """Whether the caller may see (and act on) this episode."""
        in_sections = self.sections is None or episode.section_id in self.sections
        return in_sections and episode.audience in self.audiences


EVERYTHING = EpisodeScope()


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)  # SQLite gives naive UTC


def factor_name(key: str) -> str:
    """A factor as shown: the parameter's Chinese name, else the key (e.g. 告警评价)."""
    from sections.parameters import parameter

    try:
        return parameter(key).name_zh
    except LookupError:
        return key or "—"


@dataclass(frozen=True)
class EpisodeRecord:
    """One alert episode as stored (times aware, UTC)."""

    id: int
    section_id: str
    factor: str
    audience: str
    level: int
    rule_id: str
    state: str
    escalation_step: int
    opened_at: dt.datetime
    updated_at: dt.datetime
    last_condition_at: dt.datetime
    next_escalation_at: dt.datetime | None
    closed_at: dt.datetime | None
    acknowledged_at: dt.datetime | None
    acknowledged_by: str | None
    acknowledged_note: str | None
    last_detail: str
    last_value: float | None
    last_limit: float | None
    last_observed_at: dt.datetime | None

    @classmethod
    def of(cls, row: Any) -> EpisodeRecord:  # Any: a row of alert_episode
        m = row._mapping
        return cls(
            int(m["id"]), m["section_id"], m["factor"], m["audience"], int(m["level"]),
            m["rule_id"], m["state"], int(m["escalation_step"]), _must(m["opened_at"]),
            _must(m["updated_at"]), _must(m["last_condition_at"]),
            _aware(m["next_escalation_at"]), _aware(m["closed_at"]),
            _aware(m["acknowledged_at"]), m["acknowledged_by"], m["acknowledged_note"],
            m["last_detail"] or "", m["last_value"], m["last_limit"],
            _aware(m["last_observed_at"]),
        )  # fmt: skip

    @property
    def level_label(self) -> str:
        """提示 / 黄色 / 橙色 / 红色."""
        return LEVEL_LABELS.get(self.level, str(self.level))

    @property
    def state_label(self) -> str:
        """未确认 / 已确认 / 已关闭."""
        return STATE_LABELS.get(self.state, self.state)

    @property
    def factor_name(self) -> str:
        """The factor as shown."""
        return factor_name(self.factor)

    def section_name(self, registry: Registry) -> str:
        """The section's name in ``registry`` (its id when unknown there)."""
        try:
            return registry.section(self.section_id).name
        except KeyError:
            return self.section_id

    def as_json(self, registry: Registry) -> dict[str, JsonValue]:
        """The episode for ``/api/alerts`` and ``qingliu alerts list --format json``."""
        return {
            "id": self.id, "level": self.level, "level_label": self.level_label,
            "section_id": self.section_id, "section_name": self.section_name(registry),
            "factor": self.factor, "factor_name": self.factor_name, "audience": self.audience,
            "rule_id": self.rule_id, "state": self.state, "state_label": self.state_label,
            "opened_at": _iso(self.opened_at), "updated_at": _iso(self.updated_at),
            "last_condition_at": _iso(self.last_condition_at),
            "closed_at": _iso(self.closed_at), "escalation_step": self.escalation_step,
            "next_escalation_at": _iso(self.next_escalation_at),
            "acknowledged_at": _iso(self.acknowledged_at),
            "acknowledged_by": self.acknowledged_by,
            "acknowledged_note": self.acknowledged_note, "last_detail": self.last_detail,
            "last_value": self.last_value, "last_limit": self.last_limit,
            "last_observed_at": _iso(self.last_observed_at),
        }  # fmt: skip


@dataclass(frozen=True)
class EpisodeEvent:
    """One recorded change of an episode."""

    at: dt.datetime
    kind: str
    detail: dict[str, JsonValue]

    @property
    def label(self) -> str:
        """The kind as shown."""
        return EVENT_LABELS.get(self.kind, self.kind)

    def as_json(self) -> dict[str, JsonValue]:
        """The event in ``/api/alerts/{id}``."""
        return {"at": _iso(self.at), "kind": self.kind, "label": self.label,
                "detail": self.detail}  # fmt: skip


@dataclass(frozen=True)
class EpisodeSend:
    """One message of an episode in the outbox."""

    id: int
    recipient_id: str
    channel_id: str
    level: int
    escalation_step: int
    status: str
    attempts: int
    created_at: dt.datetime
    sent_at: dt.datetime | None
    last_code: str | None

    @property
    def status_label(self) -> str:
        """待发 / 发送中 / 已发送 / 发送失败."""
        return SEND_LABELS.get(self.status, self.status)

    def as_json(self) -> dict[str, JsonValue]:
        """The send in ``/api/alerts/{id}`` (never the message's links)."""
        return {
            "id": self.id, "recipient_id": self.recipient_id, "channel_id": self.channel_id,
            "level": self.level, "escalation_step": self.escalation_step,
            "status": self.status, "status_label": self.status_label,
            "attempts": self.attempts, "created_at": _iso(self.created_at),
            "sent_at": _iso(self.sent_at), "last_code": self.last_code,
        }  # fmt: skip


def _scoped(query: Any, scope: EpisodeScope) -> Any:
    query = query.where(EPISODES.c.audience.in_(sorted(scope.audiences)))
    if scope.sections is not None:
        query = query.where(EPISODES.c.section_id.in_(sorted(scope.sections)))
    return query


def list_episodes(
    engine: Engine,
    *,
    scope: EpisodeScope = EVERYTHING,
    open_only: bool = False,
    states: Collection[str] | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[EpisodeRecord]:
    """Episodes in ``scope``, newest opened first.

    ``open_only`` keeps those not closed (open and acknowledged); ``states`` names states.
    """
    query = _scoped(select(EPISODES), scope)
    if open_only:
        query = query.where(EPISODES.c.state != "closed")
    if states is not None:
        query = query.where(EPISODES.c.state.in_(sorted(states)))
    query = query.order_by(EPISODES.c.opened_at.desc(), EPISODES.c.id.desc())
    with engine.connect() as connection:
        rows = connection.execute(query.limit(limit).offset(offset)).all()
    return [EpisodeRecord.of(row) for row in rows]


def count_episodes(
    engine: Engine, *, scope: EpisodeScope = EVERYTHING, open_only: bool = False
) -> int:
    """How many episodes :func:`list_episodes` would page through."""
    query = _scoped(select(func.count()).select_from(EPISODES), scope)
    if open_only:
        query = query.where(EPISODES.c.state != "closed")
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def get_episode(engine: Engine, episode_id: int) -> EpisodeRecord:
    """One episode.

    Raises
    ------
    NotFoundError
        No episode has this id.
    """
    with engine.connect() as connection:
        row = connection.execute(select(EPISODES).where(EPISODES.c.id == episode_id)).first()
    if row is None:
        raise NotFoundError(f"没有这个告警事件 / no alert episode {episode_id}")
    return EpisodeRecord.of(row)


def episode_events(engine: Engine, episode_id: int) -> list[EpisodeEvent]:
    """An episode's recorded changes, oldest first."""
    query = select(EVENTS).where(EVENTS.c.episode_id == episode_id).order_by(EVENTS.c.id)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [EpisodeEvent(_must(r.at), str(r.kind), dict(r.detail or {})) for r in rows]


def episode_sends(engine: Engine, episode_id: int) -> list[EpisodeSend]:
    """An episode's messages in the outbox, oldest first."""
    query = select(OUTBOX).where(OUTBOX.c.episode_id == episode_id).order_by(OUTBOX.c.id)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [
        EpisodeSend(int(r.id), r.recipient_id, r.channel_id, int(r.level),
                    int(r.escalation_step), r.status, int(r.attempts), _must(r.created_at),
                    _aware(r.sent_at), r.last_code)
        for r in rows
    ]  # fmt: skip


def _must(value: dt.datetime) -> dt.datetime:
    aware = _aware(value)
    assert aware is not None
    return aware


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def scope_for(
    role: str | None,
    *,
    unit: str | None,
    chief: str | None,
    registry: Registry,
    chiefs: RiverChiefs,
) -> EpisodeScope:
    """Which episodes a signed-in role sees (``role`` a ``service.accounts.Role`` value).

    Raises
    ------
    ForbiddenError
        A role that sees no alerts, or a river chief not in the river-chief registry in use.
    """
    if role in ("admin", "analyst", "api"):
        return EVERYTHING
    chiefs_only = frozenset({"river_chiefs"})
    if role == "river_chief" and chief:
        try:
            return EpisodeScope(chiefs.sections_of_chief(chief), chiefs_only)
        except KeyError:
            raise ForbiddenError(
                f"河长 {chief} 不在所用河长名录中 / river chief {chief!r} is not in the registry"
            ) from None
    if role == "county" and unit:
        sections = frozenset(s.id for s in registry.sections if s.assessed_unit == unit)
        return EpisodeScope(sections, chiefs_only)
    raise ForbiddenError("此账户不能查看预警 / this account sees no alerts")
