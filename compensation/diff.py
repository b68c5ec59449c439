"""Line-by-line differences between two versions of a month's statement."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Literal

from compensation.statement import (
    DeductionLine,
    EventLine,
    ExemptLine,
    MonthlyStatement,
    RewardLine,
)

__all__ = ["LineChange", "LineKind", "statement_diff", "statement_lines"]

Change = Literal["added", "removed", "changed"]


@dataclass(frozen=True, slots=True)
class LineChange:
    """One line that differs between two versions.

    Attributes
    ----------
    unit : str
        Unit id.
    kind : {'deduction', 'event', 'exempt', 'reward'}
        Which list the line belongs to.
    key : str
        What identifies the line within the unit, e.g. ``xiaofanqiao/nh3n``.
    change : {'added', 'removed', 'changed'}
    before, after : tuple of (field, text) pairs
        The fields that differ (all fields for added and removed lines).
    """

    unit: str
    kind: str
    key: str
    change: Change
    before: tuple[tuple[str, str], ...]
    after: tuple[tuple[str, str], ...]


def _event_key(event: EventLine) -> str:
    """An episode is the section's run from its first day; a per-factor event adds the factor."""
    if event.counting == "episode":
        return f"{event.section}/{event.start}"
    return f"{event.section}/{event.factor}/{event.start}"


LineKind = Literal["deduction", "event", "exempt", "reward"]


def statement_lines(
    statement: MonthlyStatement,
) -> Iterator[tuple[str, LineKind, str, DeductionLine | EventLine | ExemptLine | RewardLine]]:
    """Every line of a statement as ``(unit, kind, key, line)``: the identity a diff, an appeal
    and a page use for it (a deduction ``section/factor``, an event :func:`_event_key`, an
    exemption ``section/factor``, a reward ``section``)."""
    for unit in statement.units:
        for line in unit.lines:
            yield unit.unit, "deduction", f"{line.section}/{line.factor}", line
        for event in unit.events:
            yield unit.unit, "event", _event_key(event), event
        for exempt in unit.exempt:
            yield unit.unit, "exempt", f"{exempt.section}/{exempt.factor}", exempt
        for reward in unit.rewards:
            yield unit.unit, "reward", reward.section, reward


def _lines(statement: MonthlyStatement) -> dict[tuple[str, str, str], dict[str, str]]:
    return {
        (unit, kind, key): {f.name: str(getattr(item, f.name)) for f in fields(item)
                            if f.name != "refs"}
        for unit, kind, key, item in statement_lines(statement)
    }  # fmt: skip


def statement_diff(before: MonthlyStatement, after: MonthlyStatement) -> tuple[LineChange, ...]:
    """The lines added, removed or changed from ``before`` to ``after``, in a stable order.

    References to observations (``refs``) are not compared: a line changes when what it
    charges changes.
    """
    old, new = _lines(before), _lines(after)
    changes: list[LineChange] = []
    for identity in sorted(old.keys() | new.keys()):
        unit, kind, key = identity
        a, b = old.get(identity), new.get(identity)
        if a is None and b is not None:
            changes.append(LineChange(unit, kind, key, "added", (), tuple(b.items())))
        elif b is None and a is not None:
            changes.append(LineChange(unit, kind, key, "removed", tuple(a.items()), ()))
        elif a is not None and b is not None and a != b:
            names = [n for n in b if a.get(n) != b.get(n)]
            changes.append(
                LineChange(
                    unit, kind, key, "changed",
                    tuple((n, a.get(n, "")) for n in names),
                    tuple((n, b[n]) for n in names),
                )
            )  # fmt: skip
    return tuple(changes)
