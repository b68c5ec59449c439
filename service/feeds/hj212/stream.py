"""The byte stream of a connection: candidate frames, and the packets of split messages.

:class:`FrameSplitter` cuts what one TCP connection sends into candidate frames (and reports the
bytes it has to skip); :class:`PacketAssembler` joins the packets of a split message (Flag bit 1,
PNUM, PNO) and gives up a set whose packets do not all arrive in time. Pure: no sockets, and no
clock of its own (the assembler takes one).

References
----------
.. [1] HJ 212-2017: frame layout, Flag, PNUM and PNO [V]; feeds.md §1.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from service.errors import FrameError
from service.feeds.hj212.crc import _crc_matches
from service.feeds.hj212.frame import MAX_FRAME_BYTES, Hj212Frame, _frame

__all__ = ["MAX_PENDING_SETS", "PACKET_TIMEOUT", "FrameSplitter", "PacketAssembler", "StreamError"]

PACKET_TIMEOUT: Final = 60.0
"""Seconds after its first packet an incomplete split set is given up [A]."""

MAX_PENDING_SETS: Final = 1000
"""Incomplete split sets one :class:`PacketAssembler` keeps at most (oldest given up first) [A]."""


class StreamError(FrameError):
    """Bytes of a stream that are not a frame, with the bytes skipped (for the raw archive).

    ``reason`` is ``garbage``, ``bad_length`` or ``too_long``; ``payload`` holds the bytes the
    splitter dropped to resynchronise (more may be appended while a run of garbage goes on).
    """

    def __init__(self, reason: str, message: str, payload: bytes = b"") -> None:
        super().__init__(reason, message)
        self.payload = payload


class FrameSplitter:
    """Cut the byte stream of one TCP connection into candidate frames.

    Parameters
    ----------
    max_frame_bytes : int, optional
        Largest frame accepted, header to CRLF [bytes]; default :data:`MAX_FRAME_BYTES` (1036).
        The buffer never holds more than this between calls.

    Notes
    -----
    A candidate is ``##`` + 4 digits n + n bytes + 4 bytes + CRLF, where the first CRLF after the
    header is the one the length announces. Anything else is reported as a :class:`StreamError`
    in the output and skipped up to the next ``##`` (resynchronisation):

    - ``garbage``: bytes before a ``##`` (a run that goes on over several reads is reported
      again in each, its message saying "continued");
    - ``bad_length``: the length is not 4 digits, or a CRLF comes before the announced end, or the
      announced end is not a CRLF;
    - ``too_long``: the announced frame is larger than ``max_frame_bytes``.

    A candidate that contains another ``##`` inside is kept only when its CRC checks, so a stray
    ``##dddd`` in garbage cannot swallow the valid frame that follows. Candidates are not parsed:
    :func:`~service.feeds.hj212.parse.parse_frame` gives the precise reason (CRC, fields …) for
    each. Every error carries the bytes it skipped as ``payload`` (for the raw archive);
    :meth:`take_pending` hands over what is left when the connection closes.
    """

    def __init__(self, *, max_frame_bytes: int = MAX_FRAME_BYTES) -> None:
        if max_frame_bytes < 12:
            raise ValueError(f"max_frame_bytes must be at least 12, not {max_frame_bytes}")
        self.max_frame_bytes = max_frame_bytes
        self._buffer = bytearray()
        self._in_garbage = False

    @property
    def pending(self) -> int:
        """Bytes buffered for a frame that has not ended yet."""
        return len(self._buffer)

    def take_pending(self) -> bytes:
        """Return and forget the buffered bytes (a connection closed inside a frame)."""
        data = bytes(self._buffer)
        self._buffer.clear()
        self._in_garbage = False
        return data

    def feed(self, data: bytes) -> list[bytes | StreamError]:
        """Add the bytes of one read; return the frames completed and the errors met, in order.

        Never raises: bad input is reported in the returned list.
        """
        out: list[bytes | StreamError] = []
        buffer = self._buffer
        buffer += data
        while buffer:
            start = buffer.find(b"##")
            if start != 0:
                # without a "##", keep a trailing '#' that may begin the next header
                drop = start if start > 0 else len(buffer) - (buffer[-1] == 0x23)
                if drop:
                    dropped = bytes(buffer[:drop])
                    if self._in_garbage and out and isinstance(out[-1], StreamError):
                        out[-1].payload += dropped
                    else:
                        note = "continued" if self._in_garbage else "skipped"
                        message = f"{drop} byte(s) {note}: {dropped[:24]!r}…"
                        out.append(StreamError("garbage", message, dropped))
                    del buffer[:drop]
                self._in_garbage = start < 0
                if start < 0:
                    break
                continue
            self._in_garbage = False
            size = len(buffer)
            head = bytes(buffer[2:6])
            if size < 6 and (size == 2 or head.isdigit()):
                break  # the header is still arriving
            if not head.isdigit():
                self._resync(out, "bad_length", f"length after ## is not 4 digits: {head!r}")
                continue
            total = int(head) + 12
            if total > self.max_frame_bytes:
                self._resync(
                    out, "too_long", f"frame of {total} bytes announced, at most "
                    f"{self.max_frame_bytes}",
                )  # fmt: skip
                continue
            crlf = buffer.find(b"\r\n", 6, total)
            if crlf != -1 and crlf != total - 2:
                self._resync(
                    out, "bad_length", f"the header announces {total - 12} data bytes, the frame "
                    f"ends after {crlf - 10}",
                )  # fmt: skip
                continue
            if size < total:
                break  # the frame is still arriving
            if crlf == -1:
                self._resync(out, "bad_length", f"no CRLF where the length {head!r} says")
                continue
            candidate = bytes(buffer[:total])
            if candidate.find(b"##", 6) != -1 and not _crc_matches(candidate):
                self._resync(out, "bad_length", "a ## inside a frame whose CRC fails")
                continue
            out.append(candidate)
            del buffer[:total]
        return out

    def _resync(self, out: list[bytes | StreamError], reason: str, message: str) -> None:
        """Report a bad header and drop bytes up to the next ``##`` after it."""
        error = StreamError(reason, message)
        out.append(error)
        buffer = self._buffer
        following = buffer.find(b"##", 1)
        if following == 1:  # in a run of '#', only the run's last "##" can begin a header
            run = len(buffer) - len(buffer.lstrip(b"#"))
            following = max(1, run - 2)
        if following < 0:
            keep = 1 if buffer[-1] == 0x23 and len(buffer) > 1 else 0
            error.payload = bytes(buffer[: len(buffer) - keep])
            del buffer[: len(buffer) - keep]
            self._in_garbage = True
        else:
            error.payload = bytes(buffer[:following])
            del buffer[:following]


