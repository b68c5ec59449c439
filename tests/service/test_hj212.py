"""HJ 212-2017 protocol (service.feeds.hj212): vectors, CRC, builders, stream and packet reassembly.

The reference vectors live in ``../shared/data/hj212/vectors.jsonl`` (the first is the standard's
own appendix example); their tests are skipped only when that folder is absent.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import pickle
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sections.parameters import parameters
from service.errors import FrameError
from service.feeds import hj212
from service.feeds.hj212 import (
    MAX_FRAME_BYTES,
    POLLUTANT_CODES,
    POLLUTANT_TABLE,
    REASONS,
    FrameSplitter,
    Hj212Frame,
    Hj212Value,
    PacketAssembler,
    build_frame,
    canonical_value,
    crc,
    crc16,
    data_frame,
    fastpath,
    parse,
    parse_frame,
    response_frame,
)
from service.feeds.hj212 import frame as frames
from service.time import BEIJING

VECTORS = Path(__file__).resolve().parents[3] / "shared" / "data" / "hj212" / "vectors.jsonl"
APPENDIX_SEGMENT = (
    b"QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;"
    b"Flag=5;CP=&&RtdInterval=30&&"
)
# data README: frames of this MN assume the station is registered with this password
REGISTRY = {"HS131100XFQ0001": "123456"}

# The vectors' ``reason`` (by its first word) → who refuses the frame and with which code.
# The parser refuses malformed frames; the station checks (password, registered MN) need the
# station table and belong to the receiver: those frames parse, then fail ``_station_check``.
PARSER_REASONS = {
    "crc": "bad_crc",
    "length": "bad_length",
    "header": "bad_header",
    "truncated": "truncated",
    "value": "bad_value",
    "time": "bad_time",
}
STATION_REASONS = {"auth": "bad_password", "unknown": "unknown_station"}


def _vectors() -> list[dict[str, Any]]:
    if not VECTORS.is_file():
        return []
    return [json.loads(line) for line in VECTORS.read_text("utf-8").splitlines() if line.strip()]


VECTOR_LIST = _vectors()
needs_vectors = pytest.mark.skipif(not VECTORS.parent.is_dir(), reason=f"{VECTORS.parent} absent")


def _vector(name: str) -> dict[str, Any]:
    return next(v for v in VECTOR_LIST if v["name"] == name)


def _station_check(frame: Hj212Frame, registry: dict[str, str]) -> str | None:
    """What a receiver does after parsing: the MN must be registered and the PW must match."""
    if frame.mn not in registry:
        return "unknown_station"
    if frame.pw != registry[frame.mn]:
        return "bad_password"
    return None


def _per_byte_crc(data: bytes) -> int:
    """HJ 212-2017 appendix A, literally."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def _primary(frame: Hj212Frame) -> dict[str, Hj212Value]:
    """The Rtd (real-time) or Avg (interval) value of each pollutant."""
    return {v.code: v for v in frame.values if v.field in ("Rtd", "Avg")}


# ---------------------------------------------------------------------------------------------
# Vectors


@needs_vectors
@pytest.mark.parametrize("vector", VECTOR_LIST, ids=[v["name"] for v in VECTOR_LIST])
def test_vector(vector: dict[str, Any]) -> None:
    frame = vector["frame"].encode("utf-8")
    if not vector["valid"]:
        word = vector["reason"].split()[0]
        if word in PARSER_REASONS:
            with pytest.raises(FrameError) as refused:
                parse_frame(frame)
            assert refused.value.reason == PARSER_REASONS[word], str(refused.value)
            return
        parsed = parse_frame(frame)  # well formed: refused by the station check
        assert _station_check(parsed, REGISTRY) == STATION_REASONS[word]
        return

    parsed = parse_frame(frame)
    assert _station_check(parsed, REGISTRY) in (None, "unknown_station")
    if "crc" in vector:
        assert f"{crc16(frame[6:-6]):04X}" == vector["crc"]
    if "mn" in vector:
        assert parsed.mn == vector["mn"]
    if "pnum" in vector:
        assert (parsed.pnum, parsed.pno) == (vector["pnum"], vector["pno"])
        assert parsed.split
    if "response_requested" in vector:
        assert parsed.response_requested is vector["response_requested"]
    whole = parsed
    if vector.get("pnum", 1) > 1 and vector["pno"] == vector["pnum"]:
        # "together": the values of the whole split message, packets in PNO order
        assembler = PacketAssembler()
        for other in VECTOR_LIST:
            if other.get("pnum") == vector["pnum"] and other["pno"] < vector["pno"]:
                assert assembler.add(parse_frame(other["frame"].encode())) is None
        combined = assembler.add(parsed)
        assert combined is not None
        whole = combined
    if "data_time" in vector:
        expected = dt.datetime.strptime(vector["data_time"], "%Y%m%d%H%M%S").replace(tzinfo=BEIJING)
        assert whole.data_time == expected
        assert whole.data_time is not None and whole.data_time.utcoffset() == dt.timedelta(hours=8)
    primary = _primary(whole)
    if "values" in vector:
        present = {code: v.text for code, v in primary.items() if not v.missing}
        assert present == vector["values"]
        for code, text in vector["values"].items():
            assert primary[code].value == float(text)
            assert primary[code].parameter == POLLUTANT_CODES[code]
    if "flags" in vector:  # listed flags exactly; every other pollutant normal
        flags = {code: v.flag for code, v in primary.items()}
        assert flags == {code: vector["flags"].get(code, "N") for code in flags}
    if whole.values:
        missing = {v.code for v in whole.values if v.missing}
        assert missing == set(vector.get("missing", []))
        for value in whole.values:
            assert (value.value is None) is value.missing


