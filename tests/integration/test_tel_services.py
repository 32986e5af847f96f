"""The telephony configuration services against the real embedded store: every rule with its
message, references refused with the list of referrers, the shared extension namespace (with a
concurrent race), encrypted SIP passwords, content-checked sound files, scheme trees, number
transfer, audit entries and FreeSWITCH provisioning reads."""
from __future__ import annotations

import asyncio
import hashlib

import pytest

from esl_control.routing.errors import RuleError
from storage.repos.audit import AuditLog
from storage.repos.base import Scope
from storage.repos.telephony import DidPool, Extensions, SipAccounts, SoundFiles
from storage.repos.tenants import Pbxes, create_account
from tests.unit.test_tel_schemas import mp3_bytes, wav_bytes
from esl_control.model import provisioning
from esl_control.model.bootstrap import ensure_pbx_defaults
from esl_control.model.calendars.services import DayGroupService, ScheduleService
from esl_control.model.common import InUse, NotFound
from esl_control.model.conferences.services import ConferenceRoomService
from esl_control.model.employees.services import EmployeeService
from esl_control.model.groups.services import GroupService
from esl_control.model.lists.services import ClientRuleService, ListService
from esl_control.model.numbers.services import DidPoolService, NumberService
from esl_control.model.pbx_settings.services import PbxSettingsService
from esl_control.model.schemes.services import SchemeService
from esl_control.model.sip.services import SipAccessService, SipAccountService, SipDomainService
from esl_control.model.sounds.services import SoundService
from esl_control.model.trunks.services import TrunkService

ADMIN = {"kind": "user", "login": "101/admin", "ip": "127.0.0.1"}


@pytest.fixture
async def db(store):
    """PBXs 101 and 202 of one account, 303 of another, each with its defaults."""
    db = store.db
    acme = await create_account(db, "Acme", "acme@example.com")
    other = await create_account(db, "Other", "other@example.com")
    for pbx_id, account in ((101, acme), (202, acme), (303, other)):
        await Pbxes(db, Scope.platform()).insert_one({"pbx_id": pbx_id, "account_id": account["account_id"],
                                                      "name": f"PBX {pbx_id}", "status": "active",
                                                      "sip_domain": f"vpbx{pbx_id}.pult.local"})
        await ensure_pbx_defaults(db, pbx_id, base_domain="pult.local")
    return db


async def raises(code, coro):
    with pytest.raises(RuleError) as e:
        await coro
    assert e.value.code == code, e.value
    return e.value


# --- calendars -----------------------------------------------------------------------------------
async def test_day_group_used_by_a_schedule_cannot_be_deleted(db):
    groups, schedules = DayGroupService(db, 101, ADMIN), ScheduleService(db, 101, ADMIN)
    work = await groups.create({"name": "Рабочие дни", "weekdays": [1, 2, 3, 4, 5], "special_dates": [
        {"date": "01.01.2026", "name": "Новый год"}, {"date": "2025-12-31", "name": "Канун"}]})
    assert [h["date"] for h in await groups.holidays(work["id"], 2026)] == ["2026-01-01"]
    sched = await schedules.create({"name": "Office hours",
                                    "intervals": [{"day_group": work["id"], "start": "09:00", "end": "18:00"}]})
    err = await raises("daygroup.in_use", groups.delete(work["id"]))
    assert "Office hours" in err.message("ru") and [r.name for r in err.references] == ["Office hours"]
    await raises("schedule.unknown_day_group", schedules.create(
        {"name": "Bad", "intervals": [{"day_group": "nope", "start": "09:00", "end": "18:00"}]}))
    await raises("schedule.crosses_midnight", schedules.update(
        sched["id"], {"name": "Office hours", "intervals": [{"day_group": work["id"], "start": "22:00", "end": "06:00"}]}))
    await raises("name.taken", groups.create({"name": "рабочие  ДНИ", "weekdays": [6]}))
    await schedules.delete(sched["id"])
    await groups.delete(work["id"])
    assert await groups.list() == []


