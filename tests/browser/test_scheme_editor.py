"""The call-scheme editor in a real headless Chromium, the way a tenant admin uses it.

Creates a scheme from the list page, builds a greeting and a menu (digit 1 → forward to a group,
digit 2 → a nested menu), is refused a fifth menu level in the server's words, reorders two steps
by dragging (CDP ``Input.dispatchDragEvent``) and by the keyboard (the cards' arrow buttons), sees
a server validation error on the offending card, saves, reloads and finds the order persisted;
the final hang-up cannot be removed. No console errors or CSP violations. Screenshots go to
$PULT_SCREENSHOT_DIR (default: the test's tmp dir)."""
from __future__ import annotations

import json
from pathlib import Path


from storage.repos.base import Scope
from storage.repos.telephony import Schemes
from tests.integration.tel_api_harness import PASSWORD, seed
from tests.unit.test_tel_schemas import wav_bytes
from esl_control.model.calendars.services import DayGroupService, ScheduleService
from esl_control.model.groups.services import GroupService
from esl_control.model.sounds.services import SoundService
from web.testing import web_stack

from .cdp import Browser
from .harness import BROWSER_TEST, cheap_hashing, sign_in

pytestmark = BROWSER_TEST
ADMIN = {"kind": "user", "login": "101/admin", "ip": "127.0.0.1"}


