"""Storing what a pull of the national publish API brings: raw answers, then observations.

:func:`pull_once` fetches an area once (:func:`~service.feeds.cnemc.client.fetch_area`),
archives every raw answer as it comes, maps rows to registry sections by name and stores their
values idempotently (a changed value keeps its history). A published value outside its
parameter's physical range is not stored (:mod:`sections.plausibility`); the pull counts and
reports it, and the answer stays in the raw archive. A pull that stops at the page cap or the
byte budget stores what it read and says so in its summary. Periodic pulls are a job of the one
scheduler (:mod:`service.jobs`), which calls :func:`pull_once`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import httpx
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from sections.parameters import parameters
from sections.registry import Registry, Section
from service.db.ingest import RawRecord, archive_raw, upsert_observations
from service.db.models import utc_now
from service.errors import DatabaseError, FeedAnswerError
from service.feeds.cnemc.client import (
    DEFAULT_MAX_ANSWER_BYTES,
    DEFAULT_MAX_PAGES,
    DEFAULT_RETRY,
    DEFAULT_TIMEOUT,
    DEFAULT_URL,
    HENGSHUI_AREA,
    PAGE_SIZE,
    AreaFetch,
    RetryPolicy,
    fetch_area,
)
from service.feeds.cnemc.parse import CAVEAT, CnemcRow, parse_page

__all__ = ["SOURCE", "PullSummary", "pull_once", "station_id"]

logger = logging.getLogger("service.feeds.cnemc")

SOURCE = "cnemc"
"""``source`` of the raw archive and of the observations."""


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
    total_pages : int
        Pages the server announced (``total``).
    stopped : str
        Why the pull read fewer pages than announced (page cap, byte budget); ``""`` if it
        read them all.
    implausible : int
        Values of matched rows outside their parameter's physical range: not stored.
    refused : tuple of str
        ``section: reason`` of each such value.
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
    total_pages: int = 0
    stopped: str = ""
    implausible: int = 0
    refused: tuple[str, ...] = ()
    caveat: str = CAVEAT

    def describe(self) -> str:
        """One line in Chinese for the log (English for the warnings after the slash)."""
        line = (
            f"国家平台拉取：{self.pages} 页 {self.rows} 行，匹配断面 {self.matched} 行"
            f"（{'、'.join(self.sections) or '无'}），新增 {self.inserted}、未变 {self.unchanged}、"
            f"更新 {self.changed} 条观测"
        )
        if self.implausible:
            line += (
                f"；{self.implausible} 个数值超出物理可能范围，未保存 / {self.implausible} "
                f"impossible value(s) not stored: {'; '.join(self.refused[:3])}"
            )
        if self.stopped:
            line += f"；已截断 / truncated: {self.stopped}"
        return line + "；数据未经审核，仅供参考"


def station_id(section_name: str) -> str:
    """The ``station`` of observations from this feed: ``CNEMC:`` + name, at most 24 chars."""
    return ("CNEMC:" + section_name)[:24]


class _Archive:
    """``on_raw`` of a pull: archive every answer at once, with its verdict."""

    def __init__(self, engine: Engine, max_answer_bytes: int) -> None:
        self.engine = engine
        self.max_answer_bytes = max_answer_bytes
        self.ids: dict[str, int] = {}
        self.accepted = 0
        self.archived = 0

    def __call__(self, peer: str, body: bytes, status: int) -> None:
        received = utc_now()
        reason = ""
        if status != 200:
            reason = f"HTTP {status}"
        elif len(body) > self.max_answer_bytes:
            reason = (
                f"应答超过 {self.max_answer_bytes:,} 字节，只存前段 / the answer exceeds "
                f"{self.max_answer_bytes:,} bytes; its beginning is kept"
            )
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
) -> list[dict[str, object]]:
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
    max_pages: int = DEFAULT_MAX_PAGES,
    max_answer_bytes: int = DEFAULT_MAX_ANSWER_BYTES,
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
    max_pages, max_answer_bytes : int
        Paging bounds of :func:`~service.feeds.cnemc.client.fetch_area`
        (``QINGLIU_CNEMC_MAX_PAGES``, ``QINGLIU_CNEMC_MAX_ANSWER_BYTES``); a pull that hits
        one stores what it read and says so in :attr:`PullSummary.stopped`.

    Raises
    ------
    FeedTimeout, FeedAnswerError
        From :func:`fetch_area`; what was received is archived, nothing else is stored.
    DatabaseError
        When the database fails.
    """
    fetched_at = utc_now()
    archive = _Archive(engine, max_answer_bytes)
    factory = client_factory or (lambda: _default_client(timeout))

    async def fetch() -> AreaFetch:
        async with factory() as client:
            return await fetch_area(
                client, url=url, area=area, page_size=page_size, on_raw=archive, retry=retry,
                max_pages=max_pages, max_answer_bytes=max_answer_bytes,
            )  # fmt: skip

    result = asyncio.run(fetch())
    rows = result.rows
    by_name = {section.name: section for section in registry.sections}
    matched = [row for row in rows if row.section.strip() in by_name]
    refused = tuple(f"{row.section}: {why}" for row in matched for why in row.refused.values())
    if refused:
        logger.warning("国家平台不合理数值未保存 / impossible values not stored: %s", refused)
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
        sections=section_ids, fetched_at=fetched_at, total_pages=result.total_pages,
        stopped=result.stopped, implausible=len(refused), refused=refused,
    )  # fmt: skip
