"""LDAP directory sync against a real OpenLDAP slapd (issue 13, PRODUCT.md §11).

Each test starts its own slapd (mdb backend, a temp directory, a free port) with a directory of
a few hundred people, many with Cyrillic names, and syncs it into PBX 101 through the use cases.
"""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from esl_control.model.crypto import SecretBox, derive_key
from esl_control.model.employees.services import EmployeeService
from esl_control.model.ldap.services import LdapService, due_pbxes, run_sync
from pult.clock import FixedClock, use_clock
from pult.errors import AppError
from esl_control.routing.errors import RuleError
from tests.slapd import PEOPLE, ROOT_DN, ROOT_PW, Slapd

PBX = 101
BOX = SecretBox(derive_key("test-installation-secret"))
FIRST = ["Иван", "Пётр", "Мария", "Анна", "Сергей", "Ольга", "Дмитрий", "Елена", "Алексей", "Наталья",
         "John", "Jane"]
LAST = ["Иванов", "Петров", "Сидорова", "Кузнецова", "Смирнов", "Попова", "Волков", "Соколова",
        "Лебедев", "Новикова", "Smith", "Doe", "Ёлкин", "Щукин", "Жукова"]
DEPARTMENTS = ["Продажи", "Бухгалтерия", "Поддержка", "Склад"]
COUNT = 300


def people(count: int = COUNT) -> list[dict]:
    out = []
    for i in range(count):
        p = {"uid": f"user{i:03d}", "cn": f"{FIRST[i % len(FIRST)]} {LAST[i % len(LAST)]} {i}",
             "mail": f"user{i:03d}@example.org", "title": "Менеджер" if i % 3 else "Инженер",
             "ou": DEPARTMENTS[i % len(DEPARTMENTS)], "userPassword": f"pw-{i}"}
        if i % 5:  # every fifth has no extension in the directory: the PBX gives one
            p["telephoneNumber"] = str(2000 + i)
        if i % 4 == 0:
            p["mobile"] = f"+7 (912) 000-{i // 100:02d}-{i % 100:02d}"
        out.append(p)
    return out


@pytest.fixture
def ldap(tmp_path):
    with Slapd(tmp_path) as server:
        server.add_people(people())
        yield server


def settings_for(server: Slapd, **over) -> dict:
    return {"host": "127.0.0.1", "port": server.port, "security": "none", "bind_dn": ROOT_DN,
            "password": ROOT_PW, "base_dn": PEOPLE, "filter": "(objectClass=inetOrgPerson)",
            "policy": {"create": True, "update": True, "deactivate": True},
            "notify_email": "admin@example.com", "login": {"enabled": True}, **over}


async def configure(store, server: Slapd, **over) -> LdapService:
    svc = LdapService(store.db, PBX, box=BOX)
    await svc.update(settings_for(server, **over))
    return svc


async def employees(store) -> dict[str, dict]:
    """The PBX's employees by their directory uid (``user042``), or by name when unlinked."""
    out = {}
    for e in await store.db["employees"].find({"pbx_id": PBX}).to_list(None):
        key = (e.get("ldap") or {}).get("dn", "").split(",")[0].removeprefix("uid=") or e["name"]
        out[key] = e
    return out


