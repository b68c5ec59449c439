"""A month's compensation measurements from the database.

- routine and spot-check results: manual laboratory observations (``sample_kind``);
- automatic daily values: daily means of the valid automatic-station values (the daily job's
  rule: station flag normal, QC passed or not yet checked), at least the validity threshold of
  values a day, from the
  days of the month and the ones before it that an event run may start on;
- month statuses (断流, 结冰 …) from ``section_status``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
from sqlalchemy import Engine, select

from compensation.engine import Measurement
from compensation.rules import FACTORS, RuleSet
from sections.periods import DEFAULT_MIN_DAILY_VALUES
from sections.registry import Registry
from service.db.models import Observation, SectionStatus
from service.db.queries import read_frame
from service.jobs.daily import exclusion_reason, valid_period_values
from service.time import BEIJING

__all__ = ["measurements_from_db"]


def _month_bounds(month: dt.date, days_before: int) -> tuple[dt.datetime, dt.datetime]:
    first = month.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    start = dt.datetime.combine(first - dt.timedelta(days=days_before), dt.time(), BEIJING)
    return start.astimezone(dt.UTC), dt.datetime.combine(following, dt.time(), BEIJING).astimezone(
        dt.UTC
    )


def measurements_from_db(
    *,
    engine: Engine,
    registry: Registry,
    month: dt.date,
    rule_set: RuleSet,
    min_daily_values: int = DEFAULT_MIN_DAILY_VALUES,
) -> list[Measurement]:
    """Everything the engine needs for ``month``, read from the database."""
    first = month.replace(day=1)
    days_before = max(rule_set.events.min_days - 1, 0) if rule_set.events.enabled else 0
    start, end = _month_bounds(first, days_before)
    sections = {s.id for s in registry.sections}
    columns = (
        Observation.id, Observation.section_id, Observation.parameter, Observation.observed_at,
        Observation.value, Observation.station_flag, Observation.qc_flag, Observation.source,
        Observation.sample_kind,
    )  # fmt: skip
    query = select(*columns).where(
        Observation.parameter.in_(FACTORS),  # type: ignore[attr-defined]
        Observation.observed_at >= start,
        Observation.observed_at < end,
        Observation.section_id.in_(sections),  # type: ignore[union-attr]
    )
    with engine.connect() as connection:
        frame = read_frame(connection, query)
        status_rows = connection.execute(
            select(
                SectionStatus.id, SectionStatus.section_id, SectionStatus.status,
                SectionStatus.note,
            ).where(SectionStatus.month == first)
        ).all()  # fmt: skip
    result: list[Measurement] = []
    if len(frame):
        frame["observed_at"] = pd.to_datetime(frame["observed_at"], utc=True).dt.tz_convert(BEIJING)
        frame["date"] = frame["observed_at"].dt.date
        manual = frame[frame["sample_kind"].isin(["routine", "spot"]) & frame["value"].notna()]
        manual = manual[manual["date"].map(lambda d: d.replace(day=1) == first)]
        for row in manual.itertuples(index=False):
            result.append(
                Measurement(
                    section=row.section_id, factor=row.parameter, date=row.date,
                    value=Decimal(repr(float(row.value))), kind=row.sample_kind,
                    ref=f"observation:{row.id}",
                )
            )  # fmt: skip
        automatic = frame[frame["sample_kind"].isna()]
        valid = [  # the daily job's rule: station flag N, QC flag 1 or not yet checked
            exclusion_reason(f, q, None) == ""
            for f, q in zip(automatic["station_flag"], automatic["qc_flag"], strict=True)
        ]
        result.extend(_daily(automatic[valid], min_daily_values))
    for status in status_rows:
        for factor in FACTORS:
            result.append(
                Measurement(
                    section=status.section_id, factor=factor, date=first, value=None,
                    kind="auto_daily", status=status.status, note=status.note,
                    ref=f"section_status:{status.id}",
                )
            )  # fmt: skip
    return result


def _daily(frame: pd.DataFrame, min_daily_values: int) -> list[Measurement]:
    if not len(frame):
        return []
    daily = valid_period_values(frame, period="day", min_daily_values=min_daily_values)
    if daily is None:
        return []
    result: list[Measurement] = []
    stacked = daily.values.stack().dropna()
    counts = daily.counts.stack()
    for (section, day, factor), value in stacked.items():
        result.append(
            Measurement(
                section=str(section), factor=str(factor), date=day.date(),
                value=Decimal(repr(float(value))), kind="auto_daily",
                ref=f"daily:{section}:{day.date().isoformat()}:{factor}"
                f"({int(counts[(section, day, factor)])} 个有效值)",
            )
        )  # fmt: skip
    return result
