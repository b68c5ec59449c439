"""The alert outbox over SQLite and PostgreSQL: exactly one send per row under two senders and
after a restart, pacing, rate limits, backoff, dead letters and an expired claim."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time

from sqlalchemy import Engine, select, update

from sections.alert_rules import AlertLevel
from service.alerts.channels.base import Delivery
from service.alerts.episodes import apply_conditions
from service.alerts.outbox import DeliveryPolicy, deliver
from service.db.engine import make_engine
from service.db.models import AlertAttempt, AlertOutbox, table_of
from service.settings import Settings
from tests.service.test_alert_episodes import T0, FakeChannel, chiefs, condition, fake_channels

OUTBOX = table_of(AlertOutbox)
ATTEMPTS = table_of(AlertAttempt)
S3 = dt.timedelta(seconds=3)
ONE_BY_ONE = DeliveryPolicy(digest_max=1)  # no digests: each row its own send


def fill(engine: Engine, factors: int = 4) -> int:
    keys = ["nh3n", "codmn", "tp", "do", "cod", "bod5"][:factors]
    changes = apply_conditions(engine=engine, conditions=[condition(AlertLevel.YELLOW, factor=f)
                               for f in keys], chiefs=chiefs(), registry=None, now=T0)  # fmt: skip
    return changes.enqueued


def statuses(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(select(OUTBOX.c.status).order_by(OUTBOX.c.id)).scalars())


def test_two_concurrent_senders_send_each_row_once_and_pace_the_robot(db: Engine) -> None:
    total = fill(db)
    channels = fake_channels()
    barrier = threading.Barrier(2)

    def run(name: str) -> None:
        barrier.wait()
        for step in range(12):
            deliver(engine=db, channels=channels, now=T0 + step * S3, holder=name,
                    policy=ONE_BY_ONE)  # fmt: skip

    threads = [threading.Thread(target=run, args=(f"p{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses(db) == ["sent"] * total
    assert len(channels["robot"].sent) == 4 and len(channels["mail"].sent) == 4
    with db.connect() as connection:
        robot_times = connection.execute(
            select(ATTEMPTS.c.at).where(ATTEMPTS.c.channel_id == "robot").order_by(ATTEMPTS.c.at)
        ).scalars().all()  # fmt: skip
    gaps = [b - a for a, b in itertools.pairwise(robot_times)]
    assert all(gap >= S3 for gap in gaps)


def test_a_restart_with_a_full_outbox_delivers_each_message_once(settings: Settings) -> None:
    from service.db.engine import migrate

    first = make_engine(settings)
    migrate(first)
    total = fill(first, factors=6)
    channels = fake_channels()
    deliver(engine=first, channels=channels, now=T0, holder="before", policy=ONE_BY_ONE)
    first.dispose()
    second = make_engine(settings)  # a new process
    try:
        for step in range(1, 30):
            deliver(engine=second, channels=channels, now=T0 + step * S3, holder="after",
                    policy=ONE_BY_ONE)  # fmt: skip
        assert statuses(second) == ["sent"] * total
        assert sum(len(c.sent) for c in channels.values()) == total
    finally:
        second.dispose()


def test_rate_limited_waits_retry_after_and_failures_back_off_until_dead(db: Engine) -> None:
    fill(db, factors=1)  # one robot row, one mail row
    robot = FakeChannel("robot", answers=[Delivery("rate_limited", "45009", "too fast", 60.0)])
    mail = FakeChannel("mail", kind="email",
                       answers=[Delivery("unavailable", "HTTP 503")] * 3)  # fmt: skip
    channels = {"robot": robot, "mail": mail}
    policy = DeliveryPolicy(max_attempts=3)
    report = deliver(engine=db, channels=channels, now=T0, holder="t", policy=policy)
    assert len(report.rate_limited) == 1 and len(report.retried) == 1
    assert deliver(engine=db, channels=channels, now=T0 + dt.timedelta(seconds=59), holder="t",
                   policy=policy).sent == []  # fmt: skip
    later = deliver(engine=db, channels=channels, now=T0 + dt.timedelta(seconds=60), holder="t",
                    policy=policy)  # fmt: skip
    assert len(later.sent) == 1 and len(robot.sent) == 2
    for hours in (2, 4):
        deliver(engine=db, channels=channels, now=T0 + dt.timedelta(hours=hours), holder="t",
                policy=policy)  # fmt: skip
    assert statuses(db) == ["sent", "dead"]
    with db.connect() as connection:
        dead = connection.execute(select(OUTBOX).where(OUTBOX.c.status == "dead")).one()
    assert dead.attempts == 3 and dead.last_code == "HTTP 503"


def test_an_expired_claim_is_sent_again_and_recorded(db: Engine) -> None:
    fill(db, factors=1)
    with db.begin() as connection:  # a sender claimed the mail row and died before marking
        connection.execute(update(OUTBOX).where(OUTBOX.c.channel_id == "mail").values(
            status="sending", claim_token="x", claimed_by="dead", attempts=1,
            claimed_until=T0 + dt.timedelta(minutes=5)))  # fmt: skip
    channels = fake_channels()
    early = deliver(engine=db, channels=channels, now=T0, holder="t")
    assert early.expired == [] and channels["mail"].sent == []
    late = deliver(engine=db, channels=channels, now=T0 + dt.timedelta(minutes=6), holder="t")
    assert len(late.expired) == 1 and len(channels["mail"].sent) == 1
    with db.connect() as connection:
        kinds = connection.execute(select(ATTEMPTS.c.status).where(
            ATTEMPTS.c.channel_id == "mail").order_by(ATTEMPTS.c.id)).scalars().all()  # fmt: skip
    assert kinds == ["expired", "sent"]


def test_a_pass_with_a_clock_drains_a_backlog_at_the_robots_pace(db: Engine) -> None:
    fill(db, factors=6)  # six messages to one robot
    channels = fake_channels()
    policy = DeliveryPolicy(min_interval=dt.timedelta(seconds=0.2), per_minute=4, digest_max=1)
    started = time.monotonic()

    def clock() -> dt.datetime:
        return T0 + dt.timedelta(seconds=time.monotonic() - started)

    report = deliver(engine=db, channels=channels, now=T0, holder="p", policy=policy,
                     clock=clock, budget=dt.timedelta(seconds=10))  # fmt: skip
    assert len(channels["robot"].sent) == 4  # the minute's four; the fifth is a minute away
    assert report.paced == ["robot"]
    assert time.monotonic() - started < 10, "it does not wait for what lies beyond the budget"
    with db.connect() as connection:
        times = connection.execute(
            select(ATTEMPTS.c.at).where(ATTEMPTS.c.channel_id == "robot").order_by(ATTEMPTS.c.at)
        ).scalars().all()  # fmt: skip
    assert all(b - a >= policy.min_interval for a, b in itertools.pairwise(times))


def test_a_pass_at_a_fixed_time_sends_one_message_per_robot(db: Engine) -> None:
    fill(db, factors=6)
    channels = fake_channels()
    report = deliver(engine=db, channels=channels, now=T0, holder="p", policy=ONE_BY_ONE)
    assert len(channels["robot"].sent) == 1 and report.paced == ["robot"]


def test_a_robots_due_messages_go_as_one_digest_each_with_its_own_link(db: Engine) -> None:
    total = fill(db, factors=4)  # four robot rows (one per factor) and four mail rows
    channels = fake_channels()
    report = deliver(engine=db, channels=channels, now=T0, holder="p",
                     ack_url=lambda episode, recipient: f"http://q/{episode}/{recipient}")
    (digest,) = channels["robot"].sent
    assert digest.title.startswith("清流预警 4 条")
    for episode_id in range(1, 5):
        assert digest.text.count(f"http://q/{episode_id}/county") == 1
    assert digest.mobiles == ("13800000001",)
    assert len(channels["mail"].sent) == 4  # e-mail is not a group: one message per row
    assert len(report.sent) == total and statuses(db) == ["sent"] * total
    with db.connect() as connection:
        robot = connection.execute(select(ATTEMPTS.c.at).where(
            ATTEMPTS.c.channel_id == "robot")).scalars().all()  # fmt: skip
    assert len(robot) == 4 and len(set(robot)) == 1  # four rows, one send
    assert deliver(engine=db, channels=channels, now=T0 + S3, holder="p").sent == []


def test_a_digest_holds_at_most_digest_max_and_paces_as_one_send(db: Engine) -> None:
    fill(db, factors=6)
    channels = fake_channels()
    policy = DeliveryPolicy(digest_max=4, per_minute=2)
    for step in range(3):
        deliver(engine=db, channels=channels, now=T0 + step * S3, holder="p", policy=policy)
    assert [m.title[:8] for m in channels["robot"].sent] == ["清流预警 4 条", "清流预警 2 条"]
