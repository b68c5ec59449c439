"""End-to-end HJ 212 ingestion: observations stored per second over TCP, SQLite and PostgreSQL.

20 station connections send 2011 frames with 9 parameters each as fast as the receiver answers;
the clock stops when every frame has its 9014 answer (so every observation is committed).
Baseline, measured in the same run on the same database: the same observations written with the
driver's fastest bulk path and no checks (:func:`~service.db.bulk.bulk_insert`: ``executemany``
/ binary ``COPY``), the floor of storing them; it is measured before and after the receiver's run
and the faster of the two is the floor (the ratio is the conservative one).
PostgreSQL runs on a throwaway server started as the tests do (skipped when none can start).
Each database's results carry the peak resident memory of this process so far
(``resource.getrusage``); the target is a ratio of at least :data:`TARGET_RATIO` on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from service.db.bulk import bulk_insert
from service.db.engine import make_engine, migrate
from service.db.ingest import add_station
from service.db.models import utc_now
from service.feeds.hj212 import data_frame
from service.feeds.hj212_receiver import Hj212Receiver, ReceiverConfig
from service.settings import Settings
from service.time import BEIJING

STATIONS, FRAMES = 20, 1_000
KEYS = ("temp", "ph", "do", "conductivity", "turbidity", "codmn", "nh3n", "tp", "tn")
TARGET_RATIO = 0.5
"""PostgreSQL observations/s through the receiver over the bulk floor, at least (issue "Beyond
one city")."""


def _frames() -> dict[str, list[bytes]]:
    start = dt.datetime(2026, 3, 1, tzinfo=BEIJING)
    return {
        f"HS131100B{s:02d}0001": [
            data_frame(mn=f"HS131100B{s:02d}0001", pw="pw", data_time=start + dt.timedelta(hours=i),
                       values={k: round(1 + s / 4 + i / 1e3 + j / 2, 3) for j, k in enumerate(KEYS)}
                       )
            for i in range(FRAMES)
        ]
        for s in range(STATIONS)
    }  # fmt: skip


async def _send(port: int, frames: list[bytes]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"".join(frames))
    await writer.drain()
    answered = 0
    while answered < len(frames):
        line = await reader.readline()
        if not line:
            raise RuntimeError("connection closed before every frame was answered")
        answered += 1
    writer.close()


async def _run(engine: Any, frames: dict[str, list[bytes]]) -> float:
    receiver = Hj212Receiver(engine=engine, config=ReceiverConfig(host="127.0.0.1", port=0))
    _, port = await receiver.start()
    start = time.perf_counter()
    await asyncio.gather(*(_send(port, f) for f in frames.values()))
    seconds = time.perf_counter() - start
    await receiver.close()
    return seconds


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux: KiB


def _baseline(engine: Any, tag: str) -> float:
    now = utc_now()
    start_time = dt.datetime(2027, 3, 1, tzinfo=dt.UTC)
    rows = [
        (f"{tag}{s:02d}", "xiaofanqiao", key, start_time + dt.timedelta(hours=i), 1.0, "mg/L", "N",
         "baseline", "raw", now)
        for s in range(STATIONS) for i in range(FRAMES) for key in KEYS
    ]  # fmt: skip
    columns = ("station", "section_id", "parameter", "observed_at", "value", "unit",
               "station_flag", "source", "processing_level", "received_at")  # fmt: skip
    start = time.perf_counter()
    with engine.begin() as connection:
        bulk_insert(connection, "observation", columns, rows)
    return time.perf_counter() - start


def _measure(url: str | None, folder: Path) -> dict[str, Any]:
    engine = make_engine(Settings(data_dir=folder, database_url=url))
    migrate(engine)
    for mn in (f"HS131100B{s:02d}0001" for s in range(STATIONS)):
        add_station(engine=engine, mn=mn, section_id="xiaofanqiao", password="pw")
    frames = _frames()
    before = _baseline(engine, "BASA")
    seconds = asyncio.run(_run(engine, frames))
    after = _baseline(engine, "BASB")
    baseline = min(before, after)
    engine.dispose()
    observations = STATIONS * FRAMES * len(KEYS)
    return {
        "frames": STATIONS * FRAMES,
        "observations": observations,
        "seconds": round(seconds, 2),
        "observations_per_second": round(observations / seconds),
        "frames_per_second": round(STATIONS * FRAMES / seconds),
        "baseline_bulk_insert_per_second": round(observations / baseline),
        "baseline_before_after_seconds": [round(before, 2), round(after, 2)],
        "ratio_to_bulk_insert": round((observations / seconds) / (observations / baseline), 3),
        "peak_rss_mb": _peak_rss_mb(),
    }


def run() -> dict[str, Any]:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.pg_server import start_postgres

    result: dict[str, Any] = {"benchmark": "ingest", "connections": STATIONS}
    with tempfile.TemporaryDirectory() as folder:
        result["sqlite"] = _measure(None, Path(folder) / "sqlite")
    server = start_postgres()
    if isinstance(server, str):
        result["postgresql"] = f"skipped: {server}"
    else:
        try:
            admin = create_engine(server.url, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text("CREATE DATABASE qingliu_bench"))
            admin.dispose()
            url = (
                make_url(server.url)
                .set(database="qingliu_bench")
                .render_as_string(hide_password=False)
            )
            with tempfile.TemporaryDirectory() as folder:
                result["postgresql"] = _measure(url, Path(folder))
        finally:
            server.stop()
    pg = result.get("postgresql")
    result["target"] = f"≥ {TARGET_RATIO} of the bulk floor (COPY) on PostgreSQL"
    result["met"] = isinstance(pg, dict) and pg["ratio_to_bulk_insert"] >= TARGET_RATIO
    result["peak_rss_mb_in_process"] = _peak_rss_mb()
    return result
