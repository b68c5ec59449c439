"""The compensation outlook of a month from the database: a forecast, never a statement.

:func:`compensation_outlook` gathers what :func:`compensation.outlook.monthly_outlook` needs:

- the month-to-date measurements exactly as the draft statement reads them
  (:func:`service.statements.source.measurements_from_db`: laboratory results, month statuses,
  automatic daily values through the one validity rule);
- the recent automatic daily values before the month, for the history model, through the same
  loader and period values (:func:`service.jobs.observations.load_observations`,
  :func:`~service.jobs.observations.valid_period_values`);
- today's 4-hourly bins already observed (valid values on the forecasts' 4-hourly Beijing grid,
  :func:`sections.forecast.to_grid`), given to the outlook as bins of certain value
  (:data:`compensation.outlook.OBSERVED`) so that today's value joins them to the forecast;
- the newest stored 4-hourly forecasts (:func:`service.db.queries.latest_forecasts`); with none
  stored, the outlook runs from the month to date and the history alone and says so.

Computing it runs the statement engine once per scenario (a few seconds for 500), so
:class:`OutlookCache` keeps the newest outlook of each month until the data, the forecasts or
the day change.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Hashable
from dataclasses import replace
from typing import cast

import pandas as pd
from sqlalchemy import Engine, func, select

from compensation.outlook import OBSERVED, BinForecast, Outlook, OutlookOptions, monthly_outlook
from compensation.rules import FACTORS, RuleSet, rule_set_for
from sections.dates import month_last_day
from sections.forecast import to_grid
from sections.registry import Registry
from sections.validity import default_policy
from service.db import queries
from service.db.models import ForecastResult, Observation, SectionStatus, table_of
from service.errors import InputError
from service.jobs.observations import day_bounds, load_observations, valid_period_values
from service.statements.source import measurements_from_db
from service.time import BEIJING

__all__ = ["OutlookCache", "app_outlook_cache", "compensation_outlook", "outlook_fingerprint"]

SeriesKey = tuple[str, str]


def _check_month(first: dt.date, today: dt.date) -> None:
    if month_last_day(first) < today:
        raise InputError(
            f"{first:%Y-%m} 已结束，预测只适用于当月及以后；请查看该月通报 / the month is over: "
            "see its statement"
        )


def compensation_outlook(
    *,
    engine: Engine,
    registry: Registry,
    month: dt.date,
    now: dt.datetime,
    rule_set: RuleSet | None = None,
    options: OutlookOptions | None = None,
) -> Outlook:
    """The compensation outlook of ``month`` as of ``now``.

    Parameters
    ----------
    engine : Engine
    registry : Registry
    month : date
        Any day of the month: the current month or a later one.
    now : datetime
        The moment of the outlook (zone-aware); its Beijing day is the first day simulated.
    rule_set : RuleSet, optional
        Default: the rule set in force for the month.
    options : OutlookOptions, optional

    Raises
    ------
    InputError
        When the month ended before today (its statement says what is due).
    """
    today = now.astimezone(BEIJING).date()
    first = month.replace(day=1)
    _check_month(first, today)
    rules = rule_set or rule_set_for(first)
    options = options or OutlookOptions()
    measurements = [  # nothing dated after today is known yet (a replay of a past day)
        m for m in measurements_from_db(engine=engine, registry=registry, month=first,
                                        rule_set=rules)
        if m.date <= today or m.value is None
    ]  # fmt: skip
    lead = max(rules.events.min_days - 1, 0) if rules.events.enabled else 0
    history = _daily_history(
        engine, registry,
        today - dt.timedelta(days=options.history_days),
        min(today, first - dt.timedelta(days=lead)) - dt.timedelta(days=1),
    )  # fmt: skip
    observed = _observed_bins(engine, registry, now)
    forecasts = _forecast_bins(engine, registry, today, observed)
    outlook = monthly_outlook(
        measurements, month=first, simulate_from=today, registry=registry, rule_set=rules,
        history=history, forecasts=[*observed, *forecasts], options=options,
    )  # fmt: skip
    extra = tuple(a for a in default_policy().assumptions if a not in outlook.rule_assumptions)
    notes = outlook.basis.notes
    if not forecasts:
        notes = (*notes, "数据库中没有当前有效的水质预报（预报任务未运行或已过时）")
    return replace(
        outlook,
        rule_assumptions=outlook.rule_assumptions + extra,
        basis=replace(outlook.basis, notes=notes),
    )


def _daily_history(
    engine: Engine, registry: Registry, first: dt.date, last: dt.date
) -> dict[SeriesKey, pd.Series]:
    """Valid automatic daily values of ``first``..``last`` per (section, factor) [mg/L]."""
    if last < first:
        return {}
    frame = load_observations(engine, registry, first, last, kind="automatic", keys=FACTORS)
    if frame.empty:
        return {}
    daily = valid_period_values(frame, period="day")
    if daily is None:
        return {}
    found: dict[SeriesKey, dict[dt.date, float]] = {}
    stacked = daily.values.stack().dropna()
    for key, value in zip(stacked.index, stacked.to_numpy(dtype="float64"), strict=True):
        section, start, factor = cast(tuple[str, pd.Timestamp, str], key)  # (group, start, key)
        found.setdefault((str(section), str(factor)), {})[start.date()] = float(value)
    return {
        k: pd.Series([v[d] for d in sorted(v)], index=pd.Index(sorted(v), dtype=object))
        for k, v in found.items()
    }


def _observed_bins(engine: Engine, registry: Registry, now: dt.datetime) -> list[BinForecast]:
    """Today's 4-hourly bins of valid values up to ``now``, as bins of certain value."""
    today = now.astimezone(BEIJING).date()
    frame = load_observations(engine, registry, today, today, kind="automatic", keys=FACTORS)
    if not frame.empty:
        frame = frame[frame["observed_at"] <= now]
    if frame.empty:
        return []
    bins: list[BinForecast] = []
    for key, rows in frame.groupby(["section_id", "parameter"]):
        section, factor = cast(tuple[str, str], key)
        values = pd.Series(rows["value"].to_numpy(dtype="float64"),
                           index=pd.DatetimeIndex(rows["observed_at"]))  # fmt: skip
        valid = pd.Series(rows["counts"].to_numpy(dtype=bool), index=values.index)
        grid = to_grid(values, valid=valid).dropna()
        for at, value in zip(pd.DatetimeIndex(grid.index), grid.to_numpy(), strict=True):
            v = float(value)
            bins.append(BinForecast(str(section), str(factor), at.to_pydatetime(),
                                    v, v, v, v, v, model=OBSERVED))  # fmt: skip
    return bins


