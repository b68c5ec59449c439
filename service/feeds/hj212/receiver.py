"""The HJ 212-2017 TCP receiver (``qingliu receive hj212``): an asyncio server.

Per connection, bytes are cut into frames (:class:`~service.feeds.hj212.FrameSplitter`), each
frame is parsed and checked (length, CRC, fields, station MN and password), and every frame —
accepted, refused or from an unknown station — is archived raw with its status and reason.
Accepted frames' values become observations. A writer task stores what all connections
received in batches, in one transaction each; only after that commit is a frame answered with
9014 (when its Flag asks for an answer), so nothing answered can be lost by a crash or restart.
A bad frame never closes the connection: the next frame is read as usual.

Stations and passwords are read from the database for every read of a connection
(:class:`~service.feeds.hj212.credentials.StationCredentials`): a password changed with
``qingliu stations add`` applies to the next frame. The packets of a split message are joined
per station; a message whose packets do not all arrive within ``packet_timeout`` is given up:
archived with status ``expired`` and its reason, its values not stored, nothing answered for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from sections.parameters import parameters
from service.db.ingest import (
    RawRecord,
    StationRecord,
    UpsertCounts,
    archive_raw,
    upsert_observations,
)
from service.db.models import utc_now
from service.errors import FrameError
from service.feeds.hj212.build import response_frame
from service.feeds.hj212.codes import canonical_value
from service.feeds.hj212.credentials import StationCredentials
from service.feeds.hj212.frame import DATA_COMMANDS, Hj212Frame
from service.feeds.hj212.parse import parse_frame
from service.feeds.hj212.stream import FrameSplitter, PacketAssembler, StreamError

__all__ = [
    "DEFAULT_LISTEN",
    "MAX_UNKNOWN_CODE",
    "UNKNOWN_CODE_REVIEW",
    "Hj212Receiver",
    "ReceiverConfig",
    "ReceiverStats",
    "frame_rows",
    "parse_listen",
]

log = logging.getLogger("qingliu.hj212")

DEFAULT_LISTEN = "0.0.0.0:9212"
SOURCE = "hj212"
_VALUE_FIELDS = {"2011": "Rtd", "2051": "Avg", "2061": "Avg", "2031": "Avg"}
MAX_UNKNOWN_CODE = 16
"""Longest unknown pollutant code stored as an observation's parameter (the column's size)."""
UNKNOWN_CODE_REVIEW = "pending"
"""``review_status`` of a value whose pollutant code is not in ``pollutant_codes.csv``."""


@dataclass(frozen=True)
class ReceiverConfig:
    """Receiver settings (all have safe defaults)."""

    host: str = "0.0.0.0"
    port: int = 9212
    idle_timeout: float = 600.0  # seconds without a byte before a connection is closed
    max_frame_bytes: int = 1024 + 12
    batch_size: int = 2_000  # frames stored in one transaction at most
    flush_interval: float = 0.02  # seconds the writer waits to fill a batch
    packet_timeout: float = 120.0  # seconds to wait for the rest of a split message


@dataclass
class ReceiverStats:
    """Counters since the receiver started."""

    connections: int = 0
    frames: int = 0
    accepted: int = 0
    refused: int = 0
    unknown_station: int = 0
    answered: int = 0
    expired: int = 0  # split messages given up (their packets did not all arrive in time)
    unknown_code_values: int = 0  # values of codes outside pollutant_codes.csv, kept for review
    unknown_codes: dict[str, int] = field(default_factory=dict)  # code → values received
    observations: UpsertCounts = field(default_factory=UpsertCounts)


def frame_rows(frame: Hj212Frame, *, section_id: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Observation rows of a data frame, and the pollutant codes it carries that we do not know.

    The observation time is the analyser's SampleTime when given, else DataTime; sentinel
    values are stored as missing (None), with their station flag. A known code's value is
    converted from its unit on the wire to the parameter's canonical unit
    (:func:`~service.feeds.hj212.canonical_value`).

    A value whose code is not in ``pollutant_codes.csv`` is kept for review, never only in the
    raw archive: its row has ``parameter`` = the code as sent, ``unit`` "" (unknown), the value
    as sent and ``review_status`` ``"pending"``. Parameters that are not keys of
    ``parameters.csv`` never enter daily or monthly values. A code longer than
    :data:`MAX_UNKNOWN_CODE` characters cannot be stored as a parameter and stays in the raw
    archive (it is still listed in the returned codes).
    """
    known = parameters()
    wanted = _VALUE_FIELDS.get(frame.cn, "Rtd")
    rows: list[dict[str, Any]] = []
    unknown: list[str] = []
    for value in frame.values:
        if value.field != wanted:
            if value.parameter is None:
                unknown.append(value.code)
            continue
        observed = value.sample_time or frame.data_time
        if observed is None:
            continue
        if value.parameter is None:
            unknown.append(value.code)
            if len(value.code) > MAX_UNKNOWN_CODE:
                continue
            rows.append(
                {
                    "station": frame.mn,
                    "section_id": section_id,
                    "parameter": value.code,
                    "observed_at": observed,
                    "value": None if value.missing else value.value,
                    "unit": "",
                    "station_flag": value.flag or "N",
                    "source": SOURCE,
                    "review_status": UNKNOWN_CODE_REVIEW,
                }
            )
            continue
        rows.append(
            {
                "station": frame.mn,
                "section_id": section_id,
                "parameter": value.parameter,
                "observed_at": observed,
                "value": canonical_value(value),
                "unit": known[value.parameter].unit,
                "station_flag": value.flag or "N",
                "source": SOURCE,
            }
        )
    return rows, sorted(set(unknown))


