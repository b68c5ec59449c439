"""The HTTP side shared by the robots and the SMS gateway: one POST, one error mapping.

:func:`post_json` sends one JSON body with an explicit timeout, no redirects followed (a redirect
would carry the key elsewhere) and at most :data:`MAX_ANSWER_BYTES` of the answer read.
:func:`delivery_for_exception` is the only place where httpx and socket errors become a
:class:`~service.alerts.channels.base.Delivery`:

- no connection, no answer in time, a broken or undecodable answer, a proxy failure (httpx's
  ``TimeoutException``, ``NetworkError``, ``ProtocolError``, ``ProxyError``, ``DecodingError``;
  ``OSError``) → ``unavailable``;
- a certificate that does not verify, an invalid URL or an unsupported scheme → ``refused``
  (the configuration is wrong; retrying cannot help);
- ``HTTPStatusError`` → as its status (:func:`delivery_for_status`);
- any other httpx error → ``unavailable``.
"""

from __future__ import annotations

import email.utils
import json
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from service.alerts.channels.base import Delivery

__all__ = [
    "DEFAULT_TIMEOUT",
    "HTTPX_ERRORS",
    "MAX_ANSWER_BYTES",
    "HttpAnswer",
    "certificate_not_verified",
    "delivery_for_exception",
    "delivery_for_status",
    "post_json",
    "read_object",
    "robot_delivery",
]

DEFAULT_TIMEOUT = 10.0
"""Seconds for each network operation of a robot or gateway request (connect, write, read)."""
MAX_ANSWER_BYTES = 64 * 1024
"""Bytes read of an answer at most (a robot answers with a few dozen)."""
_EXCERPT = 300

HTTPX_ERRORS: tuple[type[Exception], ...] = (
    httpx.HTTPError, httpx.InvalidURL, httpx.CookieConflict, httpx.StreamError, OSError,
)  # fmt: skip
"""What a send catches and maps: every httpx error, and socket errors."""

Mask = Callable[[str], str]


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    """An HTTP answer: status, body (at most :data:`MAX_ANSWER_BYTES`), ``Retry-After`` [s]."""

    status: int
    content: bytes
    retry_after: float | None = None

    def excerpt(self, mask: Mask) -> str:
        """The start of the body as text, secrets masked."""
        return mask(self.content[: _EXCERPT * 4].decode("utf-8", errors="replace")[:_EXCERPT])


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (seconds or an HTTP date), None when unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def post_json(
    url: str,
    payload: Mapping[str, Any],
    *,
    timeout: float,
    headers: Mapping[str, str] | None = None,
) -> HttpAnswer:
    """POST ``payload`` as UTF-8 JSON to ``url`` and read the answer.

    Raises the httpx (or socket) error of a failed request: the caller maps it with
    :func:`delivery_for_exception`.
    """
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    sent_headers = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    with (
        httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False) as client,
        client.stream("POST", url, content=body, headers=sent_headers) as response,
    ):
        content = bytearray()
        for chunk in response.iter_bytes():
            content += chunk
            if len(content) > MAX_ANSWER_BYTES:  # the rest is never read
                break
        return HttpAnswer(
            response.status_code,
            bytes(content[:MAX_ANSWER_BYTES]),
            _retry_after(response.headers.get("Retry-After")),
        )


def certificate_not_verified(exc: BaseException) -> bool:
    """Whether ``exc`` (or an error it was raised from) is a failed certificate check."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLCertVerificationError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def delivery_for_exception(exc: BaseException, *, mask: Mask) -> Delivery:
    """The delivery for an httpx or socket error (see the module docstring), secrets masked."""
    name = type(exc).__name__
    text = mask(f"{name}: {exc}" if str(exc) else name)
    if isinstance(exc, httpx.HTTPStatusError):
        found = delivery_for_status(
            HttpAnswer(exc.response.status_code, b""), mask=mask, rate_limit_seconds=60.0
        )
        return found or Delivery("unavailable", name, text)
    if certificate_not_verified(exc):
        return Delivery("refused", name, text)
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return Delivery("refused", name, text)
    return Delivery("unavailable", name, text)


def delivery_for_status(
    answer: HttpAnswer, *, mask: Mask, rate_limit_seconds: float
) -> Delivery | None:
    """The delivery an HTTP status decides, or None for a 2xx answer (read its body).

    429 → ``rate_limited`` (``Retry-After`` or ``rate_limit_seconds``); 408 and 5xx →
    ``unavailable``; other 3xx and 4xx → ``refused`` (a wrong URL, key or request; redirects
    are not followed).
    """
    status = answer.status
    if 200 <= status < 300:
        return None
    code, text = f"HTTP {status}", answer.excerpt(mask)
    if status == 429:
        wait = answer.retry_after if answer.retry_after is not None else rate_limit_seconds
        return Delivery("rate_limited", code, text, retry_after=wait)
    if status == 408 or status >= 500 or status < 200:
        return Delivery("unavailable", code, text)
    return Delivery("refused", code, text)


def read_object(answer: HttpAnswer) -> dict[str, Any] | None:
    """The answer's JSON object, or None when it is not one."""
    try:
        document = json.loads(answer.content)
    except (ValueError, UnicodeDecodeError):
        return None
    return document if isinstance(document, dict) else None


def robot_delivery(
    answer: HttpAnswer,
    *,
    mask: Mask,
    rate_limited: Mapping[int, float],
    busy: frozenset[int],
    rate_limit_seconds: float,
) -> Delivery:
    """The delivery for a robot's answer ``{"errcode": …, "errmsg": …}`` (WeCom, DingTalk).

    ``errcode`` 0 → ``sent``; a code of ``rate_limited`` → ``rate_limited`` with its wait; a
    code of ``busy`` (the platform's "system busy") → ``unavailable``; any other → ``refused``
    with ``errmsg``. A 2xx answer without an integer ``errcode`` → ``unavailable``.
    """
    decided = delivery_for_status(answer, mask=mask, rate_limit_seconds=rate_limit_seconds)
    if decided is not None:
        return decided
    document = read_object(answer)
    errcode = None if document is None else document.get("errcode")
    if not isinstance(errcode, int) or isinstance(errcode, bool):
        return Delivery("unavailable", f"HTTP {answer.status}", answer.excerpt(mask))
    assert document is not None
    text = mask(str(document.get("errmsg", "")))
    code = str(errcode)
    if errcode == 0:
        return Delivery("sent", code, text)
    if errcode in rate_limited:
        return Delivery("rate_limited", code, text, retry_after=rate_limited[errcode])
    if errcode in busy:
        return Delivery("unavailable", code, text)
    return Delivery("refused", code, text)
