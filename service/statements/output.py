"""One entry point for every statement format: JSON, CSV, XLSX, HTML, PDF."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from compensation.statement import MonthlyStatement
from service.statements.codec import statement_json
from service.statements.issue import IssueRecord
from service.statements.letterhead import Letterhead

__all__ = ["MEDIA_TYPES", "StatementFormat", "render_statement", "statement_document"]


class StatementFormat(StrEnum):
    """Formats a statement can be rendered to."""

    json = "json"
    csv = "csv"
    xlsx = "xlsx"
    html = "html"
    pdf = "pdf"


MEDIA_TYPES = {
    StatementFormat.json: "application/json",
    StatementFormat.csv: "text/csv; charset=utf-8",
    StatementFormat.xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    StatementFormat.html: "text/html; charset=utf-8",
    StatementFormat.pdf: "application/pdf",
}


def statement_document(
    statement: MonthlyStatement, *, unit: str | None = None, issue: IssueRecord | None = None
) -> dict[str, Any]:
    """The JSON document: the statement data and whether (and as what) it was issued."""
    document = statement_json(statement, unit=unit)
    document["issue"] = (
        None
        if issue is None
        else {
            "version": issue.version,
            "content_hash": issue.content_hash,
            "issued_at": issue.issued_at.isoformat(),
        }
    )
    return document


def render_statement(
    statement: MonthlyStatement,
    *,
    fmt: StatementFormat,
    unit: str | None = None,
    issue: IssueRecord | None = None,
    head: Letterhead | None = None,
) -> bytes:
    """Render a statement (or one unit of it) to bytes in ``fmt``; ``head`` is the issuing
    office's letterhead (default: :func:`~service.statements.letterhead.letterhead`)."""
    if unit is not None:
        statement.unit(unit)  # KeyError naming the valid units
    if fmt is StatementFormat.json:
        text = json.dumps(statement_document(statement, unit=unit, issue=issue),
                          ensure_ascii=False, indent=2)  # fmt: skip
        return (text + "\n").encode("utf-8")
    from service.statements import render

    stamp = (
        None
        if issue is None
        else render.IssueInfo(issue.version, issue.content_hash, issue.issued_at)
    )
    if fmt is StatementFormat.csv:
        return render.render_csv(statement, unit=unit).encode("utf-8")
    if fmt is StatementFormat.html:
        return render.render_html(statement, unit=unit, issue=stamp, head=head).encode("utf-8")
    if fmt is StatementFormat.xlsx:
        return render.render_xlsx(statement, unit=unit, issue=stamp)
    return render.render_pdf(statement, unit=unit, issue=stamp, head=head)
