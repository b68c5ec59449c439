"""``qingliu alerts``: try a channel, list alert episodes, acknowledge one.

- ``test --channel ID`` builds one channel of the river-chief registry
  (:func:`service.alerts.factory.build_channel`, secrets from the environment) and sends it a
  short test message; it prints the channel's answer and exits 0 (sent), 5 (unavailable or rate
  limited) or 6 (refused, or a configuration error such as a missing ``${VAR}``).
- ``list`` shows the episodes (:class:`~service.db.models.AlertEpisode`), newest first.
- ``ack EPISODE`` acknowledges one (:func:`service.alerts.episodes.acknowledge`): its escalation
  stops.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from service.cli._context import state_of
from service.errors import NotFoundError
from service.time import BEIJING

if TYPE_CHECKING:
    from sections.registry import Registry
    from service.alerts.channels import Message
    from service.alerts.records import EpisodeRecord

__all__ = [
    "EpisodeFormat",
    "alerts_ack_command",
    "alerts_list_command",
    "alerts_test_command",
    "channel_test_message",
]

_STATUS_LABELS = {
    "sent": "已发送 / sent",
    "rate_limited": "发送过快 / rate limited",
    "refused": "被拒收 / refused",
    "unavailable": "暂不可用 / unavailable",
}


class EpisodeFormat(StrEnum):
    """Formats of ``qingliu alerts list``."""

    text = "text"
    json = "json"


def channel_test_message(
    channel_id: str, *, now: dt.datetime, base_url: str | None = None
) -> Message:
    """The short Chinese message ``alerts test`` sends (info level, no recipients of its own)."""
    from service.alerts.channels import Message

    when = f"{now.astimezone(BEIJING):%Y-%m-%d %H:%M}"
    text = (
        f"清流预警通道测试：通道 {channel_id} 已配置，可以收到预警消息。"
        f"发送时间 {when}（北京时间）。本消息仅为测试，无需处理。"
    )
    if base_url:
        text += f"服务地址：{base_url}"
    return Message(
        title="清流预警通道测试",
        text=text,
        markdown=f"### 清流预警通道测试\n{text}",
        level="info",
    )


def alerts_test_command(
    ctx: typer.Context,
    channel: Annotated[str, typer.Option("--channel", help="河长名录中的通道 id / channel id")],
) -> None:
    """向一个通道发送测试消息并显示其应答。Send a test message through one channel.

    通道取自河长名录（--chiefs 或内置），密钥由 ${VAR} 环境变量提供；邮件通道另需
    QINGLIU_SMTP_HOST、QINGLIU_SMTP_SENDER。打印状态、应答码与应答。退出码：0 已发送，
    5 暂不可用或发送过快，6 被拒收或配置有误（如未设环境变量）。Prints the status, code and
    answer; exits 0 when sent, 5 when unavailable or rate limited, 6 when refused or
    misconfigured (e.g. an unset ${VAR}).
    """
    from service.alerts.factory import build_channel

    state = state_of(ctx)
    try:
        entry = state.river_chiefs().channel(channel)
    except KeyError as exc:
        raise NotFoundError(str(exc.args[0])) from None
    settings = state.settings()
    built = build_channel(entry, settings=settings)
    now = dt.datetime.now(dt.UTC)
    delivery = built.send(
        channel_test_message(entry.id, now=now, base_url=settings.alerts_base_url)
    )
    target = getattr(built, "target", "")
    typer.echo(f"通道 / channel: {entry.id} ({entry.kind}){f' → {target}' if target else ''}")
    typer.echo(f"状态 / status:  {_STATUS_LABELS[delivery.status]}")
    typer.echo(f"应答码 / code:  {delivery.code}")
    typer.echo(f"应答 / answer:  {delivery.answer or '—'}")
    if delivery.retry_after is not None:
        typer.echo(f"重试 / retry after: {delivery.retry_after:g} s")
    for recipient, reason in delivery.rejected:
        typer.echo(f"拒收 / rejected: {recipient}: {reason}")
    delivery.raise_for_status(channel=entry.id)


def alerts_list_command(
    ctx: typer.Context,
    open_only: Annotated[
        bool, typer.Option("--open", help="只看未关闭的（未确认与已确认）/ episodes not closed")
    ] = False,
    output_format: Annotated[
        EpisodeFormat, typer.Option("--format", help="输出格式 / output format")
    ] = EpisodeFormat.text,
    limit: Annotated[int, typer.Option(min=1, max=5000, help="条数 / how many")] = 100,
) -> None:
    """列出告警事件，最新的在前。List alert episodes, newest first.

    每行：编号、级别、断面、因子、状态、开启与最近变更时间（北京时间）、升级步数、确认人。
    Id, level, section, factor, state, opened and updated (Beijing time), escalation step and
    who acknowledged.
    """
    from service.alerts.records import list_episodes

    state = state_of(ctx)
    episodes = list_episodes(state.engine(), open_only=open_only, limit=limit)
    registry = state.registry()
    if output_format is EpisodeFormat.json:
        payload = [e.as_json(registry) for e in episodes]
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    if not episodes:
        typer.echo("没有告警事件 / no alert episodes")
        return
    Console(width=200).print(_episodes_table(episodes, registry, open_only=open_only))


def alerts_run_command(
    ctx: typer.Context,
    once: Annotated[
        bool, typer.Option("--once", help="评价并发送一次后退出 / one full pass, then exit")
    ] = False,
) -> None:
    """评价全部预警规则、更新告警事件并发送待发消息。Evaluate every alert rule, update the
    episodes and deliver the outbox: one full pass with --once; otherwise the service's
    alerting job every minute until interrupted (a full pass when new data arrived or ten
    minutes passed, else due escalations and sending)."""
    import threading

    from service.alerts.cadence import alert_tick
    from service.alerts.run import run_configured
    from service.jobs.schedule import ALERTS_EVERY, holder_id

    state = state_of(ctx)
    settings, registry, engine = state.settings(), state.registry(), state.engine()
    if once:
        summary = run_configured(
            engine=engine, registry=registry, settings=settings,
            now=dt.datetime.now(dt.UTC), holder=holder_id(),
        )  # fmt: skip
        typer.echo(f"预警 / alerts: {summary.describe()}")
        for problem in summary.problems:
            typer.echo(f"  ⚠ {problem}", err=True)
        return
    stop = threading.Event()
    holder = holder_id()
    while True:
        tick = alert_tick(engine=engine, registry=registry, settings=settings, holder=holder)
        typer.echo(f"预警 / alerts: {tick.describe()}")
        if stop.wait(ALERTS_EVERY.total_seconds()):
            return


def alerts_ack_command(
    ctx: typer.Context,
    episode: Annotated[int, typer.Argument(help="告警事件编号 / episode id")],
    note: Annotated[str, typer.Option(help="确认说明 / note")] = "",
    by: Annotated[
        str | None, typer.Option(help="确认人；缺省为 cli:操作系统用户名 / who acknowledges")
    ] = None,
) -> None:
    """确认一个告警事件，停止升级。Acknowledge an alert episode: its escalation stops.

    未知编号退出码 3，已关闭的事件退出码 4。Unknown id: exit 3; a closed episode: exit 4.
    """
    from service.alerts.acknowledgement import acknowledge_episode

    actor = by.strip() if by and by.strip() else f"cli:{getpass.getuser()}"
    outcome = acknowledge_episode(engine=state_of(ctx).engine(), episode_id=episode, by=actor,
                                  note=note, now=dt.datetime.now(dt.UTC))  # fmt: skip
    suffix = " / acknowledged, escalation stops" if outcome.changed else " / already acknowledged"
    typer.echo(outcome.describe() + suffix)


# --- the episodes -----------------------------------------------------------------------------


def _local(value: dt.datetime | None) -> str:
    return "—" if value is None else f"{value.astimezone(BEIJING):%Y-%m-%d %H:%M}"


def _episodes_table(
    episodes: list[EpisodeRecord], registry: Registry, *, open_only: bool
) -> Table:
    title = "告警事件 / alert episodes" + ("（未关闭 / not closed）" if open_only else "")
    table = Table(title=title)
    for header in ("编号", "级别", "断面", "因子", "状态", "开启", "最近变更", "升级", "确认人"):
        table.add_column(header)
    for e in episodes:
        table.add_row(
            str(e.id), e.level_label, e.section_name(registry), e.factor_name, e.state_label,
            _local(e.opened_at), _local(e.updated_at), str(e.escalation_step),
            e.acknowledged_by or "—",
        )  # fmt: skip
    return table
