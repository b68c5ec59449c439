"""Where commands write and in which format, and what they say when they find nothing.

The rules live in ``service/cli/_output.py``: the format from ``--output``'s extension, binary
formats never to a terminal nor to a file the user did not name, "nothing found" exits 2 unless
``--allow-empty``. CliRunner's standard output is never a terminal, so the terminal case is
tested on the helper with an explicit ``is_tty``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from service.cli import app
from service.cli._output import destination
from service.db.engine import make_engine, migrate
from service.errors import InputError
from service.settings import Settings
from service.time import BEIJING
from tests.conftest import store_rows

runner = CliRunner(env={"QINGLIU_SECTIONS": None, "QINGLIU_CHIEFS": None})

MARCH = dt.date(2025, 3, 1)
HOURS = (0, 4, 8, 12, 16, 20)
#: Class Ⅱ at a river section; nh3n above Ⅲ (1.0) at the other one.
GOOD = {"ph": 7.8, "do": 8.0, "codmn": 3.0, "nh3n": 0.3, "tp": 0.08}
BAD = {"ph": 7.6, "do": 6.0, "codmn": 5.0, "nh3n": 1.6, "tp": 0.15}


def _rows(section: str, values: dict[str, float]) -> list[dict[str, Any]]:
    """A whole month of 4-hourly automatic values at one section."""
    days = [MARCH + dt.timedelta(days=n) for n in range(31)]
    return [
        {"station": "MN-" + section, "section_id": section, "parameter": key,
         "observed_at": dt.datetime.combine(day, dt.time(hour), BEIJING), "value": value,
         "unit": "mg/L", "station_flag": "N", "qc_flag": None, "source": "hj212"}
        for day in days for key, value in values.items() for hour in HOURS
    ]  # fmt: skip


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite data directory with March 2025 at two sections, rolled up (April is empty)."""
    path = tmp_path_factory.mktemp("cli-output") / "data"
    path.mkdir()
    engine = make_engine(Settings(data_dir=path, scheduler=False))
    migrate(engine)
    store_rows(engine, _rows("xiaofanqiao", GOOD) + _rows("fuyang-jizhou", BAD))
    engine.dispose()
    env = {"QINGLIU_DATA_DIR": str(path)}
    for args in (["run", "daily", "--from", "2025-03-01", "--to", "2025-03-31", "--no-qc"],
                 ["run", "monthly", "--month", "2025-03"],
                 ["run", "monthly", "--month", "2025-04", "--allow-empty"]):  # fmt: skip
        result = runner.invoke(app, args, env=env)
        assert result.exit_code == 0, result.output
    return path


def _db(data_dir: Path, *args: str) -> Result:
    return runner.invoke(app, list(args), env={"QINGLIU_DATA_DIR": str(data_dir)})


# --- the helper: format from --output, binary never to a terminal --------------------------

FORMATS = ("json", "csv", "xlsx", "html", "pdf")


@pytest.mark.parametrize(
    ("output", "expected"),
    [("s.pdf", "pdf"), ("s.XLSX", "xlsx"), ("s.html", "html"), ("s.csv", "csv"),
     ("s.json", "json"), ("s", "json")],
)  # fmt: skip
def test_the_format_comes_from_the_extension(output: str, expected: str) -> None:
    target = destination(None, Path(output), allowed=FORMATS, default="json", is_tty=True)
    assert (target.fmt, target.path) == (expected, Path(output))


