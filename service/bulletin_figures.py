"""The figures of the monthly bulletin (水质月报): a schematic map and charts, as SVG geometry.

The bulletin's template draws them as inline SVG (no script), which WeasyPrint renders into the
PDF as it is. Everything is read from what ``qingliu run monthly`` stored; nothing is computed
again:

- the **map** (示意图 [A]): every assessed section (the bulletin table's rows: no entry
  reference sections) at its registry position, filled in the colour of its **monthly** class
  (:attr:`sections.classes.WaterClass.colour`, the one home of the colours), ringed in red when
  the stored ``meets_target`` is false, numbered as in the table; 衡水湖 filled in the colour of
  the lake's class. River lines, the lake outline and the county seats are those of
  ``sections/data/rivers.toml`` ([A], hand-simplified), projected by
  :func:`sections.map.fit_frame` over the sections, the county seats and the lake outline (the
  whole city, whatever the registry holds) — the projection lives there only;
- the **share chart**: the city's share of sections at Class Ⅲ or better (达到或优于Ⅲ类比例) of
  every rolled-up month of the year up to the bulletin's month, from the stored summaries, one
  bar per month against the target line (≥ 69.2 %);
- the **class chart**: how many of the sections that count in the share are in each class
  Ⅰ…劣Ⅴ this month (Ⅰ–Ⅲ add up to the summary's ``good``), and how many are not assessable;
- the **lake chart**: 衡水湖's TLI(Σ) of every rolled-up month of the year, with the grade
  bounds of :data:`sections.trophic.TROPHIC_GRADES`.

Figures are numbered in the order the bulletin shows them (图1 …). The SVG sizes are user units;
the bulletin's CSS scales them to the page (A4: a chart is the text width, the map 125 mm tall).

References
----------
.. [1] domain.md §2 (targets of the city's 14th Five-Year plan; approximate positions [A]).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from sqlalchemy import Engine

from sections.classes import WaterClass
from sections.map import MapData, fit_frame, load_map_data
from sections.registry import Registry, Section
from sections.trophic import TROPHIC_GRADES
from service.jobs.monthly import GOOD_SHARE_TARGET, year_summaries
from service.records import LakeRecord, MonthRecord, MonthSummary
from service.web.contexts import ChartLine, ChartTick
from service.web.overview import MAP_WIDTH, MapLabel, MapLineShape

__all__ = [
    "CHART_SIZE",
    "MAP_MARGIN",
    "MISS_COLOUR",
    "NO_CLASS_COLOUR",
    "Bar",
    "BarChart",
    "BulletinFigures",
    "LakeShape",
    "MapKey",
    "MapMarker",
    "MonthMap",
    "bulletin_figures",
    "class_chart",
    "month_map",
    "share_chart",
    "tli_chart",
]

CHART_SIZE: Final = (640, 230)
"""Width and height of a chart [SVG user units]; the page scales it to the text width."""
_MARGIN: Final = (52.0, 26.0, 14.0, 40.0)  # left, top, right, bottom [SVG user units]
MISS_COLOUR: Final = "#b71c1c"
"""The ring around a section that misses its target, and the bars below the target line."""
NO_CLASS_COLOUR: Final = "#ffffff"
"""The fill of a section without a monthly class (断流, 数据不足 …)."""
_MEETS_COLOUR: Final = "#2f6fa8"
_TLI_COLOUR: Final = "#5b8c5a"
_GRADE_COLOUR: Final = "#6d6d6d"
MAP_MARGIN: Final = 42.0
"""Room around the map's box [SVG user units]: wider than the overview's, so that the corner
texts (示意图 [A], 北) clear the markers."""


# --- contexts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MapMarker:
    """One assessed section on the map."""

    section: str = field(metadata={"help": "断面 id"})
    name: str = field(metadata={"help": "断面名称"})
    number: int = field(metadata={"help": "序号（与第二部分表中序号相同）"})
    x: float = field(metadata={"help": "圆心横坐标（SVG 单位）"})
    y: float = field(metadata={"help": "圆心纵坐标（SVG 单位）"})
    klass: WaterClass | None = field(metadata={"help": "月度水质类别；无类别为空"})
    fill: str = field(metadata={"help": "填充颜色：类别颜色；无类别为白色"})
    misses_target: bool = field(metadata={"help": "月度类别未达目标（红圈标出）"})
    lake: bool = field(metadata={"help": "是否为湖库点位"})
    title: str = field(metadata={"help": "悬停提示：名称、类别、目标"})


@dataclass(frozen=True)
class LakeShape:
    """衡水湖's outline, filled in the colour of the lake's monthly class."""

    name: str = field(metadata={"help": "湖泊名称"})
    points: str = field(metadata={"help": "轮廓 SVG points 列表"})
    klass: WaterClass | None = field(metadata={"help": "湖体类别（总氮不参与）；无为空"})
    fill: str = field(metadata={"help": "填充颜色：湖体类别颜色；无类别为浅蓝"})
    misses_target: bool = field(metadata={"help": "湖体类别未达目标"})
    text: str = field(metadata={"help": "图上文字，如 衡水湖 Ⅲ类"})
    x: float = field(metadata={"help": "文字横坐标（SVG 单位）"})
    y: float = field(metadata={"help": "文字纵坐标（SVG 单位）"})


@dataclass(frozen=True)
class MapKey:
    """One class in the map's legend, with how many assessed sections are in it."""

    klass: WaterClass | None = field(metadata={"help": "类别；无类别为空"})
    fill: str = field(metadata={"help": "颜色"})
    text: str = field(metadata={"help": "图例文字，如 Ⅲ类、无类别"})
    count: int = field(metadata={"help": "本月处于该类别的考核断面数"})


