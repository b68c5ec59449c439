"""Compensation pages: a month's statement for the city and for each unit."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse

from compensation.errors import CompensationError
from service.api.deps import EngineDep, RegistryDep, VersionQuery, request_month
from service.errors import InputError, NotFoundError, QingliuError
from service.statements.issue import issued_versions
from service.statements.monthly import shown_statement
from service.time import BEIJING, beijing_today
from service.web.contexts import CompensationPageContext, VersionRow
from service.web.views import render

router = APIRouter(include_in_schema=False)

CHANGE_WORDS = {"added": "新增", "removed": "删除", "changed": "变更"}
FORMAT_LABELS = (("pdf", "PDF"), ("xlsx", "Excel"), ("html", "HTML"), ("csv", "CSV"),
                 ("json", "JSON"))  # fmt: skip


@router.get("/compensation")
def compensation_index() -> RedirectResponse:
    """The previous month's statement (statements are issued after the month ends)."""
    today = beijing_today()
    previous = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    return RedirectResponse(f"/compensation/{previous:%Y-%m}", status_code=307)


def _page(
    month: str, unit: str | None, engine: EngineDep, registry: RegistryDep,
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
    context = CompensationPageContext(
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
    )
    return render("compensation/month.html", context)


@router.get("/compensation/{month}", response_class=HTMLResponse)
def month_page(
    month: str, engine: EngineDep, registry: RegistryDep,
    version: VersionQuery = None, draft: bool = False,
) -> HTMLResponse:  # fmt: skip
    """全市月度通报。"""
    return _page(month, None, engine, registry, version, draft)


@router.get("/compensation/{month}/{unit}", response_class=HTMLResponse)
def unit_page(
    month: str, unit: str, engine: EngineDep, registry: RegistryDep,
    version: VersionQuery = None, draft: bool = False,
) -> HTMLResponse:  # fmt: skip
    """单位月度通报。"""
    return _page(month, unit, engine, registry, version, draft)
