"""Line-by-line differences between two versions of a month's statement."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal

from compensation.statement import EventLine, MonthlyStatement

__all__ = ["LineChange", "statement_diff"]

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


def _event_key(event: Any) -> str:
    """An episode is the section's run from its first day; a per-factor event adds the factor."""
    assert isinstance(event, EventLine)
    if event.counting == "episode":
        return f"{event.section}/{event.start}"
    return f"{event.section}/{event.factor}/{event.start}"


def _lines(statement: MonthlyStatement) -> dict[tuple[str, str, str], dict[str, str]]:
    result: dict[tuple[str, str, str], dict[str, str]] = {}
    for unit in statement.units:
        groups: tuple[tuple[str, Sequence[Any], Callable[[Any], str]], ...] = (
            ("deduction", unit.lines, lambda x: f"{x.section}/{x.factor}"),
            ("event", unit.events, _event_key),
            ("exempt", unit.exempt, lambda x: f"{x.section}/{x.factor}"),
            ("reward", unit.rewards, lambda x: f"{x.section}"),
        )  # Any: the four line classes share section/factor but no base class
        for kind, items, key in groups:
            for item in items:
                values = {
                    f.name: str(getattr(item, f.name)) for f in fields(item) if f.name != "refs"
                }
                result[(unit.unit, kind, key(item))] = values
    return result


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
