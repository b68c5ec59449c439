"""Errors of the service layer, in Qingliu's one tree (rooted in :mod:`sections.errors`).

::

    QingliuError                          500 / 1   a defect: reported with a reference id
    ├── BatchError                                  items of a fanned-out batch failed (first named)
    ├── InputError                        422 / 2   fix the input (file row and column named)
    │   ├── SectionsError, CompensationError …      the domain packages' errors
    │   ├── FrameError (FeedError)                  an HJ 212 frame is refused (``reason``)
    │   └── PayloadTooLarge               413 / 2   a request body over the limit: send less
    ├── NotFoundError                     404 / 3   no such section, unit, month, version
    │   ├── DataTableError                          a key not in a shipped data table
    │   └── MonthNotRolledUp                        run the monthly job first
    ├── UnauthorizedError                 401 / 7   sign in (or a valid token) first
    ├── ForbiddenError                    403 / 8   the role may not do this
    ├── ConflictError                     409 / 4   clashes with the stored state
    ├── UnavailableError                  503 / 5   try again later
    │   ├── DatabaseError                           the database cannot be reached or migrated
    │   ├── FeedTimeout (FeedError)                 a remote feed did not answer in time
    │   ├── FeedAnswerError (FeedError)             a remote feed answered, but not usably
    │   └── ChannelUnavailable (ChannelError)       an alert channel did not take the message
    │       └── RateLimited                         … and asks to wait ``retry_after`` seconds
    └── ConfigurationError                500 / 6   a setting is invalid (names the variable)
        └── ChannelRefused (ChannelError)           an alert channel refused for good (key,
                                                    signature, keyword, IP, recipient): fix it

``ChannelError`` is what :meth:`service.alerts.channels.Delivery.raise_for_status` raises; the
channels themselves answer every send with a ``Delivery`` and raise nothing.

The two edges translate every error the same way: :func:`error_payload` gives the JSON body of an
API answer (``{"ok": false, "status", "title", "error", "type", "errors", "reference"}``) and
:func:`error_line` the one line a command prints before exiting with ``exit_code``. An error
outside the tree (a defect) becomes a 500 / exit 1 with a reference id, logged in full.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any, ClassVar

from sections.errors import (
    ConfigurationError,
    ConflictError,
    DataTableError,
    InputError,
    NotFoundError,
    QingliuError,
    UnavailableError,
)

__all__ = [
    "BatchError",
    "ChannelError",
    "ChannelRefused",
    "ChannelUnavailable",
    "ConfigurationError",
    "ConflictError",
    "DataTableError",
    "DatabaseError",
    "FeedAnswerError",
    "FeedError",
    "FeedTimeout",
    "ForbiddenError",
    "FrameError",
    "InputError",
    "MonthNotRolledUp",
    "NotFoundError",
    "PayloadTooLarge",
    "QingliuError",
    "RateLimited",
    "UnauthorizedError",
    "UnavailableError",
    "error_line",
    "error_payload",
    "reference_id",
    "translate",
]

logger = logging.getLogger("qingliu")


class DatabaseError(UnavailableError):
    """The database cannot be reached or migrated."""


class FeedError(QingliuError):
    """A station feed failed (the subclasses say whether to fix the input or wait)."""


class FrameError(FeedError, InputError):
    """An HJ 212 frame is refused; ``reason`` is a short machine-readable code."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(f"{reason}: {message}")


class FeedTimeout(FeedError, UnavailableError, TimeoutError):
    """A remote feed did not answer in time."""


class FeedAnswerError(FeedError, UnavailableError):
    """A remote feed answered, but the answer cannot be used (status, body, truncation)."""


class ChannelError(QingliuError):
    """An alert channel did not deliver a message (the subclasses say whether to wait or fix).

    ``channel`` is the channel's id, ``code`` the service's own answer code (``45009``,
    ``310000``, ``HTTP 503``, ``SMTP 550``, an exception name).
    """

    def __init__(self, message: str, *, channel: str = "", code: str = "") -> None:
        self.channel = channel
        self.code = code
        super().__init__(message)


class ChannelUnavailable(ChannelError, UnavailableError):
    """The channel did not take the message (no connection, no answer in time, HTTP 5xx): retry."""


class RateLimited(ChannelUnavailable):
    """The channel refuses for now (too many messages): retry after ``retry_after`` seconds."""

    def __init__(
        self, message: str, *, retry_after: float, channel: str = "", code: str = ""
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, channel=channel, code=code)


class ChannelRefused(ChannelError, ConfigurationError):
    """The channel refused the message for good: a wrong key, token, signature, keyword or IP
    whitelist, or a refused recipient. Retrying cannot help; the operator fixes the channel's
    configuration or the recipient's contact."""


