"""Classification of period values as typed records: one per section and day, month or year.

Shared by ``qingliu classify``, the daily, monthly and annual jobs, so every place shows the
same fields. :func:`classify_rows` gives the GB 3838 part of each row
(:class:`~service.records.Classification`); the jobs add the period and its marks and store a
:class:`~service.records.DayRecord`, :class:`~service.records.MonthRecord` … through the one
codec of :mod:`service.records`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pydantic import JsonValue

from sections.classes import WaterClass
from sections.evaluation import ClassifiedFrame
from sections.periods import PeriodValues
from sections.standards import separate_items
from sections.trophic import TLI_CORRELATIONS, tli, trophic_state
from service.records import Classification

if TYPE_CHECKING:
    from service.jobs.observations import MergedPeriod

__all__ = [
    "TLI_KEYS",
    "Marks",
    "classification_records",
    "classify_rows",
    "merged_marks",
    "period_marks",
    "stored_values",
]

STORED_DIGITS = 6
"""Significant digits of a stored period value (Hg at 0.00005 mg/L keeps its digits)."""

TLI_KEYS = tuple(TLI_CORRELATIONS)
"""The inputs of the trophic index, from :data:`sections.trophic.TLI_CORRELATIONS`."""
_MULTIPLE_DECIMALS = 4


def _number(value: float, decimals: int) -> float | None:
    return None if math.isnan(value) else round(float(value), decimals)


def classify_rows(
    values: pd.DataFrame, bodies: np.ndarray, classified: ClassifiedFrame
) -> list[Classification]:
    """The classification of each row: class, indicators, multiples, main pollutants; for lake
    rows (``bodies == "lake"``) also the TN class and the trophic index.

    Only the fields that apply are set (``model_fields_set``): the lake's on lake rows,
    ``exceedance_vs_target`` when ``classified`` has target multiples.
    """
    separate = separate_items()
    deciding = [c for c in classified.classes.columns if c not in separate]
    class_matrix = classified.classes[deciding].to_numpy(dtype=np.float64)
    multiples = _Multiples.of(classified.multiples_vs_iii)
    targets = (
        None
        if classified.multiples_vs_target is None
        else _Multiples.of(classified.multiples_vs_target)
    )
    pollutants = classified.pollutants.to_numpy(dtype=object)
    section_classes = classified.section_class.to_numpy(dtype=np.float64)
    tn_classes = classified.tn_class.to_numpy(dtype=np.float64)
    lake_rows = bodies == "lake"
    tli_values = np.full(len(values), np.nan)
    if lake_rows.any():
        inputs = {k: values[k].to_numpy(dtype=np.float64) for k in TLI_KEYS if k in values}
        if inputs:
            tli_values = np.asarray(tli(**inputs), dtype=np.float64).reshape(-1)
    rows: list[Classification] = []
    for i in range(len(values)):
        number = section_classes[i]
        klass = None if np.isnan(number) else WaterClass(int(number))
        row_classes = dict(zip(deciding, class_matrix[i].tolist(), strict=True))
        fields: dict[str, object] = {
            "class_number": None if klass is None else int(klass),
            "klass": None if klass is None else klass.label,
            "label": None if klass is None else klass.quality,
            "indicators": [k for k, c in row_classes.items() if not math.isnan(c)],
            "indicator_classes": {k: int(c) for k, c in row_classes.items() if not math.isnan(c)},
            "exceedance_vs_iii": multiples.exceeding(i),
        }
        if targets is not None:
            fields["exceedance_vs_target"] = targets.exceeding(i)
        fields["main_pollutants"] = [p for p in pollutants[i] if isinstance(p, str)]
        if lake_rows[i]:
            tn_multiple = multiples.of_key("tn", i)
            index = _number(float(tli_values[i]), 2)
            fields.update(
                tn_class_number=None if np.isnan(tn_classes[i]) else int(tn_classes[i]),
                tn_exceedance_vs_iii=_number(tn_multiple, _MULTIPLE_DECIMALS),
                tli=index,
                trophic_state=None if index is None else trophic_state(index),
            )
        rows.append(Classification.model_validate(fields))
    return rows


def classification_records(
    head: Sequence[Mapping[str, JsonValue]],
    values: pd.DataFrame,
    bodies: np.ndarray,
    classified: ClassifiedFrame,
    insufficient: Sequence[Sequence[str]] | None,
) -> list[dict[str, JsonValue]]:
    """One JSON record per row for ``qingliu classify``: ``head`` (the row's own columns),
    then the fields of :func:`classify_rows` that apply, then ``insufficient``."""
    records: list[dict[str, JsonValue]] = []
    for i, row in enumerate(classify_rows(values, bodies, classified)):
        record = dict(head[i])
        record.update(row.model_dump(mode="json", by_alias=True, exclude_unset=True))
        if insufficient is not None:
            record["insufficient"] = list(insufficient[i])
        records.append(record)
    return records


def stored_values(row: pd.Series) -> dict[str, float | None]:
    """A row of period values as JSON-ready numbers, to :data:`STORED_DIGITS` significant digits."""
    digits = STORED_DIGITS
    return {str(k): None if pd.isna(v) else float(f"{float(v):.{digits}g}") for k, v in row.items()}


@dataclass(frozen=True)
class Marks:
    """What period values rest on, per parameter key."""

    lower_bound: tuple[str, ...] = ()
    """Keys whose value an over-range reading entered: a lower bound ("≥")."""
    suspect: dict[str, int] = field(default_factory=dict)
    """Suspect values counted in the mean, per key."""
    sources: dict[str, str] = field(default_factory=dict)
    """``automatic`` or ``manual`` per key (monthly values)."""
    censored: tuple[str, ...] = ()
    """Keys whose laboratory samples were all below the detection limit ("<DL")."""


def period_marks(result: PeriodValues, row: int) -> Marks:
    """What a row's period values rest on: lower bounds ("≥") and suspect values counted."""
    bound = result.lower_bound.iloc[row]
    return Marks(
        lower_bound=tuple(sorted(str(k) for k, v in bound.items() if bool(v))),
        suspect=_counts(result.suspect.iloc[row]),
    )


def merged_marks(merged: MergedPeriod, section_id: str) -> Marks:
    """A section's monthly sources, lower bounds, suspect counts and "<DL" items."""
    sources = merged.sources.loc[section_id]
    bound = merged.lower_bound.loc[section_id]
    censored = merged.censored.loc[section_id]
    return Marks(
        sources={str(k): str(v) for k, v in sources.items() if v},
        lower_bound=tuple(sorted(str(k) for k, v in bound.items() if v)),
        suspect=_counts(merged.suspect.loc[[section_id]].iloc[0]),
        censored=tuple(sorted(str(k) for k, v in censored.items() if v)),
    )


def _counts(row: pd.Series) -> dict[str, int]:
    counts = row.to_numpy(dtype=np.int64)
    return {str(k): int(n) for k, n in zip(row.index, counts, strict=True) if n > 0}


@dataclass(frozen=True)
class _Multiples:
    """Exceedance multiples as one float matrix, the separately assessed items left out."""

    keys: tuple[str, ...]
    matrix: np.ndarray

    @classmethod
    def of(cls, frame: pd.DataFrame) -> _Multiples:
        return cls(tuple(str(k) for k in frame.columns), frame.to_numpy(dtype=np.float64))

    def of_key(self, key: str, row: int) -> float:
        return float(self.matrix[row, self.keys.index(key)]) if key in self.keys else math.nan

    def exceeding(self, row: int) -> dict[str, float]:
        separate = separate_items()
        return {
            key: round(float(value), _MULTIPLE_DECIMALS)
            for key, value in zip(self.keys, self.matrix[row].tolist(), strict=True)
            if key not in separate and not math.isnan(value) and value > 0
        }
