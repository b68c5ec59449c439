"""Screenshots of the web pages for the README: ``docs/screenshots/*.png``.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--sections ID,ID,…]

Builds a throwaway SQLite database with the demo's synthetic year (``seed_demo``, seed 2025) for
the whole registry (or ``--sections``), runs QA/QC and the daily classification for December,
the monthly roll-ups for October–December and issues December's compensation statement, opens
three alert episodes, serves the app with uvicorn on loopback, signs in with Debian's headless
Chromium (Playwright) and saves full-page PNGs at desktop width (1280 px) and phone width
(390 px, drawn at 2×), cut at ``--max-height`` (phones ``--phone-max-height``) CSS px and
reduced to a 256-colour palette.

Exits non-zero when a page answers other than 200 or the browser logs a console error or an
uncaught exception. Deterministic data; the pages' own dates (today, alert ages) are the day's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402
from pydantic import SecretStr  # noqa: E402
from sqlalchemy import Engine, select  # noqa: E402

from compensation.statement import MonthlyStatement  # noqa: E402
from sections.alert_rules import AlertLevel, Condition  # noqa: E402
from sections.registry import Registry, load_registry  # noqa: E402
from sections.river_chiefs import load_river_chiefs  # noqa: E402
from service.accounts import add_user  # noqa: E402
from service.alerts.ack_links import AckLinks  # noqa: E402
from service.alerts.episodes import apply_conditions  # noqa: E402
from service.app import create_app  # noqa: E402
from service.appeals.attachments import checked_attachment  # noqa: E402
from service.appeals.lines import appealable_lines  # noqa: E402
from service.appeals.workflow import accept_appeal, file_appeal  # noqa: E402
from service.db.models import AlertEpisode, table_of  # noqa: E402
from service.demo.run import seed_demo  # noqa: E402
from service.demo.synthetic import generate_year  # noqa: E402
from service.feeds.hj212_receiver import Hj212Receiver  # noqa: E402
from service.feeds.simulator import frames_of  # noqa: E402
from service.jobs.daily import day_bounds, run_daily  # noqa: E402
from service.jobs.monthly import run_monthly  # noqa: E402
from service.jobs.quality import run_quality  # noqa: E402
from service.settings import Settings  # noqa: E402
from service.statements.issue import issue_statement  # noqa: E402
from service.statements.monthly import draft_statement  # noqa: E402
from service.time import BEIJING, beijing_today  # noqa: E402
from tests.conftest import CHROMIUM_ARGS, chromium_path, live_server_for  # noqa: E402

YEAR = 2025
MONTH = dt.date(YEAR, 12, 1)
ROLLED_UP = (dt.date(YEAR, 10, 1), dt.date(YEAR, 11, 1), MONTH)
DAY = dt.date(YEAR, 12, 15)
SECTION = "xiaofanqiao"
RECENT_DAYS = 7
BASE_URL = "http://qingliu.example.cn"
USER = "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
ACK_SECTION, ACK_RECIPIENT = "fuyang-jizhou", "fuyang-jizhou-county"

DESKTOP_PAGES = (
    ("overview", "/"),
    ("daily", f"/daily?date={DAY:%Y-%m-%d}"),
    ("section", f"/sections/{SECTION}"),
    ("bulletin", f"/bulletins/{MONTH:%Y-%m}"),
    ("compensation", f"/compensation/{MONTH:%Y-%m}"),
    ("alerts", "/alerts"),
    ("quality", "/quality"),
    ("appeal", "/appeals/1"),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--sections", help="comma-separated section ids (default: all)")
    parser.add_argument("--max-height", type=int, default=2000, help="cut pages here [CSS px]")
    parser.add_argument("--phone-max-height", type=int, default=1400,
                        help="cut phone pages here [CSS px]")  # fmt: skip
    args = parser.parse_args(argv)
    executable = chromium_path()
    if executable is None:
        print("Chromium not installed (Debian package chromium)", file=sys.stderr)
        return 1
    registry = load_registry()
    seeded = registry
    if args.sections:
        ids = [s.strip() for s in args.sections.split(",") if s.strip()]
        for wanted in (SECTION, ACK_SECTION):
            if wanted not in ids:
                ids.append(wanted)
        seeded = Registry(units=registry.units, sections=tuple(registry.section(i) for i in ids))
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="qingliu-screenshots-") as folder:
        secret = secrets.token_urlsafe(32)
        settings = Settings(data_dir=Path(folder) / "data", scheduler=False,
                            secure_cookies=False, alerts_base_url=BASE_URL,
                            alert_link_secret=SecretStr(secret),
                            session_secret=SecretStr(secrets.token_urlsafe(32)))  # fmt: skip
        app = create_app(settings, registry=registry)
        engine: Engine = app.state.engine
        try:
            password = _build(engine, registry, seeded, settings)
            episode = _open_alerts(engine, registry)
            ack = AckLinks(secret, BASE_URL, dt.timedelta(hours=72)).url(episode, ACK_RECIPIENT)
            with live_server_for(app) as url:
                problems = _shoot(executable, url, password, ack.removeprefix(BASE_URL),
                                  args.out, (args.max_height, args.phone_max_height))  # fmt: skip
        finally:
            engine.dispose()
    for problem in problems:
        print("FAILED:", problem, file=sys.stderr)
    return 1 if problems else 0


def _step(text: str, started: float) -> None:
    print(f"[{time.monotonic() - started:6.1f} s] {text}", flush=True)


def _build(engine: Engine, registry: Registry, seeded: Registry, settings: Settings) -> str:
    """Seed the demo year, run the jobs for the months shown, add the user; its password."""
    started = time.monotonic()
    _step(f"seeding {len(seeded.sections)} sections, {YEAR}", started)
    seed_demo(engine=engine, registry=seeded, year=YEAR, show_progress=False,
              data_dir=settings.data_dir)  # fmt: skip
    last = (MONTH + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    _step("QA/QC and daily classes, December", started)
    low, high = day_bounds(MONTH, last)
    run_quality(engine=engine, registry=seeded, start=low, end=high)
    run_daily(engine=engine, registry=seeded, first=MONTH, last=last)
    _step("monthly roll-ups, October–December", started)
    for month in ROLLED_UP:
        run_monthly(engine=engine, registry=seeded, month=month)
    _step("December's compensation statement", started)
    statement = draft_statement(engine=engine, registry=registry, month=MONTH)
    issue_statement(engine=engine, statement=statement, actor="screenshots")
    _step("an appeal against one of its lines, accepted", started)
    _appeal(engine, statement, settings)
    password = secrets.token_urlsafe(16)
    add_user(engine=engine, username=USER, role="admin", password=password)
    _step(f"the last {RECENT_DAYS} days, as the stations' frames up to yesterday", started)
    _recent_days(engine, seeded)
    _step("data ready", started)
    return password


def _appeal(engine: Engine, statement: MonthlyStatement, settings: Settings) -> None:
    """A county's appeal against the first line charged in December, accepted for review."""
    unit, line = next((u.unit, found) for u in statement.units
                      for found in appealable_lines(statement, u.unit))  # fmt: skip
    report = checked_attachment("复测报告.pdf", b"%PDF-1.4\n%%EOF\n")
    appeal = file_appeal(
        engine=engine, month=MONTH, unit=unit, line=line.token, attachments=[report],
        reason="当日自动站试剂过期，比对监测结果达标，见附件报告。", days=settings.appeal_days,
        actor=f"{unit}-county",
    )  # fmt: skip
    accept_appeal(engine=engine, appeal_id=appeal.id, note="调取运维记录与比对报告", actor=USER)


