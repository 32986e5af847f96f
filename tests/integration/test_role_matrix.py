"""The role matrix over real HTTP: for each base role and a custom role derived from one
(Employee + "employees: view"), what it may and may not do through the API, and the menu it sees.

Two layers:

1. an explicit table of what each role may do with key endpoints (written from PRODUCT.md §6 and
   inventory B §0, not computed from the rights model);
2. every declared route of the table, every method: the server answers 403 exactly when the
   user's rights lack the route's section/level — so a new endpoint's declaration is enforced
   for every role without editing this file.
"""
from __future__ import annotations

import re

import pytest

from storage.repos.users import create_tenant_user
from tests.integration.harness import cheap_hashes  # noqa: F401  (autouse)
from web.enforce import PERSONAL, UNDECLARED, required_right
from web.rights import rights_for
from web.routes import all_routes
from web.testing import WebClient, web_stack

PBX = 101
ROLES = ("no_access", "employee", "senior_employee", "group_leader", "marketer", "accountant",
         "company_head", "administrator", "account_admin", "custom")
EVERYONE = set(ROLES) - {"no_access"}
ADMINS = {"administrator", "account_admin"}

#: (method, path) → roles that may do it
MAY = {
    ("GET", "/"): EVERYONE,
    ("GET", "/api/v1/calls"): EVERYONE,
    ("GET", "/api/v1/roles"): ADMINS,
    ("POST", "/api/v1/roles"): ADMINS,
    ("GET", "/api/v1/access/users"): ADMINS,
    ("GET", "/api/v1/api-keys"): ADMINS | {"company_head"},
    ("POST", "/api/v1/api-keys"): ADMINS | {"company_head"},
    ("GET", "/api/v1/action-log"): ADMINS,
    ("GET", "/access/log"): ADMINS,
    ("GET", "/access/roles"): ADMINS,
    ("GET", "/access/api-keys"): ADMINS | {"company_head"},
}
#: menu entries of this issue (+ call history) each role sees
MENU = {
    "employee": {"calls"}, "senior_employee": {"calls"}, "group_leader": {"calls"}, "marketer": {"calls"},
    "accountant": {"calls"}, "custom": {"calls"}, "company_head": {"calls", "api_keys"},
    "administrator": {"calls", "api_keys", "access_roles", "action_log"},
    "account_admin": {"calls", "api_keys", "access_roles", "action_log"},
}
#: what /api/v1/me/rights reports for a few sections: (level, reach)
RIGHTS = {
    "employee": {"calls": ("view", "own"), "employees": ("none", None), "finance": ("none", None)},
    "senior_employee": {"calls": ("view", "groups"), "recordings": ("view", "groups")},
    "group_leader": {"groups": ("edit", "supervised"), "calls": ("view", "supervised")},
    "marketer": {"calltracking": ("edit", None), "analytics": ("view", None), "recordings": ("view", "all")},
    "accountant": {"finance": ("edit", None), "analytics": ("none", None)},
    "company_head": {"trunks": ("edit", None), "access": ("none", None), "restrictions": ("none", None),
                     "action_log": ("none", None)},
    "administrator": {"access": ("edit", None), "restrictions": ("edit", None)},
    "custom": {"employees": ("view", None), "calls": ("view", "own"), "groups": ("none", None)},
}
KEYS = set(MENU["administrator"])
#: the section-level refusals of web/enforce.py
RIGHTS_REFUSALS = ("Your role does not give access to the section", "Your role only allows viewing the section",
                   "Your role has no access to the cabinet", "Only an administrator may do this")


@pytest.fixture
async def stack(settings, store):
    admin = await create_tenant_user(store, PBX, "admin", "tenant-pass-0", language="en")
    async with web_stack(settings, store) as (ctx, url):
        async with WebClient(url, headers={"Accept-Language": "en"}) as c:
            await c.login(f"{PBX}/admin", "tenant-pass-0")
            r = await c.api("POST", "/api/v1/roles", json={
                "name": "Employee + employees", "base": "employee",
                "sections": {"employees": {"level": "view"}}})
            assert r.status_code == 201, r.text
            custom_id = r.json()["id"]
        users = {}
        for role in ROLES:
            key = custom_id if role == "custom" else role
            users[role] = await create_tenant_user(store, PBX, role.replace("_", "-"), "tenant-pass-1",
                                                   language="en", role=key)
        yield ctx, url, users, custom_id, admin


async def _client(url, login):
    c = WebClient(url, headers={"Accept-Language": "en"})
    await c.login(f"{PBX}/{login}", "tenant-pass-1")
    return c


_CANDIDATES = ("0123456789abcdef01234567", "0123456789ab", "0123abcd", "1", "x")


def _sample(info) -> str:
    """The route's path with an id (of nothing) that its parameter patterns accept."""
    for candidate in _CANDIDATES:
        path = re.sub(r"\{[^}]+\}", candidate, info.path)
        if re.match(info.pattern, path):
            return path
    raise AssertionError(f"no sample id fits {info.pattern}")


