"""The forecast job (``qingliu run forecast``; hourly in the scheduler) and its readers.

For every section and forecast parameter (:data:`sections.forecast.FORECAST_KEYS`) with enough
recent data, the job

1. reads the last :data:`LOOKBACK_DAYS` of automatic-station observations through the one
   loader (:func:`service.jobs.observations.load_observations`): a value that does not count
   (station fault, QC fail, rejected in review) never trains a model;
2. takes the target-class threshold of the day (:func:`sections.forecast.target_threshold`) and
   the series' running skill record: :func:`sections.forecast.skill_from_totals` of its verified
   forecasts of the last :data:`SKILL_DAYS` days (:func:`service.db.queries.forecast_skill`);
3. forecasts 4–72 h ahead with :func:`sections.forecast.forecast`, fanned out over processes or
   a Dask cluster (:func:`service.fanout.fan_out`; the database work stays here);
4. stores each issue: the ``forecast`` rows, the reason (``forecast_issue``) and every
   candidate's P(exceed) (``forecast_candidate``); issuing again from the same origin replaces
   the issue;
5. verifies: every candidate row whose target bin has passed gets its outcome — whether the
   observed 4-hourly grid value (:func:`sections.forecast.to_grid` of the valid observations)
   exceeded the issue's threshold.

A series with too little data, stale data or a failing fit is listed in the summary with the
reason; it never stops the others. The run is logged in ``job_run`` (``forecast``).
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pydantic import JsonValue
from sqlalchemy import Engine

from sections.forecast import (
    FORECAST_KEYS,
    QUANTILES,
    SKILL_DAYS,
    STEP_HOURS,
    Forecast,
    Threshold,
    forecast,
    skill_from_totals,
    target_threshold,
    to_grid,
)
from sections.forecast_analog import ANALOG_KEYS, analog_applies
from sections.forecast_upstream import carried_downstream
from sections.registry import Registry
from sections.scoring import brier_skill
from service.db import queries
from service.db.models import utc_now
from service.errors import BatchError
from service.fanout import fan_out
from service.jobs.observations import load_observations
from service.records import ForecastStep, ForecastThreshold, IssuedForecast, SkillEntry
from service.settings import Settings
from service.time import BEIJING

__all__ = [
    "FORECAST_FORMAT",
    "LOOKBACK_DAYS",
    "MAX_DATA_AGE",
    "MIN_VALID_DAYS",
    "SKILL_DAYS",
    "ForecastSummary",
    "SeriesNote",
    "SeriesTask",
    "forecast_series",
    "model_version",
    "run_forecasts",
    "section_forecasts",
    "skill_entries",
]

log = logging.getLogger("qingliu.forecast")

LOOKBACK_DAYS = 120
"""Days of observations read for a forecast (the training window is 56 days of them) [d]."""
MIN_VALID_DAYS = 14
"""A series needs valid values in this many days' worth of 4-hourly bins to be forecast [d] [A]."""
MAX_DATA_AGE = dt.timedelta(hours=48)
"""A series whose newest valid value is older than this is not forecast: its forecast would lie
mostly in the past [A]."""
FORECAST_FORMAT = "forecast/1"
"""Version of the stored forecast rows; part of :func:`model_version`."""
_STEP = dt.timedelta(hours=STEP_HOURS)
_REFERENCE = "persistence"  # the baseline the Brier skill is reported against
_CANDIDATE_RETENTION = dt.timedelta(days=SKILL_DAYS + 7)  # past every skill record: pruned
_LOG_EVERY = 10  # series between two progress lines in the log


def model_version() -> str:
    """What made a forecast: ``qingliu <version> forecast/1``."""
    try:
        version = importlib.metadata.version("qingliu")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - a source checkout
        version = "0+unknown"
    return f"qingliu {version} {FORECAST_FORMAT}"


# --------------------------------------------------------------------------- the fan-out task


