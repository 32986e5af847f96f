"""The telephony cabinet pages over real HTTP (real Tornado, Redis, embedded store): every page in
English and Russian, create / edit / delete through the forms, field errors next to the field in
the user's language, refused deletes listing their referrers as links, nothing half-saved by the
new-employee wizard, the route tester, and rights (an Employee neither sees nor reaches the pages,
a viewer cannot change anything)."""
from __future__ import annotations

import html as html_lib
import re

import pytest

from storage.repos.base import Scope
from storage.repos.telephony import DidPool, Employees, SipAccounts
from tests.integration.tel_api_harness import field_error, st  # noqa: F401  (st: the module's stack)
from esl_control.model.lists.services import ClientRuleService

pytestmark = pytest.mark.asyncio(loop_scope="module")

LIST_PAGES = {  # page -> (English heading, Russian heading)
    "/telephony/employees": ("Employees", "Сотрудники"),
    "/telephony/employees/new": ("New employee", "Новый сотрудник"),
    "/telephony/groups": ("Groups", "Группы"),
    "/telephony/groups/new": ("New group", "Новая группа"),
    "/telephony/numbers": ("Numbers", "Номера"),
    "/telephony/schedules": ("Schedules", "Графики"),
    "/telephony/schedules/new": ("New schedule", "Новый график"),
    "/telephony/day-groups/new": ("New day group", "Новая группа дней"),
    "/telephony/sip": ("SIP accounts", "SIP-учётные записи"),
    "/telephony/sip/accounts/new": ("New SIP account", "Новая SIP-учётная запись"),
    "/telephony/sip/domains": ("SIP domains", "SIP-домены"),
    "/telephony/sip/whitelist": ("Access by IP address", "Доступ по IP-адресу"),
    "/telephony/trunks": ("SIP trunks", "SIP-транки"),
    "/telephony/trunks/new": ("New trunk", "Новый транк"),
    "/telephony/trunks/routing": ("Routing rules", "Правила маршрутизации"),
    "/telephony/lists": ("Black and white lists", "Чёрный и белый списки"),
    "/telephony/client-rules": ("Forwarding by client number", "Переадресация по номеру клиента"),
    "/telephony/client-rules/new": ("New rule", "Новое правило"),
    "/telephony/conferences": ("Conference rooms", "Комнаты конференций"),
    "/telephony/conferences/new": ("New room", "Новая комната"),
    "/telephony/settings": ("Call handling", "Обработка звонков"),
    "/telephony/security": ("PBX security", "Безопасность АТС"),
}


def location_id(r) -> str:
    assert r.status_code == 302, f"{r.status_code}: {r.text[:3000]}"
    return re.search(r"/([0-9a-f]{24})", r.headers["Location"]).group(1)


async def test_every_page_renders_in_english_and_russian(st):
    async with st.client("101/admin", "en") as en, st.client("101/adminru", "ru") as ru:
        for path, (title_en, title_ru) in LIST_PAGES.items():
            r = await en.get(path)
            assert r.status_code == 200, f"{path}: {r.status_code}"
            assert title_en in r.text, path
            assert 'lang="en"' in r.text
            r = await ru.get(path)
            assert r.status_code == 200, f"{path}: {r.status_code}"
            assert title_ru in r.text, path
            assert 'lang="ru"' in r.text and "Save" not in r.text.replace("Сохранить", "")
        # the extension bounds the hints name are the rules' own (1 to 5 digits; a menu dials 3 to 5 at most)
        for path, hints in (("/telephony/employees/new", ["От 1 до 5 цифр; не меньше 2"]),
                            ("/telephony/groups/new", ["От 1 до 5 цифр; звонки и переводы"]),
                            ("/telephony/settings", ["От 1 до 5 цифр.", "От 3 до 5 цифр."])):
            page = (await ru.get(path)).text
            assert all(hint in page for hint in hints), path
        assert "1 to 5 digits; calls and transfers" in (await en.get("/telephony/groups/new")).text
        # the menu of an administrator lists the telephony pages
        menu = (await en.get("/")).text
        for url in ("/telephony/employees", "/telephony/groups", "/telephony/numbers", "/telephony/schedules",
                    "/telephony/sip", "/telephony/trunks", "/telephony/lists", "/telephony/conferences",
                    "/telephony/settings", "/telephony/security"):
            assert f'href="{url}"' in menu, url


