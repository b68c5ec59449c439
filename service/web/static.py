"""Stylesheets of the site and the API documentation page.

The stylesheets are the templates of ``templates/static/`` (``classes.css`` is written from
:class:`sections.classes.WaterClass`, the one home of the class colours); pages link them, so
the site needs no inline style and its Content-Security-Policy allows none.

``/docs`` is FastAPI's Swagger UI page. Its script and stylesheet come from the jsDelivr CDN
(FastAPI's default), so this page alone has a wider policy: scripts from the CDN plus the page's
one inline start-up script by its SHA-256 hash, styles from the CDN and inline (Swagger UI
sets inline styles). Without internet access the page loads but shows no UI.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Final

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

from service.errors import NotFoundError
from service.web.templates import template_environment

__all__ = ["STYLESHEETS", "docs_policy", "router"]

router = APIRouter(include_in_schema=False)

STYLESHEETS: Final = ("site", "classes", "bulletin", "statement", "alerts")
"""The stylesheets under ``/static/<name>.css``."""

_CDN: Final = "https://cdn.jsdelivr.net"
_INLINE_SCRIPT: Final = re.compile(r"<script>(.*?)</script>", re.S)


@router.get("/static/{name}.css")
def stylesheet(name: str) -> Response:
    """One stylesheet of the site."""
    if name not in STYLESHEETS:
        raise NotFoundError(f"没有该样式表 / no such stylesheet {name!r}")
    css = template_environment().get_template(f"static/{name}.css").render()
    return Response(
        css, media_type="text/css; charset=utf-8", headers={"Cache-Control": "max-age=3600"}
    )


def docs_policy(html: str) -> str:
    """The Content-Security-Policy of the documentation page ``html``."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in _INLINE_SCRIPT.findall(html)
    )
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src 'self' {_CDN} {hashes}",
            f"style-src 'self' {_CDN} 'unsafe-inline'",
            "img-src 'self' data: https://fastapi.tiangolo.com",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        )
    )


@router.get("/docs")
def api_docs(request: Request) -> HTMLResponse:
    """Swagger UI over ``/openapi.json``."""
    page = get_swagger_ui_html(
        openapi_url=request.app.openapi_url, title=f"{request.app.title} · 接口文档"
    )
    html = bytes(page.body).decode()
    return HTMLResponse(html, headers={"Content-Security-Policy": docs_policy(html)})
