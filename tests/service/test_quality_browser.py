"""The data-quality page in a real headless Chromium: no console errors (the CSP allows no inline
style or script), a phone's width without sideways scroll, a silent station in red, and the
review form's 确认 button doing its work."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from sections.registry import Registry
from service.accounts import add_user
from service.app import create_app
from service.db.models import Observation
from service.settings import Settings
from tests.conftest import live_server_for
from tests.service.test_quality_page import PASSWORD, SILENT, seed

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def site(settings: Settings, registry: Registry) -> Iterator[tuple[str, Engine]]:
    app = create_app(settings.with_(secure_cookies=False), registry=registry)
    engine: Engine = app.state.engine
    seed(engine, dt.datetime.now(dt.UTC).replace(microsecond=0))
    add_user(engine=engine, username="wang", role="analyst", password=PASSWORD)
    try:
        with live_server_for(app) as url:
            yield url, engine
    finally:
        engine.dispose()


def _sign_in(page: Any, url: str) -> None:
    page.goto(url + "/login?next=/quality")
    page.fill('input[name="username"]', "wang")
    page.fill('input[name="password"]', PASSWORD)
    page.locator("#login button, #login input[type=submit]").first.click()
    page.wait_for_url(url + "/quality")


def _watch(page: Any) -> list[str]:
    """Console errors and warnings, script errors and failed loads (CSP refusals show here),
    except Chromium's own /favicon.ico request: the site has no icon."""
    errors: list[str] = []

    def console(message: Any) -> None:
        where = str(message.location.get("url", ""))
        if message.type in ("error", "warning") and not where.endswith("/favicon.ico"):
            errors.append(f"{message.text} ({where})")

    def response(answer: Any) -> None:
        if answer.status >= 400 and not answer.url.endswith("/favicon.ico"):
            errors.append(f"{answer.status} {answer.url}")

    page.on("console", console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("response", response)
    return errors


def _pending_tp(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                select(Observation.id).where(
                    Observation.review_status == "pending", Observation.parameter == "tp"
                )
            ).scalar_one()
        )


def test_the_page_fits_a_phone_without_errors(
    browser: Any, site: tuple[str, Engine], tmp_path: Path
) -> None:
    url, _ = site
    page = browser.new_page(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    errors = _watch(page)
    try:
        _sign_in(page, url)
        assert page.title() == "数据质量 · 清流"
        assert page.locator("#quality-grid tbody tr").count() >= 2
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0
        for scroller in page.locator(".quality-scroll").all():  # wide tables scroll inside
            assert scroller.evaluate("e => e.getBoundingClientRect().right") <= PHONE["width"]
        sticking_out = page.evaluate(
            """width => Array.from(document.querySelectorAll("main *"))
                .filter(e => !e.closest(".quality-scroll"))
                .filter(e => e.getBoundingClientRect().right > width + 0.5)
                .map(e => e.tagName + "." + e.className)""",
            PHONE["width"],
        )
        assert sticking_out == []
        age = page.locator(f'#quality-stations tr[data-station="{SILENT}"] td.age')
        assert age.evaluate("e => getComputedStyle(e).color") == "rgb(185, 28, 28)"
        page.screenshot(path=str(tmp_path / "quality-phone.png"), full_page=True)
    finally:
        page.close()
    assert errors == []


def test_the_accept_button_reviews_the_value(browser: Any, site: tuple[str, Engine]) -> None:
    url, engine = site
    tp = _pending_tp(engine)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = _watch(page)
    try:
        _sign_in(page, url)
        item = page.locator(f'.review-item[data-observation="{tp}"]')
        item.locator('button[value="accept"]').click()
        page.wait_for_url(url + "/quality?days=7#review")
        assert page.locator(f'.review-item[data-observation="{tp}"]').count() == 0
    finally:
        page.close()
    with engine.connect() as connection:
        status = connection.execute(
            select(Observation.review_status).where(Observation.id == tp)
        ).scalar_one()
    assert status == "accepted"
    assert errors == []
