"""GB 3838 classification speed: 10 million indicator values and a nation-wide year.

- ``values``: 10 million indicator values (pH, DO, CODMn, NH3-N, TP, 2 million each) through
  :func:`sections.evaluation.indicator_class`; values per second on one core (median of 5).
- ``baseline``: a straightforward per-row Python implementation (``round`` then a loop over the
  five limits), measured in the same run on a sample; the ratio is ours / baseline.
- ``nationwide_year``: 3,600 sections × 6 readings a day × 365 days × 9 parameters
  (70,956,000 values) through :func:`sections.evaluation.classify_frame`: every indicator class,
  section class, exceedance multiples against Ⅲ, lake TN and main pollutants, after one warm-up
  run; median and best of 5, wall clock and CPU time. Target under 1 s.
- ``memory floor``: a NumPy copy of the same bytes as the input (the 10 million values; the
  year's 9 float64 columns), into fresh memory as the results are, median of 5 in the same run;
  the ratio is ours / floor.
- ``peak RSS``: the nation-wide year classified once in a child process of its own (the same
  input, built there), ``ru_maxrss`` before and after. Target under 4 GB.

Inputs are drawn from the real national snapshot (CNEMC, 2025-11-07) with multiplicative noise,
so the share of polluted rows is realistic. Run on one core: ``taskset -c 0`` (the child
inherits it). The load average at start and end is recorded: on a shared machine the CPU times
are the steadier figures. Nothing is asserted.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sections.evaluation import classify_frame, indicator_class
from sections.standards import indicator_limits, precision

SNAPSHOT = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "cnemc" / ("national-2025-11-07.csv")
)
KEYS = ("ph", "do", "codmn", "nh3n", "tp")
PARAMETERS = ("temp", "ph", "do", "conductivity", "turbidity", "codmn", "nh3n", "tp", "tn")
SECTIONS, READINGS, DAYS = 3_600, 6, 365
BASELINE_SAMPLE = 300_000
REPEATS = 5  # each pass is timed this often; the median counts
PER_KEY = 2_000_000
SEED = 2025


def _source(rng: np.random.Generator, rows: int) -> pd.DataFrame:
    """``rows`` readings resampled from the national snapshot, each value jittered by ±20 %."""
    if SNAPSHOT.is_file():
        table = pd.read_csv(SNAPSHOT, usecols=[*PARAMETERS, "water_body"])
    else:  # without the shared data: plausible magnitudes
        table = pd.DataFrame(
            {"temp": [14.0], "ph": [7.9], "do": [8.4], "conductivity": [800.0],
             "turbidity": [10.0], "codmn": [3.5], "nh3n": [0.2], "tp": [0.08], "tn": [3.0],
             "water_body": ["river"]}
        )  # fmt: skip
    picks = rng.integers(0, len(table), rows)
    frame = pd.DataFrame(index=pd.RangeIndex(rows))
    for key in PARAMETERS:
        column = pd.to_numeric(table[key], errors="coerce").to_numpy(dtype=np.float64)[picks]
        frame[key] = column * rng.uniform(0.8, 1.2, rows)
    frame["water_body"] = table["water_body"].to_numpy(dtype=object)[picks]
    return frame


def _per_row(values: np.ndarray, key: str) -> list[int]:
    """The straightforward implementation: one Python loop iteration per value."""
    limits = indicator_limits(key).limits
    decimals = precision(key)
    result = []
    for value in values.tolist():
        if value != value:
            result.append(0)
            continue
        rounded = round(value, decimals)
        if key == "ph":
            result.append(1 if 6 <= rounded <= 9 else 6)
            continue
        klass = 6
        for number, limit in enumerate(limits, start=1):
            if (rounded >= limit) if key == "do" else (rounded <= limit):
                klass = number
                break
        result.append(klass)
    return result


def _timed(action: Callable[[], object]) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one call; its result is dropped before the clock stops."""
    wall, cpu = time.perf_counter(), time.process_time()
    action()
    return time.perf_counter() - wall, time.process_time() - cpu


def _repeat(action: Callable[[], object]) -> dict[str, float]:
    """Median and best of ``REPEATS`` calls, wall clock and CPU time [s]."""
    walls, cpus = zip(*(_timed(action) for _ in range(REPEATS)), strict=True)
    return {
        "median": round(statistics.median(walls), 3),
        "best": round(min(walls), 3),
        "cpu_median": round(statistics.median(cpus), 3),
        "cpu_best": round(min(cpus), 3),
    }


