"""Valid-answer latency of the HJ 212 receiver while it is abused (issue 11).

One station on 127.0.0.1 sends a data frame and waits for its 9014 answer, again and again;
the latency of each answer (median, p95) is measured with the receiver quiet (the baseline of
the same run, same SQLite database) and under three floods, sent by a separate process so that
the attackers' own work does not run on the receiver's event loop:

- ``garbage``: connections from 127.0.0.2 writing ``#`` as fast as they can (64 KiB writes),
  reconnecting 1 ms after the receiver closes or refuses them;
- ``wrong_password``: connections from 127.0.0.3 sending frames of the registered MN, each with
  a different wrong password (so no memoised verdict helps), ~1,000 frames/s;
- ``both`` at once.

Two receiver configurations: the defaults (back-off of failing addresses on), and ``no_backoff``
(``failure_limit=0``, ``max_garbage_bytes=0``): then only the bounded garbage archive, the read
rate and the memoised password checks off the event loop protect the valid station. The ratios
are each flood's latency over the quiet latency of the same configuration.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import multiprocessing
import socket
import statistics
import struct
import tempfile
import time
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from service.db.engine import make_engine, migrate
from service.db.ingest import add_station
from service.db.models import RawMessage
from service.feeds.hj212 import data_frame
from service.feeds.hj212_receiver import Hj212Receiver, ReceiverConfig
from service.settings import Settings
from service.time import BEIJING

MN, PASSWORD = "HS131100AB000001", "pw"
PROBES, WARMUP = 200, 10
SCENARIOS = ("quiet", "garbage", "wrong_password", "both")
CONFIGS = {
    "defaults": ReceiverConfig(host="127.0.0.1", port=0),
    "no_backoff": ReceiverConfig(host="127.0.0.1", port=0, failure_limit=0, max_garbage_bytes=0),
}
GARBAGE_CONNECTIONS, PASSWORD_CONNECTIONS = 4, 4
PASSWORD_RATE = 1_000  # wrong-password frames per second, all connections together
START_DEADLINE = 10.0  # seconds the floods may take to reach the receiver


def _abortive(writer: asyncio.StreamWriter) -> None:
    """Close with a reset (SO_LINGER 0): unsent flood bytes are dropped, not delivered later."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


async def _garbage(port: int, stop: Event) -> None:
    chunk = b"#" * 65_536
    while not stop.is_set():
        try:
            _, writer = await asyncio.open_connection(
                "127.0.0.1", port, local_addr=("127.0.0.2", 0)
            )
            _abortive(writer)
            while not stop.is_set():
                writer.write(chunk)
                await writer.drain()
        except OSError:
            pass
        await asyncio.sleep(0.001)


async def _passwords(port: int, stop: Event, first: int) -> None:
    start = dt.datetime(2026, 3, 1, tzinfo=BEIJING)
    number = first
    per_tick = max(PASSWORD_RATE // PASSWORD_CONNECTIONS // 100, 1)  # every 10 ms
    while not stop.is_set():
        try:
            _, writer = await asyncio.open_connection(
                "127.0.0.1", port, local_addr=("127.0.0.3", 0)
            )
            _abortive(writer)
            while not stop.is_set():
                for _ in range(per_tick):
                    number += 1
                    when = start + dt.timedelta(minutes=number)
                    writer.write(data_frame(mn=MN, pw=f"wrong{number}", values={"nh3n": 0.3},
                                            data_time=when))  # fmt: skip
                await writer.drain()
                await asyncio.sleep(0.01)
        except OSError:
            pass
        await asyncio.sleep(0.001)


def _attack(kinds: tuple[str, ...], port: int, stop: Event) -> None:
    """The attackers' process: run the floods of ``kinds`` until ``stop`` is set."""

    async def main() -> None:
        tasks = []
        if "garbage" in kinds:
            tasks += [_garbage(port, stop) for _ in range(GARBAGE_CONNECTIONS)]
        if "wrong_password" in kinds:
            tasks += [_passwords(port, stop, i * 10**7) for i in range(PASSWORD_CONNECTIONS)]
        runners = [asyncio.create_task(task) for task in tasks]
        while not stop.is_set():
            await asyncio.sleep(0.05)
        for runner in runners:
            runner.cancel()
        await asyncio.gather(*runners, return_exceptions=True)

    asyncio.run(main())


async def _probe(port: int, count: int, first_hour: int) -> list[float]:
    """Send ``count`` valid frames one at a time; seconds until each is answered."""
    start = dt.datetime(2026, 6, 1, tzinfo=BEIJING)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    latencies = []
    for i in range(count):
        frame = data_frame(mn=MN, pw=PASSWORD, values={"nh3n": 0.4, "tp": 0.1},
                           data_time=start + dt.timedelta(hours=first_hour + i))  # fmt: skip
        sent = time.perf_counter()
        writer.write(frame)
        await writer.drain()
        async with asyncio.timeout(30):
            line = await reader.readline()
        if b"CN=9014" not in line:
            raise RuntimeError(f"probe {i}: no answer ({line!r})")
        latencies.append(time.perf_counter() - sent)
    writer.close()
    return latencies


def _summary(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "median_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


def _raw_rows(engine: Any) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(RawMessage)).scalar_one())


