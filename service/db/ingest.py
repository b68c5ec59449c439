"""Writing what the feeds receive: raw archive, station credentials, idempotent observations.

Every payload is archived before it is parsed; observations are unique per (station,
parameter, observed_at, source): a re-delivery of the same value changes nothing, a changed
value replaces the stored one and the old value goes to ``observation_history``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from service.db.bulk import bulk_insert, bulk_update, insert_returning_ids
from service.db.models import Observation, Station, table_of, utc_now

__all__ = [
    "OBSERVATION_FIELDS",
    "REDELIVERY",
    "RawRecord",
    "StationRecord",
    "UpsertCounts",
    "add_station",
    "archive_raw",
    "hash_password",
    "list_stations",
    "load_stations",
    "upsert_observations",
    "verify_password",
]

_PBKDF2_ITERATIONS = 20_000
_RAW_COLUMNS = ("source", "peer", "received_at", "payload", "sha256", "parse_status", "reason",
                "station")  # fmt: skip
_RAW_CHUNK = 1_000
_HISTORY_COLUMNS = ("observation_id", "value", "station_flag", "qc_flag", "censored",
                    "raw_message_id", "reason", "replaced_at")  # fmt: skip
_UPDATED_COLUMNS = ("value", "station_flag", "qc_flag", "qc_test", "raw_message_id",
                    "received_at", "unit", "method", "censored", "review_status")  # fmt: skip
REDELIVERY = "redelivery"
"""``observation_history.reason`` of a value replaced by a re-delivery of the same key."""

OBSERVATION_FIELDS = (
    "station", "section_id", "parameter", "observed_at", "value", "unit", "method",
    "station_flag", "qc_flag", "qc_test", "processing_level", "source", "sample_kind", "lab",
    "raw_message_id", "censored", "review_status",
)  # fmt: skip
"""Columns an observation row may carry (``received_at`` is set on insert).

``censored`` (bool, default False): the value is a detection limit, reported below it ("<DL",
see :mod:`sections.detection`). ``review_status``: None, or ``"pending"`` for a row that waits
for review (e.g. a value whose pollutant code is unknown)."""


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """PBKDF2-SHA256 of a station password, as ``pbkdf2$iterations$salt$hash`` (hex)."""
    salt = salt or os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, _PBKDF2_ITERATIONS)
    return f"pbkdf2${_PBKDF2_ITERATIONS}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a :func:`hash_password` string (constant time)."""
    try:
        _, iterations, salt, expected = stored.split("$")
        digest = hashlib.pbkdf2_hmac(
            "sha256", password.encode("utf-8"), bytes.fromhex(salt), int(iterations)
        )
    except ValueError:
        return False
    return hmac.compare_digest(digest.hex(), expected)


@dataclass(frozen=True)
class StationRecord:
    """A registered station."""

    mn: str
    section_id: str
    password_hash: str
    active: bool
    created_at: dt.datetime


def add_station(*, engine: Engine, mn: str, section_id: str, password: str) -> StationRecord:
    """Register a station, or replace its section and password when it exists."""
    now = utc_now()
    hashed = hash_password(password)
    table = table_of(Station)
    with engine.begin() as connection:
        exists = connection.execute(select(table.c.mn).where(table.c.mn == mn)).first()
        if exists:
            connection.execute(
                update(table)
                .where(table.c.mn == mn)
                .values(section_id=section_id, password_hash=hashed, active=True)
            )
        else:
            connection.execute(
                insert(table).values(
                    mn=mn, section_id=section_id, password_hash=hashed, active=True,
                    created_at=now,
                )
            )  # fmt: skip
    return StationRecord(mn, section_id, hashed, True, now)


def list_stations(*, engine: Engine, mns: Iterable[str] | None = None) -> list[StationRecord]:
    """Every registered station (or those of ``mns``), by MN."""
    table = table_of(Station)
    query = select(table).order_by(table.c.mn)
    if mns is not None:
        wanted = sorted(set(mns))
        if not wanted:
            return []
        query = query.where(table.c.mn.in_(wanted))
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [
        StationRecord(r.mn, r.section_id, r.password_hash, bool(r.active), _utc(r.created_at))
        for r in rows
    ]


def load_stations(*, engine: Engine, mns: Iterable[str] | None = None) -> dict[str, StationRecord]:
    """Active stations by MN (what a receiver checks frames against), all or those of ``mns``."""
    return {s.mn: s for s in list_stations(engine=engine, mns=mns) if s.active}


