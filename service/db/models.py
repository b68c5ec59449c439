"""SQLModel tables. Alembic (``service/migrations``) owns the schema; a test keeps both in step.

Timestamps are stored in UTC with their zone (PostgreSQL ``timestamptz``; SQLite keeps UTC text).
Rows that refer to rows have foreign keys (an observation to its raw message, a history row to
its observation, a daily result to its job run); section ids refer to the registry file, not to
a table. Forecast rows are tied together by their natural key (section, parameter, issue time,
horizon), written in one transaction by :mod:`service.jobs.forecast`. Status columns take the
values listed here (CHECK constraints). Records are JSON (``JSONB`` on PostgreSQL), written and
read through the codec of :mod:`service.records`. The alert tables live in
:mod:`service.db.alert_models`, the appeal tables in :mod:`service.db.appeal_models` and the
column helpers in :mod:`service.db.columns`; every table is importable from here.
"""

from __future__ import annotations

import datetime as dt

from pydantic import JsonValue
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Text,
    UniqueConstraint,
)
from sqlalchemy import false as sa_false
from sqlmodel import Field, SQLModel

from service.db.alert_models import (
    ATTEMPT_STATUSES,
    EPISODE_AUDIENCES,
    EPISODE_EVENT_KINDS,
    EPISODE_STATES,
    OUTBOX_STATUSES,
    AlertAttempt,
    AlertEpisode,
    AlertEpisodeEvent,
    AlertOutbox,
)
from service.db.appeal_models import APPEAL_OUTCOMES, APPEAL_STATES, Appeal, AppealAttachment
from service.db.columns import JSON_TYPE, json_column, one_of, table_of, utc_column, utc_now

__all__ = [
    "APPEAL_OUTCOMES",
    "APPEAL_STATES",
    "ATTEMPT_STATUSES",
    "EPISODE_AUDIENCES",
    "EPISODE_EVENT_KINDS",
    "EPISODE_STATES",
    "JOB_STATUSES",
    "JSON_TYPE",
    "OUTBOX_STATUSES",
    "PARSE_STATUSES",
    "PROCESSING_LEVELS",
    "REVIEW_STATUSES",
    "ROLES",
    "SAMPLE_KINDS",
    "SECTION_STATUSES",
    "AlertAttempt",
    "AlertEpisode",
    "AlertEpisodeEvent",
    "AlertOutbox",
    "AnnualResult",
    "ApiToken",
    "Appeal",
    "AppealAttachment",
    "AuditEvent",
    "DailyResult",
    "ForecastCandidate",
    "ForecastIssue",
    "ForecastResult",
    "JobLease",
    "JobRun",
    "MonthlyResult",
    "MonthlySummary",
    "Observation",
    "ObservationHistory",
    "RawMessage",
    "SectionStatus",
    "StatementIssue",
    "Station",
    "User",
    "one_of",
    "table_of",
    "utc_now",
]

JOB_STATUSES = ("running", "ok", "failed")
"""``job_run.status``."""
SECTION_STATUSES = ("no_flow", "dry", "frozen", "excluded")
"""``section_status.status``: 断流, 无水, 结冰, 剔除."""
REVIEW_STATUSES = ("pending", "accepted", "rejected", "replaced")
"""``observation.review_status`` (or NULL): :class:`sections.validity.ReviewStatus`."""
PARSE_STATUSES = ("accepted", "partial", "rejected", "unknown_station", "expired")
"""``raw_message.parse_status``: stored, a part of a split packet or a partly accepted file,
refused, from a station not registered, a split packet whose other parts never came."""
ROLES = ("admin", "analyst", "county", "river_chief", "api")
"""``app_user.role``: 管理员, 分析人员（生态环境局）, 县（市、区）查看, 河长, 接口客户端."""
SAMPLE_KINDS = ("routine", "spot")
"""``observation.sample_kind`` (or NULL for automatic values): 例行监测, 抽测."""
PROCESSING_LEVELS = ("raw", "checked", "reviewed")
"""``observation.processing_level``."""