async def test_schedule_forms_round_trip_and_refused_delete_lists_references(st):
    async with st.client("101/admin") as c:
        r = await c.post_form("/telephony/day-groups/new", {
            "name": "Weekdays", "weekdays": ["1", "2", "3", "4", "5"],
            "sd-0-date": "08.03.2027", "sd-0-name": "Women's day", "sd-0-kind": "holiday",
            "sd-new-date": "", "sd-new-name": ""})
        dg = location_id(r)
        page = (await c.get(f"/telephony/day-groups/{dg}")).text
        assert "2027-03-08" in page and "Women&#x27;s day" in page and "2027 — 1" in page  # holidays by year
        r = await c.post_form("/telephony/schedules/new", {
            "name": "Office hours", "iv-0-day_group": dg, "iv-0-start": "09:00", "iv-0-end": "18:00",
            "iv-1-day_group": dg, "iv-1-start": "20:00", "iv-1-end": "19:00"})
        assert r.status_code == 422  # the second interval ends before it starts: nothing saved
        assert field_error(r.text, "intervals") is None
        assert "intervals[1]" not in r.text and 'aria-invalid="true" aria-describedby="err-intervals-1--end"' in r.text
        assert "Office hours" in r.text  # the typed values are kept
        r = await c.post_form("/telephony/schedules/new", {
            "name": "Office hours", "iv-0-day_group": dg, "iv-0-start": "09:00", "iv-0-end": "18:00"})
        sc = location_id(r)
        assert "Weekdays: 09:00–18:00" in (await c.get("/telephony/schedules")).text
        # edit: add an interval, reorder does not matter for schedules
        r = await c.post_form(f"/telephony/schedules/{sc}", {
            "name": "Office hours", "iv-0-day_group": dg, "iv-0-start": "09:00", "iv-0-end": "13:00",
            "iv-n1-day_group": dg, "iv-n1-start": "14:00", "iv-n1-end": "18:00"})
        assert location_id(r) == sc
        assert "14:00–18:00" in (await c.get("/telephony/schedules")).text
        # the day group is used by the schedule: the delete is refused with a link to it
        confirm = await c.get(f"/telephony/day-groups/{dg}/delete")
        assert confirm.status_code == 200 and 'id="confirm-delete"' in confirm.text
        r = await c.post_form(f"/telephony/day-groups/{dg}/delete", {})
        assert r.status_code == 409
        assert f'href="/telephony/schedules/{sc}"' in r.text and "Office hours" in r.text
        assert (await c.get(f"/telephony/day-groups/{dg}")).status_code == 200
        r = await c.post_form(f"/telephony/schedules/{sc}/delete", {})
        assert r.status_code == 302 and r.headers["Location"] == "/telephony/schedules?done=deleted"
        assert (await c.get(f"/telephony/schedules/{sc}")).status_code == 404
        assert (await c.post_form(f"/telephony/day-groups/{dg}/delete", {})).status_code == 302


async def test_field_errors_in_the_users_language(st):
    bad = {"name": "", "extension": "12a", "email": "nobody", "reception_mode": "main",
           "cm-0-kind": "phone", "cm-0-value": "8 916 123", "cm-0-active": "1", "cm-0-ring_time": "9999"}
    async with st.client("101/admin", "en") as en, st.client("101/adminru", "ru") as ru:
        r = await en.post_form("/telephony/employees/new", {**bad, "method": "phone", "phone": "", "sip": ""})
        assert r.status_code == 422
        assert field_error(r.text, "name") == "Enter a name"
        r = await ru.post_form("/telephony/employees/new", {**bad, "name": "Пётр", "email": "", "method": "phone", "phone": "79161234567"})
        assert field_error(r.text, "extension") == "Внутренний номер — от 1 до 5 цифр"
        r = await en.post_form("/telephony/conferences/new", {"name": "Board", "seats": "500", "pin": ""})
        assert r.status_code == 422 and field_error(r.text, "seats") == "Must be a whole number from 2 to 100"
        r = await ru.post_form("/telephony/conferences/new", {"name": "Board", "seats": "10", "pin": "12"})
        assert field_error(r.text, "pin") == "PIN-код — от 4 до 7 цифр"
        r = await ru.post_form("/telephony/sip/whitelist", {"mode": "restricted", "entries": "10.0.0.1 office\n300.1.1.1"})
        assert r.status_code == 422 and field_error(r.text, "entries").startswith("Строка 2: IP-адрес «300.1.1.1»")
        r = await en.post_form("/telephony/settings", {"default_ring_time": "2", "unavailable_action": "voicemail",
                                                       "unavailable_extension": "100", "dial_extensions.min_length": "2",
                                                       "dial_extensions.max_length": "5", "incoming_caller_id": "auto",
                                                       "adhoc_conference_limit": "16", "home_area_codes": "495"})
        assert r.status_code == 422 and field_error(r.text, "default_ring_time") == "Must be a whole number from 5 to 3600"
        assert "Default: 120." in r.text


