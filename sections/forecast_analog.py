"""The ``analog`` forecast candidate: what followed similar states at many sections.

One station's year holds three to eight pollution episodes: too few to learn how long an
episode lasts, how fast it ends, or how often a high-but-legal value turns into one. The
sections of a province measuring the same parameter hold hundreds. This candidate forecasts a
section from the **analogues** of its present state in a library of past states of itself and
of the other sections (the *pool*), each on the scale of its own target limit:

1. Every series is put on the **exceedance scale** of its own threshold,
   ``s = ln(x / upper)`` for a concentration and ``s = ln(lower / x)`` for DO, so that ``s > 0``
   is an exceedance at any section and any target class (:class:`ExceedanceScale`).
2. The state at an origin is a few numbers read from the series up to it
   (:func:`state_features`): the last valid value, how long it has been exceeding (or how long
   since it last did), the highest and lowest value of the last 24 hours, and the value at the
   target's hour of day on the latest day (the daily cycle).
3. For each horizon, the library holds the states of every origin of the pool series whose
   target lies before the end of the training window (at most :data:`POOL_DAYS` back), with
   what followed ``s`` at that horizon. The :data:`ANALOGS` nearest states (Euclidean distance
   of the features, each divided by its spread in the library) are the analogues; their
   outcomes, quantiles read at the member levels and put back on this section's threshold, are
   the predictive distribution [1]_ [2]_.

No model is fitted and nothing is assumed of an episode's shape: the spread, the bias and the
chance that an episode goes on or begins are whatever followed similar states. A library of
fewer than :data:`MIN_LIBRARY` states gives no forecast (one section's own 120 days do not
suffice); the figures in ``docs/forecasting.md`` say how much the other sections add.

References
----------
.. [1] Lorenz, E.N. (1969) Atmospheric predictability as revealed by naturally occurring
   analogues. *J. Atmos. Sci.* 26, 636–646.
.. [2] Delle Monache, L., Eckel, F.A., Rife, D.L., Nagarajan, B. and Searight, K. (2013)
   Probabilistic weather prediction with an analog ensemble. *Mon. Wea. Rev.* 141, 3498–3516.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from sections.forecast_models import LEVELS, MEMBERS, STEPS_PER_DAY, BoxCox, last_valid

__all__ = [
    "ANALOG",
    "ANALOGS",
    "ANALOG_KEYS",
    "MIN_LIBRARY",
    "POOL_DAYS",
    "Analog",
    "ExceedanceScale",
    "PoolSeries",
    "analog_applies",
    "fit_analog",
    "fit_analogs",
    "state_features",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

ANALOG = "analog"
"""The candidate's name."""
ANALOG_KEYS = frozenset({"codmn", "nh3n", "tp", "tn"})
"""The parameters with pollution episodes, for which the pool is used [A]. DO's exceedances
are its own daily cycle's dawn lows, which its own models follow; with the analogues of other
sections its backtests were worse (``docs/forecasting.md``). pH has a two-sided range."""
ANALOGS = 100
"""Analogues per forecast [A]: enough for a 10 % probability to rest on ten cases."""
POOL_DAYS = 182
"""How far back the library reaches from the end of the training window [d] [A]: half a year
holds the season's episodes at every section without the other half's."""
MIN_LIBRARY = 10 * ANALOGS
"""States a horizon's library needs, else the candidate gives no forecast there."""
_RUN_CAP_STEPS = 60  # how long since the last exceedance is counted up to: ten days of bins
_FLOOR = 1e-3  # values below this share of the limit count as it (zeros, detection limits)


def analog_applies(key: str) -> bool:
    """Whether the ``analog`` candidate is fitted for a parameter (:data:`ANALOG_KEYS`).

    Examples
    --------
    >>> analog_applies("nh3n"), analog_applies("do")
    (True, False)
    """
    return key in ANALOG_KEYS


