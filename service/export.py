"""``qingliu export observations``: stored observations as CSV or JSON, streamed in chunks."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterator

from sqlalchemy import Engine, select

from service.db.models import Observation
from service.time import BEIJING

__all__ = ["EXPORT_COLUMNS", "export_observations"]

EXPORT_COLUMNS = ("station", "parameter", "observed_at", "value", "unit", "station_flag",
                  "qc_flag", "source")  # fmt: skip
_CHUNK = 10_000


class _Line:
    """A file-like sink that hands back what csv.writer wrote."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return len(text)


def export_observations(
    *,
    engine: Engine,
    fmt: str = "csv",
    station: str | None = None,
    parameter: str | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> Iterator[str]:
    """Text chunks of the export; times ISO 8601 in Beijing time with their offset."""
    columns = [getattr(Observation, c) for c in EXPORT_COLUMNS]
    query = select(*columns).order_by(
        Observation.station, Observation.parameter, Observation.observed_at
    )
    if station is not None:
        query = query.where(Observation.station == station)
    if parameter is not None:
        query = query.where(Observation.parameter == parameter)
    if start is not None:
        query = query.where(Observation.observed_at >= start.astimezone(dt.UTC))
    if end is not None:
        query = query.where(Observation.observed_at <= end.astimezone(dt.UTC))
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
                record = [row.station, row.parameter, when.isoformat(), row.value, row.unit,
                          row.station_flag, row.qc_flag, row.source]  # fmt: skip
                if fmt == "csv":
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
