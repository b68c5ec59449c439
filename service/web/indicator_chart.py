"""An indicator's chart on the section page: daily values over the GB 3838-2002 class bands, the
target line, marks for suspect, excluded, "<DL" and "≥" values, and the newest forecast — an SVG
drawn on the server (no script). The values come from :mod:`service.web.section_charts`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from sections.classes import WaterClass
from sections.errors import DataTableError
from sections.forecast import target_threshold
from sections.registry import Section
from sections.standards import indicator_limits
from service.records import IssuedForecast
from service.time import BEIJING
from service.web.contexts import ChartLine, ChartTick
from service.web.monitoring_views import _padded, _ticks

__all__ = [
    "CHART_SIZE",
    "ChartBand",
    "ChartMarker",
    "DailyValue",
    "ForecastOverlay",
    "IndicatorChart",
    "indicator_chart",
]

CHART_SIZE: Final = (640, 220)
"""Width and height of an indicator chart (SVG user units; scaled to the page by CSS)."""
_MARGIN: Final = (48.0, 10.0, 12.0, 24.0)  # left, top, right, bottom
_MARKER: Final = 3.0  # half size of a marker [px]


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
