"""What the alert rules read from the database: one gathering of their inputs per pass.

The frames :func:`sections.alert_evaluation.evaluate` takes, built from the stored observations
(validity verdicts applied), the daily roll-up rule, the latest forecasts, the monthly classes,
this month's compensation events and the stations' last values.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select

from sections.forecast import to_grid
from sections.registry import Registry
from service.db import queries
from service.db.models import MonthlyResult, Observation, Station, table_of
from service.jobs.observations import load_observations, valid_period_values
from service.time import BEIJING

log = logging.getLogger("service.alerts.inputs")

__all__ = [
    "DAILY_DAYS",
    "FLAT_READINGS",
    "FORECAST_MAX_AGE",
    "STATION_LOOKBACK",
    "VALUE_DAYS",
    "AlertInputs",
    "gather_inputs",
    "watched_stations",
]

VALUE_DAYS = 3
"""Days of 4-hourly values read: runs of values need their history [A]."""
DAILY_DAYS = 5
"""Complete days of daily means read before today: a run of 3 exceeding days and more [A]."""
FORECAST_MAX_AGE = dt.timedelta(hours=6)
"""A stored forecast issue older than this is not evaluated (the hourly job issues anew) [A]."""
STATION_LOOKBACK = dt.timedelta(days=30)
"""Sections with automatic observations this far back are watched for silence (besides the
sections of active stations)."""
FLAT_READINGS = 12
"""Readings per section and parameter looked at for a flat line (the rule needs 6 in a row)."""
OBSERVATION = table_of(Observation)
STATION = table_of(Station)
MONTHLY = table_of(MonthlyResult)
_READING_COLUMNS = ["section_id", "parameter", "time", "value"]
_DAILY_COLUMNS = ["section_id", "parameter", "date", "value"]
_MONTH_COLUMNS = ["section_id", "month", "class"]
_EVENT_COLUMNS = ["section_id", "factor", "start", "end", "days", "charged_on"]


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class AlertInputs:
    """What the rules read, in the shapes of :func:`sections.alert_evaluation.evaluate`."""

    now: dt.datetime
    values: pd.DataFrame
    """4-hourly grid: index bin starts (Beijing), columns (section_id, parameter)."""
    daily: pd.DataFrame
    """section_id, parameter, date, value."""
    forecasts: pd.DataFrame
    """The newest issue's rows ahead of now (columns of ``latest_forecasts``)."""
    current: pd.DataFrame
    """section_id, month, class: the newest stored month."""
    last_year: pd.DataFrame
    """section_id, month, class: the same month a year earlier."""
    events: pd.DataFrame
    """section_id, factor, start, end, days, charged_on: this month's compensation events."""
    last_seen: pd.Series
    """Last valid value per watched section (NaT: none in the window)."""
    readings: pd.DataFrame
    """section_id, parameter, time, value: the last readings per series."""


def gather_inputs(*, engine: Engine, registry: Registry, now: dt.datetime) -> AlertInputs:
    """Read everything the alert rules look at as of ``now`` (aware); see the module docstring."""
    if now.tzinfo is None:
        raise ValueError("now must be tz-aware")
    local = now.astimezone(BEIJING)
    today = local.date()
    first = today - dt.timedelta(days=max(VALUE_DAYS, DAILY_DAYS))
    frame = load_observations(engine, registry, first, today, kind="automatic")
    if not frame.empty:
        frame = frame[frame["observed_at"] <= pd.Timestamp(now)]
    return AlertInputs(
        now=now,
        values=_values(frame, local - dt.timedelta(days=VALUE_DAYS)),
        daily=_daily(frame, today),
        forecasts=_forecasts(engine, now),
        **_months(engine, registry, today),
        events=_events(engine, registry, today),
        last_seen=_last_seen(engine, registry, frame, now),
        readings=_readings(frame),
    )


def _values(frame: pd.DataFrame, since: dt.datetime) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame()
    rows = frame[frame["observed_at"] >= pd.Timestamp(since)]
    columns: dict[tuple[str, str], pd.Series] = {}
    for (section_id, key), group in rows.groupby(["section_id", "parameter"], sort=True):
        index = pd.DatetimeIndex(group["observed_at"])
        values = pd.Series(group["value"].to_numpy(dtype=np.float64), index=index)
        valid = pd.Series(group["counts"].to_numpy(dtype=bool), index=index)
        grid = to_grid(values, valid=valid)
        if grid.notna().any():
            columns[(str(section_id), str(key))] = grid
    if not columns:
        return pd.DataFrame()
    wide = pd.concat(columns, axis=1).sort_index()
    wide.columns = pd.MultiIndex.from_tuples(list(columns), names=["section_id", "parameter"])
    return wide


def _daily(frame: pd.DataFrame, today: dt.date) -> pd.DataFrame:
    empty = pd.DataFrame(columns=_DAILY_COLUMNS)
    if frame.empty:
        return empty
    complete = frame[frame["day"] < today]
    if complete.empty:
        return empty
    found = valid_period_values(complete, period="day")
    if found is None:
        return empty
    stacked = found.values.rename_axis(index=["section_id", "date"], columns="parameter").stack()
    long = pd.DataFrame({"value": stacked.dropna()}).reset_index()
    long["date"] = pd.to_datetime(long["date"]).dt.date
    return long[_DAILY_COLUMNS].reset_index(drop=True)


def _forecasts(engine: Engine, now: dt.datetime) -> pd.DataFrame:
    rows = queries.latest_forecasts(engine)
    if rows.empty:
        return rows
    moment = pd.Timestamp(now).tz_convert("UTC")
    keep = (rows["issued_at"] >= moment - pd.Timedelta(FORECAST_MAX_AGE)) & (
        rows["target_at"] > moment
    )
    return rows.loc[keep].reset_index(drop=True)


