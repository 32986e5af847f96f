"""Every change leaves exactly one action-log entry (PRODUCT.md §6, inventory D §4.6.3.2).

The route table is driven: each state-changing route of the access, auth, operator and profile
areas has a registered successful call below (or a stated reason in ``NOT_CHANGES``); the test
makes the call and counts the entries it added. Telephony and finance routes are audited by
their own services and checked in their own tests (test_tel_*, test_finance_*)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Awaitable, Callable

import pytest

from storage.repos.tenants import get_platform_settings, update_account
from storage.repos.users import create_operator_admin, create_tenant_user, set_password
from tests.integration.harness import cheap_hashes  # noqa: F401  (autouse)
from web.routes import all_routes
from web.testing import WebClient, web_stack

PBX = 101
OWN_MODULES = ("web.access.", "web.auth.", "web.operator.", "web.account.", "web.api.me", "web.api.session",
               "web.pages.")

#: state-changing routes that change no stored data of a tenant/operator, with the reason
NOT_CHANGES = {
    ("POST", "/login"): "signing in starts a session (listed under «Sessions»), it changes no data",
    ("POST", "/api/v1/session"): "signing in, as /login",
    ("DELETE", "/api/v1/session"): "signing out ends this session only",
    ("POST", "/logout"): "signing out, as DELETE /api/v1/session",
    ("POST", "/password/reset"): "sends a code; the reset itself is logged (test_auth_recovery)",
    ("POST", "/api/v1/password/codes"): "sends a code, as /password/reset",
    ("POST", "/password/account"): "sends a link; its use is logged (test_auth_recovery)",
    ("POST", "/api/v1/password/account-links"): "sends a link, as /password/account",
}
#: form twins of API routes: the same service function (and its one audit call) behind a form
FORM_TWINS = {
    ("POST", "/password/code/{flow}"): "/api/v1/password/codes/{flow}",
    ("POST", "/password/link/{token}"): "/api/v1/password/links/{token}",
    ("POST", "/operator/accounts/new"): "/api/v1/operator/accounts",
    ("POST", "/operator/accounts/{account_id}"): "/api/v1/operator/accounts/{account_id}",
    ("POST", "/operator/pbxes/new"): "/api/v1/operator/pbxes",
    ("POST", "/operator/pbxes/{pbx_id}"): "/api/v1/operator/pbxes/{pbx_id}",
    ("POST", "/operator/editions/{code}"): "/api/v1/operator/editions/{code}",
    ("POST", "/operator/numbers"): "/api/v1/operator/did-pool",
    ("POST", "/operator/settings"): "/api/v1/operator/settings",
    ("POST", "/access/roles/new"): "/api/v1/roles",
    ("POST", "/access/roles/{role_id}"): "/api/v1/roles/{role_id}",
    ("POST", "/access/roles/{role_id}/delete"): "/api/v1/roles/{role_id}",
    ("POST", "/access/roles/{role_id}/copy"): "/api/v1/roles/{role_id}/copy",
    ("POST", "/access/admin-password"): "/api/v1/access/admin-password-link",
    ("POST", "/access/users/{user_id}"): "/api/v1/access/users/{user_id}",
    ("POST", "/access/api-keys"): "/api/v1/api-keys",
    ("POST", "/access/api-keys/{key_id}/revoke"): "/api/v1/api-keys/{key_id}",
    ("POST", "/account/password"): "/api/v1/me/password",
    ("POST", "/operator/tariffs/{code}"): "/api/v1/operator/tariffs/{code}",
    ("POST", "/operator/nodes/{node}"): "/api/v1/operator/nodes/{node}/sip",
    ("POST", "/operator/gateways"): "/api/v1/operator/platform-gateways",
    ("POST", "/operator/gateways/{gateway_id}"): "/api/v1/operator/platform-gateways",
    ("POST", "/operator/integration-keys"): "/api/v1/operator/integration-keys",
    ("POST", "/operator/integration-keys/{key_id}/revoke"): "/api/v1/operator/integration-keys/{key_id}",
}
#: routes whose one entry is asserted by another test file (named)
ELSEWHERE = {
    ("POST", "/offer"): "test_auth_logins (offer acceptance: one 'offer_accept' entry)",
    ("POST", "/api/v1/password/codes/{flow}"): "test_auth_recovery (one 'password_reset' entry)",
    ("POST", "/api/v1/password/links/{token}"): "test_auth_recovery (one 'password_reset' entry)",
    ("POST", "/api/v1/operator/accounts/{account_id}/password-link"): "sends a link (no data change)",
    ("POST", "/api/v1/access/admin-password-link"): "test_access_admin_link (one 'admin_password_link' entry)",
    ("POST", "/api/v1/operator/tariffs"): "test_tariffs_console (operator.tariffs)",
    ("PUT", "/api/v1/operator/tariffs/{code}"): "test_tariffs_console (operator.tariffs)",
    ("PUT", "/api/v1/operator/nodes/{node}/sip"): "test_operator_console (one 'operator.nodes' update entry)",
    ("POST", "/api/v1/account/pbxes/{pbx_id}/convert"): "test_account_api (one 'convert_demo' entry)",
    ("PUT", "/api/v1/operator/platform-gateways"): "test_operator_console (one 'operator.gateways' entry per save)",
}
#: a change that creates another logged object as well: its extra entries, by (section, operation)
EXTRA_ENTRIES = {
    ("POST", "/api/v1/operator/pbxes"): [("telephony.groups", "create")],  # the default group, extension 6
}


@dataclass
class Env:
    ctx: object
    op: WebClient
    admin: WebClient
    head: WebClient
    users: dict = field(default_factory=dict)
    extra_clients: list = field(default_factory=list)

    async def entries(self) -> int:
        return await self.ctx.store.db["audit_log"].count_documents({})


@dataclass
class Call:
    client: WebClient
    method: str
    url: str
    json: dict | None = None
    form: dict | None = None


CASES: dict[tuple[str, str], Callable[[Env], Awaitable[Call]]] = {}


def case(method: str, path: str):
    def register(fn):
        CASES[(method, path)] = fn
        return fn
    return register


async def _ok(r, what: str):
    assert r.status_code < 300, (what, r.status_code, r.text)
    return r


async def _account(env: Env) -> int:
    r = await _ok(await env.op.api("POST", "/api/v1/operator/accounts", json={
        "name": "ООО Аудит", "email": "audit@example.ru", "send_link": False}), "account")
    return r.json()["account_id"]


async def _pbx(env: Env) -> int:
    acc = await _account(env)
    r = await _ok(await env.op.api("POST", "/api/v1/operator/pbxes", json={
        "account_id": acc, "name": "Офис", "edition": "basic"}), "pbx")
    return r.json()["pbx_id"]


async def _role(env: Env) -> str:
    r = await _ok(await env.admin.api("POST", "/api/v1/roles", json={"name": "Support", "base": "employee"}), "role")
    return r.json()["id"]


async def _key(env: Env) -> str:
    r = await _ok(await env.admin.api("POST", "/api/v1/api-keys", json={
        "name": "CRM", "role": "employee", "whitelist": ["*"]}), "key")
    return r.json()["id"]


@case("PATCH", "/api/v1/me")
async def c_me(env):
    return Call(env.admin, "PATCH", "/api/v1/me", json={"language": "ru"})


@case("POST", "/language")
async def c_language(env):
    return Call(env.admin, "POST", "/language", form={"lang": "ru", "next": "/"})


@case("POST", "/api/v1/me/password")
async def c_password(env):
    return Call(env.admin, "POST", "/api/v1/me/password",
                json={"current_password": "tenant-pass-0", "new_password": "brand-new-pass-1"})


async def _other_session(env) -> str:
    async with WebClient(str(env.admin.base_url)) as other:
        await other.login(f"{PBX}/admin", "tenant-pass-0")
    mine = (await env.admin.get("/api/v1/sessions")).json()
    return next(s["id"] for s in mine["items"] if not s.get("current"))


@case("DELETE", "/api/v1/sessions/{session_id}")
async def c_session_api(env):
    return Call(env.admin, "DELETE", f"/api/v1/sessions/{await _other_session(env)}")


@case("POST", "/account/sessions/{session_id}/end")
async def c_session_page(env):
    return Call(env.admin, "POST", f"/account/sessions/{await _other_session(env)}/end", form={})


@case("PUT", "/api/v1/me/protection")
async def c_protection(env):
    return Call(env.head, "PUT", "/api/v1/me/protection", json={"recordings": True})


@case("POST", "/api/v1/roles")
async def c_role_create(env):
    return Call(env.admin, "POST", "/api/v1/roles", json={"name": "Deputy", "base": "company_head"})


@case("PATCH", "/api/v1/roles/{role_id}")
async def c_role_update(env):
    return Call(env.admin, "PATCH", f"/api/v1/roles/{await _role(env)}", json={"description": "helps"})


@case("POST", "/api/v1/roles/{role_id}/copy")
async def c_role_copy(env):
    return Call(env.admin, "POST", f"/api/v1/roles/{await _role(env)}/copy")


@case("DELETE", "/api/v1/roles/{role_id}")
async def c_role_delete(env):
    return Call(env.admin, "DELETE", f"/api/v1/roles/{await _role(env)}")


@case("PUT", "/api/v1/access/settings")
async def c_access_settings(env):
    return Call(env.admin, "PUT", "/api/v1/access/settings", json={"supervised_mode": "all"})


@case("PATCH", "/api/v1/access/users/{user_id}")
async def c_user_role(env):
    return Call(env.admin, "PATCH", f"/api/v1/access/users/{env.users['worker']['_id']}", json={"role": "accountant"})


@case("POST", "/api/v1/api-keys")
async def c_key_create(env):
    return Call(env.admin, "POST", "/api/v1/api-keys", json={"name": "ERP", "role": "employee",
                                                             "whitelist": ["10.0.0.1-9"]})


@case("PATCH", "/api/v1/api-keys/{key_id}")
async def c_key_update(env):
    return Call(env.admin, "PATCH", f"/api/v1/api-keys/{await _key(env)}", json={"whitelist": ["10.0.0.*"]})


@case("DELETE", "/api/v1/api-keys/{key_id}")
async def c_key_delete(env):
    return Call(env.admin, "DELETE", f"/api/v1/api-keys/{await _key(env)}")


@case("POST", "/api/v1/operator/accounts")
async def c_account_create(env):
    return Call(env.op, "POST", "/api/v1/operator/accounts", json={"name": "ООО Новое", "email": "n@example.ru",
                                                                   "send_link": False})


@case("PATCH", "/api/v1/operator/accounts/{account_id}")
async def c_account_update(env):
    return Call(env.op, "PATCH", f"/api/v1/operator/accounts/{await _account(env)}", json={"name": "ООО Другое"})


@case("POST", "/api/v1/operator/pbxes")
async def c_pbx_create(env):
    return Call(env.op, "POST", "/api/v1/operator/pbxes", json={"account_id": await _account(env), "name": "Склад",
                                                                "edition": "basic"})


@case("PATCH", "/api/v1/operator/pbxes/{pbx_id}")
async def c_pbx_update(env):
    return Call(env.op, "PATCH", f"/api/v1/operator/pbxes/{await _pbx(env)}", json={"name": "Склад 2"})


@case("POST", "/api/v1/operator/pbxes/{pbx_id}/block")
async def c_pbx_block(env):
    return Call(env.op, "POST", f"/api/v1/operator/pbxes/{await _pbx(env)}/block", json={"reason": "спам"})


@case("POST", "/api/v1/operator/pbxes/{pbx_id}/unblock")
async def c_pbx_unblock(env):
    pbx = await _pbx(env)
    await _ok(await env.op.api("POST", f"/api/v1/operator/pbxes/{pbx}/block", json={"reason": "спам"}), "block")
    return Call(env.op, "POST", f"/api/v1/operator/pbxes/{pbx}/unblock")


@case("POST", "/api/v1/operator/pbxes/{pbx_id}/convert")
async def c_pbx_convert(env):
    r = await _ok(await env.op.api("POST", "/api/v1/operator/pbxes", json={
        "account_id": await _account(env), "name": "Демо", "edition": "basic", "demo": True}), "demo pbx")
    return Call(env.op, "POST", f"/api/v1/operator/pbxes/{r.json()['pbx_id']}/convert", json={})


@case("POST", "/api/v1/operator/pbxes/{pbx_id}/archive")
async def c_pbx_archive(env):
    return Call(env.op, "POST", f"/api/v1/operator/pbxes/{await _pbx(env)}/archive")


@case("POST", "/api/v1/operator/pbxes/{pbx_id}/restore")
async def c_pbx_restore(env):
    pbx = await _pbx(env)
    await _ok(await env.op.api("POST", f"/api/v1/operator/pbxes/{pbx}/archive"), "archive")
    return Call(env.op, "POST", f"/api/v1/operator/pbxes/{pbx}/restore")


@case("POST", "/api/v1/operator/editions")
async def c_edition_create(env):
    return Call(env.op, "POST", "/api/v1/operator/editions", json={"code": "mini", "name": "Мини",
                                                                   "quotas": {"employees": 2}})


@case("PATCH", "/api/v1/operator/editions/{code}")
async def c_edition_update(env):
    return Call(env.op, "PATCH", "/api/v1/operator/editions/basic", json={"quotas": {"numbers": 7}})


@case("PATCH", "/api/v1/operator/settings")
async def c_settings(env):
    return Call(env.op, "PATCH", "/api/v1/operator/settings", json={"vat_rate": 22})


@case("POST", "/api/v1/operator/integration-keys")
async def c_integration_key(env):
    return Call(env.op, "POST", "/api/v1/operator/integration-keys",
                json={"name": "Bank", "capabilities": ["payments"], "whitelist": ["127.0.0.1"]})


@case("DELETE", "/api/v1/operator/integration-keys/{key_id}")
async def c_integration_key_revoke(env):
    r = await _ok(await env.op.api("POST", "/api/v1/operator/integration-keys", json={
        "name": "Bank", "capabilities": ["payments"], "whitelist": ["*"]}), "integration key")
    return Call(env.op, "DELETE", f"/api/v1/operator/integration-keys/{r.json()['id']}")


@case("POST", "/api/v1/operator/did-pool")
async def c_did_add(env):
    return Call(env.op, "POST", "/api/v1/operator/did-pool", json={"numbers": "74950000001"})


@case("POST", "/api/v1/operator/did-pool/assign")
async def c_did_assign(env):
    pbx = await _pbx(env)
    await _ok(await env.op.api("POST", "/api/v1/operator/did-pool", json={"numbers": "74950000002"}), "did")
    return Call(env.op, "POST", "/api/v1/operator/did-pool/assign", json={"number": "74950000002", "pbx_id": pbx})


@case("POST", "/api/v1/operator/did-pool/release")
async def c_did_release(env):
    pbx = await _pbx(env)
    await _ok(await env.op.api("POST", "/api/v1/operator/did-pool", json={"numbers": "74950000003"}), "did")
    await _ok(await env.op.api("POST", "/api/v1/operator/did-pool/assign",
                               json={"number": "74950000003", "pbx_id": pbx}), "assign")
    return Call(env.op, "POST", "/api/v1/operator/did-pool/release", json={"number": "74950000003"})


async def _account_admin(env: Env) -> tuple[WebClient, int]:
    """A real account with a PBX, its administrator signed in (the client is closed by the env)."""
    pbx = await _pbx(env)
    doc = await env.ctx.store.db["users"].find_one({"realm": "account", "pbx_id": pbx})
    await set_password(env.ctx.store, doc["_id"], "account-pass-1")
    platform = await get_platform_settings(env.ctx.store.db)
    await update_account(env.ctx.store.db, doc["account_id"], {"offer": {"version": str(platform["offer_version"])}})
    client = WebClient(str(env.op.base_url))
    env.extra_clients.append(client)
    await client.login(str(doc["account_id"]), "account-pass-1")
    return client, pbx


@case("POST", "/account")
async def c_account_contacts(env):
    client, _ = await _account_admin(env)
    return Call(client, "POST", "/account", form={"action": "contacts", "person": "Иван Петров",
                                                   "phones": "+74951234567", "emails": "ivan@example.ru"})


@case("POST", "/account/login-settings")
async def c_login_settings(env):
    client, _ = await _account_admin(env)
    return Call(client, "POST", "/account/login-settings", form={"captcha_always": "1", "login_email": "1"})


@case("PUT", "/api/v1/account/contacts")
async def c_account_contacts_api(env):
    client, _ = await _account_admin(env)
    return Call(client, "PUT", "/api/v1/account/contacts", json={"person": "Иван Петров", "phones": ["+74951234567"],
                                                                  "emails": ["ivan@example.ru"]})


@case("PUT", "/api/v1/account/requisites")
async def c_account_requisites_api(env):
    client, _ = await _account_admin(env)
    return Call(client, "PUT", "/api/v1/account/requisites", json={"inn": "7707083893", "kpp": "773601001"})


@case("PUT", "/api/v1/account/login-settings")
async def c_login_settings_api(env):
    client, _ = await _account_admin(env)
    return Call(client, "PUT", "/api/v1/account/login-settings",
                json={"captcha_always": True, "login_methods": {"phone": False}})


def _own_changing_routes() -> list[tuple[str, str]]:
    out = []
    for r in all_routes():
        if not r.handler.__module__.startswith(OWN_MODULES):
            continue
        out += [(m, r.path) for m in r.methods if m != "GET"]
    return out


def test_every_changing_route_is_driven_or_has_a_reason():
    unknown = [k for k in _own_changing_routes()
               if k not in CASES and k not in NOT_CHANGES and k not in FORM_TWINS and k not in ELSEWHERE]
    assert unknown == [], f"state-changing routes with no audit case or reason: {unknown}"
    twins = {p for _, p in _own_changing_routes()}
    assert all(api in twins for api in FORM_TWINS.values())


@pytest.fixture
async def env(settings, store):
    await create_operator_admin(store, "root", "operator-pass-1", "root@pult.test", language="en")
    await create_tenant_user(store, PBX, "admin", "tenant-pass-0", language="en")
    await create_tenant_user(store, PBX, "head", "tenant-pass-1", language="en", role="company_head")
    worker = await create_tenant_user(store, PBX, "worker", "tenant-pass-2", language="en")
    async with web_stack(settings, store) as (ctx, url):
        async with WebClient(url) as op, WebClient(url) as admin, WebClient(url) as head:
            await op.login("root", "operator-pass-1")
            await admin.login(f"{PBX}/admin", "tenant-pass-0")
            await head.login(f"{PBX}/head", "tenant-pass-1")
            e = Env(ctx, op, admin, head, {"worker": worker})
            yield e
            for client in e.extra_clients:
                await client.aclose()


@pytest.mark.parametrize("key", sorted(CASES), ids=lambda k: f"{k[0]} {k[1]}")
async def test_a_successful_change_leaves_exactly_one_entry(env, key):
    call = await CASES[key](env)
    before = await env.entries()
    if call.form is not None:
        r = await call.client.post_form(call.url, call.form)
    else:
        r = await call.client.api(call.method, call.url, json=call.json)
    assert r.status_code < 400, (key, r.status_code, r.text)
    added = await env.ctx.store.db["audit_log"].find({}, sort=[("at", 1)]).skip(before).to_list(None)
    extra = list(EXTRA_ENTRIES.get(key, []))
    own = [e for e in added if (e["section"], e["operation"]) not in extra]
    assert sorted((e["section"], e["operation"]) for e in added if e not in own) == sorted(extra), key
    assert len(own) == 1, (key, [(e["section"], e["operation"]) for e in added])
    entry = own[0]
    assert entry["actor"]["kind"] == "user" and entry["actor"]["ip"] == "127.0.0.1"
    assert entry["actor"]["login"] in ("root", f"{PBX}/admin", f"{PBX}/head") or entry["actor"]["login"].isdigit()
    assert entry["section"] and entry["operation"] and entry["object"]["type"]
