"""Appeals API (``/api/appeals``): list, one, file (multipart, with attachments), download an
attachment, and the bureau's decisions (accept, reject, review an observation, settle).

A county sees and files the appeals of its own unit only; another unit's appeal answers 404 as
if it did not exist. The bureau (and machine tokens) see every appeal; deciding needs the
``issue`` scope, reviewing an observation the ``review`` scope (the access table).
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from service.accounts.users import Role
from service.api.access import Principal, authorize
from service.api.deps import EngineDep, PageQuery, RegistryDep, SettingsDep, request_month
from service.appeals.attachments import MAX_ATTACHMENT_BYTES, Attachment, checked_attachment
from service.appeals.evidence import review_for_appeal
from service.appeals.records import (
    OPEN_STATES,
    AppealRecord,
    appeal_attachment,
    get_appeal,
    list_appeals,
)
from service.appeals.workflow import (
    MAX_NOTE,
    MAX_REASON,
    accept_appeal,
    file_appeal,
    reject_appeal,
    settle_appeal,
)
from service.errors import ForbiddenError, InputError, NotFoundError

__all__ = [
    "AppealIdPath",
    "address_of",
    "attachment_response",
    "filing_unit",
    "own_unit",
    "read_uploads",
    "router",
    "visible_appeal",
]

router = APIRouter(prefix="/api", tags=["appeals"])

PrincipalDep = Annotated[Principal, Depends(authorize)]
AppealIdPath = Annotated[int, Path(ge=1, le=2**31 - 1, description="申诉编号 / appeal id")]
AttachmentIdPath = Annotated[int, Path(ge=1, le=2**31 - 1, description="附件编号")]
ObservationIdPath = Annotated[int, Path(ge=1, le=2**63 - 1, description="观测值编号")]

STATE_FILTERS: Final = {"open": OPEN_STATES, "filed": ("filed",), "accepted": ("accepted",),
                        "rejected": ("rejected",), "settled": ("settled",), "all": ()}  # fmt: skip


def own_unit(principal: Principal) -> str | None:
    """The unit a county user is limited to; None for the bureau and machine tokens."""
    if principal.role is Role.COUNTY:
        if not principal.unit:
            raise ForbiddenError("该县级账号未关联考核单位 / the county account has no unit")
        return principal.unit
    return None


def visible_appeal(engine: EngineDep, appeal_id: int, principal: Principal) -> AppealRecord:
    """The appeal if the caller may see it; 404 otherwise (also when it exists)."""
    appeal = get_appeal(engine=engine, appeal_id=appeal_id)
    unit = own_unit(principal)
    if unit is not None and appeal.unit != unit:
        raise NotFoundError(f"没有编号为 {appeal_id} 的申诉 / no appeal {appeal_id}")
    return appeal


def filing_unit(principal: Principal, unit: str | None) -> str:
    """The unit an appeal is filed for: a county's own; the bureau names one."""
    own = own_unit(principal)
    if own is not None:
        if unit and unit != own:
            raise ForbiddenError(
                "县（市、区）用户只能为本单位申诉 / a county appeals for its own unit"
            )
        return own
    if not unit:
        raise InputError("请指明考核单位 / name the unit")
    return unit


async def read_uploads(files: list[UploadFile]) -> list[Attachment]:
    """The uploaded files, each read up to its limit and checked (empty file fields skipped)."""
    found = []
    for upload in files:
        content = await upload.read(MAX_ATTACHMENT_BYTES + 1)
        name = upload.filename or ""
        if not name and not content:
            continue  # a file input left empty
        found.append(checked_attachment(name, content))
    return found


def address_of(request: Request) -> str:
    """Where the request came from, for the audit log."""
    return request.client.host if request.client else ""


class AppealLine(BaseModel):
    """The appealed line."""

    kind: str = Field(description="deduction 超标扣缴 / event 自动站连续超标事件")
    key: str = Field(description="行标识（与通报版本差异相同）")
    text: str = Field(description="申诉时该行的内容")


