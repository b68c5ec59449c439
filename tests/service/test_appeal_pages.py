"""Appeals over real HTTP: the API's filing with attachments, who sees and decides what, the
statement pages that show a month's appeals and the versions they led to, the upload limit.

March 2025 at 滏阳河冀州区出境 (unit 冀州区) is issued as version 1 with one spot check of COD at
42 mg/L: 180 万元 (see ``test_appeals``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine, update

from service.accounts import add_user, create_token
from service.app import create_app
from service.db.models import StatementIssue, table_of
from service.settings import Settings
from service.statements.issue import issue_statement
from service.statements.monthly import draft_statement
from tests.conftest import bearer, live_server_for
from tests.service.test_appeals import LINE, MARCH, PDF, UNIT, _spot

ISSUE = table_of(StatementIssue)


@pytest.fixture
def site(settings: Settings) -> Iterator[tuple[str, Engine, int]]:
    """The app on a live server, March issued; the spot check's id."""
    app = create_app(settings)
    engine: Engine = app.state.engine
    spot = _spot(engine)
    issue_statement(engine=engine, statement=draft_statement(
        engine=engine, registry=app.state.registry, month=MARCH), actor="analyst")  # fmt: skip
    try:
        with live_server_for(app) as url:
            yield url, engine, spot
    finally:
        engine.dispose()


def _client(url: str, engine: Engine, **who: object) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=60, headers=bearer(engine, **who))  # type: ignore[arg-type]


def _file(http: httpx.Client, **fields: str) -> httpx.Response:
    data = {"month": "2025-03", "line": LINE, "reason": "抽测样品运输超时，复测合格。", **fields}
    return http.post("/api/appeals", data=data,
                     files=[("files", ("复测报告.pdf", PDF, "application/pdf"))])  # fmt: skip


def test_a_county_files_for_its_own_unit_and_sees_only_its_own(
    site: tuple[str, Engine, int],
) -> None:
    url, engine, _ = site
    with _client(url, engine, role="county", unit=UNIT) as county:
        filed = _file(county)
        assert filed.status_code == 201, filed.text
        body = filed.json()
        assert (body["unit"], body["state"], body["version"]) == (UNIT, "filed", 1)
        assert body["attachments"][0]["filename"] == "复测报告.pdf"
        assert county.get("/api/appeals").json()["total"] == 1
        again = _file(county)
        assert again.status_code == 409 and "未办结的申诉" in again.json()["error"]
        other = _file(county, unit="taocheng")
        assert other.status_code == 403
        assert county.post(f"/api/appeals/{body['id']}/accept", json={}).status_code == 403
    with _client(url, engine, role="county", unit="taocheng") as stranger:
        assert stranger.get(f"/api/appeals/{body['id']}").status_code == 404
        attachment = body["attachments"][0]["id"]
        assert stranger.get(
            f"/api/appeals/{body['id']}/attachments/{attachment}").status_code == 404  # fmt: skip
        assert stranger.get("/api/appeals").json()["total"] == 0
        assert stranger.get("/api/appeals", params={"unit": UNIT}).status_code == 403
        assert _file(stranger).status_code == 404  # taocheng has no such line
    add_user(engine=engine, username="chief", role="river_chief", password="chief password 1",
             chief_id="fuyang-jizhou-county")  # fmt: skip
    token = create_token(engine=engine, username="chief", name="tests", scopes=("read",)).secret
    chief = httpx.get(f"{url}/api/appeals", headers={"Authorization": f"Bearer {token}"})
    assert chief.status_code == 403


