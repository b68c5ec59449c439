"""Appeals against issued statement lines: filing, deciding, reviewing and settling, on SQLite
and a real PostgreSQL.

March 2025 at 滏阳河冀州区出境 (unit 冀州区): one spot check of COD at 42 mg/L → (42 − 20) / 20 =
1.1 → 6 tiers → 180 万元. 冀州区 appeals that line; the bureau accepts, rejects the spot check
(a laboratory error shown by the attached report), and settling issues version 2 without it.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from sections.registry import Registry
from service.accounts.audit import audit_events
from service.appeals.attachments import MAX_ATTACHMENT_BYTES, checked_attachment
from service.appeals.evidence import observations_behind, review_for_appeal
from service.appeals.lines import appealable_lines
from service.appeals.records import get_appeal, list_appeals, settled_versions
from service.appeals.workflow import (
    accept_appeal,
    appeal_deadline,
    appealed_line,
    file_appeal,
    reject_appeal,
    settle_appeal,
)
from service.db.models import Observation, utc_now
from service.errors import ConflictError, InputError, NotFoundError
from service.statements.issue import issue_statement, issued_statement, issued_versions
from service.statements.monthly import draft_statement
from service.time import BEIJING

MARCH = dt.date(2025, 3, 1)
SECTION, UNIT = "fuyang-jizhou", "jizhou"
LINE = f"deduction:{SECTION}/cod"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _spot(engine: Engine, value: float = 42.0, day: int = 5) -> int:
    when = dt.datetime(2025, 3, day, 10, tzinfo=BEIJING).astimezone(dt.UTC)
    row = Observation(
        station="MN-" + SECTION, section_id=SECTION, parameter="cod", observed_at=when,
        value=value, unit="mg/L", source="manual", sample_kind="spot", received_at=utc_now(),
    )  # fmt: skip
    with Session(engine) as session:
        session.add(row)
        session.commit()
        session.refresh(row)
        assert row.id is not None
        return row.id


@pytest.fixture
def issued(db: Engine, registry: Registry) -> tuple[Engine, int]:
    """March issued as version 1 with the 180 万元 COD line; the spot check's id."""
    spot = _spot(db)
    issue_statement(engine=db, statement=draft_statement(engine=db, registry=registry,
                                                         month=MARCH), actor="analyst")  # fmt: skip
    return db, spot


def _file(engine: Engine, **changes: object) -> int:
    values: dict[str, object] = {
        "engine": engine, "month": MARCH, "unit": UNIT, "line": LINE,
        "reason": "抽测样品运输超时，实验室复测 COD 为 18 mg/L，见附件报告。",
        "attachments": [checked_attachment("复测报告.pdf", PDF)], "days": 15,
        "actor": "county-jizhou", "now": utc_now(),
    }  # fmt: skip
    values.update(changes)
    return file_appeal(**values).id  # type: ignore[arg-type]  # keyword values of the right types


def test_the_lines_a_county_may_appeal_are_its_deductions_and_events(
    issued: tuple[Engine, int],
) -> None:
    engine, _ = issued
    statement, _, _ = issued_statement(engine=engine, month=MARCH)
    (line,) = appealable_lines(statement, UNIT)
    assert line.token == LINE and line.amount_wan == Decimal(180)
    assert "化学需氧量" in line.text and "扣缴 180 万元" in line.text and "6 档" in line.text
    assert appealable_lines(statement, "taocheng") == ()


def test_an_appeal_goes_from_filing_to_a_new_version_that_links_it(
    issued: tuple[Engine, int], registry: Registry
) -> None:
    engine, spot = issued
    appeal_id = _file(engine)
    filed = get_appeal(engine=engine, appeal_id=appeal_id)
    assert (filed.state, filed.version, filed.token) == ("filed", 1, LINE)
    assert "扣缴 180 万元" in filed.line_text
    assert [a.filename for a in filed.attachments] == ["复测报告.pdf"]
    assert filed.attachments[0].media_type == "application/pdf"

    accept_appeal(engine=engine, appeal_id=appeal_id, note="调取实验室原始记录", actor="analyst")
    appeal = get_appeal(engine=engine, appeal_id=appeal_id)
    line = appealed_line(engine=engine, appeal=appeal)
    assert line is not None
    rows, total = observations_behind(engine=engine, refs=line.refs)
    assert total == 1 and [r.id for r in rows] == [spot]

    review_for_appeal(engine=engine, registry=registry, appeal=appeal, observation_id=spot,
                      action="reject", note="样品超时，结果无效", actor="analyst")  # fmt: skip
    settled = settle_appeal(engine=engine, registry=registry, appeal_id=appeal_id,
                            note="复核后剔除无效抽测结果", actor="analyst")  # fmt: skip
    assert (settled.state, settled.outcome, settled.settled_version) == ("settled", "revised", 2)
    assert "改正（第 2 版）" in settled.state_text

    statement, record, diff = issued_statement(engine=engine, month=MARCH)
    assert record.version == 2
    assert statement.unit(UNIT).total_wan == 0
    assert [(c.unit, c.kind, c.key, c.change) for c in diff] == [
        (UNIT, "deduction", f"{SECTION}/cod", "removed")
    ]
    assert settled_versions(engine=engine, month=MARCH) == {2: (appeal_id,)}

    actions = [e.action for e in audit_events(engine=engine) if e.action.startswith("appeal.")]
    assert actions == ["appeal.settle", "appeal.review", "appeal.accept", "appeal.file"]
    issue = next(e for e in audit_events(engine=engine, action="statement.issue")
                 if e.detail.get("created") and e.target.endswith("v2"))  # fmt: skip
    assert issue.detail["reason"] == f"appeal:{appeal_id}"


