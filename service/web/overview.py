"""The overview of the first page (``/``): a schematic map and the city's figures.

Everything shown is read from what the jobs stored; no rule is computed here:

- the map: every registry section at its registry position (:func:`sections.map.fit_frame` over
  the sections' bounding box), coloured by its class on the newest day with daily results (read
  as the daily page reads it: :func:`service.db.results.newest_daily_day`,
  :func:`~service.db.results.daily_results_on`), ringed when that class misses the section's
  target (the stored ``meets_target``); the river lines and county seats of
  ``sections/data/rivers.toml`` ([A], hand-simplified);
- the share of sections at Class Ⅲ or better against the plan's 69.2 %: the newest rolled-up
  month's stored summary (the bulletin's numbers: ``qingliu run monthly`` computes them), and
  the year to that month pooled over the year's stored summaries (Σ Ⅲ类及以上 / Σ 可评价, as the
  demo's year figure), with the 劣Ⅴ counts. A summary computed before its month was over (the
  current month, rolled up to date) is labelled with the day it was computed on
  (:func:`service.db.results.summary_computed_at`, Beijing) and called provisional (暂定);
- open alert episodes by level in the caller's scope (:func:`service.alerts.records.scope_for`);
  an anonymous visitor sees none (as on ``/alerts``, even with the public view);
- yesterday's data completeness: the stored daily completeness of each automatic station (the
  share of :data:`service.jobs.daily.AUTOMATIC_INDICATORS` with a valid daily value), a station
  without a result counting as nothing received;
- 衡水湖: class (TN apart), TN class, TLI and trophic state of the newest rolled-up month.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Final

from sqlalchemy import Engine

from sections.classes import WaterClass
from sections.map import MapData, MapFrame, fit_frame, load_map_data
from sections.registry import Registry, Section
from sections.river_chiefs import RiverChiefs
from service.alerts.messages import LEVEL_LABELS
from service.alerts.records import count_episodes, list_episodes, scope_for
from service.api.access import Principal
from service.db import results
from service.errors import ForbiddenError
from service.jobs.daily import AUTOMATIC_INDICATORS
from service.jobs.monthly import GOOD_SHARE_TARGET, provisional_as_of, year_summaries
from service.records import DayRecord, LakeSummary, MonthSummary
from service.time import BEIJING
from service.web.contexts import LEVEL_ZH, SectionsPageContext, percent_text

__all__ = [
    "MAP_MARGIN",
    "MAP_WIDTH",
    "AlertCount",
    "AlertsPanel",
    "CompletenessPanel",
    "IndexPageContext",
    "LakePanel",
    "LegendEntry",
    "MapLabel",
    "MapLineShape",
    "MapSection",
    "Overview",
    "OverviewMap",
    "ShareFigure",
    "alerts_panel",
    "build_overview",
    "completeness_panel",
    "overview_map",
]

MAP_WIDTH: Final = 480.0
"""Width of the map drawing [SVG user units]; the page scales it to the screen."""
MAP_MARGIN: Final = 30.0
"""Room around the sections' bounding box [SVG user units]."""
_LEVEL_CLASSES: Final = {1: "level-notice", 2: "level-yellow", 3: "level-orange", 4: "level-red"}


# --- contexts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MapSection:
    """One section as a dot on the map."""

    id: str = field(metadata={"help": "断面 id（链接 /sections/{id}）"})
    name: str = field(metadata={"help": "断面名称"})
    confirmed: bool = field(metadata={"help": "名称是否经公开来源核实；否则标注 [A]"})
    x: float = field(metadata={"help": "圆心横坐标（SVG 单位）"})
    y: float = field(metadata={"help": "圆心纵坐标（SVG 单位）"})
    klass: WaterClass | None = field(metadata={"help": "最新日类别；无结果或数据不足为空"})
    target: WaterClass = field(metadata={"help": "当日目标类别"})
    misses_target: bool = field(metadata={"help": "最新日类别未达目标（对照断面不标）"})
    reference: bool = field(metadata={"help": "是否为对照断面（不参与考核）"})
    national: bool = field(metadata={"help": "是否为国考断面（页首列出其最新类别）"})
    lake: bool = field(metadata={"help": "是否为湖库点位"})
    tooltip: str = field(metadata={"help": "悬停提示：名称、类别、日期、目标"})


