"""``qingliu compensate``: read a month's compensation input CSV into measurements.

Columns: ``section, factor, date, value, kind, status`` and optionally ``note``. Every row is
checked; the first bad one stops the command with its file line and column named.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path
from typing import cast

from compensation.engine import KINDS, STATUSES, Kind, Measurement
from compensation.rules import FACTORS
from sections.dates import parse_month as _parse_month
from sections.detection import parse_censored, substitute_censored
from sections.registry import Registry
from service.errors import InputError

__all__ = ["REQUIRED_COLUMNS", "parse_month", "read_measurements"]

REQUIRED_COLUMNS = ("section", "factor", "date", "value", "kind", "status")
MAX_VALUE = Decimal(1_000_000)  # mg/L: far beyond any concentration; larger is a typing error
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


def _value(cell: str, line: int) -> tuple[Decimal | None, bool]:
    """The value that enters the month (half the limit for "<x", "xL") and whether it is "<DL"."""
    if cell == "":
        return None, False
    try:
        value, censored = parse_censored(cell)
    except ValueError:
        raise InputError(
            f"无法解析的数值 / not a number: {cell!r}", row=line, column="value"
        ) from None
    if value < 0 or value > MAX_VALUE:
        raise InputError(
            f"数值无效 / invalid value: {cell!r} (0 – {MAX_VALUE})", row=line, column="value"
        )
    return substitute_censored(value, censored), censored


def read_measurements(path: Path | str, *, registry: Registry) -> list[Measurement]:
    """Read and check a compensation input CSV.

    Raises
    ------
    InputError
        A missing column, or the first bad row: unknown section, factor, kind or status, a bad
        date or number, a normal row without a value.
    """
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"无法读取输入文件 / cannot read input file: {exc}") from None
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise InputError(f"缺少列 / missing column(s): {', '.join(missing)}")
    reader.fieldnames = header
    sections = {s.id for s in registry.sections}
    result: list[Measurement] = []
    for row in reader:
        number = reader.line_num
        cells = {k: (v or "").strip() for k, v in row.items() if k is not None}
        if not any(cells.values()):
            continue
        if None in row:
            raise InputError("字段多于表头 / more fields than the header", row=number)
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
        value, censored = _value(cells["value"], number)
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
