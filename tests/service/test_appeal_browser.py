"""An appeal from filing to a new version, in a real headless Chromium: the county files from its
statement page with an attachment, the bureau accepts, rejects the spot check behind the line
and settles; the new version's page links the appeal. Also the filing form on a phone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from sections.registry import Registry
from service.accounts import add_user
from service.app import create_app
from service.settings import Settings
from service.statements.issue import issue_statement, issued_versions
from service.statements.monthly import draft_statement
from tests.conftest import live_server_for
from tests.service.test_appeals import MARCH, PDF, UNIT, _spot
from tests.service.test_quality_browser import _watch

pytestmark = pytest.mark.browser

PASSWORD = "appeal test password 1"
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def site(settings: Settings, registry: Registry) -> Iterator[tuple[str, Engine, int]]:
    app = create_app(settings.with_(secure_cookies=False), registry=registry)
    engine: Engine = app.state.engine
    spot = _spot(engine)
    issue_statement(engine=engine, statement=draft_statement(
        engine=engine, registry=registry, month=MARCH), actor="analyst")  # fmt: skip
    add_user(engine=engine, username="jizhou", role="county", unit_id=UNIT, password=PASSWORD)
    add_user(engine=engine, username="wang", role="analyst", password=PASSWORD)
    try:
        with live_server_for(app) as url:
            yield url, engine, spot
    finally:
        engine.dispose()


def _sign_in(page: Any, url: str, username: str, then: str) -> None:
    page.goto(f"{url}/login?next={then}")
    page.fill('input[name="username"]', username)
    page.fill('input[name="password"]', PASSWORD)
    page.locator("#login button, #login input[type=submit]").first.click()
    page.wait_for_url(url + then)


def test_an_appeal_goes_from_filing_to_a_new_version(
    browser: Any, site: tuple[str, Engine, int], tmp_path: Path
) -> None:
    url, engine, spot = site
    report = tmp_path / "复测报告.pdf"
    report.write_bytes(PDF)
    county = browser.new_context(viewport={"width": 1280, "height": 900})
    page = county.new_page()
    errors = _watch(page)
    try:
        _sign_in(page, url, "jizhou", f"/compensation/2025-03/{UNIT}")
        page.locator("#appeal-link").click()
        page.wait_for_url(f"{url}/appeals/new?month=2025-03&unit={UNIT}")
        page.locator('#appeal-form input[name="line"]').first.check()
        page.fill('#appeal-form textarea[name="reason"]', "抽测样品运输超时，实验室复测合格。")
        page.set_input_files('#appeal-form input[name="files"]', str(report))
        page.locator("#appeal-form button[type=submit]").click()
        page.wait_for_url(f"{url}/appeals/1")
        assert page.locator("#appeal-state").inner_text() == "待受理"
        assert page.locator("#appeal-attachments a").inner_text() == "复测报告.pdf"
        assert page.locator("#accept-form").count() == 0, "a county cannot decide"
    finally:
        county.close()

    bureau = browser.new_context(viewport={"width": 1280, "height": 900})
    page = bureau.new_page()
    errors += _watch(page)
    try:
        _sign_in(page, url, "wang", "/appeals/1")
        page.locator("#accept-form button").click()
        page.wait_for_url(f"{url}/appeals/1")
        assert page.locator("#appeal-state").inner_text() == "已受理，复核中"
        row = page.locator(f'#appeal-evidence tr[data-observation="{spot}"]')
        row.locator('select[name="action"]').select_option("reject")
        row.locator('input[name="note"]').fill("样品超时，结果无效")
        row.locator("button").click()
        page.wait_for_url(f"{url}/appeals/1")
        assert "rejected" in page.locator(f'tr[data-observation="{spot}"]').inner_text()
        page.fill("#settle-form textarea", "剔除无效抽测结果")
        page.locator("#settle-form button").click()
        page.wait_for_url(f"{url}/appeals/1")
        assert page.locator("#appeal-state").inner_text() == "已办结：改正（第 2 版）"
        assert page.locator("#appeal-changes tr.appealed").count() == 1
        page.locator("#settled-version").click()
        page.wait_for_url(f"{url}/compensation/2025-03/{UNIT}?version=2")
        assert "本版系办结申诉 1 后签发" in page.locator("#version-changes").inner_text()
        page.screenshot(path=str(tmp_path / "appeal-settled.png"), full_page=True)
    finally:
        bureau.close()
    assert [v.version for v in issued_versions(engine=engine, month=MARCH)] == [1, 2]
    assert errors == []


def test_the_filing_form_fits_a_phone(browser: Any, site: tuple[str, Engine, int]) -> None:
    url, _, _ = site
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    page = context.new_page()
    errors = _watch(page)
    try:
        _sign_in(page, url, "jizhou", "/appeals/new")
        assert page.locator("#appeal-form").count() == 1
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{overflow} px of sideways scroll on a 390 px phone"
    finally:
        context.close()
    assert errors == []
