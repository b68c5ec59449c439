"""The overview of the first page: the map of the sections, the share against 69.2 %, alerts,
yesterday's completeness and 衡水湖, read over real HTTP from a database the jobs filled.

Observations are stored and the daily and monthly jobs run on them (as the morning job does):
two rolled-up months of 2025 with different shares (June 4/5, July 3/5 with one 劣Ⅴ), the lake
in July, and yesterday's daily classes of a few sections, one missing its target.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import inspect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import pytest
from sqlalchemy import Engine

from sections.alert_rules import AlertLevel, Condition
from sections.classes import WaterClass
from sections.map import fit_frame
from sections.registry import Registry
from sections.river_chiefs import load_river_chiefs
from service.alerts.episodes import apply_conditions
from service.app import create_app
from service.bulletins import bulletin_context
from service.db import results
from service.jobs.daily import AUTOMATIC_INDICATORS, run_daily
from service.jobs.monthly import run_monthly, stored_summary
from service.settings import Settings
from service.time import BEIJING, beijing_today
from service.web import overview
from service.web.overview import MAP_MARGIN, MAP_WIDTH
from tests.conftest import bearer, live_server_for, store_rows

JUNE, JULY = dt.date(2025, 6, 1), dt.date(2025, 7, 1)
HOURS = (0, 4, 8, 12, 16, 20)
GOOD = {"ph": 7.8, "do": 8.0, "codmn": 3.0, "nh3n": 0.3, "tp": 0.08}  # Class Ⅱ
FOUR = {**GOOD, "nh3n": 1.4}  # Class Ⅳ
WORSE = {**GOOD, "nh3n": 2.5}  # 劣Ⅴ
MONTHS = {
    JUNE: {"fuyang-jizhou": GOOD, "fuyang-taocheng": GOOD, "fuyang-gaoxin": GOOD,
           "xiaofanqiao": GOOD, "hutuo-anping": FOUR},
    JULY: {"fuyang-jizhou": GOOD, "fuyang-taocheng": GOOD, "fuyang-gaoxin": WORSE,
           "xiaofanqiao": GOOD, "hutuo-anping": FOUR,
           "hengshuihu-dahuxin": {**GOOD, "tp": 0.04, "tn": 1.2, "chla": 20},
           "hengshuihu-xiaohu": {**GOOD, "tp": 0.08, "tn": 1.4, "chla": 30}},
}  # fmt: skip
YESTERDAY = {
    "xiaofanqiao": GOOD,  # Ⅱ, meets Ⅲ
    "fuyang-taocheng": FOUR,  # Ⅳ, misses Ⅲ: ringed
    "hengshuihu-dahuxin": {**GOOD, "tp": 0.03},  # the lake point
    "hutuo-raoyang": {"ph": 7.8, "do": 8.0, "codmn": 3.0},  # 3 of 5 indicators
    "aixinzhuang": WORSE,  # a reference section at 劣Ⅴ: never ringed
}


def _rows(section: str, day: dt.date, values: dict[str, float]) -> list[dict[str, Any]]:
    return [
        {"station": "MN-" + section, "section_id": section, "parameter": key,
         "observed_at": dt.datetime.combine(day, dt.time(hour), BEIJING), "value": value,
         "unit": "mg/L", "station_flag": "N", "qc_flag": None, "source": "hj212"}
        for key, value in values.items() for hour in HOURS
    ]  # fmt: skip


def seed(engine: Engine, registry: Registry) -> dt.date:
    """Store the observations, run the monthly roll-ups and yesterday's daily classes."""
    for month, sections in MONTHS.items():
        last = (month + dt.timedelta(days=32)).replace(day=1)
        days = [month + dt.timedelta(days=i) for i in range((last - month).days)]
        rows = [row for s, v in sections.items() for day in days for row in _rows(s, day, v)]
        store_rows(engine, rows)
        run_monthly(engine=engine, registry=registry, month=month)
    yesterday = beijing_today() - dt.timedelta(days=1)
    store_rows(engine, [r for s, v in YESTERDAY.items() for r in _rows(s, yesterday, v)])
    run_daily(engine=engine, registry=registry, first=yesterday)
    return yesterday


@dataclass
class Site:
    url: str
    engine: Engine
    yesterday: dt.date
    admin: dict[str, str]


@pytest.fixture
def site(db: Engine, settings: Settings, registry: Registry) -> Iterator[Site]:
    yesterday = seed(db, registry)
    apply_conditions(
        engine=db, chiefs=load_river_chiefs(registry=registry), registry=registry,
        now=dt.datetime.now(dt.UTC),
        conditions=[_condition("fuyang-jizhou", AlertLevel.YELLOW),
                    _condition("hutuo-raoyang", AlertLevel.RED),
                    _condition("fuyang-jizhou", AlertLevel.ORANGE, "operators")],
    )  # fmt: skip
    app = create_app(settings.with_(public_view=True), registry=registry)
    try:
        with live_server_for(app) as url:
            yield Site(url, app.state.engine, yesterday, bearer(app.state.engine))
    finally:
        app.state.engine.dispose()


