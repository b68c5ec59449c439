"""Forecast commands: ``backtest`` (a series file in, the scores out; no database).

The command translates options into :class:`sections.backtest.BacktestOptions` and a
:class:`sections.forecast.Threshold`, reads the file through
:func:`service.offline.series.read_series` and calls :func:`sections.backtest.backtest`. The
exceedance direction comes from the limits table (:func:`sections.standards.indicator_limits`):
``le`` an upper limit, ``ge`` a lower one (DO), ``range`` both (pH, ``--limit 6,9``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import math
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import typer
from rich import box
from rich.console import Console
from rich.table import Table

from service.cli import _output, _report
from service.cli._options import OutputOption
from service.errors import InputError
from service.time import BEIJING

if TYPE_CHECKING:
    import pandas as pd

    from sections.backtest import BacktestOptions, BacktestResult
    from sections.forecast import Threshold
    from sections.standards import WaterBodyKey

__all__ = [
    "DEFAULT_HORIZONS",
    "DEFAULT_PROBABILITY",
    "DEFAULT_REFIT_DAYS",
    "DEFAULT_TRAINING_DAYS",
    "DEFAULT_WARMUP_DAYS",
    "BacktestFormat",
    "backtest_command",
    "backtest_json",
    "backtest_text",
]


class BacktestFormat(StrEnum):
    """Output formats of ``qingliu backtest``."""

    text = "text"
    json = "json"


# The defaults of sections.backtest.BacktestOptions and sections.forecast.ForecastOptions, named
# here so that ``qingliu --help`` need not import the forecast models (1.5 s of SciPy and
# statsmodels); tests/service/test_backtest_cli.py checks that the two agree.
DEFAULT_HORIZONS: tuple[int, ...] = (4, 8, 12, 24, 48, 72)
"""Horizons scored by default [h] (:data:`sections.backtest.BACKTEST_HORIZONS`)."""
DEFAULT_REFIT_DAYS = 7
"""Days between refits [d] [A] (:attr:`~sections.backtest.BacktestOptions.refit_days`)."""
DEFAULT_WARMUP_DAYS = 56
"""Days before the first origin [d] [A] (``BacktestOptions.warmup_days``)."""
DEFAULT_TRAINING_DAYS = 56
"""Training window [d] [A] (:attr:`sections.forecast.ForecastOptions.training_days`)."""
DEFAULT_PROBABILITY = 0.5
"""Warning threshold on P(exceed) [-] [A] (``BacktestOptions.probability``)."""
_DEFAULT_HORIZONS_TEXT = ",".join(map(str, DEFAULT_HORIZONS))
#: Width of the text report (the tables fit in it).
_TEXT_WIDTH = 100
#: Water bodies asked, in order, for a parameter's exceedance direction (TN has a lake limit only).
_WATER_BODIES: tuple[WaterBodyKey, ...] = ("river", "lake")
#: Columns of a horizon's table: metric key, heading, format of the value.
_METRICS = (
    ("brier", "Brier", ".3f"),
    ("brier_skill", "技巧\nskill", "+.2f"),
    ("mae", "MAE", ".3f"),
    ("crps", "CRPS", ".3f"),
    ("coverage80", "80%覆盖\ncov80", ".0%"),
    ("hit_rate", "命中率\nhit", ".0%"),
    ("false_alarm_ratio", "误报率\nFAR", ".0%"),
)
#: What the models are, for an operator.
_MODEL_ZH = {
    "sarima": "SARIMA",
    "ets": "指数平滑",
    "ensemble": "集成",
    "upstream": "上游回归",
    "analog": "多断面相似",
    "persistence": "持续",
    "seasonal_naive": "季节朴素",
    "climatology": "气候态",
    "persistence_01": "持续 0/1",
    "auto": "自动选择",
}


def backtest_command(
    input_file: Annotated[
        Path,
        typer.Argument(
            metavar="INPUT.csv", help="输入 CSV：time（ISO 8601，带时区偏移）, value / input CSV"
        ),
    ],
    parameter: Annotated[
        str, typer.Option(metavar="KEY", help="参数，如 nh3n、do、ph / parameter key")
    ],
    limit: Annotated[
        str,
        typer.Option(metavar="L", help="目标限值；pH 为范围两数，如 6,9 / limit (pH: lower,upper)"),
    ],
    horizons: Annotated[
        str, typer.Option(help="预见期（小时，4 的倍数，≤ 72）/ lead times in hours")
    ] = _DEFAULT_HORIZONS_TEXT,
    output_format: Annotated[
        BacktestFormat | None,
        typer.Option(
            "--format",
            help="输出格式，缺省由 --output 的扩展名推断，否则 text "
            "/ output format (default: from --output's extension, else text)",
        ),
    ] = None,
    refit_days: Annotated[
        int, typer.Option(help="重新拟合间隔（天）[A] / days between refits")
    ] = DEFAULT_REFIT_DAYS,
    warmup_days: Annotated[
        int, typer.Option(help="首次起报前的天数 [A] / days before the first forecast")
    ] = DEFAULT_WARMUP_DAYS,
    training_days: Annotated[
        int, typer.Option(help="训练窗口（天）[A] / days the models are trained on")
    ] = DEFAULT_TRAINING_DAYS,
    probability: Annotated[
        float, typer.Option(help="预警的超标概率阈值 [A] / warning threshold on P(exceed)")
    ] = DEFAULT_PROBABILITY,
    upstream: Annotated[
        Path | None,
        typer.Option(
            metavar="UPSTREAM.csv",
            help="上游断面同一参数的序列（列同 INPUT；CODMn、NH3-N、TP、TN），加入上游回归模型 "
            "/ the upstream section's series of the same parameter (CODMn, NH3-N, TP, TN): "
            "adds the upstream model",
        ),
    ] = None,
    pool: Annotated[
        list[Path] | None,
        typer.Option(
            metavar="OTHER.csv",
            help="其他断面同一参数、同一目标限值的序列（可重复；CODMn、NH3-N、TP、TN），"
            "加入多断面相似情形模型 analog / another section's series of the same parameter and "
            "limit (repeatable; CODMn, NH3-N, TP, TN): adds the analog model",
        ),
    ] = None,
    output: OutputOption = None,
) -> None:
    """回测超标预报：滚动起报，与基准比较。Backtest exceedance forecasts of a series, offline.

    Every --refit-days the models are refitted on the data before that time only; each 4-hourly
    bin until the next refit issues a forecast, scored against what then happened. Scores per
    model and horizon (Brier, skill against persistence, MAE, CRPS, interval coverage, hit rate,
    false-alarm ratio, reliability), the model the service would select, and lead times.
    Columns: time (ISO 8601 with offset, e.g. 2025-01-01T04:00:00+08:00), value (canonical unit;
    empty = no value; <x = below the detection limit x). With --upstream, the upstream
    section's series of the same parameter (same columns) feeds the upstream model; each
    --pool file, another section's series (same columns, same limit), joins the library of the
    analog model, read up to each refit only.
    """
    from sections.backtest import backtest
    from sections.forecast_analog import ANALOG_KEYS, analog_applies
    from sections.forecast_upstream import CARRIED_DOWNSTREAM, carried_downstream
    from service.offline.series import read_series

    target = _output.destination(
        None if output_format is None else output_format.value, output,
        allowed=[f.value for f in BacktestFormat], default=BacktestFormat.text.value,
    )  # fmt: skip
    key = _parameter(parameter)
    threshold = _threshold(key, limit)
    options = _backtest_options(
        horizons=horizons, refit_days=refit_days, warmup_days=warmup_days,
        training_days=training_days, probability=probability,
    )  # fmt: skip
    values = read_series(input_file, key=key)
    _check_length(values, options)
    if upstream is not None and not carried_downstream(key):
        carried = "、".join(sorted(CARRIED_DOWNSTREAM))
        raise InputError(
            f"--upstream: {key} 在本断面就地形成（复氧、光合作用），不随水流从上游传来；上游回归"
            f"只用于 {carried} / {key} is set where the water is, not carried from upstream: "
            f"--upstream applies to {', '.join(sorted(CARRIED_DOWNSTREAM))} only"
        )
    upstream_values = read_series(upstream, key=key) if upstream is not None else None
    if pool and not analog_applies(key):
        pooled = ", ".join(sorted(ANALOG_KEYS))
        raise InputError(
            f"--pool: 多断面相似情形只用于有污染过程的参数 {'、'.join(sorted(ANALOG_KEYS))}；"
            f"{key} 的超标由本断面自身规律决定 / the analog model applies to {pooled} only"
        )
    pool_series = [(read_series(path, key=key), threshold) for path in pool] if pool else None
    bar = _report.progress_bar()
    task = bar.add_task("回测 / backtest: 重新拟合 refits", total=None)

    def advance(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    with bar if bar.console.is_terminal else contextlib.nullcontext():
        result = backtest(
            values, threshold=threshold, options=options, progress=advance,
            upstream=upstream_values, pool=pool_series,
        )  # fmt: skip
    if target.fmt == BacktestFormat.json:
        text = backtest_json(result)
    else:
        text = backtest_text(result, key=key, threshold=threshold)
    target.write((text if text.endswith("\n") else text + "\n").encode("utf-8"))


# --- option readers ----------------------------------------------------------------------------


def _parameter(key: str) -> str:
    """The parameter key, checked against the parameters table."""
    from sections.errors import DataTableError
    from sections.parameters import parameter

    try:
        return parameter(key.strip()).key
    except DataTableError as exc:
        raise InputError(f"--parameter: 未知参数 / {exc}") from None


def _direction(key: str) -> str:
    """``le``, ``ge`` or ``range`` from the limits table; a key without a limit is refused."""
    from sections.errors import DataTableError
    from sections.parameters import parameters
    from sections.standards import DEFAULT_STANDARD, indicator_limits, limit_table

    for body in _WATER_BODIES:
        with contextlib.suppress(DataTableError):
            return indicator_limits(key, body).direction
    limited = {k for k, _ in limit_table()}
    valid = ", ".join(k for k in parameters() if k in limited)
    raise InputError(
        f"--parameter: {key} 在 {DEFAULT_STANDARD} 中没有限值，无法判断超标方向 / {key} has no "
        f"{DEFAULT_STANDARD} limit, so no exceedance direction; keys with one: {valid}"
    )


def _threshold(key: str, limit: str) -> Threshold:
    """``--limit`` as the threshold of ``key``: an upper limit, a lower one (DO), or pH's range."""
    from sections.forecast import Threshold

    direction = _direction(key)
    parts = [part.strip() for part in limit.split(",")]
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        raise InputError(f"--limit: 不是数 / not a number: {limit!r}") from None
    if not all(math.isfinite(n) for n in numbers):
        raise InputError(f"--limit: 限值必须是有限数 / the limit must be finite: {limit!r}")
    if direction == "range":
        if len(numbers) != 2:
            raise InputError(
                f"--limit: {key} 的限值是范围，需要两个数（下限,上限），如 --limit 6,9 / {key} has "
                f"a range: give two numbers (lower,upper), e.g. --limit 6,9; got {limit!r}"
            )
        try:
            return Threshold(lower=numbers[0], upper=numbers[1])
        except ValueError as exc:
            raise InputError(f"--limit: 限值无效 / invalid limit: {exc}") from None
    if len(numbers) != 1:
        raise InputError(f"--limit: {key} 只需一个限值 / {key} takes one limit, got {limit!r}")
    return Threshold(upper=numbers[0]) if direction == "le" else Threshold(lower=numbers[0])