class Observation(SQLModel, table=True):
    """One value of one parameter at one station and time, from one source.

    Unique per (station, parameter, observed_at, source): a re-delivery is idempotent. On
    PostgreSQL the table is partitioned by Beijing month of ``observed_at`` and its primary key
    is ``(id, observed_at)`` (migration 0014, :mod:`service.db.partitions`); ``id`` is unique
    on both databases.
    """

    __tablename__ = "observation"
    __table_args__ = (
        UniqueConstraint("station", "parameter", "observed_at", "source", name="uq_observation"),
        Index("ix_observation_section_time", "section_id", "observed_at"),
        one_of("processing_level", PROCESSING_LEVELS, name="ck_observation_processing_level"),
        one_of("sample_kind", SAMPLE_KINDS, name="ck_observation_sample_kind", nullable=True),
        one_of(
            "review_status", REVIEW_STATUSES, name="ck_observation_review_status", nullable=True
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    station: str = Field(max_length=24, description="站点 MN（HJ 212）或来源内的站点标识")
    section_id: str | None = Field(default=None, max_length=64, description="断面 id（名录）")
    parameter: str = Field(max_length=16, description="参数键，如 nh3n")
    observed_at: dt.datetime = Field(sa_column=utc_column(), description="观测时间（UTC）")
    value: float | None = Field(default=None, description="数值，单位见 unit；缺测为空")
    unit: str = Field(max_length=16, description="单位，如 mg/L")
    method: str | None = Field(default=None, max_length=64, description="分析方法")
    station_flag: str | None = Field(default=None, max_length=2, description="站点数据标记 N/F/M…")
    qc_flag: int | None = Field(default=None, description="QARTOD 质控标记 1/2/3/4/9")
    processing_level: str = Field(default="raw", max_length=16, description="raw/checked/reviewed")
    source: str = Field(max_length=16, description="来源：hj212、cnemc、manual、demo")
    sample_kind: str | None = Field(
        default=None, max_length=16, description="手工样品类型：routine 例行 / spot 抽测"
    )
    lab: str | None = Field(default=None, max_length=64, description="检测实验室")
    qc_test: str | None = Field(default=None, max_length=32, description="给出质控标记的检验")
    censored: bool = Field(
        default=False,
        sa_column=Column(Boolean, nullable=False, server_default=sa_false()),
        description="低于检出限（<DL）：value 为检出限，均值按其一半计",
    )
    review_status: str | None = Field(
        default=None,
        max_length=16,
        index=True,
        description="复核：pending 待复核/accepted 确认/rejected 否决/replaced 已更正",
    )
    review_note: str | None = Field(default=None, max_length=256, description="复核说明")
    reviewed_at: dt.datetime | None = Field(
        default=None, sa_column=utc_column(nullable=True), description="复核时间（UTC）"
    )
    raw_message_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer,
            ForeignKey("raw_message.id", name="fk_observation_raw_message_id_raw_message"),
            nullable=True,
        ),
        description="来源原始报文 id",
    )
    received_at: dt.datetime = Field(sa_column=utc_column(), description="接收时间（UTC）")


