"""The cabinet page "Check a call" (issue 12) and the "Now: …" line of the scheme list and the
number pages, over real HTTP without a browser: the path in words (list rule, client rule, time
block, menu item, who rings in which order for how long, what the caller hears, where it ends) is
what the dry-run API says for the same input; bad input is the form again with the field's error
in the user's language; another PBX's number is refused; a read-only user may check; an employee
may not."""
from __future__ import annotations

import html
import re
from urllib.parse import urlencode

import pytest
import pytest_asyncio

from esl_control.model.numbers.services import DidPoolService
from storage.repos.tenants import store_platform_gateways
from pult.clock import FixedClock, use_clock
from tests.integration.tel_api_harness import CARRIER, tel_stack

pytestmark = pytest.mark.asyncio(loop_scope="module")
PAGE = "/telephony/check-call"
API = "/api/v1/telephony/dry-run"
NUMBER = "74952231001"      # scheme "Office": weekdays 09:00-18:59 greeting + menu, else voice mail
PLAIN = "74952231002"       # scheme "Always": forward to an external number at any time
BARE = "74952231003"        # no scheme: the default group, then voice mail
OTHER_PBX_NUMBER = "74952231009"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def st():
    async with tel_stack() as stack:
        await DidPoolService(stack.db).add([NUMBER, PLAIN, BARE, OTHER_PBX_NUMBER])
        await store_platform_gateways(stack.db, [CARRIER])
        async with stack.client("101/admin") as c, stack.client("202/admin") as other:
            day = (await c.api("POST", "/api/v1/telephony/day-groups",
                               json={"name": "Будни", "weekdays": [1, 2, 3, 4, 5]})).json()
            work = (await c.api("POST", "/api/v1/telephony/schedules", json={
                "name": "Office hours", "intervals": [{"day_group": day["id"], "start": "09:00", "end": "18:59"}]})).json()
            emp = (await c.api("POST", "/api/v1/telephony/employees", json={
                "name": "Petrov", "extension": "301", "reception_mode": "sequential",
                "contact_methods": [{"kind": "phone", "value": "79161110001", "ring_time": 15},
                                    {"kind": "phone", "value": "79161110002"}]})).json()
            office = (await c.api("POST", "/api/v1/telephony/schemes", json={"name": "Office", "blocks": [
                {"schedule_id": work["id"], "steps": [
                    {"kind": "greeting", "sound_id": "builtin:abba", "wait_end": True},
                    {"kind": "menu", "children": {
                        "1": {"steps": [{"kind": "forward", "target": {"type": "employee", "id": emp["id"]}},
                                        {"kind": "voicemail"}, {"kind": "hangup"}]}}},
                    {"kind": "hangup"}]},
                {"steps": [{"kind": "voicemail"}, {"kind": "hangup"}]}]})).json()
            always = (await c.api("POST", "/api/v1/telephony/schemes", json={"name": "Always", "blocks": [
                {"steps": [{"kind": "forward", "target": {"type": "external", "value": "79031112233"}},
                           {"kind": "hangup"}]}]})).json()
            ids = {}
            for n in (NUMBER, PLAIN, BARE):
                r = await c.api("POST", "/api/v1/telephony/numbers/assign", json={"number": n})
                assert r.status_code == 201, r.text
                ids[n] = r.json()["id"]
            for scheme, n in ((office, NUMBER), (always, PLAIN)):
                r = await c.api("POST", f"/api/v1/telephony/schemes/{scheme['id']}/activate", json={"numbers": [ids[n]]})
                assert r.status_code == 200, r.text
            r = await other.api("POST", "/api/v1/telephony/numbers/assign", json={"number": OTHER_PBX_NUMBER})
            assert r.status_code == 201, r.text
            stack.ids = ids
        yield stack


def texts(page: str, list_id: str) -> list[str]:
    m = re.search(rf'<ol[^>]*id="{list_id}"[^>]*>(.*?)</ol>', page, re.S)
    assert m, f"the page has the list #{list_id}"
    return [html.unescape(re.sub(r"<[^>]+>", "", li)).strip() for li in re.findall(r"<li[^>]*>(.*?)</li>", m.group(1), re.S)]


def field_error(page: str, name: str) -> str:
    m = re.search(rf'id="{name}"[^>]*aria-invalid="true".*?<[^>]*class="[^"]*field-error[^"]*"[^>]*>(.*?)</', page, re.S)
    assert m, f"the field {name} is marked with its error"
    return html.unescape(m.group(1)).strip()


