"""The compensation engine: a month's measurements and a rule set → a :class:`MonthlyStatement`.

Pure functions over frozen dataclasses; every amount is ``Decimal`` and every tier an exact
fraction. The factors of a section are those the rule set lists for its water body
(``[water_bodies.river]``, ``[water_bodies.lake]``). The steps for each section and factor:

1. a month status (断流, 无水, 结冰, 剔除) exempts it;
2. its value (:func:`month_value`): for a factor whose automatic data the rule set prefers
   (``value_selection.prefer = "automatic"``), the highest of the automatic monthly mean (when
   enough days have a daily value) and the spot checks; otherwise the highest routine or
   spot-check result of the month, or, when the rule set allows and there is none, the
   automatic monthly mean; rounded half to even to the evaluation precision;
3. its standard is the limit of the section's target class that month (lake column for TP in
   lakes) or the registry's override; no standard, no line;
4. over the standard: when the upstream (inflow) section exceeds its own standard, no line if
   the outflow is not higher (未增加, :func:`inflow_outcome`), else tiers on
   (C_out − C_in) / C_in; otherwise tiers on (C − L) / L; amount = tiers × the amount per
   tier (capped when the rule set has a cap);
5. automatic-station events (:func:`exceeding_days`, :func:`section_events`): days whose
   daily value exceeds the standard, the inflow rule applied day by day; per section the union
   of the factors' exceeding days (``counting = "episode"``) or each factor's days
   (``counting = "factor"``) form runs; each run of ≥ ``min_days`` days is one occurrence,
   charged in the month the run reaches its ``min_days``-th day;
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
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Literal, cast

from compensation.errors import MeasurementError
from compensation.rules import FACTOR_NAMES, FACTORS, RuleSet
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
from sections.periods import required_days
from sections.registry import Registry, Section
from sections.standards import class_limit, precision

__all__ = [
    "BASIS_WORDS",
    "FACTOR_NAMES",
    "KINDS",
    "STATUSES",
    "InflowOutcome",
    "Measurement",
    "MonthValue",
    "exceeding_days",
    "find_runs",
    "inflow_outcome",
    "month_value",
    "monthly_statement",
    "section_events",
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
BASIS_WORDS: Mapping[str, str] = {
    "routine": "例行监测最高值",
    "spot": "抽测最高值",
    "auto_monthly_mean": "自动站日均值月均值",
}
"""Words of the kinds of data a month's value comes from."""

