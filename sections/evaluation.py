"""Classification of surface water under GB 3838-2002 and the national evaluation method.

Vectorised over NumPy arrays and pandas objects: the same kind comes back as went in (a Series
on its index), missing is NaN, never 0. Class numbers are 1–6 (6 = 劣Ⅴ) as floats so that NaN can
mark "no value".

The pipeline for a sample, a day or a month: round each value to its evaluation precision
(:func:`round_half_even`), give each item its class (:func:`indicator_class`), take the worst class
among the items that decide the section class (:func:`section_class`), compute exceedance
multiples (:func:`exceedance_multiple`) and list the main pollutants (:func:`main_pollutants`).
:func:`classify_frame` runs it over a frame with one column per parameter key.

References
----------
.. [1] GB 3838-2002 地表水环境质量标准, 表1 [V].
.. [2] 环办〔2011〕22号 地表水环境质量评价办法（试行）: single-factor method, rounding,
   exceedance multiples, main pollutants, lake TN evaluated separately [V].
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Literal, TypeVar, overload

import numpy as np
import numpy.typing as npt
import pandas as pd

from sections._kernel import (
    IntervalTable,
    Scratch,
    classes_into,
    interval_table,
    pollutant_order,
)
from sections._kernel import round_array as _round_array
from sections.classes import WaterClass
from sections.standards import (
    DEFAULT_STANDARD,
    IndicatorLimits,
    indicator_limits,
    limit_table,
    precision,
)

__all__ = [
    "NO_MULTIPLE",
    "ClassifiedFrame",
    "classify_frame",
    "exceedance_multiple",
    "indicator_class",
    "main_pollutants",
    "round_half_even",
    "section_class",
]

FloatArray = npt.NDArray[np.float64]
Numeric = TypeVar("Numeric", float, FloatArray, "pd.Series[float]")
WaterBodyLike = Literal["river", "lake"] | bool | npt.ArrayLike | pd.Series
Selector = slice | npt.NDArray[np.bool_]

NO_MULTIPLE: frozenset[str] = frozenset({"temp", "ph", "do"})
"""Items without an exceedance multiple (环办〔2011〕22号)."""

_CHUNK_ROWS = 1 << 16  # rows per chunk: the working set stays in the processor's cache


@overload
def round_half_even(values: float, decimals: int) -> float: ...
@overload
def round_half_even(values: FloatArray, decimals: int) -> FloatArray: ...
@overload
def round_half_even(values: pd.Series, decimals: int) -> pd.Series: ...
def round_half_even(
    values: float | FloatArray | pd.Series, decimals: int
) -> float | FloatArray | pd.Series:
    """Round half to even (四舍六入五成双) to ``decimals`` places, as written in decimal.

    Binary floats cannot hold most decimal halves (2.675 is stored as 2.67499999…); a value
    within a relative 1e-9 of a decimal half is taken as that half, so the result is what
    rounding the decimal text would give (for values below 10⁹ after scaling, far beyond any
    concentration).

    Parameters
    ----------
    values : numeric
        Scalar, ndarray or Series.
    decimals : int
        Places to keep (0 rounds to an integer).

    Returns
    -------
    numeric
        The same kind as ``values``; NaN stays NaN.

    References
    ----------
    .. [1] 环办〔2011〕22号, 数值修约 (GB/T 8170 rule: 四舍六入五成双) [V].

    Examples
    --------
    >>> float(round_half_even(2.675, 2)), float(round_half_even(0.2005, 3))
    (2.68, 0.2)
    >>> float(round_half_even(9.5, 0)), float(round_half_even(8.5, 0))
    (10.0, 8.0)
    """
    array = np.asarray(values, dtype=np.float64)
    return _like(values, _round_array(array.reshape(-1), decimals).reshape(array.shape))


def _like(template: object, result: FloatArray) -> float | FloatArray | pd.Series:
    if isinstance(template, pd.Series):
        return pd.Series(
            result, index=template.index, name=template.name, dtype="float64", copy=False
        )
    if np.ndim(np.asarray(template)) == 0 and not isinstance(template, np.ndarray):
        return float(result)
    return result


def _lake_mask(water_body: WaterBodyLike, size: int) -> npt.NDArray[np.bool_] | bool:
    """True for lake rows: from one water body, one per row, or a ready mask (bool)."""
    if isinstance(water_body, bool):
        return water_body
    if isinstance(water_body, str):
        if water_body not in ("river", "lake"):
            raise ValueError(f"unknown water body {water_body!r}; valid: river, lake")
        return water_body == "lake"
    bodies = np.asarray(water_body)
    if bodies.shape != (size,):
        raise ValueError(f"water_body has shape {bodies.shape}, values have ({size},)")
    if bodies.dtype == np.bool_:  # already a lake mask
        return bodies
    lake = np.asarray(bodies == "lake", dtype=bool)
    unknown = ~(lake | np.asarray(bodies == "river", dtype=bool))
    if unknown.any():
        found = sorted({str(b) for b in bodies[unknown][:100]})
        raise ValueError(f"unknown water body {found}; valid: river, lake")
    return lake


@dataclass(frozen=True, slots=True)
class _Limits:
    """An item's limits in one water body and their interval table (:mod:`sections._kernel`)."""

    limits: IndicatorLimits
    table: IntervalTable

    @property
    def sorted_upper(self) -> bool:
        """Upper limits that never decrease: a value exceeds class k's limit iff its class > k."""
        values = self.limits.limits
        return self.limits.direction == "le" and all(a <= b for a, b in pairwise(values))


