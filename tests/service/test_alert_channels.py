"""Alert channels against local fake services (tests/service/alert_servers.py): WeCom and
DingTalk robots, an SMS gateway and a real SMTP server, each on 127.0.0.1; formats and error
codes as docs/feeds.md §3 states them."""

from __future__ import annotations

import inspect
import json
import logging
import smtplib
import socket
import ssl
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.alerts import channels
from service.alerts.channels import (
    DINGTALK_BLOCK_SECONDS,
    DINGTALK_PER_MINUTE,
    MIN_SEND_INTERVAL,
    TRUNCATION_MARKER,
    WECOM_MARKDOWN_MAX_BYTES,
    WECOM_PER_MINUTE,
    WECOM_TEXT_MAX_BYTES,
    Channel,
    Delivery,
    DingTalkChannel,
    EmailChannel,
    Message,
    SmsChannel,
    WeComChannel,
    mask_url,
    resolve_secret,
    sign,
    truncate_utf8,
)
from service.alerts.channels._http import delivery_for_exception
from service.alerts.channels.config import Masker
from service.alerts.channels.email import delivery_for_smtp_error
from service.errors import (
    ChannelError,
    ChannelRefused,
    ChannelUnavailable,
    ConfigurationError,
    InputError,
    RateLimited,
    error_line,
)
from tests.service.alert_servers import (
    FakeDingTalk,
    FakeSmsGateway,
    FakeSmtp,
    FakeWeCom,
    SilentServer,
    closed_port,
    dingtalk_signature,
    make_certificate,
)

