"""The database schema: ``qingliu migrate`` upgrades it and does nothing else."""

from __future__ import annotations

import typer

from service.cli._context import state_of

__all__ = ["migrate_command"]


def migrate_command(ctx: typer.Context) -> None:
    """把数据库升级到最新结构。Upgrade the database to the newest schema."""
    from service.db.engine import current_revision

    engine = state_of(ctx).engine()  # migrated on first use
    revision = current_revision(engine)
    url = engine.url.render_as_string(hide_password=True)
    typer.echo(f"数据库已是最新结构 / database at revision {revision}: {url}")