async def test_the_form_defaults_to_the_first_number_and_now_in_the_pbx_time_zone(st):
    with use_clock(FixedClock("2026-12-07T09:30:00+00:00")):  # (signed in at that time, too)
        async with st.client("101/admin") as c:
            r = await c.get(PAGE)
            menu = await c.get("/telephony/schemes")
        assert r.status_code == 200
        assert f'<option value="{NUMBER}" selected>' in r.text
        assert 'id="at" name="at" type="datetime-local" value="2026-12-07T12:30"' in r.text  # Moscow time
        assert "Europe/Moscow" in r.text
        assert 'id="path"' not in r.text  # nothing is checked before the form is sent
        assert 'href="/telephony/check-call"' in menu.text  # in the menu, beside the schemes


async def test_pressing_1_rings_the_employee_in_turn_as_the_api_says(st):
    form = {"run": "1", "number": NUMBER, "caller": "79031234567", "at": "2026-12-07T12:00",
            "digits": "1", "answers": "79161110002 = no_answer"}
    async with st.client("101/admin") as c:
        r = await c.get(PAGE + "?" + urlencode(form))
        assert r.status_code == 200, r.text[:300]
        lines = texts(r.text, "path")
        api = (await c.api("POST", API, json={"number": NUMBER, "caller": "79031234567", "at": "2026-12-07T12:00",
                                              "digits": ["1"], "answers": {"79161110002": "no_answer"}})).json()
        assert len(lines) == len(api["path"])  # one line per step of the engine's own path
        assert lines[0] == f"A call to {NUMBER} from 79031234567"
        assert "Black and white lists: not in use" in lines
        assert "Scheme «Office», time block 1 (schedule «Office hours»)" in lines
        assert any(line.startswith("Greeting «") and "played to the end" in line for line in lines)
        assert "Voice menu: the caller presses 1 → item 1" in lines
        assert "Forward to employee «Petrov»" in lines
        rings = [line for line in lines if line.startswith("Rings")]
        assert rings == ["Rings: 79161110001 for 15 s — no answer", "Rings: 79161110002 for 120 s — no answer"]
        assert lines[-2:] == ["Voice mail: the caller may leave a message of up to 180 s", "Hangs up"]
        assert texts(r.text, "heard")[0] == "«abba»"  # the greeting's sound file
        assert "The call ends (NORMAL_CLEARING)" in r.text


async def test_at_night_the_other_time_block_takes_the_call_in_russian(st):
    form = {"run": "1", "number": NUMBER, "at": "2026-12-07T23:00"}
    async with st.client("101/adminru", lang="ru") as c:
        r = await c.get(PAGE + "?" + urlencode(form))
        lines = texts(r.text, "path")
        assert lines[0] == f"Звонок на {NUMBER} со скрытого номера"
        assert "Схема «Office», временной блок 2 (в любое другое время)" in lines
        assert any(line.startswith("Голосовая почта") for line in lines)
        assert "Проверить звонок" in r.text


async def test_no_input_replays_the_menu_and_the_caller_hears_why(st):
    form = {"run": "1", "number": NUMBER, "at": "2026-12-07T12:00", "digits": "- 7"}
    async with st.client("101/admin") as c:
        lines = texts((await c.get(PAGE + "?" + urlencode(form))).text, "path")
        assert lines[-3:] == ["Voice menu: the caller presses nothing → the menu is played again",
                              "Voice menu: the caller presses 7 → on to the next step", "Hangs up"]


async def test_an_answer_ends_the_call_with_the_far_end(st):
    form = {"run": "1", "number": PLAIN, "caller": "79031234567", "at": "2026-12-07T12:00",
            "answers": "79031112233 = answered"}
    async with st.client("101/admin") as c:
        r = await c.get(PAGE + "?" + urlencode(form))
        lines = texts(r.text, "path")
        assert "Forward to number 79031112233" in lines
        assert "Rings: 79031112233 for 120 s — answered" in lines
        assert "hung up by the other side" in r.text


async def test_bad_input_shows_the_form_again_with_the_field_error_in_the_users_language(st):
    async with st.client("101/admin") as c, st.client("101/adminru", lang="ru") as ru:
        r = await c.get(PAGE + "?" + urlencode({"run": "1", "number": NUMBER, "at": "tomorrow"}))
        assert r.status_code == 422
        assert field_error(r.text, "at").startswith("Expected a date and time in ISO 8601")
        assert 'id="path"' not in r.text and 'value="tomorrow"' in r.text  # the typed value is kept
        r = await ru.get(PAGE + "?" + urlencode({"run": "1", "number": NUMBER, "digits": "1;rm"}))
        assert r.status_code == 422 and field_error(r.text, "digits").startswith("Ожидается список вводов")
        r = await c.get(PAGE + "?" + urlencode({"run": "1", "number": NUMBER, "answers": "79161110001 maybe"}))
        assert r.status_code == 422 and field_error(r.text, "answers").startswith("Expected an object")
        r = await c.get(PAGE + "?" + urlencode({"run": "1", "number": NUMBER, "answers": "79161110001 = maybe"}))
        assert r.status_code == 422 and "answers" in r.text and 'aria-invalid="true"' in r.text


