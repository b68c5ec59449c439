"""The HTTP side of the national publish API: the session, warm-up, paging, retries, errors.

Thin: :func:`fetch_area` asks for every page of an area with bounded retries (exponential
backoff and jitter, by tenacity) and hands every data answer to ``on_raw`` before it is parsed.
Paging is bounded: at most ``max_pages`` pages per pull whatever ``total`` the server claims,
and at most ``max_answer_bytes`` read of each answer; beyond either the pull stops, logs a
warning and says why in :attr:`AreaFetch.stopped`.
httpx errors become :class:`~service.errors.FeedTimeout` or
:class:`~service.errors.FeedAnswerError` here (:func:`translate_error`) and nowhere else.

Errors::

    FeedError
    ├── FeedTimeout        no answer in time, or no connection (retried first; try again later)
    └── FeedAnswerError    an answer that cannot be used: HTTP 4xx/5xx, ``-1`` after the
                           warm-up, not JSON, result ≠ 1, missing thead/tbody, a truncated page,
                           a first page larger than the byte budget

References
----------
.. [1] docs/feeds.md §2 (the API as used by independent public clients) [V].
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from service.db.models import utc_now
from service.errors import FeedAnswerError, FeedError, FeedTimeout
from service.feeds.cnemc.parse import CnemcPage, CnemcRow, parse_page
from service.settings import DEFAULT_CNEMC_MAX_ANSWER_BYTES, DEFAULT_CNEMC_MAX_PAGES

__all__ = [
    "DEFAULT_MAX_ANSWER_BYTES",
    "DEFAULT_MAX_PAGES",
    "DEFAULT_RETRY",
    "DEFAULT_TIMEOUT",
    "DEFAULT_URL",
    "HENGSHUI_AREA",
    "PAGE_SIZE",
    "AreaFetch",
    "RawCallback",
    "RetryPolicy",
    "fetch_area",
    "main_page_url",
    "translate_error",
]

logger = logging.getLogger("service.feeds.cnemc")

DEFAULT_URL = "https://szzdjc.cnemc.cn:8070/GJZ/Ajax/Publish.ashx"
"""The ``Publish.ashx`` endpoint of the national system [V]."""
HENGSHUI_AREA = "131100"
"""``AreaID`` of Hengshui (``130000`` = Hebei, empty = all of China) [V]."""
PAGE_SIZE = 200
"""Rows asked per page; the API is used with ≤ 200 and a loop over ``PageIndex``."""
DEFAULT_TIMEOUT = httpx.Timeout(15.0, connect=10.0)
"""Per-request timeouts [s]: 10 to connect, 15 for each read, write and pool wait."""
DEFAULT_MAX_PAGES = DEFAULT_CNEMC_MAX_PAGES
"""Pages read per pull (``QINGLIU_CNEMC_MAX_PAGES``) [A]: Hengshui needs 1."""
DEFAULT_MAX_ANSWER_BYTES = DEFAULT_CNEMC_MAX_ANSWER_BYTES
"""Bytes read of one answer (``QINGLIU_CNEMC_MAX_ANSWER_BYTES``) [A]; a full page is ~0.2 MiB."""

RawCallback = Callable[[str, bytes, int], None]
"""``on_raw(peer_url, body, http_status)``: called with every data answer before it is parsed."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded retries with exponential backoff and jitter.

    Attributes
    ----------
    attempts : int
        Tries per request, the first included.
    initial, maximum, jitter : float
        First wait, longest wait and the random part added to each wait [s].
    """

    attempts: int = 4
    initial: float = 1.0
    maximum: float = 30.0
    jitter: float = 1.0


DEFAULT_RETRY = RetryPolicy()
"""4 tries per request, waits of about 1, 2, 4 s (+ up to 1 s of jitter) [A]."""


def main_page_url(url: str) -> str:
    """The publish page next to the API (``…/GJZ/Business/Publish/Main.html``), for the warm-up."""
    return urljoin(url, "../Business/Publish/Main.html")


def translate_error(exc: BaseException, *, what: str = "") -> FeedError:
    """The feed error for an httpx (or socket) error: the only place httpx errors are mapped.

    Timeouts and failed connections → :class:`FeedTimeout` (no answer; try again later);
    anything else → :class:`FeedAnswerError`.
    """
    where = f"{what}: " if what else ""
    if isinstance(exc, FeedError):
        return exc
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return FeedTimeout(f"{where}国家平台未及时应答 / no answer in time ({type(exc).__name__})")
    if isinstance(exc, httpx.NetworkError | ConnectionError):
        return FeedTimeout(f"{where}无法连接国家平台 / no connection: {type(exc).__name__}: {exc}")
    name = type(exc).__name__
    return FeedAnswerError(f"{where}国家平台应答不可用 / unusable answer: {name}: {exc}")


@dataclass(frozen=True, slots=True)
class AreaFetch:
    """What :func:`fetch_area` read.

    Attributes
    ----------
    rows : tuple of CnemcRow
        The rows of the pages read, in order.
    pages : int
        Pages read.
    total_pages : int
        ``total`` as the server states it.
    stopped : str
        Why paging stopped before ``total_pages`` (the page cap or the byte budget), in Chinese
        then English; ``""`` when every page was read.
    """

    rows: tuple[CnemcRow, ...]
    pages: int
    total_pages: int
    stopped: str = ""


@dataclass(frozen=True, slots=True)
class _Answer:
    """An answer read up to the byte budget (``oversize``: there was more, left unread)."""

    status: int
    content: bytes
    oversize: bool


class _AnswerTooLarge(FeedAnswerError):
    """A data answer larger than the byte budget (an error on page 1, a stop after it)."""

    def __init__(self, index: int, limit: int) -> None:
        super().__init__(
            f"第 {index} 页应答超过 {limit:,} 字节，停止读取 / page {index}: the answer exceeds "
            f"{limit:,} bytes; reading stopped"
        )


class _ServerError(Exception):
    """An HTTP 5xx answer (retried, then reported as FeedAnswerError)."""

    def __init__(self, status: int) -> None:
        self.status = status
        super().__init__(f"HTTP {status}")


def _retryable(exc: BaseException) -> bool:
    return isinstance(
        exc, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError | _ServerError
    )


_HTTPX_ERRORS = (httpx.HTTPError, httpx.InvalidURL, httpx.CookieConflict, httpx.StreamError)


class _Session:
    """One pull's requests: the warm-up, retries and the raw callback."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        on_raw: RawCallback | None,
        retry: RetryPolicy,
        max_bytes: int,
    ) -> None:
        self.client = client
        self.max_bytes = max_bytes
        self.url = url
        self.page_url = main_page_url(url)
        parts = urlsplit(url)
        self.headers = {
            "Referer": self.page_url,
            "Origin": f"{parts.scheme}://{parts.netloc}",
            "X-Requested-With": "XMLHttpRequest",
            "Accept": "application/json, text/javascript, */*; q=0.01",
        }
        self.on_raw = on_raw
        self.retry = retry

    async def _once(
        self, method: str, url: str, data: dict[str, str] | None, report: bool
    ) -> _Answer:
        headers = self.headers if method == "POST" else {"Accept": "text/html,*/*"}
        body = bytearray()
        oversize = False
        async with self.client.stream(method, url, data=data, headers=headers) as response:
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > self.max_bytes:  # stop reading: the rest is never downloaded
                    oversize = True
                    del body[self.max_bytes + 1 :]
                    break
        answer = _Answer(response.status_code, bytes(body), oversize)
        if report and self.on_raw is not None:
            self.on_raw(url, answer.content, answer.status)
        if answer.status >= 500:
            raise _ServerError(answer.status)
        return answer

    async def send(
        self, method: str, url: str, *, data: dict[str, str] | None = None, report: bool = False
    ) -> _Answer:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.retry.attempts),
            wait=wait_exponential(multiplier=self.retry.initial, max=self.retry.maximum)
            + wait_random(0, self.retry.jitter),
            retry=retry_if_exception(_retryable),
            reraise=True,
        )
        what = f"{method} {url}" + (f" action={data['action']}" if data else "")
        try:
            response: _Answer = await retrying(self._once, method, url, data, report)
        except _ServerError as exc:
            raise FeedAnswerError(
                f"{what}: HTTP {exc.status}（{self.retry.attempts} 次尝试后）/ "
                f"HTTP {exc.status} after {self.retry.attempts} attempts"
            ) from None
        except _HTTPX_ERRORS as exc:
            raise translate_error(exc, what=what) from exc
        if response.status >= 400:
            raise FeedAnswerError(f"{what}: HTTP {response.status}")
        return response

    async def warm_up(self) -> None:
        """The browser's order: load the page, then ``getArea_RiverDic``."""
        await self.send("GET", self.page_url)
        await self.send("POST", self.url, data={"action": "getArea_RiverDic"})

    async def page(self, *, area: str, index: int, size: int) -> CnemcPage:
        form = {
            "action": "getRealDatas", "AreaID": area, "RiverID": "", "MNName": "",
            "PageIndex": str(index), "PageSize": str(size),
        }  # fmt: skip
        warmed = False
        while True:
            response = await self.send("POST", self.url, data=form, report=True)
            if response.oversize:
                raise _AnswerTooLarge(index, self.max_bytes)
            if response.content.strip() != b"-1":
                return parse_page(response.content, fetched_at=utc_now())
            if warmed:
                raise FeedAnswerError(
                    f"第 {index} 页预热后仍应答 -1 / page {index} still answers -1 after warm-up"
                )
            logger.info("国家平台冷应答 -1，按浏览器顺序预热后重试")
            await self.warm_up()
            warmed = True


