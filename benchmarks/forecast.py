"""Forecast benchmarks: skill in backtests, backtest speed, and fit throughput for planning.

- ``skill``: a year-long rolling-origin backtest (:func:`sections.backtest.backtest`, default
  options: 56-day training window, weekly refits) of every series of the set — the demo's own
  NH3-N and DO series (the forecasts were tuned on the demo) and series the forecasts were *not*
  tuned on (:mod:`benchmarks.forecast_series`: NH3-N with winter highs and episodes, DO with a
  large summer diurnal swing, TP with rain pulses, CODMn with a slow load; seeds 1–3). Per
  series: the 24 h Brier skill of the issued forecast (``auto``) against the best baseline, the
  coverage of its 80 % intervals, and which model was selected. Targets (issue 12): skill ≥ 0.15
  on concentrations with episodes; never below the best baseline where one is near-optimal;
  80 % intervals covering 75–85 %.
- ``backtest_speed``: the wall time of one year's backtest against one SARIMAX fit on the
  training window, measured in the same run (the ratio says how many fits a backtest costs).
- ``throughput``: every section × indicator of the demo (19 × 6) fitted and forecast from its
  last 120 days, fanned out over the local process pool (:func:`service.fanout.fan_out`),
  against the same work on one core: fits per second per core, for planning a province or the
  nation. Target: all 114 under 60 s on this 2-core machine.

Run: ``.venv/bin/python -m benchmarks forecast`` (about 10 minutes on 2 cores).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.forecast_series import SHAPES, demo_section_most_exceeding, demo_series, make_series
from sections.backtest import backtest
from sections.forecast import FORECAST_KEYS, Threshold, forecast, target_threshold, to_grid
from sections.forecast_models import fit_box_cox, fit_state_space
from sections.registry import load_registry
from service.fanout import fan_out

SEEDS = (1, 2, 3)
HISTORY_DAYS = 120  # days of data each throughput fit reads
DEMO_YEAR, DEMO_SEED = 2025, 2025
EPISODIC = ("nh3n_winter_episodes", "tp_rain_pulses", "codmn_slow_load", "demo-nh3n")


def _cases() -> list[tuple[str, str, int]]:
    cases = [(shape, shape, seed) for shape in SHAPES for seed in SEEDS]
    cases.append(("demo-nh3n", demo_section_most_exceeding("nh3n"), 0))
    cases.append(("demo-do", demo_section_most_exceeding("do"), 0))
    return cases


def backtest_case(case: tuple[str, str, int]) -> dict[str, Any]:
    """One series' backtest summary (module-level: runs in a worker process)."""
    name, source, seed = case
    if name.startswith("demo-"):
        values, limit, direction = demo_series(source, name.removeprefix("demo-"))
    else:
        values, limit, direction = make_series(source, seed=seed)
    started = time.perf_counter()
    result = backtest(values, threshold=Threshold.of(limit, direction))  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    summary = result.summary["24"]
    auto = result.models["auto"]
    return {
        "series": name if name.startswith("demo-") else f"{name}-seed{seed}",
        "source": source,
        "limit": limit,
        "direction": direction,
        "seconds": round(elapsed, 1),
        "best_baseline_24h": summary["best_baseline"],
        "brier_skill_24h_vs_best_baseline": round(summary["brier_skill_vs_best_baseline"], 3),
        "brier_skill_24h_vs_persistence": round(auto["24"]["brier_skill"], 3),
        "coverage80": {h: round(v["coverage80"], 3) for h, v in auto.items()},
        "selected": result.selected,
        "selections_24h": result.selections["24"],
        "lead_times": result.leads["auto"],
        "why": result.why,
    }


def forecast_item(item: tuple[pd.Series, float | None, float | None]) -> float:
    """Fit and forecast one series; returns the seconds it took (module-level for the pool)."""
    values, lower, upper = item
    threshold = None if lower is None and upper is None else Threshold(lower=lower, upper=upper)
    started = time.perf_counter()
    forecast(values, threshold=threshold)
    return time.perf_counter() - started


def _throughput_items() -> list[tuple[pd.Series, float | None, float | None]]:
    from benchmarks.forecast_series import _demo_groups

    registry = load_registry()
    groups = _demo_groups(DEMO_SEED, DEMO_YEAR)
    end = pd.Timestamp(f"{DEMO_YEAR}-11-30T00:00", tz="Asia/Shanghai")
    items = []
    for section in registry.sections:
        for key in FORECAST_KEYS:
            rows = groups.get((section.id, key))
            if rows is None:
                continue
            index = pd.DatetimeIndex(rows["observed_at"]).tz_convert("Asia/Shanghai")
            valid = (rows["station_flag"] == "N").to_numpy()
            values = pd.Series(np.where(valid, rows["value"], np.nan), index=index)
            values = values[(index < end) & (index >= end - pd.Timedelta(days=HISTORY_DAYS))]
            threshold = target_threshold(section, key, dt.date(DEMO_YEAR, 11, 30))
            items.append(
                (values, threshold.lower if threshold else None,
                 threshold.upper if threshold else None)
            )  # fmt: skip
    return items


def _one_fit_seconds(values: pd.Series) -> float:
    grid = to_grid(values)
    z = fit_box_cox(grid.to_numpy()[-56 * 6 :]).forward(grid.to_numpy())
    started = time.perf_counter()
    fit_state_space("sarima", z, len(z) - 56 * 6, len(z), 50, filter_start=len(z) - 56 * 6)
    return time.perf_counter() - started


def run() -> dict[str, Any]:
    cores = os.cpu_count() or 1
    cases = _cases()
    started = time.perf_counter()
    skill = fan_out(backtest_case, cases)
    skill_wall = time.perf_counter() - started

    values, _, _ = make_series("nh3n_winter_episodes", seed=1)
    one_fit = min(_one_fit_seconds(values) for _ in range(3))
    year_backtest = next(s["seconds"] for s in skill if s["series"] == "nh3n_winter_episodes-seed1")

    items = _throughput_items()
    started = time.perf_counter()
    fan_out(forecast_item, items)
    pool_wall = time.perf_counter() - started
    sample = items[:24]
    started = time.perf_counter()
    for item in sample:
        forecast_item(item)
    one_core = (time.perf_counter() - started) / len(sample)

    episodic = [s for s in skill if s["series"].startswith(EPISODIC)]
    return {
        "skill": skill,
        "skill_wall_seconds": round(skill_wall, 1),
        "targets": {
            "episodic_brier_skill_24h_min": min(
                s["brier_skill_24h_vs_best_baseline"] for s in episodic
            ),
            "episodic_brier_skill_24h_median": float(
                np.median([s["brier_skill_24h_vs_best_baseline"] for s in episodic])
            ),
            "coverage80_range": [
                min(min(s["coverage80"].values()) for s in skill),
                max(max(s["coverage80"].values()) for s in skill),
            ],
        },
        "backtest_speed": {
            "year_backtest_seconds": year_backtest,
            "one_sarima_fit_seconds": round(one_fit, 3),
            "ratio_backtest_to_one_fit": round(year_backtest / one_fit, 1),
        },
        "throughput": {
            "series": len(items),
            "cores": cores,
            "pool_wall_seconds": round(pool_wall, 1),
            "one_core_seconds_per_series": round(one_core, 3),
            "series_per_second_per_core": round(1 / one_core, 2),
            "pool_speedup_vs_one_core": round(one_core * len(items) / pool_wall, 2),
        },
    }
