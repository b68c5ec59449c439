"""The alert channel extension point: :class:`Channel`, what it carries and what it answers.

A channel carries one :class:`Message` to people and answers with one :class:`Delivery`.

**Results, not exceptions.** ``send`` raises nothing for anything the network or the remote
service does: every outcome — sent, rate limited, refused, unavailable — comes back as a
``Delivery``, so that the outbox records every attempt the same way and decides from two
fields (``permanent``, ``retry_after``). Each transport maps its foreign errors in one place
(``service.alerts.channels._http.delivery_for_exception`` for httpx and sockets,
``service.alerts.channels.email.delivery_for_smtp_error`` for smtplib), tested for completeness.
A caller that wants an exception (a command, an API route) calls
:meth:`Delivery.raise_for_status`, which raises from the one error tree:

::

    ChannelError                         (service.errors)
    ├── ChannelUnavailable (UnavailableError)   503 / 5   "unavailable": retry with backoff
    │   └── RateLimited                                  "rate_limited": retry after retry_after
    └── ChannelRefused (ConfigurationError)     500 / 6   "refused": fix the key, secret,
                                                          keyword, IP whitelist or recipient

Configuration problems are found when a channel is built, never at send time: a missing
``${VAR}`` secret or an empty key raises :class:`~service.errors.ConfigurationError` from the
constructor (:func:`service.alerts.channels.config.resolve_secret`), so nothing is ever sent with
an empty key.

Pacing is the outbox's: the documented limits are here as constants
(:data:`WECOM_PER_MINUTE`, :data:`DINGTALK_PER_MINUTE`, :data:`MIN_SEND_INTERVAL`).

References
----------
.. [1] docs/feeds.md §3 (alert channels: formats, limits, error codes) [V]; the practical rule
   (one send every 3 s per robot, backoff on rate limiting, every attempt recorded) [A].
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, Protocol, get_args, runtime_checkable

from service.errors import ChannelRefused, ChannelUnavailable, InputError, RateLimited

__all__ = [
    "DINGTALK_BLOCK_SECONDS",
    "DINGTALK_PER_MINUTE",
    "LEVELS",
    "MIN_SEND_INTERVAL",
    "TRUNCATION_MARKER",
    "WECOM_MARKDOWN_MAX_BYTES",
    "WECOM_PER_MINUTE",
    "WECOM_RATE_LIMIT_SECONDS",
    "WECOM_TEXT_MAX_BYTES",
    "Channel",
    "Delivery",
    "DeliveryStatus",
    "Level",
    "Message",
    "log_delivery",
    "truncate_utf8",
]

logger = logging.getLogger("service.alerts.channels")

_MOBILE = re.compile(r"\+?[0-9]{5,15}")
_EMAIL = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+")

WECOM_PER_MINUTE = 20
"""Messages a WeCom group robot takes per minute [V]."""
WECOM_RATE_LIMIT_SECONDS = 60.0
"""Wait after WeCom's errcode 45009 (rate limited) [s]: the minute's window passes [A]."""
WECOM_TEXT_MAX_BYTES = 2048
"""Longest ``text`` content of a WeCom robot message, UTF-8 [bytes] [V]."""
WECOM_MARKDOWN_MAX_BYTES = 4096
"""Longest ``markdown`` content of a WeCom robot message, UTF-8 [bytes] [V]."""
DINGTALK_PER_MINUTE = 20
"""Messages a DingTalk custom robot takes per minute [V]."""
DINGTALK_BLOCK_SECONDS = 600.0
"""How long DingTalk blocks a robot that sent too fast (errcode 130101) [s] [V]."""
MIN_SEND_INTERVAL = 3.0
"""At most one send per robot every this many seconds (feeds.md's practical rule) [s] [A]."""
TRUNCATION_MARKER = "…（已截断）"
"""Appended to a text cut to a channel's byte limit."""

Level = Literal["info", "warning", "critical"]
"""How urgent a message is (e-mail marks ``critical`` as high priority)."""
LEVELS: tuple[Level, ...] = get_args(Level)
"""The levels, least urgent first."""

DeliveryStatus = Literal["sent", "rate_limited", "refused", "unavailable"]
"""What became of a send: delivered; wait ``retry_after``; never retry; retry with backoff."""


def truncate_utf8(text: str, limit: int, *, marker: str = TRUNCATION_MARKER) -> str:
    """``text`` if its UTF-8 form fits ``limit`` bytes, else its longest head that fits with
    ``marker`` appended, cut on a character boundary.

    >>> truncate_utf8("断面超标", 9, marker="…")
    '断面…'
    >>> cut = truncate_utf8("氨氮" * 1000, 2048)
    >>> len(cut.encode("utf-8")), cut[-6:]
    (2046, '…（已截断）')
    """
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    room = limit - len(marker.encode("utf-8"))
    if room < 0:
        raise ValueError(f"limit {limit} is shorter than the marker {marker!r}")
    return encoded[:room].decode("utf-8", errors="ignore") + marker


@dataclass(frozen=True, slots=True)
class Message:
    """One alert message, in every form a channel may want.

    Attributes
    ----------
    title : str
        One line: the e-mail subject, the DingTalk markdown title.
    text : str
        Plain text: robots' ``text`` messages, SMS fallback, the e-mail's plain part.
    markdown : str
        Markdown for the robots' ``markdown`` messages; ``""`` uses ``text``.
    html : str
        The e-mail's HTML part; ``""`` renders ``text`` as escaped HTML.
    mobiles : tuple of str
        Mobile numbers (digits, an optional leading ``+``): @-mentioned in a robot group, the
        recipients of an SMS.
    emails : tuple of str
        E-mail addresses (bare ``name@domain``): recipients, besides the channel's own ``to``.
    params : mapping of str to object
        SMS template parameters; each value is sent as a string. Empty: ``title`` and ``text``.
    level : {"info", "warning", "critical"}
        How urgent it is.
    """

    title: str
    text: str
    markdown: str = ""
    html: str = ""
    mobiles: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    params: Mapping[str, object] = field(default_factory=dict, hash=False)
    level: Level = "warning"

    def __post_init__(self) -> None:
        if not self.title.strip() or not self.text.strip():
            raise InputError("告警消息需要标题和正文 / a message needs a title and a text")
        if self.level not in LEVELS:
            raise InputError(
                f"未知告警级别 / unknown level {self.level!r}; one of {', '.join(LEVELS)}"
            )
        for name in ("mobiles", "emails"):
            value = getattr(self, name)
            if isinstance(value, str):
                raise InputError(f"{name} must be a sequence of strings, not one string")
            object.__setattr__(self, name, tuple(value))
        for mobile in self.mobiles:
            if not _MOBILE.fullmatch(mobile):
                raise InputError(f"手机号无效 / not a mobile number: {mobile!r}")
        for address in self.emails:
            if not _EMAIL.fullmatch(address):
                raise InputError(f"邮箱地址无效 / not an e-mail address: {address!r}")
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))


