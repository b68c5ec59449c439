"""A receiver process tunes its garbage collector for throughput (service.feeds.hj212.process)."""

from __future__ import annotations

import json
import subprocess
import sys

_PROBE = """
import gc, json
from service.feeds.hj212.process import YOUNG_THRESHOLD, tune_garbage_collector
before = gc.get_threshold()
tune_garbage_collector()
print(json.dumps({"before": before, "after": gc.get_threshold(), "frozen": gc.get_freeze_count(),
                  "young": YOUNG_THRESHOLD}))
"""


def test_a_receiver_process_freezes_what_it_loaded_and_collects_the_young_less_often() -> None:
    # in a process of its own: the collector's settings are the whole process's
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=120, check=True
    )
    found = json.loads(done.stdout)
    assert found["before"][0] == 700  # CPython's default
    assert found["after"] == [found["young"], *found["before"][1:]]  # older generations kept
    assert found["frozen"] > 10_000  # the modules loaded so far are never walked again
