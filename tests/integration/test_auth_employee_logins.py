"""Employees ↔ cabinet logins over real HTTP, a real worker and a real SMTP server:

- the new-employee wizard creates the cabinet login with a role and no password, and e-mails a
  single-use link to set one; the employee sets the password with a code sent to the card's
  e-mail (the code flow) and then signs in by e-mail, by <PBX>/<login> and by the SIP account;
- changing the card's e-mail or phone moves the login by e-mail / phone with it;
- the link from the wizard's e-mail sets the password too;
- the wizard refuses a login without an e-mail, a malformed or taken login, an unknown role, a
  role above the creator's own, and a creator without the right to change access settings —
  before anything is written.
"""
from __future__ import annotations

import asyncio
import re

import pytest
import pytest_asyncio

from jobs import client as jobs_client
from tests.integration.tel_api_harness import PASSWORD, tel_stack_with_mail
from web.auth.recovery import wait_deliveries
from web.testing import WebClient

pytestmark = pytest.mark.asyncio(loop_scope="module")
E = "/api/v1/telephony/employees"
NEW_PASSWORD = "Oleg-pass-2024"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def st(sink):
    async with tel_stack_with_mail(sink) as stack:
        yield stack


def body_of(received) -> str:
    return received.message.get_body(("plain",)).get_content()


async def mails_to(sink, address: str, count: int = 1) -> list[str]:
    """The plain-text bodies of the first ``count`` messages to ``address`` (waits for them)."""
    await wait_deliveries()
    got = await asyncio.to_thread(sink.wait_for, count)
    return [body_of(m) for m in got if address in m.rcpt_tos]


async def sign_in(st, login: str, password: str):
    async with WebClient(st.url, headers={"Accept-Language": "en"}) as c:
        return await c.api("POST", "/api/v1/session", json={"login": login, "password": password})


async def test_wizard_login_code_flow_then_email_sip_and_pbx_logins(st, sink):
    sink.reset()
    async with st.client("101/admin") as admin:
        r = await admin.api("POST", f"{E}/wizard", json={"name": "Oleg Orlov", "email": "oleg@example.com",
                                                         "login": "oleg", "role": "senior_employee"})
        assert r.status_code == 201, r.text
        out = r.json()
        assert out["user"]["login"] == "101/oleg" and out["user"]["role"] == "senior_employee"
        assert out["user"]["password_link_sent"] is True and out["mail"]["queued"] is True
        await jobs_client.result(out["mail"]["job_id"], timeout=10)
        (welcome,) = await mails_to(sink, "oleg@example.com")
        assert "Cabinet login: 101/oleg" in welcome
        assert re.search(r"http://127\.0\.0\.1:8080/password/link/[A-Za-z0-9_-]{20,}", welcome)
        assert out["sip_password"] not in welcome
        stored = await st.db["users"].find_one({"_id": out["user"]["id"]})
        assert stored["password_hash"] is None and stored["employee_id"] == out["employee"]["id"]
        assert stored["email_norm"] == "oleg@example.com" and stored["pbx_id"] == 101

    # no password yet: no way in
    assert (await sign_in(st, "oleg@example.com", NEW_PASSWORD)).status_code == 401

    # the code flow: a code to the card's e-mail, then the new password (signs in)
    sink.reset()
    async with WebClient(st.url, headers={"Accept-Language": "en"}) as anon:
        r = await anon.api("POST", "/api/v1/password/codes", json={"identifier": "oleg@example.com"})
        assert r.status_code == 202, r.text
        flow = r.json()["flow"]
        (mail,) = await mails_to(sink, "oleg@example.com")
        code = re.search(r"\b(\d{6})\b", mail).group(1)
        r = await anon.api("POST", f"/api/v1/password/codes/{flow}", json={"code": code, "new_password": NEW_PASSWORD})
        assert r.status_code == 200, r.text
        assert r.json()["user"]["login"] == "oleg"

    # every way of signing in now works, with the rights of the role
    for login in ("oleg@example.com", "OLEG@example.com", "101/oleg", out["sip_account"]["address"]):
        r = await sign_in(st, login, NEW_PASSWORD)
        assert r.status_code == 200, (login, r.text)
        assert r.json()["user"]["id"] == out["user"]["id"]
    async with WebClient(st.url, headers={"Accept-Language": "en"}) as oleg:
        await oleg.login("oleg@example.com", NEW_PASSWORD)
        me = (await oleg.get("/api/v1/me/rights")).json()
        assert me["role"] == "senior_employee" and me["sections"]["calls"]["reach"] == "groups"

    # the card's e-mail and phone move the logins with them
    async with st.client("101/admin") as admin:
        eid = out["employee"]["id"]
        card = (await admin.get(f"{E}/{eid}")).json()
        methods = card["contact_methods"] + [{"kind": "phone", "value": "79161110022"}]
        r = await admin.api("PATCH", f"{E}/{eid}", json={"email": "orlov@example.com", "contact_methods": methods})
        assert r.status_code == 200, r.text
    assert (await sign_in(st, "oleg@example.com", NEW_PASSWORD)).status_code == 401
    assert (await sign_in(st, "orlov@example.com", NEW_PASSWORD)).status_code == 200
    assert (await sign_in(st, "+7 916 111-00-22", NEW_PASSWORD)).status_code == 200
    assert (await sign_in(st, "8 (916) 111-00-22", NEW_PASSWORD)).status_code == 200