InflowOutcome = Literal["none", "not_increased", "increased"]


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
    suspect : int
        How many QARTOD-suspect (3) values an automatic daily value rests on; they count until
        a reviewer rejects them [A] (domain.md §5).
    lower_bound : bool
        The value is a lower bound ("≥"): an over-range (flag T) reading entered it.
    censored : bool
        A laboratory value below the detection limit, already given as half the limit
        [V 环办〔2011〕22号].
    """

    section: str
    factor: str
    date: dt.date
    value: Decimal | None
    kind: Kind
    status: str = "normal"
    note: str = ""
    ref: str = ""
    suspect: int = 0
    lower_bound: bool = False
    censored: bool = False


@dataclass(frozen=True, slots=True)
class MonthValue:
    """The value of a section and factor for a month, or why there is none.

    Attributes
    ----------
    value : Decimal or None
        Rounded to the evaluation precision [mg/L].
    basis : str
        The kind that decided (``routine``, ``spot``, ``auto_monthly_mean``) or why there is
        no value (``no_data``, ``insufficient_data``, ``exempt``).
    refs : tuple of str
        The measurements the value rests on.
    valid_days, required_days : int or None
        Days with an automatic daily value, and the days needed for a monthly mean.
    sources : tuple of str
        The kinds of data compared for the value.
    detail : str
        What the deciding value was compared with, in Chinese (empty when nothing was).
    suspect : int
        QARTOD-suspect values the value rests on.
    lower_bound, censored : bool
        The value is a lower bound ("≥"); a below-detection result entered it at half the limit.
    """

    value: Decimal | None
    basis: str
    refs: tuple[str, ...] = ()
    valid_days: int | None = None
    required_days: int | None = None
    sources: tuple[str, ...] = ()
    detail: str = ""
    suspect: int = 0
    lower_bound: bool = False
    censored: bool = False


def _first_of_month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _days_in_month(month: dt.date) -> int:
    return calendar.monthrange(month.year, month.month)[1]


def _highest(rows: Sequence[Measurement], digits: int) -> MonthValue:
    """The highest of manual results; refs and flags of every result with that value."""
    best = max(m.value for m in rows if m.value is not None)
    top = [m for m in rows if m.value == best]
    kinds = tuple(k for k in KINDS if any(m.kind == k for m in rows))
    return MonthValue(
        round_to_precision(best, digits),
        top[0].kind,
        tuple(m.ref for m in top if m.ref),
        sources=kinds,
        suspect=sum(m.suspect for m in top),
        lower_bound=any(m.lower_bound for m in top),
        censored=any(m.censored for m in top),
    )


def _automatic_mean(rows: Sequence[Measurement], month: dt.date, rule_set: RuleSet) -> MonthValue:
    """The unrounded mean of the month's automatic daily values, or ``insufficient_data``."""
    daily: dict[dt.date, Measurement] = {}
    for m in rows:
        if m.kind == "auto_daily":
            daily[m.date] = m
    required = required_days(_days_in_month(month), rule_set.min_valid_day_fraction)
    if len(daily) < required or not daily:
        return MonthValue(None, "insufficient_data", (), len(daily), required)
    used = [daily[d] for d in sorted(daily)]
    values = [m.value for m in used if m.value is not None]
    mean = sum(values, Decimal(0)) / Decimal(len(values))
    return MonthValue(
        mean,
        "auto_monthly_mean",
        tuple(m.ref for m in used if m.ref),
        len(daily),
        required,
        sources=("auto_monthly_mean",),
        suspect=sum(m.suspect for m in used),
        lower_bound=any(m.lower_bound for m in used),
        censored=any(m.censored for m in used),
    )


def _rounded(found: MonthValue, digits: int, **changes: Any) -> MonthValue:
    assert found.value is not None
    return replace(found, value=round_to_precision(found.value, digits), **changes)


def month_value(
    measurements: Iterable[Measurement], *, month: dt.date, rule_set: RuleSet
) -> MonthValue:
    """The month's value of one section and factor, rounded to the evaluation precision.

    Parameters
    ----------
    measurements : iterable of Measurement
        Results of one section and factor (other months are ignored).
    month : date
        Any day of the month.
    rule_set : RuleSet
        ``value_sources``, ``prefer``, ``automatic_factors``, ``auto_fallback`` and
        ``min_valid_day_fraction`` decide.

    Returns
    -------
    MonthValue
        Its ``basis`` names the kind that decided and ``sources`` the kinds compared.

    Notes
    -----
    - A factor whose automatic data the rule set prefers (环办监测函〔2020〕82号 [V]; the
      choice per rule set [A]), with valid daily values on at least ``min_valid_day_fraction``
      of the month's days: the highest of the mean of those daily values and the spot checks
      (any spot check counts, the highest value is charged [V 2016]).
    - Otherwise, and for laboratory-only factors such as COD: the highest routine or spot
      result; with none and ``auto_fallback``, the automatic monthly mean.
    - No result: basis ``no_data``; automatic values on too few days: ``insufficient_data``.

    Examples
    --------
    >>> from compensation.rules import load_rule_set
    >>> rules = load_rule_set("hengshui-2021")
    >>> day = dt.date(2025, 3, 1)
    >>> rows = [Measurement("s", "nh3n", day + dt.timedelta(days=i), Decimal("1.2"), "auto_daily")
    ...         for i in range(31)]
    >>> rows.append(Measurement("s", "nh3n", day, Decimal("1.6"), "spot"))
    >>> found = month_value(rows, month=day, rule_set=rules)
    >>> found.value, found.basis, found.sources
    (Decimal('1.60'), 'spot', ('auto_monthly_mean', 'spot'))
    """
    first = _first_of_month(month)
    rows = [m for m in measurements if _first_of_month(m.date) == first and m.value is not None]
    if not rows:
        return MonthValue(None, "no_data")
    factor = rows[0].factor
    digits = precision(factor)
    manual = [m for m in rows if m.kind in rule_set.value_sources]
    has_automatic = any(m.kind == "auto_daily" for m in rows)
    automatic = _automatic_mean(rows, first, rule_set) if has_automatic else None
    if rule_set.prefers_automatic(factor) and automatic is not None and automatic.value is not None:
        spots = [m for m in manual if m.kind == "spot"]
        if not spots:
            return _rounded(automatic, digits, detail="自动监测数据优先")
        spot = _highest(spots, digits)
        mean = round_to_precision(automatic.value, digits)
        if max(m.value for m in spots if m.value is not None) > automatic.value:
            return _rounded(
                spot, digits, sources=("auto_monthly_mean", "spot"),
                detail=f"高于自动站日均值月均值 {mean}",
                valid_days=automatic.valid_days, required_days=automatic.required_days,
            )  # fmt: skip
        return _rounded(
            automatic, digits, sources=("auto_monthly_mean", "spot"),
            detail=f"自动监测数据优先，不低于抽测最高值 {spot.value}",
        )  # fmt: skip
    if manual:
        return _highest(manual, digits)
    if automatic is not None and (rule_set.auto_fallback or rule_set.prefers_automatic(factor)):
        return automatic if automatic.value is None else _rounded(automatic, digits)
    return MonthValue(None, "no_data")