WECOM_KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
DING_TOKEN = "a1b2c3d4e5f6token"
DING_SECRET = "SEC1f2e3d4c5b6a7980fedcba9876543210"
SMS_KEY = "sk-live-0123456789abcdef"
CHIEF = "13800138000"
DEPUTY = "13900139000"
MARKDOWN = (
    "## 小范桥断面氨氮超标\n"
    "> 滏阳河 · 2025-11-07 16:00\n\n"
    "**氨氮** 2.31 mg/L，超Ⅲ类标准 1.3 倍\n"
    '<font color="warning">请河长关注</font>'
)
TEXT = "小范桥断面氨氮超标：2.31 mg/L（Ⅲ类标准 1.0），超标 1.3 倍。请关注。"
MESSAGE = Message(title="小范桥氨氮超标", text=TEXT, markdown=MARKDOWN)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context) for a self-signed 127.0.0.1 certificate."""
    made = make_certificate(tmp_path_factory.mktemp("tls"))
    if made is None:
        pytest.skip("the openssl command cannot make a test certificate")
    return made


def _secrets_absent(text: str, *secrets: str) -> bool:
    return all(secret not in text for secret in secrets)


# --------------------------------------------------------------------------- WeCom


def test_wecom_markdown_arrives(serve: Callable[[Any], str]) -> None:
    robot = FakeWeCom(key=WECOM_KEY)
    channel = WeComChannel(id="wecom-city", key=WECOM_KEY, base_url=serve(robot))
    delivery = channel.send(MESSAGE)
    assert delivery == Delivery("sent", "0", "ok")
    assert delivery.ok and not delivery.permanent and delivery.retry_after is None
    assert robot.messages == [{"msgtype": "markdown", "markdown": {"content": MARKDOWN}}]


def test_wecom_mentions_go_as_text(serve: Callable[[Any], str]) -> None:
    robot = FakeWeCom(key=WECOM_KEY)
    channel = WeComChannel(id="wecom-city", key=WECOM_KEY, base_url=serve(robot))
    message = Message(title="超标", text=TEXT, markdown=MARKDOWN, mobiles=(CHIEF, DEPUTY))
    assert channel.send(message).ok
    assert robot.messages == [
        {"msgtype": "text", "text": {"content": TEXT, "mentioned_mobile_list": [CHIEF, DEPUTY]}}
    ]


@pytest.mark.parametrize(
    ("mobiles", "kind", "limit"),
    [((), "markdown", WECOM_MARKDOWN_MAX_BYTES), ((CHIEF,), "text", WECOM_TEXT_MAX_BYTES)],
    ids=["markdown-4096", "text-2048"],
)
def test_wecom_truncates_on_a_utf8_boundary(
    serve: Callable[[Any], str], mobiles: tuple[str, ...], kind: str, limit: int
) -> None:
    robot = FakeWeCom(key=WECOM_KEY)
    channel = WeComChannel(id="wecom-city", key=WECOM_KEY, base_url=serve(robot))
    long = "断面氨氮超标，" * 400 + "a"  # 3 bytes a character: the limit falls inside one
    assert channel.send(Message(title="超标", text=long, markdown=long, mobiles=mobiles)).ok
    content = robot.messages[0][kind]["content"]
    size = len(content.encode("utf-8"))
    assert limit - 3 < size <= limit  # the server checks the limit too (40058 otherwise)
    assert content.endswith(TRUNCATION_MARKER)
    assert long.startswith(content.removesuffix(TRUNCATION_MARKER))


def test_wecom_rate_limit_after_n_a_minute(serve: Callable[[Any], str]) -> None:
    robot = FakeWeCom(key=WECOM_KEY, per_minute=2)
    channel = WeComChannel(id="wecom-city", key=WECOM_KEY, base_url=serve(robot))
    first, second, third = (channel.send(MESSAGE) for _ in range(3))
    assert first.ok and second.ok
    assert third.status == "rate_limited" and third.code == "45009"
    assert third.retry_after == 60 and not third.permanent
    assert len(robot.messages) == 2


def test_wecom_rate_limit_when_told(serve: Callable[[Any], str]) -> None:
    robot = FakeWeCom(key=WECOM_KEY, rate_limited=True)
    delivery = WeComChannel(id="w", key=WECOM_KEY, base_url=serve(robot)).send(MESSAGE)
    assert (delivery.status, delivery.retry_after) == ("rate_limited", 60)
    with pytest.raises(RateLimited) as raised:
        delivery.raise_for_status(channel="w")
    assert raised.value.retry_after == 60 and raised.value.code == "45009"


def test_wecom_wrong_key_is_refused(serve: Callable[[Any], str]) -> None:
    robot = FakeWeCom(key=WECOM_KEY)
    channel = WeComChannel(id="w", key="not-the-key", base_url=serve(robot))
    delivery = channel.send(MESSAGE)
    assert delivery.status == "refused" and delivery.permanent and delivery.code == "93000"
    assert "invalid webhook url" in delivery.answer
    assert robot.messages == []


def test_wecom_server_error_is_transient_and_masked(
    serve: Callable[[Any], str], caplog: pytest.LogCaptureFixture
) -> None:
    robot = FakeWeCom(key=WECOM_KEY, fail_status=503)
    channel = WeComChannel(id="w", key=WECOM_KEY, base_url=serve(robot))
    with caplog.at_level(logging.INFO, logger="service.alerts.channels"):
        delivery = channel.send(MESSAGE)
    assert delivery.status == "unavailable" and delivery.code == "HTTP 503"
    assert "key=***" in delivery.answer  # the proxy page quoted the URL: masked
    assert _secrets_absent(delivery.answer + repr(channel) + channel.target, WECOM_KEY)
    assert caplog.records and _secrets_absent(caplog.text, WECOM_KEY)
    assert "send?key=***" in caplog.text
    with pytest.raises(ChannelUnavailable) as raised:
        delivery.raise_for_status(channel="w")
    assert _secrets_absent(str(raised.value), WECOM_KEY)


def test_wecom_from_its_webhook_url(serve: Callable[[Any], str]) -> None:
    robot = FakeWeCom(key=WECOM_KEY)
    base = serve(robot)
    environ = {"QINGLIU_WECOM_KEY_OPS": WECOM_KEY}
    direct = WeComChannel(id="w", url=f"{base}/cgi-bin/webhook/send?key=${{QINGLIU_WECOM_KEY_OPS}}",
                          environ=environ)  # fmt: skip
    # as the river-chief registry writes it, sent through a proxy (here: the fake)
    registry_url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=${QINGLIU_WECOM_KEY_OPS}"
    proxied = WeComChannel(id="w", url=registry_url, base_url=base, environ=environ)
    assert direct.send(MESSAGE).ok and proxied.send(MESSAGE).ok and len(robot.messages) == 2
    assert proxied.target == f"{base}/cgi-bin/webhook/send?key=***"
    default = WeComChannel(id="w", url=registry_url, environ=environ)
    assert default.target == "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=***"


@pytest.mark.parametrize(
    ("options", "match"),
    [
        pytest.param({"url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"}, "no key",
                     id="no-key"),
        pytest.param({"url": "https://qyapi.weixin.qq.com/send?key=" + WECOM_KEY}, "path",
                     id="wrong-path"),
        pytest.param({"url": "ftp://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=" + WECOM_KEY},
                     "http", id="not-http"),
        pytest.param({"key": WECOM_KEY, "base_url": "qyapi.weixin.qq.com"}, "base_url",
                     id="base-url-without-scheme"),
        pytest.param({"key": WECOM_KEY,
                      "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=x"},
                     "url or key", id="both"),
        pytest.param({}, "url or key", id="neither"),
    ],
)  # fmt: skip
def test_wecom_configuration_errors(options: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match) as raised:
        WeComChannel(id="w", **options)
    assert WECOM_KEY not in str(raised.value)


# --------------------------------------------------------------------------- DingTalk


def test_dingtalk_signed_markdown_arrives(serve: Callable[[Any], str]) -> None:
    robot = FakeDingTalk(token=DING_TOKEN, secret=DING_SECRET, keywords=("超标",))
    now = time.time()
    channel = DingTalkChannel(
        id="ding-city", token=DING_TOKEN, secret=DING_SECRET, base_url=serve(robot),
        clock=lambda: now,
    )  # fmt: skip
    delivery = channel.send(MESSAGE)
    assert delivery == Delivery("sent", "0", "ok")
    assert robot.messages == [
        {"msgtype": "markdown", "markdown": {"title": "小范桥氨氮超标", "text": MARKDOWN}}
    ]
    query = robot.queries[0]
    assert query["timestamp"] == str(int(now * 1000))
    assert query["sign"] == dingtalk_signature(DING_SECRET, query["timestamp"])


def test_dingtalk_mentions_go_as_text_with_at(serve: Callable[[Any], str]) -> None:
    robot = FakeDingTalk(token=DING_TOKEN, secret=DING_SECRET)
    channel = DingTalkChannel(id="d", token=DING_TOKEN, secret=DING_SECRET, base_url=serve(robot))
    text = f"{TEXT} @{CHIEF}"
    assert channel.send(Message(title="超标", text=text, mobiles=(CHIEF, DEPUTY))).ok
    (body,) = robot.messages
    assert body["msgtype"] == "text"
    assert body["text"]["content"] == f"{text}\n@{DEPUTY}"  # each mention written once
    assert body["at"] == {"atMobiles": [CHIEF, DEPUTY], "isAtAll": False}


@pytest.mark.parametrize(
    ("secret", "offset", "match"),
    [
        pytest.param("SEC-wrong", 0.0, "sign not match", id="wrong-secret"),
        pytest.param(DING_SECRET, -2 * 3600.0, "timestamp", id="clock-two-hours-slow"),
    ],
)
def test_dingtalk_refuses_a_bad_signature_for_good(
    serve: Callable[[Any], str], caplog: pytest.LogCaptureFixture, secret: str, offset: float,
    match: str,
) -> None:  # fmt: skip
    robot = FakeDingTalk(token=DING_TOKEN, secret=DING_SECRET)
    channel = DingTalkChannel(
        id="d", token=DING_TOKEN, secret=secret, base_url=serve(robot),
        clock=lambda: time.time() + offset,
    )  # fmt: skip
    with caplog.at_level(logging.INFO, logger="service.alerts.channels"):
        delivery = channel.send(MESSAGE)
    assert delivery.status == "refused" and delivery.permanent and delivery.code == "310000"
    assert match in delivery.answer and robot.messages == []
    sent_sign = robot.queries[0]["sign"]
    logged = caplog.text + delivery.answer + repr(channel)
    assert _secrets_absent(logged, secret, DING_TOKEN, sent_sign)
    with pytest.raises(ChannelRefused) as raised:
        delivery.raise_for_status(channel="d")
    assert isinstance(raised.value, ConfigurationError)
    assert error_line(raised.value)[0] == 6


def test_dingtalk_unsigned_request_to_a_signed_robot_is_refused(
    serve: Callable[[Any], str],
) -> None:
    robot = FakeDingTalk(token=DING_TOKEN, secret=DING_SECRET)
    delivery = DingTalkChannel(id="d", token=DING_TOKEN, base_url=serve(robot)).send(MESSAGE)
    assert (delivery.status, delivery.code) == ("refused", "310000")


def test_dingtalk_keyword_check(serve: Callable[[Any], str]) -> None:
    robot = FakeDingTalk(token=DING_TOKEN, keywords=("水质",))
    delivery = DingTalkChannel(id="d", token=DING_TOKEN, base_url=serve(robot)).send(MESSAGE)
    assert (delivery.status, delivery.code) == ("refused", "310000")
    assert "keywords" in delivery.answer


def test_dingtalk_rate_limit_blocks_for_ten_minutes(serve: Callable[[Any], str]) -> None:
    robot = FakeDingTalk(token=DING_TOKEN, secret=DING_SECRET, rate_limited=True)
    channel = DingTalkChannel(id="d", token=DING_TOKEN, secret=DING_SECRET, base_url=serve(robot))
    delivery = channel.send(MESSAGE)
    assert delivery.status == "rate_limited" and delivery.code == "130101"
    assert delivery.retry_after == DINGTALK_BLOCK_SECONDS == 600 and not delivery.permanent
    robot.rate_limited = False  # the robot stays blocked
    assert channel.send(MESSAGE).retry_after == 600 and robot.messages == []


def test_dingtalk_rate_limit_after_n_a_minute(serve: Callable[[Any], str]) -> None:
    robot = FakeDingTalk(token=DING_TOKEN, per_minute=1)
    channel = DingTalkChannel(id="d", token=DING_TOKEN, base_url=serve(robot))
    assert [channel.send(MESSAGE).status for _ in range(2)] == ["sent", "rate_limited"]


def test_dingtalk_wrong_token(serve: Callable[[Any], str]) -> None:
    robot = FakeDingTalk(token=DING_TOKEN)
    delivery = DingTalkChannel(id="d", token="nope", base_url=serve(robot)).send(MESSAGE)
    assert delivery.permanent and delivery.code == "300001"


def test_dingtalk_from_its_webhook_url(serve: Callable[[Any], str]) -> None:
    robot = FakeDingTalk(token=DING_TOKEN, secret=DING_SECRET)
    channel = DingTalkChannel(
        id="dingtalk-city-office",
        url="https://oapi.dingtalk.com/robot/send?access_token=${QINGLIU_DINGTALK_TOKEN_CITY}",
        secret="${QINGLIU_DINGTALK_SECRET_CITY}", base_url=serve(robot),
        environ={"QINGLIU_DINGTALK_TOKEN_CITY": DING_TOKEN,
                 "QINGLIU_DINGTALK_SECRET_CITY": DING_SECRET},
    )  # fmt: skip
    assert channel.send(MESSAGE).ok and len(robot.messages) == 1
    with pytest.raises(ConfigurationError, match="access_token"):
        DingTalkChannel(id="d", url="https://oapi.dingtalk.com/robot/send?token=x")


def test_dingtalk_signature_by_hand() -> None:
    # the formula of feeds.md §3, computed independently in the fake server
    assert sign(DING_SECRET, 1700000000000) == dingtalk_signature(DING_SECRET, "1700000000000")
    channel = DingTalkChannel(id="d", token=DING_TOKEN, secret=DING_SECRET,
                              clock=lambda: 1700000000.0)  # fmt: skip
    url, _ = channel._signed_url()
    signature = sign(DING_SECRET, 1700000000000)
    encoded = signature.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")
    assert url.endswith(f"&timestamp=1700000000000&sign={encoded}")


# --------------------------------------------------------------------------- SMS


def _sms(base_url: str, **options: Any) -> SmsChannel:
    settings: dict[str, Any] = {"id": "sms-gw", "url": f"{base_url}/sms/send",
                                "template": "SMS_ALERT", "api_key": SMS_KEY}  # fmt: skip
    return SmsChannel(**(settings | options))


def test_sms_parameters_are_all_strings(serve: Callable[[Any], str]) -> None:
    gateway = FakeSmsGateway(api_key=SMS_KEY)
    message = Message(title="超标", text=TEXT, mobiles=(CHIEF, DEPUTY),
                      params={"section": "小范桥", "multiple": 1.3, "value": 2.31, "rank": 2,
                              "note": None})  # fmt: skip
    delivery = _sms(serve(gateway)).send(message)
    assert delivery == Delivery("sent", "OK", "accepted")
    assert gateway.requests == [{
        "template_id": "SMS_ALERT", "phone_numbers": [CHIEF, DEPUTY],
        "params": {"section": "小范桥", "multiple": "1.3", "value": "2.31", "rank": "2",
                   "note": ""},
    }]  # fmt: skip
    assert gateway.authorizations == [f"Bearer {SMS_KEY}"]


def test_sms_without_params_sends_title_and_text(serve: Callable[[Any], str]) -> None:
    gateway = FakeSmsGateway(api_key=SMS_KEY)
    assert _sms(serve(gateway)).send(Message(title="超标", text=TEXT, mobiles=(CHIEF,))).ok
    assert gateway.requests[0]["params"] == {"title": "超标", "text": TEXT}


def test_sms_per_phone_errors(serve: Callable[[Any], str]) -> None:
    gateway = FakeSmsGateway(api_key=SMS_KEY, invalid_phones=("12345",), capped_phones=(DEPUTY,))
    channel = _sms(serve(gateway))
    partly = channel.send(Message(title="超标", text=TEXT, mobiles=(CHIEF, DEPUTY, "12345")))
    assert partly.ok
    assert partly.rejected == (
        (DEPUTY, "DailyLimitExceeded: daily cap of this number reached"),
        ("12345", "InvalidPhoneNumber: not a mobile number"),
    )
    nobody = channel.send(Message(title="超标", text=TEXT, mobiles=(DEPUTY, "12345")))
    assert nobody.status == "refused" and len(nobody.rejected) == 2


@pytest.mark.parametrize(
    ("options", "code"),
    [({"api_key": "wrong"}, "HTTP 401"), ({"template": "SMS_NONE"}, "InvalidTemplate")],
    ids=["wrong-key", "unknown-template"],
)
def test_sms_refusals(serve: Callable[[Any], str], options: dict[str, str], code: str) -> None:
    gateway = FakeSmsGateway(api_key=SMS_KEY)
    delivery = _sms(serve(gateway), **options).send(Message(title="t", text=TEXT, mobiles=(CHIEF,)))
    assert delivery.permanent and delivery.code == code and gateway.requests == []


def test_sms_throttled_with_retry_after(serve: Callable[[Any], str]) -> None:
    gateway = FakeSmsGateway(api_key=SMS_KEY, fail_status=429, retry_after="30")
    delivery = _sms(serve(gateway)).send(Message(title="t", text=TEXT, mobiles=(CHIEF,)))
    assert (delivery.status, delivery.retry_after, delivery.code) == (
        "rate_limited",
        30,
        "HTTP 429",
    )


def test_sms_without_phones_sends_nothing(serve: Callable[[Any], str]) -> None:
    gateway = FakeSmsGateway(api_key=SMS_KEY)
    delivery = _sms(serve(gateway)).send(MESSAGE)
    assert (delivery.status, delivery.code) == ("refused", "no_recipients")
    assert gateway.authorizations == []


def test_sms_fixed_recipients_and_placeholders(serve: Callable[[Any], str]) -> None:
    gateway = FakeSmsGateway(api_key=SMS_KEY)
    base = serve(gateway)
    environ = {"QINGLIU_SMS_GATEWAY": base.removeprefix("http://"),
               "QINGLIU_SMS_TEMPLATE": "SMS_ALERT", "DUTY_MOBILE": DEPUTY}  # fmt: skip
    channel = SmsChannel(id="sms-gateway", url="http://${QINGLIU_SMS_GATEWAY}/sms/send",
                         template="${QINGLIU_SMS_TEMPLATE}", to=["${DUTY_MOBILE}"],
                         api_key=SMS_KEY, environ=environ)  # fmt: skip
    assert channel.send(Message(title="t", text=TEXT, mobiles=(CHIEF, DEPUTY))).ok
    assert channel.send(MESSAGE).ok  # no mobiles of its own: the fixed ones
    phones = [request["phone_numbers"] for request in gateway.requests]
    assert phones == [[DEPUTY, CHIEF], [DEPUTY]]


def test_sms_key_in_another_header(serve: Callable[[Any], str]) -> None:
    gateway = FakeSmsGateway(api_key=SMS_KEY)
    channel = _sms(serve(gateway), api_key_header="X-Api-Key")
    delivery = channel.send(Message(title="t", text=TEXT, mobiles=(CHIEF,)))
    assert delivery.code == "HTTP 401" and gateway.authorizations == [""]  # not a bearer


# --------------------------------------------------------------------------- e-mail

SENDER = "清流告警 <alerts@qingliu.example.cn>"


def _email(port: int, **options: Any) -> EmailChannel:
    settings: dict[str, Any] = {"id": "mail", "host": "127.0.0.1", "port": port,
                                "sender": SENDER, "local_hostname": "qingliu.test",
                                "timeout": 5.0}  # fmt: skip
    return EmailChannel(**(settings | options))


def test_email_plain_and_html_arrive() -> None:
    message = Message(title="小范桥氨氮超标\n（衡水）", text=TEXT + "\n第二行 <b>不是标签</b>",
                      emails=("chief@hs.example.cn",), level="critical")  # fmt: skip
    with FakeSmtp() as server:
        channel = _email(server.port, to=("${QINGLIU_OPS_EMAIL}", "chief@hs.example.cn"),
                         environ={"QINGLIU_OPS_EMAIL": "duty@hs.example.cn"})  # fmt: skip
        delivery = channel.send(message)
    assert delivery.ok and delivery.code == "SMTP 250" and delivery.rejected == ()
    (mail,) = server.mails
    assert mail.mail_from == "alerts@qingliu.example.cn"
    assert mail.rcpt_tos == ("duty@hs.example.cn", "chief@hs.example.cn")  # once each
    parsed = mail.parsed()
    assert parsed["Subject"] == "小范桥氨氮超标 （衡水）" and parsed["From"] == SENDER
    assert parsed["X-Priority"] == "1"
    assert [part.get_content_type() for part in parsed.iter_parts()] == ["text/plain", "text/html"]
    plain, page = (part.get_content() for part in parsed.iter_parts())
    assert plain.strip() == message.text
    assert "第二行 &lt;b&gt;不是标签&lt;/b&gt;" in page and "<br>" in page
    assert not mail.tls  # the server offered no STARTTLS: sent without


def test_email_html_given() -> None:
    message = Message(title="t", text="plain", html="<h1>告警</h1>", emails=("a@b.cn",))
    with FakeSmtp() as server:
        assert _email(server.port).send(message).ok
    html_part = list(server.mails[0].parsed().iter_parts())[1]
    assert html_part.get_content().strip() == "<h1>告警</h1>"


def test_email_refused_recipient_is_permanent() -> None:
    with FakeSmtp(refuse=("gone@hs.example.cn",)) as server:
        channel = _email(server.port)
        alone = channel.send(Message(title="t", text=TEXT, emails=("gone@hs.example.cn",)))
        partly = channel.send(
            Message(title="t", text=TEXT, emails=("gone@hs.example.cn", "chief@hs.example.cn"))
        )
    assert alone.status == "refused" and alone.permanent and alone.code == "SMTP 550"
    assert alone.rejected[0][0] == "gone@hs.example.cn" and "550" in alone.rejected[0][1]
    assert partly.ok and [address for address, _ in partly.rejected] == ["gone@hs.example.cn"]
    assert [mail.rcpt_tos for mail in server.mails] == [("chief@hs.example.cn",)]


def test_email_greylisted_recipient_is_transient() -> None:
    with FakeSmtp(temporary=("new@hs.example.cn",)) as server:
        delivery = _email(server.port).send(
            Message(title="t", text=TEXT, emails=("new@hs.example.cn",))
        )
    assert (delivery.status, delivery.code) == ("unavailable", "SMTP 450")


def test_email_without_recipients_connects_to_nothing() -> None:
    delivery = _email(closed_port()).send(MESSAGE)
    assert (delivery.status, delivery.code) == ("refused", "no_recipients")


def test_email_starttls_and_login(certificate: tuple[ssl.SSLContext, ssl.SSLContext]) -> None:
    server_tls, client_tls = certificate
    message = Message(title="t", text=TEXT, emails=("chief@hs.example.cn",))
    with FakeSmtp(tls_context=server_tls, credentials=("alerts", "pa55 word")) as server:
        good = _email(server.port, username="alerts", password="${MAIL_PASSWORD}",
                      ssl_context=client_tls, require_starttls=True,
                      environ={"MAIL_PASSWORD": "pa55 word"})  # fmt: skip
        bad = _email(server.port, username="alerts", password="wrong", ssl_context=client_tls)
        untrusting = _email(server.port, username="alerts", password="pa55 word")
        assert good.send(message).ok
        denied = bad.send(message)
        unverified = untrusting.send(message)
    assert [(mail.tls, mail.login) for mail in server.mails] == [(True, "alerts")]
    assert denied.permanent and denied.code == "SMTP 535"
    assert unverified.permanent and unverified.code == "SSLCertVerificationError"
    assert _secrets_absent(denied.answer + unverified.answer, "pa55 word", "wrong")


def test_email_required_starttls_and_plain_login_are_refused() -> None:
    message = Message(title="t", text=TEXT, emails=("chief@hs.example.cn",))
    with FakeSmtp(credentials=("alerts", "pw")) as server:
        required = _email(server.port, require_starttls=True).send(message)
        clear = _email(server.port, username="alerts", password="pw").send(message)
    assert (required.status, required.code) == ("refused", "no_starttls")
    assert (clear.status, clear.code) == ("refused", "plain_login")
    assert server.mails == []


# --------------------------------------------------------------------------- transport failures

TIMEOUT = 0.5
MAIL = Message(title="t", text=TEXT, mobiles=(CHIEF,), emails=("chief@hs.example.cn",))


def _channel(kind: str, port: int) -> Channel:
    base = f"http://127.0.0.1:{port}"
    if kind == "wecom":
        return WeComChannel(id="w", key=WECOM_KEY, base_url=base, timeout=TIMEOUT)
    if kind == "dingtalk":
        return DingTalkChannel(id="d", token=DING_TOKEN, secret=DING_SECRET, base_url=base,
                               timeout=TIMEOUT)  # fmt: skip
    if kind == "sms":
        return _sms(base, timeout=TIMEOUT)
    return _email(port, timeout=TIMEOUT)


KINDS = ["wecom", "dingtalk", "sms", "email"]


@pytest.mark.parametrize("kind", KINDS)
def test_unreachable_port_is_transient(kind: str) -> None:
    channel = _channel(kind, closed_port())
    started = time.monotonic()
    delivery = channel.send(MAIL)
    assert time.monotonic() - started < TIMEOUT + 1.0
    assert delivery.status == "unavailable" and not delivery.permanent, delivery
    assert delivery.retry_after is None
    assert _secrets_absent(delivery.answer, WECOM_KEY, DING_TOKEN, DING_SECRET, SMS_KEY)


@pytest.mark.parametrize("kind", KINDS)
def test_a_hung_server_is_transient_within_the_timeout(kind: str) -> None:
    with SilentServer() as silent:
        channel = _channel(kind, silent.port)
        started = time.monotonic()
        delivery = channel.send(MAIL)
        elapsed = time.monotonic() - started
    assert TIMEOUT * 0.9 <= elapsed < TIMEOUT + 1.0, elapsed
    assert delivery.status == "unavailable", delivery
    assert _secrets_absent(delivery.answer, WECOM_KEY, DING_TOKEN, DING_SECRET, SMS_KEY)


# --------------------------------------------------------------------------- secrets


@pytest.mark.parametrize(
    ("build", "variable"),
    [
        pytest.param(lambda url, env: WeComChannel(id="w", key="${WECOM_KEY}", base_url=url,
                                                   environ=env), "WECOM_KEY", id="wecom-key"),
        pytest.param(lambda url, env: DingTalkChannel(id="d", token="${DING_TOKEN}",
                                                      base_url=url, environ=env),
                     "DING_TOKEN", id="dingtalk-token"),
        pytest.param(lambda url, env: DingTalkChannel(id="d", token=DING_TOKEN,
                                                      secret="${DING_SECRET}", base_url=url,
                                                      environ=env),
                     "DING_SECRET", id="dingtalk-secret"),
        pytest.param(lambda url, env: _sms(url, api_key="${SMS_KEY}", environ=env), "SMS_KEY",
                     id="sms-key"),
        pytest.param(lambda url, env: WeComChannel(
                         id="w", url=url + "/cgi-bin/webhook/send?key=${WECOM_KEY_OPS}",
                         environ=env), "WECOM_KEY_OPS", id="wecom-url"),
        pytest.param(lambda url, env: _sms(url, template="${SMS_TEMPLATE}", environ=env),
                     "SMS_TEMPLATE", id="sms-template"),
        pytest.param(lambda url, env: EmailChannel(id="m", host="127.0.0.1", sender=SENDER,
                                                   to=["${OPS_EMAIL}"], environ=env),
                     "OPS_EMAIL", id="email-to"),
        pytest.param(lambda url, env: EmailChannel(id="m", host="127.0.0.1", sender=SENDER,
                                                   username="u", password="${SMTP_PASSWORD}",
                                                   environ=env),
                     "SMTP_PASSWORD", id="email-password"),
    ],
)  # fmt: skip
def test_a_missing_secret_variable_names_it_and_sends_nothing(
    serve: Callable[[Any], str], build: Callable[[str, dict[str, str]], Channel], variable: str
) -> None:
    robot = FakeWeCom(key=WECOM_KEY)
    url = serve(robot)
    for environ in ({}, {variable: ""}):
        with pytest.raises(ConfigurationError, match=variable) as raised:
            build(url, environ)
        assert error_line(raised.value)[0] == 6
    assert robot.answers == []


def test_secrets_from_the_environment(
    serve: Callable[[Any], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    robot = FakeWeCom(key=WECOM_KEY)
    monkeypatch.setenv("QINGLIU_TEST_WECOM_KEY", WECOM_KEY)
    channel = WeComChannel(id="w", key="${QINGLIU_TEST_WECOM_KEY}", base_url=serve(robot))
    assert channel.send(MESSAGE).ok and WECOM_KEY not in repr(channel)


def test_resolve_secret() -> None:
    assert resolve_secret("plain") == "plain"
    assert resolve_secret("${A}:${B}", {"A": "x", "B": "y"}) == "x:y"
    assert resolve_secret("$A {A}", {}) == "$A {A}"  # only ${NAME} is a placeholder
    with pytest.raises(ConfigurationError, match="MISSING_ONE"):
        resolve_secret("${MISSING_ONE}", {})
    assert "environ(" not in str(inspect.signature(resolve_secret))  # help() shows no secrets


def test_resolve_secret_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QINGLIU_TEST_SECRET", "s3cret")
    assert resolve_secret("${QINGLIU_TEST_SECRET}") == "s3cret"
    monkeypatch.delenv("QINGLIU_TEST_SECRET")
    with pytest.raises(ConfigurationError, match="QINGLIU_TEST_SECRET"):
        resolve_secret("${QINGLIU_TEST_SECRET}")


@pytest.mark.parametrize("empty", ["", "   "])
def test_an_empty_key_is_a_configuration_error(empty: str) -> None:
    with pytest.raises(ConfigurationError, match="key"):
        WeComChannel(id="w", key=empty)
    with pytest.raises(ConfigurationError, match="token"):
        DingTalkChannel(id="d", token=empty)


def test_fixed_recipients_are_checked() -> None:
    environ = {"OPS_EMAIL": "ops@hs.example.cn\nBcc: all@example.cn", "DUTY": "duty"}
    with pytest.raises(ConfigurationError, match="e-mail"):
        EmailChannel(id="m", host="h", sender=SENDER, to=["${OPS_EMAIL}"], environ=environ)
    with pytest.raises(ConfigurationError, match="mobile"):
        SmsChannel(id="s", url="https://sms.example.cn/send", template="T", to=["${DUTY}"],
                   environ=environ)  # fmt: skip
    with pytest.raises(ConfigurationError, match="sender"):
        EmailChannel(id="m", host="h", sender="清流告警")


def test_masking() -> None:
    assert mask_url("https://h/robot/send?access_token=t0k&timestamp=1&sign=a%2Bb") == (
        "https://h/robot/send?access_token=***&timestamp=1&sign=***"
    )
    assert mask_url("https://user:pw@h/x") == "https://h/x"
    assert mask_url("https://user:pw@h/x?a=1") == "https://h/x?a=1"
    mask = Masker(["a+b/c=", ""])
    assert mask("sign=a%2Bb%2Fc%3D and a+b/c= and a%2Bb/c%3D") == "sign=*** and *** and ***"


# --------------------------------------------------------------------------- error mapping


def _httpx_exceptions() -> list[type[BaseException]]:
    found = []
    for name in httpx.__all__:
        item = getattr(httpx, name)
        if isinstance(item, type) and issubclass(item, BaseException):
            found.append(item)
    return found


def _build(kind: type[BaseException]) -> BaseException:
    if kind is httpx.HTTPStatusError:
        request = httpx.Request("POST", "https://qyapi.weixin.qq.com/")
        return kind("503", request=request, response=httpx.Response(503, request=request))
    try:
        return kind("boom")
    except TypeError:  # RequestNotRead, ResponseNotRead … take no message
        return kind()


@pytest.mark.parametrize("kind", _httpx_exceptions(), ids=lambda kind: kind.__name__)
def test_every_httpx_error_becomes_a_delivery(kind: type[BaseException]) -> None:
    delivery = delivery_for_exception(_build(kind), mask=Masker([]))
    assert isinstance(delivery, Delivery) and not delivery.ok
    refused = issubclass(kind, httpx.InvalidURL | httpx.UnsupportedProtocol)
    assert delivery.permanent is refused
    if issubclass(kind, httpx.TimeoutException | httpx.NetworkError):
        assert delivery.status == "unavailable"


def test_an_unverified_certificate_behind_httpx_is_refused() -> None:
    try:
        try:
            raise ssl.SSLCertVerificationError(1, "certificate verify failed")
        except ssl.SSLError as inner:
            raise httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED]") from inner
    except httpx.ConnectError as exc:
        assert delivery_for_exception(exc, mask=Masker([])).permanent


def _smtp_exceptions() -> list[BaseException]:
    made: list[BaseException] = []
    for name in smtplib.__all__:
        kind = getattr(smtplib, name)
        if not (isinstance(kind, type) and issubclass(kind, BaseException)):
            continue
        if kind is smtplib.SMTPRecipientsRefused:
            made.append(kind({"a@b.cn": (550, b"no such user")}))
            made.append(kind({"a@b.cn": (450, b"greylisted")}))
        elif kind is smtplib.SMTPSenderRefused:
            made += [kind(553, b"sender refused", "x@y.cn"), kind(451, b"later", "x@y.cn")]
        elif issubclass(kind, smtplib.SMTPResponseException):
            made += [kind(554, b"refused"), kind(421, b"service not available")]
        else:
            made.append(kind("boom"))
    return made


SOCKET_ERRORS: list[BaseException] = [
    TimeoutError("timed out"), ConnectionRefusedError(111, "refused"),
    ConnectionResetError(104, "reset"), socket.gaierror(-2, "Name or service not known"),
    ssl.SSLError(1, "wrong version number"), OSError(113, "No route to host"),
    ssl.SSLCertVerificationError(1, "certificate verify failed"),
]  # fmt: skip


def _expected(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return "unavailable" if all(400 <= code < 500 for code in codes) else "refused"
    if isinstance(exc, smtplib.SMTPResponseException):
        return "refused" if exc.smtp_code >= 500 else "unavailable"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "unavailable"
    if isinstance(exc, smtplib.SMTPException | ssl.SSLCertVerificationError):
        return "refused"
    return "unavailable"


@pytest.mark.parametrize("exc", _smtp_exceptions() + SOCKET_ERRORS, ids=repr)
def test_every_smtplib_and_socket_error_becomes_a_delivery(exc: BaseException) -> None:
    delivery = delivery_for_smtp_error(exc, mask=Masker([]))
    assert isinstance(delivery, Delivery) and delivery.status == _expected(exc)


def test_every_smtplib_error_is_covered() -> None:
    covered = {type(exc) for exc in _smtp_exceptions()}
    expected = {getattr(smtplib, name) for name in smtplib.__all__
                if isinstance(getattr(smtplib, name), type)
                and issubclass(getattr(smtplib, name), BaseException)}  # fmt: skip
    assert covered == expected and len(expected) == 10


@pytest.mark.parametrize(
    ("delivery", "error", "exit_code"),
    [
        (Delivery("rate_limited", "130101", "too fast", retry_after=600.0), RateLimited, 5),
        (Delivery("unavailable", "HTTP 502", "bad gateway"), ChannelUnavailable, 5),
        (Delivery("refused", "310000", "sign not match"), ChannelRefused, 6),
    ],
    ids=["rate-limited", "unavailable", "refused"],
)
def test_raise_for_status_joins_the_tree(
    delivery: Delivery, error: type[ChannelError], exit_code: int
) -> None:
    with pytest.raises(error) as raised:
        delivery.raise_for_status(channel="ding-city")
    assert raised.value.channel == "ding-city" and raised.value.code == delivery.code
    assert error_line(raised.value)[0] == exit_code
    sent = Delivery("sent", "0", "ok")
    assert sent.raise_for_status() is sent


def test_delivery_is_consistent() -> None:
    with pytest.raises(ValueError, match="retry_after"):
        Delivery("rate_limited", "45009")
    with pytest.raises(ValueError, match="retry_after"):
        Delivery("unavailable", "HTTP 503", retry_after=5.0)
    with pytest.raises(ValueError, match="status"):
        Delivery("lost", "x")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the extension point


def test_built_ins_are_channels() -> None:
    built = [_channel(kind, 9) for kind in KINDS]
    assert all(isinstance(channel, Channel) for channel in built)
    assert [channel.kind for channel in built] == KINDS


def test_message_checks() -> None:
    with pytest.raises(InputError, match="critical"):
        Message(title="t", text="x", level="urgent")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="title"):
        Message(title=" ", text="x")
    with pytest.raises(InputError, match="mobiles"):
        Message(title="t", text="x", mobiles=CHIEF)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="mobile"):
        Message(title="t", text="x", mobiles=("138 0013 8000",))
    with pytest.raises(InputError, match="e-mail"):
        Message(title="t", text="x", emails=("chief@hs.example.cn\nBcc: all@x.cn",))
    message = Message(title="t", text="x", mobiles=[CHIEF], params={"a": 1})  # type: ignore[arg-type]
    assert message.mobiles == (CHIEF,) and hash(message)
    with pytest.raises(TypeError):
        message.params["b"] = 2  # type: ignore[index]


def test_documented_limits() -> None:
    # docs/feeds.md §3: 20 messages a minute per robot, a 10-minute block on DingTalk, and the
    # practical rule of one send every 3 s per robot
    assert (WECOM_PER_MINUTE, DINGTALK_PER_MINUTE, MIN_SEND_INTERVAL) == (20, 20, 3.0)
    assert (WECOM_TEXT_MAX_BYTES, WECOM_MARKDOWN_MAX_BYTES) == (2048, 4096)


@given(st.text(), st.integers(min_value=len(TRUNCATION_MARKER.encode()), max_value=64))
def test_truncation_fits_and_keeps_a_prefix(text: str, limit: int) -> None:
    cut = truncate_utf8(text, limit)
    assert len(cut.encode("utf-8")) <= limit
    if cut != text:
        assert cut.endswith(TRUNCATION_MARKER)
        assert text.startswith(cut.removesuffix(TRUNCATION_MARKER))


def test_public_names() -> None:
    kind = {True: 0, False: 1}
    names = channels.__all__
    assert names == sorted(names, key=lambda n: (kind[n.isupper()] if n[0].isupper() else 2, n))
    assert all(hasattr(channels, name) for name in names)


def test_answers_are_json_objects_or_unavailable(serve: Callable[[Any], str]) -> None:
    class Odd:
        def app(self) -> Any:
            from starlette.applications import Starlette
            from starlette.responses import Response
            from starlette.routing import Route

            async def answer(request: Any) -> Response:
                return Response(json.dumps([1, 2]), media_type="application/json")

            return Starlette(routes=[Route("/cgi-bin/webhook/send", answer, methods=["POST"])])

    delivery = WeComChannel(id="w", key=WECOM_KEY, base_url=serve(Odd())).send(MESSAGE)
    assert (delivery.status, delivery.code) == ("unavailable", "HTTP 200")
