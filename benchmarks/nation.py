"""A nation-scale synthetic year in PostgreSQL: loaded, then queried as the service reads it.

**Load.** One automatic station per section of the 3,600-section synthetic registry
(:func:`benchmarks.daily_nation.national_registry`), every 4 hours (Beijing 0, 4, … 20 h), the 9
parameters an automatic station sends, for :data:`YEAR`: 3,600 × 6 × 365 × 9 = 70,956,000
observations. Values are generated vectorised (NumPy, seed :data:`SEED`): each station's level of
each parameter is resampled from one row of the national snapshot (CNEMC, 2025-11-07) of its
water body, then varied by season, hour and lognormal noise; 0.5 % of values carry a maintenance
or fault flag (M, D). Month by month (the service's own :func:`create_month_partition` makes the
partition first) the rows are written with one binary ``COPY observation … FROM STDIN`` per month,
encoded in blocks of one parameter × one model section's copies (≈ 40,000 rows, a few MB), so
memory stays bounded whatever the size. Then ``ANALYZE observation``. Reported: load time,
observations/s, the partitions' size on disk (heap and indexes), peak RSS of the loader.

Free disk is checked before loading (at :data:`BYTES_PER_ROW_GUESS`) and after the first month
(at its measured size, plus the WAL the server may keep): too little, and the load stops with
the figures.

**Kept database.** Loading takes a while, so ``--keep-database DIR`` (or the environment
variable :data:`KEEP_ENV`) keeps the server's data directory in ``DIR``: the next run starts the
same server and reuses the database when its load marker matches (stations, months, seed) and
``count(*)`` of ``observation`` gives the marker's rows; otherwise it is loaded afresh. Without
it, a throwaway server in a temporary folder is loaded and removed. ``--database-url URL`` loads
into (or reuses) database ``qingliu_nation`` on that server instead, and leaves it there.

**Queries**, each timed cold (first call) and as the median of :data:`REPEATS` warm calls, with
the plan of its slowest statement (``EXPLAIN ANALYZE``):

- the section page: a section's first/last observation and counts per parameter, and its
  charted daily values over 30, 90 and 365 days (:func:`section_values`: load and daily means);
- ``/api/sections/{id}/observations``: the first page (500, newest first) of all the section's
  observations, and of one parameter over 30 days;
- the overview's count of all observations (``/``);
- the daily job's load of one day for all sections (:func:`load_observations`), and the daily
  job itself for that day (:func:`run_daily`) in this process and on the 2-worker process pool;
- the monthly roll-up of the day's month (:func:`run_monthly`, 2 workers), so that the month's
  bulletin, summary and statement pages have data (``python -m benchmarks api`` reads them).

Run::

    .venv/bin/python -m benchmarks nation --stations 100 --months 1        # a quick check
    .venv/bin/python -m benchmarks nation --keep-database /work/nation-pg  # the year, kept
    QINGLIU_BENCH_NATION_DIR=/work/nation-pg .venv/bin/python -m benchmarks nation
"""

from __future__ import annotations

import datetime as dt
import os
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from benchmarks.daily_nation import national_registry
from benchmarks.pg_binary import (
    HEADER,
    TRAILER,
    Field,
    encode_block,
    fixed_text,
    float8,
    timestamptz,
    timestamptz_constant,
)
from benchmarks.pg_cluster import SERVER_OPTIONS, Cluster, start_cluster
from sections.registry import Registry, Section
from service.db import queries
from service.db.engine import make_engine, migrate
from service.db.partitions import create_month_partition
from service.jobs.observations import load_observations
from service.settings import Settings
from service.time import BEIJING

