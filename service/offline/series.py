"""``qingliu backtest``: read one parameter's time series from a ``time,value`` CSV.

``time`` is ISO 8601 *with* a UTC offset (``2025-01-01T04:00:00+08:00``; ``Z`` is UTC): a series
is compared across sources and grids, so a wall-clock time without its zone is refused rather than
guessed. ``value`` is a number in the parameter's canonical unit (:mod:`sections.parameters`);
empty is no value; ``<x`` / ``xL`` is below the detection limit x and enters as x/2
(:func:`sections.detection.substitute_censored`). Other columns are ignored.

The reader is a door like the feeds: the first bad row stops the command with its file line and
column — a time without offset or not ISO 8601, a time outside the accepted window
(:class:`service.offline.dates.DateWindow`), a value that is not a number or is physically
impossible (:func:`sections.plausibility.implausible`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from sections.detection import split_censored, substitute_censored
from sections.plausibility import implausible
from service.errors import InputError
from service.offline.dates import DEFAULT_WINDOW, DateWindow
from service.offline.files import csv_file_rows
from service.time import BEIJING

__all__ = ["SERIES_COLUMNS", "read_series"]

SERIES_COLUMNS = ("time", "value")
"""The columns a series file needs (others are ignored)."""


def read_series(
    path: Path | str,
    *,
    key: str,
    window: DateWindow = DEFAULT_WINDOW,
    now: dt.datetime | None = None,
) -> pd.Series:
    """Read and check a ``time,value`` CSV of parameter ``key``.

    Parameters
    ----------
    path : Path or str
        The CSV file (UTF-8, an optional BOM).
    key : str
        Parameter key (``nh3n``, ``do`` …) whose physical range the values are checked against.
    window, now
        Accepted times (:class:`~service.offline.dates.DateWindow`), relative to ``now``
        (default: the current time).

    Returns
    -------
    Series
        float64 values [canonical unit of ``key``] named ``key``, on a DatetimeIndex named
        ``time`` in Beijing time (Asia/Shanghai), in file order; NaN where a value was empty.

    Raises
    ------
    InputError
        An unreadable or empty file, a missing column, a malformed CSV row or one with more
        fields than the header, and the first bad cell with its row and column: an empty time,
        a time that is not ISO 8601, has no offset or lies outside ``window``, a value that is
        not a number or is physically impossible; a file without any value.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "nh3n.csv"
    ...     _ = path.write_text("time,value\\n2025-01-01T04:00:00+08:00,0.42\\n"
    ...                         "2025-01-01T00:00:00Z,<0.025\\n", encoding="utf-8")
    ...     read_series(path, key="nh3n").tolist()
    [0.42, 0.0125]
    """
    header, data_rows = csv_file_rows(path)
    missing = [column for column in SERIES_COLUMNS if column not in header]
    if missing:
        raise InputError(
            f"缺少列 / missing column(s): {', '.join(missing)}（需要 / needs: time,value）", row=1
        )
    duplicated = [column for column in SERIES_COLUMNS if header.count(column) > 1]
    if duplicated:
        raise InputError(f"重复的列 / duplicate column(s): {', '.join(duplicated)}", row=1)
    at_time, at_value = header.index("time"), header.index("value")
    lines: list[int] = []
    times: list[dt.datetime] = []
    cells: list[str] = []
    for line, row in data_rows:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise InputError(
                f"有 {len(row)} 个字段，表头有 {len(header)} 个 / has {len(row)} fields, "
                f"the header {len(header)}",
                row=line,
            )
        times.append(_moment(row[at_time].strip(), line, window, now))
        cells.append(row[at_value].strip())
        lines.append(line)
    if not lines:
        raise InputError("输入文件没有数据行 / the input file has no data rows")
    index = pd.DatetimeIndex(times, name="time").tz_convert(BEIJING)
    column = pd.Series(cells, index=index, dtype=object)
    numbers, censored = split_censored(column)
    _refuse_first(
        (column != "") & numbers.isna(),
        lambda i: f"无法解析的数值 / not a number: {cells[i]!r}",
        lines,
    )
    reasons = implausible(key, numbers)
    _refuse_first(reasons != "", lambda i: str(reasons.iloc[i]), lines)
    if numbers.isna().all():
        raise InputError("value 列没有任何数值 / the value column holds no number")
    values = substitute_censored(numbers, censored).astype("float64")
    values.name = key
    return values


def _moment(text: str, line: int, window: DateWindow, now: dt.datetime | None) -> dt.datetime:
    """One ``time`` cell → an aware datetime in UTC, or the row's error."""
    if not text:
        raise InputError("缺少时间 / time is empty", row=line, column="time")
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"时间不是 ISO 8601 格式 / not an ISO 8601 time: {text!r}", row=line, column="time"
        ) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InputError(
            f"时间缺少时区偏移 / time has no UTC offset: {text!r}"
            "（应写作 / write e.g. 2025-01-01T04:00:00+08:00）",
            row=line,
            column="time",
        )
    reason = window.reason(moment, now=now)
    if reason:
        raise InputError(reason, row=line, column="time")
    return moment.astimezone(dt.UTC)


def _refuse_first(bad: pd.Series, message: Callable[[int], str], lines: list[int]) -> None:
    """Raise ``message(position)`` of the first True in ``bad``, naming its row and ``value``."""
    if bad.any():
        first = int(np.flatnonzero(bad.to_numpy(dtype=bool))[0])
        raise InputError(message(first), row=lines[first], column="value")
