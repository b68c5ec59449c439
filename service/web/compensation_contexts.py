"""Typed contexts of the compensation pages, and the builders that fill them from a statement.

Each page renders one context dataclass; every field has help text (checked by a test):

- :class:`CompensationMonthContext`: a month's page (city or one unit): the month picker, the
  summary table whose rows name the reason of every deduction (:class:`ReasonItem`: tiers,
  automatic-station events, exemptions, rewards), the outlook block of a month not yet over,
  and the statement itself behind 取值明细;
- :class:`CompensationYearContext`: a year's amounts per unit and month, with the year totals;
- :class:`CompensationEmptyContext`: no month has any data yet.

The builders only format a :class:`~compensation.statement.MonthlyStatement` (exact ``Decimal``
text through :mod:`service.statements.contexts`); they read no database and no clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from compensation.engine import STATUS_WORDS
from compensation.statement import WAN, DeductionLine, EventLine, MonthlyStatement, UnitStatement
from service.statements.unit_details import EXEMPT_WORDS
from service.statements.wording import (
    deduction_text,
    events_text,
    factor_names,
    money_text,
    yuan_text,
)
from service.web.appeal_contexts import AppealRow
from service.web.contexts import CompensationPageContext

__all__ = [
    "CompensationEmptyContext",
    "CompensationMonthContext",
    "CompensationOutlookPageContext",
    "CompensationYearContext",
    "MonthOption",
    "MonthPicker",
    "OutlookBlock",
    "OutlookEventRow",
    "OutlookUnitRow",
    "ReasonItem",
    "SummaryRow",
    "SummaryTable",
    "YearCell",
    "YearRow",
    "month_text",
    "reason_items",
    "summary_table",
    "year_rows",
]


def month_text(month: dt.date) -> str:
    """``2025年10月``."""
    return f"{month.year}年{month.month}月"


# --- outlook (a forecast, never a statement) --------------------------------------------------


@dataclass(frozen=True)
class OutlookEventRow:
    """One section × factor event probability of the outlook block."""

    section_name: str = field(metadata={"help": "断面名称"})
    factor_name: str = field(metadata={"help": "因子中文名"})
    chances: tuple[str, ...] = field(metadata={"help": "各截止日的概率，如 “20日前 62%”"})
    certain: bool = field(metadata={"help": "已知数据中已发生"})


@dataclass(frozen=True)
class OutlookUnitRow:
    """One unit (or the city) in the outlook block."""

    unit: str = field(metadata={"help": "考核单位 id；全市合计为空串"})
    name: str = field(metadata={"help": "考核单位名称"})
    expected_wan: str = field(metadata={"help": "期望金额 [万元]"})
    range_wan: str = field(metadata={"help": "金额区间 [万元]，如 “30–60”"})
    p_due: str = field(metadata={"help": "需扣缴的概率，如 “57%”"})
    events: tuple[OutlookEventRow, ...] = field(metadata={"help": "最可能的连续超标事件"})


@dataclass(frozen=True)
class OutlookBlock:
    """The outlook block of a month page: a forecast, never a statement."""

    label: str = field(metadata={"help": "标注：预测（非正式结算）/ forecast, not a statement"})
    known_until: str = field(metadata={"help": "已知数据截止日（模拟自其次日起）"})
    scenarios: int = field(metadata={"help": "情景数"})
    forecast_text: str = field(metadata={"help": "余下各日的依据：预报（起点、模型）和近期历史"})
    event_text: str = field(metadata={"help": "事件定义，如 “连续 3 天超标事件”"})
    by_days: tuple[str, ...] = field(metadata={"help": "事件概率的截止日"})
    units: tuple[OutlookUnitRow, ...] = field(metadata={"help": "各考核单位"})
    total: OutlookUnitRow | None = field(metadata={"help": "全市合计；单位页为空"})
    series: tuple[str, ...] = field(metadata={"help": "各断面因子余下各日的依据"})
    notes: tuple[str, ...] = field(metadata={"help": "说明"})
    assumptions: tuple[str, ...] = field(metadata={"help": "预测方法的假设"})
    rule_assumptions: tuple[str, ...] = field(metadata={"help": "扣缴规则中未经核实的参数"})
    api_href: str = field(metadata={"help": "同一预测的接口地址（JSON）"})


@dataclass(frozen=True)
class CompensationOutlookPageContext(CompensationPageContext):
    """A month's compensation page with the outlook of a month not yet over."""

    outlook: OutlookBlock | None = field(
        default=None, metadata={"help": "补偿金预测；已结束的月份为空"}
    )
    outlook_href: str | None = field(
        default=None, metadata={"help": "已结束月份页上指向当月预测的链接"}
    )


