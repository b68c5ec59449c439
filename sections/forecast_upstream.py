"""The upstream candidate of :mod:`sections.forecast`: what arrives from the section upstream.

A river section's water was at its upstream section (registry ``upstream``) a travel time
earlier. A pollution episode seen upstream reaches the section a day or two later, diluted by
tributaries and local inflow and spread out by dispersion — information the section's own
series does not hold until the episode arrives. The ``upstream`` candidate is a regression with
ARIMA errors [1]_:

    z(t) − p(t) = β · x(t − L) + u(t),

where ``z`` is the section's transformed value, ``p`` its mean daily profile (as the ``sarima``
candidate), ``x`` the upstream section's transformed anomaly from its own daily profile and
``L`` the **travel lag** in 4-hour steps, estimated on the history before the fit as the lag of
the largest cross-correlation of the two series' changes (:func:`travel_lag`) [2]_. The local
water ``u`` is modelled twice (:data:`ERROR_ORDERS`) and the two predictive distributions are
pooled: ARMA(1,1), which returns to the training window's level, and ARIMA(1,1,1), whose level
wanders with a load that changes over weeks — the first alone is too sure of that level when it
moves (its 80 % intervals covered 70–75 % on some test reaches), the second alone is too vague
when it does not.

Forecasting from origin ``o``, step ``s``: the regression term reads ``x(o + s − L)`` while
``s ≤ L`` (already measured upstream) and the latest upstream value ``x(o)`` beyond (it
persists); nothing after ``o`` is read, upstream or here. A gap upstream repeats its last value
for at most :data:`MAX_GAP_STEPS` steps, then counts as the mean (anomaly 0). The candidate
is fitted only where the lagged correlation is clearly more than chance
(:func:`required_correlation`) and β > 0: a section whose upstream tells nothing gets no such
forecast, and the notes say why.

References
----------
.. [1] Hyndman, R.J. and Athanasopoulos, G. (2021) *Forecasting: principles and practice*, 3rd
   ed., §10 (dynamic regression models: regression with ARIMA errors).
   https://otexts.com/fpp3/dynamic.html
.. [2] Chapra, S.C. (1997) *Surface water-quality modeling*, lecture 9 (travel time and
   dispersion in rivers): a pollutant front moves with the mean velocity, 0.1–1 m/s in plain
   rivers at low flow, i.e. 10–80 h over 30–60 km between sections [A].
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from sections.forecast_models import (
    STEPS_PER_DAY,
    PointModel,
    daily_profile,
    fit_checked,
    mix,
    state_means,
)

__all__ = [
    "CARRIED_DOWNSTREAM",
    "CHANGES_PER_DAY",
    "ERROR_ORDERS",
    "MAX_GAP_STEPS",
    "MAX_LAG_STEPS",
    "UPSTREAM",
    "UpstreamCandidate",
    "UpstreamRegression",
    "carried_downstream",
    "fit_upstream",
    "required_correlation",
    "travel_lag",
    "upstream_anomaly",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

UPSTREAM = "upstream"
"""Name of the candidate."""
CARRIED_DOWNSTREAM = frozenset({"codmn", "nh3n", "tp", "tn"})
"""Parameters the water carries from one section to the next, the only ones the candidate reads
upstream [A]: loads of organic matter and nutrients travel with the water, decaying over days;
DO and pH are set where the water is, within hours (reaeration, photosynthesis, respiration).
On the demo, DO backtested with its upstream section scored −0.21 in Brier skill against
persistence (docs/forecasting.md)."""
ERROR_ORDERS: tuple[tuple[int, int, int], ...] = ((1, 0, 1), (1, 1, 1))
"""ARIMA orders (p, d, q) of the local water's error models, fitted each and pooled [A]."""
MAX_LAG_STEPS = 18
"""Longest travel lag considered: 18 steps of 4 h = 72 h [A]."""
CHANGES_PER_DAY = 2.0
"""Independent changes a day counted by :func:`required_correlation` [A]: two 12-hour changes
of 12-hour means do not overlap."""
_CRITICAL_Z = 3.5  # about 1 % by chance after trying 19 lags (Bonferroni) [A]
MAX_GAP_STEPS = 12
"""An upstream gap repeats the last value for at most this many steps (48 h) [A]."""
_MIN_PAIRS = 7 * STEPS_PER_DAY  # change pairs a lag's correlation needs
_CHANGE_STEPS = 3  # changes over 12 h of 12-hour means


