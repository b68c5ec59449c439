"""Settings: one table of ``QINGLIU_*`` environment variables, each with its help text.

``docs/settings.md`` lists every setting; a test keeps the two in step.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from service.errors import ConfigurationError

__all__ = ["DEFAULT_DATA_DIR", "ENV_PREFIX", "Settings"]

ENV_PREFIX = "QINGLIU_"
DEFAULT_DATA_DIR = Path("qingliu-data")
SQLITE_FILE_NAME = "qingliu.db"


@dataclass(frozen=True)
class Settings:
    """Qingliu's settings; build with :meth:`from_env` or directly in tests."""

    data_dir: Path = field(
        default=DEFAULT_DATA_DIR,
        metadata={
            "help": "数据目录：SQLite 数据库与原始报文存放处。"
            "Data directory (SQLite file, raw archive)."
        },
    )
    database_url: str | None = field(
        default=None,
        metadata={
            "help": "数据库地址（SQLAlchemy URL），如 postgresql+psycopg://user:pw@host/db；"
            "缺省为数据目录中的 SQLite 文件 qingliu.db。"
        },
    )
    sections: Path | None = field(
        default=None,
        metadata={
            "help": "断面名录文件（TOML）；缺省为内置的衡水名录。"
            "Registry file replacing the bundled one."
        },
    )

    scheduler: bool = field(
        default=True,
        metadata={
            "help": "服务内定时作业开关（on/off）：每日评价与月度汇总。"
            "Run the daily and monthly jobs inside the service."
        },
    )
    daily_at: str = field(
        default="06:00",
        metadata={"help": "每日作业时间 HH:MM（北京时间）/ daily job time, Asia/Shanghai."},
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read settings from ``QINGLIU_*`` variables; keyword overrides win."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for item in fields(cls):
            raw = env.get(ENV_PREFIX + item.name.upper())
            if raw is None or raw == "":
                continue
            if item.name in {"data_dir", "sections"}:
                values[item.name] = Path(raw)
            elif item.name == "scheduler":
                values[item.name] = raw.strip().lower() not in {"off", "0", "false", "no"}
            else:
                values[item.name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        """Raise :class:`ConfigurationError` naming the variable of an invalid setting."""
        from service.jobs.scheduler import parse_daily_at

        try:
            parse_daily_at(self.daily_at)
        except ValueError as exc:
            raise ConfigurationError(f"{ENV_PREFIX}DAILY_AT: {exc}") from None
        if self.database_url is not None and "://" not in self.database_url:
            raise ConfigurationError(
                f"{ENV_PREFIX}DATABASE_URL 不是有效的数据库地址 / not a database URL: "
                f"{self.database_url!r} (e.g. sqlite:///qingliu.db, postgresql+psycopg://…)"
            )

    @property
    def effective_database_url(self) -> str:
        """The database URL in use: the setting, or the SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / SQLITE_FILE_NAME).resolve()}"

    def with_(self, **changes: Any) -> Settings:
        """A copy with some settings changed."""
        return replace(self, **changes)

    @classmethod
    def documentation(cls) -> dict[str, str]:
        """Environment variable name → help text, for the docs and ``--help``."""
        return {ENV_PREFIX + f.name.upper(): f.metadata["help"] for f in fields(cls)}
