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


def list_stations(
    *, engine: Engine, mns: Iterable[str] | None = None
) -> list[StationRecord]:
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


def upsert_observations(connection: Connection, rows: Iterable[dict[str, Any]]) -> UpsertCounts:
    """Insert new observations, leave identical ones, and update changed ones with history.

    Each row is a mapping with the keys of :data:`OBSERVATION_FIELDS` (``observed_at`` zone-
    aware); missing optional keys are None. Runs in the caller's transaction.
    """
    counts = UpsertCounts()
    batch: dict[tuple[str, str, dt.datetime, str], dict[str, Any]] = {}
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
        batch[key] = clean  # the last delivery in a batch wins
    if not batch:
        return counts
    table = table_of(Observation)
    by_station: dict[tuple[str, str], list[dt.datetime]] = defaultdict(list)
    for station, _, when, source in batch:
        by_station[(station, source)].append(when)
    existing: dict[tuple[str, str, dt.datetime, str], Any] = {}
    for (station, source), times in by_station.items():
        query = select(
            table.c.id, table.c.station, table.c.parameter, table.c.observed_at, table.c.source,
            table.c.value, table.c.station_flag, table.c.qc_flag, table.c.raw_message_id,
            table.c.censored, table.c.review_status,
        ).where(
            table.c.station == station, table.c.source == source,
            table.c.observed_at >= min(times), table.c.observed_at <= max(times),
        )  # fmt: skip
        for found in connection.execute(query):
            key = (found.station, found.parameter, _utc(found.observed_at), found.source)
            if key in batch:
                existing[key] = found
    now = utc_now()
    new_rows = []
    history: list[tuple[Any, ...]] = []
    updates: list[tuple[Any, ...]] = []
    for key, row in batch.items():
        old = existing.get(key)
        if old is None:
            new_rows.append({**row, "received_at": now})
            continue
        if (
            _same(old.value, row["value"])
            and old.station_flag == row["station_flag"]
            and bool(old.censored) == row["censored"]
        ):
            counts.unchanged += 1
            continue
        history.append(
            (old.id, old.value, old.station_flag, old.qc_flag, bool(old.censored),
             old.raw_message_id, REDELIVERY, now)
        )  # fmt: skip
        # a changed value that waits for review still does; otherwise the reviewer's word stays
        review = row["review_status"] or old.review_status
        updates.append(
            (row["value"], row["station_flag"], row["qc_flag"], row["qc_test"],
             row["raw_message_id"], now, row["unit"], row["method"], row["censored"], review,
             old.id)
        )  # fmt: skip
        counts.changed += 1
        counts.changed_ids.append(int(old.id))
    if history:
        bulk_insert(connection, "observation_history", _HISTORY_COLUMNS, history)
        bulk_update(connection, "observation", _UPDATED_COLUMNS, updates)
    if new_rows:
        names = (*OBSERVATION_FIELDS, "received_at")
        bulk_insert(
            connection, "observation", names, [tuple(r[n] for n in names) for r in new_rows]
        )
        counts.inserted += len(new_rows)
    return counts
