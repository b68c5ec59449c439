"""The page header knows who is signed in: the user's name, role and 退出 for a signed-in caller,
only 登录 for an anonymous one, and no menu entry the caller's role is refused.

Over real HTTP against uvicorn in a thread: the caller is put in ``service.api.access.CALLER`` by
the app-wide async dependency ``authorize`` and read by the sync page routes, which render in the
threadpool — so the header shows that the value crosses into the worker thread (and, with
requests of different callers at once, that it does not leak from one request to another).
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from service.accounts import add_user, create_token
from service.api.access import CALLER, Principal
from service.app import create_app
from service.settings import Settings
from service.web.templates import signed_in, template_environment
from tests.conftest import bearer, live_server_for

PASSWORD = "a long test password"
LOGOUT = r'<form method="post" action="/logout"[^>]*>\s*<button type="submit">退出</button>'


@dataclass
class Site:
    url: str
    app: FastAPI


@pytest.fixture
def site(settings: Settings) -> Iterator[Site]:
    """The app with the public view on (anonymous visitors may read the monitoring pages)."""
    app = create_app(settings.with_(public_view=True, secure_cookies=False))
    add_user(engine=app.state.engine, username="wang-analyst", role="analyst", password=PASSWORD)
    try:
        with live_server_for(app) as url:
            yield Site(url, app)
    finally:
        app.state.engine.dispose()


def _river_chief(site: Site) -> dict[str, str]:
    """Headers of a river chief (of the bundled registry's 滏阳河 chief) with a read token."""
    engine = site.app.state.engine
    add_user(engine=engine, username="zhao-chief", role="river_chief", chief_id="fuyang-city",
             password=PASSWORD)  # fmt: skip
    token = create_token(engine=engine, username="zhao-chief", name="tests", scopes=("read",))
    return {"Authorization": f"Bearer {token.secret}"}


def _header(html: str) -> str:
    match = re.search(r"<header>(.*?)</header>", html, re.S)
    assert match, "no header"
    return match.group(1)


def _nav(html: str) -> str:
    match = re.search(r'<nav class="menu">(.*?)</nav>', _header(html), re.S)
    assert match, "no menu"
    return match.group(1)


def _menu(html: str) -> set[str]:
    return set(re.findall(r'<a href="([^"]+)">', _header(html)))


def _sign_in(http: httpx.Client, username: str) -> None:
    page = http.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    answer = http.post("/login", data={"username": username, "password": PASSWORD,
                                       "csrf_token": token.group(1), "next": "/daily"},
                       follow_redirects=False)  # fmt: skip
    assert answer.status_code == 303 and answer.headers["location"] == "/daily"


def test_an_anonymous_visitor_sees_only_sign_in(site: Site) -> None:
    for path in ("/", "/daily", "/sections/xiaofanqiao", "/login"):
        answer = httpx.get(site.url + path, timeout=30, follow_redirects=True)
        assert answer.status_code == 200, path
        header = _header(answer.text)
        assert '<a href="/login">登录</a>' in header, path
        assert "退出" not in header and 'action="/logout"' not in header, path
        assert 'id="signed-in"' not in header, path
        menu = _menu(answer.text)
        assert "/quality" not in menu and "/compensation" not in menu, path
        assert {"/", "/daily", "/bulletins", "/alerts", "/docs"} <= menu, path


def test_a_signed_in_analyst_sees_their_name_and_sign_out_and_sign_out_works(site: Site) -> None:
    with httpx.Client(base_url=site.url, timeout=30) as http:
        _sign_in(http, "wang-analyst")
        for path in ("/", "/daily", "/sections/xiaofanqiao"):  # sync: rendered in the threadpool
            answer = http.get(path)
            assert answer.status_code == 200, path
            header = _header(answer.text)
            assert 'id="signed-in">wang-analyst<span class="role">（分析人员）</span>' in header
            assert "登录" not in header and 'href="/login"' not in header, path
            assert re.search(LOGOUT, header), path
            assert {"/quality", "/compensation", "/alerts"} <= _menu(answer.text), path
        # the form carries no CSRF token, and /logout needs none (clearing a cookie)
        form = re.search(r'<form method="post" action="/logout"[^>]*>(.*?)</form>',
                         _header(http.get("/daily").text), re.S)  # fmt: skip
        assert form is not None and "<input" not in form.group(1)
        out = http.post("/logout", follow_redirects=False)
        assert out.status_code == 303 and out.headers["location"] == "/login"
        after = _header(http.get("/daily").text)
        assert '<a href="/login">登录</a>' in after and "退出" not in after
        assert "wang-analyst" not in after


def test_the_login_page_is_public_so_its_header_offers_sign_in(site: Site) -> None:
    with httpx.Client(base_url=site.url, timeout=30) as http:
        _sign_in(http, "wang-analyst")
        header = _header(http.get("/login").text)  # a public route reads no cookie
        assert '<a href="/login">登录</a>' in header and "退出" not in header


def test_menu_entries_follow_the_role(site: Site) -> None:
    engine = site.app.state.engine
    county = bearer(engine, role="county", unit="taocheng", scopes=("read",))
    chief = _river_chief(site)
    admin = bearer(engine, role="admin", scopes=("read",))
    with httpx.Client(base_url=site.url, timeout=30) as http:
        page = http.get("/daily", headers=county).text
        assert "/quality" not in _menu(page) and "数据质量" not in _nav(page)
        assert "/compensation" in _menu(page)
        assert "（县（市、区））</span>" in _header(page) and "退出" in _header(page)
        page = http.get("/daily", headers=chief).text
        assert "/quality" not in _menu(page) and "/compensation" not in _menu(page)
        assert "生态补偿" not in _nav(page) and "（河长）</span>" in _header(page)
        page = http.get("/daily", headers=admin).text
        assert {"/quality", "/compensation"} <= _menu(page) and "（管理员）</span>" in _header(page)


def test_concurrent_callers_each_see_themselves(site: Site) -> None:
    """Requests of three callers at once: every page names its own caller (the worker threads
    are shared, the context is the request's)."""
    engine = site.app.state.engine
    who = {"anonymous": {}, "county": bearer(engine, role="county", unit="jizhou"),
           "chief": _river_chief(site)}  # fmt: skip

    def one(key: str) -> tuple[str, str]:
        answer = httpx.get(site.url + "/daily", headers=who[key], timeout=60)
        assert answer.status_code == 200
        return key, _header(answer.text)

    keys = [key for _ in range(12) for key in who]
    with ThreadPoolExecutor(max_workers=12) as pool:
        pages = list(pool.map(one, keys))
    for key, header in pages:
        if key == "anonymous":
            assert "登录" in header and 'id="signed-in"' not in header
        elif key == "county":
            assert "（县（市、区））</span>" in header and "登录" not in header
        else:
            assert "（河长）</span>" in header and "登录" not in header


def test_refused_pages_still_answer(site: Site) -> None:
    engine = site.app.state.engine
    county = bearer(engine, role="county", unit="taocheng", scopes=("read",))
    with httpx.Client(base_url=site.url, timeout=30) as http:
        refused = http.get("/quality", headers=county)
        assert refused.status_code == 403 and "<h1>403" in refused.text
        anonymous = http.get("/quality", follow_redirects=False)
        assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
        assert http.get("/sections/nowhere").status_code == 404


def test_outside_a_request_the_header_is_anonymous() -> None:
    """Rendering with no caller set (a job, an error before the check): 登录, nothing else."""

    def render() -> str:
        assert CALLER.get() is None and signed_in() is None
        template = template_environment().get_template("login.html")
        return template.render(title="登录", csrf_token="t", next="/", error="")

    header = _header(contextvars.Context().run(render))
    assert '<a href="/login">登录</a>' in header and "退出" not in header

    def roleless() -> str:
        CALLER.set(Principal("session", "zhao", role=None))  # a principal without a role
        return _header(template_environment().get_template("login.html").render(
            title="登录", csrf_token="t", next="/", error=""))  # fmt: skip

    assert "登录" in contextvars.Context().run(roleless)
