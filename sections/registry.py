"""The section registry: assessed units, monitoring sections and their targets.

The registry is a TOML data file that the bureau edits (``sections/data/hengshui.toml`` ships
with Qingliu). It is loaded and validated into frozen dataclasses; any bad entry raises
:class:`~sections.errors.RegistryError` naming the entry and the field.

File layout::

    [[units]]          id, name                      the assessed units (县市区)
    [[sections]]       id, name, confirmed, river, water_body, level, assessed_unit, upstream,
                       station_mn, lon, lat, target_class, counts_in_share, note,
                       [sections.standards]

``target_class`` is a class (``"III"`` or ``"Ⅲ"``) or a table year → class; for a date, the entry
of the latest year not after that date applies, and before the first year of the table the
earliest entry [A].

``counts_in_share`` (true/false) says whether the section counts in the city's share of sections
at Class Ⅲ or better (the plan's ≥ 69.2 % = 9 of 13 river sections [D]). When absent it is true
for assessed river sections and false for lake points (衡水湖 is reported on its own [D]) and
reference sections; a reference section can never count.

References
----------
.. [1] domain.md §1–§2: the 13 assessed units and the sections of the 14th Five-Year plan.
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, TypeVar, get_args

from sections._entries import check_keys, entries, label
from sections.classes import WaterClass, parse_class
from sections.errors import RegistryError, UnknownClassError
from sections.parameters import parameters

__all__ = [
    "BUNDLED_REGISTRY",
    "Level",
    "Registry",
    "Section",
    "Unit",
    "WaterBody",
    "load_registry",
    "parse_registry",
]

BUNDLED_REGISTRY = "hengshui.toml"

WaterBody = Literal["river", "lake"]
_C = TypeVar("_C", bound=str)
Level = Literal["national", "provincial", "city", "reference"]

_MN_MAX_LENGTH = 24  # HJ 212-2017: MN is at most 24 characters [V]


@dataclass(frozen=True, slots=True)
class Unit:
    """An assessed unit (县市区) that pays compensation for its outflow sections."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Section:
    """A monitoring section (断面) or a lake point.

    Attributes
    ----------
    id : str
        Stable identifier used everywhere in Qingliu, e.g. ``"xiaofanqiao"``.
    name : str
        Chinese name. Only a ``confirmed`` name is an official one.
    confirmed : bool
        Whether the name (and the section) is confirmed by a public source.
    river : str
        River or lake the section is on.
    water_body : {'river', 'lake'}
        Decides the TP column and the lake evaluation rules.
    level : {'national', 'provincial', 'city', 'reference'}
        ``reference`` sections (对照点) are upstream references, never assessed.
    assessed_unit : str or None
        Id of the unit that pays for this section; ``None`` for reference sections.
    upstream : str or None
        Id of the upstream (inflow) section.
    station_mn : str or None
        HJ 212 MN of the automatic station at the section.
    lon, lat : float
        Position [degrees, WGS 84].
    targets : mapping of int to WaterClass
        Target class by first year in force.
    standards : mapping of str to float
        Per-parameter standard overrides [mg/L].
    counts_in_share : bool
        Whether the section counts in the city's share of sections at Class Ⅲ or better (the 13
        river sections of the plan do; 衡水湖 points and reference sections do not) [D].
    note : str
        Free text shown to users, e.g. which facts are assumptions.
    """

    id: str
    name: str
    confirmed: bool
    river: str
    water_body: WaterBody
    level: Level
    lon: float
    lat: float
    targets: Mapping[int, WaterClass]
    assessed_unit: str | None = None
    upstream: str | None = None
    station_mn: str | None = None
    standards: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    counts_in_share: bool = False
    note: str = ""

    @property
    def is_reference(self) -> bool:
        """Whether the section is an upstream reference (对照点) that is never assessed."""
        return self.level == "reference"

    def target_class(self, on: dt.date) -> WaterClass:
        """The target class in force on a date.

        The entry of the latest year not after the date applies; for a date before the first
        year of the table, the earliest entry applies [A: the registry gives no target before
        it, and the earliest one is the loosest plausible reading]. Never raises for a date.

        Parameters
        ----------
        on : datetime.date
            The day (a month's first day for a monthly value).

        Returns
        -------
        WaterClass
            The target class.

        Examples
        --------
        >>> section = parse_registry(_EXAMPLE).section("s")
        >>> [section.target_class(dt.date(y, 6, 1)).label for y in (2019, 2021, 2024, 2025, 2030)]
        ['Ⅳ', 'Ⅳ', 'Ⅳ', 'Ⅲ', 'Ⅲ']
        """
        year = on.year
        in_force = [entry for entry in self.targets if entry <= year]
        return self.targets[max(in_force) if in_force else min(self.targets)]


