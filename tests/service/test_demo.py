"""The demo: a seeded synthetic year stored in the database, identical for the same seed."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from sections.registry import Registry, load_registry
from service.cli import app
from service.db.engine import make_engine, migrate
from service.db.models import Observation, SectionStatus
from service.db.queries import count_observations, latest_forecasts, read_frame
from service.demo.run import default_demo_year, lab_file_name, seed_demo
from service.settings import Settings


@pytest.fixture(scope="module")
def small_registry(registry: Registry) -> Registry:
    """A river section on a small river (may stop) and a lake point: a quick but varied year."""
    keep = ("fudong-wuyi", "hengshuihu-dahuxin")
    return Registry(units=registry.units, sections=tuple(registry.section(k) for k in keep))


def _stored(engine: Engine) -> pd.DataFrame:
    columns = [Observation.station, Observation.section_id, Observation.parameter,
               Observation.observed_at, Observation.value, Observation.unit,
               Observation.station_flag, Observation.source]  # fmt: skip
    query = select(*columns).order_by(  # type: ignore[call-overload]
        Observation.station, Observation.parameter, Observation.observed_at
    )
    with engine.connect() as connection:
        frame = read_frame(connection, query)
    frame["observed_at"] = pd.to_datetime(frame["observed_at"], utc=True)
    return frame


def test_same_seed_stores_identical_data(
    engine: Engine, small_registry: Registry, tmp_path: Path, settings: Settings
) -> None:
    migrate(engine)
    first = seed_demo(
        engine=engine,
        registry=small_registry,
        year=2025,
        show_progress=False,
        data_dir=settings.data_dir,
    )
    stored_once = _stored(engine)
    assert len(stored_once) == first.observations + first.lab_values
    assert first.lab_values > 0

    again = seed_demo(
        engine=engine,
        registry=small_registry,
        year=2025,
        show_progress=False,
        data_dir=settings.data_dir,
    )
    assert again == first
    pd.testing.assert_frame_equal(_stored(engine), stored_once)

    other = make_engine(Settings(data_dir=tmp_path / "other"))
    try:
        migrate(other)
        seed_demo(engine=other, registry=small_registry, year=2025, show_progress=False)
        pd.testing.assert_frame_equal(_stored(other), stored_once)
        seed_demo(engine=other, registry=small_registry, year=2025, seed=7, show_progress=False)
        changed = _stored(other)
    finally:
        other.dispose()
    auto_once = stored_once[stored_once["source"] == "hj212"].reset_index(drop=True)
    auto_changed = changed[changed["source"] == "hj212"].reset_index(drop=True)
    assert len(auto_changed) == len(auto_once)  # same stations and times, other values
    assert not auto_changed["value"].equals(auto_once["value"])
    assert len(changed) > len(stored_once)  # the other seed's lab samples are on other days


def test_demo_year_is_complete_and_missing_values_stay_missing(
    engine: Engine, small_registry: Registry, settings: Settings
) -> None:
    migrate(engine)
    summary = seed_demo(
        engine=engine,
        registry=small_registry,
        year=2025,
        show_progress=False,
        data_dir=settings.data_dir,
    )
    stored = _stored(engine)
    river = stored[stored["section_id"] == "fudong-wuyi"]
    lake = stored[stored["section_id"] == "hengshuihu-dahuxin"]
    assert (river["parameter"] == "nh3n").sum() == 365 * 6
    assert (river["parameter"] == "ph").sum() == 365 * 24
    assert (lake["parameter"] == "chla").sum() == 365 * 6
    assert "chla" not in set(river["parameter"])
    stopped = stored[stored["station_flag"] == "F"]
    assert stopped["value"].isna().all()  # NULL in the database, never 0
    assert summary.flagged == int((stored["station_flag"] != "N").sum())
    auto = stored[stored["source"] == "hj212"]  # the stations' data arrive as HJ 212 frames
    assert auto["observed_at"].min() == pd.Timestamp("2024-12-31 16:00", tz="UTC")
    assert set(stored["source"]) == {"hj212", "manual"}  # and the laboratory's as a file


def test_lab_file_is_written_in_the_data_dir_and_imported_as_manual_data(
    engine: Engine, small_registry: Registry, settings: Settings
) -> None:
    migrate(engine)
    summary = seed_demo(engine=engine, registry=small_registry, year=2025, show_progress=False,
                        data_dir=settings.data_dir)  # fmt: skip
    assert summary.lab_file == settings.data_dir / lab_file_name(2025, 2025)
    assert summary.lab_file.exists()
    lab = pd.read_csv(summary.lab_file, dtype=str)
    assert list(lab.columns) == ["section", "sampled_at", "parameter", "value", "unit", "method",
                                 "lab", "kind"]  # fmt: skip
    stored = _stored(engine)
    manual = stored[stored["source"] == "manual"]
    assert len(manual) == len(lab) == summary.lab_values
    assert {"cod", "bod5", "fluoride", "hg", "cd"} <= set(manual["parameter"])
    assert not {"codmn", "nh3n", "tp"} & set(manual["parameter"])  # automatic items stay so
    # COD on every flowing month of each section, none in a no-flow or frozen month
    with engine.connect() as connection:
        statuses = connection.execute(select(SectionStatus.section_id, SectionStatus.month)).all()
    stopped = {(s, m.month) for s, m in statuses}
    cod = manual[manual["parameter"] == "cod"]
    local = cod["observed_at"].dt.tz_convert("Asia/Shanghai")
    have = set(zip(cod["section_id"], local.dt.month, strict=True))
    for section in small_registry.sections:
        for month in range(1, 13):
            assert ((section.id, month) in have) == ((section.id, month) not in stopped)
    again = seed_demo(engine=engine, registry=small_registry, year=2025, show_progress=False,
                      data_dir=settings.data_dir)  # fmt: skip
    assert again.lab_values == summary.lab_values
    pd.testing.assert_frame_equal(_stored(engine), stored)  # importing again changes nothing


def test_compensation_summary_figures_add_up() -> None:
    from decimal import Decimal

    from service.demo.run import summarise_compensation

    registry = load_registry()
    names = [u.name for u in registry.units]
    totals = {name: Decimal(0) for name in names}
    totals.update({"滨湖新区": Decimal(300), "桃城区": Decimal(240), "武邑县": Decimal(240),
                   "故城县": Decimal(150), "深州市": Decimal(60)})  # fmt: skip
    paying = {"滨湖新区": 8, "桃城区": 5, "武邑县": 4, "故城县": 3, "深州市": 2}
    summary = summarise_compensation(registry, totals=totals, paying=paying, events={"桃城区": 2})
    assert summary.total_wan == Decimal(990) == sum(a for _, a in summary.by_unit)
    assert [n for n, _ in summary.by_unit[:3]] == [
        "滨湖新区",
        "桃城区",
        "武邑县",
    ]  # ties: file order
    assert len(summary.by_unit) == 13 and summary.units_paying == 5 and summary.events == 2
    top = summary.top(3)
    assert [share for *_, share in top] == [Decimal("30.3"), Decimal("24.2"), Decimal("24.2")]
    lines = summary.lines()
    assert "全年扣缴 990 万元" in lines[0] and "5/13 个考核单位有扣缴" in lines[0]
    assert lines[1] == "扣缴最多的 3 个单位合计 780 万元，占全市 78.8%："
    assert lines[2] == "  滨湖新区 300 万元（30.3%，8 个月有扣缴）"


def test_default_demo_year_is_the_last_complete_year() -> None:
    import datetime as dt

    assert default_demo_year(dt.date(2026, 11, 29)) == 2025
    assert default_demo_year(dt.date(2026, 1, 1)) == 2025


SMALL = """
[[units]]
id = "wuyi"
name = "武邑县"