def test_an_unchanged_line_is_upheld_only_with_a_reason(
    issued: tuple[Engine, int], registry: Registry
) -> None:
    engine, _ = issued
    appeal_id = _file(engine)
    accept_appeal(engine=engine, appeal_id=appeal_id, actor="analyst")
    with pytest.raises(InputError, match="维持原结果须写明理由"):
        settle_appeal(engine=engine, registry=registry, appeal_id=appeal_id, actor="analyst")
    assert get_appeal(engine=engine, appeal_id=appeal_id).state == "accepted"
    settled = settle_appeal(engine=engine, registry=registry, appeal_id=appeal_id,
                            note="实验室原始记录完整，结果有效", actor="analyst")  # fmt: skip
    assert (settled.outcome, settled.settled_version) == ("upheld", None)
    assert [r.version for r in issued_versions(engine=engine, month=MARCH)] == [1]


def test_a_rejection_needs_its_reason_and_closes_the_appeal(issued: tuple[Engine, int]) -> None:
    engine, _ = issued
    appeal_id = _file(engine)
    with pytest.raises(InputError, match="驳回理由"):
        reject_appeal(engine=engine, appeal_id=appeal_id, reason="  ", actor="analyst")
    rejected = reject_appeal(engine=engine, appeal_id=appeal_id, reason="未提供有效证明",
                             actor="analyst")  # fmt: skip
    assert (rejected.state, rejected.decision_note) == ("rejected", "未提供有效证明")
    with pytest.raises(ConflictError, match="已驳回"):
        accept_appeal(engine=engine, appeal_id=appeal_id, actor="analyst")
    # once closed, the line may be appealed again (with new evidence)
    assert _file(engine) != appeal_id


def test_steps_out_of_order_are_refused(issued: tuple[Engine, int], registry: Registry) -> None:
    engine, spot = issued
    appeal_id = _file(engine)
    appeal = get_appeal(engine=engine, appeal_id=appeal_id)
    with pytest.raises(ConflictError, match="待受理"):
        settle_appeal(engine=engine, registry=registry, appeal_id=appeal_id, note="x",
                      actor="analyst")  # fmt: skip
    with pytest.raises(ConflictError, match="受理后方可复核"):
        review_for_appeal(engine=engine, registry=registry, appeal=appeal, observation_id=spot,
                          action="reject", note="x", actor="analyst")  # fmt: skip
    with pytest.raises(ConflictError, match="未办结的申诉"):
        _file(engine)
    with pytest.raises(NotFoundError):
        accept_appeal(engine=engine, appeal_id=appeal_id + 99, actor="analyst")


def test_only_the_observations_behind_the_line_can_be_reviewed(
    issued: tuple[Engine, int], registry: Registry
) -> None:
    engine, _ = issued
    other = _spot(engine, value=10.0, day=20)  # not in the issued version's line
    appeal_id = _file(engine)
    accept_appeal(engine=engine, appeal_id=appeal_id, actor="analyst")
    appeal = get_appeal(engine=engine, appeal_id=appeal_id)
    with pytest.raises(InputError, match="不属于申诉"):
        review_for_appeal(engine=engine, registry=registry, appeal=appeal, observation_id=other,
                          action="reject", note="x", actor="analyst")  # fmt: skip


def test_the_deadline_counts_beijing_days_after_the_issue(issued: tuple[Engine, int]) -> None:
    engine, _ = issued
    (record,) = issued_versions(engine=engine, month=MARCH)
    deadline = appeal_deadline(record.issued_at, 15)
    day = record.issued_at.astimezone(BEIJING).date() + dt.timedelta(days=16)
    assert deadline.astimezone(BEIJING) == dt.datetime.combine(day, dt.time(0), BEIJING)
    late = deadline + dt.timedelta(seconds=1)
    with pytest.raises(InputError, match="已过申诉期限"):
        _file(engine, now=late)
    assert get_appeal(engine=engine, appeal_id=_file(engine, now=deadline - dt.timedelta(
        seconds=1))).deadline == deadline  # fmt: skip


def test_bad_filings_are_refused_with_a_reason(issued: tuple[Engine, int]) -> None:
    engine, _ = issued
    with pytest.raises(InputError, match="申诉理由"):
        _file(engine, reason=" ")
    with pytest.raises(NotFoundError, match="没有该扣缴项"):
        _file(engine, line=f"deduction:{SECTION}/nh3n")
    with pytest.raises(NotFoundError, match="没有该扣缴项"):
        _file(engine, unit="taocheng")
    with pytest.raises(NotFoundError):
        _file(engine, month=dt.date(2025, 4, 1))
    with pytest.raises(InputError, match="不能超过 5 个"):
        _file(engine, attachments=[checked_attachment(f"{n}.pdf", PDF) for n in range(6)])
    assert list_appeals(engine=engine)[1] == 0


def test_attachments_are_recognised_by_content_not_name() -> None:
    book = openpyxl.Workbook()
    book.active.append(["日期", "流量 m3/s"])
    data = io.BytesIO()
    book.save(data)
    assert checked_attachment("流量.xlsx", data.getvalue()).media_type.endswith(".sheet")
    assert checked_attachment("记录.csv", "日期,流量\n3-5,0\n".encode("gb18030")).media_type == (
        "text/csv"
    )
    assert checked_attachment("../../etc/报告.pdf", PDF).filename == "报告.pdf"
    with pytest.raises(InputError, match="类型不受支持"):
        checked_attachment("report.pdf", b"MZ\x90\x00\x03\x00\x00\x00" + bytes(200))
    with pytest.raises(InputError, match="为空"):
        checked_attachment("empty.pdf", b"")
    with pytest.raises(InputError, match="超过 10 MB"):
        checked_attachment("big.pdf", PDF + bytes(MAX_ATTACHMENT_BYTES))