@dataclass(frozen=True)
class MonthMap:
    """The schematic map of the month's classes (示意图 [A])."""

    number: int = field(metadata={"help": "图号"})
    caption: str = field(metadata={"help": "图题"})
    width: float = field(metadata={"help": "SVG 宽度（viewBox 单位）"})
    height: float = field(metadata={"help": "SVG 高度（viewBox 单位）"})
    rivers: tuple[MapLineShape, ...] = field(metadata={"help": "河流示意线 [A]"})
    lake: LakeShape | None = field(metadata={"help": "衡水湖轮廓；示意图数据无湖泊为空"})
    labels: tuple[MapLabel, ...] = field(metadata={"help": "河名 [A]"})
    places: tuple[MapLabel, ...] = field(metadata={"help": "县城位置与名称 [A]"})
    markers: tuple[MapMarker, ...] = field(metadata={"help": "各考核断面（表中顺序）"})
    legend: tuple[MapKey, ...] = field(metadata={"help": "图例：各类别断面数"})
    missed: int = field(metadata={"help": "未达目标的考核断面数"})
    source: str = field(metadata={"help": "示意图数据文件"})
    note: str = field(metadata={"help": "图注：示意线的来源与假设 [A]"})


@dataclass(frozen=True)
class Bar:
    """One bar of a bar chart."""

    key: str = field(metadata={"help": "月份 YYYY-MM 或类别记号"})
    x: float = field(metadata={"help": "左边 [SVG 单位]"})
    y: float = field(metadata={"help": "上边 [SVG 单位]"})
    width: float = field(metadata={"help": "宽 [SVG 单位]"})
    height: float = field(metadata={"help": "高 [SVG 单位]（0 时只写数值）"})
    fill: str = field(metadata={"help": "颜色"})
    value_text: str = field(metadata={"help": "柱顶数值"})
    title: str = field(metadata={"help": "悬停提示"})


