"""The ``qingliu`` command line (Typer). Commands only translate options and call the service."""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from sections.errors import SectionsError
from sections.periods import DEFAULT_MIN_DAILY_VALUES, DEFAULT_MIN_DAY_FRACTION, as_fraction
from sections.registry import Registry, load_registry
from service.errors import QingliuError
from service.settings import Settings
from service.time import BEIJING, beijing_today
from service.web.contexts import LEVEL_ZH, WATER_BODY_ZH

app = typer.Typer(
    name="qingliu",
    help="清流 Qingliu：衡水市地表水断面水质与生态补偿服务。Water-section quality and "
    "ecological compensation for Hengshui.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


@dataclass
class _State:
    sections_file: Path | None = None

    def settings(self) -> Settings:
        return Settings.from_env(sections=self.sections_file)

    def registry(self, settings: Settings | None = None) -> Registry:
        return load_registry((settings or self.settings()).sections)


def _fail(message: str) -> NoReturn:
    console = Console(stderr=True, soft_wrap=True)
    console.print(f"[bold red]错误 / error:[/] {message}", highlight=False)
    raise typer.Exit(code=2)


@app.callback()
def _main(
    ctx: typer.Context,
    sections: Annotated[
        Path | None,
        typer.Option(
            "--sections",
            help="断面名录文件（TOML），替换内置名录。Registry file replacing the bundled one.",
            envvar="QINGLIU_SECTIONS",
        ),
    ] = None,
) -> None:
    """清流 Qingliu."""
    ctx.obj = _State(sections_file=sections)


@app.command("sections")
def sections_command(ctx: typer.Context) -> None:
    """列出断面名录。Print the section registry as a table."""
    state: _State = ctx.obj
    try:
        registry = state.registry()
    except (SectionsError, QingliuError) as exc:
        _fail(str(exc))
    today = beijing_today()
    table = Table(title=f"断面名录 / section registry ({registry.source})")
    for header in ("id", "名称", "核实", "河流", "类型", "级别", "考核单位", "上游", "目标", "MN"):
        table.add_column(header)
    for section in registry.sections:
        unit = registry.unit(section.assessed_unit).name if section.assessed_unit else "—"
        table.add_row(
            section.id,
            section.name,
            "是" if section.confirmed else "否 [A]",
            section.river,
            WATER_BODY_ZH[section.water_body],
            LEVEL_ZH[section.level],
            unit,
            section.upstream or "—",
            section.target_class(today).label,
            section.station_mn or "—",
        )
    Console(width=200).print(table)
    typer.echo(
        f"{len(registry.units)} 个考核单位，{len(registry.assessed_sections())} 个考核断面，"
        f"共 {len(registry)} 个断面。"
    )


@app.command("migrate")
def migrate_command(ctx: typer.Context) -> None:
    """把数据库升级到最新结构。Upgrade the database to the newest schema."""
    from service.db.engine import current_revision, make_engine, migrate

    state: _State = ctx.obj
    try:
        settings = state.settings()
        engine = make_engine(settings)
        migrate(engine)
        revision = current_revision(engine)
    except (SectionsError, QingliuError) as exc:
        _fail(str(exc))
    url = engine.url.render_as_string(hide_password=True)
    typer.echo(f"数据库已是最新结构 / database at revision {revision}: {url}")


@app.command("demo")
def demo_command(
    ctx: typer.Context,
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="完成后启动网页服务 / serve the web app")
    ] = True,
    host: Annotated[str, typer.Option(help="网页服务地址 / host to serve on")] = DEFAULT_HOST,
    port: Annotated[int, typer.Option(help="网页服务端口 / port to serve on")] = DEFAULT_PORT,
    year: Annotated[
        int | None, typer.Option(help="模拟年份，缺省为上一整年 / year to simulate")
    ] = None,
    seed: Annotated[int, typer.Option(help="随机种子 / random seed (deterministic)")] = 2025,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="显示进度条 / show progress bars")
    ] = True,
) -> None:
    """生成一年模拟数据、入库、运行作业并启动网页服务。Seed a synthetic year and serve the app."""
    from compensation.errors import CompensationError
    from service.db.engine import make_engine, migrate
    from service.demo.run import (
        default_demo_year,
        issue_demo_statements,
        run_demo_jobs,
        seed_demo,
    )

    state: _State = ctx.obj
    try:
        settings = state.settings()
        registry = state.registry(settings)
        engine = make_engine(settings)
        migrate(engine)
        the_year = year if year is not None else default_demo_year(beijing_today())
        typer.echo(
            f"数据库 / database: {engine.url.render_as_string(hide_password=True)}\n"
            f"模拟 {the_year} 年、{len(registry)} 个断面的自动站数据（种子 {seed}）…"
        )
        summary = seed_demo(
            engine=engine, registry=registry, year=the_year, seed=seed, show_progress=progress,
            data_dir=settings.data_dir,
        )  # fmt: skip
        jobs = run_demo_jobs(
            engine=engine, registry=registry, year=the_year, show_progress=progress
        )
        compensation = issue_demo_statements(
            engine=engine, registry=registry, year=the_year, show_progress=progress
        )
    except (SectionsError, QingliuError, CompensationError) as exc:
        _fail(str(exc))
    share = summary.flagged / summary.observations if summary.observations else 0.0
    typer.echo(
        "\n演示数据已就绪 / demo ready:\n"
        f"  年份 year            {summary.year}\n"
        f"  断面 sections        {summary.sections}\n"
        f"  自动站观测值 values  {summary.observations:,}\n"
        f"  实验室结果 lab        {summary.lab_values:,}（其中抽测 spot {summary.spot_checks}）\n"
        f"  带标记 flagged       {summary.flagged:,} ({share:.1%})\n"
        f"  HJ 212 报文 frames    {summary.frames:,}（拒收 refused {summary.refused}）\n"
        f"  断流/结冰月 months    {summary.statuses}\n"
        f"  质控可疑/无效 QC      {jobs.qc_flagged:,}\n"
        f"  逐日评价 daily        {jobs.classified:,} 个断面日（数据不足 {jobs.insufficient}）\n"
        f"  月度优良比例 share    "
        + ("—" if jobs.year_share is None else f"{jobs.year_share:.1%}（全年平均，目标 ≥ 69.2%）")
        + "\n"
        f"  时间 span (北京时间)  {summary.first.astimezone(BEIJING):%Y-%m-%d %H:%M} – "
        f"{summary.last.astimezone(BEIJING):%Y-%m-%d %H:%M}"
    )
    for line in compensation.lines():
        typer.echo("  " + line)
    if serve:
        _serve(settings, registry, host=host, port=port)


