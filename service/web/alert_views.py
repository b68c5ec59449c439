"""The alert pages: ``/alerts`` (open episodes by level, history), one episode, and the
acknowledgement page a message's signed link opens (``/alerts/ack/{token}``, phone width).

Opening a link (``GET``) shows the episode and changes nothing (a messenger's link preview must
not acknowledge); the page's button posts the same URL. The signed token is the permission
(:mod:`service.alerts.ack_links`); who acknowledges is recorded as ``link:<recipient id>``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Form
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from sections.registry import Registry
from sections.river_chiefs import RiverChiefs
from service.alerts.ack_links import AckGrant, AckLinkError, AckLinkExpired, ack_links_from
from service.alerts.acknowledgement import NOTE_MAX, acknowledge_episode
from service.alerts.records import (
    AUDIENCE_LABELS,
    EpisodeRecord,
    episode_events,
    episode_sends,
    get_episode,
    list_episodes,
)
from service.api.access import Principal, authorize
from service.api.deps import ChiefsDep, EngineDep, EpisodeIdPath, RegistryDep, SettingsDep
from service.api.routes.alerts_api import acknowledger, caller_scope, visible_episode
from service.errors import ConflictError, NotFoundError
from service.time import beijing_minute
from service.web.views import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

HISTORY_ROWS: Final = 100
"""How many closed episodes ``/alerts`` shows."""
_LEVEL_CLASSES: Final = {1: "level-notice", 2: "level-yellow", 3: "level-orange", 4: "level-red"}


@dataclass(frozen=True)
class EpisodeRow:
    """One episode as a page shows it."""

    id: int = field(metadata={"help": "编号"})
    level: int = field(metadata={"help": "级别 1–4"})
    level_label: str = field(metadata={"help": "提示 / 黄色 / 橙色 / 红色"})
    level_class: str = field(metadata={"help": "级别的样式类"})
    section_id: str = field(metadata={"help": "断面 id"})
    section_name: str = field(metadata={"help": "断面名称"})
    factor_name: str = field(metadata={"help": "因子"})
    audience_label: str = field(metadata={"help": "河长或运维"})
    state: str = field(metadata={"help": "open / acknowledged / closed"})
    state_label: str = field(metadata={"help": "未确认 / 已确认 / 已关闭"})
    opened: str = field(metadata={"help": "开启（北京时间）"})
    updated: str = field(metadata={"help": "最近变更（北京时间）"})
    observed: str = field(metadata={"help": "最近一次条件的数据时间（北京时间）"})
    detail: str = field(metadata={"help": "最近一次条件的说明"})
    escalation_step: int = field(metadata={"help": "已升级次数"})
    next_escalation: str = field(metadata={"help": "下次升级（北京时间）；无则为空"})
    acknowledged: str = field(metadata={"help": "确认人与时间；未确认为空"})
    note: str = field(metadata={"help": "确认说明"})


@dataclass(frozen=True)
class LevelGroup:
    """The open episodes of one level."""

    label: str = field(metadata={"help": "级别"})
    level_class: str = field(metadata={"help": "级别的样式类"})
    rows: tuple[EpisodeRow, ...] = field(metadata={"help": "该级别未关闭的事件"})


@dataclass(frozen=True)
class AlertsPageContext:
    """``/alerts``."""

    title: str = field(metadata={"help": "页面标题"})
    scope_note: str = field(metadata={"help": "可见范围说明"})
    groups: tuple[LevelGroup, ...] = field(metadata={"help": "未关闭的事件，红色在前"})
    open_count: int = field(metadata={"help": "未关闭的事件数"})
    history: tuple[EpisodeRow, ...] = field(metadata={"help": "最近关闭的事件"})


@dataclass(frozen=True)
class HistoryLine:
    """One recorded change or message of an episode."""

    at: str = field(metadata={"help": "时间（北京时间）"})
    what: str = field(metadata={"help": "变更或消息"})
    detail: str = field(metadata={"help": "说明"})


@dataclass(frozen=True)
class EpisodePageContext:
    """``/alerts/{id}``."""

    title: str = field(metadata={"help": "页面标题"})
    episode: EpisodeRow = field(metadata={"help": "事件"})
    events: tuple[HistoryLine, ...] = field(metadata={"help": "全部变更，旧到新"})
    sends: tuple[HistoryLine, ...] = field(metadata={"help": "消息：接收人、通道、状态"})
    can_acknowledge: bool = field(metadata={"help": "当前用户可确认"})
    csrf_token: str = field(metadata={"help": "防跨站请求伪造令牌"})
    note_max: int = field(metadata={"help": "确认说明的最大长度"})
    message: str = field(metadata={"help": "刚完成的操作的说明；无则为空"})


@dataclass(frozen=True)
class AckPageContext:
    """The acknowledgement page of a signed link."""

    title: str = field(metadata={"help": "页面标题"})
    status: str = field(
        metadata={"help": "open / acknowledged / closed / done / expired / invalid"}
    )
    message: str = field(metadata={"help": "给河长的说明"})
    episode: EpisodeRow | None = field(metadata={"help": "事件；链接无效时为空"})
    recipient: str = field(metadata={"help": "链接所属的河长或运维岗位"})
    expires: str = field(metadata={"help": "链接到期（北京时间）"})
    action: str = field(metadata={"help": "表单提交地址（即链接本身）"})
    note_max: int = field(metadata={"help": "确认说明的最大长度"})


def episode_row(e: EpisodeRecord, registry: Registry) -> EpisodeRow:
    """An episode as the pages show it."""
    acknowledged = ""
    if e.acknowledged_by:
        acknowledged = f"{e.acknowledged_by}（{beijing_minute(e.acknowledged_at)}）"
    return EpisodeRow(
        e.id, e.level, e.level_label, _LEVEL_CLASSES.get(e.level, ""), e.section_id,
        e.section_name(registry), e.factor_name, AUDIENCE_LABELS.get(e.audience, e.audience),
        e.state, e.state_label, beijing_minute(e.opened_at), beijing_minute(e.updated_at),
        beijing_minute(e.last_observed_at or e.last_condition_at), e.last_detail, e.escalation_step,
        beijing_minute(e.next_escalation_at) if e.state == "open" else "", acknowledged,
        e.acknowledged_note or "",
    )  # fmt: skip


PrincipalDep = Annotated[Principal, Depends(authorize)]


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(
    engine: EngineDep, registry: RegistryDep, chiefs: ChiefsDep, principal: PrincipalDep
) -> HTMLResponse:
    """预警：未关闭的事件（按级别），最近关闭的事件。"""
    scope = caller_scope(principal, registry=registry, chiefs=chiefs)
    current = list_episodes(engine, scope=scope, open_only=True, limit=1000)
    groups = []
    for level in (4, 3, 2, 1):
        rows = tuple(episode_row(e, registry) for e in current if e.level == level)
        if rows:
            groups.append(LevelGroup(rows[0].level_label, _LEVEL_CLASSES[level], rows))
    history = list_episodes(engine, scope=scope, states=("closed",), limit=HISTORY_ROWS)
    if scope.sections is None:
        note = "全部断面的预警（河长与运维）"
    else:
        note = f"您负责的 {len(scope.sections)} 个断面的河长预警"
    return render("alerts/list.html", AlertsPageContext(
        "预警", note, tuple(groups), len(current),
        tuple(episode_row(e, registry) for e in history),
    ))  # fmt: skip


def _episode_page(
    engine: EngineDep, registry: Registry, chiefs: RiverChiefs, principal: Principal,
    episode_id: int, message: str = "",
) -> HTMLResponse:  # fmt: skip
    scope = caller_scope(principal, registry=registry, chiefs=chiefs)
    episode = visible_episode(engine, episode_id, scope)
    events = tuple(
        HistoryLine(beijing_minute(e.at), e.label, _event_detail(e.kind, e.detail))
        for e in episode_events(engine, episode_id)
    )
    sends = tuple(
        HistoryLine(beijing_minute(s.sent_at or s.created_at),
                    f"{_recipient(chiefs, s.recipient_id)} · {s.channel_id}",
                    f"{s.status_label}（{s.attempts} 次尝试）")
        for s in episode_sends(engine, episode_id)
    )  # fmt: skip
    can = (
        episode.state == "open" and principal.via == "session"
        and principal.role is not None and principal.role.value != "county"
    )  # fmt: skip
    return render("alerts/episode.html", EpisodePageContext(
        f"预警 {episode.id}", episode_row(episode, registry), events, sends, can,
        principal.csrf or "", NOTE_MAX, message,
    ))  # fmt: skip


@router.get("/alerts/{episode_id}", response_class=HTMLResponse)
def episode_page(
    episode_id: EpisodeIdPath, engine: EngineDep, registry: RegistryDep, chiefs: ChiefsDep,
    principal: PrincipalDep,
) -> HTMLResponse:  # fmt: skip
    """一个告警事件：状态、变更与消息，可确认。"""
    return _episode_page(engine, registry, chiefs, principal, episode_id)


@router.post("/alerts/{episode_id}/acknowledge", response_class=HTMLResponse)
def episode_acknowledge(
    episode_id: EpisodeIdPath, engine: EngineDep, registry: RegistryDep, chiefs: ChiefsDep,
    principal: PrincipalDep, note: Annotated[str, Form(max_length=NOTE_MAX)] = "",
) -> Response:  # fmt: skip
    """确认（网页表单；会话与 CSRF 令牌由权限表检查）。"""
    by = acknowledger(principal)
    scope = caller_scope(principal, registry=registry, chiefs=chiefs)
    visible_episode(engine, episode_id, scope)
    try:
        acknowledge_episode(engine=engine, episode_id=episode_id, by=by, note=note,
                            now=dt.datetime.now(dt.UTC))  # fmt: skip
    except ConflictError as exc:
        return _episode_page(engine, registry, chiefs, principal, episode_id, str(exc))
    return RedirectResponse(f"/alerts/{episode_id}", status_code=303)


# --- the signed link ---------------------------------------------------------------------------


def _recipient(chiefs: RiverChiefs, recipient_id: str) -> str:
    for chief in chiefs.chiefs:
        if chief.id == recipient_id:
            return chief.post
    for operator in chiefs.operators:
        if operator.id == recipient_id:
            return getattr(operator, "post", None) or operator.id
    return recipient_id


def _event_detail(kind: str, detail: Mapping[str, object]) -> str:
    if kind == "acknowledged":
        note = detail.get("note") or ""
        return f"{detail.get('by', '')}" + (f"：{note}" if note else "")
    if kind == "escalated":
        to = detail.get("to")
        names = "、".join(str(t) for t in to) if isinstance(to, list) else ""
        return f"第 {detail.get('step')} 次升级，通知 {names}"
    if kind in ("opened", "updated", "level_raised"):
        return str(detail.get("detail") or "")
    if kind == "sent":
        return f"{detail.get('recipient', '')} · {detail.get('channel', '')}"
    return ""


def _ack_page(context: AckPageContext, status_code: int = 200) -> HTMLResponse:
    page = render("alerts/ack.html", context)
    page.status_code = status_code
    page.headers["Cache-Control"] = "no-store"
    page.headers["Referrer-Policy"] = "no-referrer"  # the token stays out of other sites' logs
    return page


def _grant(settings: SettingsDep, token: str) -> tuple[AckGrant | None, HTMLResponse | None]:
    """The link's grant, or the page that says why it cannot be used."""
    links, _ = ack_links_from(settings)
    if links is None:
        problem = "本服务未启用确认链接，请登录清流“预警”页面确认。"
        return None, _ack_page(AckPageContext("确认预警", "invalid", problem, None, "", "", "",
                                              NOTE_MAX), 404)  # fmt: skip
    try:
        return links.read(token), None
    except AckLinkExpired as exc:
        status, problem, status_code = "expired", str(exc), 410
    except AckLinkError as exc:
        status, problem, status_code = "invalid", str(exc), 404
    return None, _ack_page(
        AckPageContext("确认预警", status, problem, None, "", "", "", NOTE_MAX), status_code
    )


