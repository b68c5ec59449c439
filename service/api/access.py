"""Who is asking, and may they: sessions, API tokens, CSRF and the route → roles table.

Every route of the app has one entry in :data:`ACCESS` (method and path template → who may); the
app-wide dependency :func:`authorize` looks the matched route up and refuses what the table does
not allow — anonymous callers get 401 (pages: a redirect to ``/login``), signed-in roles that may
not get 403. A route without an entry is refused for everyone (and a test walks the table against
every route). Callers are recognised by

- a **session cookie** set by ``/login`` (signed with ``QINGLIU_SESSION_SECRET``, HttpOnly,
  SameSite=Strict, Secure unless ``QINGLIU_SECURE_COOKIES=off``, 12 h): every state-changing
  request must then carry the session's CSRF token (header ``X-CSRF-Token`` or form field
  ``csrf_token``);
- an **API token** (``Authorization: Bearer qlt_…``, :mod:`service.accounts.tokens`): its scopes
  decide — ``read`` for reading, ``issue`` to issue statements, ``review`` for the review queue;
  browsers never send it by themselves, so no CSRF token is needed.

A county user sees only its own unit's statements and appeals (and files appeals for it), a
river chief (and a county) only the alerts of their own sections
(:func:`service.alerts.records.scope_for`); with
``QINGLIU_PUBLIC_VIEW=on`` anonymous visitors may read the monitoring pages and API (never
money, alerts, review, jobs or the audit).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from enum import Enum
from typing import Final, Literal

from fastapi import Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import Engine, select

from service.accounts.tokens import verify_token
from service.accounts.users import USERS, Role
from service.errors import ForbiddenError, UnauthorizedError
from service.settings import Settings

__all__ = [
    "ACCESS",
    "CALLER",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "SESSION_SECONDS",
    "Access",
    "Principal",
    "authorize",
    "may_see_money",
    "new_session",
    "principal_of",
    "session_serializer",
]

SESSION_COOKIE: Final = "qingliu_session"
SESSION_SECONDS: Final = 12 * 3600
"""A sign-in lasts this long [s] [A]."""
CSRF_HEADER: Final = "X-CSRF-Token"
CSRF_FIELD: Final = "csrf_token"
_SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})


class Access(Enum):
    """Who may use a route."""

    PUBLIC = "public"  # anyone (health, sign-in, stylesheets)
    MONITORING = "monitoring"  # any signed-in role; anyone with the public view on
    SIGNED_IN = "signed_in"  # any signed-in role (the API documentation)
    MONEY = "money"  # admin, analyst; a county for its own unit; tokens with `read`
    ISSUE = "issue"  # admin, analyst; tokens with `issue` (state-changing)
    REVIEW = "review"  # admin, analyst; tokens with `review`
    OPERATIONS = "operations"  # admin, analyst (jobs)
    ADMIN = "admin"  # admin only (the audit log)
    ALERTS = "alerts"  # admin, analyst, tokens with `read`; river chiefs and counties: their own
    ACKNOWLEDGE = "acknowledge"  # as ALERTS, but tokens need `review` (state-changing)
    APPEALS = "appeals"  # admin, analyst, tokens with `read`; a county: its own unit's
    APPEAL_FILE = "appeal_file"  # a county for its own unit, the bureau; tokens with `issue`


ACCESS: Mapping[tuple[str, str], Access] = {
    ("GET", "/healthz"): Access.PUBLIC,
    ("GET", "/login"): Access.PUBLIC,
    ("POST", "/login"): Access.PUBLIC,
    ("POST", "/logout"): Access.PUBLIC,
    ("GET", "/static/{name}.css"): Access.PUBLIC,
    ("GET", "/static/{name}.js"): Access.PUBLIC,
    ("GET", "/static/vendor/{package}/{name}"): Access.PUBLIC,  # Swagger UI, ReDoc
    ("GET", "/openapi.json"): Access.PUBLIC,  # the schema: documentation, no data
    ("GET", "/docs"): Access.SIGNED_IN,
    ("GET", "/redoc"): Access.SIGNED_IN,
    ("GET", "/"): Access.MONITORING,
    ("GET", "/sections/{section_id}"): Access.MONITORING,
    ("GET", "/sections/{section_id}/data.csv"): Access.MONITORING,
    ("GET", "/sections/{section_id}/data.xlsx"): Access.MONITORING,
    ("GET", "/daily"): Access.MONITORING,
    ("GET", "/bulletins"): Access.MONITORING,
    ("GET", "/bulletins/{month}"): Access.MONITORING,
    ("GET", "/api/sections"): Access.MONITORING,
    ("GET", "/api/sections/{section_id}"): Access.MONITORING,
    ("GET", "/api/sections/{section_id}/observations"): Access.MONITORING,
    ("GET", "/api/sections/{section_id}/daily"): Access.MONITORING,
    ("GET", "/api/sections/{section_id}/latest"): Access.MONITORING,
    ("GET", "/api/sections/{section_id}/forecast"): Access.MONITORING,
    ("GET", "/api/forecast/skill"): Access.MONITORING,
    ("GET", "/api/classifications"): Access.MONITORING,
    ("GET", "/api/annual"): Access.MONITORING,
    ("GET", "/api/summary"): Access.MONITORING,
    ("GET", "/api/bulletins/{month}.pdf"): Access.MONITORING,
    ("GET", "/api/bulletins/{month}.html"): Access.MONITORING,
    ("GET", "/api/review"): Access.REVIEW,
    ("GET", "/api/jobs"): Access.OPERATIONS,
    ("GET", "/quality"): Access.OPERATIONS,  # the data-quality page: bureau only
    ("POST", "/quality/review/{observation_id}"): Access.REVIEW,
    ("GET", "/compensation"): Access.MONEY,
    ("GET", "/compensation/{month}"): Access.MONEY,
    ("GET", "/compensation/{month}/{unit}"): Access.MONEY,
    ("GET", "/api/compensation/outlook"): Access.MONEY,
    ("GET", "/api/compensation/{month}"): Access.MONEY,
    ("GET", "/api/compensation/{month}/versions"): Access.MONEY,
    ("GET", "/api/compensation/{month}/download"): Access.MONEY,
    ("GET", "/api/compensation/{month}/{unit}"): Access.MONEY,
    ("POST", "/api/compensation/{month}/issue"): Access.ISSUE,
    ("GET", "/alerts"): Access.ALERTS,
    ("GET", "/alerts/{episode_id}"): Access.ALERTS,
    ("POST", "/alerts/{episode_id}/acknowledge"): Access.ACKNOWLEDGE,
    ("GET", "/alerts/ack/{token}"): Access.PUBLIC,  # the signed link is the permission
    ("POST", "/alerts/ack/{token}"): Access.PUBLIC,
    ("GET", "/api/alerts"): Access.ALERTS,
    ("GET", "/api/alerts/{episode_id}"): Access.ALERTS,
    ("POST", "/api/alerts/{episode_id}/acknowledge"): Access.ACKNOWLEDGE,
    ("GET", "/appeals"): Access.APPEALS,
    ("GET", "/appeals/new"): Access.APPEAL_FILE,
    ("POST", "/appeals"): Access.APPEAL_FILE,
    ("GET", "/appeals/{appeal_id}"): Access.APPEALS,
    ("GET", "/appeals/{appeal_id}/attachments/{attachment_id}"): Access.APPEALS,
    ("POST", "/appeals/{appeal_id}/accept"): Access.ISSUE,
    ("POST", "/appeals/{appeal_id}/reject"): Access.ISSUE,
    ("POST", "/appeals/{appeal_id}/settle"): Access.ISSUE,
    ("POST", "/appeals/{appeal_id}/review/{observation_id}"): Access.REVIEW,
    ("GET", "/api/appeals"): Access.APPEALS,
    ("POST", "/api/appeals"): Access.APPEAL_FILE,
    ("GET", "/api/appeals/{appeal_id}"): Access.APPEALS,
    ("GET", "/api/appeals/{appeal_id}/attachments/{attachment_id}"): Access.APPEALS,
    ("POST", "/api/appeals/{appeal_id}/accept"): Access.ISSUE,
    ("POST", "/api/appeals/{appeal_id}/reject"): Access.ISSUE,
    ("POST", "/api/appeals/{appeal_id}/settle"): Access.ISSUE,
    ("POST", "/api/appeals/{appeal_id}/review/{observation_id}"): Access.REVIEW,
    ("GET", "/api/session"): Access.SIGNED_IN,
    ("GET", "/audit"): Access.ADMIN,
    ("GET", "/api/audit"): Access.ADMIN,
}
"""Every route: (method, path template) → who may use it. HEAD follows GET.

