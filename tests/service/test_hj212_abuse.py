"""The HJ 212 receiver under abuse (issue 11), over real sockets on loopback.

Each test reproduces an attack seen on the landed receiver: a garbage flood, connection and
password floods, a poison frame failing everybody's batch, frames dated 2099 or 1970, an
impossible NH3-N. Attackers connect from other loopback addresses (127.0.0.2 …) so that the
back-off of their address leaves the good station on 127.0.0.1 alone.
"""

# the receiver tests' fixtures (db, receiver) are imported and requested by name
# ruff: noqa: F811

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Engine, select

from service.db.ingest import RawRecord, add_station
from service.db.models import Observation, RawMessage, utc_now
from service.feeds.hj212 import build_frame, data_frame, parse_frame
from service.feeds.hj212.guard import ROW_COST, AddressGuard, RefusedBytes, TokenBucket
from service.feeds.hj212.writer import PendingFrame
from service.feeds.hj212_receiver import Hj212Receiver, ReceiverConfig
from service.time import BEIJING
from tests.service.test_hj212_receiver import (  # noqa: F401  (fixtures, used by name)
    MN,
    _answers,
    _count,
    _reasons,
    _silence,
    anyio_backend,
    db,
    receiver,
    wait_until,
)

pytestmark = pytest.mark.anyio

OTHER = "HS131100XFQ0002"


def _good(hour: int, *, mn: str = MN, pw: str = "123456", **values: float) -> bytes:
    return data_frame(mn=mn, pw=pw, values=values or {"nh3n": 0.2},
                      data_time=dt.datetime(2026, 3, 1, hour, tzinfo=BEIJING))  # fmt: skip


async def _connect(
    port: int, source: str = "127.0.0.1"
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))


async def _closed_by_server(reader: asyncio.StreamReader, timeout: float = 10) -> bool:
    """Read until the server closes the connection (True) or ``timeout`` passes (False)."""
    try:
        async with asyncio.timeout(timeout):
            while await reader.read(65536):
                pass
    except TimeoutError:
        return False
    except ConnectionError:
        pass
    return True


async def _quiet(server: Hj212Receiver) -> None:
    """Wait until every connection has ended and everything queued is stored."""
    await wait_until(lambda: not server._connections)
    await server.drained()


@pytest.fixture
async def strict(db: Engine) -> AsyncIterator[tuple[Hj212Receiver, int]]:
    """A receiver that backs an address off after 5 failures and allows 2 connections each."""
    config = ReceiverConfig(host="127.0.0.1", port=0, failure_limit=5,
                            max_connections_per_address=2)  # fmt: skip
    server = Hj212Receiver(engine=db, config=config)
    _, port = await server.start()
    yield server, port
    await server.close()


# --- 1. garbage flood ---------------------------------------------------------------------------


async def test_garbage_flood_is_archived_in_bounded_chunks(
    db: Engine, receiver: tuple[Hj212Receiver, int]
) -> None:
    server, port = receiver
    config = server.config
    flood_reader, flood = await _connect(port, "127.0.0.2")
    flood.write(b"#" * 262_144)
    with contextlib.suppress(ConnectionError):
        await flood.drain()
    # a station on another connection is answered meanwhile
    reader, writer = await _connect(port)
    writer.write(_good(8) + _good(9))
    await writer.drain()
    assert len(await _answers(reader, 2)) == 2
    assert await _closed_by_server(flood_reader)  # over max_garbage_bytes: closed
    flood.close()
    # and its address is backed off: a new connection is closed before a byte is read
    again_reader, again = await _connect(port, "127.0.0.2")
    assert await _closed_by_server(again_reader)
    again.close()
    writer.close()
    await _quiet(server)
    rejected = _reasons(db, RawMessage.parse_status == "rejected")
    assert 1 <= len(rejected) <= config.garbage_archive_bytes // ROW_COST + 1
    assert sum("summary only" in reason for reason in rejected) == 1
    assert server.stats.garbage_bytes >= config.max_garbage_bytes
    assert server.stats.connections_refused >= 1
    assert _count(db, RawMessage, RawMessage.parse_status == "accepted") == 2


async def test_a_trickle_of_garbage_cannot_multiply_rows(
    db: Engine, receiver: tuple[Hj212Receiver, int]
) -> None:
    server, port = receiver
    reader, writer = await _connect(port, "127.0.0.2")
    for _ in range(100):  # a stray header and a byte at a time, each read its own
        writer.write(b"##x")
        await writer.drain()
        await asyncio.sleep(0)
    writer.write(_good(8))
    await writer.drain()
    assert len(await _answers(reader, 1)) == 1
    writer.close()
    await _quiet(server)
    rejected = _count(db, RawMessage, RawMessage.parse_status == "rejected")
    assert rejected <= server.config.garbage_archive_bytes // ROW_COST + 1


# --- connections and failing senders -----------------------------------------------------------


