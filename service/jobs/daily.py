"""The daily classification job (``qingliu run daily``) and its backfill.

For each section and day: the day's observations are split by the one validity rule
(:mod:`sections.validity`: suspect values and over-range lower bounds count, station faults and
QC fails do not) into those that enter means and those excluded (with the reason); daily
values need at least the validity threshold of valid values; the section is classified under
GB 3838-2002 against Class Ⅲ and its target class; the result is stored with its provenance
(the ids of the observations used, the count excluded per reason). Re-running a day replaces
its results and is recorded as a new job run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd
from pydantic import JsonValue
from sqlalchemy import Engine, delete, insert

from sections.evaluation import classify_frame
from sections.periods import DEFAULT_MIN_DAILY_VALUES
from sections.registry import Registry
from service.classification import classify_rows, period_marks, stored_values
from service.db import queries
from service.db.models import DailyResult, table_of, utc_now
from service.jobs.observations import day_bounds, load_observations, valid_period_values
from service.records import DayRecord, Provenance, encode

__all__ = [
    "AUTOMATIC_INDICATORS",
    "DailySummary",
    "day_bounds",
    "run_daily",
]

AUTOMATIC_INDICATORS = ("ph", "do", "codmn", "nh3n", "tp")
"""The deciding indicators an automatic station measures: the basis of completeness."""


@dataclass(frozen=True)
class DailySummary:
    """What a daily run did."""

    first: dt.date
    last: dt.date
    results: int
    classified: int
    insufficient: int
    run_id: int


def run_daily(
    *,
    engine: Engine,
    registry: Registry,
    first: dt.date,
    last: dt.date | None = None,
    min_daily_values: int = DEFAULT_MIN_DAILY_VALUES,
    progress: Callable[[int], None] | None = None,
    chunk_days: int = 31,
) -> DailySummary:
    """Classify every section on every day from ``first`` to ``last`` (inclusive) and store it."""
    last = last or first
    if last < first:
        raise ValueError("the last day comes before the first")
    run_id = queries.start_job_run(
        engine=engine, job="daily", detail={"first": first.isoformat(), "last": last.isoformat()}
    )
    results = classified = insufficient = 0
    try:
        day = first
        while day <= last:
            chunk_last = min(last, day + dt.timedelta(days=chunk_days - 1))
            rows = _classify_days(
                engine=engine, registry=registry, first=day, last=chunk_last,
                min_daily_values=min_daily_values, run_id=run_id,
            )  # fmt: skip
            _store(engine, rows, day, chunk_last, [s.id for s in registry.sections])
            results += len(rows)
            classified += sum(r.record.class_number is not None for r in rows)
            insufficient += sum(r.record.class_number is None for r in rows)
            if progress is not None:
                progress((chunk_last - day).days + 1)
            day = chunk_last + dt.timedelta(days=1)
    except Exception as exc:
        queries.finish_job_run(
            engine=engine, run_id=run_id, status="failed", detail={"error": repr(exc)}
        )
        raise
    detail: dict[str, JsonValue] = {
        "first": first.isoformat(), "last": last.isoformat(), "results": results,
        "classified": classified, "insufficient": insufficient,
    }  # fmt: skip
    queries.finish_job_run(engine=engine, run_id=run_id, status="ok", detail=detail)
    return DailySummary(first, last, results, classified, insufficient, run_id)


@dataclass(frozen=True)
class _DayRow:
    """A section's day as stored: its record, what it rests on, the run that made it."""

    record: DayRecord
    provenance: Provenance
    completeness: float
    run_id: int
    computed_at: dt.datetime

    def columns(self) -> dict[str, object]:
        """The ``daily_result`` row."""
        return {
            "section_id": self.record.section,
            "day": self.record.day,
            "class_number": self.record.class_number,
            "completeness": self.completeness,
            "record": encode(self.record),
            "provenance": encode(self.provenance),
            "run_id": self.run_id,
            "computed_at": self.computed_at,
        }


def _completeness(present: set[str]) -> float:
    """The share of the automatic deciding indicators that have a valid daily value."""
    return len(present & set(AUTOMATIC_INDICATORS)) / len(AUTOMATIC_INDICATORS)


