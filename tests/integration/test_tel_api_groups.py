"""Call groups, PBX settings, schemes, lists, client-number rules and conference rooms over the
REST API: round trips, member endpoints, the scheme tree as one document with copy/rename/
activate, list mode, rule order, RU/EN errors and references on delete."""
from __future__ import annotations

import pytest
import pytest_asyncio

from tests.integration.tel_api_harness import tel_stack
from esl_control.model.numbers.services import DidPoolService

pytestmark = pytest.mark.asyncio(loop_scope="module")
G = "/api/v1/telephony/groups"
S = "/api/v1/telephony/schemes"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def st():
    async with tel_stack() as stack:
        await DidPoolService(stack.db).add(["74952220001", "74952220002"])
        yield stack


async def test_group_round_trip_members_queue_and_features(st):
    async with st.client("101/admin") as c, st.client("101/adminru", lang="ru") as ru:
        e1 = (await c.api("POST", "/api/v1/telephony/employees", json={"name": "Anna", "extension": "201"})).json()
        e2 = (await c.api("POST", "/api/v1/telephony/employees", json={"name": "Boris", "extension": "202"})).json()
        r = await c.api("POST", G, json={"name": "Sales", "extension": "30", "strategy": "priority",
                                         "members": [{"kind": "employee", "employee_id": e1["id"], "priority": 2}],
                                         "queue": {"mode": "special", "max_wait": 120, "hold_sound": "builtin:sirtaki"},
                                         "features": {"fax": False}})
        assert r.status_code == 201, r.text
        g = r.json()
        assert g["queue"]["max_wait"] == 120 and g["features"] == {"transfer": True, "conference": True, "fax": False}
        r = await c.api("POST", f"{G}/{g['id']}/members", json={"kind": "external", "value": "79160000002", "lines": 2})
        assert r.status_code == 201 and r.json()["total"] == 2
        r = await c.api("PUT", f"{G}/{g['id']}/members", json={"members": [
            {"kind": "employee", "employee_id": e2["id"]}, {"kind": "employee", "employee_id": e1["id"]}]})
        members = r.json()["items"]
        assert [m["employee_id"] for m in members] == [e2["id"], e1["id"]]
        assert (await c.get(G, params={"employee_id": e2["id"]})).json()["total"] == 1
        r = await c.api("DELETE", f"{G}/{g['id']}/members/{members[0]['id']}")
        assert [m["employee_id"] for m in r.json()["items"]] == [e1["id"]]
        assert (await c.api("DELETE", f"{G}/{g['id']}/members/{members[0]['id']}")).status_code == 404
        r = await ru.api("POST", f"{G}/{g['id']}/members", json={"kind": "employee", "employee_id": e1["id"]})
        assert r.status_code == 422 and list(r.json()["error"]["fields"].values()) == [f"{e1['id']} уже есть в группе"]
        r = await c.api("PATCH", f"{G}/{g['id']}", json={"dtmf": {"transfer": "#", "return": "#"}})
        assert r.status_code == 422 and r.json()["error"]["fields"] == {"dtmf.return": "DTMF code '#' is assigned to two features"}
        r = await ru.api("PATCH", f"{G}/{g['id']}", json={"strategy": "roundrobin"})
        assert r.json()["error"]["fields"]["strategy"].startswith("Значение «roundrobin» недопустимо")
        r = await c.api("PATCH", f"{G}/{g['id']}", json={"queue": {"hold_sound": "nope"}})
        assert r.status_code == 409 and r.json()["error"]["fields"] == {
            "queue.hold_sound": "The selected object does not exist in this PBX or was deleted (nope)"}
        # a scheme forwards to the group: the group is not deleted
        scheme = (await c.api("POST", S, json={"name": "To sales", "blocks": [{"steps": [
            {"kind": "forward", "target": {"type": "group", "id": g["id"]}}, {"kind": "hangup"}]}]})).json()
        r = await c.api("DELETE", f"{G}/{g['id']}")
        assert r.status_code == 409 and r.json()["error"]["references"][0] == {
            "type": "scheme", "type_name": "scheme", "id": scheme["id"], "name": "To sales", "field": "forward"}
        await c.api("DELETE", f"{S}/{scheme['id']}")
        assert (await c.api("DELETE", f"{G}/{g['id']}")).status_code == 200


