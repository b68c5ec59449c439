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

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar, overload

import numpy as np
import numpy.typing as npt
import pandas as pd

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

_HALF_TOLERANCE = 1e-9  # relative: a float this close to a decimal half is that half
_CHUNK_ROWS = 1 << 16  # rows per chunk in classify_frame: the working set stays in cache
_NEAR_HALF = 0.5 - 1e-6  # candidates for the exact half test (scaled fraction beyond this)


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


def _round_array(array: FloatArray, decimals: int) -> FloatArray:
    """Half-even rounding of a 1-d array; see :func:`round_half_even`. Returns a new array."""
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


def _like(template: object, result: FloatArray) -> float | FloatArray | pd.Series:
    if isinstance(template, pd.Series):
        return pd.Series(result, index=template.index, name=template.name, dtype="float64")
    if np.ndim(np.asarray(template)) == 0 and not isinstance(template, np.ndarray):
        return float(result)
    return result


def _classes_from_limits(rounded: FloatArray, lim: IndicatorLimits) -> FloatArray:
    """Class numbers 1–6 (NaN for NaN) of values already rounded to the evaluation precision.

    The class is one more than the number of limits the value fails: above an upper limit, or
    below DO's lower limit. Equal limits of neighbouring classes make the best class win.
    """
    if lim.direction == "range":  # pH: 6–9 for all classes; outside is 劣Ⅴ [A]
        outside = (rounded < 6.0) | (rounded > 9.0)
        classes = outside.astype(np.float64)
        classes *= 5.0
    else:
        failed = np.zeros(rounded.shape, dtype=np.int8)
        for limit in lim.limits:
            failed += rounded < limit if lim.direction == "ge" else rounded > limit
        classes = failed.astype(np.float64)
    classes += 1.0
    classes[np.isnan(rounded)] = np.nan
    return classes


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


def _per_water_body(
    size: int,
    key: str,
    water_body: WaterBodyLike,
    standard: str,
    compute: Callable[[IndicatorLimits, Selector], FloatArray],
) -> FloatArray:
    """Fill a result with ``compute(limits, mask)`` for the river rows and the lake rows.

    With one water body for all values, a missing limit raises (e.g. TN in rivers); with one
    per value, rows whose water body has no limit stay NaN.
    """
    lake = _lake_mask(water_body, size)
    if isinstance(lake, bool):
        limits = indicator_limits(key, "lake" if lake else "river", standard=standard)
        return compute(limits, slice(None))
    table = limit_table(standard)
    river_limits, lake_limits = table.get((key, "river")), table.get((key, "lake"))
    same = (
        river_limits is not None
        and lake_limits is not None
        and (river_limits.direction, river_limits.limits)
        == (lake_limits.direction, lake_limits.limits)
    )
    if river_limits is not None and (same or not lake.any()):  # `same` implies river limits
        return compute(river_limits, slice(None))
    # lakes are few: compute every row as a river, then redo the lake rows
    if river_limits is not None:
        result = compute(river_limits, slice(None))
        result[lake] = np.nan
    else:
        result = np.full(size, np.nan)
    if lake_limits is not None and lake.any():
        result[lake] = compute(lake_limits, lake)
    return result


def _class_of_rounded(
    rounded: FloatArray, key: str, water_body: WaterBodyLike, standard: str
) -> FloatArray:
    def compute(lim: IndicatorLimits, selector: Selector) -> FloatArray:
        return _classes_from_limits(rounded[selector], lim)

    return _per_water_body(rounded.size, key, water_body, standard, compute)


