"""Forecast verification: scores for ensemble, quantile and probability forecasts, and warnings.

Three kinds of forecast of a water-quality value are verified against what was observed:

- an **ensemble** (m members per row): :func:`crps_ensemble`, the continuous ranked probability
  score of each row, in the unit of the value;
- **quantiles** at levels τ (k per row): :func:`pinball_loss` per row and
  :func:`interval_coverage` of a central interval (with a block-bootstrap interval,
  :func:`coverage_interval`);
- a **probability** of an event (the target class is exceeded): :func:`brier_score`,
  :func:`brier_skill` (with a block-bootstrap interval, :func:`brier_skill_interval`), the
  :func:`reliability` table, and, once a threshold turns the probability
  into a warning, :func:`warning_scores` (hit rate and false alarm ratio) and the warning lead
  time of each exceedance onset (:func:`exceedance_onsets`, :func:`lead_times`,
  :func:`mean_lead_time`).

Conventions. Row scores come back as float arrays of the row count; summary scores as a float.
Missing is NaN, never 0: a row whose observation (or outcome) is missing gets a NaN score and is
left out of every mean, and a mean over no rows is NaN. Nothing loops over rows in Python.

Scores are negatively oriented (lower is better) except coverage, skill, hit rate and lead
time. The thresholds that turn probabilities into warnings are parameters [A, domain.md §7].

References
----------
.. [1] Gneiting, T., Raftery, A. E., 2007. Strictly proper scoring rules, prediction, and
   estimation. J. Amer. Statist. Assoc. 102 (477), 359–378, doi:10.1198/016214506000001437:
   the CRPS and its kernel form E|X − y| − ½ E|X − X′| (there positively oriented), the
   quantile score, interval forecasts [V].
.. [2] Hersbach, H., 2000. Decomposition of the continuous ranked probability score for
   ensemble prediction systems. Wea. Forecasting 15, 559–570,
   doi:10.1175/1520-0434(2000)015<0559:DOTCRP>2.0.CO;2: the CRPS of an ensemble as the CRPS of
   its empirical distribution [V].
.. [3] Koenker, R., Bassett, G., 1978. Regression quantiles. Econometrica 46 (1), 33–50,
   doi:10.2307/1913643: the check (pinball) function ρτ [V].
.. [4] Brier, G. W., 1950. Verification of forecasts expressed in terms of probability.
   Mon. Wea. Rev. 78 (1), 1–3, doi:10.1175/1520-0493(1950)078<0001:VOFEIT>2.0.CO;2 [V].
.. [5] WMO/WWRP Joint Working Group on Forecast Verification Research (JWGFVR), Forecast
   verification: issues, methods and FAQ, https://www.cawcr.gov.au/projects/verification/:
   the 2 × 2 contingency table, hit rate (POD), false alarm ratio (FAR), Brier score and skill
   score, reliability diagram [V].
.. [6] Künsch, H. R., 1989. The jackknife and the bootstrap for general stationary
   observations. Ann. Statist. 17 (3), 1217–1241, doi:10.1214/aos/1176347265: resampling
   blocks of consecutive observations keeps their serial dependence [V].
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = [
    "FORECAST_COLUMNS",
    "RELIABILITY_COLUMNS",
    "brier_score",
    "brier_skill",
    "brier_skill_interval",
    "coverage_interval",
    "crps_ensemble",
    "exceedance_onsets",
    "interval_coverage",
    "lead_times",
    "mean_lead_time",
    "pinball_loss",
    "reliability",
    "warning_scores",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

FORECAST_COLUMNS: tuple[str, ...] = ("origin", "target", "probability")
"""The columns :func:`lead_times` reads from its forecast frame."""

RELIABILITY_COLUMNS: tuple[str, ...] = (
    "bin_low",
    "bin_high",
    "mean_probability",
    "observed_frequency",
    "count",
)
"""The columns of the :func:`reliability` table, in order."""


# --- ensembles and quantiles ---------------------------------------------------------------------


def crps_ensemble(observed: npt.ArrayLike, members: npt.ArrayLike) -> FloatArray:
    """Continuous ranked probability score of each row of an ensemble forecast.

    Parameters
    ----------
    observed : array_like of float, shape (n,)
        The observed value of each row [unit of the value, e.g. mg/L]; NaN when not observed.
    members : array_like of float, shape (n, m)
        The ensemble members of each row [same unit]; NaN (or ±inf) members are ignored, so rows
        may have different ensemble sizes.

    Returns
    -------
    ndarray of float, shape (n,)
        CRPS of each row [same unit], ≥ 0, 0 only when every member equals the observation;
        NaN where the observation is missing or the row has no member.

    Raises
    ------
    ValueError
        When ``observed`` is not 1-D or ``members`` is not 2-D with one row per observation;
        the message names both shapes.

    Notes
    -----
    The CRPS of a forecast distribution F for the observation y is

    .. math:: \\mathrm{CRPS}(F, y) = \\int_{-\\infty}^{\\infty}
              \\bigl(F(x) - \\mathbb{1}\\{x \\ge y\\}\\bigr)^2 \\, dx
              = \\mathrm{E}|X - y| - \\tfrac12 \\mathrm{E}|X - X'|

    with X, X′ independent draws of F [1]_. Here F is the empirical distribution of the row's
    m members x₁ … x_m, which is Hersbach's ensemble CRPS [2]_ (the standard, not the "fair",
    estimator: the fair one divides the spread term by m(m − 1) instead of m²). With the members
    sorted, x₍₁₎ ≤ … ≤ x₍ₘ₎, the double sum of the spread term is a single weighted sum,

    .. math:: \\mathrm{CRPS} = \\frac1m \\sum_i |x_i - y|
              - \\frac1{m^2} \\sum_{i=1}^{m} (2i - m - 1)\\, x_{(i)},

    so a row costs O(m log m) (the sort) rather than O(m²). Members are shifted by y first,
    which the score does not change, to keep the sums small. A single member gives |x − y|,
    the absolute error.

    References
    ----------
    .. [1] Gneiting & Raftery 2007, §4.2 (their sign reversed), doi:10.1198/016214506000001437
       [V].
    .. [2] Hersbach 2000, doi:10.1175/1520-0434(2000)015<0559:DOTCRP>2.0.CO;2 [V].

    Examples
    --------
    >>> crps_ensemble([0.5, 2.0, np.nan], [[0.0, 1.0], [2.5, np.nan], [1.0, 2.0]]).tolist()
    [0.25, 0.5, nan]
    """
    y = _floats(observed)
    x = _floats(members)
    if y.ndim != 1 or x.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(
            f"observed has shape {y.shape} and members {x.shape}: expected (n,) and (n, m)"
        )
    deviation = np.where(np.isfinite(x), x, np.nan) - np.where(np.isfinite(y), y, np.nan)[:, None]
    deviation = np.sort(deviation, axis=1)  # NaN sorts last, so ranks 1 … m are the members
    present = ~np.isnan(deviation)
    count = present.sum(axis=1)
    rank = np.arange(1, deviation.shape[1] + 1)
    weight = np.where(present, 2 * rank - count[:, None] - 1, 0)
    value = np.where(present, deviation, 0.0)
    size = np.maximum(count, 1).astype(np.float64)
    error = np.abs(value).sum(axis=1) / size
    spread = (weight * value).sum(axis=1) / size**2
    crps = np.maximum(error - spread, 0.0)  # clears a rounding residue below 0
    return np.where(count > 0, crps, np.nan)


def pinball_loss(
    observed: npt.ArrayLike, quantiles: npt.ArrayLike, levels: npt.ArrayLike
) -> FloatArray:
    """Mean quantile (pinball) loss of each row over the forecast quantile levels.

    Parameters
    ----------
    observed : array_like of float, shape (n,)
        The observed value of each row [unit of the value, e.g. mg/L]; NaN when not observed.
    quantiles : array_like of float, shape (n, k)
        The forecast quantile of each row at each level [same unit]; a NaN quantile is left out
        of its row's mean.
    levels : array_like of float, shape (k,)
        The quantile levels τ, each strictly between 0 and 1 [-].

    Returns
    -------
    ndarray of float, shape (n,)
        Mean loss of each row [same unit], ≥ 0; NaN where the observation is missing or the row
        has no quantile.

    Raises
    ------
    ValueError
        When the shapes do not fit (the message names them), or a level is not in (0, 1).

    Notes
    -----
    For the quantile q at level τ and the observation y, the loss is the check function [1]_

    .. math:: \\rho_\\tau(y - q) = \\max\\bigl(\\tau (y - q), (\\tau - 1)(y - q)\\bigr),

    a proper score for the τ-quantile [2]_; at τ = ½ it is half the absolute error. Twice the
    integral of ρτ over τ ∈ (0, 1) along a forecast's quantile function is its CRPS, so with
    many evenly spread levels 2 × ``pinball_loss`` approaches :func:`crps_ensemble`.

    References
    ----------
    .. [1] Koenker & Bassett 1978, doi:10.2307/1913643 [V].
    .. [2] Gneiting & Raftery 2007, quantile forecasts, doi:10.1198/016214506000001437 [V].

    Examples
    --------
    >>> pinball_loss([1.0, 3.0], [[0.0, 2.0], [1.0, 2.0]], [0.1, 0.9]).round(6).tolist()
    [0.1, 0.55]
    """
    y = _floats(observed)
    q = _floats(quantiles)
    tau = _floats(levels)
    if y.ndim != 1 or q.ndim != 2 or tau.ndim != 1 or q.shape != (y.shape[0], tau.shape[0]):
        raise ValueError(
            f"observed has shape {y.shape}, quantiles {q.shape} and levels {tau.shape}: "
            "expected (n,), (n, k) and (k,)"
        )
    if not np.all((tau > 0.0) & (tau < 1.0)):
        raise ValueError(f"quantile levels must lie strictly between 0 and 1, got {tau.tolist()}")
    residual = np.where(np.isfinite(y), y, np.nan)[:, None] - np.where(np.isfinite(q), q, np.nan)
    loss = np.maximum(tau * residual, (tau - 1.0) * residual)
    return _row_mean(loss)


def interval_coverage(observed: npt.ArrayLike, lower: npt.ArrayLike, upper: npt.ArrayLike) -> float:
    """Share of rows whose observation lies in its forecast interval, bounds included.

    Parameters
    ----------
    observed : array_like of float, shape (n,)
        The observed value of each row [unit of the value, e.g. mg/L]; NaN when not observed.
    lower, upper : array_like of float, shape (n,)
        The bounds of each row's forecast interval [same unit], e.g. its 5 % and 95 % quantiles;
        −inf or +inf makes a one-sided interval.

    Returns
    -------
    float
        Covered rows / counted rows [-]; rows with a non-finite observation or a NaN bound are
        not counted; NaN when no row is. A crossed interval (lower > upper) covers nothing.

    Raises
    ------
    ValueError
        When the three are not 1-D of one length; the message names the shapes.

    Notes
    -----
    A central (1 − α) interval from well-calibrated quantiles covers about 1 − α of the
    observations; coverage says nothing of sharpness, which :func:`pinball_loss` rewards [1]_.

    References
    ----------
    .. [1] Gneiting & Raftery 2007, interval forecasts, doi:10.1198/016214506000001437 [V].

    Examples
    --------
    >>> interval_coverage([1.0, 2.0, 3.0, np.nan], [0, 2.5, 3, 0], [2, 3, 4, 1])
    0.6666666666666666
    """
    covered, counted = _covered(observed, lower, upper)
    return _share(covered, counted)


# --- probabilities -------------------------------------------------------------------------------


def brier_score(probability: npt.ArrayLike, outcome: npt.ArrayLike) -> float:
    """Brier score: mean squared difference between forecast probability and outcome.

    Parameters
    ----------
    probability : array_like of float, shape (n,)
        Forecast probability of the event in each row [-], in [0, 1]; NaN when not forecast.
    outcome : array_like of bool or float, shape (n,)
        Whether the event happened: 1/True or 0/False; NaN (or NA) when unknown.

    Returns
    -------
    float
        Mean of (p − o)² over the rows where both are known [-], in [0, 1], 0 for a perfect
        forecast; NaN when there is no such row.

    Raises
    ------
    ValueError
        When the shapes differ or are not 1-D (the message names them), a probability lies
        outside [0, 1], or an outcome is not 0 or 1.

    Notes
    -----
    BS = (1/N) Σ (pᵢ − oᵢ)² [1]_ [2]_; against a reference forecast (climatology, persistence)
    use :func:`brier_skill`.

    References
    ----------
    .. [1] Brier 1950, doi:10.1175/1520-0493(1950)078<0001:VOFEIT>2.0.CO;2 [V].
    .. [2] WMO/WWRP JWGFVR, Forecast verification: issues, methods and FAQ, "Methods for
       probabilistic forecasts" [V].

    Examples
    --------
    >>> round(brier_score([0.2, 0.8, 0.5], [0, 1, np.nan]), 6)
    0.04
    """
    p, o, known = _probabilities(probability, outcome)
    squared = np.where(known, (p - o) ** 2, 0.0)
    count = int(known.sum())
    return float(squared.sum() / count) if count else float("nan")


def brier_skill(score: float, reference: float) -> float:
    """Brier skill score of a forecast against a reference forecast.

    Parameters
    ----------
    score : float
        Brier score of the forecast [-] (:func:`brier_score`).
    reference : float
        Brier score of the reference forecast on the same rows [-], e.g. climatology.

    Returns
    -------
    float
        1 − score / reference [-]: 1 for a perfect forecast, 0 for no better than the reference,
        negative for worse; NaN when ``reference`` is 0 or NaN (or ``score`` is NaN).

    Notes
    -----
    BSS = 1 − BS / BS_ref [1]_.

    References
    ----------
    .. [1] WMO/WWRP JWGFVR, Forecast verification: issues, methods and FAQ, "Brier skill
       score" [V].

    Examples
    --------
    >>> round(brier_skill(0.04, 0.25), 6)
    0.84
    >>> brier_skill(0.04, 0.0)
    nan
    """
    if reference == 0.0 or not np.isfinite(reference) or np.isnan(score):
        return float("nan")
    return float(1.0 - score / reference)


def brier_skill_interval(
    probability: npt.ArrayLike,
    reference: npt.ArrayLike,
    outcome: npt.ArrayLike,
    blocks: npt.ArrayLike,
    *,
    level: float = 0.9,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """Interval of the Brier skill score by resampling blocks of rows (a block bootstrap).

    Parameters
    ----------
    probability, reference : array_like of float, shape (n,)
        Probabilities of the forecast and of the reference forecast [-], in [0, 1]; NaN when
        not forecast.
    outcome : array_like of bool or float, shape (n,)
        Whether the event happened (1/0; NaN when unknown).
    blocks : array_like of int, shape (n,)
        Block of each row, e.g. the week of the forecast's origin. Rows of one block are
        resampled together, so the interval keeps the serial dependence of the errors (a
        24-hour forecast issued every 4 hours shares most of its error with its neighbours).
    level : float, default 0.9
        Confidence level of the interval [-], in (0, 1).
    resamples : int, default 2000
        Bootstrap resamples.
    seed : int, default 0
        Seed of the resampling: the same inputs give the same interval.

    Returns
    -------
    (low, high) : tuple of float
        Percentile interval of 1 − ΣSE / ΣSE_ref over resampled blocks [-]; (NaN, NaN) with
        fewer than 2 blocks holding rows where all three are known, or when the reference
        score is 0 in the data.

    Raises
    ------
    ValueError
        As :func:`brier_score`, and for a ``level`` outside (0, 1).

    Notes
    -----
    The rows where both forecasts and the outcome are known are summed per block; the blocks
    are drawn with replacement, the forecast's and the reference's sums together ([6]_; Efron &
    Tibshirani 1993 ch. 13 for the percentile interval); a resample whose reference never
    erred has no skill and is left out. A year of one station's forecasts
    is short: intervals of ±0.1 in skill are usual, so a skill within them of 0 is no evidence
    either way.

    Examples
    --------
    >>> p = np.tile([0.9, 0.1, 0.2, 0.8], 10)
    >>> o = np.tile([1, 0, 0, 1], 10)
    >>> low, high = brier_skill_interval(p, np.full(40, 0.5), o, np.repeat(np.arange(10), 4))
    >>> round(low, 3), round(high, 3)
    (0.9, 0.9)
    """
    p, o, known = _probabilities(probability, outcome)
    r, _, known_reference = _probabilities(reference, outcome)
    block = _blocks(blocks, p.shape)
    rows = known & known_reference
    low, high = _block_ratio_interval(
        (p - o) ** 2, (r - o) ** 2, rows, block, level=level, resamples=resamples, seed=seed
    )
    return 1.0 - high, 1.0 - low


def coverage_interval(
    observed: npt.ArrayLike,
    lower: npt.ArrayLike,
    upper: npt.ArrayLike,
    blocks: npt.ArrayLike,
    *,
    level: float = 0.9,
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """Interval of :func:`interval_coverage` by resampling blocks of rows (a block bootstrap).

    Parameters
    ----------
    observed, lower, upper : array_like of float, shape (n,)
        As :func:`interval_coverage`.
    blocks : array_like of int, shape (n,)
        Block of each row, e.g. the week of the forecast's origin (rows resampled together).
    level, resamples, seed
        As :func:`brier_skill_interval`.

    Returns
    -------
    (low, high) : tuple of float
        Percentile interval of the covered share [-]; (NaN, NaN) with fewer than 2 blocks
        holding counted rows.

    Notes
    -----
    An interval's coverage measured on a year of one series is itself uncertain: neighbouring
    forecasts miss together, so a measured 78 % may be a true 80 % [6]_.

    Examples
    --------
    >>> covered = np.tile([1.0, 1.0, 1.0, 3.0], 10)  # 3 of 4 inside [0, 2] in every block
    >>> coverage_interval(covered, np.zeros(40), np.full(40, 2.0), np.repeat(np.arange(10), 4))
    (0.75, 0.75)
    """
    covered, counted = _covered(observed, lower, upper)
    share = covered.astype(np.float64)
    return _block_ratio_interval(
        share, np.ones_like(share), counted, _blocks(blocks, share.shape), level=level,
        resamples=resamples, seed=seed,
    )  # fmt: skip


def _covered(
    observed: npt.ArrayLike, lower: npt.ArrayLike, upper: npt.ArrayLike
) -> tuple[BoolArray, BoolArray]:
    """Which rows' observations lie in their interval (bounds included), and which count (a
    finite observation and two bounds that are not NaN)."""
    y, low, high = _same_rows(observed=observed, lower=lower, upper=upper)
    counted = np.isfinite(y) & ~np.isnan(low) & ~np.isnan(high)
    return (low <= y) & (y <= high), counted


def _blocks(blocks: npt.ArrayLike, shape: tuple[int, ...]) -> FloatArray:
    (block,) = _same_rows(blocks=blocks)
    if block.shape != shape:
        raise ValueError(f"blocks has shape {block.shape}, the rows {shape}")
    return block


def _block_ratio_interval(
    numerator: FloatArray,
    denominator: FloatArray,
    rows: BoolArray,
    block: FloatArray,
    *,
    level: float,
    resamples: int,
    seed: int,
) -> tuple[float, float]:
    """Percentile interval of Σ numerator / Σ denominator over resampled blocks of ``rows``.

    Blocks are drawn with replacement, each block's sums together; a resample whose
    denominator sums to 0 has no ratio and is left out. (NaN, NaN) with fewer than 2 blocks
    or a denominator summing to 0.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    rows = rows & ~np.isnan(block)
    labels, index = np.unique(block[rows], return_inverse=True)
    if labels.size < 2:
        return float("nan"), float("nan")
    top = np.bincount(index, weights=numerator[rows], minlength=labels.size)
    bottom = np.bincount(index, weights=denominator[rows], minlength=labels.size)
    if bottom.sum() == 0.0:
        return float("nan"), float("nan")
    draws = np.random.default_rng(seed).integers(0, labels.size, size=(resamples, labels.size))
    totals = bottom[draws].sum(axis=1)
    defined = totals > 0.0
    ratios = top[draws].sum(axis=1)[defined] / totals[defined]
    tail = 50.0 * (1.0 - level)
    low, high = np.percentile(ratios, [tail, 100.0 - tail])
    return float(low), float(high)


