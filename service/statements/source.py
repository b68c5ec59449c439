"""A month's compensation measurements from the database.

- routine and spot-check results: manual laboratory observations (``sample_kind``), "<DL"
  values at half their limit (:mod:`sections.detection`), marked as such;
- automatic daily values: daily means of the automatic-station values that count under the one
  validity rule (:mod:`sections.validity`: suspect values count until reviewed, over-range
  readings as lower bounds), at least the validity threshold of values a day, from the days of
  the month and the ones before it that an event run may start on; each carries how many suspect
  values it rests on and whether it is a lower bound;
- month statuses (断流, 结冰 …) from ``section_status``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import cast

import pandas as pd
from sqlalchemy import Engine, select

from compensation.engine import Measurement
from compensation.rules import FACTORS, RuleSet
from sections.dates import month_last_day
from sections.detection import substitute_censored
from sections.periods import DEFAULT_MIN_DAILY_VALUES
from sections.registry import Registry
from service.db.models import SectionStatus, table_of
from service.jobs.observations import load_observations, valid_period_values

__all__ = ["measurements_from_db"]

SECTION_STATUS = table_of(SectionStatus)


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
    frame = load_observations(
        engine, registry, first - dt.timedelta(days=days_before), month_last_day(first),
        kind="all", keys=tuple(FACTORS),
    )  # fmt: skip
    with engine.connect() as connection:
        status_rows = connection.execute(
            select(
                SECTION_STATUS.c.id, SECTION_STATUS.c.section_id, SECTION_STATUS.c.status,
                SECTION_STATUS.c.note,
            ).where(SECTION_STATUS.c.month == first)
        ).all()  # fmt: skip
    result: list[Measurement] = []
    if len(frame):
        counted = frame[frame["counts"]]
        manual = counted[counted["sample_kind"].isin(["routine", "spot"])]
        manual = manual[manual["day"].map(lambda d: d.replace(day=1) == first)]
        for row in manual.to_dict("records"):
            censored = bool(row["censored"])
            result.append(
                Measurement(
                    section=str(row["section_id"]), factor=str(row["parameter"]), date=row["day"],
                    value=substitute_censored(Decimal(repr(float(row["value"]))), censored),
                    kind=row["sample_kind"], ref=f"observation:{row['id']}", censored=censored,
                )
            )  # fmt: skip
        result.extend(_daily(frame[frame["sample_kind"].isna()], min_daily_values))
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
    counts = daily.counts.stack().to_dict()
    suspect = daily.suspect.stack().to_dict()
    bound = daily.lower_bound.stack().to_dict()
    for key, value in stacked.to_dict().items():
        section, day, factor = cast(tuple[str, pd.Timestamp, str], key)  # (group, start, key)
        n_suspect = int(suspect[key])
        note = f"（{n_suspect} 个可疑值）" if n_suspect else ""
        result.append(
            Measurement(
                section=str(section), factor=str(factor), date=day.date(),
                value=Decimal(repr(float(value))), kind="auto_daily",
                ref=f"daily:{section}:{day.date().isoformat()}:{factor}"
                f"({int(counts[key])} 个有效值{note})",
                suspect=n_suspect, lower_bound=bool(bound[key]),
            )
        )  # fmt: skip
    return result
