"""An alert episode's whole life through real local fake services (tests/service/alert_servers.py):
a township chief's WeCom robot, a county chief's signed DingTalk robot and a city chief's mailbox
on a real SMTP server, driven by the alert pass (:func:`service.alerts.run.run_alerts`) over
observations stored in the database, nothing patched. Opening, a silent repeat, escalation,
acknowledgement through the signed link the chief received, no escalation after it, closing;
every state change an episode event and an audit entry. And the link's refusals: expired,
altered, another key."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Sized
from typing import Any

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import Engine, select

from sections.registry import Registry
from sections.river_chiefs import RiverChiefs, parse_river_chiefs
from service.accounts.audit import audit_events
from service.alerts.ack_links import (
    ACK_SALT,
    AckLinkError,
    AckLinkExpired,
    AckLinks,
)
from service.alerts.episodes import acknowledge
from service.alerts.factory import build_channels
from service.alerts.policy import DEFAULT_POLICY
from service.alerts.run import AlertRunSummary, run_alerts
from service.db.models import AlertEpisode, AlertEpisodeEvent, AlertOutbox, table_of
from service.settings import Settings
from service.time import BEIJING
from tests.conftest import store_rows
from tests.service.alert_servers import FakeDingTalk, FakeSmtp, FakeWeCom, dingtalk_signature

EPISODES = table_of(AlertEpisode)
EVENTS = table_of(AlertEpisodeEvent)
OUTBOX = table_of(AlertOutbox)

SECTION = "xiaofanqiao"  # 小范桥, 滏阳河, target Class Ⅲ in 2025: NH3-N ≤ 1.0 mg/L
SECTION_NAME = "小范桥"
STEP = dt.timedelta(hours=4)
START = dt.datetime(2025, 7, 1, tzinfo=BEIJING)
SECRET = "test-ack-link-secret-0123456789abcdef"
BASE_URL = "http://qingliu.test"
LINK_HOURS = dt.timedelta(hours=72)
LINK = re.compile(r"http://qingliu\.test/alerts/ack/([A-Za-z0-9_.\-]+)")
WECOM_KEY = "wecom-township-key-123"
DING_TOKEN = "dingtalk-county-token"
DING_SECRET = "SECcounty0123456789abcdef"
CITY_EMAIL = "city-chief@hs.example.cn"
CLEAN = [0.52, 0.61, 0.47, 0.58, 0.66, 0.5, 0.55, 0.63, 0.49, 0.57, 0.6, 0.54, 0.51, 0.59]
"""NH3-N under the Class Ⅲ limit [mg/L], never the same twice in a row for long."""
ARRIVAL_DEADLINE = 10.0  # [s]
STATE_CHANGES = ("opened", "level_raised", "escalated", "acknowledged", "closed")


def chiefs_toml(wecom_url: str, dingtalk_url: str) -> str:
    return f"""
[[reaches]]
id = "fuyang-xiaofanqiao"
river = "滏阳河"
county = "taocheng"
township = "某镇"
sections = ["{SECTION}"]
confirmed = false

[[chiefs]]
id = "township"
post = "滏阳河某镇乡级河长"
level = "乡"
reaches = ["fuyang-xiaofanqiao"]
channels = ["wecom-township"]
escalate_to = "county"
confirmed = false

[[chiefs]]
id = "county"
post = "滏阳河桃城区县级河长"
level = "县"
reaches = ["fuyang-xiaofanqiao"]
channels = ["dingtalk-county"]
escalate_to = "city"
confirmed = false

[[chiefs]]
id = "city"
post = "滏阳河市级河长"
level = "市"
reaches = ["fuyang-xiaofanqiao"]
channels = ["mail"]
email = "{CITY_EMAIL}"
confirmed = false

[[channels]]
id = "wecom-township"
kind = "wecom"
url = "{wecom_url}/cgi-bin/webhook/send?key=${{T_WECOM_KEY}}"
confirmed = false

