"""Fixtures of the service tests: the fake services alert channels talk to."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import live_server_for


@pytest.fixture
def serve() -> Iterator[Callable[[Any], str]]:
    """Serve fake apps (``tests/service/alert_servers.py``) with uvicorn in threads; returns
    each base URL; stops them after."""
    servers: list[live_server_for] = []

    def start(fake: Any) -> str:
        server = live_server_for(fake.app())
        servers.append(server)
        return server.__enter__()

    yield start
    for server in servers:
        server.__exit__(None, None, None)
