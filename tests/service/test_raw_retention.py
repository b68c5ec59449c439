"""Raw messages older than the retention period move to checksummed files; rows stay."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from service.cli import app
from service.db.ingest import RawRecord, archive_raw, upsert_observations
from service.db.models import Observation, RawMessage, table_of
from service.db.retention import MANIFEST, archive_expired, read_archive
from service.errors import InputError
from service.settings import Settings
from service.time import BEIJING

RAW = table_of(RawMessage)


def _store(engine: Engine, when: dt.datetime, payloads: list[bytes]) -> list[int]:
    """Archive payloads received at ``when``, with an observation referring to the first."""
    records = [RawRecord("hj212", p, "accepted", "10.0.0.1", "", "HS0001", when) for p in payloads]
    with engine.begin() as connection:
        ids = archive_raw(connection, records)
        upsert_observations(connection, [{
            "station": "HS0001", "section_id": "xiaofanqiao", "parameter": "nh3n",
            "observed_at": when, "value": 0.3, "unit": "mg/L", "source": "hj212",
            "raw_message_id": ids[0],
        }])  # fmt: skip
    return ids


def _rows(engine: Engine) -> dict[int, tuple[bytes, str | None, str]]:
    with engine.connect() as connection:
        rows = connection.execute(select(RAW.c.id, RAW.c.payload, RAW.c.archive, RAW.c.sha256))
        return {int(r.id): (bytes(r.payload), r.archive, r.sha256) for r in rows}


def _populated(engine: Engine) -> tuple[list[int], list[int], list[int]]:
    june = _store(engine, dt.datetime(2025, 6, 30, 17, tzinfo=dt.UTC),  # 07-01 01:00 Beijing
                  [b"##0101QN=june-" + bytes([i]) * 40 for i in range(3)])  # fmt: skip
    may = _store(engine, dt.datetime(2025, 5, 3, tzinfo=dt.UTC), [b"\xff\x00 not utf-8", b"x"])
    recent = _store(engine, dt.datetime(2025, 9, 1, tzinfo=dt.UTC), [b"##0101QN=recent"])
    return may, june, recent


def test_the_job_archives_whole_months_past_retention_and_keeps_tombstones(
    db: Engine, settings: Settings
) -> None:
    may, july, recent = _populated(db)
    before = _rows(db)
    now = dt.datetime(2025, 9, 15, tzinfo=dt.UTC)
    settings = settings.with_(raw_retention_days=60)  # cut-off 2025-07-01 Beijing
    summary = archive_expired(engine=db, settings=settings, now=now)
    directory = settings.data_dir / "raw-archive"
    assert [f.name for f in summary.files] == ["raw-2025-05.jsonl.gz"]
    assert summary.messages == 2 and "raw-2025-05.jsonl.gz" in summary.describe()
    rows = _rows(db)
    for i in may:  # payload gone, row kept with its hash and the file's name
        assert rows[i] == (b"", "raw-2025-05.jsonl.gz", before[i][2])
    for i in july + recent:
        assert rows[i] == before[i]
    restored = {m.id: m.payload for m in read_archive(directory / "raw-2025-05.jsonl.gz")}
    assert restored == {i: before[i][0] for i in may}
    digest = hashlib.sha256((directory / "raw-2025-05.jsonl.gz").read_bytes()).hexdigest()
    assert (directory / MANIFEST).read_text() == f"{digest}  raw-2025-05.jsonl.gz\n"
    with db.connect() as connection:  # provenance: the observation still names its message
        linked = connection.execute(
            select(Observation.raw_message_id).where(Observation.raw_message_id == may[0])
        ).all()
    assert linked == [(may[0],)]
    # nothing left to do for the same cut-off; with retention 0 nothing is ever archived
    assert archive_expired(engine=db, settings=settings, now=now).files == []
    off = archive_expired(engine=db, settings=settings.with_(raw_retention_days=0), now=now)
    assert not off.enabled and "永久保留" in off.describe()


def test_the_command_archives_before_a_day_and_verify_reads_it_back(
    db: Engine, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, july, recent = _populated(db)
    monkeypatch.setenv("QINGLIU_DATABASE_URL", str(settings.database_url))
    monkeypatch.setenv("QINGLIU_DATA_DIR", str(settings.data_dir))
    target = tmp_path / "archive"
    runner = CliRunner()
    done = runner.invoke(app, ["raw", "archive", "--before", "2025-08-01", "--to", str(target)])
    assert done.exit_code == 0, done.output
    assert "raw-2025-05.jsonl.gz\t2\t" in done.output and "raw-2025-07.jsonl.gz\t3\t" in done.output
    rows = _rows(db)
    assert all(rows[i][1] == "raw-2025-07.jsonl.gz" and rows[i][0] == b"" for i in july)
    assert rows[recent[0]][1] is None
    verified = runner.invoke(app, ["raw", "verify", str(target)])
    assert verified.exit_code == 0 and "archive intact: 5 messages" in verified.output
    # a second run later for the same month writes a second file, never over the first
    late = _store(db, dt.datetime(2025, 7, 20, tzinfo=BEIJING), [b"late"])
    again = runner.invoke(app, ["raw", "archive", "--before", "2025-08-01", "--to", str(target)])
    assert again.exit_code == 0 and "raw-2025-07.2.jsonl.gz\t1\t" in again.output
    assert _rows(db)[late[0]][1] == "raw-2025-07.2.jsonl.gz"
    # a damaged file is found
    damaged = target / "raw-2025-05.jsonl.gz"
    lines = gzip.decompress(damaged.read_bytes()).replace(b'"source": "hj212"', b'"source": "x"', 1)
    damaged.write_bytes(gzip.compress(lines))
    bad = runner.invoke(app, ["raw", "verify", str(target)])
    assert bad.exit_code == 2 and "SHA-256" in bad.output


def test_a_bad_line_is_refused_on_reading(tmp_path: Path) -> None:
    path = tmp_path / "raw-2025-01.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"id": 1, "payload": "AAAA", "sha256": "00"}\n'))
    with pytest.raises(InputError, match="line 1"):
        list(read_archive(path))


_FULL_DISK = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (16384, 16384))
from service.cli import main
sys.argv = ["qingliu", "raw", "archive", "--before", "2025-08-01", "--to", sys.argv[1]]
main()
"""


def test_a_full_disk_removes_nothing(db: Engine, settings: Settings, tmp_path: Path) -> None:
    """The archive file cannot grow past 16 KiB (as on a full disk): the command fails with a
    message, no payload leaves the database and no archive file is left behind."""
    payloads = [os.urandom(600) for _ in range(100)]  # incompressible: ~80 KiB of archive
    _store(db, dt.datetime(2025, 6, 1, tzinfo=dt.UTC), payloads)
    before = _rows(db)
    target = tmp_path / "archive"
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # the command's error log goes there
    env = {**os.environ, "QINGLIU_DATABASE_URL": str(settings.database_url),
           "QINGLIU_DATA_DIR": str(settings.data_dir)}  # fmt: skip
    finished = subprocess.run(
        [sys.executable, "-c", _FULL_DISK, str(target)], env=env, capture_output=True,
        text=True, timeout=120, check=False,
    )  # fmt: skip
    assert finished.returncode == 5, finished.stderr  # UnavailableError: try again later
    assert "未删除任何报文" in finished.stderr + finished.stdout
    assert _rows(db) == before
    assert [p.name for p in target.iterdir()] == []