[[channels]]
id = "dingtalk-county"
kind = "dingtalk"
url = "{dingtalk_url}/robot/send?access_token=${{T_DING_TOKEN}}"
secret = "${{T_DING_SECRET}}"
confirmed = false

[[channels]]
id = "mail"
kind = "email"
confirmed = false
"""


ENVIRON = {"T_WECOM_KEY": WECOM_KEY, "T_DING_TOKEN": DING_TOKEN, "T_DING_SECRET": DING_SECRET}


def rows(values: list[float], *, first: dt.datetime) -> list[dict[str, Any]]:
    """4-hourly NH3-N observations of the section's automatic station from ``first``."""
    return [
        {"station": f"MN-{SECTION}", "section_id": SECTION, "parameter": "nh3n",
         "observed_at": first + i * STEP, "value": v, "unit": "mg/L", "station_flag": "N",
         "qc_flag": None, "source": "hj212"}
        for i, v in enumerate(values)
    ]  # fmt: skip


def arrived(received: Sized, count: int, *, what: str) -> None:
    """Wait until a fake service holds ``count`` messages (a deadline, never a fixed sleep)."""
    deadline = time.monotonic() + ARRIVAL_DEADLINE
    while len(received) < count:
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: {len(received)} of {count} messages within {ARRIVAL_DEADLINE} s")
        time.sleep(0.01)


class Life:
    """The river-chief file, the built channels and the fake services of one test."""

    def __init__(self, engine: Engine, registry: Registry, serve: Callable[[Any], str],
                 smtp: FakeSmtp) -> None:  # fmt: skip
        self.engine, self.registry, self.smtp = engine, registry, smtp
        self.wecom = FakeWeCom(key=WECOM_KEY)
        self.dingtalk = FakeDingTalk(token=DING_TOKEN, secret=DING_SECRET)
        self.chiefs: RiverChiefs = parse_river_chiefs(
            chiefs_toml(serve(self.wecom), serve(self.dingtalk))
        )
        settings = Settings(smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_starttls=False,
                            smtp_sender="清流预警 <alerts@qingliu.test>")  # fmt: skip
        self.channels = build_channels(self.chiefs, settings=settings, environ=ENVIRON)
        assert sorted(self.channels) == ["dingtalk-county", "mail", "wecom-township"]
        assert self.channels.problems == ()
        self.links = AckLinks(SECRET, BASE_URL, LINK_HOURS)

    def run(self, now: dt.datetime) -> AlertRunSummary:
        return run_alerts(engine=self.engine, registry=self.registry, chiefs=self.chiefs,
                          channels=self.channels, now=now, holder="test-life",
                          ack_links=self.links)  # fmt: skip

    def received(self) -> tuple[int, int, int]:
        """Messages at the township robot, the county robot and the city mailbox."""
        return len(self.wecom.messages), len(self.dingtalk.messages), len(self.smtp.mails)

    def episode(self) -> Any:  # Any: a row of alert_episode
        with self.engine.connect() as connection:
            (found,) = connection.execute(select(EPISODES)).all()
        return found

    def events(self, episode_id: int) -> list[tuple[dt.datetime, str, dict[str, Any]]]:
        with self.engine.connect() as connection:
            found = connection.execute(
                select(EVENTS.c.at, EVENTS.c.kind, EVENTS.c.detail)
                .where(EVENTS.c.episode_id == episode_id).order_by(EVENTS.c.id)
            ).all()  # fmt: skip
        return [(_utc(at), str(kind), dict(detail or {})) for at, kind, detail in found]


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def markdown_of(body: dict[str, Any]) -> str:
    """The text a robot shows: WeCom's or DingTalk's markdown or text content."""
    if body["msgtype"] == "text":
        return str(body["text"]["content"])
    part = body["markdown"]
    return str(part.get("content") or part.get("text"))


