"""The schematic map of the sections: river lines, county seats and a flat projection.

The overview page draws Hengshui as an SVG on the server. Two things live here, both pure:

- the **map data file** (``sections/data/rivers.toml`` ships with Qingliu): simplified river lines,
  the 衡水湖 outline and the county seats, each a few points in lon/lat with its tag. Every entry
  of the bundled file is [A]: hand-simplified from the registry's own section positions and the
  general geography of domain.md §2, not surveyed. It is loaded and validated like the registry;
  a bad entry raises :class:`MapDataError` naming the entry and the field.
- the **projection** (:func:`fit_frame`): lon/lat → SVG user units, equirectangular with the
  longitude scaled by cos(mid-latitude), fitted to a bounding box (the sections') with margins.

File layout::

    [[lines]]    name, kind ("river" | "lake"), tag ("A" | "D" | "V"), points, note
    [[places]]   name, tag, lon, lat

References
----------
.. [1] domain.md §2: approximate positions for a schematic map [A, general geography, ±0.05°].
.. [2] J. P. Snyder, *Map Projections — A Working Manual*, USGS Professional Paper 1395 (1987),
   §12 (equidistant cylindrical projection: x = R (λ − λ0) cos φ1, y = R φ).
   doi:10.3133/pp1395
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from sections._entries import check_keys, entries, label
from sections.errors import EntryError

__all__ = [
    "BUNDLED_MAP_DATA",
    "DEFAULT_MARGIN",
    "DEFAULT_WIDTH",
    "LineKind",
    "MapData",
    "MapDataError",
    "MapFrame",
    "MapLine",
    "Place",
    "Tag",
    "fit_frame",
    "load_map_data",
    "parse_map_data",
]

BUNDLED_MAP_DATA = "rivers.toml"

LineKind = Literal["river", "lake"]
Tag = Literal["A", "D", "V"]
_C = TypeVar("_C", bound=str)

DEFAULT_WIDTH = 480.0
"""Width of a fitted map [SVG user units]."""
DEFAULT_MARGIN = 24.0
"""Room around the bounding box on every side [SVG user units]."""
_MIN_SPAN = 0.01
"""The smallest span of a bounding box [degrees], so that one point still gets a frame."""


class MapDataError(EntryError):
    """An entry of the map data file is invalid (entry e.g. ``lines[2] (滏阳河)``)."""

    what: ClassVar[str] = "示意图数据错误 / map data error"


@dataclass(frozen=True, slots=True)
class MapLine:
    """A simplified river line or lake outline.

    Attributes
    ----------
    name : str
        River or lake, as the registry's ``river`` field spells it.
    kind : {'river', 'lake'}
        A lake outline is drawn closed.
    tag : {'A', 'D', 'V'}
        How far the geometry can be trusted; the bundled lines are all [A].
    points : tuple of (lon, lat)
        Positions [degrees, WGS 84], upstream first for a river.
    note : str
        Where the points come from.
    """

    name: str
    kind: LineKind
    tag: Tag
    points: tuple[tuple[float, float], ...]
    note: str = ""


@dataclass(frozen=True, slots=True)
class Place:
    """A labelled place (a county seat) [degrees, WGS 84]."""

    name: str
    tag: Tag
    lon: float
    lat: float


@dataclass(frozen=True, slots=True)
class MapData:
    """The lines and places of one map data file, in file order."""

    lines: tuple[MapLine, ...]
    places: tuple[Place, ...] = ()
    source: str = BUNDLED_MAP_DATA

    def line(self, name: str) -> MapLine:
        """The line of this river or lake; ``KeyError`` naming the valid names otherwise."""
        for line in self.lines:
            if line.name == name:
                return line
        valid = ", ".join(line.name for line in self.lines)
        raise KeyError(f"{self.source}: no line {name!r}; valid: {valid}")


@dataclass(frozen=True, slots=True)
class MapFrame:
    """A fitted equirectangular frame: lon/lat → SVG user units (y down).

    Attributes
    ----------
    west, south, east, north : float
        The bounding box mapped inside the margins [degrees].
    width, height : float
        Size of the drawing [SVG user units].
    margin : float
        Room around the box [SVG user units].
    scale : float
        SVG units per degree of latitude; a degree of longitude is ``scale · cos(φ0)``.
    """

    west: float
    south: float
    east: float
    north: float
    width: float
    height: float
    margin: float
    scale: float

    @property
    def x_factor(self) -> float:
        """cos φ0 of the box's middle latitude: how much shorter a degree of longitude is."""
        return math.cos(math.radians((self.south + self.north) / 2))

    def point(self, lon: float, lat: float) -> tuple[float, float]:
        """The SVG position of a lon/lat, rounded to 0.1 unit.

        Examples
        --------
        >>> frame = fit_frame([115.0, 116.0], [37.0, 38.0], width=200, margin=10)
        >>> frame.point(115.0, 38.0), frame.point(116.0, 37.0)
        ((10.0, 10.0), (190.0, 236.9))
        """
        x = self.margin + (lon - self.west) * self.x_factor * self.scale
        y = self.margin + (self.north - lat) * self.scale
        return round(x, 1), round(y, 1)

    def points(self, positions: Iterable[tuple[float, float]]) -> str:
        """An SVG ``points`` list (``"x,y x,y …"``) of lon/lat positions.

        Examples
        --------
        >>> fit_frame([115.0, 116.0], [37.0, 38.0], width=200, margin=10).points(
        ...     [(115.0, 38.0), (115.5, 37.5)])
        '10,10 100,123.4'
        """
        return " ".join(f"{x:g},{y:g}" for x, y in (self.point(*p) for p in positions))


