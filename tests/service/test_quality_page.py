"""The data-quality page ``/quality`` over real HTTP: the station × day counts, a silent
station, the refused frames, and the review forms (an analyst's 确认 with the session's CSRF
token changes the value's review status and is audited; without the token, or as a county,
refused)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from sections.registry import Registry
from service.accounts import add_user, audit_events
from service.app import create_app
from service.db.ingest import RawRecord, add_station, archive_raw
from service.db.models import Observation, ObservationHistory
from service.settings import Settings
from service.time import BEIJING
from tests.conftest import live_server_for, store_rows

PASSWORD = "a long test password"
FRESH = "MN-QUALITY-1"  # xiaofanqiao, registered, sent 30 min ago
SILENT = "MN-QUALITY-2"  # fuyang-jizhou, not registered, last sent 10 h ago
HOURS = (0, 4, 8, 12, 16, 20)
PAYLOAD_MARK = b"NEVER-SHOW-THESE-BYTES"


@dataclass
class Site:
    url: str
    engine: Engine
    now: dt.datetime
    full_day: dt.date
    thin_day: dt.date
    fresh_day: dt.date


def _row(station: str, section: str, key: str, at: dt.datetime, value: float,
         **extra: Any) -> dict[str, Any]:  # fmt: skip
    row = {"station": station, "section_id": section, "parameter": key, "observed_at": at,
           "value": value, "unit": "mg/L", "station_flag": "N", "source": "hj212"}  # fmt: skip
    row.update(extra)
    return row


def seed(engine: Engine, now: dt.datetime) -> tuple[dt.date, dt.date, dt.date]:
    today = now.astimezone(BEIJING).date()
    full_day, thin_day = today - dt.timedelta(days=2), today - dt.timedelta(days=1)

    def at(day: dt.date, hour: int) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(hour), BEIJING)

    special: dict[tuple[str, int], dict[str, Any]] = {
        ("do", 4): {"station_flag": "M"},  # maintenance: flagged by the station, not valid
        ("nh3n", 8): {"qc_flag": 4, "qc_test": "gross_range"},  # QC fail: not valid
        ("codmn", 12): {"qc_flag": 3, "qc_test": "spike", "review_status": "pending"},  # counts
        ("tp", 0): {"value": 0.01, "censored": True},  # "<DL": counts as half the limit
        ("tp", 20): {"value": 1.5, "station_flag": "T", "review_status": "pending"},  # ≥
    }
    base = {"ph": 7.8, "do": 8.0, "codmn": 3.0, "nh3n": 0.3, "tp": 0.08}
    rows = []
    for key, value in base.items():
        for hour in HOURS:
            extra = dict(special.get((key, hour), {}))
            rows.append(_row(FRESH, "xiaofanqiao", key, at(full_day, hour),
                             extra.pop("value", value), **extra))  # fmt: skip
    rows += [_row(FRESH, "xiaofanqiao", "ph", at(thin_day, h), 7.7) for h in (0, 4)]
    fresh_at = now - dt.timedelta(minutes=30)
    rows.append(_row(FRESH, "xiaofanqiao", "temp", fresh_at, 21.0, unit="℃"))
    rows.append(_row(SILENT, "fuyang-jizhou", "ph", now - dt.timedelta(hours=10), 7.5))
    store_rows(engine, rows)
    add_station(engine=engine, mn=FRESH, section_id="xiaofanqiao", password="station pw 123")
    received = now - dt.timedelta(hours=1)
    with engine.begin() as connection:
        archive_raw(connection, [
            RawRecord("hj212", b"##0101" + PAYLOAD_MARK, "rejected", "10.0.0.5:40001",
                      "bad_password: 密码错误 / wrong PW", "MN-X", received),
            RawRecord("hj212", b"##0102" + PAYLOAD_MARK, "rejected", "10.0.0.5:40002",
                      "bad_password: 密码错误 / wrong PW", "MN-X", received),
            RawRecord("hj212", b"##0103" + PAYLOAD_MARK, "unknown_station", "10.0.0.6:40003",
                      "unknown_station: MN MN-ZZ 未登记 / not registered", "MN-ZZ", received),
            RawRecord("hj212", b"##0104" + PAYLOAD_MARK, "accepted", "10.0.0.7:40004",
                      "", FRESH, received),
        ])  # fmt: skip
    return full_day, thin_day, fresh_at.astimezone(BEIJING).date()


@pytest.fixture
def site(settings: Settings, registry: Registry) -> Iterator[Site]:
    app = create_app(settings.with_(secure_cookies=False), registry=registry)
    engine: Engine = app.state.engine
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    full_day, thin_day, fresh_day = seed(engine, now)
    add_user(engine=engine, username="wang", role="analyst", password=PASSWORD)
    add_user(engine=engine, username="jizhou", role="county", unit_id="jizhou", password=PASSWORD)
    try:
        with live_server_for(app) as url:
            yield Site(url, engine, now, full_day, thin_day, fresh_day)
    finally:
        engine.dispose()


@contextmanager
def signed_in(site: Site, username: str) -> Iterator[tuple[httpx.Client, str]]:
    """A browser-like client signed in, and its session's CSRF token."""
    with httpx.Client(base_url=site.url, timeout=60) as http:
        page = http.get("/login")
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert found is not None
        answer = http.post(
            "/login",
            data={
                "username": username,
                "password": PASSWORD,
                "csrf_token": found.group(1),
                "next": "/quality",
            },
        )
        assert answer.status_code == 303, answer.text[:300]
        yield http, http.get("/api/session").json()["csrf_token"]


