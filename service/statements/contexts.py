"""Typed contexts of the statement templates, and the builders that fill them.

Each statement template renders exactly one context dataclass (``month.html`` →
:class:`MonthStatementContext`, ``unit.html`` → :class:`UnitStatementContext`); every field has
help text, checked by a test. Every number a template shows is already text here, formatted
exactly from the statement's ``Decimal`` values (never through ``float``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cache

from compensation.engine import BASIS_WORDS, FACTOR_NAMES, STATUS_WORDS
from compensation.rules import rule_sets
from compensation.statement import (
    WAN,
    DeductionLine,
    EventLine,
    FactorStatus,
    MonthlyStatement,
    UnitStatement,
)
from sections.standards import precision
from service.statements.letterhead import Letterhead
from service.time import BEIJING

__all__ = [
    "COUNTING_WORDS",
    "EXEMPT_WORDS",
    "DeductionRow",
    "DocumentHead",
    "EventRow",
    "ExemptRow",
    "FactorCell",
    "FactorColumn",
    "IssueStamp",
    "MonthStatementContext",
    "RewardRow",
    "RuleSetBlock",
    "SectionRow",
    "UnitDetail",
    "UnitStatementContext",
    "assumption_sentence",
    "decimal_text",
    "document_head",
    "evidence_text",
    "factor_days_text",
    "factor_name",
    "factor_names",
    "issue_stamp",
    "marks_text",
    "money_text",
    "month_context",
    "month_label",
    "multiple_text",
    "reported_text",
    "sources_text",
    "status_text",
    "unit_context",
    "unit_detail",
    "value_text",
    "yuan_text",
]

EXEMPT_WORDS: Mapping[str, str] = {
    **STATUS_WORDS,
    "not_increased": "未增加，不扣缴",
    "insufficient_data": "数据不足，未计算",
}
"""Words of the exemption statuses; an unknown status is shown as its code."""

DASH = "—"
DIGEST_LENGTH = 12
"""Characters of the content hash shown on an issued statement."""


# --- formatting -------------------------------------------------------------------------------


def decimal_text(value: Decimal | None) -> str:
    """A measured or configured value exactly as the statement holds it; ``—`` for None.

    Examples
    --------
    >>> decimal_text(Decimal("0.50")), decimal_text(None)
    ('0.50', '—')
    """
    return DASH if value is None else format(value, "f")


def _normal(value: Decimal) -> Decimal:
    """Drop trailing zeros without changing the value (``210.00`` → ``210``)."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


def money_text(value: Decimal) -> str:
    """An amount in 万元, exact, without trailing zeros or separators.

    Examples
    --------
    >>> money_text(Decimal("210")), money_text(Decimal("12.50")), money_text(Decimal("0"))
    ('210', '12.5', '0')
    """
    return format(_normal(value), "f")


def yuan_text(value: Decimal) -> str:
    """An amount in 元, exact, with thousands separators.

    Examples
    --------
    >>> yuan_text(Decimal("2100000")), yuan_text(Decimal("125000.0")), yuan_text(Decimal("0.5"))
    ('2,100,000', '125,000', '0.5')
    """
    return format(_normal(value), ",f")


def month_label(month: dt.date) -> str:
    """``2025年3月``."""
    return f"{month.year}年{month.month}月"


def factor_name(factor: str) -> str:
    """The Chinese name of a factor key; an unknown key is shown as itself."""
    return FACTOR_NAMES.get(factor, factor)


def factor_names(factors: Iterable[str]) -> str:
    """Chinese names of factor keys joined by 、.

    Examples
    --------
    >>> factor_names(["codmn", "nh3n", "tp"])
    '高锰酸盐指数、氨氮、总磷'
    """
    return "、".join(factor_name(f) for f in factors)


def value_text(value: Decimal | None, *, lower_bound: bool = False) -> str:
    """A value exactly, with ``≥`` when it is a lower bound (an over-range reading entered it).

    Examples
    --------
    >>> value_text(Decimal("0.45"), lower_bound=True), value_text(Decimal("0.45"))
    ('≥0.45', '0.45')
    """
    text = decimal_text(value)
    return f"≥{text}" if lower_bound and value is not None else text


def marks_text(*, suspect: int = 0, lower_bound: bool = False, censored: bool = False) -> str:
    """What a figure rests on, in Chinese; empty when nothing is to be said.

    Examples
    --------
    >>> marks_text(suspect=3, lower_bound=True)
    '含超量程读数，数值为下限（≥）；含 3 个可疑值（QARTOD 3，未经复核剔除）'
    >>> marks_text()
    ''
    """
    parts = []
    if lower_bound:
        parts.append("含超量程读数，数值为下限（≥）")
    if censored:
        parts.append("含低于检出限的结果（<DL），按检出限的一半计")
    if suspect:
        parts.append(f"含 {suspect} 个可疑值（QARTOD 3，未经复核剔除）")
    return "；".join(parts)


