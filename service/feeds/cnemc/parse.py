"""Client of the national publish API (国家地表水水质自动监测实时数据发布系统).

The national system publishes the latest values of every national automatic station; two of
Hengshui's sections are among them (小范桥 and 衡水湖大湖心). It is a fallback and cross-check
feed, unofficial for machine use, and its data are **unaudited and for reference only**
(:data:`CAVEAT`): say so wherever they are shown.

Layers, each usable alone:

- :func:`parse_page` — pure: the bytes of one ``getRealDatas`` answer → :class:`CnemcPage`.
  Columns are matched by header text (:data:`COLUMN_MAP`), never by position.
- :func:`fetch_area` — async and thin: the warm-up sequence, paging, bounded retries with
  exponential backoff and jitter; every data answer goes to ``on_raw`` before it is parsed;
  httpx errors become :class:`~service.errors.FeedTimeout` or
  :class:`~service.errors.FeedAnswerError` here and nowhere else.
- :func:`pull_once` / :func:`run_every` — what the CLI calls: archive each raw answer, map rows
  to registry sections by name, store observations idempotently (history kept on change).

Errors::

    FeedError
    ├── FeedTimeout        no answer in time, or no connection (retried first; try again later)
    └── FeedAnswerError    an answer that cannot be used: HTTP 4xx/5xx, ``-1`` after the
                           warm-up, not JSON, result ≠ 1, missing thead/tbody, a truncated page

References
----------
.. [1] docs/feeds.md §2 (the API as used by independent public clients) [V].
.. [2] ../shared/data/cnemc/national-2025-11-07.csv: one real national snapshot [V].
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import html
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

import httpx
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from sections.classes import WaterClass, parse_class
from sections.errors import UnknownClassError
from sections.parameters import parameters
from sections.registry import Registry, Section
from service.db.ingest import RawRecord, archive_raw, upsert_observations
from service.db.models import utc_now
from service.errors import (
    ConfigurationError,
    DatabaseError,
    FeedAnswerError,
    FeedError,
    FeedTimeout,
    QingliuError,
)
from service.time import BEIJING

__all__ = [
    "CAVEAT",
    "COLUMN_MAP",
    "DEFAULT_RETRY",
    "DEFAULT_TIMEOUT",
    "DEFAULT_URL",
    "FUTURE_TOLERANCE",
    "HENGSHUI_AREA",
    "PAGE_SIZE",
    "SOURCE",
    "STATION_FLAGS",
    "URL_ENV",
    "VALUE_FIELDS",
    "CnemcPage",
    "CnemcRow",
    "MissingReason",
    "PullSummary",
    "RawCallback",
    "RetryPolicy",
    "cnemc_url",
    "fetch_area",
    "infer_observed_at",
    "main_page_url",
    "parse_page",
    "pull_once",
    "run_every",
    "station_id",
    "translate_error",
]

logger = logging.getLogger(__name__)

DEFAULT_URL = "https://szzdjc.cnemc.cn:8070/GJZ/Ajax/Publish.ashx"
"""The ``Publish.ashx`` endpoint of the national system [V]."""
URL_ENV = "QINGLIU_CNEMC_URL"
"""Environment variable that overrides :data:`DEFAULT_URL` (read by the caller)."""
HENGSHUI_AREA = "131100"
"""``AreaID`` of Hengshui (``130000`` = Hebei, empty = all of China) [V]."""
PAGE_SIZE = 200
"""Rows asked per page; the API is used with ≤ 200 and a loop over ``PageIndex``."""
DEFAULT_TIMEOUT = httpx.Timeout(15.0, connect=10.0)
"""Per-request timeouts [s]: 10 to connect, 15 for each read, write and pool wait."""
SOURCE = "cnemc"
"""``source`` of the raw archive and of the observations."""
CAVEAT = "数据来自国家地表水水质自动监测实时数据发布系统，为未经审核的自动监测实时数据，仅供参考。"
"""What must accompany these data wherever they are shown (the page itself says so) [V]."""
FUTURE_TOLERANCE = dt.timedelta(days=1)
"""How far past the fetch time a ``MM-DD HH:MM`` may lie before it is taken as last year's
(clock differences of minutes or hours must not move a reading by a year) [A]."""

COLUMN_MAP: Mapping[str, str] = MappingProxyType(
    {
        "省份": "province", "流域": "basin", "断面名称": "section", "监测时间": "time",
        "水质类别": "class", "水温": "temp", "pH": "ph", "溶解氧": "do", "电导率": "conductivity",
        "浊度": "turbidity", "高锰酸盐指数": "codmn", "氨氮": "nh3n", "总磷": "tp", "总氮": "tn",
        "叶绿素α": "chla", "叶绿素a": "chla", "藻密度": "algae", "站点情况": "station_status",
    }
)  # fmt: skip
"""Header text (HTML and the unit in brackets removed, e.g. ``总磷<br/><span>(mg/L)</span>`` →
``总磷``) → field. Values use the keys of ``sections/data/parameters.csv``."""

VALUE_FIELDS = (
    "temp", "ph", "do", "conductivity", "turbidity", "codmn", "nh3n", "tp", "tn", "chla", "algae",
)  # fmt: skip
"""The fields of :data:`COLUMN_MAP` that are parameter values."""

_REQUIRED_FIELDS = ("section", "time")

# Chlorophyll-a: the API publishes mg/L (the national snapshot of 2025-11-07 has 0.030766 for
# 衡水湖大湖心 and 0.00444 for 南刘庄, i.e. 30.8 and 4.4 μg/L, which are realistic lake values);
# Qingliu's canonical unit is mg/m³ (= μg/L), so a value in mg/L is multiplied by 1000. When the
# header names a unit, that unit decides; without one, mg/L is assumed.
_CHLA_FACTORS: Mapping[str, Decimal] = MappingProxyType(
    {"": Decimal(1000), "mg/l": Decimal(1000), "μg/l": Decimal(1), "µg/l": Decimal(1),
     "ug/l": Decimal(1), "mg/m3": Decimal(1), "mg/m³": Decimal(1)}
)  # fmt: skip

STATION_FLAGS: Mapping[str, str] = MappingProxyType(
    {"": "N", "正常": "N", "维护": "M", "不具备运行条件": "F", "停运": "F", "故障": "D",
     "校准": "C"}
)  # fmt: skip
"""站点情况 → station flag (HJ 212 data flags: N normal, M maintenance, F stopped, D fault,
C calibration). Text not in the table gives no flag (None), so the value is never counted as
valid; the text stays in the raw archive."""

MissingReason = Literal["no_data", "not_measured", "invalid"]
"""Why a value is absent: ``--``, null or empty (no_data), ``*`` (not_measured by this station),
or text that is not a number (invalid)."""

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


@dataclass(frozen=True, slots=True)
class CnemcRow:
    """One section's latest reading as published.

    Attributes
    ----------
    section : str
        断面名称, the visible text of the cell.
    province, basin : str or None
        省份 and 流域.
    river, city : str or None
        所属河流 and 所在地市 from the section cell's tooltip, when it has one.
    observed_at : datetime or None
        监测时间 in Beijing time (zone-aware), the year inferred by :func:`infer_observed_at`;
        None when the cell is empty or ``--``.
    time_text : str
        监测时间 as published (``MM-DD HH:MM``).
    published_class : WaterClass or None
        水质类别 (digit 1–6 or Ⅰ…劣Ⅴ); None when not published.
    values : mapping of str to float
        Parameter key → value in the canonical unit of ``parameters.csv`` (the full-precision
        ``原始值`` when present; chlorophyll-a converted from mg/L to mg/m³).
    missing : mapping of str to MissingReason
        Parameter key → why it has no value.
    station_status : str or None
        站点情况 (正常 / 维护 / 不具备运行条件), when the answer has that column.
    caveat : str
        :data:`CAVEAT`.
    body_sha256 : str
        SHA-256 of the answer the row came from (links a row to its archived raw answer);
        not part of equality.
    """

    section: str
    province: str | None
    basin: str | None
    river: str | None
    city: str | None
    observed_at: dt.datetime | None
    time_text: str
    published_class: WaterClass | None
    values: Mapping[str, float]
    missing: Mapping[str, MissingReason]
    station_status: str | None
    caveat: str = CAVEAT
    body_sha256: str = field(default="", compare=False)

    @property
    def station_flag(self) -> str | None:
        """The station flag for the observations of this row (:data:`STATION_FLAGS`)."""
        return STATION_FLAGS.get((self.station_status or "").strip())


@dataclass(frozen=True, slots=True)
class CnemcPage:
    """One ``getRealDatas`` answer.

    Attributes
    ----------
    rows : tuple of CnemcRow
    total_pages : int
        ``total``: how many pages the query has.
    records : int or None
        ``records``: how many rows the query has, as the API states it.
    columns : tuple of str
        The field of each column, in the answer's order (``""`` for an unknown header).
    unknown_headers : tuple of str
        Header texts not in :data:`COLUMN_MAP` (ignored; worth a look when not empty).
    sha256 : str
        SHA-256 of the body.
    """

    rows: tuple[CnemcRow, ...]
    total_pages: int
    records: int | None
    columns: tuple[str, ...] = ()
    unknown_headers: tuple[str, ...] = ()
    sha256: str = ""


# --------------------------------------------------------------------------- parsing (pure)

_TAG = re.compile(r"<[^>]*>")
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_BRACKETED = re.compile(r"[(（]([^)）]*)[)）]")
_TOOLTIP = re.compile(
    r"""\b(?:data-original-title|title)\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE
)
_ORIGINAL = re.compile(r"原始值\s*[：:]\s*([^\s<'\"，,；;]+)")
_CITY = re.compile(r"所在地市\s*[：:]\s*([^\s<'\"，,；;]+)")
_RIVER = re.compile(r"所属河流\s*[：:]\s*([^\s<'\"，,；;]+)")
_TIME = re.compile(r"^(?:(\d{4})-)?(\d{1,2})-(\d{1,2})\s+(\d{1,2}):(\d{2})(?::\d{2})?$")
_NO_DATA = {"", "--", "—", "-", "null", "None"}


