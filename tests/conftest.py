"""Shared fixtures: databases (SQLite and a real PostgreSQL), the app, a live server, a browser."""

from __future__ import annotations

import itertools
import os
import secrets
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from sections.registry import Registry, load_registry
from service.app import create_app
from service.db.engine import make_engine, migrate
from service.db.ingest import upsert_observations
from service.settings import Settings
from tests.pg_server import PostgresServer, start_postgres
from tests.reference import SHARED_DATA, missing, require

_LOUD_SKIPS: list[str] = []


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (real and reference data): skipped without it, failing under CI=true."""
    return require(SHARED_DATA)


@pytest.fixture(scope="session")
def registry() -> Registry:
    """The bundled Hengshui registry."""
    return load_registry()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the whole run (started here, stopped at the end)."""
    server = start_postgres()
    if isinstance(server, str):
        _LOUD_SKIPS.append(server)
        missing(f"PostgreSQL unavailable: {server}")
    yield server
    server.stop()


_database_numbers = itertools.count(1)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or a fresh database on the PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'qingliu.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"qingliu_test_{os.getpid()}_{next(_database_numbers)}"
    admin = create_engine(server.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(server.url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Settings for a test: its own data directory and database."""
    return Settings(data_dir=tmp_path / "data", database_url=database_url, scheduler=False)


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    """An engine on the test's database (not yet migrated); disposed after the test."""
    made = make_engine(settings)
    yield made
    made.dispose()


@pytest.fixture
def db(engine: Engine) -> Engine:
    """The test's engine on a database migrated to the newest schema."""
    migrate(engine)
    return engine


def store_rows(engine: Engine, rows: list[dict[str, Any]]) -> None:
    """Upsert observation rows (dicts of ``observation`` columns) in one transaction."""
    with engine.begin() as connection:
        upsert_observations(connection, rows)


def bearer(engine: Engine, *, role: str = "admin", unit: str | None = None,
           scopes: tuple[str, ...] = ("read", "issue", "review")) -> dict[str, str]:  # fmt: skip
    """Headers of a user of ``role`` with an API token (made on the migrated database)."""
    from service.accounts import add_user, create_token

    name = f"test-{role}-{secrets.token_hex(4)}"
    add_user(engine=engine, username=name, role=role, unit_id=unit, password="test password 123")
    token = create_token(engine=engine, username=name, name="tests", scopes=scopes)
    return {"Authorization": f"Bearer {token.secret}"}


@pytest.fixture
def client(settings: Settings) -> Iterator[httpx.Client]:
    """An HTTP client, signed in as an administrator by token, talking to the app served by a
    real uvicorn server on loopback."""
    app = create_app(settings)
    headers = bearer(app.state.engine)
    try:
        with live_server_for(app) as base_url, httpx.Client(
            base_url=base_url, timeout=10, headers=headers
        ) as http:
            yield http
    finally:
        app.state.engine.dispose()


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the server runs in a thread
        pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class live_server_for:
    """Serve an ASGI app with uvicorn in a thread on a free loopback port."""

    def __init__(self, app: object) -> None:
        self.port = _free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = _Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def chromium_path() -> str | None:
    """Debian's Chromium, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """A real headless Chromium driven by Playwright (per module: Playwright's sync API holds
    an event loop in the thread while it runs, which other modules' asyncio code must not meet)."""
    executable = chromium_path()
    if executable is None:
        _LOUD_SKIPS.append("Chromium not installed: browser tests skipped")
        missing("Chromium not installed (Debian package chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for reason in dict.fromkeys(_LOUD_SKIPS):
        terminalreporter.write_sep("!", "SKIPPED TESTS: " + reason, red=True, bold=True)
