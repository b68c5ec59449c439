"""Compensation rule sets: one data file per document in ``compensation/rules/``.

A rule set names its document (文号), title and effective period, and every parameter carries
its provenance: ``verified`` (checked in public sources), ``derived`` (derived from official
monthly bulletins) or ``assumption`` (our assumption, shown to users as one).

References
----------
.. [1] 冀政办字〔2016〕169号; 衡政办字〔2016〕171号; 衡政办字〔2021〕3号 (domain.md §6).
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from functools import cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from compensation.errors import RuleError

__all__ = [
    "FACTORS",
    "PROVENANCES",
    "Assumption",
    "EventRule",
    "FactorRule",
    "RewardRule",
    "RuleSet",
    "load_rule_set",
    "parse_rule_set",
    "rule_set_for",
    "rule_sets",
]

FACTORS: tuple[str, ...] = ("cod", "codmn", "nh3n", "tp", "tn")
"""Factors a rule set may assess (parameter keys)."""

PROVENANCES: tuple[str, ...] = ("verified", "derived", "assumption")
Provenance = Literal["verified", "derived", "assumption"]
STATUSES: tuple[str, ...] = ("no_flow", "dry", "frozen", "excluded")


@dataclass(frozen=True, slots=True)
class Assumption:
    """A rule-set parameter that is an assumption, as shown to users."""

    parameter: str
    value: str
    clause: str


@dataclass(frozen=True, slots=True)
class FactorRule:
    """How one factor is charged: the multiple per tier (step) and the clause."""

    key: str
    step: Decimal
    step_provenance: Provenance
    clause: str


@dataclass(frozen=True, slots=True)
class EventRule:
    """Automatic-station events: runs of ≥ ``min_days`` consecutive exceeding days."""

    enabled: bool
    factors: tuple[str, ...]
    min_days: int
    amount_wan: Decimal
    clause: str
    charge_clause: str


@dataclass(frozen=True, slots=True)
class RewardRule:
    """A configurable reward, kept as separate lines and never netted against deductions."""

    enabled: bool
    kind: str
    amount_wan: Decimal
    clause: str


@dataclass(frozen=True, slots=True)
class RuleSet:
    """One compensation document's rules.

    Attributes
    ----------
    id : str
        e.g. ``"hengshui-2021"``.
    document : str
        Document number, e.g. ``"衡政办字〔2021〕3号"``.
    title : str
        Title of the document.
    effective_from, effective_to : date, date or None
        Months in force (inclusive); ``None``: still in force.
    amount_per_tier_wan : Decimal
        万元 per tier (30).
    factors : mapping of str to FactorRule
        The factors assessed, in order.
    value_sources : tuple of str
        Kinds of results whose maximum is the month's value (``routine``, ``spot``).
    auto_fallback : bool
        With no routine or spot result, use the monthly mean of the automatic daily values.
    min_valid_day_fraction : Fraction
        Share of the month's days that need a valid automatic daily value for that mean.
    exempt_statuses : tuple of str
        Month statuses that exempt a section (no flow, dry, frozen, excluded).
    events, rewards : EventRule, RewardRule
    clauses : mapping of str to str
        Clause text per rule part (value selection, inflow, exemptions, amount).
    assumptions : tuple of Assumption
        Every parameter tagged ``assumption``.
    note : str
        A summary for users.
    """

    id: str
    document: str
    title: str
    effective_from: dt.date
    effective_to: dt.date | None
    amount_per_tier_wan: Decimal
    factors: Mapping[str, FactorRule]
    value_sources: tuple[str, ...]
    auto_fallback: bool
    min_valid_day_fraction: Fraction
    exempt_statuses: tuple[str, ...]
    events: EventRule
    rewards: RewardRule
    clauses: Mapping[str, str]
    assumptions: tuple[Assumption, ...]
    note: str = ""

    def in_force(self, month: dt.date) -> bool:
        """Whether the rule set applies to the month containing ``month``."""
        first = month.replace(day=1)
        start = self.effective_from.replace(day=1)
        return start <= first and (self.effective_to is None or first <= self.effective_to)


# --- loading ----------------------------------------------------------------------------------


@cache
def rule_sets() -> tuple[RuleSet, ...]:
    """Every bundled rule set, oldest first."""
    folder = resources.files("compensation").joinpath("rules")
    loaded = [
        parse_rule_set(item.read_text("utf-8"), source=item.name)
        for item in folder.iterdir()
        if item.name.endswith(".toml")
    ]
    return tuple(sorted(loaded, key=lambda r: r.effective_from))


def load_rule_set(rule_id: str | Path) -> RuleSet:
    """A bundled rule set by id, or a rule-set file by path.

    Raises
    ------
    RuleError
        Unknown id (the message lists the valid ones), unreadable or invalid file.
    """
    path = Path(rule_id)
    if path.suffix == ".toml" and path.exists():
        try:
            return parse_rule_set(path.read_text("utf-8"), source=str(path))
        except OSError as exc:
            raise RuleError(f"无法读取规则文件 / cannot read rule file {path}: {exc}") from None
    for rule_set in rule_sets():
        if rule_set.id == str(rule_id):
            return rule_set
    valid = ", ".join(r.id for r in rule_sets())
    raise RuleError(f"未知规则集 / unknown rule set {str(rule_id)!r}; valid: {valid}")


def rule_set_for(month: dt.date) -> RuleSet:
    """The bundled rule set in force for a month (the newest one if several are).

    Raises
    ------
    RuleError
        When no rule set is in force.
    """
    in_force = [r for r in rule_sets() if r.in_force(month)]
    if not in_force:
        raise RuleError(f"{month:%Y-%m} 没有有效的规则集 / no rule set in force")
    return in_force[-1]


def _get(table: Mapping[str, Any], key: str, source: str, kind: type | tuple[type, ...]) -> Any:
    if key not in table:
        raise RuleError(f"{source}: 缺少 / missing '{key}'")
    value = table[key]
    if not isinstance(value, kind):
        raise RuleError(f"{source}: '{key}' 类型错误 / has the wrong type: {value!r}")
    return value


def _decimal(text: Any, where: str) -> Decimal:
    try:
        value = Decimal(str(text))
    except InvalidOperation:
        raise RuleError(f"{where}: 不是数字 / not a number: {text!r}") from None
    if not value.is_finite():
        raise RuleError(f"{where}: 不是有限数 / not finite: {text!r}")
    return value


def _provenance(table: Mapping[str, Any], key: str, where: str) -> Provenance:
    value = table.get(key)
    if value not in PROVENANCES:
        raise RuleError(
            f"{where}: '{key}' 必须是 {' | '.join(PROVENANCES)} / must be a provenance tag, "
            f"got {value!r}"
        )
    return value  # type: ignore[no-any-return]


def _fraction(text: Any, where: str) -> Fraction:
    try:
        value = Fraction(str(text))
    except (ValueError, ZeroDivisionError):
        raise RuleError(f"{where}: 不是分数 / not a fraction: {text!r}") from None
    if not 0 < value <= 1:
        raise RuleError(f"{where}: 必须在 (0, 1] 内 / must lie in (0, 1]: {text!r}")
    return value


def parse_rule_set(text: str, *, source: str = "<string>") -> RuleSet:
    """Parse and validate a rule-set TOML document."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"{source}: TOML 语法错误 / TOML syntax error: {exc}") from None
    assumptions: list[Assumption] = []

    def tagged(
        table: Mapping[str, Any], key: str, value_key: str, clause_key: str, name: str
    ) -> None:
        if _provenance(table, key, f"{source} [{name}]") == "assumption":
            assumptions.append(
                Assumption(name, str(table.get(value_key, "")), str(table.get(clause_key, "")))
            )

    rule_id = _get(doc, "id", source, str)
    try:
        start = dt.date.fromisoformat(_get(doc, "effective_from", source, str))
        end_text = doc.get("effective_to")
        if end_text is not None and not isinstance(end_text, str):
            raise ValueError(f"effective_to must be a quoted date, got {end_text!r}")
        end = dt.date.fromisoformat(end_text) if end_text else None
    except ValueError as exc:
        raise RuleError(f"{source}: 生效日期错误 / bad effective date: {exc}") from None
    if _provenance(doc, "effective_provenance", source) == "assumption":
        period = f"{start.isoformat()} – {end.isoformat() if end else '…'}"
        assumptions.append(Assumption("effective_period", period, "生效期间为假设"))

    amount = _get(doc, "amount_per_tier_wan", source, dict)
    tagged(amount, "provenance", "value", "clause", "amount_per_tier_wan")
    per_tier = _decimal(amount.get("value"), f"{source} [amount_per_tier_wan]")

    factor_tables = _get(doc, "factors", source, dict)
    factors: dict[str, FactorRule] = {}
    for key, table in factor_tables.items():
        where = f"{source} [factors.{key}]"
        if key not in FACTORS:
            raise RuleError(f"{where}: 未知因子 / unknown factor (valid: {', '.join(FACTORS)})")
        if not isinstance(table, dict):
            raise RuleError(f"{where}: 必须是表 / must be a table with 'step' and its provenance")
        if "step" not in table:
            raise RuleError(f"{where}: 缺少 / missing 'step'")
        step = _decimal(table.get("step"), f"{where} step")
        if step <= 0:
            raise RuleError(f"{where}: step 必须为正 / must be positive")
        provenance = _provenance(table, "step_provenance", where)
        if provenance == "assumption":
            assumptions.append(
                Assumption(f"factors.{key}.step", str(step), table.get("clause", ""))
            )
        factors[key] = FactorRule(key, step, provenance, str(table.get("clause", "")))
    if not factors:
        raise RuleError(f"{source}: 至少需要一个因子 / needs at least one factor")

    selection = _get(doc, "value_selection", source, dict)
    tagged(selection, "provenance", "method", "clause", "value_selection")
    where = f"{source} [value_selection]"
    sources = tuple(selection.get("sources", ()))
    if not set(sources) <= {"routine", "spot"} or not sources:
        raise RuleError(f"{where}: sources 只能是 routine、spot / must be routine and/or spot")
    auto_fallback = bool(selection.get("auto_fallback", False))
    tagged(selection, "auto_fallback_provenance", "auto_fallback", "clause", "auto_fallback")
    fraction = _fraction(selection.get("min_valid_day_fraction", "2/3"), where)
    if _provenance(selection, "min_valid_day_fraction_provenance", where) == "assumption":
        assumptions.append(
            Assumption("min_valid_day_fraction", str(fraction), "自动站月均值需有效日数比例")
        )

    inflow = _get(doc, "inflow", source, dict)
    tagged(inflow, "provenance", "rule", "clause", "inflow")
    tagged(inflow, "increase_formula_provenance", "increase_formula", "increase_clause",
           "inflow.increase_formula")  # fmt: skip

    exemptions = _get(doc, "exemptions", source, dict)
    tagged(exemptions, "provenance", "statuses", "clause", "exemptions")
    statuses = tuple(exemptions.get("statuses", ()))
    if not set(statuses) <= set(STATUSES):
        raise RuleError(f"{source} [exemptions]: 未知状态 / unknown status (valid: {STATUSES})")

    events_table = _get(doc, "events", source, dict)
    tagged(events_table, "provenance", "enabled", "clause", "events")
    events_enabled = bool(events_table.get("enabled", False))
    event_factors = tuple(events_table.get("factors", ()))
    if events_enabled:
        where = f"{source} [events]"
        if not event_factors or not set(event_factors) <= set(FACTORS):
            raise RuleError(f"{where}: factors 必须是已知因子 / must be known factors")
        tagged(events_table, "min_days_provenance", "min_days", "clause", "events.min_days")
        tagged(events_table, "amount_provenance", "amount_wan", "clause", "events.amount_wan")
        tagged(events_table, "charge_month_provenance", "charge_month", "charge_clause",
               "events.charge_month")  # fmt: skip
    min_days = events_table.get("min_days", 3)
    if isinstance(min_days, bool) or not isinstance(min_days, int) or min_days < 1:
        raise RuleError(
            f"{source} [events]: min_days 必须是 ≥ 1 的整数 / must be an integer ≥ 1, "
            f"got {min_days!r}"
        )
    events = EventRule(
        enabled=events_enabled,
        factors=event_factors,
        min_days=min_days,
        amount_wan=_decimal(events_table.get("amount_wan", "0"), f"{source} [events]"),
        clause=str(events_table.get("clause", "")),
        charge_clause=str(events_table.get("charge_clause", "")),
    )

    rewards_table = _get(doc, "rewards", source, dict)
    tagged(rewards_table, "provenance", "amount_wan", "clause", "rewards")
    rewards = RewardRule(
        enabled=bool(rewards_table.get("enabled", False)),
        kind=str(rewards_table.get("kind", "all_factors_meet")),
        amount_wan=_decimal(rewards_table.get("amount_wan", "0"), f"{source} [rewards]"),
        clause=str(rewards_table.get("clause", "")),
    )
    if rewards.kind != "all_factors_meet":
        raise RuleError(f"{source} [rewards]: 未知奖励类型 / unknown kind {rewards.kind!r}")

    return RuleSet(
        id=rule_id,
        document=_get(doc, "document", source, str),
        title=_get(doc, "title", source, str),
        effective_from=start,
        effective_to=end,
        amount_per_tier_wan=per_tier,
        factors=MappingProxyType(factors),
        value_sources=sources,
        auto_fallback=auto_fallback,
        min_valid_day_fraction=fraction,
        exempt_statuses=statuses,
        events=events,
        rewards=rewards,
        clauses=MappingProxyType(
            {
                "amount": str(amount.get("clause", "")),
                "value_selection": str(selection.get("clause", "")),
                "inflow": str(inflow.get("clause", "")),
                "inflow_increase": str(inflow.get("increase_clause", "")),
                "exemptions": str(exemptions.get("clause", "")),
            }
        ),
        assumptions=tuple(assumptions),
        note=str(doc.get("note", "")),
    )
