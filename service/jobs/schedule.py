"""The one scheduler: every periodic job of the service, in one declarative table.

:data:`JOBS` lists the jobs; each has a name (the id in ``job_lease`` and ``job_run``), a title,
a schedule made from the settings (``None``: not configured) and a function that does the work.
:class:`JobScheduler` runs the table on APScheduler 3 in Asia/Shanghai time; a missed run (the
process was busy or asleep) still runs within its grace time, and several missed runs coalesce
into one.

Two service processes may run the same table on the same database: before a job runs, its
process takes the job's **lease** (:func:`service.db.queries.acquire_lease`, one atomic
statement) and keeps it for the job's hold time; the other process finds the lease held and
skips that run, so no job runs twice. Each run that did take the lease is logged in
``job_run`` (``ok`` or ``failed``).

=========  ===========================================  ==============================
job        what                                          when
=========  ===========================================  ==============================
morning    QA/QC and daily classes of yesterday; on the  every day at ``QINGLIU_DAILY_AT``
           1st the previous month's roll-up
hourly     exceedance forecasts of every section and     every hour at minute
           parameter, and the verification of past ones  :data:`FORECAST_MINUTE`
cnemc      pull the national publish API                 every ``QINGLIU_CNEMC_EVERY``
alerting   evaluate the alert rules, fold into episodes  every :data:`ALERTS_EVERY`
           (escalate, close) and send the outbox         (one minute)
=========  ===========================================  ==============================

Two storage jobs: ``partitions`` (every day and at start) gives ``observation`` its monthly
partitions ahead on PostgreSQL (:func:`service.db.partitions.ensure_partitions`; nothing on
SQLite); ``raw-archive`` (every day at :data:`RAW_ARCHIVE_AT`, unless
``QINGLIU_RAW_RETENTION_DAYS`` is 0) moves raw payloads older than the retention period to
checksummed archive files (:func:`service.db.retention.archive_expired`).

The hourly slot runs :func:`service.jobs.forecast.run_forecasts` (logged in ``job_run`` as
``forecast``, inside the slot's own ``hourly`` row, as the morning slot logs ``daily``): each
run issues from the newest 4-hourly bin with data (a bin of hourly pH and DO values fills over
four runs and is issued again each time) and verifies the forecasts whose targets have passed.

The alerting slot runs :func:`service.alerts.cadence.alert_tick`: the full pass
:func:`service.alerts.run.run_alerts` (logged as ``alerts`` inside the slot's ``alerting`` row)
when new observations (any ingest batch, from any process), a new forecast issue or a finished
morning job arrived since the last one, or 10 minutes have passed; otherwise only due
escalations and the outbox. It works with the river-chief registry (``QINGLIU_CHIEFS`` or the
bundled file) and the channels :func:`service.alerts.factory.build_channels` can build;
channels that cannot be built are named in the run's detail and their messages wait in the
outbox.

A pass cannot notice that passes stop, so the hourly and morning slots end with the alert
**heartbeat** (:func:`service.alerts.run.run_heartbeat`): when no ``alerts`` pass has finished
for 30 minutes, the operators get an ``evaluation_silent`` message (and the outbox is sent),
within about an hour of the alerting slot getting stuck or failing. The heartbeat runs also
when the slot's own work failed; its result is one more clause of the slot's description, and
its failure is logged and said there, never the slot's failure.

Compensation statements are not issued automatically: issuing is the bureau's act. To add a job,
append a :class:`Job` to :data:`JOBS`.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import (
    BackgroundScheduler,
)
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine

from sections.registry import Registry
from service.db import queries
from service.settings import Settings
from service.time import BEIJING

__all__ = [
    "ALERTS_EVERY",
    "FORECAST_MINUTE",
    "JOBS",
    "TIMEZONE",
    "Job",
    "JobContext",
    "JobScheduler",
    "Schedule",
    "daily",
    "every",
    "holder_id",
    "hourly",
    "run_cnemc_every",
    "run_job",
    "run_morning_jobs",
]

log = logging.getLogger("qingliu.scheduler")

TIMEZONE = BEIJING
"""Every schedule is read in Beijing time (Asia/Shanghai, UTC+8, no DST)."""
DAILY_GRACE = dt.timedelta(hours=1)
"""A daily run missed by up to this much still runs (the process was busy, asleep, restarting)."""
DAILY_HOLD = dt.timedelta(hours=2)
"""How long a daily run holds its lease: longer than the grace, so a late process still skips."""
INTERVAL_HOLD_SHARE = 0.9
"""An interval job holds its lease for this share of the interval: one run per interval."""
HOURLY_GRACE = dt.timedelta(minutes=30)
"""An hourly run missed by up to this much still runs."""
HOURLY_HOLD = dt.timedelta(minutes=50)
"""How long an hourly run holds its lease: longer than the grace, shorter than the hour."""
FORECAST_MINUTE = 10
"""The hourly forecasts run at this minute past every hour (Beijing time): the stations' values
of the hour have come in by then."""
ALERTS_EVERY = dt.timedelta(minutes=1)
"""The alerting slot runs this often: a value arriving is alerted on within about a minute
(:func:`service.alerts.cadence.alert_tick` decides whether a full pass is due)."""
MAX_WORKERS = 4
"""Threads running jobs at the same time (each job runs at most once at a time)."""


# --------------------------------------------------------------------------- the job table


@dataclass(frozen=True)
class JobContext:
    """What a job works on: the database, the registry and the settings."""

    engine: Engine
    registry: Registry
    settings: Settings


@dataclass(frozen=True)
class Schedule:
    """When a job runs: an APScheduler trigger and how lateness and leases are handled.

    Attributes
    ----------
    trigger : apscheduler trigger
        Cron or interval, in :data:`TIMEZONE`.
    kind : str
        ``cron`` or ``interval`` (or ``date`` for a one-off).
    text : str
        The schedule in words, Chinese first.
    grace : datetime.timedelta
        A run missed by up to this much still runs (``misfire_grace_time``).
    hold : datetime.timedelta
        How long a run holds the job's lease (shorter than the time between runs).
    run_at_start : bool
        Run once as soon as the scheduler starts, then on the trigger.
    """

    trigger: Any  # apscheduler.triggers.base.BaseTrigger (untyped library)
    kind: str
    text: str
    grace: dt.timedelta
    hold: dt.timedelta
    run_at_start: bool = False


@dataclass(frozen=True)
class Job:
    """A periodic job: its name (≤ 32 characters), title, schedule and work.

    ``schedule(settings)`` gives ``None`` when the job is not configured; ``run(context)`` does
    the work and returns a short description for the log (an exception marks the run failed).
    """

    name: str
    title: str
    schedule: Callable[[Settings], Schedule | None]
    run: Callable[[JobContext], str]
    needs: str = ""
    """The setting that switches the job on, when it is off by default (shown by ``/api/jobs``)."""


def daily(at: dt.time) -> Schedule:
    """Every day at ``at`` Beijing time."""
    return Schedule(
        trigger=CronTrigger(hour=at.hour, minute=at.minute, timezone=TIMEZONE),
        kind="cron",
        text=f"每日 {at:%H:%M}（北京时间）/ daily at {at:%H:%M} Asia/Shanghai",
        grace=DAILY_GRACE,
        hold=DAILY_HOLD,
    )


def hourly(minute: int) -> Schedule:
    """Every hour at ``minute`` past (Beijing time)."""
    if not 0 <= minute <= 59:
        raise ValueError(f"minute must be within 0–59, got {minute}")
    return Schedule(
        trigger=CronTrigger(minute=minute, timezone=TIMEZONE),
        kind="cron",
        text=f"每小时第 {minute:02d} 分（北京时间）/ hourly at :{minute:02d} Asia/Shanghai",
        grace=HOURLY_GRACE,
        hold=HOURLY_HOLD,
    )


def every(interval: dt.timedelta, *, run_at_start: bool = True) -> Schedule:
    """Every ``interval``, the first run at once (``run_at_start``)."""
    return Schedule(
        trigger=IntervalTrigger(seconds=interval.total_seconds(), timezone=TIMEZONE),
        kind="interval",
        text=f"每 {_duration(interval)} / every {interval}",
        grace=interval / 2,
        hold=interval * INTERVAL_HOLD_SHARE,
        run_at_start=run_at_start,
    )


def _duration(interval: dt.timedelta) -> str:
    seconds = int(interval.total_seconds())
    for size, unit in ((86400, "天"), (3600, "小时"), (60, "分钟")):
        if seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{interval.total_seconds():g} 秒"


def run_morning_jobs(
    *, engine: Engine, registry: Registry, today: dt.date, settings: Settings | None = None
) -> list[str]:
    """QA/QC and daily classes of yesterday, then the roll-up of yesterday's month: the month
    to date (provisional: the overview marks a summary computed before its month ended), and
    on the 1st the finished month before. With ``settings`` the jobs fan out as they say
    (``QINGLIU_DASK_SCHEDULER``: on that cluster)."""
    from service.jobs.daily import run_daily
    from service.jobs.monthly import run_monthly
    from service.jobs.observations import day_bounds
    from service.jobs.quality import run_quality

    done: list[str] = []
    yesterday = today - dt.timedelta(days=1)
    low, high = day_bounds(yesterday, yesterday)
    run_quality(engine=engine, registry=registry, start=low, end=high, settings=settings)
    run_daily(engine=engine, registry=registry, first=yesterday, settings=settings)
    done.append(f"daily {yesterday.isoformat()}")
    run_monthly(engine=engine, registry=registry, month=yesterday.replace(day=1),
                settings=settings)  # fmt: skip
    done.append(f"monthly {yesterday:%Y-%m}")
    return done


def _morning(context: JobContext) -> str:
    def work() -> str:
        today = dt.datetime.now(TIMEZONE).date()
        done = run_morning_jobs(engine=context.engine, registry=context.registry, today=today,
                                settings=context.settings)  # fmt: skip
        return ", ".join(done)

    return _then_heartbeat(context, work)


def _forecast(context: JobContext) -> str:
    from service.jobs.forecast import run_forecasts

    def work() -> str:
        summary = run_forecasts(
            engine=context.engine, registry=context.registry, settings=context.settings,
            now=dt.datetime.now(dt.UTC),
        )  # fmt: skip
        return summary.describe()

    return _then_heartbeat(context, work)


def _then_heartbeat(context: JobContext, work: Callable[[], str]) -> str:
    """``work()``, then the alert heartbeat (also when the work raised, which is raised on).

    The description is the work's and the heartbeat's; a heartbeat failure is logged and said.
    """
    try:
        done = work()
    finally:
        beat = _heartbeat(context)
    return f"{done}; {beat}"


def _heartbeat(context: JobContext) -> str:
    from service.alerts.run import run_heartbeat

    try:
        summary = run_heartbeat(
            engine=context.engine, registry=context.registry, settings=context.settings,
            now=dt.datetime.now(dt.UTC), holder=holder_id(),
        )  # fmt: skip
    except Exception as exc:
        log.exception("告警心跳失败 / the alert heartbeat failed")
        return f"告警心跳失败 / alert heartbeat failed: {exc!r}"
    return summary.describe()


def _pull_cnemc(context: JobContext) -> str:
    from service.feeds.cnemc import pull_once

    settings = context.settings
    options: dict[str, Any] = {
        "area": settings.cnemc_area, "max_pages": settings.cnemc_max_pages,
        "max_answer_bytes": settings.cnemc_max_answer_bytes,
    }  # fmt: skip
    if settings.cnemc_url:
        options["url"] = settings.cnemc_url
    summary = pull_once(engine=context.engine, registry=context.registry, **options)
    return str(summary.describe())


def _alerts(context: JobContext) -> str:
    from service.alerts.cadence import alert_tick

    summary = alert_tick(engine=context.engine, registry=context.registry,
                         settings=context.settings, holder=holder_id())  # fmt: skip
    return summary.describe()


MORNING = Job(
    name="morning",
    title="每日评价与月度汇总 / daily classes and monthly roll-up",
    schedule=lambda settings: daily(settings.daily_at),
    run=_morning,
)
HOURLY = Job(
    name="hourly",
    title="超标预报与核验 / exceedance forecasts and their verification",
    schedule=lambda _settings: hourly(FORECAST_MINUTE),
    run=_forecast,
)
CNEMC = Job(
    name="cnemc",
    title="拉取国家平台实时数据 / pull the national publish API",
    schedule=lambda settings: None if settings.cnemc_every is None else every(settings.cnemc_every),
    run=_pull_cnemc,
    needs="QINGLIU_CNEMC_EVERY",
)

ALERTING = Job(
    name="alerting",
    title="告警评价与发送 / alert evaluation, episodes and delivery",
    schedule=lambda _settings: every(ALERTS_EVERY),
    run=_alerts,
)

RAW_ARCHIVE_AT = dt.time(3, 30)
"""The raw-message archive runs at this Beijing time, away from the morning job."""


def _partitions(context: JobContext) -> str:
    from service.db.partitions import ensure_partitions

    today = dt.datetime.now(TIMEZONE).date()
    return ensure_partitions(engine=context.engine, today=today).describe()


def _raw_archive(context: JobContext) -> str:
    from service.db.retention import archive_expired

    return archive_expired(engine=context.engine, settings=context.settings).describe()


PARTITIONS = Job(
    name="partitions",
    title="观测表月分区 / monthly partitions of observations (PostgreSQL)",
    schedule=lambda _settings: every(dt.timedelta(days=1)),
    run=_partitions,
)
RAW_ARCHIVE = Job(
    name="raw-archive",
    title="原始报文归档 / archive old raw messages to files",
    schedule=lambda settings: daily(RAW_ARCHIVE_AT) if settings.raw_retention_days else None,
    run=_raw_archive,
    needs="QINGLIU_RAW_RETENTION_DAYS",
)

JOBS: tuple[Job, ...] = (MORNING, HOURLY, CNEMC, ALERTING, PARTITIONS, RAW_ARCHIVE)
"""Every periodic job of the service."""


# --------------------------------------------------------------------------- the lease


def holder_id() -> str:
    """Who holds a lease: host, process id and a random part (two schedulers in one process)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


