"""Numbers over the REST API: assign from the pool, passive and active SIP, comment, scheme
binding, live status, transfer between PBXs of one account, release, and the refusals."""
from __future__ import annotations

import pytest
import pytest_asyncio

from storage.repos.base import Scope
from storage.repos.telephony import DidPool, Numbers
from tests.integration.tel_api_harness import tel_stack
from esl_control.model.numbers.services import DidPoolService

pytestmark = pytest.mark.asyncio(loop_scope="module")
N = "/api/v1/telephony/numbers"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def st():
    async with tel_stack() as stack:
        await DidPoolService(stack.db).add(["74951110001", "74951110002", "74951110003", "74951110004"])
        yield stack


async def test_assign_comment_scheme_status_and_release(st):
    async with st.client("101/admin") as c:
        pool = (await c.get(f"{N}/pool", params={"q": "111000"})).json()
        assert [i["number"] for i in pool["items"]] == ["74951110001", "74951110002", "74951110003", "74951110004"]
        r = await c.api("POST", f"{N}/assign", json={"number": "74951110001", "comment": "Main line"})
        assert r.status_code == 201, r.text
        num = r.json()
        assert (num["kind"], num["status"], num["comment"]) == ("platform", "active", "Main line")
        assert (await DidPool(st.db, Scope.platform()).find_one({"_id": "74951110001"}))["status"] == "assigned"
        # the same number again, a number outside the pool, a badly written number
        r = await c.api("POST", f"{N}/assign", json={"number": "74951110001"})
        assert r.status_code == 409 and r.json()["error"]["fields"] == {
            "number": "Number 74951110001 is not a free number of the platform pool"}
        r = await c.api("POST", f"{N}/assign", json={"number": "+7 495 111-00-02"})
        assert r.json()["error"]["fields"]["number"].startswith("Number must be written without '+'.")
        r = await c.api("PUT", f"{N}/{num['id']}/comment", json={"comment": "Reception"})
        assert r.json()["comment"] == "Reception"
        scheme = (await c.api("POST", "/api/v1/telephony/schemes", json={"name": "Day scheme"})).json()
        r = await c.api("PUT", f"{N}/{num['id']}/scheme", json={"scheme_id": scheme["id"]})
        assert r.status_code == 200 and r.json()["scheme_id"] == scheme["id"]
        assert (await c.get(N, params={"scheme_id": scheme["id"]})).json()["total"] == 1
        r = await c.api("DELETE", f"/api/v1/telephony/schemes/{scheme['id']}")
        assert r.status_code == 409 and r.json()["error"]["references"][0]["name"] == "74951110001"
        r = await c.api("PUT", f"{N}/{num['id']}/scheme", json={"scheme_id": "0" * 24})
        assert r.status_code == 409 and "scheme_id" in r.json()["error"]["fields"]
        r = await c.api("PUT", f"{N}/{num['id']}/scheme", json={"scheme_id": None})
        assert r.json()["scheme_id"] is None
        r = await c.api("DELETE", f"{N}/{num['id']}")
        assert r.status_code == 200
        assert (await DidPool(st.db, Scope.platform()).find_one({"_id": "74951110001"}))["status"] == "free"
        assert (await c.get(f"{N}/{num['id']}")).status_code == 404


