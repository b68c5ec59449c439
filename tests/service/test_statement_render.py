"""Statements rendered as HTML, PDF, XLSX and CSV show every line, exactly (domain.md §6)."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import inspect
import io
import re
import sys
import zlib
from decimal import Decimal
from html.parser import HTMLParser
from typing import Literal

import pytest
from markupsafe import escape
from openpyxl import load_workbook

from compensation.engine import Measurement, monthly_statement
from compensation.rules import load_rule_set
from compensation.statement import (
    DeductionLine,
    EventLine,
    ExemptLine,
    FactorStatus,
    MonthlyStatement,
    RewardLine,
    RuleSetSummary,
    UnitStatement,
)
from sections.registry import parse_registry
from service.errors import QingliuError
from service.statements import contexts, unit_details, wording
from service.statements.letterhead import Letterhead
from service.statements.render import (
    CSV_COLUMNS,
    XLSX_SHEETS,
    IssueInfo,
    _xlsx_number,
    render_csv,
    render_html,
    render_pdf,
    render_xlsx,
)

D = Decimal
DOCUMENT = "衡政办字〔2021〕3号"
HASH = "0123456789abcdef" * 4
ISSUE = IssueInfo(
    version=2, content_hash=HASH, issued_at=dt.datetime(2025, 4, 3, 2, 30, tzinfo=dt.UTC)
)

UNITS = {
    "taocheng": "桃城区",
    "jizhou": "冀州区",
    "wuqiang": "武强县",
    "gucheng": "故城县",
    "jingxian": "景县",
    "gaoxin": "高新区",
}
SECTIONS = {
    "fuyang-taocheng": "滏阳河桃城区出境",
    "fuyang-jizhou": "滏阳河冀州区出境",
    "fuyangxin-jizhou": "滏阳新河冀州区出境",
    "xiaofanqiao": "小范桥",
    "fuyangxin-wuqiang": "滏阳新河武强县出境",
    "weiyun-gucheng": "卫运河故城县出境",
    "jianghe-jingxian": "江江河景县出境",
    "aixinzhuang": "艾辛庄",
}
STATUS_TEXTS = [
    "达标", "超标 0.75 倍", "超标 1.60 倍", "断流", "结冰", "超标 0.40 倍，未增加", "无数据",
    "数据不足", "不考核",
]  # fmt: skip
HEAD = Letterhead()
"""The default letterhead without unconfirmed names: the tests' section names print plainly."""


def clause(factor: str) -> str:
    return f"{DOCUMENT}：{factor} 条款；每超标一个倍数档扣缴 30 万元"