class BatchError(QingliuError):
    """Items of a fanned-out batch failed (:func:`service.fanout.fan_out`); every item was run.

    ``failures`` maps the position of each failed item to its exception, ``results`` the position
    of each item that succeeded to its result; ``total`` is the number of items. The message names
    the count and the first failure in item order.
    """

    def __init__(
        self, failures: dict[int, BaseException], results: dict[int, object], total: int
    ) -> None:
        self.failures = failures
        self.results = results
        self.total = total
        index = min(failures)
        first = f"{type(failures[index]).__name__}: {failures[index]}"
        super().__init__(
            f"批处理 {total} 项中 {len(failures)} 项失败 / {len(failures)} of {total} items "
            f"failed; 首个 / first: items[{index}]: {first}"
        )


class UnauthorizedError(QingliuError):
    """Nobody is signed in (or the token is wrong, expired or revoked): sign in first."""

    status: ClassVar[int] = 401
    exit_code: ClassVar[int] = 7
    title: ClassVar[str] = "未登录 / not signed in"


class ForbiddenError(QingliuError):
    """The signed-in role may not do this (or not for that unit)."""

    status: ClassVar[int] = 403
    exit_code: ClassVar[int] = 8
    title: ClassVar[str] = "无权限 / forbidden"


class PayloadTooLarge(InputError):
    """A request body is larger than the service accepts: send a smaller one."""

    status: ClassVar[int] = 413
    title: ClassVar[str] = "请求过大 / payload too large"


class MonthNotRolledUp(NotFoundError):
    """The month has no stored summary: ``qingliu run monthly --month YYYY-MM`` makes it."""


def translate(exc: BaseException) -> BaseException:
    """Map an error raised by a library into the tree; others come back unchanged.

    The one boundary for foreign errors, used by both edges (:func:`error_payload`):

    - SQLAlchemy ``IntegrityError`` (e.g. two issues of one statement at once) → ConflictError
    - SQLAlchemy ``OperationalError`` (database locked, gone, not a database) → DatabaseError
    - ``ConnectionError`` / ``TimeoutError`` (a peer not answering) → UnavailableError
    """
    if isinstance(exc, QingliuError):
        return exc
    mapped: QingliuError | None = None
    if type(exc).__module__.startswith("sqlalchemy"):
        from sqlalchemy.exc import IntegrityError, OperationalError

        if isinstance(exc, IntegrityError):
            mapped = ConflictError(
                "数据库拒绝了与已存数据冲突的写入（可能另有操作同时进行），请重试 / the database "
                f"refused a write that clashes with stored data (a concurrent run?); retry: "
                f"{exc.orig}"
            )
        elif isinstance(exc, OperationalError):
            mapped = DatabaseError(f"数据库不可用 / the database is unavailable: {exc.orig}")
    elif isinstance(exc, ConnectionError | TimeoutError):
        mapped = UnavailableError(f"连接失败 / cannot connect: {exc}")
    if mapped is None:
        return exc
    mapped.__cause__ = exc
    return mapped


def reference_id() -> str:
    """A short id that ties an unexpected error's answer to its full log entry."""
    return uuid.uuid4().hex[:12]


def error_payload(
    exc: BaseException, *, errors: list[dict[str, Any]] | None = None
) -> tuple[int, dict[str, Any]]:
    """The HTTP status and the one JSON shape of an error answer.

    Foreign errors are mapped first (:func:`translate`); an error still outside
    :class:`QingliuError` is a defect: logged in full with a reference id, and answered with that
    id only (no traceback, no internals).
    """
    exc = translate(exc)
    if isinstance(exc, QingliuError):
        body: dict[str, Any] = {
            "ok": False, "status": exc.status, "title": exc.title, "error": str(exc),
            "type": type(exc).__name__, "errors": errors or [], "reference": None,
        }  # fmt: skip
        if exc.status >= 500:
            body["reference"] = reference_id()
            logger.error("error %s: %s", body["reference"], exc, exc_info=exc)
        return exc.status, body
    reference = reference_id()
    logger.error("unexpected error %s", reference, exc_info=exc)
    return 500, {
        "ok": False, "status": 500, "title": QingliuError.title,
        "error": f"服务内部错误，请联系管理员并提供编号 {reference} / internal error, "
                 f"reference {reference}",
        "type": "InternalError", "errors": [], "reference": reference,
    }  # fmt: skip


def error_line(exc: BaseException) -> tuple[int, str]:
    """The exit code and the one line a command prints for an error (never a traceback)."""
    exc = translate(exc)
    _, body = error_payload(exc)
    code = exc.exit_code if isinstance(exc, QingliuError) else QingliuError.exit_code
    return code, f"错误 / error [{body['title']}]: {body['error']}"