def _multiple_of_rounded(
    rounded: FloatArray,
    key: str,
    against: WaterClass | int | npt.ArrayLike,
    water_body: WaterBodyLike,
    standard: str,
) -> FloatArray:
    if key in NO_MULTIPLE:
        raise ValueError(f"{key!r} has no exceedance multiple (temp, pH, DO)")
    classes = np.asarray(against, dtype=np.int64)
    if ((classes < 1) | (classes > 5)).any():
        raise ValueError("against must be a class Ⅰ–Ⅴ (1–5)")
    if classes.ndim:
        classes = np.broadcast_to(classes, rounded.shape)

    def compute(lim: IndicatorLimits, selector: Selector) -> FloatArray:
        if classes.ndim:
            limit: float | FloatArray = np.asarray(lim.limits)[classes[selector] - 1]
        else:
            limit = lim.limits[int(classes) - 1]
        multiple = np.subtract(rounded[selector], limit)
        multiple /= limit
        return np.maximum(multiple, 0.0, out=multiple)  # NaN stays NaN

    return _per_water_body(rounded.size, key, water_body, standard, compute)


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
    digits = precision(key, standard=standard)
    lake = _lake_mask(water_body, array.size)
    result = np.empty(array.size)
    for start in range(0, array.size, _CHUNK_ROWS):  # chunks stay in the processor's cache
        rows = slice(start, start + _CHUNK_ROWS)
        part_lake = lake if isinstance(lake, bool) else lake[rows]
        rounded = _round_array(array[rows], digits)
        result[rows] = _class_of_rounded(rounded, key, part_lake, standard)
    if not array.size:  # still check the key and water body
        _class_of_rounded(array, key, lake, standard)
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
    rounded = _round_array(array, precision(key, standard=standard))
    result = _multiple_of_rounded(rounded, key, against, water_body, standard)
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
    return pd.Series(worst, index=classes.index, dtype="float64")


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
    return pd.DataFrame(
        {
            name: pd.Categorical.from_codes(codes[:, i], categories=pd.Index(deciding))
            for i, name in enumerate(names)
        },
        index=classes.index,
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
) -> npt.NDArray[np.int64]:
    """Column numbers of each row's main pollutants (−1: none); see :func:`main_pollutants`."""
    codes = np.full((classes.shape[0], count), -1, dtype=np.int64)
    rows = np.flatnonzero(overall >= 4)  # worse than Ⅲ only
    if not rows.size or not classes.shape[1]:
        return codes
    klass = np.nan_to_num(classes[rows])
    multiple = np.nan_to_num(multiples[rows], nan=0.0)
    eligible = klass >= 4
    # rank: eligible, then cyanide and heavy metals, then class (one small number), then the
    # multiple; two stable sorts (least significant first) keep the table order on ties
    rank = eligible * 16.0 + priority * 8.0 + klass
    order = np.argsort(-multiple, axis=1, kind="stable")
    ranked = np.take_along_axis(rank, order, axis=1)
    order = np.take_along_axis(order, np.argsort(-ranked, axis=1, kind="stable"), axis=1)
    top = order[:, :count]
    codes[rows, : top.shape[1]] = np.where(np.take_along_axis(eligible, top, axis=1), top, -1)
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
    with_multiple = [key for key in keys if key not in NO_MULTIPLE]
    deciding = _deciding_columns(keys, standard)
    raw = {key: np.asarray(values[key], dtype=np.float64) for key in keys}
    digits = {key: precision(key, standard=standard) for key in keys}
    # results go straight into column-major blocks, which become frames without a copy; rows
    # are done in chunks that stay in the processor's cache
    class_block = np.empty((size, len(keys)), order="F")
    iii_block = np.empty((size, len(with_multiple)), order="F")
    target_block = np.empty((size, len(with_multiple) if target is not None else 0), order="F")
    overall = np.empty(size)
    codes = np.empty((size, 3), dtype=np.int64)
    priority = _priorities(deciding, standard)
    targets = None if target is None else np.asarray(target, dtype=np.int64)
    for start in range(0, size, _CHUNK_ROWS):
        rows = slice(start, min(size, start + _CHUNK_ROWS))
        part_lake = lake if isinstance(lake, bool) else lake[rows]
        for j, key in enumerate(keys):
            rounded = _round_array(raw[key][rows], digits[key])
            class_block[rows, j] = _class_of_rounded(rounded, key, part_lake, standard)
            if key in with_multiple:
                column = with_multiple.index(key)
                iii_block[rows, column] = _multiple_of_rounded(rounded, key, 3, part_lake, standard)
                if targets is not None:
                    part_target = targets if targets.ndim == 0 else targets[rows]
                    target_block[rows, column] = _multiple_of_rounded(
                        rounded, key, part_target, part_lake, standard
                    )
        chunk_classes = class_block[rows][:, [keys.index(k) for k in deciding]]
        worst = np.fmax.reduce(chunk_classes, axis=1) if deciding else np.nan
        overall[rows] = worst
        chunk_multiples = np.zeros_like(chunk_classes)
        for j, key in enumerate(deciding):
            if key in with_multiple:
                chunk_multiples[:, j] = iii_block[rows, with_multiple.index(key)]
        codes[rows] = _pollutant_codes(chunk_classes, chunk_multiples, overall[rows], priority, 3)
    class_frame = pd.DataFrame(class_block, index=index, columns=keys, copy=False)
    multiples = pd.DataFrame(iii_block, index=index, columns=with_multiple, copy=False)
    categories = pd.Index(deciding, dtype=object)
    pollutants = pd.DataFrame(
        {
            f"pollutant_{i + 1}": pd.Categorical.from_codes(codes[:, i], categories=categories)
            for i in range(3)
        },
        index=index,
    )
    tn = class_frame["tn"] if "tn" in class_frame else pd.Series(np.nan, index=index)
    return ClassifiedFrame(
        classes=class_frame,
        multiples_vs_iii=multiples,
        multiples_vs_target=(
            pd.DataFrame(target_block, index=index, columns=with_multiple, copy=False)
            if target is not None
            else None
        ),
        section_class=pd.Series(overall, index=index, dtype="float64"),
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
