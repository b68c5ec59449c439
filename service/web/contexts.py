"""Typed contexts of the web pages: each page renders exactly one of these dataclasses."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from sections.classes import WaterClass
from sections.parameters import parameter
from sections.registry import Registry, Section
from service.records import DayRecord, MonthRecord

__all__ = [
    "BulletinPageContext",
    "ChartLine",
    "ChartPoint",
    "ChartTick",
    "ClassCount",
    "DailyPageContext",
    "DailyRow",
    "DayCell",
    "ExceedanceChance",
    "ForecastChart",
    "ForecastPanel",
    "MonthCell",
    "ParameterCount",
    "SectionPageContext",
    "SectionRow",
    "SectionsPageContext",
    "day_cell",
    "marks_text",
    "month_cell",
    "percent_text",
    "pollutant_names",
    "section_row",
]

WATER_BODY_ZH = {"river": "河流", "lake": "湖库"}
LEVEL_ZH = {"national": "国考", "provincial": "省考", "city": "市考", "reference": "对照"}


@dataclass(frozen=True)
class SectionRow:
    """One section as a row of the section list."""

    id: str = field(metadata={"help": "断面 id"})
    name: str = field(metadata={"help": "断面名称"})
    confirmed: bool = field(metadata={"help": "名称是否经公开来源核实"})
    river: str = field(metadata={"help": "河流或湖泊"})
    water_body: str = field(metadata={"help": "水体类型（中文）"})
    level: str = field(metadata={"help": "断面级别（中文）"})
    unit_name: str = field(metadata={"help": "考核单位名称，对照断面为空"})
    upstream_name: str = field(metadata={"help": "上游断面名称"})
    target: WaterClass = field(metadata={"help": "当前目标类别"})
    station_mn: str = field(metadata={"help": "自动站 MN"})
    lon: float = field(metadata={"help": "经度"})
    lat: float = field(metadata={"help": "纬度"})
    note: str = field(metadata={"help": "说明（含假设）"})


@dataclass(frozen=True)
class SectionsPageContext:
    """The first page: every section of the registry."""

    title: str = field(metadata={"help": "页面标题"})
    registry_source: str = field(metadata={"help": "名录文件"})
    rows: tuple[SectionRow, ...] = field(metadata={"help": "断面列表"})
    unit_count: int = field(metadata={"help": "考核单位数"})
    assessed_count: int = field(metadata={"help": "考核断面数"})
    observation_count: int = field(metadata={"help": "数据库中观测值数量"})


@dataclass(frozen=True)
class ParameterCount:
    """How many observations of one parameter a section has."""

    key: str = field(metadata={"help": "参数键"})
    name_zh: str = field(metadata={"help": "参数名称"})
    unit: str = field(metadata={"help": "单位"})
    count: int = field(metadata={"help": "观测值数量"})


@dataclass(frozen=True)
class SectionPageContext:
    """One section's page."""

    title: str = field(metadata={"help": "页面标题"})
    section: SectionRow = field(metadata={"help": "断面"})
    targets: tuple[tuple[int, WaterClass], ...] = field(metadata={"help": "目标类别（起始年份）"})
    standards: tuple[tuple[str, float], ...] = field(metadata={"help": "单独标准 mg/L"})
    parameter_counts: tuple[ParameterCount, ...] = field(metadata={"help": "各参数观测数"})
    first_observation: dt.datetime | None = field(metadata={"help": "最早观测"})
    last_observation: dt.datetime | None = field(metadata={"help": "最新观测"})
    daily: tuple[DayCell, ...] = field(
        metadata={"help": "最近有评价结果的各日类别（由早到晚，至多 daily_limit 天）"}
    )
    daily_limit: int = field(metadata={"help": "逐日类别条带显示的最多天数"})
    monthly_year: int | None = field(metadata={"help": "月度类别所属年份；无月度结果为空"})
    monthly: tuple[MonthCell, ...] = field(metadata={"help": "该年 1–12 月的月度类别"})
    forecasts: tuple[ForecastPanel, ...] = field(
        metadata={"help": "各参数最新一次超标预报（预报参数顺序）；尚无预报为空"}
    )


def section_row(registry: Registry, section: Section, *, on: dt.date) -> SectionRow:
    """Build the list row of a section, with names resolved through the registry."""
    unit_name = registry.unit(section.assessed_unit).name if section.assessed_unit else ""
    upstream_name = registry.section(section.upstream).name if section.upstream else ""
    return SectionRow(
        id=section.id,
        name=section.name,
        confirmed=section.confirmed,
        river=section.river,
        water_body=WATER_BODY_ZH[section.water_body],
        level=LEVEL_ZH[section.level],
        unit_name=unit_name,
        upstream_name=upstream_name,
        target=section.target_class(on),
        station_mn=section.station_mn or "",
        lon=section.lon,
        lat=section.lat,
        note=section.note,
    )


