"""Login, recovery and the operator console in a real headless Chromium: recover a password by
code (the button waits for 10 characters), the captcha picture after failures, the operator
creating an account and a PBX through the forms, blocking it, RU/EN — with no console errors or
CSP violations. Screenshots go to $PULT_SCREENSHOT_DIR (default: the test's tmp dir)."""
from __future__ import annotations

import re


from storage.repos.tenants import create_account, create_pbx
from storage.repos.users import create_operator_admin, create_tenant_user, set_contacts
from web.auth import recovery
from web.auth.ratelimit import LoginLimits
from web.testing import web_stack

from .harness import BROWSER_TEST, cheap_hashing

pytestmark = BROWSER_TEST


def fill(**fields) -> str:
    return "".join(f"document.getElementById({k!r}).value={v!r};" for k, v in fields.items())


async def test_recovery_captcha_and_operator_console(settings, store, browser, shots, monkeypatch):
    with cheap_hashing():
        acc = await create_account(store.db, "ООО Ромашка", "boss@romashka.ru")
        pbx = await create_pbx(store.db, acc["account_id"], "Офис", "pult.local")
        anna = await create_tenant_user(store, pbx["pbx_id"], "anna", "tenant-pass-1", display_name="Анна")
        await set_contacts(store, anna["_id"], email="anna@romashka.ru")
        await create_operator_admin(store, "root", "operator-pass-1", "root@example.com", language="en")
    sent: list[str] = []

    async def deliver(handler, kind, to, lang, subject, text, key):  # the e-mail job is tested elsewhere
        sent.append(text)
    monkeypatch.setattr(recovery, "_deliver", deliver)
    b = browser
    async with web_stack(settings, store, login_limits=LoginLimits(per_login=10, per_ip=50)) as (ctx, url):
        # --- recovery by code, in Russian
        await b.goto(f"{url}/login")
        await b.submit_and_wait("document.querySelector('.lang-switch button[value=ru]').click(); true")
        assert "Забыли пароль или входите впервые?" in await b.eval("document.body.innerText")
        await b.submit_and_wait("document.querySelector('a[href=\"/password/reset\"]').click(); true")
        await b.submit_and_wait(fill(identifier="anna@romashka.ru") + "document.querySelector('form.form').submit(); true")
        assert (await b.eval("location.pathname")).startswith("/password/code/")
        await recovery.wait_deliveries()
        code = re.search(r"\d{6}", sent[0]).group(0)
        assert await b.eval("document.querySelector('button[data-min-password]').disabled") is True
        await b.eval(fill(code=code, new_password="short1") +
                     "document.getElementById('new_password').dispatchEvent(new Event('input')); true")
        assert await b.eval("document.querySelector('button[data-min-password]').disabled") is True
        await b.eval(fill(new_password="new-pass-2026", new_password_repeat="new-pass-2026") +
                     "document.getElementById('new_password').dispatchEvent(new Event('input')); true")
        assert await b.eval("document.querySelector('button[data-min-password]').disabled") is False
        await b.screenshot(shots / "recovery-code-ru.png")
        await b.submit_and_wait("document.querySelector('button[data-min-password]').click(); true")
        assert await b.eval("location.pathname") == "/"
        assert "Анна" in await b.eval("document.body.innerText")
        await b.submit_and_wait("document.querySelector('.topbar form[action=\"/logout\"] button').click(); true")

        # --- three wrong passwords: the form shows the captcha picture
        for _ in range(3):
            await b.submit_and_wait(fill(login="root", password="wrong-pass-1") +
                                    "document.querySelector('form.form').submit(); true")
        assert await b.eval("!!document.querySelector('img.captcha-img')")
        await b.wait_for("document.querySelector('img.captcha-img').complete && "
                         "document.querySelector('img.captcha-img').naturalWidth === 180")
        await b.screenshot(shots / "login-captcha-ru.png")
        cid = await b.eval("document.querySelector('input[name=captcha_id]').value")
        answer = await ctx.redis.get(f"{ctx.redis_prefix}captcha:{cid}")
        await b.submit_and_wait(fill(login="root", password="operator-pass-1", captcha=answer) +
                                "document.querySelector('form.form').submit(); true")
        assert await b.eval("location.pathname") == "/"

        # --- the operator console (root reads English)
        await b.goto(f"{url}/operator/accounts")
        text = await b.eval("document.body.innerText")
        assert "ООО Ромашка" in text and "DID pool" in text and "Platform settings" in text
        await b.goto(f"{url}/operator/accounts/new")
        await b.submit_and_wait(fill(**{"f-name": "ИП Петров", "f-email": "petrov@", "f-requisites.inn": "12"}) +
                                "document.getElementById('account-form').submit(); true")
        text = await b.eval("document.body.innerText")
        assert "Enter an e-mail address like name@example.com." in text and "The INN has 10 digits" in text
        await b.submit_and_wait(fill(**{"f-email": "petrov@example.ru", "f-requisites.inn": "500100732259"}) +
                                "document.getElementById('account-form').submit(); true")
        assert "Created." in await b.eval("document.body.innerText")
        await b.screenshot(shots / "operator-account-en.png")
        await b.submit_and_wait("document.querySelector('a[href^=\"/operator/pbxes/new\"]').click(); true")
        await b.submit_and_wait(fill(**{"f-name": "Колл-центр"}) +
                                "document.getElementById('f-edition').value='business';"
                                "document.querySelector('input[name=demo]').checked=true;"
                                "document.getElementById('pbx-form').submit(); true")
        text = await b.eval("document.body.innerText")
        assert "Demo version: 14 day(s) left." in text and "Convert to the full version" in text
        await b.submit_and_wait(fill(**{"f-reason": "spam calls"}) +
                                "document.querySelector('#block-form button[value=block]').click(); true")
        assert "The PBX is blocked by the operator." in await b.eval("document.getElementById('pbx-banner').innerText")
        await b.screenshot(shots / "operator-pbx-blocked-en.png")
        await b.submit_and_wait("document.querySelector('.topbar .lang-switch button[value=ru]').click(); true")
        text = await b.eval("document.body.innerText")
        assert "ВАТС заблокирована оператором." in text and "Разблокировать сейчас" in text
        await b.goto(f"{url}/operator/editions")
        assert "Корпоративная" in await b.eval("document.body.innerText")
        await b.screenshot(shots / "operator-editions-ru.png")
    # the refused forms answer 401/422 on purpose (Chromium logs each such page load); nothing else
    expected = re.compile(r"^Failed to load resource: the server responded with a status of (401|422) ")
    assert [p for p in b.console_problems() if not expected.match(p)] == []
