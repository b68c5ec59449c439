"""Compensation outlook (补偿金预测): a county's expected compensation before its month ends.

A **forecast, never a statement** (预测，非正式结算): from the month-to-date measurements and a
probabilistic description of the days still to come, Monte Carlo scenarios complete the month,
and every scenario runs through the statement engine
(:func:`compensation.engine.monthly_statement`, the one home of factors, standards, tiers, the
inflow rule and event counting). Per assessed unit the outlook gives the expected amount, a
range, the probability that anything is due, and per section and factor the probability of an
automatic-station event (a run of ≥ 3 consecutive exceeding days under 衡政办字〔2021〕3号) by
given days.

Method, per section and factor whose daily values can move money (a factor with a standard at an
assessed section, and that factor at its inflow section):

1. **Known days**: the measurements the statement would rest on now — laboratory results,
   month statuses, and automatic daily values of the days before ``simulate_from``. Automatic
   daily values from ``simulate_from`` on are dropped: that day is not complete yet [A].
2. **Forecast days** (within the 4–72 h horizon of the 4-hourly forecasts): a day with at least
   ``min_forecast_bins`` bins takes its value from them. Each scenario draws one standard-normal
   level *z* per day, **shared by the bins of that day** [A]; a bin's value is its quantile
   function at *z*, read by linear interpolation between the reported quantiles (lo95, lo80,
   median, hi80, hi95 at z = −1.96, −1.28, 0, 1.28, 1.96) and extrapolated beyond the 95 %
   interval with the slope of the outer segment, never below 0 [A]; the day's value is the mean
   of its bins (bins of today already observed may come as "forecasts" whose quantiles are
   all the observed 4-hourly mean, :data:`OBSERVED`; observed bins alone make a day only when
   all six are there). The levels of consecutive forecast days
   are correlated, z_d = ρ z_{d−1} + √(1 − ρ²) ε, with ρ the lag-1 autocorrelation of the log
   daily values of the history (or ``day_correlation``) [A]: a high first day makes a high
   second day likely, which is what makes a 3-day run.
3. **Later days**: a model of the recent daily values (the last ``history_days`` days before
   ``simulate_from``, month to date included) [A]:

   - ``ar1`` (default): AR(1) on the log daily values, x_{t+1} = μ + φ (x_t − μ) + σ ε, fitted
     by least squares on pairs of consecutive days, φ clipped to [0, ``max_phi``]; it starts
     from the last known (or forecast) day, so an episode in progress carries on;
   - ``bootstrap``: circular block bootstrap of the recent daily values in blocks of
     ``block_days`` days (Politis and Romano 1992), which keeps short runs together.

   Without enough history (``min_history_values``) the day has no simulated value: the
   statement then sees fewer valid days, exactly as it would if the station stayed silent.
4. Sections and factors are simulated independently of each other [A]; every remaining day is
   otherwise taken as a valid automatic day (no outage) [A]; laboratory results (routine, spot
   checks) count only as far as they are known [A].

Summaries per unit: expected amount = the mean over scenarios [元]; the range = the
``range_percentiles`` (10th–90th) of the scenarios' amounts, each a realised amount, widened
outwards to whole tiers of the rule set's money (30 万元) and so that it contains the mean;
P(due) = the share of scenarios with an amount > 0; P(event by day D) = the share of scenarios
in which the engine charges an event this month that reaches its ``min_days``-th day by D and in
which that factor exceeded by D. The Monte Carlo error of a probability is at most
0.5 / √N (±2.2 % for N = 500).

References
----------
.. [1] 衡政办字〔2021〕3号 《关于进一步加强重点河湖断面水质生态补偿的通知》: monthly deductions by
   tiers of the exceedance multiple, and automatic-station events of ≥ 3 consecutive exceeding
   days charged on top (domain.md §6; rule set ``compensation/rules/hengshui-2021.toml``).
.. [2] Hyndman, R.J. and Athanasopoulos, G. (2021) *Forecasting: principles and practice*, 3rd
   ed., §9.3 (autoregressive models), §5.5 (distributional forecasts). https://otexts.com/fpp3/
.. [3] Politis, D.N. and Romano, J.P. (1992) A circular block-resampling procedure for
   stationary data. In *Exploring the Limits of Bootstrap*, Wiley, 263–270.
.. [4] Nelsen, R.B. (2006) *An Introduction to Copulas*, 2nd ed., Springer, §2.3 (a common
   Gaussian level per day is a Gaussian copula of the bins).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Literal, get_args
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pandas as pd

from compensation.engine import Measurement, monthly_statement, standard_for
from compensation.rules import RuleSet
from compensation.statement import WAN, MonthlyStatement
from sections.dates import month_last_day
from sections.periods import LOCAL_TIMEZONE
from sections.registry import Registry, Section

__all__ = [
    "DEFAULT_SCENARIOS",
    "HISTORY_MODELS",
    "LABEL",
    "OBSERVED",
    "QUANTILE_LEVELS",
    "AmountOutlook",
    "BinForecast",
    "EventChance",
    "Outlook",
    "OutlookBasis",
    "OutlookOptions",
    "SeriesBasis",
    "UnitOutlook",
    "interpolate_quantiles",
    "monthly_outlook",
]

FloatArray = npt.NDArray[np.float64]
SeriesKey = tuple[str, str]

LABEL = "预测（非正式结算）/ forecast, not a statement"
"""How every outlook is labelled wherever it is shown."""

OBSERVED = "observed"
"""The ``model`` of a :class:`BinForecast` that is an observed bin of today (all its quantiles
the observed 4-hourly mean): today's daily value then joins what is known to what is forecast."""

