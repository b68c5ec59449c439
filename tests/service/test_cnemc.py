"""The national publish API client: parse_page, fetch_area over a local fake API, pull_once.

The fake API answers in the real format (docs/feeds.md §2), built from the real national
snapshot ``../shared/data/cnemc/national-2025-11-07.csv``: HTML spans with ``原始值`` tooltips in
``title`` or ``data-original-title`` with either quote, ``--``, ``*`` and null, digit and Roman
classes, units in the headers after ``<br/>``.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import hashlib
import json
import logging
import math
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from sqlalchemy import Engine, func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from sections.classes import WaterClass
from sections.registry import Registry
from service.db.models import Observation, ObservationHistory, RawMessage
from service.errors import ConfigurationError, FeedAnswerError, FeedError, FeedTimeout
from service.feeds import cnemc
from service.feeds.cnemc import (
    CAVEAT,
    DEFAULT_URL,
    HENGSHUI_AREA,
    CnemcRow,
    RetryPolicy,
    fetch_area,
    infer_observed_at,
    main_page_url,
    parse_page,
    pull_once,
    translate_error,
)
from service.settings import Settings
from service.time import BEIJING
from tests.conftest import live_server_for
from tests.reference import SHARED_DATA, require

SNAPSHOT = SHARED_DATA / "cnemc" / "national-2025-11-07.csv"
KEYS = ("temp", "ph", "do", "conductivity", "turbidity", "codmn", "nh3n", "tp", "tn", "chla",
        "algae")  # fmt: skip
FAST = RetryPolicy(attempts=3, initial=0.01, maximum=0.05, jitter=0.01)
API_PATH = "/GJZ/Ajax/Publish.ashx"
FETCHED = dt.datetime(2025, 11, 7, 17, 5, tzinfo=BEIJING)

# header HTML per field, in the 2025 order of the page (units after <br/> as the page has them)
HEADERS: list[tuple[str, str]] = [
    ("province", "省份"), ("basin", "流域"), ("section", "断面名称"), ("time", "监测时间"),
    ("class", "水质类别"), ("temp", "水温<br/><span>(℃)</span>"),
    ("ph", "pH<br/><span>(无量纲)</span>"), ("do", "溶解氧<br/><span>(mg/L)</span>"),
    ("conductivity", "电导率<br/><span>(μS/cm)</span>"),
    ("turbidity", "浊度<br/><span>(NTU)</span>"),
    ("codmn", "高锰酸盐指数<br/><span>(mg/L)</span>"), ("nh3n", "氨氮<br/><span>(mg/L)</span>"),
    ("tp", "总磷<br/><span>(mg/L)</span>"), ("tn", "总氮<br/><span>(mg/L)</span>"),
    ("chla", "叶绿素α<br/><span>(mg/L)</span>"), ("algae", "藻密度<br/><span>(cells/L)</span>"),
    ("station_status", "站点情况"),
]  # fmt: skip
VISIBLE_DIGITS = {"temp": 1, "ph": 0, "do": 1, "conductivity": 1, "turbidity": 1, "codmn": 1,
                  "nh3n": 2, "tp": 3, "tn": 2, "chla": 4, "algae": 0}  # fmt: skip
ROMAN = {"1": "Ⅰ", "2": "Ⅱ", "3": "Ⅲ", "4": "Ⅳ", "5": "Ⅴ", "6": "劣Ⅴ"}

# the five forms of a value cell (raw = 原始值 text, shown = the rounded visible text)
VALUE_FORMS: list[Callable[[str, str], str]] = [
    lambda raw, shown: f'<span data-toggle="tooltip" title="原始值：{raw}">{shown}</span>',
    lambda raw, shown: f"<span data-toggle='tooltip' title='原始值：{raw}'>{shown}</span>",
    lambda raw, shown: (
        f'<span class="v" data-original-title="原始值：{raw}" title="">{shown}</span>'
    ),
    lambda raw, shown: f"<span data-original-title='原始值：{raw}'>{shown}</span>",
    lambda raw, shown: raw,  # no tooltip: the visible text is the full value
]


def _snapshot() -> list[dict[str, str]]:
    with require(SNAPSHOT).open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _rows(*names: str) -> list[dict[str, str]]:
    by_name = {row["section"]: row for row in _snapshot()}
    return [dict(by_name[name]) for name in names]


def _hebei() -> list[dict[str, str]]:
    return [dict(row) for row in _snapshot() if row["province"] == "河北省"]


def _value_cell(row: dict[str, str], key: str, r: int, c: int) -> str | None:
    raw = row[key]
    if raw == "":
        if key in ("chla", "algae") and row["water_body"] == "river":
            return "*"  # rivers' stations do not measure chlorophyll and algae
        return ("--", None, "")[(r + c) % 3]
    try:
        shown = f"{float(raw):.{VISIBLE_DIGITS[key]}f}"
    except ValueError:
        shown = raw  # the snapshot has a few cut-off numbers such as "2.828662E"
    return VALUE_FORMS[(r + c) % len(VALUE_FORMS)](raw, shown)


def build_cells(row: dict[str, str], key: str, r: int, c: int, status: str) -> str | None:
    """One cell of the answer for a snapshot row, as the real API writes it."""
    if key == "province":
        return row["province"]
    if key == "basin":
        return "海河流域"
    if key == "section":
        quote = '"' if r % 2 else "'"
        tip = f"所在地市：{row['city']}&#10;所属河流：{row['river']}"
        return f"<span title={quote}{tip}{quote}>{row['section']}</span>"
    if key == "time":
        return row["time"]
    if key == "class":
        return row["published_class"] if r % 2 else ROMAN[row["published_class"]]
    if key == "station_status":
        return status
    return _value_cell(row, key, r, c)


def build_answer(
    rows: list[dict[str, str]],
    *,
    headers: list[tuple[str, str]] | None = None,
    total: int = 1,
    records: int | None = None,
    statuses: dict[str, str] | None = None,
    offset: int = 0,
) -> bytes:
    """A ``getRealDatas`` answer for snapshot rows."""
    headers = headers or HEADERS
    statuses = statuses or {}
    tbody = [
        [
            build_cells(row, key, offset + r, c, statuses.get(row["section"], "正常"))
            for c, (key, _) in enumerate(headers)
        ]
        for r, row in enumerate(rows)
    ]
    document = {"result": 1, "thead": [text for _, text in headers], "tbody": tbody,
                "total": total, "records": len(rows) if records is None else records}  # fmt: skip
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


@dataclass
class FakeApi:
    """The national publish API, locally: switches for every failure the client must handle."""

    rows: list[dict[str, str]]
    headers: list[tuple[str, str]] = field(default_factory=lambda: list(HEADERS))
    cold: str = ""  # "" warm, "until_warm_up": -1 until page + dictionary, "always": -1 forever
    fail_500: int = 0  # answer HTTP 500 this many times first
    slow: float = 0.0  # seconds before each data answer
    short_row: bool = False  # the first row of page 1 lacks its last cell
    extra_pages: int = 0  # announce more pages than there are
    claimed_pages: int = 0  # announce this many pages and serve all rows on every one
    padding: dict[int, int] = field(default_factory=dict)  # page → bytes of filler in its answer
    statuses: dict[str, str] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    forms: list[dict[str, list[str]]] = field(default_factory=list)
    page_loaded: bool = False
    warm: bool = False

    async def main_page(self, request: Request) -> Response:
        self.log.append("page")
        self.page_loaded = True
        return HTMLResponse("<html><title>国家地表水水质自动监测实时数据发布系统</title></html>")

    async def publish(self, request: Request) -> Response:
        form = parse_qs((await request.body()).decode("utf-8"), keep_blank_values=True)
        action = form.get("action", [""])[0]
        if action == "getArea_RiverDic":
            self.log.append("dictionary")
            self.warm = self.page_loaded
            return Response('[{"AreaID":"131100","AreaName":"衡水市"}]', media_type="text/plain")
        index = int(form["PageIndex"][0])
        self.log.append(f"data:{index}")
        self.forms.append(form)
        if self.slow:
            await asyncio.sleep(self.slow)
        if self.fail_500 > 0:
            self.fail_500 -= 1
            return PlainTextResponse("Internal Server Error", status_code=500)
        if self.cold == "always" or (self.cold == "until_warm_up" and not self.warm):
            return PlainTextResponse("-1")
        size = int(form["PageSize"][0])
        pages = max(1, math.ceil(len(self.rows) / size)) + self.extra_pages
        chunk = self.rows[(index - 1) * size : index * size]
        if self.claimed_pages:
            pages, chunk = self.claimed_pages, self.rows[:size]
        body = build_answer(chunk, headers=self.headers, total=pages, records=len(self.rows),
                            statuses=self.statuses, offset=(index - 1) * size)  # fmt: skip
        if index in self.padding:
            document = json.loads(body)
            document["filler"] = "x" * self.padding[index]
            body = json.dumps(document, ensure_ascii=False).encode("utf-8")
        if self.short_row and index == 1:
            document = json.loads(body)
            document["tbody"][0] = document["tbody"][0][:-1]
            body = json.dumps(document, ensure_ascii=False).encode("utf-8")
        return Response(body, media_type="text/plain; charset=utf-8")

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/GJZ/Business/Publish/Main.html", self.main_page, methods=["GET"]),
                Route(API_PATH, self.publish, methods=["POST"]),
            ]
        )


@pytest.fixture
def serve() -> Iterator[Callable[[FakeApi], str]]:
    """Serve fake APIs; returns the ``Publish.ashx`` URL of each."""
    servers: list[live_server_for] = []

    def start(api: FakeApi) -> str:
        server = live_server_for(api.app())
        servers.append(server)
        return server.__enter__() + API_PATH

    yield start
    for server in servers:
        server.__exit__(None, None, None)


def _fetch(url: str, *, timeout: float = 5.0, retry: RetryPolicy = FAST, page_size: int = 200,
           raws: list[tuple[str, bytes, int]] | None = None) -> list[CnemcRow]:  # fmt: skip
    async def run() -> list[CnemcRow]:
        async with httpx.AsyncClient(timeout=httpx.Timeout(timeout)) as client:
            fetched = await fetch_area(
                client, url=url, page_size=page_size, retry=retry,
                on_raw=None if raws is None else lambda *raw: raws.append(raw),
            )  # fmt: skip
            assert not fetched.stopped
            return list(fetched.rows)

    return asyncio.run(run())


def _body(thead: list[str], tbody: Any, **extra: Any) -> str:
    return json.dumps({"result": 1, "thead": thead, "tbody": tbody, "total": 1, "records": 1,
                       **extra}, ensure_ascii=False)  # fmt: skip


# --------------------------------------------------------------------------- parse_page


def test_every_cell_form() -> None:
    thead = ["断面名称", "监测时间", "水质类别", "水温", "pH", "溶解氧", "电导率", "浊度",
             "高锰酸盐指数", "氨氮", "总磷", "总氮", "叶绿素α", "藻密度", "站点情况"]  # fmt: skip
    cells = [
        "<span title='所在地市：衡水市&#10;所属河流：滏阳河'>小范桥</span>",
        "11-07 16:00",
        "3",
        '<span data-toggle="tooltip" title="原始值：13.98">14.0</span>',
        "<span title='原始值：7.6456'>8</span>",
        '<span data-original-title="原始值：5.683" title="">5.7</span>',
        "<span data-original-title='原始值：1176.243'>1176.2</span>",
        "10.135",
        "--",
        None,
        "",
        "<span title='原始值：2.828662E'>2.828662E</span>",
        "*",
        '<span title="原始值：5.070711E+06">5070711</span>',
        "正常",
    ]
    row = parse_page(_body(thead, [cells]), fetched_at=FETCHED).rows[0]
    assert (row.section, row.city, row.river) == ("小范桥", "衡水市", "滏阳河")
    assert row.observed_at == dt.datetime(2025, 11, 7, 16, tzinfo=BEIJING)
    assert row.published_class == WaterClass.III
    assert dict(row.values) == {"temp": 13.98, "ph": 7.6456, "do": 5.683, "conductivity": 1176.243,
                                "turbidity": 10.135, "algae": 5070711.0}  # fmt: skip
    assert dict(row.missing) == {"codmn": "no_data", "nh3n": "no_data", "tp": "no_data",
                                 "tn": "invalid", "chla": "not_measured"}  # fmt: skip
    assert row.station_status == "正常" and row.station_flag == "N"
    assert row.caveat == CAVEAT and "未经审核" in CAVEAT and "仅供参考" in CAVEAT


@pytest.mark.parametrize(
    ("fetched", "text", "expected"),
    [
        pytest.param(dt.datetime(2026, 1, 1, 0, 10, tzinfo=BEIJING), "12-31 23:00",
                     dt.datetime(2025, 12, 31, 23, tzinfo=BEIJING), id="new-year"),
        pytest.param(dt.datetime(2025, 12, 31, 16, 10, tzinfo=dt.UTC), "12-31 23:00",
                     dt.datetime(2025, 12, 31, 23, tzinfo=BEIJING), id="new-year-fetched-in-utc"),
        pytest.param(dt.datetime(2026, 1, 1, 0, 10, tzinfo=BEIJING), "01-01 00:00",
                     dt.datetime(2026, 1, 1, tzinfo=BEIJING), id="same-day"),
        pytest.param(dt.datetime(2026, 1, 1, 0, 10, tzinfo=BEIJING), "01-01 04:00",
                     dt.datetime(2026, 1, 1, 4, tzinfo=BEIJING), id="clock-ahead-same-year"),
        pytest.param(FETCHED, "11-07 16:00", dt.datetime(2025, 11, 7, 16, tzinfo=BEIJING),
                     id="snapshot"),
        pytest.param(dt.datetime(2025, 3, 1, 9, tzinfo=BEIJING), "02-29 12:00",
                     dt.datetime(2024, 2, 29, 12, tzinfo=BEIJING), id="leap-day"),
        pytest.param(FETCHED, "2024-11-07 16:00", dt.datetime(2024, 11, 7, 16, tzinfo=BEIJING),
                     id="with-year"),
    ],
)  # fmt: skip
def test_year_inference(fetched: dt.datetime, text: str, expected: dt.datetime) -> None:
    got = infer_observed_at(text, fetched_at=fetched)
    assert got == expected and got.tzinfo is BEIJING


def test_new_year_through_parse_page() -> None:
    body = _body(["断面名称", "监测时间"], [["小范桥", "12-31 23:00"]])
    fetched = dt.datetime(2026, 1, 1, 0, 10, tzinfo=BEIJING)
    row = parse_page(body, fetched_at=fetched).rows[0]
    assert row.observed_at == dt.datetime(2025, 12, 31, 23, tzinfo=BEIJING)
    assert row.time_text == "12-31 23:00"


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("1", 1), ("3", 3), ("6", 6), ("Ⅱ", 2), ("Ⅲ", 3), ("劣Ⅴ", 6), ("III", 3), ("IV", 4),
     ("劣V", 6), ("Ⅲ类", 3), ("<span style='color:#43a047'>Ⅲ</span>", 3), ("--", None),
     ("", None), (None, None)],
)  # fmt: skip
def test_class_forms(cell: str | None, expected: int | None) -> None:
    row = parse_page(_body(["断面名称", "监测时间", "水质类别"], [["小范桥", "11-07 16:00", cell]]),
                     fetched_at=FETCHED).rows[0]  # fmt: skip
    assert row.published_class == expected


def test_unknown_class_is_refused() -> None:
    body = _body(["断面名称", "监测时间", "水质类别"], [["小范桥", "11-07 16:00", "Ⅶ"]])
    with pytest.raises(FeedAnswerError, match="Ⅶ"):
        parse_page(body, fetched_at=FETCHED)


@pytest.mark.parametrize(
    ("header", "expected"),
    [("叶绿素α<br/><span>(mg/L)</span>", 30.766), ("叶绿素α", 30.766), ("叶绿素a(mg/L)", 30.766),
     ("叶绿素α<br/><span>(μg/L)</span>", 0.030766)],
    ids=["mg/L-header", "no-unit", "ascii-a", "ug/L-header"],
)  # fmt: skip
def test_chlorophyll_to_mg_per_m3(header: str, expected: float) -> None:
    # national snapshot 2025-11-07: 衡水湖大湖心 叶绿素α 原始值 0.030766 (mg/L) = 30.766 mg/m³
    cell = "<span title='原始值：0.030766'>0.0308</span>"
    body = _body(["断面名称", "监测时间", header], [["衡水湖大湖心", "11-07 16:00", cell]])
    assert parse_page(body, fetched_at=FETCHED).rows[0].values["chla"] == expected


def test_headers_are_matched_by_text_not_position() -> None:
    rows = _rows("小范桥", "衡水湖大湖心")
    plain = parse_page(build_answer(rows), fetched_at=FETCHED)
    shuffled = parse_page(build_answer(rows, headers=HEADERS[::-1]), fetched_at=FETCHED)
    assert plain.rows == shuffled.rows
    assert plain.sha256 != shuffled.sha256
    assert shuffled.columns == tuple(key for key, _ in HEADERS[::-1])


def test_unknown_headers_are_reported_and_ignored() -> None:
    body = _body(["断面名称", "监测时间", "总有机碳<br/><span>(mg/L)</span>"],
                 [["小范桥", "11-07 16:00", "3.2"]])  # fmt: skip
    page = parse_page(body, fetched_at=FETCHED)
    assert page.unknown_headers == ("总有机碳",)
    assert dict(page.rows[0].values) == {}


def test_the_whole_national_snapshot() -> None:
    """Every value and class of the real snapshot comes back from an answer in the real format."""
    rows = _snapshot()
    page = parse_page(build_answer(rows), fetched_at=FETCHED)
    assert len(page.rows) == len(rows) == 1565
    for parsed, source in zip(page.rows, rows, strict=True):
        assert parsed.section == source["section"]
        assert parsed.river == source["river"] and parsed.city == source["city"]
        assert parsed.published_class == int(source["published_class"])
        assert parsed.observed_at is not None
        assert parsed.observed_at.strftime("%m-%d %H:%M") == source["time"]
        for key in KEYS:
            text = source[key]
            if text == "":
                assert parsed.missing[key] in ("no_data", "not_measured")
                continue
            try:
                expected = float(text) * (1000 if key == "chla" else 1)
            except ValueError:  # cut-off numbers in the snapshot, e.g. "2.828662E"
                assert parsed.missing[key] == "invalid"
                continue
            assert parsed.values[key] == pytest.approx(expected, rel=1e-12), (
                source["section"],
                key,
            )


@pytest.mark.parametrize(
    ("body", "match"),
    [
        pytest.param("-1", "-1", id="cold"),
        pytest.param(" -1\r\n", "-1", id="cold-with-space"),
        pytest.param("<html>error</html>", "JSON", id="html"),
        pytest.param("[1, 2]", "JSON", id="not-an-object"),
        pytest.param(_body(["断面名称", "监测时间"], [], result=0), "result", id="result-0"),
        pytest.param('{"result":1,"tbody":[],"total":1}', "thead", id="no-thead"),
        pytest.param('{"result":1,"thead":["断面名称","监测时间"],"total":1}', "tbody",
                     id="no-tbody"),
        pytest.param('{"result":1,"thead":["断面名称","监测时间"],"tbody":[]}', "total",
                     id="no-total"),
        pytest.param(_body(["断面名称", "监测时间", "氨氮"], [["小范桥", "11-07 16:00"]]), "截断",
                     id="short-row"),
        pytest.param(_body(["断面名称", "监测时间"], [["小范桥", "11-07 16:00", "0.1"]]), "row 1",
                     id="long-row"),
        pytest.param(_body(["断面名称", "监测时间"], ["小范桥"]), "row 1", id="row-not-a-list"),
        pytest.param(_body(["流域", "监测时间"], [["海河流域", "11-07 16:00"]]), "断面名称",
                     id="no-section-column"),
        pytest.param(_body(["断面名称", "氨氮"], [["小范桥", "0.1"]]), "监测时间",
                     id="no-time-column"),
        pytest.param(_body(["断面名称", "监测时间", "氨氮", "氨氮<br/>(mg/L)"],
                           [["小范桥", "11-07 16:00", "1", "1"]]), "twice", id="duplicate"),
        pytest.param(_body(["断面名称", "监测时间"], [["小范桥", "11/07 16时"]]), "time",
                     id="bad-time"),
        pytest.param(_body(["断面名称", "监测时间", "叶绿素α(g/L)"],
                           [["小范桥", "11-07 16:00", "1"]]),
                     "chlorophyll", id="unknown-chla-unit"),
        pytest.param(b"\xff\xfe{", "UTF-8", id="not-utf8"),
    ],
)  # fmt: skip
def test_unusable_answers_are_refused(body: str | bytes, match: str) -> None:
    with pytest.raises(FeedAnswerError, match=match):
        parse_page(body, fetched_at=FETCHED)


def test_bom_and_string_results_are_accepted() -> None:
    body = "\ufeff" + _body(["断面名称", "监测时间"], [["小范桥", "11-07 16:00"]],
                            result="1", total="3", records="412")  # fmt: skip
    page = parse_page(body.encode("utf-8"), fetched_at=FETCHED)
    assert (page.total_pages, page.records, len(page.rows)) == (3, 412, 1)
    assert page.sha256 == hashlib.sha256(body.encode("utf-8")).hexdigest()


@pytest.mark.parametrize(("status", "flag"), [("正常", "N"), ("维护", "M"), ("不具备运行条件", "F"),
                                              (None, "N"), ("新状态", None)])  # fmt: skip
def test_station_status_flags(status: str | None, flag: str | None) -> None:
    body = _body(["断面名称", "监测时间", "站点情况"], [["小范桥", "11-07 16:00", status]])
    assert parse_page(body, fetched_at=FETCHED).rows[0].station_flag == flag


def test_naive_fetch_time_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="zone"):
        infer_observed_at("11-07 16:00", fetched_at=dt.datetime(2025, 11, 7))


# --------------------------------------------------------------------------- configuration


def test_url_from_environment() -> None:
    from service.settings import Settings

    assert Settings.from_env({}).cnemc_url is None  # then DEFAULT_URL
    assert Settings.from_env({"QINGLIU_CNEMC_URL": "  "}).cnemc_url is None
    url = "http://127.0.0.1:9/x.ashx"
    assert Settings.from_env({"QINGLIU_CNEMC_URL": url}).cnemc_url == url
    with pytest.raises(ConfigurationError, match="QINGLIU_CNEMC_URL"):
        Settings.from_env({"QINGLIU_CNEMC_URL": "szzdjc.cnemc.cn"})
    assert (
        main_page_url(DEFAULT_URL) == "https://szzdjc.cnemc.cn:8070/GJZ/Business/Publish/Main.html"
    )


def _httpx_exceptions() -> list[type[BaseException]]:
    found = []
    for name in httpx.__all__:
        item = getattr(httpx, name)
        if isinstance(item, type) and issubclass(item, BaseException):
            found.append(item)
    return found


@pytest.mark.parametrize("kind", _httpx_exceptions(), ids=lambda kind: kind.__name__)
def test_every_httpx_error_is_translated(kind: type[BaseException]) -> None:
    request = httpx.Request("POST", DEFAULT_URL)
    if kind is httpx.HTTPStatusError:
        exc: BaseException = kind("500", request=request, response=httpx.Response(500))
    else:
        try:
            exc = kind("boom")
        except TypeError:  # RequestNotRead, ResponseNotRead … take no message
            exc = kind()
    translated = translate_error(exc)
    assert isinstance(translated, FeedError)
    no_answer = issubclass(kind, httpx.TimeoutException | httpx.NetworkError)
    assert isinstance(translated, FeedTimeout) is no_answer


# --------------------------------------------------------------------------- fetch_area


def test_paging_over_three_pages(serve: Callable[[FakeApi], str]) -> None:
    api = FakeApi(rows=_hebei())
    raws: list[tuple[str, bytes, int]] = []
    rows = _fetch(serve(api), page_size=15, raws=raws)
    assert api.log == ["data:1", "data:2", "data:3"]
    assert [row.section for row in rows] == [row["section"] for row in _hebei()]
    assert len(rows) == 40
    assert [status for _, _, status in raws] == [200, 200, 200]
    assert all(peer.endswith(API_PATH) for peer, _, _ in raws)
    assert {form["AreaID"][0] for form in api.forms} == {HENGSHUI_AREA}
    assert [form["PageSize"][0] for form in api.forms] == ["15"] * 3
    assert {row.body_sha256 for row in rows} == {hashlib.sha256(b).hexdigest() for _, b, _ in raws}


def test_warm_up_after_a_cold_answer(serve: Callable[[FakeApi], str]) -> None:
    api = FakeApi(rows=_rows("小范桥", "衡水湖大湖心"), cold="until_warm_up")
    raws: list[tuple[str, bytes, int]] = []
    rows = _fetch(serve(api), raws=raws)
    assert api.log == ["data:1", "page", "dictionary", "data:1"]
    assert raws[0][1] == b"-1"
    assert [row.section for row in rows] == ["小范桥", "衡水湖大湖心"]


def test_cold_after_warm_up_is_an_error(serve: Callable[[FakeApi], str]) -> None:
    api = FakeApi(rows=_rows("小范桥"), cold="always")
    with pytest.raises(FeedAnswerError, match="-1"):
        _fetch(serve(api))
    assert api.log == ["data:1", "page", "dictionary", "data:1"]


def test_retry_after_500(serve: Callable[[FakeApi], str]) -> None:
    api = FakeApi(rows=_rows("小范桥"), fail_500=2)
    raws: list[tuple[str, bytes, int]] = []
    rows = _fetch(serve(api), raws=raws)
    assert [status for _, _, status in raws] == [500, 500, 200]
    assert [row.section for row in rows] == ["小范桥"]


def test_500_after_bounded_retries(serve: Callable[[FakeApi], str]) -> None:
    api = FakeApi(rows=_rows("小范桥"), fail_500=10)
    with pytest.raises(FeedAnswerError, match="HTTP 500"):
        _fetch(serve(api))
    assert api.log == ["data:1"] * FAST.attempts


def test_timeout_after_bounded_retries(serve: Callable[[FakeApi], str]) -> None:
    api = FakeApi(rows=_rows("小范桥"), slow=1.0)
    with pytest.raises(FeedTimeout) as caught:
        _fetch(serve(api), timeout=0.2, retry=RetryPolicy(attempts=2, initial=0.01, jitter=0.01))
    assert api.log == ["data:1", "data:1"]
    assert not isinstance(caught.value.__cause__, FeedError)  # the httpx error, kept as the cause


def test_no_server_is_a_feed_timeout() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(FeedTimeout, match="no connection"):
        _fetch(f"http://127.0.0.1:{port}{API_PATH}")


def test_short_row_is_a_truncated_page(serve: Callable[[FakeApi], str]) -> None:
    api = FakeApi(rows=_rows("小范桥", "衡水湖大湖心"), short_row=True)
    with pytest.raises(FeedAnswerError, match="truncated"):
        _fetch(serve(api))


def test_missing_page_is_a_truncated_result(serve: Callable[[FakeApi], str]) -> None:
    api = FakeApi(rows=_hebei(), extra_pages=1)
    with pytest.raises(FeedAnswerError, match="page 3 of 3 has 0 rows"):
        _fetch(serve(api), page_size=20)  # 40 rows: 2 pages, announced as 3
    assert api.log == ["data:1", "data:2", "data:3"]


def test_reordered_columns_give_identical_rows(serve: Callable[[FakeApi], str]) -> None:
    plain = _fetch(serve(FakeApi(rows=_hebei())), page_size=15)
    shuffled_headers = HEADERS[5:] + HEADERS[:5]
    shuffled = _fetch(serve(FakeApi(rows=_hebei(), headers=shuffled_headers)), page_size=15)
    assert plain == shuffled


# --------------------------------------------------------------------------- pull_once


def _client() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=httpx.Timeout(5.0))


def _pull(db: Engine, registry: Registry, url: str) -> cnemc.PullSummary:
    return pull_once(engine=db, registry=registry, url=url, client_factory=_client, retry=FAST)


def _observations(db: Engine) -> dict[tuple[str, str], Any]:
    with db.connect() as connection:
        found = connection.execute(select(Observation.__table__)).all()  # type: ignore[attr-defined]
    return {(row.section_id, row.parameter): row for row in found}


def _raws(db: Engine) -> list[Any]:
    table = RawMessage.__table__  # type: ignore[attr-defined]
    with db.connect() as connection:
        return list(connection.execute(select(table).order_by(table.c.id)).all())


def test_pull_once_archives_maps_and_stores(
    db: Engine, registry: Registry, serve: Callable[[FakeApi], str]
) -> None:
    api = FakeApi(rows=_rows("小范桥", "衡水湖大湖心", "曲周", "南刘庄"), cold="until_warm_up",
                  statuses={"衡水湖大湖心": "维护"})  # fmt: skip
    url = serve(api)
    summary = _pull(db, registry, url)
    assert (summary.pages, summary.archived, summary.rows, summary.matched) == (1, 2, 4, 2)
    assert summary.sections == ("xiaofanqiao", "hengshuihu-dahuxin")
    assert (summary.inserted, summary.unchanged, summary.changed) == (9 + 11, 0, 0)
    assert "新增 20" in summary.describe() and "仅供参考" in summary.describe()

    raws = _raws(db)
    assert [(r.source, r.parse_status, r.peer) for r in raws] == [
        ("cnemc", "rejected", url), ("cnemc", "accepted", url)]  # fmt: skip
    assert raws[0].payload == b"-1" and "-1" in raws[0].reason
    assert all(r.sha256 == hashlib.sha256(r.payload).hexdigest() for r in raws)

    stored = _observations(db)
    assert {section for section, _ in stored} == {"xiaofanqiao", "hengshuihu-dahuxin"}
    nh3n = stored[("xiaofanqiao", "nh3n")]
    assert (nh3n.station, nh3n.value, nh3n.unit, nh3n.source) == ("CNEMC:小范桥", 0.0462, "mg/L",
                                                                  "cnemc")  # fmt: skip
    assert nh3n.station_flag == "N" and nh3n.raw_message_id == raws[1].id
    expected_time = infer_observed_at("11-07 16:00", fetched_at=summary.fetched_at)
    observed = nh3n.observed_at
    observed = observed if observed.tzinfo else observed.replace(tzinfo=dt.UTC)
    assert observed == expected_time
    chla = stored[("hengshuihu-dahuxin", "chla")]
    assert (chla.value, chla.unit, chla.station_flag) == (pytest.approx(30.766), "mg/m³", "M")
    assert stored[("hengshuihu-dahuxin", "ph")].unit == "dimensionless"
    assert ("xiaofanqiao", "chla") not in stored  # "*": not measured, not stored

    again = _pull(db, registry, url)
    assert (again.inserted, again.unchanged, again.changed) == (0, 20, 0)
    assert len(_observations(db)) == 20
    assert len(_raws(db)) == 3  # the second pull's answer is archived too (already warm)


def test_changed_value_keeps_its_history(
    db: Engine, registry: Registry, serve: Callable[[FakeApi], str]
) -> None:
    api = FakeApi(rows=_rows("小范桥", "衡水湖大湖心"))
    url = serve(api)
    _pull(db, registry, url)
    first_raw = _observations(db)[("xiaofanqiao", "nh3n")].raw_message_id
    api.rows[0]["nh3n"] = "0.0521"  # the station re-sent a corrected value for the same hour
    summary = _pull(db, registry, url)
    assert (summary.inserted, summary.unchanged, summary.changed) == (0, 19, 1)
    stored = _observations(db)[("xiaofanqiao", "nh3n")]
    assert stored.value == 0.0521 and stored.raw_message_id != first_raw
    table = ObservationHistory.__table__  # type: ignore[attr-defined]
    with db.connect() as connection:
        history = connection.execute(select(table)).all()
    assert [(h.observation_id, h.value, h.raw_message_id) for h in history] == [
        (stored.id, 0.0462, first_raw)]  # fmt: skip


def test_failed_pull_archives_and_stores_nothing(
    db: Engine, registry: Registry, serve: Callable[[FakeApi], str]
) -> None:
    api = FakeApi(rows=_rows("小范桥"), fail_500=10)
    with pytest.raises(FeedAnswerError):
        _pull(db, registry, serve(api))
    raws = _raws(db)
    assert [(r.parse_status, r.reason) for r in raws] == [("rejected", "HTTP 500")] * FAST.attempts
    with db.connect() as connection:
        count = connection.execute(select(func.count()).select_from(Observation.__table__)).scalar()  # type: ignore[attr-defined]
    assert count == 0


def test_truncated_pull_stores_nothing(
    db: Engine, registry: Registry, serve: Callable[[FakeApi], str]
) -> None:
    rows = _rows("小范桥", "衡水湖大湖心", "曲周")
    with pytest.raises(FeedAnswerError, match="truncated"):
        pull_once(engine=db, registry=registry, url=serve(FakeApi(rows=rows, extra_pages=1)),
                  client_factory=_client, retry=FAST, page_size=2)  # fmt: skip
    assert _observations(db) == {}
    assert {r.parse_status for r in _raws(db)} == {"accepted"}  # each answer alone was fine


def test_a_failed_pull_leaves_the_next_one_working(
    db: Engine, registry: Registry, serve: Callable[[FakeApi], str]
) -> None:
    # periodic pulls are a job of the one scheduler: each one is a plain pull_once
    api = FakeApi(rows=_rows("小范桥"), fail_500=FAST.attempts)  # the first pull fails
    url = serve(api)
    with pytest.raises(FeedAnswerError, match="HTTP 500"):
        pull_once(engine=db, registry=registry, url=url, client_factory=_client, retry=FAST)
    assert _observations(db) == {}
    summary = pull_once(engine=db, registry=registry, url=url, client_factory=_client, retry=FAST)
    assert summary.describe().startswith("国家平台拉取：1 页 1 行")
    assert len(_observations(db)) == 9


# --------------------------------------------------------------------------- bounded pulls


def test_a_server_claiming_3531_pages_is_read_up_to_the_cap(
    db: Engine,
    registry: Registry,
    serve: Callable[[FakeApi], str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The attack of issue 11: a fake API claimed 3,531 pages and the client fetched 305 MB."""
    api = FakeApi(rows=_rows("小范桥", "衡水湖大湖心"), claimed_pages=3531)
    cap = Settings(cnemc_max_pages=3).cnemc_max_pages
    with caplog.at_level(logging.WARNING, logger="service.feeds.cnemc"):
        summary = pull_once(engine=db, registry=registry, url=serve(api), client_factory=_client,
                            retry=FAST, page_size=2, max_pages=cap)  # fmt: skip
    assert api.log == ["data:1", "data:2", "data:3"]
    assert (summary.pages, summary.total_pages, summary.rows) == (3, 3531, 6)
    assert "3,531" in summary.stopped and "limit of 3 per pull" in summary.stopped
    assert "已截断" in summary.describe() and "3,531" in summary.describe()
    assert any("3,531" in record.getMessage() for record in caplog.records)
    assert len(_observations(db)) == 20  # what was read is stored (the same rows on every page)


