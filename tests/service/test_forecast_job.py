"""The forecast job: issues stored per horizon, idempotent re-runs, flagged values kept out,
verification once targets pass, the skill record, the API and the section page.

Synthetic 4-hourly series (seeded) are stored for one section; each fit costs about a second,
so the tests forecast few series, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, func, insert, select

from sections.forecast import (
    CANDIDATES,
    ENSEMBLE,
    HORIZONS,
    MIN_EVENTS,
    MIN_VERIFIED,
    MODELS,
)
from sections.registry import Registry
from sections.scoring import brier_score, brier_skill
from service.db.models import ForecastCandidate, ForecastIssue, ForecastResult, table_of
from service.db.queries import FORECAST_FRAME_COLUMNS, forecast_skill, latest_forecasts
from service.jobs.forecast import (
    FORECAST_FORMAT,
    SKILL_DAYS,
    ForecastSummary,
    run_forecasts,
    skill_entries,
)
from service.jobs.schedule import FORECAST_MINUTE, HOURLY, JOBS
from service.settings import Settings
from service.time import BEIJING
from tests.conftest import store_rows

SECTION = "xiaofanqiao"  # a river at Class Ⅲ: NH3-N ≤ 1.0 mg/L, DO ≥ 5 mg/L
SHORT, STALE, BROKEN = "hutuo-anping", "hutuo-raoyang", "fuyang-jizhou"
START = dt.datetime(2025, 3, 1, tzinfo=BEIJING)
DAYS = 63
NOW = START + dt.timedelta(days=DAYS)  # the bin after the last value
STEP = dt.timedelta(hours=4)
SHAPES = {"nh3n": (0.5, 0.15, 0.05), "do": (8.0, 1.2, 0.3)}  # level, daily amplitude, noise


def _rows(
    section: str,
    key: str,
    first: dt.datetime,
    bins: int,
    *,
    seed: int = 1,
    values: list[float] | None = None,
    flag: str = "N",
    offset: dt.timedelta = dt.timedelta(0),
) -> list[dict[str, Any]]:
    """4-hourly observations from ``first``: a daily cycle with AR(1) noise, or ``values``."""
    times = [first + i * STEP + offset for i in range(bins)]
    if values is None:
        level, amplitude, noise = SHAPES[key]
        rng = np.random.default_rng(seed)
        drift = np.zeros(bins)
        for i in range(1, bins):
            drift[i] = 0.7 * drift[i - 1] + rng.normal(0.0, noise)
        hours = np.array([t.hour for t in times], dtype=float)
        values = list(np.maximum(level + amplitude * np.sin(2 * np.pi * hours / 24) + drift, 0.02))
    return [
        {"station": f"MN-{section}", "section_id": section, "parameter": key, "observed_at": t,
         "value": float(v), "unit": "mg/L", "station_flag": flag, "qc_flag": None,
         "source": "hj212"}
        for t, v in zip(times, values, strict=True)
    ]  # fmt: skip


def _seed(db: Engine, keys: tuple[str, ...] = ("nh3n",)) -> None:
    for i, key in enumerate(keys):
        store_rows(db, _rows(SECTION, key, START, DAYS * 6, seed=i + 1))


def _count(db: Engine, model: type) -> int:
    with db.connect() as connection:
        return int(
            connection.execute(select(func.count()).select_from(table_of(model))).scalar_one()
        )


def _candidates(db: Engine) -> pd.DataFrame:
    table = table_of(ForecastCandidate)
    with db.connect() as connection:
        rows = connection.execute(select(table)).all()
    frame = pd.DataFrame([r._asdict() for r in rows])
    for name in ("issued_at", "target_at"):
        frame[name] = pd.to_datetime(frame[name], utc=True)
    return frame


def _issues(db: Engine) -> pd.DataFrame:
    table = table_of(ForecastIssue)
    with db.connect() as connection:
        rows = connection.execute(select(table)).all()
    return pd.DataFrame([r._asdict() for r in rows])


# --------------------------------------------------------------------------- the job


def test_forecasts_are_stored_per_horizon_and_a_rerun_changes_nothing(
    db: Engine, registry: Registry, settings: Settings
) -> None:
    _seed(db, ("nh3n", "do"))
    # huge NH3-N values of the last two days, flagged as an analyser fault: they never count
    store_rows(db, _rows(SECTION, "nh3n", NOW - dt.timedelta(days=2), 12, values=[50.0] * 12,
                         flag="D", offset=dt.timedelta(hours=1)))  # fmt: skip
    store_rows(db, _rows(SHORT, "nh3n", NOW - dt.timedelta(days=10), 60, seed=3))
    store_rows(db, _rows(STALE, "nh3n", START, 40 * 6, seed=4))  # ends 23 days before NOW
    store_rows(db, _rows(BROKEN, "nh3n", START, DAYS * 6, values=[-1.0] * DAYS * 6))

    pool = 2 if db.dialect.name == "sqlite" else 1  # the process pool once (its start is slow)
    first = run_forecasts(engine=db, registry=registry, settings=settings, now=NOW, workers=pool)

    assert isinstance(first, ForecastSummary)
    assert first.issued == (f"{SECTION}/do", f"{SECTION}/nh3n")  # registry, then key order
    skipped = {n.section_id: n.reason for n in first.skipped}
    assert set(skipped) == {SHORT, STALE}
    assert "too little valid data" in skipped[SHORT] and "stale" in skipped[STALE]
    assert [n.section_id for n in first.failed] == [BROKEN]
    assert "no horizon could be forecast" in first.failed[0].reason
    assert first.rows == 2 * len(HORIZONS)

    frame = latest_forecasts(db)
    assert list(frame.columns) == list(FORECAST_FRAME_COLUMNS)
    assert set(frame["section_id"]) == {SECTION}
    for key, rows in frame.groupby("parameter"):
        assert rows["horizon_h"].tolist() == list(HORIZONS), key
        assert (rows["issued_at"] == pd.Timestamp(NOW - STEP)).all()  # the last bin with data
        lead = pd.to_timedelta(rows["horizon_h"], unit="h")
        assert (rows["target_at"] == rows["issued_at"] + lead).all()
        ordered = rows[["lo95", "lo80", "median", "hi80", "hi95"]].to_numpy()
        assert (np.diff(ordered, axis=1) >= 0).all(), key
        assert rows["p_exceed"].between(0, 1).all()
        assert (rows["model_version"].str.startswith("qingliu ")
                & rows["model_version"].str.endswith(FORECAST_FORMAT)).all()  # fmt: skip
        assert (rows["data_end"] == rows["issued_at"]).all() and (rows["why"] != "").all()
    nh3n = frame[frame["parameter"] == "nh3n"]
    assert nh3n["threshold_upper"].eq(1.0).all() and nh3n["threshold_lower"].isna().all()
    assert nh3n["median"].max() < 1.0 and nh3n["p_exceed"].max() < 0.2  # the 50s never counted
    do = frame[frame["parameter"] == "do"]
    assert do["threshold_lower"].eq(5.0).all() and do["threshold_upper"].isna().all()

    candidates = _candidates(db)
    assert set(candidates["candidate"]) <= set(CANDIDATES)
    assert {"persistence", "seasonal_naive", "climatology"} <= set(candidates["candidate"])
    assert candidates["p_exceed"].between(0, 1).all() and candidates["outcome"].isna().all()
    per_horizon = candidates.groupby(["parameter", "horizon_h"]).size()
    assert len(per_horizon) == 2 * len(HORIZONS)
    counts = {m: _count(db, m) for m in (ForecastResult, ForecastIssue, ForecastCandidate)}
    assert counts[ForecastIssue] == 2

    again = run_forecasts(engine=db, registry=registry, settings=settings, now=NOW, workers=1,
                          keys=("nh3n",))  # fmt: skip

    assert again.issued == (f"{SECTION}/nh3n",) and again.rows == len(HORIZONS)
    assert {m: _count(db, m) for m in counts} == counts
    rerun = latest_forecasts(db)
    values = ["median", "lo80", "hi80", "lo95", "hi95", "p_exceed"]
    np.testing.assert_allclose(rerun[values].to_numpy(), frame[values].to_numpy(), rtol=1e-9)
    assert (rerun["created_at"] >= frame["created_at"]).all()


def test_verification_fills_outcomes_once_targets_pass_and_skill_rows_appear(
    db: Engine, registry: Registry, settings: Settings
) -> None:
    _seed(db)
    run_forecasts(engine=db, registry=registry, settings=settings, now=NOW, workers=1,
                  keys=("nh3n",))  # fmt: skip
    assert forecast_skill(engine=db, since=START, until=NOW + dt.timedelta(days=10)).empty
    # the next four days: every third bin above the 1.0 mg/L limit
    later = [1.5 if i % 3 == 0 else 0.4 for i in range(4 * 6)]
    store_rows(db, _rows(SECTION, "nh3n", NOW, len(later), values=later))
    now = NOW + dt.timedelta(days=4)

    summary = run_forecasts(engine=db, registry=registry, settings=settings, now=now, workers=1,
                            keys=("nh3n",))  # fmt: skip

    assert summary.verified == len(HORIZONS)  # every horizon of the first issue
    candidates = _candidates(db)
    first = candidates[candidates["issued_at"] == pd.Timestamp(NOW - STEP)]
    assert first["outcome"].notna().all() and first["verified_at"].notna().all()
    observed = {pd.Timestamp(NOW + i * STEP): v for i, v in enumerate(later)}
    expected = [int(observed[t] > 1.0) for t in first["target_at"]]
    assert first["outcome"].astype(int).tolist() == expected
    newest = candidates[candidates["issued_at"] > pd.Timestamp(NOW - STEP)]
    assert not newest.empty and newest["outcome"].isna().all()  # its targets lie ahead

    skill = forecast_skill(engine=db, since=now - dt.timedelta(days=SKILL_DAYS), until=now)
    assert len(skill) == len(first) and (skill["n"] == 1).all()
    for row in skill.itertuples(index=False):
        mine = first[(first["candidate"] == row.candidate) & (first["horizon_h"] == row.horizon_h)]
        assert row.brier == pytest.approx(brier_score(mine["p_exceed"], mine["outcome"]))
        assert row.events == int(mine["outcome"].sum())
    entries = skill_entries(engine=db, now=now, parameters=["nh3n"])
    assert len(entries) == len(skill)
    reference = {e.horizon_h: e.brier for e in entries if e.candidate == "persistence"}
    for entry in entries:
        expected_skill = brier_skill(entry.brier, reference[entry.horizon_h])
        if math.isnan(expected_skill):
            assert entry.brier_skill is None
        else:
            assert entry.brier_skill == pytest.approx(expected_skill)


def test_a_verified_record_in_which_the_models_lose_hands_the_choice_to_persistence(
    db: Engine, registry: Registry, settings: Settings
) -> None:
    """The running skill record decides the selection where it holds enough verified forecasts:
    a model that stops beating persistence is noticed and replaced."""
    _seed(db)
    issues = MIN_VERIFIED + 6
    first = NOW - dt.timedelta(days=20)
    outcomes = [int(k % 3 == 0) for k in range(issues)]  # enough exceedances to count
    assert sum(outcomes) >= MIN_EVENTS
    rows: list[dict[str, Any]] = []
    for k, outcome in enumerate(outcomes):
        issued = first + k * STEP
        chances = {name: 0.5 for name in CANDIDATES}  # the other baselines: no better than chance
        chances |= {name: 1.0 - outcome for name in (*MODELS, ENSEMBLE)}  # always wrong
        chances["persistence"] = float(outcome)  # always right
        for horizon in HORIZONS:
            target = issued + dt.timedelta(hours=horizon)
            rows.extend(
                {"section_id": SECTION, "parameter": "nh3n", "issued_at": issued.astimezone(dt.UTC),
                 "horizon_h": horizon, "candidate": name, "target_at": target.astimezone(dt.UTC),
                 "p_exceed": p, "outcome": outcome, "verified_at": NOW.astimezone(dt.UTC)}
                for name, p in chances.items()
            )  # fmt: skip
    with db.begin() as connection:
        connection.execute(insert(table_of(ForecastCandidate)), rows)

    run_forecasts(engine=db, registry=registry, settings=settings, now=NOW, workers=1,
                  keys=("nh3n",))  # fmt: skip

    frame = latest_forecasts(db)
    assert (frame["model"] == "persistence").all() and (frame["selected"] == "persistence").all()
    assert "已核验预报的 Brier 评分" in frame["why"].iloc[0]


def test_candidates_past_every_skill_record_are_pruned_issues_kept(
    db: Engine, registry: Registry, settings: Settings
) -> None:
    _seed(db)
    run_forecasts(engine=db, registry=registry, settings=settings, now=NOW, workers=1,
                  keys=("nh3n",))  # fmt: skip
    issued = _count(db, ForecastResult)
    assert issued and _count(db, ForecastCandidate)
    # a run long after: the old candidates lie beyond every record (SKILL_DAYS + a week)
    later = NOW + dt.timedelta(days=SKILL_DAYS + 7 + 4)  # the last target: NOW + 72 h
    run_forecasts(engine=db, registry=registry, settings=settings, now=later, workers=1,
                  keys=("nh3n",))  # fmt: skip
    assert _count(db, ForecastCandidate) == 0  # nothing recent to forecast, nothing kept
    assert _count(db, ForecastResult) == issued  # the issued forecasts stay on record


# --------------------------------------------------------------------------- the scheduler


def test_a_section_downstream_of_another_is_forecast_with_what_the_upstream_shows(
    db: Engine, registry: Registry, settings: Settings
) -> None:
    """The registry's ``upstream`` link feeds the upstream section's series to the fit: the
    ``upstream`` candidate is issued for the section below and not for the one above (its own
    upstream section has no data)."""
    upstream_id = registry.section(SECTION).upstream
    assert upstream_id is not None and registry.section(upstream_id).upstream is not None
    bins, lag = DAYS * 6, 8  # the water takes 32 h from the upstream section
    rng = np.random.default_rng(7)
    level = np.full(bins + lag, np.log(0.5)) + rng.normal(0.0, 0.03, bins + lag)
    for start in range(20, bins, 70):  # an episode every 11–12 days
        level[start : start + 12] += 1.0
    above = list(np.exp(level[lag:]))
    below = list(np.exp(level[:bins] + rng.normal(0.0, 0.03, bins)))
    store_rows(db, _rows(upstream_id, "nh3n", START, bins, values=above))
    store_rows(db, _rows(SECTION, "nh3n", START, bins, values=below))

    summary = run_forecasts(engine=db, registry=registry, settings=settings, now=NOW, workers=1,
                            keys=("nh3n",))  # fmt: skip

    assert set(summary.issued) == {f"{upstream_id}/nh3n", f"{SECTION}/nh3n"}
    candidates = _candidates(db)
    by_section = candidates.groupby("section_id")["candidate"].agg(set)
    assert "upstream" in by_section[SECTION]
    assert "upstream" not in by_section[upstream_id]


def test_a_sections_nh3n_forecast_learns_from_the_other_sections(
    db: Engine, registry: Registry, settings: Settings
) -> None:
    """Every section's NH3-N joins the library of the others' ``analog`` candidate; DO, set by
    its own daily cycle, gets none (sections.forecast_analog.ANALOG_KEYS)."""
    spare = [s.id for s in registry.sections if s.id not in {SECTION, SHORT, STALE, BROKEN}]
    other, third = spare[:2]
    for seed, section in enumerate((SECTION, other, third), start=1):  # a library of 1,100 states
        store_rows(db, _rows(section, "nh3n", START, DAYS * 6, seed=seed))
    store_rows(db, _rows(SECTION, "do", START, DAYS * 6, seed=4))

    summary = run_forecasts(engine=db, registry=registry, settings=settings, now=NOW, workers=1,
                            keys=("nh3n", "do"))  # fmt: skip

    assert {f"{SECTION}/nh3n", f"{other}/nh3n", f"{SECTION}/do"} <= set(summary.issued)
    candidates = _candidates(db)
    by_series = candidates.groupby(["section_id", "parameter"])["candidate"].agg(set)
    assert "analog" in by_series[(SECTION, "nh3n")]
    assert "analog" in by_series[(other, "nh3n")]
    assert "analog" not in by_series[(SECTION, "do")]
    issues = _issues(db)
    mine = issues[(issues["section_id"] == SECTION) & (issues["parameter"] == "nh3n")]
    assert "相似情形取自 3 个断面" in str(mine["why"].iloc[-1])


def test_dissolved_oxygen_is_forecast_without_the_upstream_section(
    db: Engine, registry: Registry, settings: Settings
) -> None:
    """DO is set where the water is: even an upstream DO that leads this section's by 32 h
    gives no ``upstream`` candidate (sections.forecast_upstream.CARRIED_DOWNSTREAM)."""
    upstream_id = registry.section(SECTION).upstream
    assert upstream_id is not None
    bins, lag = DAYS * 6, 8
    rng = np.random.default_rng(7)
    level = np.full(bins + lag, 8.0) + rng.normal(0.0, 0.1, bins + lag)
    for start in range(20, bins, 70):
        level[start : start + 12] -= 4.0
    store_rows(db, _rows(upstream_id, "do", START, bins, values=list(level[lag:])))
    store_rows(db, _rows(SECTION, "do", START, bins, values=list(level[:bins])))

    summary = run_forecasts(engine=db, registry=registry, settings=settings, now=NOW, workers=1,
                            keys=("do",))  # fmt: skip

    assert f"{SECTION}/do" in summary.issued
    candidates = _candidates(db)
    assert "upstream" not in set(candidates[candidates["section_id"] == SECTION]["candidate"])
    assert {"sarima", "persistence"} <= set(candidates["candidate"])


def test_the_hourly_job_forecasts_at_ten_past_every_hour_beijing_time() -> None:
    assert HOURLY in JOBS and FORECAST_MINUTE == 10
    schedule = HOURLY.schedule(Settings())
    assert schedule is not None and schedule.kind == "cron"
    after = dt.datetime(2026, 12, 1, 5, 30, tzinfo=BEIJING)
    assert schedule.trigger.get_next_fire_time(None, after) == dt.datetime(
        2026, 12, 1, 6, 10, tzinfo=BEIJING
    )
    assert schedule.grace < dt.timedelta(hours=1) and schedule.grace < schedule.hold
    assert schedule.hold < dt.timedelta(hours=1)


# --------------------------------------------------------------------------- API and page


@pytest.fixture
def forecast_site(db: Engine, registry: Registry, settings: Settings) -> Engine:
    _seed(db)
    run_forecasts(engine=db, registry=registry, settings=settings, now=NOW, workers=1,
                  keys=("nh3n",))  # fmt: skip
    return db


def test_api_answers_the_newest_forecast_of_a_section(
    forecast_site: Engine, client: httpx.Client
) -> None:
    answer = client.get(f"/api/sections/{SECTION}/forecast")
    assert answer.status_code == 200
    body = answer.json()
    assert body["section"] == SECTION and body["name"] == "小范桥" and body["count"] == 1
    (issue,) = body["data"]
    assert issue["parameter"] == "nh3n"
    assert issue["issued_at"] == (NOW - STEP).isoformat()  # Beijing time, with offset
    assert issue["threshold"] == {"lower": None, "upper": 1.0, "label": "> 1"}
    assert issue["selected"] and issue["why"] and issue["model_version"].endswith(FORECAST_FORMAT)
    assert dt.datetime.fromisoformat(issue["data_end"]) == NOW - STEP
    assert [s["horizon_h"] for s in issue["steps"]] == list(HORIZONS)
    step = issue["steps"][5]
    assert set(step) == {"horizon_h", "target_at", "median", "lo80", "hi80", "lo95", "hi95",
                         "p_exceed", "model"}  # fmt: skip
    assert dt.datetime.fromisoformat(step["target_at"]) == NOW - STEP + dt.timedelta(hours=24)
    assert step["lo95"] <= step["lo80"] <= step["median"] <= step["hi80"] <= step["hi95"]

    none_yet = client.get(f"/api/sections/{SHORT}/forecast").json()
    assert none_yet["data"] == [] and none_yet["count"] == 0
    missing = client.get("/api/sections/nowhere/forecast")
    assert missing.status_code == 404
    error = missing.json()
    assert error["ok"] is False and error["status"] == 404 and "nowhere" in error["error"]

    skill = client.get("/api/forecast/skill", params={"section": SECTION, "parameter": "nh3n",
                                                      "until": "2025-05-10T00:00"})  # fmt: skip
    assert skill.status_code == 200
    table = skill.json()
    assert table["data"] == [] and table["count"] == 0  # nothing verified yet
    assert table["window_days"] == SKILL_DAYS and table["min_verified"] == MIN_VERIFIED
    assert table["reference"] == "persistence"
    assert dt.datetime.fromisoformat(table["until"]) == dt.datetime(2025, 5, 10, tzinfo=BEIJING)
    assert client.get("/api/forecast/skill", params={"section": "nowhere"}).status_code == 404
    assert client.get("/api/forecast/skill", params={"parameter": "cod"}).status_code == 422


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the API test reads both
def test_section_page_shows_the_forecast_block_with_its_chart(
    forecast_site: Engine, client: httpx.Client
) -> None:
    page = client.get(f"/sections/{SECTION}")
    assert page.status_code == 200
    html = page.text
    assert "水质预报 Forecast" in html and 'id="forecast-nh3n"' in html
    block = html[html.index('id="forecast-nh3n"') : html.index("<h2>观测数据</h2>")]
    assert "氨氮（mg/L） · 预报" in block and "不是监测值" in html
    svg = block[block.index("<svg") : block.index("</svg>")]
    for mark in ('class="band95"', 'class="band80"', 'class="median"', 'class="limit"',
                 'class="observed"', 'class="origin"', "限值 1"):  # fmt: skip
        assert mark in svg, mark
    assert "<script" not in html.lower()
    for hours in (24, 48, 72):
        assert f'data-horizon="{hours}"' in block
    assert "2025-05-02 20:00（北京时间" in block  # the origin: the last bin with data
    assert "2025-03-08 00:00 至 2025-05-02 20:00" in block  # the 56-day training window
    assert "目标时间均已过去" in block  # shown today, long after these synthetic days

    other = client.get(f"/sections/{SHORT}").text
    assert "水质预报 Forecast" in other and "暂无预报" in other and "<svg" not in other
