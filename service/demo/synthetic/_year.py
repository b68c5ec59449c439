"""The year: :func:`generate_year` draws every section's series and assembles the frames."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sections.parameters import parameter
from sections.registry import Registry, Section
from service.demo.synthetic._constants import FLAGS
from service.demo.synthetic._events import _arriving, _Episode, _reach
from service.demo.synthetic._grid import _ar1, _Grid, _rng
from service.demo.synthetic._lab import _lab_frame, _LabRow
from service.demo.synthetic._section import _Piece, _section_pieces
from service.demo.synthetic._statuses import _draw_statuses, _statuses_frame
from service.demo.synthetic._types import FloatArray


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
    daily means lie well above :math:`L` while the episode lasts. Episodes travel downstream:
    a section with an upstream section (registry ``upstream``) also sees that section's
    episodes (its own and those that reached it) 24–40 h later with 50–80 % of their excess
    (drawn per reach) [A]; the part of the noise shared along a river travels too (a section
    sees it as its river's first section saw it, the summed travel times earlier).

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

    made: dict[str, tuple[list[_Piece], list[_LabRow], list[_Episode]]] = {}
    by_id = {s.id: s for s in registry.sections}
    travelled: dict[str, int] = {}  # hours the river's water took from its first section

    def make(section: Section) -> list[_Episode]:
        """The section's series (its upstream section's first: its water arrives here)."""
        if section.id not in made:
            arriving: list[_Episode] = []
            travelled[section.id] = 0
            upstream = by_id.get(section.upstream or "")
            if upstream is not None:  # water from outside the registry carries nothing known
                carried = make(upstream)
                reach = _reach(_rng(seed, year, "reach", section.id))
                arriving = _arriving(carried, reach, n_hours=grid.n_hours)
                travelled[section.id] = travelled[upstream.id] + reach.travel_hours
            months = {row[1].month: row[2] for row in status_rows if row[0] == section.id}
            made[section.id] = _section_pieces(
                section,
                grid=grid,
                seed=seed,
                weather=weather,
                status_months=months,
                river_noise=river_noise,
                arriving=arriving,
                travelled_hours=travelled[section.id],
            )
        return made[section.id][2]

    pieces: list[_Piece] = []
    lab: list[_LabRow] = []
    for section in registry.sections:
        make(section)
        pieces.extend(made[section.id][0])
        lab.extend(made[section.id][1])
    return SyntheticYear(
        observations=_observations_frame(pieces, grid),
        statuses=_statuses_frame(status_rows),
        lab=_lab_frame(lab),
    )


def with_upstream(registry: Registry, sections: Sequence[Section]) -> Registry:
    """A registry of ``sections`` and every section upstream of them, in registry order.

    A section's synthetic series depends on the sections upstream of it (their water arrives
    there): generate this registry to get the same series as from the whole ``registry``.

    Examples
    --------
    >>> from sections.registry import load_registry
    >>> registry = load_registry()
    >>> [s.id for s in with_upstream(registry, [registry.section("fuyang-taocheng")]).sections]
    ['fuyang-jizhou', 'fuyang-taocheng', 'aixinzhuang']
    """
    by_id = {s.id: s for s in registry.sections}
    wanted: set[str] = set()
    for section in sections:
        current: Section | None = section
        while current is not None and current.id not in wanted:
            wanted.add(current.id)
            current = by_id.get(current.upstream or "")
    chosen = tuple(s for s in registry.sections if s.id in wanted)
    return Registry(units=registry.units, sections=chosen, source=registry.source)


def _check_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer, got {value!r}")


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
