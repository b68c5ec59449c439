"""Typed contexts of the appeal pages, and the row every page shows an appeal as."""

from __future__ import annotations

from dataclasses import dataclass, field

from sections.registry import Registry
from service.appeals.lines import KIND_WORDS
from service.appeals.records import AppealRecord
from service.statements.wording import month_label
from service.time import beijing_minute

__all__ = [
    "AppealPageContext",
    "AppealRow",
    "AppealsPageContext",
    "AttachmentRow",
    "ChangeLine",
    "EvidenceLine",
    "FilingPageContext",
    "HistoryEntry",
    "LineOption",
    "appeal_row",
    "unit_name",
]


@dataclass(frozen=True)
class AppealRow:
    """One appeal as the pages show it."""

    id: int = field(metadata={"help": "编号"})
    href: str = field(metadata={"help": "申诉页地址"})
    month: str = field(metadata={"help": "通报月份 YYYY-MM"})
    month_text: str = field(metadata={"help": "如 2025年3月"})
    unit: str = field(metadata={"help": "考核单位 id"})
    unit_name: str = field(metadata={"help": "考核单位名称"})
    version: int = field(metadata={"help": "所申诉的版本"})
    statement_href: str = field(metadata={"help": "所申诉版本的通报页"})
    kind_text: str = field(metadata={"help": "扣缴项类别"})
    line_text: str = field(metadata={"help": "申诉时该行的内容"})
    state: str = field(metadata={"help": "filed/accepted/rejected/settled"})
    state_text: str = field(metadata={"help": "状态（中文，含办结结果）"})
    is_open: bool = field(metadata={"help": "待受理或复核中"})
    filed: str = field(metadata={"help": "提出人与时间"})
    deadline: str = field(metadata={"help": "申诉期限（北京时间）"})
    reason: str = field(metadata={"help": "申诉理由"})
    decision: str = field(metadata={"help": "受理意见或驳回理由，含人与时间；无则为空"})
    settlement: str = field(metadata={"help": "办结说明，含人与时间；未办结为空"})
    settled_href: str = field(metadata={"help": "改正后新版本的通报页；无则为空"})


def unit_name(registry: Registry, unit: str) -> str:
    try:
        return registry.unit(unit).name
    except KeyError:
        return unit


def appeal_row(appeal: AppealRecord, registry: Registry) -> AppealRow:
    """An appeal as the pages show it."""
    base = f"/compensation/{appeal.month:%Y-%m}/{appeal.unit}"
    decision = ""
    if appeal.decided_by:
        word = "驳回" if appeal.state == "rejected" else "受理"
        note = f"：{appeal.decision_note}" if appeal.decision_note else ""
        decision = f"{word}（{appeal.decided_by}，{beijing_minute(appeal.decided_at)}）{note}"
    settlement = ""
    if appeal.settled_by:
        note = f"：{appeal.settle_note}" if appeal.settle_note else ""
        settlement = (
            f"{appeal.state_text}（{appeal.settled_by}，{beijing_minute(appeal.settled_at)}）{note}"
        )
    return AppealRow(
        id=appeal.id, href=f"/appeals/{appeal.id}", month=f"{appeal.month:%Y-%m}",
        month_text=month_label(appeal.month), unit=appeal.unit,
        unit_name=unit_name(registry, appeal.unit), version=appeal.version,
        statement_href=f"{base}?version={appeal.version}",
        kind_text=KIND_WORDS.get(appeal.line_kind, appeal.line_kind), line_text=appeal.line_text,
        state=appeal.state, state_text=appeal.state_text, is_open=appeal.is_open,
        filed=f"{appeal.filed_by}（{beijing_minute(appeal.filed_at)}）",
        deadline=beijing_minute(appeal.deadline),
        reason=appeal.reason, decision=decision, settlement=settlement,
        settled_href=f"{base}?version={appeal.settled_version}" if appeal.settled_version else "",
    )  # fmt: skip


@dataclass(frozen=True)
class AppealsPageContext:
    """``/appeals``."""

    title: str = field(metadata={"help": "页面标题"})
    scope_note: str = field(metadata={"help": "可见范围说明"})
    state: str = field(metadata={"help": "所选状态筛选"})
    states: tuple[tuple[str, str], ...] = field(metadata={"help": "状态筛选（值, 名称）"})
    rows: tuple[AppealRow, ...] = field(metadata={"help": "申诉，新的在前"})
    total: int = field(metadata={"help": "符合条件的总数"})
    can_file: bool = field(metadata={"help": "当前用户可提出申诉"})


