"""QA/QC of automatic water-quality station series: QARTOD flags for every value, never deletion.

One station, one parameter: a Series of values on its times, plus the station's own HJ 212 data
flags. Each test gives every value a QARTOD flag (:class:`QcFlag`: 1 pass, 2 not evaluated,
3 suspect, 4 fail, 9 missing); :func:`quality_flags` runs them all and keeps per value the
aggregate flag and the name of the test that set it. Flagged values are **kept**: every function
returns the same length and index it was given; :func:`valid_mask` says which values may enter
period means, by the one rule of :mod:`sections.validity` (suspect values count until reviewed).

The tests are those of U.S. IOOS QARTOD as implemented by ``ioos_qc.qartod``
(``gross_range_test``, ``spike_test``, ``rate_of_change_test``, ``flat_line_test``,
``qartod_compare``); the time-gap, station-flag and stale-station checks are ours. Their
thresholds per parameter are data, ``sections/data/qc_ranges.csv`` [A].

Station flags mapped onto QARTOD [A for the surface-water variant of HJ 212, domain.md §5]:

====  ==========  ===============  ==================================================
flag  meaning     QARTOD           why
====  ==========  ===============  ==================================================
N     正常        1 pass           the analyser reports normal operation
S     手工输入    2 not evaluated  the station cannot vouch for a value entered by hand:
                                   the value tests alone decide (valid when they pass)
T     超测上限    3 suspect        over range: a lower bound, kept and sent to review
F     停运        4 fail           stopped
M     维护        4 fail           maintenance
D     故障        4 fail           fault
C     校准        4 fail           calibration: the value is a standard, not the river
B     通讯异常    4 fail           communication fault
====  ==========  ===============  ==================================================

A missing station flag (NaN/None) is 2, not evaluated; any other letter raises ``ValueError``.

References
----------
.. [1] U.S. IOOS, 2020. Manual for the Use of Real-Time Oceanographic Data Quality Control
   Flags, Version 1.2: flags 1 pass, 2 not evaluated, 3 suspect, 4 fail, 9 missing [V].
.. [2] U.S. IOOS QARTOD manuals (dissolved oxygen, in-situ temperature and salinity …): the
   gross range, spike, rate of change, flat line and time gap tests [V]; ``ioos_qc`` ≥ 3,
   https://github.com/ioos/ioos_qc.
.. [3] HJ 212-2017 污染物在线监控（监测）系统数据传输标准: data flags N F M S D C T B
   [A for the surface-water variant, domain.md §5].
.. [4] domain.md §5 (4-hourly analyses, instrument span ≈ 2 × target-class limit [V], flagged
   data kept) and §7 (a station silent for more than 8 hours is a data outage [A]).
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
from ioos_qc import qartod

from sections.classes import WaterClass
from sections.errors import DataTableError
from sections.parameters import parameters
from sections.registry import Section
from sections.standards import class_limit, indicator_limits, limit_table
from sections.validity import ValidityPolicy, validity_frame

__all__ = [
    "DEFAULT_EXPECTED_INTERVAL",
    "INSTRUMENT_SPAN_FACTOR",
    "MAX_SILENCE",
    "QC_RANGES_TABLE",
    "QC_TESTS",
    "STATION_FLAG_QC",
    "QcFlag",
    "QcRanges",
    "QcResult",
    "StationFlag",
    "flat_line",
    "gross_range",
    "instrument_span",
    "qc_ranges",
    "qc_table",
    "quality_flags",
    "rate_of_change",
    "spike",
    "stale_station",
    "station_flag_qc",
    "target_limit",
    "time_gap",
    "valid_mask",
]

QC_RANGES_TABLE = "qc_ranges.csv"

INSTRUMENT_SPAN_FACTOR: Final = 2.0
"""Analyser upper range ≈ 2 × the limit of the section's target class [V, domain.md §5]."""

DEFAULT_EXPECTED_INTERVAL: Final = dt.timedelta(hours=4)
"""One analysis every 4 hours [V, domain.md §5]."""

MAX_SILENCE: Final = dt.timedelta(hours=8)
"""A station silent for more than this is a data outage [A, domain.md §7]."""

QC_TESTS: tuple[str, ...] = (
    "station_flag",
    "gross_range",
    "spike",
    "rate_of_change",
    "flat_line",
    "time_gap",
)
"""The tests of :func:`quality_flags`, in the order that names the test of a tie."""

