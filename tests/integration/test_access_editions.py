"""Edition feature flags in the access area (PRODUCT.md §2, inventory D §4.6.3.3): custom roles
need the edition's additional roles package and API keys its REST API; when a PBX loses the
package (its edition changes, or the operator switches the flag off in the edition) every custom
role is deleted and its holders become Employee, each step in the action log."""
from __future__ import annotations

import pytest

from storage.repos.users import create_tenant_user
from tests.integration.harness import cheap_hashes, new_account_pbx, operator_stack  # noqa: F401  (cheap_hashes: autouse)
from web.testing import WebClient


@pytest.fixture
async def web(settings, store):
    async with operator_stack(settings, store) as (ctx, url, op):
        _, pbx = await new_account_pbx(op, "ООО Роли", "roles@example.ru", "basic")
        await create_tenant_user(store, pbx, "admin", "tenant-pass-0", language="en")
        worker = await create_tenant_user(store, pbx, "worker", "tenant-pass-2", language="en")
        async with WebClient(url, headers={"Accept-Language": "en"}) as c:
            await c.login(f"{pbx}/admin", "tenant-pass-0")
            yield ctx, op, c, pbx, worker


async def test_an_edition_without_the_packages_refuses_roles_and_keys_with_the_reason(web):
    ctx, op, c, pbx, _ = web
    r = await c.api("POST", "/api/v1/roles", json={"name": "Support", "base": "employee"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "edition_feature"
    assert r.json()["error"]["message"] == ("Custom roles come with the additional roles package, "
                                            "which your PBX edition does not include.")
    r = await c.api("POST", "/api/v1/api-keys", json={"name": "CRM", "role": "employee", "whitelist": ["*"]})
    assert r.status_code == 409
    assert r.json()["error"]["message"] == "The REST API is not included in your PBX edition, so API keys cannot be created."
    await c.api("PATCH", "/api/v1/me", json={"language": "ru"})
    r = await c.api("POST", "/api/v1/roles", json={"name": "Support", "base": "employee"})
    assert r.json()["error"]["message"].startswith("Собственные роли входят в пакет дополнительных ролей")
    assert await ctx.store.db["roles"].count_documents({}) == 0
    assert await ctx.store.db["api_keys"].count_documents({}) == 0
    # the form says the same, and saves nothing
    page = await c.post_form("/access/roles/new", {"name": "Support", "base": "employee"})
    assert page.status_code == 409 and "пакет дополнительных ролей" in page.text
    assert await ctx.store.db["roles"].count_documents({}) == 0


async def test_losing_the_package_deletes_custom_roles_and_their_holders_become_employees(web):
    ctx, op, c, pbx, worker = web
    db = ctx.store.db
    assert (await op.api("PATCH", f"/api/v1/operator/pbxes/{pbx}", json={"edition": "corporate"})).status_code == 200
    rid = (await c.api("POST", "/api/v1/roles", json={"name": "Support", "base": "employee"})).json()["id"]
    assert (await c.api("PATCH", f"/api/v1/access/users/{worker['_id']}", json={"role": rid})).status_code == 200
    key = await c.api("POST", "/api/v1/api-keys", json={"name": "CRM", "role": rid, "whitelist": ["*"]})
    assert key.status_code == 201
    # the operator switches the package off in the edition: every corporate PBX loses its roles
    r = await op.api("PATCH", "/api/v1/operator/editions/corporate", json={"features": {"additional_roles": False}})
    assert r.status_code == 200
    assert await db["roles"].count_documents({"pbx_id": pbx}) == 0
    assert (await db["users"].find_one({"_id": worker["_id"]}))["role"] == "employee"
    assert (await db["api_keys"].find_one({"pbx_id": pbx}))["role"] == "employee"
    log = await db["audit_log"].find({"pbx_id": pbx, "section": "access"}, sort=[("at", 1)]).to_list(None)
    ops = [(e["operation"], e["object"]["type"]) for e in log][-2:]
    assert ops == [("assign_role", "user"), ("delete", "role")]
    assert log[-1]["actor"]["login"] == "root" and log[-1]["before"]["name"] == "Support"
    # a new role can be made again once the PBX moves to an edition with the package
    await op.api("PATCH", "/api/v1/operator/editions/corporate", json={"features": {"additional_roles": True}})
    rid = (await c.api("POST", "/api/v1/roles", json={"name": "Support", "base": "employee"})).json()["id"]
    await c.api("PATCH", f"/api/v1/access/users/{worker['_id']}", json={"role": rid})
    # changing the PBX's edition to one without it does the same
    assert (await op.api("PATCH", f"/api/v1/operator/pbxes/{pbx}", json={"edition": "business"})).status_code == 200
    assert await db["roles"].count_documents({"pbx_id": pbx}) == 0
    assert (await db["users"].find_one({"_id": worker["_id"]}))["role"] == "employee"
    roles = (await c.get("/api/v1/roles")).json()["items"]
    assert [r["name"] for r in roles if r["custom"]] == []
    assert next(r for r in roles if r["id"] == "employee")["users"] == 1  # the worker (the admin is Administrator)
