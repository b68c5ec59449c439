"""Synthetic station and laboratory data for the demo: one seeded year for every registry section.

:func:`generate_year` builds a year of water-quality automatic-station (水质自动站) data for every
section of a :class:`~sections.registry.Registry`, reference sections included, the way the
stations report it (domain.md §5):

- the five basic parameters (temp, pH, DO, conductivity, turbidity) every hour, the chemistry
  (CODMn, NH3-N, TP, TN) every 4 hours at 00, 04, 08, 12, 16 and 20 o'clock Beijing time, and on
  lake points chlorophyll-a and algal density every 4 hours as well;
- river profiles (滏阳河, 清凉江, 卫运河 plain rivers with CODMn 4–8 mg/L; the drainage rivers
  滏东排河 and 滏阳新河 worst; the 滹沱河 best) and a slow pollution load over weeks, so that about
  three quarters of the river section-months are at Class Ⅲ or better, with Ⅳ, Ⅴ and some 劣Ⅴ
  months (the plan: 2020 80 %, 2021 76.9 %, domain.md §2) [A, calibrated];
- seasonal and diurnal cycles (water temperature peaking in late July, DO following saturation and
  photosynthesis, so summer lows of 5–6 mg/L on the plain rivers, winter NH3-N highs, summer TP
  and algae highs in the lake) on top of autocorrelated AR(1) noise, partly shared along a river;
- 1–3 pollution episodes per section and year, lasting 1–6 days (at least one of 3 days or more),
  in which CODMn, NH3-N and TP rise over the section's target-class limit; values beyond the
  instrument span (2 × the target-class limit) are flagged ``T`` and kept;
- station maintenance (``M``), analyser faults (``D``: missing, stuck or zero values) and
  calibration checks (``C``); frequent no-flow (断流) months on the drainage rivers in the dry
  season, rare ones on the other small rivers, and a few frozen (结冰) winter months, in which the
  station is stopped (``F``) and reports nothing;
- monthly laboratory samples of the GB 3838 items without an automatic analyser (COD following
  the automatic CODMn, BOD5, fluoride, metals mostly below their detection limits as ``<DL``)
  for every flowing month of every assessed section, and a few spot checks (抽测).

Everything is drawn from :func:`numpy.random.default_rng` generators seeded from ``seed``,
``year`` and stable CRC-32 hashes of section ids and river names, so a registry, year and seed
always give identical frames. Magnitudes follow the Hebei rows of the national automatic-station
publication (CNEMC, 7 Nov 2025). The data are invented: they must never be shown as measurements.

References
----------
.. [1] GB 3838-2002 地表水环境质量标准, 表1 (class limits) [V], domain.md §3.
.. [2] domain.md §5: automatic stations, sampling intervals, HJ 212 data flags [A for the
   surface-water variant], instrument span ≈ 2 × the target-class limit [V].
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from sections.parameters import parameter
from sections.registry import Registry, Section
from sections.standards import class_limit

__all__ = [
    "CHEMISTRY_HOURS",
    "FLAGS",
    "FOUR_HOURLY_PARAMETERS",
    "HOURLY_PARAMETERS",
    "LAKE_PARAMETERS",
    "STATUS_NOTES",
    "SyntheticYear",
    "demo_station",
    "generate_year",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

Status = Literal["no_flow", "frozen"]

HOURLY_PARAMETERS: tuple[str, ...] = ("conductivity", "do", "ph", "temp", "turbidity")
"""Basic parameters reported every hour."""

FOUR_HOURLY_PARAMETERS: tuple[str, ...] = ("codmn", "nh3n", "tn", "tp")
"""Chemistry reported every 4 hours at every station."""

LAKE_PARAMETERS: tuple[str, ...] = ("algae", "chla")
"""Parameters reported every 4 hours at lake points only."""

CHEMISTRY_HOURS: tuple[int, ...] = (0, 4, 8, 12, 16, 20)
"""Beijing-time hours of the 4-hourly analyses."""

FLAGS: str = "NFMDCT"
"""Station data flags used: N normal, F stopped, M maintenance, D fault, C calibration,
T over range (HJ 212-2017 family, domain.md §5 [A])."""

STATUS_NOTES: Mapping[str, str] = MappingProxyType(
    {"no_flow": "断流，自动站停运", "frozen": "河道结冰，自动站停运"}
)
"""Chinese note listed with each no-flow or frozen month."""

# Rivers large enough never to run dry or freeze over in the demo (and the lake itself).
_PERENNIAL_WATERS = frozenset({"滏阳河", "卫运河", "南运河", "衡水湖"})
# Drainage rivers (排河, 排干渠 …) that run dry in most of the dry season [A, from the plan's list
# of waters; a river whose name contains 排 counts as one too].
_DRAINAGE_RIVERS = frozenset({"滏东排河", "滏阳新河"})
# Chance of a no-flow (断流) month per calendar month [A]: the spring dry season (March–June) and
# the low-flow winter; the July–September rainy season always flows.
_NO_FLOW_CHANCE_DRAINAGE: Mapping[int, float] = MappingProxyType(
    {1: 0.35, 2: 0.45, 3: 0.6, 4: 0.8, 5: 0.85, 6: 0.6, 10: 0.2, 11: 0.3, 12: 0.35}
)
_NO_FLOW_CHANCE_SMALL: Mapping[int, float] = MappingProxyType({4: 0.06, 5: 0.08, 6: 0.06})
_MIN_NO_FLOW_DRAINAGE = 4  # at least this many no-flow months on a drainage river
_FROZEN_CHANCE: Mapping[int, float] = MappingProxyType({12: 0.06, 1: 0.15, 2: 0.05})
DRY_SEASON: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 10, 11, 12)
"""Months in which the demo's rivers may run dry (断流)."""