@app.command("serve")
def serve_command(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="监听地址 / host")] = DEFAULT_HOST,
    port: Annotated[int, typer.Option(help="端口 / port")] = DEFAULT_PORT,
) -> None:
    """启动网页服务与接口。Serve the web app and API."""
    state: _State = ctx.obj
    try:
        settings = state.settings()
        registry = state.registry(settings)
    except (SectionsError, QingliuError) as exc:
        _fail(str(exc))
    _serve(settings, registry, host=host, port=port)


class OutputFormat(StrEnum):
    """Output formats of the offline commands."""

    json = "json"
    csv = "csv"


class StatementFormatChoice(StrEnum):
    """Formats of the compensation commands."""

    json = "json"
    csv = "csv"
    xlsx = "xlsx"
    html = "html"
    pdf = "pdf"


class PeriodChoice(StrEnum):
    """Periods of ``qingliu classify``."""

    sample = "sample"
    day = "day"
    month = "month"


class WaterBodyChoice(StrEnum):
    """Water bodies."""

    river = "river"
    lake = "lake"


@app.command("classify")
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
        OutputFormat, typer.Option("--format", help="输出格式 / output format")
    ] = OutputFormat.json,
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

    try:
        target_class = parse_class(target) if target is not None else None
    except UnknownClassError as exc:
        _fail(f"--target: {exc}")
    try:
        data = read_classify_input(input_file, water_body=water_body.value)
        if data.ignored:
            console = Console(stderr=True, soft_wrap=True)
            console.print(f"忽略的列 / ignored columns: {', '.join(data.ignored)}", highlight=False)
        records = classify_input(
            data,
            period=period.value,  # type: ignore[arg-type]
            target=target_class,
            min_daily_values=min_daily_values,
            min_day_fraction=as_fraction(min_day_fraction),
        )
    except (SectionsError, QingliuError, ValueError) as exc:
        _fail(str(exc))
    text = (
        records_to_json(records) if output_format is OutputFormat.json else records_to_csv(records)
    )
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _write_statement(data: bytes, *, fmt: str, output: Path | None, default_name: str) -> None:
    """Text formats go to stdout unless --output; binary ones to --output or a default file."""
    if output is None and fmt in ("json", "csv", "html"):
        sys.stdout.write(data.decode("utf-8"))
        return
    target = output or Path(default_name)
    try:
        target.write_bytes(data)
    except OSError as exc:
        _fail(f"无法写入 / cannot write {target}: {exc}")
    Console(stderr=True, soft_wrap=True).print(f"已写入 / written: {target}", highlight=False)