# --- the extension namespace --------------------------------------------------------------------
async def test_one_extension_namespace_for_employees_groups_and_rooms(db):
    employees, groups, rooms = EmployeeService(db, 101, ADMIN), GroupService(db, 101, ADMIN), ConferenceRoomService(db, 101, ADMIN)
    ivanov = await employees.create({"name": "Иванов", "extension": "201"})
    err = await raises("extension.taken", groups.create({"name": "Sales", "extension": "201"}))
    assert err.params["owner"] == "Иванов" and err.field == "extension"
    await raises("extension.taken", groups.create({"name": "Default copy", "extension": "6"}))  # the default group
    r1 = await rooms.create({"name": "Room A"})
    r2 = await rooms.create({"name": "Room B"})
    assert (r1["extension"], r2["extension"]) == ("1000", "1001")
    await raises("extension.taken", employees.create({"name": "Петров", "extension": "1000"}))
    await employees.update(ivanov["id"], {"name": "Иванов", "extension": "202"})
    sales = await groups.create({"name": "Sales", "extension": "201"})  # the old number is free again
    assert sales["extension"] == "201"
    await raises("direction.emergency_extension", employees.create({"name": "X", "extension": "112"}))
    # PBX 202 has its own namespace
    assert (await EmployeeService(db, 202, ADMIN).create({"name": "Сидоров", "extension": "201"}))["extension"] == "201"


async def test_concurrent_creates_of_one_extension_have_one_winner(db):
    service = EmployeeService(db, 101, ADMIN)
    results = await asyncio.gather(*[service.create({"name": f"E{i}", "extension": "555"}) for i in range(8)],
                                   return_exceptions=True)
    winners = [r for r in results if isinstance(r, dict)]
    losers = [r for r in results if isinstance(r, RuleError)]
    assert len(winners) == 1 and len(losers) == 7
    assert all(e.code == "extension.taken" for e in losers)
    assert len(await Extensions(db, Scope.pbx(101)).find({"extension": "555"})) == 1
    assert len(await service.list()) == 1


async def test_a_stale_claim_left_by_a_crash_does_not_lock_the_number(db):
    await Extensions(db, Scope.pbx(101)).insert_one({"_id": "crashed", "extension": "777", "owner_type": "employee",
                                                     "owner_id": "never-written"})
    emp = await EmployeeService(db, 101, ADMIN).create({"name": "Новый", "extension": "777"})
    claims = await Extensions(db, Scope.pbx(101)).find({"extension": "777"})
    assert [c["owner_id"] for c in claims] == [emp["id"]]


# --- employees ------------------------------------------------------------------------------------
async def test_employee_contact_methods_outgoing_number_and_directions(db):
    await DidPoolService(db).add(["74951234567"])
    await NumberService(db, 101, ADMIN).assign_platform("74951234567")
    schedule_groups = await DayGroupService(db, 101, ADMIN).create({"name": "Будни", "weekdays": [1, 2, 3, 4, 5]})
    sched = await ScheduleService(db, 101, ADMIN).create(
        {"name": "Day", "intervals": [{"day_group": schedule_groups["id"], "start": "09:00", "end": "18:00"}]})
    service = EmployeeService(db, 101, ADMIN)
    emp = await service.create({"name": "Иванов", "extension": "10", "reception_mode": "sequential",
                                "outgoing_number": "74951234567", "directions": ["local", "mobile"],
                                "contact_methods": [
                                    {"kind": "phone", "value": "79121234567", "ring_time": 30, "schedule_id": sched["id"]},
                                    {"kind": "sip_uri", "value": "sip:Ivanov@Company.ru"},
                                    {"kind": "phone", "value": "50001", "ring_time": 0}]})
    assert [c["value"] for c in emp["contact_methods"]] == ["79121234567", "Ivanov@company.ru", "50001"]
    assert emp["outgoing_ref"]["type"] == "number" and emp["directions"] == ["local", "mobile"]
    e = await raises("outgoing.unknown", service.update(emp["id"], {"name": "Иванов", "extension": "10",
                                                                    "outgoing_number": "74950000000"}))
    assert e.field == "outgoing_number"
    await raises("rule.ring_time", service.update(emp["id"], {"name": "Иванов", "extension": "10", "contact_methods": [
        {"kind": "phone", "value": "79121234567", "ring_time": 3601}]}))
    await raises("number.plus", service.update(emp["id"], {"name": "Иванов", "extension": "10", "contact_methods": [
        {"kind": "phone", "value": "+79121234567"}]}))
    await raises("direction.unknown", service.update(emp["id"], {"name": "Иванов", "extension": "10",
                                                                 "directions": ["moon"]}))
    await raises("ref.unknown", service.update(emp["id"], {"name": "Иванов", "extension": "10", "contact_methods": [
        {"kind": "phone", "value": "79121234567", "schedule_id": "missing"}]}))
    err = await raises("ref.in_use", ScheduleService(db, 101, ADMIN).delete(sched["id"]))
    assert [(r.type, r.name) for r in err.references] == [("employee", "Иванов")]
    err = await raises("ref.in_use", NumberService(db, 101, ADMIN).delete(emp["outgoing_ref"]["id"]))
    assert err.references[0].field == "outgoing_number"