def _part(html: str, element_id: str) -> str:
    start = html.index(f'id="{element_id}"')
    return html[start : html.index("</table>", start)]


def _cell(html: str, station: str, day: dt.date) -> dict[str, int]:
    grid = _part(html, "quality-grid")
    row = re.search(rf'<tr data-station="{station}">(.*?)</tr>', grid, re.S)
    assert row is not None, station
    cell = re.search(rf'<td [^>]*data-day="{day.isoformat()}"[^>]*>', row.group(1))
    assert cell is not None, day
    return {name: int(value) for name, value in re.findall(r'data-([a-z-]+)="(\d+)"',
                                                           cell.group(0))}  # fmt: skip


def _pending(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(Observation.id, Observation.parameter).where(
                Observation.review_status == "pending"
            )
        ).all()
    return {r.parameter: int(r.id) for r in rows}


def _status(engine: Engine, observation_id: int) -> Any:
    with engine.connect() as connection:
        return connection.execute(
            select(Observation.review_status, Observation.value).where(
                Observation.id == observation_id
            )
        ).one()


# --- the page ------------------------------------------------------------------------------------


def test_the_grid_counts_each_station_and_day(site: Site) -> None:
    with signed_in(site, "wang") as (http, _):
        page = http.get("/quality", params={"days": 3})
    assert page.status_code == 200, page.text[:300]
    html = page.text
    assert "<title>数据质量 · 清流</title>" in html
    assert len(re.findall(r"<th>\d\d-\d\d</th>", _part(html, "quality-grid"))) == 3
    # 30 values of the five deciding indicators: M (do 04:00) and QC fail (NH3-N 08:00) are
    # out; the suspect CODMn, the over-range TP and the "<DL" TP count
    assert _cell(html, FRESH, site.full_day) == {
        "received": 30, "valid": 28, "station-flagged": 2, "qc-flagged": 2, "censored": 1,
        "gaps": 0, "expected": 30,
    }  # fmt: skip
    fresh_extra = int(site.fresh_day == site.thin_day)  # the temp value 30 min ago
    thin = _cell(html, FRESH, site.thin_day)
    assert thin == {
        "received": 2 + fresh_extra, "valid": 2 + fresh_extra, "station-flagged": 0,
        "qc-flagged": 0, "censored": 0, "gaps": 28, "expected": 30,
    }  # fmt: skip
    silent_day = (site.now - dt.timedelta(hours=10)).astimezone(BEIJING).date()
    assert _cell(html, SILENT, silent_day)["received"] == 1
    assert _cell(html, SILENT, site.full_day)["received"] == 0


def test_the_window_is_at_most_31_days(site: Site) -> None:
    with signed_in(site, "wang") as (http, _):
        assert http.get("/quality", params={"days": 32}).status_code == 422
        page = http.get("/quality")
    assert len(re.findall(r"<th>\d\d-\d\d</th>", _part(page.text, "quality-grid"))) == 7


def test_a_silent_station_is_marked(site: Site) -> None:
    with signed_in(site, "wang") as (http, _):
        html = http.get("/quality").text
    stations = _part(html, "quality-stations")
    assert re.search(rf'<tr data-station="{SILENT}" data-silent="true" class="silent">', stations)
    assert f'<tr data-station="{FRESH}" data-silent="false">' in stations
    silent_row = re.search(rf'data-station="{SILENT}".*?</tr>', stations, re.S)
    assert silent_row is not None and 'class="age stale"' in silent_row.group(0)
    assert "10.0 小时（超时）" in silent_row.group(0)
    assert "超过 8.0 小时无数据" in html  # the station_silent rule of alert_rules.toml