def _horizons(text: str) -> tuple[int, ...]:
    """``4,24`` → (4, 24); each must be a forecast horizon (:data:`sections.forecast.HORIZONS`)."""
    from sections.forecast import HORIZONS

    try:
        hours = tuple(sorted({int(part) for part in text.split(",")}))
    except ValueError:
        raise InputError(
            f"--horizons: 需要整数小时，如 4,24 / whole hours, e.g. 4,24: {text!r}"
        ) from None
    bad = [h for h in hours if h not in HORIZONS]
    if bad:
        raise InputError(
            f"--horizons: {', '.join(map(str, bad))} 不是可用预见期 / not a forecast horizon; "
            f"valid: {', '.join(map(str, HORIZONS))}"
        )
    return hours


def _backtest_options(
    *, horizons: str, refit_days: int, warmup_days: int, training_days: int, probability: float
) -> BacktestOptions:
    """The options under test; a value the domain refuses names its option."""
    from sections.backtest import BacktestOptions
    from sections.forecast import ForecastOptions

    try:
        forecast = ForecastOptions(training_days=training_days)
    except ValueError as exc:
        raise InputError(f"--training-days: 取值无效 / invalid value: {exc}") from None
    try:
        return BacktestOptions(
            horizons=_horizons(horizons), refit_days=refit_days, warmup_days=warmup_days,
            probability=probability, forecast=forecast,
        )  # fmt: skip
    except ValueError as exc:
        raise InputError(
            f"--refit-days / --warmup-days / --probability: 取值无效 / invalid value: {exc}"
        ) from None


