"""The section page's indicator charts, recent alerts, compensation history and downloads.

Each parameter a section has data for gets a server-drawn SVG chart (no script) of its daily
values over the last 30, 90 or 365 days (``?days=``) up to the newest observation: the mean of
the day's **valid** values (:func:`service.jobs.observations.load_observations` asks
:mod:`sections.validity`; the mean is :func:`sections.periods.period_values`, so pH is averaged
over [H⁺] and "<DL" counts as half its limit), over horizontal bands of the GB 3838-2002 class
limits (DO inverted: higher is better; pH has no bands — every class is 6–9), with the target
line(s) of :func:`sections.forecast.target_threshold`. A day whose value rests on suspect values
is drawn hollow; a day with no valid value but excluded readings is a hollow square (the mean
of what was excluded, held inside the chart); a day with a "<DL" value is a downward triangle,
one with an over-range reading ("≥", station flag T) an upward one. The newest forecast's
median and 80 % interval follow the last value.

``/sections/{id}/data.csv`` and ``/sections/{id}/data.xlsx`` give exactly the daily values the
charts draw, with Chinese column headers.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Final

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends
from fastapi.responses import Response
from openpyxl import Workbook
from sqlalchemy import Engine

from sections.classes import WaterClass
from sections.errors import DataTableError
from sections.forecast import target_threshold
from sections.parameters import parameter
from sections.periods import DEFAULT_MIN_DAILY_VALUES
from sections.registry import Registry, Section
from sections.river_chiefs import RiverChiefs
from sections.standards import indicator_limits, limit_table
from service.alerts.records import EpisodeScope, list_episodes, scope_for
from service.api.access import Principal, authorize, may_see_money
from service.api.deps import EngineDep, RegistryDep
from service.errors import ForbiddenError, InputError, NotFoundError
from service.jobs.forecast import section_forecasts
from service.jobs.observations import load_observations, valid_period_values
from service.records import IssuedForecast
from service.statements.issue import issued_statement, issued_versions
from service.statements.wording import money_text
from service.time import BEIJING
from service.web.contexts import ChartLine, ChartTick, SectionPageContext
from service.web.monitoring_views import _padded, _ticks

__all__ = [
    "DAY_WINDOWS",
    "DEFAULT_DAYS",
    "AlertRow",
    "ChartBand",
    "ChartMarker",
    "CompensationRow",
    "DailyValue",
    "ForecastOverlay",
    "IndicatorChart",
    "SectionDetailContext",
    "SectionExtras",
    "daily_values",
    "indicator_chart",
    "router",
    "section_extras",
    "window_days",
]

router = APIRouter(include_in_schema=False)

DAY_WINDOWS: Final = (30, 90, 365)
"""The windows a visitor may choose [days]."""
DEFAULT_DAYS: Final = 90
"""The window shown without ``?days=`` [days]."""
ALERT_DAYS: Final = 90
"""Alert episodes opened within this many days are listed [days]."""
COMPENSATION_MONTHS: Final = 12
"""Months of compensation history shown."""
CHART_SIZE: Final = (640, 220)
"""Width and height of an indicator chart (SVG user units; scaled to the page by CSS)."""
_MARGIN: Final = (48.0, 10.0, 12.0, 24.0)  # left, top, right, bottom
_MARKER: Final = 3.0  # half size of a marker [px]
CSV_HEADER: Final = ("日期", "参数", "参数键", "日均值", "单位", "有效值个数", "标记")
"""The columns of the downloads."""
MARK_TEXT: Final = {
    "lower_bound": "≥ 含超量程读数（下限值，待复核）",
    "censored": "<DL 含低于检出限的值（按检出限一半计）",
    "suspect": "含待复核可疑值",
    "thin": f"有效值少于 {DEFAULT_MIN_DAILY_VALUES} 个（不作日评价）",
    "invalid": "无有效值：所示为剔除值的均值",
}
"""What each mark of a daily value means, as shown."""


# --- contexts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DailyValue:
    """One parameter's value on one day, as charted and downloaded."""

    day: dt.date = field(metadata={"help": "日期（北京时间）"})
    parameter: str = field(metadata={"help": "参数键"})
    name_zh: str = field(metadata={"help": "参数名称"})
    value: float = field(metadata={"help": "日均值 [参数单位]（无有效值时为剔除值的均值）"})
    text: str = field(metadata={"help": "所示数值（4 位有效数字），图与下载相同"})
    unit: str = field(metadata={"help": "单位（pH 为空）"})
    n_valid: int = field(metadata={"help": "参与日均值的有效值个数"})
    marks: tuple[str, ...] = field(
        metadata={"help": "标记：lower_bound、censored、suspect、thin、invalid"}
    )
    flags: str = field(metadata={"help": "标记的中文说明"})


