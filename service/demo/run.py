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
from service.demo.synthetic import generate_year

__all__ = [
    "DEMO_SEED",
    "DEMO_SOURCE",
    "CompensationSummary",
    "DemoSummary",
    "default_demo_year",
    "issue_demo_statements",
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
    """Generate the synthetic year and store it (replacing earlier demo data of those stations)."""
    run_id = queries.start_job_run(
        engine=engine, job="demo-seed", detail=json.dumps({"year": year, "seed": seed})
    )
    try:
        with _progress(show_progress) as progress:
            task = progress.add_task("生成模拟数据 / generating", total=None)
            synthetic = generate_year(registry, year=year, seed=seed)
            progress.update(task, total=1, completed=1)
            observations = synthetic.observations
            store = progress.add_task("写入数据库 / storing", total=len(observations))
            stored = queries.insert_observations(
                engine=engine,
                frame=observations,
                source=DEMO_SOURCE,
                replace_source=True,
                progress=lambda n: progress.advance(store, n),
            )
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