@dataclass(frozen=True)
class MapLineShape:
    """A river line or the lake outline."""

    name: str = field(metadata={"help": "河流或湖泊名称"})
    kind: str = field(metadata={"help": "river 河流线 / lake 湖泊轮廓（闭合）"})
    points: str = field(metadata={"help": "SVG points 列表"})
    tooltip: str = field(metadata={"help": "悬停提示：名称、标注与来源说明"})


@dataclass(frozen=True)
class MapLabel:
    """A text on the map (a river name or a county seat)."""

    text: str = field(metadata={"help": "文字"})
    x: float = field(metadata={"help": "横坐标（SVG 单位）"})
    y: float = field(metadata={"help": "纵坐标（SVG 单位）"})
    kind: str = field(metadata={"help": "river 河名 / place 县城"})


@dataclass(frozen=True)
class LegendEntry:
    """One class in the map's legend, with how many assessed sections are in it."""

    klass: WaterClass | None = field(metadata={"help": "类别；无结果为空"})
    count: int = field(metadata={"help": "最新日处于该类别的考核断面数（不含对照断面）"})


@dataclass(frozen=True)
class OverviewMap:
    """The schematic map of the sections."""

    width: float = field(metadata={"help": "SVG 宽度（viewBox 单位）"})
    height: float = field(metadata={"help": "SVG 高度（viewBox 单位）"})
    day: dt.date | None = field(metadata={"help": "最新有逐日结果的日期；尚无结果为空"})
    sections: tuple[MapSection, ...] = field(metadata={"help": "各断面（名录顺序）"})
    lines: tuple[MapLineShape, ...] = field(metadata={"help": "河流线与湖泊轮廓 [A]"})
    labels: tuple[MapLabel, ...] = field(metadata={"help": "河名与县城名 [A]"})
    places: tuple[MapLabel, ...] = field(metadata={"help": "县城位置 [A]"})
    legend: tuple[LegendEntry, ...] = field(metadata={"help": "图例：各类别断面数"})
    missed: int = field(metadata={"help": "最新日未达目标的考核断面数"})
    source: str = field(metadata={"help": "示意图数据文件"})


@dataclass(frozen=True)
class ShareFigure:
    """The share of sections at Class Ⅲ or better over a period, against the plan's target."""

    label: str = field(
        metadata={"help": "时段名称，如 本月（截至 3月20日，暂定）、2025年7月、2026年1–11月"}
    )
    good: int = field(metadata={"help": "达到或优于Ⅲ类的断面数（年度为断面·月之和）"})
    assessable: int = field(metadata={"help": "可评价断面数（年度为断面·月之和）"})
    share: float | None = field(metadata={"help": "优良比例 0–1；无可评价断面为空"})
    share_text: str = field(metadata={"help": "优良比例百分数，一位小数"})
    target_text: str = field(metadata={"help": "目标，如 ≥ 69.2%"})
    meets: bool | None = field(metadata={"help": "是否达到目标；无比例为空"})
    worse_than_v: int = field(metadata={"help": "劣Ⅴ类断面数（年度为断面·月之和）"})
    note: str = field(metadata={"help": "说明（数据来自哪次汇总、何时计算）"})
    provisional: bool = field(
        metadata={"help": "是否暂定：最近汇总月的汇总计算于该月结束之前（月内数据未全）"}
    )


@dataclass(frozen=True)
class AlertCount:
    """Open alert episodes of one level."""

    level: int = field(metadata={"help": "级别 1–4"})
    label: str = field(metadata={"help": "提示 / 黄色 / 橙色 / 红色"})
    css: str = field(metadata={"help": "级别的样式类"})
    count: int = field(metadata={"help": "未关闭事件数"})


@dataclass(frozen=True)
class AlertsPanel:
    """Open alert episodes the caller may know of."""

    shown: bool = field(
        metadata={"help": "是否显示预警数（匿名访问与无权查看预警的账户不显示，同 /alerts）"}
    )
    total: int = field(metadata={"help": "未关闭（未确认与已确认）事件数"})
    levels: tuple[AlertCount, ...] = field(metadata={"help": "各级别事件数（红色在前）"})
    note: str = field(metadata={"help": "范围说明；不显示时为提示或空"})


