"""Monthly documents from the database: the compensation statement and the water bulletin."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from service.cli import _options, _report
from service.cli._context import state_of
from service.cli._options import (
    MonthOption,
    OutputOption,
    RulesOption,
    StatementFormatChoice,
    StatementFormatOption,
)
from service.errors import InputError

if TYPE_CHECKING:
    from service.statements.issue import IssueRecord

__all__ = ["bulletin_command", "statement_command"]


def statement_command(
    ctx: typer.Context,
    month: MonthOption,
    unit: Annotated[
        str | None, typer.Option(help="考核单位 id，缺省为全市 / one unit (default: all)")
    ] = None,
    rules: RulesOption = None,
    output_format: StatementFormatOption = StatementFormatChoice.json,
    output: OutputOption = None,
    issue: Annotated[
        bool,
        typer.Option(
            "--issue", help="签发：保存不可更改的新版本（内容未变则不新增）/ issue a new version"
        ),
    ] = False,
    version: Annotated[
        int | None,
        typer.Option(help="显示已签发的第 N 版（原样）/ show issued version N exactly"),
    ] = None,
) -> None:
    """由数据库计算或签发月度生态补偿通报。Compute, issue or show a month's statement.

    Without --issue or --version the statement is a draft computed from the database now.
    """
    from compensation.rules import load_rule_set, rule_set_for
    from service.statements.issue import issue_statement, issued_statement
    from service.statements.monthly import draft_statement
    from service.statements.output import StatementFormat, render_statement

    if issue and version is not None:
        raise InputError("--issue 与 --version 不能同时使用 / use either --issue or --version")
    state = state_of(ctx)
    first = _options.month(month)
    registry = state.registry()
    if unit is not None:
        state.unit(unit)
    engine = state.engine()
    record: IssueRecord | None = None
    if version is not None:
        statement, record, _ = issued_statement(engine=engine, month=first, version=version)
    else:
        rule_set = load_rule_set(rules) if rules else rule_set_for(first)
        statement = draft_statement(
            engine=engine, registry=registry, month=first, rule_set=rule_set
        )
        if issue:
            result = issue_statement(engine=engine, statement=statement,
                                     actor=f"cli:{getpass.getuser()}")  # fmt: skip
            record = result.record
            console = _report.errors_console()
            for line in _report.issue_lines(result, first):
                console.print(line)
    data = render_statement(
        statement, fmt=StatementFormat(output_format.value), unit=unit, issue=record
    )
    suffix = f"-{unit}" if unit else ""
    _report.write_output(
        data, fmt=output_format.value, output=output,
        default_name=f"qingliu-statement-{first:%Y-%m}{suffix}.{output_format.value}",
    )  # fmt: skip


def bulletin_command(
    ctx: typer.Context,
    month: MonthOption,
    output_format: Annotated[
        str, typer.Option("--format", help="html 或 pdf / html or pdf")
    ] = "html",
    output: Annotated[Path | None, typer.Option(help="输出文件 / output file")] = None,
) -> None:
    """生成水质月报（需先运行 run monthly）。Render the monthly water-quality bulletin."""
    from service.bulletins import bulletin_context, render_bulletin_html, render_bulletin_pdf

    if output_format not in ("html", "pdf"):
        raise InputError(
            f"--format 必须是 html 或 pdf / must be html or pdf, got {output_format!r}"
        )
    state = state_of(ctx)
    first = _options.month(month)
    context = bulletin_context(state.engine(), state.registry(), first)
    data = (
        render_bulletin_pdf(context)
        if output_format == "pdf"
        else render_bulletin_html(context).encode("utf-8")
    )
    _report.write_output(
        data, fmt=output_format, output=output,
        default_name=f"qingliu-bulletin-{first:%Y-%m}.{output_format}",
    )  # fmt: skip
