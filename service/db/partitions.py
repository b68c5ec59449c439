"""Monthly partitions of ``observation`` on PostgreSQL (SQLite keeps one plain table).

Migration 0014 makes ``observation`` a table partitioned by range of ``observed_at``: one
partition per **Beijing** month (``observation_p202507`` holds 2025-07-01 00:00+08:00 up to
2025-08-01 00:00+08:00, so a query for a Beijing day or month reads one partition) and a
DEFAULT partition (``observation_default``) that takes any row whose month has no partition
yet: no value is ever refused for want of a partition.

The scheduler's ``partitions`` job (:mod:`service.jobs.schedule`) calls
:func:`ensure_partitions` every day: the current month and :data:`MONTHS_AHEAD` months ahead
get their partitions before any value of theirs arrives, and every month that has rows in the
default partition gets its own partition, the rows moved out of the default in the same
transaction (:func:`create_month_partition`).

Primary key and unique constraints of a partitioned table must contain ``observed_at``: on
PostgreSQL the primary key is ``(id, observed_at)`` (ids still come from one sequence and stay
unique), and ``observation_history.observation_id`` is checked by a trigger instead of a foreign
key (see migration 0014).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, text

from service.time import BEIJING

__all__ = [
    "DEFAULT_PARTITION",
    "MONTHS_AHEAD",
    "PARENT",
    "PartitionSummary",
    "create_month_partition",
    "ensure_partitions",
    "is_partitioned",
    "month_bounds",
    "month_partitions",
    "months_in_default",
    "partition_name",
]

log = logging.getLogger("qingliu.partitions")

PARENT = "observation"
"""The partitioned table."""
DEFAULT_PARTITION = "observation_default"
"""The partition of rows whose month has no partition of its own."""
MONTHS_AHEAD = 3
"""Months after the current one whose partitions are made in advance [A]: a quarter, so a
scheduler stopped for weeks still finds the coming months ready."""
_NAME = re.compile(r"^observation_p(\d{4})(\d{2})$")


@dataclass
class PartitionSummary:
    """What :func:`ensure_partitions` did."""

    created: list[dt.date] = field(default_factory=list)
    moved: int = 0
    """Rows moved out of the default partition into new month partitions."""
    partitioned: bool = True
    """False on SQLite or an unpartitioned table: nothing to do."""

    def describe(self) -> str:
        """One line, Chinese first."""
        if not self.partitioned:
            return "观测表未分区，无需操作 / observation is not partitioned: nothing to do"
        months = ", ".join(f"{m:%Y-%m}" for m in self.created) or "无 / none"
        return (
            f"新建月分区 {months}；自默认分区移出 {self.moved} 行 / "
            f"partitions created: {months}; {self.moved} rows moved out of the default"
        )


def _first_of(month: dt.date) -> dt.date:
    return month.replace(day=1)


def _next_month(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def partition_name(month: dt.date) -> str:
    """``observation_pYYYYMM``, the partition of a Beijing month."""
    return f"observation_p{month:%Y%m}"


def month_bounds(month: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The Beijing month of ``month`` as [start, end) instants (zone-aware, Beijing)."""
    first = _first_of(month)
    start = dt.datetime.combine(first, dt.time(), BEIJING)
    return start, dt.datetime.combine(_next_month(first), dt.time(), BEIJING)


def _literal(moment: dt.datetime) -> str:
    """A bound as a timestamptz literal with its offset (partition bounds take no parameters)."""
    return moment.isoformat(sep=" ")


def is_partitioned(connection: Connection) -> bool:
    """Whether ``observation`` is a partitioned table (PostgreSQL after migration 0014)."""
    if connection.dialect.name != "postgresql":
        return False
    found = connection.execute(
        text("SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(:name)"),
        {"name": PARENT},
    ).first()
    return found is not None


def month_partitions(connection: Connection) -> list[dt.date]:
    """The months that have a partition of their own, in order."""
    if not is_partitioned(connection):
        return []
    names = connection.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(:name)"
        ),
        {"name": PARENT},
    ).scalars()
    months = []
    for name in names:
        matched = _NAME.match(str(name))
        if matched:
            months.append(dt.date(int(matched[1]), int(matched[2]), 1))
    return sorted(months)


def months_in_default(connection: Connection) -> list[dt.date]:
    """The Beijing months of the rows waiting in the default partition."""
    if not is_partitioned(connection):
        return []
    rows = connection.execute(
        text(
            f"SELECT DISTINCT date_trunc('month', observed_at AT TIME ZONE 'Asia/Shanghai') "
            f"FROM {DEFAULT_PARTITION}"
        )
    ).scalars()
    return sorted(value.date() for value in rows)


def create_month_partition(connection: Connection, month: dt.date) -> int:
    """Give ``month`` its partition (in the caller's transaction); returns rows moved.

    The default partition is locked first (concurrent writers of rows for it wait until the
    transaction ends), so no row of the month can arrive in the default between the move and
    the attach. Nothing happens when the partition exists.
    """
    first = _first_of(month)
    name = partition_name(first)
    if connection.execute(text("SELECT to_regclass(:name)"), {"name": name}).scalar():
        return 0
    start, end = month_bounds(first)
    bounds = f"FROM ('{_literal(start)}') TO ('{_literal(end)}')"
    connection.exec_driver_sql(f"LOCK TABLE {DEFAULT_PARTITION} IN ACCESS EXCLUSIVE MODE")
    in_month = "observed_at >= :s AND observed_at < :e"
    waiting = connection.execute(
        text(f"SELECT count(*) FROM {DEFAULT_PARTITION} WHERE {in_month}"), {"s": start, "e": end}
    ).scalar_one()
    if not waiting:
        connection.exec_driver_sql(f"CREATE TABLE {name} PARTITION OF {PARENT} FOR VALUES {bounds}")
        return 0
    # rows of the month wait in the default: a table of the parent's shape takes them, then
    # becomes the month's partition (its indexes and constraints are made on attach)
    connection.exec_driver_sql(
        f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
    )
    moved = connection.execute(
        text(
            f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} WHERE {in_month} RETURNING *) "
            f"INSERT INTO {name} SELECT * FROM moved"
        ),
        {"s": start, "e": end},
    ).rowcount
    connection.exec_driver_sql(f"ALTER TABLE {PARENT} ATTACH PARTITION {name} FOR VALUES {bounds}")
    log.info("月分区 %s 已建，自默认分区移入 %d 行 / partition %s created, %d rows moved in",
             name, moved, name, moved)  # fmt: skip
    return int(moved)


def ensure_partitions(
    *, engine: Engine, today: dt.date, ahead: int = MONTHS_AHEAD
) -> PartitionSummary:
    """Partitions for the month of ``today`` (Beijing) and ``ahead`` months after it, and for
    every month that has rows in the default partition; each month in its own transaction.

    Does nothing on SQLite (``partitioned`` is False in the summary).
    """
    if ahead < 0:
        raise ValueError(f"ahead must be ≥ 0, got {ahead}")
    summary = PartitionSummary()
    with engine.connect() as connection:
        if not is_partitioned(connection):
            summary.partitioned = False
            return summary
        have = set(month_partitions(connection))
        waiting = months_in_default(connection)
    wanted = [_first_of(today)]
    for _ in range(ahead):
        wanted.append(_next_month(wanted[-1]))
    for month in sorted(set(wanted) | set(waiting)):
        if month in have:
            continue
        with engine.begin() as connection:
            summary.moved += create_month_partition(connection, month)
        summary.created.append(month)
    return summary