async def test_passive_and_active_sip_numbers_with_live_status(st):
    async with st.client("101/admin") as c, st.client("101/adminru", lang="ru") as ru:
        r = await c.api("POST", f"{N}/passive-sip", json={"number": "73432620001", "comment": "Yekaterinburg"})
        assert r.status_code == 201, r.text
        passive = r.json()
        assert passive["sip_address"] == "00073432620001@vpbx101.pult.test" and passive["status"] == "active"
        r = await c.api("POST", f"{N}/active-sip", json={"number": "73432620002", "gateway": {
            "host": "sip.other.example", "login": "acme", "password": "s3cret"}})
        assert r.status_code == 201, r.text
        active = r.json()
        assert active["status"] == "unknown" and active["has_password"] is True
        assert "password" not in active["gateway"] and "password_enc" not in active
        # the ESL side reports the registration: the API shows it
        await Numbers(st.db, Scope.platform()).update_one({"_id": active["id"]}, {"$set": {
            "status": "down", "status_error": "registration failed (403 Forbidden)"}})
        got = (await c.get(f"{N}/{active['id']}")).json()
        assert (got["status"], got["status_error"]) == ("down", "registration failed (403 Forbidden)")
        assert [n["number"] for n in (await c.get(N, params={"status": "down"})).json()["items"]] == ["73432620002"]
        assert (await c.get(N, params={"kind": "passive_sip"})).json()["items"][0]["id"] == passive["id"]
        r = await ru.api("POST", f"{N}/active-sip", json={"number": "73432620003", "gateway": {
            "host": "bad host!", "login": "acme", "password": "x"}})
        assert r.status_code == 422 and r.json()["error"]["fields"] == {
            "gateway.host": "Адрес сервера «bad host!» — имя хоста или IPv4-адрес"}
        r = await c.api("PATCH", f"{N}/{active['id']}", json={"kind": "platform"})
        assert r.status_code == 409 and r.json()["error"]["fields"] == {
            "kind": "The connection type of a number cannot be changed; delete and add it again"}
        r = await c.api("PATCH", f"{N}/{active['id']}", json={"gateway": {"port": 5070}})
        assert r.status_code == 200 and r.json()["gateway"]["port"] == 5070 and r.json()["gateway"]["login"] == "acme"
        # an employee's outgoing number is not disconnected
        emp = (await c.api("POST", "/api/v1/telephony/employees", json={
            "name": "Caller", "extension": "301", "outgoing_number": "73432620002"})).json()
        r = await c.api("DELETE", f"{N}/{active['id']}")
        assert r.status_code == 409
        assert r.json()["error"]["references"] == [{"type": "employee", "type_name": "employee", "id": emp["id"],
                                                    "name": "Caller", "field": "outgoing_number"}]
        r = await ru.api("DELETE", f"{N}/{active['id']}")
        assert r.json()["error"]["message"] == "«73432620002» используется: сотрудник «Caller». Удалить нельзя"


async def test_transfer_between_pbxs_of_one_account(st):
    async with st.client("101/admin") as c:
        num = (await c.api("POST", f"{N}/assign", json={"number": "74951110003"})).json()
        scheme = (await c.api("POST", "/api/v1/telephony/schemes", json={"name": "Moving scheme"})).json()
        await c.api("PUT", f"{N}/{num['id']}/scheme", json={"scheme_id": scheme["id"]})
        r = await c.api("POST", f"{N}/transfer", json={"numbers": [num["id"]], "target_pbx_id": 303})
        assert r.status_code == 409 and r.json()["error"]["fields"] == {
            "target_pbx_id": "Numbers can be moved only between PBXs of the same account"}
        r = await c.api("POST", f"{N}/transfer", json={"numbers": [num["id"]], "target_pbx_id": 101})
        assert r.json()["error"]["fields"] == {"target_pbx_id": "The number is already in this PBX"}
        r = await c.api("POST", f"{N}/transfer", json={"numbers": [num["id"]], "target_pbx_id": 202})
        assert r.status_code == 200, r.text
        assert r.json()["total"] == 1 and r.json()["items"][0]["pbx_id"] == 202
        assert (await c.get(f"{N}/{num['id']}")).status_code == 404
    async with st.client("202/admin") as other:
        got = (await other.get(f"{N}/{num['id']}")).json()
        assert got["number"] == "74951110003" and got["scheme_id"] not in (None, scheme["id"])
        copy = (await other.get(f"/api/v1/telephony/schemes/{got['scheme_id']}")).json()
        assert copy["name"] == "Moving scheme"
