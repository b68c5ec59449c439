"""Early-warning rules (sections/alert_rules.py): each rule on hand-made series.

Sources in the test ids: ``§7-A`` the scheme of domain.md §7 [A]; ``GB3838-V`` the limits of
GB 3838-2002 表1 [V]; ``hs2021-V`` the event rule of the 2021 compensation rule set [V].
"""

from __future__ import annotations

import datetime as dt
from types import MappingProxyType

import pandas as pd
import pytest

from sections.alert_evaluation import (
    evaluate,
    evaluate_days,
    evaluate_events,
    evaluate_forecasts,
    evaluate_months,
    evaluate_stations,
    evaluate_values,
)
from sections.alert_rules import (
    RULE_PARAMETERS,
    AlertLevel,
    AlertRules,
    Condition,
    load_alert_rules,
    parse_alert_rules,
)
from sections.classes import WaterClass
from sections.errors import AlertRulesError, DataTableError, SectionsError
from sections.registry import Section

TZ = "Asia/Shanghai"
DAY = dt.date(2025, 7, 1)


def _section(section_id: str = "s", *, water_body: str = "river", assessed: bool = True) -> Section:
    return Section(
        id=section_id,
        name=section_id,
        confirmed=True,
        river="滏阳河",
        water_body=water_body,  # type: ignore[arg-type]
        level="city" if assessed else "reference",
        lon=115.7,
        lat=37.7,
        targets=MappingProxyType({2020: WaterClass.III}),
        assessed_unit="u" if assessed else None,
    )


SECTIONS = {"s": _section(), "ref": _section("ref", assessed=False)}


def _grid(key: str, values: list[float], section: str = "s") -> pd.DataFrame:
    index = pd.date_range("2025-07-01", periods=len(values), freq="4h", tz=TZ)
    return pd.DataFrame({(section, key): values}, index=index)


def _days(
    key: str, values: list[float], section: str = "s", start: str = "2025-07-01"
) -> pd.DataFrame:
    dates = pd.date_range(start, periods=len(values), freq="D")
    return pd.DataFrame({"section_id": section, "parameter": key, "date": dates, "value": values})


def _rules(rule_id: str, conditions: list[Condition]) -> list[Condition]:
    return [c for c in conditions if c.rule_id == rule_id]


def _text_with(old: str, new: str) -> str:
    text = _bundled_text()
    assert old in text
    return text.replace(old, new, 1)


def _bundled_text() -> str:
    from importlib import resources

    return resources.files("sections").joinpath("data", "alert_rules.toml").read_text("utf-8")


# --- the rules file ------------------------------------------------------------------------


def test_bundled_rules_cover_every_rule_and_keep_the_scheme_tag() -> None:
    rules = load_alert_rules()
    assert set(rules.rules) == set(RULE_PARAMETERS)
    assert rules.provenance == "assumption"
    assert all(rule.provenance == "assumption" for rule in rules.rules.values())
    assert rules.rule("station_silent").audience == "operators"
    assert rules.rule("flat_line").audience == "operators"
    assert {
        r.audience for r in rules.rules.values() if r.id not in ("station_silent", "flat_line")
    } == {"river_chiefs"}
    assert [lv.label for lv in AlertLevel] == ["提示", "黄色", "橙色", "红色"]
    assert rules.colours[AlertLevel.RED] == AlertLevel.RED.colour
    assert load_alert_rules() is rules  # cached


@pytest.mark.parametrize(
    ("rule_id", "level"),
    [
        ("value_exceeds", AlertLevel.NOTICE),
        ("consecutive_values", AlertLevel.YELLOW),
        ("daily_mean_exceeds", AlertLevel.YELLOW),
        ("forecast_probability", AlertLevel.YELLOW),
        ("daily_worse_than_v", AlertLevel.ORANGE),
        ("event_imminent", AlertLevel.ORANGE),
        ("consecutive_days", AlertLevel.ORANGE),
        ("class_drop", AlertLevel.ORANGE),
        ("event_recorded", AlertLevel.RED),
        ("inferior_v", AlertLevel.RED),
    ],
    ids=lambda v: f"§7-A-{v}" if isinstance(v, str) else v.label,
)
def test_levels_follow_domain_section_7(rule_id: str, level: AlertLevel) -> None:
    assert load_alert_rules().rule(rule_id).level is level


