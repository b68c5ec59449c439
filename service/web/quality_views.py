"""The data-quality page ``/quality`` (数据质量, issue 14 point 7) and its review forms.

For the bureau (admin, analyst): every automatic station (registered in the ``station`` table or
the registry, or seen in observations) with its section and newest data, in red when silent
longer than the ``station_silent`` rule of ``sections/data/alert_rules.toml``
(:func:`sections.quality.stale_station`); a station × day grid of the last ``days`` days —
values received, valid (:func:`sections.validity.validity_frame`, the one rule), flagged by the
station (flag not N), flagged by QA/QC (QARTOD 3/4), below the detection limit ("<DL"), gaps
(expected values of the daily job's deciding indicators, one per ``expected_interval`` of
``qc_ranges.csv``, that never came) and the daily job's stored completeness; the review queue
(:func:`service.review.pending_reviews`) with 确认 / 否决 / 更正 as session forms that post to
``/quality/review/{id}`` (:func:`service.review.review_and_recompute`: the decision, then the day is
recomputed, as the CLI does); and the raw messages the doors refused in the window (never their
bytes).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from typing import Annotated, Final, Literal

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, Form, Path, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine

from sections.alert_rules import load_alert_rules
from sections.parameters import parameters
from sections.quality import qc_ranges, stale_station
from sections.registry import Registry
from sections.validity import validity_frame
from service.api.access import Principal, authorize
from service.api.deps import EngineDep, RegistryDep
from service.db import quality_queries as qq
from service.db import results
from service.db.ingest import list_stations
from service.errors import InputError
from service.jobs.daily import AUTOMATIC_INDICATORS
from service.jobs.observations import day_bounds
from service.review import ReviewItem, pending_reviews, review_and_recompute
from service.time import BEIJING, beijing_minute
from service.web.views import render

__all__ = [
    "DEFAULT_DAYS",
    "MAX_DAYS",
    "DayCell",
    "QualityPageContext",
    "ReasonCount",
    "RefusedRow",
    "ReviewRow",
    "StationRow",
    "router",
]

router = APIRouter(include_in_schema=False)

DEFAULT_DAYS: Final = 7
"""Days the grid shows unless ``?days=`` says otherwise."""
MAX_DAYS: Final = 31
"""The longest window of the grid [days]."""
REVIEW_ROWS: Final = 100
"""Pending values the page lists (oldest first); the count says how many wait in all."""
REFUSED_ROWS: Final = 50
"""Refused raw messages the page lists (newest first)."""
NOTE_MAX: Final = 256
"""The longest review note (``observation.review_note``)."""

_STATUS_LABELS: Final = {"rejected": "拒收", "unknown_station": "未登记站点",
                         "expired": "分包未收齐"}  # fmt: skip
_REASON_HEAD = re.compile(r"^([a-z_]{3,32}):")

Days = Annotated[int, Query(ge=1, le=MAX_DAYS, description="天数（1–31）")]
PrincipalDep = Annotated[Principal, Depends(authorize)]
ObservationIdPath = Annotated[int, Path(ge=1, description="观测值编号")]


@dataclass(frozen=True)
class DayCell:
    """One station's day in the grid."""

    day: str = field(metadata={"help": "日期 YYYY-MM-DD（北京时间）"})
    received: int = field(metadata={"help": "收到的值（全部参数）"})
    valid: int = field(metadata={"help": "有效值（按有效性规则计入均值的值）"})
    station_flagged: int = field(metadata={"help": "站点标记非 N 的值"})
    qc_flagged: int = field(metadata={"help": "质控可疑或无效（QARTOD 3/4）的值"})
    censored: int = field(metadata={"help": "低于检出限（<DL）的值"})
    gaps: int = field(metadata={"help": "缺测：考核因子应到而未到的值"})
    expected: int = field(metadata={"help": "考核因子当日应到的值（今日至当前）"})
    completeness: str = field(metadata={"help": "逐日评价的完整率（已评价时），如 80%；否则为空"})


@dataclass(frozen=True)
class StationRow:
    """One station: where it stands, when it last sent, its days."""

    station: str = field(metadata={"help": "站点 MN"})
    section_id: str = field(metadata={"help": "断面 id；未知为空"})
    section_name: str = field(metadata={"help": "断面名称；未知为“—”"})
    registration: str = field(metadata={"help": "已登记 / 已停用 / 未登记"})
    last_data: str = field(metadata={"help": "最新数据时间（北京时间）；无数据为空"})
    age: str = field(metadata={"help": "距今多久，如 3.5 小时；无数据为“无数据”"})
    silent: bool = field(metadata={"help": "超过站点无数据告警时限（或从无数据）"})
    days: tuple[DayCell, ...] = field(metadata={"help": "窗口内逐日计数，旧到新"})


