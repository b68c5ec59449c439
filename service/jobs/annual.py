"""The annual assessment (``qingliu run annual --year YYYY``).

Each section's annual value of a parameter is the mean of its stored monthly values (automatic
and laboratory merged by the monthly roll-up; months not assessed — 断流, 结冰 … — left out),
when at least 2/3 of the months have one [A]; the section is then classified under GB 3838-2002
against Class Ⅲ and its target class. 衡水湖 is assessed as a whole from its monthly lake
values. Results are stored in ``annual_result`` and served by ``/api/annual``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pandas as pd
from pydantic import JsonValue
from sqlalchemy import Engine, delete, insert, select

from sections.classes import WaterClass
from sections.evaluation import classify_frame
from sections.periods import DEFAULT_MIN_DAY_FRACTION, PeriodValues, annual_values
from sections.registry import Registry
from service.classification import classify_rows, stored_values
from service.db import queries
from service.db.models import AnnualResult, MonthlyResult, table_of, utc_now
from service.records import LAKE_PREFIX, MonthRecord, YearRecord, decode_month, encode

__all__ = ["AnnualRun", "annual_results", "run_annual"]


@dataclass(frozen=True)
class AnnualRun:
    """What an annual assessment stored."""

    year: int
    sections: int
    classified: int
    months_missing: tuple[str, ...]


def run_annual(
    *,
    engine: Engine,
    registry: Registry,
    year: int,
    min_month_fraction: Fraction | float | str = DEFAULT_MIN_DAY_FRACTION,
) -> AnnualRun:
    """Assess every section (and the lake) over ``year`` from the stored monthly results."""
    run_id = queries.start_job_run(engine=engine, job="annual", detail={"year": year})
    table = table_of(MonthlyResult)
    first, last = dt.date(year, 1, 1), dt.date(year, 12, 1)
    with engine.connect() as connection:
        rows = connection.execute(
            select(table.c.section_id, table.c.month, table.c.record).where(
                table.c.month >= first, table.c.month <= last
            )
        ).all()
    months_seen = {str(r.month)[:7] for r in rows}
    missing = tuple(f"{year}-{m:02d}" for m in range(1, 13) if f"{year}-{m:02d}" not in months_seen)
    values: dict[tuple[str, pd.Timestamp], dict[str, float]] = {}
    bounds: dict[tuple[str, pd.Timestamp], dict[str, bool]] = {}
    for row in rows:
        record = decode_month(row.record)
        if isinstance(record, MonthRecord) and record.status:  # not assessed that month
            continue
        key = (str(row.section_id), pd.Timestamp(str(row.month)[:10]))
        values[key] = {k: float(v) for k, v in record.values.items() if v is not None}
        marked = record.lower_bound if isinstance(record, MonthRecord) else ()
        bounds[key] = dict.fromkeys(marked, True)
    records: list[YearRecord] = []
    if values:
        index = pd.MultiIndex.from_tuples(list(values), names=["group", "period_start"])
        monthly = pd.DataFrame(list(values.values()), index=index)
        bound = (
            pd.DataFrame(list(bounds.values()), index=index)
            .reindex(columns=monthly.columns, fill_value=False)
            .fillna(False)
            .astype(bool)
        )
        result = annual_values(monthly, min_month_fraction=min_month_fraction, lower_bound=bound)
        records = _records(registry, result, year)
    now = utc_now()
    out = [
        {"section_id": r.section, "year": year, "class_number": r.class_number,
         "record": encode(r), "computed_at": now}
        for r in records
    ]  # fmt: skip
    annual = table_of(AnnualResult)
    with engine.begin() as connection:
        connection.execute(delete(annual).where(annual.c.year == year))
        if out:
            connection.execute(insert(annual), out)
    classified = sum(r.class_number is not None for r in records)
    detail: dict[str, JsonValue] = {
        "year": year, "sections": len(records), "classified": classified,
        "months_missing": list(missing),
    }  # fmt: skip
    queries.finish_job_run(engine=engine, run_id=run_id, status="ok", detail=detail)
    return AnnualRun(year, len(records), classified, missing)


def _records(registry: Registry, result: PeriodValues, year: int) -> list[YearRecord]:
    groups = [str(g) for g in result.values.index.get_level_values(0)]
    known = {s.id: s for s in registry.sections}
    lake_points = [s for s in registry.sections if s.water_body == "lake" and not s.is_reference]
    keep = [i for i, g in enumerate(groups) if g in known or g.startswith(LAKE_PREFIX)]
    if not keep:
        return []
    values = result.values.iloc[keep].reset_index(drop=True)
    groups = [groups[i] for i in keep]
    sections = [known.get(g, lake_points[0] if lake_points else None) for g in groups]
    bodies = np.array([s.water_body if s is not None else "lake" for s in sections], dtype=object)
    on = dt.date(year, 12, 31)
    targets = np.array([min(int(s.target_class(on)), 5) if s else 3 for s in sections])
    classified = classify_frame(values, water_body=bodies, target=targets)
    insufficient = list(result.insufficient().iloc[keep])
    counts = result.counts.iloc[keep].reset_index(drop=True)
    lower = result.lower_bound.iloc[keep].reset_index(drop=True)
    records: list[YearRecord] = []
    for i, (classification, section, group) in enumerate(
        zip(classify_rows(values, bodies, classified), sections, groups, strict=True)
    ):
        target = int(section.target_class(on)) if section is not None else int(WaterClass.III)
        number = classification.class_number
        months = counts.iloc[i].to_numpy(dtype=np.int64)
        records.append(
            YearRecord.model_validate(
                {
                    **classification.model_dump(),
                    "section": group,
                    "year": year,
                    "insufficient": insufficient[i],
                    "values": stored_values(values.iloc[i]),
                    "months": {
                        str(k): int(n) for k, n in zip(counts.columns, months, strict=True) if n > 0
                    },
                    "lower_bound": sorted(str(k) for k, v in lower.iloc[i].items() if bool(v)),
                    "target_class_number": target,
                    "meets_target": None if number is None else number <= target,
                }
            )
        )
    return records


def annual_results(*, engine: Engine, year: int) -> list[YearRecord]:
    """The stored annual records of ``year``, by section id."""
    table = table_of(AnnualResult)
    with engine.connect() as connection:
        rows = connection.execute(
            select(table.c.record).where(table.c.year == year).order_by(table.c.section_id)
        ).all()
    return [YearRecord.model_validate(r.record) for r in rows]
