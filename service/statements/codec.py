"""The one statement codec: a :class:`~compensation.statement.MonthlyStatement` ↔ JSON.

Both directions come from the domain dataclasses themselves through pydantic's ``TypeAdapter``,
so a field added to a line is written and read back without a second hand-written mapping. The
shape is the one of ``qingliu compensate --format json`` and ``/api/compensation/{month}``:
decimals as plain strings (``"30"``, ``"0.55"``), dates as ISO 8601, the month as ``YYYY-MM``,
section names as ``{"sections": {id: name}}``, and the totals (万元 and 元) of the statement and of
each unit added for readers. Issued versions are stored as canonical JSON text of this shape and
hashed; older stored versions that lack newer fields read back with the fields' defaults.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal
from functools import cache
from typing import Any

from pydantic import TypeAdapter

from compensation.statement import MonthlyStatement, UnitStatement

__all__ = [
    "canonical_json",
    "content_hash",
    "statement_from_json",
    "statement_json",
    "unit_json",
]

_TOTALS = ("total_wan", "total_yuan")
_UNIT_TOTALS = ("total_wan", "total_yuan", "reward_wan")


@cache
def _adapter() -> TypeAdapter[MonthlyStatement]:
    return TypeAdapter(MonthlyStatement)


@cache
def _unit_adapter() -> TypeAdapter[UnitStatement]:
    return TypeAdapter(UnitStatement)


def _plain(value: Any) -> Any:
    """Python values of a dump as JSON-ready ones: Decimal → plain text, date → ISO."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def unit_json(unit: UnitStatement) -> dict[str, Any]:
    """One unit's statement as plain data, with its totals."""
    data: dict[str, Any] = _plain(_unit_adapter().dump_python(unit, mode="python"))
    data.pop("sections", None)  # derived again from the statuses when read back
    for name in _UNIT_TOTALS:
        data[name] = format(getattr(unit, name), "f")
    return data


def statement_json(statement: MonthlyStatement, *, unit: str | None = None) -> dict[str, Any]:
    """The statement as plain data; with ``unit``, only that unit (``KeyError`` if unknown)."""
    units = [statement.unit(unit)] if unit is not None else list(statement.units)
    data: dict[str, Any] = {
        "month": f"{statement.month:%Y-%m}",
        "rule_set": _plain(TypeAdapter(type(statement.rule_set)).dump_python(statement.rule_set)),
        **{name: format(getattr(statement, name), "f") for name in _TOTALS},
        "sections": dict(statement.section_names),
        "units": [unit_json(u) for u in units],
    }
    return data


def statement_from_json(data: dict[str, Any]) -> MonthlyStatement:
    """Rebuild a statement from :func:`statement_json` data (as stored when issued)."""
    units = []
    for stored in data["units"]:
        unit = {k: v for k, v in stored.items() if k not in _UNIT_TOTALS}
        unit.setdefault(
            "sections", list(dict.fromkeys(s["section"] for s in stored.get("statuses", ())))
        )
        units.append(unit)
    shaped = {
        "month": dt.date.fromisoformat(str(data["month"])[:7] + "-01"),
        "rule_set": data["rule_set"],
        "units": units,
        "section_names": list(data.get("sections", {}).items()),
    }
    return _adapter().validate_python(shaped)


def canonical_json(statement: MonthlyStatement) -> str:
    """The statement as canonical JSON text (sorted keys, no spaces): what is hashed and kept."""
    data = statement_json(statement)
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def content_hash(text: str) -> str:
    """SHA-256 of the canonical JSON text, hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
