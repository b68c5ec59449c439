"""Keyword-only data access functions. Routes, jobs and the CLI call these, never raw SQL.

:func:`latest_forecasts` takes its connection or engine first (readers inside a transaction of
their own pass the connection).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import pandas as pd
from pydantic import JsonValue
from sqlalchemy import (
    Connection,
    Engine,
    Executable,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, SQLModel

from service.db.models import JobRun, Observation, SectionStatus, table_of, utc_now
from service.errors import ConfigurationError

__all__ = [
    "FORECAST_FRAME_COLUMNS",
    "RACE_RETRIES",
    "SKILL_COLUMNS",
    "JobDetail",
    "LastRun",
    "acquire_lease",
    "count_observations",
    "finish_job_run",
    "forecast_skill",
    "in_transaction",
    "insert_section_statuses",
    "last_runs",
    "latest_forecasts",
    "observation_span",
    "parameter_counts",
    "prune_forecast_candidates",
    "read_frame",
    "record_outcomes",
    "start_job_run",
    "store_forecasts",
    "unverified_forecasts",
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


# --- exceedance forecasts ---------------------------------------------------------------------

FORECAST_FRAME_COLUMNS = (
    "section_id", "parameter", "issued_at", "horizon_h", "target_at", "median", "lo80", "hi80",
    "lo95", "hi95", "p_exceed", "model", "threshold_lower", "threshold_upper", "selected",
    "model_version", "data_start", "data_end", "created_at", "why",
)  # fmt: skip
"""Columns of :func:`latest_forecasts`: the ``forecast`` row and its issue's ``why``."""
SKILL_COLUMNS = ("section_id", "parameter", "horizon_h", "candidate", "n", "events", "brier")
"""Columns of :func:`forecast_skill`."""
_FORECAST_TIMES = ("issued_at", "target_at", "data_start", "data_end", "created_at")


def _forecast_tables() -> tuple[Table, Table, Table]:
    tables = SQLModel.metadata.tables
    return tables["forecast"], tables["forecast_issue"], tables["forecast_candidate"]


def latest_forecasts(
    connection_or_engine: Connection | Engine,
    *,
    section_ids: Iterable[str] | None = None,
    parameters: Iterable[str] | None = None,
) -> pd.DataFrame:
    """The newest issue of every section and parameter, one row per horizon.

    Parameters
    ----------
    connection_or_engine : Connection or Engine
        Where to read (a connection reads inside its transaction).
    section_ids, parameters : iterable of str, optional
        Only these sections or parameter keys (default all).

    Returns
    -------
    DataFrame
        Columns :data:`FORECAST_FRAME_COLUMNS`, sorted by section, parameter and horizon: the
        issue time (forecast origin) and target time, the median and the 80 % / 95 % intervals
        [unit of the parameter], ``p_exceed`` (NaN without a threshold), the model of each
        horizon, the threshold (NaN where one side has no limit), the 24 h choice, the model
        version, the training window, when the row was written and the issue's reason text.
        Times are zone-aware UTC timestamps. Empty (with these columns) when nothing matches.
    """
    forecast, issue, _ = _forecast_tables()
    conditions: list[Any] = []
    if section_ids is not None:
        conditions.append(forecast.c.section_id.in_(sorted(set(section_ids))))
    if parameters is not None:
        conditions.append(forecast.c.parameter.in_(sorted(set(parameters))))
    newest = (
        select(forecast.c.section_id, forecast.c.parameter,
               func.max(forecast.c.issued_at).label("issued_at"))
        .where(*conditions)
        .group_by(forecast.c.section_id, forecast.c.parameter)
        .subquery()
    )  # fmt: skip
    columns = [forecast.c[name] for name in FORECAST_FRAME_COLUMNS[:-1]]
    query = (
        select(*columns, func.coalesce(issue.c.why, "").label("why"))
        .join(
            newest,
            (forecast.c.section_id == newest.c.section_id)
            & (forecast.c.parameter == newest.c.parameter)
            & (forecast.c.issued_at == newest.c.issued_at),
        )
        .outerjoin(
            issue,
            (issue.c.section_id == forecast.c.section_id)
            & (issue.c.parameter == forecast.c.parameter)
            & (issue.c.issued_at == forecast.c.issued_at),
        )
        .order_by(forecast.c.section_id, forecast.c.parameter, forecast.c.horizon_h)
    )
    if isinstance(connection_or_engine, Engine):
        with connection_or_engine.connect() as connection:
            frame = read_frame(connection, query)
    else:
        frame = read_frame(connection_or_engine, query)
    if frame.empty:
        frame = pd.DataFrame(columns=list(FORECAST_FRAME_COLUMNS))
    for name in _FORECAST_TIMES:
        frame[name] = pd.to_datetime(frame[name], utc=True)
    floats = ("median", "lo80", "hi80", "lo95", "hi95", "p_exceed", "threshold_lower",
              "threshold_upper")  # fmt: skip
    for name in floats:
        frame[name] = pd.to_numeric(frame[name]).astype("float64")
    frame["horizon_h"] = frame["horizon_h"].astype("int64")
    return frame


