"""The general HJ 212 parser: every check, one field and one item at a time.

:func:`parse_frame` checks the frame from the outside in (header, length, trailer, CRC, encoding)
and then reads the data segment: the usual data frame through the fast path
(:mod:`service.feeds.hj212.fastpath`), anything else, and every refusal, through
:func:`_parse_general`, which the tests hold to the same results.

Every refusal raises :class:`service.errors.FrameError` with one of the
:data:`~service.feeds.hj212.frame.REASONS` codes.

References
----------
.. [1] HJ 212-2017: frame, CRC (appendix A), data segment, command codes [V]; feeds.md §1.
"""

from __future__ import annotations

import datetime as dt
import math
from itertools import repeat
from types import MappingProxyType
from typing import Final, NoReturn

from service.errors import FrameError
from service.feeds.hj212.codes import POLLUTANT_CODES
from service.feeds.hj212.crc import _HEX_DIGITS, crc16
from service.feeds.hj212.fastpath import parse_usual
from service.feeds.hj212.frame import (
    _FLAG_SET,
    _MAX_MN,
    _SMALL_FLAGS,
    _VALUE_FIELD_SET,
    DATA_COMMANDS,
    DATA_FLAGS,
    MAX_DATA_BYTES,
    RESPONSE_COMMAND,
    SENTINEL_MAX,
    Hj212Frame,
    Hj212Value,
    _frame,
    _time,
    _value,
)

__all__ = ["parse_frame"]

_NOT_NUMBER: Final = str.maketrans("", "", "0123456789+-.eE")
_EQUALS: Final = repeat("=")


