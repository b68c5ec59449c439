"""What an HJ 212-2017 frame is: wire limits, codes and flags, and the two record types.

:class:`Hj212Frame` and :class:`Hj212Value` are frozen dataclasses; their field lists are the one
table of a frame's contents. The parsers do not call the dataclass constructors (a frozen
dataclass sets each field through ``object.__setattr__``, about 1 µs per value, most of a
frame's parsing time): they call constructors generated from that table here
(:func:`_frame`, :func:`_value`, :func:`_values`), which fill a plain twin class with the same
slots and then turn it into the frozen class by ``__class__`` assignment, which Python allows
between classes of the same layout. The result is the same object as the public constructor
makes (same class, fields, equality, hash and immutability) at a third of the cost.

References
----------
.. [1] HJ 212-2017 污染物在线监控（监测）系统数据传输标准: frame, data segment, command codes [V];
   feeds.md §1.
.. [2] domain.md §5: data flags of surface-water stations [A].
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, Literal, TypeVar, cast

from service.time import BEIJING

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = [
    "DATA_COMMANDS",
    "DATA_FLAGS",
    "HEADER_FIELDS",
    "MAX_DATA_BYTES",
    "MAX_FRAME_BYTES",
    "REASONS",
    "RESPONSE_COMMAND",
    "SENTINEL_MAX",
    "VALUE_FIELDS",
    "Hj212Frame",
    "Hj212Value",
    "ValueField",
]

MAX_DATA_BYTES: Final = 1024
"""Largest data segment of one frame [bytes] [V]; longer data is split into packets."""

MAX_FRAME_BYTES: Final = MAX_DATA_BYTES + 12
"""Largest whole frame: ``##`` + 4 length digits + data + 4 CRC digits + ``\\r\\n`` [bytes]."""

DATA_COMMANDS: Final = frozenset({"2011", "2051", "2061", "2031"})
"""Commands whose CP carries ``DataTime`` and pollutant values: real-time, minute, hour, day [V]."""

RESPONSE_COMMAND: Final = "9014"
"""The data answer (数据应答) [V]; it needs no ``PW``."""

VALUE_FIELDS: Final = ("Rtd", "Avg", "Min", "Max", "Cou")
"""Suffixes of numeric pollutant fields: real-time, average, minimum, maximum, cumulative [V]."""

DATA_FLAGS: Final = MappingProxyType(
    {
        "N": "正常 / normal",
        "F": "停运 / stopped",
        "M": "维护 / maintenance",
        "S": "手工输入 / manual or set value",
        "D": "故障 / fault",
        "C": "校准 / calibration",
        "T": "超测上限 / over range",
        "B": "通讯异常 / communication fault",
    }
)
"""Per-value data flags accepted on the wire [A for the surface-water variant, domain.md §5]."""

SENTINEL_MAX: Final = -99.0
"""A value at or below this is a "no value" sentinel (-99, -999, -9999 …), never a reading [A]."""

REASONS: Final = MappingProxyType(
    {
        "garbage": "bytes before a frame header ## (stream reassembly)",
        "bad_header": "the frame does not start with ##",
        "bad_length": "the 4-digit length is not digits or does not match the data segment",
        "truncated": "the frame ends before its declared length",
        "too_long": "the data segment is longer than 1024 bytes (or the frame than the limit)",
        "bad_trailer": "no CRLF right after the CRC, or bytes after it",
        "bad_crc": "the CRC is not 4 hex digits or does not match the data segment",
        "bad_encoding": "the data segment is not UTF-8 (HJ 212 is ASCII)",
        "bad_field": "a data segment field is not key=value, repeated, or malformed (Flag, MN)",
        "missing_field": "ST, CN, MN, CP, PW (except 9014) or DataTime (data commands) absent",
        "bad_cp": "CP is not wrapped in &&…&&, or an item is not key=value, or repeated",
        "bad_time": "DataTime or SampleTime is not a valid yyyyMMddHHmmss[SSS]",
        "bad_value": "a pollutant value is not a finite decimal number",
        "bad_flag": "a data flag is not one of N F M S D C T B",
        "bad_packet": "PNUM/PNO missing, not positive, PNO > PNUM, or inconsistent with Flag",
    }
)
"""Every ``FrameError.reason`` this module raises, with what it means."""


