"""The alerting job's minute tick: a full pass when new data arrived (any ingest batch) or ten
minutes passed, otherwise only due escalations and the outbox — never closing without a full
pass having looked."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine, func, insert, select

from sections.alert_rules import AlertLevel, Condition
from sections.registry import Registry
from sections.river_chiefs import load_river_chiefs
from service.alerts.cadence import FULL_PASS_EVERY, alert_tick, input_mark
from service.alerts.episodes import apply_conditions
from service.db.models import AlertEpisode, JobRun, table_of
from service.settings import Settings
from tests.conftest import store_rows

EPISODES = table_of(AlertEpisode)
JOB_RUN = table_of(JobRun)
SECTION = "xiaofanqiao"  # Class Ⅲ target: NH3-N ≤ 1.0 mg/L; 滏阳河武强县县级河长, then 市级


def exceeding(at: dt.datetime) -> list[dict[str, Any]]:
    return [
        {"station": "MN-xfq", "section_id": SECTION, "parameter": "nh3n", "observed_at": t,
         "value": 1.8, "unit": "mg/L", "station_flag": "N", "qc_flag": None, "source": "hj212"}
        for t in (at - dt.timedelta(hours=4), at)
    ]  # fmt: skip


def episodes(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(EPISODES)).scalar_one())


def test_a_tick_runs_the_full_pass_when_data_arrives_or_ten_minutes_pass(
    db: Engine, registry: Registry, settings: Settings
) -> None:
    base = dt.datetime.now(dt.UTC).replace(microsecond=0)

    def tick(minutes: float) -> Any:
        return alert_tick(engine=db, registry=registry, settings=settings, holder="t",
                          clock=lambda: base + dt.timedelta(minutes=minutes),
                          budget=dt.timedelta(0))  # fmt: skip

    first = tick(0)
    assert first.full and "首次" in first.reason
    assert not tick(1).full  # nothing new: escalations and the outbox only
    store_rows(db, exceeding(base))  # an ingest batch (any process)
    arrived = tick(2)
    assert arrived.full and "observation" in arrived.reason
    assert episodes(db) == 1
    assert not tick(3).full
    assert tick(2 + FULL_PASS_EVERY.total_seconds() / 60 + 1).full  # the periodic pass


def test_a_tick_without_a_full_pass_escalates_on_time_but_never_closes(
    db: Engine, registry: Registry, settings: Settings
) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    long_ago = now - dt.timedelta(hours=80)  # past escalation (4 h) and closing (72 h)
    chiefs = load_river_chiefs(registry=registry)
    apply_conditions(
        engine=db, chiefs=chiefs, registry=registry, now=long_ago,
        conditions=[Condition(SECTION, "nh3n", AlertLevel.YELLOW, "daily_mean_exceeds",
                              "river_chiefs", long_ago, 1.6, 1.0, "日均值超标")],
    )  # fmt: skip
    with db.begin() as connection:  # a full pass has just looked (and seen nothing new since)
        connection.execute(insert(JOB_RUN).values(
            job="alerts", status="ok", started_at=now, finished_at=now,
            detail={"mark": input_mark(db)},
        ))  # fmt: skip
    summary = alert_tick(engine=db, registry=registry, settings=settings, holder="t",
                         clock=lambda: now, budget=dt.timedelta(0))  # fmt: skip
    assert not summary.full and "1 escalated" in summary.text
    with db.connect() as connection:
        row = connection.execute(select(EPISODES)).one()
    assert (row.state, row.escalation_step, row.closed_at) == ("open", 1, None)