def _forecast_bins(
    engine: Engine, registry: Registry, today: dt.date, observed: list[BinForecast]
) -> list[BinForecast]:
    """The newest stored forecasts of today and later, except bins already observed."""
    frame = queries.latest_forecasts(
        engine, section_ids=[s.id for s in registry.sections], parameters=FACTORS
    )
    if frame.empty:
        return []
    seen = {(b.section, b.factor, b.target_at) for b in observed}
    bins: list[BinForecast] = []
    for row in frame.to_dict("records"):
        target = pd.Timestamp(row["target_at"]).tz_convert(BEIJING).to_pydatetime()
        if target.date() < today or (row["section_id"], row["parameter"], target) in seen:
            continue
        p_exceed = None if pd.isna(row["p_exceed"]) else float(row["p_exceed"])
        bins.append(
            BinForecast(
                str(row["section_id"]), str(row["parameter"]), target,
                lo95=float(row["lo95"]), lo80=float(row["lo80"]), median=float(row["median"]),
                hi80=float(row["hi80"]), hi95=float(row["hi95"]), p_exceed=p_exceed,
                issued_at=pd.Timestamp(row["issued_at"]).to_pydatetime(),
                model=str(row["model"]),
            )
        )  # fmt: skip
    return bins


# --- the cache ---------------------------------------------------------------------------------


