"""Series for backtesting exceedance forecasts on data the forecasting code was NOT tuned on.

The forecasting code is tuned on the demo year (:func:`service.demo.synthetic.generate_year`);
results shown on that year alone would flatter it. This module draws series of its own, with
their own generator (nothing here calls the demo's private helpers), shaped like the automatic
stations of a Hebei plain river (domain.md §3–5) but by other rules than the demo's:

- :data:`SHAPES` and :func:`make_series`: four synthetic shapes, each one parameter at one
  station for ``days`` days, at the station's sampling interval (chemistry every 4 hours at 00,
  04, …, 20 Beijing time; DO every hour), with AR(1)-correlated multiplicative noise, gaps (runs
  of NaN from a few hours to 2 days, about 3 % of the values) and a target limit and direction;
- :data:`REACH_SHAPES` and :func:`make_reach`: a reach of river — the upstream section's series
  of a shape and the section downstream of it, where the upstream water arrives a travel time
  later (24–40 h at low flow, shorter in the summer floods, varying from day to day), spread by
  dispersion, partly decayed, and mixed with a local inflow that has episodes of its own; for
  backtesting the ``upstream`` forecast candidate;
- :func:`demo_series`: the demo's own automatic-station series of one section and parameter,
  valid values only (flag ``N``), with the section's target-class limit, for comparison;
- :func:`main`: ``python -m benchmarks.forecast_series OUTDIR [--seeds 1,2,3]`` writes the
  series as CSV (``time,value``, ISO 8601 with the ``+08:00`` offset, missing values omitted)
  and an ``index.json`` describing them.

A ``(shape, seed)`` pair always gives the same series: every draw comes from
``np.random.default_rng(np.random.SeedSequence([seed, crc32(shape)]))`` (never ``hash()``).
The data are invented: they must never be shown as measurements.

References
----------
.. [1] GB 3838-2002 地表水环境质量标准, 表1: Class Ⅲ limits NH3-N 1.0, TP (rivers) 0.2,
   CODMn 6 mg/L, DO ≥ 5 mg/L (domain.md §3).
.. [2] domain.md §5: automatic stations, chemistry every 4 hours, basic parameters hourly,
   HJ 212 data flags (``N`` normal).
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import math
import statistics
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

Direction = Literal["above", "below"]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

TIMEZONE = "Asia/Shanghai"
"""Beijing time (UTC+8, no daylight saving): the time zone of every series."""

SHAPES: tuple[str, ...] = (
    "nh3n_winter_episodes",
    "do_summer_diurnal",
    "tp_rain_pulses",
    "codmn_slow_load",
)
"""Names of the synthetic shapes of :func:`make_series`, in a fixed order.

``nh3n_winter_episodes``
    NH3-N every 4 hours: winter highs (Dec–Feb about 0.6–0.9 mg/L), summer lows (about
    0.3 mg/L), and 3–8 pollution episodes a year of 1–6 days (20–40 days in all, more likely
    in the cold season), rising over a few hours above the Class Ⅲ limit 1.0 mg/L and decaying
    after. Limit 1.0, ``"above"``; about 5–12 % of the values above it.
``do_summer_diurnal``
    DO every hour: a photosynthesis cycle (afternoon highs about 10–12 mg/L, dawn lows about
    4–5 mg/L in July–August, a small swing around 9–11 mg/L in winter) whose amplitude varies
    from day to day (cloud), and one or two summer sags after storms. Limit 5.0 (Class Ⅲ),
    ``"below"``: exceedances are summer dawns under 5 mg/L.
``tp_rain_pulses``
    TP every 4 hours: base about 0.1–0.15 mg/L, and runoff pulses of 1–3 days in the rainy
    season (mostly July–August) above the Class Ⅲ river limit 0.2 mg/L. Limit 0.2, ``"above"``.
``codmn_slow_load``
    CODMn every 4 hours: a slowly varying load (AR(1) memory of two to five weeks, its yearly
    distribution fixed) around 4–7 mg/L, so the Class Ⅲ limit 6 mg/L is exceeded in runs of
    many days (daily means over the limit up to one to three weeks). Limit 6, ``"above"``.
