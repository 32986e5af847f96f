"""Day groups and schedules over the REST API: a full round trip, RU/EN field errors, refusal
to delete what a schedule uses (409 with the referrers), holidays by year, the action log."""
from __future__ import annotations

import pytest

from storage.repos.audit import AuditLog
from storage.repos.base import Scope
from tests.integration.tel_api_harness import st  # noqa: F401  (st: the module's stack)

pytestmark = pytest.mark.asyncio(loop_scope="module")
DG = "/api/v1/telephony/day-groups"
SC = "/api/v1/telephony/schedules"


async def test_day_group_and_schedule_round_trip(st):
    async with st.client("101/admin") as c:
        r = await c.api("POST", DG, json={"name": "Будни", "weekdays": [1, 2, 3, 4, 5],
                                          "special_dates": [{"date": "08.03.2027", "name": "8 Марта"}]})
        assert r.status_code == 201, r.text
        dg = r.json()
        assert dg["weekdays"] == [1, 2, 3, 4, 5]
        assert dg["special_dates"] == [{"date": "2027-03-08", "name": "8 Марта", "kind": "holiday"}]
        r = await c.api("POST", SC, json={"name": "Office hours", "intervals": [
            {"day_group": dg["id"], "start": "09:00", "end": "18:00"}]})
        assert r.status_code == 201, r.text
        sc = r.json()
        listed = (await c.get(DG, params={"q": "будн"})).json()
        assert listed["total"] == 1 and listed["items"][0]["id"] == dg["id"]
        assert (await c.get(SC, params={"day_group": dg["id"]})).json()["total"] == 1
        r = await c.api("PATCH", f"{DG}/{dg['id']}", json={"name": "Weekdays"})
        assert r.status_code == 200 and r.json()["name"] == "Weekdays" and r.json()["weekdays"] == [1, 2, 3, 4, 5]
        r = await c.api("PUT", f"{SC}/{sc['id']}", json={"name": "Office hours", "intervals": [
            {"day_group": dg["id"], "start": "10:00", "end": "19:00"}]})
        assert r.status_code == 200 and r.json()["intervals"][0]["start"] == "10:00"
        assert (await c.get(f"{SC}/{sc['id']}")).json()["intervals"][0]["end"] == "19:00"
        hol = (await c.get(f"{DG}/{dg['id']}/holidays", params={"year": 2027})).json()
        assert hol == {"year": 2027, "items": [{"date": "2027-03-08", "name": "8 Марта", "kind": "holiday"}]}
        assert (await c.get(f"{DG}/{dg['id']}/holidays", params={"year": 2026})).json()["items"] == []

        # the day group is used by the schedule: refused with the referrer
        r = await c.api("DELETE", f"{DG}/{dg['id']}")
        assert r.status_code == 409
        err = r.json()["error"]
        assert err["code"] == "in_use"
        assert err["message"] == "Day group 'Weekdays' is used by schedule(s): Office hours. It cannot be deleted"
        assert err["references"] == [{"type": "schedule", "type_name": "schedule", "id": sc["id"],
                                      "name": "Office hours", "field": "intervals"}]
        assert (await c.api("DELETE", f"{SC}/{sc['id']}")).json() == {"id": sc["id"], "deleted": True}
        assert (await c.api("DELETE", f"{DG}/{dg['id']}")).status_code == 200
        assert (await c.get(f"{DG}/{dg['id']}")).status_code == 404
    log = await AuditLog(st.db, Scope.pbx(101)).find({"object.id": dg["id"]}, sort=[("at", 1)])
    assert [e["operation"] for e in log] == ["create", "update", "delete"]
    assert {(e["actor"]["kind"], e["actor"]["login"], e["actor"]["ip"]) for e in log} == {("user", "101/admin", "127.0.0.1")}


async def test_field_errors_are_specific_and_in_the_users_language(st):
    bad_dg = {"name": "Weird", "weekdays": [1, 9]}
    bad_sc = {"name": "Night", "intervals": [{"day_group": "missing", "start": "22:00", "end": "06:00"}]}
    async with st.client("101/admin", lang="en") as en, st.client("101/adminru", lang="ru") as ru:
        r = await en.api("POST", DG, json=bad_dg)
        assert r.status_code == 422
        assert r.json()["error"]["fields"] == {"weekdays": "Weekday '9' is invalid; use 1 (Monday) to 7 (Sunday)"}
        assert r.json()["error"]["rule"] == {"code": "daygroup.weekday", "params": {"value": 9}}
        r = await ru.api("POST", DG, json=bad_dg)
        assert r.json()["error"]["message"] == "Некоторые поля заполнены неверно."
        assert r.json()["error"]["fields"] == {
            "weekdays": "День недели «9» указан неверно; используйте 1 (понедельник) … 7 (воскресенье)"}
        dg = (await en.api("POST", DG, json={"name": "Every day", "weekdays": [1, 2, 3, 4, 5, 6, 7]})).json()
        bad_sc["intervals"][0]["day_group"] = dg["id"]
        r = await en.api("POST", SC, json=bad_sc)
        assert r.status_code == 422
        assert list(r.json()["error"]["fields"].values()) == [
            "Interval 22:00–06:00 crosses midnight; split it into 22:00–23:59 and 00:00–06:00"]
        r = await ru.api("POST", SC, json=bad_sc)
        assert list(r.json()["error"]["fields"].values()) == [
            "Интервал 22:00–06:00 переходит через полночь; разбейте его на 22:00–23:59 и 00:00–06:00"]
        # the same name twice, an unknown field, a body that is not an object
        r = await ru.api("POST", DG, json={"name": "every DAY", "weekdays": [1]})
        assert r.status_code == 409 and r.json()["error"]["fields"] == {"name": "Название «every DAY» уже используется"}
        r = await en.api("POST", DG, json={"name": "X", "weekdays": [1], "weekday": [2]})
        assert r.json()["error"]["fields"] == {"weekday": "Unknown field."}
        r = await en.api("POST", DG, json=[1, 2])
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"
        r = await ru.get(f"{DG}/{'0' * 24}")
        assert r.status_code == 404 and r.json()["error"]["message"] == "Не найдено: группа дней."
