"""Early-warning rules as data: levels, rules, thresholds, and the conditions they raise.

The rules live in ``sections/data/alert_rules.toml`` (source domain.md §7, tagged [A]: there is no
national colour scheme for automatic-station exceedance). Each rule has an id, a level (提示, 黄色,
橙色, 红色), an audience (river chiefs or station operators), an on/off switch and its thresholds.
The evaluation functions turn frames of values into :class:`Condition` records; they never read a
database, a clock or send anything. The episode layer (``service/alerts``) opens, escalates and
closes episodes from them.

=====================  ========  ============  ==============================================
rule                   level     audience      condition
=====================  ========  ============  ==============================================
value_exceeds          提示       river chiefs  a 4-hourly value beyond the target threshold
consecutive_values     黄色       river chiefs  ≥ ``count`` (2) consecutive exceeding 4-h values
forecast_probability   黄色       river chiefs  P(exceed) ≥ ``probability`` (0.6), horizon
                                               ``min_horizon_h``–``max_horizon_h`` (24–72 h)
daily_mean_exceeds     黄色       river chiefs  a day's mean beyond the target threshold
daily_worse_than_v     橙色       river chiefs  a day's mean worse than the Class Ⅴ limit
event_imminent         橙色       river chiefs  day ``day`` (2) of a run of exceeding days of a
                                               compensation factor (day 3 is charged)
consecutive_days       橙色       river chiefs  ≥ ``days`` (3) consecutive exceeding days
event_recorded         红色       river chiefs  an event the compensation engine recorded
class_drop             橙色/红色   river chiefs  month class worse than the same month last year
                                               by ``drop`` (1) / ``escalate_drop`` (2) classes
inferior_v             红色       river chiefs  a day's section class 劣Ⅴ
station_silent         橙色       operators     no valid value for > ``hours`` (8) h
flat_line              黄色       operators     the same reading ≥ ``count`` (6) times in a row
=====================  ========  ============  ==============================================

The evaluation functions and the decisions behind them: :mod:`sections.alert_evaluation`.

References
----------
.. [1] domain.md §7, early warning: our scheme, configurable [A].
.. [2] GB 3838-2002 表1: the limits behind every threshold [V].
.. [3] 衡政办字〔2021〕3号 generation, domain.md §6: an automatic-station event is ≥ 3 consecutive
   exceeding days of COD, NH3-N, TP or CODMn [V structure].
.. [4] Yangtze-basin early-warning method (2018): ≥ 1 / ≥ 2 class drops year on year [V].
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import IntEnum
from functools import cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal, get_args

from sections.errors import AlertRulesError, DataTableError
from sections.parameters import parameters

__all__ = [
    "ALERT_RULES_TABLE",
    "RULE_PARAMETERS",
    "RULE_TIMES",
    "AlertLevel",
    "AlertRules",
    "Audience",
    "Condition",
    "Rule",
    "load_alert_rules",
    "parse_alert_rules",
]

ALERT_RULES_TABLE: Final = "alert_rules.toml"

Audience = Literal["river_chiefs", "operators"]
Provenance = Literal["verified", "derived", "assumption"]
ParameterValue = int | float | str | tuple[str, ...]
"""Where sections are looked up: a registry, or a mapping of section id to Section."""



class AlertLevel(IntEnum):
    """An early-warning level, least to most severe [A, domain.md §7]."""

    NOTICE = 1
    YELLOW = 2
    ORANGE = 3
    RED = 4

    @property
    def key(self) -> str:
        """The level's name in the rules file: notice, yellow, orange, red."""
        return self.name.lower()

    @property
    def label(self) -> str:
        """提示, 黄色, 橙色, 红色."""
        return _LEVEL_LABELS[self.value]

    @property
    def colour(self) -> str:
        """Default display colour as a CSS hex string (the rules file may change it)."""
        return _LEVEL_COLOURS[self.value]


_LEVEL_LABELS: Final = {1: "提示", 2: "黄色", 3: "橙色", 4: "红色"}
_LEVEL_COLOURS: Final = {1: "#1e88e5", 2: "#fdd835", 3: "#fb8c00", 4: "#e53935"}

RULE_PARAMETERS: Final[Mapping[str, Mapping[str, ParameterValue]]] = MappingProxyType(
    {
        "value_exceeds": {},
        "consecutive_values": {"count": 2},
        "forecast_probability": {"probability": 0.6, "min_horizon_h": 24, "max_horizon_h": 72},
        "daily_mean_exceeds": {},
        "daily_worse_than_v": {},
        "event_imminent": {"day": 2, "event_days": 3, "factors": ("cod", "nh3n", "tp", "codmn")},
        "consecutive_days": {"days": 3},
        "event_recorded": {},
        "class_drop": {"drop": 1, "escalate_drop": 2, "escalate_level": "red"},
        "inferior_v": {},
        "station_silent": {"hours": 8.0},
        "flat_line": {"count": 6},
    }
)
"""Every rule id with its parameters and their defaults (the type of the default is the type)."""

