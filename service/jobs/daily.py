"""The daily classification job (``qingliu run daily``) and its backfill.

For each section and day: the day's observations are split by the one validity rule
(:mod:`sections.validity`: suspect values and over-range lower bounds count, station faults and
QC fails do not) into those that enter means and those excluded (with the reason); daily
values need at least the validity threshold of valid values; the section is classified under
GB 3838-2002 against Class Ⅲ and its target class; the result is stored with its provenance
(the ids of the observations used, the count excluded per reason). Re-running a day replaces
its results and is recorded as a new job run.

The classification of a chunk of days is pure work on the loaded observations: for a large
registry (more than :data:`INLINE_SECTIONS` sections), or when the caller gives ``workers`` or
``QINGLIU_DASK_SCHEDULER`` is set, it is fanned out by groups of sections
(:func:`classify_chunk` through :func:`service.fanout.fan_out`); the reading and the writing stay
here, one transaction per chunk of days. The stored rows are the same either way. A chunk of
sections that fails loses neither the others' results nor its own earlier ones: the others are
stored, its sections keep what they had, and the run ends in a
:class:`~service.errors.BatchError` (the job run is logged as failed, naming the sections).
"""

from __future__ import annotations

import datetime as dt
import logging
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
from service.errors import BatchError
from service.fanout import fan_out, plan_chunks
from service.jobs.observations import (
    day_bounds,
    load_observations,
    period_columns,
    portable_registry,
    section_chunks,
    valid_period_values,
)
from service.records import DayRecord, Provenance, encode
from service.settings import Settings

__all__ = [
    "AUTOMATIC_INDICATORS",
    "INLINE_SECTIONS",
    "MIN_CHUNK_SECTIONS",
    "DailySummary",
    "DayChunk",
    "classify_chunk",
    "day_bounds",
    "run_daily",
]

log = logging.getLogger("qingliu.daily")

AUTOMATIC_INDICATORS = ("ph", "do", "codmn", "nh3n", "tp")
"""The deciding indicators an automatic station measures: the basis of completeness."""
INLINE_SECTIONS = 200
"""Registries of at most this many sections are classified in the calling process unless the
caller gives ``workers`` or a Dask scheduler is set: their day costs less than starting a pool."""
MIN_CHUNK_SECTIONS = 25
"""The fewest sections sent to a worker as one chunk (a chunk's day costs ~10 ms per section)."""


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
    settings: Settings | None = None,
    workers: int | None = None,
    chunk_sections: int | None = None,
) -> DailySummary:
    """Classify every section on every day from ``first`` to ``last`` (inclusive) and store it.

    Parameters
    ----------
    engine, registry
        The database and the sections.
    first, last : datetime.date
        The Beijing days (``last`` defaults to ``first``).
    min_daily_values : int
        Valid values a daily value needs [A].
    progress : callable, optional
        ``progress(days)`` after each chunk of days is stored.
    chunk_days : int
        Days read, classified and stored together.
    settings : Settings, optional
        ``settings.dask_scheduler`` (``QINGLIU_DASK_SCHEDULER``) sends the chunks of sections to
        that Dask cluster.
    workers : int, optional
        Processes of the local pool (``1``: in this process); by default the pool is used only
        for registries of more than :data:`INLINE_SECTIONS` sections.
    chunk_sections : int, optional
        Sections per chunk (default: a few chunks per worker,
        :func:`service.fanout.plan_chunks`).

    Returns
    -------
    DailySummary

    Raises
    ------
    BatchError
        When chunks of sections failed; every other chunk's rows are stored.
    """
    last = last or first
    if last < first:
        raise ValueError("the last day comes before the first")
    run_id = queries.start_job_run(
        engine=engine, job="daily", detail={"first": first.isoformat(), "last": last.isoformat()}
    )
    results = classified = insufficient = 0
    failures = _Failures()
    try:
        plan = plan_chunks(
            len(registry.sections), settings=settings, workers=workers, size=chunk_sections,
            inline_up_to=INLINE_SECTIONS, min_size=MIN_CHUNK_SECTIONS,
        )  # fmt: skip
        day = first
        while day <= last:
            chunk_last = min(last, day + dt.timedelta(days=chunk_days - 1))
            frame = load_observations(engine, registry, day, chunk_last)
            chunks = _chunks(frame, registry, plan.size, min_daily_values, run_id)
            rows = failures.run(chunks, settings=settings, workers=plan.workers)
            kept = failures.sections_kept(registry)
            _store(engine, rows, day, chunk_last, kept)
            results += len(rows)
            classified += sum(r["class_number"] is not None for r in rows)
            insufficient += sum(r["class_number"] is None for r in rows)
            if progress is not None:
                progress((chunk_last - day).days + 1)
            day = chunk_last + dt.timedelta(days=1)
        failures.check()
    except Exception as exc:
        failed: dict[str, JsonValue] = {"error": repr(exc)}
        if failures.sections:
            failed["failed_sections"] = list(failures.sections)
        queries.finish_job_run(engine=engine, run_id=run_id, status="failed", detail=failed)
        raise
    detail: dict[str, JsonValue] = {
        "first": first.isoformat(), "last": last.isoformat(), "results": results,
        "classified": classified, "insufficient": insufficient,
    }  # fmt: skip
    queries.finish_job_run(engine=engine, run_id=run_id, status="ok", detail=detail)
    return DailySummary(first, last, results, classified, insufficient, run_id)


