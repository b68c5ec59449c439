"""Alert volume on the demo's synthetic data: episodes a month, by level and audience.

The demo's year (:func:`service.demo.synthetic.generate_year`, seed 2025) is stored for the
chosen sections (the month and the days before it), then :func:`service.alerts.run.run_alerts`
runs every ``step`` hours through the month with the bundled river-chief registry and no
channels (the outbox fills, nothing is sent). Printed: episodes opened per highest level and
audience, and per section a month. Target (issue 13): dozens of episodes a month for the whole
registry, not thousands.

Run: ``.venv/bin/python -m benchmarks.alert_volume [SECTIONS] [STEP_HOURS]`` (SECTIONS: a count
of registry sections, default all; STEP_HOURS default 4).
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import Engine, select

from sections.registry import Registry, load_registry
from sections.river_chiefs import load_river_chiefs
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
    month: dt.date,
    step: dt.timedelta = dt.timedelta(hours=4),
    days: int | None = None,
) -> Counter[tuple[str, int]]:
    """Store the demo's data of ``section_ids`` and run the alert pass through the month.

    Returns the episodes opened per (audience, highest level).
    """
    first = dt.datetime.combine(month, dt.time(), BEIJING)
    last_day = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    end = dt.datetime.combine(last_day, dt.time(), BEIJING)
    if days is not None:
        end = min(end, first + dt.timedelta(days=days))
    data = generate_year(registry, year=month.year).observations
    window = data[data["section_id"].isin(section_ids)
                  & (data["observed_at"] >= first - dt.timedelta(days=6))
                  & (data["observed_at"] < end)]  # fmt: skip
    rows = [
        {**{str(k): v for k, v in row.items()}, "qc_flag": None, "source": "hj212",
         "observed_at": row["observed_at"].to_pydatetime()}
        for row in window.to_dict("records")
    ]  # fmt: skip
    with engine.begin() as connection:
        upsert_observations(connection, rows)
    chiefs = load_river_chiefs(registry=registry)
    now = first
    while now < end:
        run_alerts(engine=engine, registry=registry, chiefs=chiefs, channels={}, now=now,
                   holder="benchmark")  # fmt: skip
        now += step
    with engine.connect() as connection:
        found = connection.execute(select(EPISODES.c.audience, EPISODES.c.level)).all()
    return Counter((str(a), int(level)) for a, level in found)


def main(argv: list[str]) -> None:
    registry = load_registry()
    count = int(argv[0]) if argv else len(registry.sections)
    step = dt.timedelta(hours=float(argv[1]) if len(argv) > 1 else 4)
    ids = [s.id for s in registry.sections][:count]
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder), database_url=f"sqlite:///{folder}/a.db")
        engine = make_engine(settings)
        migrate(engine)
        started = time.perf_counter()
        found = simulate(engine, registry, section_ids=ids, month=dt.date(2025, 7, 1), step=step)
        engine.dispose()
    total = sum(found.values())
    took = time.perf_counter() - started
    print(f"{len(ids)} sections, July 2025, a pass every {step}: {total} episodes "
          f"({total / len(ids):.2f} per section) in {took:.0f} s")  # fmt: skip
    for (audience, level), n in sorted(found.items()):
        print(f"  {audience:13} level {level}: {n}")


if __name__ == "__main__":
    main(sys.argv[1:])
