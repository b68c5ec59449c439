"""The HJ 212-2017 frame parser, stream splitter and answers (pure, no sockets)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.errors import FrameError
from service.feeds.hj212 import (
    FrameSplitter,
    PacketAssembler,
    crc16,
    data_frame,
    parse_frame,
    response_frame,
)
from service.time import BEIJING
from tests.reference import SHARED_DATA, require

VECTORS = SHARED_DATA / "hj212" / "vectors.jsonl"

# the vectors' reasons → the parser's reason codes; "auth" and "unknown MN" parse (the receiver
# refuses them against the station table)
REASONS = {"crc": {"bad_crc"}, "length": {"bad_length"}, "header": {"bad_header"},
           "truncated": {"truncated", "bad_length"}, "value": {"bad_value"},
           "time": {"bad_time"}}  # fmt: skip


def _vectors() -> list[dict[str, Any]]:
    lines = require(VECTORS).read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines if line]


def _ids() -> list[str]:
    return [v["name"] for v in _vectors()] if VECTORS.is_file() else ["absent"]


@pytest.mark.parametrize("index", range(len(_ids())), ids=_ids())
def test_vector(index: int) -> None:
    vector = _vectors()[index]
    frame = vector["frame"].encode("utf-8")
    reason = vector.get("reason", "")
    refused_by_parser = next((codes for key, codes in REASONS.items() if reason.startswith(key)),
                             None)  # fmt: skip
    if refused_by_parser is not None:
        with pytest.raises(FrameError) as caught:
            parse_frame(frame)
        assert caught.value.reason in refused_by_parser, str(caught.value)
        return
    parsed = parse_frame(frame)
    if "mn" in vector:
        assert parsed.mn == vector["mn"]
    if "data_time" in vector:
        expected = dt.datetime.strptime(vector["data_time"], "%Y%m%d%H%M%S").replace(tzinfo=BEIJING)
        assert parsed.data_time == expected
    if vector.get("pnum") and vector.get("pno") == vector["pnum"]:  # values of the whole message
        assembler = PacketAssembler()
        for other in _vectors():
            if other.get("pnum") == vector["pnum"] and other.get("pno", 0) < vector["pno"]:
                assembler.add(parse_frame(other["frame"].encode("utf-8")))
        whole = assembler.add(parsed)
        assert whole is not None
        parsed = whole
    by_code = {v.code: v for v in parsed.values if v.field in ("Rtd", "Avg")}
    for code, text in vector.get("values", {}).items():
        assert by_code[code].text == text and by_code[code].value == float(text)
    for code, flag in vector.get("flags", {}).items():
        assert by_code[code].flag == flag
    for code in vector.get("missing", []):
        assert by_code[code].missing and by_code[code].value is None
    if "pnum" in vector:
        assert parse_frame(frame).pnum == vector["pnum"]
        assert parse_frame(frame).pno == vector["pno"]
    if "response_requested" in vector:
        assert parsed.response_requested is vector["response_requested"]


def test_crc_of_the_standards_example() -> None:
    segment = (b"QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;"
               b"Flag=5;CP=&&RtdInterval=30&&")  # fmt: skip
    assert crc16(segment) == 0x1C80


def _frame(hour: int, **values: float | None) -> bytes:
    return data_frame(mn="HS131100XFQ0001", pw="123456",
                      data_time=dt.datetime(2026, 10, 12, hour, tzinfo=BEIJING),
                      values=values or {"nh3n": 0.5, "tp": 0.1})  # fmt: skip


def test_round_trip_and_answer() -> None:
    frame = _frame(8, nh3n=0.118, tp=None)
    parsed = parse_frame(frame)
    values = {v.parameter: v for v in parsed.values}
    assert values["nh3n"].value == 0.118
    assert values["tp"].missing and values["tp"].value is None  # None goes out as -99
    answer = parse_frame(response_frame(parsed))
    assert (answer.cn, answer.qn, answer.mn) == ("9014", parsed.qn, parsed.mn)


def test_splitter_several_frames_garbage_and_every_cut() -> None:
    frames = [_frame(h) for h in range(3)]
    stream = b"junk" + frames[0] + b"\x00\xff" + frames[1] + frames[2]
    out = FrameSplitter().feed(stream)
    assert [x for x in out if isinstance(x, bytes)] == frames
    errors = [x for x in out if isinstance(x, FrameError)]
    assert {e.reason for e in errors} == {"garbage"}
    assert b"".join(e.payload for e in errors) == b"junk\x00\xff"  # type: ignore[attr-defined]
    for cut in range(1, len(frames[0])):
        splitter = FrameSplitter()
        got = splitter.feed(frames[0][:cut]) + splitter.feed(frames[0][cut:])
        assert got == [frames[0]], cut


def test_splitter_refuses_an_oversize_frame_and_goes_on() -> None:
    good = _frame(1)
    out = FrameSplitter().feed(b"##9999" + b"x" * 3000 + good)
    assert out[-1] == good
    assert any(isinstance(x, FrameError) and x.reason == "too_long" for x in out)


def test_packets_are_reassembled_in_any_order() -> None:
    vectors = {v["name"]: v for v in _vectors()}
    first = parse_frame(vectors["split packet 1 of 2"]["frame"].encode())
    second = parse_frame(vectors["split packet 2 of 2 (together: all values at 04:00)"]
                         ["frame"].encode())  # fmt: skip
    for order in ((first, second), (second, first)):
        assembler = PacketAssembler()
        assert assembler.add(order[0]) is None
        whole = assembler.add(order[1])
        assert whole is not None
        assert len(whole.values) == len(first.values) + len(second.values)


def test_an_incomplete_packet_set_expires() -> None:
    now = [0.0]
    assembler = PacketAssembler(timeout=10, clock=lambda: now[0])
    vectors = {v["name"]: v for v in _vectors()}
    assembler.add(parse_frame(vectors["split packet 1 of 2"]["frame"].encode()))
    now[0] = 11.0
    assert len(assembler.expired()) == 1


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=1200))
def test_any_bytes_parse_or_raise_frame_error(data: bytes) -> None:
    with contextlib.suppress(FrameError):
        parse_frame(data)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.one_of(st.sampled_from(["frame"]), st.binary(max_size=40)), max_size=12),
    st.lists(st.integers(min_value=1, max_value=600), max_size=30),
)
def test_splitter_never_raises_and_finds_every_frame(parts: list[Any], cuts: list[int]) -> None:
    frames = [_frame(h % 24) for h in range(len(parts))]
    stream = b"".join(frames[i] if p == "frame" else p.replace(b"#", b"") for i, p in
                      enumerate(parts))  # fmt: skip
    splitter = FrameSplitter()
    out: list[bytes | FrameError] = []
    position = 0
    for cut in cuts:
        out += splitter.feed(stream[position : position + cut])
        position += cut
    out += splitter.feed(stream[position:])
    expected = [frames[i] for i, p in enumerate(parts) if p == "frame"]
    assert [x for x in out if isinstance(x, bytes)] == expected
