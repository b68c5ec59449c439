"""The HJ 212 CRC: the definition's 256-entry table, and a folded form that is 5× faster.

References
----------
.. [1] HJ 212-2017 appendix A: the CRC of the data segment [V]; feeds.md §1.
"""

from __future__ import annotations

from typing import Final

from service.feeds.hj212.frame import MAX_FRAME_BYTES

__all__ = ["crc16"]

_HEX_DIGITS: Final = b"0123456789ABCDEFabcdef"


def _crc_byte_table() -> tuple[int, ...]:
    """T[x]: eight rounds of the 0xA001 shift loop applied to the byte x (feeds.md §1)."""
    table = []
    for index in range(256):
        crc = index
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC_TABLE: Final = _crc_byte_table()


def _crc_class_tables() -> tuple[tuple[bytes, ...], tuple[int, ...]]:
    """S^r as byte tables (r = 0…7) with S(x) = T[x] >> 8, and S^k(0xFF) for k = 0…7."""
    step = bytes(value >> 8 for value in _CRC_TABLE)
    powers = [bytes(range(256))]
    for _ in range(7):
        powers.append(bytes(step[x] for x in powers[-1]))
    if bytes(step[x] for x in powers[-1]) != powers[0]:  # pragma: no cover - arithmetic fact
        raise AssertionError("S^8 is not the identity: the folded CRC would be wrong")
    starts = [0xFF]
    for _ in range(7):
        starts.append(step[starts[-1]])
    return tuple(powers), tuple(starts)


def _crc_pair_tables(powers: tuple[bytes, ...]) -> tuple[bytes, ...]:
    """Q_j[hi·256 + lo] = S^(2j+1)(hi) ^ S^(2j)(lo): two byte classes per lookup (4 × 64 KiB)."""
    xor_with = [bytes(byte ^ constant for byte in range(256)) for constant in range(256)]
    return tuple(
        b"".join(powers[2 * j].translate(xor_with[powers[2 * j + 1][hi]]) for hi in range(256))
        for j in range(4)
    )


def _crc_fold_steps(words: int) -> tuple[tuple[int, int], ...]:
    """(shift, mask) pairs that XOR-fold an integer of ``words`` 64-bit words into one word."""
    steps = []
    while words > 1:
        half = words >> 1
        steps.append((half << 6, (1 << (half << 6)) - 1))
        words -= half
    return tuple(steps)


_CRC_POWERS, _CRC_STARTS = _crc_class_tables()
_Q0, _Q1, _Q2, _Q3 = _crc_pair_tables(_CRC_POWERS)
_FOLDS: Final = tuple(_crc_fold_steps(words) for words in range((MAX_FRAME_BYTES + 7) // 8 + 1))


def crc16(data: bytes) -> int:
    """The HJ 212 CRC of ``data`` (a frame's data segment).

    Parameters
    ----------
    data : bytes
        The bytes to check, usually the data segment between the length and the CRC.

    Returns
    -------
    int
        The 16-bit CRC; a frame prints it as 4 upper-case hex digits.

    Notes
    -----
    The definition (HJ 212-2017 appendix A, feeds.md §1): ``crc = 0xFFFF``; for each byte b,
    ``crc = (crc >> 8) ^ b`` and then 8 times ``crc = (crc >> 1) ^ 0xA001`` if the low bit is set,
    else ``crc >>= 1``. It is not CRC-16/MODBUS. Since ``(crc >> 8) ^ b`` is below 256, one byte is
    one lookup ``crc = T[(crc >> 8) ^ b]`` in the 256-entry table T of the shift loop, built once
    at import.

    This function goes one step further with the same table. Write ``y_i = (crc_{i-1} >> 8) ^ b_i``
    (so ``crc_i = T[y_i]``) and ``S(x) = T[x] >> 8``, a linear map of bytes over GF(2). Then
    ``y_i = S(y_{i-1}) ^ b_i`` and ``S`` has order 8 (``S^8`` is the identity, checked at import),
    so with n bytes::

        y_n = S^((n-1) mod 8)(0xFF) ^ XOR_r S^r(X_r),     crc = T[y_n]

    where ``X_r`` is the XOR of the bytes whose distance from the last byte is ``r`` modulo 8:
    byte r of the XOR of the data's 8-byte words aligned at its end, computed with a few
    big-integer folds; the ``S^r`` are applied two bytes at a time through four 64 KiB tables
    derived from T. On a 375-byte data segment that is about 5× faster than the table loop and
    100× the per-byte shift loop in CPython, and equal to them for every input (the tests check
    it against the per-byte definition). It also shows the code's weakness: any change that
    keeps those eight XORs, such as swapping two bytes 8 positions apart, is not detected.

    Examples
    --------
    The standard's appendix A example:

    >>> crc16(b"QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;"
    ...       b"Flag=5;CP=&&RtdInterval=30&&") == 0x1C80
    True
    """
    size = len(data)
    if not size:
        return 0xFFFF
    x = int.from_bytes(data, "big")
    for shift, mask in _FOLDS[(size + 7) >> 3] if size <= MAX_FRAME_BYTES else _long_folds(size):
        x = (x >> shift) ^ (x & mask)
    return _CRC_TABLE[
        _CRC_STARTS[(size - 1) & 7]
        ^ _Q0[x & 0xFFFF]
        ^ _Q1[(x >> 16) & 0xFFFF]
        ^ _Q2[(x >> 32) & 0xFFFF]
        ^ _Q3[x >> 48]
    ]


def _long_folds(size: int) -> tuple[tuple[int, int], ...]:
    return _crc_fold_steps((size + 7) >> 3)


def _crc16_table(data: bytes) -> int:
    """The plain table-driven loop of feeds.md §1 (reference for tests and benchmarks)."""
    crc = 0xFFFF
    table = _CRC_TABLE
    for byte in data:
        crc = table[(crc >> 8) ^ byte]
    return crc


def _crc_matches(frame: bytes) -> bool:
    """Whether a whole frame's 4 CRC digits are hex and match its data segment."""
    crc_text = frame[-6:-2]
    if crc_text.translate(None, _HEX_DIGITS):
        return False
    return crc16(frame[6:-6]) == int(crc_text, 16)
