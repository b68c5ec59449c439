"""Compensation rule sets: one data file per document in ``compensation/rules/``.

A rule set names its document (文号), title and effective period, and every parameter carries
its provenance: ``verified`` (checked in public sources), ``derived`` (derived from official
monthly bulletins, or carried over from the verified 2016 notice to a later rule set whose text
is not public) or ``assumption`` (our assumption, configurable). Statements list every parameter
that is not verified, each with its tag in Chinese (:data:`PROVENANCE_TAGS`).

References
----------
.. [1] 冀政办字〔2016〕169号; 衡政办字〔2016〕171号; 衡政办字〔2021〕3号 (domain.md §6).
.. [2] 环办监测函〔2020〕82号: automatic data preferred for pH, DO, CODMn, NH3-N, TP, TN
   (domain.md §5) [V].
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from functools import cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, TypeVar, cast, get_args

from compensation.errors import RuleError
from sections.periods import DEFAULT_MIN_DAY_FRACTION, as_fraction
from sections.registry import WaterBody

__all__ = [
    "AUTOMATIC_PARAMETERS",
    "COUNTINGS",
    "FACTORS",
    "FACTOR_NAMES",
    "PREFERENCES",
    "PROVENANCES",
    "PROVENANCE_TAGS",
    "WATER_BODY_NAMES",
    "Assumption",
    "EventRule",
    "FactorRule",
    "RewardRule",
    "RuleSet",
    "WaterBodyRule",
    "factor_list_text",
    "load_rule_set",
    "parse_rule_set",
    "rule_set_for",
    "rule_sets",
]

FACTORS: tuple[str, ...] = ("cod", "codmn", "nh3n", "tp", "tn")
"""Factors a rule set may assess (parameter keys)."""

FACTOR_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "cod": "化学需氧量",
        "codmn": "高锰酸盐指数",
        "nh3n": "氨氮",
        "tp": "总磷",
        "tn": "总氮",
        "ph": "pH",
        "do": "溶解氧",
    }
)
"""Chinese names of the factors (and of the other automatic parameters)."""

AUTOMATIC_PARAMETERS: tuple[str, ...] = ("ph", "do", "codmn", "nh3n", "tp", "tn")
"""Parameters whose automatic data are preferred over manual data (环办监测函〔2020〕82号) [V]."""

PROVENANCES: tuple[str, ...] = ("verified", "derived", "assumption")
Provenance = Literal["verified", "derived", "assumption"]
_C = TypeVar("_C", bound=str)

PROVENANCE_TAGS: Mapping[str, str] = MappingProxyType(
    {"verified": "[已核实]", "derived": "[推定]", "assumption": "[假设]"}
)
"""How statements tag a parameter's provenance."""

Preference = Literal["manual", "automatic"]
PREFERENCES: tuple[Preference, ...] = get_args(Preference)
"""``value_selection.prefer``: which data decide the month's value of an automatic factor."""

Counting = Literal["episode", "factor"]
COUNTINGS: tuple[Counting, ...] = get_args(Counting)
"""``events.counting``: one occurrence per run of days per section, or per factor."""

WATER_BODY_NAMES: Mapping[str, str] = MappingProxyType({"river": "河流", "lake": "湖库"})
"""Chinese names of the registry's water-body kinds."""

STATUSES: tuple[str, ...] = ("no_flow", "dry", "frozen", "excluded")
STATUS_NAMES: Mapping[str, str] = MappingProxyType(
    {"no_flow": "断流", "dry": "无水", "frozen": "结冰", "excluded": "剔除"}
)


def factor_list_text(factors: Sequence[str]) -> str:
    """Factor keys as Chinese names joined by 、 (an unknown key is shown as itself).

    Examples
    --------
    >>> factor_list_text(["codmn", "nh3n", "tp"])
    '高锰酸盐指数、氨氮、总磷'
    """
    return "、".join(FACTOR_NAMES.get(f, f) for f in factors) or "无"