@dataclass(frozen=True)
class ReviewRow:
    """One value waiting for review, as the page lists it."""

    id: int = field(metadata={"help": "观测值编号"})
    station: str = field(metadata={"help": "站点"})
    section_name: str = field(metadata={"help": "断面名称；未知为“—”"})
    parameter: str = field(metadata={"help": "参数（中文名与键）"})
    observed: str = field(metadata={"help": "观测时间（北京时间）"})
    value: str = field(metadata={"help": "数值；缺测为“—”"})
    flags: str = field(metadata={"help": "站点标记与质控标记"})
    why: str = field(metadata={"help": "待复核原因"})


@dataclass(frozen=True)
class RefusedRow:
    """One refused raw message (its bytes are never shown)."""

    id: int = field(metadata={"help": "原始报文编号"})
    received: str = field(metadata={"help": "接收时间（北京时间）"})
    source: str = field(metadata={"help": "来源 hj212、cnemc、manual"})
    peer: str = field(metadata={"help": "对端地址、URL 或文件名"})
    station: str = field(metadata={"help": "报文中的站点 MN；无则为空"})
    status: str = field(metadata={"help": "拒收 / 未登记站点 / 分包未收齐"})
    reason: str = field(metadata={"help": "原因"})
    size: int = field(metadata={"help": "报文长度 [字节]"})


@dataclass(frozen=True)
class ReasonCount:
    """How many refused messages of one kind the window holds."""

    status: str = field(metadata={"help": "拒收 / 未登记站点 / 分包未收齐"})
    reason: str = field(metadata={"help": "原因类别（原因的首段，如 bad_password）"})
    count: int = field(metadata={"help": "条数"})


@dataclass(frozen=True)
class QualityPageContext:
    """``/quality``."""

    title: str = field(metadata={"help": "页面标题"})
    days: int = field(metadata={"help": "窗口天数"})
    day_choices: tuple[int, ...] = field(metadata={"help": "可选的窗口天数"})
    first_day: str = field(metadata={"help": "窗口首日"})
    last_day: str = field(metadata={"help": "窗口末日（今日）"})
    day_labels: tuple[str, ...] = field(metadata={"help": "表头日期 MM-DD，旧到新"})
    now: str = field(metadata={"help": "页面生成时间（北京时间）"})
    silent_hours: float = field(metadata={"help": "站点无数据告警时限 [h]（alert_rules.toml）"})
    gap_basis: str = field(metadata={"help": "缺测的计算依据"})
    stations: tuple[StationRow, ...] = field(metadata={"help": "全部站点"})
    silent_count: int = field(metadata={"help": "超时无数据的站点数"})
    review: tuple[ReviewRow, ...] = field(metadata={"help": "待复核的值（最早的在前）"})
    review_count: int = field(metadata={"help": "待复核的值总数"})
    can_review: bool = field(metadata={"help": "当前用户可在此复核（会话登录的局内用户）"})
    csrf_token: str = field(metadata={"help": "防跨站请求伪造令牌"})
    note_max: int = field(metadata={"help": "复核说明的最大长度"})
    refused: tuple[RefusedRow, ...] = field(metadata={"help": "窗口内最近被拒收的原始报文"})
    refused_reasons: tuple[ReasonCount, ...] = field(metadata={"help": "窗口内拒收报文按原因计数"})
    refused_total: int = field(metadata={"help": "窗口内拒收报文总数"})
    message: str = field(metadata={"help": "刚完成或失败的操作的说明；无则为空"})


def _age(hours: float) -> str:
    if hours < 48:
        return f"{max(hours, 0.0):.1f} 小时"
    return f"{hours / 24:.0f} 天"


def _section_name(registry: Registry, section_id: str | None) -> str:
    if not section_id:
        return "—"
    try:
        return registry.section(section_id).name
    except KeyError:
        return section_id


def _expected(key: str, day: dt.date, now: dt.datetime) -> int:
    """Values of ``key`` due on Beijing ``day`` by ``now``: one per expected interval."""
    interval = qc_ranges(key).expected_interval
    start, end = day_bounds(day, day)
    if now >= end:
        return math.floor((end - start) / interval)
    return max(0, math.floor((now - start) / interval))


_COUNTS: Final = ("received", "valid", "station_flagged", "qc_flagged", "censored")
_NONE: Final = (0, 0, 0, 0, 0)

Counts = tuple[int, int, int, int, int]