@needs_vectors
def test_the_appendix_example_checks_with_crc_1c80() -> None:
    assert crc16(APPENDIX_SEGMENT) == 0x1C80
    assert _vector("standard appendix A example")["frame"].encode() == (
        b"##0101" + APPENDIX_SEGMENT + b"1C80\r\n"
    )


@needs_vectors
def test_sample_time_and_sentinel_vector() -> None:
    parsed = parse_frame(
        _vector("sentinel -99 means missing, SampleTime present")["frame"].encode()
    )
    (nh3n,) = [v for v in parsed.values if v.code == "w21003"]
    assert nh3n.missing and nh3n.value is None and nh3n.text == "-99"
    assert nh3n.sample_time == dt.datetime(2026, 10, 12, 19, 30, tzinfo=BEIJING)


@needs_vectors
def test_every_valid_vector_answers_with_a_valid_9014() -> None:
    for vector in VECTOR_LIST:
        if not vector["valid"]:
            continue
        request = parse_frame(vector["frame"].encode())
        answer = parse_frame(response_frame(request))
        assert (answer.st, answer.cn, answer.flag & 1) == ("91", "9014", 0)
        assert (answer.qn, answer.mn, answer.pw) == (request.qn, request.mn, request.pw)
        assert answer.cp == ""
        if request.split:
            assert (answer.pnum, answer.pno) == (request.pnum, request.pno)


# ---------------------------------------------------------------------------------------------
# CRC


def test_crc_of_nothing_is_the_start_value() -> None:
    assert crc16(b"") == 0xFFFF == _per_byte_crc(b"")


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=3000))
def test_crc_equals_the_standards_loop(data: bytes) -> None:
    assert crc16(data) == _per_byte_crc(data) == crc._crc16_table(data)


def test_crc_on_every_length_up_to_the_largest_frame() -> None:
    rng = random.Random(212)
    for size in range(MAX_FRAME_BYTES + 20):
        data = rng.randbytes(size)
        assert crc16(data) == crc._crc16_table(data), size


# ---------------------------------------------------------------------------------------------
# Values, frames, builders


def test_pollutant_codes_table() -> None:
    assert POLLUTANT_CODES["w21003"] == "nh3n" and POLLUTANT_CODES["w01019"] == "codmn"
    assert set(POLLUTANT_CODES.values()) <= set(parameters())
    with pytest.raises(TypeError):
        POLLUTANT_CODES["x"] = "y"  # type: ignore[index]


GB3838_KEYS = (
    "temp", "ph", "do", "codmn", "cod", "bod5", "nh3n", "tp", "tn", "cu", "zn", "fluoride", "se",
    "as", "hg", "cd", "cr6", "pb", "cyanide", "phenol", "petroleum", "las", "sulfide",
    "fecal_coliform",
)  # fmt: skip
STATION_KEYS = ("conductivity", "turbidity", "chla", "algae", "sd")


def test_every_gb3838_item_and_station_parameter_has_a_code_with_its_source() -> None:
    """domain.md §3 (24 items of GB 3838-2002 表1) and §5 (station parameters)."""
    assert len(GB3838_KEYS) == 24
    coded = set(POLLUTANT_CODES.values())
    assert [k for k in (*GB3838_KEYS, *STATION_KEYS) if k not in coded] == []
    assert set(GB3838_KEYS) | set(STATION_KEYS) <= set(parameters())
    for row in POLLUTANT_TABLE.values():
        assert row.tag in ("V", "A") and row.sources.strip(), row.code
        assert row.code == row.code.lower() and len(row.code) == 6, row.code


