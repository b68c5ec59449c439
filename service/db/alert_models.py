"""Alert tables: episodes, their events, the outbox and its attempts (see :mod:`service.alerts`)."""

from __future__ import annotations

import datetime as dt

from pydantic import JsonValue
from sqlalchemy import (
    CheckConstraint,
    Column,
    Index,
    Text,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

from service.db.columns import json_column, one_of, utc_column

__all__ = [
    "ATTEMPT_STATUSES",
    "EPISODE_AUDIENCES",
    "EPISODE_EVENT_KINDS",
    "EPISODE_STATES",
    "OUTBOX_STATUSES",
    "AlertAttempt",
    "AlertEpisode",
    "AlertEpisodeEvent",
    "AlertOutbox",
]


EPISODE_STATES = ("open", "acknowledged", "closed")
"""``alert_episode.state``: 未确认, 已确认, 已关闭."""
EPISODE_AUDIENCES = ("river_chiefs", "operators")
"""``alert_episode.audience``: 河长 (water quality), 运维 (data outage)."""
EPISODE_EVENT_KINDS = (
    "opened", "updated", "level_raised", "escalated", "acknowledged", "closed", "sent",
)  # fmt: skip
"""``alert_episode_event.kind``."""
OUTBOX_STATUSES = ("pending", "sending", "sent", "dead")
"""``alert_outbox.status``: waiting (maybe held until ``next_attempt_at``), claimed by a
sender, delivered, given up (kept with its last answer)."""
ATTEMPT_STATUSES = ("sent", "rate_limited", "refused", "unavailable", "expired")
"""``alert_attempt.status``: a channel's :class:`~service.alerts.channels.base.Delivery`
status, or ``expired``: a sender's claim lapsed without a result (it may have sent)."""


class AlertEpisode(SQLModel, table=True):
    """One alert episode: one section, factor and audience from first condition to closing.

    At most one episode per (section_id, factor, audience) is not closed: a partial unique
    index over those columns where ``closed_at IS NULL`` (SQLite and PostgreSQL), so two
    evaluation runs racing cannot open two.
    """

    __tablename__ = "alert_episode"
    __table_args__ = (
        Index(
            "uq_alert_episode_open",
            "section_id",
            "factor",
            "audience",
            unique=True,
            sqlite_where=text("closed_at IS NULL"),
            postgresql_where=text("closed_at IS NULL"),
        ),
        Index("ix_alert_episode_state", "state"),
        one_of("state", EPISODE_STATES, name="ck_alert_episode_state"),
        one_of("audience", EPISODE_AUDIENCES, name="ck_alert_episode_audience"),
        CheckConstraint("level BETWEEN 1 AND 4", name="ck_alert_episode_level"),
        CheckConstraint(
            "(state = 'closed') = (closed_at IS NOT NULL)", name="ck_alert_episode_closed"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    section_id: str = Field(max_length=64, description="断面 id")
    factor: str = Field(max_length=32, description="因子：参数键，或 outage 等规则的对象")
    audience: str = Field(max_length=16, description="river_chiefs 或 operators")
    level: int = Field(description="至今最高级别：1 提示 2 黄色 3 橙色 4 红色")
    rule_id: str = Field(max_length=64, description="最近一次触发的规则")
    state: str = Field(max_length=16, description="open / acknowledged / closed")
    escalation_step: int = Field(default=0, description="0 = 首批接收人；每升级一次加 1")
    opened_at: dt.datetime = Field(sa_column=utc_column(), description="开启时间（UTC）")
    updated_at: dt.datetime = Field(sa_column=utc_column(), description="最近变更（UTC）")
    last_condition_at: dt.datetime = Field(
        sa_column=utc_column(), description="最近一次见到条件的评估时间（UTC）"
    )
    next_escalation_at: dt.datetime | None = Field(
        default=None, sa_column=utc_column(nullable=True), description="未确认时何时升级（UTC）"
    )
    closed_at: dt.datetime | None = Field(
        default=None, sa_column=utc_column(nullable=True), description="关闭时间（UTC）"
    )
    acknowledged_at: dt.datetime | None = Field(
        default=None, sa_column=utc_column(nullable=True), description="确认时间（UTC）"
    )
    acknowledged_by: str | None = Field(default=None, max_length=64, description="确认人")
    acknowledged_note: str | None = Field(
        default=None, sa_column=Column(Text, nullable=True), description="确认说明"
    )
    last_detail: str = Field(
        default="", sa_column=Column(Text, nullable=False, server_default=""),
        description="最近一次条件的说明",
    )  # fmt: skip
    last_value: float | None = Field(default=None, description="最近一次的值")
    last_limit: float | None = Field(default=None, description="最近一次的限值")
    last_observed_at: dt.datetime | None = Field(
        default=None, sa_column=utc_column(nullable=True), description="最近一次条件的观测时间"
    )


class AlertEpisodeEvent(SQLModel, table=True):
    """What happened to an episode, appended, never changed (triggers refuse it, as for
    ``audit_event``)."""

    __tablename__ = "alert_episode_event"
    __table_args__ = (
        Index("ix_alert_episode_event_episode", "episode_id", "at"),
        one_of("kind", EPISODE_EVENT_KINDS, name="ck_alert_episode_event_kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    episode_id: int = Field(foreign_key="alert_episode.id", description="告警事件")
    at: dt.datetime = Field(sa_column=utc_column(), description="时间（UTC）")
    kind: str = Field(max_length=16, description="opened / updated / level_raised …")
    detail: dict[str, JsonValue] = Field(
        default_factory=dict, sa_column=json_column(), description="级别、接收人、说明"
    )


class AlertOutbox(SQLModel, table=True):
    """One message to one recipient on one channel, stored before it is sent.

    ``dedupe_key`` = ``episode:level:step:channel:recipient`` (a closing message:
    ``episode:closed:step:channel:recipient``) is unique: a message for the same episode, level,
    escalation step, channel and recipient is one row however many runs (or processes) enqueue
    it.
    """

    __tablename__ = "alert_outbox"
    __table_args__ = (
        UniqueConstraint("dedupe_key", name="uq_alert_outbox_dedupe"),
        Index("ix_alert_outbox_due", "status", "next_attempt_at"),
        Index("ix_alert_outbox_channel", "channel_id", "status"),
        one_of("status", OUTBOX_STATUSES, name="ck_alert_outbox_status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    episode_id: int = Field(foreign_key="alert_episode.id", description="告警事件")
    level: int = Field(description="消息级别 1–4")
    escalation_step: int = Field(description="升级步")
    recipient_id: str = Field(max_length=64, description="河长或运维 id")
    channel_id: str = Field(max_length=64, description="通道 id")
    dedupe_key: str = Field(max_length=255, description="恰好一次的键")
    message: dict[str, JsonValue] = Field(
        default_factory=dict, sa_column=json_column(),
        description="title、text、markdown、mobiles、emails、level、params",
    )  # fmt: skip
    status: str = Field(max_length=16, description="pending / sending / sent / dead")
    attempts: int = Field(default=0, description="已尝试次数")
    next_attempt_at: dt.datetime = Field(
        sa_column=utc_column(), description="最早发送时间（静默时段、退避、限流）"
    )
    claimed_by: str | None = Field(default=None, max_length=128, description="发送进程")
    claim_token: str | None = Field(default=None, max_length=64, description="本次认领的令牌")
    claimed_until: dt.datetime | None = Field(
        default=None, sa_column=utc_column(nullable=True), description="认领到期（UTC）"
    )
    last_code: str | None = Field(default=None, max_length=64, description="最近一次的代码")
    last_answer: str | None = Field(
        default=None, sa_column=Column(Text, nullable=True), description="最近一次的应答"
    )
    created_at: dt.datetime = Field(sa_column=utc_column(), description="写入时间（UTC）")
    sent_at: dt.datetime | None = Field(
        default=None, sa_column=utc_column(nullable=True), description="送达时间（UTC）"
    )


class AlertAttempt(SQLModel, table=True):
    """One send of an outbox row (appended, never changed): the record pacing is counted from."""

    __tablename__ = "alert_attempt"
    __table_args__ = (
        Index("ix_alert_attempt_channel", "channel_id", "at"),
        Index("ix_alert_attempt_outbox", "outbox_id"),
        one_of("status", ATTEMPT_STATUSES, name="ck_alert_attempt_status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    outbox_id: int = Field(foreign_key="alert_outbox.id", description="发件箱行")
    channel_id: str = Field(max_length=64, description="通道 id（限速按它计）")
    at: dt.datetime = Field(sa_column=utc_column(), description="发送时间（UTC）")
    status: str = Field(max_length=16, description="sent / rate_limited / refused …")
    code: str = Field(default="", max_length=64, description="服务的代码")
    answer: str = Field(
        default="", sa_column=Column(Text, nullable=False, server_default=""),
        description="服务的应答（已遮蔽密钥）",
    )  # fmt: skip
    duration: float = Field(default=0.0, description="耗时 [s]")
    hold_until: dt.datetime | None = Field(
        default=None, sa_column=utc_column(nullable=True),
        description="限流时：此前该通道不再发送（UTC）",
    )  # fmt: skip
    holder: str = Field(default="", max_length=128, description="发送进程")
