"""The HJ 212-2017 TCP receiver (``qingliu receive hj212``): an asyncio server.

Per connection, bytes are cut into frames (:class:`~service.feeds.hj212.FrameSplitter`), each
frame is parsed and checked (length, CRC, fields, station MN and password), and every frame —
accepted, refused or from an unknown station — is archived raw with its status and reason.
Accepted frames' values become observations. A writer task stores what all connections
received in batches, in one transaction each (:mod:`service.feeds.hj212.writer`); only after
that commit is a frame answered with 9014 (when its Flag asks for an answer), so nothing
answered can be lost by a crash or restart. A connection's next reads are checked and queued
while earlier ones wait for their commit (at most :data:`READS_IN_FLIGHT`), and answers go out
in the order received.
A bad frame never closes the connection: the next frame is read as usual.

Stations and passwords are read from the database for every read of a connection
(:class:`~service.feeds.hj212.credentials.StationCredentials`): a password changed with
``qingliu stations add`` applies to the next frame. The packets of a split message are joined
per station; a message whose packets do not all arrive within ``packet_timeout`` is given up:
archived with status ``expired`` and its reason, its values not stored, nothing answered for it.

Hardening against abuse (bounded garbage archiving, rates and connection limits, back-off of
failing senders, frame times, plausibility at the door, per-frame fallback of a failed batch) is
described with its limits in :mod:`service.feeds.hj212.config`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from service.db.ingest import (
    RawRecord,
    StationRecord,
)
from service.db.models import utc_now
from service.errors import FrameError
from service.feeds.hj212.build import response_frame
from service.feeds.hj212.checks import (
    EARLIEST_TIME,
    frame_time_refusal,
    screen_rows,
    screen_tuples,
)
from service.feeds.hj212.config import ReceiverConfig, ReceiverStats, parse_listen
from service.feeds.hj212.credentials import StationCredentials
from service.feeds.hj212.frame import DATA_COMMANDS, Hj212Frame
from service.feeds.hj212.guard import AddressGuard, Refusal, RefusedBytes, TokenBucket
from service.feeds.hj212.parse import parse_frame
from service.feeds.hj212.rows import (
    MAX_UNKNOWN_CODE,
    ROW_COLUMNS,
    UNKNOWN_CODE_REVIEW,
    frame_rows,
    frame_tuples,
)
from service.feeds.hj212.stream import FrameSplitter, PacketAssembler, StreamError
from service.feeds.hj212.writer import BatchWriter, PendingFrame

__all__ = [
    "DEFAULT_LISTEN",
    "EARLIEST_TIME",
    "MAX_UNKNOWN_CODE",
    "READS_IN_FLIGHT",
    "UNKNOWN_CODE_REVIEW",
    "Hj212Receiver",
    "ReceiverConfig",
    "ReceiverStats",
    "frame_rows",
    "frame_time_refusal",
    "parse_listen",
    "screen_rows",
]

log = logging.getLogger("qingliu.hj212")

DEFAULT_LISTEN = "0.0.0.0:9212"
SOURCE = "hj212"
READS_IN_FLIGHT = 4
"""Reads of one connection checked and queued while earlier reads wait for their commit [A].
The writer then gets full batches from a few connections; each read's answers still go out in
order, only after its frames are committed, and a sender past the limit is held back by TCP."""
@dataclass
class _Connection:
    """What the receiver knows about one open connection."""

    peer: str
    host: str
    refused: RefusedBytes
    closing: str = ""  # why the connection is to be closed after this read


_Read = tuple[asyncio.Future[None], list[tuple[PendingFrame, bytes | None]]]
"""What one read of a connection queued: done when stored, and each frame with its answer."""
_Checked = tuple[RawRecord, list[tuple[Any, ...]], bytes | None, bool]
"""What checking one candidate gives: its raw record, its observation rows, its answer, and
whether it is a failure of its sender (unknown MN, wrong password)."""
_Verdicts = dict[tuple[str, str], tuple[StationRecord | None, bool]]
"""(MN, PW) → (the active station of MN or None, whether PW is its password)."""


class Hj212Receiver:
    """An HJ 212 TCP server writing to the database of ``engine``."""

    def __init__(
        self,
        *,
        engine: Engine,
        config: ReceiverConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self.engine = engine
        self.config = config or ReceiverConfig()
        self.stats = ReceiverStats()
        self._clock = clock
        self._wall_clock = wall_clock
        cfg = self.config
        self._guard = AddressGuard(
            max_per_address=cfg.max_connections_per_address, max_total=cfg.max_connections,
            failure_limit=cfg.failure_limit, failure_window=cfg.failure_window,
            backoff=cfg.backoff, max_backoff=cfg.max_backoff, clock=clock,
        )  # fmt: skip
        self._garbage_budget = TokenBucket(
            rate=cfg.garbage_global_rate, burst=cfg.garbage_global_burst, clock=clock
        )
        self._credentials = StationCredentials(engine)
        self._batches = BatchWriter(engine=engine, config=self.config, stats=self.stats)
        self._server: asyncio.Server | None = None
        self._writer: asyncio.Task[None] | None = None
        self._expirer: asyncio.Task[None] | None = None
        self._assemblers: dict[str, PacketAssembler] = {}
        self._connections: set[asyncio.Task[None]] = set()

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> tuple[str, int]:
        """Start listening; returns the bound (host, port) (port 0 picks a free one)."""
        self._writer = asyncio.create_task(self._batches.run(), name="hj212-writer")
        self._expirer = asyncio.create_task(self._expire_loop(), name="hj212-packet-timeout")
        self._server = await asyncio.start_server(
            self._handle, self.config.host, self.config.port, limit=1 << 20
        )
        host, port = self._server.sockets[0].getsockname()[:2]
        log.info("HJ 212 接收服务已启动 / listening on %s:%s", host, port)
        return str(host), int(port)

    async def serve_forever(self) -> None:
        """Serve until cancelled."""
        if self._server is None:
            await self.start()
        assert self._server is not None
        async with self._server:
            await self._server.serve_forever()

    async def close(self) -> None:
        """Stop accepting, store what was received, give up incomplete split messages, stop."""
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        for task in list(self._connections):  # open connections end; what they sent is kept
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)
        expired = self._expired(everything=True, why="receiver stopped / 服务停止")
        await self._submit([PendingFrame(raw, []) for raw in expired])
        await self.drained()
        for background in (self._expirer, self._writer):
            if background is not None:
                background.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await background
        self._writer = self._expirer = None

    async def drained(self) -> None:
        """Wait until everything queued so far is stored (or its storage has failed)."""
        await self._batches.drained()

    # --- connections ----------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
            task.add_done_callback(self._connections.discard)
        peername = writer.get_extra_info("peername")
        peer = f"{peername[0]}:{peername[1]}" if isinstance(peername, tuple) else str(peername)
        host = str(peername[0]) if isinstance(peername, tuple) else str(peername)
        why = self._guard.admit(host)
        if why:  # refused before a byte is read: no archive row, so no amplification
            self.stats.connections_refused += 1
            log.debug("拒绝连接 / connection from %s refused: %s", peer, why)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            return
        self.stats.connections += 1
        cfg = self.config
        connection = _Connection(peer, host, RefusedBytes(
            chunk_bytes=cfg.garbage_chunk_bytes, archive_bytes=cfg.garbage_archive_bytes,
            shared=self._garbage_budget,
        ))  # fmt: skip
        rate = TokenBucket(rate=cfg.read_rate, burst=cfg.read_burst, clock=self._clock)
        splitter = FrameSplitter(max_frame_bytes=cfg.max_frame_bytes)
        reads: asyncio.Queue[_Read | None] = asyncio.Queue()
        room = asyncio.Semaphore(READS_IN_FLIGHT)
        answerer = asyncio.create_task(self._answer(reads, room, writer, connection))
        try:
            while True:
                await room.acquire()
                try:
                    data = await asyncio.wait_for(reader.read(65536), cfg.idle_timeout)
                except TimeoutError:
                    log.info("连接空闲超时，关闭 / idle timeout, closing %s", peer)
                    break
                if not data:
                    break
                reads.put_nowait(await self._receive(splitter.feed(data), connection))
                if connection.closing:
                    log.warning("关闭连接 / closing %s: %s", peer, connection.closing)
                    break
                wait = rate.debt(len(data))
                if wait > 0:  # over its read rate: TCP holds the sender back meanwhile
                    await asyncio.sleep(wait)
            reads.put_nowait(None)  # what was read is still answered, after its commit
            await answerer
        except (ConnectionError, OSError) as exc:
            log.info("连接中断 / connection lost %s: %s", peer, exc)
        except asyncio.CancelledError:
            log.info("服务停止，关闭连接 / shutting down, closing %s", peer)
        finally:
            if not answerer.done():
                answerer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await answerer
            self._guard.release(host)
            refused = connection.refused
            if splitter.pending:
                pending = splitter.take_pending()
                self.stats.garbage_bytes += len(pending)
                if refused.frame(pending):
                    self._submit([PendingFrame(RawRecord(
                        SOURCE, pending, "rejected", peer,
                        "incomplete: connection closed inside a frame"), [])])  # fmt: skip
            # archived without waiting for their storage: a connection always ends at once
            self._submit(self._refusals(refused.flush(), connection))
            self.stats.garbage_unarchived += refused.dropped
            summary = refused.summary()
            if summary is not None:
                self._submit(self._refusals([summary], connection))
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    @staticmethod
    def _refusals(refusals: list[Refusal], connection: _Connection) -> list[PendingFrame]:
        """Refused bytes to archive (``rejected``)."""
        return [
            PendingFrame(RawRecord(SOURCE, r.payload, "rejected", connection.peer, r.reason), [])
            for r in refusals
        ]

    async def _answer(
        self,
        reads: asyncio.Queue[_Read | None],
        room: asyncio.Semaphore,
        writer: asyncio.StreamWriter,
        connection: _Connection,
    ) -> None:
        """Send the answers of a connection's reads in order, each after its frames' commit."""
        lost = False
        while (read := await reads.get()) is not None:
            stored, waits = read
            await stored
            answers = [answer for pending, answer in waits
                       if pending.stored and answer is not None]  # fmt: skip
            if answers and not lost:
                try:
                    writer.write(b"".join(answers))
                    await writer.drain()
                    self.stats.answered += len(answers)
                except (ConnectionError, OSError) as exc:  # the reader sees the end too
                    lost = True
                    connection.closing = connection.closing or f"connection lost: {exc}"
            room.release()

    async def _receive(self, items: list[bytes | StreamError], connection: _Connection) -> _Read:
        """Check and queue every item of one read; returns when its storage is done, and the
        answer of each frame (sent when the frame is stored).

        The stations of the read's frames are read from the database (with the password
        checks, in the executor), so a changed password or station applies to the next frame.
        Garbage is coalesced and archived within the connection's budgets; a sender's failures
        may back its address off (``connection.closing`` says why).
        """
        parsed = [item if isinstance(item, StreamError) else _parse(item) for item in items]
        frames = [item for item in parsed if isinstance(item, Hj212Frame)]
        verdicts: _Verdicts = {}
        if frames:
            loop = asyncio.get_running_loop()
            verdicts = await loop.run_in_executor(None, self._authorise, frames, None)
        refused = connection.refused
        now = self._wall_clock()
        group: list[PendingFrame] = []  # what this read stores, in the order received
        waits: list[tuple[PendingFrame, bytes | None]] = []
        for item, candidate in zip(parsed, items, strict=True):
            if isinstance(item, StreamError):
                self.stats.frames += 1
                self.stats.refused += 1
                self.stats.garbage_bytes += len(item.payload)
                group += self._refusals(refused.garbage(item.payload, item.reason), connection)
                continue
            group += self._refusals(refused.flush(), connection)
            raw, rows, answer, failure = self._check(item, candidate, connection.peer, verdicts,
                                                     now=now)  # fmt: skip
            if isinstance(item, FrameError):
                self.stats.garbage_bytes += len(raw.payload)
                if not refused.frame(raw.payload):
                    continue  # over the budget: counted in the connection's summary row
            if failure and not connection.closing and self._guard.fail(connection.host):
                self.stats.backoffs += 1
                connection.closing = "repeated failures (unknown MN or wrong PW): backed off"
            pending = PendingFrame(raw, rows)
            group.append(pending)
            waits.append((pending, answer))
        group += self._refusals(refused.flush(), connection)
        limit = self.config.max_garbage_bytes
        if 0 < limit < refused.total and not connection.closing:
            connection.closing = f"more than {limit} bytes that are not frames"
            if self._guard.fail(connection.host, weight=max(self.config.failure_limit, 1)):
                self.stats.backoffs += 1
                connection.closing += ": backed off"
        return self._submit(group), waits

    def _authorise(
        self, frames: list[Hj212Frame], stations: Mapping[str, StationRecord] | None
    ) -> _Verdicts:
        """(MN, PW) → (the active station of MN or None, whether PW is its password).

        ``stations``: the active stations to check against; None reads those of ``frames``.
        """
        if stations is None:
            stations = self._credentials.stations({frame.mn for frame in frames})
        verdicts: _Verdicts = {}
        for frame in frames:
            key = (frame.mn, frame.pw or "")
            if key not in verdicts:
                station = stations.get(frame.mn)
                ok = station is not None and self._credentials.password_ok(station, key[1])
                verdicts[key] = (station, ok)
        return verdicts

    def _check(
        self,
        item: Hj212Frame | FrameError,
        payload: bytes | StreamError,
        peer: str,
        verdicts: _Verdicts,
        *,
        now: dt.datetime,
        answer: bool = True,
    ) -> _Checked:
        self.stats.frames += 1
        if isinstance(item, FrameError):
            self.stats.refused += 1
            data = payload.payload if isinstance(payload, StreamError) else payload
            return RawRecord(SOURCE, data, "rejected", peer, str(item)), [], None, False
        frame = item
        raw = frame.raw
        station, password_ok = verdicts.get((frame.mn, frame.pw or ""), (None, False))
        if station is None:
            self.stats.unknown_station += 1
            reason = f"unknown_station: MN {frame.mn} 未登记 / not registered"
            return RawRecord(SOURCE, raw, "unknown_station", peer, reason, frame.mn), [], None, True
        if not password_ok:
            self.stats.refused += 1
            self.stats.bad_password += 1
            reason = "bad_password: 密码错误 / wrong PW"
            return RawRecord(SOURCE, raw, "rejected", peer, reason, frame.mn), [], None, True
        if frame.cn in DATA_COMMANDS:
            cfg = self.config
            reason = frame_time_refusal(
                frame, now=now, tolerance=cfg.future_tolerance, earliest=cfg.earliest_time
            )
            if reason:
                self.stats.refused += 1
                self.stats.bad_time += 1
                return RawRecord(SOURCE, raw, "rejected", peer, reason, frame.mn), [], None, False
        reply = response_frame(frame) if answer and frame.response_requested else None
        if frame.cn not in DATA_COMMANDS:
            self.stats.accepted += 1
            note = f"command {frame.cn}"
            return RawRecord(SOURCE, raw, "accepted", peer, note, frame.mn), [], reply, False
        whole: Hj212Frame | None = frame
        status = "accepted"
        if frame.split:
            try:
                whole = self._assembler(frame.mn).add(frame)
            except FrameError as error:
                self.stats.refused += 1
                refused = RawRecord(SOURCE, raw, "rejected", peer, str(error), frame.mn)
                return refused, [], None, False
            if whole is None:
                status = "partial"
        rows: list[tuple[Any, ...]] = []
        notes: list[str] = []
        if whole is not None:
            rows, unknown = frame_tuples(whole, section_id=station.section_id)
            rows, implausible = screen_tuples(rows)
            if implausible:
                self.stats.implausible_values += len(implausible)
                status = "partial"
                notes.append("implausible: 未入库，待复核 / not stored, kept here for review: "
                             + "; ".join(implausible))  # fmt: skip
            if unknown:
                notes.append(self._note_unknown(rows, unknown, frame.mn))
        self.stats.accepted += 1
        return RawRecord(SOURCE, raw, status, peer, "; ".join(notes), frame.mn), rows, reply, False

    def _note_unknown(self, rows: list[tuple[Any, ...]], unknown: list[str], mn: str) -> str:
        """Count the values of unknown codes, log a code the first time, return the reason."""
        review_at, parameter_at = ROW_COLUMNS.index("review_status"), ROW_COLUMNS.index("parameter")
        kept = [row[parameter_at] for row in rows if row[review_at]]
        self.stats.unknown_code_values += len(kept)
        for code in kept:
            if code not in self.stats.unknown_codes:
                log.warning(
                    "未知因子编码，已存为待复核观测 / unknown pollutant code %s from %s, stored "
                    "for review", code, mn,
                )  # fmt: skip
            self.stats.unknown_codes[code] = self.stats.unknown_codes.get(code, 0) + 1
        too_long = [code for code in unknown if len(code) > MAX_UNKNOWN_CODE]
        reason = f"unknown pollutant codes stored for review: {', '.join(unknown)}"
        if too_long:
            reason += f"; too long to store, raw archive only: {', '.join(too_long)}"
        return reason

    # --- split messages -------------------------------------------------------------------------

    def _assembler(self, mn: str) -> PacketAssembler:
        assembler = self._assemblers.get(mn)
        if assembler is None:
            assembler = self._assemblers[mn] = PacketAssembler(
                timeout=self.config.packet_timeout, clock=self._clock
            )
        return assembler

    def _expired(self, *, everything: bool = False, why: str = "") -> list[RawRecord]:
        """Raw records of the split messages given up: too old, or ``everything`` pending.

        Their packets were archived (``partial``) and answered as they came; the message's
        values are not stored, and nothing is answered for giving it up.
        """
        records = []
        for mn, assembler in self._assemblers.items():
            for packets in assembler.give_up() if everything else assembler.expired():
                first = packets[0]
                numbers = ",".join(str(packet.pno) for packet in packets)
                reason = (
                    f"expired: 分包未收齐，已放弃 / split message QN {first.qn} incomplete, "
                    f"given up: packets {numbers} of PNUM={first.pnum}"
                    + (f"; {why}" if why else f" within {assembler.timeout:g} s")
                )
                self.stats.expired += 1
                log.warning("%s (MN %s)", reason, mn)
                raw = b"".join(packet.raw for packet in packets)
                records.append(RawRecord(SOURCE, raw, "expired", "", reason, mn))
        return records

    async def _expire_loop(self) -> None:
        """Give up split messages older than ``packet_timeout``, a few times per timeout."""
        interval = min(max(self.config.packet_timeout / 4, 0.01), 5.0)
        while True:
            await asyncio.sleep(interval)
            await self._submit([PendingFrame(raw, []) for raw in self._expired()])

    # --- in-process ingestion -------------------------------------------------------------------

    def ingest(
        self,
        payloads: Iterable[bytes],
        *,
        peer: str = "in-process",
        progress: Callable[[int], None] | None = None,
    ) -> ReceiverStats:
        """Take a stream of bytes through the same checks and storage, without TCP.

        Used by ``qingliu demo`` for its year of frames; answers are not sent anywhere. The
        station table is read again for every batch; split messages still incomplete when the
        stream ends are given up (archived ``expired``).
        """
        splitter = FrameSplitter(max_frame_bytes=self.config.max_frame_bytes)
        batch: list[PendingFrame] = []
        stations = self._credentials.stations()

        def flush() -> None:
            nonlocal stations
            if batch:
                self._store_safely(batch)
                if progress is not None:
                    progress(len(batch))
                batch.clear()
                stations = self._credentials.stations()

        for data in payloads:
            items = splitter.feed(data)
            parsed = [item if isinstance(item, StreamError) else _parse(item) for item in items]
            frames = [item for item in parsed if isinstance(item, Hj212Frame)]
            verdicts = self._authorise(frames, stations)
            now = self._wall_clock()
            for item, candidate in zip(parsed, items, strict=True):
                raw, rows, _, _ = self._check(item, candidate, peer, verdicts, now=now,
                                              answer=False)  # fmt: skip
                batch.append(PendingFrame(raw, rows))
                if len(batch) >= self.config.batch_size:
                    flush()
        if splitter.pending:
            reason = "incomplete: the stream ended inside a frame"
            batch.append(PendingFrame(RawRecord(SOURCE, splitter.take_pending(), "rejected", peer,
                                            reason), []))  # fmt: skip
        batch.extend(
            PendingFrame(raw, []) for raw in self._expired(everything=True, why="stream ended")
        )
        flush()
        return self.stats

    def _submit(self, items: list[PendingFrame]) -> asyncio.Future[None]:
        """Queue ``items`` for the writer (:meth:`BatchWriter.submit`)."""
        return self._batches.submit(items)

    def _store_safely(self, batch: list[PendingFrame]) -> list[bool]:
        """Store a batch now, in this thread (:meth:`BatchWriter.store_safely`)."""
        return self._batches.store_safely(batch)


def _parse(candidate: bytes) -> Hj212Frame | FrameError:
    try:
        return parse_frame(candidate)
    except FrameError as error:
        return error
