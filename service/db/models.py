"""SQLModel tables. Alembic (``service/migrations``) owns the schema; a test keeps both in step.

Timestamps are stored in UTC with their zone (PostgreSQL ``timestamptz``; SQLite keeps UTC text).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Column, DateTime, Index, LargeBinary, Text, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlmodel import Field, SQLModel

__all__ = [
    "AnnualResult",
    "DailyResult",
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
    "utc_now",
]


def utc_now() -> dt.datetime:
    """The current time in UTC, with its zone."""
    return dt.datetime.now(dt.UTC)


def _utc_column(*, nullable: bool = False, index: bool = False) -> Column[dt.datetime]:
    return Column(DateTime(timezone=True), nullable=nullable, index=index)


class Observation(SQLModel, table=True):
    """One value of one parameter at one station and time, from one source.

    Unique per (station, parameter, observed_at, source): a re-delivery is idempotent.
    """

    __tablename__ = "observation"
    __table_args__ = (
        UniqueConstraint("station", "parameter", "observed_at", "source", name="uq_observation"),
        Index("ix_observation_section_time", "section_id", "observed_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    station: str = Field(max_length=24, description="站点 MN（HJ 212）或来源内的站点标识")
    section_id: str | None = Field(default=None, max_length=64, description="断面 id（名录）")
    parameter: str = Field(max_length=16, description="参数键，如 nh3n")
    observed_at: dt.datetime = Field(sa_column=_utc_column(), description="观测时间（UTC）")
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
        default=None, sa_column=_utc_column(nullable=True), description="复核时间（UTC）"
    )
    raw_message_id: int | None = Field(default=None, description="来源原始报文 id")
    received_at: dt.datetime = Field(sa_column=_utc_column(), description="接收时间（UTC）")


class SectionStatus(SQLModel, table=True):
    """A month in which a section could not be assessed: no flow (断流), dry (无水), frozen…"""

    __tablename__ = "section_status"
    __table_args__ = (UniqueConstraint("section_id", "month", "source", name="uq_section_status"),)

    id: int | None = Field(default=None, primary_key=True)
    section_id: str = Field(max_length=64, index=True)
    month: dt.date = Field(description="月份（当月 1 日）")
    status: str = Field(max_length=16, description="no_flow / dry / frozen / excluded")
    note: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    source: str = Field(max_length=16, description="来源：demo、manual…")


class ObservationHistory(SQLModel, table=True):
    """An earlier value of an observation, kept when a re-delivery changed it."""

    __tablename__ = "observation_history"

    id: int | None = Field(default=None, primary_key=True)
    observation_id: int = Field(index=True)
    value: float | None = Field(default=None)
    station_flag: str | None = Field(default=None, max_length=2)
    qc_flag: int | None = Field(default=None)
    censored: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=sa_false())
    )
    raw_message_id: int | None = Field(default=None)
    reason: str = Field(
        default="",
        max_length=64,
        sa_column_kwargs={"server_default": ""},
        description="替换原因：redelivery 重发 / review 复核更正",
    )
    replaced_at: dt.datetime = Field(sa_column=_utc_column(), description="被替换时间（UTC）")


class RawMessage(SQLModel, table=True):
    """Every byte received, kept before parsing: never changed, never deleted."""

    __tablename__ = "raw_message"

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=16, index=True, description="hj212、cnemc、manual")
    peer: str = Field(default="", max_length=128, description="对端地址、URL 或文件名")
    received_at: dt.datetime = Field(sa_column=_utc_column(index=True))
    payload: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    sha256: str = Field(max_length=64, index=True)
    parse_status: str = Field(max_length=24, index=True, description="accepted/rejected/…")
    reason: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    station: str | None = Field(default=None, max_length=24, index=True)


class Station(SQLModel, table=True):
    """An automatic station's data logger: its MN, section and password (hashed)."""

    __tablename__ = "station"

    mn: str = Field(primary_key=True, max_length=24)
    section_id: str = Field(max_length=64, index=True)
    password_hash: str = Field(max_length=128, description="PBKDF2-SHA256 of PW, with salt")
    active: bool = Field(default=True)
    created_at: dt.datetime = Field(sa_column=_utc_column())


