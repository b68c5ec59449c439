"""The web app: serve it, or seed a synthetic year first and then serve it (the demo)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from service.cli import _report
from service.cli._context import state_of
from service.cli._options import DEFAULT_HOST, DEFAULT_PORT
from service.time import beijing_today

if TYPE_CHECKING:
    from sections.registry import Registry
    from service.settings import Settings

__all__ = ["demo_command", "serve_command"]


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
    from service.demo.run import (
        DEMO_ADMIN,
        default_demo_year,
        ensure_demo_admin,
        issue_demo_statements,
        run_demo_jobs,
        seed_demo,
    )

    state = state_of(ctx)
    settings, registry = state.settings(), state.registry()
    engine = state.engine()
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
        engine=engine, registry=registry, year=the_year, show_progress=progress, settings=settings
    )
    compensation = issue_demo_statements(
        engine=engine, registry=registry, year=the_year, show_progress=progress
    )
    typer.echo(_report.demo_summary(summary, jobs))
    for line in compensation.lines():
        typer.echo("  " + line)
    password = ensure_demo_admin(engine=engine)
    if password is not None:
        typer.echo(
            f"  管理员 admin 的一次性口令（只显示这一次，登录后请用 qingliu users passwd 修改）/ "
            f"one-time admin password (shown once): {password}"
        )
    else:
        typer.echo(f"  管理员 {DEMO_ADMIN} 已存在 / the admin exists (qingliu users passwd admin)")
    if serve:
        state.close()  # the app makes its own engine
        _serve(settings, registry, host=host, port=port)


def serve_command(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="监听地址 / host")] = DEFAULT_HOST,
    port: Annotated[int, typer.Option(help="端口 / port")] = DEFAULT_PORT,
) -> None:
    """启动网页服务与接口。Serve the web app and API."""
    state = state_of(ctx)
    _serve(state.settings(), state.registry(), host=host, port=port)


def _serve(settings: Settings, registry: Registry, *, host: str, port: int) -> None:
    import uvicorn

    from service.app import create_app

    application = create_app(settings, registry=registry)
    typer.echo(
        f"网页 / web app: http://{host}:{port}/   接口文档 / API docs: http://{host}:{port}/docs"
    )
    uvicorn.run(application, host=host, port=port, log_level="info")
