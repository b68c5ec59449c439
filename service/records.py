"""Typed classification records: a section's day, month and year, the lake, the city's month.

The jobs write these records and every reader (pages, bulletins, the API) reads them through
attributes; they are stored in JSON columns (``daily_result.record``, ``monthly_result.record``,
``annual_result.record``, ``monthly_summary.summary``, ``daily_result.provenance``).

One codec: :func:`encode` writes a record as JSON-ready data (the keys the API returns), and the
model's ``model_validate`` (or :func:`decode_month` for ``monthly_result``, which holds sections
and the lake) reads it back. Readers ignore keys they do not know, so rows written by an older
version stay readable; keys a record lacks take their field's default.

::

    Classification                 GB 3838 result of one row (class, indicators, multiples …)
    ├── PeriodRecord               + the period values and what they rest on
    │   ├── DayRecord              a section's day       (daily_result.record)
    │   ├── MonthRecord            a section's month     (monthly_result.record)
    │   └── YearRecord             a section's year      (annual_result.record)
    └── LakeRecord                 衡水湖 as a whole, a month (monthly_result.record, lake:…)
    Provenance                     what a day rests on   (daily_result.provenance)
    MonthSummary                   the city's month      (monthly_summary.summary)
    IssuedForecast                 a parameter's newest forecast (from the forecast tables)
    ├── ForecastThreshold          its target-class limit
    └── ForecastStep               one horizon
    SkillEntry                     a candidate's verified record at one horizon
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    JsonValue,
    Tag,
    TypeAdapter,
)

from sections.classes import WaterClass

__all__ = [
    "LAKE_PREFIX",
    "ClassChange",
    "Classification",
    "DayRecord",
    "ForecastStep",
    "ForecastThreshold",
    "IssuedForecast",
    "LakeRecord",
    "LakeSummary",
    "MonthEntry",
    "MonthRecord",
    "MonthSummary",
    "PeriodRecord",
    "Provenance",
    "SkillEntry",
    "Trend",
    "YearRecord",
    "decode_month",
    "encode",
]

LAKE_PREFIX = "lake:"
"""Prefix of the section id under which a lake as a whole is stored (``lake:衡水湖``)."""


_CLASS = AliasChoices("class", "klass")
"""``class`` (a Python keyword) is the JSON key of the ``klass`` fields."""


class _Record(BaseModel):
    """Frozen, read by name or by its JSON key (``class``), unknown keys ignored on reading."""

    model_config = ConfigDict(
        frozen=True, extra="ignore", validate_by_name=True, validate_by_alias=True,
        serialize_by_alias=True,
    )  # fmt: skip


def encode(record: _Record) -> dict[str, JsonValue]:
    """A record as JSON-ready data: the form stored in the JSON columns and returned by the API."""
    return record.model_dump(mode="json", by_alias=True)


class Classification(_Record):
    """The GB 3838-2002 classification of one row of period values."""

    class_number: int | None = Field(
        default=None, ge=1, le=6, description="水质类别 1–6（6 = 劣Ⅴ）；数据不足为空"
    )
    klass: str | None = Field(
        default=None,
        validation_alias=_CLASS,
        serialization_alias="class",
        description="类别记号 Ⅰ…劣Ⅴ",
    )
    label: str | None = Field(default=None, description="水质状况：优、良好、轻度污染……")
    indicators: tuple[str, ...] = Field(default=(), description="参与定类的指标键")
    indicator_classes: dict[str, int] = Field(default_factory=dict, description="各指标的类别")
    exceedance_vs_iii: dict[str, float] = Field(
        default_factory=dict, description="超过Ⅲ类标准的倍数（仅超标指标）"
    )
    exceedance_vs_target: dict[str, float] = Field(
        default_factory=dict, description="超过目标类别标准的倍数（仅超标指标）"
    )
    main_pollutants: tuple[str, ...] = Field(
        default=(), description="主要污染指标（劣于Ⅲ类时，按超标倍数排序）"
    )
    tn_class_number: int | None = Field(
        default=None, description="湖库：总氮单独评价的类别；河流为空"
    )
    tn_exceedance_vs_iii: float | None = Field(
        default=None, description="湖库：总氮超过Ⅲ类标准的倍数；河流为空"
    )
    tli: float | None = Field(default=None, description="湖库：综合营养状态指数 TLI(Σ)")
    trophic_state: str | None = Field(default=None, description="湖库：营养状态（贫营养……）")

    @property
    def water_class(self) -> WaterClass | None:
        """The class as a :class:`~sections.classes.WaterClass`; None when not classified."""
        return None if self.class_number is None else WaterClass(self.class_number)


class PeriodRecord(Classification):
    """A section's classification over a period, with its values and what they rest on."""

    section: str = Field(description="断面 id（年度评价中湖体为 lake:名称）")
    values: dict[str, float | None] = Field(
        default_factory=dict, description="时段均值 mg/L（pH 无量纲），6 位有效数字"
    )
    insufficient: tuple[str, ...] = Field(default=(), description="有效数据不足的指标")
    lower_bound: tuple[str, ...] = Field(
        default=(), description="含超测上限读数的指标：均值为下限（≥）"
    )
    target_class_number: int | None = Field(default=None, description="目标类别 1–6")
    meets_target: bool | None = Field(default=None, description="是否达到目标类别；无类别为空")