RuleTime = Literal["reading", "day", "month", "target", "now"]
RULE_TIMES: Final[Mapping[str, RuleTime]] = MappingProxyType({
    "value_exceeds": "reading", "consecutive_values": "reading", "flat_line": "reading",
    "daily_mean_exceeds": "day", "daily_worse_than_v": "day", "inferior_v": "day",
    "event_imminent": "day", "consecutive_days": "day", "event_recorded": "day",
    "class_drop": "month", "forecast_probability": "target", "station_silent": "now",
})  # fmt: skip
"""What a condition's ``observed_at`` is, per rule: a reading's time (a 4-hourly bin), the start
of a day (a daily mean, a day of a run, an event), the first of a month (a monthly class), a
forecast's target time, or the moment of evaluation."""

_RULE_KEYS: Final = frozenset(
    {"level", "audience", "enabled", "label", "provenance", "clause", "parameters"}
)
_REQUIRED_RULE_KEYS: Final = ("level", "audience", "enabled", "label", "provenance")


@dataclass(frozen=True, slots=True)
class Rule:
    """One early-warning rule of the rules file.

    Attributes
    ----------
    id : str
        One of :data:`RULE_PARAMETERS`, e.g. ``"consecutive_values"``.
    level : AlertLevel
        The level its conditions carry (``class_drop`` escalates, see its parameters).
    audience : {'river_chiefs', 'operators'}
        Who is alerted: the river chiefs of the reach, or the station's operator.
    enabled : bool
        A disabled rule produces no condition.
    label : str
        Chinese name shown with an alert.
    provenance : {'verified', 'derived', 'assumption'}
        The rule's tag ([V]/[D]/[A]).
    clause : str
        Where the rule comes from, in Chinese.
    parameters : mapping of str to int, float, str or tuple of str
        Thresholds, the defaults of :data:`RULE_PARAMETERS` filled in.
    """

    id: str
    level: AlertLevel
    audience: Audience
    enabled: bool
    label: str
    provenance: Provenance
    clause: str = ""
    parameters: Mapping[str, ParameterValue] = field(default_factory=lambda: MappingProxyType({}))

    def number(self, name: str) -> float:
        """A numeric parameter as float."""
        value = self.parameters[name]
        if isinstance(value, str | tuple):
            raise TypeError(f"parameter {name!r} of rule {self.id!r} is not a number")
        return float(value)

    def keys(self, name: str) -> tuple[str, ...]:
        """A list parameter (e.g. ``factors``)."""
        value = self.parameters[name]
        if not isinstance(value, tuple):
            raise TypeError(f"parameter {name!r} of rule {self.id!r} is not a list")
        return value


@dataclass(frozen=True, slots=True)
class AlertRules:
    """The validated rules file: its rules by id and the level colours.

    Attributes
    ----------
    rules : mapping of str to Rule
        Every rule id of :data:`RULE_PARAMETERS`, in file order.
    colours : mapping of AlertLevel to str
        Display colour per level [A].
    source : str
        The file the rules come from.
    provenance : str
        The tag of the scheme as a whole (``assumption``, domain.md §7).
    """

    rules: Mapping[str, Rule]
    colours: Mapping[AlertLevel, str]
    source: str = "<string>"
    provenance: Provenance = "assumption"

    def rule(self, rule_id: str) -> Rule:
        """The rule with this id.

        Raises
        ------
        DataTableError
            When there is no such rule; the message lists the valid ids.
        """
        try:
            return self.rules[rule_id]
        except KeyError:
            valid = ", ".join(self.rules)
            raise DataTableError(
                f"unknown alert rule {rule_id!r} in {self.source}; valid: {valid}"
            ) from None

    def active(self, rule_id: str) -> Rule | None:
        """The rule when it is enabled, else None."""
        rule = self.rule(rule_id)
        return rule if rule.enabled else None

    def disabled(self, *rule_ids: str) -> AlertRules:
        """A copy with these rules switched off (unknown ids raise :class:`DataTableError`).

        Examples
        --------
        >>> load_alert_rules().disabled("flat_line").rule("flat_line").enabled
        False
        """
        rules = dict(self.rules)
        for rule_id in rule_ids:
            rules[rule_id] = replace(self.rule(rule_id), enabled=False)
        return replace(self, rules=MappingProxyType(rules))


# --- loading ---------------------------------------------------------------------------------


