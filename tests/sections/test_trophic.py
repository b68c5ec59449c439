"""Lake trophic state: TLI(Σ) and its grades (总站生字〔2001〕090号, domain.md §4)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_series_equal

from sections.trophic import TLI_CORRELATIONS, tli, trophic_state

SOURCE = "总站生字〔2001〕090号"


# the single-parameter formulas, written out from domain.md §4
def _tli_chla(x: float) -> float:
    return 10 * (2.5 + 1.086 * math.log(x))


def _tli_tp(x: float) -> float:
    return 10 * (9.436 + 1.624 * math.log(x))


def _tli_tn(x: float) -> float:
    return 10 * (5.453 + 1.694 * math.log(x))


def _tli_sd(x: float) -> float:
    return 10 * (5.118 - 1.94 * math.log(x))


def _tli_codmn(x: float) -> float:
    return 10 * (0.109 + 2.661 * math.log(x))


FORMULAS = {"chla": _tli_chla, "tp": _tli_tp, "tn": _tli_tn, "sd": _tli_sd, "codmn": _tli_codmn}

# value → TLI(j) by hand: e.g. chla 10 mg/m³: 25 + 10.86 × ln 10 = 50.0066
SINGLE = [
    ("chla", 10.0, 50.00607), ("chla", 1.0, 25.0), ("tp", 0.05, 45.70931), ("tp", 1.0, 94.36),
    ("tn", 1.0, 54.53), ("tn", 2.0, 66.27191), ("sd", 1.0, 51.18), ("sd", 0.5, 64.62706),
    ("codmn", 4.0, 37.97929), ("codmn", 1.0, 1.09),
]  # fmt: skip


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [pytest.param(k, v, e, id=f"{SOURCE} TLI({k}) {v}") for k, v, e in SINGLE],
)
def test_single_parameter_tli_equals_its_formula(key: str, value: float, expected: float) -> None:
    result = tli(**{key: value})
    assert result == pytest.approx(expected, abs=1e-4)
    assert result == pytest.approx(FORMULAS[key](value), rel=1e-12)


def test_correlations_as_published() -> None:
    assert dict(TLI_CORRELATIONS) == {"chla": 1.0, "tp": 0.84, "tn": 0.82, "sd": -0.83,
                                      "codmn": 0.83}  # fmt: skip


def test_two_parameters_weighted_by_r_squared() -> None:
    # (1² × 50.00607 + 0.84² × 45.70931) / (1 + 0.7056) = 48.22852
    expected = (1.0 * _tli_chla(10.0) + 0.84**2 * _tli_tp(0.05)) / (1.0 + 0.84**2)
    assert tli(chla=10.0, tp=0.05) == pytest.approx(expected, rel=1e-12)
    assert tli(chla=10.0, tp=0.05) == pytest.approx(48.22852, abs=1e-4)
    # without chla: TN and SD, weights 0.6724 and 0.6889
    expected = (0.6724 * _tli_tn(1.0) + 0.6889 * _tli_sd(1.0)) / (0.6724 + 0.6889)
    assert tli(tn=1.0, sd=1.0) == pytest.approx(expected, rel=1e-12)


# values at which each single index is exactly 0 (solve the formula for TLI(j) = 0)
_ZERO = {
    "chla": math.exp(-2.5 / 1.086),
    "tp": math.exp(-9.436 / 1.624),
    "tn": math.exp(-5.453 / 1.694),
    "sd": math.exp(5.118 / 1.94),
    "codmn": math.exp(-0.109 / 2.661),
}


@pytest.mark.parametrize(
    ("key", "weight"),
    [pytest.param(k, w, id=f"{SOURCE} W({k})")
     for k, w in [("chla", 0.2663), ("tp", 0.1879), ("tn", 0.1790), ("sd", 0.1834),
                  ("codmn", 0.1834)]],
)  # fmt: skip
def test_weights_with_all_five_parameters(key: str, weight: float) -> None:
    # all other indices are 0, so TLI(Σ) = W(key) × TLI(key)
    inputs = dict(_ZERO)
    inputs[key] = {"chla": 10.0, "tp": 0.05, "tn": 1.0, "sd": 1.0, "codmn": 4.0}[key]
    component = FORMULAS[key](inputs[key])
    assert tli(**inputs) / component == pytest.approx(weight, abs=1e-4)


def test_all_five_docstring_example() -> None:
    expected = (
        0.2663 * 50.00607 + 0.1879 * 45.70931 + 0.1790 * 54.53 + 0.1834 * 51.18
        + 0.1834 * 37.97929
    )  # fmt: skip
    result = tli(chla=10.0, tp=0.05, tn=1.0, sd=1.0, codmn=4.0)
    assert result == pytest.approx(expected, abs=0.01)
    assert round(result, 1) == 48.0


@pytest.mark.parametrize("bad", [0.0, -1.0, np.nan])
def test_non_positive_or_missing_values_are_ignored(bad: float) -> None:
    assert tli(chla=10.0, tp=bad) == pytest.approx(_tli_chla(10.0), rel=1e-12)
    assert tli(tp=0.05, sd=bad) == pytest.approx(_tli_tp(0.05), rel=1e-12)


def test_nothing_positive_gives_nan() -> None:
    assert math.isnan(tli(chla=0.0, tp=-0.1))
    assert math.isnan(tli(sd=np.nan))


def test_no_parameter_raises() -> None:
    with pytest.raises(ValueError, match="at least one"):
        tli()


def test_row_wise_renormalisation_in_arrays() -> None:
    result = tli(chla=np.array([10.0, 10.0, -1.0]), tp=np.array([0.05, 0.0, 0.05]))
    assert isinstance(result, np.ndarray)
    np.testing.assert_allclose(
        result, [48.22852, _tli_chla(10.0), _tli_tp(0.05)], rtol=0, atol=1e-4
    )


def test_series_in_series_out() -> None:
    chla = pd.Series([10.0, 1.0], index=["大湖心", "小湖"])
    tp = pd.Series([0.05, 1.0], index=["大湖心", "小湖"])
    result = tli(chla=chla, tp=tp)
    expected = pd.Series([48.22852, (25.0 + 0.7056 * 94.36) / 1.7056], index=["大湖心", "小湖"])
    assert_series_equal(result, expected, atol=1e-4, rtol=0)


def test_series_given_after_a_missing_parameter_keeps_its_index() -> None:
    tp = pd.Series([0.05], index=[42])
    result = tli(tp=tp)
    assert isinstance(result, pd.Series)
    assert list(result.index) == [42]


def test_scalar_in_float_out() -> None:
    result = tli(chla=10.0)
    assert type(result) is float


def test_scalar_with_series_keeps_every_row() -> None:
    tp = pd.Series([0.05, 1.0], index=["a", "b"])
    result = tli(chla=10.0, tp=tp)
    assert isinstance(result, pd.Series)
    expected = pd.Series([48.22852, (50.00607 + 0.7056 * 94.36) / 1.7056], index=["a", "b"])
    assert_series_equal(result, expected, atol=1e-4, rtol=0)


# --- grades -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("index", "grade"),
    [
        pytest.param(v, g, id=f"{SOURCE} {v} {g}")
        for v, g in [
            (0.0, "贫营养"), (29.9, "贫营养"), (30.0, "中营养"), (50.0, "中营养"),
            (50.1, "轻度富营养"), (60.0, "轻度富营养"), (60.1, "中度富营养"),
            (70.0, "中度富营养"), (70.1, "重度富营养"), (95.0, "重度富营养"),
        ]
    ],
)  # fmt: skip
def test_trophic_grades_at_their_boundaries(index: float, grade: str) -> None:
    assert trophic_state(index) == grade


def test_trophic_state_of_nan_is_none() -> None:
    assert trophic_state(float("nan")) is None


def test_trophic_state_series_keeps_index() -> None:
    values = pd.Series([29.9, np.nan, 70.1], index=["a", "b", "c"])
    expected = pd.Series(["贫营养", None, "重度富营养"], index=["a", "b", "c"], dtype=object)
    assert_series_equal(trophic_state(values), expected)


def test_trophic_state_array() -> None:
    result = trophic_state(np.array([30.0, 60.1]))
    assert isinstance(result, np.ndarray)
    assert result.tolist() == ["中营养", "中度富营养"]
