"""The candidates of :mod:`sections.forecast`: statsmodels models, baselines and the transform.

Each candidate gives, for any origins on the 4-hourly grid, a predictive distribution as
:data:`MEMBERS` sorted members on the transformed scale. The point-forecast candidates
(``sarima``, ``ets``, ``persistence``, ``seasonal_naive``) add to their point forecast the
empirical distribution of their own errors at that horizon and target hour of day
(:meth:`PointModel.calibrate`); ``climatology`` is a distribution by itself.

References: see :mod:`sections.forecast`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

__all__ = [
    "BUILDERS",
    "LEVELS",
    "MAXITER",
    "MEMBERS",
    "STEPS_PER_DAY",
    "STEP_HOURS",
    "BoxCox",
    "Climatology",
    "Fitted",
    "Mixture",
    "Persistence",
    "PointModel",
    "SeasonalNaive",
    "StateSpace",
    "daily_profile",
    "fit_box_cox",
    "fit_checked",
    "fit_state_space",
    "hour_bins",
    "last_valid",
    "mix",
    "state_means",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

STEP_HOURS = 4
"""The forecast grid: 4-hourly, bins starting at 00, 04, …, 20 o'clock Beijing time [h]."""
STEPS_PER_DAY = 24 // STEP_HOURS
MEMBERS = 99
"""Quantile members kept per forecast: levels (i + ½)/99, i = 0…98."""
LEVELS = (np.arange(MEMBERS) + 0.5) / MEMBERS
_MIN_REGIME_ERRORS = 12  # errors from exceeding origins needed for their own distribution


@dataclass(frozen=True)
class BoxCox:
    """The Box-Cox transform with a shift: ``((x + shift)**lam − 1)/lam``, log at ``lam = 0``.

    Concentrations have a spread that grows with the level; on this scale it no longer does,
    so one error distribution serves high and low values [2]_.

    Examples
    --------
    >>> t = BoxCox(lam=0.0, shift=0.01)
    >>> round(float(t.inverse(t.forward(np.array([0.5]))[0])), 12)
    0.5
    """

    lam: float
    shift: float

    def forward(self, x: npt.ArrayLike) -> FloatArray:
        """Transformed values; values at or below ``−shift`` give NaN."""
        y = np.asarray(x, dtype=np.float64) + self.shift
        with np.errstate(invalid="ignore", divide="ignore"):
            y = np.where(y > 0, y, np.nan)
            if self.lam == 0.0:
                return np.log(y)
            return (y**self.lam - 1.0) / self.lam

    def inverse(self, z: npt.ArrayLike) -> FloatArray:
        """Original units; the floor is 0 (a concentration is never negative)."""
        w = np.asarray(z, dtype=np.float64)
        with np.errstate(invalid="ignore", over="ignore"):
            if self.lam == 0.0:
                y = np.exp(w)
            else:
                y = np.maximum(self.lam * w + 1.0, 0.0) ** (1.0 / self.lam)
        return np.maximum(y - self.shift, 0.0)


