"""Forecast API: a section's newest exceedance forecasts and the running skill record."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from sections.forecast import FORECAST_KEYS, MIN_EVENTS, MIN_VERIFIED
from sections.registry import Registry, Section
from service.api.deps import EngineDep, RegistryDep, request_moment
from service.errors import InputError, NotFoundError
from service.jobs.forecast import SKILL_DAYS, section_forecasts, skill_entries
from service.records import IssuedForecast, SkillEntry
from service.time import BEIJING

router = APIRouter(prefix="/api", tags=["forecast"])


class SectionForecasts(BaseModel):
    """A section's newest forecast of each parameter, ``{data, count}``."""

    section: str = Field(description="断面 id", examples=["xiaofanqiao"])
    name: str = Field(description="断面名称")
    data: list[IssuedForecast] = Field(description="各参数最新一次预报；尚无预报为空列表")
    count: int


class SkillTable(BaseModel):
    """The running skill record, ``{data, count}`` and the window it covers."""

    data: list[SkillEntry]
    count: int
    since: dt.datetime = Field(description="窗口起：目标时间不早于此（北京时间）")
    until: dt.datetime = Field(description="窗口止：目标时间早于此（北京时间）")
    window_days: int = Field(description="窗口长度 [d]")
    min_verified: int = Field(description="记录参与模型选择所需的已核验预报数（每个预见期）")
    min_events: int = Field(description="且该预见期已核验的目标中至少有这么多次超标")
    reference: str = Field(description="技巧评分的参照预报", examples=["persistence"])


def _section(registry: Registry, section_id: str) -> Section:
    try:
        return registry.section(section_id)
    except KeyError:
        raise NotFoundError(f"未知断面 / unknown section {section_id!r}") from None


@router.get(
    "/sections/{section_id}/forecast",
    response_model=SectionForecasts,
    summary="断面最新预报 / a section's newest forecasts",
)
def section_forecast(section_id: str, engine: EngineDep, registry: RegistryDep) -> SectionForecasts:
    """The newest issue of every forecast parameter of a section: the origin, the models and
    why, the target-class threshold, and per horizon (4–72 h) the target time, the median, the
    80 % and 95 % intervals and the probability of exceedance. A forecast is an estimate, not a
    measurement, and never enters an assessment."""
    section = _section(registry, section_id)
    data = section_forecasts(engine=engine, section_id=section.id)
    return SectionForecasts(section=section.id, name=section.name, data=data, count=len(data))


@router.get(
    "/forecast/skill",
    response_model=SkillTable,
    summary="预报技巧（已核验）/ the verified skill record",
)
def forecast_skill(
    engine: EngineDep,
    registry: RegistryDep,
    section: Annotated[str | None, Query(description="断面 id")] = None,
    parameter: Annotated[str | None, Query(description="参数键，如 nh3n")] = None,
    until: Annotated[
        str | None, Query(description="窗口止 ISO 8601（无时区按北京时间），缺省为现在")
    ] = None,
) -> SkillTable:
    """Per section, parameter, horizon and candidate: the number of verified forecasts over
    the skill window, their Brier score and the Brier skill against persistence (1 − BS /
    BS of persistence; positive: better than persistence)."""
    if section is not None:
        _section(registry, section)
    if parameter is not None and parameter not in FORECAST_KEYS:
        raise InputError(f"parameter: 不预报此参数 / not forecast: {parameter!r}; "
                         f"valid: {', '.join(FORECAST_KEYS)}")  # fmt: skip
    end = dt.datetime.now(dt.UTC) if until is None else _moment(until)
    data = skill_entries(
        engine=engine, now=end,
        section_ids=None if section is None else [section],
        parameters=None if parameter is None else [parameter],
    )  # fmt: skip
    return SkillTable(
        data=data, count=len(data),
        since=(end - dt.timedelta(days=SKILL_DAYS)).astimezone(BEIJING),
        until=end.astimezone(BEIJING), window_days=SKILL_DAYS, min_verified=MIN_VERIFIED,
        min_events=MIN_EVENTS,
        reference="persistence",
    )  # fmt: skip


def _moment(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InputError("until: 不是 ISO 8601 时间 / not ISO 8601") from None
    try:
        return request_moment(moment)
    except InputError as exc:
        raise InputError(f"until: {exc}") from None
