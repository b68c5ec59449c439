"""Early-warning rules as data, and their pure evaluation: which water conditions raise which alert.

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

Decisions [A]
-------------
* **Exceedance** is :func:`sections.forecast.target_threshold` applied to the value rounded half
  to even to the item's evaluation precision (as classes and the compensation engine do): a value
  equal to the limit is not an exceedance, DO exceeds below its limit, pH outside 6–9 (so 9.4,
  which rounds to 9, does not).
* **Runs of 4-hourly values**: a valid value that does not exceed ends a run, and so does a gap
  (a bin without a valid value): consecutive means observed back to back.
* **Runs of days** follow the compensation engine's day logic (``compensation.engine.find_runs``
  over the exceeding days): consecutive calendar days, a day without a daily value ends the run.
  The engine itself is not called: :mod:`compensation` depends on :mod:`sections`, never the
  reverse, and its ``exceeding_days`` works on the rule set's Decimal measurements with the
  inflow rule and exempt months. So ``consecutive_days`` (橙色) is the early, provisional run
  on the station's own daily means, for every factor; ``event_recorded`` (红色) is the engine's
  own event (:func:`compensation.engine.section_events`), passed in as a frame and never
  recounted here.
* ``daily_worse_than_v`` looks at every item with a Class Ⅴ limit (TN and fecal coliform
  included); ``inferior_v`` only at the items that decide the section class, so a 劣Ⅴ section
  day raises both (橙色 and 红色) for its deciding factor.
* **Every** condition is returned, one per rule and time it holds (a run of 5 exceeding values
  gives 5 notices and 4 yellow conditions); choosing the highest level per section, factor and
  audience, and never sending twice, is the episode layer's job.

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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import IntEnum
from functools import cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal, get_args

import numpy as np
import numpy.typing as npt
import pandas as pd

from sections.classes import WaterClass
from sections.errors import AlertRulesError, DataTableError
from sections.evaluation import indicator_class, round_half_even
from sections.forecast import Threshold, target_threshold
from sections.parameters import parameters
from sections.periods import LOCAL_TIMEZONE
from sections.registry import Registry, Section
from sections.standards import class_limit, limit_table, precision

__all__ = [
    "ALERT_RULES_TABLE",
    "RULE_PARAMETERS",
    "AlertLevel",
    "AlertRules",
    "Audience",
    "Condition",
    "Rule",
    "evaluate",
    "evaluate_days",
    "evaluate_events",
    "evaluate_forecasts",
    "evaluate_months",
    "evaluate_stations",
    "evaluate_values",
    "load_alert_rules",
    "parse_alert_rules",
]

ALERT_RULES_TABLE: Final = "alert_rules.toml"

Audience = Literal["river_chiefs", "operators"]
Provenance = Literal["verified", "derived", "assumption"]
ParameterValue = int | float | str | tuple[str, ...]
SectionsLike = Registry | Mapping[str, Section]
"""Where sections are looked up: a registry, or a mapping of section id to Section."""

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


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


# --- helpers ---------------------------------------------------------------------------------


def _make(
    rule: Rule,
    section_id: str,
    factor: str,
    observed_at: dt.datetime,
    value: float | None,
    limit: float | None,
    detail: str,
    trend: str | None = None,
    probability: float | None = None,
    level: AlertLevel | None = None,
) -> Condition:
    return Condition(
        section_id=section_id,
        factor=factor,
        level=level or rule.level,
        rule_id=rule.id,
        audience=rule.audience,
        observed_at=observed_at,
        value=value,
        limit=limit,
        detail=detail,
        trend=trend,
        probability=probability,
    )


def _section(sections: SectionsLike, section_id: str) -> Section:
    if isinstance(sections, Registry):
        return sections.section(section_id)
    try:
        return sections[section_id]
    except KeyError:
        raise DataTableError(f"unknown section {section_id!r}") from None


def _name(key: str) -> str:
    found = parameters().get(key)
    return found.name_zh if found else key


def _unit(key: str) -> str:
    found = parameters().get(key)
    return f" {found.unit}" if found and found.unit else ""


def _num(value: float) -> str:
    return f"{value:.4g}"


def _rounded(values: FloatArray, key: str) -> FloatArray:
    try:
        digits = precision(key)
    except (KeyError, DataTableError):
        return values
    return round_half_even(values, digits)


def _where(mask: BoolArray) -> list[int]:
    return [int(i) for i in np.flatnonzero(mask)]


def _run_lengths(flags: BoolArray) -> IntArray:
    """Length of the run of True ending at each position, 0 where False.

    >>> _run_lengths(np.array([True, True, False, True])).tolist()
    [1, 2, 0, 1]
    """
    index = np.arange(flags.size, dtype=np.int64)
    last_false = np.maximum.accumulate(np.where(flags, -1, index))
    return np.where(flags, index - last_false, 0).astype(np.int64)


def _trends(values: FloatArray) -> list[str | None]:
    previous = np.concatenate([[np.nan], values[:-1]])
    diff = values - previous
    return [
        None if np.isnan(d) else "rising" if d > 0 else "falling" if d < 0 else "steady"
        for d in diff
    ]


def _limits(threshold: Threshold, values: FloatArray) -> FloatArray:
    """The limit each value is compared with: the upper one, the lower one (DO), or the side
    a pH value falls on."""
    upper = np.nan if threshold.upper is None else threshold.upper
    lower = np.nan if threshold.lower is None else threshold.lower
    if threshold.upper is None:
        return np.full(values.shape, lower)
    if threshold.lower is None:
        return np.full(values.shape, upper)
    return np.where(values < lower, lower, upper)


def _excess(key: str, value: float, limit: float, what: str) -> str:
    """氨氮 1.62 mg/L，超Ⅲ类限值 1.0 的 0.62 倍 (below for DO, outside for pH)."""
    head = f"{_name(key)} {_num(value)}{_unit(key)}"
    if key == "ph":
        return f"{head}，超出{what} 6–9"
    if value < limit:
        return f"{head}，低于{what} {_num(limit)}"
    return f"{head}，超{what} {_num(limit)} 的 {(value - limit) / limit:.2f} 倍"


def _target_words(section: Section, key: str, on: dt.date) -> str:
    if key in section.standards:
        return "断面标准限值"
    return f"{section.target_class(on).label}类限值"


def _local(stamps: pd.DatetimeIndex) -> pd.DatetimeIndex:
    if stamps.tz is None:
        raise ValueError("times must be tz-aware")
    return stamps.tz_convert(LOCAL_TIMEZONE)


def _day_start(days: pd.Series) -> pd.DatetimeIndex:
    stamps = pd.DatetimeIndex(pd.to_datetime(days))
    if stamps.tz is not None:
        stamps = stamps.tz_convert(LOCAL_TIMEZONE).tz_localize(None)
    return stamps.normalize().tz_localize(LOCAL_TIMEZONE)


def _years_thresholds(
    section: Section, key: str, dates: pd.DatetimeIndex, on: dt.date | None
) -> tuple[list[Threshold | None], IntArray]:
    """One threshold per year of ``dates`` (targets change by year), and each row's position."""
    if on is not None:
        return [target_threshold(section, key, on)], np.zeros(len(dates), dtype=np.int64)
    years, position = np.unique(np.asarray(dates.year, dtype=np.int64), return_inverse=True)
    found = [target_threshold(section, key, dt.date(int(y), 1, 1)) for y in years]
    return found, position.astype(np.int64)


