"""The in-service scheduler: the daily job every morning at a configured Beijing time.

At ``QINGLIU_DAILY_AT`` (default 06:00, Asia/Shanghai) the service runs QA/QC and the daily
classification of the previous day, and on the first of a month the monthly roll-up of the
month before. Compensation statements are not issued automatically: issuing is the bureau's act.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
from collections.abc import Callable

from sqlalchemy import Engine

from sections.registry import Registry
from service.time import BEIJING

__all__ = ["next_run", "parse_daily_at", "run_morning_jobs", "scheduler_loop"]

log = logging.getLogger("qingliu.scheduler")


def parse_daily_at(text: str) -> dt.time:
    """``HH:MM`` → a time; ``ValueError`` with the expected form otherwise."""
    try:
        hour, minute = (int(part) for part in text.strip().split(":"))
        return dt.time(hour, minute)
    except ValueError:
        raise ValueError(f"时间必须是 HH:MM / time must be HH:MM, got {text!r}") from None


def next_run(now: dt.datetime, at: dt.time) -> dt.datetime:
    """The next moment at ``at`` Beijing time strictly after ``now`` (zone-aware)."""
    local = now.astimezone(BEIJING)
    candidate = dt.datetime.combine(local.date(), at, BEIJING)
    if candidate <= local:
        candidate += dt.timedelta(days=1)
    return candidate


def run_morning_jobs(*, engine: Engine, registry: Registry, today: dt.date) -> list[str]:
    """QA/QC and daily classes of yesterday; on the 1st, the previous month's roll-up."""
    from service.jobs.daily import run_daily
    from service.jobs.monthly import run_monthly
    from service.jobs.observations import day_bounds
    from service.jobs.quality import run_quality

    done: list[str] = []
    yesterday = today - dt.timedelta(days=1)
    low, high = day_bounds(yesterday, yesterday)
    run_quality(engine=engine, registry=registry, start=low, end=high)
    run_daily(engine=engine, registry=registry, first=yesterday)
    done.append(f"daily {yesterday.isoformat()}")
    if today.day == 1:
        run_monthly(engine=engine, registry=registry, month=yesterday.replace(day=1))
        done.append(f"monthly {yesterday:%Y-%m}")
    return done


async def scheduler_loop(
    *,
    engine: Engine,
    registry: Registry,
    at: dt.time,
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> None:
    """Sleep until each morning's run, run the jobs in a thread, never die on a failed run."""
    loop = asyncio.get_running_loop()
    while True:
        now = clock()
        wait = (next_run(now, at) - now).total_seconds()
        log.info("下次作业 / next run at %s", next_run(now, at).isoformat())
        await asyncio.sleep(max(wait, 0))
        today = clock().astimezone(BEIJING).date()
        try:
            job = functools.partial(run_morning_jobs, engine=engine, registry=registry, today=today)
            done = await loop.run_in_executor(None, job)
            log.info("作业完成 / jobs done: %s", ", ".join(done))
        except Exception:  # a failed run is logged; the next morning runs again
            log.exception("每日作业失败 / the morning jobs failed")
