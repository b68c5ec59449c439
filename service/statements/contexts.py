"""Typed contexts of the statement templates, and the builders that fill them.

Each statement template renders exactly one context dataclass (``month.html`` →
:class:`MonthStatementContext`, ``unit.html`` → :class:`UnitStatementContext`); every field has
help text, checked by a test. Every number a template shows is already text here, formatted
exactly from the statement's ``Decimal`` values (never through ``float``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from compensation.statement import (
    MonthlyStatement,
)
from service.statements.letterhead import Letterhead
from service.statements.unit_details import (
    FactorColumn,
    UnitDetail,
    factor_columns,
    once_per_clause,
    sum_amounts,
    unit_detail,
)
from service.statements.wording import (
    assumption_sentence,
    date_label,
    money_text,
    month_label,
    yuan_text,
)
from service.time import BEIJING

__all__ = [
    "DocumentHead",
    "IssueStamp",
    "MonthStatementContext",
    "RuleSetBlock",
    "UnitStatementContext",
    "document_head",
    "issue_stamp",
    "month_context",
    "unit_context",
]

DIGEST_LENGTH = 12
"""Characters of the content hash shown on an issued statement."""


# --- dataclasses ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleSetBlock:
    """The rule set a statement was computed with."""

    id: str = field(metadata={"help": "规则集 id（版本）"})
    document: str = field(metadata={"help": "文号，如 衡政办字〔2021〕3号"})
    title: str = field(metadata={"help": "文件标题"})
    assumptions: tuple[str, ...] = field(
        metadata={"help": "未经核实的参数（[推定] 与 [假设]），每条一句，以标记开头"}
    )
    method: tuple[str, ...] = field(
        default=(),
        metadata={"help": "计算方法：各水体考核因子、月度取值、自动站事件计次方式与入境规则"},
    )


@dataclass(frozen=True)
class IssueStamp:
    """The stamp of an issued statement."""

    version: int = field(metadata={"help": "签发版本号"})
    digest: str = field(metadata={"help": "内容摘要（SHA-256 前 12 位）"})
    issued_at: dt.datetime = field(metadata={"help": "签发时间（北京时间）"})
    text: str = field(metadata={"help": "印在通报上的签发说明"})
    short: str = field(metadata={"help": "页眉上的简短签发标记"})


@dataclass(frozen=True)
class DocumentHead:
    """The issuer's part of a statement: office, number, addressees, date."""

    office: str = field(metadata={"help": "发文机关"})
    office_assumed: bool = field(metadata={"help": "发文机关为缺省值（假设，标 [A]）"})
    number: str = field(metadata={"help": "文号；草稿为空"})
    number_assumed: bool = field(metadata={"help": "文号格式为缺省值（假设，标 [A]）"})
    addressees: str = field(metadata={"help": "主送机关"})
    addressees_assumed: bool = field(metadata={"help": "主送机关为缺省值（假设，标 [A]）"})
    date: str = field(metadata={"help": "成文日期（签发日，北京时间），如 2025年11月3日；草稿为空"})
    title: str = field(metadata={"help": "公文标题（版头之下），如 2025年10月生态补偿金扣缴通报"})


@dataclass(frozen=True)
class MonthStatementContext:
    """The city's monthly statement: the 通报 table of every unit, then each unit's detail."""

    title: str = field(metadata={"help": "页面标题"})
    standalone: bool = field(
        metadata={"help": "True：独立文档（打印/PDF，A4）；False：嵌入站点页面的 HTML 片段"}
    )
    month: str = field(metadata={"help": "月份，如 2025年3月"})
    rule_set: RuleSetBlock = field(metadata={"help": "规则集"})
    issue: IssueStamp | None = field(metadata={"help": "签发信息；None 为草稿"})
    factors: tuple[FactorColumn, ...] = field(metadata={"help": "因子列"})
    units: tuple[UnitDetail, ...] = field(metadata={"help": "各考核单位"})
    total_wan: str = field(metadata={"help": "全市扣缴合计 万元"})
    total_yuan: str = field(metadata={"help": "全市扣缴合计 元（千分位）"})
    reward_wan: str = field(metadata={"help": "全市奖励合计 万元（另计）"})
    head: DocumentHead | None = field(
        default=None, metadata={"help": "发文机关、文号、主送机关与日期；None 时不印版头"}
    )
    details: tuple[UnitDetail, ...] = field(
        default=(), metadata={"help": "有需说明内容的考核单位（只为这些单位列出明细）"}
    )
    any_assumed: bool = field(default=False, metadata={"help": "有名称未经核实（标 [A]）的断面"})


