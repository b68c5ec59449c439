"""Stylesheets and scripts of the site, and the two API documentation pages.

The stylesheets are the templates of ``templates/static/`` (``classes.css`` is written from
:class:`sections.classes.WaterClass`, the one home of the class colours); pages link them, so
the site needs no inline style and its Content-Security-Policy allows none.

``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) work offline: both interfaces are vendored under
``templates/static/vendor/`` (versions, sources and licences in its ``README.md``) and served
here from ``/static/vendor/``; each page's start-up code is a served file
(``/static/swagger-init.js``, ``/static/redoc-init.js``) that reads the schema's address from
the page, so the pages have no inline script. Their policy, :data:`DOCS_POLICY`, differs from
the site's in two places only: inline styles (both interfaces set them at run time) and workers
from ``blob:`` (ReDoc's search index runs in one).
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from service.errors import NotFoundError
from service.web.templates import template_dir, template_environment

__all__ = ["DOCS_POLICY", "SCRIPTS", "STYLESHEETS", "VENDORED", "router"]

router = APIRouter(include_in_schema=False)

STYLESHEETS: Final = (
    "site", "classes", "bulletin", "statement", "alerts", "overview", "quality", "section",
    "appeals",
)  # fmt: skip
"""The stylesheets under ``/static/<name>.css``."""

SCRIPTS: Final = ("swagger-init", "redoc-init")
"""The site's own scripts under ``/static/<name>.js``: the start-up code of the two API pages."""

_JS: Final = "text/javascript; charset=utf-8"
_CSS: Final = "text/css; charset=utf-8"

VENDORED: Final[Mapping[str, str]] = {
    "swagger-ui/swagger-ui-bundle.js": _JS,
    "swagger-ui/swagger-ui.css": _CSS,
    "redoc/redoc.standalone.js": _JS,
}
"""The vendored files served under ``/static/vendor/<package>/<name>`` → their media type (the
licence files stay in the folder and the wheel, unserved)."""

_CACHE: Final = {"Cache-Control": "max-age=3600"}

DOCS_POLICY: Final = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
"""The Content-Security-Policy of ``/docs`` and ``/redoc``: everything from this site, scripts
only from files; inline styles and ``blob:`` workers, which the two interfaces need."""


@router.get("/static/{name}.css")
def stylesheet(name: str) -> Response:
    """One stylesheet of the site."""
    if name not in STYLESHEETS:
        raise NotFoundError(f"没有该样式表 / no such stylesheet {name!r}")
    css = template_environment().get_template(f"static/{name}.css").render()
    return Response(css, media_type=_CSS, headers=_CACHE)


@router.get("/static/{name}.js")
def script(name: str) -> FileResponse:
    """One script of the site."""
    if name not in SCRIPTS:
        raise NotFoundError(f"没有该脚本 / no such script {name!r}")
    return FileResponse(template_dir() / "static" / f"{name}.js", media_type=_JS, headers=_CACHE)


@router.get("/static/vendor/{package}/{name}")
def vendored(package: str, name: str) -> FileResponse:
    """One vendored file (Swagger UI, ReDoc)."""
    key = f"{package}/{name}"
    if key not in VENDORED:
        raise NotFoundError(f"没有该文件 / no such vendored file {key!r}")
    path = template_dir() / "static" / "vendor" / package / name
    return FileResponse(path, media_type=VENDORED[key], headers=_CACHE)


def _docs_page(
    *, title: str, root: str, openapi_url: str, styles: tuple[str, ...], scripts: tuple[str, ...]
) -> HTMLResponse:
    links = "".join(f'\n<link rel="stylesheet" href="{escape(href)}">' for href in styles)
    tags = "".join(f'\n<script src="{escape(src)}"></script>' for src in scripts)
    html = f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>{links}
</head>
<body>
<div id="{root}" data-openapi-url="{escape(openapi_url)}"></div>{tags}
</body>
</html>
"""
    return HTMLResponse(html, headers={"Content-Security-Policy": DOCS_POLICY})


@router.get("/docs")
def api_docs(request: Request) -> HTMLResponse:
    """Swagger UI over ``/openapi.json``."""
    return _docs_page(
        title=f"{request.app.title} · 接口文档",
        root="swagger-ui",
        openapi_url=request.app.openapi_url,
        styles=("/static/vendor/swagger-ui/swagger-ui.css",),
        scripts=("/static/vendor/swagger-ui/swagger-ui-bundle.js", "/static/swagger-init.js"),
    )


@router.get("/redoc")
def api_reference(request: Request) -> HTMLResponse:
    """ReDoc over ``/openapi.json``."""
    return _docs_page(
        title=f"{request.app.title} · 接口参考",
        root="redoc",
        openapi_url=request.app.openapi_url,
        styles=(),
        scripts=("/static/vendor/redoc/redoc.standalone.js", "/static/redoc-init.js"),
    )