@pytest.mark.parametrize(
    ("fmt", "output", "message"),
    [("html", "s.pdf", "--format html 与 --output 的扩展名 .pdf 不符"),
     (None, "s.docx", "无法由 --output 的扩展名 .docx 确定格式"),
     (None, "s.txt", "give --format")],
)  # fmt: skip
def test_a_format_contradicting_the_extension_is_refused(
    fmt: str | None, output: str, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        destination(fmt, Path(output), allowed=FORMATS, default="json", is_tty=False)


def test_a_named_format_wins_over_an_unknown_extension() -> None:
    target = destination("csv", Path("s.dat"), allowed=FORMATS, default="json", is_tty=False)
    assert target.fmt == "csv"


@pytest.mark.parametrize("fmt", ["pdf", "xlsx"])
def test_binary_formats_are_never_written_to_a_terminal(fmt: str) -> None:
    with pytest.raises(InputError, match=f"{fmt} 是二进制格式，不向终端输出.* / {fmt} is binary"):
        destination(fmt, None, allowed=FORMATS, default="json", is_tty=True)
    assert destination(fmt, None, allowed=FORMATS, default="json", is_tty=False).path is None
    assert destination(fmt, Path(f"s.{fmt}"), allowed=FORMATS, default="json", is_tty=True)
    assert destination("json", None, allowed=FORMATS, default="json", is_tty=True)


# --- compensate: inferred format, no unnamed file ----------------------------------------------

HEADER = "section,factor,date,value,kind,status,note\n"
COMPENSATION = HEADER + "xiaofanqiao,cod,2025-03-05,45,routine,normal,\n"


def _compensate(tmp_path: Path, *args: str, rows: str = COMPENSATION) -> Result:
    data = tmp_path / "input.csv"
    data.write_text(rows, encoding="utf-8")
    return runner.invoke(app, ["compensate", "--input", str(data), "--month", "2025-03", *args])


def test_compensate_pdf_without_output_goes_to_redirected_stdout_and_writes_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    result = _compensate(tmp_path, "--format", "pdf")
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes.startswith(b"%PDF")
    assert list(work.iterdir()) == []  # nothing the user did not name


def test_compensate_infers_xlsx_from_output(tmp_path: Path) -> None:
    target = tmp_path / "out.xlsx"
    result = _compensate(tmp_path, "--output", str(target))
    assert result.exit_code == 0, result.output
    assert target.read_bytes().startswith(b"PK")  # a zip (XLSX), not JSON
    assert result.stdout == "" and "已写入 / written" in result.stderr


def test_compensate_refuses_a_format_contradicting_output(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    result = _compensate(tmp_path, "--format", "csv", "--output", str(target))
    assert result.exit_code == 2
    assert "--format csv 与 --output 的扩展名 .json 不符 / --format csv contradicts" in (
        result.stderr
    )
    assert not target.exists()


def test_compensate_without_rows_for_the_month_says_so(tmp_path: Path) -> None:
    rows = HEADER + "xiaofanqiao,cod,2025-02-05,45,routine,normal,\n"
    result = _compensate(tmp_path, rows=rows)
    assert result.exit_code == 2
    assert "无数据 / nothing found:" in result.stderr and "no rows for 2025-03" in result.stderr
    assert result.stdout == ""
    allowed = _compensate(tmp_path, "--allow-empty", rows=rows)
    assert allowed.exit_code == 0, allowed.output
    assert "无数据 / nothing found:" in allowed.stderr
    assert json.loads(allowed.stdout)["month"] == "2025-03"


# --- statement and bulletin from the database ---------------------------------------------------


def test_statement_prints_a_table_by_default_and_json_on_request(data_dir: Path) -> None:
    result = _db(data_dir, "statement", "--month", "2025-03")
    assert result.exit_code == 0, result.output
    assert "生态补偿 / compensation 2025-03（草稿 / draft）" in result.stdout
    assert "单位 unit" in result.stdout and "冀州区" in result.stdout
    assert "扣缴明细 / deductions" in result.stdout and "滏阳河冀州区出境" in result.stdout
    assert "自动站超标事件 / automatic-station events" in result.stdout
    with pytest.raises(json.JSONDecodeError):
        json.loads(result.stdout)
    as_json = _db(data_dir, "statement", "--month", "2025-03", "--format", "json")
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout)["month"] == "2025-03"


def test_statement_of_a_month_without_data_exits_2_unless_allowed(data_dir: Path) -> None:
    result = _db(data_dir, "statement", "--month", "2025-05")
    assert result.exit_code == 2
    assert "无数据 / nothing found: 2025-05 没有计入通报的监测数据" in result.stderr
    assert result.stdout == ""
    issued = _db(data_dir, "statement", "--month", "2025-05", "--issue")
    assert issued.exit_code == 2 and "未签发" in issued.stderr and "nothing issued" in issued.stderr
    allowed = _db(data_dir, "statement", "--month", "2025-05", "--allow-empty")
    assert allowed.exit_code == 0, allowed.output
    assert "无数据 / nothing found" in allowed.stderr and "单位 unit" in allowed.stdout


def test_bulletin_output_pdf_writes_a_pdf(data_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "bulletin.pdf"
    result = _db(data_dir, "bulletin", "--month", "2025-03", "--output", str(target))
    assert result.exit_code == 0, result.output
    assert target.read_bytes().startswith(b"%PDF")


def test_bulletin_of_a_month_without_classes_exits_2_unless_allowed(data_dir: Path) -> None:
    result = _db(data_dir, "bulletin", "--month", "2025-04")
    assert result.exit_code == 2
    assert "无数据 / nothing found: 2025-04" in result.stderr and result.stdout == ""
    allowed = _db(data_dir, "bulletin", "--month", "2025-04", "--allow-empty")
    assert allowed.exit_code == 0, allowed.output
    assert "<html" in allowed.stdout


# --- export observations --------------------------------------------------------------------


def _exported(result: Result) -> list[dict[str, str]]:
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.stdout)))


