"""Writing frames: any frame from its fields, a station's data frame, the platform's 9014 answer.

References
----------
.. [1] HJ 212-2017: frame, CRC (appendix A), data commands, 9014 data answer [V]; feeds.md §1.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from decimal import Decimal

from service.errors import FrameError
from service.feeds.hj212.codes import (
    _CODE_OF_KEY,
    _WIRE_FACTORS,
    POLLUTANT_CODES,
    POLLUTANT_CODES_TABLE,
)
from service.feeds.hj212.crc import crc16
from service.feeds.hj212.frame import (
    _FLAG_SET,
    _VALUE_FIELD_SET,
    DATA_FLAGS,
    MAX_DATA_BYTES,
    RESPONSE_COMMAND,
    VALUE_FIELDS,
    Hj212Frame,
    ValueField,
)
from service.time import BEIJING

__all__ = ["build_frame", "data_frame", "response_frame"]


def build_frame(fields: Mapping[str, str], cp: str) -> bytes:
    """A complete frame from its fields and command parameters.

    Parameters
    ----------
    fields : Mapping[str, str]
        ``key=value`` fields of the data segment, written in the given order (QN, ST, CN, PW,
        MN, Flag … by convention).
    cp : str
        The command parameters, written between ``CP=&&`` and ``&&``.

    Returns
    -------
    bytes
        ``##`` + length + data segment + CRC (upper-case hex) + ``\\r\\n``.

    Raises
    ------
    FrameError
        ``bad_field`` for a key or value that would break the segment (``;``, ``=``, ``&&``, CR
        or LF, an empty key, a ``CP`` key), ``too_long`` beyond 1024 data bytes.

    Examples
    --------
    >>> build_frame({"QN": "20160801085857223", "ST": "32", "CN": "1062", "PW": "100000",
    ...     "MN": "010000A8900016F000169DC0", "Flag": "5"}, "RtdInterval=30")[-6:]
    b'1C80\\r\\n'
    """
    parts = []
    for key, value in fields.items():
        if not key or key == "CP" or any(c in key for c in ";=&\r\n"):
            raise FrameError("bad_field", f"field name {key!r} cannot be written")
        if any(c in value for c in ";\r\n") or "&&" in value:
            raise FrameError("bad_field", f"field {key}={value!r} cannot be written")
        parts.append(f"{key}={value}")
    if "\r" in cp or "\n" in cp:
        raise FrameError("bad_cp", "CP cannot contain CR or LF")
    parts.append(f"CP=&&{cp}&&")
    data = ";".join(parts).encode("utf-8")
    if len(data) > MAX_DATA_BYTES:
        raise FrameError(
            "too_long", f"data segment of {len(data)} bytes, at most {MAX_DATA_BYTES}: split it"
        )
    return b"##%04d%s%04X\r\n" % (len(data), data, crc16(data))


def _format_value(value: float | None, factor: Decimal | None = None) -> str:
    """The text of a value; ``factor`` (wire unit → canonical) is divided out exactly."""
    if value is None or value != value:  # None and NaN are "no value"
        return "-99"
    if not math.isfinite(value):
        raise ValueError(f"value {value!r} cannot be sent")
    number = Decimal(repr(float(value)))
    if factor is not None:
        number = (number / factor).normalize()
    text: str = format(number, "f")
    return text


def _code(name: str) -> str:
    """A pollutant code from a code or a parameter key."""
    if name in POLLUTANT_CODES:
        return name
    code = _CODE_OF_KEY.get(name)
    if code is not None:
        return code
    if len(name) == 6 and name[0].isascii() and name[0].isalpha() and name[1:].isdigit():
        return name  # a well-formed code outside the table, e.g. w01020
    raise KeyError(
        f"{name!r} is neither a pollutant code nor a parameter key of {POLLUTANT_CODES_TABLE}; "
        f"valid: {', '.join(f'{c} ({k})' for c, k in POLLUTANT_CODES.items())}"
    )


def _time_text(moment: dt.datetime) -> str:
    local = moment.astimezone(BEIJING) if moment.tzinfo is not None else moment
    return local.strftime("%Y%m%d%H%M%S")


def data_frame(
    *,
    mn: str,
    pw: str,
    data_time: dt.datetime,
    values: Mapping[str, float | None],
    flags: Mapping[str, str] | None = None,
    cn: str = "2011",
    st: str = "21",
    qn: str | None = None,
    response: bool = True,
    field: ValueField = "Rtd",
) -> bytes:
    """A data frame as a station sends it (for tests, simulators and benchmarks).

    Parameters
    ----------
    mn, pw : str
        Station id and password.
    data_time : datetime
        ``DataTime``; a zone-aware time is converted to Beijing time, a naive one is taken as
        Beijing time.
    values : Mapping[str, float or None]
        Pollutant code (``w21003``) or parameter key (``nh3n``) → value; None or NaN is sent as
        the ``-99`` sentinel. A value given by parameter key is in the canonical unit of
        ``parameters.csv`` and is sent in the unit of the key's first code (``hg`` 0.00005
        mg/L → ``w20111`` 0.05 μg/L); a value given by code is sent as it is.
    flags : Mapping[str, str], optional
        Same keys → data flag; ``N`` for every value not listed.
    cn, st : str, optional
        Command (default 2011 real-time) and system code (default 21 surface water).
    qn : str, optional
        Request id; default ``DataTime`` with milliseconds ``000`` (this module has no clock).
    response : bool, optional
        Ask for a 9014 answer (Flag 5) or not (Flag 4).
    field : {'Rtd', 'Avg', 'Min', 'Max', 'Cou'}, optional
        The value suffix (``Avg`` for minute, hourly and daily data).

    Returns
    -------
    bytes
        The frame, with length and CRC.
    """
    if field not in _VALUE_FIELD_SET:
        raise ValueError(f"field must be one of {', '.join(VALUE_FIELDS)}, not {field!r}")
    flags = flags or {}
    flag_by_code = {_code(name): flag for name, flag in flags.items()}
    for flag in flag_by_code.values():
        if flag not in _FLAG_SET:
            raise ValueError(f"flag {flag!r} is not one of {' '.join(DATA_FLAGS)}")
    when = _time_text(data_time)
    groups = [f"DataTime={when}"]
    for name, value in values.items():
        code = _code(name)
        factor = _WIRE_FACTORS.get(code) if name != code else None  # a key: canonical unit
        text = _format_value(value, factor)
        groups.append(f"{code}-{field}={text},{code}-Flag={flag_by_code.get(code, 'N')}")
    header = {"QN": qn or f"{when}000", "ST": st, "CN": cn, "PW": pw, "MN": mn,
              "Flag": "5" if response else "4"}  # fmt: skip
    return build_frame(header, ";".join(groups))


def response_frame(frame: Hj212Frame) -> bytes:
    """The 9014 data answer (数据应答) to a frame that asked for one.

    The 2017 form [V]: ``QN`` of the frame in the data segment, ``ST=91;CN=9014``, the frame's
    ``PW`` and ``MN``, ``Flag=4`` (2017, no answer requested; ``Flag=6`` with ``PNUM``/``PNO``
    when answering a packet of a split frame), and an empty ``CP=&&&&``. (The 2005 form instead
    put ``QN`` and ``CN`` inside CP; we do not send it.)

    Examples
    --------
    >>> from service.feeds.hj212 import parse_frame
    >>> request = parse_frame(data_frame(mn="HS131100XFQ0001", pw="123456",
    ...     data_time=dt.datetime(2026, 10, 12, 8), values={"ph": 7.9}, qn="20261012080012345"))
    >>> response_frame(request)[6:-6]
    b'QN=20261012080012345;ST=91;CN=9014;PW=123456;MN=HS131100XFQ0001;Flag=4;CP=&&&&'
    """
    fields = {"QN": frame.qn} if frame.qn else {}
    fields.update({"ST": "91", "CN": RESPONSE_COMMAND})
    if frame.pw is not None:
        fields["PW"] = frame.pw
    fields["MN"] = frame.mn
    fields["Flag"] = "4"
    if frame.split and frame.pnum is not None and frame.pno is not None:
        fields["Flag"] = "6"  # the answer to a packet names it, so it carries the split bit too
        fields["PNUM"] = str(frame.pnum)
        fields["PNO"] = str(frame.pno)
    return build_frame(fields, "")