def hand_built() -> MonthlyStatement:
    """March 2025: 桃城区 owes 120 + 60 + 30 (event) = 210 万元; 武强县 30 with a 12.5 reward."""
    rules = load_rule_set("hengshui-2021")
    summary = RuleSetSummary(
        id=rules.id,
        document=rules.document,
        title=rules.title,
        assumptions=tuple(a.text for a in rules.unverified),
        method=rules.method(),
    )
    ft, fj, xj = "fuyang-taocheng", "fuyang-jizhou", "fuyangxin-jizhou"
    taocheng = UnitStatement(
        "taocheng", "桃城区", (ft,),
        lines=(
            DeductionLine(ft, "cod", D("52.5"), D("30"), None, D("0.75"), 4, D("120"),
                          "例行监测最高值", clause("cod"), ("manual.csv:12",)),
            DeductionLine(ft, "nh3n", D("3.90"), D("1.5"), D("2.40"), D("0.625"), 2, D("60"),
                          "抽测最高值；入境超标，按较入境增加倍数计", clause("nh3n"),
                          ("manual.csv:14",)),
        ),
        events=(
            EventLine(ft, "tp", dt.date(2025, 3, 10), dt.date(2025, 3, 13), 4,
                      dt.date(2025, 3, 12), D("30"), f"{DOCUMENT}：自动站连续超标事件"),
        ),
        statuses=(
            FactorStatus(ft, "cod", "exceeds", "超标 0.75 倍", D("52.5"), D("30"), D("0.75")),
            FactorStatus(ft, "codmn", "meets", "达标", D("5.2"), D("10")),
            FactorStatus(ft, "nh3n", "exceeds", "超标 1.6 倍", D("3.90"), D("1.5"), D("1.6")),
            FactorStatus(ft, "tp", "meets", "达标", D("0.250"), D("0.3")),
            FactorStatus(ft, "tn", "no_standard", "无标准，不考核"),
        ),
    )  # fmt: skip
    jizhou = UnitStatement(
        "jizhou", "冀州区", (fj, xj),
        exempt=(
            ExemptLine(fj, "cod", "frozen", "河面结冰，未采样"),
            ExemptLine(xj, "nh3n", "not_increased",
                       "入境断面 艾辛庄 2.20 超标，出境 2.10 未增加，不扣缴"),
        ),
        statuses=(
            FactorStatus(fj, "cod", "frozen", "结冰"),
            FactorStatus(xj, "cod", "meets", "达标", D("18"), D("30")),
            FactorStatus(xj, "nh3n", "not_increased", "超标 0.4 倍，未增加", D("2.10"), D("1.5"),
                         D("0.4")),
        ),
    )  # fmt: skip
    wuqiang = UnitStatement(
        "wuqiang", "武强县", ("xiaofanqiao", "fuyangxin-wuqiang"),
        lines=(
            DeductionLine("fuyangxin-wuqiang", "tp", D("0.360"), D("0.3"), None, D("0.2"), 1,
                          D("30"), "例行监测最高值", clause("tp")),
        ),
        rewards=(RewardLine("xiaofanqiao", D("12.5"), "各考核因子均达标", "奖励（示例配置）[A]"),),
        statuses=(
            FactorStatus("xiaofanqiao", "cod", "meets", "达标", D("18"), D("20")),
            FactorStatus("fuyangxin-wuqiang", "tp", "exceeds", "超标 0.2 倍", D("0.360"),
                         D("0.3"), D("0.2")),
        ),
    )  # fmt: skip
    gucheng = UnitStatement(
        "gucheng", "故城县", ("weiyun-gucheng",),
        exempt=(ExemptLine("weiyun-gucheng", "cod", "no_flow", "全月断流"),),
        statuses=(FactorStatus("weiyun-gucheng", "cod", "no_flow", "断流"),),
    )  # fmt: skip
    jingxian = UnitStatement(
        "jingxian", "景县", ("jianghe-jingxian",),
        exempt=(
            ExemptLine("jianghe-jingxian", "nh3n", "insufficient_data",
                       "自动站有效日数 12 天，不足 21 天，未计算"),
        ),
        statuses=(
            FactorStatus("jianghe-jingxian", "cod", "no_data", "无数据", standard=D("30")),
            FactorStatus("jianghe-jingxian", "nh3n", "insufficient_data", "数据不足"),
        ),
    )  # fmt: skip
    gaoxin = UnitStatement("gaoxin", "高新区", ())
    return MonthlyStatement(
        month=dt.date(2025, 3, 1),
        rule_set=summary,
        units=(taocheng, jizhou, wuqiang, gucheng, jingxian, gaoxin),
        section_names=tuple(SECTIONS.items()),
    )


@pytest.fixture(scope="module")
def statement() -> MonthlyStatement:
    return hand_built()


@pytest.fixture(scope="module")
def month_html(statement: MonthlyStatement) -> str:
    return render_html(statement, head=HEAD)


