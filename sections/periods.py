"""Period values: daily, monthly or any period's value of each parameter, with validity rules.

A daily value is the mean of the day's valid samples when there are enough of them; a longer
period's value is the mean of its valid daily values when enough days have one. pH is averaged
over the hydrogen-ion activity [H⁺] = 10^(−pH) and converted back; a value below the detection
limit counts as half that limit. Too few values give an explicit "insufficient data" result
(NaN value, ``sufficient`` False), never a silently thin mean.

References
----------
.. [1] 环办〔2011〕22号 地表水环境质量评价办法（试行）: period values as arithmetic means; values
   below the detection limit at half the limit [V]; pH means over [H⁺] [V, one source].
.. [2] domain.md §5: validity thresholds [A, configurable].
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Final

import numpy as np
import pandas as pd

from sections.detection import substitute_censored
from sections.errors import InputError

__all__ = [
    "DEFAULT_MIN_DAILY_VALUES",
    "DEFAULT_MIN_DAY_FRACTION",
    "LOCAL_TIMEZONE",
    "PeriodValues",
    "annual_values",
    "as_fraction",
    "mean_values",
    "period_values",
    "ph_from_activity",
    "ph_to_activity",
    "required_days",
]

DEFAULT_MIN_DAILY_VALUES: Final = 4
"""A daily value needs at least this many valid samples (4 of the 6 four-hourly analyses) [A]."""

DEFAULT_MIN_DAY_FRACTION: Final = Fraction(2, 3)
"""A longer period needs valid daily values on at least this share of its days [A], exactly."""

LOCAL_TIMEZONE: Final = "Asia/Shanghai"
"""Days and months are Beijing calendar days and months."""

_PERIOD_FREQUENCIES = {"day": "D", "month": "M", "week": "W", "quarter": "Q", "year": "Y"}


@dataclass(frozen=True)
class PeriodValues:
    """Values of each parameter per group and period.

    Attributes
    ----------
    values : DataFrame
        Index (group, period_start), one column per parameter: the period value, NaN when
        insufficient or absent.
    counts : DataFrame
        Valid samples (for days) or valid days (for longer periods) per cell.
    required : DataFrame
        How many were needed per cell.
    sufficient : DataFrame
        Whether the cell has a value: ``counts ≥ required`` and at least one.
    lower_bound : DataFrame of bool
        Whether an over-range reading entered the cell's value: the value is then a lower
        bound, shown "≥" [A, domain.md §5].
    suspect : DataFrame of int
        How many QARTOD-suspect samples the cell's value rests on (counted until reviewed).
    """

    values: pd.DataFrame
    counts: pd.DataFrame
    required: pd.DataFrame
    sufficient: pd.DataFrame
    lower_bound: pd.DataFrame
    suspect: pd.DataFrame

    def insufficient(self) -> pd.Series:
        """Per row, the parameters that had data but too little of it (a list each)."""
        had_data = self.counts > 0
        lacking = had_data & ~self.sufficient
        columns = np.asarray(self.values.columns, dtype=object)
        return pd.Series(
            [list(columns[row]) for row in lacking.to_numpy(dtype=bool)],
            index=self.values.index,
            dtype=object,
        )


def as_fraction(value: Fraction | int | float | str) -> Fraction:
    """A completeness share as an exact fraction: ``"2/3"``, ``Fraction(2, 3)``, ``0.5``.

    A float is read as the shortest fraction with a denominator up to 1,000 (``2/3`` typed as
    ``0.6666666666666666`` is 2/3).

    Raises
    ------
    ValueError
        Unless the share lies in (0, 1].

    Examples
    --------
    >>> as_fraction("2/3"), as_fraction(2 / 3), as_fraction(0.5)
    (Fraction(2, 3), Fraction(2, 3), Fraction(1, 2))
    """
    try:
        if isinstance(value, float):
            fraction = Fraction(value).limit_denominator(1000)
        else:
            fraction = Fraction(str(value).strip()) if isinstance(value, str) else Fraction(value)
    except (ValueError, ZeroDivisionError):
        raise InputError(f"份额必须是分数，如 2/3 / share must be a fraction: {value!r}") from None
    if not 0 < fraction <= 1:
        raise InputError(f"份额须在 (0, 1] 内 / share must lie in (0, 1], got {value!r}")
    return fraction


def required_days(
    days: int, fraction: Fraction | int | float | str = DEFAULT_MIN_DAY_FRACTION
) -> int:
    """Valid days a period of ``days`` days needs: ⌈days × fraction⌉, in exact arithmetic.

    Examples
    --------
    >>> required_days(30), required_days(31), required_days(28), required_days(3)
    (20, 21, 19, 2)
    """
    share = as_fraction(fraction)
    return -((-days * share.numerator) // share.denominator)


def period_values(
    values: pd.DataFrame,
    times: pd.Series,
    *,
    period: str = "day",
    groups: pd.Series | None = None,
    censored: pd.DataFrame | None = None,
    lower_bound: pd.DataFrame | None = None,
    suspect: pd.DataFrame | None = None,
    min_daily_values: int = DEFAULT_MIN_DAILY_VALUES,
    min_day_fraction: Fraction | float | str = DEFAULT_MIN_DAY_FRACTION,
    local_timezone: str = LOCAL_TIMEZONE,
) -> PeriodValues:
    """Mean values per group and period from samples.

    Parameters
    ----------
    values : DataFrame
        One column per parameter key [unit of the parameter]; NaN is no value. Flagged values
        must already be NaN here (they never enter means).
    times : Series of datetime64
        Sampling times aligned with ``values``: naive times are local (Beijing) wall-clock
        times; zone-aware ones are converted to ``local_timezone`` first. A day is a local
        calendar day.
    period : str
        ``"day"``, ``"week"``, ``"month"``, ``"quarter"``, ``"year"`` or a pandas period
        frequency such as ``"10D"`` is not supported; use the names.
    groups : Series, optional
        Group of each row (usually the section); one group when omitted.
    censored : DataFrame of bool, optional
        True where the value is a detection limit (``<DL``): it counts as half of it
        (:func:`sections.detection.substitute_censored`).
    lower_bound : DataFrame of bool, optional
        True where the value is an over-range reading entered as a lower bound
        (:func:`sections.validity.over_range_value`): the period value is then marked.
    suspect : DataFrame of bool, optional
        True where the value is QARTOD-suspect: counted, and reported per cell.
    min_daily_values : int
        Valid samples needed for a daily value [A, default 4].
    min_day_fraction : Fraction, str or float
        Share of a longer period's days that need a valid daily value [A, default 2/3], read
        by :func:`as_fraction`; the days needed are :func:`required_days`.
    local_timezone : str
        The zone whose calendar days count (default Asia/Shanghai).

    Returns
    -------
    PeriodValues
        Index (group, period_start) with period_start a Timestamp at the period's first day.

    Examples
    --------
    >>> times = pd.Series(pd.date_range("2025-01-01", periods=6, freq="4h"))
    >>> frame = pd.DataFrame({"ph": [7.0, 8.0, 7.0, 8.0, 7.0, 8.0]})
    >>> round(float(period_values(frame, times).values["ph"].iloc[0]), 2)
    7.26
    """
    if period not in _PERIOD_FREQUENCIES:
        raise ValueError(f"unknown period {period!r}; valid: {', '.join(_PERIOD_FREQUENCIES)}")
    if min_daily_values < 1:
        raise ValueError("min_daily_values must be at least 1")
    try:
        share = as_fraction(min_day_fraction)
    except ValueError:
        raise ValueError("min_day_fraction must lie in (0, 1]") from None
    data = values.astype("float64")
    if censored is not None:
        data = substitute_censored(data, censored)
    present = data.notna()
    bound = _marks(lower_bound, data) & present
    doubtful = _marks(suspect, data) & present
    data = ph_to_activity(data)  # average the hydrogen-ion activity
    times = pd.Series(pd.to_datetime(times).to_numpy(), index=values.index)
    if getattr(times.dt, "tz", None) is not None:  # days are local days
        times = times.dt.tz_convert(local_timezone).dt.tz_localize(None)
    group = (
        pd.Series("", index=values.index, dtype=object)
        if groups is None
        else pd.Series(np.asarray(groups, dtype=object), index=values.index)
    )
    day = times.dt.floor("D")

    keys_day = [group, day]
    daily_sum = data.groupby(keys_day, sort=True).sum(min_count=1)
    daily_count = present.groupby(keys_day, sort=True).sum()
    daily_bound = bound.groupby(keys_day, sort=True).any()
    daily_suspect = doubtful.groupby(keys_day, sort=True).sum()
    daily_ok = daily_count >= min_daily_values
    daily = (daily_sum / daily_count.where(daily_count > 0)).where(daily_ok)
    for frame in (daily, daily_count, daily_bound, daily_suspect):
        frame.index.names = ["group", "period_start"]

    if period == "day":
        required = pd.DataFrame(min_daily_values, index=daily.index, columns=daily.columns)
        return _finish(daily, daily_count, required, daily_ok, daily_bound, daily_suspect)

    frequency = _PERIOD_FREQUENCIES[period]
    day_index = daily.index.get_level_values("period_start")
    starts = pd.PeriodIndex(day_index, freq=frequency)
    start_times = pd.Series(starts.start_time, index=daily.index)
    keys = [daily.index.get_level_values("group"), start_times.to_numpy()]
    period_sum = daily.groupby(keys, sort=True).sum(min_count=1)
    used = daily.notna()
    valid_days = used.groupby(keys, sort=True).sum()
    period_bound = (daily_bound & used).groupby(keys, sort=True).any()
    period_suspect = daily_suspect.where(used, 0).groupby(keys, sort=True).sum()
    lengths = pd.PeriodIndex(period_sum.index.get_level_values(1), freq=frequency)
    days = (lengths.end_time.floor("D") - lengths.start_time).days + 1
    needed = np.array([required_days(int(n), share) for n in days], dtype=np.int64)
    required = pd.DataFrame(
        np.repeat(needed[:, None], len(daily.columns), axis=1),
        index=period_sum.index,
        columns=daily.columns,
    )
    ok = (valid_days >= required) & (valid_days > 0)
    result = (period_sum / valid_days.where(valid_days > 0)).where(ok)
    for frame in (result, valid_days, required, ok, period_bound, period_suspect):
        frame.index.names = ["group", "period_start"]
    return _finish(result, valid_days, required, ok, period_bound, period_suspect)


def annual_values(
    monthly: pd.DataFrame,
    *,
    min_month_fraction: Fraction | float | str = DEFAULT_MIN_DAY_FRACTION,
    lower_bound: pd.DataFrame | None = None,
) -> PeriodValues:
    """Annual values per group from monthly values: the mean of the months that have one.

    The annual assessment of a section classifies the arithmetic mean of its monthly values
    (pH over [H⁺]) [V 环办〔2011〕22号]; a year needs monthly values in at least
    ``min_month_fraction`` of its 12 months [A, default 2/3 → 8 months], else it is
    insufficient.

    Parameters
    ----------
    monthly : DataFrame
        Index (group, period_start) with period_start the first day of each month, one column
        per parameter; NaN where a month has no value (insufficient, not assessed).
    min_month_fraction : Fraction, str or float
        Share of the 12 months that need a value [A].
    lower_bound : DataFrame of bool, optional
        Monthly values that are lower bounds; the year is then one too.

    Returns
    -------
    PeriodValues
        Index (group, period_start) with period_start 1 January; counts are months.

    Examples
    --------
    >>> months = pd.MultiIndex.from_product([["s"], pd.date_range("2025-01-01", periods=12,
    ...                                      freq="MS")], names=["group", "period_start"])
    >>> year = annual_values(pd.DataFrame({"nh3n": [0.5] * 6 + [1.1] * 6}, index=months))
    >>> round(float(year.values["nh3n"].iloc[0]), 2), int(year.counts["nh3n"].iloc[0])
    (0.8, 12)
    """
    needed = required_days(12, min_month_fraction)
    data = ph_to_activity(monthly.astype("float64"))
    present = data.notna()
    bound = _marks(lower_bound, data) & present
    groups = monthly.index.get_level_values(0)
    years = pd.DatetimeIndex(monthly.index.get_level_values(1)).to_period("Y").start_time
    keys = [groups, years]
    total = data.groupby(keys, sort=True).sum(min_count=1)
    counts = present.groupby(keys, sort=True).sum()
    any_bound = bound.groupby(keys, sort=True).any()
    ok = counts >= needed
    means = (total / counts.where(counts > 0)).where(ok)
    required = pd.DataFrame(needed, index=means.index, columns=means.columns)
    suspect = pd.DataFrame(0, index=means.index, columns=means.columns)
    for frame in (means, counts, any_bound, ok, required, suspect):
        frame.index.names = ["group", "period_start"]
    return _finish(means, counts, required, ok, any_bound, suspect)


def ph_to_activity(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose ``ph`` column is the hydrogen-ion activity [H⁺] = 10^(−pH), for means [V].

    Examples
    --------
    >>> ph_to_activity(pd.DataFrame({"ph": [7.0], "do": [8.0]})).round(9).iloc[0].tolist()
    [1e-07, 8.0]
    """
    data = frame.copy()
    if "ph" in data:
        data["ph"] = 10.0 ** (-data["ph"].astype("float64"))
    return data


