"""``/healthz``: is the service up and its database at the newest schema?"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError

from service.api.deps import EngineDep, RegistryDep
from service.db.engine import current_revision

router = APIRouter(tags=["service"])


class Health(BaseModel):
    """Service health."""

    ok: bool = Field(description="服务与数据库均正常")
    database: str = Field(description="数据库类型，如 sqlite、postgresql")
    revision: str | None = Field(description="数据库结构版本（Alembic）")
    sections: int = Field(description="名录中的断面数")


@router.get(
    "/healthz",
    response_model=Health,
    summary="服务健康检查 / health check",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {
                        "ok": True,
                        "database": "sqlite",
                        "revision": "0001",
                        "sections": 19,
                    }
                }
            }
        },
        503: {"description": "数据库不可用 / database unavailable"},
    },
)
def healthz(engine: EngineDep, registry: RegistryDep) -> Health | JSONResponse:
    """Answer 200 when the database answers, 503 otherwise."""
    try:
        revision = current_revision(engine)
    except SQLAlchemyError as exc:
        return JSONResponse(
            status_code=503,
            content={
                "ok": False,
                "error": f"数据库不可用 / database unavailable: {exc}",
                "status": 503,
            },
        )
    return Health(
        ok=revision is not None,
        database=engine.dialect.name,
        revision=revision,
        sections=len(registry),
    )