@pytest.mark.parametrize(
    ("code", "key", "unit"),
    [
        # HJ 212-2017 附录B (B1 srdgame/lua-HJ212, B2 lingkejia/bocon-operation-app)
        ("w01017", "bod5", "mg/L"), ("w20122", "cu", "mg/L"), ("w20123", "zn", "mg/L"),
        ("w21017", "fluoride", "mg/L"), ("w20128", "se", "μg/L"), ("w20119", "as", "μg/L"),
        ("w20141", "as", "mg/L"), ("w20111", "hg", "μg/L"), ("w20115", "cd", "μg/L"),
        ("w20117", "cr6", "μg/L"), ("w20120", "pb", "μg/L"), ("w21016", "cyanide", "mg/L"),
        ("w23002", "phenol", "mg/L"), ("w22001", "petroleum", "mg/L"),
        ("w19002", "las", "mg/L"), ("w21019", "sulfide", "mg/L"),
        ("w02003", "fecal_coliform", "个/L"),
    ],
)  # fmt: skip
def test_appendix_b_codes_and_wire_units(code: str, key: str, unit: str) -> None:
    assert POLLUTANT_CODES[code] == key
    assert POLLUTANT_TABLE[code].unit == unit


def test_a_bod5_frame_from_a_peer_parses_to_bod5() -> None:
    # a peer's real-time frame as other HJ 212 implementations send it (no Qingliu builder)
    frame = build_frame(
        {"QN": "20261012080000000", "ST": "21", "CN": "2011", "PW": "123456",
         "MN": "HS131100XFQ0001", "Flag": "5"},
        "DataTime=20261012080000;w01017-Rtd=3.6,w01017-Flag=N;w21003-Rtd=0.2,w21003-Flag=N",
    )  # fmt: skip
    by_code = {v.code: v for v in parse_frame(frame).values}
    assert by_code["w01017"].parameter == "bod5" and by_code["w01017"].value == 3.6


@pytest.mark.parametrize(
    ("name", "sent", "canonical"),
    [("hg", "0.05", 0.00005), ("pb", "12", 0.012), ("chla", "0.02", 20.0), ("tp", "0.071", 0.071),
     ("as", "50", 0.05)],
)  # fmt: skip
def test_values_are_sent_in_the_codes_unit_and_read_back_exactly(
    name: str, sent: str, canonical: float
) -> None:
    frame = parse_frame(_sample(values={name: canonical}))
    (value,) = frame.values
    assert value.text == sent and value.parameter == name
    assert canonical_value(value) == canonical


def test_a_code_given_by_code_is_sent_as_it_is() -> None:
    (value,) = parse_frame(_sample(values={"w20142": 0.04})).values
    assert (value.parameter, value.text, canonical_value(value)) == ("hg", "0.04", 0.00004)
    (unknown,) = parse_frame(_sample(values={"w99001": 1.5})).values
    assert (unknown.parameter, canonical_value(unknown)) == (None, 1.5)


def test_public_names_are_sorted_and_exist() -> None:
    # isort style, as ruff's RUF022 and the other modules: constants, classes, functions
    kind = {True: 0, False: 1}
    assert hj212.__all__ == sorted(
        hj212.__all__, key=lambda n: (kind[n.isupper()] if n[0].isupper() else 2, n)
    )
    assert all(hasattr(hj212, name) for name in hj212.__all__)


def test_generated_constructors_make_the_dataclasses() -> None:
    # the parsers build records through constructors generated from the dataclass fields
    value_fields = ("w21003", "nh3n", "Rtd", 0.118, "0.118", "N", None, False)
    value = frames._value(*value_fields)
    assert type(value) is Hj212Value and value == Hj212Value(*value_fields)
    assert hash(value) == hash(Hj212Value(*value_fields))
    with pytest.raises(dataclasses.FrozenInstanceError):
        value.value = 1.0  # type: ignore[misc]
    (bulk,) = frames._values(["w21003"], ["nh3n"], ["Rtd"], [0.118], ["0.118"], ["N"])
    assert bulk == value
    frame_fields = ("1", "21", "2011", "p", "MN", 5, None, None, None, (value,),
                    frames.MappingProxyType({"QN": "1"}), "cp", b"raw")  # fmt: skip
    made = frames._frame(*frame_fields)
    assert type(made) is Hj212Frame and made == Hj212Frame(*frame_fields)
    assert pickle.loads(pickle.dumps(made)) == made


def _sample(**overrides: Any) -> bytes:
    arguments: dict[str, Any] = {
        "mn": "HS131100XFQ0001", "pw": "123456",
        "data_time": dt.datetime(2026, 10, 12, 8, tzinfo=BEIJING),
        "values": {"temp": 14.2, "ph": 7.93, "w21003": 0.118, "tp": None},
    }  # fmt: skip
    arguments.update(overrides)
    return data_frame(**arguments)


def test_data_frame_round_trip() -> None:
    parsed = parse_frame(_sample(flags={"ph": "M"}, qn="20261012080012345"))
    assert (parsed.qn, parsed.st, parsed.cn, parsed.pw, parsed.flag) == (
        "20261012080012345", "21", "2011", "123456", 5,
    )  # fmt: skip
    assert parsed.data_time == dt.datetime(2026, 10, 12, 8, tzinfo=BEIJING)
    by_parameter = {v.parameter: v for v in parsed.values}
    assert by_parameter["temp"].value == 14.2 and by_parameter["temp"].text == "14.2"
    assert by_parameter["ph"].flag == "M" and by_parameter["nh3n"].flag == "N"
    assert by_parameter["tp"].missing and by_parameter["tp"].text == "-99"
    assert parsed.fields["MN"] == "HS131100XFQ0001" and next(iter(parsed.fields)) == "QN"


