"""The compensation engine: a month's measurements and a rule set → a :class:`MonthlyStatement`.

Pure functions over frozen dataclasses; every amount is ``Decimal`` and every tier an exact
fraction. The steps for each assessed section and factor of the rule set:

1. a month status (断流, 无水, 结冰, 剔除) exempts it;
2. its value is the highest routine or spot-check result of the month, or, when the rule set
   allows and there is none, the mean of the automatic daily values when enough days have one;
   rounded half to even to the evaluation precision;
3. its standard is the limit of the section's target class that month (lake column for TP in
   lakes) or the registry's override; no standard, no line;
4. over the standard: when the upstream (inflow) section exceeds its own standard, no line if
   the outflow is not higher (未增加), else tiers on (C_out − C_in) / C_in; otherwise tiers on
   (C − L) / L; amount = tiers × the amount per tier;
5. automatic-station events: each run of ≥ 3 consecutive exceeding daily values is one
   occurrence, charged in the month the run reaches its third day;
6. rewards, when configured, as separate lines.

References
----------
.. [1] domain.md §6 and the rule-set files in ``compensation/rules/``.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from compensation.errors import MeasurementError
from compensation.rules import FACTORS, RuleSet
from compensation.statement import (
    DeductionLine,
    EventLine,
    ExemptLine,
    FactorStatus,
    MonthlyStatement,
    RewardLine,
    RuleSetSummary,
    StatusCode,
    UnitStatement,
)
from compensation.tiers import exceedance_multiple, round_to_precision, shown_multiple, tiers
from sections.errors import DataTableError
from sections.registry import Registry, Section
from sections.standards import class_limit, precision

__all__ = [
    "KINDS",
    "STATUSES",
    "Measurement",
    "MonthValue",
    "find_runs",
    "month_value",
    "monthly_statement",
    "standard_for",
]

Kind = Literal["routine", "spot", "auto_daily"]
KINDS: tuple[str, ...] = ("routine", "spot", "auto_daily")
STATUSES: tuple[str, ...] = ("normal", "no_flow", "dry", "frozen", "excluded")

STATUS_WORDS: Mapping[str, str] = {
    "no_flow": "断流",
    "dry": "无水",
    "frozen": "结冰",
    "excluded": "剔除",
}
FACTOR_NAMES: Mapping[str, str] = {
    "cod": "化学需氧量",
    "codmn": "高锰酸盐指数",
    "nh3n": "氨氮",
    "tp": "总磷",
    "tn": "总氮",
}
BASIS_WORDS: Mapping[str, str] = {
    "routine": "例行监测最高值",
    "spot": "抽测最高值",
    "auto_monthly_mean": "自动站日均值月均值",
}


@dataclass(frozen=True, slots=True)
class Measurement:
    """One result used for compensation.

    Attributes
    ----------
    section, factor : str
        Registry section id and factor key (``cod``, ``codmn``, ``nh3n``, ``tp``, ``tn``).
    date : date
        Sampling date (Beijing time).
    value : Decimal or None
        Concentration [mg/L]; None on a row that only states a status.
    kind : {'routine', 'spot', 'auto_daily'}
        Routine monitoring, spot check (抽测), or an automatic station's daily value.
    status : str
        ``normal`` or a month status (``no_flow``, ``dry``, ``frozen``, ``excluded``).
    note : str
        Free text, shown with an exemption.
    ref : str
        Where the result comes from (file and line, observation id): the trace of a line.
    """

    section: str
    factor: str
    date: dt.date
    value: Decimal | None
    kind: Kind
    status: str = "normal"
    note: str = ""
    ref: str = ""


@dataclass(frozen=True, slots=True)
class MonthValue:
    """The value of a section and factor for a month, or why there is none."""

    value: Decimal | None
    basis: str
    refs: tuple[str, ...] = ()
    valid_days: int | None = None
    required_days: int | None = None


def _first_of_month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _days_in_month(month: dt.date) -> int:
    return calendar.monthrange(month.year, month.month)[1]


def month_value(
    measurements: Iterable[Measurement], *, month: dt.date, rule_set: RuleSet
) -> MonthValue:
    """The month's value of one section and factor, rounded to the evaluation precision.

    The highest routine or spot result of the month (any spot check counts); with none and
    ``rule_set.auto_fallback``, the mean of the automatic daily values when valid days reach
    ``rule_set.min_valid_day_fraction`` of the month; otherwise no value (basis ``no_data`` or
    ``insufficient_data``).
    """
    first = _first_of_month(month)
    rows = [m for m in measurements if _first_of_month(m.date) == first and m.value is not None]
    if not rows:
        return MonthValue(None, "no_data")
    factor = rows[0].factor
    digits = precision(factor)
    manual = [m for m in rows if m.kind in rule_set.value_sources]
    if manual:
        best = max(manual, key=lambda m: m.value)  # type: ignore[arg-type,return-value]
        assert best.value is not None
        refs = tuple(m.ref for m in manual if m.value == best.value and m.ref)
        return MonthValue(round_to_precision(best.value, digits), best.kind, refs)
    if not rule_set.auto_fallback:
        return MonthValue(None, "no_data")
    daily: dict[dt.date, Measurement] = {}
    for m in rows:
        if m.kind == "auto_daily":
            daily[m.date] = m
    needed = rule_set.min_valid_day_fraction * _days_in_month(first)
    required = int(-(-needed // 1))  # exact ceiling of a fraction of days
    if len(daily) < required or not daily:
        return MonthValue(None, "insufficient_data", (), len(daily), required)
    values = [m.value for m in daily.values() if m.value is not None]
    mean = sum(values, Decimal(0)) / Decimal(len(values))
    refs = tuple(daily[d].ref for d in sorted(daily) if daily[d].ref)
    return MonthValue(
        round_to_precision(mean, digits), "auto_monthly_mean", refs, len(daily), required
    )


def standard_for(section: Section, factor: str, month: dt.date) -> Decimal | None:
    """The section's standard for a factor in a month [mg/L], or None when it has none.

    The registry's override wins; otherwise the GB 3838-2002 limit of the section's target
    class that month, the lake column for lakes; a 劣Ⅴ target and TN in rivers have none.
    """
    if factor in section.standards:
        return _decimal(section.standards[factor])
    try:
        target = section.target_class(month)
    except LookupError:
        return None
    if int(target) > 5:
        return None
    try:
        return _decimal(class_limit(factor, target, section.water_body))
    except DataTableError:
        return None


def _decimal(value: float) -> Decimal:
    """A limit as the decimal it was written as (30.0 → 30, 0.05 → 0.05)."""
    exact = Decimal(repr(value))
    return exact.quantize(Decimal(1)) if exact == exact.to_integral_value() else exact


def find_runs(days: Sequence[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """Maximal runs of consecutive calendar days, as (first, last) pairs.

    Examples
    --------
    >>> d = dt.date
    >>> runs = find_runs([d(2025, 1, 30), d(2025, 1, 31), d(2025, 2, 1), d(2025, 2, 3)])
    >>> [(f"{a:%m-%d}", f"{b:%m-%d}") for a, b in runs]
    [('01-30', '02-01'), ('02-03', '02-03')]
    """
    runs: list[tuple[dt.date, dt.date]] = []
    for day in sorted(set(days)):
        if runs and day - runs[-1][1] == dt.timedelta(days=1):
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def _check(measurements: Sequence[Measurement], registry: Registry) -> None:
    known = {s.id for s in registry.sections}
    for m in measurements:
        where = f" ({m.ref})" if m.ref else ""
        if m.section not in known:
            raise MeasurementError(f"未知断面 / unknown section {m.section!r}{where}")
        if m.factor not in FACTORS:
            raise MeasurementError(
                f"未知因子 / unknown factor {m.factor!r}{where} (valid: {', '.join(FACTORS)})"
            )
        if m.kind not in KINDS:
            raise MeasurementError(f"未知类型 / unknown kind {m.kind!r}{where}")
        if m.status not in STATUSES:
            raise MeasurementError(f"未知状态 / unknown status {m.status!r}{where}")


def _exemption(rows: Sequence[Measurement], month: dt.date, rule_set: RuleSet) -> ExemptLine | None:
    first = _first_of_month(month)
    for m in rows:
        if _first_of_month(m.date) == first and m.status in rule_set.exempt_statuses:
            note = m.note or STATUS_WORDS[m.status]
            return ExemptLine(m.section, m.factor, m.status, note)
    return None


def _exempt_months(rows: Sequence[Measurement], rule_set: RuleSet) -> set[dt.date]:
    return {_first_of_month(m.date) for m in rows if m.status in rule_set.exempt_statuses}


def monthly_statement(
    measurements: Sequence[Measurement],
    *,
    month: dt.date,
    registry: Registry,
    rule_set: RuleSet,
) -> MonthlyStatement:
    """Compute the compensation statement of a month for every unit of the registry.

    Parameters
    ----------
    measurements : sequence of Measurement
        The month's results, and for automatic-station events the daily values of the days
        before it (a run that started in the previous month).
    month : date
        Any day of the month.
    registry : Registry
        Units, sections, targets, upstream links and standard overrides.
    rule_set : RuleSet
        The rules applied.

    Raises
    ------
    MeasurementError
        When a measurement names an unknown section, factor, kind or status.
    """
    _check(measurements, registry)
    first = _first_of_month(month)
    by_key: dict[tuple[str, str], list[Measurement]] = defaultdict(list)
    for m in measurements:
        by_key[(m.section, m.factor)].append(m)

    def value_of(section_id: str, factor: str) -> MonthValue:
        rows = by_key.get((section_id, factor), [])
        if _exemption(rows, first, rule_set) is not None:
            return MonthValue(None, "exempt")
        return month_value(rows, month=first, rule_set=rule_set)

    units: list[UnitStatement] = []
    for unit in registry.units:
        sections = registry.sections_of(unit.id)
        lines: list[DeductionLine] = []
        exempt: list[ExemptLine] = []
        statuses: list[FactorStatus] = []
        events: list[EventLine] = []
        rewards: list[RewardLine] = []
        for section in sections:
            section_ok = True
            for factor in rule_set.factors:
                rows = by_key.get((section.id, factor), [])
                status = _assess(
                    section, factor, rows, first, rule_set, registry, value_of, lines, exempt
                )
                statuses.append(status)
                if status.status not in ("meets", "no_standard"):
                    section_ok = False
                if rule_set.events.enabled and factor in rule_set.events.factors:
                    events.extend(_events(section, factor, rows, first, rule_set))
            has_factor = any(s.section == section.id and s.status == "meets" for s in statuses)
            charged = any(e.section == section.id for e in events)
            if rule_set.rewards.enabled and section_ok and has_factor and not charged:
                rewards.append(
                    RewardLine(
                        section.id,
                        rule_set.rewards.amount_wan,
                        "各考核因子均达标",
                        rule_set.rewards.clause,
                    )
                )
        units.append(
            UnitStatement(
                unit=unit.id,
                name=unit.name,
                sections=tuple(s.id for s in sections),
                lines=tuple(lines),
                events=tuple(events),
                exempt=tuple(exempt),
                rewards=tuple(rewards),
                statuses=tuple(statuses),
            )
        )
    return MonthlyStatement(
        month=first,
        rule_set=RuleSetSummary(
            id=rule_set.id,
            document=rule_set.document,
            title=rule_set.title,
            assumptions=tuple(
                f"{a.parameter} = {a.value}" + (f"（{a.clause}）" if a.clause else "")
                for a in rule_set.assumptions
            ),
        ),
        units=tuple(units),
        section_names=tuple((s.id, s.name) for s in registry.sections),
    )


def _assess(
    section: Section,
    factor: str,
    rows: Sequence[Measurement],
    month: dt.date,
    rule_set: RuleSet,
    registry: Registry,
    value_of: Callable[[str, str], MonthValue],
    lines: list[DeductionLine],
    exempt: list[ExemptLine],
) -> FactorStatus:
    """Assess one section and factor; append its line or exemption; return its status."""
    standard = standard_for(section, factor, month)
    if standard is None:
        return FactorStatus(section.id, factor, "no_standard", "无标准，不考核")
    exemption = _exemption(rows, month, rule_set)
    if exemption is not None:
        exempt.append(exemption)
        code: StatusCode = exemption.status  # type: ignore[assignment]
        return FactorStatus(section.id, factor, code, STATUS_WORDS[exemption.status])
    found = value_of(section.id, factor)
    if found.value is None:
        if found.basis == "insufficient_data":
            note = f"自动站有效日数 {found.valid_days} 天，不足 {found.required_days} 天，未计算"
            exempt.append(ExemptLine(section.id, factor, "insufficient_data", note))
            return FactorStatus(section.id, factor, "insufficient_data", "数据不足")
        return FactorStatus(section.id, factor, "no_data", "无数据", standard=standard)
    value = found.value
    if value <= standard:
        return FactorStatus(section.id, factor, "meets", "达标", value, standard)
    plain = exceedance_multiple(value, standard)
    shown = shown_multiple(plain)
    rule = rule_set.factors[factor]
    basis = BASIS_WORDS.get(found.basis, found.basis)
    clause = rule.clause
    multiple = plain
    inflow_value: Decimal | None = None
    if section.upstream is not None:
        upstream = registry.section(section.upstream)
        inflow = value_of(upstream.id, factor)
        inflow_standard = standard_for(upstream, factor, month)
        if (
            inflow.value is not None
            and inflow_standard is not None
            and inflow.value > inflow_standard
        ):
            inflow_value = inflow.value
            if value <= inflow.value:
                note = f"入境断面 {upstream.name} {inflow.value} 超标，出境 {value} 未增加，不扣缴"
                exempt.append(ExemptLine(section.id, factor, "not_increased", note))
                return FactorStatus(
                    section.id, factor, "not_increased",
                    f"超标 {shown} 倍，未增加", value, standard, shown,
                )  # fmt: skip
            # never more than the plain multiple: receiving polluted water must not cost more
            multiple = min(exceedance_multiple(value, inflow.value), plain)
            basis = f"{basis}；入境 {upstream.name} 超标，按较入境增加倍数计"
            clause = f"{rule.clause}；{rule_set.clauses['inflow_increase']}"
    count = tiers(multiple, rule.step)
    amount = rule_set.amount_per_tier_wan * count
    lines.append(
        DeductionLine(
            section=section.id,
            factor=factor,
            value=value,
            standard=standard,
            inflow_value=inflow_value,
            multiple=shown_multiple(multiple),
            tiers=count,
            amount_wan=amount,
            basis=basis,
            clause=f"{rule_set.document}：{clause}；{rule_set.clauses['amount']}",
            refs=found.refs,
        )
    )
    return FactorStatus(section.id, factor, "exceeds", f"超标 {shown} 倍", value, standard, shown)


def _events(
    section: Section,
    factor: str,
    rows: Sequence[Measurement],
    month: dt.date,
    rule_set: RuleSet,
) -> list[EventLine]:
    """Automatic-station events of one section and factor charged in ``month``."""
    rule = rule_set.events
    exempt_months = _exempt_months(rows, rule_set)
    digits = precision(factor)
    exceeding: dict[dt.date, Measurement] = {}
    for m in rows:
        if m.kind != "auto_daily" or m.value is None or _first_of_month(m.date) in exempt_months:
            continue
        standard = standard_for(section, factor, m.date)
        if standard is not None and round_to_precision(m.value, digits) > standard:
            exceeding[m.date] = m
    result: list[EventLine] = []
    for start, end in find_runs(list(exceeding)):
        days = (end - start).days + 1
        if days < rule.min_days:
            continue
        charged_on = start + dt.timedelta(days=rule.min_days - 1)
        if _first_of_month(charged_on) != month:
            continue
        refs = tuple(
            exceeding[start + dt.timedelta(days=i)].ref
            for i in range(days)
            if exceeding[start + dt.timedelta(days=i)].ref
        )
        result.append(
            EventLine(
                section=section.id,
                factor=factor,
                start=start,
                end=end,
                days=days,
                charged_on=charged_on,
                amount_wan=rule.amount_wan,
                clause=f"{rule_set.document}：{rule.clause}；{rule.charge_clause}",
                refs=refs,
            )
        )
    return result
