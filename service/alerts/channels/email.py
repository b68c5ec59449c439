"""E-mail over SMTP: STARTTLS when offered (or required), plain text with an HTML alternative.

One connection per send, every socket operation bounded by ``timeout``. The session: EHLO;
STARTTLS when the server offers it (a server that does not is refused when
``require_starttls`` is set); AUTH when a username is configured — only over TLS, a password is
never sent in the clear; one message to every recipient; QUIT. ``implicit_tls`` connects with
TLS from the start instead (SMTPS, port 465).

:func:`delivery_for_smtp_error` is the only place where smtplib, ssl and socket errors become a
:class:`~service.alerts.channels.base.Delivery`::

    SMTPRecipientsRefused (no recipient taken)
                                refused (every address in Delivery.rejected); unavailable when
                                every refusal is temporary (4xx, e.g. greylisting)
    SMTPAuthenticationError, SMTPSenderRefused, SMTPDataError, SMTPConnectError, SMTPHeloError
                                by the reply code: 5xx refused, 4xx unavailable
    SMTPNotSupportedError and other SMTPException (no AUTH, no STARTTLS, no SMTPUTF8)
                                refused
    SMTPServerDisconnected      unavailable
    certificate not verified    refused
    other OSError (no connection, timeouts, DNS, TLS handshake)
                                unavailable

Some recipients refused, others taken → ``sent`` with the refused ones in ``rejected``.

References
----------
.. [1] docs/feeds.md §3, e-mail [V]; RFC 5321 (reply codes), RFC 3207 (STARTTLS).
"""

from __future__ import annotations

import email.utils
import html
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from typing import Final

from service.alerts.channels._http import certificate_not_verified
from service.alerts.channels.base import _EMAIL, Delivery, Message, log_delivery
from service.alerts.channels.config import Masker, require, resolve_all
from service.errors import ConfigurationError

__all__ = [
    "DEFAULT_SMTPS_PORT",
    "DEFAULT_SMTP_PORT",
    "DEFAULT_SMTP_TIMEOUT",
    "SMTP_ERRORS",
    "EmailChannel",
    "delivery_for_smtp_error",
]

DEFAULT_SMTP_PORT = 587
"""The submission port (STARTTLS) [RFC 6409]."""
DEFAULT_SMTPS_PORT = 465
"""The submission port with implicit TLS [RFC 8314]."""
DEFAULT_SMTP_TIMEOUT = 30.0
"""Seconds for each socket operation of an SMTP session (connect, each reply) [s]."""

SMTP_ERRORS: tuple[type[Exception], ...] = (smtplib.SMTPException, OSError)
"""What a send catches and maps (``SMTPException`` is an ``OSError`` too)."""


def _reply(text: bytes | str) -> str:
    return text.decode("utf-8", errors="replace") if isinstance(text, bytes) else str(text)


def delivery_for_smtp_error(exc: BaseException, *, mask: Masker) -> Delivery:
    """The delivery for an smtplib, ssl or socket error (table in the module docstring)."""
    name = type(exc).__name__
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refusals = {str(address): reply for address, reply in exc.recipients.items()}
        rejected = tuple(
            (address, mask(f"SMTP {code}: {_reply(text)}"))
            for address, (code, text) in refusals.items()
        )
        codes = [code for code, _ in refusals.values()]
        temporary = bool(codes) and all(400 <= code < 500 for code in codes)
        code = f"SMTP {codes[0]}" if codes else name
        answer = "; ".join(f"{address}: {reason}" for address, reason in rejected)
        return Delivery("unavailable" if temporary else "refused", code, answer, rejected=rejected)
    if isinstance(exc, smtplib.SMTPResponseException):
        reply_code = exc.smtp_code
        answer = mask(f"{name}: {_reply(exc.smtp_error)}")
        if 400 <= reply_code < 500:
            return Delivery("unavailable", f"SMTP {reply_code}", answer)
        if reply_code >= 500 or isinstance(exc, smtplib.SMTPAuthenticationError):
            return Delivery("refused", f"SMTP {reply_code}", answer)
        return Delivery("unavailable", f"SMTP {reply_code}", answer)
    answer = mask(f"{name}: {exc}" if str(exc) else name)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return Delivery("unavailable", name, answer)
    if isinstance(exc, smtplib.SMTPException) or certificate_not_verified(exc):
        return Delivery("refused", name, answer)
    return Delivery("unavailable", name, answer)


def _html(text: str) -> str:
    body = "<br>\n".join(html.escape(line) for line in text.splitlines())
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8"></head>'
        f"<body><p>{body}</p></body></html>\n"
    )


def _unique(addresses: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(address.strip() for address in addresses if address.strip()))