def _text(cell: str) -> str:
    """Visible text of an HTML cell: tags removed, entities decoded, whitespace trimmed."""
    return html.unescape(_TAG.sub("", _BR.sub(" ", cell))).strip()


def _tooltips(cell: str) -> str:
    """All tooltip texts of a cell (``title`` and ``data-original-title``), entities decoded."""
    return " ".join(html.unescape(a or b) for a, b in _TOOLTIP.findall(cell))


def _header(text: str) -> tuple[str, str]:
    """Header name and unit: ``总磷<br/><span>(mg/L)</span>`` → ``("总磷", "mg/L")``."""
    plain = _text(text)
    units = _BRACKETED.findall(plain)
    name = re.sub(r"\s+", "", _BRACKETED.sub("", plain))
    return name, (units[-1].strip() if units else "")


def _number(text: str) -> Decimal | None:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def infer_observed_at(text: str, *, fetched_at: dt.datetime) -> dt.datetime:
    """A published ``MM-DD HH:MM`` (Beijing time, no year) as a zone-aware datetime.

    The year is the fetch year (in Beijing), or the previous one when the date would lie more
    than :data:`FUTURE_TOLERANCE` after the fetch (New Year); a leading ``YYYY-`` is used as is.

    Raises
    ------
    FeedAnswerError
        When the text is not such a time.

    Examples
    --------
    >>> fetched = dt.datetime(2026, 1, 1, 0, 10, tzinfo=BEIJING)
    >>> infer_observed_at("12-31 23:00", fetched_at=fetched).isoformat()
    '2025-12-31T23:00:00+08:00'
    """
    if fetched_at.tzinfo is None:
        raise ValueError("fetched_at must carry its time zone")
    match = _TIME.match(text.strip())
    if match is None:
        raise FeedAnswerError(f"监测时间格式不对 / bad time {text!r} (expected MM-DD HH:MM)")
    year_text, month, day, hour, minute = match.groups()
    local = fetched_at.astimezone(BEIJING)
    years = [int(year_text)] if year_text else [local.year, local.year - 1]
    for year in years:
        try:
            when = dt.datetime(year, int(month), int(day), int(hour), int(minute), tzinfo=BEIJING)
        except ValueError:
            continue  # 02-29 in a common year: the previous year may be a leap year
        if year_text or when <= local + FUTURE_TOLERANCE:
            return when
    raise FeedAnswerError(f"监测时间无效 / invalid time {text!r}")