@dataclass(frozen=True)
class CompletenessPanel:
    """Yesterday's data completeness of the automatic stations."""

    day: dt.date = field(metadata={"help": "日期（昨日，北京时间）"})
    stations: int = field(metadata={"help": "名录中的自动站数"})
    reporting: int = field(metadata={"help": "有逐日结果的自动站数"})
    received: int = field(metadata={"help": "收到有效日均值的考核指标项数"})
    expected: int = field(metadata={"help": "应有的考核指标项数（自动站数 × 5）"})
    share: float | None = field(metadata={"help": "完整率 0–1；当日尚未评价为空"})
    share_text: str = field(metadata={"help": "完整率百分数"})


@dataclass(frozen=True)
class LakePanel:
    """衡水湖 in the newest rolled-up month."""

    name: str = field(metadata={"help": "湖泊名称"})
    month: str = field(metadata={"help": "月份 YYYY-MM"})
    klass: WaterClass | None = field(metadata={"help": "湖体类别（总氮不参与）；数据不足为空"})
    target: WaterClass = field(metadata={"help": "目标类别（规划：稳定Ⅲ类）"})
    meets_target: bool | None = field(metadata={"help": "是否达到目标"})
    tn_class: WaterClass | None = field(metadata={"help": "总氮单独评价的类别"})
    tli_text: str = field(metadata={"help": "综合营养状态指数 TLI(Σ)，一位小数；无为 —"})
    trophic_state: str = field(metadata={"help": "营养状态；无为 —"})


@dataclass(frozen=True)
class Overview:
    """The overview above the section registry."""

    map: OverviewMap = field(metadata={"help": "断面示意图"})
    month: ShareFigure | None = field(metadata={"help": "最近汇总月的优良比例；尚无汇总为空"})
    year: ShareFigure | None = field(metadata={"help": "该年截至最近汇总月的优良比例"})
    alerts: AlertsPanel = field(metadata={"help": "未关闭预警"})
    completeness: CompletenessPanel = field(metadata={"help": "昨日数据完整率"})
    lake: LakePanel | None = field(metadata={"help": "衡水湖；尚无月度汇总为空"})


@dataclass(frozen=True)
class IndexPageContext:
    """The first page: the overview, then the section registry."""

    title: str = field(metadata={"help": "页面标题"})
    overview: Overview = field(metadata={"help": "总览：示意图与全市指标"})
    registry: SectionsPageContext = field(metadata={"help": "断面名录表"})


# --- building ----------------------------------------------------------------------------------


def build_overview(
    *,
    engine: Engine,
    registry: Registry,
    chiefs: RiverChiefs,
    principal: Principal,
    today: dt.date,
    map_data: MapData | None = None,
) -> Overview:
    """The overview as of ``today`` (Beijing) for this caller."""
    summaries = _year_summaries(engine)
    newest = summaries[-1] if summaries else None
    computed = None
    if newest is not None:
        computed = results.summary_computed_at(engine=engine, month=_first_day(newest))
    return Overview(
        map=overview_map(
            engine=engine, registry=registry, map_data=map_data or load_map_data(), today=today
        ),
        month=None if newest is None else _month_figure(newest, computed, today),
        year=None if not summaries else _year_figure(summaries, computed, today),
        alerts=alerts_panel(engine=engine, registry=registry, chiefs=chiefs, principal=principal),
        completeness=completeness_panel(
            engine=engine, registry=registry, day=today - dt.timedelta(days=1)
        ),
        lake=None if newest is None or newest.lake is None else _lake(newest, registry),
    )