@pytest.mark.parametrize(
    ("old", "new", "rule", "field"),
    [
        (
            '[rules.flat_line]\nlevel = "yellow"',
            '[rules.flat_line]\nlevel = "purple"',
            "rules.flat_line",
            "level",
        ),
        ('audience = "operators"', 'audience = "everyone"', "rules.station_silent", "audience"),
        (
            "parameters = { count = 2 }",
            "parameters = { count = 0 }",
            "rules.consecutive_values",
            "parameters.count",
        ),
        (
            "parameters = { count = 2 }",
            "parameters = { cnt = 2 }",
            "rules.consecutive_values",
            "parameters.cnt",
        ),
        (
            "parameters = { days = 3 }",
            'parameters = { days = "3" }',
            "rules.consecutive_days",
            "parameters.days",
        ),
        (
            "probability = 0.6",
            "probability = 1.5",
            "rules.forecast_probability",
            "parameters.probability",
        ),
        (
            "min_horizon_h = 24",
            "min_horizon_h = 96",
            "rules.forecast_probability",
            "parameters.min_horizon_h",
        ),
        ('"codmn"] }', '"cod_mn"] }', "rules.event_imminent", "parameters.factors"),
        (
            "day = 2, event_days = 3",
            "day = 3, event_days = 3",
            "rules.event_imminent",
            "parameters.day",
        ),
        (
            'escalate_level = "red"',
            'escalate_level = "crimson"',
            "rules.class_drop",
            "parameters.escalate_level",
        ),
        (
            "[rules.inferior_v]\nlevel",
            "[rules.inferior_v]\nseverity = 1\nlevel",
            "rules.inferior_v",
            "severity",
        ),
        (
            '[rules.inferior_v]\nlevel = "red"\naudience = "river_chiefs"\nenabled = true',
            '[rules.inferior_v]\nlevel = "red"\naudience = "river_chiefs"\nenabled = "yes"',
            "rules.inferior_v",
            "enabled",
        ),
        ("[rules.inferior_v]", "[rules.inferior_vi]", "rules", None),
        ("order = 4", "order = 5", "levels.red", "order"),
        ('label = "红色"', 'label = "赤色"', "levels.red", "label"),
        ("[levels.red]", "[levels.crimson]", "levels", None),
    ],
    ids=[
        "unknown-level",
        "unknown-audience",
        "count-zero",
        "unknown-parameter",
        "wrong-type",
        "probability-above-1",
        "horizons-reversed",
        "unknown-factor",
        "day-not-before-event",
        "unknown-escalate-level",
        "unknown-rule-key",
        "enabled-not-bool",
        "unknown-rule",
        "level-order",
        "level-label",
        "unknown-level-table",
    ],
)
def test_rules_file_errors_name_rule_and_field(
    old: str, new: str, rule: str, field: str | None
) -> None:
    with pytest.raises(AlertRulesError) as caught:
        parse_alert_rules(_text_with(old, new), source="test.toml")
    assert caught.value.rule == rule
    assert caught.value.field == field
    assert rule in str(caught.value)
    assert isinstance(caught.value, SectionsError)
    assert isinstance(caught.value, ValueError)


def test_a_missing_rule_is_an_error_not_a_silent_off_switch() -> None:
    text = _bundled_text()
    start = text.index("[rules.flat_line]")
    with pytest.raises(AlertRulesError, match="flat_line"):
        parse_alert_rules(text[:start])