def test_refused_frames_are_counted_and_listed_without_their_bytes(site: Site) -> None:
    with signed_in(site, "wang") as (http, _):
        html = http.get("/quality").text
    assert PAYLOAD_MARK.decode() not in html
    reasons = html[html.index('id="refused-reasons"') : html.index("</ul>", html.index(
        'id="refused-reasons"'))]  # fmt: skip
    assert re.search(r'data-reason="bad_password">拒收 · bad_password：<strong>2</strong>', reasons)
    assert re.search(r'data-reason="unknown_station">未登记站点 · unknown_station：<strong>1<',
                     reasons)  # fmt: skip
    listed = _part(html, "refused-messages")
    assert listed.count("<tr data-raw=") == 3  # the accepted message is not listed
    assert "10.0.0.7:40004" not in listed and "10.0.0.6:40003" in listed
    assert '<td class="num">28</td>' in listed  # the payload's size [bytes]
    assert "被拒收的报文（3）" in html


# --- the review forms ----------------------------------------------------------------------------


def test_an_analyst_accepts_a_pending_value_with_the_form(site: Site) -> None:
    pending = _pending(site.engine)
    tp = pending["tp"]
    with signed_in(site, "wang") as (http, csrf):
        html = http.get("/quality").text
        assert "待复核（2）" in html
        item = re.search(rf'<div class="review-item" data-observation="{tp}">.*?</form>', html,
                         re.S)  # fmt: skip
        assert item is not None and "超测上限" in item.group(0)
        assert f'action="/quality/review/{tp}"' in item.group(0)
        assert f'name="csrf_token" value="{csrf}"' in item.group(0)
        answer = http.post(f"/quality/review/{tp}", data={"csrf_token": csrf, "action": "accept",
                                                          "note": "量程复核", "value": "",
                                                          "days": "7"})  # fmt: skip
        assert answer.status_code == 303 and answer.headers["location"].startswith("/quality")
        after = http.get("/quality").text
    assert _status(site.engine, tp).review_status == "accepted"
    (event,) = audit_events(engine=site.engine, action="review.accept")
    assert (event.actor, event.target) == ("wang", str(tp))
    assert "待复核（1）" in after and f'data-observation="{tp}"' not in after


def test_a_replacement_keeps_the_old_value(site: Site) -> None:
    codmn = _pending(site.engine)["codmn"]
    with signed_in(site, "wang") as (http, csrf):
        answer = http.post(f"/quality/review/{codmn}", data={
            "csrf_token": csrf, "action": "replace", "value": "3.4", "note": "复测"})  # fmt: skip
    assert answer.status_code == 303
    assert tuple(_status(site.engine, codmn)) == ("replaced", 3.4)
    with site.engine.connect() as connection:
        old = connection.execute(select(ObservationHistory.value).where(
            ObservationHistory.observation_id == codmn)).scalar_one()  # fmt: skip
    assert old == 3.0


def test_a_rejection_without_a_note_is_refused_on_the_page(site: Site) -> None:
    tp = _pending(site.engine)["tp"]
    with signed_in(site, "wang") as (http, csrf):
        answer = http.post(f"/quality/review/{tp}", data={"csrf_token": csrf, "action": "reject"})
    assert answer.status_code == 400 and "否决须说明理由" in answer.text
    assert 'id="quality-message"' in answer.text
    assert _status(site.engine, tp).review_status == "pending"


def test_a_form_without_the_csrf_token_is_refused(site: Site) -> None:
    tp = _pending(site.engine)["tp"]
    with signed_in(site, "wang") as (http, _):
        answer = http.post(f"/quality/review/{tp}", data={"action": "accept"})
        forged = http.post(f"/quality/review/{tp}", data={"action": "accept",
                                                          "csrf_token": "guessed"})  # fmt: skip
    assert answer.status_code == 403 and "CSRF" in answer.text
    assert forged.status_code == 403
    assert _status(site.engine, tp).review_status == "pending"
    assert audit_events(engine=site.engine, action="review.accept") == []


def test_a_county_user_may_neither_see_nor_review(site: Site) -> None:
    tp = _pending(site.engine)["tp"]
    with signed_in(site, "jizhou") as (http, csrf):
        assert http.get("/quality").status_code == 403
        answer = http.post(f"/quality/review/{tp}", data={"csrf_token": csrf, "action": "accept"})
    assert answer.status_code == 403
    assert _status(site.engine, tp).review_status == "pending"


def test_every_context_field_has_help() -> None:
    import dataclasses
    import inspect

    from service.web import quality_views

    found = [
        obj
        for _, obj in inspect.getmembers(quality_views, inspect.isclass)
        if dataclasses.is_dataclass(obj) and obj.__module__ == quality_views.__name__
    ]
    assert {"QualityPageContext", "StationRow", "DayCell", "ReviewRow"} <= {
        c.__name__ for c in found
    }
    for context in found:
        for field in dataclasses.fields(context):
            assert field.metadata.get("help"), f"{context.__name__}.{field.name} has no help"