_BEIJING_OFFSET = np.timedelta64(8, "h")  # UTC+8, no daylight saving

_EPISODE_PARAMETERS = ("codmn", "nh3n", "tp")
_SPAN_FACTOR = 2.0  # instrument span ≈ 2 × target-class limit (domain.md §5) [V]

# Instrument output precision (decimals) per parameter.
_DECIMALS: Mapping[str, int] = MappingProxyType(
    {
        "temp": 2,
        "ph": 2,
        "do": 2,
        "conductivity": 1,
        "turbidity": 1,
        "codmn": 2,
        "nh3n": 3,
        "tp": 3,
        "tn": 2,
        "chla": 1,
        "algae": 0,
    }
)

# Smallest value an instrument reports (about half its detection limit) [same unit as the key].
_FLOORS: Mapping[str, float] = MappingProxyType(
    {
        "temp": 0.0,
        "ph": 0.0,
        "do": 0.2,
        "conductivity": 50.0,
        "turbidity": 0.3,
        "codmn": 0.3,
        "nh3n": 0.01,
        "tp": 0.005,
        "tn": 0.05,
        "chla": 0.5,
        "algae": 1.0e4,
    }
)

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
_CODMN_SUMMER_RISE = 0.2  # relative rise of CODMn from winter to late July (rainy-season runoff)
_DO_SUMMER_DROP = 0.05  # relative drop of DO saturation in late July (respiration) [A]
_PRESSURE_PHI = math.exp(-1.0 / 90.0)  # slow pollution load: e-folding 90 × 4 h = 15 days
# How strongly each quantity follows the slow load (log-space exponent) [A, calibrated].
_PRESSURE_WEIGHT: Mapping[str, float] = MappingProxyType(
    {"codmn": 1.0, "nh3n": 1.6, "tp": 1.2, "tn": 0.5, "do": -0.35}
)
# Heavier load on sections whose target is looser (which is why it is looser) [A].
_TARGET_LOAD: Mapping[int, float] = MappingProxyType({1: 0.8, 2: 0.85, 3: 1.0, 4: 1.1, 5: 1.18,
                                                     6: 1.25})  # fmt: skip


_FLAG_CODE = {flag: code for code, flag in enumerate(FLAGS)}


@dataclass(frozen=True)
class SyntheticYear:
    """One synthetic year of automatic-station data.

    Attributes
    ----------
    observations : pandas.DataFrame
        Columns ``section_id`` (str), ``station`` (str, :func:`demo_station`), ``parameter``
        (str key of ``sections/data/parameters.csv``), ``observed_at`` (datetime64[ns, UTC]),
        ``value`` (float64, NaN = missing) [the parameter's canonical unit], ``unit`` (str),
        ``station_flag`` (str, one of ``N F M D C T``). Sorted by section in registry order, then
        parameter key, then time.
    statuses : pandas.DataFrame
        The no-flow and frozen months: ``section_id`` (str), ``month`` (:class:`datetime.date`,
        first of the month), ``status`` (``"no_flow"`` or ``"frozen"``), ``note`` (Chinese text).
        Sorted by section in registry order, then month.
    lab : pandas.DataFrame
        Laboratory samples as text, the columns of :data:`LAB_COLUMNS`: ``section`` (id),
        ``sampled_at`` (``YYYY-MM-DD HH:MM``, Beijing time), ``parameter`` (key), ``value``
        (number as reported, or ``<DL`` below the method detection limit), ``unit``, ``method``,
        ``lab``, ``kind`` (``例行`` routine, ``抽测`` spot check). One routine sample of
        :data:`LAB_PARAMETERS` per flowing month of every assessed section, and a few spot
        checks (:data:`SPOT_PARAMETERS`). Sorted by section in registry order, then time.
    """

    observations: pd.DataFrame
    statuses: pd.DataFrame
    lab: pd.DataFrame