@dataclass(frozen=True)
class VersionRow:
    """One issued version of a month's statement."""

    version: int = field(metadata={"help": "版本号"})
    content_hash: str = field(metadata={"help": "内容摘要（SHA-256）"})
    issued_at: str = field(metadata={"help": "签发时间（北京时间）"})
    changes: int = field(metadata={"help": "较上一版变动行数"})
    appeals: tuple[int, ...] = field(
        default=(), metadata={"help": "因办结申诉而签发本版的申诉编号（本版差异含所申诉的行）"}
    )


@dataclass(frozen=True)
class CompensationPageContext:
    """A month's compensation statement page (city summary or one unit)."""

    title: str = field(metadata={"help": "页面标题"})
    month: str = field(metadata={"help": "月份 YYYY-MM"})
    unit: str | None = field(metadata={"help": "考核单位 id；全市通报为空"})
    unit_name: str | None = field(metadata={"help": "考核单位名称"})
    shown_version: int | None = field(metadata={"help": "所示版本；草稿为空"})
    versions: tuple[VersionRow, ...] = field(metadata={"help": "已签发版本"})
    units: tuple[tuple[str, str], ...] = field(metadata={"help": "考核单位（id, 名称）"})
    downloads: tuple[tuple[str, str], ...] = field(metadata={"help": "下载链接（格式, 地址）"})
    statement_html: str = field(metadata={"help": "通报正文 HTML（已转义的模板输出）"})
    changes: tuple[str, ...] = field(metadata={"help": "所示版本较上一版的变动说明"})


# --- daily and monthly classes -----------------------------------------------------------------


def pollutant_names(keys: Iterable[str] | None) -> tuple[str, ...]:
    """Chinese names of parameter keys (``nh3n`` → 氨氮); an unknown key is shown as it is."""
    names = []
    for key in keys or ():
        try:
            names.append(parameter(str(key)).name_zh)
        except LookupError:
            names.append(str(key))
    return tuple(names)


def percent_text(share: float | None, *, decimals: int = 0) -> str:
    """A share 0–1 as a percentage (``0.8`` → ``80%``); ``—`` when unknown."""
    return "—" if share is None else f"{share * 100:.{decimals}f}%"


def marks_text(record: DayRecord | MonthRecord) -> str:
    """What a period value rests on, for a tooltip: lower bounds, suspect values, "<DL", lab."""
    parts = []
    bound = pollutant_names(record.lower_bound)
    if bound:
        parts.append(f"≥ 含超测上限读数（下限值，待复核）：{'、'.join(bound)}")
    if record.suspect:
        listed = "、".join(
            f"{n} {c} 个"
            for n, c in zip(pollutant_names(record.suspect), record.suspect.values(), strict=True)
        )
        parts.append(f"含待复核可疑值：{listed}")
    if isinstance(record, MonthRecord):
        censored = pollutant_names(record.censored)
        if censored:
            parts.append(f"<DL 低于检出限：{'、'.join(censored)}")
        manual = [k for k, v in record.sources.items() if v == "manual"]
        if manual:
            parts.append(f"手工监测：{'、'.join(pollutant_names(manual))}")
    return "".join(f"；{p}" for p in parts)


@dataclass(frozen=True)
class DayCell:
    """One day of a section's daily strip."""

    day: dt.date = field(metadata={"help": "日期（北京时间）"})
    klass: WaterClass | None = field(metadata={"help": "当日水质类别；数据不足为空"})
    meets_target: bool | None = field(metadata={"help": "是否达到当日目标类别；数据不足为空"})
    main_pollutants: tuple[str, ...] = field(metadata={"help": "主要污染指标（中文，劣于Ⅲ类时）"})
    completeness: float = field(metadata={"help": "自动站五项考核指标中有有效日均值的比例 0–1"})
    title: str = field(metadata={"help": "悬停提示：日期、类别、主要污染指标、完整率"})