@dataclass(frozen=True, slots=True)
class Delivery:
    """What became of one send.

    Attributes
    ----------
    status : {"sent", "rate_limited", "refused", "unavailable"}
        ``sent``: the service took the message. ``rate_limited``: it refuses for now; send again
        after ``retry_after``. ``refused``: it refuses for good (key, signature, keyword, IP,
        recipient); do not retry. ``unavailable``: no connection, no answer in time, a 5xx or an
        unusable answer; retry with backoff.
    code : str
        The service's own code: ``"0"``, ``"45009"``, ``"130101"``, ``"HTTP 503"``,
        ``"SMTP 550"``, or the name of the error (``"ConnectTimeout"``).
    answer : str
        The service's answer text (``errmsg``, the SMTP reply, the start of a body) or the error,
        with every secret masked.
    retry_after : float or None
        Seconds to wait before sending again [s]; set exactly when ``status`` is
        ``"rate_limited"``.
    rejected : tuple of (str, str)
        Recipients refused within a delivery (phone or address, reason): an SMS gateway's
        per-phone errors, an SMTP server's refused recipients.
    """

    status: DeliveryStatus
    code: str
    answer: str = ""
    retry_after: float | None = None
    rejected: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.status not in get_args(DeliveryStatus):
            raise ValueError(f"unknown delivery status {self.status!r}")
        if (self.status == "rate_limited") != (self.retry_after is not None):
            raise ValueError("retry_after is set exactly for a rate_limited delivery")

    @property
    def ok(self) -> bool:
        """The service took the message (some recipients may be in ``rejected``)."""
        return self.status == "sent"

    @property
    def permanent(self) -> bool:
        """Sending it again cannot help: do not retry."""
        return self.status == "refused"

    def raise_for_status(self, *, channel: str = "") -> Delivery:
        """This delivery if it was sent, else the :class:`~service.errors.ChannelError` for it.

        Raises
        ------
        RateLimited
            ``rate_limited`` (carries ``retry_after``).
        ChannelUnavailable
            ``unavailable``.
        ChannelRefused
            ``refused``.
        """
        where = f"告警通道 {channel} / channel {channel}" if channel else "告警通道 / channel"
        detail = f"{self.code}: {self.answer}" if self.answer else self.code
        if self.status == "rate_limited":
            assert self.retry_after is not None
            raise RateLimited(
                f"{where}: 发送过快，{self.retry_after:g} 秒后重试 / rate limited, retry after "
                f"{self.retry_after:g} s ({detail})",
                retry_after=self.retry_after, channel=channel, code=self.code,
            )  # fmt: skip
        if self.status == "unavailable":
            raise ChannelUnavailable(
                f"{where}: 暂不可用，稍后重试 / unavailable, retry later ({detail})",
                channel=channel, code=self.code,
            )  # fmt: skip
        if self.status == "refused":
            raise ChannelRefused(
                f"{where}: 被拒收，请检查配置或收件人 / refused, check the configuration or the "
                f"recipient ({detail})",
                channel=channel, code=self.code,
            )  # fmt: skip
        return self


@runtime_checkable
class Channel(Protocol):
    """Carries a message to people: the one extension point for alert channels.

    A channel is built from plain keyword arguments (secrets may be ``${ENV_VAR}``
    placeholders) and is stateless between sends: pacing, batching, retries and the record of
    attempts belong to the outbox.
    """

    @property
    def kind(self) -> str:
        """The kind of channel: ``"wecom"``, ``"dingtalk"``, ``"sms"``, ``"email"`` …"""
        ...

    @property
    def id(self) -> str:
        """This channel's id in the configuration (one per robot, gateway or mail server)."""
        ...

    def send(self, message: Message) -> Delivery:
        """Send ``message`` once and say what became of it.

        Never raises for what the network or the service does (see the module docstring);
        returns within the channel's timeout (per network operation).
        """
        ...


def log_delivery(channel: Channel, target: str, delivery: Delivery) -> Delivery:
    """Log one send (info when sent, warning otherwise) and return ``delivery``.

    ``target`` is the channel's masked address (:func:`~service.alerts.channels.config.mask_url`);
    the delivery's answer is already masked.
    """
    level = logging.INFO if delivery.ok else logging.WARNING
    logger.log(
        level, "告警通道 %s (%s) → %s: %s %s %s", channel.id, channel.kind, target,
        delivery.status, delivery.code, delivery.answer,
    )  # fmt: skip
    return delivery
