"""Forecast benchmarks: skill in backtests, backtest speed, and fit throughput for planning.

- ``skill``: a year-long rolling-origin backtest (:func:`sections.backtest.backtest`, default
  options: 56-day training window, weekly refits) of every series of the set — the demo's own
  NH3-N and DO series (the forecasts were tuned on the demo) and series the forecasts were *not*
  tuned on (:mod:`benchmarks.forecast_series`: NH3-N with winter highs and episodes, DO with a
  large summer diurnal swing, TP with rain pulses, CODMn with a slow load; seeds 1–3). Per
  series: the 24 h Brier skill of the issued forecast (``auto``) against the best baseline
  with its 90 % interval (block bootstrap over weeks) and apart for origins exceeding now and
  the others, the coverage of its 80 % intervals with their 90 % intervals, and which model
  was selected. Targets (issue 12): skill ≥ 0.15
  on concentrations with episodes; never below the best baseline where one is near-optimal;
  80 % intervals covering 75–85 %. And reaches (:func:`benchmarks.forecast_series.make_reach`,
  seeds 1–12 of the three episodic concentration shapes; 10–12 held out), and the demo's
  NH3-N section with its upstream section: the section's series backtested with its upstream
  section's series as input (the ``upstream`` candidate; DO is not carried downstream).
  And the same with a **pool** of other sections (the ``analog`` candidate,
  :mod:`sections.forecast_analog`): the single series of the episodic shapes (seeds 1–6; 4–6
  held out) with 18 other series of their shape (seeds 100–117) as the pool, the held-out
  reaches 10–12 with 18 other reaches' downstream series, and the demo's NH3-N section with
  every other demo section's NH3-N, alone and with its upstream section.
- ``backtest_speed``: the wall time of one year's backtest against one SARIMAX fit on the
  training window, measured in the same run (the ratio says how many fits a backtest costs).

Run: ``.venv/bin/python -m benchmarks forecast`` (about 10 minutes on 2 cores). The fit
throughput is :mod:`benchmarks.forecast_fits`.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.forecast_series import (
    REACH_SHAPES,
    SHAPES,
    demo_section_most_exceeding,
    demo_series,
    demo_upstream,
    make_reach,
    make_series,
)
from sections.backtest import backtest
from sections.forecast import Threshold, to_grid
from sections.forecast_models import fit_box_cox, fit_state_space
from sections.forecast_upstream import carried_downstream
from sections.registry import load_registry
from service.fanout import fan_out

SEEDS = (1, 2, 3)
REACH_SEEDS = tuple(range(1, 13))
HELD_OUT = (10, 11, 12)
"""Reach seeds 1–6 were looked at while the ``upstream`` candidate was developed and 7–9 held
out for its first version; all nine were looked at when its error models were chosen
(:data:`sections.forecast_upstream.ERROR_ORDERS`). Seeds 10–12 were not: held out, their
figures are the honest ones."""
EPISODIC = ("nh3n_winter_episodes", "tp_rain_pulses", "codmn_slow_load", "demo-nh3n")
POOL_SHAPES = ("nh3n_winter_episodes", "tp_rain_pulses", "codmn_slow_load")
"""The shapes backtested with a pool (:data:`sections.forecast_analog.ANALOG_KEYS`)."""
POOL_SERIES_SEEDS = (1, 2, 3, 4, 5, 6)
POOL_HELD_OUT = (4, 5, 6)
"""Single-series seeds 1–3 were looked at while the ``analog`` candidate was developed; 4–6
were not: held out, their figures are the honest ones (the reaches with a pool are the held-out
seeds 10–12 only)."""
POOL_SEEDS = tuple(range(100, 118))
"""The other sections of the pool: 18 series of the same shape, never backtested themselves."""


def _cases() -> list[tuple[str, str, int]]:
    cases = [(shape, shape, seed) for shape in SHAPES for seed in SEEDS]
    for key in ("nh3n", "do"):
        section = demo_section_most_exceeding(key)
        cases.append((f"demo-{key}", section, 0))
        if demo_upstream(section) is not None and carried_downstream(key):
            cases.append((f"reach-demo-{key}", section, 0))
    cases += [(f"reach-{shape}", shape, seed) for shape in REACH_SHAPES for seed in REACH_SEEDS]
    cases += [(f"pool-{shape}", shape, seed) for shape in POOL_SHAPES for seed in POOL_SERIES_SEEDS]
    cases += [(f"pool-reach-{shape}", shape, seed) for shape in POOL_SHAPES for seed in HELD_OUT]
    section = demo_section_most_exceeding("nh3n")
    cases += [("pool-demo-nh3n", section, 0), ("pool-reach-demo-nh3n", section, 0)]
    return cases


def _pool(name: str, source: str) -> list[tuple[pd.Series, Threshold]]:
    """The other sections of a pooled case: same shape (or every other demo section)."""
    if "demo-" in name:
        key = name.rsplit("-", 1)[1]
        pool = []
        for section in load_registry().assessed_sections():
            if section.id == source:
                continue
            try:
                values, limit, direction = demo_series(section.id, key)
            except (KeyError, ValueError):
                continue
            pool.append((values, Threshold.of(limit, direction)))  # type: ignore[arg-type]
        return pool
    if name.startswith("pool-reach-"):
        drawn = [make_reach(source, seed=s) for s in POOL_SEEDS]
        return [(v, Threshold.of(limit, d)) for v, _, limit, d in drawn]  # type: ignore[arg-type]
    series = [make_series(source, seed=s) for s in POOL_SEEDS]
    return [(v, Threshold.of(limit, d)) for v, limit, d in series]  # type: ignore[arg-type]


def backtest_case(case: tuple[str, str, int]) -> dict[str, Any]:
    """One series' backtest summary (module-level: runs in a worker process)."""
    name, source, seed = case
    upstream = None
    pool = _pool(name, source) if name.startswith("pool-") else None
    name = name.removeprefix("pool-")
    if name.startswith("demo-"):
        values, limit, direction = demo_series(source, name.removeprefix("demo-"))
    elif name.startswith("reach-demo-"):
        key = name.removeprefix("reach-demo-")
        values, limit, direction = demo_series(source, key)
        upstream = demo_series(str(demo_upstream(source)), key)[0]
    elif name.startswith("reach-"):
        values, upstream, limit, direction = make_reach(source, seed=seed)
    else:
        values, limit, direction = make_series(source, seed=seed)
    started = time.perf_counter()
    result = backtest(
        values, threshold=Threshold.of(limit, direction),  # type: ignore[arg-type]
        upstream=upstream, pool=pool,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    summary = result.summary["24"]
    auto = result.models["auto"]
    return {
        "series": ("pool-" if pool is not None else "")
        + (name if "demo-" in name else f"{name}-seed{seed}"),
        "pool": None if pool is None else len(pool),
        "source": source,
        "limit": limit,
        "direction": direction,
        "seconds": round(elapsed, 1),
        "best_baseline_24h": summary["best_baseline"],
        "brier_skill_24h_vs_best_baseline": round(summary["brier_skill_vs_best_baseline"], 3),
        "brier_skill_24h_interval90": [
            round(x, 3) for x in summary["brier_skill_vs_best_baseline_interval90"]
        ],
        "brier_skill_24h_vs_persistence": round(auto["24"]["brier_skill"], 3),
        "brier_24h_by_origin_state": summary["by_origin_state"],
        "coverage80": {h: round(v["coverage80"], 3) for h, v in auto.items()},
        "coverage80_interval90": {
            h: [round(x, 3) for x in s["coverage80_auto_interval90"]]
            for h, s in result.summary.items()
        },
        "upstream_brier_skill_24h_vs_persistence": (
            round(result.models["upstream"]["24"]["brier_skill"], 3)
            if "upstream" in result.models
            else None
        ),
        "analog_brier_skill_24h_vs_persistence": (
            round(result.models["analog"]["24"]["brier_skill"], 3)
            if "analog" in result.models
            else None
        ),
        "selected": result.selected,
        "selections_24h": result.selections["24"],
        "lead_times": result.leads["auto"],
        "why": result.why,
    }


def _seed(series: str) -> int:
    return int(series.rsplit("seed", 1)[1])


def _median(summaries: list[dict[str, Any]]) -> float:
    return float(np.median([s["brier_skill_24h_vs_best_baseline"] for s in summaries]))


def _one_fit_seconds(values: pd.Series) -> float:
    grid = to_grid(values)
    z = fit_box_cox(grid.to_numpy()[-56 * 6 :]).forward(grid.to_numpy())
    started = time.perf_counter()
    fit_state_space("sarima", z, len(z) - 56 * 6, len(z), 50, filter_start=len(z) - 56 * 6)
    return time.perf_counter() - started


def run() -> dict[str, Any]:
    values, _, _ = make_series("nh3n_winter_episodes", seed=1)
    one_fit = min(_one_fit_seconds(values) for _ in range(3))

    cases = _cases()
    started = time.perf_counter()
    skill = fan_out(backtest_case, cases)
    skill_wall = time.perf_counter() - started
    year_backtest = next(s["seconds"] for s in skill if s["series"] == "nh3n_winter_episodes-seed1")

    episodic = [s for s in skill if s["series"].startswith(EPISODIC)]
    reaches = [s for s in skill if s["series"].startswith("reach-") and "seed" in s["series"]]
    held_out = [s for s in reaches if int(s["series"].rsplit("seed", 1)[1]) in HELD_OUT]
    pooled = [s for s in skill if s["series"].startswith("pool-") and "reach" not in s["series"]]
    pooled_held_out = [
        s for s in pooled if "seed" in s["series"] and _seed(s["series"]) in POOL_HELD_OUT
    ]
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
            "reach_brier_skill_24h_min": min(
                s["brier_skill_24h_vs_best_baseline"] for s in reaches
            ),
            "reach_brier_skill_24h_median": float(
                np.median([s["brier_skill_24h_vs_best_baseline"] for s in reaches])
            ),
            "reach_held_out_brier_skill_24h_min": min(
                s["brier_skill_24h_vs_best_baseline"] for s in held_out
            ),
            "reach_held_out_brier_skill_24h_median": float(
                np.median([s["brier_skill_24h_vs_best_baseline"] for s in held_out])
            ),
            "pooled_brier_skill_24h_median": _median(pooled),
            "pooled_held_out_brier_skill_24h_median": _median(pooled_held_out),
            "pooled_brier_skill_24h_at_least_015": sum(
                s["brier_skill_24h_vs_best_baseline"] >= 0.15 for s in pooled
            ),
            "pooled_series": len(pooled),
            "coverage80_range": [
                min(min(s["coverage80"].values()) for s in skill),
                max(max(s["coverage80"].values()) for s in skill),
            ],
            "coverage80_outside_75_85": [
                {
                    "series": s["series"],
                    "horizon": h,
                    "coverage80": c,
                    "interval90": s["coverage80_interval90"][h],
                }
                for s in skill
                for h, c in s["coverage80"].items()
                if not 0.75 <= c <= 0.85
            ],
            "skill_interval_below_zero": [
                s["series"] for s in skill if s["brier_skill_24h_interval90"][1] < 0.0
            ],
        },
        "backtest_speed": {
            "year_backtest_seconds": year_backtest,
            "one_sarima_fit_seconds": round(one_fit, 3),
            "ratio_backtest_to_one_fit": round(year_backtest / one_fit, 1),
        },
    }