def _value(cell: Any, factor: Decimal) -> float | MissingReason:
    if cell is None:
        return "no_data"
    text = str(cell)
    visible = _text(text)
    if visible == "*":
        return "not_measured"
    if visible in _NO_DATA:
        return "no_data"
    original = _ORIGINAL.search(_tooltips(text))
    number = _number(original.group(1)) if original else None
    if number is None:
        number = _number(visible)
    if number is None:
        return "invalid"
    return float(number * factor)


def _class(cell: Any) -> WaterClass | None:
    text = _text(str(cell)) if cell is not None else ""
    if text in _NO_DATA or text == "*":
        return None
    try:
        return parse_class(text.removesuffix("类").strip())
    except UnknownClassError:
        raise FeedAnswerError(f"水质类别无法识别 / unknown class {text!r}") from None


def _optional_text(cell: Any) -> str | None:
    if cell is None:
        return None
    text = _text(str(cell))
    return None if text in _NO_DATA else text


def _integer(value: Any, name: str, *, required: bool) -> int | None:
    if value is None or value == "":
        if required:
            raise FeedAnswerError(f"应答缺少 {name} / answer lacks {name!r}")
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        raise FeedAnswerError(f"{name} 不是整数 / {name!r} is not an integer: {value!r}") from None
    if number < 0:
        raise FeedAnswerError(f"{name} 为负 / {name!r} is negative: {number}")
    return number


