"""``/api/bulletins``: the monthly water-quality bulletin (水质月报) as a PDF or HTML file."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from service.api.deps import EngineDep, LetterheadDep, RegistryDep, request_month
from service.api.headers import DOCUMENT_CSP
from service.bulletins import (
    BulletinContext,
    bulletin_context,
    render_bulletin_html,
    render_bulletin_pdf,
)
from service.statements.letterhead import Letterhead

__all__ = ["router"]

router = APIRouter(prefix="/api/bulletins", tags=["monitoring"])

NOT_ROLLED_UP = {
    "description": "该月尚未汇总 / the month has not been rolled up",
    "content": {"application/json": {"example": {
        "ok": False, "status": 404,
        "error": "2025-03 尚未月度汇总，无法生成水质月报；请先运行 qingliu run monthly --month "
                 "2025-03 / the month has not been rolled up yet",
    }}},
}  # fmt: skip


def _context(
    month: str, engine: EngineDep, registry: RegistryDep, head: Letterhead
) -> BulletinContext:
    return bulletin_context(engine, registry, request_month(month), head=head)


def _attachment(month: str, suffix: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="qingliu-bulletin-{month}.{suffix}"'}


@router.get(
    "/{month}.pdf",
    summary="水质月报 PDF / the monthly water-quality bulletin as PDF",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}}},
        404: NOT_ROLLED_UP,
        503: {"description": "无法生成 PDF（weasyprint 不可用）/ PDF rendering unavailable"},
    },
)
def bulletin_pdf(
    month: str, engine: EngineDep, registry: RegistryDep, head: LetterheadDep
) -> Response:
    """The bulletin of a rolled-up month (``qingliu run monthly``) as an A4 PDF."""
    context = _context(month, engine, registry, head)
    data = render_bulletin_pdf(context)
    return Response(data, media_type="application/pdf", headers=_attachment(month, "pdf"))


@router.get(
    "/{month}.html",
    summary="水质月报 HTML / the monthly water-quality bulletin as a standalone HTML file",
    response_class=Response,
    responses={200: {"content": {"text/html": {}}}, 404: NOT_ROLLED_UP},
)
def bulletin_html(
    month: str, engine: EngineDep, registry: RegistryDep, head: LetterheadDep
) -> Response:
    """The bulletin of a rolled-up month as a standalone HTML document (print CSS, A4)."""
    html = render_bulletin_html(_context(month, engine, registry, head), standalone=True)
    headers = {**_attachment(month, "html"), "Content-Security-Policy": DOCUMENT_CSP}
    return Response(html, media_type="text/html; charset=utf-8", headers=headers)
