"""The compensation pages over real HTTP: the menu's landing month, the picker, the year view,
the reasons in the summary rows and the county's own unit.

Two months are seeded at 滏阳河冀州区出境 (unit 冀州区, Class Ⅲ since 2023):

- March 2025: one spot check of COD at 42 mg/L: (42 − 20) / 20 = 1.1 → 6 tiers → 180 万元;
- May 2025: NH3-N automatic daily values of 0.3 mg/L except 3 consecutive days at 2.0 mg/L: the
  monthly mean (0.46) meets the standard (达标), yet the 3-day run is one event → 30 万元.

April has no data.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import inspect
import re
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from compensation.statement import WAN
from sections.registry import Registry
from service.app import create_app
from service.db.models import Observation, utc_now
from service.settings import Settings
from service.statements.monthly import shown_statement
from service.time import BEIJING
from service.web import compensation_contexts, compensation_views
from tests.conftest import bearer, live_server_for

MARCH, APRIL, MAY = dt.date(2025, 3, 1), dt.date(2025, 4, 1), dt.date(2025, 5, 1)
SECTION = "fuyang-jizhou"
RUN = (dt.date(2025, 5, 10), dt.date(2025, 5, 11), dt.date(2025, 5, 12))


def _at(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), BEIJING).astimezone(dt.UTC)


def _observation(parameter: str, when: dt.datetime, value: float, *, kind: str | None = None,
                 source: str = "hj212") -> Observation:  # fmt: skip
    return Observation(
        station="MN-" + SECTION, section_id=SECTION, parameter=parameter, observed_at=when,
        value=value, unit="mg/L", station_flag=None if kind else "N", source=source,
        sample_kind=kind, received_at=utc_now(),
    )  # fmt: skip


def _seed(engine: Engine) -> None:
    rows = [_observation("cod", _at(dt.date(2025, 3, 5), 10), 42.0, kind="spot", source="manual")]
    for day in (MAY + dt.timedelta(days=n) for n in range(31)):
        value = 2.0 if day in RUN else 0.3
        rows += [_observation("nh3n", _at(day, hour), value) for hour in (0, 4, 8, 12, 16, 20)]
    with Session(engine) as session:
        session.add_all(rows)
        session.commit()


@pytest.fixture
def served(settings: Settings, db: Engine) -> Iterator[tuple[str, Engine]]:
    """The app on a live server over the test's migrated database (seed it before asking)."""
    app = create_app(settings)
    try:
        with live_server_for(app) as base_url:
            yield base_url, app.state.engine
    finally:
        app.state.engine.dispose()


@pytest.fixture
def seeded(served: tuple[str, Engine]) -> Iterator[tuple[httpx.Client, Engine]]:
    base_url, engine = served
    _seed(engine)
    with httpx.Client(base_url=base_url, timeout=60, headers=bearer(engine)) as http:
        yield http, engine


def _table(html: str, table_id: str) -> str:
    match = re.search(rf'<table[^>]*id="{table_id}".*?</table>', html, re.S)
    assert match is not None, f"no table #{table_id}"
    return match.group(0)


def _rows(table: str) -> dict[str, str]:
    """``data-unit`` → the row's HTML."""
    parts = re.split(r"(?=<tr data-unit=)", table)
    found = {}
    for part in parts[1:]:
        unit = re.match(r'<tr data-unit="([^"]*)"', part)
        assert unit is not None
        found[unit.group(1)] = part.split("</tr>")[0]
    return found


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# --- the landing month and the empty state ------------------------------------------------------


def test_the_menu_opens_the_newest_month_with_data(
    seeded: tuple[httpx.Client, Engine],
) -> None:
    http, _ = seeded
    answer = http.get("/compensation", follow_redirects=False)
    assert answer.status_code == 307
    assert answer.headers["location"] == "/compensation/2025-05"
    unit = http.get("/compensation", params={"unit": "jizhou"}, follow_redirects=False)
    assert unit.headers["location"] == "/compensation/2025-05/jizhou"
    page = http.get("/compensation", follow_redirects=True)
    assert page.status_code == 200 and str(page.url).endswith("/compensation/2025-05")
    assert 'id="no-data"' not in page.text


def test_an_issued_month_counts_as_data(seeded: tuple[httpx.Client, Engine]) -> None:
    http, _ = seeded
    assert http.post("/api/compensation/2025-07/issue").status_code == 200
    answer = http.get("/compensation", follow_redirects=False)
    assert answer.headers["location"] == "/compensation/2025-07"


def test_without_any_data_the_menu_says_so(served: tuple[str, Engine]) -> None:
    base_url, engine = served
    with httpx.Client(base_url=base_url, timeout=60, headers=bearer(engine)) as http:
        answer = http.get("/compensation", follow_redirects=False)
    assert answer.status_code == 200
    assert 'id="no-data"' in answer.text and "尚无任何月份的监测数据" in answer.text
    assert "0 万元" not in answer.text


# --- the picker -------------------------------------------------------------------------------


