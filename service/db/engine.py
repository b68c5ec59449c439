"""Engine and migrations: ``make_engine(settings)`` and ``migrate(engine)``.

Nothing is built at import time; the app and the CLI make their engine from explicit settings.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from service.errors import DatabaseError
from service.settings import Settings

__all__ = ["MIGRATION_LOCK", "current_revision", "make_engine", "migrate", "migrations_config"]


def make_engine(settings: Settings) -> Engine:
    """Create the engine for the configured database; creates the data directory for SQLite."""
    url = settings.effective_database_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            json_serializer=_json_text,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, json_serializer=_json_text)


def _json_text(value: object) -> str:
    """JSON columns keep Chinese text readable (not ``\\u`` escapes)."""
    return json.dumps(value, ensure_ascii=False)


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def migrations_config() -> Config:
    """The Alembic configuration of Qingliu's migrations (shipped inside ``service``)."""
    location = Path(str(resources.files("service").joinpath("migrations")))
    config = Config()
    config.set_main_option("script_location", str(location))
    return config


MIGRATION_LOCK = 7_212_2017
"""The PostgreSQL advisory lock key that serialises migrations (any constant of our own)."""


@contextmanager
def _sqlite_migration_lock(engine: Engine) -> Iterator[None]:
    """An exclusive lock on ``<database file>.migrate.lock`` while migrating (no file for an
    in-memory database)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate.lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database to ``revision`` (default: the newest schema).

    Processes that start together (web workers, a receiver, a job) migrate one after another:
    PostgreSQL holds an advisory lock for the migrating transaction, SQLite a lock file next to
    the database; the later ones then find the schema current and do nothing.

    Raises
    ------
    DatabaseError
        When the database cannot be reached or a migration fails.
    """
    config = migrations_config()
    try:
        with _sqlite_migration_lock(engine), engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    except OperationalError as exc:
        raise DatabaseError(
            f"无法连接或迁移数据库 / cannot reach or migrate the database "
            f"{engine.url.render_as_string(hide_password=True)}: {exc.orig}"
        ) from exc
    except SQLAlchemyError as exc:
        raise DatabaseError(f"数据库迁移失败 / migration failed: {exc}") from exc


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at, or None for an empty database."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        row = connection.exec_driver_sql("SELECT version_num FROM alembic_version").first()
        return None if row is None else str(row[0])
