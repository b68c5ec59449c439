"""Automatic and laboratory values of one period, merged as the national evaluation method does.

A section's monthly value of a parameter comes from its automatic station where the station
measures the parameter and has a valid monthly value, and from the laboratory (manual routine
samples) otherwise: automatic data for pH, DO, CODMn, NH3-N, TP and TN are preferred where both
exist [V 环办监测函〔2020〕82号]; COD, BOD5, fluoride, the metals and the other Table-1 items
come from the laboratory. Every merged value records its source.

References
----------
.. [1] 环办监测函〔2020〕82号: 自动监测数据优先（pH、溶解氧、高锰酸盐指数、氨氮、总磷、总氮）[V].
.. [2] 环办〔2011〕22号 地表水环境质量评价办法（试行）: period values as arithmetic means [V].
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

import numpy as np
import pandas as pd

__all__ = [
    "AUTOMATIC_PREFERRED",
    "Source",
    "merge_sources",
]

AUTOMATIC_PREFERRED: Final = ("ph", "do", "codmn", "nh3n", "tp", "tn")
"""Parameters whose automatic value wins over the laboratory's [V 环办监测函〔2020〕82号]."""


class Source(StrEnum):
    """Where a period value came from."""

    AUTOMATIC = "automatic"
    MANUAL = "manual"

    @property
    def label(self) -> str:
        """自动监测, 手工监测."""
        return "自动监测" if self is Source.AUTOMATIC else "手工监测"


def merge_sources(
    automatic: pd.DataFrame,
    manual: pd.DataFrame,
    *,
    preferred: tuple[str, ...] = AUTOMATIC_PREFERRED,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Merge automatic and laboratory period values cell by cell.

    Parameters
    ----------
    automatic : DataFrame
        Automatic period values (NaN where insufficient or absent), one column per parameter.
    manual : DataFrame
        Laboratory period values on the same kind of index.
    preferred : tuple of str
        Parameters whose automatic value wins when both exist [V]; for every other parameter
        the laboratory value wins, and either source fills a cell the other leaves empty.

    Returns
    -------
    values : DataFrame
        On the union of both indexes and columns.
    sources : DataFrame of str
        ``"automatic"``, ``"manual"`` or ``""`` (no value) per cell.

    Examples
    --------
    >>> auto = pd.DataFrame({"nh3n": [0.8], "temp": [20.0]})
    >>> lab = pd.DataFrame({"nh3n": [1.2], "cod": [24.0]})
    >>> values, sources = merge_sources(auto, lab)
    >>> values.loc[0, ["nh3n", "cod", "temp"]].tolist(), sources.loc[0, ["nh3n", "cod"]].tolist()
    ([0.8, 24.0, 20.0], ['automatic', 'manual'])
    """
    index = automatic.index.union(manual.index)
    columns = automatic.columns.union(manual.columns)
    auto = automatic.reindex(index=index, columns=columns).astype("float64")
    lab = manual.reindex(index=index, columns=columns).astype("float64")
    prefer_auto = np.isin(np.asarray(columns, dtype=object), preferred)[None, :]
    auto_present = auto.notna().to_numpy()
    lab_present = lab.notna().to_numpy()
    take_auto = auto_present & (prefer_auto | ~lab_present)
    take_lab = ~take_auto & lab_present
    values = pd.DataFrame(
        np.where(take_auto, auto.to_numpy(), lab.to_numpy()), index=index, columns=columns
    ).where(take_auto | take_lab)
    sources = pd.DataFrame(
        np.where(take_auto, Source.AUTOMATIC.value, np.where(take_lab, Source.MANUAL.value, "")),
        index=index,
        columns=columns,
    )
    return values, sources
