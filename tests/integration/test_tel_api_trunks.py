"""SIP trunks, the ordered mask list and the route tester over the REST API: the tester answers
what the call flow's own rule (choose_route) decides for the PBX's stored configuration."""
from __future__ import annotations

import pytest

from tests.integration.tel_api_harness import st  # noqa: F401  (st: the module's stack)

pytestmark = pytest.mark.asyncio(loop_scope="module")
T = "/api/v1/telephony/trunks"


async def test_trunk_round_trip_masks_and_route_test(st):
    async with st.client("101/admin") as c, st.client("101/adminru", lang="ru") as ru, st.client("101/viewer") as v:
        r = await c.api("POST", T, json={"name": "Office PBX", "host": "10.20.30.40", "prefix": "88", "lines": 10,
                                         "numbers": [{"number": "73432000001", "comment": "reception"}]})
        assert r.status_code == 201, r.text
        t1 = r.json()
        assert (t1["status"], t1["port"], t1["codecs"]) == ("unknown", 5060, ["PCMA", "PCMU"])
        t2 = (await c.api("POST", T, json={"name": "Branch", "host": "10.20.30.41"})).json()
        r = await c.api("POST", T, json={"name": "Dup", "host": "10.20.30.40"})
        assert r.status_code == 409 and r.json()["error"]["fields"] == {"host": "Trunk 'Office PBX' of this PBX already uses 10.20.30.40:5060"}
        r = await ru.api("POST", T, json={"name": "Dup", "host": "10.20.30.42", "prefix": "88"})
        assert r.json()["error"]["fields"] == {"prefix": "Префикс 88 уже используется транком «Office PBX»"}
        r = await c.api("POST", T, json={"name": "Few", "host": "10.20.30.43", "lines": 2})
        assert r.json()["error"]["fields"] == {"lines": "Number of lines must be from 5 to 100"}
        r = await c.api("PATCH", f"{T}/{t2['id']}", json={"lines": 20})
        assert r.status_code == 200 and r.json()["lines"] == 20 and r.json()["host"] == "10.20.30.41"

        r = await ru.api("PUT", f"{T}/masks", json={"masks": [
            {"mask": "8(\\d{10})", "transformation": "7$1", "trunk_id": t2["id"]},
            {"mask": "[100-", "transformation": "", "trunk_id": t2["id"]}]})
        assert r.status_code == 422 and list(r.json()["error"]["fields"]) == ["masks[1].mask"]
        r = await c.api("PUT", f"{T}/masks", json={"masks": [
            {"mask": "8(\\d{10})", "transformation": "7$1", "trunk_id": t2["id"]},
            {"mask": "7(\\d{10})", "transformation": "$2", "trunk_id": t2["id"]}]})
        assert r.json()["error"]["fields"] == {
            "masks[1].transformation": "Transformation uses $2 but the mask has 1 group(s) in brackets"}
        r = await c.api("PUT", f"{T}/masks", json={"masks": [
            {"mask": "8(\\d{10})", "transformation": "7$1", "trunk_id": t2["id"]}]})
        assert r.status_code == 200
        masks = (await c.get(f"{T}/masks")).json()["masks"]
        assert [m["mask"] for m in masks] == ["8(\\d{10})"]

        emp = (await c.api("POST", "/api/v1/telephony/employees", json={"name": "Caller", "extension": "40"})).json()
        test = f"{T}/masks/test"
        r = await v.api("POST", test, json={"number": "40"})  # the tester changes nothing: view suffices
        assert r.status_code == 200 and (r.json()["kind"], r.json()["reason"]) == ("internal", "extension")
        r = (await c.api("POST", test, json={"number": "88123456", "employee_id": emp["id"]})).json()
        assert (r["kind"], r["number"], r["trunk_id"], r["trunk_name"], r["reason"]) == \
            ("trunk", "123456", t1["id"], "Office PBX", "trunk_prefix")
        assert r["caller_id"] == "40"
        r = (await c.api("POST", test, json={"number": "84951234567", "employee_id": emp["id"]})).json()
        assert (r["kind"], r["number"], r["trunk_id"], r["mask_index"], r["mask_id"]) == \
            ("trunk", "74951234567", t2["id"], 0, masks[0]["id"])
        r = (await c.api("POST", test, json={"number": "74951234567", "employee_id": emp["id"]})).json()
        assert (r["allowed"], r["reason"]) == (False, "no_outgoing_number")
        assert r["reason_text"] == "No outgoing number: calls to the public network are not allowed."
        r = (await ru.api("POST", test, json={"number": "74951234567", "outgoing_number": "74951110000"})).json()
        assert (r["kind"], r["reason"], r["direction"], r["caller_id"]) == ("platform", "platform", "local", "74951110000")
        assert r["reason_text"] == "Ни один транк не подходит: звонок идёт через платформу."
        await c.api("PUT", "/api/v1/telephony/settings/security", json={"allowed_directions": ["local"]})
        r = (await c.api("POST", test, json={"number": "79161234567", "outgoing_number": "74951110000"})).json()
        assert (r["allowed"], r["reason"], r["direction"]) == (False, "direction_barred", "mobile")
        r = (await c.api("POST", test, json={"number": "112"})).json()
        assert (r["kind"], r["reason"]) == ("platform", "emergency")
        r = await c.api("POST", test, json={"number": "79161234567", "employee_id": "0" * 24})
        assert r.status_code == 409 and "employee_id" in r.json()["error"]["fields"]

        # a mask routes to the trunk: it is not deleted
        r = await c.api("DELETE", f"{T}/{t2['id']}")
        assert r.status_code == 409 and r.json()["error"]["references"][0]["type"] == "settings"
        assert (await c.api("DELETE", f"{T}/{t1['id']}")).status_code == 200
        assert (await v.api("PATCH", f"{T}/{t2['id']}", json={"lines": 30})).status_code == 403
