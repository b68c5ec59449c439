"""The monthly water-quality bulletin (水质月报): context, HTML and PDF.

The bulletin is made from what ``qingliu run monthly`` stored (the month's summary and every
section's monthly result); nothing is recomputed, so its numbers are the API's
(``/api/summary?month=``). It follows the form of the bulletins Chinese bureaus publish, map
and charts included: the figures are inline SVG drawn on the server
(:mod:`service.bulletin_figures`), which WeasyPrint renders into the PDF as they are.

::

    衡水市 YYYY年M月 地表水环境质量月报
    一、总体情况     assessable sections, Class Ⅲ or better and the share against ≥ 69.2 %,
                     劣Ⅴ, the status word, 衡水湖 (class, TN apart, trophic state), year on year;
                     图1 the share of every rolled-up month of the year against the target
                     line, 图2 the number of sections in each class Ⅰ…劣Ⅴ (and not assessed)
    二、各断面水质   one row per assessed section: river, target, class, meets target, main
                     pollutants, CODMn / NH3-N / TP; the city share against the target;
                     图3 示意图 [A]: every assessed section at its position in the colour of its
                     monthly class, ringed when it misses its target, 衡水湖 in the lake's class
    三、衡水湖       the lake as a whole: class, TN class, TLI, trophic state; 图4 the lake's
                     TLI(Σ) of every rolled-up month with the trophic grade bounds
    四、说明         automatic-station data are unaudited; [A] marks assumptions
    (issuer)         the issuing office (``QINGLIU_ISSUER_OFFICE``, [A] when the default),
                     the issue number (YYYY年第M期) and the date of the roll-up

References
----------
.. [1] domain.md §2 (targets of the city's 14th Five-Year plan) and §4 (evaluation method).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal

from sqlalchemy import Engine

from sections.classes import WaterClass
from sections.dates import parse_month
from sections.detection import censored_label
from sections.evaluation import round_half_even
from sections.parameters import parameter
from sections.registry import Registry, Section
from sections.standards import precision
from service.bulletin_figures import BulletinFigures, bulletin_figures
from service.db import results
from service.errors import MonthNotRolledUp, UnavailableError
from service.jobs.monthly import assessed_rivers, provisional_as_of, stored_summary
from service.records import LAKE_PREFIX, LakeRecord, MonthRecord, MonthSummary
from service.statements.letterhead import Letterhead, letterhead
from service.statements.render import WEASYPRINT_HELP
from service.time import BEIJING, beijing_today
from service.web.contexts import LEVEL_ZH, pollutant_names
from service.web.templates import template_environment

__all__ = [
    "BULLETIN_TEMPLATE",
    "CITY",
    "KEY_VALUES",
    "BulletinContext",
    "BulletinRow",
    "LakeParagraph",
    "MonthNotRolledUp",
    "TrendParagraph",
    "bulletin_context",
    "render_bulletin_html",
    "render_bulletin_pdf",
]

BULLETIN_TEMPLATE = "bulletins/month.html"
CITY = "衡水市"
KEY_VALUES = ("codmn", "nh3n", "tp")
"""The key values shown per section: 高锰酸盐指数, 氨氮, 总磷 [mg/L]."""
LAKE_VALUES = ("codmn", "nh3n", "tp", "tn", "chla")
OTHER_DECIMALS = {"chla": 1, "sd": 2}
"""Shown decimals of parameters without a GB 3838 evaluation precision (chla mg/m³, SD m)."""
ASSUMPTIONS = (
    "标注 [A] 的断面名称尚未经公开来源核实，其名称、考核单位与目标类别为假设，待生态环境局核实。",
    "类别显示颜色（Ⅰ–Ⅱ类蓝、Ⅲ类绿、Ⅳ类黄、Ⅴ类橙）为惯例假设 [A]，劣Ⅴ类红色为通行做法。",
    "水质状况按断面比例分级的阈值（优良比例 75%）可配置，原文或为 60% [A]。",
)


@dataclass(frozen=True)
class BulletinRow:
    """One section's line of the bulletin table."""

    section: str = field(metadata={"help": "断面 id"})
    name: str = field(metadata={"help": "断面名称"})
    confirmed: bool = field(metadata={"help": "名称是否经公开来源核实（否则标 [A]）"})
    river: str = field(metadata={"help": "所在河流或湖泊"})
    level: str = field(metadata={"help": "断面级别（国考、省考……）"})
    unit_name: str = field(metadata={"help": "考核单位名称；对照断面为空"})
    target: WaterClass = field(metadata={"help": "本月目标类别"})
    klass: WaterClass | None = field(metadata={"help": "月度水质类别；不评价或数据不足为空"})
    status_text: str = field(metadata={"help": "无类别的原因：断流、无水、结冰、剔除或数据不足"})
    meets_target: bool | None = field(metadata={"help": "是否达到目标类别；无类别为空"})
    main_pollutants: tuple[str, ...] = field(metadata={"help": "主要污染指标（中文，劣于Ⅲ类时）"})
    values: tuple[str, ...] = field(
        metadata={"help": "高锰酸盐指数、氨氮、总磷月均值 mg/L（按评价精度修约）；无值为 —"}
    )
    counted: bool = field(metadata={"help": "是否计入全市优良比例（国省考河流断面）"})


