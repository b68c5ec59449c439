"""The section page's indicator charts, recent alerts, compensation history and downloads, read
over real HTTP from stored observations.

小范桥 (xiaofanqiao, a river section with target Ⅲ in 2025) gets ten days of July 2025 from its
automatic station: 氨氮 climbing through every class (one day with a QARTOD-suspect value, one
day the station flagged D throughout), 溶解氧, pH, 高锰酸盐指数 with an over-range (T) reading,
a laboratory 总磷 sample below its detection limit, and one May day that only the 90-day window
reaches.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import openpyxl
import pytest
from sqlalchemy import Engine

from sections.alert_rules import AlertLevel, Condition
from sections.registry import Registry
from sections.river_chiefs import load_river_chiefs
from service.alerts.episodes import apply_conditions
from service.app import create_app
from service.settings import Settings
from service.time import BEIJING
from service.web.section_charts import CSV_HEADER
from tests.conftest import bearer, live_server_for, store_rows

SECTION = "xiaofanqiao"
FIRST = dt.date(2025, 7, 1)
DAYS = [FIRST + dt.timedelta(days=i) for i in range(10)]
MAY = dt.date(2025, 5, 20)  # 51 days before the newest day: in the 90-day window only
HOURS = (0, 4, 8, 12, 16, 20)
NH3N = [0.1, 0.3, 0.7, 1.2, 1.7, 2.5, 0.4, 0.6, 0.9, 0.8]  # Ⅰ … 劣Ⅴ
SUSPECT_DAY, FLAGGED_DAY, CENSORED_DAY, OVER_DAY = DAYS[2], DAYS[4], DAYS[3], DAYS[6]
SVG = "{http://www.w3.org/2000/svg}"


def _row(key: str, day: dt.date, hour: int, value: float, **extra: Any) -> dict[str, Any]:
    return {"station": "MN-" + SECTION, "section_id": SECTION, "parameter": key,
            "observed_at": dt.datetime.combine(day, dt.time(hour), BEIJING), "value": value,
            "unit": "mg/L", "station_flag": "N", "qc_flag": None, "source": "hj212",
            **extra}  # fmt: skip


def seed(engine: Engine) -> None:
    """Store the observations described in the module docstring."""
    rows = []
    for day, level in zip(DAYS, NH3N, strict=True):
        for hour in HOURS:
            flags: dict[str, Any] = {}
            if day == FLAGGED_DAY:
                flags = {"station_flag": "D"}
            elif day == SUSPECT_DAY and hour == 8:
                flags = {"qc_flag": 3, "qc_test": "spike"}
            rows.append(_row("nh3n", day, hour, level, **flags))
            rows.append(_row("do", day, hour, 6.5))
            rows.append(_row("ph", day, hour, 7.6, unit="dimensionless"))
            over = {"station_flag": "T"} if day == OVER_DAY and hour == 12 else {}
            rows.append(_row("codmn", day, hour, 12.5 if over else 4.5, **over))
    rows.append(_row("tp", CENSORED_DAY, 9, 0.01, censored=True, sample_kind="routine",
                     source="manual", station="LAB-" + SECTION))  # fmt: skip
    rows += [_row("nh3n", MAY, hour, 0.5) for hour in HOURS]
    store_rows(engine, rows)


@dataclass
class Site:
    url: str
    engine: Engine
    admin: dict[str, str]


@pytest.fixture
def site(db: Engine, settings: Settings, registry: Registry) -> Iterator[Site]:
    seed(db)
    now = dt.datetime.now(dt.UTC)
    apply_conditions(
        engine=db, chiefs=load_river_chiefs(registry=registry), registry=registry, now=now,
        conditions=[Condition(SECTION, "nh3n", AlertLevel.YELLOW, "daily_mean_exceeds",
                              "river_chiefs", now - dt.timedelta(hours=1), 1.6, 1.0,
                              "日均值超过Ⅲ类限值")],
    )  # fmt: skip
    app = create_app(settings.with_(public_view=True), registry=registry)
    try:
        with live_server_for(app) as url:
            yield Site(url, app.state.engine, bearer(app.state.engine))
    finally:
        app.state.engine.dispose()


def _get(site: Site, path: str, *, signed_in: bool = True) -> httpx.Response:
    answer = httpx.get(site.url + path, headers=site.admin if signed_in else {}, timeout=60)
    assert answer.status_code == 200, answer.text[:300]
    return answer


def _charts(html: str) -> dict[str, ET.Element]:
    """Each indicator chart's <svg> by parameter key."""
    found = {}
    for key, svg in re.findall(
        r'<figure class="indicator" id="chart-[^"]+" data-parameter="([^"]+)">.*?(<svg.*?</svg>)',
        html, flags=re.S,
    ):  # fmt: skip
        found[key] = ET.fromstring(svg)
    return found


def _y(svg: ET.Element, value: float) -> float:
    """The value → y mapping the chart states (data-low/high at data-bottom/top)."""
    low, high = float(svg.get("data-low", "")), float(svg.get("data-high", ""))
    top, bottom = float(svg.get("data-top", "")), float(svg.get("data-bottom", ""))
    return bottom - (value - low) / (high - low) * (bottom - top)