def sources_text(sources: Iterable[str]) -> str:
    """The kinds of data a value was chosen from, in Chinese.

    Examples
    --------
    >>> sources_text(["auto_monthly_mean", "spot"])
    '自动站日均值月均值、抽测最高值'
    """
    return "、".join(BASIS_WORDS.get(s, s) for s in sources)


def factor_days_text(factor_days: Iterable[tuple[str, Iterable[dt.date]]]) -> str:
    """Per factor, the exceeding days of an event, in Chinese.

    Examples
    --------
    >>> d = dt.date
    >>> factor_days_text([("nh3n", [d(2025, 3, 10), d(2025, 3, 11)]), ("tp", [d(2025, 3, 11)])])
    '氨氮 03-10、03-11；总磷 03-11'
    """
    return "；".join(
        f"{factor_name(f)} " + "、".join(f"{day:%m-%d}" for day in days) for f, days in factor_days
    )


MULTIPLE_DECIMALS: Mapping[str, int] = {"tp": 3}
"""Decimals of an exceedance multiple in a document: 2, and 3 for TP (as bulletins print)."""


def _decimals(factor: str) -> int | None:
    try:
        return precision(factor)
    except LookupError:
        return None


def reported_text(value: Decimal | None, factor: str, *, lower_bound: bool = False) -> str:
    """A concentration at the factor's reporting precision (round half to even); ``—`` for None.

    The precision is the evaluation precision of ``sections/data/precision.csv``; a factor
    without one is shown as the statement holds it. ``≥`` marks a lower bound.

    Examples
    --------
    >>> reported_text(Decimal("2"), "nh3n"), reported_text(Decimal("0.3"), "tp")
    ('2.00', '0.300')
    >>> reported_text(Decimal("52.45"), "cod", lower_bound=True)
    '≥52.4'
    """
    if value is None:
        return DASH
    decimals = _decimals(factor)
    shown = value if decimals is None else value.quantize(Decimal(1).scaleb(-decimals),
                                                          rounding=ROUND_HALF_EVEN)  # fmt: skip
    text = format(shown, "f")
    return f"≥{text}" if lower_bound else text


def multiple_text(multiple: Decimal | None, factor: str) -> str:
    """An exceedance multiple to 2 decimals (3 for TP), round half to even; ``—`` for None.

    Examples
    --------
    >>> multiple_text(Decimal("0.333333"), "tn"), multiple_text(Decimal("0.2"), "tp")
    ('0.33', '0.200')
    """
    if multiple is None:
        return DASH
    decimals = MULTIPLE_DECIMALS.get(factor, 2)
    return format(multiple.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_EVEN), "f")


def status_text(status: FactorStatus) -> str:
    """The status of a section and factor in a document, its multiple rounded.

    Examples
    --------
    >>> m = Decimal("0.333333")
    >>> status_text(FactorStatus("s", "tn", "exceeds", "超标 0.333333 倍", multiple=m))
    '超标 0.33 倍'
    """
    if status.status == "exceeds" and status.multiple is not None:
        return f"超标 {multiple_text(status.multiple, status.factor)} 倍"
    if status.status == "not_increased" and status.multiple is not None:
        return f"超标 {multiple_text(status.multiple, status.factor)} 倍，未增加"
    if status.status == "no_standard":
        return "不考核"
    return status.text


_DAILY_REF = re.compile(r"^daily:[^:]+:(\d{4}-\d{2}-\d{2}):[^(]+(?:\((.*)\))?$")
_SUSPECT_NOTE = re.compile(r"（(\d+) 个可疑值）")