def parse_page(body: bytes | str, *, fetched_at: dt.datetime) -> CnemcPage:
    """Parse one ``getRealDatas`` answer.

    Parameters
    ----------
    body : bytes or str
        The answer as received (UTF-8, a BOM allowed).
    fetched_at : datetime
        When it was received (zone-aware); decides the year of ``MM-DD HH:MM``.

    Returns
    -------
    CnemcPage

    Raises
    ------
    FeedAnswerError
        For the cold answer ``-1``, a body that is not a JSON object, ``result`` ≠ 1, a missing or
        malformed ``thead``/``tbody``/``total``, a header mapped twice, a missing 断面名称 or
        监测时间 column, a row whose length differs from ``thead`` (a truncated page), a bad time
        or an unknown class. Value cells never raise: a bad number is ``missing[key] = "invalid"``.

    Examples
    --------
    >>> body = '{"result":1,"thead":["断面名称","监测时间","氨氮"],' \\
    ...     '"tbody":[["小范桥","11-07 16:00","<span title=\\'原始值：0.0462\\'>0.05</span>"]],' \\
    ...     '"total":1,"records":1}'
    >>> page = parse_page(body, fetched_at=dt.datetime(2025, 11, 7, 17, tzinfo=BEIJING))
    >>> page.rows[0].values["nh3n"], page.rows[0].observed_at.isoformat()
    (0.0462, '2025-11-07T16:00:00+08:00')
    """
    raw = body.encode("utf-8") if isinstance(body, str) else body
    digest = hashlib.sha256(raw).hexdigest()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FeedAnswerError(f"应答不是 UTF-8 / answer is not UTF-8: {exc}") from None
    if text.strip() == "-1":
        raise FeedAnswerError("冷应答 -1（需先预热）/ cold answer -1: warm-up needed")
    try:
        document = json.loads(text)
    except ValueError:
        preview = text.strip()[:80]
        raise FeedAnswerError(f"应答不是 JSON / answer is not JSON: {preview!r}") from None
    if not isinstance(document, dict):
        raise FeedAnswerError("应答不是 JSON 对象 / answer is not a JSON object")
    if str(document.get("result")).strip().lower() not in ("1", "true"):
        raise FeedAnswerError(f"应答 result={document.get('result')!r}（应为 1）/ result is not 1")
    thead, tbody = document.get("thead"), document.get("tbody")
    if not isinstance(thead, list) or not thead or not all(isinstance(h, str) for h in thead):
        raise FeedAnswerError("应答缺少表头 thead / answer lacks a thead of strings")
    if not isinstance(tbody, list):
        raise FeedAnswerError("应答缺少表体 tbody / answer lacks a tbody list")
    total = _integer(document.get("total"), "total", required=True)
    records = _integer(document.get("records"), "records", required=False)
    assert total is not None

    columns: list[str] = []
    units: dict[str, str] = {}
    unknown: list[str] = []
    for header in thead:
        name, unit = _header(header)
        key = COLUMN_MAP.get(name, "")
        if key and key in columns:
            raise FeedAnswerError(f"表头重复 / column {name!r} appears twice")
        if not key:
            unknown.append(name)
        columns.append(key)
        units[key] = unit
    for required in _REQUIRED_FIELDS:
        if required not in columns:
            names = [n for n, k in COLUMN_MAP.items() if k == required]
            raise FeedAnswerError(f"应答缺少列 / answer lacks the column {names[0]}")
    chla_unit = units.get("chla", "").lower().replace(" ", "")
    if "chla" in columns and chla_unit not in _CHLA_FACTORS:
        raise FeedAnswerError(f"叶绿素单位无法识别 / unknown chlorophyll unit {chla_unit!r}")
    factors = {key: _CHLA_FACTORS[chla_unit] if key == "chla" else Decimal(1) for key in columns}

    rows = []
    for number, cells in enumerate(tbody, start=1):
        if not isinstance(cells, list) or len(cells) != len(columns):
            size = len(cells) if isinstance(cells, list) else type(cells).__name__
            raise FeedAnswerError(
                f"第 {number} 行有 {size} 格，表头 {len(columns)} 列（应答被截断？）/ "
                f"row {number} has {size} cells for {len(columns)} columns (truncated answer?)"
            )
        rows.append(_row(dict(zip(columns, cells, strict=True)), factors, fetched_at, digest))
    return CnemcPage(tuple(rows), total, records, tuple(columns), tuple(unknown), digest)


