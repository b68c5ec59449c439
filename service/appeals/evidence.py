"""The observations an appealed line rests on, and the bureau's review of them for the appeal.

A line's references (:attr:`compensation.statement.DeductionLine.refs`, ``EventLine.refs``) name
laboratory results (``observation:ID``) and automatic daily values
(``daily:SECTION:YYYY-MM-DD:FACTOR(…)``: every automatic value of that section, factor and
Beijing day). While an appeal is accepted, the bureau may accept, reject or replace any of
them (:func:`service.review.review_and_recompute`); the review's note names the appeal and the
audit log gets an ``appeal.review`` entry beside the ``review.*`` one.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from sqlalchemy import ColumnElement, Engine, and_, false, func, or_, select

from sections.registry import Registry
from service.accounts.audit import record
from service.appeals.records import AppealRecord
from service.appeals.workflow import MAX_NOTE, appealed_line
from service.db.models import Observation, table_of
from service.errors import ConflictError, InputError
from service.review import review_and_recompute
from service.time import BEIJING

__all__ = ["EVIDENCE_LIMIT", "EvidenceRow", "observations_behind", "review_for_appeal"]

OBSERVATION = table_of(Observation)
EVIDENCE_LIMIT: Final = 500
"""At most this many observations are listed for one line."""

_DAILY = re.compile(r"^daily:([^:]+):(\d{4}-\d{2}-\d{2}):([^(]+)")
_MANUAL = re.compile(r"^observation:(\d+)$")


@dataclass(frozen=True)
class EvidenceRow:
    """One observation behind an appealed line."""

    id: int
    section_id: str | None
    parameter: str
    observed_at: dt.datetime
    value: float | None
    station_flag: str | None
    qc_flag: int | None
    censored: bool
    source: str
    sample_kind: str | None
    review_status: str | None
    review_note: str | None


def _conditions(refs: Iterable[str]) -> ColumnElement[bool]:
    ids: list[int] = []
    parts: list[ColumnElement[bool]] = []
    for ref in refs:
        if manual := _MANUAL.match(ref):
            ids.append(int(manual.group(1)))
        elif daily := _DAILY.match(ref):
            section, day, factor = daily.groups()
            start = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(0), BEIJING)
            parts.append(and_(
                OBSERVATION.c.section_id == section, OBSERVATION.c.parameter == factor.strip(),
                OBSERVATION.c.observed_at >= start.astimezone(dt.UTC),
                OBSERVATION.c.observed_at < (start + dt.timedelta(days=1)).astimezone(dt.UTC),
                OBSERVATION.c.sample_kind.is_(None),
            ))  # fmt: skip
    if ids:
        parts.append(OBSERVATION.c.id.in_(ids))
    return or_(false(), *parts)


def observations_behind(
    *, engine: Engine, refs: Iterable[str], limit: int = EVIDENCE_LIMIT
) -> tuple[list[EvidenceRow], int]:
    """The observations a line's references name (oldest first, at most ``limit``) and how
    many there are in all."""
    condition = _conditions(refs)
    columns = [OBSERVATION.c[n] for n in (
        "id", "section_id", "parameter", "observed_at", "value", "station_flag", "qc_flag",
        "censored", "source", "sample_kind", "review_status", "review_note",
    )]  # fmt: skip
    with engine.connect() as connection:
        rows = connection.execute(
            select(*columns).where(condition)
            .order_by(OBSERVATION.c.observed_at, OBSERVATION.c.parameter, OBSERVATION.c.id)
            .limit(limit + 1)
        ).all()  # fmt: skip
        total = len(rows)
        if total > limit:
            total = int(connection.execute(
                select(func.count()).select_from(OBSERVATION).where(condition)
            ).scalar_one())  # fmt: skip
    found = [
        EvidenceRow(
            id=int(r.id), section_id=r.section_id, parameter=r.parameter,
            observed_at=(r.observed_at if r.observed_at.tzinfo else
                         r.observed_at.replace(tzinfo=dt.UTC)),
            value=r.value, station_flag=r.station_flag, qc_flag=r.qc_flag,
            censored=bool(r.censored), source=r.source, sample_kind=r.sample_kind,
            review_status=r.review_status, review_note=r.review_note,
        )
        for r in rows[:limit]
    ]  # fmt: skip
    return found, total


def review_for_appeal(
    *,
    engine: Engine,
    registry: Registry,
    appeal: AppealRecord,
    observation_id: int,
    action: str,
    value: float | None = None,
    note: str = "",
    actor: str,
    address: str = "",
) -> None:
    """Review one observation behind an accepted appeal's line, and recompute its day.

    Raises
    ------
    ConflictError
        The appeal is not accepted.
    InputError
        The observation is not behind the appealed line, or the review itself is invalid
        (:func:`service.review.review_observation`).
    """
    if appeal.state != "accepted":
        raise ConflictError("申诉受理后方可复核数据 / accept the appeal before reviewing data")
    line = appealed_line(engine=engine, appeal=appeal)
    refs = line.refs if line is not None else ()
    with engine.connect() as connection:
        behind = connection.execute(
            select(OBSERVATION.c.id).where(
                OBSERVATION.c.id == observation_id, _conditions(refs)
            )
        ).first()  # fmt: skip
    if behind is None:
        raise InputError(
            f"观测值 {observation_id} 不属于申诉 {appeal.id} 所涉扣缴项 / the observation is not "
            "behind the appealed line"
        )
    text = note.strip()[:MAX_NOTE]
    review_and_recompute(
        engine=engine, registry=registry, observation_id=observation_id, action=action,
        value=value, note=f"申诉 {appeal.id}：{text}" if text else f"申诉 {appeal.id}",
        actor=actor,
    )  # fmt: skip
    record(engine, actor=actor, action="appeal.review", address=address,
           target=f"appeal:{appeal.id}",
           detail={"observation": observation_id, "action": action, "value": value,
                   "note": text})  # fmt: skip
