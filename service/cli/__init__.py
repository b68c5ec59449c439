"""The ``qingliu`` command line (Typer). Commands only translate options and call the service.

Every command is registered here, through :func:`service.cli._command.command`, which gives it
the global options (before or after the command name) and the one error wrapper. Modules:

- ``offline`` — ``sections``, ``classify``, ``compensate`` (files in, no database);
- ``chiefs`` — ``chiefs`` (the river-chief registry; no database);
- ``alerts`` — ``alerts test``, ``alerts list``, ``alerts ack``, ``alerts run`` (alert channels,
  episodes, a pass of the rules);
- ``forecast`` — ``backtest`` (a series file in, forecast scores out; no database);
- ``statements`` — ``statement``, ``bulletin``;
- ``stations``, ``transfer`` (``import``, ``export``), ``feeds`` (``receive``, ``simulate``,
  ``pull``), ``jobs`` (``run``), ``review``, ``accounts`` (``users``, ``tokens``, ``audit``),
  ``serve`` (``demo``, ``serve``), ``db`` (``migrate``), ``storage`` (``raw archive``,
  ``raw verify``, ``partitions``);
- ``_context`` (settings, registries, engine: made on first use), ``_options`` (shared options and
  option readers), ``_errors`` (the wrapper), ``_report`` (what commands print), ``_output``
  (where output goes: the format from ``--output``, binary never to a terminal, "nothing found"
  exits 2 unless ``--allow-empty``).

The reference of every command, generated from ``--help``, is ``docs/cli.md``.
"""

from __future__ import annotations

import sys

import typer

from service.cli import (
    accounts,
    alerts,
    chiefs,
    db,
    feeds,
    forecast,
    jobs,
    offline,
    review,
    serve,
    statements,
    stations,
    storage,
    transfer,
)
from service.cli._command import command
from service.cli._context import State
from service.cli._options import ChiefsOption, SectionsOption

__all__ = ["app", "main"]

app = typer.Typer(
    name="qingliu",
    help="清流 Qingliu：衡水市地表水断面水质与生态补偿服务。Water-section quality and "
    "ecological compensation for Hengshui.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _main(ctx: typer.Context, sections: SectionsOption = None, chiefs: ChiefsOption = None) -> None:
    """清流 Qingliu."""
    ctx.obj = State(sections_file=sections, chiefs_file=chiefs)


def _group(name: str, help_text: str) -> typer.Typer:
    group = typer.Typer(help=help_text, no_args_is_help=True)
    app.add_typer(group, name=name)
    return group


command(app, "sections")(offline.sections_command)
command(app, "chiefs")(chiefs.chiefs_command)
command(app, "migrate")(db.migrate_command)
command(app, "demo")(serve.demo_command)
command(app, "serve")(serve.serve_command)
command(app, "classify")(offline.classify_command)
command(app, "compensate")(offline.compensate_command)
command(app, "backtest")(forecast.backtest_command)
command(app, "statement")(statements.statement_command)
command(app, "simulate")(feeds.simulate_command)
command(app, "bulletin")(statements.bulletin_command)
command(app, "partitions")(storage.partitions_command)

_stations = _group("stations", "自动站登记（MN 与密码）/ station credentials")
command(_stations, "add")(stations.stations_add_command)
command(_stations, "list")(stations.stations_list_command)

_import = _group("import", "导入数据 / import data")
command(_import, "manual")(transfer.import_manual_command)

_export = _group("export", "导出数据 / export data")
command(_export, "observations")(transfer.export_observations_command)

_receive = _group("receive", "接收站点数据 / receive station data")
command(_receive, "hj212")(feeds.receive_hj212_command)

_pull = _group("pull", "拉取外部数据 / pull remote data")
command(_pull, "cnemc")(feeds.pull_cnemc_command)

_run = _group("run", "运行作业 / run jobs")
command(_run, "daily")(jobs.run_daily_command)
command(_run, "monthly")(jobs.run_monthly_command)
command(_run, "annual")(jobs.run_annual_command)
command(_run, "qc")(jobs.run_qc_command)
command(_run, "forecast")(jobs.run_forecast_command)

_review = _group("review", "数据复核 / review queued values")
command(_review, "list")(review.review_list_command)
command(_review, "accept")(review.review_accept_command)
command(_review, "reject")(review.review_reject_command)
command(_review, "replace")(review.review_replace_command)

_users = _group("users", "用户 / people who sign in")
command(_users, "add")(accounts.users_add_command)
command(_users, "list")(accounts.users_list_command)
command(_users, "disable")(accounts.users_disable_command)
command(_users, "passwd")(accounts.users_passwd_command)

_tokens = _group("tokens", "接口令牌 / API tokens")
command(_tokens, "create")(accounts.tokens_create_command)
command(_tokens, "list")(accounts.tokens_list_command)
command(_tokens, "revoke")(accounts.tokens_revoke_command)

_audit = _group("audit", "审计日志 / the audit log")
command(_audit, "list")(accounts.audit_list_command)

_raw = _group("raw", "原始报文归档 / the raw-message archive")
command(_raw, "archive")(storage.raw_archive_command)
command(_raw, "verify")(storage.raw_verify_command)

_alerts = _group("alerts", "预警：通道测试、告警事件与确认 / alert channels and episodes")
command(_alerts, "test")(alerts.alerts_test_command)
command(_alerts, "list")(alerts.alerts_list_command)
command(_alerts, "ack")(alerts.alerts_ack_command)
command(_alerts, "run")(alerts.alerts_run_command)


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