def evidence_text(refs: Iterable[str]) -> str:
    """What a value rests on, in Chinese, from its references (the raw trace stays in JSON/CSV).

    Daily automatic values are counted with their first and last day; laboratory results,
    section statuses and other references are counted by kind.

    Examples
    --------
    >>> first = "daily:a:2025-10-01:tn(6 个有效值)"
    >>> third = "daily:a:2025-10-03:tn(6 个有效值（2 个可疑值）)"
    >>> evidence_text([first, third])
    '自动站日均值 2 天（10月1日至10月3日），其中 1 天含可疑值'
    >>> evidence_text(["observation:12", "observation:13"])
    '手工监测结果 2 个'
    """
    days: list[dt.date] = []
    suspect_days = 0
    manual = statuses = others = 0
    for ref in refs:
        daily = _DAILY_REF.match(ref)
        if daily is not None:
            days.append(dt.date.fromisoformat(daily.group(1)))
            suspect_days += bool(_SUSPECT_NOTE.search(daily.group(2) or ""))
        elif ref.startswith("observation:"):
            manual += 1
        elif ref.startswith("section_status:"):
            statuses += 1
        else:
            others += 1
    parts = []
    if days:
        first, last = min(days), max(days)
        span = (f"{first.month}月{first.day}日" if first == last
                else f"{first.month}月{first.day}日至{last.month}月{last.day}日")  # fmt: skip
        text = f"自动站日均值 {len(days)} 天（{span}）"
        if suspect_days:
            text += f"，其中 {suspect_days} 天含可疑值"
        parts.append(text)
    if manual:
        parts.append(f"手工监测结果 {manual} 个")
    if statuses:
        parts.append(f"断面状况记录 {statuses} 条")
    if others:
        parts.append(f"其他监测记录 {others} 条")
    return "；".join(parts)


_RAW_ASSUMPTION = re.compile(r"^(\[[^\]]+\]\s*)?([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)*)\s*[=:]\s*(.*)$")
_RAW_VALUES = {"true": "是", "false": "否", "none": "无"}


@cache
def _assumption_labels() -> dict[str, str]:
    """Rule-set parameter → its Chinese label, as the rule sets define them (one home)."""
    labels: dict[str, str] = {}
    for rules in rule_sets():
        for assumption in rules.unverified:
            if assumption.label:
                labels.setdefault(assumption.parameter, assumption.label)
    return labels


def assumption_sentence(text: str) -> str:
    """An assumption line as a sentence in Chinese.

    Lines are stored as the rule set wrote them; a line written as a raw parameter
    (``auto_fallback = True``, e.g. in a statement issued by an older version) is put in the
    words of the rule sets' own labels (:attr:`compensation.rules.Assumption.label`).

    Examples
    --------
    >>> assumption_sentence("auto_fallback = True")
    '[假设] 无手工结果时采用自动站日均值月均值：是'
    >>> assumption_sentence("[推定] 每档扣缴金额：30 万元")
    '[推定] 每档扣缴金额：30 万元'
    """
    found = _RAW_ASSUMPTION.match(text.strip())
    if found is None:
        return text
    tag, key, value = found.groups()
    label = _assumption_labels().get(key)
    if label is None:
        return text
    shown = _RAW_VALUES.get(value.strip().lower(), value.strip())
    return f"{(tag or '[假设] ').strip()} {label}：{shown}"


def date_label(day: dt.date) -> str:
    """``2025年10月3日``."""
    return f"{day.year}年{day.month}月{day.day}日"


# --- dataclasses ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleSetBlock:
    """The rule set a statement was computed with."""

    id: str = field(metadata={"help": "规则集 id（版本）"})
    document: str = field(metadata={"help": "文号，如 衡政办字〔2021〕3号"})
    title: str = field(metadata={"help": "文件标题"})
    assumptions: tuple[str, ...] = field(
        metadata={"help": "未经核实的参数（[推定] 与 [假设]），每条一句，以标记开头"}
    )
    method: tuple[str, ...] = field(
        default=(),
        metadata={"help": "计算方法：各水体考核因子、月度取值、自动站事件计次方式与入境规则"},
    )


@dataclass(frozen=True)
class IssueStamp:
    """The stamp of an issued statement."""

    version: int = field(metadata={"help": "签发版本号"})
    digest: str = field(metadata={"help": "内容摘要（SHA-256 前 12 位）"})
    issued_at: dt.datetime = field(metadata={"help": "签发时间（北京时间）"})
    text: str = field(metadata={"help": "印在通报上的签发说明"})
    short: str = field(metadata={"help": "页眉上的简短签发标记"})


@dataclass(frozen=True)
class FactorColumn:
    """One factor column of the 通报 table."""

    key: str = field(metadata={"help": "因子键（cod、codmn、nh3n、tp、tn）"})
    name: str = field(metadata={"help": "因子中文名"})


@dataclass(frozen=True)
class FactorCell:
    """How one section and factor stands this month."""

    factor: str = field(metadata={"help": "因子键"})
    status: str = field(metadata={"help": "状态代码（meets、exceeds……）；无记录为 none"})
    text: str = field(metadata={"help": "状态文字（达标、超标 x 倍、断流……）"})
    value: str = field(metadata={"help": "月度值 mg/L，无则 —"})
    standard: str = field(metadata={"help": "标准 mg/L，无则 —"})
    multiple: str = field(metadata={"help": "超标倍数，无则 —"})


