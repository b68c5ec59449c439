"""Monitoring API: observations, daily classes, the latest state and the monthly summary."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, JsonValue
from sqlalchemy import ColumnElement, Engine, func, select

from sections.registry import Registry, Section
from service.api.deps import (
    EngineDep,
    PageQuery,
    RegistryDep,
    SizeQuery,
    request_day,
    request_moment,
    request_month,
)
from service.db.models import DailyResult, MonthlyResult, Observation, table_of
from service.db.results import day_record
from service.errors import InputError, NotFoundError
from service.jobs.monthly import stored_summary
from service.records import MonthEntry, MonthSummary, decode_month, encode
from service.time import BEIJING

router = APIRouter(prefix="/api", tags=["monitoring"])


class Page(BaseModel):
    """A page of a list: ``data``, ``count`` (all matching), ``page``, ``page_size``."""

    data: list[dict[str, JsonValue]]
    count: int
    page: int
    page_size: int


def _section(registry: Registry, section_id: str) -> Section:
    try:
        return registry.section(section_id)
    except KeyError:
        detail = f"未知断面 / unknown section {section_id!r}"
        raise NotFoundError(detail) from None


def _moment(text: str | None, name: str) -> dt.datetime | None:
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"{name}: 不是 ISO 8601 时间 / not ISO 8601") from None
    try:
        return request_moment(moment)
    except InputError as exc:
        raise InputError(f"{name}: {exc}") from None


def _day(text: str | None, name: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return request_day(text)
    except ValueError as exc:
        raise InputError(f"{name}: {exc}") from None


def _iso(value: dt.datetime) -> str:
    aware = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value
    return aware.astimezone(BEIJING).isoformat()


OBSERVATIONS_EXAMPLE = {
    "data": [{"parameter": "nh3n", "observed_at": "2025-07-01T08:00:00+08:00", "value": 0.137,
              "unit": "mg/L", "station": "HS131100XFQ0001", "station_flag": "N", "qc_flag": 1,
              "qc_test": "", "source": "hj212"}],
    "count": 1, "page": 1, "page_size": 500,
}  # fmt: skip


@router.get(
    "/sections/{section_id}/observations",
    response_model=Page,
    summary="断面观测值 / a section's observations",
    responses={200: {"content": {"application/json": {"example": OBSERVATIONS_EXAMPLE}}}},
)
def section_observations(
    section_id: str,
    engine: EngineDep,
    registry: RegistryDep,
    parameter: Annotated[str | None, Query(description="参数键，如 nh3n")] = None,
    start: Annotated[str | None, Query(alias="from", description="起始时间 ISO 8601")] = None,
    end: Annotated[str | None, Query(alias="to", description="截止时间 ISO 8601")] = None,
    page: PageQuery = 1,
    page_size: SizeQuery = 500,
) -> Page:
    """Observations of a section, newest first, flags included (flagged values are kept)."""
    _section(registry, section_id)
    table = table_of(Observation)
    conditions = [table.c.section_id == section_id]
    if parameter:
        conditions.append(table.c.parameter == parameter)
    low, high = _moment(start, "from"), _moment(end, "to")
    if low:
        conditions.append(table.c.observed_at >= low)
    if high:
        conditions.append(table.c.observed_at <= high)
    with engine.connect() as connection:
        count = connection.execute(
            select(func.count()).select_from(table).where(*conditions)
        ).scalar_one()
        rows = connection.execute(
            select(table)
            .where(*conditions)
            .order_by(table.c.observed_at.desc(), table.c.parameter)
            .offset((page - 1) * page_size)
            .limit(page_size)
        ).all()
    data: list[dict[str, JsonValue]] = [
        {"parameter": r.parameter, "observed_at": _iso(r.observed_at), "value": r.value,
         "unit": r.unit, "station": r.station, "station_flag": r.station_flag,
         "qc_flag": r.qc_flag, "qc_test": r.qc_test or "", "source": r.source}
        for r in rows
    ]  # fmt: skip
    return Page(data=data, count=int(count), page=page, page_size=page_size)


DAILY = table_of(DailyResult)


def _daily_rows(
    engine: Engine, *conditions: ColumnElement[bool], page: int = 1, size: int = 400
) -> tuple[list[dict[str, JsonValue]], int]:
    """Daily records as the API returns them: the record's JSON and the run that made it."""
    with engine.connect() as connection:
        count = connection.execute(
            select(func.count()).select_from(DAILY).where(*conditions)
        ).scalar_one()
        rows = connection.execute(
            select(DAILY.c.record, DAILY.c.completeness, DAILY.c.run_id)
            .where(*conditions)
            .order_by(DAILY.c.day.desc(), DAILY.c.section_id)
            .offset((page - 1) * size)
            .limit(size)
        ).all()
    data = [{**encode(day_record(r.record, r.completeness)), "run_id": r.run_id} for r in rows]
    return data, int(count)


