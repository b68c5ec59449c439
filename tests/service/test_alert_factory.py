"""Channels from river-chief registry entries (service.alerts.factory), each kind sending to a
local fake service (tests/service/alert_servers.py); missing secrets reported, not raised."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sections.river_chiefs import ChannelEntry, parse_river_chiefs
from service.alerts.channels import (
    DingTalkChannel,
    EmailChannel,
    Message,
    SmsChannel,
    WeComChannel,
)
from service.alerts.factory import build_channel, build_channels
from service.errors import ConfigurationError
from service.settings import Settings
from tests.service.alert_servers import FakeDingTalk, FakeSmsGateway, FakeSmtp, FakeWeCom

MESSAGE = Message(title="小范桥氨氮超标", text="小范桥断面氨氮 2.31 mg/L，超Ⅲ类标准。")
SETTINGS = Settings()


def entry(kind: str, **fields: Any) -> ChannelEntry:
    return ChannelEntry(id=f"{kind}-test", kind=kind, confirmed=True, **fields)  # type: ignore[arg-type]


def test_wecom_from_its_webhook_url(serve: Callable[[Any], str]) -> None:
    robot = FakeWeCom(key="k-123")
    url = serve(robot) + "/cgi-bin/webhook/send?key=${T_WECOM_KEY}"
    channel = build_channel(entry("wecom", url=url), settings=SETTINGS,
                            environ={"T_WECOM_KEY": "k-123"})  # fmt: skip
    assert isinstance(channel, WeComChannel) and channel.id == "wecom-test"
    assert "k-123" not in repr(channel)
    assert channel.send(MESSAGE).ok
    assert robot.messages[0]["msgtype"] == "markdown"


def test_dingtalk_signs_with_the_entry_secret(serve: Callable[[Any], str]) -> None:
    robot = FakeDingTalk(token="tok", secret="SECabc")
    url = serve(robot) + "/robot/send?access_token=${T_DING_TOKEN}"
    channel = build_channel(
        entry("dingtalk", url=url, secret="${T_DING_SECRET}"), settings=SETTINGS,
        environ={"T_DING_TOKEN": "tok", "T_DING_SECRET": "SECabc"},
    )  # fmt: skip
    assert isinstance(channel, DingTalkChannel)
    assert channel.send(MESSAGE).ok
    assert "sign" in robot.queries[0] and len(robot.messages) == 1


def test_sms_key_from_the_url_goes_as_a_bearer_header(serve: Callable[[Any], str]) -> None:
    gateway = FakeSmsGateway(api_key="sk-1")
    url = serve(gateway) + "/sms/send?api_key=${T_SMS_KEY}"
    channel = build_channel(
        entry("sms", url=url, template="SMS_ALERT", to=("13800138000",)), settings=SETTINGS,
        environ={"T_SMS_KEY": "sk-1"},
    )  # fmt: skip
    assert isinstance(channel, SmsChannel)
    assert "api_key" not in channel.target and "sk-1" not in channel.target
    assert channel.send(MESSAGE).ok
    assert gateway.authorizations == ["Bearer sk-1"]
    assert gateway.requests[0]["phone_numbers"] == ["13800138000"]


def test_sms_key_from_the_entry_secret(serve: Callable[[Any], str]) -> None:
    gateway = FakeSmsGateway(api_key="sk-2")
    channel = build_channel(
        entry("sms", url=serve(gateway) + "/sms/send", secret="${T_SMS_KEY}",
              template="${T_SMS_TEMPLATE}", to=("13800138000",)),
        settings=SETTINGS, environ={"T_SMS_KEY": "sk-2", "T_SMS_TEMPLATE": "SMS_ALERT"},
    )  # fmt: skip
    assert channel.send(MESSAGE).ok and gateway.authorizations == ["Bearer sk-2"]


def test_sms_without_a_template_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="template"):
        build_channel(entry("sms", url="https://sms.example.cn/send"), settings=SETTINGS,
                      environ={})  # fmt: skip


def test_email_through_the_smtp_server_of_the_settings() -> None:
    with FakeSmtp() as server:
        settings = Settings(smtp_host="127.0.0.1", smtp_port=server.port,
                            smtp_sender="清流预警 <alerts@qingliu.example.cn>",
                            smtp_starttls=False)  # fmt: skip
        channel = build_channel(entry("email", to=("${T_OPS_EMAIL}",)), settings=settings,
                                environ={"T_OPS_EMAIL": "duty@hs.example.cn"})  # fmt: skip
        assert isinstance(channel, EmailChannel)
        assert channel.send(MESSAGE).ok
    (mail,) = server.mails
    assert mail.rcpt_tos == ("duty@hs.example.cn",)
    assert mail.mail_from == "alerts@qingliu.example.cn"


def test_email_settings_from_the_environment() -> None:
    settings = Settings.from_env({
        "QINGLIU_SMTP_HOST": "smtp.example.cn", "QINGLIU_SMTP_PORT": "465",
        "QINGLIU_SMTP_SENDER": "alerts@example.cn", "QINGLIU_SMTP_USERNAME": "alerts",
        "QINGLIU_SMTP_PASSWORD": "pw-secret", "QINGLIU_SMTP_STARTTLS": "off",
        "QINGLIU_ALERTS_BASE_URL": "https://qingliu.example.cn",
    })  # fmt: skip
    assert settings.smtp_starttls is False and settings.smtp_port == 465
    assert "pw-secret" not in repr(settings)
    assert settings.alerts_base_url == "https://qingliu.example.cn"
    channel = build_channel(entry("email", to=("a@example.cn",)), settings=settings, environ={})
    assert isinstance(channel, EmailChannel)
    assert channel.implicit_tls and channel.target == "smtps://smtp.example.cn:465"
    assert Settings.from_env({}).smtp_starttls is True
    with pytest.raises(ConfigurationError, match="QINGLIU_ALERTS_BASE_URL"):
        Settings.from_env({"QINGLIU_ALERTS_BASE_URL": "qingliu.example.cn"})


def test_email_needs_an_smtp_host() -> None:
    with pytest.raises(ConfigurationError, match="QINGLIU_SMTP_HOST"):
        build_channel(entry("email", to=("a@example.cn",)), settings=SETTINGS, environ={})
    with pytest.raises(ConfigurationError, match="QINGLIU_SMTP_SENDER"):
        build_channel(entry("email"), settings=Settings(smtp_host="smtp.example.cn"), environ={})


def test_a_missing_secret_names_its_variable() -> None:
    url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=${T_UNSET_KEY}"
    with pytest.raises(ConfigurationError, match="T_UNSET_KEY"):
        build_channel(entry("wecom", url=url), settings=SETTINGS, environ={})


CHIEFS = """
[[reaches]]
id = "r"
river = "某河"
county = "u"
sections = ["s1"]
confirmed = false

