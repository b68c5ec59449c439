"""Alerts API: episodes (``/api/alerts``), one with its history, and acknowledging one.

A caller sees the episodes of :func:`service.alerts.records.scope_for`: the bureau every one, a
river chief those of the sections whose alerts may reach them, a county those of its sections.
An episode outside the caller's scope answers 404, as if it did not exist.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from service.accounts.users import Role
from service.alerts.acknowledgement import NOTE_MAX, acknowledge_episode
from service.alerts.records import (
    EpisodeRecord,
    EpisodeScope,
    count_episodes,
    episode_events,
    episode_sends,
    get_episode,
    list_episodes,
    scope_for,
)
from service.api.access import Principal, authorize
from service.api.deps import ChiefsDep, EngineDep, EpisodeIdPath, PageQuery, RegistryDep
from service.errors import ForbiddenError, NotFoundError

__all__ = ["caller_scope", "router", "visible_episode"]

router = APIRouter(prefix="/api", tags=["alerts"])

PrincipalDep = Annotated[Principal, Depends(authorize)]


class EpisodeOut(BaseModel):
    """One alert episode (times ISO 8601, UTC)."""

    id: int
    level: int = Field(description="1 提示 2 黄色 3 橙色 4 红色（至今最高）")
    level_label: str
    section_id: str
    section_name: str
    factor: str = Field(description="参数键；站点类告警为空或对象名")
    factor_name: str
    audience: str = Field(description="river_chiefs（河长）或 operators（运维）")
    rule_id: str = Field(description="最近一次触发的规则")
    state: str = Field(description="open 未确认 / acknowledged 已确认 / closed 已关闭")
    state_label: str
    opened_at: str
    updated_at: str
    last_condition_at: str = Field(description="最近一次出现条件的时间")
    closed_at: str | None
    escalation_step: int = Field(description="0 = 首批接收人；每升级一次加 1")
    next_escalation_at: str | None = Field(description="未确认时下次升级的时间")
    acknowledged_at: str | None
    acknowledged_by: str | None
    acknowledged_note: str | None
    last_detail: str = Field(description="最近一次条件的说明")
    last_value: float | None
    last_limit: float | None
    last_observed_at: str | None


class EpisodePage(BaseModel):
    """A page of episodes, newest opened first."""

    data: list[EpisodeOut]
    count: int = Field(description="本页条数")
    total: int = Field(description="符合条件的总数")
    page: int
    size: int


class EventOut(BaseModel):
    """One recorded change of an episode."""

    at: str
    kind: str = Field(description="opened / updated / level_raised / escalated / acknowledged …")
    label: str
    detail: dict[str, Any]


class SendOut(BaseModel):
    """One message of the episode in the outbox."""

    id: int
    recipient_id: str = Field(description="河长或运维在河长名录中的 id")
    channel_id: str
    level: int
    escalation_step: int
    status: str = Field(description="pending / sending / sent / dead")
    status_label: str
    attempts: int
    created_at: str
    sent_at: str | None
    last_code: str | None


class EpisodeDetail(BaseModel):
    """An episode, its history and its messages."""

    episode: EpisodeOut
    events: list[EventOut]
    sends: list[SendOut]


class AcknowledgeIn(BaseModel):
    """What an acknowledgement may say."""

    note: str = Field(default="", max_length=NOTE_MAX, description="确认说明（可选）")


class AcknowledgeOut(BaseModel):
    """The outcome of an acknowledgement."""

    changed: bool = Field(description="本次确认；false 表示此前已确认")
    message: str
    episode: EpisodeOut


def caller_scope(
    principal: Principal, *, registry: RegistryDep, chiefs: ChiefsDep
) -> EpisodeScope:
    """The episodes this caller may see."""
    role = None if principal.role is None else principal.role.value
    return scope_for(role, unit=principal.unit, chief=principal.chief, registry=registry,
                     chiefs=chiefs)  # fmt: skip


def visible_episode(engine: EngineDep, episode_id: int, scope: EpisodeScope) -> EpisodeRecord:
    """The episode if the caller may see it; 404 otherwise (also when it exists)."""
    episode = get_episode(engine, episode_id)
    if not scope.allows(episode):
        raise NotFoundError(f"没有这个告警事件 / no alert episode {episode_id}")
    return episode


def acknowledger(principal: Principal) -> str:
    """Who acknowledges, as the episode and the audit log name them; counties may not."""
    if principal.role is Role.COUNTY:
        raise ForbiddenError("县（市、区）用户不能确认预警 / a county cannot acknowledge alerts")
    return principal.actor


@router.get("/alerts", response_model=EpisodePage)
def alerts(
    engine: EngineDep,
    registry: RegistryDep,
    chiefs: ChiefsDep,
    principal: PrincipalDep,
    state: Annotated[
        Literal["open", "all"], Query(description="open：未关闭（未确认与已确认）；all：全部")
    ] = "all",
    page: PageQuery = 1,
    size: Annotated[int, Query(ge=1, le=500, description="每页条数")] = 100,
) -> dict[str, Any]:
    """告警事件，最新开启的在前。Alert episodes the caller may see, newest opened first."""
    scope = caller_scope(principal, registry=registry, chiefs=chiefs)
    open_only = state == "open"
    found = list_episodes(engine, scope=scope, open_only=open_only, limit=size,
                          offset=(page - 1) * size)  # fmt: skip
    return {
        "data": [e.as_json(registry) for e in found], "count": len(found),
        "total": count_episodes(engine, scope=scope, open_only=open_only),
        "page": page, "size": size,
    }  # fmt: skip


@router.get("/alerts/{episode_id}", response_model=EpisodeDetail)
def alert(
    episode_id: EpisodeIdPath,
    engine: EngineDep,
    registry: RegistryDep,
    chiefs: ChiefsDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    """一个告警事件：状态、全部变更与消息。One episode, its recorded changes and messages."""
    scope = caller_scope(principal, registry=registry, chiefs=chiefs)
    episode = visible_episode(engine, episode_id, scope)
    return {
        "episode": episode.as_json(registry),
        "events": [e.as_json() for e in episode_events(engine, episode_id)],
        "sends": [s.as_json() for s in episode_sends(engine, episode_id)],
    }


@router.post("/alerts/{episode_id}/acknowledge", response_model=AcknowledgeOut)
def acknowledge_alert(
    episode_id: EpisodeIdPath,
    body: AcknowledgeIn,
    engine: EngineDep,
    registry: RegistryDep,
    chiefs: ChiefsDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    """确认一个告警事件：停止升级。Acknowledge an episode: its escalation stops.

    已关闭的事件答 409；此前已确认的答 200（``changed`` 为 false）。A closed episode is 409.
    """
    by = acknowledger(principal)
    scope = caller_scope(principal, registry=registry, chiefs=chiefs)
    visible_episode(engine, episode_id, scope)
    outcome = acknowledge_episode(engine=engine, episode_id=episode_id, by=by, note=body.note,
                                  now=dt.datetime.now(dt.UTC))  # fmt: skip
    return {"changed": outcome.changed, "message": outcome.describe(),
            "episode": outcome.episode.as_json(registry)}  # fmt: skip
