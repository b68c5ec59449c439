"""Reading appeals back: one, a page of them, their attachments, the versions they led to."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Engine, Row, func, select

from service.db.models import Appeal, AppealAttachment, table_of
from service.errors import NotFoundError
from service.time import BEIJING

__all__ = [
    "APPEAL",
    "ATTACHMENT",
    "OPEN_STATES",
    "OUTCOME_WORDS",
    "STATE_WORDS",
    "AppealRecord",
    "AttachmentInfo",
    "appeal_attachment",
    "get_appeal",
    "list_appeals",
    "settled_versions",
]

APPEAL = table_of(Appeal)
ATTACHMENT = table_of(AppealAttachment)

STATE_WORDS: Final = {"filed": "待受理", "accepted": "已受理，复核中", "rejected": "已驳回",
                      "settled": "已办结"}  # fmt: skip
OUTCOME_WORDS: Final = {"revised": "改正", "upheld": "维持原结果"}
OPEN_STATES: Final = ("filed", "accepted")


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def _beijing(value: dt.datetime | None) -> str | None:
    aware = _aware(value)
    return None if aware is None else aware.astimezone(BEIJING).isoformat()


@dataclass(frozen=True)
class AttachmentInfo:
    """An attachment without its bytes."""

    id: int
    filename: str
    media_type: str
    size: int
    sha256: str
    uploaded_at: dt.datetime
    uploaded_by: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (times in Beijing time with offset)."""
        return {
            "id": self.id, "filename": self.filename, "media_type": self.media_type,
            "size": self.size, "sha256": self.sha256, "uploaded_at": _beijing(self.uploaded_at),
            "uploaded_by": self.uploaded_by,
        }  # fmt: skip


@dataclass(frozen=True)
class AppealRecord:
    """An appeal as stored, with its attachments."""

    id: int
    month: dt.date
    unit: str
    version: int
    line_kind: str
    line_key: str
    line_text: str
    reason: str
    state: str
    filed_by: str
    filed_at: dt.datetime
    deadline: dt.datetime
    decided_by: str | None
    decided_at: dt.datetime | None
    decision_note: str | None
    settled_by: str | None
    settled_at: dt.datetime | None
    outcome: str | None
    settled_version: int | None
    settle_note: str | None
    attachments: tuple[AttachmentInfo, ...] = ()

    @property
    def is_open(self) -> bool:
        """Filed or accepted: the bureau still has to decide."""
        return self.state in OPEN_STATES

    @property
    def token(self) -> str:
        """The appealed line as ``kind:key``."""
        return f"{self.line_kind}:{self.line_key}"

    @property
    def state_text(self) -> str:
        """The state in Chinese, with the outcome once settled."""
        word = STATE_WORDS[self.state]
        if self.outcome is None:
            return word
        version = f"（第 {self.settled_version} 版）" if self.settled_version else ""
        return f"{word}：{OUTCOME_WORDS[self.outcome]}{version}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (times in Beijing time with offset)."""
        return {
            "id": self.id, "month": f"{self.month:%Y-%m}", "unit": self.unit,
            "version": self.version, "line": {"kind": self.line_kind, "key": self.line_key,
                                              "text": self.line_text},
            "reason": self.reason, "state": self.state, "state_text": self.state_text,
            "filed_by": self.filed_by, "filed_at": _beijing(self.filed_at),
            "deadline": _beijing(self.deadline),
            "decided_by": self.decided_by, "decided_at": _beijing(self.decided_at),
            "decision_note": self.decision_note,
            "settled_by": self.settled_by, "settled_at": _beijing(self.settled_at),
            "outcome": self.outcome, "settled_version": self.settled_version,
            "settle_note": self.settle_note,
            "attachments": [a.as_dict() for a in self.attachments],
        }  # fmt: skip


def _record(row: Row[Any], attachments: Sequence[AttachmentInfo] = ()) -> AppealRecord:
    filed_at, deadline = _aware(row.filed_at), _aware(row.deadline)
    assert filed_at is not None and deadline is not None  # NOT NULL columns
    return AppealRecord(
        id=int(row.id), month=row.month, unit=row.unit_id, version=int(row.version),
        line_kind=row.line_kind, line_key=row.line_key, line_text=row.line_text,
        reason=row.reason, state=row.state, filed_by=row.filed_by, filed_at=filed_at,
        deadline=deadline, decided_by=row.decided_by, decided_at=_aware(row.decided_at),
        decision_note=row.decision_note, settled_by=row.settled_by,
        settled_at=_aware(row.settled_at), outcome=row.outcome,
        settled_version=row.settled_version, settle_note=row.settle_note,
        attachments=tuple(attachments),
    )  # fmt: skip


