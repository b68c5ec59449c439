"""``qingliu chiefs``: the river-chief registry (河长制) as a table or JSON, no database.

The registry is ``--chiefs FILE`` (or ``QINGLIU_CHIEFS``) or the bundled one, checked against
the section registry in use; a bad file exits 2 naming its entry and field. The command reads and
prints: the table and the JSON are built by the helpers below from
:class:`~sections.river_chiefs.RiverChiefs`, nothing is computed here.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from service.cli._context import state_of

if TYPE_CHECKING:
    from sections.registry import Registry
    from sections.river_chiefs import ChannelEntry, Chief, Operator, Reach, RiverChiefs

__all__ = ["ChiefsFormat", "chiefs_command"]

#: Mark of an entry the bureau has not confirmed (an assumption, as in the section registry).
UNCONFIRMED = "[A]"
#: Mark of a chief or operator that no channel reaches.
UNREACHABLE = "⚠ 无法送达"


class ChiefsFormat(StrEnum):
    """Formats of ``qingliu chiefs``."""

    table = "table"
    json = "json"


def chiefs_command(
    ctx: typer.Context,
    output_format: Annotated[
        ChiefsFormat, typer.Option("--format", help="输出格式 / output format")
    ] = ChiefsFormat.table,
) -> None:
    """列出河长名录。List river reaches with their sections and chiefs.

    河段与断面、河长（职务、级别、通道、上报至）、预警通道（地址照写，${VAR} 由环境变量提供）、
    自动站运维。[A] 标记未核实条目，⚠ 标记无通道可送达的河长或运维。Each chief's post, level,
    channels and escalation; the channels as written, ${VAR} placeholders included; the station
    operators. [A] marks unconfirmed entries, ⚠ a chief or operator that no channel reaches.
    """
    state = state_of(ctx)
    registry = state.registry()
    chiefs = state.river_chiefs()
    if output_format is ChiefsFormat.json:
        typer.echo(json.dumps(_as_json(chiefs, registry), ensure_ascii=False, indent=2))
        return
    console = Console(width=200)
    console.print(_reaches_table(chiefs, registry))
    console.print(_channels_table(chiefs))
    if chiefs.operators:
        console.print(_operators_table(chiefs))
    typer.echo(_counts(chiefs))
    for warning in chiefs.warnings:
        typer.echo(f"⚠ {warning}")


# --- what it prints ---------------------------------------------------------------------------


def _mark(text: str, confirmed: bool) -> str:
    return text if confirmed else f"{text} {UNCONFIRMED}"


def _chief_cell(chiefs: RiverChiefs, chief: Chief) -> str:
    text = _mark(chief.post, chief.confirmed)
    if chief.name:
        text += f" {chief.name}"
    return f"{text} {UNREACHABLE}" if chief.id in chiefs.unreachable else text


def _reaches_table(chiefs: RiverChiefs, registry: Registry) -> Table:
    """One row per reach and chief, lowest level first; the reach's cells on its first row."""
    table = Table(title=f"河长名录 / river chiefs ({chiefs.source})")
    for header in ("河段", "河流", "县", "断面", "级别", "河长", "通道", "上报至"):
        table.add_column(header)
    for reach in chiefs.reaches:
        first = [
            _mark(reach.id, reach.confirmed),
            reach.river,
            registry.unit(reach.county).name,  # the file was checked against this registry
            "、".join(registry.section(s).name for s in reach.sections),
        ]
        holders = chiefs.chiefs_for_reach(reach.id)
        if not holders:
            table.add_row(*first, "—", "— 无河长 / no chief", "", "")
        for index, chief in enumerate(holders):
            escalation = " → ".join(c.post for c in chiefs.escalation_chain(chief.id)[1:])
            table.add_row(
                *(first if index == 0 else [""] * len(first)),
                chief.level.title,
                _chief_cell(chiefs, chief),
                ", ".join(chief.channels) or "—",
                escalation or "—",
            )
    return table


def _channels_table(chiefs: RiverChiefs) -> Table:
    """The channels, their addresses as written (``${VAR}`` kept) and the variables they need."""
    table = Table(title="预警通道 / alert channels")
    for header in ("通道", "类型", "地址 / 收件人", "环境变量"):
        table.add_column(header)
    for channel in chiefs.channels:
        where = channel.url or ", ".join(channel.to) or "（河长本人 / the recipient's own）"
        table.add_row(
            _mark(channel.id, channel.confirmed), channel.kind, where,
            ", ".join(channel.variables) or "—",
        )  # fmt: skip
    return table


