"""Alert messages: what a recipient reads, composed from ``templates/alerts``, and as stored.

A stored message keeps the placeholder :data:`ACK_URL_PLACEHOLDER`; the outbox fills it with the
episode's acknowledgement link when it sends.

Kinds (:data:`MESSAGE_KINDS`): ``opened``, ``level_raised`` and ``escalated`` tell of an episode
at its level and ask for an acknowledgement; ``closed`` (解除) says it is over: the section,
factor, when it began, the last value and when it was last seen, level ``info``, no link.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from pydantic import JsonValue

from service.alerts.channels.base import Level, Message

if TYPE_CHECKING:
    from sections.registry import Registry
    from sections.river_chiefs import ChannelEntry, Recipient
    from service.alerts.episodes import AlertCondition

__all__ = [
    "ACK_URL_PLACEHOLDER",
    "LEVEL_LABELS",
    "MESSAGE_KINDS",
    "TREND_WORDS",
    "compose_message",
    "message_from_json",
    "message_json",
    "observed_text",
]

ACK_URL_PLACEHOLDER = "{ack_url}"
_MARKDOWN_LINK = re.compile(r"\[([^\]]+)\]\(\{ack_url\}\)")
"""Left in a stored message; the outbox replaces it with the episode's acknowledgement link."""
LEVEL_LABELS: Mapping[int, str] = MappingProxyType({1: "提示", 2: "黄色", 3: "橙色", 4: "红色"})
"""Alert levels (``AlertLevel`` of ``sections.alert_rules``) → label (domain.md §7)."""
_LEVEL_COLOURS = {1: "info", 2: "warning", 3: "warning", 4: "warning"}
_MESSAGE_LEVELS: Mapping[int, Level] = {1: "info", 2: "warning", 3: "warning", 4: "critical"}


def message_json(message: Message) -> dict[str, JsonValue]:
    """A message as stored in ``alert_outbox.message``."""
    return {
        "title": message.title, "text": message.text, "markdown": message.markdown,
        "html": message.html, "mobiles": list(message.mobiles), "emails": list(message.emails),
        "params": {str(k): str(v) for k, v in message.params.items()}, "level": message.level,
    }  # fmt: skip


def message_from_json(stored: Mapping[str, Any], *, ack_url: str) -> Message:
    """The stored message with its ``{ack_url}`` placeholder filled."""

    linked = ack_url.startswith(("http://", "https://"))

    def fill(text: object) -> str:
        body = str(text or "")
        if not linked:  # no link to make: a markdown link becomes its words and the text
            body = _MARKDOWN_LINK.sub(lambda m: f"{m.group(1)}：{ack_url}", body)
        return body.replace(ACK_URL_PLACEHOLDER, ack_url)

    return Message(
        title=fill(stored.get("title")), text=fill(stored.get("text")),
        markdown=fill(stored.get("markdown")), html=fill(stored.get("html")),
        mobiles=tuple(stored.get("mobiles") or ()), emails=tuple(stored.get("emails") or ()),
        params={str(k): fill(v) for k, v in dict(stored.get("params") or {}).items()},
        level=stored.get("level") or "warning",
    )  # fmt: skip


_KIND_WORDS: Mapping[str, str] = MappingProxyType({
    "opened": "超标预警", "level_raised": "预警级别升高", "escalated": "预警升级",
    "closed": "预警解除",
})  # fmt: skip
MESSAGE_KINDS = tuple(_KIND_WORDS)
"""The kinds of message an episode sends (``closed``: the 解除 message)."""