FlagArray = npt.NDArray[np.uint8]
FloatArray = npt.NDArray[np.float64]
TimeArray = npt.NDArray[np.datetime64]
TimesLike = pd.DatetimeIndex | pd.Series
_FLAG_DTYPE = np.uint8


class QcFlag(IntEnum):
    """A QARTOD quality flag [V, IOOS flags manual v1.2].

    Each member carries a Chinese label (``label``) for review pages.
    """

    GOOD = 1
    NOT_EVALUATED = 2
    SUSPECT = 3
    FAIL = 4
    MISSING = 9

    @property
    def label(self) -> str:
        """通过, 未评估, 可疑, 无效, 缺失."""
        return _QC_LABELS[self.value]


_QC_LABELS = {1: "通过", 2: "未评估", 3: "可疑", 4: "无效", 9: "缺失"}


class StationFlag(StrEnum):
    """An HJ 212 data flag sent by the station with each value [A for surface water, §5].

    ``meaning`` is the Chinese meaning, ``qc`` the QARTOD flag it maps to (module table).
    """

    NORMAL = "N"
    STOPPED = "F"
    MAINTENANCE = "M"
    MANUAL = "S"
    FAULT = "D"
    CALIBRATION = "C"
    OVER_RANGE = "T"
    COMMUNICATION = "B"

    @property
    def meaning(self) -> str:
        """正常, 停运, 维护, 手工输入, 故障, 校准, 超测上限, 通讯异常."""
        return _STATION_MEANINGS[self.value]

    @property
    def qc(self) -> QcFlag:
        """The QARTOD flag of the station-flag test for this letter [A]."""
        return STATION_FLAG_QC[self.value]


_STATION_MEANINGS = {
    "N": "正常",
    "F": "停运",
    "M": "维护",
    "S": "手工输入",
    "D": "故障",
    "C": "校准",
    "T": "超测上限",
    "B": "通讯异常",
}

STATION_FLAG_QC: MappingProxyType[str, QcFlag] = MappingProxyType(
    {
        "N": QcFlag.GOOD,
        "S": QcFlag.NOT_EVALUATED,
        "T": QcFlag.SUSPECT,
        "F": QcFlag.FAIL,
        "M": QcFlag.FAIL,
        "D": QcFlag.FAIL,
        "C": QcFlag.FAIL,
        "B": QcFlag.FAIL,
    }
)
"""Station flag letter → QARTOD flag of the station-flag test [A]; see the module docstring."""


# --- thresholds ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QcRanges:
    """The QC thresholds of one parameter [A], one row of ``qc_ranges.csv``.

    Build a variant with :func:`dataclasses.replace` to configure a station differently.

    Attributes
    ----------
    key : str
        Parameter key, e.g. ``"nh3n"``.
    unit : str
        Unit of every threshold below (as in ``parameters.csv``), e.g. ``"mg/L"``.
    fail_span : tuple of float
        Physical or analyser range (min, max) [unit]; outside → fail.
    suspect_span : tuple of float
        Plausible range (min, max) [unit], inside ``fail_span``; outside → suspect.
    spike_suspect, spike_fail : float
        Spike height [unit] above which the value is suspect / fails.
    roc_suspect, roc_fail : float
        Rate of change between consecutive values [unit/h] above which suspect / fail.
    flat_tolerance : float
        Values whose range is below this count as repeated [unit].
    flat_suspect_count, flat_fail_count : int
        Number of consecutive repeated values at which the last one is suspect / fails.
    expected_interval : datetime.timedelta
        Expected reporting interval.
    max_gap : datetime.timedelta
        A longer gap between consecutive values flags the value after it suspect.
    """

    key: str
    unit: str
    fail_span: tuple[float, float]
    suspect_span: tuple[float, float]
    spike_suspect: float
    spike_fail: float
    roc_suspect: float
    roc_fail: float
    flat_tolerance: float
    flat_suspect_count: int
    flat_fail_count: int
    expected_interval: dt.timedelta = DEFAULT_EXPECTED_INTERVAL
    max_gap: dt.timedelta = 2 * DEFAULT_EXPECTED_INTERVAL

    def __post_init__(self) -> None:
        where = f"QC thresholds of {self.key!r}"
        fail_lo, fail_hi = self.fail_span
        sus_lo, sus_hi = self.suspect_span
        if not fail_lo <= sus_lo <= sus_hi <= fail_hi:
            raise ValueError(f"{where}: need fail_min ≤ suspect_min ≤ suspect_max ≤ fail_max")
        for low, high, name in (
            (self.spike_suspect, self.spike_fail, "spike"),
            (self.roc_suspect, self.roc_fail, "roc"),
        ):
            if not 0 < low <= high < math.inf:
                raise ValueError(f"{where}: need 0 < {name}_suspect ≤ {name}_fail, finite")
        if not 0 < self.flat_tolerance < math.inf:
            raise ValueError(f"{where}: flat_tolerance must be positive and finite")
        if not 2 <= self.flat_suspect_count <= self.flat_fail_count:
            raise ValueError(f"{where}: need 2 ≤ flat_suspect_count ≤ flat_fail_count")
        _check_intervals(self.expected_interval, self.max_gap)


