"""The section registry: the bundled Hengshui file, and each kind of bad entry."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from sections.classes import WaterClass
from sections.errors import RegistryError
from sections.registry import Registry, Section, load_registry, parse_registry

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


@pytest.mark.parametrize("day", [dt.date(2020, 12, 31), dt.date(1990, 1, 1), dt.date(2020, 1, 1)])
def test_before_the_first_year_the_earliest_entry_applies(registry: Registry, day: dt.date) -> None:
    # [A] documented fallback: before the first year of the table, its earliest entry
    assert registry.section("xiaofanqiao").target_class(day) is WaterClass.IV
    assert registry.section("qingliang-jingxian").target_class(day) is WaterClass.V


# --- the plan: 69.2 % = 9 of 13 river sections at Class Ⅲ or better by 2025 [D] ------------------

RIVER_SECTIONS = {"fuyang-jizhou", "fuyang-taocheng", "fuyang-gaoxin", "xiaofanqiao",
                  "fuyangxin-shenzhou", "fudong-wuyi", "hutuo-anping", "hutuo-raoyang",
                  "qingliang-gucheng", "qingliang-zaoqiang", "qingliang-jingxian",
                  "qingliang-fucheng", "weiyun-gucheng"}  # fmt: skip


def _river_sections(registry: Registry) -> list[Section]:
    return [s for s in registry.assessed_sections() if s.water_body == "river"]


def test_nine_of_the_13_river_sections_have_a_class_iii_target_by_2025(registry: Registry) -> None:
    rivers = _river_sections(registry)
    assert {s.id for s in rivers} == RIVER_SECTIONS
    for year in (2025, 2026, 2030):
        good = [s.id for s in rivers if s.target_class(dt.date(year, 1, 1)) <= WaterClass.III]
        assert len(good) == 9, (year, good)  # 衡水市“十四五”规划: ≥ 69.2 % = 9/13 [D]
    assert 9 / 13 >= 0.692


def test_the_drainage_rivers_are_not_among_the_nine(registry: Registry) -> None:
    for section in _river_sections(registry):
        if section.river in {"滏东排河", "滏阳新河"}:
            assert section.target_class(dt.date(2025, 6, 1)) > WaterClass.III, section.id
        if section.river in {"滏阳河", "滹沱河", "卫运河"}:
            assert section.target_class(dt.date(2025, 6, 1)) <= WaterClass.III, section.id


def test_targets_never_tighten_backwards_and_none_is_worse_than_v(registry: Registry) -> None:
    for section in registry.assessed_sections():
        by_year = [section.target_class(dt.date(y, 6, 1)) for y in range(2020, 2027)]
        assert by_year == sorted(by_year, reverse=True), section.id  # looser earlier
        assert max(by_year) <= WaterClass.V, section.id  # the plan: no 劣Ⅴ section


def test_unconfirmed_targets_are_marked_as_assumptions(registry: Registry) -> None:
    for section in _river_sections(registry):
        assert "[A]" in section.note and "目标" in section.note, section.id


def test_only_the_13_river_sections_count_in_the_share(registry: Registry) -> None:
    counting = {s.id for s in registry.sections if s.counts_in_share}
    assert counting == RIVER_SECTIONS
    lake = registry.section("hengshuihu-dahuxin")
    assert lake.counts_in_share is False and not lake.is_reference
    assert not any(s.counts_in_share for s in registry.sections if s.is_reference)


def test_counts_in_share_defaults_to_assessed_river_sections() -> None:
    parsed = parse_registry(_document())
    assert parsed.section("down").counts_in_share is True
    assert parsed.section("up").counts_in_share is False  # a reference section
    lake = DOWN.replace('water_body = "river"', 'water_body = "lake"')
    assert parse_registry(_document(down=lake)).section("down").counts_in_share is False
    off = DOWN.replace("lon = 115.6", "counts_in_share = false\nlon = 115.6")
    assert parse_registry(_document(down=off)).section("down").counts_in_share is False


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
    ("counts_in_share not bool",
     DOWN.replace("lon = 115.6", 'counts_in_share = "yes"\nlon = 115.6'), "counts_in_share",
     "must be a boolean"),
    ("counts_in_share as 1", DOWN.replace("lon = 115.6", "counts_in_share = 1\nlon = 115.6"),
     "counts_in_share", "must be a boolean"),
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


def test_reference_section_counting_in_the_share_is_refused() -> None:
    up = UP.replace('level = "reference"', 'level = "reference"\ncounts_in_share = true')
    with pytest.raises(RegistryError) as caught:
        parse_registry(_document(up=up))
    assert (caught.value.entry, caught.value.field) == ("sections[0] (up)", "counts_in_share")
    assert "cannot count in the share" in str(caught.value)


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