def _exceeding(
    section: Section, key: str, values: FloatArray, dates: pd.DatetimeIndex, on: dt.date | None
) -> tuple[BoolArray, FloatArray]:
    """Exceedance of each (rounded) value against its year's target, and the limit used."""
    thresholds, position = _years_thresholds(section, key, dates, on)
    rounded = _rounded(values, key)
    exceeds = np.zeros(values.shape, dtype=np.bool_)
    limits = np.full(values.shape, np.nan)
    for i, threshold in enumerate(thresholds):
        if threshold is None:
            continue
        rows = position == i
        exceeds[rows] = threshold.exceeds(rounded[rows])
        limits[rows] = _limits(threshold, rounded[rows])
    return exceeds, limits


# --- evaluation ------------------------------------------------------------------------------


def evaluate_values(
    values: pd.DataFrame,
    *,
    sections: SectionsLike,
    on: dt.date | None = None,
    rules: AlertRules | None = None,
) -> list[Condition]:
    """Conditions of the 4-hourly values: ``value_exceeds`` and ``consecutive_values``.

    Parameters
    ----------
    values : DataFrame
        The 4-hourly grid (:func:`sections.forecast.to_grid`): a tz-aware DatetimeIndex of bin
        starts, columns a two-level MultiIndex ``(section_id, parameter)``, float values [unit
        of the parameter]; NaN (or a missing bin) is a bin without a valid value.
    sections : Registry or mapping of str to Section
        Where each column's section is found.
    on : date, optional
        The day whose target class applies to all values; default each value's own year.
    rules : AlertRules, optional
        Default :func:`load_alert_rules`.

    Returns
    -------
    list of Condition
        One per exceeding value (notice) and one per value that is at least the ``count``-th of
        a run of exceeding values (yellow). A valid non-exceeding value ends a run, and so does
        a gap [A]. Columns whose item has no limit in the section's water body give none.

    Examples
    --------
    >>> from sections.registry import load_registry
    >>> times = pd.date_range("2025-07-01", periods=3, freq="4h", tz="Asia/Shanghai")
    >>> grid = pd.DataFrame({("xiaofanqiao", "nh3n"): [0.8, 1.62, 1.62]}, index=times)
    >>> found = evaluate_values(grid, sections=load_registry(), on=dt.date(2025, 7, 1))
    >>> [(c.rule_id, c.level.label) for c in found]
    [('value_exceeds', '提示'), ('value_exceeds', '提示'), ('consecutive_values', '黄色')]
    >>> found[-1].detail
    '氨氮 1.62 mg/L，超Ⅲ类限值 1 的 0.62 倍，连续 2 个 4 小时值'
    """
    rules = rules or load_alert_rules()
    single = rules.active("value_exceeds")
    runs = rules.active("consecutive_values")
    if (single is None and runs is None) or values.empty:
        return []
    frame = values.sort_index()
    index = _local(pd.DatetimeIndex(frame.index))
    full = pd.date_range(index[0], index[-1], freq="4h").union(index)
    frame = frame.set_axis(index).reindex(full)
    found: list[Condition] = []
    for column in frame.columns:
        section_id, key = str(column[0]), str(column[1])
        section = _section(sections, section_id)
        x = frame[column].to_numpy(dtype=np.float64)
        exceeds, limits = _exceeding(section, key, x, full, on)
        if not exceeds.any():
            continue
        length = _run_lengths(exceeds)
        trends = _trends(x)
        target_on = on or full[0].date()
        words = _target_words(section, key, target_on)
        for i in _where(exceeds):
            base = _excess(key, float(x[i]), float(limits[i]), words)
            at, value, limit = full[i].to_pydatetime(), float(x[i]), float(limits[i])
            if single is not None:
                found.append(_make(single, section_id, key, at, value, limit, base, trends[i]))
            if runs is not None and length[i] >= runs.number("count"):
                detail = f"{base}，连续 {length[i]} 个 4 小时值"
                found.append(_make(runs, section_id, key, at, value, limit, detail, trends[i]))
    return found


