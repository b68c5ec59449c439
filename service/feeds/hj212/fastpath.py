"""The fast path: the usual data frame read with whole-string operations.

Almost every frame a station sends has the same shape: ``k=v`` header fields, then
``CP=&&DataTime=t`` and pollutant groups that all list the same value fields followed by
``-Flag``. Its separators (``; , - =``, everything else deleted) are then one of a few byte
strings, looked up in a dictionary; the text is cut into tokens by one ``split``, and the checks
run on whole lists. Anything else, including every error, is left to the general parser
(:func:`service.feeds.hj212.parse._parse_general`), which returns the same frame for every frame
this path accepts (the tests check it on random frames). Records are made by the constructors
that :mod:`service.feeds.hj212.frame` generates from the dataclass fields.
"""

from __future__ import annotations

import math
from types import MappingProxyType
from typing import Final

from service.feeds.hj212.codes import _PARAMETER_OF_CODE, POLLUTANT_CODES
from service.feeds.hj212.frame import (
    _FLAG_SET,
    _MAX_MN,
    _SMALL_FLAGS,
    _VALUE_FIELD_SET,
    DATA_COMMANDS,
    HEADER_FIELDS,
    Hj212Frame,
    _frame,
    _time,
    _values,
)

__all__ = ["parse_usual"]

_SEPARATORS_ONLY: Final = bytes(byte for byte in range(256) if byte not in b";,-=")
_NUMBER_BYTES: Final = b"0123456789.+eE"
_INFINITY: Final = math.inf
_KNOWN_CODES: Final = frozenset(POLLUTANT_CODES)
_UNSEEN: Final = (-1, -1, -1)
_USUAL_KEYS: Final = list(HEADER_FIELDS)
_SEPARATORS_TO_EQUALS: Final = bytes.maketrans(b";,-", b"===")
_usual_layouts: dict[bytes, tuple[int, int, int] | None] = {}
"""Separators of a data segment → its usual layout (see :func:`_usual_layout`), None if unusual."""


def parse_usual(text: str, data: bytes, raw: bytes, sentinel_max: float) -> Hj212Frame | None:
    """The frame when its data segment has the usual shape and passes every check, else None.

    ``raw`` is the whole frame, its length and CRC already checked; ``data`` its data segment
    and ``text`` that segment decoded.
    """
    separators = data.translate(None, _SEPARATORS_ONLY)
    layout = _usual_layouts.get(separators, _UNSEEN)
    if layout is _UNSEEN:
        layout = _usual_layout(separators)
    if layout is None:
        return None
    return _parse_usual(text, data, raw, layout, sentinel_max)


def _usual_layout(separators: bytes) -> tuple[int, int, int] | None:
    """(h, m, k) when the separators read ``=;`` × h, ``==`` (``CP=&&DataTime=``), then k groups
    ``;-=,…-=`` of m items; None otherwise. Remembered for the next frame (up to 1024 shapes)."""
    layout = None
    cut = separators.find(b"==")
    rest = separators[cut + 2 :]
    groups = rest.count(b";")
    if cut > 0 and groups and separators[:cut] == b"=;" * (cut // 2) and not cut % 2:
        per_group = rest.count(b"-") // groups
        if per_group >= 2 and rest == (b";" + b"-=," * (per_group - 1) + b"-=") * groups:
            layout = (cut // 2, per_group, groups)
    if len(_usual_layouts) < 1024:
        _usual_layouts[separators] = layout
    return layout


def _parse_usual(
    text: str, data: bytes, raw: bytes, layout: tuple[int, int, int], sentinel_max: float
) -> Hj212Frame | None:
    """The frame when it has the usual shape and passes every check, else None."""
    header_fields, per_group, groups = layout
    if not text.endswith("&&"):
        return None
    tokens = data.translate(_SEPARATORS_TO_EQUALS).decode().split("=")
    stride = 3 * per_group
    at = 2 * header_fields
    if tokens[at] != "CP" or tokens[at + 1] != "&&DataTime":
        return None
    keys, entries = tokens[0:at:2], tokens[1:at:2]
    qn: str | None
    st: str | None
    cn: str | None
    pw: str | None
    mn: str | None
    flag_text: str | None
    if keys == _USUAL_KEYS:
        qn, st, cn, pw, mn, flag_text = entries
        fields = dict(zip(HEADER_FIELDS, entries, strict=False))  # both of length 6
    else:
        fields = dict(zip(keys, entries, strict=True))
        if (
            len(fields) != header_fields
            or "" in fields
            or "CP" in fields
            or "PNUM" in fields
            or "PNO" in fields
        ):
            return None
        get = fields.get
        qn, st, cn, pw, mn = get("QN"), get("ST"), get("CN"), get("PW"), get("MN")
        flag_text = get("Flag")
    if not (qn and st and cn in DATA_COMMANDS and pw and mn and len(mn) <= _MAX_MN):
        return None
    flag = 0 if flag_text is None else _SMALL_FLAGS.get(flag_text, 2)
    if flag & 2:  # split packets and unusual flags take the general path
        return None
    data_time = _time(tokens[at + 2])
    if data_time is None:
        return None
    tokens[-1] = tokens[-1][:-2]  # the last flag, before the closing "&&"
    start = at + 3
    group_codes = tokens[start::stride]
    flags = tokens[start + stride - 1 :: stride]
    if not _FLAG_SET.issuperset(flags):
        return None
    # per group and item j: code, name, text at 3j, 3j + 1, 3j + 2; the flag item last
    if tokens[start + stride - 2 :: stride].count("Flag") != groups:
        return None
    kinds: list[str] = []
    columns = []
    for offset in range(0, stride - 3, 3):
        if tokens[start + offset + 3 :: stride] != group_codes:
            return None
        names = tokens[start + offset + 1 :: stride]
        kind = names[0]
        if kind not in _VALUE_FIELD_SET or kind in kinds or names.count(kind) != groups:
            return None
        kinds.append(kind)
        columns.append(tokens[start + offset + 2 :: stride])
    code_set = set(group_codes)
    if len(code_set) != groups or "" in code_set:
        return None
    if not code_set <= _KNOWN_CODES and not all(code.islower() for code in code_set - _KNOWN_CODES):
        return None  # an upper-case code may still be known: the general path looks it up
    parameters = list(map(_PARAMETER_OF_CODE.get, group_codes))
    if per_group == 2:
        value_texts = columns[0]
        value_codes, value_parameters, value_flags = group_codes, parameters, flags
    else:
        value_texts = [item for row in zip(*columns, strict=True) for item in row]
        value_codes = [code for code in group_codes for _ in kinds]
        value_parameters = [parameter for parameter in parameters for _ in kinds]
        value_flags = [flag for flag in flags for _ in kinds]
    joined = "".join(value_texts)
    if joined.encode().translate(None, _NUMBER_BYTES):
        return None
    try:
        numbers = list(map(float, value_texts))
    except ValueError:
        return None
    if min(numbers) <= sentinel_max or (
        ("e" in joined or "E" in joined) and max(numbers) == _INFINITY
    ):
        return None
    values = _values(
        value_codes, value_parameters, kinds * groups, numbers, value_texts, value_flags
    )
    cp = text[text.find(";CP=&&") + 6 : -2]
    return _frame(
        qn, st, cn, pw, mn, flag, None, None, data_time, tuple(values), MappingProxyType(fields),
        cp, raw,
    )  # fmt: skip