@dataclass(frozen=True)
class SectionRow:
    """One section of a unit: its factors and what it is charged."""

    section: str = field(metadata={"help": "断面 id"})
    name: str = field(metadata={"help": "断面名称"})
    cells: tuple[FactorCell, ...] = field(metadata={"help": "各因子考核情况，与因子列一一对应"})
    amount_wan: str = field(metadata={"help": "本断面扣缴（月度扣缴与自动站事件）万元"})
    assumed: bool = field(default=False, metadata={"help": "断面名称未经公开来源核实（标 [A]）"})


@dataclass(frozen=True)
class DeductionRow:
    """A monthly deduction line."""

    section: str = field(metadata={"help": "断面 id"})
    section_name: str = field(metadata={"help": "断面名称"})
    factor: str = field(metadata={"help": "因子键"})
    factor_name: str = field(metadata={"help": "因子中文名"})
    value: str = field(metadata={"help": "月度值 mg/L；下限值前加 ≥"})
    standard: str = field(metadata={"help": "标准 mg/L"})
    inflow_value: str = field(metadata={"help": "入境断面值 mg/L（采用时），否则 —"})
    multiple: str = field(metadata={"help": "计档倍数"})
    tiers: int = field(metadata={"help": "档数"})
    amount_wan: str = field(metadata={"help": "扣缴金额 万元"})
    basis: str = field(metadata={"help": "取值依据"})
    clause: str = field(metadata={"help": "规则条款"})
    refs: tuple[str, ...] = field(metadata={"help": "所依据的监测数据"})
    sources: str = field(
        default="", metadata={"help": "参与比较的数据来源（例行监测、抽测、自动站）"}
    )
    suspect: int = field(default=0, metadata={"help": "所依据的可疑值（QARTOD 3）个数"})
    lower_bound: bool = field(default=False, metadata={"help": "数值为下限（含超量程读数）"})
    censored: bool = field(default=False, metadata={"help": "含低于检出限的结果（按检出限一半计）"})
    marks: str = field(default="", metadata={"help": "数值依据说明（下限、<DL、可疑值），无则空"})
    evidence: str = field(
        default="", metadata={"help": "所依据数据的中文概述（自动站日均值天数、手工监测结果个数）"}
    )
    assumed: bool = field(default=False, metadata={"help": "断面名称未经公开来源核实（标 [A]）"})


@dataclass(frozen=True)
class EventRow:
    """An automatic-station event (a run of consecutive exceeding days)."""

    section: str = field(metadata={"help": "断面 id"})
    section_name: str = field(metadata={"help": "断面名称"})
    factor: str = field(metadata={"help": "因子键；按时段计次时为各超标因子以 + 连接"})
    factor_name: str = field(metadata={"help": "超标因子中文名，以 、 分隔"})
    start: dt.date = field(metadata={"help": "起始日"})
    end: dt.date = field(metadata={"help": "结束日"})
    days: int = field(metadata={"help": "连续超标天数"})
    charged_on: dt.date = field(metadata={"help": "计入扣缴的日期（达到规定天数之日）"})
    amount_wan: str = field(metadata={"help": "扣缴金额 万元"})
    clause: str = field(metadata={"help": "规则条款"})
    factors: tuple[str, ...] = field(default=(), metadata={"help": "超标因子键"})
    factor_days: str = field(default="", metadata={"help": "各因子超标日期，如 氨氮 03-10、03-11"})
    counting: str = field(default="", metadata={"help": "计次方式（按断面时段 / 按因子）"})
    suspect: int = field(default=0, metadata={"help": "超标日均值所依据的可疑值个数"})
    lower_bound: bool = field(default=False, metadata={"help": "超标日均值含下限值（≥）"})
    marks: str = field(default="", metadata={"help": "数值依据说明（下限、可疑值），无则空"})
    assumed: bool = field(default=False, metadata={"help": "断面名称未经公开来源核实（标 [A]）"})


@dataclass(frozen=True)
class ExemptRow:
    """A section and factor not charged this month."""

    section: str = field(metadata={"help": "断面 id"})
    section_name: str = field(metadata={"help": "断面名称"})
    factor: str = field(metadata={"help": "因子键"})
    factor_name: str = field(metadata={"help": "因子中文名"})
    status: str = field(metadata={"help": "状态代码"})
    status_word: str = field(metadata={"help": "状态文字（断流、结冰、未增加……）"})
    note: str = field(metadata={"help": "说明"})
    assumed: bool = field(default=False, metadata={"help": "断面名称未经公开来源核实（标 [A]）"})


