"""GB 3838 classification speed: 10 million indicator values and a nation-wide year.

- ``values``: 10 million indicator values (pH, DO, CODMn, NH3-N, TP, 2 million each) through
  :func:`sections.evaluation.indicator_class`; values per second on one core (median of 5).
- ``baseline``: a straightforward per-row Python implementation (``round`` then a loop over the
  five limits), measured in the same run on a sample; the ratio is ours / baseline.
- ``nationwide_year``: 3,600 sections × 6 readings a day × 365 days × 9 parameters
  (≈ 71 million values) through :func:`sections.evaluation.classify_frame`: every indicator
  class, section class, exceedance multiples and main pollutants. Target under 10 s.

Inputs are drawn from the real national snapshot (CNEMC, 2025-11-07) with multiplicative noise,
so the share of polluted rows is realistic. Run on one core: ``taskset -c 0``.
"""

from __future__ import annotations

import statistics
import time
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
REPEATS = 5  # the 10-million-value pass is timed this often; the median counts


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


def run() -> dict[str, Any]:
    rng = np.random.default_rng(2025)
    per_key = 2_000_000
    sample = _source(rng, per_key)
    arrays = {key: sample[key].to_numpy(dtype=np.float64) for key in KEYS}
    for key in KEYS:  # warm up: first-touch page faults are not classification
        indicator_class(arrays[key][:10_000], key)
    timings = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        for key in KEYS:
            indicator_class(arrays[key], key)
        timings.append(time.perf_counter() - start)
    ours = statistics.median(timings)
    values = per_key * len(KEYS)

    start = time.perf_counter()
    for key in KEYS:
        _per_row(arrays[key][: BASELINE_SAMPLE // len(KEYS)], key)
    baseline = time.perf_counter() - start
    ours_rate = values / ours
    baseline_rate = BASELINE_SAMPLE / baseline

    rows = SECTIONS * READINGS * DAYS
    year = _source(rng, rows)
    bodies = year.pop("water_body").to_numpy()
    start = time.perf_counter()
    result = classify_frame(year, water_body=bodies)
    nationwide = time.perf_counter() - start
    polluted = float((result.section_class >= 4).mean())
    return {
        "benchmark": "classify",
        "values": values,
        "values_seconds": round(ours, 3),
        "values_per_second": round(ours_rate),
        "baseline_values_per_second": round(baseline_rate),
        "ratio_to_per_row_baseline": round(ours_rate / baseline_rate, 1),
        "nationwide_year_rows": rows,
        "nationwide_year_values": rows * len(PARAMETERS),
        "nationwide_year_seconds": round(nationwide, 2),
        "nationwide_year_values_per_second": round(rows * len(PARAMETERS) / nationwide),
        "nationwide_share_worse_than_iii": round(polluted, 3),
        "targets": {
            "values_per_second >= 20 million": ours_rate >= 20e6,
            "ratio >= 100": ours_rate / baseline_rate >= 100,
            "nationwide year < 10 s": nationwide < 10,
        },
    }
