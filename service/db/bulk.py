"""Fast bulk inserts through the driver: ``executemany`` on SQLite, ``COPY`` on PostgreSQL.

Rows are tuples in the order of ``columns``. Zone-aware datetimes are written in UTC; on SQLite
in the text form SQLAlchemy itself uses, so the ORM reads them back unchanged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

__all__ = ["bulk_insert", "bulk_update", "insert_returning_ids"]


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _sqlite_rows(rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """Rows with their date and time columns in SQLAlchemy's SQLite text form."""
    first = rows[0]
    temporal = [i for i, v in enumerate(first) if isinstance(v, dt.date)]
    if not temporal:
        return [tuple(row) for row in rows]
    cache: dict[Any, Any] = {}  # many rows share a time: format each once
    prepared = []
    for row in rows:
        values = list(row)
        for i in temporal:
            value = values[i]
            if value is not None:
                text = cache.get(value)
                if text is None:
                    text = cache[value] = _sqlite_value(value)
                values[i] = text
        prepared.append(tuple(values))
    return prepared


def bulk_insert(
    connection: Connection, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert ``rows`` into ``table`` in one driver call."""
    if not rows:
        return
    names = ", ".join(columns)
    if connection.dialect.name == "postgresql":
        cursor: Any = connection.connection.cursor()
        with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    if connection.dialect.name == "sqlite":
        rows = _sqlite_rows(rows)
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    marks = ", ".join(mark for _ in columns)
    connection.exec_driver_sql(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(rows))


def bulk_update(
    connection: Connection, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Update rows by id in one driver call; each row is the new values of ``columns``, then id."""
    if not rows:
        return
    if connection.dialect.name == "sqlite":
        rows = _sqlite_rows(rows)
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    assignments = ", ".join(f"{c} = {mark}" for c in columns)
    connection.exec_driver_sql(f"UPDATE {table} SET {assignments} WHERE id = {mark}", list(rows))


def insert_returning_ids(
    connection: Connection, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> list[int]:
    """Insert rows and return their new ids, in order.

    PostgreSQL: one ``INSERT … RETURNING`` over all rows. SQLite, a single writer: the first row
    alone (taking the write lock of the transaction), the rest in one ``executemany``; their
    rowids follow the first one's without a gap while the lock is held.
    """
    if not rows:
        return []
    names = ", ".join(columns)
    if connection.dialect.name == "postgresql":
        cursor: Any = connection.connection.cursor()
        values = ", ".join("(" + ", ".join("%s" for _ in columns) + ")" for _ in rows)
        flat = [v for row in rows for v in row]
        cursor.execute(f"INSERT INTO {table} ({names}) VALUES {values} RETURNING id", flat)
        return [int(r[0]) for r in cursor.fetchall()]
    prepared = _sqlite_rows(rows)
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    statement = f"INSERT INTO {table} ({names}) VALUES ({', '.join(mark for _ in columns)})"
    first = connection.exec_driver_sql(statement, prepared[0]).lastrowid
    if first is None:
        raise RuntimeError("the driver did not report the inserted row id")
    if len(prepared) > 1:
        connection.exec_driver_sql(statement, prepared[1:])
    return list(range(int(first), int(first) + len(prepared)))
