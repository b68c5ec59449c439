"""Compensation pages: the months with data, a month's statement (city or unit), a year.

``/compensation`` opens the newest month with data (:func:`months_with_data`), or says that there
is none; ``?month=YYYY-MM`` goes to a month (the picker's form, no script), ``?year=YYYY`` shows the
year: per unit and month the amount of the statement as shown (the newest issued version, else
the draft), with the year totals. A month's page opens with the picker and the summary table,
whose rows name the reason of every deduction (tiers, automatic-station events, exemptions); the
statement itself (every value and clause) follows behind 取值明细.

A month that is not over also shows its **outlook** (补偿金预测, :mod:`service.outlook`): per unit
the expected amount, its range, P(due) and the most likely automatic-station events, in a block
of its own labelled 预测（非正式结算）/ forecast, not a statement, with its basis and assumptions.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import Engine, func, select

from compensation.errors import CompensationError
from compensation.outlook import LABEL, AmountOutlook, Outlook, UnitOutlook
from compensation.rules import FACTOR_NAMES, FACTORS
from compensation.statement import MonthlyStatement
from sections.dates import check_period, month_last_day
from sections.registry import Registry
from service.accounts.users import Role
from service.api.access import Principal, authorize
from service.api.deps import (
    EngineDep,
    RegistryDep,
    VersionQuery,
    letterhead_of,
    request_month,
)
from service.appeals.records import settled_versions
from service.db.models import MonthlyResult, Observation, SectionStatus, StatementIssue, table_of
from service.errors import InputError, NotFoundError, QingliuError
from service.outlook import app_outlook_cache
from service.statements.issue import issued_versions
from service.statements.monthly import shown_statement
from service.time import BEIJING, beijing_today
from service.web.appeal_views import filing_href, statement_appeals
from service.web.compensation_contexts import (
    CompensationEmptyContext,
    CompensationMonthContext,
    CompensationYearContext,
    MonthOption,
    MonthPicker,
    OutlookBlock,
    OutlookEventRow,
    OutlookUnitRow,
    month_text,
    summary_table,
    year_rows,
)
from service.web.contexts import VersionRow
from service.web.views import render

router = APIRouter(include_in_schema=False)

CHANGE_WORDS = {"added": "新增", "removed": "删除", "changed": "变更"}
FORMAT_LABELS = (("pdf", "PDF"), ("xlsx", "Excel"), ("html", "HTML"), ("csv", "CSV"),
                 ("json", "JSON"))  # fmt: skip

_OBSERVATION = table_of(Observation)
_MONTHLY = table_of(MonthlyResult)
_STATUS = table_of(SectionStatus)
_ISSUE = table_of(StatementIssue)


OUTLOOK_TOP_EVENTS = 3
"""How many section × factor events the outlook lists per unit."""


def _wan(yuan: Decimal) -> str:
    """An amount in 元 as 万元 text (``300000`` → ``30``, ``216000`` → ``21.6``)."""
    wan = (yuan / Decimal(10_000)).quantize(Decimal("0.1"))
    return f"{wan.normalize():f}" if wan == wan.to_integral_value() else f"{wan:f}"


def _percent(share: float) -> str:
    """A probability as a percentage; a small one that is not zero is "<1%"."""
    return "<1%" if 0 < share < 0.01 else f"{share * 100:.0f}%"


def _amount_row(unit: str, name: str, amount: AmountOutlook,
                events: tuple[OutlookEventRow, ...]) -> OutlookUnitRow:  # fmt: skip
    low, high = _wan(amount.low_yuan), _wan(amount.high_yuan)
    return OutlookUnitRow(
        unit=unit, name=name, expected_wan=_wan(amount.expected_yuan),
        range_wan=low if low == high else f"{low}–{high}", p_due=_percent(amount.p_due),
        events=events,
    )  # fmt: skip


def _event_rows(outlook: Outlook, unit: UnitOutlook) -> tuple[OutlookEventRow, ...]:
    last = outlook.by_days[-1]
    rows = []
    for top in unit.top_events(last, OUTLOOK_TOP_EVENTS):
        chances = tuple(
            f"{e.by.day}日前 {_percent(e.probability)}"
            for e in unit.events
            if (e.section, e.factor) == (top.section, top.factor)
        )
        rows.append(OutlookEventRow(outlook.section_name(top.section),
                                    FACTOR_NAMES.get(top.factor, top.factor), chances,
                                    top.certain))  # fmt: skip
    return tuple(rows)


def outlook_block(outlook: Outlook, *, unit: str | None = None) -> OutlookBlock:
    """The page block of an outlook, of every unit or of one."""
    basis = outlook.basis
    if basis.forecast_issued_at is not None:
        models = "、".join(basis.forecast_models) or "—"
        origin = basis.forecast_issued_at.astimezone(BEIJING)
        forecast = f"4 小时预报（起点 {origin:%Y-%m-%d %H:%M}，模型 {models}）和近期历史"
    else:
        forecast = "近期历史（未使用预报）"
    units = tuple(
        _amount_row(u.unit, u.name, u.amount, _event_rows(outlook, u))
        for u in outlook.units
        if unit is None or u.unit == unit
    )
    series = tuple(
        f"{outlook.section_name(s.section)} {FACTOR_NAMES.get(s.factor, s.factor)}：已知 "
        f"{s.known_days} 天，预报 {s.forecast_days} 天，历史模型 {s.history_days} 天"
        + (f"，今日按已测时段 {s.observed_days} 天" if s.observed_days else "")
        + (f"，未模拟 {s.missing_days} 天" if s.missing_days else "")
        + (f"（{s.model}）" if s.model else "")
        for s in basis.series
    )
    known_until = basis.simulate_from - dt.timedelta(days=1)
    return OutlookBlock(
        label=LABEL,
        known_until=f"{known_until:%Y-%m-%d}",
        scenarios=basis.scenarios,
        forecast_text=forecast,
        event_text=(
            f"连续 {outlook.event_days} 天超标事件" if outlook.event_days else "（本规则无事件）"
        ),
        by_days=tuple(f"{d.month}月{d.day}日" for d in outlook.by_days),
        units=units,
        total=None if unit is not None else _amount_row("", "全市合计", outlook.total, ()),
        series=series,
        notes=basis.notes,
        assumptions=basis.assumptions,
        rule_assumptions=outlook.rule_assumptions,
        api_href=f"/api/compensation/outlook?month={outlook.month:%Y-%m}"
        + (f"&unit={unit}" if unit else ""),
    )


# --- months with data ---------------------------------------------------------------------------


def _beijing_month(moment: dt.datetime) -> dt.date:
    aware = moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment
    return aware.astimezone(BEIJING).date().replace(day=1)


def _month_start_utc(month: dt.date) -> dt.datetime:
    """The instant a Beijing month begins, in UTC."""
    return dt.datetime.combine(month, dt.time(0), BEIJING).astimezone(dt.UTC)


def _next_month(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def months_with_data(*, engine: Engine, registry: Registry, today: dt.date) -> tuple[dt.date, ...]:
    """The months (first days, oldest first) a statement can be computed or shown for.

    A month has data when a section of the registry has a value of a compensation factor
    observed in it (Beijing time), or it has a stored monthly result, a section status (断流,
    结冰 …) or an issued statement. Months after ``today``'s are left out.

    Observations are walked per section through the (section, time) index: one indexed look-up
    per section and month with data (a loose index scan), not a scan of the table.
    """
    months: set[dt.date] = set()
    with engine.connect() as connection:
        for section in registry.sections:
            since: dt.datetime | None = None
            while True:
                query = select(func.min(_OBSERVATION.c.observed_at)).where(
                    _OBSERVATION.c.section_id == section.id,
                    _OBSERVATION.c.parameter.in_(FACTORS),
                    _OBSERVATION.c.value.is_not(None),
                )
                if since is not None:
                    query = query.where(_OBSERVATION.c.observed_at >= since)
                first = connection.execute(query).scalar()
                if first is None:
                    break
                month = _beijing_month(first)
                months.add(month)
                since = _month_start_utc(_next_month(month))
        for table in (_MONTHLY, _STATUS, _ISSUE):
            for value in connection.execute(select(table.c.month).distinct()).scalars():
                months.add(value.replace(day=1))
    current = today.replace(day=1)
    return tuple(sorted(m for m in months if m <= current))


# --- routes -------------------------------------------------------------------------------------


def _month_href(month: dt.date, unit: str | None) -> str:
    return f"/compensation/{month:%Y-%m}" + (f"/{unit}" if unit else "")


def _year_href(year: int, unit: str | None) -> str:
    return f"/compensation?year={year}" + (f"&unit={unit}" if unit else "")


def _known_unit(registry: Registry, unit: str | None) -> str | None:
    """The unit's name; :class:`NotFoundError` when it is not in the registry."""
    if unit is None:
        return None
    try:
        return registry.unit(unit).name
    except KeyError:
        raise NotFoundError(f"未知考核单位 {unit}") from None


