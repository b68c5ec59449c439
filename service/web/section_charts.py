"""The section page's indicator charts, recent alerts, compensation history and downloads.

Each parameter a section has data for gets a server-drawn SVG chart (no script) of its daily
values over the last 30, 90 or 365 days (``?days=``) up to the newest observation: the mean of
the day's **valid** values (:func:`service.jobs.observations.load_observations` asks
:mod:`sections.validity`; the mean is :func:`sections.periods.period_values`, so pH is averaged
over [H⁺] and "<DL" counts as half its limit), over horizontal bands of the GB 3838-2002 class
limits (DO inverted: higher is better; pH has no bands — every class is 6–9), with the target
line(s) of :func:`sections.forecast.target_threshold`. A day whose value rests on suspect values
is drawn hollow; a day with no valid value but excluded readings is a hollow square (the mean
of what was excluded, held inside the chart); a day with a "<DL" value is a downward triangle,
one with an over-range reading ("≥", station flag T) an upward one. The newest forecast's
median and 80 % interval follow the last value.

``/sections/{id}/data.csv`` and ``/sections/{id}/data.xlsx`` give exactly the daily values the
charts draw, with Chinese column headers.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Final

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends
from fastapi.responses import Response
from openpyxl import Workbook
from sqlalchemy import Engine

from sections.parameters import parameter
from sections.periods import DEFAULT_MIN_DAILY_VALUES
from sections.registry import Registry, Section
from sections.river_chiefs import RiverChiefs
from sections.standards import limit_table
from service.alerts.records import EpisodeScope, list_episodes, scope_for
from service.api.access import Principal, authorize, may_see_money
from service.api.deps import EngineDep, RegistryDep
from service.errors import ForbiddenError, InputError, NotFoundError
from service.jobs.forecast import section_forecasts
from service.jobs.observations import load_observations, valid_period_values
from service.statements.issue import issued_statement, issued_versions
from service.statements.wording import money_text
from service.time import BEIJING
from service.web.contexts import SectionPageContext
from service.web.indicator_chart import (
    DailyValue,
    IndicatorChart,
    indicator_chart,
)

__all__ = [
    "DAY_WINDOWS",
    "DEFAULT_DAYS",
    "AlertRow",
    "CompensationRow",
    "SectionDetailContext",
    "SectionExtras",
    "daily_values",
    "router",
    "section_extras",
    "window_days",
]

router = APIRouter(include_in_schema=False)

DAY_WINDOWS: Final = (30, 90, 365)
"""The windows a visitor may choose [days]."""
DEFAULT_DAYS: Final = 90
"""The window shown without ``?days=`` [days]."""
ALERT_DAYS: Final = 90
"""Alert episodes opened within this many days are listed [days]."""
COMPENSATION_MONTHS: Final = 12
"""Months of compensation history shown."""
CSV_HEADER: Final = ("日期", "参数", "参数键", "日均值", "单位", "有效值个数", "标记")
"""The columns of the downloads."""
MARK_TEXT: Final = {
    "lower_bound": "≥ 含超量程读数（下限值，待复核）",
    "censored": "<DL 含低于检出限的值（按检出限一半计）",
    "suspect": "含待复核可疑值",
    "thin": f"有效值少于 {DEFAULT_MIN_DAILY_VALUES} 个（不作日评价）",
    "invalid": "无有效值：所示为剔除值的均值",
}
"""What each mark of a daily value means, as shown."""


# --- contexts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertRow:
    """One recent alert episode of the section."""

    id: int = field(metadata={"help": "告警事件 id"})
    opened_at: dt.datetime = field(metadata={"help": "开启时间（北京时间）"})
    level: int = field(metadata={"help": "级别 1–4"})
    level_label: str = field(metadata={"help": "级别：提示、黄色、橙色、红色"})
    factor_name: str = field(metadata={"help": "因子"})
    state_label: str = field(metadata={"help": "状态：未确认、已确认、已关闭"})
    detail: str = field(metadata={"help": "最近一次条件的说明"})


@dataclass(frozen=True)
class CompensationRow:
    """One month of the section's unit's compensation."""

    month: str = field(metadata={"help": "月份 YYYY-MM"})
    version: int | None = field(metadata={"help": "已签发的最新版本；未签发为空"})
    total_wan: str = field(metadata={"help": "扣缴合计 [万元]；未签发为 —"})
    reward_wan: str = field(metadata={"help": "奖励 [万元]；未签发为 —"})
    href: str = field(metadata={"help": "该月本单位通报页"})


@dataclass(frozen=True)
class SectionExtras:
    """The section page's charts, recent alerts, compensation history and downloads."""

    days: int = field(metadata={"help": "所选时间窗 [天]"})
    windows: tuple[int, ...] = field(metadata={"help": "可选时间窗 [天]"})
    first: dt.date = field(metadata={"help": "时间窗第一天"})
    last: dt.date = field(metadata={"help": "时间窗最后一天（最新观测日）"})
    charts: tuple[IndicatorChart, ...] = field(
        metadata={"help": "各参数的逐日图（GB 3838 项目在前）"}
    )
    values: tuple[DailyValue, ...] = field(metadata={"help": "图中的全部日值（即下载内容）"})
    downloads: tuple[tuple[str, str], ...] = field(metadata={"help": "下载（格式, 地址）"})
    alerts_shown: bool = field(metadata={"help": "访问者可否查看预警"})
    alerts_note: str = field(metadata={"help": "预警说明（如 登录后可查看预警）"})
    alerts: tuple[AlertRow, ...] = field(metadata={"help": "近 90 天开启的河长预警（新到旧）"})
    compensation_shown: bool = field(metadata={"help": "访问者可否查看补偿金额"})
    compensation_note: str = field(metadata={"help": "补偿说明（不考核、无权限……）"})
    compensation: tuple[CompensationRow, ...] = field(
        metadata={"help": "本单位近 12 个月的扣缴（仅已签发版本，新到旧）"}
    )


