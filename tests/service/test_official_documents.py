"""Statements and bulletins as the bureau issues them (issue 14, point 5).

Issuer, document number, addressees, date and signature; a compact summary first and detail only
where there is something to say; no developer text (raw references, parameter keys); numbers at
their reporting precision. The PDFs are checked as paper: pages rasterised with ``pdftoppm``
(no blank page), text boxes from ``pdftotext -bbox`` (nothing beyond the printable area).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
import subprocess
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image

from compensation.rules import load_rule_set
from compensation.statement import (
    DeductionLine,
    EventLine,
    ExemptLine,
    FactorStatus,
    MonthlyStatement,
    RuleSetSummary,
    UnitStatement,
)
from sections.classes import WaterClass
from sections.registry import Registry, load_registry
from service.bulletins import BulletinContext, BulletinRow, render_bulletin_html
from service.errors import ConfigurationError
from service.settings import Settings
from service.statements.codec import statement_json
from service.statements.letterhead import Letterhead, letterhead
from service.statements.render import IssueInfo, render_html, render_pdf
from tests.reference import missing

D = Decimal
OCTOBER = dt.date(2025, 10, 1)
ISSUE = IssueInfo(1, "ab" * 32, dt.datetime(2025, 11, 3, 2, 0, tzinfo=dt.UTC))
RAW = re.compile(r"daily:[\w-]+:\d{4}-\d{2}-\d{2}|observation:\d|auto_fallback|dimensionless")
"""Developer text that must never reach an official document."""
MARGIN_X = 14 / 25.4 * 72
"""The statements' and bulletins' left and right page margins (14 mm) [pt]."""
TOLERANCE = 1.0
"""[pt] of rounding allowed at the edge of the printable area."""
INK = 0.002
"""A page with less than this share of non-white pixels counts as blank."""

@pytest.fixture
def poppler() -> None:
    """poppler-utils, which scripts/test installs as root: skipped without it, failing in CI."""
    if shutil.which("pdftoppm") is None or shutil.which("pdftotext") is None:
        missing("poppler-utils (pdftoppm, pdftotext) missing: scripts/test installs it as root")


needs_poppler = pytest.mark.usefixtures("poppler")


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry()


def _daily_refs(section: str, factor: str, days: int, suspect_from: int = 99) -> tuple[str, ...]:
    return tuple(
        f"daily:{section}:2025-10-{day:02d}:{factor}(6 个有效值"
        + ("（6 个可疑值）" if day >= suspect_from else "")
        + ")"
        for day in range(1, days + 1)
    )


def demo_like_month(registry: Registry) -> MonthlyStatement:
    """October 2025 as the demo has it: four counties with one event each, the lake charged on
    TN over 31 daily values, one county dry; eight counties meet every standard."""
    rules = load_rule_set("hengshui-2021")
    summary = RuleSetSummary(
        id=rules.id, document=rules.document, title=rules.title,
        # an older issued version stored a parameter as its key: shown in words
        assumptions=(*(a.text for a in rules.unverified), "auto_fallback = True"),
        method=rules.method(),
    )  # fmt: skip
    clause = f"{rules.document}：自动站日均值连续 3 天及以上超标的，每发生一次另行扣缴 [A]"
    events = {"wuyi": "fudong-wuyi", "raoyang": "hutuo-raoyang", "jingxian": "qingliang-jingxian",
              "fucheng": "qingliang-fucheng"}  # fmt: skip
    units = []
    for unit in registry.units:
        sections = tuple(s.id for s in registry.sections if s.assessed_unit == unit.id)
        statuses = tuple(
            FactorStatus(s, f, "meets", "达标", D("0.20"), D("1.0"))
            for s in sections
            for f in ("cod", "codmn", "nh3n", "tp")
        )
        lines: tuple[DeductionLine, ...] = ()
        exempt: tuple[ExemptLine, ...] = ()
        found_events: tuple[EventLine, ...] = ()
        if unit.id in events:
            section = events[unit.id]
            found_events = (
                EventLine(section, "codmn+nh3n+tp", dt.date(2025, 10, 23), dt.date(2025, 10, 26),
                          4, dt.date(2025, 10, 25), D("30"), clause,
                          refs=_daily_refs(section, "tp", 4),
                          factors=("codmn", "nh3n", "tp"),
                          factor_days=(("tp", (dt.date(2025, 10, 23), dt.date(2025, 10, 24),
                                               dt.date(2025, 10, 25))),),
                          counting="episode", suspect=2, lower_bound=True),
            )  # fmt: skip
        if unit.id == "binhu":
            lines = tuple(
                DeductionLine(section, "tn", D("1.33"), D("1"), None, D("0.333333"), 1, D("30"),
                              "自动站日均值月均值（自动监测数据优先）", f"{rules.document}：总氮",
                              refs=_daily_refs(section, "tn", 31, suspect_from=30),
                              sources=("auto_monthly_mean",), suspect=12)
                for section in sections
            )  # fmt: skip
            statuses += tuple(
                FactorStatus(s, "tn", "exceeds", "超标 0.333333 倍", D("1.33"), D("1"),
                             D("0.333333"))
                for s in sections
            )  # fmt: skip
        if unit.id == "shenzhou":
            exempt = tuple(ExemptLine(sections[0], f, "no_flow", "断流，自动站停运")
                           for f in ("cod", "codmn", "nh3n", "tp"))  # fmt: skip
            statuses = tuple(FactorStatus(sections[0], f, "no_flow", "断流")
                             for f in ("cod", "codmn", "nh3n", "tp"))  # fmt: skip
        found = UnitStatement(unit.id, unit.name, sections, lines=lines, events=found_events,
                              exempt=exempt, statuses=statuses)  # fmt: skip
        units.append(found)
    return MonthlyStatement(
        month=OCTOBER,
        rule_set=summary,
        units=tuple(units),
        section_names=tuple((s.id, s.name) for s in registry.sections),
    )


@pytest.fixture(scope="module")
def statement(registry: Registry) -> MonthlyStatement:
    return demo_like_month(registry)


@pytest.fixture(scope="module")
def head(registry: Registry) -> Letterhead:
    return letterhead(Settings(), registry=registry)


@pytest.fixture(scope="module")
def html(statement: MonthlyStatement, head: Letterhead) -> str:
    return render_html(statement, issue=ISSUE, head=head)


@pytest.fixture(scope="module")
def pdf_file(
    statement: MonthlyStatement, head: Letterhead, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    path = tmp_path_factory.mktemp("statement") / "city.pdf"
    path.write_bytes(render_pdf(statement, issue=ISSUE, head=head))
    return path


def _remarkable(statement: MonthlyStatement) -> int:
    return sum(1 for u in statement.units if u.lines or u.events or u.exempt or u.rewards)


# --- what a page shows -------------------------------------------------------------------------


def _pages_text(pdf: Path) -> list[str]:
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout  # fmt: skip
    return text.split("\f")[:-1] if text.endswith("\f") else text.split("\f")


def _ink(pdf: Path, folder: Path) -> list[float]:
    """Per page, the share of pixels that are not (nearly) white, at 30 dpi in grey."""
    subprocess.run(["pdftoppm", "-r", "30", "-gray", str(pdf), str(folder / "page")], check=True)
    shares = []
    for image in sorted(folder.glob("page-*.pgm")):
        with Image.open(image) as grey:
            histogram = grey.convert("L").histogram()
        shares.append(sum(histogram[:240]) / sum(histogram))
    return shares


def _words(pdf: Path) -> list[tuple[int, float, float, float, float, float, float, str]]:
    """Every word as (page, width, height, xMin, yMin, xMax, yMax, text), from pdftotext -bbox."""
    xhtml = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], check=True,
                           capture_output=True, text=True).stdout  # fmt: skip
    words = []
    for number, page in enumerate(xhtml.split("<page ")[1:], start=1):
        size = re.search(r'width="([\d.]+)" height="([\d.]+)"', page)
        assert size is not None
        width, height = float(size.group(1)), float(size.group(2))
        for box in re.finditer(
            r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>',
            page,
        ):
            x0, y0, x1, y1 = (float(v) for v in box.groups()[:4])
            words.append((number, width, height, x0, y0, x1, y1, box.group(5)))
    return words


def _assert_paper(pdf: Path, folder: Path) -> int:
    """No blank page, no text beyond the printable area; returns the number of pages."""
    shares = _ink(pdf, folder)
    assert shares, "no page rasterised"
    blank = [i + 1 for i, share in enumerate(shares) if share < INK]
    assert not blank, f"blank pages {blank} (ink shares {shares})"
    outside = [
        (page, text, round(x0, 1), round(x1, 1))
        for page, width, height, x0, y0, x1, y1, text in _words(pdf)
        if x0 < MARGIN_X - TOLERANCE or x1 > width - MARGIN_X + TOLERANCE or y0 < 0 or y1 > height
    ]
    assert not outside, f"text beyond the printable area: {outside[:5]}"
    return len(shares)


# --- the city statement ------------------------------------------------------------------------


@needs_poppler
def test_city_statement_pdf_is_a_few_pages_summary_first(
    statement: MonthlyStatement, pdf_file: Path, tmp_path: Path
) -> None:
    pages = _assert_paper(pdf_file, tmp_path)
    assert pages <= 1 + _remarkable(statement) == 7
    texts = _pages_text(pdf_file)
    assert len(texts) == pages
    first = texts[0]
    assert "衡水市生态环境局" in re.sub(r"\s+", "", first) and "衡环水〔2025〕10号" in first
    assert "各县（市、区）人民政府，市财政局" in first
    assert "一、扣缴汇总" in first and "全市合计" in first and "1,800,000" in first
    whole = "\n".join(texts)
    assert "（印章）" in whole and "2025年11月3日" in whole
    # no page of a county that has nothing to say
    for name in ("桃城区本月扣缴合计", "冀州区本月扣缴合计", "安平县本月扣缴合计"):
        assert name not in whole


@needs_poppler
def test_no_developer_text_in_the_pdf_or_the_html_document(pdf_file: Path, html: str) -> None:
    text = "\n".join(_pages_text(pdf_file))
    for document in (text, html):
        assert RAW.search(document) is None, RAW.search(document)
        assert "键" not in re.sub(r"<[^>]+>", "", document)
    # the basis in words, and the parameter written as its key put in the rule set's words
    assert "自动站日均值 31 天（10月1日至10月31日），其中 2 天含可疑值" in html
    assert "[假设] 无手工结果时采用自动站日均值月均值：是" in html


def test_raw_trace_stays_in_json_and_the_sites_fragment(
    statement: MonthlyStatement, head: Letterhead
) -> None:
    fragment = render_html(statement, issue=ISSUE, head=head, standalone=False)
    assert "daily:hengshuihu-dahuxin:2025-10-01:tn(6 个有效值)" in fragment
    assert "<details" in fragment
    document = json.dumps(statement_json(statement), ensure_ascii=False)
    assert "daily:hengshuihu-dahuxin:2025-10-01:tn(6 个有效值)" in document


def test_numbers_at_reporting_precision_and_marks(html: str) -> None:
    # TN 1 → 1.00, 1/3 → 0.33 (TP would keep 3 decimals); ≥ for a lower bound
    assert '<td class="num">1.33</td><td class="num">1.00</td>' in html
    assert '<td class="num">0.33</td>' in html and "0.333333" not in html
    assert "超标 0.33 倍" in html
    assert "含超量程读数，数值为下限（≥）" in html
    assert "&lt;DL" in html
    assert "Ⅲ类及以上" not in html


def test_letterhead_defaults_and_unconfirmed_names_are_marked(html: str) -> None:
    assert re.search(r'class="issuer">衡水市生态环境局<span class="assumed">\[A\]</span>', html)
    assert '衡环水〔2025〕10号<span class="assumed">[A]</span>' in html
    assert '各县（市、区）人民政府，市财政局<span class="assumed">[A]</span>：' in html
    # 滏东排河武邑县出境 is not confirmed by a public source, 小范桥 is
    assert '滏东排河武邑县出境 <span class="assumed">[A]</span>' in html
    assert '小范桥 <span class="assumed">' not in html


def test_letterhead_from_settings_is_not_marked(statement: MonthlyStatement) -> None:
    settings = Settings(
        issuer_office="某市生态环境局",
        document_number_pattern="某环〔{year}〕{seq}号",
        addressees="各区人民政府",
    )
    page = render_html(statement, issue=ISSUE, head=letterhead(settings))
    assert 'class="issuer">某市生态环境局</p>' in page
    assert "某环〔2025〕10号</p>" in page and "各区人民政府：" in page
    assert '某市生态环境局<span class="assumed">' not in page
    draft = render_html(statement, head=letterhead(settings))
    assert "签发时编文号" in draft and "某环〔2025〕" not in draft
    assert "　　年　　月　　日" in draft


def test_a_number_pattern_with_unknown_fields_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="QINGLIU_DOCUMENT_NUMBER_PATTERN"):
        Settings.from_env({"QINGLIU_DOCUMENT_NUMBER_PATTERN": "衡环〔{yr}〕号"})


def test_rendering_leaves_the_statement_and_its_hash_alone(
    statement: MonthlyStatement, head: Letterhead
) -> None:
    before = json.dumps(statement_json(statement), ensure_ascii=False, sort_keys=True)
    for other in (head, replace(head, office="另一机关"), Letterhead()):
        render_html(statement, issue=ISSUE, head=other)
    after = json.dumps(statement_json(statement), ensure_ascii=False, sort_keys=True)
    assert hashlib.sha256(before.encode()).digest() == hashlib.sha256(after.encode()).digest()


@needs_poppler
def test_unit_statement_pdf_is_paper(
    statement: MonthlyStatement, head: Letterhead, tmp_path: Path
) -> None:
    path = tmp_path / "binhu.pdf"
    path.write_bytes(render_pdf(statement, unit="binhu", issue=ISSUE, head=head))
    assert _assert_paper(path, tmp_path) <= 3
    text = "\n".join(_pages_text(path))
    assert RAW.search(text) is None
    assert "滨湖新区2025年10月生态补偿金扣缴通报" in text


# --- the bulletin ------------------------------------------------------------------------------


def _bulletin(registry: Registry, head: Letterhead) -> BulletinContext:
    rows = tuple(
        BulletinRow(
            section=s.id, name=s.name, confirmed=s.confirmed, river=s.river, level="省考",
            unit_name="", target=WaterClass(3), klass=WaterClass(3), status_text="",
            meets_target=True, main_pollutants=(), values=("4.5", "0.12", "<0.010"),
            counted=True,
        )
        for s in registry.sections
        if not s.is_reference
    )  # fmt: skip
    return BulletinContext(
        title="衡水市 2025年10月 地表水环境质量月报", city="衡水市", month="2025-10",
        month_label="2025年10月", computed_at="2025-11-01 06:05", sections=len(rows),
        assessable=len(rows), not_assessable=(), good=len(rows), good_share=1.0,
        good_share_text="100.0%", target_share=0.692, target_share_text="69.2%",
        meets_share_target=True, worse_than_v=0, worse_than_v_names=(), status="优",
        lake=None, trend=None, rows=rows, reference_rows=(),
        key_values=("高锰酸盐指数", "氨氮", "总磷"),
        assumptions=("示例假设 [A]。",), issuer=head.office, issuer_assumed=head.office_assumed,
        issue_number="2025年第10期", issue_date="2025年11月1日",
    )  # fmt: skip


@needs_poppler
def test_bulletin_names_its_issuer_and_is_paper(
    registry: Registry, head: Letterhead, tmp_path: Path
) -> None:
    import weasyprint

    page = render_bulletin_html(_bulletin(registry, head))
    assert '衡水市生态环境局<span class="assumed">[A]</span>' in page
    assert "2025年第10期" in page and "2025年11月1日" in page and 'id="signature"' in page
    assert "达到或优于Ⅲ类" in page and "Ⅲ类及以上" not in page
    path = tmp_path / "bulletin.pdf"
    path.write_bytes(weasyprint.HTML(string=page).write_pdf())
    assert _assert_paper(path, tmp_path) <= 2
    text = "\n".join(_pages_text(path))
    assert "衡水市生态环境局" in text and RAW.search(text) is None


def test_the_apps_own_settings_head_its_documents(tmp_path: Path) -> None:
    """The office of the service's settings, not of the process environment, heads what the
    web app and API issue."""
    import httpx

    from service.app import create_app
    from service.settings import Settings
    from tests.conftest import bearer, live_server_for

    settings = Settings(data_dir=tmp_path / "data", scheduler=False,
                        issuer_office="某市生态环境局测试处")  # fmt: skip
    app = create_app(settings)
    try:
        with live_server_for(app) as url, httpx.Client(base_url=url, timeout=60) as http:
            answer = http.get("/api/compensation/2025-07/download", params={"format": "html"},
                              headers=bearer(app.state.engine))  # fmt: skip
        assert answer.status_code == 200
        assert "某市生态环境局测试处" in answer.text and "衡水市生态环境局" not in answer.text
    finally:
        app.state.engine.dispose()