def standard_for(section: Section, factor: str, month: dt.date) -> Decimal | None:
    """The section's standard for a factor in a month [mg/L], or None when it has none.

    The registry's override wins; otherwise the GB 3838-2002 limit of the section's target
    class that month, the lake column for lakes; a 劣Ⅴ target and TN in rivers have none.
    """
    if factor in section.standards:
        return _decimal(section.standards[factor])
    target = section.target_class(month)
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


def inflow_outcome(
    value: Decimal, inflow_value: Decimal | None, inflow_standard: Decimal | None
) -> InflowOutcome:
    """The inflow rule: how an inflow section over its own standard bears on the outflow.

    Parameters
    ----------
    value : Decimal
        The outflow section's value (monthly, or daily for events) [mg/L].
    inflow_value : Decimal or None
        The inflow (upstream reference) section's value for the same factor and period.
    inflow_standard : Decimal or None
        The inflow section's standard.

    Returns
    -------
    {'none', 'not_increased', 'increased'}
        ``none``: no inflow value or it meets its standard (the plain rule applies);
        ``not_increased``: the inflow exceeds and the outflow is not higher: no deduction,
        and for events not an exceeding day; ``increased``: the inflow exceeds and the
        outflow is higher: tiers on the increase.

    References
    ----------
    .. [1] 冀政办字〔2016〕169号 lineage: "入境水质超标、出境浓度未增加的，不扣缴" [V]; the
       Baoding February 2018 bulletin; for events [A] (domain.md §6).

    Examples
    --------
    >>> inflow_outcome(Decimal("23.6"), Decimal("24.0"), Decimal("20"))
    'not_increased'
    >>> inflow_outcome(Decimal("25"), Decimal("18"), Decimal("20"))
    'none'
    """
    if inflow_value is None or inflow_standard is None or inflow_value <= inflow_standard:
        return "none"
    return "not_increased" if value <= inflow_value else "increased"


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
        if m.suspect < 0:
            raise MeasurementError(f"可疑值个数不能为负 / suspect must be ≥ 0{where}")


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
        before it (a run that started in the previous month), of the assessed sections and of
        their inflow sections.
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

    def rows_of(section_id: str) -> Mapping[str, Sequence[Measurement]]:
        return {f: by_key.get((section_id, f), []) for f in FACTORS}

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
            for factor in rule_set.factors_for(section.water_body):
                rows = by_key.get((section.id, factor), [])
                status = _assess(
                    section, factor, rows, first, rule_set, registry, value_of, lines, exempt
                )
                statuses.append(status)
                if status.status not in ("meets", "no_standard"):
                    section_ok = False
            if rule_set.events.enabled:
                upstream = (
                    registry.section(section.upstream) if section.upstream is not None else None
                )
                events.extend(
                    section_events(
                        section,
                        rows_of(section.id),
                        month=first,
                        rule_set=rule_set,
                        upstream=upstream,
                        upstream_rows=rows_of(upstream.id) if upstream is not None else None,
                    )
                )
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
            assumptions=tuple(a.text for a in rule_set.unverified),
            method=rule_set.method(),
        ),
        units=tuple(units),
        section_names=tuple((s.id, s.name) for s in registry.sections),
    )