def _check_length(values: pd.Series, options: BacktestOptions) -> None:
    """Refuse a series too short for one refit after the warm-up."""
    from sections.backtest import rolling_origins
    from sections.forecast import to_grid
    from sections.forecast_models import STEPS_PER_DAY

    bins = len(to_grid(values))
    if not rolling_origins(bins, warmup_days=options.warmup_days, refit_days=options.refit_days):
        days = bins / STEPS_PER_DAY
        raise InputError(
            f"序列太短：{days:.1f} 天，预热就需要 {options.warmup_days} 天 / the series is too "
            f"short: {days:.1f} days on the 4-hourly grid, the warm-up alone needs "
            f"{options.warmup_days} (--warmup-days)"
        )


# --- what the command prints -------------------------------------------------------------------


def backtest_json(result: BacktestResult) -> str:
    """The result as JSON (:meth:`BacktestResult.to_json`); NaN and ±inf become ``null``."""
    return json.dumps(_finite(result.to_json()), ensure_ascii=False, indent=2, allow_nan=False)


def _finite(value: Any) -> Any:
    """``value`` with NumPy scalars made Python ones and non-finite floats ``None``."""
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def backtest_text(result: BacktestResult, *, key: str, threshold: Threshold) -> str:
    """A table per horizon (models as rows), the selection and why, and the lead times."""
    from sections.parameters import parameter

    buffer = io.StringIO()
    console = Console(
        file=buffer, width=_TEXT_WIDTH, color_system=None, force_terminal=False,
        markup=False, highlight=False, emoji=False, soft_wrap=True,
    )  # fmt: skip
    meta = result.meta
    info = parameter(key)
    console.print(
        f"回测 / backtest：{info.name_zh} {key} [{info.unit}]，超标 / exceedance "
        f"{threshold.label}，预警 / warning P ≥ {meta['warning_probability']:g}"
    )
    console.print(
        f"{_stamp(meta['start'])} – {_stamp(meta['end'])}（北京时间 Beijing），4 h 网格 bins "
        f"{meta['bins']}，起报 origins {meta['origins']}"
    )
    console.print(
        f"重新拟合 refits {meta['refits']}：每 every {meta['refit_days']} d，训练 training "
        f"{meta['training_days']} d，预热 warm-up {meta['warmup_days']} d"
    )
    for horizon in result.selections:
        console.print()
        console.print(_horizon_table(result, horizon), soft_wrap=False)
        for line in _horizon_notes(result, horizon):
            console.print(f"  {line}")
    console.print()
    console.print(f"选用模型 / selected: {_model(result.selected)}")
    console.print(f"理由 / why: {result.why}")
    console.print()
    console.print(_lead_table(result, float(meta["warning_probability"])), soft_wrap=False)
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()) + "\n"