@cache
def load_alert_rules(path: str | Path | None = None) -> AlertRules:
    """Load and validate an alert-rules file; the bundled ``alert_rules.toml`` by default.

    The result is cached per path (the files are configuration, read once per process).

    Raises
    ------
    AlertRulesError
        When the file cannot be read or parsed, or a rule, level or field is invalid; the
        message names the rule and field.

    Examples
    --------
    >>> rules = load_alert_rules()
    >>> rules.rule("consecutive_values").number("count"), rules.rule("event_recorded").level.label
    (2.0, '红色')
    """
    if path is None:
        text = resources.files("sections").joinpath("data", ALERT_RULES_TABLE).read_text("utf-8")
        return parse_alert_rules(text, source=ALERT_RULES_TABLE)
    try:
        text = Path(path).read_text("utf-8")
    except OSError as exc:
        raise AlertRulesError(f"无法读取 / cannot read: {exc}", rule=str(path)) from None
    return parse_alert_rules(text, source=str(path))


def parse_alert_rules(text: str, *, source: str = "<string>") -> AlertRules:
    """Parse and validate alert-rules TOML text (see :func:`load_alert_rules`).

    Every rule of :data:`RULE_PARAMETERS` must be listed, with ``level``, ``audience``,
    ``enabled``, ``label`` and ``provenance``; ``clause`` and ``parameters`` are optional
    (missing parameters take their defaults). Unknown keys, rules, levels and parameters are
    errors, not ignored.
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AlertRulesError(f"TOML 语法错误 / TOML syntax error: {exc}", rule=source) from None
    unknown = set(document) - {"source", "provenance", "levels", "rules"}
    if unknown:
        raise AlertRulesError(
            f"unknown key(s) {sorted(unknown)}; valid: source, provenance, levels, rules",
            rule=source,
        )
    provenance = _choice(
        document.get("provenance", "assumption"),
        get_args(Provenance),
        rule=source,
        field_name="provenance",
    )
    colours = _levels(document.get("levels"))
    raw = document.get("rules")
    if not isinstance(raw, dict):
        raise AlertRulesError("a [rules] table is required", rule="rules")
    unknown = set(raw) - set(RULE_PARAMETERS)
    if unknown:
        raise AlertRulesError(
            f"unknown rule(s) {sorted(unknown)}; valid: {', '.join(RULE_PARAMETERS)}",
            rule="rules",
        )
    missing = [r for r in RULE_PARAMETERS if r not in raw]
    if missing:
        raise AlertRulesError(
            f"rule(s) missing: {', '.join(missing)} (set enabled = false to switch one off)",
            rule="rules",
        )
    rules = {rule_id: _rule(rule_id, table) for rule_id, table in raw.items()}
    return AlertRules(
        rules=MappingProxyType(rules),
        colours=MappingProxyType(colours),
        source=source,
        provenance=provenance,
    )


def _choice(value: object, options: tuple[str, ...], *, rule: str, field_name: str) -> Any:
    if not isinstance(value, str) or value not in options:
        raise AlertRulesError(
            f"{value!r} is not one of {', '.join(options)}", rule=rule, field=field_name
        )
    return value


def _levels(table: object) -> dict[AlertLevel, str]:
    if not isinstance(table, dict):
        raise AlertRulesError("a [levels] table is required", rule="levels")
    names = {level.key: level for level in AlertLevel}
    unknown = set(table) - set(names)
    if unknown or set(table) != set(names):
        raise AlertRulesError(
            f"levels must be exactly {', '.join(names)}; got {', '.join(table)}", rule="levels"
        )
    colours: dict[AlertLevel, str] = {}
    for name, entry in table.items():
        level = names[name]
        where = f"levels.{name}"
        if not isinstance(entry, dict) or set(entry) - {"order", "label", "colour"}:
            raise AlertRulesError("keys are order, label, colour", rule=where)
        if entry.get("order") != level.value:
            raise AlertRulesError(f"order must be {level.value}", rule=where, field="order")
        if entry.get("label", level.label) != level.label:
            raise AlertRulesError(f"label must be {level.label}", rule=where, field="label")
        colour = entry.get("colour", level.colour)
        if not (isinstance(colour, str) and len(colour) == 7 and colour.startswith("#")):
            raise AlertRulesError(f"{colour!r} is not a #rrggbb colour", rule=where, field="colour")
        colours[level] = colour
    return colours


def _rule(rule_id: str, table: object) -> Rule:
    where = f"rules.{rule_id}"
    if not isinstance(table, dict):
        raise AlertRulesError("must be a table", rule=where)
    for key in table:
        if key not in _RULE_KEYS:
            raise AlertRulesError(
                f"unknown key; valid: {', '.join(sorted(_RULE_KEYS))}", rule=where, field=key
            )
    for key in _REQUIRED_RULE_KEYS:
        if key not in table:
            raise AlertRulesError("is required", rule=where, field=key)
    if not isinstance(table["enabled"], bool):
        raise AlertRulesError("must be true or false", rule=where, field="enabled")
    for key in ("label", "clause"):
        if not isinstance(table.get(key, ""), str) or (key == "label" and not table[key]):
            raise AlertRulesError("must be a non-empty string", rule=where, field=key)
    level = AlertLevel[
        _choice(
            table["level"], tuple(lv.key for lv in AlertLevel), rule=where, field_name="level"
        ).upper()
    ]
    return Rule(
        id=rule_id,
        level=level,
        audience=_choice(table["audience"], get_args(Audience), rule=where, field_name="audience"),
        enabled=table["enabled"],
        label=table["label"],
        provenance=_choice(
            table["provenance"], get_args(Provenance), rule=where, field_name="provenance"
        ),
        clause=table.get("clause", ""),
        parameters=MappingProxyType(_parameters(rule_id, table.get("parameters", {}), where)),
    )


def _parameters(rule_id: str, given: object, where: str) -> dict[str, ParameterValue]:
    if not isinstance(given, dict):
        raise AlertRulesError("must be a table", rule=where, field="parameters")
    defaults = RULE_PARAMETERS[rule_id]
    out: dict[str, ParameterValue] = dict(defaults)
    for name, value in given.items():
        name_field = f"parameters.{name}"
        if name not in defaults:
            valid = ", ".join(defaults) or "none"
            raise AlertRulesError(
                f"unknown parameter; valid: {valid}", rule=where, field=name_field
            )
        default = defaults[name]
        if isinstance(default, tuple):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise AlertRulesError("must be a list of strings", rule=where, field=name_field)
            unknown = [v for v in value if v not in parameters()]
            if unknown:
                raise AlertRulesError(
                    f"unknown parameter key(s) {unknown}", rule=where, field=name_field
                )
            out[name] = tuple(value)
        elif isinstance(default, str):
            out[name] = _choice(
                value, tuple(lv.key for lv in AlertLevel), rule=where, field_name=name_field
            )
        elif isinstance(default, int):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise AlertRulesError("must be a whole number ≥ 1", rule=where, field=name_field)
            out[name] = value
        else:
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise AlertRulesError("must be a number > 0", rule=where, field=name_field)
            out[name] = float(value)
    _check_parameters(rule_id, out, where)
    return out


def _check_parameters(rule_id: str, p: Mapping[str, ParameterValue], where: str) -> None:
    def fail(message: str, name: str) -> None:
        raise AlertRulesError(message, rule=where, field=f"parameters.{name}")

    if rule_id == "forecast_probability":
        if not float(p["probability"]) <= 1:  # type: ignore[arg-type]
            fail("a probability must be in (0, 1]", "probability")
        if p["min_horizon_h"] > p["max_horizon_h"]:  # type: ignore[operator]
            fail("must not exceed max_horizon_h", "min_horizon_h")
    if rule_id == "event_imminent" and not p["day"] < p["event_days"]:  # type: ignore[operator]
        fail("must be less than event_days", "day")
    if rule_id == "class_drop" and not p["drop"] < p["escalate_drop"]:  # type: ignore[operator]
        fail("must be less than escalate_drop", "drop")


# --- conditions ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Condition:
    """One rule holding for one section (and factor) at one time: the input of an episode.

    Attributes
    ----------
    section_id : str
        Registry section id.
    factor : str
        Parameter key (``nh3n``); ``""`` for a rule about the section or station as a whole
        (``class_drop``, ``station_silent``).
    level : AlertLevel
        The alert level the condition raises.
    rule_id : str
        The rule of the rules file.
    audience : {'river_chiefs', 'operators'}
        Who is to be alerted.
    observed_at : datetime
        Tz-aware time the condition refers to: the 4-hourly bin start, the day's or month's
        start (Beijing), the forecast's target time, the last valid value of a silent station,
        the last reading of a flat line.
    value : float or None
        The value behind it [unit of the parameter]; a class number for ``class_drop``, hours
        for ``station_silent``, days for ``event_recorded``.
    limit : float or None
        The limit it was compared with [same unit]; last year's class for ``class_drop``.
    detail : str
        Short Chinese text for the message, e.g. "氨氮 1.62 mg/L，超Ⅲ类限值 1.0 的 0.62 倍，连续
        2 个 4 小时值".
    trend : {'rising', 'falling', 'steady'} or None
        Direction against the previous value of the same series, when there is one.
    probability : float or None
        Forecast probability of exceedance (``forecast_probability`` only).
    """

    section_id: str
    factor: str
    level: AlertLevel
    rule_id: str
    audience: Audience
    observed_at: dt.datetime
    value: float | None
    limit: float | None
    detail: str
    trend: str | None = None
    probability: float | None = None

    def __post_init__(self) -> None:
        if self.observed_at.tzinfo is None:
            raise ValueError(f"observed_at must be tz-aware, got {self.observed_at!r}")