def _with_table(limits: IndicatorLimits | None, decimals: int) -> _Limits | None:
    if limits is None:
        return None
    return _Limits(limits, interval_table(limits.direction, limits.limits, decimals))


@dataclass(frozen=True, slots=True)
class _Item:
    """How one item is classified in a run: one table for every row, or river and lake apart.

    ``everywhere`` serves all rows; otherwise rows take ``river`` and lake rows ``lake``, and a
    water body without limits gives NaN (TN in rivers).
    """

    key: str
    decimals: int
    everywhere: _Limits | None
    river: _Limits | None
    lake: _Limits | None

    @property
    def sorted_upper(self) -> bool:
        parts = (self.everywhere, self.river, self.lake)
        return all(part.sorted_upper for part in parts if part is not None)


def _item(key: str, lake: npt.NDArray[np.bool_] | bool, standard: str) -> _Item:
    """The :class:`_Item` of ``key``; raises like :func:`_per_water_body` for a missing limit."""
    decimals = precision(key, standard=standard)
    if isinstance(lake, bool):
        limits = indicator_limits(key, "lake" if lake else "river", standard=standard)
        return _Item(key, decimals, _with_table(limits, decimals), None, None)
    table = limit_table(standard)
    river_limits, lake_limits = table.get((key, "river")), table.get((key, "lake"))
    same = (
        river_limits is not None
        and lake_limits is not None
        and (river_limits.direction, river_limits.limits)
        == (lake_limits.direction, lake_limits.limits)
    )
    if river_limits is not None and (same or not lake.any()):
        return _Item(key, decimals, _with_table(river_limits, decimals), None, None)
    river, in_lake = _with_table(river_limits, decimals), _with_table(lake_limits, decimals)
    return _Item(key, decimals, None, river, in_lake)


def _classes_chunk(
    values: FloatArray,
    item: _Item,
    lake_rows: npt.NDArray[np.intp],
    out: FloatArray,
    scratch: Scratch,
) -> None:
    """Write the classes of one chunk of an item into ``out`` (``lake_rows``: its lake rows)."""
    if item.everywhere is not None:
        classes_into(values, item.everywhere.table, out, scratch)
        return
    if item.river is not None:
        classes_into(values, item.river.table, out, scratch)
    else:
        out.fill(np.nan)
    if lake_rows.size:  # lakes are few: redo their rows
        if item.lake is None:
            out[lake_rows] = np.nan
        else:
            part = np.empty(lake_rows.size)
            classes_into(values[lake_rows], item.lake.table, part, scratch)
            out[lake_rows] = part


def _multiples_at(
    values: FloatArray,
    item: _Item,
    against: int | npt.NDArray[np.int64],
    lake: npt.NDArray[np.bool_] | None,
) -> FloatArray:
    """Exceedance multiples of some values: (C − L) / L, at least 0, NaN without a limit.

    ``against`` is one class or one per value; ``lake`` marks lake values when the item's
    limits differ by water body.
    """
    rounded = _round_array(values, item.decimals)
    if item.everywhere is not None:
        limit: float | FloatArray = _limit_of(item.everywhere, against)
    else:
        river = _limit_of(item.river, against)
        limit = np.where(lake, _limit_of(item.lake, against), river) if lake is not None else river
    multiple = np.subtract(rounded, limit)
    multiple /= limit
    return np.maximum(multiple, 0.0, out=multiple)  # NaN stays NaN


