"""Observation rows of an HJ 212 data frame: known codes to parameter keys, unknown ones kept."""

from __future__ import annotations

from typing import Any

from sections.parameters import parameters
from service.feeds.hj212.codes import canonical_value
from service.feeds.hj212.frame import Hj212Frame

__all__ = ["MAX_UNKNOWN_CODE", "SOURCE", "UNKNOWN_CODE_REVIEW", "frame_rows"]

SOURCE = "hj212"
_VALUE_FIELDS = {"2011": "Rtd", "2051": "Avg", "2061": "Avg", "2031": "Avg"}
MAX_UNKNOWN_CODE = 16
"""Longest unknown pollutant code stored as an observation's parameter (the column's size)."""
UNKNOWN_CODE_REVIEW = "pending"
"""``review_status`` of a value whose pollutant code is not in ``pollutant_codes.csv``."""


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
    """
    known = parameters()
    wanted = _VALUE_FIELDS.get(frame.cn, "Rtd")
    rows: list[dict[str, Any]] = []
    unknown: list[str] = []
    for value in frame.values:
        if value.field != wanted:
            if value.parameter is None:
                unknown.append(value.code)
            continue
        observed = value.sample_time or frame.data_time
        if observed is None:
            continue
        if value.parameter is None:
            unknown.append(value.code)
            if len(value.code) > MAX_UNKNOWN_CODE:
                continue
            rows.append(
                {
                    "station": frame.mn,
                    "section_id": section_id,
                    "parameter": value.code,
                    "observed_at": observed,
                    "value": None if value.missing else value.value,
                    "unit": "",
                    "station_flag": value.flag or "N",
                    "source": SOURCE,
                    "review_status": UNKNOWN_CODE_REVIEW,
                }
            )
            continue
        rows.append(
            {
                "station": frame.mn,
                "section_id": section_id,
                "parameter": value.parameter,
                "observed_at": observed,
                "value": canonical_value(value),
                "unit": known[value.parameter].unit,
                "station_flag": value.flag or "N",
                "source": SOURCE,
            }
        )
    return rows, sorted(set(unknown))