async def test_the_first_sync_creates_every_person_with_cyrillic_names_mobiles_and_extensions(store, ldap):
    await configure(store, ldap)
    result = await run_sync(store.db, PBX, box=BOX)
    assert result["status"] == "ok"
    assert result["incidents"] == []
    assert result["counters"] == {"created": COUNT, "updated": 0, "deactivated": 0, "unchanged": 0, "failed": 0,
                                  "excluded": 0, "stopped": 0}
    emps = await employees(store)
    assert len(emps) == COUNT
    e = emps["user004"]
    assert e["name"] == "Сергей Смирнов 4" and e["email"] == "user004@example.org"
    assert e["department"] == "Продажи" and e["position"] == "Менеджер"
    assert e["extension"] == "2004"
    assert [(c["kind"], c["value"], c["active"]) for c in e["contact_methods"]] == [("phone", "79120000004", True)]
    assert e["ldap"]["managed"] is True and e["ldap"]["dn"] == Slapd.dn("user004")
    # a person without an extension in the directory got a free one from extension_start (100),
    # never an emergency number (101-104)
    given = sorted(int(emps[f"user{i:03d}"]["extension"]) for i in range(0, COUNT, 5))
    assert given[0] == 100 and len(set(given)) == COUNT // 5 and given[-1] < 200
    assert not {101, 102, 103, 104, 112} & set(given)
    assert emps["user012"]["name"] == "Иван Ёлкин 12"
    # each card was created through the employees' use case: extension claimed, action log written
    claims = await store.db["extensions"].count_documents({"pbx_id": PBX, "owner_type": "employee"})
    assert claims == COUNT
    log = await store.db["audit_log"].find_one({"pbx_id": PBX, "object.name": "Иван Ёлкин 12"})
    assert log and log["actor"]["kind"] == "system" and log["actor"]["login"] == "ldap"
    # a second sync of an unchanged directory changes nothing
    again = await run_sync(store.db, PBX, box=BOX)
    assert again["counters"] == {"created": 0, "updated": 0, "deactivated": 0, "unchanged": COUNT,
                                 "failed": 0, "excluded": 0, "stopped": 0}
    assert again["incidents"] == []


async def test_renamed_changed_emptied_and_removed_entries(store, ldap):
    await configure(store, ldap)
    await run_sync(store.db, PBX, box=BOX)
    before = await employees(store)
    ldap.rename("user007", "user007-renamed")                       # modrdn: a new DN, the same person
    ldap.modify("user008", {"title": "Директор", "mail": None, "ou": None,
                            "cn": "Мария Сидорова-Петрова 8"})       # emptied mail/ou must not overwrite
    ldap.modify("user016", {"mobile": "8 912 555 44 33"})           # a new mobile replaces the old one
    ldap.delete("user012")                                           # gone from the directory
    result = await run_sync(store.db, PBX, box=BOX)
    assert result["counters"] == {"created": 0, "updated": 3, "deactivated": 1, "unchanged": COUNT - 4,
                                  "failed": 0, "excluded": 0, "stopped": 0}
    after = await employees(store)
    assert len(await store.db["employees"].find({"pbx_id": PBX}).to_list(None)) == COUNT  # nothing deleted
    renamed = after["user007-renamed"]
    assert renamed["_id"] == before["user007"]["_id"] and "user007" not in after
    assert renamed["ldap"]["dn"] == Slapd.dn("user007-renamed")
    changed = after["user008"]
    assert changed["position"] == "Директор" and changed["name"] == "Мария Сидорова-Петрова 8"
    assert changed["email"] == "user008@example.org" and changed["department"] == "Продажи"
    phones = [c["value"] for c in after["user016"]["contact_methods"] if c["kind"] == "phone"]
    assert phones == ["79125554433"]
    gone = after["user012"]
    assert gone["_id"] == before["user012"]["_id"] and gone["ldap"]["absent"] is True
    assert gone["contact_methods"] and not any(c["active"] for c in gone["contact_methods"])
    # the renamed person's e-mail still identifies the same card for sign-in by LDAP bind
    svc = LdapService(store.db, PBX, box=BOX)
    assert (await svc.login_entry("user007-renamed", "pw-7"))["id"] == before["user007"]["_id"]
    assert await svc.login_entry("user007-renamed", "wrong") is None
    assert await svc.login_entry("user007-renamed", "") is None
    assert await svc.login_entry("user012", "pw-12") is None


