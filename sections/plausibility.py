"""Physically possible values: the one plausibility table every door checks.

A reading outside its parameter's physical range (``sections/data/plausibility.csv``: NH3-N ≤
1,000 mg/L, pH 0–14 …) is not pollution but an error — a unit slip, a logger fault, a typing
mistake, an attack. HJ 212 frames, the national publish API, manual laboratory files and the offline
commands refuse it with the row and this reason, keep it for review, and never classify or bill
it. The ranges are assumptions [A], deliberately wide: the QA/QC gross-range test
(:mod:`sections.quality`) judges the narrower, plausible-but-suspect band.

References
----------
.. [1] architecture.md, "Doors": every way data comes in checks the same plausibility table from
   ``sections/``.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Final

import numpy as np
import pandas as pd

from sections.errors import DataTableError
from sections.parameters import parameters

__all__ = [
    "PLAUSIBILITY_TABLE",
    "PhysicalRange",
    "implausible",
    "physical_range",
    "physical_ranges",
    "plausibility_reason",
]

PLAUSIBILITY_TABLE: Final = "plausibility.csv"


@dataclass(frozen=True, slots=True)
class PhysicalRange:
    """The physically possible range of one parameter [unit of the parameter] [A]."""

    key: str
    minimum: float
    maximum: float

    def reason(self, value: float) -> str:
        """``""`` when ``value`` is possible, else why not (Chinese, then English)."""
        if math.isnan(value):
            return ""
        if math.isinf(value) or not self.minimum <= value <= self.maximum:
            unit = parameters()[self.key].unit
            return (
                f"{self.key} = {value:g} 超出物理可能范围 {self.minimum:g}–{self.maximum:g} {unit}"
                f" / {self.key} = {value:g} is outside the physical range"
            )
        return ""


@cache
def physical_ranges() -> MappingProxyType[str, PhysicalRange]:
    """Every parameter's physical range, keyed by parameter key (read-only).

    Raises
    ------
    DataTableError
        When the table misses a parameter of ``parameters.csv`` or has a bad row.

    Examples
    --------
    >>> physical_ranges()["ph"]
    PhysicalRange(key='ph', minimum=0.0, maximum=14.0)
    """
    text = resources.files("sections").joinpath("data", PLAUSIBILITY_TABLE).read_text("utf-8")
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    table: dict[str, PhysicalRange] = {}
    for row in rows:
        try:
            low, high = float(row["min"]), float(row["max"])
        except (TypeError, ValueError):
            where = f"{PLAUSIBILITY_TABLE}: bad range for {row.get('key')!r}"
            raise DataTableError(where) from None
        if not low < high:
            raise DataTableError(f"{PLAUSIBILITY_TABLE}: empty range for {row['key']!r}")
        table[row["key"]] = PhysicalRange(row["key"], low, high)
    missing = sorted(set(parameters()) - set(table))
    if missing:
        raise DataTableError(f"{PLAUSIBILITY_TABLE}: no range for {', '.join(missing)}")
    return MappingProxyType(table)


def physical_range(key: str) -> PhysicalRange:
    """The physical range of one parameter; ``DataTableError`` naming the valid keys otherwise."""
    table = physical_ranges()
    try:
        return table[key]
    except KeyError:
        raise DataTableError(
            f"no physical range for {key!r} in {PLAUSIBILITY_TABLE}; valid keys: {', '.join(table)}"
        ) from None


def plausibility_reason(key: str, value: float) -> str:
    """Why one reading is impossible, or ``""``; NaN (no reading) is never refused.

    Examples
    --------
    >>> plausibility_reason("nh3n", 0.8)
    ''
    >>> plausibility_reason("cod", 1e9).startswith("cod = 1e+09 超出物理可能范围")
    True
    """
    return physical_range(key).reason(float(value))


def implausible(key: str, values: pd.Series) -> pd.Series:
    """Vectorised :func:`plausibility_reason`: a reason per value (``""`` where possible).

    Examples
    --------
    >>> implausible("ph", pd.Series([7.5, 15.0, float("nan")])).eq("").tolist()
    [True, False, True]
    """
    limits = physical_range(key)
    array = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isnan(array) & (
        np.isinf(array) | (array < limits.minimum) | (array > limits.maximum)
    )
    reasons = np.full(len(array), "", dtype=object)
    for i in np.flatnonzero(bad):
        reasons[i] = limits.reason(float(array[i]))
    return pd.Series(reasons, index=values.index, name="plausibility", dtype=object)