def test_data_frame_options() -> None:
    utc = dt.datetime(2026, 10, 12, 0, tzinfo=dt.UTC)  # 08:00 in Beijing
    parsed = parse_frame(
        _sample(data_time=utc, cn="2061", field="Avg", response=False, values={"codmn": 1e-05})
    )
    assert parsed.data_time == dt.datetime(2026, 10, 12, 8, tzinfo=BEIJING)
    assert parsed.qn == "20261012080000000" and not parsed.response_requested
    (value,) = parsed.values
    assert (value.field, value.text, value.value) == ("Avg", "0.00001", 1e-05)
    with pytest.raises(KeyError, match="w21003"):
        _sample(values={"ammonia": 1.0})
    with pytest.raises(ValueError):
        _sample(flags={"ph": "X"})
    with pytest.raises(ValueError):
        _sample(field="Sum")


def test_build_frame_round_trip_and_refusals() -> None:
    fields = {"QN": "20160801085857223", "ST": "32", "CN": "1062", "PW": "100000",
              "MN": "010000A8900016F000169DC0", "Flag": "5"}  # fmt: skip
    frame = build_frame(fields, "RtdInterval=30")
    assert frame == b"##0101" + APPENDIX_SEGMENT + b"1C80\r\n"
    parsed = parse_frame(frame)
    assert dict(parsed.fields) == fields and parsed.cp == "RtdInterval=30" and not parsed.values
    for bad in ({"Q;N": "1"}, {"QN": "1;2"}, {"CP": "x"}, {"": "1"}, {"QN": "a&&b"}):
        with pytest.raises(FrameError) as refused:
            build_frame(bad, "")
        assert refused.value.reason == "bad_field"
    with pytest.raises(FrameError) as refused:
        build_frame(fields, "x" * 1000)
    assert refused.value.reason == "too_long"


def test_parsed_values_are_ordinary_frozen_dataclasses() -> None:
    parsed = parse_frame(_sample())
    value = parsed.values[0]
    twin = Hj212Value(value.code, value.parameter, value.field, value.value, value.text,
                      value.flag, value.sample_time, value.missing)  # fmt: skip
    assert type(value) is Hj212Value and value == twin and hash(value) == hash(twin)
    assert repr(value) == repr(twin)
    with pytest.raises(dataclasses.FrozenInstanceError):
        value.value = 1.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        parsed.mn = "x"  # type: ignore[misc]
    assert type(parsed) is Hj212Frame
    assert pickle.loads(pickle.dumps(value)) == value
    assert pickle.loads(pickle.dumps(parsed)) == parsed
    assert dataclasses.replace(value, text="1") != value


def test_sentinels_are_never_concentrations() -> None:
    parsed = parse_frame(_sample(values={"nh3n": -99.0, "tp": -999.0, "tn": -9999.0, "ph": -98.5}))
    by_parameter = {v.parameter: v for v in parsed.values}
    assert [by_parameter[k].missing for k in ("nh3n", "tp", "tn", "ph")] == [1, 1, 1, 0]
    assert by_parameter["ph"].value == -98.5
    custom = parse_frame(_sample(values={"nh3n": -1.0}), sentinel_max=-1.0)
    assert custom.values[0].missing


def _rebuilt(text: str) -> bytes:
    data = text.encode()
    return b"##%04d%s%04X\r\n" % (len(data), data, crc16(data))