def reliability(
    probability: npt.ArrayLike, outcome: npt.ArrayLike, *, bins: int = 10
) -> pd.DataFrame:
    """Reliability table: mean forecast probability against observed frequency per bin.

    Parameters
    ----------
    probability : array_like of float, shape (n,)
        Forecast probability of the event in each row [-], in [0, 1]; NaN when not forecast.
    outcome : array_like of bool or float, shape (n,)
        Whether the event happened: 1/True or 0/False; NaN (or NA) when unknown.
    bins : int, default 10
        Number of equal-width probability bins on [0, 1].

    Returns
    -------
    DataFrame
        One row per bin, in order, empty bins kept, with columns ``bin_low``, ``bin_high``
        (the bin edges [-]), ``mean_probability`` and ``observed_frequency`` (the mean forecast
        probability and the share of events over the rows in the bin [-], NaN for an empty bin)
        and ``count`` (rows in the bin, int). Rows where either input is unknown are left out.

    Raises
    ------
    ValueError
        As :func:`brier_score`, and when ``bins`` is not a positive integer.

    Notes
    -----
    Bin j holds bin_low ≤ p < bin_high, with the edges j / bins rounded to the nearest float
    (so p = 0.3 is in [0.3, 0.4) of ten bins); p = 1 falls in the last bin. For a reliable forecast
    the points (mean_probability, observed_frequency) lie on the diagonal of the reliability
    diagram [1]_; ``count`` is its sharpness histogram.

    References
    ----------
    .. [1] WMO/WWRP JWGFVR, Forecast verification: issues, methods and FAQ, "Reliability
       diagram" [V].

    Examples
    --------
    >>> reliability([0.1, 0.15, 0.9, 1.0], [0, 1, 1, 1], bins=2)
       bin_low  bin_high  mean_probability  observed_frequency  count
    0      0.0       0.5             0.125                 0.5      2
    1      0.5       1.0             0.950                 1.0      2
    """
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    p, o, known = _probabilities(probability, outcome)
    edges = np.arange(bins + 1) / bins  # k / bins: the double nearest each edge, 3/10 == 0.3
    index = np.clip(np.searchsorted(edges, p[known], side="right") - 1, 0, bins - 1)
    count = np.bincount(index, minlength=bins)
    probability_sum = np.bincount(index, weights=p[known], minlength=bins).astype(np.float64)
    event_sum = np.bincount(index, weights=o[known], minlength=bins).astype(np.float64)
    return pd.DataFrame(
        {
            "bin_low": edges[:-1],
            "bin_high": edges[1:],
            "mean_probability": _ratio(probability_sum, count),
            "observed_frequency": _ratio(event_sum, count),
            "count": count.astype(np.int64),
        },
        columns=list(RELIABILITY_COLUMNS),
    )