def fit_box_cox(values: npt.ArrayLike) -> BoxCox:
    """The Box-Cox transform for a series: λ by maximum likelihood, clipped to [0, 1].

    The shift is 1 % of the median (at least 10⁻³) so that values at the detection limit and
    zeros stay finite; series with negative values are left untransformed (λ = 1).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> fit_box_cox(rng.lognormal(0.0, 0.5, 500)).lam < 0.2
    True
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size < 10 or float(np.min(x)) < 0.0:
        return BoxCox(lam=1.0, shift=0.0)
    shift = max(0.01 * float(np.median(x)), 1e-3)
    if float(np.ptp(x)) == 0.0:
        return BoxCox(lam=0.0, shift=shift)
    lam = float(stats.boxcox_normmax(x + shift, method="mle"))
    return BoxCox(lam=float(np.clip(round(lam, 3), 0.0, 1.0)), shift=shift)


class Fitted(Protocol):
    """A candidate fitted on a training window."""

    name: str

    def members(
        self, z: FloatArray, origins: IntArray, steps: IntArray, regime: BoolArray | None = None,
        exog: FloatArray | None = None,
    ) -> FloatArray:  # fmt: skip
        """Members on the transformed scale, shape (len(origins), len(steps), MEMBERS).

        ``regime`` marks, per grid position, whether the last valid value exceeded the
        threshold (point models calibrate their errors per regime).

        ``z`` is the whole transformed grid known at the latest origin; a forecast from origin
        ``o`` reads ``z[:o + 1]`` only. ``exog`` is the upstream section's transformed grid on
        the same positions (NaN where missing), read up to ``o`` only; candidates without an
        upstream input ignore it.
        """
        ...


class PointModel:
    """A point forecast plus its calibrated error distribution per step and target hour."""

    name: str
    errors: FloatArray  # (regime 2, n_steps_max, 6, MEMBERS), sorted; NaN where uncalibrated

    def points(
        self, z: FloatArray, origins: IntArray, steps: IntArray, exog: FloatArray | None = None
    ) -> FloatArray:
        raise NotImplementedError

    def calibrate(
        self,
        z: FloatArray,
        hours: IntArray,
        window: tuple[int, int, int],
        max_step: int,
        min_bin: int,
        regime: BoolArray | None = None,
        exog: FloatArray | None = None,
    ) -> None:
        """Error quantiles per step and target hour, and per regime of the origin.

        ``window`` is (history start, calibration start, end): origins from the calibration
        start give the usual errors (recent weeks: they follow the season); origins anywhere in
        the history whose last value exceeded (``regime``) give the errors of the exceeding
        regime, pooled over the hours of day (episodes end, and the persistence of a high value
        is what a warning depends on) [A].
        """
        history, first, end = window
        steps = np.arange(1, max_step + 1, dtype=np.int64)
        table = np.full((2, max_step, STEPS_PER_DAY, MEMBERS), np.nan)
        self.errors = table
        recent = np.arange(first, end - 1, dtype=np.int64)
        if recent.size == 0:
            return
        errors, bins = self._errors(z, recent, steps, end, hours, exog)
        for s in range(max_step):
            column = errors[:, s]
            ok = np.isfinite(column)
            if ok.sum() < 10:
                continue
            pooled = np.quantile(column[ok], LEVELS)
            for b in range(STEPS_PER_DAY):
                mine = ok & (bins[:, s] == b)
                table[0, s, b] = (
                    np.quantile(column[mine], LEVELS) if mine.sum() >= min_bin else pooled
                )
        table[1] = table[0]
        if regime is None:
            return
        high = np.arange(history, end - 1, dtype=np.int64)
        high = high[regime[high]]
        if high.size == 0:
            return
        errors, _ = self._errors(z, high, steps, end, hours, exog)
        for s in range(max_step):
            column = errors[:, s]
            ok = np.isfinite(column)
            if ok.sum() >= _MIN_REGIME_ERRORS:
                table[1, s, :] = np.quantile(column[ok], LEVELS)

    def _errors(
        self, z: FloatArray, origins: IntArray, steps: IntArray, end: int, hours: IntArray,
        exog: FloatArray | None,
    ) -> tuple[FloatArray, IntArray]:  # fmt: skip
        points = self.points(z[:end], origins, steps, None if exog is None else exog[:end])
        targets = origins[:, None] + steps[None, :]
        inside = targets < end
        truth = np.where(inside, z[np.minimum(targets, end - 1)], np.nan)
        return truth - points, hours[np.minimum(targets, end - 1)]

    def members(
        self, z: FloatArray, origins: IntArray, steps: IntArray, regime: BoolArray | None = None,
        exog: FloatArray | None = None,
    ) -> FloatArray:  # fmt: skip
        points = self.points(z, origins, steps, exog)
        hours = hour_bins(origins[:, None] + steps[None, :], self._hour0)
        state = (
            np.zeros(origins.size, dtype=np.int64)
            if regime is None
            else regime[origins].astype(np.int64)
        )
        spread = self.errors[state[:, None], (steps - 1)[None, :], hours]
        return points[..., None] + spread

    _hour0: int = 0  # hour bin of grid position 0


def hour_bins(positions: IntArray, hour0: int) -> IntArray:
    return np.asarray((positions + hour0) % STEPS_PER_DAY, dtype=np.int64)


class StateSpace(PointModel):
    """A statsmodels state-space model with fixed parameters, forecast from any origin.

    The Kalman filter is causal: the predicted state at ``o + 1`` uses ``z[:o + 1]`` only, so
    one filter pass gives the forecasts of every origin, vectorised over origins.
    """

    def __init__(
        self, name: str, build: Callable[[FloatArray], Any], params: FloatArray, start: int,
        profile: FloatArray,
    ) -> None:  # fmt: skip
        self.name = name
        self._build = build
        self._params = params
        self._start = start
        self._profile = profile  # subtracted per phase of the grid position (len 6), or a level

    def points(
        self, z: FloatArray, origins: IntArray, steps: IntArray, exog: FloatArray | None = None
    ) -> FloatArray:
        out = np.full((origins.size, steps.size), np.nan)
        if origins.size == 0:
            return out
        last = int(origins.max())
        endog = (
            z[self._start : last + 1]
            - self._profile[np.arange(self._start, last + 1) % STEPS_PER_DAY]
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = self._build(endog).filter(self._params)
        intercept = float(np.asarray(result.filter_results.obs_intercept)[0, 0])
        levels = self._profile[(origins[:, None] + steps[None, :]) % STEPS_PER_DAY]
        points: FloatArray = state_means(result, origins - self._start, steps) + intercept + levels
        points[origins < self._start] = np.nan
        return points


def state_means(result: Any, positions: IntArray, steps: IntArray) -> FloatArray:
    """The state part of the k-step forecasts from a filtered statsmodels state-space model.

    ``positions`` index the filtered data (the forecast from position ``p`` uses data up to
    ``p``; negative positions give the unconditional start); shape (len(positions),
    len(steps)). The observation intercept (an exogenous term, a mean) is the caller's: it is
    what differs between the candidates. The states propagate by the time-invariant transition
    from the filter's one-step prediction, vectorised over positions.
    """
    filtered = result.filter_results
    design = np.asarray(filtered.design)[:, :, 0]
    transition = np.asarray(filtered.transition)[:, :, 0]
    state_intercept = np.asarray(filtered.state_intercept)[:, -1]
    states = np.asarray(filtered.predicted_state)[:, np.maximum(positions, -1) + 1]
    out = np.full((positions.size, steps.size), np.nan)
    wanted = {int(s): i for i, s in enumerate(steps)}
    for step in range(1, int(steps.max()) + 1):
        if step in wanted:
            out[:, wanted[step]] = (design @ states)[0]
        states = transition @ states + state_intercept[:, None]
    return out


def daily_profile(values: FloatArray, phase: IntArray) -> FloatArray:
    """The mean per 4-hour bin of the day (``phase``: 0–5 per value) of the finite values; a bin
    without any takes the mean of all (0 when there is none)."""
    finite = np.isfinite(values)
    centre = float(values[finite].mean()) if finite.any() else 0.0
    profile = np.full(STEPS_PER_DAY, centre)
    for p in range(STEPS_PER_DAY):
        mine = values[(phase == p) & finite]
        if mine.size:
            profile[p] = float(mine.mean())
    return profile


def fit_checked(name: str, model: Any, maxiter: int) -> tuple[FloatArray | None, str]:
    """Fit a statsmodels model by maximum likelihood; (parameters, "") or (None, why).

    A fit that raises, warns that it did not converge or gives non-finite parameters or
    likelihood fails, and the reason names the candidate (in Chinese and English).
    """
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = model.fit(disp=False, maxiter=maxiter)
    except (ValueError, np.linalg.LinAlgError) as error:
        return None, f"{name}: 拟合失败 / fit failed ({error})"
    if any(issubclass(w.category, ConvergenceWarning) for w in caught):
        return None, f"{name}: 未收敛 / did not converge in {maxiter} iterations"
    params = np.asarray(result.params, dtype=np.float64)
    if not (np.all(np.isfinite(params)) and np.isfinite(float(result.llf))):
        return None, f"{name}: 参数非有限值 / non-finite parameters"
    return params, ""


class Persistence(PointModel):
    name = "persistence"

    def __init__(self, max_gap: int) -> None:
        self._max_gap = max_gap

    def points(
        self, z: FloatArray, origins: IntArray, steps: IntArray, exog: FloatArray | None = None
    ) -> FloatArray:
        last = last_valid(z, self._max_gap)[origins]
        return np.repeat(last[:, None], steps.size, axis=1)


class SeasonalNaive(PointModel):
    name = "seasonal_naive"

    def __init__(self, max_gap: int) -> None:
        self._max_days = max(1, max_gap // 24)

    def points(
        self, z: FloatArray, origins: IntArray, steps: IntArray, exog: FloatArray | None = None
    ) -> FloatArray:
        # same hour of day, latest day at or before the origin (a missing day: the one before)
        back = STEPS_PER_DAY * np.ceil(steps / STEPS_PER_DAY).astype(np.int64)
        source = origins[:, None] + (steps - back)[None, :]
        n = int(origins.max()) + 1 if origins.size else 0
        filled = np.full(max(n, 1), np.nan)
        for phase in range(STEPS_PER_DAY):
            same_hour = pd.Series(z[phase:n:STEPS_PER_DAY])
            filled[phase:n:STEPS_PER_DAY] = same_hour.ffill(limit=self._max_days - 1).to_numpy()
        return np.where(source >= 0, filled[np.maximum(source, 0)], np.nan)


def last_valid(z: FloatArray, max_gap: int) -> FloatArray:
    """At each position the latest finite value at most ``max_gap`` steps back, else NaN."""
    filled = np.asarray(pd.Series(z).ffill(limit=max_gap), dtype=np.float64)
    return filled


class Climatology:
    """The hour-of-day × month distribution of the history (hour of day alone where thin)."""

    name = "climatology"

    def __init__(self, z: FloatArray, hours: IntArray, months: IntArray, min_count: int) -> None:
        pooled: dict[int, FloatArray] = {}
        self._table = np.full((13, STEPS_PER_DAY, MEMBERS), np.nan)
        for b in range(STEPS_PER_DAY):
            at_hour = z[(hours == b) & np.isfinite(z)]
            if at_hour.size >= 10:
                pooled[b] = np.quantile(at_hour, LEVELS)
                self._table[0, b] = pooled[b]
            for m in range(1, 13):
                cell = z[(hours == b) & (months == m) & np.isfinite(z)]
                if cell.size >= min_count:
                    self._table[m, b] = np.quantile(cell, LEVELS)
                elif b in pooled:
                    self._table[m, b] = pooled[b]
        self._hour0 = 0
        self._month_of: Callable[[IntArray], IntArray] = lambda p: np.zeros_like(p)

    def attach(self, hour0: int, month_of: Callable[[IntArray], IntArray]) -> None:
        self._hour0 = hour0
        self._month_of = month_of

    def members(
        self, z: FloatArray, origins: IntArray, steps: IntArray, regime: BoolArray | None = None,
        exog: FloatArray | None = None,
    ) -> FloatArray:  # fmt: skip
        targets = origins[:, None] + steps[None, :]
        return self._table[self._month_of(targets), hour_bins(targets, self._hour0)]


# statsmodels specifications

MAXITER: Mapping[str, int] = {"sarima": 50, "ets": 50}


def _sarima(train: FloatArray) -> Callable[[FloatArray], Any]:
    """SARIMAX(1,0,1)(1,0,0)₆ on the anomaly from the daily profile, scale concentrated out [3]_.

    The mean daily cycle (per 4-hour bin of the training window) is removed first and added back
    to the forecasts; the seasonal AR term carries day-to-day changes of the cycle. (A seasonal
    MA near −1, as a free SARIMA finds for a fixed cycle, makes the fit slow and fragile.)
    """
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    def build(endog: FloatArray) -> Any:
        return SARIMAX(
            endog, order=(1, 0, 1), seasonal_order=(1, 0, 0, STEPS_PER_DAY), trend="n",
            concentrate_scale=True,
        )  # fmt: skip

    return build


def _ets(train: FloatArray) -> Callable[[FloatArray], Any]:
    """Additive ETS with a daily season; initial states from the first week of training.

    The initial level and season are fixed from the start of the training window (known
    initialisation), so refiltering with later data never changes them.
    """
    from statsmodels.tsa.statespace.exponential_smoothing import ExponentialSmoothing

    week = train[: 7 * STEPS_PER_DAY]
    finite = train[np.isfinite(train)]  # a first week without data: the first values there are
    level = float(finite[: 7 * STEPS_PER_DAY].mean()) if finite.size else 0.0
    phases = week[: week.size - week.size % STEPS_PER_DAY].reshape(-1, STEPS_PER_DAY)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing phase → 0 below
        season = np.nan_to_num(np.nanmean(phases, axis=0) - level)
    lagged = season[::-1]  # statsmodels wants lag 1 … lag 6

    def build(endog: FloatArray) -> Any:
        return ExponentialSmoothing(
            endog, trend=False, seasonal=STEPS_PER_DAY, initialization_method="known",
            initial_level=level, initial_seasonal=lagged, concentrate_scale=True,
        )  # fmt: skip

    return build


_PROFILED = frozenset({"sarima"})  # models fitted on the anomaly from the daily profile
BUILDERS: Mapping[str, Callable[[FloatArray], Callable[[FloatArray], Any]]] = {
    "sarima": _sarima,
    "ets": _ets,
}


def fit_state_space(
    name: str, z: FloatArray, start: int, end: int, maxiter: int, *, filter_start: int
) -> tuple[StateSpace | None, str | None]:
    """Fit one statsmodels candidate on ``z[start:end]``; (None, why) when it fails.

    The fitted model filters from ``filter_start`` (≤ ``start``: the history its errors are
    calibrated on) with the parameters fitted on the training window.
    """

    train = z[start:end]
    if np.isfinite(train).sum() < 7 * STEPS_PER_DAY:
        return None, f"{name}: 训练数据不足（少于 7 天）/ fewer than 7 days of data"
    phase = np.arange(start, end) % STEPS_PER_DAY
    if name in _PROFILED:
        profile = daily_profile(train, phase)
    else:
        profile = np.full(STEPS_PER_DAY, float(np.nanmean(train)))
    anomaly = train - profile[phase]
    build = BUILDERS[name](anomaly)
    params, failure = fit_checked(name, build(anomaly), maxiter)
    if params is None:
        return None, failure
    return StateSpace(name, build, params, min(filter_start, start), profile), None


class Mixture:
    """An equal-weight mixture of fitted candidates: their members pooled, re-quantiled.

    Averaging calibrated predictive distributions is a simple, robust combination that usually
    scores better than choosing one of them (Hyndman & Athanasopoulos 2021, §13.4).
    """

    name = "ensemble"

    def __init__(self, parts: list[Fitted]) -> None:
        self._parts = parts

    def members(
        self, z: FloatArray, origins: IntArray, steps: IntArray, regime: BoolArray | None = None,
        exog: FloatArray | None = None,
    ) -> FloatArray:  # fmt: skip
        return mix([p.members(z, origins, steps, regime, exog) for p in self._parts])

    @property
    def parts(self) -> list[Fitted]:
        return list(self._parts)


def mix(members: list[FloatArray]) -> FloatArray:
    """The equal-weight mixture of member arrays (last axis: members), as MEMBERS quantiles.

    The pooled members are sorted once and the mixture's quantile at each level read off by
    position (rows where a part has no forecast mix the parts that have one).
    """
    pooled = np.sort(np.concatenate(members, axis=-1), axis=-1)  # NaN sorts last
    finite = np.isfinite(pooled).sum(axis=-1, keepdims=True)
    position = np.floor(LEVELS * finite).astype(np.int64)
    position = np.minimum(position, np.maximum(finite - 1, 0))
    mixed = np.take_along_axis(pooled, position, axis=-1)
    return np.where(finite > 0, mixed, np.nan)
