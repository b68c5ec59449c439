"""``qingliu alerts test|list|ack`` through Typer's CliRunner: a channel of a chiefs file tried
against the fake WeCom robot (tests/service/alert_servers.py), episodes listed and acknowledged
on a SQLite database in tmp_path."""

from __future__ import annotations

import datetime as dt
import getpass
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, update
from typer.testing import CliRunner

from sections.alert_rules import AlertLevel, Condition
from sections.river_chiefs import parse_river_chiefs
from service.alerts.episodes import apply_conditions
from service.db.engine import make_engine, migrate
from service.db.models import AlertEpisode, JobRun, table_of
from service.settings import Settings
from tests.service.alert_servers import FakeSmsGateway, FakeWeCom, closed_port

runner = CliRunner()
EPISODES = table_of(AlertEpisode)
KEY = "693a91f6-test-key"

CHIEFS = """
[[reaches]]
id = "fuyang-wuqiang"
river = "滏阳河"
county = "wuqiang"
sections = ["xiaofanqiao"]
confirmed = true

[[chiefs]]
id = "county"
post = "滏阳河武强县县级河长"
level = "县"
reaches = ["fuyang-wuqiang"]
channels = ["robot", "robot-missing", "sms"]
confirmed = true

[[channels]]
id = "robot"
kind = "wecom"
url = "{robot}/cgi-bin/webhook/send?key=${{T_ALERTS_KEY}}"
confirmed = true

[[channels]]
id = "robot-missing"
kind = "wecom"
url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=${{T_ALERTS_UNSET_KEY}}"
confirmed = true

[[channels]]
id = "sms"
kind = "sms"
url = "{sms}/sms/send?api_key=${{T_ALERTS_SMS_KEY}}"
template = "SMS_ALERT"
to = ["13800138000"]
confirmed = true

[[channels]]
id = "mail"
kind = "email"
to = ["ops@example.cn"]
confirmed = true
"""


def chiefs_file(tmp_path: Path, *, robot: str, sms: str = "http://127.0.0.1:9") -> Path:
    path = tmp_path / "chiefs.toml"
    path.write_text(CHIEFS.format(robot=robot, sms=sms), encoding="utf-8")
    return path


ENV = {"T_ALERTS_KEY": KEY, "T_ALERTS_SMS_KEY": "sk-test"}


def alerts_test(path: Path, channel: str, env: dict[str, str] | None = None) -> Any:
    return runner.invoke(app_(), ["--chiefs", str(path), "alerts", "test", "--channel", channel],
                         env=ENV if env is None else env)  # fmt: skip


def app_() -> Any:
    from service.cli import app

    return app


# --- alerts test ------------------------------------------------------------------------------


def test_alerts_test_sends_through_the_fake_robot(
    serve: Callable[[Any], str], tmp_path: Path
) -> None:
    robot = FakeWeCom(key=KEY)
    result = alerts_test(chiefs_file(tmp_path, robot=serve(robot)), "robot")
    assert result.exit_code == 0, result.output
    (message,) = robot.messages
    assert message["msgtype"] == "markdown"
    assert "清流预警通道测试" in message["markdown"]["content"]
    assert "robot" in message["markdown"]["content"]
    for text in ("通道 / channel: robot (wecom)", "key=***", "已发送 / sent", "应答码 / code:  0",
                 "应答 / answer:  ok"):  # fmt: skip
        assert text in result.output, text
    assert KEY not in result.output


def test_alerts_test_rate_limited_exits_5(serve: Callable[[Any], str], tmp_path: Path) -> None:
    robot = FakeWeCom(key=KEY, rate_limited=True)
    result = alerts_test(chiefs_file(tmp_path, robot=serve(robot)), "robot")
    assert result.exit_code == 5, result.output
    assert "45009" in result.output and "发送过快 / rate limited" in result.output
    assert "重试 / retry after: 60 s" in result.output
    assert robot.messages == []


def test_alerts_test_unreachable_robot_exits_5(tmp_path: Path) -> None:
    result = alerts_test(chiefs_file(tmp_path, robot=f"http://127.0.0.1:{closed_port()}"), "robot")
    assert result.exit_code == 5, result.output
    assert "暂不可用 / unavailable" in result.output


def test_alerts_test_wrong_key_is_refused_exits_6(
    serve: Callable[[Any], str], tmp_path: Path
) -> None:
    robot = FakeWeCom(key="another-key")
    result = alerts_test(chiefs_file(tmp_path, robot=serve(robot)), "robot")
    assert result.exit_code == 6, result.output
    assert "93000" in result.output and "被拒收 / refused" in result.output
    assert KEY not in result.output


