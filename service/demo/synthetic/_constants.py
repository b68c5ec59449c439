"""What a demo station reports: parameters, hours, flags, output precision and floors.

Shared by the section series (:mod:`._section`), the calibration checks (:mod:`._events`) and the
assembly of the year (:mod:`._year`).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

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

_FLAG_CODE = {flag: code for code, flag in enumerate(FLAGS)}
