"""Episodes, maintenance, faults and calibration: what disturbs a station's undisturbed series.

Pollution episodes raise CODMn, NH3-N and TP over the target-class limit for a few days, and
travel downstream: a section sees its upstream section's episodes a travel time later, diluted
and partly decayed (:func:`_arriving`); maintenance windows (flag ``M``), analyser faults
(``D``) and calibration checks on a standard solution (``C``) replace values in place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from service.demo.synthetic._constants import _DECIMALS, _FLAG_CODE
from service.demo.synthetic._types import BoolArray, FloatArray, IntArray

# Standard solutions of the calibration checks; None: checked against the class limit (mid span).
_CALIBRATION_STANDARDS: Mapping[str, float | None] = MappingProxyType(
    {
        "ph": 6.86,  # phosphate buffer
        "conductivity": 1413.0,  # 0.01 mol/L KCl [μS/cm]
        "turbidity": 20.0,  # formazin [NTU]
        "codmn": None,
        "nh3n": None,
        "tp": None,
        "tn": 4.0,
        "chla": 20.0,
        "algae": 1.0e7,
    }
)

_DAILY_CALIBRATION_RATE = {"hourly": 1 / 30, "four_hourly": 1 / 21}  # checks per day
_FAULTS_PER_PARAMETER = 1.0  # Poisson mean per analyser and year
_MAINTENANCE_WINDOWS = (2, 4)  # inclusive range per station and year
_MAINTENANCE_HOURS = (4, 36)  # inclusive range of one window
_EPISODES_PER_YEAR = (1, 3)  # inclusive
_EPISODE_DAYS = (1, 6)  # inclusive; the first episode of a section lasts 3 days or more
_LONG_EPISODE_DAYS = 3
# Downstream travel of an episode [A]: the water of the upstream section arrives 24–40 h later
# at the plains rivers' low flow (tens of kilometres between sections at 0.2–0.4 m/s), and
# 50–80 % of its excess is left after dilution by tributaries and decay on the way.
_TRAVEL_HOURS = (24, 40)  # inclusive
_CARRIED = (0.5, 0.8)


@dataclass(frozen=True)
class _Episode:
    """A pollution episode: plateau from ``start`` to ``end`` (hours), peak factor per key."""

    start: int
    end: int
    factors: Mapping[str, float]
    tn_rise: float
    do_drop: float


def _episode_shape(hours: IntArray, episode: _Episode) -> FloatArray:
    """0…1: a 3-hour rise before the plateau, 1 on it, an exponential decay (4 h) after it."""
    rise = np.clip((hours - (episode.start - 3)) / 3.0, 0.0, 1.0)
    tail = np.exp(-np.maximum(hours - episode.end + 1, 0) / 4.0)
    return rise * np.where(hours < episode.end, 1.0, tail)


@dataclass(frozen=True)
class _Reach:
    """How the water of a section's upstream section reaches it (drawn per reach) [A]."""

    travel_hours: int
    carried: float  # share of an episode's excess left on arrival


def _reach(rng: np.random.Generator) -> _Reach:
    """A reach's travel time (:data:`_TRAVEL_HOURS`) and carried share (:data:`_CARRIED`)."""
    travel = int(rng.integers(_TRAVEL_HOURS[0], _TRAVEL_HOURS[1] + 1))
    return _Reach(travel_hours=travel, carried=float(rng.uniform(*_CARRIED)))


def _arriving(upstream: list[_Episode], reach: _Reach, *, n_hours: int) -> list[_Episode]:
    """The upstream section's episodes as they arrive here: one travel time later, each excess
    over the undisturbed water scaled by the share carried; those arriving after the year's end
    are dropped."""
    travel, carried = reach.travel_hours, reach.carried
    return [
        _Episode(
            start=episode.start + travel,
            end=episode.end + travel,
            factors=MappingProxyType(
                {key: 1.0 + carried * (factor - 1.0) for key, factor in episode.factors.items()}
            ),
            tn_rise=carried * episode.tn_rise,
            do_drop=carried * episode.do_drop,
        )
        for episode in upstream
        if episode.start + travel < n_hours
    ]


def _place_episodes(rng: np.random.Generator, *, allowed: BoolArray) -> list[tuple[int, int]]:
    """Draw non-overlapping episode day ranges ``(first_day, n_days)`` on allowed days."""
    count = int(rng.integers(_EPISODES_PER_YEAR[0], _EPISODES_PER_YEAR[1] + 1))
    lengths = rng.integers(_EPISODE_DAYS[0], _EPISODE_DAYS[1] + 1, size=count)
    lengths[0] = rng.integers(_LONG_EPISODE_DAYS, _EPISODE_DAYS[1] + 1)
    free = allowed.copy()
    placed: list[tuple[int, int]] = []
    for length in (int(x) for x in lengths):
        # the episode and one day either side must be free
        window = length + 2
        ok = np.concatenate(([0], np.cumsum(free, dtype=np.int64)))
        starts = np.flatnonzero(ok[window:] - ok[:-window] == window) + 1
        if starts.size == 0:
            continue
        first = int(rng.choice(starts))
        placed.append((first, length))
        free[max(0, first - 7) : first + length + 7] = False
    return sorted(placed)


def _windows_mask(n: int, starts: IntArray, lengths: IntArray) -> BoolArray:
    """Boolean mask of ``[start, start + length)`` windows over ``range(n)``, vectorised."""
    edges = np.zeros(n + 1, dtype=np.int64)
    np.add.at(edges, np.clip(starts, 0, n), 1)
    np.add.at(edges, np.clip(starts + lengths, 0, n), -1)
    return np.cumsum(edges[:n]) > 0


def _calibrate(
    rng: np.random.Generator,
    key: str,
    values: FloatArray,
    flags: npt.NDArray[np.uint8],
    *,
    hourly: bool,
    n_days: int,
    limits: Mapping[str, float],
) -> None:
    """Replace a few samples by calibration checks on a standard solution (flag C), in place."""
    if key not in _CALIBRATION_STANDARDS:
        return
    standard = _CALIBRATION_STANDARDS[key]
    if standard is None:
        standard = limits[key]
    rate = _DAILY_CALIBRATION_RATE["hourly" if hourly else "four_hourly"]
    count = int(rng.poisson(rate * n_days))
    starts = rng.integers(0, values.size, size=count)
    lengths = rng.integers(1, 3, size=count) if hourly else np.ones(count, dtype=np.int64)
    mask = _windows_mask(values.size, starts, lengths)
    measured = standard * (1.0 + 0.02 * rng.standard_normal(int(mask.sum())))
    values[mask] = np.maximum(measured, 0.0).round(_DECIMALS[key])
    flags[mask] = _FLAG_CODE["C"]


def _break(
    rng: np.random.Generator,
    values: FloatArray,
    flags: npt.NDArray[np.uint8],
    *,
    hourly: bool,
) -> None:
    """Analyser faults (flag D), in place: missing values, a stuck value, or zeros."""
    count = int(rng.poisson(_FAULTS_PER_PARAMETER))
    if count == 0:
        return
    starts = rng.integers(0, values.size, size=count)
    lengths = rng.integers(2, 37, size=count) if hourly else rng.integers(1, 10, size=count)
    modes = rng.integers(0, 3, size=count)  # 0 missing, 1 stuck, 2 zero
    stuck = values[np.maximum(starts - 1, 0)]
    for start, length, mode, last in zip(starts, lengths, modes, stuck, strict=True):
        window = slice(int(start), int(start + length))
        values[window] = (np.nan, last, 0.0)[int(mode)]
        flags[window] = _FLAG_CODE["D"]
