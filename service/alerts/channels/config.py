"""Secrets of the channels: ``${ENV_VAR}`` placeholders resolved once, and masked everywhere.

A channel's key, token, signing secret, API key or password may be written in the configuration
as ``${QINGLIU_WECOM_KEY}``; :func:`resolve_secret` replaces each placeholder with the variable's
value when the channel is built. A missing or empty variable is a
:class:`~service.errors.ConfigurationError` naming it: nothing is ever sent with an empty key.

Secrets never reach a log line, an error message or a ``Delivery``: :class:`Masker` replaces
each of a channel's secrets (and its URL-encoded forms) with ``***``, and :func:`mask_url`
masks the query parameters that carry one (``key``, ``access_token``, ``sign`` …).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

from service.errors import ConfigurationError

__all__ = [
    "MASK",
    "SECRET_QUERY_PARAMETERS",
    "Masker",
    "http_url",
    "mask_url",
    "require",
    "resolve_all",
    "resolve_secret",
    "webhook_parts",
]

MASK = "***"
"""What a secret is replaced with."""
SECRET_QUERY_PARAMETERS = frozenset(
    {"key", "access_token", "token", "sign", "secret", "api_key", "apikey", "password"}
)
"""Query parameters whose values :func:`mask_url` hides."""

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def resolve_secret(text: str, environ: Mapping[str, str] | None = None) -> str:
    """``text`` with every ``${NAME}`` replaced by the environment variable ``NAME``.

    ``environ`` defaults to ``os.environ`` (read at call time; the default is ``None`` so that a
    signature shown by ``help()`` or generated docs never prints the environment).

    Text without a placeholder comes back unchanged.

    Raises
    ------
    ConfigurationError
        A variable is not set or is empty (the message names it, never a value).

    Examples
    --------
    >>> resolve_secret("${ROBOT_KEY}", {"ROBOT_KEY": "abc"})
    'abc'
    >>> resolve_secret("Bearer ${T}", {"T": "xyz"})
    'Bearer xyz'
    """

    variables = os.environ if environ is None else environ

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        found = variables.get(name, "")
        if not found:
            raise ConfigurationError(
                f"环境变量 {name} 未设置或为空 / the environment variable {name} is not set or "
                "is empty (a channel secret refers to it)"
            )
        return found

    return _PLACEHOLDER.sub(value, text)


def require(
    value: str | None, *, channel: str, name: str, environ: Mapping[str, str] | None = None
) -> str:
    """A channel's required secret, resolved (in ``environ``, default the process's): never
    empty.

    Raises
    ------
    ConfigurationError
        The value is missing or empty, or names a variable that is.
    """
    resolved = resolve_secret(value or "", environ)
    if not resolved.strip():
        raise ConfigurationError(
            f"告警通道 {channel} 缺少 {name} / channel {channel}: {name} is empty"
        )
    return resolved


def resolve_all(
    values: Iterable[str], *, channel: str, name: str, environ: Mapping[str, str] | None = None
) -> tuple[str, ...]:
    """Each of ``values`` resolved and stripped, never empty (e.g. a channel's fixed ``to``)."""
    return tuple(
        require(value, channel=channel, name=name, environ=environ).strip() for value in values
    )


def http_url(text: str, *, channel: str, name: str) -> str:
    """``text`` if it is an absolute http(s) URL with a host, without a trailing slash.

    Raises
    ------
    ConfigurationError
        Otherwise (the message shows the URL masked).
    """
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"告警通道 {channel} 的 {name} 不是 http(s) 地址 / channel {channel}: {name} is not "
            f"an http(s) URL: {mask_url(text)!r}"
        )
    return text.rstrip("/")


def webhook_parts(
    url: str, *, path: str, parameter: str, channel: str, environ: Mapping[str, str] | None = None
) -> tuple[str, str]:
    """The base URL and the credential of a robot's webhook URL, placeholders resolved.

    >>> webhook_parts("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=${K}",
    ...               path="/cgi-bin/webhook/send", parameter="key", channel="w",
    ...               environ={"K": "abc"})
    ('https://qyapi.weixin.qq.com', 'abc')

    Raises
    ------
    ConfigurationError
        A placeholder's variable is not set, the URL is not http(s), its path does not end in
        ``path`` or its ``parameter`` is missing or empty (messages show the URL masked).
    """
    resolved = resolve_secret(url, environ)
    parts = urlsplit(resolved)
    http_url(resolved, channel=channel, name="url")
    if not parts.path.rstrip("/").endswith(path):
        raise ConfigurationError(
            f"告警通道 {channel} 的地址应以 {path} 结尾 / channel {channel}: the URL path should "
            f"end in {path}: {mask_url(url)!r}"
        )
    credential = dict(parse_qsl(parts.query)).get(parameter, "")
    if not credential.strip():
        raise ConfigurationError(
            f"告警通道 {channel} 的地址缺少 {parameter} / channel {channel}: the URL has no "
            f"{parameter}: {mask_url(url)!r}"
        )
    prefix = parts.path.rstrip("/")[: -len(path)]
    return urlunsplit((parts.scheme, parts.netloc, prefix, "", "")), credential


def mask_url(url: str) -> str:
    """``url`` with the values of secret query parameters replaced by ``***`` and without
    ``user:password@``.

    >>> mask_url("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc")
    'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=***'
    """
    parts = urlsplit(url)
    pairs = [
        (name, MASK if name.lower() in SECRET_QUERY_PARAMETERS else value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    query = urlencode(pairs, safe="*") if parts.query else ""
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


class Masker:
    """Replaces a channel's secrets (as given, URL-encoded each usual way) with ``***`` in text."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets = frozenset(secret for secret in secrets if secret)
        forms = set()
        for secret in self._secrets:
            forms |= {secret, quote(secret), quote(secret, safe=""), quote_plus(secret)}
        self._forms = sorted(forms, key=len, reverse=True)  # longest first: no partial leftovers

    def __call__(self, text: str) -> str:
        for form in self._forms:
            text = text.replace(form, MASK)
        return text

    def plus(self, *secrets: str) -> Masker:
        """A masker of these secrets too (e.g. a signature computed for one request)."""
        return Masker((*self._secrets, *secrets))
