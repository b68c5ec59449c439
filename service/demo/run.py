"""``qingliu demo``: seed a synthetic year into the database and run the jobs that exist."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import Engine

from sections.registry import Registry
from service.db import queries
from service.db.ingest import add_station
from service.demo.synthetic import demo_station, generate_year
from service.feeds.hj212_receiver import Hj212Receiver
from service.feeds.simulator import DEMO_PASSWORD, frames_of

__all__ = [
    "DEMO_SEED",
    "DEMO_SOURCE",
    "CompensationSummary",
    "DemoSummary",
    "JobsSummary",
    "default_demo_year",
    "issue_demo_statements",
    "run_demo_jobs",
    "seed_demo",
]

DEMO_SEED = 2025
DEMO_SOURCE = "demo"


@dataclass(frozen=True)
class DemoSummary:
    """What the demo stored."""

    year: int
    seed: int
    sections: int
    observations: int
    flagged: int
    statuses: int
    first: dt.datetime
    last: dt.datetime
    frames: int = 0
    refused: int = 0


def default_demo_year(today: dt.date) -> int:
    """The demo's default year: the last complete calendar year before ``today``."""
    return today.year - 1


def seed_demo(
    *,
    engine: Engine,
    registry: Registry,
    year: int,
    seed: int = DEMO_SEED,
    show_progress: bool = True,
) -> DemoSummary:
    """Generate the synthetic year and feed it in as HJ 212 frames from the demo's stations.

    The frames go through the receiver's checks and storage (in-process, without TCP), so the
    demo's data arrive as they would from the field; re-running changes no observation.
    """
    run_id = queries.start_job_run(
        engine=engine, job="demo-seed", detail=json.dumps({"year": year, "seed": seed})
    )
    try:
        with _progress(show_progress) as progress:
            task = progress.add_task("生成模拟数据 / generating", total=None)
            synthetic = generate_year(registry, year=year, seed=seed)
            progress.update(task, total=1, completed=1)
            observations = synthetic.observations
            for section in registry.sections:  # the demo's stations, as the bureau would add them
                add_station(engine=engine, mn=demo_station(section), section_id=section.id,
                            password=DEMO_PASSWORD)  # fmt: skip
            frames = (frame for _, frame in frames_of(observations, list(registry.sections)))
            hours = observations.groupby("section_id")["observed_at"].nunique().sum()
            store = progress.add_task("HJ 212 报文入库 / frames in", total=int(hours))
            receiver = Hj212Receiver(engine=engine)
            stats = receiver.ingest(
                frames, peer="demo", progress=lambda n: progress.advance(store, n)
            )
            stored = stats.observations.inserted + stats.observations.unchanged
            statuses = queries.insert_section_statuses(
                engine=engine, frame=synthetic.statuses, source=DEMO_SOURCE
            )
        summary = DemoSummary(
            year=year,
            seed=seed,
            sections=int(observations["section_id"].nunique()),
            observations=stored,
            flagged=int((observations["station_flag"] != "N").sum()),
            statuses=statuses,
            first=observations["observed_at"].min().to_pydatetime(),
            last=observations["observed_at"].max().to_pydatetime(),
            frames=stats.frames,
            refused=stats.refused,
        )
    except Exception as exc:
        queries.finish_job_run(engine=engine, run_id=run_id, status="failed", detail=repr(exc))
        raise
    queries.finish_job_run(
        engine=engine,
        run_id=run_id,
        status="ok",
        detail=json.dumps({"year": year, "seed": seed, "observations": stored}),
    )
    return summary


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=not enabled,
    )


@dataclass(frozen=True)
class CompensationSummary:
    """What the demo's monthly compensation job issued."""

    months: int
    total_wan: Decimal
    by_unit: tuple[tuple[str, Decimal], ...]


def issue_demo_statements(
    *, engine: Engine, registry: Registry, year: int, show_progress: bool = True
) -> CompensationSummary:
    """Compute and issue the compensation statement of every month of the demo year."""
    from service.statements.issue import issue_statement
    from service.statements.monthly import draft_statement

    totals: dict[str, Decimal] = {u.name: Decimal(0) for u in registry.units}
    with _progress(show_progress) as progress:
        task = progress.add_task("月度生态补偿 / monthly compensation", total=12)
        for month in range(1, 13):
            statement = draft_statement(
                engine=engine, registry=registry, month=dt.date(year, month, 1)
            )
            issue_statement(engine=engine, statement=statement)
            for unit in statement.units:
                totals[unit.name] += unit.total_wan
            progress.advance(task)
    ranked = tuple(sorted(totals.items(), key=lambda item: item[1], reverse=True))
    return CompensationSummary(12, sum(totals.values(), Decimal(0)), ranked)


@dataclass(frozen=True)
class JobsSummary:
    """What the demo's classification jobs did."""

    qc_flagged: int
    days: int
    classified: int
    insufficient: int
    months: int
    year_share: float | None


def run_demo_jobs(
    *, engine: Engine, registry: Registry, year: int, show_progress: bool = True
) -> JobsSummary:
    """QA/QC, the daily classification and the monthly roll-ups of the demo year."""
    from service.jobs.daily import day_bounds, run_daily
    from service.jobs.monthly import run_monthly
    from service.jobs.quality import run_quality

    first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    with _progress(show_progress) as progress:
        task = progress.add_task("质控 / QA/QC", total=None)
        low, high = day_bounds(first, last)
        quality = run_quality(engine=engine, registry=registry, start=low, end=high)
        progress.update(task, total=1, completed=1)
        days = progress.add_task("逐日评价 / daily classes", total=(last - first).days + 1)
        daily = run_daily(engine=engine, registry=registry, first=first, last=last,
                          progress=lambda n: progress.advance(days, n))  # fmt: skip
        months = progress.add_task("月度汇总 / monthly roll-up", total=12)
        good = assessable = 0
        for month in range(1, 13):
            result = run_monthly(engine=engine, registry=registry, month=dt.date(year, month, 1))
            good += result.summary["good"]
            assessable += result.summary["assessable"]
            progress.advance(months)
    flagged = sum(n for flag, n in quality.flags.items() if flag in (3, 4))
    share = good / assessable if assessable else None
    return JobsSummary(flagged, daily.results, daily.classified, daily.insufficient, 12, share)