def demo_station(section: Section) -> str:
    """The station identifier (MN) the demo reports a section under.

    Parameters
    ----------
    section : Section
        A registry section.

    Returns
    -------
    str
        The section's ``station_mn``, or ``"DEMO-<id>"`` cut to the 24 characters an HJ 212 MN
        may have.

    Examples
    --------
    >>> from sections.registry import load_registry
    >>> registry = load_registry()
    >>> demo_station(registry.section("xiaofanqiao")), demo_station(registry.section("aixinzhuang"))
    ('HS131100XFQ0001', 'DEMO-aixinzhuang')
    """
    return section.station_mn or f"DEMO-{section.id}"[:24]


def generate_year(registry: Registry, *, year: int, seed: int = 2025) -> SyntheticYear:
    """Generate one synthetic year of automatic-station data for every section of a registry.

    Parameters
    ----------
    registry : Registry
        The sections to generate data for (reference sections included).
    year : int
        Calendar year; timestamps cover 1 Jan 00:00 to 31 Dec 23:00 Beijing time (UTC+8).
    seed : int, default 2025
        Seed of all random draws. The same registry, year and seed give identical frames.

    Returns
    -------
    SyntheticYear
        The observations and the no-flow/frozen months.

    Raises
    ------
    ValueError
        When ``year`` is outside 1678–2261 (the nanosecond timestamp range) or ``year``/``seed``
        is not an integer.

    Notes
    -----
    Per section, base levels are drawn from a generator seeded by ``seed`` and the river (so
    sections on one river share their character) and jittered per section; the seasonal peaks of
    CODMn, NH3-N and TP are kept under 60–75 % of the target-class limits so that exceedances
    come mostly from the episodes. Seasonal terms use :math:`s = \\cos(2\\pi (d - 204.5) / n)`
    over the day :math:`d` of an :math:`n`-day year (:math:`s = 1` on 24 July); noise is AR(1)
    with a stationary standard deviation, in log space for the concentrations. DO is
    :math:`f \\cdot DO_{sat}(T)` plus a photosynthesis cycle peaking at 15:00, with
    :math:`DO_{sat}` the APHA freshwater saturation polynomial. In an episode each of CODMn,
    NH3-N and TP is multiplied by :math:`\\max(U(2, 5), U(1.4, 2.5) \\cdot L / \\bar c)`, with
    :math:`L` the target-class limit and :math:`\\bar c` the undisturbed level, so that its
    daily means lie well above :math:`L` while the episode lasts.

    Examples
    --------
    >>> from sections.registry import load_registry
    >>> data = generate_year(load_registry(), year=2025)
    >>> sorted(data.observations["station_flag"].unique())
    ['C', 'D', 'F', 'M', 'N', 'T']
    """
    _check_int("year", year)
    _check_int("seed", seed)
    if not 1678 <= year <= 2261:
        raise ValueError(f"year must be within 1678–2261, got {year}")

    grid = _Grid.make(year)
    weather = _ar1(_rng(seed, year, "weather"), grid.n_hours, phi=0.995, sd=1.2)
    status_rows = _draw_statuses(registry, year=year, seed=seed)
    river_noise: dict[tuple[str, str], FloatArray] = {}

    pieces: list[_Piece] = []
    lab: list[_LabRow] = []
    for section in registry.sections:
        months = {row[1].month: row[2] for row in status_rows if row[0] == section.id}
        section_pieces, section_lab = _section_pieces(
            section,
            grid=grid,
            seed=seed,
            weather=weather,
            status_months=months,
            river_noise=river_noise,
        )
        pieces.extend(section_pieces)
        lab.extend(section_lab)
    return SyntheticYear(
        observations=_observations_frame(pieces, grid),
        statuses=_statuses_frame(status_rows),
        lab=_lab_frame(lab),
    )


# --- time grid and random helpers -------------------------------------------------------------


