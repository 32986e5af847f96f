"""Create-password and recovery end to end: codes by real SMTP (aiosmtpd) and a local SMS HTTP
gateway through a real Celery worker; expiry, tries and the post-reset cooldown with a fake clock
(no sleeping); the account-number link: single use, 24 hours; password policy; sessions of the
user end on reset."""
from __future__ import annotations

import re

import pytest

from jobs.testing import TEST_REDIS_URL, cleanup, configure_for_tests, running_worker
from pult.clock import FixedClock, use_clock
from pult.passwords import set_hash_profile
from storage.repos.tenants import create_account, create_pbx
from storage.repos.users import create_account_admin, create_tenant_user, set_contacts, set_password
from tests.integration.harness import SmsGateway
from web.auth import recovery
from web.testing import WebClient, web_stack

NEW_PW = "brand-new-pass-7"


@pytest.fixture(scope="module")
def gateway():
    g = SmsGateway()
    yield g
    g.stop()


@pytest.fixture(scope="module")
def worker(sink, gateway, tmp_path_factory):
    from pult.settings import load_settings

    s = load_settings(redis_url=TEST_REDIS_URL, data_dir=tmp_path_factory.mktemp("auth-jobs"),
                      smtp_port=sink.port, sms_gateway_url=gateway.url, log_level="WARNING",
                      sms_allow_private=True)  # the gateway is a loopback receiver
    prefix = configure_for_tests(s)
    with running_worker(s, queues=["default", "mail", "sms"]) as handle:
        yield s
    cleanup(prefix)


@pytest.fixture(autouse=True)
def fresh(sink, gateway):
    set_hash_profile("cheapest")
    sink.reset()
    gateway.reset()
    yield
    set_hash_profile("default")


@pytest.fixture
async def web(settings, store, worker, sink, gateway):
    s = settings.model_copy(update={"smtp_port": sink.port, "sms_gateway_url": gateway.url,
                                    "sms_allow_private": True, "base_url": "https://pult.example"})
    acc = await create_account(store.db, "ООО Ромашка", "boss@romashka.ru")
    pbx = await create_pbx(store.db, acc["account_id"], "Офис", "pult.test")
    anna = await create_tenant_user(store, pbx["pbx_id"], "anna", "old-pass-123", language="ru")
    await set_contacts(store, anna["_id"], email="anna@romashka.ru", phone="+79161112233")
    admin = await create_account_admin(store, acc["account_id"], "boss@romashka.ru", pbx_id=pbx["pbx_id"],
                                       language="en")
    with use_clock(FixedClock()) as clock:  # the process clock, moved by the tests (no sleeping)
        async with web_stack(s, store) as (ctx, url):
            yield {"ctx": ctx, "url": url, "clock": clock, "anna": anna, "admin": admin, "account": acc}


def code_of(text: str) -> str:
    return re.search(r"\b(\d{6})\b", text).group(1)


async def request(c: WebClient, identifier: str):
    r = await c.post_form("/password/reset", {"identifier": identifier})
    flow = r.headers.get("location", "").rsplit("/", 1)[-1]
    return r, flow


async def test_email_code_sets_the_password_signs_in_and_ends_other_sessions(web, sink):
    url = web["url"]
    async with WebClient(url) as old:
        await old.login("101/anna", "old-pass-123")
        async with WebClient(url, headers={"Accept-Language": "ru"}) as c:
            r, flow = await request(c, "Anna@Romashka.ru")
            assert r.status_code == 302 and r.headers["location"] == f"/password/code/{flow}"
            page = await c.get(f"/password/code/{flow}")
            assert "Если адрес нам известен, мы отправили на него код" in page.text
            await recovery.wait_deliveries()
            (got,) = sink.wait_for(1)
            msg = got.message
            assert got.rcpt_tos == ["anna@romashka.ru"] and msg["Subject"] == "Ваш код подтверждения"
            code = code_of(msg.get_content())
            r = await c.post_form(f"/password/code/{flow}", {"code": code, "new_password": NEW_PW,
                                                              "new_password_repeat": NEW_PW})
            assert r.status_code == 302 and r.headers["location"] == "/"
            assert (await c.get("/api/v1/me")).json()["login"] == "anna"
        assert (await old.get("/api/v1/me")).status_code == 401   # logged out everywhere
    async with WebClient(url) as c:
        await c.login("anna@romashka.ru", NEW_PW)
    entry = await web["ctx"].store.db["audit_log"].find_one({"operation": "password_reset"})
    assert entry["pbx_id"] == 101 and entry["after"]["via"] == "code" and "password_hash" not in str(entry)


