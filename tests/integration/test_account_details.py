"""The account panel by role (inventory A §1.5, §2.6; issue 5 rules #10, #44, #45): «Top up» only
for those Finance is open to (account administrator, Accountant, Administrator — a Company head,
who holds the finance right, does not see it); requisites and contacts seen and edited by the
same users, validated like the operator's requisites (INN check digits, KPP, BIK, accounts),
nothing saved while a field is wrong, each change audited."""
from __future__ import annotations

from contextlib import asynccontextmanager

import pytest

from storage.repos.users import create_tenant_user
from tests.integration.harness import cheap_hashes, new_account_pbx, operator_stack  # noqa: F401  (cheap_hashes: autouse)
from web.testing import WebClient

GOOD = {"inn": "7707083893", "kpp": "773601001", "ogrn": "1027700132195", "bik": "044525225",
        "bank": "ПАО Сбербанк", "corr_account": "30101810400000000225",
        "settlement_account": "40702810900000000001", "legal_address": "Москва, ул. Вавилова, 19",
        "postal_address": ""}


@pytest.fixture
async def web(settings, store):
    async with operator_stack(settings, store) as (ctx, url, op):
        account_id, pbx = await new_account_pbx(op, "ООО Ромашка", "boss@romashka.ru", "corporate")
        for login, role in (("adm", "administrator"), ("buh", "accountant"), ("head", "company_head"),
                            ("emp", "employee")):
            await create_tenant_user(store, pbx, login, "tenant-pass-1", role=role, language="en")
        yield ctx, url, op, pbx, account_id


@asynccontextmanager
async def _client(url: str, pbx: int, login: str):
    async with WebClient(url) as c:
        await c.login(f"{pbx}/{login}", "tenant-pass-1")
        yield c


async def test_top_up_follows_the_finance_rule_not_just_the_finance_right(web):
    ctx, url, op, pbx, account_id = web
    for login, shown in (("adm", True), ("buh", True), ("head", False), ("emp", False)):
        async with _client(url, pbx, login) as c:
            page = await c.get("/account")
            assert page.status_code == 200
            assert ('id="top-up"' in page.text) is shown, login
            assert (await c.get("/api/v1/account")).json()["can_top_up"] is shown, login
    # a custom role derived from Accountant passes; one derived from Company head does not
    async with _client(url, pbx, "adm") as c:
        for base in ("accountant", "company_head"):
            rid = (await c.api("POST", "/api/v1/roles", json={"name": f"Copy {base}", "base": base})).json()["id"]
            user = await create_tenant_user(ctx.store, pbx, f"x{base[:4]}", "tenant-pass-1", language="en")
            assert (await c.api("PATCH", f"/api/v1/access/users/{user['_id']}", json={"role": rid})).status_code == 200
    for login, shown in (("xacco", True), ("xcomp", False)):
        async with _client(url, pbx, login) as c:
            assert (await c.get("/api/v1/account")).json()["can_top_up"] is shown, login


async def test_accountant_and_administrator_edit_requisites_and_contacts_validated_and_audited(web):
    ctx, url, op, pbx, account_id = web
    db = ctx.store.db
    async with _client(url, pbx, "buh") as c:
        page = await c.get("/account")
        assert 'id="requisites-form"' in page.text and 'id="contacts-form"' in page.text
        bad = {**GOOD, "inn": "7707083894", "kpp": "7736", "bik": "04452522x", "corr_account": "301"}
        r = await c.post_form("/account", {"action": "requisites", **bad})
        assert r.status_code == 422
        assert "This INN does not exist: its check digits do not match. Check the number." in r.text
        assert "The KPP has 9 digits." in r.text and "The BIK has 9 digits." in r.text
        assert "A bank account number has 20 digits." in r.text
        assert 'value="7707083894"' in r.text          # the typed values stay in the form
        assert (await db["accounts"].find_one({"account_id": account_id})).get("requisites", {}).get("inn") is None
        r = await c.post_form("/account", {"action": "requisites", **{**GOOD, "inn": "77 0708 3893"}})
        assert r.status_code == 302 and r.headers["location"] == "/account?done=saved"
        stored = (await db["accounts"].find_one({"account_id": account_id}))["requisites"]
        assert stored["inn"] == "7707083893" and stored["settlement_account"] == GOOD["settlement_account"]
        assert stored["postal_address"] is None
        # the operator sees the same requisites
        got = (await op.get(f"/api/v1/operator/accounts/{account_id}")).json()
        assert got["requisites"]["bik"] == "044525225"
    async with _client(url, pbx, "adm") as c:
        r = await c.post_form("/account", {"action": "contacts", "person": "Анна", "phones": "12"})
        assert r.status_code == 422 and "Enter phone numbers like +7 916 123-45-67." in r.text
        r = await c.post_form("/account", {"action": "contacts", "person": "Анна", "phones": "8 916 000-00-09",
                                           "emails": "buh@romashka.ru"})
        assert r.status_code == 302
        page = await c.get("/account?done=saved")
        assert "+79160000009" in page.text and 'value="7707083893"' in page.text
        await c.api("PATCH", "/api/v1/me", json={"language": "ru"})
        r = await c.post_form("/account", {"action": "requisites", **{**GOOD, "inn": "123"}})
        assert r.status_code == 422 and "ИНН" in r.text and "Сохранить реквизиты" in r.text
    entries = await db["audit_log"].find({"account_id": account_id, "section": "account"}, sort=[("at", 1)]).to_list(None)
    assert [(e["operation"], e["actor"]["login"]) for e in entries] == [("requisites", f"{pbx}/buh"),
                                                                       ("contacts", f"{pbx}/adm")]
    assert not (entries[0]["before"]["requisites"] or {}).get("inn")
    assert entries[0]["after"]["requisites"]["inn"] == "7707083893"
    assert entries[1]["after"]["contacts"]["phones"] == ["+79160000009"]


async def test_company_head_and_employee_neither_see_nor_change_requisites(web):
    ctx, url, op, pbx, account_id = web
    for login in ("head", "emp"):
        async with _client(url, pbx, login) as c:
            page = await c.get("/account")
            assert 'id="requisites-form"' not in page.text and 'id="contacts-form"' not in page.text
            r = await c.post_form("/account", {"action": "requisites", **GOOD})
            assert r.status_code == 403
            r = await c.post_form("/account", {"action": "contacts", "person": "X"})
            assert r.status_code == 403
            r = await c.post_form("/account", {"action": "switch", "pbx_id": str(pbx)})
            assert r.status_code == 403
    assert not (await ctx.store.db["accounts"].find_one({"account_id": account_id})).get("requisites", {}).get("inn")
    assert await ctx.store.db["audit_log"].count_documents({"section": "account"}) == 0
