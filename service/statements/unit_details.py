"""A county's detail in a statement: its deductions, events, exemptions and rewards as rows, and
whether it has anything to say (a county paying nothing, with nothing exempt and data complete,
gets one line in the summary and no detail)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal

from compensation.engine import FACTOR_NAMES, STATUS_WORDS
from compensation.statement import (
    WAN,
    DeductionLine,
    EventLine,
    MonthlyStatement,
    UnitStatement,
)
from service.statements.wording import (
    DASH,
    evidence_text,
    factor_days_text,
    factor_name,
    factor_names,
    marks_text,
    money_text,
    multiple_text,
    reported_text,
    sources_text,
    status_text,
    yuan_text,
)

__all__ = [
    "COUNTING_WORDS",
    "EXEMPT_WORDS",
    "SAME_CLAUSE",
    "DeductionRow",
    "EventRow",
    "ExemptRow",
    "FactorCell",
    "FactorColumn",
    "RewardRow",
    "SectionRow",
    "UnitDetail",
    "factor_columns",
    "once_per_clause",
    "remarkable",
    "sum_amounts",
    "unit_detail",
]


EXEMPT_WORDS: Mapping[str, str] = {
    **STATUS_WORDS,
    "not_increased": "未增加，不扣缴",
    "insufficient_data": "数据不足，未计算",
}
"""Words of the exemption statuses; an unknown status is shown as its code."""


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


def remarkable(unit: UnitStatement) -> bool:
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
        remarkable=remarkable(unit),
    )


SAME_CLAUSE = "条款同前。"
"""Shown instead of a clause already printed above in the same document."""


def once_per_clause(details: Iterable[UnitDetail]) -> tuple[UnitDetail, ...]:
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


def factor_columns(statement: MonthlyStatement) -> tuple[FactorColumn, ...]:
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


def sum_amounts(amounts: Iterable[Decimal]) -> Decimal:
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
        amount = sum_amounts(
            [x.amount_wan for x in unit.lines if x.section == section]
            + [x.amount_wan for x in unit.events if x.section == section]
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