@dataclass(frozen=True, slots=True)
class Registry:
    """The units and sections of one registry file, in file order."""

    units: tuple[Unit, ...]
    sections: tuple[Section, ...]
    source: str = BUNDLED_REGISTRY
    _by_id: Mapping[str, Section | Unit] = field(
        init=False, repr=False, compare=False, hash=False
    )
    """Sections and units by id (``s:`` and ``u:`` prefixes): one lookup, not a scan, in a
    national registry of thousands of sections."""

    def __post_init__(self) -> None:
        index: dict[str, Section | Unit] = {f"u:{u.id}": u for u in self.units}
        index.update((f"s:{s.id}", s) for s in self.sections)
        object.__setattr__(self, "_by_id", index)

    def unit(self, unit_id: str) -> Unit:
        """The unit with this id; ``KeyError`` naming the valid ids otherwise."""
        found = self._by_id.get(f"u:{unit_id}")
        if isinstance(found, Unit):
            return found
        raise KeyError(f"unknown unit {unit_id!r}; valid: {', '.join(u.id for u in self.units)}")

    def section(self, section_id: str) -> Section:
        """The section with this id; ``KeyError`` naming the valid ids otherwise."""
        found = self._by_id.get(f"s:{section_id}")
        if isinstance(found, Section):
            return found
        valid = ", ".join(s.id for s in self.sections)
        raise KeyError(f"unknown section {section_id!r}; valid: {valid}")

    def assessed_sections(self) -> tuple[Section, ...]:
        """Sections assessed for a unit (all but reference sections)."""
        return tuple(s for s in self.sections if not s.is_reference)

    def sections_of(self, unit_id: str) -> tuple[Section, ...]:
        """The sections a unit is assessed on."""
        self.unit(unit_id)
        return tuple(s for s in self.sections if s.assessed_unit == unit_id)

    def __iter__(self) -> Iterator[Section]:
        return iter(self.sections)

    def __len__(self) -> int:
        return len(self.sections)


def load_registry(path: str | Path | None = None) -> Registry:
    """Load and validate a registry file; the bundled Hengshui registry when ``path`` is None.

    Raises
    ------
    RegistryError
        When the file cannot be read or parsed, or an entry is invalid.
    """
    if path is None:
        text = resources.files("sections").joinpath("data", BUNDLED_REGISTRY).read_text("utf-8")
        source = BUNDLED_REGISTRY
    else:
        source = str(path)
        try:
            text = Path(path).read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RegistryError(f"无法读取文件 / cannot read file: {exc}", entry=source) from None
    return parse_registry(text, source=source)


def parse_registry(text: str, *, source: str = "<string>") -> Registry:
    """Parse and validate registry TOML text."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(f"TOML 语法错误 / TOML syntax error: {exc}", entry=source) from None
    _check_keys(document, {"units", "sections"}, entry=source, required={"units", "sections"})
    units = _parse_units(document["units"])
    unit_ids = {u.id for u in units}
    sections = _parse_sections(document["sections"], unit_ids)
    return Registry(units=units, sections=sections, source=source)


# --- validation helpers -----------------------------------------------------------------------

_UNIT_FIELDS = {"id", "name"}
_SECTION_REQUIRED = {"id", "name", "confirmed", "river", "water_body", "level", "lon", "lat",
                     "target_class"}  # fmt: skip
_SECTION_OPTIONAL = {"assessed_unit", "upstream", "station_mn", "standards", "counts_in_share",
                     "note"}  # fmt: skip

# A tiny registry for the doctests.
_EXAMPLE = """
[[units]]
id = "u"
name = "某县"

