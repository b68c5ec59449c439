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
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, delete, insert

from sections.evaluation import classify_frame
from sections.periods import DEFAULT_MIN_DAILY_VALUES
from sections.registry import Registry
from service.classification import classification_records, period_marks, stored_values
from service.db import queries
from service.db.models import DailyResult, utc_now
from service.jobs.observations import day_bounds, load_observations, valid_period_values

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
        engine=engine,
        job="daily",
        detail=json.dumps({"first": first.isoformat(), "last": last.isoformat()}),
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
            classified += sum(r["class_number"] is not None for r in rows)
            insufficient += sum(r["class_number"] is None for r in rows)
            if progress is not None:
                progress((chunk_last - day).days + 1)
            day = chunk_last + dt.timedelta(days=1)
    except Exception as exc:
        queries.finish_job_run(engine=engine, run_id=run_id, status="failed", detail=repr(exc))
        raise
    detail = {"first": first.isoformat(), "last": last.isoformat(), "results": results,
              "classified": classified, "insufficient": insufficient}  # fmt: skip
    queries.finish_job_run(engine=engine, run_id=run_id, status="ok", detail=json.dumps(detail))
    return DailySummary(first, last, results, classified, insufficient, run_id)


def _classify_days(
    *,
    engine: Engine,
    registry: Registry,
    first: dt.date,
    last: dt.date,
    min_daily_values: int,
    run_id: int,
) -> list[dict[str, Any]]:
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
    head = [{"section": s.id, "day": d.isoformat()} for s, d in zip(sections, days, strict=True)]
    records = classification_records(head, values, bodies, classified, list(result.insufficient()))
    used: dict[tuple[str, dt.date], dict[str, list[int]]] = {}
    for (section_id, day, key), ids in valid.groupby(["section_id", "day", "parameter"])["id"]:
        used.setdefault((str(section_id), day), {})[str(key)] = [int(i) for i in ids]
    excluded = frame[~frame["counts"]].groupby(["section_id", "day"])["reason"]
    excluded_counts = excluded.value_counts()
    review_counts = _review_counts(frame)
    now = utc_now()
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, dt.date]] = set()
    for record, section, day, target in zip(records, sections, days, targets, strict=True):
        present = set(record["indicators"])
        record["target_class_number"] = int(target)
        i = len(rows)
        record["values"] = stored_values(values.iloc[i])
        record.update(period_marks(result, i))
        record["meets_target"] = (
            None if record["class_number"] is None else record["class_number"] <= int(target)
        )
        provenance = {
            "used": used.get((section.id, day), {}),
            "excluded": _excluded(excluded_counts, section.id, day),
            "review": review_counts.get((section.id, day), {}),
        }
        rows.append(_row(section.id, day, record, present, provenance, run_id, now))
        seen.add((section.id, day))
    for (section_id, day), group in frame.groupby(["section_id", "day"]):
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
    for (section_id, day), row in sums.iterrows():
        counts = {str(k): int(v) for k, v in row.items() if int(v)}
        if counts:
            result[(str(section_id), day)] = counts
    return result


def _excluded(counts: pd.Series, section_id: str, day: dt.date) -> dict[str, int]:
    try:
        part = counts.loc[(section_id, day)]
    except KeyError:
        return {}
    return {str(reason): int(n) for reason, n in part.items()}


def _row(
    section_id: str,
    day: dt.date,
    record: dict[str, Any],
    present: set[str],
    provenance: dict[str, Any],
    run_id: int,
    now: dt.datetime,
) -> dict[str, Any]:
    completeness = len(present & set(AUTOMATIC_INDICATORS)) / len(AUTOMATIC_INDICATORS)
    record["completeness"] = round(completeness, 3)
    return {
        "section_id": section_id,
        "day": day,
        "class_number": record["class_number"],
        "completeness": completeness,
        "record": json.dumps(record, ensure_ascii=False),
        "provenance": json.dumps(provenance, ensure_ascii=False),
        "run_id": run_id,
        "computed_at": now,
    }


def _empty(
    section_id: str,
    day: dt.date,
    group: pd.DataFrame,
    registry: Registry,
    run_id: int,
    now: dt.datetime,
) -> dict[str, Any]:
    section = registry.section(section_id)
    record: dict[str, Any] = {
        "section": section_id, "day": day.isoformat(), "class_number": None, "class": None,
        "label": None, "indicators": [], "indicator_classes": {}, "exceedance_vs_iii": {},
        "exceedance_vs_target": {}, "main_pollutants": [],
        "insufficient": sorted(set(group["parameter"])),
        "target_class_number": int(section.target_class(day)), "values": {}, "meets_target": None,
        "lower_bound": [], "suspect": {},
    }  # fmt: skip
    counts = group["reason"].value_counts()
    provenance = {"used": {}, "excluded": {str(k): int(v) for k, v in counts.items()}}
    return _row(section_id, day, record, set(), provenance, run_id, now)


def _provenance_only(frame: pd.DataFrame, registry: Registry, run_id: int) -> list[dict[str, Any]]:
    now = utc_now()
    return [
        _empty(str(section_id), day, group, registry, run_id, now)
        for (section_id, day), group in frame.groupby(["section_id", "day"])
    ]


def _store(
    engine: Engine, rows: list[dict[str, Any]], first: dt.date, last: dt.date, sections: list[str]
) -> None:
    table = DailyResult.__table__  # type: ignore[attr-defined]
    with engine.begin() as connection:
        connection.execute(
            delete(table).where(
                table.c.day >= first, table.c.day <= last, table.c.section_id.in_(sections)
            )
        )
        if rows:
            connection.execute(insert(table), rows)
