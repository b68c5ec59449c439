"""Signed, expiring acknowledgement links: ``{base}/alerts/ack/{token}``.

Every message the outbox sends carries a link for its recipient (the ``{ack_url}`` placeholder,
filled at send time by :meth:`AckLinks.url`). The token is an ``itsdangerous`` URL-safe timed
signature of ``{"e": episode id, "r": recipient id}`` with its own salt, so a session cookie can
never pass for a link nor a link for a cookie. It needs no account: whoever holds the link may
acknowledge that one episode, as that recipient, until it expires (``alert_link_hours``, 72 h by
default [A]). Opening the link (``GET``) shows the episode and changes nothing — a messenger's
link preview must not acknowledge; only the page's button (``POST``) does.

The key is ``QINGLIU_ALERT_LINK_SECRET``, else ``QINGLIU_SESSION_SECRET``: the scheduler signs and
the web process verifies, so a random per-process key would give links that never work. Without
a key or ``QINGLIU_ALERTS_BASE_URL``, :func:`ack_links_from` says why and messages carry
:data:`service.alerts.outbox.DEFAULT_ACK_TEXT` instead of a link.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from service.errors import InputError
from service.settings import Settings

__all__ = [
    "ACK_PATH",
    "ACK_SALT",
    "AckGrant",
    "AckLinkError",
    "AckLinkExpired",
    "AckLinks",
    "ack_links_from",
]

ACK_PATH = "/alerts/ack/"
"""Where a link points, under the service's public URL."""
ACK_SALT = "qingliu-alert-ack"
"""The signature's salt: a link is not a session cookie, nor the other way round."""


class AckLinkError(InputError):
    """The link is not one this service signed (altered, cut, or signed with another key)."""

    title = "确认链接无效 / invalid acknowledgement link"


class AckLinkExpired(AckLinkError):
    """The link was signed by this service but has expired."""

    status = 410
    title = "确认链接已过期 / acknowledgement link expired"


@dataclass(frozen=True)
class AckGrant:
    """What a valid link allows: acknowledging ``episode_id`` as ``recipient_id``."""

    episode_id: int
    recipient_id: str
    signed_at: dt.datetime
    expires_at: dt.datetime


class AckLinks:
    """Make and read acknowledgement links.

    >>> links = AckLinks("k" * 32, "https://qingliu.example.cn/", dt.timedelta(hours=72))
    >>> url = links.url(7, "fuyang-city")
    >>> url.startswith("https://qingliu.example.cn/alerts/ack/")
    True
    >>> grant = links.read(url.rsplit("/", 1)[1])
    >>> (grant.episode_id, grant.recipient_id)
    (7, 'fuyang-city')
    """

    def __init__(self, secret: str, base_url: str, max_age: dt.timedelta) -> None:
        self.base_url = base_url.rstrip("/")
        self.max_age = max_age
        self._signer = URLSafeTimedSerializer(secret, salt=ACK_SALT)

    def token(self, episode_id: int, recipient_id: str) -> str:
        """The signed token of one episode and recipient (signed now)."""
        return str(self._signer.dumps({"e": int(episode_id), "r": recipient_id}))

    def url(self, episode_id: int, recipient_id: str) -> str:
        """The link a message carries."""
        return f"{self.base_url}{ACK_PATH}{self.token(episode_id, recipient_id)}"

    def read(self, token: str) -> AckGrant:
        """The grant of a token.

        Raises
        ------
        AckLinkExpired
            Signed here, older than ``max_age``.
        AckLinkError
            Not signed with this key, altered, or not a link's payload.
        """
        seconds = int(self.max_age.total_seconds())
        try:
            data, signed = self._signer.loads(token, max_age=seconds, return_timestamp=True)
        except SignatureExpired as exc:
            signed_at = exc.date_signed
            when = f"（{signed_at:%Y-%m-%d %H:%M} UTC 签发）" if signed_at else ""
            raise AckLinkExpired(
                f"确认链接已过期{when}，请登录清流“告警”页面确认 / the link has expired"
            ) from exc
        except BadSignature as exc:
            raise AckLinkError("确认链接无效或被改动 / the link is not valid") from exc
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("e"), int)
            or not isinstance(data.get("r"), str)
        ):
            raise AckLinkError("确认链接内容不完整 / the link's payload is incomplete")
        signed_at = signed.astimezone(dt.UTC)
        return AckGrant(int(data["e"]), str(data["r"]), signed_at, signed_at + self.max_age)


def ack_links_from(settings: Settings) -> tuple[AckLinks | None, str | None]:
    """The links of these settings, or ``None`` and the reason (for the alert run's problems)."""
    secret = settings.alert_link_secret or settings.session_secret
    if settings.alerts_base_url is None:
        return None, "未设置 QINGLIU_ALERTS_BASE_URL：消息不带确认链接 / no base URL, no links"
    if secret is None:
        return None, (
            "未设置 QINGLIU_ALERT_LINK_SECRET 或 QINGLIU_SESSION_SECRET：消息不带确认链接 / "
            "no key to sign acknowledgement links"
        )
    hours = dt.timedelta(hours=settings.alert_link_hours)
    return AckLinks(secret.get_secret_value(), settings.alerts_base_url, hours), None