def _markers(svg: ET.Element) -> list[ET.Element]:
    return [e for e in svg.iter() if e.get("data-day")]


def _plotted(html: str) -> list[tuple[str, str, str]]:
    """(day, key, value text) of every marker of every chart."""
    return sorted((m.get("data-day", ""), key, m.get("data-value", ""))
                  for key, svg in _charts(html).items() for m in _markers(svg))  # fmt: skip


def test_a_chart_per_parameter_with_data_gb3838_items_first(site: Site) -> None:
    charts = _charts(_get(site, f"/sections/{SECTION}").text)
    assert list(charts) == ["ph", "do", "codmn", "nh3n", "tp"]  # GB 3838 表1 order
    for key, svg in charts.items():
        assert svg.find(f"{SVG}title") is not None and svg.find(f"{SVG}desc") is not None, key
        assert svg.get("role") == "img"


def test_a_band_per_class_and_the_target_line_at_the_target_limit(site: Site) -> None:
    svg = _charts(_get(site, f"/sections/{SECTION}").text)["nh3n"]
    bands = {int(b.get("data-class", "")): b for b in svg.iter(f"{SVG}rect")
             if "band" in (b.get("class") or "").split()}  # fmt: skip
    assert sorted(bands) == [1, 2, 3, 4, 5, 6]
    three = bands[3]  # Ⅲ: 0.5 < value ≤ 1.0 mg/L
    top, height = float(three.get("y", "")), float(three.get("height", ""))
    assert top == pytest.approx(_y(svg, 1.0), abs=0.15)
    assert top + height == pytest.approx(_y(svg, 0.5), abs=0.2)
    (target,) = [e for e in svg.iter(f"{SVG}line") if e.get("class") == "target"]
    assert float(target.get("y1", "")) == pytest.approx(_y(svg, 1.0), abs=0.15)  # target Ⅲ
    # DO: higher is better, Ⅰ (≥ 7.5) on top; pH: no bands, lines at 6 and 9
    charts = _charts(_get(site, f"/sections/{SECTION}").text)
    do_bands = {int(b.get("data-class", "")): float(b.get("y", ""))
                for b in charts["do"].iter(f"{SVG}rect") if b.get("data-class")}  # fmt: skip
    assert do_bands[3] < do_bands[4] < do_bands[5]
    ph = charts["ph"]
    assert not [b for b in ph.iter(f"{SVG}rect") if b.get("data-class")]
    ph_lines = sorted(float(e.get("y1", "")) for e in ph.iter(f"{SVG}line")
                      if e.get("class") == "target")  # fmt: skip
    assert ph_lines == pytest.approx([_y(ph, 9.0), _y(ph, 6.0)], abs=0.15)


def test_markers_sit_at_their_values_flagged_hollow_dl_and_over_range_marked(site: Site) -> None:
    svg = _charts(_get(site, f"/sections/{SECTION}").text)["nh3n"]
    markers = {m.get("data-day"): m for m in _markers(svg)}
    solid = markers[DAYS[0].isoformat()]
    assert solid.get("class") == "marker" and solid.get("data-shape") == "circle"
    assert float(solid.get("cy", "")) == pytest.approx(_y(svg, 0.1), abs=0.15)
    suspect = markers[SUSPECT_DAY.isoformat()]
    assert suspect.get("class") == "marker hollow" and suspect.get("data-shape") == "circle"
    flagged = markers[FLAGGED_DAY.isoformat()]  # station flag D all day: no valid value
    assert flagged.get("class") == "marker hollow" and flagged.get("data-shape") == "square"
    assert "无有效值" in (flagged.findtext(f"{SVG}title") or "")
    lines = " ".join(e.get("points", "") for e in svg.iter(f"{SVG}polyline"))
    assert f"{float(flagged.get('x', '')) + 3}," not in lines  # never joined by the line
    tp = {m.get("data-day"): m for m in _markers(_charts(_get(
        site, f"/sections/{SECTION}").text)["tp"])}  # fmt: skip
    assert tp[CENSORED_DAY.isoformat()].get("data-shape") == "down"
    assert "<DL" in (tp[CENSORED_DAY.isoformat()].findtext(f"{SVG}title") or "")
    codmn = {m.get("data-day"): m for m in _markers(_charts(_get(
        site, f"/sections/{SECTION}").text)["codmn"])}  # fmt: skip
    assert codmn[OVER_DAY.isoformat()].get("data-shape") == "up"
    assert codmn[DAYS[0].isoformat()].get("data-shape") == "circle"