# --- SIP ------------------------------------------------------------------------------------------
async def test_sip_account_password_is_encrypted_and_a1_hash_is_stored(db):
    emp = await EmployeeService(db, 101, ADMIN).create({"name": "Иванов", "extension": "10"})
    service = SipAccountService(db, 101, ADMIN)
    await raises("sip_account.password", service.create({"login": "ivanov", "password": "weakpass1"}))
    await raises("sip_account.login", service.create({"login": "iv", "password": "Secret123x"}))
    acc = await service.create({"login": "Ivanov", "password": "Secret123x", "employee_id": emp["id"]})
    assert acc["address"] == "ivanov@vpbx101.pult.local" and "a1_hash" not in acc and "password_enc" not in acc
    stored = await SipAccounts(db, Scope.pbx(101)).find_one({"_id": acc["id"]})
    assert "Secret123x" not in repr(stored)
    assert stored["a1_hash"] == hashlib.md5(b"ivanov:vpbx101.pult.local:Secret123x").hexdigest()
    assert await service.reveal_password(acc["id"]) == "Secret123x"
    card = await EmployeeService(db, 101, ADMIN).get(emp["id"])
    assert card["contact_methods"][0]["account_id"] == acc["id"] and card["contact_methods"][0]["active"]
    await raises("sip_account.taken", service.create({"login": "IVANOV", "password": "Secret123x"}))
    err = await raises("ref.in_use", service.delete(acc["id"]))
    assert err.references[0].type == "employee" and err.references[0].name == "Иванов"
    # a new password changes the digest; the audit never sees either password
    await service.update(acc["id"], {"login": "ivanov", "password": "Another456Y", "employee_id": emp["id"]})
    stored = await SipAccounts(db, Scope.pbx(101)).find_one({"_id": acc["id"]})
    assert stored["a1_hash"] == hashlib.md5(b"ivanov:vpbx101.pult.local:Another456Y").hexdigest()
    log = await AuditLog(db, Scope.pbx(101)).find({"section": "telephony.sip"})
    assert log and all("Secret123x" not in repr(e) and "Another456Y" not in repr(e) for e in log)
    assert any(e["after"] and e["after"].get("a1_hash") == "***" for e in log)
    directory = await provisioning.directory_users(db, "VPBX101.pult.local", "ivanov")
    assert directory["pbx_id"] == 101 and directory["users"][0]["a1_hash"] == stored["a1_hash"]
    assert directory["users"][0]["extension"] == "10" and directory["users"][0]["caller_id_name"] == "Иванов"
    assert await provisioning.directory_users(db, "unknown.example") is None


async def test_sip_domains_limit_default_and_confirmed_delete(db):
    domains, accounts = SipDomainService(db, 101, ADMIN, base_domain="pult.local"), SipAccountService(db, 101, ADMIN)
    listed = await domains.list()
    assert [d["name"] for d in listed] == ["vpbx101.pult.local"]
    sales = await domains.create({"name": "Sales"})
    assert sales["name"] == "sales.pult.local"
    await raises("sip_domain.taken", SipDomainService(db, 202, ADMIN, base_domain="pult.local").create({"name": "sales"}))
    await domains.create({"name": "support"})
    await raises("sip_domain.limit", domains.create({"name": "extra"}))
    await raises("sip_domain.default", domains.delete(listed[0]["id"]))
    await raises("sip_domain.name", domains.create({"name": "a.b"}))
    await accounts.create({"login": "manager", "password": "Secret123x", "domain_id": sales["id"]})
    err = await raises("confirm.required", domains.delete(sales["id"]))
    assert err.params["count"] == 1
    await domains.delete(sales["id"], confirm=True)
    assert await SipAccounts(db, Scope.pbx(101)).count({"domain_id": sales["id"]}) == 0
    assert len(await domains.list()) == 2


