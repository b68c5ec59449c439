"""Exceedance multiples and tiers in exact decimal arithmetic.

References
----------
.. [1] 冀政办字〔2016〕169号 lineage: tiers = ⌈m / step⌉ with the upper bound inclusive, 30 万元 a
   tier, no cap [V structure, D numbers] (domain.md §6).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal
from fractions import Fraction

__all__ = [
    "MULTIPLE_QUANTUM",
    "exceedance_multiple",
    "round_to_precision",
    "shown_multiple",
    "tiers",
]

MULTIPLE_QUANTUM = Decimal("0.000001")
"""Multiples are shown to six decimals; tiers are computed from the exact fraction."""


def exceedance_multiple(value: Decimal, reference: Decimal) -> Fraction:
    """The exact multiple m = (value − reference) / reference [dimensionless].

    Parameters
    ----------
    value : Decimal
        The concentration charged [mg/L].
    reference : Decimal
        The standard, or the inflow concentration when the inflow exceeds its own standard
        [mg/L]; must be positive.

    Examples
    --------
    >>> exceedance_multiple(Decimal("0.45"), Decimal("0.3"))
    Fraction(1, 2)
    """
    if reference <= 0:
        raise ValueError(f"reference must be positive, got {reference}")
    return (Fraction(value) - Fraction(reference)) / Fraction(reference)


def tiers(multiple: Fraction, step: Decimal) -> int:
    """Tiers of a multiple: ⌈m / step⌉ for m > 0, the upper bound inclusive; 0 otherwise.

    Examples
    --------
    >>> tiers(Fraction(1, 2), Decimal("0.5")), tiers(Fraction(3, 5), Decimal("0.2"))
    (1, 3)
    >>> tiers(Fraction(1, 40), Decimal("0.2")), tiers(Fraction(0), Decimal("0.2"))
    (1, 0)
    """
    if multiple <= 0:
        return 0
    return int(-(-multiple // Fraction(step)))  # exact ceiling of a fraction


def shown_multiple(multiple: Fraction) -> Decimal:
    """The multiple as a Decimal for statements (exact when it has ≤ 6 decimals)."""
    context = Context(prec=60)
    exact = context.divide(Decimal(multiple.numerator), Decimal(multiple.denominator))
    shown = exact.quantize(MULTIPLE_QUANTUM, rounding=ROUND_HALF_EVEN, context=context)
    shown = shown.normalize(context)
    # a whole number keeps plain digits: 10, not 1E+1
    return (
        shown.quantize(Decimal(1), context=context) if shown == shown.to_integral_value() else shown
    )


def round_to_precision(value: Decimal, decimals: int) -> Decimal:
    """Round half to even (四舍六入五成双) to ``decimals`` places, exactly.

    Examples
    --------
    >>> round_to_precision(Decimal("1.005"), 2), round_to_precision(Decimal("0.2015"), 3)
    (Decimal('1.00'), Decimal('0.202'))
    """
    return value.quantize(
        Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_EVEN, context=Context(prec=60)
    )
