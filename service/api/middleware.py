"""ASGI middleware of the app: a request-body limit and the security headers of every answer.

- :class:`BodyLimit` refuses a body larger than ``max_bytes`` with a 413 in the one error shape
  (:class:`service.errors.PayloadTooLarge`): at once when ``Content-Length`` says so, and while
  reading when a streamed body grows past the limit. A few uploads (an appeal with its
  attachments) have a larger limit of their own (``wider``: method and exact path → bytes).
- :class:`SecurityHeaders` adds :data:`~service.api.headers.SECURITY_HEADERS` to every
  answer — pages, API answers, errors, files. A route may send its own
  ``Content-Security-Policy`` (the API documentation page does); the middleware keeps it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.errors import error_response
from service.api.headers import CONTENT_SECURITY_POLICY, SECURITY_HEADERS
from service.errors import PayloadTooLarge

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "MAX_BODY_BYTES",
    "SECURITY_HEADERS",
    "BodyLimit",
    "SecurityHeaders",
]

MAX_BODY_BYTES: Final = 1024 * 1024
"""The largest request body the service reads [bytes] (no route takes more than a form)."""


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"请求体超过 {limit} 字节上限 / request body larger than {limit} bytes")


class _BodyTooLarge(HTTPException):
    """Raised while a route reads a streamed body that grew past the limit (answered as 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=str(_too_large(limit)))


class BodyLimit:
    """Refuse request bodies larger than ``max_bytes`` with a 413 in the one error shape."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int = MAX_BODY_BYTES,
        wider: Mapping[tuple[str, str], int] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.wider = dict(wider or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.wider.get((scope.get("method", ""), scope.get("path", "")), self.max_bytes)
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            request = Request(scope, receive)
            await error_response(request, _too_large(limit))(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge(limit)
            return message

        await self.app(scope, limited, send)


class SecurityHeaders:
    """Add :data:`SECURITY_HEADERS` to every HTTP answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name.lower() not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, with_headers)
