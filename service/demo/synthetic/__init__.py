"""Synthetic station and laboratory data for the demo: one seeded year for every registry section.

The generator lives in ``_year``; this package re-exports its public names.
"""

from __future__ import annotations

from service.demo.synthetic._year import (
    CHEMISTRY_HOURS,
    DRY_SEASON,
    FLAGS,
    FOUR_HOURLY_PARAMETERS,
    HOURLY_PARAMETERS,
    KIND_WORDS,
    LAB_COLUMNS,
    LAB_NAME,
    LAB_PARAMETERS,
    LAKE_PARAMETERS,
    SPOT_PARAMETERS,
    STATUS_NOTES,
    SyntheticYear,
    demo_station,
    generate_year,
    write_lab_csv,
)

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
    "write_lab_csv",
]
