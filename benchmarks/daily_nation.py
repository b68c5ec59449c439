"""The daily job for a national-size registry: 3,600 sections, on one or two Dask workers and the
local process pool.

A synthetic registry of :data:`SECTIONS` sections is made in memory from the bundled ones (each
bundled section copied under new ids, water bodies, targets and standards kept), and one day of
4-hourly values of the 9 parameters an automatic station sends is stored for every station
(:data:`SECTIONS` × 9 × 6 = 194,400 observations, the demo generator's day of the model section,
jittered per copy). Then :func:`service.jobs.daily.run_daily` classifies the day:

- ``dask_1``: on a ``LocalCluster`` of one worker process with one thread (the **baseline**);
- ``dask_2``: on a ``LocalCluster`` of two worker processes with one thread each;
- ``pool_2``: on the local spawn process pool of two workers (started by the job, its start
  counted);
- ``inline``: in this process, no fan-out (for reference).

Each is run once to warm up (worker imports), then timed :data:`REPEATS` times (the best is
kept); a cluster's start is not counted (a cluster outlives jobs). Every run replaces the day's
results; each run's rows are checked to equal the inline run's. Reported: wall time, daily results
and observations per second, and the ratio of each to the ``dask_1`` baseline of the same run.

By default on SQLite in a temporary directory. ``--database-url URL`` runs it on that PostgreSQL
server (a database ``qingliu_bench_daily`` is created there and dropped after);
``--database-url throwaway`` starts the tests' throwaway PostgreSQL server
(:mod:`tests.pg_server`)::

    .venv/bin/python -m benchmarks daily_nation
    .venv/bin/python -m benchmarks daily_nation --database-url throwaway
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.engine import make_url

from sections.registry import Registry, load_registry
from service.db.bulk import bulk_insert
from service.db.engine import make_engine, migrate
from service.db.models import DailyResult, table_of, utc_now
from service.demo.synthetic import generate_year
from service.jobs.daily import run_daily
from service.jobs.observations import day_bounds
from service.settings import Settings

SECTIONS = 3_600
DAY = dt.date(2025, 7, 1)
KEYS = ("temp", "ph", "do", "conductivity", "turbidity", "codmn", "nh3n", "tp", "tn")
HOURS = (0, 4, 8, 12, 16, 20)
REPEATS = 2
SEED = 2025
THROWAWAY = "throwaway"
_BENCH_DATABASE = "qingliu_bench_daily"


def national_registry(size: int = SECTIONS) -> Registry:
    """``size`` sections copied round-robin from the bundled registry's non-reference sections,
    ids ``n0000-<model id>``; water body, targets, standards and unit kept, no upstream links."""
    bundled = load_registry()
    models = bundled.assessed_sections()
    sections = tuple(
        dataclasses.replace(
            model, id=f"n{i:04d}-{model.id}", name=f"{model.name}（{i}）", upstream=None,
            station_mn=f"NATION{i:04d}",
        )
        for i, model in ((i, models[i % len(models)]) for i in range(size))
    )  # fmt: skip
    return Registry(units=bundled.units, sections=sections, source="national synthetic")


def _model_day() -> dict[str, pd.DataFrame]:
    """The demo generator's 4-hourly values of :data:`DAY` per bundled section (long frames)."""
    bundled = load_registry()
    models = Registry(units=bundled.units, sections=bundled.assessed_sections())
    frame = generate_year(models, year=DAY.year, seed=SEED).observations
    low, high = day_bounds(DAY, DAY)
    frame = frame[(frame["observed_at"] >= low) & (frame["observed_at"] < high)]
    frame = frame[frame["observed_at"].dt.tz_convert("Asia/Shanghai").dt.hour.isin(HOURS)]
    frame = frame[frame["parameter"].isin(KEYS)]
    return {str(k): g.reset_index(drop=True) for k, g in frame.groupby("section_id")}


