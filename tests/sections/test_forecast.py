"""sections.forecast and sections.forecast_models: the grid, the transform, baselines, models."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from sections.forecast import (
    BEIJING,
    HORIZONS,
    MEMBERS,
    ForecastOptions,
    Threshold,
    fit_forecaster,
    forecast,
    target_threshold,
    to_grid,
)
from sections.forecast_models import (
    STEPS_PER_DAY,
    BoxCox,
    Climatology,
    Persistence,
    SeasonalNaive,
    fit_box_cox,
    hour_bins,
)
from sections.registry import load_registry


def _series(days: int, *, seed: int = 0, start: str = "2025-01-01") -> pd.Series:
    """A lognormal AR(1) concentration with a daily cycle, every 4 hours [mg/L]."""
    rng = np.random.default_rng(seed)
    index = pd.date_range(start, periods=days * STEPS_PER_DAY, freq="4h", tz=BEIJING)
    noise = np.zeros(len(index))
    for i in range(1, len(index)):
        noise[i] = 0.9 * noise[i - 1] + 0.15 * rng.standard_normal()
    cycle = 0.2 * np.sin(2 * np.pi * np.asarray(index.hour) / 24)
    return pd.Series(np.exp(np.log(0.7) + cycle + noise), index=index)


# --- threshold -----------------------------------------------------------------------------


def test_threshold_equal_to_the_limit_meets_the_class() -> None:
    """GB 3838-2002: a value equal to the limit meets the class."""
    assert Threshold(upper=1.0).exceeds([1.0, 1.0001]).tolist() == [False, True]
    assert Threshold(lower=5.0).exceeds([5.0, 4.9999]).tolist() == [False, True]
    assert Threshold(lower=6, upper=9).exceeds([5.9, 7, 9.1, np.nan]).tolist() == [
        True, False, True, False,
    ]  # fmt: skip


@pytest.mark.parametrize("kwargs", [{}, {"lower": 9.0, "upper": 6.0}])
def test_threshold_refuses_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Threshold(**kwargs)


def test_threshold_direction() -> None:
    assert Threshold.of(1.0, "above") == Threshold(upper=1.0)
    assert Threshold.of(5.0, "below") == Threshold(lower=5.0)
    with pytest.raises(ValueError, match="direction"):
        Threshold.of(5.0, "sideways")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("key", "lower", "upper"),
    [("nh3n", None, 1.0), ("do", 5.0, None), ("ph", 6.0, 9.0), ("codmn", None, 6.0)],
    ids=["GB3838-表1-NH3N-III", "GB3838-表1-DO-III", "GB3838-表1-pH", "GB3838-表1-CODMn-III"],
)
def test_target_threshold_of_a_class_iii_section(
    key: str, lower: float | None, upper: float | None
) -> None:
    registry = load_registry()
    section = next(
        s for s in registry.sections
        if s.water_body == "river" and int(s.target_class(dt.date(2025, 7, 1))) == 3
        and not s.standards
    )  # fmt: skip
    threshold = target_threshold(section, key, dt.date(2025, 7, 1))
    assert threshold == Threshold(lower=lower, upper=upper)


# --- grid ----------------------------------------------------------------------------------


def test_grid_averages_hourly_values_and_keeps_gaps() -> None:
    index = pd.date_range("2025-03-01T00:00+08:00", periods=12, freq="1h")
    values = pd.Series(np.arange(12.0), index=index)
    values.iloc[4:8] = np.nan  # a whole 4-hour bin missing
    grid = to_grid(values)
    assert grid.index.freqstr in {"4h", "4H"}
    assert grid.tolist()[0] == pytest.approx(1.5)
    assert np.isnan(grid.iloc[1])  # the gap stays a gap
    assert grid.iloc[2] == pytest.approx(9.5)


def test_grid_bins_are_beijing_hours_whatever_the_input_zone() -> None:
    utc = pd.to_datetime(["2025-03-01T16:30:00Z"])  # 00:30 Beijing time next day
    grid = to_grid(pd.Series([2.0], index=utc))
    assert grid.index[0] == pd.Timestamp("2025-03-02T00:00", tz=BEIJING)


def test_flagged_values_never_enter_the_grid() -> None:
    index = pd.date_range("2025-03-01T00:00+08:00", periods=4, freq="1h")
    values = pd.Series([1.0, 1.0, 500.0, 1.0], index=index)
    valid = pd.Series([True, True, False, True], index=index)
    assert to_grid(values, valid=valid).tolist() == [1.0]


def test_grid_needs_a_time_zone() -> None:
    naive = pd.Series([1.0], index=pd.to_datetime(["2025-03-01T00:00"]))
    with pytest.raises(ValueError, match="tz-aware"):
        to_grid(naive)


# --- transform -----------------------------------------------------------------------------


def test_box_cox_round_trip_and_log_for_lognormal_data() -> None:
    rng = np.random.default_rng(1)
    x = rng.lognormal(-0.5, 0.6, 2000)
    transform = fit_box_cox(x)
    assert transform.lam < 0.15
    np.testing.assert_allclose(transform.inverse(transform.forward(x)), x, rtol=1e-9)
    assert transform.inverse(np.array([-1e9]))[0] == 0.0  # never negative


def test_box_cox_leaves_negative_series_alone() -> None:
    assert fit_box_cox(np.linspace(-5, 5, 50)) == BoxCox(lam=1.0, shift=0.0)


# --- baselines on hand-made series ---------------------------------------------------------


def test_persistence_is_the_last_valid_value() -> None:
    z = np.array([1.0, 2.0, np.nan, np.nan, 5.0, np.nan])
    points = Persistence(max_gap=2).points(z, np.array([1, 3, 5]), np.array([1, 6]))
    np.testing.assert_array_equal(points, [[2.0, 2.0], [2.0, 2.0], [5.0, 5.0]])
    # older than the gap allowed: no forecast
    stale = Persistence(max_gap=1).points(z, np.array([3]), np.array([1]))
    assert np.isnan(stale[0, 0])


def test_seasonal_naive_is_the_same_hour_of_the_latest_day() -> None:
    z = np.arange(3 * STEPS_PER_DAY, dtype=float)  # value = position
    origin = 2 * STEPS_PER_DAY + 1  # day 2, bin 1
    steps = np.array([1, 5, 6, 7, 12])
    points = SeasonalNaive(max_gap=48).points(z, np.array([origin]), steps)
    # target origin+s; same hour one day back (or two days back beyond 24 h)
    expected = [origin + 1 - 6, origin + 5 - 6, origin + 6 - 6, origin + 7 - 12, origin + 12 - 12]
    np.testing.assert_array_equal(points[0], expected)


def test_seasonal_naive_falls_back_a_day_over_a_gap() -> None:
    z = np.arange(3 * STEPS_PER_DAY, dtype=float)
    origin = 2 * STEPS_PER_DAY
    z[origin + 1 - STEPS_PER_DAY] = np.nan  # yesterday's value at the target hour is missing
    points = SeasonalNaive(max_gap=48).points(z, np.array([origin]), np.array([1]))
    assert points[0, 0] == origin + 1 - 2 * STEPS_PER_DAY


def test_climatology_is_the_hour_by_month_distribution() -> None:
    days = 62
    positions = np.arange(days * STEPS_PER_DAY)
    hours = hour_bins(positions, 0)
    months = np.where(positions < 31 * STEPS_PER_DAY, 1, 2)
    z = hours * 10.0 + months  # each hour × month cell a constant
    climatology = Climatology(z, hours, months, min_count=5)
    climatology.attach(0, lambda p: np.where(p < 31 * STEPS_PER_DAY, 1, 2))
    members = climatology.members(z, np.array([0, 40 * STEPS_PER_DAY]), np.array([2]))
    assert members.shape == (2, 1, MEMBERS)
    np.testing.assert_array_equal(members[0, 0], np.full(MEMBERS, 21.0))  # hour bin 2, Jan
    np.testing.assert_array_equal(members[1, 0], np.full(MEMBERS, 22.0))  # hour bin 2, Feb


# --- forecasts -----------------------------------------------------------------------------


def test_forecast_has_ordered_quantiles_and_probabilities() -> None:
    result = forecast(_series(70), threshold=Threshold(upper=1.0))
    frame = result.frame
    assert list(frame.index) == list(HORIZONS)
    ordered = frame[["lo95", "lo80", "median", "hi80", "hi95"]].to_numpy()
    assert (np.diff(ordered, axis=1) >= 0).all()
    assert frame["p_exceed"].between(0, 1).all()
    assert (frame["time"] - result.origin == pd.to_timedelta(frame.index, unit="h")).all()
    assert result.selected in frame["model"].tolist()
    assert result.why
    assert set(result.candidates.columns) >= {"persistence", "seasonal_naive", "climatology"}


def test_forecasts_are_reproducible() -> None:
    series = _series(70, seed=4)
    first = forecast(series, threshold=Threshold(upper=1.0))
    second = forecast(series, threshold=Threshold(upper=1.0))
    pd.testing.assert_frame_equal(first.frame, second.frame)
    assert first.why == second.why


def test_a_model_that_does_not_converge_falls_back_and_says_so() -> None:
    options = ForecastOptions(maxiter={"sarima": 1})
    result = forecast(_series(70), threshold=Threshold(upper=1.0), options=options)
    assert any("sarima" in note and "未收敛" in note for note in result.notes)
    assert "sarima" not in result.candidates.columns
    assert "ets" in result.candidates.columns
    assert "sarima" not in set(result.frame["model"])
    assert "sarima" in result.why  # the reason names the fallback


def test_too_little_data_leaves_the_baselines() -> None:
    result = forecast(_series(5), threshold=Threshold(upper=1.0))
    assert {"sarima", "ets"}.isdisjoint(result.candidates.columns)
    assert set(result.frame["model"]) <= {"persistence", "seasonal_naive", "climatology"}


def test_the_future_never_enters_a_forecast() -> None:
    """Poison everything after a time: forecasts issued before it do not change."""
    grid = to_grid(_series(90, seed=7))
    end = grid.index[70 * STEPS_PER_DAY]
    cut = grid.index[75 * STEPS_PER_DAY]
    poisoned = grid.where(grid.index < cut, 1.0e6)
    fitted = fit_forecaster(grid, end=end, threshold=Threshold(upper=1.0))
    fitted_poisoned = fit_forecaster(poisoned, end=end, threshold=Threshold(upper=1.0))
    assert fitted.selection == fitted_poisoned.selection
    pd.testing.assert_frame_equal(fitted.scores, fitted_poisoned.scores)
    origins = grid.index[(grid.index >= end - pd.Timedelta(hours=4)) & (grid.index < cut)]
    for model in [None, *fitted.candidates]:
        clean = fitted.predict(grid, origins, model=model).members
        dirty = fitted_poisoned.predict(poisoned, origins, model=model).members
        np.testing.assert_array_equal(clean, dirty, err_msg=str(model))
    # and the poison does show once an origin can see it
    late = grid.index[grid.index >= cut][:1]
    assert not np.array_equal(
        fitted.predict(grid, late).members, fitted_poisoned.predict(poisoned, late).members
    )


def test_fit_reads_nothing_at_or_after_its_end() -> None:
    grid = to_grid(_series(80, seed=2))
    end = grid.index[60 * STEPS_PER_DAY]
    whole = fit_forecaster(grid, end=end, threshold=Threshold(upper=1.0))
    cut = fit_forecaster(grid[grid.index < end], end=end, threshold=Threshold(upper=1.0))
    pd.testing.assert_frame_equal(whole.scores, cut.scores)
    assert whole.data_end == cut.data_end < end


def test_unknown_model_and_bad_horizons_are_refused() -> None:
    grid = to_grid(_series(30))
    with pytest.raises(ValueError, match="horizons"):
        fit_forecaster(grid, horizons=[5])
    with pytest.raises(ValueError, match="unknown models"):
        ForecastOptions(models=("prophet",))
    fitted = fit_forecaster(grid, horizons=[4])
    with pytest.raises(ValueError, match="unknown or unfitted"):
        fitted.predict(grid, grid.index[-1:], model="prophet")


@pytest.mark.parametrize(
    ("ensemble", "previous", "expected"),
    [
        (0.099, "persistence", "persistence"),  # 1 % better: not enough to replace the baseline
        (0.099, None, "ensemble"),  # …nor for the baseline to replace the model
        (0.090, "persistence", "ensemble"),  # 10 % better: the model takes over
        (0.110, "ensemble", "persistence"),  # the model stopped beating persistence: replaced
        (0.101, "ensemble", "ensemble"),  # 1 % worse: kept (noise)
    ],
)
def test_the_skill_record_decides_with_a_margin_and_memory(
    ensemble: float, previous: str | None, expected: str
) -> None:
    grid = to_grid(_series(70, seed=5))
    skill = pd.DataFrame(
        {24: [ensemble, 0.100, 0.105, 0.300]},
        index=["ensemble", "persistence", "seasonal_naive", "climatology"],
    )
    fitted = fit_forecaster(
        grid, threshold=Threshold(upper=1.0), horizons=[24], skill=skill,
        previous_selection=None if previous is None else {24: previous},
    )  # fmt: skip
    assert fitted.selection[24] == expected
    assert "已核验预报" in fitted.why


def test_climatology_is_a_reference_never_the_issued_forecast() -> None:
    grid = to_grid(_series(70, seed=5))
    skill = pd.DataFrame(
        {24: [0.2, 0.2, 0.2, 0.01]},
        index=["ensemble", "persistence", "seasonal_naive", "climatology"],
    )
    fitted = fit_forecaster(grid, threshold=Threshold(upper=1.0), horizons=[24], skill=skill)
    assert fitted.selection[24] != "climatology"


def test_a_training_window_that_starts_with_a_gap_still_fits() -> None:
    """A station silent for the first week of the window: the models start from its first data."""
    series = _series(70, seed=8)
    series.iloc[10 * STEPS_PER_DAY : 23 * STEPS_PER_DAY] = np.nan  # window (days 14–70): 9 dry
    result = forecast(series, threshold=Threshold(upper=1.0))
    assert {"sarima", "ets"} <= set(result.candidates.columns)
    assert result.frame["median"].notna().all()