def test_syntax_error_and_unreadable_file() -> None:
    with pytest.raises(AlertRulesError, match="TOML"):
        parse_alert_rules("rules = [", source="bad.toml")
    with pytest.raises(AlertRulesError, match="cannot read"):
        load_alert_rules("/nonexistent/alert_rules.toml")


def test_missing_parameters_take_their_defaults() -> None:
    rules = parse_alert_rules(_text_with("parameters = { count = 6 }\n", "\n"))
    assert rules.rule("flat_line").number("count") == 6


def test_unknown_rule_lookup_names_the_valid_ids() -> None:
    with pytest.raises(DataTableError, match="valid: value_exceeds"):
        load_alert_rules().rule("nope")


@pytest.mark.parametrize("rule_id", list(RULE_PARAMETERS), ids=lambda r: f"§7-A-{r}")
def test_every_rule_can_be_disabled(rule_id: str) -> None:
    assert load_alert_rules().rule(rule_id).enabled
    every = _all_conditions(load_alert_rules())
    assert rule_id in {c.rule_id for c in every}
    off = _all_conditions(load_alert_rules().disabled(rule_id))
    assert rule_id not in {c.rule_id for c in off}
    assert len(off) < len(every)
    # the same through the file itself
    text = _bundled_text()
    start = text.index(f"[rules.{rule_id}]")
    at = text.index("enabled = true", start)
    disabled = parse_alert_rules(text[:at] + "enabled = false" + text[at + len("enabled = true") :])
    assert not disabled.rule(rule_id).enabled
    assert rule_id not in {c.rule_id for c in _all_conditions(disabled)}


def _all_conditions(rules: AlertRules) -> list[Condition]:
    now = pd.Timestamp("2025-07-10 12:00", tz=TZ)
    return evaluate(
        sections=SECTIONS,
        rules=rules,
        values=_grid("nh3n", [1.2, 1.3]),
        daily=_days("nh3n", [1.2, 1.3, 2.5]),
        forecasts=pd.DataFrame(
            {
                "section_id": ["s"],
                "parameter": ["tp"],
                "horizon_h": [48],
                "target_at": [now + pd.Timedelta(hours=48)],
                "p_exceed": [0.9],
            }
        ),
        current=pd.DataFrame({"section_id": ["s"], "month": [DAY], "class": [5]}),
        last_year=pd.DataFrame({"section_id": ["s"], "month": [dt.date(2024, 7, 1)], "class": [3]}),
        events=pd.DataFrame(
            {
                "section_id": ["s"],
                "factor": ["nh3n"],
                "start": [DAY],
                "days": [3],
                "end": [dt.date(2025, 7, 3)],
                "charged_on": [dt.date(2025, 7, 3)],
            }
        ),
        last_seen=pd.Series({"s": now - pd.Timedelta(hours=9)}),
        readings=pd.DataFrame(
            {
                "section_id": "s",
                "parameter": "do",
                "time": pd.date_range("2025-07-10", periods=6, freq="h", tz=TZ),
                "value": [7.1] * 6,
            }
        ),
        now=now.to_pydatetime(),
    )


# --- 4-hourly values -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "values", "exceeding"),
    [
        ("nh3n", [1.0, 1.01, 0.99], [False, True, False]),
        ("tp", [0.2, 0.21], [False, True]),
        ("codmn", [6.0, 6.1], [False, True]),
        ("do", [5.0, 4.9, 6.0], [False, True, False]),
        ("ph", [6.0, 9.0, 5.0, 10.0, 9.4, 9.6], [False, False, True, True, False, True]),
    ],
    ids=[
        "GB3838-V-nh3n-III-1.0-equal-meets",
        "GB3838-V-tp-river-III-0.2",
        "GB3838-V-codmn-III-6",
        "GB3838-V-do-III-below-5",
        "GB3838-V-ph-6-9-rounded-to-integer",
    ],
)
def test_value_exceeds_against_target_class(
    key: str, values: list[float], exceeding: list[bool]
) -> None:
    found = _rules("value_exceeds", evaluate_values(_grid(key, values), sections=SECTIONS, on=DAY))
    index = _grid(key, values).index
    assert [c.observed_at for c in found] == [t for t, e in zip(index, exceeding, strict=True) if e]
    assert all(c.level is AlertLevel.NOTICE and c.audience == "river_chiefs" for c in found)