@dataclass(frozen=True)
class ChartBand:
    """The band of one water-quality class on a chart."""

    klass: WaterClass = field(metadata={"help": "水质类别"})
    y: float = field(metadata={"help": "色带上边 [px]"})
    height: float = field(metadata={"help": "色带高度 [px]"})
    label: str = field(metadata={"help": "类别文字，如 Ⅲ"})
    title: str = field(metadata={"help": "悬停提示：类别与数值范围"})


@dataclass(frozen=True)
class ChartMarker:
    """One daily value on a chart."""

    x: float = field(metadata={"help": "横坐标 [px]"})
    y: float = field(metadata={"help": "纵坐标 [px]（向下；剔除值限在图内）"})
    shape: str = field(metadata={"help": "circle 圆、square 方（无有效值）、down <DL、up ≥"})
    points: str = field(metadata={"help": "三角形的 points 串（圆与方为空）"})
    hollow: bool = field(metadata={"help": "空心：含可疑值或无有效值"})
    day: dt.date = field(metadata={"help": "日期"})
    text: str = field(metadata={"help": "数值文字"})
    title: str = field(metadata={"help": "悬停提示"})


@dataclass(frozen=True)
class ForecastOverlay:
    """The newest forecast drawn after the last daily value."""

    median: str = field(metadata={"help": "预报中位数折线 points 串"})
    band80: str = field(metadata={"help": "80 % 区间多边形 points 串"})
    origin_x: float = field(metadata={"help": "预报起点的横坐标 [px]"})
    title: str = field(metadata={"help": "说明：预报起点与预见期"})


@dataclass(frozen=True)
class IndicatorChart:
    """One parameter's daily values over the window, as SVG geometry."""

    parameter: str = field(metadata={"help": "参数键"})
    name_zh: str = field(metadata={"help": "参数名称"})
    unit: str = field(metadata={"help": "单位（pH 为空）"})
    width: int = field(metadata={"help": "宽 [px]（viewBox）"})
    height: int = field(metadata={"help": "高 [px]（viewBox）"})
    left: float = field(metadata={"help": "绘图区左边界 [px]"})
    top: float = field(metadata={"help": "绘图区上边界 [px]"})
    right: float = field(metadata={"help": "绘图区右边界 [px]"})
    bottom: float = field(metadata={"help": "绘图区下边界 [px]"})
    low: float = field(metadata={"help": "纵轴下端的数值（y = bottom）"})
    high: float = field(metadata={"help": "纵轴上端的数值（y = top）"})
    bands: tuple[ChartBand, ...] = field(metadata={"help": "各类别色带（pH 无）"})
    band_note: str = field(metadata={"help": "色带说明（pH：不分类别）"})
    targets: tuple[ChartLine, ...] = field(metadata={"help": "目标类别限值线（pH 为 6 与 9）"})
    lines: tuple[str, ...] = field(metadata={"help": "有效日均值折线，每段连续日期一条"})
    markers: tuple[ChartMarker, ...] = field(metadata={"help": "各日数值标记"})
    forecast: ForecastOverlay | None = field(metadata={"help": "最新预报；无则为空"})
    x_ticks: tuple[ChartTick, ...] = field(metadata={"help": "横轴刻度"})
    y_ticks: tuple[ChartTick, ...] = field(metadata={"help": "纵轴刻度"})
    title: str = field(metadata={"help": "图题（无障碍 <title>）"})
    description: str = field(metadata={"help": "图的文字说明（无障碍 <desc>）"})


@dataclass(frozen=True)
class AlertRow:
    """One recent alert episode of the section."""

    id: int = field(metadata={"help": "告警事件 id"})
    opened_at: dt.datetime = field(metadata={"help": "开启时间（北京时间）"})
    level: int = field(metadata={"help": "级别 1–4"})
    level_label: str = field(metadata={"help": "级别：提示、黄色、橙色、红色"})
    factor_name: str = field(metadata={"help": "因子"})
    state_label: str = field(metadata={"help": "状态：未确认、已确认、已关闭"})
    detail: str = field(metadata={"help": "最近一次条件的说明"})