# --- the month picker -------------------------------------------------------------------------


@dataclass(frozen=True)
class MonthOption:
    """A month with data, as an option of the picker."""

    month: str = field(metadata={"help": "月份 YYYY-MM（表单取值）"})
    label: str = field(metadata={"help": "显示文字，如 2025年10月"})
    href: str = field(metadata={"help": "该月页面地址（单位页保持单位）"})
    current: bool = field(metadata={"help": "是否为所示月份"})


@dataclass(frozen=True)
class MonthPicker:
    """Previous / next month with data, every month with data, and the year views."""

    previous: MonthOption | None = field(metadata={"help": "前一个有数据的月份；无则为空"})
    next: MonthOption | None = field(metadata={"help": "后一个有数据的月份；无则为空"})
    months: tuple[MonthOption, ...] = field(metadata={"help": "有数据的月份（新到旧）"})
    unit: str | None = field(metadata={"help": "表单附带的考核单位 id；全市为空"})
    shown_has_data: bool = field(metadata={"help": "所示月份是否有数据（无则页面提示空草稿）"})
    year_href: str = field(metadata={"help": "所示月份所在年度汇总页地址"})
    year_label: str = field(metadata={"help": "年度汇总链接文字，如 2025年全年"})


# --- the summary table with reasons -------------------------------------------------------------


@dataclass(frozen=True)
class ReasonItem:
    """Why a unit pays (or does not) this month: one line of its summary row."""

    kind: str = field(
        metadata={"help": "类别：tier 月度超标计档、event 自动站连续超标、exempt 免于考核或"
                          "不扣缴、reward 奖励、none 无扣缴"}
    )  # fmt: skip
    text: str = field(metadata={"help": "原因文字（断面、因子、超标倍数与档次、事件日期……）"})
    amount_wan: str = field(metadata={"help": "该项金额 万元；不涉及金额为空串"})


@dataclass(frozen=True)
class SummaryRow:
    """One unit's row of the month's summary table."""

    unit: str = field(metadata={"help": "考核单位 id"})
    name: str = field(metadata={"help": "考核单位名称"})
    href: str = field(metadata={"help": "本单位当月页面地址"})
    sections: tuple[str, ...] = field(metadata={"help": "考核断面名称"})
    reasons: tuple[ReasonItem, ...] = field(
        metadata={"help": "扣缴原因：每一笔扣缴（计档、事件）以及免于考核、奖励，逐条列出"}
    )
    total_wan: str = field(metadata={"help": "扣缴合计 万元"})
    total_yuan: str = field(metadata={"help": "扣缴合计 元（千分位）"})
    total_yuan_exact: str = field(metadata={"help": "扣缴合计 元（无分隔符，精确值）"})
    pays: bool = field(metadata={"help": "本月是否有扣缴"})


@dataclass(frozen=True)
class SummaryTable:
    """The month's summary: every unit shown with its amount and the reasons for it."""

    rows: tuple[SummaryRow, ...] = field(metadata={"help": "各考核单位（名录顺序）"})
    total_wan: str = field(metadata={"help": "所列单位扣缴合计 万元"})
    total_yuan: str = field(metadata={"help": "所列单位扣缴合计 元（千分位）"})
    city: bool = field(metadata={"help": "是否为全市（显示全市合计行）"})


