"""Storage at scale: ``raw archive`` and ``raw verify`` (the retention of raw messages) and
``partitions`` (the monthly partitions of observations on PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Annotated

import typer

from service.cli import _options
from service.cli._context import state_of
from service.errors import InputError
from service.time import BEIJING

__all__ = ["partitions_command", "raw_archive_command", "raw_verify_command"]


def raw_archive_command(
    ctx: typer.Context,
    before: Annotated[
        str, typer.Option("--before", help="归档此日（北京时间）之前收到的报文 / cut-off day")
    ],
    to: Annotated[
        Path | None,
        typer.Option("--to", help="归档目录；缺省为 QINGLIU_RAW_ARCHIVE_DIR / archive directory"),
    ] = None,
) -> None:
    """把原始报文写入按月的压缩归档文件，核验后从库中移除报文内容。Archive raw messages.

    Messages received before --before (a Beijing day, YYYY-MM-DD) go to one gzip JSON Lines file
    per month, listed with its SHA-256 in SHA256SUMS; only after the file is on disk and reads
    back does the database drop their payloads (rows, hashes and observations' links stay).
    """
    from service.db.retention import archive_dir, archive_raw_messages

    day = _options.day(before, "--before")
    state = state_of(ctx)
    directory = to if to is not None else archive_dir(state.settings())
    cutoff = dt.datetime.combine(day, dt.time(), BEIJING)
    summary = archive_raw_messages(engine=state.engine(), before=cutoff, directory=directory)
    for written in summary.files:
        typer.echo(f"{written.name}\t{written.messages}\t{written.sha256}")
    typer.echo(summary.describe())


def raw_verify_command(
    directory: Annotated[Path, typer.Argument(help="归档目录 / archive directory")],
) -> None:
    """核验归档目录：清单中每个文件的 SHA-256 与每条报文的校验和。Verify an archive directory.

    Exits 2 when a file is missing, does not match SHA256SUMS, or holds a payload that does not
    match its hash.
    """
    from service.db.retention import MANIFEST, read_archive

    manifest = directory / MANIFEST
    if not manifest.is_file():
        raise InputError(f"没有清单 / no {MANIFEST} in {directory}")
    total = 0
    for line in manifest.read_text("ascii").splitlines():
        digest, _, name = line.partition("  ")
        path = directory / name
        if not path.is_file():
            raise InputError(f"缺少归档文件 / missing archive file {name}")
        if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            raise InputError(f"校验和不符 / {name} does not match its SHA-256")
        count = sum(1 for _ in read_archive(path))
        total += count
        typer.echo(f"{name}\t{count}\tOK")
    typer.echo(f"归档完好：{total} 条报文 / archive intact: {total} messages")


def partitions_command(
    ctx: typer.Context,
    ahead: Annotated[int, typer.Option(min=0, max=36, help="提前建立的月数 / months ahead")] = 3,
) -> None:
    """建立观测表的月分区（PostgreSQL）。Create the monthly partitions of observations.

    What the scheduler's partitions job does: the current month and the next --ahead months get
    their partitions, and rows waiting in the default partition move to their month's. Nothing
    to do on SQLite.
    """
    from service.db.partitions import ensure_partitions, month_partitions

    engine = state_of(ctx).engine()
    summary = ensure_partitions(engine=engine, today=dt.datetime.now(BEIJING).date(), ahead=ahead)
    typer.echo(summary.describe())
    with engine.connect() as connection:
        months = month_partitions(connection)
    if months:
        typer.echo(f"月分区 / partitions: {months[0]:%Y-%m} – {months[-1]:%Y-%m} ({len(months)})")