async def test_sip_whitelist_and_acl_read_model(db):
    access = SipAccessService(db, 101, ADMIN)
    assert (await access.get())["mode"] == "free"
    await raises("whitelist.entry", access.update({"mode": "restricted", "entries": ["192.168.1.1-2-3"]}))
    await access.update({"mode": "restricted", "entries": ["192.168.1.16-32", "10.*"]})
    acl = await provisioning.acl_entries(db)
    assert acl["sip_whitelists"] == [{"pbx_id": 101, "entries": ["192.168.1.16-32", "10.*"]}]


# --- groups ---------------------------------------------------------------------------------------
async def test_group_members_melodies_and_delete_refused_while_a_scheme_uses_it(db):
    emp = await EmployeeService(db, 101, ADMIN).create({"name": "Иванов", "extension": "10", "contact_methods": [
        {"id": "m1", "kind": "phone", "value": "79121234567"}]})
    groups = GroupService(db, 101, ADMIN)
    await raises("ref.unknown", groups.create({"name": "Sales", "extension": "20",
                                               "members": [{"kind": "employee", "employee_id": "ghost"}]}))
    await raises("contact.unknown", groups.create({"name": "Sales", "extension": "20", "members": [
        {"kind": "employee", "employee_id": emp["id"], "method": "m2"}]}))
    await raises("ref.unknown", groups.create({"name": "Sales", "extension": "20", "ringback": "no-such-sound"}))
    sales = await groups.create({"name": "Sales", "extension": "20", "strategy": "priority", "ringback": "builtin:abba",
                                 "attempts": 3, "attempt_pause": 10, "pause_melody": "builtin:sirtaki",
                                 "members": [{"kind": "employee", "employee_id": emp["id"], "method": "m1", "priority": 1},
                                             {"kind": "external", "value": "79129876543", "lines": 2, "priority": 2}]})
    assert sales["members"][1]["lines"] == 2 and sales["features"]["transfer"] is True
    scheme = await SchemeService(db, 101, ADMIN).create({"name": "Day", "blocks": [{"steps": [
        {"kind": "forward", "target": {"type": "group", "id": sales["id"]}, "queue": {"enabled": True, "max_wait": 20}},
        {"kind": "hangup"}]}]})
    err = await raises("ref.in_use", groups.delete(sales["id"]))
    assert [(r.type, r.name) for r in err.references] == [("scheme", "Day")]
    err = await raises("ref.in_use", EmployeeService(db, 101, ADMIN).delete(emp["id"]))
    assert err.references[0].name == "Sales"
    await SchemeService(db, 101, ADMIN).delete(scheme["id"])
    await groups.delete(sales["id"])
    await EmployeeService(db, 101, ADMIN).delete(emp["id"])


