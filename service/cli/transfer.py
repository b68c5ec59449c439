"""Data in and out by file: manual laboratory results in, observations out."""

from __future__ import annotations

import getpass
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from service.cli import _options, _output, _report
from service.cli._context import state_of
from service.cli._options import AllowEmptyOption, OutputOption
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
    section: Annotated[
        str | None, typer.Option(help="断面 id（名录）/ registry section id")
    ] = None,
    parameter: Annotated[str | None, typer.Option(help="参数键 / parameter key")] = None,
    start: Annotated[
        str | None,
        typer.Option(
            "--from", help="起始时间 ISO 8601（无时区为北京时间）/ from (ISO 8601, Beijing time)"
        ),
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="截止时间 ISO 8601 / to (ISO 8601)")
    ] = None,
    output_format: Annotated[
        ExportFormat | None,
        typer.Option(
            "--format",
            help="输出格式，缺省由 --output 的扩展名推断，否则 csv "
            "/ output format (default: from --output's extension, else csv)",
        ),
    ] = None,
    output: OutputOption = None,
    allow_empty: AllowEmptyOption = False,
) -> None:
    """导出观测值。Export observations (times ISO 8601 with offset).

    No observation matching the filters exits 2, unless --allow-empty (then an empty export).
    """
    from sections.parameters import parameters
    from service.export import export_observations, has_observations

    target = _output.destination(
        None if output_format is None else output_format.value, output,
        allowed=[f.value for f in ExportFormat], default=ExportFormat.csv.value,
    )  # fmt: skip
    first = None if start is None else _options.moment(start, "--from")
    last = None if end is None else _options.moment(end, "--to")
    if parameter is not None and parameter not in parameters():
        known = ", ".join(sorted(parameters()))
        raise InputError(
            f"未知参数 {parameter!r}，可用：{known} / unknown parameter {parameter!r}; "
            f"known: {known}"
        )
    state = state_of(ctx)
    if section is not None:
        state.section(section)
    engine = state.engine()
    if not has_observations(engine=engine, station=station, section=section,
                            parameter=parameter, start=first, end=last):  # fmt: skip
        asked = [f"--{name} {value}" for name, value in
                 (("station", station), ("section", section), ("parameter", parameter),
                  ("from", start), ("to", end)) if value is not None]  # fmt: skip
        _output.nothing_found(
            f"没有符合条件的观测值 / no observations match ({' '.join(asked) or '全部 / all'})",
            allow_empty=allow_empty,
        )
    target.write_text(
        export_observations(
            engine=engine, fmt=target.fmt, station=station, section=section, parameter=parameter,
            start=first, end=last,
        )
    )  # fmt: skip