def _horizon_table(result: BacktestResult, horizon: str) -> Table:
    table = Table(
        title=f"预见期 / horizon {horizon} h", box=box.SIMPLE_HEAD, title_justify="left",
        show_edge=False,
    )  # fmt: skip
    table.add_column("模型 model", no_wrap=True)
    for _, heading, _ in _METRICS:
        table.add_column(heading, justify="right", no_wrap=True)
    for name, scores in result.models.items():
        if horizon in scores:
            row = scores[horizon]
            table.add_row(_model(name), *(_cell(row.get(k), fmt) for k, _, fmt in _METRICS))
    return table


def _horizon_notes(result: BacktestResult, horizon: str) -> list[str]:
    """Rows scored, the selections at the refits, and the best baseline of one horizon."""
    first = next((s[horizon] for s in result.models.values() if horizon in s), {})
    counts = "，".join(f"{name} {n}" for name, n in result.selections[horizon].items())
    notes = [
        f"样本 n {first.get('n', 0)}，超标 exceedances {first.get('exceedances', 0)}；"
        f"各次拟合的选择 selected at refits: {counts}"
    ]
    summary = result.summary.get(horizon)
    if summary:
        notes.append(
            f"最佳基准 best baseline {summary['best_baseline']}（Brier "
            f"{_cell(summary['brier_best_baseline'], '.3f')}），auto 相对它的技巧 skill "
            f"{_cell(summary['brier_skill_vs_best_baseline'], '+.2f')}"
            + _interval(summary.get("brier_skill_vs_best_baseline_interval90"))
        )
    return notes