MonthOption = Annotated[str, typer.Option(help="月份 YYYY-MM / the month")]
RulesOption = Annotated[
    str | None,
    typer.Option(help="规则集 id 或文件，缺省按月份选择 / rule set (default: by month)"),
]
StatementFormatOption = Annotated[
    StatementFormatChoice, typer.Option("--format", help="输出格式 / output format")
]
OutputOption = Annotated[Path | None, typer.Option(help="输出文件，缺省为标准输出 / output file")]


@app.command("compensate")
def compensate_command(
    ctx: typer.Context,
    input_file: Annotated[
        Path, typer.Option("--input", help="输入 CSV：section, factor, date, value, kind, status")
    ],
    month: MonthOption,
    rules: RulesOption = None,
    output_format: StatementFormatOption = StatementFormatChoice.json,
    output: OutputOption = None,
) -> None:
    """由 CSV 离线计算月度生态补偿金。Compute a month's compensation from a CSV, offline.

    Columns: section, factor (cod|codmn|nh3n|tp|tn), date (YYYY-MM-DD), value,
    kind (routine|spot|auto_daily), status (normal|no_flow|dry|frozen|excluded), optional note.
    """
    from compensation.engine import monthly_statement
    from compensation.errors import CompensationError
    from compensation.rules import load_rule_set, rule_set_for
    from service.offline.compensate import parse_month, read_measurements
    from service.statements.output import StatementFormat, render_statement

    state: _State = ctx.obj
    try:
        first = parse_month(month)
        registry = state.registry()
        rule_set = load_rule_set(rules) if rules else rule_set_for(first)
        measurements = read_measurements(input_file, registry=registry)
        statement = monthly_statement(
            measurements, month=first, registry=registry, rule_set=rule_set
        )
        data = render_statement(statement, fmt=StatementFormat(output_format.value))
    except (SectionsError, QingliuError, CompensationError) as exc:
        _fail(str(exc))
    _write_statement(
        data,
        fmt=output_format.value,
        output=output,
        default_name=f"qingliu-compensation-{first:%Y-%m}.{output_format.value}",
    )


@app.command("statement")
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
    from compensation.errors import CompensationError
    from compensation.rules import load_rule_set, rule_set_for
    from sections.dates import parse_month
    from service.db.engine import make_engine, migrate
    from service.statements.issue import issue_statement, issued_statement
    from service.statements.monthly import draft_statement
    from service.statements.output import StatementFormat, render_statement

    state: _State = ctx.obj
    if issue and version is not None:
        _fail("--issue 与 --version 不能同时使用 / use either --issue or --version")
    record = None
    try:
        first = parse_month(month)
        settings = state.settings()
        registry = state.registry(settings)
        if unit is not None:
            try:
                registry.unit(unit)
            except KeyError as exc:
                raise QingliuError(str(exc.args[0])) from None
        engine = make_engine(settings)
        migrate(engine)
        if version is not None:
            statement, record, _ = issued_statement(engine=engine, month=first, version=version)
        else:
            rule_set = load_rule_set(rules) if rules else rule_set_for(first)
            statement = draft_statement(
                engine=engine, registry=registry, month=first, rule_set=rule_set
            )
            if issue:
                result = issue_statement(engine=engine, statement=statement)
                record = result.record
                console = Console(stderr=True, soft_wrap=True)
                if result.created:
                    console.print(
                        f"已签发 {first:%Y-%m} 第 {record.version} 版 / issued version "
                        f"{record.version}, sha256 {record.content_hash[:12]}…, "
                        f"较上一版变动 {len(result.diff)} 行 / {len(result.diff)} changed lines",
                        highlight=False,
                    )
                    for change in result.diff:
                        console.print(
                            f"  {change.change:8} {change.unit} {change.kind} {change.key}: "
                            f"{dict(change.before)} → {dict(change.after)}",
                            highlight=False,
                        )
                else:
                    console.print(
                        f"内容未变，仍为第 {record.version} 版 / unchanged: still version "
                        f"{record.version}",
                        highlight=False,
                    )
        data = render_statement(
            statement, fmt=StatementFormat(output_format.value), unit=unit, issue=record
        )
    except (SectionsError, QingliuError, CompensationError) as exc:
        _fail(str(exc))
    suffix = f"-{unit}" if unit else ""
    _write_statement(
        data,
        fmt=output_format.value,
        output=output,
        default_name=f"qingliu-statement-{first:%Y-%m}{suffix}.{output_format.value}",
    )


