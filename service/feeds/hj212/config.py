"""The HJ 212 receiver's settings and counters, and its listen address.

Hardening against abuse (every limit is a :class:`ReceiverConfig` field, defaults [A]):

- **Bytes that are not frames** are archived per connection as bounded chunks: contiguous garbage
  is coalesced into one ``rejected`` row of at most ``garbage_chunk_bytes``; garbage rows and
  refused frame candidates (bad CRC …) are archived while the connection's budget
  (``garbage_archive_bytes``) and the global one (``garbage_global_rate`` per second, burst
  ``garbage_global_burst``) allow, each row charged at least
  :data:`~service.feeds.hj212.guard.ROW_COST` bytes; beyond, they are counted, and one summary
  row (counts and the first bytes) is archived when the connection ends. A connection that has
  sent more than ``max_garbage_bytes`` of refused bytes is closed and its address backed off.
  Frames that parse (whatever their verdict) are always archived.
- **Rates and connections**: a connection is read at ``read_rate`` bytes per second on average
  (burst ``read_burst``); at most ``max_connections_per_address`` connections per address and
  ``max_connections`` in all; more are closed at once, without archive rows.
- **Failing senders**: an unknown MN or a wrong password is a failure of the sender's address;
  ``failure_limit`` failures within ``failure_window`` seconds back the address off: the
  connection is closed and new ones refused for ``backoff`` seconds, doubling on each new
  back-off up to ``max_backoff``. Password checks are memoised and run off the event loop
  (:mod:`~service.feeds.hj212.credentials`).
- **Frame times**: a data frame whose DataTime or a SampleTime lies more than
  ``future_tolerance`` seconds after the receiver's clock (reason ``future_time``) or before
  ``earliest_time`` (default 2000-01-01 Beijing time, reason ``bad_time``) is refused, archived
  ``rejected`` with the reason, not stored and not answered. A fixed floor rather than the
  station's ``created_at``: a station registered today may upload its logger's backlog.
- **Plausibility at the door**: a value outside the physical range of its parameter
  (:func:`sections.plausibility.plausibility_reason`), or not finite, is not stored: the frame's
  other values are, the frame is archived ``partial`` with the reason naming the parameter
  (``implausible: nh3n = 5000 …``) and answered. The refused value lives only in the raw
  archive, so it can never enter a class or a bill; a reviewer finds it by the reason.
- **One bad frame never fails another's batch**: values are checked before a frame joins a
  batch; when a batch still fails to store, its frames are stored one by one, and a frame that
  still fails is archived ``rejected`` with reason ``storage_failed: …`` and not answered.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from service.db.ingest import UpsertCounts
from service.feeds.hj212.checks import EARLIEST_TIME

__all__ = ["ReceiverConfig", "ReceiverStats", "parse_listen"]


@dataclass(frozen=True)
class ReceiverConfig:
    """Receiver settings (all have safe defaults; the abuse limits are assumptions [A]).

    A rate or limit ≤ 0 means "no limit" (``failure_limit`` ≤ 0: never back off).
    """

    host: str = "0.0.0.0"
    port: int = 9212
    idle_timeout: float = 600.0  # seconds without a byte before a connection is closed
    max_frame_bytes: int = 1024 + 12
    batch_size: int = 2_000  # frames stored in one transaction at most
    flush_interval: float = 0.02  # seconds the writer waits to fill a batch
    packet_timeout: float = 120.0  # seconds to wait for the rest of a split message
    max_connections: int = 1024  # connections open at once, in all
    max_connections_per_address: int = 64  # connections open at once from one address
    read_rate: float = 262_144.0  # bytes per second one connection is read at, on average
    read_burst: float = 1_048_576.0  # bytes one connection may send at once above that rate
    garbage_chunk_bytes: int = 4_096  # largest raw row of contiguous garbage
    garbage_archive_bytes: int = 16_384  # refused bytes archived raw per connection, at most
    garbage_global_rate: float = 16_384.0  # refused bytes archived per second, all connections
    garbage_global_burst: float = 262_144.0  # … saved up at most
    max_garbage_bytes: int = 65_536  # refused bytes after which a connection is closed
    failure_limit: int = 20  # failures (unknown MN, wrong PW) of one address that back it off
    failure_window: float = 60.0  # seconds over which failures are counted
    backoff: float = 30.0  # seconds a first back-off lasts (doubling up to max_backoff)
    max_backoff: float = 900.0  # longest back-off
    future_tolerance: float = 3_600.0  # seconds a frame time may lie ahead of the clock
    earliest_time: dt.datetime = EARLIEST_TIME  # frame times before this are refused


@dataclass
class ReceiverStats:
    """Counters since the receiver started."""

    connections: int = 0
    frames: int = 0
    accepted: int = 0
    refused: int = 0
    unknown_station: int = 0
    bad_password: int = 0  # frames of a registered MN with a wrong password
    answered: int = 0
    expired: int = 0  # split messages given up (their packets did not all arrive in time)
    unknown_code_values: int = 0  # values of codes outside pollutant_codes.csv, kept for review
    unknown_codes: dict[str, int] = field(default_factory=dict)  # code → values received
    observations: UpsertCounts = field(default_factory=UpsertCounts)
    connections_refused: int = 0  # over a connection limit, or from a backed-off address
    backoffs: int = 0  # addresses backed off (a connection closed for failures or garbage)
    garbage_bytes: int = 0  # bytes that were not frames, or refused frame candidates
    garbage_unarchived: int = 0  # of which only counted (over a budget), in summary rows
    bad_time: int = 0  # data frames refused for their time (bad_time, future_time)
    implausible_values: int = 0  # values outside their physical range, not stored
    storage_failures: int = 0  # frames whose storage failed alone (archived, not answered)


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` → (host, port); ``ValueError`` with a clear message otherwise."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"监听地址必须是 HOST:PORT / listen address must be HOST:PORT: {text!r}")
    return host.strip("[]"), int(port)
