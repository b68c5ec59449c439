"""Reading input files at the doors: CSV rows with their file lines, errors as InputError.

``csv`` refuses a field longer than ``csv.field_size_limit()`` (128 KiB) and an unclosed quote
with its own ``csv.Error``; :func:`csv_rows` turns that into an
:class:`~service.errors.InputError` naming the line where the bad row begins, so a command
prints one line instead of a traceback. Used by the manual import and the offline commands.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from service.errors import InputError

__all__ = ["csv_file_rows", "csv_rows"]


def csv_file_rows(path: Path | str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The stripped header and the numbered data rows of a CSV file (UTF-8, BOM allowed).

    Raises
    ------
    InputError
        When the file cannot be read or decoded, is empty, or has a malformed row.
    """
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"无法读取输入文件 / cannot read input file: {exc}") from None
    numbered = csv_rows(text)
    if not numbered:
        raise InputError("输入文件为空 / the input file is empty")
    return [cell.strip() for cell in numbered[0][1]], numbered[1:]


def csv_rows(text: str) -> list[tuple[int, list[str]]]:
    """Rows of CSV text, each with the file line it begins on (a quoted field may span lines).

    Raises
    ------
    InputError
        For a malformed row (a field too long, an unclosed quote), naming its first line.

    Examples
    --------
    >>> csv_rows('a,b\\n"x\\ny",2\\n3,4\\n')
    [(1, ['a', 'b']), (2, ['x\\ny', '2']), (4, ['3', '4'])]
    """
    reader = csv.reader(io.StringIO(text))
    rows: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for cells in reader:
            rows.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise InputError(
            f"CSV 格式错误（字段过长或引号不配对）/ malformed CSV (a field too long or an "
            f"unclosed quote): {exc}",
            row=start,
        ) from None
    return rows