def _recent_days(engine: Engine, seeded: Registry) -> None:
    """The demo year's last days moved to end yesterday (Beijing), sent in as HJ 212 frames,
    checked and classified: the pages that look back from today (data quality, yesterday's
    completeness) then show a working week rather than a year-old silence."""
    yesterday = beijing_today() - dt.timedelta(days=1)
    shift = yesterday - dt.date(YEAR, 12, 31)
    first = yesterday - dt.timedelta(days=RECENT_DAYS - 1)
    since = dt.datetime(YEAR, 12, 31, tzinfo=BEIJING) - dt.timedelta(days=RECENT_DAYS - 1)
    observations = generate_year(seeded, year=YEAR).observations
    observations = observations[observations["observed_at"] >= since].copy()
    observations["observed_at"] = observations["observed_at"] + shift
    frames = (frame for _, frame in frames_of(observations, list(seeded.sections)))
    Hj212Receiver(engine=engine).ingest(frames, peer="screenshots")
    low, high = day_bounds(first, yesterday)
    run_quality(engine=engine, registry=seeded, start=low, end=high)
    run_daily(engine=engine, registry=seeded, first=first, last=yesterday)


def _open_alerts(engine: Engine, registry: Registry) -> int:
    """Open three episodes (red, orange, yellow); the red one's id."""
    now = dt.datetime.now(dt.UTC)
    ago = dt.timedelta(hours=2)
    conditions = [
        Condition(ACK_SECTION, "nh3n", AlertLevel.RED, "inferior_v", "river_chiefs", now - ago,
                  2.31, 1.0, "日均值 2.31 mg/L，劣Ⅴ类（Ⅴ类限值 2.0 mg/L），超过Ⅲ类目标 1.31 倍"),
        Condition(SECTION, "codmn", AlertLevel.ORANGE, "consecutive_days", "river_chiefs",
                  now - 2 * ago, 7.4, 6.0, "高锰酸盐指数日均值 7.4 mg/L，连续 3 天超Ⅲ类限值 6"),
        Condition("hutuo-anping", "tp", AlertLevel.YELLOW, "value_exceeds", "river_chiefs",
                  now - 3 * ago, 0.23, 0.2, "总磷 0.23 mg/L，超Ⅲ类限值 0.2 的 0.15 倍"),
    ]  # fmt: skip
    apply_conditions(engine=engine, chiefs=load_river_chiefs(registry=registry),
                     registry=registry, now=now, conditions=conditions)  # fmt: skip
    episodes = table_of(AlertEpisode)
    with engine.connect() as connection:
        found = connection.execute(
            select(episodes.c.id).where(episodes.c.section_id == ACK_SECTION)
        ).scalar_one()
    return int(found)


