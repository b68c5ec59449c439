"""Channels from the river-chief registry: one :class:`~service.alerts.channels.Channel` per entry.

The registry (:class:`~sections.river_chiefs.RiverChiefs`) says *where* messages go, with every
secret a ``${VAR}`` placeholder; :mod:`service.alerts.channels` says *how*. This module joins the
two, once, where a process starts sending (the outbox's sender, ``qingliu alerts test``):

- ``wecom`` — :class:`~service.alerts.channels.WeComChannel` from the entry's ``url``;
- ``dingtalk`` — :class:`~service.alerts.channels.DingTalkChannel` from ``url`` and the signing
  ``secret``;
- ``sms`` — :class:`~service.alerts.channels.SmsChannel` from ``url``, ``template`` and ``to``.
  The gateway's API key (sent as ``Authorization: Bearer KEY``) is the entry's ``secret`` when it
  has one, else a key query parameter of the URL (``api_key``, ``apikey``, ``key``, ``token``,
  ``access_token``, written as ``${VAR}``), taken out of the URL; without either, no key is sent;
- ``email`` — :class:`~service.alerts.channels.EmailChannel` to the entry's ``to`` (and each
  message's addresses) through the SMTP server of the settings (``QINGLIU_SMTP_*``; port 465
  means implicit TLS).

Placeholders are resolved from ``environ`` (default: the process environment) when a channel is
built; a missing variable raises :class:`~service.errors.ConfigurationError` naming it.
:func:`build_channels` builds every entry it can and reports the others, so one missing key
never silences the other channels.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sections.river_chiefs import PLACEHOLDER, RiverChiefs, load_river_chiefs
from service.alerts.ack_links import AckLinks, ack_links_from
from service.alerts.channels import (
    Channel,
    DingTalkChannel,
    EmailChannel,
    SmsChannel,
    WeComChannel,
)
from service.alerts.channels.email import DEFAULT_SMTPS_PORT
from service.errors import ConfigurationError

if TYPE_CHECKING:
    from sections.registry import Registry
    from sections.river_chiefs import ChannelEntry
    from service.settings import Settings

__all__ = [
    "SMS_KEY_PARAMETERS",
    "AlertSetup",
    "BuiltChannels",
    "ChannelProblem",
    "alert_setup",
    "build_channel",
    "build_channels",
]

logger = logging.getLogger("service.alerts.factory")

SMS_KEY_PARAMETERS = ("api_key", "apikey", "key", "token", "access_token")
"""Query parameters of an SMS gateway URL that carry its API key (taken out, sent as a header)."""


@dataclass(frozen=True, slots=True)
class ChannelProblem:
    """A registry channel that could not be built.

    Attributes
    ----------
    channel : str
        The entry's id.
    kind : str
        Its kind (``wecom``, ``dingtalk``, ``sms``, ``email``).
    message : str
        The configuration error, bilingual, naming the missing variable or setting (no secret).
    variables : tuple of str
        The entry's ``${VAR}`` variables that are unset or empty in the environment.
    """

    channel: str
    kind: str
    message: str
    variables: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.channel} ({self.kind}): {self.message}"


class BuiltChannels(dict[str, Channel]):
    """Channel id → channel, for every entry that could be built, and the ``problems`` of the
    others (in registry order)."""

    problems: tuple[ChannelProblem, ...]

    def __init__(
        self, channels: Mapping[str, Channel] | None = None,
        problems: tuple[ChannelProblem, ...] = (),
    ) -> None:  # fmt: skip
        super().__init__(channels or {})
        self.problems = problems


def build_channel(
    entry: ChannelEntry, *, settings: Settings, environ: Mapping[str, str] | None = None
) -> Channel:
    """The channel for one registry entry, its placeholders resolved from ``environ``.

    Parameters
    ----------
    entry : ChannelEntry
        A ``[[channels]]`` entry of the river-chief registry.
    settings : Settings
        The SMTP server of e-mail channels (``smtp_*``).
    environ : mapping, optional
        Where ``${VAR}`` placeholders are looked up (default: the process environment).

    Raises
    ------
    ConfigurationError
        A placeholder's variable is unset or empty (named), an SMS channel without a template, an
        e-mail channel without ``QINGLIU_SMTP_HOST`` or ``QINGLIU_SMTP_SENDER``, or anything the
        channel's constructor refuses.
    """
    if entry.kind == "wecom":
        return WeComChannel(id=entry.id, url=_needed(entry.url, entry, "url"), environ=environ)
    if entry.kind == "dingtalk":
        return DingTalkChannel(
            id=entry.id, url=_needed(entry.url, entry, "url"), secret=entry.secret,
            environ=environ,
        )  # fmt: skip
    if entry.kind == "sms":
        url, key = _sms_url_and_key(_needed(entry.url, entry, "url"))
        return SmsChannel(
            id=entry.id, url=url, template=_needed(entry.template, entry, "template"),
            to=entry.to, api_key=entry.secret if entry.secret is not None else key,
            environ=environ,
        )  # fmt: skip
    if entry.kind == "email":
        return _email(entry, settings=settings, environ=environ)
    raise ConfigurationError(
        f"告警通道 {entry.id} 的类型未知 / channel {entry.id}: unknown kind {entry.kind!r}"
    )


def build_channels(
    chiefs: RiverChiefs, *, settings: Settings, environ: Mapping[str, str] | None = None
) -> BuiltChannels:
    """Every channel of the registry that can be built; the others reported, not raised.

    Returns
    -------
    BuiltChannels
        A ``dict`` of channel id → channel, with ``problems``: one
        :class:`ChannelProblem` per entry whose configuration is incomplete (each also logged
        as a warning). Other errors propagate.
    """
    import os

    env = os.environ if environ is None else environ
    built: dict[str, Channel] = {}
    problems: list[ChannelProblem] = []
    for entry in chiefs.channels:
        try:
            built[entry.id] = build_channel(entry, settings=settings, environ=env)
        except ConfigurationError as exc:
            missing = tuple(name for name in entry.variables if not env.get(name, "").strip())
            problem = ChannelProblem(entry.id, entry.kind, str(exc), missing)
            logger.warning("告警通道未建立 / channel not built: %s", problem)
            problems.append(problem)
    return BuiltChannels(built, tuple(problems))


# --- per kind ---------------------------------------------------------------------------------


def _needed(value: str | None, entry: ChannelEntry, name: str) -> str:
    if value is None or not value.strip():
        raise ConfigurationError(
            f"告警通道 {entry.id} 缺少 {name} / channel {entry.id} ({entry.kind}) needs {name}"
        )
    return value


def _sms_url_and_key(url: str) -> tuple[str, str | None]:
    """The gateway URL without its key parameter, and that key (a ``${VAR}`` placeholder)."""
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    key = next(
        (value for name, value in pairs
         if name.lower() in SMS_KEY_PARAMETERS and PLACEHOLDER.fullmatch(value)),
        None,
    )  # fmt: skip
    if key is None:
        return url, None
    rest = [(name, value) for name, value in pairs if value != key]
    query = urlencode(rest, safe="${}")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment)), key


def _email(
    entry: ChannelEntry, *, settings: Settings, environ: Mapping[str, str] | None
) -> EmailChannel:
    for name in ("smtp_host", "smtp_sender"):
        if getattr(settings, name) is None:
            variable = f"QINGLIU_{name.upper()}"
            raise ConfigurationError(
                f"邮件通道 {entry.id} 需设置 {variable} / e-mail channel {entry.id}: "
                f"{variable} is not set"
            )
    assert settings.smtp_host is not None and settings.smtp_sender is not None
    password = settings.smtp_password
    return EmailChannel(
        id=entry.id, host=settings.smtp_host, sender=settings.smtp_sender,
        port=settings.smtp_port, to=entry.to, username=settings.smtp_username,
        password=None if password is None else password.get_secret_value(),
        require_starttls=settings.smtp_starttls,
        implicit_tls=settings.smtp_port == DEFAULT_SMTPS_PORT, environ=environ,
    )  # fmt: skip


@dataclass(frozen=True)
class AlertSetup:
    """What the service sends with: the river chiefs, their channels, the links, problems."""

    chiefs: RiverChiefs
    channels: BuiltChannels
    links: AckLinks | None
    problems: tuple[str, ...]


def alert_setup(
    *, settings: Settings, registry: Registry, environ: Mapping[str, str] | None = None
) -> AlertSetup:
    """The river chiefs of ``settings.chiefs``, the channels that can be built (the others are
    problems), and the signed acknowledgement links (none, and a problem, without a base URL or
    a key)."""
    chiefs = load_river_chiefs(settings.chiefs, registry=registry)
    channels = build_channels(chiefs, settings=settings, environ=environ)
    links, missing = ack_links_from(settings)
    problems = [f"{p.channel}: {p.message}" for p in channels.problems]
    return AlertSetup(chiefs, channels, links, tuple(problems + ([missing] if missing else [])))
