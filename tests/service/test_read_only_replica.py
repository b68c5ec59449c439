"""A public, read-only instance on a PostgreSQL standby: every monitoring page and API answer
works on a database that refuses writes (``default_transaction_read_only``, as a hot standby
does), so a read replica can serve the public view while the primary takes the receivers, the
jobs and the bureau's work (docs/scaling.md)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from sections.registry import Registry
from service.app import create_app
from service.db.engine import make_engine, migrate
from service.demo.run import seed_demo
from service.jobs.daily import run_daily
from service.jobs.monthly import run_monthly
from service.settings import Settings
from tests.conftest import live_server_for
from tests.pg_server import PostgresServer

pytestmark = pytest.mark.postgres

SECTIONS = ("hutuo-anping", "hengshuihu-dahuxin")
MONTH = dt.date(2025, 3, 1)
PAGES = (
    "/healthz", "/", "/daily?date=2025-03-15", "/sections/hutuo-anping", "/bulletins",
    "/bulletins/2025-03", "/api/sections", "/api/sections/hutuo-anping",
    "/api/sections/hutuo-anping/observations?from=2025-03-01&to=2025-03-31",
    "/api/sections/hutuo-anping/daily", "/api/classifications?date=2025-03-15",
    "/api/summary?month=2025-03", "/api/bulletins/2025-03.html", "/static/site.css",
)  # fmt: skip


@pytest.fixture
def standby_url(
    postgres_server: PostgresServer, registry: Registry, tmp_path: Path
) -> Iterator[str]:
    """A database with a rolled-up month, then made to refuse every write."""
    name = f"qingliu_standby_{os.getpid()}"
    admin = create_engine(postgres_server.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(postgres_server.url).set(database=name).render_as_string(hide_password=False)
    small = Registry(units=registry.units, sections=tuple(registry.section(s) for s in SECTIONS))
    engine = make_engine(Settings(data_dir=tmp_path / "primary", database_url=url))
    try:
        migrate(engine)
        seed_demo(engine=engine, registry=small, year=2025, show_progress=False,
                  data_dir=tmp_path / "primary")  # fmt: skip
        run_daily(engine=engine, registry=small, first=MONTH, last=dt.date(2025, 3, 31))
        run_monthly(engine=engine, registry=small, month=MONTH)
    finally:
        engine.dispose()
    with admin.connect() as connection:
        connection.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_the_public_view_runs_on_a_database_that_refuses_writes(
    standby_url: str, registry: Registry, tmp_path: Path
) -> None:
    probe = create_engine(standby_url)
    with probe.connect() as connection, pytest.raises(Exception, match="read-only"):
        connection.execute(text("CREATE TABLE refused (x int)"))
    probe.dispose()
    settings = Settings(data_dir=tmp_path / "replica", database_url=standby_url, scheduler=False,
                        public_view=True)  # fmt: skip
    small = Registry(units=registry.units, sections=tuple(registry.section(s) for s in SECTIONS))
    app = create_app(settings, registry=small)
    answers: dict[str, int] = {}
    try:
        with live_server_for(app) as url, httpx.Client(base_url=url, timeout=60) as http:
            for page in PAGES:
                answer = http.get(page, follow_redirects=True)
                answers[page] = answer.status_code
            bulletin = http.get("/bulletins/2025-03").text
    finally:
        app.state.engine.dispose()
    assert answers == dict.fromkeys(PAGES, 200)
    assert "地表水环境质量月报" in bulletin
