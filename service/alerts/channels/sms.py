"""SMS through a generic HTTP gateway: a template id, phone numbers, string parameters.

SMS providers take a template id and a parameter object whose values must **all be strings**;
per-phone daily caps apply (docs/feeds.md §3). Qingliu speaks one small JSON contract to a
gateway (a provider's own API, or a relay in front of it)::

    POST {url}                      Authorization: Bearer KEY (optional; or another header)
    {"template_id": "SMS_123", "phone_numbers": ["138…", "139…"],
     "params": {"section": "小范桥", "multiple": "1.8"}}

    200 {"code": "OK", "message": "…",
         "results": [{"phone": "138…", "code": "OK"},
                     {"phone": "139…", "code": "InvalidPhoneNumber", "message": "…"}]}

The success field and value (``code`` = ``"OK"``) are configurable; ``results`` is optional and
lists per-phone outcomes. Answers::

    success, no phone failed            sent
    success, some phones failed         sent, those phones in Delivery.rejected
    success, every phone failed         refused, every phone in Delivery.rejected
    not success (bad template, params)  refused, with the answer's code and message
    HTTP 429                            rate_limited (Retry-After, else 60 s)
    HTTP 408, 5xx, not JSON, no connection, no answer in time
                                        unavailable
    other HTTP 3xx/4xx (401: a wrong key)
                                        refused

A message without mobiles to a channel without ``to`` is refused without a request (code
``no_recipients``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from service.alerts.channels._http import (
    DEFAULT_TIMEOUT,
    HTTPX_ERRORS,
    delivery_for_exception,
    delivery_for_status,
    post_json,
    read_object,
)
from service.alerts.channels.base import _MOBILE, Delivery, Message, log_delivery
from service.alerts.channels.config import Masker, http_url, mask_url, require, resolve_all
from service.errors import ConfigurationError

__all__ = ["DEFAULT_RATE_LIMIT_SECONDS", "SmsChannel", "template_params"]

DEFAULT_RATE_LIMIT_SECONDS = 60.0
"""Wait after an HTTP 429 without ``Retry-After`` [s] [A]."""


def template_params(message: Message) -> dict[str, str]:
    """The template parameters of ``message``, every value a string (``None`` → ``""``).

    Without ``params``, the message's ``title`` and ``text``.

    >>> template_params(Message("超标", "小范桥氨氮超标", params={"multiple": 1.8, "n": None}))
    {'multiple': '1.8', 'n': ''}
    """
    params = message.params or {"title": message.title, "text": message.text}
    return {str(name): "" if value is None else str(value) for name, value in params.items()}


class SmsChannel:
    """An HTTP SMS gateway (see the module docstring for the contract).

    Parameters
    ----------
    id : str
        This channel's id in the configuration.
    url : str
        The gateway's send endpoint (a proxy or a test server alike; ``${ENV_VAR}`` allowed).
    template : str
        The provider's template id (e.g. ``SMS_123456``; ``${ENV_VAR}`` allowed).
    to : sequence of str
        Mobiles every message goes to, besides the message's own ``mobiles`` (``${ENV_VAR}``
        allowed).
    api_key : str, optional
        The gateway's API key (``${ENV_VAR}`` allowed), sent in ``api_key_header``.
    api_key_header : str
        The header carrying the key; ``Authorization`` sends ``Bearer KEY``, any other header
        the key itself.
    success_field, success_value : str
        The answer's field and value that mean success, for the whole request and for each
        entry of ``results``.
    timeout : float
        Seconds for each network operation [s].
    environ : mapping, optional
        Where ``${ENV_VAR}`` placeholders are looked up (default: the process environment).

    Raises
    ------
    ConfigurationError
        The URL is not http(s), the template is empty, a given key is empty, or a placeholder's
        variable is not set.
    """

    kind: Final = "sms"

    def __init__(
        self,
        *,
        id: str,
        url: str,
        template: str,
        to: Sequence[str] = (),
        api_key: str | None = None,
        api_key_header: str = "Authorization",
        success_field: str = "code",
        success_value: str = "OK",
        timeout: float = DEFAULT_TIMEOUT,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.id = id
        self._url = http_url(
            require(url, channel=id, name="url", environ=environ), channel=id, name="url"
        )
        self.template = require(template, channel=id, name="template", environ=environ)
        self.to = resolve_all(to, channel=id, name="to", environ=environ)
        for mobile in self.to:
            if not _MOBILE.fullmatch(mobile):
                raise ConfigurationError(
                    f"告警通道 {id} 的手机号无效 / channel {id}: not a mobile number in to: "
                    f"{mobile!r}"
                )
        self._headers: dict[str, str] = {}
        secrets = []
        if api_key is not None:
            key = require(api_key, channel=id, name="api_key", environ=environ)
            bearer = api_key_header.lower() == "authorization"
            self._headers[api_key_header] = f"Bearer {key}" if bearer else key
            secrets.append(key)
        self.success_field = success_field
        self.success_value = success_value
        self.timeout = timeout
        self._mask = Masker(secrets)
        self.target = mask_url(self._mask(self._url))
        """The gateway URL with any secret masked (for logs and records)."""

    def __repr__(self) -> str:
        return f"SmsChannel(id={self.id!r}, target={self.target!r}, template={self.template!r})"

    def recipients(self, message: Message) -> tuple[str, ...]:
        """The channel's ``to`` and the message's mobiles, each once, in order."""
        return tuple(dict.fromkeys((*self.to, *message.mobiles)))

    def payload(self, message: Message) -> dict[str, Any]:
        """The JSON body for ``message``."""
        return {
            "template_id": self.template,
            "phone_numbers": list(self.recipients(message)),
            "params": template_params(message),
        }

    def send(self, message: Message) -> Delivery:
        """Send ``message`` to ``to`` and its mobiles once (see the module docstring)."""
        phones = self.recipients(message)
        if not phones:
            delivery = Delivery("refused", "no_recipients", "短信没有收件号码 / no phone numbers")
            return log_delivery(self, self.target, delivery)
        try:
            answer = post_json(
                self._url, self.payload(message), timeout=self.timeout, headers=self._headers
            )
        except HTTPX_ERRORS as exc:
            return log_delivery(self, self.target, delivery_for_exception(exc, mask=self._mask))
        decided = delivery_for_status(
            answer, mask=self._mask, rate_limit_seconds=DEFAULT_RATE_LIMIT_SECONDS
        )
        if decided is not None:
            return log_delivery(self, self.target, decided)
        document = read_object(answer)
        if document is None:
            delivery = Delivery("unavailable", f"HTTP {answer.status}", answer.excerpt(self._mask))
            return log_delivery(self, self.target, delivery)
        return log_delivery(self, self.target, self._read(document, phones))

    def _ok(self, entry: Mapping[str, Any]) -> bool:
        return str(entry.get(self.success_field)) == self.success_value

    def _read(self, document: dict[str, Any], phones: tuple[str, ...]) -> Delivery:
        code = self._mask(str(document.get(self.success_field, "")))
        text = self._mask(str(document.get("message", "")))
        if not self._ok(document):
            return Delivery("refused", code or "no_code", text)
        results = document.get("results")
        rejected: list[tuple[str, str]] = []
        for entry in results if isinstance(results, list) else []:
            if isinstance(entry, dict) and not self._ok(entry):
                reason = str(entry.get(self.success_field, ""))
                if entry.get("message"):
                    reason += f": {entry['message']}"
                rejected.append((str(entry.get("phone", "")), self._mask(reason)))
        if {phone for phone, _ in rejected} >= set(phones):
            return Delivery("refused", code, text, rejected=tuple(rejected))
        return Delivery("sent", code, text, rejected=tuple(rejected))