@dataclass(frozen=True)
class CompensationMonthContext(CompensationOutlookPageContext):
    """A month's compensation page: picker, summary with reasons, outlook, statement detail."""

    picker: MonthPicker | None = field(default=None, metadata={"help": "月份选择"})
    summary: SummaryTable | None = field(default=None, metadata={"help": "扣缴汇总（含原因）"})
    unit_links: tuple[tuple[str, str], ...] = field(
        default=(), metadata={"help": "可查看的范围（名称, 地址）：全市与各单位；县用户仅本单位"}
    )
    appeals: tuple[AppealRow, ...] = field(
        default=(), metadata={"help": "本月（本单位）的申诉：未办结与已办结"}
    )
    appeal_href: str | None = field(
        default=None, metadata={"help": "提出申诉的地址；不可申诉（草稿、过期、无权）为空"}
    )


# --- the year view ------------------------------------------------------------------------------


@dataclass(frozen=True)
class YearCell:
    """One unit's (or the city's) amount in one month of the year view."""

    month: str = field(metadata={"help": "月份 YYYY-MM"})
    amount_wan: str = field(metadata={"help": "扣缴 万元；无数据为 —"})
    amount_yuan: str = field(metadata={"help": "扣缴 元（无分隔符，精确值）；无数据为空串"})
    href: str | None = field(metadata={"help": "该月页面地址；无数据的月份为空"})
    state: str = field(metadata={"help": "issued 已签发、draft 草稿（按当前数据）、none 无数据"})
    title: str = field(metadata={"help": "悬停提示：月份、金额与签发状态"})


@dataclass(frozen=True)
class YearRow:
    """One unit (or the city total) across the months of a year."""

    unit: str = field(metadata={"help": "考核单位 id；全市合计为空串"})
    name: str = field(metadata={"help": "考核单位名称或 全市合计"})
    cells: tuple[YearCell, ...] = field(metadata={"help": "1–12 月"})
    total_wan: str = field(metadata={"help": "全年扣缴 万元"})
    total_yuan: str = field(metadata={"help": "全年扣缴 元（千分位）"})
    total_yuan_exact: str = field(metadata={"help": "全年扣缴 元（无分隔符，精确值）"})
    months_paying: int = field(metadata={"help": "有扣缴的月份数"})


@dataclass(frozen=True)
class CompensationYearContext:
    """A year's compensation: per unit and month the amount, and the year totals."""

    title: str = field(metadata={"help": "页面标题"})
    year: int = field(metadata={"help": "年份"})
    unit: str | None = field(metadata={"help": "只看一个考核单位时其 id；全市为空"})
    unit_name: str | None = field(metadata={"help": "该考核单位名称"})
    month_headers: tuple[str, ...] = field(metadata={"help": "月份列标题（1月…12月）"})
    rows: tuple[YearRow, ...] = field(metadata={"help": "各考核单位"})
    total: YearRow | None = field(metadata={"help": "全市合计行；只看一个单位时为空"})
    years: tuple[tuple[str, str, bool], ...] = field(
        metadata={"help": "有数据的年份（YYYY, 显示文字, 是否为所示年份），新到旧"}
    )
    previous_href: str | None = field(metadata={"help": "前一个有数据的年份页；无则为空"})
    next_href: str | None = field(metadata={"help": "后一个有数据的年份页；无则为空"})
    drafts: tuple[str, ...] = field(
        metadata={"help": "未签发、按当前数据计算的月份，如 2025年12月"}
    )
    has_data: bool = field(metadata={"help": "该年是否有任何有数据的月份"})


