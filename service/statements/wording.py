"""How a statement says things in Chinese: amounts, values at their reporting precision,
multiples, marks, sources, statuses, evidence and assumptions — exactly from ``Decimal``, never
through ``float``. The statement contexts (:mod:`service.statements.contexts`), the web pages
and the commands write every number and reason of a statement through these."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cache

from compensation.engine import BASIS_WORDS, FACTOR_NAMES
from compensation.rules import rule_sets
from compensation.statement import DeductionLine, EventLine, FactorStatus, MonthlyStatement
from sections.standards import precision

__all__ = [
    "DASH",
    "assumption_sentence",
    "date_label",
    "decimal_text",
    "deduction_text",
    "events_text",
    "evidence_text",
    "factor_days_text",
    "factor_name",
    "factor_names",
    "marks_text",
    "money_text",
    "month_label",
    "multiple_text",
    "reported_text",
    "sources_text",
    "status_text",
    "value_text",
    "yuan_text",
]

DASH = "—"
"""What stands for a missing value."""


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


def _day(day: dt.date, month: dt.date) -> str:
    """``10-03``; a day of another year in full."""
    return f"{day:%m-%d}" if day.year == month.year else f"{day:%Y-%m-%d}"


def deduction_text(statement: MonthlyStatement, line: DeductionLine) -> str:
    """Why a tier deduction is charged: "小范桥 氨氮超标 0.52 倍（月度值 …，标准 … mg/L），2 档"."""
    name = statement.section_name(line.section)
    value = value_text(line.value, lower_bound=line.lower_bound)
    standard = decimal_text(line.standard)
    if line.inflow_value is not None:
        inflow = decimal_text(line.inflow_value)
        over = (
            f"较入境增加 {decimal_text(line.multiple)} 倍"
            f"（出境 {value}，入境 {inflow}，标准 {standard} mg/L）"
        )
    else:
        over = f"超标 {decimal_text(line.multiple)} 倍（月度值 {value}，标准 {standard} mg/L）"
    return f"{name} {factor_name(line.factor)}{over}，{line.tiers} 档"


def events_text(statement: MonthlyStatement, runs: Sequence[EventLine]) -> str:
    """Automatic-station events of one section and factors: "… 氨氮连续3日超标 1 次（…）"."""
    first = runs[0]
    lengths = sorted({run.days for run in runs})
    span = f"{lengths[0]}" if len(lengths) == 1 else f"{lengths[0]}–{lengths[-1]}"
    dates = "；".join(
        f"{_day(r.start, statement.month)}至{_day(r.end, statement.month)}"
        + (f" {r.days}日" if len(lengths) > 1 else "")
        + (f"，{_day(r.charged_on, statement.month)} 计入" if r.charged_on != r.end else "")
        for r in runs
    )
    return (
        f"{statement.section_name(first.section)} {factor_names(first.all_factors)}"
        f"连续{span}日超标 {len(runs)} 次（自动站日均值，{dates}）"
    )
