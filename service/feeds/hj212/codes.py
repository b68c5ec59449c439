"""Pollutant codes on the wire: the reader of ``sections/data/pollutant_codes.csv``.

A code (``w21003``) maps to a Qingliu parameter key (``nh3n``) and to the unit its values have on
the wire (HJ 212-2017 附录B's default unit), from which :func:`canonical_value` converts exactly.

References
----------
.. [1] HJ 212-2017 附录B: pollutant codes and their units [V].
.. [2] domain.md §5: pollutant codes of surface-water stations [V].
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from types import MappingProxyType
from typing import Final

from sections.errors import DataTableError
from sections.parameters import parameters
from sections.units import conversion_factor
from service.feeds.hj212.frame import Hj212Value

__all__ = [
    "POLLUTANT_CODES",
    "POLLUTANT_CODES_TABLE",
    "POLLUTANT_TABLE",
    "PollutantCode",
    "canonical_value",
]

POLLUTANT_CODES_TABLE: Final = "pollutant_codes.csv"
"""The file of ``sections/data`` this module reads."""

_TABLE_COLUMNS: Final = ["code", "key", "name_zh", "unit", "tag", "sources", "note"]


@dataclass(frozen=True, slots=True)
class PollutantCode:
    """One row of ``sections/data/pollutant_codes.csv``: a pollutant code on the wire.

    Attributes
    ----------
    code : str
        The code as HJ 212-2017 附录B writes it, e.g. ``"w20111"``.
    key : str
        Qingliu parameter key (``"hg"``).
    name_zh : str
        The standard's name (``"总汞"``).
    unit : str
        The unit a value of this code has on the wire (附录B's default unit, ``"μg/L"``).
    factor : Decimal
        Multiplier from ``unit`` to the canonical unit of ``parameters.csv`` (``0.001``).
    tag : {'V', 'A'}
        Verified or assumption.
    sources : str
        Source ids of the row (defined in the file's first line).
    note : str
        Remarks (alias, a unit that is an assumption …).
    """

    code: str
    key: str
    name_zh: str
    unit: str
    factor: Decimal
    tag: str
    sources: str
    note: str


def _load_pollutant_codes() -> MappingProxyType[str, PollutantCode]:
    text = resources.files("sections").joinpath("data", POLLUTANT_CODES_TABLE).read_text("utf-8")
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    if rows.fieldnames != _TABLE_COLUMNS:
        raise DataTableError(f"{POLLUTANT_CODES_TABLE}: columns must be {','.join(_TABLE_COLUMNS)}")
    known = parameters()
    table: dict[str, PollutantCode] = {}
    for row in rows:
        code, key = row["code"], row["key"]
        if code in table:
            raise DataTableError(f"{POLLUTANT_CODES_TABLE}: code {code!r} appears twice")
        if key not in known:
            raise DataTableError(
                f"{POLLUTANT_CODES_TABLE}: unknown parameter {key!r} for {code!r}; "
                f"valid keys: {', '.join(known)}"
            )
        if row["tag"] not in ("V", "A") or not row["sources"].strip():
            raise DataTableError(
                f"{POLLUTANT_CODES_TABLE}: {code!r} needs a tag V or A and its sources"
            )
        try:
            factor = Decimal(repr(conversion_factor(row["unit"], key)))
        except DataTableError as error:
            raise DataTableError(f"{POLLUTANT_CODES_TABLE}: {code!r}: {error}") from None
        table[code] = PollutantCode(
            code, key, row["name_zh"], row["unit"], factor, row["tag"], row["sources"],
            row["note"] or "",
        )  # fmt: skip
    return MappingProxyType(table)


POLLUTANT_TABLE: Final[Mapping[str, PollutantCode]] = _load_pollutant_codes()
"""Pollutant code on the wire → its row of ``pollutant_codes.csv`` (key, unit, source, tag)."""

POLLUTANT_CODES: Final[Mapping[str, str]] = MappingProxyType(
    {code: row.key for code, row in POLLUTANT_TABLE.items()}
)
"""Pollutant code on the wire → Qingliu parameter key, e.g. ``w21003`` → ``nh3n`` [V]."""

_PARAMETER_OF_CODE: Final = dict(POLLUTANT_CODES)  # a dict's get is faster than a proxy's

_CODE_OF_KEY: Final = MappingProxyType(
    {row.key: code for code, row in list(POLLUTANT_TABLE.items())[::-1]}
)  # the first row of a key is the code we send

_WIRE_FACTORS: Final = {
    code: row.factor for code, row in POLLUTANT_TABLE.items() if row.factor != 1
}


def canonical_value(value: Hj212Value) -> float | None:
    """The value of a known code in the canonical unit of ``parameters.csv``.

    A pollutant code's value is sent in the unit 附录B gives for the code (``w20111`` 总汞 in
    μg/L); this converts it exactly (decimal arithmetic on the text as sent). None for a
    "no value" sentinel; the value as sent for a code outside the table.

    Examples
    --------
    >>> import datetime as dt
    >>> from service.feeds.hj212 import data_frame, parse_frame
    >>> frame = parse_frame(data_frame(mn="HS131100XFQ0001", pw="123456",
    ...     data_time=dt.datetime(2026, 10, 12, 8), values={"w20111": 0.05}))
    >>> frame.values[0].value, canonical_value(frame.values[0])
    (0.05, 5e-05)
    """
    if value.missing:
        return None
    factor = _WIRE_FACTORS.get(value.code)
    if factor is None and not value.code.islower():
        factor = _WIRE_FACTORS.get(value.code.lower())
    if factor is None or value.parameter is None:
        return value.value
    return float(Decimal(value.text) * factor)