def test_days_switches_the_window(site: Site) -> None:
    days_90 = {d for d, k, _ in _plotted(_get(site, f"/sections/{SECTION}").text) if k == "nh3n"}
    days_30 = {d for d, k, _ in _plotted(_get(site, f"/sections/{SECTION}?days=30").text)
               if k == "nh3n"}  # fmt: skip
    assert MAY.isoformat() in days_90 and MAY.isoformat() not in days_30
    assert days_90 - days_30 == {MAY.isoformat()}
    page = _get(site, f"/sections/{SECTION}?days=30").text
    assert f'href="/sections/{SECTION}?days=365#charts"' in page
    assert httpx.get(site.url + f"/sections/{SECTION}?days=7", headers=site.admin,
                     timeout=30).status_code == 422  # fmt: skip


@pytest.mark.parametrize("days", [30, 90])
def test_the_downloads_hold_exactly_what_the_charts_plot(site: Site, days: int) -> None:
    plotted = _plotted(_get(site, f"/sections/{SECTION}?days={days}").text)
    answer = _get(site, f"/sections/{SECTION}/data.csv?days={days}")
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert tuple(rows[0]) == CSV_HEADER
    assert sorted((r[0], r[2], r[3]) for r in rows[1:]) == plotted
    flagged = next(r for r in rows[1:] if r[0] == FLAGGED_DAY.isoformat() and r[2] == "nh3n")
    assert flagged[5] == "0" and "station_flag:D" in flagged[6]
    book = openpyxl.load_workbook(io.BytesIO(
        _get(site, f"/sections/{SECTION}/data.xlsx?days={days}").content))  # fmt: skip
    sheet = book.active
    assert sheet is not None
    cells = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert tuple(cells[0]) == CSV_HEADER
    assert [[c if c is not None else "" for c in r] for r in cells[1:]] == [
        [r[0], r[1], r[2], float(r[3]), r[4], int(r[5]), r[6]] for r in rows[1:]]  # fmt: skip


def test_an_anonymous_visitor_sees_no_alerts_and_no_money(site: Site) -> None:
    public = _get(site, f"/sections/{SECTION}", signed_in=False).text
    assert 'id="alerts-hidden"' in public and 'id="section-alerts"' not in public
    assert 'id="section-compensation"' not in public
    assert _charts(public)  # the monitoring part stays public
    admin = _get(site, f"/sections/{SECTION}").text
    assert 'id="section-alerts"' in admin and "日均值超过Ⅲ类限值" in admin
    assert admin.count('<tr data-month="') == 12


def test_the_stylesheet_is_served_and_linked(site: Site) -> None:
    page = _get(site, f"/sections/{SECTION}").text
    assert '<link rel="stylesheet" href="/static/section.css">' in page
    css = _get(site, "/static/section.css", signed_in=False).text
    assert ".indicator-chart .marker.hollow" in css and ".indicator-chart .band-6" in css
    assert "style=" not in page and "<script" not in page


def test_the_forecast_follows_the_last_value(registry: Registry) -> None:
    from service.records import ForecastStep, IssuedForecast
    from service.web.indicator_chart import DailyValue, indicator_chart

    last = DAYS[-1]
    origin = dt.datetime.combine(last, dt.time(20), BEIJING)
    steps = tuple(
        ForecastStep(horizon_h=h, target_at=origin + dt.timedelta(hours=h), median=0.9,
                     lo80=0.7, hi80=1.3, lo95=0.5, hi95=1.6, model="sarima")
        for h in range(4, 73, 4)
    )  # fmt: skip
    issue = IssuedForecast(section=SECTION, parameter="nh3n", issued_at=origin, created_at=origin,
                           model_version="test", selected="sarima", why="test", data_start=origin,
                           data_end=origin, steps=steps)  # fmt: skip
    values = [DailyValue(d, "nh3n", "氨氮", v, f"{v:.4g}", "mg/L", 6, (), "")
              for d, v in zip(DAYS, NH3N, strict=True)]  # fmt: skip
    section = registry.section(SECTION)
    plain = indicator_chart(values, section=section, first=DAYS[0], last=last)
    chart = indicator_chart(values, section=section, first=DAYS[0], last=last, forecast=issue)
    assert plain.forecast is None and chart.forecast is not None
    last_x = max(m.x for m in chart.markers)
    median_x = [float(p.split(",")[0]) for p in chart.forecast.median.split()]
    assert min(median_x) > last_x and chart.forecast.origin_x > last_x
    assert max(median_x) <= chart.right + 0.1
    high_y = max(float(p.split(",")[1]) for p in chart.forecast.band80.split())
    span = chart.high - chart.low
    assert high_y == pytest.approx(
        chart.bottom - (0.7 - chart.low) / span * (chart.bottom - chart.top), abs=0.15
    )  # the interval's lower edge at 0.7 mg/L


def test_every_context_field_has_help() -> None:
    import dataclasses
    import inspect

    from service.web import indicator_chart, section_charts

    classes = [c for module in (section_charts, indicator_chart)
               for _, c in inspect.getmembers(module, inspect.isclass)
               if dataclasses.is_dataclass(c) and c.__module__ == module.__name__]  # fmt: skip
    assert len(classes) == 9
    for context in classes:
        for field in dataclasses.fields(context):
            assert field.metadata.get("help"), f"{context.__name__}.{field.name} has no help"