_DAILY_COLUMNS: Final = ("section_id", "parameter", "date", "value")


def _require(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} frame lacks column(s) {missing}; has {list(frame.columns)}")


def _worse_than_v_limit(key: str, section: Section, values: FloatArray) -> FloatArray:
    if key == "ph":
        return np.where(values < 6.0, 6.0, 9.0)
    try:
        return np.full(values.shape, class_limit(key, WaterClass.V, section.water_body))
    except (KeyError, DataTableError):
        return np.full(values.shape, np.nan)


@cache
def _deciding() -> frozenset[str]:
    return frozenset(lim.key for lim in limit_table().values() if lim.decides_class)


def evaluate_days(
    daily: pd.DataFrame,
    *,
    sections: SectionsLike,
    rules: AlertRules | None = None,
) -> list[Condition]:
    """Conditions of daily means: exceedance, Class Ⅴ, 劣Ⅴ and runs of exceeding days.

    Parameters
    ----------
    daily : DataFrame
        One row per section, parameter and day: columns ``section_id`` (str), ``parameter``
        (key), ``date`` (the Beijing calendar day: date, naive or tz-aware datetime) and
        ``value`` (the daily mean of valid values [unit of the parameter], NaN when the day has
        none); optional ``class`` (1–6, the item's class; computed by
        :func:`sections.evaluation.indicator_class` when absent).
    sections : Registry or mapping of str to Section
        Where each row's section is found; each day's target class applies.
    rules : AlertRules, optional
        Default :func:`load_alert_rules`.

    Returns
    -------
    list of Condition
        ``daily_mean_exceeds`` per exceeding day; ``daily_worse_than_v`` per day of class 劣Ⅴ
        for any item with a Class Ⅴ limit; ``inferior_v`` per such day of an item that decides
        the section class; ``event_imminent`` on the ``day``-th day of a run of exceeding days
        of a compensation factor at an assessed section; ``consecutive_days`` on every day that
        is at least the ``days``-th of a run. ``observed_at`` is the day's start (Beijing).

    Notes
    -----
    Runs are runs of consecutive calendar days on which the rounded daily mean exceeds the
    target, as the compensation engine forms them (``compensation.engine.find_runs``): a day
    without a value ends a run. The engine's inflow rule and exempt months are not applied
    here; the event the engine records arrives through :func:`evaluate_events`.

    Examples
    --------
    >>> from sections.registry import load_registry
    >>> daily = pd.DataFrame({"section_id": "xiaofanqiao", "parameter": "nh3n",
    ...                       "date": pd.date_range("2025-07-01", periods=2), "value": [1.2, 1.3]})
    >>> [(c.rule_id, f"{c.observed_at:%d}") for c in evaluate_days(daily, sections=load_registry())]
    [('daily_mean_exceeds', '01'), ('daily_mean_exceeds', '02'), ('event_imminent', '02')]
    """
    rules = rules or load_alert_rules()
    _require(daily, _DAILY_COLUMNS, "daily")
    mean = rules.active("daily_mean_exceeds")
    worse = rules.active("daily_worse_than_v")
    inferior = rules.active("inferior_v")
    imminent = rules.active("event_imminent")
    run_rule = rules.active("consecutive_days")
    found: list[Condition] = []
    if daily.empty:
        return found
    frame = daily.assign(_day=_day_start(daily["date"]))
    for (section_id, key), group in frame.groupby(["section_id", "parameter"], sort=True):
        section = _section(sections, str(section_id))
        key = str(key)
        group = group.sort_values("_day").drop_duplicates("_day", keep="last")
        days = pd.date_range(group["_day"].iloc[0], group["_day"].iloc[-1], freq="D")
        aligned = group.set_index("_day").reindex(days)
        x = aligned["value"].to_numpy(dtype=np.float64)
        exceeds, limits = _exceeding(section, key, x, days, None)
        if "class" in aligned.columns:
            classes = aligned["class"].to_numpy(dtype=np.float64)
        else:
            try:
                classes = np.asarray(
                    indicator_class(x, key, water_body=section.water_body), dtype=np.float64
                )
            except (KeyError, DataTableError):
                classes = np.full(x.shape, np.nan)
        length = _run_lengths(exceeds)
        trends = _trends(x)
        words = {d.year: _target_words(section, key, d.date()) for d in days[[0, -1]]}
        v_limits = _worse_than_v_limit(key, section, x)
        assessed = section.assessed_unit is not None and not section.is_reference
        for i in _where(exceeds | (classes == WaterClass.WORSE_THAN_V)):
            at, value = days[i].to_pydatetime(), float(x[i])
            limit = float(limits[i])
            base = _excess(key, value, limit, words.get(days[i].year, "目标限值"))
            trend = trends[i]
            if exceeds[i] and mean is not None:
                found.append(
                    _make(mean, str(section_id), key, at, value, limit, f"{base}（日均值）", trend)
                )
            if classes[i] == WaterClass.WORSE_THAN_V and not np.isnan(v_limits[i]):
                v_text = _excess(key, value, float(v_limits[i]), "Ⅴ类限值")
                if worse is not None:
                    found.append(
                        _make(
                            worse,
                            str(section_id),
                            key,
                            at,
                            value,
                            float(v_limits[i]),
                            f"{v_text}（日均值）",
                            trend,
                        )
                    )
                if inferior is not None and key in _deciding():
                    found.append(
                        _make(
                            inferior,
                            str(section_id),
                            key,
                            at,
                            value,
                            float(v_limits[i]),
                            f"{v_text}，断面当日水质劣Ⅴ类",
                            trend,
                        )
                    )
            if not exceeds[i]:
                continue
            if (
                imminent is not None
                and assessed
                and key in imminent.keys("factors")
                and length[i] == imminent.number("day")
            ):
                event_days = int(imminent.number("event_days"))
                detail = (
                    f"{base}，日均值连续第 {length[i]} 天超标；连续 {event_days} 天超标"
                    f"即构成生态补偿连续超标事件，将另行扣缴补偿金"
                )
                found.append(_make(imminent, str(section_id), key, at, value, limit, detail, trend))
            if run_rule is not None and length[i] >= run_rule.number("days"):
                detail = f"{base}，日均值连续 {length[i]} 天超标"
                found.append(_make(run_rule, str(section_id), key, at, value, limit, detail, trend))
    return found