@dataclass(frozen=True)
class SectionDetailContext(SectionPageContext):
    """One section's page with its charts, alerts, compensation history and downloads."""

    extras: SectionExtras = field(metadata={"help": "图表、预警、补偿与下载"})


# --- daily values -------------------------------------------------------------------------------


def window_days(days: str | None) -> int:
    """The window asked for by ``?days=`` (default :data:`DEFAULT_DAYS`).

    Raises
    ------
    InputError
        Unless it is one of :data:`DAY_WINDOWS`.
    """
    if days is None or days == "":
        return DEFAULT_DAYS
    try:
        number = int(days)
    except ValueError:
        number = -1
    if number not in DAY_WINDOWS:
        valid = "、".join(str(d) for d in DAY_WINDOWS)
        raise InputError(f"days 须为 {valid} 之一 / days must be one of {valid}: {days!r}")
    return number


def _unit(key: str) -> str:
    unit = parameter(key).unit
    return "" if unit == "dimensionless" else unit


def _order(keys: Sequence[str], section: Section) -> list[str]:
    """GB 3838-2002 items first in the standard's table order, then the rest by key."""
    table = [k for k, body in limit_table() if body == section.water_body]
    ranked = {k: i for i, k in enumerate(table)}
    return sorted(keys, key=lambda k: (ranked.get(k, len(ranked)), k))


def daily_values(frame: pd.DataFrame, section: Section) -> tuple[DailyValue, ...]:
    """The daily values of one section from :func:`load_observations` rows (parameter, day).

    A day with valid values has their mean (any number of them: the chart shows what there
    is, marked ``thin`` below :data:`sections.periods.DEFAULT_MIN_DAILY_VALUES` automatic
    values); a day with only excluded readings has their mean, marked ``invalid``.
    """
    if frame.empty:
        return ()
    found: dict[tuple[str, dt.date], DailyValue] = {}
    counted = frame[frame["counts"]]
    valid = valid_period_values(frame, period="day", min_daily_values=1)
    if valid is not None:
        keys = [counted["parameter"], counted["day"]]
        censored = counted["censored"].groupby(keys).any()
        automatic = counted["sample_kind"].isna().groupby(keys).sum()
        starts = pd.DatetimeIndex(valid.values.index.get_level_values("period_start"))
        for key in valid.values.columns:
            average = valid.values[key].to_numpy(dtype=np.float64)
            counts = valid.counts[key].to_numpy(dtype=np.int64)
            bound = valid.lower_bound[key].to_numpy(dtype=bool)
            doubtful = valid.suspect[key].to_numpy(dtype=np.int64)
            for i in np.flatnonzero(~np.isnan(average)):
                day = starts[int(i)].date()
                marks = ["lower_bound"] if bound[i] else []
                if bool(censored.get((key, day), False)):
                    marks.append("censored")
                if doubtful[i]:
                    marks.append("suspect")
                if 0 < int(automatic.get((key, day), 0)) < DEFAULT_MIN_DAILY_VALUES:
                    marks.append("thin")
                found[(str(key), day)] = _daily(str(key), day, float(average[i]), int(counts[i]),
                                                marks, int(doubtful[i]), "")  # fmt: skip
    excluded = frame[~frame["counts"] & frame["value"].notna()]
    if not excluded.empty:
        raw = excluded.assign(counts=True, lower_bound=False, suspect=False)
        means = valid_period_values(raw, period="day", min_daily_values=1)
        reasons = (
            excluded["reason"]
            .groupby([excluded["parameter"], excluded["day"]])
            .agg(lambda r: "、".join(sorted({str(x) for x in r})))
        )
        if means is not None:
            starts = pd.DatetimeIndex(means.values.index.get_level_values("period_start"))
            for key in means.values.columns:
                column = means.values[key].to_numpy(dtype=np.float64)
                for i in np.flatnonzero(~np.isnan(column)):
                    day = starts[int(i)].date()
                    if (str(key), day) not in found:
                        why = str(reasons.get((key, day), ""))
                        found[(str(key), day)] = _daily(
                            str(key), day, float(column[i]), 0, ["invalid"], 0, why
                        )
    order = {k: i for i, k in enumerate(_order(list({k for k, _ in found}), section))}
    return tuple(found[k] for k in sorted(found, key=lambda k: (order[k[0]], k[1])))


