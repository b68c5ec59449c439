"""Rule sets as data: the bundled documents, choosing one by month, and bad rule files."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from fractions import Fraction
from importlib import resources
from pathlib import Path

import pytest

from compensation.errors import RuleError
from compensation.rules import load_rule_set, parse_rule_set, rule_set_for, rule_sets


def _bundled_text(rule_id: str) -> str:
    return resources.files("compensation").joinpath("rules", f"{rule_id}.toml").read_text("utf-8")


# --- the bundled rule sets --------------------------------------------------------------------


def test_both_bundled_rule_sets_load_oldest_first() -> None:
    assert [r.id for r in rule_sets()] == ["hebei-2016", "hengshui-2021"]


def test_hebei_2016_rule_set() -> None:
    rules = load_rule_set("hebei-2016")
    assert rules.document == "冀政办字〔2016〕169号"
    assert (rules.effective_from, rules.effective_to) == (
        dt.date(2016, 1, 1),
        dt.date(2020, 12, 31),
    )
    assert list(rules.factors) == ["cod", "nh3n", "tp"]
    assert {k: f.step for k, f in rules.factors.items()} == {
        "cod": Decimal("0.2"),
        "nh3n": Decimal("0.5"),
        "tp": Decimal("0.5"),
    }
    assert all(isinstance(f.step, Decimal) for f in rules.factors.values())
    assert rules.amount_per_tier_wan == Decimal("30")
    assert isinstance(rules.amount_per_tier_wan, Decimal)
    assert rules.value_sources == ("routine", "spot")
    assert rules.auto_fallback is False
    assert rules.events.enabled is False
    assert rules.rewards.enabled is False
    assert rules.exempt_statuses == ("no_flow", "dry", "frozen", "excluded")


def test_hengshui_2021_rule_set() -> None:
    rules = load_rule_set("hengshui-2021")
    assert rules.document == "衡政办字〔2021〕3号"
    assert (rules.effective_from, rules.effective_to) == (dt.date(2021, 1, 1), None)
    assert list(rules.factors) == ["cod", "codmn", "nh3n", "tp", "tn"]
    assert rules.factors["codmn"].step == Decimal("0.2")
    assert rules.factors["tn"].step == Decimal("0.5")
    assert rules.auto_fallback is True
    assert rules.min_valid_day_fraction == Fraction(2, 3)
    assert rules.events.enabled is True
    assert rules.events.factors == ("cod", "nh3n", "tp", "codmn")
    assert "tn" not in rules.events.factors
    assert rules.events.min_days == 3
    assert rules.events.amount_wan == Decimal("30")
    assert rules.rewards.enabled is False


def test_assumptions_list_the_parameters_tagged_assumption() -> None:
    params = [a.parameter for a in load_rule_set("hengshui-2021").assumptions]
    for name in ("factors.codmn.step", "factors.tn.step", "events.amount_wan",
                 "events.charge_month", "effective_period", "inflow.increase_formula"):  # fmt: skip
        assert name in params
    # derived and verified parameters are not assumptions
    for name in ("factors.cod.step", "factors.nh3n.step", "amount_per_tier_wan", "events.min_days",
                 "value_selection", "exemptions"):  # fmt: skip
        assert name not in params
    codmn = next(
        a for a in load_rule_set("hengshui-2021").assumptions if a.parameter == "factors.codmn.step"
    )
    assert codmn.value == "0.2 倍"
    assert codmn.provenance == "assumption"
    assert "[A]" in codmn.clause
    hebei = [a.parameter for a in load_rule_set("hebei-2016").assumptions]
    assert "factors.codmn.step" not in hebei
    assert "factors.cod.step" not in hebei


# --- choosing by month --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("month", "expected"),
    [
        pytest.param(dt.date(2016, 1, 1), "hebei-2016", id="2016-01"),
        pytest.param(dt.date(2018, 2, 15), "hebei-2016", id="2018-02"),
        pytest.param(dt.date(2020, 12, 31), "hebei-2016", id="2020-12"),
        pytest.param(dt.date(2021, 1, 1), "hengshui-2021", id="2021-01"),
        pytest.param(dt.date(2025, 3, 1), "hengshui-2021", id="2025-03"),
    ],
)
def test_rule_set_for_picks_the_rule_set_in_force(month: dt.date, expected: str) -> None:
    assert rule_set_for(month).id == expected


def test_no_rule_set_before_2016() -> None:
    with pytest.raises(RuleError, match="2015-12"):
        rule_set_for(dt.date(2015, 12, 1))


def test_unknown_rule_set_id_lists_the_valid_ones() -> None:
    with pytest.raises(RuleError) as caught:
        load_rule_set("beijing-2030")
    message = str(caught.value)
    assert "beijing-2030" in message
    assert "hebei-2016" in message and "hengshui-2021" in message


def test_load_rule_set_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(
        _bundled_text("hebei-2016").replace('id = "hebei-2016"', 'id = "mine"'), "utf-8"
    )
    rules = load_rule_set(path)
    assert rules.id == "mine"
    assert list(rules.factors) == ["cod", "nh3n", "tp"]


def test_rule_error_is_a_value_error() -> None:
    assert issubclass(RuleError, ValueError)


# --- bad rule files -----------------------------------------------------------------------------

HENGSHUI = _bundled_text("hengshui-2021")


def _without_line(text: str, section: str, key: str) -> str:
    """Remove ``key = …`` inside the table ``[section]``."""
    start = text.index(f"[{section}]")
    end = text.find("\n[", start + 1)
    end = len(text) if end == -1 else end
    body = re.sub(rf"^{re.escape(key)} = .*\n", "", text[start:end], count=1, flags=re.MULTILINE)
    assert body != text[start:end], (section, key)
    return text[:start] + body + text[end:]


def _with_line(text: str, section: str, key: str, value: str) -> str:
    return _without_line(text, section, key).replace(
        f"[{section}]\n", f"[{section}]\n{key} = {value}\n"
    )


NO_FACTORS = re.sub(r"^\[factors\.\w+\]\n(?:(?!\[).*\n)*", "", HENGSHUI, flags=re.MULTILINE)

BAD_RULES = [
    pytest.param(_without_line(HENGSHUI, "factors.cod", "step"), ["factors.cod"],
                 id="missing-step"),
    pytest.param(_with_line(HENGSHUI, "factors.cod", "step", '"zero"'), ["factors.cod", "zero"],
                 id="step-not-a-number"),
    pytest.param(_with_line(HENGSHUI, "factors.cod", "step", '"-0.2"'),
                 ["factors.cod", "positive"], id="negative-step"),
    pytest.param(_with_line(HENGSHUI, "factors.nh3n", "step_provenance", '"guess"'),
                 ["factors.nh3n", "step_provenance", "guess"], id="bad-provenance-tag"),
    pytest.param(_without_line(HENGSHUI, "factors.tp", "step_provenance"),
                 ["factors.tp", "step_provenance"], id="missing-provenance-tag"),
    pytest.param(_with_line(HENGSHUI, "amount_per_tier_wan", "provenance", '"rumour"'),
                 ["amount_per_tier_wan", "rumour"], id="bad-amount-provenance"),
    pytest.param(HENGSHUI.replace("[factors.cod]", "[factors.bod5]"),
                 ["factors.bod5", "unknown factor"], id="unknown-factor"),
    pytest.param(NO_FACTORS, ["missing 'factors'"], id="no-factors-table"),
    pytest.param(NO_FACTORS + "[factors]\n", ["at least one factor"], id="empty-factors"),
    pytest.param(HENGSHUI.replace('id = "hengshui-2021"\n', ""), ["missing 'id'"], id="missing-id"),
    pytest.param(HENGSHUI.replace('effective_from = "2021-01-01"', 'effective_from = "2021-13-01"'),
                 ["effective date"], id="bad-effective-date"),
    pytest.param(_with_line(HENGSHUI, "value_selection", "sources", '["routine", "rumour"]'),
                 ["value_selection", "sources"], id="unknown-value-source"),
    pytest.param(_with_line(HENGSHUI, "value_selection", "min_valid_day_fraction", '"3/2"'),
                 ["value_selection", "3/2"], id="fraction-above-one"),
    pytest.param(_with_line(HENGSHUI, "exemptions", "statuses", '["flood"]'),
                 ["exemptions", "unknown status"], id="unknown-status"),
    pytest.param(_with_line(HENGSHUI, "events", "factors", '["cod", "bod5"]'),
                 ["events", "factors"], id="unknown-event-factor"),
    pytest.param(_with_line(HENGSHUI, "rewards", "kind", '"best_in_class"'),
                 ["rewards", "best_in_class"], id="unknown-reward-kind"),
    pytest.param(HENGSHUI.replace("[events]", "[events"), ["TOML"], id="toml-syntax"),
    pytest.param(_with_line(HENGSHUI, "events", "counting", '"daily"'),
                 ["events", "counting", "daily"], id="unknown-counting"),
    pytest.param(_without_line(HENGSHUI, "events", "counting_provenance"),
                 ["events", "counting_provenance"], id="counting-without-provenance"),
    pytest.param(_without_line(HENGSHUI, "events", "inflow_provenance"),
                 ["events", "inflow_provenance"], id="event-inflow-without-provenance"),
    pytest.param(_with_line(HENGSHUI, "value_selection", "prefer", '"laboratory"'),
                 ["value_selection", "prefer", "laboratory"], id="unknown-preference"),
    pytest.param(_with_line(HENGSHUI, "value_selection", "automatic_factors", '["cod"]'),
                 ["value_selection", "automatic_factors", "cod"], id="cod-is-not-automatic"),
    pytest.param(_with_line(HENGSHUI, "value_selection", "automatic_factors", "[]"),
                 ["value_selection", "automatic_factors"], id="automatic-without-factors"),
    pytest.param(re.sub(r"^\[water_bodies\.lake\]\n(?:(?!\[).*\n)*", "", HENGSHUI,
                        flags=re.MULTILINE).replace("[water_bodies.lake.", "[x."),
                 ["water_bodies.lake", "missing"], id="missing-water-body"),
    pytest.param(HENGSHUI.replace("[water_bodies.lake]", "[water_bodies.sea]\nfactors = []\n"
                                  'provenance = "assumption"\n[water_bodies.lake]'),
                 ["water_bodies", "sea"], id="unknown-water-body"),
    pytest.param(_with_line(HENGSHUI, "water_bodies.river", "factors", '["cod", "bod5"]'),
                 ["water_bodies.river", "bod5"], id="unknown-water-body-factor"),
    pytest.param(_with_line(_bundled_text("hebei-2016"), "water_bodies.lake", "factors",
                            '["cod", "tn"]'),
                 ["water_bodies.lake", "tn"], id="water-body-factor-without-step"),
    pytest.param(_with_line(HENGSHUI, "water_bodies.lake", "factors", '["cod", "tp"]'),
                 ["water_bodies.lake", "codmn"], id="factor-provenance-of-an-unlisted-factor"),
    pytest.param(_without_line(HENGSHUI, "water_bodies.river", "provenance"),
                 ["water_bodies.river", "provenance"], id="water-body-without-provenance"),
    pytest.param(_with_line(HENGSHUI, "cap_wan", "value", '"-1"'), ["cap_wan"],
                 id="negative-cap"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "words"), BAD_RULES)
def test_bad_rule_file_is_a_rule_error_naming_the_problem(text: str, words: list[str]) -> None:
    with pytest.raises(RuleError) as caught:
        parse_rule_set(text, source="bad.toml")
    message = str(caught.value)
    assert message.startswith("bad.toml")
    for word in words:
        assert word in message


def test_missing_step_names_the_key() -> None:
    with pytest.raises(RuleError, match="step"):
        parse_rule_set(_without_line(HENGSHUI, "factors.cod", "step"), source="bad.toml")


MALFORMED_SHAPES = [
    pytest.param(re.sub(r"\[factors\.cod\]\n(.+\n){3}", '[factors]\ncod = "0.2"\n', HENGSHUI),
                 id="factor-not-a-table"),
    pytest.param(_with_line(HENGSHUI, "events", "min_days", '"three"'), id="min-days-not-a-number"),
    pytest.param(HENGSHUI.replace('effective_from = "2021-01-01"',
                                  'effective_from = "2021-01-01"\neffective_to = 2030-12-31'),
                 id="effective-to-a-toml-date"),
]  # fmt: skip


@pytest.mark.parametrize("text", MALFORMED_SHAPES)
def test_malformed_shapes_are_rule_errors(text: str) -> None:
    with pytest.raises(RuleError):
        parse_rule_set(text, source="bad.toml")


def test_a_valid_modified_rule_set_parses() -> None:
    text = _with_line(HENGSHUI, "rewards", "enabled", "true")
    text = _with_line(text, "rewards", "amount_wan", '"10"')
    rules = parse_rule_set(text)
    assert rules.rewards.enabled is True
    assert rules.rewards.amount_wan == Decimal("10")


# --- issue 9: honest provenance (domain.md §6) ----------------------------------------------


def test_hengshui_2021_derived_from_the_2016_notice_are_not_verified() -> None:
    rules = load_rule_set("hengshui-2021")
    # 30 万元 a tier, no cap and "highest of routine and spot checks": verified in 2016 only
    for parameter in ("amount_per_tier_wan", "cap_wan", "value_selection"):
        assert rules.provenance[parameter] == "derived", parameter
    for parameter in ("factors.cod.step", "factors.nh3n.step", "factors.tp.step",
                      "water_bodies.river.factors", "water_bodies.lake.factors"):  # fmt: skip
        assert rules.provenance[parameter] == "derived", parameter
    for parameter in ("factors.codmn.step", "factors.tn.step", "water_bodies.lake.factors.tn",
                      "water_bodies.river.factors.codmn", "value_selection.prefer",
                      "events.counting", "events.inflow", "events.amount_wan",
                      "events.charge_month", "auto_fallback", "min_valid_day_fraction",
                      "inflow.increase_formula", "effective_period", "rewards"):  # fmt: skip
        assert rules.provenance[parameter] == "assumption", parameter
    for parameter in ("inflow", "exemptions", "events", "events.factors", "events.min_days",
                      "value_selection.automatic_factors"):  # fmt: skip
        assert rules.provenance[parameter] == "verified", parameter


def test_unverified_lists_every_derived_and_assumed_parameter_with_its_chinese_tag() -> None:
    for rules in rule_sets():
        listed = {a.parameter: a for a in rules.unverified}
        expected = {p for p, tag in rules.provenance.items() if tag != "verified"}
        assert set(listed) == expected, rules.id
        for item in rules.unverified:
            tag = {"derived": "[推定]", "assumption": "[假设]"}[item.provenance]
            assert item.text.startswith(f"{tag} {item.label}：{item.value}")
            assert re.search(r"[\u4e00-\u9fff]", item.label), item.parameter
        assert {a.parameter for a in rules.assumptions} == {
            p for p, tag in rules.provenance.items() if tag == "assumption"
        }


def test_lake_tn_is_an_assumption_of_its_own() -> None:
    rules = load_rule_set("hengshui-2021")
    lake = rules.water_bodies["lake"]
    assert lake.factors == ("cod", "codmn", "nh3n", "tp", "tn")
    assert lake.provenances["tn"] == "assumption" and lake.provenances["cod"] == "derived"
    [tn] = [a for a in rules.assumptions if a.parameter == "water_bodies.lake.factors.tn"]
    assert tn.label == "湖库断面考核因子总氮"
    assert "湖库Ⅲ类限值" in tn.clause and "单独评价" in tn.clause


def test_hebei_2016_provenance() -> None:
    rules = load_rule_set("hebei-2016")
    assert rules.provenance["value_selection"] == "verified"  # [V 2016]
    assert rules.provenance["water_bodies.river.factors"] == "verified"
    assert rules.provenance["amount_per_tier_wan"] == "derived"  # [V COD, D others]
    assert rules.prefer == "manual" and rules.automatic_factors == ()
    assert rules.events.enabled is False


def test_value_selection_and_event_choices_of_hengshui_2021() -> None:
    rules = load_rule_set("hengshui-2021")
    assert rules.prefer == "automatic"
    assert rules.automatic_factors == ("ph", "do", "codmn", "nh3n", "tp", "tn")
    assert rules.prefers_automatic("nh3n") and not rules.prefers_automatic("cod")
    assert (rules.events.counting, rules.events.inflow) == ("episode", True)
    assert rules.cap_wan is None


def test_a_rule_set_without_a_water_body_kind_names_it() -> None:
    with pytest.raises(KeyError, match="sea"):
        load_rule_set("hengshui-2021").factors_for("sea")
