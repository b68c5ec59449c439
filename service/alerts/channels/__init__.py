"""Alert channels: carry one message to people and say what became of it.

The extension point is :class:`Channel` (``kind``, ``id``, ``send(message) -> Delivery``),
declared in :mod:`~service.alerts.channels.base` with :class:`Message` and :class:`Delivery`.
Built-ins, each built from plain keyword arguments:

- :class:`WeComChannel` — a WeCom (企业微信) group robot (:mod:`.wecom`);
- :class:`DingTalkChannel` — a DingTalk (钉钉) custom robot, signed (:mod:`.dingtalk`);
- :class:`SmsChannel` — an HTTP SMS gateway with a template (:mod:`.sms`);
- :class:`EmailChannel` — SMTP with STARTTLS, plain text and HTML (:mod:`.email`).

``send`` raises nothing for what the network or the service does: every outcome is a
:class:`Delivery` (``sent``, ``rate_limited`` with ``retry_after``, ``refused`` = permanent,
``unavailable`` = retry with backoff); :meth:`Delivery.raise_for_status` turns one into the
error tree (``ChannelError`` in :mod:`service.errors`) for a caller that wants to raise.
Secrets may be ``${ENV_VAR}`` placeholders (:func:`resolve_secret`) and are masked in every log
line, record and error. Pacing, batching and retries are the outbox's.

References
----------
.. [1] docs/feeds.md §3 (formats, limits, error codes); docs/alerts.md "Channels".
"""

from service.alerts.channels._http import DEFAULT_TIMEOUT
from service.alerts.channels.base import (
    DINGTALK_BLOCK_SECONDS,
    DINGTALK_PER_MINUTE,
    LEVELS,
    MIN_SEND_INTERVAL,
    TRUNCATION_MARKER,
    WECOM_MARKDOWN_MAX_BYTES,
    WECOM_PER_MINUTE,
    WECOM_RATE_LIMIT_SECONDS,
    WECOM_TEXT_MAX_BYTES,
    Channel,
    Delivery,
    DeliveryStatus,
    Level,
    Message,
    truncate_utf8,
)
from service.alerts.channels.config import mask_url, resolve_secret
from service.alerts.channels.dingtalk import DINGTALK_BASE_URL, DingTalkChannel, sign
from service.alerts.channels.email import (
    DEFAULT_SMTP_PORT,
    DEFAULT_SMTP_TIMEOUT,
    DEFAULT_SMTPS_PORT,
    EmailChannel,
)
from service.alerts.channels.sms import SmsChannel
from service.alerts.channels.wecom import WECOM_BASE_URL, WeComChannel

__all__ = [
    "DEFAULT_SMTPS_PORT",
    "DEFAULT_SMTP_PORT",
    "DEFAULT_SMTP_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "DINGTALK_BASE_URL",
    "DINGTALK_BLOCK_SECONDS",
    "DINGTALK_PER_MINUTE",
    "LEVELS",
    "MIN_SEND_INTERVAL",
    "TRUNCATION_MARKER",
    "WECOM_BASE_URL",
    "WECOM_MARKDOWN_MAX_BYTES",
    "WECOM_PER_MINUTE",
    "WECOM_RATE_LIMIT_SECONDS",
    "WECOM_TEXT_MAX_BYTES",
    "Channel",
    "Delivery",
    "DeliveryStatus",
    "DingTalkChannel",
    "EmailChannel",
    "Level",
    "Message",
    "SmsChannel",
    "WeComChannel",
    "mask_url",
    "resolve_secret",
    "sign",
    "truncate_utf8",
]
