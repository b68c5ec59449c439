"""The lines of an issued statement a county may appeal, named as the statement diff names them.

A county appeals what it pays: a tier deduction (``deduction``, key ``section/factor``) or an
automatic-station event (``event``, key ``section/start`` or ``section/factor/start``); the key
is :func:`compensation.diff.statement_lines`'s, so the diff of a new version points at the same
line. Each line is described in Chinese as the compensation page's reasons are
(:mod:`service.statements.wording`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from compensation.diff import statement_lines
from compensation.statement import DeductionLine, EventLine, MonthlyStatement
from service.statements.wording import deduction_text, events_text, money_text

__all__ = ["APPEALABLE_KINDS", "KIND_WORDS", "AppealableLine", "appealable_lines", "find_line"]

APPEALABLE_KINDS: Final = ("deduction", "event")
KIND_WORDS: Final = {"deduction": "超标扣缴", "event": "自动站连续超标事件"}


@dataclass(frozen=True)
class AppealableLine:
    """One line a county may appeal."""

    unit: str
    kind: str
    key: str
    text: str
    """What the line charges and why, in Chinese."""
    amount_wan: Decimal
    refs: tuple[str, ...]
    """The observations the line rests on (``observation:ID``, ``daily:section:day:factor…``)."""

    @property
    def token(self) -> str:
        """``kind:key``: how a form names the line."""
        return f"{self.kind}:{self.key}"


def _line(statement: MonthlyStatement, unit: str, kind: str, key: str,
          item: DeductionLine | EventLine) -> AppealableLine:  # fmt: skip
    if isinstance(item, DeductionLine):
        said = deduction_text(statement, item)
    else:
        said = events_text(statement, [item])
    text = f"{said}，扣缴 {money_text(item.amount_wan)} 万元"
    return AppealableLine(unit, kind, key, text, item.amount_wan, item.refs)


def appealable_lines(statement: MonthlyStatement, unit: str) -> tuple[AppealableLine, ...]:
    """A unit's deductions and events in the statement's order."""
    return tuple(
        _line(statement, u, kind, key, item)
        for u, kind, key, item in statement_lines(statement)
        if u == unit and isinstance(item, DeductionLine | EventLine)
    )


def find_line(statement: MonthlyStatement, unit: str, token: str) -> AppealableLine | None:
    """The line ``kind:key`` of a unit, or None."""
    return next((line for line in appealable_lines(statement, unit) if line.token == token), None)