HEAD = "QN=20261012080012345;ST=21;CN=2011;PW=123456;MN=HS131100XFQ0001;Flag=5;CP=&&"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (HEAD + "DataTime=20261012080000;w21003-Rtd=abc,w21003-Flag=N&&", "bad_value"),
        (HEAD + "DataTime=20261012080000;w21003-Rtd=nan,w21003-Flag=N&&", "bad_value"),
        (HEAD + "DataTime=20261012080000;w21003-Rtd=1_0,w21003-Flag=N&&", "bad_value"),
        (HEAD + "DataTime=20261012080000;w21003-Rtd= 1,w21003-Flag=N&&", "bad_value"),
        (HEAD + "DataTime=20261012080000;w21003-Rtd=1e999,w21003-Flag=N&&", "bad_value"),
        (HEAD + "DataTime=20261012080000;w21003-Rtd=,w21003-Flag=N&&", "bad_value"),
        (HEAD + "DataTime=20261012080000;w21003-Rtd=0.5,w21003-Flag=X&&", "bad_flag"),
        (HEAD + "DataTime=20261012080000;w21003-Rtd=0.5,w21003-Flag=&&", "bad_flag"),
        (HEAD + "DataTime=20261345990000;w21003-Rtd=0.5&&", "bad_time"),
        (HEAD + "DataTime=2026101208;w21003-Rtd=0.5&&", "bad_time"),
        (HEAD + "DataTime=20261012080000;w21003-SampleTime=x,w21003-Rtd=0.5&&", "bad_time"),
        (HEAD + "w21003-Rtd=0.5,w21003-Flag=N&&", "missing_field"),
        (HEAD + "DataTime=20261012080000;w21003-Rtd=1,w21003-Rtd=2&&", "bad_cp"),
        (HEAD + "DataTime=20261012080000;w21003&&", "bad_cp"),
        (HEAD[:-2] + "DataTime=20261012080000&&", "bad_cp"),
        (HEAD + "DataTime=20261012080000", "bad_cp"),
        (HEAD.replace("ST=21;", "") + "DataTime=20261012080000&&", "missing_field"),
        (HEAD.replace("PW=123456;", "") + "DataTime=20261012080000&&", "missing_field"),
        (HEAD.replace(";CP=&&", ";") + "DataTime=20261012080000", "missing_field"),
        (HEAD.replace("Flag=5", "Flag=x") + "DataTime=20261012080000&&", "bad_field"),
        (HEAD.replace("MN=", "MN=" + "X" * 20) + "DataTime=20261012080000&&", "bad_field"),
        (HEAD.replace("ST=21;", "ST=21;ST=21;") + "DataTime=20261012080000&&", "bad_field"),
        (HEAD.replace("ST=21;", "ST21;") + "DataTime=20261012080000&&", "bad_field"),
        (HEAD.replace("Flag=5", "Flag=7") + "DataTime=20261012080000&&", "bad_packet"),
        (HEAD.replace("Flag=5", "Flag=7;PNUM=2;PNO=3") + "DataTime=20261012080000&&", "bad_packet"),
        (HEAD.replace("Flag=5", "Flag=7;PNUM=0;PNO=0") + "DataTime=20261012080000&&", "bad_packet"),
        (HEAD.replace("Flag=5", "Flag=5;PNUM=2;PNO=1") + "DataTime=20261012080000&&", "bad_packet"),
        (HEAD.replace("Flag=5", "Flag=7;PNUM=2") + "DataTime=20261012080000&&", "bad_packet"),
    ],
)
def test_refusals(text: str, reason: str) -> None:
    with pytest.raises(FrameError) as refused:
        parse_frame(_rebuilt(text))
    assert refused.value.reason == reason, str(refused.value)
    assert reason in REASONS


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (b"", "bad_header"),
        (b"#", "bad_header"),
        (b"##", "truncated"),
        (b"##03", "truncated"),
        (b"##03x5", "bad_length"),
        (b"##2000" + b"x" * 2006, "too_long"),
        (b"##0004abcd1234\r\n", "bad_crc"),
        (b"##0004abcdZZZZ\r\n", "bad_crc"),
        (b"##0004abcd1234\r\nxx", "bad_trailer"),
        (b"##0004abcd1234\n\r", "bad_trailer"),
        (b"##0004abc1234\r\n", "bad_length"),
    ],
)
def test_envelope_refusals(frame: bytes, reason: str) -> None:
    with pytest.raises(FrameError) as refused:
        parse_frame(frame)
    assert refused.value.reason == reason, str(refused.value)


def test_encoding_and_lenient_forms() -> None:
    data = b"QN=1;ST=21;CN=1062;PW=1;MN=\xff;CP=&&&&"
    with pytest.raises(FrameError, match="bad_encoding"):
        parse_frame(b"##%04d%s%04X\r\n" % (len(data), data, crc16(data)))
    lower = _rebuilt(HEAD + "DataTime=20261012080000&&")
    assert parse_frame(lower[:-6] + lower[-6:-2].lower() + b"\r\n").mn == "HS131100XFQ0001"
    no_qn = parse_frame(
        _rebuilt(HEAD.replace("QN=20261012080012345;", "") + "DataTime=20261012080000&&")
    )
    assert no_qn.qn is None and b"QN=" not in response_frame(no_qn)
    empty_groups = parse_frame(_rebuilt(HEAD + "DataTime=20261012080000;;w21003-Rtd=0.5;&&"))
    assert [v.value for v in empty_groups.values] == [0.5] and empty_groups.values[0].flag is None
    extra = parse_frame(_rebuilt(HEAD + "DataTime=20261012080000;w21003-ZsRtd=x,w21003-Rtd=2&&"))
    assert [(v.field, v.value) for v in extra.values] == [("Rtd", 2.0)]
    upper = parse_frame(_rebuilt(HEAD + "DataTime=20261012080000;W21003-Rtd=0.5,W21003-Flag=N&&"))
    assert upper.values[0].parameter == "nh3n" and upper.values[0].code == "W21003"
    unknown = parse_frame(_rebuilt(HEAD + "DataTime=20261012080000;a34004-Rtd=5,a34004-Flag=N&&"))
    assert unknown.values[0].parameter is None
    answer = parse_frame(_rebuilt("QN=1;ST=91;CN=9014;MN=X;Flag=4;CP=&&&&"))
    assert answer.pw is None and answer.data_time is None
    millis = parse_frame(_rebuilt(HEAD + "DataTime=20261012080000123&&"))
    assert millis.data_time == dt.datetime(2026, 10, 12, 8, 0, 0, 123000, tzinfo=BEIJING)


