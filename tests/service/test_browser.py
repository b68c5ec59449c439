"""The pages in a real headless Chromium: the list of sections and a section page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sections.registry import Registry
from service.app import create_app
from service.settings import Settings
from tests.conftest import live_server_for

pytestmark = pytest.mark.browser


@pytest.fixture
def base_url(tmp_path: Path) -> Iterator[str]:
    app = create_app(Settings(data_dir=tmp_path / "data", public_view=True))
    try:
        with live_server_for(app) as url:
            yield url
    finally:
        app.state.engine.dispose()


def test_first_page_lists_sections_and_links_to_a_section_page(
    browser: Any, base_url: str, registry: Registry, tmp_path: Path
) -> None:
    page = browser.new_page()
    try:
        page.goto(base_url + "/")
        assert page.title() == "断面名录 · 清流"
        rows = page.locator("#sections tbody tr")
        assert rows.count() == len(registry)
        lake_badge = page.locator('tr[data-section="hengshuihu-dahuxin"] .class-badge')
        assert lake_badge.inner_text() == "Ⅲ"
        assert "67, 160, 71" in lake_badge.evaluate("e => getComputedStyle(e).backgroundColor")
        page.screenshot(path=str(tmp_path / "sections.png"), full_page=True)

        page.click("text=小范桥")
        page.wait_for_url(base_url + "/sections/xiaofanqiao")
        assert page.locator("h1").inner_text() == "小范桥"
        assert "武强县" in page.locator("table.facts").inner_text()
    finally:
        page.close()
