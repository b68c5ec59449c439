"""The HJ 212 TCP receiver over real sockets, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, update

from service.db.engine import migrate
from service.db.ingest import add_station
from service.db.models import Observation, RawMessage, Station
from service.feeds.hj212 import build_frame, data_frame, parse_frame
from service.feeds.hj212_receiver import Hj212Receiver, ReceiverConfig
from service.time import BEIJING
from tests.reference import SHARED_DATA, require

pytestmark = pytest.mark.anyio

VECTORS = SHARED_DATA / "hj212" / "vectors.jsonl"
MN = "HS131100XFQ0001"
KEYS = ("temp", "ph", "do", "conductivity", "turbidity", "codmn", "nh3n", "tp", "tn")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def db(engine: Engine) -> Engine:
    migrate(engine)
    add_station(engine=engine, mn=MN, section_id="xiaofanqiao", password="123456")
    return engine


@pytest.fixture
async def receiver(db: Engine) -> AsyncIterator[tuple[Hj212Receiver, int]]:
    server = Hj212Receiver(engine=db, config=ReceiverConfig(host="127.0.0.1", port=0))
    _, port = await server.start()
    yield server, port
    await server.close()


async def _answers(reader: asyncio.StreamReader, count: int, timeout: float = 20) -> list[bytes]:
    lines: list[bytes] = []
    async with asyncio.timeout(timeout):
        while len(lines) < count:
            line = await reader.readline()
            if not line:
                break
            lines.append(line)
    return lines


async def _silence(reader: asyncio.StreamReader, seconds: float = 0.3) -> bytes:
    try:
        return await asyncio.wait_for(reader.readline(), seconds)
    except TimeoutError:
        return b""


async def wait_until(
    predicate: Callable[[], bool], *, timeout: float = 10.0, interval: float = 0.01
) -> None:
    """Poll ``predicate`` until it holds; fail after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(interval)


def _count(engine: Engine, model: Any, *where: Any) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(select(func.count()).select_from(model).where(*where)).scalar_one()
        )


def _vectors() -> list[dict[str, Any]]:
    lines = require(VECTORS).read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines if line]


async def test_every_vector_over_one_connection(
    db: Engine, receiver: tuple[Hj212Receiver, int]
) -> None:
    server, port = receiver
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answered: list[str] = []
    for vector in _vectors():
        frame = vector["frame"].encode("utf-8")
        writer.write(frame)
        await writer.drain()
        expect_answer = (
            vector["valid"]
            and vector.get("mn") == MN
            and vector.get("response_requested", parse_frame(frame).response_requested)
        )
        line = await (_answers(reader, 1) if expect_answer else _silence(reader))
        if expect_answer:
            answer = parse_frame(line[0])
            assert (answer.cn, answer.qn) == ("9014", parse_frame(frame).qn), vector["name"]
            answered.append(vector["name"])
        else:
            assert line in (b"", []), vector["name"]  # refused frames get no answer
    writer.close()
    await writer.wait_closed()
    assert "real-time surface water, all normal" in answered
    assert "bad CRC" not in answered and "wrong password" not in answered
    vectors = _vectors()
    await wait_until(lambda: _count(db, RawMessage) >= len(vectors))
    assert _count(db, RawMessage) == len(vectors)  # every frame archived, good or bad
    assert _count(db, RawMessage, RawMessage.parse_status == "unknown_station") == 2
    assert _count(db, RawMessage, RawMessage.parse_status == "rejected") == 7
    with db.connect() as connection:
        rows = connection.execute(
            select(Observation.parameter, Observation.observed_at, Observation.value,
                   Observation.station_flag)
            .where(Observation.observed_at == dt.datetime(2026, 10, 12, 0, 0, tzinfo=dt.UTC))
        ).all()  # fmt: skip
    stored = {r.parameter: (r.value, r.station_flag) for r in rows}
    assert stored["nh3n"] == (0.118, "N") and stored["tp"] == (0.071, "N")
    assert len(stored) == 9
    with db.connect() as connection:
        missing = connection.execute(
            select(Observation.value).where(
                Observation.parameter == "nh3n",
                Observation.observed_at == dt.datetime(2026, 10, 12, 11, 30, tzinfo=dt.UTC),
            )
        ).all()
    assert missing == [(None,)]  # the -99 sentinel is stored as missing at its SampleTime
    assert server.stats.unknown_station == 2


