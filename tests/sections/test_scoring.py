"""Forecast verification: every score on hand-made cases computed by hand, the CRPS against its
defining integral, missing values left out (never 0), and shape errors that name the shapes."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from pandas.testing import assert_frame_equal, assert_index_equal, assert_series_equal

import sections.scoring as scoring
from sections.scoring import (
    brier_score,
    brier_skill,
    brier_skill_interval,
    coverage_interval,
    crps_ensemble,
    exceedance_onsets,
    interval_coverage,
    lead_times,
    mean_lead_time,
    pinball_loss,
    reliability,
    warning_scores,
)

NAN = math.nan
TZ = "Asia/Shanghai"


def crps_by_integral(observed: float, members: list[float], step: float = 1e-4) -> float:
    """Brute force: midpoint sum of (F(x) − 1{x ≥ y})² on a fine grid, F the empirical CDF."""
    x_all = np.array([*members, observed])
    grid = np.arange(x_all.min() - 1.0 + step / 2, x_all.max() + 1.0, step)
    cdf = (np.array(members)[None, :] <= grid[:, None]).mean(axis=1)
    step_function = (grid >= observed).astype(float)
    return float(((cdf - step_function) ** 2).sum() * step)


def crps_piecewise(observed: float, members: list[float]) -> float:
    """Exact integral: F and the step are constant between consecutive breakpoints."""
    points = np.unique(np.array([*members, observed]))
    left, width = points[:-1], np.diff(points)
    cdf = (np.array(members)[None, :] <= left[:, None]).mean(axis=1)
    return float((((cdf - (left >= observed)) ** 2) * width).sum())


# --- module --------------------------------------------------------------------------------------


def test_all_is_sorted_and_public() -> None:
    assert scoring.__all__ == sorted(scoring.__all__)
    functions = {
        name
        for name, value in vars(scoring).items()
        if callable(value) and not name.startswith("_") and value.__module__ == scoring.__name__
    }
    assert functions | {"FORECAST_COLUMNS", "RELIABILITY_COLUMNS"} == set(scoring.__all__)


# --- CRPS ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("observed", "members", "expected"),
    [
        pytest.param(0.5, [0.0, 1.0], 0.25, id="two-members-between: 1/2 - 1/4"),
        pytest.param(0.0, [1.0, 2.0, 3.0], 14 / 9, id="below-all: 2 - 4/9"),
        pytest.param(2.0, [1.0, 2.0, 3.0], 2 / 9, id="at-median: 2/3 - 4/9"),
        pytest.param(1.0, [1.0, 1.0, 1.0], 0.0, id="all-equal-observation"),
        pytest.param(3.0, [1.0, 1.0], 2.0, id="degenerate-ensemble: absolute error"),
        pytest.param(0.0, [1.0, NAN, 2.0, 3.0], 14 / 9, id="nan-member-ignored"),
        pytest.param(0.0, [1.0, np.inf, 2.0, -np.inf, 3.0], 14 / 9, id="inf-member-ignored"),
    ],
)
def test_crps_hand_cases(observed: float, members: list[float], expected: float) -> None:
    assert_allclose(crps_ensemble([observed], [members]), [expected], rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("observed", "members"),
    [
        pytest.param(0.5, [0.0, 1.0], id="two"),
        pytest.param(0.0, [1.0, 2.0, 3.0], id="below"),
        pytest.param(2.2, [0.3, 1.1, 2.0, 2.5, 4.7], id="five-unsorted-inside"),
        pytest.param(9.0, [3.0, 1.0, 2.0], id="above"),
        pytest.param(1.5, [1.0, 2.0, 2.0, 2.0], id="tied-members"),
    ],
)
def test_crps_equals_the_numerical_integral(observed: float, members: list[float]) -> None:
    expected = crps_by_integral(observed, members)
    assert_allclose(crps_ensemble([observed], [members]), [expected], atol=2e-3)
    assert_allclose(crps_piecewise(observed, members), expected, atol=2e-3)


@pytest.mark.parametrize(
    ("observed", "member"), [(0.0, 0.0), (1.0, 3.5), (3.5, 1.0), (-2.0, 5.0), (1e6, 1e6 + 0.25)]
)
def test_crps_of_a_single_member_is_the_absolute_error(observed: float, member: float) -> None:
    assert_allclose(crps_ensemble([observed], [[member]]), [abs(member - observed)])


@settings(max_examples=150)
@given(
    observed=st.floats(-100, 100),
    members=st.lists(st.floats(-100, 100), min_size=1, max_size=8),
)
def test_crps_is_the_integral_of_the_squared_cdf_difference(
    observed: float, members: list[float]
) -> None:
    crps = crps_ensemble([observed], [members])[0]
    assert crps >= 0.0
    assert_allclose(crps, crps_piecewise(observed, members), rtol=1e-9, atol=1e-9)


def test_crps_rows_of_different_ensemble_sizes() -> None:
    members = np.array([[0.0, 1.0, NAN], [1.0, 2.0, 3.0], [NAN, NAN, NAN], [4.0, 4.0, 4.0]])
    observed = np.array([0.5, 0.0, 1.0, NAN])
    assert_allclose(crps_ensemble(observed, members), [0.25, 14 / 9, NAN, NAN], atol=1e-12)


def test_crps_takes_pandas_and_shifts_with_the_data() -> None:
    observed = pd.Series([0.5, 0.0], index=["a", "b"])
    members = pd.DataFrame([[0.0, 1.0, 1.0], [1.0, 2.0, 3.0]])
    crps = crps_ensemble(observed, members)
    assert isinstance(crps, np.ndarray)
    assert crps.dtype == np.float64
    assert_allclose(crps_ensemble(observed + 100.0, members + 100.0), crps, atol=1e-12)


def test_crps_of_no_rows_is_empty() -> None:
    assert crps_ensemble(np.empty(0), np.empty((0, 5))).shape == (0,)


def test_crps_of_rows_without_members_is_nan() -> None:
    assert np.isnan(crps_ensemble([1.0, 2.0], np.empty((2, 0)))).all()


@pytest.mark.parametrize(
    ("observed_shape", "members_shape"),
    [((3,), (2, 3)), ((3, 1), (3, 2)), ((3,), (3,)), ((3,), (3, 2, 1))],
)
def test_crps_shape_errors_name_the_shapes(
    observed_shape: tuple[int, ...], members_shape: tuple[int, ...]
) -> None:
    message = f"observed has shape {observed_shape} and members {members_shape}"
    with pytest.raises(ValueError, match=re.escape(message)):
        crps_ensemble(np.zeros(observed_shape), np.zeros(members_shape))


# --- pinball loss --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("observed", "quantiles", "levels", "expected"),
    [
        pytest.param(1.0, [0.0, 2.0], [0.1, 0.9], 0.1, id="symmetric: (0.1 + 0.1)/2"),
        pytest.param(3.0, [1.0, 2.0], [0.25, 0.75], 0.625, id="above-both: (0.5 + 0.75)/2"),
        pytest.param(0.0, [1.0, 2.0], [0.25, 0.75], 0.625, id="below-both: (0.75 + 0.5)/2"),
        pytest.param(2.0, [2.0], [0.3], 0.0, id="exact"),
        pytest.param(4.0, [1.0], [0.5], 1.5, id="median: half the absolute error"),
        pytest.param(1.0, [0.0, NAN], [0.1, 0.9], 0.1, id="nan-quantile-left-out"),
    ],
)
def test_pinball_hand_cases(
    observed: float, quantiles: list[float], levels: list[float], expected: float
) -> None:
    assert_allclose(pinball_loss([observed], [quantiles], levels), [expected], atol=1e-12)


def test_pinball_missing_rows_are_nan() -> None:
    loss = pinball_loss([NAN, 1.0, 1.0], [[0.0, 1.0], [NAN, NAN], [1.0, 1.0]], [0.2, 0.8])
    assert_allclose(loss, [NAN, NAN, 0.0])


@pytest.mark.parametrize("repeat", [1, 3, 10])
def test_twice_the_pinball_loss_along_the_ensemble_quantile_function_is_the_crps(
    repeat: int,
) -> None:
    # ρτ is linear in τ on each step of the empirical quantile function, so the midpoint rule
    # on a grid that refines the steps integrates it exactly: 2 ∫ ρτ dτ = CRPS.
    members = np.array([[0.3, 1.1, 2.0, 2.5, 4.7], [5.0, 1.0, 3.0, 2.0, 4.0]])
    observed = np.array([2.2, 0.0])
    m = members.shape[1]
    count = m * repeat
    levels = (np.arange(count) + 0.5) / count
    step = np.ceil(levels * m).astype(int) - 1
    quantiles = np.sort(members, axis=1)[:, step]
    assert_allclose(
        2 * pinball_loss(observed, quantiles, levels),
        crps_ensemble(observed, members),
        rtol=1e-12,
    )


@pytest.mark.parametrize("level", [0.0, 1.0, -0.1, 1.5, NAN])
def test_pinball_levels_must_be_inside_the_unit_interval(level: float) -> None:
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        pinball_loss([1.0], [[1.0, 1.0]], [0.5, level])


@pytest.mark.parametrize(
    ("observed_shape", "quantiles_shape", "levels_shape"),
    [((2,), (2, 3), (2,)), ((2,), (3, 2), (2,)), ((2,), (2,), (2,)), ((2,), (2, 2), (2, 1))],
)
def test_pinball_shape_errors_name_the_shapes(
    observed_shape: tuple[int, ...],
    quantiles_shape: tuple[int, ...],
    levels_shape: tuple[int, ...],
) -> None:
    message = (
        f"observed has shape {observed_shape}, quantiles {quantiles_shape} "
        f"and levels {levels_shape}"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        pinball_loss(
            np.zeros(observed_shape), np.zeros(quantiles_shape), np.full(levels_shape, 0.5)
        )


# --- interval coverage ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("observed", "lower", "upper", "expected"),
    [
        pytest.param([1, 2, 3], [0, 2.5, 3], [2, 3, 4], 2 / 3, id="bounds-included"),
        pytest.param([1, 2, 3, NAN], [0, 2.5, 3, 0], [2, 3, 4, 1], 2 / 3, id="nan-obs-left-out"),
        pytest.param([1, 2], [0, NAN], [2, 3], 1.0, id="nan-bound-left-out"),
        pytest.param([1, 5], [-np.inf, -np.inf], [2, 3], 0.5, id="one-sided"),
        pytest.param([1, 1], [2, 0], [0, 2], 0.5, id="crossed-interval-covers-nothing"),
        pytest.param([NAN], [0], [1], NAN, id="no-row"),
        pytest.param([], [], [], NAN, id="empty"),
    ],
)
def test_interval_coverage(
    observed: list[float], lower: list[float], upper: list[float], expected: float
) -> None:
    assert_allclose(interval_coverage(observed, lower, upper), expected)


def test_interval_coverage_shape_error_names_the_shapes() -> None:
    with pytest.raises(ValueError, match=re.escape("observed (3,), lower (2,), upper (3,)")):
        interval_coverage([1, 2, 3], [0, 0], [4, 4, 4])


# --- Brier ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("probability", "outcome", "expected"),
    [
        pytest.param([0.2, 0.8], [0, 1], 0.04, id="(0.04 + 0.04)/2"),
        pytest.param([0.2, 0.8], [False, True], 0.04, id="bool-outcomes"),
        pytest.param([0.2, 0.8, 0.5], [0, 1, NAN], 0.04, id="unknown-outcome-left-out"),
        pytest.param([0.2, NAN, 0.8], [0, 1, 1], 0.04, id="no-forecast-left-out"),
        pytest.param([1.0, 0.0], [1, 0], 0.0, id="perfect"),
        pytest.param([1.0, 0.0], [0, 1], 1.0, id="worst"),
        pytest.param([0.5, 0.5, 0.5, 0.5], [0, 1, 1, 1], 0.25, id="always-half"),
        pytest.param([NAN], [1], NAN, id="no-row"),
        pytest.param([], [], NAN, id="empty"),
    ],
)
def test_brier_score(probability: list[float], outcome: list[float], expected: float) -> None:
    assert_allclose(brier_score(probability, outcome), expected)


def test_brier_score_reads_nullable_booleans() -> None:
    outcome = pd.Series([False, True, pd.NA], dtype="boolean")
    assert_allclose(brier_score(pd.Series([0.2, 0.8, 0.9]), outcome), 0.04)


@pytest.mark.parametrize(
    ("probability", "outcome", "message"),
    [
        ([0.2, 1.2], [0, 1], "probabilities must lie in"),
        ([-0.1, 0.5], [0, 1], "probabilities must lie in"),
        ([0.2, 0.5], [0, 2], "outcomes must be"),
        ([0.2, 0.5], [0, 0.5], "outcomes must be"),
        ([0.2, 0.5], [0, 1, 1], re.escape("probability (2,), outcome (3,)")),
    ],
)
def test_brier_score_rejects_bad_input(
    probability: list[float], outcome: list[float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        brier_score(probability, outcome)


@pytest.mark.parametrize(
    ("score", "reference", "expected"),
    [
        pytest.param(0.04, 0.25, 0.84, id="better"),
        pytest.param(0.25, 0.25, 0.0, id="as-reference"),
        pytest.param(0.5, 0.25, -1.0, id="worse"),
        pytest.param(0.0, 0.25, 1.0, id="perfect"),
        pytest.param(0.04, 0.0, NAN, id="reference-zero"),
        pytest.param(0.04, NAN, NAN, id="reference-nan"),
        pytest.param(NAN, 0.25, NAN, id="score-nan"),
    ],
)
def test_brier_skill(score: float, reference: float, expected: float) -> None:
    assert_allclose(brier_skill(score, reference), expected)


def test_brier_skill_interval_resamples_whole_blocks() -> None:
    # block 0: the forecast is perfect (skill 1); block 1: as bad as the reference (skill 0).
    # Resampling the two blocks gives 1, ½ or 0 with chances ¼, ½, ¼: the 90 % interval is
    # [0, 1]. Resampling the 200 rows one by one would give about 0.5 ± 0.07.
    outcome = np.tile([1.0, 0.0], 100)
    probability = np.concatenate([outcome[:100], 1.0 - outcome[100:]])
    reference = 1.0 - outcome
    blocks = np.repeat([0, 1], 100)
    assert brier_skill_interval(probability, reference, outcome, blocks) == (0.0, 1.0)


def test_brier_skill_interval_of_equal_blocks_is_their_skill() -> None:
    outcome = np.tile([1.0, 0.0, 0.0, 1.0], 10)
    probability = np.tile([0.9, 0.1, 0.2, 0.8], 10)
    low, high = brier_skill_interval(
        probability, np.full(40, 0.5), outcome, np.repeat(np.arange(10), 4)
    )
    # per block: Σ(p − o)² = 0.01 + 0.01 + 0.04 + 0.04 = 0.1 against 4 × 0.25 = 1
    assert_allclose([low, high], [0.9, 0.9])


def test_brier_skill_interval_contains_the_skill_and_is_reproducible() -> None:
    rng = np.random.default_rng(5)
    outcome = (rng.random(600) < 0.2).astype(float)
    probability = np.clip(0.5 * outcome + 0.4 * rng.random(600), 0.0, 1.0)
    reference = np.full(600, 0.2)
    blocks = np.arange(600) // 42
    low, high = brier_skill_interval(probability, reference, outcome, blocks)
    skill = brier_skill(brier_score(probability, outcome), brier_score(reference, outcome))
    assert low < skill < high
    assert (low, high) == brier_skill_interval(probability, reference, outcome, blocks)
    assert (low, high) != brier_skill_interval(probability, reference, outcome, blocks, seed=1)
    wider = brier_skill_interval(probability, reference, outcome, blocks, level=0.99)
    assert wider[0] < low and wider[1] > high


def test_brier_skill_interval_leaves_out_unknown_rows() -> None:
    outcome = np.array([1.0, 0.0, NAN, 1.0, 0.0, 1.0])
    probability = np.array([1.0, 0.0, 0.3, NAN, 0.0, 1.0])
    reference = np.full(6, 0.5)
    # rows 2 (no outcome) and 3 (no forecast) are left out: the others are perfect
    assert brier_skill_interval(probability, reference, outcome, [0, 0, 1, 1, 2, 2]) == (1.0, 1.0)


def test_brier_skill_interval_needs_two_blocks_and_a_level_in_0_1() -> None:
    nan_pair = brier_skill_interval([0.2, 0.8], [0.5, 0.5], [0, 1], [3, 3])
    assert all(math.isnan(x) for x in nan_pair)
    with pytest.raises(ValueError, match="level"):
        brier_skill_interval([0.2, 0.8], [0.5, 0.5], [0, 1], [0, 1], level=1.0)
    with pytest.raises(ValueError, match="shape"):
        brier_skill_interval([0.2, 0.8], [0.5, 0.5], [0, 1], [0, 1, 2])


def test_coverage_interval_resamples_whole_blocks() -> None:
    # block 0 covers every row, block 1 none: resampled, 1, ½ or 0 with chances ¼, ½, ¼
    observed = np.concatenate([np.full(100, 1.0), np.full(100, 5.0)])
    lower, upper = np.zeros(200), np.full(200, 2.0)
    blocks = np.repeat([0, 1], 100)
    assert coverage_interval(observed, lower, upper, blocks) == (0.0, 1.0)
    assert interval_coverage(observed, lower, upper) == 0.5


def test_coverage_interval_counts_the_rows_interval_coverage_counts() -> None:
    rng = np.random.default_rng(2)
    observed = rng.standard_normal(420)
    observed[::17] = NAN  # not observed: not counted
    lower, upper = np.full(420, -1.2816), np.full(420, 1.2816)  # the 80 % interval
    upper[5] = NAN  # no forecast: not counted
    low, high = coverage_interval(observed, lower, upper, np.arange(420) // 42)
    assert low < interval_coverage(observed, lower, upper) < high
    assert low > 0.7 and high < 0.9


# --- reliability ---------------------------------------------------------------------------------


def test_reliability_of_a_tiny_set() -> None:
    table = reliability([0.1, 0.15, 0.9, 1.0, NAN, 0.3], [0, 1, 1, 1, 1, NAN], bins=4)
    expected = pd.DataFrame(
        {
            "bin_low": [0.0, 0.25, 0.5, 0.75],
            "bin_high": [0.25, 0.5, 0.75, 1.0],
            "mean_probability": [0.125, NAN, NAN, 0.95],
            "observed_frequency": [0.5, NAN, NAN, 1.0],
            "count": np.array([2, 0, 0, 2], dtype=np.int64),
        }
    )
    assert_frame_equal(table, expected)


@pytest.mark.parametrize(
    ("probability", "bins", "expected_bin"),
    [
        pytest.param(0.0, 10, 0, id="zero-in-first"),
        pytest.param(1.0, 10, 9, id="one-in-last"),
        pytest.param(0.5, 2, 1, id="edge-opens-the-upper-bin"),
        pytest.param(0.3, 10, 3, id="0.3-in-[0.3,0.4)"),
        pytest.param(0.7, 10, 7, id="0.7-in-[0.7,0.8)"),
        pytest.param(0.29999, 10, 2, id="below-an-edge"),
        pytest.param(1.0, 1, 0, id="single-bin"),
    ],
)
def test_reliability_bin_of_a_probability(probability: float, bins: int, expected_bin: int) -> None:
    table = reliability([probability], [1], bins=bins)
    assert len(table) == bins
    assert table["count"].tolist() == [int(j == expected_bin) for j in range(bins)]
    assert (
        table["bin_low"].iloc[expected_bin] <= probability <= table["bin_high"].iloc[expected_bin]
    )


def test_reliability_default_has_ten_bins_and_the_columns() -> None:
    table = reliability([], [])
    assert list(table.columns) == list(scoring.RELIABILITY_COLUMNS)
    assert len(table) == 10
    assert table["count"].sum() == 0
    assert table[["mean_probability", "observed_frequency"]].isna().all().all()
    assert_allclose(table["bin_low"], np.arange(10) / 10)


@pytest.mark.parametrize("bins", [0, -1, 2.5, True])
def test_reliability_bins_must_be_a_positive_integer(bins: int) -> None:
    with pytest.raises(ValueError, match="bins must be a positive integer"):
        reliability([0.5], [1], bins=bins)


# --- warnings ------------------------------------------------------------------------------------


def test_warning_scores_on_a_two_by_two_table() -> None:
    # 3 hits, 1 miss, 2 false alarms, 4 correct negatives
    probability = [0.9, 0.8, 0.6, 0.3, 0.7, 0.5, 0.1, 0.2, 0.4, 0.0]
    outcome = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    hit_rate, false_alarm_ratio = warning_scores(probability, outcome, threshold=0.5)
    assert hit_rate == pytest.approx(3 / 4)
    assert false_alarm_ratio == pytest.approx(2 / 5)


@pytest.mark.parametrize(
    ("probability", "outcome", "threshold", "expected"),
    [
        pytest.param([0.5, 0.4], [1, 1], 0.5, (0.5, 0.0), id="p-equal-threshold-warns"),
        pytest.param([0.9, 0.1], [0, 0], 0.5, (NAN, 1.0), id="no-event: hit-rate-nan"),
        pytest.param([0.1, 0.2], [1, 0], 0.5, (0.0, NAN), id="no-warning: far-nan"),
        pytest.param([0.9, NAN, 0.9], [1, 1, NAN], 0.5, (1.0, 0.0), id="unknown-left-out"),
        pytest.param([0.0, 0.0], [1, 0], 0.0, (1.0, 0.5), id="threshold-zero-always-warns"),
        pytest.param([], [], 0.5, (NAN, NAN), id="empty"),
    ],
)
def test_warning_scores_cases(
    probability: list[float],
    outcome: list[float],
    threshold: float,
    expected: tuple[float, float],
) -> None:
    assert_allclose(warning_scores(probability, outcome, threshold=threshold), expected)


@pytest.mark.parametrize("threshold", [-0.1, 1.1, NAN])
def test_warning_threshold_must_be_a_probability(threshold: float) -> None:
    with pytest.raises(ValueError, match="threshold must lie in"):
        warning_scores([0.5], [1], threshold=threshold)


# --- exceedance onsets ---------------------------------------------------------------------------


def four_hourly(values: list[float | bool | None], *, dtype: str = "float64") -> pd.Series:
    times = pd.date_range("2024-06-01", periods=len(values), freq="4h", tz=TZ)
    return pd.Series(values, index=times, dtype=dtype)


F, T = 0.0, 1.0


def test_onsets_of_a_hand_made_series() -> None:
    exceeds = four_hourly([F, T, T, F, NAN, T, F, T])
    assert_index_equal(exceedance_onsets(exceeds), pd.DatetimeIndex(exceeds.index[[1, 7]]))


@pytest.mark.parametrize(
    ("values", "dtype", "positions"),
    [
        pytest.param([F, T, T, F, NAN, T, F, T], "float64", [1, 7], id="nan-before-is-no-onset"),
        pytest.param([True, True, False, True], "bool", [3], id="first-value-is-no-onset"),
        pytest.param([False, None, True, False, True], "boolean", [4], id="nullable-boolean"),
        pytest.param([F, F, F], "float64", [], id="never"),
        pytest.param([T], "float64", [], id="one-value"),
        pytest.param([], "float64", [], id="empty"),
    ],
)
def test_onsets_cases(values: list[float | bool | None], dtype: str, positions: list[int]) -> None:
    exceeds = four_hourly(values, dtype=dtype)
    onsets = exceedance_onsets(exceeds)
    assert list(onsets) == [exceeds.index[i] for i in positions]
    assert str(onsets.tz) == TZ


def test_onsets_need_a_regular_datetime_index() -> None:
    exceeds = four_hourly([F, T, F, T]).drop(four_hourly([F, T, F, T]).index[1])
    with pytest.raises(ValueError, match="evenly spaced"):
        exceedance_onsets(exceeds)
    with pytest.raises(ValueError, match="evenly spaced"):
        exceedance_onsets(four_hourly([F, T, F]).iloc[::-1])
    with pytest.raises(ValueError, match="needs a DatetimeIndex"):
        exceedance_onsets(pd.Series([0.0, 1.0]))


def test_onsets_after_filling_the_grid() -> None:
    exceeds = four_hourly([F, F, T, T]).drop(four_hourly([F, F, T, T]).index[1])
    onsets = exceedance_onsets(exceeds.asfreq("4h"))
    assert list(onsets) == []  # the onset follows an unknown value


def test_onsets_reject_values_other_than_true_false() -> None:
    with pytest.raises(ValueError, match="True/1, False/0"):
        exceedance_onsets(four_hourly([F, 2.0]))


# --- lead times ----------------------------------------------------------------------------------


def at(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=TZ)


def forecast_frame(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "origin": pd.DatetimeIndex([at(origin) for origin, _, _ in rows]),
            "target": pd.DatetimeIndex([at(target) for _, target, _ in rows]),
            "probability": [probability for _, _, probability in rows],
        }
    )


def test_lead_times_of_hand_made_onsets() -> None:
    forecasts = forecast_frame(
        [
            # onset 1: warned 48 h and 24 h before (earliest 48 h), 72 h under the threshold
            ("2024-06-01 08:00", "2024-06-04 08:00", 0.2),
            ("2024-06-02 08:00", "2024-06-04 08:00", 0.6),
            ("2024-06-03 08:00", "2024-06-04 08:00", 0.9),
            ("2024-06-04 04:00", "2024-06-04 08:00", 0.3),
            # onset 2: probability exactly at the threshold, 12 h before
            ("2024-06-05 00:00", "2024-06-05 12:00", 0.5),
            # onset 3: missed (issued at the onset, and a warning for another time)
            ("2024-06-06 08:00", "2024-06-06 08:00", 0.9),
            ("2024-06-05 08:00", "2024-06-06 12:00", 0.9),
            # a warning for no onset
            ("2024-06-07 00:00", "2024-06-08 00:00", 0.9),
        ]
    )
    onsets = pd.DatetimeIndex(
        [at("2024-06-04 08:00"), at("2024-06-05 12:00"), at("2024-06-06 08:00")]
    )
    leads = lead_times(forecasts, onsets, threshold=0.5)
    expected = pd.Series([48.0, 12.0, NAN], index=onsets, name="lead_hours")
    assert_series_equal(leads, expected)
    assert mean_lead_time(leads) == pytest.approx(30.0)


def test_lead_times_match_instants_across_zones() -> None:
    forecasts = forecast_frame([("2024-06-01 08:00", "2024-06-02 08:00", 0.8)])
    forecasts["origin"] = forecasts["origin"].dt.tz_convert("UTC")
    onsets = pd.DatetimeIndex([pd.Timestamp("2024-06-02 00:00", tz="UTC")])
    assert lead_times(forecasts, onsets, threshold=0.5).tolist() == [24.0]


def test_lead_times_nan_probability_does_not_warn() -> None:
    forecasts = forecast_frame([("2024-06-01 08:00", "2024-06-02 08:00", NAN)])
    onsets = pd.DatetimeIndex([at("2024-06-02 08:00")])
    assert np.isnan(lead_times(forecasts, onsets, threshold=0.0)).all()


def test_lead_times_of_no_onsets_is_empty() -> None:
    forecasts = forecast_frame([("2024-06-01 08:00", "2024-06-02 08:00", 0.9)])
    leads = lead_times(forecasts, pd.DatetimeIndex([], tz=TZ), threshold=0.5)
    assert leads.empty
    assert leads.name == "lead_hours"
    assert math.isnan(mean_lead_time(leads))


def test_lead_times_name_missing_columns() -> None:
    forecasts = forecast_frame([("2024-06-01 08:00", "2024-06-02 08:00", 0.9)])
    with pytest.raises(ValueError, match=re.escape("lack the columns ['probability']")):
        lead_times(forecasts.drop(columns="probability"), pd.DatetimeIndex([]), threshold=0.5)


def test_lead_times_need_zone_aware_times() -> None:
    forecasts = forecast_frame([("2024-06-01 08:00", "2024-06-02 08:00", 0.9)])
    naive = forecasts.assign(target=forecasts["target"].dt.tz_localize(None))
    with pytest.raises(ValueError, match=re.escape("forecasts.target must hold zone-aware")):
        lead_times(naive, pd.DatetimeIndex([at("2024-06-02 08:00")]), threshold=0.5)
    with pytest.raises(ValueError, match="onsets must hold zone-aware"):
        lead_times(forecasts, pd.DatetimeIndex(["2024-06-02 08:00"]), threshold=0.5)
    with pytest.raises(ValueError, match="threshold must lie in"):
        lead_times(forecasts, pd.DatetimeIndex([at("2024-06-02 08:00")]), threshold=2.0)


@pytest.mark.parametrize(
    ("leads", "expected"),
    [
        pytest.param([24.0, NAN, 12.0], 18.0, id="misses-left-out"),
        pytest.param([6.0], 6.0, id="one"),
        pytest.param([NAN, NAN], NAN, id="all-missed"),
        pytest.param([], NAN, id="no-onset"),
    ],
)
def test_mean_lead_time(leads: list[float], expected: float) -> None:
    assert_allclose(mean_lead_time(pd.Series(leads, dtype="float64")), expected)
