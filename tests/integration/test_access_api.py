"""Roles, users' roles, personal protection, API keys and the action log over real HTTP: bad
input gets a specific message (RU/EN) and changes nothing; keys authenticate by Bearer, only from
their whitelist, are audited as "API" and die when revoked; CSRF guards session writes; the log
filters, searches, pages and exports CSV/XLSX."""
from __future__ import annotations

import csv
import io
from datetime import timedelta
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from pult import clock
from pult.clock import FixedClock, use_clock
from storage.repos.audit import audit
from storage.repos.base import Scope
from storage.repos.tenants import create_account, create_pbx
from storage.repos.users import create_tenant_user
from tests.integration.harness import cheap_hashes  # noqa: F401  (autouse)
from web.enforce import hash_secret
from web.testing import WebClient, web_stack

PBX = 101
MSK = ZoneInfo("Europe/Moscow")


@pytest.fixture
async def web(settings, store):
    admin = await create_tenant_user(store, PBX, "admin", "tenant-pass-0", language="en", display_name="Ada Admin")
    head = await create_tenant_user(store, PBX, "head", "tenant-pass-1", language="en", role="company_head",
                                    display_name="Hugo Head")
    async with web_stack(settings, store) as (ctx, url):
        async with WebClient(url, headers={"Accept-Language": "en"}) as c:
            await c.login(f"{PBX}/admin", "tenant-pass-0")
            yield ctx, url, c, admin, head


