"""A throwaway PostgreSQL server for the test run, from the machine's PostgreSQL binaries.

``QINGLIU_TEST_POSTGRES_URL`` points the tests at an existing server instead. When neither works,
:func:`start_postgres` returns the reason, and the PostgreSQL tests are skipped loudly.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PostgresServer", "start_postgres"]


@dataclass
class PostgresServer:
    """A running server: its admin URL and how to stop it."""

    url: str
    data_dir: Path | None = None
    bin_dir: Path | None = None
    run_as: str | None = None

    def stop(self) -> None:
        if self.data_dir is None or self.bin_dir is None:
            return
        subprocess.run(
            [*_as_user(self.run_as), str(self.bin_dir / "pg_ctl"), "-D",
             str(self.data_dir / "data"), "-m", "immediate", "-w", "stop"],
            check=False, capture_output=True, timeout=60,
        )  # fmt: skip
        shutil.rmtree(self.data_dir, ignore_errors=True)


def _as_user(user: str | None) -> list[str]:
    return ["runuser", "-u", user, "--"] if user else []


def _bin_dir() -> Path | None:
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True
    )
    for candidate in candidates:
        if (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    found = shutil.which("pg_ctl")
    return Path(found).resolve().parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_postgres() -> PostgresServer | str:
    """Start a server, or return why not (a message for the loud skip)."""
    existing = os.environ.get("QINGLIU_TEST_POSTGRES_URL")
    if existing:
        return PostgresServer(url=existing)
    bin_dir = _bin_dir()
    if bin_dir is None:
        return "PostgreSQL binaries (pg_ctl, initdb) not found; install Debian's postgresql package"
    run_as: str | None = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root but there is no 'postgres' user to run the server as"
        run_as = "postgres"
    base = Path(tempfile.mkdtemp(prefix="qingliu-pg-"))
    if run_as:
        shutil.chown(base, user=run_as)
    port = _free_port()
    server = PostgresServer(
        url=f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres",
        data_dir=base, bin_dir=bin_dir, run_as=run_as,
    )  # fmt: skip
    try:
        subprocess.run(
            [*_as_user(run_as), str(bin_dir / "initdb"), "-D", str(base / "data"), "-A", "trust",
             "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        options = (
            f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        subprocess.run(
            [*_as_user(run_as), str(bin_dir / "pg_ctl"), "-D", str(base / "data"), "-o", options,
             "-l", str(base / "server.log"), "-w", "-t", "60", "start"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        log = base / "server.log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        server.stop()
        reason = detail.decode(errors="replace")
        return f"could not start PostgreSQL from {bin_dir}: {exc} {reason} {tail}"
    return server
