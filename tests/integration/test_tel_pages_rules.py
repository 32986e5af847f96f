"""The telephony cabinet pages apply the same access rules as the API, over real HTTP (real
Tornado, Redis, embedded store): a SIP password protected by its owner (personal protection) is
neither shown nor changed by others; a Group leader reaches only the employees of the groups they
supervise and cannot create or delete employees; a trunk can be switched off and both route
testers then skip it; a form with several wrong fields shows every one of them (the API keeps
answering with the first)."""
from __future__ import annotations

import html as html_lib
import re

import pytest

from storage.repos.base import Scope
from storage.repos.users import Users, link_employee
from tests.integration.tel_api_harness import field_error, st  # noqa: F401  (st: the module's stack)
from esl_control.model.employees.schemas import clean_employee, employee_errors
from esl_control.model.groups.schemas import group_errors
from esl_control.model.trunks.schemas import clean_trunk, trunk_errors
from esl_control.routing.errors import RuleError

pytestmark = pytest.mark.asyncio(loop_scope="module")

E = "/api/v1/telephony/employees"
G = "/api/v1/telephony/groups"


def marked_invalid(html: str, field: str) -> bool:
    """Whether an input points at the error of ``field`` (row cells carry no error paragraph id)."""
    fid = "err-" + "".join(c if c.isalnum() else "-" for c in field)
    return f'aria-invalid="true" aria-describedby="{fid}"' in html


async def test_protected_sip_password_is_not_shown_or_changed_by_others(st):
    async with st.client("101/admin") as c:
        emp = (await c.api("POST", E, json={"name": "Head of company", "extension": "401"})).json()
        acc = (await c.api("POST", "/api/v1/telephony/sip/accounts",
                           json={"login": "headphone", "password": "Secret123x", "employee_id": emp["id"]})).json()
        page = (await c.get(f"/telephony/sip/accounts/{acc['id']}")).text
        assert 'id="reveal"' in page and 'id="password-protected"' not in page  # not protected yet
        owner = st.info["users"]["101/adminru"]
        await link_employee(st.store, owner["_id"], emp["id"])
        await Users(st.db, Scope.pbx(101)).update_one({"_id": owner["_id"]}, {"$set": {"protection": {"passwords": True}}})

        page = (await c.get(f"/telephony/sip/accounts/{acc['id']}")).text
        assert 'id="reveal"' not in page and 'id="generate"' not in page
        assert "forbidden others to see or change its password" in page
        r = await c.post_form(f"/telephony/sip/accounts/{acc['id']}/password", {})
        assert r.status_code == 403 and "Secret123x" not in r.text
        assert "The owner of this SIP account has forbidden others to see or change its password." in r.text
        # changing it through the form is refused too, and the stored one stays
        r = await c.post_form(f"/telephony/sip/accounts/{acc['id']}", {"login": "headphone", "password": "Other123xY",
                                                                         "employee_id": emp["id"]})
        assert r.status_code == 403 and "Other123xY" not in r.text
        # the other fields still save without a password
        r = await c.post_form(f"/telephony/sip/accounts/{acc['id']}", {"login": "headphone2", "employee_id": emp["id"]})
        assert r.status_code == 302
    async with st.client("101/adminru", "ru") as own:  # the owner sees their own password
        r = await own.post_form(f"/telephony/sip/accounts/{acc['id']}/password", {})
        assert r.status_code == 200 and 'value="Secret123x"' in r.text