def _parse_year(text: str) -> int:
    if not re.fullmatch(r"\d{4}", text.strip()):
        raise NotFoundError(f"年份应为 YYYY：{text!r} / a year is YYYY")
    year = int(text)
    try:
        check_period(dt.date(year, 1, 1), today=beijing_today())
    except InputError as exc:
        raise NotFoundError(str(exc)) from None
    return year


TextQuery = Annotated[str | None, Query(max_length=16)]


@router.get("/compensation", response_class=HTMLResponse, response_model=None)
def compensation_index(
    engine: EngineDep, registry: RegistryDep, principal: Annotated[Principal, Depends(authorize)],
    month: TextQuery = None, year: TextQuery = None,
    unit: Annotated[str | None, Query(max_length=64)] = None,
) -> HTMLResponse | RedirectResponse:  # fmt: skip
    """生态补偿：最近一个有数据的月份；``?month=`` 转到该月，``?year=`` 为年度汇总。
    A county user without ``?unit=`` (the menu's link) is sent to its own unit."""
    unit = unit or None
    if unit is None and principal.role is Role.COUNTY and principal.unit:
        asked = {"month": month, "year": year, "unit": principal.unit}
        query = urlencode({k: v for k, v in asked.items() if v})
        return RedirectResponse(f"/compensation?{query}", status_code=303)
    _known_unit(registry, unit)
    if month:
        try:
            first = request_month(month)
        except InputError as exc:
            raise NotFoundError(str(exc)) from None
        return RedirectResponse(_month_href(first, unit), status_code=303)
    if year:
        return _year_page(_parse_year(year), unit, engine, registry)
    months = months_with_data(engine=engine, registry=registry, today=beijing_today())
    if not months:
        return render("compensation/empty.html", CompensationEmptyContext(
            title="生态补偿",
            message="尚无任何月份的监测数据或已签发的通报，暂无生态补偿金可以计算。",
            hints=(
                "自动站数据经 HJ 212 接收入库（qingliu receive），实验室与抽测结果经手工导入"
                "（qingliu import）；入库后本页即转到最近一个有数据的月份。",
                "仅作演示时，可运行 qingliu demo 生成一年的模拟数据。",
            ),
        ))  # fmt: skip
    return RedirectResponse(_month_href(months[-1], unit), status_code=307)


