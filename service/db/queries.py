"""Keyword-only data access functions. Routes, jobs and the CLI call these, never raw SQL."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping

import pandas as pd
from pydantic import JsonValue
from sqlalchemy import Connection, Engine, Executable, delete, func, insert, select
from sqlmodel import Session

from service.db.models import JobRun, Observation, SectionStatus, table_of, utc_now

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
