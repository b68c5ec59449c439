"""The QA/QC job: QARTOD flags for stored automatic-station series (``qingliu run qc``).

Each station's series of each parameter in the window is checked by
:func:`sections.quality.quality_flags`; the flag and the test that set it are written to the
observations whose flag changed, and the values the validity rule sends to review
(:mod:`sections.validity`: suspect and over-range values) are queued (``review_status`` pending).
Values are never removed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select

from sections.quality import qc_table, quality_flags, target_limit
from sections.registry import Registry
from sections.validity import ReviewStatus, validity_frame
from service.db import queries
from service.db.models import Observation, table_of

__all__ = ["QualitySummary", "run_quality"]

OBSERVATION = table_of(Observation)

LOOKBACK = dt.timedelta(days=2)  # context before the window, so spikes at its start are seen


@dataclass(frozen=True)
class QualitySummary:
    """What a QC run did."""

    series: int
    values: int
    updated: int
    flags: dict[int, int]


def run_quality(
    *,
    engine: Engine,
    registry: Registry,
    start: dt.datetime,
    end: dt.datetime,
    progress: Callable[[int], None] | None = None,
) -> QualitySummary:
    """Flag every automatic series in [start, end); returns counts."""
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
    updates: list[tuple[int, str, str | None, int]] = []
    totals: dict[int, int] = {}
    series = 0
    for (_station, key), group in frame.groupby(["station", "parameter"], sort=True):
        group = group.sort_values("observed_at").drop_duplicates("observed_at", keep="last")
        series += 1
        first_day = group["observed_at"].iloc[0].date()
        section_id = group["section_id"].iloc[0]
        known = {s.id for s in registry.sections}
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
                strict=True,
            )
        )
        if progress is not None:
            progress(1)
    if updates:
        with engine.begin() as connection:
            mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
            connection.exec_driver_sql(
                f"UPDATE observation SET qc_flag = {mark}, qc_test = {mark}, "
                f"review_status = {mark} WHERE id = {mark}",
                updates,
            )
    return QualitySummary(series, sum(totals.values()), len(updates), totals)


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