@dataclass(frozen=True)
class _Grid:
    """The hourly Beijing-time grid of one year and its seasonal terms."""

    year: int
    n_days: int
    hours: IntArray  # hours since 1 Jan 00:00 Beijing time
    hour_of_day: IntArray
    month: IntArray  # 1–12, per hour
    season: FloatArray  # cos, +1 in late July, −1 in late January
    summer: FloatArray  # (1 + season) / 2
    winter: FloatArray  # (1 − season) / 2
    rain: FloatArray  # weight of the July–August rainy season, 0–1
    utc_start: np.datetime64  # 1 Jan 00:00 Beijing time, as UTC [ns]

    @property
    def n_hours(self) -> int:
        return self.n_days * 24

    @classmethod
    def make(cls, year: int) -> _Grid:
        n_days = 366 if calendar.isleap(year) else 365
        hours = np.arange(n_days * 24, dtype=np.int64)
        day = hours / 24.0
        dates = np.datetime64(f"{year:04d}-01-01", "D") + hours // 24
        month = (dates.astype("datetime64[M]").astype(np.int64) % 12 + 1).astype(np.int64)
        season = np.cos(2.0 * np.pi * (day - 204.5) / n_days)
        return cls(
            year=year,
            n_days=n_days,
            hours=hours,
            hour_of_day=hours % 24,
            month=month,
            season=season,
            summer=(1.0 + season) / 2.0,
            winter=(1.0 - season) / 2.0,
            rain=np.exp(-(((day - 200.0) / 25.0) ** 2)),
            utc_start=np.datetime64(f"{year:04d}-01-01T00:00", "ns") - _BEIJING_OFFSET,
        )


def _check_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer, got {value!r}")


def _rng(seed: int, *parts: str | int) -> np.random.Generator:
    """A generator seeded from ``seed`` and stable parts (strings via CRC-32, never ``hash()``)."""
    entropy = [int(seed < 0), abs(int(seed))]
    for part in parts:
        entropy.append(zlib.crc32(part.encode("utf-8")) if isinstance(part, str) else abs(part))
    return np.random.default_rng(np.random.SeedSequence(entropy))


def _ar1(rng: np.random.Generator, n: int, *, phi: float, sd: float) -> FloatArray:
    """A stationary AR(1) series ``x[t] = phi·x[t−1] + e[t]`` with standard deviation ``sd``.

    Vectorised by blocks: inside a block the recursion is a scaled cumulative sum; the blocks
    (at most a few per series) are then chained.
    """
    if n <= 0:
        return np.zeros(0)
    shocks = rng.standard_normal(n) * (sd * math.sqrt(1.0 - phi * phi))
    shocks[0] = rng.standard_normal() * sd  # start in the stationary distribution
    block = max(1, min(n, int(300.0 / -math.log(phi))))  # phi**-block stays below e**300
    n_blocks = -(-n // block)
    padded = np.zeros(n_blocks * block)
    padded[:n] = shocks
    k = np.arange(block, dtype=np.float64)
    rows = np.cumsum(padded.reshape(n_blocks, block) * phi**-k, axis=1) * phi**k
    carry = phi ** (k + 1.0)
    for b in range(1, n_blocks):
        rows[b] += carry * rows[b - 1, -1]
    return rows.ravel()[:n]


def _do_saturation(temp: FloatArray) -> FloatArray:
    """Oxygen saturation of fresh water at 1 atm [mg/L] for a temperature [℃] (APHA 4500-O)."""
    return 14.652 - 0.41022 * temp + 0.007991 * temp**2 - 0.000077774 * temp**3


# --- statuses (no-flow and frozen months) -----------------------------------------------------

_StatusRow = tuple[str, dt.date, Status, str]


def _is_drainage(section: Section) -> bool:
    """Whether a section lies on a drainage river (排河), which runs dry in the dry season."""
    return section.water_body == "river" and (
        section.river in _DRAINAGE_RIVERS or "排" in section.river
    )


def _may_stop(section: Section) -> bool:
    """Whether a section's river is small enough to run dry or freeze over."""
    return not section.is_reference and section.river not in _PERENNIAL_WATERS


def _draw_statuses(registry: Registry, *, year: int, seed: int) -> list[_StatusRow]:
    """No-flow and frozen months, drawn per section (a section's months never depend on others).

    Drainage rivers run dry in most dry-season months (at least :data:`_MIN_NO_FLOW_DRAINAGE`);
    the other small rivers seldom; in a cold winter month a small river may freeze over.
    """
    rows: list[_StatusRow] = []
    for section in registry.sections:
        if not _may_stop(section):
            continue
        rng = _rng(seed, year, "statuses", section.id)
        draws = rng.random(13)
        drainage = _is_drainage(section)
        chances = _NO_FLOW_CHANCE_DRAINAGE if drainage else _NO_FLOW_CHANCE_SMALL
        months: dict[int, Status] = {m: "no_flow" for m, p in chances.items() if draws[m] < p}
        if drainage and len(months) < _MIN_NO_FLOW_DRAINAGE:  # the driest months first
            for m in sorted(chances, key=lambda m: (-chances[m], m)):
                if len(months) >= _MIN_NO_FLOW_DRAINAGE:
                    break
                months[m] = "no_flow"
        frozen = rng.random(13)
        for m, p in _FROZEN_CHANCE.items():
            if m not in months and frozen[m] < p:
                months[m] = "frozen"
        for m in sorted(months):
            status = months[m]
            rows.append((section.id, dt.date(year, m, 1), status, STATUS_NOTES[status]))
    return rows


def _statuses_frame(rows: Sequence[_StatusRow]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "section_id": pd.Series([r[0] for r in rows], dtype="str"),
            "month": pd.Series([r[1] for r in rows], dtype="object"),
            "status": pd.Series([r[2] for r in rows], dtype="str"),
            "note": pd.Series([r[3] for r in rows], dtype="str"),
        }
    )


