"""``GET /api/compensation/outlook``: a month's compensation outlook, a forecast, not a statement.

Registered before :mod:`service.api.routes.compensation_api`, whose ``/{month}`` would otherwise
take ``outlook`` for a month.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from compensation.outlook import LABEL, AmountOutlook, Outlook, OutlookBasis, UnitOutlook
from compensation.rules import FACTOR_NAMES
from service.api.deps import EngineDep, RegistryDep, request_month
from service.errors import NotFoundError
from service.outlook import app_outlook_cache
from service.time import BEIJING

__all__ = ["OutlookRecord", "outlook_record", "router"]

router = APIRouter(prefix="/api/compensation", tags=["compensation"])


class AmountShare(BaseModel):
    """One amount reached by scenarios and its share."""

    amount_yuan: Decimal = Field(description="金额 [元]")
    probability: float = Field(description="情景占比 0–1")


class AmountRecord(BaseModel):
    """A month's amount over the scenarios."""

    expected_yuan: Decimal = Field(description="期望金额（情景平均）[元]")
    expected_wan: Decimal = Field(description="期望金额 [万元]")
    low_yuan: Decimal = Field(description="区间下限（第 10 百分位，按档取整）[元]")
    high_yuan: Decimal = Field(description="区间上限（第 90 百分位，按档取整，含期望值）[元]")
    low_wan: Decimal = Field(description="区间下限 [万元]")
    high_wan: Decimal = Field(description="区间上限 [万元]")
    p_due: float = Field(description="需扣缴（金额 > 0）的概率 0–1")
    distribution: list[AmountShare] = Field(description="各金额及其概率，金额升序")


class EventChanceRecord(BaseModel):
    """P(an automatic-station event involving a section's factor is charged by a day)."""

    section: str
    section_name: str
    factor: str
    factor_name: str
    by: dt.date = Field(description="截止日（含）")
    probability: float = Field(description="概率 0–1")
    certain: bool = Field(description="已知数据中已发生")


class UnitOutlookRecord(BaseModel):
    """One assessed unit's outlook."""

    unit: str
    name: str
    amount: AmountRecord
    events: list[EventChanceRecord] = Field(
        description="各断面 × 因子的事件概率，按截止日、概率从高到低"
    )


class SeriesBasisRecord(BaseModel):
    """What one section and factor's days rest on."""

    section: str
    section_name: str
    factor: str
    known_days: int = Field(description="本月已知自动站日均值天数")
    forecast_days: int = Field(description="取自预报的天数")
    observed_days: int = Field(description="仅取自当日已测 4 小时时段的天数（今日）")
    history_days: int = Field(description="取自历史模型的天数")
    missing_days: int = Field(description="未模拟的天数（无预报、历史不足）")
    model: str = Field(description="历史模型（拟合结果）")


class OutlookBasisRecord(BaseModel):
    """What the outlook rests on."""

    scenarios: int
    seed: int
    simulate_from: dt.date = Field(description="自此日起模拟；此前为已知数据")
    history_model: str
    history_days: int
    forecast_issued_at: dt.datetime | None = Field(description="所用最新预报的起点；无则为空")
    forecast_models: list[str]
    series: list[SeriesBasisRecord]
    assumptions: list[str] = Field(description="预测方法的假设，每条以 [假设] 开头")
    notes: list[str]


class OutlookRecord(BaseModel):
    """A month's compensation outlook: a forecast (预测), never a statement."""

    kind: Literal["forecast"] = Field(
        default="forecast", description="恒为 forecast：预测，非正式结算"
    )
    label: str = Field(default=LABEL, description="显示用标注")
    month: str = Field(description="YYYY-MM")
    computed_at: dt.datetime
    rule_set: str
    document: str
    event_days: int | None = Field(description="构成一次事件的连续超标天数；规则无事件时为空")
    by_days: list[dt.date]
    total: AmountRecord | None = Field(description="全市合计；按单位查询时为空")
    units: list[UnitOutlookRecord]
    basis: OutlookBasisRecord
    rule_assumptions: list[str] = Field(description="扣缴规则与有效性规则中未经核实的参数")


