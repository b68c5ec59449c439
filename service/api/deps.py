"""FastAPI dependencies: the app's engine, registries and settings, as ``Annotated`` types.

Also the bounds every route shares: page and version numbers (``PageQuery``, ``VersionQuery``)
and the months and days a request may name (:func:`request_month`, :func:`request_day`, the
range of :func:`sections.dates.check_period` around today in Beijing).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Annotated, Final, cast

from fastapi import Depends, Path, Query, Request
from sqlalchemy import Engine

from sections.dates import check_period, parse_day, parse_month
from sections.registry import Registry
from sections.river_chiefs import RiverChiefs
from service.settings import Settings
from service.time import BEIJING, beijing_today

if TYPE_CHECKING:
    from service.statements.letterhead import Letterhead

__all__ = [
    "MAX_PAGE",
    "MAX_VERSION",
    "ChiefsDep",
    "EngineDep",
    "EpisodeIdPath",
    "LetterheadDep",
    "PageQuery",
    "RegistryDep",
    "SettingsDep",
    "SizeQuery",
    "VersionQuery",
    "letterhead_of",
    "request_day",
    "request_moment",
    "request_month",
]

MAX_PAGE: Final = 100_000
"""The highest page number a list answers (× the largest page size stays far inside int64)."""

MAX_VERSION: Final = 100_000
"""The highest statement version number a request may name (versions count from 1)."""

EpisodeIdPath = Annotated[
    int, Path(ge=1, le=2**31 - 1, description="告警事件编号 / alert episode id")
]
PageQuery = Annotated[int, Query(ge=1, le=MAX_PAGE, description="页码，从 1 起 / page, from 1")]
SizeQuery = Annotated[int, Query(ge=1, le=5000, description="每页条数 / page size")]
VersionQuery = Annotated[
    int | None,
    Query(ge=1, le=MAX_VERSION, description="已签发的版本号；缺省为最新签发版，未签发时为草稿"),
]


def request_month(text: str) -> dt.date:
    """A month named by a request → its first day, within the sane range (else 422)."""
    return parse_month(text, today=beijing_today())


def request_day(text: str) -> dt.date:
    """A day named by a request, within the sane range (else 422)."""
    return parse_day(text, today=beijing_today())


def request_moment(moment: dt.datetime) -> dt.datetime:
    """An instant named by a request (naive = Beijing) in UTC, its day in the sane range."""
    local = moment if moment.tzinfo else moment.replace(tzinfo=BEIJING)
    check_period(local.date(), today=beijing_today())
    return local.astimezone(dt.UTC)


def _engine(request: Request) -> Engine:
    return cast(Engine, request.app.state.engine)  # app.state holds what create_app put there


def _registry(request: Request) -> Registry:
    return cast(Registry, request.app.state.registry)


def _chiefs(request: Request) -> RiverChiefs:
    """The river-chief registry of the app, read on first use.

    Pages use it only to decide who sees which alert episodes (by section id). A file that does
    not fit the section registry in use is said in the log (the alerting job refuses it and
    records why), and its sections that are unknown here simply match no episode.
    """
    from sections.errors import RiverChiefsError
    from sections.river_chiefs import load_river_chiefs

    state = request.app.state
    chiefs = getattr(state, "chiefs", None)
    if not isinstance(chiefs, RiverChiefs):
        settings = cast(Settings, state.settings)
        try:
            chiefs = load_river_chiefs(settings.chiefs, registry=state.registry)
        except RiverChiefsError as exc:
            logging.getLogger("qingliu").warning(
                "河长名录与断面名录不符，预警可见范围按断面编号判断 / the river-chief file "
                "does not fit the section registry: %s", exc,
            )  # fmt: skip
            chiefs = load_river_chiefs(settings.chiefs)
        state.chiefs = chiefs
    return chiefs


def letterhead_of(request: Request) -> Letterhead:
    """The issuing office's letterhead of the app's settings and registry (made once)."""
    from service.statements.letterhead import Letterhead as Head

    state = request.app.state
    head = getattr(state, "letterhead", None)
    if not isinstance(head, Head):
        head = Head.from_settings(cast(Settings, state.settings), registry=state.registry)
        state.letterhead = head
    return head


def _settings(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


EngineDep = Annotated[Engine, Depends(_engine)]
RegistryDep = Annotated[Registry, Depends(_registry)]
SettingsDep = Annotated[Settings, Depends(_settings)]
LetterheadDep = Annotated["Letterhead", Depends(letterhead_of)]
ChiefsDep = Annotated[RiverChiefs, Depends(_chiefs)]
