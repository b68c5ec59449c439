"""The compensation outlook: Monte Carlo months through the statement engine."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from compensation.engine import Measurement, monthly_statement
from compensation.outlook import (
    LABEL,
    OBSERVED,
    BinForecast,
    Outlook,
    OutlookOptions,
    interpolate_quantiles,
    monthly_outlook,
)
from compensation.rules import load_rule_set
from sections.registry import Registry, parse_registry

RULES = load_rule_set("hengshui-2021")
MARCH = dt.date(2025, 3, 1)
TODAY = dt.date(2025, 3, 15)  # days 1–14 known, 15–31 simulated
TIER = Decimal(300_000)  # 30 万元 [元]
NH3N_III = 1.0  # GB 3838-2002 表1, Class Ⅲ [mg/L]


def _section(sid: str, unit: str | None, upstream: str | None = None) -> str:
    lines = [
        "[[sections]]", f'id = "{sid}"', f'name = "断面{sid}"', "confirmed = false",
        'river = "某河"', 'water_body = "river"',
        f'level = "{"reference" if unit is None else "provincial"}"',
        "lon = 115.6", "lat = 37.6", 'target_class = "III"',
    ]  # fmt: skip
    if unit is not None:
        lines.append(f'assessed_unit = "{unit}"')
    if upstream is not None:
        lines.append(f'upstream = "{upstream}"')
    return "\n".join(lines) + "\n"


REGISTRY_TOML = (
    '[[units]]\nid = "a"\nname = "甲县"\n[[units]]\nid = "b"\nname = "乙县"\n'
    + _section("ref-a", None)
    + _section("a-out", "a", upstream="ref-a")
    + _section("b-out", "b")
)


@pytest.fixture(scope="module")
def registry() -> Registry:
    return parse_registry(REGISTRY_TOML, source="test-registry")


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def _auto(section: str, factor: str, values: dict[dt.date, float]) -> list[Measurement]:
    return [
        Measurement(section, factor, day, Decimal(repr(value)), "auto_daily")
        for day, value in values.items()
    ]


def _noisy(level: float, spread: float, days: Sequence[dt.date], seed: int) -> dict[dt.date, float]:
    """Log-normal daily values around ``level`` [mg/L], drawn by their own generator."""
    rng = np.random.default_rng(seed)
    values = level * np.exp(rng.normal(0.0, spread, len(days)))
    return {d: round(float(v), 4) for d, v in zip(days, values, strict=True)}


def _before(level: float, spread: float, seed: int) -> list[Measurement]:
    """NH3-N at a-out, Jan 14 – Mar 14, independent log-normal days around ``level``."""
    days = _days(dt.date(2025, 1, 14), dt.date(2025, 3, 14))
    return _auto("a-out", "nh3n", _noisy(level, spread, days, seed))


def _persistent(level: float, spread: float, seed: int, phi: float = 0.6) -> dict[dt.date, float]:
    """Daily values Jan 14 – Mar 14 of a log AR(1) around ``level`` [mg/L] (episodes last)."""
    rng = np.random.default_rng(seed)
    x, out = 0.0, {}
    for day in _days(dt.date(2025, 1, 14), dt.date(2025, 3, 14)):
        x = phi * x + spread * np.sqrt(1 - phi**2) * rng.normal()
        out[day] = round(float(level * np.exp(x)), 4)
    return out


def _history(values: dict[dt.date, float]) -> pd.Series:
    return pd.Series(list(values.values()), index=list(values))


def _outlook(
    registry: Registry,
    measurements: Sequence[Measurement],
    *,
    history: dict[tuple[str, str], pd.Series] | None = None,
    forecasts: Sequence[BinForecast] = (),
    simulate_from: dt.date = TODAY,
    **options: object,
) -> Outlook:
    chosen = OutlookOptions(**{"scenarios": 200, **options})  # type: ignore[arg-type]
    return monthly_outlook(
        measurements, month=MARCH, simulate_from=simulate_from, registry=registry,
        rule_set=RULES, history=history, forecasts=forecasts, options=chosen,
    )  # fmt: skip


def _clean_b() -> list[Measurement]:
    """Unit b far below its standard with a tiny spread: it never owes anything."""
    days = _days(dt.date(2025, 1, 14), TODAY - dt.timedelta(days=1))
    return _auto("b-out", "nh3n", _noisy(0.3, 0.01, days, 9))


# --- hand-made months -------------------------------------------------------------------------


def test_known_days_with_a_full_event_give_certainty_and_the_engines_amount(
    registry: Registry,
) -> None:
    before = _noisy(0.3, 0.05, _days(dt.date(2025, 1, 14), dt.date(2025, 3, 14)), 1)
    for day in (dt.date(2025, 3, 3), dt.date(2025, 3, 4), dt.date(2025, 3, 5)):
        before[day] = 1.6  # 0.6 over the Class Ⅲ limit: a 3-day run
    rows = _auto("a-out", "nh3n", before)
    found = _outlook(registry, rows)
    unit = found.unit("a")
    (chance,) = unit.top_events(dt.date(2025, 3, 20), 1)
    assert (chance.section, chance.factor, chance.probability, chance.certain) == (
        "a-out", "nh3n", 1.0, True,
    )  # fmt: skip
    # the rest of the month stays clean: every scenario costs what the engine charges for the
    # known run on a month whose other days are clean
    clean_rest = _auto("a-out", "nh3n", {d: 0.3 for d in _days(TODAY, dt.date(2025, 3, 31))})
    engine_amount = monthly_statement(
        [m for m in rows if m.date < TODAY] + clean_rest, month=MARCH, registry=registry,
        rule_set=RULES,
    ).unit("a").total_yuan  # fmt: skip
    assert engine_amount == TIER
    assert unit.amount.p_due == 1.0
    assert unit.amount.expected_yuan == engine_amount
    assert (unit.amount.low_yuan, unit.amount.high_yuan) == (engine_amount, engine_amount)
    assert unit.amount.distribution == ((engine_amount, 1.0),)


def test_a_clean_month_with_a_tiny_spread_owes_nothing(registry: Registry) -> None:
    values = _noisy(0.3, 0.01, _days(dt.date(2025, 1, 14), dt.date(2025, 3, 14)), 2)
    found = _outlook(registry, _auto("a-out", "nh3n", values) + _clean_b())
    for unit in found.units:
        assert unit.amount.expected_yuan == 0
        assert unit.amount.p_due == 0.0
        assert (unit.amount.low_yuan, unit.amount.high_yuan) == (Decimal(0), Decimal(0))
        assert all(e.probability == 0.0 for e in unit.events)
    assert found.total.expected_yuan == 0


def _at_the_limit(seed: int = 3) -> list[Measurement]:
    """NH3-N just under its limit (geometric mean 0.9 of 1.0): a run is possible, not sure."""
    values = _persistent(0.9 * NH3N_III, 0.12, seed)
    assert not any(v > NH3N_III for d, v in values.items() if d >= dt.date(2025, 3, 12))
    return _auto("a-out", "nh3n", values)


def test_a_series_at_the_limit_gives_intermediate_values(registry: Registry) -> None:
    found = _outlook(registry, _at_the_limit())
    unit = found.unit("a")
    assert 0.05 < unit.amount.p_due < 0.95
    assert 0 < unit.amount.expected_yuan < unit.amount.high_yuan
    by_20th = {(e.section, e.factor): e for e in unit.events if e.by == dt.date(2025, 3, 20)}
    by_end = {(e.section, e.factor): e for e in unit.events if e.by == dt.date(2025, 3, 31)}
    assert 0.0 < by_20th[("a-out", "nh3n")].probability < 1.0
    assert by_20th[("a-out", "nh3n")].probability <= by_end[("a-out", "nh3n")].probability < 1.0
    assert not by_end[("a-out", "nh3n")].certain


def test_the_same_seed_gives_the_same_outlook_and_another_seed_another(
    registry: Registry,
) -> None:
    first = _outlook(registry, _at_the_limit(), seed=11)
    again = _outlook(registry, _at_the_limit(), seed=11)
    other = _outlook(registry, _at_the_limit(), seed=12)
    assert first == again
    assert first.unit("a").amount != other.unit("a").amount
    assert first.basis.seed == 11


@pytest.mark.parametrize("level", [0.6, 0.8, NH3N_III, 1.3], ids=lambda v: f"nh3n-{v}")
def test_the_range_contains_the_mean_and_is_whole_tiers(registry: Registry, level: float) -> None:
    rows = _before(level, 0.2, 4)
    found = _outlook(registry, rows)
    for amount in (found.unit("a").amount, found.total):
        assert amount.low_yuan <= amount.expected_yuan <= amount.high_yuan
        assert amount.low_yuan % TIER == 0 and amount.high_yuan % TIER == 0
        assert sum(share for _, share in amount.distribution) == pytest.approx(1.0)


def test_a_rare_event_widens_the_range_to_the_mean(registry: Registry) -> None:
    # one scenario in many reaches a run: the 90th percentile is 0, the mean is not
    rows = _auto("a-out", "nh3n", _persistent(0.9, 0.08, 3))
    amount = _outlook(registry, rows).unit("a").amount
    assert 0 < amount.p_due < 0.1
    assert amount.low_yuan == 0 and amount.high_yuan == TIER
    assert 0 < amount.expected_yuan < TIER


def test_money_is_decimal(registry: Registry) -> None:
    found = _outlook(registry, _at_the_limit())
    for amount in (*(u.amount for u in found.units), found.total):
        values = [amount.expected_yuan, amount.low_yuan, amount.high_yuan, amount.expected_wan,
                  *(a for a, _ in amount.distribution)]  # fmt: skip
        assert all(isinstance(v, Decimal) for v in values)
    assert found.unit("a").amount.expected_wan == found.unit("a").amount.expected_yuan / 10_000


def test_the_outlook_is_labelled_a_forecast_with_its_basis(registry: Registry) -> None:
    found = _outlook(registry, _at_the_limit())
    assert found.label == LABEL and "预测" in found.label
    assert found.by_days == (dt.date(2025, 3, 20), dt.date(2025, 3, 31))
    assert found.basis.scenarios == 200 and found.basis.simulate_from == TODAY
    assert all(line.startswith("[假设]") for line in found.basis.assumptions)
    assert any("未使用预报" in note for note in found.basis.notes)
    (series,) = [s for s in found.basis.series if s.section == "a-out"]
    assert (series.known_days, series.forecast_days, series.history_days) == (14, 0, 17)
    assert "AR(1)" in series.model
    assert found.rule_set == "hengshui-2021" and found.document == "衡政办字〔2021〕3号"
    assert found.rule_assumptions  # the rule set's own assumptions travel with it


# --- forecasts --------------------------------------------------------------------------------


def _bins(section: str, factor: str, median: float, *, days: int = 3, spread: float = 0.05,
          issued: dt.datetime = dt.datetime(2025, 3, 15, 0)) -> list[BinForecast]:  # fmt: skip
    out = []
    for step in range(6 * days):
        at = issued + dt.timedelta(hours=4 * step)
        lo95, lo80, mid, hi80, hi95 = (median * (1 + spread * k) for k in (-2, -1, 0, 1, 2))
        out.append(BinForecast(section, factor, at, lo95=lo95, lo80=lo80, median=mid,
                               hi80=hi80, hi95=hi95, p_exceed=0.9, issued_at=issued,
                               model="sarima"))  # fmt: skip
    return out


def test_a_forecast_of_three_exceeding_days_makes_the_event_near_certain(
    registry: Registry,
) -> None:
    rows = _before(0.4, 0.05, 6)
    found = _outlook(registry, rows, forecasts=_bins("a-out", "nh3n", 1.6))
    unit = found.unit("a")
    (chance,) = unit.top_events(dt.date(2025, 3, 20), 1)
    assert chance.probability == 1.0 and not chance.certain
    assert unit.amount.low_yuan >= TIER
    assert found.basis.forecast_issued_at == dt.datetime(2025, 3, 15, 0)
    assert found.basis.forecast_models == ("sarima",)
    (series,) = [s for s in found.basis.series if s.section == "a-out"]
    assert series.forecast_days == 3 and series.history_days == 14
    assert not any("未使用预报" in note for note in found.basis.notes)


def test_a_forecast_below_the_limit_gives_no_event(registry: Registry) -> None:
    rows = _before(0.4, 0.02, 7)
    found = _outlook(registry, rows, forecasts=_bins("a-out", "nh3n", 0.5))
    assert found.unit("a").amount.p_due == 0.0


def test_forecast_bins_of_known_days_and_thin_days_are_not_used(registry: Registry) -> None:
    rows = _before(0.4, 0.02, 7)
    stale = _bins("a-out", "nh3n", 5.0, issued=dt.datetime(2025, 3, 10, 0))  # days 10–12: known
    thin = _bins("a-out", "nh3n", 5.0, days=1)[:2]  # two bins on the 15th: fewer than three
    found = _outlook(registry, rows, forecasts=stale + thin)
    assert found.unit("a").amount.p_due == 0.0
    (series,) = [s for s in found.basis.series if s.section == "a-out"]
    assert series.forecast_days == 0


def test_an_episode_crossing_from_known_into_forecast_days(registry: Registry) -> None:
    # the 13th and 14th exceed; a forecast of a high 15th completes the run on the 15th
    values = _noisy(0.4, 0.02, _days(dt.date(2025, 1, 14), dt.date(2025, 3, 14)), 8)
    values[dt.date(2025, 3, 13)] = values[dt.date(2025, 3, 14)] = 1.4
    found = _outlook(registry, _auto("a-out", "nh3n", values),
                     forecasts=_bins("a-out", "nh3n", 1.5, days=1))  # fmt: skip
    (chance,) = found.unit("a").top_events(dt.date(2025, 3, 20), 1)
    assert chance.probability == 1.0 and not chance.certain


def _observed(
    section: str, factor: str, day: dt.date, hours: Sequence[int], value: float
) -> list[BinForecast]:
    return [BinForecast(section, factor, dt.datetime.combine(day, dt.time(h)), value, value, value,
                        value, value, model=OBSERVED) for h in hours]  # fmt: skip


def test_todays_observed_bins_join_the_forecast_of_the_rest_of_the_day(
    registry: Registry,
) -> None:
    values = _noisy(0.4, 0.02, _days(dt.date(2025, 1, 14), dt.date(2025, 3, 14)), 8)
    values[dt.date(2025, 3, 13)] = values[dt.date(2025, 3, 14)] = 1.4
    morning = _observed("a-out", "nh3n", TODAY, (0, 4, 8), 3.0)
    rest = _bins("a-out", "nh3n", 0.5, issued=dt.datetime(2025, 3, 15, 12))[:-6]  # to the 17th
    found = _outlook(registry, _auto("a-out", "nh3n", values), forecasts=morning + rest)
    # the 15th: (3 × 3.0 + 3 × 0.5) / 6 = 1.75 > 1.0 completes the run of the 13th and 14th
    (chance,) = found.unit("a").top_events(dt.date(2025, 3, 20), 1)
    assert chance.probability == 1.0
    (series,) = found.basis.series
    assert (series.forecast_days, series.observed_days) == (3, 0)
    without = _outlook(registry, _auto("a-out", "nh3n", values), forecasts=rest)
    assert without.unit("a").amount.p_due < 0.5


def test_observed_bins_alone_make_a_day_only_when_complete(registry: Registry) -> None:
    rows = _before(0.4, 0.02, 7)
    part = _outlook(registry, rows, forecasts=_observed("a-out", "nh3n", TODAY, (0, 4, 8), 3.0))
    whole = _outlook(registry, rows, forecasts=_observed("a-out", "nh3n", TODAY, range(0, 24, 4),
                                                         3.0))  # fmt: skip
    assert (part.basis.series[0].observed_days, part.basis.series[0].history_days) == (0, 17)
    assert (whole.basis.series[0].observed_days, whole.basis.series[0].history_days) == (1, 16)
    assert whole.basis.forecast_issued_at is None and whole.basis.forecast_models == ()


def test_the_inflow_section_is_simulated_too(registry: Registry) -> None:
    days = _days(dt.date(2025, 1, 14), dt.date(2025, 3, 14))
    rows = (_auto("a-out", "nh3n", _noisy(0.4, 0.05, days, 1))
            + _auto("ref-a", "nh3n", _noisy(0.4, 0.05, days, 2)))  # fmt: skip
    found = _outlook(registry, rows)
    assert {s.section for s in found.basis.series} == {"a-out", "ref-a"}


# --- edges ------------------------------------------------------------------------------------


def test_without_history_or_forecast_the_rest_is_not_simulated_and_says_so(
    registry: Registry,
) -> None:
    rows = _auto(
        "a-out", "nh3n", {d: 0.4 for d in _days(dt.date(2025, 3, 10), dt.date(2025, 3, 14))}
    )
    found = _outlook(registry, rows)
    (series,) = found.basis.series
    assert (series.known_days, series.missing_days, series.model) == (5, 17, "")
    assert any("未模拟" in note for note in found.basis.notes)
    assert found.unit("a").amount.p_due == 0.0  # 5 valid days: the month is insufficient data


def test_a_finished_month_is_its_statement(registry: Registry) -> None:
    values = {d: 1.6 for d in _days(dt.date(2025, 2, 27), dt.date(2025, 3, 31))}
    rows = _auto("a-out", "nh3n", values)
    found = _outlook(registry, rows, simulate_from=dt.date(2025, 4, 2))
    statement = monthly_statement(rows, month=MARCH, registry=registry, rule_set=RULES)
    assert found.unit("a").amount.expected_yuan == statement.unit("a").total_yuan > 0
    assert found.unit("a").amount.p_due == 1.0
    assert all(e.probability in (0.0, 1.0) for e in found.unit("a").events)


def test_the_bootstrap_model_is_reproducible(registry: Registry) -> None:
    first = _outlook(registry, _at_the_limit(), history_model="bootstrap", seed=5)
    assert first == _outlook(registry, _at_the_limit(), history_model="bootstrap", seed=5)
    assert 0.0 < first.unit("a").amount.p_due < 1.0
    assert "自助法" in first.basis.series[0].model


def test_history_beyond_the_month_to_date_is_used(registry: Registry) -> None:
    # the month-to-date is short; the history given separately makes the model
    month_days = _auto("a-out", "nh3n", {d: 0.4 for d in _days(MARCH, dt.date(2025, 3, 14))})
    earlier = _history(_noisy(0.4, 0.05, _days(dt.date(2025, 1, 14), dt.date(2025, 2, 28)), 3))
    found = _outlook(registry, month_days, history={("a-out", "nh3n"): earlier})
    (series,) = found.basis.series
    assert series.history_days == 17 and "60 个日均值" in series.model


def test_february_by_days_are_clipped_to_its_last_day(registry: Registry) -> None:
    found = monthly_outlook(
        [], month=dt.date(2025, 2, 1), simulate_from=dt.date(2025, 2, 10), registry=registry,
        rule_set=RULES, options=OutlookOptions(scenarios=3, by_days=(20, 30)),
    )  # fmt: skip
    assert found.by_days == (dt.date(2025, 2, 20), dt.date(2025, 2, 28))


def test_a_rule_set_without_events_has_no_event_chances(registry: Registry) -> None:
    found = monthly_outlook(
        _at_the_limit(), month=MARCH, simulate_from=TODAY, registry=registry,
        rule_set=load_rule_set("hebei-2016"), options=OutlookOptions(scenarios=20),
    )  # fmt: skip
    assert all(not u.events for u in found.units)
    assert any("无自动站连续超标事件" in note for note in found.basis.notes)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"history_model": "arima"}, "valid: ar1, bootstrap"),
        ({"scenarios": 0}, "scenarios"),
        ({"by_days": (32,)}, "by_days"),
        ({"day_correlation": 1.0}, "day_correlation"),
        ({"range_percentiles": (90.0, 10.0)}, "range_percentiles"),
    ],
)
def test_invalid_options_are_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        OutlookOptions(**options)  # type: ignore[arg-type]


# --- the quantile function --------------------------------------------------------------------


def test_quantile_interpolation_reproduces_the_reported_quantiles() -> None:
    q = [0.4, 0.6, 1.0, 1.4, 1.6]
    z = [-1.959963984540054, -1.2815515655446004, 0.0, 1.2815515655446004, 1.959963984540054]
    np.testing.assert_allclose(interpolate_quantiles([q], z)[0], q)


def test_quantile_tails_extrapolate_and_stay_non_negative() -> None:
    q = [[0.4, 0.6, 1.0, 1.4, 1.6], [0.1, 0.2, 0.3, 0.4, 0.5]]
    out = interpolate_quantiles(q, [3.0, -8.0])
    slope = 0.2 / (1.959963984540054 - 1.2815515655446004)
    assert out[0, 0] == pytest.approx(1.6 + (3.0 - 1.959963984540054) * slope)
    assert out[:, 1].tolist() == [0.0, 0.0]


def test_crossing_quantiles_are_rearranged() -> None:
    out = interpolate_quantiles([[0.5, 0.4, 1.0, 0.9, 1.6]], [-1.5, 0.5, 1.5])[0]
    assert np.all(np.diff(out) >= 0)