``create_app`` copies it to ``app.state.access``, which :func:`authorize` reads (an app built
for a test may add its own routes there)."""

_BUREAU: Final = frozenset({Role.ADMIN, Role.ANALYST})
_TOKEN_SCOPE: Final = {Access.MONITORING: "read", Access.SIGNED_IN: "read", Access.MONEY: "read",
                       Access.ISSUE: "issue", Access.REVIEW: "review", Access.ALERTS: "read",
                       Access.ACKNOWLEDGE: "review", Access.APPEALS: "read",
                       Access.APPEAL_FILE: "issue"}  # fmt: skip
_OWN_ALERTS: Final = frozenset({Role.RIVER_CHIEF, Role.COUNTY})


@dataclass(frozen=True)
class Principal:
    """The caller of one request."""

    via: Literal["anonymous", "session", "token"]
    username: str | None = None
    role: Role | None = None
    unit: str | None = None
    csrf: str | None = None
    chief: str | None = None
    """A river chief's id in the river-chief registry."""

    @property
    def actor(self) -> str:
        """How the audit log names the caller."""
        if self.username is None:
            return "anonymous"
        return self.username if self.via == "session" else f"token:{self.username}"


def session_serializer(settings: Settings, fallback: str) -> URLSafeTimedSerializer:
    """The signer of session cookies: the configured secret, else the process's random one."""
    secret = settings.session_secret.get_secret_value() if settings.session_secret else fallback
    return URLSafeTimedSerializer(secret, salt="qingliu-session")