class AttachmentOut(BaseModel):
    """An attachment (without its bytes: ``…/attachments/{id}`` gives them)."""

    id: int
    filename: str
    media_type: str
    size: int
    sha256: str
    uploaded_at: str | None
    uploaded_by: str


class AppealOut(BaseModel):
    """An appeal (times ISO 8601, Beijing time)."""

    id: int
    month: str
    unit: str
    version: int = Field(description="所申诉的已签发版本")
    line: AppealLine
    reason: str
    state: str = Field(
        description="filed 待受理 / accepted 复核中 / rejected 已驳回 / settled 已办结"
    )
    state_text: str
    filed_by: str
    filed_at: str | None
    deadline: str | None = Field(description="申诉期限")
    decided_by: str | None
    decided_at: str | None
    decision_note: str | None = Field(description="受理意见或驳回理由")
    settled_by: str | None
    settled_at: str | None
    outcome: str | None = Field(description="revised 改正 / upheld 维持原结果")
    settled_version: int | None = Field(description="改正时签发的版本（其差异含该行）")
    settle_note: str | None
    attachments: list[AttachmentOut]


class AppealPage(BaseModel):
    """A page of appeals, newest first."""

    data: list[AppealOut]
    count: int
    total: int
    page: int
    size: int


class DecisionIn(BaseModel):
    """What a decision says."""

    note: str = Field(
        default="",
        max_length=MAX_NOTE,
        description="受理意见（可选）、驳回理由（必填）或办结说明（维持原结果时必填）",
    )


class ReviewIn(BaseModel):
    """A review of one observation behind the appealed line."""

    action: Literal["accept", "reject", "replace"]
    value: float | None = Field(default=None, description="更正值（replace 时必填）")
    note: str = Field(default="", max_length=MAX_NOTE)