def run_job(job: Job, *, context: JobContext, holder: str, hold: dt.timedelta) -> bool:
    """Run ``job`` once if its lease can be taken; ``True`` when it ran (even if it failed).

    The run is recorded in ``job_run``; a failure is logged and recorded, never raised (the next
    run comes on schedule).
    """
    engine = context.engine
    try:
        if not queries.acquire_lease(engine=engine, job=job.name, holder=holder, hold=hold):
            log.info(
                "作业 %s 由其他进程运行，本次跳过 / %s held elsewhere, skipped", job.name, job.name
            )
            return False
        run_id = queries.start_job_run(engine=engine, job=job.name)
    except Exception:
        log.exception("作业 %s 无法开始 / job %s could not start", job.name, job.name)
        return False
    try:
        detail = job.run(context)
    except Exception as exc:
        log.exception("作业 %s 失败 / job %s failed", job.name, job.name)
        _finish(engine, run_id, "failed", {"error": repr(exc)})
    else:
        log.info("作业 %s 完成 / job %s done: %s", job.name, job.name, detail)
        _finish(engine, run_id, "ok", detail)
    return True


def _finish(engine: Engine, run_id: int, status: str, detail: queries.JobDetail) -> None:
    try:
        queries.finish_job_run(engine=engine, run_id=run_id, status=status, detail=detail)
    except Exception:
        log.exception("作业记录无法写入 / the job run %s could not be recorded", run_id)


