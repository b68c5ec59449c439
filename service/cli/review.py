"""The review queue: suspect, over-range and unknown-code values a person decides on."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer
from rich.console import Console

from service.cli import _report
from service.cli._context import state_of

__all__ = [
    "review_accept_command",
    "review_list_command",
    "review_reject_command",
    "review_replace_command",
]

NoteOption = Annotated[str, typer.Option(help="复核说明 / note")]
_DONE = {"accept": "已确认", "reject": "已否决", "replace": "已更正"}


def review_list_command(
    ctx: typer.Context,
    section: Annotated[str | None, typer.Option(help="只看该断面 / one section")] = None,
    limit: Annotated[int, typer.Option(min=1, max=5000, help="条数 / how many")] = 50,
) -> None:
    """列出待复核的值（可疑、超测上限、未知编码）。List the values waiting for review."""
    from service.review import pending_reviews

    items, count = pending_reviews(engine=state_of(ctx).engine(), section_id=section, limit=limit)
    Console().print(_report.review_table(items, count))


def _review(
    ctx: typer.Context, observation_id: int, action: str, value: float | None, note: str
) -> None:
    """Record the decision, then recompute the day it belongs to."""
    from service.review import review_and_recompute

    state = state_of(ctx)
    _, day = review_and_recompute(
        engine=state.engine(), registry=state.registry(), observation_id=observation_id,
        action=action, value=value, note=note, actor=f"cli:{getpass.getuser()}",
    )  # fmt: skip
    typer.echo(f"观测值 {observation_id} {_DONE[action]}；已重算 {day} 的逐日评价 / day recomputed")


def review_accept_command(ctx: typer.Context, observation_id: int, note: NoteOption = "") -> None:
    """确认一个值（按其标记计入）。Accept a value as it stands."""
    _review(ctx, observation_id, "accept", None, note)


def review_reject_command(ctx: typer.Context, observation_id: int, note: NoteOption = "") -> None:
    """否决一个值（不再计入），须说明理由。Reject a value; needs a note."""
    _review(ctx, observation_id, "reject", None, note)


def review_replace_command(
    ctx: typer.Context,
    observation_id: int,
    value: Annotated[float, typer.Option(help="核实后的数值 / the checked value")],
    note: NoteOption = "",
) -> None:
    """以核实值更正（原值存入历史）。Replace a value; the old one is kept in history."""
    _review(ctx, observation_id, "replace", value, note)
