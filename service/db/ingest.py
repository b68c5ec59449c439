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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
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
    "store_observations",
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
    if connection.dialect.name == "postgresql":
        # ids from the sequence first, then one binary COPY: no statement to parse per chunk
        drawn = connection.exec_driver_sql(
            "SELECT nextval(pg_get_serial_sequence('raw_message', 'id')) "
            "FROM generate_series(1, %s)", (len(rows),)
        )  # fmt: skip
        ids = sorted(int(i) for (i,) in drawn)
        bulk_insert(connection, "raw_message", ("id", *_RAW_COLUMNS),
                    [(i, *row) for i, row in zip(ids, rows, strict=True)])  # fmt: skip
        return ids
    ids = []
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
_DEFAULTS: dict[str, Any] = {"processing_level": "raw", "censored": False}
"""Values of the columns a row does not carry that are not None."""
_IN_KEY_ORDER = 'station COLLATE "C", parameter COLLATE "C", observed_at, source COLLATE "C"'
"""The order of Python's sort of keys (code points), so every writer inserts keys in one order."""
_RACED = {"23505", "40P01"}
"""SQLSTATEs of a direct COPY that met a key stored meanwhile: unique violation, deadlock."""
_Key = tuple[str, str, dt.datetime, str]
Row = Sequence[Any]
"""An observation row as a tuple, in the order of its columns (see :func:`store_observations`)."""