def _row(
    cells: dict[str, Any], factors: Mapping[str, Decimal], fetched_at: dt.datetime, digest: str
) -> CnemcRow:
    section_cell = cells.get("section")
    section = _optional_text(section_cell)
    if not section:
        raise FeedAnswerError("断面名称为空 / a row has no section name")
    tooltip = _tooltips(str(section_cell))
    city, river = _CITY.search(tooltip), _RIVER.search(tooltip)
    time_text = _optional_text(cells.get("time")) or ""
    observed_at = infer_observed_at(time_text, fetched_at=fetched_at) if time_text else None
    values: dict[str, float] = {}
    missing: dict[str, MissingReason] = {}
    for key in VALUE_FIELDS:
        if key not in cells:
            continue
        parsed = _value(cells[key], factors[key])
        if isinstance(parsed, float):
            values[key] = parsed
        else:
            missing[key] = parsed
    return CnemcRow(
        section=section,
        province=_optional_text(cells.get("province")),
        basin=_optional_text(cells.get("basin")),
        river=river.group(1) if river else None,
        city=city.group(1) if city else None,
        observed_at=observed_at,
        time_text=time_text,
        published_class=_class(cells.get("class")),
        values=MappingProxyType(values),
        missing=MappingProxyType(missing),
        station_status=_optional_text(cells.get("station_status")),
        body_sha256=digest,
    )


# --------------------------------------------------------------------------- fetching (thin)


