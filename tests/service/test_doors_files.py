"""The file doors through the CLI: impossible values, absurd dates, broken files, huge files.

Each case of issue 11 that printed a traceback or billed an impossible value, reproduced with
typer's CliRunner: one line on stderr, the exit code of an InputError (2), no traceback; a
refused manual file stays in the raw archive and nothing of it is stored.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from typer.testing import CliRunner, Result

from service.cli import app
from service.db.models import Observation, RawMessage
from service.errors import InputError
from service.feeds.manual import import_manual
from service.offline.dates import DateWindow
from service.time import BEIJING
from tests.service.test_compensate_cli import HEADER as COMPENSATE_HEADER
from tests.service.test_compensate_cli import REGISTRY as COMPENSATE_REGISTRY

runner = CliRunner(env={"QINGLIU_SECTIONS": None})

LAB_HEADER = "断面,采样时间,参数,数值,单位,实验室,类型\n"
GOOD_ROW = "xiaofanqiao,2026-07-03 09:30,cod,18.5,mg/L,市监测中心,例行\n"
HUGE_FIELD = "x" * (10 * 1024 * 1024)


def _one_line(result: Result) -> str:
    """The single stderr line of a refused command, exit code 2, no traceback anywhere."""
    assert result.exit_code == InputError.exit_code, result.output
    assert "Traceback" not in result.output and "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("错误 / error [输入有误 / invalid input]")
    return lines[0]


def _import(tmp_path: Path, path: Path) -> Result:
    return runner.invoke(
        app, ["import", "manual", str(path)], env={"QINGLIU_DATA_DIR": str(tmp_path / "data")}
    )


def _counts(tmp_path: Path) -> tuple[int, list[tuple[str, str]]]:
    engine = create_engine(f"sqlite:///{tmp_path / 'data' / 'qingliu.db'}")
    with engine.connect() as connection:
        stored = connection.execute(select(func.count()).select_from(Observation)).scalar_one()
        raws = connection.execute(select(RawMessage.parse_status, RawMessage.reason)).all()
    engine.dispose()
    return stored, [(status, reason or "") for status, reason in raws]


# --- manual laboratory files ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        pytest.param("xiaofanqiao,2026-07-03 09:30,cod,1e9,mg/L,市监测中心,例行\n",
                     "cod = 1e+09 超出物理可能范围", id="issue-11-cod-1e9"),
        pytest.param("xiaofanqiao,2026-07-03 09:30,ph,15,,市监测中心,例行\n",
                     "ph = 15 超出物理可能范围", id="ph-above-14"),
        pytest.param("xiaofanqiao,9999-12-31,cod,18.5,mg/L,市监测中心,例行\n",
                     "日期 9999-12-31T00:00:00 超出合理范围", id="issue-11-9999-12-31"),
        pytest.param("xiaofanqiao,0001-01-01 00:00,cod,18.5,mg/L,市监测中心,例行\n",
                     "日期 0001-01-01T00:00:00 超出合理范围", id="issue-11-year-1"),
        pytest.param("xiaofanqiao,1999-12-31 23:00,cod,18.5,mg/L,市监测中心,例行\n",
                     "超出合理范围 2000-01-01", id="before-2000"),
    ],
)  # fmt: skip
def test_manual_row_refused_with_line_and_reason(tmp_path: Path, row: str, reason: str) -> None:
    path = tmp_path / "lab.csv"
    path.write_text(LAB_HEADER + GOOD_ROW + row, encoding="utf-8")
    result = _import(tmp_path, path)
    assert result.exit_code == InputError.exit_code, result.output
    assert "Traceback" not in result.output
    assert "第 3 行 / line 3: " in result.stderr and reason in result.stderr
    stored, raws = _counts(tmp_path)
    assert stored == 0  # all or nothing: the good row is not stored either
    assert len(raws) == 1 and raws[0][0] == "rejected" and reason in raws[0][1]


def test_manual_partial_stores_the_good_rows_only(tmp_path: Path) -> None:
    path = tmp_path / "lab.csv"
    bad = "xiaofanqiao,2026-07-03 09:30,cod,1e9,mg/L,市监测中心,例行\n"
    path.write_text(LAB_HEADER + GOOD_ROW.replace("cod,18.5", "nh3n,0.8") + bad, "utf-8")
    result = runner.invoke(app, ["import", "manual", str(path), "--partial"],
                           env={"QINGLIU_DATA_DIR": str(tmp_path / "data")})  # fmt: skip
    assert result.exit_code == 0, result.output
    stored, raws = _counts(tmp_path)
    assert stored == 1 and raws[0][0] == "partial"


def test_a_sample_a_day_ahead_is_accepted_two_days_are_not() -> None:
    now = dt.datetime(2026, 7, 3, 12, tzinfo=BEIJING)
    window = DateWindow()
    assert window.reason(now + dt.timedelta(hours=23), now=now) == ""
    assert window.reason(now + dt.timedelta(days=2), now=now) != ""
    assert window.reason(dt.date(2000, 1, 1), now=now) == ""
    assert window.reason(dt.date(1999, 12, 31), now=now) != ""


def test_manual_csv_field_of_10_mb(tmp_path: Path) -> None:
    path = tmp_path / "lab.csv"
    path.write_text(LAB_HEADER + GOOD_ROW + f'xiaofanqiao,"{HUGE_FIELD}",cod,1,mg/L,a,例行\n',
                    encoding="utf-8")  # fmt: skip
    line = _one_line(_import(tmp_path, path))
    assert "第 3 行 / row 3" in line and "malformed CSV" in line
    assert _counts(tmp_path)[1][0][0] == "rejected"  # the file is archived for review


def test_manual_truncated_workbook(tmp_path: Path) -> None:
    from openpyxl import Workbook

    whole = tmp_path / "whole.xlsx"
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for cells in [LAB_HEADER.strip().split(","), *[GOOD_ROW.strip().split(",")] * 2000]:
        sheet.append(cells)
    workbook.save(whole)
    for cut in (0.5, 0.9):
        path = tmp_path / f"cut-{cut}.xlsx"
        data = whole.read_bytes()
        path.write_bytes(data[: int(len(data) * cut)])
        line = _one_line(_import(tmp_path, path))
        assert "workbook" in line


def test_manual_workbook_with_a_broken_sheet(tmp_path: Path) -> None:
    """A workbook whose directory is intact but whose sheet data is cut (read lazily)."""
    from openpyxl import Workbook

    whole = tmp_path / "whole.xlsx"
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for cells in [LAB_HEADER.strip().split(","), *[GOOD_ROW.strip().split(",")] * 200]:
        sheet.append(cells)
    workbook.save(whole)
    broken = tmp_path / "broken.xlsx"
    with zipfile.ZipFile(whole) as source, zipfile.ZipFile(broken, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename.endswith("sheet1.xml"):
                data = data[: len(data) // 2]
            target.writestr(item, data)
    line = _one_line(_import(tmp_path, broken))
    assert "workbook" in line


def test_manual_file_over_the_size_limit_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "lab.csv"
    with path.open("wb") as handle:
        handle.truncate(20 * 1024 * 1024 + 1)  # sparse: nothing is written or read
    line = _one_line(_import(tmp_path, path))
    assert "文件过大" in line and "20,971,520" in line
    assert _counts(tmp_path) == (0, [])  # not archived either


def test_manual_size_limit_is_a_parameter(db: object, registry: object, tmp_path: Path) -> None:
    path = tmp_path / "lab.csv"
    path.write_text(LAB_HEADER + GOOD_ROW, encoding="utf-8")
    with pytest.raises(InputError, match="split it"):
        import_manual(engine=db, registry=registry, path=path, max_bytes=10)  # type: ignore[arg-type]


# --- qingliu classify -----------------------------------------------------------------------


def _classify(tmp_path: Path, text: str, *args: str) -> Result:
    path = tmp_path / "input.csv"
    path.write_text(text, encoding="utf-8")
    return runner.invoke(app, ["classify", str(path), *args])


@pytest.mark.parametrize(
    ("text", "args", "expected"),
    [
        pytest.param("section,time,nh3n\na,2025-07-01T08:00,0.5\na,2025-07-01T09:00,4620\n", (),
                     "第 3 行 / row 3, 列 / column 'nh3n': nh3n = 4620 超出物理可能范围",
                     id="nh3n-above-1000"),
        pytest.param("section,time,ph\na,0001-01-01T08:00,7\n", ("--period", "day"),
                     "第 2 行 / row 2, 列 / column 'time': 日期 0001-01-01T08:00:00 超出合理范围",
                     id="issue-11-year-1"),
        pytest.param("section,time,ph\na,9999-12-31T08:00,7\n", (),
                     "column 'time': 日期 9999-12-31T08:00:00 超出合理范围", id="year-9999"),
        pytest.param(f'section,time,ph\na,2025-07-01T08:00,7\n"{HUGE_FIELD}",x,7\n', (),
                     "第 3 行 / row 3: CSV 格式错误", id="issue-11-10-MB-field"),
    ],
)  # fmt: skip
def test_classify_refuses_with_row_and_column(
    tmp_path: Path, text: str, args: tuple[str, ...], expected: str
) -> None:
    assert expected in _one_line(_classify(tmp_path, text, *args))


# --- qingliu compensate ---------------------------------------------------------------------


def _compensate(tmp_path: Path, rows: str) -> Result:
    sections = tmp_path / "registry.toml"
    sections.write_text(COMPENSATE_REGISTRY, encoding="utf-8")
    data = tmp_path / "input.csv"
    data.write_text(COMPENSATE_HEADER + rows, encoding="utf-8")
    args = ["--sections", str(sections), "compensate", "--input", str(data), "--month", "2025-03"]
    return runner.invoke(app, [*args, "--format", "json"])


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        pytest.param("down,cod,2025-03-05,1e9,routine,normal,\n",
                     "第 2 行 / row 2, 列 / column 'value': cod = 1e+09 超出物理可能范围",
                     id="issue-11-cod-1e9"),
        pytest.param("down,cod,0001-03-05,45,routine,normal,\n",
                     "列 / column 'date': 日期 0001-03-05 超出合理范围", id="issue-11-year-1"),
        pytest.param("down,tp,2025-03-05,<500,routine,normal,\n",
                     "column 'value': tp = 500 超出物理可能范围", id="censored-limit-too"),
        pytest.param(f'down,cod,2025-03-05,45,routine,normal,"{HUGE_FIELD}"\n',
                     "第 2 行 / row 2: CSV 格式错误", id="issue-11-10-MB-field"),
    ],
)  # fmt: skip
def test_compensate_refuses_with_row_and_column(tmp_path: Path, rows: str, expected: str) -> None:
    assert expected in _one_line(_compensate(tmp_path, rows))