@dataclass(frozen=True)
class SeriesTask:
    """One series to forecast, as sent to a worker process (everything pickles)."""

    section_id: str
    parameter: str
    values: pd.Series
    """Observations [unit of the parameter] on a zone-aware DatetimeIndex."""
    valid: pd.Series
    """Whether each value counts (the loader's ``counts``)."""
    threshold: Threshold | None
    skill: pd.DataFrame | None
    """The running skill record (rows: candidates, columns: horizons [h]), or None."""
    previous: dict[int, str] | None = None
    """The model of the previous issue per horizon [h]: kept unless the other contender wins."""
    upstream: pd.Series | None = None
    """The upstream section's observations of the same parameter (registry ``upstream``)."""
    upstream_valid: pd.Series | None = None
    """Whether each upstream value counts."""
    pool: tuple[tuple[pd.Series, Threshold], ...] | None = None
    """The other sections' valid values of the parameter on the 4-hourly grid with their
    thresholds: the ``analog`` candidate's library (:mod:`sections.forecast_analog`)."""


def forecast_series(task: SeriesTask) -> Forecast:
    """Forecast one series (the module-level function :func:`service.fanout.fan_out` runs)."""
    return forecast(
        task.values, threshold=task.threshold, valid=task.valid, skill=task.skill,
        previous_selection=task.previous, upstream=task.upstream,
        upstream_valid=task.upstream_valid, pool=task.pool,
    )  # fmt: skip


# --------------------------------------------------------------------------- the job


@dataclass(frozen=True)
class SeriesNote:
    """A series that was not forecast, and why."""

    section_id: str
    parameter: str
    reason: str


@dataclass(frozen=True)
class ForecastSummary:
    """What a forecast run did."""

    now: dt.datetime
    issued: tuple[str, ...]
    """``section/parameter`` of every series forecast."""
    skipped: tuple[SeriesNote, ...]
    """Series with observations but too few valid ones, or none recent enough."""
    failed: tuple[SeriesNote, ...]
    """Series whose forecast raised (the error as text)."""
    rows: int
    """``forecast`` rows written."""
    verified: int
    """Issue horizons whose candidates were verified in this run."""
    run_id: int

    def detail(self) -> dict[str, JsonValue]:
        """The run's ``job_run.detail``."""
        return {
            "now": self.now.isoformat(), "issued": len(self.issued), "rows": self.rows,
            "verified": self.verified,
            "skipped": {f"{n.section_id}/{n.parameter}": n.reason for n in self.skipped},
            "failed": {f"{n.section_id}/{n.parameter}": n.reason for n in self.failed},
        }  # fmt: skip

    def describe(self) -> str:
        """One line for the log and the CLI."""
        return (
            f"预报 {len(self.issued)} 个序列，跳过 {len(self.skipped)}，失败 {len(self.failed)}，"
            f"核验 {self.verified} / forecast {len(self.issued)} series, skipped "
            f"{len(self.skipped)}, failed {len(self.failed)}, verified {self.verified}"
        )


