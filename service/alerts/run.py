"""One alert pass: read what the rules need from the database, evaluate, fold into episodes, send.

:func:`run_alerts` is the pass the scheduler's ``alerting`` job runs every 10 minutes (and an
ingest batch may run): :func:`evaluate_alerts` (:func:`gather_inputs` then the pure
:func:`sections.alert_evaluation.evaluate`, only the *fresh* conditions kept) plus
:func:`heartbeat_conditions`, then :func:`service.alerts.episodes.apply_conditions` (which ends
with :func:`~service.alerts.episodes.advance_episodes`: escalations and closings) and
:func:`service.alerts.outbox.deliver`. Each pass is a ``job_run`` row named ``alerts``; the
heartbeat reads the newest finished one.

What is read (:func:`gather_inputs`)
------------------------------------
* **4-hourly values**: the automatic observations of the last :data:`VALUE_DAYS` days that count
  under the one validity rule (``counts`` of :func:`service.jobs.observations.load_observations`)
  on the 4-hourly Beijing grid (:func:`sections.forecast.to_grid`), one column per (section,
  parameter): the wide frame :func:`~sections.alert_evaluation.evaluate_values` wants.
* **Daily means**: the days of the last :data:`DAILY_DAYS` days before today, by the daily job's
  own rule (:func:`service.jobs.observations.valid_period_values`: at least the validity
  threshold of valid values a day); the item classes are computed by the evaluation. Today is
  left out: a partial day is not a daily mean [A].
* **Forecasts**: the newest stored issue per section and parameter
  (:func:`service.db.queries.latest_forecasts`), if issued within :data:`FORECAST_MAX_AGE` and
  only its targets still ahead.
* **Monthly classes**: the newest month with stored results (``monthly_result``, written by the
  morning's roll-up of the month to date, or of the month before on the 1st), this month or
  the last, against the same month a year earlier where stored. Lake rows (``lake:…``) are left out.
* **Compensation events** of the current month, the engine's own lines
  (:func:`compensation.engine.section_events` on
  :func:`service.statements.source.measurements_from_db`, as a draft statement computes them):
  one month of the four event factors, cheap enough every 10 minutes.
* **Stations**: per section with an active station, or automatic observations in the last
  :data:`STATION_LOOKBACK`, the time of its last valid value (NaT when none in the window), and
  the last :data:`FLAT_READINGS` readings of every parameter for flat-line detection.

Fresh conditions [A]
--------------------
The evaluation returns every condition of the windows read, also those of values two days old.
An episode closes after 24 h *without a condition*, so passing old conditions on would keep
every episode open for the whole window. :func:`evaluate_alerts` keeps a condition only while it
describes the present: a 4-hourly value or flat-line reading within :data:`FRESH_VALUES` of now
(the current bin may still be filling, so the one before counts too); a daily condition or a
compensation event of yesterday or today (the newest complete day); a forecast whose target
lies ahead; the newest monthly comparison; and station silence as of now. :func:`run_alerts`
then passes one condition per section, factor and audience (the highest level, then the newest)
to the episodes: the others would only be repeats.

Heartbeat
---------
:func:`heartbeat_conditions` gives operator conditions for ``evaluation_silent`` (no alert pass
has finished for longer than ``max_silence``) and ``station_silent`` (a station has sent nothing
at all, valid or not, for longer than the ``station_silent`` rule's hours). :func:`run_alerts`
includes them, but a pass cannot notice that passes stop: the evaluation-silent check does its
work when another job calls :func:`run_heartbeat` (the scheduler's ``hourly`` and ``morning``
jobs, after their own work). While passes finish it does nothing; when they have stopped
(stuck, failing) it raises ``evaluation_silent`` for the operators, folds it into episodes and
sends the outbox (the operators' message, and whatever else waits there), so operators hear of
it within about an hour. It leaves out station silence (the pass's, and without a pass the
operators are told anyway) and does not escalate or close (closing needs a full evaluation:
without one, every episode would look quiet); its ``evaluation_silent`` episode closes, with a
解除 message, in the passes' own time once they run again.

An evaluation-silent condition concerns the service, not a section: it is raised once per
operator of the river-chief file, under the first section that operator looks after (so the
episode reaches them), factor :data:`EVALUATION_FACTOR`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import JsonValue
from sqlalchemy import Engine, func, select

from sections.alert_evaluation import evaluate
from sections.alert_rules import (
    RULE_TIMES,
    AlertLevel,
    AlertRules,
    Condition,
    load_alert_rules,
)
from sections.registry import Registry
from sections.river_chiefs import RiverChiefs
from service.alerts.ack_links import AckLinks
from service.alerts.channels.base import Channel
from service.alerts.episodes import EpisodeChanges, apply_conditions
from service.alerts.factory import alert_setup
from service.alerts.inputs import (
    DAILY_DAYS,
    FLAT_READINGS,
    FORECAST_MAX_AGE,
    STATION_LOOKBACK,
    VALUE_DAYS,
    AlertInputs,
    gather_inputs,
    watched_stations,
)
from service.alerts.outbox import DeliveryReport, deliver
from service.alerts.policy import DEFAULT_POLICY, EpisodePolicy
from service.db import queries
from service.db.models import JobRun, table_of
from service.settings import Settings
from service.time import BEIJING

__all__ = [
    "ALERTS_JOB",
    "DAILY_DAYS",
    "EVALUATION_FACTOR",
    "EVALUATION_MAX_SILENCE",
    "FLAT_READINGS",
    "FORECAST_MAX_AGE",
    "FRESH_VALUES",
    "STATION_LOOKBACK",
    "VALUE_DAYS",
    "AlertInputs",
    "AlertRunSummary",
    "HeartbeatSummary",
    "evaluate_alerts",
    "fresh_conditions",
    "gather_inputs",
    "heartbeat_conditions",
    "run_alerts",
    "run_configured",
    "run_heartbeat",
    "strongest",
]

log = logging.getLogger("service.alerts.run")

ALERTS_JOB = "alerts"
"""The ``job_run`` name of an alert pass (the heartbeat reads it)."""
FRESH_VALUES = dt.timedelta(hours=8)
"""A 4-hourly value or a reading is current this long: the bin filling now and the one before."""
EVALUATION_MAX_SILENCE = dt.timedelta(minutes=30)
"""No finished alert pass for longer than this (three 10-minute slots) is ``evaluation_silent``."""
EVALUATION_FACTOR = "告警评价"
"""The factor of ``evaluation_silent`` episodes (the service, not a measured parameter)."""

JOB_RUN = table_of(JobRun)
# --------------------------------------------------------------------------- evaluation

def fresh_conditions(conditions: Iterable[Condition], *, now: dt.datetime) -> list[Condition]:
    """The conditions that describe the present (see "Fresh conditions" above).

    >>> at = dt.datetime(2025, 7, 3, 10, tzinfo=BEIJING)
    >>> old = Condition("s", "nh3n", AlertLevel.NOTICE, "value_exceeds", "river_chiefs",
    ...                 at - dt.timedelta(hours=12), 1.2, 1.0, "")
    >>> new = Condition("s", "nh3n", AlertLevel.NOTICE, "value_exceeds", "river_chiefs",
    ...                 at - dt.timedelta(hours=2), 1.2, 1.0, "")
    >>> [c.observed_at.hour for c in fresh_conditions([old, new], now=at)]
    [8]
    """
    yesterday = dt.datetime.combine(
        now.astimezone(BEIJING).date() - dt.timedelta(days=1), dt.time(), BEIJING
    )
    kept: list[Condition] = []
    for c in conditions:
        basis = RULE_TIMES.get(c.rule_id)
        if basis == "reading":
            fresh = c.observed_at >= now - FRESH_VALUES
        elif basis == "day":
            fresh = c.observed_at >= yesterday
        else:  # forecasts ahead, the newest month, silence as of now: current by construction
            fresh = True
        if fresh:
            kept.append(c)
    return kept


def strongest(conditions: Iterable[Condition]) -> list[Condition]:
    """One condition per section, factor and audience: the highest level, then the newest."""
    best: dict[tuple[str, str, str], Condition] = {}
    for c in conditions:
        key = (c.section_id, c.factor, c.audience)
        held = best.get(key)
        if held is None or (int(c.level), c.observed_at) > (int(held.level), held.observed_at):
            best[key] = c
    return list(best.values())


def evaluate_alerts(
    *,
    engine: Engine,
    registry: Registry,
    now: dt.datetime,
    rules: AlertRules | None = None,
) -> list[Condition]:
    """The fresh conditions of every rule as of ``now``, from the database (none merged)."""
    rules = rules or load_alert_rules()
    inputs = gather_inputs(engine=engine, registry=registry, now=now)
    found = evaluate(
        sections=registry, rules=rules,
        values=None if inputs.values.empty else inputs.values,
        daily=inputs.daily, forecasts=inputs.forecasts, current=inputs.current,
        last_year=inputs.last_year, events=inputs.events, last_seen=inputs.last_seen,
        readings=inputs.readings, now=now,
    )  # fmt: skip
    return fresh_conditions(found, now=now)


# --------------------------------------------------------------------------- heartbeat


def heartbeat_conditions(
    *,
    engine: Engine,
    registry: Registry,
    now: dt.datetime,
    max_silence: dt.timedelta = EVALUATION_MAX_SILENCE,
    chiefs: RiverChiefs | None = None,
    station_silence: dt.timedelta | None = None,
    rules: AlertRules | None = None,
    stations: bool = True,
) -> list[Condition]:
    """Operator conditions of a silent evaluation and of stations that send nothing.

    Parameters
    ----------
    max_silence : timedelta
        ``evaluation_silent`` when no ``alerts`` pass has finished (``ok``) for longer; with none
        ever finished, counted from the first pass started (none started: no condition).
    chiefs : RiverChiefs, optional
        Whose operators an ``evaluation_silent`` condition goes to (one per operator, under the
        first section they look after); without it, none is raised.
    station_silence : timedelta, optional
        ``station_silent`` when a watched section has no automatic observation at all (valid or
        not) for longer; default the ``station_silent`` rule's hours.
    stations : bool
        ``False``: the evaluation only, no station silence (:func:`run_heartbeat`).
    """
    rules = rules or load_alert_rules()
    rule = rules.active("station_silent")
    found: list[Condition] = []
    level = rule.level if rule is not None else AlertLevel.ORANGE
    silent_since = _evaluation_silent_since(engine, now, max_silence)
    if silent_since is not None and chiefs is not None:
        minutes = (now - silent_since).total_seconds() / 60
        since = silent_since.astimezone(BEIJING)
        detail = f"告警评价已 {minutes:.0f} 分钟未完成（上次完成 {since:%m-%d %H:%M}）"
        for operator in chiefs.operators:
            if operator.sections:
                found.append(Condition(
                    operator.sections[0], EVALUATION_FACTOR, level, "evaluation_silent",
                    "operators", silent_since, minutes, max_silence.total_seconds() / 60, detail,
                ))  # fmt: skip
    if not stations or (rule is None and station_silence is None):
        return found
    limit = station_silence or dt.timedelta(hours=rule.number("hours") if rule else 8.0)
    for section_id, at in sorted(watched_stations(engine, registry, now).items()):
        if at is not None and now - at <= limit:
            continue
        hours = limit / dt.timedelta(hours=1)
        if at is None:
            detail = f"{STATION_LOOKBACK.days} 天内未收到任何数据"
            value, observed = None, now
        else:
            value = (now - at) / dt.timedelta(hours=1)
            detail = f"自 {at.astimezone(BEIJING):%m-%d %H:%M} 起 {value:.1f} 小时未收到任何数据"
            observed = at
        found.append(Condition(
            section_id, "", level, "station_silent", "operators", observed, value, hours, detail,
        ))  # fmt: skip
    return found


def _evaluation_silent_since(
    engine: Engine, now: dt.datetime, max_silence: dt.timedelta
) -> dt.datetime | None:
    with engine.connect() as connection:
        finished = connection.execute(
            select(func.max(JOB_RUN.c.finished_at)).where(
                JOB_RUN.c.job == ALERTS_JOB, JOB_RUN.c.status == "ok"
            )
        ).scalar()
        if finished is None:
            finished = connection.execute(
                select(func.min(JOB_RUN.c.started_at)).where(JOB_RUN.c.job == ALERTS_JOB)
            ).scalar()
    if finished is None:
        return None
    moment: dt.datetime = finished if finished.tzinfo else finished.replace(tzinfo=dt.UTC)
    return moment if now - moment > max_silence else None


# --------------------------------------------------------------------------- the pass


@dataclass(frozen=True)
class AlertRunSummary:
    """What one :func:`run_alerts` pass did."""

    run_id: int
    conditions: int
    """Fresh conditions found (heartbeat included)."""
    keys: int
    """Distinct (section, factor, audience) passed on to the episodes."""
    changes: EpisodeChanges
    delivery: DeliveryReport
    problems: tuple[str, ...] = field(default=())

    def detail(self) -> dict[str, JsonValue]:
        """The run's ``job_run.detail``."""
        c, d = self.changes, self.delivery
        return {
            "conditions": self.conditions, "keys": self.keys, "opened": len(c.opened),
            "updated": len(c.updated), "raised": len(c.raised), "escalated": len(c.escalated),
            "closed": len(c.closed), "enqueued": c.enqueued, "sent": len(d.sent),
            "retried": len(d.retried), "dead": len(d.dead), "paced": list(d.paced),
            "unreachable": list(c.unreachable), "problems": list(self.problems),
        }  # fmt: skip

    def describe(self) -> str:
        """One line for the log."""
        c = self.changes
        return (
            f"{self.conditions} 条件 / conditions, {len(c.opened)} opened, {len(c.raised)} raised, "
            f"{len(c.escalated)} escalated, {len(c.closed)} closed, {c.enqueued} queued, "
            f"{len(self.delivery.sent)} sent"
        )