@dataclass(frozen=True)
class CompensationRow:
    """One month of the section's unit's compensation."""

    month: str = field(metadata={"help": "月份 YYYY-MM"})
    version: int | None = field(metadata={"help": "已签发的最新版本；未签发为空"})
    total_wan: str = field(metadata={"help": "扣缴合计 [万元]；未签发为 —"})
    reward_wan: str = field(metadata={"help": "奖励 [万元]；未签发为 —"})
    href: str = field(metadata={"help": "该月本单位通报页"})


@dataclass(frozen=True)
class SectionExtras:
    """The section page's charts, recent alerts, compensation history and downloads."""

    days: int = field(metadata={"help": "所选时间窗 [天]"})
    windows: tuple[int, ...] = field(metadata={"help": "可选时间窗 [天]"})
    first: dt.date = field(metadata={"help": "时间窗第一天"})
    last: dt.date = field(metadata={"help": "时间窗最后一天（最新观测日）"})
    charts: tuple[IndicatorChart, ...] = field(
        metadata={"help": "各参数的逐日图（GB 3838 项目在前）"}
    )
    values: tuple[DailyValue, ...] = field(metadata={"help": "图中的全部日值（即下载内容）"})
    downloads: tuple[tuple[str, str], ...] = field(metadata={"help": "下载（格式, 地址）"})
    alerts_shown: bool = field(metadata={"help": "访问者可否查看预警"})
    alerts_note: str = field(metadata={"help": "预警说明（如 登录后可查看预警）"})
    alerts: tuple[AlertRow, ...] = field(metadata={"help": "近 90 天开启的河长预警（新到旧）"})
    compensation_shown: bool = field(metadata={"help": "访问者可否查看补偿金额"})
    compensation_note: str = field(metadata={"help": "补偿说明（不考核、无权限……）"})
    compensation: tuple[CompensationRow, ...] = field(
        metadata={"help": "本单位近 12 个月的扣缴（仅已签发版本，新到旧）"}
    )


@dataclass(frozen=True)
class SectionDetailContext(SectionPageContext):
    """One section's page with its charts, alerts, compensation history and downloads."""

    extras: SectionExtras = field(metadata={"help": "图表、预警、补偿与下载"})


# --- daily values -------------------------------------------------------------------------------


def window_days(days: str | None) -> int:
    """The window asked for by ``?days=`` (default :data:`DEFAULT_DAYS`).

    Raises
    ------
    InputError
        Unless it is one of :data:`DAY_WINDOWS`.
    """
    if days is None or days == "":
        return DEFAULT_DAYS
    try:
        number = int(days)
    except ValueError:
        number = -1
    if number not in DAY_WINDOWS:
        valid = "、".join(str(d) for d in DAY_WINDOWS)
        raise InputError(f"days 须为 {valid} 之一 / days must be one of {valid}: {days!r}")
    return number


def _unit(key: str) -> str:
    unit = parameter(key).unit
    return "" if unit == "dimensionless" else unit


def _order(keys: Sequence[str], section: Section) -> list[str]:
    """GB 3838-2002 items first in the standard's table order, then the rest by key."""
    table = [k for k, body in limit_table() if body == section.water_body]
    ranked = {k: i for i, k in enumerate(table)}
    return sorted(keys, key=lambda k: (ranked.get(k, len(ranked)), k))


