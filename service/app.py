"""The FastAPI application: ``create_app(settings)`` builds it from explicit settings.

Building the app opens the database and migrates it to the newest schema, so a fresh data
directory works at once. Nothing is built at import time.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from sections.registry import Registry, load_registry
from sections.river_chiefs import RiverChiefs
from service.api.access import ACCESS, authorize, session_serializer
from service.api.errors import ERROR_RESPONSES, install_error_handlers
from service.api.middleware import MAX_BODY_BYTES, BodyLimit, SecurityHeaders
from service.api.routes import (
    alerts_api,
    appeals_api,
    bulletin_api,
    compensation_api,
    forecast_api,
    health,
    jobs_api,
    monitoring_api,
    outlook_api,
    sections_api,
)
from service.appeals.attachments import MAX_FILING_BYTES
from service.db.engine import make_engine, migrate
from service.jobs.schedule import JobScheduler
from service.settings import Settings
from service.web import (
    account_views,
    alert_views,
    appeal_views,
    compensation_views,
    monitoring_views,
    quality_views,
    section_charts,
    static,
    views,
)

__all__ = ["create_app"]

API_DESCRIPTION = """\
清流（Qingliu）：衡水市地表水断面水质与生态补偿服务的接口。

Water-section quality and ecological-compensation service for Hengshui, Hebei.
Times are ISO 8601 with offset; concentrations in mg/L unless the parameter says otherwise.
"""


def create_app(
    settings: Settings | None = None,
    *,
    registry: Registry | None = None,
    chiefs: RiverChiefs | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> FastAPI:
    """Build the web application.

    Parameters
    ----------
    settings : Settings, optional
        Defaults to :meth:`Settings.from_env`.
    registry : Registry, optional
        Defaults to the file of ``settings.sections`` or the bundled registry.
    chiefs : RiverChiefs, optional
        Who sees which alerts; defaults to the file of ``settings.chiefs`` or the bundled one,
        read when an alert page first needs it (a file that does not fit the registry is then
        a configuration error on those pages, not a service that will not start).
    max_body_bytes : int, optional
        The largest request body read [bytes]; a larger one is answered 413.
    """
    settings = settings or Settings.from_env()
    registry = registry or load_registry(settings.sections)
    engine = make_engine(settings)
    migrate(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        scheduler = None
        if settings.scheduler:
            scheduler = JobScheduler(settings=settings, engine=engine, registry=registry)
            scheduler.start()
            app.state.scheduler = scheduler
        try:
            yield
        finally:
            if scheduler is not None:
                app.state.scheduler = None
                await asyncio.to_thread(scheduler.shutdown)  # waits for a running job
            engine.dispose()

    app = FastAPI(
        lifespan=lifespan,
        title="清流 Qingliu",
        description=API_DESCRIPTION,
        version="0.1.0",
        responses=ERROR_RESPONSES,
        dependencies=[Depends(authorize)],  # every route: the route → roles table decides
        docs_url=None,  # service.web.static serves /docs and /redoc (vendored, offline)
        redoc_url=None,
        openapi_tags=[
            {"name": "service", "description": "服务状态 / service health"},
            {"name": "sections", "description": "断面名录 / the section registry"},
            {"name": "monitoring", "description": "观测与评价 / observations and classes"},
            {"name": "compensation", "description": "生态补偿 / ecological compensation"},
            {"name": "appeals", "description": "申诉 / appeals against issued statements"},
        ],
    )
    app.state.settings = settings
    app.state.registry = registry
    app.state.chiefs = chiefs
    app.state.engine = engine
    if settings.session_secret is None:
        logging.getLogger("qingliu").warning(
            "QINGLIU_SESSION_SECRET 未设置：会话密钥随机生成，重启后须重新登录 / "
            "no session secret set: sign-ins end when the service restarts"
        )
    app.state.access = dict(ACCESS)
    app.state.sessions = session_serializer(settings, fallback=secrets.token_urlsafe(32))
    app.state.scheduler = None  # the running JobScheduler, set by the lifespan

    app.include_router(health.router)
    app.include_router(sections_api.router)
    app.include_router(monitoring_api.router)
    app.include_router(forecast_api.router)
    app.include_router(outlook_api.router)  # before compensation_api: its /{month} takes all
    app.include_router(compensation_api.router)
    app.include_router(bulletin_api.router)
    app.include_router(jobs_api.router)
    app.include_router(alerts_api.router)
    app.include_router(appeals_api.router)
    app.include_router(views.router)
    app.include_router(compensation_views.router)
    app.include_router(monitoring_views.router)
    app.include_router(section_charts.router)
    app.include_router(static.router)
    app.include_router(account_views.router)
    app.include_router(alert_views.router)
    app.include_router(quality_views.router)
    app.include_router(appeal_views.router)

    install_error_handlers(app)
    uploads = {("POST", "/appeals"): MAX_FILING_BYTES, ("POST", "/api/appeals"): MAX_FILING_BYTES}
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes, wider=uploads)
    app.add_middleware(SecurityHeaders)  # outermost of ours: also on the 413 of BodyLimit
    return app
