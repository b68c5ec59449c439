"""Compensation statements rendered for people: HTML, PDF, XLSX and CSV.

The statement itself (:class:`~compensation.statement.MonthlyStatement`) never renders itself;
this module does, from the same data, in every format. Money stays ``Decimal`` until the last
step: HTML and CSV print it exactly, XLSX writes a number only when it is exactly representable
(otherwise text). Dates a user sees are in Beijing time.

::

    render_html   statements/month.html (the city's 通报 and every unit's detail)
                  statements/unit.html  (one unit), both through statements/_unit_detail.html
    render_pdf    weasyprint over the standalone HTML (A4, Noto CJK fonts)
    render_xlsx   汇总, 扣缴明细, 免于考核, 奖励, 规则与假设
    render_csv    one row per deduction line and automatic-station event

Every format shows what a figure rests on: the sources compared for a monthly value, "≥" for
a lower bound (an over-range reading entered it), "<DL" results at half the limit, the count of
QARTOD-suspect values; event lines list their factors and each factor's exceeding days; the
rule-set part lists how the month was computed and every parameter that is not verified.

References
----------
.. [1] domain.md §6, "A statement must show".
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from compensation.statement import WAN, MonthlyStatement, UnitStatement
from service.errors import QingliuError
from service.statements.contexts import (
    IssueStamp,
    MonthStatementContext,
    UnitStatementContext,
    issue_stamp,
    month_context,
    unit_context,
)
from service.statements.letterhead import Letterhead, letterhead
from service.statements.unit_details import COUNTING_WORDS, EXEMPT_WORDS
from service.statements.wording import (
    assumption_sentence,
    decimal_text,
    factor_days_text,
    factor_name,
    factor_names,
    marks_text,
    money_text,
    month_label,
    sources_text,
)
from service.web.templates import template_environment

if TYPE_CHECKING:
    from openpyxl import Workbook

__all__ = [
    "CSV_COLUMNS",
    "XLSX_SHEETS",
    "IssueInfo",
    "render_csv",
    "render_html",
    "render_pdf",
    "render_xlsx",
]

CSV_COLUMNS: tuple[str, ...] = (
    "unit", "unit_name", "section", "section_name", "kind", "factor", "value", "standard",
    "inflow_value", "multiple", "tiers", "start", "end", "days", "amount_wan", "basis", "clause",
    "value_sources", "suspect_values", "lower_bound", "censored", "factor_days", "counting",
)  # fmt: skip
"""Columns of :func:`render_csv`, in order.

