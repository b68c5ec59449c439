"""Class limits and evaluation precisions of a surface-water quality standard, read from data files.

The tables ship in ``sections/data/``: ``gb3838_limits.csv`` (GB 3838-2002 表1) and
``precision.csv`` (the evaluation precision of each item). A future revision of the standard is
added as rows with another ``standard`` value; every function takes the standard as an argument.

References
----------
.. [1] GB 3838-2002 地表水环境质量标准, 表1 [V].
.. [2] 环办〔2011〕22号 地表水环境质量评价办法（试行）: evaluation indicators, rounding [V].
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Literal, get_args

from sections._choices import choose
from sections.classes import WaterClass
from sections.errors import DataTableError

__all__ = [
    "DEFAULT_STANDARD",
    "LIMITS_TABLE",
    "PRECISION_TABLE",
    "STANDARDS",
    "Direction",
    "IndicatorLimits",
    "class_limit",
    "evaluation_indicators",
    "indicator_limits",
    "limit_table",
    "precision",
    "separate_items",
]

DEFAULT_STANDARD = "GB3838-2002"
STANDARDS: tuple[str, ...] = ("GB3838-2002",)
LIMITS_TABLE = "gb3838_limits.csv"
PRECISION_TABLE = "precision.csv"

Direction = Literal["le", "ge", "range"]
WaterBodyKey = Literal["river", "lake"]


@dataclass(frozen=True, slots=True)
class IndicatorLimits:
    """The class limits of one item for one water body.

    Attributes
    ----------
    key : str
        Parameter key, e.g. ``"tp"``.
    water_body : {'river', 'lake'}
        The water body these limits apply to.
    direction : {'le', 'ge', 'range'}
        ``le``: a value at or below the limit meets the class; ``ge``: at or above (DO);
        ``range``: pH, 6–9 for every class.
    limits : tuple of float
        Limits of Class Ⅰ to Ⅴ [unit of the parameter].
    decides_class : bool
        Whether the item counts in the single-factor section class.
    priority : bool
        Cyanide and heavy metals: listed first among main pollutants when they exceed.
    """

    key: str
    water_body: WaterBodyKey
    direction: Direction
    limits: tuple[float, float, float, float, float]
    decides_class: bool
    priority: bool

    def limit(self, klass: WaterClass | int) -> float:
        """The limit of a class Ⅰ–Ⅴ (``ValueError`` for 劣Ⅴ, which has no limit)."""
        number = int(klass)
        if not 1 <= number <= 5:
            raise ValueError(f"class {number} has no limit (Ⅰ–Ⅴ only)")
        return self.limits[number - 1]


def _check_standard(standard: str) -> None:
    if standard not in STANDARDS:
        raise ValueError(f"unknown standard {standard!r}; valid: {', '.join(STANDARDS)}")


def _read(name: str) -> list[dict[str, str]]:
    text = resources.files("sections").joinpath("data", name).read_text("utf-8")
    return list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))


@cache
def limit_table(
    standard: str = DEFAULT_STANDARD,
) -> MappingProxyType[tuple[str, str], IndicatorLimits]:
    """All class limits of a standard, keyed by (key, water body) (read-only)."""
    _check_standard(standard)
    table: dict[tuple[str, str], IndicatorLimits] = {}
    for row in _read(LIMITS_TABLE):
        if row["standard"] != standard:
            continue
        where = f"{LIMITS_TABLE}, {row['key']}"
        bodies: tuple[WaterBodyKey, ...] = (
            ("river", "lake")
            if row["water_body"] == "all"
            else (choose(row["water_body"], get_args(WaterBodyKey), where=where),)
        )
        one, two, three, four, five = (float(row[c]) for c in ("I", "II", "III", "IV", "V"))
        limits = (one, two, three, four, five)
        for body in bodies:
            table[(row["key"], body)] = IndicatorLimits(
                key=row["key"],
                water_body=body,
                direction=choose(row["direction"], get_args(Direction), where=where),
                limits=limits,
                decides_class=row["decides_class"] == "true",
                priority=row["priority"] == "true",
            )
    return MappingProxyType(table)


def indicator_limits(
    key: str, water_body: WaterBodyKey = "river", *, standard: str = DEFAULT_STANDARD
) -> IndicatorLimits:
    """The class limits of an item in a water body.

    Raises
    ------
    DataTableError
        When the standard sets no limit for the item in that water body (e.g. TN in rivers);
        the message lists the items that have one.

    Examples
    --------
    >>> indicator_limits("tp", "lake").limits
    (0.01, 0.025, 0.05, 0.1, 0.2)
    """
    table = limit_table(standard)
    try:
        return table[(key, water_body)]
    except KeyError:
        valid = sorted({k for k, body in table if body == water_body})
        raise DataTableError(
            f"{standard} sets no {water_body} limit for {key!r} in {LIMITS_TABLE}; "
            f"valid keys: {', '.join(valid)}"
        ) from None


def class_limit(
    key: str,
    klass: WaterClass | int,
    water_body: WaterBodyKey = "river",
    *,
    standard: str = DEFAULT_STANDARD,
) -> float:
    """The limit of one class for one item [unit of the parameter].

    Examples
    --------
    >>> class_limit("nh3n", 3)
    1.0
    """
    return indicator_limits(key, water_body, standard=standard).limit(klass)


def evaluation_indicators(
    water_body: WaterBodyKey = "river", *, standard: str = DEFAULT_STANDARD
) -> tuple[str, ...]:
    """The items that decide a section's class (single-factor method), in table order."""
    return tuple(
        lim.key
        for (_, body), lim in limit_table(standard).items()
        if body == water_body and lim.decides_class
    )


def separate_items(*, standard: str = DEFAULT_STANDARD) -> frozenset[str]:
    """Items with class limits that are evaluated and reported but never decide a class.

    TN and fecal coliform (环办〔2011〕22号: the 21 deciding items are Table 1 less
    temperature, TN and fecal coliform) [V]; lake TN is reported apart ("总氮单独评价").

    Examples
    --------
    >>> sorted(separate_items())
    ['fecal_coliform', 'tn']
    """
    return frozenset(lim.key for lim in limit_table(standard).values() if not lim.decides_class)


@cache
def _precisions(standard: str) -> MappingProxyType[str, int]:
    _check_standard(standard)
    return MappingProxyType(
        {row["key"]: int(row["decimals"]) for row in _read(PRECISION_TABLE)
         if row["standard"] == standard}
    )  # fmt: skip


def precision(key: str, *, standard: str = DEFAULT_STANDARD) -> int:
    """The evaluation precision of an item: decimals kept before classifying.

    Examples
    --------
    >>> precision("ph"), precision("tp")
    (0, 3)
    """
    table = _precisions(standard)
    try:
        return table[key]
    except KeyError:
        raise DataTableError(
            f"no evaluation precision for {key!r} in {PRECISION_TABLE} ({standard}); "
            f"valid keys: {', '.join(table)}"
        ) from None