@dataclass(frozen=True)
class LineOption:
    """A line that may be appealed, as a radio button."""

    token: str = field(metadata={"help": "kind:key"})
    kind_text: str = field(metadata={"help": "类别"})
    text: str = field(metadata={"help": "内容"})
    open_appeal: int | None = field(metadata={"help": "该行未办结的申诉编号；无则为空"})


@dataclass(frozen=True)
class FilingPageContext:
    """``/appeals/new``."""

    title: str = field(metadata={"help": "页面标题"})
    month: str = field(metadata={"help": "通报月份 YYYY-MM；无已签发月份为空"})
    months: tuple[tuple[str, str], ...] = field(metadata={"help": "已签发的月份（值, 名称）"})
    unit: str = field(metadata={"help": "考核单位 id"})
    units: tuple[tuple[str, str], ...] = field(metadata={"help": "可选单位；县用户仅本单位"})
    version: int | None = field(metadata={"help": "最新签发版本"})
    deadline: str = field(metadata={"help": "申诉期限（北京时间）"})
    open: bool = field(metadata={"help": "是否仍在申诉期内"})
    lines: tuple[LineOption, ...] = field(metadata={"help": "可申诉的扣缴项"})
    chosen: str = field(metadata={"help": "已选的扣缴项"})
    reason: str = field(metadata={"help": "已填的理由（出错后重填）"})
    message: str = field(metadata={"help": "出错说明；无则为空"})
    csrf_token: str = field(metadata={"help": "防跨站请求伪造令牌"})
    max_reason: int = field(metadata={"help": "理由最大长度"})
    max_files: int = field(metadata={"help": "附件个数上限"})
    max_mb: int = field(metadata={"help": "单个附件上限 MB"})
    kinds: str = field(metadata={"help": "可上传的文件类型"})


@dataclass(frozen=True)
class AttachmentRow:
    """An attachment link."""

    href: str = field(metadata={"help": "下载地址"})
    filename: str = field(metadata={"help": "文件名"})
    kind: str = field(metadata={"help": "类型"})
    size: str = field(metadata={"help": "大小"})
    sha256: str = field(metadata={"help": "SHA-256"})


@dataclass(frozen=True)
class EvidenceLine:
    """An observation behind the appealed line."""

    id: int = field(metadata={"help": "观测值编号"})
    observed: str = field(metadata={"help": "时间（北京时间）"})
    factor: str = field(metadata={"help": "因子"})
    value: str = field(metadata={"help": "数值（<DL 为检出限）"})
    source: str = field(metadata={"help": "来源：自动站或手工（例行、抽测）"})
    flags: str = field(metadata={"help": "站点标记与质控标记"})
    review: str = field(metadata={"help": "复核状态与说明"})


@dataclass(frozen=True)
class ChangeLine:
    """A line the settling version changed."""

    key: str = field(metadata={"help": "行标识"})
    change: str = field(metadata={"help": "新增、删除或变更"})
    before: str = field(metadata={"help": "原内容"})
    after: str = field(metadata={"help": "新内容"})
    appealed: bool = field(metadata={"help": "是否为所申诉的行"})


@dataclass(frozen=True)
class HistoryEntry:
    """One step from the audit log."""

    at: str = field(metadata={"help": "时间"})
    actor: str = field(metadata={"help": "操作者"})
    what: str = field(metadata={"help": "操作"})


@dataclass(frozen=True)
class AppealPageContext:
    """``/appeals/{id}``."""

    title: str = field(metadata={"help": "页面标题"})
    appeal: AppealRow = field(metadata={"help": "申诉"})
    attachments: tuple[AttachmentRow, ...] = field(metadata={"help": "附件"})
    evidence: tuple[EvidenceLine, ...] = field(metadata={"help": "所涉观测值"})
    evidence_total: int = field(metadata={"help": "所涉观测值总数"})
    changes: tuple[ChangeLine, ...] = field(metadata={"help": "改正版本中本单位的变动"})
    history: tuple[HistoryEntry, ...] = field(metadata={"help": "办理记录（审计日志）"})
    can_decide: bool = field(metadata={"help": "当前用户可受理、驳回、办结"})
    can_review: bool = field(metadata={"help": "当前用户可复核观测值"})
    csrf_token: str = field(metadata={"help": "防跨站请求伪造令牌"})
    max_note: int = field(metadata={"help": "意见最大长度"})
    message: str = field(metadata={"help": "刚被拒绝的操作的说明；无则为空"})
