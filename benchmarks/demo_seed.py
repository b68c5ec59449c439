"""Seeding the demo year: generate and store a year of every section into SQLite.

Target: ``qingliu demo`` seeds its year in under 2 minutes. Baseline, measured in the same run:
the same rows written with plain ``sqlite3.executemany`` into an equivalent bare table, the floor
of what storing these rows costs on this machine; ``ratio_store_to_baseline`` is Qingliu's storing
time (seeding minus generating) over that floor.
"""

from __future__ import annotations

import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from sections.registry import load_registry
from service.db.engine import make_engine, migrate
from service.demo.run import seed_demo
from service.demo.synthetic import generate_year
from service.settings import Settings

YEAR = 2025


def run() -> dict[str, Any]:
    registry = load_registry()
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(Settings(data_dir=Path(folder) / "data"))
        migrate(engine)
        start = time.perf_counter()
        summary = seed_demo(engine=engine, registry=registry, year=YEAR, show_progress=False)
        seed_seconds = time.perf_counter() - start
        engine.dispose()

        start = time.perf_counter()
        frame = generate_year(registry, year=YEAR).observations
        generate_seconds = time.perf_counter() - start
        baseline_seconds = _plain_sqlite(Path(folder) / "baseline.db", frame)
    return {
        "benchmark": "demo_seed",
        "observations": summary.observations,
        "seed_seconds": round(seed_seconds, 2),
        "generate_seconds": round(generate_seconds, 2),
        "baseline_plain_sqlite_insert_seconds": round(baseline_seconds, 2),
        "store_seconds": round(seed_seconds - generate_seconds, 2),
        "ratio_store_to_baseline": round((seed_seconds - generate_seconds) / baseline_seconds, 2),
        "target": "seed the demo year in under 120 s",
        "met": seed_seconds < 120,
    }


def _plain_sqlite(path: Path, frame: Any) -> float:
    rows = list(
        zip(
            frame["station"], frame["section_id"], frame["parameter"],
            frame["observed_at"].dt.strftime("%Y-%m-%d %H:%M:%S.000000"),
            frame["value"].astype(object).where(frame["value"].notna(), None),
            frame["unit"], frame["station_flag"], strict=True,
        )
    )  # fmt: skip
    connection = sqlite3.connect(path)
    connection.execute(
        "CREATE TABLE observation (id INTEGER PRIMARY KEY, station TEXT, section_id TEXT, "
        "parameter TEXT, observed_at TEXT, value REAL, unit TEXT, station_flag TEXT, "
        "UNIQUE (station, parameter, observed_at))"
    )
    start = time.perf_counter()
    with connection:
        connection.executemany(
            "INSERT INTO observation (station, section_id, parameter, observed_at, value, unit, "
            "station_flag) VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    seconds = time.perf_counter() - start
    connection.close()
    return seconds