def overview_map(
    *, engine: Engine, registry: Registry, map_data: MapData, today: dt.date
) -> OverviewMap:
    """The map: sections coloured by their newest daily class, rivers and seats [A]."""
    frame = fit_frame(
        [s.lon for s in registry.sections],
        [s.lat for s in registry.sections],
        width=MAP_WIDTH,
        margin=MAP_MARGIN,
    )
    day = results.newest_daily_day(engine=engine)
    records = {} if day is None else results.daily_results_on(engine=engine, day=day)
    sections = tuple(
        _map_section(s, records.get(s.id), day or today, day is not None, frame)
        for s in registry.sections
    )
    assessed = [s for s in sections if not s.reference]
    classes = [s.klass for s in assessed]
    legend = tuple(LegendEntry(k, classes.count(k)) for k in (*WaterClass, None))
    lines = tuple(
        MapLineShape(
            name=line.name,
            kind=line.kind,
            points=frame.points(line.points),
            tooltip=f"{line.name}（示意线 [{line.tag}]）{line.note}",
        )
        for line in map_data.lines
    )
    labels = tuple(
        MapLabel(line.name, *frame.point(*line.points[len(line.points) // 2]), "river")
        for line in map_data.lines
        if line.kind == "river"
    )
    places = tuple(
        MapLabel(place.name, *frame.point(place.lon, place.lat), "place")
        for place in map_data.places
    )
    return OverviewMap(
        width=frame.width,
        height=round(frame.height, 1),
        day=day,
        sections=sections,
        lines=lines,
        labels=labels,
        places=places,
        legend=legend,
        missed=sum(s.misses_target for s in assessed),
        source=map_data.source,
    )


def _map_section(
    section: Section,
    record: DayRecord | None,
    day: dt.date,
    any_results: bool,
    frame: MapFrame,
) -> MapSection:
    x, y = frame.point(section.lon, section.lat)
    klass = None if record is None else record.water_class
    number = None if record is None else record.target_class_number
    target = section.target_class(day) if number is None else WaterClass(number)
    misses = record is not None and record.meets_target is False and not section.is_reference
    name = section.name + ("" if section.confirmed else "（[A] 名称未核实）")
    kind = "对照断面，不参与考核" if section.is_reference else LEVEL_ZH[section.level]
    if record is None:
        state = f"{day:%Y-%m-%d} 无结果" if any_results else "尚无逐日结果"
    elif klass is None:
        state = f"{day:%Y-%m-%d} 数据不足"
    else:
        verdict = "" if section.is_reference else ("，未达标" if misses else "，达标")
        state = f"{day:%Y-%m-%d} {klass.label}类（{klass.quality}）{verdict}"
    tooltip = f"{name}\n{section.river} · {kind}\n{state}；目标 {target.label}类"
    return MapSection(
        id=section.id,
        name=section.name,
        confirmed=section.confirmed,
        x=x,
        y=y,
        klass=klass,
        target=target,
        misses_target=misses,
        reference=section.is_reference,
        national=section.level == "national",
        lake=section.water_body == "lake",
        tooltip=tooltip,
    )


def _year_summaries(engine: Engine) -> list[MonthSummary]:
    """The stored summaries of the newest rolled-up month's year up to that month, oldest first."""
    months = results.rolled_up_months(engine=engine)  # newest first
    return year_summaries(engine=engine, month=months[0]) if months else []


def _target_text(target: float) -> str:
    return f"≥ {target * 100:.1f}%"


def _first_day(summary: MonthSummary) -> dt.date:
    return dt.date.fromisoformat(summary.month + "-01")


def _as_of(summary: MonthSummary, computed: dt.datetime | None, today: dt.date) -> dt.date | None:
    """:func:`service.jobs.monthly.provisional_as_of` of a stored summary."""
    return provisional_as_of(_first_day(summary), computed, today)


def _as_of_text(day: dt.date) -> str:
    return f"截至 {day.month}月{day.day}日，暂定"


def _month_figure(
    summary: MonthSummary, computed: dt.datetime | None, today: dt.date
) -> ShareFigure:
    first = _first_day(summary)
    year, month = first.year, first.month
    as_of = _as_of(summary, computed, today)
    current = (year, month) == (today.year, today.month)
    name = "本月" if current else f"{year}年{month}月"
    label = name if as_of is None else f"{name}（{_as_of_text(as_of)}）"
    if as_of is None:
        note = f"{year}年{month}月月度汇总（与水质月报相同）"
    else:
        at = "" if computed is None else f"，计算于 {computed.astimezone(BEIJING):%Y-%m-%d %H:%M}"
        note = (
            f"{year}年{month}月1日至{as_of.month}月{as_of.day}日的数据汇总{at}；"
            "汇总时该月尚未结束，数据不全，为暂定数"
        )
    if first < today.replace(day=1):
        note += "；本月尚未汇总"
    return ShareFigure(
        label=label,
        good=summary.good,
        assessable=summary.assessable,
        share=summary.good_share,
        share_text=percent_text(summary.good_share, decimals=1),
        target_text=_target_text(summary.target_share),
        meets=summary.meets_share_target,
        worse_than_v=summary.worse_than_v,
        note=note,
        provisional=as_of is not None,
    )


def _year_figure(
    summaries: list[MonthSummary], computed: dt.datetime | None, today: dt.date
) -> ShareFigure:
    """The year to the newest rolled-up month; ``computed`` is when that month was computed."""
    good = sum(s.good for s in summaries)
    assessable = sum(s.assessable for s in summaries)
    share = good / assessable if assessable else None
    first, last = _first_day(summaries[0]), _first_day(summaries[-1])
    span = f"{first.month}–{last.month}月" if first != last else f"{last.month}月"
    as_of = _as_of(summaries[-1], computed, today)
    label = f"{last.year}年{span}" + ("" if as_of is None else f"（{_as_of_text(as_of)}）")
    note = f"{len(summaries)} 个已汇总月份合计（断面·月）"
    if as_of is not None:
        note += f"；其中{last.month}月为截至 {as_of.month}月{as_of.day}日的暂定数"
    return ShareFigure(
        label=label,
        good=good,
        assessable=assessable,
        share=share,
        share_text=percent_text(share, decimals=1),
        target_text=_target_text(GOOD_SHARE_TARGET),
        meets=None if share is None else share >= GOOD_SHARE_TARGET,
        worse_than_v=sum(s.worse_than_v for s in summaries),
        note=note,
        provisional=as_of is not None,
    )


def _lake(summary: MonthSummary, registry: Registry) -> LakePanel:
    lake = summary.lake
    assert isinstance(lake, LakeSummary)
    points = [s for s in registry.sections if s.water_body == "lake" and not s.is_reference]
    first = dt.date.fromisoformat(summary.month + "-01")
    target = points[0].target_class(first) if points else WaterClass.III
    return LakePanel(
        name=lake.name,
        month=summary.month,
        klass=None if lake.class_number is None else WaterClass(lake.class_number),
        target=target,
        meets_target=lake.meets_target,
        tn_class=None if lake.tn_class_number is None else WaterClass(lake.tn_class_number),
        tli_text="—" if lake.tli is None else f"{lake.tli:.1f}",
        trophic_state=lake.trophic_state or "—",
    )


def alerts_panel(
    *, engine: Engine, registry: Registry, chiefs: RiverChiefs, principal: Principal
) -> AlertsPanel:
    """Open episodes by level in the caller's scope; nothing for an anonymous visitor (who may
    not see ``/alerts`` either, even with the public view) nor for a role that sees no alerts."""
    if principal.role is None:
        return AlertsPanel(False, 0, (), "登录后可查看预警")
    try:
        scope = scope_for(
            principal.role.value,
            unit=principal.unit,
            chief=principal.chief,
            registry=registry,
            chiefs=chiefs,
        )
    except ForbiddenError:
        return AlertsPanel(False, 0, (), "")
    total = count_episodes(engine, scope=scope, open_only=True)
    current = list_episodes(engine, scope=scope, open_only=True, limit=max(total, 1))
    levels = tuple(
        AlertCount(level, LEVEL_LABELS[level], _LEVEL_CLASSES[level], count)
        for level in (4, 3, 2, 1)
        if (count := sum(e.level == level for e in current))
    )
    if scope.sections is None:
        note = "全部断面（河长与运维）"
    else:
        note = f"您负责的 {len(scope.sections)} 个断面"
    return AlertsPanel(True, total, levels, note)


def completeness_panel(*, engine: Engine, registry: Registry, day: dt.date) -> CompletenessPanel:
    """The share of the automatic stations' expected daily values received on ``day``."""
    records = results.daily_results_on(engine=engine, day=day)
    stations = [s for s in registry.sections if s.station_mn]
    per_station = len(AUTOMATIC_INDICATORS)
    found = [records[s.id].completeness for s in stations if s.id in records]
    received = sum(round(c * per_station) for c in found)
    expected = len(stations) * per_station
    share = received / expected if records and expected else None
    return CompletenessPanel(
        day=day,
        stations=len(stations),
        reporting=len(found),
        received=received,
        expected=expected,
        share=share,
        share_text=percent_text(share),
    )
