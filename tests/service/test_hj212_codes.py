"""Every GB 3838 item on the wire, and codes we do not know, through the real TCP receiver.

Frames are written as other HJ 212 implementations send them (``build_frame`` with a CP typed
by hand, not Qingliu's ``data_frame``); SQLite and PostgreSQL through ``database_url``. Every
wait has a deadline: a 9014 answer is sent only after the values are committed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import Engine, select

from service.db.engine import migrate
from service.db.ingest import add_station
from service.db.models import Observation, RawMessage
from service.export import export_observations
from service.feeds.hj212 import build_frame, parse_frame
from service.feeds.hj212_receiver import Hj212Receiver, ReceiverConfig, frame_rows

pytestmark = pytest.mark.anyio

MN = "HS131100XFQ0001"
PW = "123456"
OBSERVED = dt.datetime(2026, 10, 12, 0, 0, tzinfo=dt.UTC)  # 08:00 Beijing


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def db(engine: Engine) -> Engine:
    migrate(engine)
    add_station(engine=engine, mn=MN, section_id="xiaofanqiao", password=PW)
    return engine


@pytest.fixture
async def receiver(db: Engine) -> AsyncIterator[tuple[Hj212Receiver, int]]:
    server = Hj212Receiver(engine=db, config=ReceiverConfig(host="127.0.0.1", port=0))
    _, port = await server.start()
    yield server, port
    await server.close()


def _peer_frame(cp_groups: str, *, qn: str = "20261012080000123") -> bytes:
    header = {"QN": qn, "ST": "21", "CN": "2011", "PW": PW, "MN": MN, "Flag": "5"}
    return build_frame(header, f"DataTime=20261012080000;{cp_groups}")


async def _send(port: int, frame: bytes, timeout: float = 20) -> bytes:
    """Send one frame and return its answer; fails when none comes before the deadline."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(frame)
        await writer.drain()
        async with asyncio.timeout(timeout):
            return await reader.readline()
    finally:
        writer.close()
        await writer.wait_closed()


def _stored(engine: Engine) -> dict[str, Any]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(Observation).where(Observation.station == MN,
                                      Observation.observed_at == OBSERVED)
        ).all()  # fmt: skip
    return {row.parameter: row for row in rows}


async def test_a_peers_bod5_frame_stores_bod5(
    db: Engine, receiver: tuple[Hj212Receiver, int]
) -> None:
    _, port = receiver
    frame = _peer_frame("w01017-Rtd=3.6,w01017-Flag=N;w21003-Rtd=0.2,w21003-Flag=N")
    answer = parse_frame(await _send(port, frame))
    assert (answer.cn, answer.qn) == ("9014", "20261012080000123")
    stored = _stored(db)
    assert stored["bod5"].value == 3.6 and stored["bod5"].unit == "mg/L"
    assert stored["bod5"].station_flag == "N" and stored["bod5"].review_status is None
    assert set(stored) == {"bod5", "nh3n"}


async def test_metals_arrive_in_their_appendix_b_unit_and_are_stored_in_mg_per_l(
    db: Engine, receiver: tuple[Hj212Receiver, int]
) -> None:
    _, port = receiver
    frame = _peer_frame(
        "w20111-Rtd=0.05,w20111-Flag=N;w20120-Rtd=12,w20120-Flag=N;"
        "w20141-Rtd=0.004,w20141-Flag=N;w20122-Rtd=0.02,w20122-Flag=N"
    )
    assert b"CN=9014" in await _send(port, frame)
    stored = _stored(db)
    # 总汞 and 总铅 in μg/L (附录B default unit), 砷 and 总铜 in mg/L
    assert {k: stored[k].value for k in stored} == {
        "hg": 0.00005, "pb": 0.012, "as": 0.004, "cu": 0.02,
    }  # fmt: skip
    assert {stored[k].unit for k in stored} == {"mg/L"}


async def test_an_unknown_code_is_stored_for_review_and_the_frame_answered(
    db: Engine, receiver: tuple[Hj212Receiver, int]
) -> None:
    server, port = receiver
    frame = _peer_frame(
        "w21003-Rtd=0.45,w21003-Flag=N;w99001-Rtd=1.25,w99001-Flag=T;"
        "w01020-Rtd=-99,w01020-Flag=D"
    )
    answer = parse_frame(await _send(port, frame))
    assert (answer.cn, answer.qn) == ("9014", "20261012080000123")
    stored = _stored(db)
    assert stored["nh3n"].value == 0.45 and stored["nh3n"].review_status is None
    unknown = stored["w99001"]
    assert (unknown.value, unknown.unit, unknown.station_flag, unknown.review_status) == (
        1.25, "", "T", "pending",
    )  # fmt: skip
    missing = stored["w01020"]  # 总有机碳: a real 附录B code, not a Qingliu parameter
    assert (missing.value, missing.station_flag, missing.review_status) == (None, "D", "pending")
    assert server.stats.unknown_code_values == 2
    assert server.stats.unknown_codes == {"w99001": 1, "w01020": 1}
    with db.connect() as connection:
        reason = connection.execute(select(RawMessage.reason)).scalar_one()
    assert "w99001" in reason and "w01020" in reason and "review" in reason

    # the same frame again: nothing new, nothing changed
    assert b"CN=9014" in await _send(port, frame)
    assert len(_stored(db)) == 3
    assert server.stats.observations.unchanged == 3

    # visible in the export
    text = "".join(export_observations(engine=db, fmt="csv", parameter="w99001"))
    header, line = text.strip().splitlines()
    row = dict(zip(header.split(","), line.split(","), strict=True))
    assert row["value"] == "1.25" and row["review_status"] == "pending" and row["unit"] == ""


def test_frame_rows_keeps_unknown_codes_of_the_wanted_field_only() -> None:
    frame = parse_frame(
        _peer_frame("w99001-Rtd=1,w99001-Flag=N;W99002-Rtd=2,W99002-Flag=N")
    )
    rows, unknown = frame_rows(frame, section_id="xiaofanqiao")
    assert unknown == ["W99002", "w99001"]
    assert [(r["parameter"], r["value"], r["review_status"]) for r in rows] == [
        ("w99001", 1.0, "pending"), ("W99002", 2.0, "pending"),
    ]  # fmt: skip
    hourly = parse_frame(build_frame(
        {"QN": "20261012080000123", "ST": "21", "CN": "2061", "PW": PW, "MN": MN, "Flag": "4"},
        "DataTime=20261012080000;w99001-Avg=1,w99001-Max=3,w99001-Flag=N",
    ))  # fmt: skip
    rows, unknown = frame_rows(hourly, section_id="xiaofanqiao")
    assert [(r["parameter"], r["value"]) for r in rows] == [("w99001", 1.0)]
    assert unknown == ["w99001"]