def test_alerts_test_missing_secret_exits_6_naming_it(tmp_path: Path) -> None:
    result = alerts_test(chiefs_file(tmp_path, robot="http://127.0.0.1:9"), "robot-missing")
    assert result.exit_code == 6, result.output
    assert "T_ALERTS_UNSET_KEY" in result.output
    result = alerts_test(chiefs_file(tmp_path, robot="http://127.0.0.1:9"), "robot", env={})
    assert result.exit_code == 6 and "T_ALERTS_KEY" in result.output


def test_alerts_test_email_without_smtp_exits_6(tmp_path: Path) -> None:
    result = alerts_test(chiefs_file(tmp_path, robot="http://127.0.0.1:9"), "mail")
    assert result.exit_code == 6, result.output
    assert "QINGLIU_SMTP_HOST" in result.output


def test_alerts_test_sms_gateway(serve: Callable[[Any], str], tmp_path: Path) -> None:
    gateway = FakeSmsGateway(api_key="sk-test")
    result = alerts_test(chiefs_file(tmp_path, robot="http://127.0.0.1:9", sms=serve(gateway)),
                         "sms")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert gateway.authorizations == ["Bearer sk-test"]
    (request,) = gateway.requests
    assert request["phone_numbers"] == ["13800138000"]
    assert request["params"]["title"] == "清流预警通道测试"


def test_alerts_test_unknown_channel_exits_3(tmp_path: Path) -> None:
    result = alerts_test(chiefs_file(tmp_path, robot="http://127.0.0.1:9"), "nope")
    assert result.exit_code == 3, result.output
    assert "nope" in result.output and "robot" in result.output


# --- alerts list / ack --------------------------------------------------------------------------

T0 = dt.datetime(2026, 7, 1, 2, 0, tzinfo=dt.UTC)  # 10:00 Beijing


def condition(level: AlertLevel, factor: str, at: dt.datetime) -> Condition:
    return Condition(section_id="xiaofanqiao", factor=factor, level=level,
                     rule_id=f"rule-{level.name}", audience="river_chiefs", observed_at=at,
                     value=2.3, limit=1.5, detail="连续两个 4 小时值超标", trend="rising",
                     probability=0.8)  # fmt: skip


