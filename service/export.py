"""``qingliu export observations``: stored observations as CSV or JSON, streamed in chunks.

A value below the detection limit is written the way laboratory reports write it: ``<0.01`` in
the ``value`` cell of the CSV (the limit with its marker, :func:`sections.detection.censored_label`;
``qingliu import manual`` reads the cell back), and ``censored`` says ``true``/``false`` for
filtering. JSON keeps ``value`` a number (the limit) with ``"censored": true``. Values waiting
for review — e.g. of a pollutant code not in ``pollutant_codes.csv``, whose ``parameter`` is the
code as sent and ``unit`` empty — are exported with ``review_status`` ``pending``.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, Select, select

from sections.detection import censored_label
from service.db.models import Observation, table_of
from service.time import BEIJING

__all__ = ["EXPORT_COLUMNS", "export_observations", "has_observations"]

OBSERVATION = table_of(Observation)

EXPORT_COLUMNS = ("station", "parameter", "observed_at", "value", "unit", "station_flag",
                  "qc_flag", "source", "censored", "review_status")  # fmt: skip
_CHUNK = 10_000


class _Line:
    """A file-like sink that hands back what csv.writer wrote."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return len(text)


def _filtered(
    query: Select[Any],
    *,
    station: str | None,
    section: str | None,
    parameter: str | None,
    start: dt.datetime | None,
    end: dt.datetime | None,
) -> Select[Any]:
    """``query`` restricted to the export's filters."""
    if station is not None:
        query = query.where(OBSERVATION.c.station == station)
    if section is not None:
        query = query.where(OBSERVATION.c.section_id == section)
    if parameter is not None:
        query = query.where(OBSERVATION.c.parameter == parameter)
    if start is not None:
        query = query.where(OBSERVATION.c.observed_at >= start.astimezone(dt.UTC))
    if end is not None:
        query = query.where(OBSERVATION.c.observed_at <= end.astimezone(dt.UTC))
    return query


def has_observations(
    *,
    engine: Engine,
    station: str | None = None,
    section: str | None = None,
    parameter: str | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> bool:
    """Whether :func:`export_observations` with these filters would export a row."""
    query = _filtered(select(OBSERVATION.c.id).limit(1), station=station, section=section,
                      parameter=parameter, start=start, end=end)  # fmt: skip
    with engine.connect() as connection:
        return connection.execute(query).first() is not None


def export_observations(
    *,
    engine: Engine,
    fmt: str = "csv",
    station: str | None = None,
    parameter: str | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    section: str | None = None,
) -> Iterator[str]:
    """Text chunks of the export; times ISO 8601 in Beijing time with their offset.

    Filters: the station (MN), the registry section, the parameter key, the time span.
    """
    columns = [getattr(Observation, c) for c in EXPORT_COLUMNS]
    query = _filtered(
        select(*columns).order_by(
            OBSERVATION.c.station, OBSERVATION.c.parameter, OBSERVATION.c.observed_at
        ),
        station=station, section=section, parameter=parameter, start=start, end=end,
    )  # fmt: skip
    sink = _Line()
    writer = csv.writer(sink, lineterminator="\n")
    if fmt == "csv":
        writer.writerow(EXPORT_COLUMNS)
        yield sink.text
    else:
        yield "["
    first = True
    with engine.connect() as connection:
        result = connection.execution_options(stream_results=True, yield_per=_CHUNK).execute(query)
        for partition in result.partitions(_CHUNK):
            sink.text = ""
            parts: list[str] = []
            for row in partition:
                when = row.observed_at
                when = (when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when).astimezone(
                    BEIJING
                )
                censored = bool(row.censored)
                record = [row.station, row.parameter, when.isoformat(), row.value, row.unit,
                          row.station_flag, row.qc_flag, row.source, censored,
                          row.review_status]  # fmt: skip
                if fmt == "csv":
                    if censored and row.value is not None:
                        limit = format(Decimal(repr(float(row.value))), "f")  # 1e-05 → 0.00001
                        record[3] = censored_label(limit, True)
                    record[8] = "true" if censored else "false"
                    writer.writerow(["" if v is None else v for v in record])
                else:
                    parts.append(
                        ("" if first else ",\n")
                        + json.dumps(
                            dict(zip(EXPORT_COLUMNS, record, strict=True)), ensure_ascii=False
                        )
                    )
                    first = False
            yield sink.text if fmt == "csv" else "".join(parts)
    if fmt != "csv":
        yield "]\n"
