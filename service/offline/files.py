"""Reading input files at the doors: CSV rows with their file lines, errors as InputError.

``csv`` refuses a field longer than ``csv.field_size_limit()`` (128 KiB) and an unclosed quote
with its own ``csv.Error``; :func:`csv_rows` turns that into an
:class:`~service.errors.InputError` naming the line where the bad row begins, so a command
prints one line instead of a traceback. Used by the manual import and the offline commands.
"""

from __future__ import annotations

import csv
import io

from service.errors import InputError

__all__ = ["csv_rows"]


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