def store_forecasts(
    *,
    engine: Engine,
    forecasts: Sequence[Mapping[str, Any]],
    issues: Sequence[Mapping[str, Any]],
    candidates: Sequence[Mapping[str, Any]],
) -> None:
    """Write issued forecasts in one transaction: insert, or replace an issue stored before.

    Rows are dicts of the columns of ``forecast``, ``forecast_issue`` and
    ``forecast_candidate``. An issue (section, parameter, ``issued_at``) stored before is
    replaced: its rows are updated in place (``INSERT … ON CONFLICT … DO UPDATE`` on the unique
    keys, so two writers never clash), a replaced candidate row loses its verification (the
    caller verifies again), and the horizons or candidates the new issue no longer has are
    deleted. Writing the same issue twice leaves the tables as after the first write.
    """
    forecast, issue, candidate = _forecast_tables()
    keys = ("section_id", "parameter", "issued_at")
    with engine.begin() as connection:
        _upsert(connection, forecast, forecasts, (*keys, "horizon_h"))
        _upsert(connection, issue, issues, keys)
        cleared = [{**row, "outcome": None, "verified_at": None} for row in candidates]
        _upsert(connection, candidate, cleared, (*keys, "horizon_h", "candidate"))
        _delete_left_over(connection, forecast, forecasts, ("horizon_h",))
        _delete_left_over(connection, candidate, candidates, ("horizon_h", "candidate"))


def _upsert(
    connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]], keys: Sequence[str]
) -> None:
    """``INSERT … ON CONFLICT (keys) DO UPDATE`` every other column, on SQLite and PostgreSQL."""
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        statement: Any = pg_insert(table)
    elif connection.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        statement = sqlite_insert(table)
    else:  # pragma: no cover - the supported databases are SQLite and PostgreSQL
        raise ConfigurationError(
            f"QINGLIU_DATABASE_URL: 不支持的数据库 / unsupported database {connection.dialect.name}"
        )
    updated = [name for name in rows[0] if name not in keys and name != "id"]
    statement = statement.on_conflict_do_update(
        index_elements=[table.c[k] for k in keys],
        set_={name: statement.excluded[name] for name in updated},
    )
    connection.execute(statement, [dict(row) for row in rows])


def _delete_left_over(
    connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]], parts: Sequence[str]
) -> None:
    """Delete the rows of the written issues whose (issue, ``parts``) was not written now."""
    written: dict[tuple[Any, ...], set[tuple[Any, ...]]] = {}
    for row in rows:
        issue = (row["section_id"], row["parameter"], _utc_aware(row["issued_at"]))
        written.setdefault(issue, set()).add(tuple(row[p] for p in parts))
    for (section_id, parameter, issued_at), kept in written.items():
        stored = connection.execute(
            select(table.c.id, *(table.c[p] for p in parts)).where(
                table.c.section_id == section_id,
                table.c.parameter == parameter,
                table.c.issued_at == issued_at,
            )
        ).all()
        stale = [row.id for row in stored if tuple(row[1:]) not in kept]
        if stale:
            connection.execute(delete(table).where(table.c.id.in_(stale)))


def unverified_forecasts(*, engine: Engine, since: dt.datetime, until: dt.datetime) -> pd.DataFrame:
    """Issues and horizons with a candidate not yet verified, whose target lies in a window.

    Returns one row per (section_id, parameter, issued_at, horizon_h) with ``target_at`` in
    [``since``, ``until``) and the issue's ``threshold_lower`` / ``threshold_upper``; times
    zone-aware UTC.
    """
    forecast, _, candidate = _forecast_tables()
    query = (
        select(candidate.c.section_id, candidate.c.parameter, candidate.c.issued_at,
               candidate.c.horizon_h, candidate.c.target_at, forecast.c.threshold_lower,
               forecast.c.threshold_upper)
        .join(
            forecast,
            (forecast.c.section_id == candidate.c.section_id)
            & (forecast.c.parameter == candidate.c.parameter)
            & (forecast.c.issued_at == candidate.c.issued_at)
            & (forecast.c.horizon_h == candidate.c.horizon_h),
        )
        .where(candidate.c.outcome.is_(None), candidate.c.target_at >= since,
               candidate.c.target_at < until)
        .distinct()
    )  # fmt: skip
    with engine.connect() as connection:
        frame = read_frame(connection, query)
    columns = ["section_id", "parameter", "issued_at", "horizon_h", "target_at",
               "threshold_lower", "threshold_upper"]  # fmt: skip
    if frame.empty:
        return pd.DataFrame(columns=columns)
    for name in ("issued_at", "target_at"):
        frame[name] = pd.to_datetime(frame[name], utc=True)
    return frame


def prune_forecast_candidates(*, engine: Engine, before: dt.datetime) -> int:
    """Delete candidate probabilities whose target lies before ``before`` (past every skill
    record; the issued forecasts themselves are kept). Returns the rows deleted."""
    _, _, candidate = _forecast_tables()
    with engine.begin() as connection:
        result = connection.execute(candidate.delete().where(candidate.c.target_at < before))
    return int(result.rowcount or 0)