def _limit_of(limits: _Limits | None, against: int | npt.NDArray[np.int64]) -> float | FloatArray:
    if limits is None:
        return np.nan
    if isinstance(against, int):
        return limits.limits.limits[against - 1]
    return np.asarray(limits.limits.limits)[against - 1]


def _against(against: WaterClass | int | npt.ArrayLike, size: int) -> int | npt.NDArray[np.int64]:
    """The reference class Ⅰ–Ⅴ of a multiple: one for all values, or one per value."""
    classes = np.asarray(against, dtype=np.int64)
    if ((classes < 1) | (classes > 5)).any():
        raise ValueError("against must be a class Ⅰ–Ⅴ (1–5)")
    return np.broadcast_to(classes, (size,)) if classes.ndim else int(classes)


def _lake_rows(
    lake: npt.NDArray[np.bool_] | bool, rows: slice, item: _Item
) -> npt.NDArray[np.intp]:
    """Positions of the lake rows of a chunk, when ``item`` treats them apart (else none)."""
    if item.everywhere is not None or isinstance(lake, bool):
        return _NO_ROWS
    return np.flatnonzero(lake[rows])


_NO_ROWS: npt.NDArray[np.intp] = np.empty(0, dtype=np.intp)


def _part_lake(lake: npt.NDArray[np.bool_] | bool, rows: slice) -> npt.NDArray[np.bool_] | None:
    return None if isinstance(lake, bool) else lake[rows]


def _multiples_chunk(
    values: FloatArray,
    item: _Item,
    classes: FloatArray,
    against: int | npt.NDArray[np.int64],
    lake: npt.NDArray[np.bool_] | None,
    out: FloatArray,
    candidates: npt.NDArray[np.intp] | None,
) -> FloatArray:
    """Write one chunk's multiples of an item against class ``against`` into ``out``; return it.

    With upper limits that never decrease, a value exceeds the limit of class k exactly when its
    class is worse than k: only those rows are computed (``candidates``, when the caller knows
    a superset of them), the others are class × 0, that is 0, or NaN without a value or limit.
    """
    if not item.sorted_upper:
        out[:] = _multiples_at(values, item, against, lake)
        return out
    np.multiply(classes, 0.0, out=out)
    if candidates is None:
        candidates = np.flatnonzero(classes > against)
    if candidates.size:
        part_against = against if isinstance(against, int) else against[candidates]
        part_lake = None if lake is None else lake[candidates]
        out[candidates] = _multiples_at(values[candidates], item, part_against, part_lake)
    return out


def indicator_class(
    values: Numeric,
    key: str,
    *,
    water_body: WaterBodyLike = "river",
    standard: str = DEFAULT_STANDARD,
) -> Numeric:
    """The class of each value of one item, 1–6 (6 = 劣Ⅴ), after rounding.

    Values are first rounded half to even to the item's evaluation precision (pH to an integer,
    so 9.4 counts as 9 and meets the standard, 9.6 as 10 and does not). A value equal to a limit
    meets that class; where several classes share a limit the best one wins; DO is a lower limit;
    pH 6–9 is Class Ⅰ (it never worsens a class) and outside it 劣Ⅴ [A]; TP uses the lake column
    for lakes and reservoirs.

    Parameters
    ----------
    values : numeric
        Concentrations [unit of the parameter, mg/L for most items].
    key : str
        Parameter key, e.g. ``"nh3n"``.
    water_body : {'river', 'lake'} or array-like of them
        One for all values, or one per value (TP and TN differ).
    standard : str
        The standard version, default GB 3838-2002.

    Returns
    -------
    numeric
        Class numbers as floats, NaN where the value is NaN or the standard sets no limit for
        that water body (TN in rivers).

    Raises
    ------
    DataTableError
        When the standard sets no limit for the item in the only water body given.

    References
    ----------
    .. [1] GB 3838-2002 表1 [V]; 环办〔2011〕22号 §3 [V].

    Examples
    --------
    >>> float(indicator_class(1.0, "nh3n")), float(indicator_class(1.005, "nh3n"))
    (3.0, 3.0)
    >>> float(indicator_class(0.06, "tp", water_body="lake"))
    4.0
    """
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    precision(key, standard=standard)  # an unknown key fails here first
    lake = _lake_mask(water_body, array.size)
    item = _item(key, lake, standard)  # checks the key and water body even without values
    result = np.empty(array.size)
    scratch = Scratch(min(array.size, _CHUNK_ROWS))
    for start in range(0, array.size, _CHUNK_ROWS):  # chunks stay in the processor's cache
        rows = slice(start, start + _CHUNK_ROWS)
        lake_rows = _lake_rows(lake, rows, item)
        _classes_chunk(array[rows], item, lake_rows, result[rows], scratch)
    return _like(values, result.reshape(np.shape(values)))  # type: ignore[return-value]  # the overloads above give each input kind its output kind