async def test_the_server_going_away_mid_read_applies_nothing_and_records_an_incident(store, ldap):
    await configure(store, ldap)
    await run_sync(store.db, PBX, box=BOX)
    snapshot = await store.db["employees"].find({"pbx_id": PBX}).sort("_id", 1).to_list(None)
    for i in range(0, 60, 2):
        ldap.modify(f"user{i:03d}", {"title": "Переведён"})
    for i in range(250, 300):
        ldap.delete(f"user{i:03d}")
    pages = []

    def kill_after_the_first_page(n: int) -> None:
        pages.append(n)
        if n == 1:
            ldap.kill()

    result = await run_sync(store.db, PBX, box=BOX, on_page=kill_after_the_first_page)
    assert pages == [1]  # the first page arrived (it holds changed people), then the server died
    assert result["status"] == "failed" and result["counters"] == {}
    assert await store.db["employees"].find({"pbx_id": PBX}).sort("_id", 1).to_list(None) == snapshot
    [incident] = await LdapService(store.db, PBX).list_incidents()
    assert incident["code"] == "ldap.unreachable" and incident["run_id"] == result["run_id"]
    assert incident["message"].startswith("The LDAP server could not be read, nothing was changed")
    ru = (await LdapService(store.db, PBX).list_incidents("ru"))[0]["message"]
    assert ru.startswith("Не удалось прочитать сервер LDAP")
    [run] = [r for r in await LdapService(store.db, PBX).list_runs() if r["id"] == result["run_id"]]
    assert run["status"] == "failed" and run["incidents"] == 1
    # the claim was released: the next run (server back) applies the whole change set
    ldap.start()
    result = await run_sync(store.db, PBX, box=BOX)
    assert result["counters"]["updated"] == 30 and result["counters"]["deactivated"] == 50


async def test_a_first_sync_that_loses_the_server_creates_no_one(store, ldap):
    await configure(store, ldap)
    result = await run_sync(store.db, PBX, box=BOX, on_page=lambda n: n == 2 and ldap.kill())
    assert result["status"] == "failed"
    assert await store.db["employees"].count_documents({"pbx_id": PBX}) == 0


async def test_a_wrong_password_or_a_closed_port_is_an_incident_and_changes_nothing(store, ldap):
    svc = await configure(store, ldap, password="not-the-password")
    result = await run_sync(store.db, PBX, box=BOX)
    assert result["status"] == "failed" and result["incidents"][0]["code"] == "ldap.bind_failed"
    ldap.stop()
    result = await run_sync(store.db, PBX, box=BOX)
    assert result["incidents"][0]["code"] == "ldap.unreachable"
    assert await store.db["employees"].count_documents({"pbx_id": PBX}) == 0
    assert [i["code"] for i in await svc.list_incidents()] == ["ldap.unreachable", "ldap.bind_failed"]


async def test_policies_matching_by_email_and_create_off(store, ldap, monkeypatch):
    from esl_control.model.ldap import services

    monkeypatch.setattr(services, "INCIDENTS_KEPT", 100)  # a PBX keeps its newest incidents only
    emp = await EmployeeService(store.db, PBX).create({"name": "Старая карточка", "extension": "555",
                                                       "email": "USER001@example.org"})
    await configure(store, ldap, policy={"create": False, "update": True, "deactivate": False})
    result = await run_sync(store.db, PBX, box=BOX)
    # the existing card with the same e-mail became user001's; nobody else was created
    assert result["counters"]["created"] == 0 and result["counters"]["updated"] == 1
    [card] = await store.db["employees"].find({"pbx_id": PBX}).to_list(None)
    assert card["_id"] == emp["id"] and card["name"] == "Пётр Петров 1" and card["extension"] == "2001"
    codes = [i["code"] for i in result["incidents"]]
    assert codes.count("ldap.create_off") == COUNT - 1
    assert await store.db["extensions"].find_one({"pbx_id": PBX, "extension": "555"}) is None  # released
    assert await store.db["ldap_incidents"].count_documents({"pbx_id": PBX}) == 100


async def test_a_card_the_employees_rules_refuse_is_an_incident_the_rest_still_apply(store, ldap):
    # extension 2003 belongs to a group: user003 cannot be created with it
    from esl_control.model.groups.services import GroupService

    await GroupService(store.db, PBX).create({"name": "Группа", "extension": "2003"})
    await configure(store, ldap)
    result = await run_sync(store.db, PBX, box=BOX)
    assert result["counters"]["created"] == COUNT - 1 and result["counters"]["failed"] == 1
    [incident] = [i for i in result["incidents"] if i["code"] == "ldap.create_failed"]
    assert incident["dn"] == Slapd.dn("user003")
    [shown] = [i for i in await LdapService(store.db, PBX).list_incidents() if i["code"] == "ldap.create_failed"]
    assert "2003" in shown["message"]


