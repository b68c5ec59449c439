"""Typed contexts of the web pages: each page renders exactly one of these dataclasses."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sections.classes import WaterClass
from sections.registry import Registry, Section

__all__ = [
    "ParameterCount",
    "SectionPageContext",
    "SectionRow",
    "SectionsPageContext",
    "section_row",
]

WATER_BODY_ZH = {"river": "河流", "lake": "湖库"}
LEVEL_ZH = {"national": "国考", "provincial": "省考", "city": "市考", "reference": "对照"}


@dataclass(frozen=True)
class SectionRow:
    """One section as a row of the section list."""

    id: str = field(metadata={"help": "断面 id"})
    name: str = field(metadata={"help": "断面名称"})
    confirmed: bool = field(metadata={"help": "名称是否经公开来源核实"})
    river: str = field(metadata={"help": "河流或湖泊"})
    water_body: str = field(metadata={"help": "水体类型（中文）"})
    level: str = field(metadata={"help": "断面级别（中文）"})
    unit_name: str = field(metadata={"help": "考核单位名称，对照断面为空"})
    upstream_name: str = field(metadata={"help": "上游断面名称"})
    target: WaterClass = field(metadata={"help": "当前目标类别"})
    station_mn: str = field(metadata={"help": "自动站 MN"})
    lon: float = field(metadata={"help": "经度"})
    lat: float = field(metadata={"help": "纬度"})
    note: str = field(metadata={"help": "说明（含假设）"})


@dataclass(frozen=True)
class SectionsPageContext:
    """The first page: every section of the registry."""

    title: str = field(metadata={"help": "页面标题"})
    registry_source: str = field(metadata={"help": "名录文件"})
    rows: tuple[SectionRow, ...] = field(metadata={"help": "断面列表"})
    unit_count: int = field(metadata={"help": "考核单位数"})
    assessed_count: int = field(metadata={"help": "考核断面数"})
    observation_count: int = field(metadata={"help": "数据库中观测值数量"})


@dataclass(frozen=True)
class ParameterCount:
    """How many observations of one parameter a section has."""

    key: str = field(metadata={"help": "参数键"})
    name_zh: str = field(metadata={"help": "参数名称"})
    unit: str = field(metadata={"help": "单位"})
    count: int = field(metadata={"help": "观测值数量"})


@dataclass(frozen=True)
class SectionPageContext:
    """One section's page."""

    title: str = field(metadata={"help": "页面标题"})
    section: SectionRow = field(metadata={"help": "断面"})
    targets: tuple[tuple[int, WaterClass], ...] = field(metadata={"help": "目标类别（起始年份）"})
    standards: tuple[tuple[str, float], ...] = field(metadata={"help": "单独标准 mg/L"})
    parameter_counts: tuple[ParameterCount, ...] = field(metadata={"help": "各参数观测数"})
    first_observation: dt.datetime | None = field(metadata={"help": "最早观测"})
    last_observation: dt.datetime | None = field(metadata={"help": "最新观测"})


def section_row(registry: Registry, section: Section, *, on: dt.date) -> SectionRow:
    """Build the list row of a section, with names resolved through the registry."""
    unit_name = registry.unit(section.assessed_unit).name if section.assessed_unit else ""
    upstream_name = registry.section(section.upstream).name if section.upstream else ""
    return SectionRow(
        id=section.id,
        name=section.name,
        confirmed=section.confirmed,
        river=section.river,
        water_body=WATER_BODY_ZH[section.water_body],
        level=LEVEL_ZH[section.level],
        unit_name=unit_name,
        upstream_name=upstream_name,
        target=section.target_class(on),
        station_mn=section.station_mn or "",
        lon=section.lon,
        lat=section.lat,
        note=section.note,
    )


@dataclass(frozen=True)
class VersionRow:
    """One issued version of a month's statement."""

    version: int = field(metadata={"help": "版本号"})
    content_hash: str = field(metadata={"help": "内容摘要（SHA-256）"})
    issued_at: str = field(metadata={"help": "签发时间（北京时间）"})
    changes: int = field(metadata={"help": "较上一版变动行数"})


@dataclass(frozen=True)
class CompensationPageContext:
    """A month's compensation statement page (city summary or one unit)."""

    title: str = field(metadata={"help": "页面标题"})
    month: str = field(metadata={"help": "月份 YYYY-MM"})
    unit: str | None = field(metadata={"help": "考核单位 id；全市通报为空"})
    unit_name: str | None = field(metadata={"help": "考核单位名称"})
    shown_version: int | None = field(metadata={"help": "所示版本；草稿为空"})
    versions: tuple[VersionRow, ...] = field(metadata={"help": "已签发版本"})
    units: tuple[tuple[str, str], ...] = field(metadata={"help": "考核单位（id, 名称）"})
    downloads: tuple[tuple[str, str], ...] = field(metadata={"help": "下载链接（格式, 地址）"})
    statement_html: str = field(metadata={"help": "通报正文 HTML（已转义的模板输出）"})
    changes: tuple[str, ...] = field(metadata={"help": "所示版本较上一版的变动说明"})
