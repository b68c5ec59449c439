"""The bulletin's figures (水质月报: 图1 比例, 图2 类别分布, 图3 示意图, 图4 TLI).

From a database: a synthetic 2025 for a river section and a lake point, rolled up for January
and March (February left out, so the share chart has a gap). Without one: the whole registry
with monthly records made here (one section missing its target, one without a class), for the
map's marks and for the PDF checked as paper (the helpers of ``test_official_documents``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path

import pytest
from sqlalchemy import Engine

from sections.classes import WaterClass
from sections.registry import Registry
from service import bulletin_figures
from service.bulletin_figures import (
    MISS_COLOUR,
    NO_CLASS_COLOUR,
    BulletinFigures,
    class_chart,
    month_map,
    share_chart,
    tli_chart,
)
from service.bulletins import (
    LakeParagraph,
    bulletin_context,
    render_bulletin_html,
    render_bulletin_pdf,
)
from service.db import results
from service.demo.run import seed_demo
from service.jobs.monthly import GOOD_SHARE_TARGET, run_monthly, stored_summary
from service.records import LakeSummary, MonthRecord, MonthSummary
from service.settings import Settings
from service.statements.letterhead import Letterhead
from tests.service.test_official_documents import (  # noqa: F401 - poppler: the fixture
    RAW,
    _assert_paper,
    _bulletin,
    _pages_text,
    needs_poppler,
    poppler,
)

SMALL = ("hutuo-anping", "hengshuihu-dahuxin")
ROLLED_UP = (dt.date(2025, 1, 1), dt.date(2025, 3, 1))
MARCH = dt.date(2025, 3, 1)
MARKER = re.compile(
    r'<g class="map-marker" data-section="(?P<section>[^"]+)" data-class="(?P<klass>\d?)" '
    r'data-misses="(?P<misses>true|false)"><title>[^<]*</title>(?P<body>.*?)</g>',
    re.S,
)


@pytest.fixture
def small_registry(registry: Registry) -> Registry:
    return Registry(units=registry.units, sections=tuple(registry.section(k) for k in SMALL))


@pytest.fixture
def rolled_up(db: Engine, small_registry: Registry, settings: Settings) -> Engine:
    """The synthetic 2025 of two sections, rolled up for January and March only."""
    seed_demo(engine=db, registry=small_registry, year=2025, show_progress=False,
              data_dir=settings.data_dir)  # fmt: skip
    for month in ROLLED_UP:
        run_monthly(engine=db, registry=small_registry, month=month)
    return db


def _markers(html: str) -> dict[str, re.Match[str]]:
    found: dict[str, re.Match[str]] = {}
    for match in MARKER.finditer(html):
        assert match["section"] not in found, f"two markers for {match['section']}"
        found[match["section"]] = match
    return found


def _fill(marker: re.Match[str]) -> str:
    dot = re.search(r'<circle class="dot"[^>]* fill="([^"]+)"', marker["body"])
    assert dot, marker.group(0)
    return dot.group(1)


def _bars(html: str, figure: str) -> list[tuple[str, float, float]]:
    """(key, y, height) of each bar of a figure."""
    block = re.search(rf'<figure [^>]*id="{figure}".*?</figure>', html, re.S)
    assert block, f"no figure {figure}"
    return [
        (key, float(y), float(h))
        for key, y, h in re.findall(
            r'<rect class="bar" data-bar="([^"]+)" x="[\d.]+" y="([\d.]+)" width="[\d.]+" '
            r'height="([\d.]+)"',
            block.group(0),
        )
    ]


# --- from the database -------------------------------------------------------------------------


def test_the_map_has_one_marker_per_assessed_section_in_its_monthly_class(
    rolled_up: Engine, small_registry: Registry
) -> None:
    html = render_bulletin_html(bulletin_context(rolled_up, small_registry, MARCH))
    records = results.month_results(engine=rolled_up, month=MARCH)
    markers = _markers(html)
    assert set(markers) == set(SMALL)
    for section_id, marker in markers.items():
        record = records[section_id]
        assert isinstance(record, MonthRecord)
        klass = record.water_class
        assert marker["klass"] == ("" if klass is None else str(klass.value))
        assert _fill(marker) == (NO_CLASS_COLOUR if klass is None else klass.colour)
        assert (marker["misses"] == "true") is (record.meets_target is False)
        assert ('class="miss-ring"' in marker["body"]) is (record.meets_target is False)
    summary = stored_summary(engine=rolled_up, month=MARCH)
    assert summary is not None and summary.lake is not None
    lake = re.search(r'<polygon class="map-lake" data-class="(\d?)"[^>]* fill="([^"]+)"', html)
    assert lake and summary.lake.class_number is not None
    assert lake.groups() == (str(summary.lake.class_number),
                             WaterClass(summary.lake.class_number).colour)  # fmt: skip
    assert "示意图 [A]" in html and "图3　2025年3月各考核断面水质类别示意图" in html


def test_the_share_chart_has_a_bar_per_rolled_up_month_and_the_target_line(
    rolled_up: Engine, small_registry: Registry
) -> None:
    context = bulletin_context(rolled_up, small_registry, MARCH)
    html = render_bulletin_html(context)
    bars = _bars(html, "figure-share")
    assert [key for key, _, _ in bars] == ["2025-01", "2025-03"]  # February: not rolled up
    assert context.figures is not None
    chart = context.figures.share
    assert [g.label for g in chart.gaps] == ["未汇总"] and chart.slots[1].label == "2月"
    span = chart.bottom - chart.top
    for key, y, height in bars:
        summary = stored_summary(engine=rolled_up, month=dt.date.fromisoformat(key + "-01"))
        assert summary is not None and summary.good_share is not None
        assert height == pytest.approx(summary.good_share * span, abs=0.15)
        assert y + height == pytest.approx(chart.bottom, abs=0.15)
        assert f"{summary.good_share:.1%}</text>" in html
    target = re.search(r'<g class="ref-line" data-y="([\d.]+)">.*?>目标 69.2%</text>', html, re.S)
    assert target, "no target line"
    assert float(target.group(1)) == pytest.approx(chart.bottom - GOOD_SHARE_TARGET * span, abs=0.1)
    assert "图1　2025年1–3月全市达到或优于Ⅲ类断面比例（目标 ≥ 69.2%）" in html


def test_the_class_chart_counts_the_sections_of_the_share(
    rolled_up: Engine, small_registry: Registry
) -> None:
    context = bulletin_context(rolled_up, small_registry, MARCH)
    assert context.figures is not None
    counts = {bar.key: int(bar.value_text) for bar in context.figures.classes.bars}
    assert list(counts) == [k.label for k in WaterClass] + ["不参与评价"]
    assert counts["Ⅰ"] + counts["Ⅱ"] + counts["Ⅲ"] == context.good
    assert counts["劣Ⅴ"] == context.worse_than_v
    assert sum(counts.values()) == context.sections
    html = render_bulletin_html(context)
    block = re.search(r'id="figure-classes".*?</figure>', html, re.S)
    assert block, "no class chart"
    fills = dict(re.findall(r'data-bar="([^"]+)" [^>]* fill="([^"]+)"', block.group(0)))
    assert all(fills[k.label] == k.colour for k in WaterClass)


@needs_poppler
def test_the_bulletin_pdf_with_its_figures_is_paper(
    rolled_up: Engine, small_registry: Registry, tmp_path: Path
) -> None:
    path = tmp_path / "bulletin.pdf"
    path.write_bytes(render_bulletin_pdf(bulletin_context(rolled_up, small_registry, MARCH)))
    _assert_paper(path, tmp_path)
    text = re.sub(r"\s+", "", "\n".join(_pages_text(path)))
    for caption in ("图1", "图2", "图3", "图4", "示意图[A]"):
        assert caption in text
    assert RAW.search(text) is None


# --- without a database: the whole registry ----------------------------------------------------


December = tuple[dict[str, MonthRecord], MonthSummary, list[MonthSummary]]


def _december(registry: Registry) -> December:
    """Records of every assessed section (Ⅲ, one Ⅴ missing its target, one without a class)
    and twelve months of summaries with the lake."""
    assessed = [s for s in registry.sections if not s.is_reference]
    records = {
        s.id: MonthRecord(section=s.id, month="2025-12", class_number=3, target_class_number=3,
                          meets_target=True)
        for s in assessed
    }  # fmt: skip
    records[assessed[1].id] = MonthRecord(section=assessed[1].id, month="2025-12",
                                          class_number=5, target_class_number=3,
                                          meets_target=False)  # fmt: skip
    records[assessed[2].id] = MonthRecord(section=assessed[2].id, month="2025-12",
                                          status_text="断流")  # fmt: skip
    counted = [s for s in registry.sections if s.counts_in_share]
    lake = LakeSummary(name="衡水湖", class_number=4, meets_target=False, tli=52.3,
                       trophic_state="轻度富营养")  # fmt: skip
    summaries = [
        MonthSummary(month=f"2025-{m:02d}", sections=len(counted), assessable=len(counted) - 1,
                     good=len(counted) - 3, good_share=(len(counted) - 3) / (len(counted) - 1),
                     target_share=GOOD_SHARE_TARGET, worse_than_v=0, lake=lake)
        for m in range(1, 13)
    ]  # fmt: skip
    return records, summaries[-1], summaries


def test_map_marks_the_miss_and_the_section_without_a_class(registry: Registry) -> None:
    records, summary, _ = _december(registry)
    figure = month_map(registry, records, summary=summary)
    assessed = [s for s in registry.sections if not s.is_reference]
    assert [m.section for m in figure.markers] == [s.id for s in assessed]
    assert [m.number for m in figure.markers] == list(range(1, len(assessed) + 1))
    missed = [m for m in figure.markers if m.misses_target]
    assert [m.section for m in missed] == [assessed[1].id] and figure.missed == 1
    assert missed[0].fill == WaterClass.V.colour
    empty = figure.markers[2]
    assert empty.klass is None and empty.fill == NO_CLASS_COLOUR and "断流" in empty.title
    assert figure.lake is not None and figure.lake.fill == WaterClass.IV.colour
    assert figure.lake.misses_target and figure.lake.text == "衡水湖 Ⅳ类"
    legend = {key.text: key.count for key in figure.legend}
    assert legend["Ⅲ类"] == len(assessed) - 2 and legend["Ⅴ类"] == 1 and legend["无类别"] == 1
    for marker in figure.markers:  # inside the drawing
        assert 0 < marker.x < figure.width and 0 < marker.y < figure.height

    html = render_bulletin_html(
        dataclasses.replace(_bulletin(registry, Letterhead()), figures=_figures(registry))
    )
    rings = [m for m in _markers(html).values() if 'class="miss-ring"' in m["body"]]
    assert [m["section"] for m in rings] == [assessed[1].id]
    assert f'stroke="{MISS_COLOUR}"' in rings[0]["body"]


def test_share_chart_of_a_month_without_assessable_sections() -> None:
    empty = MonthSummary(month="2025-02", sections=3, assessable=0, good=0, good_share=None,
                         target_share=GOOD_SHARE_TARGET, worse_than_v=0)  # fmt: skip
    chart = share_chart([empty], month=dt.date(2025, 2, 1))
    assert chart.bars == ()
    assert [(g.label) for g in chart.gaps] == ["未汇总", "无可评价"]
    assert [line.label for line in chart.lines] == ["目标 69.2%"]


def _figures(registry: Registry) -> BulletinFigures:
    records, summary, summaries = _december(registry)
    december = dt.date(2025, 12, 1)
    return BulletinFigures(
        share=share_chart(summaries, month=december, number=1),
        classes=class_chart(registry, records, summary=summary, number=2),
        map=month_map(registry, records, summary=summary, number=3),
        tli=tli_chart(summaries, month=december, number=4),
    )


def test_tli_chart_has_the_grade_bounds(registry: Registry) -> None:
    chart = _figures(registry).tli
    assert chart is not None
    assert [bar.value_text for bar in chart.bars] == ["52.3"] * 12
    assert [line.label.split()[0] for line in chart.lines] == ["30", "50", "60", "70"]


@needs_poppler
def test_a_full_year_bulletin_of_the_whole_registry_is_paper(
    registry: Registry, tmp_path: Path
) -> None:
    import weasyprint

    lake = LakeParagraph(
        name="衡水湖", points=("衡水湖大湖心",), klass=WaterClass.IV, target=WaterClass.III,
        meets_target=False, tn_class=WaterClass.V, tli=52.3, tli_text="52.3",
        trophic_state="轻度富营养", main_pollutants=("总磷",), values=(("总磷", "0.060", "mg/L"),),
    )  # fmt: skip
    context = dataclasses.replace(
        _bulletin(registry, Letterhead()), figures=_figures(registry), lake=lake
    )
    page = render_bulletin_html(context)
    assert len(_bars(page, "figure-share")) == 12 and len(_markers(page)) == len(context.rows)
    path = tmp_path / "bulletin.pdf"
    path.write_bytes(weasyprint.HTML(string=page).write_pdf())
    assert _assert_paper(path, tmp_path) <= 4
    text = re.sub(r"\s+", "", "\n".join(_pages_text(path)))
    assert "图4" in text and "12月" in text


FIGURE_DATACLASSES = [
    obj
    for obj in vars(bulletin_figures).values()
    if isinstance(obj, type)
    and dataclasses.is_dataclass(obj)
    and obj.__module__ == bulletin_figures.__name__
    and not obj.__name__.startswith("_")
]


@pytest.mark.parametrize("context", FIGURE_DATACLASSES, ids=lambda c: c.__name__)
def test_figure_context_fields_have_help(context: type) -> None:
    for field in dataclasses.fields(context):
        assert field.metadata.get("help"), f"{context.__name__}.{field.name} has no help"


def test_a_month_rolled_up_before_it_ended_is_a_provisional_bulletin(
    rolled_up: Engine, small_registry: Registry
) -> None:
    from sqlalchemy import update

    from service.db.models import MonthlySummary, table_of

    finished = bulletin_context(rolled_up, small_registry, MARCH)
    assert "暂定" not in finished.title
    mid_month = dt.datetime(2025, 3, 20, 7, 0, tzinfo=dt.UTC)  # 15:00 Beijing on 20 March
    summaries = table_of(MonthlySummary)
    with rolled_up.begin() as connection:
        connection.execute(
            update(summaries).where(summaries.c.month == MARCH).values(computed_at=mid_month)
        )
    provisional = bulletin_context(rolled_up, small_registry, MARCH)
    assert provisional.title.endswith("地表水环境质量月报（截至 3月20日，暂定）")