@dataclass(frozen=True, slots=True)
class Assumption:
    """A rule-set parameter that is not verified, as shown to users.

    Attributes
    ----------
    parameter : str
        Where it sits in the rule file, e.g. ``factors.codmn.step``.
    value : str
        Its value, as text.
    clause : str
        The clause or the reason, in Chinese.
    provenance : {'derived', 'assumption'}
        Its tag.
    label : str
        What it is, in Chinese, e.g. ``高锰酸盐指数超标倍数每档``.
    """

    parameter: str
    value: str
    clause: str
    provenance: Provenance = "assumption"
    label: str = ""

    @property
    def text(self) -> str:
        """One line for statements: tag, what, value and clause, in Chinese."""
        head = f"{PROVENANCE_TAGS[self.provenance]} {self.label or self.parameter}：{self.value}"
        return head + (f"（{self.clause}）" if self.clause else "")


@dataclass(frozen=True, slots=True)
class FactorRule:
    """How one factor is charged: the multiple per tier (step) and the clause."""

    key: str
    step: Decimal
    step_provenance: Provenance
    clause: str


@dataclass(frozen=True, slots=True)
class WaterBodyRule:
    """The factors assessed at sections of one water-body kind, each with its provenance.

    Attributes
    ----------
    key : {'river', 'lake'}
    factors : tuple of str
        The factors assessed, in order.
    provenances : mapping of str to str
        Provenance per factor (the table's ``provenance`` unless ``factor_provenance`` says
        otherwise).
    clause : str
        Why these factors.
    clauses : mapping of str to str
        A clause of its own for some factors (``factor_clauses``), e.g. lake TN.
    """

    key: str
    factors: tuple[str, ...]
    provenances: Mapping[str, Provenance]
    clause: str
    clauses: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class EventRule:
    """Automatic-station events: runs of ≥ ``min_days`` consecutive exceeding days.

    Attributes
    ----------
    enabled : bool
    factors : tuple of str
        Factors whose exceeding daily values count.
    min_days : int
        Days a run needs (inclusive).
    amount_wan : Decimal
        万元 per occurrence.
    counting : {'episode', 'factor'}
        ``episode``: per section, the union of the days on which any event factor exceeds
        forms the runs, and each run is one occurrence whichever factors exceed during it;
        ``factor``: each factor's runs are occurrences of their own [A].
    inflow : bool
        Apply the inflow rule day by day: a day on which the inflow section also exceeds its
        standard for the factor and the outflow is not higher is not an exceeding day [A].
    clause, charge_clause, counting_clause, inflow_clause : str
    """

    enabled: bool
    factors: tuple[str, ...]
    min_days: int
    amount_wan: Decimal
    clause: str
    charge_clause: str
    counting: Counting = "episode"
    inflow: bool = True
    counting_clause: str = ""
    inflow_clause: str = ""