def daily_values(frame: pd.DataFrame, section: Section) -> tuple[DailyValue, ...]:
    """The daily values of one section from :func:`load_observations` rows (parameter, day).

    A day with valid values has their mean (any number of them: the chart shows what there
    is, marked ``thin`` below :data:`sections.periods.DEFAULT_MIN_DAILY_VALUES` automatic
    values); a day with only excluded readings has their mean, marked ``invalid``.
    """
    if frame.empty:
        return ()
    found: dict[tuple[str, dt.date], DailyValue] = {}
    counted = frame[frame["counts"]]
    valid = valid_period_values(frame, period="day", min_daily_values=1)
    if valid is not None:
        keys = [counted["parameter"], counted["day"]]
        censored = counted["censored"].groupby(keys).any()
        automatic = counted["sample_kind"].isna().groupby(keys).sum()
        starts = pd.DatetimeIndex(valid.values.index.get_level_values("period_start"))
        for key in valid.values.columns:
            average = valid.values[key].to_numpy(dtype=np.float64)
            counts = valid.counts[key].to_numpy(dtype=np.int64)
            bound = valid.lower_bound[key].to_numpy(dtype=bool)
            doubtful = valid.suspect[key].to_numpy(dtype=np.int64)
            for i in np.flatnonzero(~np.isnan(average)):
                day = starts[int(i)].date()
                marks = ["lower_bound"] if bound[i] else []
                if bool(censored.get((key, day), False)):
                    marks.append("censored")
                if doubtful[i]:
                    marks.append("suspect")
                if 0 < int(automatic.get((key, day), 0)) < DEFAULT_MIN_DAILY_VALUES:
                    marks.append("thin")
                found[(str(key), day)] = _daily(str(key), day, float(average[i]), int(counts[i]),
                                                marks, int(doubtful[i]), "")  # fmt: skip
    excluded = frame[~frame["counts"] & frame["value"].notna()]
    if not excluded.empty:
        raw = excluded.assign(counts=True, lower_bound=False, suspect=False)
        means = valid_period_values(raw, period="day", min_daily_values=1)
        reasons = (
            excluded["reason"]
            .groupby([excluded["parameter"], excluded["day"]])
            .agg(lambda r: "、".join(sorted({str(x) for x in r})))
        )
        if means is not None:
            starts = pd.DatetimeIndex(means.values.index.get_level_values("period_start"))
            for key in means.values.columns:
                column = means.values[key].to_numpy(dtype=np.float64)
                for i in np.flatnonzero(~np.isnan(column)):
                    day = starts[int(i)].date()
                    if (str(key), day) not in found:
                        why = str(reasons.get((key, day), ""))
                        found[(str(key), day)] = _daily(
                            str(key), day, float(column[i]), 0, ["invalid"], 0, why
                        )
    order = {k: i for i, k in enumerate(_order(list({k for k, _ in found}), section))}
    return tuple(found[k] for k in sorted(found, key=lambda k: (order[k[0]], k[1])))


def _daily(
    key: str, day: dt.date, value: float, n: int, marks: list[str], suspect: int, why: str
) -> DailyValue:
    parts = []
    for mark in marks:
        text = MARK_TEXT[mark]
        if mark == "suspect":
            text += f" {suspect} 个"
        if mark == "invalid" and why:
            text += f"（{why}）"
        parts.append(text)
    info = parameter(key)
    return DailyValue(day, key, info.name_zh, value, f"{value:.4g}", _unit(key), n, tuple(marks),
                      "；".join(parts))  # fmt: skip


# --- the chart ----------------------------------------------------------------------------------


def _class_spans(section: Section, key: str) -> list[tuple[WaterClass, float, float]] | None:
    """Each class's value range for ``key`` (劣Ⅴ included), or None without bands (pH, items
    without a GB 3838 limit in this water body)."""
    try:
        limits = indicator_limits(key, section.water_body)
    except (KeyError, DataTableError):
        return None
    if limits.direction == "range":
        return None
    inf = float("inf")
    values = limits.limits
    spans = []
    for number in range(1, 7):
        if limits.direction == "le":
            low = -inf if number == 1 else values[number - 2]
            high = inf if number == 6 else values[number - 1]
        else:  # "ge": higher is better
            high = inf if number == 1 else values[number - 2]
            low = -inf if number == 6 else values[number - 1]
        spans.append((WaterClass(number), low, high))
    return spans