def _ack_context(
    grant: AckGrant, episode: EpisodeRecord, registry: Registry, chiefs: RiverChiefs,
    token: str, status: str, message: str,
) -> AckPageContext:  # fmt: skip
    return AckPageContext(
        "确认预警", status, message, episode_row(episode, registry),
        _recipient(chiefs, grant.recipient_id), beijing_minute(grant.expires_at),
        f"/alerts/ack/{token}", NOTE_MAX,
    )  # fmt: skip


_STATE_MESSAGES: Final = {
    "open": "请确认已收到此预警；确认后不再向上级河长升级。",
    "acknowledged": "此预警已确认，无需再次确认。",
    "closed": "此预警已关闭，无需确认。",
}


@router.get("/alerts/ack/{token}", response_class=HTMLResponse)
def ack_page(
    token: str, engine: EngineDep, registry: RegistryDep, chiefs: ChiefsDep,
    settings: SettingsDep,
) -> HTMLResponse:  # fmt: skip
    """确认链接打开的页面（手机宽度）：只显示，不确认。"""
    grant, refused = _grant(settings, token)
    if grant is None:
        assert refused is not None
        return refused
    try:
        episode = get_episode(engine, grant.episode_id)
    except NotFoundError as exc:
        return _ack_page(AckPageContext("确认预警", "invalid", str(exc), None, "", "", "",
                                        NOTE_MAX), 404)  # fmt: skip
    message = _STATE_MESSAGES.get(episode.state, "")
    if episode.state == "acknowledged":
        at = beijing_minute(episode.acknowledged_at)
        message = f"此预警已由 {episode.acknowledged_by} 于 {at} 确认。"
    return _ack_page(_ack_context(grant, episode, registry, chiefs, token, episode.state,
                                  message))  # fmt: skip


