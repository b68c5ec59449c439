"""What one sender may cost the receiver: byte budgets, connections per address, back-off.

Pure bookkeeping with an injected clock (no sockets, no database), used by
:mod:`service.feeds.hj212.receiver`:

- :class:`TokenBucket` — a rate with a burst: the global budget of refused bytes archived raw,
  and the read rate of one connection;
- :class:`RefusedBytes` — one connection's bytes that are not frames: contiguous garbage is
  coalesced into chunks of at most ``chunk_bytes``; chunks and refused frames are archived raw
  while the connection's budget and the global one allow, then only counted, and the count
  with the first bytes becomes one summary row when the connection ends;
- :class:`AddressGuard` — open connections per address and in all, failures per address
  (unknown MN, wrong password, a connection closed for garbage) and the back-off of an address
  that keeps failing: its connections are refused for a while, longer each time.

Why: one unauthenticated client once turned 256 KiB of ``#`` into 262,146 archive rows
(issue 11). Each archived row is charged at least :data:`ROW_COST` bytes, so a trickle of
one-byte reads cannot multiply rows either.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

__all__ = [
    "HEAD_BYTES",
    "MAX_TRACKED_ADDRESSES",
    "ROW_COST",
    "AddressGuard",
    "Refusal",
    "RefusedBytes",
    "TokenBucket",
]

ROW_COST: Final = 512
"""Bytes an archived refusal row is charged at least (its row and index overhead) [A]."""

HEAD_BYTES: Final = 256
"""First bytes of the unarchived refusals kept in a connection's summary row [A]."""

MAX_TRACKED_ADDRESSES: Final = 65_536
"""Addresses whose failures are remembered at most (least recently seen forgotten first) [A]."""