async def test_settings_validation_encrypted_password_and_schedule(store, ldap):
    svc = LdapService(store.db, PBX, box=BOX)
    for bad, field in (({"host": ""}, "host"), ({"base_dn": "people"}, "base_dn"),
                       ({"filter": "(objectClass=person"}, "filter"),
                       ({"policy": {"create": False, "update": False, "deactivate": False}}, "policy"),
                       ({"schedule": {"mode": "interval", "hours": 5}}, "schedule.hours"),
                       ({"schedule": {"mode": "daily", "time": "25:00"}}, "schedule.time"),
                       ({"mapping": {"name": ""}}, "mapping.name"),
                       ({"security": "ssl"}, "security")):
        with pytest.raises(RuleError) as err:
            await svc.update(settings_for(ldap, **bad))
        assert err.value.field == field, bad
    assert await store.db["ldap_settings"].count_documents({}) == 0  # bad input changes nothing
    at = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
    with use_clock(FixedClock(at)):
        shown = await svc.update(settings_for(ldap, schedule={"mode": "interval", "hours": 4}))
    assert "password" not in shown and "password_enc" not in shown and shown["has_password"] is True
    stored = await store.db["ldap_settings"].find_one({"_id": PBX})
    assert ROOT_PW not in str(stored) and BOX.decrypt(stored["password_enc"], f"ldap_settings:{PBX}") == ROOT_PW
    assert stored["next_run_at"].replace(tzinfo=timezone.utc) == datetime(2026, 3, 2, 14, 0, tzinfo=timezone.utc)
    # saving without a password keeps it
    await svc.update({k: v for k, v in settings_for(ldap).items() if k != "password"})
    assert (await store.db["ldap_settings"].find_one({"_id": PBX}))["password_enc"] == stored["password_enc"]
    # daily at 03:30 in UTC (a PBX without a stored time zone)
    with use_clock(FixedClock(at)):
        await svc.update(settings_for(ldap, schedule={"mode": "daily", "time": "03:30"}))
        assert await due_pbxes(store.db) == []
    with use_clock(FixedClock(datetime(2026, 3, 3, 3, 31, tzinfo=timezone.utc))):
        assert await due_pbxes(store.db) == [PBX]
        await run_sync(store.db, PBX, box=BOX, trigger="schedule")
        assert await due_pbxes(store.db) == []
    stored = await store.db["ldap_settings"].find_one({"_id": PBX})
    assert stored["next_run_at"].replace(tzinfo=timezone.utc) == datetime(2026, 3, 4, 3, 30, tzinfo=timezone.utc)
    # a manual schedule is never due
    await svc.update(settings_for(ldap, schedule={"mode": "manual"}))
    assert (await store.db["ldap_settings"].find_one({"_id": PBX}))["next_run_at"] is None


async def test_one_run_at_a_time_and_a_turned_off_sync_does_not_run(store, ldap):
    svc = await configure(store, ldap)
    run = await svc.start_run("manual")
    with pytest.raises(AppError) as err:
        await run_sync(store.db, PBX, box=BOX)
    assert err.value.status_code == 409 and err.value.code == "ldap_running"
    await svc.release(run["run_id"])
    await svc.update(settings_for(ldap, enabled=False))
    with pytest.raises(AppError):
        await run_sync(store.db, PBX, box=BOX)
    assert await store.db["employees"].count_documents({"pbx_id": PBX}) == 0


async def test_the_edition_decides_ldap_and_the_employee_quota_holds(store, ldap):
    """The sync creates employees through the employees' use case: the edition's quota stops it
    exactly where it stops the cabinet; an edition without LDAP refuses the settings."""
    from esl_control.model.quotas import FeatureMissing
    from storage.repos.tenants import create_account, create_pbx, ensure_default_editions, update_pbx

    await ensure_default_editions(store.db)
    await store.db["editions"].insert_one({"_id": "tiny-ldap", "name": "Мини", "monthly_fee": 0,
                                           "quotas": {"employees": 5}, "features": {"ldap": True}})
    acc = await create_account(store.db, "Quota Co", "q@example.com")
    pbx = await create_pbx(store.db, acc["account_id"], "Quota", "pult.test")
    assert pbx["pbx_id"] == PBX
    await update_pbx(store.db, PBX, {"edition": "business"})  # business has no LDAP
    with pytest.raises(FeatureMissing):
        await configure(store, ldap)
    assert await store.db["ldap_settings"].count_documents({}) == 0
    await update_pbx(store.db, PBX, {"edition": "tiny-ldap"})
    await configure(store, ldap)
    result = await run_sync(store.db, PBX, box=BOX)
    assert result["counters"]["created"] == 5 and result["counters"]["failed"] == COUNT - 5
    assert await store.db["employees"].count_documents({"pbx_id": PBX}) == 5
    failed = [i for i in result["incidents"] if i["code"] == "ldap.create_failed"]
    assert len(failed) == COUNT - 5
    ru = [i["message"] for i in await LdapService(store.db, PBX).list_incidents("ru")][:3]
    en = [i["message"] for i in await LdapService(store.db, PBX).list_incidents("en")][:3]
    assert all(m.startswith("Сотрудник для") and "Мини" in m and "Edition" not in m for m in ru), ru
    assert all("Edition «Мини» allows at most 5 employees" in m for m in en), en


