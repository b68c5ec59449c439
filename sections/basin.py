"""River and basin status from its sections, and the wording of a change between periods.

References
----------
.. [1] 环办〔2011〕22号 地表水环境质量评价办法（试行）, 河流、流域（水系）水质评价 and
   变化趋势分析 [V, official FAQ; the original table may read p < 60 % for 轻度污染: the
   thresholds are parameters].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from sections.classes import WaterClass
from sections.evaluation import classify_frame

__all__ = [
    "STATUS_LEVELS",
    "BasinStatus",
    "StatusThresholds",
    "basin_status",
    "trend_wording",
]

STATUS_LEVELS: tuple[str, ...] = ("优", "良好", "轻度污染", "中度污染", "重度污染")
"""Status words from best to worst."""


@dataclass(frozen=True)
class StatusThresholds:
    """Shares that separate the status levels (configurable; defaults from the official FAQ).

    Attributes
    ----------
    excellent : float
        p ≥ this (share of sections Ⅰ–Ⅲ) → 优 [default 0.90].
    good : float
        p ≥ this → 良好 [default 0.75].
    moderate : float
        Otherwise q (share 劣Ⅴ) ≥ this → 中度污染 [default 0.20].
    heavy : float
        q ≥ this → 重度污染 [default 0.40].
    min_sections : int
        With fewer sections, average the indicators and classify as one section [default 5].
    """

    excellent: float = 0.90
    good: float = 0.75
    moderate: float = 0.20
    heavy: float = 0.40
    min_sections: int = 5


@dataclass(frozen=True)
class BasinStatus:
    """The status of a river or basin."""

    label: str | None
    method: Literal["shares", "mean_values", "none"]
    sections: int
    good_share: float | None
    worse_than_v_share: float | None
    mean_class: WaterClass | None = None


def basin_status(
    section_classes: pd.Series,
    *,
    values: pd.DataFrame | None = None,
    water_body: Literal["river", "lake"] = "river",
    thresholds: StatusThresholds | None = None,
) -> BasinStatus:
    """The status (优 … 重度污染) of a river or basin from its assessable sections.

    Parameters
    ----------
    section_classes : Series
        Class number 1–6 of each section; NaN (not assessable) is left out.
    values : DataFrame, optional
        The sections' indicator values (one row per section, columns keys), needed when there are
        fewer than ``thresholds.min_sections`` sections: their mean is classified as one section.
    thresholds : StatusThresholds, optional
        Share thresholds; the defaults of :class:`StatusThresholds`.

    Examples
    --------
    >>> basin_status(pd.Series([2, 3, 3, 4, 6, 3, 2, 3, 3, 4])).label
    '轻度污染'
    """
    limits = thresholds or StatusThresholds()
    classes = pd.to_numeric(section_classes, errors="coerce").dropna()
    count = int(classes.size)
    if count == 0:
        return BasinStatus(None, "none", 0, None, None)
    if count < limits.min_sections:
        if values is None:
            raise ValueError(
                f"fewer than {limits.min_sections} sections: pass their indicator values"
            )
        mean = values.loc[classes.index].astype("float64").mean(axis=0).to_frame().T
        klass = classify_frame(mean, water_body=water_body).section_class.iloc[0]
        if np.isnan(klass):
            return BasinStatus(None, "mean_values", count, None, None)
        water_class = WaterClass(int(klass))
        return BasinStatus(water_class.quality, "mean_values", count, None, None, water_class)
    p = float((classes <= 3).mean())
    q = float((classes >= 6).mean())
    if p >= limits.excellent:
        label = "优"
    elif p >= limits.good:
        label = "良好"
    elif q >= limits.heavy:
        label = "重度污染"
    elif q >= limits.moderate:
        label = "中度污染"
    else:
        label = "轻度污染"
    return BasinStatus(label, "shares", count, p, q)


def trend_wording(before: str, after: str) -> str:
    """The wording of a status change between two periods.

    0 levels: 无明显变化; 1 level: 有所好转 / 有所变差; 2 or more: 明显好转 / 明显变差.

    Examples
    --------
    >>> trend_wording("轻度污染", "良好"), trend_wording("优", "中度污染")
    ('有所好转', '明显变差')
    """
    for word in (before, after):
        if word not in STATUS_LEVELS:
            raise ValueError(f"unknown status {word!r}; valid: {', '.join(STATUS_LEVELS)}")
    change = STATUS_LEVELS.index(after) - STATUS_LEVELS.index(before)
    if change == 0:
        return "无明显变化"
    size = "有所" if abs(change) == 1 else "明显"
    return size + ("变差" if change > 0 else "好转")
