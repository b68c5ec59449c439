"""What an alert message says: Chinese trend words, a daily mean by its day, a monthly class by its
month, and no broken markdown link when the service has no acknowledgement links."""

from __future__ import annotations

import datetime as dt

from sections.alert_rules import RULE_PARAMETERS, RULE_TIMES, AlertLevel, Condition
from sections.registry import Registry
from service.alerts.channels import Message
from service.alerts.messages import compose_message, message_from_json, message_json
from service.alerts.outbox import DEFAULT_ACK_TEXT
from service.time import BEIJING
from tests.service.test_alert_episodes import chiefs

DAY = dt.datetime(2025, 7, 2, tzinfo=BEIJING)


def compose(rule: str, *, at: dt.datetime, trend: str | None, registry: Registry) -> Message:
    rc = chiefs()
    county = rc.chief("county")
    condition = Condition("xiaofanqiao", "nh3n", AlertLevel.YELLOW, rule, "river_chiefs", at,
                          1.62, 1.0, "日均值超标", trend=trend)  # fmt: skip
    return compose_message(condition, registry=registry, timezone="Asia/Shanghai",
                           level=2, kind="opened", step=0, recipient=county,
                           channel=rc.channel("robot"))  # fmt: skip


def test_every_rule_says_what_its_time_is() -> None:
    assert set(RULE_TIMES) == set(RULE_PARAMETERS)


def test_a_daily_condition_is_dated_by_its_day_and_trends_are_chinese(registry: Registry) -> None:
    daily = compose("daily_mean_exceeds", at=DAY, trend="rising", registry=registry)
    assert "时间：2025-07-02（日均值）" in daily.text
    assert "00:00" not in daily.text
    assert "趋势：上升" in daily.markdown and "rising" not in daily.markdown
    reading = compose("value_exceeds", at=DAY.replace(hour=8), trend="falling", registry=registry)
    assert "时间：2025-07-02 08:00" in reading.text
    assert "趋势：下降" in reading.text
    monthly = compose("class_drop", at=DAY.replace(day=1), trend=None, registry=registry)
    assert "时间：2025年7月" in monthly.text


def test_without_links_the_markdown_keeps_words_not_a_broken_link(registry: Registry) -> None:
    composed = compose("daily_mean_exceeds", at=DAY, trend=None, registry=registry)
    stored = message_json(composed)
    bare = message_from_json(stored, ack_url=DEFAULT_ACK_TEXT)
    assert "](" not in bare.markdown and f"确认收到：{DEFAULT_ACK_TEXT}" in bare.markdown
    linked = message_from_json(stored, ack_url="https://qingliu.example.cn/alerts/ack/abc")
    assert "[确认收到](https://qingliu.example.cn/alerts/ack/abc)" in linked.markdown