def _observations(registry: Registry) -> list[tuple[Any, ...]]:
    """Every copy's day: its model's values times a lognormal factor per copy and parameter
    (pH and temperature shifted instead)."""
    models = _model_day()
    rng = np.random.default_rng(SEED)
    received = utc_now()
    rows: list[tuple[Any, ...]] = []
    for section in registry.sections:
        model = models[section.id.split("-", 1)[1]]
        keys = model["parameter"].to_numpy(dtype=object)
        factor = {k: float(np.exp(rng.normal(0, 0.15))) for k in KEYS}
        shift = float(rng.normal(0, 0.2))
        for key, at, value, unit, flag in zip(
            keys, model["observed_at"], model["value"], model["unit"], model["station_flag"],
            strict=True,
        ):
            if key in ("ph", "temp"):
                number = round(float(value) + shift, 2)
            else:
                number = round(float(value) * factor[str(key)], 4)
            rows.append((section.station_mn, section.id, key, at.to_pydatetime(), number, unit,
                         flag, "benchmark", "raw", received))  # fmt: skip
    return rows


def _store(engine: Engine, rows: list[tuple[Any, ...]]) -> None:
    columns = ("station", "section_id", "parameter", "observed_at", "value", "unit",
               "station_flag", "source", "processing_level", "received_at")  # fmt: skip
    with engine.begin() as connection:
        bulk_insert(connection, "observation", columns, rows)


def _results(engine: Engine) -> list[tuple[Any, ...]]:
    table = table_of(DailyResult)
    with engine.connect() as connection:
        query = select(table.c.section_id, table.c.day, table.c.class_number, table.c.record,
                       table.c.provenance).order_by(table.c.section_id)  # fmt: skip
        return [tuple(row) for row in connection.execute(query)]


@contextmanager
def _cluster(workers: int) -> Iterator[str]:
    from distributed import Client, LocalCluster

    with LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=workers, threads_per_worker=1, processes=True, protocol="tcp",
        host="127.0.0.1", dashboard_address=":0",
    ) as cluster, Client(cluster, set_as_default=False) as client:  # type: ignore[no-untyped-call]  # fmt: skip
        client.wait_for_workers(workers, timeout=120)
        yield str(cluster.scheduler_address)


def _timed(run: Callable[[], object]) -> float:
    run()  # warm-up: worker imports, first connections
    best = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def _measure(url: str | None, folder: Path) -> dict[str, Any]:
    settings = Settings(data_dir=folder, database_url=url)
    engine = make_engine(settings)
    migrate(engine)
    registry = national_registry()
    rows = _observations(registry)
    _store(engine, rows)

    def daily(**fan: Any) -> Callable[[], object]:
        return lambda: run_daily(engine=engine, registry=registry, first=DAY, **fan)

    seconds: dict[str, float] = {"inline": _timed(daily(workers=1))}
    expected = _results(engine)
    for workers in (1, 2):
        with _cluster(workers) as address:
            dask = settings.with_(dask_scheduler=address)
            seconds[f"dask_{workers}"] = _timed(daily(settings=dask))
        assert _results(engine) == expected, f"dask_{workers} stored other rows"
    seconds["pool_2"] = _timed(daily(workers=2))
    assert _results(engine) == expected, "pool_2 stored other rows"
    engine.dispose()
    baseline = seconds["dask_1"]
    return {
        "sections": len(registry.sections),
        "observations": len(rows),
        "results": len(expected),
        "runs": {
            name: {
                "seconds": round(wall, 2),
                "results_per_second": round(len(expected) / wall),
                "observations_per_second": round(len(rows) / wall),
                "ratio_to_dask_1": round(baseline / wall, 2),
            }
            for name, wall in seconds.items()
        },
    }


def run(database_url: str | None = None) -> dict[str, Any]:
    """The benchmark on SQLite, or on the PostgreSQL server of ``database_url``."""
    result: dict[str, Any] = {"benchmark": "daily_nation", "day": DAY.isoformat(),
                              "repeats": REPEATS}  # fmt: skip
    if database_url is None:
        with tempfile.TemporaryDirectory() as folder:
            result["sqlite"] = _measure(None, Path(folder))
        return result
    server = None
    if database_url == THROWAWAY:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tests.pg_server import start_postgres

        started = start_postgres()
        if isinstance(started, str):
            result["postgresql"] = f"skipped: {started}"
            return result
        server, database_url = started, started.url
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{_BENCH_DATABASE}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{_BENCH_DATABASE}"'))
        url = make_url(database_url).set(database=_BENCH_DATABASE)
        with tempfile.TemporaryDirectory() as folder:
            result["postgresql"] = _measure(url.render_as_string(hide_password=False),
                                            Path(folder))  # fmt: skip
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{_BENCH_DATABASE}" WITH (FORCE)'))
    finally:
        admin.dispose()
        if server is not None:
            server.stop()
    return result