class SectionStatus(SQLModel, table=True):
    """A month in which a section could not be assessed: no flow (断流), dry (无水), frozen…"""

    __tablename__ = "section_status"
    __table_args__ = (
        UniqueConstraint("section_id", "month", "source", name="uq_section_status"),
        one_of("status", SECTION_STATUSES, name="ck_section_status_status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    section_id: str = Field(max_length=64)
    month: dt.date = Field(description="月份（当月 1 日）")
    status: str = Field(max_length=16, description="no_flow / dry / frozen / excluded")
    note: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    source: str = Field(max_length=16, description="来源：demo、manual…")


class ObservationHistory(SQLModel, table=True):
    """An earlier value of an observation, kept when a re-delivery changed it.

    ``observation_id`` is a foreign key on SQLite; on PostgreSQL, where ``observation`` is
    partitioned and ``id`` alone cannot be referred to, a trigger checks it (migration 0014).
    """

    __tablename__ = "observation_history"

    id: int | None = Field(default=None, primary_key=True)
    observation_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("observation.id", name="fk_observation_history_observation_id_observation"),
            nullable=False,
            index=True,
        )
    )
    value: float | None = Field(default=None)
    station_flag: str | None = Field(default=None, max_length=2)
    qc_flag: int | None = Field(default=None)
    censored: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=sa_false())
    )
    raw_message_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer,
            ForeignKey("raw_message.id", name="fk_observation_history_raw_message_id_raw_message"),
            nullable=True,
        ),
    )
    reason: str = Field(
        default="",
        max_length=64,
        sa_column_kwargs={"server_default": ""},
        description="替换原因：redelivery 重发 / review 复核更正",
    )
    replaced_at: dt.datetime = Field(sa_column=utc_column(), description="被替换时间（UTC）")


class RawMessage(SQLModel, table=True):
    """Every byte received, kept before parsing.

    A row is never deleted and never changed, except that after the retention period its
    payload moves to a checksummed archive file (:mod:`service.db.retention`): ``payload``
    becomes empty and ``archive`` names the file; id, hash, status and reason stay, so the
    observations keep their ``raw_message_id``.
    """

    __tablename__ = "raw_message"
    __table_args__ = (one_of("parse_status", PARSE_STATUSES, name="ck_raw_message_parse_status"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=16, index=True, description="hj212、cnemc、manual")
    peer: str = Field(default="", max_length=128, description="对端地址、URL 或文件名")
    received_at: dt.datetime = Field(sa_column=utc_column(index=True))
    payload: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    sha256: str = Field(max_length=64, index=True)
    parse_status: str = Field(
        max_length=24, index=True, description="accepted/partial/rejected/unknown_station/expired"
    )
    reason: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    station: str | None = Field(default=None, max_length=24, index=True)
    archived_at: dt.datetime | None = Field(
        default=None, sa_column=utc_column(nullable=True),
        description="报文移入归档文件的时间（UTC）",
    )  # fmt: skip
    archive: str | None = Field(
        default=None, max_length=128, description="存放该报文的归档文件名；为空则报文仍在库中"
    )


class Station(SQLModel, table=True):
    """An automatic station's data logger: its MN, section and password (hashed)."""

    __tablename__ = "station"

    mn: str = Field(primary_key=True, max_length=24)
    section_id: str = Field(max_length=64, index=True)
    password_hash: str = Field(max_length=128, description="PBKDF2-SHA256 of PW, with salt")
    active: bool = Field(default=True)
    created_at: dt.datetime = Field(sa_column=utc_column())


class StatementIssue(SQLModel, table=True):
    """An issued version of a month's compensation statement: immutable once written."""

    __tablename__ = "statement_issue"
    __table_args__ = (UniqueConstraint("month", "version", name="uq_statement_issue"),)

    id: int | None = Field(default=None, primary_key=True)
    month: dt.date = Field(description="月份（当月 1 日）")
    version: int = Field(description="版本号，从 1 起")
    rule_set: str = Field(max_length=32, description="规则集 id")
    content: str = Field(sa_column=Column(Text, nullable=False), description="规范化 JSON")
    content_hash: str = Field(max_length=64, description="content 的 SHA-256")
    diff: list[JsonValue] = Field(
        default_factory=list, sa_column=json_column(), description="较上一版的逐行差异"
    )
    issued_at: dt.datetime = Field(sa_column=utc_column(), description="签发时间（UTC）")
    issued_by: str = Field(
        default="", max_length=64, sa_column_kwargs={"server_default": ""},
        description="签发人（用户名或 cli:系统用户）",
    )  # fmt: skip


class DailyResult(SQLModel, table=True):
    """A section's classification for one day, with what it rests on."""

    __tablename__ = "daily_result"
    __table_args__ = (UniqueConstraint("section_id", "day", name="uq_daily_result"),)

    id: int | None = Field(default=None, primary_key=True)
    section_id: str = Field(max_length=64)
    day: dt.date = Field(index=True, description="日期（北京时间）")
    class_number: int | None = Field(default=None, description="水质类别 1–6；数据不足为空")
    completeness: float = Field(description="有效日均值的考核指标占比 0–1")
    record: dict[str, JsonValue] = Field(
        sa_column=json_column(), description="评价结果（service.records.DayRecord）"
    )
    provenance: dict[str, JsonValue] = Field(
        sa_column=json_column(), description="所用与剔除的观测值（service.records.Provenance）"
    )
    run_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("job_run.id", name="fk_daily_result_run_id_job_run"), nullable=True
        ),
        description="作业运行 id",
    )
    computed_at: dt.datetime = Field(sa_column=utc_column())


