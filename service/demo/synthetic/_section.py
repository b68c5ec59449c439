"""One section's series: every parameter of one station over the year, flags included.

Base levels (:mod:`._rivers`) with seasonal and diurnal cycles, a slow pollution load and AR(1)
noise partly shared along the river; then the episodes, maintenance windows, faults and
calibration checks of :mod:`._events`, the stopped months of :mod:`._statuses`; and the
section's laboratory samples (:mod:`._lab`), which follow its CODMn.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from sections.registry import Section
from service.demo.synthetic._constants import (
    _DECIMALS,
    _EPISODE_PARAMETERS,
    _FLAG_CODE,
    _FLOORS,
    _SPAN_FACTOR,
    HOURLY_PARAMETERS,
)
from service.demo.synthetic._events import (
    _MAINTENANCE_HOURS,
    _MAINTENANCE_WINDOWS,
    _break,
    _calibrate,
    _Episode,
    _episode_shape,
    _place_episodes,
    _windows_mask,
)
from service.demo.synthetic._grid import _ar1, _Grid, _rng
from service.demo.synthetic._lab import _lab_rows, _LabRow
from service.demo.synthetic._rivers import _levels, _limit, _profile
from service.demo.synthetic._types import FloatArray, IntArray, Status

_CODMN_SUMMER_RISE = 0.2  # relative rise of CODMn from winter to late July (rainy-season runoff)
_DO_SUMMER_DROP = 0.05  # relative drop of DO saturation in late July (respiration) [A]
_MAX_TRAVEL_STEPS = 90  # longest travel along a river kept: 90 × 4 h = 15 days
_PRESSURE_PHI = math.exp(-1.0 / 90.0)  # slow pollution load: e-folding 90 × 4 h = 15 days
# How strongly each quantity follows the slow load (log-space exponent) [A, calibrated].
_PRESSURE_WEIGHT: Mapping[str, float] = MappingProxyType(
    {"codmn": 1.0, "nh3n": 1.6, "tp": 1.2, "tn": 0.5, "do": -0.35}
)


@dataclass(frozen=True)
class _Piece:
    """The observations of one section and parameter."""

    section: Section
    key: str
    hours: IntArray
    values: FloatArray
    flags: npt.NDArray[np.uint8]


def _section_pieces(
    section: Section,
    *,
    grid: _Grid,
    seed: int,
    weather: FloatArray,
    status_months: Mapping[int, Status],
    river_noise: dict[tuple[str, str], FloatArray],
    arriving: Sequence[_Episode] = (),
    travelled_hours: int = 0,
) -> tuple[list[_Piece], list[_LabRow], list[_Episode]]:
    """The section's pieces, laboratory rows, and the episodes its water carries downstream
    (its own and those ``arriving`` from its upstream section). ``travelled_hours``: how long
    the river's water took from the river's first section to this one."""
    year = grid.year
    lake = section.water_body == "lake"
    jan1 = dt.date(year, 1, 1)
    limits = {key: _limit(section, key, jan1) for key in _EPISODE_PARAMETERS}
    levels = _levels(section, seed=seed, on=jan1)
    rng = _rng(seed, year, "section", section.id)

    hours = grid.hours
    chem = slice(None, None, 4)
    chem_hours = hours[chem]
    n_chem = chem_hours.size

    # -- stopped months and pollution episodes
    stopped_h = np.isin(grid.month, np.array(sorted(status_months), dtype=np.int64))
    stopped_day = stopped_h[::24]
    episodes_rng = _rng(seed, year, "episodes", section.id)
    spans = _place_episodes(episodes_rng, allowed=~stopped_day)

    lag = min(travelled_hours // 4, _MAX_TRAVEL_STEPS)  # steps of the 4-hourly chemistry

    def shared(key: str, phi: float, sd: float) -> FloatArray:
        """Log noise shared along a river (same year), half the variance of the total; it
        travels with the water (``travelled_hours`` later than at the river's first section)."""
        if (section.river, key) not in river_noise:
            river_rng = _rng(seed, year, "river-noise", section.river, key)
            length = n_chem + _MAX_TRAVEL_STEPS
            river_noise[(section.river, key)] = _ar1(river_rng, length, phi=phi, sd=sd)
        river = river_noise[(section.river, key)][_MAX_TRAVEL_STEPS - lag :][:n_chem]
        own = _ar1(rng, n_chem, phi=phi, sd=sd)
        return (river + own) / math.sqrt(2.0)

    summer_c, winter_c = grid.summer[chem], grid.winter[chem]
    # the slow pollution load (weeks): months differ, and a month's items move together
    pressure = shared("pressure", _PRESSURE_PHI, levels.pressure)
    load = {key: np.exp(weight * pressure) for key, weight in _PRESSURE_WEIGHT.items()}
    baseline = {
        "codmn": levels.codmn * (1.0 + _CODMN_SUMMER_RISE * summer_c) * load["codmn"],
        "nh3n": (
            levels.nh3n * (1.0 + (levels.nh3n_winter_factor - 1.0) * winter_c**2) * load["nh3n"]
        ),
        "tp": levels.tp * (1.0 + (levels.tp_summer_factor - 1.0) * summer_c**2) * load["tp"],
    }
    episodes: list[_Episode] = []
    for first, length in spans:
        on = jan1 + dt.timedelta(days=first)
        slots = slice(first * 6, (first + length) * 6)
        factors = {}
        for key in _EPISODE_PARAMETERS:
            typical = float(baseline[key][slots].mean())
            needed = episodes_rng.uniform(1.3, 2.0) * _limit(section, key, on) / typical
            factors[key] = max(float(episodes_rng.uniform(1.5, 3.0)), needed)
        episodes.append(
            _Episode(
                start=first * 24,
                end=(first + length) * 24,
                factors=MappingProxyType(factors),
                tn_rise=float(episodes_rng.uniform(0.3, 1.0)),
                do_drop=float(episodes_rng.uniform(0.15, 0.35)),
            )
        )
    episodes.extend(arriving)
    shapes = [_episode_shape(hours, e) for e in episodes]
    stress = np.zeros(grid.n_hours)  # 0…1, how strongly an episode is under way
    do_loss = np.zeros(grid.n_hours)  # relative DO drop
    tn_gain = np.zeros(grid.n_hours)  # relative TN rise
    for episode, shape in zip(episodes, shapes, strict=True):
        stress += shape
        do_loss += episode.do_drop * shape
        tn_gain += episode.tn_rise * shape

    def boost(key: str) -> FloatArray:
        total = np.ones(n_chem)
        for episode, shape in zip(episodes, shapes, strict=True):
            total += (episode.factors[key] - 1.0) * shape[chem]
        return total

    # -- basic parameters, hourly
    hod = grid.hour_of_day
    afternoon = np.cos(2.0 * np.pi * (hod - 15) / 24.0)
    temp = (
        levels.temp_mean
        + levels.temp_amplitude * grid.season
        + (0.4 if lake else 0.6) * afternoon * (0.5 + grid.summer)
        + weather
        + _ar1(rng, grid.n_hours, phi=0.97, sd=0.3)
    )
    temp = np.maximum(temp, 0.0)
    photosynthesis = (0.3 + 1.0 * grid.summer) * (1.5 if lake else 1.0) * afternoon
    do = (
        levels.do_fraction
        * (1.0 - _DO_SUMMER_DROP * grid.summer)
        * np.repeat(load["do"], 4)
        * _do_saturation(temp)
        + photosynthesis
        + _ar1(rng, grid.n_hours, phi=0.95, sd=0.3)
    )
    do *= 1.0 - do_loss
    ph = (
        levels.ph
        + 0.15 * grid.summer
        + 0.12 * (0.3 + grid.summer) * afternoon
        + _ar1(rng, grid.n_hours, phi=0.98, sd=0.07)
        - 0.15 * stress
    )
    ph = np.clip(ph, 6.5, 9.2)
    conductivity = (
        levels.conductivity
        * (1.0 - 0.15 * grid.rain)
        * np.exp(_ar1(rng, grid.n_hours, phi=0.995, sd=0.06))
        * (1.0 + 0.15 * stress)
    )
    turbidity = (
        levels.turbidity
        * np.exp(0.35 * grid.rain + _ar1(rng, grid.n_hours, phi=0.98, sd=0.25))
        * (1.0 + 1.0 * stress)
    )

    # -- chemistry, 4-hourly
    series: dict[str, FloatArray] = {
        "temp": temp,
        "do": do,
        "ph": ph,
        "conductivity": conductivity,
        "turbidity": turbidity,
        "codmn": baseline["codmn"] * np.exp(shared("codmn", 0.9, 0.12)) * boost("codmn"),
        "nh3n": baseline["nh3n"] * np.exp(shared("nh3n", 0.9, 0.25)) * boost("nh3n"),
        "tp": baseline["tp"] * np.exp(shared("tp", 0.9, 0.2)) * boost("tp"),
        "tn": (
            levels.tn
            * (1.0 + 0.3 * winter_c)
            * load["tn"]
            * np.exp(shared("tn", 0.9, 0.12))
            * (1.0 + tn_gain[chem])
        ),
    }
    if lake:
        log_chla = (
            math.log(levels.chla_winter)
            + math.log(levels.chla_summer / levels.chla_winter) * summer_c**1.5
            + 0.05 * afternoon[chem]
            + _ar1(rng, n_chem, phi=0.95, sd=0.25)
        )
        chla = np.exp(log_chla)
        series["chla"] = chla
        series["algae"] = chla * levels.algae_per_chla * np.exp(_ar1(rng, n_chem, phi=0.9, sd=0.15))

    # -- station-wide maintenance windows
    faults_rng = _rng(seed, year, "faults", section.id)
    n_windows = int(faults_rng.integers(_MAINTENANCE_WINDOWS[0], _MAINTENANCE_WINDOWS[1] + 1))
    maintenance_h = _windows_mask(
        grid.n_hours,
        faults_rng.integers(0, grid.n_hours, size=n_windows),
        faults_rng.integers(_MAINTENANCE_HOURS[0], _MAINTENANCE_HOURS[1] + 1, size=n_windows),
    )

    pieces = []
    for key in sorted(series):
        hourly = key in HOURLY_PARAMETERS
        at = hours if hourly else chem_hours
        values = np.maximum(series[key], _FLOORS[key]).round(_DECIMALS[key])
        flags = np.full(values.size, _FLAG_CODE["N"], dtype=np.uint8)
        if key in _EPISODE_PARAMETERS:
            flags[values > _SPAN_FACTOR * limits[key]] = _FLAG_CODE["T"]
        _calibrate(faults_rng, key, values, flags, hourly=hourly, n_days=grid.n_days, limits=limits)
        _break(faults_rng, values, flags, hourly=hourly)
        maintenance = maintenance_h[at]
        values[maintenance] = np.nan
        flags[maintenance] = _FLAG_CODE["M"]
        stopped = stopped_h[at]
        values[stopped] = np.nan
        flags[stopped] = _FLAG_CODE["F"]
        pieces.append(_Piece(section=section, key=key, hours=at, values=values, flags=flags))
    lab = _lab_rows(
        section,
        grid=grid,
        seed=seed,
        profile=_profile(section),
        codmn=series["codmn"],
        status_months=status_months,
        spans=spans,
    )
    return pieces, lab, episodes


def _do_saturation(temp: FloatArray) -> FloatArray:
    """Oxygen saturation of fresh water at 1 atm [mg/L] for a temperature [℃] (APHA 4500-O)."""
    return 14.652 - 0.41022 * temp + 0.007991 * temp**2 - 0.000077774 * temp**3
