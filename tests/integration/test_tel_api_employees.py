"""Employees' telephony over the REST API: round trip, RU/EN errors, references on delete, the
new-employee wizard (employee + SIP account + e-mail delivered by a real worker to a real SMTP
server), and the reach of a group leader (only the supervised groups' employees and groups)."""
from __future__ import annotations

import pytest
import pytest_asyncio

from jobs import client as jobs_client
from storage.repos.base import Scope
from storage.repos.users import Users
from tests.integration.tel_api_harness import tel_stack_with_mail

pytestmark = pytest.mark.asyncio(loop_scope="module")
E = "/api/v1/telephony/employees"
G = "/api/v1/telephony/groups"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def st(sink):
    async with tel_stack_with_mail(sink) as stack:
        yield stack


async def test_employee_round_trip_and_errors(st):
    async with st.client("101/admin") as c, st.client("101/adminru", lang="ru") as ru:
        r = await c.api("POST", E, json={"name": "Иванов Иван", "extension": "11", "email": "ivanov@example.com",
                                         "reception_mode": "sequential",
                                         "contact_methods": [{"kind": "phone", "value": "79161234567", "ring_time": 30}],
                                         "directions": ["local", "mobile"]})
        assert r.status_code == 201, r.text
        emp = r.json()
        assert emp["contact_methods"][0]["value"] == "79161234567" and emp["directions"] == ["local", "mobile"]
        assert (await c.get(E, params={"q": "иванов"})).json()["total"] == 1
        r = await c.api("PATCH", f"{E}/{emp['id']}", json={"reception_mode": "simultaneous", "extension": "12"})
        assert r.status_code == 200 and (r.json()["reception_mode"], r.json()["extension"]) == ("simultaneous", "12")
        assert r.json()["contact_methods"][0]["id"] == emp["contact_methods"][0]["id"]  # kept by PATCH
        # the extension namespace is shared with groups; errors name the field, in both languages
        grp = (await c.api("POST", G, json={"name": "Support", "extension": "20",
                                           "members": [{"kind": "employee", "employee_id": emp["id"]}]})).json()
        r = await c.api("POST", E, json={"name": "Petrov", "extension": "20"})
        assert r.status_code == 409 and r.json()["error"]["fields"] == {"extension": "Extension 20 is already used by 'Support'"}
        r = await ru.api("POST", E, json={"name": "Petrov", "extension": "112"})
        assert r.json()["error"]["fields"] == {
            "extension": "112 — номер экстренной службы, его нельзя использовать как внутренний номер"}
        r = await ru.api("POST", E, json={"name": "Petrov", "extension": "21",
                                          "contact_methods": [{"kind": "phone", "value": "8 916 123-45-67"}]})
        assert r.status_code == 422 and list(r.json()["error"]["fields"]) == ["contact_methods[0].value"]
        r = await c.api("POST", E, json={"name": "Petrov", "extension": "21", "outgoing_number": "74950000000"})
        assert r.json()["error"]["fields"] == {
            "outgoing_number": "Number 74950000000 is not a line of this PBX that can be used for outgoing calls"}
        # a group member is not deleted
        r = await c.api("DELETE", f"{E}/{emp['id']}")
        assert r.status_code == 409 and r.json()["error"]["references"] == [
            {"type": "group", "type_name": "group", "id": grp["id"], "name": "Support", "field": "members"}]
        r = await ru.api("DELETE", f"{E}/{emp['id']}")
        assert r.json()["error"]["message"] == "«Иванов Иван» используется: группа «Support». Удалить нельзя"
        await c.api("DELETE", f"{G}/{grp['id']}")
        assert (await c.api("DELETE", f"{E}/{emp['id']}")).status_code == 200


async def test_wizard_creates_employee_sip_account_and_sends_the_email(st, sink):
    sink.reset()
    async with st.client("101/admin") as c:
        r = await c.api("POST", f"{E}/wizard", json={"name": "Сидоров Пётр", "email": "sidorov@example.com"})
        assert r.status_code == 201, r.text
        out = r.json()
        emp, acc = out["employee"], out["sip_account"]
        assert emp["extension"] == "10"  # the first free extension from 10
        assert acc["address"] == "ext10@vpbx101.pult.test" and acc["employee_id"] == emp["id"]
        assert emp["contact_methods"][0] == {**emp["contact_methods"][0], "kind": "sip_account",
                                             "account_id": acc["id"], "active": True}
        assert (await c.get(f"/api/v1/telephony/sip/accounts/{acc['id']}/password")).json()["password"] == out["sip_password"]
        assert out["mail"]["queued"] is True
        await jobs_client.result(out["mail"]["job_id"], timeout=10)
        (got,) = sink.wait_for(1)
        assert got.rcpt_tos == ["sidorov@example.com"]
        text = got.message.get_body(("plain",)).get_content()
        assert "Сидоров Пётр" in text and "Extension: 10" in text and "ext10@vpbx101.pult.test" in text
        assert out["sip_password"] not in text  # the password never travels by e-mail
        # forwarding to a phone instead; the taken SIP login and a bad phone are refused before any write
        r = await c.api("POST", f"{E}/wizard", json={"name": "Mobile worker", "reception": "phone",
                                                     "phone": "79160000001", "extension": "55", "send_email": False})
        assert r.status_code == 201 and r.json()["sip_account"] is None
        assert r.json()["employee"]["contact_methods"][0]["value"] == "79160000001"
        assert r.json()["mail"] == {"queued": False, "job_id": None, "error": None}
        before = (await c.get(E)).json()["total"]
        r = await c.api("POST", f"{E}/wizard", json={"name": "Clash", "sip_login": "ext10"})
        assert r.status_code == 409 and r.json()["error"]["fields"] == {
            "sip_login": "SIP login ext10@vpbx101.pult.test is already taken"}
        r = await c.api("POST", f"{E}/wizard", json={"name": "No phone", "reception": "phone"})
        assert r.json()["error"]["fields"] == {"phone": "Number is empty. Expected: digits in international form "
                                                        "without +, e.g. 79121234567 or 73432628900(252)"}
        assert (await c.get(E)).json()["total"] == before