def _shoot(executable: str, url: str, password: str, ack_path: str, out: Path,
           heights: tuple[int, int]) -> list[str]:  # fmt: skip
    """Sign in, open every page, save its PNG; the problems met."""
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    desktop_height, phone_height = heights
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            context, page = _signed_in(browser, url, password, DESKTOP, problems)
            for name, path in DESKTOP_PAGES:
                _save(page, url, path, out / f"{name}.png", desktop_height, problems)
            context.close()
            context, page = _signed_in(browser, url, password, PHONE, problems)
            _save(page, url, "/", out / "phone-overview.png", phone_height, problems)
            _save(page, url, ack_path, out / "phone-ack.png", phone_height, problems)
            context.close()
        finally:
            browser.close()
    return problems


def _signed_in(browser: Any, url: str, password: str, viewport: dict[str, int],
               problems: list[str]) -> tuple[Any, Any]:  # fmt: skip
    phone = viewport["width"] < 600
    context = browser.new_context(viewport=viewport, is_mobile=phone, has_touch=phone,
                                  device_scale_factor=2 if phone else 1)  # fmt: skip
    page = context.new_page()
    page.on("console", lambda m: _console(m, page.url, problems))
    page.on("pageerror", lambda e: problems.append(f"{page.url}: uncaught: {e}"))
    answer = page.goto(url + "/login?next=/alerts")
    if answer is None or answer.status != 200:
        raise SystemExit(f"/login answered {answer and answer.status}")
    page.fill("input[name=username]", USER)
    page.fill("input[name=password]", password)
    page.click("#login button[type=submit]")
    page.wait_for_url(url + "/alerts")
    return context, page


def _console(message: Any, at: str, problems: list[str]) -> None:
    """A console error is a problem, except the browser's own request for ``/favicon.ico``."""
    if message.type != "error":
        return
    source = message.location.get("url", "")
    if source.endswith("/favicon.ico"):
        return
    problems.append(f"{at}: console error: {message.text} ({source})")


def _save(page: Any, url: str, path: str, file: Path, max_height: int,
          problems: list[str]) -> None:  # fmt: skip
    answer = page.goto(url + path)
    status = None if answer is None else answer.status
    if status != 200:
        problems.append(f"{path}: HTTP {status}")
        return
    page.wait_for_load_state("networkidle")
    shot = Image.open(io.BytesIO(page.screenshot(full_page=True)))
    scale = shot.width / page.viewport_size["width"]
    if shot.height > max_height * scale:
        shot = shot.crop((0, 0, shot.width, int(max_height * scale)))
    small = shot.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(file, optimize=True)
    print(
        f"  {path} → {file.name} ({shot.width}×{shot.height}, {file.stat().st_size // 1024} KB)",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
