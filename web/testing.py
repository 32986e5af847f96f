"""Helpers for tests that drive the real web application (used by tests/*/test_web_*.py and by
later issues' tests): a real Tornado server on a free loopback port, a real Redis (a separate
DB and a unique key prefix per test, removed afterwards), and an HTTP client that speaks the
cabinet's CSRF convention.

    async with web_server(ctx) as base_url:
        async with WebClient(base_url) as c:
            await c.login("101/anna", "secret-pass-1")
            r = await c.get("/api/v1/me")
"""
from __future__ import annotations

import os
import re
import uuid
from contextlib import asynccontextmanager
from typing import AsyncIterator

import httpx

from jobs.testing import TEST_REDIS_BASE

TEST_REDIS_URL = os.environ.get("PULT_TEST_REDIS_URL", f"{TEST_REDIS_BASE}/13")


def unique_prefix() -> str:
    return f"pult-test:{uuid.uuid4().hex[:12]}:"


async def drop_prefix(redis, prefix: str) -> None:
    """Delete every key under ``prefix`` (test clean-up)."""
    keys = [k async for k in redis.scan_iter(match=f"{prefix}*", count=500)]
    if keys:
        await redis.delete(*keys)


@asynccontextmanager
async def web_server(ctx) -> AsyncIterator[str]:
    """Serve ``make_app(ctx)`` on 127.0.0.1:<free port>; yields the base URL."""
    import tornado.httpserver
    import tornado.netutil

    from web.app import make_app

    app = make_app(ctx)
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server = tornado.httpserver.HTTPServer(app)
    server.add_sockets(sockets)
    port = sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        await server.close_all_connections()


_XSRF_INPUT = re.compile(r'name="_xsrf" value="([^"]+)"')


class WebClient(httpx.AsyncClient):
    """An httpx client with a cookie jar, plus the cabinet's CSRF handshake."""

    def __init__(self, base_url: str, **kw):
        kw.setdefault("timeout", 10.0)
        kw.setdefault("follow_redirects", False)
        super().__init__(base_url=base_url, **kw)

    def xsrf_cookie(self) -> str | None:
        return self.cookies.get("_xsrf")

    async def ensure_xsrf(self) -> str:
        """The CSRF token (fetching ``GET /api/v1/session`` to get the cookie if needed)."""
        if not self.xsrf_cookie():
            r = await self.get("/api/v1/session")
            r.raise_for_status()
        return self.xsrf_cookie()

    async def post_form(self, url: str, data: dict, **kw) -> httpx.Response:
        """POST a form the way the browser does: with the ``_xsrf`` field."""
        token = await self.ensure_xsrf()
        return await self.post(url, data={**data, "_xsrf": token}, **kw)

    async def api(self, method: str, url: str, json=None, **kw) -> httpx.Response:
        """A JSON API call with the ``X-XSRFToken`` header (as the cabinet's JS sends it)."""
        headers = dict(kw.pop("headers", {}) or {})
        if method.upper() not in ("GET", "HEAD", "OPTIONS"):
            headers["X-XSRFToken"] = await self.ensure_xsrf()
        return await self.request(method, url, json=json, headers=headers, **kw)

    async def login(self, login: str, password: str) -> httpx.Response:
        """Sign in through the API; raises unless it worked."""
        r = await self.api("POST", "/api/v1/session", json={"login": login, "password": password})
        if r.status_code != 200:
            raise AssertionError(f"login {login!r} failed: {r.status_code} {r.text}")
        return r


@asynccontextmanager
async def web_stack(settings, store, **ctx_kw) -> AsyncIterator[tuple]:
    """A context on the test Redis (unique prefix, cleaned up) and a running server.

    Yields ``(ctx, base_url)``. Keyword arguments go to :class:`web.context.AppContext`
    (``nodes=``, ``jobs_health=``, ``login_limits=``, ``redis=`` to point elsewhere, ...).
    """
    from web.context import AppContext, make_redis

    redis = ctx_kw.pop("redis", None) or make_redis(TEST_REDIS_URL)
    prefix = unique_prefix()
    ctx = AppContext(settings=settings, store=store, redis=redis, redis_prefix=prefix, **ctx_kw)
    try:
        async with web_server(ctx) as base_url:
            yield ctx, base_url
    finally:
        try:
            await drop_prefix(redis, prefix)
        except Exception:  # a test that points Redis at a closed port has nothing to clean
            pass
        await redis.aclose()


def free_closed_port() -> int:
    """A loopback port with nothing listening (bound once, then released)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
