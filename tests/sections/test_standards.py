"""GB 3838-2002 表1 limits and the evaluation precisions, as shipped in ``sections/data``.

The expected table below is copied by hand from domain.md §3 (GB 3838-2002 表1), independently of
``sections/data/gb3838_limits.csv``; the precisions from domain.md §4 (环办〔2011〕22号).
"""

from __future__ import annotations

import dataclasses
from importlib import resources

import pytest

from sections.errors import DataTableError
from sections.standards import (
    DEFAULT_STANDARD,
    class_limit,
    evaluation_indicators,
    indicator_limits,
    limit_table,
    precision,
)

SOURCE = "GB 3838-2002 表1"
ROMAN = ("Ⅰ", "Ⅱ", "Ⅲ", "Ⅳ", "Ⅴ")

# key, water body ("all" = rivers and lakes), direction, limits of Ⅰ…Ⅴ — domain.md §3
TABLE_1: list[tuple[str, str, str, tuple[float, float, float, float, float]]] = [
    ("do", "all", "ge", (7.5, 6, 5, 3, 2)),
    ("codmn", "all", "le", (2, 4, 6, 10, 15)),
    ("cod", "all", "le", (15, 15, 20, 30, 40)),
    ("bod5", "all", "le", (3, 3, 4, 6, 10)),
    ("nh3n", "all", "le", (0.15, 0.5, 1.0, 1.5, 2.0)),
    ("tp", "river", "le", (0.02, 0.1, 0.2, 0.3, 0.4)),
    ("tp", "lake", "le", (0.01, 0.025, 0.05, 0.1, 0.2)),
    ("tn", "lake", "le", (0.2, 0.5, 1.0, 1.5, 2.0)),
    ("cu", "all", "le", (0.01, 1.0, 1.0, 1.0, 1.0)),
    ("zn", "all", "le", (0.05, 1.0, 1.0, 2.0, 2.0)),
    ("fluoride", "all", "le", (1.0, 1.0, 1.0, 1.5, 1.5)),
    ("se", "all", "le", (0.01, 0.01, 0.01, 0.02, 0.02)),
    ("as", "all", "le", (0.05, 0.05, 0.05, 0.1, 0.1)),
    ("hg", "all", "le", (0.00005, 0.00005, 0.0001, 0.001, 0.001)),
    ("cd", "all", "le", (0.001, 0.005, 0.005, 0.005, 0.01)),
    ("cr6", "all", "le", (0.01, 0.05, 0.05, 0.05, 0.1)),
    ("pb", "all", "le", (0.01, 0.01, 0.05, 0.05, 0.1)),
    ("cyanide", "all", "le", (0.005, 0.05, 0.2, 0.2, 0.2)),
    ("phenol", "all", "le", (0.002, 0.002, 0.005, 0.01, 0.1)),
    ("petroleum", "all", "le", (0.05, 0.05, 0.05, 0.5, 1.0)),
    ("las", "all", "le", (0.2, 0.2, 0.2, 0.3, 0.3)),
    ("sulfide", "all", "le", (0.05, 0.1, 0.2, 0.5, 1.0)),
    ("fecal_coliform", "all", "le", (200, 2000, 10000, 20000, 40000)),
]


def _bodies(body: str) -> tuple[str, ...]:
    return ("river", "lake") if body == "all" else (body,)


CELLS = [
    pytest.param(key, water_body, klass, limits[klass - 1],
                 id=f"{SOURCE} {key} {water_body} {ROMAN[klass - 1]}")
    for key, body, _, limits in TABLE_1
    for water_body in _bodies(body)
    for klass in range(1, 6)
]  # fmt: skip

ROWS = [
    pytest.param(key, water_body, direction, limits, id=f"{SOURCE} {key} {water_body}")
    for key, body, direction, limits in TABLE_1
    for water_body in _bodies(body)
]

# the 21 deciding items of 环办〔2011〕22号, in table order
DECIDING = (
    "ph", "do", "codmn", "cod", "bod5", "nh3n", "tp", "cu", "zn", "fluoride", "se",
    "as", "hg", "cd", "cr6", "pb", "cyanide", "phenol", "petroleum", "las", "sulfide",
)  # fmt: skip

# domain.md §4: evaluation precision (decimals) before classifying
PRECISIONS = {
    "ph": 0, "do": 1, "codmn": 1, "cod": 1, "bod5": 1, "nh3n": 2, "tp": 3, "tn": 2,
    "cu": 3, "zn": 3, "fluoride": 3, "cr6": 3, "pb": 3, "cyanide": 3, "sulfide": 3,
    "se": 4, "as": 4, "phenol": 4, "hg": 5, "cd": 5, "petroleum": 2, "las": 2,
}  # fmt: skip


# --- the tables load ----------------------------------------------------------------------------


def test_limit_table_loads_every_item_for_rivers_and_lakes() -> None:
    table = limit_table()
    river = {key for key, body in table if body == "river"}
    lake = {key for key, body in table if body == "lake"}
    assert river == set(DECIDING) | {"fecal_coliform"}
    assert lake == set(DECIDING) | {"fecal_coliform", "tn"}
    assert len(table) == 45


