"""``/api/jobs``: every periodic job, its schedule, its next run here and its last run."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError

from service.api.deps import EngineDep, SettingsDep
from service.db.queries import LastRun, last_runs
from service.errors import DatabaseError
from service.jobs.schedule import (
    JOBS,
    TIMEZONE,
    Job,
    JobScheduler,
    Schedule,
)

router = APIRouter(prefix="/api", tags=["service"])


class JobRunOut(BaseModel):
    """A job's newest run, from the job log."""

    status: str = Field(description="running / ok / failed")
    started_at: str = Field(description="开始时间（北京时间 ISO 8601）/ started")
    finished_at: str | None = Field(description="结束时间，运行中为 null / finished")
    detail: dict[str, Any] = Field(
        description="结果或错误（文本记为 text）/ what was done, or the error"
    )


class JobOut(BaseModel):
    """One periodic job."""

    name: str = Field(description="作业名 / job id")
    title: str = Field(description="作业说明 / what the job does")
    configured: bool = Field(description="设置中已启用 / switched on by the settings")
    needs: str | None = Field(description="启用所需的设置 / the setting that switches it on")
    kind: str | None = Field(description="cron、interval")
    schedule: str | None = Field(description="计划说明 / the schedule in words")
    trigger: str | None = Field(description="APScheduler 触发器 / trigger, e.g. cron[hour='6']")
    misfire_grace_seconds: int | None = Field(
        description="错过计划时间后仍补跑的宽限秒数 / late runs within this still run"
    )
    coalesce: bool = Field(description="多次错过只补跑一次 / missed runs coalesce into one")
    scheduled: bool = Field(description="本进程已排程 / scheduled in this process")
    next_run: str | None = Field(description="下次运行（北京时间 ISO 8601）/ next run here")
    last_run: JobRunOut | None = Field(description="最近一次运行 / newest run (any process)")


class JobList(BaseModel):
    """The job table as this process sees it."""

    scheduled: bool = Field(description="本进程运行定时作业 / this process runs the jobs")
    timezone: str = Field(description="计划时区 / the schedules' time zone")
    note: str = Field(description="说明 / remark")
    data: list[JobOut] = Field(description="作业 / the jobs")
    count: int = Field(description="作业数 / number of jobs")


JOBS_EXAMPLE = {
    "scheduled": True, "timezone": "Asia/Shanghai",
    "note": "本进程运行定时作业 / jobs are scheduled in this process",
    "data": [{
        "name": "morning", "title": "每日评价与月度汇总 / daily classes and monthly roll-up",
        "configured": True, "needs": None, "kind": "cron",
        "schedule": "每日 06:00（北京时间）/ daily at 06:00 Asia/Shanghai",
        "trigger": "cron[hour='6', minute='0']", "misfire_grace_seconds": 3600,
        "coalesce": True, "scheduled": True, "next_run": "2026-12-02T06:00:00+08:00",
        "last_run": {"status": "ok", "started_at": "2026-12-01T06:00:00.102000+08:00",
                     "finished_at": "2026-12-01T06:00:03.871000+08:00",
                     "detail": {"text": "daily 2026-11-30"}},
    }],
    "count": 1,
}  # fmt: skip


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(TIMEZONE).isoformat()


def _run(last: LastRun | None) -> JobRunOut | None:
    if last is None:
        return None
    return JobRunOut(status=last.status, started_at=str(_iso(last.started_at)),
                     finished_at=_iso(last.finished_at), detail=last.detail)  # fmt: skip


def _job_out(
    job: Job, schedule: Schedule | None, *, here: bool, next_run: dt.datetime | None,
    last: LastRun | None,
) -> JobOut:  # fmt: skip
    if schedule is None:
        return JobOut(
            name=job.name, title=job.title, configured=False, needs=job.needs or None, kind=None,
            schedule=None, trigger=None, misfire_grace_seconds=None, coalesce=True,
            scheduled=False, next_run=None, last_run=_run(last),
        )  # fmt: skip
    return JobOut(
        name=job.name, title=job.title, configured=True, needs=job.needs or None,
        kind=schedule.kind, schedule=schedule.text, trigger=str(schedule.trigger),
        misfire_grace_seconds=int(schedule.grace.total_seconds()), coalesce=True,
        scheduled=here, next_run=_iso(next_run), last_run=_run(last),
    )  # fmt: skip


@router.get(
    "/jobs",
    response_model=JobList,
    summary="定时作业 / periodic jobs",
    responses={200: {"content": {"application/json": {"example": JOBS_EXAMPLE}}}},
)
def jobs(request: Request, engine: EngineDep, settings: SettingsDep) -> JobList:
    """Every periodic job: schedule, next run in this process, newest run in the job log.

    A process started with ``QINGLIU_SCHEDULER=off`` lists the jobs all the same, marked as not
    scheduled here (another process may run them).
    """
    running: JobScheduler | None = getattr(request.app.state, "scheduler", None)
    here = running is not None and running.running
    table = running.jobs if running is not None else JOBS
    try:
        runs = last_runs(engine=engine, names=[job.name for job in table])
    except SQLAlchemyError as exc:
        raise DatabaseError(f"作业记录无法读取 / cannot read the job log: {exc}") from exc
    data = []
    for job in table:
        schedule = running.schedules[job.name] if running is not None else job.schedule(settings)
        next_run = running.next_run(job.name) if here and running is not None else None
        data.append(_job_out(job, schedule, here=here, next_run=next_run, last=runs.get(job.name)))
    if here:
        note = "本进程运行定时作业 / jobs are scheduled in this process"
    else:
        note = ("本进程未运行定时作业（QINGLIU_SCHEDULER=off）；最近运行来自作业记录 / jobs are "
                "not scheduled in this process; the last runs come from the job log")  # fmt: skip
    return JobList(scheduled=here, timezone=str(TIMEZONE), note=note, data=data, count=len(data))