# ---------------------------------------------------------------------------------------------
# The usual-frame path and the general path agree

CODES = ["w01010", "w21003", "w21003", "W21003", "a34004", "", "w01001"]
NAMES = ["Rtd", "Rtd", "Avg", "Min", "Flag", "Flag", "SampleTime", "ZsRtd", "Cou"]
GOOD = ["0.118", "14", "1236.5", ".5", "5.", "+2", "7.93", "1e3", "0", "2.84"]
TEXTS = [*GOOD, "-0.5", "-99", "-999.0", "1e-3", "abc", "", "nan", "1_0", "N", "X", "1e999", "٣",
         "20261012193000"]  # fmt: skip


@st.composite
def _data_segments(draw: st.DrawFn) -> str:
    """Data segments of the usual shape, about half of them with one perturbation."""
    perturb = draw(st.integers(0, 9))  # 0–4: none; 5–9: one kind of damage
    header = {"QN": "20261012080012345", "ST": "21", "CN": "2011", "PW": "123456",
              "MN": "HS131100XFQ0001", "Flag": "5"}  # fmt: skip
    header["CN"] = draw(st.sampled_from(["2011", "2061", "2051", "2031"]))
    if perturb == 5:
        choice = draw(st.integers(0, 4))
        if choice == 0:
            header["Flag"] = draw(st.sampled_from(["4", "7", "20", "x", ""]))
        elif choice == 1:
            del header[draw(st.sampled_from(sorted(header)))]
        elif choice == 2:
            header["CN"] = draw(st.sampled_from(["1062", "9014"]))
        elif choice == 3:
            header = {"PNUM": "1", "PNO": "1", **header}
        else:
            header = dict(reversed(header.items()))
    per_group = draw(st.integers(2, 4))
    kinds = draw(st.lists(st.sampled_from(["Rtd", "Avg", "Min", "Max", "Cou"]),
                          min_size=per_group - 1, max_size=per_group - 1, unique=True))  # fmt: skip
    codes = draw(st.lists(st.sampled_from([*sorted(POLLUTANT_CODES), "a34004", "w00000"]),
                          min_size=1, max_size=10, unique=True))  # fmt: skip
    if perturb == 6:  # a code repeated, upper-case, unknown or empty
        codes[draw(st.integers(0, len(codes) - 1))] = draw(st.sampled_from([*CODES, codes[0]]))
    groups = []
    for code in codes:
        items = [f"{code}-{kind}={draw(st.sampled_from(GOOD))}" for kind in kinds]
        items.append(f"{code}-Flag={draw(st.sampled_from('NMCDFSTB'))}")
        groups.append(items)
    g = draw(st.integers(0, len(groups) - 1))
    i = draw(st.integers(0, per_group - 1))
    if perturb == 7:  # a value or flag text of any kind
        name = groups[g][i].split("=")[0]
        groups[g][i] = f"{name}={draw(st.sampled_from(TEXTS + list('NXM')))}"
    elif perturb == 8:  # an item renamed, moved or added
        action = draw(st.integers(0, 2))
        extra = (f"{draw(st.sampled_from(CODES))}-{draw(st.sampled_from(NAMES))}="
                 f"{draw(st.sampled_from(TEXTS))}")  # fmt: skip
        if action == 0:
            groups[g][i] = extra
        elif action == 1:
            groups[g].insert(i, extra)
        else:
            groups[g].reverse()
    when = "20261345990000" if perturb == 9 else "20261012080000"
    cp = ";".join([f"DataTime={when}", *(",".join(items) for items in groups)])
    return ";".join(f"{k}={v}" for k, v in header.items()) + f";CP=&&{cp}&&"


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_data_segments())
def test_the_usual_path_agrees_with_the_general_one(text: str) -> None:
    frame = _rebuilt(text)
    data = frame[6:-6]
    try:
        general: Hj212Frame | FrameError = parse._parse_general(text, frame, hj212.SENTINEL_MAX)
    except FrameError as error:
        general = error
    usual = fastpath.parse_usual(text, data, frame, hj212.SENTINEL_MAX)
    if usual is not None:
        assert usual == general
    try:
        parsed: Hj212Frame | FrameError = parse_frame(frame)
    except FrameError as error:
        parsed = error
    if isinstance(general, FrameError):
        assert isinstance(parsed, FrameError) and parsed.reason == general.reason
    else:
        assert parsed == general