def _check_intervals(expected_interval: dt.timedelta, max_gap: dt.timedelta) -> None:
    if expected_interval <= dt.timedelta(0):
        raise ValueError(f"expected_interval must be positive, got {expected_interval}")
    if max_gap < expected_interval:
        raise ValueError(f"max_gap {max_gap} must not be shorter than {expected_interval}")


def _row_ranges(row: Mapping[str, str]) -> QcRanges:
    def number(column: str) -> float:
        return float(row[column])

    return QcRanges(
        key=row["key"],
        unit=row["unit"],
        fail_span=(number("fail_min"), number("fail_max")),
        suspect_span=(number("suspect_min"), number("suspect_max")),
        spike_suspect=number("spike_suspect"),
        spike_fail=number("spike_fail"),
        roc_suspect=number("roc_suspect"),
        roc_fail=number("roc_fail"),
        flat_tolerance=number("flat_tolerance"),
        flat_suspect_count=int(row["flat_suspect_count"]),
        flat_fail_count=int(row["flat_fail_count"]),
        expected_interval=dt.timedelta(hours=number("interval_h")),
        max_gap=dt.timedelta(hours=number("max_gap_h")),
    )


@cache
def qc_table() -> MappingProxyType[str, QcRanges]:
    """All QC thresholds, keyed by parameter key, in file order (read-only) [A].

    Raises
    ------
    ValueError
        When a row is inconsistent, or its key or unit disagrees with ``parameters.csv``.
    """
    text = resources.files("sections").joinpath("data", QC_RANGES_TABLE).read_text("utf-8")
    glossary = parameters()
    table: dict[str, QcRanges] = {}
    for row in csv.DictReader(line for line in text.splitlines() if not line.startswith("#")):
        ranges = _row_ranges(row)
        known = glossary.get(ranges.key)
        if known is None or known.unit != ranges.unit:
            raise ValueError(f"{QC_RANGES_TABLE}: key/unit {ranges.key!r} {ranges.unit!r} "
                             "does not match parameters.csv")  # fmt: skip
        table[ranges.key] = ranges
    return MappingProxyType(table)


def qc_ranges(key: str) -> QcRanges:
    """The QC thresholds of one parameter [A].

    Raises
    ------
    DataTableError
        When the table has no row for ``key``; the message lists the keys it has.

    Examples
    --------
    >>> qc_ranges("ph").fail_span, qc_ranges("ph").suspect_span
    ((0.0, 14.0), (6.0, 9.5))
    """
    table = qc_table()
    try:
        return table[key]
    except KeyError:
        raise DataTableError(
            f"no QC thresholds for {key!r} in {QC_RANGES_TABLE}; valid keys: {', '.join(table)}"
        ) from None


def _resolve(key: str, ranges: QcRanges | None) -> QcRanges:
    if ranges is None:
        return qc_ranges(key)
    if ranges.key != key:
        raise ValueError(f"ranges are for {ranges.key!r}, not {key!r}")
    return ranges


# --- inputs and outputs --------------------------------------------------------------------------


def _floats(values: pd.Series) -> FloatArray:
    return values.to_numpy(dtype=np.float64, na_value=np.nan)


def _times(times: TimesLike | pd.Index) -> TimeArray:
    """Times as naive UTC datetime64[ns]; strictly increasing, no NaT (else ``ValueError``)."""
    index = pd.DatetimeIndex(times)
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    if index.hasnans:
        raise ValueError("times must not contain NaT")
    stamps: TimeArray = index.as_unit("ns").to_numpy()
    if stamps.size > 1 and not bool((np.diff(stamps) > np.timedelta64(0, "ns")).all()):
        raise ValueError("times must be strictly increasing (sorted, no duplicates)")
    return stamps


def _flags(result: npt.ArrayLike) -> FlagArray:
    return np.asarray(np.ma.getdata(result), dtype=_FLAG_DTYPE)