[[sections]]
id = "s"
name = "某河某县出境"
confirmed = false
river = "某河"
water_body = "river"
level = "provincial"
assessed_unit = "u"
lon = 115.6
lat = 37.7
target_class = { 2021 = "IV", 2025 = "III" }
"""


def _entries(value: Any, table: str) -> list[dict[str, Any]]:
    return entries(value, table, error=RegistryError)


_label = label


def _check_keys(
    raw: Mapping[str, Any], allowed: set[str], *, entry: str, required: set[str]
) -> None:
    check_keys(raw, allowed, entry=entry, required=required, error=RegistryError)


def _text(raw: Mapping[str, Any], key: str, entry: str) -> str:
    value = raw[key]
    if not isinstance(value, str) or not value.strip():
        raise RegistryError(
            f"必须是非空文本 / must be non-empty text, got {value!r}", entry=entry, field=key
        )
    return value.strip()


def _optional_text(raw: Mapping[str, Any], key: str, entry: str) -> str | None:
    return _text(raw, key, entry) if key in raw else None


def _choice(raw: Mapping[str, Any], key: str, entry: str, options: tuple[_C, ...]) -> _C:
    value = raw[key]
    for option in options:  # the option itself, so its Literal type comes back
        if value == option:
            return option
    raise RegistryError(
        f"必须是 {' | '.join(options)} 之一 / must be one of them, got {value!r}",
        entry=entry,
        field=key,
    )


def _coordinate(raw: Mapping[str, Any], key: str, entry: str, limit: float) -> float:
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RegistryError(f"必须是数字 / must be a number, got {value!r}", entry=entry, field=key)
    if not -limit <= value <= limit:
        raise RegistryError(
            f"超出范围 ±{limit} / out of range, got {value!r}", entry=entry, field=key
        )
    return float(value)


def _targets(raw: Mapping[str, Any], entry: str) -> Mapping[int, WaterClass]:
    value = raw["target_class"]
    try:
        if isinstance(value, str):
            return MappingProxyType({0: parse_class(value)})
        if isinstance(value, dict) and value:
            table: dict[int, WaterClass] = {}
            for year, klass in value.items():
                if not (isinstance(year, str) and year.isdigit() and len(year) == 4):
                    raise RegistryError(
                        f"年份必须是四位数字 / year must be four digits, got {year!r}",
                        entry=entry,
                        field=f"target_class.{year}",
                    )
                if not isinstance(klass, str):
                    raise UnknownClassError(f"unknown water class: {klass!r}")
                table[int(year)] = parse_class(klass)
            return MappingProxyType(dict(sorted(table.items())))
    except UnknownClassError as exc:
        raise RegistryError(str(exc), entry=entry, field="target_class") from None
    raise RegistryError(
        f'必须是类别（如 "III"）或 年份→类别 表 / must be a class or a year table, got {value!r}',
        entry=entry,
        field="target_class",
    )


def _counts_in_share(raw: Mapping[str, Any], entry: str, *, water_body: str, level: str) -> bool:
    """The ``counts_in_share`` field, or its default: assessed river sections only [D]."""
    if "counts_in_share" not in raw:
        return water_body == "river" and level != "reference"
    value = raw["counts_in_share"]
    if not isinstance(value, bool):
        raise RegistryError(
            f"必须是 true 或 false / must be a boolean, got {value!r}",
            entry=entry,
            field="counts_in_share",
        )
    if value and level == "reference":
        raise RegistryError(
            "对照断面不参与考核，不计入优良比例 / a reference section cannot count in the share",
            entry=entry,
            field="counts_in_share",
        )
    return value


def _standards(raw: Mapping[str, Any], entry: str) -> Mapping[str, float]:
    value = raw.get("standards", {})
    if not isinstance(value, dict):
        raise RegistryError("必须是表 / must be a table", entry=entry, field="standards")
    known = parameters()
    result: dict[str, float] = {}
    for key, limit in value.items():
        where = f"standards.{key}"
        if key not in known:
            raise RegistryError(
                f"未知参数 / unknown parameter (valid: {', '.join(known)})",
                entry=entry,
                field=where,
            )
        if isinstance(limit, bool) or not isinstance(limit, int | float) or not limit > 0:
            raise RegistryError(
                f"必须是正数 (mg/L) / must be a positive number, got {limit!r}",
                entry=entry,
                field=where,
            )
        result[key] = float(limit)
    return MappingProxyType(result)


def _parse_units(value: Any) -> tuple[Unit, ...]:
    units: list[Unit] = []
    seen: set[str] = set()
    for index, raw in enumerate(_entries(value, "units")):
        entry = _label("units", index, raw)
        _check_keys(raw, _UNIT_FIELDS, entry=entry, required=_UNIT_FIELDS)
        unit = Unit(id=_text(raw, "id", entry), name=_text(raw, "name", entry))
        if unit.id in seen:
            raise RegistryError("重复的 id / duplicate id", entry=entry, field="id")
        seen.add(unit.id)
        units.append(unit)
    return tuple(units)


def _parse_sections(value: Any, unit_ids: set[str]) -> tuple[Section, ...]:
    raws = _entries(value, "sections")
    sections: list[Section] = []
    labels: dict[str, str] = {}
    stations: set[str] = set()
    for index, raw in enumerate(raws):
        entry = _label("sections", index, raw)
        _check_keys(
            raw, _SECTION_REQUIRED | _SECTION_OPTIONAL, entry=entry, required=_SECTION_REQUIRED
        )
        section_id = _text(raw, "id", entry)
        if section_id in labels:
            raise RegistryError("重复的 id / duplicate id", entry=entry, field="id")
        confirmed = raw["confirmed"]
        if not isinstance(confirmed, bool):
            raise RegistryError(
                f"必须是 true 或 false / must be a boolean, got {confirmed!r}",
                entry=entry,
                field="confirmed",
            )
        level: Level = _choice(raw, "level", entry, get_args(Level))
        unit = _optional_text(raw, "assessed_unit", entry)
        if level == "reference" and unit is not None:
            raise RegistryError(
                "对照断面不参与考核，不能有考核单位 / a reference section has no assessed unit",
                entry=entry,
                field="assessed_unit",
            )
        if level != "reference" and unit is None:
            raise RegistryError(
                "考核断面必须有考核单位 / an assessed section needs an assessed unit",
                entry=entry,
                field="assessed_unit",
            )
        if unit is not None and unit not in unit_ids:
            raise RegistryError(
                f"未知单位 / unknown unit {unit!r} (valid: {', '.join(sorted(unit_ids))})",
                entry=entry,
                field="assessed_unit",
            )
        mn = _optional_text(raw, "station_mn", entry)
        if mn is not None:
            if len(mn) > _MN_MAX_LENGTH or not mn.isascii() or any(c in mn for c in ";=,&"):
                raise RegistryError(
                    f"MN 至多 {_MN_MAX_LENGTH} 个 ASCII 字符，不含 ;=,& / invalid MN {mn!r}",
                    entry=entry,
                    field="station_mn",
                )
            if mn in stations:
                raise RegistryError("重复的 MN / duplicate MN", entry=entry, field="station_mn")
            stations.add(mn)
        water_body: WaterBody = _choice(raw, "water_body", entry, get_args(WaterBody))
        counts = _counts_in_share(raw, entry, water_body=water_body, level=level)
        note = raw.get("note", "")
        if not isinstance(note, str):
            raise RegistryError("必须是文本 / must be text", entry=entry, field="note")
        sections.append(
            Section(
                id=section_id,
                name=_text(raw, "name", entry),
                confirmed=confirmed,
                river=_text(raw, "river", entry),
                water_body=water_body,
                level=level,
                lon=_coordinate(raw, "lon", entry, 180.0),
                lat=_coordinate(raw, "lat", entry, 90.0),
                targets=_targets(raw, entry),
                assessed_unit=unit,
                upstream=_optional_text(raw, "upstream", entry),
                station_mn=mn,
                standards=_standards(raw, entry),
                counts_in_share=counts,
                note=note.strip(),
            )
        )
        labels[section_id] = entry
    _check_upstream(sections, labels)
    return tuple(sections)


def _check_upstream(sections: list[Section], labels: Mapping[str, str]) -> None:
    by_id = {s.id: s for s in sections}
    for section in sections:
        if section.upstream is None:
            continue
        entry = labels[section.id]
        if section.upstream not in by_id:
            raise RegistryError(
                f"未知的上游断面 / unknown upstream section {section.upstream!r}",
                entry=entry,
                field="upstream",
            )
        seen = {section.id}
        current: str | None = section.upstream
        while current is not None:
            if current in seen:
                raise RegistryError(
                    f"上游关系成环 / upstream links form a cycle through {current!r}",
                    entry=entry,
                    field="upstream",
                )
            seen.add(current)
            current = by_id[current].upstream
