"""Copying a custom role (inventory D §4.6.3): the copy has the same base role, description and
section toggles under a new unique name («Копия …» / "Copy of …"), is audited, needs the
edition's additional roles package like creating one, and is offered as «Copy» on the roles page."""
from __future__ import annotations

import pytest

from storage.repos.users import create_tenant_user
from tests.integration.harness import cheap_hashes, new_account_pbx, operator_stack  # noqa: F401  (cheap_hashes: autouse)
from web.testing import WebClient


@pytest.fixture
async def web(settings, store):
    async with operator_stack(settings, store) as (ctx, url, op):
        _, pbx = await new_account_pbx(op, "ООО Копии", "copy@example.ru", "corporate")
        await create_tenant_user(store, pbx, "admin", "tenant-pass-0", language="en")
        await create_tenant_user(store, pbx, "head", "tenant-pass-1", language="en", role="company_head")
        async with WebClient(url, headers={"Accept-Language": "en"}) as c:
            await c.login(f"{pbx}/admin", "tenant-pass-0")
            yield ctx, op, c, pbx


async def test_a_copy_keeps_base_and_toggles_under_a_new_unique_name(web):
    ctx, op, c, pbx = web
    db = ctx.store.db
    r = await c.api("POST", "/api/v1/roles", json={
        "name": "Support", "description": "First line", "base": "accountant",
        "sections": {"finance": {"level": "view"}, "employees": {"level": "none"}}})
    assert r.status_code == 201, r.text
    src = r.json()
    r = await c.api("POST", f"/api/v1/roles/{src['id']}/copy")
    assert r.status_code == 201, r.text
    copy = r.json()
    assert copy["id"] != src["id"] and copy["name"] == "Copy of Support" and copy["custom"]
    assert (copy["base"], copy["description"], copy["sections"]) == (src["base"], src["description"], src["sections"])
    assert copy["sections"]["finance"]["level"] == "view" and copy["sections"]["employees"]["level"] == "none"
    # copying again does not clash: the next free name; a Russian user gets «Копия …»
    assert (await c.api("POST", f"/api/v1/roles/{src['id']}/copy")).json()["name"] == "Copy of Support (2)"
    await c.api("PATCH", "/api/v1/me", json={"language": "ru"})
    assert (await c.api("POST", f"/api/v1/roles/{src['id']}/copy")).json()["name"] == "Копия Support"
    assert await db["roles"].count_documents({"pbx_id": pbx}) == 4
    # audited: who copied what from which role
    entry = await db["audit_log"].find_one({"pbx_id": pbx, "operation": "copy"}, sort=[("at", 1)])
    assert entry["section"] == "access" and entry["object"]["name"] == "Copy of Support"
    assert entry["before"] == {"copied_from": src["id"], "name": "Support"}
    assert entry["after"]["base"] == "accountant" and entry["after"]["sections"]["finance"]["level"] == "view"
    # base roles and unknown ids are refused
    r = await c.api("POST", "/api/v1/roles/accountant/copy")
    assert r.status_code == 409 and r.json()["error"]["code"] == "base_role"
    assert (await c.api("POST", "/api/v1/roles/0123456789abcdef01234567/copy")).status_code == 404


async def test_copy_is_refused_without_the_package_and_without_the_access_right(web):
    ctx, op, c, pbx = web
    rid = (await c.api("POST", "/api/v1/roles", json={"name": "Support", "base": "employee"})).json()["id"]
    async with WebClient(str(c.base_url), headers={"Accept-Language": "en"}) as head:
        await head.login(f"{pbx}/head", "tenant-pass-1")
        r = await head.api("POST", f"/api/v1/roles/{rid}/copy")
        assert r.status_code == 403
    # an edition without the additional roles package: refused with the reason, nothing saved
    # (switched off in the store directly, so the existing role is not dropped by the operator's change)
    await ctx.store.db["editions"].update_one({"_id": "corporate"}, {"$set": {"features.additional_roles": False}})
    r = await c.api("POST", f"/api/v1/roles/{rid}/copy")
    assert r.status_code == 409 and r.json()["error"]["code"] == "edition_feature"
    assert "additional roles package" in r.json()["error"]["message"]
    assert await ctx.store.db["roles"].count_documents({"pbx_id": pbx}) == 1


async def test_the_roles_page_offers_copy_and_the_copy_appears(web):
    ctx, op, c, pbx = web
    rid = (await c.api("POST", "/api/v1/roles", json={"name": "Night shift", "base": "senior_employee"})).json()["id"]
    page = await c.get("/access/roles")
    assert f'action="/access/roles/{rid}/copy"' in page.text and ">Copy<" in page.text
    r = await c.post_form(f"/access/roles/{rid}/copy", {})
    assert r.status_code == 302 and r.headers["location"] == "/access/roles?done=copied"
    page = await c.get("/access/roles?done=copied")
    assert "The role has been copied." in page.text and "Copy of Night shift" in page.text
    await c.api("PATCH", "/api/v1/me", json={"language": "ru"})
    page = await c.get("/access/roles")
    assert ">Копировать<" in page.text
