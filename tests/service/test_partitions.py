"""Monthly partitions of observations on PostgreSQL; one plain table on SQLite."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError

from service.db.engine import current_revision, migrate, migrations_config
from service.db.ingest import upsert_observations
from service.db.models import Observation, ObservationHistory, table_of
from service.db.partitions import (
    DEFAULT_PARTITION,
    ensure_partitions,
    is_partitioned,
    month_partitions,
    months_in_default,
    partition_name,
)
from service.review import review_observation
from service.time import BEIJING

postgres_only = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def _row(when: dt.datetime, value: float, parameter: str = "nh3n") -> dict[str, object]:
    return {"station": "HS0001", "section_id": "xiaofanqiao", "parameter": parameter,
            "observed_at": when, "value": value, "unit": "mg/L", "source": "hj212",
            "station_flag": "N"}  # fmt: skip


def _where(engine: Engine, observation_id: int) -> str:
    with engine.connect() as connection:
        return str(
            connection.exec_driver_sql(
                "SELECT tableoid::regclass::text FROM observation WHERE id = %s", (observation_id,)
            ).scalar_one()
        )


def _ids(engine: Engine) -> dict[dt.datetime, int]:
    table = table_of(Observation)
    with engine.connect() as connection:
        rows = connection.execute(select(table.c.observed_at, table.c.id)).all()
    return {r.observed_at.astimezone(dt.UTC): int(r.id) for r in rows}


def test_sqlite_keeps_one_table_and_the_job_does_nothing(db: Engine) -> None:
    postgres = db.dialect.name == "postgresql"
    summary = ensure_partitions(engine=db, today=dt.date(2026, 12, 10))
    assert summary.partitioned is postgres
    with db.connect() as connection:
        assert is_partitioned(connection) is postgres
        assert bool(month_partitions(connection)) is postgres
    if not postgres:
        assert summary.created == [] and "无需操作" in summary.describe()


@postgres_only
def test_months_ahead_are_made_and_rows_leave_the_default(db: Engine) -> None:
    july = dt.datetime(2031, 7, 15, 4, tzinfo=dt.UTC)
    boundary = dt.datetime(2031, 7, 31, 16, 30, tzinfo=dt.UTC)  # 2031-08-01 00:30 in Beijing
    with db.begin() as connection:
        upsert_observations(connection, [_row(july, 0.3), _row(boundary, 0.4)])
    ids = _ids(db)
    assert {_where(db, i) for i in ids.values()} == {DEFAULT_PARTITION}  # nothing refused
    with db.connect() as connection:
        assert months_in_default(connection) == [dt.date(2031, 7, 1), dt.date(2031, 8, 1)]

    summary = ensure_partitions(engine=db, today=dt.date(2031, 6, 20), ahead=3)
    assert summary.created == [dt.date(2031, m, 1) for m in (6, 7, 8, 9)]
    assert summary.moved == 2 and "2031-07" in summary.describe()
    assert _where(db, ids[july]) == partition_name(dt.date(2031, 7, 1))
    assert _where(db, ids[boundary]) == partition_name(dt.date(2031, 8, 1))  # a Beijing month
    with db.connect() as connection:
        assert months_in_default(connection) == []
        assert {dt.date(2031, m, 1) for m in (6, 7, 8, 9)} <= set(month_partitions(connection))
    # a re-delivery and a change still find the moved rows; history follows them
    with db.begin() as connection:
        counts = upsert_observations(connection, [_row(july, 0.3), _row(boundary, 0.5)])
    assert (counts.inserted, counts.unchanged, counts.changed) == (0, 1, 1)
    assert counts.changed_ids == [ids[boundary]]
    again = ensure_partitions(engine=db, today=dt.date(2031, 6, 20), ahead=3)
    assert again.created == [] and again.moved == 0


@postgres_only
def test_history_refers_to_observations_through_the_trigger(db: Engine) -> None:
    when = dt.datetime(2030, 3, 1, 2, tzinfo=dt.UTC)
    with db.begin() as connection:
        upsert_observations(connection, [_row(when, 0.3)])
    (observation_id,) = _ids(db).values()
    review_observation(engine=db, observation_id=observation_id, action="replace", value=0.2,
                       note="复核更正", actor="test")  # fmt: skip
    history = table_of(ObservationHistory)
    with db.connect() as connection:
        kept = connection.execute(select(history.c.observation_id, history.c.value)).all()
    assert kept == [(observation_id, 0.3)]
    with pytest.raises(IntegrityError, match="refers to no observation"), db.begin() as connection:
        connection.execute(
            sa.insert(history).values(observation_id=observation_id + 1000, value=1.0,
                                      censored=False, reason="review",
                                      replaced_at=dt.datetime.now(dt.UTC))
        )  # fmt: skip


@postgres_only
def test_migration_partitions_a_populated_table_and_back(engine: Engine) -> None:
    migrate(engine, "0013")
    months = [dt.datetime(2025, m, 10, tzinfo=BEIJING) for m in (1, 2, 7)]
    rows = [_row(when + dt.timedelta(hours=h), 0.1 + h / 100)
            for when in months for h in range(24)]  # fmt: skip
    with engine.begin() as connection:
        upsert_observations(connection, rows)
        (first_id,) = connection.execute(select(func.min(table_of(Observation).c.id))).one()
        connection.exec_driver_sql(
            "INSERT INTO observation_history (observation_id, value, censored, reason, "
            "replaced_at) VALUES (%s, 0.05, false, 'redelivery', now())", (first_id,)
        )  # fmt: skip
    before = _ids(engine)
    migrate(engine)
    with engine.connect() as connection:
        assert is_partitioned(connection)
        assert {dt.date(2025, m, 1) for m in (1, 2, 7)} <= set(month_partitions(connection))
        assert months_in_default(connection) == []
    assert _ids(engine) == before  # every row, same ids
    assert _where(engine, before[months[2].astimezone(dt.UTC)]) == "observation_p202507"
    with engine.begin() as connection:  # the sequence carries on after the copied ids
        counts = upsert_observations(
            connection, [_row(dt.datetime(2025, 7, 20, tzinfo=BEIJING), 1)]
        )
    assert counts.inserted == 1 and max(_ids(engine).values()) > max(before.values())

    config = migrations_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0013")
    assert current_revision(engine) == "0013"
    with engine.connect() as connection:
        assert not is_partitioned(connection)
        assert connection.exec_driver_sql("SELECT count(*) FROM observation_history").scalar() == 1
    assert len(_ids(engine)) == len(before) + 1
    with pytest.raises(IntegrityError), engine.begin() as connection:  # the foreign key is back
        connection.exec_driver_sql(
            "INSERT INTO observation_history (observation_id, value, censored, reason, "
            "replaced_at) VALUES (999999, 0.05, false, 'redelivery', now())"
        )


def test_an_observation_must_refer_to_a_stored_raw_message(db: Engine) -> None:
    """The rule of the foreign key ``observation.raw_message_id → raw_message.id`` holds on
    both databases: on PostgreSQL a statement-level check (migration 0015) keeps it for COPY,
    INSERT and UPDATE, and a referred raw message cannot be deleted or truncated away."""
    from service.db.ingest import RawRecord, archive_raw, store_observations

    when = dt.datetime(2025, 7, 1, 8, tzinfo=BEIJING)
    columns = ("station", "section_id", "parameter", "observed_at", "value", "unit", "source",
               "station_flag", "raw_message_id")  # fmt: skip
    with db.begin() as connection:
        raw_ids = archive_raw(connection, [RawRecord("hj212", b"##0101QN=1", "accepted", "peer"),
                                           RawRecord("hj212", b"##0101QN=2", "accepted", "peer")])
        stored = [("HS0001", "xiaofanqiao", p, when, 0.5, "mg/L", "hj212", "N", raw_ids[0])
                  for p in ("nh3n", "tp")]  # fmt: skip
        assert store_observations(connection, columns, stored).inserted == 2
    missing = max(raw_ids) + 1000
    dangling = ("HS0001", "xiaofanqiao", "codmn", when, 4.0, "mg/L", "hj212", "N", missing)
    import psycopg

    refused = (IntegrityError, psycopg.errors.IntegrityError)  # COPY speaks psycopg directly
    with pytest.raises(refused, match="raw"), db.begin() as connection:  # the bulk path
        store_observations(connection, columns, [dangling])
    with pytest.raises(IntegrityError), db.begin() as connection:
        connection.execute(sa.update(table_of(Observation)).values(raw_message_id=missing))
    with pytest.raises(IntegrityError), db.begin() as connection:
        connection.exec_driver_sql(f"DELETE FROM raw_message WHERE id = {raw_ids[0]}")
    if db.dialect.name == "postgresql":
        with pytest.raises(IntegrityError), db.begin() as connection:
            connection.exec_driver_sql("TRUNCATE raw_message CASCADE")
    with db.begin() as connection:  # a raw message nothing refers to may go
        connection.exec_driver_sql(f"DELETE FROM raw_message WHERE id = {raw_ids[1]}")
    with db.connect() as connection:
        count = select(func.count()).select_from(table_of(Observation))
        assert connection.execute(count).scalar() == 2
        kept = connection.exec_driver_sql("SELECT id FROM raw_message").scalars().all()
    assert kept == [raw_ids[0]]