``factor`` of an event counted per episode joins its factors with ``+``; ``factor_days`` lists
``factor:YYYY-MM-DD,…`` per factor; ``lower_bound`` and ``censored`` are ``true`` or empty.
"""

XLSX_SHEETS: tuple[str, ...] = ("汇总", "扣缴明细", "免于考核", "奖励", "规则与假设")
"""Sheets of :func:`render_xlsx`, in order."""

XLSX_DECIMALS = 4
"""A Decimal with more decimals than this is written to XLSX as text, never rounded."""

WEASYPRINT_HELP = (
    "无法生成 PDF：weasyprint 或其系统库不可用。请安装 weasyprint，并在 Debian/Ubuntu 上安装 "
    "libpango-1.0-0 libpangoft2-1.0-0 与 fonts-noto-cjk。 / "
    "Cannot render PDF: weasyprint or its system libraries are unavailable. Install weasyprint "
    "and, on Debian/Ubuntu, apt-get install libpango-1.0-0 libpangoft2-1.0-0 fonts-noto-cjk."
)


@dataclass(frozen=True)
class IssueInfo:
    """The stamp of an issued statement.

    Attributes
    ----------
    version : int
        Issue version (1, 2, … ; a recalculation issues a new version).
    content_hash : str
        SHA-256 hex digest of the issued content; its first 12 characters are shown.
    issued_at : datetime
        When it was issued; shown in Beijing time (a naive value is taken as UTC).
    """

    version: int
    content_hash: str
    issued_at: dt.datetime


def _stamp(issue: IssueInfo | None) -> IssueStamp | None:
    if issue is None:
        return None
    return issue_stamp(
        version=issue.version, content_hash=issue.content_hash, issued_at=issue.issued_at
    )


def _units(statement: MonthlyStatement, unit: str | None) -> tuple[UnitStatement, ...]:
    return statement.units if unit is None else (statement.unit(unit),)


# --- HTML and PDF -----------------------------------------------------------------------------


def render_html(
    statement: MonthlyStatement,
    *,
    unit: str | None = None,
    issue: IssueInfo | None = None,
    standalone: bool = True,
    head: Letterhead | None = None,
) -> str:
    """Render a statement as HTML.

    Parameters
    ----------
    statement : MonthlyStatement
        The month's statement.
    unit : str, optional
        A unit id: only that unit (``statements/unit.html``); default the whole city
        (``statements/month.html``: the 通报 table of every unit, then each unit's detail).
    issue : IssueInfo, optional
        The issue stamp; without it the statement is marked 草稿（未签发）.
    standalone : bool
        True: a document of its own (``<html>`` with print CSS: A4, CJK fonts), for printing
        and PDF. False: an HTML fragment (one ``<article>`` with its small stylesheet) to embed
        in a page of the web site; there each deduction line also keeps its raw data
        references behind a ``<details>`` (the document gives them in Chinese words).
    head : Letterhead, optional
        Issuing office, document number, addressees and the unconfirmed section names;
        default :func:`~service.statements.letterhead.letterhead` (the settings in the
        environment and their registry).

    Returns
    -------
    str
        The HTML.

    Raises
    ------
    KeyError
        An unknown ``unit`` (the message lists the valid ids).
    """
    stamp = _stamp(issue)
    head = head or letterhead()
    context: MonthStatementContext | UnitStatementContext
    if unit is None:
        template = "statements/month.html"
        context = month_context(statement, issue=stamp, standalone=standalone, letterhead=head)
    else:
        template = "statements/unit.html"
        context = unit_context(statement, unit, issue=stamp, standalone=standalone, letterhead=head)
    variables = {f.name: getattr(context, f.name) for f in fields(context)}
    return template_environment().get_template(template).render(**variables)


def render_pdf(
    statement: MonthlyStatement,
    *,
    unit: str | None = None,
    issue: IssueInfo | None = None,
    head: Letterhead | None = None,
) -> bytes:
    """Render a statement as PDF (A4) from its standalone HTML (see :func:`render_html`).

    Raises
    ------
    QingliuError
        When weasyprint or its system libraries (Pango) cannot be loaded; the message says what
        to install.
    KeyError
        An unknown ``unit``.
    """
    html = render_html(statement, unit=unit, issue=issue, standalone=True, head=head)
    try:
        import weasyprint
    except (ImportError, OSError) as exc:
        raise QingliuError(f"{WEASYPRINT_HELP} ({type(exc).__name__}: {exc})") from None
    document: bytes = weasyprint.HTML(string=html).write_pdf()
    return document


# --- XLSX -------------------------------------------------------------------------------------


def _xlsx_number(value: Decimal, *, grouping: bool = False) -> tuple[float | str, str]:
    """A Decimal as an XLSX cell value and number format, exactly or as text.

    A number when it has at most :data:`XLSX_DECIMALS` decimals and survives the round trip
    through float; its number format keeps the decimals it has (with thousands separators when
    ``grouping``). Otherwise the exact text.
    """
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int) or -exponent > XLSX_DECIMALS:
        return format(value, "f"), "@"
    number = float(value)
    if Decimal(repr(number)) != value:
        return format(value, "f"), "@"
    decimals = max(0, -exponent)
    return number, ("#,##0" if grouping else "0") + ("." + "0" * decimals if decimals else "")


def _amount_cell(value: Decimal) -> tuple[float | str, str]:
    """An amount (万元 or 元): trailing zeros dropped (``210.00`` → 210), thousands separators."""
    return _xlsx_number(Decimal(money_text(value)), grouping=True)


def render_xlsx(
    statement: MonthlyStatement, *, unit: str | None = None, issue: IssueInfo | None = None
) -> bytes:
    """Render a statement as an Excel workbook.

    Sheets: ``汇总`` (the 通报 table: unit, section, factor, status, value, standard, multiple;
    then each unit's total and the city's), ``扣缴明细`` (deduction lines and automatic-station
    events), ``免于考核``, ``奖励`` and ``规则与假设``. Each starts with a title row naming the
    month and rule set. Amounts and concentrations are numbers when exactly representable,
    otherwise text; multiples are text.

    Raises
    ------
    KeyError
        An unknown ``unit``.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.worksheet import Worksheet

    units = _units(statement, unit)
    name = statement.section_name
    rules = statement.rule_set
    stamp = _stamp(issue)
    stamp_text = stamp.text if stamp else "草稿（未签发）"
    scope = "全市" if unit is None else units[0].name
    title = f"{month_label(statement.month)}生态补偿金扣缴通报（{scope}）"
    rules_text = f"规则集 {rules.id}：{rules.document}《{rules.title}》"
    bold = Font(bold=True)

    workbook = Workbook()
    workbook.remove(workbook.worksheets[0])  # the default empty sheet

    def sheet(
        sheet_name: str, header: list[str], widths: list[int], subtitle: str = ""
    ) -> Worksheet:
        ws = workbook.create_sheet(sheet_name)
        ws.append([f"{title} · {sheet_name}"])
        ws.cell(row=1, column=1).font = Font(bold=True, size=13)
        ws.append([f"{rules_text}；{stamp_text}" + (f"；{subtitle}" if subtitle else "")])
        ws.append(header)
        for cell in ws[3]:
            cell.font = bold
        for index, width in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(index)].width = width
        ws.freeze_panes = "A4"
        return cast("Worksheet", ws)  # openpyxl's stubs type a new sheet loosely

    def put(ws: Worksheet, values: list[Any]) -> None:
        """Append a row; Decimal values become numbers (or exact text) with their format."""
        row: list[Any] = []
        formats: dict[int, str] = {}
        for index, value in enumerate(values, start=1):
            if isinstance(value, tuple):  # (cell value, number format)
                row.append(value[0])
                formats[index] = value[1]
            elif isinstance(value, Decimal):
                cell_value, formats[index] = _xlsx_number(value)
                row.append(cell_value)
            elif isinstance(value, dt.date):
                row.append(value)
                formats[index] = "yyyy-mm-dd"
            else:
                row.append(value)
        ws.append(row)
        for index, number_format in formats.items():
            ws.cell(row=ws.max_row, column=index).number_format = number_format

    # 汇总: the 通报 table, then the totals
    summary = sheet(
        "汇总",
        ["考核单位", "单位 id", "断面", "断面 id", "因子", "考核情况", "月度值 mg/L",
         "标准 mg/L", "超标倍数"],
        [12, 12, 24, 22, 14, 24, 12, 12, 12],
    )  # fmt: skip
    for u in units:
        if not u.statuses:
            summary.append([u.name, u.unit, "无考核断面" if not u.sections else "—"])
        for s in u.statuses:
            put(
                summary,
                [u.name, u.unit, name(s.section), s.section, factor_name(s.factor), s.text,
                 s.value if s.value is not None else "—",
                 s.standard if s.standard is not None else "—",
                 decimal_text(s.multiple)],
            )  # fmt: skip
    summary.append([])
    summary.append(
        ["考核单位", "单位 id", "扣缴合计（万元）", "扣缴合计（元）", "奖励（万元，另计）"]
    )
    for cell in summary[summary.max_row]:
        cell.font = bold
    for u in units:
        put(
            summary,
            [u.name, u.unit, _amount_cell(u.total_wan), _amount_cell(u.total_yuan),
             _amount_cell(u.reward_wan)],
        )  # fmt: skip
    if unit is None:
        put(
            summary,
            ["全市合计", "", _amount_cell(statement.total_wan), _amount_cell(statement.total_yuan),
             _amount_cell(sum((u.reward_wan for u in units), Decimal(0)))],
        )  # fmt: skip
        for cell in summary[summary.max_row]:
            cell.font = bold

    # 扣缴明细: deduction lines and events
    detail = sheet(
        "扣缴明细",
        ["考核单位", "断面", "类型", "因子", "月度值 mg/L", "标准 mg/L", "入境值 mg/L",
         "计档倍数", "档数", "起始日", "结束日", "天数", "计入日期", "金额（万元）", "金额（元）",
         "依据", "条款", "数据来源", "可疑值个数", "数值说明", "各因子超标日期"],
        [12, 24, 14, 14, 12, 12, 12, 12, 6, 12, 12, 6, 12, 12, 14, 40, 60, 24, 8, 30, 40],
        subtitle="月度值前标 ≥ 者为下限值（含超量程读数）",
    )  # fmt: skip
    for u in units:
        for line in u.lines:
            value: Decimal | str = (
                f"≥{decimal_text(line.value)}" if line.lower_bound else line.value
            )
            put(
                detail,
                [u.name, name(line.section), "月度扣缴", factor_name(line.factor), value,
                 line.standard, line.inflow_value if line.inflow_value is not None else "—",
                 decimal_text(line.multiple), line.tiers, None, None, None, None,
                 _amount_cell(line.amount_wan), _amount_cell(line.amount_wan * WAN), line.basis,
                 line.clause, sources_text(line.sources), line.suspect,
                 marks_text(suspect=line.suspect, lower_bound=line.lower_bound,
                            censored=line.censored), None],
            )  # fmt: skip
        for event in u.events:
            put(
                detail,
                [u.name, name(event.section), "自动站连续超标", factor_names(event.all_factors),
                 None, None, None, None, None, event.start, event.end, event.days,
                 event.charged_on, _amount_cell(event.amount_wan),
                 _amount_cell(event.amount_wan * WAN),
                 f"自动站日均值连续 {event.days} 天超标；"
                 f"{COUNTING_WORDS.get(event.counting, event.counting)}", event.clause,
                 "自动站日均值", event.suspect,
                 marks_text(suspect=event.suspect, lower_bound=event.lower_bound),
                 factor_days_text(event.factor_days)],
            )  # fmt: skip

    exempt = sheet("免于考核", ["考核单位", "断面", "因子", "情形", "说明"], [12, 24, 14, 18, 60])
    for u in units:
        for e in u.exempt:
            exempt.append(
                [u.name, name(e.section), factor_name(e.factor),
                 EXEMPT_WORDS.get(e.status, e.status), e.note]
            )  # fmt: skip

    rewards = sheet(
        "奖励",
        ["考核单位", "断面", "金额（万元）", "金额（元）", "原因", "条款"],
        [12, 24, 12, 14, 30, 60],
        subtitle="奖励单独列示，不与扣缴金额相抵",
    )
    for u in units:
        for r in u.rewards:
            put(
                rewards,
                [u.name, name(r.section), _amount_cell(r.amount_wan),
                 _amount_cell(r.amount_wan * WAN), r.reason, r.clause],
            )  # fmt: skip

    about = sheet("规则与假设", ["项目", "内容"], [22, 100])
    about.append(["规则集 id", rules.id])
    about.append(["文号", rules.document])
    about.append(["标题", rules.title])
    about.append(["签发", stamp_text])
    for text in rules.method:
        about.append(["计算方法", text])
    for text in rules.assumptions:
        about.append(["未经核实参数", assumption_sentence(text)])

    return _xlsx_bytes(workbook, issue.issued_at if issue else None)


