"""Keyword-only data access functions. Routes, jobs and the CLI call these, never raw SQL."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from pydantic import JsonValue
from sqlalchemy import Connection, Engine, Executable, Table, delete, func, insert, select
from sqlmodel import Session, SQLModel

from service.db.models import JobRun, Observation, SectionStatus, table_of, utc_now
from service.errors import ConfigurationError

__all__ = [
    "JobDetail",
    "LastRun",
    "acquire_lease",
    "count_observations",
    "finish_job_run",
    "insert_section_statuses",
    "last_runs",
    "observation_span",
    "parameter_counts",
    "read_frame",
    "start_job_run",
]


def insert_section_statuses(*, engine: Engine, frame: pd.DataFrame, source: str) -> int:
    """Store month statuses (no flow, frozen …) of sections; replaces this source's rows."""
    table = table_of(SectionStatus)
    rows = [
        {"section_id": r.section_id, "month": r.month, "status": r.status, "note": r.note,
         "source": source}
        for r in frame.itertuples(index=False)
    ]  # fmt: skip
    with engine.begin() as connection:
        connection.execute(delete(table).where(table.c.source == source))
        if rows:
            connection.execute(insert(table), rows)
    return len(rows)


def count_observations(*, engine: Engine, section_id: str | None = None) -> int:
    """Number of stored observations, of one section or in all."""
    table = table_of(Observation)
    query = select(func.count()).select_from(table)
    if section_id is not None:
        query = query.where(table.c.section_id == section_id)
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def parameter_counts(*, engine: Engine, section_id: str) -> dict[str, int]:
    """Number of observations per parameter for a section."""
    table = table_of(Observation)
    query = (
        select(table.c.parameter, func.count())
        .where(table.c.section_id == section_id)
        .group_by(table.c.parameter)
        .order_by(table.c.parameter)
    )
    with engine.connect() as connection:
        return {str(p): int(n) for p, n in connection.execute(query).all()}


def observation_span(
    *, engine: Engine, section_id: str
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """First and last observation time of a section (UTC), or (None, None)."""
    table = table_of(Observation)
    query = select(func.min(table.c.observed_at), func.max(table.c.observed_at)).where(
        table.c.section_id == section_id
    )
    with engine.connect() as connection:
        first, last = connection.execute(query).one()
    return _as_utc(first), _as_utc(last)


def _as_utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


JobDetail = Mapping[str, JsonValue] | str
"""A job run's parameters and results: a mapping, or text (kept as ``{"text": …}``)."""


def _detail(detail: JobDetail | None) -> dict[str, JsonValue]:
    """The JSON object stored in ``job_run.detail``; text that holds a JSON object is read."""
    if detail is None:
        return {}
    if not isinstance(detail, str):
        return dict(detail)
    try:
        parsed = json.loads(detail)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        return {str(k): v for k, v in parsed.items()}
    return {"text": detail} if detail else {}


def start_job_run(*, engine: Engine, job: str, detail: JobDetail | None = None) -> int:
    """Record the start of a job; returns the run id."""
    with Session(engine) as session:
        run = JobRun(job=job, started_at=utc_now(), detail=_detail(detail))
        session.add(run)
        session.commit()
        session.refresh(run)
        assert run.id is not None
        return run.id


def finish_job_run(
    *, engine: Engine, run_id: int, status: str, detail: JobDetail | None = None
) -> None:
    """Record the end of a job run with its status (``ok`` or ``failed``) and its results."""
    with Session(engine) as session:
        run = session.get(JobRun, run_id)
        if run is None:
            raise KeyError(f"unknown job run {run_id}")
        run.finished_at = utc_now()
        run.status = status
        run.detail = _detail(detail)
        session.add(run)
        session.commit()


def read_frame(connection: Connection, query: Executable) -> pd.DataFrame:
    """Run a select and return its rows as a frame, columns named as selected (fast path)."""
    result = connection.execute(query)
    names = list(result.keys())
    return pd.DataFrame([tuple(row) for row in result], columns=names)


# --- job leases and the job log ---------------------------------------------------------------


def _lease_table() -> Table:
    return SQLModel.metadata.tables["job_lease"]


def acquire_lease(
    *, engine: Engine, job: str, holder: str, hold: dt.timedelta, now: dt.datetime | None = None
) -> bool:
    """Take the lease of ``job`` for ``hold`` when nobody holds it; ``True`` when taken.

    One atomic statement on SQLite (≥ 3.35) and PostgreSQL: ``INSERT … ON CONFLICT (job) DO
    UPDATE … WHERE job_lease.expires_at < now RETURNING holder``. Of two processes racing,
    exactly one inserts or updates the row and gets it back; the other changes nothing and gets
    no row (the returned row, not the driver's row count, which psycopg does not give here).
    A lease is not given back when the run ends: it expires, so a second process firing late
    for the same run still skips.
    Times are the callers' clocks in UTC (keep the servers' clocks in step, e.g. with NTP).
    """
    now = now or utc_now()
    table = _lease_table()
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        statement: Any = pg_insert(table)
    elif engine.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        statement = sqlite_insert(table)
    else:  # pragma: no cover - the supported databases are SQLite and PostgreSQL
        raise ConfigurationError(
            f"QINGLIU_DATABASE_URL: 不支持的数据库 / unsupported database {engine.dialect.name}"
        )
    statement = statement.values(job=job, holder=holder, expires_at=now + hold)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.job],
        set_={"holder": statement.excluded.holder, "expires_at": statement.excluded.expires_at},
        where=table.c.expires_at < now,
    )
    statement = statement.returning(table.c.holder)
    with engine.begin() as connection:
        return connection.execute(statement).first() is not None


@dataclass(frozen=True)
class LastRun:
    """The newest ``job_run`` row of a job."""

    status: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    detail: dict[str, Any]
    """What the run did or why it failed: the stored JSON object (text as ``{"text": …}``)."""


def last_runs(*, engine: Engine, names: Iterable[str]) -> dict[str, LastRun]:
    """The newest run of each named job that has run (times in UTC, with zone)."""
    found: dict[str, LastRun] = {}
    table = SQLModel.metadata.tables[JobRun.__tablename__]
    with engine.connect() as connection:
        for name in names:
            row = _newest(connection, table, name)
            if row is not None:
                found[name] = LastRun(
                    status=row.status,
                    started_at=_utc_aware(row.started_at),
                    finished_at=None if row.finished_at is None else _utc_aware(row.finished_at),
                    detail=_stored_detail(row.detail),
                )
    return found


def _newest(connection: Connection, table: Table, name: str) -> Any:
    return connection.execute(
        select(table.c.status, table.c.started_at, table.c.finished_at, table.c.detail)
        .where(table.c.job == name)
        .order_by(table.c.started_at.desc(), table.c.id.desc())
        .limit(1)
    ).first()


def _stored_detail(stored: Any) -> dict[str, Any]:  # Any: a JSON column's value
    """``job_run.detail`` as an object, whether the column holds JSON or (older rows) text."""
    if isinstance(stored, dict):
        return {str(key): value for key, value in stored.items()}
    if not stored:
        return {}
    try:
        parsed = json.loads(stored)
    except (TypeError, ValueError):
        parsed = None
    return {str(k): v for k, v in parsed.items()} if isinstance(parsed, dict) else {"text": stored}


def _utc_aware(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
