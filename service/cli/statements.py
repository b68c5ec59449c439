"""Monthly documents from the database: the compensation statement and the water bulletin."""

from __future__ import annotations

import getpass
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from service.cli import _options, _output, _report
from service.cli._context import state_of
from service.cli._options import (
    AllowEmptyOption,
    MonthOption,
    OutputOption,
    RulesOption,
    StatementShowChoice,
    StatementShowOption,
)
from service.errors import InputError

if TYPE_CHECKING:
    from service.statements.issue import IssueRecord

__all__ = ["BulletinFormat", "bulletin_command", "statement_command"]


def statement_command(
    ctx: typer.Context,
    month: MonthOption,
    unit: Annotated[
        str | None, typer.Option(help="考核单位 id，缺省为全市 / one unit (default: all)")
    ] = None,
    rules: RulesOption = None,
    output_format: StatementShowOption = None,
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
    allow_empty: AllowEmptyOption = False,
) -> None:
    """由数据库计算或签发月度生态补偿通报。Compute, issue or show a month's statement.

    Without --issue or --version the statement is a draft computed from the database now. It
    prints as a table unless --format (or the extension of --output) asks for json, csv, xlsx,
    html or pdf. A month without data is not issued and exits 2, unless --allow-empty.
    """
    from compensation.rules import load_rule_set, rule_set_for
    from service.statements.issue import issue_statement, issued_statement
    from service.statements.letterhead import Letterhead
    from service.statements.monthly import draft_statement
    from service.statements.output import StatementFormat, render_statement

    if issue and version is not None:
        raise InputError("--issue 与 --version 不能同时使用 / use either --issue or --version")
    target = _output.destination(
        None if output_format is None else output_format.value, output,
        allowed=[c.value for c in StatementShowChoice], default=StatementShowChoice.text.value,
    )  # fmt: skip
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
        if not _report.statement_has_data(statement, unit=unit):
            unissued = issue and not allow_empty
            _output.nothing_found(
                f"{first:%Y-%m} 没有计入通报的监测数据或断面状态{'，未签发' if unissued else ''} "
                f"/ no data the statement counts in {first:%Y-%m}"
                f"{' (nothing issued)' if unissued else ''}",
                allow_empty=allow_empty,
            )
        if issue:
            result = issue_statement(engine=engine, statement=statement,
                                     actor=f"cli:{getpass.getuser()}")  # fmt: skip
            record = result.record
            console = _report.errors_console()
            for line in _report.issue_lines(result, first):
                console.print(line)
    if target.fmt == StatementShowChoice.text:
        tables = _report.statement_tables(statement, unit=unit, issue=record)
        target.write(_report.text_of(*tables).encode("utf-8"))
        return
    head = Letterhead.from_settings(state.settings(), registry=state.registry())
    data = render_statement(statement, fmt=StatementFormat(target.fmt), unit=unit, issue=record,
                            head=head)  # fmt: skip
    target.write(data)


class BulletinFormat(StrEnum):
    """Formats of ``qingliu bulletin``."""

    html = "html"
    pdf = "pdf"


def bulletin_command(
    ctx: typer.Context,
    month: MonthOption,
    output_format: Annotated[
        BulletinFormat | None,
        typer.Option(
            "--format",
            help="html 或 pdf，缺省由 --output 的扩展名推断，否则 html；pdf 不输出到终端 "
            "/ html or pdf (default: from --output's extension, else html)",
        ),
    ] = None,
    output: OutputOption = None,
    allow_empty: AllowEmptyOption = False,
) -> None:
    """生成水质月报（需先运行 run monthly）。Render the monthly water-quality bulletin.

    A month whose roll-up classified no section and not the lake exits 2, unless --allow-empty.
    """
    from service.bulletins import bulletin_context, render_bulletin_html, render_bulletin_pdf
    from service.statements.letterhead import Letterhead

    target = _output.destination(
        None if output_format is None else output_format.value, output,
        allowed=[f.value for f in BulletinFormat], default=BulletinFormat.html.value,
    )  # fmt: skip
    state = state_of(ctx)
    first = _options.month(month)
    head = Letterhead.from_settings(state.settings(), registry=state.registry())
    context = bulletin_context(state.engine(), state.registry(), first, head=head)
    classified = any(row.klass is not None for row in (*context.rows, *context.reference_rows))
    if not classified and (context.lake is None or context.lake.klass is None):
        _output.nothing_found(
            f"{first:%Y-%m} 的月度汇总中没有任何断面或湖体的类别 / the roll-up of {first:%Y-%m} "
            "classified no section and not the lake",
            allow_empty=allow_empty,
        )
    data = (
        render_bulletin_pdf(context)
        if target.fmt == BulletinFormat.pdf
        else render_bulletin_html(context).encode("utf-8")
    )
    target.write(data)