def exceedance_multiple(
    values: Numeric,
    key: str,
    *,
    against: WaterClass | int | npt.ArrayLike = WaterClass.III,
    water_body: WaterBodyLike = "river",
    standard: str = DEFAULT_STANDARD,
) -> Numeric:
    """Exceedance multiple (超标倍数) m = (C − L) / L where C > L, else 0; NaN where no value.

    C is the value rounded to the evaluation precision, L the limit of the class ``against``
    (Class Ⅲ for national reporting, or a section's target class, one per value if needed).

    Parameters
    ----------
    values : numeric
        Concentrations [unit of the parameter].
    key : str
        Parameter key; temperature, pH and DO have no multiple (``ValueError``).
    against : WaterClass, int or array-like of them
        Class Ⅰ–Ⅴ whose limit is the reference.

    Returns
    -------
    numeric
        Multiples [dimensionless], 0 where the value meets the limit.

    References
    ----------
    .. [1] 环办〔2011〕22号, 超标倍数 [V].

    Examples
    --------
    >>> round(float(exceedance_multiple(1.5, "nh3n")), 6)
    0.5
    >>> round(float(exceedance_multiple(0.45, "tp", against=4)), 6)
    0.5
    """
    if key in NO_MULTIPLE:
        raise ValueError(f"{key!r} has no exceedance multiple (temp, pH, DO)")
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    precision(key, standard=standard)  # an unknown key fails here first
    classes = _against(against, array.size)
    lake = _lake_mask(water_body, array.size)
    item = _item(key, lake, standard)
    result = _multiples_at(array, item, classes, None if isinstance(lake, bool) else lake)
    return _like(values, result.reshape(np.shape(values)))  # type: ignore[return-value]  # the overloads above give each input kind its output kind


def section_class(
    classes: pd.DataFrame, *, water_body: WaterBodyLike = "river", standard: str = DEFAULT_STANDARD
) -> pd.Series:
    """Section class by the single-factor method: the worst class among the deciding items.

    Parameters
    ----------
    classes : DataFrame
        One column of class numbers per item (from :func:`indicator_class`).
    water_body : {'river', 'lake'} or array-like
        Kept for symmetry; the deciding items are the same for rivers and lakes (TN, fecal
        coliform and temperature never decide; lake TN is reported separately).

    Returns
    -------
    Series
        Class numbers 1–6, NaN where no deciding item has a value.

    Examples
    --------
    >>> frame = pd.DataFrame({"nh3n": [2.0, None], "tp": [3.0, None], "tn": [6.0, 6.0]})
    >>> section_class(frame).tolist()
    [3.0, nan]
    """
    del water_body
    deciding = _deciding_columns(classes.columns, standard)
    if not deciding:
        return pd.Series(np.nan, index=classes.index, dtype="float64")
    worst = classes[deciding[0]].to_numpy(dtype=np.float64, copy=True)
    for key in deciding[1:]:
        np.fmax(worst, classes[key].to_numpy(dtype=np.float64), out=worst)  # fmax skips NaN
    return pd.Series(worst, index=classes.index, dtype="float64", copy=False)


def _deciding_columns(columns: Iterable[object], standard: str) -> list[str]:
    deciding = {lim.key for lim in limit_table(standard).values() if lim.decides_class}
    return [str(c) for c in columns if c in deciding]