def _series(flags: FlagArray, index: pd.Index, name: str) -> pd.Series:
    return pd.Series(flags, index=index, name=name, dtype=_FLAG_DTYPE)


def _check_aligned(
    values: pd.Series, other: Sequence[object] | pd.Series | pd.Index, name: str
) -> None:
    if len(other) != len(values):
        raise ValueError(f"{name} has {len(other)} entries, values has {len(values)}")
    if isinstance(other, pd.Series) and not other.index.equals(values.index):
        raise ValueError(f"{name} must be on the same index as values")


# --- the tests on arrays -------------------------------------------------------------------------


def _station_flags(codes: npt.NDArray[np.object_]) -> FlagArray:
    letters = pd.Index(list(STATION_FLAG_QC))
    mapped = np.array([int(f) for f in STATION_FLAG_QC.values()], dtype=_FLAG_DTYPE)
    position = letters.get_indexer(pd.Index(codes, dtype=object))
    missing = pd.isna(codes)
    unknown = (position < 0) & ~missing
    if unknown.any():
        bad = sorted({repr(c) for c in codes[unknown]})
        raise ValueError(f"unknown station flag(s) {', '.join(bad[:5])}; valid: "
                         f"{' '.join(STATION_FLAG_QC)} or missing")  # fmt: skip
    return np.where(position < 0, _FLAG_DTYPE(QcFlag.NOT_EVALUATED), mapped[position])


def _upper_limited(key: str) -> bool:
    return any(lim.key == key and lim.direction == "le" for lim in limit_table().values())


def _gross_range(values: FloatArray, ranges: QcRanges, target_limit: float | None) -> FlagArray:
    flags = _flags(
        qartod.gross_range_test(
            values, fail_span=ranges.fail_span, suspect_span=ranges.suspect_span
        )
    )
    flags[np.isinf(values)] = QcFlag.FAIL
    if target_limit is not None:
        if not 0 < target_limit < math.inf:
            raise ValueError(f"target_limit must be positive and finite, got {target_limit}")
        if not _upper_limited(ranges.key):
            raise ValueError(
                f"the instrument span needs an upper class limit; {ranges.key!r} has none"
            )
        over = (values > INSTRUMENT_SPAN_FACTOR * target_limit) & (flags == QcFlag.GOOD)
        flags[over] = QcFlag.SUSPECT
    return flags


def _spike(values: FloatArray, ranges: QcRanges) -> FlagArray:
    if values.size == 0:
        return np.empty(0, dtype=_FLAG_DTYPE)
    with np.errstate(all="ignore"):
        return _flags(
            qartod.spike_test(
                values,
                suspect_threshold=ranges.spike_suspect,
                fail_threshold=ranges.spike_fail,
                method="differential",
            )
        )


def _rate_of_change(values: FloatArray, times: TimeArray, ranges: QcRanges) -> FlagArray:
    if values.size == 0:
        return np.empty(0, dtype=_FLAG_DTYPE)
    with np.errstate(all="ignore"):
        return _flags(
            qartod.rate_of_change_test(
                values,
                times,
                threshold=ranges.roc_suspect / 3600.0,  # ioos_qc: units per second
                fail_threshold=ranges.roc_fail / 3600.0,
            )
        )


def _flat_line(values: FloatArray, times: TimeArray, ranges: QcRanges) -> FlagArray:
    if values.size < 3:  # ioos_qc passes everything below 3 values
        flags = np.full(values.size, QcFlag.GOOD, dtype=_FLAG_DTYPE)
        flags[np.isnan(values)] = QcFlag.MISSING
        return flags
    # ioos_qc turns its thresholds [s] into a number of values with the median interval, exactly
    # as computed here; N repeated values = a window of N − 1 intervals.
    interval = float(np.median(np.diff(times)).astype("timedelta64[s]").astype(float))
    if interval < 1:
        raise ValueError("flat_line needs a median interval of at least 1 s")
    with np.errstate(all="ignore"):
        return _flags(
            qartod.flat_line_test(
                values,
                times,
                suspect_threshold=int((ranges.flat_suspect_count - 1) * interval),
                fail_threshold=int((ranges.flat_fail_count - 1) * interval),
                tolerance=ranges.flat_tolerance,
            )
        )


def _time_gap(times: TimeArray, max_gap: dt.timedelta) -> FlagArray:
    flags = np.full(times.size, QcFlag.GOOD, dtype=_FLAG_DTYPE)
    if times.size:
        flags[0] = QcFlag.NOT_EVALUATED
        flags[1:][np.diff(times) > np.timedelta64(max_gap)] = QcFlag.SUSPECT
    return flags