def fit_frame(
    lons: Iterable[float],
    lats: Iterable[float],
    *,
    width: float = DEFAULT_WIDTH,
    margin: float = DEFAULT_MARGIN,
) -> MapFrame:
    """Fit an equirectangular frame of a given width to the bounding box of positions.

    Parameters
    ----------
    lons, lats : iterables of float
        Positions [degrees]; the same number of each, at least one.
    width : float
        Width of the drawing [SVG user units]; the height follows from the box's shape.
    margin : float
        Room around the box on every side [SVG user units].

    Returns
    -------
    MapFrame

    Raises
    ------
    ValueError
        No positions, unequal counts, a position that is not finite, or a margin that leaves no
        room.

    Notes
    -----
    Equidistant cylindrical projection with standard parallel φ0 at the middle latitude of the
    box: x = (λ − λ_west)·cos φ0·k, y = (φ_north − φ)·k, with k chosen so that the box's width
    fills ``width − 2·margin``. Over Hengshui (about 1° across) the distortion against a true
    conformal projection stays within about 1 % at the box's edges, far below the [A] precision
    of the positions. A box
    narrower than 0.01° is widened to 0.01° around its centre.

    Examples
    --------
    >>> frame = fit_frame([115.40, 116.30], [36.95, 38.25], width=480, margin=24)
    >>> round(frame.x_factor, 3), frame.width, round(frame.height, 1)
    (0.792, 480, 835.6)
    """
    xs, ys = list(lons), list(lats)
    if not xs or len(xs) != len(ys):
        raise ValueError(f"need equal, non-zero numbers of lons and lats, got {len(xs)}, {len(ys)}")
    if not all(math.isfinite(v) for v in (*xs, *ys)):
        raise ValueError("positions must be finite numbers")
    if not 0 <= margin < width / 2:
        raise ValueError(f"margin must lie in [0, width/2), got {margin!r} for width {width!r}")
    west, east = _span(min(xs), max(xs))
    south, north = _span(min(ys), max(ys))
    x_factor = math.cos(math.radians((south + north) / 2))
    scale = (width - 2 * margin) / ((east - west) * x_factor)
    height = (north - south) * scale + 2 * margin
    return MapFrame(west, south, east, north, width, height, margin, scale)


def _span(low: float, high: float) -> tuple[float, float]:
    if high - low >= _MIN_SPAN:
        return low, high
    middle = (low + high) / 2
    return middle - _MIN_SPAN / 2, middle + _MIN_SPAN / 2


# --- the data file ----------------------------------------------------------------------------


@cache
def _bundled() -> MapData:
    text = resources.files("sections").joinpath("data", BUNDLED_MAP_DATA).read_text("utf-8")
    return parse_map_data(text, source=BUNDLED_MAP_DATA)


def load_map_data(path: str | Path | None = None) -> MapData:
    """Load and validate a map data file; the bundled one (cached) when ``path`` is None.

    Raises
    ------
    MapDataError
        When the file cannot be read or parsed, or an entry is invalid.

    Examples
    --------
    >>> data = load_map_data()
    >>> data.line("衡水湖").kind, {line.tag for line in data.lines}
    ('lake', {'A'})
    """
    if path is None:
        return _bundled()
    source = str(path)
    try:
        text = Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MapDataError(f"无法读取文件 / cannot read file: {exc}", entry=source) from None
    return parse_map_data(text, source=source)


