"""Every page on a 390 px phone in a real headless Chromium: no sideways scrolling of the page
(wide tables scroll inside themselves), and the menu folds behind a button that opens it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sections.registry import Registry, load_registry
from service.accounts import add_user
from service.app import create_app
from service.demo.run import seed_demo
from service.jobs.daily import run_daily
from service.jobs.monthly import run_monthly
from service.settings import Settings
from tests.conftest import live_server_for

pytestmark = pytest.mark.browser

PASSWORD = "a long test password"
SMALL = ("hutuo-anping", "hengshuihu-dahuxin")
MONTH = dt.date(2025, 3, 1)
PHONE = {"width": 390, "height": 844}
PAGES = (
    "/", "/daily?date=2025-03-03", "/sections/hutuo-anping", "/bulletins", "/bulletins/2025-03",
    "/compensation/2025-03", "/compensation/2025-03/anping", "/compensation?year=2025",
    "/alerts", "/audit",
)  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app over two seeded sections, classified and rolled up for March 2025."""
    registry = load_registry()
    small = Registry(units=registry.units, sections=tuple(registry.section(k) for k in SMALL))
    folder: Path = tmp_path_factory.mktemp("phone")
    settings = Settings(data_dir=folder / "data", scheduler=False, secure_cookies=False)
    app = create_app(settings, registry=registry)
    engine = app.state.engine
    seed_demo(engine=engine, registry=small, year=2025, show_progress=False,
              data_dir=settings.data_dir)  # fmt: skip
    run_daily(engine=engine, registry=small, first=MONTH, last=MONTH + dt.timedelta(days=4))
    run_monthly(engine=engine, registry=small, month=MONTH)
    add_user(engine=engine, username="phone", role="admin", password=PASSWORD)
    try:
        with live_server_for(app) as url:
            yield url
    finally:
        engine.dispose()


def _signed_in(browser: Any, url: str, viewport: dict[str, int]) -> Any:
    context = browser.new_context(viewport=viewport, is_mobile=viewport["width"] < 600)
    page = context.new_page()
    page.goto(url + "/login?next=/alerts")
    page.fill("input[name=username]", "phone")
    page.fill("input[name=password]", PASSWORD)
    page.click("#login button[type=submit]")
    page.wait_for_url(url + "/alerts")
    return context, page


def test_every_page_fits_a_phone_without_sideways_scrolling(
    browser: Any, site: str, tmp_path: Path
) -> None:
    context, page = _signed_in(browser, site, PHONE)
    wide: list[str] = []
    try:
        for path in PAGES:
            answer = page.goto(site + path)
            assert answer is not None and answer.status == 200, path
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > PHONE["width"]:
                wide.append(f"{path}: {width} px")
            name = path.strip("/").replace("/", "_").replace("?", "_") or "overview"
            page.screenshot(path=str(tmp_path / f"phone-{name}.png"), full_page=True)
    finally:
        context.close()
    assert wide == [], "pages wider than a 390 px phone"


def test_the_menu_folds_on_a_phone_and_opens_with_its_button(browser: Any, site: str) -> None:
    context, page = _signed_in(browser, site, PHONE)
    try:
        page.goto(site + "/daily?date=2025-03-03")
        link = page.locator("header .menu a[href='/compensation']")
        user = page.locator("header .menu #signed-in")
        logout = page.locator("header .menu form.logout button")
        assert not link.is_visible() and page.locator(".menu-button").is_visible()
        assert not user.is_visible() and not logout.is_visible()  # folded with the menu
        page.click(".menu-button")
        assert link.is_visible()
        assert user.inner_text() == "phone（管理员）" and logout.is_visible()
        for item in (link, user, logout):
            box = item.bounding_box()
            assert box is not None and box["x"] + box["width"] <= PHONE["width"]
        assert page.locator("header .menu a[href='/login']").count() == 0
        link.click()
        page.wait_for_url(f"{site}/compensation/**")
    finally:
        context.close()
    context, page = _signed_in(browser, site, {"width": 1280, "height": 800})
    try:
        page.goto(site + "/daily?date=2025-03-03")
        assert page.locator("header .menu a[href='/compensation']").is_visible()
        assert not page.locator(".menu-button").is_visible()
        assert page.locator("header .menu #signed-in").is_visible()
        assert page.locator("header .menu form.logout button").is_visible()
    finally:
        context.close()