def _months(engine: Engine, registry: Registry, today: dt.date) -> dict[str, pd.DataFrame]:
    this_month = today.replace(day=1)
    last_month = (this_month - dt.timedelta(days=1)).replace(day=1)
    ids = [s.id for s in registry.sections]
    query = select(MONTHLY.c.section_id, MONTHLY.c.month, MONTHLY.c.class_number).where(
        MONTHLY.c.month.in_([this_month, last_month]), MONTHLY.c.section_id.in_(ids)
    )
    with engine.connect() as connection:
        recent = queries.read_frame(connection, query)
    empty = pd.DataFrame(columns=_MONTH_COLUMNS)
    if recent.empty:
        return {"current": empty, "last_year": empty}
    newest = max(pd.Timestamp(m).date() for m in recent["month"])
    before = newest.replace(year=newest.year - 1)
    with engine.connect() as connection:
        old = queries.read_frame(
            connection,
            select(MONTHLY.c.section_id, MONTHLY.c.month, MONTHLY.c.class_number).where(
                MONTHLY.c.month == before, MONTHLY.c.section_id.in_(ids)
            ),
        )
    current = recent[[pd.Timestamp(m).date() == newest for m in recent["month"]]]

    def shaped(rows: pd.DataFrame) -> pd.DataFrame:
        rows = rows.dropna(subset=["class_number"])
        return pd.DataFrame(
            {"section_id": rows["section_id"].astype(str).to_numpy(),
             "month": [pd.Timestamp(m).date() for m in rows["month"]],
             "class": rows["class_number"].astype("int64").to_numpy()}
        )  # fmt: skip

    return {
        "current": shaped(current) if not current.empty else empty,
        "last_year": shaped(old) if not old.empty else empty,
    }


def _events(engine: Engine, registry: Registry, today: dt.date) -> pd.DataFrame:
    from compensation.engine import Measurement, section_events
    from compensation.errors import CompensationError
    from compensation.rules import FACTORS, rule_set_for
    from service.statements.source import measurements_from_db

    empty = pd.DataFrame(columns=_EVENT_COLUMNS)
    month = today.replace(day=1)
    try:
        rule_set = rule_set_for(month)
    except CompensationError as exc:  # no rule set in force: no events to speak of
        log.info("本月无补偿规则 / no rule set for %s: %s", month, exc)
        return empty
    if not rule_set.events.enabled:
        return empty
    measurements = measurements_from_db(
        engine=engine, registry=registry, month=month, rule_set=rule_set
    )
    by_key: dict[tuple[str, str], list[Measurement]] = {}
    for m in measurements:
        by_key.setdefault((m.section, m.factor), []).append(m)

    def rows_of(section_id: str) -> dict[str, list[Measurement]]:
        return {f: by_key.get((section_id, f), []) for f in FACTORS}

    lines = []
    for section in registry.sections:
        if not any((section.id, f) in by_key for f in FACTORS):
            continue
        upstream = registry.section(section.upstream) if section.upstream is not None else None
        lines += section_events(
            section, rows_of(section.id), month=month, rule_set=rule_set, upstream=upstream,
            upstream_rows=rows_of(upstream.id) if upstream is not None else None,
        )  # fmt: skip
    if not lines:
        return empty
    return pd.DataFrame(
        [(e.section, e.factor, e.start, e.end, e.days, e.charged_on) for e in lines],
        columns=_EVENT_COLUMNS,
    )


def watched_stations(
    engine: Engine, registry: Registry, now: dt.datetime
) -> dict[str, dt.datetime | None]:
    """Sections watched for silence, with the time of their last observation of any kind."""
    ids = {s.id for s in registry.sections}
    since = now - STATION_LOOKBACK
    with engine.connect() as connection:
        stations = connection.execute(
            select(STATION.c.section_id).where(STATION.c.active.is_(True))
        ).scalars().all()  # fmt: skip
        newest = connection.execute(
            select(OBSERVATION.c.section_id, func.max(OBSERVATION.c.observed_at))
            .where(OBSERVATION.c.observed_at >= since, OBSERVATION.c.sample_kind.is_(None))
            .group_by(OBSERVATION.c.section_id)
        ).all()
    found: dict[str, dt.datetime | None] = {s: None for s in stations if s in ids}
    for section_id, at in newest:
        if section_id in ids and at is not None:
            found[str(section_id)] = at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at
    return found


def _last_seen(
    engine: Engine, registry: Registry, frame: pd.DataFrame, now: dt.datetime
) -> pd.Series:
    watched = sorted(watched_stations(engine, registry, now))
    seen = pd.Series(pd.NaT, index=pd.Index(watched, dtype=object), dtype="datetime64[ns, UTC]")
    if frame.empty or not watched:
        return seen
    valid = frame[frame["counts"]]
    newest = valid.groupby("section_id")["observed_at"].max()
    known = newest[newest.index.isin(seen.index)]
    seen.loc[known.index] = pd.DatetimeIndex(known.to_numpy()).tz_convert("UTC")
    return seen


def _readings(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame(columns=_READING_COLUMNS)
    rows = frame.dropna(subset=["reading"]).sort_values("observed_at", kind="stable")
    last = rows.groupby(["section_id", "parameter"], sort=False).tail(FLAT_READINGS)
    return pd.DataFrame(
        {"section_id": last["section_id"].astype(str).to_numpy(),
         "parameter": last["parameter"].astype(str).to_numpy(),
         "time": last["observed_at"].to_numpy(), "value": last["reading"].to_numpy(np.float64)}
    ).assign(time=lambda f: pd.DatetimeIndex(last["observed_at"]))  # fmt: skip