@dataclass(frozen=True)
class RawRecord:
    """A payload to archive."""

    source: str
    payload: bytes
    parse_status: str
    peer: str = ""
    reason: str = ""
    station: str | None = None
    received_at: dt.datetime | None = None


def archive_raw(connection: Connection, records: Sequence[RawRecord]) -> list[int]:
    """Archive payloads (in the caller's transaction); returns their ids, in order."""
    if not records:
        return []
    now = utc_now()
    rows = [
        (record.source, record.peer[:128], record.received_at or now, record.payload,
         hashlib.sha256(record.payload).hexdigest(), record.parse_status, record.reason,
         record.station)
        for record in records
    ]  # fmt: skip
    ids: list[int] = []
    for start in range(0, len(rows), _RAW_CHUNK):  # bounded statement size on PostgreSQL
        ids.extend(
            insert_returning_ids(
                connection, "raw_message", _RAW_COLUMNS, rows[start : start + _RAW_CHUNK]
            )
        )
    return ids


@dataclass
class UpsertCounts:
    """What an upsert did."""

    inserted: int = 0
    unchanged: int = 0
    changed: int = 0
    changed_ids: list[int] = field(default_factory=list)

    def __iadd__(self, other: UpsertCounts) -> UpsertCounts:
        self.inserted += other.inserted
        self.unchanged += other.unchanged
        self.changed += other.changed
        self.changed_ids.extend(other.changed_ids)
        return self


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return a == b or (math.isnan(a) and math.isnan(b))


_KEY = ("station", "parameter", "observed_at", "source")
_STAGE = "qingliu_observation_stage"
_COMPARED = ("id", "station", "parameter", "observed_at", "source", "value", "station_flag",
             "qc_flag", "raw_message_id", "censored", "review_status")  # fmt: skip
_Key = tuple[str, str, dt.datetime, str]


def _clean_batch(rows: Iterable[dict[str, Any]]) -> dict[_Key, dict[str, Any]]:
    """Rows by key, columns completed and normalised; the last delivery of a key wins."""
    batch: dict[_Key, dict[str, Any]] = {}
    for row in rows:
        # a row mixes str, float, bool and datetime columns: Any until rows are typed records
        clean: dict[str, Any] = {name: row.get(name) for name in OBSERVATION_FIELDS}
        clean["observed_at"] = _utc(clean["observed_at"])
        clean["processing_level"] = clean["processing_level"] or "raw"
        clean["censored"] = bool(clean["censored"])
        value = clean["value"]
        clean["value"] = (
            None
            if value is None or (isinstance(value, float) and math.isnan(value))
            else float(value)
        )
        key = (clean["station"], clean["parameter"], clean["observed_at"], clean["source"])
        batch[key] = clean
    return batch


def _existing(connection: Connection, keys: Iterable[_Key]) -> dict[_Key, Any]:
    """The stored rows of ``keys`` (the columns of :data:`_COMPARED`), by key."""
    wanted = set(keys)
    table = table_of(Observation)
    by_station: dict[tuple[str, str], list[dt.datetime]] = defaultdict(list)
    for station, _, when, source in wanted:
        by_station[(station, source)].append(when)
    existing: dict[_Key, Any] = {}
    for (station, source), times in by_station.items():
        query = select(*(table.c[name] for name in _COMPARED)).where(
            table.c.station == station, table.c.source == source,
            table.c.observed_at >= min(times), table.c.observed_at <= max(times),
        )  # fmt: skip
        for found in connection.execute(query):
            key = (found.station, found.parameter, _utc(found.observed_at), found.source)
            if key in wanted:
                existing[key] = found
    return existing


def _insert_staged(connection: Connection, new_rows: Sequence[dict[str, Any]]) -> set[_Key]:
    """PostgreSQL: COPY the rows into a temporary table, then ``INSERT … SELECT … ON CONFLICT
    DO NOTHING``; returns the keys actually inserted.

    A key that another transaction (another receiver) stored meanwhile is left alone, not an
    error: the caller treats it as an existing row. Rows go in key order, so two transactions
    inserting overlapping keys wait for each other in one order and never deadlock.
    """
    names = (*OBSERVATION_FIELDS, "received_at")
    listed = ", ".join(names)
    # one staging table per database session, emptied at every commit (and here, for a second
    # batch in the same transaction)
    connection.exec_driver_sql(
        f"DO $$ BEGIN IF to_regclass('pg_temp.{_STAGE}') IS NULL THEN "
        f"CREATE TEMP TABLE {_STAGE} ON COMMIT DELETE ROWS AS "
        f"SELECT {listed} FROM observation WITH NO DATA; "
        f"ELSE DELETE FROM {_STAGE}; END IF; END $$"
    )
    bulk_insert(connection, _STAGE, names, [tuple(r[n] for n in names) for r in new_rows])
    key = ", ".join(_KEY)
    inserted = connection.exec_driver_sql(
        f"INSERT INTO observation ({listed}) SELECT {listed} FROM {_STAGE} ORDER BY {key} "
        f"ON CONFLICT ({key}) DO NOTHING RETURNING {key}"
    )
    return {(r[0], r[1], _utc(r[2]), r[3]) for r in inserted}


