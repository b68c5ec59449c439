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

Modules (private; the public names are re-exported here):

- ``_year`` — :class:`SyntheticYear`, :func:`demo_station`, :func:`generate_year`, assembly,
  :func:`with_upstream` (a section with the sections its water comes from);
- ``_constants`` — parameters, chemistry hours, flags, output precision (shared);
- ``_grid`` — the hourly time grid, the seeded generators and AR(1) noise;
- ``_statuses`` — no-flow and frozen months;
- ``_rivers`` — targets, river profiles and base levels;
- ``_events`` — pollution episodes, maintenance, analyser faults, calibration checks;
- ``_section`` — one section's series;
- ``_lab`` — laboratory samples and :func:`write_lab_csv`;
- ``_types`` — array and status types.

References
----------
.. [1] GB 3838-2002 地表水环境质量标准, 表1 (class limits) [V], domain.md §3.
.. [2] domain.md §5: automatic stations, sampling intervals, HJ 212 data flags [A for the
   surface-water variant], instrument span ≈ 2 × the target-class limit [V].
"""

from __future__ import annotations

from service.demo.synthetic._constants import (
    CHEMISTRY_HOURS,
    FLAGS,
    FOUR_HOURLY_PARAMETERS,
    HOURLY_PARAMETERS,
    LAKE_PARAMETERS,
)
from service.demo.synthetic._lab import (
    KIND_WORDS,
    LAB_COLUMNS,
    LAB_NAME,
    LAB_PARAMETERS,
    SPOT_PARAMETERS,
    write_lab_csv,
)
from service.demo.synthetic._statuses import DRY_SEASON, STATUS_NOTES
from service.demo.synthetic._year import SyntheticYear, demo_station, generate_year, with_upstream

__all__ = [
    "CHEMISTRY_HOURS",
    "DRY_SEASON",
    "FLAGS",
    "FOUR_HOURLY_PARAMETERS",
    "HOURLY_PARAMETERS",
    "KIND_WORDS",
    "LAB_COLUMNS",
    "LAB_NAME",
    "LAB_PARAMETERS",
    "LAKE_PARAMETERS",
    "SPOT_PARAMETERS",
    "STATUS_NOTES",
    "SyntheticYear",
    "demo_station",
    "generate_year",
    "with_upstream",
    "write_lab_csv",
]
