"""Statements stored as canonical JSON, and read back into the domain dataclasses exactly.

The stored JSON is :func:`~service.statements.data.statement_json` with the fields that say
what a figure rests on (value sources, suspect, lower-bound and below-detection marks, event
factors and days, the rule set's method) added where that shape does not carry them yet, so an
issued version reads back exactly. Older stored versions without them read back with the
defaults.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal
from typing import Any

from compensation.statement import (
    DeductionLine,
    EventLine,
    ExemptLine,
    FactorStatus,
    MonthlyStatement,
    RewardLine,
    RuleSetSummary,
    UnitStatement,
)
from service.statements.data import statement_json

__all__ = ["canonical_json", "content_hash", "statement_from_json"]


def canonical_json(statement: MonthlyStatement) -> str:
    """The statement as canonical JSON text (sorted keys, no spaces): what is hashed and kept."""
    data = statement_json(statement)
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def content_hash(text: str) -> str:
    """SHA-256 of the canonical JSON text, hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _dec(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _req(text: str | None) -> Decimal:
    if text is None:
        raise ValueError("a required decimal is missing")
    return Decimal(text)


def statement_from_json(data: dict[str, Any]) -> MonthlyStatement:
    """Rebuild a statement from :func:`statement_json` data (as stored when issued)."""
    units = []
    for u in data["units"]:
        units.append(
            UnitStatement(
                unit=u["unit"],
                name=u["name"],
                sections=tuple(dict.fromkeys(s["section"] for s in u["statuses"])),
                lines=tuple(
                    DeductionLine(
                        section=x["section"],
                        factor=x["factor"],
                        value=_req(x["value"]),
                        standard=_req(x["standard"]),
                        inflow_value=_dec(x["inflow_value"]),
                        multiple=_req(x["multiple"]),
                        tiers=int(x["tiers"]),
                        amount_wan=_req(x["amount_wan"]),
                        basis=x["basis"],
                        clause=x["clause"],
                        refs=tuple(x.get("refs", ())),
                        sources=tuple(x.get("sources", ())),
                        suspect=int(x.get("suspect", 0)),
                        lower_bound=bool(x.get("lower_bound", False)),
                        censored=bool(x.get("censored", False)),
                    )
                    for x in u["lines"]
                ),
                events=tuple(
                    EventLine(
                        section=x["section"],
                        factor=x["factor"],
                        start=dt.date.fromisoformat(x["start"]),
                        end=dt.date.fromisoformat(x["end"]),
                        days=int(x["days"]),
                        charged_on=dt.date.fromisoformat(x["charged_on"]),
                        amount_wan=_req(x["amount_wan"]),
                        clause=x["clause"],
                        refs=tuple(x.get("refs", ())),
                        factors=tuple(x.get("factors", ())),
                        factor_days=tuple(
                            (str(f), tuple(dt.date.fromisoformat(d) for d in days))
                            for f, days in x.get("factor_days", ())
                        ),
                        counting=x.get("counting", "factor"),
                        suspect=int(x.get("suspect", 0)),
                        lower_bound=bool(x.get("lower_bound", False)),
                    )
                    for x in u["events"]
                ),
                exempt=tuple(
                    ExemptLine(x["section"], x["factor"], x["status"], x["note"])
                    for x in u["exempt"]
                ),
                rewards=tuple(
                    RewardLine(x["section"], _req(x["amount_wan"]), x["reason"], x["clause"])
                    for x in u["rewards"]
                ),
                statuses=tuple(
                    FactorStatus(
                        section=x["section"],
                        factor=x["factor"],
                        status=x["status"],
                        text=x["text"],
                        value=_dec(x["value"]),
                        standard=_dec(x["standard"]),
                        multiple=_dec(x["multiple"]),
                    )
                    for x in u["statuses"]
                ),
            )
        )
    rule = data["rule_set"]
    return MonthlyStatement(
        month=dt.date.fromisoformat(data["month"] + "-01"),
        rule_set=RuleSetSummary(
            rule["id"],
            rule["document"],
            rule.get("title", ""),
            tuple(rule["assumptions"]),
            tuple(rule.get("method", ())),
        ),
        units=tuple(units),
        section_names=tuple(data.get("sections", {}).items()),
    )