STATIONS = 3_600
YEAR = 2025
MONTHS = 12
HOURS = (0, 4, 8, 12, 16, 20)
KEYS = ("temp", "ph", "do", "conductivity", "turbidity", "codmn", "nh3n", "tp", "tn")
UNITS = {"temp": "℃", "ph": "dimensionless", "conductivity": "μS/cm", "turbidity": "NTU"}
"""Units as the parameters table gives them (mg/L for the rest)."""
SEED = 2025
REPEATS = 5
DATABASE = "qingliu_nation"
KEEP_ENV = "QINGLIU_BENCH_NATION_DIR"
SOURCE = "benchmark"
MARKER = "benchmark_nation_load"
"""A table of the loaded database saying what was loaded (reuse checks it)."""
BYTES_PER_ROW_GUESS = 330
"""Disk per observation (heap and four indexes) assumed before the first month is measured."""
WAL_ALLOWANCE = 9 * 2**30
"""Disk the server's WAL may take while loading (``max_wal_size`` 8 GB and a margin)."""
SNAPSHOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "cnemc" / (
    "national-2025-11-07.csv"
)
_COLUMNS = ("station", "section_id", "parameter", "observed_at", "value", "unit", "station_flag",
            "source", "processing_level", "received_at")  # fmt: skip
_FALLBACK = {"temp": 14.0, "ph": 7.9, "do": 8.4, "conductivity": 800.0, "turbidity": 10.0,
             "codmn": 3.5, "nh3n": 0.2, "tp": 0.08, "tn": 3.0}  # fmt: skip
_DECIMALS = {"temp": 1, "ph": 2, "do": 2, "conductivity": 1, "turbidity": 1, "codmn": 2,
             "nh3n": 3, "tp": 3, "tn": 2}  # fmt: skip


# --- values -------------------------------------------------------------------------------------


def _months(count: int) -> list[dt.date]:
    return [dt.date(YEAR, m, 1) for m in range(1, count + 1)]


def _month_times(month: dt.date) -> npt.NDArray[np.datetime64]:
    """The month's 4-hourly Beijing instants as UTC ``datetime64[us]``."""
    end = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    days = pd.date_range(month, end, inclusive="left", freq="D", tz=BEIJING)
    times = (days.values.reshape(-1, 1) + np.array([h * 3600 * 10**6 for h in HOURS],
                                                     dtype="timedelta64[us]"))  # fmt: skip
    flat: npt.NDArray[np.datetime64] = times.reshape(-1).astype("datetime64[us]")
    return flat


def station_levels(registry: Registry, seed: int = SEED) -> dict[str, npt.NDArray[np.float64]]:
    """Each station's level of each parameter: one snapshot row of its water body per station
    (a missing value taken from another row of the same water body)."""
    rng = np.random.default_rng([seed, 0])
    if SNAPSHOT.is_file():
        table = pd.read_csv(SNAPSHOT, usecols=[*KEYS, "water_body"])
    else:  # without the shared data: plausible magnitudes
        table = pd.DataFrame({k: [v] for k, v in _FALLBACK.items()} | {"water_body": ["river"]})
    bodies = np.array([s.water_body for s in registry.sections], dtype=object)
    levels = {k: np.empty(len(bodies)) for k in KEYS}
    for body in np.unique(bodies):
        mine = np.flatnonzero(bodies == body)
        rows = table[table["water_body"] == body]
        if rows.empty:
            rows = table
        picks = rng.integers(0, len(rows), len(mine))
        for key in KEYS:
            column = pd.to_numeric(rows[key], errors="coerce").to_numpy(dtype=np.float64)
            known = column[~np.isnan(column)]
            if known.size == 0:
                known = np.array([_FALLBACK[key]])
            chosen = column[picks]
            gaps = np.isnan(chosen)
            chosen[gaps] = known[rng.integers(0, known.size, int(gaps.sum()))]
            levels[key][mine] = chosen
    return levels