def _interval(bounds: list[float] | None) -> str:
    """ " (90 % 区间 a～b)" of a block-bootstrap interval, or nothing when it is unknown."""
    if not bounds or not all(math.isfinite(b) for b in bounds):
        return ""
    return f"（90 % 区间 interval {bounds[0]:+.2f}～{bounds[1]:+.2f}）"


def _lead_table(result: BacktestResult, probability: float) -> Table:
    table = Table(
        title=f"超标预警提前量 / lead time of caught exceedances (P ≥ {probability:g})",
        box=box.SIMPLE_HEAD, title_justify="left", show_edge=False,
    )  # fmt: skip
    table.add_column("模型 model", no_wrap=True)
    table.add_column("超标起始\nonsets", justify="right")
    table.add_column("提前预警\ncaught", justify="right")
    table.add_column("平均提前 [h]\nmean lead", justify="right")
    for name, lead in result.leads.items():
        table.add_row(
            _model(name), _cell(lead.get("onsets"), "d"), _cell(lead.get("caught"), "d"),
            _cell(lead.get("mean_lead_hours"), ".1f"),
        )  # fmt: skip
    return table


def _model(name: str) -> str:
    gloss = _MODEL_ZH.get(name)
    return f"{name} {gloss}" if gloss and gloss.lower() != name else name


def _cell(value: object, fmt: str) -> str:
    """A number in ``fmt``; ``—`` for none or not finite."""
    if not isinstance(value, int | float | np.number) or not math.isfinite(float(value)):
        return "—"
    return format(int(value) if fmt == "d" else float(value), fmt)


def _stamp(text: object) -> str:
    """An ISO 8601 time as ``YYYY-MM-DD HH:MM`` Beijing time."""
    return f"{dt.datetime.fromisoformat(str(text)).astimezone(BEIJING):%Y-%m-%d %H:%M}"