def test_value_condition_fields_and_detail_GB3838_V() -> None:
    found = evaluate_values(_grid("nh3n", [0.5, 1.62, 1.62]), sections=SECTIONS, on=DAY)
    last = found[-1]
    assert last.rule_id == "consecutive_values"
    assert (last.section_id, last.factor, last.value, last.limit) == ("s", "nh3n", 1.62, 1.0)
    assert last.detail == "氨氮 1.62 mg/L，超Ⅲ类限值 1 的 0.62 倍，连续 2 个 4 小时值"
    assert last.trend == "steady" and found[0].trend == "rising"
    assert last.observed_at.tzinfo is not None and last.probability is None
    do = evaluate_values(_grid("do", [4.0]), sections=SECTIONS, on=DAY)[0]
    assert (do.limit, do.detail) == (5.0, "溶解氧 4 mg/L，低于Ⅲ类限值 5")


@pytest.mark.parametrize(
    ("values", "yellow_at"),
    [
        ([1.2, 1.2, 1.2], [1, 2]),
        ([1.2, 0.8, 1.2], []),
        ([1.2, float("nan"), 1.2], []),
        ([1.2, 1.2, 0.5, 1.2, 1.2], [1, 4]),
    ],
    ids=[
        "§7-A-run-of-3",
        "§7-A-valid-non-exceeding-resets",
        "§7-A-gap-breaks-run",
        "§7-A-reset-and-restart",
    ],
)
def test_consecutive_values(values: list[float], yellow_at: list[int]) -> None:
    grid = _grid("nh3n", values)
    found = _rules("consecutive_values", evaluate_values(grid, sections=SECTIONS, on=DAY))
    assert [c.observed_at for c in found] == [grid.index[i] for i in yellow_at]
    assert all(c.level is AlertLevel.YELLOW for c in found)


def test_a_missing_bin_is_a_gap_too() -> None:
    grid = _grid("nh3n", [1.2, 1.2, 1.2]).drop(index=_grid("nh3n", [1.2, 1.2, 1.2]).index[1])
    assert _rules("consecutive_values", evaluate_values(grid, sections=SECTIONS, on=DAY)) == []


def test_consecutive_count_is_configurable() -> None:
    rules = parse_alert_rules(
        _text_with("parameters = { count = 2 }", "parameters = { count = 3 }")
    )
    grid = _grid("nh3n", [1.2, 1.2, 1.2])
    found = _rules(
        "consecutive_values", evaluate_values(grid, sections=SECTIONS, on=DAY, rules=rules)
    )
    assert [c.observed_at for c in found] == [grid.index[2]]


# --- days ------------------------------------------------------------------------------------


def test_daily_mean_exceeds_and_equality_GB3838_V() -> None:
    found = evaluate_days(_days("nh3n", [1.0, 1.01]), sections=SECTIONS)
    assert [(c.rule_id, c.observed_at.day) for c in found if c.rule_id == "daily_mean_exceeds"] == [
        ("daily_mean_exceeds", 2)
    ]
    assert found[0].observed_at == pd.Timestamp("2025-07-02", tz=TZ)


def test_daily_worse_than_v_and_inferior_v_GB3838_V() -> None:
    found = evaluate_days(_days("nh3n", [2.0, 2.01]), sections=SECTIONS)
    worse = _rules("daily_worse_than_v", found)
    red = _rules("inferior_v", found)
    assert [c.observed_at.day for c in worse] == [2] and [c.observed_at.day for c in red] == [2]
    assert worse[0].limit == 2.0 and red[0].level is AlertLevel.RED
    assert "劣Ⅴ类" in red[0].detail


