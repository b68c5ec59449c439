"""An appeal's life: filed by a county, accepted or rejected by the bureau, settled by review and
recalculation.

::

    filed ──accept──▶ accepted ──settle──▶ settled (revised: a new version; upheld: unchanged)
      │                  │
      └────reject────────┴──────▶ rejected (with the reason)

- **Filing**: against a deduction or event line of the month's newest issued version, by that
  unit's county user (or the bureau on its behalf), with a reason and attachments
  (:mod:`service.appeals.attachments`), until the deadline: ``appeal_days`` days after the
  version was issued, to the end of that Beijing day [A]. One open appeal per line.
- **Review**: while accepted, the bureau reviews the observations the line rests on
  (:func:`service.review.review_and_recompute`, the note naming the appeal).
- **Settling** recalculates the month from the database. When the appealed line differs from
  the appealed version, the recalculation is issued as a new version (unless that content is
  already the newest version) and the appeal is settled as **revised** with that version: the
  version's diff contains the line, and the version lists the appeal. When the line is
  unchanged the appeal is settled as **upheld** and must say why; nothing is issued.

Every step is one transaction with its audit entry (``appeal.file``, ``appeal.accept``,
``appeal.reject``, ``appeal.review``, ``appeal.settle``); a step is a conditional update on the
state, so of two bureau users deciding at once one wins and the other gets a conflict.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Final

from sqlalchemy import Connection, Engine, and_, insert, select, update

from compensation.diff import statement_diff
from sections.registry import Registry
from service.accounts.audit import record
from service.appeals.attachments import MAX_ATTACHMENTS, MAX_TOTAL_BYTES, Attachment
from service.appeals.lines import APPEALABLE_KINDS, AppealableLine, find_line
from service.appeals.records import (
    APPEAL,
    ATTACHMENT,
    OPEN_STATES,
    STATE_WORDS,
    AppealRecord,
    get_appeal,
)
from service.db.models import utc_now
from service.errors import ConflictError, InputError, NotFoundError
from service.statements.codec import canonical_json, content_hash
from service.statements.issue import issue_statement, issued_statement, issued_versions
from service.statements.monthly import draft_statement
from service.time import BEIJING

__all__ = [
    "MAX_NOTE",
    "MAX_REASON",
    "accept_appeal",
    "appeal_deadline",
    "appealed_line",
    "file_appeal",
    "reject_appeal",
    "settle_appeal",
]

MAX_REASON: Final = 4000
"""Characters of an appeal's reason."""
MAX_NOTE: Final = 2000
"""Characters of a decision's note."""


def appeal_deadline(issued_at: dt.datetime, days: int) -> dt.datetime:
    """The end of the Beijing day ``days`` days after the issue day (UTC)."""
    day = issued_at.astimezone(BEIJING).date() + dt.timedelta(days=days + 1)
    return dt.datetime.combine(day, dt.time(0), BEIJING).astimezone(dt.UTC)


def _text(value: str, *, what: str, limit: int, required: bool = True) -> str:
    cleaned = value.strip()
    if required and not cleaned:
        raise InputError(f"请填写{what} / the {what} is required")
    if len(cleaned) > limit:
        raise InputError(f"{what}不能超过 {limit} 字 / too long (at most {limit} characters)")
    return cleaned