def run_alerts(
    *,
    engine: Engine,
    registry: Registry,
    chiefs: RiverChiefs,
    channels: Mapping[str, Channel],
    now: dt.datetime,
    holder: str,
    policy: EpisodePolicy | None = None,
    rules: AlertRules | None = None,
    max_silence: dt.timedelta = EVALUATION_MAX_SILENCE,
    problems: Sequence[str] = (),
    ack_links: AckLinks | None = None,
    clock: Callable[[], dt.datetime] | None = None,
    budget: dt.timedelta = dt.timedelta(0),
    mark: Mapping[str, int] | None = None,
) -> AlertRunSummary:
    """Evaluate, fold into episodes (escalating and closing), and send; one ``alerts`` job run.

    ``problems`` (e.g. channels that could not be built) are kept in the run's detail;
    ``ack_links`` signs the acknowledgement link of each message sent; ``clock`` and
    ``budget`` let the sending wait for paced robots (:func:`~service.alerts.outbox.deliver`);
    ``mark`` (:func:`service.alerts.cadence.input_mark`) is kept in the detail. A failure is
    recorded (``failed``) and raised.
    """
    run_id = queries.start_job_run(engine=engine, job=ALERTS_JOB, detail={"now": now.isoformat()})
    try:
        rules = rules or load_alert_rules()
        found = evaluate_alerts(engine=engine, registry=registry, now=now, rules=rules)
        found += heartbeat_conditions(
            engine=engine, registry=registry, now=now, max_silence=max_silence, chiefs=chiefs,
            rules=rules,
        )  # fmt: skip
        passed = strongest(found)
        changes = apply_conditions(
            engine=engine, conditions=passed, chiefs=chiefs, registry=registry, now=now,
            policy=policy or DEFAULT_POLICY,
        )  # fmt: skip
        report = deliver(
            engine=engine, channels=channels, now=now, holder=holder,
            ack_url=None if ack_links is None else ack_links.url, clock=clock, budget=budget,
        )  # fmt: skip
    except Exception as exc:
        queries.finish_job_run(
            engine=engine, run_id=run_id, status="failed", detail={"error": repr(exc)}
        )
        raise
    summary = AlertRunSummary(run_id, len(found), len(passed), changes, report, tuple(problems))
    detail = summary.detail() | ({} if mark is None else {"mark": dict(mark)})
    queries.finish_job_run(engine=engine, run_id=run_id, status="ok", detail=detail)
    return summary


