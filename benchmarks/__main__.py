"""Run benchmarks by name (all when none is given).

Each benchmark runs in a child process of its own (``python -m benchmarks --in-process NAME``),
so that its peak resident memory can be read when it ends (``os.wait4``): ``peak_rss_mb`` in its
results is the largest resident set of the benchmark's process and of the children it waited for
(pool workers, servers it started and stopped; the largest single process, not a sum; PostgreSQL
servers started with ``pg_ctl`` are not its children and are not counted).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

BENCHMARKS = [
    "abuse", "api", "classify", "daily_nation", "demo_seed", "forecast", "forecast_fits",
    "hj212_parse", "ingest", "nation",
]  # fmt: skip
RESULTS = Path(__file__).resolve().parent / "results"
_OPTIONS = ("database_url", "keep_database", "stations", "months", "load_only")
"""Options passed to a benchmark's ``run`` when given and when ``run`` takes them."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "names", nargs="*", help=f"benchmarks to run (default: all of {BENCHMARKS})"
    )
    parser.add_argument(
        "--database-url",
        help="the database server of the benchmarks that take one (daily_nation: a PostgreSQL "
        "URL, or 'throwaway' for the tests' throwaway server; nation, api: the server holding "
        "the nation's database); default SQLite in a temp dir (nation: a throwaway server)",
    )
    parser.add_argument(
        "--keep-database", metavar="DIR",
        help="nation, api: the PostgreSQL data directory kept between runs (also "
        "QINGLIU_BENCH_NATION_DIR); a loaded nation database there is reused",
    )  # fmt: skip
    parser.add_argument("--stations", type=int, help="nation: stations (default 3,600)")
    parser.add_argument("--months", type=int, help="nation: months of the year (default 12)")
    parser.add_argument("--load-only", action="store_true", default=None,
                        help="nation: load (or check) the database, time no queries")  # fmt: skip
    parser.add_argument("--in-process", action="store_true",
                        help="run in this process (no peak RSS figure)")  # fmt: skip
    return parser


def _options(args: argparse.Namespace) -> dict[str, Any]:
    return {name: getattr(args, name) for name in _OPTIONS if getattr(args, name) is not None}


def _stem(name: str, options: dict[str, Any], taken: dict[str, Any]) -> str:
    """The results file's name: the default run keeps ``NAME.json``."""
    parts = [name]
    if "database_url" in taken:
        parts.append("database-url")
    parts += [f"{key}{options[key]}" for key in ("stations", "months") if key in taken]
    if taken.get("load_only"):
        parts.append("load-only")
    return "-".join(parts)


def _run_here(name: str, options: dict[str, Any]) -> int:
    module = importlib.import_module(f"benchmarks.{name}")
    print(f"== {name}", flush=True)
    accepted = inspect.signature(module.run).parameters
    taken = {key: value for key, value in options.items() if key in accepted}
    result = module.run(**taken)
    result["machine"] = {"python": sys.version.split()[0], "platform": platform.platform(),
                         "cores": os.cpu_count()}  # fmt: skip
    (RESULTS / f"{_stem(name, options, taken)}.json").write_text(
        json.dumps(result, indent=2, ensure_ascii=False)
    )
    print(json.dumps(result, indent=2, ensure_ascii=False), flush=True)
    return 0


def _run_child(name: str, argv: list[str], options: dict[str, Any]) -> int:
    """``name`` in a child process; its peak RSS added to its results file."""
    child = subprocess.Popen([sys.executable, "-m", "benchmarks", "--in-process", name, *argv])
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    peak_mb = round(usage.ru_maxrss / 1024, 1)  # Linux: kilobytes
    print(f"== {name}: peak RSS {peak_mb} MB (exit {child.returncode})", flush=True)
    module = importlib.import_module(f"benchmarks.{name}")
    accepted = inspect.signature(module.run).parameters
    taken = {key: value for key, value in options.items() if key in accepted}
    path = RESULTS / f"{_stem(name, options, taken)}.json"
    if child.returncode == 0 and path.exists():
        result = json.loads(path.read_text())
        result["peak_rss_mb"] = peak_mb
        path.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    return child.returncode


def main() -> int:
    parser = _parser()
    args = parser.parse_args()
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; valid: {BENCHMARKS}")
    RESULTS.mkdir(exist_ok=True)
    options = _options(args)
    names = args.names or BENCHMARKS
    if args.in_process:
        for name in names:
            _run_here(name, options)
        return 0
    argv = [arg for arg in sys.argv[1:] if arg not in names]
    failed = [name for name in names if _run_child(name, argv, options) != 0]
    if failed:
        print(f"failed: {failed}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
