"""Typed contexts of the statement templates, and the builders that fill them.

Each statement template renders exactly one context dataclass (``month.html`` →
:class:`MonthStatementContext`, ``unit.html`` → :class:`UnitStatementContext`); every field has
help text, checked by a test. Every number a template shows is already text here, formatted
exactly from the statement's ``Decimal`` values (never through ``float``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from compensation.engine import BASIS_WORDS, FACTOR_NAMES, STATUS_WORDS
from compensation.statement import WAN, DeductionLine, EventLine, MonthlyStatement, UnitStatement
from service.time import BEIJING

__all__ = [
    "COUNTING_WORDS",
    "EXEMPT_WORDS",
    "DeductionRow",
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
    "decimal_text",
    "factor_days_text",
    "factor_name",
    "factor_names",
    "issue_stamp",
    "marks_text",
    "money_text",
    "month_context",
    "month_label",
    "sources_text",
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


@dataclass(frozen=True)
class RewardRow:
    """A reward, listed apart from the deductions."""

    section: str = field(metadata={"help": "断面 id"})
    section_name: str = field(metadata={"help": "断面名称"})
    amount_wan: str = field(metadata={"help": "奖励金额 万元"})
    reason: str = field(metadata={"help": "奖励原因"})
    clause: str = field(metadata={"help": "规则条款"})


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
    statement: MonthlyStatement, unit: UnitStatement, factors: tuple[FactorColumn, ...]
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
                    text=status.text,
                    value=decimal_text(status.value),
                    standard=decimal_text(status.standard),
                    multiple=decimal_text(status.multiple),
                )
            )
        amount = _sum(x.amount_wan for x in unit.lines if x.section == section) + _sum(
            x.amount_wan for x in unit.events if x.section == section
        )
        rows.append(
            SectionRow(section, statement.section_name(section), tuple(cells), money_text(amount))
        )
    return tuple(rows)


COUNTING_WORDS: Mapping[str, str] = {
    "episode": "按断面连续超标时段计次（多因子同时超标计一次）",
    "factor": "按因子分别计次",
}


def _deduction_row(line: DeductionLine, section_name: str) -> DeductionRow:
    return DeductionRow(
        section=line.section,
        section_name=section_name,
        factor=line.factor,
        factor_name=factor_name(line.factor),
        value=value_text(line.value, lower_bound=line.lower_bound),
        standard=decimal_text(line.standard),
        inflow_value=decimal_text(line.inflow_value),
        multiple=decimal_text(line.multiple),
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
    )


def _event_row(event: EventLine, section_name: str) -> EventRow:
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
    )


def unit_detail(
    statement: MonthlyStatement, unit: UnitStatement, *, factors: tuple[FactorColumn, ...]
) -> UnitDetail:
    """One unit's statement as display rows, names resolved and numbers formatted exactly."""
    name = statement.section_name
    return UnitDetail(
        unit=unit.unit,
        name=unit.name,
        sections=_section_rows(statement, unit, factors),
        lines=tuple(_deduction_row(line, name(line.section)) for line in unit.lines),
        events=tuple(_event_row(event, name(event.section)) for event in unit.events),
        exempt=tuple(
            ExemptRow(
                section=e.section,
                section_name=name(e.section),
                factor=e.factor,
                factor_name=factor_name(e.factor),
                status=e.status,
                status_word=EXEMPT_WORDS.get(e.status, e.status),
                note=e.note,
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
            )
            for r in unit.rewards
        ),
        total_wan=money_text(unit.total_wan),
        total_yuan=yuan_text(unit.total_yuan),
        reward_wan=money_text(unit.reward_wan),
        reward_yuan=yuan_text(unit.reward_wan * WAN),
    )


def _rule_set_block(statement: MonthlyStatement) -> RuleSetBlock:
    rules = statement.rule_set
    return RuleSetBlock(rules.id, rules.document, rules.title, rules.assumptions, rules.method)


def month_context(
    statement: MonthlyStatement, *, issue: IssueStamp | None, standalone: bool = True
) -> MonthStatementContext:
    """The context of ``statements/month.html``: every unit of the statement."""
    factors = _factor_columns(statement)
    label = month_label(statement.month)
    return MonthStatementContext(
        title=f"{label}生态补偿金扣缴通报",
        standalone=standalone,
        month=label,
        rule_set=_rule_set_block(statement),
        issue=issue,
        factors=factors,
        units=tuple(unit_detail(statement, u, factors=factors) for u in statement.units),
        total_wan=money_text(statement.total_wan),
        total_yuan=yuan_text(statement.total_yuan),
        reward_wan=money_text(_sum(u.reward_wan for u in statement.units)),
    )


def unit_context(
    statement: MonthlyStatement,
    unit_id: str,
    *,
    issue: IssueStamp | None,
    standalone: bool = True,
) -> UnitStatementContext:
    """The context of ``statements/unit.html``; ``KeyError`` naming the valid ids if unknown."""
    unit = statement.unit(unit_id)
    factors = _factor_columns(statement)
    label = month_label(statement.month)
    return UnitStatementContext(
        title=f"{unit.name}{label}生态补偿金扣缴通报",
        standalone=standalone,
        month=label,
        rule_set=_rule_set_block(statement),
        issue=issue,
        factors=factors,
        unit=unit_detail(statement, unit, factors=factors),
    )