async def test_custom_role_validation_is_specific_and_saves_nothing(web):
    ctx, url, c, *_ = web
    cases = [
        ({"name": " ", "base": "employee"}, {"name": "This field is required."}),
        ({"name": "Administrator", "base": "employee"}, {"name": "This is the name of a base role; choose another."}),
        ({"name": "X", "base": "no_access"}, {"base": "This value is not supported."}),
        ({"name": "X", "base": "employee", "sections": {"calls": {"level": "edit"}}},
         {"sections.calls.level": "This section can only be viewed."}),
        ({"name": "X", "base": "employee", "sections": {"planets": {"level": "view"}}},
         {"sections.planets": "Unknown section."}),
        ({"name": "X", "base": "employee", "sections": {"groups": {"level": "all"}}},
         {"sections.groups.level": "This value is not supported."}),
    ]
    for body, fields in cases:
        r = await c.api("POST", "/api/v1/roles", json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"]["fields"] == fields, body
    assert await ctx.store.db["roles"].count_documents({}) == 0
    assert await ctx.store.db["audit_log"].count_documents({}) == 0
    ok = await c.api("POST", "/api/v1/roles", json={"name": "Support", "base": "employee"})
    assert ok.status_code == 201
    dup = await c.api("POST", "/api/v1/roles", json={"name": "  support ", "base": "accountant"})
    assert dup.json()["error"]["fields"] == {"name": "A role with this name already exists."}
    await c.api("PATCH", "/api/v1/me", json={"language": "ru"})
    r = await c.api("POST", "/api/v1/roles", json={"name": "Бухгалтер", "base": "employee"})
    assert r.json()["error"] == {"code": "validation_error", "message": "Некоторые поля заполнены неверно.",
                                 "fields": {"name": "Так называется базовая роль; выберите другое название."}}
    base = await c.api("PATCH", "/api/v1/roles/employee", json={"name": "Mine"})
    assert base.status_code == 409


async def test_role_editing_is_audited_and_nobody_escalates(web):
    ctx, url, c, admin, head = web
    r = await c.api("POST", "/api/v1/roles", json={"name": "Deputy", "base": "company_head",
                                                   "sections": {"trunks": {"level": "view"}}})
    rid = r.json()["id"]
    assert r.json()["sections"]["trunks"] == {"level": "view", "reach": "all"}
    r = await c.api("PATCH", f"/api/v1/roles/{rid}", json={"sections": {"finance": {"level": "none"}}})
    assert r.json()["sections"]["finance"]["level"] == "none" and r.json()["sections"]["trunks"]["level"] == "view"
    entries = await ctx.store.db["audit_log"].find({"object.id": rid}).sort("at", 1).to_list(None)
    assert [e["operation"] for e in entries] == ["create", "update"]
    upd = entries[1]
    assert upd["actor"] == {"kind": "user", "login": f"{PBX}/admin", "ip": "127.0.0.1", "name": "Ada Admin"}
    assert upd["before"]["sections"]["finance"]["level"] == "edit" and upd["after"]["sections"]["finance"]["level"] == "none"
    # a Company head derived role holder with access settings could not hand out more than it has
    r = await c.api("POST", "/api/v1/roles", json={"name": "Head with access", "base": "company_head",
                                                   "sections": {"access": {"level": "edit"}}})
    hid = r.json()["id"]
    await c.api("PATCH", f"/api/v1/access/users/{head['_id']}", json={"role": hid})
    async with WebClient(url, headers={"Accept-Language": "en"}) as h:
        await h.login(f"{PBX}/head", "tenant-pass-1")
        r = await h.api("POST", "/api/v1/roles", json={"name": "Sneaky", "base": "administrator"})
        assert r.status_code == 422
        assert r.json()["error"]["fields"] == {"sections.restrictions": "You cannot give more rights than you have yourself."}
        r = await h.api("PATCH", f"/api/v1/access/users/{admin['_id']}", json={"role": "employee"})
        assert r.json()["error"]["fields"] == {"role": "You cannot change the role of a user who has more rights than you."}
        r = await h.api("PATCH", f"/api/v1/access/users/{head['_id']}", json={"role": "administrator"})
        assert r.json()["error"]["fields"] == {"role": "You cannot change your own role."}
    assert (await ctx.store.db["users"].find_one({"_id": admin["_id"]}))["role"] == "administrator"


async def test_personal_protection_of_a_company_head_keeps_their_role(web):
    ctx, url, c, admin, head = web
    async with WebClient(url, headers={"Accept-Language": "en"}) as h:
        await h.login(f"{PBX}/head", "tenant-pass-1")
        assert (await h.get("/api/v1/me/protection")).json() == {"recordings": False, "recordings_api": False,
                                                                 "passwords": False, "role": False}
        r = await h.api("PUT", "/api/v1/me/protection", json={"recordings": True, "role": True})
        assert r.status_code == 200 and r.json()["role"] is True
        bad = await h.api("PUT", "/api/v1/me/protection", json={"role": "maybe"})
        assert bad.json()["error"]["fields"] == {"role": "Must be true or false."}
    r = await c.api("PATCH", f"/api/v1/access/users/{head['_id']}", json={"role": "employee"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "protected"
    assert (await ctx.store.db["users"].find_one({"_id": head["_id"]}))["role"] == "company_head"
    assert (await c.get("/api/v1/me/protection")).status_code == 403  # administrators have no such widget
    users = (await c.get("/api/v1/access/users")).json()["items"]
    assert {u["login"]: u["protected_role"] for u in users} == {"admin": False, "head": True}


async def test_api_keys_secret_once_hash_only_whitelist_audit_and_revoke(web):
    ctx, url, c, *_ = web
    bad = await c.api("POST", "/api/v1/api-keys", json={"name": "CRM", "role": "employee",
                                                        "whitelist": ["10.0.0.1", "192.168.1.300"]})
    assert bad.status_code == 422
    assert bad.json()["error"]["fields"] == {
        "whitelist.1": "Each part must be a number from 0 to 255, a range like 16-32, or *."}
    empty = await c.api("POST", "/api/v1/api-keys", json={"name": "CRM", "role": "employee", "whitelist": []})
    assert empty.json()["error"]["fields"] == {"whitelist": "Add at least one address; * allows every address."}
    norole = await c.api("POST", "/api/v1/api-keys", json={"name": "CRM", "role": "no_access", "whitelist": ["*"]})
    assert "role" in norole.json()["error"]["fields"]
    assert await ctx.store.db["api_keys"].count_documents({}) == 0

    r = await c.api("POST", "/api/v1/api-keys", json={"name": "CRM", "role": "administrator",
                                                      "whitelist": ["127.0.0.1", "10.1-5"]})
    assert r.status_code == 201
    key = r.json()
    secret, kid = key["secret"], key["id"]
    stored = await ctx.store.db["api_keys"].find_one({"_id": kid})
    assert secret not in str(stored) and stored["secret_hash"] == hash_secret(secret)
    listed = (await c.get(f"/api/v1/api-keys/{kid}")).json()
    assert "secret" not in listed and listed["prefix"] == f"pult_{kid}_…" and listed["active"]

    async with WebClient(url) as k:  # no cookies at all, no CSRF token
        auth = {"Authorization": f"Bearer {secret}"}
        r = await k.request("POST", "/api/v1/roles", json={"name": "By API", "base": "employee"}, headers=auth)
        assert r.status_code == 201, r.text
        entry = await ctx.store.db["audit_log"].find_one({"object.name": "By API"})
        assert entry["actor"]["kind"] == "api" and entry["actor"]["login"] == f"api:{kid}"
        assert entry["actor"]["name"] == "CRM" and entry["pbx_id"] == PBX
        assert (await ctx.store.db["api_keys"].find_one({"_id": kid}))["last_ip"] == "127.0.0.1"
        # personal endpoints are not for keys; a wrong or malformed key is 401
        assert (await k.get("/api/v1/me/rights", headers=auth)).status_code == 403
        r = await k.get("/api/v1/roles", headers={"Authorization": f"Bearer {secret[:-2]}xx"})
        assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
        assert (await k.get("/api/v1/roles", headers={"Authorization": "Bearer nonsense"})).status_code == 401
        # from outside the whitelist: refused
        assert (await c.api("PATCH", f"/api/v1/api-keys/{kid}", json={"whitelist": ["10.0.0.*"]})).status_code == 200
        r = await k.get("/api/v1/roles", headers=auth)
        assert r.status_code == 403 and r.json()["error"]["code"] == "ip_not_allowed"
        assert "127.0.0.1" in r.json()["error"]["message"]
        await c.api("PATCH", f"/api/v1/api-keys/{kid}", json={"whitelist": ["127.0.0.*"]})
        assert (await k.get("/api/v1/roles", headers=auth)).status_code == 200
        # revoked: never again
        assert (await c.api("DELETE", f"/api/v1/api-keys/{kid}")).status_code == 204
        assert (await k.get("/api/v1/roles", headers=auth)).status_code == 401
        again = await c.api("PATCH", f"/api/v1/api-keys/{kid}", json={"name": "back"})
        assert again.status_code == 409
    ops = [e["operation"] for e in await ctx.store.db["audit_log"].find({"object.id": kid}).sort("at", 1).to_list(None)]
    assert ops == ["create", "update", "update", "revoke"]


async def test_csrf_guards_every_session_write_of_access(web):
    ctx, url, c, admin, head = web
    r = await c.api("POST", "/api/v1/roles", json={"name": "Target", "base": "employee"})
    rid = r.json()["id"]
    k = (await c.api("POST", "/api/v1/api-keys", json={"name": "K", "role": "employee", "whitelist": ["*"]})).json()
    writes = [("POST", "/api/v1/roles", {"name": "Forged", "base": "employee"}),
              ("PATCH", f"/api/v1/roles/{rid}", {"name": "Forged"}),
              ("DELETE", f"/api/v1/roles/{rid}", None),
              ("PATCH", f"/api/v1/access/users/{head['_id']}", {"role": "employee"}),
              ("PUT", "/api/v1/access/settings", {"supervised_mode": "all"}),
              ("POST", "/api/v1/api-keys", {"name": "Forged", "role": "employee", "whitelist": ["*"]}),
              ("PATCH", f"/api/v1/api-keys/{k['id']}", {"name": "Forged"}),
              ("DELETE", f"/api/v1/api-keys/{k['id']}", None)]
    before = await ctx.store.db["audit_log"].count_documents({})
    for method, path, body in writes:
        r = await c.request(method, path, json=body)  # the cookie, but no X-XSRFToken
        assert r.status_code == 403 and r.json()["error"]["code"] == "csrf", (method, path)
    for path in ("/access/roles/new", f"/access/roles/{rid}/delete", f"/access/api-keys/{k['id']}/revoke",
                 "/access/api-keys"):
        r = await c.post(path, data={"name": "Forged", "role": "employee", "whitelist": "*"})
        assert r.status_code == 403, path
    assert await ctx.store.db["audit_log"].count_documents({}) == before
    assert (await ctx.store.db["roles"].find_one({"_id": rid}))["name"] == "Target"


async def test_action_log_filters_search_pages_and_exports(web):
    """(At 22:30 UTC: already tomorrow in Moscow, the time zone the period is typed in.)"""
    with use_clock(FixedClock("2026-12-06T22:30:00Z")):
        await _action_log_filters_search_pages_and_exports(web)


async def _action_log_filters_search_pages_and_exports(web):
    ctx, url, c, *_ = web
    db, scope = ctx.store.db, Scope.pbx(PBX)
    t0 = clock.now()
    await audit(db, scope, actor={"kind": "user", "login": f"{PBX}/anna", "name": "Анна Петрова", "ip": "10.0.0.7"},
                section="groups", operation="update", object={"type": "group", "id": "g1", "name": "Sales"},
                before={"name": "Sale"}, after={"name": "Sales"})
    await audit(db, scope, actor={"kind": "system"}, section="messages", operation="send",
                object={"type": "voicemail", "id": "v1", "name": "=HYPERLINK(\"x\")"})
    await audit(db, scope, actor={"kind": "api", "login": "api:abc", "name": "CRM", "ip": "10.9.9.9"},
                section="employees", operation="create", object={"type": "employee", "id": "e1", "name": "Boris"})
    await audit(db, Scope.pbx(202), actor={"kind": "user", "login": "202/zed", "ip": "10.0.0.7"},
                section="groups", operation="update", object={"type": "group", "id": "g9", "name": "Other PBX"})
    await db["audit_log"].update_one({"object.id": "e1"}, {"$set": {"at": t0 - timedelta(days=3)}})

    def items(r):
        assert r.status_code == 200, r.text
        return [e["object"]["name"] for e in r.json()["items"]]

    assert items(await c.get("/api/v1/action-log")) == ["=HYPERLINK(\"x\")", "Sales", "Boris"]
    assert items(await c.get("/api/v1/action-log", params={"q": "Анна Петрова"})) == ["Sales"]
    assert items(await c.get("/api/v1/action-log", params={"q": "Петрова Анна"})) == []  # word order matters
    assert items(await c.get("/api/v1/action-log", params={"q": "10.0.0.7"})) == ["Sales"]
    assert items(await c.get("/api/v1/action-log", params={"q": "101/anna"})) == ["Sales"]
    assert items(await c.get("/api/v1/action-log", params={"q": "Группы"})) == ["Sales"]        # section, RU title
    assert items(await c.get("/api/v1/action-log", params={"q": "created"})) == ["Boris"]       # operation title
    assert items(await c.get("/api/v1/action-log", params={"actor": "system"})) == ["=HYPERLINK(\"x\")"]
    today = clock.today(MSK).isoformat()  # 2026-12-07: the PBX's date, not the server's
    since = (clock.today(MSK) - timedelta(days=1)).isoformat()
    assert items(await c.get("/api/v1/action-log", params={"from": since, "to": today})) == ["=HYPERLINK(\"x\")", "Sales"]
    bad = await c.get("/api/v1/action-log", params={"from": today, "to": since})
    assert bad.status_code == 400 and bad.json()["error"]["fields"] == {"to": "The end of the period is before its start."}
    bad = await c.get("/api/v1/action-log", params={"from": "yesterday"})
    assert bad.json()["error"]["fields"] == {"from": "Enter a date as YYYY-MM-DD."}
    page2 = (await c.get("/api/v1/action-log", params={"per_page": 2, "page": 2})).json()
    assert page2["total"] == 3 and [e["object"]["name"] for e in page2["items"]] == ["Boris"]
    sys_entry = (await c.get("/api/v1/action-log", params={"actor": "system"})).json()["items"][0]
    assert sys_entry["actor"]["label"] == "System" and sys_entry["operation_title"] == "Sent"

    r = await c.get("/api/v1/action-log/export", params={"format": "csv", "q": "10.0.0.7"})
    assert r.headers["content-type"].startswith("text/csv") and "attachment" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:4] == ["Time", "Actor", "Login", "IP address"]
    assert rows[1][1:7] == ["Анна Петрова", "101/anna", "10.0.0.7", "Groups", "Changed", "Sales"]
    assert rows[1][0] == "2026-12-07 01:30:00"  # PBX time
    assert rows[1][7] == "Name: Sale → Sales" and len(rows) == 2  # the field's name, not its key
    r = await c.get("/api/v1/action-log/export", params={"format": "xlsx"})
    sheet = openpyxl.load_workbook(io.BytesIO(r.content)).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert len(values) == 4 and values[1][1] == "System"
    assert values[1][6] == "'=HYPERLINK(\"x\")" or values[1][6] == "=HYPERLINK(\"x\")"
    assert sheet.cell(2, 7).data_type == "s"  # text, never a formula
    assert (await c.get("/api/v1/action-log/export", params={"format": "pdf"})).status_code == 400
    page = await c.get("/access/log", params={"q": "Sales"})
    assert page.status_code == 200 and "Анна Петрова" in page.text and "Boris" not in page.text
    assert "/api/v1/action-log/export?format=xlsx&amp;q=Sales" in page.text


async def test_action_log_changes_in_words_and_times_in_the_pbx_zone(settings, store):
    """The «Changes» column names the fields in the user's language with old → new values (no raw
    ``features: {…}; created_at: …`` dump), on the page, in the API and in the exports; times are the
    PBX's (Vladivostok, UTC+10), not the server's or Moscow's."""
    db = store.db
    acc = await create_account(db, "ООО «Восток»", "boss@vostok.example")
    pbx = (await create_pbx(db, acc["account_id"], "Восток", "pult.test", time_zone="Asia/Vladivostok"))["pbx_id"]
    await create_tenant_user(store, pbx, "admin", "tenant-pass-0", language="ru")
    with use_clock(FixedClock("2026-12-06T22:30:00Z")):
        t = clock.now()
        await audit(db, Scope.pbx(pbx), actor={"kind": "user", "login": f"{pbx}/admin", "name": "Админ"},
                    section="groups", operation="update", object={"type": "group", "id": "g1", "name": "Продажи"},
                    before={"_id": "g1", "name": "Продажи", "ring_time": 20, "features": {"fax": False, "ldap": True},
                            "created_at": t - timedelta(days=1), "updated_at": t - timedelta(days=1)},
                    after={"_id": "g1", "name": "Продажи", "ring_time": 30, "features": {"fax": True, "ldap": True},
                           "created_at": t - timedelta(days=1), "updated_at": t})
        async with web_stack(settings, store) as (_ctx, url):
            async with WebClient(url, headers={"Accept-Language": "ru"}) as c:
                await c.login(f"{pbx}/admin", "tenant-pass-0")
                want = "Время дозвона: 20 → 30; Функции: Факсы: нет → да"
                item = (await c.get("/api/v1/action-log")).json()["items"][0]
                assert item["changes"] == want
                page = (await c.get("/access/log")).text
                assert want in page and "created_at" not in page and "{…}" not in page
                assert "07.12.2026 08:30:00" in page  # 22:30 UTC at the PBX in Vladivostok
                r = await c.get("/api/v1/action-log/export", params={"format": "csv"})
                rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig")), delimiter=";"))
                assert rows[0][7] == "Изменения" and rows[1][7] == want and rows[1][0] == "2026-12-07 08:30:00"
                # the period is typed in the PBX's dates too: 7 December there, still the 6th in UTC
                days = {d: len((await c.get("/api/v1/action-log", params={"from": d, "to": d})).json()["items"])
                        for d in ("2026-12-06", "2026-12-07")}
                assert days == {"2026-12-06": 0, "2026-12-07": 1}
            async with WebClient(url, headers={"Accept-Language": "en"}) as c:
                await create_tenant_user(store, pbx, "ann", "tenant-pass-1", language="en")
                await c.login(f"{pbx}/ann", "tenant-pass-1")
                item = (await c.get("/api/v1/action-log")).json()["items"][0]
                assert item["changes"] == "Ring time: 20 → 30; Features: Faxes: no → yes"
