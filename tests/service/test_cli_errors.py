"""The CLI's one error wrapper, global options in either place, and who opens a database."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from service.cli import _command, app
from service.cli._command import command
from service.cli._errors import ERROR_LOG_NAME, translate
from service.errors import ConflictError, DatabaseError, UnavailableError
from tests.service.test_cli import REGISTRY
from tests.service.test_compensate_cli import GOOD, HEADER
from tests.service.test_compensate_cli import REGISTRY as COMPENSATION_REGISTRY

runner = CliRunner()


def _one_line(result: Result) -> str:
    """The single stderr line of a failed command (and no traceback anywhere)."""
    assert "Traceback" not in result.output
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("错误 / error [")
    return lines[0]


def _registry(tmp_path: Path, text: str = REGISTRY) -> Path:
    path = tmp_path / "registry.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --- global options before and after the command --------------------------------------------


def test_compensate_takes_sections_before_or_after_the_command(tmp_path: Path) -> None:
    sections = _registry(tmp_path, COMPENSATION_REGISTRY)
    data = tmp_path / "input.csv"
    data.write_text(HEADER + GOOD, encoding="utf-8")
    args = ["--input", str(data), "--month", "2025-03", "--format", "csv"]
    before = runner.invoke(app, ["--sections", str(sections), "compensate", *args])
    after = runner.invoke(app, ["compensate", *args, "--sections", str(sections)])
    assert before.exit_code == after.exit_code == 0, before.stderr + after.stderr
    assert before.stdout == after.stdout
    assert "出境断面" in after.stdout  # a section of the file, not of the bundled registry


def test_the_option_after_the_command_wins(tmp_path: Path) -> None:
    bad = tmp_path / "absent.toml"
    result = runner.invoke(app, ["--sections", str(bad), "sections", "--sections",
                                 str(_registry(tmp_path))])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "唯一断面" in result.output


@pytest.mark.parametrize("where", ["before", "after"])
def test_a_database_command_takes_sections_in_either_place(tmp_path: Path, where: str) -> None:
    sections = ["--sections", str(_registry(tmp_path))]
    env = {"QINGLIU_DATA_DIR": str(tmp_path / "data")}
    add = ["stations", "add", "MN001", "--section", "only", "--password", "pw"]
    args = [*sections, *add] if where == "before" else [*add, *sections]
    result = runner.invoke(app, args, env=env)
    assert result.exit_code == 0, result.stderr
    listed = runner.invoke(app, ["stations", "list", *sections], env=env)
    assert listed.exit_code == 0, listed.stderr
    assert "MN001" in listed.output and "唯一断面" in listed.output
    # the bundled registry has no section "only": not found, exit 3
    plain = runner.invoke(app, add, env=env)
    assert plain.exit_code == 3
    assert "only" in _one_line(plain)


# --- offline commands never open a database -------------------------------------------------


@pytest.mark.parametrize("command_line", [["sections"], ["compensate"], ["classify"]])
def test_offline_commands_open_no_database(tmp_path: Path, command_line: list[str]) -> None:
    data_dir = tmp_path / "data"
    env = {"QINGLIU_DATA_DIR": str(data_dir), "QINGLIU_DATABASE_URL": "not a url"}
    if command_line == ["compensate"]:
        data = tmp_path / "input.csv"
        data.write_text(HEADER + GOOD, encoding="utf-8")
        registry = _registry(tmp_path, COMPENSATION_REGISTRY)
        command_line = ["compensate", "--input", str(data), "--month", "2025-03",
                        "--sections", str(registry)]  # fmt: skip
    elif command_line == ["classify"]:
        data = tmp_path / "input.csv"
        data.write_text("section,nh3n\nA,0.5\n", encoding="utf-8")
        command_line = ["classify", str(data)]
    result = runner.invoke(app, command_line, env=env)
    assert result.exit_code == 0, result.stderr  # the bad database URL is never read
    assert not data_dir.exists()


def test_migrate_is_all_the_migrate_command_does(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    result = runner.invoke(app, ["migrate"], env={"QINGLIU_DATA_DIR": str(data_dir)})
    assert result.exit_code == 0, result.stderr
    with sqlite3.connect(data_dir / "qingliu.db") as connection:
        assert connection.execute("SELECT count(*) FROM station").fetchone() == (0,)
        assert connection.execute("SELECT count(*) FROM observation").fetchone() == (0,)


# --- one line and an exit code for every error ----------------------------------------------


def test_a_write_refused_by_the_database_is_a_conflict(tmp_path: Path) -> None:
    """An IntegrityError (as when two processes issue at once) is exit 4 with one line."""
    data_dir = tmp_path / "data"
    env = {"QINGLIU_DATA_DIR": str(data_dir)}
    assert runner.invoke(app, ["migrate"], env=env).exit_code == 0
    with sqlite3.connect(data_dir / "qingliu.db") as connection:
        connection.execute(
            "CREATE TRIGGER clash BEFORE INSERT ON station BEGIN "
            "SELECT RAISE(ABORT, 'UNIQUE constraint failed: station.mn'); END"
        )
    result = runner.invoke(
        app, ["stations", "add", "MN001", "--section", "xiaofanqiao", "--password", "pw"], env=env
    )
    assert result.exit_code == ConflictError.exit_code == 4
    line = _one_line(result)
    assert "冲突 / conflict" in line and "UNIQUE constraint failed" in line


def test_a_corrupt_database_file_is_unavailable(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "qingliu.db").write_bytes(b"this is not a database" * 100)
    result = runner.invoke(app, ["stations", "list"], env={"QINGLIU_DATA_DIR": str(data_dir)})
    assert result.exit_code == DatabaseError.exit_code == 5
    assert "暂不可用 / unavailable" in _one_line(result)


def test_an_unexpected_error_is_one_line_with_a_reference_and_a_logged_traceback(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    demo = typer.Typer()

    @demo.callback()
    def _root() -> None:
        """A test app."""

    def broken() -> None:
        raise RuntimeError("a defect deep inside")

    command(demo, "broken")(broken)
    result = runner.invoke(demo, ["broken"], env={"QINGLIU_DATA_DIR": str(data_dir)})
    assert result.exit_code == 1
    line = _one_line(result)
    assert "内部错误 / internal error" in line
    assert "a defect deep inside" not in line  # internals stay in the log
    reference = re.search(r"reference ([0-9a-f]{12})", line)
    assert reference is not None
    log = (data_dir / ERROR_LOG_NAME).read_text(encoding="utf-8")
    assert reference.group(1) in log
    assert "Traceback" in log and "RuntimeError: a defect deep inside" in log


def test_a_usage_error_keeps_clicks_handling() -> None:
    result = runner.invoke(app, ["compensate", "--month", "2025-03"])
    assert result.exit_code == 2
    assert "Usage" in result.output and "--input" in result.output
    assert "错误 / error [" not in result.output


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["pull", "cnemc", "--once", "--every", "30m"], "--once"),
        (["pull", "cnemc", "--every", "soon"], "--every"),
        (["pull", "cnemc", "--every", "0s"], "--every"),
        (["run", "daily", "--from", "2025-07-02", "--to", "2025-07-01"], "--to"),
        (["run", "annual", "--year", "twenty"], "YYYY"),
        (["export", "observations", "--from", "yesterday"], "ISO 8601"),
        (["receive", "hj212", "--listen", "nowhere"], "HOST:PORT"),
        (["classify", "x.csv", "--min-day-fraction", "most"], "--min-day-fraction"),
    ],
    ids=["once and every", "bad interval", "zero interval", "reversed days", "bad year",
         "bad time", "bad listen address", "bad share"],
)  # fmt: skip
def test_bad_option_values_are_input_errors(tmp_path: Path, args: list[str], words: str) -> None:
    data_dir = tmp_path / "data"
    result = runner.invoke(app, args, env={"QINGLIU_DATA_DIR": str(data_dir)})
    assert result.exit_code == 2
    assert words in _one_line(result)
    assert not data_dir.exists()  # refused before any database is opened


def test_foreign_errors_are_mapped_into_the_tree() -> None:
    from sqlalchemy.exc import IntegrityError, OperationalError

    clash = IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed"))
    assert isinstance(translate(clash), ConflictError)
    gone = OperationalError("SELECT", {}, sqlite3.OperationalError("database is locked"))
    assert isinstance(translate(gone), DatabaseError)
    assert isinstance(translate(ConnectionRefusedError(111, "refused")), UnavailableError)
    assert isinstance(translate(TimeoutError()), UnavailableError)
    defect = KeyError("x")
    assert translate(defect) is defect
    assert translate(clash).__cause__ is clash


def _commands(group: object, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], object]]:
    found = []
    for name, sub in getattr(group, "commands", {}).items():
        if hasattr(sub, "commands"):
            found += _commands(sub, (*path, name))
        else:
            found.append(((*path, name), sub))
    return found


def _wrapped_by_command(callback: object) -> bool:
    """Whether a callback's wrapper chain passes through ``service.cli._command``."""
    while callback is not None:
        code = getattr(callback, "__code__", None)
        if code is not None and code.co_filename == _command.__file__:
            return True
        callback = getattr(callback, "__wrapped__", None)
    return False


def test_every_command_goes_through_the_wrapper_and_takes_the_global_options() -> None:
    commands = _commands(typer.main.get_command(app))
    assert len(commands) >= 22
    for path, cmd in commands:
        assert _wrapped_by_command(getattr(cmd, "callback", None)), path
        options = {o for p in getattr(cmd, "params", []) for o in getattr(p, "opts", [])}
        assert "--sections" in options, path


def test_a_bad_national_api_setting_is_a_configuration_error(tmp_path: Path) -> None:
    env = {"QINGLIU_DATA_DIR": str(tmp_path / "data"), "QINGLIU_CNEMC_URL": "ftp://example"}
    result = runner.invoke(app, ["pull", "cnemc", "--once"], env=env)
    assert result.exit_code == 6
    assert "QINGLIU_CNEMC_URL" in _one_line(result)