async def test_ldaps_and_starttls_check_the_servers_certificate(store, tmp_path):
    """A real TLS slapd: LDAPS and StartTLS work with the CA given in the settings and are refused
    with another CA (an incident, nothing applied)."""
    from tests.slapd import make_tls

    with Slapd(tmp_path, tls=True) as server:
        server.add_people(people(12))
        await configure(store, server, security="starttls", ca_cert=server.ca_pem)
        result = await run_sync(store.db, PBX, box=BOX)
        assert result["status"] == "ok" and result["counters"]["created"] == 12
        await configure(store, server, security="ldaps", port=server.ldaps_port, ca_cert=server.ca_pem)
        server.modify("user001", {"title": "Начальник"})
        result = await run_sync(store.db, PBX, box=BOX)
        assert result["status"] == "ok" and result["counters"]["updated"] == 1
        other_ca, _c, _k = make_tls(tmp_path / "other")
        for security, port in (("ldaps", server.ldaps_port), ("starttls", server.port)):
            await configure(store, server, security=security, port=port, ca_cert=other_ca)
            server.modify("user002", {"title": "Не применится"})
            result = await run_sync(store.db, PBX, box=BOX)
            assert result["status"] == "failed" and result["incidents"][0]["code"] == "ldap.unreachable", result
    emps = await employees(store)
    assert emps["user001"]["position"] == "Начальник" and emps["user002"]["position"] != "Не применится"


async def test_entries_without_an_id_or_a_name_and_duplicate_ids_are_incidents(store, tmp_path):
    """With the mapping uid=employeeNumber, name=displayName: what the directory does not say
    well enough is reported, never guessed; the other entries sync."""
    with Slapd(tmp_path) as server:
        server.add_people([
            {"uid": "ok1", "cn": "Анна Ок", "displayName": "Анна Ок", "employeeNumber": "E1"},
            {"uid": "ok2", "cn": "Борис Ок", "displayName": "Борис Ок", "employeeNumber": "E2"},
            {"uid": "noid", "cn": "Без Номера", "displayName": "Без Номера"},
            {"uid": "noname", "cn": "x", "employeeNumber": "E3"},
            {"uid": "twin1", "cn": "Близнец Один", "displayName": "Близнец Один", "employeeNumber": "E4"},
            {"uid": "twin2", "cn": "Близнец Два", "displayName": "Близнец Два", "employeeNumber": "E4"},
        ])
        mapping = {"uid": "employeeNumber", "name": "displayName", "email": "mail", "extension": "telephoneNumber"}
        await configure(store, server, mapping=mapping)
        result = await run_sync(store.db, PBX, box=BOX)
    assert result["counters"]["created"] == 2
    names = sorted(e["name"] for e in await store.db["employees"].find({"pbx_id": PBX}).to_list(None))
    assert names == ["Анна Ок", "Борис Ок"]
    shown = {i["code"]: i["message"] for i in await LdapService(store.db, PBX).list_incidents("ru")}
    assert shown["ldap.entry_no_uid"] == ("У записи каталога uid=noid,ou=people,dc=example,dc=org нет атрибута "
                                          "employeeNumber (постоянного идентификатора), запись пропущена")
    assert shown["ldap.entry_no_name"].startswith("У записи каталога uid=noname,")
    assert "uid=twin1" in shown["ldap.entry_duplicate"] and "uid=twin2" in shown["ldap.entry_duplicate"]
    assert len(result["incidents"]) == 3