def run_configured(
    *, engine: Engine, registry: Registry, settings: Settings, now: dt.datetime, holder: str
) -> AlertRunSummary:
    """One alert pass as the service runs it (``qingliu alerts run``): the river chiefs, their
    channels and the links of :func:`service.alerts.factory.alert_setup`, then
    :func:`run_alerts`.
    """
    setup = alert_setup(settings=settings, registry=registry)
    return run_alerts(
        engine=engine, registry=registry, chiefs=setup.chiefs, channels=setup.channels,
        now=now, holder=holder, problems=setup.problems, ack_links=setup.links,
    )  # fmt: skip


# --------------------------------------------------------------------------- the heartbeat job


@dataclass(frozen=True)
class HeartbeatSummary:
    """What one :func:`run_heartbeat` did (nothing while alert passes finish)."""

    silent_since: dt.datetime | None
    """When the last alert pass finished, if that is longer ago than ``max_silence``."""
    conditions: int = 0
    """``evaluation_silent`` conditions raised (one per operator)."""
    changes: EpisodeChanges = field(default_factory=EpisodeChanges)
    delivery: DeliveryReport | None = None
    problems: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line for the log and the calling job's ``job_run.detail``."""
        if self.silent_since is None:
            return "告警评价正常 / alert passes finishing"
        c, sent = self.changes, 0 if self.delivery is None else len(self.delivery.sent)
        return (
            f"告警评价停顿 / alert passes silent since {self.silent_since.isoformat()}: "
            f"{self.conditions} conditions, {len(c.opened)} opened, {c.enqueued} queued, "
            f"{sent} sent"
        )