# --- schemes and numbers ----------------------------------------------------------------------------
async def test_scheme_activation_copy_rename_and_transfer_as_skeleton(db):
    await DidPoolService(db).add(["74951112233", "74951112244"])
    numbers = NumberService(db, 101, ADMIN)
    n1 = await numbers.assign_platform("74951112233", "Main line")
    await raises("number.not_in_pool", numbers.assign_platform("74950000001"))
    await raises("number.not_in_pool", NumberService(db, 202, ADMIN).assign_platform("74951112233"))
    wd = await DayGroupService(db, 101, ADMIN).create({"name": "Будни", "weekdays": [1, 2, 3, 4, 5]})
    sched = await ScheduleService(db, 101, ADMIN).create(
        {"name": "Work", "intervals": [{"day_group": wd["id"], "start": "09:00", "end": "18:59"}]})
    schemes = SchemeService(db, 101, ADMIN)
    day = await schemes.create({"name": "Day", "blocks": [
        {"schedule_id": sched["id"], "steps": [{"kind": "greeting", "sound_id": "builtin:abba", "wait_end": True},
                                              {"kind": "voicemail", "emails": ["a@b.ru"]}, {"kind": "hangup"}]},
        {"steps": [{"kind": "fax"}, {"kind": "hangup"}]}]})
    await schemes.activate(day["id"], [n1["id"]])
    assert (await numbers.get(n1["id"]))["scheme_id"] == day["id"]
    await raises("ref.unknown", schemes.activate(day["id"], ["not-a-number"]))
    err = await raises("ref.in_use", schemes.delete(day["id"]))
    assert err.references[0].name == "74951112233"
    night = await schemes.copy(day["id"], "Night")
    await schemes.activate(night["id"], [n1["id"]])   # one active scheme per number: replaced
    assert [n["number"] for n in await schemes.numbers(night["id"])] == ["74951112233"]
    assert await schemes.numbers(day["id"]) == []
    await schemes.rename(night["id"], "Evening")
    await raises("name.taken", schemes.rename(day["id"], "evening"))
    # transfer to PBX 202 (same account): the scheme moves as a skeleton
    moved = await numbers.transfer([n1["id"]], 202)
    assert moved[0]["pbx_id"] == 202
    with pytest.raises(NotFound):
        await numbers.get(n1["id"])
    in_202 = await NumberService(db, 202, ADMIN).get(n1["id"])
    copy = await SchemeService(db, 202, ADMIN).get(in_202["scheme_id"])
    assert copy["name"] == "Evening" and copy["blocks"][0]["schedule_id"] is None
    assert copy["blocks"][0]["steps"][0] == {**copy["blocks"][0]["steps"][0], "kind": "greeting", "sound_id": None}
    assert copy["blocks"][0]["steps"][1]["emails"] == []
    assert (await DidPool(db, Scope.platform()).find_one({"_id": "74951112233"}))["pbx_id"] == 202
    entries = await AuditLog(db, Scope.pbx(202)).find({"operation": "transfer_in"})
    assert entries[0]["object"]["name"] == "74951112233"
    # refused across accounts, and to the same PBX
    n2 = await numbers.assign_platform("74951112244")
    await raises("number.transfer_account", numbers.transfer([n2["id"]], 303))
    await raises("number.transfer_same", numbers.transfer([n2["id"]], 101))
    # release gives the DID back to the pool
    await numbers.delete(n2["id"])
    assert (await DidPool(db, Scope.platform()).find_one({"_id": "74951112244"}))["status"] == "free"


async def test_other_operators_numbers_passive_and_active(db):
    numbers = NumberService(db, 101, ADMIN)
    passive = await numbers.connect_passive({"number": "73432628900", "comment": "Old operator"})
    assert passive["sip_address"] == "00073432628900@vpbx101.pult.local"
    await raises("number.taken", NumberService(db, 202, ADMIN).connect_passive({"number": "73432628900"}))
    await raises("sip_address.taken", numbers.connect_passive({"number": "73432628901",
                                                                "sip_user": "00073432628900"}))
    active = await numbers.connect_active({"number": "78122223344", "gateway": {
        "host": "sip.Operator.ru", "login": "user1", "password": "op-secret"}})
    assert active["has_password"] and active["gateway"]["host"] == "sip.operator.ru"
    raw = await db["numbers"].find_one({"_id": active["id"]})
    assert "op-secret" not in repr(raw)
    await raises("gateway.host", numbers.connect_active({"number": "78122223355", "gateway": {
        "host": "bad host", "login": "u", "password": "p"}}))
    await raises("number.kind_change", numbers.update(active["id"], {"kind": "platform"}))
    await numbers.set_comment(active["id"], "Branch")
    gws = await provisioning.gateways(db)
    gw = next(g for g in gws if g["kind"] == "active_sip")
    assert gw["password"] == "op-secret" and gw["register"] and gw["pbx_id"] == 101 and gw["port"] == 5060


