"""Reading stored classification results: daily and monthly records and the monthly summaries.

Keyword-only queries over ``daily_result``, ``monthly_result`` and ``monthly_summary`` (written by
``qingliu run daily`` and ``qingliu run monthly``). Records come back as the typed records the
jobs stored (:mod:`service.records`); nothing is recomputed here.
"""

from __future__ import annotations

import datetime as dt

from pydantic import JsonValue
from sqlalchemy import Engine, Table, func, select

from service.db.models import DailyResult, MonthlyResult, MonthlySummary, table_of
from service.records import DayRecord, LakeRecord, MonthRecord, decode_month

__all__ = [
    "daily_neighbours",
    "daily_results_on",
    "day_record",
    "month_results",
    "newest_daily_day",
    "rolled_up_months",
    "section_daily_results",
    "section_monthly_results",
    "summary_computed_at",
]


DAILY: Table = table_of(DailyResult)
MONTHLY: Table = table_of(MonthlyResult)
SUMMARY: Table = table_of(MonthlySummary)


def _date(value: object) -> dt.date:
    """A DATE column's value as a date (drivers may hand back text or a datetime)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def day_record(stored: JsonValue, completeness: float) -> DayRecord:
    """A stored daily record; ``completeness`` (the row's column) fills it in for old rows."""
    data = stored if isinstance(stored, dict) else {}
    return DayRecord.model_validate({"completeness": round(float(completeness), 3), **data})


def newest_daily_day(*, engine: Engine) -> dt.date | None:
    """The newest day that has daily results, or None when there are none."""
    with engine.connect() as connection:
        value = connection.execute(select(func.max(DAILY.c.day))).scalar_one_or_none()
    return None if value is None else _date(value)


def daily_results_on(*, engine: Engine, day: dt.date) -> dict[str, DayRecord]:
    """Every section's daily record on ``day``, keyed by section id."""
    query = select(DAILY.c.section_id, DAILY.c.record, DAILY.c.completeness).where(
        DAILY.c.day == day
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return {str(r.section_id): day_record(r.record, r.completeness) for r in rows}


def daily_neighbours(*, engine: Engine, day: dt.date) -> tuple[dt.date | None, dt.date | None]:
    """The nearest days before and after ``day`` that have daily results (None when none)."""
    with engine.connect() as connection:
        before = connection.execute(
            select(func.max(DAILY.c.day)).where(DAILY.c.day < day)
        ).scalar_one_or_none()
        after = connection.execute(
            select(func.min(DAILY.c.day)).where(DAILY.c.day > day)
        ).scalar_one_or_none()
    return (
        None if before is None else _date(before),
        None if after is None else _date(after),
    )


def section_daily_results(
    *, engine: Engine, section_id: str, limit: int = 90
) -> list[tuple[dt.date, DayRecord]]:
    """A section's newest ``limit`` daily results, oldest first, as ``(day, record)``."""
    query = (
        select(DAILY.c.day, DAILY.c.record, DAILY.c.completeness)
        .where(DAILY.c.section_id == section_id)
        .order_by(DAILY.c.day.desc())
        .limit(limit)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [(_date(r.day), day_record(r.record, r.completeness)) for r in reversed(rows)]


def section_monthly_results(
    *, engine: Engine, section_id: str, year: int | None = None
) -> tuple[int | None, dict[int, MonthRecord]]:
    """A section's monthly records of one year, keyed by month number.

    ``year`` defaults to the year of the section's newest monthly result; ``(None, {})`` when it
    has none.
    """
    with engine.connect() as connection:
        if year is None:
            newest = connection.execute(
                select(func.max(MONTHLY.c.month)).where(MONTHLY.c.section_id == section_id)
            ).scalar_one_or_none()
            if newest is None:
                return None, {}
            year = _date(newest).year
        rows = connection.execute(
            select(MONTHLY.c.month, MONTHLY.c.record).where(
                MONTHLY.c.section_id == section_id,
                MONTHLY.c.month >= dt.date(year, 1, 1),
                MONTHLY.c.month <= dt.date(year, 12, 1),
            )
        ).all()
    return year, {_date(r.month).month: MonthRecord.model_validate(r.record) for r in rows}


def month_results(*, engine: Engine, month: dt.date) -> dict[str, MonthRecord | LakeRecord]:
    """Every monthly record of a month (sections and ``lake:<name>``), keyed by section id."""
    query = select(MONTHLY.c.section_id, MONTHLY.c.record).where(
        MONTHLY.c.month == month.replace(day=1)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return {str(r.section_id): decode_month(r.record) for r in rows}


def summary_computed_at(*, engine: Engine, month: dt.date) -> dt.datetime | None:
    """When a month's summary was computed (UTC), or None when it has not been rolled up."""
    query = select(SUMMARY.c.computed_at).where(SUMMARY.c.month == month.replace(day=1))
    with engine.connect() as connection:
        value = connection.execute(query).scalar_one_or_none()
    if not isinstance(value, dt.datetime):
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def rolled_up_months(*, engine: Engine) -> list[dt.date]:
    """The months that have a stored summary, newest first."""
    query = select(SUMMARY.c.month).order_by(SUMMARY.c.month.desc())
    with engine.connect() as connection:
        return [_date(m) for m in connection.execute(query).scalars().all()]