stations_app = typer.Typer(
    help="自动站登记（MN 与密码）/ station credentials", no_args_is_help=True
)
app.add_typer(stations_app, name="stations")
import_app = typer.Typer(help="导入数据 / import data", no_args_is_help=True)
app.add_typer(import_app, name="import")
export_app = typer.Typer(help="导出数据 / export data", no_args_is_help=True)
app.add_typer(export_app, name="export")


def _engine_for(state: _State) -> tuple[Settings, Registry, Any]:
    from service.db.engine import make_engine, migrate

    settings = state.settings()
    registry = state.registry(settings)
    engine = make_engine(settings)
    migrate(engine)
    return settings, registry, engine


@stations_app.command("add")
def stations_add(
    ctx: typer.Context,
    mn: Annotated[str, typer.Argument(help="数采仪 MN（至多 24 个字符）/ the logger's MN")],
    section: Annotated[str, typer.Option(help="断面 id / section id")],
    password: Annotated[
        str,
        typer.Option(
            prompt="站点密码 / station password", hide_input=True,
            envvar="QINGLIU_STATION_PASSWORD", help="HJ 212 PW（只保存其摘要）",
        ),
    ],
) -> None:  # fmt: skip
    """登记或更新一个自动站。Register (or update) a station."""
    from service.db.ingest import add_station

    state: _State = ctx.obj
    try:
        _, registry, engine = _engine_for(state)
        try:
            registry.section(section)
        except KeyError as exc:
            raise QingliuError(str(exc.args[0])) from None
        if not mn or len(mn) > 24 or not mn.isascii() or any(c in mn for c in ";=,&"):
            raise QingliuError(f"MN 无效 / invalid MN {mn!r} (≤ 24 ASCII characters, no ;=,&)")
        if not password:
            raise QingliuError("密码不能为空 / the password must not be empty")
        add_station(engine=engine, mn=mn, section_id=section, password=password)
    except (SectionsError, QingliuError) as exc:
        _fail(str(exc))
    typer.echo(f"已登记 / registered {mn} → {section}")


@stations_app.command("list")
def stations_list(ctx: typer.Context) -> None:
    """列出已登记的自动站。List registered stations."""
    from service.db.ingest import list_stations

    state: _State = ctx.obj
    try:
        _, registry, engine = _engine_for(state)
        stations = list_stations(engine=engine)
    except (SectionsError, QingliuError) as exc:
        _fail(str(exc))
    table = Table(title="自动站 / stations")
    for header in ("MN", "断面 section", "名称", "启用", "登记时间 (北京时间)"):
        table.add_column(header)
    names = {s.id: s.name for s in registry.sections}
    for station in stations:
        table.add_row(
            station.mn, station.section_id, names.get(station.section_id, "?"),
            "是" if station.active else "否",
            f"{station.created_at.astimezone(BEIJING):%Y-%m-%d %H:%M}",
        )  # fmt: skip
    Console(width=160).print(table)
    typer.echo(f"共 {len(stations)} 个 / {len(stations)} station(s)")


@import_app.command("manual")
def import_manual_command(
    ctx: typer.Context,
    input_file: Annotated[Path, typer.Argument(metavar="FILE.csv|FILE.xlsx")],
    partial: Annotated[
        bool, typer.Option("--partial", help="只导入通过检查的行 / store the good rows only")
    ] = False,
) -> None:
    """导入实验室手工监测数据。Import manual laboratory results (all or nothing per file)."""
    from service.feeds.manual import import_manual

    state: _State = ctx.obj
    try:
        _, registry, engine = _engine_for(state)
        report = import_manual(engine=engine, registry=registry, path=input_file,
                               partial=partial)  # fmt: skip
    except (SectionsError, QingliuError) as exc:
        _fail(str(exc))
    console = Console(stderr=True, soft_wrap=True)
    for row in report.errors:
        console.print(f"第 {row.line} 行 / line {row.line}: {row.message}", highlight=False)
    ok = len(report.rows) - len(report.errors)
    typer.echo(
        f"{report.file}: {len(report.rows)} 行，通过 {ok}，错误 {len(report.errors)}；"
        + (
            f"已保存：新增 {report.counts.inserted}，未变 {report.counts.unchanged}，"
            f"更新 {report.counts.changed} / stored"
            if report.stored
            else "未保存任何数据 / nothing stored"
            + ("（使用 --partial 只导入通过的行）" if report.errors and ok else "")
        )
    )
    if report.errors and not report.stored:
        raise typer.Exit(code=2)