def evaluate_forecasts(
    forecasts: pd.DataFrame,
    *,
    sections: SectionsLike | None = None,
    rules: AlertRules | None = None,
) -> list[Condition]:
    """Conditions of forecasts: ``forecast_probability``.

    Parameters
    ----------
    forecasts : DataFrame
        One row per section, parameter and target time: columns ``section_id``, ``parameter``,
        ``target_at`` (tz-aware time forecast), ``horizon_h`` (hours ahead of the forecast's
        origin, int) and ``p_exceed`` (probability of exceeding the target threshold, 0–1;
        NaN when unknown); optional ``median`` [unit of the parameter], shown as the value.
    sections : Registry or mapping of str to Section, optional
        When given, the target threshold is shown as the condition's limit.
    rules : AlertRules, optional
        Default :func:`load_alert_rules`.

    Returns
    -------
    list of Condition
        One per row with ``min_horizon_h`` ≤ ``horizon_h`` ≤ ``max_horizon_h`` and
        ``p_exceed`` ≥ ``probability``; ``observed_at`` is the target time.

    Examples
    --------
    >>> rows = pd.DataFrame({"section_id": "s", "parameter": "tp", "horizon_h": [12, 48],
    ...     "target_at": pd.to_datetime(["2025-07-02 08:00", "2025-07-03 20:00"]).tz_localize(
    ...         "Asia/Shanghai"), "p_exceed": [0.9, 0.72]})
    >>> [c.detail for c in evaluate_forecasts(rows)]
    ['总磷 预计 07-03 20:00（48 小时后）超标概率 72%']
    """
    rule = (rules or load_alert_rules()).active("forecast_probability")
    _require(
        forecasts, ("section_id", "parameter", "target_at", "horizon_h", "p_exceed"), "forecasts"
    )
    if rule is None or forecasts.empty:
        return []
    horizon = forecasts["horizon_h"].to_numpy(dtype=np.float64)
    p = forecasts["p_exceed"].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        hit = (
            (horizon >= rule.number("min_horizon_h"))
            & (horizon <= rule.number("max_horizon_h"))
            & (p >= rule.number("probability"))
        )
    rows = forecasts.loc[hit]
    times = _local(pd.DatetimeIndex(rows["target_at"]))
    medians = rows["median"].to_numpy(dtype=np.float64) if "median" in rows else None
    found: list[Condition] = []
    for j, (section_id, key, hours, prob) in enumerate(
        zip(rows["section_id"], rows["parameter"], rows["horizon_h"], rows["p_exceed"], strict=True)
    ):
        limit = None
        if sections is not None:
            threshold = target_threshold(
                _section(sections, str(section_id)), str(key), times[j].date()
            )
            if threshold is not None:
                limit = threshold.upper if threshold.upper is not None else threshold.lower
        value = None if medians is None or np.isnan(medians[j]) else float(medians[j])
        detail = (
            f"{_name(str(key))} 预计 {times[j]:%m-%d %H:%M}（{int(hours)} 小时后）"
            f"超标概率 {float(prob):.0%}"
        )
        found.append(
            _make(
                rule,
                str(section_id),
                str(key),
                times[j].to_pydatetime(),
                value,
                limit,
                detail,
                probability=float(prob),
            )
        )
    return found