class EmailChannel:
    """An SMTP submission server.

    Parameters
    ----------
    id : str
        This channel's id in the configuration.
    host : str
        The SMTP server.
    sender : str
        The ``From`` address, with a display name if wanted (``清流告警 <alerts@example.cn>``).
    port : int, optional
        Default :data:`DEFAULT_SMTP_PORT` (587), :data:`DEFAULT_SMTPS_PORT` (465) with
        ``implicit_tls``.
    to : sequence of str
        Addresses every message goes to, besides the message's own ``emails`` (``${ENV_VAR}``
        allowed).
    username, password : str, optional
        Credentials for AUTH (``${ENV_VAR}`` allowed); both or neither. Sent only over TLS.
    require_starttls : bool
        Refuse to send when the server does not offer STARTTLS (default: use it when offered).
    implicit_tls : bool
        Connect with TLS from the start (SMTPS) instead of STARTTLS.
    ssl_context : ssl.SSLContext, optional
        For TLS (default: the system's trusted certificates, host names checked).
    local_hostname : str, optional
        The name given in EHLO (default: this host's fully qualified name).
    timeout : float
        Seconds for each socket operation [s].
    environ : mapping, optional
        Where ``${ENV_VAR}`` placeholders are looked up (default: the process environment).

    Raises
    ------
    ConfigurationError
        An empty host or sender, a username without a password (or the other way round), or a
        secret naming a variable that is not set.
    """

    kind: Final = "email"

    def __init__(
        self,
        *,
        id: str,
        host: str,
        sender: str,
        port: int | None = None,
        to: Sequence[str] = (),
        username: str | None = None,
        password: str | None = None,
        require_starttls: bool = False,
        implicit_tls: bool = False,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
        timeout: float = DEFAULT_SMTP_TIMEOUT,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.id = id
        self.host = require(host, channel=id, name="host", environ=environ)
        self.sender = require(sender, channel=id, name="sender", environ=environ)
        self.envelope_sender = email.utils.parseaddr(self.sender)[1]
        if "@" not in self.envelope_sender:
            raise ConfigurationError(
                f"告警通道 {id} 的发件地址无效 / channel {id}: sender {sender!r} has no address"
            )
        self.port = port or (DEFAULT_SMTPS_PORT if implicit_tls else DEFAULT_SMTP_PORT)
        self.to = _unique(resolve_all(to, channel=id, name="to", environ=environ))
        for address in self.to:
            if not _EMAIL.fullmatch(address):
                raise ConfigurationError(
                    f"告警通道 {id} 的收件地址无效 / channel {id}: not an e-mail address in to: "
                    f"{address!r}"
                )
        if (username is None) != (password is None):
            raise ConfigurationError(
                f"告警通道 {id} 需同时配置用户名和密码 / channel {id}: give both username and "
                "password, or neither"
            )
        self._username = (
            None if username is None else require(username, channel=id, name="username",
                                                  environ=environ)
        )  # fmt: skip
        self._password = (
            None if password is None else require(password, channel=id, name="password",
                                                  environ=environ)
        )  # fmt: skip
        self.require_starttls = require_starttls
        self.implicit_tls = implicit_tls
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.local_hostname = local_hostname
        self.timeout = timeout
        self._mask = Masker([self._password or ""])
        scheme = "smtps" if implicit_tls else "smtp"
        self.target = f"{scheme}://{self.host}:{self.port}"
        """The server's address (for logs and records)."""

    def __repr__(self) -> str:
        return f"EmailChannel(id={self.id!r}, target={self.target!r}, sender={self.sender!r})"

    def compose(self, message: Message, recipients: Sequence[str]) -> EmailMessage:
        """The e-mail for ``message``: plain text, then the HTML alternative."""
        mail = EmailMessage()
        mail["Subject"] = " ".join(message.title.split())  # one line, whatever the title
        mail["From"] = self.sender
        mail["To"] = ", ".join(recipients)
        mail["Date"] = email.utils.formatdate(localtime=True)
        mail["Message-ID"] = email.utils.make_msgid(domain=self.envelope_sender.rpartition("@")[2])
        if message.level == "critical":
            mail["X-Priority"] = "1"
            mail["Importance"] = "high"
        mail.set_content(message.text)
        mail.add_alternative(message.html or _html(message.text), subtype="html")
        return mail

    def send(self, message: Message) -> Delivery:
        """Send ``message`` once to ``to`` and its ``emails`` (see the module docstring)."""
        recipients = _unique((*self.to, *message.emails))
        if not recipients:
            delivery = Delivery("refused", "no_recipients", "邮件没有收件人 / no recipients")
            return log_delivery(self, self.target, delivery)
        mail = self.compose(message, recipients)
        try:
            delivery = self._session(mail, recipients)
        except SMTP_ERRORS as exc:
            delivery = delivery_for_smtp_error(exc, mask=self._mask)
        return log_delivery(self, self.target, delivery)

    def _connect(self) -> smtplib.SMTP:
        if self.implicit_tls:
            return smtplib.SMTP_SSL(
                self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout,
                context=self.ssl_context,
            )  # fmt: skip
        return smtplib.SMTP(
            self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout
        )

    def _session(self, mail: EmailMessage, recipients: tuple[str, ...]) -> Delivery:
        smtp = self._connect()
        try:
            smtp.ehlo()
            secure = self.implicit_tls
            if not secure and smtp.has_extn("starttls"):
                smtp.starttls(context=self.ssl_context)
                smtp.ehlo()
                secure = True
            if not secure and self.require_starttls:
                return Delivery(
                    "refused", "no_starttls",
                    "服务器不支持 STARTTLS / the server does not offer STARTTLS (required)",
                )  # fmt: skip
            if self._username is not None and self._password is not None:
                if not secure:
                    return Delivery(
                        "refused", "plain_login",
                        "服务器不支持 TLS，不以明文发送密码 / the server offers no TLS: the "
                        "password is not sent in the clear",
                    )  # fmt: skip
                smtp.login(self._username, self._password)
            refused = smtp.send_message(mail, self.envelope_sender, list(recipients))
        finally:
            _close(smtp)
        rejected = tuple(
            (str(address), self._mask(f"SMTP {code}: {_reply(text)}"))
            for address, (code, text) in refused.items()
        )
        return Delivery("sent", "SMTP 250", f"{len(recipients) - len(rejected)} 位收件人 / "
                        f"recipients accepted", rejected=rejected)  # fmt: skip


def _close(smtp: smtplib.SMTP) -> None:
    """QUIT politely; a session already broken is just closed."""
    try:
        smtp.quit()
    except SMTP_ERRORS:
        smtp.close()
