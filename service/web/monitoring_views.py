"""Monitoring pages: the daily overview (每日水质), the monthly bulletin (水质月报), and the
forecast panels of the section page (水质预报, :func:`forecast_panels`)."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import Engine

from sections.classes import WaterClass
from sections.forecast import to_grid
from sections.parameters import parameter
from sections.registry import Registry, Section
from service.api.deps import EngineDep, LetterheadDep, RegistryDep, request_day, request_month
from service.bulletins import MonthNotRolledUp, bulletin_context, render_bulletin_html
from service.db import results
from service.errors import InputError, NotFoundError
from service.jobs.forecast import section_forecasts
from service.jobs.observations import load_observations
from service.records import DayRecord, IssuedForecast
from service.time import beijing_today
from service.web.contexts import (
    LEVEL_ZH,
    BulletinPageContext,
    ChartLine,
    ChartPoint,
    ChartTick,
    ClassCount,
    DailyPageContext,
    DailyRow,
    ExceedanceChance,
    ForecastChart,
    ForecastPanel,
    percent_text,
    pollutant_names,
)
from service.web.views import render

__all__ = ["forecast_chart", "forecast_panels", "router"]

router = APIRouter(include_in_schema=False)

BULLETIN_FORMATS = (("pdf", "PDF"), ("html", "HTML"))


def _daily_row(section: Section, record: DayRecord | None, day: dt.date) -> DailyRow:
    completeness: float | None
    if record is None:
        klass, meets, completeness, note = None, None, None, "无结果"
        target = section.target_class(day)
    else:
        klass = record.water_class
        meets = record.meets_target
        completeness = record.completeness
        number = record.target_class_number
        target = section.target_class(day) if number is None else WaterClass(number)
        missing = "、".join(pollutant_names(record.insufficient))
        note = "" if klass is not None else "数据不足" + (f"（{missing}）" if missing else "")
    return DailyRow(
        id=section.id,
        name=section.name,
        confirmed=section.confirmed,
        river=section.river,
        level=LEVEL_ZH[section.level],
        klass=klass,
        target=target,
        meets_target=meets,
        main_pollutants=() if record is None else pollutant_names(record.main_pollutants),
        completeness=completeness,
        completeness_text=percent_text(completeness),
        note=note,
    )


def daily_context(*, engine: Engine, registry: Registry, day: dt.date) -> DailyPageContext:
    """The daily overview of one day (every section in registry order)."""
    records = results.daily_results_on(engine=engine, day=day)
    rows = tuple(_daily_row(s, records.get(s.id), day) for s in registry.sections)
    previous_day, next_day = results.daily_neighbours(engine=engine, day=day)
    classes = [r.klass for r in rows if r.klass is not None]
    return DailyPageContext(
        title=f"{day:%Y-%m-%d} 每日水质",
        day=day,
        has_results=bool(records),
        rows=rows,
        class_counts=tuple(ClassCount(k, classes.count(k)) for k in WaterClass),
        classified=len(classes),
        insufficient=len(rows) - len(classes),
        meets_target=sum(r.meets_target is True for r in rows),
        previous_day=previous_day,
        next_day=next_day,
        run_command=f"qingliu run daily --date {day.isoformat()}",
    )


@router.get("/daily", response_class=HTMLResponse)
def daily_page(engine: EngineDep, registry: RegistryDep, date: str | None = None) -> HTMLResponse:
    """每日水质：某日全部断面的类别（缺省为最新有结果的日期）。"""
    if date is None:
        day = results.newest_daily_day(engine=engine) or beijing_today()
    else:
        try:
            day = request_day(date)
        except ValueError as exc:
            raise InputError(str(exc)) from None
    return render("daily.html", daily_context(engine=engine, registry=registry, day=day))


@router.get("/bulletins")
def bulletins_index(engine: EngineDep) -> RedirectResponse:
    """The newest rolled-up month's bulletin."""
    months = results.rolled_up_months(engine=engine)
    if not months:
        detail = "尚无月度汇总，无法生成水质月报（运行 qingliu run monthly --month YYYY-MM）"
        raise NotFoundError(detail)
    return RedirectResponse(f"/bulletins/{months[0]:%Y-%m}", status_code=307)