async def test_the_link_from_the_wizard_mail_sets_the_password(st, sink):
    sink.reset()
    async with st.client("101/admin") as admin:
        r = await admin.api("POST", f"{E}/wizard", json={"name": "Anna Link", "email": "anna.link@example.com",
                                                         "login": "annalink", "reception": "none"})
        assert r.status_code == 201, r.text
        assert r.json()["user"]["role"] == "employee"  # the default role
        user_id, employee_id = r.json()["user"]["id"], r.json()["employee"]["id"]
        await jobs_client.result(r.json()["mail"]["job_id"], timeout=10)
    (welcome,) = await mails_to(sink, "anna.link@example.com")
    token = re.search(r"/password/link/([A-Za-z0-9_-]{20,})", welcome).group(1)
    async with WebClient(st.url, headers={"Accept-Language": "en"}) as anon:
        r = await anon.api("POST", f"/api/v1/password/links/{token}", json={"new_password": NEW_PASSWORD})
        assert r.status_code == 200, r.text
        r = await anon.api("POST", f"/api/v1/password/links/{token}", json={"new_password": NEW_PASSWORD})
        assert r.status_code == 410  # single use
    assert (await sign_in(st, "anna.link@example.com", NEW_PASSWORD)).status_code == 200
    # deleting the card detaches the login (it keeps <PBX>/<login>)
    async with st.client("101/admin") as admin:
        assert (await admin.api("DELETE", f"{E}/{employee_id}")).status_code == 200
    assert (await st.db["users"].find_one({"_id": user_id}))["employee_id"] is None
    assert (await sign_in(st, "101/annalink", NEW_PASSWORD)).status_code == 200


async def test_wizard_refuses_bad_cabinet_logins_before_any_write(st):
    async with st.client("101/admin") as admin, st.client("101/adminru", lang="ru") as ru:
        before = (await admin.get(E, params={"per_page": 100})).json()["total"]
        users_before = await st.db["users"].count_documents({"pbx_id": 101})
        base = {"name": "Refused", "email": "refused@example.com", "reception": "none", "send_email": False}
        cases = [
            ({"login": "nomail", "email": None}, "email",
             "A cabinet login needs the employee's e-mail: the link to set the password is sent there."),
            ({"login": "bad login!"}, "login",
             "Use 1 to 64 Latin letters, digits and . _ @ - (starting with a letter or digit)."),
            ({"login": "fresh", "role": "no-such-role"}, "role", "No such role."),
        ]
        for extra, field, text in cases:
            r = await admin.api("POST", f"{E}/wizard", json={**base, **extra})
            assert r.status_code == 422, (extra, r.text)
            assert r.json()["error"]["fields"] == {field: text}, extra
        # a well-formed login another user has: a clash with what is stored (409), not bad input
        r = await admin.api("POST", f"{E}/wizard", json={**base, "login": "admin"})
        assert r.status_code == 409, r.text
        assert r.json()["error"]["fields"] == {"login": "This login is already taken in the PBX."}
        r = await ru.api("POST", f"{E}/wizard", json={**base, "login": "admin"})
        assert r.json()["error"]["fields"] == {"login": "Этот логин в ВАТС уже занят."}
        assert (await admin.get(E, params={"per_page": 100})).json()["total"] == before
        assert await st.db["users"].count_documents({"pbx_id": 101}) == users_before

    # a creator who may manage employees but not access settings cannot hand out logins
    from storage.repos.users import create_tenant_user

    await create_tenant_user(st.store, 101, "head", PASSWORD, "head101@example.com", language="en",
                             role="company_head")
    async with st.client("101/head") as head:
        r = await head.api("POST", f"{E}/wizard", json={"name": "By head", "reception": "none", "send_email": False,
                                                        "email": "byhead@example.com", "login": "byhead"})
        assert r.status_code == 403
        assert r.json()["error"]["message"] == "Creating a cabinet login needs the right to change access settings."
        r = await head.api("POST", f"{E}/wizard", json={"name": "By head", "reception": "none", "send_email": False})
        assert r.status_code == 201 and r.json()["user"] is None  # without a login it is fine