# --- warnings ------------------------------------------------------------------------------------


def warning_scores(
    probability: npt.ArrayLike, outcome: npt.ArrayLike, *, threshold: float
) -> tuple[float, float]:
    """Hit rate and false alarm ratio of the warnings a probability threshold would issue.

    Parameters
    ----------
    probability : array_like of float, shape (n,)
        Forecast probability of the event in each row [-], in [0, 1]; NaN when not forecast.
    outcome : array_like of bool or float, shape (n,)
        Whether the event happened: 1/True or 0/False; NaN (or NA) when unknown.
    threshold : float
        A warning is issued when p ≥ ``threshold`` [-], in [0, 1] [A, domain.md §7].

    Returns
    -------
    (float, float)
        ``(hit_rate, false_alarm_ratio)`` [-] over the rows where both inputs are known; each
        NaN when its denominator is 0 (no event, or no warning).

    Raises
    ------
    ValueError
        As :func:`brier_score`, and when ``threshold`` is not in [0, 1].

    Notes
    -----
    With the 2 × 2 contingency table of warnings against events (hits, misses, false alarms,
    correct negatives) [1]_:

    - hit rate (probability of detection, POD) = hits / (hits + misses), the share of events
      that were warned of;
    - false alarm ratio (FAR) = false alarms / (hits + false alarms), the share of warnings
      that were false. It is not the false alarm *rate* (probability of false detection),
      false alarms / (correct negatives + false alarms).

    References
    ----------
    .. [1] WMO/WWRP JWGFVR, Forecast verification: issues, methods and FAQ, "Methods for
       dichotomous (yes/no) forecasts" [V].

    Examples
    --------
    >>> warning_scores([0.9, 0.7, 0.2, 0.6, 0.1], [1, 1, 1, 0, 0], threshold=0.5)
    (0.6666666666666666, 0.3333333333333333)
    """
    _check_threshold(threshold)
    p, o, known = _probabilities(probability, outcome)
    warned = known & (p >= threshold)
    event = known & (o == 1.0)
    hits = int((warned & event).sum())
    misses = int((~warned & event).sum())
    false_alarms = int((warned & ~event).sum())
    return _fraction(hits, hits + misses), _fraction(false_alarms, hits + false_alarms)


