"""Two HJ 212 receivers on one PostgreSQL database, fed overlapping and identical frames at once.

Each receiver runs in its own thread with its own event loop and its own engine (its own
connections), on its own port, as two receiver processes would: their transactions race for the
same keys. Every frame must get its 9014 answer, every key be stored exactly once and the counts
of both receivers add up (what one inserted the other found unchanged).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from types import TracebackType

import pytest
from sqlalchemy import Engine, func, select

from service.db.engine import make_engine, migrate
from service.db.ingest import add_station
from service.db.models import Observation, ObservationHistory, RawMessage
from service.feeds.hj212 import data_frame, parse_frame
from service.feeds.hj212_receiver import Hj212Receiver, ReceiverConfig
from service.settings import Settings
from service.time import BEIJING
from tests.service.test_hj212_receiver import KEYS, _answers, _count

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

STATIONS = 4
FRAMES = 60
OVERLAP = range(15, 45)
"""Frames both receivers get, at the same time; receiver A also gets 0–14, B 45–59."""
START = dt.datetime(2026, 3, 1, tzinfo=BEIJING)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _mn(station: int) -> str:
    return f"HS131100R{station:02d}0001"


def _frame(station: int, hour: int, *, shift: float = 0.0) -> bytes:
    values = {key: round(1 + station / 4 + hour / 1e3 + j / 2 + shift, 3)
              for j, key in enumerate(KEYS)}  # fmt: skip
    return data_frame(mn=_mn(station), pw="pw", data_time=START + dt.timedelta(hours=hour),
                      values=values)  # fmt: skip


class ThreadedReceiver:
    """An :class:`Hj212Receiver` in a thread of its own, with its own loop and engine."""

    def __init__(self, settings: Settings) -> None:
        self.engine = make_engine(settings)
        self.port = 0
        self.receiver: Hj212Receiver | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        config = ReceiverConfig(host="127.0.0.1", port=0)
        self.receiver = Hj212Receiver(engine=self.engine, config=config)
        _, self.port = await self.receiver.start()
        self._ready.set()
        await self._stop.wait()
        await self.receiver.close()

    def __enter__(self) -> ThreadedReceiver:
        self._thread.start()
        if not self._ready.wait(timeout=20):
            raise RuntimeError("the receiver did not start")
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=60)
        self.engine.dispose()
        assert not self._thread.is_alive(), "the receiver did not stop"


async def _send(port: int, frames: list[bytes]) -> set[str]:
    """Send every frame at once on one connection; the QNs of the 9014 answers."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"".join(frames))
    await writer.drain()
    answers = await _answers(reader, len(frames), timeout=60)
    writer.close()
    await writer.wait_closed()
    return {parse_frame(a).qn for a in answers if b"CN=9014" in a}


def _qns(frames: list[bytes]) -> set[str]:
    return {parse_frame(f).qn for f in frames}


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_two_receivers_store_every_key_once_and_answer_every_frame(
    settings: Settings, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    migrate(engine)
    for station in range(STATIONS):
        add_station(engine=engine, mn=_mn(station), section_id="xiaofanqiao", password="pw")
    first = {s: [_frame(s, h) for h in (*OVERLAP, *range(15))] for s in range(STATIONS)}
    second = {s: [_frame(s, h) for h in (*OVERLAP, *range(45, FRAMES))] for s in range(STATIONS)}
    # the same corrected values of five hours, to both at once: one change, kept once in history
    corrected = [_frame(0, h, shift=0.5) for h in range(50, 55)]

    with ThreadedReceiver(settings) as a, ThreadedReceiver(settings) as b:
        jobs = [_send(a.port, first[s]) for s in range(STATIONS)]
        jobs += [_send(b.port, second[s]) for s in range(STATIONS)]
        answered = await asyncio.gather(*jobs)
        for station in range(STATIONS):
            assert answered[station] == _qns(first[station])
            assert answered[STATIONS + station] == _qns(second[station])
        again = await asyncio.gather(_send(a.port, corrected), _send(b.port, corrected))
        assert again == [_qns(corrected), _qns(corrected)]
        assert a.receiver is not None and b.receiver is not None
        counts = [a.receiver.stats.observations, b.receiver.stats.observations]
        failures = a.receiver.stats.storage_failures + b.receiver.stats.storage_failures

    keys = STATIONS * FRAMES * len(KEYS)
    assert _count(engine, Observation) == keys  # every key, once
    with engine.connect() as connection:
        duplicates = connection.execute(
            select(Observation.station, Observation.parameter, Observation.observed_at)
            .group_by(Observation.station, Observation.parameter, Observation.observed_at,
                      Observation.source)
            .having(func.count() > 1)
        ).all()  # fmt: skip
    assert duplicates == []
    assert failures == 0
    # no transaction failed and was retried frame by frame: the race costs nothing
    assert not [r for r in caplog.records if "storing frame by frame" in r.getMessage()]
    assert sum(c.inserted for c in counts) == keys
    overlap = STATIONS * len(OVERLAP) * len(KEYS)
    changes = len(corrected) * len(KEYS)
    assert sum(c.unchanged for c in counts) == overlap + changes  # the loser found it stored
    assert sum(c.changed for c in counts) == changes
    assert _count(engine, ObservationHistory) == changes  # the old value, kept once
    sent = 2 * STATIONS * (len(OVERLAP) + 15) + 2 * len(corrected)
    assert _count(engine, RawMessage, RawMessage.parse_status == "accepted") == sent
    with engine.connect() as connection:
        nh3n = connection.execute(
            select(Observation.value).where(
                Observation.station == _mn(0), Observation.parameter == "nh3n",
                Observation.observed_at == (START + dt.timedelta(hours=52)).astimezone(dt.UTC),
            )
        ).scalar_one()  # fmt: skip
    assert nh3n == pytest.approx(round(1 + 52 / 1e3 + KEYS.index("nh3n") / 2 + 0.5, 3))