def _amount(amount: AmountOutlook) -> AmountRecord:
    return AmountRecord(
        expected_yuan=amount.expected_yuan, expected_wan=amount.expected_wan,
        low_yuan=amount.low_yuan, high_yuan=amount.high_yuan,
        low_wan=amount.low_wan, high_wan=amount.high_wan, p_due=amount.p_due,
        distribution=[AmountShare(amount_yuan=a, probability=p) for a, p in amount.distribution],
    )  # fmt: skip


def _unit(outlook: Outlook, unit: UnitOutlook) -> UnitOutlookRecord:
    events = sorted(unit.events, key=lambda e: (e.by, -e.probability, e.section, e.factor))
    return UnitOutlookRecord(
        unit=unit.unit, name=unit.name, amount=_amount(unit.amount),
        events=[
            EventChanceRecord(
                section=e.section, section_name=outlook.section_name(e.section), factor=e.factor,
                factor_name=FACTOR_NAMES.get(e.factor, e.factor), by=e.by,
                probability=e.probability, certain=e.certain,
            )
            for e in events
        ],
    )  # fmt: skip


def _basis(outlook: Outlook, basis: OutlookBasis) -> OutlookBasisRecord:
    return OutlookBasisRecord(
        scenarios=basis.scenarios, seed=basis.seed, simulate_from=basis.simulate_from,
        history_model=basis.history_model, history_days=basis.history_days,
        forecast_issued_at=basis.forecast_issued_at, forecast_models=list(basis.forecast_models),
        series=[
            SeriesBasisRecord(
                section=s.section, section_name=outlook.section_name(s.section), factor=s.factor,
                known_days=s.known_days, forecast_days=s.forecast_days,
                observed_days=s.observed_days,
                history_days=s.history_days, missing_days=s.missing_days, model=s.model,
            )
            for s in basis.series
        ],
        assumptions=list(basis.assumptions), notes=list(basis.notes),
    )  # fmt: skip


def outlook_record(
    outlook: Outlook, *, computed_at: dt.datetime, unit: str | None = None
) -> OutlookRecord:
    """The API record of an outlook, of every unit or of one (then without the city total)."""
    units = [u for u in outlook.units if unit is None or u.unit == unit]
    return OutlookRecord(
        month=f"{outlook.month:%Y-%m}", computed_at=computed_at, rule_set=outlook.rule_set,
        document=outlook.document, event_days=outlook.event_days, by_days=list(outlook.by_days),
        total=_amount(outlook.total) if unit is None else None,
        units=[_unit(outlook, u) for u in units], basis=_basis(outlook, outlook.basis),
        rule_assumptions=list(outlook.rule_assumptions),
    )  # fmt: skip


@router.get(
    "/outlook",
    response_model=OutlookRecord,
    summary="补偿金预测（非正式结算）/ compensation outlook, a forecast",
)
def get_outlook(
    request: Request,
    engine: EngineDep,
    registry: RegistryDep,
    month: Annotated[str | None, Query(description="YYYY-MM，当月或以后；缺省为当月")] = None,
    unit: Annotated[str | None, Query(description="考核单位 id；缺省为全市")] = None,
) -> OutlookRecord:
    """Each unit's expected compensation for the month with a range, P(due) and the
    probabilities of automatic-station events, from the month to date, the newest forecasts and
    recent history — a forecast (预测), not a statement."""
    now = dt.datetime.now(dt.UTC)
    first = request_month(month) if month else now.astimezone(BEIJING).date().replace(day=1)
    if unit is not None:
        try:
            registry.unit(unit)
        except KeyError:
            raise NotFoundError(f"未知考核单位 / unknown unit {unit!r}") from None
    cache = app_outlook_cache(request.app.state)
    outlook = cache.get(engine=engine, registry=registry, month=first, now=now)
    return outlook_record(outlook, computed_at=cache.computed_at(outlook) or now, unit=unit)