def outlook_fingerprint(
    *, engine: Engine, month: dt.date, now: dt.datetime, history_days: int | None = None
) -> Hashable:
    """What an outlook of ``month`` depends on: the day, the data and the newest forecast.

    The Beijing day; over the observations of the window the outlook reads (``history_days``
    before today to the month's end) their count, newest id, receipt and review and their QC
    flags; the month statuses; the count and newest issue of the stored forecasts. A new,
    re-delivered, re-flagged or reviewed value, a status or a forecast changes it.
    """
    today = now.astimezone(BEIJING).date()
    days = OutlookOptions().history_days if history_days is None else history_days
    first = month.replace(day=1)
    start, end = day_bounds(min(today, first) - dt.timedelta(days=days + 1), month_last_day(first))
    observation = table_of(Observation)
    forecast = table_of(ForecastResult)
    statuses = table_of(SectionStatus)
    c = observation.c
    with engine.connect() as connection:
        seen = connection.execute(
            select(func.count(), func.max(c.id), func.max(c.received_at), func.max(c.reviewed_at),
                   func.count(c.qc_flag), func.sum(c.qc_flag))
            .where(c.observed_at >= start, c.observed_at < end)
        ).one()  # fmt: skip
        issued = connection.execute(
            select(func.count(), func.max(forecast.c.issued_at), func.max(forecast.c.created_at))
        ).one()
        status = connection.execute(
            select(func.count(), func.max(statuses.c.id)).where(statuses.c.month == first)
        ).one()
    return (first, today, tuple(seen), tuple(issued), tuple(status))


class OutlookCache:
    """The newest outlook of each month, kept while its :func:`outlook_fingerprint` holds.

    One per app (:func:`app_outlook_cache`); thread-safe: a second request for the same month
    waits for the first computation instead of repeating it.
    """

    def __init__(self, *, months: int = 4) -> None:
        self._months = months
        self._found: dict[dt.date, tuple[Hashable, Outlook, dt.datetime]] = {}
        self._lock = threading.Lock()  # guards the two dicts
        self._month_locks: dict[dt.date, threading.Lock] = {}  # one computation per month

    def get(
        self,
        *,
        engine: Engine,
        registry: Registry,
        month: dt.date,
        now: dt.datetime,
        options: OutlookOptions | None = None,
    ) -> Outlook:
        """The cached outlook, or a new one (:func:`compensation_outlook`)."""
        first = month.replace(day=1)
        _check_month(first, now.astimezone(BEIJING).date())
        days = None if options is None else options.history_days
        key = (outlook_fingerprint(engine=engine, month=first, now=now, history_days=days), options)
        with self._lock:
            month_lock = self._month_locks.setdefault(first, threading.Lock())
        with month_lock:
            with self._lock:
                found = self._found.get(first)
            if found is not None and found[0] == key:
                return found[1]
            outlook = compensation_outlook(
                engine=engine, registry=registry, month=first, now=now, options=options
            )
            with self._lock:
                self._found.pop(first, None)
                while len(self._found) >= self._months:
                    self._found.pop(next(iter(self._found)))
                self._found[first] = (key, outlook, now)
            return outlook

    def computed_at(self, outlook: Outlook) -> dt.datetime | None:
        """When a cached outlook was computed (None when it is not in the cache)."""
        with self._lock:
            for _, found, at in self._found.values():
                if found is outlook:
                    return at
        return None


def app_outlook_cache(state: object) -> OutlookCache:
    """The app's cache (``app.state.outlook_cache``), made on first use."""
    cache = getattr(state, "outlook_cache", None)
    if not isinstance(cache, OutlookCache):
        cache = OutlookCache()
        setattr(state, "outlook_cache", cache)  # noqa: B010 - Starlette's State takes attributes
    return cache