def test_an_episode_from_opening_to_closing_through_the_chiefs_services(
    db: Engine, registry: Registry, serve: Callable[[Any], str]
) -> None:
    with FakeSmtp() as smtp:
        life = Life(db, registry, serve, smtp)
        # Two days below the Class Ⅲ limit, then two 4-hourly values over it (7/03 04:00, 08:00).
        store_rows(db, rows([*CLEAN[:13], 1.4, 1.5], first=START))

        # (1) The pass at 7/03 09:00 Beijing opens a yellow episode (two values in a row over
        # the limit) and tells the township chief, the section's lowest level, on its robot.
        opened_at = dt.datetime(2025, 7, 3, 9, 0, tzinfo=BEIJING)
        first = life.run(opened_at)
        assert len(first.changes.opened) == 1 and first.changes.enqueued == 1
        arrived(life.wecom.messages, 1, what="township robot")
        assert life.received() == (1, 0, 0)
        opening = markdown_of(life.wecom.messages[0])
        assert SECTION_NAME in opening and "氨氮" in opening and "黄色" in opening
        assert "1.5 mg/L" in opening and "限值 1 mg/L" in opening
        (token,) = LINK.findall(opening)
        grant = life.links.read(token)
        episode = life.episode()
        assert (grant.episode_id, grant.recipient_id) == (episode.id, "township")
        assert (episode.state, episode.level, episode.escalation_step) == ("open", 2, 0)
        assert _utc(episode.next_escalation_at) == opened_at + dt.timedelta(hours=4)

        # (2) The next pass sees the same level again: the episode is updated, nothing is sent.
        repeat = life.run(opened_at + dt.timedelta(minutes=10))
        assert repeat.changes.updated == (episode.id,)
        assert repeat.changes.enqueued == 0 and repeat.delivery.sent == []
        assert life.received() == (1, 0, 0)

        # (3) Still over the limit at 12:00 and nobody acknowledged: 4 h after opening (yellow),
        # the county chief's DingTalk robot gets one signed message.
        store_rows(db, rows([1.6], first=dt.datetime(2025, 7, 3, 12, 0, tzinfo=BEIJING)))
        before_due = life.run(opened_at + dt.timedelta(hours=3, minutes=50))
        assert before_due.changes.escalated == () and life.received() == (1, 0, 0)
        escalated_at = opened_at + dt.timedelta(hours=4, minutes=10)
        escalation = life.run(escalated_at)
        assert escalation.changes.escalated == (episode.id,)
        arrived(life.dingtalk.messages, 1, what="county robot")
        assert life.received() == (1, 1, 0)
        signed = life.dingtalk.queries[-1]
        assert signed["sign"] == dingtalk_signature(DING_SECRET, signed["timestamp"])
        assert life.dingtalk.answers[-1] == {"errcode": 0, "errmsg": "ok"}
        escalated = markdown_of(life.dingtalk.messages[0])
        assert SECTION_NAME in escalated and "升级" in escalated and "1.6 mg/L" in escalated
        (county_token,) = LINK.findall(escalated)
        county_grant = life.links.read(county_token)
        assert (county_grant.episode_id, county_grant.recipient_id) == (episode.id, "county")
        assert life.episode().escalation_step == 1

        # (4) The county chief opens the link and acknowledges: no escalation to the city chief
        # at the passes after, though the value stays over the limit through the day.
        acknowledged_at = escalated_at + dt.timedelta(minutes=20)
        assert acknowledge(engine=db, episode_id=county_grant.episode_id,
                           by=f"river_chief:{county_grant.recipient_id}", note="已派人核查",
                           now=acknowledged_at)  # fmt: skip
        assert life.episode().state == "acknowledged"
        store_rows(db, rows([1.5, 1.4], first=dt.datetime(2025, 7, 3, 16, 0, tzinfo=BEIJING)))
        for hours in (2, 4, 6, 8):  # 4 h after the county was told and beyond
            later = life.run(escalated_at + dt.timedelta(hours=hours))
            assert later.changes.escalated == () and later.changes.enqueued == 0
        assert life.received() == (1, 1, 0)
        assert smtp.mails == []
        held = life.episode()
        assert (held.state, held.escalation_step, held.next_escalation_at) == (
            "acknowledged", 1, None)  # fmt: skip
        assert held.acknowledged_by == "river_chief:county"
        assert held.acknowledged_note == "已派人核查"

        # (5) From 7/04 the water is back under the limit. Yesterday's daily mean (over it)
        # keeps the condition alive through 7/04; the episode closes 72 h after it was last seen.
        now = dt.datetime(2025, 7, 4, 2, 0, tzinfo=BEIJING)
        stored_until = dt.datetime(2025, 7, 4, 0, 0, tzinfo=BEIJING)
        clean = iter(CLEAN * 3)  # varied, so that no station looks flat-lined
        closed_by: dt.datetime | None = None
        while now <= dt.datetime(2025, 7, 8, 12, 0, tzinfo=BEIJING):
            while stored_until <= now:
                store_rows(db, rows([next(clean)], first=stored_until))
                stored_until += STEP
            summary = life.run(now)
            assert summary.changes.escalated == () and summary.changes.raised == ()
            assert summary.changes.opened == ()
            if summary.changes.closed:
                assert summary.changes.closed == (episode.id,)
                closed_by = now
                break
            now += dt.timedelta(hours=2)
        assert closed_by is not None, "the episode did not close"
        closed = life.episode()
        assert closed.state == "closed" and _utc(closed.closed_at) == closed_by
        last_seen = _utc(closed.last_condition_at)
        assert last_seen >= dt.datetime(2025, 7, 4, tzinfo=BEIJING)  # the daily mean held it
        assert last_seen + DEFAULT_POLICY.close_after <= closed_by
        assert closed_by < last_seen + DEFAULT_POLICY.close_after + dt.timedelta(hours=2)
        assert closed.acknowledged_by == "river_chief:county" and closed.escalation_step == 1

        # No escalation message went out after the acknowledgement, on any channel; the city
        # chief (the next one up) was never written to. (Closing messages are not judged here.)
        with db.connect() as connection:
            outbox = connection.execute(
                select(OUTBOX.c.recipient_id, OUTBOX.c.escalation_step, OUTBOX.c.created_at,
                       OUTBOX.c.message)
            ).all()  # fmt: skip
        after = [r for r in outbox if _utc(r.created_at) > acknowledged_at]
        assert not [r for r in after if "升级" in str(r.message.get("title", ""))]
        assert all(r.escalation_step <= 1 for r in outbox)
        assert "city" not in {r.recipient_id for r in outbox}
        assert not [m for m in smtp.mails if CITY_EMAIL in m.rcpt_tos]

    # Every state change is an episode event and an audit entry, in order.
    events = life.events(episode.id)
    changes = [(at, kind) for at, kind, _ in events if kind in STATE_CHANGES]
    assert changes == [
        (_utc(opened_at), "opened"), (_utc(escalated_at), "escalated"),
        (_utc(acknowledged_at), "acknowledged"), (_utc(closed_by), "closed"),
    ]  # fmt: skip
    by_kind = {kind: detail for _, kind, detail in events if kind in STATE_CHANGES}
    assert by_kind["opened"]["level"] == 2 and by_kind["opened"]["enqueued"] == 1
    assert by_kind["escalated"]["to"] == ["county"] and by_kind["escalated"]["step"] == 1
    assert by_kind["acknowledged"] == {"by": "river_chief:county", "note": "已派人核查"}
    sent = [d for _, kind, d in events if kind == "sent"]
    assert [(d["recipient"], d["channel"]) for d in sent][:2] == [
        ("township", "wecom-township"), ("county", "dingtalk-county")]  # fmt: skip
    target = f"alert_episode:{episode.id}"
    audit = [e for e in reversed(audit_events(engine=db, limit=1000)) if e.target == target]
    changed = [e for e in audit if e.action.removeprefix("alert.") in STATE_CHANGES]
    actions = [(e.actor, e.action) for e in changed]
    assert actions == [
        ("system:alerts", "alert.opened"), ("system:alerts", "alert.escalated"),
        ("river_chief:county", "alert.acknowledged"), ("system:alerts", "alert.closed"),
    ]  # fmt: skip


