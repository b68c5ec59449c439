"""The monthly roll-up (``qingliu run monthly --month YYYY-MM``).

Monthly values per section from the month's valid observations, automatic and laboratory
merged as the national method does (:func:`service.jobs.observations.merged_month_values`:
automatic daily values first, then the month when enough days have one; laboratory samples for
the items stations do not measure), classes against Class Ⅲ and the target; 衡水湖 as a whole from
the mean of its points; the city's share of assessable river sections at Class Ⅲ or better
against the 2025 target (≥ 69.2 %), the 劣Ⅴ count, the lake's class with TN apart and its
trophic state, and the change against the same month last year.

The monthly values and classes of a group of sections are pure work on the month's
observations: for a large registry (more than :data:`INLINE_SECTIONS` sections), or when the
caller gives ``workers`` or ``QINGLIU_DASK_SCHEDULER`` is set, they are fanned out by groups of
sections (:func:`month_chunk` through :func:`service.fanout.fan_out`); the lake, the city summary
(which needs every section) and the one writing transaction stay here. A failing chunk fails the
roll-up (a summary without some sections would be wrong): nothing is stored, the previous
roll-up stays, the run is logged as failed and a :class:`~service.errors.BatchError` is raised.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Engine, delete, insert, select

from sections.basin import basin_status, trend_wording
from sections.dates import month_last_day
from sections.evaluation import classify_frame
from sections.periods import DEFAULT_MIN_DAILY_VALUES, mean_values
from sections.registry import Registry, Section
from service.classification import classify_rows, merged_marks, stored_values
from service.db import queries
from service.db.models import MonthlyResult, MonthlySummary, SectionStatus, table_of, utc_now
from service.db.results import rolled_up_months
from service.errors import BatchError
from service.fanout import fan_out, plan_chunks
from service.jobs.observations import (
    MergedPeriod,
    load_observations,
    merged_columns,
    merged_month_values,
    portable_registry,
    section_chunks,
)
from service.records import (
    LAKE_PREFIX,
    ClassChange,
    LakeRecord,
    LakeSummary,
    MonthRecord,
    MonthSummary,
    Trend,
    encode,
)
from service.settings import Settings
from service.time import BEIJING

__all__ = [
    "GOOD_SHARE_TARGET",
    "INLINE_SECTIONS",
    "LAKE_PREFIX",
    "MIN_CHUNK_SECTIONS",
    "MonthChunk",
    "MonthlyRun",
    "assessed_rivers",
    "month_chunk",
    "provisional_as_of",
    "run_monthly",
    "stored_summary",
    "year_summaries",
]

log = logging.getLogger("qingliu.monthly")

GOOD_SHARE_TARGET = 0.692
"""2025 target of the city's 14th Five-Year plan: ≥ 69.2 % of sections at Class Ⅲ or better [V]."""
STATUS_WORDS = {"no_flow": "断流", "dry": "无水", "frozen": "结冰", "excluded": "剔除"}
INLINE_SECTIONS = 200
"""Registries of at most this many sections are rolled up in the calling process unless the
caller gives ``workers`` or a Dask scheduler is set."""
MIN_CHUNK_SECTIONS = 25
"""The fewest sections sent to a worker as one chunk."""


@dataclass(frozen=True)
class MonthlyRun:
    """What a monthly roll-up stored."""

    month: dt.date
    sections: int
    record: MonthSummary


def assessed_rivers(registry: Registry) -> list[Section]:
    """The sections that count in the city's share: the registry's ``counts_in_share``."""
    return [s for s in registry.sections if s.counts_in_share]


def run_monthly(
    *,
    engine: Engine,
    registry: Registry,
    month: dt.date,
    min_daily_values: int = DEFAULT_MIN_DAILY_VALUES,
    settings: Settings | None = None,
    workers: int | None = None,
    chunk_sections: int | None = None,
) -> MonthlyRun:
    """Compute and store the month's results and the city summary.

    ``settings`` (its ``dask_scheduler``), ``workers`` and ``chunk_sections`` say where the
    per-section work runs and in which chunks, as for :func:`service.jobs.daily.run_daily`;
    the stored rows are the same either way. Raises :class:`~service.errors.BatchError`, having
    stored nothing, when a chunk of sections fails.
    """
    first = month.replace(day=1)
    last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    run_id = queries.start_job_run(engine=engine, job="monthly", detail={"month": f"{first:%Y-%m}"})
    try:
        plan = plan_chunks(
            len(registry.sections), settings=settings, workers=workers, size=chunk_sections,
            inline_up_to=INLINE_SECTIONS, min_size=MIN_CHUNK_SECTIONS,
        )  # fmt: skip
        frame = load_observations(engine, registry, first, last, kind="all")
        columns = merged_columns(frame)
        cut = section_chunks(frame, registry, plan.size)
        chunks = [
            MonthChunk(part, portable_registry(registry, ids), first, columns, min_daily_values)
            for ids, part in cut
        ]
        try:
            done = fan_out(month_chunk, chunks, settings=settings, workers=plan.workers)
        except BatchError as error:
            for i, exc in sorted(error.failures.items()):
                log.error("月度汇总失败 / monthly roll-up failed for sections %s: %r",
                          ", ".join(cut[i][0]), exc)  # fmt: skip
            raise
        stored = _roll_up(engine, registry, first, done)
    except Exception as exc:
        queries.finish_job_run(
            engine=engine, run_id=run_id, status="failed", detail={"error": repr(exc)}
        )
        raise
    queries.finish_job_run(
        engine=engine, run_id=run_id, status="ok", detail={"month": f"{first:%Y-%m}"}
    )
    return stored