async def test_group_leader_reaches_only_the_supervised_groups_employees(st):
    async with st.client("101/admin") as c:
        a = (await c.api("POST", E, json={"name": "Member Anna", "extension": "601"})).json()
        b = (await c.api("POST", E, json={"name": "Outsider Boris", "extension": "602"})).json()
        mine = (await c.api("POST", G, json={"name": "Leader team", "extension": "61",
                                            "members": [{"kind": "employee", "employee_id": a["id"]}]})).json()
        await c.api("POST", G, json={"name": "Other team", "extension": "62",
                                     "members": [{"kind": "employee", "employee_id": b["id"]}]})
        assert 'id="new-employee"' in (await c.get("/telephony/employees")).text
    leader = st.info["users"]["101/leader"]
    await Users(st.db, Scope.pbx(101)).update_one({"_id": leader["_id"]}, {"$set": {"supervised_groups": [mine["id"]]}})
    async with st.client("101/leader") as lc:
        listing = (await lc.get("/telephony/employees")).text
        assert "Member Anna" in listing and "Outsider Boris" not in listing
        assert 'id="new-employee"' not in listing and "/delete" not in listing
        card = await lc.get(f"/telephony/employees/{a['id']}")
        assert card.status_code == 200 and f'href="/telephony/employees/{a["id"]}/delete"' not in card.text
        r = await lc.post_form(f"/telephony/employees/{a['id']}", {
            "name": "Member Anna", "extension": "601", "position": "Team lead's deputy",
            "cm-0-kind": "phone", "cm-0-value": "79169999999", "cm-0-active": "1"})
        assert r.status_code == 302
        stored = (await lc.api("GET", f"{E}/{a['id']}")).json()
        assert stored["position"] == "Team lead's deputy" and stored["contact_methods"][0]["value"] == "79169999999"
        # outside the supervised groups: refused, nothing changed
        r = await lc.get(f"/telephony/employees/{b['id']}")
        assert r.status_code == 403 and "This employee is outside the employees your role covers." in r.text
        r = await lc.post_form(f"/telephony/employees/{b['id']}", {"name": "Hacked", "extension": "602"})
        assert r.status_code == 403
        # creating and deleting need every employee
        assert (await lc.get("/telephony/employees/new")).status_code == 403
        r = await lc.post_form("/telephony/employees/new", {"name": "Sneaky", "extension": "603", "method": "phone",
                                                            "phone": "79160000603"})
        assert r.status_code == 403
        assert (await lc.get(f"/telephony/employees/{a['id']}/delete")).status_code == 403
        assert (await lc.post_form(f"/telephony/employees/{a['id']}/delete", {})).status_code == 403
        assert (await lc.get(f"/telephony/employees/{'0' * 24}")).status_code == 404
    async with st.client("101/admin") as c:
        assert (await c.api("GET", f"{E}/{b['id']}")).json()["name"] == "Outsider Boris"
        assert (await c.api("GET", f"{E}/{a['id']}")).status_code == 200
        assert "Sneaky" not in (await c.get("/telephony/employees")).text


async def test_an_inactive_trunk_is_skipped_by_both_route_testers(st):
    base = {"name": "Branch PBX", "host": "203.0.113.9", "port": "5060", "lines": "5", "dtmf_mode": "rfc2833",
            "codecs": "PCMA"}
    async with st.client("101/admin") as c:
        page = (await c.get("/telephony/trunks/new")).text
        assert re.search(r'name="active" value="1" id="active" checked', page)  # on by default
        r = await c.post_form("/telephony/trunks/new", {**base, "active": "0"})  # the switch turned off
        assert r.status_code == 302
        tid = re.search(r"/([0-9a-f]{24})", r.headers["Location"]).group(1)
        assert (await st.db["trunks"].find_one({"_id": tid}))["active"] is False
        assert re.search(r'name="active" value="1" id="active">', (await c.get(f"/telephony/trunks/{tid}")).text)
        assert 'class="pill">Off</span>' in (await c.get("/telephony/trunks")).text
        rows = {"mk-0-mask": r"9(\d{10})", "mk-0-transformation": "7$1", "mk-0-trunk_id": tid, "mk-0-active": "on"}
        r = await c.post_form("/telephony/trunks/routing", {**rows, "action": "test", "test_number": "94951234567"})
        assert "Into trunk" not in r.text and "Through the platform" in r.text
        assert "Branch PBX (off)" in r.text  # the rule's trunk choice says it is off
        assert (await c.post_form("/telephony/trunks/routing", {**rows, "action": "save"})).status_code == 302
        test = (await c.api("POST", "/api/v1/telephony/trunks/masks/test", json={"number": "94951234567", "outgoing_number": "74957770000"})).json()
        assert test["kind"] == "platform"
        assert (await c.api("GET", f"/api/v1/telephony/trunks/{tid}")).json()["active"] is False
        # switched on again (hidden 0 + ticked 1, as the browser sends it): both testers use it
        assert (await c.post_form(f"/telephony/trunks/{tid}", {**base, "active": ["0", "1"]})).status_code == 302
        assert (await st.db["trunks"].find_one({"_id": tid}))["active"] is True
        r = await c.post_form("/telephony/trunks/routing", {**rows, "action": "test", "test_number": "94951234567"})
        assert "Into trunk «Branch PBX» as 74951234567" in r.text
        test = (await c.api("POST", "/api/v1/telephony/trunks/masks/test", json={"number": "94951234567", "outgoing_number": "74957770000"})).json()
        assert test["kind"] == "trunk" and test["trunk_id"] == tid
        r = await c.api("PATCH", f"/api/v1/telephony/trunks/{tid}", json={"active": False})
        assert r.status_code == 200 and r.json()["active"] is False
        r = await c.api("PATCH", f"/api/v1/telephony/trunks/{tid}", json={"active": "maybe"})
        assert r.status_code in (400, 422)


