"""A process that migrates a database (run by tests/service/test_concurrent_migrate.py)."""

from __future__ import annotations

import sys
from pathlib import Path

from service.db.engine import make_engine, migrate
from service.settings import Settings

if __name__ == "__main__":
    url, folder = sys.argv[1], Path(sys.argv[2])
    engine = make_engine(Settings(data_dir=folder, database_url=url))
    migrate(engine)
    engine.dispose()
