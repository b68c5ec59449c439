"""``qingliu compensate``: read a month's compensation input CSV into measurements.

Columns: ``section, factor, date, value, kind, status`` and optionally ``note``. Every row is
checked; the first bad one stops the command with its file line and column named: a value outside
the factor's physical range (:func:`sections.plausibility.plausibility_reason`, the one table of
every door) or a date outside the accepted window (:class:`service.offline.dates.DateWindow`)
included.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import cast

from compensation.engine import KINDS, STATUSES, Kind, Measurement
from compensation.rules import FACTORS
from sections.dates import parse_month as _parse_month
from sections.detection import parse_censored, substitute_censored
from sections.plausibility import plausibility_reason
from sections.registry import Registry
from service.errors import InputError
from service.offline.dates import DEFAULT_WINDOW, DateWindow
from service.offline.files import csv_file_rows

__all__ = ["REQUIRED_COLUMNS", "parse_month", "read_measurements"]

REQUIRED_COLUMNS = ("section", "factor", "date", "value", "kind", "status")
OPTIONAL_COLUMNS = ("note",)


def parse_month(text: str) -> dt.date:
    """``YYYY-MM`` → the first day of that month (:func:`sections.dates.parse_month`).

    Raises
    ------
    InputError
        When the text is not a month.
    """
    try:
        return _parse_month(text)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def _value(cell: str, factor: str, line: int) -> tuple[Decimal | None, bool]:
    """The value that enters the month (half the limit for "<x", "xL") and whether it is "<DL"."""
    if cell == "":
        return None, False
    try:
        value, censored = parse_censored(cell)
    except ValueError:
        raise InputError(
            f"无法解析的数值 / not a number: {cell!r}", row=line, column="value"
        ) from None
    if value < 0:
        raise InputError(f"数值不能为负 / negative value: {cell!r}", row=line, column="value")
    impossible = plausibility_reason(factor, float(value))
    if impossible:
        raise InputError(impossible, row=line, column="value")
    return substitute_censored(value, censored), censored


def read_measurements(
    path: Path | str,
    *,
    registry: Registry,
    window: DateWindow = DEFAULT_WINDOW,
    now: dt.datetime | None = None,
) -> list[Measurement]:
    """Read and check a compensation input CSV.

    Parameters
    ----------
    window, now
        Accepted dates (:class:`~service.offline.dates.DateWindow`), relative to ``now``
        (default: the current time).

    Raises
    ------
    InputError
        A missing column, a malformed CSV row, or the first bad row: unknown section, factor,
        kind or status, a bad date or one outside ``window``, a bad, negative or physically
        impossible number, a normal row without a value.
    """
    header, data_rows = csv_file_rows(path)
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise InputError(f"缺少列 / missing column(s): {', '.join(missing)}")
    sections = {s.id for s in registry.sections}
    result: list[Measurement] = []
    for number, values in data_rows:
        if not any(v.strip() for v in values):
            continue
        if len(values) > len(header):
            raise InputError("字段多于表头 / more fields than the header", row=number)
        cells = dict(zip(header, [v.strip() for v in values] + [""] * len(header), strict=False))
        section = cells["section"]
        if section not in sections:
            raise InputError(
                f"未知断面 / unknown section {section!r}", row=number, column="section"
            )
        factor = cells["factor"]
        if factor not in FACTORS:
            raise InputError(
                f"未知因子 / unknown factor {factor!r} (valid: {', '.join(FACTORS)})",
                row=number,
                column="factor",
            )
        try:
            day = dt.date.fromisoformat(cells["date"])
        except ValueError:
            raise InputError(
                f"日期必须是 YYYY-MM-DD / date must be YYYY-MM-DD, got {cells['date']!r}",
                row=number,
                column="date",
            ) from None
        too_far = window.reason(day, now=now)
        if too_far:
            raise InputError(too_far, row=number, column="date")
        kind = cells["kind"]
        if kind not in KINDS:
            raise InputError(
                f"未知类型 / unknown kind {kind!r} (valid: {', '.join(KINDS)})",
                row=number,
                column="kind",
            )
        status = cells["status"] or "normal"
        if status not in STATUSES:
            raise InputError(
                f"未知状态 / unknown status {status!r} (valid: {', '.join(STATUSES)})",
                row=number,
                column="status",
            )
        value, censored = _value(cells["value"], factor, number)
        if value is None and status == "normal":
            raise InputError("正常状态的行必须有数值 / a normal row needs a value", row=number,
                             column="value")  # fmt: skip
        result.append(
            Measurement(
                section=section,
                factor=factor,
                date=day,
                value=value,
                kind=cast(Kind, kind),  # checked against KINDS above
                status=status,
                note=cells.get("note", ""),
                ref=f"{Path(path).name}:{number}",
                censored=censored,
            )
        )
    return result