def _daily(
    key: str, day: dt.date, value: float, n: int, marks: list[str], suspect: int, why: str
) -> DailyValue:
    parts = []
    for mark in marks:
        text = MARK_TEXT[mark]
        if mark == "suspect":
            text += f" {suspect} 个"
        if mark == "invalid" and why:
            text += f"（{why}）"
        parts.append(text)
    info = parameter(key)
    return DailyValue(day, key, info.name_zh, value, f"{value:.4g}", _unit(key), n, tuple(marks),
                      "；".join(parts))  # fmt: skip


# --- the page's extras --------------------------------------------------------------------------


def _window(engine: Engine, section: Section, days: int) -> tuple[dt.date, dt.date]:
    from service.db import queries

    _, newest = queries.observation_span(engine=engine, section_id=section.id)
    last = newest.astimezone(BEIJING).date() if newest else dt.datetime.now(BEIJING).date()
    return last - dt.timedelta(days=days - 1), last


def section_values(
    *, engine: Engine, registry: Registry, section: Section, days: int
) -> tuple[dt.date, dt.date, tuple[DailyValue, ...]]:
    """The window and the daily values a section's page charts (and its downloads give)."""
    first, last = _window(engine, section, days)
    one = Registry(units=registry.units, sections=(section,), source=registry.source)
    frame = load_observations(engine, one, first, last, kind="all")
    return first, last, daily_values(frame, section)


def _alerts(
    engine: Engine, registry: Registry, chiefs: RiverChiefs, principal: Principal,
    section: Section, now: dt.datetime,
) -> tuple[bool, str, tuple[AlertRow, ...]]:  # fmt: skip
    if principal.role is None:
        return False, "登录后可查看预警", ()
    try:
        scope = scope_for(principal.role.value, unit=principal.unit, chief=principal.chief,
                          registry=registry, chiefs=chiefs)  # fmt: skip
    except ForbiddenError:
        return False, "此账户不能查看预警", ()
    if scope.sections is not None and section.id not in scope.sections:
        return False, "本断面不在您的预警范围内", ()
    audiences = scope.audiences & {"river_chiefs"}
    mine = EpisodeScope(frozenset({section.id}), frozenset(audiences))
    since = now - dt.timedelta(days=ALERT_DAYS)
    rows = tuple(
        AlertRow(e.id, e.opened_at.astimezone(BEIJING), e.level, e.level_label, e.factor_name,
                 e.state_label, e.last_detail)
        for e in list_episodes(engine, scope=mine, limit=200) if e.opened_at >= since
    )  # fmt: skip
    return True, f"近 {ALERT_DAYS} 天开启的河长预警", rows