def test_usual_frames_take_the_usual_path() -> None:
    frames = [_sample(values={"temp": 14.2, "ph": 7.93, "do": 8.41, "conductivity": 1236.5,
                              "turbidity": 11.8, "codmn": 4.62, "nh3n": 0.118, "tp": 0.071,
                              "tn": 2.84}),
              _sample(cn="2061", field="Avg", values={"nh3n": 0.5, "tp": 0.1})]  # fmt: skip
    for frame in frames:
        data = frame[6:-6]
        usual = fastpath.parse_usual(data.decode(), data, frame, hj212.SENTINEL_MAX)
        assert usual is not None and usual == parse_frame(frame)


# ---------------------------------------------------------------------------------------------
# Fuzzing


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=1200))
def test_any_bytes_give_a_frame_or_a_frame_error(data: bytes) -> None:
    for candidate in (data, b"##" + data, b"##%04d" % len(data) + data + b"0000\r\n"):
        try:
            parse_frame(candidate)
        except FrameError as error:
            assert error.reason in REASONS


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 255), st.integers(1, 3))
def test_damaged_frames_give_a_frame_or_a_frame_error(seed: int, byte: int, damage: int) -> None:
    frame = bytearray(_sample())
    rng = random.Random(seed)
    for _ in range(damage):
        frame[rng.randrange(len(frame))] = byte
    try:
        parse_frame(bytes(frame))
    except FrameError as error:
        assert error.reason in REASONS


# ---------------------------------------------------------------------------------------------
# Stream reassembly


def _frames(count: int) -> list[bytes]:
    return [_sample(qn=f"2026101208{n:07d}", values={"nh3n": 0.1 * n, "tp": 0.01 * n})
            for n in range(count)]  # fmt: skip


def _only_frames(out: list[bytes | FrameError]) -> list[bytes]:
    return [item for item in out if isinstance(item, bytes)]


def test_several_frames_in_one_read() -> None:
    frames = _frames(5)
    splitter = FrameSplitter()
    assert splitter.feed(b"".join(frames)) == frames
    assert splitter.pending == 0


def test_a_frame_cut_at_every_byte() -> None:
    frame = _frames(1)[0]
    for cut in range(len(frame) + 1):
        splitter = FrameSplitter()
        assert splitter.feed(frame[:cut]) + splitter.feed(frame[cut:]) == [frame], cut
    splitter = FrameSplitter()
    out: list[bytes | FrameError] = []
    for index in range(len(frame)):
        out += splitter.feed(frame[index : index + 1])
    assert out == [frame]


def test_garbage_before_and_between_frames() -> None:
    frames = _frames(3)
    out = FrameSplitter().feed(b"hello\r\n" + frames[0] + b"x#x" + frames[1] + b"\x00" + frames[2])
    assert _only_frames(out) == frames
    errors = [item for item in out if isinstance(item, FrameError)]
    assert [error.reason for error in errors] == ["garbage", "garbage", "garbage"]


def test_garbage_over_several_reads_is_reported_and_skipped() -> None:
    splitter = FrameSplitter()
    frame = _frames(1)[0]
    out = splitter.feed(b"abc") + splitter.feed(b"def") + splitter.feed(b"ghi" + frame[:10])
    out += splitter.feed(frame[10:])
    assert _only_frames(out) == [frame]
    errors = [e for e in out if isinstance(e, FrameError)]
    assert errors and {e.reason for e in errors} == {"garbage"}
    assert splitter.pending == 0


def test_bad_length_headers_resynchronise() -> None:
    frame = _frames(1)[0]
    for junk in (b"##abcd", b"##12", b"##0", b"#", b"###", b"##0999" + frame[6:]):
        out = FrameSplitter().feed(junk + frame)
        assert _only_frames(out) == [frame], junk
    out = FrameSplitter().feed(b"##12x4" + frame)
    assert any(isinstance(e, FrameError) and e.reason == "bad_length" for e in out)


@needs_vectors
def test_the_length_mismatch_vector_does_not_swallow_the_next_frame() -> None:
    bad = _vector("length field does not match")["frame"].encode()
    truncated = _vector("truncated frame")["frame"].encode()
    frame = _frames(1)[0]
    out = FrameSplitter().feed(bad + frame + truncated + frame)
    assert _only_frames(out) == [frame, frame]
    assert any(isinstance(e, FrameError) and e.reason == "bad_length" for e in out)


def test_a_stray_header_in_garbage_cannot_swallow_a_frame() -> None:
    frame = _frames(1)[0]
    forged = b"##%04d" % (len(frame) - 6)  # announces a frame ending exactly at frame's CRLF
    assert _only_frames(FrameSplitter().feed(forged + frame)) == [frame]


