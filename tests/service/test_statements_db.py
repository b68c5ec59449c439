"""Statements from the database: measurements, issuing versions, the API and the pages."""

from __future__ import annotations

import datetime as dt
import io
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import Engine, update
from sqlmodel import Session

from compensation.rules import load_rule_set
from sections.registry import Registry
from service.app import create_app
from service.db.models import Observation, SectionStatus, StatementIssue, utc_now
from service.errors import QingliuError
from service.settings import Settings
from service.statements.issue import issue_statement, issued_statement, issued_versions
from service.statements.monthly import draft_statement
from service.statements.source import measurements_from_db
from service.time import BEIJING
from tests.conftest import bearer, live_server_for

MARCH = dt.date(2025, 3, 1)
RULES = load_rule_set("hengshui-2021")


def _at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), BEIJING).astimezone(dt.UTC)


def _observation(section: str, parameter: str, when: dt.datetime, value: float | None,
                 *, kind: str | None = None, flag: str | None = "N", qc: int | None = None,
                 source: str = "hj212") -> Observation:  # fmt: skip
    return Observation(
        station="MN-" + section[:20], section_id=section, parameter=parameter, observed_at=when,
        value=value, unit="mg/L", station_flag=flag, qc_flag=qc, source=source,
        sample_kind=kind, received_at=utc_now(),
    )  # fmt: skip


def _add(engine: Engine, rows: list[object]) -> None:
    with Session(engine) as session:
        session.add_all(rows)
        session.commit()


def _auto_days(section: str, parameter: str, days: list[dt.date], value: float) -> list[object]:
    return [
        _observation(section, parameter, _at(day, hour), value)
        for day in days
        for hour in (0, 4, 8, 12, 16, 20)
    ]


def test_measurements_come_from_manual_automatic_and_statuses(
    db: Engine, registry: Registry
) -> None:
    _add(db, [
        _observation("fuyang-jizhou", "cod", _at(dt.date(2025, 3, 5)), 36.5, kind="routine",
                     flag=None, source="manual"),
        _observation("fuyang-jizhou", "cod", _at(dt.date(2025, 3, 18)), 42.0, kind="spot",
                     flag=None, source="manual"),
        # automatic: 4 valid values a day on 2 days; flagged and QC-failed values never count
        *_auto_days("xiaofanqiao", "nh3n", [dt.date(2025, 3, 2), dt.date(2025, 3, 3)], 2.0),
        _observation("xiaofanqiao", "nh3n", _at(dt.date(2025, 3, 2), 1), 99.0, flag="D"),
        _observation("xiaofanqiao", "nh3n", _at(dt.date(2025, 3, 2), 2), 99.0, qc=4),
        # three values only: no daily value
        *[_observation("xiaofanqiao", "tp", _at(dt.date(2025, 3, 4), h), 0.5) for h in (0, 4, 8)],
        SectionStatus(section_id="qingliang-gucheng", month=MARCH, status="frozen",
                      note="河道结冰", source="manual"),
    ])  # fmt: skip
    found = measurements_from_db(engine=db, registry=registry, month=MARCH, rule_set=RULES)
    manual = sorted((m.kind, m.value) for m in found if m.kind != "auto_daily")
    assert manual == [("routine", Decimal("36.5")), ("spot", Decimal("42.0"))]
    daily = sorted((m.section, m.factor, m.date, m.value) for m in found
                   if m.kind == "auto_daily" and m.status == "normal")  # fmt: skip
    assert daily == [
        ("xiaofanqiao", "nh3n", dt.date(2025, 3, 2), Decimal("2.0")),
        ("xiaofanqiao", "nh3n", dt.date(2025, 3, 3), Decimal("2.0")),
    ]
    frozen = [m for m in found if m.status == "frozen"]
    assert {m.factor for m in frozen} == {"cod", "codmn", "nh3n", "tp", "tn"}
    assert all(m.section == "qingliang-gucheng" and m.note == "河道结冰" for m in frozen)


def test_automatic_days_before_the_month_feed_events(db: Engine, registry: Registry) -> None:
    days = [dt.date(2025, 2, 27), dt.date(2025, 2, 28), dt.date(2025, 3, 1)]
    _add(db, _auto_days("xiaofanqiao", "codmn", days, 7.4))  # over Class Ⅲ (2025 target) 6
    statement = draft_statement(engine=db, registry=registry, month=MARCH)
    events = statement.unit("wuqiang").events
    assert [(e.start, e.end, e.days, e.charged_on, e.amount_wan) for e in events] == [
        (dt.date(2025, 2, 27), dt.date(2025, 3, 1), 3, dt.date(2025, 3, 1), Decimal(30))
    ]