def indicator_chart(
    values: Sequence[DailyValue],
    *,
    section: Section,
    first: dt.date,
    last: dt.date,
    forecast: IssuedForecast | None = None,
) -> IndicatorChart:
    """The SVG geometry of one parameter's daily values from ``first`` to ``last``."""
    key = values[0].parameter
    name, unit = values[0].name_zh, values[0].unit
    width, height = CHART_SIZE
    left, top = _MARGIN[0], _MARGIN[1]
    right, bottom = width - _MARGIN[2], height - _MARGIN[3]
    start = dt.datetime.combine(first, dt.time(), BEIJING)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), BEIJING)
    steps = forecast.steps if forecast is not None else ()
    if forecast is not None and steps and start <= forecast.issued_at:
        end = max(end, max(s.target_at for s in steps) + dt.timedelta(hours=4))
    else:
        steps = ()
    threshold = target_threshold(section, key, last)
    limits = [] if threshold is None else [
        v for v in (threshold.lower, threshold.upper) if v is not None]  # fmt: skip
    valid = [v.value for v in values if "invalid" not in v.marks]
    drawn = valid or [v.value for v in values]
    spread = [*drawn, *limits, *(s.lo80 for s in steps), *(s.hi80 for s in steps)]
    spans = _class_spans(section, key)
    if spans is not None and min(drawn) >= 0:
        spread.append(0.0)  # concentrations from zero: the bands read true
    low, high = _padded(min(spread), max(spread))
    if spans is not None and min(drawn) >= 0:
        low = max(low, 0.0)
    seconds = (end - start).total_seconds()

    def x(moment: dt.datetime) -> float:
        return round(left + (moment - start).total_seconds() / seconds * (right - left), 1)

    def y(value: float) -> float:
        held = min(max(value, low), high)
        return round(bottom - (held - low) / (high - low) * (bottom - top), 1)

    bands = []
    for klass, lo, hi in spans or ():
        top_y, bottom_y = y(min(hi, high)), y(max(lo, low))
        if bottom_y - top_y > 0.05 and lo < high and hi > low:
            span_text = _span_text(lo, hi)
            bands.append(ChartBand(klass, top_y, round(bottom_y - top_y, 1), klass.label,
                                   f"{klass.label}类 {span_text}"))  # fmt: skip
    unit_text = f" {unit}" if unit else ""
    targets = []
    if threshold is not None:
        target = section.target_class(last)
        for bound, word in ((threshold.lower, "下限"), (threshold.upper, "限值")):
            if bound is not None:
                what = "pH" if key == "ph" else f"目标{target.label}类"
                targets.append(ChartLine(y(bound), f"{what}{word} {bound:g}{unit_text}"))
    markers, runs = [], [[]]  # type: tuple[list[ChartMarker], list[list[str]]]
    previous: dt.date | None = None
    for value in values:
        moment = dt.datetime.combine(value.day, dt.time(12), BEIJING)
        px, py = x(moment), y(value.value)
        invalid = "invalid" in value.marks
        if not invalid:
            if previous is not None and (value.day - previous).days > 1:
                runs.append([])
            runs[-1].append(f"{px},{py}")
            previous = value.day
        shape = ("square" if invalid else "down" if "censored" in value.marks
                 else "up" if "lower_bound" in value.marks else "circle")  # fmt: skip
        title = f"{value.day:%Y-%m-%d} {value.text}{unit_text}（有效值 {value.n_valid} 个）"
        if value.flags:
            title += "；" + value.flags
        markers.append(ChartMarker(px, py, shape, _triangle(shape, px, py), invalid or
                                   "suspect" in value.marks, value.day, value.text,
                                   title))  # fmt: skip
    overlay = None
    if steps and forecast is not None:
        median = " ".join(f"{x(s.target_at)},{y(s.median)}" for s in steps)
        band = [f"{x(s.target_at)},{y(s.hi80)}" for s in steps] + [
            f"{x(s.target_at)},{y(s.lo80)}" for s in reversed(steps)]  # fmt: skip
        overlay = ForecastOverlay(
            median,
            " ".join(band),
            x(forecast.issued_at),
            f"预报：起点 {forecast.issued_at:%m-%d %H:%M}，其后 "
            f"{max(s.horizon_h for s in steps)} 小时的中位数与 80% 区间",
        )
    total_days = (end - start).days
    stride = next(s for s in (1, 2, 7, 14, 30, 61, 92) if total_days / s <= 7)
    x_ticks = []
    day = first
    while day <= (end - dt.timedelta(seconds=1)).date():
        if (day - first).days % stride == 0 if stride < 30 else day.day == 1:
            x_ticks.append(ChartTick(x(dt.datetime.combine(day, dt.time(), BEIJING)),
                                     f"{day:%m-%d}"))  # fmt: skip
        day += dt.timedelta(days=1)
    counted = sum("invalid" not in v.marks for v in values)
    band_note = (
        "pH 不分类别色带：Ⅰ–Ⅴ类均为 6–9" if key == "ph"
        else "无 GB 3838-2002 类别限值，不画色带" if spans is None
        else "色带为 GB 3838-2002 表1 Ⅰ–Ⅴ类限值" + ("（溶解氧越高越好）" if key == "do" else "")
    )  # fmt: skip
    target_text = "；".join(t.label for t in targets) or "无目标类别限值"
    description = (
        f"{name}{unit_text}：{first:%Y-%m-%d} 至 {last:%Y-%m-%d} 的逐日均值，{counted} 天有有效值，"
        f"{len(values) - counted} 天仅有剔除值；{band_note}；{target_text}"
        + ("；其后为预报中位数与 80% 区间" if overlay else "")
    )
    return IndicatorChart(
        parameter=key, name_zh=name, unit=unit, width=width, height=height, left=left, top=top,
        right=right, bottom=bottom, low=low, high=high, bands=tuple(bands), band_note=band_note,
        targets=tuple(targets), lines=tuple(" ".join(r) for r in runs if len(r) >= 2),
        markers=tuple(markers), forecast=overlay, x_ticks=tuple(x_ticks),
        y_ticks=tuple(ChartTick(y(v), f"{v:g}") for v in _ticks(low, high)),
        title=f"{name}逐日均值（近 {(last - first).days + 1} 天）", description=description,
    )  # fmt: skip