# --- public tests --------------------------------------------------------------------------------


def station_flag_qc(flags: pd.Series) -> pd.Series:
    """QARTOD flags of the station's own HJ 212 data flags [A].

    Parameters
    ----------
    flags : Series of str
        One letter per value: N F M S D C T B (or a :class:`StationFlag`); missing allowed.

    Returns
    -------
    Series of uint8
        On the same index, named ``station_flag``: N → 1; S → 2 (not evaluated: the value tests
        decide); T → 3 (over range, a lower bound for review); F, M, D, C, B → 4; missing → 2.

    Raises
    ------
    ValueError
        For any other letter; the message lists the valid ones.

    Examples
    --------
    >>> station_flag_qc(pd.Series(["N", "S", "T", "C", None])).tolist()
    [1, 2, 3, 4, 2]
    """
    return _series(_station_flags(flags.to_numpy(dtype=object)), flags.index, "station_flag")


def gross_range(
    values: pd.Series,
    key: str,
    *,
    target_limit: float | None = None,
    ranges: QcRanges | None = None,
) -> pd.Series:
    """Gross range test: physical range (fail) and plausible range and instrument span (suspect).

    Parameters
    ----------
    values : Series of float
        One parameter of one station [unit of ``key``]; any index.
    key : str
        Parameter key of ``qc_ranges.csv``.
    target_limit : float, optional
        Limit of the section's target class for an upper-limited item [unit of ``key``], e.g.
        ``class_limit("nh3n", section.target_class(day))``. Values above the instrument span
        ``INSTRUMENT_SPAN_FACTOR × target_limit`` are suspect.
    ranges : QcRanges, optional
        Thresholds to use instead of the table row of ``key``.

    Returns
    -------
    Series of uint8
        On the same index, named ``gross_range``: 4 outside ``fail_span`` (±inf included),
        3 outside ``suspect_span`` or above the instrument span, 1 otherwise, 9 for NaN.

    Raises
    ------
    ValueError
        When ``target_limit`` is not positive and finite, or ``key`` has no upper class limit
        (pH, DO, conductivity …).

    Notes
    -----
    ``ioos_qc.qartod.gross_range_test`` with the [A] spans of ``qc_ranges.csv``; the
    instrument span is ≈ 2 × the target-class limit [V, domain.md §5].

    Examples
    --------
    >>> gross_range(pd.Series([0.5, 2.5, 30.0, -0.1, None]), "nh3n", target_limit=1.0).tolist()
    [1, 3, 3, 4, 9]
    """
    ranges = _resolve(key, ranges)
    flags = _gross_range(_floats(values), ranges, target_limit)
    return _series(flags, values.index, "gross_range")


def spike(values: pd.Series, key: str, *, ranges: QcRanges | None = None) -> pd.Series:
    """Spike test: a single value that departs from both neighbours in opposite directions.

    Parameters
    ----------
    values : Series of float
        One parameter of one station [unit of ``key``], on a strictly increasing
        DatetimeIndex (naive or zone-aware).
    key : str
        Parameter key of ``qc_ranges.csv``.
    ranges : QcRanges, optional
        Thresholds to use instead of the table row of ``key``.

    Returns
    -------
    Series of uint8
        On the same index, named ``spike``: 3 when the spike height exceeds ``spike_suspect``,
        4 above ``spike_fail``, 1 otherwise; 2 for the first and last value and next to a
        missing one; 9 for NaN.

    Notes
    -----
    ``ioos_qc.qartod.spike_test(method="differential")``: the height at value n is
    min(|xₙ − xₙ₋₁|, |xₙ₊₁ − xₙ|) when the two steps have opposite signs, else 0; so only the
    spike itself is flagged, not its neighbours, and a step change is left to
    :func:`rate_of_change`. Thresholds [A].

    Examples
    --------
    >>> times = pd.date_range("2024-06-01", periods=5, freq="4h")
    >>> spike(pd.Series([0.3, 0.3, 3.0, 0.3, 0.3], index=times), "nh3n").tolist()
    [2, 1, 3, 1, 2]
    """
    ranges = _resolve(key, ranges)
    _times(values.index)
    return _series(_spike(_floats(values), ranges), values.index, "spike")


