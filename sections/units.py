"""Unit harmonisation: values in the units laboratories and stations report, to canonical units.

Canonical units are those of ``parameters.csv`` (mg/L for concentrations, mg/m³ for
chlorophyll-a, μS/cm for conductivity …). The conversion factors are exact powers of ten.

References
----------
.. [1] SI prefixes; 1 μg/L = 1 mg/m³ (chlorophyll-a is reported either way) [V].
"""

from __future__ import annotations

from types import MappingProxyType

from sections.errors import DataTableError
from sections.parameters import parameter

__all__ = ["UNIT_ALIASES", "conversion_factor", "normalise_unit"]

UNIT_ALIASES: MappingProxyType[str, str] = MappingProxyType(
    {
        "mg/l": "mg/L", "毫克/升": "mg/L",
        "ug/l": "μg/L", "µg/l": "μg/L", "μg/l": "μg/L", "微克/升": "μg/L",
        "ng/l": "ng/L",
        "mg/m3": "mg/m³", "mg/m³": "mg/m³",
        "us/cm": "μS/cm", "µs/cm": "μS/cm", "μs/cm": "μS/cm", "ms/cm": "mS/cm",
        "ntu": "NTU", "℃": "℃", "°c": "℃", "c": "℃",
        "": "", "-": "dimensionless", "无量纲": "dimensionless", "dimensionless": "dimensionless",
        "个/l": "个/L", "mpn/l": "个/L", "cells/l": "cells/L", "个/升": "个/L", "m": "m",
    }
)  # fmt: skip
"""Spellings seen in laboratory files → one spelling."""

# factor to multiply a value in the unit (key) to get the canonical unit (inner key)
_FACTORS: dict[str, dict[str, float]] = {
    "mg/L": {"mg/L": 1.0, "μg/L": 1e-3, "ng/L": 1e-6, "mg/m³": 1e-3},
    "mg/m³": {"mg/m³": 1.0, "μg/L": 1.0, "mg/L": 1e3},
    "μS/cm": {"μS/cm": 1.0, "mS/cm": 1e3},
    "NTU": {"NTU": 1.0},
    "℃": {"℃": 1.0},
    "dimensionless": {"dimensionless": 1.0, "": 1.0},
    "个/L": {"个/L": 1.0},
    "cells/L": {"cells/L": 1.0},
    "m": {"m": 1.0},
}


def normalise_unit(text: str) -> str:
    """One spelling for a unit as written in a file (``ug/L`` → ``μg/L``)."""
    cleaned = text.strip()
    return UNIT_ALIASES.get(cleaned.lower(), cleaned)


def conversion_factor(unit: str, key: str) -> float:
    """The factor turning a value of ``key`` in ``unit`` into the canonical unit.

    An empty unit means the canonical one.

    Raises
    ------
    DataTableError
        When the unit cannot be converted to the parameter's canonical unit; the message lists
        the units that can.

    Examples
    --------
    >>> conversion_factor("µg/L", "tp"), conversion_factor("mg/L", "chla")
    (0.001, 1000.0)
    """
    canonical = parameter(key).unit
    given = normalise_unit(unit) or canonical
    table = _FACTORS.get(canonical, {canonical: 1.0})
    if given == canonical:
        return 1.0
    try:
        return table[given]
    except KeyError:
        raise DataTableError(
            f"无法把 {key} 的单位 {unit!r} 换算为 {canonical} / cannot convert {unit!r} for "
            f"{key}; valid: {', '.join(table)}"
        ) from None
