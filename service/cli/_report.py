"""What commands print: tables and summary lines, out of the command bodies.

Each function takes the result a service call returned and gives text (or Rich tables); none
computes anything a service module should. Where the output goes is :mod:`service.cli._output`.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from service.time import BEIJING

if TYPE_CHECKING:
    from rich.console import RenderableType

    from compensation.statement import MonthlyStatement, UnitStatement
    from sections.registry import Registry
    from service.db.ingest import StationRecord
    from service.demo.run import DemoSummary, JobsSummary
    from service.feeds.hj212.receiver import ReceiverStats
    from service.feeds.manual import ImportReport
    from service.feeds.simulator import SimulationStats
    from service.jobs.annual import AnnualRun
    from service.jobs.daily import DailySummary
    from service.jobs.quality import QualitySummary
    from service.records import MonthSummary
    from service.review import ReviewItem
    from service.statements.issue import IssueRecord, IssueResult

__all__ = [
    "annual_line",
    "daily_line",
    "demo_summary",
    "errors_console",
    "import_report",
    "issue_lines",
    "monthly_line",
    "progress_bar",
    "quality_line",
    "receiver_lines",
    "registry_counts",
    "registry_table",
    "review_table",
    "simulation_line",
    "statement_has_data",
    "statement_tables",
    "stations_table",
    "text_of",
]


def errors_console() -> Console:
    """A console on stderr for notes beside the output (never wrapped)."""
    return Console(stderr=True, soft_wrap=True, highlight=False)


def progress_bar() -> Progress:
    """Progress bars on stderr for long jobs."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=Console(stderr=True))  # fmt: skip


