"""Manual laboratory results from CSV or XLSX files (``qingliu import manual``).

Columns (Chinese headers accepted): ``section`` (断面), ``sampled_at`` (采样时间), ``parameter``
(参数), ``value`` (数值), ``unit`` (单位), ``method`` (方法), ``lab`` (实验室), ``kind`` (类型:
routine 例行 / spot 抽测). Every row is checked and reported; a file is stored all or nothing unless
partial import is asked for; the file itself is archived first; importing the same file again
changes nothing.

The door refuses what cannot be data: a file larger than :data:`MAX_FILE_BYTES` (before reading
it), a value outside its parameter's physical range
(:func:`sections.plausibility.plausibility_reason`, the one table of every door), a sample time
outside the accepted window (:class:`service.offline.dates.DateWindow`: not before 2000-01-01,
not more than a day ahead).
Such a row is refused with its line and reason like any other bad row, and the raw file stays in
the archive for review.

A value below the detection limit is written ``<0.01`` (also ``＜0.01`` or ``0.01L``, read by
:func:`sections.detection.parse_censored`): it is stored as the limit itself, converted to the
canonical unit, with ``censored`` True; period means take half of it [V 环办〔2011〕22号].
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from sections.detection import parse_censored
from sections.errors import DataTableError
from sections.parameters import parameters
from sections.plausibility import plausibility_reason
from sections.registry import Registry
from sections.units import conversion_factor
from service.accounts.audit import record
from service.db.ingest import RawRecord, UpsertCounts, archive_raw, upsert_observations
from service.errors import InputError
from service.offline.dates import DEFAULT_WINDOW, DateWindow
from service.offline.files import csv_rows
from service.time import BEIJING

__all__ = [
    "COLUMN_ALIASES",
    "MAX_FILE_BYTES",
    "ImportReport",
    "RowResult",
    "check_rows",
    "import_manual",
    "read_table",
]

COLUMN_ALIASES = {
    "section": "section", "断面": "section", "断面id": "section",
    "sampled_at": "sampled_at", "采样时间": "sampled_at", "time": "sampled_at",
    "parameter": "parameter", "参数": "parameter", "项目": "parameter",
    "value": "value", "数值": "value", "监测值": "value",
    "unit": "unit", "单位": "unit",
    "method": "method", "方法": "method", "分析方法": "method",
    "lab": "lab", "实验室": "lab", "检测单位": "lab",
    "kind": "kind", "类型": "kind", "样品类型": "kind",
}  # fmt: skip
REQUIRED = ("section", "sampled_at", "parameter", "value", "kind")
KIND_ALIASES = {"routine": "routine", "例行": "routine", "例行监测": "routine",
                "spot": "spot", "抽测": "spot", "spot_check": "spot"}  # fmt: skip
SOURCE = "manual"
MAX_FILE_BYTES = 20 * 1024 * 1024
"""Largest laboratory file accepted [bytes]: a month of every section's routine and spot results
is a few hundred kilobytes; 20 MiB leaves room for years of them in one file [A]."""


@dataclass(frozen=True)
class RowResult:
    """The check of one row: a row to store, or the reason it is refused."""

    line: int
    ok: bool
    message: str = ""
    row: dict[str, Any] | None = None


@dataclass
class ImportReport:
    """What an import did."""

    file: str
    rows: list[RowResult] = field(default_factory=list)
    stored: bool = False
    counts: UpsertCounts = field(default_factory=UpsertCounts)
    raw_message_id: int | None = None

    @property
    def errors(self) -> list[RowResult]:
        """Refused rows."""
        return [r for r in self.rows if not r.ok]


def read_table(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and rows (with their line numbers) of a CSV or XLSX file, cells as text.

    Raises
    ------
    InputError
        When the file cannot be read: not UTF-8, a broken or truncated workbook, a CSV field
        longer than ``csv.field_size_limit()`` (the line is named), no rows at all.
    """
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        rows = _workbook_rows(path)
    else:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"无法读取输入文件 / cannot read input file: {exc}") from None
        rows = csv_rows(text)
    if not rows:
        raise InputError("文件为空 / the file is empty")
    header = [h.strip() for h in rows[0][1]]
    return header, [(n, cells) for n, cells in rows[1:] if any(c.strip() for c in cells)]