async def test_forms_show_every_wrong_field_at_once(st):
    async with st.client("101/admin") as c:
        # the new-employee wizard: fields of all three steps
        r = await c.post_form("/telephony/employees/new", {
            "name": "", "email": "nobody", "extension": "12a", "method": "phone", "phone": "",
            "sip": "", "outgoing_number": ""})
        assert r.status_code == 422
        assert field_error(r.text, "name") == "Enter a name"
        assert field_error(r.text, "email") == "E-mail 'nobody' is invalid"
        assert field_error(r.text, "extension") == "Extension must be 1 to 5 digits"
        assert field_error(r.text, "phone").startswith("Number is empty")
        # an employee card: card fields and a bad contact-method row together
        emp = (await c.api("POST", E, json={"name": "Vera Card", "extension": "701"})).json()
        r = await c.post_form(f"/telephony/employees/{emp['id']}", {
            "name": "", "email": "bad@", "extension": "701",
            "cm-0-kind": "phone", "cm-0-value": "79161234567", "cm-0-active": "1", "cm-0-ring_time": "9999",
            "cm-1-kind": "phone", "cm-1-value": "+7 916", "cm-1-active": "1"})
        assert r.status_code == 422
        assert field_error(r.text, "name") and field_error(r.text, "email")
        assert marked_invalid(r.text, "contact_methods[0].ring_time") and marked_invalid(r.text, "contact_methods[1].value")
        assert (await c.api("GET", f"{E}/{emp['id']}")).json()["name"] == "Vera Card"  # nothing saved
        # a group: name, numbers out of range, a duplicate DTMF code and a bad member row
        r = await c.post_form("/telephony/groups/new", {
            "name": "", "extension": "271", "attempts": "99", "attempt_pause": "5", "caller_id": "caller",
            "dtmf.transfer": "##", "dtmf.toggle": "*", "dtmf.return": "#", "dtmf.fax": "##", "dtmf.record": "#5",
            "queue.mode": "pbx", "queue.max_wait": "600", "queue.max_length": "0",
            "m-0-kind": "external", "m-0-value": "12", "m-0-lines": "1", "m-0-priority": "1"})
        assert r.status_code == 422
        assert field_error(r.text, "name") == "Enter a name"
        assert field_error(r.text, "attempts") == "Must be a whole number from 1 to 10"
        assert field_error(r.text, "dtmf.fax") == "DTMF code '##' is assigned to two features"
        assert marked_invalid(r.text, "members[0].value")
        # a trunk: name, address, port, codecs and a number row
        r = await c.post_form("/telephony/trunks/new", {
            "name": "", "host": "example.org", "port": "70000", "lines": "5", "codecs": "XYZ",
            "tn-0-number": "12ab", "tn-0-receive": "on"})
        assert r.status_code == 422
        assert field_error(r.text, "name") == "Enter a name"
        assert field_error(r.text, "host") == "Trunk address 'example.org' must be an IPv4 address"
        assert field_error(r.text, "port") == "Must be a whole number from 1 to 65535"
        assert field_error(r.text, "codecs").startswith("Choose at least one codec")
        assert marked_invalid(r.text, "numbers[0].number")
        # the API answers with the first broken rule, as before
        r = await c.api("POST", "/api/v1/telephony/trunks", json={"name": "", "host": "example.org", "port": 70000})
        assert r.status_code == 422 and r.json()["error"]["fields"] == {"name": "Enter a name"}


