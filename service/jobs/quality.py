"""The QA/QC job: QARTOD flags for stored automatic-station series (``qingliu run qc``).

Each station's series of each parameter in the window is checked by
:func:`sections.quality.quality_flags`; the flag and the test that set it are written to the
observations whose flag changed, and the values the validity rule sends to review
(:mod:`sections.validity`: suspect and over-range values) are queued (``review_status`` pending).
Values are never removed.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select

from sections.quality import qc_table, quality_flags, target_limit
from sections.registry import Registry
from sections.validity import ReviewStatus, validity_frame
from service.db import queries
from service.db.bulk import bulk_update
from service.db.models import Observation, table_of
from service.errors import BatchError
from service.fanout import chunked, fan_out, plan_chunks
from service.jobs.observations import portable_registry
from service.settings import Settings

__all__ = [
    "INLINE_STATIONS",
    "MIN_CHUNK_STATIONS",
    "QualityChunk",
    "QualityFlags",
    "QualitySummary",
    "flag_chunk",
    "run_quality",
]

log = logging.getLogger("qingliu.quality")

OBSERVATION = table_of(Observation)

LOOKBACK = dt.timedelta(days=2)  # context before the window, so spikes at its start are seen
INLINE_STATIONS = 200
"""Windows with at most this many stations are checked in the calling process unless the caller
gives ``workers`` or a Dask scheduler is set."""
MIN_CHUNK_STATIONS = 25
"""The fewest stations sent to a worker as one chunk."""

_Update = tuple[int, str, str | None, int, dt.datetime]
"""qc_flag, qc_test, review_status, then the observation's id and time (its partition)."""


@dataclass(frozen=True)
class QualitySummary:
    """What a QC run did."""

    series: int
    values: int
    updated: int
    flags: dict[int, int]


@dataclass(frozen=True)
class QualityChunk:
    """The observations of a group of stations, as sent to a worker."""

    frame: pd.DataFrame
    """The stations' rows of the window and its look-back, ``observed_at`` in UTC."""
    registry: Registry
    """The sections the stations report for
    (:func:`service.jobs.observations.portable_registry`)."""
    window_start: pd.Timestamp
    """Flags before it are context only: neither counted nor written."""


@dataclass(frozen=True)
class QualityFlags:
    """What :func:`flag_chunk` found: series checked, flag counts, changed observations."""

    series: int
    flags: dict[int, int]
    updates: list[_Update]


def run_quality(
    *,
    engine: Engine,
    registry: Registry,
    start: dt.datetime,
    end: dt.datetime,
    progress: Callable[[int], None] | None = None,
    settings: Settings | None = None,
    workers: int | None = None,
    chunk_stations: int | None = None,
) -> QualitySummary:
    """Flag every automatic series in [start, end); returns counts.

    The checks of a group of stations are pure work on the read observations: for many stations
    (more than :data:`INLINE_STATIONS`), or when the caller gives ``workers`` or
    ``settings.dask_scheduler`` (``QINGLIU_DASK_SCHEDULER``) is set, they are fanned out by
    groups of stations (:func:`flag_chunk` through :func:`service.fanout.fan_out`); the reading
    and the one writing transaction stay here. ``progress(series)`` follows the chunks. When a
    chunk fails, the others' flags are still written, then a
    :class:`~service.errors.BatchError` is raised.
    """
    checked = set(qc_table())
    columns = [OBSERVATION.c[name] for name in (
        "id", "station", "section_id", "parameter", "observed_at", "value", "station_flag",
        "qc_flag", "qc_test", "review_status",
    )]  # fmt: skip
    query = select(*columns).where(
        OBSERVATION.c.observed_at >= start - LOOKBACK,
        OBSERVATION.c.observed_at < end,
        OBSERVATION.c.sample_kind.is_(None),
        OBSERVATION.c.parameter.in_(checked),
    )
    with engine.connect() as connection:
        frame = queries.read_frame(connection, query)
    if frame.empty:
        return QualitySummary(0, 0, 0, {})
    frame["observed_at"] = pd.to_datetime(frame["observed_at"], utc=True)
    window_start = pd.Timestamp(start).tz_convert("UTC")
    stations = sorted(frame["station"].unique())
    plan = plan_chunks(
        len(stations), settings=settings, workers=workers, size=chunk_stations,
        inline_up_to=INLINE_STATIONS, min_size=MIN_CHUNK_STATIONS,
    )  # fmt: skip
    chunks = _chunks(frame, registry, stations, plan.size, window_start)
    sizes = [c.frame.groupby(["station", "parameter"]).ngroups for c in chunks]

    def report(done: int, _total: int) -> None:
        if progress is not None:
            progress(sizes[done - 1])

    try:
        outcomes = dict(enumerate(
            fan_out(flag_chunk, chunks, settings=settings, workers=plan.workers, progress=report)
        ))  # fmt: skip
        failures: dict[int, BaseException] = {}
    except BatchError as error:
        outcomes = {i: r for i, r in error.results.items() if isinstance(r, QualityFlags)}
        failures = error.failures
        for i, exc in sorted(failures.items()):
            names = sorted(chunks[i].frame["station"].unique())
            log.error("质控失败 / QA/QC failed for stations %s: %r", ", ".join(names), exc)
    updates: list[_Update] = []
    totals: dict[int, int] = {}
    for _, result in sorted(outcomes.items()):
        updates.extend(result.updates)
        for flag, count in result.flags.items():
            totals[flag] = totals.get(flag, 0) + count
    if updates:
        with engine.begin() as connection:  # by id and time: one partition on PostgreSQL
            bulk_update(connection, "observation", ("qc_flag", "qc_test", "review_status"),
                        updates, keys=("id", "observed_at"))  # fmt: skip
    if failures:
        batch = BatchError(failures, dict(outcomes), len(chunks))
        raise batch from failures[min(failures)]
    series = sum(r.series for r in outcomes.values())
    return QualitySummary(series, sum(totals.values()), len(updates), totals)