class DayRecord(PeriodRecord):
    """A section's classification for one day (``daily_result.record``)."""

    day: dt.date = Field(description="日期（北京时间）")
    suspect: dict[str, int] = Field(default_factory=dict, description="计入均值的可疑值个数")
    completeness: float = Field(
        default=0.0, ge=0, le=1, description="自动站五项考核指标中有有效日均值的比例 0–1"
    )


class MonthRecord(PeriodRecord):
    """A section's classification for one month (``monthly_result.record``)."""

    month: str = Field(pattern=r"^\d{4}-\d{2}$", description="月份 YYYY-MM")
    suspect: dict[str, int] = Field(default_factory=dict, description="计入均值的可疑值个数")
    sources: dict[str, str] = Field(
        default_factory=dict, description="各指标月均值的来源：automatic 自动站 / manual 手工"
    )
    censored: tuple[str, ...] = Field(default=(), description="全部低于检出限（<DL）的指标")
    status: str | None = Field(
        default=None, description="不评价原因：no_flow 断流 / dry 无水 / frozen 结冰 / excluded"
    )
    status_text: str | None = Field(default=None, description="不评价原因（中文）")


class YearRecord(PeriodRecord):
    """A section's (or the lake's) annual assessment (``annual_result.record``)."""

    year: int = Field(description="年份")
    months: dict[str, int] = Field(default_factory=dict, description="各指标有月均值的月数")


class LakeRecord(Classification):
    """衡水湖 as a whole for one month: the mean of its points, classified as one lake."""

    section: str = Field(description="lake:湖泊名称")
    name: str = Field(description="湖泊名称")
    points: tuple[str, ...] = Field(description="参与评价的点位（断面 id）")
    month: str = Field(pattern=r"^\d{4}-\d{2}$", description="月份 YYYY-MM")
    values: dict[str, float | None] = Field(default_factory=dict, description="点位均值 mg/L")
    target_class_number: int | None = Field(default=None, description="湖体目标类别；无数据为空")


def _month_kind(data: object) -> str:
    section = data.get("section", "") if isinstance(data, dict) else getattr(data, "section", "")
    return "lake" if str(section).startswith(LAKE_PREFIX) else "section"


MonthEntry = Annotated[
    Annotated[MonthRecord, Tag("section")] | Annotated[LakeRecord, Tag("lake")],
    Discriminator(_month_kind),
]
"""A row of ``monthly_result``: a section's month, or the lake's (section id ``lake:…``)."""

_MONTH_ENTRY: TypeAdapter[MonthRecord | LakeRecord] = TypeAdapter(MonthEntry)


def decode_month(data: object) -> MonthRecord | LakeRecord:
    """Read a ``monthly_result.record``: a :class:`LakeRecord` for ``lake:…``, else a month."""
    return _MONTH_ENTRY.validate_python(data)


class Provenance(_Record):
    """What a day's classification rests on (``daily_result.provenance``)."""

    used: dict[str, tuple[int, ...]] = Field(
        default_factory=dict, description="参与均值的观测 id（按参数）"
    )
    excluded: dict[str, int] = Field(default_factory=dict, description="剔除的观测数（按原因）")
    review: dict[str, int] = Field(
        default_factory=dict, description="计入的可疑值、下限值与待复核值的个数"
    )


class LakeSummary(_Record):
    """The lake's line of the city's month."""

    name: str = Field(description="湖泊名称")
    class_number: int | None = Field(default=None, description="湖体类别（总氮不参与）")
    klass: str | None = Field(
        default=None, validation_alias=_CLASS, serialization_alias="class", description="类别记号"
    )
    meets_target: bool | None = Field(default=None, description="是否达到目标类别")
    tn_class_number: int | None = Field(default=None, description="总氮单独评价的类别")
    tli: float | None = Field(default=None, description="综合营养状态指数 TLI(Σ)")
    trophic_state: str | None = Field(default=None, description="营养状态")


