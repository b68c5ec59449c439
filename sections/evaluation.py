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

from collections.abc import Callable, Iterable
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
WaterBodyLike = Literal["river", "lake"] | npt.ArrayLike | pd.Series

NO_MULTIPLE: frozenset[str] = frozenset({"temp", "ph", "do"})
"""Items without an exceedance multiple (环办〔2011〕22号)."""

_HALF_TOLERANCE = 1e-9  # relative: a float this close to a decimal half is that half


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
    rounding the decimal text would give.

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
    scale = 10.0**decimals
    scaled = array * scale
    doubled = scaled * 2.0
    nearest_half = np.rint(doubled)
    close = np.abs(doubled - nearest_half) <= _HALF_TOLERANCE * np.maximum(1.0, np.abs(doubled))
    snapped = np.where(close, nearest_half / 2.0, scaled)
    result = np.rint(snapped) / scale
    return _like(values, result)


def _like(template: object, result: FloatArray) -> float | FloatArray | pd.Series:
    if isinstance(template, pd.Series):
        return pd.Series(result, index=template.index, name=template.name, dtype="float64")
    if np.ndim(np.asarray(template)) == 0 and not isinstance(template, np.ndarray):
        return float(result)
    return result


def _classes_from_limits(rounded: FloatArray, lim: IndicatorLimits) -> FloatArray:
    """Class numbers 1–6 (NaN for NaN) of values already rounded to the evaluation precision."""
    if lim.direction == "range":  # pH: 6–9 for all classes; outside is 劣Ⅴ [A]
        low, high = 6.0, 9.0
        classes = np.where((rounded >= low) & (rounded <= high), 1.0, 6.0)
    elif lim.direction == "ge":  # DO: a lower limit
        descending = np.asarray(lim.limits, dtype=np.float64)
        classes = np.searchsorted(-descending, -rounded, side="left").astype(np.float64) + 1.0
    else:  # an upper limit: a value equal to the limit meets the class; best class wins
        ascending = np.asarray(lim.limits, dtype=np.float64)
        classes = np.searchsorted(ascending, rounded, side="left").astype(np.float64) + 1.0
    return np.where(np.isnan(rounded), np.nan, classes)


def _lake_mask(water_body: WaterBodyLike, size: int) -> npt.NDArray[np.bool_] | bool:
    if isinstance(water_body, str):
        if water_body not in ("river", "lake"):
            raise ValueError(f"unknown water body {water_body!r}; valid: river, lake")
        return water_body == "lake"
    bodies = np.asarray(water_body, dtype=object)
    if bodies.shape != (size,):
        raise ValueError(f"water_body has shape {bodies.shape}, values have ({size},)")
    unknown = set(np.unique(bodies.astype(str))) - {"river", "lake"}
    if unknown:
        raise ValueError(f"unknown water body {sorted(unknown)}; valid: river, lake")
    return np.asarray(bodies == "lake", dtype=bool)