def _classify_days(
    *,
    engine: Engine,
    registry: Registry,
    first: dt.date,
    last: dt.date,
    min_daily_values: int,
    run_id: int,
) -> list[_DayRow]:
    frame = load_observations(engine, registry, first, last)
    if frame.empty:
        return []
    valid = frame[frame["counts"]]
    result = valid_period_values(valid, period="day", min_daily_values=min_daily_values)
    if result is None:
        return _provenance_only(frame, registry, run_id)
    index = result.values.index
    sections = [registry.section(s) for s in index.get_level_values("group")]
    days = [d.date() for d in index.get_level_values("period_start")]
    bodies = np.array([s.water_body for s in sections], dtype=object)
    targets = np.array([int(s.target_class(d)) for s, d in zip(sections, days, strict=True)])
    values = result.values.reset_index(drop=True)
    classified = classify_frame(values, water_body=bodies, target=np.minimum(targets, 5))
    rows_classified = classify_rows(values, bodies, classified)
    insufficient = list(result.insufficient())
    used: dict[tuple[str, dt.date], dict[str, tuple[int, ...]]] = {}
    for group_key, ids in valid.groupby(["section_id", "day", "parameter"])["id"]:
        section_id, day, key = cast(tuple[str, dt.date, str], group_key)
        used.setdefault((str(section_id), day), {})[str(key)] = tuple(int(i) for i in ids)
    excluded = frame[~frame["counts"]].groupby(["section_id", "day"])["reason"]
    excluded_counts = excluded.value_counts()
    review_counts = _review_counts(frame)
    now = utc_now()
    rows: list[_DayRow] = []
    seen: set[tuple[str, dt.date]] = set()
    for i, (classification, section, day, target) in enumerate(
        zip(rows_classified, sections, days, targets, strict=True)
    ):
        completeness = _completeness(set(classification.indicators))
        marks = period_marks(result, i)
        number = classification.class_number
        record = DayRecord.model_validate({
            **classification.model_dump(),
            "section": section.id, "day": day, "insufficient": insufficient[i],
            "target_class_number": int(target), "values": stored_values(values.iloc[i]),
            "lower_bound": marks.lower_bound, "suspect": marks.suspect,
            "meets_target": None if number is None else number <= int(target),
            "completeness": round(completeness, 3),
        })  # fmt: skip
        provenance = Provenance(
            used=used.get((section.id, day), {}),
            excluded=_excluded(excluded_counts, section.id, day),
            review=review_counts.get((section.id, day), {}),
        )
        rows.append(_DayRow(record, provenance, completeness, run_id, now))
        seen.add((section.id, day))
    for group_key, group in frame.groupby(["section_id", "day"]):
        section_id, day = cast(tuple[str, dt.date], group_key)
        if (section_id, day) not in seen:  # a day with observations but no valid one
            rows.append(_empty(str(section_id), day, group, registry, run_id, now))
    return rows


def _review_counts(frame: pd.DataFrame) -> dict[tuple[str, dt.date], dict[str, int]]:
    """Per section and day: suspect values counted, lower bounds, values awaiting review."""
    result: dict[tuple[str, dt.date], dict[str, int]] = {}
    marks = frame[["section_id", "day"]].assign(
        suspect=frame["suspect"] & frame["counts"],
        lower_bound=frame["lower_bound"] & frame["counts"],
        pending=frame["needs_review"],
    )
    sums = marks.groupby(["section_id", "day"])[["suspect", "lower_bound", "pending"]].sum()
    for group_key, row in sums.iterrows():
        section_id, day = cast(tuple[str, dt.date], group_key)
        numbers = row.to_numpy(dtype=np.int64)
        counts = {str(k): int(v) for k, v in zip(row.index, numbers, strict=True) if v}
        if counts:
            result[(str(section_id), day)] = counts
    return result


def _excluded(counts: pd.Series, section_id: str, day: dt.date) -> dict[str, int]:
    try:
        part = counts.loc[(section_id, day)]
    except KeyError:
        return {}
    return {str(reason): int(n) for reason, n in part.items()}


def _empty(
    section_id: str,
    day: dt.date,
    group: pd.DataFrame,
    registry: Registry,
    run_id: int,
    now: dt.datetime,
) -> _DayRow:
    section = registry.section(section_id)
    record = DayRecord(
        section=section_id,
        day=day,
        insufficient=tuple(sorted(str(p) for p in set(group["parameter"]))),
        target_class_number=int(section.target_class(day)),
        completeness=0.0,
    )
    counts = group["reason"].value_counts()
    provenance = Provenance(excluded={str(k): int(v) for k, v in counts.items()})
    return _DayRow(record, provenance, 0.0, run_id, now)


def _provenance_only(frame: pd.DataFrame, registry: Registry, run_id: int) -> list[_DayRow]:
    now = utc_now()
    rows: list[_DayRow] = []
    for group_key, group in frame.groupby(["section_id", "day"]):
        section_id, day = cast(tuple[str, dt.date], group_key)
        rows.append(_empty(str(section_id), day, group, registry, run_id, now))
    return rows


def _store(
    engine: Engine, rows: list[_DayRow], first: dt.date, last: dt.date, sections: list[str]
) -> None:
    table = table_of(DailyResult)
    with engine.begin() as connection:
        connection.execute(
            delete(table).where(
                table.c.day >= first, table.c.day <= last, table.c.section_id.in_(sections)
            )
        )
        if rows:
            connection.execute(insert(table), [r.columns() for r in rows])
