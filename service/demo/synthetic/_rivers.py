"""Targets, river profiles and base levels: the typical water of each section.

A section's base levels come from its river's profile (:data:`_PROFILES`), a heavier load where
its target class is looser, and jitter drawn from the river's and the section's own generators.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from sections.registry import Section
from sections.standards import class_limit
from service.demo.synthetic._grid import _rng

# Drainage rivers (排河, 排干渠 …) that run dry in most of the dry season [A, from the plan's list
# of waters; a river whose name contains 排 counts as one too].
_DRAINAGE_RIVERS = frozenset({"滏东排河", "滏阳新河"})
# Heavier load on sections whose target is looser (which is why it is looser) [A].
_TARGET_LOAD: Mapping[int, float] = MappingProxyType({1: 0.8, 2: 0.85, 3: 1.0, 4: 1.1, 5: 1.18,
                                                     6: 1.25})  # fmt: skip


def _is_drainage(section: Section) -> bool:
    """Whether a section lies on a drainage river (排河), which runs dry in the dry season."""
    return section.water_body == "river" and (
        section.river in _DRAINAGE_RIVERS or "排" in section.river
    )


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
