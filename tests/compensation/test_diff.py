"""Line-by-line differences between two versions of a month's statement."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

from compensation.diff import LineChange, statement_diff
from compensation.engine import Measurement, monthly_statement
from compensation.rules import load_rule_set
from compensation.statement import (
    DeductionLine,
    EventLine,
    ExemptLine,
    MonthlyStatement,
    RewardLine,
    RuleSetSummary,
    UnitStatement,
)
from sections.registry import Registry

D = Decimal
MONTH = dt.date(2025, 3, 1)
SUMMARY = RuleSetSummary(
    "hengshui-2021", "衡政办字〔2021〕3号", "标题", ("factors.codmn.step = 0.2",)
)


def deduction(
    section: str = "s1",
    factor: str = "cod",
    value: str = "24",
    multiple: str = "0.2",
    tiers: int = 1,
    refs: tuple[str, ...] = ("in.csv:2",),
) -> DeductionLine:
    return DeductionLine(
        section=section,
        factor=factor,
        value=D(value),
        standard=D("20"),
        inflow_value=None,
        multiple=D(multiple),
        tiers=tiers,
        amount_wan=D(30) * tiers,
        basis="例行监测最高值",
        clause="衡政办字〔2021〕3号：COD 超标倍数每 0.2 倍为一档",
        refs=refs,
    )


def event(start: dt.date = dt.date(2025, 3, 10)) -> EventLine:
    return EventLine("s1", "cod", start, start + dt.timedelta(days=2), 3,
                     start + dt.timedelta(days=2), D("30"), "连续 3 天")  # fmt: skip


def statement(
    *lines: DeductionLine,
    events: tuple[EventLine, ...] = (),
    exempt: tuple[ExemptLine, ...] = (),
    rewards: tuple[RewardLine, ...] = (),
    other_unit: UnitStatement | None = None,
) -> MonthlyStatement:
    units = [UnitStatement("a", "甲县", ("s1", "s2"), lines, events, exempt, rewards)]
    if other_unit is not None:
        units.append(other_unit)
    return MonthlyStatement(MONTH, SUMMARY, tuple(units))


def test_identical_statements_have_no_diff() -> None:
    before = statement(deduction(), deduction("s2", "nh3n", "1.5", "0.5"), events=(event(),))
    after = statement(deduction(), deduction("s2", "nh3n", "1.5", "0.5"), events=(event(),))
    assert statement_diff(before, after) == ()
    assert statement_diff(before, before) == ()


def test_changed_references_alone_are_no_change() -> None:
    before = statement(deduction(refs=("in.csv:2",)))
    after = statement(deduction(refs=("db:17",)))
    assert statement_diff(before, after) == ()


def test_a_changed_value_is_one_changed_line_naming_the_fields() -> None:
    before = statement(deduction(value="24", multiple="0.2", tiers=1))
    after = statement(deduction(value="28", multiple="0.4", tiers=2))
    assert statement_diff(before, after) == (
        LineChange(
            unit="a",
            kind="deduction",
            key="s1/cod",
            change="changed",
            before=(("value", "24"), ("multiple", "0.2"), ("tiers", "1"), ("amount_wan", "30")),
            after=(("value", "28"), ("multiple", "0.4"), ("tiers", "2"), ("amount_wan", "60")),
        ),
    )


def test_an_added_and_a_removed_line() -> None:
    before = statement(deduction(), deduction("s2", "tp", "0.3", "0.5"))
    after = statement(deduction(), deduction("s2", "nh3n", "1.5", "0.5"))
    changes = statement_diff(before, after)
    assert [(c.unit, c.kind, c.key, c.change) for c in changes] == [
        ("a", "deduction", "s2/nh3n", "added"),
        ("a", "deduction", "s2/tp", "removed"),
    ]
    added, removed = changes
    assert added.before == ()
    assert ("factor", "nh3n") in added.after and ("amount_wan", "30") in added.after
    assert all(name != "refs" for name, _ in added.after)
    assert removed.after == ()
    assert ("value", "0.3") in removed.before and ("section", "s2") in removed.before


def test_an_exemption_replacing_a_deduction() -> None:
    before = statement(deduction())
    after = statement(exempt=(ExemptLine("s1", "cod", "frozen", "结冰"),))
    changes = statement_diff(before, after)
    assert [(c.kind, c.key, c.change) for c in changes] == [
        ("deduction", "s1/cod", "removed"),
        ("exempt", "s1/cod", "added"),
    ]
    assert dict(changes[1].after)["status"] == "frozen"


def test_events_are_keyed_by_their_start_and_rewards_by_section() -> None:
    before = statement(events=(event(dt.date(2025, 3, 10)),))
    reward = RewardLine("s2", D("10"), "各考核因子均达标", "")
    after = statement(events=(event(dt.date(2025, 3, 20)),), rewards=(reward,))
    changes = statement_diff(before, after)
    assert [(c.kind, c.key, c.change) for c in changes] == [
        ("event", "s1/cod/2025-03-10", "removed"),
        ("event", "s1/cod/2025-03-20", "added"),
        ("reward", "s2", "added"),
    ]


def test_a_line_in_another_unit() -> None:
    other = UnitStatement("b", "乙县", ("s3",), (deduction("s3"),))
    changes = statement_diff(statement(), statement(other_unit=other))
    assert [(c.unit, c.key, c.change) for c in changes] == [("b", "s3/cod", "added")]


def test_recalculation_with_a_corrected_value(registry: Registry) -> None:
    """Two versions computed by the engine on the bundled registry."""
    unit = registry.section("xiaofanqiao").assessed_unit
    assert unit is not None
    rules = load_rule_set("hengshui-2021")

    def compute(value: str) -> MonthlyStatement:
        row = Measurement("xiaofanqiao", "cod", dt.date(2025, 3, 5), D(value), "routine")
        return monthly_statement([row], month=MONTH, registry=registry, rule_set=rules)

    first, second = compute("24"), compute("28")  # class Ⅲ from 2025: limit 20
    assert first.unit(unit).total_wan == D("30") and second.unit(unit).total_wan == D("60")
    [change] = statement_diff(first, second)
    assert (change.unit, change.kind, change.key, change.change) == (
        unit, "deduction", "xiaofanqiao/cod", "changed"
    )  # fmt: skip
    assert change.before == (
        ("value", "24.0"), ("multiple", "0.2"), ("tiers", "1"), ("amount_wan", "30")
    )  # fmt: skip
    assert change.after == (
        ("value", "28.0"), ("multiple", "0.4"), ("tiers", "2"), ("amount_wan", "60")
    )  # fmt: skip
    assert statement_diff(first, compute("24")) == ()


def test_issue9_an_episode_whose_factors_change_is_one_changed_line() -> None:
    start, end = dt.date(2025, 3, 10), dt.date(2025, 3, 12)
    run = (start, start + dt.timedelta(days=1), end)

    def episode(*factors: str) -> EventLine:
        return EventLine("s1", "+".join(factors), start, end, 3, end, D("30"), "连续 3 天",
                         factors=factors, factor_days=tuple((f, run) for f in factors),
                         counting="episode")  # fmt: skip

    [change] = statement_diff(
        statement(events=(episode("nh3n"),)), statement(events=(episode("nh3n", "tp"),))
    )
    assert (change.kind, change.key, change.change) == ("event", "s1/2025-03-10", "changed")
    assert dict(change.after)["factor"] == "nh3n+tp"
    assert dict(change.before)["factor"] == "nh3n"


def test_issue9_marks_on_a_line_are_a_change() -> None:
    before = statement(deduction())
    after = statement(dataclasses.replace(deduction(), suspect=3, lower_bound=True))
    [change] = statement_diff(before, after)
    assert dict(change.after) == {"suspect": "3", "lower_bound": "True"}
