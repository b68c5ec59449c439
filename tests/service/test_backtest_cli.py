"""``qingliu backtest``: a series file in, forecast scores out (JSON, text); bad input refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchmarks.forecast_series import make_series, write_series_csv
from service.cli import app

runner = CliRunner()

#: Two refits after the 56-day warm-up: a few seconds of fitting.
FAST = ("--warmup-days", "56", "--refit-days", "7", "--horizons", "4,24")
REQUIRED_MODELS = {
    "persistence", "persistence_01", "seasonal_naive", "climatology", "sarima", "ets", "auto",
}  # fmt: skip
METRICS = {
    "brier", "brier_skill", "mae", "rmse", "crps", "coverage80", "coverage95", "hit_rate",
    "false_alarm_ratio", "reliability",
}  # fmt: skip


def _run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["backtest", *args])
    return result.exit_code, result.stdout, result.stderr


def _write(tmp_path: Path, text: str, name: str = "series.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _no_constant(name: str) -> None:
    raise AssertionError(f"not valid JSON: {name}")


@pytest.fixture(scope="module")
def nh3n_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """70 days of the synthetic NH3-N winter episodes (4-hourly, with gaps), limit 1.0 mg/L."""
    values, limit, direction = make_series("nh3n_winter_episodes", seed=1, days=70)
    assert (limit, direction) == (1.0, "above")
    path = tmp_path_factory.mktemp("backtest") / "nh3n.csv"
    write_series_csv(values, path)
    return path


@pytest.fixture(scope="module")
def json_run(nh3n_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str, str]:
    """One JSON backtest written with ``--output``: (the parsed file, stdout, stderr)."""
    target = tmp_path_factory.mktemp("out") / "backtest.json"
    code, out, err = _run(
        str(nh3n_csv), "--parameter", "nh3n", "--limit", "1.0", "--format", "json",
        "--output", str(target), *FAST,
    )  # fmt: skip
    assert code == 0, err
    text = target.read_text(encoding="utf-8")
    return json.loads(text, parse_constant=_no_constant), out, err


# --- results ----------------------------------------------------------------------------------


def test_json_has_every_model_horizon_and_metric(json_run: tuple[dict, str, str]) -> None:
    data, _, _ = json_run
    assert set(data["models"]) >= REQUIRED_MODELS
    for model, per_horizon in data["models"].items():
        assert list(per_horizon) == ["4", "24"], model
        for horizon, scores in per_horizon.items():
            assert set(scores) >= METRICS, (model, horizon)
            assert isinstance(scores["reliability"], list)
    assert data["selected"] in data["models"]
    assert data["why"]
    assert set(data["selections"]) == {"4", "24"}
    assert data["meta"]["threshold"] == "> 1"
    assert data["meta"]["refits"] == 2
    assert set(data["lead_times"]) == set(data["models"])
    low, high = data["summary"]["24"]["brier_skill_vs_best_baseline_interval90"]
    assert low <= data["summary"]["24"]["brier_skill_vs_best_baseline"] <= high
    assert set(data["summary"]["24"]["by_origin_state"]) == {"exceeding", "not_exceeding"}


def test_json_writes_null_for_missing_scores(json_run: tuple[dict, str, str]) -> None:
    data, _, _ = json_run  # parsed without NaN/Infinity constants (see json_run)
    persistence_01 = data["models"]["persistence_01"]["24"]
    assert persistence_01["coverage80"] is None  # a 0/1 warning has no interval
    assert isinstance(data["models"]["auto"]["24"]["brier"], float)


def test_output_goes_to_the_file_and_no_progress_off_a_terminal(
    json_run: tuple[dict, str, str],
) -> None:
    _, out, err = json_run
    assert out == ""
    assert "已写入 / written:" in err
    assert "refits" not in err  # the progress bar shows on a terminal only


def test_text_report_has_a_table_per_horizon_the_selection_and_lead_times(nh3n_csv: Path) -> None:
    code, out, err = _run(str(nh3n_csv), "--parameter", "nh3n", "--limit", "1", *FAST)
    assert code == 0, err
    assert out.startswith("回测 / backtest：氨氮 nh3n [mg/L]，超标 / exceedance > 1")
    for heading in (
        "预见期 / horizon 4 h", "预见期 / horizon 24 h", "模型 model", "Brier", "skill",
        "MAE", "CRPS", "cov80", "hit", "FAR", "选用模型 / selected: ", "理由 / why: ",
        "超标预警提前量 / lead time of caught exceedances (P ≥ 0.5)", "mean lead",
        "（90 % 区间 interval ",
    ):  # fmt: skip
        assert heading in out, heading
    for model in REQUIRED_MODELS:
        assert f"\n{model} " in out or f"\n {model} " in out, model
    assert "nan" not in out.lower()
    assert all(line == line.rstrip() for line in out.splitlines())


def test_dissolved_oxygen_is_a_lower_limit(tmp_path: Path) -> None:
    values, limit, direction = make_series("do_summer_diurnal", seed=1, days=63)
    assert direction == "below"
    path = tmp_path / "do.csv"
    write_series_csv(values, path)
    code, out, err = _run(
        str(path), "--parameter", "do", "--limit", f"{limit:g}", "--format", "json",
        "--horizons", "4",
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(out, parse_constant=_no_constant)
    assert data["meta"]["threshold"] == f"< {limit:g}"
    assert list(data["models"]["auto"]) == ["4"]


# --- options ----------------------------------------------------------------------------------


def test_ph_needs_two_limits(tmp_path: Path) -> None:
    path = _write(tmp_path, "time,value\n2025-01-01T00:00:00+08:00,7.5\n")
    code, _, err = _run(str(path), "--parameter", "ph", "--limit", "9")
    assert code == 2
    assert "--limit" in err and "two numbers" in err and "6,9" in err
    code, _, err = _run(str(path), "--parameter", "ph", "--limit", "6,9")
    assert code == 2  # accepted; the one-row series is then too short
    assert "too short" in err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--parameter", "nh3", "--limit", "1"), "valid keys: temp, ph, do"),
        (("--parameter", "turbidity", "--limit", "1"), "no exceedance direction; keys with one"),
        (("--parameter", "nh3n", "--limit", "6,9"), "nh3n takes one limit"),
        (("--parameter", "nh3n", "--limit", "one"), "--limit: 不是数 / not a number: 'one'"),
        (("--parameter", "nh3n", "--limit", "1", "--horizons", "4,5"), "5 不是可用预见期"),
        (("--parameter", "nh3n", "--limit", "1", "--training-days", "20"), "--training-days"),
        (("--parameter", "nh3n", "--limit", "1", "--probability", "0"), "probability"),
    ],
    ids=["unknown-key", "no-limit", "two-limits", "nan-limit", "bad-horizon", "training",
         "probability"],
)  # fmt: skip
def test_bad_options_exit_2_naming_the_option(
    tmp_path: Path, args: tuple[str, ...], expected: str
) -> None:
    path = _write(tmp_path, "time,value\n2025-01-01T00:00:00+08:00,0.5\n")
    code, out, err = _run(str(path), *args)
    assert code == 2, err
    assert out == ""
    assert expected in err
    assert "Traceback" not in err


def test_defaults_are_the_domain_defaults() -> None:
    from sections.backtest import BACKTEST_HORIZONS, BacktestOptions
    from sections.forecast import ForecastOptions
    from service.cli import forecast

    options = BacktestOptions()
    assert forecast.DEFAULT_HORIZONS == BACKTEST_HORIZONS == options.horizons
    assert options.refit_days == forecast.DEFAULT_REFIT_DAYS
    assert options.warmup_days == forecast.DEFAULT_WARMUP_DAYS
    assert options.probability == forecast.DEFAULT_PROBABILITY
    assert ForecastOptions().training_days == forecast.DEFAULT_TRAINING_DAYS


# --- bad files --------------------------------------------------------------------------------

GOOD = "2025-01-01T00:00:00+08:00,0.5\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("time,value\n" + GOOD + "2025-01-01T04:00:00,0.6\n",
         "第 3 行 / row 3, 列 / column 'time': 时间缺少时区偏移 / time has no UTC offset"),
        ("time,value\n" + GOOD + "2025-01-01T04:00:00+08:00,abc\n",
         "第 3 行 / row 3, 列 / column 'value': 无法解析的数值 / not a number: 'abc'"),
        ("time,value\n" + GOOD + "1/1/2025 04:00,0.6\n",
         "第 3 行 / row 3, 列 / column 'time': 时间不是 ISO 8601"),
        ("time,value\n" + GOOD + ",0.6\n", "第 3 行 / row 3, 列 / column 'time': 缺少时间"),
        ("time,value\n" + GOOD + "2025-01-01T04:00:00+08:00,0.6,x\n",
         "第 3 行 / row 3: 有 3 个字段，表头有 2 个"),
        ("time,value\n" + GOOD + "2025-01-01T04:00:00+08:00,5000\n",
         "第 3 行 / row 3, 列 / column 'value'"),
        ("time,value\n" + GOOD + "9999-01-01T04:00:00+08:00,0.6\n",
         "第 3 行 / row 3, 列 / column 'time': 日期"),
        ("time,nh3n\n" + GOOD, "第 1 行 / row 1: 缺少列 / missing column(s): value"),
        ("", "输入文件为空 / the input file is empty"),
        ("time,value\n", "the input file has no data rows"),
        ("time,value\n2025-01-01T00:00:00+08:00,\n", "holds no number"),
    ],
    ids=["no-offset", "not-a-number", "not-iso", "empty-time", "extra-field", "impossible",
         "far-future", "missing-column", "empty-file", "header-only", "no-values"],
)  # fmt: skip
def test_bad_rows_exit_2_naming_the_row(tmp_path: Path, text: str, expected: str) -> None:
    code, out, err = _run(str(_write(tmp_path, text)), "--parameter", "nh3n", "--limit", "1")
    assert code == 2, err
    assert out == ""
    assert expected in err
    assert err.startswith("错误 / error [输入有误 / invalid input]: ")
    assert "Traceback" not in err


def test_censored_values_and_other_offsets_are_read(tmp_path: Path) -> None:
    from service.offline.series import read_series

    path = _write(
        tmp_path,
        "value,time,note\n0.42,2025-01-01T04:00:00+08:00,\n<0.05,2024-12-31T21:00:00Z,lab\n"
        ",2025-01-01T08:00:00+08:00,\n",
    )
    values = read_series(path, key="nh3n")
    assert values.name == "nh3n"
    assert str(values.index.tz) == "Asia/Shanghai"
    assert [t.hour for t in values.index] == [4, 5, 8]
    assert values.iloc[:2].tolist() == [0.42, 0.025]
    assert values.isna().tolist() == [False, False, True]


def test_an_upstream_series_adds_the_upstream_model(tmp_path: Path) -> None:
    from benchmarks.forecast_series import make_reach

    down, up, limit, _ = make_reach("nh3n_winter_episodes", seed=1, days=70)
    write_series_csv(down, tmp_path / "down.csv")
    write_series_csv(up, tmp_path / "up.csv")
    code, out, err = _run(
        str(tmp_path / "down.csv"), "--upstream", str(tmp_path / "up.csv"), "--parameter", "nh3n",
        "--limit", str(limit), "--format", "json", *FAST,
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(out, parse_constant=_no_constant)
    assert set(data["models"]) >= REQUIRED_MODELS | {"upstream"}
    assert data["models"]["upstream"]["24"]["n"] > 0


def test_an_upstream_series_of_a_parameter_set_locally_is_refused(tmp_path: Path) -> None:
    # DO is set where the water is (reaeration, photosynthesis): the upstream section's DO
    # does not travel, and reading it made the demo's DO forecasts worse
    from benchmarks.forecast_series import make_series

    values, limit, _ = make_series("do_summer_diurnal", seed=1, days=70)
    write_series_csv(values, tmp_path / "down.csv")
    write_series_csv(values, tmp_path / "up.csv")
    code, out, err = _run(
        str(tmp_path / "down.csv"), "--upstream", str(tmp_path / "up.csv"), "--parameter", "do",
        "--limit", str(limit), *FAST,
    )  # fmt: skip
    assert code == 2 and out == ""
    assert "--upstream" in err and "不随水流" in err and "codmn, nh3n, tn, tp only" in err
    assert "Traceback" not in err


def test_an_unreadable_upstream_file_is_refused_clearly(nh3n_csv: Path, tmp_path: Path) -> None:
    bad = _write(tmp_path, "time,value\nnot-a-time,1.0\n", "up.csv")
    code, _, err = _run(
        str(nh3n_csv), "--upstream", str(bad), "--parameter", "nh3n", "--limit", "1.0", *FAST
    )
    assert code != 0
    assert "up.csv" in err or "not-a-time" in err
    assert "Traceback" not in err


def test_pooled_series_add_the_analog_model(nh3n_csv: Path, tmp_path: Path) -> None:
    for seed in (2, 3, 4):
        values, _, _ = make_series("nh3n_winter_episodes", seed=seed, days=70)
        write_series_csv(values, tmp_path / f"other{seed}.csv")
    pool = [arg for seed in (2, 3, 4) for arg in ("--pool", str(tmp_path / f"other{seed}.csv"))]
    code, out, err = _run(
        str(nh3n_csv), *pool, "--parameter", "nh3n", "--limit", "1.0", "--format", "json", *FAST
    )
    assert code == 0, err
    data = json.loads(out, parse_constant=_no_constant)
    assert set(data["models"]) >= REQUIRED_MODELS | {"analog"}
    assert data["models"]["analog"]["24"]["n"] > 0
    assert "相似情形取自 4 个断面" in data["why"]


def test_a_pool_for_dissolved_oxygen_is_refused(tmp_path: Path) -> None:
    values, limit, _ = make_series("do_summer_diurnal", seed=1, days=70)
    write_series_csv(values, tmp_path / "do.csv")
    code, out, err = _run(
        str(tmp_path / "do.csv"), "--pool", str(tmp_path / "do.csv"), "--parameter", "do",
        "--limit", str(limit), *FAST,
    )  # fmt: skip
    assert code == 2 and out == ""
    assert "--pool" in err and "codmn, nh3n, tn, tp only" in err
    assert "Traceback" not in err