# --------------------------------------------------------------------------- the scheduler


class JobScheduler:
    """The job table on an APScheduler ``BackgroundScheduler`` (one thread plus workers).

    Parameters
    ----------
    settings : Settings
        Schedules are made from it (``QINGLIU_DAILY_AT``, ``QINGLIU_CNEMC_EVERY`` …).
    engine, registry
        What the jobs work on.
    jobs : sequence of Job
        The job table (default :data:`JOBS`).
    """

    def __init__(
        self,
        *,
        settings: Settings,
        engine: Engine,
        registry: Registry,
        jobs: Sequence[Job] = JOBS,
    ) -> None:
        self.context = JobContext(engine=engine, registry=registry, settings=settings)
        self.holder = holder_id()
        self.jobs = tuple(jobs)
        self.schedules = {job.name: job.schedule(settings) for job in self.jobs}
        self._scheduler = BackgroundScheduler(
            timezone=TIMEZONE,
            executors={"default": ThreadPoolExecutor(MAX_WORKERS)},
            job_defaults={"coalesce": True, "max_instances": 1},
        )
        self._lock = threading.Lock()

    @property
    def backend(self) -> Any:
        """The APScheduler scheduler underneath (to read its jobs; add jobs to the table)."""
        return self._scheduler

    @property
    def running(self) -> bool:
        """Whether the scheduler has been started and not shut down."""
        return bool(self._scheduler.running)

    def start(self) -> None:
        """Add the configured jobs and start the scheduler thread."""
        with self._lock:
            for job in self.jobs:
                schedule = self.schedules[job.name]
                if schedule is None:
                    continue
                options: dict[str, Any] = {}
                if schedule.run_at_start:
                    options["next_run_time"] = dt.datetime.now(TIMEZONE)
                self._scheduler.add_job(
                    functools.partial(
                        run_job, job, context=self.context, holder=self.holder, hold=schedule.hold
                    ),
                    trigger=schedule.trigger,
                    id=job.name,
                    name=job.title,
                    misfire_grace_time=int(schedule.grace.total_seconds()) or 1,
                    coalesce=True,
                    max_instances=1,
                    replace_existing=True,
                    **options,
                )
            self._scheduler.start()
            log.info("定时作业已启动 / scheduler started (%s)", self.holder)

    def shutdown(self) -> None:
        """Stop the scheduler; waits for running jobs and joins every thread it started."""
        with self._lock:
            if self._scheduler.running:
                self._scheduler.shutdown(wait=True)
                log.info("定时作业已停止 / scheduler stopped")

    def next_run(self, name: str) -> dt.datetime | None:
        """The next run time of a job in Beijing time, or ``None`` (not scheduled here)."""
        if not self._scheduler.running:
            return None
        found = self._scheduler.get_job(name)
        if found is None or found.next_run_time is None:
            return None
        moment: dt.datetime = found.next_run_time
        return moment.astimezone(TIMEZONE)

    def add_listener(self, callback: Callable[[Any], None], mask: int) -> None:
        """Listen to APScheduler events (``apscheduler.events``), e.g. in tests."""
        self._scheduler.add_listener(callback, mask)


# --------------------------------------------------------------------------- the CLI's loop


def run_cnemc_every(
    interval: dt.timedelta,
    *,
    engine: Engine,
    registry: Registry,
    url: str,
    area: str,
    stop: threading.Event | None = None,
) -> None:
    """Pull the national publish API every ``interval`` until Ctrl-C (or ``stop`` is set).

    The first pull starts at once. Pulls run through the same job runner as the service's
    (lease ``cnemc``, a ``job_run`` row each), so a service polling the same database and this
    loop do not pull twice. A failed pull is logged and the next one comes on schedule.

    Raises
    ------
    ConfigurationError
        When ``interval`` is not positive or ``url`` is not an http(s) URL.
    """
    settings = Settings(cnemc_every=interval, cnemc_url=url, cnemc_area=area)
    scheduler = JobScheduler(settings=settings, engine=engine, registry=registry, jobs=(CNEMC,))
    stop = stop or threading.Event()
    scheduler.start()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        log.info("收到中断，停止拉取 / interrupted, stopping")
    finally:
        scheduler.shutdown()
