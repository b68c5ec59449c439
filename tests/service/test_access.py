"""Who may use which route: the role × route walk, sign-in, CSRF, the county's own unit.

The expectation below is written out again from the issue's roles, not read from the table, so a
wrong entry in ``service.api.access.ACCESS`` fails here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine

from service.accounts import add_user, audit_events, create_token, disable_user
from service.api.access import ACCESS, SESSION_COOKIE
from service.app import create_app
from service.settings import Settings
from tests.conftest import live_server_for

PASSWORD = "a long test password"
MONITORING_PAGES = {"/", "/sections/{section_id}", "/daily", "/bulletins", "/bulletins/{month}",
                    "/sections/{section_id}/data.csv", "/sections/{section_id}/data.xlsx"}
MONEY = {"/compensation", "/compensation/{month}", "/compensation/{month}/{unit}",
         "/api/compensation/{month}", "/api/compensation/{month}/versions",
         "/api/compensation/{month}/download", "/api/compensation/{month}/{unit}",
         "/api/compensation/outlook"}  # fmt: skip
OWN_UNIT = {"/compensation/{month}/{unit}", "/api/compensation/{month}/{unit}",
            "/compensation"}  # the menu's landing page sends a county to its own unit
PUBLIC = {"/healthz", "/login", "/logout", "/static/{name}.css", "/static/{name}.js",
          "/static/vendor/{package}/{name}", "/openapi.json",
          "/alerts/ack/{token}"}  # the signed link is the permission
ALERTS = {"/alerts", "/alerts/{episode_id}", "/api/alerts", "/api/alerts/{episode_id}"}
ACKNOWLEDGE = {"/alerts/{episode_id}/acknowledge", "/api/alerts/{episode_id}/acknowledge"}
QUALITY = {"/quality", "/quality/review/{observation_id}"}  # the data-quality page, its forms
APPEALS = {"/appeals", "/appeals/{appeal_id}", "/appeals/{appeal_id}/attachments/{attachment_id}",
           "/api/appeals", "/api/appeals/{appeal_id}",
           "/api/appeals/{appeal_id}/attachments/{attachment_id}"}  # fmt: skip
APPEAL_DECISIONS = {f"{root}/appeals/{{appeal_id}}/{step}" for root in ("", "/api")
                    for step in ("accept", "reject", "settle")}  # fmt: skip
APPEAL_REVIEW = {"/appeals/{appeal_id}/review/{observation_id}",
                 "/api/appeals/{appeal_id}/review/{observation_id}"}  # fmt: skip
FILL = {"section_id": "xiaofanqiao", "month": "2025-07", "unit": "taocheng", "name": "site",
        "episode_id": "1", "token": "not-a-signed-link", "package": "redoc",
        "observation_id": "1", "appeal_id": "1", "attachment_id": "1"}  # fmt: skip
WHO = ("anonymous", "admin", "analyst", "county", "river_chief", "api_read", "api_issue")


def expected(who: str, method: str, path: str, *, public_view: bool) -> bool:
    """Whether ``who`` may use the route, as the issue states the roles."""
    if path in PUBLIC:
        return True
    monitoring = path in MONITORING_PAGES or (
        path.startswith("/api/") and path not in MONEY
        and path not in {"/api/review", "/api/jobs", "/api/audit", "/api/session",
                         "/api/compensation/{month}/issue"} | ALERTS | ACKNOWLEDGE | APPEALS
        and path not in APPEAL_DECISIONS | APPEAL_REVIEW | {"/api/appeals"}
    )  # fmt: skip
    if who == "anonymous":
        return public_view and monitoring
    if path in {"/docs", "/redoc", "/openapi.json", "/api/session"} or monitoring:
        return True
    if path in {"/audit", "/api/audit"}:
        return who == "admin"
    if path == "/api/jobs":
        return who in ("admin", "analyst")
    if path in ALERTS:  # everyone signed in; river chiefs and counties: their own sections
        return True
    if path in ACKNOWLEDGE:  # tokens need `review`; counties may not
        return who in ("admin", "analyst")
    if path in APPEALS and method == "GET":  # a county: its own unit's (the route filters)
        return who in ("admin", "analyst", "county", "api_read", "api_issue")
    if path in ("/appeals", "/api/appeals", "/appeals/new"):  # filing: tokens need `issue`
        return who in ("admin", "analyst", "api_issue")  # the county's token reads only
    if path in APPEAL_DECISIONS:
        return who in ("admin", "analyst", "api_issue")
    if path in APPEAL_REVIEW:
        return who in ("admin", "analyst")
    if path == "/api/review":
        return who in ("admin", "analyst")
    if path in QUALITY:  # the bureau only; posting a review needs a token's `review` scope
        return who in ("admin", "analyst")
    if path == "/api/compensation/{month}/issue":
        return who in ("admin", "analyst", "api_issue")
    if path in MONEY:
        return who in ("admin", "analyst", "api_read", "api_issue") or (
            who == "county" and path in OWN_UNIT
        )
    raise AssertionError(f"no expectation for {method} {path}")


def _routes(app: FastAPI) -> set[tuple[str, str]]:
    found = set()
    for route in app.router.routes:
        for inner in getattr(getattr(route, "original_router", None), "routes", [route]):
            for method in (getattr(inner, "methods", None) or set()) - {"HEAD"}:
                found.add((method, inner.path))
    return found


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    application = create_app(settings.with_(secure_cookies=False))
    yield application
    application.state.engine.dispose()


def _headers(engine: Engine) -> dict[str, dict[str, str]]:
    headers: dict[str, dict[str, str]] = {"anonymous": {}}
    for who, role, unit, scopes in (
        ("admin", "admin", None, ("read", "issue", "review")),
        ("analyst", "analyst", None, ("read", "issue", "review")),
        ("county", "county", "taocheng", ("read",)),
        ("river_chief", "river_chief", None, ("read",)),  # chief_id below
        ("api_read", "api", None, ("read",)), ("api_issue", "api", None, ("read", "issue")),
    ):  # fmt: skip
        chief = "fuyang-city" if role == "river_chief" else None
        add_user(engine=engine, username=who, role=role, unit_id=unit, chief_id=chief,
                 password=PASSWORD)  # fmt: skip
        token = create_token(engine=engine, username=who, name="walk", scopes=scopes)
        headers[who] = {"Authorization": f"Bearer {token.secret}"}
    return headers


def test_every_route_has_an_entry_and_every_entry_a_route(app: FastAPI) -> None:
    routes = _routes(app)
    assert routes - set(ACCESS) == set(), "routes without an access entry"
    assert set(ACCESS) - routes == set(), "entries without a route"


@pytest.mark.parametrize("public_view", [False, True], ids=["private", "public-view"])
def test_each_role_on_each_route(settings: Settings, public_view: bool) -> None:
    app = create_app(settings.with_(public_view=public_view, secure_cookies=False))
    headers = _headers(app.state.engine)
    wrong: list[str] = []
    try:
        with live_server_for(app) as url, httpx.Client(base_url=url, timeout=30) as http:
            for method, path in sorted(ACCESS):
                target = path.format(**FILL)
                for who in WHO:
                    answer = http.request(method, target, headers=headers[who],
                                          follow_redirects=False)  # fmt: skip
                    to_login = answer.status_code == 303 and "/login" in answer.headers.get(
                        "location", "")  # fmt: skip
                    refused = answer.status_code in (401, 403) or to_login
                    if path in ("/login", "/logout") and method == "POST":
                        refused = answer.status_code == 401 and "login" not in answer.text
                    if refused == expected(who, method, path, public_view=public_view):
                        wrong.append(f"{who} {method} {target} → {answer.status_code}")
                    assert answer.status_code < 500, f"{who} {method} {target}: {answer.text[:200]}"
    finally:
        app.state.engine.dispose()
    assert wrong == []


def _sign_in(http: httpx.Client, username: str, password: str) -> httpx.Response:
    page = http.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    return http.post("/login", data={"username": username, "password": password,
                                     "csrf_token": token.group(1), "next": "/daily"},
                     follow_redirects=False)  # fmt: skip


def test_sign_in_session_and_csrf(app: FastAPI) -> None:
    add_user(engine=app.state.engine, username="wang", role="analyst", password=PASSWORD)
    with live_server_for(app) as url, httpx.Client(base_url=url, timeout=60) as http:
        assert http.get("/compensation/2025-07", follow_redirects=False).status_code == 303
        assert _sign_in(http, "wang", "wrong password!!").status_code == 401
        signed = _sign_in(http, "wang", PASSWORD)
        assert signed.status_code == 303 and signed.headers["location"] == "/daily"
        cookie = signed.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
        assert http.get("/compensation/2025-07").status_code == 200
        # a cross-site form POST carries the cookie but not the CSRF token: refused
        forged = http.post("/api/compensation/2025-07/issue")
        assert forged.status_code == 403 and "CSRF" in forged.json()["error"]
        csrf = http.get("/api/session").json()["csrf_token"]
        issued = http.post("/api/compensation/2025-07/issue", headers={"X-CSRF-Token": csrf})
        assert issued.status_code == 200 and issued.json()["version"] == 1
        (event,) = audit_events(engine=app.state.engine, action="statement.issue")
        assert event.actor == "wang"
        disable_user(engine=app.state.engine, username="wang")
        assert http.get("/compensation/2025-07", follow_redirects=False).status_code == 303
    actions = [e.action for e in audit_events(engine=app.state.engine)]
    assert "login.failed" in actions and "login.ok" in actions


def test_login_form_needs_its_own_csrf_cookie(app: FastAPI) -> None:
    add_user(engine=app.state.engine, username="li", role="admin", password=PASSWORD)
    with live_server_for(app) as url, httpx.Client(base_url=url, timeout=30) as http:
        answer = http.post("/login", data={"username": "li", "password": PASSWORD,
                                           "csrf_token": "guessed"}, follow_redirects=False)
        assert answer.status_code == 403 and SESSION_COOKIE not in answer.headers.get(
            "set-cookie", "")  # fmt: skip


def test_a_county_sees_only_its_own_unit(app: FastAPI) -> None:
    headers = _headers(app.state.engine)["county"]
    with live_server_for(app) as url, httpx.Client(base_url=url, timeout=60,
                                                   headers=headers) as http:  # fmt: skip
        assert http.get("/api/compensation/2025-07/taocheng").status_code == 200
        assert http.get("/api/compensation/2025-07/jizhou").status_code == 403
        assert http.get("/api/compensation/2025-07").status_code == 403
        own = http.get("/api/compensation/2025-07/download", params={"unit": "taocheng",
                                                                     "format": "json"})
        assert own.status_code == 200
        assert http.post("/api/compensation/2025-07/issue").status_code in (401, 403)


def test_tokens_need_their_scope_and_die_when_revoked(app: FastAPI) -> None:
    from service.accounts import revoke_token

    headers = _headers(app.state.engine)
    with live_server_for(app) as url, httpx.Client(base_url=url, timeout=60) as http:
        read_only = http.post("/api/compensation/2025-07/issue", headers=headers["api_read"])
        assert read_only.status_code == 401
        assert http.get("/api/sections", headers={"Authorization": "Bearer qlt_forged"}
                        ).status_code == 401  # fmt: skip
        revoke_token(engine=app.state.engine, token_id=6)  # api_issue's token
        assert http.get("/api/sections", headers=headers["api_issue"]).status_code == 401