@dataclass(frozen=True)
class CompensationEmptyContext:
    """The compensation menu when no month has data yet."""

    title: str = field(metadata={"help": "页面标题"})
    message: str = field(metadata={"help": "说明：尚无数据"})
    hints: tuple[str, ...] = field(metadata={"help": "如何获得数据（导入、接收、演示）"})


# --- builders -----------------------------------------------------------------------------------


def _tier_reason(statement: MonthlyStatement, line: DeductionLine) -> ReasonItem:
    return ReasonItem("tier", deduction_text(statement, line), money_text(line.amount_wan))


def _event_reasons(statement: MonthlyStatement, events: Sequence[EventLine]) -> list[ReasonItem]:
    """Events grouped per section and factors: "氨氮连续3日超标 1 次（10-03至10-05）"."""
    groups: dict[tuple[str, str], list[EventLine]] = {}
    for event in events:
        groups.setdefault((event.section, factor_names(event.all_factors)), []).append(event)
    return [
        ReasonItem("event", events_text(statement, runs),
                   money_text(sum((r.amount_wan for r in runs), Decimal(0))))
        for runs in groups.values()
    ]  # fmt: skip


def _exempt_reasons(statement: MonthlyStatement, unit: UnitStatement) -> list[ReasonItem]:
    """Exemptions grouped per section and situation: "… 断流（化学需氧量、氨氮）：说明"."""
    groups: dict[tuple[str, str, str], list[str]] = {}
    for e in unit.exempt:
        groups.setdefault((e.section, e.status, e.note), []).append(e.factor)
    items = []
    for (section, status, note), factors in groups.items():
        word = EXEMPT_WORDS.get(status, status)
        head = "免于考核" if status in STATUS_WORDS else "不扣缴"
        detail = note if note.startswith(word) else f"{word}：{note}" if note else word
        text = f"{head}：{statement.section_name(section)} {factor_names(factors)}（{detail}）"
        items.append(ReasonItem("exempt", text, ""))
    return items


def reason_items(statement: MonthlyStatement, unit: UnitStatement) -> tuple[ReasonItem, ...]:
    """Every reason of a unit's month, in the order tiers, events, exemptions, rewards.

    A unit that pays always has at least one tier or event item (its total is their sum); a
    unit that pays nothing gets a ``none`` item saying so (达标 or 未扣缴 with its exemptions).
    """
    items = [_tier_reason(statement, line) for line in unit.lines]
    items += _event_reasons(statement, unit.events)
    exempt = _exempt_reasons(statement, unit)
    if not items:
        statuses = {s.status for s in unit.statuses}
        if not unit.sections:
            text = "无考核断面"
        elif statuses and statuses <= {"meets", "no_standard"} and not exempt:
            text = "各考核因子月度值达标，无自动站连续超标事件，不扣缴"
        elif statuses <= {"no_data", "no_standard"} and not exempt:
            text = "无监测数据，不扣缴"
        elif statuses <= {"no_data", "insufficient_data", "no_standard"} and not exempt:
            text = "监测数据不足，未能计算月度值，不扣缴"
        else:
            text = "本月不扣缴（原因见下列各条）" if exempt else "本月不扣缴"
        items.append(ReasonItem("none", text, ""))
    items += exempt
    items += [
        ReasonItem(
            "reward",
            f"{statement.section_name(r.section)} 奖励：{r.reason}（另行拨付，不与扣缴相抵）",
            money_text(r.amount_wan),
        )
        for r in unit.rewards
    ]
    return tuple(items)