def day_cell(day: dt.date, record: DayRecord) -> DayCell:
    """A daily record as a cell of the strip, with its tooltip text."""
    klass = record.water_class
    names = pollutant_names(record.main_pollutants)
    completeness = record.completeness
    if klass is None:
        missing = "、".join(pollutant_names(record.insufficient)) or "无有效数据"
        title = f"{day:%Y-%m-%d} 数据不足（{missing}）"
    else:
        title = (
            f"{day:%Y-%m-%d} {klass.label}类（{klass.quality}）；"
            f"主要污染指标：{'、'.join(names) or '无'}；完整率 {percent_text(completeness)}"
            f"{marks_text(record)}"
        )
    return DayCell(day, klass, record.meets_target, names, completeness, title)


@dataclass(frozen=True)
class MonthCell:
    """One month of a section's monthly classes."""

    month: int = field(metadata={"help": "月份 1–12"})
    klass: WaterClass | None = field(metadata={"help": "月度水质类别；无结果或不评价为空"})
    status_text: str = field(metadata={"help": "不评价原因（断流、结冰……）、“数据不足”或“未汇总”"})
    main_pollutants: tuple[str, ...] = field(metadata={"help": "主要污染指标（中文）"})
    title: str = field(metadata={"help": "悬停提示"})


def month_cell(year: int, month: int, record: MonthRecord | None) -> MonthCell:
    """A monthly record (or its absence) as a cell of the year's row."""
    if record is None:
        return MonthCell(month, None, "未汇总", (), f"{year}年{month}月 未汇总")
    klass = record.water_class
    names = pollutant_names(record.main_pollutants)
    if klass is None:
        status = record.status_text or "数据不足"
        return MonthCell(month, None, status, names, f"{year}年{month}月 {status}")
    title = (
        f"{year}年{month}月 {klass.label}类（{klass.quality}）；"
        f"主要污染指标：{'、'.join(names) or '无'}{marks_text(record)}"
    )
    return MonthCell(month, klass, "", names, title)


@dataclass(frozen=True)
class DailyRow:
    """One section on the daily overview."""

    id: str = field(metadata={"help": "断面 id"})
    name: str = field(metadata={"help": "断面名称"})
    confirmed: bool = field(metadata={"help": "名称是否经公开来源核实"})
    river: str = field(metadata={"help": "河流或湖泊"})
    level: str = field(metadata={"help": "断面级别（中文）"})
    klass: WaterClass | None = field(metadata={"help": "当日水质类别；数据不足或无结果为空"})
    target: WaterClass = field(metadata={"help": "当日目标类别"})
    meets_target: bool | None = field(metadata={"help": "是否达到目标类别；无类别为空"})
    main_pollutants: tuple[str, ...] = field(metadata={"help": "主要污染指标（中文，劣于Ⅲ类时）"})
    completeness: float | None = field(metadata={"help": "考核指标完整率 0–1；无结果为空"})
    completeness_text: str = field(metadata={"help": "完整率百分数，如 80%"})
    note: str = field(metadata={"help": "无类别时的说明：数据不足（缺哪些指标）或无结果"})


@dataclass(frozen=True)
class ClassCount:
    """How many sections are in one class on a day."""

    klass: WaterClass = field(metadata={"help": "水质类别"})
    count: int = field(metadata={"help": "断面数"})


@dataclass(frozen=True)
class DailyPageContext:
    """The daily overview: every section's class on one day."""

    title: str = field(metadata={"help": "页面标题"})
    day: dt.date = field(metadata={"help": "所示日期（北京时间）"})
    has_results: bool = field(metadata={"help": "该日是否有评价结果"})
    rows: tuple[DailyRow, ...] = field(metadata={"help": "各断面（名录顺序）"})
    class_counts: tuple[ClassCount, ...] = field(metadata={"help": "各类别断面数（Ⅰ至劣Ⅴ）"})
    classified: int = field(metadata={"help": "有类别的断面数"})
    insufficient: int = field(metadata={"help": "数据不足或无结果的断面数"})
    meets_target: int = field(metadata={"help": "达到目标类别的断面数"})
    previous_day: dt.date | None = field(metadata={"help": "前一个有结果的日期"})
    next_day: dt.date | None = field(metadata={"help": "后一个有结果的日期"})
    run_command: str = field(metadata={"help": "生成该日结果的命令"})


@dataclass(frozen=True)
class BulletinPageContext:
    """A month's water-quality bulletin (水质月报) shown inside the site."""

    title: str = field(metadata={"help": "页面标题"})
    month: str = field(metadata={"help": "月份 YYYY-MM"})
    months: tuple[str, ...] = field(metadata={"help": "已汇总的月份 YYYY-MM（新到旧）"})
    downloads: tuple[tuple[str, str], ...] = field(metadata={"help": "下载链接（格式, 地址）"})
    bulletin_html: str = field(metadata={"help": "月报正文 HTML（已转义的模板输出）"})


