"""``/api/sections``: the section registry as JSON."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from sections.registry import Section
from service.api.deps import RegistryDep
from service.errors import NotFoundError
from service.time import beijing_today

router = APIRouter(prefix="/api", tags=["sections"])


class SectionPublic(BaseModel):
    """A section of the registry."""

    id: str = Field(examples=["xiaofanqiao"])
    name: str = Field(examples=["小范桥"])
    confirmed: bool = Field(description="名称是否经公开来源核实")
    river: str
    water_body: str = Field(description="river | lake")
    level: str = Field(description="national | provincial | city | reference")
    assessed_unit: str | None
    upstream: str | None
    station_mn: str | None
    lon: float
    lat: float
    target_class: int = Field(description="今日适用的目标类别 1–6（6 = 劣Ⅴ）")
    target_label: str = Field(examples=["Ⅲ"])
    standards: dict[str, float] = Field(description="单独标准 mg/L")
    note: str


def section_public(section: Section) -> SectionPublic:
    """The API form of a section."""
    target = section.target_class(beijing_today())
    return SectionPublic(
        id=section.id, name=section.name, confirmed=section.confirmed, river=section.river,
        water_body=section.water_body, level=section.level, assessed_unit=section.assessed_unit,
        upstream=section.upstream, station_mn=section.station_mn, lon=section.lon,
        lat=section.lat, target_class=int(target), target_label=target.label,
        standards=dict(section.standards), note=section.note,
    )  # fmt: skip


class SectionsPublic(BaseModel):
    """All sections, ``{data, count}``."""

    data: list[SectionPublic]
    count: int


@router.get("/sections", response_model=SectionsPublic, summary="断面名录 / all sections")
def list_sections(registry: RegistryDep) -> SectionsPublic:
    """Every section of the registry, in file order."""
    data = [section_public(s) for s in registry.sections]
    return SectionsPublic(data=data, count=len(data))


@router.get("/sections/{section_id}", response_model=SectionPublic, summary="单个断面 / a section")
def get_section(section_id: str, registry: RegistryDep) -> SectionPublic:
    """One section; 404 for an unknown id."""
    try:
        return section_public(registry.section(section_id))
    except KeyError:
        raise NotFoundError(f"未知断面 / unknown section {section_id!r}") from None
