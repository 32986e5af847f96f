"""The telephony pages in a real headless Chromium, as an administrator would use them: a day
group and a schedule (rows added with the button), an employee through the three-step wizard,
a group with that employee, a trunk with a routing rule and "test a number" — no console errors
or CSP violations. Screenshots go to $PULT_SCREENSHOT_DIR (default: the test's tmp dir)."""
from __future__ import annotations

import json


from tests.integration.tel_api_harness import tel_stack

from .harness import BROWSER_TEST, sign_in

pytestmark = BROWSER_TEST


def js_set(selector: str, value: str) -> str:
    """JS that sets a form control's value (selects by value, inputs by text)."""
    return f"document.querySelector({json.dumps(selector)}).value = {json.dumps(value)};"


async def test_schedule_employee_group_trunk_walkthrough(browser, shots, monkeypatch):
    sent = []

    async def fake_send(to, subject, text=None, **kw):  # the mail job itself is tested elsewhere
        sent.append(to)
        return "job-1"

    import jobs.mail
    monkeypatch.setattr(jobs.mail, "send_mail_async", fake_send)
    b = browser
    async with tel_stack() as st:
        url = st.url
        await sign_in(b, url, "101/admin")
        assert await b.eval("location.pathname") == "/"

        # a day group, then a schedule with two intervals (the second added with the button)
        await b.goto(f"{url}/telephony/day-groups/new")
        await b.submit_and_wait(js_set("#name", "Weekdays") + "document.getElementById('save').click(); true")
        assert "Saved." in await b.eval("document.body.innerText")
        await b.goto(f"{url}/telephony/schedules/new")
        assert await b.eval("document.documentElement.classList.contains('js')")
        assert await b.eval("getComputedStyle(document.querySelector('#iv-table tr.no-js-only')).display") == "none"
        await b.eval(js_set("#name", "Office hours") + "document.getElementById('add-interval').click(); true")
        assert await b.eval("document.querySelectorAll('#iv-table tr.row:not(.no-js-only)').length") == 2
        await b.eval("var r = document.querySelectorAll('#iv-table tr.row:not(.no-js-only)')[1];"
                     "r.querySelector('input[name$=-start]').value = '14:00';"
                     "r.querySelector('input[name$=-end]').value = '12:00'; true")
        await b.submit_and_wait("document.getElementById('save').click(); true")
        assert await b.eval("document.querySelector('#iv-table [aria-invalid=true]') !== null")
        assert "interval" in (await b.eval("document.querySelector('.row-errors').innerText")).lower()
        await b.screenshot(shots / "tel-schedule-error-en.png")
        await b.eval("var r = document.querySelectorAll('#iv-table tr.row:not(.no-js-only)')[1];"
                     "r.querySelector('input[name$=-end]').value = '18:00';"
                     "document.querySelector('#iv-table tr.row .row-tools .remove') && true")
        await b.submit_and_wait("document.getElementById('save').click(); true")
        assert "Saved." in await b.eval("document.body.innerText")
        await b.goto(f"{url}/telephony/schedules")
        text = await b.eval("document.body.innerText")
        assert "Office hours" in text and "14:00–18:00" in text
        await b.screenshot(shots / "tel-schedules-en.png")

        # the wizard: one step at a time
        await b.goto(f"{url}/telephony/employees/new")
        visible = "Array.from(document.querySelectorAll('.wizard .step')).filter(s => s.offsetParent !== null).map(s => s.id)"
        assert await b.eval(visible) == ["step-card"]
        await b.eval(js_set("#name", "Ivanova Maria") + js_set("#email", "maria@example.com")
                     + "document.getElementById('next-1').click(); true")
        assert await b.eval(visible) == ["step-telephony"]
        assert await b.eval("document.getElementById('phone-field').hidden")  # "SIP phone" is chosen
        await b.eval("document.getElementById('next-2').click(); true")
        assert await b.eval(visible) == ["step-sip"]
        await b.eval(js_set("#sip_login", "maria") + "document.getElementById('generate').click(); true")
        generated = await b.eval("document.getElementById('sip_password').value")
        assert len(generated) == 16
        await b.screenshot(shots / "tel-wizard-sip-en.png")
        await b.submit_and_wait("document.getElementById('create').click(); true")
        text = await b.eval("document.body.innerText")
        assert "Employee «Ivanova Maria» created" in text
        assert await b.eval("document.getElementById('secret-value').value") == generated
        assert sent == ["maria@example.com"]
        await b.screenshot(shots / "tel-employee-created-en.png")

        # a group with that employee (opened from the "what next" list)
        await b.submit_and_wait("document.querySelector('a[href^=\"/telephony/groups/new\"]').click(); true")
        assert "Ivanova Maria" in await b.eval(
            "document.querySelector('#members-table tr.row:not(.no-js-only) select[name$=-employee_id]')"
            ".selectedOptions[0].textContent")
        await b.eval(js_set("#name", "Support") + "document.querySelector('input[name=strategy][value=simultaneous]').click();"
                     "document.getElementById('add-member').click(); true")
        await b.eval("var rows = document.querySelectorAll('#members-table tr.row:not(.no-js-only)');"
                     "var r = rows[rows.length - 1]; var k = r.querySelector('select[data-kind-switch]');"
                     "k.value = 'external'; k.dispatchEvent(new Event('change'));"
                     "r.querySelector('input[name$=-value]').value = '79161234567'; true")
        assert await b.eval("document.querySelectorAll('#members-table tr.row:not(.no-js-only)')[1]"
                            ".querySelector('select[name$=-employee_id]').hidden")
        # move the external number to the top with the arrow
        await b.eval("document.querySelectorAll('#members-table tr.row:not(.no-js-only)')[1].querySelector('.up').click(); true")
        await b.screenshot(shots / "tel-group-form-en.png")
        await b.submit_and_wait("document.getElementById('save').click(); true")
        assert "Saved." in await b.eval("document.body.innerText")
        group = await st.db["ring_groups"].find_one({"pbx_id": 101, "name": "Support"})
        assert [m["kind"] for m in group["members"]] == ["external", "employee"]
        assert group["strategy"] == "simultaneous"

        # a trunk, a routing rule, and testing a number
        await b.goto(f"{url}/telephony/trunks/new")
        await b.eval(js_set("#name", "Office PBX") + js_set("#host", "203.0.113.5")
                     + "document.getElementById('add-number').click(); true")
        await b.eval("var r = document.querySelectorAll('#tn-table tr.row:not(.no-js-only)')[0];"
                     "r.querySelector('input[name$=-number]').value = '74957770011'; true")
        await b.submit_and_wait("document.getElementById('save').click(); true")
        assert "Saved." in await b.eval("document.body.innerText")
        await b.goto(f"{url}/telephony/trunks/routing")
        await b.eval("document.getElementById('add-mask').click();"
                     "var r = document.querySelectorAll('#mk-table tr.row:not(.no-js-only)')[0];"
                     "r.querySelector('input[name$=-mask]').value = '8(\\\\d{10})';"
                     "r.querySelector('input[name$=-transformation]').value = '7$1';"
                     + js_set("#test_number", "84951112233") + "true")
        await b.submit_and_wait("document.getElementById('test-route').click(); true")
        decision = await b.eval("document.getElementById('decision').innerText")
        assert "Into trunk «Office PBX» as 74951112233" in decision and "Routing rule no. 1 matched." in decision
        assert await b.eval("document.querySelector('#mk-table tr.matched') !== null")
        await b.screenshot(shots / "tel-routing-test-en.png")
        await b.submit_and_wait("document.getElementById('save').click(); true")
        assert "Saved." in await b.eval("document.body.innerText")

        # the same pages in Russian for a Russian-speaking administrator
        await b.submit_and_wait("document.querySelector('.topbar .lang-switch button[value=ru]').click(); true")
        await b.goto(f"{url}/telephony/groups/{group['_id']}")
        assert "Распределение звонков" in await b.eval("document.body.innerText")
        await b.screenshot(shots / "tel-group-ru.png")
    # the deliberate invalid schedule answers 422, which Chromium logs; nothing else may be there
    assert [p for p in b.console_problems() if "status of 422" not in p] == []