def summary_table(
    statement: MonthlyStatement, *, unit: str | None, href: Callable[[str], str]
) -> SummaryTable:
    """The summary rows of every unit (or of one), each with its reasons.

    Parameters
    ----------
    statement : MonthlyStatement
        The month's statement as shown (issued version or draft).
    unit : str, optional
        Only this unit; ``KeyError`` naming the valid ids when unknown.
    href : callable
        A unit id → the address of its month page.
    """
    units = statement.units if unit is None else (statement.unit(unit),)
    rows = tuple(
        SummaryRow(
            unit=u.unit,
            name=u.name,
            href=href(u.unit),
            sections=tuple(statement.section_name(s) for s in u.sections),
            reasons=reason_items(statement, u),
            total_wan=money_text(u.total_wan),
            total_yuan=yuan_text(u.total_yuan),
            total_yuan_exact=money_text(u.total_yuan),
            pays=u.total_wan > 0,
        )
        for u in units
    )
    total = sum((u.total_wan for u in units), Decimal(0))
    return SummaryTable(rows, money_text(total), yuan_text(total * WAN), unit is None)


def _cell(month: dt.date, amount: Decimal | None, state: str, href: str | None) -> YearCell:
    if amount is None:
        return YearCell(f"{month:%Y-%m}", "—", "", None, "none", f"{month_text(month)} 无数据")
    word = "已签发" if state == "issued" else "草稿，按当前数据计算"
    return YearCell(
        month=f"{month:%Y-%m}",
        amount_wan=money_text(amount),
        amount_yuan=money_text(amount * WAN),
        href=href,
        state=state,
        title=f"{month_text(month)} 扣缴 {money_text(amount)} 万元（{yuan_text(amount * WAN)} 元，"
        f"{word}）",
    )


def _year_row(
    unit: str, name: str, months: Sequence[dt.date], amounts: Sequence[Decimal | None],
    states: Sequence[str], hrefs: Sequence[str | None],
) -> YearRow:  # fmt: skip
    total = sum((a for a in amounts if a is not None), Decimal(0))
    return YearRow(
        unit=unit,
        name=name,
        cells=tuple(
            _cell(m, a, s, h) for m, a, s, h in zip(months, amounts, states, hrefs, strict=True)
        ),
        total_wan=money_text(total),
        total_yuan=yuan_text(total * WAN),
        total_yuan_exact=money_text(total * WAN),
        months_paying=sum(1 for a in amounts if a is not None and a > 0),
    )


def year_rows(
    year: int,
    statements: dict[dt.date, tuple[MonthlyStatement, bool]],
    *,
    units: Sequence[tuple[str, str]],
    href: Callable[[dt.date, str | None], str],
) -> tuple[tuple[YearRow, ...], YearRow]:
    """Per unit the amount of each month of ``year``, and the city's row.

    Parameters
    ----------
    year : int
    statements : dict
        Month (first day) → (its statement as shown, whether it is an issued version); months
        without data are absent and shown as —.
    units : sequence of (id, name)
        The units to show, in order.
    href : callable
        (month, unit id or None for the city) → the address of that month's page.

    Returns
    -------
    rows, total
        One row per unit, and the row of the sums over ``units``; every sum is exact.
    """
    months = [dt.date(year, m, 1) for m in range(1, 13)]
    states = ["none" if m not in statements else "issued" if statements[m][1] else "draft"
              for m in months]  # fmt: skip
    rows = []
    for unit_id, name in units:
        amounts: list[Decimal | None] = []
        for m in months:
            found = statements.get(m)
            if found is None:
                amounts.append(None)
                continue
            by_id = {u.unit: u for u in found[0].units}
            amounts.append(by_id[unit_id].total_wan if unit_id in by_id else Decimal(0))
        hrefs = [href(m, unit_id) if m in statements else None for m in months]
        rows.append(_year_row(unit_id, name, months, amounts, states, hrefs))
    ids = {unit_id for unit_id, _ in units}
    city: list[Decimal | None] = [
        None
        if m not in statements
        else sum((u.total_wan for u in statements[m][0].units if u.unit in ids), Decimal(0))
        for m in months
    ]
    city_hrefs = [href(m, None) if m in statements else None for m in months]
    return tuple(rows), _year_row("", "全市合计", months, city, states, city_hrefs)