def text_of(*renderables: RenderableType, width: int = 120) -> str:
    """Rich tables and lines as plain text (no colour), for a file or standard output."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, highlight=False)
    for renderable in renderables:
        console.print(renderable)
    return buffer.getvalue()


def registry_table(registry: Registry, *, today: dt.date) -> Table:
    """The section registry, one row a section (target class on ``today``)."""
    from service.web.contexts import LEVEL_ZH, WATER_BODY_ZH

    table = Table(title=f"断面名录 / section registry ({registry.source})")
    for header in ("id", "名称", "核实", "河流", "类型", "级别", "考核单位", "上游", "目标", "MN"):
        table.add_column(header)
    for section in registry.sections:
        unit = registry.unit(section.assessed_unit).name if section.assessed_unit else "—"
        table.add_row(
            section.id, section.name, "是" if section.confirmed else "否 [A]", section.river,
            WATER_BODY_ZH[section.water_body], LEVEL_ZH[section.level], unit,
            section.upstream or "—", section.target_class(today).label,
            section.station_mn or "—",
        )  # fmt: skip
    return table


def registry_counts(registry: Registry) -> str:
    """How many units, assessed sections and sections the registry has."""
    return (
        f"{len(registry.units)} 个考核单位，{len(registry.assessed_sections())} 个考核断面，"
        f"共 {len(registry)} 个断面。 / {len(registry.units)} units, "
        f"{len(registry.assessed_sections())} assessed sections, {len(registry)} sections"
    )


def demo_summary(summary: DemoSummary, jobs: JobsSummary) -> str:
    """What the demo seeded and computed."""
    share = summary.flagged / summary.observations if summary.observations else 0.0
    year_share = (
        "—" if jobs.year_share is None else f"{jobs.year_share:.1%}（全年平均，目标 ≥ 69.2%）"
    )
    return (
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
        f"  月度优良比例 share    {year_share}\n"
        f"  水质预报 forecasts    {jobs.forecasts} 个序列（跳过 {jobs.forecast_skipped}）"
        f"{_origin(jobs.forecast_origin)}\n"
        f"  时间 span (北京时间)  {summary.first.astimezone(BEIJING):%Y-%m-%d %H:%M} – "
        f"{summary.last.astimezone(BEIJING):%Y-%m-%d %H:%M}"
    )


def _origin(origin: dt.datetime | None) -> str:
    return "" if origin is None else f"，起报于 {origin.astimezone(BEIJING):%Y-%m-%d %H:%M}"


def stations_table(stations: Iterable[StationRecord], registry: Registry) -> Table:
    """Registered stations with their section names."""
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
    return table


def import_report(report: ImportReport) -> tuple[list[str], str]:
    """The refused rows (for stderr) and the summary line of a manual import."""
    rows = [f"第 {row.line} 行 / line {row.line}: {row.message}" for row in report.errors]
    ok = len(report.rows) - len(report.errors)
    stored = (
        f"已保存：新增 {report.counts.inserted}，未变 {report.counts.unchanged}，"
        f"更新 {report.counts.changed} / stored"
        if report.stored
        else "未保存任何数据 / nothing stored"
        + ("（使用 --partial 只导入通过的行）" if report.errors and ok else "")
    )
    line = (
        f"{report.file}: {len(report.rows)} 行，通过 {ok}，错误 {len(report.errors)} / "
        f"{len(report.rows)} rows, {ok} good, {len(report.errors)} refused；{stored}"
    )
    return rows, line


def issue_lines(result: IssueResult, month: dt.date) -> list[str]:
    """What ``statement --issue`` did: a new version and its changed lines, or none."""
    record = result.record
    if not result.created:
        return [f"内容未变，仍为第 {record.version} 版 / unchanged: still version {record.version}"]
    return [
        f"已签发 {month:%Y-%m} 第 {record.version} 版 / issued version {record.version}, "
        f"sha256 {record.content_hash[:12]}…, 较上一版变动 {len(result.diff)} 行 / "
        f"{len(result.diff)} changed lines",
        *(
            f"  {change.change:8} {change.unit} {change.kind} {change.key}: "
            f"{dict(change.before)} → {dict(change.after)}"
            for change in result.diff
        ),
    ]


def receiver_lines(stats: ReceiverStats) -> list[str]:
    """What a receiver run took in."""
    lines = [
        f"帧 frames {stats.frames}，接受 accepted {stats.accepted}，拒绝 refused "
        f"{stats.refused}，未登记站 unknown {stats.unknown_station}，应答 answered "
        f"{stats.answered}，新增观测 inserted {stats.observations.inserted}"
    ]
    if stats.unknown_code_values:
        codes = ", ".join(f"{c} ×{n}" for c, n in sorted(stats.unknown_codes.items()))
        lines.append(
            f"未知监测因子编码的值 {stats.unknown_code_values} 个已存待复核 / values with unknown "
            f"codes kept for review (qingliu review list): {codes}"
        )
    return lines


def simulation_line(stats: SimulationStats) -> str:
    """What simulated stations sent."""
    faults = ", ".join(f"{k} {v}" for k, v in sorted(stats.faults.items())) or "无 none"
    return (
        f"已发送 sent {stats.sent}，收到应答 answered {stats.answered}，"
        f"故障 faults: {faults}，重连 reconnects {stats.reconnects}"
    )


def daily_line(summary: DailySummary) -> str:
    """Days classified by a daily run."""
    return (
        f"{summary.first} – {summary.last}: {summary.results} 个断面日结果，已评价 "
        f"{summary.classified}，数据不足 {summary.insufficient}（作业 {summary.run_id}）/ "
        f"{summary.results} section-days, {summary.classified} classified, "
        f"{summary.insufficient} with too little data (run {summary.run_id})"
    )


def annual_line(result: AnnualRun) -> str:
    """Sections assessed for a year, and the months still missing."""
    months = "、".join(result.months_missing)
    missing = f"，缺少月度汇总：{months}" if months else ""
    missing_en = f", months not rolled up: {', '.join(result.months_missing)}" if months else ""
    return (
        f"{result.year} 年：{result.sections} 个断面（含衡水湖整体），已评价 {result.classified}"
        f"{missing} / {result.year}: {result.sections} sections (and the lake as a whole), "
        f"{result.classified} assessed{missing_en}"
    )


def quality_line(summary: QualitySummary) -> str:
    """Series and values a QA/QC run flagged."""
    return (
        f"{summary.series} 个序列，{summary.values} 个值，更新 {summary.updated} / "
        f"{summary.series} series, {summary.values} values, {summary.updated} updated；标记 flags "
        + ", ".join(f"{k}: {v}" for k, v in sorted(summary.flags.items()))
    )


def monthly_line(summary: MonthSummary) -> str:
    """The city's month: assessable sections, good share against its target, the lake."""
    share = "—" if summary.good_share is None else f"{summary.good_share:.1%}"
    lake = summary.lake
    lake_text = (
        "" if lake is None
        else f"{lake.name} {lake.klass or '—'} 类，{lake.trophic_state or ''}"
    )  # fmt: skip
    return (
        f"{summary.month}: 可评价断面 {summary.assessable}/{summary.sections}，"
        f"达到或优于Ⅲ类 {summary.good}（{share}，目标 ≥ {summary.target_share:.1%}），"
        f"劣Ⅴ {summary.worse_than_v}；{lake_text} / assessable {summary.assessable}/"
        f"{summary.sections}, class Ⅲ or better {summary.good} ({share}), worse than Ⅴ "
        f"{summary.worse_than_v}"
    )