async def test_sms_code_and_cooldown_after_success(web, gateway):
    url, clock = web["url"], web["clock"]
    async with WebClient(url, headers={"Accept-Language": "en"}) as c:
        r = await c.api("POST", "/api/v1/password/codes", json={"identifier": "8 916 111-22-33"})
        assert r.status_code == 202
        flow = r.json()["flow"]
        await recovery.wait_deliveries()
        for _ in range(100):
            if gateway.messages:
                break
            import asyncio

            await asyncio.sleep(0.05)
        (sms,) = gateway.messages
        assert sms["to"] == "+79161112233" and "Pult" in sms["text"]
        r = await c.api("POST", f"/api/v1/password/codes/{flow}",
                        json={"code": code_of(sms["text"]), "new_password": NEW_PW})
        assert r.status_code == 200 and r.json()["user"]["login"] == "anna"
        # 1 hour cooldown for that phone, the clock says when it ends
        r = await c.api("POST", "/api/v1/password/codes", json={"identifier": "+79161112233"})
        assert r.status_code == 429 and r.json()["error"]["code"] == "reset_cooldown"
        assert "60 мин" in r.json()["error"]["message"]  # signed in now: anna reads Russian
        clock.advance(59 * 60)
        assert (await c.api("POST", "/api/v1/password/codes", json={"identifier": "+79161112233"})).status_code == 429
        clock.advance(61)
        assert (await c.api("POST", "/api/v1/password/codes", json={"identifier": "+79161112233"})).status_code == 202


async def test_code_expires_after_three_minutes(web, sink):
    url, clock = web["url"], web["clock"]
    async with WebClient(url, headers={"Accept-Language": "en"}) as c:
        flow = (await c.api("POST", "/api/v1/password/codes", json={"identifier": "anna@romashka.ru"})).json()["flow"]
        await recovery.wait_deliveries()
        code = code_of(sink.wait_for(1)[0].message.get_content())
        clock.advance(181)
        r = await c.api("POST", f"/api/v1/password/codes/{flow}", json={"code": code, "new_password": NEW_PW})
        assert r.status_code == 410 and r.json()["error"]["code"] == "code_expired"
        assert r.json()["error"]["message"] == "The code has expired. Request a new one."


async def test_five_tries_then_the_code_is_dead_and_weak_passwords_use_no_try(web, sink):
    url = web["url"]
    async with WebClient(url, headers={"Accept-Language": "en"}) as c:
        flow = (await c.api("POST", "/api/v1/password/codes", json={"identifier": "anna@romashka.ru"})).json()["flow"]
        await recovery.wait_deliveries()
        code = code_of(sink.wait_for(1)[0].message.get_content())
        wrong = f"{(int(code) + 1) % 10**6:06d}"
        r = await c.api("POST", f"/api/v1/password/codes/{flow}", json={"code": code, "new_password": "short1"})
        assert r.status_code == 422 and "at least 10 characters" in r.json()["error"]["fields"]["new_password"]
        r = await c.api("POST", f"/api/v1/password/codes/{flow}", json={"code": code, "new_password": "пароль-кириллица-1a"})
        assert "Cyrillic" in r.json()["error"]["fields"]["new_password"]
        for left in (4, 3, 2, 1):
            r = await c.api("POST", f"/api/v1/password/codes/{flow}", json={"code": wrong, "new_password": NEW_PW})
            assert r.status_code == 422 and r.json()["error"]["message"] == f"Wrong code. Attempts left: {left}."
        r = await c.api("POST", f"/api/v1/password/codes/{flow}", json={"code": wrong, "new_password": NEW_PW})
        assert r.status_code == 410 and r.json()["error"]["code"] == "code_exhausted"
        r = await c.api("POST", f"/api/v1/password/codes/{flow}", json={"code": code, "new_password": NEW_PW})
        assert r.status_code == 410   # even the right code is refused now


