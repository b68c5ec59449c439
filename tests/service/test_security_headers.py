"""Security headers on every answer: pages, API answers, errors, files, the API documentation."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI

from service.api.access import Access
from service.app import create_app
from service.settings import Settings
from service.web.templates import template_dir
from tests.conftest import bearer

BASE = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    application = create_app(settings)
    yield application
    application.state.engine.dispose()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _policy(answer: httpx.Response) -> dict[str, str]:
    text = answer.headers["content-security-policy"]
    return {part.split()[0]: part for part in (p.strip() for p in text.split(";")) if part}


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("url", "status"),
    [("/", 200), ("/static/site.css", 200), ("/healthz", 200), ("/api/sections", 200),
     ("/api/sections/nowhere", 404), ("/api/compensation/9999-12", 422), ("/nowhere", 404),
     ("/daily?date=x", 422)],
)  # fmt: skip
async def test_every_answer_carries_the_headers(app: FastAPI, url: str, status: int) -> None:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers=bearer(app.state.engine)
    ) as client:
        answer = await client.get(url)
    assert answer.status_code == status
    for name, value in BASE.items():
        assert answer.headers[name] == value, name
    policy = _policy(answer)
    assert policy["frame-ancestors"] == "frame-ancestors 'none'"
    assert policy["script-src"] == "script-src 'self'"
    assert policy["style-src"] == "style-src 'self'"
    assert "unsafe" not in answer.headers["content-security-policy"]


@pytest.mark.anyio
async def test_an_unexpected_error_carries_the_headers(app: FastAPI) -> None:
    @app.get("/api/boom")
    def boom() -> None:
        raise RuntimeError("defect")

    app.state.access[("GET", "/api/boom")] = Access.PUBLIC

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers=bearer(app.state.engine)
    ) as client:
        answer = await client.get("/api/boom")
    assert answer.status_code == 500
    assert answer.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]


@pytest.mark.anyio
@pytest.mark.parametrize("url", ["/docs", "/redoc"])
async def test_docs_pages_have_their_own_policy_with_scripts_from_files_only(
    app: FastAPI, url: str
) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers=bearer(app.state.engine)
    ) as client:
        answer = await client.get(url)
        schema = await client.get("/openapi.json")
    assert answer.status_code == 200 and schema.status_code == 200
    assert "/docs" not in schema.json()["paths"] and "/redoc" not in schema.json()["paths"]
    policy = _policy(answer)
    assert policy["script-src"] == "script-src 'self'"
    assert "<script>" not in answer.text and "http" not in answer.headers["content-security-policy"]
    assert policy["frame-ancestors"] == "frame-ancestors 'none'"
    assert answer.headers["x-frame-options"] == "DENY"


def test_templates_have_no_inline_script_or_style_outside_documents() -> None:
    """Pages link /static/*.css; only standalone documents (statements, bulletins) keep a
    ``<style>`` element, guarded by ``{% if standalone %}``."""
    root = template_dir()
    for path in root.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        name = str(path.relative_to(root))
        assert "<script" not in text and " on" + "click=" not in text, name
        assert not re.search(r"\sstyle=", text), name
        if "<style" in text:
            assert name.startswith(("statements/", "bulletins/")), name
            assert "standalone" in text, name
