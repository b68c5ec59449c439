"""The review queue: values the validity rule sends to a person, and what the reviewer decides.

Suspect (QARTOD 3) values, over-range (T) readings and values with an unknown pollutant code wait
here with ``review_status = "pending"`` (the QC job and the receiver put them there, by
:mod:`sections.validity`). A reviewer **accepts** a value (it counts as its flags say and leaves
the queue), **rejects** it (it never counts again) or **replaces** it with a checked value (the
old value, flags and marker go to ``observation_history`` with reason ``review``). The day's
classes must then be recomputed (``qingliu run daily --date D``; the CLI does it).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, insert, select, update

from sections.parameters import parameters
from sections.registry import Registry
from sections.validity import OVER_RANGE_FLAG, ReviewStatus, value_validity
from service.accounts.audit import record
from service.db.models import Observation, ObservationHistory, table_of, utc_now
from service.errors import InputError, NotFoundError
from service.time import BEIJING

__all__ = ["ReviewItem", "pending_reviews", "review_and_recompute", "review_observation"]

OBSERVATION = table_of(Observation)
HISTORY = table_of(ObservationHistory)

_ACTIONS = {"accept": ReviewStatus.ACCEPTED, "reject": ReviewStatus.REJECTED,
            "replace": ReviewStatus.REPLACED}  # fmt: skip


@dataclass(frozen=True)
class ReviewItem:
    """One value waiting for review, with why it waits."""

    id: int
    section_id: str | None
    station: str
    parameter: str
    observed_at: dt.datetime
    value: float | None
    station_flag: str | None
    qc_flag: int | None
    qc_test: str | None
    why: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, times in Beijing time with offset."""
        return {
            "id": self.id, "section_id": self.section_id, "station": self.station,
            "parameter": self.parameter,
            "observed_at": self.observed_at.astimezone(BEIJING).isoformat(),
            "value": self.value, "station_flag": self.station_flag, "qc_flag": self.qc_flag,
            "qc_test": self.qc_test, "why": self.why,
        }  # fmt: skip


def _why(parameter: str, station_flag: str | None, qc_flag: int | None, qc_test: str | None) -> str:
    if parameter not in parameters():
        return f"未知监测因子编码 / unknown code {parameter}"
    verdict = value_validity(station_flag, qc_flag, qc_test=qc_test)
    counted = "暂计入" if verdict.counts else "未计入"
    if verdict.lower_bound or station_flag == OVER_RANGE_FLAG:
        return f"超测上限，按下限值{counted}"
    if verdict.suspect:
        return f"质控可疑（{qc_test or '?'}），{counted}"
    return f"站点标记 {station_flag or '?'}，{counted}"


def pending_reviews(
    *, engine: Engine, section_id: str | None = None, limit: int = 100, offset: int = 0
) -> tuple[list[ReviewItem], int]:
    """A page of the values waiting for review (oldest first) and how many wait in all."""
    where = [OBSERVATION.c.review_status == ReviewStatus.PENDING.value]
    if section_id is not None:
        where.append(OBSERVATION.c.section_id == section_id)
    columns = [OBSERVATION.c[name] for name in (
        "id", "section_id", "station", "parameter", "observed_at", "value", "station_flag",
        "qc_flag", "qc_test",
    )]  # fmt: skip
    with engine.connect() as connection:
        total = connection.execute(select(func.count()).select_from(OBSERVATION).where(*where))
        count = int(total.scalar_one())
        rows = connection.execute(
            select(*columns).where(*where)
            .order_by(OBSERVATION.c.observed_at, OBSERVATION.c.id).limit(limit).offset(offset)
        ).all()  # fmt: skip
    items = [
        ReviewItem(
            id=int(r.id), section_id=r.section_id, station=r.station, parameter=r.parameter,
            observed_at=_aware(r.observed_at), value=r.value, station_flag=r.station_flag,
            qc_flag=r.qc_flag, qc_test=r.qc_test,
            why=_why(r.parameter, r.station_flag, r.qc_flag, r.qc_test),
        )
        for r in rows
    ]  # fmt: skip
    return items, count


def review_observation(
    *,
    engine: Engine,
    observation_id: int,
    action: str,
    value: float | None = None,
    note: str = "",
    actor: str = "system",
) -> tuple[str | None, dt.date]:
    """Record a reviewer's decision; returns the section and Beijing day to recompute.

    Raises
    ------
    InputError
        An unknown action, a replacement without a finite value ≥ 0, a value on an accept or
        reject, or a rejection without a note.
    NotFoundError
        No observation has that id.
    """
    status = _ACTIONS.get(action)
    if status is None:
        raise InputError(f"未知复核操作 / unknown action {action!r}: accept, reject, replace")
    if status is ReviewStatus.REPLACED:
        if value is None or not math.isfinite(value) or value < 0:
            raise InputError("更正须给出有效数值 / replace needs a finite value ≥ 0")
    elif value is not None:
        raise InputError("只有更正（replace）可以给出数值 / only replace takes a value")
    if status is ReviewStatus.REJECTED and not note.strip():
        raise InputError("否决须说明理由 / a rejection needs a note")
    now = utc_now()
    with engine.begin() as connection:
        row = connection.execute(
            select(OBSERVATION.c.id, OBSERVATION.c.section_id, OBSERVATION.c.observed_at,
                   OBSERVATION.c.value, OBSERVATION.c.station_flag, OBSERVATION.c.qc_flag,
                   OBSERVATION.c.censored, OBSERVATION.c.raw_message_id)
            .where(OBSERVATION.c.id == observation_id)
        ).first()  # fmt: skip
        if row is None:
            raise NotFoundError(f"没有该观测值 / no observation {observation_id}")
        changes: dict[str, Any] = {
            "review_status": status.value, "review_note": note.strip()[:256] or None,
            "reviewed_at": now, "processing_level": "reviewed",
        }  # fmt: skip
        if status is ReviewStatus.REPLACED:
            connection.execute(
                insert(HISTORY).values(
                    observation_id=row.id, value=row.value, station_flag=row.station_flag,
                    qc_flag=row.qc_flag, censored=bool(row.censored),
                    raw_message_id=row.raw_message_id, reason="review", replaced_at=now,
                )
            )  # fmt: skip
            assert value is not None  # checked above for a replacement
            changes.update(value=float(value), censored=False)
        connection.execute(  # the time as well: one partition on PostgreSQL
            update(OBSERVATION)
            .where(OBSERVATION.c.id == observation_id,
                   OBSERVATION.c.observed_at == row.observed_at)
            .values(**changes)
        )  # fmt: skip
        record(connection, actor=actor, action=f"review.{action}", target=str(observation_id),
               detail={"old": row.value, "new": value, "note": note.strip()[:256]})  # fmt: skip
    return row.section_id, _aware(row.observed_at).astimezone(BEIJING).date()


def _aware(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def review_and_recompute(
    *,
    engine: Engine,
    registry: Registry,
    observation_id: int,
    action: str,
    value: float | None = None,
    note: str = "",
    actor: str = "system",
) -> tuple[str | None, dt.date]:
    """:func:`review_observation`, then the daily classification of the day it belongs to
    (what every door — the command, the data-quality page — does after a decision).

    Raises as :func:`review_observation` does.
    """
    from service.jobs.daily import run_daily

    section_id, day = review_observation(
        engine=engine, observation_id=observation_id, action=action, value=value, note=note,
        actor=actor,
    )  # fmt: skip
    if section_id is not None:
        run_daily(engine=engine, registry=registry, first=day)
    return section_id, day