# --- targets and base levels ------------------------------------------------------------------


def _limit(section: Section, key: str, on: dt.date) -> float:
    """The section's target-class limit of an episode parameter [mg/L]."""
    if key in section.standards:
        return section.standards[key]
    klass = min(int(section.target_class(on)), 5)  # a 劣Ⅴ target uses the Class Ⅴ limit
    return class_limit(key, klass, section.water_body)


@dataclass(frozen=True)
class _Profile:
    """The typical water of a river [A, calibrated so that the demo's monthly classes look like
    Hengshui's: 2021 76.9 % of the 13 river sections at Class Ⅲ or better (domain.md §2)].

    Concentrations [mg/L]: ``codmn`` in winter, ``nh3n`` in summer (× ``nh3n_winter`` in
    winter), ``tp`` in winter (× ``tp_summer`` in summer); ``do_fraction`` of saturation;
    ``cod_ratio`` = COD / CODMn of the laboratory samples; ``pressure`` the standard deviation of
    the slow (weeks) log pollution load.
    """

    codmn: float
    nh3n: float
    nh3n_winter: float
    tp: float
    tp_summer: float
    tn: float
    do_fraction: float
    ph: float
    conductivity: float
    turbidity: float
    cod_ratio: float
    fluoride: float
    petroleum: float
    fecal_log10: float
    pressure: float


# Plain rivers carry CODMn 4–8 mg/L and winter NH3-N near 1 mg/L; the drainage rivers are worst,
# the 滹沱河 (ecological water from upstream reservoirs) best [A].
_PROFILES: Mapping[str, _Profile] = MappingProxyType(
    {
        "滏阳河": _Profile(4.2, 0.3, 2.3, 0.09, 1.4, 5.0, 0.75, 8.0, 1100.0, 15.0, 3.0, 0.68,
                          0.02, 3.5, 0.15),
        "滏阳新河": _Profile(5.2, 0.6, 2.3, 0.15, 1.4, 7.0, 0.60, 8.0, 1800.0, 25.0, 3.5, 1.0,
                            0.035, 3.9, 0.2),
        "滏东排河": _Profile(5.4, 0.62, 2.3, 0.15, 1.4, 7.5, 0.58, 7.9, 1900.0, 25.0, 3.5, 1.05,
                            0.04, 4.0, 0.2),
        "滹沱河": _Profile(3.2, 0.18, 2.2, 0.05, 1.3, 3.0, 0.85, 8.2, 800.0, 8.0, 3.0, 0.55,
                          0.01, 3.2, 0.14),
        "清凉江": _Profile(4.1, 0.32, 2.3, 0.10, 1.4, 5.0, 0.73, 8.0, 1300.0, 18.0, 3.1, 0.75,
                          0.025, 3.6, 0.15),
        "卫运河": _Profile(3.9, 0.28, 2.3, 0.09, 1.4, 4.5, 0.76, 8.1, 1200.0, 20.0, 3.0, 0.65,
                          0.02, 3.4, 0.15),
        "南运河": _Profile(3.9, 0.28, 2.3, 0.09, 1.4, 4.5, 0.76, 8.1, 1200.0, 20.0, 3.0, 0.65,
                          0.02, 3.4, 0.15),
    }
)  # fmt: skip
_RIVER_DEFAULT = _PROFILES["清凉江"]
_DRAINAGE_DEFAULT = _PROFILES["滏东排河"]
_LAKE_PROFILE = _Profile(4.0, 0.05, 2.0, 0.022, 1.45, 1.3, 0.9, 8.35, 1350.0, 15.0, 3.3, 0.8,
                         0.015, 2.8, 0.1)  # fmt: skip