def test_an_oversize_frame_is_refused_and_never_buffered() -> None:
    frame = _frames(1)[0]
    splitter = FrameSplitter()
    out = splitter.feed(b"##9999")
    assert [e.reason for e in out if isinstance(e, FrameError)] == ["too_long"]
    for _ in range(50):  # the announced 9,999 bytes arrive in small reads: skipped, reported
        skipped = splitter.feed(b"y" * 200)
        assert all(isinstance(e, FrameError) and e.reason == "garbage" for e in skipped)
        assert splitter.pending <= 1
    assert _only_frames(splitter.feed(frame)) == [frame]
    small = FrameSplitter(max_frame_bytes=100)
    assert [e.reason for e in small.feed(frame) if isinstance(e, FrameError)] == ["too_long"]
    with pytest.raises(ValueError):
        FrameSplitter(max_frame_bytes=5)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=5000), st.lists(st.integers(1, 700), max_size=20))
def test_the_buffer_never_exceeds_the_limit(data: bytes, cuts: list[int]) -> None:
    splitter = FrameSplitter()
    position = 0
    for cut in [*cuts, len(data)]:
        out = splitter.feed(data[position : position + cut])
        position += cut
        assert all(isinstance(item, bytes | FrameError) for item in out)
        assert splitter.pending < MAX_FRAME_BYTES


FRAMES = _frames(6)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.integers(0, len(FRAMES) - 1),
            st.binary(max_size=60),
            st.sampled_from([b"#", b"##", b"##0", b"##03", b"##0375", b"\r\n", b"##9999"]),
        ),
        max_size=14,
    ),
    st.lists(st.integers(1, 500), max_size=25),
)
def test_every_valid_frame_comes_out_exactly_once(parts: list[Any], cuts: list[int]) -> None:
    stream = b"".join(FRAMES[p] if isinstance(p, int) else p for p in parts)
    expected = [FRAMES[p] for p in parts if isinstance(p, int)]
    splitter = FrameSplitter()
    out: list[bytes | FrameError] = []
    position = 0
    for cut in [*cuts, len(stream)]:
        out += splitter.feed(stream[position : position + cut])
        position += cut
    found = [item for item in _only_frames(out) if item in FRAMES]
    assert found == expected


# ---------------------------------------------------------------------------------------------
# Split packets


def _packets(count: int, qn: str = "20261012040001004") -> list[Hj212Frame]:
    packets = []
    for number in range(1, count + 1):
        fields = {"QN": qn, "ST": "21", "CN": "2011", "PW": "123456", "MN": "HS131100XFQ0001",
                  "Flag": "7", "PNUM": str(count), "PNO": str(number)}  # fmt: skip
        code = f"w0{number:04d}"
        cp = f"DataTime=2026101204000{number % 10};{code}-Rtd={number},{code}-Flag=N"
        packets.append(parse_frame(build_frame(fields, cp)))
    return packets


def test_packets_in_order_and_out_of_order() -> None:
    packets = _packets(3)
    for order in ((0, 1, 2), (2, 0, 1), (1, 2, 0)):
        assembler = PacketAssembler()
        results = [assembler.add(packets[i]) for i in order]
        assert results[:2] == [None, None]
        whole = results[2]
        assert whole is not None and assembler.pending == 0
        assert [v.value for v in whole.values] == [1.0, 2.0, 3.0]
        assert whole.data_time == packets[0].data_time and whole.pno is None and whole.pnum == 3
        assert whole.raw == b"".join(p.raw for p in packets)


def test_a_repeated_packet_replaces_the_earlier_copy() -> None:
    packets = _packets(2)
    assembler = PacketAssembler()
    assert assembler.add(packets[0]) is None
    assert assembler.add(packets[0]) is None
    whole = assembler.add(packets[1])
    assert whole is not None and len(whole.values) == 2


def test_unsplit_frames_pass_straight_through() -> None:
    frame = parse_frame(_sample())
    assert PacketAssembler().add(frame) is frame


def test_a_missing_packet_expires() -> None:
    now = [100.0]
    assembler = PacketAssembler(timeout=30, clock=lambda: now[0])
    packets = _packets(3)
    assert assembler.add(packets[0]) is None and assembler.add(packets[2]) is None
    now[0] = 129.0
    assert assembler.expired() == []
    now[0] = 130.0
    assert assembler.expired() == [[packets[0], packets[2]]]
    assert assembler.pending == 0 and assembler.expired() == []


def test_packet_sets_are_bounded_and_checked() -> None:
    assembler = PacketAssembler(max_sets=2)
    first, second, third = (_packets(2, qn=f"2026101204000100{n}")[0] for n in range(3))
    for packet in (first, second, third):
        assert assembler.add(packet) is None
    assert assembler.pending == 2 and assembler.expired() == [[first]]
    other = _packets(3, qn="20261012040001001")[1]  # same QN as ``second``, another PNUM
    with pytest.raises(FrameError) as refused:
        assembler.add(other)
    assert refused.value.reason == "bad_packet"
    with pytest.raises(ValueError):
        PacketAssembler(timeout=0)


def test_the_answer_to_a_packet_names_it() -> None:
    packet = _packets(2)[1]
    answer = parse_frame(response_frame(packet))
    assert (answer.cn, answer.qn, answer.pnum, answer.pno) == ("9014", packet.qn, 2, 2)
    assert not answer.response_requested