def ph_from_activity(frame: pd.DataFrame) -> pd.DataFrame:
    """The inverse of :func:`ph_to_activity`: a mean activity back to pH."""
    data = frame.copy()
    if "ph" in data:
        with np.errstate(divide="ignore", invalid="ignore"):
            data["ph"] = -np.log10(data["ph"].astype("float64"))
    return data


def mean_values(frame: pd.DataFrame) -> pd.Series:
    """Column means of values (rows: points or samples), pH over [H⁺]; NaN is skipped.

    The mean of several points of one lake, for example [V 环办〔2011〕22号].

    Examples
    --------
    >>> round(float(mean_values(pd.DataFrame({"ph": [7.0, 9.0]}))["ph"]), 2)
    7.3
    """
    means = ph_to_activity(frame.astype("float64")).mean(axis=0, skipna=True)
    return ph_from_activity(means.to_frame().T).iloc[0]


def _marks(marks: pd.DataFrame | None, like: pd.DataFrame) -> pd.DataFrame:
    if marks is None:
        return pd.DataFrame(False, index=like.index, columns=like.columns)
    return marks.reindex(index=like.index, columns=like.columns, fill_value=False).astype(bool)


def _finish(
    means: pd.DataFrame,
    counts: pd.DataFrame,
    required: pd.DataFrame,
    ok: pd.DataFrame,
    bound: pd.DataFrame,
    suspect: pd.DataFrame,
) -> PeriodValues:
    values = ph_from_activity(means)
    has_value = ok.astype(bool) & (counts > 0)
    return PeriodValues(
        values=values,
        counts=counts.astype("int64"),
        required=required.astype("int64"),
        sufficient=has_value,
        lower_bound=bound.astype(bool) & has_value,
        suspect=suspect.where(has_value, 0).astype("int64"),
    )
