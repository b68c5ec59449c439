"""Daily classes, QA/QC and the monthly roll-up fanned out by groups of sections: on a real Dask
``LocalCluster`` (worker processes, reached over TCP) and on the local process pool, every stored
row equals the single-process run's; a failing chunk ends in a BatchError and loses no other
chunk's results.

Each test seeds one database with a month of the demo generator's data for a few sections (the
automatic stations' hourly values, the laboratory file through the manual import, the section
statuses), clones it, runs the jobs in one process on the original and fanned out on the clone,
and compares the tables row by row.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, select, text

from sections.registry import Registry
from service.db.engine import make_engine
from service.db.models import (
    DailyResult,
    JobRun,
    MonthlyResult,
    MonthlySummary,
    Observation,
    table_of,
)
from service.db.queries import insert_section_statuses
from service.demo.synthetic import SyntheticYear, generate_year, write_lab_csv
from service.errors import BatchError
from service.feeds.manual import import_manual
from service.jobs.daily import run_daily
from service.jobs.monthly import run_monthly
from service.jobs.observations import day_bounds
from service.jobs.quality import run_quality
from service.settings import Settings
from tests.conftest import store_rows

SECTIONS = ("fuyang-jizhou", "xiaofanqiao", "hutuo-anping", "qingliang-gucheng",
            "hengshuihu-dahuxin", "hengshuihu-xiaohu", "aixinzhuang")  # fmt: skip
"""Four river sections, both lake points (the lake record), a reference section."""
FIRST, LAST = dt.date(2025, 3, 1), dt.date(2025, 3, 31)
CONTEXT_DAYS = 3  # observations before the month: the QA/QC look-back sees them
CHUNK = 2  # sections (stations) per chunk: four chunks of the seven sections
CLUSTER_DEADLINE = 120.0  # seconds for the LocalCluster's two worker processes to start [s]


@pytest.fixture(scope="module")
def small_registry(registry: Registry) -> Registry:
    return Registry(units=registry.units, sections=tuple(registry.section(s) for s in SECTIONS))


@pytest.fixture(scope="module")
def synthetic(small_registry: Registry) -> SyntheticYear:
    return generate_year(small_registry, year=FIRST.year)


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A Dask LocalCluster of two worker processes with one thread each; its address."""
    from distributed import Client, LocalCluster

    started = time.monotonic()
    with LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=2, threads_per_worker=1, processes=True, protocol="tcp", host="127.0.0.1",
        dashboard_address=":0", timeout=CLUSTER_DEADLINE,  # any free port: never a clash
    ) as local, Client(local, set_as_default=False) as client:  # type: ignore[no-untyped-call]  # fmt: skip
        left = CLUSTER_DEADLINE - (time.monotonic() - started)
        client.wait_for_workers(2, timeout=max(left, 1.0))
        yield str(local.scheduler_address)


def _seed(engine: Engine, registry: Registry, synthetic: SyntheticYear, folder: Path) -> None:
    """A month (and a few days before it) of automatic values, the month's laboratory samples
    and the section statuses."""
    start, end = day_bounds(FIRST - dt.timedelta(days=CONTEXT_DAYS), LAST)
    frame = synthetic.observations
    frame = frame[(frame["observed_at"] >= start) & (frame["observed_at"] < end)]
    rows = [{**row, "source": "hj212"} for row in frame.to_dict("records")]
    store_rows(engine, rows)
    lab = synthetic.lab[synthetic.lab["sampled_at"].str.startswith(f"{FIRST:%Y-%m}")]
    report = import_manual(
        engine=engine, registry=registry, path=write_lab_csv(lab, folder / "lab.csv")
    )
    assert not report.errors and report.counts.inserted > 0
    insert_section_statuses(engine=engine, frame=synthetic.statuses, source="demo")


@pytest.fixture
def seeded(db: Engine, small_registry: Registry, synthetic: SyntheticYear,
           tmp_path: Path) -> Engine:  # fmt: skip
    _seed(db, small_registry, synthetic, tmp_path)
    return db