MARCH_RUN = [dt.date(2025, 3, 10), dt.date(2025, 3, 11), dt.date(2025, 3, 12)]


def test_issue9_one_episode_over_on_two_factors_is_one_event(
    db: Engine, registry: Registry
) -> None:
    # 小范桥, Class Ⅲ in 2025: CODMn 7.4 > 6 and NH3-N 1.6 > 1.0 on the same three days
    _add(db, [*_auto_days("xiaofanqiao", "codmn", MARCH_RUN, 7.4),
              *_auto_days("xiaofanqiao", "nh3n", MARCH_RUN, 1.6)])  # fmt: skip
    statement = draft_statement(engine=db, registry=registry, month=MARCH)
    [event] = statement.unit("wuqiang").events
    assert (event.factors, event.counting, event.amount_wan) == (
        ("nh3n", "codmn"), "episode", Decimal(30)
    )  # fmt: skip
    assert dict(event.factor_days) == {"nh3n": tuple(MARCH_RUN), "codmn": tuple(MARCH_RUN)}
    assert statement.unit("wuqiang").total_wan == Decimal(30)  # not 60
    assert any("不论几项因子同时超标" in text for text in statement.rule_set.method)


def test_issue9_inflow_over_and_outflow_not_higher_clears_the_event(
    db: Engine, registry: Registry
) -> None:
    # the inflow section of 小范桥 (滏阳河高新区出境) is worse than Class Ⅴ on the same days
    _add(db, [*_auto_days("xiaofanqiao", "nh3n", MARCH_RUN, 1.6),
              *_auto_days("fuyang-gaoxin", "nh3n", MARCH_RUN, 2.5)])  # fmt: skip
    statement = draft_statement(engine=db, registry=registry, month=MARCH)
    assert statement.unit("wuqiang").events == ()
    assert [e.factor for e in statement.unit("gaoxin").events] == ["nh3n"]


def test_issue9_issued_version_keeps_sources_marks_and_episodes(
    db: Engine, registry: Registry
) -> None:
    from compensation.engine import Measurement, monthly_statement

    measurements = [
        *(Measurement("xiaofanqiao", "codmn", day, Decimal("7.4"), "auto_daily", suspect=2,
                      lower_bound=day == MARCH_RUN[0]) for day in MARCH_RUN),
        *(Measurement("xiaofanqiao", "tp", day, Decimal("0.3"), "auto_daily") for day in MARCH_RUN),
        Measurement("fuyang-jizhou", "cod", MARCH, Decimal("36.5"), "spot", censored=True),
    ]  # fmt: skip
    statement = monthly_statement(measurements, month=MARCH, registry=registry, rule_set=RULES)
    result = issue_statement(engine=db, statement=statement)
    shown, _, _ = issued_statement(engine=db, month=MARCH, version=result.record.version)
    assert shown.rule_set == statement.rule_set
    for unit in statement.units:
        assert shown.unit(unit.unit).lines == unit.lines
        assert shown.unit(unit.unit).events == unit.events
    [event] = shown.unit("wuqiang").events
    assert (event.factor, event.suspect, event.lower_bound) == ("tp+codmn", 6, True)
    [line] = shown.unit("jizhou").lines
    assert (line.censored, line.sources) == (True, ("spot",))
    # the same statement issued again is no new version
    assert issue_statement(engine=db, statement=statement).created is False


def test_issuing_versions_is_immutable_and_diffs_line_by_line(
    db: Engine, registry: Registry
) -> None:
    _add(db, [_observation("fuyang-jizhou", "cod", _at(dt.date(2025, 3, 5)), 36.5,
                           kind="routine", flag=None, source="manual")])  # fmt: skip
    first = issue_statement(engine=db, statement=draft_statement(
        engine=db, registry=registry, month=MARCH))  # fmt: skip
    assert (first.created, first.record.version, first.diff) == (True, 1, ())
    again = issue_statement(engine=db, statement=draft_statement(
        engine=db, registry=registry, month=MARCH))  # fmt: skip
    assert (again.created, again.record.version) == (False, 1)

    _add(db, [_observation("fuyang-jizhou", "cod", _at(dt.date(2025, 3, 20)), 45.0,
                           kind="spot", flag=None, source="manual"),
              _observation("fuyang-taocheng", "nh3n", _at(dt.date(2025, 3, 9)), 2.3,
                           kind="routine", flag=None, source="manual")])  # fmt: skip
    second = issue_statement(engine=db, statement=draft_statement(
        engine=db, registry=registry, month=MARCH))  # fmt: skip
    assert (second.created, second.record.version) == (True, 2)
    changes = {(c.unit, c.kind, c.key, c.change): c for c in second.diff}
    cod = changes[("jizhou", "deduction", "fuyang-jizhou/cod", "changed")]
    assert dict(cod.before)["value"] == "36.5" and dict(cod.after)["value"] == "45.0"
    assert dict(cod.after)["tiers"] == "7"  # Class Ⅲ since 2023: (45 − 20) / 20 = 1.25 → 7 tiers
    assert ("taocheng", "deduction", "fuyang-taocheng/nh3n", "added") in changes
    assert [r.version for r in issued_versions(engine=db, month=MARCH)] == [1, 2]

    # version 1 is shown again exactly as issued
    shown, record, _ = issued_statement(engine=db, month=MARCH, version=1)
    assert record.content_hash == first.record.content_hash
    assert shown.unit("jizhou").lines[0].value == Decimal("36.5")
    assert shown.unit("jizhou").total_wan == Decimal(150)  # (36.5 − 20) / 20 = 0.825 → 5 tiers
    latest, record, diff = issued_statement(engine=db, month=MARCH)
    assert record.version == 2 and latest.unit("jizhou").total_wan == Decimal(210)
    assert len(diff) == len(second.diff)


