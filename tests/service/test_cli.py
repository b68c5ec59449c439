"""The ``qingliu`` command line, through Typer's CliRunner."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from alembic.script import ScriptDirectory
from typer.testing import CliRunner

from service.cli import app
from service.db.engine import migrations_config

runner = CliRunner()


def _command_names() -> list[str]:
    command = typer.main.get_command(app)
    return sorted(command.commands)  # type: ignore[attr-defined]


def test_every_command_has_help() -> None:
    names = _command_names()
    assert {"demo", "migrate", "sections", "serve"} <= set(names)
    for name in names:
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0, name
        assert "Usage" in result.output


def test_sections_prints_the_registry_table() -> None:
    result = runner.invoke(app, ["sections"])
    assert result.exit_code == 0, result.output
    assert "小范桥" in result.output and "衡水湖大湖心" in result.output
    assert "13 个考核单位，15 个考核断面，共 19 个断面。" in result.output


REGISTRY = """
[[units]]
id = "a"
name = "甲县"

[[sections]]
id = "only"
name = "唯一断面"
confirmed = false
river = "某河"
water_body = "river"
level = "city"
assessed_unit = "a"
lon = 115.5
lat = 37.5
target_class = "IV"
note = "[A] test"
"""


def test_global_sections_option_replaces_the_registry(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(REGISTRY, encoding="utf-8")
    result = runner.invoke(app, ["--sections", str(path), "sections"])
    assert result.exit_code == 0, result.output
    assert "唯一断面" in result.output and "小范桥" not in result.output
    assert "共 1 个断面" in result.output


@pytest.mark.parametrize("command", [["sections"], ["demo", "--no-serve"], ["serve"]])
def test_bad_registry_exits_2_naming_the_entry_and_field(
    tmp_path: Path, command: list[str]
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(REGISTRY.replace('water_body = "river"', 'water_body = "sea"'), "utf-8")
    result = runner.invoke(
        app, ["--sections", str(path), *command], env={"QINGLIU_DATA_DIR": str(tmp_path / "d")}
    )
    assert result.exit_code == 2
    assert "sections[0] (only), field 'water_body'" in result.output
    assert "Traceback" not in result.output


def test_migrate_creates_the_sqlite_database(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    result = runner.invoke(app, ["migrate"], env={"QINGLIU_DATA_DIR": str(data_dir)})
    assert result.exit_code == 0, result.output
    head = ScriptDirectory.from_config(migrations_config()).get_current_head()
    assert f"revision {head}:" in result.output
    assert (data_dir / "qingliu.db").is_file()


def test_bad_database_url_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["migrate"], env={"QINGLIU_DATABASE_URL": "not a url"})
    assert result.exit_code == 6  # a configuration error
    assert "QINGLIU_DATABASE_URL" in result.output
