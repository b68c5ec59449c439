"""The HJ 212 TCP receiver, at its former import path: see :mod:`service.feeds.hj212.receiver`."""

from service.feeds.hj212.receiver import (
    DEFAULT_LISTEN,
    MAX_UNKNOWN_CODE,
    UNKNOWN_CODE_REVIEW,
    Hj212Receiver,
    ReceiverConfig,
    ReceiverStats,
    frame_rows,
    parse_listen,
)

__all__ = [
    "DEFAULT_LISTEN",
    "MAX_UNKNOWN_CODE",
    "UNKNOWN_CODE_REVIEW",
    "Hj212Receiver",
    "ReceiverConfig",
    "ReceiverStats",
    "frame_rows",
    "parse_listen",
]
