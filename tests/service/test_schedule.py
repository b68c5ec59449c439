"""The one scheduler: the job table, Beijing times, misfire handling, the lease, ``/api/jobs``,
and the alert heartbeat at the end of the hourly and morning jobs."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from apscheduler.events import (  # type: ignore[import-untyped]
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
)
from apscheduler.triggers.date import DateTrigger  # type: ignore[import-untyped]
from sqlalchemy import Engine, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from sections.registry import Registry
from service.alerts.policy import DEFAULT_POLICY
from service.alerts.run import EVALUATION_FACTOR
from service.app import create_app
from service.db.engine import make_engine
from service.db.models import AlertEpisode, JobRun, Observation, table_of
from service.db.queries import acquire_lease, last_runs
from service.jobs.schedule import (
    ALERTING,
    ALERTS_EVERY,
    CNEMC,
    DAILY_GRACE,
    HOURLY,
    JOBS,
    MORNING,
    TIMEZONE,
    Job,
    JobContext,
    JobScheduler,
    Schedule,
    daily,
    every,
    holder_id,
    run_cnemc_every,
    run_job,
)
from service.settings import Settings
from service.time import BEIJING
from tests.conftest import bearer, live_server_for
from tests.service.alert_servers import FakeWeCom
from tests.service.test_alert_run import HEARTBEAT_CHIEFS, alerts_run

EPISODES = table_of(AlertEpisode)
DEADLINE = 30.0
"""Seconds a test waits for a condition before it fails."""


def wait_for(condition: Callable[[], bool], *, deadline: float = DEADLINE) -> None:
    """Poll ``condition`` until it holds; fail after ``deadline`` seconds."""
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"condition not met within {deadline} s")
        time.sleep(0.02)


def _runs(engine: Engine, job: str) -> list[Any]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(JobRun.status, JobRun.detail).where(JobRun.job == job)  # type: ignore[call-overload]
            ).all()
        )


@pytest.fixture
def no_thread_left() -> Iterator[None]:
    """Fail when a test leaves a thread running (scheduler or worker)."""
    before = set(threading.enumerate())
    yield
    wait_for(lambda: not (set(threading.enumerate()) - before), deadline=10)


# --------------------------------------------------------------------------- the job table


def test_job_table_names_fit_the_job_log() -> None:
    names = [job.name for job in JOBS]
    assert names == ["morning", "hourly", "cnemc", "alerting", "partitions", "raw-archive"]
    assert len(set(names)) == len(names) and all(len(name) <= 32 for name in names)
    assert all(" / " in job.title for job in JOBS)  # Chinese first, then English


def test_morning_job_runs_daily_at_the_configured_beijing_time() -> None:
    settings = Settings.from_env({"QINGLIU_DAILY_AT": "07:30"})
    schedule = MORNING.schedule(settings)
    assert schedule is not None and schedule.kind == "cron"
    assert str(schedule.trigger.timezone) == "Asia/Shanghai"
    assert schedule.text.startswith("每日 07:30（北京时间）")
    after = dt.datetime(2026, 11, 30, 23, 45, tzinfo=dt.UTC)  # 07:45 on 1 Dec in Beijing
    assert schedule.trigger.get_next_fire_time(None, after) == dt.datetime(
        2026, 12, 2, 7, 30, tzinfo=BEIJING
    )
    assert schedule.grace == DAILY_GRACE and schedule.hold > schedule.grace


def test_cnemc_job_runs_only_when_an_interval_is_set() -> None:
    assert CNEMC.schedule(Settings()) is None and CNEMC.needs == "QINGLIU_CNEMC_EVERY"
    schedule = CNEMC.schedule(Settings.from_env({"QINGLIU_CNEMC_EVERY": "30m"}))
    assert schedule is not None and schedule.kind == "interval"
    assert schedule.trigger.interval == dt.timedelta(minutes=30)
    assert schedule.grace == dt.timedelta(minutes=15) and schedule.hold == dt.timedelta(minutes=27)
    assert schedule.run_at_start and schedule.text.startswith("每 30 分钟")


def test_scheduler_uses_beijing_time_misfire_grace_and_coalescing(
    engine: Engine, registry: Registry, no_thread_left: None
) -> None:
    settings = Settings(cnemc_every=dt.timedelta(hours=1), daily_at=dt.time(6, 0))
    scheduler = JobScheduler(settings=settings, engine=engine, registry=registry)
    scheduler.start()
    try:
        assert str(scheduler.backend.timezone) == "Asia/Shanghai"
        morning = scheduler.backend.get_job("morning")
        assert (
            morning.misfire_grace_time == 3600 and morning.coalesce and morning.max_instances == 1
        )
        cnemc = scheduler.backend.get_job("cnemc")
        assert cnemc.misfire_grace_time == 1800 and cnemc.coalesce
        next_run = scheduler.next_run("morning")
        assert next_run is not None and next_run.utcoffset() == dt.timedelta(hours=8)
        assert (next_run.hour, next_run.minute) == (6, 0)
        assert next_run - dt.datetime.now(TIMEZONE) <= dt.timedelta(days=1)
    finally:
        scheduler.shutdown()
    assert not scheduler.running and scheduler.next_run("morning") is None


# --------------------------------------------------------------------------- the lease


def test_a_lease_is_taken_once_until_it_expires(db: Engine) -> None:
    now = dt.datetime(2026, 12, 1, 6, 0, tzinfo=dt.UTC)
    hold = dt.timedelta(hours=2)
    assert acquire_lease(engine=db, job="morning", holder="a", hold=hold, now=now)
    assert not acquire_lease(engine=db, job="morning", holder="b", hold=hold, now=now)
    later = now + dt.timedelta(hours=1, minutes=59)
    assert not acquire_lease(engine=db, job="morning", holder="a", hold=hold, now=later)
    assert acquire_lease(engine=db, job="cnemc", holder="b", hold=hold, now=now)  # another job
    expired = now + hold + dt.timedelta(seconds=1)
    assert acquire_lease(engine=db, job="morning", holder="b", hold=hold, now=expired)
    assert not acquire_lease(engine=db, job="morning", holder="a", hold=hold, now=expired)


def test_holder_ids_differ_within_one_process() -> None:
    first, second = holder_id(), holder_id()
    assert first != second and len(first) <= 64
    assert first.split(":")[1] == second.split(":")[1]  # same process id


def _at(moment: dt.datetime) -> Callable[[Settings], Schedule]:
    def schedule(_settings: Settings) -> Schedule:
        trigger = DateTrigger(run_date=moment, timezone=TIMEZONE)
        once, hold = dt.timedelta(minutes=1), dt.timedelta(hours=1)
        return Schedule(trigger=trigger, kind="date", text="once", grace=once, hold=hold)

    return schedule


def test_two_schedulers_on_one_database_run_a_job_once(
    db: Engine, settings: Settings, registry: Registry, no_thread_left: None
) -> None:
    """Two service processes (here: two schedulers with their own engines) fire the same job
    at the same instant; exactly one runs it."""
    calls: list[str] = []

    def work(_context: JobContext) -> str:
        calls.append("ran")
        return "ran"

    moment = dt.datetime.now(TIMEZONE) + dt.timedelta(seconds=1)
    job = Job(name="test-once", title="测试 / test", schedule=_at(moment), run=work)
    engines = [make_engine(settings), make_engine(settings)]
    schedulers = [JobScheduler(settings=settings, engine=e, registry=registry, jobs=(job,))
                  for e in engines]  # fmt: skip
    results: list[Any] = []
    lock = threading.Lock()

    def record(event: Any) -> None:
        with lock:
            results.append(getattr(event, "retval", event.code))

    for scheduler in schedulers:
        scheduler.add_listener(record, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)
    try:
        for scheduler in schedulers:
            scheduler.start()
        wait_for(lambda: len(results) == 2)
    finally:
        for scheduler in schedulers:
            scheduler.shutdown()
        for made in engines:
            made.dispose()
    assert sorted(results) == [False, True]  # one ran, the other found the lease held
    assert calls == ["ran"]
    runs = _runs(db, "test-once")
    assert len(runs) == 1 and runs[0].status == "ok"


def test_a_run_is_logged_and_a_failure_never_escapes(
    db: Engine, settings: Settings, registry: Registry
) -> None:
    def broken(_context: JobContext) -> str:
        raise RuntimeError("站点离线 / station offline")

    context = JobContext(engine=db, registry=registry, settings=settings)
    job = Job(name="test-broken", title="测试 / test", schedule=lambda _s: None, run=broken)
    hold = dt.timedelta(minutes=5)
    assert run_job(job, context=context, holder="a", hold=hold)
    assert not run_job(job, context=context, holder="b", hold=hold)  # lease held: skipped
    (run,) = _runs(db, "test-broken")
    assert run.status == "failed"
    last = last_runs(engine=db, names=["test-broken", "never"])
    assert set(last) == {"test-broken"}
    assert "station offline" in str(last["test-broken"].detail)
    assert last["test-broken"].finished_at is not None


def test_morning_job_through_the_runner(db: Engine, settings: Settings, registry: Registry) -> None:
    context = JobContext(engine=db, registry=registry, settings=settings)
    assert run_job(MORNING, context=context, holder=holder_id(), hold=dt.timedelta(hours=2))
    yesterday = dt.datetime.now(TIMEZONE).date() - dt.timedelta(days=1)
    last = last_runs(engine=db, names=["morning"])["morning"]
    assert last.status == "ok" and f"daily {yesterday.isoformat()}" in str(last.detail)


def test_hourly_job_ends_with_the_alert_heartbeat(
    db: Engine, settings: Settings, registry: Registry, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """The alerting job stopped two hours ago: the hourly job tells the operators."""
    robot = FakeWeCom(key="k-hourly")
    alerts_run(db, finished=dt.datetime.now(dt.UTC) - dt.timedelta(hours=2))
    with live_server_for(robot.app()) as base_url:
        chiefs = tmp_path / "chiefs.toml"
        chiefs.write_text(HEARTBEAT_CHIEFS.format(base_url=base_url), encoding="utf-8")
        monkeypatch.setenv("KEY", "k-hourly")
        context = JobContext(engine=db, registry=registry,
                             settings=settings.model_copy(update={"chiefs": chiefs}))  # fmt: skip
        assert run_job(HOURLY, context=context, holder="test", hold=dt.timedelta(minutes=50))
    last = last_runs(engine=db, names=["hourly"])["hourly"]
    assert last.status == "ok" and "告警评价停顿" in str(last.detail)
    with db.connect() as connection:
        opened = connection.execute(
            select(EPISODES.c.factor, EPISODES.c.audience, EPISODES.c.state)
        ).all()  # fmt: skip
    assert [tuple(r) for r in opened] == [(EVALUATION_FACTOR, "operators", "open")]
    quiet = DEFAULT_POLICY.quiet_until(dt.datetime.now(dt.UTC)) is not None  # held at night
    assert len(robot.messages) == (0 if quiet else 1)


def test_a_heartbeat_failure_is_said_not_the_jobs_failure(
    db: Engine, settings: Settings, registry: Registry, tmp_path: Path
) -> None:
    alerts_run(db, finished=dt.datetime.now(dt.UTC) - dt.timedelta(hours=2))
    broken = settings.model_copy(update={"chiefs": tmp_path / "missing.toml"})
    context = JobContext(engine=db, registry=registry, settings=broken)
    assert run_job(MORNING, context=context, holder="test", hold=dt.timedelta(hours=2))
    last = last_runs(engine=db, names=["morning"])["morning"]
    assert last.status == "ok" and "daily " in str(last.detail)
    assert "告警心跳失败" in str(last.detail)


def test_jobs_say_the_heartbeat_is_quiet_while_alert_passes_finish(
    db: Engine, settings: Settings, registry: Registry
) -> None:
    alerts_run(db, finished=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5))
    context = JobContext(engine=db, registry=registry, settings=settings)
    assert run_job(MORNING, context=context, holder="test", hold=dt.timedelta(hours=2))
    assert "告警评价正常" in str(last_runs(engine=db, names=["morning"])["morning"].detail)
    with db.connect() as connection:
        assert connection.execute(select(EPISODES.c.id)).all() == []


# --------------------------------------------------------------------------- /api/jobs


def test_alerting_job_runs_every_minute_from_the_start() -> None:
    schedule = ALERTING.schedule(Settings())
    assert schedule is not None and schedule.kind == "interval" and schedule.run_at_start
    assert schedule.trigger.interval == ALERTS_EVERY == dt.timedelta(minutes=1)
    assert schedule.hold == dt.timedelta(seconds=54) and schedule.grace == dt.timedelta(seconds=30)


def test_alerting_job_through_the_runner(
    db: Engine, settings: Settings, registry: Registry
) -> None:
    context = JobContext(engine=db, registry=registry, settings=settings)
    assert run_job(ALERTING, context=context, holder="test", hold=dt.timedelta(minutes=9))
    runs = last_runs(engine=db, names=["alerting", "alerts"])
    assert runs["alerting"].status == "ok" and runs["alerts"].status == "ok"
    assert runs["alerts"].detail["opened"] == 0  # an empty database: nothing to alert on


def test_api_lists_jobs_with_next_and_last_runs(
    db: Engine, settings: Settings, registry: Registry, no_thread_left: None
) -> None:
    context = JobContext(engine=db, registry=registry, settings=settings)
    run_job(Job(name="morning", title="", schedule=lambda _s: None, run=lambda _c: "done"),
            context=context, holder="earlier", hold=dt.timedelta(seconds=1))  # fmt: skip
    app = create_app(settings.with_(scheduler=True, daily_at=dt.time(6, 0)))
    try:
        with (
            live_server_for(app) as url,
            httpx.Client(base_url=url, timeout=10, headers=bearer(app.state.engine)) as http,
        ):
            answer = http.get("/api/jobs")
            assert answer.status_code == 200
            body = answer.json()
            assert body["scheduled"] is True and body["timezone"] == "Asia/Shanghai"
            assert body["count"] == 6 == len(body["data"])
            morning, hourly, cnemc, alerting, partitions, archive = body["data"]
            assert (partitions["name"], archive["name"]) == ("partitions", "raw-archive")
            assert alerting["name"] == "alerting" and alerting["scheduled"] is True
            assert alerting["kind"] == "interval" and alerting["configured"] is True
            assert hourly["name"] == "hourly" and hourly["scheduled"] is True
            assert hourly["trigger"] == "cron[minute='10']" and hourly["configured"] is True
            assert morning["name"] == "morning" and morning["scheduled"] is True
            assert morning["kind"] == "cron" and morning["trigger"] == "cron[hour='6', minute='0']"
            assert morning["misfire_grace_seconds"] == 3600 and morning["coalesce"] is True
            next_run = dt.datetime.fromisoformat(morning["next_run"])
            assert next_run.utcoffset() == dt.timedelta(hours=8) and next_run.hour == 6
            last = morning["last_run"]
            assert last["status"] == "ok" and last["detail"] == {"text": "done"}
            assert dt.datetime.fromisoformat(last["started_at"]).utcoffset() == dt.timedelta(
                hours=8
            )
            assert cnemc["configured"] is False and cnemc["scheduled"] is False
            assert cnemc["needs"] == "QINGLIU_CNEMC_EVERY" and cnemc["next_run"] is None
            assert cnemc["last_run"] is None
    finally:
        app.state.engine.dispose()
    assert app.state.scheduler is None  # stopped by the lifespan


def test_api_lists_jobs_when_the_scheduler_is_off(settings: Settings) -> None:
    app = create_app(settings.with_(cnemc_every=dt.timedelta(minutes=30)))
    assert settings.scheduler is False
    try:
        with (
            live_server_for(app) as url,
            httpx.Client(base_url=url, timeout=10, headers=bearer(app.state.engine)) as http,
        ):
            body = http.get("/api/jobs").json()
    finally:
        app.state.engine.dispose()
    assert body["scheduled"] is False and "QINGLIU_SCHEDULER=off" in body["note"]
    assert [job["name"] for job in body["data"]] == [
        "morning", "hourly", "cnemc", "alerting", "partitions", "raw-archive"
    ]  # fmt: skip
    assert all(job["scheduled"] is False and job["next_run"] is None for job in body["data"])
    assert body["data"][2]["configured"] is True
    assert body["data"][2]["schedule"].startswith("每 30 分钟")


# --------------------------------------------------------------------------- the CLI's loop

_ANSWER = (
    '{"result":1,"thead":["断面名称","监测时间","氨氮"],'
    '"tbody":[["小范桥","11-07 16:00","0.0462"]],"total":1,"records":1}'
)


class _FakePublishApi:
    """The national publish API, locally: one page with one row of 小范桥."""

    def __init__(self) -> None:
        self.data_requests = 0

    async def main_page(self, _request: Request) -> Response:
        return HTMLResponse("<html><title>发布系统</title></html>")

    async def publish(self, request: Request) -> Response:
        form = parse_qs((await request.body()).decode("utf-8"))
        if form.get("action", [""])[0] == "getArea_RiverDic":
            return Response('[{"AreaID":"131100","AreaName":"衡水市"}]', media_type="text/plain")
        self.data_requests += 1
        return Response(_ANSWER.encode("utf-8"), media_type="text/plain; charset=utf-8")

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/GJZ/Business/Publish/Main.html", self.main_page, methods=["GET"]),
            Route("/GJZ/Ajax/Publish.ashx", self.publish, methods=["POST"]),
        ])  # fmt: skip


def test_run_cnemc_every_pulls_at_once_and_stops_cleanly(
    db: Engine, registry: Registry, no_thread_left: None
) -> None:
    api = _FakePublishApi()
    stop = threading.Event()
    with live_server_for(api.app()) as base:
        loop = threading.Thread(
            target=run_cnemc_every,
            args=(dt.timedelta(hours=1),),
            kwargs={"engine": db, "registry": registry, "stop": stop,
                    "url": base + "/GJZ/Ajax/Publish.ashx", "area": "131100"},
        )  # fmt: skip
        loop.start()
        try:
            wait_for(lambda: any(run.status != "running" for run in _runs(db, "cnemc")))
        finally:
            stop.set()
            loop.join(timeout=DEADLINE)
    assert not loop.is_alive()
    (run,) = _runs(db, "cnemc")
    assert run.status == "ok", run.detail
    assert api.data_requests == 1  # the first pull at once, the next one an hour later
    with db.connect() as connection:
        stored = connection.execute(
            select(Observation.parameter).where(Observation.source == "cnemc")  # type: ignore[call-overload]
        ).all()
    assert [row.parameter for row in stored] == ["nh3n"]


def test_run_cnemc_every_refuses_a_bad_url(db: Engine, registry: Registry) -> None:
    from service.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="QINGLIU_CNEMC_URL"):
        run_cnemc_every(dt.timedelta(minutes=1), engine=db, registry=registry,
                        url="szzdjc.cnemc.cn", area="131100")  # fmt: skip


def test_every_is_in_beijing_time() -> None:
    schedule = every(dt.timedelta(seconds=90))
    assert str(schedule.trigger.timezone) == "Asia/Shanghai"
    assert schedule.text.startswith("每 90 秒")
    assert daily(dt.time(6, 5)).text.startswith("每日 06:05")