def carried_downstream(key: str) -> bool:
    """Whether the upstream section's values of parameter ``key`` may forecast this section's
    (:data:`CARRIED_DOWNSTREAM`).

    >>> carried_downstream("nh3n"), carried_downstream("do")
    (True, False)
    """
    return key in CARRIED_DOWNSTREAM


def required_correlation(pairs: int) -> float:
    """The correlation of changes the best of 19 lags must reach to be more than chance [-].

    ``z / √n`` with n the independent changes (:data:`CHANGES_PER_DAY` per day of ``pairs``
    4-hourly pairs) and z = 3.5, the normal quantile that, tried at 19 lags, leaves about a 1 %
    chance of passing for two unrelated series [A]. Two months need r ≥ 0.32, a year r ≥ 0.13.

    Examples
    --------
    >>> round(required_correlation(6 * 60), 2), round(required_correlation(6 * 366), 2)
    (0.32, 0.13)
    """
    days = max(pairs / STEPS_PER_DAY, 1.0)
    return min(_CRITICAL_Z / float(np.sqrt(days * CHANGES_PER_DAY)), 1.0)


def travel_lag(
    z: FloatArray, x: FloatArray, *, max_lag: int = MAX_LAG_STEPS
) -> tuple[int, float, int]:
    """The travel lag [steps] from upstream ``x`` to ``z``, the correlation there, the pairs.

    The 12-hour changes of both series' 12-hour means (:data:`_CHANGE_STEPS`: a front's rise
    stands out of the analyser noise), less their mean per step of the day (the daily cycle
    changes both at the same hour and would otherwise favour whole days), are correlated at
    lags 0 … ``max_lag``; the lag of the largest correlation wins. Only pairs where both
    changes are known count.

    Parameters
    ----------
    z, x : ndarray
        The section's and the upstream section's transformed values on the same grid positions
        (NaN where missing).
    max_lag : int
        Longest lag tried [steps of 4 h].

    Returns
    -------
    lag : int
        Steps of 4 h (−1 where no lag has enough pairs).
    correlation : float
        Pearson correlation of the changes at that lag (NaN where none).
    pairs : int
        Change pairs the correlation rests on.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> x = np.cumsum(rng.standard_normal(600))
    >>> z = np.concatenate([np.zeros(7), x[:-7]]) + 0.3 * rng.standard_normal(600)
    >>> travel_lag(z, x)[0]
    7
    """
    dz = _daily_centred_changes(z)
    dx = _daily_centred_changes(x)
    best, best_r, best_n = -1, float("nan"), 0
    for lag in range(max_lag + 1):
        a = dz[lag:]
        b = dx[: dx.size - lag]
        ok = np.isfinite(a) & np.isfinite(b)
        if ok.sum() < _MIN_PAIRS:
            continue
        a, b = a[ok] - a[ok].mean(), b[ok] - b[ok].mean()
        scale = float(np.sqrt((a * a).sum() * (b * b).sum()))
        if scale == 0.0:
            continue
        r = float((a * b).sum()) / scale
        if best < 0 or r > best_r:
            best, best_r, best_n = lag, r, int(ok.sum())
    return best, best_r, best_n


def _daily_centred_changes(values: FloatArray) -> FloatArray:
    means = pd.Series(values).rolling(_CHANGE_STEPS, min_periods=_CHANGE_STEPS - 1).mean()
    changes = means.diff(_CHANGE_STEPS).to_numpy(dtype=np.float64)
    out = changes.copy()
    phase = np.arange(values.size) % STEPS_PER_DAY
    for p in range(STEPS_PER_DAY):
        mine = (phase == p) & np.isfinite(changes)
        if mine.any():
            out[phase == p] -= float(changes[mine].mean())
    return out


