"""Monitoring pages: the daily overview (每日水质) and the monthly bulletin (水质月报)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import Engine

from sections.classes import WaterClass
from sections.registry import Registry, Section
from service.api.deps import EngineDep, RegistryDep, request_day, request_month
from service.bulletins import MonthNotRolledUp, bulletin_context, render_bulletin_html
from service.db import results
from service.errors import InputError, NotFoundError
from service.records import DayRecord
from service.time import beijing_today
from service.web.contexts import (
    LEVEL_ZH,
    BulletinPageContext,
    ClassCount,
    DailyPageContext,
    DailyRow,
    percent_text,
    pollutant_names,
)
from service.web.views import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

BULLETIN_FORMATS = (("pdf", "PDF"), ("html", "HTML"))


def _daily_row(section: Section, record: DayRecord | None, day: dt.date) -> DailyRow:
    completeness: float | None
    if record is None:
        klass, meets, completeness, note = None, None, None, "无结果"
        target = section.target_class(day)
    else:
        klass = record.water_class
        meets = record.meets_target
        completeness = record.completeness
        number = record.target_class_number
        target = section.target_class(day) if number is None else WaterClass(number)
        missing = "、".join(pollutant_names(record.insufficient))
        note = "" if klass is not None else "数据不足" + (f"（{missing}）" if missing else "")
    return DailyRow(
        id=section.id,
        name=section.name,
        confirmed=section.confirmed,
        river=section.river,
        level=LEVEL_ZH[section.level],
        klass=klass,
        target=target,
        meets_target=meets,
        main_pollutants=() if record is None else pollutant_names(record.main_pollutants),
        completeness=completeness,
        completeness_text=percent_text(completeness),
        note=note,
    )


def daily_context(*, engine: Engine, registry: Registry, day: dt.date) -> DailyPageContext:
    """The daily overview of one day (every section in registry order)."""
    records = results.daily_results_on(engine=engine, day=day)
    rows = tuple(_daily_row(s, records.get(s.id), day) for s in registry.sections)
    previous_day, next_day = results.daily_neighbours(engine=engine, day=day)
    classes = [r.klass for r in rows if r.klass is not None]
    return DailyPageContext(
        title=f"{day:%Y-%m-%d} 每日水质",
        day=day,
        has_results=bool(records),
        rows=rows,
        class_counts=tuple(ClassCount(k, classes.count(k)) for k in WaterClass),
        classified=len(classes),
        insufficient=len(rows) - len(classes),
        meets_target=sum(r.meets_target is True for r in rows),
        previous_day=previous_day,
        next_day=next_day,
        run_command=f"qingliu run daily --date {day.isoformat()}",
    )


@router.get("/daily", response_class=HTMLResponse)
def daily_page(engine: EngineDep, registry: RegistryDep, date: str | None = None) -> HTMLResponse:
    """每日水质：某日全部断面的类别（缺省为最新有结果的日期）。"""
    if date is None:
        day = results.newest_daily_day(engine=engine) or beijing_today()
    else:
        try:
            day = request_day(date)
        except ValueError as exc:
            raise InputError(str(exc)) from None
    return render("daily.html", daily_context(engine=engine, registry=registry, day=day))


@router.get("/bulletins")
def bulletins_index(engine: EngineDep) -> RedirectResponse:
    """The newest rolled-up month's bulletin."""
    months = results.rolled_up_months(engine=engine)
    if not months:
        detail = "尚无月度汇总，无法生成水质月报（运行 qingliu run monthly --month YYYY-MM）"
        raise NotFoundError(detail)
    return RedirectResponse(f"/bulletins/{months[0]:%Y-%m}", status_code=307)


@router.get("/bulletins/{month}", response_class=HTMLResponse)
def bulletin_page(month: str, engine: EngineDep, registry: RegistryDep) -> HTMLResponse:
    """水质月报（网页）。"""
    try:
        first = request_month(month)
    except InputError as exc:
        raise NotFoundError(str(exc)) from None
    try:
        bulletin = bulletin_context(engine, registry, first)
    except MonthNotRolledUp as exc:
        raise NotFoundError(str(exc)) from None
    context = BulletinPageContext(
        title=bulletin.title,
        month=bulletin.month,
        months=tuple(f"{m:%Y-%m}" for m in results.rolled_up_months(engine=engine)),
        downloads=tuple(
            (label, f"/api/bulletins/{bulletin.month}.{fmt}") for fmt, label in BULLETIN_FORMATS
        ),
        bulletin_html=render_bulletin_html(bulletin, standalone=False),
    )
    return render("bulletins/page.html", context)
