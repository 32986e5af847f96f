"""A scheme bound to a SIP trunk's "receive" numbers (inventory D §5.3.2): the binding is stored
on the trunk's number entry, set through the schemes API and the scheme list's bind dialog,
shown on the trunk page, kept across trunk edits, refused for a number that only calls out, keeps
the scheme from being deleted, and passed by the dialplan as ``pult_scheme_id`` for a call
identified as that trunk number."""
from __future__ import annotations

import pytest

from fs_config.request import XmlCurlRequest
from fs_config.tenant_providers import TenantDialplan
from storage.repos.base import Scope
from storage.repos.telephony import Trunks
from tests.integration.tel_api_harness import st  # noqa: F401  (st: the module's stack)
from tests.integration.test_provisioning_xml_curl import dialplan_form
from esl_control.model.common import InUse
from esl_control.model.schemes.services import SchemeService
from esl_control.model.trunks.services import TrunkService

pytestmark = pytest.mark.asyncio(loop_scope="module")
ACTOR = {"kind": "user", "login": "101/admin", "ip": "127.0.0.1"}
HANGUP = {"blocks": [{"steps": [{"kind": "hangup"}]}]}


async def identify(st, dest: str, ip: str = "10.1.0.1") -> dict:
    req = XmlCurlRequest.from_fields(dialplan_form("public", dest, variable_sip_network_ip=ip,
                                                   variable_sip_network_port="5060"))
    return dict(await TenantDialplan(st.db, socket=None).identify(req, "public"))


async def test_binding_through_the_api_the_dialplan_and_trunk_edits(st):
    trunks, schemes = TrunkService(st.db, 101, ACTOR), SchemeService(st.db, 101, ACTOR)
    trunk = await trunks.create({"name": "Office line", "host": "10.1.0.1", "port": 5060, "lines": 10, "numbers": [
        {"number": "73430001111", "receive": True, "call": True}, {"number": "73430002222", "receive": False, "call": True}]})
    day = await schemes.create({"name": "Day", **HANGUP})
    async with st.client("101/admin", "en") as en, st.client("101/adminru", "ru") as ru:
        url = f"/api/v1/telephony/schemes/{day['id']}/trunk-numbers"
        r = await en.api("PUT", url, json={"trunk_numbers": [{"trunk_id": trunk["id"], "number": "73430001111"}]})
        assert r.status_code == 200, r.text
        assert r.json()["items"] == [{"trunk_id": trunk["id"], "trunk_name": "Office line", "number": "73430001111",
                                      "scheme_id": day["id"]}]
        r = await ru.api("PUT", url, json={"trunk_numbers": [{"trunk_id": trunk["id"], "number": "73430002222"}]})
        assert r.status_code == 422 and "не принимает звонки" in r.text
        r = await en.api("PUT", url, json={"trunk_numbers": [{"trunk_id": trunk["id"], "number": "79990000000"}]})
        assert r.status_code == 409 and "not a number of the trunk" in r.text
        assert (await en.get(url)).json()["total"] == 1                   # the refusals changed nothing
        got = (await en.get(f"/api/v1/telephony/trunks/{trunk['id']}")).json()
        assert got["numbers"][0]["scheme_id"] == day["id"] and got["numbers"][1].get("scheme_id") is None
        # a PATCH of the trunk keeps the binding (the form does not manage it)
        r = await en.api("PATCH", f"/api/v1/telephony/trunks/{trunk['id']}", json={"lines": 12})
        assert r.status_code == 200, r.text
        # another PBX cannot bind its scheme to our trunk
        other = await SchemeService(st.db, 202, {**ACTOR, "login": "202/admin"}).create({"name": "Theirs", **HANGUP})
        async with st.client("202/admin") as c202:
            r = await c202.api("PUT", f"/api/v1/telephony/schemes/{other['id']}/trunk-numbers",
                               json={"trunk_numbers": [{"trunk_id": trunk["id"], "number": "73430001111"}]})
            assert r.status_code == 409  # another PBX's trunk is an id that names nothing here
    stored = await Trunks(st.db, Scope.pbx(101)).find_one({"_id": trunk["id"]})
    assert stored["lines"] == 12 and stored["numbers"][0]["scheme_id"] == day["id"]
    # the dialplan passes the scheme for a call identified as that trunk number, and only for it
    found = await identify(st, "73430001111")
    assert found["pult_trunk_id"] == trunk["id"] and found["pult_number"] == "73430001111"
    assert found["pult_scheme_id"] == day["id"]
    assert "pult_scheme_id" not in await identify(st, "73430002222")
    # the scheme cannot be deleted while it is bound; a number that stops receiving loses it
    with pytest.raises(InUse) as err:
        await schemes.delete(day["id"])
    assert "Office line" in str(err.value.message("en"))
    await trunks.update(trunk["id"], {**{k: stored[k] for k in ("name", "host", "port", "lines")}, "numbers": [
        {"number": "73430001111", "receive": False, "call": True}, {"number": "73430002222", "receive": False, "call": True}]})
    assert "pult_scheme_id" not in await identify(st, "73430001111")
    await schemes.delete(day["id"])


async def test_the_bind_dialog_and_the_trunk_page(st):
    trunks, schemes = TrunkService(st.db, 101, ACTOR), SchemeService(st.db, 101, ACTOR)
    trunk = await trunks.create({"name": "Branch", "host": "10.1.0.2", "port": 5060, "lines": 5, "numbers": [
        {"number": "73430003333", "receive": True, "call": False}]})
    night = await schemes.create({"name": "Night", **HANGUP})
    async with st.client("101/admin", "en") as en:
        page = (await en.get("/telephony/schemes")).text
        value = f'{trunk["id"]}:73430003333'
        assert f'name="trunk_number" value="{value}"' in page and "trunk Branch" in page
        r = await en.post_form(f"/telephony/schemes/{night['id']}/numbers", {"trunk_number": value})
        assert r.status_code == 302, r.text[:2000]
        assert [n["number"] for n in await schemes.trunk_numbers(night["id"])] == ["73430003333"]
        page = (await en.get(f"/telephony/trunks/{trunk['id']}")).text
        assert f'href="/telephony/schemes/{night["id"]}">Night</a>' in page
        # unticked in the dialog: the trunk number is left without a scheme
        assert (await en.post_form(f"/telephony/schemes/{night['id']}/numbers", {})).status_code == 302
        assert await schemes.trunk_numbers(night["id"]) == []
        assert "no scheme" in (await en.get(f"/telephony/trunks/{trunk['id']}")).text
