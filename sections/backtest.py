"""Rolling-origin backtests of exceedance forecasts: how often they are right, against baselines.

The series is put on the 4-hourly grid; after a warm-up, the candidates are refitted every
:attr:`BacktestOptions.refit_days` on the training window *before* the refit time only
(:func:`rolling_origins`), and every grid bin until the next refit is an origin. Each origin's
forecast reads data up to the origin only; it is scored against what then happened.

Scores per model and horizon (:func:`score_forecasts`): MAE and RMSE of the median, CRPS,
pinball loss over the reported quantiles, coverage of the 80 % and 95 % intervals, Brier score of
P(exceed), Brier skill against the probabilistic persistence forecast, reliability (binned
predicted probability against observed frequency), hit rate and false-alarm ratio of a warning
at :attr:`BacktestOptions.probability`, and the lead time of caught exceedances.

Models: the candidates of :mod:`sections.forecast` each on its own, ``persistence_01`` (the
deterministic 0/1 persistence warning: exceeding now → P = 1), and ``auto``: the forecast as the
service issues it (per horizon, the candidate selected at each refit on its training window).

References
----------
.. [1] Tashman, L.J. (2000) Out-of-sample tests of forecasting accuracy: an analysis and
   review. *Int. J. Forecasting* 16, 437–450 (rolling origin).
.. [2] Gneiting, T. and Raftery, A.E. (2007) Strictly proper scoring rules, prediction, and
   estimation. *JASA* 102, 359–378. doi:10.1198/016214506000001437
.. [3] WMO/WWRP Joint Working Group on Forecast Verification Research, *Forecast verification:
   issues, methods and FAQ* (hit rate, false-alarm ratio, reliability).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from sections.forecast import (
    ANALOG,
    CANDIDATES,
    MEMBERS,
    OPTIONAL_CANDIDATES,
    QUANTILES,
    SKILL_DAYS,
    UPSTREAM,
    ForecastOptions,
    Predictive,
    Threshold,
    fit_forecaster,
    skill_record,
    to_grid,
)
from sections.forecast_models import STEP_HOURS, STEPS_PER_DAY, last_valid
from sections.scoring import (
    brier_score,
    brier_skill,
    brier_skill_interval,
    coverage_interval,
    crps_ensemble,
    exceedance_onsets,
    interval_coverage,
    lead_times,
    mean_lead_time,
    pinball_loss,
    reliability,
    warning_scores,
)

__all__ = [
    "BACKTEST_HORIZONS",
    "MODEL_NAMES",
    "BacktestOptions",
    "BacktestResult",
    "Block",
    "backtest",
    "rolling_origins",
    "score_forecasts",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Progress = Callable[[int, int], None]

BACKTEST_HORIZONS: tuple[int, ...] = (4, 8, 12, 24, 48, 72)
"""The horizons a backtest reports by default [h]."""
MODEL_NAMES: tuple[str, ...] = (*CANDIDATES, "persistence_01", "auto")
"""Every model a backtest scores (``upstream`` only when an upstream series is given)."""
_BASELINE_NAMES = ("persistence", "persistence_01", "seasonal_naive", "climatology")


@dataclass(frozen=True)
class BacktestOptions:
    """How a backtest runs; defaults are assumptions [A] the results are reported under.

    Attributes
    ----------
    horizons : tuple of int
        Lead times scored [h].
    warmup_days : int
        Days before the first origin (at least the training window) [d].
    refit_days : int
        Days between refits [d].
    probability : float
        Warning threshold on P(exceed) for hit rate, false-alarm ratio and lead time [-].
    reliability_bins : int
        Bins of the reliability table.
    skill_days : int
        Window of the running skill record that decides the selection once it holds verified
        forecasts [d] (the service keeps the same record).
    forecast : ForecastOptions
        The forecast options under test.
    """

    horizons: tuple[int, ...] = BACKTEST_HORIZONS
    warmup_days: int = 56
    refit_days: int = 7
    probability: float = 0.5
    reliability_bins: int = 10
    skill_days: int = SKILL_DAYS
    forecast: ForecastOptions = field(default_factory=ForecastOptions)

    def __post_init__(self) -> None:
        if self.refit_days < 1:
            raise ValueError(f"refit_days must be ≥ 1, got {self.refit_days}")
        if self.warmup_days < self.forecast.training_days:
            raise ValueError(
                f"warmup_days ({self.warmup_days}) must cover the training window "
                f"({self.forecast.training_days} days)"
            )
        if not 0.0 < self.probability <= 1.0:
            raise ValueError(f"probability must be in (0, 1], got {self.probability}")


@dataclass(frozen=True)
class Block:
    """One refit: train on bins before ``train_end``, issue from ``origins`` (positions)."""

    train_end: int
    origins: range


def rolling_origins(n_bins: int, *, warmup_days: int, refit_days: int) -> list[Block]:
    """Refit blocks over a grid of ``n_bins`` 4-hourly bins; the future never trains a model.

    Every block trains on bins ``< train_end`` and issues from bins ``train_end − 1`` onwards
    (the last training bin is the first origin: a forecast issued at a bin uses that bin's
    value), up to the next block's last training bin.

    Examples
    --------
    >>> [(b.train_end, b.origins) for b in rolling_origins(6 * 10, warmup_days=7, refit_days=2)]
    [(42, range(41, 53)), (54, range(53, 59))]
    """
    first = warmup_days * STEPS_PER_DAY
    every = refit_days * STEPS_PER_DAY
    blocks = []
    for train_end in range(first, n_bins, every):
        last = min(train_end + every, n_bins)
        blocks.append(Block(train_end, range(train_end - 1, last - 1)))
    return blocks


@dataclass(frozen=True)
class BacktestResult:
    """Scores per model and horizon, the selection made, and the lead times.

    :meth:`to_json` gives the documented JSON shape: ``{"models": {model: {"24": {...}}},
    "selected": ..., "why": ..., ...}``.
    """

    models: Mapping[str, Mapping[str, Mapping[str, Any]]]
    selected: str
    why: str
    selections: Mapping[str, Mapping[str, int]]
    leads: Mapping[str, Mapping[str, float]]
    summary: Mapping[str, Mapping[str, Any]]
    meta: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "models": self.models,
            "selected": self.selected,
            "why": self.why,
            "selections": self.selections,
            "lead_times": self.leads,
            "summary": self.summary,
            "meta": self.meta,
        }


def backtest(
    values: pd.Series,
    *,
    threshold: Threshold,
    options: BacktestOptions | None = None,
    progress: Progress | None = None,
    upstream: pd.Series | None = None,
    pool: Sequence[tuple[pd.Series, Threshold]] | None = None,
) -> BacktestResult:
    """Rolling-origin backtest of one series against its target-class threshold.

    Parameters
    ----------
    values : Series
        Observations on a tz-aware DatetimeIndex [unit of the parameter]; put on the 4-hourly
        grid first (:func:`sections.forecast.to_grid`).
    threshold : Threshold
        The limit an exceedance is scored against.
    options : BacktestOptions
    progress : callable, optional
        Called with (refits done, refits in all) after each refit.
    upstream : Series, optional
        The upstream section's observations of the same parameter (tz-aware index): the
        ``upstream`` candidate is fitted and scored too. Each forecast reads upstream data up
        to its origin only.
    pool : sequence of (Series, Threshold), optional
        Other sections' observations of the same parameter (tz-aware index) with their
        thresholds: the library of the ``analog`` candidate, which is then fitted and scored
        too (:mod:`sections.forecast_analog`). Each refit reads pool data before the refit only.

    Returns
    -------
    BacktestResult
    """
    options = options or BacktestOptions()
    grid = to_grid(values)
    upstream_grid = to_grid(upstream) if upstream is not None else None
    blocks = rolling_origins(
        len(grid), warmup_days=options.warmup_days, refit_days=options.refit_days
    )
    if not blocks:
        raise ValueError(
            f"series too short: {len(grid)} bins of 4 h, the warm-up alone needs "
            f"{options.warmup_days * STEPS_PER_DAY}"
        )
    horizons = tuple(sorted(options.horizons))
    pool_grids = None if pool is None else [(to_grid(s), t) for s, t in pool if s.notna().any()]
    given = {UPSTREAM: upstream is not None, ANALOG: pool is not None}
    names = [c for c in CANDIDATES if given.get(c, True)] + ["auto"]
    parts: dict[str, list[FloatArray]] = {name: [] for name in names}
    chosen: dict[int, Counter[str]] = {h: Counter() for h in horizons}
    whys: Counter[str] = Counter()
    notes: Counter[str] = Counter()
    previous: Mapping[int, str] | None = None
    record = _SkillRecord(horizons, options.skill_days * STEPS_PER_DAY)
    step = np.asarray(horizons, dtype=np.int64) // STEP_HOURS
    for done, block in enumerate(blocks, start=1):
        end = grid.index[block.train_end]
        forecaster = fit_forecaster(
            grid, end=end, threshold=threshold, horizons=horizons, options=options.forecast,
            skill=record.table(block.train_end), previous_selection=previous,
            upstream=upstream_grid, pool=pool_grids,
        )  # fmt: skip
        previous = forecaster.selection
        issued = forecaster.predict_all(
            grid, pd.DatetimeIndex(grid.index[block.origins]), upstream=upstream_grid
        )
        origins = pd.DatetimeIndex(grid.index[block.origins])
        observed = _truth(grid, origins, horizons)
        truth = np.where(np.isnan(observed), np.nan, threshold.exceeds(observed))
        targets = np.asarray(block.origins)[:, None] + step[None, :]
        for name in names:
            # a model that failed to converge at this refit: no forecast
            predictive = issued.get(name) or _empty(origins, horizons)
            parts[name].append(predictive.members)
            if name != "auto":
                record.add(name, targets, predictive.probability(threshold), truth)
        for h in horizons:
            chosen[h][forecaster.selection[h]] += 1
        whys[forecaster.why] += 1
        notes.update(forecaster.notes)
        if progress is not None:
            progress(done, len(blocks))
    origins = pd.DatetimeIndex(grid.index[np.concatenate([np.asarray(b.origins) for b in blocks])])
    forecasts = {
        name: Predictive(
            origins, horizons, np.concatenate(parts[name]), np.asarray([name] * len(horizons))
        )
        for name in names
    }
    truth = _truth(grid, origins, horizons)
    persistence_now = _persistence_values(grid, origins, options.forecast.max_gap_hours)
    models, leads = score_forecasts(
        forecasts, truth, threshold=threshold, persistence_now=persistence_now, options=options
    )
    key = str(min(horizons, key=lambda h: (abs(h - 24), h)))
    selected = chosen[int(key)].most_common(1)[0][0]
    summary = _summary(models, horizons)
    _skill_details(forecasts, truth, persistence_now, threshold, summary)
    why = _why(chosen, int(key), len(blocks), summary.get(key, {}), notes)
    return BacktestResult(
        models=models,
        selected=selected,
        why=why,
        selections={str(h): dict(chosen[h].most_common()) for h in horizons},
        leads=leads,
        summary=summary,
        meta={
            "bins": len(grid),
            "start": grid.index[0].isoformat(),
            "end": grid.index[-1].isoformat(),
            "origins": len(origins),
            "refits": len(blocks),
            "threshold": threshold.label,
            "warning_probability": options.probability,
            "training_days": options.forecast.training_days,
            "refit_days": options.refit_days,
            "warmup_days": options.warmup_days,
            "notes": dict(notes.most_common()),
        },
    )


class _SkillRecord:
    """The running skill record of a backtest: verified forecasts, by target position.

    :meth:`table` reads only forecasts whose target lies before the refit (verified by then)
    and within the last ``window`` bins — what the service knows at that moment — through
    :func:`sections.forecast.skill_record`, as the service does.
    """

    def __init__(self, horizons: tuple[int, ...], window: int) -> None:
        self._horizons = np.asarray(horizons, dtype=np.int64)
        self._window = window
        self._rows: list[tuple[str, npt.NDArray[np.int64], FloatArray, FloatArray]] = []

    def add(
        self, name: str, targets: npt.NDArray[np.int64], p: FloatArray, outcome: FloatArray
    ) -> None:
        self._rows.append((name, targets, p, outcome))

    def table(self, upto: int) -> pd.DataFrame | None:
        frames = []
        for name, targets, p, outcome in self._rows:
            known = (targets < upto) & (targets >= upto - self._window)
            if not known.any():
                continue
            horizons = np.broadcast_to(self._horizons, targets.shape)
            frames.append(
                pd.DataFrame(
                    {
                        "candidate": name,
                        "horizon": horizons[known],
                        "p_exceed": p[known],
                        "outcome": outcome[known],
                    }
                )
            )
        if not frames:
            return None
        table = skill_record(pd.concat(frames, ignore_index=True))
        return None if table.isna().all().all() else table


def _empty(origins: pd.DatetimeIndex, horizons: tuple[int, ...]) -> Predictive:
    members = np.full((len(origins), len(horizons), MEMBERS), np.nan)
    return Predictive(origins, horizons, members, np.asarray([""] * len(horizons)))


def _truth(grid: pd.Series, origins: pd.DatetimeIndex, horizons: tuple[int, ...]) -> FloatArray:
    """Observed values at origin + horizon, shape (n_origins, n_horizons); NaN beyond the grid."""
    step = pd.Timedelta(hours=STEP_HOURS)
    positions = np.asarray((origins - grid.index[0]) // step, dtype=np.int64)
    targets = positions[:, None] + (np.asarray(horizons) // STEP_HOURS)[None, :]
    values = grid.to_numpy(dtype=np.float64)
    inside = targets < values.size
    out = np.full(targets.shape, np.nan)
    out[inside] = values[targets[inside]]
    return out


def _persistence_values(
    grid: pd.Series, origins: pd.DatetimeIndex, max_gap_hours: int
) -> FloatArray:
    step = pd.Timedelta(hours=STEP_HOURS)
    positions = np.asarray((origins - grid.index[0]) // step, dtype=np.int64)
    return last_valid(grid.to_numpy(dtype=np.float64), max_gap_hours // STEP_HOURS)[positions]


def score_forecasts(
    forecasts: Mapping[str, Predictive],
    truth: FloatArray,
    *,
    threshold: Threshold,
    persistence_now: FloatArray,
    options: BacktestOptions,
) -> tuple[dict[str, dict[str, dict[str, Any]]], dict[str, dict[str, float]]]:
    """Scores per model and horizon on the rows every model forecast, and lead times.

    ``truth`` has shape (n_origins, n_horizons); ``persistence_now`` is the last valid value at
    each origin (the ``persistence_01`` warning). Rows where a model has no forecast, or the
    truth is missing, are left out for every model so that the comparison is like for like —
    except the ``upstream`` candidate's: it is fitted only where the upstream series leads this
    one, and is scored on the rows it forecast (its Brier skill against persistence's Brier on
    those same rows).
    """
    any_model = next(iter(forecasts.values()))
    horizons = any_model.horizons
    origins = any_model.origins
    probabilities = {name: f.probability(threshold) for name, f in forecasts.items()}
    medians = {name: f.quantile(0.5) for name, f in forecasts.items()}
    persistence_p = _persistence_01(threshold, persistence_now)
    probabilities["persistence_01"] = np.repeat(persistence_p[:, None], len(horizons), axis=1)
    medians["persistence_01"] = np.repeat(persistence_now[:, None], len(horizons), axis=1)
    common = _common_rows(forecasts, truth, persistence_now)
    outcome = threshold.exceeds(truth)
    levels = np.asarray(list(QUANTILES.values()))
    scores: dict[str, dict[str, dict[str, Any]]] = {}
    order = [*(n for n in forecasts if n != "auto"), "persistence_01", "auto"]
    for name in order:
        if name not in probabilities:
            continue
        per_h: dict[str, dict[str, Any]] = {}
        for j, h in enumerate(horizons):
            rows = common[:, j] & np.isfinite(medians[name][:, j])
            y = truth[rows, j]
            p = probabilities[name][rows, j]
            o = outcome[rows, j]
            error = medians[name][rows, j] - y
            entry: dict[str, Any] = {"n": int(rows.sum()), "exceedances": int(o.sum())}
            entry["mae"] = _mean(np.abs(error))
            entry["rmse"] = float(np.sqrt(_mean(error**2)))
            if name == "persistence_01":
                entry["crps"] = entry["mae"]
                entry["pinball"] = float("nan")
                entry["coverage80"] = entry["coverage95"] = float("nan")
            else:
                members = forecasts[name].members[rows, j]
                quantiles = np.stack([forecasts[name].quantile(q)[rows, j] for q in levels], axis=1)
                entry["crps"] = _mean(crps_ensemble(y, members))
                entry["pinball"] = _mean(pinball_loss(y, quantiles, levels))
                entry["coverage80"] = interval_coverage(y, quantiles[:, 1], quantiles[:, 3])
                entry["coverage95"] = interval_coverage(y, quantiles[:, 0], quantiles[:, 4])
            entry["brier"] = brier_score(p, o)
            if name in OPTIONAL_CANDIDATES:  # its skill against persistence on its own rows
                entry["reference_brier"] = brier_score(probabilities["persistence"][rows, j], o)
            hit, false_alarm = warning_scores(p, o, threshold=options.probability)
            entry["hit_rate"], entry["false_alarm_ratio"] = hit, false_alarm
            table = reliability(p, o, bins=options.reliability_bins)
            entry["reliability"] = [
                {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
                for row in table.to_dict(orient="records")
            ]
            per_h[str(h)] = entry
        scores[name] = per_h
    for per_h in scores.values():
        for key, entry in per_h.items():
            reference = entry.pop("reference_brier", scores["persistence"][key]["brier"])
            entry["brier_skill"] = brier_skill(entry["brier"], reference)
    leads: dict[str, dict[str, float]] = {}
    observed = pd.Series(
        np.where(np.isnan(truth[:, 0]), np.nan, outcome[:, 0].astype(np.float64)),
        index=origins + pd.Timedelta(hours=horizons[0]),
    )
    onsets = exceedance_onsets(_regular(observed))
    for name in order:
        if name not in probabilities:
            continue
        table = pd.DataFrame(
            {
                "origin": np.repeat(origins, len(horizons)),
                "target": np.repeat(origins, len(horizons))
                + pd.to_timedelta(np.tile(np.asarray(horizons), len(origins)), unit="h"),
                "probability": probabilities[name].ravel(),
            }
        )
        table = table[np.isfinite(table["probability"])]
        found = lead_times(table, onsets, threshold=options.probability)
        leads[name] = {
            "onsets": len(onsets),
            "caught": int(found.notna().sum()),
            "mean_lead_hours": mean_lead_time(found),
        }
    return scores, leads


def _persistence_01(threshold: Threshold, persistence_now: FloatArray) -> FloatArray:
    """The deterministic warning's probability: 1 if the last valid value exceeds, else 0;
    NaN where there is no last valid value."""
    return np.where(np.isnan(persistence_now), np.nan, threshold.exceeds(persistence_now))


def _common_rows(
    forecasts: Mapping[str, Predictive], truth: FloatArray, persistence_now: FloatArray
) -> BoolArray:
    """Rows (origin × horizon) every model forecast and whose truth is known: the rows scored.

    The ``upstream`` and ``analog`` candidates are fitted only where their input is there (the
    upstream section leads; the library is large enough): each is scored on the rows it
    forecast and does not narrow the others'.
    """
    common = np.isfinite(truth) & np.isfinite(persistence_now)[:, None]
    for name, predictive in forecasts.items():
        if name not in OPTIONAL_CANDIDATES:
            common &= np.isfinite(predictive.members[..., 0])
    return common


def _skill_details(
    forecasts: Mapping[str, Predictive],
    truth: FloatArray,
    persistence_now: FloatArray,
    threshold: Threshold,
    summary: dict[str, dict[str, Any]],
) -> None:
    """Add to ``summary`` how sure ``auto``'s skill against the best baseline is, and where.

    Per horizon, on the rows the scores were computed on:
    ``brier_skill_vs_best_baseline_interval90`` — the 90 % interval of the skill by a block
    bootstrap over the weeks of the forecasts' origins
    (:func:`sections.scoring.brier_skill_interval`); ``coverage80_auto_interval90`` — the same
    for the coverage of ``auto``'s 80 % interval; ``by_origin_state`` — the Brier scores of
    ``auto`` and the best baseline apart for origins whose last value exceeded
    (``exceeding``: will the episode go on?) and the others (``not_exceeding``: will one
    begin?), with their rows and exceeding targets.
    """
    common = _common_rows(forecasts, truth, persistence_now)
    origins = next(iter(forecasts.values())).origins
    weeks = np.asarray((origins - origins[0]) // pd.Timedelta(days=7), dtype=np.float64)
    outcome = np.where(np.isnan(truth), np.nan, threshold.exceeds(truth))
    exceeding_now = threshold.exceeds(persistence_now)
    auto = forecasts["auto"].probability(threshold)
    lower, upper = forecasts["auto"].quantile(0.1), forecasts["auto"].quantile(0.9)
    for j, h in enumerate(forecasts["auto"].horizons):
        entry = summary.get(str(h))
        if entry is None:
            continue
        rows = common[:, j]
        best = entry["best_baseline"]
        if best == "persistence_01":
            reference = _persistence_01(threshold, persistence_now)
        else:
            reference = forecasts[best].probability(threshold)[:, j]
        mine = np.where(rows, auto[:, j], np.nan)
        low, high = brier_skill_interval(mine, reference, outcome[:, j], weeks)
        entry["brier_skill_vs_best_baseline_interval90"] = [low, high]
        observed = np.where(rows, truth[:, j], np.nan)
        entry["coverage80_auto_interval90"] = list(
            coverage_interval(observed, lower[:, j], upper[:, j], weeks)
        )
        states: dict[str, dict[str, Any]] = {}
        for state, selected in (("exceeding", exceeding_now), ("not_exceeding", ~exceeding_now)):
            part = rows & selected
            states[state] = {
                "n": int(part.sum()),
                "exceedances": int(np.nansum(outcome[part, j])),
                "brier_auto": brier_score(auto[part, j], outcome[part, j]),
                "brier_best_baseline": brier_score(reference[part], outcome[part, j]),
            }
        entry["by_origin_state"] = states


def _regular(series: pd.Series) -> pd.Series:
    if series.empty:
        return series
    index = pd.date_range(series.index[0], series.index[-1], freq=f"{STEP_HOURS}h")
    return series[~series.index.duplicated()].reindex(index)


def _mean(values: FloatArray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


def _summary(
    models: Mapping[str, Mapping[str, Mapping[str, Any]]], horizons: Sequence[int]
) -> dict[str, dict[str, Any]]:
    """Per horizon: the best baseline by Brier score and the skill of ``auto`` against it."""
    out: dict[str, dict[str, Any]] = {}
    for h in horizons:
        key = str(h)
        baselines = {
            name: models[name][key]["brier"]
            for name in _BASELINE_NAMES
            if name in models and np.isfinite(models[name][key]["brier"])
        }
        if not baselines or "auto" not in models:
            continue
        best = min(baselines, key=lambda n: baselines[n])
        auto = models["auto"][key]
        out[key] = {
            "best_baseline": best,
            "brier_best_baseline": baselines[best],
            "brier_auto": auto["brier"],
            "brier_skill_vs_best_baseline": brier_skill(auto["brier"], baselines[best]),
            "coverage80_auto": auto["coverage80"],
        }
    return out


def _why(
    chosen: Mapping[int, Counter[str]],
    horizon: int,
    refits: int,
    summary: Mapping[str, Any],
    notes: Counter[str],
) -> str:
    counts = "，".join(f"{name} {n}/{refits} 次" for name, n in chosen[horizon].most_common())
    text = f"{horizon} h 的选择（每次重新拟合只看训练窗口）：{counts}。"
    if summary:
        skill = summary["brier_skill_vs_best_baseline"]
        best = summary["best_baseline"]
        low, high = summary.get("brier_skill_vs_best_baseline_interval90", (np.nan, np.nan))
        interval = f"，90 % 区间 {low:.2f}～{high:.2f}" if np.isfinite(low) else ""
        if np.isfinite(skill) and skill > 0:
            text += f"回测中相对最佳基准 {best} 的 Brier 技巧评分为 {skill:.2f}{interval}。"
        else:
            text += (
                f"回测中未优于最佳基准 {best}（Brier 技巧评分 {skill:.2f}{interval}），"
                "应以基准为准。"
            )
        if np.isfinite(low) and low <= 0.0 <= high:
            text += "该差别在抽样误差之内：本序列不足以说明模型与基准孰优。"
    if notes:
        listed = "；".join(f"{n}（{k} 次）" for n, k in notes.most_common(3))
        text += f"拟合说明（回退与输入）：{listed}。"
    return text
