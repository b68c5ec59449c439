"""Issuing statements: immutable versions with a content hash and a line-by-line diff."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from pydantic import JsonValue, TypeAdapter
from sqlalchemy import Engine
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from compensation.diff import LineChange, statement_diff
from compensation.statement import MonthlyStatement
from service.accounts.audit import record
from service.db.models import StatementIssue, utc_now
from service.errors import ConflictError, NotFoundError, QingliuError
from service.statements.codec import canonical_json, content_hash, statement_from_json

__all__ = [
    "IssueRecord",
    "IssueResult",
    "issue_statement",
    "issued_months",
    "issued_statement",
    "issued_versions",
]

_DIFF: TypeAdapter[tuple[LineChange, ...]] = TypeAdapter(tuple[LineChange, ...])
"""The codec of ``statement_issue.diff``: the line changes against the previous version."""


def _diff_json(diff: tuple[LineChange, ...]) -> list[JsonValue]:
    data: list[JsonValue] = _DIFF.dump_python(diff, mode="json")
    return data


@dataclass(frozen=True)
class IssueRecord:
    """An issued version (without its content)."""

    month: dt.date
    version: int
    rule_set: str
    content_hash: str
    issued_at: dt.datetime
    changes: int
    issued_by: str = ""


@dataclass(frozen=True)
class IssueResult:
    """What issuing did: a new version, or none because nothing changed."""

    record: IssueRecord
    created: bool
    diff: tuple[LineChange, ...]


def _record(row: StatementIssue) -> IssueRecord:
    issued = row.issued_at
    if issued.tzinfo is None:
        issued = issued.replace(tzinfo=dt.UTC)
    return IssueRecord(
        month=row.month,
        version=row.version,
        rule_set=row.rule_set,
        content_hash=row.content_hash,
        issued_at=issued,
        changes=len(row.diff),
        issued_by=row.issued_by,
    )


def issued_versions(*, engine: Engine, month: dt.date) -> list[IssueRecord]:
    """Every issued version of a month, oldest first."""
    query = (
        select(StatementIssue)
        .where(col(StatementIssue.month) == month.replace(day=1))
        .order_by(col(StatementIssue.version))
    )
    with Session(engine) as session:
        return [_record(row) for row in session.exec(query)]


def issued_months(*, engine: Engine) -> list[dt.date]:
    """The months with at least one issued version, newest first."""
    month = col(StatementIssue.month)
    with engine.connect() as connection:
        rows = connection.execute(sa_select(month).distinct().order_by(month.desc()))
        return [row[0] for row in rows]


def issued_statement(
    *, engine: Engine, month: dt.date, version: int | None = None
) -> tuple[MonthlyStatement, IssueRecord, tuple[LineChange, ...]]:
    """An issued version exactly as issued (the newest when ``version`` is None).

    Raises
    ------
    QingliuError
        When the month has no such version.
    """
    query = select(StatementIssue).where(col(StatementIssue.month) == month.replace(day=1))
    if version is None:
        query = query.order_by(col(StatementIssue.version).desc()).limit(1)
    else:
        query = query.where(col(StatementIssue.version) == version)
    with Session(engine) as session:
        row = session.exec(query).first()
    if row is None:
        which = "任何版本" if version is None else f"第 {version} 版"
        raise NotFoundError(f"{month:%Y-%m} 没有已签发的{which} / no such issued version")
    if content_hash(row.content) != row.content_hash:
        raise QingliuError(
            f"{month:%Y-%m} 第 {row.version} 版内容与摘要不符 / stored content does not match "
            "its hash: the record has been altered"
        )
    diff = _DIFF.validate_python(row.diff)
    return statement_from_json(json.loads(row.content)), _record(row), diff


_ISSUE_ATTEMPTS = 5
"""How often issuing re-reads the newest version after losing a race for the next number."""


def issue_statement(
    *,
    engine: Engine,
    statement: MonthlyStatement,
    actor: str = "system",
    address: str = "",
    reason: str = "",
) -> IssueResult:
    """Issue a month's statement: a new immutable version unless nothing changed.

    Version 1 is the first issue; each recomputation that differs from the newest version is
    stored as the next version with its line-by-line diff against it.

    Issues of one month are serialised by the database: ``(month, version)`` is unique, so of
    two concurrent issues only one can store the next number. The other rolls back, reads the
    winner and answers "unchanged" (``created`` false, the winner's version) when the content
    is the same, or stores the version after it when it differs. The API and the CLI both
    issue through this function, so neither shows a clash to its caller. The issuer (``actor``)
    is stored with the version, and every issue request goes to the audit log (who, when, from
    where, the content hash, whether a version was created).
    """
    text = canonical_json(statement)
    digest = content_hash(text)
    for _ in range(_ISSUE_ATTEMPTS):
        try:
            result = _issue_once(engine, statement, text, digest, actor)
        except IntegrityError:
            continue  # another issue stored this version first: read it and decide again
        detail: dict[str, JsonValue] = {"sha256": digest, "created": result.created,
                                        "changes": len(result.diff)}  # fmt: skip
        if reason:
            detail["reason"] = reason
        target = f"{statement.month:%Y-%m} v{result.record.version}"
        record(engine, actor=actor, action="statement.issue", address=address, target=target,
               detail=detail)  # fmt: skip
        return result
    raise ConflictError(
        f"{statement.month:%Y-%m} 正被同时签发，请稍后重试 / the month is being issued "
        "concurrently; retry"
    )


def _issue_once(
    engine: Engine, statement: MonthlyStatement, text: str, digest: str, actor: str
) -> IssueResult:
    month = statement.month
    with Session(engine) as session:
        latest = session.exec(
            select(StatementIssue)
            .where(col(StatementIssue.month) == month)
            .order_by(col(StatementIssue.version).desc())
            .limit(1)
        ).first()
        if latest is not None and latest.content_hash == digest:
            return IssueResult(_record(latest), created=False, diff=())
        diff: tuple[LineChange, ...] = ()
        if latest is not None:
            diff = statement_diff(statement_from_json(json.loads(latest.content)), statement)
        version = 1 if latest is None else latest.version + 1
        row = StatementIssue(
            month=month,
            version=version,
            rule_set=statement.rule_set.id,
            content=text,
            content_hash=digest,
            diff=_diff_json(diff),
            issued_at=utc_now(),
            issued_by=actor[:64],
        )
        session.add(row)
        session.commit()  # IntegrityError when a concurrent issue stored this version first
        session.refresh(row)
        return IssueResult(_record(row), created=True, diff=diff)