async def test_employee_card_contact_methods_rows_and_order(st):
    async with st.client("101/admin") as c:
        r = await c.post_form("/telephony/employees/new", {
            "name": "Anna Card", "extension": "31", "method": "phone", "phone": "79161112233", "outgoing_number": ""})
        assert r.status_code == 201, r.text[:2000]
        emp = await Employees(st.db, Scope.pbx(101)).find_one({"name": "Anna Card"})
        first = emp["contact_methods"][0]["id"]
        # two methods; the Order column puts the new one first
        r = await c.post_form(f"/telephony/employees/{emp['_id']}", {
            "name": "Anna Card", "extension": "31", "reception_mode": "sequential", "directions_mode": "own",
            "directions": ["local", "mobile"],
            "cm-0-pos": "2", "cm-0-kind": "phone", "cm-0-value": "79161112233", "cm-0-active": "1", "cm-0-id": first,
            "cm-0-ring_time": "30",
            "cm-n1-pos": "1", "cm-n1-kind": "sip_uri", "cm-n1-value": "anna@example.com", "cm-n1-active": "0",
            "cm-n1-ring_time": "", "cm-new-kind": "phone", "cm-new-value": ""})
        assert r.status_code == 302, r.text[:3000]
        emp = await Employees(st.db, Scope.pbx(101)).find_one({"_id": emp["_id"]})
        assert [m.get("value") for m in emp["contact_methods"]] == ["anna@example.com", "79161112233"]
        assert emp["contact_methods"][1]["ring_time"] == 30 and emp["contact_methods"][0]["active"] is False
        assert emp["reception_mode"] == "sequential" and emp["directions"] == ["local", "mobile"]
        # a bad row: the error sits in that row, in the row's position
        r = await c.post_form(f"/telephony/employees/{emp['_id']}", {
            "name": "Anna Card", "extension": "31", "cm-0-kind": "phone", "cm-0-value": "79161112233",
            "cm-1-kind": "phone", "cm-1-value": "+7 916", "cm-1-active": "1"})
        assert r.status_code == 422
        assert 'name="cm-1-value" value="+7 916"' in r.text
        assert 'aria-describedby="err-contact-methods-1--value"' in r.text


async def test_wizard_creates_employee_sip_account_and_queues_the_welcome_mail(st, monkeypatch):
    sent = []

    async def fake_send(to, subject, text=None, **kw):
        sent.append((to, subject, text, kw.get("idempotency_key")))
        return "job-1"

    import jobs.mail
    monkeypatch.setattr(jobs.mail, "send_mail_async", fake_send)
    async with st.client("101/admin") as c:
        page = (await c.get("/telephony/employees/new")).text
        assert re.search(r'id="extension" name="extension" value="\d+"', page)  # the next free extension
        form = {"name": "Boris Wizard", "email": "boris@example.com", "department": "Sales", "position": "Manager",
                "extension": "41", "method": "sip", "phone": "", "outgoing_number": "", "sip": "on",
                "sip_login": "boris41", "sip_domain_id": "", "sip_password": "", "welcome": "on"}
        r = await c.post_form("/telephony/employees/new", form)
        assert r.status_code == 201, r.text[:3000]
        password = re.search(r'id="secret-value" class="mono" readonly value="([^"]+)"', r.text).group(1)
        assert len(password) >= 8 and 'id="mail-sent"' in r.text
        emp = await Employees(st.db, Scope.pbx(101)).find_one({"name": "Boris Wizard"})
        acc = await SipAccounts(st.db, Scope.pbx(101)).find_one({"login": "boris41"})
        assert acc["employee_id"] == emp["_id"] and emp["contact_methods"][0]["account_id"] == acc["_id"]
        assert password not in (await c.get(f"/telephony/sip/accounts/{acc['_id']}")).text  # shown once
        assert sent and sent[0][0] == "boris@example.com" and "Extension: 41" in sent[0][2]
        assert sent[0][3] == f"employee-created:{emp['_id']}"  # the same letter as the API wizard's
        # the same name again: a soft duplicate message with a link to the card
        r = await c.post_form("/telephony/employees/new", {**form, "extension": "42", "sip_login": "boris42"})
        assert r.status_code == 409 and f'href="/telephony/employees/{emp["_id"]}"' in r.text
        assert await Employees(st.db, Scope.pbx(101)).count({"name": "Boris Wizard"}) == 1
        # the SIP login is taken: nothing is saved, not even the employee
        r = await c.post_form("/telephony/employees/new", {**form, "name": "Clara Wizard", "extension": "43"})
        assert r.status_code == 422
        assert field_error(r.text, "sip_login") == "SIP login boris41@vpbx101.pult.test is already taken"
        assert await Employees(st.db, Scope.pbx(101)).find_one({"name": "Clara Wizard"}) is None
        # the stored password is shown to an administrator on request
        r = await c.post_form(f"/telephony/sip/accounts/{acc['_id']}/password", {})
        assert r.status_code == 200 and f'value="{password}"' in r.text


