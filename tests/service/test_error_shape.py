"""Every API error answers in the one JSON shape; no bad id or parameter reaches a 500.

The test walks the routes of the OpenAPI document, fills path parameters with ids that do not
exist or do not parse and query parameters with values of the wrong kind, and checks each answer.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from service.api.access import Access
from service.app import create_app
from service.errors import (
    ConflictError,
    DatabaseError,
    FeedAnswerError,
    FeedTimeout,
    FrameError,
    InputError,
    MonthNotRolledUp,
    NotFoundError,
    PayloadTooLarge,
    QingliuError,
    error_line,
    error_payload,
)
from service.settings import Settings
from tests.conftest import bearer

SHAPE = {"ok", "status", "title", "error", "type", "errors", "reference"}

BAD_PATH = {
    "section_id": ["nowhere", "%20", "x" * 300],
    "month": ["2025-13", "march", "0000-00", "2099-01", "9999-12", "0001-01", "1999-12"],
    "unit": ["nowhere"],
    "episode_id": ["0", "-1", "x", "9223372036854775808"],
    "appeal_id": ["0", "-1", "x", "9223372036854775808"],
    "attachment_id": ["0", "-1", "x", "9223372036854775808"],
    "observation_id": ["0", "-1", "x", "9223372036854775808"],
}
BAD_QUERY: dict[str, list[str]] = {
    "page": ["0", "-1", "x", "100001", "9223372036854775808", "1" + "0" * 40],
    "page_size": ["0", "100000", "x"],
    "from": ["yesterday", "2025-13-01T00:00", "0001-01-01T00:00", "9999-12-31T23:59:59"],
    "to": ["never", "0001-01-01T00:00:00+14:00"],
    "date": ["2025-02-30", "x", "0001-01-01", "9999-12-31"],
    "month": ["2025-13", "", "9999-12", "0001-01"],
    "year": ["x", "12345"],
    "version": ["x", "0", "999", "100001", "9223372036854775808"],
    "draft": ["maybe"],
    "format": ["exe"],
    "parameter": ["nothing"],
    "section": ["nowhere"],
    "unit": ["nowhere"],
    "state": ["closed", "x"],
    "size": ["0", "501", "x"],
}
GOOD_PATH = {"section_id": "xiaofanqiao", "month": "2025-07", "unit": "taocheng", "episode_id": "1",
             "appeal_id": "1", "attachment_id": "1", "observation_id": "1"}  # fmt: skip


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    application = create_app(settings)
    yield application
    application.state.engine.dispose()


def _requests(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, str]]]:
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            params = operation.get("parameters", [])
            path_names = [p["name"] for p in params if p["in"] == "path"]
            query_names = [p["name"] for p in params if p["in"] == "query"]
            for name in path_names:  # one bad path parameter at a time
                for bad in BAD_PATH.get(name, ["nowhere"]):
                    values = {**GOOD_PATH, name: bad}
                    yield method, path.format(**{n: values[n] for n in path_names}), {}
            good = path.format(**{n: GOOD_PATH[n] for n in path_names})
            for name in query_names:  # one bad query parameter at a time
                for bad in BAD_QUERY.get(name, ["x"]):
                    yield method, good, {name: bad}


@pytest.mark.anyio
async def test_no_bad_id_or_parameter_reaches_a_500(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    seen = 0
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers=bearer(app.state.engine)
    ) as client:
        for method, url, params in _requests(app.openapi()):
            answer = await client.request(method.upper(), url, params=params)
            seen += 1
            where = f"{method.upper()} {url} {params} → {answer.status_code}"
            assert answer.status_code < 500, where + " " + answer.text[:300]
            if answer.status_code >= 400:
                body = answer.json()
                assert set(body) == SHAPE, where
                assert body["ok"] is False and body["status"] == answer.status_code, where
                assert body["error"] and "Traceback" not in body["error"], where
    assert seen > 60


PAGES_OUT_OF_RANGE = [
    ("/daily", {"date": "9999-12-31"}, 422),
    ("/daily", {"date": "0001-01-01"}, 422),
    ("/compensation/9999-12", {}, 404),
    ("/compensation/2025-07", {"version": "9223372036854775808"}, 422),
    ("/bulletins/0001-01", {}, 404),
    ("/sections/xiaofanqiao", {}, 200),
]


@pytest.mark.anyio
async def test_pages_refuse_months_and_days_out_of_range(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers=bearer(app.state.engine)
    ) as client:
        for url, params, status in PAGES_OUT_OF_RANGE:
            answer = await client.get(url, params=params)
            assert answer.status_code == status, (url, params, answer.text[:300])


@pytest.mark.anyio
async def test_a_body_over_the_limit_is_413_in_the_one_shape(settings: Settings) -> None:
    app = create_app(settings, max_body_bytes=1000)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers=bearer(app.state.engine)
    ) as client:
            declared = await client.post("/api/compensation/2025-07/issue", content=b"x" * 1001)
            page = await client.post("/compensation/2025-07", content=b"x" * 5000)
    finally:
        app.state.engine.dispose()
    body = declared.json()
    assert declared.status_code == 413 and set(body) == SHAPE
    assert body["type"] == "PayloadTooLarge" and body["status"] == 413 and "1000" in body["error"]
    assert page.status_code == 413 and "请求过大" in page.text


@pytest.mark.anyio
async def test_a_streamed_body_over_the_limit_is_413(app: FastAPI) -> None:
    @app.post("/api/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    app.state.access[("POST", "/api/echo")] = Access.PUBLIC

    async def chunks() -> Any:
        for _ in range(20):
            yield b"y" * 65536  # 1.25 MiB, no Content-Length

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers=bearer(app.state.engine)
    ) as client:
        small = await client.post("/api/echo", content=b"z" * 100)
        large = await client.post("/api/echo", content=chunks())
    assert small.json() == {"bytes": 100}
    assert large.status_code == 413 and large.json()["type"] == "PayloadTooLarge"


@pytest.mark.anyio
async def test_request_validation_answers_in_the_same_shape_with_its_fields(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers=bearer(app.state.engine)
    ) as client:
        answer = await client.get("/api/classifications", params={"date": "x", "page": "0"})
    body = answer.json()
    assert answer.status_code == 422 and set(body) == SHAPE
    assert body["type"] == "InputError"
    assert {e["location"] for e in body["errors"]} == {"query.page"}


@pytest.mark.anyio
async def test_an_unexpected_error_gets_a_reference_and_no_internals(app: FastAPI) -> None:
    @app.get("/api/boom")
    def boom() -> None:
        raise RuntimeError("secret internal detail")

    app.state.access[("GET", "/api/boom")] = Access.PUBLIC

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers=bearer(app.state.engine)
    ) as client:
        answer = await client.get("/api/boom")
        page = await client.get("/api/sections/nowhere")
    body = answer.json()
    assert answer.status_code == 500 and set(body) == SHAPE
    assert body["reference"] and body["reference"] in body["error"]
    assert "secret" not in answer.text
    assert page.json()["type"] == "NotFoundError"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# --- the tree itself --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (InputError("x"), 422, 2),
        (FrameError("bad_crc", "x"), 422, 2),
        (NotFoundError("x"), 404, 3),
        (MonthNotRolledUp("x"), 404, 3),
        (ConflictError("x"), 409, 4),
        (PayloadTooLarge("x"), 413, 2),
        (DatabaseError("x"), 503, 5),
        (FeedTimeout("x"), 503, 5),
        (FeedAnswerError("x"), 503, 5),
        (QingliuError("x"), 500, 1),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v),
)
def test_each_error_carries_its_status_and_exit_code(
    error: QingliuError, status: int, code: int
) -> None:
    assert (error.status, error.exit_code) == (status, code)
    assert error_payload(error)[0] == status
    assert error_line(error)[0] == code


def test_domain_errors_join_the_tree() -> None:
    from compensation.errors import CompensationError, MeasurementError, RuleError
    from sections.errors import DataTableError, RegistryError, SectionsError, UnknownClassError

    for kind in (SectionsError, RegistryError, UnknownClassError, CompensationError, RuleError,
                 MeasurementError):  # fmt: skip
        assert issubclass(kind, InputError) and kind.status == 422
    assert issubclass(DataTableError, NotFoundError) and issubclass(DataTableError, KeyError)
    assert str(DataTableError("no such key")) == "no such key"


def test_error_line_is_one_bilingual_line() -> None:
    code, line = error_line(NotFoundError("没有该断面 / no such section"))
    assert code == 3 and "\n" not in line and line.startswith("错误 / error [未找到 / not found]")
    code, line = error_line(ZeroDivisionError("secret-detail"))
    assert code == 1 and "secret-detail" not in line and "reference" in line


def test_every_class_of_the_tree_is_documented() -> None:
    import service.errors as module

    classes = {
        name for name, value in vars(module).items()
        if isinstance(value, type) and issubclass(value, QingliuError)
    }  # fmt: skip
    doc = module.__doc__ or ""
    assert all(name in doc for name in classes), sorted(c for c in classes if c not in doc)
    assert list(itertools.chain(module.__all__)) == sorted(module.__all__)


@pytest.mark.anyio
async def test_a_database_clash_is_a_conflict_in_the_api_too(app: FastAPI) -> None:
    from sqlalchemy.exc import IntegrityError

    @app.get("/api/clash")
    def clash() -> None:
        raise IntegrityError("INSERT …", {}, Exception("UNIQUE constraint failed"))

    app.state.access[("GET", "/api/clash")] = Access.PUBLIC

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers=bearer(app.state.engine)
    ) as client:
        answer = await client.get("/api/clash")
    assert answer.status_code == 409 and answer.json()["type"] == "ConflictError"