[[sections]]
id = "fudong-wuyi"
name = "滏东排河武邑县出境"
confirmed = false
river = "滏东排河"
water_body = "river"
level = "provincial"
assessed_unit = "wuyi"
station_mn = "HS131100FDW0001"
lon = 115.95
lat = 37.86
target_class = "V"
note = "[A] test"
"""


def test_demo_command_seeds_summarises_and_the_pages_show_it(tmp_path: Path) -> None:
    registry_file = tmp_path / "small.toml"
    registry_file.write_text(SMALL, encoding="utf-8")
    data_dir = tmp_path / "data"
    result = CliRunner().invoke(
        app,
        ["--sections", str(registry_file), "demo", "--no-serve", "--no-progress", "--year", "2024"],
        env={"QINGLIU_DATA_DIR": str(data_dir)},
    )
    assert result.exit_code == 0, result.output
    expected = 366 * (24 * 5 + 6 * 4)  # 2024 is a leap year
    assert f"自动站观测值 values  {expected:,}" in result.output
    lab = pd.read_csv(data_dir / lab_file_name(2024, 2025), dtype=str)  # written in the data dir
    assert f"实验室结果 lab        {len(lab):,}" in result.output
    assert "年份 year            2024" in result.output
    password = result.output.split("one-time admin password (shown once): ")[1].split()[0]
    assert "2024-01-01 00:00 – 2024-12-31 23:00" in result.output  # Beijing time
    line = result.output.split("水质预报 forecasts    ")[1].splitlines()[0]
    issued, skipped = int(line.split()[0]), int(line.split("跳过 ")[1].split("）")[0])
    # the drainage river runs dry in December: its series are reported, not forecast
    assert issued + skipped >= 6 and "起报于 2025-01-01 00:00" in line  # as of the year's end
    engine = make_engine(Settings(data_dir=data_dir))
    try:
        assert count_observations(engine=engine) == expected + len(lab)
        with engine.connect() as connection:
            statuses = connection.execute(select(SectionStatus.status)).scalars().all()
        assert set(statuses) <= {"no_flow", "frozen"}
        assert len(latest_forecasts(engine)) == issued * 18  # every horizon of every issue
        from service.accounts import authenticate

        admin = authenticate(engine=engine, username="admin", password=password)
        assert admin is not None and admin.role == "admin"
    finally:
        engine.dispose()


def test_section_page_shows_the_stored_parameters(
    engine: Engine, small_registry: Registry, settings: Settings
) -> None:
    import httpx

    from service.app import create_app
    from tests.conftest import live_server_for

    migrate(engine)
    summary = seed_demo(engine=engine, registry=small_registry, year=2025, show_progress=False,
                        data_dir=settings.data_dir)  # fmt: skip
    application = create_app(settings.with_(public_view=True))
    try:
        with live_server_for(application) as url:
            html = httpx.get(url + "/sections/hengshuihu-dahuxin", timeout=10).text
            index = httpx.get(url + "/", timeout=10).text
    finally:
        application.state.engine.dispose()
    assert "<td>叶绿素a</td><td>chla</td><td>mg/m³</td><td>2,190</td>" in html
    assert "<td>氨氮</td><td>nh3n</td><td>mg/L</td><td>2,190</td>" in html
    assert "2025-01-01 00:00 至 2025-12-31 23:00（北京时间）" in html
    assert summary.observations == 109_500
    assert f"数据库中观测值 {summary.observations + summary.lab_values:,} 条" in index