class Page:
    """Small helpers over the DevTools driver for this editor."""

    def __init__(self, b: Browser):
        self.b = b

    async def js(self, code: str):
        return await self.b.eval(code)

    async def click(self, selector: str) -> None:
        ok = await self.b.eval(f"(() => {{ const el = document.querySelector({json.dumps(selector)});"
                               f" if (!el) return false; el.click(); return true; }})()")
        assert ok, f"nothing to click at {selector}"

    async def select(self, selector: str, value: str) -> None:
        ok = await self.b.eval(f"(() => {{ const el = document.querySelector({json.dumps(selector)});"
                               f" if (!el) return false; el.value = {json.dumps(value)};"
                               f" el.dispatchEvent(new Event('change', {{bubbles: true}})); return el.value; }})()")
        assert ok == value, f"could not choose {value!r} in {selector}"

    async def type(self, selector: str, text: str) -> None:
        await self.b.eval(f"(() => {{ const el = document.querySelector({json.dumps(selector)});"
                          f" el.focus(); el.value = {json.dumps(text)};"
                          f" el.dispatchEvent(new Event('input', {{bubbles: true}})); }})()")

    async def rect(self, selector: str, scroll: bool = True) -> dict:
        """The element's box in the viewport (scrolled to the middle first unless ``scroll=False``)."""
        return await self.b.eval(f"(() => {{ const el = document.querySelector({json.dumps(selector)});"
                                 f" if ({json.dumps(scroll)}) el.scrollIntoView({{block: 'center'}});"
                                 f" const r = el.getBoundingClientRect();"
                                 f" return {{x: r.x, y: r.y, w: r.width, h: r.height}}; }})()")

    async def key(self, key: str, code: int) -> None:
        down = {"type": "keyDown", "key": key, "code": key, "windowsVirtualKeyCode": code,
                "nativeVirtualKeyCode": code}
        if key == "Enter":
            down["text"] = "\r"
        await self.b.send("Input.dispatchKeyEvent", **down)
        await self.b.send("Input.dispatchKeyEvent", type="keyUp", key=key, code=key, windowsVirtualKeyCode=code,
                          nativeVirtualKeyCode=code)

    async def full_shot(self, path: Path) -> None:
        """A screenshot of the whole page (the editor is taller than the window)."""
        import base64

        height = await self.b.eval("Math.min(document.documentElement.scrollHeight, 6000)")
        data = await self.b.send("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                                 clip={"x": 0, "y": 0, "width": 1280, "height": height, "scale": 1})
        path.write_bytes(base64.b64decode(data["data"]))

    async def kinds(self, list_path: str) -> list[str]:
        selector = json.dumps(f'.step-list[data-path="{list_path}"] > ol > li.step-card')
        return await self.b.eval(f"Array.from(document.querySelectorAll({selector})).map(li => li.dataset.kind)")

    async def drag(self, source: str, target: str, *, above: bool) -> None:
        """Drag ``source`` (a handle) onto the upper or lower half of ``target`` with real mouse
        input; Chromium hands the drag to us (interception) and we drop it with dispatchDragEvent."""
        b = self.b
        await self.rect(source)       # both in view, measured before the press (no scrolling after it)
        s = await self.rect(source, scroll=False)
        t = await self.rect(target, scroll=False)
        sx, sy = s["x"] + s["w"] / 2, s["y"] + s["h"] / 2
        tx = t["x"] + t["w"] / 2
        ty = t["y"] + (t["h"] * 0.25 if above else t["h"] * 0.75)
        await b.send("Input.setInterceptDrags", enabled=True)
        await b.send("Input.dispatchMouseEvent", type="mouseMoved", x=sx, y=sy)
        await b.send("Input.dispatchMouseEvent", type="mousePressed", x=sx, y=sy, button="left", buttons=1, clickCount=1)
        for i in range(1, 6):
            await b.send("Input.dispatchMouseEvent", type="mouseMoved", x=sx + (tx - sx) * i / 5,
                         y=sy + (ty - sy) * i / 5, button="left", buttons=1)
        data = (await b.wait_event("Input.dragIntercepted", timeout=5))["params"]["data"]
        for kind in ("dragEnter", "dragOver", "drop"):
            await b.send("Input.dispatchDragEvent", type=kind, x=tx, y=ty, data=data)
        await b.send("Input.dispatchMouseEvent", type="mouseReleased", x=tx, y=ty, button="left", buttons=0, clickCount=1)
        await b.send("Input.setInterceptDrags", enabled=False)


async def test_build_reorder_save_and_reload_a_scheme(settings, store, browser, shots):
    with cheap_hashing():
        await seed(store.db, store)
    db = store.db
    group = await GroupService(db, 101, ADMIN).create({"name": "Sales desk", "extension": "21"})
    sound = await SoundService(db, 101, ADMIN, media=store.media).upload(wav_bytes(), {"name": "Welcome"})
    dg = await DayGroupService(db, 101, ADMIN).create({"name": "Weekdays", "weekdays": [1, 2, 3, 4, 5]})
    schedule = await ScheduleService(db, 101, ADMIN).create(
        {"name": "Office hours", "intervals": [{"day_group": dg["id"], "start": "09:00", "end": "18:00"}]})

    async with web_stack(settings, store) as (ctx, url):
        b = browser
        p = Page(b)
        await sign_in(b, url, "101/admin", PASSWORD)
        await b.goto(f"{url}/telephony/schemes")
        assert "No schemes yet" in await p.js("document.body.innerText")
        await b.submit_and_wait(
            "document.getElementById('new-name').value='Main line';"
            "document.getElementById('new-description').value='Calls to the office';"
            "document.getElementById('new-scheme').submit(); true")
        assert (await p.js("location.pathname")).startswith("/telephony/schemes/")
        scheme_id = (await p.js("location.pathname")).rsplit("/", 1)[1]
        await b.wait_for("document.getElementById('scheme-editor').dataset.ready === 'true'")

        top = "blocks[0].steps"
        # a greeting and a menu from the palette
        await p.click(f'.step-list[data-path="{top}"] > .palette [data-kind="greeting"]')
        await p.select(f'[data-path="{top}[0]"] select', sound["id"])
        await p.click(f'.step-list[data-path="{top}"] > .palette [data-kind="menu"]')
        assert await p.kinds(top) == ["greeting", "menu"]
        menu = f"{top}[1]"
        # digit 1 → forward to the group
        item1 = f"{menu}.children.1.steps"
        await p.click(f'.step-list[data-path="{item1}"] > .palette [data-kind="forward"]')
        await p.select(f'[data-path="{item1}[0]"] select', "group")
        await p.select(f'[data-path="{item1}[0]"] .field-wide select', group["id"])
        # digit 2 → a nested menu (level 2), and deeper down to level 4
        await p.click(f'[data-path="{menu}"] > .step-body > .menu-items > .btn')
        assert await p.js(f"document.querySelector('[data-path=\"{menu}.children.2\"] input.digits').value") == "2"
        level = f"{menu}.children.2.steps"
        for depth in (2, 3, 4):
            await p.click(f'.step-list[data-path="{level}"] > .palette [data-kind="menu"]')
            assert await p.js(f"document.querySelector('[data-path=\"{level}[0]\"] .level-badge').textContent") \
                == f"Level {depth}"
            level = f"{level}[0].children.1.steps"
        # a fifth level is refused with the server's own message, and nothing is added
        await p.click(f'.step-list[data-path="{level}"] > .palette [data-kind="menu"]')
        note = f'.step-list[data-path="{level}"] > .palette .palette-note'
        assert await p.js(f"document.querySelector('{note}').textContent") == "Menus can be nested at most 4 levels"
        assert await p.kinds(level) == []
        # a level-4 menu has no processing rules; level 1 offers them
        assert "Processing rules are not allowed in a level-4 menu" in await p.js(
            f"document.querySelector('[data-path=\"{level[:-len('.children.1.steps')]}\"] .rules').textContent")
        await p.click(f'[data-path="{menu}.rules.no_input"] input[type=checkbox]')
        assert await p.js(f"document.querySelector('[data-path=\"{menu}.rules.no_input\"] input.short').value") == "5"
        # the rule's own time period (A §4.4.2.1): none = at any time, or one of the schedules
        assert await p.js(f"document.querySelector('[data-path=\"{menu}.rules.no_input\"] select.rule-schedule').value") == ""
        await p.select(f'[data-path="{menu}.rules.no_input"] select.rule-schedule', schedule["id"])
        assert "There are unsaved changes." in await p.js("document.getElementById('save-state').textContent")
        await b.screenshot(shots / "scheme-editor-built-en.png")

        # reorder by dragging: the menu goes above the greeting
        await p.drag(f'[data-path="{top}[1]"] > .step-head .handle', f'[data-path="{top}[0]"]', above=True)
        assert await p.kinds(top) == ["menu", "greeting"]
        # … and with the keyboard: the menu's "Move down" button, then "Move up" again
        await p.js(f"document.querySelector('[data-path=\"{top}[0]\"] > .step-head [data-focus$=\":down\"]').focus()")
        await p.key("Enter", 13)
        assert await p.kinds(top) == ["greeting", "menu"]
        # the focus stayed on the moved card (its down arrow is now disabled, so on its up arrow)
        assert await p.js("document.activeElement.closest('li.step-card').dataset.kind") == "menu"
        assert await p.js("document.activeElement.dataset.focus.endsWith(':up')") is True
        await p.key("Enter", 13)
        assert await p.kinds(top) == ["menu", "greeting"]
        await b.wait_for("document.getElementById('announce').textContent === 'Moved to position 1 of 2.'")

        # the final hang-up: fixed, no remove button, the Delete key is refused in words
        final = f'.step-list[data-path="{top}"] > .final-card'
        assert await p.js(f"document.querySelector('{final}').dataset.kind") == "hangup"
        assert await p.js(f"document.querySelector('{final}').querySelector('button')") is None
        assert await p.js(f"document.querySelector('{final}').draggable") is False
        await p.js(f"document.querySelector('{final}').focus()")
        await p.key("Delete", 46)
        assert await p.js(f"document.querySelector('{final}') !== null")
        assert await p.js(f"document.querySelector('{final} .final-note').textContent") == \
            "The last step of a block is 'Hang up' and cannot be removed"
        # (dragging a card below the final step is impossible: the final card is no drop target)
        await p.drag(f'[data-path="{top}[1]"] > .step-head .handle', final, above=False)
        assert await p.kinds(top) == ["menu", "greeting"]

        # a time block over a schedule, with voice mail
        await p.click(".add-block .btn")
        await p.select('[data-path="blocks[0]"] .block-head select', schedule["id"])
        await p.click('.step-list[data-path="blocks[0].steps"] > .palette [data-kind="voicemail"]')
        await p.type('[data-path="blocks[0].steps[0]"] input', "office@example.com")
        top = "blocks[1].steps"
        menu = f"{top}[0]"

        # the server's validation error lands on the offending card, in the user's language
        forward = f"{menu}.children.1.steps[0]"
        await p.type(f'[data-path="{forward}"] input.short', "99999")
        await p.click("#save")
        await b.wait_for(f"document.querySelector('[data-path=\"{forward}\"]').classList.contains('has-error')")
        card_text = await p.js(f"document.querySelector('[data-path=\"{forward}\"] .card-error').textContent")
        assert "3600" in card_text, card_text
        assert await p.js("document.activeElement.getAttribute('aria-invalid')") == "true"
        assert not await p.js("document.getElementById('save-error').hidden")
        await b.screenshot(shots / "scheme-editor-error-en.png")
        assert (await Schemes(db, Scope.pbx(101)).find_one({"_id": scheme_id}))["blocks"][0]["steps"] == [
            {"id": (await Schemes(db, Scope.pbx(101)).find_one({"_id": scheme_id}))["blocks"][0]["steps"][0]["id"],
             "kind": "hangup"}]  # nothing was saved

        await p.type(f'[data-path="{forward}"] input.short', "25")
        await p.click("#save")
        await b.wait_for("document.getElementById('save-state').textContent === 'All changes are saved.'")
        assert await p.js(f"document.querySelector('[data-path=\"{forward}\"]').classList.contains('has-error')") \
            is False
        stored = await Schemes(db, Scope.pbx(101)).find_one({"_id": scheme_id})
        assert [b_["schedule_id"] for b_ in stored["blocks"]] == [schedule["id"], None]
        assert [s["kind"] for s in stored["blocks"][1]["steps"]] == ["menu", "greeting", "hangup"]
        assert stored["blocks"][1]["steps"][0]["children"]["1"]["steps"][0]["target"] == \
            {"type": "group", "id": group["id"]}
        assert stored["blocks"][1]["steps"][0]["children"]["1"]["steps"][0]["ring_time"] == 25
        assert stored["blocks"][1]["steps"][0]["rules"]["no_input"]["schedule_id"] == schedule["id"]

        # reload: the order and everything else came back
        await b.goto(f"{url}/telephony/schemes/{scheme_id}")
        await b.wait_for("document.getElementById('scheme-editor').dataset.ready === 'true'")
        assert await p.kinds(top) == ["menu", "greeting"]
        assert await p.js(f"document.querySelector('[data-path=\"{forward}\"] .field-wide select').value") == group["id"]
        assert await p.js(f"document.querySelector('[data-path=\"{top}[1]\"] select').value") == sound["id"]
        assert await p.js("document.querySelector('[data-path=\"blocks[0]\"] .block-head select').value") == schedule["id"]
        assert await p.js(f"document.querySelector('[data-path=\"{menu}.rules.no_input\"] select.rule-schedule').value") \
            == schedule["id"]
        depth4 = f"{menu}.children.2.steps[0].children.1.steps[0].children.1.steps[0]"
        assert await p.js(f"document.querySelector('[data-path=\"{depth4}\"] .level-badge').textContent") == "Level 4"
        assert await p.js("document.getElementById('save').disabled") is True
        await b.screenshot(shots / "scheme-editor-reloaded-en.png")
        await p.full_shot(shots / "scheme-editor-full-en.png")
        # a long menu folds away (a view setting: nothing to save) and unfolds
        await p.click(f'[data-path="{menu}"] > .step-head .fold')
        assert await p.js(f"document.querySelector('[data-path=\"{menu}\"] .folded').textContent") == "1 · 2"
        assert await p.js(f"document.querySelector('[data-path=\"{forward}\"]')") is None
        assert await p.js("document.getElementById('save').disabled") is True
        await p.click(f'[data-path="{menu}"] > .step-head .fold')
        assert await p.js(f"document.querySelector('[data-path=\"{forward}\"]') !== null")
        await p.js("window.scrollTo(0, 0)")

        # the list shows it; the Russian editor speaks Russian
        await b.goto(f"{url}/telephony/schemes")
        assert "Main line" in await p.js("document.getElementById('schemes').innerText")
        await b.screenshot(shots / "scheme-list-en.png")
        await p.click("#schemes details.more > summary")
        await b.wait_for(f"document.activeElement.id === 'rn-{scheme_id}'")   # the pop-up's first field
        await b.screenshot(shots / "scheme-list-actions-en.png")
        await b.submit_and_wait("document.querySelector('.topbar .lang-switch button[value=ru]').click(); true")
        await b.goto(f"{url}/telephony/schemes/{scheme_id}")
        await b.wait_for("document.getElementById('scheme-editor').dataset.ready === 'true'")
        text = await p.js("document.getElementById('scheme-editor').innerText")
        assert "В остальное время" in text and "Голосовое меню" in text and "Положить трубку" in text
        await b.screenshot(shots / "scheme-editor-ru.png")

        # unsaved changes: leaving asks first (the beforeunload dialog); staying keeps the edit
        await p.js("(() => { const el = document.getElementById('scheme-name'); el.focus();"
                   " el.setSelectionRange(el.value.length, el.value.length); })()")
        await b.send("Input.insertText", text=" 2")
        assert await p.js("document.getElementById('save-state').textContent") == "Есть несохранённые изменения."
        b.events = [e for e in b.events if e.get("method") != "Page.javascriptDialogOpening"]
        await b.ws.write_message(json.dumps({"id": 10**6, "method": "Page.navigate",
                                             "params": {"url": f"{url}/telephony/schemes"}}))
        dialog = await b.wait_event("Page.javascriptDialogOpening", timeout=10)
        assert dialog["params"]["type"] == "beforeunload"
        await b.send("Page.handleJavaScriptDialog", accept=False)
        assert await p.js("location.pathname") == f"/telephony/schemes/{scheme_id}"
        assert await p.js("document.getElementById('scheme-name').value") == "Main line 2"
    # the one deliberate invalid save is logged by Chromium as a failed (422) request; nothing else
    assert [m for m in b.console_problems() if "status of 422" not in m] == []
    assert len(b.console_problems()) == 1
