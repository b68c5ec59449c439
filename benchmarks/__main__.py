"""Run benchmarks by name (all when none is given)."""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import platform
import sys
from pathlib import Path

BENCHMARKS = [
    "abuse", "classify", "daily_nation", "demo_seed", "forecast", "forecast_fits", "hj212_parse",
    "ingest",
]  # fmt: skip
RESULTS = Path(__file__).resolve().parent / "results"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "names", nargs="*", help=f"benchmarks to run (default: all of {BENCHMARKS})"
    )
    parser.add_argument(
        "--database-url",
        help="the database server of the benchmarks that take one (daily_nation: a PostgreSQL "
        "URL, or 'throwaway' for the tests' throwaway server); default SQLite in a temp dir",
    )
    args = parser.parse_args()
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; valid: {BENCHMARKS}")
    RESULTS.mkdir(exist_ok=True)
    for name in args.names or BENCHMARKS:
        module = importlib.import_module(f"benchmarks.{name}")
        print(f"== {name}", flush=True)
        options = {}
        if args.database_url and "database_url" in inspect.signature(module.run).parameters:
            options["database_url"] = args.database_url
        result = module.run(**options)
        result["machine"] = {"python": sys.version.split()[0], "platform": platform.platform()}
        stem = f"{name}-database-url" if options else name  # keep the default run's file
        (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
        print(json.dumps(result, indent=2, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