def evaluate_months(
    current: pd.DataFrame,
    last_year: pd.DataFrame,
    *,
    rules: AlertRules | None = None,
) -> list[Condition]:
    """Conditions of monthly classes: ``class_drop`` against the same month last year.

    Parameters
    ----------
    current, last_year : DataFrame
        Columns ``section_id``, ``month`` (any day of the month: date or datetime) and
        ``class`` (the section's monthly class, 1–6 or a :class:`WaterClass`; NaN when not
        evaluated). A row of ``current`` is compared with the row of ``last_year`` for the same
        section and the month one year earlier.
    rules : AlertRules, optional
        Default :func:`load_alert_rules`.

    Returns
    -------
    list of Condition
        One per section and month whose class is worse by at least ``drop`` classes (the
        rule's level) or ``escalate_drop`` classes (``escalate_level``); factor ``""``,
        value the class number now, limit the class number last year, ``observed_at`` the
        month's first day (Beijing).

    Examples
    --------
    >>> now = pd.DataFrame({"section_id": ["a", "b"], "month": [dt.date(2025, 7, 1)] * 2,
    ...                     "class": [4, 5]})
    >>> before = pd.DataFrame({"section_id": ["a", "b"], "month": [dt.date(2024, 7, 1)] * 2,
    ...                        "class": [3, 3]})
    >>> [(c.section_id, c.level.label) for c in evaluate_months(now, before)]
    [('a', '橙色'), ('b', '红色')]
    """
    rule = (rules or load_alert_rules()).active("class_drop")
    for frame, what in ((current, "current"), (last_year, "last_year")):
        _require(frame, ("section_id", "month", "class"), what)
    if rule is None or current.empty or last_year.empty:
        return []

    def keyed(frame: pd.DataFrame, shift: int) -> pd.DataFrame:
        month = pd.DatetimeIndex(pd.to_datetime(frame["month"]))
        if month.tz is not None:
            month = month.tz_convert(LOCAL_TIMEZONE).tz_localize(None)
        start = month.to_period("M").to_timestamp() + pd.DateOffset(years=shift)
        return pd.DataFrame(
            {
                "section_id": frame["section_id"].astype(str).to_numpy(),
                "month": start,
                "class": pd.to_numeric(frame["class"]).astype("float64").to_numpy(),
            }
        )

    joined = keyed(current, 0).merge(
        keyed(last_year, 1), on=["section_id", "month"], suffixes=("", "_before")
    )
    drop = (joined["class"] - joined["class_before"]).to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        hit = drop >= rule.number("drop")
        escalate = drop >= rule.number("escalate_drop")
    high = AlertLevel[str(rule.parameters["escalate_level"]).upper()]
    found: list[Condition] = []
    for i in _where(hit):
        row = joined.iloc[i]
        now, before = WaterClass(int(row["class"])), WaterClass(int(row["class_before"]))
        month = pd.Timestamp(row["month"]).tz_localize(LOCAL_TIMEZONE)
        detail = (
            f"{month:%Y年%m月}水质{now.label}类，较去年同期{before.label}类"
            f"下降 {int(drop[i])} 个类别"
        )
        found.append(
            _make(
                rule,
                str(row["section_id"]),
                "",
                month.to_pydatetime(),
                float(now),
                float(before),
                detail,
                level=high if escalate[i] else rule.level,
            )
        )
    return found