async def test_connections_per_address_are_limited(
    db: Engine, strict: tuple[Hj212Receiver, int]
) -> None:
    server, port = strict
    first, second = [await _connect(port, "127.0.0.3") for _ in range(2)]
    await wait_until(lambda: server.stats.connections == 2)
    third_reader, third = await _connect(port, "127.0.0.3")
    assert await _closed_by_server(third_reader)
    third.close()
    for number, (reader, writer) in enumerate((first, second)):
        writer.write(_good(8 + number))
        await writer.drain()
        assert len(await _answers(reader, 1)) == 1  # the admitted ones still work
        writer.close()
    assert server.stats.connections_refused == 1


async def test_wrong_passwords_back_the_sender_off(
    db: Engine, strict: tuple[Hj212Receiver, int]
) -> None:
    server, port = strict
    reader, writer = await _connect(port, "127.0.0.4")
    for hour in range(10):
        writer.write(_good(hour, pw="guess"))
        with contextlib.suppress(ConnectionError):
            await writer.drain()
    assert await _closed_by_server(reader)  # the 5th failure closes the connection
    writer.close()
    again_reader, again = await _connect(port, "127.0.0.4")
    assert await _closed_by_server(again_reader)  # and new ones are refused for a while
    again.close()
    unknown_reader, unknown = await _connect(port, "127.0.0.5")
    for hour in range(6):
        unknown.write(_good(hour, mn="HS131100NEW0001"))
    await unknown.drain()
    assert await _closed_by_server(unknown_reader)  # unknown MNs are failures too
    unknown.close()
    good_reader, good = await _connect(port)
    good.write(_good(12))
    await good.drain()
    assert len(await _answers(good_reader, 1)) == 1  # the station is not affected
    good.close()
    await _quiet(server)
    assert server.stats.backoffs == 2
    assert 5 <= _count(db, RawMessage, RawMessage.reason.like("bad_password%")) <= 10


# --- 2. poison frame ----------------------------------------------------------------------------


def _frame_at(data_time: str, *, mn: str = MN, value: float = 0.5, qn: str = "") -> bytes:
    fields = {"QN": qn or f"{data_time}000", "ST": "21", "CN": "2011", "PW": "123456", "MN": mn,
              "Flag": "5"}  # fmt: skip
    return build_frame(fields, f"DataTime={data_time};w21003-Rtd={value},w21003-Flag=N")


async def test_a_poison_frame_fails_no_other_frame(
    db: Engine, receiver: tuple[Hj212Receiver, int]
) -> None:
    server, port = receiver
    add_station(engine=db, mn=OTHER, section_id="xiaofanqiao", password="123456")
    poison = _frame_at("00010101000000", qn="20260301080000001")
    good = [_good(hour, mn=OTHER) for hour in range(24)]
    a_reader, a_writer = await _connect(port)
    b_reader, b_writer = await _connect(port)
    # the poison frame from A arrives between B's frames, in the same batch
    b_writer.write(b"".join(good[:12]))
    a_writer.write(poison)
    b_writer.write(b"".join(good[12:]))
    await asyncio.gather(a_writer.drain(), b_writer.drain())
    answers = await _answers(b_reader, 24)
    assert {parse_frame(a).qn for a in answers} == {parse_frame(f).qn for f in good}
    assert await _silence(a_reader) == b""  # the poison frame is not answered
    a_writer.close()
    b_writer.close()
    await _quiet(server)
    assert _count(db, Observation, Observation.station == OTHER) == 24
    assert _count(db, Observation, Observation.station == MN) == 0
    (reason,) = _reasons(db, RawMessage.station == MN)
    assert reason.startswith("bad_time")


async def test_a_batch_that_fails_anyway_is_stored_frame_by_frame(db: Engine) -> None:
    server = Hj212Receiver(engine=db)
    when = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    row = {"station": MN, "section_id": "xiaofanqiao", "parameter": "nh3n", "value": 0.2,
           "unit": "mg/L", "station_flag": "N", "source": "hj212"}  # fmt: skip
    good = PendingFrame(RawRecord("hj212", b"good", "accepted", "test", "", MN),
                    [{**row, "observed_at": when}])  # fmt: skip
    # a value check could not foresee: year 1 in Beijing cannot be converted to UTC
    year_one = dt.datetime(1, 1, 1, tzinfo=BEIJING)
    bad = PendingFrame(RawRecord("hj212", b"bad", "accepted", "test", "", MN),
                   [{**row, "observed_at": year_one}])  # fmt: skip
    assert server._store_safely([good, bad]) == [True, False]
    assert _count(db, Observation) == 1
    with db.connect() as connection:
        stored = connection.execute(
            select(RawMessage.payload, RawMessage.parse_status, RawMessage.reason)
        ).all()
    by_payload = {payload: (status, reason) for payload, status, reason in stored}
    assert by_payload[b"good"] == ("accepted", "")
    assert by_payload[b"bad"][0] == "rejected"
    assert by_payload[b"bad"][1].startswith("storage_failed: OverflowError")
    assert server.stats.storage_failures == 1