def _picker(months: tuple[dt.date, ...], first: dt.date, unit: str | None) -> MonthPicker:
    def option(month: dt.date) -> MonthOption:
        return MonthOption(f"{month:%Y-%m}", month_text(month), _month_href(month, unit),
                           month == first)  # fmt: skip

    before = [m for m in months if m < first]
    after = [m for m in months if m > first]
    return MonthPicker(
        previous=option(before[-1]) if before else None,
        next=option(after[0]) if after else None,
        months=tuple(option(m) for m in reversed(months)),
        unit=unit,
        shown_has_data=first in months,
        year_href=_year_href(first.year, unit),
        year_label=f"{first.year}年全年",
    )


def _unit_links(
    registry: Registry, first: dt.date, principal: Principal
) -> tuple[tuple[str, str], ...]:
    if principal.role is Role.COUNTY and principal.unit:
        own = registry.unit(principal.unit)
        return ((own.name, _month_href(first, own.id)),)
    city = ("全市", _month_href(first, None))
    return (city, *((u.name, _month_href(first, u.id)) for u in registry.units))


def _page(
    request: Request, month: str, unit: str | None, engine: EngineDep, registry: RegistryDep,
    version: int | None, draft: bool, principal: Principal,
) -> HTMLResponse:  # fmt: skip
    from service.statements.render import IssueInfo, render_html

    try:
        first = request_month(month)
    except InputError as exc:
        raise NotFoundError(str(exc)) from None
    unit_name = _known_unit(registry, unit)
    try:
        statement, record, diff = shown_statement(
            engine=engine, registry=registry, month=first, version=version, draft=draft
        )
    except (QingliuError, CompensationError) as exc:
        raise NotFoundError(str(exc)) from None
    stamp = None if record is None else IssueInfo(record.version, record.content_hash,
                                                  record.issued_at)  # fmt: skip
    query = f"&unit={unit}" if unit else ""
    query += f"&version={record.version}" if record else "&draft=true"
    now = dt.datetime.now(dt.UTC)
    today = now.astimezone(BEIJING).date()
    outlook = outlook_href = None
    if month_last_day(first) >= today:
        found = app_outlook_cache(request.app.state).get(
            engine=engine, registry=registry, month=first, now=now
        )
        outlook = outlook_block(found, unit=unit)
    else:
        outlook_href = f"{_month_href(today, unit)}#outlook"
    months = months_with_data(engine=engine, registry=registry, today=today)
    scope = principal.unit if principal.role is Role.COUNTY else unit
    linked = settled_versions(engine=engine, month=first)
    context = CompensationMonthContext(
        title=f"{first:%Y年%m月}生态补偿金扣缴通报" + (f" · {unit_name}" if unit_name else ""),
        month=f"{first:%Y-%m}",
        unit=unit,
        unit_name=unit_name,
        shown_version=None if record is None else record.version,
        versions=tuple(
            VersionRow(
                r.version,
                r.content_hash,
                f"{r.issued_at.astimezone(BEIJING):%Y-%m-%d %H:%M}",
                r.changes,
                linked.get(r.version, ()),
            )
            for r in issued_versions(engine=engine, month=first)
        ),
        units=tuple((u.id, u.name) for u in registry.units),
        downloads=tuple(
            (label, f"/api/compensation/{first:%Y-%m}/download?format={fmt}{query}")
            for fmt, label in FORMAT_LABELS
        ),
        statement_html=render_html(statement, unit=unit, issue=stamp, standalone=False,
                                   head=letterhead_of(request)),
        changes=tuple(f"{c.unit} {c.key}（{CHANGE_WORDS[c.change]}）" for c in diff),
        outlook=outlook,
        outlook_href=outlook_href,
        picker=_picker(months, first, unit),
        summary=summary_table(statement, unit=unit, href=lambda u: _month_href(first, u)),
        unit_links=_unit_links(registry, first, principal),
        appeals=statement_appeals(engine=engine, registry=registry, month=first, unit=scope),
        appeal_href=None if record is None or draft else filing_href(
            engine=engine, settings=request.app.state.settings, principal=principal,
            month=first, unit=unit,
        ),
    )  # fmt: skip
    return render("compensation/month.html", context)