def record_outcomes(
    *, engine: Engine, outcomes: Sequence[Mapping[str, Any]], verified_at: dt.datetime
) -> int:
    """Set the outcome (1/0) of every candidate of the given issues and horizons.

    ``outcomes`` holds dicts with ``section_id``, ``parameter``, ``issued_at``, ``horizon_h``
    and ``outcome``; rows verified before are left as they are. Returns the number of issue
    horizons given (drivers do not all count the rows an ``executemany`` changed).
    """
    if not outcomes:
        return 0
    _, _, candidate = _forecast_tables()
    statement = (
        update(candidate)
        .where(
            candidate.c.section_id == bindparam("b_section_id"),
            candidate.c.parameter == bindparam("b_parameter"),
            candidate.c.issued_at == bindparam("b_issued_at"),
            candidate.c.horizon_h == bindparam("b_horizon_h"),
            candidate.c.outcome.is_(None),
        )
        .values(outcome=bindparam("b_outcome"), verified_at=verified_at)
    )
    rows = [{f"b_{k}": row[k] for k in ("section_id", "parameter", "issued_at", "horizon_h",
                                          "outcome")} for row in outcomes]  # fmt: skip
    with engine.begin() as connection:
        connection.execute(statement, rows)
    return len(rows)


def forecast_skill(
    *,
    engine: Engine,
    since: dt.datetime,
    until: dt.datetime,
    section_ids: Iterable[str] | None = None,
    parameters: Iterable[str] | None = None,
) -> pd.DataFrame:
    """The running skill record: each candidate's Brier score over its verified forecasts.

    Read from ``forecast_candidate`` on demand rather than kept in a table of its own: the
    verified rows are the record, an aggregate over an indexed window is cheap, and a stored
    copy would have to be kept in step with every verification and re-issue.

    Parameters
    ----------
    since, until : datetime
        The window of target times [``since``, ``until``): the forecasts verified by ``until``
        over the skill window before it.
    section_ids, parameters : iterable of str, optional
        Only these sections or parameter keys.

    Returns
    -------
    DataFrame
        Columns :data:`SKILL_COLUMNS`: per section, parameter, horizon [h] and candidate, the
        number ``n`` of verified forecasts, how many of their targets exceeded (``events``) and
        their mean Brier score (p − outcome)² [-], the value
        :func:`sections.scoring.brier_score` gives on the same rows (a test checks). Which of
        these decide a selection is :func:`sections.forecast.skill_from_totals`'s rule, applied
        by the job to these totals.
    """
    _, _, candidate = _forecast_tables()
    error = candidate.c.p_exceed - candidate.c.outcome
    conditions = [candidate.c.outcome.is_not(None), candidate.c.target_at >= since,
                  candidate.c.target_at < until]  # fmt: skip
    if section_ids is not None:
        conditions.append(candidate.c.section_id.in_(sorted(set(section_ids))))
    if parameters is not None:
        conditions.append(candidate.c.parameter.in_(sorted(set(parameters))))
    group = (candidate.c.section_id, candidate.c.parameter, candidate.c.horizon_h,
             candidate.c.candidate)  # fmt: skip
    query = (
        select(
            *group,
            func.count().label("n"),
            func.sum(candidate.c.outcome).label("events"),
            func.avg(error * error).label("brier"),
        )
        .where(*conditions)
        .group_by(*group)
        .order_by(*group)
    )
    with engine.connect() as connection:
        frame = read_frame(connection, query)
    if frame.empty:
        return pd.DataFrame(columns=list(SKILL_COLUMNS))
    for name in ("n", "events", "horizon_h"):
        frame[name] = frame[name].astype("int64")
    frame["brier"] = pd.to_numeric(frame["brier"]).astype("float64")
    return frame


# --- transactions that may lose a race --------------------------------------------------------

_T = TypeVar("_T")
RACE_RETRIES = 8
"""How often :func:`in_transaction` tries a unit of work that lost a race."""


def in_transaction(
    *, engine: Engine, work: Callable[[Connection], _T], attempts: int = RACE_RETRIES
) -> _T:
    """Run ``work`` in one transaction; run it again, from the start, when it lost a race.

    A race lost is a unique constraint a concurrent transaction satisfied first
    (``IntegrityError``: the work, run again, reads what the winner wrote) or SQLite's
    "database is locked" (a deferred transaction that cannot upgrade to a writer without
    reading afresh). Other errors, and the last attempt's, propagate.
    """
    for attempt in range(1, attempts + 1):
        try:
            with engine.begin() as connection:
                return work(connection)
        except (IntegrityError, OperationalError) as exc:
            lost = isinstance(exc, IntegrityError) or "locked" in str(exc.orig).lower()
            if not lost or attempt == attempts:
                raise
            time.sleep(random.uniform(0.005, 0.05) * attempt)
    raise AssertionError("unreachable")  # pragma: no cover