class MonthlyResult(SQLModel, table=True):
    """A section's (or the lake's) classification for one month."""

    __tablename__ = "monthly_result"
    __table_args__ = (UniqueConstraint("section_id", "month", name="uq_monthly_result"),)

    id: int | None = Field(default=None, primary_key=True)
    section_id: str = Field(max_length=64, description="断面 id 或 lake:衡水湖")
    month: dt.date = Field(index=True)
    class_number: int | None = Field(default=None)
    record: dict[str, JsonValue] = Field(
        sa_column=json_column(), description="service.records.MonthRecord 或 LakeRecord"
    )
    computed_at: dt.datetime = Field(sa_column=utc_column())


class MonthlySummary(SQLModel, table=True):
    """The city's standing in one month: share against the target, 劣Ⅴ count, the lake."""

    __tablename__ = "monthly_summary"

    month: dt.date = Field(primary_key=True)
    summary: dict[str, JsonValue] = Field(
        sa_column=json_column(), description="汇总（service.records.MonthSummary）"
    )
    computed_at: dt.datetime = Field(sa_column=utc_column())


class AnnualResult(SQLModel, table=True):
    """A section's (or the lake's) annual assessment: the annual mean of its monthly values."""

    __tablename__ = "annual_result"
    __table_args__ = (UniqueConstraint("section_id", "year", name="uq_annual_result"),)

    id: int | None = Field(default=None, primary_key=True)
    section_id: str = Field(max_length=64, description="断面 id 或 lake:衡水湖")
    year: int = Field(index=True)
    class_number: int | None = Field(default=None)
    record: dict[str, JsonValue] = Field(
        sa_column=json_column(), description="service.records.YearRecord"
    )
    computed_at: dt.datetime = Field(sa_column=utc_column())


class JobLease(SQLModel, table=True):
    """Who may run a periodic job now: one row per job, held until ``expires_at``.

    Two service processes race for the lease with one UPDATE … WHERE expired; the winner runs the
    job, so no job runs twice.
    """

    __tablename__ = "job_lease"

    job: str = Field(primary_key=True, max_length=32, description="作业名")
    holder: str = Field(max_length=64, description="持有者（进程标识）")
    expires_at: dt.datetime = Field(sa_column=utc_column(), description="租约到期（UTC）")


class JobRun(SQLModel, table=True):
    """One run of a job (demo seeding, daily classification …), kept as a log."""

    __tablename__ = "job_run"
    __table_args__ = (one_of("status", JOB_STATUSES, name="ck_job_run_status"),)

    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=32, index=True)
    started_at: dt.datetime = Field(sa_column=utc_column())
    finished_at: dt.datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    status: str = Field(default="running", max_length=16, description="running / ok / failed")
    detail: dict[str, JsonValue] = Field(
        default_factory=dict, sa_column=json_column(), description="作业参数与结果"
    )