def exceedance_onsets(exceeds: pd.Series) -> pd.DatetimeIndex:
    """Times at which an exceedance starts on a regular series.

    Parameters
    ----------
    exceeds : Series of bool or float
        Whether the value exceeds (True/1) or not (False/0) at each time, NaN (or NA) when
        unknown; on a strictly increasing DatetimeIndex with one step (naive or zone-aware).
        Reindex a series with gaps onto its grid first (``exceeds.asfreq("4h")``), so that a
        missing time is NaN.

    Returns
    -------
    DatetimeIndex
        The times where ``exceeds`` is True and the previous grid value is False, in order, in
        the zone of the input.

    Raises
    ------
    ValueError
        When the index is not a strictly increasing, evenly spaced DatetimeIndex, or a value is
        neither True, False nor missing.

    Notes
    -----
    An exceedance after an unknown value has no known start, so it is not an onset; nor is the
    first value of the series.

    Examples
    --------
    >>> times = pd.date_range("2024-06-01", periods=8, freq="4h", tz="Asia/Shanghai")
    >>> flags = pd.Series([0, 1, 1, 0, np.nan, 1, 0, 1], index=times)
    >>> [t.strftime("%d %H:%M") for t in exceedance_onsets(flags)]
    ['01 04:00', '02 04:00']
    """
    index = exceeds.index
    if not isinstance(index, pd.DatetimeIndex):
        raise ValueError(f"exceeds needs a DatetimeIndex, got {type(index).__name__}")
    steps = np.diff(index.asi8)
    if steps.size and (steps.min() <= 0 or steps.min() != steps.max()):
        raise ValueError(
            "exceeds needs a strictly increasing, evenly spaced DatetimeIndex; "
            "reindex it onto its grid (Series.asfreq) so that missing times are NaN"
        )
    flags = _floats(exceeds)
    known = ~np.isnan(flags)
    if not np.all((flags[known] == 0.0) | (flags[known] == 1.0)):
        raise ValueError("exceeds must hold True/1, False/0 or a missing value")
    onset = np.zeros(flags.shape, dtype=np.bool_)
    onset[1:] = (flags[1:] == 1.0) & (flags[:-1] == 0.0)
    return pd.DatetimeIndex(index[onset])


