"""A local PostgreSQL server for the benchmarks that load a lot: throwaway or kept in a folder.

:func:`start_cluster` runs the machine's PostgreSQL binaries (Debian's ``/usr/lib/postgresql/N``)
as the tests' server does (:mod:`tests.pg_server`: trust authentication, loopback only, as the
``postgres`` user when run as root), with settings for bulk loading stated in
:data:`SERVER_OPTIONS`. Given a folder, the data directory lives there and survives
:meth:`Cluster.stop` (a later run starts the same server again on a new port); without one it is
a temporary folder removed on stop.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# the tests' server helpers: one home for finding the binaries and running them as postgres
from tests.pg_server import _as_user, _bin_dir, _free_port

__all__ = ["SERVER_OPTIONS", "Cluster", "free_port", "start_cluster"]

SERVER_OPTIONS = (
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
    "-c shared_buffers=1GB -c maintenance_work_mem=512MB -c work_mem=32MB "
    "-c max_wal_size=8GB -c checkpoint_timeout=30min -c max_connections=100"
)
"""Benchmark settings: no durability (fsync off, as the tests' server), 1 GB of shared buffers
(of 24 GB RAM), WAL large enough that a month's COPY does not force checkpoints."""


@dataclass
class Cluster:
    """A running server: its admin URL (database ``postgres``), and how to stop it."""

    url: str
    data_dir: Path
    bin_dir: Path
    run_as: str | None
    keep: bool

    def stop(self) -> None:
        """Stop the server (a clean shutdown when kept); remove a throwaway data directory."""
        mode = "fast" if self.keep else "immediate"
        subprocess.run(
            [*_as_user(self.run_as), str(self.bin_dir / "pg_ctl"), "-D",
             str(self.data_dir / "data"), "-m", mode, "-w", "-t", "300", "stop"],
            check=False, capture_output=True, timeout=360,
        )  # fmt: skip
        if not self.keep:
            shutil.rmtree(self.data_dir, ignore_errors=True)


def _binaries_and_user() -> tuple[Path, str | None] | str:
    """The PostgreSQL binaries and the user to run them as (``postgres`` under root)."""
    bin_dir = _bin_dir()
    run_as = "postgres" if os.geteuid() == 0 else None
    if bin_dir is None:
        return "PostgreSQL binaries (pg_ctl, initdb) not found; install Debian's postgresql package"
    if run_as is not None and run_as not in {entry.pw_name for entry in pwd.getpwall()}:
        return f"running as root but there is no {run_as!r} user to run the server as"
    return bin_dir, run_as


def start_cluster(keep: Path | None = None) -> Cluster | str:
    """Start a server in ``keep`` (created by ``initdb`` when it holds none) or in a temporary
    folder; or return why it cannot start."""
    found = _binaries_and_user()
    if isinstance(found, str):
        return found
    bin_dir, run_as = found
    if keep is None:
        base = Path(tempfile.mkdtemp(prefix="qingliu-bench-pg-"))
    else:
        base = keep.resolve()
        base.mkdir(parents=True, exist_ok=True)
    if run_as:
        shutil.chown(base, user=run_as)
    port = _free_port()
    cluster = Cluster(
        url=f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres",
        data_dir=base, bin_dir=bin_dir, run_as=run_as, keep=keep is not None,
    )  # fmt: skip
    log = base / "server.log"
    try:
        if not (base / "data" / "PG_VERSION").exists():
            subprocess.run(
                [*_as_user(run_as), str(bin_dir / "initdb"), "-D", str(base / "data"), "-A",
                 "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"],
                check=True, capture_output=True, timeout=120,
            )  # fmt: skip
        options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 {SERVER_OPTIONS}"
        subprocess.run(
            [*_as_user(run_as), str(bin_dir / "pg_ctl"), "-D", str(base / "data"), "-o", options,
             "-l", str(log), "-w", "-t", "300", "start"],
            check=True, capture_output=True, timeout=360,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError) as exc:
        detail = (getattr(exc, "stderr", b"") or b"").decode(errors="replace")
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        cluster.stop()
        return f"could not start PostgreSQL from {bin_dir} in {base}: {exc} {detail} {tail}"
    return cluster


def free_port() -> int:
    """A free TCP port on loopback."""
    return _free_port()
