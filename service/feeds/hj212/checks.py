"""Checks a data frame passes before its values may join a batch: times and plausibility.

Pure (the clock is a parameter). :func:`frame_time_refusal` refuses frames dated in the future
or before a floor; :func:`screen_rows` leaves out values that are not finite or outside the
physical range of their parameter (:mod:`sections.plausibility`, the one table of every door).

References
----------
.. [1] architecture.md, "Doors"; issue 11 points 4 and 5.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from sections.dates import EARLIEST_DAY
from sections.plausibility import physical_ranges, plausibility_reason
from service.feeds.hj212.frame import Hj212Frame
from service.time import BEIJING

__all__ = ["EARLIEST_TIME", "frame_time_refusal", "screen_rows", "screen_tuples"]

EARLIEST_TIME = dt.datetime.combine(EARLIEST_DAY, dt.time(), BEIJING)
"""Default floor of frame times: older DataTime or SampleTime is refused ``bad_time`` [A]."""


def frame_time_refusal(
    frame: Hj212Frame,
    *,
    now: dt.datetime,
    tolerance: float = 3_600.0,
    earliest: dt.datetime = EARLIEST_TIME,
) -> str:
    """Why the times of a data frame are refused, or ``""``.

    Parameters
    ----------
    frame : Hj212Frame
        A parsed frame; its DataTime and every SampleTime are checked.
    now : datetime
        The receiver's clock, zone-aware.
    tolerance : float
        Seconds a time may lie after ``now`` [A] (loggers' clocks drift).
    earliest : datetime
        Times before it are refused [A].

    Returns
    -------
    str
        ``"future_time: …"``, ``"bad_time: …"`` or ``""``.

    Examples
    --------
    >>> from service.feeds.hj212 import data_frame, parse_frame
    >>> now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    >>> late = parse_frame(data_frame(mn="M", pw="p", data_time=dt.datetime(2099, 1, 1),
    ...                               values={"nh3n": 0.5}))
    >>> frame_time_refusal(late, now=now).split(":")[0]
    'future_time'
    """
    latest = now + dt.timedelta(seconds=tolerance)
    times = [("DataTime", frame.data_time)]
    times += [(f"{value.code}-SampleTime", value.sample_time)
              for value in frame.values if value.sample_time is not None]  # fmt: skip
    for name, when in times:
        if when is None:
            continue
        # aware comparisons never convert to UTC, so year 1 in Beijing cannot overflow
        if when < earliest:
            return (f"bad_time: {name} {when:%Y-%m-%d %H:%M:%S} 早于 / is before "
                    f"{earliest:%Y-%m-%d}")  # fmt: skip
        if when > latest:
            return (f"future_time: {name} {when:%Y-%m-%d %H:%M:%S} 超前于接收时钟 / is more "
                    f"than {tolerance:g} s ahead of the receiver's clock")  # fmt: skip
    return ""


def _not_finite(parameter: str, value: float) -> str:
    return f"{parameter} = {value} 不是有限数 / is not a finite number"


def screen_rows(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """Observation rows that may be stored, and why the others may not.

    A value that is not finite, or outside its parameter's physical range
    (:func:`sections.plausibility.plausibility_reason`), is left out with its reason; a value
    of an unknown code (kept for review) has no range and is only checked to be finite.
    Missing values (None) always pass.

    Examples
    --------
    >>> kept, why = screen_rows([{"parameter": "nh3n", "value": 5000.0},
    ...                          {"parameter": "tp", "value": 0.1}])
    >>> [row["parameter"] for row in kept], why[0].startswith("nh3n = 5000")
    (['tp'], True)
    """
    kept: list[dict[str, Any]] = []
    reasons: list[str] = []
    for row in rows:
        value = row["value"]
        if value is None:
            kept.append(row)
            continue
        if not math.isfinite(value):
            reasons.append(_not_finite(row["parameter"], value))
            continue
        if row.get("review_status") is None:
            why = plausibility_reason(row["parameter"], value)
            if why:
                reasons.append(why)
                continue
        kept.append(row)
    return kept, reasons


def screen_tuples(
    rows: list[tuple[Any, ...]], *, parameter_at: int = 1, value_at: int = 5, review_at: int = 8
) -> tuple[list[tuple[Any, ...]], list[str]]:
    """:func:`screen_rows` for tuple rows (by default those of
    :func:`~service.feeds.hj212.rows.frame_tuples`), the same checks in the same order.

    Examples
    --------
    >>> kept, why = screen_tuples([("nh3n", 5000.0, None), ("tp", 0.1, None)],
    ...                           parameter_at=0, value_at=1, review_at=2)
    >>> kept, why[0].startswith("nh3n = 5000")
    ([('tp', 0.1, None)], True)
    """
    ranges = physical_ranges()
    kept: list[tuple[Any, ...]] = []
    reasons: list[str] = []
    for row in rows:
        value = row[value_at]
        if value is None:
            kept.append(row)
            continue
        if not math.isfinite(value):
            reasons.append(_not_finite(row[parameter_at], value))
            continue
        if row[review_at] is None:
            limits = ranges.get(row[parameter_at])
            why = (
                plausibility_reason(row[parameter_at], value)  # names the table's valid keys
                if limits is None
                else limits.reason(float(value))
            )
            if why:
                reasons.append(why)
                continue
        kept.append(row)
    return kept, reasons
