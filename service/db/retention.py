"""Retention of raw messages: old payloads move to checksummed archive files, rows stay.

``raw_message`` keeps every payload received. After ``QINGLIU_RAW_RETENTION_DAYS`` (the
``raw-archive`` job, or ``qingliu raw archive --before D --to DIR``) the payloads of each
Beijing month go to one archive file, ``raw-YYYY-MM.jsonl.gz`` (gzip of JSON Lines, one message
a line with its id, source, peer, time, status, reason, station, SHA-256 and the payload in
base64), listed with its SHA-256 in ``SHA256SUMS`` (the format of ``sha256sum -c``). Only when
the file is written, flushed to disk (``fsync`` of the file and its directory), read back and
every payload's hash checked does the database drop the payloads: the row is kept as a
**tombstone**, with an empty ``payload``, ``archived_at`` and ``archive`` (the file's name). Its
id, hash, status and reason stay, so every observation keeps its ``raw_message_id`` and its
provenance can be followed into the file.

A failure before that point (a full disk, an unwritable directory, a file that does not read
back) deletes nothing: the error is raised, the half-written file removed, and the next run
starts again. A month archived in two runs gets a second file (``raw-YYYY-MM.2.jsonl.gz``); an
existing file is never overwritten. :func:`read_archive` reads a file back, checking each hash.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import json
import logging
import os
import secrets
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select, update

from service.db.models import RawMessage, table_of, utc_now
from service.errors import InputError, UnavailableError
from service.settings import Settings
from service.time import BEIJING

__all__ = [
    "MANIFEST",
    "ArchiveFile",
    "ArchiveSummary",
    "ArchivedMessage",
    "archive_dir",
    "archive_expired",
    "archive_raw_messages",
    "read_archive",
]

log = logging.getLogger("qingliu.retention")

MANIFEST = "SHA256SUMS"
"""The archive directory's list of files and their SHA-256 (``sha256sum -c SHA256SUMS``)."""
_PAGE = 2_000
_RAW = table_of(RawMessage)


@dataclass(frozen=True)
class ArchivedMessage:
    """One raw message as an archive file holds it."""

    id: int
    source: str
    peer: str
    received_at: dt.datetime
    parse_status: str
    reason: str
    station: str | None
    sha256: str
    payload: bytes


@dataclass(frozen=True)
class ArchiveFile:
    """A file written by one run: its name, month, messages and SHA-256."""

    name: str
    month: dt.date
    messages: int
    sha256: str


@dataclass
class ArchiveSummary:
    """What a run archived."""

    before: dt.datetime
    directory: Path
    files: list[ArchiveFile] = field(default_factory=list)
    enabled: bool = True

    @property
    def messages(self) -> int:
        """Messages whose payloads moved to files."""
        return sum(f.messages for f in self.files)

    def describe(self) -> str:
        """One line, Chinese first."""
        if not self.enabled:
            return "原始报文永久保留（保留天数为 0）/ raw messages are kept forever (retention 0)"
        names = ", ".join(f.name for f in self.files) or "无 / none"
        when = self.before.astimezone(BEIJING).isoformat()
        return (
            f"归档 {when} 之前的原始报文 {self.messages} 条至 {self.directory}：{names} / "
            f"{self.messages} raw messages received before {when} archived: {names}"
        )


def archive_dir(settings: Settings) -> Path:
    """``QINGLIU_RAW_ARCHIVE_DIR``, or ``raw-archive`` in the data directory."""
    return settings.raw_archive_dir or settings.data_dir / "raw-archive"


def _month_start(moment: dt.datetime) -> dt.datetime:
    local = moment.astimezone(BEIJING)
    return dt.datetime(local.year, local.month, 1, tzinfo=BEIJING)