@dataclass
class _PacketSet:
    started: float
    pnum: int
    packets: dict[int, Hj212Frame]


class PacketAssembler:
    """Join the packets of split frames (Flag bit 1, PNUM, PNO; same MN, CN and QN).

    Parameters
    ----------
    timeout : float, optional
        Seconds after its first packet an incomplete set is given up [A]; default
        :data:`PACKET_TIMEOUT`.
    clock : callable, optional
        Monotonic seconds; ``time.monotonic`` unless a test injects another.
    max_sets : int, optional
        Incomplete sets kept at most; beyond, the oldest is given up (reported by
        :meth:`expired`) [A].
    """

    def __init__(
        self,
        timeout: float = PACKET_TIMEOUT,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_sets: int = MAX_PENDING_SETS,
    ) -> None:
        if timeout <= 0 or max_sets < 1:
            raise ValueError("timeout must be positive and max_sets at least 1")
        self.timeout = timeout
        self._clock = clock
        self._max_sets = max_sets
        self._sets: dict[tuple[str, str, str | None], _PacketSet] = {}
        self._given_up: list[list[Hj212Frame]] = []

    @property
    def pending(self) -> int:
        """Number of incomplete sets held."""
        return len(self._sets)

    def add(self, frame: Hj212Frame) -> Hj212Frame | None:
        """Add one parsed frame; return the whole frame when its set is complete, else None.

        A frame that is not split (or is the only packet, PNUM=1) comes straight back. The
        combined frame has the values of all packets in PNO order, the fields, times and flag of
        packet 1, ``pno`` None, ``cp`` the packets' CPs joined by ``;`` and ``raw`` the packets
        back to back. A packet repeated (same PNO) replaces the earlier copy.

        Raises
        ------
        FrameError
            ``bad_packet`` when the packet's PNUM differs from its set's.
        """
        if not frame.split or frame.pnum is None or frame.pno is None or frame.pnum == 1:
            return frame
        key = (frame.mn, frame.cn, frame.qn)
        entry = self._sets.get(key)
        if entry is None:
            entry = self._sets[key] = _PacketSet(self._clock(), frame.pnum, {})
            if len(self._sets) > self._max_sets:
                oldest = next(iter(self._sets))
                self._given_up.append(_in_order(self._sets.pop(oldest)))
        elif entry.pnum != frame.pnum:
            raise FrameError(
                "bad_packet", f"QN {frame.qn}: PNUM={frame.pnum}, earlier packets had {entry.pnum}"
            )
        entry.packets[frame.pno] = frame
        if len(entry.packets) < entry.pnum:
            return None
        del self._sets[key]
        return _combine(_in_order(entry))

    def give_up(self) -> list[list[Hj212Frame]]:
        """Remove and return every incomplete set, whatever its age (the stream has ended)."""
        out, self._given_up = self._given_up, []
        out.extend(_in_order(entry) for entry in self._sets.values())
        self._sets.clear()
        return out

    def expired(self) -> list[list[Hj212Frame]]:
        """Remove and return the incomplete sets older than the timeout (packets by PNO)."""
        now = self._clock()
        out, self._given_up = self._given_up, []
        for key, entry in list(self._sets.items()):
            if now - entry.started >= self.timeout:
                out.append(_in_order(self._sets.pop(key)))
        return out


def _in_order(entry: _PacketSet) -> list[Hj212Frame]:
    return [entry.packets[number] for number in sorted(entry.packets)]


def _combine(packets: list[Hj212Frame]) -> Hj212Frame:
    first = packets[0]
    return _frame(qn=first.qn, st=first.st, cn=first.cn, pw=first.pw, mn=first.mn,
                  flag=first.flag, pnum=first.pnum, pno=None, data_time=first.data_time,
                  values=tuple(value for packet in packets for value in packet.values),
                  fields=first.fields, cp=";".join(packet.cp for packet in packets),
                  raw=b"".join(packet.raw for packet in packets))  # fmt: skip