# --- exceedance forecasts ----------------------------------------------------------------------


@dataclass(frozen=True)
class ChartPoint:
    """A point of a chart, in SVG user units."""

    x: float = field(metadata={"help": "横坐标 [px]"})
    y: float = field(metadata={"help": "纵坐标 [px]（向下）"})
    title: str = field(metadata={"help": "悬停提示：时间与数值"})


@dataclass(frozen=True)
class ChartTick:
    """A labelled tick of an axis."""

    position: float = field(metadata={"help": "位置 [px]：横轴为 x，纵轴为 y"})
    label: str = field(metadata={"help": "刻度文字"})


@dataclass(frozen=True)
class ChartLine:
    """A horizontal reference line (a target-class limit)."""

    y: float = field(metadata={"help": "纵坐标 [px]"})
    label: str = field(metadata={"help": "说明，如 目标限值 1 mg/L"})


@dataclass(frozen=True)
class ForecastChart:
    """The geometry of a forecast chart, drawn as inline SVG by the template (no script)."""

    width: int = field(metadata={"help": "宽 [px]（viewBox）"})
    height: int = field(metadata={"help": "高 [px]（viewBox）"})
    left: float = field(metadata={"help": "绘图区左边界 [px]"})
    top: float = field(metadata={"help": "绘图区上边界 [px]"})
    right: float = field(metadata={"help": "绘图区右边界 [px]"})
    bottom: float = field(metadata={"help": "绘图区下边界 [px]"})
    observed: tuple[str, ...] = field(
        metadata={"help": "观测值折线（4 小时有效均值），每段连续数据一条 points 串"}
    )
    observed_points: tuple[ChartPoint, ...] = field(metadata={"help": "观测值各点"})
    median: str = field(metadata={"help": "预报中位数折线 points 串"})
    band80: str = field(metadata={"help": "80 % 区间多边形 points 串"})
    band95: str = field(metadata={"help": "95 % 区间多边形 points 串"})
    limits: tuple[ChartLine, ...] = field(metadata={"help": "目标类别限值线（pH 有上下两条）"})
    origin_x: float = field(metadata={"help": "预报起点的横坐标 [px]"})
    x_ticks: tuple[ChartTick, ...] = field(metadata={"help": "横轴刻度（每日 0 时，MM-DD）"})
    y_ticks: tuple[ChartTick, ...] = field(metadata={"help": "纵轴刻度"})
    description: str = field(metadata={"help": "图的文字说明（无障碍）"})


@dataclass(frozen=True)
class ExceedanceChance:
    """The probability of exceedance at one horizon."""

    horizon_h: int = field(metadata={"help": "预见期 [h]"})
    target_at: dt.datetime = field(metadata={"help": "目标时间（北京时间）"})
    p_exceed: float | None = field(metadata={"help": "超标概率 0–1；无限值为空"})
    text: str = field(metadata={"help": "概率百分数，如 12%；无限值为 —"})
    high: bool = field(metadata={"help": "概率达到提示门槛（醒目显示）"})


@dataclass(frozen=True)
class ForecastPanel:
    """One parameter's newest forecast on the section page."""

    parameter: str = field(metadata={"help": "参数键"})
    name_zh: str = field(metadata={"help": "参数名称"})
    unit: str = field(metadata={"help": "单位（pH 为空）"})
    issued_at: dt.datetime = field(metadata={"help": "预报起点（北京时间）"})
    created_at: dt.datetime = field(metadata={"help": "发布时间（北京时间）"})
    data_start: dt.datetime = field(metadata={"help": "训练数据起（北京时间）"})
    data_end: dt.datetime = field(metadata={"help": "训练数据止（北京时间）"})
    threshold_label: str = field(metadata={"help": "超标的含义，如 > 1 mg/L；无限值为空"})
    chances: tuple[ExceedanceChance, ...] = field(metadata={"help": "24、48、72 h 的超标概率"})
    selected: str = field(metadata={"help": "24 h 所选模型"})
    models: tuple[str, ...] = field(metadata={"help": "各预见期所用模型（去重，按预见期顺序）"})
    why: str = field(metadata={"help": "选用模型的理由"})
    model_version: str = field(metadata={"help": "预报版本"})
    stale: bool = field(metadata={"help": "全部目标时间已过：预报已过时"})
    chart: ForecastChart = field(metadata={"help": "预报图"})