# --- 3. frame times -----------------------------------------------------------------------------


async def test_frames_from_the_future_or_the_past_are_refused(
    db: Engine, receiver: tuple[Hj212Receiver, int]
) -> None:
    server, port = receiver
    soon = (utc_now() + dt.timedelta(minutes=5)).astimezone(BEIJING).replace(microsecond=0)
    ahead = data_frame(mn=MN, pw="123456", data_time=soon, values={"nh3n": 0.3})
    future = _frame_at("20990101000000")
    past = _frame_at("19700101000000")
    reader, writer = await _connect(port)
    writer.write(future + past + ahead)
    await writer.drain()
    (answer,) = await _answers(reader, 1)
    assert parse_frame(answer).qn == parse_frame(ahead).qn  # only the 5 minutes ahead one
    assert await _silence(reader) == b""
    writer.close()
    await _quiet(server)
    reasons = _reasons(db, RawMessage.parse_status == "rejected")
    assert sorted(reason.split(":")[0] for reason in reasons) == ["bad_time", "future_time"]
    with db.connect() as connection:
        stored = connection.execute(select(Observation.observed_at)).scalars().all()
    assert [when.replace(tzinfo=dt.UTC) for when in stored] == [soon.astimezone(dt.UTC)]
    assert server.stats.bad_time == 2


# --- 4. plausibility at the door ---------------------------------------------------------------


async def test_an_impossible_value_is_kept_for_review_and_never_counted(
    db: Engine, receiver: tuple[Hj212Receiver, int]
) -> None:
    server, port = receiver
    frame = data_frame(mn=MN, pw="123456", data_time=dt.datetime(2026, 3, 1, 8, tzinfo=BEIJING),
                       values={"w21003": 5000, "w21011": 0.1})  # fmt: skip
    assert b"w21003-Rtd=5000" in frame
    reader, writer = await _connect(port)
    writer.write(frame)
    await writer.drain()
    assert len(await _answers(reader, 1)) == 1  # the frame's other value is stored
    writer.close()
    await _quiet(server)
    with db.connect() as connection:
        stored = connection.execute(select(Observation.parameter, Observation.value)).all()
        raw = connection.execute(select(RawMessage.parse_status, RawMessage.reason)).one()
    assert stored == [("tp", 0.1)]  # no NH3-N row at all: no class, no bill can count it
    assert raw.parse_status == "partial"
    assert raw.reason.startswith("implausible") and "nh3n = 5000" in raw.reason
    assert server.stats.implausible_values == 1


# --- the bookkeeping, with a fake clock ---------------------------------------------------------


def test_token_bucket_refills_at_its_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=100, burst=200, clock=lambda: now[0])
    assert bucket.take(200) and not bucket.take(1)
    now[0] = 0.5
    assert bucket.take(50) and not bucket.take(1)
    assert bucket.debt(100) == pytest.approx(1.0)
    assert TokenBucket(rate=0, burst=0).take(10**9)  # no limit


def test_refused_bytes_coalesce_and_summarise() -> None:
    shared = TokenBucket(rate=0, burst=0)
    refused = RefusedBytes(chunk_bytes=1000, archive_bytes=2000 + 2 * ROW_COST, shared=shared)
    chunks = refused.garbage(b"#" * 2500, "bad_length")
    assert [len(c.payload) for c in chunks] == [1000, 1000]
    assert [len(c.payload) for c in refused.flush()] == [500]
    assert refused.frame(b"x" * 20)  # charged ROW_COST: the budget is now spent
    assert not refused.frame(b"y" * 20) and refused.flush() == []
    assert refused.garbage(b"z" * 10, "garbage") == [] and refused.flush() == []
    summary = refused.summary()
    assert summary is not None and summary.payload == b"y" * 20 + b"z" * 10
    assert "30 byte(s) in 2 piece(s)" in summary.reason
    assert refused.summary() is None


def test_address_guard_backs_off_longer_each_time() -> None:
    now = [0.0]
    guard = AddressGuard(max_per_address=1, max_total=2, failure_limit=3, failure_window=10,
                         backoff=5, max_backoff=100, clock=lambda: now[0])  # fmt: skip
    assert guard.admit("a") == "" and "from this address" in guard.admit("a")
    assert guard.admit("b") == "" and "at most 2" in guard.admit("c")
    guard.release("a")
    assert not guard.fail("a") and not guard.fail("a") and guard.fail("a")
    assert "backed off" in guard.admit("a")
    now[0] = 5.1
    assert guard.admit("a") == ""
    for _ in range(3):
        guard.fail("a")
    now[0] = 15.0  # the second back-off lasts 10 s
    assert guard.banned("a")
    now[0] = 15.2
    assert not guard.banned("a")
    now[0] = 100.0  # failures further apart than the window never add up
    assert not guard.fail("a")
    now[0] = 111.0
    assert not guard.fail("a")
