"""The receiver's storage path: tuple rows, raw ids drawn before the COPY, re-delivery through the
direct COPY's fallback, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, select

from service.db.bulk import _pg_types
from service.db.ingest import (
    RawRecord,
    archive_raw,
    store_observations,
    upsert_observations,
)
from service.db.models import Observation, ObservationHistory, RawMessage, table_of
from service.feeds.hj212.rows import ROW_COLUMNS
from service.time import BEIJING

COLUMNS = (*ROW_COLUMNS, "raw_message_id")
WHEN = dt.datetime(2026, 3, 1, 8, tzinfo=BEIJING)


def _row(hour: int, value: float | None, parameter: str = "nh3n", raw_id: int | None = None
         ) -> tuple[object, ...]:  # fmt: skip
    return ("HS0001", parameter, WHEN + dt.timedelta(hours=hour), "hj212", "xiaofanqiao", value,
            "mg/L", "N", None, raw_id)  # fmt: skip


def _stored(db: Engine) -> dict[tuple[str, dt.datetime], tuple[float | None, int | None]]:
    table = table_of(Observation)
    with db.connect() as connection:
        rows = connection.execute(
            select(table.c.parameter, table.c.observed_at, table.c.value, table.c.raw_message_id)
        ).all()
    return {
        (r.parameter, r.observed_at.replace(tzinfo=dt.UTC) if r.observed_at.tzinfo is None
         else r.observed_at.astimezone(dt.UTC)): (r.value, r.raw_message_id)
        for r in rows
    }  # fmt: skip


def test_raw_ids_are_in_order_and_match_their_payloads(db: Engine) -> None:
    records = [RawRecord("hj212", f"frame {i}".encode(), "accepted", "peer", "", "HS0001")
               for i in range(25)]  # fmt: skip
    with db.begin() as connection:
        first = archive_raw(connection, records)
        second = archive_raw(connection, records[:3])
    assert first == sorted(first) and len(set(first)) == 25 and min(second) > max(first)
    raw = table_of(RawMessage)
    with db.connect() as connection:
        payloads = {r.id: r.payload for r in connection.execute(select(raw.c.id, raw.c.payload))}
    assert [payloads[i] for i in first] == [r.payload for r in records]


def test_tuple_rows_insert_then_redelivery_keeps_history(db: Engine) -> None:
    with db.begin() as connection:
        (raw,) = archive_raw(connection, [RawRecord("hj212", b"a", "accepted")])
        counts = store_observations(connection, COLUMNS, [
            _row(0, 0.5, raw_id=raw), _row(1, None, raw_id=raw), _row(0, 0.4, "tp", raw),
            _row(1, 0.6, raw_id=raw),  # a later row of a key wins
        ])  # fmt: skip
    assert (counts.inserted, counts.unchanged, counts.changed) == (3, 0, 0)
    utc = WHEN.astimezone(dt.UTC)
    assert _stored(db)[("nh3n", utc + dt.timedelta(hours=1))] == (0.6, raw)
    # the same keys again, one value changed, one key new: the direct COPY meets stored keys
    with db.begin() as connection:
        (again,) = archive_raw(connection, [RawRecord("hj212", b"b", "accepted")])
        counts = store_observations(connection, COLUMNS, [
            _row(0, 0.5, raw_id=again), _row(1, 0.7, raw_id=again), _row(2, 0.8, raw_id=again),
        ])  # fmt: skip
    assert (counts.inserted, counts.unchanged, counts.changed) == (1, 1, 1)
    stored = _stored(db)
    assert stored[("nh3n", utc)] == (0.5, raw)  # unchanged: the first delivery's provenance
    assert stored[("nh3n", utc + dt.timedelta(hours=1))] == (0.7, again)
    assert stored[("nh3n", utc + dt.timedelta(hours=2))] == (0.8, again)
    with db.connect() as connection:
        history = connection.execute(
            select(table_of(ObservationHistory).c.value)
        ).scalars().all()
    assert history == [0.6]


def test_mappings_and_tuples_store_the_same(db: Engine) -> None:
    names = ("station", "parameter", "observed_at", "source", "section_id", "value", "unit",
             "station_flag", "review_status")  # fmt: skip
    mapping = dict(zip(names, _row(0, 0.5)[:9], strict=True))
    with db.begin() as connection:
        upsert_observations(connection, [mapping])
        counts = store_observations(connection, COLUMNS, [_row(0, 0.5)])
    assert (counts.inserted, counts.unchanged) == (0, 1)
    table = table_of(Observation)
    with db.connect() as connection:
        level, censored = connection.execute(
            select(table.c.processing_level, table.c.censored)
        ).one()
    assert (level, bool(censored)) == ("raw", False)


def test_unknown_columns_are_refused(db: Engine) -> None:
    with pytest.raises(ValueError, match="unknown"), db.begin() as connection:
        store_observations(connection, ("station", "parameter", "observed_at", "source",
                                        "value", "colour"), [])  # fmt: skip


def test_binary_copy_types_come_from_the_models() -> None:
    assert _pg_types("observation", ("station", "observed_at", "value", "censored",
                                     "raw_message_id")) == (
        "text", "timestamptz", "float8", "bool", "int4")  # fmt: skip
    assert _pg_types("raw_message", ("id", "payload")) == ("int4", "bytea")
    assert _pg_types("qingliu_observation_stage", ("station",)) is None  # not a model: text