def _span_text(low: float, high: float) -> str:
    if np.isinf(low):
        return f"< {high:g}" if high != float("inf") else ""
    if np.isinf(high):
        return f"> {low:g}"
    return f"{low:g}–{high:g}"


def _triangle(shape: str, x: float, y: float) -> str:
    size = _MARKER + 1
    if shape == "down":
        return f"{x - size},{y - size} {x + size},{y - size} {x},{y + size}"
    if shape == "up":
        return f"{x - size},{y + size} {x + size},{y + size} {x},{y - size}"
    return ""


# --- the page's extras --------------------------------------------------------------------------


def _window(engine: Engine, section: Section, days: int) -> tuple[dt.date, dt.date]:
    from service.db import queries

    _, newest = queries.observation_span(engine=engine, section_id=section.id)
    last = newest.astimezone(BEIJING).date() if newest else dt.datetime.now(BEIJING).date()
    return last - dt.timedelta(days=days - 1), last


def section_values(
    *, engine: Engine, registry: Registry, section: Section, days: int
) -> tuple[dt.date, dt.date, tuple[DailyValue, ...]]:
    """The window and the daily values a section's page charts (and its downloads give)."""
    first, last = _window(engine, section, days)
    one = Registry(units=registry.units, sections=(section,), source=registry.source)
    frame = load_observations(engine, one, first, last, kind="all")
    return first, last, daily_values(frame, section)


def _alerts(
    engine: Engine, registry: Registry, chiefs: RiverChiefs, principal: Principal,
    section: Section, now: dt.datetime,
) -> tuple[bool, str, tuple[AlertRow, ...]]:  # fmt: skip
    if principal.role is None:
        return False, "登录后可查看预警", ()
    try:
        scope = scope_for(principal.role.value, unit=principal.unit, chief=principal.chief,
                          registry=registry, chiefs=chiefs)  # fmt: skip
    except ForbiddenError:
        return False, "此账户不能查看预警", ()
    if scope.sections is not None and section.id not in scope.sections:
        return False, "本断面不在您的预警范围内", ()
    audiences = scope.audiences & {"river_chiefs"}
    mine = EpisodeScope(frozenset({section.id}), frozenset(audiences))
    since = now - dt.timedelta(days=ALERT_DAYS)
    rows = tuple(
        AlertRow(e.id, e.opened_at.astimezone(BEIJING), e.level, e.level_label, e.factor_name,
                 e.state_label, e.last_detail)
        for e in list_episodes(engine, scope=mine, limit=200) if e.opened_at >= since
    )  # fmt: skip
    return True, f"近 {ALERT_DAYS} 天开启的河长预警", rows


