"""LDAP sync over the REST API and the cabinet page, run by a real Celery worker against a real
slapd; the incidents e-mail reaches a real SMTP server (issue 13)."""
from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

import pytest
import pytest_asyncio

from jobs import client as jobs_client
from tests.integration.tel_api_harness import tel_stack
from tests.slapd import PEOPLE, ROOT_DN, ROOT_PW, Slapd

pytestmark = pytest.mark.asyncio(loop_scope="module")
L = "/api/v1/integrations/ldap"
PEOPLE_COUNT = 120


@asynccontextmanager
async def stack_with_worker(sink):
    from jobs.testing import TEST_REDIS_URL, cleanup, configure_for_tests, running_worker

    async with tel_stack(redis_url=TEST_REDIS_URL, smtp_port=sink.port, mail_from="Pult <noreply@pult.example>",
                         log_level="WARNING") as stack:
        prefix = configure_for_tests(stack.ctx.settings)
        with running_worker(stack.ctx.settings, store=stack.store, loop=asyncio.get_running_loop(),
                            queues="ldap,mail", concurrency=2, beat=False):
            yield stack
        cleanup(prefix)


@pytest.fixture(scope="module")
def directory(tmp_path_factory):
    with Slapd(tmp_path_factory.mktemp("ldap")) as server:
        server.add_people([{"uid": f"p{i:03d}", "cn": f"Сотрудник Тестовый {i}", "mail": f"p{i:03d}@example.org",
                            "telephoneNumber": str(3000 + i), "title": "Инженер", "userPassword": f"dir-pw-{i}"}
                           for i in range(PEOPLE_COUNT)])
        yield server


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def st(sink, directory):
    async with stack_with_worker(sink) as stack:
        yield stack


async def finished_runs(client, count: int) -> list[dict]:
    """The runs once ``count`` of them exist and none is running (the worker finishes the job)."""
    for _ in range(600):
        runs = (await client.get(f"{L}/runs")).json()["items"]
        if len(runs) >= count and all(r["status"] != "running" for r in runs):
            return runs
        await asyncio.sleep(0.1)
    raise AssertionError(f"the queued sync did not finish: {runs}")


def body(server: Slapd, **over) -> dict:
    return {"host": "127.0.0.1", "port": server.port, "bind_dn": ROOT_DN, "password": ROOT_PW, "base_dn": PEOPLE,
            "policy": {"create": True, "update": True, "deactivate": True}, "notify_email": "it@example.com",
            "schedule": {"mode": "interval", "hours": 8}, **over}


async def test_settings_sync_incidents_and_their_email(st, directory, sink):
    sink.reset()
    # extension 3005 is a group's: that person cannot be created, an incident is recorded and mailed
    async with st.client("101/admin") as c, st.client("101/adminru", lang="ru") as ru:
        assert (await c.api("POST", "/api/v1/telephony/groups", json={"name": "Дежурные", "extension": "3005"})
                ).status_code == 201
        assert (await c.get(L)).json()["configured"] is False
        r = await c.api("POST", f"{L}/sync")
        assert r.status_code == 409 and r.json()["error"]["code"] == "ldap_not_configured"
        r = await c.api("PUT", L, json=body(directory, schedule={"mode": "interval", "hours": 5}))
        assert r.status_code == 422 and list(r.json()["error"]["fields"]) == ["schedule.hours"]
        r = await ru.api("PUT", L, json=body(directory, base_dn="people"))
        assert r.json()["error"]["fields"] == {
            "base_dn": "«people» — не DN (ожидается, например, dc=example,dc=org)"}
        assert (await c.get(L)).json()["configured"] is False  # bad input changed nothing
        r = await c.api("PUT", L, json=body(directory))
        assert r.status_code == 200, r.text
        shown = r.json()
        assert shown["has_password"] is True and "password" not in shown and ROOT_PW not in r.text
        assert shown["schedule"] == {"mode": "interval", "hours": 8, "time": None} and shown["next_run_at"]
        r = await c.api("POST", f"{L}/sync")
        assert r.status_code == 202, r.text
        result = await jobs_client.result(r.json()["job_id"], timeout=120)
        assert result["status"] == "ok" and result["incidents"] == 1
        assert result["counters"]["created"] == PEOPLE_COUNT - 1 and result["counters"]["failed"] == 1
        emps = (await c.get("/api/v1/telephony/employees", params={"q": "Сотрудник Тестовый 42"})).json()
        assert emps["total"] == 1 and emps["items"][0]["extension"] == "3042"
        runs = (await c.get(f"{L}/runs")).json()["items"]
        assert runs[0]["status"] == "ok" and runs[0]["trigger"] == "manual"
        [incident] = (await c.get(f"{L}/incidents")).json()["items"]
        assert incident["code"] == "ldap.create_failed" and incident["dn"] == Slapd.dn("p005")
        assert incident["message"].startswith(f"Employee for {Slapd.dn('p005')} was not created: Extension 3005")
        one = (await ru.get(f"{L}/incidents/{incident['id']}")).json()
        assert one["message"].startswith(f"Сотрудник для {Slapd.dn('p005')} не создан")
        assert (await c.get(f"{L}/incidents/0123456789abcdef01234567")).status_code == 404
    [mail] = await asyncio.to_thread(sink.wait_for, 1, 30)
    assert "it@example.com" in mail.rcpt_tos
    text = mail.message.get_body(("plain",)).get_content()
    assert "Сотрудник для uid=p005" in text and "Employee for uid=p005" in text