# --------------------------------------------------------------------------- the link


class _SignedEarlier(TimestampSigner):
    """A signer whose clock is ``ago`` seconds behind: a token as if signed back then."""

    ago = 0

    def get_timestamp(self) -> int:
        return int(time.time()) - self.ago


def signed_ago(hours: float, *, episode_id: int = 7, recipient_id: str = "county") -> str:
    """A link token signed with the service's key and salt ``hours`` ago (its own signer)."""
    signer = type("Signer", (_SignedEarlier,), {"ago": int(hours * 3600)})
    serializer = URLSafeTimedSerializer(SECRET, salt=ACK_SALT, signer=signer)
    return str(serializer.dumps({"e": episode_id, "r": recipient_id}))


LINKS = AckLinks(SECRET, BASE_URL, LINK_HOURS)


def test_a_link_within_its_hours_grants_its_episode_and_recipient() -> None:
    grant = LINKS.read(signed_ago(71))
    assert (grant.episode_id, grant.recipient_id) == (7, "county")
    assert grant.expires_at - grant.signed_at == LINK_HOURS
    assert dt.timedelta(hours=70) < dt.datetime.now(dt.UTC) - grant.signed_at
    url = LINKS.url(8, "township")
    assert url.startswith("http://qingliu.test/alerts/ack/")
    assert LINKS.read(url.rsplit("/", 1)[1]).episode_id == 8


