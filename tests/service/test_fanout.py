"""fan_out: item order, inline runs, failures collected, progress, a real Dask cluster."""

from __future__ import annotations

import os
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.errors import BatchError, ConfigurationError, UnavailableError
from service.fanout import fan_out
from service.settings import Settings
from tests.service.fanout_tasks import blas_threads, mark_or_fail, square, square_with_pid

NUMBERS = list(range(7))
SQUARES = [n * n for n in NUMBERS]


@pytest.fixture(scope="module")
def dask_settings() -> Iterator[Settings]:
    """A one-worker Dask cluster in this process, reached over TCP like a remote one."""
    from distributed import LocalCluster

    with LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=1,
        threads_per_worker=1,
        processes=False,  # a worker thread here: starts in ~0.1 s, no spawned interpreters
        protocol="tcp",
        host="127.0.0.1",
        dashboard_address=":0",  # any free port: never a clash with another cluster
    ) as cluster:
        yield Settings(dask_scheduler=cluster.scheduler_address)


def test_the_process_pool_keeps_item_order_and_reports_progress() -> None:
    calls: list[tuple[int, int]] = []
    results = fan_out(square_with_pid, NUMBERS, workers=2, progress=lambda *c: calls.append(c))
    assert [square for square, _ in results] == SQUARES
    assert os.getpid() not in {pid for _, pid in results}
    assert calls == [(done, len(NUMBERS)) for done in range(1, len(NUMBERS) + 1)]


def test_pool_workers_run_blas_on_one_thread() -> None:
    """A process per core already fills the cores: threaded BLAS on top oversubscribes them
    (114 forecast fits took 98 s instead of 17 s here), also for NumPy loaded by the task."""
    assert fan_out(blas_threads, [1, 2, 3, 4], workers=2) == [1, 1, 1, 1]


@pytest.mark.parametrize("items", [NUMBERS, [5]], ids=["workers=1", "one item"])
def test_one_worker_or_one_item_runs_inline(items: list[int]) -> None:
    results = fan_out(square_with_pid, items, workers=None if len(items) == 1 else 1)
    assert results == [(n * n, os.getpid()) for n in items]


def test_no_items_no_work() -> None:
    assert fan_out(square, [], workers=4) == []


@pytest.mark.parametrize("workers", [2, 1], ids=["pool", "inline"])
def test_a_failing_item_fails_the_batch_after_the_others_ran(tmp_path: Path, workers: int) -> None:
    calls: list[tuple[int, int]] = []
    jobs = [(str(tmp_path), n) for n in range(6)]
    with pytest.raises(BatchError, match=r"1 of 6 items failed.*items\[3\].*three is refused") as e:
        fan_out(mark_or_fail, jobs, workers=workers, progress=lambda *c: calls.append(c))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0", "1", "2", "4", "5"]
    assert e.value.results == {0: 0, 1: 1, 2: 2, 4: 4, 5: 5} and e.value.total == 6
    assert isinstance(e.value.failures[3], ValueError) and e.value.__cause__ is e.value.failures[3]
    assert calls[-1] == (6, 6) and len(calls) == 6


def test_a_lambda_cannot_go_to_the_pool() -> None:
    with pytest.raises(TypeError, match="module-level function"):
        fan_out(lambda n: n, NUMBERS, workers=2)


def test_bad_worker_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        fan_out(square, NUMBERS, workers=0)


def test_a_dask_cluster_gives_the_same_results(dask_settings: Settings) -> None:
    calls: list[tuple[int, int]] = []
    results = fan_out(square, NUMBERS, settings=dask_settings, progress=lambda *c: calls.append(c))
    assert results == SQUARES
    assert calls[-1] == (len(NUMBERS), len(NUMBERS)) and len(calls) == len(NUMBERS)


def test_a_failing_item_on_dask_fails_the_batch(dask_settings: Settings, tmp_path: Path) -> None:
    jobs = [(str(tmp_path), n) for n in range(5)]
    with pytest.raises(BatchError, match=r"1 of 5 items failed.*three is refused") as e:
        fan_out(mark_or_fail, jobs, settings=dask_settings)
    assert e.value.results == {0: 0, 1: 1, 2: 2, 4: 4}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0", "1", "2", "4"]


def test_an_unreachable_scheduler_is_unavailable_within_the_timeout() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago; nobody listens on it
        probe.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    started = time.monotonic()
    with pytest.raises(UnavailableError, match=re.escape(f"the Dask scheduler at {address}")):
        fan_out(square, NUMBERS, settings=Settings(dask_scheduler=address), connect_timeout=0.5)
    assert time.monotonic() - started < 5


def test_the_scheduler_setting_is_read_and_checked() -> None:
    settings = Settings.from_env({"QINGLIU_DASK_SCHEDULER": "tcp://10.0.0.5:8786"})
    assert settings.dask_scheduler == "tcp://10.0.0.5:8786"
    assert Settings.from_env({}).dask_scheduler is None
    with pytest.raises(ConfigurationError, match=r"QINGLIU_DASK_SCHEDULER.*http://10\.0"):
        Settings.from_env({"QINGLIU_DASK_SCHEDULER": "http://10.0.0.5:8786"})