@router.post("/alerts/ack/{token}", response_class=HTMLResponse)
def ack_submit(
    token: str, engine: EngineDep, registry: RegistryDep, chiefs: ChiefsDep,
    settings: SettingsDep, note: Annotated[str, Form(max_length=NOTE_MAX)] = "",
) -> HTMLResponse:  # fmt: skip
    """确认链接页面的确认按钮。"""
    grant, refused = _grant(settings, token)
    if grant is None:
        assert refused is not None
        return refused
    try:
        outcome = acknowledge_episode(
            engine=engine, episode_id=grant.episode_id, by=f"link:{grant.recipient_id}",
            note=note, now=dt.datetime.now(dt.UTC),
        )  # fmt: skip
    except NotFoundError as exc:
        return _ack_page(AckPageContext("确认预警", "invalid", str(exc), None, "", "", "",
                                        NOTE_MAX), 404)  # fmt: skip
    except ConflictError:
        episode = get_episode(engine, grant.episode_id)
        return _ack_page(_ack_context(grant, episode, registry, chiefs, token, "closed",
                                      _STATE_MESSAGES["closed"]), 409)  # fmt: skip
    status = "done" if outcome.changed else "acknowledged"
    return _ack_page(_ack_context(grant, outcome.episode, registry, chiefs, token, status,
                                  outcome.describe() + "。"))  # fmt: skip