class ExportFormat(StrEnum):
    """Formats of ``qingliu export``."""

    csv = "csv"
    json = "json"


def _moment(text: str | None, option: str) -> dt.datetime | None:
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        _fail(f"{option}: 时间必须是 ISO 8601 / must be ISO 8601, got {text!r}")
    return moment if moment.tzinfo else moment.replace(tzinfo=BEIJING)


@export_app.command("observations")
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
    from service.export import export_observations

    state: _State = ctx.obj
    first, last = _moment(start, "--from"), _moment(end, "--to")
    if parameter is not None:
        from sections.parameters import parameters

        if parameter not in parameters():
            _fail(f"未知参数 / unknown parameter {parameter!r}")
    try:
        _, _, engine = _engine_for(state)
        for chunk in export_observations(
            engine=engine, fmt=output_format.value, station=station, parameter=parameter,
            start=first, end=last,
        ):  # fmt: skip
            sys.stdout.write(chunk)
    except (SectionsError, QingliuError) as exc:
        _fail(str(exc))


receive_app = typer.Typer(help="接收站点数据 / receive station data", no_args_is_help=True)
app.add_typer(receive_app, name="receive")
pull_app = typer.Typer(help="拉取外部数据 / pull remote data", no_args_is_help=True)
app.add_typer(pull_app, name="pull")


@receive_app.command("hj212")
def receive_hj212_command(
    ctx: typer.Context,
    listen: Annotated[
        str, typer.Option(help="监听地址 HOST:PORT / listen address")
    ] = "0.0.0.0:9212",
    idle_timeout: Annotated[
        float, typer.Option(help="连接空闲超时（秒）/ idle timeout, seconds")
    ] = 600.0,
) -> None:
    """启动 HJ 212-2017 数据接收服务。Run the HJ 212 TCP receiver."""
    import asyncio
    import logging

    from service.feeds.hj212_receiver import Hj212Receiver, ReceiverConfig, parse_listen

    state: _State = ctx.obj
    try:
        host, port = parse_listen(listen)
        _, _, engine = _engine_for(state)
    except (SectionsError, QingliuError, ValueError) as exc:
        _fail(str(exc))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    receiver = Hj212Receiver(
        engine=engine, config=ReceiverConfig(host=host, port=port, idle_timeout=idle_timeout)
    )

    async def run() -> None:
        bound = await receiver.start()
        typer.echo(f"HJ 212 接收服务 / receiver on {bound[0]}:{bound[1]} (Ctrl-C 停止)")
        try:
            await receiver.serve_forever()
        finally:
            await receiver.close()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    stats = receiver.stats
    typer.echo(
        f"帧 frames {stats.frames}，接受 accepted {stats.accepted}，拒绝 refused "
        f"{stats.refused}，未登记站 unknown {stats.unknown_station}，应答 answered "
        f"{stats.answered}，新增观测 inserted {stats.observations.inserted}"
    )
    if stats.unknown_code_values:
        codes = ", ".join(f"{c} ×{n}" for c, n in sorted(stats.unknown_codes.items()))
        typer.echo(
            f"未知监测因子编码的值 {stats.unknown_code_values} 个已存待复核 / values with unknown "
            f"codes kept for review (qingliu review list): {codes}"
        )