def parse_map_data(text: str, *, source: str = "<string>") -> MapData:
    """Parse and validate map data TOML text.

    Examples
    --------
    >>> parse_map_data('[[lines]]\\nname = "某河"\\nkind = "river"\\ntag = "A"\\n'
    ...                'points = [[115.0, 37.0], [115.5, 37.5]]').lines[0].points
    ((115.0, 37.0), (115.5, 37.5))
    >>> parse_map_data('[[lines]]\\nname = "某湖"\\nkind = "lake"\\ntag = "A"\\n'
    ...                'points = [[115.0, 37.0], [115.5, 37.5]]')
    Traceback (most recent call last):
    ...
    sections.map.MapDataError: 示意图数据错误 / map data error in lines[0] (某湖), field 'points': \
湖泊轮廓至少需要 3 个点 / a lake outline needs at least 3 points
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MapDataError(f"TOML 语法错误 / TOML syntax error: {exc}", entry=source) from None
    _check(document, {"lines", "places"}, entry=source, required={"lines"})
    lines = tuple(_line(raw, index) for index, raw in enumerate(_entries(document, "lines")))
    places = tuple(
        _place(raw, index) for index, raw in enumerate(_entries(document, "places", required=False))
    )
    for table, names in (("lines", [x.name for x in lines]), ("places", [p.name for p in places])):
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise MapDataError(
                f"重复的名称 / duplicate name {duplicates}", entry=table, field="name"
            )
    return MapData(lines=lines, places=places, source=source)


_LINE_FIELDS = {"name", "kind", "tag", "points", "note"}
_LINE_REQUIRED = {"name", "kind", "tag", "points"}
_PLACE_FIELDS = {"name", "tag", "lon", "lat"}


def _entries(document: Mapping[str, Any], table: str, *, required: bool = True) -> list[Any]:
    return entries(document.get(table, []), table, error=MapDataError, required=required)


def _check(raw: Mapping[str, Any], allowed: set[str], *, entry: str, required: set[str]) -> None:
    check_keys(raw, allowed, entry=entry, required=required, error=MapDataError)


def _text(raw: Mapping[str, Any], key: str, entry: str) -> str:
    value = raw[key]
    if not isinstance(value, str) or not value.strip():
        raise MapDataError(
            f"必须是非空文本 / must be non-empty text, got {value!r}", entry=entry, field=key
        )
    return value.strip()


def _choice(raw: Mapping[str, Any], key: str, entry: str, options: tuple[_C, ...]) -> _C:
    value = raw[key]
    for option in options:
        if value == option:
            return option
    raise MapDataError(
        f"必须是 {' | '.join(options)} 之一 / must be one of them, got {value!r}",
        entry=entry,
        field=key,
    )


def _position(value: Any, entry: str, key: str) -> tuple[float, float]:
    numbers = (
        isinstance(value, list)
        and len(value) == 2
        and all(
            not isinstance(v, bool) and isinstance(v, int | float) and math.isfinite(v)
            for v in value
        )
    )
    if not numbers:
        raise MapDataError(
            f"必须是 [经度, 纬度] / must be [lon, lat], got {value!r}", entry=entry, field=key
        )
    lon, lat = float(value[0]), float(value[1])
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise MapDataError(
            f"经纬度超出范围 / lon or lat out of range, got {value!r}", entry=entry, field=key
        )
    return lon, lat


def _line(raw: Mapping[str, Any], index: int) -> MapLine:
    entry = label("lines", index, {"id": raw.get("name")})
    _check(raw, _LINE_FIELDS, entry=entry, required=_LINE_REQUIRED)
    kind: LineKind = _choice(raw, "kind", entry, ("river", "lake"))
    points = raw["points"]
    if not isinstance(points, list):
        raise MapDataError("必须是点列表 / must be a list of points", entry=entry, field="points")
    least = 3 if kind == "lake" else 2
    if len(points) < least:
        what = "湖泊轮廓" if kind == "lake" else "河流线"
        english = "a lake outline" if kind == "lake" else "a river line"
        raise MapDataError(
            f"{what}至少需要 {least} 个点 / {english} needs at least {least} points",
            entry=entry,
            field="points",
        )
    note = raw.get("note", "")
    if not isinstance(note, str):
        raise MapDataError(f"必须是文本 / must be text, got {note!r}", entry=entry, field="note")
    return MapLine(
        name=_text(raw, "name", entry),
        kind=kind,
        tag=_choice(raw, "tag", entry, ("A", "D", "V")),
        points=tuple(_position(p, entry, "points") for p in points),
        note=note.strip(),
    )


def _place(raw: Mapping[str, Any], index: int) -> Place:
    entry = label("places", index, {"id": raw.get("name")})
    _check(raw, _PLACE_FIELDS, entry=entry, required=_PLACE_FIELDS)
    lon, lat = _position([raw["lon"], raw["lat"]], entry, "lon/lat")
    return Place(
        name=_text(raw, "name", entry),
        tag=_choice(raw, "tag", entry, ("A", "D", "V")),
        lon=lon,
        lat=lat,
    )
