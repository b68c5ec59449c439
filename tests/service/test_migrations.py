"""Alembic owns the schema: an empty SQLite or PostgreSQL database upgrades to the models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect
from sqlmodel import SQLModel

from service.db.engine import current_revision, make_engine, migrate, migrations_config
from service.settings import Settings


def _head() -> str:
    head = ScriptDirectory.from_config(migrations_config()).get_current_head()
    assert head is not None
    return head


PARTITIONED_LAYOUT = {("observation_history", "observation"), ("observation", "raw_message")}
"""What PostgreSQL legitimately lacks against the models: ``observation_history.observation_id``
cannot refer to a partitioned table's ``id`` alone (migration 0014), and
``observation.raw_message_id`` is checked once per statement (migration 0015); triggers keep
both rules instead of the foreign keys the models (and SQLite) have."""


def _partitions(connection: Connection) -> set[str]:
    """Tables that are partitions of another (on PostgreSQL): their parent is what is compared
    with the models, each partition carries the parent's columns and indexes."""
    if connection.dialect.name != "postgresql":
        return set()
    found = connection.exec_driver_sql("SELECT relname FROM pg_class WHERE relispartition")
    return {str(name) for name in found.scalars()}


def _differences(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        partitions = _partitions(connection)
        context = MigrationContext.configure(
            connection,
            opts={"compare_type": True,
                  "include_name": lambda name, kind, _: kind != "table" or name not in partitions},
        )  # fmt: skip
        differences = compare_metadata(context, SQLModel.metadata)
    if engine.dialect.name != "postgresql":
        return list(differences)
    return [
        d for d in differences
        if not (d[0] == "add_fk"
                and (d[1].parent.name, d[1].referred_table.name) in PARTITIONED_LAYOUT)
    ]  # fmt: skip


def test_empty_database_upgrades_to_head_and_matches_the_models(engine: Engine) -> None:
    assert current_revision(engine) is None
    migrate(engine)
    assert current_revision(engine) == _head()
    assert _differences(engine) == []
    tables = set(inspect(engine).get_table_names())
    assert {"observation", "section_status", "job_run", "alembic_version"} <= tables


def test_migrating_twice_changes_nothing(engine: Engine) -> None:
    migrate(engine)
    migrate(engine)
    assert current_revision(engine) == _head()


def test_migrations_downgrade_to_empty_and_back(engine: Engine) -> None:
    migrate(engine)
    migrate_down(engine)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate(engine)
    assert current_revision(engine) == _head()


def migrate_down(engine: Engine) -> None:
    config = migrations_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")


def test_sqlite_default_lives_in_the_data_directory(tmp_path: Path) -> None:
    data_dir = tmp_path / "nested" / "data"
    engine = make_engine(Settings(data_dir=data_dir))
    try:
        migrate(engine)
        assert engine.dialect.name == "sqlite"
    finally:
        engine.dispose()
    assert (data_dir / "qingliu.db").is_file()
