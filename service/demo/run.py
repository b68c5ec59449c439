"""``qingliu demo``: seed a synthetic year into the database and run the jobs that exist."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import Engine

from sections.registry import Registry
from service.db import queries
from service.db.ingest import add_station
from service.demo.synthetic import demo_station, generate_year, write_lab_csv
from service.errors import InputError
from service.feeds.hj212_receiver import Hj212Receiver
from service.feeds.manual import import_manual
from service.feeds.simulator import DEMO_PASSWORD, frames_of
from service.settings import ENV_PREFIX, Settings
from service.time import BEIJING

__all__ = [
    "DEMO_ADMIN",
    "DEMO_SEED",
    "DEMO_SOURCE",
    "CompensationSummary",
    "DemoSummary",
    "JobsSummary",
    "UnitYear",
    "default_demo_year",
    "demo_data_dir",
    "ensure_demo_admin",
    "issue_demo_statements",
    "lab_file_name",
    "run_demo_jobs",
    "seed_demo",
    "summarise_compensation",
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
    lab_file: Path | None = None
    lab_values: int = 0
    spot_checks: int = 0


DEMO_ADMIN = "admin"
"""The administrator the demo creates (its password is printed once)."""


def ensure_demo_admin(*, engine: Engine) -> str | None:
    """Create the demo's administrator with a random password; None when it already exists.

    The password is returned to be shown once; only its argon2 hash is stored.
    """
    import secrets

    from service.accounts import add_user, list_users

    if any(u.username == DEMO_ADMIN for u in list_users(engine=engine)):
        return None
    password = secrets.token_urlsafe(12)
    add_user(engine=engine, username=DEMO_ADMIN, role="admin", password=password,
             actor="demo")  # fmt: skip
    return password


def default_demo_year(today: dt.date) -> int:
    """The demo's default year: the last complete calendar year before ``today``."""
    return today.year - 1


def lab_file_name(year: int, seed: int) -> str:
    """File name of the demo's laboratory samples in the data directory."""
    return f"demo-lab-{year}-seed{seed}.csv"


def demo_data_dir(engine: Engine) -> Path | None:
    """The demo's data directory: the SQLite file's folder, else ``QINGLIU_DATA_DIR`` if set.

    None when neither is known (a server database and no data directory set): the laboratory
    file is then written to a temporary folder and kept only in the raw archive.
    """
    database = engine.url.database
    if engine.url.get_backend_name() == "sqlite" and database and database != ":memory:":
        return Path(database).resolve().parent
    if os.environ.get(ENV_PREFIX + "DATA_DIR"):
        return Settings.from_env().data_dir
    return None