@dataclass(frozen=True)
class LakeParagraph:
    """衡水湖 as a whole: the mean of its points, classified as one lake, TN apart."""

    name: str = field(metadata={"help": "湖泊名称"})
    points: tuple[str, ...] = field(metadata={"help": "参与评价的点位名称"})
    klass: WaterClass | None = field(metadata={"help": "湖体水质类别（总氮不参与）；无数据为空"})
    target: WaterClass | None = field(metadata={"help": "湖体目标类别"})
    meets_target: bool | None = field(metadata={"help": "是否达到目标类别"})
    tn_class: WaterClass | None = field(metadata={"help": "总氮单独评价的类别"})
    tli: float | None = field(metadata={"help": "综合营养状态指数 TLI(Σ)"})
    tli_text: str = field(metadata={"help": "TLI(Σ) 一位小数；无值为 —"})
    trophic_state: str | None = field(metadata={"help": "营养状态：贫营养……重度富营养"})
    main_pollutants: tuple[str, ...] = field(metadata={"help": "主要污染指标（中文）"})
    values: tuple[tuple[str, str, str], ...] = field(
        metadata={"help": "主要指标月均值（名称, 值, 单位），按评价精度修约"}
    )


@dataclass(frozen=True)
class TrendParagraph:
    """The change against the same month last year (only when that month was rolled up)."""

    previous_month: str = field(metadata={"help": "上年同月，如 2024年3月"})
    previous_share_text: str = field(metadata={"help": "上年同月优良比例；无值为 —"})
    previous_status: str | None = field(metadata={"help": "上年同月水质状况"})
    wording: str | None = field(metadata={"help": "变化评价：无明显变化、有所好转……"})
    changes: tuple[str, ...] = field(metadata={"help": "类别有变化的断面，如“小范桥 Ⅳ→Ⅲ类”"})


