"""QA/QC of station series: every QARTOD test on hand-made series with exact flags, the station
flag table, the aggregate and its test names, and properties (nothing is ever removed)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from importlib import resources

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pandas.testing import assert_index_equal, assert_series_equal

from sections.classes import WaterClass
from sections.errors import DataTableError
from sections.parameters import parameter
from sections.quality import (
    INSTRUMENT_SPAN_FACTOR,
    MAX_SILENCE,
    QC_RANGES_TABLE,
    QC_TESTS,
    STATION_FLAG_QC,
    QcFlag,
    StationFlag,
    flat_line,
    gross_range,
    qc_ranges,
    qc_table,
    quality_flags,
    rate_of_change,
    spike,
    stale_station,
    station_flag_qc,
    time_gap,
    valid_mask,
)
from sections.standards import class_limit
from sections.validity import ValidityPolicy

GOOD, NOT_EVALUATED, SUSPECT, FAIL, MISSING = 1, 2, 3, 4, 9
NAN = math.nan


def four_hourly(n: int, *, tz: str | None = None) -> pd.DatetimeIndex:
    return pd.date_range("2024-06-01", periods=n, freq="4h", tz=tz)


def on_times(values: list[float], *, tz: str | None = None) -> pd.Series:
    return pd.Series(values, index=four_hourly(len(values), tz=tz), dtype="float64")


def normal(values: pd.Series) -> pd.Series:
    return pd.Series("N", index=values.index)


# --- flags ---------------------------------------------------------------------------------------


def test_qc_flag_values_are_qartod() -> None:
    assert [int(f) for f in QcFlag] == [1, 2, 3, 4, 9]
    assert [f.name for f in QcFlag] == ["GOOD", "NOT_EVALUATED", "SUSPECT", "FAIL", "MISSING"]
    assert [f.label for f in QcFlag] == ["通过", "未评估", "可疑", "无效", "缺失"]


STATION_TABLE = [
    ("N", "正常", GOOD),
    ("F", "停运", FAIL),
    ("M", "维护", FAIL),
    ("S", "手工输入", NOT_EVALUATED),
    ("D", "故障", FAIL),
    ("C", "校准", FAIL),
    ("T", "超测上限", SUSPECT),
    ("B", "通讯异常", FAIL),
]


@pytest.mark.parametrize(("letter", "meaning", "expected"), STATION_TABLE)
def test_station_flag_maps_every_letter(letter: str, meaning: str, expected: int) -> None:
    flags = pd.Series([letter, letter], index=pd.Index([10, 11], name="obs"))
    result = station_flag_qc(flags)
    assert result.tolist() == [expected, expected]
    assert_index_equal(result.index, flags.index)
    assert result.name == "station_flag"
    assert StationFlag(letter).meaning == meaning
    assert StationFlag(letter).qc == expected
    assert STATION_FLAG_QC[letter] == expected


def test_station_flag_table_covers_exactly_the_hj212_letters() -> None:
    assert set(STATION_FLAG_QC) == {s.value for s in StationFlag} == set("NFMSDCTB")


def test_station_flag_missing_is_not_evaluated_and_enum_members_are_accepted() -> None:
    flags = pd.Series([None, NAN, StationFlag.OVER_RANGE, "N"], dtype=object)
    assert station_flag_qc(flags).tolist() == [2, 2, 3, 1]


@pytest.mark.parametrize("bad", ["X", "n", " N", "NN", 1])
def test_station_flag_unknown_letter_raises_listing_valid(bad: object) -> None:
    with pytest.raises(ValueError, match="valid: N S T F M D C B"):
        station_flag_qc(pd.Series(["N", bad], dtype=object))


# --- the table -----------------------------------------------------------------------------------


def test_qc_table_has_a_source_line_and_only_assumption_rows() -> None:
    text = resources.files("sections").joinpath("data", QC_RANGES_TABLE).read_text("utf-8")
    lines = text.splitlines()
    assert lines[0].startswith("# source:")
    assert "[A]" in lines[0]
    header = lines[1].split(",")
    assert header[-1] == "tag"
    assert {line.split(",")[-1] for line in lines[2:]} == {"A"}


def test_qc_table_keys_and_units_follow_the_glossary() -> None:
    table = qc_table()
    assert list(table) == [
        "temp", "ph", "do", "conductivity", "turbidity",
        "codmn", "cod", "nh3n", "tp", "tn", "chla", "algae",
    ]  # fmt: skip
    for key, ranges in table.items():
        assert ranges.key == key
        assert ranges.unit == parameter(key).unit


@pytest.mark.parametrize(
    ("key", "fail_span"),
    [
        ("ph", (0, 14)),
        ("temp", (-1, 40)),
        ("do", (0, 20)),
        ("conductivity", (0, 10000)),
        ("turbidity", (0, 4000)),
    ],
)
def test_physical_ranges_of_the_brief(key: str, fail_span: tuple[float, float]) -> None:
    assert qc_ranges(key).fail_span == fail_span


def test_ph_plausible_range() -> None:
    assert qc_ranges("ph").suspect_span == (6, 9.5)


def test_every_row_has_the_4_hour_interval_and_8_hour_gap() -> None:
    for ranges in qc_table().values():
        assert ranges.expected_interval == dt.timedelta(hours=4)
        assert ranges.max_gap == dt.timedelta(hours=8)


def test_unknown_key_raises_naming_table_and_keys() -> None:
    with pytest.raises(DataTableError, match=r"qc_ranges\.csv.*valid keys: temp, ph"):
        qc_ranges("bod5")
    with pytest.raises(KeyError):
        gross_range(pd.Series([1.0]), "nope")


@pytest.mark.parametrize(
    "change",
    [
        {"suspect_span": (-1.0, 5.0)},  # suspect outside fail
        {"suspect_span": (5.0, 1.0)},
        {"spike_suspect": 0.0},
        {"spike_suspect": 9.0, "spike_fail": 5.0},
        {"roc_fail": math.inf},
        {"flat_tolerance": 0.0},
        {"flat_suspect_count": 1},
        {"flat_suspect_count": 20, "flat_fail_count": 19},
        {"max_gap": dt.timedelta(hours=3)},
        {"expected_interval": dt.timedelta(0)},
    ],
)
def test_inconsistent_thresholds_are_refused(change: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"nh3n|expected_interval|max_gap"):
        dataclasses.replace(qc_ranges("nh3n"), **change)  # type: ignore[arg-type]


def test_ranges_for_another_key_are_refused() -> None:
    with pytest.raises(ValueError, match="'tp', not 'nh3n'"):
        spike(on_times([1.0, 2.0, 3.0]), "nh3n", ranges=qc_ranges("tp"))


# --- gross range ---------------------------------------------------------------------------------


def test_gross_range_fail_and_suspect_values() -> None:
    # pH: fail outside 0–14, suspect outside 6–9.5; the index is not a time index here
    values = pd.Series([7.5, 5.9, 9.6, 14.2, -0.1, 6.0, 9.5, NAN], index=list("abcdefgh"))
    result = gross_range(values, "ph")
    expected = pd.Series([1, 3, 3, 4, 4, 1, 1, 9], index=list("abcdefgh"), name="gross_range")
    assert_series_equal(result, expected.astype("uint8"))


def test_gross_range_infinities_fail() -> None:
    assert gross_range(pd.Series([math.inf, -math.inf]), "tp").tolist() == [4, 4]


def test_value_above_twice_the_target_limit_is_suspect() -> None:
    # NH3-N, target class Ⅲ: limit 1.0 mg/L, instrument span 2.0 mg/L [V, domain.md §5]
    limit = class_limit("nh3n", WaterClass.III)
    assert INSTRUMENT_SPAN_FACTOR * limit == 2.0
    values = on_times([0.8, 1.9, 2.0, 2.01, 3.5, 26.0, 101.0])
    assert gross_range(values, "nh3n").tolist() == [1, 1, 1, 1, 1, 3, 4]
    assert gross_range(values, "nh3n", target_limit=limit).tolist() == [1, 1, 1, 3, 3, 3, 4]


@pytest.mark.parametrize("limit", [0.0, -1.0, math.inf, math.nan])
def test_target_limit_must_be_positive_and_finite(limit: float) -> None:
    with pytest.raises(ValueError, match="target_limit"):
        gross_range(on_times([0.1]), "tp", target_limit=limit)


@pytest.mark.parametrize("key", ["do", "ph", "conductivity", "temp"])
def test_instrument_span_needs_an_upper_limited_item(key: str) -> None:
    with pytest.raises(ValueError, match="upper class limit"):
        gross_range(on_times([5.0]), key, target_limit=5.0)


# --- spike ---------------------------------------------------------------------------------------


def test_single_spike_is_suspect_at_that_point_only() -> None:
    # NH3-N: spike_suspect 1, spike_fail 5 mg/L; height 1.5
    values = on_times([0.3, 0.3, 0.3, 1.8, 0.3, 0.3, 0.3])
    result = spike(values, "nh3n")
    assert result.tolist() == [2, 1, 1, 3, 1, 1, 2]
    assert result.name == "spike"
    assert_index_equal(result.index, values.index)


def test_single_large_spike_fails_at_that_point_only() -> None:
    values = on_times([0.3, 0.3, 0.3, 6.0, 0.3, 0.3, 0.3])
    assert spike(values, "nh3n").tolist() == [2, 1, 1, 4, 1, 1, 2]


def test_downward_spike_and_step_change() -> None:
    assert spike(on_times([2.0, 2.0, 0.5, 2.0, 2.0]), "nh3n").tolist() == [2, 1, 3, 1, 2]
    # a step is not a spike (the steps do not change sign): left to rate_of_change
    assert spike(on_times([0.3, 0.3, 4.0, 4.0, 4.0]), "nh3n").tolist() == [2, 1, 1, 1, 2]


def test_spike_next_to_a_missing_value_is_not_evaluated() -> None:
    values = on_times([0.3, 0.3, NAN, 0.3, 0.3])
    assert spike(values, "nh3n").tolist() == [2, 2, 9, 2, 2]


def test_spike_below_threshold_and_exactly_at_it_passes() -> None:
    # height exactly spike_suspect (1.0) is not above it
    assert spike(on_times([0.5, 0.5, 1.5, 0.5, 0.5]), "nh3n").tolist() == [2, 1, 1, 1, 2]


# --- rate of change ------------------------------------------------------------------------------


def test_rate_of_change_jump_flags_the_value_after_it() -> None:
    # NH3-N: roc_suspect 0.5, roc_fail 2.5 mg/L per hour; 4-hourly steps
    values = on_times([0.3, 0.35, 2.5, 2.6, 2.55, 14.0, 14.0])
    # steps: 0.05/4 h, 2.15/4 h = 0.54/h (suspect), 0.1, 0.05, 11.45/4 h = 2.86/h (fail), 0
    assert rate_of_change(values, "nh3n").tolist() == [1, 1, 3, 1, 1, 4, 1]


def test_rate_of_change_is_per_hour() -> None:
    # the same 2.15 mg/L step over 8 h is 0.27 mg/L/h: no flag
    times = pd.DatetimeIndex(["2024-06-01 00:00", "2024-06-01 08:00", "2024-06-01 09:00"])
    values = pd.Series([0.35, 2.5, 2.5], index=times)
    assert rate_of_change(values, "nh3n").tolist() == [1, 1, 1]
    # over 1 h it is 2.15 mg/L/h: suspect
    values = pd.Series([0.35, 0.35, 2.5], index=times)
    assert rate_of_change(values, "nh3n").tolist() == [1, 1, 3]


def test_rate_of_change_missing_value() -> None:
    values = on_times([0.3, NAN, 3.0, 3.0])
    assert rate_of_change(values, "nh3n").tolist() == [1, 9, 1, 1]


# --- flat line -----------------------------------------------------------------------------------


def test_flat_line_of_n_identical_values() -> None:
    # NH3-N: the 6th repeated value is suspect, the 18th fails
    values = on_times([0.5, 0.4] + [0.3] * 18)
    assert flat_line(values, "nh3n").tolist() == [1] * 7 + [3] * 12 + [4]


def test_flat_line_one_short_of_the_count_passes() -> None:
    values = on_times([0.5, 0.4] + [0.3] * 5 + [0.31])
    assert flat_line(values, "nh3n").tolist() == [1] * 8


def test_flat_line_with_configured_counts_and_tolerance() -> None:
    ranges = dataclasses.replace(
        qc_ranges("tp"), flat_suspect_count=3, flat_fail_count=4, flat_tolerance=0.01
    )
    # values within 0.01 of each other count as repeated
    values = on_times([0.10, 0.20, 0.200, 0.205, 0.202, 0.3])
    assert flat_line(values, "tp", ranges=ranges).tolist() == [1, 1, 1, 3, 4, 1]


def test_flat_line_short_series_and_missing() -> None:
    assert flat_line(on_times([0.3, NAN]), "tp").tolist() == [1, 9]
    assert flat_line(on_times([]), "tp").tolist() == []


# --- time gap and stale station ------------------------------------------------------------------


def test_gap_of_nine_hours_in_a_four_hourly_series() -> None:
    times = pd.DatetimeIndex(
        ["2024-06-01 00:00", "2024-06-01 04:00", "2024-06-01 08:00", "2024-06-01 17:00",
         "2024-06-01 21:00", "2024-06-02 05:00"]
    )  # fmt: skip
    result = time_gap(times, expected_interval=dt.timedelta(hours=4), max_gap=dt.timedelta(hours=8))
    # 9 h gap → suspect; a gap of exactly 8 h is tolerated
    assert result.tolist() == [2, 1, 1, 3, 1, 1]
    assert result.name == "time_gap"
    assert_index_equal(result.index, times)
    # default max_gap is 2 × expected_interval
    assert time_gap(times).tolist() == [2, 1, 1, 3, 1, 1]
    assert time_gap(times, max_gap=dt.timedelta(hours=10)).tolist() == [2, 1, 1, 1, 1, 1]


def test_time_gap_on_a_series_of_zone_aware_times_keeps_its_index() -> None:
    times = pd.Series(
        pd.DatetimeIndex(["2024-06-01 00:00", "2024-06-01 09:00"]).tz_localize("Asia/Shanghai"),
        index=[7, 8],
    )
    result = time_gap(times)
    assert result.tolist() == [2, 3]
    assert result.index.tolist() == [7, 8]


@pytest.mark.parametrize(
    "times",
    [
        ["2024-06-01 04:00", "2024-06-01 00:00"],
        ["2024-06-01 00:00", "2024-06-01 00:00"],
        ["2024-06-01 00:00", None],
    ],
)
def test_times_must_be_strictly_increasing(times: list[str | None]) -> None:
    with pytest.raises(ValueError, match="times must"):
        time_gap(pd.DatetimeIndex(times))


def test_max_gap_shorter_than_the_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="max_gap"):
        time_gap(four_hourly(3), max_gap=dt.timedelta(hours=1))


def test_stale_station_after_more_than_eight_hours() -> None:
    seen = dt.datetime(2024, 6, 1, 8, 0, tzinfo=dt.UTC)
    assert dt.timedelta(hours=8) == MAX_SILENCE
    assert stale_station(seen, seen + dt.timedelta(hours=7, minutes=59)) is False
    assert stale_station(seen, seen + dt.timedelta(hours=8)) is False
    assert stale_station(seen, seen + dt.timedelta(hours=8, minutes=1)) is True
    assert stale_station(None, seen) is True
    assert stale_station(seen, seen + dt.timedelta(hours=3), max_silence=dt.timedelta(hours=2))
    shanghai = dt.timezone(dt.timedelta(hours=8))
    assert not stale_station(seen, pd.Timestamp("2024-06-01 23:00", tz=shanghai))


# --- the pipeline --------------------------------------------------------------------------------


def test_aggregate_takes_the_worst_flag_and_names_the_test() -> None:
    # 120 mg/L is outside the physical range (fail) and flagged T (suspect) by the station
    values = on_times([0.30, 0.32, 0.31, 0.33, 120.0, 0.34, 0.33, 0.35, 0.2, 0.31, NAN])
    flags = pd.Series(list("NSNTTNCNNNF"), index=values.index)
    result = quality_flags(values, None, flags, "nh3n")
    assert result.flags.tolist() == [1, 1, 1, 3, 4, 1, 4, 1, 1, 1, 9]
    assert result.tests.tolist() == [
        "", "", "", "station_flag", "gross_range", "", "station_flag", "", "", "", "missing",
    ]  # fmt: skip
    # detail keeps every test's own verdict
    assert list(result.detail.columns) == list(QC_TESTS)
    assert result.detail["station_flag"].tolist() == [1, 2, 1, 3, 3, 1, 4, 1, 1, 1, 4]
    assert result.detail["gross_range"].tolist() == [1, 1, 1, 1, 4, 1, 1, 1, 1, 1, 9]


def test_aggregate_names_each_test() -> None:
    # one hand-made series where each sequence test decides one value
    ranges = dataclasses.replace(qc_ranges("nh3n"), flat_suspect_count=3, flat_fail_count=9)
    times = pd.DatetimeIndex(
        ["2024-06-01 00:00", "2024-06-01 04:00", "2024-06-01 08:00", "2024-06-01 12:00",
         "2024-06-01 16:00", "2024-06-01 20:00", "2024-06-02 00:00", "2024-06-02 04:00",
         "2024-06-02 08:00", "2024-06-02 17:00", "2024-06-02 21:00"]
    )  # fmt: skip
    values = pd.Series([0.3, 0.4, 1.9, 0.4, 0.5, 3.0, 3.1, 3.1, 3.1, 3.2, 3.3], index=times)
    result = quality_flags(values, None, normal(values), "nh3n", ranges=ranges)
    assert result.detail["spike"].tolist() == [2, 1, 3, 1, 1, 1, 1, 1, 1, 1, 2]
    assert result.detail["rate_of_change"].tolist() == [1, 1, 1, 1, 1, 3, 1, 1, 1, 1, 1]
    assert result.detail["flat_line"].tolist() == [1, 1, 1, 1, 1, 1, 1, 1, 3, 1, 1]
    assert result.detail["time_gap"].tolist() == [2, 1, 1, 1, 1, 1, 1, 1, 1, 3, 1]
    assert result.flags.tolist() == [1, 1, 3, 1, 1, 3, 1, 1, 3, 3, 1]
    assert result.tests.tolist() == [
        "", "", "spike", "", "", "rate_of_change", "", "", "flat_line", "time_gap", "",
    ]  # fmt: skip


def test_tie_is_named_by_the_first_test() -> None:
    # over range (T) and outside the plausible range (> 25 mg/L): both suspect → station_flag
    values = on_times([26.0, 26.1, 26.0])
    result = quality_flags(values, None, pd.Series(list("NTN"), index=values.index), "nh3n")
    assert result.flags.tolist() == [3, 3, 3]
    assert result.tests.tolist() == ["gross_range", "station_flag", "gross_range"]


def test_missing_is_nine_whatever_the_station_says() -> None:
    values = on_times([NAN] * 9)
    result = quality_flags(values, None, pd.Series(list("NFMSDCTBN"), index=values.index), "tp")
    assert result.flags.tolist() == [9] * 9
    assert result.tests.tolist() == ["missing"] * 9
    assert not valid_mask(result).any()


def test_the_instrument_span_reaches_the_pipeline() -> None:
    values = on_times([0.38, 0.41, 0.42])
    flags = normal(values)
    assert quality_flags(values, None, flags, "tp").flags.tolist() == [1, 1, 1]
    limit = class_limit("tp", WaterClass.III)  # 0.2 mg/L in rivers → span 0.4
    result = quality_flags(values, None, flags, "tp", target_limit=limit)
    assert result.flags.tolist() == [1, 3, 3]
    assert result.tests.tolist() == ["", "gross_range", "gross_range"]


def test_failed_values_do_not_taint_their_neighbours() -> None:
    # a calibration reading and an impossible value between normal ones
    values = on_times([0.30, 0.31, 5.0, 0.30, 0.31, -9.0, 0.32, 0.31])
    flags = pd.Series(list("NNCNNNNN"), index=values.index)
    result = quality_flags(values, None, flags, "nh3n")
    assert result.flags.tolist() == [1, 1, 4, 1, 1, 4, 1, 1]
    assert result.tests.tolist() == ["", "", "station_flag", "", "", "gross_range", "", ""]
    assert result.detail["spike"].tolist() == [2, 1, 2, 1, 1, 2, 1, 2]
    # the same values with an N flag: the jump to 5.0 and back is seen
    plain = quality_flags(values, None, normal(values), "nh3n")
    assert plain.detail["rate_of_change"].tolist() == [1, 1, 3, 3, 1, 2, 1, 1]
    assert plain.flags.tolist() == [1, 1, 3, 3, 1, 4, 1, 1]


def test_a_station_stop_longer_than_the_gap_flags_the_restart() -> None:
    values = on_times([0.3, 0.31, 0.3, 0.32, 0.31])
    flags = pd.Series(list("NFFNN"), index=values.index)
    result = quality_flags(values, None, flags, "nh3n")
    assert result.flags.tolist() == [1, 4, 4, 3, 1]
    assert result.tests.tolist() == ["", "station_flag", "station_flag", "time_gap", ""]


def test_output_keeps_the_index_with_separate_times() -> None:
    index = pd.Index([101, 102, 103, 104], name="observation_id")
    values = pd.Series([0.3, 0.31, NAN, 0.3], index=index)
    times = pd.Series(four_hourly(4, tz="Asia/Shanghai"), index=index)
    flags = pd.Series(list("NNNN"), index=index)
    result = quality_flags(values, times, flags, "nh3n")
    for series in (result.flags, result.tests, valid_mask(result)):
        assert_index_equal(series.index, index)
    assert_index_equal(result.detail.index, index)
    assert result.flags.name == "qc_flag"
    assert result.tests.name == "qc_test"
    assert result.flags.tolist() == [1, 1, 9, 1]


def test_zone_aware_and_naive_times_agree() -> None:
    raw = [0.3, 0.3, 2.0, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]
    naive = on_times(raw)
    aware = on_times(raw, tz="Asia/Shanghai")
    a = quality_flags(naive, None, normal(naive), "nh3n")
    b = quality_flags(aware, None, normal(aware), "nh3n")
    assert a.flags.tolist() == b.flags.tolist()
    assert a.tests.tolist() == b.tests.tolist()


def test_misaligned_inputs_are_refused() -> None:
    values = on_times([0.3, 0.31, 0.3])
    with pytest.raises(ValueError, match="station_flags has 2 entries"):
        quality_flags(values, None, pd.Series(["N", "N"]), "nh3n")
    with pytest.raises(ValueError, match="station_flags must be on the same index"):
        quality_flags(values, None, pd.Series(["N", "N", "N"]), "nh3n")
    with pytest.raises(ValueError, match="times has 2 entries"):
        quality_flags(values, four_hourly(2), normal(values), "nh3n")


def test_empty_series() -> None:
    values = on_times([])
    result = quality_flags(values, None, pd.Series([], index=values.index, dtype=object), "tp")
    assert len(result.flags) == len(result.tests) == len(result.detail) == 0


# --- validity ------------------------------------------------------------------------------------


def test_valid_mask_counts_suspect_and_over_range_but_never_faults() -> None:
    # S passes like N when the value tests pass; suspect (3) values and the over-range T reading
    # count until a reviewer rejects them; the fault flag D never counts (domain.md §5)
    values = on_times([0.28, 0.29, 0.28, 0.30, 0.31, 0.29, 0.28, 0.9, 0.28])
    flags = pd.Series(list("NSTNNDNSN"), index=values.index)
    result = quality_flags(values, None, flags, "nh3n", target_limit=0.15)  # Ⅰ: span 0.3
    assert result.flags.tolist() == [1, 1, 3, 1, 3, 4, 1, 3, 1]
    mask = valid_mask(result, flags)
    assert mask.tolist() == [True, True, True, True, True, False, True, True, True]
    assert mask.dtype == bool
    assert mask.name == "valid"


def test_valid_mask_leaves_suspects_out_when_the_policy_says_so() -> None:
    values = on_times([0.28, 0.29, 0.28, 0.30, 0.31, 0.29, 0.28, 0.9, 0.28])
    flags = pd.Series(list("NSTNNDNSN"), index=values.index)
    result = quality_flags(values, None, flags, "nh3n", target_limit=0.15)
    policy = ValidityPolicy(count_suspect=False, over_range="exclude")
    mask = valid_mask(result, flags, policy=policy)
    assert mask.tolist() == [True, True, False, True, False, False, True, False, True]


@pytest.mark.parametrize("letter", [s for s, *_ in STATION_TABLE if s not in "NST"])
def test_no_value_with_a_station_fault_flag_is_valid(letter: str) -> None:
    values = on_times([0.3, 0.31, 0.3])
    flags = pd.Series(["N", letter, "N"], index=values.index)
    result = quality_flags(values, None, flags, "nh3n")
    assert valid_mask(result, flags).tolist() == [True, False, True]


# --- properties ----------------------------------------------------------------------------------

_quick = settings(max_examples=150, deadline=None, database=None)
_LETTERS = [*STATION_FLAG_QC, None]


@st.composite
def station_series(draw: st.DrawFn) -> tuple[pd.Series, pd.Series, str]:
    n = draw(st.integers(min_value=0, max_value=40))
    values = draw(
        st.lists(
            st.one_of(
                st.floats(min_value=-5, max_value=50),
                st.floats(allow_nan=True, allow_infinity=True),
                st.sampled_from([0.3, NAN]),
            ),
            min_size=n,
            max_size=n,
        )
    )
    steps = draw(st.lists(st.integers(min_value=1, max_value=24 * 60), min_size=n, max_size=n))
    tz = draw(st.sampled_from([None, "Asia/Shanghai", "UTC"]))
    start = pd.Timestamp("2024-01-01", tz=tz)
    times = pd.DatetimeIndex([start + pd.Timedelta(minutes=m) for m in np.cumsum(steps)])
    if not n:
        times = pd.DatetimeIndex([], tz=tz)
    letters = draw(st.lists(st.sampled_from(_LETTERS), min_size=n, max_size=n))
    series = pd.Series(values, index=times, dtype="float64")
    flags = pd.Series(letters, index=times, dtype=object)
    return series, flags, draw(st.sampled_from(list(qc_table())))


@_quick
@given(case=station_series())
def test_property_nothing_is_removed_and_flags_are_qartod(
    case: tuple[pd.Series, pd.Series, str],
) -> None:
    values, flags, key = case
    result = quality_flags(values, None, flags, key)
    assert len(result.flags) == len(values)
    assert_index_equal(result.flags.index, values.index)
    assert_index_equal(result.tests.index, values.index)
    assert set(result.flags.tolist()) <= {1, 2, 3, 4, 9}
    assert set(result.detail.to_numpy().ravel().tolist()) <= {1, 2, 3, 4, 9}
    assert set(result.tests.tolist()) <= {*QC_TESTS, "missing", ""}
    # 9 exactly for the missing values, and the aggregate is never better than a test's 3 or 4
    assert (result.flags.to_numpy() == 9).tolist() == values.isna().tolist()
    present = values.notna().to_numpy()
    detail = result.detail.to_numpy()
    worst = np.where(np.isin(detail, (3, 4)), detail, 0).max(axis=1, initial=0)
    assert (result.flags.to_numpy()[present] == np.maximum(worst[present], 1)).all()
    # never valid with a fault flag or a QC fail
    valid = valid_mask(result, flags).to_numpy()
    allowed = flags.isin(["N", "S", "T"]).to_numpy() | flags.isna().to_numpy()
    assert not (valid & (result.flags.to_numpy() == 4)).any()
    assert not (valid & ~allowed).any()
    assert not (valid & ~present).any()


@_quick
@given(case=station_series())
def test_property_single_tests_keep_length_and_index(
    case: tuple[pd.Series, pd.Series, str],
) -> None:
    values, flags, key = case
    finite = values.where(np.isfinite(values.to_numpy()), NAN).clip(-1e6, 1e6)
    outputs = [
        station_flag_qc(flags),
        gross_range(values, key),
        spike(finite, key),
        rate_of_change(finite, key),
        flat_line(finite, key),
        time_gap(pd.DatetimeIndex(values.index)),
    ]
    for out in outputs:
        assert_index_equal(out.index, values.index)
        assert set(out.tolist()) <= {1, 2, 3, 4, 9}