class User(SQLModel, table=True):
    """A person who signs in: a role, for a county its unit, an argon2 password hash."""

    __tablename__ = "app_user"
    __table_args__ = (one_of("role", ROLES, name="ck_app_user_role"),)

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True, description="登录名")
    role: str = Field(max_length=16, description="角色 admin/analyst/county/river_chief/api")
    unit_id: str | None = Field(default=None, max_length=64, description="县级用户的考核单位")
    chief_id: str | None = Field(default=None, max_length=64, description="河长用户的河长名录 id")
    password_hash: str = Field(max_length=256, description="argon2id 口令摘要")
    active: bool = Field(default=True, description="是否可登录")
    created_at: dt.datetime = Field(sa_column=utc_column())
    password_changed_at: dt.datetime = Field(sa_column=utc_column())


class ApiToken(SQLModel, table=True):
    """An API token: only its SHA-256 is stored; scoped, expiring, revocable."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, description="用途说明")
    token_hash: str = Field(max_length=64, unique=True, description="令牌的 SHA-256")
    prefix: str = Field(max_length=12, description="令牌前几位，便于辨认")
    user_id: int = Field(foreign_key="app_user.id", description="所属用户")
    scopes: list[str] = Field(
        default_factory=list, sa_column=Column(JSON_TYPE, nullable=False), description="权限范围"
    )
    created_at: dt.datetime = Field(sa_column=utc_column())
    expires_at: dt.datetime = Field(sa_column=utc_column(), description="到期时间（UTC）")
    revoked_at: dt.datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class AuditEvent(SQLModel, table=True):
    """One entry of the append-only audit log (no update or delete path; triggers refuse both)."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = Field(sa_column=utc_column(index=True), description="时间（UTC）")
    actor: str = Field(max_length=64, index=True, description="操作者（用户名、cli:系统用户）")
    action: str = Field(max_length=48, index=True, description="操作，如 statement.issue")
    target: str = Field(default="", max_length=128, description="对象，如 2025-07 第 2 版")
    address: str = Field(default="", max_length=64, description="来源地址")
    detail: dict[str, JsonValue] = Field(
        default_factory=dict, sa_column=json_column(), description="细节（摘要、变动…）"
    )


