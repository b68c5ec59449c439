"""The audit log: who did what, when, from where — appended, never changed.

Every decision about money (statement issue and recalculation), data review, manual imports,
rule sets, users and tokens is one :func:`record` call. The table has no update or delete path
in the code, and database triggers refuse both (migration 0008).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from pydantic import JsonValue
from sqlalchemy import Connection, Engine, insert, select

from service.db.models import AuditEvent, table_of, utc_now

__all__ = ["AuditEntry", "audit_events", "record"]

AUDIT = table_of(AuditEvent)


@dataclass(frozen=True)
class AuditEntry:
    """One audit event as read back."""

    id: int
    at: dt.datetime
    actor: str
    action: str
    target: str
    address: str
    detail: dict[str, Any]  # Any: the stored JSON object


def record(
    target_db: Engine | Connection,
    *,
    actor: str,
    action: str,
    target: str = "",
    address: str = "",
    detail: dict[str, JsonValue] | None = None,
) -> None:
    """Append one event (inside the caller's transaction when given a connection)."""
    row = {"at": utc_now(), "actor": actor[:64], "action": action[:48], "target": target[:128],
           "address": address[:64], "detail": detail or {}}  # fmt: skip
    if isinstance(target_db, Connection):
        target_db.execute(insert(AUDIT), [row])
        return
    with target_db.begin() as connection:
        connection.execute(insert(AUDIT), [row])


def audit_events(
    *,
    engine: Engine,
    action: str | None = None,
    target: str | None = None,
    limit: int = 200,
    offset: int = 0,
) -> list[AuditEntry]:
    """The newest events first, optionally of one action or one target (``appeal:12``)."""
    query = select(AUDIT).order_by(AUDIT.c.id.desc()).limit(limit).offset(offset)
    if action is not None:
        query = query.where(AUDIT.c.action == action)
    if target is not None:
        query = query.where(AUDIT.c.target == target)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [
        AuditEntry(
            id=int(r.id), at=r.at if r.at.tzinfo else r.at.replace(tzinfo=dt.UTC),
            actor=r.actor, action=r.action, target=r.target, address=r.address,
            detail=dict(r.detail or {}),
        )
        for r in rows
    ]  # fmt: skip