# --- trunks ---------------------------------------------------------------------------------------
async def test_trunk_rules_masks_and_references(db):
    await DidPoolService(db).add(["74957770000"])
    await NumberService(db, 101, ADMIN).assign_platform("74957770000")
    trunks = TrunkService(db, 101, ADMIN)
    await raises("trunk.lines", trunks.create({"name": "T", "host": "10.0.0.1", "lines": 4}))
    await raises("trunk.prefix", trunks.create({"name": "T", "host": "10.0.0.1", "prefix": "012"}))
    await raises("trunk.host", trunks.create({"name": "T", "host": "pbx.local"}))
    await raises("trunk.default_number", trunks.create({"name": "T", "host": "10.0.0.1", "default_number": "74950000000"}))
    t1 = await trunks.create({"name": "HQ", "host": "10.0.0.1", "lines": 10, "prefix": "88", "codecs": ["PCMA"],
                              "default_number": "74957770000",
                              "numbers": [{"number": "73430000001", "receive": True, "call": True, "comment": "x" * 50}]})
    assert t1["status"] == "unknown" and t1["prefix"] == "88"
    err = await raises("trunk.prefix_taken", trunks.create({"name": "Branch", "host": "10.0.0.2", "prefix": "88"}))
    assert err.params["trunk"] == "HQ"
    # another PBX's address: only "taken" — not whose, not that it is another PBX's trunk
    err = await raises("trunk.address_taken", TrunkService(db, 202, ADMIN).create({"name": "X", "host": "10.0.0.1"}))
    for lang in ("en", "ru"):
        text = err.message(lang)
        assert "10.0.0.1:5060" in text and not any(w in text.lower() for w in ("hq", "trunk", "транк", "pbx", "атс"))
    assert err.message("en") == "The address 10.0.0.1:5060 is taken; use another one"
    own = await raises("trunk.address_own", trunks.create({"name": "Y", "host": "10.0.0.1"}))
    assert own.message("en") == "Trunk 'HQ' of this PBX already uses 10.0.0.1:5060"
    await raises("trunk.number_taken", trunks.create({"name": "B", "host": "10.0.0.3", "numbers": [{"number": "73430000001"}]}))
    t2 = await trunks.create({"name": "Branch", "host": "10.0.0.2"})
    await raises("transformation.required", trunks.set_masks([{"mask": "(\\d+)", "transformation": "", "trunk_id": t1["id"]}]))
    e = await raises("trunk.unknown", trunks.set_masks([{"mask": "(\\d+)", "transformation": "$1", "trunk_id": "ghost"}]))
    assert e.params["row"] == 1
    e = await raises("transformation.group_missing",
                     trunks.set_masks([{"mask": "([100-500])", "transformation": "$1", "trunk_id": t1["id"]},
                                       {"mask": "777(\\d*)", "transformation": "$2", "trunk_id": t2["id"]}]))
    assert e.field == "masks[1].transformation"
    await trunks.set_masks([{"mask": "([100-500])", "transformation": "$1", "trunk_id": t2["id"]}])
    err = await raises("ref.in_use", trunks.delete(t2["id"]))
    assert err.references[0].type == "settings"
    emp = await EmployeeService(db, 101, ADMIN).create({"name": "Иванов", "extension": "10",
                                                        "outgoing_number": "73430000001"})
    assert emp["outgoing_ref"] == {"type": "trunk", "id": t1["id"]}
    err = await raises("ref.in_use", trunks.update(t1["id"], {"name": "HQ", "host": "10.0.0.1", "numbers": []}))
    assert err.references[0].name == "Иванов"
    err = await raises("ref.in_use", trunks.delete(t1["id"]))
    assert err.references[0].type == "employee"
    gws = [g for g in await provisioning.gateways(db) if g["kind"] == "trunk"]
    assert {g["host"] for g in gws} == {"10.0.0.1", "10.0.0.2"} and all(not g["register"] for g in gws)
    assert {t["host"] for t in (await provisioning.acl_entries(db))["trunks"]} == {"10.0.0.1", "10.0.0.2"}