async def test_unknown_station_is_archived_not_stored(
    db: Engine, receiver: tuple[Hj212Receiver, int]
) -> None:
    _, port = receiver
    frame = data_frame(mn="HS131100NEW0001", pw="x", data_time=dt.datetime(2026, 1, 1, 8,
                       tzinfo=BEIJING), values={"nh3n": 0.2})  # fmt: skip
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(frame)
    await writer.drain()
    assert await _silence(reader) == b""
    writer.close()
    await wait_until(lambda: _count(db, RawMessage, RawMessage.station == "HS131100NEW0001") > 0)
    assert _count(db, RawMessage, RawMessage.station == "HS131100NEW0001") == 1
    assert _count(db, Observation, Observation.station == "HS131100NEW0001") == 0


async def test_bad_frames_do_not_stop_the_connection(
    db: Engine, receiver: tuple[Hj212Receiver, int]
) -> None:
    _, port = receiver
    good = data_frame(mn=MN, pw="123456", data_time=dt.datetime(2026, 1, 1, 8, tzinfo=BEIJING),
                      values={"nh3n": 0.2})  # fmt: skip
    bad_crc = good[:-6] + b"0000\r\n"
    oversize = b"##9999" + b"x" * 2000 + b"\r\n"
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"garbage!" + bad_crc + oversize + good)
    await writer.drain()
    (answer,) = await _answers(reader, 1)
    assert parse_frame(answer).qn == parse_frame(good).qn
    writer.close()
    await wait_until(lambda: _count(db, RawMessage, RawMessage.parse_status == "rejected") >= 3)
    assert _count(db, Observation) == 1


async def test_idle_connection_is_closed(db: Engine) -> None:
    server = Hj212Receiver(engine=db, config=ReceiverConfig(host="127.0.0.1", port=0,
                                                            idle_timeout=0.3))  # fmt: skip
    _, port = await server.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        async with asyncio.timeout(5):
            assert await reader.read() == b""  # the server closed it
        writer.close()
    finally:
        await server.close()


def _station_frames(station: int, count: int) -> list[bytes]:
    mn = f"HS131100T{station:02d}0001"
    start = dt.datetime(2026, 3, 1, tzinfo=BEIJING)
    return [
        data_frame(
            mn=mn, pw="pw", data_time=start + dt.timedelta(hours=i),
            values={key: round(1 + station / 4 + i / 1e3 + j / 2, 3) for j, key in enumerate(KEYS)},
        )
        for i in range(count)
    ]  # fmt: skip


async def test_ten_thousand_frames_from_twenty_connections_with_garbage(db: Engine) -> None:
    for station in range(20):
        add_station(engine=db, mn=f"HS131100T{station:02d}0001", section_id="xiaofanqiao",
                    password="pw")  # fmt: skip
    server = Hj212Receiver(engine=db, config=ReceiverConfig(host="127.0.0.1", port=0))
    _, port = await server.start()
    rng = random.Random(7)

    async def send(station: int) -> int:
        frames = _station_frames(station, 500)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        stream = b"".join(
            (bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 30)))
             if rng.random() < 0.2 else b"") + frame
            for frame in frames
        )  # fmt: skip
        position = 0
        while position < len(stream):  # arbitrary cuts across frames
            step = rng.randint(1, 4000)
            writer.write(stream[position : position + step])
            await writer.drain()
            position += step
        answers = await _answers(reader, 500, timeout=120)
        writer.close()
        return sum(b"CN=9014" in a for a in answers)

    try:
        answered = await asyncio.gather(*(send(s) for s in range(20)))
    finally:
        await server.close()
    assert sum(answered) == 10_000
    assert _count(db, Observation, Observation.source == "hj212") == 10_000 * len(KEYS)
    assert _count(db, RawMessage, RawMessage.parse_status == "accepted") == 10_000

    # the same frames again change nothing: stored exactly once
    again = Hj212Receiver(engine=db, config=ReceiverConfig(host="127.0.0.1", port=0))
    _, port = await again.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"".join(_station_frames(3, 50)))
        await writer.drain()
        assert len(await _answers(reader, 50)) == 50
        writer.close()
    finally:
        await again.close()
    assert _count(db, Observation, Observation.source == "hj212") == 10_000 * len(KEYS)
    assert again.stats.observations.unchanged == 50 * len(KEYS)