def test_worse_than_v_of_a_non_deciding_item_is_orange_only_GB3838_V() -> None:
    lake = {"l": _section("l", water_body="lake")}
    found = evaluate_days(_days("tn", [2.1], section="l"), sections=lake)
    assert {c.rule_id for c in found} == {"daily_mean_exceeds", "daily_worse_than_v"}


def test_ph_and_do_days_GB3838_V() -> None:
    found = evaluate_days(_days("ph", [5.0]), sections=SECTIONS)
    assert {c.rule_id for c in found} == {"daily_mean_exceeds", "daily_worse_than_v", "inferior_v"}
    found = evaluate_days(_days("do", [1.9]), sections=SECTIONS)
    assert _rules("inferior_v", found)[0].limit == 2.0


def test_given_classes_are_used() -> None:
    daily = _days("nh3n", [1.2]).assign(**{"class": [6]})
    assert _rules("inferior_v", evaluate_days(daily, sections=SECTIONS))


@pytest.mark.parametrize(
    ("values", "imminent_day", "run_days"),
    [
        ([1.2, 1.2, 1.2, 1.2], [2], [3, 4]),
        ([1.2, 0.9, 1.2, 1.2], [4], []),
        ([1.2, float("nan"), 1.2, 1.2], [4], []),
    ],
    ids=["hs2021-V-run-of-4", "hs2021-V-valid-day-resets", "hs2021-V-missing-day-breaks-as-engine"],
)
def test_event_imminent_and_consecutive_days(
    values: list[float], imminent_day: list[int], run_days: list[int]
) -> None:
    found = evaluate_days(_days("nh3n", values), sections=SECTIONS)
    assert [c.observed_at.day for c in _rules("event_imminent", found)] == imminent_day
    assert [c.observed_at.day for c in _rules("consecutive_days", found)] == run_days
    imminent = _rules("event_imminent", found)[0]
    assert "扣缴" in imminent.detail and "连续 3 天" in imminent.detail
    assert imminent.level is AlertLevel.ORANGE


def test_a_missing_row_breaks_a_run_of_days_hs2021_V() -> None:
    daily = _days("nh3n", [1.2, 1.2, 1.2]).drop(index=1)
    found = evaluate_days(daily, sections=SECTIONS)
    assert _rules("consecutive_days", found) == []
    assert _rules("event_imminent", found) == []


def test_event_imminent_only_for_compensation_factors_at_assessed_sections_hs2021_V() -> None:
    found = evaluate_days(_days("do", [4.0, 4.0, 4.0]), sections=SECTIONS)
    assert _rules("event_imminent", found) == [] and len(_rules("consecutive_days", found)) == 1
    found = evaluate_days(_days("nh3n", [1.2, 1.2], section="ref"), sections=SECTIONS)
    assert _rules("event_imminent", found) == []


# --- forecasts, months, events, stations ---------------------------------------------------


def test_forecast_probability_window_and_threshold_A() -> None:
    at = pd.Timestamp("2025-07-01 08:00", tz=TZ)
    frame = pd.DataFrame(
        {
            "section_id": "s",
            "parameter": "nh3n",
            "horizon_h": [20, 24, 48, 72, 76, 48],
            "p_exceed": [0.9, 0.6, 0.59, 0.8, 0.9, float("nan")],
            "target_at": [at + pd.Timedelta(hours=h) for h in (20, 24, 48, 72, 76, 48)],
        }
    )
    found = evaluate_forecasts(frame, sections=SECTIONS)
    assert [c.probability for c in found] == [0.6, 0.8]
    assert found[0].limit == 1.0 and found[0].level is AlertLevel.YELLOW
    assert found[0].observed_at == at + pd.Timedelta(hours=24)


