"""The daily overview, the section page's classes over time and the monthly bulletin (水质月报).

A synthetic 2025 for a small river section and a lake point is seeded, classified day by day
for ten days of March and rolled up for February and March; the pages and downloads are read
over real HTTP (uvicorn in a thread), on SQLite and PostgreSQL, and compared with the JSON API.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from sections.classes import WaterClass
from sections.registry import Registry
from service import bulletins
from service.app import create_app
from service.bulletins import MonthNotRolledUp, bulletin_context, render_bulletin_html
from service.db.engine import migrate
from service.demo.run import seed_demo
from service.errors import QingliuError
from service.jobs.daily import run_daily
from service.jobs.monthly import run_monthly
from service.settings import Settings
from tests.conftest import live_server_for

SMALL = ("hutuo-anping", "hengshuihu-dahuxin")
FIRST_DAY, LAST_DAY = dt.date(2025, 3, 1), dt.date(2025, 3, 10)
MONTHS = (dt.date(2025, 2, 1), dt.date(2025, 3, 1))
NOT_ROLLED_UP = "2025-05"


@pytest.fixture(scope="module")
def small_registry(registry: Registry) -> Registry:
    """A river section that flows all year and a lake point."""
    return Registry(units=registry.units, sections=tuple(registry.section(k) for k in SMALL))


@pytest.fixture
def seeded(engine: Engine, small_registry: Registry, settings: Settings) -> Engine:
    """The test database with the synthetic year, ten classified days and two rolled-up months."""
    migrate(engine)
    seed_demo(engine=engine, registry=small_registry, year=2025, show_progress=False,
              data_dir=settings.data_dir)  # fmt: skip
    run_daily(engine=engine, registry=small_registry, first=FIRST_DAY, last=LAST_DAY)
    for month in MONTHS:
        run_monthly(engine=engine, registry=small_registry, month=month)
    return engine


@pytest.fixture
def site(seeded: Engine, settings: Settings, small_registry: Registry) -> Iterator[str]:
    """The base URL of the app serving the seeded database."""
    app = create_app(settings.with_(public_view=True), registry=small_registry)
    try:
        with live_server_for(app) as url:
            yield url
    finally:
        app.state.engine.dispose()


@pytest.fixture
def http(site: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site, timeout=60) as client:
        yield client


def _row(html: str, section: str) -> str:
    """The table row of a section (``<tr data-section="…"> … </tr>``)."""
    match = re.search(rf'<tr data-section="{section}"[^>]*>(.*?)</tr>', html, re.S)
    assert match, f"no row for {section}"
    return match.group(1)


def _badge(klass: WaterClass) -> str:
    return f'class="class-badge wq-{klass.value}" title="{klass.quality}">{klass.label}</span>'


def _field(html: str, name: str) -> str:
    match = re.search(rf'data-field="{name}">([^<]*)<', html)
    assert match, f"no data-field {name}"
    return match.group(1)


# --- the daily overview ----------------------------------------------------------------------


def test_daily_overview_shows_every_section_with_its_class_colour_and_other_days(
    http: httpx.Client, small_registry: Registry
) -> None:
    page = http.get("/daily")  # defaults to the newest day with results
    assert page.status_code == 200
    html = page.text
    assert "<title>2025-03-10 每日水质 · 清流</title>" in html
    assert '<a href="/daily">每日水质</a>' in html  # the nav link
    api = http.get("/api/classifications", params={"date": "2025-03-10"}).json()["data"]
    by_section = {r["section"]: r for r in api}
    assert set(by_section) == set(SMALL)
    positions = [html.index(f'<tr data-section="{s.id}"') for s in small_registry.sections]
    assert positions == sorted(positions)  # registry order
    meets = 0
    for section in small_registry.sections:
        row, record = _row(html, section.id), by_section[section.id]
        assert f'<a href="/sections/{section.id}">{section.name}</a>' in row
        target = WaterClass(record["target_class_number"])
        assert _badge(target) in row
        if record["class_number"] is None:
            assert "数据不足" in row
        else:
            klass = WaterClass(record["class_number"])
            assert _badge(klass) in row and klass.quality in row
            assert ("未达标" if not record["meets_target"] else "达标") in row
            meets += bool(record["meets_target"])
        assert f"<td>{record['completeness'] * 100:.0f}%</td>" in row
        for key in record["main_pollutants"]:
            from sections.parameters import parameter

            assert parameter(key).name_zh in row
    assert f'<strong id="meets-count">{meets}</strong>' in html
    for klass in WaterClass:
        count = sum(r["class_number"] == klass for r in api)
        assert f'<span data-class="{klass.label}">{count}</span>' in html
    assert '<a href="/daily?date=2025-03-09" rel="prev">' in html
    assert 'rel="next"' not in html  # nothing after the newest day

    # other days: the first one, a day without results, a date that does not exist
    first = http.get("/daily", params={"date": "2025-03-01"}).text
    assert '<a href="/daily?date=2025-03-02" rel="next">' in first
    assert 'rel="prev"' not in first
    empty = http.get("/daily", params={"date": "2025-04-02"})
    assert empty.status_code == 200
    assert "该日尚无评价结果（运行 qingliu run daily --date 2025-04-02）" in empty.text
    assert '<a href="/daily?date=2025-03-10" rel="prev">' in empty.text
    bad = http.get("/daily", params={"date": "2025-02-30"})
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("text/html")
    assert "YYYY-MM-DD" in bad.text and "返回首页" in bad.text


def test_daily_overview_of_an_empty_database(client: httpx.Client) -> None:
    html = client.get("/daily").text
    assert "该日尚无评价结果（运行 qingliu run daily --date " in html
    assert client.get("/bulletins").status_code == 404


# --- the section page ------------------------------------------------------------------------


def test_section_page_shows_daily_strip_and_monthly_classes(http: httpx.Client) -> None:
    html = http.get("/sections/hutuo-anping").text
    strip = re.search(r'<div class="strip" id="daily-strip">(.*?)</div>', html, re.S)
    assert strip
    cells = re.findall(r'data-day="([\d-]+)" data-class="([^"]*)" title="([^"]*)"', strip.group(1))
    api = http.get("/api/sections/hutuo-anping/daily").json()["data"]
    expected = [(r["day"], r["class"] or "") for r in reversed(api)]
    assert [(day, label) for day, label, _ in cells] == expected
    assert len(cells) == (LAST_DAY - FIRST_DAY).days + 1
    for (day, label, title), record in zip(cells, reversed(api), strict=True):
        assert title.startswith(day)
        if label:
            assert f"{label}类" in title and "主要污染指标" in title
            assert f' wq-{record["class_number"]}"' in html
    months = re.search(r'<table id="monthly-classes".*?</table>', html, re.S)
    assert months and "2025 年月度水质类别" in html
    summary = http.get("/api/summary", params={"month": "2025-03"}).json()
    march = next(s for s in summary["sections"] if s["section"] == "hutuo-anping")
    march_cell = re.search(r'<td data-month="3"[^>]*>(.*?)</td>', months.group(0), re.S)
    assert march_cell
    if march["class"]:
        assert _badge(WaterClass(march["class_number"])) in march_cell.group(1)
    assert '<td data-month="5" title="2025年5月 未汇总">' in months.group(0)
    assert '<a href="/bulletins/2025-03"' in months.group(0)


# --- the monthly bulletin --------------------------------------------------------------------


def test_bulletin_html_and_pdf_numbers_are_the_apis(
    http: httpx.Client, small_registry: Registry
) -> None:
    summary = http.get("/api/summary", params={"month": "2025-03"}).json()["summary"]
    page = http.get("/bulletins/2025-03")
    assert page.status_code == 200
    download = http.get("/api/bulletins/2025-03.html")
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/html")
    assert 'filename="qingliu-bulletin-2025-03.html"' in download.headers["content-disposition"]
    assert download.text.startswith("<!doctype html>")
    for html in (page.text, download.text):
        assert "<h1>衡水市 2025年3月 地表水环境质量月报</h1>" in html
        assert _field(html, "assessable") == str(summary["assessable"])
        assert _field(html, "sections") == str(summary["sections"])
        assert _field(html, "worse_than_v") == str(summary["worse_than_v"])
        assert _field(html, "target_share") == "69.2%"
        if summary["assessable"]:
            assert _field(html, "good") == str(summary["good"])
            assert _field(html, "good_share") == f"{summary['good_share']:.1%}"
        lake = summary["lake"]
        assert _field(html, "lake_class") == lake["class"]
        assert _field(html, "lake_tn_class") == WaterClass(lake["tn_class_number"]).label
        assert _field(html, "lake_tli") == f"{lake['tli']:.1f}"
        assert _field(html, "lake_trophic_state") == lake["trophic_state"]
        assert "自动站数据未经审核" in html and "[A]" in html
        assert "上年同月尚未汇总" in html  # no 2024 roll-up
        for section in small_registry.sections:
            assert f'<tr data-section="{section.id}"' in html
    assert '<a href="/api/bulletins/2025-03.pdf">PDF</a>' in page.text
    assert '<a href="/bulletins/2025-02">2025-02</a>' in page.text
    assert page.text.count("<html") == 1  # the fragment is embedded, not a document

    # the table rows carry the monthly results, and the PDF is made from the same bulletin
    sections = {
        s["section"]: s
        for s in http.get("/api/summary", params={"month": "2025-03"}).json()["sections"]
    }
    html = http.get("/api/bulletins/2025-03.html").text
    for section_id in SMALL:
        record, row = sections[section_id], _row(html, section_id)
        assert f"<td>{WaterClass(record['target_class_number']).label}</td>" in row
        if record["class_number"] is not None:
            assert _badge(WaterClass(record["class_number"])) in row
            assert ("达标" if record["meets_target"] else "未达标") in row
        codmn = record["values"].get("codmn")
        if codmn is not None:
            assert f'<td class="num">{codmn:.1f}</td>' in row

    answer = http.get("/api/bulletins/2025-03.pdf")
    assert answer.status_code == 200, answer.text[:300]
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.content.startswith(b"%PDF")
    assert 'filename="qingliu-bulletin-2025-03.pdf"' in answer.headers["content-disposition"]


def test_month_not_rolled_up(http: httpx.Client, seeded: Engine, small_registry: Registry) -> None:
    for suffix in ("pdf", "html"):
        answer = http.get(f"/api/bulletins/{NOT_ROLLED_UP}.{suffix}")
        assert answer.status_code == 404
        body = answer.json()
        assert set(body) == {"ok", "error", "status", "title", "type", "errors", "reference"}
        assert (body["ok"], body["status"]) == (False, 404)
        assert f"qingliu run monthly --month {NOT_ROLLED_UP}" in body["error"]
    bad = http.get("/api/bulletins/2025-13.pdf")
    assert bad.status_code == 422 and bad.json()["ok"] is False
    page = http.get(f"/bulletins/{NOT_ROLLED_UP}")
    assert page.status_code == 404 and "尚未月度汇总" in page.text
    assert http.get("/bulletins/march").status_code == 404
    newest = http.get("/bulletins", follow_redirects=False)
    assert (newest.status_code, newest.headers["location"]) == (307, "/bulletins/2025-03")

    with pytest.raises(QingliuError, match="qingliu run monthly --month 2025-05") as caught:
        bulletin_context(seeded, small_registry, dt.date(2025, 5, 17))
    assert isinstance(caught.value, MonthNotRolledUp)
    context = bulletin_context(seeded, small_registry, dt.date(2025, 3, 17))
    assert context.month == "2025-03" and context.title == "衡水市 2025年3月 地表水环境质量月报"
    fragment = render_bulletin_html(context, standalone=False)
    assert "<html" not in fragment and "<style" not in fragment  # styles: /static/bulletin.css
    assert fragment.lstrip().startswith("<article")


BULLETIN_DATACLASSES = [
    obj
    for obj in vars(bulletins).values()
    if isinstance(obj, type)
    and dataclasses.is_dataclass(obj)
    and obj.__module__ == bulletins.__name__
]


@pytest.mark.parametrize("context", BULLETIN_DATACLASSES, ids=lambda c: c.__name__)
def test_bulletin_context_fields_have_help(context: type) -> None:
    for field in dataclasses.fields(context):
        assert field.metadata.get("help"), f"{context.__name__}.{field.name} has no help"


# --- in a browser ----------------------------------------------------------------------------


@pytest.mark.browser
def test_browser_daily_overview_to_a_section_page(browser: Any, site: str) -> None:
    page = browser.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    try:
        page.goto(site + "/")
        page.click("header >> text=每日水质")
        page.wait_for_url(site + "/daily")
        assert page.title() == "2025-03-10 每日水质 · 清流"
        rows = page.locator("#daily tbody tr")
        assert rows.count() == len(SMALL)
        lake = page.locator('tr[data-section="hengshuihu-dahuxin"]')
        label = lake.get_attribute("data-class")
        if label:
            badge = lake.locator("td:nth-child(4) .class-badge")
            assert badge.inner_text() == label
            colour = badge.evaluate("e => getComputedStyle(e).backgroundColor")
            klass = next(k for k in WaterClass if k.label == label)
            assert colour == "rgb({}, {}, {})".format(*bytes.fromhex(klass.colour[1:]))

        page.click("text=前一日")
        page.wait_for_url(site + "/daily?date=2025-03-09")
        page.click("#daily >> text=衡水湖大湖心")
        page.wait_for_url(site + "/sections/hengshuihu-dahuxin")
        assert page.locator("h1").inner_text() == "衡水湖大湖心"
        cells = page.locator("#daily-strip .strip-cell")
        assert cells.count() == (LAST_DAY - FIRST_DAY).days + 1
        assert cells.last.get_attribute("title").startswith("2025-03-10")  # type: ignore[union-attr]
        if cells.last.get_attribute("data-class"):  # coloured by /static/classes.css
            shade = cells.last.evaluate("e => getComputedStyle(e).backgroundColor")
            assert shade != "rgb(208, 215, 222)"
        violations = [m for m in console if "Content Security Policy" in m or "Refused" in m]
        assert not violations, violations
    finally:
        page.close()
