"""The one plausibility table (sections/plausibility.py)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from sections.errors import DataTableError
from sections.parameters import parameters
from sections.plausibility import implausible, physical_range, physical_ranges, plausibility_reason
from sections.standards import IndicatorLimits, class_limit, limit_table


def test_every_parameter_has_a_range() -> None:
    assert set(physical_ranges()) == set(parameters())


LIMITS = list(limit_table().values())


@pytest.mark.parametrize("lim", LIMITS, ids=[f"{x.key}-{x.water_body}" for x in LIMITS])
def test_every_class_limit_is_physically_possible(lim: IndicatorLimits) -> None:
    limits = physical_range(lim.key)
    for value in lim.limits:
        assert limits.minimum <= value <= limits.maximum


def test_the_review_findings_are_refused() -> None:
    assert plausibility_reason("cod", 1e9)  # a manual row that billed 7,499,999,940 万元
    assert plausibility_reason("nh3n", 1000.5)
    assert plausibility_reason("ph", 14.2) and plausibility_reason("ph", -0.1)
    assert plausibility_reason("do", math.inf)
    assert plausibility_reason("nh3n", 1000.0) == ""  # the edge itself is possible
    assert plausibility_reason("nh3n", math.nan) == ""  # no reading is not refused
    assert plausibility_reason("cod", 2 * class_limit("cod", 5)) == ""  # polluted is possible


def test_the_vector_form_keeps_the_index() -> None:
    reasons = implausible("tp", pd.Series([0.1, 250.0, None], index=[7, 8, 9]))
    assert reasons.index.tolist() == [7, 8, 9]
    assert reasons.eq("").tolist() == [True, False, True]
    assert "超出物理可能范围" in reasons.loc[8]


def test_unknown_key_names_the_table() -> None:
    with pytest.raises(DataTableError, match=r"plausibility\.csv"):
        physical_range("nothing")
