"""The operator console through a real server: accounts, PBXs (create, block with end time, demo
conversion, archive), editions and their quotas, platform settings and their precedence over the
environment, the DID pool; every change in the action log; field messages in RU/EN; a tenant
never reaches an operator route; the demo lifecycle job driven by a fake clock."""
from __future__ import annotations

import json
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from typing import AsyncIterator

import pytest

from jobs.lifecycle import run_lifecycle
from storage.repos.tenants import account_balance, get_pbx, load_pbx_state
from storage.repos.users import create_tenant_user, set_password
from web.routes import all_routes
from tests.integration.harness import cheap_hashes, operator_stack  # noqa: F401  (cheap_hashes: autouse)
from web.testing import WebClient


@pytest.fixture
async def web(settings, store):
    async with operator_stack(settings, store) as stack:
        yield stack


async def make_account(op, **extra) -> dict:
    r = await op.api("POST", "/api/v1/operator/accounts", json={
        "name": "ООО Ромашка", "email": "boss@romashka.ru", "company_phone": "8 495 123-45-67",
        "requisites": {"inn": "7701234567", "kpp": "770101001"}, "send_link": False, **extra})
    assert r.status_code == 201, r.text
    return r.json()


async def make_pbx(op, account_id, **extra) -> dict:
    r = await op.api("POST", "/api/v1/operator/pbxes", json={"account_id": account_id, "name": "Офис",
                                                             "edition": "basic", **extra})
    assert r.status_code == 201, r.text
    return r.json()


@asynccontextmanager
async def tenant_of_a_new_pbx(op, store, url) -> AsyncIterator[WebClient]:
    """A signed-in user of a new account's PBX (the role a new user gets)."""
    acc = await make_account(op)
    pbx = await make_pbx(op, acc["account_id"])
    await create_tenant_user(store, pbx["pbx_id"], "anna", "tenant-pass-1")
    async with WebClient(url) as tenant:
        await tenant.login(f"{pbx['pbx_id']}/anna", "tenant-pass-1")
        yield tenant


async def test_accounts_and_pbxs_created_edited_and_audited(web):
    ctx, url, op = web
    acc = await make_account(op)
    assert acc["account_id"] >= 100001 and acc["company_phone"] == "+74951234567" and acc["balance"] == 0
    pbx = await make_pbx(op, acc["account_id"], time_zone="Asia/Novosibirsk")
    assert pbx["sip_domain"] == f"vpbx{pbx['pbx_id']}.{ctx.settings.sip_base_domain}"
    assert pbx["state"] == {"blocked": False, "reasons": [], "banner": None}
    # the account administrator exists, points at the first PBX, and has no password yet
    admin = await ctx.store.db["users"].find_one({"login_norm": f"account:{acc['account_id']}"})
    assert admin["pbx_id"] == pbx["pbx_id"] and admin["password_hash"] is None
    r = await op.api("PATCH", f"/api/v1/operator/accounts/{acc['account_id']}",
                     json={"requisites": {"inn": "7701234567", "bik": "044525225"}, "name": "ООО Ромашка+"})
    assert r.status_code == 200 and r.json()["requisites"]["bik"] == "044525225" and r.json()["name"] == "ООО Ромашка+"
    entries = await ctx.store.db["audit_log"].find({"section": "operator.accounts"}).to_list(None)
    assert [e["operation"] for e in entries] == ["create", "update"]
    assert entries[1]["actor"]["login"] == "root" and entries[1]["actor"]["ip"] == "127.0.0.1"
    assert entries[1]["before"]["name"] == "ООО Ромашка" and entries[1]["after"]["name"] == "ООО Ромашка+"
    listing = (await op.get("/api/v1/operator/accounts?q=Ромашка")).json()
    assert listing["total"] == 1 and listing["items"][0]["pbx_count"] == 1


async def test_validation_messages_name_the_field_and_nothing_is_saved(web):
    ctx, url, op = web
    r = await op.api("POST", "/api/v1/operator/accounts", json={
        "name": "", "email": "not-mail", "requisites": {"inn": "123", "bik": "x"}, "contacts": {"phones": ["12"]}})
    assert r.status_code == 422
    fields = r.json()["error"]["fields"]
    assert fields["email"] == "Enter an e-mail address like name@example.com."
    assert fields["requisites.inn"] == "The INN has 10 digits (a company) or 12 digits (a person)."
    assert fields["requisites.bik"] == "The BIK has 9 digits."
    assert fields["contacts.phones"] == "Enter phone numbers like +7 916 123-45-67."
    assert "name" in fields
    assert await ctx.store.db["accounts"].count_documents({}) == 0
    await op.post_form("/language", {"lang": "ru", "next": "/"})   # the operator's own language wins
    r = await op.api("POST", "/api/v1/operator/pbxes", json={"account_id": 999999, "name": "x", "edition": "basic",
                                                             "time_zone": "Mars/Olympus"})
    assert r.json()["error"]["fields"]["time_zone"] == "Выберите часовой пояс из списка, например Europe/Moscow."
    await op.post_form("/language", {"lang": "en", "next": "/"})
    r = await op.api("POST", "/api/v1/operator/pbxes", json={"account_id": 999999, "name": "x", "edition": "basic"})
    assert r.status_code == 409 and r.json()["error"]["fields"] == {"account_id": "There is no such account."}
    assert await ctx.store.db["pbxes"].count_documents({}) == 0


