"""Forecast fit throughput: every section × indicator fitted and forecast, for planning.

- ``pool``: every section × indicator of the demo (19 × 6 = 114 series) fitted and forecast
  from its last 120 days of valid values (:func:`sections.forecast.forecast`: two statsmodels
  fits, every baseline, the predictive distributions; as the service does, with the upstream
  section's series where the registry names one and the parameter is carried downstream (the
  ``upstream`` candidate's lag search and, where it leads, its fit), and for CODMn, NH3-N, TP
  and TN with every other section's series as the ``analog`` candidate's pool), fanned out over
  the local process pool
  (:func:`service.fanout.fan_out`, one BLAS thread per worker). Target: under 60 s on this
  2-core machine.
- ``one_core``: the same work in this process, on a sample of 24 series: seconds per series and
  series per second per core (the baseline; the pool's speed-up is the ratio).

Run on an otherwise idle machine: ``.venv/bin/python -m benchmarks forecast_fits`` (about a
minute).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from typing import Any

import numpy as np
import pandas as pd

from sections.forecast import FORECAST_KEYS, Threshold, forecast, target_threshold
from sections.forecast_analog import ANALOG_KEYS, analog_applies
from sections.forecast_upstream import carried_downstream
from sections.registry import load_registry
from service.fanout import fan_out

HISTORY_DAYS = 120  # days of data each fit reads
DEMO_YEAR, DEMO_SEED = 2025, 2025
SAMPLE = 24  # series timed on one core


Item = tuple[
    pd.Series, Threshold | None, pd.Series | None, tuple[tuple[pd.Series, Threshold], ...] | None
]


def forecast_item(item: Item) -> float:
    """Fit and forecast one series; returns the seconds it took (module-level for the pool)."""
    values, threshold, upstream, pool = item
    started = time.perf_counter()
    forecast(values, threshold=threshold, upstream=upstream, pool=pool)
    return time.perf_counter() - started


def _throughput_items() -> list[Item]:
    from benchmarks.forecast_series import _demo_groups

    registry = load_registry()
    groups = _demo_groups(DEMO_SEED, DEMO_YEAR)
    end = pd.Timestamp(f"{DEMO_YEAR}-11-30T00:00", tz="Asia/Shanghai")

    def window(section_id: str, key: str) -> pd.Series | None:
        rows = groups.get((section_id, key))
        if rows is None:
            return None
        index = pd.DatetimeIndex(rows["observed_at"]).tz_convert("Asia/Shanghai")
        valid = (rows["station_flag"] == "N").to_numpy()
        values = pd.Series(np.where(valid, rows["value"], np.nan), index=index)
        return values[(index < end) & (index >= end - pd.Timedelta(days=HISTORY_DAYS))]

    day = dt.date(DEMO_YEAR, 11, 30)
    pools: dict[str, list[tuple[str, pd.Series, Threshold]]] = {}
    for section in registry.sections:
        for key in sorted(ANALOG_KEYS):
            values = window(section.id, key)
            threshold = target_threshold(section, key, day)
            if values is not None and threshold is not None:
                pools.setdefault(key, []).append((section.id, values, threshold))
    items: list[Item] = []
    for section in registry.sections:
        for key in FORECAST_KEYS:
            values = window(section.id, key)
            if values is None:
                continue
            upstream = (
                window(section.upstream, key)
                if section.upstream and carried_downstream(key)
                else None
            )
            pool = (
                tuple((v, t) for other, v, t in pools.get(key, []) if other != section.id)
                if analog_applies(key)
                else None
            )
            items.append((values, target_threshold(section, key, day), upstream, pool))
    return items


def run() -> dict[str, Any]:
    items = _throughput_items()
    started = time.perf_counter()
    fan_out(forecast_item, items)
    pool_wall = time.perf_counter() - started
    sample = items[:SAMPLE]
    started = time.perf_counter()
    for item in sample:
        forecast_item(item)
    one_core = (time.perf_counter() - started) / len(sample)
    cores = os.cpu_count() or 1
    return {
        "series": len(items),
        "cores": cores,
        "pool_wall_seconds": round(pool_wall, 1),
        "one_core_seconds_per_series": round(one_core, 3),
        "series_per_second_per_core": round(1 / one_core, 2),
        "pool_speedup_vs_one_core": round(one_core * len(items) / pool_wall, 2),
    }