def run_forecasts(
    *,
    engine: Engine,
    registry: Registry,
    settings: Settings,
    now: dt.datetime,
    keys: Sequence[str] = FORECAST_KEYS,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ForecastSummary:
    """Forecast every section and parameter with enough data, store, and verify.

    Parameters
    ----------
    engine, registry, settings
        The database, the sections, and the settings (``QINGLIU_DASK_SCHEDULER`` sends the fits
        to a Dask cluster).
    now : datetime
        The moment of the run (zone-aware): observations after it are not read; it decides
        the threshold's day, the staleness of a series and which targets have passed.
    keys : sequence of str
        Parameter keys to forecast (default :data:`sections.forecast.FORECAST_KEYS`).
    workers : int, optional
        Processes of the local pool (``1``: in this process); see :func:`service.fanout.fan_out`.
    progress : callable, optional
        ``progress(done, total)`` after each series' fit.

    Returns
    -------
    ForecastSummary
    """
    if now.tzinfo is None:
        raise ValueError("now needs a time zone")
    now = now.astimezone(dt.UTC)
    run_id = queries.start_job_run(engine=engine, job="forecast", detail={"now": now.isoformat()})
    try:
        summary = _run(engine, registry, settings, now, tuple(keys), workers, progress, run_id)
    except Exception as exc:
        queries.finish_job_run(
            engine=engine, run_id=run_id, status="failed", detail={"error": repr(exc)}
        )
        raise
    queries.finish_job_run(engine=engine, run_id=run_id, status="ok", detail=summary.detail())
    log.info("预报完成 / forecasts done: %s", summary.describe())
    return summary


def _run(
    engine: Engine,
    registry: Registry,
    settings: Settings,
    now: dt.datetime,
    keys: tuple[str, ...],
    workers: int | None,
    progress: Callable[[int, int], None] | None,
    run_id: int,
) -> ForecastSummary:
    frame = _observations(engine, registry, now, keys)
    tasks, skipped = _tasks(engine, frame, registry, now, keys)
    log.info("预报 %d 个序列 / forecasting %d series", len(tasks), len(tasks))

    def report(done: int, total: int) -> None:
        if done == total or done % _LOG_EVERY == 0:
            log.info("预报进度 / forecast progress %d/%d", done, total)
        if progress is not None:
            progress(done, total)

    try:
        results: dict[int, object] = dict(enumerate(
            fan_out(forecast_series, tasks, settings=settings, workers=workers, progress=report)
        ))  # fmt: skip
        failures: dict[int, BaseException] = {}
    except BatchError as error:
        results, failures = error.results, error.failures
    failed = [
        SeriesNote(tasks[i].section_id, tasks[i].parameter, f"{type(e).__name__}: {e}")
        for i, e in sorted(failures.items())
    ]
    issued: list[tuple[SeriesTask, Forecast]] = []
    for i, result in sorted(results.items()):
        task = tasks[i]
        if not isinstance(result, Forecast):  # pragma: no cover - forecast_series returns one
            continue
        if result.frame[list(QUANTILES)].notna().all(axis=1).any():
            issued.append((task, result))
        else:
            reason = "；".join(("无可用预报 / no horizon could be forecast", *result.notes))
            failed.append(SeriesNote(task.section_id, task.parameter, reason))
    for note in failed:
        log.warning("预报失败 / forecast failed: %s/%s: %s", *vars(note).values())
    rows = _store(engine, issued)
    verified = _verify(engine, frame, now)
    queries.prune_forecast_candidates(engine=engine, before=now - _CANDIDATE_RETENTION)
    return ForecastSummary(
        now=now,
        issued=tuple(f"{t.section_id}/{t.parameter}" for t, _ in issued),
        skipped=tuple(skipped),
        failed=tuple(failed),
        rows=rows,
        verified=verified,
        run_id=run_id,
    )


def _observations(
    engine: Engine, registry: Registry, now: dt.datetime, keys: tuple[str, ...]
) -> pd.DataFrame:
    """The automatic observations of the look-back window up to ``now``, with their verdicts."""
    local = now.astimezone(BEIJING)
    first = (local - dt.timedelta(days=LOOKBACK_DAYS)).date()
    frame = load_observations(engine, registry, first, local.date(), kind="automatic", keys=keys)
    if frame.empty:
        return frame
    return frame[frame["observed_at"] <= pd.Timestamp(now)]


def _series(frame: pd.DataFrame) -> Iterable[tuple[tuple[str, str], pd.Series, pd.Series]]:
    """(section, parameter), values and validity of every series of the frame."""
    if frame.empty:
        return
    for group_key, group in frame.groupby(["section_id", "parameter"], sort=True):
        section_id, parameter = (str(part) for part in group_key)
        index = pd.DatetimeIndex(group["observed_at"])
        values = pd.Series(group["value"].to_numpy(dtype=np.float64), index=index)
        valid = pd.Series(group["counts"].to_numpy(dtype=bool), index=index)
        yield (section_id, parameter), values, valid


def _tasks(
    engine: Engine,
    frame: pd.DataFrame,
    registry: Registry,
    now: dt.datetime,
    keys: tuple[str, ...],
) -> tuple[list[SeriesTask], list[SeriesNote]]:
    """The series to forecast, in registry and key order, and those skipped with the reason."""
    found = {key: (values, valid) for key, values, valid in _series(frame)}
    grids = {key: to_grid(values, valid=valid) for key, (values, valid) in found.items()}
    records = _skill_records(engine, now)
    previous = _previous_selections(engine)
    day = now.astimezone(BEIJING).date()
    pools = _pools(grids, registry, day)
    tasks: list[SeriesTask] = []
    skipped: list[SeriesNote] = []
    for section in registry.sections:
        for key in keys:
            if (section.id, key) not in found:
                continue
            values, valid = found[(section.id, key)]
            grid = grids[(section.id, key)]
            bins = int(grid.notna().sum())
            if bins < MIN_VALID_DAYS * 24 // STEP_HOURS:
                reason = f"有效数据不足（{bins} 个 4 小时时段）/ too little valid data ({bins})"
                skipped.append(SeriesNote(section.id, key, reason))
                continue
            newest = pd.Timestamp(grid.dropna().index[-1]) + pd.Timedelta(_STEP)
            if newest < pd.Timestamp(now - MAX_DATA_AGE):
                stamp = f"{newest.tz_convert(BEIJING):%Y-%m-%d %H:%M}"
                reason = f"数据过旧（最新至 {stamp}）/ stale data (up to {stamp})"
                skipped.append(SeriesNote(section.id, key, reason))
                continue
            threshold = target_threshold(section, key, day)
            record = records.get((section.id, key))
            upstream_values, upstream_valid = (
                found.get((section.upstream or "", key), (None, None))
                if carried_downstream(key)
                else (None, None)
            )
            pool = (
                tuple((g, t) for other, g, t in pools.get(key, ()) if other != section.id)
                if analog_applies(key)
                else None
            )
            tasks.append(SeriesTask(
                section.id, key, values, valid, threshold, record, previous.get((section.id, key)),
                upstream_values, upstream_valid, pool,
            ))  # fmt: skip
    return tasks, skipped


def _pools(
    grids: Mapping[tuple[str, str], pd.Series],
    registry: Registry,
    day: dt.date,
) -> dict[str, list[tuple[str, pd.Series, Threshold]]]:
    """Per parameter of :data:`ANALOG_KEYS`, every section's valid grid with its threshold."""
    pools: dict[str, list[tuple[str, pd.Series, Threshold]]] = {}
    for section in registry.sections:
        for key in sorted(ANALOG_KEYS):
            grid = grids.get((section.id, key))
            threshold = target_threshold(section, key, day)
            if grid is None or threshold is None or not grid.notna().any():
                continue
            pools.setdefault(key, []).append((section.id, grid, threshold))
    return pools


def _previous_selections(engine: Engine) -> dict[tuple[str, str], dict[int, str]]:
    """The model of every series' latest issue per horizon [h]."""
    latest = queries.latest_forecasts(engine)
    return {
        (str(section_id), str(parameter)): {
            int(h): str(m) for h, m in zip(rows["horizon_h"], rows["model"], strict=True)
        }
        for (section_id, parameter), rows in latest.groupby(["section_id", "parameter"])
    }


def _skill_records(engine: Engine, now: dt.datetime) -> dict[tuple[str, str], pd.DataFrame]:
    """Every series' running skill record (rows: candidates, columns: horizons), from one
    aggregate over the verified forecasts of the last :data:`SKILL_DAYS` days; series whose
    record decides nothing yet are left out."""
    totals = queries.forecast_skill(
        engine=engine, since=now - dt.timedelta(days=SKILL_DAYS), until=now
    )
    records: dict[tuple[str, str], pd.DataFrame] = {}
    if totals.empty:
        return records
    for (section_id, parameter), rows in totals.groupby(["section_id", "parameter"]):
        table = skill_from_totals(rows.rename(columns={"horizon_h": "horizon"}))
        if not table.empty and not table.isna().all(axis=None):
            records[(str(section_id), str(parameter))] = table
    return records


def _utc(stamp: pd.Timestamp | dt.datetime) -> dt.datetime:
    moment: dt.datetime = pd.Timestamp(stamp).tz_convert("UTC").to_pydatetime()
    return moment.astimezone(dt.UTC)


def _float(value: object) -> float | None:
    """A frame's cell as a float, None for NULL or NaN."""
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]  # a number, as the column holds
    return None if math.isnan(number) else number


