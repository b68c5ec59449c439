"""Alert episodes over SQLite and PostgreSQL: one life from opening to closing, quiet hours,
and two concurrent runs that must not open two episodes or enqueue a message twice."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field

import pytest
from sqlalchemy import Engine, func, select

from sections.alert_rules import AlertLevel, Condition
from sections.river_chiefs import RiverChiefs, parse_river_chiefs
from service.accounts.audit import audit_events
from service.alerts.channels.base import Delivery, Message
from service.alerts.episodes import (
    EpisodeChanges,
    EpisodePolicy,
    acknowledge,
    advance_episodes,
    apply_conditions,
)
from service.alerts.outbox import DeliveryPolicy, deliver
from service.db.models import AlertEpisode, AlertEpisodeEvent, AlertOutbox, table_of

EPISODES = table_of(AlertEpisode)
EVENTS = table_of(AlertEpisodeEvent)
OUTBOX = table_of(AlertOutbox)

CHIEFS_TOML = """
[[reaches]]
id = "r"
river = "某河"
county = "u"
sections = ["s1", "s2"]
confirmed = false

[[chiefs]]
id = "county"
post = "某河县级河长"
level = "县"
reaches = ["r"]
channels = ["robot", "mail"]
escalate_to = "city"
mobile = "13800000001"
email = "county@example.cn"
confirmed = false

[[chiefs]]
id = "city"
post = "某河市级河长"
level = "市"
reaches = ["r"]
channels = ["robot-city"]
escalate_to = "province"
confirmed = false

[[chiefs]]
id = "province"
post = "某河省级河长"
level = "省"
channels = ["robot-city"]
confirmed = false

[[channels]]
id = "robot"
kind = "wecom"
url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=${KEY}"
confirmed = false

[[channels]]
id = "robot-city"
kind = "wecom"
url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=${KEY2}"
confirmed = false

[[channels]]
id = "mail"
kind = "email"
confirmed = false

