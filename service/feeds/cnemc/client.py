"""The HTTP side of the national publish API: the session, warm-up, paging, retries, errors.

Thin: :func:`fetch_area` asks for every page of an area with bounded retries (exponential
backoff and jitter, by tenacity) and hands every data answer to ``on_raw`` before it is parsed.
httpx errors become :class:`~service.errors.FeedTimeout` or
:class:`~service.errors.FeedAnswerError` here (:func:`translate_error`) and nowhere else.

Errors::

    FeedError
    ├── FeedTimeout        no answer in time, or no connection (retried first; try again later)
    └── FeedAnswerError    an answer that cannot be used: HTTP 4xx/5xx, ``-1`` after the
                           warm-up, not JSON, result ≠ 1, missing thead/tbody, a truncated page

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

__all__ = [
    "DEFAULT_RETRY",
    "DEFAULT_TIMEOUT",
    "DEFAULT_URL",
    "HENGSHUI_AREA",
    "PAGE_SIZE",
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
        self, client: httpx.AsyncClient, url: str, on_raw: RawCallback | None, retry: RetryPolicy
    ) -> None:
        self.client = client
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
    ) -> httpx.Response:
        headers = self.headers if method == "POST" else {"Accept": "text/html,*/*"}
        response = await self.client.request(method, url, data=data, headers=headers)
        if report and self.on_raw is not None:
            self.on_raw(url, response.content, response.status_code)
        if response.status_code >= 500:
            raise _ServerError(response.status_code)
        return response

    async def send(
        self, method: str, url: str, *, data: dict[str, str] | None = None, report: bool = False
    ) -> httpx.Response:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.retry.attempts),
            wait=wait_exponential(multiplier=self.retry.initial, max=self.retry.maximum)
            + wait_random(0, self.retry.jitter),
            retry=retry_if_exception(_retryable),
            reraise=True,
        )
        what = f"{method} {url}" + (f" action={data['action']}" if data else "")
        try:
            response: httpx.Response = await retrying(self._once, method, url, data, report)
        except _ServerError as exc:
            raise FeedAnswerError(
                f"{what}: HTTP {exc.status}（{self.retry.attempts} 次尝试后）/ "
                f"HTTP {exc.status} after {self.retry.attempts} attempts"
            ) from None
        except _HTTPX_ERRORS as exc:
            raise translate_error(exc, what=what) from exc
        if response.status_code >= 400:
            raise FeedAnswerError(f"{what}: HTTP {response.status_code}")
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
) -> list[CnemcRow]:
    """All rows of an area, page by page (``PageIndex`` 1 … ``total``).

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
        page, the area dictionary) are not data and are not passed.
    retry : RetryPolicy
        Timeouts, connection errors and HTTP 5xx are retried per request.

    Raises
    ------
    FeedTimeout
        No answer in time, or no connection, after the bounded retries.
    FeedAnswerError
        Any unusable answer (see :func:`parse_page`), HTTP ≥ 400, ``-1`` after the warm-up, an
        empty or short page before the last, or a page count that changes while paging: a
        result is complete or not returned at all.
    """
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    session = _Session(client, url, on_raw, retry)
    first = await session.page(area=area, index=1, size=page_size)
    pages = [first]
    if first.total_pages == 0 and first.rows:
        raise FeedAnswerError("total=0 但有数据行 / total is 0 but the page has rows")
    for index in range(2, first.total_pages + 1):
        page = await session.page(area=area, index=index, size=page_size)
        if page.total_pages != first.total_pages:
            raise FeedAnswerError(
                f"翻页中总页数由 {first.total_pages} 变为 {page.total_pages} / "
                f"the page count changed from {first.total_pages} to {page.total_pages}"
            )
        pages.append(page)
    full = len(first.rows)
    for index, page in enumerate(pages, start=1):
        last = index == len(pages)
        if (first.total_pages and not page.rows) or (not last and len(page.rows) != full):
            raise FeedAnswerError(
                f"第 {index}/{len(pages)} 页只有 {len(page.rows)} 行（应答被截断）/ "
                f"page {index} of {len(pages)} has {len(page.rows)} rows (truncated)"
            )
    rows = [row for page in pages for row in page.rows]
    if first.records is not None and first.records != len(rows):
        logger.warning("国家平台 records=%s，实收 %s 行", first.records, len(rows))
    return rows
