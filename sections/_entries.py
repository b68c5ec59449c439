"""Reading the tables of a data file the bureau edits: arrays of tables, labels, allowed keys.

Shared by the section registry and the river-chief registry; each passes its own
:class:`~sections.errors.EntryError` subclass so that the message names its file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sections.errors import EntryError

__all__ = ["check_keys", "entries", "label"]


def entries(
    value: Any, table: str, *, error: type[EntryError], required: bool = True
) -> list[dict[str, Any]]:
    """``value`` as the array of tables ``[[table]]``; empty refused when ``required``."""
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise error(f"必须是 [[{table}]] 表数组 / must be an array of tables", entry=table)
    if required and not value:
        raise error("至少需要一个条目 / needs at least one entry", entry=table)
    return value


def label(table: str, index: int, raw: Mapping[str, Any]) -> str:
    """How an entry is named in errors: ``table[index] (id)``."""
    ident = raw.get("id")
    return f"{table}[{index}] ({ident})" if isinstance(ident, str) else f"{table}[{index}]"


def check_keys(
    raw: Mapping[str, Any],
    allowed: set[str],
    *,
    entry: str,
    required: set[str],
    error: type[EntryError],
) -> None:
    """Refuse a key not in ``allowed`` and a missing ``required`` one, naming the field."""
    for key in raw:
        if key not in allowed:
            raise error(
                f"未知字段 / unknown field (allowed: {', '.join(sorted(allowed))})",
                entry=entry,
                field=key,
            )
    for key in sorted(required):
        if key not in raw:
            raise error("缺少必填字段 / required field is missing", entry=entry, field=key)
