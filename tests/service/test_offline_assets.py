"""Offline, always: no page of the site loads anything from another host.

Every GET route of the app is asked for (path values filled in, signed in as an administrator);
each HTML answer, and every stylesheet, script and image it references on this site (and what
those stylesheets reference in turn), is searched for off-site URLs in the places a browser
loads from: attributes (``src``, ``href``, ``srcset``, ``action``…), inline styles, ``url()`` and
``@import`` in CSS, and in scripts ``fetch()``, workers, XHR, ``src``/``href``/``…Url``
assignments and CSS inside strings. Plain mentions in text (GB standard titles, licence
comments, JSON-Schema identifiers) are not loads and are not looked at; the few URLs in a load
position that are not loads either are whitelisted below, each with its reason. The template
sources are searched the same way, so a branch the walk does not render is covered too.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from sections.registry import Registry
from service.accounts import add_user
from service.app import create_app
from service.demo.run import seed_demo
from service.jobs.daily import run_daily
from service.jobs.monthly import run_monthly
from service.settings import Settings
from service.web.static import VENDORED
from service.web.templates import template_dir
from tests.conftest import live_server_for

PASSWORD = "a long test password"
SMALL = ("hutuo-anping", "hengshuihu-dahuxin")
MONTH = dt.date(2025, 3, 1)
FILL = {"section_id": "hutuo-anping", "month": "2025-03", "unit": "anping", "name": "site",
        "episode_id": "1", "token": "not-a-signed-link", "package": "redoc", "appeal_id": "1",
        "attachment_id": "1", "observation_id": "1"}  # fmt: skip
PAGES_THAT_MUST_RENDER = {
    "/", "/daily", "/sections/hutuo-anping", "/bulletins", "/bulletins/2025-03", "/compensation",
    "/compensation/2025-03", "/compensation/2025-03/anping", "/alerts", "/audit", "/login",
    "/docs", "/redoc", "/api/bulletins/2025-03.html",
}  # fmt: skip

NAMESPACES = frozenset({
    "http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink", "http://www.w3.org/1999/xhtml",
    "http://www.w3.org/1998/Math/MathML", "http://www.w3.org/XML/1998/namespace",
})  # fmt: skip
"""XML namespace names: identifiers, never fetched."""

NOT_LOADED = {
    "https://validator.swagger.io/validator": "Swagger UI's default validator badge (an image): "
    "switched off by `validatorUrl: null` in swagger-init.js, checked below",
    "https://redocly.com/redoc/": "ReDoc's sidebar credit, an <a href> followed only on a click",
    "https://github.com/mermade/oas-kit": "metadata ReDoc writes into a Swagger 2.0 document it "
    "converts (x-origin.converter.url), never fetched",
}
"""URLs in a load position of a vendored script that are not loaded, and why."""

_LOAD_ATTRIBUTES = frozenset({"src", "href", "srcset", "action", "formaction", "poster", "data",
                              "background", "xlink:href", "manifest", "ping", "icon"})  # fmt: skip
_ABSOLUTE = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.I)
_CSS_LOADS = re.compile(r"""(?:url\(|@import\s+(?:url\()?)\s*["']?\s*([^"')\s;]+)""", re.I)
_JS_LOADS = re.compile(
    r"""(?:\b(?:src|href|action|srcset|poster)\s*[:=]\s*|\b\w*(?:url|Url|URL)\s*[:=]\s*"""
    r"""|url\(\s*|@import\s+(?:url\(\s*)?|\bfetch\(\s*|\bnew\s+(?:Shared)?Worker\(\s*"""
    r"""|\bimportScripts\(\s*|\.open\(\s*["'][A-Za-z]+["']\s*,\s*"""
    r"""|setAttribute\(\s*["'](?:src|href)["']\s*,\s*|\bnew\s+(?:EventSource|WebSocket)\(\s*)"""
    r"""["'`]?((?:(?:https?|wss?):)?//[^"'`)\s]+)"""
)


def off_site(url: str, *, site: str) -> bool:
    """Whether ``url`` (as written in a page served from ``site``) points to another host."""
    if not _ABSOLUTE.match(url):
        return False  # relative, or data:/blob:/javascript:/mailto: (no host to reach)
    return urlsplit(urljoin(site, url.strip())).netloc != urlsplit(site).netloc


class _Page(HTMLParser):
    """The URLs a page would load or link, its inline CSS and scripts, and other absolute URLs
    in attributes (which must be XML namespaces)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.loads: list[str] = []
        self.assets: list[str] = []  # same-page resources to fetch and search in turn
        self.other: list[str] = []
        self.css: list[str] = []
        self.scripts: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name in _LOAD_ATTRIBUTES:
                urls = [p.split()[0] for p in value.split(",") if p.strip()] if name == "srcset" \
                    else [value]  # fmt: skip
                self.loads += urls
                if (tag in ("script", "img") and name == "src") or (tag, name) == ("link", "href"):
                    self.assets += urls
            elif name == "style":
                self.css.append(value)
            elif _ABSOLUTE.match(value):
                self.other.append(value)
        self._in = tag if tag in ("style", "script") else None

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "style":
            self.css.append(data)
        elif self._in == "script":
            self.scripts.append(data)


def css_loads(css: str) -> list[str]:
    """The URLs a stylesheet loads (``url()``, ``@import``)."""
    return _CSS_LOADS.findall(css)


def js_loads(js: str) -> list[str]:
    """Absolute URLs in a load position of a script."""
    return _JS_LOADS.findall(js)


def problems_in(kind: str, text: str, *, site: str) -> tuple[list[str], list[str]]:
    """Off-site loads in ``text`` (an answer of media ``kind``) and same-site assets it uses."""
    found: list[str] = []
    assets: list[str] = []
    if kind == "html":
        page = _Page()
        page.feed(text)
        found += [u for u in page.loads if off_site(u, site=site)]
        found += [u for u in page.other if u not in NAMESPACES]
        for css in page.css:
            found += [u for u in css_loads(css) if off_site(u, site=site)]
        for script in page.scripts:
            found += [u for u in js_loads(script) if u not in NAMESPACES | set(NOT_LOADED)]
        assets = [u for u in page.assets if not off_site(u, site=site) and _ABSOLUTE.match(u)
                  is None and not u.startswith(("data:", "blob:"))]  # fmt: skip
    elif kind == "css":
        urls = css_loads(text)
        found += [u for u in urls if off_site(u, site=site)]
        assets = [u for u in urls if not _ABSOLUTE.match(u) and not u.startswith(("data:", "#"))]
    elif kind == "js":
        found += [u for u in js_loads(text) if u not in NAMESPACES | set(NOT_LOADED)]
    return found, assets


def _kind(answer: httpx.Response) -> str | None:
    media = answer.headers.get("content-type", "").split(";")[0].strip()
    return {"text/html": "html", "text/css": "css", "text/javascript": "js",
            "application/javascript": "js"}.get(media)  # fmt: skip


def _get_routes(app: FastAPI) -> list[str]:
    found = set()
    for route in app.router.routes:
        for inner in getattr(getattr(route, "original_router", None), "routes", [route]):
            if "GET" in (getattr(inner, "methods", None) or set()):
                found.add(inner.path)
    return sorted(found)


@pytest.fixture
def app(settings: Settings, registry: Registry) -> Iterator[FastAPI]:
    """The app with a seeded year of two sections, classified and rolled up for March 2025 (so
    the bulletin, statement and section pages render their full markup)."""
    small = Registry(units=registry.units, sections=tuple(registry.section(k) for k in SMALL))
    application = create_app(settings.with_(secure_cookies=False))  # the whole registry
    engine = application.state.engine
    seed_demo(engine=engine, registry=small, year=2025, show_progress=False,
              data_dir=settings.data_dir)  # fmt: skip
    run_daily(engine=engine, registry=small, first=MONTH, last=MONTH + dt.timedelta(days=4))
    run_monthly(engine=engine, registry=small, month=MONTH)
    add_user(engine=application.state.engine, username="walker", role="admin", password=PASSWORD)
    yield application
    application.state.engine.dispose()


def _sign_in(http: httpx.Client) -> None:
    page = http.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    signed = http.post("/login", data={"username": "walker", "password": PASSWORD,
                                       "csrf_token": token.group(1), "next": "/"},
                       follow_redirects=False)  # fmt: skip
    assert signed.status_code == 303


def test_no_page_or_asset_loads_from_another_host(app: FastAPI) -> None:
    routes = _get_routes(app)
    assert {"/docs", "/redoc", "/", "/login"} <= set(routes)
    found: dict[str, list[str]] = {}
    rendered: set[str] = set()
    searched: dict[str, str] = {}  # URL → kind
    with live_server_for(app) as site, httpx.Client(base_url=site, timeout=60) as http:
        _sign_in(http)
        queue: list[tuple[str, str | None]] = [(path.format(**FILL), None) for path in routes]
        while queue:
            url, expected_kind = queue.pop()
            if url in searched:
                continue
            answer = http.get(url, follow_redirects=True)  # /bulletins → the newest month…
            assert answer.status_code < 500, f"{url}: {answer.status_code} {answer.text[:200]}"
            kind = _kind(answer)
            searched[url] = kind or "-"
            if expected_kind is not None:
                assert answer.status_code == 200, f"asset {url} referenced but {answer.status_code}"
            if kind is None:
                continue
            if kind == "html" and answer.status_code == 200:
                rendered.add(url)
            problems, assets = problems_in(kind, answer.text, site=site + url)
            if problems:
                found[url] = problems
            for asset in assets:
                target = urlsplit(urljoin(site + url, asset))
                queue.append((target.path + (f"?{target.query}" if target.query else ""), "any"))
        schema = http.get("/openapi.json").json()
    assert found == {}, "off-site loads"
    assert PAGES_THAT_MUST_RENDER - rendered == set(), "pages not rendered"
    for asset in ("/static/site.css", "/static/vendor/swagger-ui/swagger-ui-bundle.js",
                  "/static/vendor/swagger-ui/swagger-ui.css", "/static/swagger-init.js",
                  "/static/vendor/redoc/redoc.standalone.js", "/static/redoc-init.js"):  # fmt: skip
        assert asset in searched, f"{asset} not reached from any page"
    assert _absolute_strings(schema) == [], "the API schema names off-site URLs (logo, servers…)"


def _absolute_strings(value: Any) -> list[str]:
    """String values of a JSON document that are whole absolute URLs."""
    if isinstance(value, dict):
        return [u for v in value.values() for u in _absolute_strings(v)]
    if isinstance(value, list):
        return [u for v in value for u in _absolute_strings(v)]
    return [value] if isinstance(value, str) and re.fullmatch(r"\s*(?:https?:)?//\S+", value) \
        else []  # fmt: skip


def test_the_template_sources_load_nothing_from_another_host() -> None:
    """Branches the walk does not render (other data, other roles) are covered here."""
    root = template_dir()
    found: dict[str, list[str]] = {}
    kinds = {".html": "html", ".css": "css", ".js": "js"}
    for path in sorted(root.rglob("*")):
        kind = kinds.get(path.suffix)
        if kind is None or not path.is_file():
            continue
        problems, _ = problems_in(kind, path.read_text(encoding="utf-8"), site="http://qingliu/")
        if problems:
            found[str(path.relative_to(root))] = problems
    assert found == {}


def test_the_whitelisted_validator_badge_is_switched_off() -> None:
    start = (template_dir() / "static" / "swagger-init.js").read_text(encoding="utf-8")
    assert re.search(r"\bvalidatorUrl:\s*null\b", start)


@pytest.mark.parametrize(
    ("kind", "text", "off"),
    [
        ("html", '<img src="https://cdn.example.org/a.png">', ["https://cdn.example.org/a.png"]),
        ("html", '<link rel="stylesheet" href="//fonts.googleapis.com/css">',
         ["//fonts.googleapis.com/css"]),
        ("html", '<a href="http://www.mee.gov.cn/">GB 3838-2002</a>', ["http://www.mee.gov.cn/"]),
        ("html", '<div style="background: url(https://x.org/b.png)"></div>', ["https://x.org/b.png"]),
        ("html", "<style>@import url('https://fonts.googleapis.com/css2');</style>",
         ["https://fonts.googleapis.com/css2"]),
        ("html", '<svg xmlns="http://www.w3.org/2000/svg"></svg> GB 3838-2002 http://a.org', []),
        ("html", '<a href="/docs">接口</a><img src="data:image/png;base64,AAAA">', []),
        ("css", "@import 'https://fonts.googleapis.com/css2?family=Roboto';",
         ["https://fonts.googleapis.com/css2?family=Roboto"]),
        ("css", 'a{background:url("data:image/svg+xml,<svg xmlns=\'http://www.w3.org/2000/svg\'/>")}',
         []),
        ("js", 'fetch("https://otel.example.com/v1/traces")', ["https://otel.example.com/v1/traces"]),
        ("js", 'e.src="https://cdn.example.com/logo.svg"', ["https://cdn.example.com/logo.svg"]),
        ("js", '{specUrl:"https://petstore.example.com/v2.json"}',
         ["https://petstore.example.com/v2.json"]),
        ("js", "new Worker('https://cdn.example.com/w.js')", ["https://cdn.example.com/w.js"]),
        ("js", '/* see https://github.com/x/y */ const s = "http://json-schema.org/schema"', []),
    ],
)  # fmt: skip
def test_the_search_finds_off_site_loads(kind: str, text: str, off: list[str]) -> None:
    """The searcher itself, on made-up pages: loads found, mentions and namespaces left alone."""
    assert problems_in(kind, text, site="http://127.0.0.1:8000/")[0] == off


def test_the_vendored_files_match_their_readme() -> None:
    """The README names each served vendored file with its size."""
    vendor = template_dir() / "static" / "vendor"
    readme = (vendor / "README.md").read_text(encoding="utf-8")
    for name in VENDORED:
        size = (vendor / name).stat().st_size
        assert f"`{name}` ({size:,} B)".replace(",", " ") in readme, name
        licence = vendor / name.split("/")[0] / "LICENSE"
        assert licence.is_file(), licence
    assert not list(vendor.rglob("*.map")), "no source maps"
