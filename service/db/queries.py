"""Keyword-only data access functions. Routes, jobs and the CLI call these, never raw SQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, delete, func, insert, select
from sqlmodel import Session

from service.db.models import JobRun, Observation, SectionStatus, utc_now

__all__ = [
    "count_observations",
    "finish_job_run",
    "insert_section_statuses",
    "observation_span",
    "parameter_counts",
    "read_frame",
    "start_job_run",
]


def insert_section_statuses(*, engine: Engine, frame: pd.DataFrame, source: str) -> int:
    """Store month statuses (no flow, frozen …) of sections; replaces this source's rows."""
    table = SectionStatus.__table__  # type: ignore[attr-defined]
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
    query = select(func.count()).select_from(Observation)
    if section_id is not None:
        query = query.where(Observation.section_id == section_id)
    with Session(engine) as session:
        return int(session.exec(query).one()[0])  # type: ignore[call-overload]


def parameter_counts(*, engine: Engine, section_id: str) -> dict[str, int]:
    """Number of observations per parameter for a section."""
    query = (
        select(Observation.parameter, func.count())
        .where(Observation.section_id == section_id)
        .group_by(Observation.parameter)
        .order_by(Observation.parameter)
    )
    with Session(engine) as session:
        return {str(p): int(n) for p, n in session.exec(query).all()}  # type: ignore[call-overload]


def observation_span(
    *, engine: Engine, section_id: str
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """First and last observation time of a section (UTC), or (None, None)."""
    query = select(func.min(Observation.observed_at), func.max(Observation.observed_at)).where(
        Observation.section_id == section_id
    )
    with Session(engine) as session:
        first, last = session.exec(query).one()  # type: ignore[call-overload]
    return _as_utc(first), _as_utc(last)


def _as_utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def start_job_run(*, engine: Engine, job: str, detail: str = "") -> int:
    """Record the start of a job; returns the run id."""
    with Session(engine) as session:
        run = JobRun(job=job, started_at=utc_now(), detail=detail)
        session.add(run)
        session.commit()
        session.refresh(run)
        assert run.id is not None
        return run.id


def finish_job_run(*, engine: Engine, run_id: int, status: str, detail: str = "") -> None:
    """Record the end of a job run with its status (``ok`` or ``failed``)."""
    with Session(engine) as session:
        run = session.get(JobRun, run_id)
        if run is None:
            raise KeyError(f"unknown job run {run_id}")
        run.finished_at = utc_now()
        run.status = status
        run.detail = detail
        session.add(run)
        session.commit()


def read_frame(connection: Connection, query: Any) -> pd.DataFrame:
    """Run a select and return its rows as a frame, columns named as selected (fast path)."""
    result = connection.execute(query)
    names = list(result.keys())
    return pd.DataFrame([tuple(row) for row in result], columns=names)
