"""The overview in a real headless Chromium: the map's colours, a phone's width, the links."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from sections.classes import WaterClass
from sections.registry import Registry
from service.app import create_app
from service.settings import Settings
from tests.conftest import live_server_for
from tests.service.test_overview_page import seed

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def base_url(db: Engine, settings: Settings, registry: Registry) -> Iterator[str]:
    seed(db, registry)
    app = create_app(settings.with_(public_view=True), registry=registry)
    try:
        with live_server_for(app) as url:
            yield url
    finally:
        app.state.engine.dispose()


def _rgb(colour: str) -> str:
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({red}, {green}, {blue})"


def test_dots_take_their_class_colour_and_link_to_the_section(
    browser: Any, base_url: str, registry: Registry, tmp_path: Path
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text))
    try:
        page.goto(base_url + "/")
        assert page.locator("#overview-map a.map-section").count() == len(registry)
        for section_id, klass in (("xiaofanqiao", WaterClass.II),
                                  ("fuyang-taocheng", WaterClass.IV)):  # fmt: skip
            dot = page.locator(f'a[data-map-section="{section_id}"] circle.dot')
            fill = dot.evaluate("e => getComputedStyle(e).fill")
            assert fill == _rgb(klass.colour), section_id
        ring = page.locator('a[data-map-section="fuyang-taocheng"] circle.miss-ring')
        assert ring.evaluate("e => getComputedStyle(e).fill") == "none"
        assert ring.evaluate("e => getComputedStyle(e).stroke") == _rgb("#b91c1c")
        empty = page.locator('a[data-map-section="hutuo-anping"] circle.dot')
        assert empty.evaluate("e => getComputedStyle(e).fill") == _rgb("#d0d7de")
        page.screenshot(path=str(tmp_path / "overview.png"), full_page=True)
        page.locator('a[data-map-section="xiaofanqiao"]').click()
        page.wait_for_url(base_url + "/sections/xiaofanqiao")
        assert page.locator("h1").inner_text() == "小范桥"
        assert not [e for e in errors if "Content Security Policy" in e]
    finally:
        page.close()


def test_the_map_fits_a_phone_without_horizontal_scroll(
    browser: Any, base_url: str, tmp_path: Path
) -> None:
    page = browser.new_page(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    try:
        page.goto(base_url + "/")
        box = page.locator("#overview-map").bounding_box()
        assert box is not None
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        assert box["width"] >= PHONE["width"] * 0.8  # scaled to the screen, not shrunk away
        ratio = page.locator("#overview-map").evaluate(
            "e => e.viewBox.baseVal.height / e.viewBox.baseVal.width"
        )
        assert box["height"] / box["width"] == pytest.approx(ratio, rel=0.02)
        overview = page.locator("#overview")
        assert overview.evaluate("e => e.scrollWidth - e.clientWidth") <= 0
        assert overview.evaluate("e => e.getBoundingClientRect().right") <= PHONE["width"]
        table = page.locator(".table-scroll")  # the registry table scrolls inside its box
        assert table.evaluate("e => getComputedStyle(e).overflowX") == "auto"
        assert table.evaluate("e => e.getBoundingClientRect().right") <= PHONE["width"]
        sticking_out = page.evaluate(
            """width => Array.from(document.querySelectorAll("main *"))
                .filter(e => !e.closest("svg, .table-scroll"))
                .filter(e => e.getBoundingClientRect().right > width)
                .map(e => e.tagName)""",
            PHONE["width"],
        )
        assert sticking_out == []  # (the site header is base.html's, not the overview's)
        page.screenshot(path=str(tmp_path / "overview-phone.png"), full_page=True)
    finally:
        page.close()