async def test_group_form_members_queue_and_features(st):
    async with st.client("101/admin") as c:
        r = await c.post_form("/telephony/employees/new", {"name": "Gleb Member", "extension": "51", "method": "phone",
                                                           "phone": "79160000051"})
        assert r.status_code == 201
        emp = await Employees(st.db, Scope.pbx(101)).find_one({"name": "Gleb Member"})
        page = (await c.get(f"/telephony/groups/new?member={emp['_id']}")).text
        assert f'<option value="{emp["_id"]}" selected>' in page
        form = {"name": "Sales team", "extension": "250", "strategy": "priority", "attempts": "2", "attempt_pause": "5",
                "ring_time": "25", "caller_id": "line", "features.transfer": "on", "features.fax": "on",
                "dtmf.transfer": "##", "dtmf.toggle": "*", "dtmf.return": "#", "dtmf.fax": "0", "dtmf.record": "#5",
                "queue.mode": "special", "queue.enabled": "on", "queue.max_wait": "120", "queue.max_length": "3",
                "exclusion_mode": "own", "exclusion": "30", "sticky_agent": "on", "record": "on",
                "m-0-kind": "employee", "m-0-employee_id": emp["_id"], "m-0-method": "card", "m-0-priority": "1",
                "m-0-pos": "2",
                "m-1-kind": "external", "m-1-value": "79169999999", "m-1-lines": "3", "m-1-priority": "2", "m-1-pos": "1"}
        r = await c.post_form("/telephony/groups/new", {**form, "dtmf.fax": "##"})
        assert r.status_code == 422 and field_error(r.text, "dtmf.fax") == "DTMF code '##' is assigned to two features"
        gid = location_id(await c.post_form("/telephony/groups/new", form))
        g = await st.db["ring_groups"].find_one({"_id": gid})
        assert [m["kind"] for m in g["members"]] == ["external", "employee"] and g["members"][0]["lines"] == 3
        assert g["strategy"] == "priority" and g["queue"]["mode"] == "special" and g["queue"]["max_wait"] == 120
        assert g["features"] == {"transfer": True, "conference": False, "fax": True} and g["exclusion"] == 30
        assert g["caller_id"] == "line" and g["sticky_agent"] and g["record"] and not g["auto_callback"]
        text = (await c.get("/telephony/groups")).text
        assert "Sales team" in text and "Gleb Member" in text
        # the employee is a member: deleting the employee is refused with a link to the group
        r = await c.post_form(f"/telephony/employees/{emp['_id']}/delete", {})
        assert r.status_code == 409 and f'href="/telephony/groups/{gid}"' in r.text


async def test_trunk_masks_and_the_route_tester(st):
    async with st.client("101/admin") as c:
        r = await c.post_form("/telephony/trunks/new", {
            "name": "Office PBX", "host": "203.0.113.7", "port": "5060", "lines": "10", "dtmf_mode": "rfc2833",
            "codecs": ["PCMA", "G729"], "options_ping": "on", "prefix": "88",
            "tn-0-number": "74957770001", "tn-0-receive": "on", "tn-0-call": "on", "tn-0-comment": "main"})
        tid = location_id(r)
        t = await st.db["trunks"].find_one({"_id": tid})
        assert t["codecs"] == ["PCMA", "G729"] and t["prefix"] == "88" and t["numbers"][0]["call"] is True
        assert not t["dtmf_commands"]
        r = await c.post_form("/telephony/trunks/new", {"name": "Bad", "host": "example.org", "lines": "3", "codecs": "PCMA"})
        assert r.status_code == 422 and field_error(r.text, "host") == "Trunk address 'example.org' must be an IPv4 address"
        rows = {"mk-0-mask": r"8(\d{10})", "mk-0-transformation": "7$1", "mk-0-trunk_id": tid, "mk-0-active": "on"}
        r = await c.post_form("/telephony/trunks/routing", {**rows, "action": "test", "test_number": "84951234567"})
        assert r.status_code == 200 and 'id="unsaved"' in r.text
        decision = re.search(r'<div class="decision ok" id="decision".*?</div>', r.text, re.S).group(0)
        assert "Into trunk «Office PBX» as 74951234567" in decision and "Routing rule no. 1 matched." in decision
        r = await c.post_form("/telephony/trunks/routing", {**rows, "action": "test", "test_number": "88123456"})
        assert "Into trunk «Office PBX» as 123456" in r.text  # the prefix wins and is cut off
        r = await c.post_form("/telephony/trunks/routing", {"mk-0-mask": "8(", "mk-0-transformation": "7$1",
                                                             "mk-0-trunk_id": tid, "action": "save"})
        assert r.status_code == 422 and "Mask: empty alternative at &#x27;(&#x27; (position 2)" in r.text
        r = await c.post_form("/telephony/trunks/routing", {**rows, "action": "save"})
        assert r.status_code == 302
        assert (await st.db["tel_settings"].find_one({"_id": 101}))["trunk_masks"][0]["mask"] == r"8(\d{10})"
        # the mask routes to the trunk: deleting the trunk is refused and says where
        r = await c.post_form(f"/telephony/trunks/{tid}/delete", {})
        assert r.status_code == 409 and 'href="/telephony/trunks/routing"' in r.text


