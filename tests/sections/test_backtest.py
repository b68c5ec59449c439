"""sections.backtest: the rolling-origin splitter, the scores and their JSON shape."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from sections.backtest import (
    MODEL_NAMES,
    BacktestOptions,
    Block,
    backtest,
    rolling_origins,
    score_forecasts,
)
from sections.forecast import BEIJING, MEMBERS, Predictive, Threshold
from sections.forecast_models import STEPS_PER_DAY


@pytest.mark.parametrize(("days", "warmup", "refit"), [(30, 7, 1), (100, 56, 7), (64, 56, 3)])
def test_splitter_never_trains_on_what_it_forecasts(days: int, warmup: int, refit: int) -> None:
    n = days * STEPS_PER_DAY
    blocks = rolling_origins(n, warmup_days=warmup, refit_days=refit)
    assert blocks, "a series longer than the warm-up has at least one block"
    seen: list[int] = []
    for block in blocks:
        # every origin issues from data the fit has seen or later; training ends before
        # anything the block's forecasts are scored on (origin + ≥ 1 step)
        assert block.origins.start == block.train_end - 1
        assert all(o >= block.train_end - 1 for o in block.origins)
        seen.extend(block.origins)
    assert seen == sorted(set(seen))  # each origin once
    assert seen[0] == warmup * STEPS_PER_DAY - 1
    assert seen[-1] == n - 2  # the last bin has nothing left to score


def test_splitter_on_a_short_series_is_empty() -> None:
    assert rolling_origins(6 * 10, warmup_days=56, refit_days=7) == []


def _predictive(origins: pd.DatetimeIndex, values: list[list[float]]) -> Predictive:
    """Point-mass forecasts: every member equal to the given value."""
    members = np.repeat(np.asarray(values, dtype=float)[:, :, None], MEMBERS, axis=2)
    return Predictive(origins, (4,), members, np.asarray(["x"]))


def test_scores_on_hand_made_forecasts() -> None:
    origins = pd.date_range("2025-01-01", periods=4, freq="4h", tz=BEIJING)
    truth = np.array([[0.5], [1.5], [1.5], [0.5]])
    now = np.array([0.5, 0.5, 1.5, 1.5])  # persistence_01 warns at origins 2 and 3
    forecasts = {
        "persistence": _predictive(origins, [[0.5], [0.5], [1.5], [1.5]]),
        "perfect": _predictive(origins, [[0.5], [1.5], [1.5], [0.5]]),
    }
    scores, leads = score_forecasts(
        forecasts, truth, threshold=Threshold(upper=1.0), persistence_now=now,
        options=BacktestOptions(probability=0.5),
    )  # fmt: skip
    perfect, persistence = scores["perfect"]["4"], scores["persistence"]["4"]
    assert perfect["brier"] == 0.0 and perfect["mae"] == 0.0
    assert persistence["brier"] == pytest.approx(0.5)  # two of four wrong with certainty
    assert perfect["brier_skill"] == pytest.approx(1.0)
    assert persistence["hit_rate"] == pytest.approx(0.5)
    assert persistence["false_alarm_ratio"] == pytest.approx(0.5)
    assert scores["persistence_01"]["4"]["brier"] == pytest.approx(0.5)
    assert perfect["coverage80"] == 1.0
    # one onset (origin 1 + 4 h); only the perfect forecast caught it, 4 h ahead
    assert leads["perfect"] == {"onsets": 1, "caught": 1, "mean_lead_hours": 4.0}
    assert leads["persistence"]["caught"] == 0


def test_rows_some_model_cannot_forecast_are_left_out_for_all() -> None:
    origins = pd.date_range("2025-01-01", periods=3, freq="4h", tz=BEIJING)
    truth = np.array([[0.5], [0.5], [1.5]])
    gappy = _predictive(origins, [[0.5], [np.nan], [0.5]])
    scores, _ = score_forecasts(
        {"persistence": _predictive(origins, [[0.5], [0.5], [0.5]]), "gappy": gappy},
        truth, threshold=Threshold(upper=1.0), persistence_now=np.array([0.5, 0.5, 0.5]),
        options=BacktestOptions(),
    )  # fmt: skip
    assert scores["persistence"]["4"]["n"] == scores["gappy"]["4"]["n"] == 2


def _episodes(days: int, seed: int) -> pd.Series:
    """NH3-N with a daily cycle, AR noise and multi-day episodes above 1 mg/L."""
    rng = np.random.default_rng(seed)
    n = days * STEPS_PER_DAY
    index = pd.date_range("2025-01-01", periods=n, freq="4h", tz=BEIJING)
    noise = np.zeros(n)
    for i in range(1, n):
        noise[i] = 0.85 * noise[i - 1] + 0.12 * rng.standard_normal()
    level = np.log(0.55) + 0.15 * np.sin(2 * np.pi * np.asarray(index.hour) / 24) + noise
    for start in rng.choice(n - 30, size=days // 12, replace=False):
        level[start : start + int(rng.integers(6, 24))] += 1.0
    values = pd.Series(np.exp(level), index=index)
    values.iloc[rng.choice(n, size=n // 40, replace=False)] = np.nan
    return values


def test_backtest_reports_every_model_in_the_documented_shape() -> None:
    calls: list[tuple[int, int]] = []
    result = backtest(
        _episodes(84, seed=3), threshold=Threshold(upper=1.0),
        options=BacktestOptions(horizons=(4, 24), refit_days=7),
        progress=lambda done, total: calls.append((done, total)),
    )  # fmt: skip
    payload = json.loads(json.dumps(result.to_json(), allow_nan=True))
    assert set(payload["models"]) >= set(MODEL_NAMES) - {"sarima", "ets", "upstream", "analog"}
    assert "upstream" not in payload["models"]  # no upstream series given
    for name, per_h in payload["models"].items():
        assert set(per_h) == {"4", "24"}, name
        for entry in per_h.values():
            assert {"brier", "brier_skill", "mae", "rmse", "crps", "pinball", "coverage80",
                    "coverage95", "hit_rate", "false_alarm_ratio", "reliability"} <= set(entry)
    assert payload["selected"] in payload["models"]
    assert payload["why"]
    assert calls[-1] == (calls[-1][1], calls[-1][1]) and len(calls) == calls[-1][1]
    assert payload["models"]["persistence"]["24"]["brier_skill"] == 0.0
    reliability = payload["models"]["auto"]["24"]["reliability"]
    assert len(reliability) == 10
    assert sum(row["count"] for row in reliability) == payload["models"]["auto"]["24"]["n"]


def test_backtest_intervals_are_calibrated_on_a_stationary_series() -> None:
    result = backtest(
        _episodes(120, seed=11), threshold=Threshold(upper=1.0),
        options=BacktestOptions(horizons=(4, 24), refit_days=14),
    )  # fmt: skip
    for name in ("persistence", "auto"):
        coverage = result.models[name]["24"]["coverage80"]
        assert 0.7 <= coverage <= 0.9, (name, coverage)


def test_the_skill_against_the_best_baseline_comes_with_its_interval() -> None:
    result = backtest(
        _episodes(120, seed=11), threshold=Threshold(upper=1.0),
        options=BacktestOptions(horizons=(4, 24), refit_days=14),
    )  # fmt: skip
    for horizon in ("4", "24"):
        summary = result.summary[horizon]
        low, high = summary["brier_skill_vs_best_baseline_interval90"]
        assert low <= summary["brier_skill_vs_best_baseline"] <= high, summary
        assert high - low > 0.01  # 14 weeks of forecasts do not pin the skill down
        low, high = summary["coverage80_auto_interval90"]
        assert low <= summary["coverage80_auto"] <= high and high - low > 0.01
    assert "90 % 区间" in result.why
    # the Brier scores apart for origins exceeding now and the others add up to the whole
    summary = result.summary["24"]
    states = summary["by_origin_state"]
    n = result.models["auto"]["24"]["n"]
    assert states["exceeding"]["n"] + states["not_exceeding"]["n"] == n
    assert states["exceeding"]["n"] > 0 and states["exceeding"]["exceedances"] > 0
    for key in ("brier_auto", "brier_best_baseline"):
        total = sum(part["n"] * part[key] for part in states.values())
        assert math.isclose(total / n, summary[key], rel_tol=1e-9)


def test_a_series_shorter_than_the_warm_up_is_refused() -> None:
    with pytest.raises(ValueError, match="too short"):
        backtest(_episodes(20, seed=1), threshold=Threshold(upper=1.0))


def test_blocks_are_plain_data() -> None:
    assert Block(42, range(41, 53)) == rolling_origins(60, warmup_days=7, refit_days=2)[0]


def test_the_upstream_model_is_scored_against_persistence_on_the_rows_it_forecast() -> None:
    """``upstream`` is fitted only where the upstream series leads: its rows are a subset, and
    its Brier skill compares it with persistence on that subset, not on every row."""
    origins = pd.date_range("2025-03-01", periods=4, freq="4h", tz=BEIJING)
    high, low = np.full(MEMBERS, 2.0), np.full(MEMBERS, 0.0)
    half = np.where(np.arange(MEMBERS) < MEMBERS // 2, 2.0, 0.0)

    def predictive(rows: list[np.ndarray], name: str) -> Predictive:
        return Predictive(origins, (24,), np.stack(rows)[:, None, :], np.asarray([name]))

    persistence = predictive([high, high, low, low], "persistence")
    upstream = predictive([half, half, np.full(MEMBERS, np.nan), np.full(MEMBERS, np.nan)],
                          "upstream")  # fmt: skip
    truth = np.asarray([[2.0], [0.0], [0.0], [0.0]])  # exceeded, then not
    models, _ = score_forecasts(
        {"persistence": persistence, "upstream": upstream, "auto": persistence}, truth,
        threshold=Threshold(upper=1.0), persistence_now=np.asarray([2.0, 2.0, 0.0, 0.0]),
        options=BacktestOptions(horizons=(24,)),
    )  # fmt: skip
    assert models["persistence"]["24"]["brier"] == pytest.approx(0.25)  # all four rows
    assert models["upstream"]["24"]["n"] == 2
    assert models["upstream"]["24"]["brier"] == pytest.approx(0.25 - 0.5 / 99, abs=0.02)
    # against persistence's 0.5 on the two rows upstream forecast, not its 0.25 on all four
    assert models["upstream"]["24"]["brier_skill"] == pytest.approx(
        1 - models["upstream"]["24"]["brier"] / 0.5
    )
    assert "reference_brier" not in models["upstream"]["24"]
