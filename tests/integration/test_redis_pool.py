"""Issue 11 "pools that wait": when every Redis connection of the web layer's pool is busy, a
request waits for a free one (up to the pool timeout) instead of failing at once with 503
("session store unavailable: Too many connections"). A pool of 4 connections serves 80 concurrent
signed-in requests, every one answered."""
from __future__ import annotations

import asyncio

from storage.repos.users import create_operator_admin
from tests.integration.harness import cheap_hashes  # noqa: F401  (autouse)
from web.context import make_redis
from web.testing import TEST_REDIS_URL, WebClient, web_stack


async def test_a_burst_beyond_the_redis_pool_waits_instead_of_failing(settings, store):
    if store.kind != "embedded":
        return  # the pool under test is Redis's, the same for both stores
    await create_operator_admin(store, "root", "operator-pass-1", "root@pult.test", language="en")
    redis = make_redis(TEST_REDIS_URL, max_connections=4, pool_timeout=10)
    async with web_stack(settings, store, redis=redis) as (_ctx, url):
        async with WebClient(url, timeout=30) as op:
            await op.login("root", "operator-pass-1")
            replies = await asyncio.gather(*(op.get("/api/v1/me") for _ in range(80)))
    statuses = [r.status_code for r in replies]
    assert statuses.count(200) == 80, {s: statuses.count(s) for s in set(statuses)}
    assert all(r.json()["login"] == "root" for r in replies)
