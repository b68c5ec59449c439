"""Processes that start together on a fresh database (web workers, a receiver, a job) all
migrate it without clashing: one migrates, the others wait and find the schema current."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from service.db.engine import current_revision, migrations_config
from service.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 3


def test_processes_starting_together_migrate_one_after_another(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    url = settings.effective_database_url
    started = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.service.migrate_worker", url, str(tmp_path / f"w{n}")],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        for n in range(PROCESSES)
    ]  # fmt: skip
    deadline = time.monotonic() + 180
    outputs = []
    for process in started:
        out, _ = process.communicate(timeout=max(deadline - time.monotonic(), 1))
        outputs.append((process.returncode, out.decode(errors="replace")[-2000:]))
    assert [code for code, _ in outputs] == [0] * PROCESSES, outputs
    head = ScriptDirectory.from_config(migrations_config()).get_current_head()
    assert current_revision(engine) == head