HEADER_FIELDS: Final = ("QN", "ST", "CN", "PW", "MN", "Flag")
"""The usual fields of a data segment before ``CP``, in the order stations send them [V]."""

ValueField = Literal["Rtd", "Avg", "Min", "Max", "Cou"]


@dataclass(frozen=True, slots=True)
class Hj212Value:
    """One pollutant field of a data frame, e.g. ``w21003-Rtd=0.118`` with ``w21003-Flag=N``.

    Attributes
    ----------
    code : str
        Pollutant code as sent, e.g. ``"w21003"``.
    parameter : str or None
        Qingliu parameter key (``"nh3n"``), None when the code is not in the table.
    field : {'Rtd', 'Avg', 'Min', 'Max', 'Cou'}
        Which statistic: real-time, average, minimum, maximum or cumulative.
    value : float or None
        The number as sent, in the code's unit on the wire (``POLLUTANT_TABLE[code].unit``,
        e.g. μg/L for ``w20111``); :func:`canonical_value` converts it to the parameter's
        canonical unit. None when ``missing``.
    text : str
        The value exactly as sent (``"0.118"``, ``"-99"``).
    flag : str or None
        The pollutant's data flag (N F M S D C T B), None when the frame has none.
    sample_time : datetime or None
        When the sample was drawn (``-SampleTime``), Beijing time, zone-aware.
    missing : bool
        The value is a "no value" sentinel (at or below -99): never a concentration.
    """

    code: str
    parameter: str | None
    field: ValueField
    value: float | None
    text: str
    flag: str | None
    sample_time: dt.datetime | None
    missing: bool


@dataclass(frozen=True, slots=True)
class Hj212Frame:
    """One parsed frame (or the union of a split set, see :class:`PacketAssembler`).

    Attributes
    ----------
    qn : str or None
        Request id (yyyyMMddHHmmssSSS as sent); the answer echoes it. None when the logger
        omits it (HJ 212-2005 habit; the 9014 answer then carries none either).
    st, cn : str
        System code (21 surface water, 91 system interaction …) and command (2011 …).
    pw : str or None
        Password; None only in a 9014 answer that carries none.
    mn : str
        Station id (up to 24 characters).
    flag : int
        The ``Flag`` bit field (0 when absent): bit 0 answer requested, bit 1 split packet,
        higher bits the protocol version (2017: 4 and 5).
    pnum, pno : int or None
        Number of packets and this packet's number (1-based) of a split set; ``pno`` is None in
        a reassembled frame.
    data_time : datetime or None
        ``DataTime`` of a data command, Beijing time, zone-aware.
    values : tuple of Hj212Value
        Pollutant fields in the order sent (empty for other commands).
    fields : Mapping[str, str]
        Every ``key=value`` of the data segment before CP, in order.
    cp : str
        The command parameters between ``&&`` and ``&&``, verbatim.
    raw : bytes
        The frame as received (the packets back to back for a reassembled frame).
    """

    qn: str | None
    st: str
    cn: str
    pw: str | None
    mn: str
    flag: int
    pnum: int | None
    pno: int | None
    data_time: dt.datetime | None
    values: tuple[Hj212Value, ...]
    fields: Mapping[str, str] = field(repr=False)
    cp: str = field(repr=False)
    raw: bytes = field(repr=False)

    @property
    def response_requested(self) -> bool:
        """Flag bit 0: the station waits for a 9014 answer."""
        return bool(self.flag & 1)

    @property
    def split(self) -> bool:
        """Flag bit 1: this frame is one packet of a split set (PNUM, PNO)."""
        return bool(self.flag & 2)

    def __reduce__(self) -> tuple[Callable[..., Hj212Frame], tuple[object, ...]]:
        """Pickle ``fields`` as a dict (a mapping proxy cannot be pickled)."""
        return _unpickle_frame, tuple(
            dict(self.fields) if name == "fields" else getattr(self, name) for name in _FRAME_FIELDS
        )