def review_table(items: Iterable[ReviewItem], count: int) -> Table:
    """Values waiting for review."""
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
    return table


#: Factor statuses a statement has without any data.
_NO_DATA = frozenset({"no_data", "no_standard"})


def _units(statement: MonthlyStatement, unit: str | None) -> tuple[UnitStatement, ...]:
    return statement.units if unit is None else (statement.unit(unit),)


def statement_has_data(statement: MonthlyStatement, *, unit: str | None = None) -> bool:
    """Whether any section of the statement (or of ``unit``) had a result or a month status.

    A month without a single measurement gives a statement whose every factor says ``no_data``
    (or ``no_standard``, whatever the data): that is "nothing found", not a month without
    charges.
    """
    return any(
        u.lines or u.events or u.exempt or u.rewards
        or any(s.status not in _NO_DATA for s in u.statuses)
        for u in _units(statement, unit)
    )  # fmt: skip


def statement_tables(
    statement: MonthlyStatement, *, unit: str | None = None, issue: IssueRecord | None = None
) -> list[RenderableType]:
    """A statement as an operator reads it: one row a unit, then its deductions and events."""
    from service.statements.wording import (
        factor_name,
        money_text,
        month_label,
        value_text,
    )

    units = _units(statement, unit)
    names = dict(statement.section_names)
    stamp = "草稿 / draft" if issue is None else f"第 {issue.version} 版 / version {issue.version}"
    summary = Table(
        title=f"{month_label(statement.month)} 生态补偿 / compensation {statement.month:%Y-%m}"
        f"（{stamp}）",
        caption=f"规则集 / rule set: {statement.rule_set.id}（{statement.rule_set.document}）",
    )
    for header in ("单位 unit", "名称 name", "扣缴 deductions", "事件 events", "免于考核 exempt",
                   "扣缴金额 万元", "奖励 万元 reward"):  # fmt: skip
        summary.add_column(header, justify="right" if "万元" in header else "left")
    for u in units:
        summary.add_row(
            u.unit, u.name, str(len(u.lines)), str(len(u.events)), str(len(u.exempt)),
            money_text(u.total_wan), money_text(u.reward_wan),
        )  # fmt: skip
    if unit is None:
        rewards = sum((u.reward_wan for u in units), Decimal(0))
        summary.add_row("合计", "total", "", "", "", money_text(statement.total_wan),
                        money_text(rewards))  # fmt: skip
    shown: list[RenderableType] = [summary]
    lines = [(u, line) for u in units for line in u.lines]
    if lines:
        table = Table(title="扣缴明细 / deductions")
        for header in ("单位", "断面 section", "因子 factor", "月值 mg/L", "标准 mg/L",
                       "超标倍数", "档数", "万元"):  # fmt: skip
            table.add_column(header)
        for u, line in lines:
            table.add_row(
                u.unit, names.get(line.section, line.section), factor_name(line.factor),
                value_text(line.value, lower_bound=line.lower_bound), format(line.standard, "f"),
                format(line.multiple, "f"), str(line.tiers), money_text(line.amount_wan),
            )  # fmt: skip
        shown.append(table)
    events = [(u, event) for u in units for event in u.events]
    if events:
        table = Table(title="自动站超标事件 / automatic-station events")
        for header in ("单位", "断面 section", "因子 factor", "起 start", "止 end", "天数 days",
                       "万元"):  # fmt: skip
            table.add_column(header)
        for u, event in events:
            table.add_row(
                u.unit, names.get(event.section, event.section),
                "+".join(factor_name(f) for f in event.factor.split("+")),
                event.start.isoformat(), event.end.isoformat(), str(event.days),
                money_text(event.amount_wan),
            )  # fmt: skip
        shown.append(table)
    return shown