async def test_another_pbxs_number_is_refused_and_shows_nothing_of_it(st):
    async with st.client("101/admin") as c:
        r = await c.get(PAGE + "?" + urlencode({"run": "1", "number": OTHER_PBX_NUMBER}))
        assert r.status_code == 422
        assert field_error(r.text, "number") == f"This PBX has no number {OTHER_PBX_NUMBER}. Choose one of the PBX's numbers."
        assert f'<option value="{OTHER_PBX_NUMBER}"' not in r.text


async def test_rights_a_viewer_may_check_an_employee_may_not(st):
    async with st.client("101/viewer") as v, st.client("101/emp") as e:
        r = await v.get(PAGE + "?" + urlencode({"run": "1", "number": PLAIN, "at": "2026-12-07T12:00"}))
        assert r.status_code == 200 and "Forward to number 79031112233" in r.text
        assert (await e.get(PAGE)).status_code == 403


async def test_the_scheme_list_and_number_pages_say_what_a_call_does_now(st):
    with use_clock(FixedClock("2026-12-07T20:00:00+00:00")):  # Monday 23:00 in Moscow
        async with st.client("101/admin") as c:
            night = (await c.get("/telephony/schemes")).text
    assert "Now: scheme «Office» → voice mail" in html.unescape(night)
    with use_clock(FixedClock("2026-12-07T09:00:00+00:00")):  # Monday 12:00 in Moscow
        async with st.client("101/admin") as c, st.client("101/adminru", lang="ru") as ru:
            page = (await c.get("/telephony/schemes")).text
            numbers = (await ru.get("/telephony/numbers")).text
            one = (await c.get(f"/telephony/numbers/{st.ids[PLAIN]}")).text
    now = dict(re.findall(r'<li data-number="(\d+)"><span class="mono">\d+</span> — <span class="now-line">(.*?)</span>',
                          page))
    assert set(now) == {NUMBER, PLAIN, BARE}
    assert html.unescape(now[PLAIN]) == "Now: scheme «Always» → number 79031112233"
    assert html.unescape(now[BARE]) == "Now: no scheme → group «Default» → voice mail"  # the seeded group, in English
    assert html.unescape(now[NUMBER]) == "Now: scheme «Office» → greeting → menu"
    assert "Сейчас: схема «Always» → номер 79031112233" in html.unescape(numbers)
    assert "Сейчас: схема «Office» → приветствие → меню" in html.unescape(numbers)
    assert "Now: scheme «Always» → number 79031112233" in html.unescape(one)


async def test_the_list_rule_and_the_client_rule_that_matched_are_named(st):
    async with st.client("101/admin") as c:
        r = await c.api("POST", "/api/v1/telephony/lists/entries", json={"list": "black", "value": "79990001111"})
        assert r.status_code == 201, r.text
        r = await c.api("POST", "/api/v1/telephony/client-rules", json={
            "value": "79035551234", "target_kind": "external", "target": "79031112244", "ring_time": 20})
        assert r.status_code == 201, r.text
        assert (await c.api("PUT", "/api/v1/telephony/lists/mode", json={"mode": "black"})).status_code == 200
        try:
            at = "2026-12-07T12:00"
            refused = texts((await c.get(PAGE + "?" + urlencode(
                {"run": "1", "number": NUMBER, "caller": "79990001111", "at": at}))).text, "path")
            assert refused == [f"A call to {NUMBER} from 79990001111",
                               "The black list refuses the caller (entry 79990001111): busy signal"]
            vip = texts((await c.get(PAGE + "?" + urlencode(
                {"run": "1", "number": NUMBER, "caller": "79035551234", "at": at}))).text, "path")
            assert vip[1:4] == ["The black list lets the caller through", "Client rule for 79035551234: to number 79031112244",
                                "Forward to number 79031112244, ring time 20 s"]
            assert "Rings: 79031112244 for 20 s — no answer" in vip
            assert "Scheme «Office», time block 1 (schedule «Office hours»)" in vip  # not answered: on to the scheme
        finally:
            await c.api("PUT", "/api/v1/telephony/lists/mode", json={"mode": None})
