"""Fake alert services, each a real server on 127.0.0.1, answering as docs/feeds.md §3 says.

- :class:`FakeWeCom` — a WeCom group robot: checks the key (93000), the msgtype and the byte
  limits of ``text`` (2048) and ``markdown`` (4096) content (40058), answers 45009 after
  ``per_minute`` messages within a minute or while ``rate_limited`` is set; records messages.
- :class:`FakeDingTalk` — a DingTalk custom robot: checks the token (300001); with a secret,
  recomputes the signature and checks the timestamp is within an hour (310000), checks the
  keywords when given (310000); answers 130101 after ``per_minute`` messages a minute or while
  ``rate_limited`` is set, and then stays blocked for 10 minutes; records messages and queries.
- :class:`FakeSmsGateway` — the generic SMS gateway contract of ``service.alerts.channels.sms``:
  checks the bearer key (401), the template, that every parameter value is a string
  (``InvalidParameter``); per-phone results for invalid or capped phones; records requests.
- :class:`FakeSmtp` — a real SMTP server (aiosmtpd): optional STARTTLS, AUTH, refused
  (550) or temporarily refused (450) recipients; records each mail with whether it came
  over TLS and who logged in.
- :class:`SilentServer` — accepts connections and never answers (a hung service);
  :func:`closed_port` — a port nobody listens on.

Every HTTP fake can be told to answer a given HTTP status (``fail_status``) to stand for a
broken service or proxy; like many proxies' error pages, that answer quotes the full request URL
(so tests see that the key is masked in what the channel reports).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import ssl
import subprocess
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = [
    "FakeDingTalk",
    "FakeSmsGateway",
    "FakeSmtp",
    "FakeWeCom",
    "ReceivedMail",
    "SilentServer",
    "closed_port",
    "free_port",
    "make_certificate",
]


def free_port() -> int:
    """A loopback port free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def closed_port() -> int:
    """A loopback port with nothing listening (connections are refused)."""
    return free_port()


