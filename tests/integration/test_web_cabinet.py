"""The cabinet and the API over real HTTP: tenant isolation of call history, operator-only
nodes, the dashboard's real figures, and that every registered route guards itself."""
from __future__ import annotations

import html
import re
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone

import pytest

from storage.repos.calls import save_call_record
from storage.repos.users import create_operator_admin, create_tenant_user
from tests.integration.harness import cheap_hashes  # noqa: F401  (autouse)
from web.handlers import BaseHandler
from web.routes import all_routes
from web.testing import WebClient, web_stack


class FakeNodes:
    """Test double of esl_control's NodeManager: reports the states the test sets."""

    def __init__(self):
        self.nodes = [
            {"name": "fs-msk-1", "host": "127.0.0.1", "port": 8021, "state": "up",
             "since": datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc), "reconnects": 0},
            {"name": "fs-msk-2", "host": "127.0.0.2", "port": 8021, "state": "auth_failed",
             "error": "-ERR invalid", "reconnects": 4},
        ]

    def snapshot(self):
        return [dict(n) for n in self.nodes]


@pytest.fixture
async def data(store):
    await create_tenant_user(store, 101, "anna", "tenant-pass-1", language="en")
    await create_tenant_user(store, 202, "boris", "tenant-pass-2", language="en")
    await create_operator_admin(store, "root", "operator-pass-1", "root@example.com", language="en")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    for i in range(30):  # 101: 20 calls, the newest at i=0; 202: 10 calls
        pbx = 202 if i % 3 == 0 else 101
        start = now - timedelta(minutes=5 * i + 1)
        await save_call_record(store.db, {
            "uuid": f"call-{pbx}-{i:02d}", "pbx_id": pbx, "caller": f"+7916{pbx}{i:04d}",
            "callee": "74951234567", "start": start, "end": start + timedelta(seconds=30 + i),
            "billsec": 0 if i % 4 == 1 else 10 + i, "direction": "inbound"})
    return now


@pytest.fixture
async def web(settings, store, data):
    nodes = FakeNodes()
    async with web_stack(settings, store, nodes=nodes) as (ctx, url):
        yield ctx, url, nodes


@asynccontextmanager
async def signed_in(url, login, password):
    async with WebClient(url, headers={"Accept-Language": "en"}) as c:
        await c.login(login, password)
        yield c


async def test_a_tenant_sees_only_its_own_call_history(web):
    ctx, url, _ = web
    async with signed_in(url, "101/anna", "tenant-pass-1") as c:
        page = await c.get("/calls")
        assert page.status_code == 200
        assert "+79161010001" in page.text and "+7916202" not in page.text
        r = await c.get("/api/v1/calls", params={"per_page": 100})
        body = r.json()
        assert r.status_code == 200 and body["total"] == 20 and len(body["items"]) == 20
        assert {it["pbx_id"] for it in body["items"]} == {101}
        # another tenant's record does not exist for anna, by id or by filter
        r = await c.get("/api/v1/calls/call-202-00")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        assert (await c.get("/api/v1/calls", params={"pbx_id": 202})).json()["total"] == 0
        assert (await c.get("/api/v1/calls/call-101-01")).json()["pbx_id"] == 101
    async with signed_in(url, "202/boris", "tenant-pass-2") as c:
        body = (await c.get("/api/v1/calls", params={"per_page": 100})).json()
        assert body["total"] == 10 and {it["pbx_id"] for it in body["items"]} == {202}
        assert "+79161010001" not in (await c.get("/calls")).text


async def test_call_history_is_newest_first_and_paginated(web, data):
    ctx, url, _ = web
    async with signed_in(url, "root", "operator-pass-1") as c:
        p1 = (await c.get("/api/v1/calls", params={"per_page": 12})).json()
        p3 = (await c.get("/api/v1/calls", params={"per_page": 12, "page": 3})).json()
        assert (p1["page"], p1["per_page"], p1["total"]) == (1, 12, 30)
        assert [it["uuid"] for it in p1["items"]][:3] == ["call-202-00", "call-101-01", "call-101-02"]
        assert len(p3["items"]) == 6 and p3["items"][-1]["uuid"] == "call-101-29"
        starts = [it["start"] for it in p1["items"]]
        assert starts == sorted(starts, reverse=True) and starts[0].endswith("+00:00")
        first = p1["items"][0]
        assert first["duration"] == 30 and first["billsec"] == 10
        only_202 = (await c.get("/api/v1/calls", params={"pbx_id": 202, "per_page": 5})).json()
        assert only_202["total"] == 10 and {it["pbx_id"] for it in only_202["items"]} == {202}
        bad = await c.get("/api/v1/calls", params={"per_page": 1000})
        assert bad.status_code == 400 and bad.json()["error"]["fields"] == {"per_page": "The value is too large."}
        page1 = await c.get("/calls")
        assert 'rel="prev"' not in page1.text
        older = html.unescape(re.search(r'href="([^"]+)" rel="next"', page1.text).group(1))
        page2 = await c.get(older)  # «Older»: the records after the last one shown
        assert page2.text.split("<tbody>")[1].split("</tbody>")[0].count("<tr>") == 5  # 30 - 25
        assert 'rel="next"' not in page2.text and 'rel="prev"' in page2.text


