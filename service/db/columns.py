"""Column helpers shared by the table modules: CHECK lists, JSON and UTC timestamp columns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pydantic import JsonValue
from sqlalchemy import JSON, CheckConstraint, Column, DateTime, Table
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import SQLModel

__all__ = ["JSON_TYPE", "json_column", "one_of", "table_of", "utc_column", "utc_now"]


def one_of(
    column: str, values: Sequence[str], *, name: str, nullable: bool = False
) -> CheckConstraint:
    """A CHECK constraint: ``column`` takes one of ``values`` (or NULL when ``nullable``)."""
    listed = ", ".join(f"'{v}'" for v in values)
    condition = f"{column} IN ({listed})"
    if nullable:
        condition = f"{column} IS NULL OR {condition}"
    return CheckConstraint(condition, name=name)


JSON_TYPE = JSON[JsonValue]().with_variant(JSONB[JsonValue](), "postgresql")
"""The type of a JSON column: ``JSON``, ``JSONB`` on PostgreSQL."""


def json_column() -> Column[JsonValue]:
    """A non-null JSON column."""
    return Column(JSON_TYPE, nullable=False)


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a table model, for ``insert``/``select`` over many rows."""
    table: Table = model.__table__  # type: ignore[attr-defined]  # set by SQLModel, not declared
    return table


def utc_now() -> dt.datetime:
    """The current time in UTC, with its zone."""
    return dt.datetime.now(dt.UTC)


def utc_column(*, nullable: bool = False, index: bool = False) -> Column[dt.datetime]:
    """A timestamp column stored in UTC with its zone."""
    return Column(DateTime(timezone=True), nullable=nullable, index=index)
