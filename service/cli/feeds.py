"""Station feeds: the HJ 212 receiver, simulated stations and the national publish API."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Annotated

import typer

from service.cli import _options, _report
from service.cli._context import state_of
from service.errors import InputError

__all__ = ["pull_cnemc_command", "receive_hj212_command", "simulate_command"]

_LOG_FORMAT = "%(asctime)s %(name)s %(message)s"


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
    from service.feeds.hj212.process import tune_garbage_collector
    from service.feeds.hj212.receiver import Hj212Receiver, ReceiverConfig

    host, port = _options.listen(listen, "--listen")
    engine = state_of(ctx).engine()
    logging.basicConfig(level=logging.INFO, format=_LOG_FORMAT)
    receiver = Hj212Receiver(
        engine=engine, config=ReceiverConfig(host=host, port=port, idle_timeout=idle_timeout)
    )

    tune_garbage_collector()

    async def run() -> None:
        bound = await receiver.start()
        typer.echo(f"HJ 212 接收服务 / receiver on {bound[0]}:{bound[1]} (Ctrl-C 停止)")
        try:
            await receiver.serve_forever()
        finally:
            await receiver.close()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    for line in _report.receiver_lines(receiver.stats):
        typer.echo(line)


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
    from service.feeds.simulator import simulate

    host, port = _options.listen(to, "--to")
    registry = state_of(ctx).registry()
    if not 1 <= stations <= len(registry):
        raise InputError(
            f"--stations 必须在 1 与 {len(registry)}（名录断面数）之间 / --stations must be "
            f"between 1 and {len(registry)} (the registry's sections), got {stations}"
        )
    if not rate > 0:
        raise InputError(f"--rate 必须大于 0 / --rate must be positive, got {rate:g}")
    stats = asyncio.run(
        simulate(registry, host=host, port=port, stations=stations, rate=rate,
                 faults=faults, limit=limit, year=year, password=password)
    )  # fmt: skip
    typer.echo(_report.simulation_line(stats))


def pull_cnemc_command(
    ctx: typer.Context,
    area: Annotated[str, typer.Option(help="行政区代码 / area code (131100 衡水)")] = "131100",
    once: Annotated[bool, typer.Option("--once", help="只拉取一次 / pull once")] = False,
    every: Annotated[
        str | None, typer.Option(help="定时拉取间隔，如 30m / pull every interval")
    ] = None,
) -> None:
    """拉取国家地表水自动监测实时数据（未经审核，仅供参考）。Pull the national publish API."""
    from service.feeds.cnemc import CAVEAT, DEFAULT_URL, pull_once

    if once and every:
        raise InputError("--once 与 --every 只能选一个 / use either --once or --every")
    period = None if every is None else _options.interval(every)
    state = state_of(ctx)
    url = state.settings().cnemc_url or DEFAULT_URL
    registry, engine = state.registry(), state.engine()
    typer.echo(f"数据源 / source: {url}（{CAVEAT}）")
    if period is None:
        settings = state.settings()
        summary = pull_once(
            engine=engine, registry=registry, url=url, area=area,
            max_pages=settings.cnemc_max_pages, max_answer_bytes=settings.cnemc_max_answer_bytes,
        )  # fmt: skip
        typer.echo(summary.describe())
        return
    from service.jobs.schedule import run_cnemc_every

    logging.basicConfig(level=logging.INFO, format=_LOG_FORMAT)
    with contextlib.suppress(KeyboardInterrupt):
        run_cnemc_every(period, engine=engine, registry=registry, url=url, area=area)
