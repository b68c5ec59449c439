"""The appeal pages: ``/appeals`` (the list), ``/appeals/new`` (the filing form of a county),
``/appeals/{id}`` (one appeal with its attachments, the observations behind the line, the
bureau's decision forms and the history from the audit log).

Forms post to the same routes the API offers, as forms (CSRF token checked by the access
table); after a step the page redirects to the appeal, and a refused step shows the appeal
again with the reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Final

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from compensation.rules import FACTOR_NAMES
from sections.registry import Registry
from service.accounts.audit import audit_events
from service.accounts.users import Role
from service.api.access import Principal, authorize
from service.api.deps import EngineDep, RegistryDep, SettingsDep, request_month
from service.api.routes.appeals_api import (
    STATE_FILTERS,
    AppealIdPath,
    address_of,
    attachment_response,
    filing_unit,
    own_unit,
    read_uploads,
    visible_appeal,
)
from service.appeals.attachments import ALLOWED_KINDS, MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS
from service.appeals.evidence import EVIDENCE_LIMIT, observations_behind, review_for_appeal
from service.appeals.lines import KIND_WORDS, appealable_lines
from service.appeals.records import AppealRecord, appeal_attachment, list_appeals
from service.appeals.workflow import (
    MAX_NOTE,
    MAX_REASON,
    accept_appeal,
    appeal_deadline,
    appealed_line,
    file_appeal,
    reject_appeal,
    settle_appeal,
)
from service.errors import InputError, NotFoundError, QingliuError, error_payload
from service.statements.issue import issued_months, issued_statement, issued_versions
from service.statements.wording import month_label
from service.time import beijing_minute
from service.web.appeal_contexts import (
    AppealPageContext,
    AppealRow,
    AppealsPageContext,
    AttachmentRow,
    ChangeLine,
    EvidenceLine,
    FilingPageContext,
    HistoryEntry,
    LineOption,
    appeal_row,
    unit_name,
)
from service.web.views import render

__all__ = ["filing_href", "router", "statement_appeals"]

router = APIRouter(include_in_schema=False)

PrincipalDep = Annotated[Principal, Depends(authorize)]
LIST_ROWS: Final = 200
_BUREAU: Final = (Role.ADMIN, Role.ANALYST)
_ACTION_WORDS: Final = {
    "appeal.file": "提出申诉", "appeal.accept": "受理", "appeal.reject": "驳回",
    "appeal.review": "复核观测值", "appeal.settle": "办结",
}  # fmt: skip
_REVIEW_WORDS: Final = {"accept": "确认有效", "reject": "否决", "replace": "更正"}


# --- the list ---------------------------------------------------------------------------------


_STATE_OPTIONS: Final = (
    ("open", "未办结"), ("filed", "待受理"), ("accepted", "复核中"), ("settled", "已办结"),
    ("rejected", "已驳回"), ("all", "全部"),
)  # fmt: skip


def _may_file(principal: Principal) -> bool:
    return principal.role in _BUREAU or (principal.role is Role.COUNTY and bool(principal.unit))


@router.get("/appeals", response_class=HTMLResponse)
def appeals_page(
    engine: EngineDep, registry: RegistryDep, principal: PrincipalDep,
    state: Annotated[str, Query(max_length=16)] = "all",
) -> HTMLResponse:  # fmt: skip
    """申诉：各县（市、区）对已签发通报的申诉及其办理情况。"""
    chosen = state if state in STATE_FILTERS else "all"
    unit = own_unit(principal)
    found, total = list_appeals(engine=engine, unit=unit, states=STATE_FILTERS[chosen],
                                limit=LIST_ROWS)  # fmt: skip
    note = "全部考核单位的申诉" if unit is None else f"{unit_name(registry, unit)}的申诉"
    return render("appeals/list.html", AppealsPageContext(
        "申诉", note, chosen, _STATE_OPTIONS, tuple(appeal_row(a, registry) for a in found),
        total, _may_file(principal),
    ))  # fmt: skip


# --- filing -----------------------------------------------------------------------------------


def _filing_page(
    engine: EngineDep, registry: Registry, settings: SettingsDep, principal: Principal,
    month: str | None, unit: str | None, *, chosen: str = "", reason: str = "",
    message: str = "", status_code: int = 200,
) -> HTMLResponse:  # fmt: skip
    own = own_unit(principal)
    units = tuple((u.id, u.name) for u in registry.units if own is None or u.id == own)
    unit_id = own or (unit if unit in dict(units) else units[0][0] if units else "")
    months = issued_months(engine=engine)
    first = request_month(month) if month else (months[0] if months else None)
    lines: tuple[LineOption, ...] = ()
    version: int | None = None
    deadline, still_open = "", False
    if first is not None and first in months:
        statement, record, _ = issued_statement(engine=engine, month=first)
        version = record.version
        ends = appeal_deadline(record.issued_at, settings.appeal_days)
        deadline, still_open = beijing_minute(ends), dt.datetime.now(dt.UTC) < ends
        open_ones = {a.token: a.id for a in list_appeals(
            engine=engine, unit=unit_id, month=first, states=STATE_FILTERS["open"])[0]}  # fmt: skip
        lines = tuple(
            LineOption(line.token, KIND_WORDS[line.kind], line.text, open_ones.get(line.token))
            for line in appealable_lines(statement, unit_id)
        )
    page = render("appeals/new.html", FilingPageContext(
        title="提出申诉", month="" if first is None else f"{first:%Y-%m}",
        months=tuple((f"{m:%Y-%m}", month_label(m)) for m in months), unit=unit_id, units=units,
        version=version, deadline=deadline, open=still_open, lines=lines, chosen=chosen,
        reason=reason, message=message, csrf_token=principal.csrf or "",
        max_reason=MAX_REASON, max_files=MAX_ATTACHMENTS,
        max_mb=MAX_ATTACHMENT_BYTES // (1024 * 1024),
        kinds="、".join(dict.fromkeys(ALLOWED_KINDS.values())),
    ))  # fmt: skip
    page.status_code = status_code
    return page


@router.get("/appeals/new", response_class=HTMLResponse)
def filing_page(
    engine: EngineDep, registry: RegistryDep, settings: SettingsDep, principal: PrincipalDep,
    month: Annotated[str | None, Query(max_length=7)] = None,
    unit: Annotated[str | None, Query(max_length=64)] = None,
    line: Annotated[str, Query(max_length=200)] = "",
) -> HTMLResponse:  # fmt: skip
    """提出申诉：选择已签发月份与扣缴项，填写理由，上传附件。"""
    return _filing_page(engine, registry, settings, principal, month, unit, chosen=line)


@router.post("/appeals", response_class=HTMLResponse, response_model=None)
async def file_from_page(
    request: Request, engine: EngineDep, registry: RegistryDep, settings: SettingsDep,
    principal: PrincipalDep,
    month: Annotated[str, Form(max_length=7)],
    reason: Annotated[str, Form(max_length=MAX_REASON)] = "",
    line: Annotated[str, Form(max_length=200)] = "",
    unit: Annotated[str | None, Form(max_length=64)] = None,
    files: Annotated[list[UploadFile], File()] = [],  # noqa: B006  (read by FastAPI, never mutated)
) -> Response:  # fmt: skip
    """申诉表单的提交；成功后转到该申诉。"""
    try:
        if not line:
            raise NotFoundError("请选择要申诉的扣缴项 / choose the line to appeal")
        attachments = await read_uploads(files)
        filed = file_appeal(
            engine=engine, month=request_month(month), unit=filing_unit(principal, unit),
            line=line, reason=reason, attachments=attachments, days=settings.appeal_days,
            actor=principal.actor, address=address_of(request),
        )  # fmt: skip
    except QingliuError as exc:
        status, _ = error_payload(exc)
        if status in (401, 403):
            raise
        return _filing_page(engine, registry, settings, principal, month, unit, chosen=line,
                            reason=reason, message=str(exc), status_code=status)  # fmt: skip
    return RedirectResponse(f"/appeals/{filed.id}", status_code=303)


# --- one appeal -------------------------------------------------------------------------------


def _size(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB" if size >= 1024 * 1024 else f"{max(size // 1024, 1)} KB"


def _evidence(engine: EngineDep, appeal: AppealRecord) -> tuple[tuple[EvidenceLine, ...], int]:
    line = appealed_line(engine=engine, appeal=appeal)
    if line is None:
        return (), 0
    rows, total = observations_behind(engine=engine, refs=line.refs, limit=EVIDENCE_LIMIT)
    kinds = {"routine": "手工例行", "spot": "手工抽测", None: "自动站"}
    return tuple(
        EvidenceLine(
            r.id, beijing_minute(r.observed_at), FACTOR_NAMES.get(r.parameter, r.parameter),
            ("<" if r.censored else "") + ("—" if r.value is None else f"{r.value:g}"),
            kinds.get(r.sample_kind, r.sample_kind or ""),
            " ".join(x for x in (r.station_flag or "", f"QC {r.qc_flag}" if r.qc_flag else "")
                     if x),
            (r.review_status or "") + (f"：{r.review_note}" if r.review_note else ""),
        )
        for r in rows
    ), total  # fmt: skip


def _changes(engine: EngineDep, appeal: AppealRecord) -> tuple[ChangeLine, ...]:
    if appeal.settled_version is None:
        return ()
    _, _, diff = issued_statement(engine=engine, month=appeal.month,
                                  version=appeal.settled_version)  # fmt: skip
    words = {"added": "新增", "removed": "删除", "changed": "变更"}
    return tuple(
        ChangeLine(
            f"{c.kind}:{c.key}", words[c.change],
            "；".join(f"{k}={v}" for k, v in c.before), "；".join(f"{k}={v}" for k, v in c.after),
            (c.kind, c.key) == (appeal.line_kind, appeal.line_key),
        )
        for c in diff if c.unit == appeal.unit
    )  # fmt: skip


def _history(engine: EngineDep, appeal_id: int) -> tuple[HistoryEntry, ...]:
    entries = reversed(audit_events(engine=engine, target=f"appeal:{appeal_id}", limit=500))
    result = []
    for e in entries:
        what = _ACTION_WORDS.get(e.action, e.action)
        if e.action == "appeal.review":
            action = str(e.detail.get("action", ""))
            what += f" {e.detail.get('observation')}：{_REVIEW_WORDS.get(action, action)}"
            if e.detail.get("value") is not None:
                what += f" 为 {e.detail['value']}"
        elif e.action == "appeal.settle" and e.detail.get("version"):
            what += f"，签发第 {e.detail['version']} 版"
        result.append(HistoryEntry(beijing_minute(e.at), e.actor, what))
    return tuple(result)


def _appeal_page(
    engine: EngineDep, registry: Registry, principal: Principal, appeal_id: int,
    message: str = "", status_code: int = 200,
) -> HTMLResponse:  # fmt: skip
    appeal = visible_appeal(engine, appeal_id, principal)
    bureau = principal.via == "session" and principal.role in _BUREAU
    evidence, total = _evidence(engine, appeal)
    page = render("appeals/detail.html", AppealPageContext(
        title=f"申诉 {appeal.id}", appeal=appeal_row(appeal, registry),
        attachments=tuple(
            AttachmentRow(f"/appeals/{appeal.id}/attachments/{a.id}", a.filename,
                          ALLOWED_KINDS.get(a.media_type, a.media_type), _size(a.size), a.sha256)
            for a in appeal.attachments
        ),
        evidence=evidence, evidence_total=total, changes=_changes(engine, appeal),
        history=_history(engine, appeal.id), can_decide=bureau and appeal.is_open,
        can_review=bureau and appeal.state == "accepted", csrf_token=principal.csrf or "",
        max_note=MAX_NOTE, message=message,
    ))  # fmt: skip
    page.status_code = status_code
    return page


@router.get("/appeals/{appeal_id}", response_class=HTMLResponse)
def appeal_page(
    appeal_id: AppealIdPath, engine: EngineDep, registry: RegistryDep, principal: PrincipalDep
) -> HTMLResponse:
    """一件申诉：内容、附件、所涉观测值、办理表单与办理记录。"""
    return _appeal_page(engine, registry, principal, appeal_id)


@router.get("/appeals/{appeal_id}/attachments/{attachment_id}")
def attachment_download(
    appeal_id: AppealIdPath, attachment_id: int, engine: EngineDep, principal: PrincipalDep
) -> Response:
    """附件（下载）。"""
    visible_appeal(engine, appeal_id, principal)
    info, content = appeal_attachment(engine=engine, appeal_id=appeal_id,
                                      attachment_id=attachment_id)  # fmt: skip
    return attachment_response(info.filename, info.media_type, content)


def _step(
    engine: EngineDep, registry: Registry, principal: Principal, appeal_id: int,
    do: Callable[[], object],
) -> Response:  # fmt: skip
    """Run a decision; the appeal's page again with the reason when it is refused."""
    visible_appeal(engine, appeal_id, principal)
    try:
        do()
    except QingliuError as exc:
        status, _ = error_payload(exc)
        if status in (401, 403):
            raise
        return _appeal_page(engine, registry, principal, appeal_id, str(exc), status)
    return RedirectResponse(f"/appeals/{appeal_id}", status_code=303)