def _next_month(start: dt.datetime) -> dt.datetime:
    return (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def _aware(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _line(row: Any) -> bytes:
    payload = bytes(row.payload)
    record = {
        "id": int(row.id), "source": row.source, "peer": row.peer,
        "received_at": _aware(row.received_at).isoformat(), "parse_status": row.parse_status,
        "reason": row.reason, "station": row.station, "sha256": row.sha256,
        "payload": base64.b64encode(payload).decode("ascii"),
    }  # fmt: skip
    return json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n"


def read_archive(path: Path) -> Iterator[ArchivedMessage]:
    """The messages of an archive file, in order; each payload checked against its SHA-256.

    Raises
    ------
    InputError
        A line that is not an archived message, or a payload that does not match its hash.
    """
    with gzip.open(path, "rb") as lines:
        for number, line in enumerate(lines, start=1):
            try:
                record = json.loads(line)
                payload = base64.b64decode(record["payload"], validate=True)
                message = ArchivedMessage(
                    id=int(record["id"]), source=str(record["source"]), peer=str(record["peer"]),
                    received_at=dt.datetime.fromisoformat(record["received_at"]),
                    parse_status=str(record["parse_status"]), reason=str(record["reason"]),
                    station=record["station"], sha256=str(record["sha256"]), payload=payload,
                )  # fmt: skip
            except (ValueError, KeyError, TypeError) as exc:
                raise InputError(
                    f"归档文件 {path.name} 第 {number} 行无法读取 / line {number} of {path.name} "
                    f"is not an archived message: {exc}"
                ) from None
            if hashlib.sha256(payload).hexdigest() != message.sha256:
                raise InputError(
                    f"归档文件 {path.name} 第 {number} 行校验和不符 / line {number} of "
                    f"{path.name}: the payload does not match its SHA-256"
                )
            yield message


def _fsync_dir(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write(engine: Engine, temporary: Path, start: dt.datetime, end: dt.datetime) -> array[int]:
    """Write the month's unarchived messages to ``temporary`` (gzip, fsynced); their ids."""
    ids: array[int] = array("q")
    after = 0
    low, high = start.astimezone(dt.UTC), end.astimezone(dt.UTC)  # SQLite compares UTC text
    with temporary.open("xb") as file:
        with gzip.GzipFile(fileobj=file, mode="wb", mtime=0) as packed:
            while True:
                with engine.connect() as connection:
                    page = connection.execute(
                        select(_RAW.c.id, _RAW.c.source, _RAW.c.peer, _RAW.c.received_at,
                               _RAW.c.parse_status, _RAW.c.reason, _RAW.c.station,
                               _RAW.c.sha256, _RAW.c.payload)
                        .where(_RAW.c.received_at >= low, _RAW.c.received_at < high,
                               _RAW.c.archived_at.is_(None), _RAW.c.id > after)
                        .order_by(_RAW.c.id).limit(_PAGE)
                    ).all()  # fmt: skip
                if not page:
                    break
                for row in page:
                    packed.write(_line(row))
                    ids.append(int(row.id))
                after = int(page[-1].id)
        file.flush()
        os.fsync(file.fileno())
    return ids


def _verify(path: Path, ids: array[int]) -> None:
    """Read the file back: the same messages in the same order, every hash right."""
    count = 0
    try:
        for message in read_archive(path):
            if count >= len(ids) or message.id != ids[count]:
                break
            count += 1
    except (InputError, EOFError) as exc:
        raise UnavailableError(
            f"归档文件 {path.name} 读回有误，未删除任何报文 / {path.name} does not read back, "
            f"nothing was removed: {exc}"
        ) from exc
    if count != len(ids):
        raise UnavailableError(f"归档文件 {path.name} 不完整 / {path.name} holds {count} of "
                               f"{len(ids)} messages")  # fmt: skip


def _publish(directory: Path, temporary: Path, month: dt.date) -> str:
    """Give the verified file its name without overwriting one; returns the name."""
    part = 1
    while True:
        suffix = "" if part == 1 else f".{part}"
        name = f"raw-{month:%Y-%m}{suffix}.jsonl.gz"
        try:
            os.link(temporary, directory / name)
        except FileExistsError:
            part += 1
            continue
        temporary.unlink()
        _fsync_dir(directory)
        return name


def _list_in_manifest(directory: Path, name: str, digest: str) -> None:
    with (directory / MANIFEST).open("a", encoding="ascii") as manifest:
        manifest.write(f"{digest}  {name}\n")
        manifest.flush()
        os.fsync(manifest.fileno())
    _fsync_dir(directory)


def _tombstone(engine: Engine, ids: array[int], name: str) -> int:
    """Drop the archived payloads, in one transaction; returns the rows changed."""
    now = utc_now()
    changed = 0
    with engine.begin() as connection:
        for start in range(0, len(ids), _PAGE):
            chunk = list(ids[start : start + _PAGE])
            result = connection.execute(
                update(_RAW)
                .where(_RAW.c.id.in_(chunk), _RAW.c.archived_at.is_(None))
                .values(payload=b"", archived_at=now, archive=name)
            )
            changed += int(result.rowcount)
    return changed


def _archive_month(
    engine: Engine, directory: Path, start: dt.datetime, end: dt.datetime
) -> ArchiveFile | None:
    month = start.astimezone(BEIJING).date()
    temporary = directory / f".raw-{month:%Y-%m}.{secrets.token_hex(4)}.tmp"
    try:
        ids = _write(engine, temporary, start, end)
        if not ids:
            temporary.unlink()
            return None
        _verify(temporary, ids)
        digest = _sha256_of(temporary)
        name = _publish(directory, temporary, month)
        _list_in_manifest(directory, name, digest)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise UnavailableError(
            f"原始报文归档写入失败，未删除任何报文 / the raw archive could not be written, "
            f"nothing was removed: {exc}"
        ) from exc
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    changed = _tombstone(engine, ids, name)
    if changed != len(ids):  # another run archived some of them meanwhile: kept in both files
        log.warning("归档 %s：%d 条中 %d 条已由另一次归档处理 / %s: %d of %d messages were "
                    "archived by another run", name, len(ids), len(ids) - changed, name,
                    len(ids), len(ids) - changed)  # fmt: skip
    log.info("原始报文已归档 / raw messages archived: %s (%d)", name, len(ids))
    return ArchiveFile(name=name, month=month, messages=len(ids), sha256=digest)


def archive_raw_messages(*, engine: Engine, before: dt.datetime, directory: Path) -> ArchiveSummary:
    """Archive the payloads of raw messages received before ``before``, one file per Beijing
    month, then drop them from the database (rows kept as tombstones).

    Raises
    ------
    InputError
        ``before`` without a zone.
    UnavailableError
        A file could not be written or did not read back: nothing of its month was removed.
    """
    if before.tzinfo is None:
        raise InputError("归档截止时间须带时区 / the archive cut-off needs a zone")
    summary = ArchiveSummary(before=before, directory=directory)
    with engine.connect() as connection:
        oldest = connection.execute(
            select(func.min(_RAW.c.received_at)).where(
                _RAW.c.archived_at.is_(None), _RAW.c.received_at < before.astimezone(dt.UTC)
            )
        ).scalar()
    if oldest is None:
        return summary
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UnavailableError(
            f"无法创建归档目录 / cannot create the archive directory {directory}: {exc}"
        ) from exc
    start = _month_start(_aware(oldest))
    while start < before:
        end = min(_next_month(start), before)
        written = _archive_month(engine, directory, start, end)
        if written is not None:
            summary.files.append(written)
        start = _next_month(start)
    return summary


def archive_expired(
    *, engine: Engine, settings: Settings, now: dt.datetime | None = None
) -> ArchiveSummary:
    """What the ``raw-archive`` job does: archive the whole Beijing months older than
    ``QINGLIU_RAW_RETENTION_DAYS`` (each month in one file once it is entirely past the
    retention period); nothing when the setting is 0."""
    moment = now or dt.datetime.now(dt.UTC)
    days = settings.raw_retention_days
    cutoff = _month_start(moment - dt.timedelta(days=days))
    if not days:
        return ArchiveSummary(before=cutoff, directory=archive_dir(settings), enabled=False)
    return archive_raw_messages(engine=engine, before=cutoff, directory=archive_dir(settings))