def _chunks(
    frame: pd.DataFrame,
    registry: Registry,
    stations: list[str],
    size: int,
    window_start: pd.Timestamp,
) -> list[QualityChunk]:
    """The frame cut by consecutive groups of stations (sorted), rows in the frame's order."""
    positions = frame.groupby("station", sort=False).indices
    known = {s.id for s in registry.sections}
    chunks: list[QualityChunk] = []
    for group in chunked(stations, size):
        part = frame.take(np.sort(np.concatenate([positions[s] for s in group])))
        ids = known.intersection(str(s) for s in part["section_id"].unique())
        chunks.append(QualityChunk(part, portable_registry(registry, ids), window_start))
    return chunks


def flag_chunk(chunk: QualityChunk) -> QualityFlags:
    """Check every series of a chunk of stations (the module-level function
    :func:`service.fanout.fan_out` runs)."""
    frame, registry, window_start = chunk.frame, chunk.registry, chunk.window_start
    known = {s.id for s in registry.sections}
    updates: list[_Update] = []
    totals: dict[int, int] = {}
    series = 0
    for (_station, key), group in frame.groupby(["station", "parameter"], sort=True):
        group = group.sort_values("observed_at").drop_duplicates("observed_at", keep="last")
        series += 1
        first_day = group["observed_at"].iloc[0].date()
        section_id = group["section_id"].iloc[0]
        limit = (
            target_limit(registry.section(str(section_id)), str(key), first_day)
            if section_id in known
            else None
        )
        index = pd.DatetimeIndex(group["observed_at"])
        result = quality_flags(
            pd.Series(group["value"].to_numpy(dtype=np.float64), index=index),
            None,
            pd.Series(group["station_flag"].to_numpy(dtype=object), index=index),
            str(key),
            target_limit=limit,
        )
        flags = result.flags.to_numpy()
        tests = result.tests.to_numpy(dtype=object)
        inside = (group["observed_at"] >= window_start).to_numpy()
        old_flags = group["qc_flag"].to_numpy(dtype=object)
        old_tests = group["qc_test"].to_numpy(dtype=object)
        ids = group["id"].to_numpy()
        times = group["observed_at"].dt.to_pydatetime()
        values, counts = np.unique(flags[inside], return_counts=True)
        for flag, count in zip(values.tolist(), counts.tolist(), strict=True):
            totals[int(flag)] = totals.get(int(flag), 0) + int(count)
        previous_tests = np.where(pd.isna(old_tests), "", old_tests)
        old_review = group["review_status"].to_numpy(dtype=object)
        review = _review_status(group["station_flag"].to_numpy(dtype=object), flags, tests,
                                old_review)  # fmt: skip
        changed = inside & (
            (old_flags != flags.astype(object))
            | (previous_tests != tests)
            | (review != old_review)
        )
        updates.extend(
            zip(
                flags[changed].astype(int).tolist(),
                [str(t)[:32] for t in tests[changed]],
                review[changed].tolist(),
                ids[changed].astype(int).tolist(),
                list(times[changed]),
                strict=True,
            )
        )
    return QualityFlags(series, totals, updates)


def _review_status(
    station_flags: np.ndarray, flags: np.ndarray, tests: np.ndarray, old: np.ndarray
) -> np.ndarray:
    """Queue for review what the validity rule says needs it; reviewed values keep their status.

    A value that waited for review but no longer needs it after a re-run (its flag changed)
    leaves the queue.
    """
    verdict = validity_frame(list(station_flags), list(flags), list(tests), list(old))
    pending = ReviewStatus.PENDING.value
    result = np.array([None if pd.isna(v) else v for v in old], dtype=object)
    unreviewed = np.array([v is None or v == pending for v in result], dtype=bool)
    needs = verdict["needs_review"].to_numpy(dtype=bool)
    result[unreviewed & needs] = pending
    result[unreviewed & ~needs] = None
    return result