@dataclass(frozen=True)
class MonthChunk:
    """The month's observations of a group of sections, as sent to a worker."""

    frame: pd.DataFrame
    """Rows of :func:`service.jobs.observations.load_observations` (``kind="all"``)."""
    registry: Registry
    """The chunk's sections (:func:`service.jobs.observations.portable_registry`)."""
    first: dt.date
    columns: tuple[str, ...]
    """The whole month's value columns (:func:`service.jobs.observations.merged_columns`)."""
    min_daily_values: int


def month_chunk(chunk: MonthChunk) -> tuple[dict[str, MonthRecord], dict[str, pd.Series]]:
    """The classified month records and the monthly values of a chunk's sections with values
    (the module-level function :func:`service.fanout.fan_out` runs)."""
    merged = merged_month_values(
        chunk.frame, min_daily_values=chunk.min_daily_values, columns=chunk.columns
    )
    if merged is None:
        return {}, {}
    return _month_records(chunk.registry, merged, chunk.first)


def _roll_up(
    engine: Engine,
    registry: Registry,
    first: dt.date,
    chunks: list[tuple[dict[str, MonthRecord], dict[str, pd.Series]]],
) -> MonthlyRun:
    """Targets and statuses on every section's record, the lake, the summary; store them."""
    classified: dict[str, MonthRecord] = {}
    values_by_section: dict[str, pd.Series] = {}
    for found_records, found_values in chunks:
        classified.update(found_records)
        values_by_section.update(found_values)
    statuses = _statuses(engine, first)
    records: dict[str, MonthRecord] = {}
    for section in registry.sections:
        found = classified.get(section.id)
        record = found or MonthRecord(section=section.id, month=f"{first:%Y-%m}")
        target = int(section.target_class(first))
        status = statuses.get(section.id)
        number = record.class_number
        records[section.id] = record.model_copy(
            update={
                "target_class_number": target,
                "status": status,
                "status_text": None if status is None else STATUS_WORDS.get(status, status),
                "meets_target": None if number is None else number <= target,
            }
        )
    lake = _lake_record(registry, values_by_section, first)
    summary = _summary(engine, registry, records, lake, first)
    now = utc_now()
    stored: list[MonthRecord | LakeRecord] = [*records.values(), *([lake] if lake else [])]
    rows_out = [
        {"section_id": r.section, "month": first, "class_number": r.class_number,
         "record": encode(r), "computed_at": now}
        for r in stored
    ]  # fmt: skip
    results = table_of(MonthlyResult)
    summaries = table_of(MonthlySummary)
    with engine.begin() as connection:
        connection.execute(delete(results).where(results.c.month == first))
        connection.execute(insert(results), rows_out)
        connection.execute(delete(summaries).where(summaries.c.month == first))
        connection.execute(
            insert(summaries).values(month=first, summary=encode(summary), computed_at=now)
        )
    return MonthlyRun(first, len(records), summary)


def _month_records(
    registry: Registry, merged: MergedPeriod, first: dt.date
) -> tuple[dict[str, MonthRecord], dict[str, pd.Series]]:
    """Classify each section's merged monthly values; records carry sources and marks."""
    values = merged.values.reset_index(drop=True)
    sections = [registry.section(s) for s in merged.values.index]
    bodies = np.array([s.water_body for s in sections], dtype=object)
    targets = np.array([min(int(s.target_class(first)), 5) for s in sections])
    classified = classify_frame(values, water_body=bodies, target=targets)
    rows = classify_rows(values, bodies, classified)
    records: dict[str, MonthRecord] = {}
    by_section: dict[str, pd.Series] = {}
    for i, (section, classification) in enumerate(zip(sections, rows, strict=True)):
        marks = merged_marks(merged, section.id)
        records[section.id] = MonthRecord.model_validate({
            **classification.model_dump(),
            "section": section.id, "month": f"{first:%Y-%m}",
            "insufficient": merged.insufficient.get(section.id, []),
            "values": stored_values(values.iloc[i]), "sources": marks.sources,
            "lower_bound": marks.lower_bound, "suspect": marks.suspect,
            "censored": marks.censored,
        })  # fmt: skip
        by_section[section.id] = values.iloc[i]
    return records, by_section


def _statuses(engine: Engine, month: dt.date) -> dict[str, str]:
    table = table_of(SectionStatus)
    with engine.connect() as connection:
        rows = connection.execute(
            select(table.c.section_id, table.c.status).where(table.c.month == month)
        ).all()
    return {str(r.section_id): str(r.status) for r in rows}


