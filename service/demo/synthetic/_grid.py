"""The hourly Beijing-time grid of a year, and the random helpers every draw goes through.

All randomness comes from :func:`_rng` (a generator seeded from the seed and stable parts, never
``hash()``) and autocorrelated noise from :func:`_ar1`.
"""

from __future__ import annotations

import calendar
import math
import zlib
from dataclasses import dataclass

import numpy as np

from service.demo.synthetic._types import FloatArray, IntArray

_BEIJING_OFFSET = np.timedelta64(8, "h")  # UTC+8, no daylight saving


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