NoteForm = Annotated[str, Form(max_length=MAX_NOTE)]


@router.post("/appeals/{appeal_id}/accept", response_class=HTMLResponse, response_model=None)
def accept_from_page(
    appeal_id: AppealIdPath, request: Request, engine: EngineDep, registry: RegistryDep,
    principal: PrincipalDep, note: NoteForm = "",
) -> Response:  # fmt: skip
    """受理。"""
    return _step(engine, registry, principal, appeal_id, lambda: accept_appeal(
        engine=engine, appeal_id=appeal_id, note=note, actor=principal.actor,
        address=address_of(request)))  # fmt: skip


@router.post("/appeals/{appeal_id}/reject", response_class=HTMLResponse, response_model=None)
def reject_from_page(
    appeal_id: AppealIdPath, request: Request, engine: EngineDep, registry: RegistryDep,
    principal: PrincipalDep, note: NoteForm = "",
) -> Response:  # fmt: skip
    """驳回。"""
    return _step(engine, registry, principal, appeal_id, lambda: reject_appeal(
        engine=engine, appeal_id=appeal_id, reason=note, actor=principal.actor,
        address=address_of(request)))  # fmt: skip


@router.post("/appeals/{appeal_id}/settle", response_class=HTMLResponse, response_model=None)
def settle_from_page(
    appeal_id: AppealIdPath, request: Request, engine: EngineDep, registry: RegistryDep,
    principal: PrincipalDep, note: NoteForm = "",
) -> Response:  # fmt: skip
    """办结（重新计算，必要时签发新版本）。"""
    return _step(engine, registry, principal, appeal_id, lambda: settle_appeal(
        engine=engine, registry=registry, appeal_id=appeal_id, note=note,
        actor=principal.actor, address=address_of(request)))  # fmt: skip