@dataclass(frozen=True)
class RewardRow:
    """A reward, listed apart from the deductions."""

    section: str = field(metadata={"help": "断面 id"})
    section_name: str = field(metadata={"help": "断面名称"})
    amount_wan: str = field(metadata={"help": "奖励金额 万元"})
    reason: str = field(metadata={"help": "奖励原因"})
    clause: str = field(metadata={"help": "规则条款"})
    assumed: bool = field(default=False, metadata={"help": "断面名称未经公开来源核实（标 [A]）"})


@dataclass(frozen=True)
class UnitDetail:
    """One unit's month, ready to show (the partial ``_unit_detail.html``)."""

    unit: str = field(metadata={"help": "考核单位 id"})
    name: str = field(metadata={"help": "考核单位名称"})
    sections: tuple[SectionRow, ...] = field(metadata={"help": "本单位考核断面"})
    lines: tuple[DeductionRow, ...] = field(metadata={"help": "月度扣缴明细"})
    events: tuple[EventRow, ...] = field(metadata={"help": "自动站连续超标事件"})
    exempt: tuple[ExemptRow, ...] = field(metadata={"help": "免于考核或不扣缴"})
    rewards: tuple[RewardRow, ...] = field(metadata={"help": "奖励（不与扣缴相抵）"})
    total_wan: str = field(metadata={"help": "扣缴合计 万元"})
    total_yuan: str = field(metadata={"help": "扣缴合计 元（千分位）"})
    reward_wan: str = field(metadata={"help": "奖励合计 万元"})
    reward_yuan: str = field(metadata={"help": "奖励合计 元（千分位）"})
    findings: tuple[str, ...] = field(
        default=(), metadata={"help": "汇总表中本单位的考核情况，每条一句（超标、事件、免于考核）"}
    )
    remarkable: bool = field(
        default=False,
        metadata={"help": "有需说明的内容（扣缴、事件、免于考核、奖励或无数据），则列出明细"},
    )


@dataclass(frozen=True)
class DocumentHead:
    """The issuer's part of a statement: office, number, addressees, date."""

    office: str = field(metadata={"help": "发文机关"})
    office_assumed: bool = field(metadata={"help": "发文机关为缺省值（假设，标 [A]）"})
    number: str = field(metadata={"help": "文号；草稿为空"})
    number_assumed: bool = field(metadata={"help": "文号格式为缺省值（假设，标 [A]）"})
    addressees: str = field(metadata={"help": "主送机关"})
    addressees_assumed: bool = field(metadata={"help": "主送机关为缺省值（假设，标 [A]）"})
    date: str = field(metadata={"help": "成文日期（签发日，北京时间），如 2025年11月3日；草稿为空"})
    title: str = field(metadata={"help": "公文标题（版头之下），如 2025年10月生态补偿金扣缴通报"})


@dataclass(frozen=True)
class MonthStatementContext:
    """The city's monthly statement: the 通报 table of every unit, then each unit's detail."""

    title: str = field(metadata={"help": "页面标题"})
    standalone: bool = field(
        metadata={"help": "True：独立文档（打印/PDF，A4）；False：嵌入站点页面的 HTML 片段"}
    )
    month: str = field(metadata={"help": "月份，如 2025年3月"})
    rule_set: RuleSetBlock = field(metadata={"help": "规则集"})
    issue: IssueStamp | None = field(metadata={"help": "签发信息；None 为草稿"})
    factors: tuple[FactorColumn, ...] = field(metadata={"help": "因子列"})
    units: tuple[UnitDetail, ...] = field(metadata={"help": "各考核单位"})
    total_wan: str = field(metadata={"help": "全市扣缴合计 万元"})
    total_yuan: str = field(metadata={"help": "全市扣缴合计 元（千分位）"})
    reward_wan: str = field(metadata={"help": "全市奖励合计 万元（另计）"})
    head: DocumentHead | None = field(
        default=None, metadata={"help": "发文机关、文号、主送机关与日期；None 时不印版头"}
    )
    details: tuple[UnitDetail, ...] = field(
        default=(), metadata={"help": "有需说明内容的考核单位（只为这些单位列出明细）"}
    )
    any_assumed: bool = field(default=False, metadata={"help": "有名称未经核实（标 [A]）的断面"})


