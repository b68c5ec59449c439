"""Latency and throughput of the main pages and API endpoints under a bounded loopback load.

The app (:func:`service.app.create_app`) is served by uvicorn in a child process of its own
(``python -m benchmarks.api --serve …``: one process, the scheduler off), so its memory and CPU
are its own. A client in this process signs in with an API token (an administrator made with
:func:`service.accounts.add_user` and :func:`~service.accounts.create_token`, as the tests'
``bearer``) and times each endpoint's first request alone (cold caches), then sends it
:data:`REQUESTS` GETs from :data:`CONCURRENCY` concurrent workers (``httpx.AsyncClient`` over
loopback), none issued after :data:`SECONDS`; one more warm-up request is not counted. An
endpoint whose first request takes longer than :data:`SECONDS` (or fails) is not loaded: that one
request is its figure. Between endpoints the server is given time to go idle (a request the
client gave up on still runs there). Reported per endpoint: the first request, requests,
non-200 answers, p50 and p99 latency, requests/s, the server's CPU time per request, and the
ratios of p50 and requests/s to ``/healthz`` (measured first, and again last to show drift); the
server's peak RSS (VmHWM).

Two databases:

- ``demo``: the demo's synthetic year of the bundled registry, seeded with
  :func:`service.demo.run.seed_demo` into SQLite in a temporary folder, with December's QA/QC and
  daily classes, the October–December roll-ups and December's issued statement (as
  ``scripts/screenshots.py`` builds it);
- ``nation``: the 3,600-section year of ``python -m benchmarks nation`` on PostgreSQL, when it
  was kept (``--keep-database DIR`` or ``QINGLIU_BENCH_NATION_DIR``) or lives on a server given
  by ``--database-url``; skipped otherwise. Its day and month are those the nation benchmark
  classified and rolled up.

Run::

    .venv/bin/python -m benchmarks api                                   # demo only
    .venv/bin/python -m benchmarks api --keep-database /work/nation-pg   # demo and nation
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from service.settings import Settings

CONCURRENCY = 8
REQUESTS = 200
SECONDS = 20.0
WARMUP = 2
TIMEOUT = 300.0
"""Seconds a request may take; one without an answer by then counts as status 0."""
SETTLE_SECONDS = 300.0
"""At most this long the server is given to finish requests the client gave up on."""
DEMO_YEAR = 2025
DEMO_MONTH = dt.date(DEMO_YEAR, 12, 1)
DEMO_DAY = dt.date(DEMO_YEAR, 12, 15)
DEMO_SECTION = "xiaofanqiao"
_ROLLED_UP = (dt.date(DEMO_YEAR, 10, 1), dt.date(DEMO_YEAR, 11, 1), DEMO_MONTH)


@dataclass(frozen=True)
class Dataset:
    """What the server reads and which day, month and section the requests ask for."""

    name: str
    settings: Settings
    registry: str
    """``bundled`` or ``nation:<stations>`` (how the server builds its registry)."""
    day: dt.date
    month: dt.date
    section: str


def endpoints(data: Dataset) -> list[tuple[str, str]]:
    """(name, path) of the measured requests; ``/healthz`` first."""
    month = f"{data.month:%Y-%m}"
    low = dt.datetime.combine(data.day - dt.timedelta(days=29), dt.time(), dt.UTC)
    high = dt.datetime.combine(data.day + dt.timedelta(days=1), dt.time(), dt.UTC)
    window = f"from={low:%Y-%m-%dT%H:%M:%S}%2B00:00&to={high:%Y-%m-%dT%H:%M:%S}%2B00:00"
    return [
        ("healthz", "/healthz"),
        ("overview /", "/"),
        ("daily page", f"/daily?date={data.day}"),
        ("section page", f"/sections/{data.section}"),
        ("bulletin page", f"/bulletins/{month}"),
        ("compensation page", f"/compensation/{month}"),
        ("api observations (nh3n, 30 days)",
         f"/api/sections/{data.section}/observations?parameter=nh3n&{window}"),
        ("api classifications", f"/api/classifications?date={data.day}"),
        ("api summary", f"/api/summary?month={month}"),
        ("api compensation", f"/api/compensation/{month}"),
    ]  # fmt: skip


# --- the server ---------------------------------------------------------------------------------


def _serve(argv: list[str]) -> None:
    """The child process: build the app and serve it until SIGINT."""
    import uvicorn

    from service.app import create_app

    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", action="store_true")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--database-url")
    parser.add_argument("--registry", default="bundled")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    settings = Settings(data_dir=args.data_dir, database_url=args.database_url, scheduler=False,
                        session_secret=SecretStr(secrets.token_urlsafe(32)))  # fmt: skip
    registry, chiefs = None, None
    if args.registry.startswith("nation:"):
        from benchmarks.daily_nation import national_registry
        from sections.river_chiefs import RiverChiefs

        registry = national_registry(int(args.registry.split(":", 1)[1]))
        # the bundled river chiefs name Hengshui's sections: none for the synthetic nation
        chiefs = RiverChiefs(reaches=(), chiefs=(), source="benchmark: none")
    app = create_app(settings, registry=registry, chiefs=chiefs)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


def _proc(pid: int) -> tuple[float, float]:
    """(CPU seconds so far, peak RSS [MB]) of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    peak = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    return cpu, peak