class _Tables(HTMLParser):
    """The text of the cells of every table with an id, row by row."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.stack: list[str] = []
        self.row: list[str] | None = None
        self.cell: list[str] | None = None
        self.row_attrs: dict[str, str | None] = {}
        self.row_ids: dict[str, list[str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.stack.append(dict(attrs).get("id") or "")
            self.tables.setdefault(self.stack[-1], [])
        elif tag == "tr" and self.stack:
            self.row = []
            self.row_attrs = dict(attrs)
        elif tag in ("td", "th") and self.row is not None:
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None and self.row is not None:
            self.row.append(re.sub(r"\s+", " ", "".join(self.cell)).strip())
            self.cell = None
        elif tag == "tr" and self.row is not None:
            self.tables[self.stack[-1]].append(self.row)
            self.row = None
        elif tag == "table" and self.stack:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def tables(html: str) -> dict[str, list[list[str]]]:
    parser = _Tables()
    parser.feed(html)
    return parser.tables


# --- HTML -------------------------------------------------------------------------------------


def test_month_html_names_every_unit_section_and_status(month_html: str) -> None:
    assert month_html.lstrip().startswith("<!doctype html>")
    assert "@page" in month_html and "Noto Sans CJK SC" in month_html
    found = tables(month_html)
    names = {cell for row in found["summary"] + found["statuses"] for cell in row}
    for name in UNITS.values():
        assert name in names, name
    for section_id, name in SECTIONS.items():
        if section_id != "aixinzhuang":  # an upstream reference, named only in a note
            assert name in names, name
    for text in STATUS_TEXTS:
        assert text in names, text
    for factor in ("化学需氧量", "高锰酸盐指数", "氨氮", "总磷", "总氮"):
        assert factor in names, factor


def test_month_html_names_the_rule_set_and_every_assumption(
    month_html: str, statement: MonthlyStatement
) -> None:
    assert DOCUMENT in month_html
    assert "hengshui-2021" in month_html
    assert statement.rule_set.title in month_html
    assert "本通报所依据的未经核实参数" in month_html
    assert len(statement.rule_set.assumptions) >= 5
    for text in statement.rule_set.assumptions:
        assert str(escape(text)) in month_html, text


def test_month_html_summary_amounts_are_exact(month_html: str) -> None:
    found = tables(month_html)
    summary = found["summary"]
    rows = {row[1]: row for row in summary if len(row) > 3 and row[1] in UNITS.values()}
    # 序号, 单位, 断面, 考核情况, 万元, 元
    ft = "滏阳河桃城区出境"
    assert rows["桃城区"] == [
        "1", "桃城区", ft,
        f"{ft}：化学需氧量超标 0.75 倍，4 档；{ft}：氨氮超标 0.62 倍（较入境增加），2 档；"
        f"{ft}：自动站日均值连续超标 1 次",
        "210", "2,100,000",
    ]  # fmt: skip
    assert rows["冀州区"][2:] == [
        "滏阳河冀州区出境滏阳新河冀州区出境",
        "滏阳河冀州区出境：化学需氧量结冰；滏阳新河冀州区出境：氨氮未增加，不扣缴", "0", "0",
    ]  # fmt: skip
    assert rows["武强县"][-2:] == ["30", "300,000"]  # the reward is not netted
    assert "奖励 12.5 万元（另行拨付，不与扣缴相抵）" in rows["武强县"][3]
    assert rows["高新区"] == ["6", "高新区", "—", "无考核断面", "0", "0"]
    assert summary[-1] == ["全市合计", "240", "2,400,000"]
    statuses = {row[1]: row for row in found["statuses"] if len(row) > 2}
    assert statuses[ft] == [
        "桃城区", ft, "超标 0.75 倍", "达标", "超标 1.60 倍", "达标", "不考核",
    ]  # fmt: skip
    assert statuses["滏阳河冀州区出境"][2] == "结冰"


def test_unit_detail_shows_lines_events_exemptions_and_totals(month_html: str) -> None:
    found = tables(month_html)
    lines = found["lines-taocheng"]
    assert lines[1] == [
        "滏阳河桃城区出境", "化学需氧量", "52.5", "30.0", "—", "0.75", "4", "120",
        f"例行监测最高值依据：其他监测记录 1 条{clause('cod')}",
    ]  # fmt: skip
    # at the reporting precision; the multiple to 2 decimals, half to even
    assert lines[2][:8] == ["滏阳河桃城区出境", "氨氮", "3.90", "1.50", "2.40", "0.62", "2", "60"]
    assert found["events-taocheng"][1][:6] == [
        "滏阳河桃城区出境", "总磷", "2025-03-10至 2025-03-13", "4", "2025-03-12", "30",
    ]  # fmt: skip
    assert found["totals-taocheng"] == [["桃城区本月扣缴合计", "210 万元", "2,100,000 元"]]
    exempt = found["exempt-jizhou"]
    assert exempt[1] == ["滏阳河冀州区出境", "化学需氧量", "结冰", "河面结冰，未采样"]
    assert exempt[2][2] == "未增加，不扣缴" and "艾辛庄 2.20" in exempt[2][3]
    assert found["exempt-gucheng"][1][2] == "断流"
    assert found["exempt-jingxian"][1][2] == "数据不足，未计算"
    assert found["totals-jizhou"] == [["冀州区本月扣缴合计", "0 万元", "0 元"]]
    assert "lines-jizhou" not in found and "events-wuqiang" not in found


def test_rewards_are_their_own_table_and_never_netted(month_html: str) -> None:
    found = tables(month_html)
    reward = ["小范桥", "12.5", "各考核因子均达标", "奖励（示例配置）[A]"]
    assert found["rewards-wuqiang"][1] == reward
    assert found["totals-wuqiang"] == [
        ["武强县本月扣缴合计", "30 万元", "300,000 元"],
        ["奖励合计（另计，不相抵）", "12.5 万元", "125,000 元"],
    ]
    assert "rewards-taocheng" not in found
    assert month_html.count("奖励单独列示、另行拨付，不与扣缴金额相抵") == 1


def test_draft_marker_and_issue_stamp(statement: MonthlyStatement, month_html: str) -> None:
    assert "草稿（未签发）" in month_html
    issued = render_html(statement, issue=ISSUE)
    assert "草稿（未签发）" not in issued
    # 02:30 UTC is 10:30 in Beijing
    stamp = (
        "版本 2，内容摘要（SHA-256 前 12 位）0123456789ab，签发时间 2025-04-03 10:30（北京时间）"
    )
    assert stamp in issued
    assert HASH[:13] not in issued


def test_naive_issue_time_is_utc(statement: MonthlyStatement) -> None:
    naive = IssueInfo(1, HASH, dt.datetime(2025, 4, 3, 16, 0))
    assert "签发时间 2025-04-04 00:00（北京时间）" in render_html(statement, issue=naive)


def test_unit_html_shows_one_unit(statement: MonthlyStatement) -> None:
    page = render_html(statement, unit="taocheng", issue=ISSUE, head=HEAD)
    found = tables(page)
    assert "<h1>桃城区2025年3月生态补偿金扣缴通报</h1>" in page
    assert found["statuses-taocheng"][1][:2] == [
        "滏阳河桃城区出境", "超标 0.75 倍值 52.5，标准 30.0",
    ]  # fmt: skip
    assert found["totals-taocheng"] == [["桃城区本月扣缴合计", "210 万元", "2,100,000 元"]]
    assert "summary" not in found
    for other in ("冀州区", "武强县", "小范桥"):
        assert other not in page
    assert DOCUMENT in page and "本通报所依据的未经核实参数" in page
    assert "版本 2" in page and "草稿（未签发）" not in page
    with pytest.raises(KeyError, match="taocheng"):
        render_html(statement, unit="nowhere")


def test_not_standalone_is_a_fragment_for_the_site(statement: MonthlyStatement) -> None:
    fragment = render_html(statement, standalone=False, head=HEAD)
    assert fragment.lstrip().startswith("<article")  # styles: /static/statement.css
    for tag in ("<html", "<head", "<body", "@page", "<style"):
        assert tag not in fragment, tag
    assert fragment.rstrip().endswith("</article>")
    assert tables(fragment)["summary"][-1] == ["全市合计", "240", "2,400,000"]
    assert "草稿（未签发）" in fragment and DOCUMENT in fragment
    # the site keeps the raw trace behind a <details>; the document gives it in words
    assert "manual.csv:12" in fragment and "<details" in fragment
    assert "manual.csv:12" not in render_html(statement, head=HEAD)
    unit = render_html(statement, unit="wuqiang", standalone=False)
    assert "<html" not in unit and "rewards-wuqiang" in unit


def test_every_statement_context_field_has_help() -> None:
    classes = [
        obj
        for module in (contexts, unit_details)
        for _, obj in inspect.getmembers(module, inspect.isclass)
        if dataclasses.is_dataclass(obj) and obj.__module__ == module.__name__
    ]
    assert {"MonthStatementContext", "UnitStatementContext", "UnitDetail"} <= {
        c.__name__ for c in classes
    }
    for cls in classes:
        for field in dataclasses.fields(cls):
            assert field.metadata.get("help"), f"{cls.__name__}.{field.name} has no help"


@pytest.mark.parametrize(
    ("wan", "wan_text", "yuan_text"),
    [
        (D("210"), "210", "2,100,000"),
        (D("210.00"), "210", "2,100,000"),
        (D("12.5"), "12.5", "125,000"),
        (D("0.00005"), "0.00005", "0.5"),
        (D("123456789.123456789"), "123456789.123456789", "1,234,567,891,234.56789"),
    ],
)
def test_money_is_formatted_exactly(wan: Decimal, wan_text: str, yuan_text: str) -> None:
    assert wording.money_text(wan) == wan_text
    assert wording.yuan_text(wan * 10_000) == yuan_text


# --- PDF --------------------------------------------------------------------------------------


def _pdf_text_objects(pdf: bytes) -> bytes:
    """The PDF's objects with their Flate streams inflated (no PDF library needed)."""
    parts = [pdf]
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            parts.append(zlib.decompress(match.group(1)))
        except zlib.error:
            continue
    return b"\n".join(parts)


