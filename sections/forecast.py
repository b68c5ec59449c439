"""Exceedance forecasts for one section and parameter: statsmodels models against honest baselines.

A series of valid values (flagged values never enter: the caller passes the verdict as
``valid``) is put on the regular 4-hourly Beijing grid (:func:`to_grid`; hourly parameters are
averaged per 4-hour bin, gaps stay gaps), transformed to stabilise its variance
(:class:`BoxCox`), and forecast 4–72 h ahead by every candidate:

- ``sarima``: SARIMAX(1,0,1)(1,0,0)₆ on the anomaly from the mean daily profile — the daily
  cycle is six steps of the grid (statsmodels state space, missing values handled by the Kalman
  filter);
- ``ets``: additive exponential smoothing with a six-step season (statsmodels' state-space ETS);
- ``upstream``: where the upstream section measures the same parameter, a regression on its
  values a travel time earlier with SARIMA errors (:mod:`sections.forecast_upstream`);
- ``analog``: where other sections' series of the same parameter are given (the pool), what
  followed the nearest past states of those sections and this one, each on the scale of its
  own limit (:mod:`sections.forecast_analog`); then half of the ``ensemble``;
- ``persistence``: the last valid value;
- ``seasonal_naive``: the value at the same hour of the latest day before the origin;
- ``climatology``: the distribution of the hour-of-day × month values of the history.

Every forecast is a **predictive distribution**: the point forecast plus the empirical
distribution of that model's own errors at that horizon and target hour of day over the last
weeks of the training window (the calibration window moves with every refit, so the spread
follows the season and the hour, and bias is corrected where the model has one) [A]. The
distribution is kept as :data:`MEMBERS` sorted quantile members in original units
(:class:`Predictive`); medians, 80 % and 95 % intervals and the probability of exceeding the
target-class limit (for DO: of falling below it) are read off the members.

Selection uses the training window only: each candidate is scored on its calibration window
(Brier score of the exceedance probability when the window holds exceedances, else CRPS), per
horizon; a statsmodels model is chosen only where it beats the best baseline by
:attr:`ForecastOptions.selection_margin`, otherwise the best baseline is, and the reason says
so. A model that fails to converge is dropped, and the notes say which and why.

References
----------
.. [1] Hyndman, R.J. and Athanasopoulos, G. (2021) *Forecasting: principles and practice*, 3rd
   ed., §5.5 (distributional forecasts from residuals), §8 (exponential smoothing), §9 (ARIMA).
   https://otexts.com/fpp3/
.. [2] Box, G.E.P. and Cox, D.R. (1964) An analysis of transformations. *J. R. Stat. Soc. B*
   26, 211–252.
.. [3] Seabold, S. and Perktold, J. (2010) statsmodels: econometric and statistical modeling
   with Python. *Proc. 9th Python in Science Conf.* (``SARIMAX``, state-space
   ``ExponentialSmoothing``).
.. [4] domain.md §7: a forecast probability of exceeding in the next 24–72 h raises a yellow
   warning [A].
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from sections.classes import WaterClass
from sections.errors import DataTableError
from sections.forecast_analog import (
    ANALOG,
    MIN_LIBRARY,
    POOL_DAYS,
    Analog,
    ExceedanceScale,
    PoolSeries,
    fit_analogs,
)
from sections.forecast_models import (
    MAXITER,
    MEMBERS,
    STEP_HOURS,
    STEPS_PER_DAY,
    BoxCox,
    Climatology,
    Fitted,
    Mixture,
    Persistence,
    PointModel,
    SeasonalNaive,
    fit_box_cox,
    fit_state_space,
    hour_bins,
    last_valid,
    mix,
)
from sections.forecast_upstream import UPSTREAM, fit_upstream
from sections.quality import target_limit
from sections.registry import Section
from sections.scoring import brier_score, crps_ensemble
from sections.standards import class_limit, indicator_limits

__all__ = [
    "ANALOG",
    "BASELINES",
    "BEIJING",
    "CANDIDATES",
    "ENSEMBLE",
    "FORECAST_KEYS",
    "HORIZONS",
    "MEMBERS",
    "MIN_EVENTS",
    "MIN_VERIFIED",
    "MODELS",
    "OPTIONAL_CANDIDATES",
    "QUANTILES",
    "SKILL_DAYS",
    "STEP_HOURS",
    "UPSTREAM",
    "BoxCox",
    "Forecast",
    "ForecastOptions",
    "Forecaster",
    "Predictive",
    "Threshold",
    "fit_box_cox",
    "fit_forecaster",
    "forecast",
    "skill_from_totals",
    "skill_record",
    "target_threshold",
    "to_grid",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

BEIJING = "Asia/Shanghai"
HORIZONS: tuple[int, ...] = tuple(range(STEP_HOURS, 73, STEP_HOURS))
"""Forecast horizons, 4–72 h [h]."""
MODELS: tuple[str, ...] = ("sarima", "ets")
"""The statsmodels candidates, in fallback order."""
ENSEMBLE = "ensemble"
"""The equal-weight mixture of the statsmodels candidates that fitted (when two or more); where
the ``analog`` candidate is fitted, half the mixture is the analogues."""
BASELINES: tuple[str, ...] = ("persistence", "seasonal_naive", "climatology")
"""The forecasts anyone could make without a model; computed the same way as the models."""
CANDIDATES: tuple[str, ...] = (*MODELS, ENSEMBLE, UPSTREAM, ANALOG, *BASELINES)
"""Every candidate; ``upstream`` (:mod:`sections.forecast_upstream`) only where the section's
upstream section has data of the same parameter, ``analog`` (:mod:`sections.forecast_analog`)
only where a pool of sections is given and the threshold is one-sided."""
OPTIONAL_CANDIDATES: tuple[str, ...] = (UPSTREAM, ANALOG)
"""Candidates fitted only where their input is there: scored on the rows they forecast."""
_MODEL_LIKE = (*MODELS, ENSEMBLE, UPSTREAM, ANALOG)
_ISSUABLE_BASELINES = ("persistence", "seasonal_naive")
FORECAST_KEYS: tuple[str, ...] = ("ph", "do", "codmn", "nh3n", "tp", "tn")
"""The indicators forecast for every section: the automatic-station chemistry and DO, pH [A]."""
_PH_RANGE = (6.0, 9.0)  # GB 3838-2002 表1: pH 6–9 in every class
QUANTILES: Mapping[str, float] = {
    "lo95": 0.025, "lo80": 0.10, "median": 0.5, "hi80": 0.90, "hi95": 0.975,
}  # fmt: skip
"""The quantiles a forecast reports, by column name."""


@dataclass(frozen=True)
class Threshold:
    """The acceptable range of a parameter at a section's target class; outside it is exceedance.

    Parameters
    ----------
    lower : float, optional
        Lower limit (DO) [unit of the parameter]; a value below it exceeds.
    upper : float, optional
        Upper limit (concentrations); a value above it exceeds. GB 3838: a value equal to the
        limit meets the class.

    Examples
    --------
    >>> Threshold(upper=1.0).exceeds(np.array([0.5, 1.0, 1.2])).tolist()
    [False, False, True]
    >>> Threshold(lower=5.0).exceeds(np.array([4.9, 5.0])).tolist()
    [True, False]
    """

    lower: float | None = None
    upper: float | None = None

    def __post_init__(self) -> None:
        if self.lower is None and self.upper is None:
            raise ValueError("a threshold needs a lower or an upper limit")
        if self.lower is not None and self.upper is not None and self.lower > self.upper:
            raise ValueError(f"lower limit {self.lower} above upper limit {self.upper}")

    @classmethod
    def of(cls, limit: float, direction: Literal["above", "below"]) -> Threshold:
        """A one-sided threshold: exceedance ``above`` the limit or ``below`` it (DO)."""
        if direction == "above":
            return cls(upper=float(limit))
        if direction == "below":
            return cls(lower=float(limit))
        raise ValueError(f"direction must be 'above' or 'below', got {direction!r}")

    def exceeds(self, values: npt.ArrayLike) -> BoolArray:
        """True where a value is outside the range; NaN is not an exceedance."""
        x = np.asarray(values, dtype=np.float64)
        out = np.zeros(x.shape, dtype=np.bool_)
        with np.errstate(invalid="ignore"):
            if self.upper is not None:
                out |= x > self.upper
            if self.lower is not None:
                out |= x < self.lower
        return out

    @property
    def label(self) -> str:
        """The limit as shown to users, e.g. ``> 1.0`` or ``< 5.0``."""
        parts = []
        if self.lower is not None:
            parts.append(f"< {self.lower:g}")
        if self.upper is not None:
            parts.append(f"> {self.upper:g}")
        return " 或 ".join(parts)


def target_threshold(section: Section, key: str, on: dt.date) -> Threshold | None:
    """The exceedance threshold of a section's target class for one parameter on a date.

    The upper limit from :func:`sections.quality.target_limit` (the section's own standard
    first); DO's lower limit of the target class; pH 6–9. None where the item has no limit in
    this water body or the target is 劣Ⅴ.

    Examples
    --------
    >>> from sections.registry import load_registry
    >>> section = load_registry().section("xiaofanqiao")
    >>> target_threshold(section, "do", dt.date(2025, 7, 1)).lower > 0
    True
    """
    if key == "ph":
        return Threshold(lower=_PH_RANGE[0], upper=_PH_RANGE[1])
    upper = target_limit(section, key, on)
    if upper is not None:
        return Threshold(upper=upper)
    try:
        limits = indicator_limits(key, section.water_body)
    except (KeyError, DataTableError):
        return None
    target = section.target_class(on)
    if limits.direction == "ge" and target <= WaterClass.V:
        return Threshold(lower=class_limit(key, target, section.water_body))
    return None


# ---------------------------------------------------------------------------------------------
# the grid


def to_grid(
    values: pd.Series,
    *,
    valid: pd.Series | None = None,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
) -> pd.Series:
    """Values on the regular 4-hourly Beijing grid: the mean of the valid values in each bin.

    Parameters
    ----------
    values : Series
        Observations [unit of the parameter] on a tz-aware DatetimeIndex (any order, duplicates
        allowed, any sampling interval).
    valid : Series of bool, optional
        Whether each value counts (:func:`sections.validity.validity_frame`); flagged values
        never enter the grid. Default: every finite value counts.
    start, end : Timestamp, optional
        Extend the grid to these bins (inclusive); default the first and last valid bin.

    Returns
    -------
    Series
        Float values indexed by the bin start (Asia/Shanghai) at a fixed 4-hour frequency; a bin
        without a valid value is NaN (a gap stays a gap).

    Examples
    --------
    >>> idx = pd.to_datetime(["2025-01-01T01:00+08:00", "2025-01-01T03:00+08:00",
    ...                       "2025-01-01T09:00+08:00"])
    >>> to_grid(pd.Series([1.0, 3.0, 5.0], index=idx)).tolist()
    [2.0, nan, 5.0]
    """
    if not isinstance(values.index, pd.DatetimeIndex) or values.index.tz is None:
        raise ValueError("values need a tz-aware DatetimeIndex")
    keep = np.isfinite(values.to_numpy(dtype=np.float64, na_value=np.nan))
    if valid is not None:
        keep &= valid.reindex(values.index).fillna(False).to_numpy(dtype=bool)
    kept = values[keep].astype(np.float64)
    local = kept.index.tz_convert(BEIJING)
    bins = local.floor(f"{STEP_HOURS}h")
    means = kept.groupby(bins).mean()
    first = _bin(start) if start is not None else (means.index.min() if len(means) else None)
    last = _bin(end) if end is not None else (means.index.max() if len(means) else None)
    if first is None or last is None:
        return pd.Series([], index=pd.DatetimeIndex([], tz=BEIJING), dtype=np.float64)
    index = pd.date_range(first, last, freq=f"{STEP_HOURS}h", tz=BEIJING)
    gridded: pd.Series = means.reindex(index).astype(np.float64)
    return gridded


def _bin(time: pd.Timestamp) -> pd.Timestamp:
    stamp = pd.Timestamp(time)
    if stamp.tzinfo is None:
        raise ValueError(f"time {stamp} needs a time zone")
    return stamp.tz_convert(BEIJING).floor(f"{STEP_HOURS}h")


# ---------------------------------------------------------------------------------------------
# options and results


@dataclass(frozen=True)
class ForecastOptions:
    """How forecasts are fitted; every default is an assumption [A] checked by the backtests.

    Attributes
    ----------
    training_days : int
        Window the statsmodels candidates are fitted on [d].
    calibration_days : int
        Last part of the training window whose forecast errors form the predictive spread and
        score the candidates [d].
    history_days : int
        Window of the climatology [d].
    models : tuple of str
        statsmodels candidates in fallback order (subset of :data:`MODELS`).
    selection_margin : float
        Relative improvement in the running skill record of verified forecasts one contender
        needs to replace the other [-].
    calibration_margin : float
        The same where only the calibration-window scores are known (no record yet): they are
        in-sample for the model and weak evidence, so the bar is higher [-].
    min_bin_errors : int
        Errors needed for a per-hour error distribution; fewer → pooled over the hours of day.
    max_gap_hours : int
        Persistence and the seasonal naive value use data at most this old [h].
    maxiter : mapping of str to int
        Optimiser iterations per model (default :data:`MAXITER`).
    seed : int
        Seed of everything random (the optimiser's start is deterministic; kept for reruns).
    """

    training_days: int = 56
    calibration_days: int = 28
    history_days: int = 366
    models: tuple[str, ...] = MODELS
    selection_margin: float = 0.02
    calibration_margin: float = 0.15
    min_bin_errors: int = 30
    max_gap_hours: int = 48
    maxiter: Mapping[str, int] = field(default_factory=dict)
    seed: int = 0

    def __post_init__(self) -> None:
        unknown = [m for m in self.models if m not in MODELS]
        if unknown:
            raise ValueError(f"unknown models {unknown}; valid: {list(MODELS)}")
        if not 0 < self.calibration_days < self.training_days:
            raise ValueError("calibration_days must be positive and shorter than training_days")


@dataclass(frozen=True)
class Predictive:
    """Predictive distributions at several origins and horizons, as sorted quantile members.

    Attributes
    ----------
    origins : DatetimeIndex
        Issue times (the last grid bin whose data the forecast used).
    horizons : tuple of int
        Lead times [h].
    members : ndarray, shape (n_origins, n_horizons, MEMBERS)
        Quantile members in original units, sorted on the last axis; NaN where there is no
        forecast.
    models : ndarray of str, shape (n_horizons,)
        The model that made each horizon's forecast.
    """

    origins: pd.DatetimeIndex
    horizons: tuple[int, ...]
    members: FloatArray
    models: npt.NDArray[np.str_]

    def quantile(self, level: float) -> FloatArray:
        """The ``level`` quantile per origin and horizon, shape (n_origins, n_horizons)."""
        if not 0.0 < level < 1.0:
            raise ValueError(f"quantile level must be in (0, 1), got {level}")
        position = level * MEMBERS - 0.5
        low = int(np.clip(math.floor(position), 0, MEMBERS - 1))
        high = int(np.clip(low + 1, 0, MEMBERS - 1))
        weight = float(np.clip(position - low, 0.0, 1.0))
        return (1.0 - weight) * self.members[..., low] + weight * self.members[..., high]

    def probability(self, threshold: Threshold) -> FloatArray:
        """P(exceeding ``threshold``) per origin and horizon; NaN without a forecast."""
        exceeds = threshold.exceeds(self.members).mean(axis=-1)
        return np.where(np.isnan(self.members[..., 0]), np.nan, exceeds)

    def targets(self) -> pd.DatetimeIndex:
        """Target times, origin-major (length n_origins × n_horizons)."""
        offsets = pd.to_timedelta(np.tile(np.asarray(self.horizons), len(self.origins)), unit="h")
        return pd.DatetimeIndex(np.repeat(self.origins, len(self.horizons))) + offsets

    def frame(self, threshold: Threshold | None = None) -> pd.DataFrame:
        """One row per origin and horizon: time, median, intervals, p_exceed, model."""
        rows = pd.DataFrame(
            {
                "origin": np.repeat(self.origins, len(self.horizons)),
                "horizon": np.tile(np.asarray(self.horizons, dtype=np.int64), len(self.origins)),
                "time": self.targets(),
            }
        )
        for name, level in QUANTILES.items():
            rows[name] = self.quantile(level).ravel()
        rows["p_exceed"] = self.probability(threshold).ravel() if threshold is not None else np.nan
        rows["model"] = np.tile(self.models, len(self.origins))
        return rows


@dataclass(frozen=True)
class Forecast:
    """A forecast for one series from one origin: what the service stores and shows.

    Attributes
    ----------
    origin : Timestamp
        Last grid bin with data (Beijing time).
    frame : DataFrame
        One row per horizon [h]: ``time``, ``median``, ``lo80``, ``hi80``, ``lo95``, ``hi95``,
        ``p_exceed`` and ``model``.
    selected : str
        The model chosen at 24 h (or the nearest horizon forecast).
    why : str
        Why it was chosen, in Chinese, for users.
    notes : tuple of str
        Fallbacks (a model that failed to converge) and other remarks.
    data_start, data_end : Timestamp
        The training window.
    transform : BoxCox
        The variance-stabilising transform used.
    candidates : DataFrame
        P(exceed) of every fitted candidate per horizon (rows: horizons [h], columns:
        candidates), stored so that each candidate's skill can be verified later.
    """

    origin: pd.Timestamp
    frame: pd.DataFrame
    selected: str
    why: str
    notes: tuple[str, ...]
    data_start: pd.Timestamp
    data_end: pd.Timestamp
    transform: BoxCox
    candidates: pd.DataFrame


# ---------------------------------------------------------------------------------------------
# the forecaster


@dataclass(frozen=True)
class Forecaster:
    """Candidates fitted on one training window, with the per-horizon selection.

    Built by :func:`fit_forecaster`; :meth:`predict` forecasts from any origins at or after the
    end of the training window, on the grid the forecaster was fitted on (extended by later
    data: the forecast from origin ``o`` reads data up to ``o`` only).
    """

    grid_start: pd.Timestamp
    transform: BoxCox
    horizons: tuple[int, ...]
    candidates: Mapping[str, Fitted]
    selection: Mapping[int, str]
    scores: pd.DataFrame
    notes: tuple[str, ...]
    why: str
    data_start: pd.Timestamp
    data_end: pd.Timestamp
    threshold: Threshold | None = None
    max_gap_steps: int = 12
    upstream_transform: BoxCox | None = None
    """The upstream series' transform, where an ``upstream`` candidate was tried."""

    @property
    def selected(self) -> str:
        """The model chosen at 24 h (or the horizon nearest to it)."""
        nearest = min(self.selection, key=lambda h: (abs(h - 24), h))
        return self.selection[nearest]

    def predict(
        self, grid: pd.Series, origins: Sequence[pd.Timestamp] | pd.DatetimeIndex,
        *, model: str | None = None, upstream: pd.Series | None = None,
    ) -> Predictive:  # fmt: skip
        """Predictive distributions from ``origins`` (grid bins).

        ``model`` None uses the selection per horizon; a candidate name forecasts with it alone.
        ``upstream`` is the upstream section's grid (:func:`to_grid`), read up to each origin
        only; without it the ``upstream`` candidate gives no forecast.
        """
        z, positions, origin_index = self._positions(grid, origins)
        exog = self._exog(grid, upstream)
        steps = np.asarray(self.horizons, dtype=np.int64) // STEP_HOURS
        if model is None:
            names = [self.selection[h] for h in self.horizons]
        elif model in self.candidates:
            names = [model] * len(self.horizons)
        else:
            raise ValueError(
                f"unknown or unfitted model {model!r}; fitted: {list(self.candidates)}"
            )
        members = np.full((positions.size, steps.size, MEMBERS), np.nan)
        regime = _regime(grid.to_numpy(dtype=np.float64), self.threshold, self.max_gap_steps)
        for name in dict.fromkeys(names):
            columns = np.asarray([n == name for n in names])
            members[:, columns] = self.candidates[name].members(
                z, positions, steps[columns], regime, exog
            )
        original = np.sort(self.transform.inverse(members), axis=-1)
        return Predictive(origin_index, self.horizons, original, np.asarray(names, dtype=np.str_))

    def predict_all(
        self, grid: pd.Series, origins: Sequence[pd.Timestamp] | pd.DatetimeIndex,
        *, upstream: pd.Series | None = None,
    ) -> dict[str, Predictive]:  # fmt: skip
        """Every candidate's forecasts and the selection's (``"auto"``), each computed once."""
        z, positions, origin_index = self._positions(grid, origins)
        exog = self._exog(grid, upstream)
        steps = np.asarray(self.horizons, dtype=np.int64) // STEP_HOURS
        regime = _regime(grid.to_numpy(dtype=np.float64), self.threshold, self.max_gap_steps)
        raw: dict[str, FloatArray] = {}
        for name, candidate in self.candidates.items():
            if isinstance(candidate, Mixture):
                continue
            raw[name] = candidate.members(z, positions, steps, regime, exog)
        for name, candidate in self.candidates.items():
            if isinstance(candidate, Mixture):
                raw[name] = mix([raw[p.name] for p in candidate.parts])
        names = [self.selection[h] for h in self.horizons]
        auto = np.stack([raw[n][:, j] for j, n in enumerate(names)], axis=1)

        def wrap(members: FloatArray, labels: list[str]) -> Predictive:
            original = np.sort(self.transform.inverse(members), axis=-1)
            return Predictive(origin_index, self.horizons, original, np.asarray(labels))

        result = {n: wrap(m, [n] * len(self.horizons)) for n, m in raw.items()}
        result["auto"] = wrap(auto, names)
        return result

    def _exog(self, grid: pd.Series, upstream: pd.Series | None) -> FloatArray | None:
        if upstream is None or self.upstream_transform is None:
            return None
        return self.upstream_transform.forward(_aligned(upstream, grid))

    def _positions(
        self, grid: pd.Series, origins: Sequence[pd.Timestamp] | pd.DatetimeIndex
    ) -> tuple[FloatArray, IntArray, pd.DatetimeIndex]:
        origin_index = pd.DatetimeIndex([_bin(pd.Timestamp(o)) for o in origins])
        if len(grid) and grid.index[0] != self.grid_start:
            raise ValueError("predict on the grid the forecaster was fitted on (same first bin)")
        step = pd.Timedelta(hours=STEP_HOURS)
        positions = np.asarray((origin_index - self.grid_start) // step, dtype=np.int64)
        if positions.size and (positions.min() < 0 or positions.max() >= len(grid)):
            raise ValueError("an origin lies outside the grid")
        z = self.transform.forward(grid.to_numpy(dtype=np.float64))
        return z, positions, origin_index


def fit_forecaster(
    grid: pd.Series,
    *,
    end: pd.Timestamp | None = None,
    threshold: Threshold | None = None,
    horizons: Sequence[int] = HORIZONS,
    options: ForecastOptions | None = None,
    skill: pd.DataFrame | None = None,
    previous_selection: Mapping[int, str] | None = None,
    upstream: pd.Series | None = None,
    pool: Sequence[tuple[pd.Series, Threshold]] | None = None,
) -> Forecaster:
    """Fit every candidate on the training window before ``end`` and choose per horizon.

    Parameters
    ----------
    grid : Series
        Values on the 4-hourly grid (:func:`to_grid`) [unit of the parameter].
    end : Timestamp, optional
        First bin *not* in the training window (default: after the last bin). Nothing at or
        after it is read.
    threshold : Threshold, optional
        The target-class limit; the candidates are then scored by the Brier score of their
        exceedance probability where the calibration window holds exceedances.
    horizons : sequence of int
        Lead times, multiples of 4 h up to 72 h [h].
    options : ForecastOptions
    skill : DataFrame, optional
        The running skill record: Brier score of each candidate's *verified* past forecasts
        (rows: candidates, columns: horizons [h]; all before ``end``). Where it scores a model
        and a baseline at a horizon it decides the selection there, so that a model that stops
        beating persistence is replaced; elsewhere the calibration-window scores decide.
    previous_selection : mapping of int to str, optional
        The selection of the previous fit, kept unless the other contender wins by
        :attr:`ForecastOptions.selection_margin`.
    upstream : Series, optional
        The upstream section's values of the same parameter on the 4-hourly grid
        (:func:`to_grid`); gives the ``upstream`` candidate where its changes lead this
        section's (:func:`sections.forecast_upstream.fit_upstream`). Nothing at or after
        ``end`` is read.
    pool : sequence of (Series, Threshold), optional
        Other sections' values of the same parameter on the 4-hourly grid, each with its own
        target-class threshold: with this section's own past they form the library of the
        ``analog`` candidate (:mod:`sections.forecast_analog`; an empty sequence: its own past
        only). Without it, or for a two-sided threshold (pH), there is no ``analog``
        candidate. Nothing at or after ``end`` is read.

    Returns
    -------
    Forecaster
    """
    options = options or ForecastOptions()
    horizons = _check_horizons(horizons)
    if not isinstance(grid.index, pd.DatetimeIndex) or len(grid) == 0:
        raise ValueError("grid must be a non-empty series on the 4-hourly grid (to_grid)")
    step = pd.Timedelta(hours=STEP_HOURS)
    grid_start = pd.Timestamp(grid.index[0])
    stop = len(grid) if end is None else int((_bin(end) - grid_start) // step)
    stop = int(np.clip(stop, 0, len(grid)))
    per_day = STEPS_PER_DAY
    start = max(0, stop - options.training_days * per_day)
    values = grid.to_numpy(dtype=np.float64)
    transform = fit_box_cox(values[start:stop])
    z = transform.forward(values[:stop])
    hour0 = int(grid_start.tz_convert(BEIJING).hour) // STEP_HOURS
    max_step = max(horizons) // STEP_HOURS
    calibration_start = max(start, stop - options.calibration_days * per_day - max_step)
    history_start = max(0, stop - options.history_days * per_day)
    max_gap_steps = options.max_gap_hours // STEP_HOURS
    regime = _regime(values[:stop], threshold, max_gap_steps)
    notes: list[str] = []

    candidates: dict[str, Fitted] = {}
    for name in options.models:
        fitted, failure = fit_state_space(
            name, z, start, stop, options.maxiter.get(name, MAXITER[name]),
            filter_start=history_start,
        )  # fmt: skip
        if fitted is None:
            notes.append(str(failure))
            continue
        candidates[name] = fitted
    exog: FloatArray | None = None
    upstream_transform: BoxCox | None = None
    if upstream is not None:
        aligned = _aligned(upstream, grid)[:stop]
        upstream_transform = fit_box_cox(aligned[start:stop])
        exog = upstream_transform.forward(aligned)
        informed, failure = fit_upstream(
            z, exog, start, stop, options.maxiter.get("sarima", MAXITER["sarima"]),
            history_start=history_start,
        )  # fmt: skip
        if informed is None:
            notes.append(str(failure))
        else:
            candidates[UPSTREAM] = informed
            hours, r = informed.lag * STEP_HOURS, informed.correlation
            notes.append(
                f"{UPSTREAM}: 上游来水约 {hours} 小时后到达本断面（变化相关 r = {r:.2f}）"
                f"/ upstream water arrives after about {hours} h"
                if hours
                else f"{UPSTREAM}: 与上游断面同步变化，无提前量（变化相关 r = {r:.2f}），"
                f"预报用上游最新值 / moves with the upstream section, no lead (r = {r:.2f})"
            )
    # the analogues, and those the calibration window is scored with: from the library before
    # it, since an origin's own outcome would be among its analogues (as for climatology)
    analog: Analog | None = None
    scored_analog: Analog | None = None
    analog_scale = _exceedance_scale(threshold)
    if pool is not None and analog_scale is not None:
        steps = [h // STEP_HOURS for h in horizons]
        library = _pool_series(grid, values[:stop], analog_scale, pool)
        issued_analog, scoring_analog = fit_analogs(
            library, scale=analog_scale, transform=transform, stops=(stop, calibration_start),
            steps=steps, max_gap_steps=max_gap_steps,
        )  # fmt: skip
        where = f"{ANALOG}: 相似情形取自 {len(library)} 个断面（含本断面）近 {POOL_DAYS} 天的记录"
        if not issued_analog.covers(steps):
            notes.append(
                f"{where}，不足 {MIN_LIBRARY} 个，不作预报 / too few past states for analogues"
            )
        elif not scoring_analog.covers(steps):
            candidates[ANALOG] = issued_analog
            notes.append(
                f"{where}；校准窗口之前不足 {MIN_LIBRARY} 个，暂不计入集成 / not in the ensemble "
                "yet: too few past states before the calibration window to score it"
            )
        else:
            candidates[ANALOG] = analog = issued_analog
            scored_analog = scoring_analog
            notes.append(f"{where} / analogues from {len(library)} series")
    for baseline in (Persistence(max_gap_steps), SeasonalNaive(options.max_gap_hours)):
        candidates[baseline.name] = baseline
    for point_model in candidates.values():
        if isinstance(point_model, PointModel):
            point_model._hour0 = hour0
            point_model.calibrate(
                z, hour_bins(np.arange(stop, dtype=np.int64), hour0),
                (history_start, calibration_start, stop), max_step, options.min_bin_errors,
                regime if point_model.name in _MODEL_LIKE else None,  # baselines as defined
                exog,
            )  # fmt: skip
    fitted_models = [candidates[m] for m in options.models if m in candidates]
    ensemble = _ensemble(fitted_models, analog)
    if ensemble is not None:
        candidates[ENSEMBLE] = ensemble
    months_of = _month_function(grid_start)
    candidates["climatology"] = _climatology(
        z, history_start, stop, hour0, months_of, options.min_bin_errors
    )
    # scored on the calibration window from the history before it: in-sample, a climatology
    # of a short history would be scored on the very values its table was built from
    scoring = dict(candidates)
    scoring["climatology"] = _climatology(
        z, history_start, calibration_start, hour0, months_of, options.min_bin_errors
    )
    if ANALOG in candidates:
        scoring[ANALOG] = scoring_analog
    if scored_analog is not None:
        scored_ensemble = _ensemble(fitted_models, scored_analog)
        if scored_ensemble is not None:
            scoring[ENSEMBLE] = scored_ensemble

    scores, metric = _score_candidates(
        scoring, z, transform, calibration_start + max_step, stop, horizons, threshold, regime,
        exog,
    )  # fmt: skip
    if skill is not None:
        scores, metric = _with_skill(scores, skill, metric, horizons)
    margin = options.selection_margin if metric == "brier_verified" else options.calibration_margin
    selection, why = _select(scores, horizons, metric, margin, notes, previous_selection)
    index = grid.index
    return Forecaster(
        grid_start=grid_start,
        transform=transform,
        horizons=horizons,
        candidates=candidates,
        selection=selection,
        scores=scores,
        notes=tuple(notes),
        why=why,
        data_start=pd.Timestamp(index[start]) if stop > start else grid_start,
        data_end=pd.Timestamp(index[stop - 1]) if stop > 0 else grid_start,
        threshold=threshold,
        max_gap_steps=max_gap_steps,
        upstream_transform=upstream_transform,
    )


def _ensemble(models: list[Fitted], analog: Fitted | None) -> Mixture | None:
    """The mixture of the statsmodels candidates that fitted, and of the analogues.

    The analogues weigh as much as the statsmodels candidates together (half the mixture): they
    carry what the pool knows of episodes, the models what this section's recent weeks say.
    """
    parts = list(models)
    if analog is not None:
        parts += [analog] * max(len(models), 1)
    return Mixture(parts) if len(parts) >= 2 else None


def _exceedance_scale(threshold: Threshold | None) -> ExceedanceScale | None:
    """The analog candidate's scale of a one-sided threshold; None for pH's range or none."""
    if threshold is None or (threshold.lower is None) == (threshold.upper is None):
        return None
    if threshold.upper is not None:
        return ExceedanceScale(threshold.upper, above=True) if threshold.upper > 0 else None
    assert threshold.lower is not None
    return ExceedanceScale(threshold.lower, above=False) if threshold.lower > 0 else None


def _pool_series(
    grid: pd.Series,
    own: FloatArray,
    scale: ExceedanceScale,
    pool: Sequence[tuple[pd.Series, Threshold]],
) -> list[PoolSeries]:
    """This section's known values and the pool's grids, placed on this grid's positions."""
    step = pd.Timedelta(hours=STEP_HOURS)
    grid_start = pd.Timestamp(grid.index[0])
    library = [PoolSeries(own, 0, scale)]
    for other, other_threshold in pool:
        other_scale = _exceedance_scale(other_threshold)
        if other_scale is None or other_scale.above != scale.above or len(other) == 0:
            continue
        if not _regular_grid(other):
            other = to_grid(other)  # placed by position below: every bin must be there
        first = int((_bin(pd.Timestamp(other.index[0])) - grid_start) // step)
        library.append(PoolSeries(other.to_numpy(dtype=np.float64), first, other_scale))
    return library


def _regular_grid(series: pd.Series) -> bool:
    """Whether a series is on the 4-hourly grid with every bin present (as :func:`to_grid`)."""
    index = series.index
    if not isinstance(index, pd.DatetimeIndex) or len(index) == 0:
        return False
    if _bin(pd.Timestamp(index[0])) != index[0]:
        return False
    steps = np.diff(index.asi8)
    return bool(np.all(steps == pd.Timedelta(hours=STEP_HOURS).value))


def _aligned(upstream: pd.Series, grid: pd.Series) -> FloatArray:
    """The upstream grid's values at the grid's bins (NaN where it has none)."""
    if not isinstance(upstream.index, pd.DatetimeIndex) or upstream.index.tz is None:
        raise ValueError("upstream needs a tz-aware DatetimeIndex (to_grid)")
    index = upstream.index.tz_convert(BEIJING)
    values = pd.Series(upstream.to_numpy(dtype=np.float64), index=index)
    return values.reindex(grid.index).to_numpy(dtype=np.float64)


MIN_VERIFIED = 6 * 14
"""Verified forecasts a candidate needs at a horizon before its record counts (two weeks)."""
SKILL_DAYS = 91
"""Window of the running skill record: verified forecasts of the last 13 weeks [d] [A]."""
MIN_EVENTS = 18
"""Exceeding targets (three days of 4-hourly values) the verified forecasts must hold before
their Brier scores decide anything: fewer, and one episode decides [A]."""


def skill_record(verified: pd.DataFrame) -> pd.DataFrame:
    """The running skill record: Brier score per candidate and horizon of verified forecasts.

    Parameters
    ----------
    verified : DataFrame
        One row per verified forecast: ``candidate``, ``horizon`` [h], ``p_exceed`` (the
        forecast probability) and ``outcome`` (1 if the observed value exceeded, else 0) — the
        forecasts of the skill window only (the caller picks it, :data:`SKILL_DAYS`).

    Returns
    -------
    DataFrame
        :func:`skill_from_totals` of the rows' totals.

    Examples
    --------
    >>> rows = pd.DataFrame({"candidate": ["persistence"] * 100, "horizon": 24,
    ...                      "p_exceed": 0.5, "outcome": [1] * 20 + [0] * 80})
    >>> float(skill_record(rows).loc["persistence", 24])
    0.25
    """
    frame = verified.dropna(subset=["p_exceed", "outcome"])
    frame = frame.assign(term=(frame["p_exceed"] - frame["outcome"]) ** 2)
    grouped = frame.groupby(["candidate", "horizon"], as_index=False)
    totals = grouped.agg(n=("term", "size"), events=("outcome", "sum"), brier=("term", "mean"))
    return skill_from_totals(totals)


def skill_from_totals(totals: pd.DataFrame) -> pd.DataFrame:
    """The running skill record from per candidate × horizon totals (as a database sums them).

    Parameters
    ----------
    totals : DataFrame
        ``candidate``, ``horizon`` [h], ``n`` (verified forecasts), ``events`` (how many of
        their targets exceeded) and ``brier`` (their mean (p − outcome)²).

    Returns
    -------
    DataFrame
        Brier scores with candidates as rows and horizons as columns; NaN where a candidate
        has fewer than :data:`MIN_VERIFIED` verified forecasts or the horizon's verified targets
        hold fewer than :data:`MIN_EVENTS` exceedances (in calm weeks every forecast scores
        near 0 and the differences say nothing).

    Examples
    --------
    >>> totals = pd.DataFrame({"candidate": ["persistence", "ensemble"], "horizon": [24, 24],
    ...                        "n": [100, 100], "events": [20, 20], "brier": [0.2, 0.1]})
    >>> skill_from_totals(totals)[24].to_dict()
    {'ensemble': 0.1, 'persistence': 0.2}
    """
    if totals.empty:
        return pd.DataFrame(dtype=np.float64)
    table = totals.pivot_table(index="candidate", columns="horizon", values="brier")
    counts = totals.pivot_table(index="candidate", columns="horizon", values="n")
    events = totals.groupby("horizon")["events"].max()
    ok = counts.reindex_like(table).ge(MIN_VERIFIED)
    for horizon in ok.columns:
        ok[horizon] &= bool(events.get(horizon, 0) >= MIN_EVENTS)
    result: pd.DataFrame = table.where(ok)
    result.columns = [int(c) for c in result.columns]
    result.index = [str(i) for i in result.index]
    return result


def _climatology(
    z: FloatArray,
    first: int,
    stop: int,
    hour0: int,
    months_of: Callable[[IntArray], IntArray],
    min_count: int,
) -> Climatology:
    positions = np.arange(first, stop, dtype=np.int64)
    climatology = Climatology(
        z[first:stop], hour_bins(positions, hour0), months_of(positions), min_count=min_count
    )
    climatology.attach(hour0, months_of)
    return climatology


def _with_skill(
    scores: pd.DataFrame, skill: pd.DataFrame, metric: str, horizons: tuple[int, ...]
) -> tuple[pd.DataFrame, str]:
    """Calibration-window scores, replaced per horizon by the verified record where it counts."""
    merged = scores.copy()
    used = False
    for h in horizons:
        if h not in skill.columns:
            continue
        column = skill[h].reindex(merged.index)
        models = column[[m for m in _MODEL_LIKE if m in column.index]].dropna()
        baselines = column[[b for b in BASELINES if b in column.index]].dropna()
        if models.empty or baselines.empty:
            continue
        merged[h] = column
        used = True
    return merged, ("brier_verified" if used else metric)


def _regime(
    values: FloatArray, threshold: Threshold | None, max_gap_steps: int
) -> BoolArray | None:
    """Per grid position: did the last valid value (at most ``max_gap_steps`` old) exceed?"""
    if threshold is None:
        return None
    return threshold.exceeds(last_valid(values, max_gap_steps))


def _check_horizons(horizons: Sequence[int]) -> tuple[int, ...]:
    result = tuple(sorted({int(h) for h in horizons}))
    bad = [h for h in result if h <= 0 or h > max(HORIZONS) or h % STEP_HOURS]
    if not result or bad:
        raise ValueError(f"horizons must be multiples of {STEP_HOURS} h in 4–72 h, got {bad}")
    return result


def _month_function(grid_start: pd.Timestamp) -> Callable[[IntArray], IntArray]:
    """Month (1–12) of grid positions, vectorised through a day → month lookup."""
    first_day = grid_start.tz_convert(BEIJING).normalize().tz_localize(None)
    offset = int(grid_start.tz_convert(BEIJING).hour) // STEP_HOURS
    cache: dict[str, IntArray] = {"months": np.zeros(0, dtype=np.int64)}

    def months(positions: IntArray) -> IntArray:
        days = (np.asarray(positions, dtype=np.int64) + offset) // STEPS_PER_DAY
        need = int(days.max()) + 1 if days.size else 0
        if need > cache["months"].size:
            dates = pd.date_range(first_day, periods=max(need, 400), freq="D")
            cache["months"] = np.asarray(dates.month, dtype=np.int64)
        return cache["months"][np.maximum(days, 0)]

    return months


def _score_candidates(
    candidates: Mapping[str, Fitted],
    z: FloatArray,
    transform: BoxCox,
    first: int,
    stop: int,
    horizons: tuple[int, ...],
    threshold: Threshold | None,
    regime: BoolArray | None,
    exog: FloatArray | None = None,
) -> tuple[pd.DataFrame, str]:
    """Score per candidate and horizon on the calibration origins (lower is better)."""
    steps = np.asarray(horizons, dtype=np.int64) // STEP_HOURS
    origins = np.arange(first, stop - 1, dtype=np.int64)
    truth_z = np.full((origins.size, steps.size), np.nan)
    targets = origins[:, None] + steps[None, :]
    inside = targets < stop
    truth_z[inside] = z[targets[inside]]
    truth = transform.inverse(truth_z)
    truth[~inside | np.isnan(truth_z)] = np.nan
    metric = "crps"
    if threshold is not None:
        outcome = threshold.exceeds(truth)
        events = int(outcome[np.isfinite(truth)].sum())
        if events >= 3:
            metric = "brier"
    table = pd.DataFrame(index=list(candidates), columns=list(horizons), dtype=np.float64)
    for name, candidate in candidates.items():
        if origins.size == 0:
            continue
        members = np.sort(
            transform.inverse(candidate.members(z[:stop], origins, steps, regime, exog)), axis=-1
        )
        for j, h in enumerate(horizons):
            ok = np.isfinite(truth[:, j]) & np.isfinite(members[:, j, 0])
            if ok.sum() < 10:
                continue
            if metric == "brier":
                assert threshold is not None
                p = threshold.exceeds(members[ok, j]).mean(axis=-1)
                table.loc[name, h] = brier_score(p, threshold.exceeds(truth[ok, j]))
            else:
                table.loc[name, h] = float(np.mean(crps_ensemble(truth[ok, j], members[ok, j])))
    return table, metric


def _select(
    scores: pd.DataFrame,
    horizons: tuple[int, ...],
    metric: str,
    margin: float,
    notes: list[str],
    previous: Mapping[int, str] | None = None,
) -> tuple[dict[int, str], str]:
    """The candidate per horizon, and why (in Chinese).

    Two contenders per horizon: the model (the better of the ensemble — or the statsmodels
    candidate that fitted — and the ``upstream`` regression where it fitted) and the better of
    persistence and the seasonal naive forecast (climatology ignores the present state: it is a
    reference for skill, never the forecast issued — chosen from a few calm weeks, it then misses
    every episode). The previous choice (or the model, at the first fit) is kept unless the
    other contender scores better by ``margin``: a switch needs evidence, so noise does not
    flip the forecast from week to week, and a model that stops beating the baseline is
    replaced.
    """
    selection: dict[int, str] = {}
    by_model: list[int] = []
    by_baseline: list[int] = []
    for h in horizons:
        column = scores[h].dropna()
        baselines = column[[b for b in _ISSUABLE_BASELINES if b in column.index]]
        # the ensemble holds the statsmodels candidates and the analogues where it exists
        model_names = [ENSEMBLE] if ENSEMBLE in column.index else [*MODELS, ANALOG]
        model_names.append(UPSTREAM)
        models = column[[m for m in model_names if m in column.index]]
        if baselines.empty or models.empty:
            fallback = models if baselines.empty else baselines
            selection[h] = str(fallback.idxmin()) if not fallback.empty else "persistence"
            (by_model if baselines.empty and not models.empty else by_baseline).append(h)
            continue
        model, baseline = str(models.idxmin()), str(baselines.idxmin())
        model_score, baseline_score = float(models.min()), float(baselines.min())
        before = (previous or {}).get(h)
        if before in BASELINES:
            keep_baseline = not model_score < baseline_score * (1.0 - margin)
        else:
            keep_baseline = baseline_score < model_score * (1.0 - margin)
        selection[h] = baseline if keep_baseline else model
        (by_baseline if keep_baseline else by_model).append(h)
    label = {"brier": "Brier 评分", "brier_verified": "已核验预报的 Brier 评分"}.get(metric, "CRPS")
    parts = []
    if by_model:
        chosen = sorted({selection[h] for h in by_model})
        parts.append(
            f"{_hours(by_model)} 选用 {'、'.join(chosen)}：{label}不劣于最佳基准"
            f"（基准须领先 {margin:.0%} 以上才替换模型）"
        )
    if by_baseline:
        chosen = sorted({selection[h] for h in by_baseline})
        parts.append(
            f"{_hours(by_baseline)} 选用基准 {'、'.join(chosen)}：{label}显示统计模型不优于基准，"
            "如实采用基准"
        )
    if notes:
        parts.append("；".join(notes))
    return selection, "；".join(parts)


def _hours(values: list[int]) -> str:
    return "、".join(f"{h}h" for h in values)


def forecast(
    values: pd.Series,
    *,
    threshold: Threshold | None = None,
    valid: pd.Series | None = None,
    horizons: Sequence[int] = HORIZONS,
    origin: pd.Timestamp | None = None,
    options: ForecastOptions | None = None,
    skill: pd.DataFrame | None = None,
    previous_selection: Mapping[int, str] | None = None,
    upstream: pd.Series | None = None,
    upstream_valid: pd.Series | None = None,
    pool: Sequence[tuple[pd.Series, Threshold]] | None = None,
) -> Forecast:
    """Forecast one series from its latest data (or from ``origin``), every horizon.

    Parameters
    ----------
    values : Series
        Observations on a tz-aware DatetimeIndex [unit of the parameter].
    threshold : Threshold, optional
        The section's target-class limit; gives ``p_exceed``.
    valid : Series of bool, optional
        Which values count (flagged values never train a model).
    horizons : sequence of int
        Lead times [h], multiples of 4 up to 72.
    origin : Timestamp, optional
        Issue from this bin, using data up to it only; default the last bin with data.
    options : ForecastOptions
    skill : DataFrame, optional
        The running skill record of verified forecasts (:func:`fit_forecaster`).
    previous_selection : mapping of int to str, optional
        The models of the previous issue per horizon [h] (:func:`fit_forecaster`).
    upstream, upstream_valid : Series, optional
        The upstream section's observations of the same parameter and which of them count
        (the ``upstream`` candidate, :func:`fit_forecaster`); data after the origin are not read.
    pool : sequence of (Series, Threshold), optional
        Other sections' valid observations of the same parameter with their thresholds (the
        ``analog`` candidate, :func:`fit_forecaster`); data after the origin are not read.

    Returns
    -------
    Forecast

    Examples
    --------
    >>> idx = pd.date_range("2025-03-01", periods=6 * 40, freq="4h", tz=BEIJING)
    >>> hour = np.asarray(idx.hour, dtype=float)
    >>> nh3n = pd.Series(0.5 + 0.1 * np.sin(2 * np.pi * hour / 24), index=idx)
    >>> result = forecast(nh3n, threshold=Threshold(upper=1.0), horizons=[4, 24])
    >>> result.frame["p_exceed"].tolist()
    [0.0, 0.0]
    """
    grid = to_grid(values, valid=valid)
    if grid.empty:
        raise ValueError("no valid value to forecast from")
    last = _bin(origin) if origin is not None else _bin(grid.dropna().index[-1])
    grid = grid[grid.index <= last]
    end = last + pd.Timedelta(hours=STEP_HOURS)
    upstream_grid = None
    if upstream is not None:
        upstream_grid = to_grid(upstream, valid=upstream_valid)
        upstream_grid = upstream_grid[upstream_grid.index <= last]
    pool_grids = None
    if pool is not None:
        pool_grids = [
            (g[g.index <= last], t)
            for g, t in ((s if _regular_grid(s) else to_grid(s), t) for s, t in pool)
        ]
        pool_grids = [(g, t) for g, t in pool_grids if len(g)]
    forecaster = fit_forecaster(
        grid, end=end, threshold=threshold, horizons=horizons, options=options, skill=skill,
        previous_selection=previous_selection, upstream=upstream_grid, pool=pool_grids,
    )  # fmt: skip
    issued = forecaster.predict_all(grid, [last], upstream=upstream_grid)
    frame = issued.pop("auto").frame(threshold).drop(columns="origin").set_index("horizon")
    candidates = pd.DataFrame(index=pd.Index(forecaster.horizons, name="horizon"))
    if threshold is not None:
        for name, one in issued.items():
            candidates[name] = one.probability(threshold)[0]
    return Forecast(
        origin=last,
        frame=frame,
        selected=forecaster.selected,
        why=forecaster.why,
        notes=forecaster.notes,
        data_start=forecaster.data_start,
        data_end=forecaster.data_end,
        transform=forecaster.transform,
        candidates=candidates,
    )