class ForecastResult(SQLModel, table=True):
    """One horizon of an issued exceedance forecast of one section and parameter.

    Unique per (section_id, parameter, issued_at, horizon_h): issuing again from the same origin
    replaces the rows (upsert). ``issued_at`` is the forecast origin: the last 4-hourly Beijing
    grid bin whose data the forecast used (its start, stored in UTC); the target is
    ``issued_at + horizon_h``. The issue's own columns (``selected``, the threshold, the data
    window, ``model_version``) repeat on each of its rows so that a reader gets a flat frame
    (:func:`service.db.queries.latest_forecasts`); the reason text is kept once per issue in
    ``forecast_issue``.
    """

    __tablename__ = "forecast"
    __table_args__ = (
        UniqueConstraint("section_id", "parameter", "issued_at", "horizon_h", name="uq_forecast"),
        CheckConstraint(
            "p_exceed IS NULL OR (p_exceed >= 0 AND p_exceed <= 1)", name="ck_forecast_p_exceed"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    section_id: str = Field(max_length=64, description="断面 id（名录）")
    parameter: str = Field(max_length=16, description="参数键，如 nh3n")
    issued_at: dt.datetime = Field(
        sa_column=utc_column(), description="预报起点：所用数据的最后一个 4 小时时段（UTC）"
    )
    horizon_h: int = Field(description="预见期 [h]：4–72")
    target_at: dt.datetime = Field(sa_column=utc_column(), description="目标时段起点（UTC）")
    median: float = Field(description="中位数 [参数单位]")
    lo80: float = Field(description="80 % 区间下限")
    hi80: float = Field(description="80 % 区间上限")
    lo95: float = Field(description="95 % 区间下限")
    hi95: float = Field(description="95 % 区间上限")
    p_exceed: float | None = Field(
        default=None, description="超过目标类别限值（溶解氧：低于）的概率 0–1；无限值为空"
    )
    threshold_lower: float | None = Field(default=None, description="下限（溶解氧、pH）")
    threshold_upper: float | None = Field(default=None, description="上限（浓度、pH）")
    model: str = Field(max_length=32, description="该预见期所用的候选模型")
    selected: str = Field(max_length=32, description="24 h 所选模型")
    model_version: str = Field(max_length=64, description="如 qingliu 0.1.0 forecast/1")
    data_start: dt.datetime = Field(sa_column=utc_column(), description="训练数据起（UTC）")
    data_end: dt.datetime = Field(sa_column=utc_column(), description="训练数据止（UTC）")
    created_at: dt.datetime = Field(sa_column=utc_column(), description="写入时间（UTC）")


class ForecastIssue(SQLModel, table=True):
    """Why an issued forecast chose its models, once per issue (not once per horizon)."""

    __tablename__ = "forecast_issue"
    __table_args__ = (
        UniqueConstraint("section_id", "parameter", "issued_at", name="uq_forecast_issue"),
    )

    id: int | None = Field(default=None, primary_key=True)
    section_id: str = Field(max_length=64, description="断面 id")
    parameter: str = Field(max_length=16, description="参数键")
    issued_at: dt.datetime = Field(sa_column=utc_column(), description="预报起点（UTC）")
    why: str = Field(
        default="", sa_column=Column(Text, nullable=False, server_default=""),
        description="选用模型的理由（中文，给用户看）",
    )  # fmt: skip
    notes: list[str] = Field(
        default_factory=list, sa_column=Column(JSON_TYPE, nullable=False),
        description="回退与说明（未收敛的模型等）",
    )  # fmt: skip
    created_at: dt.datetime = Field(sa_column=utc_column(), description="写入时间（UTC）")


class ForecastCandidate(SQLModel, table=True):
    """Every candidate's P(exceed) of an issue and horizon, verified once the target has passed.

    ``outcome`` is 1 when the observed 4-hourly grid value of the target bin exceeded the
    issue's threshold, 0 when not, NULL until verified (or while the bin has no valid value).
    The running skill record is read from these rows
    (:func:`service.db.queries.forecast_skill`). ``target_at`` repeats ``issued_at +
    horizon_h`` so the verification and skill queries filter on an indexed column.
    """

    __tablename__ = "forecast_candidate"
    __table_args__ = (
        UniqueConstraint(
            "section_id",
            "parameter",
            "issued_at",
            "horizon_h",
            "candidate",
            name="uq_forecast_candidate",
        ),
        Index("ix_forecast_candidate_target", "target_at"),
        CheckConstraint("p_exceed >= 0 AND p_exceed <= 1", name="ck_forecast_candidate_p_exceed"),
        CheckConstraint(
            "outcome IS NULL OR outcome IN (0, 1)", name="ck_forecast_candidate_outcome"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    section_id: str = Field(max_length=64, description="断面 id")
    parameter: str = Field(max_length=16, description="参数键")
    issued_at: dt.datetime = Field(sa_column=utc_column(), description="预报起点（UTC）")
    horizon_h: int = Field(description="预见期 [h]")
    candidate: str = Field(max_length=32, description="候选模型：sarima、ets、persistence……")
    target_at: dt.datetime = Field(sa_column=utc_column(), description="目标时段起点（UTC）")
    p_exceed: float = Field(description="该候选的超标概率 0–1")
    outcome: int | None = Field(default=None, description="核验：1 超标 / 0 未超标；未核验为空")
    verified_at: dt.datetime | None = Field(
        default=None, sa_column=utc_column(nullable=True), description="核验时间（UTC）"
    )
