"""Jobs run by hand: QA/QC, daily classes (or a backfill), the monthly roll-up, the year, the
exceedance forecasts.

The batch jobs take the service settings, so ``QINGLIU_DASK_SCHEDULER`` sends their work to a Dask
cluster, and ``--workers`` (processes of the local pool; 1: in this process)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer

from service.cli import _options, _output, _report
from service.cli._context import state_of
from service.cli._options import AllowEmptyOption, MonthOption
from service.errors import InputError
from service.time import beijing_today

__all__ = [
    "WorkersOption",
    "run_annual_command",
    "run_daily_command",
    "run_forecast_command",
    "run_monthly_command",
    "run_qc_command",
]


WorkersOption = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="本机进程数（1 为本进程），缺省按断面数自定（设 QINGLIU_DASK_SCHEDULER 则用 Dask）"
        " / local worker processes (1: this process); default by the number of sections",
    ),
]


def _days(date: str | None, start: str | None, end: str | None) -> tuple[dt.date, dt.date]:
    """The days of ``--date`` or ``--from``/``--to`` (default: yesterday, Beijing time)."""
    if date and (start or end):
        raise InputError("--date 与 --from/--to 只能选一种 / use --date or --from/--to")
    if (start is None) != (end is None):
        raise InputError("--from 与 --to 须同时给出 / give both --from and --to")
    if start and end:
        first, last = _options.day(start, "--from"), _options.day(end, "--to")
    else:
        first = last = (
            _options.day(date, "--date") if date else beijing_today() - dt.timedelta(days=1)
        )
    if last < first:
        raise InputError("--to 早于 --from / --to is before --from")
    return first, last


def run_daily_command(
    ctx: typer.Context,
    date: Annotated[
        str | None, typer.Option(help="日期 YYYY-MM-DD，缺省为昨天（北京时间）/ the day")
    ] = None,
    start: Annotated[str | None, typer.Option("--from", help="补算起始日 / backfill from")] = None,
    end: Annotated[str | None, typer.Option("--to", help="补算截止日 / backfill to")] = None,
    quality: Annotated[
        bool, typer.Option("--qc/--no-qc", help="先运行质控 / run QA/QC first")
    ] = True,
    allow_empty: AllowEmptyOption = False,
    workers: WorkersOption = None,
) -> None:
    """逐日水质评价（可补算区间）。Classify every section for a day, or backfill a range.

    When no section-day could be classified (no data) it says so and exits 2, unless
    --allow-empty.
    """
    from service.jobs.daily import run_daily
    from service.jobs.observations import day_bounds
    from service.jobs.quality import run_quality

    first, last = _days(date, start, end)
    state = state_of(ctx)
    registry, engine, settings = state.registry(), state.engine(), state.settings()
    with _report.progress_bar() as progress:
        if quality:
            qc_task = progress.add_task("质控 / QA/QC", total=None)
            low, high = day_bounds(first, last)
            run_quality(engine=engine, registry=registry, start=low, end=high, settings=settings,
                        workers=workers)  # fmt: skip
            progress.update(qc_task, total=1, completed=1)
        task = progress.add_task("逐日评价 / daily classification", total=(last - first).days + 1)
        summary = run_daily(
            engine=engine, registry=registry, first=first, last=last,
            progress=lambda n: progress.advance(task, n), settings=settings, workers=workers,
        )  # fmt: skip
    typer.echo(_report.daily_line(summary))
    if summary.classified == 0:
        span = f"{first}" if first == last else f"{first} – {last}"
        _output.nothing_found(
            f"{span} 没有可评价的断面日（无数据或数据不足）/ no section-day could be classified "
            "(no data, or too little)",
            allow_empty=allow_empty,
        )


def run_monthly_command(
    ctx: typer.Context,
    month: MonthOption,
    allow_empty: AllowEmptyOption = False,
    workers: WorkersOption = None,
) -> None:
    """月度汇总：月均值、类别、优良比例、劣Ⅴ、衡水湖。Roll up a month.

    When no counted section and not the lake could be classified (no data) it says so and exits
    2, unless --allow-empty.
    """
    from service.jobs.monthly import run_monthly

    first = _options.month(month)
    state = state_of(ctx)
    result = run_monthly(
        engine=state.engine(), registry=state.registry(), month=first,
        settings=state.settings(), workers=workers,
    )  # fmt: skip
    summary = result.record
    typer.echo(_report.monthly_line(summary))
    if summary.assessable == 0 and (summary.lake is None or summary.lake.class_number is None):
        _output.nothing_found(
            f"{first:%Y-%m} 没有可评价的断面，湖体也无类别（无数据或数据不足）/ no section and "
            "not the lake could be classified (no data, or too little)",
            allow_empty=allow_empty,
        )


def run_annual_command(
    ctx: typer.Context,
    year: Annotated[str, typer.Option(help="年份 YYYY / the year")],
) -> None:
    """年度评价：各断面年均值（由月均值）与类别。Assess a year from the monthly results."""
    from service.jobs.annual import run_annual

    number = _options.year(year)
    state = state_of(ctx)
    result = run_annual(engine=state.engine(), registry=state.registry(), year=number)
    typer.echo(_report.annual_line(result))


def run_qc_command(
    ctx: typer.Context,
    start: Annotated[str, typer.Option("--from", help="起始日 YYYY-MM-DD / first day")],
    end: Annotated[str, typer.Option("--to", help="截止日 YYYY-MM-DD / last day")],
    workers: WorkersOption = None,
) -> None:
    """质控：为自动站数据打 QARTOD 标记。Flag stored series (QA/QC)."""
    from service.jobs.observations import day_bounds
    from service.jobs.quality import run_quality

    first, last = _options.day(start, "--from"), _options.day(end, "--to")
    state = state_of(ctx)
    low, high = day_bounds(first, last)
    summary = run_quality(
        engine=state.engine(), registry=state.registry(), start=low, end=high,
        settings=state.settings(), workers=workers,
    )  # fmt: skip
    typer.echo(_report.quality_line(summary))


def run_forecast_command(
    ctx: typer.Context,
    at: Annotated[
        str | None,
        typer.Option(
            help="预报时刻 ISO 8601，缺省为现在（无时区按北京时间）/ issue as of this time"
        ),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="本机进程数，缺省为 CPU 数 / local worker processes")
    ] = None,
) -> None:
    """超标预报：各断面 4–72 h 预报并核验已到期的预报。Forecast every section and verify."""
    from service.jobs.forecast import run_forecasts

    now = _options.moment(at, "--at") if at else dt.datetime.now(dt.UTC)
    state = state_of(ctx)
    with _report.progress_bar() as progress:
        task = progress.add_task("超标预报 / forecasts", total=None)
        summary = run_forecasts(
            engine=state.engine(), registry=state.registry(), settings=state.settings(), now=now,
            workers=workers,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )  # fmt: skip
    typer.echo(summary.describe())