def file_appeal(
    *,
    engine: Engine,
    month: dt.date,
    unit: str,
    line: str,
    reason: str,
    attachments: Sequence[Attachment] = (),
    days: int,
    actor: str,
    address: str = "",
    now: dt.datetime | None = None,
) -> AppealRecord:
    """File an appeal against line ``kind:key`` of the unit in the month's newest version.

    Raises
    ------
    NotFoundError
        The month has no issued version, or the unit no such line in it.
    InputError
        No reason, too many or too large attachments, or the deadline has passed.
    ConflictError
        The line already has an open appeal.
    """
    text = _text(reason, what="申诉理由", limit=MAX_REASON)
    if len(attachments) > MAX_ATTACHMENTS:
        raise InputError(f"附件不能超过 {MAX_ATTACHMENTS} 个 / at most {MAX_ATTACHMENTS} files")
    if sum(len(a.content) for a in attachments) > MAX_TOTAL_BYTES:
        raise InputError(
            f"附件合计不能超过 {MAX_TOTAL_BYTES // (1024 * 1024)} MB / attachments too large"
        )
    first = month.replace(day=1)
    statement, issue, _ = issued_statement(engine=engine, month=first)  # NotFoundError: none
    found = find_line(statement, unit, line)
    if found is None or found.kind not in APPEALABLE_KINDS:
        raise NotFoundError(
            f"{first:%Y-%m} 第 {issue.version} 版中{unit}没有该扣缴项 / no such line: {line}"
        )
    moment = now or utc_now()
    deadline = appeal_deadline(issue.issued_at, days)
    if moment >= deadline:
        raise InputError(
            f"已过申诉期限（{deadline.astimezone(BEIJING):%Y-%m-%d %H:%M} 前，签发后 {days} 天）"
            " / the appeal period has ended"
        )
    with engine.begin() as connection:
        _refuse_duplicate(connection, first, unit, found)
        appeal_id = connection.execute(
            insert(APPEAL).values(
                month=first, unit_id=unit, version=issue.version, line_kind=found.kind,
                line_key=found.key, line_text=found.text[:512], reason=text, state="filed",
                filed_by=actor[:64], filed_at=moment, deadline=deadline,
            ).returning(APPEAL.c.id)
        ).scalar_one()  # fmt: skip
        for attachment in attachments:
            connection.execute(
                insert(ATTACHMENT).values(
                    appeal_id=appeal_id, filename=attachment.filename,
                    media_type=attachment.media_type, size=len(attachment.content),
                    sha256=attachment.sha256, content=attachment.content, uploaded_at=moment,
                    uploaded_by=actor[:64],
                )
            )  # fmt: skip
        record(connection, actor=actor, action="appeal.file", address=address,
               target=f"appeal:{appeal_id}",
               detail={"month": f"{first:%Y-%m}", "unit": unit, "version": issue.version,
                       "line": found.token,
                       "attachments": [{"name": a.filename, "sha256": a.sha256}
                                       for a in attachments]})  # fmt: skip
    return get_appeal(engine=engine, appeal_id=int(appeal_id))


def _refuse_duplicate(
    connection: Connection, month: dt.date, unit: str, line: AppealableLine
) -> None:
    open_one = connection.execute(
        select(APPEAL.c.id).where(
            APPEAL.c.month == month, APPEAL.c.unit_id == unit, APPEAL.c.line_kind == line.kind,
            APPEAL.c.line_key == line.key, APPEAL.c.state.in_(OPEN_STATES),
        )
    ).first()  # fmt: skip
    if open_one is not None:
        raise ConflictError(
            f"该扣缴项已有未办结的申诉（编号 {open_one.id}） / the line already has an open "
            f"appeal ({open_one.id})"
        )


def _move(
    connection: Connection, appeal_id: int, states: Sequence[str], values: dict[str, object]
) -> None:
    """Move an appeal on from one of ``states``, or say why not."""
    done = connection.execute(
        update(APPEAL)
        .where(and_(APPEAL.c.id == appeal_id, APPEAL.c.state.in_(list(states))))
        .values(**values)
    )
    if done.rowcount != 1:
        state = connection.execute(select(APPEAL.c.state).where(APPEAL.c.id == appeal_id))
        found = state.scalar_one_or_none()
        if found is None:
            raise NotFoundError(f"没有编号为 {appeal_id} 的申诉 / no appeal {appeal_id}")
        raise _conflict(appeal_id, found)


def _conflict(appeal_id: int, state: str) -> ConflictError:
    return ConflictError(
        f"申诉 {appeal_id} 当前为“{STATE_WORDS.get(state, state)}”，不能进行此操作 / "
        f"the appeal is {state}"
    )