def _day_counts(frame: pd.DataFrame) -> dict[tuple[str, dt.date], Counts]:
    """Per (station, day): received, valid, station_flagged, qc_flagged, censored."""
    verdict = validity_frame(
        frame["station_flag"], frame["qc_flag"], frame["qc_test"], frame["review_status"]
    )
    flag = frame["station_flag"].astype("string").str.strip().str.upper()
    qc = pd.to_numeric(frame["qc_flag"], errors="coerce")
    marks = pd.DataFrame({
        "station": frame["station"], "day": frame["day"],
        "received": 1,
        "valid": (verdict["counts"].to_numpy(dtype=bool) & frame["value"].notna().to_numpy()),
        "station_flagged": (flag.notna() & (flag != "N")).fillna(False).astype(bool),
        "qc_flagged": qc.isin([3, 4]),
        "censored": frame["censored"].astype(bool),
    })  # fmt: skip
    summed = marks.groupby(["station", "day"], sort=False)[list(_COUNTS)].sum()
    found: dict[tuple[str, dt.date], Counts] = {}
    for (station, day), numbers in zip(summed.index, summed.to_numpy(np.int64), strict=True):
        a, b, c, d, e = (int(x) for x in numbers)
        found[(str(station), day)] = (a, b, c, d, e)
    return found


def _arrived(frame: pd.DataFrame) -> dict[tuple[str, dt.date, str], int]:
    """Distinct times of each deciding indicator per (station, day, key)."""
    wanted = frame[frame["parameter"].isin(AUTOMATIC_INDICATORS)]
    counted = wanted.groupby(["station", "day", "parameter"])["observed_at"].nunique()
    return {
        (str(station), day, str(key)): int(n)
        for (station, day, key), n in zip(counted.index, counted.to_numpy(np.int64), strict=True)
    }


def _station_rows(
    engine: Engine, registry: Registry, days: list[dt.date], now: dt.datetime
) -> tuple[StationRow, ...]:
    registered = {s.mn: (s.section_id, s.active) for s in list_stations(engine=engine)}
    last = qq.last_data_by_station(engine=engine)
    sections_of = {s.station_mn: s.id for s in registry.sections if s.station_mn}
    # stations that sent data first, then registered or listed ones that never did
    names = sorted(
        set(registered) | set(last) | set(sections_of), key=lambda mn: (mn not in last, mn)
    )
    start, end = day_bounds(days[0], days[-1])
    frame = qq.window_observations(engine=engine, start=start, end=end)
    if frame.empty:
        counts: dict[tuple[str, dt.date], Counts] = {}
        arrived: dict[tuple[str, dt.date, str], int] = {}
    else:
        frame["day"] = frame["observed_at"].dt.tz_convert(BEIJING).dt.date
        counts, arrived = _day_counts(frame), _arrived(frame)
    stored = {day: results.daily_results_on(engine=engine, day=day) for day in days}
    due = {(day, key): _expected(key, day, now) for day in days for key in AUTOMATIC_INDICATORS}
    silence = dt.timedelta(hours=load_alert_rules().rule("station_silent").number("hours"))
    rows = []
    for mn in names:
        seen = last.get(mn)
        section_id = (
            registered[mn][0] if mn in registered
            else sections_of.get(mn) or (seen.section_id if seen else None)
        )  # fmt: skip
        registration = "未登记"
        if mn in registered:
            registration = "已登记" if registered[mn][1] else "已停用"
        elif mn in sections_of:
            registration = "名录"
        cells = []
        for day in days:
            expected = sum(due[(day, key)] for key in AUTOMATIC_INDICATORS)
            missing = sum(max(0, due[(day, key)] - arrived.get((mn, day, key), 0))
                          for key in AUTOMATIC_INDICATORS)  # fmt: skip
            record = stored[day].get(section_id or "")
            received, valid, flagged, qc_flagged, censored = counts.get((mn, day), _NONE)
            cells.append(DayCell(
                day.isoformat(), received, valid, flagged, qc_flagged, censored, missing, expected,
                "" if record is None else f"{record.completeness:.0%}",
            ))  # fmt: skip
        hours = None if seen is None else (now - seen.observed_at) / dt.timedelta(hours=1)
        rows.append(StationRow(
            mn, section_id or "", _section_name(registry, section_id), registration,
            "" if seen is None else beijing_minute(seen.observed_at),
            "无数据" if hours is None else _age(hours),
            stale_station(None if seen is None else seen.observed_at, now, max_silence=silence),
            tuple(cells),
        ))  # fmt: skip
    return tuple(rows)


def _review_row(item: ReviewItem, registry: Registry) -> ReviewRow:
    known = parameters().get(item.parameter)
    name = f"{known.name_zh}（{item.parameter}）" if known else item.parameter
    qc = (
        ""
        if item.qc_flag is None
        else f"质控 {item.qc_flag}" + (f"（{item.qc_test}）" if item.qc_test else "")
    )
    flags = "；".join(x for x in (f"站点 {item.station_flag}" if item.station_flag else "", qc)
                     if x)  # fmt: skip
    return ReviewRow(
        item.id, item.station, _section_name(registry, item.section_id), name,
        beijing_minute(item.observed_at), "—" if item.value is None else f"{item.value:g}",
        flags or "—", item.why,
    )  # fmt: skip


