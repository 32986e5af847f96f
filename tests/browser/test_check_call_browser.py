""""Check a call" in a real headless Chromium, as an administrator would use it: the menu entry
beside the call schemes, the form (number from the list, caller, date and time, digits, who
answers), the path shown step by step, a bad input shown next to its field, the same in Russian,
and the "Now: …" line of the scheme list — no console errors or CSP violations. Screenshots go to
$PULT_SCREENSHOT_DIR (default: the test's tmp dir)."""
from __future__ import annotations

import json

from esl_control.model.numbers.services import DidPoolService
from storage.repos.tenants import store_platform_gateways
from tests.integration.tel_api_harness import tel_stack

from .harness import BROWSER_TEST, sign_in

pytestmark = BROWSER_TEST
NUMBER = "74952232001"


def js_set(selector: str, value: str) -> str:
    return f"document.querySelector({json.dumps(selector)}).value = {json.dumps(value)};"


async def _seed(st) -> None:
    await DidPoolService(st.db).add([NUMBER])
    # the operator's carrier: external numbers are dialled through it (none: skipped)
    await store_platform_gateways(st.db, [{"id": "main", "name": "Carrier", "proxy": "sip.carrier.test:5060",
                                           "enabled": True}])
    async with st.client("101/admin") as c:
        scheme = (await c.api("POST", "/api/v1/telephony/schemes", json={"name": "Reception", "blocks": [
            {"steps": [{"kind": "greeting", "sound_id": "builtin:abba", "wait_end": True},
                       {"kind": "menu", "children": {
                           "2": {"steps": [{"kind": "forward", "target": {"type": "external", "value": "79035550102"},
                                            "ring_time": 25}, {"kind": "hangup"}]}}},
                       {"kind": "hangup"}]}]})).json()
        n = await c.api("POST", "/api/v1/telephony/numbers/assign", json={"number": NUMBER})
        assert n.status_code == 201, n.text
        r = await c.api("POST", f"/api/v1/telephony/schemes/{scheme['id']}/activate", json={"numbers": [n.json()["id"]]})
        assert r.status_code == 200, r.text


async def test_check_a_call_from_the_menu(browser, shots):
    b = browser
    async with tel_stack() as st:
        await _seed(st)
        url = st.url
        await sign_in(b, url, "101/admin")

        # the scheme list says what a call to the number does now, and the menu has the page
        await b.goto(f"{url}/telephony/schemes")
        text = await b.eval("document.body.innerText")
        assert "Now: scheme «Reception» → greeting → menu" in text
        await b.screenshot(shots / "schemes-now-en.png")
        await b.submit_and_wait("Array.from(document.querySelectorAll('nav a'))"
                                ".find(a => a.getAttribute('href') === '/telephony/check-call').click(); true")
        assert await b.eval("location.pathname") == "/telephony/check-call"
        menu = await b.eval("Array.from(document.querySelectorAll('nav a')).map(a => a.getAttribute('href'))")
        assert menu[menu.index("/telephony/schemes") + 1] == "/telephony/check-call"  # right after the schemes
        assert await b.eval("document.getElementById('number').value") == NUMBER

        # press 2 at noon; the external number answers
        await b.submit_and_wait(js_set("#caller", "79161234567") + js_set("#at", "2026-12-07T12:00")
                                + js_set("#digits", "2") + js_set("#answers", "79035550102 = answered")
                                + "document.getElementById('check').click(); true")
        steps = await b.eval("Array.from(document.querySelectorAll('#path li')).map(li => li.innerText)")
        assert steps[0] == f"A call to {NUMBER} from 79161234567"
        assert "Scheme «Reception», time block 1 (at any other time)" in steps
        assert "Voice menu: the caller presses 2 → item 2" in steps
        assert "Forward to number 79035550102, ring time 25 s" in steps
        assert "Rings: 79035550102 for 25 s — answered" in steps
        assert "hung up by the other side" in await b.eval("document.getElementById('ended').innerText")
        assert await b.eval("document.getElementById('digits').value") == "2"  # the form keeps the input
        await b.screenshot(shots / "check-call-en.png")

        # a bad input: the form again, the error next to the field
        await b.submit_and_wait(js_set("#digits", "2; rm") + "document.getElementById('check').click(); true")
        assert await b.eval("document.getElementById('digits').getAttribute('aria-invalid')") == "true"
        assert "Expected a list of inputs" in await b.eval("document.body.innerText")
        assert await b.eval("document.getElementById('path') === null")
        await b.screenshot(shots / "check-call-error-en.png")
        assert [p for p in b.console_problems() if "status of 422" not in p] == []

    async with tel_stack() as st:
        await _seed(st)
        await sign_in(b, st.url, "101/adminru")
        await b.goto(f"{st.url}/telephony/check-call")
        assert "Проверить звонок" in await b.eval("document.querySelector('h1').innerText")
        await b.submit_and_wait(js_set("#at", "2026-12-07T12:00") + js_set("#digits", "-")
                                + "document.getElementById('check').click(); true")
        steps = await b.eval("Array.from(document.querySelectorAll('#path li')).map(li => li.innerText)")
        assert steps[0] == f"Звонок на {NUMBER} со скрытого номера"
        assert "Голосовое меню: звонящий ничего не нажимает → меню проигрывается ещё раз" in steps
        await b.screenshot(shots / "check-call-ru.png")
        assert [p for p in b.console_problems() if "status of 422" not in p] == []
