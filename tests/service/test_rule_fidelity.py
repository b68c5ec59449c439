"""Review findings on the daily, monthly and annual paths: each fails on the old behaviour.

- over-range (T) readings were dropped: they now count as lower bounds ("≥") and wait for review;
- a value passing QC with flag S was excluded: it now counts;
- QARTOD-suspect values (first value after a gap) were silently left out: they now count, are
  reported, and wait for review; a reviewer's rejection or replacement is honoured with history;
- monthly classes used automatic data only: laboratory COD now enters the class;
- unknown pollutant codes never break a job;
- the annual assessment classifies the mean of the monthly values.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from sections.quality import instrument_span
from sections.registry import Registry
from service.app import create_app
from service.cli import app as cli
from service.db.models import DailyResult, MonthlyResult, Observation, ObservationHistory
from service.jobs.annual import annual_results, run_annual
from service.jobs.daily import run_daily
from service.jobs.monthly import run_monthly
from service.jobs.observations import day_bounds
from service.jobs.quality import run_quality
from service.records import DayRecord, MonthRecord, Provenance
from service.review import pending_reviews, review_observation
from service.settings import Settings
from service.statements.monthly import draft_statement
from service.time import BEIJING
from tests.conftest import bearer, live_server_for, store_rows

DAY = dt.date(2025, 7, 1)
SECTION = "xiaofanqiao"
GOOD = {"ph": 7.8, "do": 8.0, "codmn": 3.0, "nh3n": 0.3, "tp": 0.08}  # Class Ⅱ


def _at(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), BEIJING)


def _rows(
    day: dt.date,
    values: dict[str, float],
    *,
    hours: tuple[int, ...] = (0, 4, 8, 12, 16, 20),
    flag: str = "N",
    section: str = SECTION,
    kind: str | None = None,
    censored: bool = False,
) -> list[dict[str, Any]]:
    return [
        {"station": ("M:" if kind else "MN-") + section, "section_id": section, "parameter": key,
         "observed_at": _at(day, hour), "value": value, "unit": "mg/L", "station_flag": flag,
         "source": "manual" if kind else "hj212", "sample_kind": kind, "censored": censored}
        for key, value in values.items() for hour in hours
    ]  # fmt: skip


def _daily(engine: Engine, day: dt.date = DAY) -> tuple[DayRecord, Provenance]:
    with engine.connect() as connection:
        row = connection.execute(
            select(DailyResult.record, DailyResult.provenance).where(
                DailyResult.section_id == SECTION, DailyResult.day == day
            )
        ).one()
    return DayRecord.model_validate(row.record), Provenance.model_validate(row.provenance)


def _qc_and_daily(engine: Engine, registry: Registry, first: dt.date, last: dt.date) -> None:
    start, end = day_bounds(first, last)
    run_quality(engine=engine, registry=registry, start=start, end=end)
    run_daily(engine=engine, registry=registry, first=first, last=last)


# --- over-range readings ----------------------------------------------------------------------


def test_an_over_range_reading_counts_as_a_lower_bound_and_waits_for_review(
    db: Engine, registry: Registry
) -> None:
    store_rows(db, _rows(DAY, GOOD, hours=(0, 4, 8, 12, 16)))
    store_rows(db, _rows(DAY, {"nh3n": 1.5}, hours=(20,), flag="T"))  # the analyser's ceiling
    _qc_and_daily(db, registry, DAY, DAY)
    record, provenance = _daily(db)
    span = instrument_span(registry.section(SECTION), "nh3n", DAY)
    assert span is not None and span > 1.5
    # the old job dropped the T value: the daily NH3-N was 0.3 and nothing was marked
    assert record.values["nh3n"] == pytest.approx((5 * 0.3 + span) / 6, abs=1e-4)
    assert record.lower_bound == ("nh3n",)
    assert provenance.review["lower_bound"] == 1
    items, count = pending_reviews(engine=db)
    assert count == 1 and items[0].parameter == "nh3n" and items[0].station_flag == "T"


def test_a_reviewer_replaces_an_over_range_reading_and_the_old_value_is_kept(
    db: Engine, registry: Registry, settings: Settings
) -> None:
    store_rows(db, _rows(DAY, GOOD, hours=(0, 4, 8, 12, 16)))
    store_rows(db, _rows(DAY, {"nh3n": 1.5}, hours=(20,), flag="T"))
    _qc_and_daily(db, registry, DAY, DAY)
    (item,), _ = pending_reviews(engine=db)
    result = CliRunner().invoke(
        cli, ["review", "replace", str(item.id), "--value", "4.2", "--note", "稀释后复测"],
        env={"QINGLIU_DATABASE_URL": str(settings.database_url),
             "QINGLIU_DATA_DIR": str(settings.data_dir)},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    record, _ = _daily(db)
    assert record.values["nh3n"] == pytest.approx((5 * 0.3 + 4.2) / 6, abs=1e-4)
    assert record.lower_bound == ()
    with db.connect() as connection:
        history = connection.execute(
            select(ObservationHistory.value, ObservationHistory.station_flag,
                   ObservationHistory.reason).where(ObservationHistory.observation_id == item.id)
        ).one()  # fmt: skip
    assert (history.value, history.station_flag, history.reason) == (1.5, "T", "review")
    assert pending_reviews(engine=db)[1] == 0


def test_a_manual_value_that_passes_qc_counts(db: Engine, registry: Registry) -> None:
    store_rows(db, _rows(DAY, GOOD, hours=(0, 4, 8)))
    store_rows(db, _rows(DAY, GOOD, hours=(12, 16, 20), flag="S"))
    _qc_and_daily(db, registry, DAY, DAY)
    record, _ = _daily(db)
    # the old job kept only N: 3 of 6 values, insufficient
    assert record.class_number == 2


# --- suspect values -----------------------------------------------------------------------------


def test_the_first_value_after_a_gap_is_suspect_and_still_counts(
    db: Engine, registry: Registry
) -> None:
    before = DAY - dt.timedelta(days=1)
    store_rows(db, _rows(before, GOOD, hours=(0, 4, 8)))  # silent from 08:00 to 08:00 next day
    store_rows(db, _rows(DAY, {**GOOD, "nh3n": 0.9}, hours=(8,)))
    store_rows(db, _rows(DAY, GOOD, hours=(12, 16, 20)))
    _qc_and_daily(db, registry, before, DAY)
    with db.connect() as connection:
        flags = connection.execute(
            select(Observation.qc_flag, Observation.qc_test, Observation.review_status).where(
                Observation.parameter == "nh3n",
                Observation.observed_at == _at(DAY, 8).astimezone(dt.UTC),
            )
        ).one()
    assert (flags.qc_flag, flags.qc_test, flags.review_status) == (3, "time_gap", "pending")
    record, provenance = _daily(db)
    # the old job left the 0.9 out: the daily NH3-N was 0.3
    assert record.values["nh3n"] == pytest.approx((0.9 + 3 * 0.3) / 4, abs=1e-4)
    assert record.suspect["nh3n"] == 1
    assert provenance.review["suspect"] >= 5  # each parameter's first value after the gap


def test_a_rejected_suspect_value_no_longer_counts(db: Engine, registry: Registry) -> None:
    before = DAY - dt.timedelta(days=1)
    store_rows(db, _rows(before, GOOD, hours=(0, 4, 8)))
    store_rows(db, _rows(DAY, {**GOOD, "nh3n": 0.9}, hours=(8,)))
    store_rows(db, _rows(DAY, GOOD, hours=(12, 16, 20)))
    _qc_and_daily(db, registry, before, DAY)
    items, _ = pending_reviews(engine=db)
    nh3n = next(i for i in items if i.parameter == "nh3n")
    with pytest.raises(Exception, match="理由"):
        review_observation(engine=db, observation_id=nh3n.id, action="reject")
    review_observation(engine=db, observation_id=nh3n.id, action="reject", note="仪器漂移")
    run_daily(engine=db, registry=registry, first=DAY)
    record, provenance = _daily(db)
    assert "nh3n" in record.insufficient  # 3 values left of the 4 a day needs
    assert provenance.excluded["review:rejected"] == 1


# --- laboratory data in the month -------------------------------------------------------------


def _month_of_good_automatic_data(engine: Engine, month: dt.date) -> None:
    days = [month + dt.timedelta(days=i) for i in range(31)]
    store_rows(engine, [row for day in days for row in _rows(day, GOOD)])


def test_laboratory_cod_enters_the_monthly_class(db: Engine, registry: Registry) -> None:
    month = dt.date(2025, 7, 1)
    _month_of_good_automatic_data(db, month)
    lab = {"cod": 28.0, "bod5": 3.5, "fluoride": 0.4, "nh3n": 1.8}  # COD: Class Ⅳ
    store_rows(db, _rows(dt.date(2025, 7, 10), lab, hours=(10,), kind="routine"))
    store_rows(db, _rows(dt.date(2025, 7, 10), {"hg": 0.00005}, hours=(10,), kind="routine",
                     censored=True))  # fmt: skip
    run_monthly(engine=db, registry=registry, month=month)
    with db.connect() as connection:
        stored = connection.execute(
            select(MonthlyResult.record).where(
                MonthlyResult.section_id == SECTION, MonthlyResult.month == month
            )
        ).scalar_one()
    record = MonthRecord.model_validate(stored)
    # automatic data alone gave Class Ⅱ and "cod" 无数据
    assert record.class_number == 4 and record.values["cod"] == 28.0
    assert record.main_pollutants[0] == "cod"
    assert record.sources["cod"] == "manual" and record.sources["bod5"] == "manual"
    # automatic data are preferred for NH3-N: the laboratory's 1.8 does not replace it
    assert record.sources["nh3n"] == "automatic" and record.values["nh3n"] == 0.3
    assert record.censored == ("hg",) and record.values["hg"] == 0.000025


def test_values_with_unknown_codes_never_break_a_job(db: Engine, registry: Registry) -> None:
    store_rows(db, _rows(DAY, GOOD))
    rows = _rows(DAY, {"w99001": 12.0})
    for row in rows:
        row.update(unit="", review_status="pending")
    store_rows(db, rows)
    _qc_and_daily(db, registry, DAY, DAY)
    run_monthly(engine=db, registry=registry, month=DAY)
    record, _ = _daily(db)
    assert record.class_number == 2 and "w99001" not in record.values
    items, _ = pending_reviews(engine=db, limit=1000)
    assert [i.parameter for i in items].count("w99001") == 6
    assert all("未知监测因子编码" in i.why for i in items if i.parameter == "w99001")


# --- the annual assessment --------------------------------------------------------------------


def test_the_year_is_the_mean_of_its_months(
    db: Engine, registry: Registry, settings: Settings
) -> None:
    for m in range(1, 13):
        month = dt.date(2025, m, 1)
        nh3n = 0.4 if m <= 6 else 1.4  # Ⅱ for half the year, Ⅳ for the other half
        store_rows(db, _rows(month, {**GOOD, "nh3n": nh3n}, section=SECTION, hours=(10,),
                         kind="routine"))  # fmt: skip
        run_monthly(engine=db, registry=registry, month=month)
    run = run_annual(engine=db, registry=registry, year=2025)
    assert run.months_missing == ()
    record = next(r for r in annual_results(engine=db, year=2025) if r.section == SECTION)
    assert record.values["nh3n"] == pytest.approx(0.9)
    assert record.class_number == 3 and record.months["nh3n"] == 12
    app = create_app(settings, registry=registry)
    try:
        with live_server_for(app) as url, httpx.Client(
            base_url=url, timeout=30, headers=bearer(app.state.engine)
        ) as client:
            answer = client.get("/api/annual", params={"year": 2025})
            assert answer.status_code == 200
            assert SECTION in {r["section"] for r in answer.json()["data"]}
            assert client.get("/api/annual", params={"year": 2024}).status_code == 404
            assert client.get("/api/review").json()["count"] == 0
    finally:
        app.state.engine.dispose()


def test_a_year_with_too_few_months_is_insufficient(db: Engine, registry: Registry) -> None:
    for m in range(1, 8):  # 7 of 12 months: below 2/3 (8)
        month = dt.date(2025, m, 1)
        store_rows(db, _rows(month, GOOD, hours=(10,), kind="routine"))
        run_monthly(engine=db, registry=registry, month=month)
    run_annual(engine=db, registry=registry, year=2025)
    record = next(r for r in annual_results(engine=db, year=2025) if r.section == SECTION)
    assert record.class_number is None and "nh3n" in record.insufficient


def test_statements_from_the_database_list_the_validity_assumptions(
    db: Engine, registry: Registry
) -> None:
    statement = draft_statement(engine=db, registry=registry, month=DAY)
    assumptions = statement.rule_set.assumptions
    assert any("可疑值" in a and a.startswith("[假设]") for a in assumptions)
    assert any("超测上限" in a and "≥" in a for a in assumptions)


def test_review_decisions_are_audited(db: Engine, registry: Registry) -> None:
    from service.accounts import audit_events

    store_rows(db, _rows(DAY, GOOD, hours=(0, 4, 8, 12, 16)))
    store_rows(db, _rows(DAY, {"nh3n": 1.5}, hours=(20,), flag="T"))
    _qc_and_daily(db, registry, DAY, DAY)
    (item,), _ = pending_reviews(engine=db)
    review_observation(engine=db, observation_id=item.id, action="replace", value=4.2,
                       note="稀释后复测", actor="wang")  # fmt: skip
    (event,) = audit_events(engine=db, action="review.replace")
    assert (event.actor, event.target) == ("wang", str(item.id))
    assert event.detail == {"old": 1.5, "new": 4.2, "note": "稀释后复测"}
