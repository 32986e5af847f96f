"""``POST /api/v1/telephony/dry-run``: a scheme built through the API, checked by the same engine
that runs live calls (over the recording fake): the decision path, RU/EN errors, other PBXs."""
from __future__ import annotations

import pytest
import pytest_asyncio

from esl_control.model.numbers.services import DidPoolService
from storage.repos.tenants import store_platform_gateways
from tests.integration.tel_api_harness import CARRIER, tel_stack

pytestmark = pytest.mark.asyncio(loop_scope="module")
D = "/api/v1/telephony/dry-run"
NUMBER = "74952230001"
OTHER_PBX_NUMBER = "74952230002"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def st():
    async with tel_stack() as stack:
        await DidPoolService(stack.db).add([NUMBER, OTHER_PBX_NUMBER])
        await store_platform_gateways(stack.db, [CARRIER])
        async with stack.client("101/admin") as c, stack.client("202/admin") as other:
            day = (await c.api("POST", "/api/v1/telephony/day-groups",
                               json={"name": "Будни", "weekdays": [1, 2, 3, 4, 5]})).json()
            work = (await c.api("POST", "/api/v1/telephony/schedules", json={
                "name": "Рабочее время", "intervals": [{"day_group": day["id"], "start": "09:00", "end": "18:59"}]}))
            assert work.status_code == 201, work.text
            emp = (await c.api("POST", "/api/v1/telephony/employees", json={
                "name": "Petrov", "extension": "301", "reception_mode": "sequential",
                "contact_methods": [{"kind": "phone", "value": "79161110001", "ring_time": 15},
                                    {"kind": "phone", "value": "79161110002"}]})).json()
            tree = {"name": "Office", "blocks": [
                {"schedule_id": work.json()["id"], "steps": [
                    {"kind": "greeting", "sound_id": "builtin:abba", "wait_end": True},
                    {"kind": "menu", "children": {
                        "1": {"steps": [{"kind": "forward", "target": {"type": "employee", "id": emp["id"]}},
                                        {"kind": "voicemail"}, {"kind": "hangup"}]}},
                     "rules": {"other_input": {"steps": [{"kind": "fax"}, {"kind": "hangup"}]}}},
                    {"kind": "hangup"}]},
                {"steps": [{"kind": "voicemail"}, {"kind": "hangup"}]}]}
            scheme = await c.api("POST", "/api/v1/telephony/schemes", json=tree)
            assert scheme.status_code == 201, scheme.text
            n = (await c.api("POST", "/api/v1/telephony/numbers/assign", json={"number": NUMBER})).json()
            r = await c.api("POST", f"/api/v1/telephony/schemes/{scheme.json()['id']}/activate",
                            json={"numbers": [n["id"]]})
            assert r.status_code == 200, r.text
            r = await other.api("POST", "/api/v1/telephony/numbers/assign", json={"number": OTHER_PBX_NUMBER})
            assert r.status_code == 201, r.text
            stack.emp = emp
        yield stack


async def test_press_1_rings_the_employee_in_turn_then_voicemail(st):
    async with st.client("101/admin") as c:
        r = await c.api("POST", D, json={"number": NUMBER, "caller": "79031234567",
                                         "at": "2026-12-07T12:00:00+03:00", "digits": ["1"],
                                         "answers": {}})
        assert r.status_code == 200, r.text
        path = r.json()["path"]
        kinds = [p["step"] for p in path]
        assert kinds[:5] == ["inbound", "list", "scheme", "greeting", "menu"]
        rings = [p for p in path if p["step"] == "ring"]
        assert [(p["legs"][0]["address"], p["legs"][0]["timeout"], p["result"]) for p in rings] == [
            ("79161110001", 15, "no_answer"), ("79161110002", 120, "no_answer")]
        assert "voicemail" in kinds and r.json()["ended"]["cause"] == "NORMAL_CLEARING"


async def test_the_answer_ends_the_call_and_other_time_goes_to_voicemail(st):
    async with st.client("101/admin") as c:
        r = await c.api("POST", D, json={"number": NUMBER, "caller": "79031234567", "at": "2026-12-07T12:00:00+03:00",
                                         "digits": ["1"], "answers": {"79161110002": "answered"}})
        assert [p for p in r.json()["path"] if p["step"] == "ring"][-1]["answered_by"].endswith(
            tuple(m["id"] for m in st.emp["contact_methods"]))
        assert "voicemail" not in [p["step"] for p in r.json()["path"]]
        night = await c.api("POST", D, json={"number": NUMBER, "at": "2026-12-07T23:00:00+03:00"})
        steps = night.json()["path"]
        assert [p for p in steps if p["step"] == "scheme"][0]["block"] == 1
        assert "voicemail" in [p["step"] for p in steps]


async def test_bad_input_is_refused_in_both_languages(st):
    async with st.client("101/admin") as c, st.client("101/adminru", lang="ru") as ru:
        r = await c.api("POST", D, json={"number": "74950000000"})
        assert r.status_code == 409  # well-formed, but not a number of this PBX (a clash with what is stored)
        assert r.json()["error"]["fields"] == {"number": "This PBX has no number 74950000000. "
                                                         "Choose one of the PBX's numbers."}
        r = await ru.api("POST", D, json={"number": NUMBER, "at": "tomorrow"})
        assert r.status_code == 422 and r.json()["error"]["fields"]["at"].startswith("Ожидаются дата и время")
        r = await c.api("POST", D, json={"number": NUMBER, "digits": ["1; rm"]})
        assert r.status_code == 422 and "digits" in r.json()["error"]["fields"]
        r = await c.api("POST", D, json={"number": NUMBER, "answers": {"x": "maybe"}})
        assert r.status_code == 422 and "answers" in r.json()["error"]["fields"]
        r = await c.api("POST", D, json={"number": NUMBER, "surprise": 1})
        assert r.status_code == 422 and "surprise" in r.json()["error"]["fields"]


async def test_a_number_of_another_pbx_is_not_found(st):
    async with st.client("101/admin") as c:
        r = await c.api("POST", D, json={"number": OTHER_PBX_NUMBER})
        assert r.status_code == 409 and list(r.json()["error"]["fields"]) == ["number"]