def _compensation(
    engine: Engine, principal: Principal, section: Section, last: dt.date
) -> tuple[bool, str, tuple[CompensationRow, ...]]:
    unit = section.assessed_unit
    if not unit:
        return False, "对照断面，不参与生态补偿考核", ()
    if not may_see_money(principal, unit):
        return False, "补偿金额仅对管理人员与本县（市、区）用户显示", ()
    rows = []
    month = last.replace(day=1)
    for _ in range(COMPENSATION_MONTHS):
        href = f"/compensation/{month:%Y-%m}/{unit}"
        if issued_versions(engine=engine, month=month):
            statement, record, _ = issued_statement(engine=engine, month=month)
            try:
                own = statement.unit(unit)
            except KeyError:
                rows.append(CompensationRow(f"{month:%Y-%m}", record.version, "—", "—", href))
            else:
                rows.append(CompensationRow(f"{month:%Y-%m}", record.version,
                                            money_text(own.total_wan), money_text(own.reward_wan),
                                            href))  # fmt: skip
        else:
            rows.append(CompensationRow(f"{month:%Y-%m}", None, "—", "—", href))
        month = (month - dt.timedelta(days=1)).replace(day=1)
    note = "仅列已签发的最新版本；未签发的月份可在通报页查看草稿"
    return True, note, tuple(rows)


def section_extras(
    *, engine: Engine, registry: Registry, chiefs: RiverChiefs, principal: Principal,
    section: Section, days: int, now: dt.datetime,
) -> SectionExtras:  # fmt: skip
    """Everything the section page shows below its facts besides the daily strip."""
    first, last, values = section_values(engine=engine, registry=registry, section=section,
                                         days=days)  # fmt: skip
    forecasts = {f.parameter: f for f in section_forecasts(engine=engine, section_id=section.id)}
    by_key: dict[str, list[DailyValue]] = {}
    for value in values:
        by_key.setdefault(value.parameter, []).append(value)
    charts = tuple(
        indicator_chart(rows, section=section, first=first, last=last, forecast=forecasts.get(k))
        for k, rows in by_key.items()
    )
    shown, alerts_note, alerts = _alerts(engine, registry, chiefs, principal, section, now)
    money, money_note, money_rows = _compensation(engine, principal, section, last)
    base = f"/sections/{section.id}/data"
    return SectionExtras(
        days=days, windows=DAY_WINDOWS, first=first, last=last, charts=charts, values=values,
        downloads=(("CSV", f"{base}.csv?days={days}"), ("XLSX", f"{base}.xlsx?days={days}")),
        alerts_shown=shown, alerts_note=alerts_note, alerts=alerts,
        compensation_shown=money, compensation_note=money_note, compensation=money_rows,
    )  # fmt: skip


# --- downloads ----------------------------------------------------------------------------------


def _rows(values: Sequence[DailyValue]) -> list[tuple[str, str, str, str, str, int, str]]:
    return [(v.day.isoformat(), v.name_zh, v.parameter, v.text, v.unit, v.n_valid, v.flags)
            for v in values]  # fmt: skip


def _download_values(
    section_id: str, registry: Registry, engine: Engine, days: str | None
) -> tuple[Section, int, tuple[DailyValue, ...]]:
    try:
        section = registry.section(section_id)
    except KeyError:
        raise NotFoundError(f"未知断面 {section_id}") from None
    number = window_days(days)
    _, _, values = section_values(engine=engine, registry=registry, section=section, days=number)
    return section, number, values


@router.get("/sections/{section_id}/data.csv")
def section_csv(
    section_id: str,
    registry: RegistryDep,
    engine: EngineDep,
    _: Annotated[Principal, Depends(authorize)],
    days: str | None = None,
) -> Response:
    """断面逐日均值（CSV，UTF-8 带 BOM）：与断面页图中所示相同。"""
    section, number, values = _download_values(section_id, registry, engine, days)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    writer.writerows(_rows(values))
    name = f"{section.id}-daily-{number}d.csv"
    return Response(
        "\ufeff" + buffer.getvalue(), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )  # fmt: skip


@router.get("/sections/{section_id}/data.xlsx")
def section_xlsx(
    section_id: str,
    registry: RegistryDep,
    engine: EngineDep,
    _: Annotated[Principal, Depends(authorize)],
    days: str | None = None,
) -> Response:
    """断面逐日均值（XLSX）：与断面页图中所示相同。"""
    section, number, values = _download_values(section_id, registry, engine, days)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "逐日均值"
    sheet.append(list(CSV_HEADER))
    for day, name_zh, key, text, unit, n, flags in _rows(values):
        sheet.append([day, name_zh, key, float(text), unit, n, flags])
    buffer = io.BytesIO()
    book.save(buffer)
    name = f"{section.id}-daily-{number}d.xlsx"
    return Response(
        buffer.getvalue(),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )  # fmt: skip
