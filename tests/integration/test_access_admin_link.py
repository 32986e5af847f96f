"""«Change the main administrator's password» from the tenant side (inventory D §4.6.3.1a): a user
with the access-settings right sends the account administrator the 24-hour single-use link, to
the account's registration e-mail only (shown masked); once per 10 minutes per account (a fake
clock, no sleeping); audited. Delivered through a real Celery worker to a real SMTP sink."""
from __future__ import annotations

import re

import pytest

from jobs.testing import TEST_REDIS_URL, cleanup, configure_for_tests, running_worker
from pult.clock import FixedClock, use_clock
from pult.passwords import set_hash_profile
from storage.repos.tenants import create_account, create_pbx
from storage.repos.users import create_account_admin, create_tenant_user
from web.auth import recovery
from web.testing import WebClient, web_stack

NEW_PW = "brand-new-pass-7"


@pytest.fixture(scope="module")
def worker(sink, tmp_path_factory):
    from pult.settings import load_settings

    s = load_settings(redis_url=TEST_REDIS_URL, data_dir=tmp_path_factory.mktemp("admin-link-jobs"),
                      smtp_port=sink.port, log_level="WARNING")
    prefix = configure_for_tests(s)
    with running_worker(s, queues=["default", "mail"]):
        yield s
    cleanup(prefix)


@pytest.fixture
async def web(settings, store, worker, sink):
    set_hash_profile("cheapest")
    sink.reset()
    s = settings.model_copy(update={"smtp_port": sink.port, "base_url": "https://pult.example"})
    acc = await create_account(store.db, "ООО Ромашка", "boss@romashka.ru")
    pbx = (await create_pbx(store.db, acc["account_id"], "Офис", "pult.test"))["pbx_id"]
    await create_tenant_user(store, pbx, "admin", "tenant-pass-0", language="en")
    await create_tenant_user(store, pbx, "head", "tenant-pass-1", language="en", role="company_head")
    await create_account_admin(store, acc["account_id"], "boss@romashka.ru", pbx_id=pbx, language="en")
    with use_clock(FixedClock()) as clock:  # the process clock, moved by the tests (no sleeping)
        async with web_stack(s, store) as (ctx, url):
            yield {"ctx": ctx, "url": url, "clock": clock, "pbx": pbx, "account": acc}
    set_hash_profile("default")


async def test_the_link_reaches_the_registration_email_and_works_once(web, sink):
    url, pbx, number = web["url"], web["pbx"], str(web["account"]["account_id"])
    db = web["ctx"].store.db
    async with WebClient(url, headers={"Accept-Language": "en"}) as c:
        await c.login(f"{pbx}/admin", "tenant-pass-0")
        page = await c.get("/access/roles")
        assert "Change the main administrator&#x27;s password" in page.text
        assert "b***@r***.ru" in page.text and "boss@romashka.ru" not in page.text
        r = await c.post_form("/access/admin-password", {})
        assert r.status_code == 302 and r.headers["location"] == "/access/roles?done=link"
        page = await c.get(r.headers["location"])
        assert "A link to set a new password has been sent to b***@r***.ru" in page.text
        await recovery.wait_deliveries()
        (got,) = sink.wait_for(1)
        assert got.rcpt_tos == ["boss@romashka.ru"] and number in got.message["Subject"]
        link = re.search(r"https://pult\.example(/password/link/[\w-]+)", got.message.get_content()).group(1)
        # audited, with the masked address only
        entry = await db["audit_log"].find_one({"operation": "admin_password_link"})
        assert entry["pbx_id"] == pbx and entry["actor"]["login"] == f"{pbx}/admin"
        assert entry["after"] == {"sent_to": "b***@r***.ru"} and str(entry["object"]["id"]) == number
        # a second request within 10 minutes is refused with the time left; the API says the same
        r = await c.post_form("/access/admin-password", {})
        assert r.status_code == 429 and "You can send another in 10 min" in r.text
        r = await c.api("POST", "/api/v1/access/admin-password-link")
        assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_requests"
        web["clock"].advance(9 * 60)
        r = await c.api("POST", "/api/v1/access/admin-password-link")
        assert r.status_code == 429 and "in 1 min" in r.json()["error"]["message"]
        assert await db["audit_log"].count_documents({"operation": "admin_password_link"}) == 1
    # the owner opens the link: it sets the password once
    async with WebClient(url, headers={"Accept-Language": "en"}) as owner:
        assert (await owner.get(link)).status_code == 200
        r = await owner.post_form(link, {"new_password": NEW_PW, "new_password_repeat": NEW_PW})
        assert r.status_code == 302
        r = await owner.post_form(link, {"new_password": "another-pass-9", "new_password_repeat": "another-pass-9"})
        assert r.status_code == 410
    async with WebClient(url) as owner:
        r = await owner.post_form("/login", {"login": number, "password": NEW_PW})
        assert r.status_code == 302
    # after 10 minutes another link may be sent (the API answers with the masked address)
    web["clock"].advance(61)
    async with WebClient(url) as c:
        await c.login(f"{pbx}/admin", "tenant-pass-0")
        await c.api("PATCH", "/api/v1/me", json={"language": "ru"})
        r = await c.api("POST", "/api/v1/access/admin-password-link")
        assert r.status_code == 202 and r.json() == {"sent_to": "b***@r***.ru"}
        r = await c.api("POST", "/api/v1/access/admin-password-link")
        assert r.status_code == 429 and "менее 10 минут назад" in r.json()["error"]["message"]
        await recovery.wait_deliveries()
        assert len(sink.wait_for(2)) == 2


async def test_only_users_with_the_access_settings_right_may_send_it(web, sink):
    url, pbx = web["url"], web["pbx"]
    async with WebClient(url, headers={"Accept-Language": "en"}) as head:
        await head.login(f"{pbx}/head", "tenant-pass-1")
        assert (await head.api("POST", "/api/v1/access/admin-password-link")).status_code == 403
        assert (await head.post_form("/access/admin-password", {})).status_code == 403
    await recovery.wait_deliveries()
    assert sink.received == []
    assert await web["ctx"].store.db["audit_log"].count_documents({"operation": "admin_password_link"}) == 0