@app.command("simulate")
def simulate_command(
    ctx: typer.Context,
    to: Annotated[str, typer.Option(help="接收服务地址 HOST:PORT / receiver address")],
    stations: Annotated[int, typer.Option(help="模拟站数 / number of stations")] = 3,
    rate: Annotated[float, typer.Option(help="每秒发送帧数（合计）/ frames per second")] = 10.0,
    faults: Annotated[
        bool, typer.Option("--faults", help="注入故障 / inject faults (bad CRC, garbage …)")
    ] = False,
    limit: Annotated[int | None, typer.Option(help="最多发送帧数 / at most this many")] = 100,
    password: Annotated[
        str, typer.Option(help="站点密码 / station password", envvar="QINGLIU_STATION_PASSWORD")
    ] = "qingliu-demo",
    year: Annotated[int | None, typer.Option(help="模拟年份 / year of the data")] = None,
) -> None:
    """用演示数据模拟自动站发送 HJ 212 报文。Simulate stations sending HJ 212 frames."""
    import asyncio

    from service.feeds.hj212_receiver import parse_listen
    from service.feeds.simulator import simulate

    state: _State = ctx.obj
    try:
        host, port = parse_listen(to)
        registry = state.registry()
        stats = asyncio.run(
            simulate(registry, host=host, port=port, stations=stations, rate=rate,
                     faults=faults, limit=limit, year=year, password=password)
        )  # fmt: skip
    except (SectionsError, QingliuError, ValueError, OSError) as exc:
        _fail(str(exc))
    faults_text = ", ".join(f"{k} {v}" for k, v in sorted(stats.faults.items())) or "无 none"
    typer.echo(
        f"已发送 sent {stats.sent}，收到应答 answered {stats.answered}，"
        f"故障 faults: {faults_text}，重连 reconnects {stats.reconnects}"
    )


def _interval(text: str) -> float:
    """``30m``, ``1h``, ``45s`` or a number of seconds → seconds."""
    units = {"s": 1, "m": 60, "h": 3600}
    try:
        if text[-1:] in units:
            return float(text[:-1]) * units[text[-1]]
        return float(text)
    except ValueError:
        _fail(f"--every: 间隔格式如 30m、1h、45s / interval like 30m, 1h, 45s, got {text!r}")


@pull_app.command("cnemc")
def pull_cnemc_command(
    ctx: typer.Context,
    area: Annotated[str, typer.Option(help="行政区代码 / area code (131100 衡水)")] = "131100",
    once: Annotated[bool, typer.Option("--once", help="只拉取一次 / pull once")] = False,
    every: Annotated[
        str | None, typer.Option(help="定时拉取间隔，如 30m / pull every interval")
    ] = None,
) -> None:
    """拉取国家地表水自动监测实时数据（未经审核，仅供参考）。Pull the national publish API."""
    import logging
    import os

    from service.feeds.cnemc import CAVEAT, cnemc_url, pull_once, run_every

    state: _State = ctx.obj
    if once and every:
        _fail("--once 与 --every 只能选一个 / use either --once or --every")
    try:
        url = cnemc_url(os.environ)
        _, registry, engine = _engine_for(state)
    except (SectionsError, QingliuError) as exc:
        _fail(str(exc))
    typer.echo(f"数据源 / source: {url}（{CAVEAT}）")
    if every is None:
        try:
            summary = pull_once(engine=engine, registry=registry, url=url, area=area)
        except QingliuError as exc:
            _fail(f"拉取失败 / pull failed: {exc}")
        typer.echo(summary.describe())
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        run_every(_interval(every), engine=engine, registry=registry, url=url, area=area)


run_app = typer.Typer(help="运行作业 / run jobs", no_args_is_help=True)
app.add_typer(run_app, name="run")


def _day(text: str, option: str) -> dt.date:
    from sections.dates import parse_day

    try:
        return parse_day(text)
    except ValueError as exc:
        _fail(f"{option}: {exc}")


@run_app.command("daily")
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
) -> None:
    """逐日水质评价（可补算区间）。Classify every section for a day, or backfill a range."""
    from service.jobs.daily import run_daily
    from service.jobs.observations import day_bounds
    from service.jobs.quality import run_quality

    state: _State = ctx.obj
    if date and (start or end):
        _fail("--date 与 --from/--to 只能选一种 / use --date or --from/--to")
    if (start is None) != (end is None):
        _fail("--from 与 --to 须同时给出 / give both --from and --to")
    if start and end:
        first, last = _day(start, "--from"), _day(end, "--to")
    else:
        first = last = _day(date, "--date") if date else beijing_today() - dt.timedelta(days=1)
    if last < first:
        _fail("--to 早于 --from / --to is before --from")
    try:
        _, registry, engine = _engine_for(state)
        days = (last - first).days + 1
        with _progress_bar() as progress:
            if quality:
                qc_task = progress.add_task("质控 / QA/QC", total=None)
                low, high = day_bounds(first, last)
                run_quality(engine=engine, registry=registry, start=low, end=high)
                progress.update(qc_task, total=1, completed=1)
            task = progress.add_task("逐日评价 / daily classification", total=days)
            summary = run_daily(
                engine=engine, registry=registry, first=first, last=last,
                progress=lambda n: progress.advance(task, n),
            )  # fmt: skip
    except (SectionsError, QingliuError, ValueError) as exc:
        _fail(str(exc))
    typer.echo(
        f"{summary.first} – {summary.last}: {summary.results} 个断面日结果，已评价 "
        f"{summary.classified}，数据不足 {summary.insufficient}（作业 {summary.run_id}）"
    )