def _workbook_rows(path: Path) -> list[tuple[int, list[str]]]:
    """Rows of the first sheet; any failure of a broken or truncated workbook is an InputError."""
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise InputError(f"无法读取 Excel 文件 / cannot read workbook: {exc}") from None
    try:
        sheet = workbook.worksheets[0]
        return [
            (number, ["" if c is None else _cell_text(c) for c in values])
            for number, values in enumerate(sheet.iter_rows(values_only=True), start=1)
        ]
    except Exception as exc:  # read-only sheets are read lazily: zip, zlib and XML errors
        name = type(exc).__name__
        raise InputError(
            f"Excel 文件损坏或不完整 / the workbook is broken or truncated: {name}: {exc}"
        ) from None
    finally:
        workbook.close()


def _cell_text(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, float) and value.is_integer():
        return str(value)
    return str(value)


def _parse_time(text: str, window: DateWindow, now: dt.datetime | None) -> dt.datetime:
    """The sample time in UTC; naive text is Beijing time; outside ``window`` → ValueError."""
    try:
        moment = dt.datetime.fromisoformat(text.strip().replace("/", "-"))
    except ValueError:
        raise ValueError(f"sampled_at: 时间格式错误 / bad time {text!r}") from None
    reason = window.reason(moment, now=now)
    if reason:
        raise ValueError(f"sampled_at: {reason}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=BEIJING)
    return moment.astimezone(dt.UTC)


def check_rows(
    header: list[str],
    rows: list[tuple[int, list[str]]],
    *,
    registry: Registry,
    window: DateWindow = DEFAULT_WINDOW,
    now: dt.datetime | None = None,
) -> list[RowResult]:
    """Check every row; each result holds an observation row or the reason it is refused.

    A row is refused for an unknown section, parameter or kind, a value that is not a number,
    negative or outside the parameter's physical range (:mod:`sections.plausibility`), and a
    sample time that is not ISO 8601 or lies outside ``window`` (relative to ``now``, default
    the current time).
    """
    names = [COLUMN_ALIASES.get(h.strip().lower(), "") for h in header]
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise InputError(f"缺少列 / missing column(s): {', '.join(missing)}")
    sections = {s.id: s for s in registry.sections}
    by_name = {s.name: s for s in registry.sections}
    known = parameters()
    results: list[RowResult] = []
    for line, cells in rows:
        cells = cells + [""] * (len(names) - len(cells))
        row = {name: cells[i].strip() for i, name in enumerate(names) if name}
        try:
            observation = _observation(row, sections, by_name, known, window, now)
            results.append(RowResult(line, True, row=observation))
        except ValueError as exc:
            results.append(RowResult(line, False, str(exc)))
    return results


def _observation(
    row: dict[str, str],
    sections: dict[str, Any],
    by_name: dict[str, Any],
    known: Any,
    window: DateWindow,
    now: dt.datetime | None,
) -> dict[str, Any]:
    section = sections.get(row["section"]) or by_name.get(row["section"])
    if section is None:
        raise ValueError(f"section: 未知断面 / unknown section {row['section']!r}")
    key = row["parameter"].lower()
    if key not in known:
        raise ValueError(f"parameter: 未知参数 / unknown parameter {row['parameter']!r}")
    method = row.get("method", "")
    if key == "cod" and "高锰酸" in method:
        raise ValueError("method: 高锰酸盐法测定的是高锰酸盐指数，参数应为 codmn / use codmn")
    if key == "codmn" and "重铬酸" in method:
        raise ValueError("method: 重铬酸盐法测定的是化学需氧量，参数应为 cod / use cod")
    kind = KIND_ALIASES.get(row["kind"].lower())
    if kind is None:
        raise ValueError(f"kind: 类型必须是 routine/例行 或 spot/抽测, got {row['kind']!r}")
    observed = _parse_time(row["sampled_at"], window, now)
    text = row["value"]
    try:
        number, censored = parse_censored(text)
    except ValueError:
        raise ValueError(f"value: 无法解析的数值 / not a number {text!r}") from None
    if number < 0 or (censored and number == 0):
        raise ValueError(f"value: 数值无效 / invalid value {text!r}")
    try:
        factor = conversion_factor(row.get("unit", ""), key)
    except DataTableError as exc:
        raise ValueError(f"unit: {exc}") from None
    # below the detection limit: the limit itself is stored, marked; means take half of it
    value = float(number * Decimal(repr(factor)))
    impossible = plausibility_reason(key, value)
    if impossible:
        raise ValueError(f"value: {impossible}")
    return {
        "station": f"M:{section.id}"[:24],
        "section_id": section.id,
        "parameter": key,
        "observed_at": observed,
        "value": value,
        "unit": known[key].unit,
        "method": (method or None) and method[:64],
        "station_flag": "N",
        "source": SOURCE,
        "sample_kind": kind,
        "lab": (row.get("lab") or None) and row["lab"][:64],
        "processing_level": "checked",  # a laboratory result has passed the lab's checks
        "censored": censored,
    }


def import_manual(
    *,
    engine: Engine,
    registry: Registry,
    path: Path | str,
    partial: bool = False,
    max_bytes: int = MAX_FILE_BYTES,
    window: DateWindow = DEFAULT_WINDOW,
    now: dt.datetime | None = None,
    actor: str = "system",
) -> ImportReport:
    """Import a laboratory file: archive it, check every row, store all or (partial) the good.

    Parameters
    ----------
    max_bytes : int
        Larger files are refused before they are read or archived (:data:`MAX_FILE_BYTES`).
    window, now
        Accepted sample times (:class:`~service.offline.dates.DateWindow`), relative to ``now``
        (default: the current time).

    Raises
    ------
    InputError
        When the file is too large, cannot be read or lacks a required column (the file is
        still archived when it could be read and is within ``max_bytes``).
    """
    file = Path(path)
    try:
        size = file.stat().st_size
        if size > max_bytes:
            raise InputError(
                f"文件过大：{size:,} 字节，上限 {max_bytes:,} 字节，请拆分后导入 / the file has "
                f"{size:,} bytes, more than the limit of {max_bytes:,}: split it"
            )
        payload = file.read_bytes()
    except OSError as exc:
        raise InputError(f"无法读取输入文件 / cannot read input file: {exc}") from None
    report = ImportReport(file=file.name)
    try:
        header, rows = read_table(file)
        report.rows = check_rows(header, rows, registry=registry, window=window, now=now)
    except InputError as exc:
        with engine.begin() as connection:
            archive_raw(connection, [RawRecord(SOURCE, payload, "rejected", file.name, str(exc))])
        raise
    good = [r.row for r in report.rows if r.ok and r.row is not None]
    store = bool(good) and (partial or not report.errors)
    status = "accepted" if not report.errors else ("partial" if store else "rejected")
    reason = "; ".join(f"line {r.line}: {r.message}" for r in report.errors)[:10_000]
    with engine.begin() as connection:
        (raw_id,) = archive_raw(connection, [RawRecord(SOURCE, payload, status, file.name, reason)])
        report.raw_message_id = raw_id
        if store:
            for row in good:
                row["raw_message_id"] = raw_id
            report.counts = upsert_observations(connection, good)
            report.stored = True
        record(connection, actor=actor, action="import.manual", target=file.name,
               detail={"sha256": hashlib.sha256(payload).hexdigest(), "status": status,
                       "rows": len(report.rows), "refused": len(report.errors),
                       "inserted": report.counts.inserted, "raw_message_id": raw_id})  # fmt: skip
    return report