def _condition(
    section: str, level: AlertLevel, audience: Literal["river_chiefs", "operators"] = "river_chiefs"
) -> Condition:
    now = dt.datetime.now(dt.UTC)
    return Condition(section, "nh3n", level, "daily_mean_exceeds", audience,
                     now - dt.timedelta(hours=1), 1.6, 1.0, "日均值超过Ⅲ类限值")  # fmt: skip


def _page(site: Site, headers: dict[str, str] | None = None) -> str:
    answer = httpx.get(site.url + "/", headers=headers or {}, timeout=30)
    assert answer.status_code == 200
    return answer.text


def _dots(html: str) -> dict[str, list[re.Match[str]]]:
    found: dict[str, list[re.Match[str]]] = {}
    pattern = (
        r'<a href="/sections/([^"]+)" class="map-section" data-map-section="\1" '
        r'data-class="(\d?)" data-misses="(true|false)"><title>([^<]*)</title>(.*?)</a>'
    )
    for match in re.finditer(pattern, html, re.S):
        found.setdefault(match.group(1), []).append(match)
    return found


def _attribute(html: str, element_id: str, name: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*\b{name}="([^"]*)"', html)
    assert match, f"no {name} on #{element_id}"
    return match.group(1)


# --- the map -----------------------------------------------------------------------------------


def test_every_section_is_drawn_once_at_its_place_in_its_newest_class(
    site: Site, registry: Registry
) -> None:
    html = _page(site, site.admin)
    records = results.daily_results_on(engine=site.engine, day=site.yesterday)
    assert {r.water_class for r in records.values()} >= {WaterClass.II, WaterClass.IV}
    dots = _dots(html)
    assert set(dots) == {s.id for s in registry.sections}
    frame = fit_frame([s.lon for s in registry], [s.lat for s in registry],
                      width=MAP_WIDTH, margin=MAP_MARGIN)  # fmt: skip
    assert f'viewBox="0 0 {frame.width} {round(frame.height, 1)}"' in html
    for section in registry.sections:
        (dot,) = dots[section.id]
        record = records.get(section.id)
        klass = None if record is None else record.water_class
        assert dot.group(2) == ("" if klass is None else str(klass.value)), section.id
        x, y = frame.point(section.lon, section.lat)
        circle = re.search(r'<circle class="dot ([^"]*)" cx="([^"]+)" cy="([^"]+)"', dot.group(5))
        assert circle, section.id
        assert (float(circle.group(2)), float(circle.group(3))) == (x, y)
        assert circle.group(1).split()[0] == ("no-data" if klass is None else f"wq-{klass.value}")
        assert ("unconfirmed" in circle.group(1).split()) is (not section.confirmed)
        assert section.name in dot.group(4)
        assert ("[A] 名称未核实" in dot.group(4)) is (not section.confirmed)
        if klass is not None:
            assert f"{site.yesterday:%Y-%m-%d} {klass.label}类" in dot.group(4)
    css = httpx.get(site.url + "/static/overview.css", timeout=30).text
    for klass in WaterClass:
        assert f".map-section .dot.wq-{klass.value} {{ fill: {klass.colour}; }}" in css


def test_a_missed_target_is_ringed_and_a_reference_section_never_is(site: Site) -> None:
    html = _page(site, site.admin)
    dots = _dots(html)
    taocheng = dots["fuyang-taocheng"][0]
    assert taocheng.group(2) == "4" and taocheng.group(3) == "true"
    assert '<circle class="miss-ring"' in taocheng.group(5) and "未达标" in taocheng.group(4)
    for section_id in ("xiaofanqiao", "aixinzhuang", "hengshuihu-dahuxin"):
        assert dots[section_id][0].group(3) == "false", section_id
        assert "miss-ring" not in dots[section_id][0].group(5), section_id
    assert dots["aixinzhuang"][0].group(2) == "6"  # 劣Ⅴ, yet a reference is not assessed
    assert html.count('<circle class="miss-ring"') == 1
    assert re.search(r'id="map-missed">1<', html)


def test_rivers_and_the_lake_outline_are_drawn_and_marked_as_assumptions(site: Site) -> None:
    html = _page(site, site.admin)
    assert html.count('<polyline class="map-river"') == 7
    assert html.count('<polygon class="map-lake"') == 1
    assert "示意线 [A]" in html and "非测绘数据" in html


# --- the figures -------------------------------------------------------------------------------


