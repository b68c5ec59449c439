"""The compensation engine: bulletin examples, tiers, inflow, exemptions, events and rewards."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from decimal import Decimal
from importlib import resources

import pytest

from compensation.engine import Measurement, monthly_statement, standard_for
from compensation.errors import MeasurementError
from compensation.rules import RuleSet, load_rule_set, parse_rule_set, rule_set_for
from compensation.statement import WAN, FactorStatus, MonthlyStatement, UnitStatement
from sections.registry import Registry, parse_registry

D = Decimal

# --- a small registry -------------------------------------------------------------------------


def _section(
    sid: str,
    *,
    unit: str | None,
    target: str = '"III"',
    upstream: str | None = None,
    water_body: str = "river",
    extra: str = "",
) -> str:
    lines = [
        "[[sections]]",
        f'id = "{sid}"',
        f'name = "断面{sid}"',
        "confirmed = false",
        'river = "某河"',
        f'water_body = "{water_body}"',
        f'level = "{"reference" if unit is None else "provincial"}"',
        "lon = 115.6",
        "lat = 37.6",
        f"target_class = {target}",
    ]
    if unit is not None:
        lines.append(f'assessed_unit = "{unit}"')
    if upstream is not None:
        lines.append(f'upstream = "{upstream}"')
    return "\n".join(lines) + "\n" + extra


REGISTRY_TOML = (
    '[[units]]\nid = "a"\nname = "甲县"\n'
    '[[units]]\nid = "b"\nname = "乙县"\n'
    '[[units]]\nid = "c"\nname = "丙县"\n'
    + _section("ref-a", unit=None)
    + _section("a-out", unit="a", upstream="ref-a")
    + _section("a-two", unit="a")
    + _section("ref-b", unit=None)
    + _section("a-three", unit="a", upstream="ref-b")
    + _section("b-iv", unit="b", target='"IV"')
    + _section("b-lake", unit="b", water_body="lake")
    + _section("b-tn", unit="b", extra="[sections.standards]\ntn = 2.0\n")
    + _section("c-years", unit="c", target='{ 2016 = "V", 2021 = "IV", 2025 = "III" }')
)


@pytest.fixture(scope="module")
def registry() -> Registry:
    return parse_registry(REGISTRY_TOML, source="test-registry")


def m(
    section: str,
    factor: str,
    day: dt.date,
    value: str | None,
    kind: str = "routine",
    status: str = "normal",
    note: str = "",
    ref: str = "",
) -> Measurement:
    return Measurement(
        section=section,
        factor=factor,
        date=day,
        value=None if value is None else D(value),
        kind=kind,  # type: ignore[arg-type]
        status=status,
        note=note,
        ref=ref,
    )


def auto(section: str, factor: str, days: Sequence[dt.date], value: str) -> list[Measurement]:
    return [m(section, factor, day, value, kind="auto_daily") for day in days]


def days(first: dt.date, count: int) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range(count)]


def run(
    registry: Registry,
    measurements: Sequence[Measurement],
    month: dt.date,
    rules: RuleSet | str | None = None,
) -> MonthlyStatement:
    if rules is None:
        rule_set = rule_set_for(month)
    elif isinstance(rules, str):
        rule_set = load_rule_set(rules)
    else:
        rule_set = rules
    return monthly_statement(measurements, month=month, registry=registry, rule_set=rule_set)


def status_of(unit: UnitStatement, section: str, factor: str) -> FactorStatus:
    return next(s for s in unit.statuses if s.section == section and s.factor == factor)


def line_of(unit: UnitStatement, section: str, factor: str):  # type: ignore[no-untyped-def]
    found = [x for x in unit.lines if x.section == section and x.factor == factor]
    assert len(found) == 1, unit.lines
    return found[0]


JAN_2016 = dt.date(2016, 1, 10)
FEB_2018 = dt.date(2018, 2, 10)
MAR_2025 = dt.date(2025, 3, 10)

# --- the official bulletin examples (domain.md §6) --------------------------------------------

HEBEI_2016_01 = [
    pytest.param(
        "cod",
        [
            ("a-out", "20.5", "20.5", "20", "0.025", 1, "30"),
            ("a-two", "45", "45.0", "20", "1.25", 7, "210"),
        ],
        "240",
        id="hebei-bulletin-2016-01-cod-0.025x-1.25x-1+7tiers-240wan",
    ),
    pytest.param(
        "nh3n",
        # 1.615 is rounded half to even to 1.62 (multiple 0.62): still 2 tiers
        [
            ("a-out", "1.13", "1.13", "1", "0.13", 1, "30"),
            ("a-two", "1.615", "1.62", "1", "0.62", 2, "60"),
        ],
        "90",
        id="hebei-bulletin-2016-01-nh3n-0.13x-0.615x-1+2tiers-90wan",
    ),
]


@pytest.mark.parametrize(("factor", "rows", "total"), HEBEI_2016_01)
def test_hebei_bulletin_january_2016(
    registry: Registry,
    factor: str,
    rows: list[tuple[str, str, str, str, str, int, str]],
    total: str,
) -> None:
    measurements = [m(section, factor, JAN_2016, value) for section, value, *_ in rows]
    statement = run(registry, measurements, JAN_2016)
    assert statement.rule_set.id == "hebei-2016"
    unit = statement.unit("a")
    assert len(unit.lines) == 2
    for section, _, used, standard, multiple, count, amount in rows:
        line = line_of(unit, section, factor)
        assert str(line.value) == used  # rounded half to even to the evaluation precision
        assert line.standard == D(standard)
        assert line.inflow_value is None
        assert line.multiple == D(multiple)
        assert line.tiers == count
        assert line.amount_wan == D(amount)
    assert unit.total_wan == D(total)
    assert unit.total_yuan == D(total) * 10000
    assert statement.total_wan == D(total)


def test_hebei_bulletin_january_2016_nh3n_value_is_rounded_half_even(registry: Registry) -> None:
    statement = run(registry, [m("a-two", "nh3n", JAN_2016, "1.615")], JAN_2016)
    line = line_of(statement.unit("a"), "a-two", "nh3n")
    assert str(line.value) == "1.62"
    assert line.multiple == D("0.62")


def test_hebei_bulletin_january_2016_both_factors_330_wan(registry: Registry) -> None:
    measurements = [
        m("a-out", "cod", JAN_2016, "20.5"),
        m("a-two", "cod", JAN_2016, "45"),
        m("a-out", "nh3n", JAN_2016, "1.13"),
        m("a-two", "nh3n", JAN_2016, "1.615"),
    ]
    unit = run(registry, measurements, JAN_2016).unit("a")
    assert [line.tiers for line in unit.lines] == [1, 1, 7, 2]
    assert unit.total_wan == D("330")
    assert unit.total_yuan == D("3300000")


def test_hebei_bulletin_exact_nh3n_multiple_0_615_is_two_tiers(registry: Registry) -> None:
    # c-years has target Ⅴ in 2016: NH3-N limit 2.0, 3.23 → (3.23 − 2.0) / 2.0 = 0.615 exactly
    statement = run(registry, [m("c-years", "nh3n", JAN_2016, "3.23")], JAN_2016)
    line = line_of(statement.unit("c"), "c-years", "nh3n")
    assert (line.value, line.standard, line.multiple) == (D("3.23"), D("2"), D("0.615"))
    assert line.tiers == 2
    assert line.amount_wan == D("60")


def test_baoding_bulletin_february_2018(registry: Registry) -> None:
    measurements = [
        # NH3-N over by 0.48 → 1 tier
        m("a-two", "nh3n", FEB_2018, "1.48"),
        # COD over by 0.18, upstream 24.0 over its standard: not increased → 0
        m("a-out", "cod", FEB_2018, "23.6"),
        m("ref-a", "cod", FEB_2018, "24.0"),
        # COD over by 0.05, upstream equally high: not increased → 0
        m("a-three", "cod", FEB_2018, "21.0"),
        m("ref-b", "cod", FEB_2018, "21.0"),
    ]
    statement = run(registry, measurements, FEB_2018)
    assert statement.rule_set.id == "hebei-2016"
    unit = statement.unit("a")
    assert len(unit.lines) == 1
    line = unit.lines[0]
    assert (line.section, line.factor, line.multiple, line.tiers, line.amount_wan) == (
        "a-two", "nh3n", D("0.48"), 1, D("30")
    )  # fmt: skip
    assert unit.total_wan == D("30")
    assert unit.total_yuan == D("300000")
    exempt = {(e.section, e.factor, e.status) for e in unit.exempt}
    assert exempt == {("a-out", "cod", "not_increased"), ("a-three", "cod", "not_increased")}
    assert status_of(unit, "a-out", "cod").multiple == D("0.18")
    assert status_of(unit, "a-three", "cod").multiple == D("0.05")
    assert status_of(unit, "a-out", "cod").status == "not_increased"


# --- tier boundaries through the engine -------------------------------------------------------

BOUNDARIES = [
    pytest.param("a-two", "cod", "24", "0.2", 1, id="cod-0.2x"),
    pytest.param("a-two", "cod", "28", "0.4", 2, id="cod-0.4x"),
    pytest.param("a-two", "cod", "32", "0.6", 3, id="cod-0.6x"),
    pytest.param("a-two", "cod", "24.1", "0.205", 2, id="cod-just-above-0.2x"),
    pytest.param("a-two", "nh3n", "1.5", "0.5", 1, id="nh3n-0.5x"),
    pytest.param("a-two", "nh3n", "2.0", "1", 2, id="nh3n-1.0x"),
    pytest.param("a-two", "nh3n", "1.51", "0.51", 2, id="nh3n-just-above-0.5x"),
    pytest.param("a-two", "tp", "0.3", "0.5", 1, id="tp-0.5x"),
    pytest.param("a-two", "tp", "0.4", "1", 2, id="tp-1.0x"),
    pytest.param("b-iv", "tp", "0.45", "0.5", 1, id="tp-river-iv-0.45-vs-0.3"),
    pytest.param("b-iv", "tp", "0.451", "0.503333", 2, id="tp-river-iv-just-above"),
    pytest.param("a-two", "codmn", "7.2", "0.2", 1, id="codmn-0.2x"),
    pytest.param("a-two", "codmn", "7.3", "0.216667", 2, id="codmn-just-above-0.2x"),
]


@pytest.mark.parametrize(("section", "factor", "value", "multiple", "count"), BOUNDARIES)
def test_multiples_on_and_just_above_tier_boundaries(
    registry: Registry, section: str, factor: str, value: str, multiple: str, count: int
) -> None:
    statement = run(registry, [m(section, factor, MAR_2025, value)], MAR_2025)
    unit = statement.unit(section[0])
    line = line_of(unit, section, factor)
    assert line.multiple == D(multiple)
    assert line.tiers == count
    assert line.amount_wan == D(30) * count
    assert unit.total_wan == D(30) * count


def test_value_at_the_standard_meets(registry: Registry) -> None:
    unit = run(registry, [m("a-two", "cod", MAR_2025, "20")], MAR_2025).unit("a")
    assert unit.lines == ()
    assert status_of(unit, "a-two", "cod").status == "meets"
    assert unit.total_wan == 0


def test_a_tenfold_exceedance_is_shown_plainly(registry: Registry) -> None:
    unit = run(registry, [m("a-two", "cod", MAR_2025, "220")], MAR_2025).unit("a")
    line = line_of(unit, "a-two", "cod")
    assert (line.multiple, line.tiers, line.amount_wan) == (D(10), 50, D(1500))
    assert status_of(unit, "a-two", "cod").text == "超标 10 倍"


# --- inflow over its standard -----------------------------------------------------------------


@pytest.mark.parametrize("outflow", ["25", "30"], ids=["lower", "equal"])
def test_inflow_over_and_outflow_not_higher_is_not_charged(
    registry: Registry, outflow: str
) -> None:
    measurements = [m("ref-a", "cod", MAR_2025, "30"), m("a-out", "cod", MAR_2025, outflow)]
    unit = run(registry, measurements, MAR_2025).unit("a")
    assert unit.lines == ()
    assert unit.total_wan == 0
    [exempt] = unit.exempt
    assert (exempt.section, exempt.factor, exempt.status) == ("a-out", "cod", "not_increased")
    assert "断面ref-a" in exempt.note and "未增加" in exempt.note


@pytest.mark.parametrize(
    ("outflow", "multiple", "count"),
    [("36", "0.2", 1), ("37", "0.233333", 2), ("48", "0.6", 3)],
)
def test_inflow_over_and_outflow_higher_is_charged_on_the_increase(
    registry: Registry, outflow: str, multiple: str, count: int
) -> None:
    measurements = [m("ref-a", "cod", MAR_2025, "30"), m("a-out", "cod", MAR_2025, outflow)]
    unit = run(registry, measurements, MAR_2025).unit("a")
    line = line_of(unit, "a-out", "cod")
    assert line.inflow_value == D("30")
    assert line.standard == D("20")
    assert line.multiple == D(multiple)  # (C_out − C_in) / C_in, not (C − L) / L
    assert line.tiers == count
    assert line.amount_wan == D(30) * count
    assert "入境" in line.basis
    assert "(C出 − C入) / C入" in line.clause
    assert unit.exempt == ()


@pytest.mark.parametrize("inflow", ["18", "20"], ids=["below", "at-standard"])
def test_inflow_meeting_its_standard_gives_the_plain_multiple(
    registry: Registry, inflow: str
) -> None:
    measurements = [m("ref-a", "cod", MAR_2025, inflow), m("a-out", "cod", MAR_2025, "25")]
    line = line_of(run(registry, measurements, MAR_2025).unit("a"), "a-out", "cod")
    assert line.inflow_value is None
    assert line.multiple == D("0.25")
    assert line.tiers == 2
    assert "入境" not in line.basis


def test_section_without_upstream_or_without_upstream_data(registry: Registry) -> None:
    measurements = [m("a-two", "cod", MAR_2025, "25"), m("a-out", "cod", MAR_2025, "25")]
    unit = run(registry, measurements, MAR_2025).unit("a")
    for section in ("a-two", "a-out"):
        line = line_of(unit, section, "cod")
        assert (line.inflow_value, line.multiple, line.tiers) == (None, D("0.25"), 2)
    assert unit.total_wan == D("120")


# --- exemptions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "word"),
    [("no_flow", "断流"), ("dry", "无水"), ("frozen", "结冰"), ("excluded", "剔除")],
)
@pytest.mark.parametrize("note", ["", "经核定"], ids=["default-note", "given-note"])
def test_every_exempt_status_exempts_the_whole_month(
    registry: Registry, status: str, word: str, note: str
) -> None:
    measurements = [
        m("a-two", "cod", dt.date(2025, 3, 5), "30"),  # an exceeding routine value …
        m("a-two", "cod", dt.date(2025, 3, 20), None, status=status, note=note),  # … exempted
    ]
    unit = run(registry, measurements, MAR_2025).unit("a")
    assert unit.lines == ()
    assert unit.total_wan == 0
    [exempt] = unit.exempt
    assert (exempt.section, exempt.factor, exempt.status) == ("a-two", "cod", status)
    assert exempt.note == (note or word)
    assert status_of(unit, "a-two", "cod").status == status


def test_status_row_with_a_value_also_exempts(registry: Registry) -> None:
    measurements = [
        m("a-two", "cod", dt.date(2025, 3, 5), "30"),
        m("a-two", "cod", dt.date(2025, 3, 6), "40", status="excluded", note="顶托"),
    ]
    unit = run(registry, measurements, MAR_2025).unit("a")
    assert unit.lines == ()
    assert [(e.status, e.note) for e in unit.exempt] == [("excluded", "顶托")]


def test_status_in_another_month_does_not_exempt(registry: Registry) -> None:
    measurements = [
        m("a-two", "cod", dt.date(2025, 2, 20), None, status="frozen"),
        m("a-two", "cod", dt.date(2025, 3, 5), "30"),
    ]
    unit = run(registry, measurements, MAR_2025).unit("a")
    assert line_of(unit, "a-two", "cod").tiers == 3
    assert unit.exempt == ()


# --- value selection --------------------------------------------------------------------------


def test_spot_check_higher_than_routine_wins(registry: Registry) -> None:
    measurements = [
        m("a-two", "cod", dt.date(2025, 3, 3), "22", ref="in.csv:2"),
        m("a-two", "cod", dt.date(2025, 3, 17), "26", kind="spot", ref="in.csv:3"),
    ]
    line = line_of(run(registry, measurements, MAR_2025).unit("a"), "a-two", "cod")
    assert line.value == D("26")
    assert line.basis == "抽测最高值"
    assert (line.multiple, line.tiers, line.amount_wan) == (D("0.3"), 2, D("60"))
    assert line.refs == ("in.csv:3",)


def test_routine_higher_than_spot_wins(registry: Registry) -> None:
    measurements = [
        m("a-two", "cod", dt.date(2025, 3, 3), "21"),
        m("a-two", "cod", dt.date(2025, 3, 10), "26"),
        m("a-two", "cod", dt.date(2025, 3, 17), "22", kind="spot"),
    ]
    line = line_of(run(registry, measurements, MAR_2025).unit("a"), "a-two", "cod")
    assert line.value == D("26")
    assert line.basis == "例行监测最高值"


def _alternating(month_start: dt.date, count: int) -> list[Measurement]:
    """Automatic COD daily values 30, 20, 30, … (never 3 exceeding days in a row)."""
    return [
        m("a-two", "cod", day, "30" if i % 2 == 0 else "20", kind="auto_daily")
        for i, day in enumerate(days(month_start, count))
    ]


def test_auto_daily_mean_fallback_with_enough_valid_days(registry: Registry) -> None:
    # 21 of 31 days (≥ 2/3): 11 × 30 + 10 × 20 = 530; 530 / 21 = 25.238… → 25.2
    statement = run(registry, _alternating(dt.date(2025, 3, 1), 21), MAR_2025)
    assert statement.rule_set.id == "hengshui-2021"
    unit = statement.unit("a")
    line = line_of(unit, "a-two", "cod")
    assert line.value == D("25.2")
    assert line.basis == "自动站日均值月均值"
    assert (line.multiple, line.tiers, line.amount_wan) == (D("0.26"), 2, D("60"))
    assert unit.events == ()
    assert unit.total_wan == D("60")


def test_auto_daily_too_few_valid_days_is_insufficient_data(registry: Registry) -> None:
    unit = run(registry, _alternating(dt.date(2025, 3, 1), 20), MAR_2025).unit("a")
    assert unit.lines == ()
    assert unit.total_wan == 0
    [exempt] = unit.exempt
    assert (exempt.section, exempt.factor, exempt.status) == ("a-two", "cod", "insufficient_data")
    assert "20" in exempt.note and "21" in exempt.note
    assert status_of(unit, "a-two", "cod").status == "insufficient_data"


def test_routine_value_wins_over_the_auto_daily_mean(registry: Registry) -> None:
    measurements = [*_alternating(dt.date(2025, 3, 1), 21), m("a-two", "cod", MAR_2025, "18")]
    unit = run(registry, measurements, MAR_2025).unit("a")
    assert unit.lines == ()
    assert status_of(unit, "a-two", "cod").value == D("18")


def test_hebei_2016_has_no_auto_daily_fallback(registry: Registry) -> None:
    month = dt.date(2018, 3, 1)
    unit = run(registry, _alternating(month, 21), month).unit("a")
    assert unit.lines == ()
    assert unit.exempt == ()
    assert status_of(unit, "a-two", "cod").status == "no_data"


@pytest.mark.parametrize(
    ("value", "shown", "count"),
    [("0.3005", "0.300", 0), ("0.3015", "0.302", 1)],
    ids=["rounds-down-meets", "rounds-up-exceeds"],
)
def test_values_are_rounded_half_even_before_use(
    registry: Registry, value: str, shown: str, count: int
) -> None:
    unit = run(registry, [m("b-iv", "tp", MAR_2025, value)], MAR_2025).unit("b")
    status = status_of(unit, "b-iv", "tp")
    assert str(status.value) == shown
    assert len(unit.lines) == count
    if count:
        assert unit.lines[0].multiple == D("0.006667")
    else:
        assert status.status == "meets"


# --- standards --------------------------------------------------------------------------------


def test_river_tn_without_override_has_no_standard(registry: Registry) -> None:
    unit = run(registry, [m("a-two", "tn", MAR_2025, "5.0")], MAR_2025).unit("a")
    assert unit.lines == ()
    assert unit.total_wan == 0
    assert status_of(unit, "a-two", "tn").status == "no_standard"


def test_river_tn_with_a_registry_override_is_charged(registry: Registry) -> None:
    unit = run(registry, [m("b-tn", "tn", MAR_2025, "3.0")], MAR_2025).unit("b")
    line = line_of(unit, "b-tn", "tn")
    assert (line.standard, line.multiple, line.tiers, line.amount_wan) == (
        D("2"), D("0.5"), 1, D("30")
    )  # fmt: skip


def test_lake_uses_the_lake_tp_and_tn_limits(registry: Registry) -> None:
    measurements = [m("b-lake", "tp", MAR_2025, "0.06"), m("b-lake", "tn", MAR_2025, "1.6")]
    unit = run(registry, measurements, MAR_2025).unit("b")
    tp = line_of(unit, "b-lake", "tp")
    assert (tp.standard, tp.multiple, tp.tiers, tp.amount_wan) == (D("0.05"), D("0.2"), 1, D(30))
    tn = line_of(unit, "b-lake", "tn")
    assert (tn.standard, tn.multiple, tn.tiers, tn.amount_wan) == (D("1"), D("0.6"), 2, D(60))
    assert unit.total_wan == D("90")


@pytest.mark.parametrize(
    ("month", "standard", "count"),
    [
        pytest.param(dt.date(2018, 6, 1), "40", 0, id="2018-class-V"),
        pytest.param(dt.date(2024, 6, 1), "30", 1, id="2024-class-IV"),
        pytest.param(dt.date(2025, 6, 1), "20", 4, id="2025-class-III"),
    ],
)
def test_year_table_target_uses_the_months_year(
    registry: Registry, month: dt.date, standard: str, count: int
) -> None:
    unit = run(registry, [m("c-years", "cod", month, "35")], month).unit("c")
    status = status_of(unit, "c-years", "cod")
    assert status.standard == D(standard)
    assert len(unit.lines) == (1 if count else 0)
    if count:
        assert unit.lines[0].tiers == count
        assert unit.total_wan == D(30) * count


def test_standard_for(registry: Registry) -> None:
    assert standard_for(registry.section("a-two"), "cod", MAR_2025) == D("20")
    assert standard_for(registry.section("a-two"), "tn", MAR_2025) is None
    assert standard_for(registry.section("b-tn"), "tn", MAR_2025) == D("2")
    assert str(standard_for(registry.section("b-lake"), "tp", MAR_2025)) == "0.05"
    assert str(standard_for(registry.section("b-iv"), "tp", MAR_2025)) == "0.3"
    assert standard_for(registry.section("c-years"), "nh3n", JAN_2016) == D("2")
    # before the first year of the target table the earliest entry applies (Ⅴ: COD 40) [A]
    assert standard_for(registry.section("c-years"), "cod", dt.date(2015, 6, 1)) == D("40")


# --- automatic-station events (hengshui-2021) -------------------------------------------------

MEETS_MAR = m("a-two", "cod", dt.date(2025, 3, 5), "18")


def test_three_day_run_is_one_event(registry: Registry) -> None:
    measurements = [MEETS_MAR, *auto("a-two", "cod", days(dt.date(2025, 3, 10), 3), "25")]
    unit = run(registry, measurements, MAR_2025).unit("a")
    assert unit.lines == ()
    [event] = unit.events
    assert (event.section, event.factor, event.start, event.end, event.days) == (
        "a-two", "cod", dt.date(2025, 3, 10), dt.date(2025, 3, 12), 3
    )  # fmt: skip
    assert event.charged_on == dt.date(2025, 3, 12)
    assert event.amount_wan == D("30")
    assert isinstance(event.amount_wan, Decimal)
    assert unit.total_wan == D("30")


def test_event_is_charged_on_top_of_the_monthly_deduction(registry: Registry) -> None:
    measurements = [
        m("a-two", "cod", dt.date(2025, 3, 5), "24"),
        *auto("a-two", "cod", days(dt.date(2025, 3, 10), 3), "25"),
    ]
    unit = run(registry, measurements, MAR_2025).unit("a")
    assert line_of(unit, "a-two", "cod").amount_wan == D("30")
    assert len(unit.events) == 1
    assert unit.total_wan == D("60")


def test_run_crossing_a_month_boundary_is_charged_in_the_later_month(registry: Registry) -> None:
    measurements = [
        m("a-two", "cod", dt.date(2025, 1, 5), "18"),
        m("a-two", "cod", dt.date(2025, 2, 5), "18"),
        *auto("a-two", "cod", days(dt.date(2025, 1, 30), 3), "25"),  # 30 Jan – 1 Feb
    ]
    january = run(registry, measurements, dt.date(2025, 1, 1)).unit("a")
    assert january.events == ()
    assert january.total_wan == 0
    february = run(registry, measurements, dt.date(2025, 2, 1)).unit("a")
    [event] = february.events
    assert (event.start, event.end, event.days, event.charged_on) == (
        dt.date(2025, 1, 30), dt.date(2025, 2, 1), 3, dt.date(2025, 2, 1)
    )  # fmt: skip
    assert february.total_wan == D("30")


def test_two_day_run_is_no_event(registry: Registry) -> None:
    measurements = [
        MEETS_MAR,
        *auto("a-two", "cod", days(dt.date(2025, 3, 10), 2), "25"),
        *auto("a-two", "cod", [dt.date(2025, 3, 20)], "25"),
    ]
    unit = run(registry, measurements, MAR_2025).unit("a")
    assert unit.events == ()
    assert unit.total_wan == 0


def test_seven_day_run_is_one_event(registry: Registry) -> None:
    measurements = [MEETS_MAR, *auto("a-two", "cod", days(dt.date(2025, 3, 1), 7), "25")]
    unit = run(registry, measurements, MAR_2025).unit("a")
    [event] = unit.events
    assert (event.start, event.end, event.days) == (dt.date(2025, 3, 1), dt.date(2025, 3, 7), 7)
    assert unit.total_wan == D("30")


def test_two_separate_runs_are_two_events(registry: Registry) -> None:
    measurements = [
        MEETS_MAR,
        *auto("a-two", "cod", days(dt.date(2025, 3, 1), 3), "25"),
        *auto("a-two", "cod", days(dt.date(2025, 3, 10), 4), "25"),
    ]
    unit = run(registry, measurements, MAR_2025).unit("a")
    assert [(e.start.day, e.days) for e in unit.events] == [(1, 3), (10, 4)]
    assert unit.total_wan == D("60")


@pytest.mark.parametrize(("value", "count"), [("20.05", 0), ("20.06", 1)])
def test_daily_values_are_rounded_before_counting(
    registry: Registry, value: str, count: int
) -> None:
    measurements = [MEETS_MAR, *auto("a-two", "cod", days(dt.date(2025, 3, 10), 3), value)]
    assert len(run(registry, measurements, MAR_2025).unit("a").events) == count


def test_tn_runs_never_count(registry: Registry) -> None:
    measurements = [
        m("b-tn", "tn", dt.date(2025, 3, 5), "1.5"),
        *auto("b-tn", "tn", days(dt.date(2025, 3, 10), 5), "3.0"),
    ]
    unit = run(registry, measurements, MAR_2025).unit("b")
    assert unit.events == ()
    assert unit.total_wan == 0


def test_days_in_a_frozen_month_do_not_count(registry: Registry) -> None:
    measurements = [
        m("a-two", "cod", dt.date(2025, 2, 10), None, status="frozen"),
        *auto("a-two", "cod", days(dt.date(2025, 2, 1), 5), "25"),
    ]
    unit = run(registry, measurements, dt.date(2025, 2, 1)).unit("a")
    assert unit.events == ()
    assert unit.total_wan == 0
    assert [e.status for e in unit.exempt] == ["frozen"]


def test_frozen_days_do_not_extend_a_run_into_the_next_month(registry: Registry) -> None:
    measurements = [
        m("a-two", "cod", dt.date(2025, 1, 10), None, status="frozen"),
        m("a-two", "cod", dt.date(2025, 2, 10), "18"),
        *auto("a-two", "cod", days(dt.date(2025, 1, 30), 4), "25"),  # 30 Jan – 2 Feb
    ]
    february = run(registry, measurements, dt.date(2025, 2, 1)).unit("a")
    assert february.events == ()


def test_hebei_2016_has_no_events(registry: Registry) -> None:
    month = dt.date(2018, 3, 1)
    measurements = [
        m("a-two", "cod", dt.date(2018, 3, 5), "18"),
        *auto("a-two", "cod", days(dt.date(2018, 3, 10), 5), "25"),
    ]
    unit = run(registry, measurements, month).unit("a")
    assert unit.events == ()
    assert unit.total_wan == 0


# --- rewards ----------------------------------------------------------------------------------


def _meeting(section: str) -> list[Measurement]:
    return [
        m(section, "cod", MAR_2025, "18"),
        m(section, "codmn", MAR_2025, "5"),
        m(section, "nh3n", MAR_2025, "0.8"),
        m(section, "tp", MAR_2025, "0.15"),
    ]


REWARD_DATA = [*_meeting("a-two"), m("a-three", "cod", MAR_2025, "25")]


def _with_rewards() -> RuleSet:
    text = (
        resources.files("compensation").joinpath("rules", "hengshui-2021.toml").read_text("utf-8")
    )
    head, rewards = text.split("[rewards]")
    rewards = re.sub(r"^enabled = .*$", "enabled = true", rewards, flags=re.MULTILINE)
    rewards = re.sub(r"^amount_wan = .*$", 'amount_wan = "10"', rewards, flags=re.MULTILINE)
    return parse_rule_set(head + "[rewards]" + rewards, source="rewards.toml")


def test_rewards_are_disabled_by_default(registry: Registry) -> None:
    unit = run(registry, REWARD_DATA, MAR_2025).unit("a")
    assert unit.rewards == ()
    assert unit.reward_wan == 0
    assert unit.total_wan == D("60")


def test_configured_reward_is_a_separate_line_never_netted(registry: Registry) -> None:
    rules = _with_rewards()
    assert rules.rewards.enabled and rules.rewards.amount_wan == D("10")
    unit = run(registry, REWARD_DATA, MAR_2025, rules).unit("a")
    [reward] = unit.rewards
    assert reward.section == "a-two"  # every factor meets (TN: no river standard)
    assert reward.amount_wan == D("10")
    assert isinstance(reward.amount_wan, Decimal)
    # a-three exceeds (no reward), a-out has no data (no reward)
    assert line_of(unit, "a-three", "cod").amount_wan == D("60")
    assert unit.total_wan == D("60")  # not 50: never netted
    assert unit.total_yuan == D("600000")
    assert unit.reward_wan == D("10")


def test_no_reward_when_a_factor_has_no_data(registry: Registry) -> None:
    measurements = _meeting("a-two")[:-1]  # no TP
    unit = run(registry, measurements, MAR_2025, _with_rewards()).unit("a")
    assert unit.rewards == ()


# --- units, money and rule set ----------------------------------------------------------------


def test_every_unit_appears_with_total_zero_when_it_owes_nothing(registry: Registry) -> None:
    statement = run(registry, [m("a-two", "cod", MAR_2025, "32")], MAR_2025)
    assert [u.unit for u in statement.units] == ["a", "b", "c"]
    assert [u.name for u in statement.units] == ["甲县", "乙县", "丙县"]
    assert statement.unit("a").total_wan == D("90")
    for unit_id in ("b", "c"):
        unit = statement.unit(unit_id)
        assert unit.lines == () and unit.events == ()
        assert unit.total_wan == 0 and unit.total_yuan == 0
        assert isinstance(unit.total_wan, Decimal) and isinstance(unit.total_yuan, Decimal)
    assert statement.unit("b").sections == ("b-iv", "b-lake", "b-tn")
    assert statement.total_wan == D("90")
    assert statement.total_yuan == D("900000")


def test_all_money_is_decimal(registry: Registry) -> None:
    measurements = [
        m("a-two", "cod", MAR_2025, "45"),
        m("b-lake", "tp", MAR_2025, "0.06"),
        *auto("a-out", "nh3n", days(dt.date(2025, 3, 10), 3), "1.2"),
    ]
    statement = run(registry, measurements, MAR_2025)
    amounts: list[object] = [statement.total_wan, statement.total_yuan]
    for unit in statement.units:
        amounts += [unit.total_wan, unit.total_yuan, unit.reward_wan]
        amounts += [line.amount_wan for line in unit.lines]
        amounts += [line.value for line in unit.lines] + [line.multiple for line in unit.lines]
        amounts += [event.amount_wan for event in unit.events]
    assert all(isinstance(x, Decimal) for x in amounts)
    # 7 tiers + 1 tier + 1 event (a-out NH3-N has too few days for a monthly value)
    assert statement.total_wan == D("270")
    assert statement.total_yuan == statement.total_wan * WAN == D("2700000")


def test_statement_names_its_rule_set_and_assumptions(registry: Registry) -> None:
    statement = run(registry, [], MAR_2025)
    assert statement.month == dt.date(2025, 3, 1)
    assert (statement.rule_set.id, statement.rule_set.document) == (
        "hengshui-2021", "衡政办字〔2021〕3号"
    )  # fmt: skip
    texts = statement.rule_set.assumptions
    assert any(a.startswith("[假设] 高锰酸盐指数超标倍数每档：0.2 倍") for a in texts)
    assert any(a.startswith("[推定] 化学需氧量超标倍数每档：0.2 倍") for a in texts)
    assert all(a.startswith(("[推定] ", "[假设] ")) for a in texts)


def test_line_clause_names_the_document(registry: Registry) -> None:
    line = line_of(
        run(registry, [m("a-two", "cod", MAR_2025, "24")], MAR_2025).unit("a"), "a-two", "cod"
    )
    assert line.clause.startswith("衡政办字〔2021〕3号")
    assert "0.2 倍为一档" in line.clause


@pytest.mark.parametrize(
    ("section", "factor", "match"),
    [("nowhere", "cod", "unknown section"), ("a-two", "bod5", "unknown factor")],
)
def test_unknown_section_or_factor_is_a_measurement_error(
    registry: Registry, section: str, factor: str, match: str
) -> None:
    with pytest.raises(MeasurementError, match=match):
        run(registry, [m(section, factor, MAR_2025, "1")], MAR_2025)


# --- issue 9: events per episode, the inflow rule for events (domain.md §6 [A]) ----------------


def _hengshui(*changes: tuple[str, str]) -> RuleSet:
    """The bundled hengshui-2021 rule set with ``key = value`` lines replaced."""
    text = (
        resources.files("compensation").joinpath("rules", "hengshui-2021.toml").read_text("utf-8")
    )
    for line, replacement in changes:
        assert re.search(rf"^{re.escape(line)}$", text, flags=re.MULTILINE), line
        text = re.sub(rf"^{re.escape(line)}$", replacement, text, count=1, flags=re.MULTILINE)
    return parse_rule_set(text, source="changed.toml")


RUN_DAYS = days(dt.date(2025, 3, 10), 3)


def _three_factor_run(section: str = "a-two") -> list[Measurement]:
    """3 days over Class Ⅲ on CODMn (6), NH3-N (1.0) and TP (0.2) at once."""
    return [
        m(section, "cod", dt.date(2025, 3, 5), "18"),
        *auto(section, "codmn", RUN_DAYS, "7.5"),
        *auto(section, "nh3n", RUN_DAYS, "1.6"),
        *auto(section, "tp", RUN_DAYS, "0.3"),
    ]


def test_issue9_one_run_over_on_three_factors_is_one_event_by_default(
    registry: Registry,
) -> None:
    unit = run(registry, _three_factor_run(), MAR_2025).unit("a")
    [event] = unit.events
    assert event.counting == "episode"
    assert event.factors == ("nh3n", "tp", "codmn")  # the rule set's order of event factors
    assert event.factor == "nh3n+tp+codmn"
    assert (event.start, event.end, event.days) == (RUN_DAYS[0], RUN_DAYS[-1], 3)
    assert dict(event.factor_days) == {f: tuple(RUN_DAYS) for f in ("nh3n", "tp", "codmn")}
    assert event.amount_wan == D("30")
    assert unit.total_wan == D("30")  # not 90


def test_issue9_counting_per_factor_gives_three_events(registry: Registry) -> None:
    rules = _hengshui(('counting = "episode"', 'counting = "factor"'))
    assert rules.events.counting == "factor"
    unit = run(registry, _three_factor_run(), MAR_2025, rules).unit("a")
    assert sorted(e.factor for e in unit.events) == ["codmn", "nh3n", "tp"]
    assert all(e.counting == "factor" and e.days == 3 for e in unit.events)
    assert unit.total_wan == D("90")


def test_issue9_episode_is_the_union_of_the_factors_exceeding_days(registry: Registry) -> None:
    # CODMn over on the 10th and 11th, NH3-N on the 11th and 12th: each factor has 2 days,
    # the section 3 consecutive days: one episode, none when counted per factor
    measurements = [
        MEETS_MAR,
        *auto("a-two", "codmn", RUN_DAYS[:2], "7.5"),
        *auto("a-two", "nh3n", RUN_DAYS[1:], "1.6"),
    ]
    [event] = run(registry, measurements, MAR_2025).unit("a").events
    assert (event.start, event.end, event.days) == (RUN_DAYS[0], RUN_DAYS[-1], 3)
    assert event.factor_days == (("nh3n", tuple(RUN_DAYS[1:])), ("codmn", tuple(RUN_DAYS[:2])))
    per_factor = _hengshui(('counting = "episode"', 'counting = "factor"'))
    assert run(registry, measurements, MAR_2025, per_factor).unit("a").events == ()


def test_issue9_two_episodes_separated_by_a_clean_day(registry: Registry) -> None:
    measurements = [
        MEETS_MAR,
        *auto("a-two", "codmn", days(dt.date(2025, 3, 1), 3), "7.5"),
        *auto("a-two", "tp", days(dt.date(2025, 3, 5), 3), "0.3"),
    ]
    unit = run(registry, measurements, MAR_2025).unit("a")
    assert [(e.factor, e.start.day, e.days) for e in unit.events] == [("codmn", 1, 3), ("tp", 5, 3)]
    assert unit.total_wan == D("60")


def _inflow_run(outflow: str, inflow: str) -> list[Measurement]:
    """a-out (inflow ref-a) over on NH3-N for 3 days, the inflow at ``inflow`` those days."""
    return [
        m("a-out", "cod", dt.date(2025, 3, 5), "18"),
        *auto("a-out", "nh3n", RUN_DAYS, outflow),
        *auto("ref-a", "nh3n", RUN_DAYS, inflow),
    ]


@pytest.mark.parametrize("outflow", ["1.5", "1.6"], ids=["lower", "equal"])
def test_issue9_inflow_exceeding_and_outflow_not_higher_is_no_event(
    registry: Registry, outflow: str
) -> None:
    unit = run(registry, _inflow_run(outflow, "1.6"), MAR_2025).unit("a")
    assert unit.events == ()
    assert unit.total_wan == 0


def test_issue9_inflow_rule_clears_days_one_by_one(registry: Registry) -> None:
    # the inflow is over and at least as high on the middle day only: the run breaks
    measurements = [
        m("a-out", "cod", dt.date(2025, 3, 5), "18"),
        *auto("a-out", "nh3n", RUN_DAYS, "1.6"),
        *auto("ref-a", "nh3n", [RUN_DAYS[1]], "1.7"),
    ]
    assert run(registry, measurements, MAR_2025).unit("a").events == ()


def test_issue9_inflow_rule_for_events(registry: Registry) -> None:
    # the outflow higher than an exceeding inflow: an event
    [event] = run(registry, _inflow_run("1.7", "1.6"), MAR_2025).unit("a").events
    assert event.factor == "nh3n"
    assert "入境" in event.clause
    # an inflow meeting its standard does not clear anything
    assert len(run(registry, _inflow_run("1.6", "0.9"), MAR_2025).unit("a").events) == 1
    # with the inflow rule switched off for events, the days count
    rules = _hengshui(("inflow = true", "inflow = false"))
    assert rules.events.inflow is False
    assert len(run(registry, _inflow_run("1.5", "1.6"), MAR_2025, rules).unit("a").events) == 1


def test_issue9_events_show_their_counting_in_the_rule_summary(registry: Registry) -> None:
    method = run(registry, [], MAR_2025).rule_set.method
    assert any("不论几项因子同时超标" in text and "[假设]" in text for text in method)
    assert any(text.startswith("事件适用入境规则") for text in method)
    per_factor = _hengshui(('counting = "episode"', 'counting = "factor"'))
    assert any(
        "按因子分别计次" in t for t in run(registry, [], MAR_2025, per_factor).rule_set.method
    )


# --- issue 9: factors per water body and honest provenance ------------------------------------


def test_issue9_2021_assumptions_list_derived_parameters_and_lake_tn(registry: Registry) -> None:
    texts = run(registry, [], MAR_2025).rule_set.assumptions
    for start in (
        "[推定] 每档扣缴金额：30 万元",
        "[推定] 扣缴上限：不设上限",
        "[推定] 月度取值：例行监测、抽测结果中的最高值",
        "[假设] 湖库断面考核因子总氮：考核",
        "[假设] 事件计次方式",
        "[假设] 事件适用入境规则：是",
        "[假设] 自动监测因子的月度值",
    ):
        assert any(text.startswith(start) for text in texts), start
    lake_tn = next(t for t in texts if t.startswith("[假设] 湖库断面考核因子总氮"))
    assert "湖库Ⅲ类限值" in lake_tn


def test_issue9_lake_tn_line_names_its_assumption(registry: Registry) -> None:
    unit = run(registry, [m("b-lake", "tn", MAR_2025, "1.6")], MAR_2025).unit("b")
    line = line_of(unit, "b-lake", "tn")
    assert "湖库Ⅲ类限值" in line.clause and "[A]" in line.clause


def test_issue9_factors_per_water_body_come_from_the_rule_set(registry: Registry) -> None:
    rules = _hengshui(
        ('factors = ["cod", "codmn", "nh3n", "tp", "tn"]', 'factors = ["cod", "codmn", "tp", "tn"]')
    )
    assert rules.factors_for("river") == ("cod", "codmn", "tp", "tn")
    assert rules.factors_for("lake") == ("cod", "codmn", "nh3n", "tp", "tn")
    measurements = [
        m("a-two", "nh3n", MAR_2025, "3.0"),  # NH3-N not assessed at rivers in this rule set
        m("b-lake", "nh3n", MAR_2025, "3.0"),
        *auto("a-two", "nh3n", RUN_DAYS, "3.0"),
    ]
    statement = run(registry, measurements, MAR_2025, rules)
    a, b = statement.unit("a"), statement.unit("b")
    assert {s.factor for s in a.statuses if s.section == "a-two"} == {"cod", "codmn", "tp", "tn"}
    assert a.lines == () and a.events == ()
    assert line_of(b, "b-lake", "nh3n").tiers == 4  # (3.0 − 1.0) / 1.0 = 2 → 4 tiers of 0.5


def test_issue9_hebei_2016_assesses_three_factors_at_every_water_body(registry: Registry) -> None:
    rules = load_rule_set("hebei-2016")
    assert rules.factors_for("river") == rules.factors_for("lake") == ("cod", "nh3n", "tp")
    unit = run(registry, [], JAN_2016).unit("b")
    assert {s.factor for s in unit.statuses} == {"cod", "nh3n", "tp"}


# --- issue 9: automatic data preferred for the automatic factors -------------------------------


def _automatic_month(section: str, factor: str, value: str) -> list[Measurement]:
    return auto(section, factor, days(dt.date(2025, 3, 1), 31), value)


def test_issue9_automatic_preferred_and_a_higher_spot_check_is_charged(
    registry: Registry,
) -> None:
    measurements = [
        *_automatic_month("a-two", "nh3n", "1.2"),
        m("a-two", "nh3n", dt.date(2025, 3, 3), "1.4"),  # routine: not used, automatic preferred
        m("a-two", "nh3n", dt.date(2025, 3, 17), "1.6", kind="spot", ref="spot.csv:2"),
    ]
    unit = run(registry, measurements, MAR_2025).unit("a")
    line = line_of(unit, "a-two", "nh3n")
    assert line.value == D("1.60")
    assert line.sources == ("auto_monthly_mean", "spot")
    assert line.basis.startswith("抽测最高值") and "1.20" in line.basis
    assert line.refs == ("spot.csv:2",)
    assert (line.multiple, line.tiers, line.amount_wan) == (D("0.6"), 2, D("60"))


def test_issue9_automatic_mean_beats_a_higher_routine_and_a_lower_spot(
    registry: Registry,
) -> None:
    measurements = [
        *_automatic_month("a-two", "nh3n", "1.2"),
        m("a-two", "nh3n", dt.date(2025, 3, 3), "2.5"),  # routine, higher, but not preferred
        m("a-two", "nh3n", dt.date(2025, 3, 17), "1.1", kind="spot"),
    ]
    line = line_of(run(registry, measurements, MAR_2025).unit("a"), "a-two", "nh3n")
    assert line.value == D("1.20")
    assert line.basis.startswith("自动站日均值月均值")
    assert line.sources == ("auto_monthly_mean", "spot")
    assert line.tiers == 1


def test_issue9_insufficient_automatic_data_fall_back_to_routine_and_spot(
    registry: Registry,
) -> None:
    measurements = [
        *auto("a-two", "nh3n", days(dt.date(2025, 3, 1), 20), "1.2"),  # 20 < 21 days
        m("a-two", "nh3n", dt.date(2025, 3, 3), "2.5"),
    ]
    line = line_of(run(registry, measurements, MAR_2025).unit("a"), "a-two", "nh3n")
    assert (line.value, line.basis, line.sources) == (D("2.50"), "例行监测最高值", ("routine",))


def test_issue9_cod_is_laboratory_only_routine_wins_over_automatic(registry: Registry) -> None:
    measurements = [
        *_automatic_month("a-two", "cod", "30"),
        m("a-two", "cod", dt.date(2025, 3, 3), "22"),
    ]
    line = line_of(run(registry, measurements, MAR_2025).unit("a"), "a-two", "cod")
    assert (line.value, line.sources) == (D("22"), ("routine",))


def test_issue9_hebei_2016_keeps_routine_and_spot(registry: Registry) -> None:
    month = dt.date(2018, 3, 1)
    measurements = [
        *auto("a-two", "nh3n", days(month, 31), "1.9"),
        m("a-two", "nh3n", dt.date(2018, 3, 3), "1.2"),
    ]
    line = line_of(run(registry, measurements, month).unit("a"), "a-two", "nh3n")
    assert (line.value, line.basis) == (D("1.20"), "例行监测最高值")
    assert load_rule_set("hebei-2016").prefer == "manual"


# --- issue 9: what a figure rests on ----------------------------------------------------------


def test_issue9_suspect_and_lower_bound_marks_reach_lines_and_events(registry: Registry) -> None:
    marked = [
        Measurement("a-two", "tp", day, D("0.45"), "auto_daily", suspect=2, lower_bound=i == 0)
        for i, day in enumerate(days(dt.date(2025, 3, 1), 31))
    ]
    unit = run(registry, [MEETS_MAR, *marked], MAR_2025).unit("a")
    line = line_of(unit, "a-two", "tp")
    assert (line.suspect, line.lower_bound, line.censored) == (62, True, False)
    [event] = unit.events
    assert (event.days, event.suspect, event.lower_bound) == (31, 62, True)


def test_issue9_censored_spot_result_is_marked(registry: Registry) -> None:
    measurements = [
        m("a-two", "cod", dt.date(2025, 3, 3), "21"),
        Measurement("a-two", "cod", dt.date(2025, 3, 9), D("24"), "spot", censored=True),
    ]
    line = line_of(run(registry, measurements, MAR_2025).unit("a"), "a-two", "cod")
    assert (line.value, line.censored, line.suspect, line.lower_bound) == (D("24"), True, 0, False)


def test_issue9_a_cap_limits_each_line(registry: Registry) -> None:
    rules = _hengshui(('value = "none"', 'value = "60"'))
    assert rules.cap_wan == D("60")
    line = line_of(run(registry, [m("a-two", "cod", MAR_2025, "45")], MAR_2025, rules).unit("a"),
                   "a-two", "cod")  # fmt: skip
    assert (line.tiers, line.amount_wan) == (7, D("60"))