def test_pdf_is_an_a4_document_with_cjk_fonts(statement: MonthlyStatement) -> None:
    pdf = render_pdf(statement, issue=ISSUE)
    assert pdf.startswith(b"%PDF")
    assert len(pdf) > 20_000
    objects = _pdf_text_objects(pdf)
    assert b"NotoSansCJK" in objects or b"NotoSerifCJK" in objects
    # A4 is 595 x 842 points; a few pages, not one per unit
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", objects)
    assert 1 <= len(boxes) <= 1 + sum(1 for u in statement.units if u.lines or u.exempt)
    assert {(round(float(w)), round(float(h))) for w, h in boxes} == {(595, 842)}


def test_pdf_of_one_unit_is_shorter(statement: MonthlyStatement) -> None:
    whole = _pdf_text_objects(render_pdf(statement))
    one = _pdf_text_objects(render_pdf(statement, unit="gaoxin"))
    assert len(re.findall(rb"/MediaBox", one)) < len(re.findall(rb"/MediaBox", whole))


def test_pdf_without_weasyprint_says_what_to_install(
    statement: MonthlyStatement, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # import weasyprint → ImportError
    with pytest.raises(QingliuError, match=r"libpango-1\.0-0 libpangoft2-1\.0-0"):
        render_pdf(statement)


# --- XLSX -------------------------------------------------------------------------------------


def test_xlsx_sheets_hold_the_statement(statement: MonthlyStatement) -> None:
    book = load_workbook(io.BytesIO(render_xlsx(statement, issue=ISSUE)))
    assert book.sheetnames == list(XLSX_SHEETS)
    summary = book["汇总"]
    assert "2025年3月" in summary["A1"].value and "汇总" in summary["A1"].value
    assert DOCUMENT in summary["A2"].value and "版本 2" in summary["A2"].value
    assert summary["A3"].font.bold
    rows = [tuple(c.value for c in row) for row in summary.iter_rows(min_row=4)]
    assert ("桃城区", "taocheng", "滏阳河桃城区出境", "fuyang-taocheng", "化学需氧量",
            "超标 0.75 倍", 52.5, 30, "0.75") in rows  # fmt: skip
    assert ("冀州区", "jizhou", "滏阳新河冀州区出境", "fuyangxin-jizhou", "氨氮",
            "超标 0.4 倍，未增加", 2.1, 1.5, "0.4") in rows  # fmt: skip
    totals = {
        row[0]: row[2:5] for row in rows if row and row[0] and isinstance(row[2], int | float)
    }
    assert totals["桃城区"] == (210, 2_100_000, 0)
    assert totals["武强县"] == (30, 300_000, 12.5)
    assert totals["全市合计"] == (240, 2_400_000, 12.5)
    value_cell = next(c for c in summary["G"] if c.value == 3.9)
    assert value_cell.number_format == "0.00"  # 3.90 keeps its two decimals

    detail = [
        tuple(c.value for c in row) for row in book["扣缴明细"].iter_rows(min_row=4) if row[0].value
    ]
    assert [(r[2], r[3], r[13], r[14]) for r in detail] == [
        ("月度扣缴", "化学需氧量", 120, 1_200_000),
        ("月度扣缴", "氨氮", 60, 600_000),
        ("自动站连续超标", "总磷", 30, 300_000),
        ("月度扣缴", "总磷", 30, 300_000),
    ]
    assert detail[1][6:9] == (2.4, "0.625", 2)
    assert isinstance(detail[0][7], str)  # multiples are text
    assert detail[2][9].date() == dt.date(2025, 3, 10) and detail[2][12].date() == dt.date(
        2025, 3, 12
    )

    exempt = [tuple(c.value for c in row) for row in book["免于考核"].iter_rows(min_row=4)]
    assert ("冀州区", "滏阳河冀州区出境", "化学需氧量", "结冰", "河面结冰，未采样") in exempt
    assert [r[3] for r in exempt] == ["结冰", "未增加，不扣缴", "断流", "数据不足，未计算"]

    rewards = book["奖励"]
    assert "不与扣缴金额相抵" in rewards["A2"].value
    assert [c.value for c in rewards[4]] == [
        "武强县", "小范桥", 12.5, 125_000, "各考核因子均达标", "奖励（示例配置）[A]"
    ]  # fmt: skip

    about = {(r[0], r[1]) for r in book["规则与假设"].iter_rows(min_row=4, values_only=True)}
    assert ("文号", DOCUMENT) in about and ("规则集 id", "hengshui-2021") in about
    for text in statement.rule_set.assumptions:
        assert ("未经核实参数", text) in about
    for text in statement.rule_set.method:
        assert ("计算方法", text) in about
    assert book["规则与假设"].column_dimensions["B"].width == 100


def test_xlsx_of_one_unit(statement: MonthlyStatement) -> None:
    book = load_workbook(io.BytesIO(render_xlsx(statement, unit="jizhou")))
    units = {r[0] for r in book["汇总"].iter_rows(min_row=4, values_only=True) if r and r[0]}
    assert units == {"冀州区", "考核单位"}  # the totals table repeats its header
    assert "草稿（未签发）" in book["汇总"]["A2"].value
    assert book["扣缴明细"].max_row == 3  # title, rule set, header: jizhou owes nothing


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (D("210"), (210.0, "0")),
        (D("3.90"), (3.9, "0.00")),
        (D("0.0001"), (0.0001, "0.0000")),
        (D("0.00001"), ("0.00001", "@")),  # more than 4 decimals: exact text, never rounded
        (D("12345678901234567.5"), ("12345678901234567.5", "@")),  # not exact as a float
    ],
)
def test_xlsx_numbers_are_exact_or_text(value: Decimal, expected: tuple[object, str]) -> None:
    assert _xlsx_number(value) == expected


