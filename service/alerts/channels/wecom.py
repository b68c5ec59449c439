"""WeCom (企业微信) group robot: ``POST {base_url}/cgi-bin/webhook/send?key=KEY``.

A message with mobiles goes as ``text`` with ``mentioned_mobile_list`` (the only way to @ people
by phone; content ≤ :data:`~service.alerts.channels.base.WECOM_TEXT_MAX_BYTES`), any other as
``markdown`` (content ≤ :data:`~service.alerts.channels.base.WECOM_MARKDOWN_MAX_BYTES`). Longer
content is cut on a UTF-8 character boundary and marked ``…（已截断）``.

Answers::

    errcode 0                       sent
    errcode 45009                   rate_limited, retry after 60 s (20 messages a minute)
    errcode -1 (system busy)        unavailable
    errcode 93000 (invalid key) and any other non-zero
                                    refused, with errmsg
    HTTP 429                        rate_limited (Retry-After, else 60 s)
    HTTP 408, 5xx, no connection, no answer in time
                                    unavailable
    other HTTP 3xx/4xx              refused

References
----------
.. [1] docs/feeds.md §3, WeCom group robot [V].
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import quote

from service.alerts.channels._http import (
    DEFAULT_TIMEOUT,
    HTTPX_ERRORS,
    delivery_for_exception,
    post_json,
    robot_delivery,
)
from service.alerts.channels.base import (
    WECOM_MARKDOWN_MAX_BYTES,
    WECOM_RATE_LIMIT_SECONDS,
    WECOM_TEXT_MAX_BYTES,
    Delivery,
    Message,
    log_delivery,
    truncate_utf8,
)
from service.alerts.channels.config import Masker, http_url, mask_url, require, webhook_parts
from service.errors import ConfigurationError

__all__ = ["RATE_LIMITED", "WECOM_BASE_URL", "WeComChannel"]

WECOM_BASE_URL = "https://qyapi.weixin.qq.com"
"""WeCom's API host [V]; override for a proxy or a test server."""
RATE_LIMITED = 45009
"""WeCom's errcode for "too many messages" [V]."""
_BUSY = frozenset({-1})  # WeCom's global "system busy, retry"
_PATH = "/cgi-bin/webhook/send"


class WeComChannel:
    """A WeCom group robot.

    Parameters
    ----------
    id : str
        This channel's id in the configuration.
    url : str, optional
        The robot's webhook URL as WeCom shows it,
        ``https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY`` (``${ENV_VAR}`` allowed
        anywhere, e.g. ``key=${QINGLIU_WECOM_KEY_OPS}``). Give ``url`` or ``key``.
    key : str, optional
        The robot's webhook key alone (``${ENV_VAR}`` allowed).
    base_url : str, optional
        Scheme and host (and a path prefix, for a proxy or a test server) that replace those of
        ``url`` (default: the URL's, else :data:`WECOM_BASE_URL`).
    timeout : float
        Seconds for each network operation [s].
    environ : mapping, optional
        Where ``${ENV_VAR}`` placeholders are looked up (default: the process environment).

    Raises
    ------
    ConfigurationError
        Neither or both of ``url`` and ``key``; a URL that is not a webhook URL; an empty key;
        a placeholder whose variable is not set.
    """

    kind: Final = "wecom"

    def __init__(
        self,
        *,
        id: str,
        url: str | None = None,
        key: str | None = None,
        base_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.id = id
        if (url is None) == (key is None):
            raise ConfigurationError(
                f"告警通道 {id} 需给出 url 或 key 之一 / channel {id}: give url or key (one)"
            )
        if url is not None:
            origin, self._key = webhook_parts(
                url, path=_PATH, parameter="key", channel=id, environ=environ
            )
        else:
            origin, self._key = (
                WECOM_BASE_URL,
                require(key, channel=id, name="key", environ=environ),
            )
        base = http_url(base_url or origin, channel=id, name="base_url")
        self._url = f"{base}{_PATH}?key={quote(self._key, safe='')}"
        self.timeout = timeout
        self._mask = Masker([self._key])
        self.target = mask_url(self._url)
        """The webhook URL with its key masked (for logs and records)."""

    def __repr__(self) -> str:
        return f"WeComChannel(id={self.id!r}, target={self.target!r})"

    @staticmethod
    def payload(message: Message) -> dict[str, Any]:
        """The JSON body for ``message``: ``text`` with mentions, or ``markdown``, cut to size."""
        if message.mobiles:
            return {
                "msgtype": "text",
                "text": {
                    "content": truncate_utf8(message.text, WECOM_TEXT_MAX_BYTES),
                    "mentioned_mobile_list": list(message.mobiles),
                },
            }
        content = truncate_utf8(message.markdown or message.text, WECOM_MARKDOWN_MAX_BYTES)
        return {"msgtype": "markdown", "markdown": {"content": content}}

    def send(self, message: Message) -> Delivery:
        """Send ``message`` once (see the module docstring for what each answer becomes)."""
        try:
            answer = post_json(self._url, self.payload(message), timeout=self.timeout)
        except HTTPX_ERRORS as exc:
            return log_delivery(self, self.target, delivery_for_exception(exc, mask=self._mask))
        delivery = robot_delivery(
            answer, mask=self._mask, rate_limited={RATE_LIMITED: WECOM_RATE_LIMIT_SECONDS},
            busy=_BUSY, rate_limit_seconds=WECOM_RATE_LIMIT_SECONDS,
        )  # fmt: skip
        return log_delivery(self, self.target, delivery)
