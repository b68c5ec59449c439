"""The web app over real HTTP: health, the section API and the pages, on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx
from alembic.script import ScriptDirectory

from sections.registry import Registry
from service.db.engine import migrations_config


def head_revision() -> str:
    head = ScriptDirectory.from_config(migrations_config()).get_current_head()
    assert head is not None
    return head


def test_healthz_reports_the_database_and_schema(client: httpx.Client, settings: object) -> None:
    answer = client.get("/healthz")
    assert answer.status_code == 200
    body = answer.json()
    assert body["ok"] is True
    assert body["revision"] == head_revision()
    assert body["sections"] == 19
    expected = "postgresql" if "postgresql" in str(settings) else "sqlite"
    assert body["database"] == expected


def test_openapi_documents_the_endpoints(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/healthz", "/api/sections", "/api/sections/{section_id}"} <= set(spec["paths"])
    assert client.get("/docs").status_code == 200


def test_sections_api_lists_the_registry(client: httpx.Client, registry: Registry) -> None:
    body = client.get("/api/sections").json()
    assert body["count"] == len(registry)
    assert [s["id"] for s in body["data"]] == [s.id for s in registry.sections]
    lake = client.get("/api/sections/hengshuihu-dahuxin").json()
    assert (lake["name"], lake["water_body"], lake["target_label"]) == ("衡水湖大湖心", "lake", "Ⅲ")


def test_unknown_section_gets_the_json_error_shape(client: httpx.Client) -> None:
    answer = client.get("/api/sections/nowhere")
    assert answer.status_code == 404
    assert answer.json() == {
        "ok": False,
        "error": "未知断面 / unknown section 'nowhere'",
        "status": 404,
        "title": "未找到 / not found",
        "type": "NotFoundError",
        "errors": [],
        "reference": None,
    }


def test_first_page_lists_every_section_in_chinese(
    client: httpx.Client, registry: Registry
) -> None:
    answer = client.get("/")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    html = answer.text
    assert "<title>断面名录 · 清流</title>" in html
    for section in registry.sections:
        assert f'data-section="{section.id}"' in html
        assert section.name in html
    assert html.count("名称未核实 [A]") == sum(not s.confirmed for s in registry.sections)


def test_section_page_renders(client: httpx.Client) -> None:
    answer = client.get("/sections/xiaofanqiao")
    assert answer.status_code == 200
    html = answer.text
    assert "<h1>小范桥</h1>" in html
    assert "2021 年起 Ⅳ类；2025 年起 Ⅲ类" in html
    assert "武强县" in html
    assert "暂无观测数据" in html


def test_unknown_section_page_is_404(client: httpx.Client) -> None:
    answer = client.get("/sections/nowhere")
    assert answer.status_code == 404
    assert "返回首页" in answer.text