def _clean_batch(rows: Iterable[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    """Rows as tuples in the order of :data:`OBSERVATION_FIELDS`, completed and normalised."""
    batch: list[tuple[Any, ...]] = []
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
        batch.append(tuple(clean.values()))
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
        # bounds in UTC: SQLite compares the stored UTC text
        query = select(*(table.c[name] for name in _COMPARED)).where(
            table.c.station == station, table.c.source == source,
            table.c.observed_at >= _utc(min(times)), table.c.observed_at <= _utc(max(times)),
        )  # fmt: skip
        for found in connection.execute(query):
            key = (found.station, found.parameter, _utc(found.observed_at), found.source)
            if key in wanted:  # aware times: equal (and hash equal) in any zone
                existing[key] = found
    return existing


def _insert_staged(
    connection: Connection, names: Sequence[str], rows: Sequence[Row]
) -> set[_Key]:
    """PostgreSQL: COPY the rows into a temporary table, then ``INSERT … SELECT … ON CONFLICT
    DO NOTHING``; returns the keys actually inserted.

    A key that another transaction (another receiver) stored meanwhile is left alone, not an
    error: the caller treats it as an existing row. Rows go in key order, so two transactions
    inserting overlapping keys wait for each other in one order and never deadlock.
    """
    every = ", ".join((*OBSERVATION_FIELDS, "received_at"))
    # one staging table per database session, emptied at every commit (and here, for a second
    # batch in the same transaction)
    connection.exec_driver_sql(
        f"DO $$ BEGIN IF to_regclass('pg_temp.{_STAGE}') IS NULL THEN "
        f"CREATE TEMP TABLE {_STAGE} ON COMMIT DELETE ROWS AS "
        f"SELECT {every} FROM observation WITH NO DATA; "
        f"ELSE DELETE FROM {_STAGE}; END IF; END $$"
    )
    bulk_insert(connection, _STAGE, names, rows, types_of="observation")
    listed = ", ".join(names)
    key = ", ".join(_KEY)
    inserted = connection.exec_driver_sql(
        f"INSERT INTO observation ({listed}) SELECT {listed} FROM {_STAGE} "
        f"ORDER BY {_IN_KEY_ORDER} ON CONFLICT ({key}) DO NOTHING RETURNING {key}"
    )
    return {(r[0], r[1], _utc(r[2]), r[3]) for r in inserted}


def _insert_new(
    connection: Connection, names: Sequence[str], rows: Sequence[Row]
) -> set[_Key] | None:
    """PostgreSQL: insert rows (in key order); returns the keys inserted, or None for all.

    One binary COPY straight into ``observation`` inside a savepoint; when a key is stored
    already (or meanwhile by another writer), the savepoint is rolled back and the rows go
    through :func:`_insert_staged`, which leaves such keys alone.
    """
    try:
        with connection.begin_nested():
            bulk_insert(connection, "observation", names, rows)
    except Exception as exc:
        if getattr(exc, "sqlstate", None) not in _RACED:
            raise
        return _insert_staged(connection, names, rows)
    return None


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


def upsert_observations(
    connection: Connection, rows: Iterable[Mapping[str, Any]]
) -> UpsertCounts:
    """Insert new observations, leave identical ones, and update changed ones with history.

    Each row is a mapping with the keys of :data:`OBSERVATION_FIELDS` (``observed_at`` zone-
    aware); missing optional keys are None. Runs in the caller's transaction. See
    :func:`store_observations` for how several writers share a PostgreSQL database.
    """
    return store_observations(connection, OBSERVATION_FIELDS, _clean_batch(rows))


def store_observations(
    connection: Connection, columns: Sequence[str], rows: Iterable[Row]
) -> UpsertCounts:
    """:func:`upsert_observations` for rows that are tuples already, in the order of
    ``columns``: the path of the HJ 212 receiver, without a mapping per row.

    ``columns`` are names of :data:`OBSERVATION_FIELDS` and include the key (station,
    parameter, observed_at, source) and ``value``; a column not given is None, except
    ``processing_level`` ("raw") and ``censored`` (False). Rows are taken as they are:
    ``observed_at`` zone-aware, ``value`` a float or None (never NaN). A later row of a key in
    ``rows`` wins over an earlier one.

    New keys are inserted with the driver's bulk path (:func:`~service.db.bulk.bulk_insert`),
    in key order. SQLite (one writer at a time) looks the keys up first and inserts the new
    ones. PostgreSQL copies every row straight into ``observation`` (binary ``COPY``) inside a
    savepoint; a key stored before, or meanwhile by another writer (several receivers in
    separate processes may store the same keys at the same time), makes that ``COPY`` fail, and
    the rows then go through a staging table and ``INSERT … ON CONFLICT DO NOTHING``; a key not
    inserted is then treated as an existing row (unchanged, or changed with history), and
    changed rows are read again under a row lock before they are updated. Neither writer fails
    and no key is stored twice.
    """
    unknown = [name for name in columns if name not in OBSERVATION_FIELDS]
    if unknown or not {*_KEY, "value"} <= set(columns):
        raise ValueError(f"observation columns {list(columns)}: unknown {unknown}, or the key "
                         f"{_KEY} or value missing")  # fmt: skip
    counts = UpsertCounts()
    index = {name: i for i, name in enumerate(columns)}
    key_of = itemgetter(*(index[name] for name in _KEY))
    batch: dict[_Key, Row] = {key_of(row): row for row in rows}
    if not batch:
        return counts

    def column(row: Row, name: str) -> Any:
        at = index.get(name)
        return _DEFAULTS.get(name) if at is None else row[at]

    now = utc_now()
    absent = tuple(name for name in _DEFAULTS if name not in index)
    tail = (now, *(_DEFAULTS[name] for name in absent))
    names = (*columns, "received_at", *absent)
    if connection.dialect.name == "postgresql":
        # no look-up first: the COPY of every key fails on a key stored before or meanwhile,
        # and the staging path then inserts the others and leaves such keys to the comparison
        keys = sorted(batch)
        inserted = _insert_new(connection, names, [(*batch[key], *tail) for key in keys])
        counts.inserted += len(keys) if inserted is None else len(inserted)
        existing = {} if inserted is None else _existing(
            connection, [key for key in keys if key not in inserted]
        )
    else:
        existing = _existing(connection, batch)
        new_keys = sorted(key for key in batch if key not in existing)
        if new_keys:
            bulk_insert(connection, "observation", names,
                        [(*batch[key], *tail) for key in new_keys])  # fmt: skip
            counts.inserted += len(new_keys)
    value_at, flag_at = index["value"], index.get("station_flag")
    censored_at = index.get("censored")

    def unchanged(old: Any, row: Row) -> bool:
        return bool(
            _same(old.value, row[value_at])
            and old.station_flag == (None if flag_at is None else row[flag_at])
            and bool(old.censored) == (False if censored_at is None else bool(row[censored_at]))
        )

    changed = {key: old for key, old in existing.items() if not unchanged(old, batch[key])}
    counts.unchanged += len(existing) - len(changed)
    if connection.dialect.name == "postgresql" and changed:
        fresh = _locked(connection, [int(old.id) for old in changed.values()])
        for key, old in list(changed.items()):
            now_stored = fresh.get(int(old.id), old)
            if unchanged(now_stored, batch[key]):  # another writer stored this very value
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
        review = column(row, "review_status") or old.review_status
        updates.append(
            (*(column(row, name) for name in _UPDATED_COLUMNS[:5]), now,
             *(column(row, name) for name in _UPDATED_COLUMNS[6:9]), review, old.id,
             column(row, "observed_at"))
        )  # fmt: skip
        counts.changed += 1
        counts.changed_ids.append(int(old.id))
    if history:
        bulk_insert(connection, "observation_history", _HISTORY_COLUMNS, history)
        # the time with the id: PostgreSQL reads only the month's partition
        bulk_update(connection, "observation", _UPDATED_COLUMNS, updates,
                    keys=("id", "observed_at"))  # fmt: skip
    return counts