async def test_unknown_identifier_gets_the_same_answer_and_no_message(web, sink):
    url = web["url"]
    async with WebClient(url, headers={"Accept-Language": "en"}) as c:
        known, _ = await request(c, "anna@romashka.ru")
        unknown, flow = await request(c, "nobody@romashka.ru")
        assert known.status_code == unknown.status_code == 302
        assert (await c.get(f"/password/code/{flow}")).status_code == 200
        r = await c.post_form(f"/password/code/{flow}", {"code": "123456", "new_password": NEW_PW,
                                                          "new_password_repeat": NEW_PW})
        assert r.status_code == 422 and "Attempts left: 4" in r.text
        bad = await c.post_form("/password/reset", {"identifier": "not an address"})
        assert bad.status_code == 422 and "Enter an e-mail address (name@example.com) or a phone number" in bad.text
    await recovery.wait_deliveries()
    got = sink.wait_for(1)
    import asyncio

    await asyncio.sleep(0.3)
    assert [m.rcpt_tos for m in sink.received] == [["anna@romashka.ru"]]
    assert len(got) == 1


async def test_account_link_is_single_use_and_valid_24_hours(web, sink):
    url, clock, number = web["url"], web["clock"], str(web["account"]["account_id"])
    async with WebClient(url, headers={"Accept-Language": "en"}) as c:
        r = await c.post_form("/password/account", {"account": number, "email": "wrong@romashka.ru"})
        assert r.status_code == 200 and "If the account number and the e-mail match" in r.text
        r = await c.post_form("/password/account", {"account": number, "email": "BOSS@romashka.ru"})
        assert r.status_code == 200
        r = await c.post_form("/password/account", {"account": "12", "email": "x"})
        assert r.status_code == 422 and "6 to 9 digits" in r.text and "registration" in r.text
        await recovery.wait_deliveries()
        (got,) = sink.wait_for(1)
        assert got.rcpt_tos == ["boss@romashka.ru"] and number in got.message["Subject"]
        link = re.search(r"https://pult\.example(/password/link/[\w-]+)", got.message.get_content()).group(1)
        assert (await c.get(link)).status_code == 200
        r = await c.post_form(link, {"new_password": NEW_PW, "new_password_repeat": "different-pass-1"})
        assert r.status_code == 422 and "do not match" in r.text      # nothing used up
        r = await c.post_form(link, {"new_password": NEW_PW, "new_password_repeat": NEW_PW})
        assert r.status_code == 302 and r.headers["location"] == "/offer"   # first login: the offer
        r = await c.post_form(link, {"new_password": "another-pass-9", "new_password_repeat": "another-pass-9"})
        assert r.status_code == 410 and "already used" in r.text
    # a second link, 24 hours later, is expired
    async with WebClient(url, headers={"Accept-Language": "en"}) as c:
        await c.post_form("/password/account", {"account": number, "email": "boss@romashka.ru"})
        await recovery.wait_deliveries()
        got = sink.wait_for(2)[1]
        link = re.search(r"(/password/link/[\w-]+)", got.message.get_content()).group(1)
        clock.advance(24 * 3600 + 1)
        assert (await c.get(link)).status_code == 410
        r = await c.api("POST", "/api/v1/password/links/" + link.rsplit("/", 1)[1], json={"new_password": NEW_PW})
        assert r.status_code == 410 and r.json()["error"]["code"] == "link_expired"


async def test_ambiguous_email_gets_an_explanation_instead_of_a_code(web, sink, store):
    pbx2 = await create_pbx(store.db, web["account"]["account_id"], "Склад", "pult.test")
    other = await create_tenant_user(store, pbx2["pbx_id"], "anna", "other-pass-12")
    await set_contacts(store, other["_id"], email="anna@romashka.ru")
    async with WebClient(web["url"]) as c:
        r, flow = await request(c, "anna@romashka.ru")
        assert r.status_code == 302
        await recovery.wait_deliveries()
        (got,) = sink.wait_for(1)
        assert "phone" in got.message.get_content() or "телефон" in got.message.get_content()
        assert not re.search(r"\b\d{6}\b", got.message.get_content())
