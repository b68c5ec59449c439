"""The one translation of errors into HTTP answers: one JSON shape, never a traceback.

Every error a route raises — the tree of :mod:`service.errors` (domain errors included),
Starlette's ``HTTPException``, FastAPI's request validation, anything unexpected — is answered
by :func:`service.errors.error_payload`: ``{"ok": false, "status", "title", "error", "type",
"errors", "reference"}`` for the API (``/api/…``, ``/healthz``) and a short Chinese page for the
web pages.
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from service.api.headers import SECURITY_HEADERS
from service.errors import (
    ConflictError,
    InputError,
    NotFoundError,
    PayloadTooLarge,
    QingliuError,
    UnavailableError,
    error_payload,
)

__all__ = ["ERROR_RESPONSES", "ErrorBody", "error_response", "install_error_handlers"]


class ErrorBody(BaseModel):
    """The body of every error answer."""

    ok: bool = Field(False, description="总为 false / always false")
    status: int = Field(description="HTTP 状态码 / HTTP status")
    title: str = Field(description="错误类别 / kind of error, e.g. 未找到 / not found")
    error: str = Field(description="错误说明（中文在前）/ the message")
    type: str = Field(description="错误类型名 / error class, e.g. NotFoundError")
    errors: list[dict[str, Any]] = Field(
        default_factory=list, description="逐项的参数错误（请求校验）/ per-field problems"
    )
    reference: str | None = Field(
        None, description="内部错误编号，供查日志 / reference id of an internal error"
    )


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (404, "未找到 / not found"),
        (422, "输入有误 / invalid input"),
        (409, "冲突 / conflict"),
        (413, "请求过大 / payload too large"),
        (500, "内部错误 / internal error"),
        (503, "暂不可用 / unavailable"),
    )
}
"""OpenAPI ``responses`` shared by every route: the one error shape for each status."""

_HTTP_CLASSES: dict[int, type[QingliuError]] = {
    400: InputError, 404: NotFoundError, 405: InputError, 409: ConflictError,
    413: PayloadTooLarge, 422: InputError, 503: UnavailableError,
}  # fmt: skip


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/healthz", "/openapi"))


def _answer(request: Request, status: int, body: dict[str, Any]) -> Response:
    if _is_api(request):
        return JSONResponse(status_code=status, content=body, headers=SECURITY_HEADERS)
    if status == 401:  # a page asked for without signing in: go and sign in, then come back
        back = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        return RedirectResponse(f"/login?next={back}", status_code=303, headers=SECURITY_HEADERS)
    reference = f"<p>编号 reference：{escape(body['reference'])}</p>" if body["reference"] else ""
    return HTMLResponse(
        f"<!doctype html><meta charset='utf-8'><title>{status} {escape(body['title'])}</title>"
        f"<h1>{status} {escape(body['title'])}</h1><p>{escape(body['error'])}</p>{reference}"
        "<p><a href='/'>返回首页</a></p>",
        status_code=status,
        headers=SECURITY_HEADERS,
    )


def error_response(request: Request, exc: BaseException) -> Response:
    """The answer to ``exc`` in the one shape (JSON for the API, a short page otherwise)."""
    status, body = error_payload(exc)
    return _answer(request, status, body)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(QingliuError)
    async def _qingliu(request: Request, exc: QingliuError) -> Response:
        status, body = error_payload(exc)
        return _answer(request, status, body)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        kind = _HTTP_CLASSES.get(exc.status_code, QingliuError)
        _, body = error_payload(kind(str(exc.detail)))
        body["status"] = exc.status_code
        return _answer(request, exc.status_code, body)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        problems = [
            {"location": ".".join(str(p) for p in e.get("loc", ())), "message": str(e.get("msg"))}
            for e in exc.errors()
        ]
        summary = "；".join(f"{p['location']}: {p['message']}" for p in problems)
        status, body = error_payload(InputError(f"请求参数有误 / invalid request: {summary}"),
                                     errors=problems)  # fmt: skip
        return _answer(request, status, body)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        status, body = error_payload(exc)
        return _answer(request, status, body)
