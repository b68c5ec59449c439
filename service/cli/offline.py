"""Offline commands: the registry, classification and compensation from files, no database."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from sections.periods import DEFAULT_MIN_DAILY_VALUES, DEFAULT_MIN_DAY_FRACTION
from service.cli import _options, _output, _report
from service.cli._context import state_of
from service.cli._options import (
    AllowEmptyOption,
    MonthOption,
    OutputOption,
    RulesOption,
    StatementFormatChoice,
    StatementFormatOption,
)
from service.errors import InputError
from service.time import beijing_today

__all__ = ["classify_command", "compensate_command", "sections_command"]


class OutputFormat(StrEnum):
    """Output formats of ``qingliu classify``."""

    json = "json"
    csv = "csv"


class PeriodChoice(StrEnum):
    """Periods of ``qingliu classify``."""

    sample = "sample"
    day = "day"
    month = "month"


class WaterBodyChoice(StrEnum):
    """Water bodies."""

    river = "river"
    lake = "lake"


def sections_command(ctx: typer.Context) -> None:
    """列出断面名录。Print the section registry as a table."""
    registry = state_of(ctx).registry()
    Console(width=200).print(_report.registry_table(registry, today=beijing_today()))
    typer.echo(_report.registry_counts(registry))


def classify_command(
    input_file: Annotated[
        Path, typer.Argument(metavar="INPUT.csv", help="输入 CSV / input CSV file")
    ],
    water_body: Annotated[
        WaterBodyChoice,
        typer.Option(help="缺省水体类型（行内 water_body 列优先）/ default water body"),
    ] = WaterBodyChoice.river,
    period: Annotated[
        PeriodChoice,
        typer.Option(help="逐样本、逐日或逐月评价 / per sample, day or month"),
    ] = PeriodChoice.sample,
    target: Annotated[
        str | None,
        typer.Option(help="目标类别，如 III 或 Ⅲ：另算对目标的超标倍数 / target class"),
    ] = None,
    output_format: Annotated[
        OutputFormat | None,
        typer.Option(
            "--format",
            help="输出格式，缺省由 --output 的扩展名推断，否则 json "
            "/ output format (default: from --output's extension, else json)",
        ),
    ] = None,
    output: OutputOption = None,
    min_daily_values: Annotated[
        int, typer.Option(help="日均值所需有效值个数 [A] / valid values for a daily value")
    ] = DEFAULT_MIN_DAILY_VALUES,
    min_day_fraction: Annotated[
        str,
        typer.Option(help="月均值所需有效日比例，如 2/3 [A] / share of valid days for a month"),
    ] = str(DEFAULT_MIN_DAY_FRACTION),
) -> None:
    """按 GB 3838-2002 评价 CSV 中的水质（离线）。Classify water quality from a CSV, offline.

    Columns: optional section, time, water_body, and parameter keys (ph, do, codmn, nh3n, tp,
    tn, …; values in mg/L, chla in mg/m³; empty = no value; <x = below the detection limit x).
    """
    from sections.classes import parse_class
    from sections.errors import UnknownClassError
    from service.offline.classify import (
        classify_input,
        read_classify_input,
        records_to_csv,
        records_to_json,
    )

    destination = _output.destination(
        None if output_format is None else output_format.value, output,
        allowed=[f.value for f in OutputFormat], default=OutputFormat.json.value,
    )  # fmt: skip
    try:
        target_class = parse_class(target) if target is not None else None
    except UnknownClassError as exc:
        raise InputError(f"--target: {exc}") from None
    share = _options.fraction(min_day_fraction, "--min-day-fraction")
    data = read_classify_input(input_file, water_body=water_body.value)
    if data.ignored:
        _report.errors_console().print(f"忽略的列 / ignored columns: {', '.join(data.ignored)}")
    records = classify_input(
        data, period=period.value, target=target_class,
        min_daily_values=min_daily_values, min_day_fraction=share,
    )  # fmt: skip
    text = (
        records_to_json(records)
        if destination.fmt == OutputFormat.json
        else records_to_csv(records)
    )
    destination.write((text if text.endswith("\n") else text + "\n").encode("utf-8"))


def compensate_command(
    ctx: typer.Context,
    input_file: Annotated[
        Path,
        typer.Option(
            "--input", help="输入 CSV：section, factor, date, value, kind, status / input CSV"
        ),
    ],
    month: MonthOption,
    rules: RulesOption = None,
    output_format: StatementFormatOption = None,
    output: OutputOption = None,
    allow_empty: AllowEmptyOption = False,
) -> None:
    """由 CSV 离线计算月度生态补偿金。Compute a month's compensation from a CSV, offline.

    Columns: section, factor (cod|codmn|nh3n|tp|tn), date (YYYY-MM-DD), value,
    kind (routine|spot|auto_daily), status (normal|no_flow|dry|frozen|excluded), optional note.
    A file without a row for the month exits 2, unless --allow-empty.
    """
    from compensation.engine import monthly_statement
    from compensation.rules import load_rule_set, rule_set_for
    from service.offline.compensate import read_measurements
    from service.statements.output import StatementFormat, render_statement

    target = _output.destination(
        None if output_format is None else output_format.value, output,
        allowed=[f.value for f in StatementFormatChoice], default=StatementFormatChoice.json.value,
    )  # fmt: skip
    first = _options.month(month)
    registry = state_of(ctx).registry()
    rule_set = load_rule_set(rules) if rules else rule_set_for(first)
    measurements = read_measurements(input_file, registry=registry)
    statement = monthly_statement(measurements, month=first, registry=registry, rule_set=rule_set)
    if not any(m.date.replace(day=1) == first for m in measurements):
        _output.nothing_found(
            f"{input_file} 中没有 {first:%Y-%m} 的数据 / no rows for {first:%Y-%m} in {input_file}",
            allow_empty=allow_empty,
        )
    target.write(render_statement(statement, fmt=StatementFormat(target.fmt)))