@dataclass(frozen=True)
class BarChart:
    """A bar chart with labelled slots on the horizontal axis and reference lines."""

    id: str = field(metadata={"help": "图的 HTML id"})
    number: int = field(metadata={"help": "图号"})
    caption: str = field(metadata={"help": "图题"})
    unit: str = field(metadata={"help": "纵轴单位，如 %、个"})
    bars: tuple[Bar, ...] = field(metadata={"help": "各柱"})
    slots: tuple[ChartTick, ...] = field(metadata={"help": "横轴各位置的文字（柱的中点）"})
    gaps: tuple[ChartTick, ...] = field(metadata={"help": "无柱的位置及原因，如 未汇总"})
    lines: tuple[ChartLine, ...] = field(metadata={"help": "参考线（目标、分级界限）"})
    line_colour: str = field(metadata={"help": "参考线颜色：目标红色，分级界限灰色"})
    y_ticks: tuple[ChartTick, ...] = field(metadata={"help": "纵轴刻度"})
    legend: tuple[tuple[str, str], ...] = field(metadata={"help": "图例（颜色, 文字）"})
    description: str = field(metadata={"help": "图的文字说明（无障碍 <desc>）"})
    width: int = field(default=CHART_SIZE[0], metadata={"help": "宽（viewBox 单位）"})
    height: int = field(default=CHART_SIZE[1], metadata={"help": "高（viewBox 单位）"})
    left: float = field(default=_MARGIN[0], metadata={"help": "绘图区左边界"})
    top: float = field(default=_MARGIN[1], metadata={"help": "绘图区上边界"})
    right: float = field(default=CHART_SIZE[0] - _MARGIN[2], metadata={"help": "绘图区右边界"})
    bottom: float = field(
        default=CHART_SIZE[1] - _MARGIN[3], metadata={"help": "绘图区下边界（横轴）"}
    )


@dataclass(frozen=True)
class BulletinFigures:
    """Every figure of a bulletin, numbered in the order shown."""

    share: BarChart = field(metadata={"help": "全年各月达到或优于Ⅲ类比例（第一部分）"})
    classes: BarChart = field(metadata={"help": "本月各类别断面数（第一部分）"})
    map: MonthMap = field(metadata={"help": "各断面月度类别示意图（第二部分）"})
    tli: BarChart | None = field(metadata={"help": "衡水湖各月 TLI（第三部分）；无湖泊为空"})


# --- reading -----------------------------------------------------------------------------------


def bulletin_figures(
    *,
    engine: Engine,
    registry: Registry,
    month: dt.date,
    summary: MonthSummary,
    records: Mapping[str, MonthRecord | LakeRecord],
    map_data: MapData | None = None,
) -> BulletinFigures:
    """The figures of a month's bulletin from its stored roll-up (and the year's before it)."""
    summaries = year_summaries(engine=engine, month=month)
    lake = summary.lake is not None
    return BulletinFigures(
        share=share_chart(summaries, month=month, number=1),
        classes=class_chart(registry, records, summary=summary, number=2),
        map=month_map(registry, records, summary=summary, map_data=map_data, number=3),
        tli=tli_chart(summaries, month=month, number=4) if lake else None,
    )


# --- the map -----------------------------------------------------------------------------------


def _class_fill(klass: WaterClass | None) -> str:
    return NO_CLASS_COLOUR if klass is None else klass.colour


def _class_text(klass: WaterClass | None) -> str:
    return "无类别" if klass is None else f"{klass.label}类"