def evaluate_events(
    events: pd.DataFrame,
    *,
    rules: AlertRules | None = None,
) -> list[Condition]:
    """Conditions of compensation events the engine recorded: ``event_recorded``.

    Parameters
    ----------
    events : DataFrame
        One row per event line of :func:`compensation.engine.section_events`: columns
        ``section_id``, ``factor`` (a key, or keys joined by ``+`` for an episode over several
        factors), ``start``, ``end`` and ``charged_on`` (dates) and ``days`` (int).
    rules : AlertRules, optional
        Default :func:`load_alert_rules`.

    Returns
    -------
    list of Condition
        One per event and factor, ``observed_at`` the start of the day it was charged on
        (the run's ``min_days``-th day), value the run's length in days.

    Examples
    --------
    >>> lines = pd.DataFrame({"section_id": ["s"], "factor": ["nh3n+tp"], "days": [3],
    ...     "start": [dt.date(2025, 7, 1)], "end": [dt.date(2025, 7, 3)],
    ...     "charged_on": [dt.date(2025, 7, 3)]})
    >>> [(c.factor, c.level.label) for c in evaluate_events(lines)]
    [('nh3n', '红色'), ('tp', '红色')]
    """
    rule = (rules or load_alert_rules()).active("event_recorded")
    _require(events, ("section_id", "factor", "start", "end", "days", "charged_on"), "events")
    if rule is None or events.empty:
        return []
    charged = _day_start(events["charged_on"])
    starts, ends = _day_start(events["start"]), _day_start(events["end"])
    found: list[Condition] = []
    for j, (section_id, factors, days) in enumerate(
        zip(events["section_id"], events["factor"], events["days"], strict=True)
    ):
        names = "、".join(_name(k) for k in str(factors).split("+"))
        detail = (
            f"{names} {starts[j]:%m-%d} 至 {ends[j]:%m-%d} 日均值连续 {int(days)} 天超标，"
            f"已记录生态补偿连续超标事件（扣缴）"
        )
        for key in str(factors).split("+"):
            found.append(
                _make(
                    rule,
                    str(section_id),
                    key,
                    charged[j].to_pydatetime(),
                    float(days),
                    None,
                    detail,
                )
            )
    return found