[[operators]]
id = "ops"
post = "运维单位"
sections = ["s1"]
channels = ["mail"]
email = "ops@example.cn"
confirmed = false
"""

T0 = dt.datetime(2026, 7, 1, 2, 0, tzinfo=dt.UTC)  # 10:00 Beijing
NIGHT = dt.datetime(2026, 7, 1, 15, 0, tzinfo=dt.UTC)  # 23:00 Beijing
H = dt.timedelta(hours=1)


def chiefs() -> RiverChiefs:
    return parse_river_chiefs(CHIEFS_TOML)


def condition(level: AlertLevel, *, section: str = "s1", factor: str = "nh3n",
              at: dt.datetime = T0, audience: str = "river_chiefs") -> Condition:  # fmt: skip
    return Condition(section_id=section, factor=factor, level=level, rule_id=f"rule-{level.name}",
                     audience=audience, observed_at=at, value=2.3, limit=1.5,  # type: ignore[arg-type]
                     detail="连续两个 4 小时值超标", trend="rising", probability=0.8)  # fmt: skip


@dataclass
class FakeChannel:
    """A channel that records what it is given and answers from a script (then ``sent``)."""

    id: str
    kind: str = "wecom"
    answers: list[Delivery] = field(default_factory=list)
    sent: list[Message] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, message: Message) -> Delivery:
        with self.lock:
            self.sent.append(message)
            return self.answers.pop(0) if self.answers else Delivery("sent", "0", "ok")


def fake_channels() -> dict[str, FakeChannel]:
    return {"robot": FakeChannel("robot"), "robot-city": FakeChannel("robot-city"),
            "mail": FakeChannel("mail", kind="email")}  # fmt: skip


def outbox(engine: Engine) -> list[tuple[str, int, int, str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(OUTBOX.c.recipient_id, OUTBOX.c.level, OUTBOX.c.escalation_step,
                   OUTBOX.c.channel_id).order_by(OUTBOX.c.id)
        ).all()  # fmt: skip
    return [tuple(r) for r in rows]


def episode(engine: Engine, episode_id: int) -> object:
    with engine.connect() as connection:
        return connection.execute(select(EPISODES).where(EPISODES.c.id == episode_id)).one()


def test_an_episode_opens_repeats_rises_escalates_is_acknowledged_and_closes(db: Engine) -> None:
    rc, policy = chiefs(), EpisodePolicy(close_after=24 * H)  # the mechanism at 24 h
    opened = apply_conditions(engine=db, conditions=[condition(AlertLevel.YELLOW)], chiefs=rc,
                              registry=None, now=T0, policy=policy)  # fmt: skip
    assert len(opened.opened) == 1 and opened.enqueued == 2
    episode_id = opened.opened[0]
    assert outbox(db) == [("county", 2, 0, "robot"), ("county", 2, 0, "mail")]

    repeat = apply_conditions(engine=db, conditions=[condition(AlertLevel.YELLOW),
                              condition(AlertLevel.NOTICE)], chiefs=rc, registry=None,
                              now=T0 + H, policy=policy)  # fmt: skip
    assert repeat.updated == (episode_id, episode_id) and repeat.enqueued == 0
    assert len(outbox(db)) == 2

    raised = apply_conditions(engine=db, conditions=[condition(AlertLevel.ORANGE)], chiefs=rc,
                              registry=None, now=T0 + 1.5 * H, policy=policy)  # fmt: skip
    assert raised.raised == (episode_id,) and raised.enqueued == 2
    again = apply_conditions(engine=db, conditions=[condition(AlertLevel.ORANGE)], chiefs=rc,
                             registry=None, now=T0 + 2 * H, policy=policy)  # fmt: skip
    assert again.enqueued == 0
    row = episode(db, episode_id)
    assert row.level == 3 and row.state == "open"  # type: ignore[attr-defined]

    # orange escalates after 2 h (counted from the raise), to the city chief, once
    assert advance_episodes(engine=db, chiefs=rc, registry=None, now=T0 + 3.4 * H,
                            policy=policy).escalated == ()  # fmt: skip
    escalated = advance_episodes(engine=db, chiefs=rc, registry=None, now=T0 + 3.5 * H,
                                 policy=policy)  # fmt: skip
    assert escalated.escalated == (episode_id,)
    assert outbox(db)[-1] == ("city", 3, 1, "robot-city")
    assert advance_episodes(engine=db, chiefs=rc, registry=None, now=T0 + 3.5 * H,
                            policy=policy).escalated == ()  # fmt: skip

    assert acknowledge(engine=db, episode_id=episode_id, by="city-chief", note="已派人核查",
                       now=T0 + 4 * H)  # fmt: skip
    assert not acknowledge(engine=db, episode_id=episode_id, by="x", now=T0 + 4 * H)
    later = advance_episodes(engine=db, chiefs=rc, registry=None, now=T0 + 10 * H, policy=policy)
    assert later.escalated == () and len(outbox(db)) == 5  # no province message

    closed = advance_episodes(engine=db, chiefs=rc, registry=None, now=T0 + 26.5 * H,
                              policy=policy)  # fmt: skip
    assert closed.closed == (episode_id,)
    assert episode(db, episode_id).state == "closed"  # type: ignore[attr-defined]
    # everyone told (county at step 0, city at step 1) hears it is over, on each channel
    assert closed.enqueued == 3
    assert outbox(db)[5:] == [("county", 3, 1, "robot"), ("county", 3, 1, "mail"),
                              ("city", 3, 1, "robot-city")]  # fmt: skip
    with db.connect() as connection:
        kinds = connection.execute(
            select(EVENTS.c.kind).where(EVENTS.c.episode_id == episode_id).order_by(EVENTS.c.id)
        ).scalars().all()  # fmt: skip
    assert kinds == ["opened", "updated", "updated", "level_raised", "updated", "escalated",
                     "acknowledged", "closed"]  # fmt: skip
    actions = {e.action for e in audit_events(engine=db, limit=50)}
    assert {"alert.opened", "alert.level_raised", "alert.escalated", "alert.acknowledged",
            "alert.closed"} <= actions  # fmt: skip

    # a new condition after closing opens a new episode
    reopened = apply_conditions(engine=db, conditions=[condition(AlertLevel.YELLOW)], chiefs=rc,
                                registry=None, now=T0 + 27 * H, policy=policy)  # fmt: skip
    assert len(reopened.opened) == 1 and reopened.opened[0] != episode_id

    # the messages: county told of yellow and orange, city of orange, each once
    channels = fake_channels()
    now = T0 + 27 * H
    for step in range(10):
        deliver(engine=db, channels=channels, now=now + step * dt.timedelta(seconds=3),
                holder="test", policy=DeliveryPolicy(digest_max=1))  # fmt: skip
    robot = channels["robot"].sent
    assert [m.title for m in robot].count("【黄色预警】s1 氨氮超标预警") == 2
    assert "请确认：登录清流" in robot[0].text and robot[0].mobiles == ("13800000001",)
    city = ["【橙色预警】s1 氨氮预警升级", "【预警解除】s1 氨氮橙色预警已解除"]
    assert [m.title for m in channels["robot-city"].sent] == city
    assert len(channels["mail"].sent) == 4 and channels["mail"].sent[0].emails == (
        "county@example.cn",)  # fmt: skip
    assert [m.title for m in robot].count("【预警解除】s1 氨氮橙色预警已解除") == 1


def test_quiet_hours_hold_yellow_until_morning_but_not_red(db: Engine) -> None:
    rc = chiefs()
    apply_conditions(engine=db, conditions=[condition(AlertLevel.YELLOW, factor="codmn"),
                     condition(AlertLevel.RED, section="s2")], chiefs=rc, registry=None,
                     now=NIGHT)  # fmt: skip
    with db.connect() as connection:
        due = dict(connection.execute(
            select(OUTBOX.c.level, func.min(OUTBOX.c.next_attempt_at)).group_by(OUTBOX.c.level)
        ).all())  # fmt: skip
    assert due[4].replace(tzinfo=dt.UTC) == NIGHT
    assert due[2].replace(tzinfo=dt.UTC) == dt.datetime(2026, 7, 1, 23, 0, tzinfo=dt.UTC)
    channels = fake_channels()
    deliver(engine=db, channels=channels, now=NIGHT, holder="t")
    assert [m.level for m in channels["robot"].sent] == ["critical"]
    assert [m.title for m in channels["mail"].sent] == ["【红色预警】s2 氨氮超标预警"]
    # the yellow episode's escalation clock starts when quiet hours end (07:00 + 4 h)
    with db.connect() as connection:
        yellow = connection.execute(select(EPISODES).where(EPISODES.c.factor == "codmn")).one()
    assert yellow.next_escalation_at.replace(tzinfo=dt.UTC) == dt.datetime(
        2026, 7, 2, 3, 0, tzinfo=dt.UTC)  # fmt: skip


def test_operators_get_outage_alerts_and_nobody_escalates_them(db: Engine) -> None:
    rc = chiefs()
    changes = apply_conditions(engine=db, conditions=[condition(
        AlertLevel.YELLOW, factor="outage", audience="operators")], chiefs=rc, registry=None,
        now=T0)  # fmt: skip
    assert changes.enqueued == 1 and outbox(db) == [("ops", 2, 0, "mail")]
    assert advance_episodes(engine=db, chiefs=rc, registry=None, now=T0 + 10 * H).escalated == ()


def test_two_concurrent_runs_open_one_episode_and_enqueue_each_message_once(db: Engine) -> None:
    rc = chiefs()
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(level: AlertLevel) -> None:
        try:
            barrier.wait()
            apply_conditions(engine=db, conditions=[condition(level), condition(
                level, factor="codmn")], chiefs=rc, registry=None, now=T0)  # fmt: skip
        except BaseException as exc:
            errors.append(exc)

    for level in (AlertLevel.YELLOW, AlertLevel.ORANGE):
        threads = [threading.Thread(target=run, args=(level,)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    with db.connect() as connection:
        episodes = connection.execute(select(func.count()).select_from(EPISODES)).scalar_one()
    assert episodes == 2
    rows = outbox(db)
    assert len(rows) == 8  # 2 factors × (yellow, orange) × (robot, mail), not twice that


def test_a_naive_time_is_refused(db: Engine) -> None:
    with pytest.raises(ValueError):
        apply_conditions(engine=db, conditions=[], chiefs=chiefs(), registry=None,
                         now=dt.datetime(2026, 7, 1))  # fmt: skip


def test_a_closing_tells_everyone_told_once_held_in_quiet_hours(db: Engine) -> None:
    rc = chiefs()
    first = apply_conditions(engine=db, conditions=[
        condition(AlertLevel.RED),
        condition(AlertLevel.YELLOW, section="s2", factor="outage", audience="operators"),
    ], chiefs=rc, registry=None, now=T0)  # fmt: skip
    red, nobody = first.opened  # s2 has no operators: its episode never enqueued anything
    assert first.enqueued == 2 and first.unreachable == ("section:s2",)
    assert advance_episodes(engine=db, chiefs=rc, registry=None, now=T0 + H).escalated == (red,)
    assert acknowledge(engine=db, episode_id=red, by="city", now=T0 + H)
    assert len(outbox(db)) == 3  # county (robot, mail) at step 0, city at step 1

    night = T0 + 85 * H  # 23:00 Beijing three days later (72 h without a condition): quiet
    closed = advance_episodes(engine=db, chiefs=rc, registry=None, now=night)
    assert closed.closed == (red, nobody) and closed.enqueued == 3
    assert outbox(db)[3:] == [("county", 4, 1, "robot"), ("county", 4, 1, "mail"),
                              ("city", 4, 1, "robot-city")]  # fmt: skip
    again = advance_episodes(engine=db, chiefs=rc, registry=None, now=night + H)
    assert again == EpisodeChanges() and len(outbox(db)) == 6
    with db.connect() as connection:
        keys = connection.execute(
            select(OUTBOX.c.dedupe_key, OUTBOX.c.next_attempt_at).where(OUTBOX.c.id > 3)
        ).all()  # fmt: skip
        details = dict(connection.execute(
            select(EVENTS.c.episode_id, EVENTS.c.detail).where(EVENTS.c.kind == "closed")
        ).all())  # fmt: skip
    assert [k for k, _ in keys] == [f"{red}:closed:1:robot:county", f"{red}:closed:1:mail:county",
                                    f"{red}:closed:1:robot-city:city"]  # fmt: skip
    morning = dt.datetime(2026, 7, 4, 23, 0, tzinfo=dt.UTC)  # 07:00 Beijing: held though red
    assert {due.replace(tzinfo=dt.UTC) for _, due in keys} == {morning}
    assert details[red]["enqueued"] == 3 and details[nobody]["enqueued"] == 0

    channels = fake_channels()
    deliver(engine=db, channels=channels, now=night + H, holder="t")
    assert not [m for c in channels.values() for m in c.sent if "解除" in m.title]  # quiet
    for step in range(5):
        deliver(engine=db, channels=channels, now=morning + step * dt.timedelta(seconds=3),
                holder="t")  # fmt: skip
    lifted = [m for c in channels.values() for m in c.sent if "解除" in m.title]
    assert len(lifted) == 3 and {m.level for m in lifted} == {"info"}
    (city,) = [m for m in channels["robot-city"].sent if "解除" in m.title]
    assert city.title == "【预警解除】s1 氨氮红色预警已解除"
    assert "已解除" in city.text and "最后值 2.3 mg/L" in city.text
    assert "预警自 2026-07-01 10:00 起" in city.text and "请确认" not in city.text
    assert "最后值 **2.3 mg/L**" in city.markdown and "{ack_url}" not in city.markdown


def test_a_notice_alone_opens_nothing_but_keeps_an_open_episode_alive(db: Engine) -> None:
    rc, policy = chiefs(), EpisodePolicy()
    notice = apply_conditions(engine=db, conditions=[condition(AlertLevel.NOTICE)], chiefs=rc,
                              registry=None, now=T0, policy=policy)  # fmt: skip
    assert notice.opened == () and outbox(db) == []
    opened = apply_conditions(engine=db, conditions=[condition(AlertLevel.YELLOW)], chiefs=rc,
                              registry=None, now=T0 + H, policy=policy)  # fmt: skip
    episode_id = opened.opened[0]
    kept = apply_conditions(engine=db, conditions=[condition(AlertLevel.NOTICE)], chiefs=rc,
                            registry=None, now=T0 + 20 * H, policy=policy)  # fmt: skip
    assert kept.updated == (episode_id,) and kept.opened == ()  # (it escalated meanwhile)
    quiet = advance_episodes(engine=db, chiefs=rc, registry=None, now=T0 + 40 * H, policy=policy)
    assert quiet.closed == ()  # 20 h since the notice: not yet 72 h without a condition
    tp = [condition(AlertLevel.NOTICE, factor="tp")]
    low = EpisodePolicy(open_from=1)
    assert apply_conditions(engine=db, conditions=tp, chiefs=rc, registry=None,
                            now=T0 + 41 * H, policy=low).opened  # fmt: skip
