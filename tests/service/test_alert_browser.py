"""The acknowledgement page a message's link opens, in a real headless Chromium on a phone
(390 × 844 CSS px): it fits without sideways scrolling, and its button acknowledges."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, select

from sections.alert_rules import AlertLevel, Condition
from sections.registry import Registry
from sections.river_chiefs import load_river_chiefs
from service.alerts.ack_links import AckLinks
from service.alerts.episodes import apply_conditions
from service.app import create_app
from service.db.models import AlertEpisode, table_of
from service.settings import Settings
from tests.conftest import live_server_for

pytestmark = pytest.mark.browser

SECRET = "an alert link secret of at least 32 chars"
PHONE = {"width": 390, "height": 844}
EPISODES = table_of(AlertEpisode)


@pytest.fixture
def served(tmp_path: Path, registry: Registry) -> Iterator[tuple[str, Engine, str]]:
    """The app on a live server, one open red episode, and the path of its link."""
    settings = Settings(data_dir=tmp_path / "data", scheduler=False, secure_cookies=False,
                        alerts_base_url="http://qingliu.test",
                        alert_link_secret=SecretStr(SECRET))  # fmt: skip
    app = create_app(settings, registry=registry)
    engine: Engine = app.state.engine
    now = dt.datetime.now(dt.UTC)
    detail = "日均值 2.31 mg/L，劣Ⅴ类（Ⅴ类限值 2.0 mg/L），超过Ⅲ类目标 1.31 倍" * 2  # a long line
    apply_conditions(
        engine=engine, chiefs=load_river_chiefs(registry=registry), registry=registry, now=now,
        conditions=[Condition("fuyang-jizhou", "nh3n", AlertLevel.RED, "inferior_v",
                              "river_chiefs", now - dt.timedelta(hours=2), 2.31, 1.0, detail)],
    )  # fmt: skip
    with engine.connect() as connection:
        episode_id = int(connection.execute(select(EPISODES.c.id)).scalar_one())
    link = AckLinks(SECRET, "http://qingliu.test", dt.timedelta(hours=72)).url(
        episode_id, "fuyang-jizhou-county"
    )
    try:
        with live_server_for(app) as url:
            yield url, engine, link.removeprefix("http://qingliu.test")
    finally:
        engine.dispose()


def test_the_link_page_fits_a_phone_and_its_button_acknowledges(
    browser: Any, served: tuple[str, Engine, str], tmp_path: Path
) -> None:
    url, engine, path = served
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True,
                                  has_touch=True)  # fmt: skip
    page = context.new_page()
    try:
        page.goto(url + path)
        assert page.locator("h1").inner_text() == "红色预警"
        assert "滏阳河冀州区出境" in page.locator(".ack-section").inner_text()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the page is {width} px wide on a 390 px phone"
        button = page.locator("#ack-button")
        box = button.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        assert box["height"] >= 40, "a thumb-sized button"
        font = page.locator(".ack-detail").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
        assert font >= 16, "readable without zooming"
        page.screenshot(path=str(tmp_path / "ack-phone.png"), full_page=True)
        with engine.connect() as connection:
            assert connection.execute(select(EPISODES.c.state)).scalar_one() == "open"

        page.fill("#ack-note", "已派人到现场核查")
        button.click()
        page.wait_for_selector(".ack-done")
        assert "已确认" in page.locator("#ack-message").inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    finally:
        context.close()
    with engine.connect() as connection:
        row = connection.execute(select(EPISODES)).one()
    assert (row.state, row.acknowledged_note) == ("acknowledged", "已派人到现场核查")
