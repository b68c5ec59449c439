"""What a receiver process sets for itself: the garbage collector, for throughput.

A receiver allocates a dozen objects for every value it reads (frames, values, rows, answers);
CPython's cyclic collector runs after every 700 allocations by default and each run walks the
young objects, every tenth the older ones too. Measured on one receiver writing 20,000 frames to
PostgreSQL (docs/performance.md), collections took about a quarter of its CPU although almost
none of these objects form cycles: reference counting frees them. So a receiver process
[A, Instagram's practice for long-running Python servers]:

- freezes what exists once it has started (modules, the registry, the configuration): the
  collector never walks them again (:func:`gc.freeze`);
- collects the young generation after :data:`YOUNG_THRESHOLD` allocations instead of 700 (at
  most that many objects wait for a collection: a few megabytes).
"""

from __future__ import annotations

import gc
from typing import Final

__all__ = ["YOUNG_THRESHOLD", "tune_garbage_collector"]

YOUNG_THRESHOLD: Final = 100_000
"""Allocations between two collections of the young generation in a receiver process [A]."""


def tune_garbage_collector() -> None:
    """Freeze the objects that exist now and collect the young generation less often.

    Call once, when the process has loaded what it keeps; the older generations keep their
    thresholds.
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