async def _scenario(
    engine: Any, config: ReceiverConfig, scenario: str, first_hour: int
) -> dict[str, Any]:
    """One scenario on a receiver of its own (no back-off carried over from another)."""
    receiver = Hj212Receiver(engine=engine, config=config)
    _, port = await receiver.start()
    rows_before = await asyncio.to_thread(_raw_rows, engine)
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    kinds = {"quiet": (), "both": ("garbage", "wrong_password")}.get(scenario, (scenario,))
    attacker = context.Process(target=_attack, args=(kinds, port, stop), daemon=True)
    stats = receiver.stats
    try:
        if kinds:
            attacker.start()
            deadline = time.monotonic() + START_DEADLINE
            while time.monotonic() < deadline:  # until each flood has reached the receiver
                garbage = "garbage" not in kinds or stats.garbage_bytes > 0
                passwords = "wrong_password" not in kinds or stats.bad_password > 0
                if garbage and passwords:
                    break
                await asyncio.sleep(0.01)
        try:
            await _probe(port, WARMUP, first_hour)
            began = time.perf_counter()
            latencies = await _probe(port, PROBES, first_hour + WARMUP)
            seconds = time.perf_counter() - began
        finally:
            stop.set()
            if kinds:
                await asyncio.to_thread(attacker.join, 10)
                if attacker.is_alive():
                    attacker.terminate()
                    attacker.join(5)
    finally:
        await receiver.close()
    return {
        **_summary(latencies),
        "flood_bytes_refused": stats.garbage_bytes,
        "wrong_password_frames": stats.bad_password,
        "probe_seconds": round(seconds, 2),
        "raw_rows_added": await asyncio.to_thread(_raw_rows, engine) - rows_before,
        "connections_refused": stats.connections_refused,
        "backoffs": stats.backoffs,
    }


async def _configuration(engine: Any, config: ReceiverConfig, offset: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for number, scenario in enumerate(SCENARIOS):
        first_hour = offset + number * (PROBES + WARMUP)
        results[scenario] = await _scenario(engine, config, scenario, first_hour)
    quiet = results["quiet"]
    for scenario in SCENARIOS[1:]:
        results[scenario]["median_ratio_to_quiet"] = round(
            results[scenario]["median_ms"] / quiet["median_ms"], 2
        )
        results[scenario]["p95_ratio_to_quiet"] = round(
            results[scenario]["p95_ms"] / quiet["p95_ms"], 2
        )
    return results


def run() -> dict[str, Any]:
    result: dict[str, Any] = {
        "benchmark": "abuse",
        "probes": PROBES,
        "garbage_connections": GARBAGE_CONNECTIONS,
        "wrong_password_connections": PASSWORD_CONNECTIONS,
        "wrong_password_frames_per_second": PASSWORD_RATE,
    }
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(Settings(data_dir=Path(folder), database_url=None))
        migrate(engine)
        add_station(engine=engine, mn=MN, section_id="xiaofanqiao", password=PASSWORD)
        for number, (name, config) in enumerate(CONFIGS.items()):
            offset = number * len(SCENARIOS) * (PROBES + WARMUP)
            result[name] = asyncio.run(_configuration(engine, config, offset))
        with engine.connect() as connection:
            result["raw_message_rows"] = connection.execute(
                select(func.count()).select_from(RawMessage)
            ).scalar_one()
        engine.dispose()
    worst = max(
        result[name][scenario]["p95_ratio_to_quiet"]
        for name in CONFIGS
        for scenario in SCENARIOS[1:]
    )
    result["worst_p95_ratio_to_quiet"] = worst
    result["target"] = "valid answers' p95 under any flood ≤ 5 × the quiet p95 of the same run"
    result["met"] = worst <= 5
    return result
