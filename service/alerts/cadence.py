"""When the service evaluates and sends: the ``alerting`` job's minute tick.

The scheduler runs :func:`alert_tick` every minute (``service.jobs.schedule.ALERTS_EVERY``).
A tick runs the **full
pass** (:func:`service.alerts.run.run_alerts`: every rule, episodes, escalation and closing,
the outbox) when something the rules read has changed since the last full pass finished — new
observations (every ingest batch: HJ 212 frames, national pulls, laboratory imports, from any
process), a new forecast issue, a finished morning job (QA/QC flags and daily classes) — or
when :data:`FULL_PASS_EVERY` has passed (escalations, closings and the present moving on).
Otherwise it only escalates what is due (:func:`~service.alerts.episodes.advance_episodes`
without closing: closing needs a full pass's conditions) and sends the outbox. What changed is
told by :func:`input_mark`, kept in the full pass's ``job_run`` detail.

Each tick sends with the clock running and waits for paced robots for up to
:data:`DELIVERY_BUDGET`, so a backlog drains at the robots' pace (one every 3 s, at most 20 a
minute), and a retry after a failure is tried within a minute of its time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select

from sections.registry import Registry
from service.alerts.episodes import advance_episodes
from service.alerts.factory import alert_setup
from service.alerts.outbox import DeliveryReport, deliver
from service.alerts.policy import DEFAULT_POLICY
from service.alerts.run import run_alerts
from service.db.models import ForecastIssue, JobRun, Observation, table_of
from service.settings import Settings

__all__ = [
    "DELIVERY_BUDGET",
    "FULL_PASS_EVERY",
    "TickSummary",
    "alert_tick",
    "input_mark",
]

FULL_PASS_EVERY = dt.timedelta(minutes=10)
"""A full pass at least this often, new data or not [A]."""
DELIVERY_BUDGET = dt.timedelta(seconds=40)
"""How long a tick may wait for paced robots (below the minute between ticks and the lease's
54 s, so ticks never overlap)."""

_ALERTS_JOB = "alerts"
_MORNING_JOB = "morning"
OBSERVATION = table_of(Observation)
FORECAST_ISSUE = table_of(ForecastIssue)
JOB_RUN = table_of(JobRun)


def input_mark(engine: Engine) -> dict[str, int]:
    """What the rules read, as numbers that grow when it changes: the newest observation and
    forecast issue ids, and the newest finished morning job run."""
    with engine.connect() as connection:
        observation = connection.execute(select(func.max(OBSERVATION.c.id))).scalar()
        issue = connection.execute(select(func.max(FORECAST_ISSUE.c.id))).scalar()
        morning = connection.execute(
            select(func.max(JOB_RUN.c.id)).where(
                JOB_RUN.c.job == _MORNING_JOB, JOB_RUN.c.status == "ok"
            )
        ).scalar()
    return {"observation": int(observation or 0), "forecast_issue": int(issue or 0),
            "morning": int(morning or 0)}  # fmt: skip


def _last_full_pass(engine: Engine) -> tuple[dt.datetime, dict[str, Any]] | None:
    with engine.connect() as connection:
        row = connection.execute(
            select(JOB_RUN.c.finished_at, JOB_RUN.c.detail)
            .where(JOB_RUN.c.job == _ALERTS_JOB, JOB_RUN.c.status == "ok")
            .order_by(JOB_RUN.c.id.desc()).limit(1)
        ).first()  # fmt: skip
    if row is None or row.finished_at is None:
        return None
    finished: dt.datetime = row.finished_at
    if finished.tzinfo is None:
        finished = finished.replace(tzinfo=dt.UTC)
    return finished, dict(row.detail or {})


@dataclass(frozen=True)
class TickSummary:
    """What one tick did: ``full`` pass (and why), or escalations and sends only."""

    full: bool
    reason: str
    text: str

    def describe(self) -> str:
        """One line for the job log."""
        return f"{'完整评价' if self.full else '仅发送'}（{self.reason}）: {self.text}"


def _why_full(engine: Engine, now: dt.datetime, mark: Mapping[str, int]) -> str | None:
    last = _last_full_pass(engine)
    if last is None:
        return "首次 / first"
    finished, detail = last
    if now - finished >= FULL_PASS_EVERY:
        return f"距上次 ≥ {FULL_PASS_EVERY.total_seconds() / 60:.0f} 分钟 / periodic"
    before = detail.get("mark") or {}
    changed = [k for k, v in mark.items() if int(before.get(k, -1)) != v]
    return f"新数据 / new: {', '.join(changed)}" if changed else None


def alert_tick(
    *,
    engine: Engine,
    registry: Registry,
    settings: Settings,
    holder: str,
    clock: Callable[[], dt.datetime] | None = None,
    budget: dt.timedelta = DELIVERY_BUDGET,
) -> TickSummary:
    """One minute's work of the ``alerting`` job (see the module docstring).

    ``clock`` (default: the system clock, UTC) gives the tick's time and the sends' times.
    """
    clock = clock or (lambda: dt.datetime.now(dt.UTC))
    now = clock()
    mark = input_mark(engine)
    reason = _why_full(engine, now, mark)
    setup = alert_setup(settings=settings, registry=registry)
    if reason is not None:
        summary = run_alerts(
            engine=engine, registry=registry, chiefs=setup.chiefs, channels=setup.channels,
            now=now, holder=holder, problems=setup.problems, ack_links=setup.links,
            clock=clock, budget=budget, mark=mark,
        )  # fmt: skip
        return TickSummary(True, reason, summary.describe())
    changes = advance_episodes(
        engine=engine, chiefs=setup.chiefs, registry=registry, now=now, policy=DEFAULT_POLICY,
        close=False,
    )  # fmt: skip
    report: DeliveryReport = deliver(
        engine=engine, channels=setup.channels, now=now, holder=holder,
        ack_url=None if setup.links is None else setup.links.url, clock=clock, budget=budget,
    )  # fmt: skip
    text = f"{len(changes.escalated)} escalated, {changes.enqueued} queued, {len(report.sent)} sent"
    return TickSummary(False, "无新数据 / nothing new", text)