def _profile(section: Section) -> _Profile:
    if section.water_body == "lake":
        return _LAKE_PROFILE
    if section.river in _PROFILES:
        return _PROFILES[section.river]
    return _DRAINAGE_DEFAULT if _is_drainage(section) else _RIVER_DEFAULT


@dataclass(frozen=True)
class _Levels:
    """Base levels of one section (summer for NH3-N and TN, winter for TP and chla)."""

    temp_mean: float
    temp_amplitude: float
    codmn: float
    nh3n: float
    nh3n_winter_factor: float
    tp: float
    tp_summer_factor: float
    tn: float
    do_fraction: float
    ph: float
    conductivity: float
    turbidity: float
    chla_winter: float
    chla_summer: float
    algae_per_chla: float
    load: float
    pressure: float


def _levels(section: Section, *, seed: int, on: dt.date) -> _Levels:
    """Base levels: the river's profile, a heavier load where the target is looser, jitter.

    The jitter is drawn from the river's generator (sections on one river share it) and the
    section's own; nothing depends on the rest of the registry.
    """
    profile = _profile(section)
    u = _rng(seed, "river", section.river, section.water_body).random(12)
    jitter = _rng(seed, "section", section.id).standard_normal(10)
    scale = np.exp(0.08 * jitter)
    river = np.exp(0.04 * (2.0 * u[:4] - 1.0))  # the river's own shade of its profile
    load = _TARGET_LOAD[int(section.target_class(on))]
    return _Levels(
        temp_mean=14.6 + 0.8 * u[10],
        temp_amplitude=12.6 + 0.8 * u[11],
        codmn=profile.codmn * load * river[0] * scale[0],
        nh3n=profile.nh3n * load**1.5 * river[1] * scale[1],
        nh3n_winter_factor=profile.nh3n_winter,
        tp=profile.tp * load * river[2] * scale[2],
        tp_summer_factor=profile.tp_summer,
        tn=profile.tn * river[3] * scale[3],
        do_fraction=min(profile.do_fraction * math.exp(0.03 * jitter[4]) / load**0.5, 1.0),
        ph=profile.ph + 0.05 * jitter[5],
        conductivity=profile.conductivity * scale[6],
        turbidity=profile.turbidity * scale[7],
        chla_winter=(5.0 + 3.0 * u[2]) * scale[8],
        chla_summer=(35.0 + 12.0 * u[9]) * scale[8],
        algae_per_chla=3.0e5 * scale[9],
        load=load,
        pressure=profile.pressure,
    )


# --- episodes, maintenance, faults, calibration -------------------------------------------------


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


# --- one section ------------------------------------------------------------------------------


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
) -> tuple[list[_Piece], list[_LabRow]]:
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

    def shared(key: str, phi: float, sd: float) -> FloatArray:
        """Log noise shared along a river (same year), half the variance of the total."""
        if (section.river, key) not in river_noise:
            river_rng = _rng(seed, year, "river-noise", section.river, key)
            river_noise[(section.river, key)] = _ar1(river_rng, n_chem, phi=phi, sd=sd)
        own = _ar1(rng, n_chem, phi=phi, sd=sd)
        return (river_noise[(section.river, key)] + own) / math.sqrt(2.0)

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
    return pieces, lab


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


# --- laboratory samples ----------------------------------------------------------------------

_LabRow = tuple[str, str, str, str, str, str, str, str]

LAB_PARAMETERS: tuple[str, ...] = (
    "cod", "bod5", "fluoride", "cu", "zn", "se", "as", "hg", "cd", "cr6", "pb", "cyanide",
    "phenol", "petroleum", "las", "sulfide", "fecal_coliform",
)  # fmt: skip
"""GB 3838 items the monitoring centre's laboratory reports every month (no automatic analyser)."""

SPOT_PARAMETERS: tuple[str, ...] = ("cod", "bod5")
"""Items of a spot check (抽测)."""