@dataclass(frozen=True)
class UnitStatementContext:
    """One unit's monthly statement."""

    title: str = field(metadata={"help": "页面标题"})
    standalone: bool = field(
        metadata={"help": "True：独立文档（打印/PDF，A4）；False：嵌入站点页面的 HTML 片段"}
    )
    month: str = field(metadata={"help": "月份，如 2025年3月"})
    rule_set: RuleSetBlock = field(metadata={"help": "规则集"})
    issue: IssueStamp | None = field(metadata={"help": "签发信息；None 为草稿"})
    factors: tuple[FactorColumn, ...] = field(metadata={"help": "因子列"})
    unit: UnitDetail = field(metadata={"help": "考核单位"})
    head: DocumentHead | None = field(
        default=None, metadata={"help": "发文机关、文号、主送机关与日期；None 时不印版头"}
    )
    any_assumed: bool = field(default=False, metadata={"help": "有名称未经核实（标 [A]）的断面"})


# --- builders ---------------------------------------------------------------------------------


def issue_stamp(*, version: int, content_hash: str, issued_at: dt.datetime) -> IssueStamp:
    """The stamp of an issued statement, its time in Beijing.

    A naive ``issued_at`` is taken as UTC (the database stores UTC; SQLite drops the zone).
    """
    if issued_at.tzinfo is None:
        issued_at = issued_at.replace(tzinfo=dt.UTC)
    local = issued_at.astimezone(BEIJING)
    digest = content_hash.removeprefix("sha256:")[:DIGEST_LENGTH]
    text = (
        f"版本 {version}，内容摘要（SHA-256 前 {DIGEST_LENGTH} 位）{digest}，"
        f"签发时间 {local:%Y-%m-%d %H:%M}（北京时间）"
    )
    short = f"版本 {version} · {digest}"
    return IssueStamp(version=version, digest=digest, issued_at=local, text=text, short=short)


def _rule_set_block(statement: MonthlyStatement) -> RuleSetBlock:
    rules = statement.rule_set
    return RuleSetBlock(
        rules.id, rules.document, rules.title,
        tuple(assumption_sentence(a) for a in rules.assumptions), rules.method,
    )  # fmt: skip


def document_head(
    statement: MonthlyStatement,
    *,
    letterhead: Letterhead,
    issue: IssueStamp | None,
    scope: str = "",
) -> DocumentHead:
    """The head of a statement: office, number (issued only), addressees, date (issued only)."""
    label = month_label(statement.month)
    return DocumentHead(
        office=letterhead.office,
        office_assumed=letterhead.office_assumed,
        number="" if issue is None else letterhead.number(statement.month),
        number_assumed=letterhead.number_assumed,
        addressees=letterhead.addressees,
        addressees_assumed=letterhead.addressees_assumed,
        date="" if issue is None else date_label(issue.issued_at.date()),
        title=f"{scope}{label}生态补偿金扣缴通报",
    )


def _unconfirmed(statement: MonthlyStatement, letterhead: Letterhead) -> frozenset[str]:
    return letterhead.unconfirmed & {section for section, _ in statement.section_names}


def month_context(
    statement: MonthlyStatement,
    *,
    issue: IssueStamp | None,
    standalone: bool = True,
    letterhead: Letterhead | None = None,
) -> MonthStatementContext:
    """The context of ``statements/month.html``: every unit of the statement.

    ``letterhead`` (default: the default letterhead, no unconfirmed names) gives the issuer,
    number, addressees and the sections marked [A].
    """
    head = letterhead or Letterhead()
    unconfirmed = _unconfirmed(statement, head)
    factors = factor_columns(statement)
    label = month_label(statement.month)
    units = tuple(
        unit_detail(statement, u, factors=factors, unconfirmed=unconfirmed) for u in statement.units
    )
    return MonthStatementContext(
        title=f"{label}生态补偿金扣缴通报",
        standalone=standalone,
        month=label,
        rule_set=_rule_set_block(statement),
        issue=issue,
        factors=factors,
        units=units,
        total_wan=money_text(statement.total_wan),
        total_yuan=yuan_text(statement.total_yuan),
        reward_wan=money_text(sum_amounts(u.reward_wan for u in statement.units)),
        head=document_head(statement, letterhead=head, issue=issue),
        details=once_per_clause(u for u in units if u.remarkable),
        any_assumed=bool(unconfirmed),
    )


def unit_context(
    statement: MonthlyStatement,
    unit_id: str,
    *,
    issue: IssueStamp | None,
    standalone: bool = True,
    letterhead: Letterhead | None = None,
) -> UnitStatementContext:
    """The context of ``statements/unit.html``; ``KeyError`` naming the valid ids if unknown."""
    unit = statement.unit(unit_id)
    head = letterhead or Letterhead()
    unconfirmed = _unconfirmed(statement, head) & set(unit.sections)
    factors = factor_columns(statement)
    label = month_label(statement.month)
    return UnitStatementContext(
        title=f"{unit.name}{label}生态补偿金扣缴通报",
        standalone=standalone,
        month=label,
        rule_set=_rule_set_block(statement),
        issue=issue,
        factors=factors,
        unit=once_per_clause(
            [unit_detail(statement, unit, factors=factors, unconfirmed=unconfirmed)]
        )[0],
        head=document_head(statement, letterhead=head, issue=issue, scope=unit.name),
        any_assumed=bool(unconfirmed),
    )