def _lake_record(
    registry: Registry, values_by_section: dict[str, pd.Series], month: dt.date
) -> LakeRecord | None:
    """衡水湖 as a whole: the mean of its points' monthly values, classified as one lake."""
    points = [s for s in registry.sections if s.water_body == "lake" and not s.is_reference]
    if not points:
        return None
    name = points[0].river
    present = [values_by_section[p.id] for p in points if p.id in values_by_section]
    head = {
        "section": LAKE_PREFIX + name,
        "name": name,
        "points": [p.id for p in points],
        "month": f"{month:%Y-%m}",
    }
    if not present:
        return LakeRecord.model_validate(head)
    mean = mean_values(pd.DataFrame(present).reset_index(drop=True)).to_frame().T
    classified = classify_frame(mean, water_body="lake", target=3)
    (classification,) = classify_rows(mean, np.array(["lake"], dtype=object), classified)
    return LakeRecord.model_validate({
        **classification.model_dump(), **head, "values": stored_values(mean.iloc[0]),
        "target_class_number": int(points[0].target_class(month)),
    })  # fmt: skip


def _summary(
    engine: Engine,
    registry: Registry,
    records: dict[str, MonthRecord],
    lake: LakeRecord | None,
    month: dt.date,
) -> MonthSummary:
    rivers = assessed_rivers(registry)
    assessable = {
        s.id: number
        for s in rivers
        if (number := records[s.id].class_number) is not None and records[s.id].status is None
    }
    good = [sid for sid, c in assessable.items() if c <= 3]
    worse = [sid for sid, c in assessable.items() if c == 6]
    share = len(good) / len(assessable) if assessable else None
    classes = pd.Series(list(assessable.values()), dtype="float64")
    status = basin_status(classes).label if len(assessable) >= 5 else None
    lake_line = None
    if lake is not None:
        klass = lake.water_class
        target = lake.target_class_number
        lake_line = LakeSummary(
            name=lake.name,
            class_number=lake.class_number,
            klass=None if klass is None else klass.label,
            meets_target=None if klass is None or target is None else int(klass) <= target,
            tn_class_number=lake.tn_class_number,
            tli=lake.tli,
            trophic_state=lake.trophic_state,
        )
    trend = None
    previous = stored_summary(engine=engine, month=month.replace(year=month.year - 1))
    if previous is not None:
        before, after = previous.status, status
        changes = []
        for sid, number in assessable.items():
            old = _previous_class(engine, sid, month.replace(year=month.year - 1))
            if old is not None and old != number:
                changes.append(ClassChange(section=sid, before=old, after=number))
        trend = Trend(
            previous_month=previous.month,
            previous_good_share=previous.good_share,
            previous_status=before,
            wording=trend_wording(before, after) if before and after else None,
            section_changes=tuple(changes),
        )
    return MonthSummary(
        month=f"{month:%Y-%m}",
        sections=len(rivers),
        assessable=len(assessable),
        not_assessable=tuple(sorted(s.id for s in rivers if s.id not in assessable)),
        good=len(good),
        good_share=None if share is None else round(share, 4),
        target_share=GOOD_SHARE_TARGET,
        meets_share_target=None if share is None else share >= GOOD_SHARE_TARGET,
        worse_than_v=len(worse),
        worse_than_v_sections=tuple(sorted(worse)),
        status=status,
        lake=lake_line,
        trend=trend,
    )


def _previous_class(engine: Engine, section_id: str, month: dt.date) -> int | None:
    table = table_of(MonthlyResult)
    with engine.connect() as connection:
        row = connection.execute(
            select(table.c.class_number).where(
                table.c.section_id == section_id, table.c.month == month
            )
        ).first()
    return None if row is None or row[0] is None else int(row[0])


def stored_summary(*, engine: Engine, month: dt.date) -> MonthSummary | None:
    """The stored summary of a month, or None when it has not been rolled up."""
    table = table_of(MonthlySummary)
    with engine.connect() as connection:
        row = connection.execute(
            select(table.c.summary).where(table.c.month == month.replace(day=1))
        ).first()
    return None if row is None else MonthSummary.model_validate(row[0])


def year_summaries(*, engine: Engine, month: dt.date) -> list[MonthSummary]:
    """The stored summaries of ``month``'s year up to that month, oldest first."""
    first = month.replace(day=1)
    months = sorted(m for m in rolled_up_months(engine=engine)
                    if m.year == first.year and m <= first)  # fmt: skip
    found = (stored_summary(engine=engine, month=m) for m in months)
    return [s for s in found if s is not None]


def provisional_as_of(
    month: dt.date, computed: dt.datetime | None, today: dt.date
) -> dt.date | None:
    """The Beijing day a month's roll-up was computed on when the month was not over then (a
    month-to-date, provisional summary: 截至 M月D日，暂定); None for a finished month's.

    A roll-up whose computation time is unknown is provisional as of ``today`` while its month
    lasts, final after.
    """
    first = month.replace(day=1)
    last = month_last_day(first)
    day = today if computed is None else computed.astimezone(BEIJING).date()
    return day if day <= last else None