def main_pollutants(
    classes: pd.DataFrame,
    multiples: pd.DataFrame,
    overall: pd.Series,
    *,
    count: int = 3,
    standard: str = DEFAULT_STANDARD,
) -> pd.DataFrame:
    """The main pollutants (主要污染指标) of each row: at most ``count`` items, worst first.

    Only rows whose section class is worse than Ⅲ have main pollutants, and only items that
    exceed Class Ⅲ (class Ⅳ or worse) can be one. Exceeding cyanide and heavy metals come first;
    then the worse class first; ties are broken by the larger exceedance multiple (against Ⅲ),
    then by the table order.

    Parameters
    ----------
    classes : DataFrame
        Class numbers per deciding item (columns are keys).
    multiples : DataFrame
        Exceedance multiples against Class Ⅲ per item (missing columns count as 0).
    overall : Series
        Section class of each row.

    Returns
    -------
    DataFrame
        Categorical columns ``pollutant_1`` … ``pollutant_{count}`` holding keys, NaN where
        there is none, on the index of ``classes``.

    References
    ----------
    .. [1] 环办〔2011〕22号, 主要污染指标的确定 [V].
    """
    deciding = _deciding_columns(classes.columns, standard)
    names = [f"pollutant_{i + 1}" for i in range(count)]
    if not deciding:
        return pd.DataFrame(None, index=classes.index, columns=names, dtype=object)
    multiple = np.zeros((len(classes), len(deciding)))
    for j, key in enumerate(deciding):
        if key in multiples:
            multiple[:, j] = multiples[key].to_numpy(dtype=np.float64)
    codes = _pollutant_codes(
        classes[deciding].to_numpy(dtype=np.float64),
        multiple,
        np.asarray(overall, dtype=np.float64),
        _priorities(deciding, standard),
        count,
    )
    return _pollutant_frame(codes, pd.Index(deciding), classes.index)


def _pollutant_frame(
    codes: npt.NDArray[np.int8], categories: pd.Index, index: pd.Index
) -> pd.DataFrame:
    """Categorical columns ``pollutant_1`` … of item keys from column numbers (−1: none)."""
    return pd.DataFrame(
        {
            f"pollutant_{i + 1}": pd.Categorical.from_codes(codes[:, i], categories=categories)
            for i in range(codes.shape[1])
        },
        index=index,
        copy=False,
    )


def _priorities(keys: Sequence[str], standard: str) -> npt.NDArray[np.bool_]:
    table = limit_table(standard)
    return np.array(
        [any(lim.priority for (k, _), lim in table.items() if k == key) for key in keys]
    )


def _pollutant_codes(
    classes: FloatArray,
    multiples: FloatArray,
    overall: FloatArray,
    priority: npt.NDArray[np.bool_],
    count: int,
) -> npt.NDArray[np.int8]:
    """Column numbers of each row's main pollutants (−1: none); see :func:`main_pollutants`."""
    codes = np.full((classes.shape[0], count), -1, dtype=np.int8)
    rows = np.flatnonzero(overall >= 4)  # worse than Ⅲ only
    if not rows.size or not classes.shape[1]:
        return codes
    columns = range(classes.shape[1])
    codes[rows] = pollutant_order(
        [classes[rows, j] for j in columns],
        [multiples[rows, j] for j in columns],
        priority.tolist(),
        count,
    )
    return codes


@dataclass(frozen=True)
class ClassifiedFrame:
    """The classification of every row of a frame.

    Attributes
    ----------
    classes : DataFrame
        Class number per item with a limit (columns: keys), NaN where no value.
    multiples_vs_iii : DataFrame
        Exceedance multiple against Class Ⅲ per item that has one.
    multiples_vs_target : DataFrame or None
        Exceedance multiple against the target class, when targets were given.
    section_class : Series
        Class number 1–6 by the single-factor method, NaN when no deciding item has a value.
    pollutants : DataFrame
        Main pollutants, ``pollutant_1`` … ``pollutant_3``.
    tn_class : Series
        Lake TN class, evaluated separately (NaN for rivers).
    """

    classes: pd.DataFrame
    multiples_vs_iii: pd.DataFrame
    multiples_vs_target: pd.DataFrame | None
    section_class: pd.Series
    pollutants: pd.DataFrame
    tn_class: pd.Series