def _compensation(
    engine: Engine, principal: Principal, section: Section, last: dt.date
) -> tuple[bool, str, tuple[CompensationRow, ...]]:
    unit = section.assessed_unit
    if not unit:
        return False, "对照断面，不参与生态补偿考核", ()
    if not may_see_money(principal, unit):
        return False, "补偿金额仅对管理人员与本县（市、区）用户显示", ()
    rows = []
    month = last.replace(day=1)
    for _ in range(COMPENSATION_MONTHS):
        href = f"/compensation/{month:%Y-%m}/{unit}"
        if issued_versions(engine=engine, month=month):
            statement, record, _ = issued_statement(engine=engine, month=month)
            try:
                own = statement.unit(unit)
            except KeyError:
                rows.append(CompensationRow(f"{month:%Y-%m}", record.version, "—", "—", href))
            else:
                rows.append(CompensationRow(f"{month:%Y-%m}", record.version,
                                            money_text(own.total_wan), money_text(own.reward_wan),
                                            href))  # fmt: skip
        else:
            rows.append(CompensationRow(f"{month:%Y-%m}", None, "—", "—", href))
        month = (month - dt.timedelta(days=1)).replace(day=1)
    note = "仅列已签发的最新版本；未签发的月份可在通报页查看草稿"
    return True, note, tuple(rows)


def section_extras(
    *, engine: Engine, registry: Registry, chiefs: RiverChiefs, principal: Principal,
    section: Section, days: int, now: dt.datetime,
) -> SectionExtras:  # fmt: skip
    """Everything the section page shows below its facts besides the daily strip."""
    first, last, values = section_values(engine=engine, registry=registry, section=section,
                                         days=days)  # fmt: skip
    forecasts = {f.parameter: f for f in section_forecasts(engine=engine, section_id=section.id)}
    by_key: dict[str, list[DailyValue]] = {}
    for value in values:
        by_key.setdefault(value.parameter, []).append(value)
    charts = tuple(
        indicator_chart(rows, section=section, first=first, last=last, forecast=forecasts.get(k))
        for k, rows in by_key.items()
    )
    shown, alerts_note, alerts = _alerts(engine, registry, chiefs, principal, section, now)
    money, money_note, money_rows = _compensation(engine, principal, section, last)
    base = f"/sections/{section.id}/data"
    return SectionExtras(
        days=days, windows=DAY_WINDOWS, first=first, last=last, charts=charts, values=values,
        downloads=(("CSV", f"{base}.csv?days={days}"), ("XLSX", f"{base}.xlsx?days={days}")),
        alerts_shown=shown, alerts_note=alerts_note, alerts=alerts,
        compensation_shown=money, compensation_note=money_note, compensation=money_rows,
    )  # fmt: skip


# --- downloads ----------------------------------------------------------------------------------


def _rows(values: Sequence[DailyValue]) -> list[tuple[str, str, str, str, str, int, str]]:
    return [(v.day.isoformat(), v.name_zh, v.parameter, v.text, v.unit, v.n_valid, v.flags)
            for v in values]  # fmt: skip


def _download_values(
    section_id: str, registry: Registry, engine: Engine, days: str | None
) -> tuple[Section, int, tuple[DailyValue, ...]]:
    try:
        section = registry.section(section_id)
    except KeyError:
        raise NotFoundError(f"未知断面 {section_id}") from None
    number = window_days(days)
    _, _, values = section_values(engine=engine, registry=registry, section=section, days=number)
    return section, number, values


@router.get("/sections/{section_id}/data.csv")
def section_csv(
    section_id: str,
    registry: RegistryDep,
    engine: EngineDep,
    _: Annotated[Principal, Depends(authorize)],
    days: str | None = None,
) -> Response:
    """断面逐日均值（CSV，UTF-8 带 BOM）：与断面页图中所示相同。"""
    section, number, values = _download_values(section_id, registry, engine, days)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    writer.writerows(_rows(values))
    name = f"{section.id}-daily-{number}d.csv"
    return Response(
        "\ufeff" + buffer.getvalue(), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )  # fmt: skip


@router.get("/sections/{section_id}/data.xlsx")
def section_xlsx(
    section_id: str,
    registry: RegistryDep,
    engine: EngineDep,
    _: Annotated[Principal, Depends(authorize)],
    days: str | None = None,
) -> Response:
    """断面逐日均值（XLSX）：与断面页图中所示相同。"""
    section, number, values = _download_values(section_id, registry, engine, days)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "逐日均值"
    sheet.append(list(CSV_HEADER))
    for day, name_zh, key, text, unit, n, flags in _rows(values):
        sheet.append([day, name_zh, key, float(text), unit, n, flags])
    buffer = io.BytesIO()
    book.save(buffer)
    name = f"{section.id}-daily-{number}d.xlsx"
    return Response(
        buffer.getvalue(),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )  # fmt: skip