async def test_restart_loses_nothing_that_was_answered(db: Engine) -> None:
    add_station(engine=db, mn="HS131100T050001", section_id="xiaofanqiao", password="pw")
    frames = _station_frames(5, 200)
    answered: set[str] = set()

    async def run(server: Hj212Receiver, port: int, chunk: list[bytes], crash: bool) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for frame in chunk:
            writer.write(frame)
        await writer.drain()
        try:
            async with asyncio.timeout(10):
                while len(answered) < 200:
                    line = await reader.readline()
                    if not line:
                        break
                    answered.add(parse_frame(line).qn)
                    if crash and len(answered) >= 60:
                        # the process dies: the server and its writer are cancelled at once
                        assert server._server is not None
                        server._server.close()
                        assert server._writer is not None
                        server._writer.cancel()
                        break
        except TimeoutError:
            pass
        writer.close()

    first = Hj212Receiver(engine=db, config=ReceiverConfig(host="127.0.0.1", port=0))
    _, port = await first.start()
    await run(first, port, frames[:150], crash=True)
    second = Hj212Receiver(engine=db, config=ReceiverConfig(host="127.0.0.1", port=0))
    _, port = await second.start()
    await run(second, port, frames[100:], crash=False)
    await second.close()
    with db.connect() as connection:
        stored = {
            row.observed_at.replace(tzinfo=dt.UTC) if row.observed_at.tzinfo is None
            else row.observed_at
            for row in connection.execute(
                select(Observation.observed_at).where(Observation.station == "HS131100T050001")
            )
        }  # fmt: skip
    for frame in frames:
        parsed = parse_frame(frame)
        if parsed.qn in answered:
            assert parsed.data_time is not None
            assert parsed.data_time.astimezone(dt.UTC) in stored, parsed.qn
    assert len(answered) >= 150


async def test_simulator_with_faults_delivers_every_frame_once(db: Engine, registry: Any) -> None:
    from service.demo.synthetic import demo_station
    from service.feeds.simulator import DEMO_PASSWORD, simulate

    sections = list(registry.sections)[:2]
    for section in sections:
        add_station(engine=db, mn=demo_station(section), section_id=section.id,
                    password=DEMO_PASSWORD)  # fmt: skip
    server = Hj212Receiver(engine=db, config=ReceiverConfig(host="127.0.0.1", port=0))
    _, port = await server.start()
    try:
        stats = await simulate(registry, host="127.0.0.1", port=port, stations=2, rate=400,
                               faults=True, fault_rate=0.3, limit=60, year=2025)  # fmt: skip
    finally:
        await server.close()
    assert stats.sent == 60
    assert sum(stats.faults.values()) > 0  # faults were injected
    assert stats.answered == 60  # every frame got through, faults or not
    assert server.stats.refused >= stats.faults.get("bad_crc", 0)
    stored = _count(db, RawMessage, RawMessage.parse_status == "accepted")
    assert stored == 60  # each frame stored once


def _packet(qn: str, pno: int, pnum: int, data_time: str, code: str, value: float) -> bytes:
    fields = {"QN": qn, "ST": "21", "CN": "2011", "PW": "123456", "MN": MN, "Flag": "7",
              "PNUM": str(pnum), "PNO": str(pno)}  # fmt: skip
    return build_frame(fields, f"DataTime={data_time};{code}-Rtd={value},{code}-Flag=N")


def _at(text: str) -> dt.datetime:
    # stored in UTC
    return dt.datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=BEIJING).astimezone(dt.UTC)