@router.get("/bulletins/{month}", response_class=HTMLResponse)
def bulletin_page(
    month: str, engine: EngineDep, registry: RegistryDep, head: LetterheadDep
) -> HTMLResponse:
    """水质月报（网页）。"""
    try:
        first = request_month(month)
    except InputError as exc:
        raise NotFoundError(str(exc)) from None
    try:
        bulletin = bulletin_context(engine, registry, first, head=head)
    except MonthNotRolledUp as exc:
        raise NotFoundError(str(exc)) from None
    context = BulletinPageContext(
        title=bulletin.title,
        month=bulletin.month,
        months=tuple(f"{m:%Y-%m}" for m in results.rolled_up_months(engine=engine)),
        downloads=tuple(
            (label, f"/api/bulletins/{bulletin.month}.{fmt}") for fmt, label in BULLETIN_FORMATS
        ),
        bulletin_html=render_bulletin_html(bulletin, standalone=False),
    )
    return render("bulletins/page.html", context)


# --- the section page's forecasts ----------------------------------------------------------------

FORECAST_CHART_DAYS = 7
"""Days of observations drawn before a forecast's origin."""
CHANCE_HOURS = (24, 48, 72)
"""Horizons whose probability of exceedance the section page shows [h]."""
HIGH_CHANCE = 0.5
"""A probability at or above this is shown prominently (a warning hint, not an alert) [A]."""
CHART_SIZE = (640, 240)
"""Width and height of a forecast chart (SVG user units)."""
_MARGIN = (52.0, 14.0, 12.0, 26.0)  # left, top, right, bottom


def forecast_panels(
    *, engine: Engine, registry: Registry, section: Section, now: dt.datetime
) -> tuple[ForecastPanel, ...]:
    """The newest forecast of each parameter of a section, with its chart (empty before any)."""
    issues = section_forecasts(engine=engine, section_id=section.id)
    if not issues:
        return ()
    grids = _recent_grids(engine, registry, section, issues)
    return tuple(_panel(issue, grids.get(issue.parameter), now) for issue in issues)


def _recent_grids(
    engine: Engine, registry: Registry, section: Section, issues: list[IssuedForecast]
) -> dict[str, pd.Series]:
    """The 4-hourly grid of valid values per parameter over the charts' time ranges."""
    first = min(i.issued_at for i in issues) - dt.timedelta(days=FORECAST_CHART_DAYS)
    last = max(i.issued_at + dt.timedelta(hours=max(CHANCE_HOURS)) for i in issues)
    one = Registry(units=registry.units, sections=(section,), source=registry.source)
    keys = tuple(i.parameter for i in issues)
    frame = load_observations(engine, one, first.date(), last.date(), keys=keys)
    grids: dict[str, pd.Series] = {}
    if frame.empty:
        return grids
    for key, rows in frame.groupby("parameter"):
        index = pd.DatetimeIndex(rows["observed_at"])
        values = pd.Series(rows["value"].to_numpy(dtype=np.float64), index=index)
        valid = pd.Series(rows["counts"].to_numpy(dtype=bool), index=index)
        grids[str(key)] = to_grid(values, valid=valid)
    return grids


def _panel(issue: IssuedForecast, grid: pd.Series | None, now: dt.datetime) -> ForecastPanel:
    info = parameter(issue.parameter)
    unit = "" if info.unit == "dimensionless" else info.unit
    by_horizon = {step.horizon_h: step for step in issue.steps}
    chances = []
    for hours in CHANCE_HOURS:
        step = by_horizon.get(hours)
        if step is None:
            continue
        p = step.p_exceed
        text = "—" if p is None else percent_text(p)
        chances.append(ExceedanceChance(hours, step.target_at, p, text, p is not None and
                                        p >= HIGH_CHANCE))  # fmt: skip
    threshold = issue.threshold
    label = "" if threshold is None else f"{threshold.label} {unit}".strip()
    last_target = max((s.target_at for s in issue.steps), default=issue.issued_at)
    return ForecastPanel(
        parameter=issue.parameter, name_zh=info.name_zh, unit=unit,
        issued_at=issue.issued_at, created_at=issue.created_at,
        data_start=issue.data_start, data_end=issue.data_end, threshold_label=label,
        chances=tuple(chances), selected=issue.selected,
        models=tuple(dict.fromkeys(s.model for s in issue.steps)), why=issue.why,
        model_version=issue.model_version, stale=last_target < now,
        chart=forecast_chart(issue, grid, name=info.name_zh, unit=unit),
    )  # fmt: skip


