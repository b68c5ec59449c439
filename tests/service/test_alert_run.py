"""The alert pass over the database: values stored, conditions found, one episode, one message
per recipient channel, nothing new on a second pass; a silent station goes to operators; the
heartbeat another job runs tells operators (through a fake WeCom robot) when passes stop. (The
demo year's volume is a benchmark: ``benchmarks/alert_volume.py``.)"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select

from sections.registry import Registry
from sections.river_chiefs import RiverChiefs, parse_river_chiefs
from service.alerts.channels.base import Delivery, Message
from service.alerts.run import (
    EVALUATION_FACTOR,
    evaluate_alerts,
    gather_inputs,
    run_alerts,
    run_heartbeat,
)
from service.db.models import AlertEpisode, AlertOutbox, JobRun, table_of
from service.db.queries import last_runs
from service.settings import Settings
from service.time import BEIJING
from tests.conftest import live_server_for, store_rows
from tests.service.alert_servers import FakeWeCom

EPISODES = table_of(AlertEpisode)
OUTBOX = table_of(AlertOutbox)
JOB_RUN = table_of(JobRun)
SECTION = "xiaofanqiao"  # a river at Class Ⅲ: NH3-N ≤ 1.0 mg/L
STEP = dt.timedelta(hours=4)
START = dt.datetime(2025, 7, 1, tzinfo=BEIJING)

CHIEFS_TOML = f"""
[[reaches]]
id = "r"
river = "某河"
county = "u"
sections = ["{SECTION}"]
confirmed = false

[[chiefs]]
id = "county"
post = "某河县级河长"
level = "县"
reaches = ["r"]
channels = ["robot", "mail"]
escalate_to = "city"
email = "county@example.cn"
confirmed = false

[[chiefs]]
id = "city"
post = "某河市级河长"
level = "市"
reaches = ["r"]
channels = ["robot"]
confirmed = false

[[channels]]
id = "robot"
kind = "wecom"
url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=${{KEY}}"
confirmed = false

[[channels]]
id = "mail"
kind = "email"
confirmed = false

[[operators]]
id = "ops"
post = "运维单位"
sections = ["{SECTION}"]
channels = ["mail"]
email = "ops@example.cn"
confirmed = false
"""


@dataclass
class Recorder:
    """A channel that records every message and answers ``sent``."""

    id: str
    kind: str = "wecom"
    sent: list[Message] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, message: Message) -> Delivery:
        with self.lock:
            self.sent.append(message)
        return Delivery("sent", "0", "ok")


def chiefs() -> RiverChiefs:
    return parse_river_chiefs(CHIEFS_TOML)


def channels() -> dict[str, Recorder]:
    return {"robot": Recorder("robot"), "mail": Recorder("mail", kind="email")}


def rows(values: list[float], *, key: str = "nh3n", first: dt.datetime = START) -> list[Any]:
    return [
        {"station": f"MN-{SECTION}", "section_id": SECTION, "parameter": key,
         "observed_at": first + i * STEP, "value": v, "unit": "mg/L", "station_flag": "N",
         "qc_flag": None, "source": "hj212"}
        for i, v in enumerate(values)
    ]  # fmt: skip


def episodes(engine: Engine) -> list[tuple[str, str, str, int]]:
    with engine.connect() as connection:
        found = connection.execute(
            select(EPISODES.c.section_id, EPISODES.c.factor, EPISODES.c.audience,
                   EPISODES.c.level).order_by(EPISODES.c.id)
        ).all()  # fmt: skip
    return [tuple(r) for r in found]


RISING = [0.5] * 12 + [0.7, 0.8, 0.9, 1.2, 1.4]  # 7/01 00:00 … 7/03 16:00; over 1.0 at the end


def test_a_rising_series_opens_one_episode_and_sends_once_per_channel(
    db: Engine, registry: Registry
) -> None:
    store_rows(db, rows(RISING))
    now = START + dt.timedelta(days=2, hours=18)  # 7/03 18:00 Beijing: no quiet hours
    inputs = gather_inputs(engine=db, registry=registry, now=now)
    assert [tuple(c) for c in inputs.values.columns] == [(SECTION, "nh3n")]
    assert len(inputs.values) == 17
    assert inputs.daily["date"].tolist() == [dt.date(2025, 7, 1), dt.date(2025, 7, 2)]
    assert inputs.last_seen.index.tolist() == [SECTION]
    found = evaluate_alerts(engine=db, registry=registry, now=now)
    assert {c.rule_id for c in found} == {"value_exceeds", "consecutive_values"}
    assert all(c.observed_at >= now - dt.timedelta(hours=8) for c in found)

    sent = channels()
    summary = run_alerts(engine=db, registry=registry, chiefs=chiefs(), channels=sent, now=now,
                         holder="test")  # fmt: skip
    assert summary.conditions == len(found) and summary.keys == 1
    assert len(summary.changes.opened) == 1 and summary.changes.enqueued == 2
    assert episodes(db) == [(SECTION, "nh3n", "river_chiefs", 2)]
    assert [len(c.sent) for c in sent.values()] == [1, 1]  # the county chief's robot and mail
    assert last_runs(engine=db, names=["alerts"])["alerts"].detail["sent"] == 2

    again = run_alerts(engine=db, registry=registry, chiefs=chiefs(), channels=sent,
                       now=now + dt.timedelta(minutes=10), holder="test")  # fmt: skip
    assert again.changes.opened == () and again.changes.enqueued == 0
    assert len(again.changes.updated) == 1 and [len(c.sent) for c in sent.values()] == [1, 1]
    with db.connect() as connection:
        assert connection.execute(select(func.count()).select_from(OUTBOX)).scalar_one() == 2


def test_a_silent_station_raises_an_operator_episode(db: Engine, registry: Registry) -> None:
    store_rows(db, rows([0.5] * 12))  # two days below the limit, the last at 7/02 20:00
    now = START + dt.timedelta(days=3, hours=10)  # 38 h later
    sent = channels()
    summary = run_alerts(engine=db, registry=registry, chiefs=chiefs(), channels=sent, now=now,
                         holder="test")  # fmt: skip
    assert {c for c in episodes(db)} == {(SECTION, "", "operators", 3)}
    assert summary.changes.enqueued == 1 and len(sent["mail"].sent) == 1
    assert sent["robot"].sent == []  # no river chief hears of it
    assert "ops@example.cn" in (sent["mail"].sent[0].emails or ())


# --------------------------------------------------------------------------- the heartbeat

HEARTBEAT_KEY = "k-heartbeat"


def alerts_run(engine: Engine, *, finished: dt.datetime, status: str = "ok") -> None:
    """An ``alerts`` job run that finished at ``finished``."""
    with engine.begin() as connection:
        connection.execute(insert(JOB_RUN).values(
            job="alerts", started_at=finished - dt.timedelta(minutes=1), finished_at=finished,
            status=status, detail={},
        ))  # fmt: skip


@pytest.fixture
def robot() -> Iterator[tuple[FakeWeCom, str]]:
    """A fake WeCom robot served on loopback, and its base URL."""
    fake = FakeWeCom(key=HEARTBEAT_KEY)
    with live_server_for(fake.app()) as base_url:
        yield fake, base_url


HEARTBEAT_CHIEFS = f"""
[[reaches]]
id = "r"
river = "滏阳河"
county = "taocheng"
sections = ["{SECTION}"]
confirmed = false