class UpstreamRegression(PointModel):
    """Regression on the upstream section's lagged anomaly with ARIMA errors (one of
    :data:`ERROR_ORDERS`), fixed parameters.

    Like :class:`sections.forecast_models.StateSpace`, one causal Kalman filter pass gives the
    forecasts of every origin; the regression term is added per target from the upstream
    values known at the origin.
    """

    name = UPSTREAM

    def __init__(
        self, build: Callable[[FloatArray, FloatArray], Any], params: FloatArray, beta: float,
        start: int, profile: FloatArray, upstream_profile: FloatArray, lag: int,
        correlation: float, order: tuple[int, int, int],
    ) -> None:  # fmt: skip
        self._build = build
        self._params = params
        self.beta = beta
        self._start = start
        self._profile = profile
        self._upstream_profile = upstream_profile
        self.lag = lag
        """Travel lag [steps of 4 h]."""
        self.correlation = correlation
        """Cross-correlation of the changes at the lag [-]."""
        self.order = order
        """ARIMA order (p, d, q) of the error model."""
        self.high_anomaly = float("inf")
        """The upstream anomaly above which an episode is on its way (set by the fit)."""

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
        """As every point model, with "an episode on its way" counted as the exceeding regime.

        The recent weeks are often calm while the upstream section already shows what comes:
        a forecast of an arriving episode must not get the spread of a calm month. An origin
        where the upstream anomaly of the last travel time is above its 90th percentile of
        the training window takes its errors from such origins of the whole history, like an
        origin whose own last value exceeded; and the spread is the equal mixture of the recent
        weeks' errors and the whole history's (the travel time changes with the flow, so the
        last weeks' match of the lag is optimistic) [A].
        """
        arriving = self._arriving(regime, z.size, exog)
        history, _, end = window
        super().calibrate(z, hours, (history, history, end), max_step, min_bin, arriving, exog)
        whole = self.errors
        super().calibrate(z, hours, window, max_step, min_bin, arriving, exog)
        self.errors = mix([self.errors, whole])

    def members(
        self, z: FloatArray, origins: IntArray, steps: IntArray, regime: BoolArray | None = None,
        exog: FloatArray | None = None,
    ) -> FloatArray:  # fmt: skip
        return super().members(z, origins, steps, self._arriving(regime, z.size, exog), exog)

    def _arriving(
        self, regime: BoolArray | None, size: int, exog: FloatArray | None
    ) -> BoolArray | None:
        if exog is None:
            return regime
        x = upstream_anomaly(exog, self._upstream_profile, size)
        window = max(self.lag, 1)
        recent = pd.Series(x).rolling(window, min_periods=1).max().to_numpy(dtype=np.float64)
        high: BoolArray = recent > self.high_anomaly
        return high if regime is None else (regime[:size] | high)

    def points(
        self, z: FloatArray, origins: IntArray, steps: IntArray, exog: FloatArray | None = None
    ) -> FloatArray:
        out = np.full((origins.size, steps.size), np.nan)
        if origins.size == 0 or exog is None:
            return out
        last = int(origins.max())
        x = upstream_anomaly(exog, self._upstream_profile, last + 1)
        positions = np.arange(self._start, last + 1)
        lagged = np.where(positions - self.lag >= 0, x[np.maximum(positions - self.lag, 0)], 0.0)
        endog = z[self._start : last + 1] - self._profile[positions % STEPS_PER_DAY]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = self._build(endog, lagged).filter(self._params)
        out = state_means(result, origins - self._start, steps)
        for j, step in enumerate(int(s) for s in steps):
            # measured upstream a travel time before the target, or the latest upstream value
            source = origins + step - self.lag if step <= self.lag else origins
            drive = np.where(source >= 0, x[np.clip(source, 0, last)], 0.0)
            out[:, j] += self.beta * drive + self._profile[(origins + step) % STEPS_PER_DAY]
        out[origins < self._start] = np.nan
        return out


class UpstreamCandidate(PointModel):
    """The ``upstream`` candidate: its regressions (one per error model that fitted), their
    predictive distributions pooled with equal weights (as the ensemble pools its models)."""

    name = UPSTREAM

    def __init__(self, parts: list[UpstreamRegression]) -> None:
        self.parts = parts
        self.lag = parts[0].lag
        """Travel lag [steps of 4 h]."""
        self.correlation = parts[0].correlation
        """Cross-correlation of the changes at the lag [-]."""

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
        """Each part's own error distribution (:meth:`UpstreamRegression.calibrate`)."""
        for part in self.parts:
            part._hour0 = self._hour0
            part.calibrate(z, hours, window, max_step, min_bin, regime, exog)

    def members(
        self, z: FloatArray, origins: IntArray, steps: IntArray, regime: BoolArray | None = None,
        exog: FloatArray | None = None,
    ) -> FloatArray:  # fmt: skip
        return mix([part.members(z, origins, steps, regime, exog) for part in self.parts])


