"""The roles editor and the API keys page in a real headless Chromium: create a custom role from
a base role (its defaults fill in, a section is switched on), see a specific error, create an API
key and see its secret once, revoke it — with no console errors or CSP violations."""
from __future__ import annotations



from storage.repos.users import create_tenant_user
from web.testing import web_stack

from .harness import BROWSER_TEST, cheap_hashing, sign_in

pytestmark = BROWSER_TEST


async def test_roles_editor_and_api_keys(settings, store, browser, shots):
    with cheap_hashing():
        await create_tenant_user(store, 101, "ada", "tenant-pass-1", display_name="Ада Админ", language="ru")
    async with web_stack(settings, store) as (ctx, url):
        b = browser
        await sign_in(b, url, "101/ada")
        # the menu leads to the roles editor (Russian: the user's language)
        await b.goto(f"{url}/")
        assert await b.eval("!!document.querySelector('.sidebar a[href=\"/access/roles\"]')")
        await b.goto(f"{url}/access/roles")
        text = await b.eval("document.body.innerText")
        assert "Роли и доступ" in text and "Руководитель компании" in text and "Базовые роли" in text
        assert await b.eval("document.querySelectorAll('#base-roles tbody tr[data-section]').length") == 23
        await b.screenshot(shots / "access-roles-ru.png")

        # new role: choosing the base fills its rights in; switch one section on; save
        await b.goto(f"{url}/access/roles/new")
        await b.eval("var s=document.getElementById('base'); s.value='accountant';"
                     "s.dispatchEvent(new Event('change')); true")
        assert await b.eval("document.getElementById('level-finance').value") == "edit"
        assert await b.eval("document.getElementById('level-employees').value") == "none"
        # a reach is only editable while its section is open
        assert await b.eval("document.querySelector('select[name=\"reach.employees\"]').disabled") is True
        await b.eval("var l=document.getElementById('level-employees'); l.value='view';"
                     "l.dispatchEvent(new Event('change')); true")
        assert await b.eval("document.querySelector('select[name=\"reach.employees\"]').disabled") is False
        # first with the name of a base role: a specific error, the choices are kept
        await b.submit_and_wait("document.getElementById('name').value='Бухгалтер';"
                                "document.getElementById('save-role').click(); true")
        assert "Так называется базовая роль" in await b.eval("document.body.innerText")
        assert await b.eval("document.getElementById('level-employees').value") == "view"
        await b.screenshot(shots / "access-role-error-ru.png")
        await b.submit_and_wait("document.getElementById('name').value='Бухгалтер-кадровик';"
                                "document.getElementById('save-role').click(); true")
        assert await b.eval("location.pathname") == "/access/roles"
        assert "Роль сохранена." in await b.eval("document.body.innerText")
        assert "Бухгалтер-кадровик" in await b.eval("document.getElementById('custom-roles').innerText")
        role = await ctx.store.db["roles"].find_one({"name": "Бухгалтер-кадровик"})
        assert role["base"] == "accountant" and role["sections"]["employees"]["level"] == "view"
        assert role["sections"]["finance"]["level"] == "edit"

        # API keys: a bad whitelist entry is explained; then a key, its secret shown once
        await b.goto(f"{url}/access/api-keys")
        await b.submit_and_wait(
            "document.getElementById('key-name').value='CRM';"
            "document.getElementById('key-whitelist').value='10.0.0.1\\n10.0.0.300';"
            "document.getElementById('create-key').click(); true")
        assert "10.0.0.300: Каждая часть — число от 0 до 255" in await b.eval("document.body.innerText")
        await b.submit_and_wait(
            "document.getElementById('key-whitelist').value='127.0.0.1';"
            "document.getElementById('key-role').value='administrator';"
            "document.getElementById('create-key').click(); true")
        secret = await b.eval("document.getElementById('secret-value').value")
        assert secret.startswith("pult_")
        await b.eval("document.getElementById('copy-secret').click(); true")
        assert await b.eval("document.getElementById('copy-secret').textContent") == "Скопировано"
        await b.screenshot(shots / "access-key-created-ru.png")
        # the key works over the API, and the page never shows the secret again
        import httpx

        async with httpx.AsyncClient(base_url=url) as api:
            r = await api.get("/api/v1/roles", headers={"Authorization": f"Bearer {secret}"})
            assert r.status_code == 200
        await b.goto(f"{url}/access/api-keys")
        assert secret not in await b.eval("document.documentElement.outerHTML")
        # revoke (the confirmation is accepted)
        await b.eval("window.confirm = function () { return true; }; true")
        await b.submit_and_wait("document.querySelector('#keys-table form button').click(); true")
        assert "Ключ отозван." in await b.eval("document.body.innerText")
        assert "Отозван" in await b.eval("document.getElementById('keys-table').innerText")
        async with httpx.AsyncClient(base_url=url) as api:
            r = await api.get("/api/v1/roles", headers={"Authorization": f"Bearer {secret}"})
            assert r.status_code == 401

        # the action log shows all of it, the API key's own change as «API»
        await b.goto(f"{url}/access/log")
        log = await b.eval("document.getElementById('log-table').innerText")
        assert "Бухгалтер-кадровик" in log and "Отозван" in log and "CRM" in log
        await b.screenshot(shots / "access-log-ru.png")
    # the two deliberate form errors answer 422 (Chromium logs that status); nothing else may appear
    problems = [p for p in b.console_problems() if "status of 422" not in p]
    assert problems == []
