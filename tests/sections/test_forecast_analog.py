"""The ``analog`` candidate: states, libraries, what it learns from other sections."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sections.forecast import (
    ANALOG,
    BEIJING,
    ENSEMBLE,
    Threshold,
    fit_forecaster,
)
from sections.forecast_analog import (
    MIN_LIBRARY,
    ExceedanceScale,
    PoolSeries,
    analog_applies,
    fit_analog,
    state_features,
)
from sections.forecast_models import STEPS_PER_DAY, BoxCox, mix

LOG = BoxCox(lam=0.0, shift=0.0)


def _episodes(n: int, *, every: int, length: int, low: float, high: float) -> np.ndarray:
    """A series at ``low`` with an episode at ``high`` of ``length`` bins every ``every`` bins."""
    values = np.full(n, low)
    for start in range(every // 2, n - length, every):
        values[start : start + length] = high
    return values


def test_the_scale_puts_every_threshold_on_one_footing() -> None:
    above = ExceedanceScale(limit=0.2, above=True)
    below = ExceedanceScale(limit=5.0, above=False)
    assert above.ratio(np.array([0.4]))[0] == pytest.approx(np.log(2.0))
    assert below.ratio(np.array([2.5]))[0] == pytest.approx(np.log(2.0))  # DO under its limit
    assert below.ratio(np.array([10.0]))[0] == pytest.approx(-np.log(2.0))
    values = np.array([0.05, 0.2, 1.3])
    np.testing.assert_allclose(above.values(above.ratio(values)), values)
    np.testing.assert_allclose(below.values(below.ratio(values)), values)
    assert np.isnan(above.ratio(np.array([np.nan]))[0])
    assert np.isfinite(above.ratio(np.array([0.0]))[0])  # a zero counts as a tiny value
    with pytest.raises(ValueError, match="positive"):
        ExceedanceScale(limit=0.0, above=True)


def test_the_state_counts_runs_and_reads_the_same_hour_yesterday() -> None:
    s = np.concatenate([np.full(STEPS_PER_DAY, -1.0), [-0.5, 0.2, 0.4, 0.3, -0.2, -0.6]])
    s[STEPS_PER_DAY - 1] = -0.9
    f = state_features(s, STEPS_PER_DAY, 12)  # 24 h ahead: the target's hour of today
    i = STEPS_PER_DAY + 2  # the second bin exceeding
    assert f[i, 0] == pytest.approx(0.4)
    assert f[i, 1] == pytest.approx(np.log1p(2))
    assert f[i, 2] == 0.0
    assert f[i, 3] == pytest.approx(0.4) and f[i, 4] == pytest.approx(-1.0)
    assert f[i, 5] == pytest.approx(0.4)  # 24 h ahead: the same hour is the origin itself
    g = state_features(s, 1, 12)
    assert g[i, 5] == pytest.approx(-1.0)  # 4 h ahead: the bin 20 h before the origin
    j = STEPS_PER_DAY + 5  # two bins after the run ended
    assert f[j, 1] == 0.0 and f[j, 2] == pytest.approx(np.log1p(2))


def test_the_state_never_reads_the_future() -> None:
    rng = np.random.default_rng(3)
    s = rng.normal(-0.5, 0.5, 200)
    s[rng.random(200) < 0.1] = np.nan
    poisoned = s.copy()
    poisoned[120:] = 9.0
    for step in (1, 6, 18):
        np.testing.assert_array_equal(
            state_features(s, step, 12)[:120], state_features(poisoned, step, 12)[:120]
        )


def test_a_state_without_a_recent_value_gives_no_forecast() -> None:
    s = np.concatenate([[0.1, 0.2], np.full(20, np.nan)])
    f = state_features(s, 1, 12)
    assert np.isfinite(f[13]).all()
    assert np.isnan(f[14, 0]) and not np.isfinite(f[14]).all()  # no last value: no state


def test_the_pool_teaches_how_long_an_episode_lasts() -> None:
    """Episodes last eight bins at every pooled section: early in one it goes on, at its end it
    stops. The section's own quiet record alone knows nothing of episodes."""
    scale = ExceedanceScale(limit=1.0, above=True)
    n = 6 * 180
    pool = [
        PoolSeries(_episodes(n, every=40, length=8, low=0.5, high=2.0) * (1 + 0.01 * k), 0, scale)
        for k in range(6)
    ]
    own = np.concatenate([np.full(n, 0.5), [0.5, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0]])
    analog = fit_analog(pool, scale=scale, transform=LOG, stop=n, steps=[1], max_gap_steps=12)
    members = analog.members(LOG.forward(own), np.array([n + 2, n + 8]), np.array([1]))
    p = (members[:, 0] > 0.0).mean(axis=-1)  # log scale: above 1.0
    assert p[0] > 0.9  # the second bin of an episode: it goes on
    assert p[1] < 0.1  # the eighth: it ends
    alone = fit_analog(
        [PoolSeries(own[:n], 0, scale)], scale=scale, transform=LOG, stop=n, steps=[1],
        max_gap_steps=12,
    )  # fmt: skip
    p_alone = (alone.members(LOG.forward(own), np.array([n + 2]), np.array([1]))[:, 0] > 0).mean()
    assert p_alone < 0.1