def forecast_chart(
    issue: IssuedForecast, grid: pd.Series | None, *, name: str, unit: str
) -> ForecastChart:
    """The SVG geometry of one forecast: observations before (and after) the origin, the
    median, the 80 % and 95 % bands and the target-class limits."""
    width, height = CHART_SIZE
    left, top = _MARGIN[0], _MARGIN[1]
    right, bottom = width - _MARGIN[2], height - _MARGIN[3]
    start = issue.issued_at - dt.timedelta(days=FORECAST_CHART_DAYS)
    end = issue.issued_at + dt.timedelta(hours=max(s.horizon_h for s in issue.steps))
    observed = _observed(grid, start, end)
    limits = [v for v in (issue.threshold.lower, issue.threshold.upper) if v is not None] if (
        issue.threshold is not None) else []  # fmt: skip
    values = [*observed.tolist(), *limits, *(s.lo95 for s in issue.steps),
              *(s.hi95 for s in issue.steps)]  # fmt: skip
    low, high = _padded(min(values), max(values))
    span = (end - start).total_seconds()

    def x(moment: dt.datetime) -> float:
        return round(left + (moment - start).total_seconds() / span * (right - left), 1)

    def y(value: float) -> float:
        return round(bottom - (value - low) / (high - low) * (bottom - top), 1)

    def points(pairs: list[tuple[dt.datetime, float]]) -> str:
        return " ".join(f"{x(t)},{y(v)}" for t, v in pairs)

    steps = issue.steps
    runs: list[list[tuple[dt.datetime, float]]] = [[]]
    dots = []
    for stamp, value in observed.items():
        if np.isnan(value):
            runs.append([])
            continue
        moment = pd.Timestamp(stamp).to_pydatetime()  # type: ignore[arg-type]
        runs[-1].append((moment, float(value)))
        dots.append(ChartPoint(x(moment), y(float(value)), f"{moment:%m-%d %H:%M} {value:.4g}"))
    upper95 = [(s.target_at, s.hi95) for s in steps]
    lower95 = [(s.target_at, s.lo95) for s in reversed(steps)]
    upper80 = [(s.target_at, s.hi80) for s in steps]
    lower80 = [(s.target_at, s.lo80) for s in reversed(steps)]
    day = start.replace(hour=0, minute=0, second=0, microsecond=0) + dt.timedelta(days=1)
    x_ticks = []
    while day <= end:
        x_ticks.append(ChartTick(x(day), f"{day:%m-%d}"))
        day += dt.timedelta(days=1)
    unit_text = f" {unit}" if unit else ""
    lines = []
    if issue.threshold is not None:
        if issue.threshold.lower is not None:
            lines.append(ChartLine(y(issue.threshold.lower), f"下限 {issue.threshold.lower:g}"))
        if issue.threshold.upper is not None:
            lines.append(ChartLine(y(issue.threshold.upper), f"限值 {issue.threshold.upper:g}"))
    description = (
        f"{name}：{start:%m-%d} 至 {issue.issued_at:%m-%d %H:%M} 的观测值与其后 "
        f"{max(s.horizon_h for s in steps)} 小时的预报（中位数、80% 与 95% 区间）{unit_text}"
    )
    return ForecastChart(
        width=width, height=height, left=left, top=top, right=right, bottom=bottom,
        observed=tuple(points(run) for run in runs if len(run) >= 2),
        observed_points=tuple(dots),
        median=points([(s.target_at, s.median) for s in steps]),
        band80=points(upper80 + lower80), band95=points(upper95 + lower95),
        limits=tuple(lines), origin_x=x(issue.issued_at),
        x_ticks=tuple(x_ticks),
        y_ticks=tuple(ChartTick(y(v), f"{v:g}") for v in _ticks(low, high)),
        description=description,
    )  # fmt: skip


def _observed(grid: pd.Series | None, start: dt.datetime, end: dt.datetime) -> pd.Series:
    if grid is None or grid.empty:
        return pd.Series([], dtype=np.float64)
    inside = (grid.index >= pd.Timestamp(start)) & (grid.index <= pd.Timestamp(end))
    return grid[inside]


def _padded(low: float, high: float) -> tuple[float, float]:
    """The value range of a chart: the data with 8 % room, never empty."""
    if high - low < 1e-9:
        pad = abs(high) * 0.1 or 1.0
        return low - pad, high + pad
    pad = (high - low) * 0.08
    return low - pad, high + pad


def _ticks(low: float, high: float, *, count: int = 5) -> list[float]:
    """About ``count`` round values (1, 2 or 5 × 10ⁿ apart) between ``low`` and ``high``."""
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    values = []
    value = first
    while value <= high + step * 1e-9:
        values.append(round(value, 10))
        value += step
    return values
