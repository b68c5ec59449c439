"""``docs/cli.md`` is the ``--help`` of every command; these tests keep the two in step, and
README.md's command table names every command.

Regenerate after changing a command or its help::

    .venv/bin/python -m tests.service.test_cli_reference
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

import typer
from typer import rich_utils
from typer.testing import CliRunner

from service.cli import app

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
README = REFERENCE.parents[1] / "README.md"
WIDTH = 100
_ANSI = re.compile(r"\x1b\[[0-9;]*m")

HEADER = """\
# 命令参考 / CLI reference

每个命令的 `--help` 原文。全局选项 `--sections FILE`（断面名录）与 `--chiefs FILE`（河长名录）
可写在命令名之前或之后（`qingliu --sections F compensate …` 与 `qingliu compensate --sections F …`
相同）。
出错时只打印一行 `错误 / error [类别]: 说明`，退出码：输入有误 2、未找到 3、冲突 4、暂不可用 5、
配置错误 6、内部错误 1（附编号，详情写入 `qingliu-errors.log`：数据目录中，否则系统临时目录）。
查无数据（空月份、无匹配的观测值）时说明 `无数据 / nothing found: …` 并以 2 退出，加 `--allow-empty`
则以 0 退出。输出格式缺省由 `--output` 的扩展名推断（.json .csv .xlsx .html .pdf .txt）；pdf、xlsx
不输出到终端，也不写入未指定的文件。

The `--help` text of every command. The global options `--sections FILE` (section registry) and
`--chiefs FILE` (river-chief registry) go before or after the command name. An error prints one
line and exits with 2 (input), 3 (not found), 4 (conflict), 5 (unavailable), 6 (configuration)
or 1 (internal error, with a reference id; details in `qingliu-errors.log` in the data directory,
else the system's temporary directory). A command that finds nothing (a month without data, no
matching observation) says `无数据 / nothing found: …` and exits 2, or 0 with `--allow-empty`.
Without `--format`, the extension of `--output` gives the format; PDF and XLSX are never written to
a terminal, nor to a file the user did not name.

This file is generated: `.venv/bin/python -m tests.service.test_cli_reference`.
"""


def command_paths() -> list[tuple[str, ...]]:
    """Every command and group, root first, in the order ``--help`` lists them."""
    paths: list[tuple[str, ...]] = []

    def walk(command: object, path: tuple[str, ...]) -> None:
        paths.append(path)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, (*path, name))

    walk(typer.main.get_command(app), ())
    return paths


@contextlib.contextmanager
def _fixed_width() -> Iterator[None]:
    saved = rich_utils.MAX_WIDTH
    rich_utils.MAX_WIDTH = WIDTH
    try:
        yield
    finally:
        rich_utils.MAX_WIDTH = saved


def help_text(path: tuple[str, ...]) -> str:
    """``qingliu <path> --help`` as plain text, at a fixed width, without trailing spaces."""
    with _fixed_width():
        result = CliRunner().invoke(app, [*path, "--help"], prog_name="qingliu")
    assert result.exit_code == 0, (path, result.output)
    lines = [line.rstrip() for line in _ANSI.sub("", result.output).splitlines()]
    return "\n".join(lines).strip("\n")


def reference() -> str:
    """The whole of ``docs/cli.md``."""
    parts = [HEADER]
    for path in command_paths():
        title = " ".join(("qingliu", *path))
        parts.append(f"## `{title}`\n\n```text\n{help_text(path)}\n```\n")
    return "\n".join(parts)


def test_every_command_is_in_the_reference() -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    missing = [p for p in command_paths() if f"## `{' '.join(('qingliu', *p))}`" not in text]
    assert not missing, f"docs/cli.md lacks {missing}: regenerate it (see the module docstring)"


def _readme_commands() -> list[str]:
    """The rows of README.md's table under ``## Commands``."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| `qingliu ")]


def test_the_readme_lists_every_command_and_group() -> None:
    rows = _readme_commands()
    missing: list[str] = []
    for path in command_paths():
        if len(path) == 1:  # a top-level command or group: ``qingliu NAME`` starts a cell
            if not any(f"`qingliu {path[0]} " in r or f"`qingliu {path[0]}`" in r for r in rows):
                missing.append(path[0])
        elif len(path) == 2:  # a group's command: named in a row of the group
            group, name = path
            if not any(f"`qingliu {group} " in r and re.search(rf"\b{name}\b", r) for r in rows):
                missing.append(" ".join(path))
    assert not missing, f"README.md's command table lacks {missing}"


def test_reference_matches_the_help_of_every_command() -> None:
    assert REFERENCE.read_text(encoding="utf-8") == reference(), (
        "docs/cli.md is out of date: run .venv/bin/python -m tests.service.test_cli_reference"
    )


if __name__ == "__main__":
    REFERENCE.write_text(reference(), encoding="utf-8")
    print(f"wrote {REFERENCE}")