@router.post("/appeals/{appeal_id}/review/{observation_id}", response_class=HTMLResponse,
             response_model=None)  # fmt: skip
def review_from_page(
    appeal_id: AppealIdPath, observation_id: int, request: Request, engine: EngineDep,
    registry: RegistryDep, principal: PrincipalDep,
    action: Annotated[str, Form(max_length=16)], note: NoteForm = "",
    value: Annotated[str, Form(max_length=32)] = "",
) -> Response:  # fmt: skip
    """复核所涉观测值。"""

    def do() -> None:
        number: float | None = None
        if value.strip():
            try:
                number = float(value)
            except ValueError:
                raise InputError(f"更正值不是数字 / not a number: {value!r}") from None
        appeal = visible_appeal(engine, appeal_id, principal)
        review_for_appeal(engine=engine, registry=registry, appeal=appeal,
                          observation_id=observation_id, action=action, value=number, note=note,
                          actor=principal.actor, address=address_of(request))  # fmt: skip

    return _step(engine, registry, principal, appeal_id, do)


def statement_appeals(
    *, engine: EngineDep, registry: Registry, month: dt.date, unit: str | None
) -> tuple[AppealRow, ...]:
    """The appeals of a month (one unit's, or all), for the statement's page."""
    found, _ = list_appeals(engine=engine, unit=unit, month=month, limit=LIST_ROWS)
    return tuple(appeal_row(a, registry) for a in found)


def filing_href(
    *, engine: EngineDep, settings: SettingsDep, principal: Principal, month: dt.date,
    unit: str | None,
) -> str | None:  # fmt: skip
    """Where the statement page's 提出申诉 link goes, while the newest version may be appealed."""
    if not _may_file(principal) or unit is None:
        return None
    if principal.role is Role.COUNTY and principal.unit != unit:
        return None
    versions = issued_versions(engine=engine, month=month)
    if not versions:
        return None
    if dt.datetime.now(dt.UTC) >= appeal_deadline(versions[-1].issued_at, settings.appeal_days):
        return None
    return f"/appeals/new?month={month:%Y-%m}&unit={unit}"
