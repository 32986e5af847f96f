"""Issue 13: the account panel, the login settings and the dashboard over /api/v1, through the
use cases their pages call (web/account/details.py, web.api.calls.call_stats): the same checks,
the same refusals, the same audit entries; a PBX's API key acts with its role."""
from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone

from pult import clock
from storage.repos.calls import save_call_record
from storage.repos.users import get_account_admin, set_password
from tests.integration.harness import cheap_hashes, new_account_pbx  # noqa: F401  (cheap_hashes: autouse)
from tests.integration.test_account_details import web  # noqa: F401  (the account, its PBX and four users)
from web.testing import WebClient

GOOD = {"inn": "7707083893", "kpp": "773601001", "ogrn": "1027700132195", "bik": "044525225",
        "bank": "ПАО Сбербанк", "corr_account": "30101810400000000225",
        "settlement_account": "40702810900000000001", "legal_address": "Москва, ул. Вавилова, 19"}
NOW = datetime(2026, 6, 10, 12, 0, tzinfo=timezone.utc)  # 15:00 in Moscow


@asynccontextmanager
async def _client(url: str, pbx: int, login: str):
    async with WebClient(url, headers={"Accept-Language": "en"}) as c:
        await c.login(f"{pbx}/{login}", "tenant-pass-1")
        yield c


async def _key(url: str, pbx: int, role: str) -> dict:
    async with _client(url, pbx, "adm") as c:
        r = await c.api("POST", "/api/v1/api-keys", json={"name": f"{role} key", "role": role,
                                                          "whitelist": ["127.0.0.1"]})
        assert r.status_code == 201, r.text
        return {"Authorization": f"Bearer {r.json()['secret']}", "Accept-Language": "en"}


async def test_requisites_and_contacts_over_the_api_validated_audited_and_shown_on_the_panel(web):
    ctx, url, op, pbx, account_id = web
    db = ctx.store.db
    before = (await db["accounts"].find_one({"account_id": account_id})).get("requisites")
    async with _client(url, pbx, "buh") as c:
        assert (await c.get("/api/v1/account/requisites")).json() == {k: None for k in (*GOOD, "postal_address")}
        bad = {**GOOD, "inn": "7707083894", "kpp": "7736", "corr_account": "301"}
        r = await c.api("PUT", "/api/v1/account/requisites", json=bad)
        assert r.status_code == 422, r.text
        fields = r.json()["error"]["fields"]
        assert fields["inn"] == "This INN does not exist: its check digits do not match. Check the number."
        assert fields["kpp"] == "The KPP has 9 digits." and "corr_account" in fields
        assert (await db["accounts"].find_one({"account_id": account_id})).get("requisites") == before
        assert (await c.api("PUT", "/api/v1/account/requisites", json={**GOOD, "color": "red"})).status_code == 422
        r = await c.api("PUT", "/api/v1/account/requisites", json={**GOOD, "inn": "77 0708 3893"})
        assert r.status_code == 200, r.text
        assert r.json()["inn"] == "7707083893" and r.json()["postal_address"] is None
        assert (await c.get("/api/v1/account/requisites")).json() == r.json()
        assert 'value="044525225"' in (await c.get("/account")).text  # the panel shows what the API saved
        r = await c.api("PUT", "/api/v1/account/contacts", json={"person": "Иван", "phones": ["12"]})
        assert r.status_code == 422 and r.json()["error"]["fields"]["phones"] == \
            "Enter phone numbers like +7 916 123-45-67."
        r = await c.api("PUT", "/api/v1/account/contacts", json={"person": "Иван", "phones": ["8 916 000-00-09"],
                                                                  "emails": ["buh@romashka.ru"]})
        assert r.json() == {"person": "Иван", "phones": ["+79160000009"], "emails": ["buh@romashka.ru"]}
    # the operator sees the same; one audit entry per change, as from the panel's forms
    got = (await op.get(f"/api/v1/operator/accounts/{account_id}")).json()
    assert got["contacts"]["phones"] == ["+79160000009"] and got["requisites"]["bik"] == "044525225"
    assert await db["audit_log"].count_documents({"section": "account", "operation": "requisites"}) == 1
    assert await db["audit_log"].count_documents({"section": "account", "operation": "contacts"}) == 1


