"""The API documentation pages in a real headless Chromium, with the internet cut off.

Every request that does not go to the app on 127.0.0.1 is aborted (and recorded): ``/docs``
(Swagger UI) and ``/redoc`` (ReDoc) must still render, with no console error, no page error and
no Content-Security-Policy violation.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from service.accounts import add_user
from service.app import create_app
from service.settings import Settings
from tests.conftest import live_server_for

pytestmark = pytest.mark.browser

PASSWORD = "a long test password"
_WATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(e.violatedDirective + " " + e.blockedURI);
});
"""


@pytest.fixture
def base_url(tmp_path: Path) -> Iterator[str]:
    app = create_app(Settings(data_dir=tmp_path / "data", scheduler=False, secure_cookies=False))
    add_user(engine=app.state.engine, username="docs-admin", role="admin", password=PASSWORD)
    try:
        with live_server_for(app) as url:
            yield url
    finally:
        app.state.engine.dispose()


@dataclass
class Offline:
    """A signed-in page whose requests off loopback are aborted, and what it saw."""

    page: Any
    blocked: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def violations(self) -> list[str]:
        return list(self.page.evaluate("window.__violations"))

    def assert_clean(self) -> None:
        assert self.blocked == [], "requests off the machine"
        assert self.console == [], "console errors"
        assert self.errors == [], "page errors"
        assert self.violations() == [], "CSP violations"


@pytest.fixture
def offline(browser: Any, base_url: str) -> Iterator[Offline]:
    context = browser.new_context(base_url=base_url)
    seen = Offline(context.new_page())

    def route(request_route: Any) -> None:
        url = request_route.request.url
        host = urlsplit(url).hostname
        if url.startswith(("data:", "blob:")) or host == "127.0.0.1":
            request_route.continue_()
        else:
            seen.blocked.append(url)
            request_route.abort()

    context.route("**/*", route)
    context.add_init_script(_WATCH_VIOLATIONS)

    def console(message: Any) -> None:
        # the site has no icon at all: Chromium's own /favicon.ico request is answered 404
        where = urlsplit(message.location.get("url", ""))
        if message.type == "error" and where.path != "/favicon.ico":
            seen.console.append(f"{message.text} ({where.geturl()})")

    seen.page.on("console", console)
    seen.page.on("pageerror", lambda e: seen.errors.append(str(e)))
    try:
        seen.page.goto("/login?next=/daily")
        seen.page.fill("input[name=username]", "docs-admin")
        seen.page.fill("input[name=password]", PASSWORD)
        seen.page.click("#login button[type=submit]")
        seen.page.wait_for_url("**/daily")
        yield seen
    finally:
        context.close()


def test_swagger_ui_renders_offline(offline: Offline, tmp_path: Path) -> None:
    page = offline.page
    page.goto("/docs")
    page.wait_for_selector(".opblock", timeout=20_000)
    paths = page.locator(".opblock .opblock-summary-path").all_inner_texts()
    assert "/api/sections" in [p.strip().replace("\u200b", "") for p in paths]
    assert page.locator(".opblock").count() >= 20
    assert "清流 Qingliu" in page.locator(".info .title").inner_text()
    page.locator(".opblock-summary-path", has_text="/healthz").first.click()
    page.wait_for_selector(".opblock.is-open")
    page.screenshot(path=str(tmp_path / "docs.png"), full_page=False)
    offline.assert_clean()


def test_redoc_renders_offline_with_system_fonts(offline: Offline, tmp_path: Path) -> None:
    page = offline.page
    page.goto("/redoc")
    title = page.wait_for_selector("h1", timeout=20_000)
    assert title is not None and "清流 Qingliu" in title.inner_text()
    assert page.locator("[data-section-id^='tag/']").count() >= 1
    for selector in ("h1", "p"):
        family = page.locator(selector).first.evaluate("e => getComputedStyle(e).fontFamily")
        assert "Roboto" not in family and "Montserrat" not in family, (selector, family)
    # the search index runs in a blob: worker, which the page's policy admits
    page.fill("input[placeholder*='Search']", "sections")
    page.wait_for_selector("[data-role='search:results'] li", timeout=10_000)
    page.screenshot(path=str(tmp_path / "redoc.png"), full_page=False)
    offline.assert_clean()
