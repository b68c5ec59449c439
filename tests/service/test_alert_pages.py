"""The alert pages and API: who sees which episodes, acknowledging on the page, in the API and
through the signed link of a message (opening it changes nothing; the button does)."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from pydantic import SecretStr
from sqlalchemy import Engine, select

from sections.alert_rules import AlertLevel, Condition
from sections.registry import Registry
from sections.river_chiefs import load_river_chiefs
from service.accounts import add_user, audit_events, create_token
from service.alerts.ack_links import ACK_SALT, AckLinks
from service.alerts.episodes import apply_conditions
from service.app import create_app
from service.db.models import AlertEpisode, table_of
from service.settings import Settings
from tests.conftest import live_server_for

SECRET = "an alert link secret of at least 32 chars"
PASSWORD = "a long test password"
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
EPISODES = table_of(AlertEpisode)


def condition(section: str, factor: str, level: AlertLevel, audience: str = "river_chiefs",
              rule: str = "daily_mean_exceeds") -> Condition:  # fmt: skip
    return Condition(section, factor, level, rule, audience, NOW - dt.timedelta(hours=1), 1.62,
                     1.0, "日均值 1.62 mg/L，超过Ⅲ类限值 1.0 mg/L")  # fmt: skip


@dataclass
class Site:
    url: str
    engine: Engine
    ids: dict[str, int]
    tokens: dict[str, str]
    links: AckLinks


def _ids(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        rows = connection.execute(select(EPISODES.c.id, EPISODES.c.section_id,
                                         EPISODES.c.audience)).all()  # fmt: skip
    return {f"{r.section_id}/{r.audience}": int(r.id) for r in rows}


@pytest.fixture
def site(settings: Settings, registry: Registry) -> Iterator[Site]:
    """The app on a live server with three episodes: 冀州 (滏阳河, river chiefs), 饶阳 (滹沱河,
    river chiefs), 冀州 station silence (operators); users of every kind, each with a token."""
    settings = settings.with_(
        secure_cookies=False, alerts_base_url="http://qingliu.test",
        alert_link_secret=SecretStr(SECRET),
    )  # fmt: skip
    app = create_app(settings, registry=registry)
    engine: Engine = app.state.engine
    apply_conditions(
        engine=engine, chiefs=load_river_chiefs(registry=registry), registry=registry, now=NOW,
        conditions=[
            condition("fuyang-jizhou", "nh3n", AlertLevel.YELLOW),
            condition("hutuo-raoyang", "tp", AlertLevel.RED),
            condition("fuyang-jizhou", "", AlertLevel.ORANGE, "operators", "station_silent"),
        ],
    )  # fmt: skip
    tokens = {}
    for who, role, unit, chief, scopes in (
        ("analyst", "analyst", None, None, ("read", "review")),
        ("jizhou-chief", "river_chief", None, "fuyang-jizhou-county", ("read", "review")),
        ("fuyang-chief", "river_chief", None, "fuyang-city", ("read",)),
        ("jizhou-county", "county", "jizhou", None, ("read", "review")),
    ):  # fmt: skip
        add_user(engine=engine, username=who, role=role, unit_id=unit, chief_id=chief,
                 password=PASSWORD)  # fmt: skip
        tokens[who] = create_token(engine=engine, username=who, name="t", scopes=scopes).secret
    links = AckLinks(SECRET, "http://qingliu.test", dt.timedelta(hours=72))
    try:
        with live_server_for(app) as url:
            yield Site(url, engine, _ids(engine), tokens, links)
    finally:
        engine.dispose()


def api(site: Site, who: str) -> httpx.Client:
    return httpx.Client(base_url=site.url, timeout=30,
                        headers={"Authorization": f"Bearer {site.tokens[who]}"})  # fmt: skip


@contextmanager
def signed_in(site: Site, username: str) -> Iterator[tuple[httpx.Client, str]]:
    """A browser-like client signed in, and its CSRF token."""
    with httpx.Client(base_url=site.url, timeout=30) as http:
        page = http.get("/login")
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert found is not None
        form = {"username": username, "password": PASSWORD, "csrf_token": found.group(1),
                "next": "/alerts"}  # fmt: skip
        answer = http.post("/login", data=form)
        assert answer.status_code == 303, answer.text[:300]
        yield http, http.get("/api/session").json()["csrf_token"]


def state_of(engine: Engine, episode_id: int) -> Any:
    with engine.connect() as connection:
        return connection.execute(select(EPISODES).where(EPISODES.c.id == episode_id)).one()


# --- who sees what --------------------------------------------------------------------------


def test_the_bureau_sees_every_episode_a_river_chief_only_their_sections(site: Site) -> None:
    jizhou, raoyang = site.ids["fuyang-jizhou/river_chiefs"], site.ids["hutuo-raoyang/river_chiefs"]
    outage = site.ids["fuyang-jizhou/operators"]
    with api(site, "analyst") as http:
        seen = {e["id"] for e in http.get("/api/alerts").json()["data"]}
    assert seen == {jizhou, raoyang, outage}
    with api(site, "jizhou-chief") as http:
        answer = http.get("/api/alerts", params={"state": "open"}).json()
        assert [e["id"] for e in answer["data"]] == [jizhou]
        assert answer["total"] == 1
        assert answer["data"][0]["section_name"] == "滏阳河冀州区出境"
        assert answer["data"][0]["level_label"] == "黄色"
        assert http.get(f"/api/alerts/{raoyang}").status_code == 404  # not theirs: not there
        assert http.get(f"/api/alerts/{outage}").status_code == 404  # station outages: bureau
        detail = http.get(f"/api/alerts/{jizhou}").json()
        assert [e["kind"] for e in detail["events"]] == ["opened"]
        assert detail["sends"] and detail["sends"][0]["recipient_id"] == "fuyang-jizhou-county"
    with api(site, "fuyang-chief") as http:  # the city chief: every reach escalating to them
        assert {e["id"] for e in http.get("/api/alerts").json()["data"]} == {jizhou}
    with api(site, "jizhou-county") as http:
        assert {e["id"] for e in http.get("/api/alerts").json()["data"]} == {jizhou}


def test_the_alerts_page_groups_open_episodes_by_level_for_the_caller(site: Site) -> None:
    with signed_in(site, "analyst") as (http, _):
        page = http.get("/alerts").text
    assert page.index("红色预警") < page.index("橙色预警") < page.index("黄色预警")
    assert "饶阳" in page and "运维" in page
    with signed_in(site, "jizhou-chief") as (http, _):
        page = http.get("/alerts").text
        assert "滏阳河冀州区出境" in page and "饶阳" not in page and "运维" not in page
        assert "您负责的 1 个断面" in page
        other = http.get(f"/alerts/{site.ids['hutuo-raoyang/river_chiefs']}")
        assert other.status_code == 404


def test_anonymous_callers_see_no_alerts_even_with_the_public_view(
    settings: Settings, registry: Registry
) -> None:
    app = create_app(settings.with_(public_view=True), registry=registry)
    try:
        with live_server_for(app) as url, httpx.Client(base_url=url, timeout=30) as http:
            assert http.get("/api/alerts").status_code == 401
            assert http.get("/alerts", follow_redirects=False).status_code in (303, 401)
    finally:
        app.state.engine.dispose()


# --- acknowledging --------------------------------------------------------------------------


def test_a_river_chief_acknowledges_on_the_page_and_escalation_stops(site: Site) -> None:
    episode_id = site.ids["fuyang-jizhou/river_chiefs"]
    assert state_of(site.engine, episode_id).next_escalation_at is not None
    with signed_in(site, "jizhou-chief") as (http, csrf):
        page = http.get(f"/alerts/{episode_id}").text
        assert "确认收到，停止升级" in page
        refused = http.post(f"/alerts/{episode_id}/acknowledge", data={"note": "x"})
        assert refused.status_code == 403  # no CSRF token
        form = {"note": "已派人核查", "csrf_token": csrf}
        done = http.post(f"/alerts/{episode_id}/acknowledge", data=form, follow_redirects=True)
        assert done.status_code == 200 and "jizhou-chief" in done.text
    row = state_of(site.engine, episode_id)
    assert (row.state, row.acknowledged_by, row.acknowledged_note) == (
        "acknowledged", "jizhou-chief", "已派人核查")
    assert row.next_escalation_at is None
    actions = [(e.actor, e.action) for e in audit_events(engine=site.engine, limit=50)]
    assert ("jizhou-chief", "alert.acknowledged") in actions


def test_the_api_acknowledges_once_refuses_counties_and_closed_episodes(site: Site) -> None:
    jizhou, raoyang = site.ids["fuyang-jizhou/river_chiefs"], site.ids["hutuo-raoyang/river_chiefs"]
    with api(site, "jizhou-county") as http:
        assert http.post(f"/api/alerts/{jizhou}/acknowledge", json={}).status_code == 403
    with api(site, "fuyang-chief") as http:  # a read-only token
        assert http.post(f"/api/alerts/{jizhou}/acknowledge", json={}).status_code == 401
    with api(site, "jizhou-chief") as http:
        assert http.post(f"/api/alerts/{raoyang}/acknowledge", json={}).status_code == 404
        first = http.post(f"/api/alerts/{jizhou}/acknowledge", json={"note": "收到"}).json()
        again = http.post(f"/api/alerts/{jizhou}/acknowledge", json={}).json()
    assert first["changed"] is True and first["episode"]["acknowledged_by"] == "token:jizhou-chief"
    assert again["changed"] is False and "已由 token:jizhou-chief" in again["message"]
    with site.engine.begin() as connection:
        connection.execute(EPISODES.update().where(EPISODES.c.id == raoyang)
                           .values(state="closed", closed_at=NOW))  # fmt: skip
    with api(site, "analyst") as http:
        closed = http.post(f"/api/alerts/{raoyang}/acknowledge", json={})
    assert closed.status_code == 409 and "已于" in closed.json()["error"]


def test_opening_a_link_changes_nothing_and_its_button_acknowledges(site: Site) -> None:
    episode_id = site.ids["fuyang-jizhou/river_chiefs"]
    link = site.links.url(episode_id, "fuyang-jizhou-county")
    path = link.removeprefix("http://qingliu.test")
    with httpx.Client(base_url=site.url, timeout=30) as http:  # no account at all
        opened = http.get(path)
        assert opened.status_code == 200
        assert "确认收到" in opened.text and "滏阳河冀州区出境" in opened.text
        assert "滏阳河冀州区县级河长" in opened.text or "冀州" in opened.text
        assert opened.headers["cache-control"] == "no-store"
        assert state_of(site.engine, episode_id).state == "open"  # a preview acknowledges nothing
        done = http.post(path, data={"note": "已到现场"})
        assert done.status_code == 200 and "已确认" in done.text
        again = http.post(path, data={})
        assert again.status_code == 200 and "已由 link:fuyang-jizhou-county" in again.text
        shown = http.get(path)
        assert "确认收到" not in shown.text and "已由" in shown.text
    row = state_of(site.engine, episode_id)
    assert (row.state, row.acknowledged_by, row.acknowledged_note) == (
        "acknowledged", "link:fuyang-jizhou-county", "已到现场")
    actions = [(e.actor, e.action) for e in audit_events(engine=site.engine, limit=50)]
    assert ("link:fuyang-jizhou-county", "alert.acknowledged") in actions


class _SignedLongAgo(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - 73 * 3600


def test_an_expired_or_altered_link_acknowledges_nothing(site: Site) -> None:
    episode_id = site.ids["fuyang-jizhou/river_chiefs"]
    old = URLSafeTimedSerializer(SECRET, salt=ACK_SALT, signer=_SignedLongAgo)
    expired = old.dumps({"e": episode_id, "r": "fuyang-jizhou-county"})
    good = site.links.token(episode_id, "fuyang-jizhou-county")
    other_key = AckLinks("another key of at least 32 characters!", "http://x", dt.timedelta(1))
    with httpx.Client(base_url=site.url, timeout=30) as http:
        answer = http.post(f"/alerts/ack/{expired}", data={})
        assert answer.status_code == 410 and "已过期" in answer.text and "登录清流" in answer.text
        for token in (good[:-2] + ("AA" if not good.endswith("AA") else "BB"),
                      other_key.token(episode_id, "fuyang-jizhou-county"), "garbage"):
            refused = http.post(f"/alerts/ack/{token}", data={})
            assert refused.status_code == 404 and "无效" in refused.text
    assert state_of(site.engine, episode_id).state == "open"


def test_links_without_a_key_are_not_offered(tmp_path: Path, registry: Registry) -> None:
    from service.alerts.ack_links import ack_links_from

    bare = Settings(data_dir=tmp_path, alerts_base_url="http://qingliu.test")
    links, reason = ack_links_from(bare)
    assert links is None and reason is not None and "QINGLIU_ALERT_LINK_SECRET" in reason
    links, reason = ack_links_from(bare.with_(session_secret=SecretStr(SECRET)))
    assert links is not None and reason is None  # the session key serves when no link key
