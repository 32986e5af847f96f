"""The API reference page ``/api/v1/docs`` over real HTTP (issue 13): it lists every operation of
the OpenAPI document with its parameters, request body and responses, links every schema it
names, needs no sign-in, and loads nothing from another host (no script, no CDN: only its own
stylesheet from /static/)."""
from __future__ import annotations

from html.parser import HTMLParser

import pytest

from web.openapi import build_openapi
from web.testing import WebClient, web_stack


class Page(HTMLParser):
    """Ids, the text inside each element with an id (articles), links and loaded resources."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.text_of: dict[str, list[str]] = {}
        self.open: list[tuple[str, str | None]] = []
        self.urls: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.tags: set[str] = set()
        self.title = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.add(tag)
        if "id" in attrs:
            self.ids.add(attrs["id"])
            self.text_of[attrs["id"]] = []
        for name in ("href", "src", "action", "srcset", "data", "poster"):
            if attrs.get(name):
                self.urls.append((tag, name, attrs[name]))
        if tag not in ("meta", "link", "br", "img", "input"):
            self.open.append((tag, attrs.get("id")))

    def handle_endtag(self, tag):
        while self.open:
            t, _ = self.open.pop()
            if t == tag:
                break

    def handle_data(self, data):
        for _, ident in self.open:
            if ident is not None:
                self.text_of[ident].append(data)
        if self.open and self.open[-1][0] == "title":
            self.title += data

    def text(self, ident: str) -> str:
        return " ".join("".join(self.text_of[ident]).split())


@pytest.fixture
async def site(settings, store):
    async with web_stack(settings, store) as (ctx, url):
        yield ctx, url


async def test_the_page_lists_every_operation_with_its_parts(site):
    ctx, url = site
    async with WebClient(url, headers={"Accept-Language": "en"}) as c:  # nobody signed in
        r = await c.get("/api/v1/docs")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    page = Page()
    page.feed(r.text)
    doc = build_openapi(server_url=ctx.settings.public_url)
    count = 0
    for path, item in doc["paths"].items():
        for method, op in item.items():
            count += 1
            ident = op["operationId"]
            assert ident in page.ids, f"{method.upper()} {path} is not on the page"
            text = page.text(ident)
            assert f"{method.upper()} {path}" in text, ident
            for p in op.get("parameters", []):
                assert p["name"] in text, (ident, p["name"])
            for status in op["responses"]:
                assert status in text, (ident, status)
            body = (op.get("requestBody") or {}).get("content", {}).get("application/json", {}).get("schema")
            if body and "$ref" in body:
                name = body["$ref"].rsplit("/", 1)[-1]
                assert name in text, (ident, name)
                for field in doc["components"]["schemas"][name].get("properties", {}):
                    assert field in text, (ident, field)
    assert count > 150 and f"Operations: {count}." in r.text
    assert "AccountPaymentsApi_post" in page.ids
    assert "Integration key capability: payments" in page.text("AccountPaymentsApi_post")
    assert "RateLimit-Remaining" in page.text("AccountPaymentsApi_post")
    for name in doc["components"]["schemas"]:
        assert f"schema-{name}" in page.ids, name
    for scheme in doc["components"]["securitySchemes"]:
        assert f"scheme-{scheme}" in page.ids, scheme
    anchors = [v for _, attr, v in page.urls if v.startswith("#")]
    assert anchors and all(a[1:] in page.ids for a in anchors), \
        sorted({a for a in anchors if a[1:] not in page.ids})[:5]


async def test_the_page_loads_nothing_from_another_host(site):
    ctx, url = site
    async with WebClient(url) as c:
        r = await c.get("/api/v1/docs")
        page = Page()
        page.feed(r.text)
        assert "script" not in page.tags and "iframe" not in page.tags
        for tag, attr, value in page.urls:
            assert not value.startswith(("//", "http:", "https:")) and "://" not in value, (tag, attr, value)
        loaded = [v for tag, attr, v in page.urls if tag == "link"]
        assert loaded and all(v.startswith("/static/") for v in loaded)
        for v in loaded:
            assert (await c.get(v)).status_code == 200
        assert "default-src 'self'" in r.headers["Content-Security-Policy"]
        assert "@import" not in (await c.get(loaded[0])).text and "url(" not in (await c.get(loaded[0])).text


async def test_the_page_speaks_the_readers_language(site):
    ctx, url = site
    async with WebClient(url, headers={"Accept-Language": "ru"}) as c:
        r = await c.get("/api/v1/docs")
    page = Page()
    page.feed(r.text)
    assert page.title.startswith("Справочник API")
    assert "Аутентификация и ограничения" in r.text
    assert "Записать платёж на лицевой счёт" in page.text("AccountPaymentsApi_post")
