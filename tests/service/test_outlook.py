"""The compensation outlook from the database: glue, cache, API and page."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from sections.dates import month_last_day
from sections.registry import Registry
from service.app import create_app
from service.db.models import ForecastResult, Observation, SectionStatus, utc_now
from service.errors import InputError
from service.outlook import OutlookCache, compensation_outlook, outlook_fingerprint
from service.settings import Settings
from service.time import BEIJING, beijing_today
from tests.conftest import bearer, live_server_for

SECTION = "fuyang-jizhou"  # 冀州区's outflow; NH3-N target Class Ⅲ: 1.0 mg/L
NOW = dt.datetime(2025, 3, 15, 10, 0, tzinfo=BEIJING)
HOURS = (0, 4, 8, 12, 16, 20)


def _at(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), BEIJING).astimezone(dt.UTC)


def _observation(section: str, parameter: str, when: dt.datetime, value: float) -> Observation:
    return Observation(
        station="MN-" + section[:20], section_id=section, parameter=parameter, observed_at=when,
        value=value, unit="mg/L", station_flag="N", source="hj212", received_at=utc_now(),
    )  # fmt: skip


def _add(engine: Engine, rows: list[object]) -> None:
    with Session(engine) as session:
        session.add_all(rows)
        session.commit()


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def _daily_values(engine: Engine, values: dict[dt.date, float], section: str = SECTION) -> None:
    """Six valid 4-hourly NH3-N values a day, each day at its value [mg/L]."""
    _add(engine, [_observation(section, "nh3n", _at(day, h), v)
                  for day, v in values.items() for h in HOURS])  # fmt: skip


def _clean(today: dt.date, level: float = 0.4) -> dict[dt.date, float]:
    """70 days before ``today``, NH3-N wavering a little around ``level``."""
    days = _days(today - dt.timedelta(days=70), today - dt.timedelta(days=1))
    return {d: round(level * (1 + 0.02 * ((i * 7) % 5 - 2)), 3) for i, d in enumerate(days)}


def _forecast_rows(issued: dt.datetime, median: float, hours: int = 72) -> list[object]:
    created = utc_now()
    return [
        ForecastResult(
            section_id=SECTION, parameter="nh3n", issued_at=issued.astimezone(dt.UTC),
            horizon_h=h, target_at=(issued + dt.timedelta(hours=h)).astimezone(dt.UTC),
            median=median, lo80=median * 0.9, hi80=median * 1.1, lo95=median * 0.8,
            hi95=median * 1.2, p_exceed=0.95 if median > 1 else 0.01, threshold_upper=1.0,
            model="sarima", selected="sarima", model_version="test", data_start=created,
            data_end=created, created_at=created,
        )
        for h in range(4, hours + 1, 4)
    ]  # fmt: skip


# --- the glue ---------------------------------------------------------------------------------


def test_without_forecasts_the_outlook_runs_on_history_and_says_so(
    db: Engine, registry: Registry
) -> None:
    _daily_values(db, _clean(NOW.date()))
    found = compensation_outlook(engine=db, registry=registry, month=NOW.date(), now=NOW)
    assert found.month == dt.date(2025, 3, 1) and found.rule_set == "hengshui-2021"
    jizhou = found.unit("jizhou")
    assert jizhou.amount.p_due == 0.0 and jizhou.amount.expected_yuan == Decimal(0)
    (series,) = [s for s in found.basis.series if s.section == SECTION]
    assert (series.known_days, series.forecast_days, series.history_days) == (14, 0, 17)
    assert series.model.startswith("对数 AR(1)") and "60 个日均值" in series.model
    assert found.basis.forecast_issued_at is None
    assert any("没有当前有效的水质预报" in n for n in found.basis.notes)
    assert any("可疑" in a or "超量程" in a for a in found.rule_assumptions)  # validity policy


def test_stored_forecasts_are_used_and_named(db: Engine, registry: Registry) -> None:
    _daily_values(db, _clean(NOW.date()))
    issued = dt.datetime(2025, 3, 15, 8, 0, tzinfo=BEIJING)
    _add(db, _forecast_rows(issued, median=1.6))  # NH3-N 1.6 for three days: an event
    found = compensation_outlook(engine=db, registry=registry, month=NOW.date(), now=NOW)
    assert found.basis.forecast_issued_at == issued
    assert found.basis.forecast_models == ("sarima",)
    (series,) = [s for s in found.basis.series if s.section == SECTION]
    # today (3 observed-free bins after 08:00 → 12, 16, 20), the 16th, 17th and 18th
    assert series.forecast_days == 4
    jizhou = found.unit("jizhou")
    (top,) = jizhou.top_events(dt.date(2025, 3, 20), 1)
    assert (top.section, top.factor) == (SECTION, "nh3n") and top.probability > 0.99
    assert jizhou.amount.high_yuan >= Decimal(300_000)
    assert not any("没有当前有效的水质预报" in n for n in found.basis.notes)


def test_a_stale_forecast_is_not_used(db: Engine, registry: Registry) -> None:
    _daily_values(db, _clean(NOW.date()))
    _add(db, _forecast_rows(dt.datetime(2025, 3, 9, 8, 0, tzinfo=BEIJING), median=1.6))
    found = compensation_outlook(engine=db, registry=registry, month=NOW.date(), now=NOW)
    assert found.basis.forecast_issued_at is None
    assert found.unit("jizhou").amount.p_due == 0.0


def test_todays_observed_bins_join_the_forecast_of_the_day(db: Engine, registry: Registry) -> None:
    values = _clean(NOW.date())
    values[dt.date(2025, 3, 13)] = values[dt.date(2025, 3, 14)] = 1.4
    _daily_values(db, values)
    # 00:00, 04:00, 08:00 today observed far over the limit; 12:00 comes after "now"
    _add(db, [_observation(SECTION, "nh3n", _at(NOW.date(), h), 3.0) for h in (0, 4, 8, 12)])
    # a forecast issued at 04:00 (its 08:00 bin is observed since): low for three days
    _add(db, _forecast_rows(dt.datetime(2025, 3, 15, 4, 0, tzinfo=BEIJING), median=0.5))
    found = compensation_outlook(engine=db, registry=registry, month=NOW.date(), now=NOW)
    (series,) = [s for s in found.basis.series if s.section == SECTION]
    assert series.forecast_days == 3  # 15th (3 observed + 12, 16, 20 forecast), 16th, 17th
    # the 15th: (3 × 3.0 + 3 × 0.5) / 6 > 1.0 completes the run of the 13th and 14th
    (top,) = found.unit("jizhou").top_events(dt.date(2025, 3, 20), 1)
    assert top.probability > 0.99 and not top.certain


def test_measurements_after_now_are_not_known(db: Engine, registry: Registry) -> None:
    values = _clean(NOW.date())
    values.update({d: 1.8 for d in _days(dt.date(2025, 3, 16), dt.date(2025, 3, 20))})
    _daily_values(db, values)  # a replay: the database already holds the days after "now"
    found = compensation_outlook(engine=db, registry=registry, month=NOW.date(), now=NOW)
    assert found.unit("jizhou").amount.p_due == 0.0


def test_an_exempt_month_owes_nothing(db: Engine, registry: Registry) -> None:
    _daily_values(db, _clean(NOW.date(), level=1.6))
    _add(db, [SectionStatus(section_id=SECTION, month=dt.date(2025, 3, 1), status="frozen",
                            note="河道结冰", source="manual")])  # fmt: skip
    found = compensation_outlook(engine=db, registry=registry, month=NOW.date(), now=NOW)
    assert found.unit("jizhou").amount.p_due == 0.0


def test_a_month_already_over_is_refused(db: Engine, registry: Registry) -> None:
    with pytest.raises(InputError, match="已结束"):
        compensation_outlook(engine=db, registry=registry, month=dt.date(2025, 2, 1), now=NOW)


def test_a_future_month_runs_on_history_alone(db: Engine, registry: Registry) -> None:
    _daily_values(db, _clean(NOW.date()))
    found = compensation_outlook(engine=db, registry=registry, month=dt.date(2025, 4, 1), now=NOW)
    (series,) = [s for s in found.basis.series if s.section == SECTION]
    assert (series.known_days, series.history_days) == (0, 32)  # Mar 30, 31 lead in + April


def test_the_cache_keeps_an_outlook_until_the_data_change(db: Engine, registry: Registry) -> None:
    _daily_values(db, _clean(NOW.date()))
    cache = OutlookCache()
    first = cache.get(engine=db, registry=registry, month=NOW.date(), now=NOW)
    assert cache.get(engine=db, registry=registry, month=NOW.date(), now=NOW) is first
    assert cache.computed_at(first) == NOW
    before = outlook_fingerprint(engine=db, month=NOW.date(), now=NOW)
    _add(db, [_observation(SECTION, "nh3n", _at(NOW.date(), 4), 0.4)])
    assert outlook_fingerprint(engine=db, month=NOW.date(), now=NOW) != before
    assert cache.get(engine=db, registry=registry, month=NOW.date(), now=NOW) is not first
    after_data = outlook_fingerprint(engine=db, month=NOW.date(), now=NOW)
    _add(db, _forecast_rows(dt.datetime(2025, 3, 15, 8, 0, tzinfo=BEIJING), median=0.5))
    assert outlook_fingerprint(engine=db, month=NOW.date(), now=NOW) != after_data
    tomorrow = NOW + dt.timedelta(days=1)
    assert outlook_fingerprint(engine=db, month=NOW.date(), now=tomorrow) != before
    # data long before the window do not change it
    old = outlook_fingerprint(engine=db, month=NOW.date(), now=NOW)
    _add(db, [_observation(SECTION, "nh3n", _at(dt.date(2024, 6, 1), 4), 0.4)])
    assert outlook_fingerprint(engine=db, month=NOW.date(), now=NOW) == old


# --- API and page -----------------------------------------------------------------------------


@pytest.fixture
def app_with_data(settings: Settings) -> Iterator[tuple[str, Engine]]:
    """The app on a database with 70 days of clean NH3-N at 冀州区 and a forecast of an
    exceedance for the next three days, served on loopback."""
    app = create_app(settings)
    engine: Engine = app.state.engine
    today = beijing_today()
    _daily_values(engine, _clean(today))
    issued = dt.datetime.combine(today, dt.time(0), BEIJING)
    _add(engine, _forecast_rows(issued, median=1.6, hours=72))
    try:
        with live_server_for(app) as base_url:
            yield base_url, engine
    finally:
        engine.dispose()


def _get(base_url: str, headers: dict[str, str], path: str) -> httpx.Response:
    with httpx.Client(base_url=base_url, timeout=120, headers=headers) as http:
        return http.get(path)


def test_api_outlook_is_a_typed_forecast_record(app_with_data: tuple[str, Engine]) -> None:
    base_url, engine = app_with_data
    month = f"{beijing_today():%Y-%m}"
    answer = _get(base_url, bearer(engine), f"/api/compensation/outlook?month={month}")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["kind"] == "forecast" and body["label"].startswith("预测（非正式结算）")
    assert body["month"] == month and body["rule_set"] == "hengshui-2021"
    assert body["event_days"] == 3
    jizhou = next(u for u in body["units"] if u["unit"] == "jizhou")
    assert set(jizhou["amount"]) == {"expected_yuan", "expected_wan", "low_yuan", "high_yuan",
                                     "low_wan", "high_wan", "p_due", "distribution"}  # fmt: skip
    assert isinstance(jizhou["amount"]["expected_yuan"], str)  # Decimal, exactly
    low, high = (Decimal(jizhou["amount"][k]) for k in ("low_yuan", "high_yuan"))
    assert low <= Decimal(jizhou["amount"]["expected_yuan"]) <= high
    event = jizhou["events"][0]
    assert (event["section"], event["factor"], event["factor_name"]) == (SECTION, "nh3n", "氨氮")
    assert event["section_name"] == "滏阳河冀州区出境"
    assert body["total"] is not None
    assert body["basis"]["scenarios"] == 500 and body["basis"]["assumptions"]
    assert body["basis"]["forecast_models"] == ["sarima"]
    # the default month is the current one; one unit leaves out the city total
    one = _get(base_url, bearer(engine), "/api/compensation/outlook?unit=jizhou").json()
    assert one["month"] == month and [u["unit"] for u in one["units"]] == ["jizhou"]
    assert one["total"] is None


def test_api_outlook_refuses_what_it_cannot_answer(app_with_data: tuple[str, Engine]) -> None:
    base_url, engine = app_with_data
    headers = bearer(engine)
    past = beijing_today().replace(day=1) - dt.timedelta(days=1)
    assert _get(base_url, headers, f"/api/compensation/outlook?month={past:%Y-%m}").status_code \
        == 422  # fmt: skip
    assert _get(base_url, headers, "/api/compensation/outlook?month=2025-13").status_code == 422
    assert _get(base_url, headers, "/api/compensation/outlook?unit=nowhere").status_code == 404


def test_a_county_sees_its_own_outlook_only(app_with_data: tuple[str, Engine]) -> None:
    base_url, engine = app_with_data
    county = bearer(engine, role="county", unit="jizhou", scopes=("read",))
    assert _get(base_url, county, "/api/compensation/outlook?unit=jizhou").status_code == 200
    assert _get(base_url, county, "/api/compensation/outlook?unit=taocheng").status_code == 403
    assert _get(base_url, county, "/api/compensation/outlook").status_code == 403
    assert _get(base_url, {}, "/api/compensation/outlook").status_code == 401


def test_the_month_page_shows_the_outlook_block(app_with_data: tuple[str, Engine]) -> None:
    base_url, engine = app_with_data
    today = beijing_today()
    page = _get(base_url, bearer(engine), f"/compensation/{today:%Y-%m}")
    assert page.status_code == 200, page.text
    html = page.text
    assert 'id="outlook"' in html and "预测（非正式结算）/ forecast, not a statement" in html
    assert "这是预测，不是通报" in html and "滏阳河冀州区出境 氨氮" in html
    assert "全市合计" in html and "预测依据与假设" in html and "[假设]" in html
    assert html.index('id="outlook"') < html.index('class="statement"')
    unit_page = _get(base_url, bearer(engine), f"/compensation/{today:%Y-%m}/jizhou").text
    assert 'data-unit="jizhou"' in unit_page and "全市合计" not in unit_page
    past = today.replace(day=1) - dt.timedelta(days=1)
    past_page = _get(base_url, bearer(engine), f"/compensation/{past:%Y-%m}").text
    assert 'id="outlook"' not in past_page
    assert f'href="/compensation/{today:%Y-%m}#outlook"' in past_page
    assert month_last_day(today) >= today