def _store(engine: Engine, issued: list[tuple[SeriesTask, Forecast]]) -> int:
    """Write the issues; returns the ``forecast`` rows written."""
    version = model_version()
    created = utc_now()
    forecasts: list[dict[str, object]] = []
    issues: list[dict[str, object]] = []
    candidates: list[dict[str, object]] = []
    for task, result in issued:
        origin = _utc(result.origin)
        key = {"section_id": task.section_id, "parameter": task.parameter, "issued_at": origin}
        threshold = task.threshold
        common = {
            **key, "selected": result.selected, "model_version": version,
            "threshold_lower": None if threshold is None else threshold.lower,
            "threshold_upper": None if threshold is None else threshold.upper,
            "data_start": _utc(result.data_start), "data_end": _utc(result.data_end),
            "created_at": created,
        }  # fmt: skip
        frame = result.frame.dropna(subset=list(QUANTILES))
        for horizon, row in zip(frame.index.tolist(), frame.to_dict("records"), strict=True):
            quantiles = {name: float(row[name]) for name in QUANTILES}
            forecasts.append({
                **common, "horizon_h": int(horizon), "target_at": _utc(row["time"]), **quantiles,
                "p_exceed": _float(row["p_exceed"]), "model": str(row["model"]),
            })  # fmt: skip
        issues.append({**key, "why": result.why, "notes": [*result.notes], "created_at": created})
        table = result.candidates  # P(exceed): rows horizons, columns candidates
        names = [str(name) for name in table.columns]
        for horizon, ps in zip(table.index.tolist(), table.to_numpy(np.float64).tolist(),
                               strict=True):  # fmt: skip
            target = origin + dt.timedelta(hours=int(horizon))
            candidates.extend(
                {**key, "horizon_h": int(horizon), "candidate": name, "target_at": target,
                 "p_exceed": p}
                for name, p in zip(names, ps, strict=True) if not math.isnan(p)
            )  # fmt: skip
    queries.store_forecasts(
        engine=engine, forecasts=forecasts, issues=issues, candidates=candidates
    )
    return len(forecasts)


