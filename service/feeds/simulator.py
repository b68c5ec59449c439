"""Station simulator: HJ 212 frames from the demo generator, sent over TCP like real loggers.

``qingliu simulate --stations N --rate R --to HOST:PORT [--faults]`` opens one connection per
station and sends hourly real-time frames (2011) with the basic parameters every hour and the
chemistry every 4 hours, at R frames a second in all, reading the 9014 answers. With faults it
also sends frames with a bad CRC, garbage bytes, frames cut into pieces across writes, and
drops and reopens connections. ``qingliu demo`` feeds its year through the same frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sections.registry import Registry, Section
from service.demo.synthetic import demo_station, generate_year, with_upstream
from service.feeds.hj212 import data_frame
from service.time import BEIJING

__all__ = ["DEMO_PASSWORD", "SimulationStats", "demo_frames", "frames_of", "simulate"]

DEMO_PASSWORD = "qingliu-demo"
"""The password the demo registers its stations with (a demo only: never in production)."""


def demo_frames(
    registry: Registry,
    *,
    year: int,
    seed: int,
    sections: Sequence[Section] | None = None,
    password: str = DEMO_PASSWORD,
) -> Iterator[tuple[str, bytes]]:
    """(MN, frame) pairs of the synthetic year, hour by hour, station after station.

    Every hour carries that hour's values; a missing value goes out as the -99 sentinel with
    its station flag, as loggers do.
    """
    chosen = list(sections) if sections is not None else list(registry.sections)
    # the chosen sections' series as in the whole demo: their upstream sections are drawn too
    observations = generate_year(with_upstream(registry, chosen), year=year, seed=seed).observations
    yield from frames_of(observations, chosen, password=password)


def frames_of(
    observations: pd.DataFrame, sections: Sequence[Section], *, password: str = DEMO_PASSWORD
) -> Iterator[tuple[str, bytes]]:
    """(MN, frame) pairs carrying the synthetic observations of ``sections``, hour by hour."""
    for section in sections:
        mn = demo_station(section)
        rows = observations[observations["section_id"] == section.id]
        wide = rows.pivot_table(
            index="observed_at", columns="parameter", values="value", aggfunc="first",
            dropna=False,
        )  # fmt: skip
        flags = rows.pivot_table(
            index="observed_at", columns="parameter", values="station_flag", aggfunc="first"
        ).reindex(index=wide.index, columns=wide.columns)
        keys = list(wide.columns)
        value_matrix = wide.to_numpy(dtype=np.float64)
        flag_matrix = flags.to_numpy(dtype=object)
        for i, when in enumerate(wide.index):
            present = [j for j, key in enumerate(keys) if isinstance(flag_matrix[i, j], str)]
            if not present:
                continue
            values = {
                keys[j]: None if np.isnan(value_matrix[i, j]) else float(value_matrix[i, j])
                for j in present
            }
            frame_flags = {keys[j]: str(flag_matrix[i, j]) for j in present}
            moment = pd.Timestamp(when).tz_convert(BEIJING).to_pydatetime()
            yield mn, data_frame(
                mn=mn, pw=password, data_time=moment, values=values, flags=frame_flags,
                qn=moment.strftime("%Y%m%d%H%M%S") + f"{i % 1000:03d}",
            )  # fmt: skip


@dataclass
class SimulationStats:
    """What a simulation sent and got back."""

    sent: int = 0
    answered: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    reconnects: int = 0

    def fault(self, kind: str) -> None:
        self.faults[kind] = self.faults.get(kind, 0) + 1


_FAULTS = ("bad_crc", "garbage", "split", "disconnect")


def _corrupt_crc(frame: bytes) -> bytes:
    crc = frame[-6:-2]
    wrong = b"0000" if crc != b"0000" else b"FFFF"
    return frame[:-6] + wrong + frame[-2:]


async def _station(
    mn: str,
    frames: list[bytes],
    *,
    host: str,
    port: int,
    interval: float,
    faults: float,
    rng: random.Random,
    stats: SimulationStats,
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    here = [0]  # answers on the current connection
    counter = asyncio.create_task(_count_answers(reader, stats, here))
    sent_here = 0

    async def settle() -> None:
        """Wait (briefly) for the answers to what this connection sent."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5.0
        while here[0] < sent_here and loop.time() < deadline:
            await asyncio.sleep(0.01)

    try:
        for frame in frames:
            kind = rng.choice(_FAULTS) if faults and rng.random() < faults else None
            if kind == "disconnect":
                stats.fault(kind)
                await settle()  # a logger waits for its answers before it hangs up
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()
                counter.cancel()
                sent_here, here = 0, [0]
                reader, writer = await asyncio.open_connection(host, port)
                counter = asyncio.create_task(_count_answers(reader, stats, here))
                stats.reconnects += 1
            elif kind == "bad_crc":
                stats.fault(kind)
                writer.write(_corrupt_crc(frame))
            elif kind == "garbage":
                stats.fault(kind)
                writer.write(bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 40))))
            if kind == "split":
                stats.fault(kind)
                cut = rng.randint(1, len(frame) - 1)
                writer.write(frame[:cut])
                await writer.drain()
                await asyncio.sleep(0.001)
                writer.write(frame[cut:])
            else:
                writer.write(frame)
            stats.sent += 1
            sent_here += 1
            await writer.drain()
            if interval:
                await asyncio.sleep(interval)
        await settle()  # let the last answers arrive
    finally:
        counter.cancel()
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def _count_answers(
    reader: asyncio.StreamReader, stats: SimulationStats, here: list[int]
) -> None:
    with contextlib.suppress(asyncio.CancelledError, ConnectionError):
        while True:
            line = await reader.readline()
            if not line:
                return
            if b"CN=9014" in line:
                stats.answered += 1
                here[0] += 1


async def simulate(
    registry: Registry,
    *,
    host: str,
    port: int,
    stations: int,
    rate: float,
    faults: bool = False,
    fault_rate: float = 0.05,
    limit: int | None = None,
    year: int | None = None,
    seed: int = 2025,
    password: str = DEMO_PASSWORD,
) -> SimulationStats:
    """Send frames of ``stations`` stations at ``rate`` frames a second in all."""
    if stations < 1:
        raise ValueError("stations must be at least 1")
    if rate <= 0:
        raise ValueError("rate must be positive")
    chosen = list(registry.sections)[:stations]
    if len(chosen) < stations:
        raise ValueError(f"the registry has only {len(chosen)} sections")
    the_year = year or dt.datetime.now(BEIJING).year - 1
    per_station: dict[str, list[bytes]] = {}
    budget = limit // stations + 1 if limit else None
    for mn, frame in demo_frames(registry, year=the_year, seed=seed, sections=chosen,
                                 password=password):  # fmt: skip
        bucket = per_station.setdefault(mn, [])
        if budget is None or len(bucket) < budget:
            bucket.append(frame)
    if limit:
        total = 0
        for mn in per_station:
            per_station[mn] = per_station[mn][: max(0, min(budget or 0, limit - total))]
            total += len(per_station[mn])
    stats = SimulationStats()
    rng = random.Random(seed)
    interval = stations / rate
    await asyncio.gather(
        *(
            _station(mn, frames, host=host, port=port, interval=interval,
                     faults=fault_rate if faults else 0.0, rng=random.Random(rng.random()),
                     stats=stats)
            for mn, frames in per_station.items()
        )
    )  # fmt: skip
    return stats