def lead_times(forecasts: pd.DataFrame, onsets: pd.DatetimeIndex, *, threshold: float) -> pd.Series:
    """Warning lead time of each exceedance onset: how long before it the first warning came.

    Parameters
    ----------
    forecasts : DataFrame
        One row per forecast of the event, with columns ``origin`` (when it was issued),
        ``target`` (the time it is for), both zone-aware timestamps, and ``probability`` (of the
        event at ``target`` [-], NaN when not forecast). Other columns are ignored.
    onsets : DatetimeIndex
        Zone-aware times at which an exceedance started (:func:`exceedance_onsets`).
    threshold : float
        A forecast warns when its probability ≥ ``threshold`` [-], in [0, 1] [A, domain.md §7].

    Returns
    -------
    Series of float
        Indexed by ``onsets``, named ``lead_hours``: for each onset, target − origin [h] of its
        earliest warning, i.e. the largest over forecasts with target = onset, origin < onset and
        probability ≥ threshold; NaN for an onset no forecast warned of (a miss).

    Raises
    ------
    ValueError
        When a column is missing (the message names them), a time is naive, or ``threshold``
        is not in [0, 1].

    Notes
    -----
    The earliest warning counts even if later forecasts for the same time fall below the
    threshold. Times are matched as instants, whatever their zones. Summarise with
    :func:`mean_lead_time`; the share of onsets caught is the event hit rate.

    Examples
    --------
    >>> onset = pd.Timestamp("2024-06-02 08:00", tz="Asia/Shanghai")
    >>> forecasts = pd.DataFrame({
    ...     "origin": onset - pd.to_timedelta([48, 24, 4], unit="h"),
    ...     "target": [onset] * 3,
    ...     "probability": [0.3, 0.7, 0.9],
    ... })
    >>> lead_times(forecasts, pd.DatetimeIndex([onset]), threshold=0.5).tolist()
    [24.0]
    """
    _check_threshold(threshold)
    missing = [name for name in FORECAST_COLUMNS if name not in forecasts.columns]
    if missing:
        raise ValueError(
            f"forecasts lack the columns {missing}; needed: {list(FORECAST_COLUMNS)}, "
            f"got: {[str(name) for name in forecasts.columns]}"
        )
    origin = _utc_times(forecasts["origin"], "forecasts.origin")
    target = _utc_times(forecasts["target"], "forecasts.target")
    when = _utc_times(pd.Series(onsets), "onsets")
    probability = _floats(forecasts["probability"])
    warns = (probability >= threshold) & (origin < target).to_numpy(dtype=np.bool_)
    elapsed = (target - origin).to_numpy(dtype="timedelta64[ns]")[warns]
    lead = elapsed / np.timedelta64(1, "h")
    by_target = pd.Series(lead, index=pd.DatetimeIndex(target[warns]), dtype=np.float64)
    earliest = by_target.groupby(level=0).max()
    hours = earliest.reindex(pd.DatetimeIndex(when)).to_numpy(dtype=np.float64)
    return pd.Series(hours, index=onsets, name="lead_hours", dtype=np.float64)