def month_values(
    key: str, level: npt.NDArray[np.float64], times: npt.NDArray[np.datetime64], month: dt.date,
    seed: int = SEED,
) -> npt.NDArray[np.float64]:  # fmt: skip
    """Values ``(stations, times)`` of one parameter in one month: the station's level varied
    by season, hour of day and lognormal noise (deterministic per month and parameter)."""
    rng = np.random.default_rng([seed, month.month, KEYS.index(key) + 1])
    local = times + np.timedelta64(8, "h")
    day = (local.astype("datetime64[D]") - np.datetime64(f"{YEAR}-01-01")).astype(np.float64)
    hour = (local.astype("datetime64[h]").astype(np.int64) % 24).astype(np.float64)
    season = np.sin(2 * np.pi * (day - 105) / 365.25)[None, :]  # +1 in mid-July
    daily = np.sin(2 * np.pi * (hour - 8) / 24)[None, :]  # +1 at 14 h
    base = level[:, None]
    shape = (level.size, times.size)
    if key == "temp":
        values = base + 3 + 11 * season + daily + rng.normal(0, 0.5, shape)
        values = np.clip(values, 0.1, 35)
    elif key == "ph":
        values = np.clip(base + 0.15 * daily + rng.normal(0, 0.1, shape), 6.0, 9.8)
    elif key == "do":
        values = base * (1 - 0.2 * season + 0.1 * daily) * np.exp(rng.normal(0, 0.12, shape))
        values = np.clip(values, 0.2, 20)
    elif key == "conductivity":
        values = base * np.exp(rng.normal(0, 0.08, shape))
    elif key == "turbidity":
        values = base * (1 + 0.3 * np.maximum(season, 0)) * np.exp(rng.normal(0, 0.35, shape))
    elif key == "nh3n":
        values = base * (1 - 0.3 * season) * np.exp(rng.normal(0, 0.25, shape))
    else:
        values = base * (1 + 0.15 * season) * np.exp(rng.normal(0, 0.25, shape))
    rounded: npt.NDArray[np.float64] = np.round(values, _DECIMALS[key])
    return rounded


def _flags(rng: np.random.Generator, shape: tuple[int, int]) -> npt.NDArray[np.uint8]:
    """Station flags as bytes: N, with 0.3 % M (maintenance) and 0.2 % D (fault)."""
    draw = rng.random(shape)
    flags = np.full(shape, ord("N"), dtype=np.uint8)
    flags[draw < 0.005] = ord("D")
    flags[draw < 0.003] = ord("M")
    return flags


def month_blocks(
    registry: Registry, levels: dict[str, npt.NDArray[np.float64]], month: dt.date,
    received: dt.datetime, seed: int = SEED,
) -> Iterator[tuple[int, bytes]]:  # fmt: skip
    """The month's rows as binary COPY blocks ``(rows, bytes)``: one per parameter and group of
    stations whose ids have one length (the copies of one model section)."""
    times = _month_times(month)
    stamps = timestamptz(times)
    groups: dict[tuple[int, int], list[int]] = {}
    for i, s in enumerate(registry.sections):
        widths = (len((s.station_mn or s.id).encode()), len(s.id.encode()))
        groups.setdefault(widths, []).append(i)
    constant = {"source": SOURCE.encode(), "level": b"raw",
                "received": timestamptz_constant(received)}  # fmt: skip
    for key in KEYS:
        values = month_values(key, levels[key], times, month, seed)
        flags = _flags(np.random.default_rng([seed, month.month, 100 + KEYS.index(key)]),
                       values.shape)  # fmt: skip
        for members in groups.values():
            chosen = [registry.sections[i] for i in members]
            rows = len(members) * times.size
            fields: list[Field] = [
                fixed_text([s.station_mn or s.id for s in chosen], times.size),
                fixed_text([s.id for s in chosen], times.size),
                key.encode(),
                np.tile(stamps, (len(members), 1)),
                float8(values[members].reshape(-1)),
                UNITS.get(key, "mg/L").encode(),
                flags[members].reshape(-1, 1),
                constant["source"],
                constant["level"],
                constant["received"],
            ]
            yield rows, encode_block(fields, rows)


# --- the server and the load --------------------------------------------------------------------