def new_session(username: str) -> dict[str, str]:
    """The payload of a fresh session: the user and a new CSRF token."""
    return {"u": username, "c": secrets.token_urlsafe(24)}


def _user(engine: Engine, username: str) -> tuple[Role, str | None, str | None] | None:
    with engine.connect() as connection:
        row = connection.execute(
            select(USERS.c.role, USERS.c.unit_id, USERS.c.chief_id, USERS.c.active)
            .where(USERS.c.username == username)
        ).first()  # fmt: skip
    if row is None or not row.active:
        return None
    return Role(row.role), row.unit_id, row.chief_id


def may_see_money(principal: Principal, unit: str | None) -> bool:
    """Whether the caller may read a unit's compensation amounts (``Access.MONEY``): the
    bureau, a machine token, a county for its own unit (``unit`` None: every unit)."""
    role = principal.role
    if role in _BUREAU or (role is Role.API and principal.via == "token"):
        return True
    return role is Role.COUNTY and unit is not None and principal.unit == unit


def principal_of(request: Request, *, scope: str = "read") -> Principal:
    """Who sent ``request``: a valid token (with ``scope``), a valid session, or anonymous."""
    engine: Engine = request.app.state.engine
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        username = verify_token(engine=engine, secret=header[7:].strip(), scope=scope)
        if username is None:
            raise UnauthorizedError("令牌无效、过期、已撤销或无此权限 / invalid or weak token")
        found = _user(engine, username)
        if found is None:
            raise UnauthorizedError("令牌所属用户已停用 / the token's user is disabled")
        return Principal("token", username, found[0], found[1], chief=found[2])
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        try:
            data = request.app.state.sessions.loads(cookie, max_age=SESSION_SECONDS)
        except BadSignature:
            data = None
        if isinstance(data, dict) and isinstance(data.get("u"), str):
            found = _user(engine, data["u"])
            if found is not None:
                return Principal("session", data["u"], found[0], found[1], str(data.get("c")),
                                 found[2])  # fmt: skip
    return Principal("anonymous")


async def _check_csrf(request: Request, principal: Principal) -> None:
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and "form" in request.headers.get("content-type", ""):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not principal.csrf or not hmac.compare_digest(sent, principal.csrf):
        raise ForbiddenError("缺少或错误的 CSRF 令牌 / missing or wrong CSRF token")


def _unit_asked(request: Request) -> str | None:
    unit = request.path_params.get("unit") or request.query_params.get("unit")
    return str(unit) if unit else None


CALLER: ContextVar[Principal | None] = ContextVar("qingliu_caller", default=None)
"""The caller of the request being answered, once :func:`authorize` let it through (pages read
it to show 登录 or the signed-in user with 退出; None outside a request or before the check)."""


async def authorize(request: Request) -> Principal:
    """The app-wide dependency: look the matched route up in :data:`ACCESS` and decide.

    The caller let through is also put in :data:`CALLER` for the templates.
    """
    principal = await _decide(request)
    CALLER.set(principal)
    return principal


async def _decide(request: Request) -> Principal:
    route = request.scope.get("route")
    path = getattr(route, "path", request.url.path)
    method = "GET" if request.method == "HEAD" else request.method
    table: Mapping[tuple[str, str], Access] = request.app.state.access
    access = table.get((method, path))
    if access is None:
        raise ForbiddenError(f"未登记权限的路径 / route without an access entry: {method} {path}")
    if access is Access.PUBLIC:  # no caller needed (sign-in checks its own form)
        return Principal("anonymous")
    principal = principal_of(request, scope=_TOKEN_SCOPE.get(access, "read"))
    settings: Settings = request.app.state.settings
    if principal.role is None:
        if access is Access.MONITORING and settings.public_view:
            return principal
        raise UnauthorizedError("请先登录 / sign in first")
    if principal.via == "session" and request.method not in _SAFE_METHODS:
        await _check_csrf(request, principal)
    if access in (Access.MONITORING, Access.SIGNED_IN):
        return principal
    role = principal.role
    machine = principal.via == "token" and role is Role.API
    if machine and access not in (Access.OPERATIONS, Access.ADMIN):  # scope checked with token
        return principal
    if role in _BUREAU and access is not Access.ADMIN:
        return principal
    if role is Role.ADMIN:
        return principal
    if access in (Access.ALERTS, Access.ACKNOWLEDGE) and role in _OWN_ALERTS:
        return principal  # the route keeps to their sections (service.alerts.records.scope_for)
    if access in (Access.APPEALS, Access.APPEAL_FILE) and role is Role.COUNTY:
        return principal  # the route keeps to their unit (service.api.routes.appeals_api)
    if access is Access.MONEY and role is Role.COUNTY:
        asked = _unit_asked(request)
        if may_see_money(principal, asked):
            return principal
        if asked is None and path == "/compensation" and request.method in _SAFE_METHODS:
            return principal  # the menu's landing page: it sends a county to its own unit
        raise ForbiddenError("县（市、区）用户只能查看本单位 / a county sees its own unit only")
    raise ForbiddenError(f"角色 {role.label} 无此权限 / the role {role.value} may not do this")
