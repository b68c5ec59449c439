"""FastAPI dependencies: the app's engine, registry and settings, as ``Annotated`` types."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request
from sqlalchemy import Engine

from sections.registry import Registry
from service.settings import Settings

__all__ = ["EngineDep", "RegistryDep", "SettingsDep"]


def _engine(request: Request) -> Engine:
    return cast(Engine, request.app.state.engine)  # app.state holds what create_app put there


def _registry(request: Request) -> Registry:
    return cast(Registry, request.app.state.registry)


def _settings(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


EngineDep = Annotated[Engine, Depends(_engine)]
RegistryDep = Annotated[Registry, Depends(_registry)]
SettingsDep = Annotated[Settings, Depends(_settings)]