@dataclass(frozen=True)
class UnitStatementContext:
    """One unit's monthly statement."""

    title: str = field(metadata={"help": "页面标题"})
    standalone: bool = field(
        metadata={"help": "True：独立文档（打印/PDF，A4）；False：嵌入站点页面的 HTML 片段"}
    )
    month: str = field(metadata={"help": "月份，如 2025年3月"})
    rule_set: RuleSetBlock = field(metadata={"help": "规则集"})
    issue: IssueStamp | None = field(metadata={"help": "签发信息；None 为草稿"})
    factors: tuple[FactorColumn, ...] = field(metadata={"help": "因子列"})
    unit: UnitDetail = field(metadata={"help": "考核单位"})
    head: DocumentHead | None = field(
        default=None, metadata={"help": "发文机关、文号、主送机关与日期；None 时不印版头"}
    )
    any_assumed: bool = field(default=False, metadata={"help": "有名称未经核实（标 [A]）的断面"})


# --- builders ---------------------------------------------------------------------------------


def issue_stamp(*, version: int, content_hash: str, issued_at: dt.datetime) -> IssueStamp:
    """The stamp of an issued statement, its time in Beijing.

    A naive ``issued_at`` is taken as UTC (the database stores UTC; SQLite drops the zone).
    """
    if issued_at.tzinfo is None:
        issued_at = issued_at.replace(tzinfo=dt.UTC)
    local = issued_at.astimezone(BEIJING)
    digest = content_hash.removeprefix("sha256:")[:DIGEST_LENGTH]
    text = (
        f"版本 {version}，内容摘要（SHA-256 前 {DIGEST_LENGTH} 位）{digest}，"
        f"签发时间 {local:%Y-%m-%d %H:%M}（北京时间）"
    )
    short = f"版本 {version} · {digest}"
    return IssueStamp(version=version, digest=digest, issued_at=local, text=text, short=short)


def _factor_columns(statement: MonthlyStatement) -> tuple[FactorColumn, ...]:
    """Factors that appear anywhere in the statement, in the order of ``FACTOR_NAMES``."""
    seen: set[str] = set()
    for unit in statement.units:
        seen.update(s.factor for s in unit.statuses)
        seen.update(line.factor for line in unit.lines)
        seen.update(f for event in unit.events for f in event.all_factors)
        seen.update(e.factor for e in unit.exempt)
    known = [key for key in FACTOR_NAMES if key in seen]
    others = sorted(seen - set(FACTOR_NAMES))
    return tuple(FactorColumn(key, factor_name(key)) for key in [*known, *others])


def _sum(amounts: Iterable[Decimal]) -> Decimal:
    return sum(amounts, Decimal(0))


def _section_rows(
    statement: MonthlyStatement,
    unit: UnitStatement,
    factors: tuple[FactorColumn, ...],
    unconfirmed: frozenset[str] = frozenset(),
) -> tuple[SectionRow, ...]:
    statuses = {(s.section, s.factor): s for s in unit.statuses}
    order = list(unit.sections)
    for section in [s.section for s in unit.statuses] + [x.section for x in unit.lines]:
        if section not in order:
            order.append(section)
    rows = []
    for section in order:
        cells = []
        for column in factors:
            status = statuses.get((section, column.key))
            if status is None:
                cells.append(FactorCell(column.key, "none", DASH, DASH, DASH, DASH))
                continue
            cells.append(
                FactorCell(
                    factor=column.key,
                    status=status.status,
                    text=status_text(status),
                    value=reported_text(status.value, column.key),
                    standard=reported_text(status.standard, column.key),
                    multiple=multiple_text(status.multiple, column.key),
                )
            )
        amount = _sum(x.amount_wan for x in unit.lines if x.section == section) + _sum(
            x.amount_wan for x in unit.events if x.section == section
        )
        rows.append(
            SectionRow(
                section,
                statement.section_name(section),
                tuple(cells),
                money_text(amount),
                assumed=section in unconfirmed,
            )
        )
    return tuple(rows)


COUNTING_WORDS: Mapping[str, str] = {
    "episode": "按断面连续超标时段计次（多因子同时超标计一次）",
    "factor": "按因子分别计次",
}


def _deduction_row(line: DeductionLine, section_name: str, assumed: bool = False) -> DeductionRow:
    return DeductionRow(
        section=line.section,
        section_name=section_name,
        factor=line.factor,
        factor_name=factor_name(line.factor),
        value=reported_text(line.value, line.factor, lower_bound=line.lower_bound),
        standard=reported_text(line.standard, line.factor),
        inflow_value=reported_text(line.inflow_value, line.factor),
        multiple=multiple_text(line.multiple, line.factor),
        tiers=line.tiers,
        amount_wan=money_text(line.amount_wan),
        basis=line.basis,
        clause=line.clause,
        refs=line.refs,
        sources=sources_text(line.sources),
        suspect=line.suspect,
        lower_bound=line.lower_bound,
        censored=line.censored,
        marks=marks_text(
            suspect=line.suspect, lower_bound=line.lower_bound, censored=line.censored
        ),
        evidence=evidence_text(line.refs),
        assumed=assumed,
    )