_Row = dict[str, object]  # a daily_result row


class _Failures:
    """Runs the chunks of each chunk of days and keeps their failures: one
    :class:`~service.errors.BatchError` at the end of the run (positions over every chunk)."""

    def __init__(self) -> None:
        self.failures: dict[int, BaseException] = {}
        self.results: dict[int, object] = {}
        self.total = 0
        self.sections: list[str] = []
        self._latest: set[str] = set()

    def run(
        self,
        chunks: list[tuple[tuple[str, ...], DayChunk]],
        *,
        settings: Settings | None,
        workers: int | None,
    ) -> list[_Row]:
        """The rows of every chunk that succeeded, in chunk order."""
        try:
            found = fan_out(classify_chunk, [c for _, c in chunks], settings=settings,
                            workers=workers)  # fmt: skip
            outcomes: dict[int, list[_Row]] = dict(enumerate(found))
            failed: dict[int, BaseException] = {}
        except BatchError as error:
            outcomes = cast(dict[int, list[_Row]], error.results)
            failed = error.failures
        self._latest = set()
        for i, exc in sorted(failed.items()):
            ids = chunks[i][0]
            day = chunks[i][1].frame["day"]
            log.error("逐日评价失败 / daily classification failed (%s – %s) for sections %s: %r",
                      day.min(), day.max(), ", ".join(ids), exc)  # fmt: skip
            self._latest.update(ids)
            self.sections.extend(s for s in ids if s not in self.sections)
            self.failures[self.total + i] = exc
        self.results.update({self.total + i: len(rows) for i, rows in outcomes.items()})
        self.total += len(chunks)
        return [row for _, rows in sorted(outcomes.items()) for row in rows]

    def sections_kept(self, registry: Registry) -> list[str]:
        """The sections whose rows the last chunk of days replaces: all but the failed ones."""
        return [s.id for s in registry.sections if s.id not in self._latest]

    def check(self) -> None:
        if self.failures:
            error = BatchError(self.failures, self.results, self.total)
            raise error from self.failures[min(self.failures)]


@dataclass(frozen=True)
class DayChunk:
    """The observations of a group of sections over some days, as sent to a worker."""

    frame: pd.DataFrame
    """Rows of :func:`service.jobs.observations.load_observations` for these sections."""
    registry: Registry
    """The chunk's sections (:func:`service.jobs.observations.portable_registry`)."""
    columns: tuple[str, ...]
    """The whole frame's value columns (:func:`service.jobs.observations.period_columns`)."""
    min_daily_values: int
    run_id: int
    computed_at: dt.datetime


def classify_chunk(chunk: DayChunk) -> list[dict[str, object]]:
    """The ``daily_result`` rows of a chunk, by section (registry order) and day (the
    module-level function :func:`service.fanout.fan_out` runs)."""
    rows = _classify_frame(
        chunk.frame, chunk.registry, columns=chunk.columns,
        min_daily_values=chunk.min_daily_values, run_id=chunk.run_id, now=chunk.computed_at,
    )  # fmt: skip
    order = {s.id: i for i, s in enumerate(chunk.registry.sections)}
    rows.sort(key=lambda r: (order[r.record.section], r.record.day))
    return [r.columns() for r in rows]


def _chunks(
    frame: pd.DataFrame, registry: Registry, size: int, min_daily_values: int, run_id: int
) -> list[tuple[tuple[str, ...], DayChunk]]:
    """The frame cut into chunks of sections, each with the section ids it covers."""
    now = utc_now()
    columns = period_columns(frame)
    return [
        (ids, DayChunk(part, portable_registry(registry, ids), columns, min_daily_values,
                       run_id, now))
        for ids, part in section_chunks(frame, registry, size)
    ]  # fmt: skip


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


def _classify_frame(
    frame: pd.DataFrame,
    registry: Registry,
    *,
    columns: tuple[str, ...] | None,
    min_daily_values: int,
    run_id: int,
    now: dt.datetime,
) -> list[_DayRow]:
    if frame.empty:
        return []
    valid = frame[frame["counts"]]
    result = valid_period_values(
        valid, period="day", min_daily_values=min_daily_values, columns=columns
    )
    if result is None:
        return _provenance_only(frame, registry, run_id, now)
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
        # sorted: the database returns rows in no fixed order (PostgreSQL's heap order differs
        # between a single run and a fan-out), the provenance must not depend on it
        used.setdefault((str(section_id), day), {})[str(key)] = tuple(sorted(int(i) for i in ids))
    excluded = frame[~frame["counts"]].groupby(["section_id", "day"])["reason"]
    excluded_counts = excluded.value_counts()
    review_counts = _review_counts(frame)
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


def _provenance_only(
    frame: pd.DataFrame, registry: Registry, run_id: int, now: dt.datetime
) -> list[_DayRow]:
    rows: list[_DayRow] = []
    for group_key, group in frame.groupby(["section_id", "day"]):
        section_id, day = cast(tuple[str, dt.date], group_key)
        rows.append(_empty(str(section_id), day, group, registry, run_id, now))
    return rows


def _store(
    engine: Engine, rows: list[_Row], first: dt.date, last: dt.date, sections: list[str]
) -> None:
    table = table_of(DailyResult)
    with engine.begin() as connection:
        connection.execute(
            delete(table).where(
                table.c.day >= first, table.c.day <= last, table.c.section_id.in_(sections)
            )
        )
        if rows:
            connection.execute(insert(table), rows)