def _xlsx_bytes(workbook: Workbook, moment: dt.datetime | None) -> bytes:
    """The workbook's bytes; for an issued version the same bytes on every download.

    openpyxl writes the current time into ``docProps/core.xml`` and as each zip entry's time;
    both are set to ``moment`` (the issue time, UTC) instead. A draft (``moment`` None) is
    stamped with the current time.
    """
    from openpyxl.writer.excel import ExcelWriter

    stamp = (moment or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    stamp = stamp.replace(tzinfo=None, microsecond=0)
    workbook.properties.created = stamp
    workbook.properties.modified = stamp
    written = io.BytesIO()
    with zipfile.ZipFile(written, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(workbook, archive).save()  # unlike Workbook.save, keeps ``modified``
    result = io.BytesIO()
    entry_time = (max(stamp.year, 1980), stamp.month, stamp.day, stamp.hour, stamp.minute,
                  stamp.second)  # fmt: skip
    with (
        zipfile.ZipFile(io.BytesIO(written.getvalue())) as source,
        zipfile.ZipFile(result, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=entry_time)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = info.external_attr
            target.writestr(entry, source.read(info))
    return result.getvalue()


# --- CSV --------------------------------------------------------------------------------------


def _csv_decimal(value: Decimal | None) -> str:
    return "" if value is None else format(value, "f")


def _csv_flag(value: bool) -> str:
    return "true" if value else ""


def render_csv(statement: MonthlyStatement, *, unit: str | None = None) -> str:
    """One row per deduction line and automatic-station event, exact decimals.

    Columns are :data:`CSV_COLUMNS`; ``kind`` is ``deduction`` or ``event``; empty cells where a
    field does not apply. Amounts are in 万元 without separators. The text has no byte-order
    mark; add one (``utf-8-sig``) when the file is meant for Excel.

    Raises
    ------
    KeyError
        An unknown ``unit``.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    name = statement.section_name
    for u in _units(statement, unit):
        for line in u.lines:
            writer.writerow(
                [u.unit, u.name, line.section, name(line.section), "deduction", line.factor,
                 _csv_decimal(line.value), _csv_decimal(line.standard),
                 _csv_decimal(line.inflow_value), _csv_decimal(line.multiple), line.tiers,
                 "", "", "", money_text(line.amount_wan), line.basis, line.clause,
                 "+".join(line.sources), line.suspect, _csv_flag(line.lower_bound),
                 _csv_flag(line.censored), "", ""]
            )  # fmt: skip
        for event in u.events:
            writer.writerow(
                [u.unit, u.name, event.section, name(event.section), "event", event.factor,
                 "", "", "", "", "", event.start.isoformat(), event.end.isoformat(), event.days,
                 money_text(event.amount_wan),
                 f"自动站日均值连续 {event.days} 天超标，{event.charged_on.isoformat()} 计入",
                 event.clause, "auto_daily", event.suspect, _csv_flag(event.lower_bound), "",
                 ";".join(f"{f}:" + ",".join(d.isoformat() for d in days)
                          for f, days in event.factor_days),
                 event.counting]
            )  # fmt: skip
    return buffer.getvalue()