async def fetch_area(
    client: httpx.AsyncClient,
    *,
    url: str = DEFAULT_URL,
    area: str = HENGSHUI_AREA,
    page_size: int = PAGE_SIZE,
    on_raw: RawCallback | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
    max_pages: int = DEFAULT_MAX_PAGES,
    max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
) -> AreaFetch:
    """The rows of an area, page by page (``PageIndex`` 1 … ``total``, at most ``max_pages``).

    Parameters
    ----------
    client : httpx.AsyncClient
        Carries the timeouts (give it an explicit one, e.g. :data:`DEFAULT_TIMEOUT`) and keeps
        the cookies of the warm-up.
    url : str
        The ``Publish.ashx`` endpoint; the warm-up page is :func:`main_page_url` of it.
    area : str
        ``AreaID`` (:data:`HENGSHUI_AREA`; empty for all of China).
    page_size : int
        ``PageSize`` (≤ 200).
    on_raw : callable, optional
        ``on_raw(url, body, status)`` for every ``getRealDatas`` answer (``-1`` and 5xx
        included), before it is parsed: the caller archives it. The warm-up answers (the HTML
        page, the area dictionary) are not data and are not passed. An answer over the byte
        budget is passed cut after ``max_answer_bytes + 1`` bytes.
    retry : RetryPolicy
        Timeouts, connection errors and HTTP 5xx are retried per request.
    max_pages : int
        Pages read at most (:data:`DEFAULT_MAX_PAGES`); when ``total`` is larger, the first
        ``max_pages`` are read, a warning is logged and :attr:`AreaFetch.stopped` says so.
    max_answer_bytes : int
        Bytes read of one answer at most (:data:`DEFAULT_MAX_ANSWER_BYTES`); the rest is never
        downloaded. A larger page after the first stops paging there (warning, ``stopped``).

    Raises
    ------
    FeedTimeout
        No answer in time, or no connection, after the bounded retries.
    FeedAnswerError
        Any unusable answer (see :func:`parse_page`), HTTP ≥ 400, ``-1`` after the warm-up, a
        first page over the byte budget, an empty or short page before the last, or a page count
        that changes while paging: the pages read are complete or nothing is returned.
    """
    if page_size < 1 or max_pages < 1 or max_answer_bytes < 1:
        raise ValueError("page_size, max_pages and max_answer_bytes must be at least 1")
    session = _Session(client, url, on_raw, retry, max_answer_bytes)
    first = await session.page(area=area, index=1, size=page_size)
    total = first.total_pages
    if total == 0 and first.rows:
        raise FeedAnswerError("total=0 但有数据行 / total is 0 but the page has rows")
    stopped = ""
    if total > max_pages:
        stopped = (
            f"国家平台声称 {total:,} 页，超过每次拉取上限 {max_pages} 页，只读前 {max_pages} 页 / "
            f"the server claims {total:,} pages, more than the limit of {max_pages} per pull: "
            f"read the first {max_pages}"
        )
    pages = [first]
    for index in range(2, min(total, max_pages) + 1):
        try:
            page = await session.page(area=area, index=index, size=page_size)
        except _AnswerTooLarge as exc:
            stopped = str(exc)
            break
        if page.total_pages != total:
            raise FeedAnswerError(
                f"翻页中总页数由 {total} 变为 {page.total_pages} / "
                f"the page count changed from {total} to {page.total_pages}"
            )
        pages.append(page)
    full = len(first.rows)
    for index, page in enumerate(pages, start=1):
        last = index == total
        if (total and not page.rows) or (not last and len(page.rows) != full):
            raise FeedAnswerError(
                f"第 {index}/{total} 页只有 {len(page.rows)} 行（应答被截断）/ "
                f"page {index} of {total} has {len(page.rows)} rows (truncated)"
            )
    rows = tuple(row for page in pages for row in page.rows)
    if stopped:
        logger.warning("国家平台拉取提前停止 / pull stopped early: %s", stopped)
    elif first.records is not None and first.records != len(rows):
        logger.warning("国家平台 records=%s，实收 %s 行", first.records, len(rows))
    return AreaFetch(rows=rows, pages=len(pages), total_pages=total, stopped=stopped)