def _locked(connection: Connection, ids: Sequence[int]) -> dict[int, Any]:
    """PostgreSQL: the rows of ``ids`` read again under a row lock, in id order (no deadlock
    between two writers), so a value changed meanwhile by another writer is compared, and
    kept in the history, as it now stands."""
    table = table_of(Observation)
    query = (
        select(*(table.c[name] for name in _COMPARED))
        .where(table.c.id.in_(sorted(ids)))
        .order_by(table.c.id)
        .with_for_update()
    )
    return {int(row.id): row for row in connection.execute(query)}


def _unchanged(old: Any, row: dict[str, Any]) -> bool:
    return bool(
        _same(old.value, row["value"])
        and old.station_flag == row["station_flag"]
        and bool(old.censored) == row["censored"]
    )


def upsert_observations(connection: Connection, rows: Iterable[dict[str, Any]]) -> UpsertCounts:
    """Insert new observations, leave identical ones, and update changed ones with history.

    Each row is a mapping with the keys of :data:`OBSERVATION_FIELDS` (``observed_at`` zone-
    aware); missing optional keys are None. Runs in the caller's transaction.

    On PostgreSQL several writers (receivers in separate processes) may store the same keys at
    the same time: new rows go through a staging table and ``INSERT … ON CONFLICT DO NOTHING``,
    a key stored meanwhile by another writer is then treated as an existing row (unchanged, or
    changed with history), and changed rows are read again under a row lock before they are
    updated. Neither writer fails and no key is stored twice. SQLite has one writer at a time.
    """
    counts = UpsertCounts()
    batch = _clean_batch(rows)
    if not batch:
        return counts
    now = utc_now()
    postgres = connection.dialect.name == "postgresql"
    existing = _existing(connection, batch)
    new_rows = [{**row, "received_at": now} for key, row in batch.items() if key not in existing]
    if new_rows and postgres:
        inserted = _insert_staged(connection, new_rows)
        counts.inserted += len(inserted)
        raced = [key for key in batch if key not in existing and key not in inserted]
        if raced:  # stored by another writer since we looked: existing rows after all
            existing.update(_existing(connection, raced))
    elif new_rows:
        names = (*OBSERVATION_FIELDS, "received_at")
        bulk_insert(
            connection, "observation", names, [tuple(r[n] for n in names) for r in new_rows]
        )
        counts.inserted += len(new_rows)
    changed = {key: old for key, old in existing.items() if not _unchanged(old, batch[key])}
    counts.unchanged += len(existing) - len(changed)
    if postgres and changed:
        fresh = _locked(connection, [int(old.id) for old in changed.values()])
        for key, old in list(changed.items()):
            now_stored = fresh.get(int(old.id), old)
            if _unchanged(now_stored, batch[key]):  # another writer stored this very value
                del changed[key]
                counts.unchanged += 1
            else:
                changed[key] = now_stored
    history: list[tuple[Any, ...]] = []
    updates: list[tuple[Any, ...]] = []
    for key, old in sorted(changed.items(), key=lambda item: int(item[1].id)):
        row = batch[key]
        history.append(
            (old.id, old.value, old.station_flag, old.qc_flag, bool(old.censored),
             old.raw_message_id, REDELIVERY, now)
        )  # fmt: skip
        # a changed value that waits for review still does; otherwise the reviewer's word stays
        review = row["review_status"] or old.review_status
        updates.append(
            (row["value"], row["station_flag"], row["qc_flag"], row["qc_test"],
             row["raw_message_id"], now, row["unit"], row["method"], row["censored"], review,
             old.id, row["observed_at"])
        )  # fmt: skip
        counts.changed += 1
        counts.changed_ids.append(int(old.id))
    if history:
        bulk_insert(connection, "observation_history", _HISTORY_COLUMNS, history)
        # the time with the id: PostgreSQL reads only the month's partition
        bulk_update(connection, "observation", _UPDATED_COLUMNS, updates,
                    keys=("id", "observed_at"))  # fmt: skip
    return counts
