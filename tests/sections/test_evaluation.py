"""Classification under GB 3838-2002 and 环办〔2011〕22号: classes at and around every limit,
rounding, kinds in and out, section class, exceedance multiples, main pollutants, properties, and
the national published classes of a real snapshot."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pandas.testing import assert_series_equal

from sections._kernel import interval_table
from sections.classes import WaterClass
from sections.errors import DataTableError
from sections.evaluation import (
    NO_MULTIPLE,
    classify_frame,
    exceedance_multiple,
    indicator_class,
    main_pollutants,
    round_half_even,
    section_class,
)
from sections.standards import indicator_limits, limit_table, precision
from tests.reference import SHARED_DATA, require

SOURCE = "GB 3838-2002 表1"
ROMAN = ("Ⅰ", "Ⅱ", "Ⅲ", "Ⅳ", "Ⅴ")

# --- classes at, just below and just above every limit -------------------------------------------
#
# Per item (written by hand from domain.md §3–§4): the evaluation unit (one unit of the precision),
# the limits of Ⅰ…Ⅴ, and the class a value gets AT each limit, one unit BELOW it and one unit ABOVE.
# Upper limits: at = the best class sharing that limit; below = at (limits are further apart than
# one unit); above = the next class with a larger limit, or 劣Ⅴ (6). DO is a lower limit: above it
# stays in the class, one unit below falls to the next class.
BOUNDARIES: list[tuple[str, str, str, tuple[str, ...], tuple[int, ...], tuple[int, ...],
                       tuple[int, ...]]] = [
    # key, body, unit, limits Ⅰ…Ⅴ, at, below, above
    ("do", "all", "0.1", ("7.5", "6", "5", "3", "2"),
     (1, 2, 3, 4, 5), (2, 3, 4, 5, 6), (1, 2, 3, 4, 5)),
    ("codmn", "all", "0.1", ("2", "4", "6", "10", "15"),
     (1, 2, 3, 4, 5), (1, 2, 3, 4, 5), (2, 3, 4, 5, 6)),
    ("cod", "all", "0.1", ("15", "15", "20", "30", "40"),
     (1, 1, 3, 4, 5), (1, 1, 3, 4, 5), (3, 3, 4, 5, 6)),
    ("bod5", "all", "0.1", ("3", "3", "4", "6", "10"),
     (1, 1, 3, 4, 5), (1, 1, 3, 4, 5), (3, 3, 4, 5, 6)),
    ("nh3n", "all", "0.01", ("0.15", "0.5", "1.0", "1.5", "2.0"),
     (1, 2, 3, 4, 5), (1, 2, 3, 4, 5), (2, 3, 4, 5, 6)),
    ("tp", "river", "0.001", ("0.02", "0.1", "0.2", "0.3", "0.4"),
     (1, 2, 3, 4, 5), (1, 2, 3, 4, 5), (2, 3, 4, 5, 6)),
    ("tp", "lake", "0.001", ("0.01", "0.025", "0.05", "0.1", "0.2"),
     (1, 2, 3, 4, 5), (1, 2, 3, 4, 5), (2, 3, 4, 5, 6)),
    ("tn", "lake", "0.01", ("0.2", "0.5", "1.0", "1.5", "2.0"),
     (1, 2, 3, 4, 5), (1, 2, 3, 4, 5), (2, 3, 4, 5, 6)),
    ("cu", "all", "0.001", ("0.01", "1.0", "1.0", "1.0", "1.0"),
     (1, 2, 2, 2, 2), (1, 2, 2, 2, 2), (2, 6, 6, 6, 6)),
    ("zn", "all", "0.001", ("0.05", "1.0", "1.0", "2.0", "2.0"),
     (1, 2, 2, 4, 4), (1, 2, 2, 4, 4), (2, 4, 4, 6, 6)),
    ("fluoride", "all", "0.001", ("1.0", "1.0", "1.0", "1.5", "1.5"),
     (1, 1, 1, 4, 4), (1, 1, 1, 4, 4), (4, 4, 4, 6, 6)),
    ("se", "all", "0.0001", ("0.01", "0.01", "0.01", "0.02", "0.02"),
     (1, 1, 1, 4, 4), (1, 1, 1, 4, 4), (4, 4, 4, 6, 6)),
    ("as", "all", "0.0001", ("0.05", "0.05", "0.05", "0.1", "0.1"),
     (1, 1, 1, 4, 4), (1, 1, 1, 4, 4), (4, 4, 4, 6, 6)),
    ("hg", "all", "0.00001", ("0.00005", "0.00005", "0.0001", "0.001", "0.001"),
     (1, 1, 3, 4, 4), (1, 1, 3, 4, 4), (3, 3, 4, 6, 6)),
    ("cd", "all", "0.00001", ("0.001", "0.005", "0.005", "0.005", "0.01"),
     (1, 2, 2, 2, 5), (1, 2, 2, 2, 5), (2, 5, 5, 5, 6)),
    ("cr6", "all", "0.001", ("0.01", "0.05", "0.05", "0.05", "0.1"),
     (1, 2, 2, 2, 5), (1, 2, 2, 2, 5), (2, 5, 5, 5, 6)),
    ("pb", "all", "0.001", ("0.01", "0.01", "0.05", "0.05", "0.1"),
     (1, 1, 3, 3, 5), (1, 1, 3, 3, 5), (3, 3, 5, 5, 6)),
    ("cyanide", "all", "0.001", ("0.005", "0.05", "0.2", "0.2", "0.2"),
     (1, 2, 3, 3, 3), (1, 2, 3, 3, 3), (2, 3, 6, 6, 6)),
    ("phenol", "all", "0.0001", ("0.002", "0.002", "0.005", "0.01", "0.1"),
     (1, 1, 3, 4, 5), (1, 1, 3, 4, 5), (3, 3, 4, 5, 6)),
    ("petroleum", "all", "0.01", ("0.05", "0.05", "0.05", "0.5", "1.0"),
     (1, 1, 1, 4, 5), (1, 1, 1, 4, 5), (4, 4, 4, 5, 6)),
    ("las", "all", "0.01", ("0.2", "0.2", "0.2", "0.3", "0.3"),
     (1, 1, 1, 4, 4), (1, 1, 1, 4, 4), (4, 4, 4, 6, 6)),
    ("sulfide", "all", "0.001", ("0.05", "0.1", "0.2", "0.5", "1.0"),
     (1, 2, 3, 4, 5), (1, 2, 3, 4, 5), (2, 3, 4, 5, 6)),
    ("fecal_coliform", "all", "1", ("200", "2000", "10000", "20000", "40000"),
     (1, 2, 3, 4, 5), (1, 2, 3, 4, 5), (2, 3, 4, 5, 6)),
]  # fmt: skip


def _boundary_cases() -> list[object]:
    cases = []
    for key, body, unit, limits, at, below, above in BOUNDARIES:
        for water_body in ("river", "lake") if body == "all" else (body,):
            for i, text in enumerate(limits):
                limit, step = Decimal(text), Decimal(unit)
                name = f"{SOURCE} {key} {water_body} {ROMAN[i]}"
                cases += [
                    pytest.param(key, water_body, float(limit), at[i], id=f"{name} at {limit}"),
                    pytest.param(key, water_body, float(limit - step), below[i],
                                 id=f"{name} below {limit - step}"),
                    pytest.param(key, water_body, float(limit + step), above[i],
                                 id=f"{name} above {limit + step}"),
                ]  # fmt: skip
    return cases


@pytest.mark.parametrize(("key", "water_body", "value", "expected"), _boundary_cases())
def test_class_at_and_around_every_limit(
    key: str, water_body: str, value: float, expected: int
) -> None:
    assert indicator_class(value, key, water_body=water_body) == expected


@pytest.mark.parametrize(
    ("key", "water_body", "value", "expected"),
    [
        ("codmn", "river", 15.1, 6), ("codmn", "river", 100.0, 6), ("cod", "river", 40.1, 6),
        ("nh3n", "river", 2.01, 6), ("nh3n", "river", 25.0, 6), ("tp", "river", 0.401, 6),
        ("tp", "lake", 0.201, 6), ("tp", "lake", 0.3, 6), ("tn", "lake", 2.01, 6),
        ("do", "river", 1.9, 6), ("do", "lake", 0.0, 6), ("hg", "river", 0.00101, 6),
        ("fecal_coliform", "river", 40001.0, 6),
    ],
)  # fmt: skip
def test_beyond_class_v_is_worse_than_v(
    key: str, water_body: str, value: float, expected: int
) -> None:
    assert indicator_class(value, key, water_body=water_body) == expected


def test_tp_same_value_differs_between_rivers_and_lakes() -> None:
    # 0.06: river Ⅱ (≤ 0.1), lake Ⅳ (≤ 0.1, > 0.05)
    assert indicator_class(0.06, "tp") == 2
    assert indicator_class(0.06, "tp", water_body="lake") == 4


# --- pH: a range, rounded to an integer ---------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (6.0, 1), (7.0, 1), (9.0, 1), (6.5, 1), (8.5, 1), (9.4, 1), (9.49, 1),
        (5.5, 1),  # 5.5 rounds half to even to 6 → inside 6–9
        (5.6, 1), (5.4, 6), (5.0, 6), (9.5, 6),  # 9.5 rounds half to even to 10
        (9.6, 6), (10.0, 6), (3.0, 6), (np.nan, np.nan),
    ],
)  # fmt: skip
def test_ph_6_to_9_after_rounding_to_an_integer(value: float, expected: float) -> None:
    result = indicator_class(value, "ph")
    if np.isnan(expected):
        assert np.isnan(result)
    else:
        assert result == expected


def test_ph_is_the_same_for_lakes() -> None:
    classes = indicator_class(np.array([5.4, 6.0, 9.4, 9.6]), "ph", water_body="lake")
    np.testing.assert_array_equal(classes, [6.0, 1.0, 1.0, 6.0])


# --- rounding half to even ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "decimals", "expected"),
    [
        (2.675, 2, 2.68), (2.665, 2, 2.66), (1.005, 2, 1.0), (1.015, 2, 1.02), (1.025, 2, 1.02),
        (0.2005, 3, 0.2), (0.2015, 3, 0.202), (0.2025, 3, 0.202), (6.05, 1, 6.0),
        (6.15, 1, 6.2), (4.85, 1, 4.8), (4.95, 1, 5.0), (0.5, 0, 0.0), (1.5, 0, 2.0),
        (2.5, 0, 2.0), (9.5, 0, 10.0), (8.5, 0, 8.0), (1.0049, 2, 1.0), (1.0051, 2, 1.01),
        (1.0149, 2, 1.01), (0.000055, 5, 0.00006), (0.000065, 5, 0.00006), (20000.5, 0, 20000.0),
    ],
)  # fmt: skip
def test_round_half_even_as_written_in_decimal(
    value: float, decimals: int, expected: float
) -> None:
    result = round_half_even(np.array([value, -value]), decimals)
    np.testing.assert_array_equal(result, [expected, -expected])


@pytest.mark.parametrize(
    ("value", "decimals", "expected"), [(2.675, 2, 2.68), (0.2005, 3, 0.2), (9.5, 0, 10.0)]
)
def test_round_half_even_scalar_gives_float(value: float, decimals: int, expected: float) -> None:
    result = round_half_even(value, decimals)
    assert type(result) is float
    assert result == expected


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        pytest.param("nh3n", 1.005, 3, id="nh3n 1.005→1.00 Ⅲ"),
        pytest.param("nh3n", 1.015, 4, id="nh3n 1.015→1.02 Ⅳ"),
        pytest.param("nh3n", 0.505, 2, id="nh3n 0.505→0.50 Ⅱ"),
        pytest.param("nh3n", 0.515, 3, id="nh3n 0.515→0.52 Ⅲ"),
        pytest.param("tp", 0.2005, 3, id="tp 0.2005→0.200 Ⅲ"),
        pytest.param("tp", 0.2015, 4, id="tp 0.2015→0.202 Ⅳ"),
        pytest.param("codmn", 6.05, 3, id="codmn 6.05→6.0 Ⅲ"),
        pytest.param("codmn", 6.15, 4, id="codmn 6.15→6.2 Ⅳ"),
        pytest.param("do", 4.95, 3, id="do 4.95→5.0 Ⅲ"),
        pytest.param("do", 4.85, 4, id="do 4.85→4.8 Ⅳ"),
        pytest.param("cod", 20.05, 3, id="cod 20.05→20.0 Ⅲ"),
        pytest.param("cod", 20.15, 4, id="cod 20.15→20.2 Ⅳ"),
    ],
)
def test_rounding_half_to_even_decides_at_the_boundary(
    key: str, value: float, expected: int
) -> None:
    assert indicator_class(value, key) == expected


def test_round_half_even_same_kind_out() -> None:
    array = round_half_even(np.array([2.675, 1.005, np.nan]), 2)
    assert isinstance(array, np.ndarray)
    np.testing.assert_array_equal(array, [2.68, 1.0, np.nan])
    series = pd.Series([0.2005, 0.2015], index=["a", "b"], name="tp")
    assert_series_equal(round_half_even(series, 3), pd.Series([0.2, 0.202], ["a", "b"], name="tp"))
    assert np.isnan(round_half_even(np.array([np.nan]), 1)).all()


# --- same kind in, same kind out ----------------------------------------------------------------


def test_indicator_class_scalar_gives_float() -> None:
    result = indicator_class(1.2, "nh3n")
    assert type(result) is float
    assert result == 4.0


def test_indicator_class_ndarray_gives_ndarray() -> None:
    result = indicator_class(np.array([0.1, 0.4, 0.9, 1.4, 1.9, 2.5, np.nan]), "nh3n")
    assert isinstance(result, np.ndarray)
    assert result.shape == (7,)
    np.testing.assert_array_equal(result, [1, 2, 3, 4, 5, 6, np.nan])


def test_indicator_class_2d_array_keeps_its_shape() -> None:
    result = indicator_class(np.array([[0.1, 2.5], [1.0, 1.1]]), "nh3n")
    np.testing.assert_array_equal(result, [[1.0, 6.0], [3.0, 4.0]])


def test_indicator_class_series_keeps_index_and_name() -> None:
    values = pd.Series([8.0, 5.5, np.nan, 1.0], index=[10, 20, 30, 40], name="do")
    expected = pd.Series([1.0, 3.0, np.nan, 6.0], index=[10, 20, 30, 40], name="do")
    assert_series_equal(indicator_class(values, "do"), expected)


def test_nan_gives_nan() -> None:
    assert np.isnan(indicator_class(float("nan"), "tp"))
    assert np.isnan(indicator_class(float("nan"), "do"))
    assert np.isnan(exceedance_multiple(float("nan"), "tp"))


# --- water bodies -------------------------------------------------------------------------------


def test_per_row_water_body_array() -> None:
    values = np.array([0.06, 0.06, 0.15, 0.15])
    classes = indicator_class(values, "tp", water_body=["river", "lake", "river", "lake"])
    np.testing.assert_array_equal(classes, [2.0, 4.0, 3.0, 5.0])


def test_per_row_water_body_series_with_series_values() -> None:
    values = pd.Series([0.06, 0.06], index=["x", "y"], name="tp")
    bodies = pd.Series(["lake", "river"], index=["x", "y"])
    expected = pd.Series([4.0, 2.0], index=["x", "y"], name="tp")
    assert_series_equal(indicator_class(values, "tp", water_body=bodies), expected)


def test_tn_per_row_is_nan_in_rivers() -> None:
    classes = indicator_class(np.array([0.8, 0.8, 2.5]), "tn", water_body=["river", "lake", "lake"])
    np.testing.assert_array_equal(classes, [np.nan, 3.0, 6.0])


def test_tn_in_rivers_only_raises() -> None:
    with pytest.raises(DataTableError, match="valid keys"):
        indicator_class(0.8, "tn")


@pytest.mark.parametrize("water_body", ["sea", "River", ["river", "ocean"]])
def test_unknown_water_body_raises_value_error(water_body: object) -> None:
    with pytest.raises(ValueError, match="unknown water body"):
        indicator_class(np.array([0.1, 0.1]), "tp", water_body=water_body)  # type: ignore[arg-type]


def test_water_body_array_of_the_wrong_length_raises() -> None:
    with pytest.raises(ValueError, match="shape"):
        indicator_class(np.array([0.1, 0.1, 0.1]), "tp", water_body=["river", "lake"])


def test_unknown_key_raises_data_table_error() -> None:
    with pytest.raises(DataTableError, match="valid keys"):
        indicator_class(1.0, "ammonia")


# --- section class ------------------------------------------------------------------------------


def test_section_class_is_the_worst_deciding_class() -> None:
    classes = pd.DataFrame(
        {"ph": [1.0, 1.0, 6.0], "do": [2.0, 1.0, 1.0], "codmn": [3.0, 2.0, 1.0],
         "nh3n": [2.0, 5.0, 1.0], "tp": [4.0, np.nan, 2.0]},
        index=["a", "b", "c"],
    )  # fmt: skip
    expected = pd.Series([4.0, 5.0, 6.0], index=["a", "b", "c"])
    assert_series_equal(section_class(classes), expected)


def test_tn_fecal_coliform_and_temperature_never_decide() -> None:
    classes = pd.DataFrame(
        {"nh3n": [2.0, np.nan], "tp": [3.0, np.nan], "tn": [6.0, 6.0],
         "fecal_coliform": [6.0, 6.0], "temp": [6.0, 6.0]}
    )  # fmt: skip
    result = section_class(classes)
    assert result.iloc[0] == 3.0
    assert np.isnan(result.iloc[1])


def test_all_missing_gives_nan() -> None:
    classes = pd.DataFrame({"codmn": [np.nan, np.nan], "nh3n": [np.nan, 1.0]})
    result = section_class(classes)
    assert np.isnan(result.iloc[0])
    assert result.iloc[1] == 1.0
    only_tn = section_class(pd.DataFrame({"tn": [4.0]}, index=[7]))
    assert_series_equal(only_tn, pd.Series([np.nan], index=[7]))


def test_classify_frame_lake_tn_is_separate() -> None:
    frame = pd.DataFrame(
        {"ph": [8.0, 8.0], "do": [8.0, 8.0], "codmn": [3.0, 3.0], "nh3n": [0.3, 0.3],
         "tp": [0.02, 0.02], "tn": [2.6, 2.6], "temp": [25.0, 25.0]},
        index=["湖心", "河口"],
    )  # fmt: skip
    result = classify_frame(frame, water_body=["lake", "river"])
    # lake: TP 0.02 → Ⅱ (lake column), TN 2.6 → 劣Ⅴ only in tn_class; river: TP 0.02 → Ⅰ
    assert_series_equal(result.section_class, pd.Series([2.0, 2.0], index=["湖心", "河口"]))
    expected_tn = pd.Series([6.0, np.nan], index=["湖心", "河口"])
    assert_series_equal(result.tn_class, expected_tn, check_names=False)
    assert result.classes.loc["湖心", "tp"] == 2.0
    assert result.classes.loc["河口", "tp"] == 1.0
    assert "temp" not in result.classes.columns
    assert result.pollutants.isna().all().all()


def test_classify_frame_all_lake_with_tn() -> None:
    frame = pd.DataFrame({"codmn": [5.0], "tn": [1.2]})
    result = classify_frame(frame, water_body="lake")
    assert result.section_class.tolist() == [3.0]
    assert result.tn_class.tolist() == [4.0]


def test_classify_frame_rivers_ignore_tn() -> None:
    frame = pd.DataFrame({"codmn": [5.0], "tn": [9.0]})
    result = classify_frame(frame)
    assert result.section_class.tolist() == [3.0]
    assert "tn" not in result.classes.columns
    assert np.isnan(result.tn_class.iloc[0])


def test_classify_frame_docstring_example() -> None:
    frame = pd.DataFrame({"ph": [7.8], "do": [8.4], "codmn": [4.62], "nh3n": [0.118],
                          "tp": [0.071]})  # fmt: skip
    result = classify_frame(frame)
    assert result.classes.iloc[0].tolist() == [1.0, 1.0, 3.0, 1.0, 2.0]
    assert result.section_class.tolist() == [3.0]


# --- exceedance multiples -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "water_body", "expected"),
    [
        ("nh3n", 1.5, "river", 0.5), ("nh3n", 3.0, "river", 2.0), ("nh3n", 1.0, "river", 0.0),
        ("nh3n", 0.2, "river", 0.0), ("nh3n", 1.005, "river", 0.0),  # 1.005 → 1.00, meets
        ("nh3n", 1.015, "river", 0.02), ("codmn", 9.0, "river", 0.5), ("tp", 0.3, "river", 0.5),
        ("tp", 0.3, "lake", 5.0), ("cod", 30.0, "river", 0.5), ("tn", 1.5, "lake", 0.5),
        ("hg", 0.0005, "river", 4.0), ("fecal_coliform", 25000.0, "river", 1.5),
    ],
)  # fmt: skip
def test_exceedance_multiple_against_class_iii(
    key: str, value: float, water_body: str, expected: float
) -> None:
    result = exceedance_multiple(value, key, water_body=water_body)
    assert type(result) is float
    assert result == pytest.approx(expected, abs=1e-12)


def test_exceedance_multiple_against_a_target_class() -> None:
    assert exceedance_multiple(1.5, "nh3n", against=2) == pytest.approx(2.0)
    assert exceedance_multiple(1.5, "nh3n", against=WaterClass.IV) == 0.0
    assert exceedance_multiple(0.45, "tp", against=4) == pytest.approx(0.5)
    assert exceedance_multiple(0.45, "tp", against=5) == pytest.approx(0.125)


def test_exceedance_multiple_per_row_targets() -> None:
    values = pd.Series([1.5, 1.5, 1.5, np.nan, 0.1], index=list("abcde"), name="nh3n")
    result = exceedance_multiple(values, "nh3n", against=[2, 3, 4, 3, 1])
    expected = pd.Series([2.0, 0.5, 0.0, np.nan, 0.0], index=list("abcde"), name="nh3n")
    assert_series_equal(result, expected)


def test_exceedance_multiple_per_row_water_body_and_targets() -> None:
    result = exceedance_multiple(
        np.array([0.3, 0.3, 0.15]), "tp", against=[3, 3, 2], water_body=["river", "lake", "lake"]
    )
    np.testing.assert_allclose(result, [0.5, 5.0, 5.0])


@pytest.mark.parametrize("key", ["ph", "do", "temp"])
def test_no_multiple_for_ph_do_temperature(key: str) -> None:
    with pytest.raises(ValueError, match="no exceedance multiple"):
        exceedance_multiple(8.0, key)


@pytest.mark.parametrize("against", [0, 6, [3, 6]])
def test_exceedance_multiple_against_only_classes_i_to_v(against: object) -> None:
    with pytest.raises(ValueError, match="Ⅰ–Ⅴ"):
        exceedance_multiple(np.array([1.0, 2.0]), "nh3n", against=against)  # type: ignore[arg-type]


def test_classify_frame_multiples_vs_iii_and_target() -> None:
    frame = pd.DataFrame({"do": [4.0, 8.0], "codmn": [9.0, 3.0], "nh3n": [1.5, 0.2]})
    result = classify_frame(frame, target=[2, 3])
    assert list(result.multiples_vs_iii.columns) == ["codmn", "nh3n"]
    np.testing.assert_allclose(result.multiples_vs_iii.to_numpy(), [[0.5, 0.5], [0.0, 0.0]])
    assert result.multiples_vs_target is not None
    np.testing.assert_allclose(result.multiples_vs_target.to_numpy(), [[1.25, 2.0], [0.0, 0.0]])
    assert classify_frame(frame).multiples_vs_target is None


# --- main pollutants ----------------------------------------------------------------------------


def _keys(pollutants: pd.DataFrame) -> list[list[str | None]]:
    """Rows of pollutant keys, None where there is none (whatever marks a missing one)."""
    return [
        [value if isinstance(value, str) else None for value in row]
        for row in pollutants.astype(object).to_numpy()
    ]


def _pollutants(frame: pd.DataFrame, water_body: str = "river") -> list[list[str | None]]:
    result = classify_frame(frame, water_body=water_body)
    assert list(result.pollutants.columns) == ["pollutant_1", "pollutant_2", "pollutant_3"]
    return _keys(result.pollutants)


def test_no_main_pollutants_when_class_iii_or_better() -> None:
    frame = pd.DataFrame({"codmn": [6.0, 2.0], "nh3n": [1.0, 0.1], "tp": [0.2, 0.02]})
    assert _pollutants(frame) == [[None, None, None], [None, None, None]]


def test_at_most_three_worst_class_first() -> None:
    # codmn 15 → Ⅴ (m 1.5), nh3n 2.1 → 劣Ⅴ (m 1.1), tp 0.25 → Ⅳ (m 0.25), bod5 8 → Ⅴ (m 1.0),
    # cod 35 → Ⅴ (m 0.75)
    frame = pd.DataFrame(
        {"codmn": [15.0], "nh3n": [2.1], "tp": [0.25], "bod5": [8.0], "cod": [35.0]}
    )
    assert _pollutants(frame) == [["nh3n", "codmn", "bod5"]]


def test_ties_in_class_broken_by_exceedance_multiple() -> None:
    # all 劣Ⅴ; multiples: codmn (16−6)/6 = 1.67, nh3n 1.5, tp (1.0−0.2)/0.2 = 4.0
    frame = pd.DataFrame({"codmn": [16.0], "nh3n": [2.5], "tp": [1.0]})
    assert _pollutants(frame) == [["tp", "codmn", "nh3n"]]


def test_only_items_of_class_iv_or_worse() -> None:
    frame = pd.DataFrame({"codmn": [5.0], "nh3n": [1.8], "tp": [0.1], "do": [5.5]})
    assert _pollutants(frame) == [["nh3n", None, None]]


def test_heavy_metals_first_when_they_exceed() -> None:
    # zn 1.5 → Ⅳ only, the others 劣Ⅴ: zn still first
    frame = pd.DataFrame({"codmn": [20.0], "nh3n": [3.0], "tp": [0.5], "zn": [1.5]})
    assert _pollutants(frame) == [["zn", "codmn", "nh3n"]]


def test_cyanide_and_heavy_metals_first_by_class() -> None:
    # cyanide 0.3 → 劣Ⅴ, pb 0.08 → Ⅴ, codmn 20 and nh3n 3 → 劣Ⅴ
    frame = pd.DataFrame({"codmn": [20.0], "nh3n": [3.0], "pb": [0.08], "cyanide": [0.3]})
    assert _pollutants(frame) == [["cyanide", "pb", "codmn"]]


def test_heavy_metals_that_meet_class_iii_are_not_listed() -> None:
    frame = pd.DataFrame(
        {"codmn": [20.0], "nh3n": [3.0], "cu": [0.5], "cd": [0.005], "cyanide": [0.2]}
    )
    assert _pollutants(frame) == [["codmn", "nh3n", None]]


@pytest.mark.parametrize(
    "metal, value",
    [("cu", 1.2), ("zn", 1.5), ("se", 0.015), ("as", 0.08), ("hg", 0.0005), ("cd", 0.008),
     ("cr6", 0.08), ("pb", 0.08), ("cyanide", 0.3)],
)  # fmt: skip
def test_each_priority_item_comes_first(metal: str, value: float) -> None:
    frame = pd.DataFrame({"codmn": [30.0], "nh3n": [5.0], "tp": [2.0], metal: [value]})
    assert _pollutants(frame)[0][0] == metal


def test_main_pollutants_direct_call_keeps_index() -> None:
    classes = pd.DataFrame(
        {"codmn": [6.0, 4.0, 2.0], "nh3n": [6.0, 3.0, 2.0], "tn": [6.0, 6.0, 6.0]},
        index=["a", "b", "c"],
    )
    multiples = pd.DataFrame({"codmn": [1.0, 0.3, 0.0], "nh3n": [2.0, 0.0, 0.0]}, index=list("abc"))
    result = main_pollutants(classes, multiples, section_class(classes))
    assert list(result.columns) == ["pollutant_1", "pollutant_2", "pollutant_3"]
    assert list(result.index) == ["a", "b", "c"]
    assert _keys(result) == [["nh3n", "codmn", None], ["codmn", None, None], [None, None, None]]


# --- properties over random frames --------------------------------------------------------------

_value = {
    "ph": st.floats(4.0, 11.0),
    "do": st.floats(0.0, 14.0),
    "codmn": st.floats(0.0, 30.0),
    "nh3n": st.floats(0.0, 5.0),
    "tp": st.floats(0.0, 1.0),
}
_row = st.fixed_dictionaries(
    {key: st.one_of(strategy, st.just(float("nan"))) for key, strategy in _value.items()}
    | {"water_body": st.sampled_from(["river", "lake"])}
)
_frames = st.lists(_row, min_size=1, max_size=12).map(pd.DataFrame)
_quick = settings(max_examples=150, deadline=None, database=None)


def _classify(frame: pd.DataFrame) -> pd.Series:
    values = frame.drop(columns="water_body")
    return classify_frame(values, water_body=frame["water_body"]).section_class


@_quick
@given(frame=_frames, key=st.sampled_from(["codmn", "nh3n", "tp"]), data=st.data())
def test_raising_a_pollutant_never_improves_the_class(
    frame: pd.DataFrame, key: str, data: st.DataObject
) -> None:
    row = data.draw(st.integers(0, len(frame) - 1))
    delta = data.draw(st.floats(0.0, 10.0))
    raised = frame.copy()
    raised.loc[row, key] = raised.loc[row, key] + delta
    before, after = _classify(frame), _classify(raised)
    assert ((after >= before) | (before.isna() & after.isna())).all()
    before_item = indicator_class(frame[key], key, water_body=frame["water_body"])
    after_item = indicator_class(raised[key], key, water_body=frame["water_body"])
    assert ((after_item >= before_item) | before_item.isna()).all()


@_quick
@given(frame=_frames, data=st.data())
def test_raising_do_never_worsens_the_class(frame: pd.DataFrame, data: st.DataObject) -> None:
    row = data.draw(st.integers(0, len(frame) - 1))
    delta = data.draw(st.floats(0.0, 10.0))
    raised = frame.copy()
    raised.loc[row, "do"] = raised.loc[row, "do"] + delta
    before, after = _classify(frame), _classify(raised)
    assert ((after <= before) | (before.isna() & after.isna())).all()


@_quick
@given(frame=_frames)
def test_section_class_is_the_max_of_the_indicator_classes(frame: pd.DataFrame) -> None:
    bodies = frame["water_body"]
    separate = pd.DataFrame(
        {key: indicator_class(frame[key], key, water_body=bodies) for key in _value}
    )
    result = _classify(frame)
    expected = separate.max(axis=1, skipna=True)
    assert_series_equal(result, expected, check_names=False)
    assert result.dropna().isin([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).all()


# --- long inputs: the same answers on every row ----------------------------------------------

_LONG = 200_003  # several hundred thousand rows, not a multiple of the 5-row pattern
_PATTERN = pd.DataFrame(
    {
        "ph": [7.5, 7.5, 7.5, 7.5, np.nan],
        "do": [8.0, 8.0, 4.0, 1.5, np.nan],
        "codmn": [3.0, 3.0, 12.0, 5.0, np.nan],
        "nh3n": [0.3, 0.3, 2.5, 0.5, np.nan],
        "tp": [0.05, 0.05, 0.25, 0.15, np.nan],
        "tn": [5.0, 1.2, 1.0, 0.1, np.nan],
    }
)
_BODIES = ["river", "lake", "river", "lake", "river"]


def _long(pattern: object) -> np.ndarray:
    return np.resize(np.asarray(pattern, dtype=object), _LONG)


def test_long_indicator_class_and_multiples_per_row() -> None:
    bodies = _long(_BODIES)
    tp = np.resize(_PATTERN["tp"].to_numpy(), _LONG)
    classes = indicator_class(tp, "tp", water_body=bodies)
    np.testing.assert_array_equal(classes, np.resize([2.0, 3.0, 4.0, 5.0, np.nan], _LONG))
    nh3n = pd.Series(np.resize(_PATTERN["nh3n"].to_numpy(), _LONG))
    targets = np.resize([1, 3, 4, 1, 2], _LONG)
    multiples = exceedance_multiple(nh3n, "nh3n", against=targets)
    expected = np.resize([1.0, 0.0, 1 / 1.5, 0.35 / 0.15, np.nan], _LONG)
    np.testing.assert_allclose(multiples.to_numpy(), expected, rtol=1e-12)


def test_long_classify_frame_gives_the_pattern_on_every_row() -> None:
    frame = pd.DataFrame({key: np.resize(_PATTERN[key].to_numpy(), _LONG) for key in _PATTERN})
    result = classify_frame(
        frame, water_body=_long(_BODIES), target=np.resize([1, 3, 4, 1, 2], _LONG)
    )
    # river Ⅱ; lake Ⅲ (TP lake); river 劣Ⅴ; lake 劣Ⅴ (DO 1.5); nothing
    np.testing.assert_array_equal(
        result.section_class.to_numpy(), np.resize([2.0, 3.0, 6.0, 6.0, np.nan], _LONG)
    )
    np.testing.assert_array_equal(
        result.tn_class.to_numpy(), np.resize([np.nan, 4.0, np.nan, 1.0, np.nan], _LONG)
    )
    assert result.multiples_vs_target is not None
    np.testing.assert_allclose(
        result.multiples_vs_target["nh3n"].to_numpy(),
        np.resize([1.0, 0.0, 1 / 1.5, 0.35 / 0.15, np.nan], _LONG),
        rtol=1e-12,
    )
    pattern = [
        [None, None, None],
        [None, None, None],
        ["nh3n", "codmn", "tp"],  # 劣Ⅴ, Ⅴ, then Ⅳ: TP (m 0.25) before DO (no multiple)
        ["do", "tp", None],  # DO 劣Ⅴ, lake TP Ⅴ
        [None, None, None],
    ]
    keys = _keys(result.pollutants)
    assert len(keys) == _LONG
    assert all(row == pattern[i % 5] for i, row in enumerate(keys))


# --- the national published classes ------------------------------------------------------------


def test_national_snapshot_reproduces_every_published_class() -> None:
    data = pd.read_csv(require(SHARED_DATA / "cnemc" / "national-2025-11-07.csv"))
    assert len(data) == 1565
    assert set(data["water_body"]) == {"river", "lake"}
    parameters = ["temp", "ph", "do", "conductivity", "turbidity", "codmn", "nh3n", "tp", "tn",
                  "chla", "algae"]  # fmt: skip
    result = classify_frame(data[parameters], water_body=data["water_body"])
    published = data["published_class"].astype("float64")
    wrong = data.loc[result.section_class != published, ["section", "water_body"]]
    assert wrong.empty, f"{len(wrong)} rows differ, e.g. {wrong.head(10).to_dict('records')}"
    # both Hengshui sections are in the snapshot
    assert {"小范桥", "衡水湖大湖心"} <= set(data["section"])


# --- the fast path against a straightforward reference ------------------------------------------
#
# The reference reads the rule as written, one value at a time: round half to even
# (round_half_even, the definition), then the best class whose limit the value meets (pH: 6–9),
# (C − L) / L against Class Ⅲ and the target class, and the main pollutants by sorting each row.
# Inputs mix plain floats with decimal values written to one more place than the precision
# (exact halves such as 0.2005), every limit and one unit and half a unit either side of it,
# negatives and NaN, in rivers and lakes.

_KEYS = ("ph", "do", "codmn", "nh3n", "tp", "tn", "cd")  # cd: a priority item with equal limits
_SPANS = {"ph": 12.0, "do": 12.0, "codmn": 25.0, "nh3n": 3.0, "tp": 0.6, "tn": 3.0, "cd": 0.02}


def _edges(key: str) -> list[float]:
    decimals = precision(key)
    unit = Decimal(1).scaleb(-decimals)
    table = limit_table()
    limits = {limit for (k, _), lim in table.items() if k == key for limit in lim.limits}
    values = set()
    for limit in (6, 9) if key == "ph" else limits:
        exact = Decimal(str(limit))
        for step in (-unit, -unit / 2, 0, unit / 2, unit):
            values.add(float(exact + step))
    return sorted(values)


def _values(key: str) -> st.SearchStrategy[float]:
    places = precision(key) + 1
    span = _SPANS[key]
    top = int(span * 10**places)
    return st.one_of(
        st.floats(-0.1 * span, span),
        st.integers(0, top).map(lambda n: float(Decimal(n).scaleb(-places))),
        st.sampled_from(_edges(key)),
        st.just(float("nan")),
    )


_reference_rows = st.lists(
    st.fixed_dictionaries(
        {key: _values(key) for key in _KEYS}
        | {"water_body": st.sampled_from(["river", "lake"]), "target": st.integers(1, 5)}
    ),
    min_size=1,
    max_size=40,
).map(pd.DataFrame)


def _reference_class(value: float, key: str, body: str) -> float:
    table = limit_table()
    if np.isnan(value) or (key, body) not in table:
        return np.nan
    rounded = float(round_half_even(value, precision(key)))
    limits = table[(key, body)]
    if limits.direction == "range":
        return 1.0 if 6 <= rounded <= 9 else 6.0
    for number, limit in enumerate(limits.limits, start=1):
        if (rounded >= limit) if limits.direction == "ge" else (rounded <= limit):
            return float(number)  # the best class whose limit the value meets
    return 6.0


def _reference_multiple(value: float, key: str, body: str, against: int) -> float:
    table = limit_table()
    if np.isnan(value) or (key, body) not in table:
        return np.nan
    limit = table[(key, body)].limits[against - 1]
    return max((float(round_half_even(value, precision(key))) - limit) / limit, 0.0)


def _reference_pollutants(
    classes: dict[str, float], multiples: dict[str, float], deciding: list[str]
) -> list[str | None]:
    worst = max((classes[k] for k in deciding if not np.isnan(classes[k])), default=np.nan)
    if not worst >= 4:
        return [None, None, None]
    table = limit_table()
    exceeding = [k for k in deciding if classes[k] >= 4]
    exceeding.sort(
        key=lambda k: (
            -(8 * table[(k, "river")].priority + classes[k]),
            -np.nan_to_num(multiples.get(k, 0.0)),
            deciding.index(k),
        )
    )
    listed: list[str | None] = [*exceeding, None, None, None]
    return listed[:3]


@settings(max_examples=200, deadline=None, database=None)
@given(frame=_reference_rows)
def test_classify_frame_matches_the_rule_value_by_value(frame: pd.DataFrame) -> None:
    values = frame[list(_KEYS)]
    bodies, targets = frame["water_body"], frame["target"].to_numpy()
    result = classify_frame(values, water_body=bodies, target=targets)
    deciding = [k for k in _KEYS if k != "tn"]
    assert result.multiples_vs_target is not None
    for i, (_, row) in enumerate(values.iterrows()):
        body = bodies.iloc[i]
        classes = {k: _reference_class(row[k], k, body) for k in _KEYS}
        multiples = {
            k: _reference_multiple(row[k], k, body, 3) for k in _KEYS if k not in NO_MULTIPLE
        }
        for key in _KEYS:  # a column no row has a limit for is left out (TN, all rivers)
            _assert_same(_at(result.classes, key, i), classes[key], f"class of {key}={row[key]!r}")
        for key, expected in multiples.items():
            _assert_same(_at(result.multiples_vs_iii, key, i), expected, f"multiple of {key}")
            against = int(targets[i])
            _assert_same(
                _at(result.multiples_vs_target, key, i),
                _reference_multiple(row[key], key, body, against),
                f"multiple of {key} against {against}",
            )
        worst = max((classes[k] for k in deciding if not np.isnan(classes[k])), default=np.nan)
        _assert_same(result.section_class.iloc[i], worst, "section class")
        _assert_same(result.tn_class.iloc[i], classes["tn"], "lake TN")
        assert _keys(result.pollutants)[i] == _reference_pollutants(classes, multiples, deciding)


def _at(frame: pd.DataFrame, key: str, row: int) -> float:
    return float(frame[key].iloc[row]) if key in frame else np.nan


def _assert_same(got: float, expected: float, what: str) -> None:
    """Equal as floats, NaN equal to NaN."""
    assert (np.isnan(got) and np.isnan(expected)) or got == expected, (what, got, expected)


@settings(max_examples=200, deadline=None, database=None)
@given(data=st.data(), key=st.sampled_from(_KEYS), body=st.sampled_from(["river", "lake"]))
def test_indicator_class_matches_the_rule(data: st.DataObject, key: str, body: str) -> None:
    if (key, body) not in limit_table():
        return
    values = data.draw(st.lists(_values(key), min_size=1, max_size=50))
    result = indicator_class(np.array(values), key, water_body=body)
    for value, got in zip(values, result, strict=True):
        _assert_same(got, _reference_class(value, key, body), f"{key}={value!r} in a {body}")


@pytest.mark.parametrize(
    ("key", "body"),
    sorted(limit_table()),
    ids=[f"{SOURCE} {k} {b}" for k, b in sorted(limit_table())],
)
def test_class_on_both_sides_of_every_bound_matches_the_rule(key: str, body: str) -> None:
    # the kernel's bounds are where the rule's class changes: check the float at each bound
    # and the next one up, for every item of the table
    limits = indicator_limits(key, body)
    table = interval_table(limits.direction, limits.limits, precision(key))
    points = np.concatenate([table.bounds, np.nextafter(table.bounds, np.inf)])
    result = indicator_class(points, key, water_body=body)
    expected = [_reference_class(float(p), key, body) for p in points]
    np.testing.assert_array_equal(result, expected)
