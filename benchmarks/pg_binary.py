"""PostgreSQL's binary COPY format, written by NumPy: rows of fixed-width fields as one array.

Every row of a block has the same layout (each field the same number of bytes in every row), so a
block is a ``(rows, record)`` array of bytes: a template (field count, lengths, constant fields)
broadcast to every row, then the per-row fields written into their columns. No Python loop runs
over rows. See the PostgreSQL manual, COPY, "Binary Format".
"""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = [
    "HEADER", "TRAILER", "Field", "encode_block", "fixed_text", "float8", "timestamptz",
    "timestamptz_constant",
]  # fmt: skip

HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
"""Signature, flags (no OIDs), header-extension length."""
TRAILER = struct.pack(">h", -1)
_PG_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)

Field = bytes | npt.NDArray[np.uint8]
"""A field of a block: the same bytes in every row, or a ``(rows, width)`` array of bytes."""


def timestamptz(instants: npt.NDArray[np.datetime64]) -> npt.NDArray[np.uint8]:
    """``timestamptz`` fields: microseconds since 2000-01-01 UTC, big-endian int64 → (n, 8)."""
    micros = instants.astype("datetime64[us]").astype(np.int64) - _micros(_PG_EPOCH)
    return np.ascontiguousarray(micros.astype(">i8")).view(np.uint8).reshape(-1, 8)


def float8(values: npt.NDArray[np.float64]) -> npt.NDArray[np.uint8]:
    """``double precision`` fields: big-endian IEEE 754 → (n, 8)."""
    return np.ascontiguousarray(values.astype(">f8")).view(np.uint8).reshape(-1, 8)


def fixed_text(texts: Sequence[str], repeat: int = 1) -> npt.NDArray[np.uint8]:
    """Text fields of equal UTF-8 length, each repeated ``repeat`` times → (n × repeat, width)."""
    encoded = [t.encode() for t in texts]
    width = len(encoded[0])
    if any(len(e) != width for e in encoded):
        raise ValueError("fixed_text needs texts of one UTF-8 length")
    block = np.frombuffer(b"".join(encoded), dtype=np.uint8).reshape(len(encoded), width)
    return np.repeat(block, repeat, axis=0) if repeat > 1 else block


def timestamptz_constant(moment: dt.datetime) -> bytes:
    """One ``timestamptz`` field's bytes."""
    return struct.pack(">q", _micros(moment) - _micros(_PG_EPOCH))


def _micros(moment: dt.datetime) -> int:
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


def encode_block(fields: Sequence[Field], rows: int) -> bytes:
    """``rows`` binary COPY tuples of ``fields`` (in the COPY's column order), no NULLs."""
    widths = [len(f) if isinstance(f, bytes) else int(f.shape[1]) for f in fields]
    record = 2 + sum(4 + w for w in widths)
    block = np.empty((rows, record), dtype=np.uint8)
    template = bytearray(struct.pack(">h", len(fields)))
    for field, width in zip(fields, widths, strict=True):
        template += struct.pack(">i", width)
        template += field if isinstance(field, bytes) else bytes(width)
    block[:] = np.frombuffer(bytes(template), dtype=np.uint8)
    offset = 2
    for field, width in zip(fields, widths, strict=True):
        offset += 4
        if not isinstance(field, bytes):
            if field.shape[0] != rows:
                raise ValueError(f"a field has {field.shape[0]} rows, the block {rows}")
            block[:, offset : offset + width] = field
        offset += width
    return block.tobytes()
