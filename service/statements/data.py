"""A :class:`~compensation.statement.MonthlyStatement` as plain JSON-ready data.

Decimals are written as strings, dates as ISO 8601; the shape is the one of
``qingliu compensate --format json`` and ``/api/compensation/{month}``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from compensation.statement import MonthlyStatement, UnitStatement

__all__ = ["statement_json", "unit_json"]


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def unit_json(unit: UnitStatement) -> dict[str, Any]:
    """One unit's statement as plain data."""
    return {
        "unit": unit.unit,
        "name": unit.name,
        "total_wan": _text(unit.total_wan),
        "total_yuan": _text(unit.total_yuan),
        "reward_wan": _text(unit.reward_wan),
        "lines": [
            {
                "section": line.section,
                "factor": line.factor,
                "value": _text(line.value),
                "standard": _text(line.standard),
                "inflow_value": _text(line.inflow_value),
                "multiple": _text(line.multiple),
                "tiers": line.tiers,
                "amount_wan": _text(line.amount_wan),
                "basis": line.basis,
                "clause": line.clause,
                "refs": list(line.refs),
                "sources": list(line.sources),
                "suspect": line.suspect,
                "lower_bound": line.lower_bound,
                "censored": line.censored,
            }
            for line in unit.lines
        ],
        "events": [
            {
                "section": event.section,
                "factor": event.factor,
                "start": event.start.isoformat(),
                "end": event.end.isoformat(),
                "days": event.days,
                "charged_on": event.charged_on.isoformat(),
                "amount_wan": _text(event.amount_wan),
                "clause": event.clause,
                "refs": list(event.refs),
                "factors": list(event.factors),
                "factor_days": [
                    [factor, [d.isoformat() for d in days]] for factor, days in event.factor_days
                ],
                "counting": event.counting,
                "suspect": event.suspect,
                "lower_bound": event.lower_bound,
            }
            for event in unit.events
        ],
        "exempt": [
            {"section": e.section, "factor": e.factor, "status": e.status, "note": e.note}
            for e in unit.exempt
        ],
        "rewards": [
            {
                "section": r.section,
                "amount_wan": _text(r.amount_wan),
                "reason": r.reason,
                "clause": r.clause,
            }
            for r in unit.rewards
        ],
        "statuses": [
            {
                "section": s.section,
                "factor": s.factor,
                "status": s.status,
                "text": s.text,
                "value": _text(s.value),
                "standard": _text(s.standard),
                "multiple": _text(s.multiple),
            }
            for s in unit.statuses
        ],
    }


def statement_json(statement: MonthlyStatement, *, unit: str | None = None) -> dict[str, Any]:
    """The statement as plain data; with ``unit``, only that unit (``KeyError`` if unknown)."""
    units = [statement.unit(unit)] if unit is not None else list(statement.units)
    return {
        "month": f"{statement.month:%Y-%m}",
        "rule_set": {
            "id": statement.rule_set.id,
            "document": statement.rule_set.document,
            "title": statement.rule_set.title,
            "assumptions": list(statement.rule_set.assumptions),
            "method": list(statement.rule_set.method),
        },
        "total_wan": _text(statement.total_wan),
        "total_yuan": _text(statement.total_yuan),
        "sections": {section: name for section, name in statement.section_names},
        "units": [unit_json(u) for u in units],
    }
