"""The one statement codec: every line kind round-trips exactly; decimals stay plain text."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from decimal import Decimal

from compensation.engine import Measurement, monthly_statement
from compensation.rules import rule_set_for
from compensation.statement import MonthlyStatement
from sections.registry import Registry
from service.statements.codec import canonical_json, statement_from_json, statement_json

MONTH = dt.date(2025, 7, 1)


def _statement(registry: Registry) -> MonthlyStatement:
    days = [MONTH + dt.timedelta(days=i) for i in range(31)]
    rows = [
        Measurement(section="xiaofanqiao", factor="cod", date=dt.date(2025, 7, 5),
                    value=Decimal("31"), kind="routine", ref="lab:1"),
        Measurement(section="xiaofanqiao", factor="nh3n", date=dt.date(2025, 7, 9),
                    value=Decimal("0.6"), kind="spot", ref="lab:2", censored=True),
        *[Measurement(section="fuyang-taocheng", factor="nh3n", date=d,
                      value=Decimal("2.4") if 10 <= d.day <= 13 else Decimal("0.5"),
                      kind="auto_daily", ref=f"daily:{d}", suspect=1 if d.day == 11 else 0,
                      lower_bound=d.day == 12)
          for d in days],
        Measurement(section="fudong-wuyi", factor="cod", date=MONTH, value=None,
                    kind="auto_daily", status="no_flow", note="断流"),
    ]  # fmt: skip
    return monthly_statement(rows, month=MONTH, registry=registry, rule_set=rule_set_for(MONTH))


def test_every_line_kind_round_trips_exactly(registry: Registry) -> None:
    statement = _statement(registry)
    assert any(u.events for u in statement.units) and any(u.exempt for u in statement.units)
    assert any(u.lines for u in statement.units)
    text = canonical_json(statement)
    back = statement_from_json(json.loads(text))
    # canonical text sorts keys, so section names come back in id order: the same names
    assert dict(back.section_names) == dict(statement.section_names)
    assert replace(back, section_names=statement.section_names) == statement
    assert canonical_json(back) == text


def test_the_shape_is_the_documented_one(registry: Registry) -> None:
    data = statement_json(_statement(registry))
    assert data["month"] == "2025-07" and data["sections"]["xiaofanqiao"] == "小范桥"
    unit = next(u for u in data["units"] if u["lines"])
    assert {"total_wan", "total_yuan", "reward_wan", "lines", "events", "statuses"} <= set(unit)
    line = unit["lines"][0]
    assert isinstance(line["amount_wan"], str) and "E" not in line["amount_wan"]
    assert isinstance(line["tiers"], int)


def test_older_stored_versions_without_new_fields_read_back(registry: Registry) -> None:
    data = statement_json(_statement(registry))
    for unit in data["units"]:
        for line in unit["lines"]:
            for key in ("sources", "suspect", "lower_bound", "censored"):
                line.pop(key)
    back = statement_from_json(data)
    assert all(line.suspect == 0 for unit in back.units for line in unit.lines)
