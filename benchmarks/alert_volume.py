"""Alert volume on the demo's synthetic data: episodes opened, by month, level and audience.

The demo's year (:func:`service.demo.synthetic.generate_year`, seed 2025) is stored for the
chosen sections, then :func:`service.alerts.run.run_alerts` runs every ``step`` hours from a
week before the span to its end, continuously, with the bundled river-chief registry, the
service's episode policy and no channels (the outbox fills, nothing is sent). Printed: the
episodes opened within the span per month, per highest level and audience. Target (issue 13): a
realistic number for the demo year — dozens of river-chief episodes a month for the whole
registry at most, not thousands.

Run::

    .venv/bin/python -m benchmarks.alert_volume                      # July 2025
    .venv/bin/python -m benchmarks.alert_volume --from 2025-01-01 --to 2026-01-01   # the year

(``--sections N``: the first N registry sections; ``--step H``: hours between passes, 4.) A
month takes about 4 minutes here (a pass is about 1.2 s for 19 sections).
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import Engine, select

from sections.registry import Registry, load_registry
from sections.river_chiefs import load_river_chiefs
from service.alerts.policy import DEFAULT_POLICY, EpisodePolicy
from service.alerts.run import run_alerts
from service.db.engine import make_engine, migrate
from service.db.ingest import upsert_observations
from service.db.models import AlertEpisode, table_of
from service.demo.synthetic import generate_year
from service.settings import Settings
from service.time import BEIJING

EPISODES = table_of(AlertEpisode)


def simulate(
    engine: Engine,
    registry: Registry,
    *,
    section_ids: list[str],
    first: dt.date,
    until: dt.date,
    step: dt.timedelta = dt.timedelta(hours=4),
    warmup: dt.timedelta = dt.timedelta(days=7),
    policy: EpisodePolicy = DEFAULT_POLICY,
) -> Counter[tuple[str, str, int]]:
    """Store the demo's data of ``section_ids`` and run the alert pass from ``warmup`` before
    ``first`` to ``until`` (so what was already open at the start is not counted as opened).

    Returns the episodes opened in [first, until) per (month ``YYYY-MM``, audience, highest
    level).
    """
    start = dt.datetime.combine(first, dt.time(), BEIJING)
    end = dt.datetime.combine(until, dt.time(), BEIJING)
    years = range((start - warmup).year, (end - dt.timedelta(seconds=1)).year + 1)
    for year in years:
        data = generate_year(registry, year=year).observations
        window = data[data["section_id"].isin(section_ids)
                      & (data["observed_at"] >= start - warmup - dt.timedelta(days=6))
                      & (data["observed_at"] < end)]  # fmt: skip
        rows = [
            {**{str(k): v for k, v in row.items()}, "qc_flag": None, "source": "hj212",
             "observed_at": row["observed_at"].to_pydatetime()}
            for row in window.to_dict("records")
        ]  # fmt: skip
        if rows:
            with engine.begin() as connection:
                upsert_observations(connection, rows)
    chiefs = load_river_chiefs(registry=registry)
    now = start - warmup
    while now < end:
        run_alerts(engine=engine, registry=registry, chiefs=chiefs, channels={}, now=now,
                   holder="benchmark", policy=policy)  # fmt: skip
        now += step
    with engine.connect() as connection:
        found = connection.execute(
            select(EPISODES.c.opened_at, EPISODES.c.audience, EPISODES.c.level)
            .where(EPISODES.c.opened_at >= start)
        ).all()  # fmt: skip
    counts: Counter[tuple[str, str, int]] = Counter()
    for opened, audience, level in found:
        aware = opened if opened.tzinfo else opened.replace(tzinfo=dt.UTC)
        counts[(f"{aware.astimezone(BEIJING):%Y-%m}", str(audience), int(level))] += 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="first", type=dt.date.fromisoformat,
                        default=dt.date(2025, 7, 1))  # fmt: skip
    parser.add_argument("--to", dest="until", type=dt.date.fromisoformat,
                        default=dt.date(2025, 8, 1))  # fmt: skip
    parser.add_argument("--sections", type=int, default=None)
    parser.add_argument("--step", type=float, default=4.0)
    args = parser.parse_args()
    registry = load_registry()
    ids = [s.id for s in registry.sections][: args.sections]
    step = dt.timedelta(hours=args.step)
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder), database_url=f"sqlite:///{folder}/a.db")
        engine = make_engine(settings)
        migrate(engine)
        started = time.perf_counter()
        found = simulate(engine, registry, section_ids=ids, first=args.first,
                         until=args.until, step=step)  # fmt: skip
        engine.dispose()
    took = time.perf_counter() - started
    total = sum(found.values())
    chiefs = sum(n for (_, audience, _), n in found.items() if audience == "river_chiefs")
    print(f"{len(ids)} sections, {args.first} – {args.until}, a pass every {step}: {total} "
          f"episodes opened ({chiefs} to river chiefs, {total - chiefs} to operators) in "
          f"{took:.0f} s")  # fmt: skip
    months = sorted({month for month, _, _ in found})
    print("month     river chiefs: 黄色 橙色 红色 | operators")
    for month in months:
        levels = [found[(month, "river_chiefs", level)] for level in (2, 3, 4)]
        operators = sum(n for (m, a, _), n in found.items() if m == month and a == "operators")
        print(f"{month}   {sum(levels):4d}: {levels[0]:4d} {levels[1]:4d} {levels[2]:4d} | "
              f"{operators:4d}")  # fmt: skip


if __name__ == "__main__":
    main()
