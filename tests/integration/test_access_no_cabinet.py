"""The "No access" role (PRODUCT.md §6): the password is right but the cabinet stays closed.

- sign-in (API and form) is refused with a clear message in the user's language; a wrong password
  is still just "wrong login or password" (nothing is told about the role);
- a signed-in user whose role becomes "No access" loses every session on the next request (403
  with the same message, then plain 401), pages included;
- given a role again, the user signs in as usual;
- the role closes the cabinet only (inventory B §0: "Cabinet access fully denied", nothing about
  telephony): the employee's phone keeps registering and calling; the SIP account's own switch
  (``enabled``) is what stops a phone (docs/rules-access.md B0.1).
"""
from __future__ import annotations

import pytest

from esl_control.model import provisioning
from esl_control.model.bootstrap import ensure_pbx_defaults
from esl_control.model.employees.services import EmployeeService
from esl_control.model.sip.services import SipAccountService
from storage.repos.tenants import create_account, create_pbx
from storage.repos.users import create_tenant_user, link_employee
from tests.integration.harness import cheap_hashes  # noqa: F401  (autouse)
from web.auth.sessions import SessionStore
from web.testing import WebClient, web_stack

EN = "Your role has no access to the cabinet. Ask your administrator."
RU = "У вашей роли нет доступа в личный кабинет. Обратитесь к администратору."


def sessions(ctx) -> SessionStore:
    """The sessions of the running app (same Redis and prefix)."""
    return SessionStore(ctx.redis, ctx.redis_prefix, ctx.session_idle, ctx.session_absolute)


@pytest.fixture
async def stack(settings, store):
    acc = await create_account(store.db, "Acme", "acme@example.com")
    pbx = await create_pbx(store.db, acc["account_id"], "Acme", settings.sip_base_domain)
    pid = pbx["pbx_id"]
    await create_tenant_user(store, pid, "admin", "tenant-pass-0", language="en", account_id=acc["account_id"])
    closed = await create_tenant_user(store, pid, "closed", "tenant-pass-1", language="en", role="no_access",
                                      account_id=acc["account_id"])
    worker = await create_tenant_user(store, pid, "worker", "tenant-pass-2", language="en", role="employee",
                                      account_id=acc["account_id"])
    async with web_stack(settings, store) as (ctx, url):
        yield ctx, url, pid, closed, worker


async def test_no_access_is_refused_at_sign_in_with_a_clear_message(stack):
    ctx, url, pid, closed, _ = stack
    async with WebClient(url, headers={"Accept-Language": "en"}) as c:
        r = await c.api("POST", "/api/v1/session", json={"login": f"{pid}/closed", "password": "tenant-pass-1"})
        assert r.status_code == 403 and r.json()["error"] == {"code": "no_cabinet_access", "message": EN,
                                                              "fields": {}}
        assert "pult_session" not in c.cookies
        assert await sessions(ctx).list_for_user(closed["_id"]) == []
        # the wrong password says nothing about the role
        r = await c.api("POST", "/api/v1/session", json={"login": f"{pid}/closed", "password": "wrong-pass-1"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_credentials"
        assert (await c.get("/api/v1/me")).status_code == 401
    async with WebClient(url, headers={"Accept-Language": "ru"}) as ru:
        page = await ru.post_form("/login", {"login": f"{pid}/closed", "password": "tenant-pass-1"})
        assert page.status_code == 403 and RU in page.text
        assert "pult_session" not in ru.cookies


async def test_a_session_ends_when_the_role_becomes_no_access(stack):
    ctx, url, pid, _, worker = stack
    async with WebClient(url, headers={"Accept-Language": "en"}) as admin, \
            WebClient(url, headers={"Accept-Language": "en"}) as api, \
            WebClient(url, headers={"Accept-Language": "en"}) as browser:
        await admin.login(f"{pid}/admin", "tenant-pass-0")
        await api.login(f"{pid}/worker", "tenant-pass-2")
        await browser.login(f"{pid}/worker", "tenant-pass-2")
        assert (await api.get("/api/v1/calls")).status_code == 200
        assert (await browser.get("/")).status_code == 200
        assert len(await sessions(ctx).list_for_user(worker["_id"])) == 2

        r = await admin.api("PATCH", f"/api/v1/access/users/{worker['_id']}", json={"role": "no_access"})
        assert r.status_code == 200 and r.json()["role"] == "no_access"

        r = await api.get("/api/v1/calls")
        assert r.status_code == 403 and r.json()["error"]["code"] == "no_cabinet_access"
        assert r.json()["error"]["message"] == EN
        # every session of the user is gone (the personal routes too, the other device too)
        assert await sessions(ctx).list_for_user(worker["_id"]) == []
        assert (await api.get("/api/v1/me")).status_code == 401
        assert (await browser.get("/account/security")).status_code == 302  # to the login page
        page = await browser.post_form("/login", {"login": f"{pid}/worker", "password": "tenant-pass-2"})
        assert page.status_code == 403 and EN in page.text

        # a page is refused with the message too (a new session, then the role is taken again)
        r = await admin.api("PATCH", f"/api/v1/access/users/{worker['_id']}", json={"role": "employee"})
        await browser.login(f"{pid}/worker", "tenant-pass-2")
        r = await admin.api("PATCH", f"/api/v1/access/users/{worker['_id']}", json={"role": "no_access"})
        page = await browser.get("/account/security")
        assert page.status_code == 403 and EN in page.text
        assert (await browser.get("/")).status_code == 302

        r = await admin.api("PATCH", f"/api/v1/access/users/{worker['_id']}", json={"role": "employee"})
        assert r.status_code == 200
        await api.login(f"{pid}/worker", "tenant-pass-2")
        assert (await api.get("/api/v1/calls")).status_code == 200


async def test_no_access_closes_the_cabinet_only_the_phone_keeps_working(stack, store, settings):
    ctx, url, pid, _, worker = stack
    db, actor = store.db, {"kind": "user", "login": f"{pid}/admin", "ip": "127.0.0.1"}
    await ensure_pbx_defaults(db, pid, base_domain=settings.sip_base_domain)
    emp = await EmployeeService(db, pid, actor).create({"name": "Worker", "extension": "11"})
    phone = await SipAccountService(db, pid, actor).create({"login": "worker", "password": "Secret123x",
                                                           "employee_id": emp["id"]})
    await link_employee(store, worker["_id"], emp["id"])
    domain = f"vpbx{pid}.{settings.sip_base_domain}"

    async def served() -> list[str]:
        return [u["login"] for u in (await provisioning.directory_users(db, domain, "worker"))["users"]]

    assert await served() == ["worker"]
    async with WebClient(url, headers={"Accept-Language": "en"}) as admin:
        await admin.login(f"{pid}/admin", "tenant-pass-0")
        r = await admin.api("PATCH", f"/api/v1/access/users/{worker['_id']}", json={"role": "no_access"})
        assert r.status_code == 200 and r.json()["role"] == "no_access"
    assert await served() == ["worker"]          # the phone still registers and calls
    # what stops the phone is its own switch
    await SipAccountService(db, pid, actor).update(phone["id"], {"login": "worker", "employee_id": emp["id"],
                                                                 "enabled": False})
    assert await served() == []
