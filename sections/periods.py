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
from typing import Final

import numpy as np
import pandas as pd

__all__ = [
    "DEFAULT_MIN_DAILY_VALUES",
    "DEFAULT_MIN_DAY_FRACTION",
    "LOCAL_TIMEZONE",
    "PeriodValues",
    "period_values",
]

DEFAULT_MIN_DAILY_VALUES: Final = 4
"""A daily value needs at least this many valid samples (4 of the 6 four-hourly analyses) [A]."""

DEFAULT_MIN_DAY_FRACTION: Final = 2 / 3
"""A longer period needs valid daily values on at least this share of its days [A]."""

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
    """

    values: pd.DataFrame
    counts: pd.DataFrame
    required: pd.DataFrame
    sufficient: pd.DataFrame

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


def period_values(
    values: pd.DataFrame,
    times: pd.Series,
    *,
    period: str = "day",
    groups: pd.Series | None = None,
    censored: pd.DataFrame | None = None,
    min_daily_values: int = DEFAULT_MIN_DAILY_VALUES,
    min_day_fraction: float = DEFAULT_MIN_DAY_FRACTION,
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
        True where the value is a detection limit (``<DL``): it counts as half of it.
    min_daily_values : int
        Valid samples needed for a daily value [A, default 4].
    min_day_fraction : float
        Share of a longer period's days that need a valid daily value [A, default 2/3].
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
    if not 0 < min_day_fraction <= 1:
        raise ValueError("min_day_fraction must lie in (0, 1]")
    data = values.astype("float64")
    if censored is not None:
        flags = censored.reindex(index=data.index, columns=data.columns, fill_value=False)
        data = data.where(~flags.astype(bool), data / 2)
    if "ph" in data:
        data["ph"] = 10.0 ** (-data["ph"])  # average the hydrogen-ion activity
    times = pd.Series(pd.to_datetime(times).to_numpy(), index=values.index)
    if getattr(times.dt, "tz", None) is not None:  # days are local days
        times = times.dt.tz_convert(local_timezone).dt.tz_localize(None)
    group = (
        pd.Series("", index=values.index, dtype=object)
        if groups is None
        else pd.Series(np.asarray(groups, dtype=object), index=values.index)
    )
    day = times.dt.floor("D")

    daily_sum = data.groupby([group, day], sort=True).sum(min_count=1)
    daily_count = data.notna().groupby([group, day], sort=True).sum()
    daily_ok = daily_count >= min_daily_values
    daily = (daily_sum / daily_count.where(daily_count > 0)).where(daily_ok)
    daily.index.names = ["group", "period_start"]
    daily_count.index.names = ["group", "period_start"]

    if period == "day":
        required = pd.DataFrame(min_daily_values, index=daily.index, columns=daily.columns)
        return _finish(daily, daily_count, required, daily_ok)

    frequency = _PERIOD_FREQUENCIES[period]
    day_index = daily.index.get_level_values("period_start")
    starts = pd.PeriodIndex(day_index, freq=frequency)
    start_times = pd.Series(starts.start_time, index=daily.index)
    keys = [daily.index.get_level_values("group"), start_times.to_numpy()]
    period_sum = daily.groupby(keys, sort=True).sum(min_count=1)
    valid_days = daily.notna().groupby(keys, sort=True).sum()
    lengths = pd.PeriodIndex(period_sum.index.get_level_values(1), freq=frequency)
    days = np.asarray((lengths.end_time.floor("D") - lengths.start_time).days + 1, dtype=np.float64)
    needed = np.ceil(days * min_day_fraction - 1e-9)
    required = pd.DataFrame(
        np.repeat(needed[:, None], len(daily.columns), axis=1),
        index=period_sum.index,
        columns=daily.columns,
    )
    ok = (valid_days >= required) & (valid_days > 0)
    result = (period_sum / valid_days.where(valid_days > 0)).where(ok)
    for frame in (result, valid_days, required, ok):
        frame.index.names = ["group", "period_start"]
    return _finish(result, valid_days, required, ok)


def _finish(
    means: pd.DataFrame, counts: pd.DataFrame, required: pd.DataFrame, ok: pd.DataFrame
) -> PeriodValues:
    values = means.copy()
    if "ph" in values:
        with np.errstate(divide="ignore", invalid="ignore"):
            values["ph"] = -np.log10(values["ph"])
    return PeriodValues(
        values=values,
        counts=counts.astype("int64"),
        required=required.astype("int64"),
        sufficient=ok.astype(bool) & (counts > 0),
    )