# --- lists ------------------------------------------------------------------------------------------
async def test_black_white_lists_are_exclusive_and_client_rules_ordered(db):
    lists = ListService(db, 101, ADMIN)
    await lists.create({"list": "black", "value": "7495200*"})
    await raises("list.duplicate", lists.create({"list": "black", "value": "7495200**"}))
    await lists.create({"list": "white", "value": "74952009000-74952009999"})
    await raises("list_entry.range_length", lists.create({"list": "white", "value": "749520-74952009999"}))
    await lists.set_mode("black", unknown_allowed=False)
    mode, entries, unknown = await lists.active_entries()
    assert mode == "black" and [e.value for e in entries] == ["7495200*"] and unknown is False
    await lists.set_mode("white")
    mode, entries, _ = await lists.active_entries()
    assert mode == "white" and [e.form for e in entries] == ["range"]
    await raises("value.choice", lists.set_mode("grey"))
    group = await GroupService(db, 101, ADMIN).create({"name": "VIP", "extension": "30"})
    rules = ClientRuleService(db, 101, ADMIN)
    r1 = await rules.create({"value": "7912*", "target_kind": "group", "target": group["id"], "ring_time": 30})
    r2 = await rules.create({"value": "ivanov@company.ru", "target_kind": "external", "target": "79121234567"})
    await raises("ref.unknown", rules.create({"value": "7343", "exact": False, "target_kind": "employee", "target": "ghost"}))
    assert [r["id"] for r in await rules.reorder([r2["id"], r1["id"]])] == [r2["id"], r1["id"]]
    assert [r.target_kind for r in await rules.rules()] == ["external", "group"]
    err = await raises("ref.in_use", GroupService(db, 101, ADMIN).delete(group["id"]))
    assert err.references[0].type == "client_rule" and err.references[0].name == "7912*"


# --- sound files ---------------------------------------------------------------------------------
async def test_sound_files_checked_by_content_and_guarded_while_in_use(db, store):
    sounds = SoundService(db, 101, ADMIN, media=store.media)
    names = {s["name"] for s in await sounds.list()}
    assert {"abba", "Сиртаки", "Бетховен"} <= names
    wav = await sounds.upload(wav_bytes(), {"name": "Greeting", "description": "Hello"}, filename="greeting.mp3")
    assert wav["format"] == "wav" and wav["sample_rate"] == 8000
    mp3 = await sounds.upload(mp3_bytes(), {"name": "Music"}, filename="music.wav")
    assert mp3["format"] == "mp3"
    await raises("sound.format", sounds.upload(b"just text\n" * 50, {"name": "Fake"}, filename="fake.wav"))
    assert await store.media.read(101, wav["media_id"]) == wav_bytes()
    await raises("sound.builtin", sounds.delete("builtin:abba"))
    await GroupService(db, 101, ADMIN).create({"name": "Q", "extension": "40", "queue": {"mode": "special",
                                                                                         "hold_sound": wav["id"]}})
    err = await raises("ref.in_use", sounds.delete(wav["id"]))
    assert err.references[0].field == "queue.hold_sound"
    await PbxSettingsService(db, 101, ADMIN).update_call_handling({"transfer_melody": mp3["id"]})
    err = await raises("ref.in_use", sounds.delete(mp3["id"]))
    assert err.references[0].type == "settings"
    await PbxSettingsService(db, 101, ADMIN).update_call_handling({"transfer_melody": "builtin:beethoven"})
    await sounds.delete(mp3["id"])
    assert await SoundFiles(db, Scope.pbx(101)).count({"_id": mp3["id"]}) == 0


# --- settings --------------------------------------------------------------------------------------
async def test_pbx_settings_defaults_partial_updates_and_errors(db):
    service = PbxSettingsService(db, 101, ADMIN)
    s = await service.get()
    assert s["call_handling"]["default_ring_time"] == 120 and s["call_handling"]["unavailable_action"] == "voicemail"
    assert s["call_handling"]["queue"]["hold_sound"] == "builtin:sirtaki" and s["security"]["transfer_external"]
    await service.update_call_handling({"default_ring_time": 30, "queue": {"max_wait": 0}})
    await service.update_security({"allowed_directions": ["local", "mobile"], "blf_pickup": True})
    s = await service.get()
    assert s["call_handling"]["default_ring_time"] == 30 and s["call_handling"]["queue"]["max_wait"] == 0
    assert s["call_handling"]["queue"]["enabled"] is True and s["security"]["allowed_directions"] == ["local", "mobile"]
    await raises("value.range", service.update_call_handling({"dial_extensions": {"min_length": 5, "max_length": 3}}))
    await raises("direction.area_code", service.update_call_handling({"home_area_codes": ["12"]}))
    await raises("ref.unknown", service.update_call_handling({"password_prompt": "nope"}))
    await raises("direction.unknown", service.update_security({"allowed_directions": ["emergency"]}))
    assert (await PbxSettingsService(db, 202, ADMIN).get())["call_handling"]["default_ring_time"] == 120
