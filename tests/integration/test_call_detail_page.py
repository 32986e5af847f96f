"""The call's page (/calls/{uuid}) and GET /api/v1/calls/{uuid} (issue 12): the path the call took
through the scheme, the legs it rang (who, for how long, with what result) in the order rung, the
stage timings, who hung up and the cost — in English and Russian, through the same use case.

A call of the PBX's day scheme: greeting, menu item 1 → group Sales (Ivan, Petr) in turn; Ivan's
phone rings 15 s unanswered, Petr's mobile answers after 4 s and talks 62 s, then Petr hangs up.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from esl_control.model.employees.services import EmployeeService
from esl_control.model.groups.services import GroupService
from storage.repos.calls import save_call_record
from storage.repos.users import create_operator_admin, create_tenant_user
from tests.integration.harness import acme_pbx, cheap_hashes  # noqa: F401  (cheap_hashes: autouse)
from web.testing import WebClient, web_stack

PASSWORD = "tenant-pass-1"
T0 = datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
async def stack(settings, store):
    db = store.db
    pid = await acme_pbx(db, settings)
    emp = EmployeeService(db, pid)
    ivan = await emp.create({"name": "Ivan Orlov", "extension": "11"})
    petr = await emp.create({"name": "Petr Sokolov", "extension": "12",
                             "contact_methods": [{"kind": "phone", "value": "79161110012"}]})
    sales = await GroupService(db, pid).create({"name": "Sales", "extension": "601", "members": [
        {"kind": "employee", "employee_id": ivan["id"]}, {"kind": "employee", "employee_id": petr["id"]}]})
    await create_tenant_user(store, pid, "admin", PASSWORD, language="en", role="administrator")
    await create_operator_admin(store, "root", "operator-pass-1", "root@pult.test", language="en")
    group = f"group:{sales['id']}"
    path = [
        {"step": "inbound", "number": "74951234567", "caller": "79031234567", "pbx_id": pid, "t": 0.0},
        {"step": "list", "mode": None, "t": 0.01},
        {"step": "scheme", "scheme_id": "s1", "name": "Day", "block": 0, "schedule_id": None, "t": 0.02},
        {"step": "greeting", "sound": "Welcome", "wait_end": False, "pressed": "1", "t": 3.1},
        {"step": "menu", "input": "1", "item": "1", "t": 3.2},
        {"step": "group", "target": group, "strategy": "sequential", "members": 2, "attempts": 1, "ring_time": 15,
         "t": 3.3},
        {"step": "ring", "target": group, "attempt": 1, "simultaneous": False, "result": "answered", "legs": [
            {"target": f"employee:{ivan['id']}/cm_sip", "address": "ivan@d", "timeout": 15, "result": "no_answer"},
            {"target": f"employee:{petr['id']}/cm_phone", "address": "79161110012", "timeout": 15,
             "result": "answered"}], "t": 84.0},
    ]
    # the legs as the switch reported them: Petr's (ended last) came first
    petr_leg = {"uuid": "leg-petr", "leg_of": "call-1", "callee": "79161110012", "start": at(18.5),
                "answer": at(22.5), "end": at(84.5), "duration": 66, "billsec": 62, "hangup_cause": "NORMAL_CLEARING",
                "vars": {"pult_target": f"employee:{petr['id']}/cm_phone", "sip_hangup_disposition": "recv_bye"}}
    ivan_leg = {"uuid": "leg-ivan", "leg_of": "call-1", "callee": "ivan", "start": at(3.5), "end": at(18.5),
                "duration": 15, "billsec": 0, "hangup_cause": "NO_ANSWER",
                "vars": {"pult_target": f"employee:{ivan['id']}/cm_sip"}}
    await save_call_record(db, petr_leg)
    await save_call_record(db, ivan_leg)
    await save_call_record(db, {
        "uuid": "call-1", "pbx_id": pid, "caller": "79031234567", "callee": "74951234567", "direction": "inbound",
        "start": T0, "answer": at(0.5), "end": at(84.5), "duration": 84, "billsec": 84,
        "hangup_cause": "NORMAL_CLEARING", "vars": {"sip_hangup_disposition": "send_bye"}, "path": path})
    await db["call_records"].update_one({"uuid": "call-1"}, {"$set": {"rated": {"cost": 12345}}})
    # a call the engine did not handle: no path, no legs, not rated; the caller hung up
    await save_call_record(db, {"uuid": "call-2", "pbx_id": pid, "caller": "11", "callee": "12",
                                "direction": "internal", "start": at(600), "answer": at(603), "end": at(633),
                                "duration": 33, "billsec": 30, "hangup_cause": "NORMAL_CLEARING",
                                "vars": {"sip_hangup_disposition": "recv_bye"}})
    async with web_stack(settings, store) as (ctx, url):
        yield url, pid, ivan, petr, sales


async def test_the_api_tells_a_call_in_detail(stack):
    url, pid, ivan, petr, sales = stack
    async with WebClient(url, headers={"Accept-Language": "en"}) as c:
        await c.login(f"{pid}/admin", PASSWORD)
        call = (await c.get("/api/v1/calls/call-1")).json()
    assert [leg["uuid"] for leg in call["legs"]] == ["leg-ivan", "leg-petr"]  # in the order rung
    assert [(leg["outcome"], leg["ringing"], leg["billsec"]) for leg in call["legs"]] == [
        ("no_answer", 15, 0), ("answered", 4, 62)]
    assert call["legs"][1]["target"] == f"employee:{petr['id']}/cm_phone"
    # 3 s with the greeting and the menu before Ivan's phone rang, 19 s of ringing until Petr answered
    assert call["stages"] == {"menu": 3, "ringing": 19, "talk": 62}
    assert call["ended_by"] == "far_end" and call["hangup_cause"] == "NORMAL_CLEARING" and call["cost"] == 12345
    assert [e["step"] for e in call["path"]] == ["inbound", "list", "scheme", "greeting", "menu", "group", "ring"]
    async with WebClient(url, headers={"Accept-Language": "en"}) as c:
        await c.login(f"{pid}/admin", PASSWORD)
        plain = (await c.get("/api/v1/calls/call-2")).json()
    assert plain["legs"] == [] and plain["path"] == [] and plain["cost"] is None
    assert plain["stages"] == {"menu": None, "ringing": None, "talk": 30} and plain["ended_by"] == "caller"


@pytest.mark.parametrize("lang", ["en", "ru"])
async def test_the_call_page_shows_the_path_legs_stages_who_hung_up_and_cost(stack, lang):
    url, pid, ivan, petr, sales = stack
    async with WebClient(url, headers={"Accept-Language": lang}) as c:
        await c.login(f"{pid}/admin", PASSWORD)
        r = await c.post_form("/language", {"lang": lang, "next": "/calls"})
        assert r.status_code in (200, 302, 303), r.text
        listing = (await c.get("/calls")).text
        assert 'href="/calls/call-1"' in listing and 'href="/calls/call-2"' in listing
        page = (await c.get("/calls/call-1")).text
        plain = (await c.get("/calls/call-2")).text
    legs = page.split('id="legs"', 1)[1].split("</table>", 1)[0]
    ivan_row, petr_row = legs.split('data-leg="leg-ivan"', 1)[1], legs.split('data-leg="leg-petr"', 1)[1]
    assert legs.index('data-leg="leg-ivan"') < legs.index('data-leg="leg-petr"')
    path = page.split('id="path"', 1)[1].split("</ol>", 1)[0]
    if lang == "en":
        assert "Ivan Orlov" in ivan_row and "0:15" in ivan_row and "no answer" in ivan_row
        assert "Petr Sokolov" in petr_row and "79161110012" in petr_row and "1:02" in petr_row
        assert "answered" in petr_row.split("</tr>", 1)[0]
        assert "Scheme «Day», time block 1" in path and "Greeting «Welcome», the caller presses 1 during it" in path
        assert "Voice menu: the caller presses 1 → item 1" in path and "group «Sales»" in path
        assert "+3.1 s" in path
        assert "Hung up by</dt><dd id=\"ended-by\">the other side" in page
        assert 'id="cost">123,45 ₽' in page
        assert 'data-stage="menu">0:03<' in page and 'data-stage="ringing">0:19<' in page \
            and 'data-stage="talk">1:02<' in page
        assert "The call engine did not handle this call." in plain and "Nobody was rung." in plain
        assert "the caller" in plain.split('id="ended-by"', 1)[1][:60] and "not rated yet" in plain
    else:
        assert "Ivan Orlov" in ivan_row and "нет ответа" in ivan_row
        assert "Petr Sokolov" in petr_row and "отвечено" in petr_row.split("</tr>", 1)[0]
        assert "Схема «Day»" in path and "+3.1 с" in path
        assert "Кто завершил" in page and "вызываемая сторона" in page.split('id="ended-by"', 1)[1][:80]
        assert 'id="cost">123,45 ₽' in page and "Путь по схеме" in page and "Кому звонили" in page and "Приветствие и меню" in page
        assert "Этот звонок не проходил через схему обработки." in plain and "ещё не тарифицирован" in plain


async def test_the_operator_sees_any_pbxs_call_page(stack):
    url, pid, ivan, petr, sales = stack
    async with WebClient(url, headers={"Accept-Language": "en"}) as c:
        await c.login("root", "operator-pass-1")
        page = await c.get("/calls/call-1")
        assert page.status_code == 200 and f"PBX {pid}" in page.text and "Petr Sokolov" in page.text
        assert (await c.get("/calls/no-such-call")).status_code == 404