def _event_row(event: EventLine, section_name: str, assumed: bool = False) -> EventRow:
    factors = event.all_factors
    return EventRow(
        section=event.section,
        section_name=section_name,
        factor=event.factor,
        factor_name=factor_names(factors),
        start=event.start,
        end=event.end,
        days=event.days,
        charged_on=event.charged_on,
        amount_wan=money_text(event.amount_wan),
        clause=event.clause,
        factors=factors,
        factor_days=factor_days_text(event.factor_days),
        counting=COUNTING_WORDS.get(event.counting, event.counting),
        suspect=event.suspect,
        lower_bound=event.lower_bound,
        marks=marks_text(suspect=event.suspect, lower_bound=event.lower_bound),
        assumed=assumed,
    )


def _findings(
    statement: MonthlyStatement, unit: UnitStatement, unconfirmed: frozenset[str]
) -> tuple[str, ...]:
    """One sentence per thing to say about a unit's month, for the summary table."""

    def name(section: str) -> str:
        shown = statement.section_name(section)
        return f"{shown} [A]" if section in unconfirmed else shown

    found: list[str] = []
    for line in unit.lines:
        inflow = "（较入境增加）" if line.inflow_value is not None else ""
        found.append(
            f"{name(line.section)}：{factor_name(line.factor)}超标 "
            f"{multiple_text(line.multiple, line.factor)} 倍{inflow}，{line.tiers} 档"
        )
    events: dict[str, int] = {}
    for event in unit.events:
        events[event.section] = events.get(event.section, 0) + 1
    for section, count in events.items():
        found.append(f"{name(section)}：自动站日均值连续超标 {count} 次")
    exempt: dict[tuple[str, str], list[str]] = {}
    for e in unit.exempt:
        exempt.setdefault((e.section, e.status), []).append(factor_name(e.factor))
    for (section, status), factors in exempt.items():
        word = EXEMPT_WORDS.get(status, status)
        found.append(f"{name(section)}：{'、'.join(factors)}{word}")
    missing: dict[str, list[str]] = {}
    for s in unit.statuses:
        if s.status == "no_data":
            missing.setdefault(s.section, []).append(factor_name(s.factor))
    for section, factors in missing.items():
        found.append(f"{name(section)}：{'、'.join(factors)}无监测数据")
    if unit.rewards:
        found.append(f"奖励 {money_text(unit.reward_wan)} 万元（另行拨付，不与扣缴相抵）")
    if not found:
        found.append("各考核因子达标" if unit.sections else "无考核断面")
    return tuple(found)


def _remarkable(unit: UnitStatement) -> bool:
    """Whether a unit's month needs its own detail: anything besides meeting every standard."""
    return bool(
        unit.lines or unit.events or unit.exempt or unit.rewards
        or any(s.status == "no_data" for s in unit.statuses)
    )  # fmt: skip


def unit_detail(
    statement: MonthlyStatement,
    unit: UnitStatement,
    *,
    factors: tuple[FactorColumn, ...],
    unconfirmed: frozenset[str] = frozenset(),
) -> UnitDetail:
    """One unit's statement as display rows, names resolved and numbers formatted.

    Concentrations are shown at their reporting precision, multiples to 2 decimals (3 for
    TP); the statement keeps the exact values (JSON, CSV).
    """
    name = statement.section_name
    return UnitDetail(
        unit=unit.unit,
        name=unit.name,
        sections=_section_rows(statement, unit, factors, unconfirmed),
        lines=tuple(
            _deduction_row(line, name(line.section), line.section in unconfirmed)
            for line in unit.lines
        ),
        events=tuple(
            _event_row(event, name(event.section), event.section in unconfirmed)
            for event in unit.events
        ),
        exempt=tuple(
            ExemptRow(
                section=e.section,
                section_name=name(e.section),
                factor=e.factor,
                factor_name=factor_name(e.factor),
                status=e.status,
                status_word=EXEMPT_WORDS.get(e.status, e.status),
                note=e.note,
                assumed=e.section in unconfirmed,
            )
            for e in unit.exempt
        ),
        rewards=tuple(
            RewardRow(
                section=r.section,
                section_name=name(r.section),
                amount_wan=money_text(r.amount_wan),
                reason=r.reason,
                clause=r.clause,
                assumed=r.section in unconfirmed,
            )
            for r in unit.rewards
        ),
        total_wan=money_text(unit.total_wan),
        total_yuan=yuan_text(unit.total_yuan),
        reward_wan=money_text(unit.reward_wan),
        reward_yuan=yuan_text(unit.reward_wan * WAN),
        findings=_findings(statement, unit, unconfirmed),
        remarkable=_remarkable(unit),
    )