def _reason_head(reason: str) -> str:
    found = _REASON_HEAD.match(reason)
    if found:
        return found.group(1)
    return reason[:60] or "—"


def _refused(
    engine: Engine, since: dt.datetime
) -> tuple[tuple[RefusedRow, ...], tuple[ReasonCount, ...], int]:
    rows = tuple(
        RefusedRow(m.id, beijing_minute(m.received_at), m.source, m.peer, m.station or "",
                   _STATUS_LABELS.get(m.parse_status, m.parse_status), m.reason, m.size)
        for m in qq.refused_messages(engine=engine, since=since, limit=REFUSED_ROWS)
    )  # fmt: skip
    grouped: dict[tuple[str, str], int] = {}
    for status, reason, count in qq.refused_counts(engine=engine, since=since):
        key = (status, _reason_head(reason))
        grouped[key] = grouped.get(key, 0) + count
    reasons = tuple(
        ReasonCount(_STATUS_LABELS.get(status, status), head, count)
        for (status, head), count in sorted(grouped.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    return rows, reasons, sum(grouped.values())


def _page(
    engine: Engine, registry: Registry, principal: Principal, days: int, message: str = "",
    status_code: int = 200,
) -> HTMLResponse:  # fmt: skip
    now = dt.datetime.now(dt.UTC)
    today = now.astimezone(BEIJING).date()
    window = [today - dt.timedelta(days=n) for n in range(days - 1, -1, -1)]
    stations = _station_rows(engine, registry, window, now)
    items, review_count = pending_reviews(engine=engine, limit=REVIEW_ROWS)
    since, _ = day_bounds(window[0], window[0])
    refused, reasons, refused_total = _refused(engine, since)
    intervals = sorted({qc_ranges(k).expected_interval / dt.timedelta(hours=1)
                        for k in AUTOMATIC_INDICATORS})  # fmt: skip
    basis = (
        f"缺测：考核因子（{'、'.join(parameters()[k].name_zh for k in AUTOMATIC_INDICATORS)}）"
        f"每 {'/'.join(f'{h:g}' for h in intervals)} 小时应到一个值，未到即计为缺测"
    )
    can = principal.via == "session" and principal.role is not None
    page = render("quality/index.html", QualityPageContext(
        "数据质量", days, tuple(sorted({DEFAULT_DAYS, 14, MAX_DAYS, days})),
        window[0].isoformat(), window[-1].isoformat(),
        tuple(f"{d:%m-%d}" for d in window), beijing_minute(now),
        load_alert_rules().rule("station_silent").number("hours"), basis, stations,
        sum(s.silent for s in stations), tuple(_review_row(i, registry) for i in items),
        review_count, can, principal.csrf or "", NOTE_MAX, refused, reasons, refused_total,
        message,
    ))  # fmt: skip
    page.status_code = status_code
    return page


@router.get("/quality", response_class=HTMLResponse)
def quality_page(
    engine: EngineDep, registry: RegistryDep, principal: PrincipalDep, days: Days = DEFAULT_DAYS
) -> HTMLResponse:
    """数据质量：站点与最新数据、逐日计数与缺测、待复核的值、被拒收的报文。"""
    return _page(engine, registry, principal, days)


@router.post("/quality/review/{observation_id}", response_class=HTMLResponse)
def quality_review(
    observation_id: ObservationIdPath,
    engine: EngineDep,
    registry: RegistryDep,
    principal: PrincipalDep,
    action: Annotated[Literal["accept", "reject", "replace"], Form()],
    note: Annotated[str, Form(max_length=NOTE_MAX)] = "",
    value: Annotated[str, Form(max_length=32)] = "",
    days: Annotated[int, Form(ge=1, le=MAX_DAYS)] = DEFAULT_DAYS,
) -> Response:
    """复核一个值（网页表单；会话与 CSRF 令牌由权限表检查），重算其所在日，回到本页。"""
    try:
        number = None
        if action == "replace":
            try:
                number = float(value.strip())
            except ValueError:
                raise InputError("更正须给出有效数值 / replace needs a number") from None
        review_and_recompute(
            engine=engine, registry=registry, observation_id=observation_id, action=action,
            value=number, note=note, actor=principal.actor,
        )  # fmt: skip
    except InputError as exc:
        return _page(engine, registry, principal, days, f"观测值 {observation_id}：{exc}", 400)
    return RedirectResponse(f"/quality?days={days}#review", status_code=303)
