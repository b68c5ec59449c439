"""Laboratory samples: the monthly GB 3838 items without an automatic analyser, and spot checks.

COD follows the station's automatic CODMn, BOD5 follows COD; metals are mostly below their
detection limits (``<DL``). :func:`write_lab_csv` writes the file the manual import reads.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd

from sections.parameters import parameter
from sections.registry import Section
from service.demo.synthetic._grid import _Grid, _rng
from service.demo.synthetic._rivers import _is_drainage, _Profile
from service.demo.synthetic._types import FloatArray, Status

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
