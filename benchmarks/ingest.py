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

On PostgreSQL the run is made twice, each on a database of its own: with one receiver in this
process, and with receivers side by side — one ``Hj212Receiver`` process per core, each on its
own port, the stations spread over them (the deployment of docs/scaling.md: one receiver
process is bound by one core's Python, the database by its own cores).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import multiprocessing
import os
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
from service.feeds.hj212.process import tune_garbage_collector
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
    tune_garbage_collector()  # as `qingliu receive hj212` does
    _, port = await receiver.start()
    start = time.perf_counter()
    await asyncio.gather(*(_send(port, f) for f in frames.values()))
    seconds = time.perf_counter() - start
    await receiver.close()
    return seconds


def _serve(url: str, folder: str, ports: Any, stop: Any) -> None:
    """One receiver process (side by side): serve until ``stop`` is set."""

    async def serve() -> None:
        engine = make_engine(Settings(data_dir=Path(folder), database_url=url))
        receiver = Hj212Receiver(engine=engine, config=ReceiverConfig(host="127.0.0.1", port=0))
        tune_garbage_collector()  # as `qingliu receive hj212` does
        _, port = await receiver.start()
        ports.put(port)
        while not stop.is_set():
            await asyncio.sleep(0.02)
        await receiver.close()
        engine.dispose()

    asyncio.run(serve())


def _run_side_by_side(url: str, folder: Path, frames: dict[str, list[bytes]], count: int) -> float:
    """Seconds until every frame is answered by ``count`` receiver processes (stations dealt
    round-robin over their ports); the processes are started and listening before the clock."""
    context = multiprocessing.get_context("spawn")
    ports, stop = context.Queue(), context.Event()
    workers = [
        context.Process(target=_serve, args=(url, str(folder), ports, stop)) for _ in range(count)
    ]
    for worker in workers:
        worker.start()
    try:
        listening = [ports.get(timeout=120) for _ in workers]

        async def send() -> float:
            start = time.perf_counter()
            await asyncio.gather(*(
                _send(listening[i % count], f) for i, f in enumerate(frames.values())
            ))  # fmt: skip
            return time.perf_counter() - start

        return asyncio.run(send())
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=60)


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


def _measure(url: str | None, folder: Path, receivers: int = 0) -> dict[str, Any]:
    """One database's run: one receiver in this process (``receivers`` 0), or that many
    receiver processes side by side."""
    engine = make_engine(Settings(data_dir=folder, database_url=url))
    migrate(engine)
    for mn in (f"HS131100B{s:02d}0001" for s in range(STATIONS)):
        add_station(engine=engine, mn=mn, section_id="xiaofanqiao", password="pw")
    frames = _frames()
    before = _baseline(engine, "BASA")
    if receivers:
        assert url is not None
        seconds = _run_side_by_side(url, folder, frames, receivers)
    else:
        seconds = asyncio.run(_run(engine, frames))
    after = _baseline(engine, "BASB")
    baseline = min(before, after)
    engine.dispose()
    observations = STATIONS * FRAMES * len(KEYS)
    return {
        "receiver_processes": receivers or 1,
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
            side_by_side = max(os.cpu_count() or 1, 2)
            for key, receivers in (("postgresql", 0), ("postgresql_side_by_side", side_by_side)):
                database = f"qingliu_bench_{receivers}"
                admin = create_engine(server.url, isolation_level="AUTOCOMMIT")
                with admin.connect() as connection:
                    connection.execute(text(f"CREATE DATABASE {database}"))
                admin.dispose()
                url = make_url(server.url).set(database=database)
                with tempfile.TemporaryDirectory() as folder:
                    result[key] = _measure(
                        url.render_as_string(hide_password=False), Path(folder), receivers
                    )
        finally:
            server.stop()
    ratios = [
        pg["ratio_to_bulk_insert"]
        for pg in (result.get("postgresql"), result.get("postgresql_side_by_side"))
        if isinstance(pg, dict)
    ]
    result["target"] = (
        f"≥ {TARGET_RATIO} of the bulk floor (COPY) on PostgreSQL (receivers side by side)"
    )
    result["met"] = bool(ratios) and max(ratios) >= TARGET_RATIO
    result["peak_rss_mb_in_process"] = _peak_rss_mb()
    return result
