"""The tenant's own edition change (Finance, A §4.1.1) and custom roles (D §4.6.3.3): a downgrade
to an edition without the additional roles package is refused while custom roles exist (naming
them); once they are gone the change applies and no new custom role can be made. After every
successful change ``drop_custom_roles_without_package`` runs too (as for the operator's change),
so a role created between the check and the update cannot outlive the package."""
from __future__ import annotations

from storage.repos.users import create_operator_admin, create_tenant_user
from tests.integration.harness import cheap_hashes  # noqa: F401  (autouse)
from web.testing import WebClient, web_stack


async def test_a_downgrade_from_the_finance_page_drops_custom_roles(settings, store):
    await create_operator_admin(store, "root", "operator-pass-1", "root@pult.test", language="en")
    async with web_stack(settings, store) as (ctx, url):
        db = ctx.store.db
        async with WebClient(url) as op:
            await op.login("root", "operator-pass-1")
            acc = (await op.api("POST", "/api/v1/operator/accounts", json={
                "name": "ООО Роли", "email": "roles@example.ru", "send_link": False})).json()
            pbx = (await op.api("POST", "/api/v1/operator/pbxes", json={
                "account_id": acc["account_id"], "name": "Офис", "edition": "corporate"})).json()["pbx_id"]
        await create_tenant_user(store, pbx, "admin", "tenant-pass-0", role="administrator", language="en")
        worker = await create_tenant_user(store, pbx, "worker", "tenant-pass-2", language="en")
        async with WebClient(url, headers={"Accept-Language": "en"}) as c:
            await c.login(f"{pbx}/admin", "tenant-pass-0")
            rid = (await c.api("POST", "/api/v1/roles", json={"name": "Support", "base": "employee"})).json()["id"]
            assert (await c.api("PATCH", f"/api/v1/access/users/{worker['_id']}", json={"role": rid})).status_code == 200
            offered = (await c.get("/api/v1/finance/edition")).json()["editions"]
            target = next(e["id"] for e in offered if e["id"] == "basic")
            r = await c.api("POST", "/api/v1/finance/edition", json={"edition": target, "agree": True})
            assert r.status_code == 409 and "custom roles" in r.json()["error"]["message"]
            assert (await c.api("DELETE", f"/api/v1/roles/{rid}")).status_code == 204
            r = await c.api("POST", "/api/v1/finance/edition", json={"edition": target, "agree": True})
            assert r.status_code == 200, r.text
            r = await c.api("POST", "/api/v1/roles", json={"name": "Support", "base": "employee"})
            assert r.status_code == 409 and r.json()["error"]["code"] == "edition_feature"
        assert await db["roles"].count_documents({"pbx_id": pbx}) == 0
        assert (await db["users"].find_one({"_id": worker["_id"]}))["role"] == "employee"


async def test_the_change_runs_the_package_check_after_it_applies(settings, store, monkeypatch):
    """A custom role left on a PBX whose new edition lacks the package (the race the downgrade
    check cannot see) is deleted by the change itself, its holder becoming Employee."""
    from storage.repos.tenants import create_account, create_pbx
    from web.finance.edition import change_pbx_edition

    acc = await create_account(store.db, "ООО Гонка", "race@example.ru")
    pbx = (await create_pbx(store.db, acc["account_id"], "Офис", "pult.test", edition="corporate"))["pbx_id"]
    user = await create_tenant_user(store, pbx, "worker", "tenant-pass-2", language="en")
    await store.db["roles"].insert_one({"_id": "0123456789abcdef01234567", "pbx_id": pbx, "name": "Late",
                                        "name_norm": "late", "base": "employee", "sections": {}})
    await store.db["users"].update_one({"_id": user["_id"]}, {"$set": {"role": "0123456789abcdef01234567"}})
    # the usage check counts roles; a role appearing after it is what this guards against
    import web.finance.edition as edition

    monkeypatch.setattr(edition, "downgrade_problems", lambda target, used: [])
    await change_pbx_edition(store.db, pbx, "basic", {"kind": "user", "login": f"{pbx}/admin"})
    assert await store.db["roles"].count_documents({"pbx_id": pbx}) == 0
    assert (await store.db["users"].find_one({"_id": user["_id"]}))["role"] == "employee"