@pytest.fixture
def clone(seeded: Engine, settings: Settings, tmp_path: Path) -> Iterator[Engine]:
    """A copy of the seeded database (SQLite: the file; PostgreSQL: a database made from it as
    template)."""
    url = seeded.url
    seeded.dispose()  # no open connection while the database is copied
    if url.get_backend_name() == "sqlite":
        assert url.database is not None
        target = tmp_path / "clone.db"
        shutil.copyfile(url.database, target)
        made = make_engine(settings.with_(database_url=f"sqlite:///{target}"))
        yield made
        made.dispose()
        return
    name = f"{url.database}_clone"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{url.database}"'))
    copy = url.set(database=name).render_as_string(hide_password=False)
    made = make_engine(settings.with_(database_url=copy))
    yield made
    made.dispose()
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _run_all(engine: Engine, registry: Registry, **fan: Any) -> None:
    """QA/QC of the month, its daily classes, its roll-up."""
    low, high = day_bounds(FIRST, LAST)
    run_quality(engine=engine, registry=registry, start=low, end=high, **_stations(fan))
    run_daily(engine=engine, registry=registry, first=FIRST, last=LAST, **fan)
    run_monthly(engine=engine, registry=registry, month=FIRST, **fan)


def _stations(fan: dict[str, Any]) -> dict[str, Any]:
    return {("chunk_stations" if k == "chunk_sections" else k): v for k, v in fan.items()}


_VOLATILE = {"computed_at", "received_at", "started_at", "finished_at", "updated_at"}


def _table(engine: Engine, model: Any) -> list[dict[str, Any]]:
    """Every row of a table in key order, without the times a run stamps."""
    table = table_of(model)
    with engine.connect() as connection:
        query = select(table).order_by(*table.primary_key.columns)
        rows = connection.execute(query).mappings().all()
    return [{k: v for k, v in row.items() if k not in _VOLATILE} for row in rows]


def _assert_same_tables(single: Engine, fanned: Engine) -> None:
    for model in (Observation, DailyResult, MonthlyResult, MonthlySummary):
        expected, found = _table(single, model), _table(fanned, model)
        assert len(found) == len(expected) > 0, model.__name__
        different = [(e, f) for e, f in zip(expected, found, strict=True) if e != f]
        assert not different, f"{model.__name__}: {len(different)} differ, first {different[0]}"
    flags = [row["qc_flag"] for row in _table(fanned, Observation)]
    assert any(flag is not None for flag in flags)  # QA/QC did write flags
    assert [(r["job"], r["status"]) for r in _table(fanned, JobRun)] == [
        (r["job"], r["status"]) for r in _table(single, JobRun)
    ]


def _task_prefixes(address: str) -> set[str]:
    """The names of the functions the cluster's scheduler has run tasks of."""
    from distributed import Client

    with Client(address, set_as_default=False) as client:  # type: ignore[no-untyped-call]
        return set(client.run_on_scheduler(_prefixes))


def _prefixes(dask_scheduler: Any) -> list[str]:
    return [str(name) for name in dask_scheduler.task_prefixes]


def test_a_dask_cluster_stores_exactly_what_one_process_does(
    seeded: Engine, clone: Engine, small_registry: Registry, settings: Settings, cluster: str
) -> None:
    _run_all(seeded, small_registry, workers=1)
    dask = settings.with_(dask_scheduler=cluster)
    _run_all(clone, small_registry, settings=dask, chunk_sections=CHUNK)
    _assert_same_tables(seeded, clone)
    assert {"flag_chunk", "classify_chunk", "month_chunk"} <= _task_prefixes(cluster)


def test_the_process_pool_stores_exactly_what_one_process_does(
    seeded: Engine, clone: Engine, small_registry: Registry
) -> None:
    _run_all(seeded, small_registry)  # seven sections: inline by default
    _run_all(clone, small_registry, workers=2, chunk_sections=CHUNK)
    _assert_same_tables(seeded, clone)


def test_the_default_chunks_on_dask_store_what_one_process_does(
    seeded: Engine, clone: Engine, small_registry: Registry, settings: Settings, cluster: str
) -> None:
    """Without chunk sizes: a scheduler set sends the (one) chunk of a small registry to Dask."""
    run_daily(engine=seeded, registry=small_registry, first=FIRST, last=LAST)
    run_daily(engine=clone, registry=small_registry, first=FIRST, last=LAST,
              settings=settings.with_(dask_scheduler=cluster))  # fmt: skip
    assert _table(clone, DailyResult) == _table(seeded, DailyResult) != []


def _broken(registry: Registry, **changes: Any) -> Registry:
    """The registry with a wrong entry for one section (as no registry file could give):
    classifying (``water_body="sea"``) or checking (a standard that is no number) it raises."""
    sections = tuple(
        dataclasses.replace(s, **changes) if s.id == BROKEN else s for s in registry.sections
    )
    return Registry(units=registry.units, sections=sections)