async def test_call_handling_and_security_settings(st):
    async with st.client("101/admin") as c, st.client("101/adminru", lang="ru") as ru, st.client("101/viewer") as v:
        ch = (await c.get("/api/v1/telephony/settings/call-handling")).json()
        assert ch["default_ring_time"] == 120 and ch["queue"]["max_wait"] == 600
        r = await c.api("PATCH", "/api/v1/telephony/settings/call-handling",
                        json={"default_ring_time": 45, "queue": {"max_wait": 300}})
        assert r.status_code == 200 and r.json()["queue"] == {**ch["queue"], "max_wait": 300}
        assert (await c.get("/api/v1/telephony/settings/call-handling")).json()["default_ring_time"] == 45
        r = await ru.api("PUT", "/api/v1/telephony/settings/call-handling", json={"home_area_codes": ["12"]})
        assert r.status_code == 422 and "home_area_codes" in r.json()["error"]["fields"]
        r = await c.api("PUT", "/api/v1/telephony/settings/security", json={"allowed_directions": ["local", "mobile"]})
        assert r.json()["allowed_directions"] == ["local", "mobile"] and r.json()["transfer_external"] is True
        r = await c.api("PUT", "/api/v1/telephony/settings/security", json={"allowed_directions": ["moon"]})
        assert r.json()["error"]["fields"] == {"allowed_directions": "Direction 'moon' is unknown; expected one of "
                                                                    "international, local, long_distance, mobile, service"}
        assert (await v.get("/api/v1/telephony/settings/security")).status_code == 200
        r = await v.api("PATCH", "/api/v1/telephony/settings/security", json={"blf_pickup": True})
        assert r.status_code == 403 and r.json()["error"]["message"] == "Your role only allows viewing the section «Security settings»."


async def test_scheme_tree_copy_rename_activate(st):
    tree = {"name": "Main", "description": "Office hours menu", "blocks": [{"steps": [
        {"kind": "greeting", "sound_id": "builtin:abba"},
        {"kind": "menu", "children": {"1": {"steps": [{"kind": "forward", "target": {"type": "external",
                                                                                     "value": "79160000003"}},
                                                      {"kind": "return_to_main"}]}},
         "rules": {"no_input": {"timeout": 7, "steps": []}}},
        {"kind": "hangup"}]}]}
    async with st.client("101/admin") as c, st.client("101/adminru", lang="ru") as ru:
        r = await c.api("POST", S, json=tree)
        assert r.status_code == 201, r.text
        s = r.json()
        got = (await c.get(f"{S}/{s['id']}")).json()
        menu = got["blocks"][0]["steps"][1]
        assert menu["children"]["1"]["steps"][0]["target"] == {"type": "external", "value": "79160000003"}
        assert menu["rules"]["no_input"] == {**menu["rules"]["no_input"], "timeout": 7}
        # the whole tree is validated as one document: nothing is saved from a bad one
        bad = {**tree, "blocks": [{"steps": [{"kind": "greeting"}]}]}
        r = await c.api("PUT", f"{S}/{s['id']}", json=bad)
        assert r.status_code == 422 and r.json()["error"]["fields"] == {
            "blocks[0].steps": "The last step of a block is 'Hang up' and cannot be removed"}
        r = await ru.api("PUT", f"{S}/{s['id']}", json=bad)
        assert r.json()["error"]["fields"] == {"blocks[0].steps": "Последний шаг блока — «Отбой», его нельзя удалить"}
        assert (await c.get(f"{S}/{s['id']}")).json()["blocks"] == got["blocks"]
        copy = (await c.api("POST", f"{S}/{s['id']}/copy", json={"name": "Main (night)"})).json()
        assert copy["id"] != s["id"] and copy["blocks"][0]["steps"][1]["kind"] == "menu"
        r = await c.api("POST", f"{S}/{s['id']}/copy", json={"name": "main (NIGHT)"})
        assert r.status_code == 409 and r.json()["error"]["fields"] == {"name": "The name 'main (NIGHT)' is already used"}
        r = await c.api("POST", f"{S}/{copy['id']}/rename", json={"name": "Night", "description": "After hours"})
        assert (r.json()["name"], r.json()["description"]) == ("Night", "After hours")
        n1 = (await c.api("POST", "/api/v1/telephony/numbers/assign", json={"number": "74952220001"})).json()
        n2 = (await c.api("POST", "/api/v1/telephony/numbers/assign", json={"number": "74952220002"})).json()
        r = await c.api("POST", f"{S}/{s['id']}/activate", json={"numbers": [n1["id"], n2["id"]]})
        assert r.status_code == 200 and r.json()["total"] == 2
        r = await c.api("POST", f"{S}/{copy['id']}/activate", json={"numbers": [n2["id"]]})
        assert [n["number"] for n in (await c.get(f"{S}/{s['id']}/numbers")).json()["items"]] == ["74952220001"]
        assert [n["number"] for n in (await c.get(f"{S}/{copy['id']}/numbers")).json()["items"]] == ["74952220002"]
        r = await c.api("POST", f"{S}/{s['id']}/activate", json={"numbers": ["0" * 24]})
        assert r.status_code == 409 and r.json()["error"]["fields"] == {
            "numbers": f"The selected object does not exist in this PBX or was deleted ({'0' * 24})"}
        assert (await c.get(S, params={"q": "night"})).json()["total"] == 1