def _verify(engine: Engine, frame: pd.DataFrame, now: dt.datetime) -> int:
    """Fill the outcome of every candidate whose target bin has passed and has a valid value."""
    pending = queries.unverified_forecasts(
        engine=engine, since=now - dt.timedelta(days=SKILL_DAYS), until=now - _STEP
    )
    if pending.empty:
        return 0
    grids = {key: to_grid(values, valid=valid) for key, values, valid in _series(frame)}
    outcomes: list[dict[str, object]] = []
    for group_key, rows in pending.groupby(["section_id", "parameter"]):
        grid = grids.get((str(group_key[0]), str(group_key[1])))
        if grid is None or grid.empty:
            continue
        observed = grid.reindex(pd.DatetimeIndex(rows["target_at"]).tz_convert(BEIJING))
        for row, value in zip(rows.to_dict("records"), observed.tolist(), strict=True):
            lower, upper = _float(row["threshold_lower"]), _float(row["threshold_upper"])
            if math.isnan(value) or (lower is None and upper is None):
                continue
            exceeded = Threshold(lower=lower, upper=upper).exceeds(np.array([value]))[0]
            outcomes.append({
                "section_id": row["section_id"], "parameter": row["parameter"],
                "issued_at": _utc(row["issued_at"]), "horizon_h": int(row["horizon_h"]),
                "outcome": int(exceeded),
            })  # fmt: skip
    return queries.record_outcomes(engine=engine, outcomes=outcomes, verified_at=utc_now())