def seed_demo(
    *,
    engine: Engine,
    registry: Registry,
    year: int,
    seed: int = DEMO_SEED,
    show_progress: bool = True,
    data_dir: Path | None = None,
) -> DemoSummary:
    """Generate the synthetic year and feed it in as the bureau's data would arrive.

    The automatic stations' values go in as HJ 212 frames through the receiver's checks and
    storage (in-process, without TCP); the monthly laboratory samples (COD, BOD5, fluoride,
    metals …, and a few spot checks) are written as a CSV file in ``data_dir`` (default
    :func:`demo_data_dir`) and imported through the manual-data path, as the monitoring centre
    would import its results. Re-running changes no observation.
    """
    run_id = queries.start_job_run(
        engine=engine, job="demo-seed", detail={"year": year, "seed": seed}
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
            lab_task = progress.add_task("实验室数据导入 / laboratory file", total=1)
            folder = data_dir if data_dir is not None else demo_data_dir(engine)
            with tempfile.TemporaryDirectory() as scratch:
                kept = folder is not None
                where = folder if folder is not None else Path(scratch)
                lab_file = write_lab_csv(synthetic.lab, where / lab_file_name(year, seed))
                report = import_manual(engine=engine, registry=registry, path=lab_file)
            if report.errors:  # the demo's own file: a refused row is a defect of the demo
                first_error = report.errors[0]
                raise InputError(f"{lab_file.name} line {first_error.line}: {first_error.message}")
            progress.update(lab_task, completed=1)
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
            lab_file=lab_file if kept else None,
            lab_values=report.counts.inserted + report.counts.unchanged,
            spot_checks=int(
                synthetic.lab.loc[synthetic.lab["kind"] == "抽测", ["section", "sampled_at"]]
                .drop_duplicates()
                .shape[0]
            ),
        )
    except Exception as exc:
        queries.finish_job_run(
            engine=engine, run_id=run_id, status="failed", detail={"error": repr(exc)}
        )
        raise
    queries.finish_job_run(
        engine=engine,
        run_id=run_id,
        status="ok",
        detail={"year": year, "seed": seed, "observations": stored},
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
class UnitYear:
    """One unit's compensation over the demo year."""

    name: str
    total_wan: Decimal
    months_paying: int
    events: int


@dataclass(frozen=True)
class CompensationSummary:
    """What the demo's monthly compensation job issued.

    ``by_unit`` holds every unit of the registry, highest total first (ties in registry order);
    the unit totals add up to ``total_wan`` exactly.
    """

    months: int
    total_wan: Decimal
    by_unit: tuple[tuple[str, Decimal], ...]
    units: tuple[UnitYear, ...] = ()
    events: int = 0

    @property
    def units_paying(self) -> int:
        """How many units pay anything in the year."""
        return sum(1 for _, amount in self.by_unit if amount > 0)

    def top(self, n: int = 3) -> tuple[tuple[str, Decimal, Decimal], ...]:
        """The ``n`` units paying most: name, total [万元], share of the city total [%, 0.1]."""
        rows = []
        for name, amount in self.by_unit[:n]:
            if amount <= 0:
                break
            rows.append((name, amount, _percent(amount, self.total_wan)))
        return tuple(rows)

    def lines(self) -> list[str]:
        """The summary as ``qingliu demo`` prints it (Chinese)."""
        text = [
            f"生态补偿 compensation {self.months} 个月已签发，全年扣缴 {self.total_wan} 万元"
            f"（{self.units_paying}/{len(self.by_unit)} 个考核单位有扣缴，"
            f"自动站连续超标事件 {self.events} 次）"
        ]
        top = self.top(3)
        if top:
            amount = sum((row[1] for row in top), Decimal(0))
            text.append(
                f"扣缴最多的 {len(top)} 个单位合计 {amount} 万元，"
                f"占全市 {_percent(amount, self.total_wan)}%："
            )
            months = {u.name: u.months_paying for u in self.units}
            for name, wan, part in top:
                paying = f"，{months[name]} 个月有扣缴" if name in months else ""
                text.append(f"  {name} {wan} 万元（{part}%{paying}）")
        return text


def _percent(part: Decimal, whole: Decimal) -> Decimal:
    """``part`` as a percentage of ``whole``, to 0.1 (half even)."""
    return (part * 100 / whole).quantize(Decimal("0.1"))


def issue_demo_statements(
    *, engine: Engine, registry: Registry, year: int, show_progress: bool = True
) -> CompensationSummary:
    """Compute and issue the compensation statement of every month of the demo year."""
    from service.statements.issue import issue_statement
    from service.statements.monthly import draft_statement

    totals: dict[str, Decimal] = {u.name: Decimal(0) for u in registry.units}
    paying: dict[str, int] = {u.name: 0 for u in registry.units}
    events: dict[str, int] = {u.name: 0 for u in registry.units}
    with _progress(show_progress) as progress:
        task = progress.add_task("月度生态补偿 / monthly compensation", total=12)
        for month in range(1, 13):
            statement = draft_statement(
                engine=engine, registry=registry, month=dt.date(year, month, 1)
            )
            issue_statement(engine=engine, statement=statement, actor="demo")
            for unit in statement.units:
                totals[unit.name] += unit.total_wan
                paying[unit.name] += int(unit.total_wan > 0)
                events[unit.name] += len(unit.events)
            progress.advance(task)
    return summarise_compensation(registry, totals=totals, paying=paying, events=events)


def summarise_compensation(
    registry: Registry,
    *,
    totals: dict[str, Decimal],
    paying: dict[str, int],
    events: dict[str, int],
) -> CompensationSummary:
    """The year's summary from per-unit totals [万元], paying months and event counts."""
    order = {u.name: i for i, u in enumerate(registry.units)}
    ranked = tuple(sorted(totals.items(), key=lambda item: (-item[1], order.get(item[0], 0))))
    units = tuple(
        UnitYear(name, amount, paying.get(name, 0), events.get(name, 0)) for name, amount in ranked
    )
    return CompensationSummary(
        months=12,
        total_wan=sum(totals.values(), Decimal(0)),
        by_unit=ranked,
        units=units,
        events=sum(events.values()),
    )


@dataclass(frozen=True)
class JobsSummary:
    """What the demo's classification jobs did."""

    qc_flagged: int
    days: int
    classified: int
    insufficient: int
    months: int
    year_share: float | None
    forecasts: int = 0
    forecast_skipped: int = 0
    forecast_origin: dt.datetime | None = None


def run_demo_jobs(
    *,
    engine: Engine,
    registry: Registry,
    year: int,
    show_progress: bool = True,
    settings: Settings | None = None,
) -> JobsSummary:
    """QA/QC, the daily classification, the monthly roll-ups and the forecasts of the demo year.

    Forecasts are issued as of the end of the demo year (1 January 00:00 of the next year,
    Beijing time): the latest data then are the year's last, as they would be on that night.
    """
    from service.jobs.daily import day_bounds, run_daily
    from service.jobs.forecast import run_forecasts
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
            good += result.record.good
            assessable += result.record.assessable
            progress.advance(months)
        fits = progress.add_task("水质预报 / forecasts", total=None)
        origin = dt.datetime(year + 1, 1, 1, tzinfo=BEIJING)
        forecasts = run_forecasts(
            engine=engine, registry=registry, settings=settings or Settings(), now=origin,
            progress=lambda done, total: progress.update(fits, completed=done, total=total),
        )  # fmt: skip
    flagged = sum(n for flag, n in quality.flags.items() if flag in (3, 4))
    share = good / assessable if assessable else None
    return JobsSummary(
        flagged, daily.results, daily.classified, daily.insufficient, 12, share,
        forecasts=len(forecasts.issued), forecast_skipped=len(forecasts.skipped),
        forecast_origin=origin,
    )  # fmt: skip
