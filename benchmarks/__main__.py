"""Run benchmarks by name (all when none is given)."""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
from pathlib import Path

BENCHMARKS = [
    "abuse", "classify", "demo_seed", "forecast", "forecast_fits", "hj212_parse", "ingest",
]  # fmt: skip
RESULTS = Path(__file__).resolve().parent / "results"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "names", nargs="*", help=f"benchmarks to run (default: all of {BENCHMARKS})"
    )
    args = parser.parse_args()
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; valid: {BENCHMARKS}")
    RESULTS.mkdir(exist_ok=True)
    for name in args.names or BENCHMARKS:
        module = importlib.import_module(f"benchmarks.{name}")
        print(f"== {name}", flush=True)
        result = module.run()
        result["machine"] = {"python": sys.version.split()[0], "platform": platform.platform()}
        (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
        print(json.dumps(result, indent=2, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