def test_the_bureau_settles_an_appeal_into_a_version_that_links_it(
    site: tuple[str, Engine, int],
) -> None:
    url, engine, spot = site
    with _client(url, engine, role="county", unit=UNIT) as county:
        appeal = _file(county).json()["id"]
    with _client(url, engine) as bureau:
        assert bureau.post(f"/api/appeals/{appeal}/settle", json={"note": "x"}).status_code == 409
        accepted = bureau.post(f"/api/appeals/{appeal}/accept", json={"note": "调取原始记录"})
        assert accepted.json()["state"] == "accepted"
        reviewed = bureau.post(f"/api/appeals/{appeal}/review/{spot}",
                               json={"action": "reject", "note": "样品超时"})  # fmt: skip
        assert reviewed.status_code == 200, reviewed.text
        settled = bureau.post(f"/api/appeals/{appeal}/settle", json={"note": "剔除无效抽测"})
        assert settled.status_code == 200, settled.text
        assert (settled.json()["outcome"], settled.json()["settled_version"]) == ("revised", 2)
        versions = bureau.get("/api/compensation/2025-03/versions").json()
        assert [v["version"] for v in versions] == [1, 2]
        page = bureau.get("/compensation/2025-03/jizhou").text
        versions_table = re.search(r'<table id="versions">.*?</table>', page, re.S)
        assert versions_table is not None
        assert f'<a href="/appeals/{appeal}">申诉 {appeal}</a>' in versions_table.group(0)
        assert f"本版系办结申诉 <a href=\"/appeals/{appeal}\">{appeal}</a> 后签发" in page
        appeals = re.search(r'<table id="month-appeals">.*?</table>', page, re.S)
        assert appeals is not None and "已办结：改正（第 2 版）" in appeals.group(0)
        detail = bureau.get(f"/appeals/{appeal}").text
        assert 'id="appeal-changes"' in detail and 'class="appealed"' in detail
        for step in ("提出申诉", "受理", f"复核观测值 {spot}：否决", "办结，签发第 2 版"):
            assert step in detail
    with _client(url, engine, role="county", unit=UNIT) as county:
        statement = county.get("/api/compensation/2025-03/jizhou").json()
        assert statement["issue"]["version"] == 2 and statement["units"][0]["total_wan"] == "0"
        assert [(a["id"], a["outcome"], a["settled_version"]) for a in statement["appeals"]] == [
            (appeal, "revised", 2)
        ]


def test_an_attachment_comes_back_as_sent_and_never_renders_inline(
    site: tuple[str, Engine, int],
) -> None:
    url, engine, _ = site
    with _client(url, engine, role="county", unit=UNIT) as county:
        body = _file(county).json()
        answer = county.get(f"/api/appeals/{body['id']}/attachments/{body['attachments'][0]['id']}")
        page_link = county.get(
            f"/appeals/{body['id']}/attachments/{body['attachments'][0]['id']}")  # fmt: skip
    for got in (answer, page_link):
        assert got.status_code == 200 and got.content == PDF
        assert got.headers["content-disposition"].startswith("attachment;")
        assert "filename*=UTF-8''%E5%A4%8D%E6%B5%8B" in got.headers["content-disposition"]
        assert got.headers["content-security-policy"] == "sandbox"


def test_uploads_are_bounded_and_checked(site: tuple[str, Engine, int]) -> None:
    url, engine, _ = site
    with _client(url, engine, role="county", unit=UNIT) as county:
        two_mb = PDF + bytes(2 * 1024 * 1024)  # over the 1 MiB of other requests, under 10 MB
        ok = county.post(
            "/api/appeals", data={"month": "2025-03", "line": LINE, "reason": "见附件"},
            files=[("files", ("scan.pdf", two_mb, "application/pdf"))],
        )  # fmt: skip
        assert ok.status_code == 201, ok.text
        assert county.post(f"/api/appeals/{ok.json()['id']}/accept", json={}).status_code == 403
        huge = county.post(
            "/api/appeals", data={"month": "2025-03", "line": LINE, "reason": "x"},
            files=[("files", ("a.pdf", PDF + bytes(12 * 1024 * 1024), "application/pdf")),
                   ("files", ("b.pdf", PDF + bytes(12 * 1024 * 1024), "application/pdf"))],
        )  # fmt: skip
        assert huge.status_code == 413
        disguised = county.post(
            "/api/appeals", data={"month": "2025-03", "line": LINE, "reason": "x"},
            files=[("files", ("report.pdf", b"MZ\x90\x00" + bytes(100), "application/pdf"))],
        )  # fmt: skip
        assert disguised.status_code == 422 and "类型不受支持" in disguised.json()["error"]
        assert county.get("/api/appeals").json()["total"] == 1


def test_after_the_deadline_the_statement_offers_no_appeal(
    site: tuple[str, Engine, int],
) -> None:
    url, engine, _ = site
    with _client(url, engine, role="county", unit=UNIT) as county:
        assert 'id="appeal-link"' in county.get("/compensation/2025-03/jizhou").text
        long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
        with engine.begin() as connection:
            connection.execute(update(ISSUE).values(issued_at=long_ago))
        page = county.get("/compensation/2025-03/jizhou").text
        assert 'id="appeal-link"' not in page and 'id="no-appeals"' in page
        form = county.get("/appeals/new", params={"month": "2025-03"}).text
        assert 'id="appeal-closed"' in form and 'id="appeal-form"' not in form
        late = _file(county)
        assert late.status_code == 422 and "已过申诉期限" in late.json()["error"]