@dataclass
class _Pending:
    raw: RawRecord
    rows: list[dict[str, Any]]
    done: asyncio.Future[bool] | None = None


_Checked = tuple[RawRecord, list[dict[str, Any]], bytes | None]
"""What checking one candidate gives: its raw record, its observation rows, its answer."""
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
    ) -> None:
        self.engine = engine
        self.config = config or ReceiverConfig()
        self.stats = ReceiverStats()
        self._clock = clock
        self._credentials = StationCredentials(engine)
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._server: asyncio.Server | None = None
        self._writer: asyncio.Task[None] | None = None
        self._expirer: asyncio.Task[None] | None = None
        self._assemblers: dict[str, PacketAssembler] = {}
        self._connections: set[asyncio.Task[None]] = set()

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> tuple[str, int]:
        """Start listening; returns the bound (host, port) (port 0 picks a free one)."""
        self._writer = asyncio.create_task(self._write_loop(), name="hj212-writer")
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
        for raw in self._expired(everything=True, why="receiver stopped / 服务停止"):
            await self._submit(raw, [])
        await self.drained()
        for background in (self._expirer, self._writer):
            if background is not None:
                background.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await background
        self._writer = self._expirer = None

    async def drained(self) -> None:
        """Wait until everything queued so far is stored (or its storage has failed)."""
        await self._queue.join()

    # --- connections ----------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
            task.add_done_callback(self._connections.discard)
        peername = writer.get_extra_info("peername")
        peer = f"{peername[0]}:{peername[1]}" if isinstance(peername, tuple) else str(peername)
        self.stats.connections += 1
        splitter = FrameSplitter(max_frame_bytes=self.config.max_frame_bytes)
        try:
            while True:
                try:
                    data = await asyncio.wait_for(reader.read(65536), self.config.idle_timeout)
                except TimeoutError:
                    log.info("连接空闲超时，关闭 / idle timeout, closing %s", peer)
                    break
                if not data:
                    break
                answers = await self._receive(splitter.feed(data), peer)
                if answers:
                    writer.write(b"".join(answers))
                    await writer.drain()
        except (ConnectionError, OSError) as exc:
            log.info("连接中断 / connection lost %s: %s", peer, exc)
        except asyncio.CancelledError:
            log.info("服务停止，关闭连接 / shutting down, closing %s", peer)
        finally:
            if splitter.pending:
                await self._submit(
                    RawRecord(SOURCE, splitter.take_pending(), "rejected", peer,
                              "incomplete: connection closed inside a frame"),
                    [],
                )  # fmt: skip
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _receive(self, items: list[bytes | StreamError], peer: str) -> list[bytes]:
        """Check and queue every item of one read; answers for the accepted, after storage.

        The stations of the read's frames are read from the database (with the password
        checks, in the executor), so a changed password or station applies to the next frame.
        """
        parsed = [item if isinstance(item, StreamError) else _parse(item) for item in items]
        frames = [item for item in parsed if isinstance(item, Hj212Frame)]
        loop = asyncio.get_running_loop()
        verdicts = await loop.run_in_executor(None, self._authorise, frames, None)
        waits: list[tuple[asyncio.Future[bool], bytes | None]] = []
        for item, candidate in zip(parsed, items, strict=True):
            raw, rows, answer = self._check(item, candidate, peer, verdicts)
            waits.append((await self._submit(raw, rows), answer))
        answers: list[bytes] = []
        for done, answer in waits:
            stored = await done
            if stored and answer is not None:
                answers.append(answer)
                self.stats.answered += 1
        return answers

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
        answer: bool = True,
    ) -> _Checked:
        self.stats.frames += 1
        if isinstance(item, FrameError):
            self.stats.refused += 1
            data = payload.payload if isinstance(payload, StreamError) else payload
            return RawRecord(SOURCE, data, "rejected", peer, str(item)), [], None
        frame = item
        raw = frame.raw
        station, password_ok = verdicts.get((frame.mn, frame.pw or ""), (None, False))
        if station is None:
            self.stats.unknown_station += 1
            reason = f"unknown_station: MN {frame.mn} 未登记 / not registered"
            return RawRecord(SOURCE, raw, "unknown_station", peer, reason, frame.mn), [], None
        if not password_ok:
            self.stats.refused += 1
            reason = "bad_password: 密码错误 / wrong PW"
            return RawRecord(SOURCE, raw, "rejected", peer, reason, frame.mn), [], None
        reply = response_frame(frame) if answer and frame.response_requested else None
        if frame.cn not in DATA_COMMANDS:
            self.stats.accepted += 1
            note = f"command {frame.cn}"
            return RawRecord(SOURCE, raw, "accepted", peer, note, frame.mn), [], reply
        whole: Hj212Frame | None = frame
        status = "accepted"
        if frame.split:
            whole = self._assembler(frame.mn).add(frame)
            if whole is None:
                status = "partial"
        rows: list[dict[str, Any]] = []
        reason = ""
        if whole is not None:
            rows, unknown = frame_rows(whole, section_id=station.section_id)
            if unknown:
                reason = self._note_unknown(rows, unknown, frame.mn)
        self.stats.accepted += 1
        return RawRecord(SOURCE, raw, status, peer, reason, frame.mn), rows, reply

    def _note_unknown(self, rows: list[dict[str, Any]], unknown: list[str], mn: str) -> str:
        """Count the values of unknown codes, log a code the first time, return the reason."""
        kept = [row["parameter"] for row in rows if row.get("review_status")]
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
            for raw in self._expired():
                await self._submit(raw, [])

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
        batch: list[_Pending] = []
        stations = self._credentials.stations()

        def flush() -> None:
            nonlocal stations
            if batch:
                self.stats.observations += self._store(batch)
                if progress is not None:
                    progress(len(batch))
                batch.clear()
                stations = self._credentials.stations()

        for data in payloads:
            items = splitter.feed(data)
            parsed = [item if isinstance(item, StreamError) else _parse(item) for item in items]
            frames = [item for item in parsed if isinstance(item, Hj212Frame)]
            verdicts = self._authorise(frames, stations)
            for item, candidate in zip(parsed, items, strict=True):
                raw, rows, _ = self._check(item, candidate, peer, verdicts, answer=False)
                batch.append(_Pending(raw, rows))
                if len(batch) >= self.config.batch_size:
                    flush()
        if splitter.pending:
            reason = "incomplete: the stream ended inside a frame"
            batch.append(_Pending(RawRecord(SOURCE, splitter.take_pending(), "rejected", peer,
                                            reason), []))  # fmt: skip
        batch.extend(
            _Pending(raw, []) for raw in self._expired(everything=True, why="stream ended")
        )
        flush()
        return self.stats

    async def _submit(self, raw: RawRecord, rows: list[dict[str, Any]]) -> asyncio.Future[bool]:
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(raw, rows, done))
        return done

    # --- storage --------------------------------------------------------------------------------

    async def _write_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            first = await self._queue.get()
            batch = [first]
            deadline = loop.time() + self.config.flush_interval
            while len(batch) < self.config.batch_size:
                timeout = deadline - loop.time()
                if timeout <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), timeout))
                except TimeoutError:
                    break
            try:
                counts = await loop.run_in_executor(None, self._store, batch)
                self.stats.observations += counts
                for pending in batch:
                    if pending.done is not None and not pending.done.done():
                        pending.done.set_result(True)
            except Exception as exc:  # storage failed: nothing is answered, the stream goes on
                log.exception("写入数据库失败 / storing a batch failed: %s", exc)
                for pending in batch:
                    if pending.done is not None and not pending.done.done():
                        pending.done.set_result(False)
            finally:
                for _ in batch:
                    self._queue.task_done()

    def _store(self, batch: list[_Pending]) -> UpsertCounts:
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
            rows = []
            for pending, raw_id in zip(batch, ids, strict=True):
                for row in pending.rows:
                    rows.append({**row, "raw_message_id": raw_id})
            return upsert_observations(connection, rows)


def _parse(candidate: bytes) -> Hj212Frame | FrameError:
    try:
        return parse_frame(candidate)
    except FrameError as error:
        return error


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` → (host, port); ``ValueError`` with a clear message otherwise."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"监听地址必须是 HOST:PORT / listen address must be HOST:PORT: {text!r}")
    return host.strip("[]"), int(port)