async def test_block_with_end_time_and_unblock(web):
    ctx, url, op = web
    acc = await make_account(op)
    pbx = await make_pbx(op, acc["account_id"])
    pid = pbx["pbx_id"]
    past = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
    r = await op.api("POST", f"/api/v1/operator/pbxes/{pid}/block", json={"until": past, "reason": "спам"})
    assert r.status_code == 422 and r.json()["error"]["fields"]["until"] == "The end of the block must be in the future."
    until = datetime.now(timezone.utc) + timedelta(days=2)
    r = await op.api("POST", f"/api/v1/operator/pbxes/{pid}/block", json={"until": until.isoformat(),
                                                                           "reason": "traffic abuse"})
    state = r.json()["state"]
    assert state["blocked"] and state["reasons"] == ["operator"]
    assert state["banner"]["text"].startswith("Outgoing calls are restricted by the operator until ")
    assert "traffic abuse" in state["banner"]["text"]
    # the call side reads the same state
    assert (await load_pbx_state(ctx.store.db, pid)).reasons == ("operator",)
    # the lifecycle job lifts it when the time has come
    assert (await run_lifecycle(ctx.store.db, until + timedelta(seconds=1)))["unblocked"] == [pid]
    assert (await get_pbx(ctx.store.db, pid))["operator_block"] is None
    await op.api("POST", f"/api/v1/operator/pbxes/{pid}/block", json={"reason": "until unblocked"})
    r = await op.api("POST", f"/api/v1/operator/pbxes/{pid}/unblock")
    assert r.json()["state"]["blocked"] is False
    ops = [e["operation"] for e in await ctx.store.db["audit_log"].find(
        {"pbx_id": pid, "section": {"$in": ["operator.pbxes", "lifecycle"]}}).to_list(None)]
    assert ops == ["create", "block", "unblock", "block", "unblock"]


async def test_demo_lifecycle_with_a_fake_clock_and_conversion_window(web, store):
    ctx, url, op = web
    db = ctx.store.db
    acc = await make_account(op)
    demo = await make_pbx(op, acc["account_id"], demo=True)
    keep = await make_pbx(op, acc["account_id"], demo=True)
    pid, t0 = demo["pbx_id"], datetime.fromisoformat(demo["created_at"])
    assert demo["state"]["banner"]["text"] == "Demo version: 14 day(s) left."
    user = await create_tenant_user(store, pid, "anna", "tenant-pass-1")
    await db["employees"].insert_one({"_id": "e1", "pbx_id": pid, "name": "Анна"})
    # day 13: nothing happens
    assert await run_lifecycle(db, t0 + timedelta(days=13)) == {"demo_blocked": [], "demo_deleted": [],
                                                                "purged": {}, "unblocked": []}
    # day 14: blocked (the cabinet and the call side see it), deletion in 14 days
    day14 = t0 + timedelta(days=14, minutes=1)
    assert sorted((await run_lifecycle(db, day14))["demo_blocked"]) == sorted([pid, keep["pbx_id"]])
    st = await load_pbx_state(db, pid, day14)
    assert st.blocked and st.reasons == ("demo_expired",) and st.banner.values["days"] == 14
    # converted within 4 weeks, even while blocked
    r = await op.api("POST", f"/api/v1/operator/pbxes/{keep['pbx_id']}/convert", json={"edition": "business"})
    assert r.status_code == 200 and r.json()["status"] == "active" and r.json()["edition"] == "business"
    # day 28: the other demo is deleted (marked; data kept for the safety period)
    day28 = t0 + timedelta(days=28, minutes=2)
    assert (await run_lifecycle(db, day28))["demo_deleted"] == [pid]
    assert (await get_pbx(db, pid))["status"] == "deleted"
    assert await db["employees"].count_documents({"pbx_id": pid}) == 1
    assert (await load_pbx_state(db, pid, day28)).reasons == ("deleted",)
    assert (await op.api("POST", f"/api/v1/operator/pbxes/{pid}/convert")).json()["error"]["code"] == "not_demo"
    # 30 days later: purged, the tombstone and the action log stay
    result = await run_lifecycle(db, day28 + timedelta(days=31))
    # the PBX's defaults (SIP domain, settings, default group at 6) are purged with the rest
    assert result["purged"][pid] == {"employees": 1, "users": 1, "extensions": 1, "ring_groups": 1,
                                     "sip_domains": 1, "tel_settings": 1}
    assert await db["users"].count_documents({"_id": user["_id"]}) == 0
    assert (await get_pbx(db, pid))["purged_at"] is not None
    assert await db["audit_log"].count_documents({"pbx_id": pid, "section": "lifecycle"}) == 3
    # the account administrator moved to the PBX that stays
    admin = await db["users"].find_one({"realm": "account", "account_id": acc["account_id"]})
    assert admin["pbx_id"] == keep["pbx_id"]
    # running again changes nothing
    assert await run_lifecycle(db, day28 + timedelta(days=32)) == {"demo_blocked": [], "demo_deleted": [],
                                                                   "purged": {}, "unblocked": []}


async def test_conversion_refused_after_four_weeks(web):
    ctx, url, op = web
    acc = await make_account(op)
    pbx = await make_pbx(op, acc["account_id"], demo=True)
    old = datetime.now(timezone.utc) - timedelta(days=29)
    await ctx.store.db["pbxes"].update_one({"pbx_id": pbx["pbx_id"]}, {"$set": {"demo.started_at": old}})
    r = await op.api("POST", f"/api/v1/operator/pbxes/{pbx['pbx_id']}/convert")
    assert r.status_code == 409 and r.json()["error"]["code"] == "conversion_expired"


