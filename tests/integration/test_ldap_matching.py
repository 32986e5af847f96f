"""The rest of the LDAP inventory (D §4.6.7.5) against a real OpenLDAP slapd: the exclusion list,
"stop sync" per card, deleting a link, manual matching, the defaults of imported cards, SIP
accounts for new employees, the matching statistics and "Show example" (issue 13)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from esl_control.model.employees.services import EmployeeService
from esl_control.model.ldap.services import LdapService, run_sync
from esl_control.routing.errors import RuleError
from storage.repos.base import Scope
from storage.repos.telephony import Numbers
from tests.integration.test_ldap_sync import BOX, PBX, configure, employees, people, settings_for
from tests.slapd import Slapd

COUNT = 40


@pytest.fixture
def ldap(tmp_path):
    with Slapd(tmp_path) as server:
        server.add_people(people(COUNT) + [{"uid": "svc-backup", "cn": "Backup Robot", "mail": "backup@example.org"},
                                           {"uid": "svc-scan", "cn": "Scanner Robot", "mail": "scan@example.org"}])
        yield server


async def test_the_exclusion_list_keeps_technical_accounts_out_and_leaves_their_cards_alone(store, ldap):
    # by login, by DN (another case and spaces), and later by the permanent id
    svc = await configure(store, ldap, exclusions=["svc-backup", "UID=svc-scan, OU=people,dc=example,dc=org"])
    result = await run_sync(store.db, PBX, box=BOX)
    assert result["counters"]["created"] == COUNT and result["counters"]["excluded"] == 2
    emps = await employees(store)
    assert "svc-backup" not in emps and "svc-scan" not in emps and len(emps) == COUNT
    # an entry excluded after it got a card: the card is neither updated nor switched off
    uid3 = emps["user003"]["ldap"]["uid"]
    await svc.update(settings_for(ldap, exclusions=["svc-backup", "svc-scan", uid3]))
    ldap.modify("user003", {"title": "Не применится"})
    result = await run_sync(store.db, PBX, box=BOX)
    assert result["counters"]["excluded"] == 3 and result["counters"]["updated"] == 0
    card = (await employees(store))["user003"]
    assert card["position"] != "Не применится" and all(c["active"] for c in card["contact_methods"])
    ldap.delete("user003")  # gone AND excluded: still left alone (deactivate is on)
    result = await run_sync(store.db, PBX, box=BOX)
    assert result["counters"]["deactivated"] == 0
    assert all(c["active"] for c in (await employees(store))["user003"]["contact_methods"])
    assert (await svc.get())["exclusions"] == ["svc-backup", "svc-scan", uid3]


async def test_stop_sync_keeps_the_link_and_the_card_as_it_is_resume_brings_it_back(store, ldap):
    svc = await configure(store, ldap)
    await run_sync(store.db, PBX, box=BOX)
    emps = await employees(store)
    five, six = emps["user005"], emps["user006"]
    shown = await svc.set_sync(five["_id"], False)
    assert shown["sync"] is False and shown["dn"] == Slapd.dn("user005")
    await svc.set_sync(six["_id"], False)
    ldap.modify("user005", {"title": "Новая должность"})
    ldap.delete("user006")
    result = await run_sync(store.db, PBX, box=BOX)
    assert result["counters"]["stopped"] == 1 and result["counters"]["updated"] == 0
    assert result["counters"]["deactivated"] == 0  # user006 is gone, but its sync is stopped
    after = await employees(store)
    assert after["user005"]["position"] != "Новая должность" and after["user005"]["ldap"]["uid"] == five["ldap"]["uid"]
    assert all(c["active"] for c in after["user006"]["contact_methods"])
    links = await svc.links()
    assert links["stats"] == {"matched": COUNT + 2, "synced": COUNT, "not_synced": 2, "unmatched": 0,
                              "excluded": 0, "other": 0}
    assert [i["sync"] for i in links["items"] if i["employee_id"] in (five["_id"], six["_id"])] == [False, False]
    await svc.set_sync(five["_id"], True)
    result = await run_sync(store.db, PBX, box=BOX)
    assert result["counters"]["updated"] == 1
    assert (await employees(store))["user005"]["position"] == "Новая должность"
    with pytest.raises(RuleError) as err:
        await svc.set_sync(five["_id"], "no")
    assert err.value.field == "sync"


async def test_deleting_a_link_and_matching_a_card_by_hand(store, ldap):
    # a card the directory knows under another e-mail: the automatic match misses it
    own = await EmployeeService(store.db, PBX).create({"name": "Ручная Карточка", "extension": "777",
                                                       "email": "someone@else.org"})
    svc = await configure(store, ldap, policy={"create": False, "update": True, "deactivate": True})
    await run_sync(store.db, PBX, box=BOX)
    links = await svc.links()
    assert links["items"] == [] and links["stats"] == {"matched": 0, "synced": 0, "not_synced": 0,
                                                       "unmatched": COUNT + 2, "excluded": 0, "other": COUNT + 2}
    for bad_dn, code in (("people", "ldap.dn"), (Slapd.dn("nobody"), "ldap.entry_not_found")):
        with pytest.raises(RuleError) as err:
            await svc.match(own["id"], bad_dn)
        assert (err.value.code, err.value.field) == (code, "dn")
    linked = await svc.match(own["id"], Slapd.dn("user009"))
    assert linked["sync"] is True and linked["uid"] and linked["employee_id"] == own["id"]
    with pytest.raises(RuleError) as err:  # one card, one entry
        await svc.match(own["id"], Slapd.dn("user010"))
    assert err.value.code == "ldap.employee_linked"
    other = await EmployeeService(store.db, PBX).create({"name": "Другая", "extension": "778"})
    with pytest.raises(RuleError) as err:
        await svc.match(other["id"], Slapd.dn("user009"))
    assert err.value.code == "ldap.entry_linked" and "Ручная Карточка" in err.value.message()
    # the next sync fills the card from the directory (the directory wins)
    result = await run_sync(store.db, PBX, box=BOX)
    assert result["counters"]["updated"] == 1
    card = await store.db["employees"].find_one({"_id": own["id"]})
    assert card["name"] == "Наталья Новикова 9" and card["email"] == "user009@example.org"
    # deleting the link: the card stays, LDAP no longer manages it
    await svc.unlink(own["id"])
    card = await store.db["employees"].find_one({"_id": own["id"]})
    assert "ldap" not in card and card["name"] == "Наталья Новикова 9"
    with pytest.raises(RuleError) as err:
        await svc.unlink(own["id"])
    assert err.value.code == "ldap.not_linked"
    # an excluded entry cannot be matched by hand either
    await svc.update(settings_for(ldap, policy={"create": False, "update": True, "deactivate": True},
                                  exclusions=["user009"]))
    with pytest.raises(RuleError) as err:
        await svc.match(own["id"], Slapd.dn("user009"))
    assert err.value.code == "ldap.entry_excluded"


async def test_imported_cards_get_the_defaults_and_a_sip_account(store, ldap):
    await Numbers(store.db, Scope.pbx(PBX)).insert_one({"number": "74950001122", "kind": "platform",
                                                        "created_at": datetime(2026, 1, 5, tzinfo=timezone.utc)})
    svc = LdapService(store.db, PBX, box=BOX)
    with pytest.raises(RuleError) as err:  # not a line of this PBX
        await svc.update(settings_for(ldap, defaults={"outgoing_number": "74950009999"}))
    assert err.value.field == "defaults.outgoing_number"
    with pytest.raises(RuleError) as err:
        await svc.update(settings_for(ldap, defaults={"reception_mode": "random"}))
    assert err.value.field == "defaults.reception_mode"
    assert await store.db["ldap_settings"].count_documents({}) == 0
    # one SIP login is already taken: that employee gets the next one
    await svc.update(settings_for(ldap, defaults={"outgoing_number": "74950001122", "reception_mode": "sequential"},
                                  auto_sip=True))
    from esl_control.model.sip.services import SipAccountService

    await SipAccountService(store.db, PBX, box=BOX).create({"login": "ext2001", "password": "Sip-pass-12345"})
    result = await run_sync(store.db, PBX, box=BOX)
    assert result["counters"]["created"] == COUNT + 2 and result["counters"]["failed"] == 0
    emps = await employees(store)
    card = emps["user004"]
    assert card["outgoing_number"] == "74950001122" and card["reception_mode"] == "sequential"
    [sip, phone] = card["contact_methods"]
    assert sip["kind"] == "sip_account" and phone == {**phone, "kind": "phone", "value": "79120000004"}
    acc = await store.db["sip_accounts"].find_one({"_id": sip["account_id"]})
    assert acc["login"] == "ext2004" and acc["employee_id"] == card["_id"] and acc["a1_hash"]
    taken = await store.db["sip_accounts"].find_one({"employee_id": emps["user001"]["_id"]})
    assert taken["login"] == "ext2001-2"
    made = [i for i in result["incidents"] if i["code"] == "ldap.sip_created"]
    assert len(made) == COUNT + 2
    shown = [i["message"] for i in await svc.list_incidents("ru") if i["uid"] == card["ldap"]["uid"]]
    assert shown == [f"Сотрудник «Сергей Смирнов 4» получил SIP-учётную запись ext2004@{acc['domain']}"]
    # an update does not make another account
    result = await run_sync(store.db, PBX, box=BOX)
    assert await store.db["sip_accounts"].count_documents({"pbx_id": PBX}) == COUNT + 3


async def test_show_example_reads_a_few_entries_with_the_saved_mapping(store, ldap):
    svc = await configure(store, ldap)
    shown = await svc.example()
    assert shown["ok"] is True and len(shown["items"]) == 5
    first = shown["items"][0]
    assert set(first["values"]) >= {"uid", "name", "email", "extension"} and first["values"]["name"]
    ldap.stop()
    shown = await svc.example()
    assert shown["ok"] is False and shown["code"] == "ldap.unreachable" and shown["items"] == []