class ClassChange(_Record):
    """A section whose class differs from the same month last year."""

    section: str = Field(description="断面 id")
    before: int = Field(ge=1, le=6, description="上年同月类别")
    after: int = Field(ge=1, le=6, description="本月类别")


class Trend(_Record):
    """The month against the same month last year."""

    previous_month: str = Field(description="上年同月 YYYY-MM")
    previous_good_share: float | None = Field(default=None, description="上年同月优良比例 0–1")
    previous_status: str | None = Field(default=None, description="上年同月水质状况")
    wording: str | None = Field(default=None, description="变化评价：无明显变化、有所好转……")
    section_changes: tuple[ClassChange, ...] = Field(default=(), description="类别有变化的断面")


class MonthSummary(_Record):
    """The city's standing in one month (``monthly_summary.summary``)."""

    month: str = Field(pattern=r"^\d{4}-\d{2}$", description="月份 YYYY-MM")
    sections: int = Field(description="计入优良比例的断面数")
    assessable: int = Field(description="其中可评价的断面数")
    not_assessable: tuple[str, ...] = Field(default=(), description="不可评价的断面 id")
    good: int = Field(description="达到或优于Ⅲ类的断面数")
    good_share: float | None = Field(default=None, description="优良比例 0–1；无可评价断面为空")
    target_share: float = Field(description="优良比例目标 0–1")
    meets_share_target: bool | None = Field(default=None, description="是否达到优良比例目标")
    worse_than_v: int = Field(description="劣Ⅴ类断面数")
    worse_than_v_sections: tuple[str, ...] = Field(default=(), description="劣Ⅴ类断面 id")
    status: str | None = Field(default=None, description="全市河流水质状况；少于 5 个断面为空")
    lake: LakeSummary | None = Field(default=None, description="衡水湖；名录无湖泊为空")
    trend: Trend | None = Field(default=None, description="与上年同月比较；上年未汇总为空")


class ForecastThreshold(_Record):
    """The target-class limit a forecast's exceedance probability refers to."""

    lower: float | None = Field(default=None, description="下限（溶解氧、pH）；低于即超标")
    upper: float | None = Field(default=None, description="上限（浓度、pH）；高于即超标")
    label: str = Field(description="限值文字，如 > 1 或 < 5", examples=["> 1"])


class ForecastStep(_Record):
    """One horizon of an issued forecast."""

    horizon_h: int = Field(ge=1, le=72, description="预见期 [h]")
    target_at: dt.datetime = Field(description="目标 4 小时时段起点（北京时间）")
    median: float = Field(description="中位数 [参数单位]")
    lo80: float = Field(description="80 % 区间下限")
    hi80: float = Field(description="80 % 区间上限")
    lo95: float = Field(description="95 % 区间下限")
    hi95: float = Field(description="95 % 区间上限")
    p_exceed: float | None = Field(
        default=None, ge=0, le=1, description="超标概率 0–1（溶解氧为低于下限）；无限值为空"
    )
    model: str = Field(description="该预见期所用的候选模型", examples=["sarima"])


class IssuedForecast(_Record):
    """The newest forecast of one section and parameter (the forecast tables, read back)."""

    section: str = Field(description="断面 id")
    parameter: str = Field(description="参数键", examples=["nh3n"])
    issued_at: dt.datetime = Field(description="预报起点：所用数据的最后 4 小时时段（北京时间）")
    created_at: dt.datetime = Field(description="发布（写入）时间（北京时间）")
    model_version: str = Field(description="版本", examples=["qingliu 0.1.0 forecast/1"])
    selected: str = Field(description="24 h 所选模型")
    why: str = Field(description="选用模型的理由")
    threshold: ForecastThreshold | None = Field(default=None, description="目标类别限值")
    data_start: dt.datetime = Field(description="训练数据起（北京时间）")
    data_end: dt.datetime = Field(description="训练数据止（北京时间）")
    steps: tuple[ForecastStep, ...] = Field(default=(), description="各预见期（4–72 h）")


class SkillEntry(_Record):
    """A candidate's verified forecasts at one horizon over the skill window."""

    section: str = Field(description="断面 id")
    parameter: str = Field(description="参数键")
    horizon_h: int = Field(description="预见期 [h]")
    candidate: str = Field(description="候选模型")
    n: int = Field(ge=0, description="已核验的预报数")
    events: int = Field(ge=0, description="其中实际超标的次数")
    brier: float = Field(ge=0, le=1, description="Brier 评分 (p − o)² 的均值，越小越好")
    brier_skill: float | None = Field(
        default=None, description="相对持续性预报的 Brier 技巧评分 1 − BS/BS持续；无法计算为空"
    )
