"""The cabinet in a real headless Chromium: sign in through the form, see the dashboard, the
nodes page refreshing itself from the API — with no console errors or CSP violations.
Screenshots go to $PULT_SCREENSHOT_DIR (default: the test's tmp dir)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone


from storage.repos.calls import save_call_record
from storage.repos.users import create_operator_admin, create_tenant_user
from web.pages.cabinet import NodesPage
from web.testing import web_stack

from .harness import BROWSER_TEST, cheap_hashing, login_form_js

pytestmark = BROWSER_TEST


class FakeNodes:
    """Test double of esl_control's NodeManager."""

    def __init__(self):
        self.nodes = [{"name": "fs-msk-1", "host": "127.0.0.1", "port": 8021, "state": "up",
                       "since": datetime.now(timezone.utc) - timedelta(hours=3), "reconnects": 0},
                      {"name": "fs-msk-2", "host": "127.0.0.2", "port": 8021, "state": "down",
                       "error": "Connection refused", "reconnects": 12}]

    def snapshot(self):
        return [dict(n) for n in self.nodes]


async def test_sign_in_dashboard_and_live_nodes(settings, store, browser, shots, monkeypatch):
    with cheap_hashing():
        await create_tenant_user(store, 101, "anna", "tenant-pass-1", display_name="Анна Петрова")
        await create_operator_admin(store, "root", "operator-pass-1", "root@example.com", language="en")
    now = datetime.now(timezone.utc)
    for i in range(8):
        start = now - timedelta(minutes=17 * i + 2)
        await save_call_record(store.db, {
            "uuid": f"b-{i}", "pbx_id": 101, "caller": f"+7916555{i:04d}", "callee": "+74951234567",
            "start": start, "end": start + timedelta(seconds=40 + 13 * i),
            "billsec": 0 if i in (2, 5) else 25 + 11 * i, "direction": "inbound" if i % 3 else "outbound"})
    monkeypatch.setattr(NodesPage, "refresh_ms", 300)
    nodes = FakeNodes()
    async with web_stack(settings, store, nodes=nodes) as (ctx, url):
        b = browser
        await b.goto(f"{url}/")
        assert await b.eval("location.pathname") == "/login"
        # headless Chromium asks for en-US: the anonymous login page follows the browser
        assert "Sign in to the cabinet" in await b.eval("document.body.innerText")
        await b.screenshot(shots / "login-en.png")
        await b.submit_and_wait(login_form_js("101/anna", "tenant-pass-1"))
        assert await b.eval("location.pathname") == "/"
        text = await b.eval("document.body.innerText")
        # anna's own language wins once signed in
        assert "Здравствуйте, Анна Петрова!" in text and "vpbx101.pult.local" in text
        assert "+79165550000" in text
        # the stylesheet really applied (no CSP block): the sidebar is laid out as a column
        assert await b.eval("getComputedStyle(document.querySelector('.sidebar')).width") == "232px"
        await b.screenshot(shots / "dashboard-ru.png")

        # switch to English with the header buttons
        await b.submit_and_wait("document.querySelector('.topbar .lang-switch button[value=en]').click(); true")
        assert "Calls today" in await b.eval("document.body.textContent")
        await b.goto(f"{url}/calls")
        await b.screenshot(shots / "calls-en.png")

        # sign out and in as the operator: the nodes page refreshes by itself
        await b.submit_and_wait("document.querySelector('.topbar form[action=\"/logout\"] button').click(); true")
        assert await b.eval("location.pathname") == "/login"
        await b.submit_and_wait(
            "document.getElementById('login').value='root';"
            "document.getElementById('password').value='operator-pass-1';"
            "document.querySelector('form.form').submit(); true")
        await b.goto(f"{url}/nodes")
        assert await b.eval("document.querySelectorAll('#nodes-table .state-up').length") == 1
        nodes.nodes[1].update(state="up", error=None)
        await b.wait_for("document.querySelectorAll('#nodes-table .state-up').length === 2", timeout=10)
        assert "Updated at" in await b.eval("document.getElementById('nodes-updated').textContent")
        await b.screenshot(shots / "nodes-en.png")
        await b.goto(f"{url}/")
        await b.screenshot(shots / "dashboard-operator-en.png")
    assert b.console_problems() == []
