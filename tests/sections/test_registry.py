"""The section registry: the bundled Hengshui file, and each kind of bad entry."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from sections.classes import WaterClass
from sections.errors import RegistryError
from sections.registry import Registry, load_registry, parse_registry

# --- the bundled registry ---------------------------------------------------------------------

UNITS = ["桃城区", "冀州区", "深州市", "枣强县", "武邑县", "武强县", "饶阳县", "安平县", "故城县",
         "景县", "阜城县", "高新区", "滨湖新区"]  # fmt: skip


def test_bundled_registry_has_the_13_assessed_units(registry: Registry) -> None:
    assert [u.name for u in registry.units] == UNITS


def test_bundled_registry_has_13_river_sections_and_the_lake(registry: Registry) -> None:
    assessed = registry.assessed_sections()
    rivers = [s for s in assessed if s.water_body == "river"]
    lake = [s for s in assessed if s.water_body == "lake"]
    assert len(rivers) == 13
    assert {s.river for s in lake} == {"衡水湖"}
    assert "衡水湖大湖心" in {s.name for s in lake}
    assert all(s.level in {"national", "provincial"} for s in assessed)


def test_only_the_verified_sections_are_confirmed(registry: Registry) -> None:
    confirmed = {s.name for s in registry.sections if s.confirmed}
    assert confirmed == {"小范桥", "衡水湖大湖心", "艾辛庄", "秤勾湾", "油坊桥", "第三店"}
    for section in registry.sections:
        if not section.confirmed:
            assert "[A]" in section.note, section.id


def test_reference_sections_are_not_assessed(registry: Registry) -> None:
    references = [s for s in registry.sections if s.is_reference]
    assert {s.name for s in references} == {"艾辛庄", "秤勾湾", "油坊桥", "第三店"}
    assert all(s.assessed_unit is None for s in references)


def test_every_unit_is_assessed_on_some_section(registry: Registry) -> None:
    for unit in registry.units:
        assert registry.sections_of(unit.id), unit.name


def test_upstream_links_follow_the_rivers(registry: Registry) -> None:
    chain = []
    section_id: str | None = "xiaofanqiao"
    while section_id is not None:
        chain.append(section_id)
        section_id = registry.section(section_id).upstream
    assert chain == ["xiaofanqiao", "fuyang-gaoxin", "fuyang-taocheng", "fuyang-jizhou",
                     "aixinzhuang"]  # fmt: skip
    for section in registry.sections:
        if section.upstream:
            assert registry.section(section.upstream).river in {section.river, "卫运河"}


def test_positions_lie_in_and_around_hengshui(registry: Registry) -> None:
    for section in registry.sections:
        assert 115.2 < section.lon < 116.5 and 36.8 < section.lat < 38.4, section.id


def test_year_table_target_uses_the_latest_year_not_after_the_date(registry: Registry) -> None:
    section = registry.section("xiaofanqiao")
    assert section.target_class(dt.date(2021, 1, 1)) is WaterClass.IV
    assert section.target_class(dt.date(2024, 12, 31)) is WaterClass.IV
    assert section.target_class(dt.date(2025, 1, 1)) is WaterClass.III
    assert section.target_class(dt.date(2030, 6, 1)) is WaterClass.III
    with pytest.raises(LookupError, match="2020"):
        section.target_class(dt.date(2020, 12, 31))


def test_a_single_class_target_applies_on_any_date(registry: Registry) -> None:
    lake = registry.section("hengshuihu-dahuxin")
    assert lake.target_class(dt.date(1990, 1, 1)) is WaterClass.III


def test_unknown_ids_name_the_valid_ones(registry: Registry) -> None:
    with pytest.raises(KeyError, match="xiaofanqiao"):
        registry.section("nowhere")
    with pytest.raises(KeyError, match="taocheng"):
        registry.unit("nowhere")


def test_load_registry_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(_document(), encoding="utf-8")
    loaded = load_registry(path)
    assert loaded.source == str(path)
    assert [s.id for s in loaded.sections] == ["up", "down"]
    assert loaded.section("down").standards == {"tn": 2.0}


def test_missing_file_is_a_registry_error(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="cannot read file"):
        load_registry(tmp_path / "absent.toml")


# --- bad entries: each names the entry and the field ----------------------------------------------

UNITS_TOML = """
[[units]]
id = "a"
name = "甲县"
"""

UP = """
[[sections]]
id = "up"
name = "上游断面"
confirmed = false
river = "某河"
water_body = "river"
level = "reference"
lon = 115.5
lat = 37.5
target_class = "IV"
"""

DOWN = """
[[sections]]
id = "down"
name = "下游断面"
confirmed = true
river = "某河"
water_body = "river"
level = "provincial"
assessed_unit = "a"
upstream = "up"
station_mn = "HS131100ABC0001"
lon = 115.6
lat = 37.6
target_class = { 2021 = "IV", 2025 = "Ⅲ" }
[sections.standards]
tn = 2.0
"""


def _document(down: str = DOWN, up: str = UP, units: str = UNITS_TOML) -> str:
    return units + up + down


def _edit(section: str, field: str, line: str | None) -> str:
    """Replace (or with None, remove) the line of ``field`` in a section snippet."""
    pattern = re.compile(rf"^{re.escape(field)} = .*$\n?", re.MULTILINE)
    assert pattern.search(section), field
    return pattern.sub("" if line is None else line + "\n", section, count=1)


BAD_DOWN = [
    ("missing name", _edit(DOWN, "name", None), "name", "required field is missing"),
    ("unknown field", DOWN.replace('river = "某河"', 'river = "某河"\ncolour = "red"'), "colour",
     "unknown field"),
    ("bad water body", _edit(DOWN, "water_body", 'water_body = "sea"'), "water_body",
     "must be one of"),
    ("bad level", _edit(DOWN, "level", 'level = "county"'), "level", "must be one of"),
    ("unknown unit", _edit(DOWN, "assessed_unit", 'assessed_unit = "b"'), "assessed_unit",
     "unknown unit"),
    ("assessed without unit", _edit(DOWN, "assessed_unit", None), "assessed_unit",
     "needs an assessed unit"),
    ("unknown upstream", _edit(DOWN, "upstream", 'upstream = "nowhere"'), "upstream",
     "unknown upstream"),
    ("confirmed not bool", _edit(DOWN, "confirmed", 'confirmed = "yes"'), "confirmed",
     "must be a boolean"),
    ("bad class", _edit(DOWN, "target_class", 'target_class = "VII"'), "target_class",
     "unknown water class"),
    ("bad class in table", _edit(DOWN, "target_class", 'target_class = { 2021 = "X" }'),
     "target_class", "unknown water class"),
    ("bad year", _edit(DOWN, "target_class", 'target_class = { "21" = "IV" }'),
     "target_class.21", "four digits"),
    ("target not class", _edit(DOWN, "target_class", "target_class = 3"), "target_class",
     "must be a class or a year table"),
    ("lon out of range", _edit(DOWN, "lon", "lon = 215.6"), "lon", "out of range"),
    ("lat not number", _edit(DOWN, "lat", 'lat = "37N"'), "lat", "must be a number"),
    ("empty name", _edit(DOWN, "name", 'name = "  "'), "name", "non-empty text"),
    ("bad MN", _edit(DOWN, "station_mn", 'station_mn = "HS;1"'), "station_mn", "invalid MN"),
    ("unknown standard", DOWN.replace("tn = 2.0", "nitrate = 2.0"), "standards.nitrate",
     "unknown parameter"),
    ("negative standard", DOWN.replace("tn = 2.0", "tn = -1"), "standards.tn",
     "positive number"),
]  # fmt: skip


@pytest.mark.parametrize(("down", "field", "message"), [b[1:] for b in BAD_DOWN],
                         ids=[b[0] for b in BAD_DOWN])  # fmt: skip
def test_bad_section_entry_names_entry_and_field(down: str, field: str, message: str) -> None:
    with pytest.raises(RegistryError) as caught:
        parse_registry(_document(down=down))
    error = caught.value
    assert error.entry == "sections[1] (down)"
    assert error.field == field
    assert message in str(error)
    assert "sections[1] (down)" in str(error) and f"'{field}'" in str(error)


def test_reference_section_with_a_unit_is_refused() -> None:
    up = UP.replace('level = "reference"', 'level = "reference"\nassessed_unit = "a"')
    with pytest.raises(RegistryError) as caught:
        parse_registry(_document(up=up))
    assert (caught.value.entry, caught.value.field) == ("sections[0] (up)", "assessed_unit")


def test_duplicate_section_id_is_refused() -> None:
    down = _edit(DOWN, "id", 'id = "up"').replace('upstream = "up"\n', "")
    with pytest.raises(RegistryError) as caught:
        parse_registry(_document(down=down))
    assert (caught.value.entry, caught.value.field) == ("sections[1] (up)", "id")


def test_duplicate_station_mn_is_refused() -> None:
    up = UP.replace("lon = 115.5", 'station_mn = "HS131100ABC0001"\nlon = 115.5')
    with pytest.raises(RegistryError) as caught:
        parse_registry(_document(up=up))
    assert (caught.value.entry, caught.value.field) == ("sections[1] (down)", "station_mn")


def test_upstream_cycle_is_refused() -> None:
    up = UP.replace("lon = 115.5", 'upstream = "down"\nlon = 115.5')
    with pytest.raises(RegistryError) as caught:
        parse_registry(_document(up=up))
    assert caught.value.field == "upstream"
    assert "cycle" in str(caught.value)


def test_duplicate_unit_and_bad_unit_fields() -> None:
    with pytest.raises(RegistryError) as caught:
        parse_registry(_document(units=UNITS_TOML + UNITS_TOML))
    assert (caught.value.entry, caught.value.field) == ("units[1] (a)", "id")
    with pytest.raises(RegistryError) as caught:
        parse_registry(_document(units=UNITS_TOML.replace('name = "甲县"', "")))
    assert (caught.value.entry, caught.value.field) == ("units[0] (a)", "name")


def test_toml_syntax_error_names_the_file() -> None:
    with pytest.raises(RegistryError, match=r"mine\.toml.*TOML syntax error"):
        parse_registry("[[units]\nid = ", source="mine.toml")


def test_missing_tables_are_refused() -> None:
    with pytest.raises(RegistryError) as caught:
        parse_registry(UNITS_TOML)
    assert caught.value.field == "sections"