LAB_COLUMNS: tuple[str, ...] = (
    "section", "sampled_at", "parameter", "value", "unit", "method", "lab", "kind",
)  # fmt: skip
"""Columns of the laboratory file, as :func:`service.feeds.manual.import_manual` reads them."""

LAB_NAME = "衡水市生态环境监测中心（演示数据）"
"""The laboratory named on every demo sample: the values are invented."""

KIND_WORDS: Mapping[str, str] = MappingProxyType({"routine": "例行", "spot": "抽测"})
"""Sample kinds as written in the file."""

# Analysis method and method detection limit per item [A: the usual national methods and their
# limits; the demo only needs plausible text]. None: reported as a number always.
_LAB_METHODS: Mapping[str, tuple[str, float | None, int]] = MappingProxyType(
    {
        "cod": ("HJ 828-2017 重铬酸盐法", 4.0, 0),
        "bod5": ("HJ 505-2009 稀释与接种法", 0.5, 1),
        "fluoride": ("GB 7484-87 离子选择电极法", 0.05, 2),
        "cu": ("HJ 700-2014 电感耦合等离子体质谱法", 0.00008, 4),
        "zn": ("HJ 700-2014 电感耦合等离子体质谱法", 0.00067, 4),
        "se": ("HJ 694-2014 原子荧光法", 0.0004, 4),
        "as": ("HJ 694-2014 原子荧光法", 0.0003, 4),
        "hg": ("HJ 694-2014 原子荧光法", 0.00004, 5),
        "cd": ("GB 7475-87 原子吸收分光光度法", 0.0001, 4),
        "cr6": ("GB 7467-87 二苯碳酰二肼分光光度法", 0.004, 3),
        "pb": ("GB 7475-87 原子吸收分光光度法", 0.001, 3),
        "cyanide": ("HJ 484-2009 异烟酸-吡唑啉酮分光光度法", 0.004, 3),
        "phenol": ("HJ 503-2009 4-氨基安替比林分光光度法", 0.0003, 4),
        "petroleum": ("HJ 970-2018 紫外分光光度法", 0.01, 2),
        "las": ("GB 7494-87 亚甲蓝分光光度法", 0.05, 2),
        "sulfide": ("HJ 1226-2021 亚甲基蓝分光光度法", 0.005, 3),
        "fecal_coliform": ("HJ 347.2-2018 多管发酵法", None, 0),
    }
)
# Typical level [mg/L] and log spread of the items that do not follow the river's profile
# (metals mostly below or near their detection limits: Class Ⅰ) [A].
_LAB_TYPICAL: Mapping[str, tuple[float, float]] = MappingProxyType(
    {
        "cu": (0.002, 0.5),
        "zn": (0.008, 0.6),
        "se": (0.0003, 0.5),
        "as": (0.0015, 0.4),
        "hg": (0.00003, 0.4),
        "cd": (0.00008, 0.5),
        "cr6": (0.003, 0.4),
        "pb": (0.0012, 0.5),
        "cyanide": (0.002, 0.4),
        "phenol": (0.0005, 0.6),
        "las": (0.06, 0.35),
        "sulfide": (0.005, 0.5),
    }
)
_SPOT_CHECKS_PER_YEAR = 0.6  # Poisson mean per assessed river section [A]
_SPOT_ON_EPISODE = 0.7  # chance that a spot check follows up a pollution episode [A]