# ---------------------------------------------------------------------------------------------
# Constructors generated from the field lists

_Record = TypeVar("_Record", bound="DataclassInstance")


def _slots_twin(frozen: type[DataclassInstance]) -> type[object]:
    """A plain class with the slots of ``frozen``, filled before ``__class__`` is switched."""
    return type(f"_{frozen.__name__}Slots", (), {"__slots__": vars(frozen)["__slots__"]})


def _generate(source: str, namespace: dict[str, object]) -> object:
    exec(source, namespace)  # generated from the dataclass fields only, no outside text
    return namespace["make"]


def _constructor(frozen: type[_Record]) -> Callable[..., _Record]:
    """``make(field_1, …, field_n)`` in the dataclass order, without ``object.__setattr__``."""
    names = [item.name for item in dataclasses.fields(frozen)]
    source = "\n".join(
        [f"def make({', '.join(names)}):", "    made = Slots()"]
        + [f"    made.{name} = {name}" for name in names]
        + ["    made.__class__ = Frozen", "    return made"]
    )
    made = _generate(source, {"Slots": _slots_twin(frozen), "Frozen": frozen})
    return cast(Callable[..., _Record], made)


def _bulk_constructor(
    frozen: type[_Record], constants: Mapping[str, bool | None]
) -> Callable[..., list[_Record]]:
    """``make(column_1, …)``: one record per row of the columns (iterables of equal length) of
    the fields not in ``constants``, in the dataclass order; ``constants`` fill the others."""
    names = [item.name for item in dataclasses.fields(frozen)]
    varying = [name for name in names if name not in constants]
    lines = [
        f"def make({', '.join(f'{name}_column' for name in varying)}):",
        "    out = []",
        "    append = out.append",
        "    _slots, _frozen = Slots, Frozen",
        f"    for {', '.join(varying)} in zip({', '.join(f'{n}_column' for n in varying)}):",
        "        made = _slots()",
    ]
    for name in names:
        value = name if name in varying else repr(constants[name])
        lines.append(f"        made.{name} = {value}")
    lines += ["        made.__class__ = _frozen", "        append(made)", "    return out"]
    made = _generate("\n".join(lines), {"Slots": _slots_twin(frozen), "Frozen": frozen})
    return cast(Callable[..., list[_Record]], made)


_FRAME_FIELDS: Final = tuple(item.name for item in dataclasses.fields(Hj212Frame))

_frame: Final = _constructor(Hj212Frame)
"""``_frame(qn, st, cn, pw, mn, flag, pnum, pno, data_time, values, fields, cp, raw)``."""

_value: Final = _constructor(Hj212Value)
"""``_value(code, parameter, field, value, text, flag, sample_time, missing)``."""

_values: Final = _bulk_constructor(Hj212Value, {"sample_time": None, "missing": False})
"""``_values(codes, parameters, fields, values, texts, flags)``: values without SampleTime."""


def _unpickle_frame(*attributes: object) -> Hj212Frame:
    index = _FRAME_FIELDS.index("fields")
    fields = cast(dict[str, str], attributes[index])
    return _frame(*attributes[:index], MappingProxyType(fields), *attributes[index + 1 :])


@lru_cache(maxsize=4096)
def _time(text: str) -> dt.datetime | None:
    """yyyyMMddHHmmss or yyyyMMddHHmmssSSS, Beijing time; None when not a valid time."""
    if len(text) not in (14, 17) or not (text.isascii() and text.isdigit()):
        return None
    try:
        return dt.datetime(
            int(text[0:4]), int(text[4:6]), int(text[6:8]), int(text[8:10]), int(text[10:12]),
            int(text[12:14]), int(text[14:17] or 0) * 1000, tzinfo=BEIJING,
        )  # fmt: skip
    except ValueError:
        return None


_VALUE_FIELD_SET: Final = frozenset(VALUE_FIELDS)
_FLAG_SET: Final = frozenset(DATA_FLAGS)
_MAX_MN: Final = 24
"""Longest MN (station id) [characters] [V]."""
_SMALL_FLAGS: Final = {str(number): number for number in range(16)}