def month_map(
    registry: Registry,
    records: Mapping[str, MonthRecord | LakeRecord],
    *,
    summary: MonthSummary,
    map_data: MapData | None = None,
    number: int = 1,
) -> MonthMap:
    """The schematic map of a month: assessed sections in their monthly class colours [A]."""
    data = map_data or load_map_data()
    assessed = [s for s in registry.sections if not s.is_reference]
    outline = [line for line in data.lines if line.kind == "lake"]
    lons = [s.lon for s in assessed] + [p.lon for p in data.places]
    lats = [s.lat for s in assessed] + [p.lat for p in data.places]
    lons += [lon for line in outline for lon, _ in line.points]
    lats += [lat for line in outline for _, lat in line.points]
    frame = fit_frame(lons, lats, width=MAP_WIDTH, margin=MAP_MARGIN)
    markers = tuple(
        _marker(section, records.get(section.id), index, *frame.point(section.lon, section.lat))
        for index, section in enumerate(assessed, start=1)
    )
    rivers = tuple(
        MapLineShape(line.name, line.kind, frame.points(line.points), f"{line.name}（示意线 [A]）")
        for line in data.lines
        if line.kind == "river"
    )
    labels = tuple(
        MapLabel(line.name, *frame.point(*line.points[len(line.points) // 2]), "river")
        for line in data.lines
        if line.kind == "river"
    )
    places = tuple(MapLabel(p.name, *frame.point(p.lon, p.lat), "place") for p in data.places)
    lake = None
    if outline:
        line = outline[0]
        line_summary = summary.lake if summary.lake and summary.lake.name == line.name else None
        klass = None
        if line_summary is not None and line_summary.class_number is not None:
            klass = WaterClass(line_summary.class_number)
        lon = sum(p[0] for p in line.points) / len(line.points)
        lat = min(p[1] for p in line.points)
        x, y = frame.point(lon, lat)
        lake = LakeShape(
            name=line.name,
            points=frame.points(line.points),
            klass=klass,
            fill="#cfe4f7" if klass is None else klass.colour,
            misses_target=line_summary is not None and line_summary.meets_target is False,
            text=f"{line.name} {_class_text(klass)}" if line_summary else line.name,
            x=x,
            y=round(y + 16, 1),
        )
    classes = [m.klass for m in markers]
    legend = tuple(
        MapKey(k, _class_fill(k), _class_text(k), classes.count(k)) for k in (*WaterClass, None)
    )
    month = dt.date.fromisoformat(summary.month + "-01")
    return MonthMap(
        number=number,
        caption=f"图{number}　{month.year}年{month.month}月各考核断面水质类别示意图",
        width=frame.width,
        height=round(frame.height, 1),
        rivers=rivers,
        lake=lake,
        labels=labels,
        places=places,
        markers=markers,
        legend=legend,
        missed=sum(m.misses_target for m in markers),
        source=data.source,
        note=(
            "示意图 [A]：河流线、湖泊轮廓与县城位置据断面坐标与大致地理手工简化，非测绘数据，"
            f"不作界线依据（{data.source}）。圆点为各考核断面（数字为第二部分表中序号），"
            "颜色为本月水质类别，红圈为未达到目标类别；不含入境对照断面。"
        ),
    )


def _marker(
    section: Section, record: MonthRecord | LakeRecord | None, number: int, x: float, y: float
) -> MapMarker:
    found = record if isinstance(record, MonthRecord) else None
    klass = None if found is None else found.water_class
    misses = found is not None and found.meets_target is False
    number_of_target = None if found is None else found.target_class_number
    target = None if number_of_target is None else WaterClass(number_of_target)
    state = _class_text(klass) if klass else (found.status_text if found else None) or "数据不足"
    verdict = "，未达标" if misses else ("，达标" if klass and found and found.meets_target else "")
    aim = f"；目标 {target.label}类" if target else ""
    return MapMarker(
        section=section.id,
        name=section.name,
        number=number,
        x=x,
        y=y,
        klass=klass,
        fill=_class_fill(klass),
        misses_target=misses,
        lake=section.water_body == "lake",
        title=f"{number} {section.name}（{section.river}）：{state}{verdict}{aim}",
    )


# --- the charts --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plot:
    """The plotting area of a chart and its value scale: y = offset − factor · value."""

    high: float
    offset: float
    factor: float

    @staticmethod
    def up_to(high: float) -> _Plot:
        _, height = CHART_SIZE
        top, bottom = _MARGIN[1], height - _MARGIN[3]
        return _Plot(high, bottom, (bottom - top) / high)

    def y(self, value: float) -> float:
        return round(self.offset - value * self.factor, 1)


def _slot_x(index: int, count: int) -> tuple[float, float]:
    """The centre and the bar width of slot ``index`` of ``count`` across the plot."""
    left, right = _MARGIN[0], CHART_SIZE[0] - _MARGIN[2]
    step = (right - left) / count
    return round(left + step * (index + 0.5), 1), round(min(step * 0.6, 56.0), 1)


def _bar(plot: _Plot, index: int, count: int, value: float, **what: str) -> Bar:
    """The bar of ``value`` in slot ``index`` of ``count`` (``what``: key, fill, texts)."""
    centre, width = _slot_x(index, count)
    y = plot.y(value)
    return Bar(
        x=round(centre - width / 2, 1), y=y, width=width, height=round(plot.offset - y, 1), **what
    )


def _month_of(summary: MonthSummary) -> dt.date:
    return dt.date.fromisoformat(summary.month + "-01")


def _months(
    summaries: Sequence[MonthSummary], month: dt.date
) -> tuple[list[dt.date], dict[dt.date, MonthSummary], str]:
    """January to ``month``, the summaries of those months, and their span (2025年1–3月)."""
    first = month.replace(day=1)
    by_month = {_month_of(s): s for s in summaries if _month_of(s).year == first.year}
    by_month = {m: s for m, s in by_month.items() if m <= first}
    shown = sorted(by_month) or [first]
    span = f"{first.year}年{shown[0].month}–{shown[-1].month}月"
    if shown[0] == shown[-1]:
        span = f"{first.year}年{shown[0].month}月"
    return [first.replace(month=m) for m in range(1, first.month + 1)], by_month, span


def _monthly_bars(
    months: Sequence[dt.date],
    by_month: Mapping[dt.date, MonthSummary],
    bar: Callable[[int, MonthSummary], Bar | str],
) -> tuple[tuple[Bar, ...], tuple[ChartTick, ...], tuple[ChartTick, ...]]:
    """Bars, slot labels (1月 …) and gaps of a chart by month; ``bar`` gives a month's bar or
    the reason it has none; a month without a summary gets the gap 未汇总."""
    bars, slots, gaps = [], [], []
    for index, day in enumerate(months):
        centre, _ = _slot_x(index, len(months))
        slots.append(ChartTick(centre, f"{day.month}月"))
        found = by_month.get(day)
        made = "未汇总" if found is None else bar(index, found)
        if isinstance(made, str):
            gaps.append(ChartTick(centre, made))
        else:
            bars.append(made)
    return tuple(bars), tuple(slots), tuple(gaps)


def share_chart(summaries: Sequence[MonthSummary], *, month: dt.date, number: int = 1) -> BarChart:
    """Each rolled-up month's share of sections at Class Ⅲ or better, against the target line.

    Slots run from January to ``month``; a month without a stored summary gets no bar ("未汇总"),
    nor one whose summary had no assessable section ("无可评价"). The target line is the
    bulletin month's target (the plan's :data:`GOOD_SHARE_TARGET` when it has no summary).
    """
    months, by_month, span = _months(summaries, month)
    current = by_month.get(month.replace(day=1))
    target = GOOD_SHARE_TARGET if current is None else current.target_share
    plot = _Plot.up_to(1.0)

    def bar(index: int, found: MonthSummary) -> Bar | str:
        share = found.good_share
        if share is None:
            return "无可评价"
        meets = share >= found.target_share
        verdict = "达到目标" if meets else "未达到目标"
        return _bar(
            plot,
            index,
            len(months),
            share,
            key=found.month,
            fill=_MEETS_COLOUR if meets else MISS_COLOUR,
            value_text=f"{share:.1%}",
            title=f"{found.month}：{found.good}/{found.assessable} = {share:.1%}，{verdict}",
        )

    bars, slots, gaps = _monthly_bars(months, by_month, bar)
    return BarChart(
        id="figure-share",
        number=number,
        caption=f"图{number}　{span}全市达到或优于Ⅲ类断面比例（目标 ≥ {target:.1%}）",
        unit="%",
        bars=bars,
        slots=slots,
        gaps=gaps,
        lines=(ChartLine(plot.y(target), f"目标 {target:.1%}"),),
        line_colour=MISS_COLOUR,
        y_ticks=tuple(ChartTick(plot.y(v / 100), f"{v}") for v in range(0, 101, 20)),
        legend=((_MEETS_COLOUR, "达到目标"), (MISS_COLOUR, "未达到目标")),
        description=(
            f"{span}各月全市达到或优于Ⅲ类的断面比例（月度汇总），{len(bars)} 个月有比例；"
            f"虚线为目标 {target:.1%}"
        ),
    )


def _count_ticks(most: int) -> list[int]:
    step = 1 if most <= 5 else 2 if most <= 10 else 5
    return list(range(0, most + step, step))


def class_chart(
    registry: Registry,
    records: Mapping[str, MonthRecord | LakeRecord],
    *,
    summary: MonthSummary,
    number: int = 2,
) -> BarChart:
    """How many of the sections that count in the city's share are in each class this month.

    The sections are those of the summary (``sections`` of them, ``not_assessable`` apart); a
    last bar counts the ones not assessable (断流, 结冰, 数据不足 …).
    """
    classes = [
        record.water_class
        for section in registry.sections
        if section.counts_in_share
        and section.id not in summary.not_assessable
        and isinstance(record := records.get(section.id), MonthRecord)
    ]
    kinds: list[tuple[str, str, int, str]] = [
        (k.label, k.colour, classes.count(k), f"{k.label}类（{k.quality}）") for k in WaterClass
    ]
    missing = summary.sections - sum(n for _, _, n, _ in kinds)
    kinds.append(("不参与评价", "#9e9e9e", missing, "不参与评价（断流、结冰、数据不足等）"))
    ticks = _count_ticks(max([n for _, _, n, _ in kinds] + [1]))
    plot = _Plot.up_to(float(ticks[-1]))
    bars = tuple(
        _bar(
            plot,
            index,
            len(kinds),
            count,
            key=label,
            fill=fill,
            value_text=str(count),
            title=f"{title}：{count} 个",
        )
        for index, (label, fill, count, title) in enumerate(kinds)
    )
    slots = tuple(
        ChartTick(_slot_x(index, len(kinds))[0], label if index < len(WaterClass) else "不评价")
        for index, (label, _, _, _) in enumerate(kinds)
    )
    month = _month_of(summary)
    return BarChart(
        id="figure-classes",
        number=number,
        caption=f"图{number}　{month.year}年{month.month}月国省考河流断面水质类别分布",
        unit="个",
        bars=bars,
        slots=slots,
        gaps=(),
        lines=(),
        line_colour=MISS_COLOUR,
        y_ticks=tuple(ChartTick(plot.y(v), str(v)) for v in ticks),
        legend=(),
        description=(
            f"计入全市比例的 {summary.sections} 个断面中各类别断面数："
            + "，".join(f"{label}类 {n} 个" for label, _, n, _ in kinds[:-1])
            + f"；不参与评价 {missing} 个"
        ),
    )


def tli_chart(summaries: Sequence[MonthSummary], *, month: dt.date, number: int = 4) -> BarChart:
    """衡水湖's TLI(Σ) by month of the year to ``month``, with the trophic grade bounds."""
    months, by_month, span = _months(summaries, month)
    values = [s.lake.tli for s in by_month.values() if s.lake and s.lake.tli is not None]
    plot = _Plot.up_to(max(80.0, math.ceil(max(values, default=0.0) / 10) * 10 + 10))

    def bar(index: int, found: MonthSummary) -> Bar | str:
        tli = None if found.lake is None else found.lake.tli
        if found.lake is None or tli is None:
            return "无数据"
        state = found.lake.trophic_state or "—"
        return _bar(
            plot,
            index,
            len(months),
            tli,
            key=found.month,
            fill=_TLI_COLOUR,
            value_text=f"{tli:.1f}",
            title=f"{found.month} TLI(Σ) {tli:.1f}，{state}",
        )

    bars, slots, gaps = _monthly_bars(months, by_month, bar)
    bounds = [(b, n) for b, n in TROPHIC_GRADES if b < plot.high]
    name = next((s.lake.name for s in by_month.values() if s.lake), "衡水湖")
    return BarChart(
        id="figure-tli",
        number=number,
        caption=f"图{number}　{span}{name}综合营养状态指数 TLI(Σ)",
        unit="",
        bars=bars,
        slots=slots,
        gaps=gaps,
        lines=tuple(ChartLine(plot.y(b), f"{b:g} {n}上限") for b, n in bounds),
        line_colour=_GRADE_COLOUR,
        y_ticks=tuple(ChartTick(plot.y(v), f"{v:g}") for v in range(0, int(plot.high) + 1, 10)),
        legend=(),
        description=(
            f"{name}各月综合营养状态指数；虚线为营养状态分级界限："
            + "，".join(f"{n} ≤ {b:g}" if b > 30 else f"{n} < {b:g}" for b, n in bounds)
        ),
    )
