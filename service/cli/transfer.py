"""Data in and out by file: manual laboratory results in, observations out."""

from __future__ import annotations

import getpass
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from service.cli import _options, _report
from service.cli._context import state_of
from service.errors import InputError

__all__ = ["export_observations_command", "import_manual_command"]


def import_manual_command(
    ctx: typer.Context,
    input_file: Annotated[Path, typer.Argument(metavar="FILE.csv|FILE.xlsx")],
    partial: Annotated[
        bool, typer.Option("--partial", help="只导入通过检查的行 / store the good rows only")
    ] = False,
) -> None:
    """导入实验室手工监测数据。Import manual laboratory results (all or nothing per file)."""
    from service.feeds.manual import import_manual

    state = state_of(ctx)
    report = import_manual(
        engine=state.engine(), registry=state.registry(), path=input_file, partial=partial,
        actor=f"cli:{getpass.getuser()}",
    )  # fmt: skip
    refused, summary = _report.import_report(report)
    console = _report.errors_console()
    for line in refused:
        console.print(line)
    typer.echo(summary)
    if report.errors and not report.stored:
        raise typer.Exit(code=InputError.exit_code)


class ExportFormat(StrEnum):
    """Formats of ``qingliu export``."""

    csv = "csv"
    json = "json"


def export_observations_command(
    ctx: typer.Context,
    station: Annotated[str | None, typer.Option(help="站点 MN / station")] = None,
    parameter: Annotated[str | None, typer.Option(help="参数键 / parameter key")] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="起始时间 ISO 8601（无时区为北京时间）")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="截止时间 ISO 8601")] = None,
    output_format: Annotated[ExportFormat, typer.Option("--format")] = ExportFormat.csv,
) -> None:
    """导出观测值。Export observations (times ISO 8601 with offset)."""
    from sections.parameters import parameters
    from service.export import export_observations

    first = None if start is None else _options.moment(start, "--from")
    last = None if end is None else _options.moment(end, "--to")
    if parameter is not None and parameter not in parameters():
        raise InputError(f"未知参数 / unknown parameter {parameter!r}")
    for chunk in export_observations(
        engine=state_of(ctx).engine(), fmt=output_format.value, station=station,
        parameter=parameter, start=first, end=last,
    ):  # fmt: skip
        sys.stdout.write(chunk)