def evaluate_stations(
    last_seen: pd.Series,
    readings: pd.DataFrame,
    now: dt.datetime,
    *,
    rules: AlertRules | None = None,
) -> list[Condition]:
    """Data-outage conditions for operators: ``station_silent`` and ``flat_line``.

    Parameters
    ----------
    last_seen : Series
        Indexed by section id: the tz-aware time of the station's last valid value (any
        parameter); NaT when it has none.
    readings : DataFrame
        Recent readings: columns ``section_id``, ``parameter``, ``time`` (tz-aware) and
        ``value`` [unit of the parameter]; NaN readings are skipped.
    now : datetime
        Tz-aware time of the evaluation (the caller's clock).
    rules : AlertRules, optional
        Default :func:`load_alert_rules`.

    Returns
    -------
    list of Condition
        ``station_silent`` (factor ``""``) per station with no valid value for more than
        ``hours`` hours (value: the hours, limit: ``hours``; ``observed_at`` the last valid
        value, or ``now`` when there was none); ``flat_line`` per reading that is at least the
        ``count``-th equal reading in a row of one parameter (``observed_at`` its time).

    Examples
    --------
    >>> now = pd.Timestamp("2025-07-01 18:00", tz="Asia/Shanghai")
    >>> seen = pd.Series({"a": now - pd.Timedelta(hours=9), "b": now - pd.Timedelta(hours=8)})
    >>> empty = pd.DataFrame(columns=["section_id", "parameter", "time", "value"])
    >>> [(c.section_id, c.detail) for c in evaluate_stations(seen, empty, now)]
    [('a', '自 07-01 09:00 起 9.0 小时无有效数据')]
    """
    rules = rules or load_alert_rules()
    silent, flat = rules.active("station_silent"), rules.active("flat_line")
    moment = pd.Timestamp(now)
    if moment.tz is None:
        raise ValueError("now must be tz-aware")
    moment = moment.tz_convert(LOCAL_TIMEZONE)
    found: list[Condition] = []
    if silent is not None and not last_seen.empty:
        seen = pd.DatetimeIndex(pd.to_datetime(last_seen, utc=True)).tz_convert(LOCAL_TIMEZONE)
        hours = np.asarray((moment - seen) / pd.Timedelta(hours=1), dtype=np.float64)
        limit = silent.number("hours")
        for j in _where(np.isnan(hours) | (hours > limit)):
            if pd.isna(seen[j]):
                at, value, detail = moment, None, "无有效数据记录"
            else:
                at, value = seen[j], float(hours[j])
                detail = f"自 {at:%m-%d %H:%M} 起 {value:.1f} 小时无有效数据"
            found.append(
                _make(silent, str(last_seen.index[j]), "", at.to_pydatetime(), value, limit, detail)
            )
    if flat is None or readings.empty:
        return found
    _require(readings, ("section_id", "parameter", "time", "value"), "readings")
    frame = readings.dropna(subset=["value"]).sort_values("time", kind="stable")
    count = int(flat.number("count"))
    for (section_id, key), group in frame.groupby(["section_id", "parameter"], sort=True):
        x = group["value"].to_numpy(dtype=np.float64)
        same = np.concatenate([[False], x[1:] == x[:-1]])
        length = _run_lengths(same) + 1
        times = _local(pd.DatetimeIndex(group["time"]))
        for i in _where(length >= count):
            detail = (
                f"{_name(str(key))} 连续 {length[i]} 个读数均为 {_num(float(x[i]))}"
                f"{_unit(str(key))}，仪器疑似故障"
            )
            found.append(
                _make(
                    flat,
                    str(section_id),
                    str(key),
                    times[i].to_pydatetime(),
                    float(x[i]),
                    None,
                    detail,
                    "steady",
                )
            )
    return found