@run_app.command("monthly")
def run_monthly_command(
    ctx: typer.Context,
    month: MonthOption,
) -> None:
    """月度汇总：月均值、类别、优良比例、劣Ⅴ、衡水湖。Roll up a month."""
    from sections.dates import parse_month
    from service.jobs.monthly import run_monthly

    state: _State = ctx.obj
    try:
        first = parse_month(month)
        _, registry, engine = _engine_for(state)
        result = run_monthly(engine=engine, registry=registry, month=first)
    except (SectionsError, QingliuError, ValueError) as exc:
        _fail(str(exc))
    s = result.summary
    share = "—" if s["good_share"] is None else f"{s['good_share']:.1%}"
    lake = s["lake"] or {}
    typer.echo(
        f"{s['month']}: 可评价断面 {s['assessable']}/{s['sections']}，"
        f"Ⅲ类及以上 {s['good']}（{share}，目标 ≥ {s['target_share']:.1%}），"
        f"劣Ⅴ {s['worse_than_v']}；"
        f"{lake.get('name', '湖')} {lake.get('class') or '—'} 类，{lake.get('trophic_state') or ''}"
    )


@run_app.command("annual")
def run_annual_command(
    ctx: typer.Context,
    year: Annotated[str, typer.Option(help="年份 YYYY / the year")],
) -> None:
    """年度评价：各断面年均值（由月均值）与类别。Assess a year from the monthly results."""
    from sections.dates import parse_year
    from service.jobs.annual import run_annual

    state: _State = ctx.obj
    try:
        number = parse_year(year)
        _, registry, engine = _engine_for(state)
        result = run_annual(engine=engine, registry=registry, year=number)
    except (SectionsError, QingliuError, ValueError) as exc:
        _fail(str(exc))
    missing = "，缺少月度汇总：" + "、".join(result.months_missing) if result.months_missing else ""
    typer.echo(
        f"{result.year} 年：{result.sections} 个断面（含衡水湖整体），已评价 {result.classified}"
        f"{missing}"
    )


@run_app.command("qc")
def run_qc_command(
    ctx: typer.Context,
    start: Annotated[str, typer.Option("--from", help="起始日 YYYY-MM-DD")],
    end: Annotated[str, typer.Option("--to", help="截止日 YYYY-MM-DD")],
) -> None:
    """质控：为自动站数据打 QARTOD 标记。Flag stored series (QA/QC)."""
    from service.jobs.observations import day_bounds
    from service.jobs.quality import run_quality

    state: _State = ctx.obj
    first, last = _day(start, "--from"), _day(end, "--to")
    try:
        _, registry, engine = _engine_for(state)
        low, high = day_bounds(first, last)
        summary = run_quality(engine=engine, registry=registry, start=low, end=high)
    except (SectionsError, QingliuError, ValueError) as exc:
        _fail(str(exc))
    typer.echo(
        f"{summary.series} 个序列，{summary.values} 个值，更新 {summary.updated}；标记 flags "
        + ", ".join(f"{k}: {v}" for k, v in sorted(summary.flags.items()))
    )


review_app = typer.Typer(help="数据复核 / review queued values", no_args_is_help=True)
app.add_typer(review_app, name="review")