async def test_collecting_and_first_error_modes_run_the_same_rules():
    bad = {"name": "", "extension": "12a", "email": "x", "contact_methods": [{"kind": "phone", "value": "1"}],
           "directions": ["nowhere"]}
    errors = employee_errors(bad)
    assert [e.field for e in errors] == ["name", "email", "contact_methods[0].value", "directions", "extension"]
    with pytest.raises(RuleError) as first:
        clean_employee(bad)
    assert (first.value.code, first.value.field) == (errors[0].code, errors[0].field)
    good = {"name": "Ok", "extension": "55", "contact_methods": [{"kind": "phone", "value": "79161234567"}]}
    assert employee_errors(good) == [] and clean_employee(good)["extension"] == "55"
    assert [e.field for e in group_errors({"name": "G", "extension": "x", "members": [{"kind": "alien"}]})] == \
        ["members[0].kind", "extension"]
    assert trunk_errors({"name": "T", "host": "10.0.0.1"}) == [] and clean_trunk({"name": "T", "host": "10.0.0.1"})["active"]
    assert [e.code for e in trunk_errors("not an object")] == ["value.object"]


async def test_the_route_tester_page_and_api_decide_alike(st):
    """One use case behind both testers: the PBX's own home area codes (not the platform's
    defaults), "any employee with an outgoing number" without one, and a blocked PBX refusing all
    but emergency and internal calls — the same decision on the page and in the API."""
    api_url = "/api/v1/telephony/trunks/masks/test"

    async def both(c, number):
        page = await c.post_form("/telephony/trunks/routing", {"action": "test", "test_number": number})
        api = await c.api("POST", api_url, json={"number": number})
        assert page.status_code == api.status_code == 200, (page.text[:2000], api.text)
        reason = re.search(r'id="decision" role="status">.*?<p>.*?</p>\s*<p>([^<]*)</p>', page.text, re.S).group(1)
        return html_lib.unescape(reason), api.json()

    async with st.client("101/admin") as c:
        before = (await c.get("/api/v1/telephony/settings/call-handling")).json()["home_area_codes"]
        assert (await c.api("PUT", "/api/v1/telephony/settings/call-handling",
                            json={"home_area_codes": ["343"]})).status_code == 200
        try:
            page, api = await both(c, "2628900")  # a local number of area 343
            assert api["allowed"] and api["direction"] == "local" and api["number"] == "73432628900"
            assert page == api["reason_text"]
            assert (await st.db["pbxes"].update_one({"pbx_id": 101}, {"$set": {"operator_block": {"reason": "test"}}})
                    ).modified_count == 1
            try:
                page, api = await both(c, "79161234567")
                assert (api["allowed"], api["reason"]) == (False, "pbx_blocked")
                assert page == api["reason_text"] == "The PBX is blocked: only emergency and internal calls are possible."
                page, api = await both(c, "112")
                assert (api["allowed"], api["reason"]) == (True, "emergency") and page == api["reason_text"]
            finally:
                await st.db["pbxes"].update_one({"pbx_id": 101}, {"$unset": {"operator_block": ""}})
        finally:
            await c.api("PUT", "/api/v1/telephony/settings/call-handling", json={"home_area_codes": before})
        # no number: the same refusal, nothing decided
        page = await c.post_form("/telephony/trunks/routing", {"action": "test", "test_number": " "})
        api = await c.api("POST", api_url, json={"number": " "})
        assert page.status_code == api.status_code == 422
        assert field_error(page.text, "test_number") == api.json()["error"]["fields"]["number"]
