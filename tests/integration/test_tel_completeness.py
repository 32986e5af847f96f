"""Rules of issue 4 found missing by the completeness audit (docs/rules-telephony.md), each with the
behaviour a tenant admin notices: the refusal and its message, or the default they get."""
from __future__ import annotations

from esl_control.model import provisioning
from tests.integration.test_tel_services import ADMIN, db, raises  # noqa: F401  (db is a fixture)
from esl_control.model.conferences.services import ConferenceRoomService
from esl_control.model.employees.services import EmployeeService
from esl_control.model.numbers.services import NumberService
from esl_control.model.sounds.services import SoundService
from tests.unit.test_tel_schemas import wav_bytes
from esl_control.model.groups.services import GroupService
from esl_control.model.pbx_settings.services import PbxSettingsService
from esl_control.model.schemes.services import SchemeService
from esl_control.model.sip.services import SipAccountService


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


# --- PBX settings: defaults and what internal calls show ------------------------------------------------
async def test_settings_defaults_of_the_inventories_and_product(db):
    s = await PbxSettingsService(db, 101, ADMIN).get()
    ch = s["call_handling"]
    assert (ch["default_ring_time"], ch["exclude_seconds"], ch["adhoc_conference_limit"]) == (120, 0, 16)
    assert (ch["queue"]["enabled"], ch["queue"]["max_wait"], ch["queue"]["max_length"]) == (True, 600, 0)
    assert (ch["unavailable_action"], ch["unavailable_extension"]) == ("voicemail", "100")
    assert ch["announce_caller"] is False and ch["line_warnings"] is False
    assert s["voicemail"]["max_length"] == 180 and s["voicemail"]["delivery"] == "cabinet_attachment"
    assert s["recording"]["retention_days"] == 365 and s["fax"]["in_call"] and s["fax"]["auto_detect"]
    group = await GroupService(db, 101, ADMIN).create({"name": "Sales", "extension": "20"})
    assert group["dtmf"] == {"transfer": "##", "toggle": "*", "return": "#", "fax": "0", "record": "#5"}
    assert group["ring_time"] is None and group["exclusion"] is None      # None: the PBX's 120 s and 0
    assert (group["queue"]["mode"], group["queue"]["max_wait"], group["queue"]["max_length"]) == ("pbx", 600, 0)


async def test_internal_calls_show_what_the_sip_display_setting_says(db):
    emp = await EmployeeService(db, 101, ADMIN).create({"name": "Иванов", "extension": "10"})
    await SipAccountService(db, 101, ADMIN).create({"login": "ivanov", "password": "Secret123x", "employee_id": emp["id"]})
    await SipAccountService(db, 101, ADMIN).create({"login": "lobby", "password": "Secret123x"})
    users = {u["login"]: u for u in (await provisioning.directory_users(db, "vpbx101.pult.local"))["users"]}
    assert (users["ivanov"]["caller_id_name"], users["ivanov"]["caller_id_number"]) == ("Иванов", "10")
    assert (users["lobby"]["caller_id_name"], users["lobby"]["caller_id_number"]) == ("lobby", "lobby")
    await PbxSettingsService(db, 101, ADMIN).update_section("sip_display", {"name": "extension", "number": "login"})
    users = {u["login"]: u for u in (await provisioning.directory_users(db, "vpbx101.pult.local"))["users"]}
    assert (users["ivanov"]["caller_id_name"], users["ivanov"]["caller_id_number"]) == ("10", "ivanov")
    await raises("value.choice", PbxSettingsService(db, 101, ADMIN).update_section("sip_display", {"number": "name"}))


# --- numbers: the line's own warning and the active number's displayed number ---------------------------
async def test_a_line_warning_is_an_uploaded_file_and_needs_the_pbx_setting(db, store):
    numbers = NumberService(db, 101, ADMIN)
    line = await numbers.connect_active({"number": "78122223344", "display_number": "74950001122", "gateway": {
        "host": "sip.operator.ru", "login": "user1", "password": "op-secret"}})
    assert line["display_number"] == "74950001122"
    await raises("number.plus", numbers.update(line["id"], {"display_number": "+74950001122"}))
    wav = await SoundService(db, 101, ADMIN, media=store.media).upload(wav_bytes(), {"name": "Запись разговора"})
    err = await raises("number.warnings_off", numbers.update(line["id"], {"warning_sound": wav["id"]}))
    assert err.field == "warning_sound" and "предупреждение" in err.message("ru")
    await PbxSettingsService(db, 101, ADMIN).update_call_handling({"line_warnings": True})
    await raises("number.warning_sound", numbers.update(line["id"], {"warning_sound": "builtin:abba"}))
    await raises("ref.unknown", numbers.update(line["id"], {"warning_sound": "missing"}))
    updated = await numbers.update(line["id"], {"warning_sound": wav["id"]})
    assert updated["warning_sound"] == wav["id"] and updated["display_number"] == "74950001122"
    err = await raises("ref.in_use", SoundService(db, 101, ADMIN, media=store.media).delete(wav["id"]))
    assert err.references[0].name == "78122223344"
    assert (await numbers.update(line["id"], {"warning_sound": None}))["warning_sound"] is None   # «Нет»


# --- extensions as call targets ---------------------------------------------------------------------
async def test_an_extension_that_calls_go_to_must_exist_and_its_owner_stays(db):
    employees, rooms, schemes = EmployeeService(db, 101, ADMIN), ConferenceRoomService(db, 101, ADMIN), SchemeService(db, 101, ADMIN)
    settings = PbxSettingsService(db, 101, ADMIN)
    to_ext = {"name": "Night", "blocks": [{"steps": [
        {"kind": "forward", "target": {"type": "extension", "value": "1000"}}, {"kind": "hangup"}]}]}
    err = await raises("extension.unknown", schemes.create(to_ext))
    assert err.field == "forward" and "1000" in err.message("ru")
    err = await raises("extension.unknown", settings.update_call_handling({"unavailable_action": "extension"}))
    assert err.field == "call_handling.unavailable_extension" and err.params["extension"] == "100"
    room = await rooms.create({"name": "Планёрка"})            # takes 1000
    duty = await employees.create({"name": "Дежурный", "extension": "100"})
    night = await schemes.create(to_ext)
    await settings.update_call_handling({"unavailable_action": "extension"})
    err = await raises("extension.in_use", rooms.delete(room["id"]))
    assert err.references[0].name == "Night" and "Night" in err.message("ru") and err.field == "extension"
    err = await raises("extension.in_use", employees.update(duty["id"], {"name": "Дежурный", "extension": "120"}))
    assert err.references[0].type == "settings"
    await raises("extension.in_use", employees.delete(duty["id"]))
    assert (await employees.update(duty["id"], {"name": "Дежурный Иван", "extension": "100"}))["name"] == "Дежурный Иван"
    await settings.update_call_handling({"unavailable_action": "voicemail"})   # the default 100 is kept, not used
    await schemes.delete(night["id"])
    await rooms.delete(room["id"])
    await employees.delete(duty["id"])