@dataclass(frozen=True)
class ExceedanceScale:
    """A one-sided threshold as a scale: ``s > 0`` exceeds at every section and class.

    Parameters
    ----------
    limit : float
        The target-class limit [unit of the parameter].
    above : bool
        True for a concentration (a value above the limit exceeds), False for DO (below).

    Examples
    --------
    >>> scale = ExceedanceScale(limit=1.0, above=True)
    >>> [round(float(v), 3) for v in scale.ratio(np.array([0.5, 1.0, 2.0]))]
    [-0.693, 0.0, 0.693]
    >>> float(ExceedanceScale(limit=5.0, above=False).ratio(np.array([2.5]))[0]) > 0
    True
    """

    limit: float
    above: bool

    def __post_init__(self) -> None:
        if not self.limit > 0:
            raise ValueError(f"the limit must be positive, got {self.limit}")

    def ratio(self, values: npt.ArrayLike) -> FloatArray:
        """``ln(x / limit)`` (concentrations) or ``ln(limit / x)`` (DO); NaN stays NaN."""
        x = np.asarray(values, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            s = np.log(np.maximum(x, _FLOOR * self.limit) / self.limit)
        s = np.where(np.isnan(x), np.nan, s)
        return s if self.above else -s

    def values(self, ratio: npt.ArrayLike) -> FloatArray:
        """Back from the scale to the parameter's unit."""
        s = np.asarray(ratio, dtype=np.float64)
        return self.limit * np.exp(s if self.above else -s)


@dataclass(frozen=True)
class PoolSeries:
    """One series of the library: values on the 4-hourly grid from ``first`` (a grid position
    counted from the forecast section's first bin, may be negative) and its scale."""

    values: FloatArray
    first: int
    scale: ExceedanceScale


def state_features(s: FloatArray, step: int, max_gap_steps: int) -> FloatArray:
    """The state at every position as an origin for ``step`` bins ahead, shape (n, 6).

    Columns, all on the exceedance scale or in log-steps: the last valid value (at most
    ``max_gap_steps`` old; NaN beyond, and so no state); ln(1 + bins it has been exceeding),
    0 when not; ln(1 + bins since it last exceeded, up to ten days), 0 when exceeding; the
    highest and the lowest value of the last six bins (24 h; the last valid value where they
    hold none); the value at the target's hour of day on the latest day before the origin
    (the last valid value where missing).

    Examples
    --------
    >>> s = np.array([-1.0, -0.5, 0.2, 0.4, 0.3, -0.2, -0.6])
    >>> f = state_features(s, 1, 12)
    >>> f[3].round(3).tolist()  # second bin exceeding; no day before: the last value
    [0.4, 1.099, 0.0, 0.4, -1.0, 0.4]
    >>> f[6].round(3).tolist()  # second bin after the exceedance; 20 h before the origin
    [-0.6, 0.0, 1.099, 0.4, -0.6, -0.5]
    """
    return _with_same_hour(_present_state(s, max_gap_steps), s, step)


def _present_state(s: FloatArray, max_gap_steps: int) -> FloatArray:
    """The five columns of :func:`state_features` that do not depend on the step ahead."""
    last = last_valid(s, max_gap_steps)
    exceeding = last > 0
    windows = np.lib.stride_tricks.sliding_window_view(
        np.concatenate([np.full(STEPS_PER_DAY - 1, np.nan), s]), STEPS_PER_DAY
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows: handled below
        high = np.nanmax(windows, axis=1)
        low = np.nanmin(windows, axis=1)
    high = np.where(np.isnan(high), last, high)
    low = np.where(np.isnan(low), last, low)
    run = _run_length(exceeding)
    quiet = np.minimum(_run_length(~exceeding), _RUN_CAP_STEPS)
    return np.column_stack([last, np.log1p(run), np.log1p(quiet), high, low])


def _with_same_hour(present: FloatArray, s: FloatArray, step: int) -> FloatArray:
    """Add the value at the target's hour of day on the latest day before the origin."""
    n = s.size
    back = step - STEPS_PER_DAY * -(-step // STEPS_PER_DAY)  # ≤ 0
    same_hour = np.full(n, np.nan)
    positions = np.arange(n) + back
    inside = positions >= 0
    same_hour[inside] = s[positions[inside]]
    same_hour = np.where(np.isnan(same_hour), present[:, 0], same_hour)
    return np.column_stack([present, same_hour])


def _run_length(flags: BoolArray) -> FloatArray:
    """At each position, how many positions up to it in a row are True (0 where False)."""
    index = np.arange(flags.size)
    last_false = np.maximum.accumulate(np.where(flags, -1, index))
    return (index - last_false).astype(np.float64)


class Analog:
    """The fitted candidate: one library of states and outcomes per step ahead.

    ``members`` gives, per origin and step, the quantiles of the analogues' outcomes on this
    section's transformed scale; an origin without a last valid value, or a step whose library
    is thinner than :data:`MIN_LIBRARY`, gets NaN (no forecast).
    """

    name = ANALOG

    def __init__(
        self,
        libraries: dict[int, tuple[cKDTree, FloatArray, FloatArray, FloatArray]],
        scale: ExceedanceScale,
        transform: BoxCox,
        max_gap_steps: int,
        sizes: dict[int, int],
    ) -> None:
        self._libraries = libraries
        self._scale = scale
        self._transform = transform
        self._max_gap_steps = max_gap_steps
        self.sizes = sizes
        """States in the library per step ahead (for the notes)."""

    def covers(self, steps: Sequence[int]) -> bool:
        """Whether every one of ``steps`` has a library (else those steps get no forecast)."""
        return all(int(step) in self._libraries for step in steps)

    def members(
        self, z: FloatArray, origins: IntArray, steps: IntArray, regime: BoolArray | None = None,
        exog: FloatArray | None = None,
    ) -> FloatArray:  # fmt: skip
        out = np.full((origins.size, steps.size, MEMBERS), np.nan)
        if origins.size == 0:
            return out
        s = self._scale.ratio(self._transform.inverse(z[: int(origins.max()) + 1]))
        present = _present_state(s, self._max_gap_steps)
        for j, step in enumerate(steps):
            library = self._libraries.get(int(step))
            if library is None:
                continue
            tree, outcomes, centre, spread = library
            states = _with_same_hour(present, s, int(step))[origins]
            ok = np.isfinite(states).all(axis=1)
            if not ok.any():
                continue
            _, nearest = tree.query((states[ok] - centre) / spread, k=ANALOGS)
            ratios = np.quantile(outcomes[nearest], LEVELS, axis=1).T
            out[ok, j] = self._transform.forward(self._scale.values(ratios))
        return out


def fit_analog(
    pool: Sequence[PoolSeries],
    *,
    scale: ExceedanceScale,
    transform: BoxCox,
    stop: int,
    steps: Sequence[int],
    max_gap_steps: int,
    pool_days: int = POOL_DAYS,
) -> Analog:
    """The ``analog`` candidate with libraries of the states before grid position ``stop``.

    Parameters
    ----------
    pool : sequence of PoolSeries
        The series of the library: this section's own (its values before ``stop``) and the
        other sections' of the same parameter, each on its own threshold's scale.
    scale : ExceedanceScale
        This section's threshold: the analogues' outcomes are put back on it.
    transform : BoxCox
        This section's transform (members are returned on its scale, as every candidate's).
    stop : int
        First grid position not known (the end of the training window); an origin enters the
        library only where its target lies before it.
    steps : sequence of int
        Steps ahead (bins of 4 h) to build libraries for.
    max_gap_steps : int
        The last valid value is at most this many bins old.
    pool_days : int, default :data:`POOL_DAYS`
        How far back before ``stop`` origins are taken [d].

    Returns
    -------
    Analog
    """
    return fit_analogs(
        pool, scale=scale, transform=transform, stops=(stop,), steps=steps,
        max_gap_steps=max_gap_steps, pool_days=pool_days,
    )[0]  # fmt: skip


def fit_analogs(
    pool: Sequence[PoolSeries],
    *,
    scale: ExceedanceScale,
    transform: BoxCox,
    stops: Sequence[int],
    steps: Sequence[int],
    max_gap_steps: int,
    pool_days: int = POOL_DAYS,
) -> tuple[Analog, ...]:
    """:func:`fit_analog` at several ``stops`` at once (the issue's and the calibration
    window's): the states are computed once, up to the latest stop, since a state reads only
    the series up to its origin; each library keeps the origins whose target lies before its
    own stop."""
    latest = max(stops)
    prepared: list[tuple[FloatArray, FloatArray, int]] = []
    for series in pool:
        known = max(0, min(series.values.size, latest - series.first))
        if known == 0:
            continue
        s = series.scale.ratio(series.values[:known])
        prepared.append((s, _present_state(s, max_gap_steps), series.first))
    wanted = sorted({int(x) for x in steps})
    fitted = []
    for stop in stops:
        earliest = stop - pool_days * STEPS_PER_DAY
        libraries: dict[int, tuple[cKDTree, FloatArray, FloatArray, FloatArray]] = {}
        sizes: dict[int, int] = {}
        for step in wanted:
            states: list[FloatArray] = []
            outcomes: list[FloatArray] = []
            for s, present, first in prepared:
                features = _with_same_hour(present, s, step)
                origin = np.arange(max(0, min(s.size, stop - first) - step))
                origin = origin[origin + first >= earliest]
                outcome = s[origin + step]
                ok = np.isfinite(outcome) & np.isfinite(features[origin]).all(axis=1)
                states.append(features[origin[ok]])
                outcomes.append(outcome[ok])
            table = np.concatenate(states) if states else np.zeros((0, 6))
            sizes[step] = int(table.shape[0])
            if table.shape[0] < MIN_LIBRARY:
                continue
            centre = table.mean(axis=0)
            spread = table.std(axis=0)
            spread = np.where(spread > 0, spread, 1.0)
            libraries[step] = (
                cKDTree((table - centre) / spread),
                np.concatenate(outcomes),
                centre,
                spread,
            )
        fitted.append(Analog(libraries, scale, transform, max_gap_steps, sizes))
    return tuple(fitted)