def _operators_table(chiefs: RiverChiefs) -> Table:
    """The station operators: data-outage alerts go to them, never to river chiefs."""
    table = Table(title="自动站运维 / station operators (data-outage alerts)")
    for header in ("运维", "职责", "断面数", "通道"):
        table.add_column(header)
    for operator in chiefs.operators:
        post = operator.post if operator.id not in chiefs.unreachable else (
            f"{operator.post} {UNREACHABLE}"
        )  # fmt: skip
        table.add_row(
            _mark(operator.id, operator.confirmed), post, str(len(operator.sections)),
            ", ".join(operator.channels) or "—",
        )  # fmt: skip
    return table


def _counts(chiefs: RiverChiefs) -> str:
    tables: list[tuple[Any, ...]] = [chiefs.reaches, chiefs.chiefs, chiefs.channels,
                                     chiefs.operators]  # fmt: skip
    unconfirmed = sum(not entry.confirmed for table in tables for entry in table)
    return (
        f"{len(chiefs.reaches)} 个河段，{len(chiefs.chiefs)} 位河长，"
        f"{len(chiefs.channels)} 个通道，{len(chiefs.operators)} 个运维；"
        f"{unconfirmed} 条未核实 {UNCONFIRMED}，{len(chiefs.unreachable)} 个无法送达。"
    )


def _reach_json(chiefs: RiverChiefs, reach: Reach, registry: Registry) -> dict[str, Any]:
    return {
        "id": reach.id, "river": reach.river, "county": reach.county,
        "county_name": registry.unit(reach.county).name, "township": reach.township,
        "from": reach.from_, "to": reach.to,
        "sections": [{"id": s, "name": registry.section(s).name} for s in reach.sections],
        "chiefs": [c.id for c in chiefs.chiefs_for_reach(reach.id)],
        "confirmed": reach.confirmed, "note": reach.note,
    }  # fmt: skip


def _chief_json(chiefs: RiverChiefs, chief: Chief) -> dict[str, Any]:
    return {
        "id": chief.id, "post": chief.post, "level": chief.level.label,
        "level_rank": int(chief.level), "name": chief.name, "mobile": chief.mobile,
        "email": chief.email, "reaches": list(chief.reaches), "channels": list(chief.channels),
        "escalate_to": chief.escalate_to,
        "escalation": [c.id for c in chiefs.escalation_chain(chief.id)[1:]],
        "reachable": chief.id not in chiefs.unreachable,
        "confirmed": chief.confirmed, "note": chief.note,
    }  # fmt: skip


def _channel_json(channel: ChannelEntry) -> dict[str, Any]:
    return {
        "id": channel.id, "kind": channel.kind, "url": channel.url, "secret": channel.secret,
        "to": list(channel.to), "template": channel.template,
        "variables": list(channel.variables), "confirmed": channel.confirmed,
        "note": channel.note,
    }  # fmt: skip


def _operator_json(chiefs: RiverChiefs, operator: Operator) -> dict[str, Any]:
    return {
        "id": operator.id, "post": operator.post, "sections": list(operator.sections),
        "channels": list(operator.channels), "name": operator.name, "mobile": operator.mobile,
        "email": operator.email, "reachable": operator.id not in chiefs.unreachable,
        "confirmed": operator.confirmed, "note": operator.note,
    }  # fmt: skip


def _as_json(chiefs: RiverChiefs, registry: Registry) -> dict[str, Any]:
    """The whole registry as one JSON object (placeholders as written, levels as 省…村)."""
    return {
        "source": chiefs.source,
        "reaches": [_reach_json(chiefs, r, registry) for r in chiefs.reaches],
        "chiefs": [_chief_json(chiefs, c) for c in chiefs.chiefs],
        "channels": [_channel_json(c) for c in chiefs.channels],
        "operators": [_operator_json(chiefs, o) for o in chiefs.operators],
        "unreachable": list(chiefs.unreachable),
        "uncovered": list(chiefs.uncovered),
        "warnings": list(chiefs.warnings),
    }