@dataclass(frozen=True)
class BulletinContext:
    """Everything the monthly bulletin shows (``templates/bulletins/month.html``)."""

    title: str = field(metadata={"help": "标题：衡水市 YYYY年M月 地表水环境质量月报"})
    city: str = field(metadata={"help": "城市名称"})
    month: str = field(metadata={"help": "月份 YYYY-MM"})
    month_label: str = field(metadata={"help": "月份，如 2025年3月"})
    computed_at: str = field(metadata={"help": "月度汇总时间（北京时间）"})
    sections: int = field(metadata={"help": "参与比例评价的国省考河流断面数"})
    assessable: int = field(metadata={"help": "其中可评价（有月度类别、未断流等）的断面数"})
    not_assessable: tuple[str, ...] = field(
        metadata={"help": "不参与评价的断面及原因，如“滏东排河武邑县出境（断流）”"}
    )
    good: int = field(metadata={"help": "达到或优于Ⅲ类的断面数"})
    good_share: float | None = field(metadata={"help": "优良（Ⅰ–Ⅲ类）比例 0–1；无可评价断面为空"})
    good_share_text: str = field(metadata={"help": "优良比例百分数（一位小数）；无值为 —"})
    target_share: float = field(metadata={"help": "优良比例目标 0–1（2025 年 ≥ 69.2%）"})
    target_share_text: str = field(metadata={"help": "优良比例目标百分数"})
    meets_share_target: bool | None = field(metadata={"help": "是否达到优良比例目标"})
    worse_than_v: int = field(metadata={"help": "劣Ⅴ类断面数（目标为 0）"})
    worse_than_v_names: tuple[str, ...] = field(metadata={"help": "劣Ⅴ类断面名称"})
    status: str | None = field(
        metadata={"help": "全市河流水质状况（优……重度污染）；可评价断面少于 5 个为空"}
    )
    lake: LakeParagraph | None = field(metadata={"help": "衡水湖湖体评价；名录无湖泊为空"})
    trend: TrendParagraph | None = field(metadata={"help": "与上年同月比较；上年同月未汇总为空"})
    rows: tuple[BulletinRow, ...] = field(metadata={"help": "各考核断面与湖泊点位（名录顺序）"})
    reference_rows: tuple[BulletinRow, ...] = field(
        metadata={"help": "入境对照断面（不考核，仅供参考）"}
    )
    key_values: tuple[str, ...] = field(metadata={"help": "表中主要指标的中文名称"})
    assumptions: tuple[str, ...] = field(metadata={"help": "月报中作为假设 [A] 的内容"})
    standalone: bool = field(
        default=True,
        metadata={"help": "True：独立文档（打印、PDF）；False：嵌入网站页面的片段"},
    )
    issuer: str = field(default="", metadata={"help": "发布机关（落款）"})
    issuer_assumed: bool = field(
        default=False, metadata={"help": "发布机关为缺省值（假设，标 [A]）"}
    )
    issue_number: str = field(default="", metadata={"help": "期号，如 2025年第3期"})
    issue_date: str = field(
        default="", metadata={"help": "发布日期（月度汇总日，北京时间），如 2025年4月1日"}
    )
    figures: BulletinFigures | None = field(
        default=None,
        metadata={"help": "图：各月比例、类别分布、断面示意图、湖泊 TLI（无则不画图）"},
    )


def _value_text(key: str, value: float | None, record: MonthRecord | LakeRecord) -> str:
    """A monthly mean at its evaluation precision (round half to even); ``—`` when missing.

    Marks from a section's record: "≥" when an over-range reading entered it (a lower bound),
    "<DL" written as "<limit" when every laboratory sample was below its detection limit, "*"
    when it rests on suspect values that wait for review. The lake's mean carries no marks.
    """
    if value is None:
        return "—"
    marks = record if isinstance(record, MonthRecord) else None
    if marks is not None and key in marks.censored:
        return censored_label(Decimal(repr(float(value))) * 2, True)
    try:
        decimals = precision(key)
    except LookupError:
        decimals = OTHER_DECIMALS.get(key, 2)
    text = f"{float(round_half_even(float(value), decimals)):.{decimals}f}"
    if marks is not None and key in marks.lower_bound:
        text = "≥" + text
    if marks is not None and marks.suspect.get(key):
        text += "*"
    return text


def _class(number: int | None) -> WaterClass | None:
    return None if number is None else WaterClass(number)


def _month_label(month: dt.date) -> str:
    return f"{month.year}年{month.month}月"


