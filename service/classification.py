"""Classification results as plain records: one per section and sample, day or month.

Shared by ``qingliu classify``, the daily job and the API, so every place shows the same fields.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sections.classes import WaterClass
from sections.evaluation import ClassifiedFrame
from sections.periods import PeriodValues
from sections.standards import separate_items
from sections.trophic import TLI_CORRELATIONS, tli, trophic_state

if TYPE_CHECKING:
    from service.jobs.observations import MergedPeriod

__all__ = ["TLI_KEYS", "classification_records", "merged_marks", "period_marks", "stored_values"]

STORED_DIGITS = 6
"""Significant digits of a stored period value (Hg at 0.00005 mg/L keeps its digits)."""

TLI_KEYS = tuple(TLI_CORRELATIONS)
"""The inputs of the trophic index, from :data:`sections.trophic.TLI_CORRELATIONS`."""
_MULTIPLE_DECIMALS = 4


def _number(value: float, decimals: int | None = None) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(float(value), decimals) if decimals is not None else float(value)


def classification_records(
    head: list[dict[str, Any]],
    values: pd.DataFrame,
    bodies: np.ndarray,
    classified: ClassifiedFrame,
    insufficient: list[list[str]] | None,
) -> list[dict[str, Any]]:
    """One record per row: class, indicators, multiples, main pollutants, lake TN and TLI."""
    separate = separate_items()
    deciding = [c for c in classified.classes.columns if c not in separate]
    class_matrix = classified.classes[deciding].to_numpy(dtype=np.float64)
    multiples = classified.multiples_vs_iii
    targets = classified.multiples_vs_target
    pollutants = classified.pollutants.to_numpy(dtype=object)
    section_classes = classified.section_class.to_numpy(dtype=np.float64)
    tn_classes = classified.tn_class.to_numpy(dtype=np.float64)
    lake_rows = bodies == "lake"
    tli_values = np.full(len(values), np.nan)
    if lake_rows.any():
        inputs = {k: values[k].to_numpy(dtype=np.float64) for k in TLI_KEYS if k in values}
        if inputs:
            tli_values = np.asarray(tli(**inputs), dtype=np.float64).reshape(-1)
    records: list[dict[str, Any]] = []
    for i, start in enumerate(head):
        number = section_classes[i]
        klass = None if np.isnan(number) else WaterClass(int(number))
        used = [k for k, c in zip(deciding, class_matrix[i], strict=True) if not np.isnan(c)]
        record: dict[str, Any] = dict(start)
        record.update(
            class_number=None if klass is None else int(klass),
            **{"class": None if klass is None else klass.label},
            label=None if klass is None else klass.quality,
            indicators=used,
            indicator_classes={
                k: int(c) for k, c in zip(deciding, class_matrix[i], strict=True) if not np.isnan(c)
            },
            exceedance_vs_iii=_exceeding(multiples, i),
        )
        if targets is not None:
            record["exceedance_vs_target"] = _exceeding(targets, i)
        record["main_pollutants"] = [p for p in pollutants[i] if isinstance(p, str)]
        if lake_rows[i]:
            record["tn_class_number"] = None if np.isnan(tn_classes[i]) else int(tn_classes[i])
            tn_multiple = multiples["tn"].iat[i] if "tn" in multiples else np.nan
            record["tn_exceedance_vs_iii"] = _number(tn_multiple, _MULTIPLE_DECIMALS)
            index = _number(tli_values[i], 2)
            record["tli"] = index
            record["trophic_state"] = None if index is None else trophic_state(index)
        if insufficient is not None:
            record["insufficient"] = insufficient[i]
        records.append(record)
    return records


def stored_values(row: pd.Series) -> dict[str, float | None]:
    """A row of period values as JSON-ready numbers, to :data:`STORED_DIGITS` significant digits."""
    digits = STORED_DIGITS
    return {str(k): None if pd.isna(v) else float(f"{float(v):.{digits}g}") for k, v in row.items()}


def period_marks(result: PeriodValues, row: int) -> dict[str, Any]:
    """What a row's period values rest on: lower bounds ("≥") and suspect values counted."""
    bound = result.lower_bound.iloc[row]
    suspect = result.suspect.iloc[row]
    return {
        "lower_bound": sorted(str(k) for k, v in bound.items() if bool(v)),
        "suspect": {str(k): int(v) for k, v in suspect.items() if int(v) > 0},
    }


def merged_marks(merged: MergedPeriod, section_id: str) -> dict[str, Any]:
    """A section's monthly sources, lower bounds, suspect counts and "<DL" items."""
    sources = merged.sources.loc[section_id]
    return {
        "sources": {str(k): str(v) for k, v in sources.items() if v},
        "lower_bound": sorted(str(k) for k, v in merged.lower_bound.loc[section_id].items() if v),
        "suspect": {str(k): int(v) for k, v in merged.suspect.loc[section_id].items() if v > 0},
        "censored": sorted(str(k) for k, v in merged.censored.loc[section_id].items() if v),
    }


def _exceeding(multiples: pd.DataFrame, row: int) -> dict[str, float]:
    result: dict[str, float] = {}
    separate = separate_items()
    for key in multiples.columns:
        if key in separate:
            continue
        value = multiples[key].iat[row]
        if not np.isnan(value) and value > 0:
            result[str(key)] = round(float(value), _MULTIPLE_DECIMALS)
    return result