def rate_of_change(values: pd.Series, key: str, *, ranges: QcRanges | None = None) -> pd.Series:
    """Rate-of-change test: the step from the previous value, per hour.

    Parameters
    ----------
    values : Series of float
        One parameter of one station [unit of ``key``], on a strictly increasing
        DatetimeIndex (naive or zone-aware).
    key : str
        Parameter key of ``qc_ranges.csv``.
    ranges : QcRanges, optional
        Thresholds to use instead of the table row of ``key``.

    Returns
    -------
    Series of uint8
        On the same index, named ``rate_of_change``: the value after a step of
        |Δx| / Δt > ``roc_suspect`` [unit/h] is 3, > ``roc_fail`` 4, else 1 (the first value
        and a value after a missing one pass); 9 for NaN.

    Notes
    -----
    ``ioos_qc.qartod.rate_of_change_test`` (thresholds converted to units per second).
    Thresholds [A].

    Examples
    --------
    >>> times = pd.date_range("2024-06-01", periods=4, freq="4h")
    >>> rate_of_change(pd.Series([0.3, 0.3, 3.0, 3.1], index=times), "nh3n").tolist()
    [1, 1, 3, 1]
    """
    ranges = _resolve(key, ranges)
    flags = _rate_of_change(_floats(values), _times(values.index), ranges)
    return _series(flags, values.index, "rate_of_change")


def flat_line(values: pd.Series, key: str, *, ranges: QcRanges | None = None) -> pd.Series:
    """Flat-line test: a run of repeated values (a stuck analyser).

    Parameters
    ----------
    values : Series of float
        One parameter of one station [unit of ``key``], on a strictly increasing
        DatetimeIndex (naive or zone-aware) with a median interval of at least 1 s.
    key : str
        Parameter key of ``qc_ranges.csv``.
    ranges : QcRanges, optional
        Thresholds to use instead of the table row of ``key``.

    Returns
    -------
    Series of uint8
        On the same index, named ``flat_line``: once ``flat_suspect_count`` consecutive values
        lie within ``flat_tolerance`` of each other, that value and every further repeated one
        is 3; from ``flat_fail_count`` on 4; else 1; 9 for NaN.

    Notes
    -----
    ``ioos_qc.qartod.flat_line_test``, whose thresholds are durations turned into numbers of
    values with the median interval; they are given here as (count − 1) × median interval, so
    the counts hold exactly. Thresholds [A].

    Examples
    --------
    >>> times = pd.date_range("2024-06-01", periods=8, freq="4h")
    >>> flat_line(pd.Series([0.5, 0.4] + [0.3] * 6, index=times), "nh3n").tolist()
    [1, 1, 1, 1, 1, 1, 1, 3]
    """
    ranges = _resolve(key, ranges)
    flags = _flat_line(_floats(values), _times(values.index), ranges)
    return _series(flags, values.index, "flat_line")


def time_gap(
    times: TimesLike,
    *,
    expected_interval: dt.timedelta = DEFAULT_EXPECTED_INTERVAL,
    max_gap: dt.timedelta | None = None,
) -> pd.Series:
    """Time-gap test: the value after a gap longer than ``max_gap`` is suspect.

    Parameters
    ----------
    times : DatetimeIndex or Series of datetime
        Strictly increasing times of one series (naive or zone-aware).
    expected_interval : datetime.timedelta, default 4 h
        The station's reporting interval [V for the 4-hourly chemistry, domain.md §5].
    max_gap : datetime.timedelta, optional
        Longest gap tolerated; default 2 × ``expected_interval`` [A]. Not shorter than
        ``expected_interval``.

    Returns
    -------
    Series of uint8
        Named ``time_gap``, on the Series' index or on the DatetimeIndex itself: 3 for a value
        more than ``max_gap`` after the previous one, 2 for the first value, 1 otherwise.

    Examples
    --------
    >>> times = pd.DatetimeIndex(["2024-06-01 00:00", "2024-06-01 04:00", "2024-06-01 13:00"])
    >>> time_gap(times).tolist()
    [2, 1, 3]
    """
    gap = 2 * expected_interval if max_gap is None else max_gap
    _check_intervals(expected_interval, gap)
    index = times.index if isinstance(times, pd.Series) else times
    return _series(_time_gap(_times(times), gap), index, "time_gap")