def _row(
    registry: Registry,
    section: Section,
    record: MonthRecord | LakeRecord | None,
    *,
    counted: bool,
    month: dt.date,
) -> BulletinRow:
    if not isinstance(record, MonthRecord):  # no result (a lake's record is not a section's)
        record = MonthRecord(section=section.id, month=f"{month:%Y-%m}")
    klass = record.water_class
    status = "" if klass is not None else (record.status_text or "数据不足")
    target = record.target_class_number
    return BulletinRow(
        section=section.id,
        name=section.name,
        confirmed=section.confirmed,
        river=section.river,
        level=LEVEL_ZH[section.level],
        unit_name=registry.unit(section.assessed_unit).name if section.assessed_unit else "",
        target=WaterClass(target) if target is not None else section.target_class(month),
        klass=klass,
        status_text=status,
        meets_target=record.meets_target,
        main_pollutants=pollutant_names(record.main_pollutants),
        values=tuple(_value_text(k, record.values.get(k), record) for k in KEY_VALUES),
        counted=counted,
    )


def _lake(
    registry: Registry, summary: MonthSummary, records: dict[str, MonthRecord | LakeRecord]
) -> LakeParagraph | None:
    lake = summary.lake
    if lake is None:
        return None
    found = records.get(LAKE_PREFIX + lake.name)
    record = (
        found
        if isinstance(found, LakeRecord)
        else LakeRecord(
            section=LAKE_PREFIX + lake.name, name=lake.name, points=(), month=summary.month
        )
    )
    points = tuple(registry.section(p).name for p in record.points if _known(registry, p))
    shown = tuple(
        (parameter(k).name_zh, _value_text(k, value, record), parameter(k).unit)
        for k in LAKE_VALUES
        if (value := record.values.get(k)) is not None
    )
    return LakeParagraph(
        name=lake.name,
        points=points,
        klass=_class(lake.class_number),
        target=_class(record.target_class_number),
        meets_target=lake.meets_target,
        tn_class=_class(lake.tn_class_number),
        tli=lake.tli,
        tli_text="—" if lake.tli is None else f"{lake.tli:.1f}",
        trophic_state=lake.trophic_state,
        main_pollutants=pollutant_names(record.main_pollutants),
        values=shown,
    )


def _known(registry: Registry, section_id: str) -> bool:
    try:
        registry.section(section_id)
    except KeyError:
        return False
    return True


def _name(registry: Registry, section_id: str) -> str:
    return registry.section(section_id).name if _known(registry, section_id) else section_id


def _share_text(share: float | None) -> str:
    return "—" if share is None else f"{share:.1%}"


def _trend(registry: Registry, summary: MonthSummary) -> TrendParagraph | None:
    trend = summary.trend
    if trend is None:
        return None
    previous = parse_month(trend.previous_month)
    changes = tuple(
        f"{_name(registry, c.section)} {WaterClass(c.before).label}→{WaterClass(c.after).label}类"
        for c in trend.section_changes
    )
    return TrendParagraph(
        previous_month=_month_label(previous),
        previous_share_text=_share_text(trend.previous_good_share),
        previous_status=trend.previous_status,
        wording=trend.wording,
        changes=changes,
    )