def _lab_rows(
    section: Section,
    *,
    grid: _Grid,
    seed: int,
    profile: _Profile,
    codmn: FloatArray,
    status_months: Mapping[int, Status],
    spans: Sequence[tuple[int, int]],
) -> list[_LabRow]:
    """Monthly routine samples (every flowing month) and a few spot checks of one section.

    COD follows the automatic CODMn at the sampling time (× the river's COD/CODMn ratio), BOD5
    follows COD; the other items are drawn around their typical levels, metals mostly below the
    method detection limit (written ``<DL``).
    """
    if section.is_reference:  # the neighbours' sections are sampled by their own cities
        return []
    rng = _rng(seed, grid.year, "lab", section.id)
    jan1 = dt.date(grid.year, 1, 1)
    drainage = _is_drainage(section)
    rows: list[_LabRow] = []

    def sample(day: int, hour: int, minute: int, kind: str, keys: Sequence[str]) -> None:
        slot = min((day * 24 + hour) // 4, codmn.size - 1)
        cod = profile.cod_ratio * float(codmn[slot]) * math.exp(0.08 * rng.standard_normal())
        values = {
            "cod": cod,
            "bod5": cod * rng.uniform(0.13, 0.18),
            "fluoride": profile.fluoride * math.exp(0.12 * rng.standard_normal()),
            "petroleum": profile.petroleum * math.exp(0.35 * rng.standard_normal()),
            "fecal_coliform": 10.0 ** (profile.fecal_log10 + 0.3 * rng.standard_normal()),
        }
        for key, (typical, spread) in _LAB_TYPICAL.items():
            level = typical * (1.6 if drainage and key in ("phenol", "sulfide", "las") else 1.0)
            values[key] = level * math.exp(spread * rng.standard_normal())
        when = dt.datetime.combine(jan1 + dt.timedelta(days=day), dt.time(hour, minute))
        for key in keys:
            method, limit, decimals = _LAB_METHODS[key]
            value = round(values[key], decimals)
            if limit is not None and value < limit:
                text = f"<{limit:.{max(decimals, _decimals_of(limit))}f}"
            else:
                text = f"{value:.{decimals}f}"
            rows.append((section.id, f"{when:%Y-%m-%d %H:%M}", key, text,
                         parameter(key).unit, method, LAB_NAME, KIND_WORDS[kind]))  # fmt: skip

    month_starts = [(dt.date(grid.year, m, 1) - jan1).days for m in range(1, 13)]
    for month in range(1, 13):
        day = month_starts[month - 1] + int(rng.integers(4, 20))
        hour, minute = int(rng.integers(9, 12)), int(rng.choice([0, 15, 30, 45]))
        if month not in status_months:
            sample(day, hour, minute, "routine", LAB_PARAMETERS)
    if section.water_body == "river":
        flowing = np.flatnonzero(~np.isin(grid.month[::24], list(status_months)))
        episode_days = [d for first, n in spans for d in range(first, first + n)]
        for _ in range(int(rng.poisson(_SPOT_CHECKS_PER_YEAR))):
            if episode_days and rng.random() < _SPOT_ON_EPISODE:
                day = int(rng.choice(episode_days))
            else:
                day = int(rng.choice(flowing))
            sample(day, int(rng.integers(14, 17)), 0, "spot", SPOT_PARAMETERS)
    rows.sort(key=lambda row: (row[1], LAB_PARAMETERS.index(row[2]), row[7]))
    return rows


def _decimals_of(limit: float) -> int:
    """Decimals needed to write a detection limit (0.0004 → 4)."""
    return max(0, -math.floor(math.log10(limit)))


def _lab_frame(rows: Sequence[_LabRow]) -> pd.DataFrame:
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(LAB_COLUMNS)
    return pd.DataFrame(
        {
            name: pd.Series(list(values), dtype="str")
            for name, values in zip(LAB_COLUMNS, columns, strict=True)
        }
    )


def write_lab_csv(lab: pd.DataFrame, path: Path) -> Path:
    """Write laboratory samples as the CSV file the manual import reads (UTF-8, Chinese kinds).

    Parameters
    ----------
    lab : pandas.DataFrame
        :attr:`SyntheticYear.lab`.
    path : pathlib.Path
        The file to write; its folder is created.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    lab.to_csv(path, index=False, columns=list(LAB_COLUMNS), lineterminator="\n")
    return path


# --- assembly ---------------------------------------------------------------------------------


def _observations_frame(pieces: Sequence[_Piece], grid: _Grid) -> pd.DataFrame:
    counts = np.array([p.values.size for p in pieces], dtype=np.int64)
    hours = np.concatenate([p.hours for p in pieces]) if pieces else np.zeros(0, dtype=np.int64)
    stamps = (grid.utc_start + hours * np.timedelta64(1, "h")).astype("datetime64[ns]")
    observed_at = pd.Series(pd.DatetimeIndex(stamps)).dt.tz_localize("UTC")
    values = np.concatenate([p.values for p in pieces]) if pieces else np.zeros(0)
    codes = np.concatenate([p.flags for p in pieces]) if pieces else np.zeros(0, dtype=np.uint8)

    def repeat(texts: list[str]) -> pd.Series:
        return pd.Series(np.repeat(np.array(texts, dtype=object), counts), dtype="str")

    return pd.DataFrame(
        {
            "section_id": repeat([p.section.id for p in pieces]),
            "station": repeat([demo_station(p.section) for p in pieces]),
            "parameter": repeat([p.key for p in pieces]),
            "observed_at": observed_at,
            "value": pd.Series(values, dtype="float64"),
            "unit": repeat([parameter(p.key).unit for p in pieces]),
            "station_flag": pd.Series(np.array(list(FLAGS), dtype=object)[codes], dtype="str"),
        }
    )
