"""The one validity rule (sections.validity), as a table over every combination (domain.md §5)."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest

from sections.validity import (
    DEFAULT_POLICY,
    ValidityPolicy,
    over_range_value,
    validity_frame,
    value_validity,
)

STATION_FLAGS = ["N", "S", "T", "F", "M", "D", "C", "B", None, "X"]
QC_FLAGS = [1, 2, 3, 4, 9, None]
REVIEWS = [None, "pending", "accepted", "rejected", "replaced"]

# What each station flag means for counting, written out by hand from domain.md §5.
NORMAL = {"N", "S", None}
FAULT = {"F", "M", "D", "C", "B"}


def expected(flag: str | None, qc: int | None, review: str | None) -> tuple[bool, bool, bool]:
    """(counts, lower_bound, needs_review) by the rule as the domain reference states it."""
    if review == "rejected":
        return False, False, False
    if review == "replaced":
        return True, False, False
    accepted = review == "accepted"
    if flag in FAULT:
        return False, False, False
    if flag == "X":  # a letter no table knows: not counted, a person must look
        return False, False, not accepted
    if qc in (9, 4):
        return False, False, False
    if flag == "T":  # over range: a lower bound, counted and queued
        return True, True, not accepted
    if qc == 3:  # suspect: counted until a reviewer rejects it
        return True, False, not accepted
    assert flag in NORMAL
    return True, False, False


CASES = list(itertools.product(STATION_FLAGS, QC_FLAGS, REVIEWS))


@pytest.mark.parametrize(("flag", "qc", "review"), CASES, ids=[f"{f}-{q}-{r}" for f, q, r in CASES])
def test_every_combination_of_station_flag_qc_flag_and_review(
    flag: str | None, qc: int | None, review: str | None
) -> None:
    verdict = value_validity(flag, qc, qc_test="spike", review_status=review)
    assert (verdict.counts, verdict.lower_bound, verdict.needs_review) == expected(flag, qc, review)
    assert (verdict.reason == "") == verdict.counts


def test_the_frame_form_agrees_with_the_scalar_rule_on_every_combination() -> None:
    flags, qcs, reviews = zip(*CASES, strict=True)
    frame = validity_frame(list(flags), list(qcs), ["spike"] * len(CASES), list(reviews))
    for i, (flag, qc, review) in enumerate(CASES):
        verdict = value_validity(flag, qc, qc_test="spike", review_status=review)
        assert frame["counts"].iat[i] == verdict.counts
        assert frame["lower_bound"].iat[i] == verdict.lower_bound
        assert frame["needs_review"].iat[i] == verdict.needs_review
        assert frame["reason"].iat[i] == verdict.reason


def test_old_rule_findings_no_longer_hold() -> None:
    # findings of the review: T and a passing S were dropped, a suspect value was left out
    assert value_validity("T", None).counts
    assert value_validity("S", 1).counts
    assert value_validity("N", 3, qc_test="time_gap").counts
    assert value_validity("N", 3, qc_test="time_gap").suspect


def test_reasons_name_the_flag_and_the_test() -> None:
    assert value_validity("M", 1).reason == "station_flag:M"
    assert value_validity("N", 4, qc_test="gross_range").reason == "qc:4:gross_range"
    assert value_validity("N", 9).reason == "missing"
    assert value_validity("N", 3, review_status="rejected").reason == "review:rejected"


def test_the_policy_can_leave_suspect_and_over_range_values_out() -> None:
    strict = ValidityPolicy(count_suspect=False, over_range="exclude")
    assert value_validity("N", 3, qc_test="spike", policy=strict).reason == "qc:3:spike"
    assert value_validity("T", 3, policy=strict).reason == "station_flag:T"
    # a reviewer's acceptance makes a suspect count even then
    assert value_validity("N", 3, review_status="accepted", policy=strict).counts
    assert DEFAULT_POLICY.count_suspect and DEFAULT_POLICY.over_range == "lower_bound"
    with pytest.raises(ValueError, match="over_range"):
        ValidityPolicy(over_range="drop")  # type: ignore[arg-type]


def test_missing_and_nan_cells_read_as_no_flag() -> None:
    frame = validity_frame(
        pd.Series([None, float("nan"), "N"], index=[7, 8, 9]), [float("nan"), 1.0, 3.0]
    )
    assert frame.index.tolist() == [7, 8, 9]
    assert frame["counts"].tolist() == [True, True, True]
    assert frame["suspect"].tolist() == [False, False, True]


def test_an_over_range_reading_counts_at_least_the_instrument_span() -> None:
    readings = pd.Series([1.6, 3.0, 0.5], index=list("abc"))
    spans = pd.Series([2.0, 2.0, float("nan")], index=list("abc"))
    assert over_range_value(readings, spans).tolist() == [2.0, 3.0, 0.5]


def test_unequal_columns_are_refused() -> None:
    with pytest.raises(ValueError, match="length"):
        validity_frame(["N", "N"], [1])