@review_app.command("list")
def review_list_command(
    ctx: typer.Context,
    section: Annotated[str | None, typer.Option(help="只看该断面 / one section")] = None,
    limit: Annotated[int, typer.Option(min=1, max=5000, help="条数 / how many")] = 50,
) -> None:
    """列出待复核的值（可疑、超测上限、未知编码）。List the values waiting for review."""
    from service.review import pending_reviews

    state: _State = ctx.obj
    try:
        _, _registry, engine = _engine_for(state)
        items, count = pending_reviews(engine=engine, section_id=section, limit=limit)
    except (SectionsError, QingliuError, ValueError) as exc:
        _fail(str(exc))
    table = Table(title=f"待复核 {count} 个值 / {count} values waiting for review")
    for column in ("id", "断面", "参数", "时间（北京）", "数值", "标记", "原因"):
        table.add_column(column)
    for item in items:
        table.add_row(
            str(item.id), item.section_id or "—", item.parameter,
            f"{item.observed_at.astimezone(BEIJING):%Y-%m-%d %H:%M}",
            "—" if item.value is None else f"{item.value:g}",
            f"{item.station_flag or '-'}/{item.qc_flag or '-'}", item.why,
        )  # fmt: skip
    Console().print(table)


def _review(ctx: typer.Context, observation_id: int, action: str, value: float | None,
            note: str) -> None:  # fmt: skip
    from service.jobs.daily import run_daily
    from service.review import review_observation

    state: _State = ctx.obj
    try:
        _, registry, engine = _engine_for(state)
        try:
            section_id, day = review_observation(
                engine=engine, observation_id=observation_id, action=action, value=value,
                note=note,
            )  # fmt: skip
            if section_id is not None:
                run_daily(engine=engine, registry=registry, first=day)
        finally:
            engine.dispose()
    except (SectionsError, QingliuError, ValueError) as exc:
        _fail(str(exc))
    words = {"accept": "已确认", "reject": "已否决", "replace": "已更正"}[action]
    typer.echo(f"观测值 {observation_id} {words}；已重算 {day} 的逐日评价 / day recomputed")


NoteOption = Annotated[str, typer.Option(help="复核说明 / note")]


@review_app.command("accept")
def review_accept_command(ctx: typer.Context, observation_id: int, note: NoteOption = "") -> None:
    """确认一个值（按其标记计入）。Accept a value as it stands."""
    _review(ctx, observation_id, "accept", None, note)


@review_app.command("reject")
def review_reject_command(ctx: typer.Context, observation_id: int, note: NoteOption = "") -> None:
    """否决一个值（不再计入），须说明理由。Reject a value; needs a note."""
    _review(ctx, observation_id, "reject", None, note)


@review_app.command("replace")
def review_replace_command(
    ctx: typer.Context,
    observation_id: int,
    value: Annotated[float, typer.Option(help="核实后的数值 / the checked value")],
    note: NoteOption = "",
) -> None:
    """以核实值更正（原值存入历史）。Replace a value; the old one is kept in history."""
    _review(ctx, observation_id, "replace", value, note)


@app.command("bulletin")
def bulletin_command(
    ctx: typer.Context,
    month: MonthOption,
    output_format: Annotated[
        str, typer.Option("--format", help="html 或 pdf / html or pdf")
    ] = "html",
    output: Annotated[Path | None, typer.Option(help="输出文件 / output file")] = None,
) -> None:
    """生成水质月报（需先运行 run monthly）。Render the monthly water-quality bulletin."""
    from sections.dates import parse_month
    from service.bulletins import bulletin_context, render_bulletin_html, render_bulletin_pdf

    if output_format not in ("html", "pdf"):
        _fail(f"--format 必须是 html 或 pdf / must be html or pdf, got {output_format!r}")
    state: _State = ctx.obj
    try:
        first = parse_month(month)
        _, registry, engine = _engine_for(state)
        context = bulletin_context(engine, registry, first)
        data = (
            render_bulletin_pdf(context)
            if output_format == "pdf"
            else render_bulletin_html(context).encode("utf-8")
        )
    except (SectionsError, QingliuError) as exc:
        _fail(str(exc))
    _write_statement(
        data, fmt=output_format, output=output,
        default_name=f"qingliu-bulletin-{first:%Y-%m}.{output_format}",
    )  # fmt: skip


def _progress_bar() -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=Console(stderr=True))  # fmt: skip


def _serve(settings: Settings, registry: Registry, *, host: str, port: int) -> None:
    import uvicorn

    from service.app import create_app

    try:
        application = create_app(settings, registry=registry)
    except (SectionsError, QingliuError) as exc:
        _fail(str(exc))
    typer.echo(
        f"网页 / web app: http://{host}:{port}/   接口文档 / API docs: http://{host}:{port}/docs"
    )
    uvicorn.run(application, host=host, port=port, log_level="info")


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