def _year_page(year: int, unit: str | None, engine: Engine, registry: Registry) -> HTMLResponse:
    """Per unit and month of ``year`` the amount of the statement as shown, and the totals."""
    unit_name = _known_unit(registry, unit)
    months = months_with_data(engine=engine, registry=registry, today=beijing_today())
    statements: dict[dt.date, tuple[MonthlyStatement, bool]] = {}
    for month in (m for m in months if m.year == year):
        try:
            statement, record, _ = shown_statement(engine=engine, registry=registry, month=month)
        except (QingliuError, CompensationError) as exc:
            raise NotFoundError(f"{month:%Y-%m}：{exc}") from None
        statements[month] = (statement, record is not None)
    units = [(u.id, u.name) for u in registry.units if unit is None or u.id == unit]
    rows, total = year_rows(
        year, statements, units=units, href=lambda m, u: _month_href(m, u or unit)
    )
    years = sorted({m.year for m in months}, reverse=True)
    return render("compensation/year.html", CompensationYearContext(
        title=f"{year}年生态补偿金扣缴汇总" + (f" · {unit_name}" if unit_name else ""),
        year=year,
        unit=unit,
        unit_name=unit_name,
        month_headers=tuple(f"{m}月" for m in range(1, 13)),
        rows=rows,
        total=total if unit is None else None,
        years=tuple((str(y), f"{y}年", y == year) for y in years),
        previous_href=next((_year_href(y, unit) for y in years if y < year), None),
        next_href=next((_year_href(y, unit) for y in reversed(years) if y > year), None),
        drafts=tuple(month_text(m) for m, (_, issued) in statements.items() if not issued),
        has_data=bool(statements),
    ))  # fmt: skip


@router.get("/compensation/{month}", response_class=HTMLResponse)
def month_page(
    request: Request, month: str, engine: EngineDep, registry: RegistryDep,
    principal: Annotated[Principal, Depends(authorize)], version: VersionQuery = None,
    draft: bool = False,
) -> HTMLResponse:  # fmt: skip
    """全市月度通报（当月附补偿金预测）。"""
    return _page(request, month, None, engine, registry, version, draft, principal)


@router.get("/compensation/{month}/{unit}", response_class=HTMLResponse)
def unit_page(
    request: Request, month: str, unit: str, engine: EngineDep, registry: RegistryDep,
    principal: Annotated[Principal, Depends(authorize)], version: VersionQuery = None,
    draft: bool = False,
) -> HTMLResponse:  # fmt: skip
    """单位月度通报（当月附补偿金预测）。"""
    return _page(request, month, unit, engine, registry, version, draft, principal)
