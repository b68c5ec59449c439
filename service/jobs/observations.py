"""Stored observations as the jobs read them: every value's validity verdict, and period values.

One loader for the daily job, the monthly roll-up, the annual assessment and the compensation
statements: it reads the observations of a window, asks :func:`sections.validity.validity_frame`
whether each value counts (and whether as a lower bound, suspect, or waiting for review),
enters an over-range reading at max(reading, instrument span) and drops nothing: excluded
values stay in the frame with their reason, for provenance.

Jobs that fan their work out by groups of sections (:func:`service.fanout.fan_out`) load the
frame here once, cut it with :func:`section_chunks`, send each chunk with
:func:`portable_registry` (its sections as a registry that pickles) and the whole frame's value
columns (:func:`period_columns`, :func:`merged_columns`), so that every chunk's period values have
the columns the whole frame's would: a chunk's results are then those of the single run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select

from sections.detection import substitute_censored
from sections.parameters import parameters
from sections.periods import (
    DEFAULT_MIN_DAILY_VALUES,
    PeriodValues,
    period_values,
    ph_from_activity,
    ph_to_activity,
)
from sections.quality import instrument_span
from sections.registry import Registry
from sections.sources import Source, merge_sources
from sections.validity import ValidityPolicy, over_range_value, validity_frame
from service.db import queries
from service.db.models import Observation, table_of
from service.time import BEIJING

__all__ = [
    "MergedPeriod",
    "day_bounds",
    "load_observations",
    "manual_period_values",
    "merged_columns",
    "merged_month_values",
    "period_columns",
    "portable_registry",
    "section_chunks",
    "valid_period_values",
]

OBSERVATION = table_of(Observation)


def day_bounds(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """UTC bounds of Beijing days ``first``..``last`` inclusive."""
    start = dt.datetime.combine(first, dt.time(), BEIJING)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), BEIJING)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def load_observations(
    engine: Engine,
    registry: Registry,
    first: dt.date,
    last: dt.date,
    *,
    kind: str = "automatic",
    keys: tuple[str, ...] | None = None,
    policy: ValidityPolicy | None = None,
) -> pd.DataFrame:
    """The observations of Beijing days ``first``..``last`` with their validity verdicts.

    Parameters
    ----------
    kind : {"automatic", "manual", "all"}
        Automatic-station values (no ``sample_kind``), laboratory samples, or both.
    keys : tuple of str, optional
        Parameter keys to read; default every key of the parameters table (a value with an
        unknown pollutant code waits for review and never enters a job).
    policy : ValidityPolicy
        Whether suspect and over-range values count [A].

    Returns
    -------
    DataFrame
        One row per observation: id, section_id, parameter, observed_at (Beijing), day,
        value (an over-range reading raised to the instrument span), reading (as stored),
        censored, station_flag, qc_flag, qc_test, review_status, sample_kind, and the verdict
        columns ``counts``, ``lower_bound``, ``suspect``, ``needs_review``, ``reason``
        (``missing`` for a counted flag without a value).
    """
    start, end = day_bounds(first, last)
    wanted = list(keys) if keys is not None else list(parameters())
    columns = (OBSERVATION.c.id, OBSERVATION.c.section_id, OBSERVATION.c.parameter,
               OBSERVATION.c.observed_at, OBSERVATION.c.value, OBSERVATION.c.censored,
               OBSERVATION.c.station_flag, OBSERVATION.c.qc_flag, OBSERVATION.c.qc_test,
               OBSERVATION.c.review_status, OBSERVATION.c.sample_kind)  # fmt: skip
    query = select(*columns).where(
        OBSERVATION.c.observed_at >= start,
        OBSERVATION.c.observed_at < end,
        OBSERVATION.c.section_id.in_([s.id for s in registry.sections]),
        OBSERVATION.c.parameter.in_(wanted),
    )
    if kind == "automatic":
        query = query.where(OBSERVATION.c.sample_kind.is_(None))
    elif kind == "manual":
        query = query.where(OBSERVATION.c.sample_kind.is_not(None))
    elif kind != "all":
        raise ValueError(f"kind must be automatic, manual or all, got {kind!r}")
    with engine.connect() as connection:
        frame = queries.read_frame(connection, query)
    if frame.empty:
        return frame
    frame["observed_at"] = pd.to_datetime(frame["observed_at"], utc=True).dt.tz_convert(BEIJING)
    frame["day"] = frame["observed_at"].dt.date
    frame["censored"] = frame["censored"].fillna(False).astype(bool)
    verdict = validity_frame(
        frame["station_flag"], frame["qc_flag"], frame["qc_test"], frame["review_status"],
        policy=policy,
    )  # fmt: skip
    frame = pd.concat([frame, verdict], axis=1)
    frame.loc[frame["value"].isna() & frame["counts"], ["counts", "reason"]] = (False, "missing")
    frame["reading"] = frame["value"]
    bounded = frame["lower_bound"] & frame["counts"]
    if bounded.any():
        spans = [
            instrument_span(registry.section(str(s)), str(k), d)
            for s, k, d in zip(frame.loc[bounded, "section_id"], frame.loc[bounded, "parameter"],
                               frame.loc[bounded, "day"], strict=True)
        ]  # fmt: skip
        span = pd.Series([np.nan if x is None else x for x in spans], index=frame.index[bounded])
        frame.loc[bounded, "value"] = over_range_value(frame.loc[bounded, "value"], span)
    return frame


def valid_period_values(
    frame: pd.DataFrame,
    *,
    period: str,
    min_daily_values: int = DEFAULT_MIN_DAILY_VALUES,
    columns: Sequence[str] | None = None,
) -> PeriodValues | None:
    """Period values per section from the counted rows of :func:`load_observations`.

    None when no row counts. Lower-bound and suspect marks and "<DL" values are carried into
    :func:`sections.periods.period_values`. ``columns`` (default: the parameters with a counted
    value, :func:`period_columns`) fixes the value columns: a chunk of sections passes the whole
    frame's, so that its rows equal the single run's.
    """
    valid = frame[frame["counts"]] if "counts" in frame else frame
    if valid.empty:
        return None
    index = ["section_id", "observed_at"]

    def wide(column: str, how: Literal["mean", "max"]) -> pd.DataFrame:
        return valid.pivot_table(index=index, columns="parameter", values=column, aggfunc=how)

    values = wide("value", "mean")
    if values.empty:
        return None
    if columns is not None:
        values = values.reindex(columns=pd.Index(list(columns), name=values.columns.name))
    marks = {
        name: wide(name, "max").reindex_like(values).fillna(0).astype(bool)
        for name in ("censored", "lower_bound", "suspect")
        if name in valid
    }
    keys = values.index.to_frame(index=False)
    return period_values(
        values.reset_index(drop=True),
        keys["observed_at"].dt.tz_localize(None),
        period=period,
        groups=keys["section_id"],
        censored=_flat(marks.get("censored")),
        lower_bound=_flat(marks.get("lower_bound")),
        suspect=_flat(marks.get("suspect")),
        min_daily_values=min_daily_values,
    )


def manual_period_values(frame: pd.DataFrame, *, kinds: tuple[str, ...] = ("routine",)) -> (
    tuple[pd.DataFrame, pd.DataFrame] | None
):
    """Monthly laboratory values per section: the mean of the month's counted samples.

    "<DL" samples count as half their limit; a laboratory month has no completeness
    threshold (one routine sample a month is the monitoring plan). Returns the values and a
    frame of bools saying where every sample was below its detection limit (shown "<DL"), both
    indexed (group, period_start), or None when no sample counts.
    """
    rows = frame[frame["counts"] & frame["sample_kind"].isin(kinds)]
    if rows.empty:
        return None
    month = pd.to_datetime(rows["observed_at"].dt.tz_localize(None)).dt.to_period("M").dt.start_time
    half = substitute_censored(rows["value"], rows["censored"])
    data = pd.DataFrame(
        {"group": rows["section_id"], "period_start": month, "parameter": rows["parameter"],
         "value": half, "censored": rows["censored"]}
    )  # fmt: skip
    ph = data["parameter"] == "ph"  # averaged over [H⁺], as every period value
    data["value"] = data["value"].where(~ph, ph_to_activity(data.loc[ph, ["value"]].rename(
        columns={"value": "ph"}))["ph"])  # fmt: skip
    grouped = data.groupby(["group", "period_start", "parameter"])
    values = ph_from_activity(grouped["value"].mean().unstack("parameter"))
    censored = grouped["censored"].all().unstack("parameter").reindex_like(values)
    return values, censored.fillna(False).astype(bool)


def period_columns(frame: pd.DataFrame) -> tuple[str, ...]:
    """The value columns :func:`valid_period_values` gives for a frame of
    :func:`load_observations`: the parameters with a counted value, sorted."""
    if frame.empty:
        return ()
    valid = frame[frame["counts"] & frame["value"].notna()] if "counts" in frame else frame
    return tuple(sorted(str(key) for key in valid["parameter"].unique()))


def merged_columns(
    frame: pd.DataFrame, *, kinds: tuple[str, ...] = ("routine",)
) -> tuple[str, ...]:
    """The value columns :func:`merged_month_values` gives for a frame of
    :func:`load_observations`: automatic parameters with a counted value and laboratory
    parameters with a counted sample, sorted."""
    if frame.empty:
        return ()
    automatic = period_columns(frame[frame["sample_kind"].isna()])
    lab = frame.loc[frame["counts"] & frame["sample_kind"].isin(kinds), "parameter"]
    return tuple(sorted({*automatic, *(str(key) for key in lab.unique())}))


def portable_registry(registry: Registry, section_ids: Iterable[str]) -> Registry:
    """The registry's units and the sections ``section_ids`` (in registry order), as a registry
    that pickles for a worker process: the sections' read-only target and standard tables are
    copied into plain dicts (a ``mappingproxy`` does not pickle); nothing else changes."""
    wanted = set(section_ids)
    sections = tuple(
        replace(s, targets=dict(s.targets), standards=dict(s.standards))
        for s in registry.sections
        if s.id in wanted
    )
    return Registry(units=registry.units, sections=sections, source=registry.source)


def section_chunks(
    frame: pd.DataFrame, registry: Registry, size: int
) -> list[tuple[tuple[str, ...], pd.DataFrame]]:
    """The frame's rows cut by consecutive groups of ``size`` registry sections.

    Each chunk is its section ids (registry order) and their rows in the frame's order; a group
    without rows is left out. Rows of sections not in the registry are in no chunk.
    """
    positions = frame.groupby("section_id", sort=False).indices if not frame.empty else {}
    ids = [s.id for s in registry.sections]
    chunks: list[tuple[tuple[str, ...], pd.DataFrame]] = []
    for start in range(0, len(ids), size):
        group = tuple(ids[start : start + size])
        parts = [positions[s] for s in group if s in positions]
        if parts:
            chunks.append((group, frame.take(np.sort(np.concatenate(parts)))))
    return chunks


def _flat(marks: pd.DataFrame | None) -> pd.DataFrame | None:
    return None if marks is None else marks.reset_index(drop=True)


@dataclass(frozen=True)
class MergedPeriod:
    """A month's values per section from automatic and laboratory data, with their marks.

    Every frame is indexed by section id, one column per parameter.
    """

    values: pd.DataFrame
    sources: pd.DataFrame
    lower_bound: pd.DataFrame
    suspect: pd.DataFrame
    censored: pd.DataFrame
    insufficient: dict[str, list[str]]


def merged_month_values(
    frame: pd.DataFrame,
    *,
    min_daily_values: int = DEFAULT_MIN_DAILY_VALUES,
    columns: Sequence[str] | None = None,
) -> MergedPeriod | None:
    """Monthly values merged from automatic and laboratory rows of :func:`load_observations`.

    The automatic monthly value (valid days on ≥ 2/3 of the month) is preferred for the
    automatic parameters, the laboratory value for the rest
    (:func:`sections.sources.merge_sources`); a parameter whose automatic month was
    insufficient and that no laboratory value fills is listed as insufficient. ``columns``
    (default :func:`merged_columns` of the frame) fixes the value columns, as in
    :func:`valid_period_values`.
    """
    if frame.empty:
        return None
    automatic = frame[frame["sample_kind"].isna()]
    auto = valid_period_values(automatic, period="month", min_daily_values=min_daily_values)
    manual = manual_period_values(frame)
    empty = pd.DataFrame(index=pd.Index([], name="section_id"), dtype="float64")
    auto_values = _by_section(auto.values) if auto is not None else empty
    lab_values = _by_section(manual[0]) if manual is not None else empty
    if auto_values.empty and lab_values.empty:
        return None
    if columns is not None:
        auto_values = auto_values.reindex(
            columns=pd.Index(list(columns), name=auto_values.columns.name)
        )
        lab_values = lab_values.reindex(
            columns=pd.Index(list(columns), name=lab_values.columns.name)
        )
    values, sources = merge_sources(auto_values, lab_values)
    from_auto = sources == Source.AUTOMATIC.value
    from_lab = sources == Source.MANUAL.value

    def marks(source: pd.DataFrame | None, where: pd.DataFrame, fill: int) -> pd.DataFrame:
        if source is None:
            return pd.DataFrame(fill, index=values.index, columns=values.columns)
        # as integers: a bool frame cannot hold the fill (pandas deprecates the silent cast)
        aligned = _by_section(source).astype("int64").reindex(
            index=values.index, columns=values.columns, fill_value=fill
        )
        return aligned.where(where, fill)

    lower = marks(auto.lower_bound if auto is not None else None, from_auto, 0).astype(bool)
    suspect = marks(auto.suspect if auto is not None else None, from_auto, 0).astype("int64")
    censored = marks(manual[1] if manual is not None else None, from_lab, 0).astype(bool)
    insufficient: dict[str, list[str]] = {}
    if auto is not None:
        lacking = auto.insufficient()
        for group, keys in zip(lacking.index.get_level_values(0), lacking, strict=True):
            section_id = str(group)
            insufficient[section_id] = [k for k in keys if sources.at[section_id, k] == ""]
    return MergedPeriod(values, sources, lower, suspect, censored, insufficient)


def _by_section(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop the period level of a (group, period_start) index: one period per frame here."""
    result = frame.copy()
    result.index = pd.Index([str(g) for g in frame.index.get_level_values(0)], name="section_id")
    return result