async def test_split_message_missing_a_packet_expires(db: Engine) -> None:
    server = Hj212Receiver(engine=db, config=ReceiverConfig(host="127.0.0.1", port=0,
                                                            packet_timeout=0.3))  # fmt: skip
    _, port = await server.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        lonely = _packet("20261012080000001", 1, 2, "20261012080000", "w21003", 0.5)
        writer.write(lonely)  # packet 2 of 2 never comes
        await writer.drain()
        (answer,) = await _answers(reader, 1)  # each packet is answered as it comes
        assert parse_frame(answer).fields["PNO"] == "1"
        expired = RawMessage.parse_status == "expired"
        await wait_until(lambda: _count(db, RawMessage, expired) == 1)
        with db.connect() as connection:
            row = connection.execute(select(RawMessage).where(expired)).one()
        assert row.payload == lonely and row.station == MN
        assert "expired" in row.reason and "packets 1 of PNUM=2" in row.reason
        assert await _silence(reader) == b""  # nothing is answered for giving it up
        assert _count(db, Observation, Observation.observed_at == _at("20261012080000")) == 0
        assert server.stats.expired == 1 and not server._assemblers[MN].pending

        # a later split message whose packets both come is still joined and stored
        whole = [_packet("20261012090000001", number, 2, "20261012090000", code, value)
                 for number, code, value in ((1, "w21003", 0.4), (2, "w21011", 0.06))]  # fmt: skip
        writer.write(b"".join(whole))
        await writer.drain()
        assert len(await _answers(reader, 2)) == 2
        await wait_until(
            lambda: _count(db, Observation, Observation.observed_at == _at("20261012090000")) == 2
        )
        assert _count(db, RawMessage, expired) == 1
        writer.close()
        await writer.wait_closed()
    finally:
        await server.close()


async def test_incomplete_split_message_is_given_up_when_the_receiver_stops(db: Engine) -> None:
    server = Hj212Receiver(engine=db, config=ReceiverConfig(host="127.0.0.1", port=0))
    _, port = await server.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(_packet("20261012100000001", 2, 3, "20261012100000", "w21003", 0.5))
    await writer.drain()
    assert len(await _answers(reader, 1)) == 1
    writer.close()
    await server.close()
    (reason,) = _reasons(db, RawMessage.parse_status == "expired")
    assert "packets 2 of PNUM=3" in reason and "receiver stopped" in reason


def _reasons(engine: Engine, *where: Any) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(select(RawMessage.reason).where(*where)).scalars())


async def test_changed_password_applies_to_the_next_frame(
    db: Engine, receiver: tuple[Hj212Receiver, int]
) -> None:
    server, port = receiver

    def frame(password: str, hour: int) -> bytes:
        return data_frame(mn=MN, pw=password, values={"nh3n": 0.2},
                          data_time=dt.datetime(2026, 3, 1, hour, tzinfo=BEIJING))  # fmt: skip

    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(frame("123456", 8))
    await writer.drain()
    assert len(await _answers(reader, 1)) == 1  # the old password works, and is memoised

    # the password changes while the connection stays open
    await asyncio.to_thread(
        add_station, engine=db, mn=MN, section_id="xiaofanqiao", password="n3w-secret"
    )
    writer.write(frame("123456", 9))
    await writer.drain()
    assert await _silence(reader) == b""  # refused at once: no answer
    wrong = RawMessage.reason.like("bad_password%")
    await wait_until(lambda: _count(db, RawMessage, wrong) == 1)
    writer.write(frame("n3w-secret", 10))
    await writer.drain()
    (answer,) = await _answers(reader, 1)
    assert parse_frame(answer).qn == parse_frame(frame("n3w-secret", 10)).qn
    writer.close()
    await writer.wait_closed()
    await wait_until(lambda: _count(db, Observation, Observation.station == MN) == 2)
    hours = {9: 0, 10: 1}
    for hour, expected in hours.items():
        when = dt.datetime(2026, 3, 1, hour, tzinfo=BEIJING).astimezone(dt.UTC)
        assert _count(db, Observation, Observation.observed_at == when) == expected
    # neither password is kept in plaintext by the receiver
    memo = repr(vars(server._credentials))
    assert "123456" not in memo and "n3w-secret" not in memo


async def test_deactivated_or_removed_station_is_refused_at_once(
    db: Engine, receiver: tuple[Hj212Receiver, int]
) -> None:
    _, port = receiver
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data_frame(mn=MN, pw="123456", values={"nh3n": 0.2},
                            data_time=dt.datetime(2026, 3, 2, 8, tzinfo=BEIJING)))  # fmt: skip
    await writer.drain()
    assert len(await _answers(reader, 1)) == 1
    with db.begin() as connection:
        connection.execute(update(Station).where(Station.mn == MN).values(active=False))
    writer.write(data_frame(mn=MN, pw="123456", values={"nh3n": 0.2},
                            data_time=dt.datetime(2026, 3, 2, 9, tzinfo=BEIJING)))  # fmt: skip
    await writer.drain()
    assert await _silence(reader) == b""
    await wait_until(
        lambda: _count(db, RawMessage, RawMessage.parse_status == "unknown_station") == 1
    )
    writer.close()
    await writer.wait_closed()
