"""The section page in a real headless Chromium: no console errors (the CSP allows no inline
style or script), the charts' marks styled from section.css, a phone's width without sideways
scrolling."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from sections.registry import Registry
from service.app import create_app
from service.settings import Settings
from tests.conftest import live_server_for
from tests.service.test_section_page import SECTION, SUSPECT_DAY, seed

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def base_url(db: Engine, settings: Settings, registry: Registry) -> Iterator[str]:
    seed(db)
    app = create_app(settings.with_(public_view=True), registry=registry)
    try:
        with live_server_for(app) as url:
            yield url
    finally:
        app.state.engine.dispose()


@pytest.mark.parametrize("days", [30, 365])
def test_no_console_errors_and_the_marks_are_styled(
    browser: Any, base_url: str, days: int, tmp_path: Path
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda message: message.type in ("error", "warning") and errors.append(
        f"{message.type}: {message.text} ({message.location.get('url')})"))  # fmt: skip
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("response", lambda answer: answer.status >= 400 and errors.append(
        f"{answer.status} {answer.url}"))  # fmt: skip
    try:
        page.goto(f"{base_url}/sections/{SECTION}?days={days}")
        assert page.locator("svg.indicator-chart").count() == 5
        hollow = page.locator(f'#chart-nh3n [data-day="{SUSPECT_DAY.isoformat()}"]')
        assert hollow.evaluate("e => getComputedStyle(e).fill") == "rgb(255, 255, 255)"
        band = page.locator("#chart-nh3n rect.band-6")
        assert band.evaluate("e => getComputedStyle(e).fill") == "rgb(229, 57, 53)"  # 劣Ⅴ red
        page.screenshot(path=str(tmp_path / "section.png"), full_page=True)
        # Chromium asks for /favicon.ico by itself; the site has none (not this page's doing)
        assert [e for e in errors if "/favicon.ico" not in e] == []
    finally:
        page.close()


def test_the_page_fits_a_phone_without_horizontal_scroll(browser: Any, base_url: str) -> None:
    page = browser.new_page(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    try:
        page.goto(f"{base_url}/sections/{SECTION}")
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"]
        box = page.locator("#chart-nh3n svg").bounding_box()
        assert box is not None
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        assert box["width"] >= PHONE["width"] * 0.8  # scaled to the screen, not shrunk away
    finally:
        page.close()