DEFAULT_SCENARIOS = 500
"""Monte Carlo scenarios by default: probabilities to about ±2 % [A]."""

HistoryModel = Literal["ar1", "bootstrap"]
HISTORY_MODELS: tuple[HistoryModel, ...] = get_args(HistoryModel)
"""Models of the days beyond the forecast horizon."""

QUANTILE_LEVELS: Mapping[str, float] = {
    "lo95": 0.025, "lo80": 0.10, "median": 0.5, "hi80": 0.90, "hi95": 0.975,
}  # fmt: skip
"""The quantiles a 4-hourly forecast reports (as :data:`sections.forecast.QUANTILES`)."""

_Z = np.array([-1.959963984540054, -1.2815515655446004, 0.0, 1.2815515655446004,
               1.959963984540054])  # fmt: skip  # standard-normal scores of QUANTILE_LEVELS
_BEIJING = ZoneInfo(LOCAL_TIMEZONE)
_BINS_PER_DAY = 6  # 4-hourly bins in a day


@dataclass(frozen=True, slots=True)
class BinForecast:
    """A 4-hourly forecast of one section and factor for one target bin.

    Attributes
    ----------
    section, factor : str
        Registry section id and parameter key (``codmn``, ``nh3n``, ``tp`` …).
    target_at : datetime
        Start of the target bin; naive means Beijing time. The bin belongs to its Beijing day.
    lo95, lo80, median, hi80, hi95 : float
        Quantiles 2.5 %, 10 %, 50 %, 90 %, 97.5 % of the predictive distribution [mg/L].
    p_exceed : float, optional
        The forecast's probability of exceeding the target class in this bin (shown, not used
        for sampling: daily values come from the quantiles).
    issued_at : datetime, optional
        When the forecast was issued.
    model : str
        The model that made it; :data:`OBSERVED` for a bin of today already observed.
    """

    section: str
    factor: str
    target_at: dt.datetime
    lo95: float
    lo80: float
    median: float
    hi80: float
    hi95: float
    p_exceed: float | None = None
    issued_at: dt.datetime | None = None
    model: str = ""

    @property
    def day(self) -> dt.date:
        """The Beijing day of the bin."""
        at = self.target_at
        return (at.astimezone(_BEIJING) if at.tzinfo is not None else at).date()

    @property
    def quantiles(self) -> tuple[float, float, float, float, float]:
        """(lo95, lo80, median, hi80, hi95) [mg/L]."""
        return (self.lo95, self.lo80, self.median, self.hi80, self.hi95)