[[chiefs]]
id = "county"
post = "滏阳河县级河长"
level = "县"
reaches = ["r"]
channels = ["robot"]
confirmed = false

[[channels]]
id = "robot"
kind = "wecom"
url = "{{base_url}}/cgi-bin/webhook/send?key=${{{{KEY}}}}"
confirmed = false

[[operators]]
id = "ops"
post = "运维单位"
sections = ["{SECTION}"]
channels = ["robot"]
confirmed = false
"""


def heartbeat_settings(settings: Settings, tmp_path: Path, base_url: str) -> Settings:
    """The test's settings with a river-chief file whose operators' channel is the fake robot."""
    path = tmp_path / "chiefs.toml"
    path.write_text(HEARTBEAT_CHIEFS.format(base_url=base_url), encoding="utf-8")
    return settings.model_copy(update={"chiefs": path})


NOON = dt.datetime(2026, 7, 1, 4, 0, tzinfo=dt.UTC)  # 12:00 Beijing: no quiet hours


def test_heartbeat_tells_operators_when_alert_passes_have_stopped(
    db: Engine, registry: Registry, settings: Settings, tmp_path: Path,
    robot: tuple[FakeWeCom, str],
) -> None:  # fmt: skip
    fake, base_url = robot
    configured = heartbeat_settings(settings, tmp_path, base_url)
    alerts_run(db, finished=NOON - dt.timedelta(hours=3))
    alerts_run(db, finished=NOON - dt.timedelta(minutes=5), status="failed")  # failing since
    summary = run_heartbeat(engine=db, registry=registry, settings=configured, now=NOON,
                            holder="test", environ={"KEY": HEARTBEAT_KEY})  # fmt: skip
    assert summary.conditions == 1 and len(summary.changes.opened) == 1
    assert episodes(db) == [(SECTION, EVALUATION_FACTOR, "operators", 3)]
    assert summary.delivery is not None and len(summary.delivery.sent) == 1
    (message,) = fake.messages
    assert "告警评价" in message["markdown"]["content"] and "180 分钟" in str(message)
    assert "告警评价停顿" in summary.describe()

    # an hour later, still silent: a repeat, no second message; no station silence raised
    later = run_heartbeat(engine=db, registry=registry, settings=configured,
                          now=NOON + dt.timedelta(hours=1), holder="test",
                          environ={"KEY": HEARTBEAT_KEY})  # fmt: skip
    assert later.changes.updated and later.changes.enqueued == 0 and len(fake.messages) == 1
    assert len(episodes(db)) == 1


def test_heartbeat_does_nothing_while_alert_passes_finish(
    db: Engine, registry: Registry, settings: Settings, tmp_path: Path,
    robot: tuple[FakeWeCom, str],
) -> None:  # fmt: skip
    fake, base_url = robot
    configured = heartbeat_settings(settings, tmp_path, base_url)
    alerts_run(db, finished=NOON - dt.timedelta(hours=3))
    alerts_run(db, finished=NOON - dt.timedelta(minutes=12))
    summary = run_heartbeat(engine=db, registry=registry, settings=configured, now=NOON,
                            holder="test", environ={"KEY": HEARTBEAT_KEY})  # fmt: skip
    assert summary.silent_since is None and summary.delivery is None
    assert episodes(db) == [] and fake.messages == []
    assert "告警评价正常" in summary.describe()
