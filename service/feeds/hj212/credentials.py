"""Station credentials for the receiver: read fresh, verified once, never kept in plaintext.

A frame is accepted only when its MN is an active station and its PW matches the station's
stored PBKDF2 hash *as it is now*: the receiver reads the rows of the stations in each read of a
connection (one indexed query), so a password changed with ``qingliu stations add`` takes effect
for the next frame, and a deactivated station is refused at once.

PBKDF2 is slow on purpose (about 10 ms per check), too slow for every frame. The verdict of a
check is memoised under the stored hash and an HMAC of the password with a key drawn at random
when the receiver starts and held only in memory: a new stored hash (a changed password has a
new salt) finds no memo and is checked again, and neither the memo nor the process keeps a
password. Wrong passwords are memoised too, so a station retrying a bad one costs one check.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Final

from sqlalchemy import Engine

from service.db.ingest import StationRecord, load_stations, verify_password

__all__ = ["MEMO_SIZE", "StationCredentials"]

MEMO_SIZE: Final = 4096
"""Verdicts remembered at most (least recently used dropped first) [A]."""


class StationCredentials:
    """The active stations of a database and a memo of password checks.

    Parameters
    ----------
    engine : sqlalchemy.Engine
        The database holding the ``station`` table.
    memo_size : int, optional
        Verdicts remembered at most; default :data:`MEMO_SIZE`.

    Notes
    -----
    Thread-safe: :meth:`stations` and :meth:`password_ok` run in the receiver's executor.
    """

    def __init__(self, engine: Engine, *, memo_size: int = MEMO_SIZE) -> None:
        if memo_size < 1:
            raise ValueError("memo_size must be at least 1")
        self.engine = engine
        self._memo_size = memo_size
        self._key = os.urandom(32)
        self._memo: OrderedDict[tuple[str, bytes], bool] = OrderedDict()
        self._lock = threading.Lock()

    def stations(self, mns: Iterable[str] | None = None) -> dict[str, StationRecord]:
        """Active stations by MN, as stored now: those of ``mns``, or all when None."""
        return load_stations(engine=self.engine, mns=mns)

    def password_ok(self, station: StationRecord, password: str) -> bool:
        """Whether ``password`` matches the station's stored hash (PBKDF2 once per pair)."""
        tag = hmac.new(self._key, password.encode("utf-8"), hashlib.sha256).digest()
        key = (station.password_hash, tag)
        with self._lock:
            verdict = self._memo.get(key)
            if verdict is not None:
                self._memo.move_to_end(key)
                return verdict
        verdict = verify_password(password, station.password_hash)
        with self._lock:
            self._memo[key] = verdict
            while len(self._memo) > self._memo_size:
                self._memo.popitem(last=False)
        return verdict