@dataclass(frozen=True, slots=True)
class RewardRule:
    """A configurable reward, kept as separate lines and never netted against deductions."""

    enabled: bool
    kind: str
    amount_wan: Decimal
    clause: str


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


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
        The steps of the factors, in order.
    value_sources : tuple of str
        Kinds of manual results whose maximum is the month's value (``routine``, ``spot``).
    auto_fallback : bool
        With no routine or spot result, use the monthly mean of the automatic daily values.
    min_valid_day_fraction : Fraction
        Share of the month's days that need a valid automatic daily value for that mean.
    exempt_statuses : tuple of str
        Month statuses that exempt a section (no flow, dry, frozen, excluded).
    events, rewards : EventRule, RewardRule
    clauses : mapping of str to str
        Clause text per rule part (value selection, inflow, exemptions, amount).
    unverified : tuple of Assumption
        Every parameter tagged ``derived`` or ``assumption``, in file order.
    note : str
        A summary for users.
    cap_wan : Decimal or None
        Cap per section, factor and month [万元]; None: no cap.
    water_bodies : mapping of str to WaterBodyRule
        The factors assessed per water-body kind (``river``, ``lake``).
    prefer : {'manual', 'automatic'}
        ``automatic``: for the factors in ``automatic_factors``, a sufficient automatic
        monthly mean decides the month's value together with the spot checks (the highest
        counts); ``manual``: the highest routine or spot result decides [A].
    automatic_factors : tuple of str
        Factors whose automatic data are preferred (环办监测函〔2020〕82号).
    provenance : mapping of str to str
        The provenance of every tagged parameter, by its place in the rule file.
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
    unverified: tuple[Assumption, ...]
    note: str = ""
    cap_wan: Decimal | None = None
    water_bodies: Mapping[str, WaterBodyRule] = field(default_factory=_empty)
    prefer: Preference = "manual"
    automatic_factors: tuple[str, ...] = ()
    provenance: Mapping[str, Provenance] = field(default_factory=_empty)

    def tag(self, parameter: str) -> str:
        """The Chinese provenance tag of a parameter (``[假设]`` …); empty when unknown."""
        found = self.provenance.get(parameter)
        return "" if found is None else PROVENANCE_TAGS[found]

    @property
    def assumptions(self) -> tuple[Assumption, ...]:
        """The parameters tagged ``assumption`` (a subset of :attr:`unverified`)."""
        return tuple(a for a in self.unverified if a.provenance == "assumption")

    def _t(self, parameter: str) -> str:
        tag = self.tag(parameter)
        return f" {tag}" if tag else ""

    def in_force(self, month: dt.date) -> bool:
        """Whether the rule set applies to the month containing ``month``."""
        first = month.replace(day=1)
        start = self.effective_from.replace(day=1)
        return start <= first and (self.effective_to is None or first <= self.effective_to)

    def factors_for(self, water_body: str) -> tuple[str, ...]:
        """The factors assessed at a section of this water-body kind.

        Raises
        ------
        KeyError
            A water-body kind the rule set does not list (the message names the valid ones).
        """
        try:
            return self.water_bodies[water_body].factors
        except KeyError:
            valid = ", ".join(self.water_bodies)
            raise KeyError(
                f"rule set {self.id}: unknown water body {water_body!r}; valid: {valid}"
            ) from None

    def prefers_automatic(self, factor: str) -> bool:
        """Whether a sufficient automatic monthly mean decides this factor's month."""
        return self.prefer == "automatic" and factor in self.automatic_factors

    def method(self) -> tuple[str, ...]:
        """How the month is computed under this rule set, one sentence each, in Chinese.

        Names the factors per water body, how the month's value is chosen, and how
        automatic-station events are counted, each with the provenance tag of its choice.
        """
        lines: list[str] = []
        for body in self.water_bodies.values():
            lines.append(
                f"{WATER_BODY_NAMES.get(body.key, body.key)}断面考核因子："
                f"{factor_list_text(body.factors)}。"
            )
        manual = "、".join({"routine": "例行监测", "spot": "抽测"}[s] for s in self.value_sources)
        if self.prefer == "automatic" and self.automatic_factors:
            automatic = factor_list_text([f for f in self.automatic_factors if f in FACTORS])
            lines.append(
                f"月度值：{automatic}有足够自动站日均值时（有效日数不少于当月天数的 "
                f"{self.min_valid_day_fraction}），取自动站日均值月均值与抽测结果中的最高值；"
                f"否则及其他因子取{manual}结果中的最高值{self._t('value_selection.prefer')}。"
            )
        else:
            lines.append(f"月度值：取{manual}结果中的最高值{self._t('value_selection')}。")
        if self.auto_fallback:
            lines.append("无手工监测结果时，采用自动站日均值月均值。")
        rule = self.events
        if rule.enabled:
            how = (
                "同一断面各因子超标日合并成段，每段连续超标计一次，不论几项因子同时超标"
                if rule.counting == "episode"
                else "按因子分别计次"
            )
            lines.append(
                f"自动站连续超标事件：{factor_list_text(rule.factors)}日均值连续 {rule.min_days} "
                f"天及以上超标；{how}{self._t('events.counting')}，每次 {rule.amount_wan} 万元"
                f"{self._t('events.amount_wan')}。"
            )
            lines.append(
                "事件适用入境规则：入境断面当日同一因子亦超标且出境日均值不高于入境的，"
                f"该日不计为超标日{self._t('events.inflow')}。"
                if rule.inflow
                else "事件不适用入境规则：出境日均值超标即计为超标日。"
            )
        else:
            lines.append("本规则集无自动站连续超标事件扣缴。")
        return tuple(lines)


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
    for option in get_args(Provenance):
        if value == option:
            return cast(Provenance, option)
    raise RuleError(
        f"{where}: '{key}' 必须是 {' | '.join(PROVENANCES)} / must be a provenance tag, "
        f"got {value!r}"
    )