# --- CSV --------------------------------------------------------------------------------------


def test_csv_has_one_row_per_line_and_event(statement: MonthlyStatement) -> None:
    rows = list(csv.DictReader(io.StringIO(render_csv(statement))))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert [(r["unit"], r["kind"], r["factor"], r["amount_wan"]) for r in rows] == [
        ("taocheng", "deduction", "cod", "120"),
        ("taocheng", "deduction", "nh3n", "60"),
        ("taocheng", "event", "tp", "30"),
        ("wuqiang", "deduction", "tp", "30"),
    ]
    nh3n = rows[1]
    assert (nh3n["value"], nh3n["standard"], nh3n["inflow_value"], nh3n["multiple"]) == (
        "3.90", "1.5", "2.40", "0.625"
    )  # fmt: skip
    assert nh3n["tiers"] == "2" and nh3n["section_name"] == "滏阳河桃城区出境"
    assert rows[0]["inflow_value"] == "" and rows[0]["clause"] == clause("cod")
    event = rows[2]
    assert (event["start"], event["end"], event["days"]) == ("2025-03-10", "2025-03-13", "4")
    assert "2025-03-12" in event["basis"] and event["value"] == ""
    assert sum(D(r["amount_wan"]) for r in rows) == statement.total_wan == D("240")