@pytest.fixture
def database(tmp_path: Path) -> Iterator[tuple[Engine, dict[str, str]]]:
    """A migrated SQLite database with three episodes: nh3n (yellow, open), codmn (orange,
    opened an hour later, open) and tp (closed)."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    engine = make_engine(Settings(data_dir=data_dir))
    migrate(engine)
    chiefs = parse_river_chiefs(CHIEFS.format(robot="http://127.0.0.1:9", sms="http://x.cn"))
    apply_conditions(engine=engine, conditions=[condition(AlertLevel.YELLOW, "nh3n", T0)],
                     chiefs=chiefs, registry=None, now=T0)  # fmt: skip
    apply_conditions(engine=engine, conditions=[condition(AlertLevel.ORANGE, "codmn", T0)],
                     chiefs=chiefs, registry=None, now=T0 + dt.timedelta(hours=1))  # fmt: skip
    with engine.begin() as connection:
        connection.execute(EPISODES.insert().values(
            section_id="xiaofanqiao", factor="tp", audience="river_chiefs", level=1,
            rule_id="rule-INFO", state="closed", escalation_step=0,
            opened_at=T0 - dt.timedelta(days=3), updated_at=T0 - dt.timedelta(days=2),
            last_condition_at=T0 - dt.timedelta(days=3), closed_at=T0 - dt.timedelta(days=2),
        ))  # fmt: skip
    yield engine, {"QINGLIU_DATA_DIR": str(data_dir)}
    engine.dispose()


def ids(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {r.factor: r.id for r in connection.execute(select(EPISODES))}


def test_alerts_list_newest_first(database: tuple[Engine, dict[str, str]]) -> None:
    _, env = database
    result = runner.invoke(app_(), ["alerts", "list"], env=env)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    rows = [line for line in lines if "小范桥" in line]
    names = ("高锰酸盐指数", "氨氮", "总磷")  # codmn, nh3n, tp
    assert [next(f for f in names if f in row) for row in rows] == list(names)
    assert "橙色" in rows[0] and "未确认" in rows[0] and "2026-07-01 11:00" in rows[0]
    assert "黄色" in rows[1] and "2026-07-01 10:00" in rows[1]
    assert "已关闭" in rows[2]

    opened = runner.invoke(app_(), ["alerts", "list", "--open", "--format", "json"], env=env)
    assert opened.exit_code == 0, opened.output
    data = json.loads(opened.output)
    assert [(e["factor"], e["level_label"], e["state"]) for e in data] == [
        ("codmn", "橙色", "open"), ("nh3n", "黄色", "open")
    ]  # fmt: skip
    assert data[0]["section_name"] == "小范桥" and data[0]["escalation_step"] == 0
    assert data[1]["opened_at"] == "2026-07-01T02:00:00+00:00"
    assert data[1]["acknowledged_by"] is None


def test_alerts_ack_then_list_shows_who(database: tuple[Engine, dict[str, str]]) -> None:
    engine, env = database
    episode = ids(engine)["nh3n"]
    result = runner.invoke(app_(), ["alerts", "ack", str(episode), "--note", "已派人现场核查"],
                           env=env)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"告警事件 {episode} 已确认（cli:{getpass.getuser()}）" in result.output
    with engine.connect() as connection:
        row = connection.execute(select(EPISODES).where(EPISODES.c.id == episode)).one()
    assert (row.state, row.acknowledged_by, row.acknowledged_note) == (
        "acknowledged", f"cli:{getpass.getuser()}", "已派人现场核查"
    )  # fmt: skip
    assert row.next_escalation_at is None

    again = runner.invoke(app_(), ["alerts", "ack", str(episode)], env=env)
    assert again.exit_code == 0 and "already acknowledged" in again.output

    listed = runner.invoke(app_(), ["alerts", "list", "--format", "json"], env=env)
    by_factor = {e["factor"]: e for e in json.loads(listed.output)}
    assert by_factor["nh3n"]["state"] == "acknowledged"
    assert by_factor["nh3n"]["acknowledged_by"] == f"cli:{getpass.getuser()}"


def test_alerts_ack_by_a_named_person(database: tuple[Engine, dict[str, str]]) -> None:
    engine, env = database
    episode = ids(engine)["codmn"]
    result = runner.invoke(
        app_(), ["alerts", "ack", str(episode), "--by", "县河长办 张三"], env=env
    )
    assert result.exit_code == 0, result.output
    with engine.connect() as connection:
        by = connection.execute(select(EPISODES.c.acknowledged_by)
                                .where(EPISODES.c.id == episode)).scalar_one()  # fmt: skip
    assert by == "县河长办 张三"


def test_alerts_ack_unknown_and_closed(database: tuple[Engine, dict[str, str]]) -> None:
    engine, env = database
    unknown = runner.invoke(app_(), ["alerts", "ack", "999"], env=env)
    assert unknown.exit_code == 3 and "999" in unknown.output
    closed = runner.invoke(app_(), ["alerts", "ack", str(ids(engine)["tp"])], env=env)
    assert closed.exit_code == 4, closed.output
    assert "已关闭" in closed.output or "closed" in closed.output


def test_alerts_list_empty(tmp_path: Path) -> None:
    result = runner.invoke(app_(), ["alerts", "list", "--open"],
                           env={"QINGLIU_DATA_DIR": str(tmp_path / "empty")})  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "没有告警事件 / no alert episodes" in result.output


def test_alerts_ack_of_a_closed_episode_says_when_it_closed(
    database: tuple[Engine, dict[str, str]],
) -> None:
    engine, env = database
    with engine.begin() as connection:
        connection.execute(update(EPISODES).where(EPISODES.c.factor == "tp")
                           .values(updated_at=T0 - dt.timedelta(days=1)))  # fmt: skip
    result = runner.invoke(app_(), ["alerts", "ack", str(ids(engine)["tp"])], env=env)
    assert result.exit_code == 4 and "2026-06-29 10:00" in result.output


def test_alerts_run_once_passes_the_rules_and_reports_channel_problems(
    database: tuple[Engine, dict[str, str]],
) -> None:
    """One pass over an empty observation table: no condition, the episodes left as they are
    (nothing new has been seen, and none is old enough to close), every bundled robot whose
    ${VAR} secret is unset reported on stderr — the pass still runs."""
    engine, env = database
    before = ids(engine)
    result = runner.invoke(app_(), ["alerts", "run", "--once"], env=env)
    assert result.exit_code == 0, result.output
    assert "预警 / alerts: 0 条件 / conditions" in result.stdout
    assert "QINGLIU_WECOM_KEY" in result.stderr  # the bundled channels' secrets are not set
    assert ids(engine) == before
    with engine.connect() as connection:
        runs = connection.execute(
            select(table_of(JobRun).c.job).where(table_of(JobRun).c.job == "alerts")
        ).all()
    assert len(runs) == 1  # the heartbeat reads this row