def test_the_share_is_the_bulletins_for_the_month_and_pooled_over_the_year(
    site: Site, registry: Registry
) -> None:
    html = _page(site)  # the public view shows the figures
    july, june = (stored_summary(engine=site.engine, month=m) for m in (JULY, JUNE))
    assert july is not None and june is not None
    bulletin = bulletin_context(site.engine, registry, JULY)
    assert (july.good, july.assessable, june.good, june.assessable) == (3, 5, 4, 5)
    month = float(_attribute(html, "share-month", "data-share"))
    assert month == july.good_share == bulletin.good_share == 0.6
    year = float(_attribute(html, "share-year", "data-share"))
    assert year == pytest.approx((june.good + july.good) / (june.assessable + july.assessable))
    section = html[html.index('id="share-month"') : html.index('id="share-year"')]
    assert "2025年7月" in section and "60.0%" in section and "≥ 69.2%" in section
    assert "<strong>未达到</strong>" in section
    assert 'class="worse-than-v">1<' in section
    section = html[html.index('id="share-year"') : html.index('id="overview-completeness"')]
    assert "2025年6–7月" in section and "70.0%" in section and "达到" in section
    assert "<strong>未达到</strong>" not in section


def test_the_lake_shows_its_class_tli_and_trophic_state(site: Site) -> None:
    html = _page(site)
    summary = stored_summary(engine=site.engine, month=JULY)
    assert summary is not None and summary.lake is not None and summary.lake.tli is not None
    assert re.search(rf'id="lake-tli">{summary.lake.tli:.1f}<', html)
    assert re.search(rf'id="lake-trophic">{summary.lake.trophic_state}<', html)
    section = html[html.index('id="overview-lake"') :]
    assert "2025-07" in section[:200]
    assert summary.lake.class_number is not None
    assert f'wq-{summary.lake.class_number}"' in section.split("</section>")[0]


def test_completeness_of_yesterday_is_the_daily_pages_over_every_station(
    site: Site, registry: Registry
) -> None:
    html = _page(site)
    records = results.daily_results_on(engine=site.engine, day=site.yesterday)
    stations = [s for s in registry.sections if s.station_mn]
    per = len(AUTOMATIC_INDICATORS)
    received = sum(round(records[s.id].completeness * per) for s in stations if s.id in records)
    assert records["hutuo-raoyang"].completeness == 0.6
    share = float(_attribute(html, "overview-completeness", "data-share"))
    assert share == pytest.approx(received / (len(stations) * per))
    assert f"收到考核指标日均值 {received} / {len(stations) * per} 项" in html


def test_open_alerts_by_level_in_the_callers_scope_and_none_for_anonymous(site: Site) -> None:
    admin = _page(site, site.admin)
    assert _attribute(admin, "overview-alerts", "data-total") == "3"
    panel = admin[admin.index('id="overview-alerts"') :].split("</section>")[0]
    assert "红色 1" in panel and "橙色 1" in panel and "黄色 1" in panel
    county = _page(site, bearer(site.engine, role="county", unit="jizhou"))
    assert _attribute(county, "overview-alerts", "data-total") == "1"  # 冀州's river alert
    anonymous = _page(site)
    panel = anonymous[anonymous.index('id="overview-alerts"') :].split("</section>")[0]
    assert "data-total" not in panel and "登录后可查看预警" in panel
    assert "红色" not in anonymous


def test_the_page_loads_nothing_from_elsewhere_and_scales_to_the_screen(site: Site) -> None:
    html = _page(site, site.admin)
    assert "http://" not in html and "https://" not in html
    assert not re.search(r'(?:href|src)="//', html)
    assert '<link rel="stylesheet" href="/static/overview.css">' in html
    css = httpx.get(site.url + "/static/overview.css", timeout=30)
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "svg.overview-map { display: block; width: 100%; height: auto;" in css.text
    assert "<script" not in html and " style=" not in html


def test_an_empty_database_says_what_is_missing(client: httpx.Client, registry: Registry) -> None:
    html = client.get("/").text
    assert len(_dots(html)) == len(registry)
    assert 'data-class=""' in html and "尚无逐日结果" in html
    assert "尚无月度汇总" in html
    assert "该日尚无逐日评价结果" in html
    assert _attribute(html, "overview-alerts", "data-total") == "0"


def test_the_national_sections_head_the_page_with_their_newest_class(
    site: Site, registry: Registry
) -> None:
    html = _page(site)
    line = html[html.index('id="overview-national"') :].split("</p>")[0]
    national = [s for s in registry.sections if s.level == "national"]
    assert [s.id for s in national] == ["xiaofanqiao", "hengshuihu-dahuxin"]
    assert line.index(">小范桥</a>") < line.index(">衡水湖大湖心</a>")
    xiaofanqiao = line.split("衡水湖大湖心")[0]
    assert 'class="class-badge wq-2"' in xiaofanqiao and "未达标" not in xiaofanqiao
    assert html.index('id="overview-national"') < html.index('id="sections"')


