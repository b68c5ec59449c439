"""The monthly compensation statement as data: frozen dataclasses, never rendered here.

Every line carries the rule set, the clause and the references of the measurements it rests
on, so each yuan can be traced. Money is ``Decimal`` in 万元; ``total_yuan`` converts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

__all__ = [
    "WAN",
    "DeductionLine",
    "EventLine",
    "ExemptLine",
    "FactorStatus",
    "MonthlyStatement",
    "RewardLine",
    "RuleSetSummary",
    "UnitStatement",
]

WAN = Decimal(10_000)
"""Yuan per 万元."""

StatusCode = Literal[
    "meets", "exceeds", "not_increased", "no_flow", "dry", "frozen", "excluded",
    "insufficient_data", "no_data", "no_standard",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class DeductionLine:
    """A monthly deduction for one section and factor.

    Attributes
    ----------
    value, standard, inflow_value : Decimal
        The month's value, the standard and, when the inflow rule applied, the inflow
        section's value [mg/L].
    multiple, tiers, amount_wan
        The multiple the tiers are counted on, the tiers and the amount [万元].
    basis : str
        Which result decided the value, in Chinese.
    clause : str
        Document and clauses applied.
    refs : tuple of str
        The measurements the value rests on.
    sources : tuple of str
        The kinds of data compared for the value (``routine``, ``spot``,
        ``auto_monthly_mean``); the basis names the one that decided.
    suspect : int
        How many QARTOD-suspect values the value rests on.
    lower_bound : bool
        The value is a lower bound ("≥"): an over-range reading entered it.
    censored : bool
        A result below the detection limit entered it at half the limit.
    """

    section: str
    factor: str
    value: Decimal
    standard: Decimal
    inflow_value: Decimal | None
    multiple: Decimal
    tiers: int
    amount_wan: Decimal
    basis: str
    clause: str
    refs: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    suspect: int = 0
    lower_bound: bool = False
    censored: bool = False


@dataclass(frozen=True, slots=True)
class EventLine:
    """An automatic-station event: a run of consecutive exceeding days, charged once.

    Attributes
    ----------
    section : str
    factor : str
        The factor, or for an episode the factors that exceeded joined by ``+`` in the rule
        set's order (``codmn+nh3n+tp``).
    start, end : date
        First and last exceeding day of the run.
    days : int
        Length of the run.
    charged_on : date
        The day the run reached the minimum length; its month is charged.
    amount_wan : Decimal
        [万元].
    clause : str
    refs : tuple of str
        The daily values the run rests on.
    factors : tuple of str
        The factors that exceeded during the run.
    factor_days : tuple of (str, tuple of date)
        Per factor, the days on which it exceeded (after the inflow rule).
    counting : {'episode', 'factor'}
        How the occurrence was counted.
    suspect : int
        QARTOD-suspect values the exceeding daily values rest on.
    lower_bound : bool
        An exceeding daily value is a lower bound ("≥").
    """

    section: str
    factor: str
    start: dt.date
    end: dt.date
    days: int
    charged_on: dt.date
    amount_wan: Decimal
    clause: str
    refs: tuple[str, ...] = ()
    factors: tuple[str, ...] = ()
    factor_days: tuple[tuple[str, tuple[dt.date, ...]], ...] = ()
    counting: str = "factor"
    suspect: int = 0
    lower_bound: bool = False

    @property
    def all_factors(self) -> tuple[str, ...]:
        """The factors of the occurrence (``factors``, or ``factor`` split on ``+``)."""
        return self.factors or tuple(self.factor.split("+"))


@dataclass(frozen=True, slots=True)
class ExemptLine:
    """A section and factor not charged this month, with the reason."""

    section: str
    factor: str
    status: str
    note: str


@dataclass(frozen=True, slots=True)
class RewardLine:
    """A reward, kept apart from deductions and never netted against them."""

    section: str
    amount_wan: Decimal
    reason: str
    clause: str


@dataclass(frozen=True, slots=True)
class FactorStatus:
    """How one section and factor stands this month, for the 通报 table."""

    section: str
    factor: str
    status: StatusCode
    text: str
    value: Decimal | None = None
    standard: Decimal | None = None
    multiple: Decimal | None = None


@dataclass(frozen=True, slots=True)
class UnitStatement:
    """One assessed unit's month."""

    unit: str
    name: str
    sections: tuple[str, ...]
    lines: tuple[DeductionLine, ...] = ()
    events: tuple[EventLine, ...] = ()
    exempt: tuple[ExemptLine, ...] = ()
    rewards: tuple[RewardLine, ...] = ()
    statuses: tuple[FactorStatus, ...] = field(default=())

    @property
    def total_wan(self) -> Decimal:
        """Deductions and events of the month [万元]; rewards are not netted."""
        return sum((line.amount_wan for line in self.lines), Decimal(0)) + sum(
            (event.amount_wan for event in self.events), Decimal(0)
        )

    @property
    def total_yuan(self) -> Decimal:
        """:attr:`total_wan` in 元."""
        return self.total_wan * WAN

    @property
    def reward_wan(self) -> Decimal:
        """Rewards of the month [万元], separate from the deductions."""
        return sum((reward.amount_wan for reward in self.rewards), Decimal(0))


@dataclass(frozen=True, slots=True)
class RuleSetSummary:
    """What a statement names of its rule set.

    Attributes
    ----------
    id, document, title : str
    assumptions : tuple of str
        Every parameter that is not verified, one line each in Chinese, starting with its tag
        (``[推定]`` derived, ``[假设]`` assumption).
    method : tuple of str
        How the month was computed (factors per water body, value selection, how events are
        counted, the inflow rule for events), one sentence each.
    """

    id: str
    document: str
    title: str
    assumptions: tuple[str, ...]
    method: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MonthlyStatement:
    """The compensation statement of one month for every unit of the registry."""

    month: dt.date
    rule_set: RuleSetSummary
    units: tuple[UnitStatement, ...]
    section_names: tuple[tuple[str, str], ...] = ()

    @property
    def total_wan(self) -> Decimal:
        """All units' deductions [万元]."""
        return sum((unit.total_wan for unit in self.units), Decimal(0))

    @property
    def total_yuan(self) -> Decimal:
        """:attr:`total_wan` in 元."""
        return self.total_wan * WAN

    def unit(self, unit_id: str) -> UnitStatement:
        """The statement of one unit; ``KeyError`` naming the valid ids otherwise."""
        for unit in self.units:
            if unit.unit == unit_id:
                return unit
        raise KeyError(f"unknown unit {unit_id!r}; valid: {', '.join(u.unit for u in self.units)}")

    def section_name(self, section_id: str) -> str:
        """The name of a section as the registry gives it."""
        return dict(self.section_names).get(section_id, section_id)