class _Window:
    """Counts sends within the last minute."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.times: deque[float] = deque()

    def full(self, limit: int) -> bool:
        now = self.clock()
        while self.times and now - self.times[0] >= 60:
            self.times.popleft()
        return len(self.times) >= limit

    def add(self) -> None:
        self.times.append(self.clock())


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError:
        return None


@dataclass
class FakeWeCom:
    """A WeCom group robot at ``/cgi-bin/webhook/send?key=KEY``."""

    key: str
    per_minute: int = 20
    rate_limited: bool = False
    fail_status: int = 0
    clock: Callable[[], float] = time.monotonic
    messages: list[dict[str, Any]] = field(default_factory=list)
    answers: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._window = _Window(self.clock)

    def _answer(self, errcode: int, errmsg: str) -> JSONResponse:
        self.answers.append({"errcode": errcode, "errmsg": errmsg})
        return JSONResponse({"errcode": errcode, "errmsg": errmsg})

    async def send(self, request: Request) -> Response:
        if self.fail_status:
            return Response(f"upstream error for {request.url}", status_code=self.fail_status)
        if request.query_params.get("key") != self.key:
            return self._answer(93000, "invalid webhook url, hint: [1700000000_1] more info")
        if self.rate_limited or self._window.full(self.per_minute):
            return self._answer(45009, "api freq out of limit, hint: [1700000000_2]")
        body = await _json(request)
        if not isinstance(body, dict) or body.get("msgtype") not in ("text", "markdown"):
            return self._answer(40008, "invalid message type")
        kind = body["msgtype"]
        content = body.get(kind, {}).get("content")
        if not isinstance(content, str) or not content:
            return self._answer(44004, "empty content")
        limit = 2048 if kind == "text" else 4096
        if len(content.encode("utf-8")) > limit:
            return self._answer(40058, f"{kind}.content exceed max length {limit}")
        mentions = body[kind].get("mentioned_mobile_list", [])
        if not isinstance(mentions, list) or not all(isinstance(m, str) for m in mentions):
            return self._answer(40058, "mentioned_mobile_list must be strings")
        self._window.add()
        self.messages.append(body)
        return self._answer(0, "ok")

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/cgi-bin/webhook/send", self.send, methods=["POST"])])


def dingtalk_signature(secret: str, timestamp: str) -> str:
    """DingTalk's signature, computed here independently of the code under test."""
    mac = hmac.new(secret.encode(), (timestamp + "\n" + secret).encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


@dataclass
class FakeDingTalk:
    """A DingTalk custom robot at ``/robot/send?access_token=TOKEN[&timestamp&sign]``."""

    token: str
    secret: str | None = None
    keywords: tuple[str, ...] = ()
    per_minute: int = 20
    rate_limited: bool = False
    fail_status: int = 0
    clock: Callable[[], float] = time.time
    messages: list[dict[str, Any]] = field(default_factory=list)
    queries: list[dict[str, str]] = field(default_factory=list)
    answers: list[dict[str, Any]] = field(default_factory=list)
    blocked_until: float = 0.0

    def __post_init__(self) -> None:
        self._window = _Window(self.clock)

    def _answer(self, errcode: int, errmsg: str) -> JSONResponse:
        self.answers.append({"errcode": errcode, "errmsg": errmsg})
        return JSONResponse({"errcode": errcode, "errmsg": errmsg})  # errors too: HTTP 200

    def _signature_problem(self, query: dict[str, str]) -> str:
        if self.secret is None:
            return ""
        timestamp, signature = query.get("timestamp", ""), query.get("sign", "")
        if not timestamp.isdigit() or not signature:
            return "sign not match, more: [missing timestamp or sign]"
        if abs(self.clock() * 1000 - int(timestamp)) > 3600 * 1000:
            return "invalid timestamp, more: [timestamp is more than 1 hour off]"
        if not hmac.compare_digest(signature, dingtalk_signature(self.secret, timestamp)):
            return "sign not match, more: [sign does not match]"
        return ""

    async def send(self, request: Request) -> Response:
        if self.fail_status:
            return Response(f"bad gateway for {request.url}", status_code=self.fail_status)
        query = dict(request.query_params)
        self.queries.append(query)
        if query.get("access_token") != self.token:
            return self._answer(300001, "token is not exist")
        problem = self._signature_problem(query)
        if problem:
            return self._answer(310000, problem)
        now = self.clock()
        if self.rate_limited or now < self.blocked_until or self._window.full(self.per_minute):
            self.blocked_until = max(self.blocked_until, now + 600)
            return self._answer(130101, "send too fast, exceed 20 times per minute")
        body = await _json(request)
        if not isinstance(body, dict) or body.get("msgtype") not in ("text", "markdown"):
            return self._answer(40035, "缺少参数 msgtype")
        part = body.get(body["msgtype"], {})
        content = part.get("content" if body["msgtype"] == "text" else "text")
        if not isinstance(content, str) or not content:
            return self._answer(40035, "缺少参数 content")
        if self.keywords and not any(word in content for word in self.keywords):
            return self._answer(310000, "keywords not in content, more: [关键词不匹配]")
        self._window.add()
        self.messages.append(body)
        return self._answer(0, "ok")

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/robot/send", self.send, methods=["POST"])])


@dataclass
class FakeSmsGateway:
    """The generic SMS gateway at ``/sms/send`` (the contract of the SMS channel)."""

    api_key: str
    templates: tuple[str, ...] = ("SMS_ALERT",)
    invalid_phones: tuple[str, ...] = ()
    capped_phones: tuple[str, ...] = ()
    fail_status: int = 0
    retry_after: str | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)

    async def send(self, request: Request) -> Response:
        self.authorizations.append(request.headers.get("authorization", ""))
        if self.fail_status:
            headers = {"Retry-After": self.retry_after} if self.retry_after else {}
            return JSONResponse({"code": "Throttled", "message": f"slow down ({request.url})"},
                                status_code=self.fail_status, headers=headers)  # fmt: skip
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return JSONResponse({"code": "Unauthorized", "message": "bad api key"}, 401)
        body = await _json(request)
        if not isinstance(body, dict):
            return JSONResponse({"code": "InvalidJson", "message": "not a JSON object"}, 400)
        if body.get("template_id") not in self.templates:
            return JSONResponse({"code": "InvalidTemplate", "message": "no such template"})
        params = body.get("params")
        if not isinstance(params, dict):
            return JSONResponse({"code": "InvalidParameter", "message": "params: an object"})
        for name, value in params.items():
            if not isinstance(value, str):
                return JSONResponse(
                    {"code": "InvalidParameter", "message": f"params.{name} must be a string"}
                )
        phones = body.get("phone_numbers")
        if not isinstance(phones, list) or not phones:
            return JSONResponse({"code": "InvalidParameter", "message": "no phone numbers"})
        self.requests.append(body)
        results = []
        for phone in phones:
            if phone in self.invalid_phones:
                results.append({"phone": phone, "code": "InvalidPhoneNumber",
                                "message": "not a mobile number"})  # fmt: skip
            elif phone in self.capped_phones:
                results.append({"phone": phone, "code": "DailyLimitExceeded",
                                "message": "daily cap of this number reached"})  # fmt: skip
            else:
                results.append({"phone": phone, "code": "OK"})
        return JSONResponse({"code": "OK", "message": "accepted", "results": results})

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/sms/send", self.send, methods=["POST"])])