@router.get(
    "/sections/{section_id}/daily",
    response_model=Page,
    summary="断面逐日类别 / a section's daily classes",
)
def section_daily(
    section_id: str,
    engine: EngineDep,
    registry: RegistryDep,
    start: Annotated[str | None, Query(alias="from", description="起始日 YYYY-MM-DD")] = None,
    end: Annotated[str | None, Query(alias="to", description="截止日 YYYY-MM-DD")] = None,
    page: PageQuery = 1,
    page_size: SizeQuery = 400,
) -> Page:
    """Daily results of a section, newest first."""
    _section(registry, section_id)
    conditions = [DAILY.c.section_id == section_id]
    first, last = _day(start, "from"), _day(end, "to")
    if first:
        conditions.append(DAILY.c.day >= first)
    if last:
        conditions.append(DAILY.c.day <= last)
    data, count = _daily_rows(engine, *conditions, page=page, size=page_size)
    return Page(data=data, count=count, page=page, page_size=page_size)


@router.get("/sections/{section_id}/latest", summary="断面最新状态 / a section's latest state")
def section_latest(
    section_id: str, engine: EngineDep, registry: RegistryDep
) -> dict[str, JsonValue]:
    """The latest daily result and the latest value of each parameter."""
    section = _section(registry, section_id)
    data, _ = _daily_rows(engine, DAILY.c.section_id == section_id, size=1)
    table = table_of(Observation)
    with engine.connect() as connection:
        newest = (
            select(table.c.parameter, func.max(table.c.observed_at).label("last"))
            .where(table.c.section_id == section_id)
            .group_by(table.c.parameter)
            .subquery()
        )
        rows = connection.execute(
            select(table)
            .join(
                newest,
                (table.c.parameter == newest.c.parameter) & (table.c.observed_at == newest.c.last),
            )
            .where(table.c.section_id == section_id)
        ).all()
    latest: dict[str, JsonValue] = {
        r.parameter: {"observed_at": _iso(r.observed_at), "value": r.value, "unit": r.unit,
                      "station_flag": r.station_flag, "qc_flag": r.qc_flag, "source": r.source}
        for r in rows
    }  # fmt: skip
    return {"section": section.id, "name": section.name,
            "daily": data[0] if data else None, "latest": latest}  # fmt: skip


@router.get(
    "/classifications",
    response_model=Page,
    summary="某日全部断面类别 / every section's class on a day",
)
def classifications(
    engine: EngineDep,
    date: Annotated[str, Query(description="日期 YYYY-MM-DD（北京时间）")],
    page: PageQuery = 1,
    page_size: SizeQuery = 400,
) -> Page:
    """The daily results of every section on a date."""
    day = _day(date, "date")
    data, count = _daily_rows(engine, DAILY.c.day == day, page=page, size=page_size)
    return Page(data=data, count=count, page=page, page_size=page_size)


class Summary(BaseModel):
    """A month's city summary and every section's monthly result."""

    summary: MonthSummary = Field(description="优良比例、目标、劣Ⅴ、衡水湖、同比")
    sections: list[MonthEntry] = Field(description="各断面（及湖体 lake:…）月度结果")


@router.get("/review", response_model=Page, summary="待复核的值 / values waiting for review")
def review_queue(
    engine: EngineDep,
    section: Annotated[str | None, Query(description="断面 id")] = None,
    page: PageQuery = 1,
    page_size: SizeQuery = 100,
) -> Page:
    """Suspect values, over-range readings and unknown codes waiting for a reviewer."""
    from service.review import pending_reviews

    items, count = pending_reviews(
        engine=engine, section_id=section, limit=page_size, offset=(page - 1) * page_size
    )
    return Page(data=[i.as_dict() for i in items], count=count, page=page, page_size=page_size)


@router.get("/annual", response_model=Page, summary="年度评价 / a year's assessment")
def annual(
    engine: EngineDep,
    year: Annotated[int, Query(ge=1900, le=2999, description="年份 YYYY")],
) -> Page:
    """The stored annual assessment (``qingliu run annual --year`` makes it); 404 before."""
    from service.jobs.annual import annual_results

    records = annual_results(engine=engine, year=year)
    if not records:
        detail = f"{year} 年尚未评价 / not assessed yet (qingliu run annual --year {year})"
        raise NotFoundError(detail)
    data = [encode(r) for r in records]
    return Page(data=data, count=len(data), page=1, page_size=len(data))


@router.get("/summary", response_model=Summary, summary="月度汇总 / a month's summary")
def month_summary(
    engine: EngineDep, month: Annotated[str, Query(description="月份 YYYY-MM")]
) -> Summary:
    """The stored roll-up of a month (``qingliu run monthly`` makes it); 404 before that."""
    try:
        first = request_month(month)
    except ValueError as exc:
        raise InputError(f"month: {exc}") from None
    summary = stored_summary(engine=engine, month=first)
    if summary is None:
        detail = f"{month} 尚未汇总 / not rolled up yet (qingliu run monthly --month {month})"
        raise NotFoundError(detail)
    table = table_of(MonthlyResult)
    with engine.connect() as connection:
        rows = connection.execute(
            select(table.c.record).where(table.c.month == first).order_by(table.c.section_id)
        ).all()
    return Summary(summary=summary, sections=[decode_month(r.record) for r in rows])
