"""Contact-centre flags of group members (inventory B §4.1): ``operator`` (default on) and
``supervisor`` (default off, needs operator) on employee members — validated, kept through the API
and saved from the group page's member rows; external numbers take neither flag."""
from __future__ import annotations

import pytest

from tests.integration.tel_api_harness import st  # noqa: F401  (st: the module's stack)
from tests.integration.test_tel_pages_forms import field_error

pytestmark = pytest.mark.asyncio(loop_scope="module")
GROUPS = "/api/v1/telephony/groups"


async def test_flags_through_the_api_defaults_and_refusals(st):
    async with st.client("101/admin", "en") as en, st.client("101/adminru", "ru") as ru:
        anna = (await en.api("POST", "/api/v1/telephony/employees", json={"name": "Anna", "extension": "301"})).json()
        boris = (await en.api("POST", "/api/v1/telephony/employees", json={"name": "Boris", "extension": "302"})).json()
        r = await en.api("POST", GROUPS, json={"name": "Support line", "extension": "350", "members": [
            {"kind": "employee", "employee_id": anna["id"]},
            {"kind": "employee", "employee_id": boris["id"], "supervisor": True},
            {"kind": "external", "value": "79161234567"}]})
        assert r.status_code == 201, r.text
        members = r.json()["members"]
        assert [(m.get("operator"), m.get("supervisor")) for m in members] == [(True, False), (True, True), (None, None)]
        group_id = r.json()["id"]
        # a supervisor who is not an operator is refused on the operator box, in the user's language
        r = await ru.api("PUT", f"{GROUPS}/{group_id}/members", json={"members": [
            {"kind": "employee", "employee_id": boris["id"], "operator": False, "supervisor": True}]})
        assert r.status_code == 422 and "Супервизор — это и оператор" in r.text, r.text
        assert "members[0].operator" in r.text
        r = await en.api("PUT", f"{GROUPS}/{group_id}/members", json={"members": [
            {"kind": "external", "value": "79161234567", "supervisor": True}]})
        assert r.status_code == 422 and "Only employees can be operators or supervisors" in r.text
        r = await en.api("PUT", f"{GROUPS}/{group_id}/members", json={"members": [
            {"kind": "employee", "employee_id": anna["id"], "operator": False},
            {"kind": "employee", "employee_id": boris["id"], "supervisor": True}]})
        assert r.status_code == 200, r.text
        got = (await en.get(f"{GROUPS}/{group_id}")).json()["members"]
        assert [(m["operator"], m["supervisor"]) for m in got] == [(False, False), (True, True)]


async def test_flags_on_the_group_page(st):
    async with st.client("101/admin", "en") as en:
        cara = (await en.api("POST", "/api/v1/telephony/employees", json={"name": "Cara", "extension": "303"})).json()
        base = {"name": "Sales floor", "extension": "351", "strategy": "sequential", "attempts": "1",
                "attempt_pause": "0", "caller_id": "caller", "dtmf.transfer": "##", "dtmf.toggle": "*",
                "dtmf.return": "#", "dtmf.fax": "0", "dtmf.record": "#5", "queue.mode": "pbx", "exclusion_mode": "pbx",
                "m-0-kind": "employee", "m-0-employee_id": cara["id"], "m-0-priority": "1"}
        r = await en.post_form("/telephony/groups/new", {**base, "m-0-supervisor": "on"})
        assert r.status_code == 422 and field_error(r.text, "members[0].operator") is None  # shown in the row
        assert "A supervisor is an operator too" in r.text
        r = await en.post_form("/telephony/groups/new", {**base, "m-0-operator": "on", "m-0-supervisor": "on"})
        assert r.status_code == 302, r.text[:2000]
        group = await st.db["ring_groups"].find_one({"name": "Sales floor"})
        assert group["members"][0]["operator"] is True and group["members"][0]["supervisor"] is True
        page = (await en.get(f"/telephony/groups/{group['_id']}")).text
        assert 'name="m-0-operator" checked' in page and 'name="m-0-supervisor" checked' in page
        assert "Contact centre" in page