def _fraction(text: Any, where: str) -> Fraction:
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise RuleError(f"{where}: 不是分数 / not a fraction: {text!r}")
    try:
        return as_fraction(text)
    except ValueError as exc:
        raise RuleError(f"{where}: {exc}") from None


def _keys(table: Mapping[str, Any], key: str, where: str, valid: Sequence[str]) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RuleError(f"{where}: '{key}' 必须是字符串列表 / must be a list of strings")
    unknown = [v for v in value if v not in valid]
    if unknown:
        raise RuleError(
            f"{where}: '{key}' 含未知项 / unknown {', '.join(unknown)} (valid: {', '.join(valid)})"
        )
    return tuple(value)


def _choice(
    table: Mapping[str, Any], key: str, where: str, valid: tuple[_C, ...], default: _C
) -> _C:
    value = table.get(key, default)
    for option in valid:  # the option itself, so its Literal type comes back
        if value == option:
            return option
    raise RuleError(f"{where}: '{key}' 必须是 {' | '.join(valid)} / got {value!r}")


def _yes(value: bool) -> str:
    return "是" if value else "否"


class _Tags:
    """Collects the provenance of every parameter and the unverified ones, in file order."""

    def __init__(self) -> None:
        self.provenance: dict[str, Provenance] = {}
        self.unverified: list[Assumption] = []

    def add(
        self,
        table: Mapping[str, Any],
        key: str,
        where: str,
        *,
        parameter: str,
        label: str,
        value: str,
        clause: str,
    ) -> Provenance:
        """Read the provenance tag ``table[key]`` of a parameter and record it."""
        tag = _provenance(table, key, where)
        self.put(tag, parameter=parameter, label=label, value=value, clause=clause)
        return tag

    def put(self, tag: Provenance, *, parameter: str, label: str, value: str, clause: str) -> None:
        """Record a parameter's provenance."""
        self.provenance[parameter] = tag
        if tag != "verified":
            self.unverified.append(Assumption(parameter, value, clause, tag, label))


