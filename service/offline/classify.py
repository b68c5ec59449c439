"""``qingliu classify``: classify the rows of a CSV file without a database.

Reading and checking the file lives here; every rule comes from :mod:`sections`. The reader is a
door like the feeds: a value outside its parameter's physical range
(:func:`sections.plausibility.implausible`) or a time outside the accepted window
(:class:`service.offline.dates.DateWindow`) stops the command with its row and column.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from sections.classes import WaterClass
from sections.detection import split_censored, substitute_censored
from sections.evaluation import classify_frame
from sections.periods import (
    DEFAULT_MIN_DAILY_VALUES,
    DEFAULT_MIN_DAY_FRACTION,
    period_values,
)
from sections.plausibility import implausible
from sections.standards import DEFAULT_STANDARD, limit_table
from service.classification import TLI_KEYS, classification_records
from service.errors import InputError
from service.offline.dates import DEFAULT_WINDOW, DateWindow
from service.offline.files import csv_file_rows
from service.time import BEIJING

__all__ = [
    "ClassifyInput",
    "Period",
    "classify_input",
    "read_classify_input",
    "records_to_csv",
    "records_to_json",
]

Period = Literal["sample", "day", "month"]
WATER_BODY_ALIASES = {
    "river": "river", "河流": "river", "河": "river",
    "lake": "lake", "湖泊": "lake", "湖库": "lake", "水库": "lake", "湖": "lake",
    "reservoir": "lake",
}  # fmt: skip
META_COLUMNS = ("section", "time", "water_body")


def used_parameters(standard: str = DEFAULT_STANDARD) -> tuple[str, ...]:
    """Parameter keys that classification reads: items with a limit, and the TLI inputs."""
    keys = dict.fromkeys(key for key, _ in limit_table(standard))
    keys.update(dict.fromkeys(TLI_KEYS))
    return tuple(keys)


@dataclass(frozen=True)
class ClassifyInput:
    """A checked input file.

    Attributes
    ----------
    values : DataFrame
        Parameter values [canonical units], NaN where empty; one row per input row.
    censored : DataFrame
        True where the cell was below the detection limit x (``<x``, ``＜x`` or ``xL``, read by
        :func:`sections.detection.split_censored`; ``values`` holds x, means take x/2).
    sections : Series
        Section of each row (None when the file has no section column).
    times : Series
        The ``time`` cell as text (None when absent).
    water_bodies : ndarray
        ``river`` or ``lake`` per row.
    lines : ndarray
        File line number of each row (for messages).
    has_time_column : bool
        Whether the file has a ``time`` column.
    ignored : list of str
        Columns that classification does not read.
    """

    values: pd.DataFrame
    censored: pd.DataFrame
    sections: pd.Series
    times: pd.Series
    water_bodies: np.ndarray
    lines: np.ndarray
    has_time_column: bool
    ignored: list[str]


def read_classify_input(
    path: Path | str,
    *,
    water_body: str = "river",
    standard: str = DEFAULT_STANDARD,
    window: DateWindow = DEFAULT_WINDOW,
    now: dt.datetime | None = None,
) -> ClassifyInput:
    """Read and check a classification input CSV.

    Parameters
    ----------
    window, now
        Accepted times of the ``time`` column (:class:`~service.offline.dates.DateWindow`),
        relative to ``now`` (default: the current time).

    Raises
    ------
    InputError
        Naming the row (file line) and column of the first bad cell: an unparseable, negative
        or physically impossible number (:mod:`sections.plausibility`), an ISO 8601 time outside
        ``window``, an unknown water body, a malformed CSV row (e.g. a field longer than
        ``csv.field_size_limit()``).
    """
    default_body = WATER_BODY_ALIASES.get(water_body)
    if default_body is None:
        raise InputError(f"未知水体类型 / unknown water body {water_body!r} (river | lake)")
    header, data_rows = csv_file_rows(path)
    for line, row in data_rows:
        if len(row) != len(header) and any(cell.strip() for cell in row):
            raise InputError(
                f"有 {len(row)} 个字段，表头有 {len(header)} 个 / has {len(row)} fields, "
                f"the header {len(header)}",
                row=line,
            )
    kept = [(line, row) for line, row in data_rows if any(cell.strip() for cell in row)]
    rows = [row for _, row in kept]
    lines = np.array([line for line, _ in kept], dtype=np.int64)
    frame = pd.DataFrame(
        [r + [""] * (len(header) - len(r)) for r in rows], columns=header, dtype=object
    ).map(lambda cell: cell.strip() if isinstance(cell, str) else "")
    duplicated = [c for c in dict.fromkeys(header) if header.count(c) > 1]
    if duplicated:
        raise InputError(f"重复的列 / duplicate column(s): {', '.join(duplicated)}")

    keys = [c for c in header if c in used_parameters(standard)]
    ignored = [c for c in header if c not in keys and c not in META_COLUMNS]
    values = pd.DataFrame(index=frame.index, dtype="float64")
    censored = pd.DataFrame(index=frame.index, dtype=bool)
    for key in keys:
        column = frame[key]
        numbers, is_censored = split_censored(column)
        bad = (column != "") & numbers.isna()
        if bad.any():
            first = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(
                f"无法解析的数值 / not a number: {column.iloc[first]!r}",
                row=int(lines[first]),
                column=key,
            )
        negative = numbers < 0
        if negative.any():
            first = int(np.flatnonzero(negative.to_numpy())[0])
            raise InputError(
                f"数值不能为负 / negative value: {column.iloc[first]!r}",
                row=int(lines[first]),
                column=key,
            )
        reasons = implausible(key, numbers)
        impossible = reasons != ""
        if impossible.any():
            first = int(np.flatnonzero(impossible.to_numpy())[0])
            raise InputError(str(reasons.iloc[first]), row=int(lines[first]), column=key)
        values[key] = numbers.astype("float64")
        censored[key] = is_censored.to_numpy(dtype=bool)

    if "water_body" in frame:
        cells = frame["water_body"]
        mapped = cells.map(lambda cell: WATER_BODY_ALIASES.get(cell.lower()) if cell else None)
        unknown = (cells != "") & mapped.isna()
        if unknown.any():
            first = int(np.flatnonzero(unknown.to_numpy())[0])
            raise InputError(
                f"未知水体类型 / unknown water body {cells.iloc[first]!r} (river | lake)",
                row=int(lines[first]),
                column="water_body",
            )
        bodies = mapped.fillna(default_body).to_numpy(dtype=object)
    else:
        bodies = np.full(len(frame), default_body, dtype=object)

    if "time" in frame:
        _check_times(frame["time"], lines, window, now)

    def optional(name: str) -> pd.Series:
        if name in frame:
            return frame[name].where(frame[name] != "", None)
        return pd.Series([None] * len(frame), index=frame.index, dtype=object)

    return ClassifyInput(
        values=values,
        censored=censored,
        sections=optional("section"),
        times=optional("time"),
        water_bodies=bodies,
        lines=lines,
        has_time_column="time" in frame,
        ignored=ignored,
    )


def _check_times(
    cells: pd.Series, lines: np.ndarray, window: DateWindow, now: dt.datetime | None
) -> None:
    """Refuse the first ISO 8601 time outside ``window`` (other text is judged where it is read)."""
    for text, line in zip(cells, lines, strict=True):
        if not text:
            continue
        try:
            moment = dt.datetime.fromisoformat(str(text))
        except ValueError:
            continue
        reason = window.reason(moment, now=now)
        if reason:
            raise InputError(reason, row=int(line), column="time")


def _parse_times(data: ClassifyInput) -> pd.Series:
    """Parse ISO 8601 times to Beijing wall-clock times (no offset means Beijing time)."""
    parsed: list[dt.datetime] = []
    for text, line in zip(data.times, data.lines, strict=True):
        if text is None:
            raise InputError("缺少时间 / time is empty", row=int(line), column="time")
        try:
            moment = dt.datetime.fromisoformat(str(text))
        except ValueError:
            raise InputError(
                f"时间不是 ISO 8601 格式 / not an ISO 8601 time: {text!r}",
                row=int(line),
                column="time",
            ) from None
        if moment.tzinfo is not None:
            moment = moment.astimezone(BEIJING).replace(tzinfo=None)
        parsed.append(moment)
    return pd.Series(pd.to_datetime(parsed), index=data.values.index)


def classify_input(
    data: ClassifyInput,
    *,
    period: Period = "sample",
    target: WaterClass | None = None,
    min_daily_values: int = DEFAULT_MIN_DAILY_VALUES,
    min_day_fraction: Fraction | float | str = DEFAULT_MIN_DAY_FRACTION,
    standard: str = DEFAULT_STANDARD,
) -> list[dict[str, Any]]:
    """Classify every row (``sample``) or every section and period; returns plain records."""
    if period == "sample":
        values = substitute_censored(data.values, data.censored)
        bodies = data.water_bodies
        head: list[dict[str, Any]] = [
            {"section": s, "time": t} for s, t in zip(data.sections, data.times, strict=True)
        ]
        insufficient: list[list[str]] | None = None
    else:
        if not data.has_time_column:
            raise InputError(f"--period {period} 需要 time 列 / needs a time column")
        times = _parse_times(data)
        bodies_by_section = _section_water_bodies(data)
        sections = data.sections.fillna("")
        result = period_values(
            data.values,
            times,
            period=period,
            groups=sections,
            censored=data.censored,
            min_daily_values=min_daily_values,
            min_day_fraction=min_day_fraction,
        )
        order = {name: i for i, name in enumerate(dict.fromkeys(sections))}
        index = result.values.index
        position = np.lexsort(
            (
                index.get_level_values("period_start").to_numpy(),
                np.array([order[g] for g in index.get_level_values("group")]),
            )
        )
        values = result.values.iloc[position].reset_index(drop=True)
        groups = index.get_level_values("group")[position]
        starts = index.get_level_values("period_start")[position]
        bodies = np.array([bodies_by_section[g] for g in groups], dtype=object)
        head = [
            {"section": g or None, "period_start": s.date().isoformat()}
            for g, s in zip(groups, starts, strict=True)
        ]
        insufficient = list(result.insufficient().iloc[position])
    if len(values) == 0:
        return []
    classified = classify_frame(values, water_body=bodies, target=target, standard=standard)
    return classification_records(head, values, bodies, classified, insufficient)


def _section_water_bodies(data: ClassifyInput) -> dict[str, str]:
    bodies: dict[str, str] = {}
    for section, body, line in zip(
        data.sections.fillna(""), data.water_bodies, data.lines, strict=True
    ):
        if bodies.setdefault(section, body) != body:
            raise InputError(
                f"断面 {section!r} 的水体类型前后不一致 / section has two water bodies",
                row=int(line),
                column="water_body",
            )
    return bodies


def records_to_json(records: Sequence[dict[str, Any]]) -> str:
    """The records as a JSON list (UTF-8 text, Chinese kept as is)."""
    return json.dumps(list(records), ensure_ascii=False, indent=2)


FIELD_ORDER = ("section", "time", "period_start", "class_number", "class", "label",
               "indicators", "indicator_classes", "exceedance_vs_iii", "exceedance_vs_target",
               "main_pollutants", "tn_class_number", "tn_exceedance_vs_iii", "tli",
               "trophic_state", "insufficient")  # fmt: skip


def records_to_csv(records: Sequence[dict[str, Any]]) -> str:
    """The records as CSV: lists joined with ``;``, mappings spread over ``name.key`` columns.

    Columns follow :data:`FIELD_ORDER`, mapping keys the parameter order.
    """
    key_order = {key: i for i, key in enumerate(used_parameters())}
    present: dict[str, set[str]] = {}
    for record in records:
        for name, value in record.items():
            keys = present.setdefault(name, set())
            if isinstance(value, dict):
                keys.update(value)
    columns: list[str] = []
    for name in FIELD_ORDER:
        if name not in present:
            continue
        if present[name] or any(isinstance(r.get(name), dict) for r in records):
            ordered = sorted(present[name], key=lambda k: key_order.get(k, len(key_order)))
            columns.extend(f"{name}.{key}" for key in ordered)
        else:
            columns.append(name)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for record in records:
        row: list[Any] = []
        for column in columns:
            name, _, key = column.partition(".")
            value = record.get(name)
            if key:
                value = value.get(key) if isinstance(value, dict) else None
            elif isinstance(value, list):
                value = ";".join(str(v) for v in value)
            row.append("" if value is None else value)
        writer.writerow(row)
    return buffer.getvalue()