class StatementIssue(SQLModel, table=True):
    """An issued version of a month's compensation statement: immutable once written."""

    __tablename__ = "statement_issue"
    __table_args__ = (UniqueConstraint("month", "version", name="uq_statement_issue"),)

    id: int | None = Field(default=None, primary_key=True)
    month: dt.date = Field(index=True, description="月份（当月 1 日）")
    version: int = Field(description="版本号，从 1 起")
    rule_set: str = Field(max_length=32, description="规则集 id")
    content: str = Field(sa_column=Column(Text, nullable=False), description="规范化 JSON")
    content_hash: str = Field(max_length=64, description="content 的 SHA-256")
    diff: str = Field(
        default="[]", sa_column=Column(Text, nullable=False), description="较上一版的逐行差异"
    )
    issued_at: dt.datetime = Field(sa_column=_utc_column(), description="签发时间（UTC）")


class DailyResult(SQLModel, table=True):
    """A section's classification for one day, with what it rests on."""

    __tablename__ = "daily_result"
    __table_args__ = (UniqueConstraint("section_id", "day", name="uq_daily_result"),)

    id: int | None = Field(default=None, primary_key=True)
    section_id: str = Field(max_length=64, index=True)
    day: dt.date = Field(index=True, description="日期（北京时间）")
    class_number: int | None = Field(default=None, description="水质类别 1–6；数据不足为空")
    completeness: float = Field(description="有效日均值的考核指标占比 0–1")
    record: str = Field(sa_column=Column(Text, nullable=False), description="评价结果 JSON")
    provenance: str = Field(
        sa_column=Column(Text, nullable=False), description="所用与剔除的观测值 JSON"
    )
    run_id: int | None = Field(default=None, description="作业运行 id")
    computed_at: dt.datetime = Field(sa_column=_utc_column())


class MonthlyResult(SQLModel, table=True):
    """A section's (or the lake's) classification for one month."""

    __tablename__ = "monthly_result"
    __table_args__ = (UniqueConstraint("section_id", "month", name="uq_monthly_result"),)

    id: int | None = Field(default=None, primary_key=True)
    section_id: str = Field(max_length=64, index=True, description="断面 id 或 lake:衡水湖")
    month: dt.date = Field(index=True)
    class_number: int | None = Field(default=None)
    record: str = Field(sa_column=Column(Text, nullable=False))
    computed_at: dt.datetime = Field(sa_column=_utc_column())


class MonthlySummary(SQLModel, table=True):
    """The city's standing in one month: share against the target, 劣Ⅴ count, the lake."""

    __tablename__ = "monthly_summary"

    month: dt.date = Field(primary_key=True)
    summary: str = Field(sa_column=Column(Text, nullable=False), description="汇总 JSON")
    computed_at: dt.datetime = Field(sa_column=_utc_column())


class AnnualResult(SQLModel, table=True):
    """A section's (or the lake's) annual assessment: the annual mean of its monthly values."""

    __tablename__ = "annual_result"
    __table_args__ = (UniqueConstraint("section_id", "year", name="uq_annual_result"),)

    id: int | None = Field(default=None, primary_key=True)
    section_id: str = Field(max_length=64, index=True, description="断面 id 或 lake:衡水湖")
    year: int = Field(index=True)
    class_number: int | None = Field(default=None)
    record: str = Field(sa_column=Column(Text, nullable=False))
    computed_at: dt.datetime = Field(sa_column=_utc_column())


class JobLease(SQLModel, table=True):
    """Who may run a periodic job now: one row per job, held until ``expires_at``.

    Two service processes race for the lease with one UPDATE … WHERE expired; the winner runs the
    job, so no job runs twice.
    """

    __tablename__ = "job_lease"

    job: str = Field(primary_key=True, max_length=32, description="作业名")
    holder: str = Field(max_length=64, description="持有者（进程标识）")
    expires_at: dt.datetime = Field(sa_column=_utc_column(), description="租约到期（UTC）")


class JobRun(SQLModel, table=True):
    """One run of a job (demo seeding, daily classification …), kept as a log."""

    __tablename__ = "job_run"

    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=32, index=True)
    started_at: dt.datetime = Field(sa_column=_utc_column())
    finished_at: dt.datetime | None = Field(default=None, sa_column=_utc_column(nullable=True))
    status: str = Field(default="running", max_length=16, description="running / ok / failed")
    detail: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