[[chiefs]]
id = "county"
post = "某河县级河长"
level = "县"
reaches = ["r"]
channels = ["robot", "robot-2", "ding", "mail"]
confirmed = false

[[channels]]
id = "robot"
kind = "wecom"
url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=${T_KEY_SET}"
confirmed = false

[[channels]]
id = "robot-2"
kind = "wecom"
url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=${T_KEY_UNSET}"
confirmed = false

[[channels]]
id = "ding"
kind = "dingtalk"
url = "https://oapi.dingtalk.com/robot/send?access_token=${T_KEY_SET}"
secret = "${T_SECRET_UNSET}"
confirmed = false

[[channels]]
id = "mail"
kind = "email"
to = ["ops@example.cn"]
confirmed = false
"""


def test_build_channels_skips_and_reports_what_it_cannot_build(
    caplog: pytest.LogCaptureFixture,
) -> None:
    chiefs = parse_river_chiefs(CHIEFS)
    built = build_channels(chiefs, settings=SETTINGS, environ={"T_KEY_SET": "abc"})
    assert isinstance(built, dict) and list(built) == ["robot"]
    assert [(p.channel, p.kind, p.variables) for p in built.problems] == [
        ("robot-2", "wecom", ("T_KEY_UNSET",)),
        ("ding", "dingtalk", ("T_SECRET_UNSET",)),
        ("mail", "email", ()),
    ]
    assert "T_KEY_UNSET" in built.problems[0].message
    assert "QINGLIU_SMTP_HOST" in str(built.problems[2])
    assert "abc" not in caplog.text and "T_SECRET_UNSET" in caplog.text

    settings = Settings(smtp_host="smtp.example.cn", smtp_sender="alerts@example.cn")
    environ = {"T_KEY_SET": "a", "T_KEY_UNSET": "b", "T_SECRET_UNSET": "c"}
    every = build_channels(chiefs, settings=settings, environ=environ)
    assert sorted(every) == ["ding", "mail", "robot", "robot-2"] and every.problems == ()