async def test_lists_client_rules_and_conference_rooms(st):
    async with st.client("101/admin") as c, st.client("101/adminru", lang="ru") as ru:
        L = "/api/v1/telephony/lists/entries"
        r = await c.api("POST", L, json={"list": "black", "value": "74952009000-74952009999", "comment": "spam"})
        assert r.status_code == 201, r.text
        entry = r.json()
        assert (await c.api("POST", L, json={"list": "black", "value": "74952009000-74952009999"})).json()["error"][
            "fields"] == {"value": "The entry '74952009000-74952009999' is already in the list"}
        r = await ru.api("POST", L, json={"list": "white", "value": "+79161234567"})
        assert r.json()["error"]["fields"]["value"].startswith("Номера указываются без «+».")
        await c.api("POST", L, json={"list": "white", "value": "79161234567"})
        assert (await c.get(L, params={"list": "white"})).json()["total"] == 1
        r = await c.api("PUT", "/api/v1/telephony/lists/mode", json={"mode": "white", "unknown_allowed": False})
        assert r.json() == {"mode": "white", "unknown_allowed": False}
        assert (await c.get("/api/v1/telephony/lists/mode")).json()["mode"] == "white"
        r = await c.api("PUT", "/api/v1/telephony/lists/mode", json={"mode": "grey"})
        assert r.status_code == 422 and "mode" in r.json()["error"]["fields"]
        assert (await c.api("DELETE", f"{L}/{entry['id']}")).status_code == 200

        R = "/api/v1/telephony/client-rules"
        emp = (await c.api("POST", "/api/v1/telephony/employees", json={"name": "VIP manager", "extension": "150"})).json()
        r1 = (await c.api("POST", R, json={"value": "7916*", "exact": False, "target_kind": "employee",
                                           "target": emp["id"]})).json()
        r2 = (await c.api("POST", R, json={"value": "79161234567", "target_kind": "external",
                                           "target": "79160000009"})).json()
        assert (r1["position"], r2["position"]) == (1, 2)
        r = await c.api("POST", f"{R}/order", json={"ids": [r2["id"], r1["id"]]})
        assert [x["id"] for x in r.json()["items"]] == [r2["id"], r1["id"]]
        r = await c.api("POST", f"{R}/order", json={"ids": [r2["id"]]})
        assert r.status_code == 409 and "ids" in r.json()["error"]["fields"]
        r = await c.api("DELETE", f"/api/v1/telephony/employees/{emp['id']}")
        assert r.status_code == 409 and r.json()["error"]["references"][0]["type"] == "client_rule"
        r = await ru.api("POST", R, json={"value": "7916", "target_kind": "external", "target": ""})
        assert r.status_code == 422

        C = "/api/v1/telephony/conference-rooms"
        room = (await c.api("POST", C, json={"name": "Board room", "pin": "1234"})).json()
        assert room["extension"] == "1000" and room["seats"] == 10
        r = await ru.api("PATCH", f"{C}/{room['id']}", json={"pin": "12"})
        assert r.json()["error"]["fields"] == {"pin": "PIN-код — от 4 до 7 цифр"}
        r = await c.api("PATCH", f"{C}/{room['id']}", json={"seats": 20, "extension": "1005"})
        assert (r.json()["seats"], r.json()["extension"]) == (20, "1005")
        r = await c.api("POST", "/api/v1/telephony/employees", json={"name": "Clash", "extension": "1005"})
        assert r.json()["error"]["fields"] == {"extension": "Extension 1005 is already used by 'Board room'"}
        assert (await c.api("DELETE", f"{C}/{room['id']}")).status_code == 200