async def test_group_leader_reaches_only_the_supervised_groups(st):
    async with st.client("101/admin") as c:
        a = (await c.api("POST", E, json={"name": "Member A", "extension": "601"})).json()
        b = (await c.api("POST", E, json={"name": "Outsider B", "extension": "602"})).json()
        mine = (await c.api("POST", G, json={"name": "Leader's team", "extension": "61",
                                            "members": [{"kind": "employee", "employee_id": a["id"]}]})).json()
        other = (await c.api("POST", G, json={"name": "Other team", "extension": "62",
                                             "members": [{"kind": "employee", "employee_id": b["id"]}]})).json()
    leader = st.info["users"]["101/leader"]
    await Users(st.db, Scope.pbx(101)).update_one({"_id": leader["_id"]}, {"$set": {"supervised_groups": [mine["id"]]}})
    async with st.client("101/leader") as lc:
        assert [e["id"] for e in (await lc.get(E)).json()["items"]] == [a["id"]]
        assert [g["id"] for g in (await lc.get(G)).json()["items"]] == [mine["id"]]
        r = await lc.api("PATCH", f"{E}/{a['id']}", json={"contact_methods": [{"kind": "phone", "value": "79169999999"}]})
        assert r.status_code == 200, r.text
        r = await lc.get(f"{E}/{b['id']}")
        assert r.status_code == 403 and r.json()["error"]["message"] == "This employee is outside the employees your role covers."
        assert (await lc.api("PATCH", f"{E}/{b['id']}", json={"name": "Hacked"})).status_code == 403
        assert (await lc.api("POST", E, json={"name": "New", "extension": "603"})).status_code == 403
        assert (await lc.api("DELETE", f"{E}/{a['id']}")).status_code == 403
        r = await lc.api("PATCH", f"{G}/{mine['id']}", json={"strategy": "simultaneous"})
        assert r.status_code == 200 and r.json()["strategy"] == "simultaneous"
        assert (await lc.api("PATCH", f"{G}/{other['id']}", json={"strategy": "random"})).status_code == 403
        assert (await lc.api("DELETE", f"{G}/{mine['id']}")).status_code == 403
        assert (await lc.get(f"{G}/{'0' * 24}")).status_code == 404


async def test_reach_is_applied_by_the_services_for_the_page_and_the_api(st):
    """The services read only what a role reaches (one query, the filters in it), and the group
    pages now agree with the API: a Group leader sees the supervised groups and gets 403 (the page
    said "not found") for another group of the PBX, and a "groups" reach means the groups the
    user's own card is a member of."""
    from esl_control.model.employees.services import EmployeeService
    from esl_control.model.groups.services import GroupService
    from esl_control.model.reach import EVERYTHING, Reach
    from pult.errors import AppError

    async with st.client("101/admin") as c:
        me = (await c.api("POST", E, json={"name": "Reach Me", "extension": "801", "department": "Sales"})).json()
        mate = (await c.api("POST", E, json={"name": "Reach Mate", "extension": "802", "department": "Sales"})).json()
        far = (await c.api("POST", E, json={"name": "Reach Far", "extension": "803", "department": "Sales"})).json()
        team = (await c.api("POST", G, json={"name": "Reach team", "extension": "81", "members": [
            {"kind": "employee", "employee_id": me["id"]}, {"kind": "employee", "employee_id": mate["id"]}]})).json()
        other = (await c.api("POST", G, json={"name": "Reach other", "extension": "82", "members": [
            {"kind": "employee", "employee_id": far["id"]}]})).json()
    employees, groups = EmployeeService(st.db, 101), GroupService(st.db, 101)
    member_of = Reach("groups", me["id"])
    supervises = Reach("supervised", None, frozenset({other["id"]}))
    assert [e["id"] for e in await employees.list_reached(member_of, q="reach")] == [mate["id"], me["id"]]
    assert [e["id"] for e in await employees.list_reached(supervises, q="REACH")] == [far["id"]]
    assert [e["id"] for e in await employees.list_reached(Reach("own", me["id"]), q="sales")] == [me["id"]]
    assert [e["id"] for e in await employees.list_reached(EVERYTHING, q="reach", group_id=team["id"])] == \
        [mate["id"], me["id"]]
    assert await employees.list_reached(supervises, group_id=team["id"]) == []
    assert [g["id"] for g in await groups.list_reached(member_of, q="reach")] == [team["id"]]
    assert [g["id"] for g in await groups.list_reached(supervises)] == [other["id"]]
    assert [g["id"] for g in await groups.list_reached(EVERYTHING, q="reach", employee_id=far["id"])] == [other["id"]]
    try:
        await groups.get_reached(other["id"], member_of)
        raise AssertionError("a group outside the reach was returned")
    except AppError as exc:
        assert exc.status_code == 403
    leader = st.info["users"]["101/leader"]
    await Users(st.db, Scope.pbx(101)).update_one({"_id": leader["_id"]}, {"$set": {"supervised_groups": [other["id"]]}})
    async with st.client("101/leader") as lc:
        page = await lc.get("/telephony/groups")
        assert "Reach other" in page.text and "Reach team" not in page.text
        assert (await lc.get(f"/telephony/groups/{team['id']}")).status_code == 403
        assert (await lc.get(f"{G}/{team['id']}")).status_code == 403
        assert (await lc.get(f"/telephony/groups/{other['id']}")).status_code == 200