def test_export_filters_by_section(data_dir: Path) -> None:
    everything = _exported(_db(data_dir, "export", "observations"))
    assert {r["station"] for r in everything} == {"MN-xiaofanqiao", "MN-fuyang-jizhou"}
    rows = _exported(_db(data_dir, "export", "observations", "--section", "xiaofanqiao",
                         "--parameter", "nh3n"))  # fmt: skip
    assert len(rows) == 31 * len(HOURS)
    assert {(r["station"], r["parameter"]) for r in rows} == {("MN-xiaofanqiao", "nh3n")}


def test_export_of_an_unknown_section_lists_the_valid_ids(data_dir: Path) -> None:
    result = _db(data_dir, "export", "observations", "--section", "nowhere")
    assert result.exit_code == 3
    assert "没有断面 'nowhere' / unknown section 'nowhere'" in result.stderr
    assert "xiaofanqiao" in result.stderr


def test_export_of_nothing_exits_2_unless_allowed(data_dir: Path, tmp_path: Path) -> None:
    args = ("export", "observations", "--section", "hutuo-anping")
    result = _db(data_dir, *args)
    assert result.exit_code == 2
    assert "无数据 / nothing found: 没有符合条件的观测值" in result.stderr
    assert "--section hutuo-anping" in result.stderr and result.stdout == ""
    target = tmp_path / "empty.json"
    allowed = _db(data_dir, *args, "--allow-empty", "--output", str(target))
    assert allowed.exit_code == 0, allowed.output
    assert json.loads(target.read_text("utf-8")) == []  # the format from the extension


# --- jobs -----------------------------------------------------------------------------------


def test_run_daily_and_monthly_without_data_exit_2_unless_allowed(data_dir: Path) -> None:
    daily = _db(data_dir, "run", "daily", "--date", "2025-06-01", "--no-qc")
    assert daily.exit_code == 2
    assert "无数据 / nothing found: 2025-06-01 没有可评价的断面日" in daily.stderr
    allowed = _db(data_dir, "run", "daily", "--date", "2025-06-01", "--no-qc", "--allow-empty")
    assert allowed.exit_code == 0 and "无数据 / nothing found" in allowed.stderr
    monthly = _db(data_dir, "run", "monthly", "--month", "2025-06")
    assert monthly.exit_code == 2
    assert "无数据 / nothing found: 2025-06 没有可评价的断面" in monthly.stderr
    allowed = _db(data_dir, "run", "monthly", "--month", "2025-06", "--allow-empty")
    assert allowed.exit_code == 0 and "可评价断面 0/" in allowed.stdout
    found = _db(data_dir, "run", "daily", "--date", "2025-03-02", "--no-qc")
    assert found.exit_code == 0 and "nothing found" not in found.stderr