def test_csv_of_one_unit(statement: MonthlyStatement) -> None:
    assert len(list(csv.DictReader(io.StringIO(render_csv(statement, unit="taocheng"))))) == 3
    assert render_csv(statement, unit="jizhou") == ",".join(CSV_COLUMNS) + "\n"


# --- a statement from the engine --------------------------------------------------------------

REGISTRY = """
[[units]]
id = "jia"
name = "甲县"

[[units]]
id = "yi"
name = "乙县"

[[sections]]
id = "shangyou"
name = "上游对照"
confirmed = true
river = "测试河"
water_body = "river"
level = "reference"
lon = 115.5
lat = 37.5
target_class = "IV"

[[sections]]
id = "jia-out"
name = "测试河甲县出境"
confirmed = true
river = "测试河"
water_body = "river"
level = "city"
assessed_unit = "jia"
upstream = "shangyou"
lon = 115.6
lat = 37.6
target_class = "IV"

[[sections]]
id = "yi-out"
name = "测试河乙县出境"
confirmed = true
river = "测试河"
water_body = "river"
level = "city"
assessed_unit = "yi"
lon = 115.7
lat = 37.7
target_class = "IV"
"""


def test_an_engine_statement_renders_in_every_format() -> None:
    registry = parse_registry(REGISTRY, source="test")
    march = dt.date(2025, 3, 1)

    def m(
        section: str,
        factor: str,
        day: int,
        value: str,
        kind: Literal["routine", "spot", "auto_daily"] = "routine",
    ) -> Measurement:
        return Measurement(section, factor, march.replace(day=day), D(value), kind)

    measurements = [
        m("shangyou", "cod", 5, "40"),  # inflow over its standard (30)
        m("jia-out", "cod", 5, "44"),  # higher than the inflow: charged on the increase
        m("shangyou", "nh3n", 5, "2.2"),
        m("jia-out", "nh3n", 5, "2.0"),  # not higher than the inflow: not charged
        Measurement("yi-out", "cod", march, None, "routine", status="frozen", note="结冰"),
        *(m("yi-out", "tp", day, "0.5", "auto_daily") for day in (3, 4, 5)),
        m("yi-out", "tp", 6, "0.1"),
    ]
    statement = monthly_statement(
        measurements, month=march, registry=registry, rule_set=load_rule_set("hengshui-2021")
    )
    html = render_html(statement)
    for unit in statement.units:
        assert unit.name in html
        assert wording.yuan_text(unit.total_yuan) in html
    for unit in statement.units:
        for status in unit.statuses:
            assert wording.status_text(status) in html
    assert DOCUMENT in html and "未增加" in html and "结冰" in html
    rows = list(csv.DictReader(io.StringIO(render_csv(statement))))
    assert len(rows) == sum(len(u.lines) + len(u.events) for u in statement.units) >= 2
    assert sum(D(r["amount_wan"]) for r in rows) == statement.total_wan
    assert render_pdf(statement, unit="jia").startswith(b"%PDF")
    assert load_workbook(io.BytesIO(render_xlsx(statement))).sheetnames == list(XLSX_SHEETS)