def run_heartbeat(
    *,
    engine: Engine,
    registry: Registry,
    settings: Settings,
    now: dt.datetime,
    holder: str,
    max_silence: dt.timedelta = EVALUATION_MAX_SILENCE,
    policy: EpisodePolicy | None = None,
    environ: Mapping[str, str] | None = None,
) -> HeartbeatSummary:
    """The heartbeat another job runs: tell operators when alert passes have stopped.

    When no ``alerts`` pass has finished for longer than ``max_silence``: the river chiefs of
    ``settings.chiefs``, their channels (placeholders from ``environ``, default the process
    environment), the ``evaluation_silent`` conditions of :func:`heartbeat_conditions` (no
    station silence), folded into episodes without escalating or closing
    (:func:`~service.alerts.episodes.apply_conditions` with ``advance=False``), then the outbox
    sent with the signed acknowledgement links, as :func:`run_configured` sends it. Otherwise
    nothing is loaded, evaluated or sent. Errors are raised (the caller logs them).
    """
    silent_since = _evaluation_silent_since(engine, now, max_silence)
    if silent_since is None:
        return HeartbeatSummary(None)
    setup = alert_setup(settings=settings, registry=registry, environ=environ)
    found = heartbeat_conditions(
        engine=engine, registry=registry, now=now, max_silence=max_silence,
        chiefs=setup.chiefs, stations=False,
    )  # fmt: skip
    changes = apply_conditions(
        engine=engine, conditions=found, chiefs=setup.chiefs, registry=registry, now=now,
        policy=policy or DEFAULT_POLICY, advance=False,
    )  # fmt: skip
    report = deliver(
        engine=engine, channels=setup.channels, now=now, holder=holder,
        ack_url=None if setup.links is None else setup.links.url,
    )  # fmt: skip
    log.warning(
        "告警评价停顿，已通知运维 / alert passes silent since %s: %d operators, %d sent",
        silent_since, len(found), len(report.sent),
    )  # fmt: skip
    return HeartbeatSummary(silent_since, len(found), changes, report, setup.problems)
