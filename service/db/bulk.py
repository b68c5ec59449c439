"""Fast bulk writes through the driver: ``executemany`` on SQLite, ``COPY`` on PostgreSQL; and
inserts that hand back their new ids through SQLAlchemy's ``INSERT … RETURNING``.

Rows are tuples in the order of ``columns``. Zone-aware datetimes are written in UTC; on SQLite
in the text form SQLAlchemy itself uses, so the ORM reads them back unchanged. On PostgreSQL
the ``COPY`` is binary when every column's type is known from the models (psycopg then writes
each value with its C dumper, several times faster than the text form), else text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Connection,
    Date,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    insert,
)
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

import service.db.models  # noqa: F401  (registers the tables on SQLModel.metadata)

__all__ = ["bulk_insert", "bulk_update", "insert_returning_ids"]


def _sqlite_value(value: object) -> object:
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _sqlite_rows(rows: Sequence[Sequence[object]]) -> list[tuple[object, ...]]:
    """Rows with their date and time columns in SQLAlchemy's SQLite text form."""
    first = rows[0]
    temporal = [i for i, v in enumerate(first) if isinstance(v, dt.date)]
    if not temporal:
        return [tuple(row) for row in rows]
    cache: dict[object, object] = {}  # many rows share a time: format each once
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


def _pg_type(column_type: object) -> str | None:
    """The PostgreSQL type name psycopg dumps a column of ``column_type`` as, or None."""
    kinds: list[tuple[type, str]] = [
        (BigInteger, "int8"), (SmallInteger, "int2"), (Integer, "int4"), (Boolean, "bool"),
        (LargeBinary, "bytea"), (String, "text"),
    ]  # fmt: skip
    if isinstance(column_type, TypeDecorator):  # SQLModel's AutoString wraps String
        return _pg_type(column_type.impl_instance)
    if isinstance(column_type, Float):  # a precision may make it real (float4): text then
        return "float8" if column_type.precision is None else None
    if isinstance(column_type, DateTime):
        return "timestamptz" if column_type.timezone else "timestamp"
    if isinstance(column_type, Date):
        return "date"
    for kind, name in kinds:
        if isinstance(column_type, kind):
            return name
    return None


@cache
def _pg_types(table: str, columns: tuple[str, ...]) -> tuple[str, ...] | None:
    """The binary ``COPY`` types of ``columns`` of a model table, or None (text ``COPY``)."""
    target = SQLModel.metadata.tables.get(table)
    if target is None:
        return None
    types = [_pg_type(target.c[name].type) if name in target.c else None for name in columns]
    return None if None in types else tuple(t for t in types if t is not None)


def bulk_insert(
    connection: Connection,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    types_of: str | None = None,
) -> None:
    """Insert ``rows`` into ``table`` in one driver call.

    ``types_of``: the model table whose column types ``columns`` have (for a table that is not
    a model, such as a temporary staging table); default ``table``.
    """
    if not rows:
        return
    names = ", ".join(columns)
    if connection.dialect.name == "postgresql":
        types = _pg_types(types_of or table, tuple(columns))
        # Any: psycopg's cursor and its COPY are not part of the DB-API types SQLAlchemy declares
        cursor: Any = connection.connection.cursor()
        binary = " (FORMAT BINARY)" if types else ""
        with cursor.copy(f"COPY {table} ({names}) FROM STDIN{binary}") as copy:
            if types:
                copy.set_types(types)
            for row in rows:
                copy.write_row(row)
        return
    if connection.dialect.name == "sqlite":
        rows = _sqlite_rows(rows)
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    marks = ", ".join(mark for _ in columns)
    connection.exec_driver_sql(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(rows))


def bulk_update(
    connection: Connection,
    table: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    keys: Sequence[str] = ("id",),
) -> None:
    """Update rows in one driver call; each row is the new values of ``columns``, then the
    values of ``keys`` that find it (by id; on a partitioned table also its partition key, so
    only that partition is read)."""
    if not rows:
        return
    if connection.dialect.name == "sqlite":
        rows = _sqlite_rows(rows)
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    assignments = ", ".join(f"{c} = {mark}" for c in columns)
    where = " AND ".join(f"{k} = {mark}" for k in keys)
    connection.exec_driver_sql(f"UPDATE {table} SET {assignments} WHERE {where}", list(rows))


def insert_returning_ids(
    connection: Connection, table: str, columns: Sequence[str], rows: Sequence[Sequence[object]]
) -> list[int]:
    """Insert rows and return their new ids, in the order of ``rows``.

    One ``INSERT … RETURNING id`` with ``sort_by_parameter_order``: SQLAlchemy batches the rows
    ("insertmanyvalues") and matches each returned id to its row, on SQLite (≥ 3.35) and
    PostgreSQL alike, whatever ids the database hands out.
    """
    if not rows:
        return []
    target = SQLModel.metadata.tables[table]
    statement = insert(target).returning(target.c.id, sort_by_parameter_order=True)
    parameters = [dict(zip(columns, row, strict=True)) for row in rows]
    result = connection.execute(statement, parameters)
    return [int(i) for i in result.scalars().all()]