# --- issue 9: provenance, episodes and what a figure rests on, in every format ----------------


def test_issue9_statement_lists_derived_and_assumed_parameters_with_their_tags(
    month_html: str, statement: MonthlyStatement
) -> None:
    for start in ("[推定] 每档扣缴金额：30 万元", "[推定] 扣缴上限：不设上限",
                  "[推定] 月度取值", "[假设] 湖库断面考核因子总氮"):  # fmt: skip
        [text] = [t for t in statement.rule_set.assumptions if t.startswith(start)]
        assert str(escape(text)) in month_html, start
    assert "[推定]：由官方月度通报推算" in month_html
    for text in statement.rule_set.method:
        assert str(escape(text)) in month_html
    assert "不论几项因子同时超标" in month_html


def _episode_statement() -> MonthlyStatement:
    """乙县 (yi-out, Class Ⅳ): CODMn, NH3-N and TP over on 10–12 March, one marked TP month."""
    registry = parse_registry(REGISTRY, source="test")
    march = dt.date(2025, 3, 1)
    run = [march.replace(day=d) for d in (10, 11, 12)]
    measurements = [
        Measurement("yi-out", "cod", march, D("18"), "routine"),
        *(Measurement("yi-out", "codmn", day, D("12"), "auto_daily", suspect=1) for day in run),
        *(Measurement("yi-out", "nh3n", day, D("2.0"), "auto_daily") for day in run),
        *(
            Measurement(
                "yi-out", "tp", march.replace(day=d), D("0.45"), "auto_daily", lower_bound=d == 11
            )
            for d in range(1, 32)
        ),
        Measurement("jia-out", "cod", march, D("32"), "spot", censored=True),
    ]
    return monthly_statement(
        measurements, month=march, registry=registry, rule_set=load_rule_set("hengshui-2021")
    )


