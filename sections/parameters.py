"""The parameter glossary: canonical keys, Chinese names and units.

Every module of Qingliu names water-quality parameters by these keys (``codmn``, ``nh3n`` …) and
expresses them in these units; edge readers translate source codes to them.

References
----------
.. [1] GB 3838-2002 地表水环境质量标准, 表1 [V].
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Literal, get_args

from sections._choices import choose
from sections.errors import DataTableError

__all__ = ["PARAMETERS_TABLE", "Parameter", "parameter", "parameters"]

PARAMETERS_TABLE = "parameters.csv"

ParameterKind = Literal["basic", "chemistry", "metal", "biology"]


@dataclass(frozen=True, slots=True)
class Parameter:
    """One water-quality parameter.

    Attributes
    ----------
    key : str
        Canonical key, e.g. ``"nh3n"``.
    name_zh : str
        Chinese name as written in bulletins, e.g. ``"氨氮"``.
    unit : str
        Canonical unit, e.g. ``"mg/L"``.
    kind : str
        ``basic`` (the five basic station parameters and SD), ``chemistry``, ``metal`` or
        ``biology``.
    """

    key: str
    name_zh: str
    unit: str
    kind: ParameterKind


@cache
def parameters() -> MappingProxyType[str, Parameter]:
    """All parameters, keyed by canonical key, in the table's order (read-only)."""
    text = resources.files("sections").joinpath("data", PARAMETERS_TABLE).read_text("utf-8")
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    table = {
        row["key"]: Parameter(
            row["key"], row["name_zh"], row["unit"],
            choose(row["kind"], get_args(ParameterKind), where=f"{PARAMETERS_TABLE}, kind"),
        )
        for row in rows
    }
    return MappingProxyType(table)


def parameter(key: str) -> Parameter:
    """Look up one parameter by key.

    Raises
    ------
    DataTableError
        When ``key`` is not in the table; the message lists the valid keys.
    """
    table = parameters()
    try:
        return table[key]
    except KeyError:
        raise DataTableError(
            f"unknown parameter {key!r} in {PARAMETERS_TABLE}; valid keys: {', '.join(table)}"
        ) from None