def stale_station(
    last_seen: dt.datetime | None, now: dt.datetime, *, max_silence: dt.timedelta = MAX_SILENCE
) -> bool:
    """Whether a station has been silent for more than ``max_silence`` (a data outage).

    Parameters
    ----------
    last_seen : datetime or None
        Time of the station's last message; ``None`` when it never reported.
    now : datetime
        The time of the check, given by the caller (this package reads no clock). Both
        zone-aware, or both naive in the same zone.
    max_silence : datetime.timedelta, default 8 h
        Silence tolerated [A, domain.md §7].

    Returns
    -------
    bool
        ``True`` when ``now − last_seen > max_silence`` or the station never reported.

    Examples
    --------
    >>> seen = dt.datetime(2024, 6, 1, 0, 0)
    >>> stale_station(seen, seen + dt.timedelta(hours=8))
    False
    >>> stale_station(seen, seen + dt.timedelta(hours=8, minutes=1))
    True
    """
    if last_seen is None:
        return True
    return now - last_seen > max_silence


# --- the pipeline --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QcResult:
    """The QC of one station-parameter series, on the index of the values.

    Attributes
    ----------
    flags : Series of uint8
        Aggregate QARTOD flag per value, named ``qc_flag``.
    tests : Series of str
        Name of the test that set a flag 3 or 4 (the first of :data:`QC_TESTS` on a tie),
        ``"missing"`` for 9, ``""`` otherwise; named ``qc_test``.
    detail : DataFrame of uint8
        One column per test of :data:`QC_TESTS`.
    """

    flags: pd.Series
    tests: pd.Series
    detail: pd.DataFrame


def quality_flags(
    values: pd.Series,
    times: TimesLike | None,
    station_flags: pd.Series,
    key: str,
    *,
    target_limit: float | None = None,
    ranges: QcRanges | None = None,
) -> QcResult:
    """All QC tests on one station-parameter series and their aggregate flag per value.

    Parameters
    ----------
    values : Series of float
        One parameter of one station [unit of ``key``]; NaN is missing.
    times : DatetimeIndex or Series of datetime, or None
        Strictly increasing times of the values (naive or zone-aware); ``None`` takes
        ``values.index``. A Series must be on the index of ``values``.
    station_flags : Series of str
        The station's HJ 212 flag per value (see :func:`station_flag_qc`), same length; a
        Series on another index than ``values`` is refused.
    key : str
        Parameter key of ``qc_ranges.csv``.
    target_limit : float, optional
        Limit of the section's target class [unit of ``key``], for the instrument span of
        :func:`gross_range`.
    ranges : QcRanges, optional
        Thresholds to use instead of the table row of ``key``.

    Returns
    -------
    QcResult
        Flags, names of the deciding tests and per-test detail, on ``values.index``; nothing
        is removed.

    Raises
    ------
    ValueError
        When the inputs are not aligned, the times are not strictly increasing or their
        median interval is below 1 s, a station flag is unknown, or ``target_limit`` is
        refused (see :func:`gross_range`).
    DataTableError
        When ``key`` has no row in ``qc_ranges.csv``.

    Notes
    -----
    1. ``station_flag`` and ``gross_range`` run on every value.
    2. ``spike``, ``rate_of_change``, ``flat_line`` and ``time_gap`` run on the present values
       that neither the station nor the gross range failed, as one series: a calibration
       reading or an impossible value does not make its neighbours look like spikes, and a gap
       is measured between usable values. Values left out are 2 (9 when missing) there.
    3. The aggregate is ``ioos_qc.qartod.qartod_compare``, QARTOD precedence
       4 > 3 > 1 > 2 > 9: the worst flag among the tests that evaluated the value; a test that
       could not (2, e.g. the first value of the spike test) does not lower a pass. A missing
       value is 9 whatever its station flag.

    Examples
    --------
    >>> times = pd.date_range("2024-06-01", periods=5, freq="4h", tz="Asia/Shanghai")
    >>> values = pd.Series([0.3, 0.3, 3.0, 0.3, None], index=times)
    >>> result = quality_flags(values, None, pd.Series(["N", "C", "N", "N", "N"], index=times),
    ...                        "nh3n", target_limit=1.0)
    >>> result.flags.tolist(), result.tests.tolist()
    ([1, 4, 3, 3, 9], ['', 'station_flag', 'gross_range', 'rate_of_change', 'missing'])
    """
    ranges = _resolve(key, ranges)
    if times is None:
        times = pd.DatetimeIndex(values.index)
    _check_aligned(values, times, "times")
    _check_aligned(values, station_flags, "station_flags")
    x = _floats(values)
    t = _times(times)
    present = ~np.isnan(x)

    station = _station_flags(station_flags.to_numpy(dtype=object))
    gross = _gross_range(x, ranges, target_limit)
    usable = present & (station != QcFlag.FAIL) & (gross != QcFlag.FAIL)
    xs, ts = x[usable], t[usable]

    def scatter(sub: FlagArray) -> FlagArray:
        full = np.where(present, _FLAG_DTYPE(QcFlag.NOT_EVALUATED), _FLAG_DTYPE(QcFlag.MISSING))
        full[usable] = sub
        return full

    columns = (
        station,
        gross,
        scatter(_spike(xs, ranges)),
        scatter(_rate_of_change(xs, ts, ranges)),
        scatter(_flat_line(xs, ts, ranges)),
        scatter(_time_gap(ts, ranges.max_gap)),
    )
    aggregate = _flags(qartod.qartod_compare(list(columns)))
    aggregate[~present] = QcFlag.MISSING

    stack = np.vstack(columns)
    first = np.argmax(stack == aggregate, axis=0)
    deciding = np.asarray(QC_TESTS, dtype=object)[first]
    flagged = (aggregate == QcFlag.SUSPECT) | (aggregate == QcFlag.FAIL)
    names = np.where(aggregate == QcFlag.MISSING, "missing", np.where(flagged, deciding, ""))

    index = values.index
    detail = pd.DataFrame(dict(zip(QC_TESTS, columns, strict=True)), index=index)
    return QcResult(
        flags=_series(aggregate, index, "qc_flag"),
        tests=pd.Series(names.astype(str), index=index, name="qc_test"),
        detail=detail,
    )