def test_altered_issue_record_is_detected(db: Engine, registry: Registry) -> None:
    issue_statement(engine=db, statement=draft_statement(engine=db, registry=registry,
                                                         month=MARCH))  # fmt: skip
    with Session(db) as session:
        session.exec(update(StatementIssue).values(content='{"month": "2025-03"}'))  # type: ignore[call-overload]
        session.commit()
    with pytest.raises(QingliuError, match="does not match its hash"):
        issued_statement(engine=db, month=MARCH, version=1)


def test_unknown_version_is_a_clear_error(db: Engine) -> None:
    with pytest.raises(QingliuError, match="no such issued version"):
        issued_statement(engine=db, month=MARCH, version=3)


# --- over HTTP -----------------------------------------------------------------------------------


@pytest.fixture
def http(settings: Settings, db: Engine) -> httpx.Client:
    _add(db, [_observation("fuyang-jizhou", "cod", _at(dt.date(2025, 3, 5)), 42.0,
                           kind="spot", flag=None, source="manual")])  # fmt: skip
    app = create_app(settings)
    server = live_server_for(app)
    base = server.__enter__()
    client = httpx.Client(base_url=base, timeout=60, headers=bearer(app.state.engine))
    yield client  # type: ignore[misc]
    client.close()
    server.__exit__(None, None, None)
    app.state.engine.dispose()


def test_api_draft_then_issued_month_and_unit(http: httpx.Client) -> None:
    draft = http.get("/api/compensation/2025-03").json()
    assert draft["issue"] is None
    assert draft["month"] == "2025-03" and draft["rule_set"]["document"] == "衡政办字〔2021〕3号"
    jizhou = next(u for u in draft["units"] if u["unit"] == "jizhou")
    # Class Ⅲ since 2023: (42 − 20) / 20 = 1.1 → 6 tiers
    assert (jizhou["total_wan"], jizhou["total_yuan"]) == ("180", "1800000")
    assert len(draft["units"]) == 13

    issued = http.post("/api/compensation/2025-03/issue").json()
    assert (issued["created"], issued["version"]) == (True, 1)
    shown = http.get("/api/compensation/2025-03").json()
    assert shown["issue"]["version"] == 1
    assert shown["issue"]["content_hash"] == issued["content_hash"]
    unit = http.get("/api/compensation/2025-03/jizhou").json()
    assert [u["unit"] for u in unit["units"]] == ["jizhou"]
    assert unit["units"][0]["lines"][0]["amount_wan"] == "180"
    versions = http.get("/api/compensation/2025-03/versions").json()
    assert [v["version"] for v in versions] == [1]


def test_api_errors_have_the_json_shape(http: httpx.Client) -> None:
    answer = http.get("/api/compensation/2025-03/nowhere")
    assert answer.status_code == 404
    assert answer.json()["ok"] is False and "nowhere" in answer.json()["error"]
    assert http.get("/api/compensation/2025-13").status_code == 422
    assert http.get("/api/compensation/2025-03?version=4").status_code == 404


@pytest.mark.parametrize(
    ("fmt", "media", "magic"),
    [("pdf", "application/pdf", b"%PDF"), ("xlsx", "application/vnd.openxmlformats", b"PK"),
     ("json", "application/json", b"{"), ("csv", "text/csv", b"unit")],
)  # fmt: skip
def test_downloads(http: httpx.Client, fmt: str, media: str, magic: bytes) -> None:
    answer = http.get(f"/api/compensation/2025-03/download?format={fmt}&unit=jizhou")
    assert answer.status_code == 200, answer.text[:300]
    assert answer.headers["content-type"].startswith(media)
    assert answer.content.startswith(magic)
    assert "qingliu-statement-2025-03-jizhou-draft" in answer.headers["content-disposition"]


