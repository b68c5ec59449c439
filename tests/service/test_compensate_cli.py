"""``qingliu compensate``: a month's compensation from a CSV, offline (CliRunner on the app)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from service.cli import app

runner = CliRunner(env={"QINGLIU_SECTIONS": None})

REGISTRY = """
[[units]]
id = "a"
name = "甲县"

[[units]]
id = "b"
name = "乙县"

[[sections]]
id = "up"
name = "上游对照"
confirmed = false
river = "某河"
water_body = "river"
level = "reference"
lon = 115.5
lat = 37.5
target_class = "III"

[[sections]]
id = "down"
name = "出境断面"
confirmed = false
river = "某河"
water_body = "river"
level = "provincial"
assessed_unit = "a"
upstream = "up"
lon = 115.6
lat = 37.6
target_class = "III"

[[sections]]
id = "other"
name = "乙县出境"
confirmed = false
river = "另河"
water_body = "river"
level = "provincial"
assessed_unit = "b"
lon = 115.7
lat = 37.7
target_class = "III"
[sections.standards]
tn = 2.0
"""

HEADER = "section,factor,date,value,kind,status,note\n"

MARCH_2025 = HEADER + (
    "down,cod,2025-03-05,45,routine,normal,\n"  # (45 − 20) / 20 = 1.25 → 7 tiers → 210
    "down,nh3n,2025-03-05,1.2,routine,normal,\n"
    "down,nh3n,2025-03-18,1.5,spot,normal,\n"  # the spot check is higher: 0.5 → 1 tier → 30
    "down,tp,2025-03-05,0.15,routine,normal,\n"
    "down,tp,2025-03-10,0.3,auto_daily,normal,\n"  # 3 exceeding days → one event, 30
    "down,tp,2025-03-11,0.31,auto_daily,normal,\n"
    "down,tp,2025-03-12,0.25,auto_daily,normal,\n"
    "other,cod,2025-03-01,,routine,frozen,河面结冰\n"
    "other,tn,2025-03-05,3.0,routine,normal,\n"  # override 2.0: 0.5 → 1 tier → 30
)


@pytest.fixture
def sections_file(tmp_path: Path) -> Path:
    path = tmp_path / "registry.toml"
    path.write_text(REGISTRY, encoding="utf-8")
    return path


def _write(tmp_path: Path, text: str, name: str = "input.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _run(sections: Path | None, *args: str) -> tuple[int, str, str]:
    prefix = [] if sections is None else ["--sections", str(sections)]
    result = runner.invoke(app, [*prefix, "compensate", *args])
    if result.exit_code not in (0, 2):  # a traceback, not a message
        raise AssertionError(f"exit {result.exit_code}: {result.exception!r}\n{result.stderr}")
    return result.exit_code, result.stdout, result.stderr


def _json(sections: Path, csv_path: Path, *args: str) -> dict[str, Any]:
    code, out, err = _run(sections, "--input", str(csv_path), *args)
    assert code == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


def _unit(document: dict[str, Any], unit_id: str) -> dict[str, Any]:
    [unit] = [u for u in document["units"] if u["unit"] == unit_id]
    return unit


# --- the JSON statement -------------------------------------------------------------------------


def test_json_statement_structure(tmp_path: Path, sections_file: Path) -> None:
    doc = _json(sections_file, _write(tmp_path, MARCH_2025), "--month", "2025-03")
    assert doc["month"] == "2025-03"
    rule_set = doc["rule_set"]
    assert rule_set["id"] == "hengshui-2021"
    assert rule_set["document"] == "衡政办字〔2021〕3号"
    texts = rule_set["assumptions"]
    assert any(a.startswith("[假设] 高锰酸盐指数超标倍数每档：0.2 倍") for a in texts)
    for derived in ("[推定] 每档扣缴金额：30 万元", "[推定] 扣缴上限：不设上限", "[推定] 月度取值"):
        assert any(a.startswith(derived) for a in texts), derived
    assert any(a.startswith("[假设] 湖库断面考核因子总氮") for a in texts)
    assert [u["unit"] for u in doc["units"]] == ["a", "b"]

    a = _unit(doc, "a")
    assert {
        "unit",
        "name",
        "total_wan",
        "total_yuan",
        "lines",
        "events",
        "exempt",
        "rewards",
    } <= set(a)
    assert (a["name"], a["total_wan"], a["total_yuan"]) == ("甲县", "270", "2700000")
    line_keys = {"section", "factor", "value", "standard", "inflow_value", "multiple", "tiers",
                 "amount_wan", "basis", "clause"}  # fmt: skip
    assert all(line_keys <= set(line) for line in a["lines"])
    lines = {line["factor"]: line for line in a["lines"]}
    assert set(lines) == {"cod", "nh3n"}
    cod = lines["cod"]
    assert {k: cod[k] for k in line_keys - {"basis", "clause"}} == {
        "section": "down", "factor": "cod", "value": "45.0", "standard": "20",
        "inflow_value": None, "multiple": "1.25", "tiers": 7, "amount_wan": "210",
    }  # fmt: skip
    assert cod["basis"] == "例行监测最高值"
    assert cod["clause"].startswith("衡政办字〔2021〕3号")
    nh3n = lines["nh3n"]
    assert (nh3n["value"], nh3n["multiple"], nh3n["tiers"], nh3n["amount_wan"]) == (
        "1.50", "0.5", 1, "30"
    )  # fmt: skip
    assert nh3n["basis"] == "抽测最高值"
    [event] = a["events"]
    assert {k: event[k] for k in ("section", "factor", "start", "end", "days", "amount_wan")} == {
        "section": "down", "factor": "tp", "start": "2025-03-10", "end": "2025-03-12",
        "days": 3, "amount_wan": "30",
    }  # fmt: skip
    assert a["exempt"] == []
    assert a["rewards"] == []

    b = _unit(doc, "b")
    assert (b["total_wan"], b["total_yuan"]) == ("30", "300000")
    assert b["exempt"] == [
        {"section": "other", "factor": "cod", "status": "frozen", "note": "河面结冰"}
    ]
    [tn] = b["lines"]
    assert (tn["factor"], tn["standard"], tn["multiple"], tn["amount_wan"]) == (
        "tn",
        "2",
        "0.5",
        "30",
    )
    assert b["events"] == [] and b["rewards"] == []


def test_decimals_are_strings(tmp_path: Path, sections_file: Path) -> None:
    doc = _json(sections_file, _write(tmp_path, MARCH_2025), "--month", "2025-03")
    for unit in doc["units"]:
        assert isinstance(unit["total_wan"], str) and isinstance(unit["total_yuan"], str)
        for line in unit["lines"]:
            for key in ("value", "standard", "multiple", "amount_wan"):
                assert isinstance(line[key], str), key
            assert isinstance(line["tiers"], int)
        for event in unit["events"]:
            assert isinstance(event["amount_wan"], str)


def test_unit_owing_nothing_is_listed_with_zero(tmp_path: Path, sections_file: Path) -> None:
    text = HEADER + "down,cod,2025-03-05,18,routine,normal,\n"
    doc = _json(sections_file, _write(tmp_path, text), "--month", "2025-03")
    assert [(u["unit"], u["total_wan"], u["total_yuan"]) for u in doc["units"]] == [
        ("a", "0", "0"), ("b", "0", "0")
    ]  # fmt: skip


def test_inflow_over_its_standard(tmp_path: Path, sections_file: Path) -> None:
    text = HEADER + (
        "up,cod,2018-02-05,24.0,routine,normal,\n"
        "down,cod,2018-02-05,23.6,routine,normal,\n"  # over by 0.18 but not increased → 0
        "up,nh3n,2018-02-05,1.2,routine,normal,\n"
        "down,nh3n,2018-02-05,1.8,routine,normal,\n"  # (1.8 − 1.2) / 1.2 = 0.5 → 1 tier
    )
    doc = _json(sections_file, _write(tmp_path, text), "--month", "2018-02")
    assert doc["rule_set"]["id"] == "hebei-2016"
    a = _unit(doc, "a")
    [line] = a["lines"]
    shown = [line[k] for k in ("factor", "value", "inflow_value", "multiple", "tiers")]
    assert shown == ["nh3n", "1.80", "1.20", "0.5", 1]
    [exempt] = a["exempt"]
    assert (exempt["section"], exempt["factor"], exempt["status"]) == (
        "down",
        "cod",
        "not_increased",
    )
    assert a["total_wan"] == "30"


# --- choosing the rule set ----------------------------------------------------------------------

TN_ROW = HEADER + "other,tn,2025-03-05,3.0,routine,normal,\n"


def test_rules_option_overrides_the_rule_set_of_the_month(
    tmp_path: Path, sections_file: Path
) -> None:
    path = _write(tmp_path, TN_ROW)
    default = _json(sections_file, path, "--month", "2025-03")
    assert default["rule_set"]["id"] == "hengshui-2021"
    assert _unit(default, "b")["total_wan"] == "30"
    chosen = _json(sections_file, path, "--month", "2025-03", "--rules", "hebei-2016")
    assert chosen["rule_set"]["id"] == "hebei-2016"
    assert chosen["rule_set"]["document"] == "冀政办字〔2016〕169号"
    assert _unit(chosen, "b")["lines"] == []  # hebei-2016 does not assess TN
    assert _unit(chosen, "b")["total_wan"] == "0"


def test_rules_option_takes_a_rule_file(tmp_path: Path, sections_file: Path) -> None:
    from importlib import resources

    text = (
        resources.files("compensation").joinpath("rules", "hengshui-2021.toml").read_text("utf-8")
    )
    rule_file = _write(
        tmp_path, text.replace('id = "hengshui-2021"', 'id = "trial"'), name="trial.toml"
    )
    doc = _json(sections_file, _write(tmp_path, TN_ROW), "--month", "2025-03",
                "--rules", str(rule_file))  # fmt: skip
    assert doc["rule_set"]["id"] == "trial"


# --- other formats and the bundled registry -----------------------------------------------------


def test_csv_format(tmp_path: Path, sections_file: Path) -> None:
    code, out, err = _run(
        sections_file, "--input", str(_write(tmp_path, MARCH_2025)), "--month", "2025-03",
        "--format", "csv",
    )  # fmt: skip
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    summary = sorted((r["unit"], r["kind"], r["factor"], r["amount_wan"]) for r in rows)
    assert summary == [
        ("a", "deduction", "cod", "210"),
        ("a", "deduction", "nh3n", "30"),
        ("a", "event", "tp", "30"),
        ("b", "deduction", "tn", "30"),
    ]
    cod = next(r for r in rows if r["factor"] == "cod")
    assert (cod["multiple"], cod["tiers"], cod["standard"]) == ("1.25", "7", "20")


# --- issue 9: automatic-station events per episode, the inflow rule for events ----------------

RUN = ("2025-03-10", "2025-03-11", "2025-03-12")
EPISODE = HEADER + "".join(
    f"other,{factor},{day},{value},auto_daily,normal,\n"
    for factor, value in (("codmn", "7.5"), ("nh3n", "1.6"), ("tp", "0.3"))
    for day in RUN
)


def test_issue9_a_run_over_on_three_factors_is_one_event(
    tmp_path: Path, sections_file: Path
) -> None:
    doc = _json(sections_file, _write(tmp_path, EPISODE), "--month", "2025-03")
    b = _unit(doc, "b")
    [event] = b["events"]
    assert (event["factor"], event["start"], event["end"], event["amount_wan"]) == (
        "nh3n+tp+codmn", "2025-03-10", "2025-03-12", "30"
    )  # fmt: skip
    assert b["total_wan"] == "30"  # not 90
    code, out, err = _run(
        sections_file, "--input", str(_write(tmp_path, EPISODE)), "--month", "2025-03",
        "--format", "csv",
    )  # fmt: skip
    assert code == 0, err
    [row] = list(csv.DictReader(io.StringIO(out)))
    assert row["counting"] == "episode"
    assert row["factor_days"] == ";".join(f"{f}:" + ",".join(RUN) for f in ("nh3n", "tp", "codmn"))


def test_issue9_counting_per_factor_from_a_rule_file(tmp_path: Path, sections_file: Path) -> None:
    from importlib import resources

    text = (
        resources.files("compensation").joinpath("rules", "hengshui-2021.toml").read_text("utf-8")
    )
    rules = _write(tmp_path, text.replace('counting = "episode"', 'counting = "factor"'),
                   "per-factor.toml")  # fmt: skip
    doc = _json(sections_file, _write(tmp_path, EPISODE), "--month", "2025-03",
                "--rules", str(rules))  # fmt: skip
    b = _unit(doc, "b")
    assert sorted(e["factor"] for e in b["events"]) == ["codmn", "nh3n", "tp"]
    assert b["total_wan"] == "90"
    assert any("按因子分别计次" in a for a in doc["rule_set"]["assumptions"])


def test_issue9_inflow_over_and_outflow_not_higher_is_no_event(
    tmp_path: Path, sections_file: Path
) -> None:
    text = HEADER + "".join(
        f"down,nh3n,{day},1.5,auto_daily,normal,\nup,nh3n,{day},1.8,auto_daily,normal,\n"
        for day in RUN
    )
    doc = _json(sections_file, _write(tmp_path, text), "--month", "2025-03")
    assert _unit(doc, "a")["events"] == []
    higher = text.replace("down,nh3n,2025-03-11,1.5", "down,nh3n,2025-03-11,1.9")
    doc = _json(sections_file, _write(tmp_path, higher), "--month", "2025-03")
    assert _unit(doc, "a")["events"] == []  # one day only is not cleared: no 3-day run
    all_higher = text.replace(",1.5,", ",1.9,")
    [event] = _unit(_json(sections_file, _write(tmp_path, all_higher), "--month", "2025-03"),
                    "a")["events"]  # fmt: skip
    assert event["factor"] == "nh3n"


def test_output_file(tmp_path: Path, sections_file: Path) -> None:
    target = tmp_path / "out.json"
    code, out, err = _run(
        sections_file, "--input", str(_write(tmp_path, MARCH_2025)), "--month", "2025-03",
        "--output", str(target),
    )  # fmt: skip
    assert code == 0, err
    assert out == ""
    assert json.loads(target.read_text("utf-8"))["month"] == "2025-03"


def test_bundled_registry(tmp_path: Path) -> None:
    text = HEADER + "xiaofanqiao,cod,2025-03-05,24,routine,normal,\n"
    code, out, err = _run(None, "--input", str(_write(tmp_path, text)), "--month", "2025-03")
    assert code == 0, err
    doc = json.loads(out)
    assert len(doc["units"]) == 13
    charged = [u for u in doc["units"] if u["total_wan"] != "0"]
    assert len(charged) == 1
    [line] = charged[0]["lines"]
    assert (line["section"], line["standard"], line["tiers"], line["amount_wan"]) == (
        "xiaofanqiao", "20", 1, "30"
    )  # fmt: skip


# --- bad input: exit code 2, the row named, nothing on stdout ---------------------------------

GOOD = "down,cod,2025-03-05,24,routine,normal,\n"
BAD_INPUT = [
    pytest.param(GOOD + "nowhere,cod,2025-03-05,24,routine,normal,\n",
                 ["row 3", "section", "nowhere"], id="unknown-section"),
    pytest.param(GOOD + "down,bod5,2025-03-05,24,routine,normal,\n",
                 ["row 3", "factor", "bod5"], id="unknown-factor"),
    pytest.param(GOOD + "down,cod,2025-02-30,24,routine,normal,\n",
                 ["row 3", "date", "2025-02-30"], id="bad-date"),
    pytest.param(GOOD + "down,cod,5/3/2025,24,routine,normal,\n",
                 ["row 3", "date", "5/3/2025"], id="bad-date-format"),
    pytest.param(GOOD + "down,cod,2025-03-05,2x4,routine,normal,\n",
                 ["row 3", "value", "2x4"], id="bad-number"),
    pytest.param(GOOD + "down,cod,2025-03-05,-4,routine,normal,\n",
                 ["row 3", "value", "-4"], id="negative-number"),
    pytest.param(GOOD + "down,cod,2025-03-05,24,manual,normal,\n",
                 ["row 3", "kind", "manual"], id="unknown-kind"),
    pytest.param(GOOD + "down,cod,2025-03-05,24,routine,flood,\n",
                 ["row 3", "status", "flood"], id="unknown-status"),
    pytest.param(GOOD + "down,cod,2025-03-05,,routine,normal,\n",
                 ["row 3", "value"], id="normal-row-without-value"),
    pytest.param(GOOD + GOOD + "down,cod,2025-03-05,24,routine,normal,,extra\n",
                 ["row 4", "more fields"], id="extra-field"),
]  # fmt: skip


@pytest.mark.parametrize(("rows", "words"), BAD_INPUT)
def test_bad_input_row_is_named(
    tmp_path: Path, sections_file: Path, rows: str, words: list[str]
) -> None:
    path = _write(tmp_path, HEADER + rows)
    code, out, err = _run(sections_file, "--input", str(path), "--month", "2025-03")
    assert code == 2
    assert out == ""
    for word in words:
        assert word in err
    assert "Traceback" not in err


def test_missing_column(tmp_path: Path, sections_file: Path) -> None:
    path = _write(tmp_path, "section,factor,date,value,status\ndown,cod,2025-03-05,24,normal\n")
    code, out, err = _run(sections_file, "--input", str(path), "--month", "2025-03")
    assert (code, out) == (2, "")
    assert "missing column" in err and "kind" in err


def test_bad_row_after_a_blank_line_names_its_file_line(
    tmp_path: Path, sections_file: Path
) -> None:
    path = _write(tmp_path, HEADER + GOOD + "\n" + "down,cod,2025-03-0x,24,routine,normal,\n")
    code, out, err = _run(sections_file, "--input", str(path), "--month", "2025-03")
    assert (code, out) == (2, "")
    assert "row 4" in err


def test_absurd_number_is_an_input_error(tmp_path: Path, sections_file: Path) -> None:
    path = _write(tmp_path, HEADER + "down,cod,2025-03-05,1e30,routine,normal,\n")
    code, out, err = _run(sections_file, "--input", str(path), "--month", "2025-03")
    assert (code, out) == (2, "")
    assert "row 2" in err


def test_unknown_rule_set(tmp_path: Path, sections_file: Path) -> None:
    path = _write(tmp_path, HEADER + GOOD)
    code, out, err = _run(
        sections_file, "--input", str(path), "--month", "2025-03", "--rules", "beijing-2030"
    )
    assert (code, out) == (2, "")
    assert "beijing-2030" in err
    assert "hebei-2016" in err and "hengshui-2021" in err


def test_bad_rule_file(tmp_path: Path, sections_file: Path) -> None:
    rule_file = _write(tmp_path, "id = \n", name="broken.toml")
    path = _write(tmp_path, HEADER + GOOD)
    code, out, err = _run(
        sections_file, "--input", str(path), "--month", "2025-03", "--rules", str(rule_file)
    )
    assert (code, out) == (2, "")
    assert "TOML" in err


@pytest.mark.parametrize("month", ["2025-13", "March 2025", "2025/03"])
def test_bad_month(tmp_path: Path, sections_file: Path, month: str) -> None:
    path = _write(tmp_path, HEADER + GOOD)
    code, out, err = _run(sections_file, "--input", str(path), "--month", month)
    assert (code, out) == (2, "")
    assert "YYYY-MM" in err


def test_month_before_any_rule_set(tmp_path: Path, sections_file: Path) -> None:
    path = _write(tmp_path, HEADER + "down,cod,2015-06-05,24,routine,normal,\n")
    code, out, err = _run(sections_file, "--input", str(path), "--month", "2015-06")
    assert (code, out) == (2, "")
    assert "2015-06" in err


def test_missing_input_file(tmp_path: Path, sections_file: Path) -> None:
    code, out, err = _run(
        sections_file, "--input", str(tmp_path / "absent.csv"), "--month", "2025-03"
    )
    assert (code, out) == (2, "")
    assert "cannot read input file" in err


# --- one home for "<DL" and for months (sections.detection, sections.dates) ---------------------


@pytest.mark.parametrize(("cell", "expected"), [
    ("<0.4", "0.2"), ("＜0.4", "0.2"), ("0.4L", "0.2"), ("0.35", "0.35"), ("", None),
])  # fmt: skip
def test_values_below_the_detection_limit_enter_as_half_the_limit(
    tmp_path: Path, sections_file: Path, cell: str, expected: str | None
) -> None:
    from decimal import Decimal

    from sections.registry import load_registry
    from service.offline.compensate import read_measurements

    status = "normal" if cell else "no_flow"
    path = _write(tmp_path, HEADER + f"down,nh3n,2025-03-05,{cell},routine,{status},\n")
    (measurement,) = read_measurements(path, registry=load_registry(sections_file))
    assert measurement.value == (None if expected is None else Decimal(expected))


def test_parse_month_is_the_one_of_sections_dates() -> None:
    import datetime as dt

    from service.errors import InputError
    from service.offline.compensate import parse_month

    assert parse_month("2025-07") == parse_month("2025-7") == dt.date(2025, 7, 1)
    with pytest.raises(InputError, match="YYYY-MM"):
        parse_month("2025-13")


def test_a_value_below_the_detection_limit_is_half_of_it_and_marked(
    tmp_path: Path, sections_file: Path
) -> None:
    text = HEADER + "down,cod,2025-03-05,<60,routine,normal,\n"  # counts as 30
    doc = _json(sections_file, _write(tmp_path, text), "--month", "2025-03")
    (line,) = [x for u in doc["units"] for x in u["lines"]]
    assert line["value"] == "30.0" and line["censored"] is True
