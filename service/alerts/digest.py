"""One digest per robot group: the messages due together for one WeCom or DingTalk robot, sent
as one message (feeds.md §4, the practical rule [A]: a group reads one notice, not ten, and the
robot's 20-a-minute limit is kept).

The outbox (:mod:`service.alerts.outbox`) claims the rows due for a robot together, as many as
fit :func:`digest_budget`, and sends :func:`digest_message` of them; each row keeps its own
acknowledgement link in its part, and every row is recorded as sent (or not) with the one
answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from service.alerts.channels.base import (
    WECOM_MARKDOWN_MAX_BYTES,
    WECOM_TEXT_MAX_BYTES,
    Level,
    Message,
)

__all__ = ["DIGEST_MAX", "digest_budget", "digest_message", "stored_size"]

DIGEST_MAX: Final = 10
"""At most this many messages in one digest [A]."""
_SEPARATOR: Final = "\n\n---\n\n"
_HEADROOM: Final = 256
"""Bytes kept free for the digest's heading and separators."""
_LEVEL_ORDER: Final[Mapping[str, int]] = {"info": 0, "warning": 1, "critical": 2}


def stored_size(stored: Mapping[str, Any]) -> int:
    """The bytes a stored message (``alert_outbox.message``) takes in a digest: its markdown,
    or its text when it mentions phones (robots send those as text)."""
    body = stored.get("text") if stored.get("mobiles") else stored.get("markdown") or stored.get(
        "text"
    )
    return len(str(body or "").encode("utf-8")) + len(_SEPARATOR.encode("utf-8"))


def digest_budget(stored: Mapping[str, Any]) -> int:
    """The bytes a digest may hold, from its first message: the robot's text limit when it
    mentions phones, else its markdown limit, less the heading's room.

    >>> digest_budget({"markdown": "x"}) == WECOM_MARKDOWN_MAX_BYTES - 256
    True
    """
    limit = WECOM_TEXT_MAX_BYTES if stored.get("mobiles") else WECOM_MARKDOWN_MAX_BYTES
    return limit - _HEADROOM


def digest_message(messages: Sequence[Message]) -> Message:
    """The messages as one: a heading with the count, then each message's text (markdown)
    in order; phones and addresses of all of them, the highest level.

    >>> one = Message(title="黄色预警", text="a", markdown="**a**")
    >>> two = Message(title="红色预警", text="b", markdown="**b**", level="critical")
    >>> merged = digest_message([one, two])
    >>> merged.title, merged.level
    ('清流预警 2 条：黄色预警；红色预警', 'critical')
    >>> digest_message([one]) is one
    True
    """
    if len(messages) == 1:
        return messages[0]
    count = len(messages)
    titles = "；".join(dict.fromkeys(m.title for m in messages))
    level: Level = max((m.level for m in messages), key=lambda lv: _LEVEL_ORDER[lv])
    mobiles = tuple(dict.fromkeys(p for m in messages for p in m.mobiles))
    emails = tuple(dict.fromkeys(a for m in messages for a in m.emails))
    heading = f"清流预警 {count} 条"
    return Message(
        title=f"{heading}：{titles}"[:120],
        text=f"【{heading}】\n\n" + "\n\n".join(m.text for m in messages),
        markdown=f"### {heading}\n\n" + _SEPARATOR.join(m.markdown or m.text for m in messages),
        mobiles=mobiles, emails=emails, level=level,
    )  # fmt: skip