BROKEN = "hutuo-anping"  # in the second chunk of two, with qingliang-gucheng
BROKEN_CHUNK = {"hutuo-anping", "qingliang-gucheng"}
SEA = {"water_body": "sea"}
NO_NUMBER = {"standards": {key: "不是数" for key in ("codmn", "nh3n", "tp", "do", "ph")}}


def _runs(engine: Engine) -> list[dict[str, Any]]:
    return _table(engine, JobRun)


def test_a_failing_chunk_of_days_keeps_the_others_and_its_earlier_rows(
    seeded: Engine, small_registry: Registry, settings: Settings, cluster: str
) -> None:
    first = run_daily(engine=seeded, registry=small_registry, first=FIRST, last=LAST)
    before = {(r["section_id"], r["day"]): r for r in _table(seeded, DailyResult)}
    dask = settings.with_(dask_scheduler=cluster)
    with pytest.raises(BatchError, match=r"1 of 4 items failed.*unknown water body") as caught:
        run_daily(engine=seeded, registry=_broken(small_registry, **SEA), first=FIRST,
                  last=LAST, settings=dask, chunk_sections=CHUNK)  # fmt: skip
    assert set(caught.value.results) == {0, 2, 3}
    after = {(r["section_id"], r["day"]): r for r in _table(seeded, DailyResult)}
    assert after.keys() == before.keys()
    for key, row in after.items():
        if key[0] in BROKEN_CHUNK:  # its earlier rows, untouched
            assert row == before[key]
        else:  # classified again by the failed run, with the same result
            assert row["run_id"] != first.run_id
            assert {k: v for k, v in row.items() if k not in ("id", "run_id")} == {
                k: v for k, v in before[key].items() if k not in ("id", "run_id")
            }
    failed = _runs(seeded)[-1]
    assert failed["job"] == "daily" and failed["status"] == "failed"
    assert sorted(failed["detail"]["failed_sections"]) == sorted(BROKEN_CHUNK)


def test_a_failing_chunk_of_stations_keeps_the_others_flags(
    seeded: Engine, clone: Engine, small_registry: Registry
) -> None:
    low, high = day_bounds(FIRST, LAST)
    run_quality(engine=seeded, registry=small_registry, start=low, end=high)
    with pytest.raises(BatchError, match=r"1 of 4 items failed"):
        run_quality(engine=clone, registry=_broken(small_registry, **NO_NUMBER), start=low,
                    end=high, workers=2, chunk_stations=CHUNK)  # fmt: skip
    expected, found = _table(seeded, Observation), _table(clone, Observation)
    assert len(found) == len(expected)
    lost = [f for e, f in zip(expected, found, strict=True) if e != f]
    assert lost and {r["section_id"] for r in lost} <= BROKEN_CHUNK  # only its stations unflagged
    assert all(r["qc_flag"] is None for r in lost)
    kept = [f for f in found if f["section_id"] not in BROKEN_CHUNK and f["qc_flag"] is not None]
    assert kept


def test_a_failing_chunk_fails_the_roll_up_and_keeps_the_previous_one(
    seeded: Engine, small_registry: Registry
) -> None:
    run_monthly(engine=seeded, registry=small_registry, month=FIRST)
    before = _table(seeded, MonthlyResult), _table(seeded, MonthlySummary)
    with pytest.raises(BatchError, match=r"1 of 4 items failed.*unknown water body"):
        run_monthly(engine=seeded, registry=_broken(small_registry, **SEA), month=FIRST,
                    workers=2, chunk_sections=CHUNK)  # fmt: skip
    assert (_table(seeded, MonthlyResult), _table(seeded, MonthlySummary)) == before
    failed = _runs(seeded)[-1]
    assert failed["job"] == "monthly" and failed["status"] == "failed"


def test_large_registries_fan_out_small_ones_run_inline() -> None:
    from service.fanout import plan_chunks
    from service.jobs.daily import INLINE_SECTIONS, MIN_CHUNK_SECTIONS

    assert plan_chunks(19, inline_up_to=INLINE_SECTIONS).workers == 1
    national = plan_chunks(3600, workers=2, inline_up_to=INLINE_SECTIONS,
                           min_size=MIN_CHUNK_SECTIONS)  # fmt: skip
    assert national.workers == 2 and national.size == 450  # four chunks per worker
    assert plan_chunks(300, workers=8, min_size=MIN_CHUNK_SECTIONS).size == MIN_CHUNK_SECTIONS