async def test_operator_sees_nodes_with_the_states_the_provider_reports(web):
    ctx, url, nodes = web
    async with signed_in(url, "root", "operator-pass-1") as c:
        page = await c.get("/nodes")
        assert page.status_code == 200
        assert "fs-msk-1" in page.text and "Connected" in page.text
        assert "fs-msk-2" in page.text and "Wrong ESL password" in page.text
        assert re.search(r'<script src="/static/js/nodes\.js\?v=\w+" defer>', page.text)
        api = (await c.get("/api/v1/nodes")).json()
        assert api["configured"] is True
        assert [(n["name"], n["state"]) for n in api["items"]] == [("fs-msk-1", "up"), ("fs-msk-2", "auth_failed")]
        assert api["items"][0]["since"] == "2026-11-01T09:00:00+00:00"
        nodes.nodes[1]["state"] = "up"  # the live state changes: the API (polled by the page) follows
        api = (await c.get("/api/v1/nodes")).json()
        assert [n["state"] for n in api["items"]] == ["up", "up"]
        dash = await c.get("/")
        assert "2 / 2" in dash.text and 'href="/nodes"' in dash.text
        js = await c.get("/static/js/nodes.js")
        assert js.status_code == 200 and "fetch(" in js.text


async def test_nodes_are_for_operators_only(web):
    ctx, url, _ = web
    async with signed_in(url, "101/anna", "tenant-pass-1") as c:
        page = await c.get("/nodes")
        assert page.status_code == 403 and "platform operators only" in page.text
        api = await c.get("/api/v1/nodes")
        assert api.status_code == 403 and api.json()["error"]["code"] == "forbidden"
        dash = await c.get("/")
        assert 'href="/nodes"' not in dash.text and 'href="/calls"' in dash.text


async def test_dashboard_shows_the_users_real_figures(web, data):
    ctx, url, _ = web
    async with signed_in(url, "101/anna", "tenant-pass-1") as c:
        dash = await c.get("/")
        assert dash.status_code == 200
        assert "vpbx101.pult.local" in dash.text
        assert "Calls in history" in dash.text
        # the most recent of anna's calls is in "Latest calls", boris's are not
        assert "+79161010001" in dash.text and "+7916202" not in dash.text
        stat = re.search(r"Calls in history</h2>\s*<p class=\"stat-value\">(\d+)</p>", dash.text)
        assert stat and stat.group(1) == "20"


async def test_anonymous_visitors_are_sent_to_login_or_get_401(web):
    ctx, url, _ = web
    async with WebClient(url) as c:
        r = await c.get("/calls?page=2")
        assert r.status_code == 302 and r.headers["location"] == "/login?next=/calls?page=2"
        r = await c.get("/api/v1/calls")
        assert r.status_code == 401 and set(r.json()["error"]) == {"code", "message", "fields"}
        r = await c.get("/api/v1/no-such-thing")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        r = await c.get("/no-such-page")
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")


def _sample_path(info) -> str:
    """The route's path with ids its parameter patterns accept (24-hex object ids, uuids, ...):
    the shared helper of the isolation tests; external routes have no placeholders."""
    from tests.integration.test_isolation import sample_path

    return sample_path(info) if "{" in info.path else info.path


async def test_every_non_public_route_refuses_anonymous_and_every_handler_is_guarded(web):
    ctx, url, _ = web
    routes = all_routes(ctx)
    assert {r.path for r in routes} >= {"/", "/calls", "/nodes", "/api/v1/calls", "/api/v1/nodes",
                                        "/api/v1/me", "/api/v1/session", "/api/v1/sessions"}
    async with WebClient(url) as c:
        token = await c.ensure_xsrf()
        for r in routes:
            assert issubclass(r.handler, BaseHandler), f"{r.path} bypasses the base handler"
            if r.access == "public":
                continue
            for method in r.methods:
                resp = await c.request(method, _sample_path(r), headers={"X-XSRFToken": token},
                                       data={"_xsrf": token} if method != "GET" else None)
                assert resp.status_code in (302, 401), (method, r.path, resp.status_code)
                if resp.status_code == 302:
                    assert resp.headers["location"].startswith("/login")


async def test_a_tenant_gets_403_on_every_operator_route(web):
    ctx, url, _ = web
    async with signed_in(url, "101/anna", "tenant-pass-1") as c:
        token = await c.ensure_xsrf()
        for r in all_routes(ctx):
            if r.access != "operator":
                continue
            for method in r.methods:
                resp = await c.request(method, _sample_path(r), headers={"X-XSRFToken": token})
                assert resp.status_code == 403, (method, r.path)
