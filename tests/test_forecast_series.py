"""Backtest series for exceedance forecasts (``benchmarks/forecast_series.py``)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.forecast_series import (
    REACH_SHAPES,
    SHAPES,
    demo_series,
    exceedance_share,
    main,
    make_reach,
    make_series,
    write_series_csv,
)

SEEDS = (1, 2, 3)


@pytest.fixture(scope="module")
def drawn() -> dict[tuple[str, int], tuple[pd.Series, float, str]]:
    """Every shape for seeds 1, 2, 3 (drawn once for the module)."""
    return {(shape, seed): make_series(shape, seed=seed) for shape in SHAPES for seed in SEEDS}


@pytest.mark.parametrize("shape", SHAPES)
def test_same_seed_same_series_other_seed_differs(
    shape: str, drawn: dict[tuple[str, int], tuple[pd.Series, float, str]]
) -> None:
    again = make_series(shape, seed=1)
    pd.testing.assert_series_equal(again[0], drawn[(shape, 1)][0])
    assert again[1:] == drawn[(shape, 1)][1:]
    other = drawn[(shape, 2)][0]
    assert not np.allclose(other.to_numpy(), again[0].to_numpy(), equal_nan=True)


@pytest.mark.parametrize("shape", SHAPES)
def test_grid_gaps_and_magnitudes(
    shape: str, drawn: dict[tuple[str, int], tuple[pd.Series, float, str]]
) -> None:
    values, limit, direction = drawn[(shape, 1)]
    index = pd.DatetimeIndex(values.index)
    assert str(index.tz) == "Asia/Shanghai"
    assert index[0] == pd.Timestamp("2025-01-01 00:00", tz="Asia/Shanghai")
    hourly = shape == "do_summer_diurnal"
    assert len(values) == 365 * (24 if hourly else 6)
    if not hourly:
        assert set(index.hour) == {0, 4, 8, 12, 16, 20}
    assert 0.02 <= values.isna().mean() <= 0.045
    assert direction == ("below" if hourly else "above")
    present = values.dropna()
    assert (present > 0).all()
    median = float(present.median())
    expected = {
        "nh3n_winter_episodes": (0.3, 0.8),
        "do_summer_diurnal": (7.0, 11.0),
        "tp_rain_pulses": (0.09, 0.17),
        "codmn_slow_load": (4.0, 6.0),
    }[shape]
    assert expected[0] <= median <= expected[1], median
    assert limit == {"nh3n": 1.0, "do": 5.0, "tp": 0.2, "codmn": 6.0}[str(values.name)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", SEEDS)
def test_exceedance_share_in_a_sane_band(
    shape: str, seed: int, drawn: dict[tuple[str, int], tuple[pd.Series, float, str]]
) -> None:
    share = exceedance_share(*drawn[(shape, seed)])
    assert 0.02 <= share <= 0.20, share


def test_nh3n_is_higher_in_winter_and_episodes_exceed(
    drawn: dict[tuple[str, int], tuple[pd.Series, float, str]],
) -> None:
    values = drawn[("nh3n_winter_episodes", 1)][0].dropna()
    month = pd.DatetimeIndex(values.index).month
    winter = values[np.isin(month, (12, 1, 2))].median()
    summer = values[np.isin(month, (6, 7, 8))].median()
    assert 0.55 <= winter <= 0.95 and 0.2 <= summer <= 0.4
    for seed in SEEDS:
        assert 0.05 <= exceedance_share(*drawn[("nh3n_winter_episodes", seed)]) <= 0.125


@pytest.mark.parametrize("seed", SEEDS)
def test_do_diurnal_swing_is_larger_in_summer(
    seed: int, drawn: dict[tuple[str, int], tuple[pd.Series, float, str]]
) -> None:
    values = drawn[("do_summer_diurnal", seed)][0]
    daily = values.groupby(pd.DatetimeIndex(values.index).date).agg(["min", "max"])
    month = pd.DatetimeIndex(pd.to_datetime(daily.index)).month
    swing = daily["max"] - daily["min"]
    summer = swing[np.isin(month, (7, 8))].median()
    winter = swing[np.isin(month, (12, 1, 2))].median()
    assert summer > 2.0 * winter
    assert summer > 4.0 and winter < 3.0
    # exceedances (below 5 mg/L) are summer dawns (a storm sag may add a few night hours)
    low = pd.DatetimeIndex(values[values < 5.0].index)
    assert set(low.month) <= {5, 6, 7, 8, 9}
    assert np.mean((low.hour >= 3) & (low.hour <= 9)) >= 0.8


def test_codmn_exceeds_in_runs_of_days(
    drawn: dict[tuple[str, int], tuple[pd.Series, float, str]],
) -> None:
    values, limit, _ = drawn[("codmn_slow_load", 1)]
    over = (values.resample("1D").mean() > limit).to_numpy()
    longest = run = 0
    for flag in over:
        run = run + 1 if flag else 0
        longest = max(longest, run)
    assert longest >= 5


def test_other_lengths_and_starts() -> None:
    values, _, _ = make_series("tp_rain_pulses", seed=7, days=10, start="2024-07-01")
    assert len(values) == 60
    assert values.index[0] == pd.Timestamp("2024-07-01", tz="Asia/Shanghai")
    with pytest.raises(ValueError, match="unknown shape"):
        make_series("nope", seed=1)
    with pytest.raises(ValueError, match="seed"):
        make_series("tp_rain_pulses", seed=-1)
    with pytest.raises(ValueError, match="midnight"):
        make_series("tp_rain_pulses", seed=1, start="2025-01-01T03:00")


def test_csv_round_trip(
    tmp_path: Path, drawn: dict[tuple[str, int], tuple[pd.Series, float, str]]
) -> None:
    values = drawn[("do_summer_diurnal", 1)][0]
    path = tmp_path / "do.csv"
    write_series_csv(values, path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "time,value"
    assert all(re.fullmatch(r"2025-\d\d-\d\dT\d\d:00:00\+08:00,\d+\.?\d*", x) for x in lines[1:])
    back = pd.read_csv(path, parse_dates=["time"])
    assert list(back.columns) == ["time", "value"]
    present = values.dropna()
    assert len(back) == len(present)
    times = pd.DatetimeIndex(back["time"])
    assert times.tz is not None and times[0].utcoffset() == pd.Timedelta(hours=8)
    assert (times == pd.DatetimeIndex(present.index)).all()
    np.testing.assert_allclose(back["value"].to_numpy(), present.to_numpy())


def test_cli_writes_series_and_index(tmp_path: Path) -> None:
    assert main([str(tmp_path), "--seeds", "4", "--no-demo"]) == 0
    entries = json.loads((tmp_path / "index.json").read_text(encoding="utf-8"))
    assert [e["file"] for e in entries] == [f"{shape}-seed4.csv" for shape in SHAPES]
    for entry in entries:
        assert (tmp_path / entry["file"]).is_file()
        assert entry["seed"] == 4 and entry["direction"] in ("above", "below")
        assert 0.0 < entry["exceedance_share"] < 1.0


def test_demo_series_keeps_only_normal_values() -> None:
    """One demo series (the demo year generates in about a second)."""
    values, limit, direction = demo_series("xiaofanqiao", "nh3n")
    assert str(pd.DatetimeIndex(values.index).tz) == "Asia/Shanghai"
    assert len(values) == 365 * 6 and direction == "above" and limit > 0
    assert 0.0 < values.isna().mean() < 0.5
    do_values, do_limit, do_direction = demo_series("xiaofanqiao", "do")
    assert do_direction == "below" and do_limit in (2.0, 3.0, 5.0, 6.0, 7.5)
    assert len(do_values) == 365 * 24
    with pytest.raises(KeyError):
        demo_series("no-such-section", "nh3n")


@pytest.mark.parametrize("shape", REACH_SHAPES)
def test_a_reach_carries_the_upstream_water_down_a_day_or_so_later(shape: str) -> None:
    from sections.forecast_upstream import travel_lag

    down, up, limit, direction = make_reach(shape, seed=1)
    again = make_reach(shape, seed=1)
    pd.testing.assert_series_equal(again[0], down)
    pd.testing.assert_series_equal(again[1], up)
    assert (limit, direction) == make_series(shape, seed=1)[1:]
    assert down.index.equals(up.index)
    assert 0.02 < down.isna().mean() < 0.05 and 0.02 < up.isna().mean() < 0.05
    lag, r, _ = travel_lag(np.log(down.to_numpy()), np.log(up.to_numpy()))
    assert 4 <= lag <= 10  # 16–40 h in steps of 4 h: summer floods travel faster
    assert r > 0.3
    assert 0.02 < exceedance_share(down, limit, direction) < 0.2


def test_a_reach_of_an_unknown_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown reach shape"):
        make_reach("do_summer_diurnal", seed=1)
