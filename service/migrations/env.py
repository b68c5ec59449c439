"""Alembic environment: migrations run on the connection passed in by ``service.db.engine``."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import service.db.models  # noqa: F401  (registers the tables on SQLModel.metadata)

target_metadata = SQLModel.metadata


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Autogenerate compares only the tables the models declare: the monthly partitions of
    ``observation`` on PostgreSQL (``observation_p202507``, ``observation_default``; made by
    :mod:`service.db.partitions`) are not tables of their own to drop."""
    return type_ != "table" or name in target_metadata.tables


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("Qingliu migrations run through service.db.engine.migrate(engine)")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
