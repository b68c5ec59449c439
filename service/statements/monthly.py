"""A month's statement as the service shows it: issued (newest or a given version) or draft."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from sqlalchemy import Engine

from compensation.diff import LineChange
from compensation.engine import monthly_statement
from compensation.rules import RuleSet, rule_set_for
from compensation.statement import MonthlyStatement
from sections.registry import Registry
from sections.validity import default_policy
from service.statements.issue import IssueRecord, issued_statement, issued_versions
from service.statements.source import measurements_from_db

__all__ = ["draft_statement", "shown_statement"]


def draft_statement(
    *, engine: Engine, registry: Registry, month: dt.date, rule_set: RuleSet | None = None
) -> MonthlyStatement:
    """The statement computed now from the database (not issued).

    Its assumptions list also names the validity policy's choices [A] (suspect values counted,
    over-range readings as lower bounds), which decide which automatic values a county pays on.
    """
    rules = rule_set or rule_set_for(month)
    measurements = measurements_from_db(
        engine=engine, registry=registry, month=month, rule_set=rules
    )
    statement = monthly_statement(measurements, month=month, registry=registry, rule_set=rules)
    summary = statement.rule_set
    extra = tuple(a for a in default_policy().assumptions if a not in summary.assumptions)
    return replace(statement, rule_set=replace(summary, assumptions=summary.assumptions + extra))


def shown_statement(
    *,
    engine: Engine,
    registry: Registry,
    month: dt.date,
    version: int | None = None,
    draft: bool = False,
) -> tuple[MonthlyStatement, IssueRecord | None, tuple[LineChange, ...]]:
    """The issued version asked for, else the newest issued one, else a draft."""
    if not draft and (version is not None or issued_versions(engine=engine, month=month)):
        return issued_statement(engine=engine, month=month, version=version)
    return draft_statement(engine=engine, registry=registry, month=month), None, ()
