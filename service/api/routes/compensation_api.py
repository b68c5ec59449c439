"""``/api/compensation``: monthly compensation statements, issued versions and downloads."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Annotated, Any  # Any: JSON answers

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from compensation.diff import LineChange
from compensation.statement import MonthlyStatement
from sections.registry import Registry
from service.api.access import Principal, authorize
from service.api.deps import EngineDep, LetterheadDep, RegistryDep, VersionQuery, request_month
from service.api.headers import DOCUMENT_CSP
from service.appeals.records import list_appeals
from service.errors import NotFoundError
from service.statements.issue import IssueRecord, issue_statement, issued_versions
from service.statements.monthly import draft_statement, shown_statement
from service.statements.output import (
    MEDIA_TYPES,
    StatementFormat,
    render_statement,
    statement_document,
)

router = APIRouter(prefix="/api/compensation", tags=["compensation"])

MONTH_EXAMPLE = "2025-03"
DraftQuery = Annotated[bool, Query(description="true：忽略已签发版本，按当前数据计算草稿")]


def _month(text: str) -> dt.date:
    return request_month(text)  # InputError (422): not a month, or out of range


def _unit(registry: Registry, unit: str) -> None:
    try:
        registry.unit(unit)
    except KeyError:
        raise NotFoundError(f"未知考核单位 / unknown unit {unit!r}") from None


def _shown(
    engine: Engine, registry: Registry, month: str, version: int | None, draft: bool
) -> tuple[MonthlyStatement, IssueRecord | None, tuple[LineChange, ...]]:
    return shown_statement(
        engine=engine, registry=registry, month=_month(month), version=version, draft=draft
    )


def _appeals(engine: Engine, month: dt.date, unit: str | None) -> list[dict[str, Any]]:
    found, _ = list_appeals(engine=engine, month=month, unit=unit, limit=500)
    return [a.as_dict() for a in found]


STATEMENT_EXAMPLE = {
    "month": "2025-03",
    "rule_set": {"id": "hengshui-2021", "document": "衡政办字〔2021〕3号", "assumptions": ["…"]},
    "total_wan": "60",
    "units": [
        {
            "unit": "jizhou", "name": "冀州区", "total_wan": "60", "total_yuan": "600000",
            "lines": [{"section": "fuyang-jizhou", "factor": "cod", "value": "42.0",
                       "standard": "30", "inflow_value": None, "multiple": "0.4", "tiers": 2,
                       "amount_wan": "60", "basis": "抽测最高值", "clause": "…"}],
            "events": [], "exempt": [], "rewards": [],
        }
    ],
    "issue": {"version": 1, "content_hash": "…", "issued_at": "2025-04-03T09:00:00+00:00"},
    "appeals": [],
}  # fmt: skip


@router.get(
    "/{month}",
    summary="月度生态补偿通报 / a month's compensation statement",
    responses={200: {"content": {"application/json": {"example": STATEMENT_EXAMPLE}}}},
)
def get_month(
    month: str, engine: EngineDep, registry: RegistryDep, version: VersionQuery = None,
    draft: DraftQuery = False,
) -> dict[str, Any]:  # fmt: skip
    """The newest issued version of the month (``issue`` set), or a draft (``issue`` null),
    with the month's appeals (``appeals``, newest first)."""
    statement, record, _ = _shown(engine, registry, month, version, draft)
    return {**statement_document(statement, issue=record),
            "appeals": _appeals(engine, statement.month, None)}  # fmt: skip


@router.get("/{month}/versions", summary="已签发版本 / issued versions of a month")
def get_versions(month: str, engine: EngineDep) -> list[dict[str, Any]]:
    """Every issued version, oldest first, with its hash and number of changed lines."""
    return [
        {**asdict(r), "month": f"{r.month:%Y-%m}", "issued_at": r.issued_at.isoformat()}
        for r in issued_versions(engine=engine, month=_month(month))
    ]


class IssueAnswer(BaseModel):
    """The result of issuing a month."""

    created: bool = Field(description="是否新增了版本（内容未变则否）")
    version: int
    content_hash: str
    changes: list[dict[str, Any]] = Field(description="较上一版的逐行差异")


@router.post("/{month}/issue", response_model=IssueAnswer, summary="签发 / issue a month")
def post_issue(
    month: str,
    request: Request,
    engine: EngineDep,
    registry: RegistryDep,
    principal: Annotated[Principal, Depends(authorize)],
) -> IssueAnswer:
    """Compute the month now and store it as a new immutable version unless unchanged."""
    statement = draft_statement(engine=engine, registry=registry, month=_month(month))
    address = request.client.host if request.client else ""
    result = issue_statement(
        engine=engine, statement=statement, actor=principal.actor, address=address
    )
    return IssueAnswer(
        created=result.created,
        version=result.record.version,
        content_hash=result.record.content_hash,
        changes=[asdict(c) for c in result.diff],
    )


@router.get("/{month}/download", summary="下载通报 / download a statement")
def download(
    month: str, engine: EngineDep, registry: RegistryDep, head: LetterheadDep,
    format: Annotated[StatementFormat, Query(description="json, csv, xlsx, html, pdf")] = (
        StatementFormat.pdf
    ),
    unit: Annotated[str | None, Query(description="考核单位 id；缺省为全市")] = None,
    version: VersionQuery = None, draft: DraftQuery = False,
) -> Response:  # fmt: skip
    """The statement (or one unit's) as a file."""
    if unit is not None:
        _unit(registry, unit)
    statement, record, _ = _shown(engine, registry, month, version, draft)
    data = render_statement(statement, fmt=format, unit=unit, issue=record, head=head)
    stem = f"qingliu-statement-{month}" + (f"-{unit}" if unit else "")
    stem += f"-v{record.version}" if record else "-draft"
    headers = {"Content-Disposition": f'attachment; filename="{stem}.{format.value}"'}
    if format is StatementFormat.html:
        headers["Content-Security-Policy"] = DOCUMENT_CSP
    return Response(content=data, media_type=MEDIA_TYPES[format], headers=headers)


@router.get("/{month}/{unit}", summary="单位月度通报 / one unit's statement")
def get_unit(
    month: str, unit: str, engine: EngineDep, registry: RegistryDep,
    version: VersionQuery = None, draft: DraftQuery = False,
) -> dict[str, Any]:  # fmt: skip
    """One unit of the month's statement, with the unit's appeals of the month."""
    _unit(registry, unit)
    statement, record, _ = _shown(engine, registry, month, version, draft)
    return {**statement_document(statement, unit=unit, issue=record),
            "appeals": _appeals(engine, statement.month, unit)}  # fmt: skip
