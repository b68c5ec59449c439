"""Lake trophic state: the comprehensive trophic level index TLI(Σ) and its grade.

References
----------
.. [1] 中国环境监测总站, 湖泊（水库）富营养化评价方法及分级技术规定 (总站生字〔2001〕090号):
   TLI(Σ) = Σ Wj·TLI(j), Wj = rj² / Σ rk², correlations with chlorophyll-a; grades [V].
.. [2] domain.md §4: the formulas and weights as used here [V].
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = ["TLI_CORRELATIONS", "TROPHIC_GRADES", "tli", "trophic_state"]

FloatArray = npt.NDArray[np.float64]
NumericLike = float | FloatArray | pd.Series | None

TLI_CORRELATIONS: MappingProxyType[str, float] = MappingProxyType(
    {"chla": 1.0, "tp": 0.84, "tn": 0.82, "sd": -0.83, "codmn": 0.83}
)
"""Correlation rij of each parameter with chlorophyll-a [V]."""

TROPHIC_GRADES: tuple[tuple[float, str], ...] = (
    (30.0, "贫营养"),
    (50.0, "中营养"),
    (60.0, "轻度富营养"),
    (70.0, "中度富营养"),
    (float("inf"), "重度富营养"),
)
"""Upper bounds (inclusive from 30 on) and grade names: < 30 贫营养, 30–50 中营养, 50–60 轻度,
60–70 中度, > 70 重度富营养 [V]."""


def _component(key: str, values: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log(np.where(values > 0, values, np.nan))
    if key == "chla":
        return 10 * (2.5 + 1.086 * logs)
    if key == "tp":
        return 10 * (9.436 + 1.624 * logs)
    if key == "tn":
        return 10 * (5.453 + 1.694 * logs)
    if key == "sd":
        return 10 * (5.118 - 1.94 * logs)
    return 10 * (0.109 + 2.661 * logs)  # codmn


def tli(
    *,
    chla: NumericLike = None,
    tp: NumericLike = None,
    tn: NumericLike = None,
    sd: NumericLike = None,
    codmn: NumericLike = None,
) -> float | FloatArray | pd.Series:
    """Comprehensive trophic level index TLI(Σ), weights re-normalised over what is present.

    Parameters
    ----------
    chla : numeric, optional
        Chlorophyll-a [mg/m³].
    tp, tn : numeric, optional
        Total phosphorus, total nitrogen [mg/L].
    sd : numeric, optional
        Secchi depth (透明度) [m].
    codmn : numeric, optional
        Permanganate index [mg/L].

    Returns
    -------
    numeric
        TLI(Σ) [dimensionless, 0–100], NaN where no parameter has a positive value. A Series
        when any input is one (on the first Series' index), else an array when any input is
        one, else a float; scalars broadcast.

    Notes
    -----
    TLI(Σ) = Σ Wj·TLI(j) with Wj = rj² / Σk rk² over the parameters present in that row, and
    TLI(chla) = 10(2.5 + 1.086 ln chla), TLI(TP) = 10(9.436 + 1.624 ln TP),
    TLI(TN) = 10(5.453 + 1.694 ln TN), TLI(SD) = 10(5.118 − 1.94 ln SD),
    TLI(CODMn) = 10(0.109 + 2.661 ln CODMn).

    Examples
    --------
    >>> round(float(tli(chla=10.0, tp=0.05, tn=1.0, sd=1.0, codmn=4.0)), 1)
    48.0
    """
    given = {"chla": chla, "tp": tp, "tn": tn, "sd": sd, "codmn": codmn}
    present = {k: v for k, v in given.items() if v is not None}
    if not present:
        raise ValueError("tli needs at least one of chla, tp, tn, sd, codmn")
    # the richest kind given wins: a Series (its index), else an array, else a float
    series = [v for v in present.values() if isinstance(v, pd.Series)]
    shaped = [v for v in present.values() if np.ndim(np.asarray(v)) > 0]
    template = series[0] if series else (shaped[0] if shaped else next(iter(present.values())))
    arrays = {k: np.atleast_1d(np.asarray(v, dtype=np.float64)) for k, v in present.items()}
    shape = np.broadcast_shapes(*(a.shape for a in arrays.values()))
    total = np.zeros(shape)
    weights = np.zeros(shape)
    for key, values in arrays.items():
        component = np.broadcast_to(_component(key, values), shape)
        weight = TLI_CORRELATIONS[key] ** 2
        have = ~np.isnan(component)
        total = total + np.where(have, weight * component, 0.0)
        weights = weights + np.where(have, weight, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        result = np.where(weights > 0, total / weights, np.nan)
    if isinstance(template, pd.Series):
        return pd.Series(result, index=template.index, dtype="float64")
    if np.ndim(np.asarray(template)) == 0:
        return float(result.reshape(-1)[0])
    return result


def trophic_state(
    index: float | FloatArray | pd.Series,
) -> str | npt.NDArray[np.object_] | pd.Series | None:
    """The trophic grade of TLI(Σ) values; None where the index is NaN.

    Examples
    --------
    >>> trophic_state(29.9), trophic_state(30.0), trophic_state(50.0), trophic_state(50.1)
    ('贫营养', '中营养', '中营养', '轻度富营养')
    """
    values = np.atleast_1d(np.asarray(index, dtype=np.float64))
    bounds = np.array([b for b, _ in TROPHIC_GRADES[:-1]])
    names = np.array([n for _, n in TROPHIC_GRADES], dtype=object)
    # < 30 贫营养; 30 ≤ x ≤ 50 中营养; 50 < x ≤ 60; 60 < x ≤ 70; > 70
    position = np.where(values < bounds[0], 0, np.searchsorted(bounds[1:], values, side="left") + 1)
    grades: npt.NDArray[np.object_] = names[np.minimum(position, len(names) - 1)]
    grades[np.isnan(values)] = None
    if isinstance(index, pd.Series):
        return pd.Series(grades, index=index.index, dtype=object)
    if np.ndim(np.asarray(index)) == 0:
        first = grades[0]
        return None if first is None else str(first)
    return grades