async def test_requisites_follow_the_finance_rule_for_sessions_and_keys(web):
    ctx, url, op, pbx, account_id = web
    for login in ("head", "emp"):
        async with _client(url, pbx, login) as c:
            r = await c.api("PUT", "/api/v1/account/contacts", json={"person": login})
            assert r.status_code == 403, (login, r.text)
            assert (await c.get("/api/v1/account/requisites")).status_code == 403
    accountant, head = await _key(url, pbx, "accountant"), await _key(url, pbx, "company_head")
    async with WebClient(url) as anon:
        r = await anon.request("PUT", "/api/v1/account/contacts", json={"person": "Бухгалтерия"}, headers=accountant)
        assert r.status_code == 200 and r.json()["person"] == "Бухгалтерия"
        r = await anon.request("PUT", "/api/v1/account/contacts", json={"person": "Директор"}, headers=head)
        assert r.status_code == 403
        assert r.json()["error"]["message"] == ("Requisites and contacts are changed by the account administrator, "
                                                "accountants and administrators.")
    stored = await ctx.store.db["accounts"].find_one({"account_id": account_id})
    assert stored["contacts"]["person"] == "Бухгалтерия"


async def test_login_settings_over_the_api_are_the_page_s(web):
    ctx, url, op, pbx, account_id = web
    admin_key = await _key(url, pbx, "administrator")
    async with _client(url, pbx, "adm") as c, _client(url, pbx, "emp") as emp, WebClient(url) as anon:
        r = await anon.request("GET", "/api/v1/account/login-settings", headers=admin_key)
        assert r.json() == {"captcha_always": False, "login_methods": {"email": True, "phone": True, "sip": True}}
        r = await anon.request("PUT", "/api/v1/account/login-settings", headers=admin_key,
                               json={"captcha_always": True, "login_methods": {"fax": True}})
        assert r.status_code == 422 and "login_methods.fax" in r.json()["error"]["fields"]
        r = await anon.request("PUT", "/api/v1/account/login-settings", headers=admin_key,
                               json={"captcha_always": True, "login_methods": {"sip": False}})
        assert r.status_code == 200, r.text
        assert r.json() == {"captcha_always": True, "login_methods": {"email": True, "phone": True, "sip": False}}
        # it works: a login now needs a captcha
        async with WebClient(url, headers={"Accept-Language": "en"}) as late:
            r = await late.api("POST", "/api/v1/session", json={"login": f"{pbx}/head", "password": "tenant-pass-1"})
            assert r.status_code == 401 and r.json()["error"]["code"] == "captcha_required"
        page = (await c.get("/account/login-settings")).text
        assert 'name="captcha_always" value="1" checked' in page
        r = await c.post_form("/account/login-settings", {"login_email": "1", "login_phone": "1"})
        assert r.status_code == 302
        assert (await c.get("/api/v1/account/login-settings")).json() == {
            "captcha_always": False, "login_methods": {"email": True, "phone": True, "sip": False}}
        r = await emp.api("PUT", "/api/v1/account/login-settings", json={"captcha_always": True})
        assert r.status_code == 403   # the Security settings right
    assert await ctx.store.db["audit_log"].count_documents({"operation": "login_settings"}) == 2