def test_outcomes_come_back_on_this_sections_own_limit() -> None:
    """A pooled section of limit 2.0 at 3.0 (1.5 × its limit) tells a section of limit 1.0 at
    1.5 that it will stay at 1.5 × its own limit."""
    n = 6 * 200
    other = PoolSeries(np.full(n, 3.0), 0, ExceedanceScale(limit=2.0, above=True))
    scale = ExceedanceScale(limit=1.0, above=True)
    analog = fit_analog([other], scale=scale, transform=LOG, stop=n, steps=[6], max_gap_steps=12)
    probe = LOG.forward(np.full(10, 1.5))
    members = LOG.inverse(analog.members(probe, np.array([9]), np.array([6])))
    np.testing.assert_allclose(members, 1.5)


def test_nothing_at_or_after_stop_enters_the_library() -> None:
    rng = np.random.default_rng(5)
    n = 6 * 120
    scale = ExceedanceScale(limit=1.0, above=True)
    values = [np.exp(rng.normal(-0.3, 0.5, n)) for _ in range(4)]
    stop = 6 * 90
    clean = [PoolSeries(v, 0, scale) for v in values]
    poisoned = [PoolSeries(np.where(np.arange(n) >= stop, 50.0, v), 0, scale) for v in values]
    probe = LOG.forward(values[0])
    origins = np.arange(stop, stop + 30)
    a = fit_analog(clean, scale=scale, transform=LOG, stop=stop, steps=[1, 6], max_gap_steps=12)
    b = fit_analog(poisoned, scale=scale, transform=LOG, stop=stop, steps=[1, 6], max_gap_steps=12)
    np.testing.assert_array_equal(
        a.members(probe, origins, np.array([1, 6])), b.members(probe, origins, np.array([1, 6]))
    )


def test_a_series_placed_later_counts_from_its_own_first_bin() -> None:
    """``first`` places a pooled series on this section's grid: only its bins before ``stop``
    count, and outcomes after ``stop`` are never read."""
    scale = ExceedanceScale(limit=1.0, above=True)
    values = np.full(6 * 100, 0.5)
    late = fit_analog([PoolSeries(values, 6 * 50, scale)], scale=scale, transform=LOG,
                      stop=6 * 100, steps=[1], max_gap_steps=12)  # fmt: skip
    assert late.sizes[1] == 6 * 50 - 1


def test_a_thin_library_gives_no_forecast() -> None:
    scale = ExceedanceScale(limit=1.0, above=True)
    n = MIN_LIBRARY // 2
    analog = fit_analog([PoolSeries(np.full(n, 0.5), 0, scale)], scale=scale, transform=LOG,
                        stop=n, steps=[1], max_gap_steps=12)  # fmt: skip
    assert analog.sizes[1] < MIN_LIBRARY
    assert np.isnan(analog.members(np.zeros(n), np.array([n - 1]), np.array([1]))).all()


def test_the_analogues_are_the_nearest_states() -> None:
    """Two kinds of state in the library: a forecast from one kind reads that kind's outcomes."""
    scale = ExceedanceScale(limit=1.0, above=True)
    n = 6 * 100
    calm = PoolSeries(np.full(n, 0.3), 0, scale)
    busy = PoolSeries(np.full(n, 0.9), 0, scale)
    analog = fit_analog([calm, busy], scale=scale, transform=LOG, stop=n, steps=[1],
                        max_gap_steps=12)  # fmt: skip
    out = LOG.inverse(analog.members(LOG.forward(np.full(20, 0.32)), np.array([19]), np.array([1])))
    np.testing.assert_allclose(out, 0.3)


def _grid(values: np.ndarray, start: str = "2025-01-01") -> pd.Series:
    index = pd.date_range(start, periods=values.size, freq="4h", tz=BEIJING)
    return pd.Series(values, index=index)


