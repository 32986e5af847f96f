"""Operator integration keys over real HTTP (PRODUCT.md §10, issue 9 item 3): an operator makes a
key in the console or its API, scoped to named capabilities; with ``payments`` it records a
payment to any account over ``POST /api/v1/accounts/{id}/payments`` and can do nothing else; it
works only from its addresses, is rate-limited, audited as "API", and dies when revoked. A
tenant's key and a tenant's users still get 403 there, and cannot touch integration keys."""
from __future__ import annotations

from contextlib import asynccontextmanager

import pytest

from jobs.billing import ledger
from storage.repos.api_keys import ApiKeys
from storage.repos.audit import AuditLog
from storage.repos.base import Scope
from storage.repos.integration_keys import IntegrationKeys
from storage.repos.tenants import create_account, create_pbx
from storage.repos.users import create_operator_admin, create_tenant_user
from tests.integration.harness import cheap_hashes  # noqa: F401  (autouse)
from web.enforce import hash_secret
from web.testing import WebClient, web_stack

KEYS = "/api/v1/operator/integration-keys"


@pytest.fixture
async def env(settings, store):
    db = store.db
    a = await create_account(db, "Alpha", "alpha@example.com")
    b = await create_account(db, "Beta", "beta@example.com")
    pa = await create_pbx(db, a["account_id"], "Alpha", settings.sip_base_domain)
    await create_tenant_user(store, pa["pbx_id"], "boss", "tenant-pass-1", role="administrator", language="en")
    await create_operator_admin(store, "root", "operator-pass-1", "root@example.com", language="en")
    async with web_stack(settings, store) as (ctx, url):
        yield {"db": db, "url": url, "a": a["account_id"], "b": b["account_id"], "pa": pa["pbx_id"]}


@asynccontextmanager
async def signed_in(url, login, password, lang="en"):
    async with WebClient(url, headers={"Accept-Language": lang}) as c:
        await c.login(login, password)
        yield c


def bearer(url: str, secret: str, lang: str = "en") -> WebClient:
    return WebClient(url, headers={"Authorization": f"Bearer {secret}", "Accept-Language": lang})