def mean_lead_time(leads: pd.Series) -> float:
    """Mean warning lead time over the onsets that were caught.

    Parameters
    ----------
    leads : Series of float
        Lead times [h] as from :func:`lead_times`, NaN for a missed onset.

    Returns
    -------
    float
        Mean of the non-missing lead times [h]; NaN when no onset was caught.

    Examples
    --------
    >>> mean_lead_time(pd.Series([24.0, np.nan, 12.0]))
    18.0
    >>> mean_lead_time(pd.Series([np.nan]))
    nan
    """
    hours = _floats(leads)
    caught = ~np.isnan(hours)
    return float(hours[caught].mean()) if caught.any() else float("nan")


# --- helpers -------------------------------------------------------------------------------------


def _floats(values: object) -> FloatArray:
    """Values as a float array, missing (None, NaN, NA) as NaN."""
    if isinstance(values, pd.Series | pd.Index | pd.DataFrame):
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.asarray(values, dtype=np.float64)


def _same_rows(**named: npt.ArrayLike) -> list[FloatArray]:
    """The named inputs as 1-D float arrays of one length; ValueError naming the shapes."""
    arrays = {name: _floats(values) for name, values in named.items()}
    shapes = {array.shape for array in arrays.values()}
    if len(shapes) != 1 or len(next(iter(shapes))) != 1:
        described = ", ".join(f"{name} {array.shape}" for name, array in arrays.items())
        raise ValueError(f"expected 1-D inputs of one length (n,), got shapes: {described}")
    return list(arrays.values())