def compose_message(
    condition: AlertCondition,
    *,
    registry: Registry | None,
    timezone: str,
    level: int,
    kind: str,
    step: int,
    recipient: Recipient,
    channel: ChannelEntry,
    opened_at: dt.datetime | None = None,
) -> Message:
    """The message one recipient gets on one channel, from the ``templates/alerts`` files.

    ``kind`` is one of :data:`MESSAGE_KINDS` (unknown: ``ValueError``); ``opened_at`` (aware),
    when the episode began, is said by the ``closed`` message.
    """
    from service.web.templates import template_environment

    if kind not in _KIND_WORDS:
        raise ValueError(f"未知消息类型 / unknown message kind {kind!r}: {MESSAGE_KINDS}")
    environment = template_environment()
    context = _message_context(condition, registry=registry, timezone=timezone, level=level,
                               kind=kind, step=step, recipient=recipient,
                               opened_at=opened_at)  # fmt: skip
    title = environment.get_template("alerts/title.txt").render(context).strip()
    text = environment.get_template("alerts/text.txt").render(context).strip()
    markdown = environment.get_template("alerts/markdown.md").render(context).strip()
    mobile = recipient.mobile
    email = recipient.email
    mobiles = (mobile,) if mobile and channel.kind in ("wecom", "dingtalk", "sms") else ()
    if channel.kind == "sms" and channel.to:
        mobiles = ()
    emails = (email,) if email and channel.kind == "email" and not channel.to else ()
    closed = kind == "closed"
    return Message(title=title, text=text, markdown=markdown, mobiles=mobiles, emails=emails,
                   params={"level": LEVEL_LABELS[level] + ("预警已解除" if closed else ""),
                           "section": context["section_name"], "factor": context["factor_name"],
                           "ack_url": "" if closed else ACK_URL_PLACEHOLDER},
                   level="info" if closed else _MESSAGE_LEVELS[level])  # fmt: skip


def _message_context(
    condition: AlertCondition,
    *,
    registry: Registry | None,
    timezone: str,
    level: int,
    kind: str,
    step: int,
    recipient: Recipient,
    opened_at: dt.datetime | None,
) -> dict[str, Any]:
    section_name, target_class = condition.section_id, ""
    if registry is not None:
        try:
            section = registry.section(condition.section_id)
        except LookupError:
            pass
        else:
            section_name = section.name
            target_class = section.target_class(condition.observed_at.date()).label
    factor_name, unit = _factor(condition.factor)
    zone = ZoneInfo(timezone)
    local = condition.observed_at.astimezone(zone)
    began = None if opened_at is None else opened_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    probability = condition.probability
    return {
        "level_label": LEVEL_LABELS[level], "level_colour": _LEVEL_COLOURS[level],
        "kind_word": _KIND_WORDS[kind], "section_name": section_name,
        "section_id": condition.section_id, "target_class": target_class,
        "factor_name": factor_name, "unit": unit, "value": _number(condition.value),
        "limit": _number(condition.limit), "observed_at": observed_text(condition.rule_id, local),
        "trend": TREND_WORDS.get(condition.trend or "", condition.trend or ""),
        "detail": condition.detail,
        "probability": None if probability is None else f"{probability:.0%}",
        "escalated": kind == "escalated" and step > 0,
        "recipient_post": getattr(recipient, "post", recipient.id),
        "closed": kind == "closed", "opened_at": began or local.strftime("%Y-%m-%d %H:%M"),
    }  # fmt: skip


TREND_WORDS: Mapping[str, str] = MappingProxyType(
    {"rising": "上升", "falling": "下降", "steady": "平稳"}
)
"""A condition's trend as a message says it."""


def observed_text(rule_id: str, local: dt.datetime) -> str:
    """When a condition was observed, as a message says it (``sections.alert_rules.RULE_TIMES``):
    a reading at its time, a daily mean by its day, a monthly class by its month, a forecast by
    its target time.

    >>> at = dt.datetime(2025, 7, 2)
    >>> observed_text("daily_mean_exceeds", at), observed_text("class_drop", at)
    ('2025-07-02（日均值）', '2025年7月')
    >>> observed_text("value_exceeds", at.replace(hour=8))
    '2025-07-02 08:00'
    """
    from sections.alert_rules import RULE_TIMES

    basis = RULE_TIMES.get(rule_id)
    if basis == "day":
        return f"{local:%Y-%m-%d}（日均值）"
    if basis == "month":
        return f"{local.year}年{local.month}月"
    if basis == "target":
        return f"{local:%Y-%m-%d %H:%M}（预报目标时间）"
    return f"{local:%Y-%m-%d %H:%M}"


def _factor(key: str) -> tuple[str, str]:
    from sections.parameters import parameter

    try:
        found = parameter(key)
    except LookupError:
        return key, ""
    return found.name_zh, " " + found.unit


def _number(value: float | None) -> str | None:
    return None if value is None else f"{value:.4g}"