def test_an_expired_link_is_refused_as_expired() -> None:
    with pytest.raises(AckLinkExpired, match="过期") as refused:
        LINKS.read(signed_ago(73))
    assert refused.value.status == 410
    fresh = LINKS.token(7, "county")
    short = AckLinks(SECRET, BASE_URL, dt.timedelta(seconds=1))
    deadline = time.monotonic() + 10
    while True:  # a fresh token outlives a one-second link within a few seconds
        try:
            short.read(fresh)
        except AckLinkExpired:
            break
        if time.monotonic() > deadline:
            pytest.fail("a one-second link was still accepted after 10 s")
        time.sleep(0.2)


OTHER_KEY = AckLinks("another-key-" + "x" * 24, BASE_URL, LINK_HOURS)
COOKIE_SIGNER = URLSafeTimedSerializer(SECRET, salt="cookie-session")
RAW_SIGNER = URLSafeTimedSerializer(SECRET, salt=ACK_SALT)


def _changed_signature(token: str) -> str:
    """The signature's first character changed: every bit of it counts (the last base64
    character of a signature may carry padding bits, so changing it can decode the same)."""
    head, signature = token.rsplit(".", 1)
    return f"{head}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"


def _swapped_payload(token: str) -> str:
    """Another episode's payload under this token's timestamp and signature."""
    return LINKS.token(8, "county").split(".")[0] + "." + token.split(".", 1)[1]


ALTERATIONS: dict[str, Callable[[str], str]] = {
    "signature-changed": _changed_signature,
    "cut": lambda token: token[:-4],
    "payload-swapped": _swapped_payload,
    "another-key": lambda token: OTHER_KEY.token(7, "county"),
    "another-salt": lambda token: str(COOKIE_SIGNER.dumps({"e": 7, "r": "county"})),
    "payload-not-a-link": lambda token: str(RAW_SIGNER.dumps({"e": "7", "r": "county"})),
}


@pytest.mark.parametrize("alteration", list(ALTERATIONS))
def test_an_altered_or_foreign_token_is_refused(alteration: str) -> None:
    token = LINKS.token(7, "county")
    assert LINKS.read(token).episode_id == 7
    forged = ALTERATIONS[alteration](token)
    assert forged != token
    with pytest.raises(AckLinkError) as refused:
        LINKS.read(forged)
    assert type(refused.value) is AckLinkError  # not "expired": it was never valid
