"""Station credentials: the MN and password an HJ 212 logger signs its frames with."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from service.cli import _report
from service.cli._context import state_of
from service.errors import InputError

__all__ = ["stations_add_command", "stations_list_command"]

#: Longest MN HJ 212-2017 allows.
MN_MAX_LENGTH = 24
_MN_FORBIDDEN = ";=,&"


def stations_add_command(
    ctx: typer.Context,
    mn: Annotated[str, typer.Argument(help="数采仪 MN（至多 24 个字符）/ the logger's MN")],
    section: Annotated[str, typer.Option(help="断面 id / section id")],
    password: Annotated[
        str,
        typer.Option(
            prompt="站点密码 / station password", hide_input=True,
            envvar="QINGLIU_STATION_PASSWORD",
            help="HJ 212 PW（只保存其摘要）/ the PW (only its digest is kept)",
        ),
    ],
) -> None:  # fmt: skip
    """登记或更新一个自动站。Register (or update) a station."""
    from service.db.ingest import add_station

    state = state_of(ctx)
    state.section(section)
    if (
        not mn or len(mn) > MN_MAX_LENGTH or not mn.isascii()
        or any(c in mn for c in _MN_FORBIDDEN)
    ):  # fmt: skip
        raise InputError(f"MN 无效 / invalid MN {mn!r} (≤ 24 ASCII characters, no ;=,&)")
    if not password:
        raise InputError("密码不能为空 / the password must not be empty")
    add_station(engine=state.engine(), mn=mn, section_id=section, password=password)
    typer.echo(f"已登记 / registered {mn} → {section}")


def stations_list_command(ctx: typer.Context) -> None:
    """列出已登记的自动站。List registered stations."""
    from service.db.ingest import list_stations

    state = state_of(ctx)
    stations = list_stations(engine=state.engine())
    Console(width=160).print(_report.stations_table(stations, state.registry()))
    typer.echo(f"共 {len(stations)} 个 / {len(stations)} station(s)")
