"""Tenant isolation of every telephony service (PBX 202 cannot read, change or delete PBX 101's
objects: they are simply not found) and the action log written for every change."""
from __future__ import annotations

import pytest

from storage.repos.audit import AuditLog
from storage.repos.base import Scope
from storage.repos.tenants import Pbxes, create_account
from tests.unit.test_tel_schemas import wav_bytes
from esl_control.model.calendars.services import DayGroupService, ScheduleService
from esl_control.model.common import NotFound
from esl_control.model.conferences.services import ConferenceRoomService
from esl_control.model.employees.services import EmployeeService
from esl_control.model.groups.services import GroupService
from esl_control.model.lists.services import ClientRuleService, ListService
from esl_control.model.numbers.services import NumberService
from esl_control.model.schemes.services import SchemeService
from esl_control.model.sip.services import SipAccountService, SipDomainService
from esl_control.model.sounds.services import SoundService
from esl_control.model.trunks.services import TrunkService

ADMIN = {"kind": "user", "login": "101/admin", "ip": "10.1.1.1"}
INTRUDER = {"kind": "user", "login": "202/admin", "ip": "10.2.2.2"}


@pytest.fixture
async def db(store):
    acc = await create_account(store.db, "Acme", "acme@example.com")
    for pbx_id in (101, 202):
        await Pbxes(store.db, Scope.platform()).insert_one({"pbx_id": pbx_id, "account_id": acc["account_id"],
                                                            "name": f"PBX {pbx_id}", "status": "active",
                                                            "sip_domain": f"vpbx{pbx_id}.pult.local"})
    return store.db


async def _objects(db, media):
    """One object of every kind in PBX 101: (service class, kwargs, id, valid update body)."""
    dg = await DayGroupService(db, 101, ADMIN).create({"name": "Будни", "weekdays": [1, 2, 3, 4, 5]})
    sc_body = {"name": "Day", "intervals": [{"day_group": dg["id"], "start": "09:00", "end": "18:00"}]}
    sc = await ScheduleService(db, 101, ADMIN).create(sc_body)
    emp = await EmployeeService(db, 101, ADMIN).create({"name": "Иванов", "extension": "10"})
    grp = await GroupService(db, 101, ADMIN).create({"name": "Sales", "extension": "20"})
    room = await ConferenceRoomService(db, 101, ADMIN).create({"name": "Room"})
    dom = await SipDomainService(db, 101, ADMIN, base_domain="pult.local").create({"name": "office"})
    acc = await SipAccountService(db, 101, ADMIN).create({"login": "ivanov", "password": "Secret123x"})
    num = await NumberService(db, 101, ADMIN).connect_passive({"number": "73432628900"})
    scheme = await SchemeService(db, 101, ADMIN).create({"name": "S", "blocks": []})
    snd = await SoundService(db, 101, ADMIN, media=media).upload(wav_bytes(), {"name": "Hello"})
    trunk = await TrunkService(db, 101, ADMIN).create({"name": "T", "host": "10.9.9.9"})
    entry = await ListService(db, 101, ADMIN).create({"list": "black", "value": "79120000000"})
    rule = await ClientRuleService(db, 101, ADMIN).create({"value": "7912*", "target_kind": "external",
                                                            "target": "79121234567"})
    return [
        (DayGroupService, {}, dg["id"], {"name": "X", "weekdays": [1]}),
        (ScheduleService, {}, sc["id"], sc_body),
        (EmployeeService, {}, emp["id"], {"name": "X", "extension": "11"}),
        (GroupService, {}, grp["id"], {"name": "X", "extension": "21"}),
        (ConferenceRoomService, {}, room["id"], {"name": "X"}),
        (SipDomainService, {"base_domain": "pult.local"}, dom["id"], None),
        (SipAccountService, {}, acc["id"], {"login": "petrov"}),
        (NumberService, {}, num["id"], {"comment": "mine now"}),
        (SchemeService, {}, scheme["id"], {"name": "X"}),
        (SoundService, {"media": media}, snd["id"], {"name": "X"}),
        (TrunkService, {}, trunk["id"], {"name": "X", "host": "10.9.9.8"}),
        (ListService, {}, entry["id"], {"list": "white", "value": "79120000001"}),
        (ClientRuleService, {}, rule["id"], {"value": "7913*", "target_kind": "external", "target": "79121234567"}),
    ]


async def test_another_pbx_cannot_read_change_or_delete(db, store):
    objects = await _objects(db, store.media)
    for cls, kw, oid, body in objects:
        intruder = cls(db, 202, INTRUDER, **kw)
        if hasattr(intruder, "get"):
            with pytest.raises(NotFound):
                await intruder.get(oid)
        if body is not None:
            with pytest.raises(NotFound):
                await intruder.update(oid, body)
        with pytest.raises(NotFound):
            await intruder.delete(oid)
        listed = await intruder.list()
        assert oid not in {o["id"] for o in listed}, cls.__name__
        owner = cls(db, 101, ADMIN, **kw)
        assert (await owner.get(oid) if hasattr(owner, "get") else None) is not None or cls is SipDomainService
    with pytest.raises(NotFound):
        await SchemeService(db, 202, INTRUDER).copy(objects[8][2], "Stolen")
    with pytest.raises(NotFound):
        await SipAccountService(db, 202, INTRUDER).reveal_password(objects[6][2])
    # PBX 202 cannot bind its scheme to PBX 101's number either
    own = await SchemeService(db, 202, INTRUDER).create({"name": "Mine"})
    with pytest.raises(Exception) as e:
        await SchemeService(db, 202, INTRUDER).activate(own["id"], [objects[7][2]])
    assert getattr(e.value, "code", None) == "ref.unknown"
    assert await AuditLog(db, Scope.pbx(202)).count({"object.id": {"$in": [o[2] for o in objects]}}) == 0


async def test_every_change_is_in_the_action_log_with_before_and_after(db):
    groups = GroupService(db, 101, ADMIN)
    g = await groups.create({"name": "Sales", "extension": "20"})
    await groups.update(g["id"], {"name": "Sales team", "extension": "21", "strategy": "random"})
    await groups.delete(g["id"])
    log = await AuditLog(db, Scope.pbx(101)).find({"object.id": g["id"]}, sort=[("at", 1)])
    assert [e["operation"] for e in log] == ["create", "update", "delete"]
    create, update, delete = log
    assert create["before"] is None and create["after"]["extension"] == "20"
    assert update["before"]["name"] == "Sales" and update["after"]["name"] == "Sales team"
    assert update["before"]["strategy"] == "sequential" and update["after"]["strategy"] == "random"
    assert delete["before"]["name"] == "Sales team" and delete["after"] is None
    assert [(e["actor"]["kind"], e["actor"]["login"], e["actor"]["ip"]) for e in log] == [("user", "101/admin", "10.1.1.1")] * 3
    assert {e["section"] for e in log} == {"telephony.groups"}
    assert create["object"] == {"type": "group", "id": g["id"], "name": "Sales"}
    # a refused change writes nothing
    before = await AuditLog(db, Scope.pbx(101)).count()
    with pytest.raises(Exception):
        await groups.create({"name": "", "extension": "20"})
    assert await AuditLog(db, Scope.pbx(101)).count() == before
    # system changes are logged as "system"
    await GroupService(db, 101, None).create({"name": "Auto", "extension": "30"})
    last = (await AuditLog(db, Scope.pbx(101)).find({"object.name": "Auto"}))[0]
    assert last["actor"]["kind"] == "system"