async def test_rights_employee_cannot_see_or_run(st):
    async with st.client("101/emp") as emp, st.client("101/viewer") as viewer:
        assert (await emp.get(L)).status_code == 403
        assert (await emp.api("POST", f"{L}/sync")).status_code == 403
        assert (await viewer.get(f"{L}/incidents")).status_code == 403  # telephony viewer: no integrations


async def test_cabinet_page_in_russian_saves_and_runs(st, directory):
    async with st.client("101/adminru", lang="ru") as ru:
        page = await ru.get("/integrations/ldap")
        assert page.status_code == 200 and "Каталог LDAP" in page.text and "Инциденты синхронизации" in page.text
        token = await ru.ensure_xsrf()
        form = {"_xsrf": token, "enabled": "on", "host": "127.0.0.1", "port": str(directory.port), "security": "none",
                "bind_dn": ROOT_DN, "base_dn": PEOPLE, "filter": "(objectClass=inetOrgPerson)",
                **{f"mapping.{k}": v for k, v in {"uid": "entryUUID", "name": "cn", "extension": "telephoneNumber",
                                                   "email": "mail", "mobile": "mobile", "position": "title",
                                                   "department": "ou", "login": "uid"}.items()},
                "policy.update": "on", "schedule.mode": "daily", "schedule.time": "7:00"}
        r = await ru.request("POST", "/integrations/ldap", data=form)
        assert r.status_code == 422 and "Время ежедневной синхронизации: ЧЧ:ММ" in r.text
        r = await ru.request("POST", "/integrations/ldap", data={**form, "schedule.time": "07:00", "password": ROOT_PW})
        assert r.status_code in (200, 302, 303), r.text[:300]
        assert (await ru.get(L)).json()["has_password"] is True
        r = await ru.request("POST", "/integrations/ldap", data={**form, "schedule.time": "07:00"})
        assert r.status_code in (200, 302, 303), r.text[:300]
        shown = (await ru.get(L)).json()
        assert shown["schedule"] == {"mode": "daily", "hours": None, "time": "07:00"}
        assert shown["policy"] == {"create": False, "update": True, "deactivate": False}
        assert shown["has_password"] is True  # the form left the password empty: it was kept
        for action in ("sync", "check", "example", "links"):  # actions of the page's forms: POST only
            assert (await ru.get(f"/integrations/ldap/{action}")).status_code == 405
        r = await ru.request("POST", "/integrations/ldap/sync", data={"_xsrf": token})
        assert r.status_code in (200, 302, 303) and "sync=queued" in r.headers.get("location", "")
        runs = await finished_runs(ru, 2)
        assert runs[0]["status"] == "ok" and runs[0]["counters"]["unchanged"] == PEOPLE_COUNT - 1
        page = await ru.get("/integrations/ldap")
        assert "Последние синхронизации" in page.text and "выполнена" in page.text
        # the employee list marks the cards the directory manages
        listing = await ru.get("/telephony/employees")
        assert listing.text.count('class="pill ldap-mark"') >= 1 and "Управление по LDAP" in listing.text