async def test_an_integration_key_records_payments_to_any_account_and_nothing_else(env):
    url, db = env["url"], env["db"]
    async with signed_in(url, "root", "operator-pass-1") as op:
        r = await op.api("POST", KEYS, json={"name": "Bank import", "capabilities": ["payments"],
                                            "whitelist": ["127.0.0.1"]})
        assert r.status_code == 201, r.text
        created = r.json()
        secret, key_id = created["secret"], created["id"]
        assert secret.startswith(f"pult_int_{key_id}_") and created["capabilities"] == ["payments"]
        assert created["active"] and created["created_by"] == "root"
        assert "secret" not in (await op.get(f"{KEYS}/{key_id}")).json()  # shown once
    stored = await IntegrationKeys(db, Scope.platform()).find_one({"_id": key_id})
    assert stored["secret_hash"] == hash_secret(secret) and secret not in str(stored)

    before_a = (await ledger.get_balance(db, env["a"]))["balance"]
    async with bearer(url, secret) as key:
        r = await key.post(f"/api/v1/accounts/{env['a']}/payments", json={"amount": "1500", "key": "stmt-1"})
        assert r.status_code == 201, r.text
        assert r.json()["amount"] == 150000 and r.json()["duplicate"] is False
        assert r.headers["RateLimit-Limit"] == "600"  # an integration key is rate-limited like any key
        again = await key.post(f"/api/v1/accounts/{env['a']}/payments", json={"amount": "1500", "key": "stmt-1"})
        assert again.status_code == 200 and again.json()["duplicate"] is True  # idempotent on the key
        r = await key.post(f"/api/v1/accounts/{env['b']}/payments", json={"amount": "20,50"})
        assert r.status_code == 201 and r.json()["amount"] == 2050  # any account of the platform
        bad = await key.post(f"/api/v1/accounts/{env['a']}/payments", json={"amount": "-3"})
        assert bad.status_code == 422 and bad.json()["error"]["fields"] == {
            "amount": "The amount must be greater than zero."}
        assert (await key.post("/api/v1/accounts/999999/payments", json={"amount": "1"})).status_code == 404
        # nothing else is open to it: reads of the same account, tenant routes, the operator's API
        for method, path in (("GET", f"/api/v1/finance/balance?account_id={env['a']}"),
                             ("GET", f"/api/v1/finance/payments?account_id={env['a']}"),
                             ("GET", "/api/v1/calls"), ("GET", "/api/v1/me/rights"),
                             ("GET", "/api/v1/api-keys"), ("GET", "/api/v1/operator/accounts"),
                             ("GET", KEYS), ("POST", KEYS)):
            r = await key.request(method, path, json={"name": "x", "capabilities": ["payments"],
                                                       "whitelist": ["*"]} if method == "POST" else None)
            assert r.status_code == 403, (method, path, r.status_code, r.text)
        r = await key.get("/api/v1/calls")
        assert r.json()["error"]["message"] == "This integration key may not make this request."
    assert (await ledger.get_balance(db, env["a"]))["balance"] == before_a + 150000
    assert await db["integration_keys"].count_documents({}) == 1
    log = await AuditLog(db, Scope.account(env["a"])).find({"operation": "payment"})
    assert [(e["actor"]["kind"], e["actor"]["login"], e["actor"]["name"]) for e in log] == \
        [("api", f"integration:{key_id}", "Bank import")]
    assert log[0]["after"]["source"] == "api"
    entries = await ledger.list_entries(db, env["a"], kinds=("payment",))
    assert [(e["amount"], (e.get("meta") or {}).get("source")) for e in entries] == [(150000, "api")]

    async with signed_in(url, "root", "operator-pass-1") as op:
        r = await op.api("DELETE", f"{KEYS}/{key_id}")
        assert r.status_code == 200 and r.json()["active"] is False
        listed = (await op.get(KEYS)).json()
        assert listed["total"] == 1 and listed["items"][0]["last_ip"] == "127.0.0.1"
        assert listed["items"][0]["last_used_at"] is not None
    async with bearer(url, secret) as key:
        r = await key.post(f"/api/v1/accounts/{env['a']}/payments", json={"amount": "1"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    ops = await AuditLog(db, Scope.platform()).find({"section": "integrations"})
    assert sorted(e["operation"] for e in ops) == ["create", "revoke"]


async def test_outside_its_addresses_or_capabilities_a_key_records_nothing(env):
    url, db = env["url"], env["db"]
    repo = IntegrationKeys(db, Scope.platform())
    for key_id, caps, whitelist in (("aaaaaaaaaaa1", ["payments"], ["10.1.2.3"]), ("aaaaaaaaaaa2", [], ["*"])):
        await repo.insert_one({"_id": key_id, "name": key_id, "capabilities": caps, "whitelist": whitelist,
                               "secret_hash": hash_secret(f"pult_int_{key_id}_" + "s" * 43), "revoked_at": None})
    async with bearer(url, "pult_int_aaaaaaaaaaa1_" + "s" * 43) as far:
        r = await far.post(f"/api/v1/accounts/{env['a']}/payments", json={"amount": "100"})
        assert r.status_code == 403 and r.json()["error"]["code"] == "ip_not_allowed"
    async with bearer(url, "pult_int_aaaaaaaaaaa2_" + "s" * 43) as powerless:
        r = await powerless.post(f"/api/v1/accounts/{env['a']}/payments", json={"amount": "100"})
        assert r.status_code == 403 and r.json()["error"]["message"] == \
            "This integration key may not make this request."
    async with bearer(url, "pult_int_aaaaaaaaaaa2_" + "x" * 43) as wrong:
        assert (await wrong.post(f"/api/v1/accounts/{env['a']}/payments", json={"amount": "1"})).status_code == 401
    assert (await ledger.get_balance(db, env["a"]))["balance"] == 0


async def test_tenants_still_cannot_credit_themselves_nor_touch_integration_keys(env):
    url, db = env["url"], env["db"]
    secret = "pult_abcdef123456_" + "s" * 43
    await ApiKeys(db, Scope.pbx(env["pa"])).insert_one({
        "_id": "abcdef123456", "name": "1C", "role": "administrator", "whitelist": ["*"],
        "secret_hash": hash_secret(secret), "revoked_at": None})
    async with bearer(url, secret, lang="ru") as key:
        r = await key.post(f"/api/v1/accounts/{env['a']}/payments", json={"amount": "5000"})
        assert r.status_code == 403 and r.json()["error"]["message"] == "Платежи записывает оператор платформы."
        assert (await key.get(KEYS)).status_code == 403
        assert (await key.post(KEYS, json={"name": "x", "capabilities": ["payments"],
                                           "whitelist": ["*"]})).status_code == 403
    async with signed_in(url, f"{env['pa']}/boss", "tenant-pass-1") as boss:
        assert (await boss.api("POST", f"/api/v1/accounts/{env['a']}/payments",
                               json={"amount": "5000"})).status_code == 403
        assert (await boss.api("POST", KEYS, json={"name": "x", "capabilities": ["payments"],
                                                   "whitelist": ["*"]})).status_code == 403
        assert (await boss.get("/operator/integration-keys")).status_code == 403
    assert (await ledger.get_balance(db, env["a"]))["balance"] == 0
    assert await db["integration_keys"].count_documents({}) == 0


async def test_bad_input_is_refused_with_specific_messages_and_saves_nothing(env):
    url, db = env["url"], env["db"]
    async with signed_in(url, "root", "operator-pass-1") as op:
        cases = [({"name": "  ", "capabilities": ["payments"], "whitelist": ["*"]},
                  {"name": "This field is too short."}),
                 ({"name": "X", "capabilities": ["refunds"], "whitelist": ["*"]},
                  {"capabilities.0": "This value is not supported."}),
                 ({"name": "X", "capabilities": ["payments"], "whitelist": ["10.0.0.300"]},
                  {"whitelist.0": "Each part must be a number from 0 to 255, a range like 16-32, or *."}),
                 ({"name": "X", "capabilities": ["payments"], "whitelist": ["*"], "admin": True},
                  {"admin": "Unknown field."})]
        for body, fields in cases:
            r = await op.api("POST", KEYS, json=body)
            assert r.status_code == 422, (body, r.text)
            assert r.json()["error"]["fields"] == fields, body
        assert (await op.get(f"{KEYS}/0123456789ab")).status_code == 404
        assert (await op.api("DELETE", f"{KEYS}/0123456789ab")).status_code == 404
    assert await db["integration_keys"].count_documents({}) == 0
    assert await db["audit_log"].count_documents({"section": "integrations"}) == 0


async def test_the_console_page_creates_shows_the_secret_once_and_revokes(env):
    url, db = env["url"], env["db"]
    async with signed_in(url, "root", "operator-pass-1") as op:
        assert (await op.api("PATCH", "/api/v1/me", json={"language": "ru"})).status_code == 200
        page = await op.get("/operator/integration-keys")
        assert page.status_code == 200 and "Ключей интеграций пока нет." in page.text
        assert '<a href="/api/v1/docs" id="api-reference">Справочник API</a>' in page.text
        r = await op.post_form("/operator/integration-keys", {"name": "", "whitelist": "10.0.0.300"})
        assert r.status_code == 422
        assert r.text.count('class="field-error"') == 1 and "Обязательное поле." in r.text
        r = await op.post_form("/operator/integration-keys", {"name": "Банк", "whitelist": "*"})
        assert r.status_code == 422 and "Выберите, что может ключ." in r.text
        r = await op.post_form("/operator/integration-keys", {"name": "Банк", "capabilities": "payments",
                                                              "whitelist": "127.0.0.1\n10.0.0.300"})
        assert r.status_code == 422 and "10.0.0.300: Каждая часть" in r.text and 'value="Банк"' in r.text
        assert await db["integration_keys"].count_documents({}) == 0
        r = await op.post_form("/operator/integration-keys", {"name": "Банк", "capabilities": "payments",
                                                              "whitelist": "127.0.0.1\n10.0.0.*"})
        assert r.status_code == 201, r.text
        doc = await db["integration_keys"].find_one({})
        assert doc["name"] == "Банк" and doc["whitelist"] == ["127.0.0.1", "10.0.0.*"]
        secret = next(part for part in r.text.split('"') if part.startswith(f"pult_int_{doc['_id']}_"))
        assert hash_secret(secret) == doc["secret_hash"]
        assert 'id="copy-secret"' in r.text and "access/access.js" in r.text  # a Copy button that works, as for API keys
        again = await op.get("/operator/integration-keys")
        assert secret not in again.text and f"pult_int_{doc['_id']}_…" in again.text
        assert "Записывать платежи на любой лицевой счёт" in again.text
        r = await op.post_form(f"/operator/integration-keys/{doc['_id']}/revoke", {})
        assert r.status_code == 302 and r.headers["Location"] == "/operator/integration-keys?done=revoked"
    assert (await db["integration_keys"].find_one({}))["revoked_at"] is not None
    async with bearer(url, secret) as key:
        assert (await key.post(f"/api/v1/accounts/{env['a']}/payments", json={"amount": "1"})).status_code == 401


async def test_every_api_method_but_the_payments_refuses_an_integration_key(env):
    """Driven from the route table: a new endpoint is closed to integration keys unless it names a
    capability (``web.enforce.integration``)."""
    from tests.integration.test_isolation import sample_path
    from web.routes import all_routes

    url, db = env["url"], env["db"]
    secret = "pult_int_0123456789ab_" + "s" * 43
    await IntegrationKeys(db, Scope.platform()).insert_one({
        "_id": "0123456789ab", "name": "All", "capabilities": ["payments"], "whitelist": ["*"],
        "secret_hash": hash_secret(secret), "revoked_at": None})
    entries = await db["audit_log"].count_documents({})
    tried = 0
    async with bearer(url, secret) as key:
        for info in all_routes():
            if not info.path.startswith("/api/") or info.kind == "system":  # the contract: for anyone
                continue
            for method in info.methods:
                if (method, info.path) == ("POST", "/api/v1/accounts/{account_id}/payments"):
                    continue
                r = await key.request(method, sample_path(info), json={} if method != "GET" else None)
                assert r.status_code == 403, (method, info.path, r.status_code, r.text[:200])
                tried += 1
    assert tried > 150
    assert await db["audit_log"].count_documents({}) == entries