def accept_appeal(
    *, engine: Engine, appeal_id: int, note: str = "", actor: str, address: str = ""
) -> AppealRecord:
    """Accept a filed appeal for review (受理)."""
    text = _text(note, what="受理意见", limit=MAX_NOTE, required=False)
    with engine.begin() as connection:
        _move(connection, appeal_id, ("filed",), {
            "state": "accepted", "decided_by": actor[:64], "decided_at": utc_now(),
            "decision_note": text or None,
        })  # fmt: skip
        record(connection, actor=actor, action="appeal.accept", address=address,
               target=f"appeal:{appeal_id}", detail={"note": text})  # fmt: skip
    return get_appeal(engine=engine, appeal_id=appeal_id)


def reject_appeal(
    *, engine: Engine, appeal_id: int, reason: str, actor: str, address: str = ""
) -> AppealRecord:
    """Reject a filed or accepted appeal with its reason (驳回)."""
    text = _text(reason, what="驳回理由", limit=MAX_NOTE)
    with engine.begin() as connection:
        _move(connection, appeal_id, OPEN_STATES, {
            "state": "rejected", "decided_by": actor[:64], "decided_at": utc_now(),
            "decision_note": text,
        })  # fmt: skip
        record(connection, actor=actor, action="appeal.reject", address=address,
               target=f"appeal:{appeal_id}", detail={"reason": text})  # fmt: skip
    return get_appeal(engine=engine, appeal_id=appeal_id)


def appealed_line(*, engine: Engine, appeal: AppealRecord) -> AppealableLine | None:
    """The appealed line as it stands in the appealed version (None if that version lost it)."""
    statement, _, _ = issued_statement(engine=engine, month=appeal.month, version=appeal.version)
    return find_line(statement, appeal.unit, appeal.token)


def settle_appeal(
    *,
    engine: Engine,
    registry: Registry,
    appeal_id: int,
    note: str = "",
    actor: str,
    address: str = "",
) -> AppealRecord:
    """Recalculate the month and settle an accepted appeal (办结).

    Raises
    ------
    ConflictError
        The appeal is not accepted (or another user settled it meanwhile).
    InputError
        The recalculation leaves the line unchanged and ``note`` gives no reason to uphold it.
    """
    appeal = get_appeal(engine=engine, appeal_id=appeal_id)
    if appeal.state != "accepted":
        raise _conflict(appeal_id, appeal.state)
    text = _text(note, what="办结说明", limit=MAX_NOTE, required=False)
    before, _, _ = issued_statement(engine=engine, month=appeal.month, version=appeal.version)
    draft = draft_statement(engine=engine, registry=registry, month=appeal.month)
    touched = [
        c for c in statement_diff(before, draft)
        if (c.unit, c.kind, c.key) == (appeal.unit, appeal.line_kind, appeal.line_key)
    ]  # fmt: skip
    version: int | None = None
    if touched:
        newest = issued_versions(engine=engine, month=appeal.month)[-1]
        if content_hash(canonical_json(draft)) == newest.content_hash:
            version = newest.version  # already issued (by hand, or by settling another appeal)
        else:
            version = issue_statement(
                engine=engine, statement=draft, actor=actor, address=address,
                reason=f"appeal:{appeal_id}",
            ).record.version  # fmt: skip
    elif not text:
        raise InputError(
            "重新计算后该扣缴项未变，维持原结果须写明理由 / the line is unchanged: give the "
            "reason to uphold it"
        )
    outcome = "revised" if touched else "upheld"
    with engine.begin() as connection:
        _move(connection, appeal_id, ("accepted",), {
            "state": "settled", "settled_by": actor[:64], "settled_at": utc_now(),
            "outcome": outcome, "settled_version": version, "settle_note": text or None,
        })  # fmt: skip
        record(connection, actor=actor, action="appeal.settle", address=address,
               target=f"appeal:{appeal_id}",
               detail={"outcome": outcome, "version": version, "note": text,
                       "changes": [{"change": c.change, "before": dict(c.before),
                                    "after": dict(c.after)} for c in touched]})  # fmt: skip
    return get_appeal(engine=engine, appeal_id=appeal_id)
