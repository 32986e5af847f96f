"""Call history by the reach of «Call history» (the use case esl_control/model/call_history.py,
called by web/api/calls.py and the pages): own calls, the calls of the groups the user is a
member of, of the supervised groups, or all — in the API list, one call by uuid, the /calls page
and the dashboard's figures.

The PBX: employees Ivan (ext 11, SIP account ``ivan``, mobile 79161110011), Petr (ext 12) and
Sergei (ext 13); group Sales (ext 601) = Ivan + Petr, group Support (ext 602) = Sergei.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from storage.repos.calls import save_call_record
from storage.repos.users import create_tenant_user, link_employee
from tests.integration.harness import acme_pbx, cheap_hashes  # noqa: F401  (cheap_hashes: autouse)
from esl_control.model.employees.services import EmployeeService
from esl_control.model.groups.services import GroupService
from esl_control.model.sip.services import SipAccountService
from web.testing import WebClient, web_stack

PASSWORD = "tenant-pass-1"


@pytest.fixture
async def stack(settings, store):
    db = store.db
    pid = await acme_pbx(db, settings)
    emp = EmployeeService(db, pid)
    ivan = await emp.create({"name": "Ivan", "extension": "11",
                             "contact_methods": [{"kind": "phone", "value": "79161110011"}]})
    await SipAccountService(db, pid).create({"login": "ivan", "password": "Secret123x", "employee_id": ivan["id"]})
    petr = await emp.create({"name": "Petr", "extension": "12"})
    sergei = await emp.create({"name": "Sergei", "extension": "13"})
    groups = GroupService(db, pid)
    sales = await groups.create({"name": "Sales", "extension": "601", "members": [
        {"kind": "employee", "employee_id": ivan["id"]}, {"kind": "employee", "employee_id": petr["id"]}]})
    support = await groups.create({"name": "Support", "extension": "602", "members": [
        {"kind": "employee", "employee_id": sergei["id"]}]})
    users = {}
    for login, role, employee in (("own", "employee", ivan), ("senior", "senior_employee", ivan),
                                  ("leader", "group_leader", None), ("admin", "administrator", None),
                                  ("lonely", "employee", None)):
        users[login] = await create_tenant_user(store, pid, login, PASSWORD, language="en", role=role)
        if employee:
            await link_employee(store, users[login]["_id"], employee["id"])
    await db["users"].update_one({"_id": users["leader"]["_id"]}, {"$set": {"supervised_groups": [support["id"]]}})

    now = datetime.now(timezone.utc).replace(microsecond=0)
    calls = {  # uuid: (caller, callee, vars)
        "c-ivan-out": ("11", "79990000001", {}),
        "c-ivan-sip": ("ivan", "100", {}),
        "c-ivan-mobile": ("74950000000", "+79161110011", {}),
        "c-ivan-by-var": ("0000", "79990000002", {"pult_employee_id": ivan["id"]}),
        "c-sales": ("+79161110033", "601", {}),
        "c-petr-sergei": ("12", "13", {}),
        "c-support-var": ("79995550000", "74950000001", {"pult_group_id": support["id"]}),
        "c-nobody": ("79990001234", "74951112233", {}),
    }
    for i, (uuid, (caller, callee, vars_)) in enumerate(calls.items()):
        await save_call_record(db, {"uuid": uuid, "pbx_id": pid, "caller": caller, "callee": callee, "vars": vars_,
                                    "start": now - timedelta(minutes=i + 1), "billsec": 5, "direction": "inbound"})
    await save_call_record(db, {"uuid": "c-other-pbx", "pbx_id": pid + 1, "caller": "11", "callee": "12",
                                "start": now, "billsec": 5})
    async with web_stack(settings, store) as (ctx, url):
        yield url, pid, set(calls), sales


EXPECTED = {
    "own": {"c-ivan-out", "c-ivan-sip", "c-ivan-mobile", "c-ivan-by-var"},
    # own + Petr (a member of Sales) + calls that rang Sales
    "senior": {"c-ivan-out", "c-ivan-sip", "c-ivan-mobile", "c-ivan-by-var", "c-sales", "c-petr-sergei"},
    # Support's member Sergei + calls that rang Support (by the group variable)
    "leader": {"c-petr-sergei", "c-support-var"},
    "lonely": set(),  # no employee card, no groups: nothing rather than everything
}


@pytest.mark.parametrize("login", ["own", "senior", "leader", "lonely", "admin"])
async def test_call_history_follows_the_reach_of_the_role(stack, login):
    url, pid, all_calls, _ = stack
    want = EXPECTED.get(login, all_calls)
    async with WebClient(url, headers={"Accept-Language": "en"}) as c:
        await c.login(f"{pid}/{login}", PASSWORD)
        body = (await c.get("/api/v1/calls", params={"per_page": 100})).json()
        assert {i["uuid"] for i in body["items"]} == want and body["total"] == len(want)
        for uuid in sorted(all_calls):
            r = await c.get(f"/api/v1/calls/{uuid}")
            assert r.status_code == (200 if uuid in want else 404), (login, uuid)
            page = await c.get(f"/calls/{uuid}")  # the call's page: the same use case, the same reach
            assert page.status_code == (200 if uuid in want else 404), (login, uuid)
        assert (await c.get("/api/v1/calls/c-other-pbx")).status_code == 404
        assert (await c.get("/calls/c-other-pbx")).status_code == 404
        page = (await c.get("/calls")).text
        assert f"Total: {len(want)}</p>" in page
        dash = (await c.get("/")).text
        shown = re.search(r"Calls in history</h2>\s*<p class=\"stat-value\">(\d+)</p>", dash)
        assert shown and int(shown.group(1)) == len(want), login

async def test_the_calls_page_lists_only_reachable_numbers(stack):
    url, pid, _, _ = stack
    async with WebClient(url, headers={"Accept-Language": "en"}) as c:
        await c.login(f"{pid}/leader", PASSWORD)
        page = (await c.get("/calls")).text
        assert "79995550000" in page
        assert "79990001234" not in page and "+79161110033" not in page and "79161110011" not in page
    async with WebClient(url, headers={"Accept-Language": "en"}) as c:
        await c.login(f"{pid}/admin", PASSWORD)
        page = (await c.get("/calls")).text
        assert "79990001234" in page and "+79161110033" in page


async def test_own_calls_follow_a_change_of_the_employees_numbers_at_once(stack, monkeypatch, store):
    """The "own calls" filter is kept while the PBX's configuration stands still
    (``kept_reach_filter``: no read of the employee and their SIP accounts per page), and a change
    of the employee's extension or SIP login shows in the very next page."""
    from storage.repos.telephony import Employees, SipAccounts

    url, pid, _, _ = stack
    db = store.db
    reads = []
    for repo in (Employees, SipAccounts):
        real = repo.find

        async def counted(self, *a, _real=real, _name=repo.__name__, **kw):
            reads.append(_name)
            return await _real(self, *a, **kw)
        monkeypatch.setattr(repo, "find", counted)
    ivan = await db["employees"].find_one({"name": "Ivan"})
    async with WebClient(url, headers={"Accept-Language": "en"}) as c:
        await c.login(f"{pid}/own", PASSWORD)

        async def seen() -> set:
            body = (await c.get("/api/v1/calls", params={"per_page": 100})).json()
            assert body["total"] == len(body["items"])
            return {i["uuid"] for i in body["items"]}

        assert await seen() == EXPECTED["own"]
        reads.clear()
        for _ in range(3):
            assert await seen() == EXPECTED["own"]
        assert reads == []  # kept: nothing changed
        await db["employees"].update_one({"_id": ivan["_id"], "pbx_id": pid}, {"$set": {"extension": "14"}})
        assert await seen() == EXPECTED["own"] - {"c-ivan-out"}
        await db["sip_accounts"].update_one({"login": "ivan", "pbx_id": pid}, {"$set": {"login": "ivan2"}})
        assert await seen() == EXPECTED["own"] - {"c-ivan-out", "c-ivan-sip"}
        await db["employees"].update_one({"_id": ivan["_id"]}, {"$set": {"extension": "11"}})  # no PBX named
        assert await seen() == EXPECTED["own"] - {"c-ivan-sip"}
        assert reads and set(reads) <= {"Employees", "SipAccounts"}