def test_the_default_cap_holds_without_a_setting(serve: Callable[[FakeApi], str]) -> None:
    api = FakeApi(rows=_rows("小范桥"), claimed_pages=3531)

    async def run() -> cnemc.AreaFetch:
        async with _client() as client:
            return await fetch_area(client, url=serve(api), page_size=1, retry=FAST)

    fetched = asyncio.run(run())
    assert fetched.pages == cnemc.DEFAULT_MAX_PAGES == Settings().cnemc_max_pages == 20
    assert len(api.log) == 20 and fetched.total_pages == 3531 and fetched.stopped


def test_an_answer_over_the_byte_budget_stops_paging(
    db: Engine, registry: Registry, serve: Callable[[FakeApi], str]
) -> None:
    api = FakeApi(rows=_rows("小范桥", "衡水湖大湖心", "曲周", "南刘庄"), padding={2: 300_000})
    summary = pull_once(engine=db, registry=registry, url=serve(api), client_factory=_client,
                        retry=FAST, page_size=2, max_answer_bytes=100_000)  # fmt: skip
    assert (summary.pages, summary.total_pages, summary.rows) == (1, 2, 2)
    assert "page 2" in summary.stopped and "100,000 bytes" in summary.stopped
    raws = _raws(db)
    assert [r.parse_status for r in raws] == ["accepted", "rejected"]
    assert len(raws[1].payload) == 100_001 and "100,000" in raws[1].reason  # kept, cut