class TokenBucket:
    """``rate`` units per second, at most ``burst`` saved up; ``rate`` ≤ 0 means no limit.

    Examples
    --------
    >>> now = [0.0]
    >>> bucket = TokenBucket(rate=10, burst=20, clock=lambda: now[0])
    >>> bucket.take(15), bucket.take(10)
    (True, False)
    >>> now[0] = 1.0
    >>> bucket.take(10)
    True
    """

    def __init__(
        self, *, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = max(burst, 0.0)
        self._clock = clock
        self._tokens = self.burst
        self._at = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now

    def take(self, amount: float) -> bool:
        """Take ``amount`` when that many are there (True), else take nothing (False)."""
        if self.rate <= 0:
            return True
        self._refill()
        if self._tokens >= amount:
            self._tokens -= amount
            return True
        return False

    def debt(self, amount: float) -> float:
        """Take ``amount`` whatever is there; seconds to wait until the bucket is not in debt."""
        if self.rate <= 0:
            return 0.0
        self._refill()
        self._tokens -= amount
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate


@dataclass(frozen=True, slots=True)
class Refusal:
    """Bytes to archive raw with status ``rejected`` and this reason."""

    payload: bytes
    reason: str


class RefusedBytes:
    """The bytes of one connection that are not accepted frames, and what of them is archived.

    Parameters
    ----------
    chunk_bytes : int
        Largest archived chunk of contiguous garbage [bytes].
    archive_bytes : int
        Refused bytes of this connection archived raw at most (each row charged at least
        :data:`ROW_COST`) [bytes].
    shared : TokenBucket
        The budget of all connections together.
    """

    def __init__(self, *, chunk_bytes: int, archive_bytes: int, shared: TokenBucket) -> None:
        self.chunk_bytes = max(chunk_bytes, 1)
        self.archive_bytes = archive_bytes
        self.shared = shared
        self.total = 0  # refused bytes seen
        self.archived = 0  # budget used (bytes archived, rows charged at ROW_COST at least)
        self.dropped = 0  # refused bytes not archived
        self.dropped_pieces = 0
        self._head = bytearray()
        self._run = bytearray()
        self._run_pieces = 0
        self._run_reasons: list[str] = []

    def garbage(self, payload: bytes, reason: str) -> list[Refusal]:
        """Add skipped bytes (a stream error); return the chunks completed, to archive."""
        self.total += len(payload)
        out: list[Refusal] = []
        self._run_pieces += 1
        if reason not in self._run_reasons:
            self._run_reasons.append(reason)
        view = memoryview(payload)
        while view:
            room = self.chunk_bytes - len(self._run)
            self._run += view[:room]
            view = view[room:]
            if len(self._run) >= self.chunk_bytes:
                out.extend(self.flush())
        return out

    def flush(self) -> list[Refusal]:
        """End the current run of garbage: its chunk, when it may be archived."""
        if not self._run:
            return []
        data = bytes(self._run)
        head = self._run_reasons[0] if self._run_reasons else "garbage"
        reasons = ", ".join(self._run_reasons) or "garbage"
        pieces = self._run_pieces
        self._run.clear()
        self._run_pieces = 0
        self._run_reasons = []
        reason = (
            f"{head}: {len(data)} byte(s) that are not a frame, in {pieces} piece(s) "
            f"({reasons}): {data[:24]!r}…"
        )
        return [Refusal(data, reason)] if self.admit(data) else []

    def frame(self, payload: bytes) -> bool:
        """A refused frame candidate: whether it may be archived (else it is counted)."""
        self.total += len(payload)
        return self.admit(payload)

    def admit(self, payload: bytes) -> bool:
        """Charge the budgets for archiving ``payload``; False (and counted) when over."""
        cost = max(len(payload), ROW_COST)
        if self.archived + cost <= self.archive_bytes and self.shared.take(cost):
            self.archived += cost
            return True
        self.dropped += len(payload)
        self.dropped_pieces += 1
        room = HEAD_BYTES - len(self._head)
        if room > 0:
            self._head += payload[:room]
        return False

    def summary(self) -> Refusal | None:
        """One row for everything not archived (counts and first bytes), or None."""
        if not self.dropped:
            return None
        head = bytes(self._head)
        reason = (
            f"garbage: 超出存档预算，仅存摘要 / over the archive budget, summary only: "
            f"{self.dropped} byte(s) in {self.dropped_pieces} piece(s) not archived of "
            f"{self.total} refused on this connection; the first {len(head)} kept"
        )
        self.dropped = self.dropped_pieces = 0
        self._head.clear()
        return Refusal(head, reason)


@dataclass
class _Address:
    open: int = 0
    failures: float = 0.0
    window_start: float = 0.0
    banned_until: float = 0.0
    bans: int = 0


class AddressGuard:
    """Connections per address and back-off of addresses that keep failing.

    Parameters
    ----------
    max_per_address, max_total : int
        Open connections allowed from one address, and in all (≤ 0: no limit).
    failure_limit : int
        Failures of one address within ``failure_window`` seconds that ban it (≤ 0: never).
    backoff, max_backoff : float
        Seconds a first ban lasts; each further ban (within ``max_backoff`` of the last one's
        end) lasts twice as long, up to ``max_backoff``.
    clock : callable
        Monotonic seconds.
    """

    def __init__(
        self,
        *,
        max_per_address: int,
        max_total: int,
        failure_limit: int,
        failure_window: float,
        backoff: float,
        max_backoff: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_per_address = max_per_address
        self.max_total = max_total
        self.failure_limit = failure_limit
        self.failure_window = failure_window
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._clock = clock
        self._open = 0
        self._addresses: OrderedDict[str, _Address] = OrderedDict()

    def _entry(self, host: str) -> _Address:
        entry = self._addresses.get(host)
        if entry is None:
            entry = self._addresses[host] = _Address(window_start=self._clock())
            while len(self._addresses) > MAX_TRACKED_ADDRESSES:
                oldest = next(iter(self._addresses))
                if self._addresses[oldest].open:
                    self._addresses.move_to_end(oldest)
                    break
                del self._addresses[oldest]
        else:
            self._addresses.move_to_end(host)
        return entry

    def admit(self, host: str) -> str:
        """Open a connection from ``host``: ``""``, or why it is refused."""
        entry = self._entry(host)
        remaining = entry.banned_until - self._clock()
        if remaining > 0:
            return f"backed off for {remaining:.0f} s after repeated failures"
        if 0 < self.max_total <= self._open:
            return f"{self._open} connections open, at most {self.max_total}"
        if 0 < self.max_per_address <= entry.open:
            return f"{entry.open} connections open from this address, at most " \
                   f"{self.max_per_address}"  # fmt: skip
        entry.open += 1
        self._open += 1
        return ""

    def release(self, host: str) -> None:
        """A connection admitted by :meth:`admit` has ended."""
        entry = self._addresses.get(host)
        if entry is not None and entry.open > 0:
            entry.open -= 1
            self._open -= 1

    def fail(self, host: str, weight: float = 1.0) -> bool:
        """Count a failure of ``host``; True when the address is (now) backed off."""
        if self.failure_limit <= 0:
            return False
        entry = self._entry(host)
        now = self._clock()
        if entry.banned_until > now:
            return True
        if now - entry.window_start > self.failure_window:
            entry.window_start, entry.failures = now, 0.0
        entry.failures += weight
        if entry.failures < self.failure_limit:
            return False
        if now - entry.banned_until > self.max_backoff:
            entry.bans = 0
        entry.banned_until = now + min(self.backoff * 2**entry.bans, self.max_backoff)
        entry.bans = min(entry.bans + 1, 30)
        entry.failures, entry.window_start = 0.0, now
        return True

    def banned(self, host: str) -> bool:
        """Whether ``host`` is backed off now."""
        entry = self._addresses.get(host)
        return entry is not None and entry.banned_until > self._clock()