@dataclass
class Target:
    """Where the nation's database is: its URL, the server we started (if any), its disk."""

    url: str
    cluster: Cluster | None
    disk: Path | None


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _marker(engine: Engine) -> dict[str, Any] | None:
    with engine.connect() as connection:
        if connection.execute(text("SELECT to_regclass(:t)"), {"t": MARKER}).scalar() is None:
            return None
        row = connection.execute(text(f"SELECT * FROM {MARKER}")).mappings().first()
        return dict(row) if row else None


def partition_sizes(engine: Engine) -> dict[str, Any]:
    """Bytes on disk of the partitions of ``observation``: heap (with TOAST), indexes, total."""
    sql = text(
        "SELECT count(*), sum(pg_table_size(inhrelid)), sum(pg_indexes_size(inhrelid)), "
        "sum(pg_total_relation_size(inhrelid)) FROM pg_inherits "
        "WHERE inhparent = 'observation'::regclass"
    )
    with engine.connect() as connection:
        partitions, table, indexes, total = connection.execute(sql).one()
    gib = 2**30
    return {"partitions": int(partitions), "table_gib": round(int(table) / gib, 2),
            "indexes_gib": round(int(indexes) / gib, 2), "total_gib": round(int(total) / gib, 2),
            "total_bytes": int(total)}  # fmt: skip


def _refusal(free: int, needed: float, what: str) -> str:
    return (
        f"磁盘空间不足 / not enough free disk: {free / 2**30:.1f} GiB free, {what} needs about "
        f"{needed / 2**30:.1f} GiB (data, indexes and {WAL_ALLOWANCE / 2**30:.0f} GiB of WAL); "
        f"free some space, point --keep-database at a larger disk, or load fewer --stations or "
        f"--months"
    )


def load(
    engine: Engine, registry: Registry, months: Sequence[dt.date], *, disk: Path | None,
    seed: int = SEED, progress: Callable[[str], None] = print,
) -> dict[str, Any]:  # fmt: skip
    """Load the synthetic months into ``observation`` with binary COPY, one month a transaction,
    then ``ANALYZE``; the figures, or ``refused`` with why when the disk is too small."""
    rows_total = len(registry.sections) * len(KEYS) * len(HOURS) * sum(
        ((m.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - m).days for m in months
    )
    if disk is not None:
        free = shutil.disk_usage(disk).free
        guess = rows_total * BYTES_PER_ROW_GUESS + WAL_ALLOWANCE
        if guess > free:
            return {"refused": _refusal(free, guess, f"{rows_total:,} observations")}
    levels = station_levels(registry, seed)
    received = dt.datetime.now(dt.UTC).replace(microsecond=0)
    copy_sql = f"COPY observation ({', '.join(_COLUMNS)}) FROM STDIN (FORMAT binary)"
    loaded = 0
    per_month: list[dict[str, Any]] = []
    started = time.perf_counter()
    for number, month in enumerate(months):
        month_started = time.perf_counter()
        rows_month = 0
        with engine.begin() as connection:
            create_month_partition(connection, month)
            cursor: Any = connection.connection.cursor()  # psycopg's COPY: not in the DB-API types
            with cursor.copy(copy_sql) as copy:
                copy.write(HEADER)
                for rows, block in month_blocks(registry, levels, month, received, seed):
                    copy.write(block)
                    rows_month += rows
                copy.write(TRAILER)
        seconds = time.perf_counter() - month_started
        loaded += rows_month
        per_month.append({"month": f"{month:%Y-%m}", "rows": rows_month,
                          "seconds": round(seconds, 1),
                          "rows_per_second": round(rows_month / seconds)})  # fmt: skip
        progress(f"  {month:%Y-%m}: {rows_month:,} rows in {seconds:.1f} s "
                 f"({rows_month / seconds:,.0f}/s), RSS peak {_peak_rss_mb()} MB")  # fmt: skip
        if number == 0 and disk is not None and len(months) > 1:
            per_row = partition_sizes(engine)["total_bytes"] / rows_month
            needed = (rows_total - loaded) * per_row * 1.1 + WAL_ALLOWANCE
            free = shutil.disk_usage(disk).free
            if needed > free:
                return {"refused": _refusal(free, needed, f"the other {rows_total - loaded:,} "
                                            f"observations at {per_row:.0f} bytes each"),
                        "loaded": loaded}  # fmt: skip
    load_seconds = time.perf_counter() - started
    analyze_started = time.perf_counter()
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE observation")
    analyze_seconds = time.perf_counter() - analyze_started
    with engine.begin() as connection:
        connection.exec_driver_sql(
            f"CREATE TABLE IF NOT EXISTS {MARKER} (stations integer, months text, seed integer, "
            "rows bigint, load_seconds double precision, loaded_at timestamptz)"
        )
        connection.exec_driver_sql(f"DELETE FROM {MARKER}")
        connection.execute(
            text(f"INSERT INTO {MARKER} VALUES (:s, :m, :seed, :r, :t, now())"),
            {"s": len(registry.sections), "m": _months_text(months), "seed": seed, "r": loaded,
             "t": load_seconds},
        )  # fmt: skip
    return {
        "rows": loaded,
        "load_seconds": round(load_seconds, 1),
        "rows_per_second": round(loaded / load_seconds),
        "analyze_seconds": round(analyze_seconds, 1),
        "months": per_month,
        "loader_peak_rss_mb": _peak_rss_mb(),
    }


def _months_text(months: Sequence[dt.date]) -> str:
    return f"{months[0]:%Y-%m}..{months[-1]:%Y-%m}"


def _target(database_url: str | None, keep: Path | None) -> Target | str:
    if database_url is not None:
        return Target(url=database_url, cluster=None, disk=None)
    started = start_cluster(keep)
    if isinstance(started, str):
        return started
    return Target(url=started.url, cluster=started, disk=started.data_dir)


def _database(admin_url: str) -> str:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": DATABASE}
        ).first()
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{DATABASE}"'))
    admin.dispose()
    return make_url(admin_url).set(database=DATABASE).render_as_string(hide_password=False)


