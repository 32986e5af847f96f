"""Liveness, readiness (store, Redis, workers, nodes), metrics and security headers, against a
real Tornado server, real Redis and the embedded store."""
from __future__ import annotations

import httpx

from storage.client import open_store
from web.context import make_redis
from web.testing import free_closed_port, web_stack


class FakeNodes:
    """Test double of esl_control's NodeManager: a fixed snapshot."""

    def __init__(self, nodes):
        self.nodes = nodes

    def snapshot(self):
        return self.nodes


async def _get(url, path, **kw):
    async with httpx.AsyncClient(base_url=url, timeout=10) as c:
        return await c.get(path, **kw)


async def test_healthz_and_security_headers(settings, store):
    async with web_stack(settings, store) as (ctx, url):
        r = await _get(url, "/healthz")
        login = await _get(url, "/login")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    for resp in (r, login):
        csp = resp.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Referrer-Policy"] == "same-origin"


async def test_readyz_reports_every_dependency_and_a_down_node_keeps_it_ready(settings, store):
    nodes = FakeNodes([{"name": "fs1", "host": "127.0.0.1", "port": 8021, "state": "up"},
                       {"name": "fs2", "host": "127.0.0.1", "port": 8022, "state": "down",
                        "error": "Connection refused"}])

    async def jobs_health():
        return {"ok": True, "workers": ["celery@w1"], "queues": {"default": 0}}

    async with web_stack(settings, store, nodes=nodes, jobs_health=jobs_health) as (ctx, url):
        r = await _get(url, "/readyz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ready" and body["failing"] == []
    assert body["checks"]["store"]["ok"] and body["checks"]["store"]["kind"] == "embedded"
    assert body["checks"]["redis"]["ok"]
    assert body["checks"]["workers"] == {"ok": True, "workers": ["celery@w1"], "queues": {"default": 0}}
    states = {n["name"]: (n["state"], n["error"]) for n in body["checks"]["nodes"]}
    assert states == {"fs1": ("up", None), "fs2": ("down", "Connection refused")}


async def test_readyz_is_503_naming_redis_when_redis_is_down(settings, store):
    dead = make_redis(f"redis://127.0.0.1:{free_closed_port()}/0")
    async with web_stack(settings, store, redis=dead) as (ctx, url):
        r = await _get(url, "/readyz")
        health = await _get(url, "/healthz")
        page = await _get(url, "/", headers={"Cookie": "pult_session=whatever"})
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "unready" and body["failing"] == ["redis"]
    assert body["checks"]["redis"]["ok"] is False and "127.0.0.1" in body["checks"]["redis"]["error"]
    assert body["checks"]["store"]["ok"] is True
    assert health.status_code == 200  # liveness does not depend on Redis
    assert page.status_code in (302, 503)  # no crash: a session cookie that cannot be checked


async def test_readyz_is_503_naming_the_store_when_mongodb_does_not_answer(settings, store):
    mongo_settings = settings.model_copy(update={"mongo_url": f"mongodb://127.0.0.1:{free_closed_port()}"})
    dead_store = open_store(mongo_settings)
    try:
        async with web_stack(settings, dead_store, readiness_timeout=0.5) as (ctx, url):
            r = await _get(url, "/readyz")
    finally:
        await dead_store.close()
    assert r.status_code == 503
    body = r.json()
    assert body["failing"] == ["store"] and body["checks"]["store"]["ok"] is False
    assert body["checks"]["store"]["kind"] == "mongodb"
    assert body["checks"]["store"]["error"]


async def test_readyz_is_503_naming_the_workers_when_the_jobs_probe_fails(settings, store):
    """Readiness tells the truth about workers (issue 9 item 2): it used to answer 200 "ready"
    with workers.ok=false while jobs piled up "queued"."""
    async def jobs_health():
        raise ConnectionError("broker unreachable")

    async with web_stack(settings, store, jobs_health=jobs_health) as (ctx, url):
        r = await _get(url, "/readyz")
    assert r.status_code == 503
    assert r.json()["status"] == "unready" and r.json()["failing"] == ["workers"]
    assert r.json()["checks"]["workers"]["ok"] is False
    assert "broker unreachable" in r.json()["checks"]["workers"]["error"]
    assert r.json()["checks"]["nodes"] == {"ok": None, "status": "not configured"}


async def test_metrics_only_for_allowed_addresses(settings, store):
    async with web_stack(settings, store) as (ctx, url):
        await _get(url, "/healthz")
        ok = await _get(url, "/metrics")
    assert ok.status_code == 200
    assert "text/plain" in ok.headers["Content-Type"]
    assert "pult_http_request_seconds" in ok.text
    async with web_stack(settings, store, metrics_allow="10.0.0.0/8") as (ctx, url):
        denied = await _get(url, "/metrics")
    assert denied.status_code == 403
    assert "pult_http_request_seconds" not in denied.text


async def test_readyz_is_503_when_no_worker_is_alive(settings, store):
    async def jobs_health():
        return {"ok": False, "redis": True, "workers": [], "queues": {"documents": 3},
                "error": "no job worker is running (start `pult worker` or the embedded one)"}

    async with web_stack(settings, store, jobs_health=jobs_health) as (ctx, url):
        r = await _get(url, "/readyz")
    assert r.status_code == 503 and r.json()["failing"] == ["workers"]
    assert r.json()["checks"]["workers"]["error"].startswith("no job worker is running")
