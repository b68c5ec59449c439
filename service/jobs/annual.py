"""The annual assessment (``qingliu run annual --year YYYY``).

Each section's annual value of a parameter is the mean of its stored monthly values (automatic
and laboratory merged by the monthly roll-up; months not assessed — 断流, 结冰 … — left out),
when at least 2/3 of the months have one [A]; the section is then classified under GB 3838-2002
against Class Ⅲ and its target class. 衡水湖 is assessed as a whole from its monthly lake
values. Results are stored in ``annual_result`` and served by ``/api/annual``.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, delete, insert, select

from sections.classes import WaterClass
from sections.evaluation import classify_frame
from sections.periods import DEFAULT_MIN_DAY_FRACTION, annual_values
from sections.registry import Registry
from service.classification import classification_records, stored_values
from service.db import queries
from service.db.models import AnnualResult, MonthlyResult, utc_now

__all__ = ["AnnualRun", "annual_results", "run_annual"]

LAKE_PREFIX = "lake:"


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
    run_id = queries.start_job_run(engine=engine, job="annual", detail=str(year))
    table = MonthlyResult.__table__  # type: ignore[attr-defined]
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
        record = json.loads(row.record)
        if record.get("status"):  # not assessed that month
            continue
        key = (str(row.section_id), pd.Timestamp(str(row.month)[:10]))
        stored = record.get("values") or {}
        values[key] = {k: float(v) for k, v in stored.items() if v is not None}
        bounds[key] = {k: True for k in record.get("lower_bound") or []}
    records: list[dict[str, Any]] = []
    if values:
        index = pd.MultiIndex.from_tuples(list(values), names=["group", "period_start"])
        monthly = pd.DataFrame(list(values.values()), index=index)
        bound = pd.DataFrame(list(bounds.values()), index=index).reindex(
            columns=monthly.columns, fill_value=False
        ).fillna(False).astype(bool)
        result = annual_values(monthly, min_month_fraction=min_month_fraction, lower_bound=bound)
        records = _records(registry, result, year)
    now = utc_now()
    out = [
        {"section_id": r["section"], "year": year, "class_number": r["class_number"],
         "record": json.dumps(r, ensure_ascii=False), "computed_at": now}
        for r in records
    ]  # fmt: skip
    annual = AnnualResult.__table__  # type: ignore[attr-defined]
    with engine.begin() as connection:
        connection.execute(delete(annual).where(annual.c.year == year))
        if out:
            connection.execute(insert(annual), out)
    classified = sum(r["class_number"] is not None for r in records)
    detail = {"year": year, "sections": len(records), "classified": classified,
              "months_missing": list(missing)}  # fmt: skip
    queries.finish_job_run(engine=engine, run_id=run_id, status="ok", detail=json.dumps(detail))
    return AnnualRun(year, len(records), classified, missing)


def _records(registry: Registry, result: Any, year: int) -> list[dict[str, Any]]:
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
    head = [{"section": g, "year": year} for g in groups]
    insufficient = list(result.insufficient().iloc[keep])
    records = classification_records(head, values, bodies, classified, insufficient)
    counts = result.counts.iloc[keep].reset_index(drop=True)
    lower = result.lower_bound.iloc[keep].reset_index(drop=True)
    for i, (record, section) in enumerate(zip(records, sections, strict=True)):
        record["values"] = stored_values(values.iloc[i])
        record["months"] = {str(k): int(v) for k, v in counts.iloc[i].items() if int(v) > 0}
        record["lower_bound"] = sorted(str(k) for k, v in lower.iloc[i].items() if bool(v))
        target = int(section.target_class(on)) if section is not None else int(WaterClass.III)
        record["target_class_number"] = target
        number = record["class_number"]
        record["meets_target"] = None if number is None else number <= target
    return records


def annual_results(*, engine: Engine, year: int) -> list[dict[str, Any]]:
    """The stored annual records of ``year``, by section id."""
    table = AnnualResult.__table__  # type: ignore[attr-defined]
    with engine.connect() as connection:
        rows = connection.execute(
            select(table.c.record).where(table.c.year == year).order_by(table.c.section_id)
        ).all()
    return [dict(json.loads(r.record)) for r in rows]