def evaluate(
    *,
    sections: SectionsLike,
    rules: AlertRules | None = None,
    values: pd.DataFrame | None = None,
    daily: pd.DataFrame | None = None,
    forecasts: pd.DataFrame | None = None,
    current: pd.DataFrame | None = None,
    last_year: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    last_seen: pd.Series | None = None,
    readings: pd.DataFrame | None = None,
    now: dt.datetime | None = None,
    on: dt.date | None = None,
) -> list[Condition]:
    """Every condition of every input given, by the functions above, in one list.

    Each input is optional; the months need ``current`` and ``last_year``, the stations
    ``last_seen`` (and ``readings``) with ``now``. Every condition is returned, none merged
    or dropped: the episode layer keeps the highest level per section, factor and audience.
    The list is sorted by ``observed_at``, section, factor, level and rule.

    Examples
    --------
    >>> from sections.registry import load_registry
    >>> evaluate(sections=load_registry())
    []
    """
    rules = rules or load_alert_rules()
    found: list[Condition] = []
    if values is not None:
        found += evaluate_values(values, sections=sections, on=on, rules=rules)
    if daily is not None:
        found += evaluate_days(daily, sections=sections, rules=rules)
    if forecasts is not None:
        found += evaluate_forecasts(forecasts, sections=sections, rules=rules)
    if current is not None and last_year is not None:
        found += evaluate_months(current, last_year, rules=rules)
    if events is not None:
        found += evaluate_events(events, rules=rules)
    if last_seen is not None or readings is not None:
        if now is None:
            raise ValueError("station conditions need now")
        empty = pd.DataFrame(columns=["section_id", "parameter", "time", "value"])
        found += evaluate_stations(
            last_seen if last_seen is not None else pd.Series(dtype="datetime64[ns, UTC]"),
            readings if readings is not None else empty,
            now,
            rules=rules,
        )
    return sorted(found, key=_order)


def _order(c: Condition) -> tuple[dt.datetime, str, str, int, str]:
    return c.observed_at, c.section_id, c.factor, int(c.level), c.rule_id