async def test_edition_quota_refuses_with_a_message_naming_the_limit(web):
    from esl_control.model.quotas import QuotaExceeded, check_quota

    ctx, url, op = web
    db = ctx.store.db
    r = await op.api("POST", "/api/v1/operator/editions", json={
        "code": "mini", "name": "Мини", "monthly_fee": 50000, "quotas": {"employees": 2, "numbers": 1,
                                                                         "ivr_levels": 1}, "features": {"fax": False}})
    assert r.status_code == 201
    assert (await op.api("POST", "/api/v1/operator/editions", json={"code": "mini", "name": "x"})).status_code == 409
    acc = await make_account(op)
    pbx = await make_pbx(op, acc["account_id"], edition="mini")
    pid = pbx["pbx_id"]
    await check_quota(db, pid, "employees")
    await db["employees"].insert_many([{"_id": "a", "pbx_id": pid}, {"_id": "b", "pbx_id": pid}])
    with pytest.raises(QuotaExceeded) as exc:
        await check_quota(db, pid, "employees")
    assert str(exc.value) == "Edition «Мини» allows at most 2 employees."
    assert exc.value.status_code == 409 and exc.value.problem.limit == 2
    with pytest.raises(QuotaExceeded):
        await check_quota(db, pid, "ivr_levels", value=2)
    await check_quota(db, pid, "groups", adding=100)   # no groups quota in "mini": unlimited
    # the DID pool assignment honours the numbers quota, with the message in the user's language
    await op.api("POST", "/api/v1/operator/did-pool", json={"numbers": "74950000001-74950000003"})
    assert (await op.api("POST", "/api/v1/operator/did-pool/assign",
                         json={"number": "74950000001", "pbx_id": pid})).status_code == 200
    await op.post_form("/language", {"lang": "ru", "next": "/"})
    r = await op.api("POST", "/api/v1/operator/did-pool/assign", json={"number": "74950000002", "pbx_id": pid})
    assert r.status_code == 409 and r.json()["error"]["message"] == "Версия «Мини» позволяет не больше 1 номеров."
    # raising the quota lets it through
    await op.api("PATCH", "/api/v1/operator/editions/mini", json={"quotas": {"numbers": 5}})
    assert (await op.api("POST", "/api/v1/operator/did-pool/assign",
                         json={"number": "74950000002", "pbx_id": pid})).status_code == 200
    edition = (await op.get("/api/v1/operator/editions")).json()["items"]
    mini = next(e for e in edition if e["code"] == "mini")
    assert mini["quotas"] == {"employees": 2, "numbers": 5, "ivr_levels": 1}


async def test_did_pool_add_assign_release(web):
    ctx, url, op = web
    acc = await make_account(op)
    pbx = await make_pbx(op, acc["account_id"], edition="business")
    r = await op.api("POST", "/api/v1/operator/did-pool", json={"numbers": "74951230000-74951230009\n74957770000"})
    assert r.status_code == 201 and len(r.json()["added"]) == 11
    r = await op.api("POST", "/api/v1/operator/did-pool", json={"numbers": "74951230009-74951230000"})
    assert r.status_code == 422 and "range" in r.json()["error"]["fields"]["numbers"]
    r = await op.api("POST", "/api/v1/operator/did-pool/assign", json={"number": "74951230005", "pbx_id": pbx["pbx_id"]})
    assert r.status_code == 200
    r = await op.api("POST", "/api/v1/operator/did-pool/assign", json={"number": "74951230005", "pbx_id": pbx["pbx_id"]})
    assert r.status_code == 409   # already taken: a clash with what is stored
    assert "number" in r.json()["error"]["fields"]
    listing = (await op.get("/api/v1/operator/did-pool?status=assigned")).json()
    assert [(i["number"], i["pbx_id"]) for i in listing["items"]] == [("74951230005", pbx["pbx_id"])]
    assert (await op.api("POST", "/api/v1/operator/did-pool/release", json={"number": "74951230005"})).status_code == 200
    assert (await op.get("/api/v1/operator/did-pool?status=assigned")).json()["total"] == 0
    assert await ctx.store.db["numbers"].count_documents({"pbx_id": pbx["pbx_id"]}) == 0


async def test_platform_settings_override_the_environment(web):
    ctx, url, op = web
    got = (await op.get("/api/v1/operator/settings")).json()
    assert got["sip_base_domain"] is None and got["captcha_mode"] == "failures"
    r = await op.api("PATCH", "/api/v1/operator/settings", json={"sip_base_domain": "Voice.Example.RU",
                                                                 "vat_rate": 22, "smtp_password": "s3cret",
                                                                 "sms_gateway_url": "ftp://x"})
    assert r.status_code == 422 and set(r.json()["error"]["fields"]) == {"sms_gateway_url"}
    r = await op.api("PATCH", "/api/v1/operator/settings", json={"sip_base_domain": "Voice.Example.RU",
                                                                 "vat_rate": 22, "smtp_password": "s3cret"})
    assert r.status_code == 200 and r.json()["smtp_password"] == "***" and r.json()["sip_base_domain"] == "voice.example.ru"
    acc = await make_account(op)
    pbx = await make_pbx(op, acc["account_id"])
    assert pbx["sip_domain"] == f"vpbx{pbx['pbx_id']}.voice.example.ru"
    entry = await ctx.store.db["audit_log"].find_one({"section": "operator.settings"})
    assert entry["after"]["smtp_password"] == "***"      # secrets never reach the log
    # an empty value gives the environment back
    await op.api("PATCH", "/api/v1/operator/settings", json={"sip_base_domain": ""})
    pbx2 = await make_pbx(op, acc["account_id"])
    assert pbx2["sip_domain"].endswith("." + ctx.settings.sip_base_domain)


