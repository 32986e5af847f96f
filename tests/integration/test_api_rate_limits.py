"""Rate limits per API key over real HTTP and a real Redis (issue 13): every answer to a key
carries the IETF draft's RateLimit headers; the request over the quota is refused with 429, a
clear JSON error and Retry-After, and changes nothing; another key (of the same PBX, or of
another PBX) keeps its own quota; the quota is kept in Redis, so two Pult servers share it."""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import pytest

from storage.repos.api_keys import ApiKeys
from storage.repos.base import Scope
from storage.repos.tenants import create_account, create_pbx
from tests.integration.harness import cheap_hashes  # noqa: F401  (autouse)
from web.testing import WebClient, web_server, web_stack

A_PBX, B_PBX = 101, 102


async def make_key(db, pbx_id: int, key_id: str, role: str = "administrator") -> str:
    secret = f"pult_{key_id}_" + "s" * 43
    await ApiKeys(db, Scope.pbx(pbx_id)).insert_one({
        "_id": key_id, "name": f"key {key_id}", "role": role, "whitelist": ["*"],
        "secret_hash": hashlib.sha256(secret.encode()).hexdigest(), "revoked_at": None,
        "created_at": datetime.now(timezone.utc), "last_used_at": None, "last_ip": None})
    return secret


@pytest.fixture
async def env(settings, store):
    for name in ("Alpha", "Beta"):  # PBXs 101 and 102
        acc = await create_account(store.db, name, f"{name.lower()}@example.com")
        await create_pbx(store.db, acc["account_id"], name, settings.sip_base_domain)
    keys = {"a1": await make_key(store.db, A_PBX, "aaaaaaaaaaa1"),
            "a2": await make_key(store.db, A_PBX, "aaaaaaaaaaa2"),
            "b": await make_key(store.db, B_PBX, "bbbbbbbbbbbb")}
    limited = settings.model_copy(update={"api_rate_limit": "3/minute"})
    async with web_stack(limited, store) as (ctx, url):
        yield ctx, url, keys


def client(url: str, secret: str, lang: str = "en") -> WebClient:
    return WebClient(url, headers={"Authorization": f"Bearer {secret}", "Accept-Language": lang})


async def test_every_answer_to_a_key_tells_its_quota(env):
    ctx, url, keys = env
    async with client(url, keys["a1"]) as a:
        answers = [await a.get("/api/v1/calls") for _ in range(3)]
    assert [(r.status_code, r.headers["RateLimit-Limit"], r.headers["RateLimit-Policy"],
             r.headers["RateLimit-Remaining"]) for r in answers] == [
        (200, "3", "3;w=60", "2"), (200, "3", "3;w=60", "1"), (200, "3", "3;w=60", "0")]
    resets = [int(r.headers["RateLimit-Reset"]) for r in answers]
    assert all(0 < reset <= 60 for reset in resets), resets
    async with client(url, keys["a2"]) as a2:  # an error answer of a key carries them too
        missing = await a2.get("/api/v1/roles/000000000000000000000000")
    async with WebClient(url) as anonymous:  # no key, no quota headers (the session is not counted)
        unsigned = await anonymous.get("/api/v1/calls")
    assert (missing.status_code, missing.headers["RateLimit-Remaining"]) == (404, "2")
    assert unsigned.status_code == 401 and "RateLimit-Limit" not in unsigned.headers


async def test_over_the_quota_is_429_with_retry_after_and_changes_nothing(env):
    ctx, url, keys = env
    async with client(url, keys["a1"]) as a:
        created = [await a.post("/api/v1/roles", json={"name": f"Sales {i}", "base": "employee"})
                   for i in range(3)]
        r = await a.post("/api/v1/roles", json={"name": "One too many", "base": "employee"})
        read = await a.get("/api/v1/calls")  # reads too, until the window ends
    async with client(url, keys["a1"], lang="ru") as a:
        in_russian = await a.get("/api/v1/calls")
    assert [c.status_code for c in created] == [201, 201, 201], [c.text for c in created]
    assert r.status_code == 429, r.text
    err = r.json()["error"]
    wait = int(r.headers["Retry-After"])
    assert 1 <= wait <= 60
    assert (err["code"], err["message"]) == (
        "rate_limited", f"Too many requests with this API key: at most 3 in 60 s. Try again in {wait} s.")
    assert r.headers["RateLimit-Remaining"] == "0" and r.headers["RateLimit-Limit"] == "3"
    assert r.headers["Content-Type"].startswith("application/json")
    assert read.status_code == 429
    names = sorted(d["name"] for d in await ctx.store.db["roles"].find({"pbx_id": A_PBX}).to_list(None))
    assert names == ["Sales 0", "Sales 1", "Sales 2"]
    assert in_russian.status_code == 429
    assert in_russian.json()["error"]["message"].startswith(
        "Слишком много запросов с этим ключом API: не больше 3 за 60 с.")


async def test_another_key_keeps_its_own_quota(env):
    ctx, url, keys = env
    async with client(url, keys["a1"]) as a:
        spent = [(await a.get("/api/v1/calls")).status_code for _ in range(5)]
    assert spent == [200, 200, 200, 429, 429]
    others = {}
    for other in ("a2", "b"):  # the same PBX's other key, another PBX's key
        async with client(url, keys[other]) as c:
            r = await c.get("/api/v1/calls")
            others[other] = (r.status_code, r.headers.get("RateLimit-Remaining"))
    assert others == {"a2": (200, "2"), "b": (200, "2")}


async def test_the_quota_is_shared_by_pult_servers_through_redis(env):
    ctx, url, keys = env
    async with web_server(ctx) as second_url:  # a second server process's app on the same Redis
        async with client(url, keys["b"]) as first, client(second_url, keys["b"]) as second:
            answers = [await c.get("/api/v1/calls") for c in (first, second, first, second)]
    assert [(r.status_code, r.headers.get("RateLimit-Remaining")) for r in answers] == [
        (200, "2"), (200, "1"), (200, "0"), (429, "0")]


def test_the_limit_setting_is_validated():
    from pult.settings import SettingsError, load_settings

    assert load_settings(api_rate_limit="20/second").api_rate_limit == "20/second"
    with pytest.raises(SettingsError, match=r"PULT_API_RATE_LIMIT='lots'.*not a rate limit: write requests/period"):
        load_settings(api_rate_limit="lots")


async def test_while_redis_is_unreachable_a_key_is_served_uncounted(settings, store):
    """The limit fails open: a key needs no Redis to authenticate, so an outage does not take the
    API down (what needs Redis answers 503 by itself, test_faults)."""
    from web.context import make_redis
    from web.testing import free_closed_port

    acc = await create_account(store.db, "Alpha", "alpha@example.com")
    await create_pbx(store.db, acc["account_id"], "Alpha", settings.sip_base_domain)
    secret = await make_key(store.db, A_PBX, "cccccccccccc")
    down = make_redis(f"redis://127.0.0.1:{free_closed_port()}/0")
    async with web_stack(settings.model_copy(update={"api_rate_limit": "1/minute"}), store, redis=down) as (ctx, url):
        async with client(url, secret) as c:
            answers = [await c.get("/api/v1/calls") for _ in range(2)]  # over the quota of 1, uncounted
    assert [r.status_code for r in answers] == [200, 200], [r.text for r in answers]
    assert not any("RateLimit-Limit" in r.headers for r in answers)