def bulletin_context(
    engine: Engine, registry: Registry, month: dt.date, *, head: Letterhead | None = None
) -> BulletinContext:
    """Build the bulletin of a month from its stored roll-up.

    Parameters
    ----------
    engine : Engine
        The database.
    registry : Registry
        The section registry (names, rivers, units; registry order is table order).
    month : date
        Any day of the month.
    head : Letterhead, optional
        The issuing office; default :func:`~service.statements.letterhead.letterhead` (the
        settings in the environment).

    Raises
    ------
    MonthNotRolledUp
        (a :class:`~service.errors.NotFoundError`) when the month has not been rolled up; the
        message names the command that does it.
    """
    first = month.replace(day=1)
    summary = stored_summary(engine=engine, month=first)
    if summary is None:
        raise MonthNotRolledUp(
            f"{first:%Y-%m} 尚未月度汇总，无法生成水质月报；请先运行 qingliu run monthly --month "
            f"{first:%Y-%m} / the month has not been rolled up yet"
        )
    records = results.month_results(engine=engine, month=first)
    computed = results.summary_computed_at(engine=engine, month=first)
    counted = {s.id for s in assessed_rivers(registry)}
    assessed = [s for s in registry.sections if not s.is_reference]
    references = [s for s in registry.sections if s.is_reference and s.id in records]

    def reason(section_id: str) -> str:
        record = records.get(section_id)
        text = record.status_text if isinstance(record, MonthRecord) else None
        return f"{_name(registry, section_id)}（{text or '数据不足'}）"

    share = summary.good_share
    label = _month_label(first)
    issuer = head or letterhead(registry=registry)
    local = None if computed is None else computed.astimezone(BEIJING)
    as_of = provisional_as_of(first, computed, beijing_today())
    provisional = "" if as_of is None else f"（截至 {as_of.month}月{as_of.day}日，暂定）"
    return BulletinContext(
        title=f"{CITY} {label} 地表水环境质量月报{provisional}",
        city=CITY,
        month=f"{first:%Y-%m}",
        month_label=label,
        computed_at="—" if local is None else f"{local:%Y-%m-%d %H:%M}",
        sections=summary.sections,
        assessable=summary.assessable,
        not_assessable=tuple(reason(s) for s in summary.not_assessable),
        good=summary.good,
        good_share=share,
        good_share_text=_share_text(share),
        target_share=summary.target_share,
        target_share_text=_share_text(summary.target_share),
        meets_share_target=summary.meets_share_target,
        worse_than_v=summary.worse_than_v,
        worse_than_v_names=tuple(_name(registry, s) for s in summary.worse_than_v_sections),
        status=summary.status,
        lake=_lake(registry, summary, records),
        trend=_trend(registry, summary),
        rows=tuple(
            _row(registry, s, records.get(s.id), counted=s.id in counted, month=first)
            for s in assessed
        ),
        reference_rows=tuple(
            _row(registry, s, records.get(s.id), counted=False, month=first) for s in references
        ),
        key_values=pollutant_names(KEY_VALUES),
        assumptions=ASSUMPTIONS,
        issuer=issuer.office,
        issuer_assumed=issuer.office_assumed,
        issue_number=f"{first.year}年第{first.month}期",
        issue_date="" if local is None else f"{local.year}年{local.month}月{local.day}日",
        figures=bulletin_figures(
            engine=engine, registry=registry, month=first, summary=summary, records=records
        ),
    )


def render_bulletin_html(context: BulletinContext, *, standalone: bool = True) -> str:
    """Render the bulletin as HTML.

    Parameters
    ----------
    context : BulletinContext
        From :func:`bulletin_context`.
    standalone : bool
        True: a document of its own (``<html>`` with print CSS: A4, CJK fonts), for download,
        printing and PDF. False: an HTML fragment (one ``<article>``) to embed in a page.
    """
    shown = replace(context, standalone=standalone)
    variables = {f.name: getattr(shown, f.name) for f in fields(shown)}
    return template_environment().get_template(BULLETIN_TEMPLATE).render(**variables)


def render_bulletin_pdf(context: BulletinContext) -> bytes:
    """Render the bulletin as PDF (A4) from its standalone HTML.

    Raises
    ------
    UnavailableError
        When weasyprint or its system libraries (Pango) cannot be loaded; the message says what
        to install.
    """
    html = render_bulletin_html(context, standalone=True)
    try:
        import weasyprint
    except (ImportError, OSError) as exc:
        raise UnavailableError(f"{WEASYPRINT_HELP} ({type(exc).__name__}: {exc})") from None
    document: bytes = weasyprint.HTML(string=html).write_pdf()
    return document