def test_limit_table_is_read_only_and_cached() -> None:
    table = limit_table()
    with pytest.raises(TypeError):
        table[("x", "river")] = table[("nh3n", "river")]  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        table[("nh3n", "river")].limits = (0, 0, 0, 0, 0)  # type: ignore[misc]
    assert limit_table() is limit_table()
    assert limit_table(DEFAULT_STANDARD) == limit_table()


@pytest.mark.parametrize("name", ["gb3838_limits.csv", "precision.csv"])
def test_data_files_state_their_source_on_the_first_line(name: str) -> None:
    text = resources.files("sections").joinpath("data", name).read_text("utf-8")
    first = text.splitlines()[0]
    assert first.startswith("# source:")
    assert "[V" in first


# --- every cell of Table 1 ----------------------------------------------------------------------


@pytest.mark.parametrize(("key", "water_body", "klass", "expected"), CELLS)
def test_class_limit_equals_gb3838_table_1(
    key: str, water_body: str, klass: int, expected: float
) -> None:
    assert class_limit(key, klass, water_body) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(("key", "water_body", "direction", "limits"), ROWS)
def test_indicator_limits_row_equals_gb3838_table_1(
    key: str, water_body: str, direction: str, limits: tuple[float, ...]
) -> None:
    row = indicator_limits(key, water_body)  # type: ignore[arg-type]
    assert row.key == key
    assert row.water_body == water_body
    assert row.direction == direction
    assert row.limits == limits


@pytest.mark.parametrize("water_body", ["river", "lake"])
def test_ph_is_a_range_for_every_class(water_body: str) -> None:
    assert indicator_limits("ph", water_body).direction == "range"  # type: ignore[arg-type]


def test_default_water_body_is_river() -> None:
    assert indicator_limits("tp").limits == (0.02, 0.1, 0.2, 0.3, 0.4)
    assert class_limit("tp", 3) == 0.2


@pytest.mark.parametrize("klass", [0, 6, 7])
def test_class_limit_only_for_classes_i_to_v(klass: int) -> None:
    with pytest.raises(ValueError, match="no limit"):
        class_limit("nh3n", klass)


def test_priority_marks_cyanide_and_heavy_metals() -> None:
    priority = {key for (key, body), lim in limit_table().items() if lim.priority}
    assert priority == {"cyanide", "cu", "zn", "se", "as", "hg", "cd", "cr6", "pb"}


# --- unknown keys -------------------------------------------------------------------------------


def test_unknown_key_raises_data_table_error_naming_valid_keys() -> None:
    with pytest.raises(DataTableError) as caught:
        indicator_limits("chromium")
    message = str(caught.value)
    assert "'chromium'" in message
    assert "gb3838_limits.csv" in message
    assert "valid keys:" in message
    for key in ("codmn", "cr6", "nh3n", "tp"):
        assert key in message
    assert isinstance(caught.value, KeyError)


def test_tn_has_no_river_limit() -> None:
    with pytest.raises(DataTableError) as caught:
        indicator_limits("tn", "river")
    message = str(caught.value)
    assert "river" in message
    valid = message.split("valid keys:")[1]
    assert "nh3n" in valid
    assert "tn" not in [k.strip() for k in valid.split(",")]
    with pytest.raises(DataTableError):
        class_limit("tn", 3)


@pytest.mark.parametrize("key", ["temp", "conductivity", "chla"])
def test_items_without_class_limits_are_not_in_the_table(key: str) -> None:
    with pytest.raises(DataTableError):
        indicator_limits(key, "lake")


# --- evaluation indicators ----------------------------------------------------------------------


@pytest.mark.parametrize("water_body", ["river", "lake"])
def test_evaluation_indicators_are_the_21_items(water_body: str) -> None:
    items = evaluation_indicators(water_body)  # type: ignore[arg-type]
    assert items == DECIDING
    assert len(items) == 21
    assert not {"temp", "tn", "fecal_coliform"} & set(items)


def test_tn_and_fecal_coliform_do_not_decide_the_class() -> None:
    assert indicator_limits("tn", "lake").decides_class is False
    assert indicator_limits("fecal_coliform").decides_class is False
    assert indicator_limits("tp", "lake").decides_class is True


# --- precisions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "decimals"),
    [pytest.param(k, d, id=f"环办〔2011〕22号 {k}") for k, d in PRECISIONS.items()],
)
def test_precision_as_in_the_evaluation_method(key: str, decimals: int) -> None:
    assert precision(key) == decimals


def test_every_item_with_a_limit_has_a_precision() -> None:
    for key, _ in limit_table():
        assert isinstance(precision(key), int)


def test_unknown_precision_key_raises_data_table_error() -> None:
    with pytest.raises(DataTableError, match=r"valid keys: .*nh3n"):
        precision("ammonia")


# --- standards ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda: limit_table("GB3838-2025"),
        lambda: indicator_limits("nh3n", standard="GB3838-2025"),
        lambda: class_limit("nh3n", 3, standard="GB3838-2025"),
        lambda: evaluation_indicators(standard="GB3838-2025"),
        lambda: precision("nh3n", standard="GB3838-2025"),
    ],
    ids=["limit_table", "indicator_limits", "class_limit", "evaluation_indicators", "precision"],
)
def test_unknown_standard_raises_value_error(call: object) -> None:
    with pytest.raises(ValueError, match=r"unknown standard 'GB3838-2025'; valid: GB3838-2002"):
        call()  # type: ignore[operator]