@router.get("/appeals", response_model=AppealPage)
def appeals(
    engine: EngineDep,
    principal: PrincipalDep,
    state: Annotated[
        Literal["open", "filed", "accepted", "rejected", "settled", "all"],
        Query(description="open：待受理与复核中"),
    ] = "all",
    month: Annotated[str | None, Query(description="通报月份 YYYY-MM")] = None,
    unit: Annotated[str | None, Query(description="考核单位 id（县用户只能看本单位）")] = None,
    page: PageQuery = 1,
    size: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """申诉，新的在前。Appeals the caller may see, newest first."""
    own = own_unit(principal)
    if own is not None and unit not in (None, own):
        raise ForbiddenError("县（市、区）用户只能查看本单位 / a county sees its own unit only")
    found, total = list_appeals(
        engine=engine, unit=own or unit, month=None if month is None else request_month(month),
        states=STATE_FILTERS[state], limit=size, offset=(page - 1) * size,
    )  # fmt: skip
    return {"data": [a.as_dict() for a in found], "count": len(found), "total": total,
            "page": page, "size": size}  # fmt: skip


@router.get("/appeals/{appeal_id}", response_model=AppealOut)
def appeal(appeal_id: AppealIdPath, engine: EngineDep, principal: PrincipalDep) -> dict[str, Any]:
    """一件申诉。One appeal."""
    return visible_appeal(engine, appeal_id, principal).as_dict()


@router.post("/appeals", response_model=AppealOut, status_code=201)
async def file(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    month: Annotated[str, Form(description="通报月份 YYYY-MM")],
    line: Annotated[str, Form(description="扣缴项 kind:key，如 deduction:fuyang-jizhou/cod")],
    reason: Annotated[str, Form(max_length=MAX_REASON, description="申诉理由")],
    unit: Annotated[str | None, Form(description="考核单位（县用户缺省为本单位）")] = None,
    files: Annotated[list[UploadFile], File(description="附件（检测报告、流量记录等）")] = [],  # noqa: B006  (FastAPI reads the default, never mutates it)
) -> dict[str, Any]:
    """提出申诉（multipart/form-data）。File an appeal against a line of the newest version."""
    attachments = await read_uploads(files)
    filed = file_appeal(
        engine=engine, month=request_month(month), unit=filing_unit(principal, unit), line=line,
        reason=reason, attachments=attachments, days=settings.appeal_days,
        actor=principal.actor, address=address_of(request),
    )  # fmt: skip
    return filed.as_dict()


@router.get("/appeals/{appeal_id}/attachments/{attachment_id}")
def attachment(
    appeal_id: AppealIdPath, attachment_id: AttachmentIdPath, engine: EngineDep,
    principal: PrincipalDep,
) -> Response:  # fmt: skip
    """附件原文件。An attachment as it was received (always a download)."""
    visible_appeal(engine, appeal_id, principal)
    info, content = appeal_attachment(engine=engine, appeal_id=appeal_id,
                                      attachment_id=attachment_id)  # fmt: skip
    return attachment_response(info.filename, info.media_type, content)


def attachment_response(filename: str, media_type: str, content: bytes) -> Response:
    """A stored file as a download that no browser renders in the service's origin."""
    fallback = filename.encode("ascii", "replace").decode().replace('"', "_")
    return Response(content=content, media_type=media_type, headers={
        "Content-Disposition": f"attachment; filename=\"{fallback}\"; "
                               f"filename*=UTF-8''{quote(filename)}",
        "Content-Security-Policy": "sandbox", "Cache-Control": "private, no-store",
    })  # fmt: skip


@router.post("/appeals/{appeal_id}/accept", response_model=AppealOut)
def accept(
    appeal_id: AppealIdPath, body: DecisionIn, request: Request, engine: EngineDep,
    principal: PrincipalDep,
) -> dict[str, Any]:  # fmt: skip
    """受理（进入复核）。Accept a filed appeal for review."""
    return accept_appeal(engine=engine, appeal_id=appeal_id, note=body.note,
                         actor=principal.actor, address=address_of(request)).as_dict()  # fmt: skip


@router.post("/appeals/{appeal_id}/reject", response_model=AppealOut)
def reject(
    appeal_id: AppealIdPath, body: DecisionIn, request: Request, engine: EngineDep,
    principal: PrincipalDep,
) -> dict[str, Any]:  # fmt: skip
    """驳回（须说明理由）。Reject an open appeal, with the reason."""
    return reject_appeal(engine=engine, appeal_id=appeal_id, reason=body.note,
                         actor=principal.actor, address=address_of(request)).as_dict()  # fmt: skip


@router.post("/appeals/{appeal_id}/review/{observation_id}", response_model=AppealOut)
def review(
    appeal_id: AppealIdPath, observation_id: ObservationIdPath, body: ReviewIn,
    request: Request, engine: EngineDep, registry: RegistryDep, principal: PrincipalDep,
) -> dict[str, Any]:  # fmt: skip
    """复核申诉所涉观测值（确认、否决或更正），并重算当日评价。"""
    found = get_appeal(engine=engine, appeal_id=appeal_id)
    review_for_appeal(
        engine=engine, registry=registry, appeal=found, observation_id=observation_id,
        action=body.action, value=body.value, note=body.note, actor=principal.actor,
        address=address_of(request),
    )  # fmt: skip
    return get_appeal(engine=engine, appeal_id=appeal_id).as_dict()


@router.post("/appeals/{appeal_id}/settle", response_model=AppealOut)
def settle(
    appeal_id: AppealIdPath, body: DecisionIn, request: Request, engine: EngineDep,
    registry: RegistryDep, principal: PrincipalDep,
) -> dict[str, Any]:  # fmt: skip
    """办结：按当前数据重新计算；该行有变则签发新版本（改正），否则维持原结果（须说明）。"""
    return settle_appeal(engine=engine, registry=registry, appeal_id=appeal_id, note=body.note,
                         actor=principal.actor, address=address_of(request)).as_dict()  # fmt: skip