def test_the_picker_lists_the_months_with_data_and_its_links_work(
    seeded: tuple[httpx.Client, Engine],
) -> None:
    http, _ = seeded
    page = http.get("/compensation/2025-05").text
    picker = re.search(r'<nav[^>]*id="month-picker".*?</nav>', page, re.S)
    assert picker is not None
    nav = picker.group(0)
    options = re.findall(r'<option value="([^"]+)"( selected)?>', nav)
    assert options == [("2025-05", " selected"), ("2025-03", "")]  # April has no data
    assert '<form method="get" action="/compensation">' in nav and "<script" not in page
    previous = re.search(r'<a href="([^"]+)" rel="prev">', nav)
    assert previous is not None and previous.group(1) == "/compensation/2025-03"
    assert 'rel="next"' not in nav
    march = http.get(previous.group(1))
    assert march.status_code == 200 and "2025年03月生态补偿金扣缴通报" in march.text
    assert re.search(r'<a href="/compensation/2025-05" rel="next">', march.text)
    # the form's submission, as a browser sends it without script
    chosen = http.get("/compensation", params={"month": "2025-03"}, follow_redirects=False)
    assert (chosen.status_code, chosen.headers["location"]) == (303, "/compensation/2025-03")
    assert http.get("/compensation", params={"month": "2025-13"}).status_code == 404
    # on a unit's page the form keeps the unit and the links stay on it
    unit_page = http.get("/compensation/2025-05/jizhou").text
    assert '<input type="hidden" name="unit" value="jizhou">' in unit_page
    assert '<a href="/compensation/2025-03/jizhou" rel="prev">' in unit_page
    kept = http.get("/compensation", params={"month": "2025-03", "unit": "jizhou"},
                    follow_redirects=False)  # fmt: skip
    assert kept.headers["location"] == "/compensation/2025-03/jizhou"
    assert 'href="/compensation?year=2025"' in page
    # a month without data says so rather than showing a bare 0
    april = http.get("/compensation/2025-04").text
    assert 'id="no-data"' in april and "不表示达标" in april


# --- the reasons in the summary rows --------------------------------------------------------------


def test_a_paying_row_names_its_reason(seeded: tuple[httpx.Client, Engine]) -> None:
    http, _ = seeded
    may = http.get("/compensation/2025-05").text
    row = _rows(_table(may, "compensation-summary"))["jizhou"]
    text = _text(row)
    assert "氨氮连续3日超标 1 次" in text and "05-10至05-12" in text
    assert "30 万元" in text and "300,000" in text
    assert "达标" not in text  # the monthly mean meets the standard; the row must not say only that
    march = http.get("/compensation/2025-03").text
    text = _text(_rows(_table(march, "compensation-summary"))["jizhou"])
    assert "化学需氧量超标 1.1 倍" in text and "6 档" in text and "180 万元" in text
    others = _rows(_table(march, "compensation-summary"))["taocheng"]
    assert "不扣缴" in _text(others) and 'data-yuan="0"' in others
    # the statement itself (values, clauses) follows, behind 取值明细
    details = may.index('<details id="trace">')
    assert may.index('id="compensation-summary"') < details < may.index('class="statement"')
    assert "取值明细" in may[details:]


# --- the year view ------------------------------------------------------------------------------


def test_the_year_view_sums_to_the_statements(
    seeded: tuple[httpx.Client, Engine], registry: Registry
) -> None:
    http, engine = seeded
    assert http.post("/api/compensation/2025-03/issue").status_code == 200  # May stays a draft
    page = http.get("/compensation", params={"year": "2025"})
    assert page.status_code == 200
    rows = _rows(_table(page.text, "year-table"))
    assert list(rows)[:-1] == [u.id for u in registry.units] and list(rows)[-1] == ""
    expected: dict[str, dict[str, Decimal]] = {}
    for month in (MARCH, MAY):
        statement, record, _ = shown_statement(engine=engine, registry=registry, month=month)
        assert (record is not None) == (month == MARCH)
        for unit in statement.units:
            expected.setdefault(unit.unit, {})[f"{month:%Y-%m}"] = unit.total_yuan
        expected.setdefault("", {})[f"{month:%Y-%m}"] = statement.total_yuan
    for unit, row in rows.items():
        cells = dict(re.findall(r'data-month="(\d{4}-\d{2})" data-yuan="([^"]*)"', row))
        assert len(cells) == 12
        assert {m: Decimal(v) for m, v in cells.items() if v} == expected[unit]
        year_total = re.match(r'<tr data-unit="[^"]*" data-yuan="([^"]+)"', row)
        assert year_total is not None
        assert Decimal(year_total.group(1)) == sum(expected[unit].values(), Decimal(0))
    # 180 + 30 万元, exact to the yuan
    assert Decimal(re.findall(r'data-yuan="([^"]+)"', rows["jizhou"])[0]) == 210 * WAN
    assert "2,100,000" in rows["jizhou"] and "2025年5月" in page.text  # May listed as a draft
    # each cell links to its month
    links = re.findall(r'href="(/compensation/2025-\d\d/jizhou)"', rows["jizhou"])
    assert links == ["/compensation/2025-03/jizhou", "/compensation/2025-05/jizhou"]
    assert http.get(links[1]).status_code == 200
    assert 'href="/compensation/2025-05"' in rows[""]
    assert http.get("/compensation", params={"year": "20x5"}).status_code == 404


