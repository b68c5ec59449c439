"""What a command works with: settings, the registries and, for database commands, an engine.

One :class:`State` lives on the root context (``ctx.obj``). Everything in it is made on first
use, so an offline command (``classify``, ``compensate``, ``sections``, ``chiefs``) never reads
database settings or opens a database, and a database command migrates its database once, when
it first asks for the engine. The section registry and the river-chief registry are loaded once
each, the latter checked against the former.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from service.errors import NotFoundError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from sections.registry import Registry, Section, Unit
    from sections.river_chiefs import Chief, RiverChiefs
    from service.settings import Settings

__all__ = ["State", "state_of"]


@dataclass
class State:
    """Global options and what is built from them, once per command run."""

    sections_file: Path | None = None
    chiefs_file: Path | None = None
    _settings: Settings | None = field(default=None, repr=False)
    _registry: Registry | None = field(default=None, repr=False)
    _river_chiefs: RiverChiefs | None = field(default=None, repr=False)
    _engine: Engine | None = field(default=None, repr=False)

    def settings(self) -> Settings:
        """The settings from ``QINGLIU_*`` variables and the global options."""
        if self._settings is None:
            from service.settings import Settings

            self._settings = Settings.from_env(sections=self.sections_file, chiefs=self.chiefs_file)
        return self._settings

    def registry(self) -> Registry:
        """The section registry: ``--sections FILE`` or the bundled one (reads no other setting)."""
        if self._registry is None:
            from sections.registry import load_registry

            self._registry = load_registry(self.sections_file)
        return self._registry

    def river_chiefs(self) -> RiverChiefs:
        """The river-chief registry: ``--chiefs FILE`` or the bundled one.

        Validated against :meth:`registry` (its sections and counties must exist there).
        """
        if self._river_chiefs is None:
            from sections.river_chiefs import load_river_chiefs

            self._river_chiefs = load_river_chiefs(self.chiefs_file, registry=self.registry())
        return self._river_chiefs

    def engine(self) -> Engine:
        """The database engine, migrated to the newest schema on first use."""
        if self._engine is None:
            from service.db.engine import make_engine, migrate

            engine = make_engine(self.settings())
            try:
                migrate(engine)
            except BaseException:
                engine.dispose()
                raise
            self._engine = engine
        return self._engine

    def section(self, section_id: str) -> Section:
        """A registry section, or :class:`NotFoundError` listing the valid ids."""
        try:
            return self.registry().section(section_id)
        except KeyError as exc:
            raise NotFoundError(f"没有断面 {section_id!r} / {exc.args[0]}") from None

    def unit(self, unit_id: str) -> Unit:
        """An assessed unit, or :class:`NotFoundError` listing the valid ids."""
        try:
            return self.registry().unit(unit_id)
        except KeyError as exc:
            raise NotFoundError(f"没有考核单位 {unit_id!r} / {exc.args[0]}") from None

    def chief(self, chief_id: str) -> Chief:
        """A river chief of :meth:`river_chiefs`, or :class:`NotFoundError` listing the ids."""
        try:
            return self.river_chiefs().chief(chief_id)
        except KeyError as exc:
            raise NotFoundError(f"没有河长 {chief_id!r} / {exc.args[0]}") from None

    def log_dir(self) -> Path | None:
        """The data directory when it exists (the error log goes there), else None."""
        try:
            data_dir = self.settings().data_dir
        except Exception:  # invalid settings: that error is being reported already
            return None
        return data_dir if data_dir.is_dir() else None

    def close(self) -> None:
        """Release the engine's connections."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def state_of(ctx: typer.Context) -> State:
    """The run's :class:`State` (made here when a sub-app runs without the root callback)."""
    if not isinstance(ctx.obj, State):
        ctx.obj = State()
    return ctx.obj
