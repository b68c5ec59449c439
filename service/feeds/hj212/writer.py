"""The HJ 212 receiver's writer: what the connections queued, stored in batches, one
transaction each, in the order received (see :mod:`service.feeds.hj212.receiver`).

A read's frames are one group; a group is done (and its frames may be answered) when its last
frame is stored, even when it spans two batches. A batch that fails is stored again frame by
frame, so one bad frame never costs another: a frame that still fails is archived ``rejected``
with its reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Engine

from service.db.ingest import (
    RawRecord,
    UpsertCounts,
    archive_raw,
    store_observations,
    upsert_observations,
)
from service.db.models import utc_now
from service.feeds.hj212.config import ReceiverConfig, ReceiverStats
from service.feeds.hj212.rows import ROW_COLUMNS

__all__ = ["BatchWriter", "PendingFrame"]

log = logging.getLogger("qingliu.hj212")

_STORED_COLUMNS = (*ROW_COLUMNS, "raw_message_id")
"""The columns of the observation rows the writer stores: a frame's rows and its raw id."""


@dataclass(slots=True)
class PendingFrame:
    """One frame (or refused bytes) to store: its raw record and its observation rows.

    Rows are tuples in the order of :data:`ROW_COLUMNS`, or mappings as
    :func:`~service.db.ingest.upsert_observations` takes them. ``stored`` is set by the writer.
    """

    raw: RawRecord
    rows: Sequence[tuple[Any, ...] | Mapping[str, Any]]
    stored: bool | None = None


@dataclass(slots=True)
class _Group:
    """What one read (or one event) submits: stored in order, ``done`` when the last is."""

    items: list[PendingFrame]
    done: asyncio.Future[None]
    left: int = field(init=False)

    def __post_init__(self) -> None:
        self.left = len(self.items)



class BatchWriter:
    """Stores queued frames for a receiver: ``submit`` from the event loop, ``run`` as its task."""

    def __init__(self, *, engine: Engine, config: ReceiverConfig, stats: ReceiverStats) -> None:
        self.engine = engine
        self.config = config
        self.stats = stats
        self._queue: asyncio.Queue[_Group] = asyncio.Queue()

    async def drained(self) -> None:
        """Wait until everything queued so far is stored (or its storage has failed)."""
        await self._queue.join()

    def submit(self, items: list[PendingFrame]) -> asyncio.Future[None]:
        """Queue ``items`` for the writer; the future is done when all of them are stored (or
        their storage failed: see each item's ``stored``)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if items:
            self._queue.put_nowait(_Group(items, done))  # unbounded: never waits
        else:
            done.set_result(None)
        return done

    async def run(self) -> None:
        """Store what the connections queued, in order, ``batch_size`` frames a transaction at
        most; a read's group may span two batches and is done when its last frame is stored."""
        loop = asyncio.get_running_loop()
        size = max(self.config.batch_size, 1)
        backlog: deque[PendingFrame] = deque()
        open_groups: deque[_Group] = deque()

        def take(group: _Group) -> None:
            open_groups.append(group)
            backlog.extend(group.items)

        while True:
            if not backlog:
                take(await self._queue.get())
            deadline = loop.time() + self.config.flush_interval
            while len(backlog) < size:
                try:
                    take(self._queue.get_nowait())
                    continue
                except asyncio.QueueEmpty:
                    pass
                timeout = deadline - loop.time()
                if timeout <= 0:
                    break
                try:
                    take(await asyncio.wait_for(self._queue.get(), timeout))
                except TimeoutError:
                    break
            batch = [backlog.popleft() for _ in range(min(size, len(backlog)))]
            try:
                stored = await loop.run_in_executor(None, self.store_safely, batch)
            except Exception as exc:  # even the fallback failed: nothing answered, stream goes on
                log.exception("写入数据库失败 / storing a batch failed: %s", exc)
                stored = [False] * len(batch)
            for pending, ok in zip(batch, stored, strict=True):
                pending.stored = ok
            done = len(batch)
            while done and open_groups:
                group = open_groups[0]
                used = min(group.left, done)
                group.left -= used
                done -= used
                if group.left:
                    break
                open_groups.popleft()
                if not group.done.done():
                    group.done.set_result(None)
                self._queue.task_done()

    def store_safely(self, batch: list[PendingFrame]) -> list[bool]:
        """Store a batch in one transaction; when that fails, frame by frame.

        Returns whether each frame is stored. A frame that fails alone is archived
        ``rejected`` with reason ``storage_failed: …`` (its values not stored), so one bad
        frame never costs another frame of the batch.
        """
        try:
            self.stats.observations += self.store(batch)
            return [True] * len(batch)
        except Exception as exc:
            log.warning("批量写入失败，逐帧写入 / a batch of %d failed (%s), storing frame by "
                        "frame", len(batch), exc)  # fmt: skip
        results: list[bool] = []
        for pending in batch:
            try:
                self.stats.observations += self.store([pending])
                results.append(True)
                continue
            except Exception as exc:
                self.stats.storage_failures += 1
                log.warning("帧写入失败，已存档 / a frame failed to store, archived: %s", exc)
                reason = f"storage_failed: {type(exc).__name__}: {exc}"[:500]
                if pending.raw.reason:
                    reason += f"; {pending.raw.reason}"
                raw = pending.raw
                failed = RawRecord(raw.source, raw.payload, "rejected", raw.peer, reason,
                                   raw.station)  # fmt: skip
            try:
                self.store([PendingFrame(failed, [])])
            except Exception:
                log.exception("存档失败 / archiving a frame failed")
            results.append(False)
        return results

    def store(self, batch: list[PendingFrame]) -> UpsertCounts:
        received = utc_now()
        with self.engine.begin() as connection:
            ids = archive_raw(
                connection,
                [
                    RawRecord(p.raw.source, p.raw.payload, p.raw.parse_status, p.raw.peer,
                              p.raw.reason, p.raw.station, received)
                    for p in batch
                ],
            )  # fmt: skip
            rows: list[tuple[Any, ...]] = []
            mappings: list[dict[str, Any]] = []  # rows handed in as mappings (not the receiver's)
            for pending, raw_id in zip(batch, ids, strict=True):
                if not pending.rows:
                    continue
                if isinstance(pending.rows[0], Mapping):
                    for mapping in cast(Sequence[Mapping[str, Any]], pending.rows):
                        mappings.append({**mapping, "raw_message_id": raw_id})
                    continue
                tail = (raw_id,)
                for row in cast(Sequence[tuple[Any, ...]], pending.rows):
                    rows.append(row + tail)
            counts = store_observations(connection, _STORED_COLUMNS, rows)
            if mappings:
                counts += upsert_observations(connection, mappings)
            return counts