def _basis(found: MonthValue) -> str:
    words = BASIS_WORDS.get(found.basis, found.basis)
    return f"{words}（{found.detail}）" if found.detail else words


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
        code = cast(StatusCode, exemption.status)  # the rule sets exempt only these statuses
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
    basis = _basis(found)
    clause = rule.clause
    body_clause = rule_set.water_bodies[section.water_body].clauses.get(factor)
    if body_clause:
        clause = f"{clause}；{body_clause}"
    multiple = plain
    inflow_value: Decimal | None = None
    if section.upstream is not None:
        upstream = registry.section(section.upstream)
        inflow = value_of(upstream.id, factor)
        outcome = inflow_outcome(value, inflow.value, standard_for(upstream, factor, month))
        if outcome == "not_increased":
            note = f"入境断面 {upstream.name} {inflow.value} 超标，出境 {value} 未增加，不扣缴"
            exempt.append(ExemptLine(section.id, factor, "not_increased", note))
            return FactorStatus(
                section.id, factor, "not_increased",
                f"超标 {shown} 倍，未增加", value, standard, shown,
            )  # fmt: skip
        if outcome == "increased":
            assert inflow.value is not None
            inflow_value = inflow.value
            # never more than the plain multiple: receiving polluted water must not cost more
            multiple = min(exceedance_multiple(value, inflow.value), plain)
            basis = f"{basis}；入境 {upstream.name} 超标，按较入境增加倍数计"
            clause = f"{clause}；{rule_set.clauses['inflow_increase']}"
    count = tiers(multiple, rule.step)
    amount = rule_set.amount_per_tier_wan * count
    if rule_set.cap_wan is not None and amount > rule_set.cap_wan:
        amount = rule_set.cap_wan
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
            sources=found.sources,
            suspect=found.suspect,
            lower_bound=found.lower_bound,
            censored=found.censored,
        )
    )
    return FactorStatus(section.id, factor, "exceeds", f"超标 {shown} 倍", value, standard, shown)


def exceeding_days(
    section: Section,
    factor: str,
    rows: Sequence[Measurement],
    *,
    rule_set: RuleSet,
    upstream: Section | None = None,
    upstream_rows: Sequence[Measurement] = (),
) -> dict[dt.date, Measurement]:
    """The days on which a section's automatic daily value of a factor counts as exceeding.

    A day counts when its daily value, rounded half to even to the evaluation precision,
    exceeds the section's standard that day, its month is not exempt (断流, 结冰 …) and —
    when the rule set applies the inflow rule to events — the inflow rule does not clear it:
    a day on which the inflow section's daily value also exceeds the inflow's standard and the
    outflow is not higher (:func:`inflow_outcome` gives ``not_increased``) does not count.

    Returns
    -------
    dict of date to Measurement
        The exceeding days and the daily values they rest on.

    References
    ----------
    .. [1] domain.md §6, automatic-station events [V structure 2021 generation]; the inflow
       rule for events [A].
    """
    exempt_months = _exempt_months(rows, rule_set)
    digits = precision(factor)
    inflow_daily: dict[dt.date, Decimal] = {}
    if rule_set.events.inflow and upstream is not None:
        for m in upstream_rows:
            if m.kind == "auto_daily" and m.value is not None and m.status == "normal":
                inflow_daily[m.date] = round_to_precision(m.value, digits)
    exceeding: dict[dt.date, Measurement] = {}
    exempt = {(d.year, d.month) for d in exempt_months}
    standards: dict[tuple[str, int, int], Decimal | None] = {}  # one lookup per section-month

    def standard_of(which: Section, day: dt.date) -> Decimal | None:
        key = (which.id, day.year, day.month)
        if key not in standards:
            standards[key] = standard_for(which, factor, dt.date(day.year, day.month, 1))
        return standards[key]

    for m in rows:
        if m.kind != "auto_daily" or m.value is None or (m.date.year, m.date.month) in exempt:
            continue
        standard = standard_of(section, m.date)
        value = round_to_precision(m.value, digits)
        if standard is None or value <= standard:
            continue
        if upstream is not None and m.date in inflow_daily:
            inflow_standard = standard_of(upstream, m.date)
            if inflow_outcome(value, inflow_daily[m.date], inflow_standard) == "not_increased":
                continue
        exceeding[m.date] = m
    return exceeding


