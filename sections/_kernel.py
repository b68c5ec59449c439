"""The classification kernel: rounding, classes by interval, and the main-pollutant ranking.

:mod:`sections.evaluation` composes these; they work on 1-d float64 arrays and write into
buffers the caller owns, so a nation-wide year is classified chunk by chunk in the processor's
cache without temporaries.

Classes by interval
-------------------
The rule (round half to even to the item's precision, then compare with the limits,
:func:`classes_of_rounded`) gives a class that only changes where the rounded value crosses a
limit. Rounding is monotone, so each crossing happens at one float of the *raw* value: the
largest value whose rounded value is still below (or at) the limit. :func:`interval_table`
finds these floats once per item by bisection over the float line *with the rule itself*, so a
raw value lies in the same interval exactly when the rule gives it the same class: rounding,
exact decimal halves included, is folded into the bounds and costs nothing per value. A value
is then classified with a handful of comparisons on small integers and one table look-up.

References
----------
.. [1] GB 3838-2002 地表水环境质量标准, 表1 [V].
.. [2] 环办〔2011〕22号 地表水环境质量评价办法（试行）: rounding (四舍六入五成双), main
   pollutants [V].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import numpy.typing as npt

from sections.standards import Direction

__all__ = [
    "PH_RANGE",
    "IntervalTable",
    "Scratch",
    "classes_into",
    "classes_of_rounded",
    "interval_table",
    "pollutant_order",
    "round_array",
]

FloatArray = npt.NDArray[np.float64]
CodeArray = npt.NDArray[np.int8]

_HALF_TOLERANCE = 1e-9  # relative: a float this close to a decimal half is that half
_NEAR_HALF = 0.5 - 1e-6  # candidates for the exact half test (scaled fraction beyond this)
_SIGN = np.int64(-0x8000_0000_0000_0000)
PH_RANGE = (6.0, 9.0)  # pH: Class Ⅰ within, 劣Ⅴ outside, for every class [A]


def round_array(array: FloatArray, decimals: int) -> FloatArray:
    """Half-even rounding of a 1-d array as written in decimal. Returns a new array.

    The definition behind :func:`sections.evaluation.round_half_even`: a value within a relative
    1e-9 of a decimal half is taken as that half. Only values whose scaled fraction lies within
    10⁻⁶ of one half get the exact test.
    """
    scale = 10.0**decimals
    scaled = np.multiply(array, scale)
    rounded = np.rint(scaled)
    # only a value whose scaled fraction lies near .5 can be misread through its binary form
    distance = np.subtract(scaled, rounded, out=scaled)
    np.abs(distance, out=distance)
    near = distance > _NEAR_HALF
    if near.any():
        index = np.flatnonzero(near)
        part = array[index] * scale
        doubled = part * 2.0
        nearest_half = np.rint(doubled)
        tolerance = _HALF_TOLERANCE * np.maximum(1.0, np.abs(doubled))
        snapped = np.where(np.abs(doubled - nearest_half) <= tolerance, nearest_half / 2.0, part)
        rounded[index] = np.rint(snapped)
    np.divide(rounded, scale, out=rounded)
    return rounded


def classes_of_rounded(
    rounded: FloatArray, direction: Direction, limits: Sequence[float]
) -> FloatArray:
    """Class numbers 1–6 (NaN for NaN) of values already rounded to the evaluation precision.

    The rule as written: the class is one more than the number of limits the value fails
    (above an upper limit, or below DO's lower limit); equal limits of neighbouring classes make
    the best class win; pH (``range``) is Class Ⅰ inside 6–9 and 劣Ⅴ outside [A].
    """
    if direction == "range":  # pH: 6–9 for all classes; outside is 劣Ⅴ [A]
        outside = (rounded < PH_RANGE[0]) | (rounded > PH_RANGE[1])
        classes = outside.astype(np.float64)
        classes *= 5.0
    else:
        failed = np.zeros(rounded.shape, dtype=np.int8)
        for limit in limits:
            failed += rounded < limit if direction == "ge" else rounded > limit
        classes = failed.astype(np.float64)
    classes += 1.0
    classes[np.isnan(rounded)] = np.nan
    return classes


@dataclass(frozen=True, slots=True)
class IntervalTable:
    """The classes of one item as intervals of the raw (unrounded) value.

    Attributes
    ----------
    bounds : ndarray
        Ascending floats b₀ < … < bₙ₋₁ (n ≥ 2): the intervals are (−∞, b₀], (b₀, b₁], …,
        (bₙ₋₁, +∞], and the rule gives every value of an interval the same class.
    lookup : ndarray
        Class (float, NaN for NaN) by code: a value in interval j ≤ n−1 has code j + n + 1, a
        value above bₙ₋₁ (and +∞) code n − 1, NaN code 0; see :func:`classes_into`.
    """

    bounds: FloatArray
    lookup: FloatArray


def _float_of_key(keys: npt.NDArray[np.int64]) -> FloatArray:
    """Floats from their order keys (the bit pattern, negated for negative floats)."""
    bits = np.where(keys >= 0, keys, np.negative(keys) | _SIGN)
    return bits.view(np.float64)


def _key_of_float(value: float) -> int:
    bits = int(np.array([value]).view(np.int64)[0])
    return bits if bits >= 0 else -(bits & 0x7FFF_FFFF_FFFF_FFFF)


def _last_rounding_to(limits: Sequence[float], decimals: int, *, strict: bool) -> FloatArray:
    """For each limit L, the largest float whose rounded value is < L (``strict``) or ≤ L.

    Bisection over the order keys of the floats between −∞ and +∞, with :func:`round_array`
    itself deciding; rounding is monotone, so the answer is exact.
    """
    low = [_key_of_float(-np.inf)] * len(limits)  # rounds to −∞: below every limit
    high = [_key_of_float(np.inf)] * len(limits)  # rounds to +∞: above every limit
    bound = np.asarray(limits, dtype=np.float64)
    while any(h - lo > 1 for lo, h in zip(low, high, strict=True)):
        middle = [(lo + h) // 2 for lo, h in zip(low, high, strict=True)]
        with np.errstate(over="ignore", invalid="ignore"):  # far out, x·10ᵈ is ∞: still above
            rounded = round_array(_float_of_key(np.array(middle, dtype=np.int64)), decimals)
        below = rounded < bound if strict else rounded <= bound
        for i, ok in enumerate(below.tolist()):
            if high[i] - low[i] > 1:
                if ok:
                    low[i] = middle[i]
                else:
                    high[i] = middle[i]
    return _float_of_key(np.array(low, dtype=np.int64))


@cache
def interval_table(direction: Direction, limits: tuple[float, ...], decimals: int) -> IntervalTable:
    """The :class:`IntervalTable` of an item: its limits, direction and evaluation precision.

    Every place where the rounded value crosses a limit (from < L to = L, and from = L to > L)
    is a candidate bound; neighbouring intervals that get the same class are merged. Each
    interval's class is the rule's class (:func:`classes_of_rounded`) of one of its values.
    """
    distinct = sorted(set(PH_RANGE if direction == "range" else limits))
    candidates = np.unique(
        np.concatenate(
            [
                _last_rounding_to(distinct, decimals, strict=True),
                _last_rounding_to(distinct, decimals, strict=False),
            ]
        )
    )

    def classes_at(points: FloatArray) -> FloatArray:
        with np.errstate(invalid="ignore"):  # +∞ rounds to +∞
            return classes_of_rounded(round_array(points, decimals), direction, limits)

    # interval j ends at candidates[j] (included); the last one reaches +∞
    classes = classes_at(np.append(candidates, np.inf))
    keep = classes[:-1] != classes[1:]
    for spare in range(candidates.size):  # the code needs two bounds; more change no class
        if keep.sum() >= 2:
            break
        keep[spare] = True
    bounds = candidates[keep]
    if bounds.size < 2:  # one limit that no rounded value can equal: a redundant second bound
        bounds = np.append(bounds, np.nextafter(bounds[-1], np.inf))
    count = bounds.size
    lookup = np.full(2 * count + 1, np.nan)
    lookup[count - 1] = classes[-1]
    lookup[count + 1 :] = classes_at(bounds)
    bounds.setflags(write=False)
    lookup.setflags(write=False)
    return IntervalTable(bounds=bounds, lookup=lookup)


class Scratch:
    """Reusable buffers for :func:`classes_into` over arrays of up to ``size`` values."""

    __slots__ = ("code", "index", "mask")

    def __init__(self, size: int) -> None:
        self.mask = np.empty(size, dtype=np.bool_)
        self.code = np.empty(size, dtype=np.uint8)
        self.index = np.empty(size, dtype=np.intp)


def classes_into(
    values: FloatArray, table: IntervalTable, out: FloatArray, scratch: Scratch
) -> None:
    """Write the class of each value (NaN for NaN) into ``out`` (same length, contiguous).

    The code of a value is the number of bounds below it among b₀ … bₙ₋₂, plus n + 1 when it is
    at or below bₙ₋₁: comparisons are false for NaN, so NaN gets code 0 and every interval its
    own code; the table then turns codes into classes. n comparisons, n small-integer sums
    and one look-up per value; no rounding.
    """
    size = values.size
    mask, code, index = scratch.mask[:size], scratch.code[:size], scratch.index[:size]
    bounds = table.bounds
    count = bounds.size
    np.less_equal(values, bounds[-1], out=mask)
    np.multiply(mask.view(np.uint8), count + 1, out=code)
    for bound in bounds[:-1]:
        np.greater(values, bound, out=mask)
        np.add(code, mask.view(np.uint8), out=code)
    np.copyto(index, code)
    np.take(table.lookup, index, out=out, mode="wrap")


def pollutant_order(
    classes: Sequence[FloatArray],
    multiples: Sequence[FloatArray],
    priority: Sequence[bool],
    count: int,
) -> npt.NDArray[np.int8]:
    """Column numbers of the main pollutants of each row (−1: none), worst first.

    Parameters
    ----------
    classes, multiples : sequence of ndarray
        One array per item (column), all of one length: the item's class and its exceedance
        multiple against Class Ⅲ (NaN counts as 0; items without a multiple pass zeros).
    priority : sequence of bool
        Cyanide and heavy metals, per item.
    count : int
        How many pollutants per row at the most.

    Notes
    -----
    Only items of Class Ⅳ or worse are listed. They are ordered by (priority item, class,
    multiple) descending, ties keeping the column order: the order of two stable sorts. A row with
    one such item (most rows worse than Ⅲ) lists it; in the others each item's place is the
    number of items that beat it, counted over the pairs of items; nothing is sorted per row.
    """
    size = classes[0].size if classes else 0
    codes = np.full((size, count), -1, dtype=np.int8, order="F")
    if not size or not count:
        return codes
    eligible = [klass >= 4.0 for klass in classes]
    number = np.zeros(size, dtype=np.uint8)
    only = np.zeros(size, dtype=np.int8)
    for j, ok in enumerate(eligible):
        np.add(number, ok.view(np.uint8), out=number)
        np.copyto(only, j, where=ok)
    np.copyto(codes[:, 0], only, where=number == 1)
    several = np.flatnonzero(number > 1)
    if several.size:
        codes[several] = _ranked(
            [klass[several] for klass in classes],
            [multiple[several] for multiple in multiples],
            priority,
            count,
        )
    return codes


def _ranked(
    classes: Sequence[FloatArray],
    multiples: Sequence[FloatArray],
    priority: Sequence[bool],
    count: int,
) -> npt.NDArray[np.int8]:
    """:func:`pollutant_order` by counting, for each item, the items that beat it."""
    size = classes[0].size
    codes = np.full((size, count), -1, dtype=np.int8, order="F")
    eligible = [klass >= 4.0 for klass in classes]
    # one rank per eligible item: priority first, then class; ineligible items rank below all
    ranks = [
        np.where(ok, klass + (8.0 if first else 0.0), -1.0)
        for ok, klass, first in zip(eligible, classes, priority, strict=True)
    ]
    weights = [np.nan_to_num(multiple, nan=0.0) for multiple in multiples]
    place = [np.zeros(size, dtype=np.uint8) for _ in classes]
    beats = np.empty(size, dtype=np.bool_)
    tie = np.empty(size, dtype=np.bool_)
    for j in range(len(classes)):
        for k in range(j + 1, len(classes)):
            # k beats j (k comes later in the table, so a full tie keeps j first)
            np.greater(ranks[k], ranks[j], out=beats)
            np.equal(ranks[k], ranks[j], out=tie)
            np.logical_and(tie, weights[k] > weights[j], out=tie)
            np.logical_or(beats, tie, out=beats)
            np.add(place[j], beats.view(np.uint8), out=place[j])
            np.logical_not(beats, out=beats)
            np.add(place[k], beats.view(np.uint8), out=place[k])
    for j, (at, ok) in enumerate(zip(place, eligible, strict=True)):
        for position in range(min(count, len(classes))):
            np.copyto(codes[:, position], j, where=(at == position) & ok)
    return codes