@contextmanager
def served(data: Dataset) -> Iterator[tuple[str, int]]:
    """The app of ``data`` served by uvicorn in a child process: (base URL, its pid)."""
    from benchmarks.pg_cluster import free_port

    port = free_port()
    command = [sys.executable, "-m", "benchmarks.api", "--serve", "--data-dir",
               str(data.settings.data_dir), "--registry", data.registry,
               "--port", str(port)]  # fmt: skip
    if data.settings.database_url:
        command += ["--database-url", data.settings.database_url]
    child = subprocess.Popen(command, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if child.poll() is not None:
                raise RuntimeError(f"the server exited with {child.returncode}")
            try:
                if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not answer /healthz within 180 s")
            time.sleep(0.5)
        yield base, child.pid
    finally:
        child.send_signal(signal.SIGINT)
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


# --- the load -----------------------------------------------------------------------------------


async def _first(client: httpx.AsyncClient, path: str) -> tuple[float, int]:
    """One request alone: its latency [s] and status (0: no answer within :data:`TIMEOUT`)."""
    sent = time.perf_counter()
    try:
        status = (await client.get(path)).status_code
    except httpx.TimeoutException:
        status = 0
    return time.perf_counter() - sent, status


async def _load(client: httpx.AsyncClient, path: str, requests: int, seconds: float,
                concurrency: int) -> tuple[list[float], dict[int, int], float]:  # fmt: skip
    """Latencies [s], answers by status and wall time of up to ``requests`` GETs of ``path``
    from ``concurrency`` workers, none issued after ``seconds``."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    issued = 0
    started = time.perf_counter()
    deadline = started + seconds

    async def worker() -> None:
        nonlocal issued
        while issued < requests and time.perf_counter() < deadline:
            issued += 1
            latency, status = await _first(client, path)
            latencies.append(latency)
            statuses[status] = statuses.get(status, 0) + 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, statuses, time.perf_counter() - started


async def _settle(pid: int, most: float = SETTLE_SECONDS) -> float:
    """Wait until the server is idle (under 5 % of a core over a second), at most ``most``
    seconds: a request the client gave up on still runs there. Seconds waited."""
    started = time.perf_counter()
    before, _ = _proc(pid)
    while time.perf_counter() - started < most:
        await asyncio.sleep(1.0)
        now, _ = _proc(pid)
        if now - before < 0.05:
            break
        before = now
    return time.perf_counter() - started


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def _measure_all(
    base: str, pid: int, headers: dict[str, str], paths: list[tuple[str, str]],
    requests: int, seconds: float, concurrency: int,
) -> list[dict[str, Any]]:  # fmt: skip
    rows: list[dict[str, Any]] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=TIMEOUT,
                                 limits=limits) as client:  # fmt: skip
        for name, path in [*paths, ("healthz (again, last)", "/healthz")]:
            first, status = await _first(client, path)  # the first, alone (cold caches)
            row: dict[str, Any] = {
                "endpoint": name, "path": path, "first_ms": round(first * 1000, 1),
                "first_status": status,
            }  # fmt: skip
            if status != 200 or first > seconds:
                # slower than the whole budget: one request is the figure; under load the
                # requests would only queue up behind each other in the server
                row["skipped_under_load"] = (
                    f"the first request took {first:.1f} s (status {status}), over the "
                    f"{seconds:.0f} s budget"
                )
                rows.append(row)
                row["settle_s"] = round(await _settle(pid), 1)
                print(f"  {name:34} first {first * 1000:9.1f} ms (status {status}): not loaded",
                      flush=True)  # fmt: skip
                continue
            for _ in range(WARMUP - 1):
                await _first(client, path)
            cpu_before, _ = _proc(pid)
            latencies, statuses, wall = await _load(client, path, requests, seconds, concurrency)
            cpu_after, _ = _proc(pid)
            count = len(latencies)
            row |= {
                "requests": count,
                "non_200": {str(k): v for k, v in statuses.items() if k != 200},
                "p50_ms": round(statistics.median(latencies) * 1000, 1),
                "p99_ms": round(_percentile(latencies, 0.99) * 1000, 1),
                "requests_per_second": round(count / wall, 2),
                "server_cpu_ms_per_request": round((cpu_after - cpu_before) / count * 1000, 1),
            }  # fmt: skip
            rows.append(row)
            row["settle_s"] = round(await _settle(pid), 1)
            print(f"  {name:34} first {first * 1000:9.1f} ms  n={count:4} p50 "
                  f"{row['p50_ms']:8.1f} ms  p99 {row['p99_ms']:8.1f} ms  "
                  f"{row['requests_per_second']:7.2f}/s  {statuses}", flush=True)  # fmt: skip
    baseline = rows[0]
    for row in rows:
        row["first_ratio_to_healthz"] = round(row["first_ms"] / baseline["first_ms"], 1)
        if "p50_ms" in row and "p50_ms" in baseline:
            row["p50_ratio_to_healthz"] = round(row["p50_ms"] / baseline["p50_ms"], 1)
            row["rps_ratio_to_healthz"] = round(
                row["requests_per_second"] / baseline["requests_per_second"], 4
            )
    return rows


def measure(data: Dataset, *, requests: int = REQUESTS, seconds: float = SECONDS,
            concurrency: int = CONCURRENCY) -> dict[str, Any]:  # fmt: skip
    """Serve ``data`` and load each endpoint in turn."""
    from service.accounts import add_user, create_token
    from service.db.engine import make_engine

    engine = make_engine(data.settings)
    user = f"bench-api-{secrets.token_hex(4)}"
    add_user(engine=engine, username=user, role="admin", password=secrets.token_urlsafe(16))
    token = create_token(engine=engine, username=user, name="benchmark", scopes=("read",))
    engine.dispose()
    headers = {"Authorization": f"Bearer {token.secret}"}
    load_before = os.getloadavg()
    with served(data) as (base, pid):
        _, idle_mb = _proc(pid)
        rows = asyncio.run(_measure_all(base, pid, headers, endpoints(data), requests, seconds,
                                        concurrency))  # fmt: skip
        _, peak_mb = _proc(pid)
    return {
        "day": data.day.isoformat(), "month": f"{data.month:%Y-%m}", "section": data.section,
        "server_rss_after_start_mb": round(idle_mb, 1), "server_peak_rss_mb": round(peak_mb, 1),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "endpoints": rows,
    }  # fmt: skip


# --- the databases ------------------------------------------------------------------------------


def demo_dataset(folder: Path) -> Dataset:
    """The demo year in SQLite under ``folder``, with the jobs the pages read run."""
    from sections.registry import load_registry
    from service.db.engine import make_engine, migrate
    from service.demo.run import seed_demo
    from service.jobs.daily import day_bounds, run_daily
    from service.jobs.monthly import run_monthly
    from service.jobs.quality import run_quality
    from service.statements.issue import issue_statement
    from service.statements.monthly import draft_statement

    settings = Settings(data_dir=folder / "data", scheduler=False)
    registry = load_registry()
    engine = make_engine(settings)
    migrate(engine)
    started = time.perf_counter()
    seed_demo(engine=engine, registry=registry, year=DEMO_YEAR, show_progress=False,
              data_dir=settings.data_dir)  # fmt: skip
    last = (DEMO_MONTH + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    low, high = day_bounds(DEMO_MONTH, last)
    run_quality(engine=engine, registry=registry, start=low, end=high)
    run_daily(engine=engine, registry=registry, first=DEMO_MONTH, last=last)
    for month in _ROLLED_UP:
        run_monthly(engine=engine, registry=registry, month=month)
    statement = draft_statement(engine=engine, registry=registry, month=DEMO_MONTH)
    issue_statement(engine=engine, statement=statement, actor="benchmark")
    engine.dispose()
    print(f"  demo database ready in {time.perf_counter() - started:.0f} s", flush=True)
    return Dataset("demo", settings, "bundled", DEMO_DAY, DEMO_MONTH, DEMO_SECTION)


def run(database_url: str | None = None, keep_database: str | None = None) -> dict[str, Any]:
    """The demo database, then the nation's when one is given or kept."""
    from benchmarks import nation
    from benchmarks.daily_nation import national_registry

    result: dict[str, Any] = {
        "benchmark": "api", "concurrency": CONCURRENCY, "requests_per_endpoint": REQUESTS,
        "seconds_per_endpoint_at_most": SECONDS, "client": "httpx.AsyncClient, this process",
        "server": "uvicorn, one process, child of this one",
    }  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="qingliu-bench-api-") as folder:
        print("demo (SQLite):", flush=True)
        result["demo"] = measure(demo_dataset(Path(folder)))
    keep_text = keep_database or os.environ.get(nation.KEEP_ENV)
    found = nation.loaded_database(database_url=database_url,
                                   keep=Path(keep_text) if keep_text else None)  # fmt: skip
    if isinstance(found, str):
        result["nation"] = f"skipped: {found}"
        return result
    target, url, marker = found
    try:
        months = nation.months_of(marker)
        day = nation.query_day(months)
        stations = int(marker["stations"])
        section = national_registry(stations).sections[min(1234, stations - 1)].id
        with tempfile.TemporaryDirectory(prefix="qingliu-bench-api-") as folder:
            settings = Settings(data_dir=Path(folder), database_url=url, scheduler=False)
            data = Dataset("nation", settings, f"nation:{stations}", day, day.replace(day=1),
                           section)  # fmt: skip
            print(f"nation (PostgreSQL, {marker['rows']:,} observations):", flush=True)
            result["nation"] = {"observations": int(marker["rows"]), **measure(data)}
    finally:
        if target.cluster is not None:
            target.cluster.stop()
    return result


if __name__ == "__main__" and "--serve" in sys.argv:
    _serve(sys.argv[1:])