def section_events(
    section: Section,
    rows: Mapping[str, Sequence[Measurement]],
    *,
    month: dt.date,
    rule_set: RuleSet,
    upstream: Section | None = None,
    upstream_rows: Mapping[str, Sequence[Measurement]] | None = None,
) -> list[EventLine]:
    """Automatic-station events of one section charged in ``month``.

    Parameters
    ----------
    section : Section
    rows : mapping of str to sequence of Measurement
        The section's measurements per factor (the month and the days before it).
    month : date
        Any day of the month charged.
    rule_set : RuleSet
        ``events``: factors, ``min_days``, amount, ``counting`` and ``inflow``.
    upstream, upstream_rows : Section and mapping, optional
        The inflow section and its measurements per factor, for the inflow rule.

    Notes
    -----
    The event factors are those of the rule set's ``events.factors`` that the section's water
    body assesses. With ``counting = "episode"`` [A] the exceeding days of all of them
    (:func:`exceeding_days`) are united per section and split into maximal runs of
    consecutive days; each run of at least ``min_days`` days is one occurrence whichever
    factors exceed during it, and its line lists each factor with its days. With
    ``counting = "factor"`` each factor's runs are occurrences of their own. An occurrence is
    charged in the month of its ``min_days``-th day [A].
    """
    rule = rule_set.events
    first = _first_of_month(month)
    assessed = rule_set.factors_for(section.water_body)
    factors = [f for f in rule.factors if f in assessed]
    inflow_rows = upstream_rows or {}
    exceeding = {
        f: exceeding_days(
            section, f, rows.get(f, ()), rule_set=rule_set,
            upstream=upstream, upstream_rows=inflow_rows.get(f, ()),
        )
        for f in factors
    }  # fmt: skip
    groups = [tuple(factors)] if rule.counting == "episode" else [(f,) for f in factors]
    clause = f"{rule_set.document}：{rule.clause}；{rule.charge_clause}"
    if rule.counting == "episode" and rule.counting_clause:
        clause = f"{clause}；{rule.counting_clause}"
    if rule.inflow and rule.inflow_clause:
        clause = f"{clause}；{rule.inflow_clause}"
    result: list[EventLine] = []
    for group in groups:
        days = [day for f in group for day in exceeding[f]]
        for start, end in find_runs(days):
            length = (end - start).days + 1
            if length < rule.min_days:
                continue
            charged_on = start + dt.timedelta(days=rule.min_days - 1)
            if _first_of_month(charged_on) != first:
                continue
            per_factor = [
                (f, tuple(sorted(d for d in exceeding[f] if start <= d <= end))) for f in group
            ]
            per_factor = [(f, found) for f, found in per_factor if found]
            used = [exceeding[f][d] for f, found in per_factor for d in found]
            used.sort(key=lambda m: m.date)
            involved = tuple(f for f, _ in per_factor)
            result.append(
                EventLine(
                    section=section.id,
                    factor="+".join(involved),
                    start=start,
                    end=end,
                    days=length,
                    charged_on=charged_on,
                    amount_wan=rule.amount_wan,
                    clause=clause,
                    refs=tuple(m.ref for m in used if m.ref),
                    factors=involved,
                    factor_days=tuple(per_factor),
                    counting=rule.counting,
                    suspect=sum(m.suspect for m in used),
                    lower_bound=any(m.lower_bound for m in used),
                )
            )
    result.sort(key=lambda e: (e.start, e.factor))
    return result