async def test_sign_in_with_the_directory_password(st, directory):
    """``<pbx>/<directory login>`` + the directory password signs in the cabinet user linked to
    the LDAP-managed employee, only while the PBX allows it."""
    from storage.repos.users import create_tenant_user, link_employee

    from web.testing import WebClient

    emp = await st.db["employees"].find_one({"pbx_id": 101, "ldap.dn": Slapd.dn("p010")})
    user = await create_tenant_user(st.store, 101, "worker10", "Cabinet-pass-10", "w10@example.com", language="en",
                                    role="employee")
    await link_employee(st.store, user["_id"], emp["_id"])
    async with st.client("101/admin") as c:
        current = (await c.get(L)).json()
        keep = {k: current[k] for k in ("host", "port", "bind_dn", "base_dn", "filter", "mapping", "policy",
                                          "schedule")}
        assert (await c.api("PUT", L, json={**keep, "login": {"enabled": False}})).status_code == 200
        async with WebClient(st.url) as anon:
            r = await anon.api("POST", "/api/v1/session", json={"login": "101/p010", "password": "dir-pw-10"})
            assert r.status_code == 401  # sign-in by LDAP is off
        assert (await c.api("PUT", L, json={**keep, "login": {"enabled": True}})).status_code == 200
    async with WebClient(st.url) as anon:
        r = await anon.api("POST", "/api/v1/session", json={"login": "101/p010", "password": "wrong"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_credentials"
        r = await anon.api("POST", "/api/v1/session", json={"login": "101/p011", "password": "dir-pw-11"})
        assert r.status_code == 401  # the directory says yes, but p011's employee has no cabinet user
        r = await anon.api("POST", "/api/v1/session", json={"login": "101/p010", "password": "dir-pw-10"})
        assert r.status_code == 200, r.text
        me = (await anon.get("/api/v1/me")).json()
        assert me["login"] == "worker10" and me["pbx_id"] == 101
    async with WebClient(st.url) as anon:  # the cabinet password still works as before
        assert (await anon.api("POST", "/api/v1/session", json={"login": "101/worker10",
                                                                "password": "Cabinet-pass-10"})).status_code == 200


async def test_the_beat_job_queues_the_due_syncs(st):
    """Beat runs ``jobs.ldap_sync.due`` every 5 min; it queues the PBXs whose schedule has come."""
    from datetime import timedelta

    from jobs import schedules
    from jobs.ldap_sync import due
    from pult import clock

    entry = schedules.entries()["ldap.due"]
    assert entry["task"] == "jobs.ldap_sync.due" and entry["schedule"] == timedelta(minutes=5)
    async with st.client("101/admin") as c:
        before = len((await c.get(f"{L}/runs")).json()["items"])
        # not due yet: nothing is queued
        assert await jobs_client.result(due.apply_async().id, timeout=60) == []
        # the schedule's time has come (as the hours passing would make it)
        await st.db["ldap_settings"].update_one({"_id": 101}, {"$set": {"next_run_at": clock.now() - timedelta(minutes=1)}})
        assert await jobs_client.result(due.apply_async().id, timeout=60) == [101]
        runs = await finished_runs(c, before + 1)
        assert runs[0]["trigger"] == "schedule" and runs[0]["status"] == "ok"
        nxt = (await c.get(L)).json()["next_run_at"]
        assert nxt and nxt > clock.now().isoformat()[:16]  # the next one is set again


async def test_check_connection_with_saved_and_unsaved_settings(st, directory):
    async with st.client("101/admin") as c, st.client("101/adminru", lang="ru") as ru:
        saved = (await c.get(L)).json()
        r = await c.api("POST", f"{L}/check")
        assert r.status_code == 200 and r.json() == {"ok": True, "code": None, "message": ""}
        r = await ru.api("POST", f"{L}/check", json=body(directory, password="wrong"))
        assert r.json()["ok"] is False and r.json()["code"] == "ldap.bind_failed"
        assert r.json()["message"].startswith("Сервер LDAP не принял DN и пароль подключения")
        r = await c.api("POST", f"{L}/check", json={k: v for k, v in body(directory).items() if k != "password"})
        assert r.json()["ok"] is True  # no password in the body: the stored one
        r = await c.api("POST", f"{L}/check", json=body(directory, port=1))
        assert r.json()["code"] == "ldap.unreachable"
        assert (await c.get(L)).json() == saved  # checking changes nothing
        token = await ru.ensure_xsrf()
        form = {"_xsrf": token, "enabled": "on", "host": "127.0.0.1", "port": str(directory.port), "security": "none",
                "bind_dn": ROOT_DN, "password": "wrong", "base_dn": PEOPLE, "mapping.uid": "entryUUID",
                "mapping.name": "cn", "policy.update": "on", "schedule.mode": "manual"}
        page = await ru.request("POST", "/integrations/ldap/check", data=form)
        assert page.status_code == 200 and "Сервер LDAP не принял DN и пароль" in page.text
        page = await ru.request("POST", "/integrations/ldap/check", data={**form, "password": ""})
        assert "Подключено: сервер принял DN и пароль." in page.text
        assert (await c.get(L)).json() == saved


async def test_matching_stop_sync_exclusions_and_example_over_the_api(st, directory):
    async with st.client("101/admin") as c, st.client("101/adminru", lang="ru") as ru:
        links = (await c.get(f"{L}/links")).json()
        assert links["stats"]["matched"] == PEOPLE_COUNT - 1 and links["stats"]["not_synced"] == 0
        assert links["stats"]["other"] == 1  # p005 (its extension is a group's) still has no card
        p020 = next(i for i in links["items"] if i["dn"] == Slapd.dn("p020"))
        r = await c.api("PATCH", f"{L}/links/{p020['employee_id']}", json={"sync": False})
        assert r.status_code == 200 and r.json()["sync"] is False
        r = await c.api("PATCH", f"{L}/links/{p020['employee_id']}", json={"sync": "no"})
        assert r.status_code == 422
        current = (await c.get(L)).json()
        keep = {k: current[k] for k in ("host", "port", "bind_dn", "base_dn", "filter", "mapping", "policy",
                                          "schedule", "login")}
        r = await ru.api("PUT", L, json={**keep, "defaults": {"outgoing_number": "79990000000"}})
        assert r.status_code == 409 and list(r.json()["error"]["fields"]) == ["defaults.outgoing_number"]
        r = await c.api("PUT", L, json={**keep, "exclusions": ["p030"], "auto_sip": False,
                                        "defaults": {"reception_mode": "sequential"}})
        assert r.status_code == 200 and r.json()["exclusions"] == ["p030"]
        directory.modify("p020", {"title": "Не применится"})
        directory.modify("p030", {"title": "Тоже не применится"})
        directory.modify("p040", {"title": "Применится"})
        r = await c.api("POST", f"{L}/sync")
        result = await jobs_client.result(r.json()["job_id"], timeout=120)
        assert result["counters"]["updated"] == 1 and result["counters"]["stopped"] == 1
        assert result["counters"]["excluded"] == 1
        stats = (await c.get(f"{L}/links")).json()["stats"]
        assert stats == {"matched": PEOPLE_COUNT - 1, "synced": PEOPLE_COUNT - 2, "not_synced": 1,
                         "unmatched": 2, "excluded": 1, "other": 1}  # other: p005 (its extension is a group's)
        # deleting a link, then matching the card by hand again
        r = await c.api("DELETE", f"{L}/links/{p020['employee_id']}")
        assert r.status_code == 200
        assert (await c.api("DELETE", f"{L}/links/{p020['employee_id']}")).status_code == 409
        r = await ru.api("POST", f"{L}/links", json={"employee_id": p020["employee_id"], "dn": Slapd.dn("nobody")})
        assert r.status_code == 409 and r.json()["error"]["fields"]["dn"].startswith("Записи каталога uid=nobody")
        r = await c.api("POST", f"{L}/links", json={"employee_id": p020["employee_id"], "dn": "people"})
        assert r.status_code == 422 and list(r.json()["error"]["fields"]) == ["dn"]
        r = await c.api("POST", f"{L}/links", json={"employee_id": p020["employee_id"], "dn": Slapd.dn("p020")})
        assert r.status_code == 201 and r.json()["sync"] is True and r.json()["uid"] == p020["uid"]
        assert (await c.api("POST", f"{L}/links", json={"employee_id": "0123456789abcdef01234567",
                                                        "dn": Slapd.dn("p021")})).status_code == 404
        # Show example
        r = await c.api("POST", f"{L}/example")
        assert r.status_code == 200 and r.json()["ok"] is True and len(r.json()["items"]) == 5
        assert r.json()["items"][0]["values"]["name"].startswith("Сотрудник Тестовый")
    async with st.client("101/emp") as emp:
        assert (await emp.get(f"{L}/links")).status_code == 403
        assert (await emp.api("POST", f"{L}/example")).status_code == 403


async def test_matching_and_example_on_the_cabinet_page_in_russian(st, directory):
    async with st.client("101/adminru", lang="ru") as ru:
        page = await ru.get("/integrations/ldap")
        assert "Сопоставлено карточек: " in page.text and "Список исключений" in page.text
        assert "Установить для импортируемых карточек" in page.text and "Показать пример" in page.text
        p021 = next(i for i in (await ru.get(f"{L}/links")).json()["items"] if i["dn"] == Slapd.dn("p021"))
        token = await ru.ensure_xsrf()
        r = await ru.request("POST", f"/integrations/ldap/links/{p021['employee_id']}",
                             data={"_xsrf": token, "action": "stop"})
        assert r.status_code in (302, 303)
        shown = next(i for i in (await ru.get(f"{L}/links")).json()["items"] if i["dn"] == Slapd.dn("p021"))
        assert shown["sync"] is False
        page = await ru.get("/integrations/ldap")
        assert "Возобновить синхронизацию" in page.text
        r = await ru.request("POST", f"/integrations/ldap/links/{p021['employee_id']}",
                             data={"_xsrf": token, "action": "unlink"})
        assert r.status_code in (302, 303)
        r = await ru.request("POST", "/integrations/ldap/links",
                             data={"_xsrf": token, "employee_id": p021["employee_id"], "dn": "people"})
        assert r.status_code == 422 and "«people» — не DN" in r.text
        r = await ru.request("POST", "/integrations/ldap/links",
                             data={"_xsrf": token, "employee_id": p021["employee_id"], "dn": Slapd.dn("p021")})
        assert r.status_code in (302, 303)
        # "Show example" saves the form and shows what the mapping reads
        form = {"_xsrf": token, "enabled": "on", "host": "127.0.0.1", "port": str(directory.port), "security": "none",
                "bind_dn": ROOT_DN, "base_dn": PEOPLE, "filter": "(objectClass=inetOrgPerson)",
                "mapping.uid": "entryUUID", "mapping.name": "cn", "mapping.email": "mail",
                "policy.update": "on", "schedule.mode": "manual", "exclusions": "p030\nuid=p031,ou=people,dc=example,dc=org",
                "defaults.reception_mode": "main", "auto_sip": "on"}
        refused = {**form, "schedule.mode": "daily", "schedule.time": "7:00"}  # refused: nothing saved, no example
        r = await ru.request("POST", "/integrations/ldap/example", data=refused)
        assert r.status_code == 422 and "Время ежедневной синхронизации: ЧЧ:ММ" in r.text
        assert 'id="example-result"' not in r.text and "p030\nuid=p031" in r.text  # the form keeps what was typed
        r = await ru.request("POST", "/integrations/ldap/example", data=form)
        assert r.status_code == 200 and 'id="example-result"' in r.text and Slapd.dn("p000") in r.text
        saved = (await ru.get(L)).json()
        assert saved["exclusions"] == ["p030", "uid=p031,ou=people,dc=example,dc=org"] and saved["auto_sip"] is True
        assert saved["defaults"] == {"outgoing_number": None, "reception_mode": "main"}
        assert saved["mapping"]["extension"] == ""  # the form left it empty: saved as shown