def fit_upstream(
    z: FloatArray, x: FloatArray, start: int, end: int, maxiter: int, *, history_start: int
) -> tuple[UpstreamCandidate | None, str | None]:
    """Fit the upstream candidate on ``z[start:end]``; (None, why) when it is not worth one.

    The travel lag comes from the history ``[history_start, end)`` (more episodes than the
    training window alone); the regression with each error model of :data:`ERROR_ORDERS` is
    fitted on the training window (a model that does not converge or gives β ≤ 0 is left out;
    the candidate needs one); the models filter from ``history_start`` (their errors are
    calibrated there).
    """
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    x = np.asarray(x[:end], dtype=np.float64)
    if x.size < end:
        x = np.concatenate([x, np.full(end - x.size, np.nan)])
    train, upstream = z[start:end], x[start:end]
    week = 7 * STEPS_PER_DAY
    if np.isfinite(train).sum() < week or np.isfinite(upstream).sum() < week:
        return None, f"{UPSTREAM}: 上游训练数据不足（少于 7 天）/ under 7 days of upstream data"
    lag, r, pairs = travel_lag(z[history_start:end], x[history_start:end])
    needed = required_correlation(pairs)
    if lag < 0 or not r >= needed:
        return None, (
            f"{UPSTREAM}: 上游变化与本断面无明显相关（r = {r:.2f}）/ upstream changes do not "
            f"lead this section's (r = {r:.2f} < {needed:.2f} over {pairs // STEPS_PER_DAY} days)"
        )
    phase = np.arange(start, end) % STEPS_PER_DAY
    profile = daily_profile(train, phase)
    upstream_profile = daily_profile(upstream, phase)

    known = upstream_anomaly(x, upstream_profile, end)
    positions = np.arange(start, end)
    lagged = np.where(positions - lag >= 0, known[np.maximum(positions - lag, 0)], 0.0)
    high_anomaly = float(np.quantile(known[start:end], 0.9))
    parts: list[UpstreamRegression] = []
    failures: list[str] = []
    for order in ERROR_ORDERS:

        def build(endog: FloatArray, exog: FloatArray, order: tuple[int, int, int] = order) -> Any:
            return SARIMAX(
                endog, exog=exog[:, None], order=order, trend="n", concentrate_scale=True,
            )  # fmt: skip

        model = build(train - profile[phase], lagged)
        params, failure = fit_checked(f"{UPSTREAM} ARIMA{order}", model, maxiter)
        if params is None:
            failures.append(failure)
            continue
        beta = float(params[list(model.param_names).index("x1")])
        if not beta > 0.0:
            failures.append(
                f"{UPSTREAM}: 上游系数不为正（β = {beta:.2f}）/ upstream coefficient ≤ 0"
            )
            continue
        part = UpstreamRegression(
            build, params, beta, min(history_start, start), profile, upstream_profile, lag, r,
            order,
        )  # fmt: skip
        part.high_anomaly = high_anomaly
        parts.append(part)
    if not parts:
        return None, "; ".join(dict.fromkeys(failures))
    return UpstreamCandidate(parts), None


def upstream_anomaly(exog: FloatArray, profile: FloatArray, size: int) -> FloatArray:
    """The upstream anomaly from its daily profile known at positions 0 … ``size`` − 1: values
    past ``exog`` are unknown, a gap repeats the last value for :data:`MAX_GAP_STEPS` steps,
    then counts as 0 (the mean)."""
    known = np.full(size, np.nan)
    length = min(size, exog.size)
    known[:length] = exog[:length]
    raw = known - profile[np.arange(size) % STEPS_PER_DAY]
    filled = pd.Series(raw).ffill(limit=MAX_GAP_STEPS).to_numpy(dtype=np.float64)
    anomaly: FloatArray = np.nan_to_num(filled, nan=0.0)
    return anomaly

