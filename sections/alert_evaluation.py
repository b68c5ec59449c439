"""The pure evaluation of the early-warning rules: frames of values in, :class:`Condition` out.

Rules, levels and the :class:`~sections.alert_rules.Condition` record: :mod:`sections.alert_rules`.

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
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from sections.alert_rules import (
    AlertLevel,
    AlertRules,
    Condition,
    Rule,
    load_alert_rules,
)
from sections.classes import WaterClass
from sections.errors import DataTableError
from sections.evaluation import indicator_class, round_half_even
from sections.forecast import Threshold, target_threshold
from sections.parameters import parameters
from sections.periods import LOCAL_TIMEZONE
from sections.registry import Registry, Section
from sections.standards import class_limit, limit_table, precision

SectionsLike = Registry | Mapping[str, Section]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

__all__ = [
    "evaluate",
    "evaluate_days",
    "evaluate_events",
    "evaluate_forecasts",
    "evaluate_months",
    "evaluate_stations",
    "evaluate_values",
]

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