def test_a_first_answer_over_the_byte_budget_fails_the_pull(
    db: Engine, registry: Registry, serve: Callable[[FakeApi], str]
) -> None:
    api = FakeApi(rows=_rows("小范桥"), padding={1: 300_000})
    with pytest.raises(FeedAnswerError, match="exceeds 100,000 bytes"):
        pull_once(engine=db, registry=registry, url=serve(api), client_factory=_client,
                  retry=FAST, max_answer_bytes=100_000)  # fmt: skip
    assert [r.parse_status for r in _raws(db)] == ["rejected"]
    assert _observations(db) == {}


def test_an_impossible_published_value_is_not_stored(
    db: Engine, registry: Registry, serve: Callable[[FakeApi], str]
) -> None:
    rows = _rows("小范桥", "衡水湖大湖心")
    rows[0]["nh3n"], rows[1]["ph"] = "4620", "15.2"  # NH3-N ≤ 1,000 mg/L, pH 0–14
    summary = _pull(db, registry, serve(FakeApi(rows=rows)))
    stored = _observations(db)
    assert ("xiaofanqiao", "nh3n") not in stored and ("hengshuihu-dahuxin", "ph") not in stored
    assert ("xiaofanqiao", "tp") in stored  # the other values of the row are kept
    assert summary.implausible == 2 and summary.inserted == 18
    assert summary.refused[0].startswith("小范桥: nh3n = 4620 超出物理可能范围")
    assert "2 个数值超出物理可能范围" in summary.describe()


def test_parse_page_marks_an_impossible_value() -> None:
    cell = "<span title='原始值：1e9'>1e9</span>"
    body = _body(["断面名称", "监测时间", "氨氮", "总磷"], [["小范桥", "11-07 16:00", cell, "0.1"]])
    (row,) = parse_page(body, fetched_at=FETCHED).rows
    assert dict(row.values) == {"tp": 0.1}
    assert row.missing["nh3n"] == "implausible" and "nh3n = 1e+09" in row.refused["nh3n"]


def test_public_names_and_no_polling_loop() -> None:
    kind = {True: 0, False: 1}
    assert cnemc.__all__ == sorted(
        cnemc.__all__, key=lambda n: (kind[n.isupper()] if n[0].isupper() else 2, n)
    )
    assert all(hasattr(cnemc, name) for name in cnemc.__all__)
    assert not hasattr(cnemc, "run_every")  # polling is the scheduler's (service.jobs)