SAME_CLAUSE = "条款同前。"
"""Shown instead of a clause already printed above in the same document."""


def _once(details: Iterable[UnitDetail]) -> tuple[UnitDetail, ...]:
    """The details with each clause printed in full only where it first appears."""
    seen: set[str] = set()

    def clause(text: str) -> str:
        if text in seen:
            return SAME_CLAUSE
        seen.add(text)
        return text

    return tuple(
        replace(
            unit,
            lines=tuple(replace(x, clause=clause(x.clause)) for x in unit.lines),
            events=tuple(replace(x, clause=clause(x.clause)) for x in unit.events),
        )
        for unit in details
    )


def _rule_set_block(statement: MonthlyStatement) -> RuleSetBlock:
    rules = statement.rule_set
    return RuleSetBlock(
        rules.id, rules.document, rules.title,
        tuple(assumption_sentence(a) for a in rules.assumptions), rules.method,
    )  # fmt: skip


def document_head(
    statement: MonthlyStatement,
    *,
    letterhead: Letterhead,
    issue: IssueStamp | None,
    scope: str = "",
) -> DocumentHead:
    """The head of a statement: office, number (issued only), addressees, date (issued only)."""
    label = month_label(statement.month)
    return DocumentHead(
        office=letterhead.office,
        office_assumed=letterhead.office_assumed,
        number="" if issue is None else letterhead.number(statement.month),
        number_assumed=letterhead.number_assumed,
        addressees=letterhead.addressees,
        addressees_assumed=letterhead.addressees_assumed,
        date="" if issue is None else date_label(issue.issued_at.date()),
        title=f"{scope}{label}生态补偿金扣缴通报",
    )


def _unconfirmed(statement: MonthlyStatement, letterhead: Letterhead) -> frozenset[str]:
    return letterhead.unconfirmed & {section for section, _ in statement.section_names}


def month_context(
    statement: MonthlyStatement,
    *,
    issue: IssueStamp | None,
    standalone: bool = True,
    letterhead: Letterhead | None = None,
) -> MonthStatementContext:
    """The context of ``statements/month.html``: every unit of the statement.

    ``letterhead`` (default: the default letterhead, no unconfirmed names) gives the issuer,
    number, addressees and the sections marked [A].
    """
    head = letterhead or Letterhead()
    unconfirmed = _unconfirmed(statement, head)
    factors = _factor_columns(statement)
    label = month_label(statement.month)
    units = tuple(
        unit_detail(statement, u, factors=factors, unconfirmed=unconfirmed) for u in statement.units
    )
    return MonthStatementContext(
        title=f"{label}生态补偿金扣缴通报",
        standalone=standalone,
        month=label,
        rule_set=_rule_set_block(statement),
        issue=issue,
        factors=factors,
        units=units,
        total_wan=money_text(statement.total_wan),
        total_yuan=yuan_text(statement.total_yuan),
        reward_wan=money_text(_sum(u.reward_wan for u in statement.units)),
        head=document_head(statement, letterhead=head, issue=issue),
        details=_once(u for u in units if u.remarkable),
        any_assumed=bool(unconfirmed),
    )


def unit_context(
    statement: MonthlyStatement,
    unit_id: str,
    *,
    issue: IssueStamp | None,
    standalone: bool = True,
    letterhead: Letterhead | None = None,
) -> UnitStatementContext:
    """The context of ``statements/unit.html``; ``KeyError`` naming the valid ids if unknown."""
    unit = statement.unit(unit_id)
    head = letterhead or Letterhead()
    unconfirmed = _unconfirmed(statement, head) & set(unit.sections)
    factors = _factor_columns(statement)
    label = month_label(statement.month)
    return UnitStatementContext(
        title=f"{unit.name}{label}生态补偿金扣缴通报",
        standalone=standalone,
        month=label,
        rule_set=_rule_set_block(statement),
        issue=issue,
        factors=factors,
        unit=_once([unit_detail(statement, unit, factors=factors, unconfirmed=unconfirmed)])[0],
        head=document_head(statement, letterhead=head, issue=issue, scope=unit.name),
        any_assumed=bool(unconfirmed),
    )
