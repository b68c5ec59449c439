"""``qingliu classify``: the offline classifier on real and hand-made files."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.cli import app

runner = CliRunner()


def _run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["classify", *args])
    return result.exit_code, result.stdout, result.stderr


def _write(tmp_path: Path, text: str, name: str = "input.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- the real national snapshot (CNEMC publish system, 2025-11-07) ------------------------------


@pytest.fixture(scope="module")
def snapshot(shared_data: Path) -> Path:
    return shared_data / "cnemc" / "national-2025-11-07.csv"


def test_national_snapshot_reproduces_every_published_class(snapshot: Path) -> None:
    code, out, err = _run(str(snapshot))
    assert code == 0, err
    records = json.loads(out)
    with snapshot.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(records) == len(rows) == 1565
    mismatches = [
        (row["section"], row["published_class"], record["class_number"])
        for row, record in zip(rows, records, strict=True)
        if record["class_number"] != int(row["published_class"])
    ]
    assert mismatches == []
    assert [r["section"] for r in records] == [row["section"] for row in rows]
    assert [r["time"] for r in records] == [row["time"] for row in rows]
    assert "ignored columns: river, city, province, temp, conductivity, turbidity, algae" in err


def test_national_snapshot_hengshui_rows(snapshot: Path) -> None:
    records = {r["section"]: r for r in json.loads(_run(str(snapshot))[1])}
    xiaofanqiao = records["小范桥"]
    assert (xiaofanqiao["class_number"], xiaofanqiao["class"], xiaofanqiao["label"]) == (
        3, "Ⅲ", "良好"
    )  # fmt: skip
    assert xiaofanqiao["indicators"] == ["ph", "do", "codmn", "nh3n", "tp"]
    assert "tli" not in xiaofanqiao
    lake = records["衡水湖大湖心"]
    assert lake["class_number"] == 3
    assert lake["indicator_classes"]["tp"] == 3  # 0.0292 → 0.029: lake Ⅲ (≤ 0.05)
    assert lake["tn_class_number"] == 4  # 1.068 → 1.07: lake TN Ⅳ (≤ 1.5), reported apart
    assert lake["tli"] is not None  # (the snapshot's chla is in mg/L, not our mg/m³)


# --- hand-made inputs -------------------------------------------------------------------------

SAMPLES = """section,time,water_body,ph,do,codmn,nh3n,tp,tn,cyanide,note
S1,t1,,7.9,8.0,4.0,1.6,0.25,,0.25,
S2,t2,lake,8.0,8.0,4.0,0.2,0.06,1.2,,
S3,t3,river,9.6,8.0,,,,,,
S4,t4,,,,,,,5.0,,only TN
"""


def test_sample_records_follow_input_order_with_all_fields(tmp_path: Path) -> None:
    code, out, err = _run(str(_write(tmp_path, SAMPLES)), "--target", "IV")
    assert code == 0, err
    s1, s2, s3, s4 = json.loads(out)
    assert s1["class_number"] == 6 and s1["class"] == "劣Ⅴ" and s1["label"] == "重度污染"
    assert s1["indicator_classes"] == {"ph": 1, "do": 1, "codmn": 2, "nh3n": 5, "tp": 4,
                                       "cyanide": 6}  # fmt: skip
    assert s1["exceedance_vs_iii"] == {"nh3n": 0.6, "tp": 0.25, "cyanide": 0.25}
    # against Ⅳ: NH3-N (1.6 − 1.5) / 1.5, cyanide (0.25 − 0.2) / 0.2; TP 0.25 ≤ 0.3
    assert s1["exceedance_vs_target"] == {"nh3n": 0.0667, "cyanide": 0.25}
    assert s1["main_pollutants"] == ["cyanide", "nh3n", "tp"]
    assert s2["tn_class_number"] == 4 and s2["tn_exceedance_vs_iii"] == 0.2
    assert s2["class_number"] == 4 and s2["main_pollutants"] == ["tp"]
    assert s2["tli"] is not None and s2["trophic_state"] is not None
    assert s3["class_number"] == 6 and s3["indicators"] == ["ph", "do"]  # pH 9.6 → 10
    assert s4["class_number"] is None and s4["class"] is None and s4["indicators"] == []
    assert "ignored columns: note" in err


def test_water_body_option_is_the_default_and_a_row_wins(tmp_path: Path) -> None:
    text = "section,water_body,tp\nA,,0.06\nB,river,0.06\n"
    code, out, _ = _run(str(_write(tmp_path, text)), "--water-body", "lake")
    assert code == 0
    a, b = json.loads(out)
    assert a["class_number"] == 4  # lake TP 0.06 > 0.05
    assert b["class_number"] == 2  # river TP 0.06 ≤ 0.1


def test_csv_output_flattens_the_records(tmp_path: Path) -> None:
    code, out, _ = _run(str(_write(tmp_path, SAMPLES)), "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 4
    assert rows[0]["main_pollutants"] == "cyanide;nh3n;tp"
    assert rows[0]["indicator_classes.nh3n"] == "5"
    assert rows[0]["exceedance_vs_iii.nh3n"] == "0.6"
    assert rows[3]["class_number"] == ""


DAYS = """section,time,water_body,ph,nh3n,tp
A,2025-01-01T00:00,river,7,0.5,0.1
A,2025-01-01T04:00,river,8,0.6,0.1
A,2025-01-01T08:00,river,7,<0.02,0.1
A,2025-01-01T12:00,river,8,2.0,0.1
A,2025-01-02T00:00+08:00,river,8,2.0,0.1
B,2024-12-31T16:00:00Z,lake,8,0.2,0.06
B,2024-12-31T20:00:00Z,lake,8,0.2,0.06
B,2025-01-01T00:00:00Z,lake,8,0.2,0.06
B,2025-01-01T04:00:00Z,lake,8,0.2,0.06
"""


def test_daily_values_with_validity_censoring_and_time_zones(tmp_path: Path) -> None:
    code, out, err = _run(str(_write(tmp_path, DAYS)), "--period", "day")
    assert code == 0, err
    records = json.loads(out)
    assert [(r["section"], r["period_start"]) for r in records] == [
        ("A", "2025-01-01"), ("A", "2025-01-02"), ("B", "2025-01-01")
    ]  # fmt: skip
    day1, day2, lake = records
    # NH3-N (0.5 + 0.6 + 0.01 + 2.0) / 4 = 0.7775 → 0.78: Class Ⅲ; <0.02 counts as 0.01
    assert day1["indicator_classes"] == {"ph": 1, "nh3n": 3, "tp": 2}
    assert day1["insufficient"] == []
    assert day2["class_number"] is None and day2["insufficient"] == ["ph", "nh3n", "tp"]
    assert lake["class_number"] == 4  # UTC times 16:00–04:00 are 1 Jan in Beijing


def test_monthly_values_need_enough_valid_days(tmp_path: Path) -> None:
    path = _write(tmp_path, DAYS)
    code, out, _ = _run(str(path), "--period", "month")
    assert code == 0
    assert all(r["class_number"] is None for r in json.loads(out))  # 1 valid day of 31
    code, out, _ = _run(str(path), "--period", "month", "--min-day-fraction", "0.03")
    first = json.loads(out)[0]
    assert first["class_number"] == 3 and first["period_start"] == "2025-01-01"


@pytest.mark.parametrize(
    ("text", "args", "message"),
    [
        ("section,nh3n\nA,0.5\nB,abc\n", [], "row 3, 列 / column 'nh3n'"),
        ("section,nh3n\nA,-0.5\n", [], "row 2, 列 / column 'nh3n'"),
        ("section,water_body,nh3n\nA,sea,0.5\n", [], "row 2, 列 / column 'water_body'"),
        ("section,nh3n\nA,0.5\n", ["--period", "day"], "needs a time column"),
        ("section,time,nh3n\nA,yesterday,0.5\n", ["--period", "day"],
         "row 2, 列 / column 'time'"),
        ("section,nh3n\nA,0.5,7\n", [], "row 2"),
    ],
    ids=["not a number", "negative", "water body", "no time column", "bad time", "extra field"],
)  # fmt: skip
def test_bad_input_exits_2_naming_row_and_column(
    tmp_path: Path, text: str, args: list[str], message: str
) -> None:
    code, out, err = _run(str(_write(tmp_path, text)), *args)
    assert code == 2
    assert out == ""
    assert message in err


def test_unknown_target_class_exits_2(tmp_path: Path) -> None:
    code, out, err = _run(str(_write(tmp_path, "nh3n\n0.5\n")), "--target", "VII")
    assert (code, out) == (2, "")
    assert "--target" in err


def test_missing_input_file_exits_2(tmp_path: Path) -> None:
    code, out, err = _run(str(tmp_path / "absent.csv"))
    assert (code, out) == (2, "")
    assert "cannot read input file" in err


# --- below the detection limit: "<x" and the laboratory's "xL" (sections.detection) ------------


@pytest.mark.parametrize("cell", ["<0.2", "＜0.2", "< 0.2", "0.2L"])
def test_below_detection_limit_counts_as_half_the_limit(tmp_path: Path, cell: str) -> None:
    # NH3-N: 0.1 (half of 0.2) is Class Ⅰ (≤ 0.15); the limit itself would be Class Ⅱ
    text = f"section,nh3n,cyanide\nA,{cell},0.004\nB,0.2,0.004\n"
    code, out, err = _run(str(_write(tmp_path, text)))
    assert code == 0, err
    below, measured = json.loads(out)
    assert below["indicator_classes"]["nh3n"] == 1
    assert measured["indicator_classes"]["nh3n"] == 2


def test_below_detection_limit_in_daily_means(tmp_path: Path) -> None:
    text = DAYS.replace("<0.02", "0.02L")
    code, out, err = _run(str(_write(tmp_path, text)), "--period", "day")
    assert code == 0, err
    expected = json.loads(_run(str(_write(tmp_path, DAYS, "lt.csv")), "--period", "day")[1])
    assert json.loads(out) == expected  # "0.02L" and "<0.02" mean the same: 0.01 in the mean