_INFO = [ATTACHMENT.c[n] for n in ("id", "appeal_id", "filename", "media_type", "size", "sha256",
                                   "uploaded_at", "uploaded_by")]  # fmt: skip


def _info(row: Any) -> AttachmentInfo:  # Any: a row of the info columns, maybe with more
    uploaded = _aware(row.uploaded_at)
    assert uploaded is not None
    return AttachmentInfo(int(row.id), row.filename, row.media_type, int(row.size), row.sha256,
                          uploaded, row.uploaded_by)  # fmt: skip


def get_appeal(*, engine: Engine, appeal_id: int) -> AppealRecord:
    """One appeal with its attachments.

    Raises
    ------
    NotFoundError
        No appeal has that id.
    """
    with engine.connect() as connection:
        row = connection.execute(select(APPEAL).where(APPEAL.c.id == appeal_id)).first()
        if row is None:
            raise NotFoundError(f"没有编号为 {appeal_id} 的申诉 / no appeal {appeal_id}")
        files = connection.execute(
            select(*_INFO).where(ATTACHMENT.c.appeal_id == appeal_id).order_by(ATTACHMENT.c.id)
        ).all()
    return _record(row, [_info(f) for f in files])


def list_appeals(
    *,
    engine: Engine,
    unit: str | None = None,
    month: dt.date | None = None,
    states: Sequence[str] = (),
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[AppealRecord], int]:
    """A page of appeals (newest first) and how many match in all."""
    where = []
    if unit is not None:
        where.append(APPEAL.c.unit_id == unit)
    if month is not None:
        where.append(APPEAL.c.month == month.replace(day=1))
    if states:
        where.append(APPEAL.c.state.in_(list(states)))
    with engine.connect() as connection:
        total = int(connection.execute(
            select(func.count()).select_from(APPEAL).where(*where)
        ).scalar_one())  # fmt: skip
        rows = connection.execute(
            select(APPEAL).where(*where).order_by(APPEAL.c.id.desc()).limit(limit).offset(offset)
        ).all()
        ids = [int(r.id) for r in rows]
        files = connection.execute(
            select(*_INFO).where(ATTACHMENT.c.appeal_id.in_(ids)).order_by(ATTACHMENT.c.id)
        ).all() if ids else []  # fmt: skip
    by_appeal: dict[int, list[AttachmentInfo]] = {}
    for f in files:
        by_appeal.setdefault(int(f.appeal_id), []).append(_info(f))
    return [_record(r, by_appeal.get(int(r.id), ())) for r in rows], total


def appeal_attachment(
    *, engine: Engine, appeal_id: int, attachment_id: int
) -> tuple[AttachmentInfo, bytes]:
    """An attachment of an appeal with its bytes.

    Raises
    ------
    NotFoundError
        The appeal has no such attachment.
    """
    with engine.connect() as connection:
        row = connection.execute(
            select(*_INFO, ATTACHMENT.c.content).where(
                ATTACHMENT.c.id == attachment_id, ATTACHMENT.c.appeal_id == appeal_id
            )
        ).first()
    if row is None:
        raise NotFoundError(f"申诉 {appeal_id} 没有该附件 / no such attachment")
    return _info(row), bytes(row.content)


def settled_versions(*, engine: Engine, month: dt.date) -> dict[int, tuple[int, ...]]:
    """Per issued version of a month, the appeals it settled (revised) — the links of a diff."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(APPEAL.c.id, APPEAL.c.settled_version).where(
                APPEAL.c.month == month.replace(day=1), APPEAL.c.settled_version.is_not(None)
            ).order_by(APPEAL.c.id)
        ).all()  # fmt: skip
    found: dict[int, list[int]] = {}
    for row in rows:
        found.setdefault(int(row.settled_version), []).append(int(row.id))
    return {version: tuple(ids) for version, ids in found.items()}
