"""Reads behind the data-quality page (``/quality``): the stations' newest data, a window of
automatic values with their flags, and the raw messages the doors refused.

Keyword-only functions that read and return; nothing here decides validity
(:mod:`sections.validity` does, in the caller) and nothing reads a raw payload's bytes (only its
length).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

import pandas as pd
from sqlalchemy import Engine, func, select

from service.db import queries
from service.db.models import Observation, RawMessage, table_of

__all__ = [
    "REFUSED_STATUSES",
    "RefusedMessage",
    "StationLast",
    "last_data_by_station",
    "refused_counts",
    "refused_messages",
    "window_observations",
]

OBSERVATION = table_of(Observation)
RAW = table_of(RawMessage)

REFUSED_STATUSES: Final = ("rejected", "unknown_station", "expired")
"""``raw_message.parse_status`` values of messages whose values were not stored."""

WINDOW_COLUMNS: Final = (
    "station", "section_id", "parameter", "observed_at", "value", "station_flag", "qc_flag",
    "qc_test", "review_status", "censored",
)  # fmt: skip
"""The columns :func:`window_observations` returns."""


@dataclass(frozen=True)
class StationLast:
    """A station's newest automatic value."""

    station: str
    section_id: str | None
    observed_at: dt.datetime
    """Its time (UTC, aware)."""


@dataclass(frozen=True)
class RefusedMessage:
    """A refused raw message, without its bytes."""

    id: int
    source: str
    peer: str
    received_at: dt.datetime
    """UTC, aware."""
    parse_status: str
    reason: str
    station: str | None
    size: int
    """Length of the archived payload [bytes]."""


def _aware(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def last_data_by_station(*, engine: Engine) -> dict[str, StationLast]:
    """Every station seen in automatic observations → its newest value's time and section."""
    newest = func.max(OBSERVATION.c.observed_at).label("newest")
    with engine.connect() as connection:
        rows = connection.execute(
            select(OBSERVATION.c.station, OBSERVATION.c.section_id, newest)
            .where(OBSERVATION.c.sample_kind.is_(None))
            .group_by(OBSERVATION.c.station, OBSERVATION.c.section_id)
        ).all()  # fmt: skip
    found: dict[str, StationLast] = {}
    for row in rows:
        at = _aware(row.newest)
        known = found.get(row.station)
        if known is None or at > known.observed_at:
            found[str(row.station)] = StationLast(str(row.station), row.section_id, at)
    return found


def window_observations(*, engine: Engine, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    """Automatic values observed in [start, end): the columns of :data:`WINDOW_COLUMNS`,
    ``observed_at`` as UTC timestamps."""
    query = select(*(OBSERVATION.c[name] for name in WINDOW_COLUMNS)).where(
        OBSERVATION.c.observed_at >= start,
        OBSERVATION.c.observed_at < end,
        OBSERVATION.c.sample_kind.is_(None),
    )
    with engine.connect() as connection:
        frame = queries.read_frame(connection, query)
    if frame.empty:
        return pd.DataFrame(columns=list(WINDOW_COLUMNS))
    frame["observed_at"] = pd.to_datetime(frame["observed_at"], utc=True)
    frame["censored"] = frame["censored"].fillna(False).astype(bool)
    return frame


def refused_messages(
    *, engine: Engine, since: dt.datetime, limit: int = 50
) -> list[RefusedMessage]:
    """The newest refused raw messages received since ``since``, newest first (no payload)."""
    size = func.length(RAW.c.payload).label("size")
    with engine.connect() as connection:
        rows = connection.execute(
            select(RAW.c.id, RAW.c.source, RAW.c.peer, RAW.c.received_at, RAW.c.parse_status,
                   RAW.c.reason, RAW.c.station, size)
            .where(RAW.c.parse_status.in_(REFUSED_STATUSES), RAW.c.received_at >= since)
            .order_by(RAW.c.received_at.desc(), RAW.c.id.desc())
            .limit(limit)
        ).all()  # fmt: skip
    return [
        RefusedMessage(int(r.id), str(r.source), str(r.peer or ""), _aware(r.received_at),
                       str(r.parse_status), str(r.reason or ""), r.station, int(r.size or 0))
        for r in rows
    ]  # fmt: skip


def refused_counts(*, engine: Engine, since: dt.datetime) -> list[tuple[str, str, int]]:
    """(parse status, reason, how many) of the refused raw messages received since ``since``."""
    count = func.count().label("n")
    with engine.connect() as connection:
        rows = connection.execute(
            select(RAW.c.parse_status, RAW.c.reason, count)
            .where(RAW.c.parse_status.in_(REFUSED_STATUSES), RAW.c.received_at >= since)
            .group_by(RAW.c.parse_status, RAW.c.reason)
        ).all()  # fmt: skip
    return [(str(r.parse_status), str(r.reason or ""), int(r.n)) for r in rows]
