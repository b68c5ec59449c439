"""DingTalk (钉钉) custom robot: ``POST {base_url}/robot/send?access_token=TOKEN``.

With a signing secret (加签) each request adds ``&timestamp=MS&sign=S``, where ``MS`` is the time
in milliseconds and ``S`` the URL-encoded base64 of HMAC-SHA256(key = secret, message =
``f"{MS}\\n{secret}"``) (:func:`sign`); DingTalk refuses a timestamp more than an hour off.

A message with mobiles goes as ``text`` with ``at.atMobiles`` (each ``@mobile`` is written into
the text too, or DingTalk shows no mention), any other as ``markdown`` with ``title`` and
``text``.

DingTalk answers errors as HTTP 200 with ``errcode`` ≠ 0: always read it::

    errcode 0                       sent
    errcode 130101                  rate_limited, retry after 600 s (the robot is blocked for
                                    10 minutes after more than 20 messages a minute)
    errcode -1 (system busy)        unavailable
    errcode 310000 (keyword, signature, timestamp or IP check failed), 300001 (no such token)
    and any other non-zero          refused, with errmsg
    HTTP 429                        rate_limited (Retry-After, else 600 s)
    HTTP 408, 5xx, no connection, no answer in time
                                    unavailable
    other HTTP 3xx/4xx              refused

References
----------
.. [1] docs/feeds.md §3, DingTalk custom robot [V].
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import quote, quote_plus

from service.alerts.channels._http import (
    DEFAULT_TIMEOUT,
    HTTPX_ERRORS,
    delivery_for_exception,
    post_json,
    robot_delivery,
)
from service.alerts.channels.base import (
    DINGTALK_BLOCK_SECONDS,
    Delivery,
    Message,
    log_delivery,
)
from service.alerts.channels.config import Masker, http_url, mask_url, require, webhook_parts
from service.errors import ConfigurationError

__all__ = ["DINGTALK_BASE_URL", "RATE_LIMITED", "REFUSED", "DingTalkChannel", "sign"]

DINGTALK_BASE_URL = "https://oapi.dingtalk.com"
"""DingTalk's API host [V]; override for a proxy or a test server."""
RATE_LIMITED = 130101
"""DingTalk's errcode for "sending too fast": the robot is blocked for 10 minutes [V]."""
REFUSED = 310000
"""DingTalk's errcode for a failed keyword, signature, timestamp or IP check [V]."""
_BUSY = frozenset({-1})
_PATH = "/robot/send"


def sign(secret: str, timestamp_ms: int) -> str:
    """The signature of a request at ``timestamp_ms`` (base64, before URL encoding).

    base64(HMAC-SHA256(key = secret, message = ``f"{timestamp_ms}\\n{secret}"``)).

    >>> sign("SEC-test", 1700000000000) == sign("SEC-test", 1700000000000)
    True
    >>> len(sign("SEC-test", 1700000000000))
    44
    """
    message = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class DingTalkChannel:
    """A DingTalk custom robot.

    Parameters
    ----------
    id : str
        This channel's id in the configuration.
    url : str, optional
        The robot's webhook URL as DingTalk shows it,
        ``https://oapi.dingtalk.com/robot/send?access_token=TOKEN`` (``${ENV_VAR}`` allowed
        anywhere). Give ``url`` or ``token``.
    token : str, optional
        The robot's ``access_token`` alone (``${ENV_VAR}`` allowed).
    secret : str, optional
        The signing secret (``SEC…``) when the robot uses 加签 (``${ENV_VAR}`` allowed); a value
        naming an unset variable is an error, never an unsigned send.
    base_url : str, optional
        Scheme and host (and a path prefix, for a proxy or a test server) that replace those of
        ``url`` (default: the URL's, else :data:`DINGTALK_BASE_URL`).
    timeout : float
        Seconds for each network operation [s].
    clock : callable
        The current time in seconds since the epoch, for ``timestamp`` (tests inject one).
    environ : mapping, optional
        Where ``${ENV_VAR}`` placeholders are looked up (default: the process environment).

    Raises
    ------
    ConfigurationError
        Neither or both of ``url`` and ``token``; a URL that is not a webhook URL; an empty
        token or (given) secret; a placeholder whose variable is not set.
    """

    kind: Final = "dingtalk"

    def __init__(
        self,
        *,
        id: str,
        url: str | None = None,
        token: str | None = None,
        secret: str | None = None,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.time,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.id = id
        if (url is None) == (token is None):
            raise ConfigurationError(
                f"告警通道 {id} 需给出 url 或 token 之一 / channel {id}: give url or token (one)"
            )
        if url is not None:
            origin, self._token = webhook_parts(
                url, path=_PATH, parameter="access_token", channel=id, environ=environ
            )
        else:
            origin = DINGTALK_BASE_URL
            self._token = require(token, channel=id, name="token", environ=environ)
        base = http_url(base_url or origin, channel=id, name="base_url")
        self._secret = (
            None if secret is None else require(secret, channel=id, name="secret", environ=environ)
        )
        self._url = f"{base}{_PATH}?access_token={quote(self._token, safe='')}"
        self.timeout = timeout
        self.clock = clock
        self._mask = Masker([self._token, *([self._secret] if self._secret else [])])
        self.target = mask_url(self._url)
        """The webhook URL with its token masked (for logs and records)."""

    def __repr__(self) -> str:
        signed = "signed" if self._secret else "unsigned"
        return f"DingTalkChannel(id={self.id!r}, target={self.target!r}, {signed})"

    @staticmethod
    def payload(message: Message) -> dict[str, Any]:
        """The JSON body for ``message``: ``text`` with ``at.atMobiles``, or ``markdown``."""
        if message.mobiles:
            missing = [
                f"@{mobile}" for mobile in message.mobiles if f"@{mobile}" not in message.text
            ]
            content = message.text + ("\n" + " ".join(missing) if missing else "")
            return {
                "msgtype": "text",
                "text": {"content": content},
                "at": {"atMobiles": list(message.mobiles), "isAtAll": False},
            }
        return {
            "msgtype": "markdown",
            "markdown": {"title": message.title, "text": message.markdown or message.text},
        }

    def _signed_url(self) -> tuple[str, Masker]:
        if self._secret is None:
            return self._url, self._mask
        timestamp = int(self.clock() * 1000)
        signature = sign(self._secret, timestamp)
        url = f"{self._url}&timestamp={timestamp}&sign={quote_plus(signature)}"
        return url, self._mask.plus(signature)

    def send(self, message: Message) -> Delivery:
        """Send ``message`` once (see the module docstring for what each answer becomes)."""
        url, mask = self._signed_url()
        try:
            answer = post_json(url, self.payload(message), timeout=self.timeout)
        except HTTPX_ERRORS as exc:
            return log_delivery(self, self.target, delivery_for_exception(exc, mask=mask))
        delivery = robot_delivery(
            answer, mask=mask, rate_limited={RATE_LIMITED: DINGTALK_BLOCK_SECONDS}, busy=_BUSY,
            rate_limit_seconds=DINGTALK_BLOCK_SECONDS,
        )  # fmt: skip
        return log_delivery(self, self.target, delivery)