def _drop(admin_url: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
    admin.dispose()


def prepared_database(
    *, database_url: str | None = None, keep: Path | None = None, stations: int = STATIONS,
    months: int = MONTHS, progress: Callable[[str], None] = print,
) -> tuple[Target, str, dict[str, Any]] | str:  # fmt: skip
    """The loaded nation database: reused when its marker and row count match, else loaded.

    Returns the target (stop its ``cluster`` when done), the database URL and the load figures
    (``reused`` when nothing was loaded), or why no server could start.
    """
    target = _target(database_url, keep)
    if isinstance(target, str):
        return target
    registry = national_registry(stations)
    wanted = _months(months)
    url = _database(target.url)
    engine = create_engine(url)
    try:
        marker = _marker(engine)
        if marker and (marker["stations"], marker["months"], marker["seed"]) == (
            stations, _months_text(wanted), SEED
        ):
            counted = time.perf_counter()
            rows = queries.count_observations(engine=engine)
            if rows == marker["rows"]:
                progress(f"reusing {DATABASE}: {rows:,} observations")
                return target, url, {"reused": True, "rows": rows,
                                     "count_seconds": round(time.perf_counter() - counted, 2),
                                     "load_seconds_then": round(marker["load_seconds"], 1),
                                     "loaded_at": str(marker["loaded_at"])}  # fmt: skip
        engine.dispose()
        _drop(target.url)  # a partial or different load: start afresh
        url = _database(target.url)
        engine = create_engine(url)
        with tempfile.TemporaryDirectory() as folder:
            migrate(make_engine(Settings(data_dir=Path(folder), database_url=url)))
        progress(f"loading {stations} stations × {months} months into {DATABASE} …")
        figures = load(engine, registry, wanted, disk=target.disk, progress=progress)
        figures["reused"] = False
        return target, url, figures
    finally:
        engine.dispose()


def loaded_database(
    *, database_url: str | None = None, keep: Path | None = None
) -> tuple[Target, str, dict[str, Any]] | str:
    """A nation database loaded earlier (on ``database_url``'s server or kept in ``keep``),
    never loading: the target (stop its ``cluster`` when done), its URL and its load marker;
    or why there is none."""
    if database_url is None and keep is None:
        return f"no nation database given (--database-url, --keep-database or {KEEP_ENV})"
    if keep is not None and not (keep / "data" / "PG_VERSION").exists():
        return f"no PostgreSQL data directory in {keep}: run `python -m benchmarks nation` first"
    target = _target(database_url, keep)
    if isinstance(target, str):
        return target
    url = make_url(target.url).set(database=DATABASE).render_as_string(hide_password=False)
    engine = create_engine(url)
    try:
        marker = _marker(engine)
    except Exception as exc:  # no such database: a server that never held the nation's year
        marker = None
        reason = str(exc).splitlines()[0]
    else:
        reason = f"{DATABASE} holds no complete load"
    finally:
        engine.dispose()
    if marker is None:
        if target.cluster is not None:
            target.cluster.stop()
        return f"{reason}: run `python -m benchmarks nation` with the same server first"
    return target, url, marker


def query_day(months: Sequence[dt.date]) -> dt.date:
    """The day the daily job and the day's pages are measured on: 1 July, or the 15th of the
    last loaded month when July is not loaded."""
    july = dt.date(YEAR, 7, 1)
    return july if july in months else months[-1].replace(day=15)


def months_of(marker: dict[str, Any]) -> list[dt.date]:
    """The loaded months, from a load marker's ``YYYY-MM..YYYY-MM``."""
    first, last = (dt.date.fromisoformat(f"{m}-01") for m in str(marker["months"]).split(".."))
    return [m for m in _months(12) if first <= m <= last]


# --- queries ------------------------------------------------------------------------------------


@contextmanager
def _statements(engine: Engine) -> Iterator[list[tuple[float, str, Any]]]:
    """Every statement the engine runs meanwhile: (seconds, SQL, parameters)."""
    seen: list[tuple[float, str, Any]] = []
    started: dict[int, float] = {}

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
               executemany: bool) -> None:  # fmt: skip
        started[id(cursor)] = time.perf_counter()

    def after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
              executemany: bool) -> None:  # fmt: skip
        seen.append((time.perf_counter() - started.pop(id(cursor), time.perf_counter()),
                     statement, parameters))  # fmt: skip

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def _explain(engine: Engine, statement: str, parameters: Any, lines: int = 14) -> list[str]:
    """The first lines of ``EXPLAIN (ANALYZE, BUFFERS)`` of a statement as psycopg runs it."""
    raw: Any = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
        plan = [_short(str(r[0]), 240) for r in cursor.fetchall()]
        raw.rollback()
    finally:
        raw.close()
    if len(plan) > lines:
        plan = [*plan[: lines - 2], "…", *plan[-2:]]
    return plan