def parse_frame(frame: bytes, *, sentinel_max: float = SENTINEL_MAX) -> Hj212Frame:
    """Parse and check one complete HJ 212 frame.

    Parameters
    ----------
    frame : bytes
        One frame from ``##`` to ``\\r\\n`` inclusive, e.g. a candidate of
        :meth:`~service.feeds.hj212.stream.FrameSplitter.feed`.
    sentinel_max : float, optional
        Values at or below this are "no value" sentinels [A]; default :data:`SENTINEL_MAX`.

    Returns
    -------
    Hj212Frame
        The frame; times are zone-aware Beijing times.

    Raises
    ------
    FrameError
        When the frame is refused; ``reason`` is one of :data:`REASONS`. The checks run from
        the outside in and the first failure is reported: header, length, trailer, CRC,
        encoding, fields, required fields (ST CN MN, PW), MN and Flag, the CP wrapper, PNUM and
        PNO, then for data commands the CP items, DataTime, and per pollutant its flag,
        SampleTime and values.

    Notes
    -----
    Accepted beyond the letter of the standard [A]: lower-case hex in the CRC; a missing ``QN``
    (``qn`` None) or ``Flag`` (read as 0); empty ``;`` groups in CP; pollutant field suffixes
    other than Rtd/Avg/Min/Max/Cou/Flag/SampleTime (``-EFlag``, ``-ZsRtd`` …) are kept in ``cp``
    only.
    ``PNUM=1;PNO=1`` without the split bit is accepted; PNUM > 1 without it is refused.

    Examples
    --------
    >>> import datetime as dt
    >>> from service.feeds.hj212 import data_frame
    >>> parsed = parse_frame(data_frame(mn="HS131100XFQ0001", pw="123456",
    ...     data_time=dt.datetime(2026, 10, 12, 8), values={"nh3n": 0.118}))
    >>> parsed.values[0].parameter, parsed.values[0].value, parsed.data_time.isoformat()
    ('nh3n', 0.118, '2026-10-12T08:00:00+08:00')
    """
    raw = frame if type(frame) is bytes else bytes(frame)
    head = raw[2:6]
    if raw[:2] != b"##" or len(head) != 4 or not head.isdigit():
        _header_error(raw)
    declared = int(head)
    end = declared + 6
    if declared > MAX_DATA_BYTES or len(raw) != end + 6 or raw[end + 4 :] != b"\r\n":
        _framing_error(raw, declared)
    crc_text = raw[end : end + 4]
    if crc_text.translate(None, _HEX_DIGITS):
        raise FrameError("bad_crc", f"the CRC must be 4 hex digits, not {crc_text!r}")
    data = raw[6:end]
    computed = crc16(data)
    if computed != int(crc_text, 16):
        raise FrameError(
            "bad_crc", f"CRC {crc_text.decode()} sent, {computed:04X} computed over the data"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise FrameError("bad_encoding", f"the data segment is not ASCII/UTF-8: {error}") from None

    parsed = parse_usual(text, data, raw, sentinel_max)
    if parsed is None:
        parsed = _parse_general(text, raw, sentinel_max)
    return parsed


def _parse_general(text: str, raw: bytes, sentinel_max: float) -> Hj212Frame:
    """Every check of :func:`parse_frame` after the CRC, one field and one item at a time."""
    if text.startswith("CP="):
        header, body = "", text[3:]
    else:
        cut = text.find(";CP=")
        if cut < 0:
            raise FrameError("missing_field", "the data segment has no CP=&&…&& field")
        header, body = text[:cut], text[cut + 4 :]
    fields: dict[str, str] = {}
    if header:
        parts = header.split(";")
        try:  # dict() refuses a part with no "=" or with two
            fields = dict(map(str.split, parts, _EQUALS))
        except ValueError:
            _field_error(parts)
        if len(fields) != len(parts) or "" in fields:
            _field_error(parts)
    get = fields.get
    qn, st, cn, pw, mn = get("QN"), get("ST"), get("CN"), get("PW"), get("MN")
    # QN may be absent (some loggers omit it); the answer then carries none either
    if not st or not cn or not mn or (not pw and cn != RESPONSE_COMMAND):
        absent = [
            name
            for name, present in (("ST", st), ("CN", cn), ("PW", pw), ("MN", mn))
            if not present and not (name == "PW" and cn == RESPONSE_COMMAND)
        ]
        raise FrameError("missing_field", f"required field(s) absent or empty: {', '.join(absent)}")
    if len(mn) > _MAX_MN:
        raise FrameError("bad_field", f"MN has {len(mn)} characters, at most {_MAX_MN}")
    flag_text = get("Flag")
    if flag_text is None:
        flag = 0
    elif flag_text in _SMALL_FLAGS:
        flag = _SMALL_FLAGS[flag_text]
    elif flag_text.isascii() and flag_text.isdigit() and int(flag_text) < 256:
        flag = int(flag_text)
    else:
        raise FrameError("bad_field", f"Flag must be an integer 0–255, not {flag_text!r}")
    if not (body.startswith("&&") and body.endswith("&&") and len(body) >= 4):
        raise FrameError("bad_cp", f"CP must be wrapped in &&…&&: {body[:40]!r}")
    cp = body[2:-2]
    if flag & 2 or "PNUM" in fields or "PNO" in fields:
        pnum, pno = _packet_numbers(get("PNUM"), get("PNO"), flag)
    else:
        pnum = pno = None

    data_time: dt.datetime | None = None
    values: tuple[Hj212Value, ...] = ()
    if cn in DATA_COMMANDS:
        data_time, values = _data_values(cp, sentinel_max)
    return _frame(
        qn, st, cn, pw, mn, flag, pnum, pno, data_time, values, MappingProxyType(fields), cp, raw
    )


def _header_error(raw: bytes) -> NoReturn:
    """Raise the right refusal for a frame that does not start with ``##`` and 4 digits."""
    if raw[:2] != b"##":
        raise FrameError("bad_header", f"a frame starts with ##, not {raw[:8]!r}")
    head = raw[2:6]
    if head.isdigit() or not head:
        raise FrameError("truncated", f"the frame ends inside its header: {raw!r}")
    raise FrameError("bad_length", f"the length after ## must be 4 digits, not {head!r}")


def _field_error(parts: list[str]) -> NoReturn:
    """Raise the refusal for the first malformed or repeated field."""
    seen = set()
    for part in parts:
        key, equals, value = part.partition("=")
        if not equals or not key or "=" in value:
            raise FrameError("bad_field", f"field {part!r} is not key=value")
        if key in seen:
            raise FrameError("bad_field", f"field {key} appears twice")
        seen.add(key)
    raise AssertionError("unreachable: the fields were well formed")  # pragma: no cover


def _framing_error(raw: bytes, declared: int) -> NoReturn:
    """Raise the right refusal for a frame whose size or end does not fit its length."""
    if declared > MAX_DATA_BYTES:
        raise FrameError(
            "too_long", f"declared data segment of {declared} bytes, at most {MAX_DATA_BYTES}"
        )
    expected = declared + 12
    if raw.endswith(b"\r\n"):
        actual = len(raw) - 12
        if actual > MAX_DATA_BYTES:
            raise FrameError(
                "too_long", f"data segment of {actual} bytes, at most {MAX_DATA_BYTES}"
            )
        raise FrameError(
            "bad_length", f"the header declares {declared} data bytes, the frame carries {actual}"
        )
    if len(raw) < expected:
        raise FrameError(
            "truncated", f"the frame ends after {len(raw)} of its {expected} bytes (no CRLF)"
        )
    raise FrameError(
        "bad_trailer",
        f"CRLF must follow the CRC at byte {expected - 2}; the frame ends {raw[-8:]!r}",
    )


def _packet_numbers(
    pnum_text: str | None, pno_text: str | None, flag: int
) -> tuple[int | None, int | None]:
    """PNUM and PNO checked against each other and against Flag bit 1."""
    if pnum_text is None and pno_text is None:
        if flag & 2:
            raise FrameError("bad_packet", "Flag marks a split packet but PNUM/PNO are absent")
        return None, None
    if pnum_text is None or pno_text is None:
        raise FrameError("bad_packet", "PNUM and PNO come together")
    if not (pnum_text.isascii() and pnum_text.isdigit() and pno_text.isascii()
            and pno_text.isdigit()):  # fmt: skip
        raise FrameError("bad_packet", f"PNUM={pnum_text}, PNO={pno_text} must be integers")
    pnum, pno = int(pnum_text), int(pno_text)
    if not 1 <= pno <= pnum:
        raise FrameError("bad_packet", f"PNO={pno} must be between 1 and PNUM={pnum}")
    if pnum > 1 and not flag & 2:
        raise FrameError("bad_packet", f"PNUM={pnum} but Flag={flag} does not mark a split packet")
    return pnum, pno


def _parse_time(text: str, what: str) -> dt.datetime:
    parsed = _time(text)
    if parsed is None:
        raise FrameError("bad_time", f"{what}={text!r} is not a valid yyyyMMddHHmmss[SSS]")
    return parsed


def _number(text: str) -> float:
    """A decimal number as sent (``14.2``, ``-0.5``, ``1e-3``); nothing else ``float`` accepts."""
    if text.isascii() and text.replace(".", "", 1).isdigit():
        return float(text)
    try:
        number = float(text)
    except ValueError:
        raise FrameError("bad_value", f"value {text!r} is not a number") from None
    if text.translate(_NOT_NUMBER) or not math.isfinite(number):
        raise FrameError("bad_value", f"value {text!r} is not a finite decimal number")
    return number


def _data_values(cp: str, sentinel_max: float) -> tuple[dt.datetime, tuple[Hj212Value, ...]]:
    """DataTime and the pollutant values of a data command's CP."""
    data_time_text: str | None = None
    by_code: dict[str, dict[str, str]] = {}
    for group in cp.split(";"):
        if not group:
            continue
        for item in group.split(","):
            key, equals, text = item.partition("=")
            if not equals:
                raise FrameError("bad_cp", f"CP item {item!r} is not key=value")
            code, dash, suffix = key.partition("-")
            if not dash:
                if key == "DataTime":
                    if data_time_text is not None:
                        raise FrameError("bad_cp", "DataTime appears twice")
                    data_time_text = text
                continue
            if not code:
                raise FrameError("bad_cp", f"CP item {item!r} has no pollutant code")
            entry = by_code.get(code)
            if entry is None:
                by_code[code] = {suffix: text}
            elif suffix in entry:
                raise FrameError("bad_cp", f"{key} appears twice")
            else:
                entry[suffix] = text
    if data_time_text is None:
        raise FrameError("missing_field", "a data command needs DataTime in CP")
    data_time = _parse_time(data_time_text, "DataTime")
    values: list[Hj212Value] = []
    codes = POLLUTANT_CODES
    for code, entry in by_code.items():
        flag = entry.get("Flag")
        if flag is not None and flag not in _FLAG_SET:
            raise FrameError(
                "bad_flag", f"{code}-Flag={flag!r} is not one of {' '.join(DATA_FLAGS)}"
            )
        sample_text = entry.get("SampleTime")
        sample_time = (
            None if sample_text is None else _parse_time(sample_text, f"{code}-SampleTime")
        )
        parameter = codes.get(code)
        if parameter is None and not code.islower():
            parameter = codes.get(code.lower())
        for suffix, text in entry.items():
            if suffix in _VALUE_FIELD_SET:
                number = _number(text)
                if number <= sentinel_max:
                    values.append(
                        _value(code, parameter, suffix, None, text, flag, sample_time, True)
                    )
                else:
                    values.append(
                        _value(code, parameter, suffix, number, text, flag, sample_time, False)
                    )
    return data_time, tuple(values)