async def test_the_account_administrator_converts_a_demo_over_the_api(web, store):
    ctx, url, op, pbx, account_id = web
    db = ctx.store.db
    r = await op.api("POST", "/api/v1/operator/pbxes", json={"account_id": account_id, "name": "Демо",
                                                             "edition": "basic", "demo": True})
    demo = r.json()["pbx_id"]
    other_account, other_pbx = await new_account_pbx(op, "ООО Лютик", "boss@lutik.ru", "basic")
    await db["pbxes"].update_one({"pbx_id": other_pbx}, {"$set": {"status": "demo"}})
    admin = await get_account_admin(store, account_id)
    await set_password(store, admin["_id"], "account-pass-1")
    await db["accounts"].update_one({"account_id": account_id}, {"$set": {"offer": {"version": "1"}}})
    async with WebClient(url, headers={"Accept-Language": "en"}) as c:
        await c.login(str(account_id), "account-pass-1")
        # the panel's facts: the account's PBXs (the account administrator), quotas with their use
        panel = (await c.get("/api/v1/account")).json()
        assert {(p["pbx_id"], p["status"]) for p in panel["pbxes"]} == {(pbx, "active"), (demo, "demo")}
        employees = next(q for q in panel["quotas"] if q["kind"] == "employees")
        assert employees["used"] >= 0 and panel["edition"] == "corporate"
        r = await c.api("POST", f"/api/v1/account/pbxes/{demo}/convert")
        assert r.status_code == 409 and r.json()["error"]["code"] == "insufficient_funds"
        await db["balances"].insert_one({"account_id": account_id, "balance": 10_000_000})
        r = await c.api("POST", f"/api/v1/account/pbxes/{other_pbx}/convert")  # another account's PBX
        assert r.status_code == 404
        r = await c.api("POST", f"/api/v1/account/pbxes/{demo}/convert")
        assert r.status_code == 200 and r.json() == {"pbx_id": demo, "status": "active"}
        r = await c.api("POST", f"/api/v1/account/pbxes/{demo}/convert")
        assert r.status_code == 409 and r.json()["error"]["code"] == "not_demo"
    assert (await db["pbxes"].find_one({"pbx_id": demo}))["status"] == "active"
    assert (await db["pbxes"].find_one({"pbx_id": other_pbx}))["status"] == "demo"
    assert await db["audit_log"].count_documents({"operation": "convert_demo", "pbx_id": demo}) == 1
    # a PBX administrator is not the account administrator; a key never is
    async with _client(url, pbx, "adm") as c:
        assert (await c.api("POST", f"/api/v1/account/pbxes/{pbx}/convert")).status_code == 403
    async with WebClient(url) as anon:
        r = await anon.request("POST", f"/api/v1/account/pbxes/{pbx}/convert",
                               headers=await _key(url, pbx, "administrator"))
        assert r.status_code == 403


async def test_dashboard_api_counts_today_s_calls_within_the_reach_like_the_page(web):
    ctx, url, op, pbx, account_id = web
    calls = [(NOW - timedelta(hours=1), 20), (NOW - timedelta(hours=2), 0), (NOW - timedelta(hours=3), 15),
             (NOW - timedelta(days=2), 30)]
    for i, (start, billsec) in enumerate(calls):
        await save_call_record(ctx.store.db, {"uuid": f"dash-{i}", "pbx_id": pbx, "caller": "79160000000",
                                              "callee": "101", "start": start, "end": start + timedelta(seconds=40),
                                              "billsec": billsec, "direction": "inbound"})
    await save_call_record(ctx.store.db, {"uuid": "dash-other", "pbx_id": pbx + 1000, "caller": "1",
                                          "callee": "2", "start": NOW - timedelta(minutes=5), "billsec": 5})
    key = await _key(url, pbx, "administrator")
    with clock.use_clock(clock.FixedClock(NOW)):
        async with _client(url, pbx, "adm") as c:
            got = (await c.get("/api/v1/dashboard")).json()
            page = (await c.get("/")).text
        async with WebClient(url) as anon:
            by_key = (await anon.request("GET", "/api/v1/dashboard", headers=key)).json()
        async with _client(url, pbx, "emp") as c:   # an Employee with no card of their own: no calls
            own = (await c.get("/api/v1/dashboard")).json()
    assert {k: got[k] for k in ("today", "answered", "unanswered", "total")} == \
        {"today": 3, "answered": 2, "unanswered": 1, "total": 4}
    assert [c["uuid"] for c in got["recent"]] == ["dash-0", "dash-1", "dash-2", "dash-3"]
    assert got["since"] == "2026-06-09T21:00:00+00:00"  # midnight in Moscow
    assert "answered: 2 · not answered: 1" in page
    assert by_key == got
    assert own["today"] == own["total"] == 0 and own["recent"] == []