def test_a_county_sees_only_its_own_unit(seeded: tuple[httpx.Client, Engine]) -> None:
    http, engine = seeded
    county = bearer(engine, role="county", unit="jizhou", scopes=("read",))
    own = http.get("/compensation", params={"year": "2025", "unit": "jizhou"}, headers=county)
    assert own.status_code == 200
    rows = _rows(_table(own.text, "year-table"))
    assert list(rows) == ["jizhou"]
    assert 'id="year-total"' not in own.text and "桃城区" not in own.text
    assert '<input type="hidden" name="unit" value="jizhou">' in own.text
    assert re.findall(r'href="(/compensation/[^"]+)"', rows["jizhou"]) == [
        "/compensation/2025-03/jizhou", "/compensation/2025-05/jizhou"]  # fmt: skip
    other = {"year": "2025", "unit": "taocheng"}
    assert http.get("/compensation", params=other, headers=county).status_code == 403
    for params, sent_to in (({"year": "2025"}, "/compensation?year=2025&unit=jizhou"),
                            ({}, "/compensation?unit=jizhou")):  # the menu's link
        answer = http.get("/compensation", params=params, headers=county, follow_redirects=False)
        assert (answer.status_code, answer.headers["location"]) == (303, sent_to)
    landing = http.get("/compensation", params={"unit": "jizhou"}, headers=county,
                       follow_redirects=False)  # fmt: skip
    assert landing.headers["location"] == "/compensation/2025-05/jizhou"
    page = http.get("/compensation/2025-05/jizhou", headers=county).text
    links = re.search(r'<nav[^>]*id="unit-links".*?</nav>', page, re.S)
    assert links is not None and "桃城区" not in links.group(0)
    assert list(_rows(_table(page, "compensation-summary"))) == ["jizhou"]


# --- contexts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "context",
    [c for module in (compensation_contexts, compensation_views)
     for _, c in inspect.getmembers(module, inspect.isclass)
     if dataclasses.is_dataclass(c) and c.__module__ == module.__name__],
    ids=lambda c: c.__name__,
)  # fmt: skip
def test_every_context_field_has_help(context: type) -> None:
    for field in dataclasses.fields(context):
        assert field.metadata.get("help"), f"{context.__name__}.{field.name} has no help"


def test_april_has_no_data(seeded: tuple[httpx.Client, Engine], registry: Registry) -> None:
    _, engine = seeded
    months = compensation_views.months_with_data(
        engine=engine, registry=registry, today=dt.date(2026, 1, 15)
    )
    assert months == (MARCH, MAY) and APRIL not in months
    assert compensation_views.months_with_data(
        engine=engine, registry=registry, today=dt.date(2025, 4, 30)
    ) == (MARCH,)  # a month after today's is left out


def test_reasons_name_inflow_tiers_exemptions_and_a_month_without_data() -> None:
    from compensation.statement import (
        DeductionLine,
        ExemptLine,
        FactorStatus,
        MonthlyStatement,
        RuleSetSummary,
        UnitStatement,
    )

    line = DeductionLine(
        section="a", factor="nh3n", value=Decimal("3.0"), standard=Decimal("1"),
        inflow_value=Decimal("2.0"), multiple=Decimal("0.5"), tiers=1,
        amount_wan=Decimal("30"), basis="", clause="",
    )  # fmt: skip
    paying = UnitStatement("u1", "甲县", ("a",), lines=(line,), exempt=(
        ExemptLine("a", "cod", "no_flow", "断流，自动站停运"),
        ExemptLine("a", "tp", "no_flow", "断流，自动站停运"),
        ExemptLine("a", "codmn", "not_increased", "出境 5 不高于入境 6"),
    ))  # fmt: skip
    empty = UnitStatement(
        "u2", "乙县", ("b",), statuses=(FactorStatus("b", "cod", "no_data", "无数据"),)
    )
    statement = MonthlyStatement(
        month=MAY, rule_set=RuleSetSummary("r", "d", "t", ()), units=(paying, empty),
        section_names=(("a", "甲断面"), ("b", "乙断面")),
    )  # fmt: skip
    texts = [r.text for r in compensation_contexts.reason_items(statement, paying)]
    assert texts == [
        "甲断面 氨氮较入境增加 0.5 倍（出境 3.0，入境 2.0，标准 1 mg/L），1 档",
        "免于考核：甲断面 化学需氧量、总磷（断流，自动站停运）",
        "不扣缴：甲断面 高锰酸盐指数（未增加，不扣缴：出境 5 不高于入境 6）",
    ]
    assert [r.text for r in compensation_contexts.reason_items(statement, empty)] == [
        "无监测数据，不扣缴"
    ]