async def test_sip_domains_accounts_and_numbers(st):
    async with st.client("101/admin") as c:
        r = await c.post_form("/telephony/sip/domains", {"name": "branch"})
        assert r.status_code == 302
        dom = await st.db["sip_domains"].find_one({"pbx_id": 101, "name": "branch.pult.test"})
        r = await c.post_form("/telephony/sip/accounts/new", {"login": "desk1", "domain_id": dom["_id"],
                                                               "password": "weak"})
        assert r.status_code == 422 and field_error(r.text, "password").startswith("SIP password must have")
        r = await c.post_form("/telephony/sip/accounts/new", {"login": "desk1", "domain_id": dom["_id"], "password": ""})
        assert r.status_code == 201 and "desk1@branch.pult.test" in r.text and 'id="secret-value"' in r.text
        default = await st.db["sip_domains"].find_one({"pbx_id": 101, "default": True})
        assert 'href="/telephony/sip/domains/%s/delete"' % default["_id"] not in (await c.get("/telephony/sip/domains")).text
        r = await c.post_form(f"/telephony/sip/domains/{default['_id']}/delete", {"confirm": "1"})
        assert r.status_code == 409 and "cannot be deleted" in r.text
        confirm = await c.get(f"/telephony/sip/domains/{dom['_id']}/delete")
        assert "Its SIP accounts are deleted too (1): desk1@branch.pult.test" in confirm.text
        assert (await c.post_form(f"/telephony/sip/domains/{dom['_id']}/delete", {"confirm": "1"})).status_code == 302
        assert await SipAccounts(st.db, Scope.pbx(101)).find_one({"login": "desk1"}) is None
        # numbers: a platform DID from the pool, a passive SIP number, moving one to PBX 202
        await DidPool(st.db, Scope.platform()).insert_one({"_id": "74950001234", "status": "free"})
        page = (await c.get("/telephony/numbers")).text
        assert '<option value="74950001234"' in page
        assert (await c.post_form("/telephony/numbers/add", {"kind": "platform", "number": "74950001234",
                                                               "comment": "Main line"})).status_code == 302
        r = await c.post_form("/telephony/numbers/add", {"kind": "passive_sip", "number": "8 495 111"})
        assert r.status_code == 422 and "without spaces" in field_error(r.text, "number")
        assert (await c.post_form("/telephony/numbers/add", {"kind": "passive_sip", "number": "74951110000"})).status_code == 302
        r = await c.post_form("/telephony/numbers/add", {"kind": "active_sip", "number": "74952220000",
                                                         "gateway.host": "sip.example.net", "gateway.login": "u1",
                                                         "gateway.password": "pw"})
        assert r.status_code == 302
        page = (await c.get("/telephony/numbers")).text
        assert "Main line" in page and "Checking…" in page and 'data-status-url="/telephony/numbers/status"' in page
        status = (await c.get("/telephony/numbers/status")).json()
        assert list(status.values()) == [{"text": "Checking…", "css": "pill-warn"}]
        nid = (await st.db["numbers"].find_one({"number": "74951110000"}))["_id"]
        r = await c.post_form("/telephony/numbers/transfer", {"ids": nid, "target_pbx_id": "202"})
        assert r.status_code == 302
        assert (await st.db["numbers"].find_one({"_id": nid}))["pbx_id"] == 202
        assert (await c.get(f"/telephony/numbers/{nid}")).status_code == 404  # now another PBX's


async def test_lists_client_rules_and_settings(st):
    async with st.client("101/admin") as c:
        assert (await c.post_form("/telephony/lists/mode", {"mode": "black"})).status_code == 302
        r = await c.post_form("/telephony/lists", {"list": "black", "value": "7916-123", "exact": "on"})
        assert r.status_code == 422 and field_error(r.text, "value")
        assert (await c.post_form("/telephony/lists", {"list": "black", "value": "79161230000",
                                                        "exact": "on", "comment": "spam"})).status_code == 302
        page = (await c.get("/telephony/lists")).text
        assert "79161230000" in page and "Black list · working" in page
        ids = []
        for value in ("79160000001", "79160000002"):
            r = await c.post_form("/telephony/client-rules/new", {"value": value, "exact": "on", "target_kind": "external",
                                                                  "target_external": "79160009999", "active": "on"})
            assert r.status_code == 302
            ids.append((await st.db["client_rules"].find_one({"value": value}))["_id"])
        r = await c.post_form("/telephony/client-rules", {"cr-0-id": ids[0], "cr-0-pos": "2", "cr-1-id": ids[1], "cr-1-pos": "1"})
        assert r.status_code == 302
        assert [r["id"] for r in await ClientRuleService(st.db, 101).list()] == [ids[1], ids[0]]
        r = await c.post_form("/telephony/client-rules/new", {"value": "7916", "target_kind": "group", "target_group": ""})
        assert r.status_code == 422 and field_error(r.text, "target_group")
        # settings: saved, and the security directions
        r = await c.post_form("/telephony/security", {"directions_mode": "own", "allowed_directions": ["local", "mobile"],
                                                      "transfer_external": "on"})
        assert r.status_code == 302
        sec = (await st.db["tel_settings"].find_one({"_id": 101}))["security"]
        assert sec["allowed_directions"] == ["local", "mobile"] and sec["transfer_external"] and not sec["blf_pickup"]


