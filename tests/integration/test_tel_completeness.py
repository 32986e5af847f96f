"""Rules of issue 4 found missing by the completeness audit (docs/issue4-rules.md), each with the
behaviour a tenant admin notices: the refusal and its message, or the default they get."""
from __future__ import annotations

from tests.integration.test_tel_services import ADMIN, db, raises  # noqa: F401  (db is a fixture)
from web.telephony.conferences.services import ConferenceRoomService
from web.telephony.employees.services import EmployeeService
from web.telephony.groups.services import GroupService
from web.telephony.pbx_settings.services import PbxSettingsService
from web.telephony.schemes.services import SchemeService


# --- schemes ----------------------------------------------------------------------------------------
async def test_scheme_forward_to_an_employee_by_a_method_the_employee_does_not_have_is_refused(db):
    emp = await EmployeeService(db, 101, ADMIN).create({"name": "Иванов", "extension": "10", "contact_methods": [
        {"id": "mob", "kind": "phone", "value": "79121234567"}]})
    schemes = SchemeService(db, 101, ADMIN)

    def body(method):
        return {"name": "Day", "blocks": [{"steps": [
            {"kind": "forward", "target": {"type": "employee", "id": emp["id"], "method": method}}, {"kind": "hangup"}]}]}

    err = await raises("contact.unknown", schemes.create(body("desk")))
    assert "desk" in err.message("ru") and err.field == "forward.target.method"
    assert await schemes.list() == []
    ok = await schemes.create(body("mob"))
    assert ok["blocks"][0]["steps"][0]["target"]["method"] == "mob"
    await raises("contact.unknown", schemes.update(ok["id"], body("gone")))


# --- groups -----------------------------------------------------------------------------------------
async def test_queue_announcements_are_switched_off_when_the_group_has_no_queue(db):
    groups = GroupService(db, 101, ADMIN)
    announce = {"announce_position": True, "announce_ewt": True}
    special = await groups.create({"name": "Sales", "extension": "20", "queue": {"mode": "special", **announce}})
    assert special["queue"]["announce_position"] and special["queue"]["announce_ewt"]
    # unticking "queue when all busy" on the queue tab turns both announcements off
    off = await groups.update(special["id"], {"name": "Sales", "extension": "20",
                                              "queue": {"mode": "special", "enabled": False, **announce}})
    assert not off["queue"]["announce_position"] and not off["queue"]["announce_ewt"]
    # back to the PBX settings: kept while the PBX queues, dropped once the PBX does not
    common = await groups.update(special["id"], {"name": "Sales", "extension": "20", "queue": {"mode": "pbx", **announce}})
    assert common["queue"]["announce_ewt"]
    await PbxSettingsService(db, 101, ADMIN).update_call_handling({"queue": {"enabled": False}})
    common = await groups.update(special["id"], {"name": "Sales", "extension": "20", "queue": {"mode": "pbx", **announce}})
    assert not common["queue"]["announce_position"] and not common["queue"]["announce_ewt"]


# --- conference rooms ---------------------------------------------------------------------------------
async def test_a_room_created_without_a_name_is_conference_room_n(db):
    rooms = ConferenceRoomService(db, 101, ADMIN)
    first = await rooms.create({})
    second = await rooms.create({"name": "  "})
    assert (first["name"], first["extension"]) == ("Комната конференции 1", "1000")
    assert (second["name"], second["extension"]) == ("Комната конференции 2", "1001")
    renamed = await rooms.update(first["id"], {"name": "Планёрка", "seats": 5})
    kept = await rooms.update(second["id"], {"seats": 4})
    assert renamed["name"] == "Планёрка" and kept["name"] == "Комната конференции 2"
    third = await rooms.create({})   # 2 is still taken, so the next free sequence number
    assert third["name"] == "Комната конференции 3"
    await raises("value.too_long", rooms.create({"name": "x" * 101}))