@dataclass(frozen=True, slots=True)
class OutlookOptions:
    """How the outlook is computed; every value is an assumption [A] shown with the outlook.

    Attributes
    ----------
    scenarios : int
        Monte Carlo scenarios N.
    seed : int
        Seed of the ``numpy.random.Generator``: the same inputs and seed give the same outlook.
    by_days : tuple of int
        Days of the month for P(event by day); the month's last day is always added.
    history_model : {'ar1', 'bootstrap'}
        Model of the days beyond the forecast horizon.
    history_days : int
        Days of history before ``simulate_from`` the model is fitted on [d].
    min_history_values : int
        Daily values the history needs for a model.
    block_days : int
        Block length of the bootstrap [d].
    min_forecast_bins : int
        4-hourly bins a day needs to be taken from the forecast.
    day_correlation : float, optional
        Correlation of the levels of consecutive forecast days; None: the lag-1
        autocorrelation of the history's log daily values, else ``fallback_correlation``.
    fallback_correlation : float
        The correlation without enough history.
    max_phi : float
        Upper clip of the AR(1) coefficient (keeps the model stationary).
    range_percentiles : (float, float)
        Percentiles of the amounts that bound the range.
    """

    scenarios: int = DEFAULT_SCENARIOS
    seed: int = 0
    by_days: tuple[int, ...] = (20,)
    history_model: HistoryModel = "ar1"
    history_days: int = 60
    min_history_values: int = 10
    block_days: int = 5
    min_forecast_bins: int = 3
    day_correlation: float | None = None
    fallback_correlation: float = 0.7
    max_phi: float = 0.95
    range_percentiles: tuple[float, float] = (10.0, 90.0)

    def __post_init__(self) -> None:
        if self.history_model not in HISTORY_MODELS:
            raise ValueError(
                f"unknown history_model {self.history_model!r}; valid: {', '.join(HISTORY_MODELS)}"
            )
        if self.scenarios < 1:
            raise ValueError(f"scenarios must be ≥ 1, got {self.scenarios}")
        for name in ("history_days", "min_history_values", "block_days", "min_forecast_bins"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be ≥ 1, got {getattr(self, name)}")
        if any(not 1 <= d <= 31 for d in self.by_days):
            raise ValueError(f"by_days must be days of a month (1–31), got {self.by_days}")
        for name in ("day_correlation", "fallback_correlation", "max_phi"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {value}")
        low, high = self.range_percentiles
        if not 0.0 <= low <= high <= 100.0:
            raise ValueError(f"range_percentiles must be 0 ≤ low ≤ high ≤ 100, got {low}, {high}")


@dataclass(frozen=True, slots=True)
class AmountOutlook:
    """The distribution of a month's amount over the scenarios.

    Attributes
    ----------
    expected_yuan : Decimal
        Mean over scenarios [元], to the 元.
    low_yuan, high_yuan : Decimal
        The range [元]: the percentiles of the amounts, widened to whole tiers and to contain
        the mean.
    p_due : float
        Share of scenarios with an amount > 0.
    distribution : tuple of (Decimal, float)
        Each amount reached [元] and its share of scenarios, amounts ascending.
    """

    expected_yuan: Decimal
    low_yuan: Decimal
    high_yuan: Decimal
    p_due: float
    distribution: tuple[tuple[Decimal, float], ...] = ()

    @property
    def expected_wan(self) -> Decimal:
        """:attr:`expected_yuan` in 万元."""
        return self.expected_yuan / WAN

    @property
    def low_wan(self) -> Decimal:
        """:attr:`low_yuan` in 万元."""
        return self.low_yuan / WAN

    @property
    def high_wan(self) -> Decimal:
        """:attr:`high_yuan` in 万元."""
        return self.high_yuan / WAN


@dataclass(frozen=True, slots=True)
class EventChance:
    """P(an automatic-station event involving a section's factor is charged by a day).

    Attributes
    ----------
    section, factor : str
    by : date
        The day by which the run reaches its ``min_days``-th day.
    probability : float
        Share of scenarios.
    certain : bool
        The known days already hold such an event (the probability is 1 from data).
    """

    section: str
    factor: str
    by: dt.date
    probability: float
    certain: bool = False


@dataclass(frozen=True, slots=True)
class UnitOutlook:
    """One assessed unit's outlook for the month."""

    unit: str
    name: str
    amount: AmountOutlook
    events: tuple[EventChance, ...] = ()

    def top_events(self, by: dt.date, count: int = 3) -> tuple[EventChance, ...]:
        """The ``count`` most likely section × factor events by ``by`` (probability > 0)."""
        found = [e for e in self.events if e.by == by and e.probability > 0]
        found.sort(key=lambda e: (-e.probability, e.section, e.factor))
        return tuple(found[:count])


@dataclass(frozen=True, slots=True)
class SeriesBasis:
    """What the days of one section and factor rest on.

    Attributes
    ----------
    section, factor : str
    known_days : int
        Days of the month with a known automatic daily value.
    forecast_days, history_days, missing_days : int
        Remaining days taken from the forecast, from the history model, or left without a
        value (no forecast, too little history).
    model : str
        The history model as fitted, in words (empty when none).
    observed_days : int
        Remaining days (today) taken from their six observed 4-hourly bins alone.
    """

    section: str
    factor: str
    known_days: int
    forecast_days: int
    history_days: int
    missing_days: int
    model: str = ""
    observed_days: int = 0


@dataclass(frozen=True, slots=True)
class OutlookBasis:
    """What an outlook rests on, shown with it.

    Attributes
    ----------
    scenarios, seed : int
    simulate_from : date
        The first day simulated; the days before it are known.
    history_model : str
    history_days : int
    forecast_issued_at : datetime or None
        Issue time of the newest forecast used; None when no forecast was used.
    forecast_models : tuple of str
        The models of the forecasts used.
    series : tuple of SeriesBasis
    assumptions : tuple of str
        One line each in Chinese, starting with ``[假设]``.
    notes : tuple of str
        Remarks, e.g. that no forecast was available.
    """

    scenarios: int
    seed: int
    simulate_from: dt.date
    history_model: str
    history_days: int
    forecast_issued_at: dt.datetime | None
    forecast_models: tuple[str, ...]
    series: tuple[SeriesBasis, ...]
    assumptions: tuple[str, ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Outlook:
    """The compensation outlook of a month: a forecast (:data:`LABEL`), never a statement.

    Attributes
    ----------
    month : date
        First day of the month.
    rule_set, document : str
        Rule-set id and document number the scenarios were computed under.
    event_days : int or None
        Consecutive exceeding days that make an event under the rule set (3); None when the
        rule set charges no events.
    by_days : tuple of date
        Days of the event probabilities (the month's last day included).
    units : tuple of UnitOutlook
    total : AmountOutlook
        All units together.
    basis : OutlookBasis
    rule_assumptions : tuple of str
        The rule set's parameters that are not verified, as statements list them.
    section_names : tuple of (str, str)
    """

    month: dt.date
    rule_set: str
    document: str
    event_days: int | None
    by_days: tuple[dt.date, ...]
    units: tuple[UnitOutlook, ...]
    total: AmountOutlook
    basis: OutlookBasis
    rule_assumptions: tuple[str, ...] = ()
    section_names: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        """:data:`LABEL`."""
        return LABEL

    def unit(self, unit_id: str) -> UnitOutlook:
        """One unit's outlook; ``KeyError`` naming the valid ids otherwise."""
        for unit in self.units:
            if unit.unit == unit_id:
                return unit
        raise KeyError(f"unknown unit {unit_id!r}; valid: {', '.join(u.unit for u in self.units)}")

    def section_name(self, section_id: str) -> str:
        """The registry's name of a section."""
        return dict(self.section_names).get(section_id, section_id)


def interpolate_quantiles(quantiles: npt.ArrayLike, z: npt.ArrayLike) -> FloatArray:
    """Values of predictive distributions at standard-normal levels ``z`` [mg/L].

    Parameters
    ----------
    quantiles : array_like, shape (bins, 5)
        Per bin the quantiles lo95, lo80, median, hi80, hi95 [mg/L]; rearranged to be
        non-decreasing.
    z : array_like, shape (n,)
        Standard-normal levels (z = Φ⁻¹(p)).

    Returns
    -------
    ndarray, shape (bins, n)
        Linear interpolation in z between the quantiles (knots ±1.96, ±1.28, 0); beyond
        ±1.96 the outer segment's slope continues; never below 0 [A].

    Examples
    --------
    >>> q = [[0.4, 0.6, 1.0, 1.4, 1.6]]
    >>> interpolate_quantiles(q, [0.0, 1.2815515655446004, -10.0]).round(3).tolist()
    [[1.0, 1.4, 0.0]]
    """
    q = np.maximum.accumulate(np.atleast_2d(np.asarray(quantiles, dtype=np.float64)), axis=1)
    levels = np.atleast_1d(np.asarray(z, dtype=np.float64))
    out = np.empty((q.shape[0], levels.size), dtype=np.float64)
    low_slope = (q[:, 1] - q[:, 0]) / (_Z[1] - _Z[0])
    high_slope = (q[:, 4] - q[:, 3]) / (_Z[4] - _Z[3])
    for b in range(q.shape[0]):
        inner = np.interp(levels, _Z, q[b])
        inner = np.where(levels < _Z[0], q[b, 0] + (levels - _Z[0]) * low_slope[b], inner)
        out[b] = np.where(levels > _Z[4], q[b, 4] + (levels - _Z[4]) * high_slope[b], inner)
    return np.maximum(out, 0.0)


# --- the history model -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Fit:
    """AR(1) on log daily values: mean, coefficient, innovation spread, data used."""

    mu: float
    phi: float
    sigma: float
    values: int
    pairs: int
    logs: FloatArray

    @property
    def stationary_sigma(self) -> float:
        return self.sigma / math.sqrt(1.0 - self.phi**2)

    def text(self, model: HistoryModel, block_days: int) -> str:
        if model == "bootstrap":
            return f"循环块自助法（块长 {block_days} 天，{self.values} 个日均值）"
        return (
            f"对数 AR(1)：几何均值 {math.exp(self.mu):.4g} mg/L，φ = {self.phi:.2f}，"
            f"σ = {self.sigma:.3f}（{self.values} 个日均值）"
        )


def _fit(history: pd.Series, options: OutlookOptions) -> _Fit | None:
    """Fit the log AR(1); None with fewer than ``min_history_values`` positive values."""
    values = history.to_numpy(dtype=np.float64)
    positive = values[values > 0]
    if positive.size < options.min_history_values:
        return None
    floored = np.where(values > 0, values, positive.min() / 2)  # "0" readings: half the least
    logs = np.log(floored)
    mu = float(logs.mean())
    days = np.array([d.toordinal() for d in history.index], dtype=np.int64)
    consecutive = np.diff(days) == 1
    a = logs[:-1][consecutive] - mu
    b = logs[1:][consecutive] - mu
    phi, sigma = 0.0, float(logs.std(ddof=1))
    if a.size >= max(options.min_history_values // 2, 2):
        denominator = float(a @ a)
        phi = min(max(float(a @ b) / denominator, 0.0), options.max_phi) if denominator else 0.0
        residual = b - phi * a
        sigma = math.sqrt(float(residual @ residual) / max(a.size - 1, 1))
    return _Fit(mu, phi, sigma, int(values.size), int(a.size), logs)


# --- simulation --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Simulated:
    key: SeriesKey
    days: tuple[dt.date, ...]
    values: FloatArray  # (scenarios, days), NaN: no value
    basis: SeriesBasis
    issued_at: dt.datetime | None
    models: tuple[str, ...]


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def _simulate(
    key: SeriesKey,
    *,
    history: pd.Series,
    bins: Sequence[BinForecast],
    days: Sequence[dt.date],
    known_days: int,
    options: OutlookOptions,
    rng: np.random.Generator,
) -> _Simulated:
    """Scenarios of one section and factor's daily values on ``days`` [mg/L]."""
    n = options.scenarios
    fit = _fit(history, options)
    by_day: dict[dt.date, list[BinForecast]] = defaultdict(list)
    for b in bins:
        by_day[b.day].append(b)
    observed_only = {d for d, found in by_day.items() if all(b.model == OBSERVED for b in found)}
    forecast = {  # observed bins alone make a day only when they cover it
        day: np.array([b.quantiles for b in found], dtype=np.float64)
        for day, found in by_day.items()
        if len(found) >= (_BINS_PER_DAY if day in observed_only else options.min_forecast_bins)
    }
    rho = options.day_correlation
    if rho is None:
        rho = fit.phi if fit is not None and fit.pairs > 0 else options.fallback_correlation
    out = np.full((n, len(days)), np.nan)
    counts = Counter[str]()
    if days:
        last_known = history.index[-1] if len(history) else None
        walk_from = days[0] if last_known is None or last_known >= days[0] else (
            last_known + dt.timedelta(days=1))  # fmt: skip
        state = None if fit is None or last_known is None else np.full(n, fit.logs[-1])
        level = None
        position = np.zeros(n, dtype=np.int64)
        left = np.zeros(n, dtype=np.int64)
        column = {day: i for i, day in enumerate(days)}
        for day in _days(walk_from, days[-1]):
            quantiles = forecast.get(day) if day in column else None
            if quantiles is not None:
                eps = rng.standard_normal(n)
                level = eps if level is None else rho * level + math.sqrt(1 - rho**2) * eps
                value = interpolate_quantiles(quantiles, level).mean(axis=0)
                state = np.log(np.maximum(value, 1e-9))
                source = "observed" if day in observed_only else "forecast"
            elif fit is None:
                level, state, source = None, None, "none"
                value = np.full(n, np.nan)
            elif options.history_model == "bootstrap":
                level = None
                starts = rng.integers(0, fit.logs.size, n)
                position = np.where(left == 0, starts, position)
                left = np.where(left == 0, options.block_days, left)
                value = np.exp(fit.logs[position % fit.logs.size])
                position, left = position + 1, left - 1
                state, source = np.log(value), "history"
            else:
                level = None
                eps = rng.standard_normal(n)
                if state is None:
                    state = fit.mu + fit.stationary_sigma * eps
                else:
                    state = fit.mu + fit.phi * (state - fit.mu) + fit.sigma * eps
                value, source = np.exp(state), "history"
            if day in column:
                out[:, column[day]] = value
                counts[source] += 1
    used = [b for b in bins if b.day in forecast and b.model != OBSERVED]
    issued = [b.issued_at for b in used if b.issued_at is not None]
    basis = SeriesBasis(
        section=key[0],
        factor=key[1],
        known_days=known_days,
        forecast_days=counts["forecast"],
        observed_days=counts["observed"],
        history_days=counts["history"],
        missing_days=counts["none"],
        model="" if fit is None else fit.text(options.history_model, options.block_days),
    )
    models = tuple(sorted({b.model for b in used if b.model}))
    return _Simulated(key, tuple(days), out, basis, max(issued, default=None), models)


# --- the outlook -------------------------------------------------------------------------------


def _series_that_matter(registry: Registry, rule_set: RuleSet, month: dt.date) -> set[SeriesKey]:
    """(section, factor) whose daily values can move money: a factor with a standard at an
    assessed section, and the same factor at its inflow section (the inflow rule reads it)."""
    found: set[SeriesKey] = set()
    for section in registry.assessed_sections():
        for factor in rule_set.factors_for(section.water_body):
            if standard_for(section, factor, month) is None:
                continue
            found.add((section.id, factor))
            if section.upstream is not None:
                found.add((section.upstream, factor))
    return found


def _is_open(m: Measurement, simulate_from: dt.date) -> bool:
    """An automatic daily value of a day not yet complete: replaced by the scenarios."""
    return m.kind == "auto_daily" and m.value is not None and m.date >= simulate_from


def _history(
    given: pd.Series | None,
    known: Mapping[dt.date, float],
    start: dt.date,
    end: dt.date,
) -> pd.Series:
    """Daily values on ``start``..``end`` [mg/L]: the given series, known values overriding."""
    values: dict[dt.date, float] = {}
    if given is not None:
        for when, value in given.dropna().items():
            day = when.date() if isinstance(when, (pd.Timestamp, dt.datetime)) else when
            if isinstance(day, dt.date) and start <= day <= end:
                values[day] = float(value)
    values.update({d: v for d, v in known.items() if start <= d <= end})
    ordered = sorted(values)
    return pd.Series([values[d] for d in ordered], index=pd.Index(ordered, dtype=object))


def _tier_yuan(rule_set: RuleSet) -> int | None:
    """The money quantum [元]: the gcd of a tier and an event's amount, when both are whole."""
    amounts = [rule_set.amount_per_tier_wan * WAN]
    if rule_set.events.enabled:
        amounts.append(rule_set.events.amount_wan * WAN)
    if any(a <= 0 or a != a.to_integral_value() for a in amounts):
        return None
    return math.gcd(*(int(a) for a in amounts))


def _percentile(ordered: Sequence[Decimal], percent: float) -> Decimal:
    """The inverted-CDF percentile: a realised amount."""
    index = max(math.ceil(percent / 100.0 * len(ordered)) - 1, 0)
    return ordered[min(index, len(ordered) - 1)]


def _amount(amounts: Sequence[Decimal], options: OutlookOptions, tier: int | None) -> AmountOutlook:
    ordered = sorted(amounts)
    n = len(ordered)
    mean = (sum(ordered, Decimal(0)) / Decimal(n)).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    low = min(_percentile(ordered, options.range_percentiles[0]), mean)
    high = max(_percentile(ordered, options.range_percentiles[1]), mean)
    if tier is not None:
        step = Decimal(tier)
        low = (low / step).to_integral_value(rounding=ROUND_FLOOR) * step
        high = (high / step).to_integral_value(rounding=ROUND_CEILING) * step
    counts = Counter(ordered)
    distribution = tuple((amount, counts[amount] / n) for amount in sorted(counts))
    due = sum(1 for a in ordered if a > 0) / n
    return AmountOutlook(mean, low, high, due, distribution)


def _event_factors(section: Section, rule_set: RuleSet, month: dt.date) -> tuple[str, ...]:
    """The factors whose runs can be charged at a section (those with a standard)."""
    if not rule_set.events.enabled:
        return ()
    assessed = rule_set.factors_for(section.water_body)
    return tuple(
        f for f in rule_set.events.factors
        if f in assessed and standard_for(section, f, month) is not None
    )  # fmt: skip


def _event_hits(
    statement: MonthlyStatement, by_days: Sequence[dt.date]
) -> set[tuple[str, str, dt.date]]:
    """(section, factor, by) of every event charged by ``by`` with the factor over by then."""
    hits: set[tuple[str, str, dt.date]] = set()
    for unit in statement.units:
        for event in unit.events:
            per_factor = dict(event.factor_days) or {f: (event.start,) for f in event.all_factors}
            for factor, days in per_factor.items():
                for by in by_days:
                    if event.charged_on <= by and days and min(days) <= by:
                        hits.add((event.section, factor, by))
    return hits


def _assumptions(options: OutlookOptions, rho_text: str) -> tuple[str, ...]:
    error = 0.5 / math.sqrt(options.scenarios) * 100
    recent = f"近 {options.history_days} 天自动站日均值"
    model = (
        f"{recent}的对数 AR(1) 模型（从最近一天延续）"
        if options.history_model == "ar1"
        else f"{recent}的循环块自助法（块长 {options.block_days} 天）"
    )
    return (
        f"[假设] 本月余下各日的自动站日均值按 {options.scenarios} 个情景模拟（随机种子 "
        f"{options.seed}），每个情景按现行扣缴规则完整计算；概率的抽样误差不超过 ±{error:.1f}%",
        "[假设] 今日及以后各日的自动站日均值均由情景给出（今日数据尚不完整，不作已知日）",
        f"[假设] 预报时效内（4–72 小时）某日有不少于 {options.min_forecast_bins} 个 4 小时预报时段"
        "时，该日日均值取各时段预报值的平均（今日已测时段取实测 4 小时均值）；同一日各时段取同一"
        "分位水平",
        "[假设] 预报分位数（2.5%、10%、50%、90%、97.5%）之间按正态分位尺度线性插值，"
        "95% 区间之外按外侧斜率外推，且不低于 0",
        f"[假设] 相邻预报日的分位水平相关，相关系数{rho_text}",
        f"[假设] 预报时效之外按{model}；历史日均值不足 {options.min_history_values} 个的"
        "断面因子不模拟（视为无有效日）",
        "[假设] 各断面、各因子相互独立模拟；余下各日均视为自动站有效日；例行监测和抽测只计已有结果",
        f"[假设] 金额区间取情景第 {options.range_percentiles[0]:g}–"
        f"{options.range_percentiles[1]:g} 百分位，按每档金额向外取整，并扩至包含期望值",
    )


def monthly_outlook(
    measurements: Sequence[Measurement],
    *,
    month: dt.date,
    simulate_from: dt.date,
    registry: Registry,
    rule_set: RuleSet,
    history: Mapping[SeriesKey, pd.Series] | None = None,
    forecasts: Iterable[BinForecast] = (),
    options: OutlookOptions | None = None,
) -> Outlook:
    """The compensation outlook of a month: expected amounts, ranges and event probabilities.

    Parameters
    ----------
    measurements : sequence of Measurement
        What the statement would rest on now (:func:`compensation.engine.monthly_statement`'s
        input: the month's laboratory results, statuses and automatic daily values, and the
        automatic daily values of the days before it that a run may start on).
    month : date
        Any day of the month.
    simulate_from : date
        The first day to simulate (today, Beijing): earlier days are known; automatic daily
        values from this day on are replaced by the scenarios [A].
    registry : Registry
    rule_set : RuleSet
        The rules the scenarios are computed under.
    history : mapping of (section, factor) to Series, optional
        Valid automatic daily values before ``simulate_from`` [mg/L], indexed by date, for the
        history model; the automatic daily values among ``measurements`` are added.
    forecasts : iterable of BinForecast
        The newest 4-hourly forecasts; bins on days before ``simulate_from`` are ignored.
    options : OutlookOptions, optional

    Returns
    -------
    Outlook
        Per unit the expected amount [元], its range and P(due), per section × factor the
        probability of an event by each of ``by_days``, and the basis.

    Notes
    -----
    Tiers, factors, standards, the inflow rule and event counting are those of the engine: each
    scenario is a complete month of measurements run through
    :func:`~compensation.engine.monthly_statement`. See the module docstring for the sampling
    and its assumptions [A].

    References
    ----------
    .. [1] 衡政办字〔2021〕3号 (domain.md §6): ≥ 3 consecutive days of daily values over the
       standard are one occurrence, charged on top of the monthly deduction.

    Examples
    --------
    >>> from compensation.rules import load_rule_set
    >>> from sections.registry import load_registry
    >>> march = dt.date(2025, 3, 1)
    >>> rows = [Measurement("fuyang-jizhou", "nh3n", march + dt.timedelta(days=i),
    ...                     Decimal("1.6"), "auto_daily") for i in range(3)]
    >>> found = monthly_outlook(rows, month=march, simulate_from=dt.date(2025, 3, 4),
    ...                         registry=load_registry(), rule_set=load_rule_set("hengshui-2021"),
    ...                         options=OutlookOptions(scenarios=5))
    >>> jizhou = found.unit("jizhou")
    >>> jizhou.amount.p_due, jizhou.amount.expected_wan
    (1.0, Decimal('30'))
    >>> [e.probability for e in jizhou.top_events(dt.date(2025, 3, 20), 1)]
    [1.0]
    """
    options = options or OutlookOptions()
    first = month.replace(day=1)
    last = month_last_day(first)
    lead = max(rule_set.events.min_days - 1, 0) if rule_set.events.enabled else 0
    start = max(simulate_from, first - dt.timedelta(days=lead))
    days = _days(start, last) if start <= last else []
    by_days = tuple(sorted({first.replace(day=min(d, last.day)) for d in options.by_days} | {last}))
    known = [m for m in measurements if not _is_open(m, simulate_from)]
    matter = _series_that_matter(registry, rule_set, first)

    known_daily: dict[SeriesKey, dict[dt.date, float]] = defaultdict(dict)
    for m in known:
        if m.kind == "auto_daily" and m.value is not None and m.status == "normal":
            known_daily[(m.section, m.factor)][m.date] = float(m.value)
    bins: dict[SeriesKey, list[BinForecast]] = defaultdict(list)
    open_days = set(days)
    for b in forecasts:
        if b.day in open_days and all(math.isfinite(q) for q in b.quantiles):
            bins[(b.section, b.factor)].append(b)
    history = history or {}
    keys = sorted((set(known_daily) | set(history) | set(bins)) & matter)

    rng = np.random.default_rng(options.seed)
    window = (simulate_from - dt.timedelta(days=options.history_days),
              simulate_from - dt.timedelta(days=1))  # fmt: skip
    simulated = [
        _simulate(
            key,
            history=_history(history.get(key), known_daily.get(key, {}), *window),
            bins=bins.get(key, ()),
            days=days,
            known_days=sum(1 for d in known_daily.get(key, {}) if first <= d),
            options=options,
            rng=rng,
        )
        for key in keys
    ]
    rows = _scenario_rows(simulated, options.scenarios)

    certain = _event_hits(
        monthly_statement(known, month=first, registry=registry, rule_set=rule_set), by_days
    )
    hits = Counter[tuple[str, str, dt.date]]()
    amounts: dict[str, list[Decimal]] = defaultdict(list)
    totals: list[Decimal] = []
    statement = None
    # with nothing simulated every scenario is the known month: one run stands for all
    runs = rows if any(rows) else rows[:1]
    weight = 1 if any(rows) else options.scenarios
    for extra in runs:
        statement = monthly_statement(
            known + extra, month=first, registry=registry, rule_set=rule_set
        )
        for line in statement.units:
            amounts[line.unit].extend([line.total_yuan] * weight)
        totals.extend([statement.total_yuan] * weight)
        for hit in _event_hits(statement, by_days):
            hits[hit] += weight
    assert statement is not None  # scenarios ≥ 1
    n = options.scenarios
    tier = _tier_yuan(rule_set)
    units: list[UnitOutlook] = []
    for unit in registry.units:
        chances = [
            EventChance(s.id, f, by, hits[(s.id, f, by)] / n, (s.id, f, by) in certain)
            for s in registry.sections_of(unit.id)
            for f in _event_factors(s, rule_set, first)
            for by in by_days
        ]
        units.append(UnitOutlook(unit.id, unit.name, _amount(amounts[unit.id], options, tier),
                                 tuple(chances)))  # fmt: skip

    return Outlook(
        month=first,
        rule_set=rule_set.id,
        document=rule_set.document,
        event_days=rule_set.events.min_days if rule_set.events.enabled else None,
        by_days=by_days,
        units=tuple(units),
        total=_amount(totals, options, tier),
        basis=_basis(simulated, options, simulate_from, rule_set),
        rule_assumptions=statement.rule_set.assumptions,
        section_names=tuple((s.id, s.name) for s in registry.sections),
    )


def _scenario_rows(simulated: Sequence[_Simulated], scenarios: int) -> list[list[Measurement]]:
    """Per scenario, the simulated automatic daily values as the engine's measurements."""
    rows: list[list[Measurement]] = [[] for _ in range(scenarios)]
    for series in simulated:
        section, factor = series.key
        texts = np.char.mod("%.6g", series.values).tolist()  # 6 significant digits [mg/L]
        for i, row in enumerate(texts):
            append = rows[i].append
            for day, text in zip(series.days, row, strict=True):
                if text != "nan":
                    append(Measurement(section, factor, day, Decimal(text), "auto_daily"))
    return rows


def _basis(
    simulated: Sequence[_Simulated],
    options: OutlookOptions,
    simulate_from: dt.date,
    rule_set: RuleSet,
) -> OutlookBasis:
    issued = [s.issued_at for s in simulated if s.issued_at is not None]
    used_forecast = any(s.basis.forecast_days for s in simulated)  # observed bins are none
    notes: list[str] = []
    if not used_forecast:
        notes.append("未使用预报：本月余下各日仅依据本月已知数据和近期历史日均值模拟")
    missing = [s for s in simulated if s.basis.missing_days]
    if missing:
        notes.append(
            "以下断面因子既无预报、历史数据又不足，余下各日未模拟："
            + "、".join(f"{s.key[0]} {s.key[1]}" for s in missing)
        )
    if not rule_set.events.enabled:
        notes.append(f"{rule_set.document} 无自动站连续超标事件扣缴，不计事件概率")
    rho = (
        f" {options.day_correlation:g}"
        if options.day_correlation is not None
        else f"取历史日均值对数的一阶自相关（无足够历史时取 {options.fallback_correlation:g}）"
    )
    return OutlookBasis(
        scenarios=options.scenarios,
        seed=options.seed,
        simulate_from=simulate_from,
        history_model=options.history_model,
        history_days=options.history_days,
        forecast_issued_at=max(issued, default=None),
        forecast_models=tuple(sorted({m for s in simulated for m in s.models})),
        series=tuple(s.basis for s in simulated),
        assumptions=_assumptions(options, rho),
        notes=tuple(notes),
    )