async def test_rights_employee_gets_403_and_no_menu_viewer_reads_only(st):
    async with st.client("101/emp") as c:
        for path in LIST_PAGES:
            r = await c.get(path)
            assert r.status_code == 403, f"{path}: {r.status_code}"
        menu = (await c.get("/")).text
        assert "/telephony/" not in menu
        r = await c.post_form("/telephony/conferences/new", {"name": "Sneaky"})
        assert r.status_code == 403
    async with st.client("101/viewer") as c:
        r = await c.get("/telephony/conferences")
        assert r.status_code == 200 and 'id="new-room"' not in r.text
        page = (await c.get("/telephony/settings")).text
        assert "<fieldset disabled>" in page and 'id="save"' not in page
        assert (await c.post_form("/telephony/conferences/new", {"name": "Sneaky"})).status_code == 403
        assert (await c.get("/telephony/conferences/new")).status_code == 403
        assert await st.db["conference_rooms"].find_one({"name": "Sneaky"}) is None
    async with st.client("202/admin") as other:  # another PBX's ids are simply not there
        room = await st.db["conference_rooms"].find_one({"pbx_id": 101})
        if room is None:
            async with st.client("101/admin") as c:
                await c.post_form("/telephony/conferences/new", {"name": "Board room", "seats": "6"})
            room = await st.db["conference_rooms"].find_one({"pbx_id": 101})
        assert (await other.get(f"/telephony/conferences/{room['_id']}")).status_code == 404
        assert "Board room" not in (await other.get("/telephony/conferences")).text


async def test_the_wizard_page_and_the_wizard_api_do_the_same(st, monkeypatch):
    """One use case behind both: the same input gives the same employee, SIP account (default login
    ext<extension> on the PBX's own domain, the account first among the contact methods), the same
    letter, the same refusals field by field, and the same soft check of a name already in use."""
    sent = []

    async def fake_send(to, subject, text=None, **kw):
        sent.append((to, subject, text, kw.get("idempotency_key")))
        return f"job-{len(sent)}"

    import jobs.mail
    monkeypatch.setattr(jobs.mail, "send_mail_async", fake_send)
    employees, accounts = Employees(st.db, Scope.pbx(101)), SipAccounts(st.db, Scope.pbx(101))
    async with st.client("101/admin") as c:
        page = await c.post_form("/telephony/employees/new", {
            "name": "Twin Page", "email": "twin.page@example.com", "extension": "771", "method": "sip", "sip": "on",
            "sip_login": "", "sip_domain_id": "", "sip_password": "", "phone": "", "outgoing_number": "",
            "welcome": "on"})
        assert page.status_code == 201, page.text[:2000]
        api = await c.api("POST", "/api/v1/telephony/employees/wizard", json={
            "name": "Twin Api", "email": "twin.api@example.com", "extension": "772", "reception": "sip"})
        assert api.status_code == 201, api.text
        made = {}
        for name, ext in (("Twin Page", "771"), ("Twin Api", "772")):
            emp = await employees.find_one({"name": name})
            acc = await accounts.find_one({"employee_id": emp["_id"]})
            assert acc["login"] == f"ext{ext}" and acc["domain"] == "vpbx101.pult.test"
            assert [m["kind"] for m in emp["contact_methods"]] == ["sip_account"]
            assert emp["contact_methods"][0]["account_id"] == acc["_id"]
            made[name] = emp
        assert [s[3] for s in sent] == [f"employee-created:{made['Twin Page']['_id']}",
                                        f"employee-created:{made['Twin Api']['_id']}"]
        assert [s[2].replace("Page", "X").replace("771", "7") for s in sent][0] == \
            sent[1][2].replace("Api", "X").replace("772", "7")  # the same letter
        # the same wrong input: the same fields refused with the same messages, nothing written
        count = await employees.count({})
        page = await c.post_form("/telephony/employees/new", {
            "name": "", "email": "nobody", "extension": "12a", "method": "phone", "phone": "", "outgoing_number": ""})
        api = await c.api("POST", "/api/v1/telephony/employees/wizard", json={
            "name": "", "email": "nobody", "extension": "12a", "reception": "phone", "phone": ""})
        assert page.status_code == api.status_code == 422
        fields = api.json()["error"]["fields"]
        assert set(fields) == {"name", "email", "extension", "phone"}
        assert {f: field_error(page.text, f) for f in fields} == fields
        # a taken SIP login, refused by both before the employee is written
        page = await c.post_form("/telephony/employees/new", {
            "name": "Twin Clash", "extension": "773", "method": "sip", "sip": "on", "sip_login": "ext771"})
        api = await c.api("POST", "/api/v1/telephony/employees/wizard", json={
            "name": "Twin Clash", "extension": "773", "sip_login": "ext771"})
        assert field_error(page.text, "sip_login") == api.json()["error"]["fields"]["sip_login"] \
            == "SIP login ext771@vpbx101.pult.test is already taken"
        assert await employees.count({}) == count
        # a name already in use: both ask for a confirmation, then create
        page = await c.post_form("/telephony/employees/new", {"name": "Twin Api", "extension": "774", "method": "phone",
                                                               "phone": "79160000774"})
        api = await c.api("POST", "/api/v1/telephony/employees/wizard", json={
            "name": "Twin Page", "extension": "775", "reception": "phone", "phone": "79160000775"})
        assert page.status_code == api.status_code == 409
        assert f'href="/telephony/employees/{made["Twin Api"]["_id"]}"' in page.text
        assert api.json()["error"]["existing"] == {"id": made["Twin Page"]["_id"], "name": "Twin Page"}
        assert await employees.count({}) == count
        page = await c.post_form("/telephony/employees/new", {"name": "Twin Api", "extension": "774", "method": "phone",
                                                               "phone": "79160000774", "duplicate_ok": "on"})
        api = await c.api("POST", "/api/v1/telephony/employees/wizard", json={
            "name": "Twin Page", "extension": "775", "reception": "phone", "phone": "79160000775",
            "same_name_ok": True})
        assert (page.status_code, api.status_code) == (201, 201)
        assert await employees.count({}) == count + 2


