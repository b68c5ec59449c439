"""Appeal tables: a county's appeal against a line of an issued statement, and its attachments
(see :mod:`service.appeals`)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Column, ForeignKey, Integer, LargeBinary, Text
from sqlmodel import Field, SQLModel

from service.db.columns import one_of, utc_column

__all__ = ["APPEAL_OUTCOMES", "APPEAL_STATES", "Appeal", "AppealAttachment"]

APPEAL_STATES = ("filed", "accepted", "rejected", "settled")
"""``appeal.state``: 待受理, 已受理（复核中）, 已驳回, 已办结."""
APPEAL_OUTCOMES = ("revised", "upheld")
"""``appeal.outcome`` of a settled appeal: 改正（签发了新版本）, 维持（复核后结果不变）."""


class Appeal(SQLModel, table=True):
    """A county's appeal (申诉) against one line of an issued version of a month's statement.

    The line is named as the statement diff names lines (unit, kind, key); ``line_text`` is
    what the line said when the appeal was filed. A decision moves ``state`` forward only
    (filed → accepted → settled, or filed/accepted → rejected), each step by a conditional
    update, so two bureau users cannot both decide.
    """

    __tablename__ = "appeal"
    __table_args__ = (
        one_of("state", APPEAL_STATES, name="ck_appeal_state"),
        one_of("outcome", APPEAL_OUTCOMES, name="ck_appeal_outcome", nullable=True),
        CheckConstraint("(state = 'settled') = (outcome IS NOT NULL)", name="ck_appeal_settled"),
    )

    id: int | None = Field(default=None, primary_key=True)
    month: dt.date = Field(index=True, description="通报月份（当月 1 日）")
    unit_id: str = Field(max_length=64, index=True, description="考核单位")
    version: int = Field(description="所申诉的已签发版本")
    line_kind: str = Field(max_length=16, description="deduction/event/exempt/reward")
    line_key: str = Field(max_length=128, description="行标识，如 fuyang-jizhou/cod")
    line_text: str = Field(max_length=512, description="申诉时该行的内容（中文）")
    reason: str = Field(sa_column=Column(Text, nullable=False), description="申诉理由")
    state: str = Field(max_length=16, description="filed/accepted/rejected/settled")
    filed_by: str = Field(max_length=64, description="申诉人")
    filed_at: dt.datetime = Field(sa_column=utc_column(), description="提出时间（UTC）")
    deadline: dt.datetime = Field(sa_column=utc_column(), description="申诉期限（UTC）")
    decided_by: str | None = Field(default=None, max_length=64, description="受理或驳回人")
    decided_at: dt.datetime | None = Field(
        default=None, sa_column=utc_column(nullable=True), description="受理或驳回时间"
    )
    decision_note: str | None = Field(
        default=None, sa_column=Column(Text, nullable=True), description="受理意见或驳回理由"
    )
    settled_by: str | None = Field(default=None, max_length=64, description="办结人")
    settled_at: dt.datetime | None = Field(
        default=None, sa_column=utc_column(nullable=True), description="办结时间"
    )
    outcome: str | None = Field(default=None, max_length=16, description="revised/upheld")
    settled_version: int | None = Field(default=None, description="办结时签发的新版本")
    settle_note: str | None = Field(
        default=None, sa_column=Column(Text, nullable=True), description="办结说明"
    )


class AppealAttachment(SQLModel, table=True):
    """A file sent with an appeal (a laboratory report, a flow record …), kept as received."""

    __tablename__ = "appeal_attachment"

    id: int | None = Field(default=None, primary_key=True)
    appeal_id: int = Field(
        sa_column=Column(Integer, ForeignKey("appeal.id"), nullable=False, index=True)
    )
    filename: str = Field(max_length=128, description="文件名（已去除路径与控制字符）")
    media_type: str = Field(max_length=64, description="按文件内容识别的类型")
    size: int = Field(description="字节数")
    sha256: str = Field(max_length=64, description="内容的 SHA-256")
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    uploaded_at: dt.datetime = Field(sa_column=utc_column())
    uploaded_by: str = Field(max_length=64)
