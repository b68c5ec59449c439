"""Schemathesis against the OpenAPI schema, signed in: no 500s, answers as the schema says."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from service.app import create_app
from service.settings import Settings
from tests.conftest import bearer

CHECKS = (not_a_server_error, status_code_conformance, response_schema_conformance)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[FastAPI, dict[str, str]]]:
    app = create_app(Settings(data_dir=tmp_path / "data", scheduler=False))
    yield app, bearer(app.state.engine)
    app.state.engine.dispose()


def test_every_operation_answers_as_its_schema_says(api: tuple[FastAPI, dict[str, str]]) -> None:
    app, headers = api
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    calls: list[int] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @hypothesis_settings(max_examples=15, deadline=None, database=None,
                             suppress_health_check=list(HealthCheck))  # fmt: skip
        def run(case: schemathesis.Case) -> None:
            response = case.call(headers=headers)
            calls.append(response.status_code)
            case.validate_response(response, checks=CHECKS)

        try:
            run()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.method.upper()} {operation.path}: {str(exc)[:300]}")
    assert operations >= 18 and len(calls) >= 10 * operations
    assert failures == []