async def test_the_seeded_default_group_is_named_in_the_users_language(st):
    """Seed 000's group «По умолчанию» is "Default" in the English cabinet (list, form, delete page,
    scheme editor's picker) and «По умолчанию» in the Russian one; saving its form in English keeps
    the stored name; a tenant who renames it sees the name as typed in both languages."""
    groups = st.db["ring_groups"]
    g = await groups.find_one({"pbx_id": 101, "default": True})
    assert g["name"] == "По умолчанию"
    gid = g["_id"]
    async with st.client("101/admin", "en") as en, st.client("101/adminru", "ru") as ru:
        listed = html_lib.unescape((await en.get("/telephony/groups")).text)
        assert f'<a href="/telephony/groups/{gid}">Default</a>' in listed and "По умолчанию" not in listed
        assert f'<a href="/telephony/groups/{gid}">По умолчанию</a>' in html_lib.unescape(
            (await ru.get("/telephony/groups")).text)
        form = html_lib.unescape((await en.get(f"/telephony/groups/{gid}")).text)
        assert "Group: Default" in form and 'value="Default"' in form and "По умолчанию" not in form
        assert "«Default»" in html_lib.unescape((await en.get(f"/telephony/groups/{gid}/delete")).text)
        assert "«По умолчанию»" in html_lib.unescape((await ru.get(f"/telephony/groups/{gid}/delete")).text)
        # saving the form as shown in English renames nothing
        r = await en.post_form(f"/telephony/groups/{gid}", {"name": "Default", "extension": g["extension"],
                                                             "strategy": g["strategy"], "caller_id": "caller",
                                                             "queue.mode": "pbx", "queue.enabled": "on",
                                                             "exclusion_mode": "pbx",
                                                             **{f"dtmf.{k}": v for k, v in g["dtmf"].items()}})
        assert r.status_code == 302, r.text[:2000]
        assert (await groups.find_one({"_id": gid}))["name"] == "По умолчанию"
        # renamed by the tenant: their name in both languages
        await groups.update_one({"_id": gid}, {"$set": {"name": "Reception", "name_norm": "reception"}})
        try:
            assert f'<a href="/telephony/groups/{gid}">Reception</a>' in (await ru.get("/telephony/groups")).text
            assert f'<a href="/telephony/groups/{gid}">Reception</a>' in (await en.get("/telephony/groups")).text
        finally:
            await groups.update_one({"_id": gid}, {"$set": {"name": "По умолчанию", "name_norm": "по умолчанию"}})


