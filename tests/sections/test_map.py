"""The schematic map: the bundled river lines against the registry, validation, projection."""

from __future__ import annotations

import math

import pytest

from sections.map import MapDataError, fit_frame, load_map_data, parse_map_data
from sections.registry import Registry


def test_every_registry_river_and_lake_has_one_line_tagged_a(registry: Registry) -> None:
    data = load_map_data()
    assert {s.river for s in registry.sections} <= {line.name for line in data.lines}
    assert {line.tag for line in data.lines} == {"A"}  # hand-simplified, never presented as more
    assert data.line("衡水湖").kind == "lake"
    assert all(place.tag == "A" for place in data.places)
    assert {p.name for p in data.places} == {u.name for u in registry.units} - {
        "高新区",
        "滨湖新区",
    }


def test_river_lines_pass_through_their_sections(registry: Registry) -> None:
    """Hand-simplified from the sections' own coordinates: each river section is a vertex."""
    data = load_map_data()
    for section in registry.sections:
        if section.water_body == "river":
            assert (section.lon, section.lat) in data.line(section.river).points, section.id


def test_lake_points_lie_inside_the_outline_box(registry: Registry) -> None:
    outline = load_map_data().line("衡水湖").points
    lons, lats = [p[0] for p in outline], [p[1] for p in outline]
    for section in registry.sections:
        if section.water_body == "lake":
            assert min(lons) <= section.lon <= max(lons), section.id
            assert min(lats) <= section.lat <= max(lats), section.id


def test_unknown_line_names_the_valid_ones() -> None:
    with pytest.raises(KeyError, match="滏阳河"):
        load_map_data().line("黄河")


_LINE = (
    '[[lines]]\nname = "某河"\nkind = "river"\ntag = "A"\npoints = [[115.0, 37.0], [115.5, 37.5]]\n'
)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        pytest.param(_LINE.replace('tag = "A"', 'tag = "X"'), "tag", id="tag-not-AVD"),
        pytest.param(_LINE.replace('"river"', '"canal"'), "kind", id="unknown-kind"),
        pytest.param(_LINE + 'colour = "blue"\n', "colour", id="unknown-field"),
        pytest.param(_LINE.replace("[115.5, 37.5]", "[115.5]"), "points", id="not-a-pair"),
        pytest.param(_LINE.replace("[115.5, 37.5]", "[215.5, 37.5]"), "points", id="lon-range"),
        pytest.param(_LINE.replace(", [115.5, 37.5]", ""), "points", id="one-point"),
        pytest.param(_LINE.replace('name = "某河"\n', ""), "name", id="no-name"),
        pytest.param(_LINE + _LINE, "name", id="duplicate"),
        pytest.param(
            _LINE + '[[places]]\nname = "某县"\ntag = "A"\nlon = 115.0\n',
            "lat",
            id="place-without-lat",
        ),
    ],
)
def test_bad_entries_name_the_field(text: str, field: str) -> None:
    with pytest.raises(MapDataError) as caught:
        parse_map_data(text)
    assert caught.value.field == field


def test_bad_toml_and_missing_lines_are_map_data_errors() -> None:
    with pytest.raises(MapDataError, match="TOML"):
        parse_map_data("[[lines]")
    with pytest.raises(MapDataError, match="lines"):
        parse_map_data('[[places]]\nname = "某县"\ntag = "A"\nlon = 115.0\nlat = 37.0\n')


def test_frame_fits_the_box_inside_the_margins_and_keeps_ground_proportions() -> None:
    frame = fit_frame([115.40, 116.30, 115.75], [36.95, 38.25, 37.60], width=480, margin=24)
    assert frame.point(115.40, 38.25) == (24.0, 24.0)  # north-west corner
    x, y = frame.point(116.30, 36.95)  # south-east corner
    assert x == pytest.approx(480 - 24, abs=0.1)
    assert y == pytest.approx(frame.height - 24, abs=0.1)
    # one degree east is cos(φ0) of one degree north (equirectangular, φ0 = 37.6°)
    east = frame.point(116.0, 37.6)[0] - frame.point(115.0, 37.6)[0]
    north = frame.point(115.0, 37.6)[1] - frame.point(115.0, 38.6)[1]
    assert east / north == pytest.approx(math.cos(math.radians(37.6)), rel=1e-3)


def test_frame_of_one_point_is_finite_and_centred() -> None:
    frame = fit_frame([115.6], [37.6], width=100, margin=10)
    assert frame.point(115.6, 37.6) == (50.0, pytest.approx(frame.height / 2, abs=0.1))


@pytest.mark.parametrize(
    ("lons", "lats", "margin"),
    [([], [], 10), ([115.0], [37.0, 38.0], 10), ([math.nan], [37.0], 10), ([115.0], [37.0], 60)],
    ids=["empty", "unequal", "nan", "margin-too-wide"],
)
def test_frame_refuses_bad_input(lons: list[float], lats: list[float], margin: float) -> None:
    with pytest.raises(ValueError):
        fit_frame(lons, lats, width=100, margin=margin)
