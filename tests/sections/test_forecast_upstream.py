"""The upstream candidate: travel lag, no peeking at either series' future, a fallback that says
why, and forecasts that see an episode coming before it arrives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sections.backtest import BacktestOptions, backtest
from sections.forecast import (
    BEIJING,
    UPSTREAM,
    Threshold,
    fit_forecaster,
    forecast,
    to_grid,
)
from sections.forecast_upstream import (
    ERROR_ORDERS,
    UpstreamCandidate,
    required_correlation,
    travel_lag,
)

LAG = 8  # steps of 4 h: 32 h from the upstream section to this one
DAYS = 70


def _reach(
    days: int = DAYS, *, seed: int = 1, lag: int = LAG, linked: bool = True
) -> tuple[pd.Series, pd.Series]:
    """Upstream NH3-N with episodes every week or two; downstream the same ``lag`` later.

    ``linked=False`` gives a downstream series of its own (the same kind, other episodes).
    """
    n = days * 6
    index = pd.date_range("2025-01-01", periods=n, freq="4h", tz=BEIJING)
    rng = np.random.default_rng(seed)

    def draw() -> np.ndarray:
        level = np.log(0.5) + 0.1 * np.sin(2 * np.pi * np.asarray(index.hour) / 24)
        noise = np.zeros(n)
        for i in range(1, n):
            noise[i] = 0.8 * noise[i - 1] + rng.normal(0.0, 0.05)
        for start in range(int(rng.integers(10, 40)), n - 20, int(rng.integers(50, 80))):
            length = int(rng.integers(6, 18))
            level[start : start + length] += rng.uniform(0.9, 1.3)
        return np.asarray(level + noise)

    upstream = draw()
    if linked:
        downstream = np.concatenate([np.full(lag, upstream[0]), upstream[: n - lag]])
        downstream = downstream - 0.05 + rng.normal(0.0, 0.04, n)
    else:
        downstream = draw()
    return (
        pd.Series(np.exp(downstream), index=index, name="nh3n"),
        pd.Series(np.exp(upstream), index=index, name="nh3n"),
    )


def test_travel_lag_finds_the_lag_of_a_front_not_the_daily_cycle() -> None:
    down, up = _reach()
    lag, r, pairs = travel_lag(np.log(down.to_numpy()), np.log(up.to_numpy()))
    assert lag == LAG
    assert r > 0.8 > required_correlation(pairs)


def test_an_upstream_that_leads_gives_a_candidate_with_its_lag() -> None:
    down, up = _reach()
    forecaster = fit_forecaster(
        to_grid(down), threshold=Threshold(upper=1.0), upstream=to_grid(up), horizons=[4, 24]
    )
    informed = forecaster.candidates[UPSTREAM]
    assert isinstance(informed, UpstreamCandidate)
    assert informed.lag == LAG
    # both error models fitted (ARMA around the level, ARIMA with a wandering level), each
    # reading the upstream section with a clearly positive coefficient
    assert [part.order for part in informed.parts] == list(ERROR_ORDERS)
    assert all(part.beta > 0.5 for part in informed.parts)
    (note,) = [n for n in forecaster.notes if n.startswith(UPSTREAM)]
    assert f"约 {LAG * 4} 小时后到达" in note and f"after about {LAG * 4} h" in note


def test_a_section_moving_with_its_upstream_is_not_said_to_receive_its_water() -> None:
    down, up = _reach(lag=0)  # common weather and load: no travel time to speak of
    forecaster = fit_forecaster(
        to_grid(down), threshold=Threshold(upper=1.0), upstream=to_grid(up), horizons=[4, 24]
    )
    assert forecaster.candidates[UPSTREAM].lag == 0  # type: ignore[attr-defined]
    (note,) = [n for n in forecaster.notes if n.startswith(UPSTREAM)]
    assert "同步变化" in note and "no lead" in note and "到达" not in note


def test_an_upstream_that_tells_nothing_is_dropped_and_the_notes_say_why() -> None:
    down, up = _reach(linked=False, seed=4)
    forecaster = fit_forecaster(
        to_grid(down), threshold=Threshold(upper=1.0), upstream=to_grid(up), horizons=[4, 24]
    )
    assert UPSTREAM not in forecaster.candidates
    (note,) = [n for n in forecaster.notes if n.startswith(UPSTREAM)]
    assert "upstream changes do not lead" in note and "days)" in note
    assert {"persistence", "seasonal_naive"} <= set(forecaster.candidates)


def test_no_forecast_reads_either_series_after_its_origin() -> None:
    down, up = _reach()
    grid, upstream = to_grid(down), to_grid(up)
    end = grid.index[50 * 6]
    forecaster = fit_forecaster(
        grid, end=end, threshold=Threshold(upper=1.0), upstream=upstream, horizons=[4, 24, 72]
    )
    assert UPSTREAM in forecaster.candidates
    origins = pd.DatetimeIndex(grid.index[50 * 6 : 50 * 6 + 12])
    clean = forecaster.predict_all(grid, origins, upstream=upstream)

    for k, origin in enumerate(origins):
        poisoned_grid, poisoned_up = grid.copy(), upstream.copy()
        poisoned_grid[poisoned_grid.index > origin] = 50.0
        poisoned_up[poisoned_up.index > origin] = 50.0
        again = forecaster.predict_all(grid=poisoned_grid, origins=[origin], upstream=poisoned_up)
        for name in (UPSTREAM, "auto"):
            np.testing.assert_array_equal(again[name].members[0], clean[name].members[k])

    # and the fit itself reads nothing at or after its end
    late_grid, late_up = grid.copy(), upstream.copy()
    late_grid[late_grid.index >= end] = 50.0
    late_up[late_up.index >= end] = 50.0
    refit = fit_forecaster(
        late_grid, end=end, threshold=Threshold(upper=1.0), upstream=late_up, horizons=[4, 24, 72]
    )
    assert refit.candidates[UPSTREAM].lag == LAG  # type: ignore[attr-defined]
    assert refit.selection == forecaster.selection


def test_an_episode_seen_upstream_raises_the_probability_before_it_arrives() -> None:
    down, up = _reach()
    grid = to_grid(down)
    # an origin at which the upstream section has been high for 12 h and this one is still low
    up_high = to_grid(up) > 1.0
    here_low = grid < 1.0
    onsets = [
        i
        for i in range(300, len(grid) - LAG)
        if up_high.iloc[i - 3 : i + 1].all() and not up_high.iloc[i - 4] and here_low.iloc[i]
    ]
    assert onsets, "the test series needs an episode after the training window"
    origin = grid.index[onsets[0]]
    result = forecast(
        down[down.index <= origin], threshold=Threshold(upper=1.0), horizons=[4, 24, 48],
        upstream=up, origin=origin,
    )  # fmt: skip
    plain = forecast(
        down[down.index <= origin], threshold=Threshold(upper=1.0), horizons=[4, 24, 48],
        origin=origin,
    )  # fmt: skip
    assert result.frame.loc[24, "p_exceed"] > 0.5  # the episode arrives 8 steps after its start
    assert plain.frame.loc[24, "p_exceed"] < 0.3  # the section's own series knows nothing yet
    assert UPSTREAM in result.candidates.columns


@pytest.mark.parametrize("given", [True, False])
def test_a_backtest_scores_the_upstream_model_only_when_given_one(given: bool) -> None:
    down, up = _reach(days=84)
    result = backtest(
        down, threshold=Threshold(upper=1.0), upstream=up if given else None,
        options=BacktestOptions(horizons=(24,), refit_days=7),
    )  # fmt: skip
    assert (UPSTREAM in result.models) is given
    if given:
        skill = result.models[UPSTREAM]["24"]["brier_skill"]
        assert skill > 0.3  # against persistence, which learns of each episode on arrival
        assert result.selections["24"].get(UPSTREAM, 0) >= 1
