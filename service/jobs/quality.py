"""The QA/QC job: QARTOD flags for stored automatic-station series (``qingliu run qc``).

Each station's series of each parameter in the window is checked by
:func:`sections.quality.quality_flags`; the flag and the test that set it are written to the
observations whose flag changed. Values are never removed: a flagged value stays, and only
valid values (flag 1) enter daily means.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select

from sections.errors import DataTableError
from sections.quality import qc_table, quality_flags
from sections.registry import Registry
from sections.standards import class_limit, indicator_limits
from service.db import queries
from service.db.models import Observation

__all__ = ["QualitySummary", "run_quality"]

LOOKBACK = dt.timedelta(days=2)  # context before the window, so spikes at its start are seen


@dataclass(frozen=True)
class QualitySummary:
    """What a QC run did."""

    series: int
    values: int
    updated: int
    flags: dict[int, int]


def _target_limit(
    registry: Registry, section_id: str | None, key: str, when: dt.date
) -> float | None:
    """The target-class upper limit (for the instrument span), or None."""
    if section_id is None:
        return None
    try:
        section = registry.section(section_id)
        if indicator_limits(key, section.water_body).direction != "le":
            return None
        target = section.target_class(when)
        if key in section.standards:
            return section.standards[key]
        if int(target) > 5:
            return None
        return class_limit(key, target, section.water_body)
    except (KeyError, LookupError, DataTableError):
        return None


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
    columns = (Observation.id, Observation.station, Observation.section_id, Observation.parameter,
               Observation.observed_at, Observation.value, Observation.station_flag,
               Observation.qc_flag, Observation.qc_test)  # fmt: skip
    query = select(*columns).where(
        Observation.observed_at >= start - LOOKBACK,
        Observation.observed_at < end,
        Observation.sample_kind.is_(None),  # type: ignore[union-attr]
        Observation.parameter.in_(checked),  # type: ignore[attr-defined]
    )
    with engine.connect() as connection:
        frame = queries.read_frame(connection, query)
    if frame.empty:
        return QualitySummary(0, 0, 0, {})
    frame["observed_at"] = pd.to_datetime(frame["observed_at"], utc=True)
    window_start = pd.Timestamp(start).tz_convert("UTC")
    updates: list[tuple[int, str, int]] = []
    totals: dict[int, int] = {}
    series = 0
    for (_station, key), group in frame.groupby(["station", "parameter"], sort=True):
        group = group.sort_values("observed_at").drop_duplicates("observed_at", keep="last")
        series += 1
        first_day = group["observed_at"].iloc[0].date()
        limit = _target_limit(registry, group["section_id"].iloc[0], str(key), first_day)
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
        changed = inside & ((old_flags != flags.astype(object)) | (previous_tests != tests))
        updates.extend(
            zip(
                flags[changed].astype(int).tolist(),
                [str(t)[:32] for t in tests[changed]],
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
                f"UPDATE observation SET qc_flag = {mark}, qc_test = {mark} WHERE id = {mark}",
                updates,
            )
    return QualitySummary(series, sum(totals.values()), len(updates), totals)
