"""Compensation pages: a month's statement for the city and for each unit.

A month that is not over also shows its **outlook** (补偿金预测, :mod:`service.outlook`): per unit
the expected amount, its range, P(due) and the most likely automatic-station events, in a block
of its own labelled 预测（非正式结算）/ forecast, not a statement, with its basis and assumptions.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from compensation.errors import CompensationError
from compensation.outlook import LABEL, AmountOutlook, Outlook, UnitOutlook
from compensation.rules import FACTOR_NAMES
from sections.dates import month_last_day
from service.api.deps import EngineDep, RegistryDep, VersionQuery, request_month
from service.errors import InputError, NotFoundError, QingliuError
from service.outlook import app_outlook_cache
from service.statements.issue import issued_versions
from service.statements.monthly import shown_statement
from service.time import BEIJING, beijing_today
from service.web.contexts import CompensationPageContext, VersionRow
from service.web.views import render

router = APIRouter(include_in_schema=False)

CHANGE_WORDS = {"added": "新增", "removed": "删除", "changed": "变更"}
FORMAT_LABELS = (("pdf", "PDF"), ("xlsx", "Excel"), ("html", "HTML"), ("csv", "CSV"),
                 ("json", "JSON"))  # fmt: skip


OUTLOOK_TOP_EVENTS = 3
"""How many section × factor events the outlook lists per unit."""


@dataclass(frozen=True)
class OutlookEventRow:
    """One section × factor event probability of the outlook block."""

    section_name: str = field(metadata={"help": "断面名称"})
    factor_name: str = field(metadata={"help": "因子中文名"})
    chances: tuple[str, ...] = field(metadata={"help": "各截止日的概率，如 “20日前 62%”"})
    certain: bool = field(metadata={"help": "已知数据中已发生"})


@dataclass(frozen=True)
class OutlookUnitRow:
    """One unit (or the city) in the outlook block."""

    unit: str = field(metadata={"help": "考核单位 id；全市合计为空串"})
    name: str = field(metadata={"help": "考核单位名称"})
    expected_wan: str = field(metadata={"help": "期望金额 [万元]"})
    range_wan: str = field(metadata={"help": "金额区间 [万元]，如 “30–60”"})
    p_due: str = field(metadata={"help": "需扣缴的概率，如 “57%”"})
    events: tuple[OutlookEventRow, ...] = field(metadata={"help": "最可能的连续超标事件"})


@dataclass(frozen=True)
class OutlookBlock:
    """The outlook block of a month page: a forecast, never a statement."""

    label: str = field(metadata={"help": "标注：预测（非正式结算）/ forecast, not a statement"})
    known_until: str = field(metadata={"help": "已知数据截止日（模拟自其次日起）"})
    scenarios: int = field(metadata={"help": "情景数"})
    forecast_text: str = field(metadata={"help": "余下各日的依据：预报（起点、模型）和近期历史"})
    event_text: str = field(metadata={"help": "事件定义，如 “连续 3 天超标事件”"})
    by_days: tuple[str, ...] = field(metadata={"help": "事件概率的截止日"})
    units: tuple[OutlookUnitRow, ...] = field(metadata={"help": "各考核单位"})
    total: OutlookUnitRow | None = field(metadata={"help": "全市合计；单位页为空"})
    series: tuple[str, ...] = field(metadata={"help": "各断面因子余下各日的依据"})
    notes: tuple[str, ...] = field(metadata={"help": "说明"})
    assumptions: tuple[str, ...] = field(metadata={"help": "预测方法的假设"})
    rule_assumptions: tuple[str, ...] = field(metadata={"help": "扣缴规则中未经核实的参数"})
    api_href: str = field(metadata={"help": "同一预测的接口地址（JSON）"})


@dataclass(frozen=True)
class CompensationOutlookPageContext(CompensationPageContext):
    """A month's compensation page with the outlook of a month not yet over."""

    outlook: OutlookBlock | None = field(
        default=None, metadata={"help": "补偿金预测；已结束的月份为空"}
    )
    outlook_href: str | None = field(
        default=None, metadata={"help": "已结束月份页上指向当月预测的链接"}
    )


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


@router.get("/compensation")
def compensation_index() -> RedirectResponse:
    """The previous month's statement (statements are issued after the month ends)."""
    today = beijing_today()
    previous = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    return RedirectResponse(f"/compensation/{previous:%Y-%m}", status_code=307)


def _page(
    request: Request, month: str, unit: str | None, engine: EngineDep, registry: RegistryDep,
    version: int | None, draft: bool,
) -> HTMLResponse:  # fmt: skip
    from service.statements.render import IssueInfo, render_html

    try:
        first = request_month(month)
    except InputError as exc:
        raise NotFoundError(str(exc)) from None
    unit_name = None
    if unit is not None:
        try:
            unit_name = registry.unit(unit).name
        except KeyError:
            raise NotFoundError(f"未知考核单位 {unit}") from None
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
        current = f"/compensation/{today:%Y-%m}" + (f"/{unit}" if unit else "")
        outlook_href = f"{current}#outlook"
    context = CompensationOutlookPageContext(
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
            )
            for r in issued_versions(engine=engine, month=first)
        ),
        units=tuple((u.id, u.name) for u in registry.units),
        downloads=tuple(
            (label, f"/api/compensation/{first:%Y-%m}/download?format={fmt}{query}")
            for fmt, label in FORMAT_LABELS
        ),
        statement_html=render_html(statement, unit=unit, issue=stamp, standalone=False),
        changes=tuple(f"{c.unit} {c.key}（{CHANGE_WORDS[c.change]}）" for c in diff),
        outlook=outlook,
        outlook_href=outlook_href,
    )
    return render("compensation/month.html", context)


@router.get("/compensation/{month}", response_class=HTMLResponse)
def month_page(
    request: Request, month: str, engine: EngineDep, registry: RegistryDep,
    version: VersionQuery = None, draft: bool = False,
) -> HTMLResponse:  # fmt: skip
    """全市月度通报（当月附补偿金预测）。"""
    return _page(request, month, None, engine, registry, version, draft)


@router.get("/compensation/{month}/{unit}", response_class=HTMLResponse)
def unit_page(
    request: Request, month: str, unit: str, engine: EngineDep, registry: RegistryDep,
    version: VersionQuery = None, draft: bool = False,
) -> HTMLResponse:  # fmt: skip
    """单位月度通报（当月附补偿金预测）。"""
    return _page(request, month, unit, engine, registry, version, draft)