@dataclass(frozen=True)
class ReceivedMail:
    """One mail the fake SMTP server took."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes
    tls: bool
    login: str | None

    def parsed(self) -> EmailMessage:
        return message_from_bytes(self.content, policy=policy.default)


class FakeSmtp:
    """A real SMTP server (aiosmtpd) on 127.0.0.1, in its own thread (a context manager).

    Parameters
    ----------
    refuse, temporary : tuple of str
        Recipients answered 550 (no such mailbox) and 450 (try again later) at RCPT.
    tls_context : ssl.SSLContext, optional
        Offer STARTTLS with this server context.
    credentials : (str, str), optional
        Offer AUTH and accept these (over TLS only when ``tls_context`` is given).
    """

    def __init__(
        self,
        *,
        refuse: tuple[str, ...] = (),
        temporary: tuple[str, ...] = (),
        tls_context: ssl.SSLContext | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.refuse = refuse
        self.temporary = temporary
        self.credentials = credentials
        self.mails: list[ReceivedMail] = []
        self.port = free_port()
        kwargs: dict[str, Any] = {"hostname": "127.0.0.1", "port": self.port}
        if tls_context is not None:
            kwargs["tls_context"] = tls_context
        if credentials is not None:
            kwargs["authenticator"] = self._authenticate
            kwargs["auth_require_tls"] = tls_context is not None
        self.controller = Controller(self, **kwargs)

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        given = (
            (data.login.decode(), data.password.decode())
            if isinstance(data, LoginPassword)
            else None
        )
        ok = given is not None and given == self.credentials
        return AuthResult(success=ok, handled=False, auth_data=data if ok else None)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str,
        rcpt_options: list[str],
    ) -> str:  # fmt: skip
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        if address in self.temporary:
            return f"450 4.2.0 <{address}>: greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        login = session.auth_data
        self.mails.append(
            ReceivedMail(
                mail_from=str(envelope.mail_from),
                rcpt_tos=tuple(envelope.rcpt_tos),
                content=bytes(cast(bytes, envelope.original_content)),
                tls=session.ssl is not None,
                login=login.login.decode() if isinstance(login, LoginPassword) else None,
            )
        )
        return "250 2.0.0 queued"

    def __enter__(self) -> FakeSmtp:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


class SilentServer:
    """Listens on a loopback port, never accepts, never answers (a context manager).

    The kernel completes the TCP handshake from the backlog, so a client connects, sends and
    then waits for an answer that never comes: its read timeout must end the wait.
    """

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])

    def __enter__(self) -> SilentServer:
        self.sock.listen(16)
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


def make_certificate(directory: Path) -> tuple[ssl.SSLContext, ssl.SSLContext] | None:
    """A self-signed certificate for 127.0.0.1 made with the ``openssl`` command: the server's
    and a client's context (trusting only it); None when ``openssl`` cannot make one."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    command = [
        "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
    ]  # fmt: skip
    try:
        subprocess.run(command, check=True, capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(cert))
    return server, client