# --- the contract ------------------------------------------------------------------------------


CONTEXTS = [
    obj
    for _, obj in inspect.getmembers(overview, inspect.isclass)
    if dataclasses.is_dataclass(obj) and obj.__module__ == overview.__name__
]


@pytest.mark.parametrize("context", CONTEXTS, ids=lambda c: c.__name__)
def test_every_overview_field_has_help(context: type) -> None:
    for item in dataclasses.fields(context):
        assert item.metadata.get("help"), f"{context.__name__}.{item.name} has no help"


def test_the_page_context_is_among_them() -> None:
    assert {"IndexPageContext", "Overview", "MapSection"} <= {c.__name__ for c in CONTEXTS}


# --- provisional figures -----------------------------------------------------------------------


def _figure(html: str, key: str) -> str:
    start = html.index(f'id="share-{key}"')
    return html[start : html.index("</section>", start)]


def _computed_at(engine: Engine, month: dt.date) -> dt.datetime:
    computed = results.summary_computed_at(engine=engine, month=month)
    assert computed is not None
    return computed.astimezone(BEIJING)


def test_a_finished_month_is_named_and_the_current_month_said_not_rolled_up(site: Site) -> None:
    html = _page(site)
    month = _figure(html, "month")
    assert 'data-provisional="false"' in month
    assert "达到或优于Ⅲ类比例 · 2025年7月<" in month
    assert "暂定" not in month and "本月（" not in month
    assert "2025年7月月度汇总（与水质月报相同）；本月尚未汇总" in month
    assert "次月 1 日" not in html  # the roll-up's day is not the overview's to state
    year = _figure(html, "year")
    assert 'data-provisional="false"' in year and "· 2025年6–7月<" in year
    assert "暂定" not in year


def test_the_current_month_rolled_up_to_date_is_provisional_as_of_its_computation(
    site: Site, registry: Registry
) -> None:
    today = beijing_today()
    first = today.replace(day=1)
    days = [first + dt.timedelta(days=i) for i in range((today - first).days)]  # up to yesterday
    store_rows(site.engine, [r for day in days for r in _rows("xiaofanqiao", day, GOOD)])
    run_monthly(engine=site.engine, registry=registry, month=first)
    computed = _computed_at(site.engine, first)
    summary = stored_summary(engine=site.engine, month=first)
    assert summary is not None
    html = _page(site)
    if beijing_today() != today:  # midnight passed while the test ran: the month may be over
        pytest.skip("the day changed during the test")
    month = _figure(html, "month")
    assert 'data-provisional="true"' in month
    as_of = f"截至 {computed.month}月{computed.day}日，暂定"
    assert f"达到或优于Ⅲ类比例 · 本月（{as_of}）<" in month
    span = f"{today.year}年{today.month}月1日至{computed.month}月{computed.day}日"
    assert f"{span}的数据汇总" in month
    assert f"计算于 {computed:%Y-%m-%d %H:%M}" in month
    assert "本月尚未汇总" not in month
    assert int(_attribute(html, "share-month", "data-assessable")) == summary.assessable
    year = _figure(html, "year")
    assert 'data-provisional="true"' in year
    months = [m for m in results.rolled_up_months(engine=site.engine) if m.year == today.year]
    months_text = f"{min(months).month}–{today.month}月" if len(months) > 1 else f"{today.month}月"
    assert f"· {today.year}年{months_text}（{as_of}）<" in year
    assert f"其中{today.month}月为截至 {computed.month}月{computed.day}日的暂定数" in year


def test_an_older_month_computed_before_it_ended_stays_provisional(site: Site) -> None:
    """July rolled up on 20 July (as a month-to-date run leaves it) and not since."""
    computed = dt.datetime(2025, 7, 20, 6, 5, tzinfo=BEIJING)
    with site.engine.begin() as connection:
        connection.execute(
            results.SUMMARY.update()
            .where(results.SUMMARY.c.month == JULY)
            .values(computed_at=computed.astimezone(dt.UTC))
        )
    html = _page(site)
    month = _figure(html, "month")
    assert 'data-provisional="true"' in month
    assert "· 2025年7月（截至 7月20日，暂定）<" in month
    assert "2025年7月1日至7月20日的数据汇总，计算于 2025-07-20 06:05" in month
    assert "本月尚未汇总" in month
    year = _figure(html, "year")
    assert "· 2025年6–7月（截至 7月20日，暂定）<" in year
    assert "其中7月为截至 7月20日的暂定数" in year
