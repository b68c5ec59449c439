"""HTML views: each builds its typed context and renders one template."""

from __future__ import annotations

import datetime as dt
from dataclasses import fields
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from sections.parameters import parameter
from service.api.access import Principal, authorize
from service.api.deps import ChiefsDep, EngineDep, RegistryDep
from service.db import queries, results
from service.errors import NotFoundError
from service.time import BEIJING, beijing_today
from service.web.contexts import (
    ParameterCount,
    SectionsPageContext,
    day_cell,
    month_cell,
    section_row,
)
from service.web.overview import IndexPageContext, build_overview
from service.web.templates import template_environment

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

router = APIRouter(include_in_schema=False)

DAILY_STRIP_DAYS = 90
"""How many of a section's newest days with results its page shows as a strip."""


def render(template: str, context: DataclassInstance) -> HTMLResponse:
    """Render a template with a context dataclass (its fields become template variables)."""
    variables = {f.name: getattr(context, f.name) for f in fields(context)}
    html = template_environment().get_template(template).render(**variables)
    return HTMLResponse(html)


@router.get("/", response_class=HTMLResponse)
def sections_page(
    request: Request,
    registry: RegistryDep,
    engine: EngineDep,
    chiefs: ChiefsDep,
    principal: Annotated[Principal, Depends(authorize)],
) -> HTMLResponse:
    """首页：水质总览（示意图与全市指标），其下为断面名录。"""
    today = beijing_today()
    table = SectionsPageContext(
        title="断面名录",
        registry_source=registry.source,
        rows=tuple(section_row(registry, s, on=today) for s in registry.sections),
        unit_count=len(registry.units),
        assessed_count=len(registry.assessed_sections()),
        observation_count=queries.count_observations(engine=engine),
    )
    overview = build_overview(
        engine=engine, registry=registry, chiefs=chiefs, principal=principal, today=today
    )
    return render("index.html", IndexPageContext(table.title, overview, table))


@router.get("/sections/{section_id}", response_class=HTMLResponse)
def section_page(
    section_id: str,
    registry: RegistryDep,
    engine: EngineDep,
    chiefs: ChiefsDep,
    principal: Annotated[Principal, Depends(authorize)],
    days: str | None = None,
) -> HTMLResponse:
    """断面页：概况、逐日与月度类别、各指标逐日图、预报、近期预警、补偿记录与下载。"""
    from service.web.monitoring_views import forecast_panels  # it imports render from here
    from service.web.section_charts import SectionDetailContext, section_extras, window_days

    try:
        section = registry.section(section_id)
    except KeyError:
        raise NotFoundError(f"未知断面 {section_id}") from None
    window = window_days(days)
    now = dt.datetime.now(BEIJING)
    first, last = queries.observation_span(engine=engine, section_id=section.id)
    counts = queries.parameter_counts(engine=engine, section_id=section.id)
    daily = results.section_daily_results(
        engine=engine, section_id=section.id, limit=DAILY_STRIP_DAYS
    )
    year, monthly = results.section_monthly_results(engine=engine, section_id=section.id)
    context = SectionDetailContext(
        title=section.name,
        section=section_row(registry, section, on=beijing_today()),
        targets=tuple(section.targets.items()),
        standards=tuple(section.standards.items()),
        parameter_counts=tuple(
            ParameterCount(key, parameter(key).name_zh, parameter(key).unit, count)
            for key, count in counts.items()
        ),
        first_observation=first.astimezone(BEIJING) if first else None,
        last_observation=last.astimezone(BEIJING) if last else None,
        daily=tuple(day_cell(day, record) for day, record in daily),
        daily_limit=DAILY_STRIP_DAYS,
        monthly_year=year,
        monthly=()
        if year is None
        else tuple(month_cell(year, m, monthly.get(m)) for m in range(1, 13)),
        forecasts=forecast_panels(engine=engine, registry=registry, section=section, now=now),
        extras=section_extras(
            engine=engine,
            registry=registry,
            chiefs=chiefs,
            principal=principal,
            section=section,
            days=window,
            now=now,
        ),
    )
    return render("sections/detail.html", context)