def _water_bodies(
    doc: Mapping[str, Any], source: str, steps: Mapping[str, FactorRule], tags: _Tags
) -> dict[str, WaterBodyRule]:
    tables = _get(doc, "water_bodies", source, dict)
    kinds: tuple[str, ...] = get_args(WaterBody)
    result: dict[str, WaterBodyRule] = {}
    for key in kinds:
        where = f"{source} [water_bodies.{key}]"
        table = tables.get(key)
        if not isinstance(table, dict):
            raise RuleError(f"{where}: 缺少或不是表 / missing or not a table (every kind: {kinds})")
        factors = _keys(table, "factors", where, FACTORS)
        lacking = [f for f in factors if f not in steps]
        if lacking:
            raise RuleError(f"{where}: 因子无 [factors.x] 档距 / no step for {', '.join(lacking)}")
        base = _provenance(table, "provenance", where)
        overrides = table.get("factor_provenance", {})
        clauses = table.get("factor_clauses", {})
        if not isinstance(overrides, dict) or not isinstance(clauses, dict):
            raise RuleError(f"{where}: factor_provenance、factor_clauses 必须是表 / must be tables")
        for factor in overrides:
            if factor not in factors:
                raise RuleError(f"{where}: factor_provenance 的 {factor} 不在 factors 中")
        provenances: dict[str, Provenance] = {}
        for factor in factors:
            provenances[factor] = (
                _provenance(overrides, factor, f"{where} factor_provenance")
                if factor in overrides
                else base
            )
        name = WATER_BODY_NAMES[key]
        clause = str(table.get("clause", ""))
        plain = [f for f in factors if f not in overrides]
        tags.put(
            base, parameter=f"water_bodies.{key}.factors", label=f"{name}断面考核因子",
            value=factor_list_text(plain), clause=clause,
        )  # fmt: skip
        for factor in overrides:
            tags.put(
                provenances[factor], parameter=f"water_bodies.{key}.factors.{factor}",
                label=f"{name}断面考核因子{FACTOR_NAMES[factor]}", value="考核",
                clause=str(clauses.get(factor, clause)),
            )  # fmt: skip
        result[key] = WaterBodyRule(
            key=key,
            factors=factors,
            provenances=MappingProxyType(provenances),
            clause=clause,
            clauses=MappingProxyType({str(k): str(v) for k, v in clauses.items()}),
        )
    unknown = set(tables) - set(kinds)
    if unknown:
        raise RuleError(f"{source} [water_bodies]: 未知水体 / unknown {sorted(unknown)} ({kinds})")
    return result