def _short(statement: str, width: int = 160) -> str:
    flat = statement if statement.startswith(" ") else " ".join(statement.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def timed(engine: Engine, run: Callable[[], object], repeats: int = REPEATS,
          explain: bool = True) -> dict[str, Any]:  # fmt: skip
    """Cold (first) and warm (median of ``repeats``) wall time, and the slowest statement."""
    with _statements(engine) as seen:
        started = time.perf_counter()
        run()
        cold = time.perf_counter() - started
    warm = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        warm.append(time.perf_counter() - started)
    figures: dict[str, Any] = {"cold_s": round(cold, 3), "warm_median_s":
                               round(statistics.median(warm), 3) if warm else None,
                               "statements": len(seen)}  # fmt: skip
    if seen:
        seconds, statement, parameters = max(seen, key=lambda s: s[0])
        figures["slowest_statement"] = {"cold_s": round(seconds, 3), "sql": _short(statement)}
        if explain and statement.lstrip().upper().startswith("SELECT"):
            figures["slowest_statement"]["plan"] = _explain(engine, statement, parameters)
    return figures


def measure_queries(
    url: str, registry: Registry, months: Sequence[dt.date], *, progress: Callable[[str], None]
) -> dict[str, Any]:
    """The read paths of the service on the loaded database (see the module docstring)."""
    from service.api.routes.monitoring_api import section_observations
    from service.jobs.daily import run_daily
    from service.jobs.monthly import run_monthly
    from service.web.section_charts import section_values

    day = query_day(months)
    section: Section = registry.sections[min(1234, len(registry.sections) - 1)]
    last = max(months)
    end = (last.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    thirty_from = dt.datetime.combine(end - dt.timedelta(days=30), dt.time(), BEIJING)
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder), database_url=url)
        engine = make_engine(settings)
        out: dict[str, Any] = {"day": day.isoformat(), "section": section.id}

        def step(name: str, run: Callable[[], object], repeats: int = REPEATS,
                 explain: bool = True) -> None:  # fmt: skip
            progress(f"  {name} …")
            out[name] = timed(engine, run, repeats, explain)
            progress(f"    cold {out[name]['cold_s']} s, warm {out[name]['warm_median_s']} s")

        step("section_page_span", lambda: queries.observation_span(engine=engine,
                                                                  section_id=section.id))
        step("section_page_parameter_counts",
             lambda: queries.parameter_counts(engine=engine, section_id=section.id))
        for days in (30, 90, 365):
            step(f"section_page_values_{days}d", lambda d=days: section_values(  # type: ignore[misc]
                engine=engine, registry=registry, section=section, days=d))
        step("api_observations_first_page", lambda: section_observations(
            section.id, engine, registry, page=1, page_size=500))
        step("api_observations_nh3n_30d", lambda: section_observations(
            section.id, engine, registry, parameter="nh3n", start=thirty_from.isoformat(),
            page=1, page_size=500))  # fmt: skip
        step("overview_count_all", lambda: queries.count_observations(engine=engine), repeats=2)
        frame_rows: list[int] = []
        step("daily_job_load_one_day", lambda: frame_rows.append(
            len(load_observations(engine, registry, day, day))), repeats=2)
        out["daily_job_load_one_day"]["rows"] = frame_rows[0]
        step("daily_job_inline", lambda: run_daily(engine=engine, registry=registry, first=day,
                                                   workers=1), repeats=1, explain=False)
        step("daily_job_pool_2", lambda: run_daily(engine=engine, registry=registry, first=day,
                                                   workers=2), repeats=1, explain=False)
        step("monthly_job_pool_2", lambda: run_monthly(engine=engine, registry=registry,
                                                       month=day.replace(day=1), workers=2),
             repeats=0, explain=False)  # fmt: skip
        engine.dispose()
    return out


