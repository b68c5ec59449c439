"""Revision 0007 migrates a populated database in place: every row kept, readable as records.

A database is built at revision 0006 with rows in every table, in the form the code of that
revision wrote them (records as JSON text, a job run's detail as free text), then upgraded to
the newest schema on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError

from service.db import results
from service.db.bulk import insert_returning_ids
from service.db.engine import current_revision, migrate, migrations_config
from service.db.models import (
    DailyResult,
    JobRun,
    Observation,
    ObservationHistory,
    RawMessage,
    table_of,
)
from service.jobs.annual import annual_results
from service.jobs.monthly import stored_summary
from service.records import DayRecord, LakeRecord, MonthRecord, Provenance
from service.statements.issue import issued_versions

NOW = dt.datetime(2025, 7, 2, 1, 0, tzinfo=dt.UTC)
DAY = dt.date(2025, 7, 1)
MONTH = dt.date(2025, 7, 1)

# records as the code of revision 0006 wrote them: optional keys absent, lists for tuples
DAY_RECORD = {
    "section": "xiaofanqiao", "day": "2025-07-01", "class_number": 2, "class": "Ⅱ",
    "label": "优", "indicators": ["codmn", "do", "nh3n", "ph", "tp"],
    "indicator_classes": {"codmn": 2, "do": 1, "nh3n": 2, "ph": 1, "tp": 2},
    "exceedance_vs_iii": {}, "exceedance_vs_target": {}, "main_pollutants": [],
    "insufficient": [], "target_class_number": 3,
    "values": {"codmn": 3.0, "do": 8.0, "nh3n": 0.3, "ph": 7.8, "tp": 0.08},
    "lower_bound": [], "suspect": {}, "meets_target": True, "completeness": 1.0,
}  # fmt: skip
OLD_DAY_RECORD = {  # older still: no completeness, marks or target in the record
    "section": "fudong-wuyi", "day": "2025-07-01", "class_number": None, "class": None,
    "label": None, "indicators": [], "indicator_classes": {}, "exceedance_vs_iii": {},
    "main_pollutants": [], "insufficient": ["nh3n"],
}  # fmt: skip
PROVENANCE = {"used": {"nh3n": [1]}, "excluded": {"station_flag:M": 1}, "review": {}}
MONTH_RECORD = {
    "section": "xiaofanqiao", "month": "2025-07", "class_number": 4, "class": "Ⅳ",
    "label": "轻度污染", "indicators": ["cod", "nh3n"], "indicator_classes": {"cod": 4, "nh3n": 2},
    "exceedance_vs_iii": {"cod": 0.4}, "exceedance_vs_target": {"cod": 0.4},
    "main_pollutants": ["cod"], "values": {"cod": 28.0, "nh3n": 0.3, "hg": 2.5e-05},
    "insufficient": [], "sources": {"cod": "manual", "nh3n": "automatic", "hg": "manual"},
    "lower_bound": [], "suspect": {}, "censored": ["hg"], "target_class_number": 3,
    "status": None, "meets_target": False,
}  # fmt: skip
NO_FLOW_RECORD = {
    "section": "fudong-wuyi", "month": "2025-07", "class_number": None, "class": None,
    "label": None, "indicators": [], "indicator_classes": {}, "exceedance_vs_iii": {},
    "main_pollutants": [], "values": {}, "insufficient": [], "target_class_number": 4,
    "status": "no_flow", "status_text": "断流", "meets_target": None,
}  # fmt: skip
LAKE_RECORD = {
    "section": "lake:衡水湖", "name": "衡水湖", "points": ["hengshuihu-dahuxin"],
    "month": "2025-07", "class_number": 4, "class": "Ⅳ", "label": "轻度污染",
    "indicators": ["tp"], "indicator_classes": {"tp": 4}, "exceedance_vs_iii": {"tp": 0.2},
    "exceedance_vs_target": {"tp": 0.2}, "main_pollutants": ["tp"], "tn_class_number": 4,
    "tn_exceedance_vs_iii": 0.3, "tli": 55.1, "trophic_state": "轻度富营养",
    "values": {"tp": 0.06, "tn": 1.3}, "target_class_number": 3,
}  # fmt: skip
SUMMARY = {
    "month": "2025-07", "sections": 13, "assessable": 5, "not_assessable": ["fudong-wuyi"],
    "good": 4, "good_share": 0.8, "target_share": 0.692, "meets_share_target": True,
    "worse_than_v": 0, "worse_than_v_sections": [], "status": "良好",
    "lake": {"name": "衡水湖", "class_number": 4, "class": "Ⅳ", "meets_target": False,
             "tn_class_number": 4, "tli": 55.1, "trophic_state": "轻度富营养"},
    "trend": {"previous_month": "2024-07", "previous_good_share": 0.6,
              "previous_status": "轻度污染", "wording": "有所好转",
              "section_changes": [{"section": "xiaofanqiao", "before": 5, "after": 4}]},
}  # fmt: skip
YEAR_RECORD = {
    "section": "xiaofanqiao", "year": 2025, "class_number": 3, "class": "Ⅲ", "label": "良好",
    "indicators": ["nh3n"], "indicator_classes": {"nh3n": 3}, "exceedance_vs_iii": {},
    "exceedance_vs_target": {}, "main_pollutants": [], "insufficient": [],
    "values": {"nh3n": 0.9}, "months": {"nh3n": 12}, "lower_bound": [],
    "target_class_number": 3, "meets_target": True,
}  # fmt: skip
DIFF = [{"unit": "jizhou", "kind": "deduction", "key": "xiaofanqiao/nh3n", "change": "changed",
         "before": [["amount", "10.00"]], "after": [["amount", "12.00"]]}]  # fmt: skip


def _text(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _table(name: str, **columns: sa.types.TypeEngine[object]) -> sa.TableClause:
    return sa.table(name, *(sa.column(n, t) for n, t in columns.items()))


S, N, D, TS, B = (  # string, number, date, time, boolean
    sa.Text(),
    sa.Integer(),
    sa.Date(),
    sa.DateTime(timezone=True),
    sa.Boolean(),
)

ROWS: dict[str, tuple[sa.TableClause, list[dict[str, object]]]] = {
    "raw_message": (
        _table("raw_message", id=N, source=S, peer=S, received_at=TS, payload=sa.LargeBinary(),
               sha256=S, parse_status=S, reason=S, station=S),
        [{"id": 1, "source": "hj212", "peer": "10.0.0.1", "received_at": NOW,
          "payload": b"##0101QN=...", "sha256": "a" * 64, "parse_status": "accepted",
          "reason": "", "station": "HS0001"},
         {"id": 2, "source": "manual", "peer": "lab.csv", "received_at": NOW,
          "payload": b"section,parameter", "sha256": "b" * 64, "parse_status": "partial",
          "reason": "1 row refused", "station": None}],
    ),
    "station": (
        _table("station", mn=S, section_id=S, password_hash=S, active=B, created_at=TS),
        [{"mn": "HS0001", "section_id": "xiaofanqiao", "password_hash": "pbkdf2$1$00$00",
          "active": True, "created_at": NOW}],
    ),
    "observation": (
        _table("observation", id=N, station=S, section_id=S, parameter=S, observed_at=TS,
               value=sa.Float(), unit=S, processing_level=S, source=S, sample_kind=S,
               censored=B, review_status=S, raw_message_id=N, received_at=TS),
        [{"id": 1, "station": "HS0001", "section_id": "xiaofanqiao", "parameter": "nh3n",
          "observed_at": NOW, "value": 0.3, "unit": "mg/L", "processing_level": "raw",
          "source": "hj212", "sample_kind": None, "censored": False, "review_status": None,
          "raw_message_id": 1, "received_at": NOW},
         {"id": 2, "station": "lab", "section_id": "xiaofanqiao", "parameter": "hg",
          "observed_at": NOW, "value": 0.00005, "unit": "mg/L", "processing_level": "checked",
          "source": "manual", "sample_kind": "routine", "censored": True,
          "review_status": "pending", "raw_message_id": 2, "received_at": NOW},
         {"id": 3, "station": "HS0001", "section_id": "xiaofanqiao", "parameter": "tp",
          "observed_at": NOW, "value": 0.08, "unit": "mg/L", "processing_level": "reviewed",
          "source": "hj212", "sample_kind": None, "censored": False, "review_status": "accepted",
          "raw_message_id": 99, "received_at": NOW}],  # raw message 99 does not exist
    ),
    "observation_history": (
        _table("observation_history", id=N, observation_id=N, value=sa.Float(), censored=B,
               raw_message_id=N, reason=S, replaced_at=TS),
        [{"id": 1, "observation_id": 1, "value": 0.25, "censored": False, "raw_message_id": 1,
          "reason": "redelivery", "replaced_at": NOW}],
    ),
    "section_status": (
        _table("section_status", id=N, section_id=S, month=D, status=S, note=S, source=S),
        [{"id": 1, "section_id": "fudong-wuyi", "month": MONTH, "status": "no_flow",
          "note": "断流", "source": "manual"}],
    ),
    "job_run": (
        _table("job_run", id=N, job=S, started_at=TS, finished_at=TS, status=S, detail=S),
        [{"id": 1, "job": "daily", "started_at": NOW, "finished_at": NOW, "status": "ok",
          "detail": _text({"first": "2025-07-01", "last": "2025-07-01", "results": 2})},
         {"id": 2, "job": "monthly", "started_at": NOW, "finished_at": NOW, "status": "ok",
          "detail": "2025-07"},
         {"id": 3, "job": "annual", "started_at": NOW, "finished_at": NOW, "status": "failed",
          "detail": "2025"},
         {"id": 4, "job": "demo-seed", "started_at": NOW, "finished_at": None,
          "status": "running", "detail": ""}],
    ),
    "job_lease": (
        _table("job_lease", job=S, holder=S, expires_at=TS),
        [{"job": "daily", "holder": "host:1", "expires_at": NOW}],
    ),
    "daily_result": (
        _table("daily_result", id=N, section_id=S, day=D, class_number=N,
               completeness=sa.Float(), record=S, provenance=S, run_id=N, computed_at=TS),
        [{"id": 1, "section_id": "xiaofanqiao", "day": DAY, "class_number": 2,
          "completeness": 1.0, "record": _text(DAY_RECORD), "provenance": _text(PROVENANCE),
          "run_id": 1, "computed_at": NOW},
         {"id": 2, "section_id": "fudong-wuyi", "day": DAY, "class_number": None,
          "completeness": 0.4, "record": _text(OLD_DAY_RECORD), "provenance": _text({}),
          "run_id": 77, "computed_at": NOW}],  # run 77 does not exist
    ),
    "monthly_result": (
        _table("monthly_result", id=N, section_id=S, month=D, class_number=N, record=S,
               computed_at=TS),
        [{"id": i + 1, "section_id": r["section"], "month": MONTH,
          "class_number": r["class_number"], "record": _text(r), "computed_at": NOW}
         for i, r in enumerate((MONTH_RECORD, NO_FLOW_RECORD, LAKE_RECORD))],
    ),
    "monthly_summary": (
        _table("monthly_summary", month=D, summary=S, computed_at=TS),
        [{"month": MONTH, "summary": _text(SUMMARY), "computed_at": NOW}],
    ),
    "annual_result": (
        _table("annual_result", id=N, section_id=S, year=N, class_number=N, record=S,
               computed_at=TS),
        [{"id": 1, "section_id": "xiaofanqiao", "year": 2025, "class_number": 3,
          "record": _text(YEAR_RECORD), "computed_at": NOW}],
    ),
    "statement_issue": (
        _table("statement_issue", id=N, month=D, version=N, rule_set=S, content=S,
               content_hash=S, diff=S, issued_at=TS),
        [{"id": 1, "month": MONTH, "version": 1, "rule_set": "hengshui-2021",
          "content": '{"month":"2025-07"}', "content_hash": "c" * 64, "diff": "[]",
          "issued_at": NOW},
         {"id": 2, "month": MONTH, "version": 2, "rule_set": "hengshui-2021",
          "content": '{"month":"2025-07","v":2}', "content_hash": "d" * 64,
          "diff": _text(DIFF), "issued_at": NOW}],
    ),
}  # fmt: skip


def _populated_at_0006(engine: Engine) -> None:
    migrate(engine, "0006")
    assert current_revision(engine) == "0006"
    with engine.begin() as connection:
        for table, rows in ROWS.values():
            connection.execute(sa.insert(table), rows)
        if connection.dialect.name == "postgresql":  # explicit ids: move the sequences on
            for name in ("raw_message", "observation", "job_run", "daily_result"):
                connection.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                    f"(SELECT max(id) FROM {name}))"
                )


def _count(engine: Engine, name: str) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(select(func.count()).select_from(sa.table(name))).scalar_one()
        )


def test_upgrade_keeps_every_row_and_reads_them_as_records(engine: Engine) -> None:
    _populated_at_0006(engine)
    migrate(engine)
    for name, (_, rows) in ROWS.items():
        assert _count(engine, name) == len(rows), name
    with engine.connect() as connection:
        daily = {r.section_id: r for r in connection.execute(select(table_of(DailyResult)))}
        observations = {r.id: r for r in connection.execute(select(table_of(Observation)))}
        runs = {r.id: r for r in connection.execute(select(table_of(JobRun)))}
    # references to rows that never existed are cleared, everything else is as it was
    assert daily["fudong-wuyi"].run_id is None and daily["xiaofanqiao"].run_id == 1
    assert observations[3].raw_message_id is None and observations[2].raw_message_id == 2
    assert observations[2].value == 0.00005 and observations[2].censored is True
    # a job run's free text becomes {"text": …}, JSON objects stay as they were
    assert runs[1].detail == {"first": "2025-07-01", "last": "2025-07-01", "results": 2}
    assert runs[2].detail == {"text": "2025-07"} and runs[3].detail == {"text": "2025"}
    assert runs[4].detail == {}
    # the records read back through the typed models, old keys and all
    on_day = results.daily_results_on(engine=engine, day=DAY)
    assert on_day["xiaofanqiao"] == DayRecord.model_validate(DAY_RECORD)
    assert on_day["xiaofanqiao"].water_class is not None
    old = on_day["fudong-wuyi"]
    assert old.class_number is None and old.insufficient == ("nh3n",)
    assert old.completeness == 0.4  # from the column, for rows written before it was kept
    assert Provenance.model_validate(daily["xiaofanqiao"].provenance).used == {"nh3n": (1,)}
    month = results.month_results(engine=engine, month=MONTH)
    assert isinstance(month["lake:衡水湖"], LakeRecord) and month["lake:衡水湖"].tli == 55.1
    section = month["xiaofanqiao"]
    assert isinstance(section, MonthRecord) and section.censored == ("hg",)
    assert section.sources["cod"] == "manual" and section.klass == "Ⅳ"
    no_flow = month["fudong-wuyi"]
    assert isinstance(no_flow, MonthRecord) and no_flow.status_text == "断流"
    summary = stored_summary(engine=engine, month=MONTH)
    assert summary is not None and summary.good_share == 0.8
    assert summary.lake is not None and summary.lake.klass == "Ⅳ"
    assert summary.trend is not None and summary.trend.section_changes[0].after == 4
    (year,) = annual_results(engine=engine, year=2025)
    assert year.months == {"nh3n": 12} and year.class_number == 3
    versions = issued_versions(engine=engine, month=MONTH)
    assert [(v.version, v.changes) for v in versions] == [(1, 0), (2, 1)]


def test_upgraded_schema_enforces_keys_and_statuses(engine: Engine) -> None:
    _populated_at_0006(engine)
    migrate(engine)
    bad_rows = [
        (table_of(Observation), {"station": "x", "parameter": "nh3n", "observed_at": NOW,
                                 "unit": "mg/L", "source": "hj212", "received_at": NOW,
                                 "raw_message_id": 12345}),
        (table_of(ObservationHistory), {"observation_id": 12345, "replaced_at": NOW}),
        (table_of(DailyResult), {"section_id": "x", "day": DAY, "completeness": 0.0,
                                 "record": {}, "provenance": {}, "run_id": 12345,
                                 "computed_at": NOW}),
        (table_of(JobRun), {"job": "daily", "started_at": NOW, "status": "done", "detail": {}}),
        (table_of(RawMessage), {"source": "hj212", "received_at": NOW, "payload": b"",
                                "sha256": "e" * 64, "parse_status": "fine"}),
        (table_of(Observation), {"station": "x", "parameter": "nh3n", "observed_at": NOW,
                                 "unit": "mg/L", "source": "manual", "received_at": NOW,
                                 "sample_kind": "weekly"}),
        (table_of(Observation), {"station": "x", "parameter": "tp", "observed_at": NOW,
                                 "unit": "mg/L", "source": "hj212", "received_at": NOW,
                                 "review_status": "maybe"}),
        (table_of(Observation), {"station": "x", "parameter": "do", "observed_at": NOW,
                                 "unit": "mg/L", "source": "hj212", "received_at": NOW,
                                 "processing_level": "final"}),
    ]  # fmt: skip
    for table, row in bad_rows:
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(sa.insert(table), [row])
    with engine.connect() as connection:
        assert (
            connection.execute(select(func.count()).select_from(table_of(RawMessage))).scalar_one()
            == 2
        )


def test_downgrade_to_0006_keeps_the_rows(engine: Engine) -> None:
    _populated_at_0006(engine)
    migrate(engine)
    config = migrations_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0006")
    for name, (_, rows) in ROWS.items():
        assert _count(engine, name) == len(rows), name
    with engine.connect() as connection:
        text = connection.execute(sa.text("SELECT summary FROM monthly_summary")).scalar_one()
    assert json.loads(text)["good_share"] == 0.8
    migrate(engine)
    assert stored_summary(engine=engine, month=MONTH) is not None


def test_inserted_ids_follow_the_rows(db: Engine) -> None:
    columns = ("source", "peer", "received_at", "payload", "sha256", "parse_status", "reason")
    rows = [("hj212", f"peer-{i}", NOW, f"payload-{i}".encode(), f"{i:064d}", "accepted", "")
            for i in range(2500)]  # fmt: skip
    with db.begin() as connection:
        first = insert_returning_ids(connection, "raw_message", columns, rows[:3])
        ids = insert_returning_ids(connection, "raw_message", columns, rows[3:])
    assert len(set(first + ids)) == len(rows)
    table = table_of(RawMessage)
    with db.connect() as connection:
        peers = dict(connection.execute(select(table.c.id, table.c.peer)).all())
    assert [peers[i] for i in first + ids] == [r[1] for r in rows]
