"""``qingliu chiefs`` and the global option ``--chiefs FILE``, through Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.cli import app
from service.cli._context import State
from service.settings import Settings

runner = CliRunner()

CHIEFS = """
[[reaches]]
id = "fuyang-wuqiang"
river = "滏阳河"
county = "wuqiang"
sections = ["xiaofanqiao"]
confirmed = true

[[chiefs]]
id = "city"
post = "滏阳河市级河长"
level = "市"
reaches = ["fuyang-wuqiang"]
channels = ["robot"]
confirmed = true

[[chiefs]]
id = "county"
post = "滏阳河武强县县级河长"
level = "县"
reaches = ["fuyang-wuqiang"]
escalate_to = "city"
confirmed = false
note = "[A]"

[[channels]]
id = "robot"
kind = "wecom"
url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=${MY_KEY}"
confirmed = true
"""


@pytest.fixture
def chiefs_file(tmp_path: Path) -> Path:
    path = tmp_path / "chiefs.toml"
    path.write_text(CHIEFS, encoding="utf-8")
    return path


def test_chiefs_lists_the_bundled_reaches_and_posts() -> None:
    result = runner.invoke(app, ["chiefs"])
    assert result.exit_code == 0, result.output
    for text in ("河长名录 / river chiefs (river_chiefs.toml)", "小范桥",
                 "滏阳河武强县县级河长 [A]", "衡水湖市级湖长 [A]", "wecom-city-fuyang",
                 "${QINGLIU_WECOM_KEY_JIZHOU}", "水质自动站运维单位"):  # fmt: skip
        assert text in result.output, text
    assert "14 个河段，21 位河长，24 个通道，1 个运维；60 条未核实 [A]，0 个无法送达。" in (
        result.output
    )
    assert "⚠" not in result.output


def test_chiefs_as_json() -> None:
    result = runner.invoke(app, ["chiefs", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert len(data["reaches"]) == 14 and len(data["chiefs"]) == 21
    chiefs = {c["id"]: c for c in data["chiefs"]}
    county = chiefs["fuyang-wuqiang-county"]
    assert (county["post"], county["level"], county["escalation"]) == (
        "滏阳河武强县县级河长", "县", ["fuyang-city"]
    )  # fmt: skip
    assert county["reachable"] is True and county["confirmed"] is False
    reach = next(r for r in data["reaches"] if r["id"] == "fuyang-wuqiang")
    assert reach["sections"] == [{"id": "xiaofanqiao", "name": "小范桥"}]
    assert reach["chiefs"] == ["fuyang-wuqiang-county", "fuyang-city"]
    channels = {c["id"]: c for c in data["channels"]}
    assert channels["dingtalk-city-office"]["secret"] == "${QINGLIU_DINGTALK_SECRET_CITY}"
    assert data["unreachable"] == data["uncovered"] == data["warnings"] == []


@pytest.mark.parametrize("where", ["before", "after"])
def test_chiefs_file_replaces_the_bundled_one(chiefs_file: Path, where: str) -> None:
    option = ["--chiefs", str(chiefs_file)]
    args = [*option, "chiefs"] if where == "before" else ["chiefs", *option]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "滏阳河市级河长" in result.output and "衡水湖" not in result.output
    assert "滏阳河武强县县级河长 [A] ⚠ 无法送达" in result.output  # no channel
    assert "滏阳河市级河长 [A]" not in result.output  # confirmed
    assert "chiefs[1] (county): 没有能送达的通道 / no channel reaches it" in result.output
    assert "1 个河段，2 位河长，1 个通道，0 个运维；1 条未核实 [A]，1 个无法送达。" in result.output


def test_chiefs_file_from_the_environment(chiefs_file: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["chiefs", "--format", "json"],
                           env={"QINGLIU_CHIEFS": str(chiefs_file)})  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["source"] == str(chiefs_file) and data["unreachable"] == ["county"]
    # the option after the command wins over the environment
    result = runner.invoke(app, ["chiefs", "--chiefs", str(tmp_path / "absent.toml")],
                           env={"QINGLIU_CHIEFS": str(chiefs_file)})  # fmt: skip
    assert result.exit_code == 2 and "cannot read file" in result.output


def test_settings_read_the_chiefs_file() -> None:
    assert Settings.from_env({"QINGLIU_CHIEFS": "mine.toml"}).chiefs == Path("mine.toml")
    assert Settings.from_env({}).chiefs is None
    state = State(chiefs_file=Path("given.toml"))
    assert state.settings().chiefs == Path("given.toml")


def test_river_chiefs_are_loaded_once_per_run(chiefs_file: Path) -> None:
    state = State(chiefs_file=chiefs_file)
    assert state.river_chiefs() is state.river_chiefs()
    assert state.river_chiefs().source == str(chiefs_file)


def test_bad_chiefs_file_exits_2_naming_the_entry_and_field(chiefs_file: Path) -> None:
    chiefs_file.write_text(CHIEFS.replace('level = "县"', 'level = "市"'), encoding="utf-8")
    result = runner.invoke(app, ["--chiefs", str(chiefs_file), "chiefs"])
    assert result.exit_code == 2
    assert "chiefs[1] (county), field 'escalate_to'" in result.output
    assert "must escalate to a higher level" in result.output
    assert "Traceback" not in result.output


def test_chiefs_are_checked_against_the_section_registry_in_use(
    chiefs_file: Path, tmp_path: Path
) -> None:
    registry = tmp_path / "sections.toml"
    registry.write_text(
        '[[units]]\nid = "wuqiang"\nname = "武强县"\n\n[[sections]]\nid = "other"\n'
        'name = "别的断面"\nconfirmed = false\nriver = "滏阳河"\nwater_body = "river"\n'
        'level = "city"\nassessed_unit = "wuqiang"\nlon = 115.9\nlat = 37.9\n'
        'target_class = "III"\n',
        encoding="utf-8",
    )
    result = runner.invoke(app, ["--sections", str(registry), "chiefs", "--chiefs",
                                 str(chiefs_file)])  # fmt: skip
    assert result.exit_code == 2
    assert "reaches[0] (fuyang-wuqiang), field 'sections'" in result.output
    assert "unknown section 'xiaofanqiao'" in result.output