# "No access" cannot sign in at all: tests/integration/test_access_no_cabinet.py
@pytest.mark.parametrize("role", [r for r in ROLES if r != "no_access"])
async def test_what_each_role_may_and_may_not_do(stack, role):
    ctx, url, users, custom_id, _ = stack
    c = await _client(url, users[role]["login"])
    try:
        # 1. the explicit table
        for (method, path), allowed in MAY.items():
            r = await c.api(method, path, json={} if method != "GET" else None)
            if role in allowed:
                assert r.status_code != 403, f"{role} may {method} {path}: {r.status_code} {r.text[:150]}"
            else:
                assert r.status_code == 403, f"{role} may not {method} {path}: got {r.status_code}"
                if path.startswith("/api/"):
                    code = r.json()["error"]["code"]
                    assert code == ("no_cabinet_access" if role == "no_access" else "forbidden")
        # what the user is told about their rights, and the menu they see
        me = (await c.get("/api/v1/me/rights")).json()
        assert me["cabinet"] is (role != "no_access")
        for section, (level, reach) in RIGHTS.get(role, {}).items():
            assert me["sections"][section]["level"] == level, (role, section)
            if reach:
                assert me["sections"][section]["reach"] == reach, (role, section)
        if role in MENU:
            assert set(me["menu"]) & (KEYS | {"calls"}) == MENU[role], role
            page = (await c.get("/")).text
            nav = page.split('class="sidebar"')[1].split("</nav>")[0]
            assert ('href="/access/roles"' in nav) is ("access_roles" in MENU[role])
            assert ('href="/access/api-keys"' in nav) is ("api_keys" in MENU[role])
            assert ('href="/access/log"' in nav) is ("action_log" in MENU[role])
        if role == "custom":
            assert me["role"] == custom_id and me["role_name"] == "Employee + employees" and me["custom"]

        # 2. every declared route of the table agrees with the role's rights
        rights = rights_for(users[role], {custom_id: await ctx.store.db["roles"].find_one({"_id": custom_id})})
        checked = 0
        for info in all_routes(ctx):
            if info.access not in ("user", "tenant") or info.kind not in ("api", "page"):
                continue
            for method in info.methods:
                need = required_right(info.handler, method)
                if need in (PERSONAL, UNDECLARED) or (info.kind == "page" and method != "GET"):
                    continue
                section, level = need
                r = await c.api(method, _sample(info), json={} if method != "GET" else None)
                if rights.can(section, level):
                    # (a route may still refuse for its own reasons, e.g. payments only by the operator,
                    # or a group leader creating employees outside their supervised groups)
                    text = r.json()["error"]["message"] if info.kind == "api" and r.status_code == 403 else r.text
                    assert not (r.status_code == 403 and any(m in text for m in RIGHTS_REFUSALS)), \
                        f"{role}: {method} {info.path} refused though it has {section}.{level}"
                else:
                    assert r.status_code == 403, f"{role}: {method} {info.path} → {r.status_code} without {section}.{level}"
                checked += 1
        assert checked >= 20
    finally:
        await c.aclose()


async def test_refusals_name_the_section_in_the_users_language(stack):
    ctx, url, users, _, _ = stack
    c = await _client(url, users["employee"]["login"])
    try:
        r = await c.get("/api/v1/roles")
        assert r.json()["error"]["message"] == "Your role does not give access to the section «Access settings»."
        await c.api("PATCH", "/api/v1/me", json={"language": "ru"})
        r = await c.get("/api/v1/action-log")
        assert r.json()["error"]["message"] == "Ваша роль не даёт доступа к разделу «Журнал действий»."
        page = await c.get("/access/roles")
        assert page.status_code == 403 and "Настройка доступа" in page.text
    finally:
        await c.aclose()
    head = await _client(url, users["company_head"]["login"])
    try:
        r = await head.api("POST", "/api/v1/roles", json={"name": "Everything", "base": "administrator"})
        assert r.status_code == 403  # no access settings at all
    finally:
        await head.aclose()


async def test_a_role_change_applies_to_the_next_request(stack):
    ctx, url, users, custom_id, admin = stack
    emp = await _client(url, users["employee"]["login"])
    async with WebClient(url, headers={"Accept-Language": "en"}) as a:
        await a.login(f"{PBX}/admin", "tenant-pass-0")
        try:
            assert (await emp.get("/api/v1/roles")).status_code == 403
            r = await a.api("PATCH", f"/api/v1/access/users/{users['employee']['_id']}", json={"role": "administrator"})
            assert r.status_code == 200 and r.json()["role"] == "administrator"
            assert (await emp.get("/api/v1/roles")).status_code == 200
            # deleting a custom role moves its holders to Employee at once
            cust = await _client(url, users["custom"]["login"])
            assert (await cust.get("/api/v1/me/rights")).json()["sections"]["employees"]["level"] == "view"
            assert (await a.api("DELETE", f"/api/v1/roles/{custom_id}")).status_code == 204
            me = (await cust.get("/api/v1/me/rights")).json()
            assert me["role"] == "employee" and me["sections"]["employees"]["level"] == "none"
            await cust.aclose()
        finally:
            await emp.aclose()