@pytest.mark.parametrize(
    ("now", "before", "level"),
    [
        (4, 3, AlertLevel.ORANGE),
        (5, 3, AlertLevel.RED),
        (6, 3, AlertLevel.RED),
        (3, 3, None),
        (2, 3, None),
    ],
    ids=[
        "Yangtze-2018-V-one-class",
        "Yangtze-2018-V-two-classes",
        "three-classes",
        "same",
        "better",
    ],
)
def test_class_drop(now: int, before: int, level: AlertLevel | None) -> None:
    found = evaluate_months(
        pd.DataFrame({"section_id": ["s"], "month": [dt.date(2025, 7, 15)], "class": [now]}),
        pd.DataFrame({"section_id": ["s"], "month": [dt.date(2024, 7, 1)], "class": [before]}),
    )
    assert [c.level for c in found] == ([] if level is None else [level])
    if found:
        assert found[0].factor == "" and found[0].limit == before
        assert found[0].observed_at == pd.Timestamp("2025-07-01", tz=TZ)


def test_event_recorded_takes_the_engine_lines_hs2021_V() -> None:
    lines = pd.DataFrame(
        {
            "section_id": ["s"],
            "factor": ["codmn+nh3n"],
            "start": [DAY],
            "end": [dt.date(2025, 7, 4)],
            "days": [4],
            "charged_on": [dt.date(2025, 7, 3)],
        }
    )
    found = evaluate_events(lines)
    assert [(c.factor, c.value, c.level) for c in found] == [
        ("codmn", 4.0, AlertLevel.RED),
        ("nh3n", 4.0, AlertLevel.RED),
    ]
    assert found[0].observed_at == pd.Timestamp("2025-07-03", tz=TZ)


def test_station_silent_more_than_8_hours_A() -> None:
    now = pd.Timestamp("2025-07-01 18:00", tz=TZ)
    seen = pd.Series(
        {"a": now - pd.Timedelta(hours=8), "b": now - pd.Timedelta(hours=8, minutes=1), "c": pd.NaT}
    )
    empty = pd.DataFrame(columns=["section_id", "parameter", "time", "value"])
    found = evaluate_stations(seen, empty, now.to_pydatetime())
    assert [c.section_id for c in found] == ["b", "c"]
    assert all(c.audience == "operators" and c.factor == "" for c in found)
    assert found[1].observed_at == now and found[1].value is None


def test_flat_line_A() -> None:
    times = pd.date_range("2025-07-01", periods=8, freq="h", tz=TZ)
    readings = pd.DataFrame(
        {
            "section_id": "s",
            "parameter": "nh3n",
            "time": times,
            "value": [0.3, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5],
        }
    )
    found = evaluate_stations(
        pd.Series(dtype="datetime64[ns, UTC]"), readings, times[-1].to_pydatetime()
    )
    assert [c.observed_at for c in found] == list(times[6:])
    assert found[0].audience == "operators" and "连续 6 个读数" in found[0].detail
    broken = readings.assign(value=[0.5, 0.5, 0.5, 0.4, 0.5, 0.5, 0.5, 0.5])
    assert (
        evaluate_stations(pd.Series(dtype="datetime64[ns, UTC]"), broken, times[-1].to_pydatetime())
        == []
    )


def test_condition_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="tz-aware"):
        Condition(
            "s",
            "nh3n",
            AlertLevel.NOTICE,
            "value_exceeds",
            "river_chiefs",
            dt.datetime(2025, 7, 1),
            1.2,
            1.0,
            "",
        )


def test_evaluate_returns_every_condition_sorted() -> None:
    found = _all_conditions(load_alert_rules())
    assert {c.rule_id for c in found} == set(RULE_PARAMETERS)
    assert found == sorted(
        found, key=lambda c: (c.observed_at, c.section_id, c.factor, c.level, c.rule_id)
    )
    # a run of 5 exceeding values: 5 notices and 4 yellow, none merged
    five = evaluate_values(_grid("nh3n", [1.2] * 5), sections=SECTIONS, on=DAY)
    assert len(_rules("value_exceeds", five)) == 5 and len(_rules("consecutive_values", five)) == 4