async def test_a_tenant_never_reaches_operator_routes(web, store):
    ctx, url, op = web
    acc = await make_account(op)
    pbx = await make_pbx(op, acc["account_id"])
    await create_tenant_user(store, pbx["pbx_id"], "anna", "tenant-pass-1")
    operator_routes = [r for r in all_routes() if r.path.startswith(("/operator", "/api/v1/operator"))]
    assert len(operator_routes) >= 15 and all(r.access == "operator" for r in operator_routes)
    async with WebClient(url) as tenant:
        await tenant.login(f"{pbx['pbx_id']}/anna", "tenant-pass-1")
        for r in operator_routes:
            path = (r.path.replace("{account_id}", str(acc["account_id"])).replace("{pbx_id}", str(pbx["pbx_id"]))
                    .replace("{code}", "basic").replace("{node}", "fs1"))
            for method in r.methods:
                resp = await tenant.api(method, path, json={} if method != "GET" else None)
                assert resp.status_code in (403, 404), (method, path, resp.status_code)
    async with WebClient(url) as anon:
        assert (await anon.get("/operator/accounts")).status_code == 302
        assert (await anon.get("/api/v1/operator/accounts")).status_code == 401


async def test_operator_pages_in_russian_and_english(web):
    ctx, url, op = web
    acc = await make_account(op)
    pbx = await make_pbx(op, acc["account_id"], demo=True)
    pages = ["/operator/accounts", f"/operator/accounts/{acc['account_id']}", "/operator/accounts/new",
             "/operator/pbxes", f"/operator/pbxes/{pbx['pbx_id']}", "/operator/pbxes/new", "/operator/editions",
             "/operator/editions/basic", "/operator/editions/new", "/operator/numbers", "/operator/settings",
             # a page number that is not one shows the first page
             "/operator/accounts?page=x", "/operator/pbxes?page=0", "/operator/numbers?page=-3&q=7495"]
    expect = {"en": ["Accounts", "PBXs", "Editions", "DID pool", "Platform settings"],
              "ru": ["Лицевые счета", "ВАТС", "Версии", "Пул номеров", "Настройки платформы"]}
    for lang in ("en", "ru"):
        await op.post_form("/language", {"lang": lang, "next": "/"})
        for page in pages:
            r = await op.get(page)
            assert r.status_code == 200, (page, r.status_code, r.text[:300])
            assert all(word in r.text for word in expect[lang]), (lang, page)
    r = await op.get(f"/operator/pbxes/{pbx['pbx_id']}")
    assert "Демо-версия: осталось 14 дн." in r.text and "Перевести на полную версию" in r.text