def test_issue9_episode_and_marks_in_html() -> None:
    statement = _episode_statement()
    yi = statement.unit("yi")
    [event] = yi.events
    assert event.factors == ("nh3n", "tp", "codmn")  # TP is over all month: the run is 1–31
    found = tables(render_html(statement))
    row = found["events-yi"][1]
    assert row[1] == "氨氮、总磷、高锰酸盐指数"
    assert row[2:6] == ["2025-03-01至 2025-03-31", "31", "2025-03-03", "30"]
    assert "超标日期：氨氮 03-10、03-11、03-12；总磷 03-01、" in row[6]
    assert "按断面连续超标时段计次" in row[6]
    assert "含超量程读数" in row[6] and "含 3 个可疑值" in row[6]
    line = next(r for r in found["lines-yi"][1:] if r[1] == "总磷")
    assert line[2] == "≥0.450"  # a lower bound: an over-range reading entered the mean
    assert "比较：自动站日均值月均值" in line[8] and "含超量程读数，数值为下限（≥）" in line[8]
    jia = found["lines-jia"][1]
    assert "<DL" in jia[8] and "按检出限的一半计" in jia[8]
    assert yi.total_wan == D("30") + D("30")  # TP month (0.5 → 1 tier) + one episode


def test_issue9_episode_and_marks_in_csv() -> None:
    statement = _episode_statement()
    rows = list(csv.DictReader(io.StringIO(render_csv(statement, unit="yi"))))
    event = next(r for r in rows if r["kind"] == "event")
    assert event["factor"] == "nh3n+tp+codmn"
    assert event["counting"] == "episode"
    assert event["factor_days"].startswith("nh3n:2025-03-10,2025-03-11,2025-03-12;tp:2025-03-01")
    assert (event["suspect_values"], event["lower_bound"]) == ("3", "true")
    tp = next(r for r in rows if r["kind"] == "deduction" and r["factor"] == "tp")
    assert (tp["value"], tp["lower_bound"]) == ("0.450", "true")
    assert tp["value_sources"] == "auto_monthly_mean"
    jia = next(csv.DictReader(io.StringIO(render_csv(statement, unit="jia"))))
    assert (jia["censored"], jia["value_sources"]) == ("true", "spot")


def test_issue9_episode_and_marks_in_xlsx() -> None:
    book = load_workbook(io.BytesIO(render_xlsx(_episode_statement(), unit="yi")))
    sheet = book["扣缴明细"]
    header = [c.value for c in sheet[3]]
    assert header[-4:] == ["数据来源", "可疑值个数", "数值说明", "各因子超标日期"]
    rows = [tuple(c.value for c in row) for row in sheet.iter_rows(min_row=4) if row[0].value]
    event = next(r for r in rows if r[2] == "自动站连续超标")
    assert event[3] == "氨氮、总磷、高锰酸盐指数"
    assert event[18] == 3 and "含超量程读数" in event[19]
    assert event[20].startswith("氨氮 03-10、03-11、03-12；总磷 03-01")
    assert "按断面连续超标时段计次" in event[15]
    tp = next(r for r in rows if r[2] == "月度扣缴" and r[3] == "总磷")
    assert tp[4] == "≥0.450" and tp[17] == "自动站日均值月均值"


def test_issue9_episode_statement_renders_as_pdf() -> None:
    assert render_pdf(_episode_statement(), unit="yi").startswith(b"%PDF")
