"""Statuses: the no-flow (断流) and frozen (结冰) months in which a station is stopped."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from types import MappingProxyType

import pandas as pd

from sections.registry import Registry, Section
from service.demo.synthetic._grid import _rng
from service.demo.synthetic._rivers import _is_drainage
from service.demo.synthetic._types import Status

STATUS_NOTES: Mapping[str, str] = MappingProxyType(
    {"no_flow": "断流，自动站停运", "frozen": "河道结冰，自动站停运"}
)
"""Chinese note listed with each no-flow or frozen month."""

# Rivers large enough never to run dry or freeze over in the demo (and the lake itself).
_PERENNIAL_WATERS = frozenset({"滏阳河", "卫运河", "南运河", "衡水湖"})
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

_StatusRow = tuple[str, dt.date, Status, str]


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