def _probabilities(
    probability: npt.ArrayLike, outcome: npt.ArrayLike
) -> tuple[FloatArray, FloatArray, BoolArray]:
    """Checked probabilities and 0/1 outcomes, and which rows have both."""
    p, o = _same_rows(probability=probability, outcome=outcome)
    known = ~np.isnan(p) & ~np.isnan(o)
    if not np.all((p[known] >= 0.0) & (p[known] <= 1.0)):
        raise ValueError("probabilities must lie in [0, 1]")
    if not np.all((o[known] == 0.0) | (o[known] == 1.0)):
        raise ValueError("outcomes must be 0/False, 1/True or missing")
    return p, o, known


def _check_threshold(threshold: float) -> None:
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must lie in [0, 1], got {threshold!r}")


def _row_mean(values: FloatArray) -> FloatArray:
    """Mean of each row over its non-NaN values; NaN for a row without any."""
    present = ~np.isnan(values)
    count = present.sum(axis=1)
    total = np.where(present, values, 0.0).sum(axis=1)
    return _ratio(total, count)


def _ratio(numerator: FloatArray, count: npt.NDArray[np.intp]) -> FloatArray:
    """numerator / count, NaN where the count is 0, without a warning."""
    out = np.full(numerator.shape, np.nan)
    np.divide(numerator, count, out=out, where=count > 0)
    return out


def _share(selected: BoolArray, counted: BoolArray) -> float:
    """Share of the counted rows that are selected; NaN when none is counted."""
    return _fraction(int((selected & counted).sum()), int(counted.sum()))


def _fraction(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else float("nan")


def _utc_times(values: pd.Series, name: str) -> pd.Series:
    """Zone-aware times as UTC; ValueError when naive or not times."""
    if not isinstance(values.dtype, pd.DatetimeTZDtype):
        raise ValueError(f"{name} must hold zone-aware timestamps, got dtype {values.dtype}")
    return pd.Series(pd.DatetimeIndex(values).tz_convert("UTC"))
