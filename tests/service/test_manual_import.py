"""Laboratory files (``service.feeds.manual``): values below the detection limit keep their mark.

On SQLite and PostgreSQL through ``database_url``. The "<DL" rule itself lives in
``sections.detection``; these tests hold the door to it: the limit is stored (unit-converted)
with ``censored`` True, never a bare half value, and importing again changes nothing.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from sections.registry import Registry
from service.db.models import Observation, ObservationHistory
from service.export import export_observations
from service.feeds.manual import import_manual

HEADER = "断面,采样时间,参数,数值,单位,实验室,类型\n"


def _file(tmp_path: Path, rows: str, name: str = "lab.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + rows, encoding="utf-8")
    return path


def _rows(engine: Engine) -> dict[str, Any]:
    with engine.connect() as connection:
        rows = connection.execute(select(Observation)).all()
    return {row.parameter: row for row in rows}


ROWS = (
    "xiaofanqiao,2026-07-03 09:30,cd,<0.001,mg/L,市监测中心,例行\n"
    "xiaofanqiao,2026-07-03 09:30,pb,<5,μg/L,市监测中心,例行\n"
    "xiaofanqiao,2026-07-03 09:30,phenol,0.0003L,mg/L,市监测中心,例行\n"
    "xiaofanqiao,2026-07-03 09:30,cod,18.5,mg/L,市监测中心,例行\n"
)


def test_below_detection_limit_is_stored_as_the_limit_with_its_mark(
    db: Engine, registry: Registry, tmp_path: Path
) -> None:
    report = import_manual(engine=db, registry=registry, path=_file(tmp_path, ROWS))
    assert report.stored and not report.errors and report.counts.inserted == 4
    stored = _rows(db)
    assert (stored["cd"].value, stored["cd"].censored) == (0.001, True)  # not 0.0005
    assert (stored["pb"].value, stored["pb"].censored, stored["pb"].unit) == (0.005, True, "mg/L")
    assert (stored["phenol"].value, stored["phenol"].censored) == (0.0003, True)
    assert (stored["cod"].value, stored["cod"].censored) == (18.5, False)
    when = stored["cd"].observed_at
    when = when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when
    assert when == dt.datetime(2026, 7, 3, 1, 30, tzinfo=dt.UTC)  # 09:30 Beijing

    # the same file again changes nothing
    again = import_manual(engine=db, registry=registry, path=_file(tmp_path, ROWS, "again.csv"))
    assert (again.counts.inserted, again.counts.changed, again.counts.unchanged) == (0, 0, 4)
    with db.connect() as connection:
        assert connection.execute(select(ObservationHistory)).all() == []

    # the export shows the lab's way of writing it
    text = "".join(export_observations(engine=db, fmt="csv"))
    lines = {line.split(",")[1]: line.split(",") for line in text.strip().splitlines()[1:]}
    header = text.splitlines()[0].split(",")
    assert lines["pb"][header.index("value")] == "<0.005"
    assert lines["pb"][header.index("censored")] == "true"
    assert lines["cod"][header.index("value")] == "18.5"
    assert lines["cod"][header.index("censored")] == "false"


def test_a_corrected_value_keeps_the_censored_one_in_history(
    db: Engine, registry: Registry, tmp_path: Path
) -> None:
    import_manual(engine=db, registry=registry, path=_file(tmp_path, ROWS))
    corrected = ROWS.replace("<0.001,mg/L", "0.003,mg/L")
    report = import_manual(engine=db, registry=registry, path=_file(tmp_path, corrected, "b.csv"))
    assert (report.counts.changed, report.counts.unchanged) == (1, 3)
    stored = _rows(db)
    assert (stored["cd"].value, stored["cd"].censored) == (0.003, False)
    with db.connect() as connection:
        (history,) = connection.execute(select(ObservationHistory)).all()
    assert (history.value, history.censored, history.reason) == (0.001, True, "redelivery")
    assert history.observation_id == stored["cd"].id


@pytest.mark.parametrize("cell", ["<", "<abc", "<-0.01", "<0", "0.01LL", "nan"])
def test_bad_below_limit_cells_are_refused(
    db: Engine, registry: Registry, tmp_path: Path, cell: str
) -> None:
    rows = f"xiaofanqiao,2026-07-03 09:30,cd,{cell},mg/L,市监测中心,例行\n"
    report = import_manual(engine=db, registry=registry, path=_file(tmp_path, rows))
    assert not report.stored and report.errors and "value" in report.errors[0].message


def test_an_import_goes_to_the_audit_log(db: Engine, registry: Registry, tmp_path: Path) -> None:
    from service.accounts import audit_events

    report = import_manual(engine=db, registry=registry, path=_file(tmp_path, ROWS), actor="zhao")
    (event,) = audit_events(engine=db, action="import.manual")
    assert (event.actor, event.detail["status"]) == ("zhao", "accepted")
    assert event.detail["raw_message_id"] == report.raw_message_id
    assert len(str(event.detail["sha256"])) == 64