def test_month_and_unit_pages(http: httpx.Client) -> None:
    page = http.get("/compensation/2025-03")
    assert page.status_code == 200
    assert "<title>2025年03月生态补偿金扣缴通报 · 清流</title>" in page.text
    assert "2025年3月生态补偿金扣缴通报" in page.text
    assert "草稿（未签发）" in page.text and "冀州区" in page.text
    http.post("/api/compensation/2025-03/issue")
    unit = http.get("/compensation/2025-03/jizhou")
    assert unit.status_code == 200
    assert "已签发第 1 版" in unit.text and "衡政办字〔2021〕3号" in unit.text
    assert http.get("/compensation/2025-03/nowhere").status_code == 404


# --- concurrency and reproducible downloads ---------------------------------------------------


def test_concurrent_issues_store_one_version(db: Engine, registry: Registry) -> None:
    """Ten issues of one month at once (API or CLI, both issue here): one version, no clash."""
    _add(db, [_observation("fuyang-jizhou", "cod", _at(dt.date(2025, 3, 5)), 42.0,
                           kind="spot", flag=None, source="manual")])  # fmt: skip
    statement = draft_statement(engine=db, registry=registry, month=MARCH)
    start = threading.Barrier(10)

    def issue() -> tuple[bool, int, str]:
        start.wait()
        result = issue_statement(engine=db, statement=statement)
        return result.created, result.record.version, result.record.content_hash

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda _: issue(), range(10)))
    assert sorted(created for created, _, _ in answers) == [False] * 9 + [True]
    assert {(version, digest) for _, version, digest in answers} == {(1, answers[0][2])}
    assert [r.version for r in issued_versions(engine=db, month=MARCH)] == [1]


def test_concurrent_issue_requests_answer_one_version(http: httpx.Client) -> None:
    start = threading.Barrier(10)

    def post() -> httpx.Response:
        start.wait()
        return http.post("/api/compensation/2025-03/issue")

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda _: post(), range(10)))
    assert [a.status_code for a in answers] == [200] * 10, [a.text[:200] for a in answers]
    bodies = [a.json() for a in answers]
    assert sorted(b["created"] for b in bodies) == [False] * 9 + [True]
    assert {(b["version"], b["content_hash"]) for b in bodies} == {(1, bodies[0]["content_hash"])}
    assert [v["version"] for v in http.get("/api/compensation/2025-03/versions").json()] == [1]


@pytest.mark.parametrize("fmt", ["xlsx", "pdf"])
def test_downloads_of_an_issued_version_are_byte_identical(http: httpx.Client, fmt: str) -> None:
    issued = http.post("/api/compensation/2025-03/issue").json()
    url = f"/api/compensation/2025-03/download?format={fmt}&version={issued['version']}"
    first = http.get(url)
    assert first.status_code == 200
    if fmt == "xlsx":  # the times inside are the issue time, not the download time
        issued_at = dt.datetime.fromisoformat(
            http.get("/api/compensation/2025-03").json()["issue"]["issued_at"]
        ).astimezone(dt.UTC)
        with zipfile.ZipFile(io.BytesIO(first.content)) as archive:
            times = {info.date_time for info in archive.infolist()}
            core = archive.read("docProps/core.xml").decode()
        assert times == {(*issued_at.timetuple()[:5], issued_at.second // 2 * 2)}
        assert f">{issued_at:%Y-%m-%dT%H:%M:%S}Z</dcterms:modified>" in core
        assert f">{issued_at:%Y-%m-%dT%H:%M:%S}Z</dcterms:created>" in core
    time.sleep(1.1)
    assert http.get(url).content == first.content


def test_an_issue_records_its_issuer_and_goes_to_the_audit_log(
    db: Engine, registry: Registry
) -> None:
    from service.accounts import audit_events
    from service.statements.issue import issue_statement
    from service.statements.monthly import draft_statement

    month = dt.date(2025, 7, 1)
    statement = draft_statement(engine=db, registry=registry, month=month)
    first = issue_statement(engine=db, statement=statement, actor="wang", address="10.1.2.3")
    again = issue_statement(engine=db, statement=statement, actor="li")
    assert first.created and first.record.issued_by == "wang"
    assert not again.created and again.record.issued_by == "wang"  # the version's issuer stays
    events = audit_events(engine=db, action="statement.issue")
    assert [(e.actor, e.address, e.detail["created"]) for e in events] == [
        ("li", "", False), ("wang", "10.1.2.3", True)
    ]  # fmt: skip
    assert events[1].detail["sha256"] == first.record.content_hash
    assert events[1].target == "2025-07 v1"