def parse_rule_set(text: str, *, source: str = "<string>") -> RuleSet:
    """Parse and validate a rule-set TOML document.

    Raises
    ------
    RuleError
        A syntax error, a missing or malformed parameter, a parameter without its provenance
        tag, or an unknown factor, status or choice; the message names the file and table.
    """
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"{source}: TOML 语法错误 / TOML syntax error: {exc}") from None
    tags = _Tags()

    rule_id = _get(doc, "id", source, str)
    try:
        start = dt.date.fromisoformat(_get(doc, "effective_from", source, str))
        end_text = doc.get("effective_to")
        if end_text is not None and not isinstance(end_text, str):
            raise ValueError(f"effective_to must be a quoted date, got {end_text!r}")
        end = dt.date.fromisoformat(end_text) if end_text else None
    except ValueError as exc:
        raise RuleError(f"{source}: 生效日期错误 / bad effective date: {exc}") from None
    period = f"{start.isoformat()} 至 {end.isoformat() if end else '今'}"
    tags.add(doc, "effective_provenance", source, parameter="effective_period", label="生效期间",
             value=period, clause=str(doc.get("effective_clause", "")))  # fmt: skip

    amount = _get(doc, "amount_per_tier_wan", source, dict)
    per_tier = _decimal(amount.get("value"), f"{source} [amount_per_tier_wan]")
    tags.add(amount, "provenance", f"{source} [amount_per_tier_wan]",
             parameter="amount_per_tier_wan", label="每档扣缴金额",
             value=f"{per_tier} 万元", clause=str(amount.get("clause", "")))  # fmt: skip

    cap_table = _get(doc, "cap_wan", source, dict)
    cap_text = str(cap_table.get("value", "none"))
    cap = None if cap_text == "none" else _decimal(cap_text, f"{source} [cap_wan]")
    if cap is not None and cap < 0:
        raise RuleError(f"{source} [cap_wan]: 不能为负 / must not be negative")
    tags.add(cap_table, "provenance", f"{source} [cap_wan]", parameter="cap_wan",
             label="扣缴上限", value="不设上限" if cap is None else f"{cap} 万元",
             clause=str(cap_table.get("clause", "")))  # fmt: skip

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
        clause = str(table.get("clause", ""))
        provenance = tags.add(table, "step_provenance", where, parameter=f"factors.{key}.step",
                              label=f"{FACTOR_NAMES[key]}超标倍数每档", value=f"{step} 倍",
                              clause=clause)  # fmt: skip
        factors[key] = FactorRule(key, step, provenance, clause)
    if not factors:
        raise RuleError(f"{source}: 至少需要一个因子 / needs at least one factor")
    bodies = _water_bodies(doc, source, factors, tags)

    selection = _get(doc, "value_selection", source, dict)
    where = f"{source} [value_selection]"
    sources = tuple(selection.get("sources", ()))
    if not set(sources) <= {"routine", "spot"} or not sources:
        raise RuleError(f"{where}: sources 只能是 routine、spot / must be routine and/or spot")
    words = "、".join({"routine": "例行监测", "spot": "抽测"}[s] for s in sources)
    tags.add(selection, "provenance", where, parameter="value_selection", label="月度取值",
             value=f"{words}结果中的最高值", clause=str(selection.get("clause", "")))  # fmt: skip
    prefer = _choice(selection, "prefer", where, PREFERENCES, "manual")
    automatic = _keys(selection, "automatic_factors", where, AUTOMATIC_PARAMETERS)
    if prefer == "automatic" and not automatic:
        raise RuleError(f"{where}: prefer = automatic 需要 automatic_factors / needs factors")
    if "prefer" in selection:
        tags.add(selection, "prefer_provenance", where, parameter="value_selection.prefer",
                 label="自动监测因子的月度值",
                 value="自动站月均值与抽测结果取高" if prefer == "automatic"
                 else "例行监测与抽测结果取高",
                 clause=str(selection.get("prefer_clause", "")))  # fmt: skip
    if "automatic_factors" in selection:
        tags.add(selection, "automatic_factors_provenance", where,
                 parameter="value_selection.automatic_factors", label="自动监测数据优先的因子",
                 value=factor_list_text(automatic),
                 clause=str(selection.get("automatic_factors_clause", "")))  # fmt: skip
    auto_fallback = bool(selection.get("auto_fallback", False))
    tags.add(selection, "auto_fallback_provenance", where, parameter="auto_fallback",
             label="无手工结果时采用自动站日均值月均值", value=_yes(auto_fallback),
             clause=str(selection.get("auto_fallback_clause", "")))  # fmt: skip
    share = selection.get("min_valid_day_fraction", str(DEFAULT_MIN_DAY_FRACTION))
    fraction = _fraction(share, where)
    tags.add(selection, "min_valid_day_fraction_provenance", where,
             parameter="min_valid_day_fraction", label="自动站月均值所需有效日比例",
             value=str(fraction), clause="有效日数不少于当月天数的该比例方计算月均值")  # fmt: skip

    inflow = _get(doc, "inflow", source, dict)
    where = f"{source} [inflow]"
    tags.add(inflow, "provenance", where, parameter="inflow", label="入境超标、出境未增加",
             value="不扣缴", clause=str(inflow.get("clause", "")))  # fmt: skip
    tags.add(inflow, "increase_formula_provenance", where, parameter="inflow.increase_formula",
             label="入境超标且出境增加时的计档倍数", value="(C出 − C入) / C入",
             clause=str(inflow.get("increase_clause", "")))  # fmt: skip

    exemptions = _get(doc, "exemptions", source, dict)
    statuses = tuple(exemptions.get("statuses", ()))
    if not set(statuses) <= set(STATUSES):
        raise RuleError(f"{source} [exemptions]: 未知状态 / unknown status (valid: {STATUSES})")
    tags.add(exemptions, "provenance", f"{source} [exemptions]", parameter="exemptions",
             label="不予考核情形", value="、".join(STATUS_NAMES[s] for s in statuses),
             clause=str(exemptions.get("clause", "")))  # fmt: skip

    events = _events(_get(doc, "events", source, dict), f"{source} [events]", tags)

    rewards_table = _get(doc, "rewards", source, dict)
    rewards = RewardRule(
        enabled=bool(rewards_table.get("enabled", False)),
        kind=str(rewards_table.get("kind", "all_factors_meet")),
        amount_wan=_decimal(rewards_table.get("amount_wan", "0"), f"{source} [rewards]"),
        clause=str(rewards_table.get("clause", "")),
    )
    if rewards.kind != "all_factors_meet":
        raise RuleError(f"{source} [rewards]: 未知奖励类型 / unknown kind {rewards.kind!r}")
    tags.add(rewards_table, "provenance", f"{source} [rewards]", parameter="rewards",
             label="奖励", value=f"{rewards.amount_wan} 万元" if rewards.enabled else "不设",
             clause=rewards.clause)  # fmt: skip

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
                "prefer": str(selection.get("prefer_clause", "")),
                "inflow": str(inflow.get("clause", "")),
                "inflow_increase": str(inflow.get("increase_clause", "")),
                "exemptions": str(exemptions.get("clause", "")),
            }
        ),
        unverified=tuple(tags.unverified),
        note=str(doc.get("note", "")),
        cap_wan=cap,
        water_bodies=MappingProxyType(bodies),
        prefer=prefer,
        automatic_factors=automatic,
        provenance=MappingProxyType(tags.provenance),
    )