def target_limit(section: Section, key: str, on: dt.date) -> float | None:
    """The upper limit of a section's target class for one parameter on a date, or None.

    The section's own standard for ``key`` (registry ``[sections.standards]``) wins; a lower
    limit (DO), a 劣Ⅴ target or an item without a limit give None.

    Parameters
    ----------
    section : Section
        The registry entry.
    key : str
        Parameter key.
    on : date
        The day whose target class applies (:meth:`Section.target_class`).

    Examples
    --------
    >>> from sections.registry import load_registry
    >>> target_limit(load_registry().section("xiaofanqiao"), "nh3n", dt.date(2025, 7, 1)) > 0
    True
    """
    if key in section.standards:
        return float(section.standards[key])
    try:
        if indicator_limits(key, section.water_body).direction != "le":
            return None
        target = section.target_class(on)
        if target > WaterClass.V:
            return None
        return class_limit(key, target, section.water_body)
    except (KeyError, DataTableError):  # no limit for this item in this water body
        return None


def instrument_span(section: Section, key: str, on: dt.date) -> float | None:
    """The analyser's upper range: :data:`INSTRUMENT_SPAN_FACTOR` × the target-class limit [V].

    Used by the gross-range test (values beyond it are suspect) and as the lower bound of an
    over-range (T) reading (:func:`sections.validity.over_range_value`). None when the
    parameter has no upper target limit.

    Examples
    --------
    >>> from sections.registry import load_registry
    >>> section = load_registry().section("xiaofanqiao")
    >>> instrument_span(section, "nh3n", dt.date(2025, 7, 1)) == 2 * target_limit(
    ...     section, "nh3n", dt.date(2025, 7, 1))
    True
    """
    limit = target_limit(section, key, on)
    return None if limit is None else INSTRUMENT_SPAN_FACTOR * limit


def valid_mask(
    result: QcResult,
    station_flags: pd.Series | None = None,
    *,
    policy: ValidityPolicy | None = None,
) -> pd.Series:
    """Which values may enter period means, by the one validity rule of :mod:`sections.validity`.

    Suspect values (3) count by default until a reviewer rejects them [A]; fail (4), missing
    (9) and station fault flags never count; an over-range (T) value counts as a lower bound.
    Nothing is removed: the mask is on the same index.

    Parameters
    ----------
    result : QcResult
        The flags of :func:`quality_flags`.
    station_flags : Series of str, optional
        The station's flags (F, M, D, C, B never count whatever the QC flag says).
    policy : ValidityPolicy
        Whether suspect and over-range values count [A].

    Examples
    --------
    >>> times = pd.date_range("2024-06-01", periods=3, freq="4h")
    >>> flags = pd.Series(["N", "S", "D"], index=times)
    >>> result = quality_flags(pd.Series([0.3, 0.31, 0.32], index=times), None, flags, "nh3n")
    >>> valid_mask(result, flags).tolist()
    [True, True, False]
    """
    stations = station_flags if station_flags is not None else [None] * len(result.flags)
    verdict = validity_frame(stations, result.flags.to_numpy(), result.tests.to_numpy(),
                             policy=policy)  # fmt: skip
    return pd.Series(verdict["counts"].to_numpy(), index=result.flags.index, name="valid")
