"""Exceedance multiples, tiers and rounding, in exact arithmetic (domain.md §6)."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest

from compensation.tiers import exceedance_multiple, round_to_precision, shown_multiple, tiers

D = Decimal
COD_STEP = D("0.2")
NH3N_STEP = D("0.5")
TP_STEP = D("0.5")

# --- published multiples (official monthly bulletins, domain.md §6) ---------------------------

BULLETIN_MULTIPLES = [
    # (multiple as published, step, tiers derived in the bulletin)
    pytest.param("0.025", COD_STEP, 1, id="hebei-bulletin-2016-01-cod-0.025x-1tier"),
    pytest.param("1.25", COD_STEP, 7, id="hebei-bulletin-2016-01-cod-1.25x-7tiers"),
    pytest.param("0.13", NH3N_STEP, 1, id="hebei-bulletin-2016-01-nh3n-0.13x-1tier"),
    pytest.param("0.615", NH3N_STEP, 2, id="hebei-bulletin-2016-01-nh3n-0.615x-2tiers"),
    pytest.param("0.48", NH3N_STEP, 1, id="baoding-bulletin-2018-02-nh3n-0.48x-1tier"),
]


@pytest.mark.parametrize(("multiple", "step", "expected"), BULLETIN_MULTIPLES)
def test_bulletin_multiples_give_the_published_tiers(
    multiple: str, step: Decimal, expected: int
) -> None:
    assert tiers(Fraction(multiple), step) == expected


# --- exceedance_multiple ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "reference", "expected"),
    [
        ("20.5", "20", Fraction(1, 40)),  # COD Ⅲ, Hebei 2016-01: 0.025
        ("45", "20", Fraction(5, 4)),  # COD Ⅲ, Hebei 2016-01: 1.25
        ("1.13", "1.0", Fraction(13, 100)),  # NH3-N Ⅲ: 0.13
        ("3.23", "2.0", Fraction(123, 200)),  # NH3-N Ⅴ: exactly 0.615
        ("0.45", "0.3", Fraction(1, 2)),  # TP Ⅳ river
        ("24", "20", Fraction(1, 5)),
        ("32", "20", Fraction(3, 5)),
        ("20", "20", Fraction(0)),
        ("18", "20", Fraction(-1, 10)),
    ],
)
def test_exceedance_multiple_is_an_exact_fraction(
    value: str, reference: str, expected: Fraction
) -> None:
    result = exceedance_multiple(D(value), D(reference))
    assert isinstance(result, Fraction)
    assert result == expected


@pytest.mark.parametrize("reference", ["0", "-1"])
def test_exceedance_multiple_needs_a_positive_reference(reference: str) -> None:
    with pytest.raises(ValueError, match="positive"):
        exceedance_multiple(D("1"), D(reference))


# --- tiers: the upper bound of each tier is inclusive ---------------------------------------


@pytest.mark.parametrize(
    ("value", "limit", "step", "expected"),
    [
        pytest.param("24", "20", COD_STEP, 1, id="cod-0.2x-1"),
        pytest.param("28", "20", COD_STEP, 2, id="cod-0.4x-2"),
        pytest.param("32", "20", COD_STEP, 3, id="cod-0.6x-3"),
        pytest.param("24.1", "20", COD_STEP, 2, id="cod-just-above-0.2x-2"),
        pytest.param("32.1", "20", COD_STEP, 4, id="cod-just-above-0.6x-4"),
        pytest.param("1.5", "1.0", NH3N_STEP, 1, id="nh3n-0.5x-1"),
        pytest.param("2.0", "1.0", NH3N_STEP, 2, id="nh3n-1.0x-2"),
        pytest.param("1.51", "1.0", NH3N_STEP, 2, id="nh3n-just-above-0.5x-2"),
        pytest.param("2.01", "1.0", NH3N_STEP, 3, id="nh3n-just-above-1.0x-3"),
        pytest.param("0.3", "0.2", TP_STEP, 1, id="tp-0.5x-1"),
        pytest.param("0.4", "0.2", TP_STEP, 2, id="tp-1.0x-2"),
        pytest.param("0.45", "0.3", TP_STEP, 1, id="tp-river-iv-0.45-0.5x-1"),
        pytest.param("0.451", "0.3", TP_STEP, 2, id="tp-river-iv-just-above-2"),
    ],
)
def test_tiers_on_and_just_above_the_boundaries(
    value: str, limit: str, step: Decimal, expected: int
) -> None:
    assert tiers(exceedance_multiple(D(value), D(limit)), step) == expected


@pytest.mark.parametrize("multiple", [Fraction(0), Fraction(-1, 2)])
def test_no_tiers_when_not_over(multiple: Fraction) -> None:
    assert tiers(multiple, COD_STEP) == 0


def test_float_arithmetic_would_get_the_boundaries_wrong() -> None:
    # The reason for exact arithmetic: in floats the TP multiple is 0.5000000000000001 → 2 tiers.
    assert math.ceil(((0.45 - 0.3) / 0.3) / 0.5) == 2
    assert tiers(exceedance_multiple(D("0.45"), D("0.3")), TP_STEP) == 1
    # and 0.6 / 0.2 is 2.9999999999999996 in floats, exactly 3 here
    assert 0.6 / 0.2 != 3
    assert Fraction(3, 5) / Fraction(COD_STEP) == 3
    assert tiers(Fraction(3, 5), COD_STEP) == 3


def test_tiers_returns_an_int() -> None:
    result = tiers(Fraction(5, 4), COD_STEP)
    assert type(result) is int
    assert result == 7


# --- shown_multiple and round_to_precision --------------------------------------------------


@pytest.mark.parametrize(
    ("multiple", "expected"),
    [
        (Fraction(1, 40), "0.025"),
        (Fraction(5, 4), "1.25"),
        (Fraction(123, 200), "0.615"),
        (Fraction(1, 2), "0.5"),
        (Fraction(1, 3), "0.333333"),
        (Fraction(2, 3), "0.666667"),
    ],
)
def test_shown_multiple(multiple: Fraction, expected: str) -> None:
    shown = shown_multiple(multiple)
    assert isinstance(shown, Decimal)
    assert shown == D(expected)
    assert str(shown) == expected


def test_shown_multiple_prints_whole_multiples_plainly() -> None:
    assert str(shown_multiple(Fraction(10))) == "10"


@pytest.mark.parametrize(
    ("value", "decimals", "expected"),
    [
        ("1.615", 2, "1.62"),  # NH3-N: 5 after an odd digit rounds up
        ("1.625", 2, "1.62"),  # 5 after an even digit rounds down
        ("1.6251", 2, "1.63"),
        ("0.3005", 3, "0.300"),  # TP: meets 0.3
        ("0.3015", 3, "0.302"),
        ("20.45", 1, "20.4"),  # COD
        ("20.55", 1, "20.6"),
        ("1.005", 2, "1.00"),
    ],
)
def test_round_to_precision_is_half_even(value: str, decimals: int, expected: str) -> None:
    result = round_to_precision(D(value), decimals)
    assert str(result) == expected