"""


REACH_SHAPES: tuple[str, ...] = ("nh3n_winter_episodes", "tp_rain_pulses", "codmn_slow_load")
"""The shapes :func:`make_reach` draws reaches of: the concentrations with episodes."""


@dataclass(frozen=True)
class _Spec:
    """What a shape measures: parameter key, interval, limit, direction, output precision."""

    key: str
    step_hours: int
    limit: float
    direction: Direction
    decimals: int
    floor: float


_SPECS: dict[str, _Spec] = {
    "nh3n_winter_episodes": _Spec("nh3n", 4, 1.0, "above", 3, 0.01),
    "do_summer_diurnal": _Spec("do", 1, 5.0, "below", 2, 0.2),
    "tp_rain_pulses": _Spec("tp", 4, 0.2, "above", 3, 0.005),
    "codmn_slow_load": _Spec("codmn", 4, 6.0, "above", 2, 0.3),
}

_GAP_SHARE = (0.025, 0.035)  # share of missing values per series, drawn uniformly
_GAP_HOURS = (3.0, 48.0)  # length of one gap, drawn log-uniformly [h]


@dataclass(frozen=True)
class _Grid:
    """The time grid of one series and its seasonal terms (one value per time step)."""

    index: pd.DatetimeIndex
    step_hours: int
    hour: FloatArray  # hour of the day, Beijing time
    day: FloatArray  # days since the first time step
    day_of_year: FloatArray  # 0 on 1 January 00:00, fractional
    season: FloatArray  # cos: +1 in late July, −1 in late January
    summer: FloatArray  # (1 + season) / 2
    winter: FloatArray  # (1 − season) / 2

    @property
    def n(self) -> int:
        return len(self.index)

    @property
    def per_day(self) -> int:
        return 24 // self.step_hours


# --------------------------------------------------------------------------------------------
# public functions


def make_series(
    shape: str, *, seed: int, days: int = 365, start: str = "2025-01-01"
) -> tuple[pd.Series, float, str]:
    """Draw one synthetic series of a shape of :data:`SHAPES`.

    Parameters
    ----------
    shape : str
        One of :data:`SHAPES`.
    seed : int
        Non-negative seed; with ``shape`` it decides every draw
        (``SeedSequence([seed, crc32(shape)])``).
    days : int, default 365
        Length of the series in days.
    start : str, default "2025-01-01"
        First day (a date, or a midnight; Beijing time unless it carries an offset).

    Returns
    -------
    values : pandas.Series
        float64 values in mg/L, named after the parameter key (``nh3n``, ``do``, ``tp``,
        ``codmn``), on a tz-aware ``Asia/Shanghai`` DatetimeIndex named ``time`` (every 4 hours
        at 00, 04, …, 20 for the chemistry, every hour for DO); NaN marks the gaps. Values are
        rounded to the instrument precision.
    limit : float
        The target limit (GB 3838 Class Ⅲ) [mg/L].
    direction : {"above", "below"}
        ``"above"``: a value over the limit exceeds it; ``"below"``: a value under it (DO).

    Raises
    ------
    ValueError
        For an unknown shape, a negative seed, ``days < 1`` or a ``start`` that is not a
        midnight.

    Examples
    --------
    >>> values, limit, direction = make_series("nh3n_winter_episodes", seed=1, days=30)
    >>> len(values), str(values.index.tz), limit, direction
    (180, 'Asia/Shanghai', 1.0, 'above')
    """
    if shape not in _SPECS:
        raise ValueError(f"unknown shape {shape!r}; valid: {', '.join(SHAPES)}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(days, bool) or not isinstance(days, int | np.integer) or days < 1:
        raise ValueError(f"days must be a positive integer, got {days!r}")
    spec = _SPECS[shape]
    grid = _make_grid(start, int(days), spec.step_hours)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), zlib.crc32(shape.encode())]))
    values = _DRAW[shape](rng, grid)
    values = np.maximum(values, spec.floor).round(spec.decimals)
    values[_gaps(rng, grid)] = np.nan
    series = pd.Series(values, index=grid.index, name=spec.key, dtype="float64")
    return series, spec.limit, spec.direction


def make_reach(
    shape: str, *, seed: int, days: int = 365, start: str = "2025-01-01"
) -> tuple[pd.Series, pd.Series, float, str]:
    """Draw a reach: the upstream section's series of a shape and the section's downstream.

    The upstream series is a draw of the shape (:func:`make_series`'s generator). Downstream
    [1]_:

    - the upstream water arrives after a **travel time** of 24–40 h at low flow (drawn per
      reach), a third shorter in the summer floods, varying ±12 % from day to day (AR(1) over
      days) [A];
    - **dispersion** spreads it: a Gaussian kernel with a standard deviation of a fifth of the
      travel time;
    - it **decays** on the way (first order: NH3-N 0.1–0.3 per day by nitrification; TP and
      CODMn 0.03–0.1 per day by settling);
    - it **mixes** with a local inflow (15–35 % of the flow, a second independent draw of the
      shape: its own episodes are the section's local pollution), the mixture kept at the
      upstream level (the local inflow is the more polluted) [A];
    - own measurement noise, rounding and gaps.

    Parameters
    ----------
    shape : str
        One of :data:`REACH_SHAPES`.
    seed : int
        Non-negative seed (``SeedSequence([seed, crc32("reach:" + shape)])``).
    days, start
        As :func:`make_series`.

    Returns
    -------
    downstream, upstream : pandas.Series
        The section's series and its upstream section's, on the same grid (NaN in gaps).
    limit : float
        The target limit [mg/L].
    direction : {"above", "below"}

    Examples
    --------
    >>> down, up, limit, direction = make_reach("nh3n_winter_episodes", seed=1, days=30)
    >>> len(down) == len(up) == 180, limit
    (True, 1.0)

    References
    ----------
    .. [1] Chapra, S.C. (1997) *Surface water-quality modeling*, lectures 9–10 (advection,
       dispersion and first-order decay along a river).
    """
    if shape not in REACH_SHAPES:
        raise ValueError(f"unknown reach shape {shape!r}; valid: {', '.join(REACH_SHAPES)}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    spec = _SPECS[shape]
    grid = _make_grid(start, int(days), spec.step_hours)
    rng = np.random.default_rng(
        np.random.SeedSequence([int(seed), zlib.crc32(f"reach:{shape}".encode())])
    )
    upstream = _DRAW[shape](rng, grid)
    local = _DRAW[shape](rng, grid)
    t = grid.day * 24.0
    n_days = math.ceil(grid.n / grid.per_day)
    typical = rng.uniform(24.0, 40.0)  # travel time at low flow [h]
    daily = np.exp(_ar1(rng, n_days, phi=0.8, sd=0.12))
    travel = typical * (1.0 - 0.33 * grid.summer) * np.repeat(daily, grid.per_day)[: grid.n]
    spread = 0.2 * typical / grid.step_hours  # dispersion [steps]
    offsets = np.arange(-math.ceil(3 * spread), math.ceil(3 * spread) + 1)
    kernel = np.exp(-0.5 * (offsets / spread) ** 2)
    padded = np.pad(upstream, offsets.size // 2, mode="edge")
    dispersed = np.convolve(padded, kernel / kernel.sum(), mode="valid")
    arrived = np.interp(t - travel, t, dispersed)
    low, high = {"nh3n": (0.1, 0.3)}.get(spec.key, (0.03, 0.1))
    decay = np.exp(-rng.uniform(low, high) * travel / 24.0)
    share = rng.uniform(0.65, 0.85)  # upstream water in the section's flow
    mixed = (share * decay * arrived + (1.0 - share) * local) / (share * decay.mean() + 1 - share)
    noise = _ar1(rng, grid.n, phi=_phi(spec.step_hours, 8.0), sd=0.04)
    noise += 0.02 * rng.standard_normal(grid.n)
    downstream = mixed * np.exp(noise)
    series = []
    for values in (downstream, upstream):
        values = np.maximum(values, spec.floor).round(spec.decimals)
        values[_gaps(rng, grid)] = np.nan
        series.append(pd.Series(values, index=grid.index, name=spec.key, dtype="float64"))
    return series[0], series[1], spec.limit, spec.direction


def exceedance_share(values: pd.Series, limit: float, direction: str) -> float:
    """Share of the non-missing values that exceed a limit.

    A value equal to the limit meets it (GB 3838 "≤" and "≥").

    Parameters
    ----------
    values : pandas.Series
        The series; NaN values are left out of both counts.
    limit : float
        The target limit.
    direction : {"above", "below"}
        Whether exceeding means over (``"above"``) or under (``"below"``) the limit.

    Returns
    -------
    float
        Exceeding values over non-missing values; NaN when no value is present.

    Examples
    --------
    >>> exceedance_share(pd.Series([0.5, 1.0, 1.5, np.nan]), 1.0, "above")
    0.3333333333333333
    """
    present = values.dropna().to_numpy(dtype=np.float64)
    if present.size == 0:
        return math.nan
    if direction == "above":
        return float(np.mean(present > limit))
    if direction == "below":
        return float(np.mean(present < limit))
    raise ValueError(f"direction must be 'above' or 'below', got {direction!r}")


def demo_series(
    section_id: str, key: str, *, seed: int = 2025, year: int = 2025
) -> tuple[pd.Series, float, str]:
    """The demo's automatic-station series of one section and parameter, valid values only.

    Parameters
    ----------
    section_id : str
        Registry section id, e.g. ``"xiaofanqiao"``.
    key : str
        Parameter key of an automatic-station parameter (``"nh3n"``, ``"do"``, ``"codmn"``, …).
    seed : int, default 2025
        Seed of :func:`service.demo.synthetic.generate_year` (2025 is the demo's).
    year : int, default 2025
        Calendar year of the demo.

    Returns
    -------
    values : pandas.Series
        float64 values in the parameter's unit on a tz-aware ``Asia/Shanghai`` DatetimeIndex
        named ``time``; every value not flagged ``N`` (normal) is NaN, so stopped, maintenance,
        fault, calibration and over-range values never reach a model.
    limit : float
        The limit of the section's target class in ``year``:
        :func:`sections.quality.target_limit` for upper limits, and for DO
        :func:`sections.standards.class_limit` of the target class (a lower limit).
    direction : {"above", "below"}
        ``"below"`` for DO, ``"above"`` otherwise.

    Raises
    ------
    KeyError
        For an unknown section id, or a parameter the demo has no series of at that section.
    ValueError
        When the section has no target limit for ``key`` (e.g. a 劣Ⅴ target).

    Examples
    --------
    >>> values, limit, direction = demo_series("xiaofanqiao", "do")
    >>> str(values.index.tz), direction
    ('Asia/Shanghai', 'below')
    """
    from sections.registry import load_registry

    section = load_registry().section(section_id)  # KeyError names the valid ids
    limit, direction = _demo_limit(section, key, year)
    rows = _demo_groups(seed, year).get((section_id, key))
    if rows is None or rows.empty:
        raise KeyError(f"the demo has no {key!r} series at section {section_id!r}")
    index = pd.DatetimeIndex(rows["observed_at"]).tz_convert(TIMEZONE).rename("time")
    valid = (rows["station_flag"] == "N").to_numpy()
    values = np.where(valid, rows["value"].to_numpy(dtype=np.float64), np.nan)
    return pd.Series(values, index=index, name=key, dtype="float64"), limit, direction


def demo_upstream(section_id: str) -> str | None:
    """The registry's upstream section of a demo section (None for a section without one).

    >>> demo_upstream("weiyun-gucheng"), demo_upstream("aixinzhuang")
    ('youfangqiao', None)
    """
    from sections.registry import load_registry

    return load_registry().section(section_id).upstream


def demo_section_most_exceeding(key: str, *, seed: int = 2025, year: int = 2025) -> str:
    """The assessed section whose valid demo values of ``key`` exceed its limit most often.

    Counts the values of :func:`demo_series` beyond the section's target limit; ties go to the
    first section in registry order. Sections without a limit for ``key`` are skipped.

    Parameters
    ----------
    key : str
        Parameter key, e.g. ``"nh3n"`` or ``"do"``.
    seed : int, default 2025
        Demo seed.
    year : int, default 2025
        Demo year.

    Returns
    -------
    str
        The section id.

    Raises
    ------
    ValueError
        When no assessed section has both a series and a limit for ``key``.
    """
    from sections.registry import load_registry

    best: tuple[int, str] | None = None
    for section in load_registry().assessed_sections():
        try:
            values, limit, direction = demo_series(section.id, key, seed=seed, year=year)
        except (KeyError, ValueError):
            continue
        present = values.dropna()
        count = int((present > limit).sum() if direction == "above" else (present < limit).sum())
        if best is None or count > best[0]:
            best = (count, section.id)
    if best is None:
        raise ValueError(f"no assessed demo section has a {key!r} series with a limit")
    return best[1]


def write_series_csv(values: pd.Series, path: Path) -> None:
    """Write a series as CSV ``time,value``; ISO 8601 times with offset, NaN rows omitted.

    Parameters
    ----------
    values : pandas.Series
        A series on a tz-aware DatetimeIndex.
    path : pathlib.Path
        The file to write (UTF-8, ``\\n`` line ends).

    Examples
    --------
    A time is written as ``2025-01-01T04:00:00+08:00``; read it back with
    ``pd.read_csv(path, parse_dates=["time"])``.
    """
    present = values.dropna()
    index = pd.DatetimeIndex(present.index)
    if index.tz is None:
        raise ValueError("the series needs a tz-aware index")
    frame = pd.DataFrame(
        {"time": [stamp.isoformat() for stamp in index], "value": present.to_numpy()}
    )
    frame.to_csv(path, index=False, lineterminator="\n")


def write_benchmark_set(
    outdir: Path,
    *,
    seeds: Sequence[int] = (1, 2, 3),
    demo_seed: int = 2025,
    demo_year: int = 2025,
    include_demo: bool = True,
) -> list[dict[str, Any]]:
    """Write every shape for every seed, the demo series and ``index.json`` into ``outdir``.

    Files: ``<shape>-seed<N>.csv`` per shape and seed; with ``include_demo``,
    ``demo-<section>-nh3n.csv`` for the assessed section whose demo NH3-N exceeds its limit
    most often (:func:`demo_section_most_exceeding`) and ``demo-<section>-do.csv`` for the
    section whose demo DO falls below its limit most often.

    Parameters
    ----------
    outdir : pathlib.Path
        Output folder, created when missing.
    seeds : sequence of int, default (1, 2, 3)
        Seeds of the synthetic shapes.
    demo_seed, demo_year : int, default 2025
        Seed and year of the demo series.
    include_demo : bool, default True
        Whether to write the demo series too.

    Returns
    -------
    list of dict
        The entries of ``index.json``: ``file``, ``shape`` (``"demo"`` for demo series),
        ``seed``, ``key``, ``section`` (demo only, else null), ``limit``, ``direction``,
        ``values`` (non-missing count), ``exceedance_share`` (of the non-missing values).
    """
    outdir.mkdir(parents=True, exist_ok=True)
    entries: list[dict[str, Any]] = []

    def add(name: str, values: pd.Series, limit: float, direction: str, **extra: Any) -> None:
        write_series_csv(values, outdir / name)
        share = exceedance_share(values, limit, direction)
        entries.append(
            {
                "file": name,
                **extra,
                "limit": limit,
                "direction": direction,
                "values": int(values.notna().sum()),
                "exceedance_share": None if math.isnan(share) else round(share, 4),
            }
        )

    for shape in SHAPES:
        for seed in seeds:
            values, limit, direction = make_series(shape, seed=seed)
            add(
                f"{shape}-seed{seed}.csv",
                values,
                limit,
                direction,
                shape=shape,
                seed=seed,
                key=_SPECS[shape].key,
                section=None,
            )
    if include_demo:
        for key in ("nh3n", "do"):
            section_id = demo_section_most_exceeding(key, seed=demo_seed, year=demo_year)
            values, limit, direction = demo_series(section_id, key, seed=demo_seed, year=demo_year)
            add(
                f"demo-{section_id}-{key}.csv",
                values,
                limit,
                direction,
                shape="demo",
                seed=demo_seed,
                key=key,
                section=section_id,
            )
    (outdir / "index.json").write_text(
        json.dumps(entries, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return entries


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m benchmarks.forecast_series OUTDIR [--seeds 1,2,3]``.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (``sys.argv[1:]`` when None).

    Returns
    -------
    int
        Exit status 0.
    """
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.forecast_series",
        description="Write backtest series for exceedance forecasts (CSV + index.json).",
    )
    parser.add_argument("outdir", type=Path, help="output folder (created when missing)")
    parser.add_argument(
        "--seeds", type=_seed_list, default=(1, 2, 3), help="comma-separated seeds (default 1,2,3)"
    )
    parser.add_argument("--demo-seed", type=int, default=2025, help="demo seed (default 2025)")
    parser.add_argument("--demo-year", type=int, default=2025, help="demo year (default 2025)")
    parser.add_argument("--no-demo", action="store_true", help="skip the demo series")
    args = parser.parse_args(argv)
    entries = write_benchmark_set(
        args.outdir,
        seeds=args.seeds,
        demo_seed=args.demo_seed,
        demo_year=args.demo_year,
        include_demo=not args.no_demo,
    )
    for entry in entries:
        print(f"{entry['file']:<44} {entry['direction']:<5} {entry['exceedance_share']}")
    return 0


# --------------------------------------------------------------------------------------------
# the grid and the random helpers


def _make_grid(start: str, days: int, step_hours: int) -> _Grid:
    first = pd.Timestamp(start)
    first = first.tz_localize(TIMEZONE) if first.tzinfo is None else first.tz_convert(TIMEZONE)
    if first != first.normalize():
        raise ValueError(f"start must be a date or a midnight, got {start!r}")
    index = pd.date_range(
        first, periods=days * 24 // step_hours, freq=f"{step_hours}h", name="time"
    )
    hour = index.hour.to_numpy(dtype=np.float64)
    day = np.arange(len(index), dtype=np.float64) * step_hours / 24.0
    day_of_year = index.day_of_year.to_numpy(dtype=np.float64) - 1.0 + hour / 24.0
    season = np.cos(2.0 * np.pi * (day_of_year - 204.5) / 365.25)
    return _Grid(
        index=index,
        step_hours=step_hours,
        hour=hour,
        day=day,
        day_of_year=day_of_year,
        season=season,
        summer=(1.0 + season) / 2.0,
        winter=(1.0 - season) / 2.0,
    )


def _ar1(rng: np.random.Generator, n: int, *, phi: float, sd: float) -> FloatArray:
    """A stationary AR(1) series ``x[t] = phi·x[t−1] + e[t]`` with standard deviation ``sd``."""
    shocks = rng.standard_normal(n) * (sd * math.sqrt(1.0 - phi * phi))
    out = np.empty(n)
    last = rng.standard_normal() * sd  # start in the stationary distribution
    for t in range(n):
        last = phi * last + shocks[t]
        out[t] = last
    return out


def _phi(step_hours: int, memory_hours: float) -> float:
    """AR(1) coefficient per step for an e-folding memory of ``memory_hours``."""
    return math.exp(-step_hours / memory_hours)


def _gaps(rng: np.random.Generator, grid: _Grid) -> BoolArray:
    """Missing values: runs of 3 hours to 2 days until about 3 % of the series is missing."""
    mask = np.zeros(grid.n, dtype=bool)
    target = rng.uniform(*_GAP_SHARE) * grid.n
    low, high = math.log(_GAP_HOURS[0]), math.log(_GAP_HOURS[1])
    for _ in range(10_000):
        if mask.sum() >= target:
            break
        hours = math.exp(rng.uniform(low, high))
        length = max(1, round(hours / grid.step_hours))
        first = int(rng.integers(0, grid.n))
        mask[first : first + length] = True
    return mask


def _place(
    rng: np.random.Generator,
    lengths_days: Sequence[float] | npt.NDArray[np.float64] | npt.NDArray[np.int64],
    *,
    weight: FloatArray,
    per_day: int,
    spacing_days: float,
) -> list[tuple[int, float]]:
    """Non-overlapping events as ``(start step, length in days)``, in the order drawn.

    A start is drawn with probability ∝ ``weight``; events are kept ``spacing_days`` apart, and
    an event that finds no room is dropped.
    """
    n = weight.size
    free = np.ones(n, dtype=bool)
    placed: list[tuple[int, float]] = []
    for length in lengths_days:
        span = math.ceil(length * per_day)
        pad = math.ceil(spacing_days * per_day)
        room = np.concatenate(([0], np.cumsum(free, dtype=np.int64)))
        ok = np.zeros(n, dtype=bool)
        last = n - span
        if last <= 0:
            continue
        ok[:last] = room[span : span + last] - room[:last] == span
        p = np.where(ok, weight, 0.0)
        if p.sum() <= 0:
            continue
        first = int(rng.choice(n, p=p / p.sum()))
        placed.append((first, float(length)))
        free[max(0, first - pad) : first + span + pad] = False
    return placed


def _pulse(
    t_hours: FloatArray, start: float, *, rise: float, plateau: float, decay: float
) -> FloatArray:
    """0…1: a linear rise over ``rise`` hours, a plateau, then an exponential decay [h]."""
    up = np.clip((t_hours - start) / rise, 0.0, 1.0)
    end = start + rise + plateau
    down = np.exp(-np.maximum(t_hours - end, 0.0) / decay)
    return np.where(t_hours < start, 0.0, up * down)


# --------------------------------------------------------------------------------------------
# the shapes


def _nh3n_winter_episodes(rng: np.random.Generator, grid: _Grid) -> FloatArray:
    winter_level = rng.uniform(0.65, 0.8)  # median in late January [mg/L]
    summer_level = rng.uniform(0.26, 0.34)  # median in late July [mg/L]
    log_base = np.log(summer_level) * grid.summer + np.log(winter_level) * grid.winter
    noise = _ar1(rng, grid.n, phi=_phi(4, 10.0), sd=0.10)
    noise += _ar1(rng, grid.n, phi=_phi(4, 24.0 * 8.0), sd=0.13)
    noise += 0.04 * rng.standard_normal(grid.n)  # analyser repeatability

    # 3–8 episodes of 1–6 days, together 20–40 days; more likely in the cold season
    for _ in range(1000):  # count and lengths redrawn together until the total fits
        lengths = rng.integers(1, 7, size=int(rng.integers(3, 9)))
        if 20 <= lengths.sum() <= 40:
            break
    weight = 0.35 + grid.winter**2
    events = _place(rng, lengths, weight=weight, per_day=grid.per_day, spacing_days=6.0)
    t = grid.day * 24.0
    episodes = np.zeros(grid.n)
    for first, length in events:
        level = rng.uniform(1.3, 2.4)  # plateau median over the limit [mg/L]
        factor = math.log(level) - log_base[first]
        rise = rng.uniform(4.0, 12.0)
        decay = rng.uniform(6.0, 20.0)
        shape = _pulse(t, t[first], rise=rise, plateau=24.0 * length - rise, decay=decay)
        episodes = np.maximum(episodes, max(factor, 0.3) * shape)
    out: FloatArray = np.exp(log_base + noise + episodes)
    return out


def _do_summer_diurnal(rng: np.random.Generator, grid: _Grid) -> FloatArray:
    # daily mean: about 10 mg/L in winter (cold, saturated), about 7.5 in summer
    summer = grid.summer**1.5
    mean = rng.uniform(9.8, 10.3) - rng.uniform(2.7, 3.0) * summer
    # half the diurnal swing: about 0.8 mg/L in winter, about 3 in July–August
    half_swing = 0.8 + rng.uniform(2.3, 2.6) * summer**2
    # cloudiness: the swing of one day varies (AR(1) over days, log-normal)
    n_days = math.ceil(grid.n / grid.per_day)
    cloud = np.exp(_ar1(rng, n_days, phi=0.6, sd=0.18))
    half_swing = half_swing * np.repeat(cloud, grid.per_day)[: grid.n]
    # photosynthesis: minimum at 06:00 (dawn), maximum at 15:00; slow fall through the night
    hour = grid.hour
    theta = np.where(
        (hour >= 6.0) & (hour < 15.0),
        np.pi + np.pi * (hour - 6.0) / 9.0,
        np.pi * np.mod(hour - 15.0, 24.0) / 15.0,
    )
    level = mean + half_swing * np.cos(theta)
    # one or two sags after summer storms (organic runoff): −1…−2.5 mg/L for 1–3 days
    sag_days = rng.uniform(1.0, 3.0, size=int(rng.integers(1, 3)))
    weight = np.exp(-(((grid.day_of_year - 205.0) / 25.0) ** 2)) + 1e-6
    t = grid.day * 24.0
    events = _place(rng, sag_days, weight=weight, per_day=grid.per_day, spacing_days=10.0)
    for first, length in events:
        drop = rng.uniform(1.0, 2.5)
        level = level - drop * _pulse(
            t, t[first], rise=6.0, plateau=24.0 * length - 6.0, decay=18.0
        )
    noise = _ar1(rng, grid.n, phi=_phi(1, 12.0), sd=0.04)
    noise += _ar1(rng, grid.n, phi=_phi(1, 24.0 * 6.0), sd=0.03)
    noise += 0.01 * rng.standard_normal(grid.n)
    out: FloatArray = np.maximum(level, 0.5) * np.exp(noise)
    return out


def _tp_rain_pulses(rng: np.random.Generator, grid: _Grid) -> FloatArray:
    winter_level = rng.uniform(0.09, 0.11)  # [mg/L]
    summer_level = rng.uniform(0.12, 0.15)
    log_base = np.log(summer_level) * grid.summer + np.log(winter_level) * grid.winter
    noise = _ar1(rng, grid.n, phi=_phi(4, 12.0), sd=0.09)
    noise += _ar1(rng, grid.n, phi=_phi(4, 24.0 * 6.0), sd=0.08)
    noise += 0.03 * rng.standard_normal(grid.n)

    # runoff pulses of 1–3 days, mostly in the July–August rainy season
    count = int(rng.integers(8, 15))
    lengths = rng.uniform(1.0, 3.0, size=count)
    rainy = np.exp(-(((grid.day_of_year - 200.0) / 28.0) ** 2))
    weight = rainy + 0.01
    events = _place(rng, lengths, weight=weight, per_day=grid.per_day, spacing_days=3.0)
    t = grid.day * 24.0
    pulses = np.zeros(grid.n)
    for first, length in events:
        peak = rng.uniform(0.25, 0.6)  # [mg/L]
        factor = max(math.log(peak) - log_base[first], 0.2)
        rise = rng.uniform(4.0, 10.0)
        plateau = max(24.0 * length * rng.uniform(0.5, 0.8) - rise, 0.0)
        decay = 24.0 * length * rng.uniform(0.15, 0.3)
        shape = _pulse(t, t[first], rise=rise, plateau=plateau, decay=decay)
        pulses = np.maximum(pulses, factor * shape)
    out: FloatArray = np.exp(log_base + noise + pulses)
    return out


def _codmn_slow_load(rng: np.random.Generator, grid: _Grid) -> FloatArray:
    median = rng.uniform(4.8, 5.0)  # [mg/L]
    memory_days = rng.uniform(15.0, 35.0)  # e-folding memory of the load
    load = _ar1(rng, grid.n, phi=_phi(4, 24.0 * memory_days), sd=1.0)
    load += 0.25 * _ar1(rng, grid.n, phi=_phi(4, 24.0 * 2.0), sd=1.0)
    # the load's distribution over the year is fixed (ranks mapped to normal scores), so every
    # seed has the same spread of weekly levels and only their timing differs
    ranks = np.argsort(np.argsort(load))
    scores = _normal_quantile((ranks + 0.5) / grid.n)
    log_level = math.log(median) + 0.15 * scores + 0.06 * grid.season
    noise = _ar1(rng, grid.n, phi=_phi(4, 8.0), sd=0.025)
    noise += 0.015 * rng.standard_normal(grid.n)  # analyser repeatability
    return np.exp(log_level + noise)


def _normal_quantile(p: FloatArray) -> FloatArray:
    """The standard normal quantile function, element-wise (:class:`statistics.NormalDist`)."""
    inverse = statistics.NormalDist().inv_cdf
    return np.array([inverse(float(x)) for x in p], dtype=np.float64)


_DRAW: dict[str, Callable[[np.random.Generator, _Grid], FloatArray]] = {
    "nh3n_winter_episodes": _nh3n_winter_episodes,
    "do_summer_diurnal": _do_summer_diurnal,
    "tp_rain_pulses": _tp_rain_pulses,
    "codmn_slow_load": _codmn_slow_load,
}


# --------------------------------------------------------------------------------------------
# the demo


@functools.lru_cache(maxsize=2)
def _demo_groups(seed: int, year: int) -> dict[tuple[str, str], pd.DataFrame]:
    """The demo year's automatic-station observations by (section id, parameter key).

    Generated once per seed and year.
    """
    from sections.registry import load_registry
    from service.demo.synthetic import generate_year

    observations = generate_year(load_registry(), year=year, seed=seed).observations
    columns = ["observed_at", "value", "station_flag"]
    return {
        (str(section_id), str(key)): rows[columns]
        for (section_id, key), rows in observations.groupby(["section_id", "parameter"], sort=False)
    }


def _demo_limit(section: Any, key: str, year: int) -> tuple[float, Direction]:
    """The section's target-class limit for ``key`` in ``year``, and its direction."""
    from sections.classes import WaterClass
    from sections.quality import target_limit
    from sections.standards import class_limit

    on = dt.date(year, 7, 1)  # the target class is set per year
    if key == "do":
        target = section.target_class(on)
        if target > WaterClass.V:
            raise ValueError(f"section {section.id!r} has no DO limit (target {target.label})")
        return float(class_limit("do", target, section.water_body)), "below"
    limit = target_limit(section, key, on)
    if limit is None:
        raise ValueError(f"section {section.id!r} has no upper target limit for {key!r}")
    return float(limit), "above"


def _seed_list(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"seeds must be integers, got {text!r}") from error
    if not seeds or any(seed < 0 for seed in seeds):
        raise argparse.ArgumentTypeError(f"seeds must be non-negative integers, got {text!r}")
    return seeds


if __name__ == "__main__":
    raise SystemExit(main())