# --------------------------------------------------------------------------- the readers


def section_forecasts(*, engine: Engine, section_id: str) -> list[IssuedForecast]:
    """The newest issue of each parameter of a section, in the order of the forecast keys."""
    frame = queries.latest_forecasts(engine, section_ids=[section_id])
    order = {key: i for i, key in enumerate(FORECAST_KEYS)}
    issues = [_issue(section_id, str(parameter), rows) for parameter, rows in
              frame.groupby("parameter", sort=False)]  # fmt: skip
    return sorted(issues, key=lambda issue: (order.get(issue.parameter, 99), issue.parameter))


def _issue(section_id: str, parameter: str, rows: pd.DataFrame) -> IssuedForecast:
    first = rows.iloc[0]
    lower, upper = _float(first["threshold_lower"]), _float(first["threshold_upper"])
    threshold = None
    if lower is not None or upper is not None:
        label = Threshold(lower=lower, upper=upper).label
        threshold = ForecastThreshold(lower=lower, upper=upper, label=label)
    return IssuedForecast(
        section=section_id, parameter=parameter,
        issued_at=_beijing(first["issued_at"]), created_at=_beijing(first["created_at"]),
        model_version=str(first["model_version"]), selected=str(first["selected"]),
        why=str(first["why"]), threshold=threshold,
        data_start=_beijing(first["data_start"]), data_end=_beijing(first["data_end"]),
        steps=tuple(_step(row) for row in rows.itertuples(index=False)),
    )  # fmt: skip


def _step(row: Any) -> ForecastStep:  # Any: a row of itertuples
    return ForecastStep(
        horizon_h=int(row.horizon_h), target_at=_beijing(row.target_at),
        median=float(row.median), lo80=float(row.lo80), hi80=float(row.hi80),
        lo95=float(row.lo95), hi95=float(row.hi95), p_exceed=_float(row.p_exceed),
        model=str(row.model),
    )  # fmt: skip


def _beijing(stamp: object) -> dt.datetime:
    moment: dt.datetime = pd.Timestamp(stamp).tz_convert(BEIJING).to_pydatetime()  # type: ignore[arg-type]
    return moment


def skill_entries(
    *,
    engine: Engine,
    now: dt.datetime,
    section_ids: Iterable[str] | None = None,
    parameters: Iterable[str] | None = None,
) -> list[SkillEntry]:
    """The running skill record as entries, with the Brier skill against persistence."""
    now = now.astimezone(dt.UTC)
    frame = queries.forecast_skill(
        engine=engine, since=now - dt.timedelta(days=SKILL_DAYS), until=now,
        section_ids=section_ids, parameters=parameters,
    )  # fmt: skip
    rows = frame.to_dict("records")
    reference = {
        (r["section_id"], r["parameter"], int(r["horizon_h"])): float(r["brier"])
        for r in rows
        if r["candidate"] == _REFERENCE
    }
    entries = []
    for row in rows:
        brier = float(row["brier"])
        base = reference.get((row["section_id"], row["parameter"], int(row["horizon_h"])), math.nan)
        skill = brier_skill(brier, base)
        entry = SkillEntry(
            section=str(row["section_id"]), parameter=str(row["parameter"]),
            horizon_h=int(row["horizon_h"]), candidate=str(row["candidate"]), n=int(row["n"]),
            events=int(row["events"]), brier=brier,
            brier_skill=None if math.isnan(skill) else skill,
        )  # fmt: skip
        entries.append(entry)
    return entries