def cnemc_url(environ: Mapping[str, str]) -> str:
    """The API URL: ``QINGLIU_CNEMC_URL`` when set (and not blank), else :data:`DEFAULT_URL`.

    Raises
    ------
    ConfigurationError
        When the variable is not an http(s) URL.
    """
    value = environ.get(URL_ENV, "").strip()
    if not value:
        return DEFAULT_URL
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(f"{URL_ENV} 不是 http(s) 地址 / is not an http(s) URL: {value!r}")
    return value


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


# --------------------------------------------------------------------------- storing


@dataclass(frozen=True, slots=True)
class PullSummary:
    """What one pull did.

    Attributes
    ----------
    pages : int
        Data answers accepted.
    archived : int
        Raw answers archived (accepted and rejected).
    rows : int
        Rows received.
    matched : int
        Rows of sections in the registry (the others stay in the raw archive only).
    inserted, unchanged, changed : int
        Observations new, identical to the stored ones, and updated (old value to history).
    sections : tuple of str
        Ids of the matched sections.
    fetched_at : datetime
        When the pull began (UTC).
    caveat : str
        :data:`CAVEAT`.
    """

    pages: int
    archived: int
    rows: int
    matched: int
    inserted: int
    unchanged: int
    changed: int
    sections: tuple[str, ...]
    fetched_at: dt.datetime
    caveat: str = CAVEAT

    def describe(self) -> str:
        """One line in Chinese for the log."""
        return (
            f"国家平台拉取：{self.pages} 页 {self.rows} 行，匹配断面 {self.matched} 行"
            f"（{'、'.join(self.sections) or '无'}），新增 {self.inserted}、未变 {self.unchanged}、"
            f"更新 {self.changed} 条观测；数据未经审核，仅供参考"
        )


def station_id(section_name: str) -> str:
    """The ``station`` of observations from this feed: ``CNEMC:`` + name, at most 24 chars."""
    return ("CNEMC:" + section_name)[:24]