def _events(table: Mapping[str, Any], where: str, tags: _Tags) -> EventRule:
    enabled = bool(table.get("enabled", False))
    clause = str(table.get("clause", ""))
    tags.add(table, "provenance", where, parameter="events", label="自动站连续超标事件扣缴",
             value=_yes(enabled), clause=clause)  # fmt: skip
    factors = tuple(table.get("factors", ()))
    min_days = table.get("min_days", 3)
    if isinstance(min_days, bool) or not isinstance(min_days, int) or min_days < 1:
        raise RuleError(
            f"{where}: min_days 必须是 ≥ 1 的整数 / must be an integer ≥ 1, got {min_days!r}"
        )
    amount = _decimal(table.get("amount_wan", "0"), where)
    counting = _choice(table, "counting", where, COUNTINGS, "episode")
    inflow = bool(table.get("inflow", True))
    if enabled:
        if not factors or not set(factors) <= set(FACTORS):
            raise RuleError(f"{where}: factors 必须是已知因子 / must be known factors")
        tags.add(table, "factors_provenance", where, parameter="events.factors",
                 label="事件考核因子", value=factor_list_text(factors), clause=clause)  # fmt: skip
        tags.add(table, "min_days_provenance", where, parameter="events.min_days",
                 label="事件连续超标天数", value=f"{min_days} 天及以上", clause=clause)  # fmt: skip
        tags.add(table, "amount_provenance", where, parameter="events.amount_wan",
                 label="每次事件扣缴金额", value=f"{amount} 万元", clause=clause)  # fmt: skip
        tags.add(table, "charge_month_provenance", where, parameter="events.charge_month",
                 label="跨月事件计入月份", value=f"达到第 {min_days} 天的月份",
                 clause=str(table.get("charge_clause", "")))  # fmt: skip
        tags.add(table, "counting_provenance", where, parameter="events.counting",
                 label="事件计次方式",
                 value="按断面连续超标时段计次（多因子同时超标计一次）" if counting == "episode"
                 else "按因子分别计次",
                 clause=str(table.get("counting_clause", "")))  # fmt: skip
        tags.add(table, "inflow_provenance", where, parameter="events.inflow",
                 label="事件适用入境规则", value=_yes(inflow),
                 clause=str(table.get("inflow_clause", "")))  # fmt: skip
    return EventRule(
        enabled=enabled,
        factors=factors,
        min_days=min_days,
        amount_wan=amount,
        clause=clause,
        charge_clause=str(table.get("charge_clause", "")),
        counting=counting,
        inflow=inflow,
        counting_clause=str(table.get("counting_clause", "")),
        inflow_clause=str(table.get("inflow_clause", "")),
    )