def _noisy_episodes(seed: int, n: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = _episodes(n, every=60, length=10, low=0.5, high=1.8)
    return base * np.exp(rng.normal(0.0, 0.1, n))


def test_with_a_pool_the_ensemble_is_half_analogues() -> None:
    n = 6 * 90
    grid = _grid(_noisy_episodes(1, n))
    pool = [(_grid(_noisy_episodes(k, n)), Threshold(upper=1.0)) for k in range(2, 6)]
    fitted = fit_forecaster(grid, threshold=Threshold(upper=1.0), horizons=[4, 24], pool=pool)
    assert ANALOG in fitted.candidates and ENSEMBLE in fitted.candidates
    assert any(note.startswith(f"{ANALOG}:") for note in fitted.notes)
    origins = grid.index[-3:]
    issued = fitted.predict_all(grid, origins)
    parts = [fitted.predict(grid, origins, model=m).members for m in ("sarima", "ets", ANALOG)]
    assert np.isfinite(parts[2]).all()
    expected = mix([parts[0], parts[1], parts[2], parts[2]])  # by rank: any monotone scale
    np.testing.assert_allclose(issued[ENSEMBLE].members, expected)
    # the models may not be selected apart from the ensemble that holds them
    assert set(fitted.selection.values()) <= {ENSEMBLE, "persistence", "seasonal_naive"}


def test_without_a_pool_or_with_a_range_there_is_no_analog_candidate() -> None:
    n = 6 * 60
    grid = _grid(_noisy_episodes(1, n))
    pool = [(_grid(_noisy_episodes(2, n)), Threshold(upper=1.0))]
    assert ANALOG not in fit_forecaster(grid, threshold=Threshold(upper=1.0)).candidates
    ph = fit_forecaster(grid + 6.5, threshold=Threshold(lower=6.0, upper=9.0), pool=pool)
    assert ANALOG not in ph.candidates
    own_only = fit_forecaster(grid, threshold=Threshold(upper=1.0), pool=[])
    assert ANALOG not in own_only.candidates  # one section's 60 days: too few states
    assert any("不作预报" in note for note in own_only.notes)


def test_analogues_that_cannot_be_scored_stay_out_of_the_ensemble() -> None:
    """Enough states to forecast but too few before the calibration window to score: the
    ensemble scored and the ensemble issued would differ, so the analogues stay out of it."""
    n = 6 * 100  # two sections: 1,188 states in all, 840 before the calibration window
    grid = _grid(_noisy_episodes(1, n))
    pool = [(_grid(_noisy_episodes(2, n)), Threshold(upper=1.0))]
    fitted = fit_forecaster(grid, threshold=Threshold(upper=1.0), horizons=[4, 24], pool=pool)
    assert ANALOG in fitted.candidates
    origins = grid.index[-2:]
    assert np.isfinite(fitted.predict(grid, origins, model=ANALOG).members).all()
    parts = [fitted.predict(grid, origins, model=m).members for m in ("sarima", "ets")]
    np.testing.assert_allclose(fitted.predict(grid, origins, model=ENSEMBLE).members, mix(parts))
    assert any("暂不计入集成" in note for note in fitted.notes)


def test_a_pool_series_with_its_gaps_dropped_is_placed_by_its_times() -> None:
    n = 6 * 90
    grid = _grid(_noisy_episodes(1, n))
    rng = np.random.default_rng(8)
    pool = []
    for k in range(2, 5):
        other = _grid(_noisy_episodes(k, n))
        other[rng.random(n) < 0.2] = np.nan
        pool.append((other, Threshold(upper=1.0)))
    dropped = [(g.dropna(), t) for g, t in pool]
    regular = fit_forecaster(grid, threshold=Threshold(upper=1.0), horizons=[24], pool=pool)
    irregular = fit_forecaster(grid, threshold=Threshold(upper=1.0), horizons=[24], pool=dropped)
    origins = grid.index[-3:]
    np.testing.assert_array_equal(
        regular.predict(grid, origins, model=ANALOG).members,
        irregular.predict(grid, origins, model=ANALOG).members,
    )


def test_a_pool_series_of_the_other_direction_is_left_out() -> None:
    """DO's pool cannot hold concentrations: ``s > 0`` means the opposite there."""
    n = 6 * 60
    do = _grid(8.0 + np.sin(np.arange(n) * 2 * np.pi / 6))
    pool = [(_grid(_noisy_episodes(2, n)), Threshold(upper=1.0))]
    fitted = fit_forecaster(do, threshold=Threshold(lower=5.0), pool=pool)
    assert any(note.startswith(f"{ANALOG}: 相似情形取自 1 个断面") for note in fitted.notes)


def test_no_forecast_reads_the_pools_future() -> None:
    n = 6 * 90
    grid = _grid(_noisy_episodes(1, n))
    cut = grid.index[6 * 70]
    pool = [(_grid(_noisy_episodes(k, n)), Threshold(upper=1.0)) for k in range(2, 5)]
    poisoned = [(g.where(g.index < cut, 40.0), t) for g, t in pool]
    kwargs = {"end": cut, "threshold": Threshold(upper=1.0), "horizons": [4, 24, 72]}
    clean = fit_forecaster(grid, pool=pool, **kwargs)  # type: ignore[arg-type]
    dirty = fit_forecaster(grid, pool=poisoned, **kwargs)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(clean.scores, dirty.scores)
    origins = grid.index[6 * 70 : 6 * 70 + 6]
    np.testing.assert_array_equal(
        clean.predict(grid, origins, model=ANALOG).members,
        dirty.predict(grid, origins, model=ANALOG).members,
    )


def test_the_pool_is_for_parameters_with_episodes() -> None:
    assert analog_applies("nh3n") and analog_applies("tp") and analog_applies("codmn")
    assert not analog_applies("do") and not analog_applies("ph")