class _Archive:
    """``on_raw`` of a pull: archive every answer at once, with its verdict."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.ids: dict[str, int] = {}
        self.accepted = 0
        self.archived = 0

    def __call__(self, peer: str, body: bytes, status: int) -> None:
        received = utc_now()
        reason = ""
        if status != 200:
            reason = f"HTTP {status}"
        else:
            try:
                parse_page(body, fetched_at=received)
            except FeedAnswerError as exc:
                reason = str(exc)
        record = RawRecord(
            source=SOURCE, payload=body, parse_status="rejected" if reason else "accepted",
            peer=peer, reason=reason, received_at=received,
        )  # fmt: skip
        try:
            with self.engine.begin() as connection:
                (raw_id,) = archive_raw(connection, [record])
        except SQLAlchemyError as exc:
            raise DatabaseError(f"无法归档原始应答 / cannot archive a raw answer: {exc}") from exc
        self.archived += 1
        if not reason:
            self.accepted += 1
            self.ids[hashlib.sha256(body).hexdigest()] = raw_id


def _observations(
    rows: Sequence[CnemcRow], by_name: Mapping[str, Section], raw_ids: Mapping[str, int]
) -> list[dict[str, Any]]:
    table = parameters()
    found = []
    for row in rows:
        section = by_name.get(row.section.strip())
        if section is None or row.observed_at is None:
            continue
        for key, value in row.values.items():
            found.append(
                {
                    "station": station_id(row.section), "section_id": section.id,
                    "parameter": key, "observed_at": row.observed_at, "value": value,
                    "unit": table[key].unit, "station_flag": row.station_flag, "source": SOURCE,
                    "raw_message_id": raw_ids.get(row.body_sha256),
                }
            )  # fmt: skip
    return found


def _default_client(timeout: httpx.Timeout) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=timeout,
        follow_redirects=True,
        headers={"User-Agent": "Mozilla/5.0 (compatible; qingliu)", "Accept-Language": "zh-CN"},
    )


def pull_once(
    *,
    engine: Engine,
    registry: Registry,
    url: str = DEFAULT_URL,
    area: str = HENGSHUI_AREA,
    client_factory: Callable[[], httpx.AsyncClient] | None = None,
    page_size: int = PAGE_SIZE,
    retry: RetryPolicy = DEFAULT_RETRY,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
) -> PullSummary:
    """Fetch an area once, archive every raw answer, store the rows of registry sections.

    Rows are matched to sections by name (断面名称 = ``Section.name``). Observations get
    ``station`` = :func:`station_id`, the section id, the canonical unit of
    ``parameters.csv``, the station flag of 站点情况, ``source`` ``cnemc`` and the id of the
    raw answer; absent values (``--``, ``*``, null) are not stored. A repeated pull changes
    nothing; a changed value replaces the stored one and the old one goes to history.

    Parameters
    ----------
    client_factory : callable, optional
        Makes the ``httpx.AsyncClient`` (default: one with ``timeout``).

    Raises
    ------
    FeedTimeout, FeedAnswerError
        From :func:`fetch_area`; what was received is archived, nothing else is stored.
    DatabaseError
        When the database fails.
    """
    fetched_at = utc_now()
    archive = _Archive(engine)
    factory = client_factory or (lambda: _default_client(timeout))

    async def fetch() -> list[CnemcRow]:
        async with factory() as client:
            return await fetch_area(
                client, url=url, area=area, page_size=page_size, on_raw=archive, retry=retry
            )

    rows = asyncio.run(fetch())
    by_name = {section.name: section for section in registry.sections}
    matched = [row for row in rows if row.section.strip() in by_name]
    observations = _observations(matched, by_name, archive.ids)
    try:
        with engine.begin() as connection:
            counts = upsert_observations(connection, observations)
    except SQLAlchemyError as exc:
        raise DatabaseError(f"无法写入观测 / cannot store observations: {exc}") from exc
    section_ids = tuple(dict.fromkeys(by_name[row.section.strip()].id for row in matched))
    return PullSummary(
        pages=archive.accepted, archived=archive.archived, rows=len(rows), matched=len(matched),
        inserted=counts.inserted, unchanged=counts.unchanged, changed=counts.changed,
        sections=section_ids, fetched_at=fetched_at,
    )  # fmt: skip


def run_every(
    interval_seconds: float,
    *,
    engine: Engine,
    registry: Registry,
    url: str = DEFAULT_URL,
    area: str = HENGSHUI_AREA,
    client_factory: Callable[[], httpx.AsyncClient] | None = None,
    page_size: int = PAGE_SIZE,
    retry: RetryPolicy = DEFAULT_RETRY,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    stop: threading.Event | None = None,
    max_pulls: int | None = None,
) -> int:
    """Pull every ``interval_seconds`` until ``stop`` is set (or ``max_pulls`` pulls were made).

    Each pull logs one Chinese line (:meth:`PullSummary.describe`); a failed pull logs its error
    and the loop waits for the next one, it never ends the loop. Pulls start on a fixed
    schedule (a slow pull shortens the wait, it does not shift later pulls).

    Returns
    -------
    int
        The number of pulls made (successful or not).
    """
    if interval_seconds <= 0:
        raise ValueError("interval_seconds must be positive")
    stop = stop or threading.Event()
    made = 0
    next_start = time.monotonic()
    while not stop.is_set() and (max_pulls is None or made < max_pulls):
        try:
            summary = pull_once(
                engine=engine, registry=registry, url=url, area=area,
                client_factory=client_factory, page_size=page_size, retry=retry, timeout=timeout,
            )  # fmt: skip
            logger.info(summary.describe())
        except QingliuError as exc:
            logger.error("国家平台拉取失败，等待下次：%s", exc)
        except Exception:
            logger.exception("国家平台拉取意外失败，等待下次")
        made += 1
        if max_pulls is not None and made >= max_pulls:
            break
        next_start += interval_seconds
        now = time.monotonic()
        if next_start < now:  # pulls took longer than the interval: start again from now
            next_start = now
        stop.wait(next_start - now)
    return made