def classify_frame(
    values: pd.DataFrame,
    *,
    water_body: WaterBodyLike = "river",
    target: WaterClass | int | npt.ArrayLike | None = None,
    standard: str = DEFAULT_STANDARD,
) -> ClassifiedFrame:
    """Classify every row of a frame with one column per parameter key.

    Columns without a limit in the standard (temperature, conductivity, chlorophyll …) are
    ignored here. The section class uses the deciding items present; lake TN is classified
    separately and never enters it.

    Examples
    --------
    >>> frame = pd.DataFrame({"ph": [7.8], "do": [8.4], "codmn": [4.62], "nh3n": [0.118],
    ...                       "tp": [0.071]})
    >>> classify_frame(frame).section_class.tolist()
    [3.0]
    """
    index = values.index
    lake = _lake_mask(water_body, len(values))  # checked once, then passed on as a mask
    keyed = {key for key, _ in limit_table(standard)}
    present = [str(c) for c in values.columns if c in keyed]
    size = len(values)
    keys = [key for key in present if _has_limit(key, lake, standard)]
    items = [_item(key, lake, standard) for key in keys]
    with_multiple = [key for key in keys if key not in NO_MULTIPLE]
    deciding = _deciding_columns(keys, standard)
    raw = [np.asarray(values[key], dtype=np.float64) for key in keys]
    targets = None
    if target is not None and with_multiple:
        targets = _against(target, size)
    # results go straight into column-major blocks, which become frames without a copy; rows
    # are done in chunks that stay in the processor's cache
    class_block = np.empty((size, len(keys)), order="F")
    iii_block = np.empty((size, len(with_multiple)), order="F")
    target_block = np.empty((size, len(with_multiple) if target is not None else 0), order="F")
    overall = np.empty(size)
    codes = np.empty((size, 3), dtype=np.int8, order="F")
    scratch = Scratch(min(size, _CHUNK_ROWS))
    decides = [keys.index(key) for key in deciding]
    priority = _priorities(deciding, standard).tolist()
    for start in range(0, size, _CHUNK_ROWS):
        rows = slice(start, min(size, start + _CHUNK_ROWS))
        classes = class_block[rows]
        for j, item in enumerate(items):
            _classes_chunk(raw[j][rows], item, _lake_rows(lake, rows, item), classes[:, j], scratch)
        worst = overall[rows]
        if len(decides) > 1:  # the single-factor method: fmax skips NaN
            np.fmax(classes[:, decides[0]], classes[:, decides[1]], out=worst)
            for j in decides[2:]:
                np.fmax(worst, classes[:, j], out=worst)
        elif decides:
            np.copyto(worst, classes[:, decides[0]])
        else:
            worst.fill(np.nan)
        # only a row worse than Ⅲ has an item beyond its Class Ⅲ limit, and main pollutants
        polluted = np.flatnonzero(worst >= 4.0)
        chunk_multiples: dict[str, FloatArray] = {}
        for j, item in enumerate(items):
            if item.key not in with_multiple:
                continue
            column = with_multiple.index(item.key)
            chunk_multiples[item.key] = _multiples_chunk(
                raw[j][rows], item, classes[:, j], 3, _part_lake(lake, rows),
                iii_block[rows, column], polluted if j in decides else None,
            )  # fmt: skip
            if targets is not None:
                _multiples_chunk(
                    raw[j][rows], item, classes[:, j],
                    targets if isinstance(targets, int) else targets[rows],
                    _part_lake(lake, rows), target_block[rows, column], None,
                )  # fmt: skip
        codes[rows].fill(-1)
        if polluted.size and decides:
            codes[start + polluted] = pollutant_order(
                [classes[polluted, j] for j in decides],
                [
                    chunk_multiples[key][polluted]
                    if key in chunk_multiples
                    else np.zeros(polluted.size)
                    for key in deciding
                ],
                priority,
                3,
            )
    class_frame = pd.DataFrame(class_block, index=index, columns=keys, copy=False)
    multiples = pd.DataFrame(iii_block, index=index, columns=with_multiple, copy=False)
    pollutants = _pollutant_frame(codes, pd.Index(deciding, dtype=object), index)
    tn = class_frame["tn"] if "tn" in class_frame else pd.Series(np.nan, index=index)
    return ClassifiedFrame(
        classes=class_frame,
        multiples_vs_iii=multiples,
        multiples_vs_target=(
            pd.DataFrame(target_block, index=index, columns=with_multiple, copy=False)
            if target is not None
            else None
        ),
        section_class=pd.Series(overall, index=index, dtype="float64", copy=False),
        pollutants=pollutants,
        tn_class=tn.astype("float64"),
    )


def _has_limit(key: str, lake: npt.NDArray[np.bool_] | bool, standard: str) -> bool:
    """Whether any row's water body has a limit for ``key``."""
    table = limit_table(standard)
    river, lake_ok = (key, "river") in table, (key, "lake") in table
    if isinstance(lake, bool):
        return lake_ok if lake else river
    return (river and not lake.all()) or (lake_ok and bool(lake.any()))
