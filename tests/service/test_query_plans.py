"""The API's and the jobs' queries on a partitioned, analysed PostgreSQL table: the partitions of
the months asked are the only ones read, through an index, never a sequential scan.

The statements are the real ones: each is captured as the code under test sends it (the section
page's loader, ``/api/sections/{id}/observations``, the daily job's load of one day, a review's
look-up by id, a section's latest values) and explained with its parameters. The table holds a
year of hourly values of 12 sections (about 420,000 rows, 35,000 a month partition), enough that
the planner would scan a partition whole if no index served the query.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event

from sections.registry import Registry
from service.api.routes.monitoring_api import section_latest, section_observations
from service.db.engine import migrate
from service.db.partitions import ensure_partitions
from service.jobs.observations import load_observations
from service.review import review_observation

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]

PARAMETERS = ("codmn", "nh3n", "tp", "do")
SECTIONS = 12


@pytest.fixture
def big(engine: Engine, registry: Registry) -> Iterator[tuple[Engine, list[str]]]:
    """A year (2025) of hourly values of 12 sections and 4 parameters, analysed."""
    migrate(engine)
    ensure_partitions(engine=engine, today=dt.date(2025, 1, 1), ahead=11)
    sections = [s.id for s in registry.sections[:SECTIONS]]
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO observation (station, section_id, parameter, observed_at, value, unit, "
            "station_flag, processing_level, source, censored, received_at) "
            "SELECT 'ST' || s.n, s.id, p.key, t, random(), 'mg/L', 'N', 'raw', 'hj212', false, t "
            "FROM unnest(%s::text[]) WITH ORDINALITY AS s(id, n), unnest(%s::text[]) AS p(key), "
            "generate_series('2025-01-01 00:00+08'::timestamptz, '2025-12-31 23:00+08', "
            "'1 hour') AS t",
            (sections, list(PARAMETERS)),
        )  # fmt: skip
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE observation")
    yield engine, sections


def _captured(engine: Engine, call: Callable[[], object]) -> list[tuple[str, Any]]:
    """The SELECTs on ``observation`` that ``call`` sends, with their parameters."""
    seen: list[tuple[str, Any]] = []

    def listen(_c: object, _cur: object, statement: str, parameters: Any, *_a: object) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "observation" in statement:
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", listen)
    try:
        call()
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    assert seen, "no query on observation was captured"
    return seen


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _explain(engine: Engine, statement: str, parameters: Any) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        found = connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters)
        plan = found.scalar_one()
    document = plan if isinstance(plan, list) else json.loads(plan)
    return list(_nodes(document[0]["Plan"]))


def _read(nodes: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Relation (partition) → the kinds of scan reading it."""
    read: dict[str, set[str]] = {}
    for node in nodes:
        if "Relation Name" in node:
            read.setdefault(node["Relation Name"], set()).add(node["Node Type"])
    return read


def _check(engine: Engine, call: Callable[[], object], months: set[str] | None) -> None:
    """Every captured query reads only ``months`` (partition names; None: any) and none of the
    partitions holding data by a sequential scan."""
    for statement, parameters in _captured(engine, call):
        read = _read(_explain(engine, statement, parameters))
        observation = {r: k for r, k in read.items() if r.startswith("observation_")}
        assert observation, statement
        if months is not None:
            assert set(observation) <= months, (statement, sorted(observation))
        big = _big_partitions(engine)
        for relation, kinds in observation.items():  # an empty partition may be scanned
            assert relation not in big or "Seq Scan" not in kinds, (statement, relation, kinds)


def _big_partitions(engine: Engine) -> set[str]:
    """Partitions of observation holding data (per ANALYZE), as opposed to months ahead."""
    with engine.connect() as connection:
        found = connection.exec_driver_sql(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'observation'::regclass AND c.reltuples >= 1000"
        )
        return {str(name) for name in found.scalars()}


def test_a_section_page_reads_its_months_by_index(
    big: tuple[Engine, list[str]], registry: Registry
) -> None:
    engine, sections = big
    one = Registry(units=registry.units, sections=(registry.section(sections[3]),),
                   source=registry.source)  # fmt: skip
    first, last = dt.date(2025, 7, 3), dt.date(2025, 7, 30)
    _check(engine, lambda: load_observations(engine, one, first, last, kind="all"),
           {"observation_p202507"})  # fmt: skip


def test_the_observations_api_reads_the_months_asked_by_index(
    big: tuple[Engine, list[str]], registry: Registry
) -> None:
    engine, sections = big

    def call() -> object:
        return section_observations(
            sections[5], engine, registry, parameter="nh3n", start="2025-03-10T00:00:00+08:00",
            end="2025-04-05T00:00:00+08:00", page=1, page_size=500,
        )  # fmt: skip

    _check(engine, call, {"observation_p202503", "observation_p202504"})


def test_the_daily_job_loads_one_day_from_one_partition(
    big: tuple[Engine, list[str]], registry: Registry
) -> None:
    engine, _ = big
    day = dt.date(2025, 11, 1)  # 2025-10-31 16:00 UTC onwards: a Beijing month's first day
    _check(engine, lambda: load_observations(engine, registry, day, day), {"observation_p202511"})


def test_a_review_finds_its_value_by_id_through_the_key(big: tuple[Engine, list[str]]) -> None:
    engine, _ = big
    with engine.connect() as connection:
        wanted = connection.exec_driver_sql(
            "SELECT id FROM observation WHERE observed_at = '2025-08-08 08:00+08' LIMIT 1"
        ).scalar_one()
    _check(engine, lambda: review_observation(engine=engine, observation_id=int(wanted),
                                              action="accept", actor="test"), None)  # fmt: skip


def test_a_sections_latest_values_use_the_index(
    big: tuple[Engine, list[str]], registry: Registry
) -> None:
    engine, sections = big
    _check(engine, lambda: section_latest(sections[1], engine, registry), None)
