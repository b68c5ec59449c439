"""Period values: daily and monthly means with the validity rules of domain.md §4–§5."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sections.periods import (
    DEFAULT_MIN_DAILY_VALUES,
    DEFAULT_MIN_DAY_FRACTION,
    period_values,
)

DAY = pd.Timestamp("2025-01-01")


def _times(start: str, count: int, freq: str = "4h", tz: str | None = None) -> pd.Series:
    return pd.Series(pd.date_range(start, periods=count, freq=freq, tz=tz))


def _cell(frame: pd.DataFrame, column: str, start: str = "2025-01-01", group: str = "") -> object:
    return frame.loc[(group, pd.Timestamp(start)), column]


def test_defaults_are_4_values_and_two_thirds_of_the_days() -> None:
    assert DEFAULT_MIN_DAILY_VALUES == 4
    assert math.isclose(DEFAULT_MIN_DAY_FRACTION, 2 / 3)


# --- daily values -------------------------------------------------------------------------------


def test_daily_mean_of_4_valid_values() -> None:
    frame = pd.DataFrame({"nh3n": [0.4, np.nan, 0.6, 0.8, np.nan, 1.0]})
    result = period_values(frame, _times("2025-01-01", 6))
    assert _cell(result.values, "nh3n") == pytest.approx(0.7)
    assert _cell(result.counts, "nh3n") == 4
    assert _cell(result.required, "nh3n") == 4
    assert _cell(result.sufficient, "nh3n")
    assert result.insufficient().tolist() == [[]]


def test_daily_mean_of_all_six_values() -> None:
    frame = pd.DataFrame({"codmn": [3.0, 4.0, 5.0, 6.0, 7.0, 5.0]})
    result = period_values(frame, _times("2025-01-01", 6))
    assert _cell(result.values, "codmn") == pytest.approx(5.0)
    assert _cell(result.counts, "codmn") == 6


def test_three_valid_values_are_insufficient() -> None:
    frame = pd.DataFrame(
        {"nh3n": [0.4, np.nan, 0.6, np.nan, np.nan, 1.0], "tp": [0.1, 0.1, 0.2, 0.2, 0.3, 0.3]}
    )
    result = period_values(frame, _times("2025-01-01", 6))
    assert math.isnan(_cell(result.values, "nh3n"))  # type: ignore[arg-type]
    assert _cell(result.counts, "nh3n") == 3
    assert not _cell(result.sufficient, "nh3n")
    assert _cell(result.values, "tp") == pytest.approx(0.2)
    assert _cell(result.sufficient, "tp")
    assert result.insufficient().tolist() == [["nh3n"]]


def test_a_parameter_without_any_value_is_not_listed_as_insufficient() -> None:
    frame = pd.DataFrame({"nh3n": [0.5] * 6, "tn": [np.nan] * 6})
    result = period_values(frame, _times("2025-01-01", 6))
    assert math.isnan(_cell(result.values, "tn"))  # type: ignore[arg-type]
    assert _cell(result.counts, "tn") == 0
    assert not _cell(result.sufficient, "tn")
    assert result.insufficient().tolist() == [[]]


def test_samples_on_two_days_give_two_daily_values() -> None:
    # 2025-01-01 00:00 … 2025-01-02 20:00, every 4 h: six a day
    frame = pd.DataFrame({"codmn": [2.0] * 6 + [4.0] * 6})
    result = period_values(frame, _times("2025-01-01", 12))
    starts = result.values.index.get_level_values("period_start")
    assert list(starts) == [pd.Timestamp("2025-01-01"), pd.Timestamp("2025-01-02")]
    assert result.values["codmn"].tolist() == [2.0, 4.0]


@pytest.mark.parametrize(("minimum", "sufficient"), [(3, True), (4, False), (2, True)])
def test_daily_threshold_is_configurable(minimum: int, sufficient: bool) -> None:
    frame = pd.DataFrame({"nh3n": [0.4, np.nan, 0.6, np.nan, np.nan, 1.1]})
    result = period_values(frame, _times("2025-01-01", 6), min_daily_values=minimum)
    assert _cell(result.sufficient, "nh3n") == sufficient
    assert _cell(result.required, "nh3n") == minimum
    if sufficient:
        assert _cell(result.values, "nh3n") == pytest.approx(0.7)


@pytest.mark.parametrize(
    "options", [{"min_daily_values": 0}, {"min_day_fraction": 0.0}, {"min_day_fraction": 1.5}]
)
def test_invalid_thresholds_raise(options: dict[str, float]) -> None:
    frame = pd.DataFrame({"nh3n": [0.5] * 6})
    with pytest.raises(ValueError):
        period_values(frame, _times("2025-01-01", 6), **options)  # type: ignore[arg-type]


# --- pH over [H+], censored values --------------------------------------------------------------


def test_ph_is_averaged_over_hydrogen_ion_activity() -> None:
    # −log10((10^−7 + 10^−8) / 2) = 7.2596; the arithmetic mean would be 7.5
    frame = pd.DataFrame({"ph": [7.0, 8.0, 7.0, 8.0, 7.0, 8.0]})
    result = period_values(frame, _times("2025-01-01", 6))
    assert _cell(result.values, "ph") == pytest.approx(7.2596, abs=1e-4)
    assert round(float(_cell(result.values, "ph")), 2) == 7.26  # type: ignore[arg-type]


def test_ph_monthly_value_is_also_over_hydrogen_ions() -> None:
    # day 1 at pH 7, day 2 at pH 9: −log10((10^−7 + 10^−9) / 2) = 7.2967
    frame = pd.DataFrame({"ph": [7.0] * 4 + [9.0] * 4})
    times = pd.Series(pd.to_datetime(
        ["2025-01-01 00:00", "2025-01-01 04:00", "2025-01-01 08:00", "2025-01-01 12:00",
         "2025-01-02 00:00", "2025-01-02 04:00", "2025-01-02 08:00", "2025-01-02 12:00"]
    ))  # fmt: skip
    result = period_values(frame, times, period="month", min_day_fraction=2 / 31)
    assert _cell(result.values, "ph") == pytest.approx(7.2967, abs=1e-4)


def test_censored_frame_may_cover_only_some_rows() -> None:
    frame = pd.DataFrame({"nh3n": [0.02, 0.1, 0.1, 0.1]})
    censored = pd.DataFrame({"nh3n": [True, False]})  # rows 2 and 3 not given: not censored
    result = period_values(frame, _times("2025-01-01", 4), censored=censored)
    assert _cell(result.values, "nh3n") == pytest.approx(0.0775)


def test_censored_values_count_as_half_the_detection_limit() -> None:
    frame = pd.DataFrame({"nh3n": [0.02, 0.1, 0.1, 0.1], "tp": [0.01, 0.01, 0.03, 0.03]})
    censored = pd.DataFrame({"nh3n": [True, False, False, False], "tp": [True, True, False, False]})
    result = period_values(frame, _times("2025-01-01", 4), censored=censored)
    assert _cell(result.values, "nh3n") == pytest.approx((0.01 + 0.3) / 4)  # 0.0775
    assert _cell(result.values, "tp") == pytest.approx((0.005 + 0.005 + 0.06) / 4)  # 0.0175


def test_censored_frame_may_cover_only_some_columns() -> None:
    frame = pd.DataFrame({"nh3n": [0.02, 0.1, 0.1, 0.1], "tp": [0.02, 0.02, 0.02, 0.02]})
    censored = pd.DataFrame({"nh3n": [True, False, False, False]})
    result = period_values(frame, _times("2025-01-01", 4), censored=censored)
    assert _cell(result.values, "nh3n") == pytest.approx(0.0775)
    assert _cell(result.values, "tp") == pytest.approx(0.02)


# --- months -------------------------------------------------------------------------------------


def _daily_samples(dates: pd.DatetimeIndex, per_day: int = 1, value: float = 5.0) -> pd.DataFrame:
    """``per_day`` samples 4 hours apart on each date: (values, times)."""
    times = [d + pd.Timedelta(hours=4 * i) for d in dates for i in range(per_day)]
    return pd.DataFrame({"time": times, "codmn": value})


@pytest.mark.parametrize(
    ("days", "sufficient"), [(21, True), (20, False), (31, True), (22, True), (1, False)]
)
def test_january_needs_21_of_31_days(days: int, sufficient: bool) -> None:
    samples = _daily_samples(pd.date_range("2025-01-01", periods=days, freq="D"))
    result = period_values(samples[["codmn"]], samples["time"], period="month", min_daily_values=1)
    assert _cell(result.required, "codmn") == 21
    assert _cell(result.counts, "codmn") == days
    assert _cell(result.sufficient, "codmn") == sufficient
    value = _cell(result.values, "codmn")
    assert value == 5.0 if sufficient else math.isnan(value)  # type: ignore[arg-type]
    assert result.insufficient().tolist() == [[] if sufficient else ["codmn"]]


@pytest.mark.parametrize(("days", "sufficient"), [(19, True), (18, False)])
def test_february_2025_needs_19_of_28_days(days: int, sufficient: bool) -> None:
    samples = _daily_samples(pd.date_range("2025-02-01", periods=days, freq="D"))
    result = period_values(samples[["codmn"]], samples["time"], period="month", min_daily_values=1)
    assert _cell(result.required, "codmn", "2025-02-01") == 19
    assert _cell(result.sufficient, "codmn", "2025-02-01") == sufficient


def test_april_needs_20_of_30_days() -> None:
    samples = _daily_samples(pd.date_range("2025-04-01", periods=20, freq="D"))
    result = period_values(samples[["codmn"]], samples["time"], period="month", min_daily_values=1)
    assert _cell(result.required, "codmn", "2025-04-01") == 20
    assert _cell(result.sufficient, "codmn", "2025-04-01")


def test_only_days_with_a_valid_daily_value_count() -> None:
    # 21 days with 4 samples and 10 days with only 3: 21 valid days → sufficient
    full = _daily_samples(pd.date_range("2025-01-01", periods=21, freq="D"), per_day=4)
    thin = _daily_samples(pd.date_range("2025-01-22", periods=10, freq="D"), per_day=3, value=9)
    samples = pd.concat([full, thin], ignore_index=True)
    result = period_values(samples[["codmn"]], samples["time"], period="month")
    assert _cell(result.counts, "codmn") == 21
    assert _cell(result.sufficient, "codmn")
    assert _cell(result.values, "codmn") == 5.0
    # one full day fewer: 20 valid days → insufficient
    fewer = samples[samples["time"] >= pd.Timestamp("2025-01-02")]
    result = period_values(fewer[["codmn"]], fewer["time"], period="month")
    assert _cell(result.counts, "codmn") == 20
    assert not _cell(result.sufficient, "codmn")


def test_monthly_value_is_the_mean_of_daily_values() -> None:
    # day 1: four samples of 1.0; day 2: six samples of 3.0 → mean of days 2.0 (samples: 2.2)
    frame = pd.DataFrame({"codmn": [1.0] * 4 + [3.0] * 6})
    times = pd.concat([_times("2025-03-01", 4), _times("2025-03-02", 6)], ignore_index=True)
    result = period_values(frame, times, period="month", min_day_fraction=2 / 31)
    assert _cell(result.values, "codmn", "2025-03-01") == pytest.approx(2.0)
    assert _cell(result.counts, "codmn", "2025-03-01") == 2
    assert _cell(result.required, "codmn", "2025-03-01") == 2  # 31 × 2/31 days


def test_day_fraction_is_configurable() -> None:
    samples = _daily_samples(pd.date_range("2025-01-01", periods=16, freq="D"))
    default = period_values(samples[["codmn"]], samples["time"], period="month", min_daily_values=1)
    half = period_values(
        samples[["codmn"]], samples["time"], period="month", min_daily_values=1,
        min_day_fraction=0.5,
    )  # fmt: skip
    assert not _cell(default.sufficient, "codmn")
    assert _cell(half.required, "codmn") == 16  # ⌈31 × 0.5⌉
    assert _cell(half.sufficient, "codmn")


def test_groups_are_kept_apart() -> None:
    a = _daily_samples(pd.date_range("2025-01-01", periods=21, freq="D"), value=4.0)
    b = _daily_samples(pd.date_range("2025-01-01", periods=20, freq="D"), value=8.0)
    samples = pd.concat([a.assign(section="A"), b.assign(section="B")], ignore_index=True)
    result = period_values(
        samples[["codmn"]], samples["time"], period="month", groups=samples["section"],
        min_daily_values=1,
    )  # fmt: skip
    assert list(result.values.index) == [("A", DAY), ("B", DAY)]
    assert _cell(result.values, "codmn", group="A") == 4.0
    assert _cell(result.sufficient, "codmn", group="A")
    assert math.isnan(_cell(result.values, "codmn", group="B"))  # type: ignore[arg-type]
    assert _cell(result.counts, "codmn", group="B") == 20
    assert result.insufficient().tolist() == [[], ["codmn"]]


def test_daily_groups_do_not_mix() -> None:
    frame = pd.DataFrame({"nh3n": [1.0, 1.0, 1.0, 1.0, 3.0, 3.0, 3.0, 3.0]})
    times = pd.concat([_times("2025-01-01", 4), _times("2025-01-01", 4)], ignore_index=True)
    groups = pd.Series(["小范桥"] * 4 + ["衡水湖大湖心"] * 4)
    result = period_values(frame, times, groups=groups)
    assert _cell(result.values, "nh3n", group="小范桥") == 1.0
    assert _cell(result.values, "nh3n", group="衡水湖大湖心") == 3.0


def test_months_are_separate_periods() -> None:
    # 11 January … 28 February: 21 + 28 days
    samples = _daily_samples(pd.date_range("2025-01-11", periods=49, freq="D"))
    result = period_values(samples[["codmn"]], samples["time"], period="month", min_daily_values=1)
    starts = list(result.values.index.get_level_values("period_start"))
    assert starts == [pd.Timestamp("2025-01-01"), pd.Timestamp("2025-02-01")]
    assert result.counts["codmn"].tolist() == [21, 28]
    assert result.sufficient["codmn"].tolist() == [True, True]


@pytest.mark.parametrize(
    ("period", "start", "required"),
    [("week", "2025-01-13", 5), ("quarter", "2025-01-01", 60), ("year", "2025-01-01", 244)],
)
def test_other_periods_start_on_their_first_day(period: str, start: str, required: int) -> None:
    # 7 × 2/3 → 5 days; Q1 2025 has 90 days → 60; 2025 has 365 days → 244
    samples = _daily_samples(pd.date_range("2025-01-15", periods=1, freq="D"))
    result = period_values(samples[["codmn"]], samples["time"], period=period, min_daily_values=1)
    assert list(result.values.index.get_level_values("period_start")) == [pd.Timestamp(start)]
    assert _cell(result.required, "codmn", start) == required


# --- times --------------------------------------------------------------------------------------


def test_tz_aware_beijing_times_use_the_beijing_day() -> None:
    # 00:00 … 20:00 Beijing time on 1 January 2025 (16:00 UTC on 31 December … 12:00 UTC)
    frame = pd.DataFrame({"nh3n": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]})
    result = period_values(frame, _times("2025-01-01 00:00", 6, tz="Asia/Shanghai"))
    assert list(result.values.index) == [("", DAY)]
    assert _cell(result.values, "nh3n") == pytest.approx(3.5)
    assert _cell(result.counts, "nh3n") == 6


def test_tz_aware_datetime_index_is_accepted() -> None:
    frame = pd.DataFrame({"nh3n": [1.0, 2.0, 3.0, 4.0]})
    times = pd.date_range("2025-01-01 22:00", periods=4, freq="1h", tz="Asia/Shanghai")
    result = period_values(frame, times, min_daily_values=2)  # type: ignore[arg-type]
    assert list(result.values.index.get_level_values("period_start")) == [
        DAY,
        pd.Timestamp("2025-01-02"),
    ]
    assert result.values["nh3n"].tolist() == [1.5, 3.5]


def test_tz_aware_times_in_another_zone_use_the_beijing_day() -> None:
    # the same instants as in the test above, written in UTC
    frame = pd.DataFrame({"nh3n": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]})
    result = period_values(frame, _times("2024-12-31 16:00", 6, tz="UTC"))
    assert list(result.values.index) == [("", DAY)]
    assert _cell(result.values, "nh3n") == pytest.approx(3.5)


@pytest.mark.parametrize("period", ["10D", "D", "M", "decade", "旬", ""])
def test_unknown_period_raises_value_error(period: str) -> None:
    frame = pd.DataFrame({"nh3n": [0.5] * 6})
    with pytest.raises(ValueError, match="unknown period"):
        period_values(frame, _times("2025-01-01", 6), period=period)
