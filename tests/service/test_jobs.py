"""The daily job, the monthly roll-up and the scheduler, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from sections.registry import Registry
from service.app import create_app
from service.cli import app as cli
from service.db.models import DailyResult, JobRun, SectionStatus, table_of
from service.errors import ConfigurationError
from service.jobs.daily import run_daily
from service.jobs.monthly import run_monthly, stored_summary
from service.jobs.schedule import daily, run_morning_jobs
from service.records import DayRecord, Provenance, encode
from service.settings import Settings
from service.time import BEIJING
from tests.conftest import bearer, live_server_for, store_rows

DAY = dt.date(2025, 7, 1)
RIVERS = ("fuyang-jizhou", "fuyang-taocheng", "fuyang-gaoxin", "xiaofanqiao", "fudong-wuyi",
          "hutuo-anping")  # fmt: skip


def _at(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), BEIJING)


HOURS = (0, 4, 8, 12, 16, 20)


def _rows(
    section: str,
    day: dt.date,
    values: dict[str, float],
    *,
    hours: tuple[int, ...] = HOURS,
    flag: str = "N",
    qc: int | None = None,
) -> list[dict[str, Any]]:
    return [
        {"station": "MN-" + section, "section_id": section, "parameter": key,
         "observed_at": _at(day, hour), "value": value, "unit": "mg/L", "station_flag": flag,
         "qc_flag": qc, "source": "hj212"}
        for key, value in values.items() for hour in hours
    ]  # fmt: skip


GOOD = {"ph": 7.8, "do": 8.0, "codmn": 3.0, "nh3n": 0.3, "tp": 0.08}  # Class Ⅱ


def _daily(engine: Engine, section: str, day: dt.date) -> tuple[DayRecord, Provenance]:
    with engine.connect() as connection:
        row = connection.execute(
            select(DailyResult.record, DailyResult.provenance).where(
                DailyResult.section_id == section, DailyResult.day == day
            )
        ).one()
    return DayRecord.model_validate(row.record), Provenance.model_validate(row.provenance)


def test_flagged_values_are_excluded_and_listed(db: Engine, registry: Registry) -> None:
    store_rows(db, _rows("xiaofanqiao", DAY, GOOD))
    # a maintenance value and a QC failure with polluting values: they must not count
    store_rows(db, _rows("xiaofanqiao", DAY, {"nh3n": 9.0}, hours=(1,), flag="M"))
    store_rows(db, _rows("xiaofanqiao", DAY, {"nh3n": 9.0}, hours=(2,), qc=4))
    run_daily(engine=db, registry=registry, first=DAY)
    record, provenance = _daily(db, "xiaofanqiao", DAY)
    assert record.class_number == 2 and record.values["nh3n"] == 0.3
    assert record.completeness == 1.0 and record.meets_target is True
    assert provenance.excluded == {"station_flag:M": 1, "qc:4:": 1}
    assert len(provenance.used["nh3n"]) == 6


def test_too_few_valid_values_is_insufficient(db: Engine, registry: Registry) -> None:
    store_rows(db, _rows("xiaofanqiao", DAY, GOOD, hours=(0, 4, 8)))  # 3 of 6: below 4
    run_daily(engine=db, registry=registry, first=DAY)
    record, _ = _daily(db, "xiaofanqiao", DAY)
    assert record.class_number is None
    assert set(record.insufficient) == set(GOOD)
    assert record.completeness == 0.0


def test_exceedance_against_target_and_main_pollutants(db: Engine, registry: Registry) -> None:
    store_rows(db, _rows("xiaofanqiao", DAY, {**GOOD, "nh3n": 1.6, "tp": 0.25}))
    run_daily(engine=db, registry=registry, first=DAY)
    record, _ = _daily(db, "xiaofanqiao", DAY)
    assert record.class_number == 5 and record.target_class_number == 3
    assert record.meets_target is False
    assert record.main_pollutants == ("nh3n", "tp")
    assert record.exceedance_vs_target == {"nh3n": 0.6, "tp": 0.25}


def test_rerunning_a_day_replaces_it_and_records_the_run(db: Engine, registry: Registry) -> None:
    store_rows(db, _rows("xiaofanqiao", DAY, GOOD))
    first = run_daily(engine=db, registry=registry, first=DAY)
    store_rows(db, _rows("xiaofanqiao", DAY, {"nh3n": 1.2}))  # a re-delivered, changed value
    second = run_daily(engine=db, registry=registry, first=DAY)
    with db.connect() as connection:
        count = connection.execute(select(func.count()).select_from(DailyResult)).scalar_one()
        runs = connection.execute(
            select(func.count()).select_from(JobRun).where(JobRun.job == "daily")
        ).scalar_one()
    assert count == 1 and runs == 2 and second.run_id != first.run_id
    record, _ = _daily(db, "xiaofanqiao", DAY)
    assert record.class_number == 4  # NH3-N 1.2: Class Ⅳ


def test_monthly_share_over_assessable_sections_only(db: Engine, registry: Registry) -> None:
    month = dt.date(2025, 7, 1)
    days = [month + dt.timedelta(days=i) for i in range(31)]
    for section in RIVERS[:5]:
        for day in days:
            store_rows(db, _rows(section, day, GOOD))
    for day in days:  # one section worse than Class Ⅲ all month
        store_rows(db, _rows(RIVERS[5], day, {**GOOD, "nh3n": 1.4}))
    for day in days[:15]:  # too few days for a monthly value
        store_rows(db, _rows("hutuo-raoyang", day, GOOD))
    with db.begin() as connection:
        connection.execute(
            table_of(SectionStatus).insert().values(
                section_id="fudong-wuyi", month=month, status="no_flow", note="断流",
                source="manual",
            )
        )  # fmt: skip
    result = run_monthly(engine=db, registry=registry, month=month)
    summary = result.record
    # fudong-wuyi is no-flow, hutuo-raoyang insufficient, 7 river sections have no data
    assert summary.sections == 13
    assert summary.assessable == 5
    assert summary.good == 4
    assert summary.good_share == 0.8 and summary.meets_share_target is True
    assert summary.worse_than_v == 0
    assert "fudong-wuyi" in summary.not_assessable
    assert "hutuo-raoyang" in summary.not_assessable
    assert stored_summary(engine=db, month=month) == summary
    assert encode(result.record) == encode(summary)  # the JSON form, as /api/summary answers


def test_lake_is_rolled_up_as_one_with_tn_apart(db: Engine, registry: Registry) -> None:
    month = dt.date(2025, 8, 1)
    for day in (month + dt.timedelta(days=i) for i in range(31)):
        big = {**GOOD, "tp": 0.04, "tn": 1.2, "chla": 20}
        small = {**GOOD, "tp": 0.08, "tn": 1.4, "chla": 30}
        store_rows(db, _rows("hengshuihu-dahuxin", day, big))
        store_rows(db, _rows("hengshuihu-xiaohu", day, small))
    lake = run_monthly(engine=db, registry=registry, month=month).record.lake
    assert lake is not None
    # mean TP (0.04 + 0.08) / 2 = 0.06 > lake Ⅲ 0.05: Class Ⅳ; TN 1.3: Ⅳ, reported apart
    assert (lake.class_number, lake.tn_class_number) == (4, 4)
    assert lake.meets_target is False
    assert lake.trophic_state in {"中营养", "轻度富营养", "中度富营养"}


def test_api_serves_daily_results_and_summary(
    db: Engine, registry: Registry, settings: Settings
) -> None:
    store_rows(db, _rows("xiaofanqiao", DAY, GOOD))
    run_daily(engine=db, registry=registry, first=DAY)
    run_monthly(engine=db, registry=registry, month=DAY)
    application = create_app(settings)
    try:
        with live_server_for(application) as url, httpx.Client(
            base_url=url, timeout=30, headers=bearer(application.state.engine)
        ) as http:
            day = http.get("/api/classifications", params={"date": "2025-07-01"}).json()
            assert day["count"] == 1 and day["data"][0]["section"] == "xiaofanqiao"
            daily = http.get("/api/sections/xiaofanqiao/daily").json()
            assert daily["data"][0]["class_number"] == 2
            latest = http.get("/api/sections/xiaofanqiao/latest").json()
            assert (
                latest["daily"]["day"] == "2025-07-01" and latest["latest"]["nh3n"]["value"] == 0.3
            )
            page = http.get("/api/sections/xiaofanqiao/observations",
                            params={"parameter": "nh3n", "page_size": 4}).json()  # fmt: skip
            assert page["count"] == 6 and len(page["data"]) == 4
            summary = http.get("/api/summary", params={"month": "2025-07"}).json()
            assert summary["summary"]["assessable"] == 0  # one day is not enough for a month
            assert "xiaofanqiao" in summary["summary"]["not_assessable"]
            assert len(summary["sections"]) == 19 + 1  # every section and the lake as a whole
            assert http.get("/api/summary", params={"month": "2025-06"}).status_code == 404
            assert http.get("/api/sections/nowhere/daily").status_code == 404
    finally:
        application.state.engine.dispose()


def test_next_run_is_the_next_morning_in_beijing() -> None:
    trigger = daily(Settings.from_env({"QINGLIU_DAILY_AT": "06:00"}).daily_at).trigger
    before = dt.datetime(2026, 11, 29, 21, 0, tzinfo=dt.UTC)  # 05:00 Beijing on the 30th
    after = dt.datetime(2026, 11, 29, 23, 0, tzinfo=dt.UTC)  # 07:00 Beijing on the 30th
    next_run = trigger.get_next_fire_time
    assert next_run(None, before) == dt.datetime(2026, 11, 30, 6, 0, tzinfo=BEIJING)
    assert next_run(None, after) == dt.datetime(2026, 12, 1, 6, 0, tzinfo=BEIJING)
    with pytest.raises(ConfigurationError, match="QINGLIU_DAILY_AT"):
        Settings.from_env({"QINGLIU_DAILY_AT": "six"})


def test_morning_jobs_classify_yesterday_and_roll_up_its_month(
    db: Engine, registry: Registry
) -> None:
    store_rows(db, _rows("xiaofanqiao", dt.date(2025, 7, 30), GOOD))
    done = run_morning_jobs(engine=db, registry=registry, today=dt.date(2025, 7, 31))
    assert done == ["daily 2025-07-30", "monthly 2025-07"]  # the month to date
    store_rows(db, _rows("xiaofanqiao", dt.date(2025, 7, 31), GOOD))
    done = run_morning_jobs(engine=db, registry=registry, today=dt.date(2025, 8, 1))
    assert done == ["daily 2025-07-31", "monthly 2025-07"]  # the finished month
    record, _ = _daily(db, "xiaofanqiao", dt.date(2025, 7, 31))
    assert record.class_number == 2
    assert stored_summary(engine=db, month=dt.date(2025, 7, 1)) is not None
    assert stored_summary(engine=db, month=dt.date(2025, 8, 1)) is None


def test_run_commands(tmp_path: Any) -> None:
    env = {"QINGLIU_DATA_DIR": str(tmp_path / "data")}
    runner = CliRunner()
    result = runner.invoke(cli, ["run", "daily", "--from", "2025-07-01", "--to", "2025-07-03",
                                 "--no-qc", "--allow-empty"], env=env)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "2025-07-01 – 2025-07-03" in result.output
    result = runner.invoke(cli, ["run", "monthly", "--month", "2025-07", "--allow-empty"], env=env)
    assert result.exit_code == 0, result.output
    assert "可评价断面 0/13" in result.output
    bad = runner.invoke(cli, ["run", "daily", "--date", "2025-13-01"], env=env)
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output