def run(
    database_url: str | None = None, keep_database: str | None = None,
    stations: int = STATIONS, months: int = MONTHS, load_only: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """Load (or reuse) the nation's year, then time the read paths on it."""
    keep_text = keep_database or os.environ.get(KEEP_ENV)
    keep = Path(keep_text) if keep_text else None
    result: dict[str, Any] = {
        "benchmark": "nation", "stations": stations, "months": months,
        "observations_expected": stations * len(KEYS) * len(HOURS)
        * sum(((m.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - m).days
              for m in _months(months)),
        "server": "external (--database-url)" if database_url else
        f"local PostgreSQL, {'kept in ' + str(keep) if keep else 'throwaway'}: {SERVER_OPTIONS}",
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
    }  # fmt: skip
    prepared = prepared_database(database_url=database_url, keep=keep, stations=stations,
                                 months=months)  # fmt: skip
    if isinstance(prepared, str):
        result["postgresql"] = f"skipped: {prepared}"
        return result
    target, url, figures = prepared
    try:
        result["load"] = figures
        if "refused" in figures:
            print(figures["refused"])
            return result
        engine = create_engine(url)
        result["size_on_disk"] = partition_sizes(engine)
        engine.dispose()
        if not load_only:
            result["queries"] = measure_queries(url, national_registry(stations),
                                                _months(months), progress=print)  # fmt: skip
    finally:
        if target.cluster is not None:
            target.cluster.stop()
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    return result