def _per_water_body(
    size: int,
    key: str,
    water_body: WaterBodyLike,
    standard: str,
    compute: Callable[[IndicatorLimits, npt.NDArray[np.bool_]], FloatArray],
) -> FloatArray:
    """Fill a result with ``compute(limits, mask)`` for the river rows and the lake rows.

    With one water body for all values, a missing limit raises (e.g. TN in rivers); with one
    per value, rows whose water body has no limit stay NaN.
    """
    lake = _lake_mask(water_body, size)
    result = np.full(size, np.nan)
    if isinstance(lake, bool):
        limits = indicator_limits(key, "lake" if lake else "river", standard=standard)
        result[:] = compute(limits, np.ones(size, dtype=bool))
        return result
    table = limit_table(standard)
    for body, mask in (("river", ~lake), ("lake", lake)):
        found = table.get((key, body))
        if found is not None and mask.any():
            result[mask] = compute(found, mask)
    return result


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
    rounded = round_half_even(array, precision(key, standard=standard))
    result = _per_water_body(
        array.size, key, water_body, standard, lambda lim, m: _classes_from_limits(rounded[m], lim)
    )
    return _like(values, result.reshape(np.shape(values)))  # type: ignore[return-value]


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
    >>> float(exceedance_multiple(0.45, "tp", against=4))
    0.5
    """
    if key in NO_MULTIPLE:
        raise ValueError(f"{key!r} has no exceedance multiple (temp, pH, DO)")
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    classes = np.broadcast_to(np.asarray(against, dtype=np.int64), array.shape)
    if ((classes < 1) | (classes > 5)).any():
        raise ValueError("against must be a class Ⅰ–Ⅴ (1–5)")
    rounded = round_half_even(array, precision(key, standard=standard))

    def compute(lim: IndicatorLimits, mask: npt.NDArray[np.bool_]) -> FloatArray:
        part = rounded[mask]
        limit = np.asarray(lim.limits, dtype=np.float64)[classes[mask] - 1]
        over = np.where(part > limit, (part - limit) / limit, 0.0)
        return np.where(np.isnan(part), np.nan, over)

    result = _per_water_body(array.size, key, water_body, standard, compute)
    return _like(values, result.reshape(np.shape(values)))  # type: ignore[return-value]


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
    matrix = classes[deciding].to_numpy(dtype=np.float64)
    all_missing = np.isnan(matrix).all(axis=1)
    worst = np.where(all_missing, np.nan, np.nanmax(np.where(np.isnan(matrix), -1, matrix), axis=1))
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
        Columns ``pollutant_1`` … ``pollutant_{count}`` holding keys or None, on the index of
        ``classes``.

    References
    ----------
    .. [1] 环办〔2011〕22号, 主要污染指标的确定 [V].
    """
    deciding = _deciding_columns(classes.columns, standard)
    names = [f"pollutant_{i + 1}" for i in range(count)]
    if not deciding:
        return pd.DataFrame(None, index=classes.index, columns=names, dtype=object)
    klass = classes[deciding].to_numpy(dtype=np.float64)
    multiple = (
        multiples.reindex(columns=deciding).to_numpy(dtype=np.float64, na_value=np.nan)
        if len(multiples.columns)
        else np.zeros_like(klass)
    )
    multiple = np.nan_to_num(multiple, nan=0.0)
    table = limit_table(standard)
    priority = np.array(
        [table.get((key, "river"), table.get((key, "lake"))).priority for key in deciding],  # type: ignore[union-attr]
        dtype=np.float64,
    )
    eligible = (klass >= 4) & (np.asarray(overall, dtype=np.float64)[:, None] >= 4)
    # successive stable sorts, least significant key first: multiple, class, priority,
    # eligibility; equal items keep the table order
    order = np.argsort(-multiple, axis=1, kind="stable")
    for more_important in (np.nan_to_num(klass), np.broadcast_to(priority, klass.shape), eligible):
        ranked = np.take_along_axis(np.asarray(more_important, dtype=np.float64), order, axis=1)
        order = np.take_along_axis(order, np.argsort(-ranked, axis=1, kind="stable"), axis=1)
    top = order[:, :count]
    keys: npt.NDArray[np.object_] = np.asarray(deciding, dtype=object)[top]
    keys[~np.take_along_axis(eligible, top, axis=1)] = None
    if keys.shape[1] < count:
        padding = np.full((keys.shape[0], count - keys.shape[1]), None, dtype=object)
        keys = np.hstack([keys, padding])
    return pd.DataFrame(keys, index=classes.index, columns=names, dtype=object)


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
    [2.0]
    """
    index = values.index
    keyed = {key for key, _ in limit_table(standard)}
    present = [str(c) for c in values.columns if c in keyed]
    classes: dict[str, pd.Series] = {}
    vs_iii: dict[str, pd.Series] = {}
    vs_target: dict[str, pd.Series] = {}
    for key in present:
        column = values[key].astype("float64")
        has_limit = _has_limit(key, water_body, column.size, standard)
        if not has_limit.any():
            continue
        classes[key] = indicator_class(column, key, water_body=water_body, standard=standard)
        if key not in NO_MULTIPLE:
            vs_iii[key] = exceedance_multiple(column, key, water_body=water_body, standard=standard)
            if target is not None:
                vs_target[key] = exceedance_multiple(
                    column, key, against=target, water_body=water_body, standard=standard
                )
    class_frame = pd.DataFrame(classes, index=index, dtype="float64")
    overall = section_class(class_frame, standard=standard)
    multiples = pd.DataFrame(vs_iii, index=index, dtype="float64")
    pollutants = main_pollutants(class_frame, multiples, overall, standard=standard)
    tn = class_frame["tn"] if "tn" in class_frame else pd.Series(np.nan, index=index)
    return ClassifiedFrame(
        classes=class_frame,
        multiples_vs_iii=multiples,
        multiples_vs_target=(
            pd.DataFrame(vs_target, index=index, dtype="float64") if target is not None else None
        ),
        section_class=overall,
        pollutants=pollutants,
        tn_class=tn.astype("float64"),
    )


def _has_limit(
    key: str, water_body: WaterBodyLike, size: int, standard: str
) -> npt.NDArray[np.bool_]:
    lake = _lake_mask(water_body, size)
    table = limit_table(standard)
    river, lake_ok = (key, "river") in table, (key, "lake") in table
    if isinstance(lake, bool):
        return np.full(size, lake_ok if lake else river)
    return np.where(lake, lake_ok, river)