async def test_a_room_without_a_name_is_named_in_the_users_language(st):
    """A room created without a name is stored as «Комната конференции N» and shown as
    "Conference room N" in the English cabinet (list, form, delete page), in Russian as stored;
    saving the form as shown keeps the stored name, a name the tenant typed is shown as typed."""
    rooms = st.db["conference_rooms"]
    async with st.client("101/admin", "en") as en, st.client("101/adminru", "ru") as ru:
        before = {d["_id"] for d in await rooms.find({"pbx_id": 101}).to_list(None)}
        r = await en.post_form("/telephony/conferences/new", {"name": "", "seats": "5", "join": "all", "pin_for": "all"})
        assert r.status_code == 302, r.text[:2000]
        [rid] = {d["_id"] for d in await rooms.find({"pbx_id": 101}).to_list(None)} - before
        try:
            doc = await rooms.find_one({"_id": rid})
            n = doc["name"].removeprefix("Комната конференции ")
            assert doc["name"] == f"Комната конференции {n}" and n.isdigit()
            listed = html_lib.unescape((await en.get("/telephony/conferences")).text)
            assert f"Conference room {n}" in listed and "Комната конференции" not in listed
            assert f"Комната конференции {n}" in html_lib.unescape((await ru.get("/telephony/conferences")).text)
            form = html_lib.unescape((await en.get(f"/telephony/conferences/{rid}")).text)
            assert f'value="Conference room {n}"' in form and "Комната конференции" not in form
            assert f"«Conference room {n}»" in html_lib.unescape((await en.get(f"/telephony/conferences/{rid}/delete")).text)
            r = await en.post_form(f"/telephony/conferences/{rid}", {"name": f"Conference room {n}",
                                                                     "extension": doc["extension"], "seats": "6",
                                                                     "join": "all", "pin_for": "all"})
            assert r.status_code == 302, r.text[:2000]
            doc = await rooms.find_one({"_id": rid})
            assert doc["name"] == f"Комната конференции {n}" and doc["seats"] == 6
            r = await en.post_form(f"/telephony/conferences/{rid}", {"name": "Board room", "extension": doc["extension"],
                                                                     "seats": "6", "join": "all", "pin_for": "all"})
            assert r.status_code == 302 and (await rooms.find_one({"_id": rid}))["name"] == "Board room"
            assert "Board room" in (await ru.get("/telephony/conferences")).text
        finally:
            await en.post_form(f"/telephony/conferences/{rid}/delete", {})


async def test_the_action_log_names_the_seeded_default_group_in_the_users_language(st):
    """The system's creation of seed 000's group: "Default" in the English log (object and
    changes, page and API), «По умолчанию» in the Russian one; the API's before/after stay as stored."""
    flt = {"actor": "system", "operation": "create", "q": "По умолчанию"}
    async with st.client("101/admin", "en") as en, st.client("101/adminru", "ru") as ru:
        [item] = [i for i in (await en.get("/api/v1/action-log", params=flt)).json()["items"]
                  if i["object"]["type"] == "group"]
        assert item["object"]["name"] == "Default"
        assert item["changes"].startswith("Name: Default; Extension: 6; Ring strategy: Simultaneous to all;")
        assert "Caller ID: The caller's number;" in item["changes"]
        assert item["after"]["name"] == "По умолчанию"  # the data as logged
        [item_ru] = [i for i in (await ru.get("/api/v1/action-log", params=flt)).json()["items"]
                     if i["object"]["type"] == "group"]
        assert item_ru["object"]["name"] == "По умолчанию" and "По умолчанию" in item_ru["changes"]
        assert "simultaneous" not in item_ru["changes"] and "caller;" not in item_ru["changes"]
        page = html_lib.unescape((await en.get("/access/log", params=flt)).text)
        assert "Name: Default; Extension: 6;" in page and "По умолчанию" not in page.replace('value="По умолчанию"', "")


async def test_a_refused_delete_names_the_seeded_default_group_in_the_users_language(st):
    """An employee in seed 000's group cannot be deleted: the page and the API name the group
    "Default" in English and «По умолчанию» in Russian."""
    groups = st.db["ring_groups"]
    g = await groups.find_one({"pbx_id": 101, "default": True})
    async with st.client("101/admin", "en") as en, st.client("101/adminru", "ru") as ru:
        r = await en.post_form("/telephony/employees/new", {"name": "Dina Default", "extension": "57",
                                                            "method": "phone", "phone": "79160000057"})
        assert r.status_code == 201
        emp = await Employees(st.db, Scope.pbx(101)).find_one({"name": "Dina Default"})
        await groups.update_one({"_id": g["_id"]}, {"$set": {"members": [
            {"id": "m-dina", "kind": "employee", "employee_id": emp["_id"], "method": "card", "priority": 1,
             "operator": True, "supervisor": False}]}})
        try:
            r = await en.post_form(f"/telephony/employees/{emp['_id']}/delete", {})
            assert r.status_code == 409 and f'<a href="/telephony/groups/{g["_id"]}">Default</a>' in r.text
            r = await ru.post_form(f"/telephony/employees/{emp['_id']}/delete", {})
            assert r.status_code == 409 and f'<a href="/telephony/groups/{g["_id"]}">По умолчанию</a>' in r.text
            r = await en.api("DELETE", f"/api/v1/telephony/employees/{emp['_id']}")
            assert r.status_code == 409 and "'Default'" in r.json()["error"]["message"], r.text
            r = await ru.api("DELETE", f"/api/v1/telephony/employees/{emp['_id']}")
            assert r.status_code == 409 and "«По умолчанию»" in r.json()["error"]["message"], r.text
        finally:
            await groups.update_one({"_id": g["_id"]}, {"$set": {"members": g["members"]}})
            await en.post_form(f"/telephony/employees/{emp['_id']}/delete", {})
