"""River and basin status from section shares (环办〔2011〕22号), and trend wording."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sections.basin import STATUS_LEVELS, StatusThresholds, basin_status, trend_wording
from sections.classes import WaterClass

SOURCE = "环办〔2011〕22号"


def _sections(good: int, middle: int, worst: int) -> pd.Series:
    """``good`` sections of Class Ⅱ, ``middle`` of Class Ⅳ/Ⅴ, ``worst`` of 劣Ⅴ."""
    middle_classes = [4 if i % 2 == 0 else 5 for i in range(middle)]
    return pd.Series([2] * good + middle_classes + [6] * worst, dtype="float64")


@pytest.mark.parametrize(
    ("good", "middle", "worst", "label"),
    [
        pytest.param(*case, id=f"{SOURCE} {case[3]} p={case[0]}/{sum(case[:3])} q={case[2]}")
        for case in [
            (10, 0, 0, "优"),            # p = 100 %
            (18, 2, 0, "优"),            # p = 90 %, boundary
            (9, 1, 0, "优"),             # p = 90 %, boundary
            (17, 3, 0, "良好"),          # p = 85 %
            (15, 5, 0, "良好"),          # p = 75 %, boundary
            (15, 0, 5, "良好"),          # p = 75 %, q = 25 %: still 良好
            (14, 6, 0, "轻度污染"),      # p = 70 %, q = 0
            (14, 3, 3, "轻度污染"),      # p = 70 %, q = 15 %
            (10, 9, 1, "轻度污染"),      # q = 5 %
            (10, 6, 4, "中度污染"),      # q = 20 %, boundary
            (10, 3, 7, "中度污染"),      # q = 35 %
            (0, 13, 7, "中度污染"),      # p = 0, q = 35 %
            (10, 2, 8, "重度污染"),      # q = 40 %, boundary
            (2, 0, 8, "重度污染"),       # q = 80 %
            (0, 0, 5, "重度污染"),       # q = 100 %
        ]
    ],
)  # fmt: skip
def test_status_by_shares(good: int, middle: int, worst: int, label: str) -> None:
    classes = _sections(good, middle, worst)
    status = basin_status(classes)
    assert status.label == label
    assert status.method == "shares"
    assert status.sections == good + middle + worst
    assert status.good_share == pytest.approx(good / len(classes))
    assert status.worse_than_v_share == pytest.approx(worst / len(classes))


def test_class_iii_counts_as_good_and_v_does_not_count_as_worse_than_v() -> None:
    # 9 of 10 in Ⅰ–Ⅲ (one each of Ⅰ and Ⅲ) → 优; a Ⅴ is not 劣Ⅴ
    status = basin_status(pd.Series([1, 3, 3, 3, 3, 3, 3, 3, 3, 5]))
    assert status.label == "优"
    assert status.good_share == pytest.approx(0.9)
    assert status.worse_than_v_share == 0.0


def test_docstring_example() -> None:
    status = basin_status(pd.Series([2, 3, 3, 4, 6, 3, 2, 3, 3, 4]))
    assert (status.label, status.good_share, status.worse_than_v_share) == ("轻度污染", 0.7, 0.1)


def test_sections_without_a_class_are_not_assessable() -> None:
    # 4 good of 5 assessable → p = 80 % → 良好 (counting the NaN as a section would give 轻度污染)
    status = basin_status(pd.Series([1, 2, 2, 3, np.nan, 6, np.nan]))
    assert status.sections == 5
    assert status.good_share == pytest.approx(0.8)
    assert status.worse_than_v_share == pytest.approx(0.2)
    assert status.label == "良好"


def test_no_assessable_section_gives_no_status() -> None:
    status = basin_status(pd.Series([np.nan, np.nan]))
    assert status.label is None
    assert status.method == "none"
    assert status.sections == 0


def test_configurable_thresholds() -> None:
    classes = _sections(14, 6, 0)  # p = 70 %
    assert basin_status(classes).label == "轻度污染"
    assert basin_status(classes, thresholds=StatusThresholds(good=0.60)).label == "良好"
    assert basin_status(classes, thresholds=StatusThresholds(excellent=0.70)).label == "优"
    heavy = _sections(10, 5, 5)  # q = 25 %
    assert basin_status(heavy).label == "中度污染"
    assert basin_status(heavy, thresholds=StatusThresholds(heavy=0.25)).label == "重度污染"
    assert basin_status(heavy, thresholds=StatusThresholds(moderate=0.30)).label == "轻度污染"


def test_default_thresholds() -> None:
    defaults = StatusThresholds()
    assert (defaults.excellent, defaults.good, defaults.moderate, defaults.heavy) == (
        0.90, 0.75, 0.20, 0.40
    )  # fmt: skip
    assert defaults.min_sections == 5


# --- fewer than 5 sections: classify the mean values -------------------------------------------


def test_fewer_than_5_sections_classify_the_mean_values() -> None:
    # every section alone is Ⅲ or better, but the mean NH3-N (0.5 + 1.0 + 1.8) / 3 = 1.1 is Ⅳ
    classes = pd.Series([2, 3, 5], index=["a", "b", "c"])
    values = pd.DataFrame(
        {"nh3n": [0.5, 1.0, 1.8], "codmn": [3.0, 4.0, 5.0]}, index=["a", "b", "c"]
    )
    status = basin_status(classes, values=values)
    assert status.method == "mean_values"
    assert status.sections == 3
    assert status.mean_class == WaterClass.IV
    assert status.label == "轻度污染"
    assert status.good_share is None


def test_mean_values_leave_out_sections_without_a_class() -> None:
    classes = pd.Series([2.0, np.nan, 2.0], index=["a", "x", "b"])
    values = pd.DataFrame({"nh3n": [0.4, 9.0, 0.6]}, index=["a", "x", "b"])
    status = basin_status(classes, values=values)
    assert status.sections == 2
    assert status.mean_class == WaterClass.II  # mean 0.5, not 3.33
    assert status.label == "优"


def test_mean_values_use_the_lake_columns_for_lakes() -> None:
    classes = pd.Series([3, 3])
    values = pd.DataFrame({"tp": [0.05, 0.07]})  # mean 0.06: river Ⅱ, lake Ⅳ
    assert basin_status(classes, values=values).mean_class == WaterClass.II
    lake = basin_status(classes, values=values, water_body="lake")
    assert lake.mean_class == WaterClass.IV
    assert lake.label == "轻度污染"


def test_fewer_than_5_sections_without_values_raises() -> None:
    with pytest.raises(ValueError, match="fewer than 5 sections"):
        basin_status(pd.Series([2, 3, 3, 4]))


def test_five_sections_use_shares() -> None:
    status = basin_status(pd.Series([2, 2, 2, 2, 6]))
    assert status.method == "shares"
    assert status.label == "良好"  # p = 80 %


def test_min_sections_is_configurable() -> None:
    classes = pd.Series([2, 2, 2, 2, 6])
    values = pd.DataFrame({"codmn": [3.0, 3.0, 3.0, 3.0, 20.0]})  # mean 6.4 → Ⅳ
    status = basin_status(classes, values=values, thresholds=StatusThresholds(min_sections=6))
    assert status.method == "mean_values"
    assert status.mean_class == WaterClass.IV


# --- trend wording ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after", "wording"),
    [
        pytest.param(*case, id=f"{SOURCE} {case[0]}→{case[1]}")
        for case in [
            ("良好", "良好", "无明显变化"), ("优", "优", "无明显变化"),
            ("轻度污染", "良好", "有所好转"), ("良好", "轻度污染", "有所变差"),
            ("中度污染", "良好", "明显好转"), ("优", "轻度污染", "明显变差"),
            ("重度污染", "优", "明显好转"), ("优", "重度污染", "明显变差"),
            ("优", "中度污染", "明显变差"), ("重度污染", "中度污染", "有所好转"),
        ]
    ],
)  # fmt: skip
def test_trend_wording(before: str, after: str, wording: str) -> None:
    assert trend_wording(before, after) == wording


@pytest.mark.parametrize(("before", "after"), [("好", "优"), ("优", "excellent"), ("", "良好")])
def test_trend_wording_unknown_status_raises(before: str, after: str) -> None:
    with pytest.raises(ValueError, match="unknown status"):
        trend_wording(before, after)


def test_status_levels_from_best_to_worst() -> None:
    assert STATUS_LEVELS == ("优", "良好", "轻度污染", "中度污染", "重度污染")
