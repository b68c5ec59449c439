"""Observation rows of an HJ 212 data frame: known codes to parameter keys, unknown ones kept."""

from __future__ import annotations

from typing import Any

from sections.parameters import parameters
from service.feeds.hj212.codes import canonical_value
from service.feeds.hj212.frame import Hj212Frame

__all__ = [
    "MAX_UNKNOWN_CODE",
    "ROW_COLUMNS",
    "SOURCE",
    "UNKNOWN_CODE_REVIEW",
    "frame_rows",
    "frame_tuples",
]

SOURCE = "hj212"
_VALUE_FIELDS = {"2011": "Rtd", "2051": "Avg", "2061": "Avg", "2031": "Avg"}
MAX_UNKNOWN_CODE = 16
"""Longest unknown pollutant code stored as an observation's parameter (the column's size)."""
UNKNOWN_CODE_REVIEW = "pending"
"""``review_status`` of a value whose pollutant code is not in ``pollutant_codes.csv``."""
ROW_COLUMNS = ("station", "parameter", "observed_at", "source", "section_id", "value", "unit",
               "station_flag", "review_status")  # fmt: skip
"""The observation columns of a :func:`frame_tuples` row, in order (the key first)."""


def frame_rows(frame: Hj212Frame, *, section_id: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Observation rows of a data frame, and the pollutant codes it carries that we do not know.

    The observation time is the analyser's SampleTime when given, else DataTime; sentinel
    values are stored as missing (None), with their station flag. A known code's value is
    converted from its unit on the wire to the parameter's canonical unit
    (:func:`~service.feeds.hj212.canonical_value`).

    A value whose code is not in ``pollutant_codes.csv`` is kept for review, never only in the
    raw archive: its row has ``parameter`` = the code as sent, ``unit`` "" (unknown), the value
    as sent and ``review_status`` ``"pending"``. Parameters that are not keys of
    ``parameters.csv`` never enter daily or monthly values. A code longer than
    :data:`MAX_UNKNOWN_CODE` characters cannot be stored as a parameter and stays in the raw
    archive (it is still listed in the returned codes).

    The rows of :func:`frame_tuples` as mappings (a row of a known code has no
    ``review_status``).
    """
    rows, unknown = frame_tuples(frame, section_id=section_id)
    mappings = []
    for row in rows:
        mapping = dict(zip(ROW_COLUMNS, row, strict=True))
        if mapping["review_status"] is None:
            del mapping["review_status"]
        mappings.append(mapping)
    return mappings, unknown


def frame_tuples(
    frame: Hj212Frame, *, section_id: str
) -> tuple[list[tuple[Any, ...]], list[str]]:
    """:func:`frame_rows` as tuples in the order of :data:`ROW_COLUMNS` (the receiver's form:
    no mapping per value)."""
    known = parameters()
    wanted = _VALUE_FIELDS.get(frame.cn, "Rtd")
    rows: list[tuple[Any, ...]] = []
    unknown: list[str] = []
    mn, data_time = frame.mn, frame.data_time
    for value in frame.values:
        if value.field != wanted:
            if value.parameter is None:
                unknown.append(value.code)
            continue
        observed = value.sample_time or data_time
        if observed is None:
            continue
        parameter = value.parameter
        if parameter is None:
            unknown.append(value.code)
            if len(value.code) > MAX_UNKNOWN_CODE:
                continue
            rows.append((mn, value.code, observed, SOURCE, section_id,
                         None if value.missing else value.value, "", value.flag or "N",
                         UNKNOWN_CODE_REVIEW))  # fmt: skip
            continue
        rows.append((mn, parameter, observed, SOURCE, section_id, canonical_value(value),
                     known[parameter].unit, value.flag or "N", None))  # fmt: skip
    return rows, sorted(set(unknown)) if unknown else unknown