async def test_operator_forms_create_validate_and_block(web):
    ctx, url, op = web
    await op.post_form("/language", {"lang": "ru", "next": "/"})
    r = await op.post_form("/operator/accounts/new", {"name": "ИП Иванов", "email": "ivanov@", "requisites.inn": "1"})
    assert r.status_code == 422 and "Введите e-mail, например name@example.com." in r.text
    assert "ИНН — 10 цифр" in r.text and 'value="ИП Иванов"' in r.text      # what was typed stays
    r = await op.post_form("/operator/accounts/new", {"name": "ИП Иванов", "email": "ivanov@example.ru",
                                                      "contacts.phones": "+7 916 000-00-01, 8 916 000 00 02"})
    assert r.status_code == 302
    account_id = int(r.headers["location"].split("/")[3].split("?")[0])
    acc = (await op.get(f"/api/v1/operator/accounts/{account_id}")).json()
    assert acc["contacts"]["phones"] == ["+79160000001", "+79160000002"]
    r = await op.post_form("/operator/pbxes/new", {"account_id": str(account_id), "name": "Офис", "edition": "basic",
                                                   "time_zone": "Europe/Moscow"})
    assert r.status_code == 302
    pid = int(r.headers["location"].split("/")[3].split("?")[0])
    r = await op.post_form(f"/operator/pbxes/{pid}", {"action": "block", "until": "2020-01-01T10:00", "reason": "x"})
    assert r.status_code == 422 and "Окончание блокировки должно быть в будущем." in r.text
    future = (datetime.now(timezone.utc) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    r = await op.post_form(f"/operator/pbxes/{pid}", {"action": "block", "until": future, "reason": "спам"})
    assert r.status_code == 302
    page = await op.get(f"/operator/pbxes/{pid}?done=blocked")
    assert "ВАТС заблокирована." in page.text and "Исходящие звонки ограничены оператором до" in page.text
    r = await op.post_form("/operator/numbers", {"action": "add", "numbers": "74951110000-74951110004"})
    assert r.status_code == 302 and "n=5" in r.headers["location"]
    r = await op.post_form("/operator/settings", {"vat_rate": "abc", "captcha_mode": "always"})
    assert r.status_code == 422
    r = await op.post_form("/operator/settings", {"vat_rate": "22", "captcha_mode": "always", "captcha_after": "5"})
    assert r.status_code == 302
    assert (await op.get("/api/v1/operator/settings")).json()["vat_rate"] == 22


async def test_account_panel_shows_balance_state_and_top_up_by_role(web, store):
    ctx, url, op = web
    acc = await make_account(op)
    pbx = await make_pbx(op, acc["account_id"])
    await ctx.store.db["balances"].insert_one({"account_id": acc["account_id"], "balance": -12345})
    assert await account_balance(ctx.store.db, acc["account_id"]) == -12345
    await create_tenant_user(store, pbx["pbx_id"], "buh", "tenant-pass-1", role="accountant", language="en")
    await create_tenant_user(store, pbx["pbx_id"], "emp", "tenant-pass-1", role="employee", language="en")
    async with WebClient(url) as c:
        await c.login(f"{pbx['pbx_id']}/buh", "tenant-pass-1")
        page = await c.get("/account")
        assert page.status_code == 200 and "−123,45" in page.text and 'id="top-up"' in page.text
        assert "The account balance is below zero" in page.text
        state = (await c.get("/api/v1/pbx/state")).json()
        assert state["blocked"] and state["reasons"] == ["balance"]
    async with WebClient(url) as c:
        await c.login(f"{pbx['pbx_id']}/emp", "tenant-pass-1")
        page = await c.get("/account")
        assert page.status_code == 200 and 'id="top-up"' not in page.text
        assert (await c.get("/api/v1/account")).json()["can_top_up"] is False
        assert (await c.get("/account/login-settings")).status_code == 403


async def test_operator_changes_need_the_csrf_token(web):
    ctx, url, op = web
    r = await op.post("/api/v1/operator/accounts", json={"name": "X", "email": "x@example.ru"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf"
    r = await op.post("/operator/accounts/new", data={"name": "X", "email": "x@example.ru"})
    assert r.status_code == 403
    r = await op.post("/operator/accounts/new", data={"name": "X", "email": "x@example.ru", "_xsrf": "forged"})
    assert r.status_code == 403
    assert await ctx.store.db["accounts"].count_documents({}) == 0


async def test_account_administrator_edits_contacts_and_switches_pbx(web, store):
    from storage.repos.users import get_account_admin, set_password
    from storage.repos.tenants import save_platform_settings

    ctx, url, op = web
    acc = await make_account(op)
    p1 = await make_pbx(op, acc["account_id"])
    p2 = await make_pbx(op, acc["account_id"])
    admin = await get_account_admin(store, acc["account_id"])
    await set_password(store, admin["_id"], "account-pass-1")
    await ctx.store.db["accounts"].update_one({"account_id": acc["account_id"]},
                                              {"$set": {"offer": {"version": "1"}}})
    async with WebClient(url) as c:   # the account administrator reads Russian (the default)
        await c.login(str(acc["account_id"]), "account-pass-1")
        page = await c.get("/account")
        assert "7701234567" in page.text and 'id="top-up"' in page.text and "ВАТС лицевого счёта" in page.text
        r = await c.post_form("/account", {"action": "contacts", "person": "Иван", "phones": "12"})
        assert r.status_code == 422 and "Введите номера телефонов, например +7 916 123-45-67." in r.text
        r = await c.post_form("/account", {"action": "contacts", "person": "Иван", "phones": "8 916 000-00-09",
                                           "emails": "buh@romashka.ru"})
        assert r.status_code == 302
        got = (await op.get(f"/api/v1/operator/accounts/{acc['account_id']}")).json()
        assert got["contacts"] == {"person": "Иван", "phones": ["+79160000009"], "emails": ["buh@romashka.ru"]}
        assert (await c.get("/api/v1/me")).json()["pbx_id"] == p1["pbx_id"]
        r = await c.post_form("/account", {"action": "switch", "pbx_id": str(p2["pbx_id"])})
        assert r.status_code == 302 and (await c.get("/api/v1/me")).json()["pbx_id"] == p2["pbx_id"]
        r = await c.post_form("/account", {"action": "switch", "pbx_id": "999"})
        assert r.status_code == 404
    entry = await ctx.store.db["audit_log"].find_one({"operation": "contacts"})
    assert entry["account_id"] == acc["account_id"] and entry["actor"]["login"] == str(acc["account_id"])


async def test_a_pbx_page_shows_and_reads_dates_in_the_pbxs_time_zone(web):
    """The operator works on a Vladivostok PBX (UTC+10) from Moscow: the block's end is typed and shown
    in the PBX's time, as its users see it — 10:00 there is 00:00 UTC."""
    ctx, url, op = web
    acc = await make_account(op)
    pbx = await make_pbx(op, acc["account_id"], time_zone="Asia/Vladivostok")
    page = (await op.get(f"/operator/pbxes/{pbx['pbx_id']}")).text
    assert "Until (the PBX&#x27;s time, Asia/Vladivostok)" in page  # the form says whose time it is
    r = await op.post_form(f"/operator/pbxes/{pbx['pbx_id']}", {"action": "block", "until": "2099-01-01T10:00",
                                                                "reason": "спам"})
    assert r.status_code == 302, r.text
    until = (await get_pbx(ctx.store.db, pbx["pbx_id"]))["operator_block"]["until"]
    assert until.replace(tzinfo=until.tzinfo or timezone.utc) == datetime(2099, 1, 1, 0, 0, tzinfo=timezone.utc)
    assert "2099-01-01 10:00" in (await op.get(f"/operator/pbxes/{pbx['pbx_id']}")).text


NODES = json.dumps([{"name": "fs1", "host": "127.0.0.1", "sip": {"sip_ip": "10.0.0.5", "internal_port": 5070}},
                    {"name": "fs2", "host": "127.0.0.2"}])


@pytest.fixture
async def node_web(settings, store):
    async with operator_stack(settings.model_copy(update={"esl_nodes": NODES}), store) as stack:
        yield stack


async def test_node_sip_settings_through_the_api_validated_stored_and_audited(node_web):
    ctx, url, op = node_web
    got = (await op.get("/api/v1/operator/nodes/fs1/sip")).json()
    assert got["configured"]["sip_ip"] == "10.0.0.5" and got["configured"]["rtp_ip"] == "10.0.0.5"
    assert got["effective"]["internal_port"] == 5070 and got["effective"]["rtp_start_port"] is None
    assert set(got["stored"].values()) == {None}
    # every bad field is named, and nothing is stored
    r = await op.api("PUT", "/api/v1/operator/nodes/fs1/sip", json={
        "sip_ip": "10.0.0.256", "ext_sip_ip": "0.0.0.0", "rtp_ip": "224.0.0.1", "internal_port": "70000",
        "rtp_start_port": 80, "colour": "red"})
    assert r.status_code == 422
    fields = r.json()["error"]["fields"]
    assert fields == {
        "sip_ip": "Enter an IP address of the node, like 10.0.0.5, or auto.",
        "ext_sip_ip": "0.0.0.0 (or ::) is not an address phones can reach: enter the node's own address, or auto.",
        "rtp_ip": "A multicast address cannot be a SIP or media address.",
        "internal_port": "Enter a port number from 1 to 65535.",
        "rtp_start_port": "Enter an RTP port number from 1024 to 65535.",
        "colour": "There is no such setting."}
    # rules between fields, against the configuration's values too
    r = await op.api("PUT", "/api/v1/operator/nodes/fs1/sip", json={"external_port": 5070})
    assert r.status_code == 422 and r.json()["error"]["fields"] == {
        "external_port": "The two SIP profiles need different ports."}
    r = await op.api("PUT", "/api/v1/operator/nodes/fs1/sip", json={"rtp_start_port": 20000})
    assert r.json()["error"]["fields"] == {
        "rtp_end_port": "Give both ends of the RTP port range, or neither (the switch's own range)."}
    r = await op.api("PUT", "/api/v1/operator/nodes/fs1/sip", json={"rtp_start_port": 30000, "rtp_end_port": 20000})
    assert r.json()["error"]["fields"] == {"rtp_end_port": "The end of the RTP port range must be above its start."}
    r = await op.api("PUT", "/api/v1/operator/nodes/fs1/sip", json={"rtp_start_port": 5000, "rtp_end_port": 6000})
    assert r.json()["error"]["fields"] == {"rtp_start_port": "A SIP port lies inside the RTP port range."}
    assert await ctx.store.db["node_settings"].count_documents({}) == 0
    assert await ctx.store.db["audit_log"].count_documents({"section": "operator.nodes"}) == 0
    # a good change: stored, served, audited; fs2 untouched
    r = await op.api("PUT", "/api/v1/operator/nodes/fs1/sip", json={
        "sip_ip": " 192.0.2.10 ", "ext_sip_ip": "AUTO-NAT", "external_port": 5095,
        "rtp_start_port": "20000", "rtp_end_port": "20999", "rtp_ip": ""})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["stored"]["sip_ip"] == "192.0.2.10" and body["stored"]["ext_sip_ip"] == "auto-nat"
    assert body["stored"]["rtp_ip"] is None and body["effective"]["rtp_ip"] == "192.0.2.10"
    assert (body["effective"]["internal_port"], body["effective"]["external_port"]) == (5070, 5095)
    assert (body["effective"]["rtp_start_port"], body["effective"]["rtp_end_port"]) == (20000, 20999)
    assert set((await op.get("/api/v1/operator/nodes/fs2/sip")).json()["stored"].values()) == {None}
    assert await ctx.store.db["audit_log"].count_documents({"section": "operator.nodes"}) == 1
    entry = await ctx.store.db["audit_log"].find_one({"section": "operator.nodes"})
    assert entry["object"]["id"] == "fs1" and entry["before"]["sip_ip"] is None and entry["after"]["sip_ip"] == "192.0.2.10"
    assert entry["actor"]["login"] == "root"
    # a node that is not configured is not found
    assert (await op.get("/api/v1/operator/nodes/fs9/sip")).status_code == 404
    assert (await op.api("PUT", "/api/v1/operator/nodes/fs9/sip", json={})).status_code == 404


async def test_node_sip_settings_page_in_russian_and_english_keeps_what_was_typed(node_web):
    ctx, url, op = node_web
    page = (await op.get("/operator/nodes")).text
    assert "Node SIP settings" in page and 'href="/operator/nodes/fs1"' in page and "10.0.0.5" in page
    r = await op.post_form("/operator/nodes/fs1", {"sip_ip": "10.0.0.9", "rtp_start_port": "16384",
                                                   "rtp_end_port": "32768"})
    assert r.status_code == 302 and r.headers["location"] == "/operator/nodes/fs1?done=saved"
    page = (await op.get("/operator/nodes/fs1?done=saved")).text
    assert "Saved." in page and 'value="10.0.0.9"' in page and 'value="16384"' in page
    assert "sofia profile internal restart" in page and "post_load_switch.conf" in page
    assert "has not loaded its SIP settings from Pult yet" in page and 'id="pending"' not in page
    await op.post_form("/language", {"lang": "ru", "next": "/"})
    r = await op.post_form("/operator/nodes/fs1", {"sip_ip": "10.0.0.9", "ext_sip_ip": "моя-сеть",
                                                   "internal_port": "5080"})
    assert r.status_code == 422
    assert "Введите публичный IP-адрес, например 203.0.113.5, или auto-nat, или auto." in r.text
    assert "Двум профилям SIP нужны разные порты." in r.text
    assert 'value="моя-сеть"' in r.text                     # what was typed stays
    got = (await op.get("/api/v1/operator/nodes/fs1/sip")).json()
    assert got["stored"]["rtp_start_port"] == 16384 and got["stored"]["ext_sip_ip"] is None   # unchanged
    page = (await op.get("/operator/nodes")).text
    assert "Настройки SIP узлов" in page and "16384–32768" in page
    assert (await op.get("/operator/nodes/nope")).status_code == 404
    # empty fields give the configuration back
    r = await op.post_form("/operator/nodes/fs1", {})
    assert r.status_code == 302
    assert set((await op.get("/api/v1/operator/nodes/fs1/sip")).json()["stored"].values()) == {None}


async def test_a_tenant_never_reaches_node_sip_settings(node_web, store):
    ctx, url, op = node_web
    async with tenant_of_a_new_pbx(op, store, url) as tenant:
        for path in ("/operator/nodes", "/operator/nodes/fs1", "/api/v1/operator/nodes/fs1/sip"):
            assert (await tenant.get(path)).status_code == 403, path
        r = await tenant.api("PUT", "/api/v1/operator/nodes/fs1/sip", json={"sip_ip": "10.9.9.9"})
        assert r.status_code == 403
        r = await tenant.post_form("/operator/nodes/fs1", {"sip_ip": "10.9.9.9"})
        assert r.status_code == 403
    assert await ctx.store.db["node_settings"].count_documents({}) == 0


async def test_node_sip_page_shows_what_the_node_loaded_and_what_awaits_a_restart(node_web):
    from fs_config.request import XmlCurlRequest
    from fs_config.tenant_providers import TenantConfiguration

    ctx, url, op = node_web
    conf = TenantConfiguration(ctx.store.db, settings=ctx.settings, box=object())
    conf.gateways = _no_gateways

    async def ask(conf_name, **fields):
        req = XmlCurlRequest({"section": "configuration", "tag_name": "configuration", "key_name": "name",
                              "key_value": conf_name, "hostname": "fs1", "FreeSWITCH-Switchname": "fs1", **fields})
        return await (conf.sofia if conf_name == "sofia.conf" else conf.post_load_switch)(req)

    await ask("sofia.conf")                           # the switch starts: both profiles, then the core
    await ask("post_load_switch.conf")
    page = (await op.get("/operator/nodes/fs1")).text
    assert 'id="loaded-table"' in page and "10.0.0.5" in page and 'id="pending"' not in page
    r = await op.api("PUT", "/api/v1/operator/nodes/fs1/sip", json={"ext_sip_ip": "203.0.113.9",
                                                                  "rtp_start_port": 20000, "rtp_end_port": 21000})
    assert r.json()["pending"] == ["internal", "external", "core"]
    await ask("sofia.conf", profile="internal")       # sofia profile internal restart
    page = (await op.get("/operator/nodes/fs1")).text
    assert "<code>sofia profile external restart</code>" in page and "<code>sofia profile internal restart</code>" not in page.split('id="pending"')[1].split("</div>")[0]
    assert "the RTP range: restart FreeSWITCH" in page
    listing = (await op.get("/operator/nodes")).text
    assert "sofia profile external, FreeSWITCH" in listing


async def _no_gateways():
    return []


# --- platform gateways (esl_control/model/platform_gateways.py) ------------------------------------
async def test_platform_gateways_through_the_api_validated_encrypted_ordered_and_audited(web):
    from esl_control.model.crypto import SecretBox
    from esl_control.model.platform_gateways import password_owner
    from esl_control.model.provisioning import gateways as provisioning_gateways
    from storage.repos.tenants import stored_platform_gateways

    ctx, url, op = web
    url_ = "/api/v1/operator/platform-gateways"
    assert (await op.get(url_)).json() == {"gateways": []}
    # every bad field named by its place in the list; nothing stored, nothing logged
    r = await op.api("PUT", url_, json={"gateways": [
        {"name": "", "proxy": "sip carrier", "transport": "sctp", "colour": "red"},
        {"name": "Second", "proxy": "203.0.113.5:70000", "register": True},
        {"name": "second", "proxy": "sip.second.test", "password": "p"}]})
    assert r.status_code == 422
    assert r.json()["error"]["fields"] == {
        "0.colour": "There is no such setting.",
        "0.name": "Enter the gateway's name.",
        "0.proxy": "Enter the carrier's address as host or host:port, like sip.example.net or 203.0.113.5:5060.",
        "0.transport": "Choose the transport: udp, tcp or tls.",
        "1.proxy": "Enter a port number from 1 to 65535.",
        "1.username": "A gateway that registers needs a user name and a password.",
        "2.name": "Another gateway has this name.",
        "2.username": "A password needs the user name it belongs to."}
    assert await stored_platform_gateways(ctx.store.db) == []
    assert await ctx.store.db["audit_log"].count_documents({"section": "operator.gateways"}) == 0
    # two carriers: stored in order, the password encrypted and never shown back
    r = await op.api("PUT", url_, json={"gateways": [
        {"name": "Main carrier", "proxy": "SIP.Main.test", "username": "pult", "password": "s3cret!",
         "register": True, "transport": "tcp"},
        {"name": "Backup", "proxy": "198.51.100.7:5080", "caller_id_in_from": False}]})
    assert r.status_code == 200, r.text
    body = r.json()["gateways"]
    assert [g["name"] for g in body] == ["Main carrier", "Backup"]
    main, backup = body
    assert main["proxy"] == "sip.main.test:5060" and main["password_set"] and "password" not in main
    assert main["gateway"] == f"pult_platform_{main['id']}" and "s3cret" not in r.text
    assert backup["proxy"] == "198.51.100.7:5080" and backup["caller_id_in_from"] is False and not backup["password_set"]
    stored = await stored_platform_gateways(ctx.store.db)
    assert stored[0]["password_enc"].startswith("v1:") and "s3cret" not in json.dumps(stored)
    box = SecretBox.from_settings(ctx.settings)
    assert box.decrypt(stored[0]["password_enc"], password_owner(main["id"])) == "s3cret!"
    # the provisioning read model gives both to sofia.conf, the password in clear for the switch
    rows = [g for g in await provisioning_gateways(ctx.store.db, box) if g["kind"] == "platform"]
    assert [(g["name"], g["password"]) for g in rows] == [(main["gateway"], "s3cret!"), (backup["gateway"], None)]
    # reordered, the first switched off, its password kept when left empty
    r = await op.api("PUT", url_, json={"gateways": [
        {"id": backup["id"], "name": "Backup", "proxy": "198.51.100.7:5080"},
        {"id": main["id"], "name": "Main carrier", "proxy": "sip.main.test", "username": "pult", "password": "",
         "register": True, "enabled": False}]})
    assert r.status_code == 200, r.text
    assert [g["id"] for g in r.json()["gateways"]] == [backup["id"], main["id"]]
    assert r.json()["gateways"][1]["password_set"] and r.json()["gateways"][1]["enabled"] is False
    rows = [g["name"] for g in await provisioning_gateways(ctx.store.db, box) if g["kind"] == "platform"]
    assert rows == [backup["gateway"]]             # a disabled gateway is not served
    # an id that is not there is refused: a clash with what is stored (deleted meanwhile), 409
    r = await op.api("PUT", url_, json={"gateways": [{"id": "deadbeef", "name": "X", "proxy": "x.test"}]})
    assert r.status_code == 409 and "0.id" in r.json()["error"]["fields"]
    assert await ctx.store.db["audit_log"].count_documents({"section": "operator.gateways"}) == 2
    entry = await ctx.store.db["audit_log"].find_one({"section": "operator.gateways"}, sort=[("at", -1)])
    assert entry["actor"]["login"] == "root" and "s3cret" not in json.dumps(entry, default=str)


async def test_platform_gateways_page_in_russian_and_english(web):
    ctx, url, op = web
    page = (await op.get("/operator/gateways")).text
    assert "Platform gateways" in page and 'id="no-gateways"' in page
    r = await op.post_form("/operator/gateways/new", {"name": "Carrier", "proxy": "sip.carrier.test",
                                                      "username": "u1", "password": "pw-1", "register": "1",
                                                      "transport": "udp", "enabled": "1"})
    assert r.status_code == 302 and r.headers["location"] == "/operator/gateways?done=saved"
    r = await op.post_form("/operator/gateways/new", {"name": "Second", "proxy": "sip.second.test",
                                                      "transport": "udp", "enabled": "1"})
    assert r.status_code == 302
    gws = (await op.get("/api/v1/operator/platform-gateways")).json()["gateways"]
    assert [g["name"] for g in gws] == ["Carrier", "Second"] and gws[0]["register"] and gws[0]["password_set"]
    page = (await op.get("/operator/gateways?done=saved")).text
    assert "Saved." in page and "sip.carrier.test:5060" in page and "pw-1" not in page
    # move the second up; edit it keeping what was typed on a refusal, in Russian
    r = await op.post_form("/operator/gateways", {"id": gws[1]["id"], "action": "up"})
    assert r.status_code == 302
    assert [g["name"] for g in (await op.get("/api/v1/operator/platform-gateways")).json()["gateways"]] == \
        ["Second", "Carrier"]
    await op.post_form("/language", {"lang": "ru", "next": "/"})
    r = await op.post_form(f"/operator/gateways/{gws[0]['id']}", {"name": "Carrier", "proxy": "адрес оператора",
                                                                  "register": "1", "username": "u1",
                                                                  "transport": "udp"})
    assert r.status_code == 422
    assert "Введите адрес оператора связи в виде хост или хост:порт" in r.text and 'value="адрес оператора"' in r.text
    r = await op.post_form(f"/operator/gateways/{gws[0]['id']}", {"name": "Carrier", "proxy": "sip.carrier.test:5070",
                                                                  "register": "1", "username": "u1",
                                                                  "transport": "tcp", "enabled": "1"})
    assert r.status_code == 302                     # the stored password kept (register needs one)
    got = (await op.get("/api/v1/operator/platform-gateways")).json()["gateways"][1]
    assert got["proxy"] == "sip.carrier.test:5070" and got["transport"] == "tcp" and got["password_set"]
    page = (await op.get("/operator/gateways")).text
    assert "Шлюзы платформы" in page
    r = await op.post_form("/operator/gateways", {"id": gws[1]["id"], "action": "delete"})
    assert r.status_code == 302
    assert [g["name"] for g in (await op.get("/api/v1/operator/platform-gateways")).json()["gateways"]] == ["Carrier"]
    assert (await op.get("/operator/gateways/abcdef12")).status_code == 404


async def test_a_tenant_never_reaches_the_platform_gateways(web, store):
    ctx, url, op = web
    async with tenant_of_a_new_pbx(op, store, url) as tenant:
        for path in ("/operator/gateways", "/operator/gateways/new", "/api/v1/operator/platform-gateways"):
            assert (await tenant.get(path)).status_code == 403, path
        r = await tenant.api("PUT", "/api/v1/operator/platform-gateways",
                             json={"gateways": [{"name": "Evil", "proxy": "evil.test"}]})
        assert r.status_code == 403
        r = await tenant.post_form("/operator/gateways/new", {"name": "Evil", "proxy": "evil.test"})
        assert r.status_code == 403
    from storage.repos.tenants import stored_platform_gateways
    assert await stored_platform_gateways(ctx.store.db) == []