def _year(rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    year = _source(rng, SECTIONS * READINGS * DAYS)
    return year, year.pop("water_body").to_numpy()


def _status_mb(field: str) -> float:
    """A memory figure of this process from ``/proc/self/status`` [MB] (NaN elsewhere)."""
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return float("nan")
    kib = next((line.split()[1] for line in lines if line.startswith(f"{field}:")), "nan")
    return float(kib) / 1024


def _peak_rss(queue: multiprocessing.Queue[dict[str, float]]) -> None:
    """In a child process: build the year, classify it once, report its memory [MB].

    ``ru_maxrss`` is the child's peak over its whole life (building the input included); the
    kernel's high-water mark (VmHWM), reset once the input is built, is the classification's
    own peak (input, results and temporaries resident together).
    """
    year, bodies = _year(np.random.default_rng(SEED + 1))
    input_mb = _status_mb("VmRSS")
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    wall, cpu = _timed(lambda: classify_frame(year, water_body=bodies))
    queue.put(
        {
            "input_mb": input_mb,
            "classify_peak_mb": _status_mb("VmHWM"),
            "process_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "seconds": wall,
            "cpu_seconds": cpu,
        }
    )


def _child_peak_rss() -> dict[str, float]:
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: its peak is the run's
    queue: multiprocessing.Queue[dict[str, float]] = context.Queue()
    child = context.Process(target=_peak_rss, args=(queue,))
    child.start()
    figures = queue.get()
    child.join()
    return figures


def _kernel_figures(rng: np.random.Generator) -> dict[str, Any]:
    """The 10 million values: ours, the copy floor and the per-row baseline."""
    sample = _source(rng, PER_KEY)
    arrays = {key: sample[key].to_numpy(dtype=np.float64) for key in KEYS}
    for key in KEYS:  # warm up: first-touch page faults are not classification
        indicator_class(arrays[key], key)
    kernel = _repeat(lambda: [indicator_class(arrays[key], key) for key in KEYS])
    floor = _repeat(lambda: [arrays[key].copy() for key in KEYS])
    start = time.perf_counter()
    for key in KEYS:
        _per_row(arrays[key][: BASELINE_SAMPLE // len(KEYS)], key)
    return {"kernel": kernel, "floor": floor, "baseline": time.perf_counter() - start}


def _nationwide_figures(rng: np.random.Generator) -> dict[str, Any]:
    """The nation-wide year: ours after a warm-up run, and the copy floor of its input."""
    year, bodies = _year(rng)
    result = classify_frame(year, water_body=bodies)  # warm-up
    polluted = float((result.section_class >= 4).mean())
    del result
    nationwide = _repeat(lambda: classify_frame(year, water_body=bodies))
    block = year.to_numpy(dtype=np.float64)  # the input's bytes, one block
    return {"year": nationwide, "floor": _repeat(block.copy), "polluted": polluted}


def run() -> dict[str, Any]:
    load_start = os.getloadavg()
    rng = np.random.default_rng(SEED)
    figures = _kernel_figures(rng)
    kernel, kernel_floor = figures["kernel"], figures["floor"]
    values = PER_KEY * len(KEYS)
    ours_rate = values / kernel["median"]
    baseline_rate = BASELINE_SAMPLE / figures["baseline"]
    rows = SECTIONS * READINGS * DAYS
    year = _nationwide_figures(rng)
    nationwide, floor = year["year"], year["floor"]
    rss = _child_peak_rss()
    load_end = os.getloadavg()
    return {
        "benchmark": "classify",
        "values": values,
        "values_seconds": kernel["median"],
        "values_seconds_best": kernel["best"],
        "values_per_second": round(ours_rate),
        "values_copy_floor_seconds": kernel_floor["median"],
        "values_ratio_to_copy_floor": round(kernel["median"] / kernel_floor["median"], 2),
        "baseline_values_per_second": round(baseline_rate),
        "ratio_to_per_row_baseline": round(ours_rate / baseline_rate, 1),
        "nationwide_year_rows": rows,
        "nationwide_year_values": rows * len(PARAMETERS),
        "nationwide_year_seconds": nationwide["median"],
        "nationwide_year_seconds_best": nationwide["best"],
        "nationwide_year_cpu_seconds": nationwide["cpu_median"],
        "nationwide_year_cpu_seconds_best": nationwide["cpu_best"],
        "nationwide_year_values_per_second": round(rows * len(PARAMETERS) / nationwide["median"]),
        "nationwide_copy_floor_seconds": floor["median"],
        "nationwide_copy_floor_seconds_best": floor["best"],
        "nationwide_ratio_to_copy_floor": round(nationwide["median"] / floor["median"], 2),
        "nationwide_share_worse_than_iii": round(year["polluted"], 3),
        "nationwide_input_rss_mb": round(rss["input_mb"]),
        "nationwide_classify_peak_rss_mb": round(rss["classify_peak_mb"]),
        "nationwide_process_peak_rss_mb": round(rss["process_peak_mb"]),
        "nationwide_child_seconds": round(rss["seconds"], 3),
        "nationwide_child_cpu_seconds": round(rss["cpu_seconds"], 3),
        "load_average_1min": [round(load_start[0], 2), round(load_end[0], 2)],
        "targets": {
            "values_per_second >= 20 million": ours_rate >= 20e6,
            "ratio >= 100": ours_rate / baseline_rate >= 100,
            "nationwide year < 1 s (median)": nationwide["median"] < 1,
            "nationwide peak RSS < 4 GB": max(rss["classify_peak_mb"], rss["process_peak_mb"])
            < 4096,
        },
    }
