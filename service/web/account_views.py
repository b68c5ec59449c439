"""Signing in and out, and the audit log for administrators (page and export)."""

from __future__ import annotations

import csv
import hmac
import io
import json
import secrets
from dataclasses import dataclass, field
from typing import Annotated, Final

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from service.accounts import audit_events, authenticate
from service.api.access import SESSION_COOKIE, SESSION_SECONDS, new_session, principal_of
from service.api.deps import EngineDep, SettingsDep
from service.time import BEIJING
from service.web.views import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

LOGIN_COOKIE: Final = "qingliu_login"
"""The pre-sign-in CSRF cookie (double submit: the form carries the same value)."""


@dataclass(frozen=True)
class LoginContext:
    """The sign-in page."""

    title: str = field(metadata={"help": "页面标题"})
    csrf_token: str = field(metadata={"help": "防跨站请求伪造令牌（与 Cookie 相同）"})
    next: str = field(metadata={"help": "登录后前往的站内路径"})
    error: str = field(metadata={"help": "上次登录失败的说明；无则为空"})


@dataclass(frozen=True)
class AuditRow:
    """One audit event as shown."""

    at: str = field(metadata={"help": "时间（北京时间）"})
    actor: str = field(metadata={"help": "操作者"})
    action: str = field(metadata={"help": "操作"})
    target: str = field(metadata={"help": "对象"})
    address: str = field(metadata={"help": "来源地址"})
    detail: str = field(metadata={"help": "细节（JSON）"})


@dataclass(frozen=True)
class AuditContext:
    """The audit page."""

    title: str = field(metadata={"help": "页面标题"})
    rows: tuple[AuditRow, ...] = field(metadata={"help": "最近的事件（新到旧）"})


def _local(path: str) -> str:
    """Only paths of this site after sign-in (no open redirect)."""
    return path if path.startswith("/") and not path.startswith("//") else "/"


def _login_page(settings_secure: bool, next_path: str, error: str, status: int) -> Response:
    token = secrets.token_urlsafe(24)
    page = render("login.html", LoginContext("登录", token, _local(next_path), error))
    page.status_code = status
    page.set_cookie(LOGIN_COOKIE, token, max_age=600, httponly=True, samesite="strict",
                    secure=settings_secure, path="/login")  # fmt: skip
    return page


@router.get("/login", response_class=HTMLResponse)
def login_page(settings: SettingsDep, next: str = "/") -> Response:
    """登录页。"""
    return _login_page(settings.secure_cookies, next, "", 200)


@router.post("/login")
def login(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    csrf_token: Annotated[str, Form(max_length=64)],
    next: Annotated[str, Form(max_length=512)] = "/",
) -> Response:
    """Check the form's CSRF token against its cookie, then the password; set the session."""
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie, csrf_token):
        expired = "登录表单已过期，请重试 / form expired"
        return _login_page(settings.secure_cookies, next, expired, 403)
    address = request.client.host if request.client else ""
    user = authenticate(engine=engine, username=username, password=password, address=address)
    if user is None:
        return _login_page(settings.secure_cookies, next, "用户名或口令错误 / wrong credentials",
                           401)  # fmt: skip
    answer = RedirectResponse(_local(next), status_code=303)
    answer.set_cookie(SESSION_COOKIE, request.app.state.sessions.dumps(new_session(user.username)),
                      max_age=SESSION_SECONDS, httponly=True, samesite="strict",
                      secure=settings.secure_cookies)  # fmt: skip
    answer.delete_cookie(LOGIN_COOKIE, path="/login")
    return answer


@router.get("/api/session")
def session_info(request: Request) -> JSONResponse:
    """Who is signed in, and the CSRF token a page's own requests must send back."""
    principal = principal_of(request)
    return JSONResponse({"username": principal.username, "via": principal.via,
                         "role": None if principal.role is None else principal.role.value,
                         "unit": principal.unit, "csrf_token": principal.csrf})  # fmt: skip


@router.post("/logout")
def logout() -> Response:
    """End the session (clearing a cookie needs no CSRF token: nothing is gained by forcing it)."""
    answer = RedirectResponse("/login", status_code=303)
    answer.delete_cookie(SESSION_COOKIE)
    return answer


def _rows(engine: EngineDep, limit: int) -> list[AuditRow]:
    return [
        AuditRow(f"{e.at.astimezone(BEIJING):%Y-%m-%d %H:%M:%S}", e.actor, e.action, e.target,
                 e.address, json.dumps(e.detail, ensure_ascii=False))
        for e in audit_events(engine=engine, limit=limit)
    ]  # fmt: skip


@router.get("/audit", response_class=HTMLResponse)
def audit_page(engine: EngineDep) -> HTMLResponse:
    """审计日志（管理员）。"""
    return render("audit.html", AuditContext("审计日志", tuple(_rows(engine, 500))))


@router.get("/api/audit")
def audit_export(
    engine: EngineDep,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
    limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
) -> Response:
    """The audit log as JSON or CSV (newest first)."""
    rows = _rows(engine, limit)
    if format == "json":
        return JSONResponse([row.__dict__ for row in rows])
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["at", "actor", "action", "target", "address", "detail"])
    writer.writerows([r.at, r.actor, r.action, r.target, r.address, r.detail] for r in rows)
    return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="qingliu-audit.csv"'})
