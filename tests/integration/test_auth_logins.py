"""Every way to sign in, through a real Tornado server, real Redis and the embedded store: account
number (with the offer on the first login), <pbx>/<login>, e-mail, phone, SIP account, ambiguous
e-mail/phone, blocked PBXs left out of the global lookup, the captcha after 3 failures and always
for a PBX that asks for it, and the same answers for unknown and known logins."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from storage.repos.tenants import create_account, create_pbx, save_platform_settings, update_pbx
from storage.repos.users import (create_account_admin, create_operator_admin, create_tenant_user,
                                 link_employee, set_contacts, set_password)
from tests.integration.harness import cheap_hashes  # noqa: F401  (autouse)
from web.auth.ratelimit import LoginLimits
from web.testing import WebClient, web_stack

PW = "tenant-pass-1"


@pytest.fixture
async def world(store):
    db = store.db
    acc = await create_account(db, "ООО Ромашка", "boss@romashka.ru")
    p1 = await create_pbx(db, acc["account_id"], "Офис", "pult.test", edition="basic")
    p2 = await create_pbx(db, acc["account_id"], "Склад", "pult.test", edition="basic")
    admin = await create_account_admin(store, acc["account_id"], "boss@romashka.ru", pbx_id=p1["pbx_id"])
    await set_password(store, admin["_id"], "account-pass-1")
    anna = await create_tenant_user(store, p1["pbx_id"], "anna", PW, "anna@romashka.ru", language="en")
    await set_contacts(store, anna["_id"], email="anna@romashka.ru", phone="+7 916 111-22-33")
    await link_employee(store, anna["_id"], "emp-anna")
    await db["sip_accounts"].insert_one({"_id": "sa1", "pbx_id": p1["pbx_id"], "domain": p1["sip_domain"],
                                         "login": "201", "employee_id": "emp-anna"})
    # the same e-mail in two PBXs (one person working for both offices)
    petr1 = await create_tenant_user(store, p1["pbx_id"], "petr", "petr-pass-11", language="en")
    petr2 = await create_tenant_user(store, p2["pbx_id"], "petr", "petr-pass-22", language="en")
    await set_contacts(store, petr1["_id"], email="petr@romashka.ru", phone="+79160000001")
    await set_contacts(store, petr2["_id"], email="petr@romashka.ru", phone="+79160000002")
    await create_operator_admin(store, "root", "operator-pass-1", "root@pult.test", language="en")
    return {"account": acc, "p1": p1, "p2": p2, "admin": admin, "anna": anna, "petr1": petr1, "petr2": petr2}


@pytest.fixture
async def web(settings, store, world):
    limits = LoginLimits(per_login=10, per_ip=100, window=300)
    async with web_stack(settings, store, login_limits=limits) as (ctx, url):
        yield ctx, url


async def login(url, login_text, password, **headers):
    async with WebClient(url, headers={"Accept-Language": "en", **headers}) as c:
        r = await c.api("POST", "/api/v1/session", json={"login": login_text, "password": password})
        return r.status_code, r.json()


@pytest.mark.parametrize("text", ["101/anna", "anna@romashka.ru", "ANNA@Romashka.ru", "+7 916 111-22-33",
                                  "8 (916) 111-22-33", "201@vpbx101.pult.test"])
async def test_employee_signs_in_by_login_email_phone_and_sip_account(web, world, text):
    ctx, url = web
    status, body = await login(url, text, PW)
    assert status == 200, body
    assert body["user"]["id"] == world["anna"]["_id"] and body["user"]["pbx_id"] == 101


async def test_ambiguous_email_and_phone(web, world):
    ctx, url = web
    # different passwords: the one that fits decides
    status, body = await login(url, "petr@romashka.ru", "petr-pass-22")
    assert status == 200 and body["user"]["pbx_id"] == world["p2"]["pbx_id"]
    # the same password in both cards: ask for another identifier (only said with a right password)
    await set_password(ctx.store, world["petr2"]["_id"], "petr-pass-11")
    status, body = await login(url, "petr@romashka.ru", "petr-pass-11")
    assert status == 409 and body["error"]["code"] == "ambiguous_login"
    assert "phone number" in body["error"]["message"]
    status, body = await login(url, "petr@romashka.ru", "wrong-pass-99")
    assert status == 401 and body["error"]["code"] == "invalid_credentials"
    # the phone is unique: it works
    status, body = await login(url, "+79160000002", "petr-pass-11")
    assert status == 200 and body["user"]["pbx_id"] == world["p2"]["pbx_id"]


async def test_blocked_and_archived_pbxs_are_left_out_of_global_lookup(web, world):
    ctx, url = web
    db = ctx.store.db
    until = datetime.now(timezone.utc) + timedelta(hours=2)
    await update_pbx(db, world["p1"]["pbx_id"], {"operator_block": {"until": until, "reason": "fraud"}})
    status, body = await login(url, "anna@romashka.ru", PW)
    assert status == 401
    status, body = await login(url, "101/anna", PW)   # the explicit login still works (read-only cabinet)
    assert status == 200
    await update_pbx(db, world["p1"]["pbx_id"], {"operator_block": None, "status": "archived"})
    assert (await login(url, "+79161112233", PW))[0] == 401
    await update_pbx(db, world["p1"]["pbx_id"], {"status": "active", "login_methods": {"email": False, "phone": True,
                                                                                          "sip": True}})
    assert (await login(url, "anna@romashka.ru", PW))[0] == 401   # the PBX switched e-mail login off
    assert (await login(url, "+79161112233", PW))[0] == 200


async def test_unknown_and_known_logins_get_the_same_answer(web):
    ctx, url = web
    answers = set()
    for text, pw in [("anna@romashka.ru", "wrong-pass-1"), ("nobody@romashka.ru", "wrong-pass-1"),
                     ("+79990001122", "x"), ("999999", "x"), ("101/ghost", "x"), ("ghost@vpbx101.pult.test", "x")]:
        status, body = await login(url, text, pw, **{"X-Forwarded-For": text})
        answers.add((status, body["error"]["code"], body["error"]["message"]))
    assert answers == {(401, "invalid_credentials", "Wrong login or password.")}


async def test_account_number_login_needs_the_offer_and_decline_logs_out(web, world):
    ctx, url = web
    number = str(world["account"]["account_id"])
    status, body = await login(url, number, "account-pass-1")
    assert status == 403 and body["error"]["code"] == "offer_required"   # the API gets no session
    async with WebClient(url, headers={"Accept-Language": "en"}) as c:
        r = await c.post_form("/login", {"login": number, "password": "account-pass-1", "next": "/account"})
        assert r.status_code == 302 and r.headers["location"].startswith("/offer")
        assert (await c.get("/api/v1/me")).status_code == 401        # nothing usable before accepting
        page = await c.get("/offer")
        assert page.status_code == 200 and "I agree with the terms of the offer" in page.text
        r = await c.post_form("/offer", {"action": "accept"})        # the box is not ticked
        assert r.status_code == 422 and "Tick «I agree»" in r.text
        r = await c.post_form("/offer", {"action": "decline"})
        assert r.status_code == 302 and r.headers["location"] == "/login"
        assert (await c.get("/offer")).headers["location"] == "/login"   # the ticket is gone
        assert (await c.get("/api/v1/me")).status_code == 401
        # second try: accept
        await c.post_form("/login", {"login": number, "password": "account-pass-1", "next": "/account"})
        r = await c.post_form("/offer", {"action": "accept", "agree": "1", "next": "/account"})
        assert r.status_code == 302 and r.headers["location"] == "/account"
        me = (await c.get("/api/v1/me")).json()
        assert me["role"] == "account_admin" and me["pbx_id"] == world["p1"]["pbx_id"]
    account = await ctx.store.db["accounts"].find_one({"account_id": world["account"]["account_id"]})
    assert account["offer"]["version"] == "1" and account["offer"]["user_id"] == world["admin"]["_id"]
    log = await ctx.store.db["audit_log"].find_one({"operation": "offer_accept"})
    assert log["account_id"] == world["account"]["account_id"]
    # accepted: the API login works now; a new offer version asks again
    assert (await login(url, number, "account-pass-1"))[0] == 200
    await save_platform_settings(ctx.store.db, {"offer_version": "2"})
    assert (await login(url, number, "account-pass-1"))[1]["error"]["code"] == "offer_required"


async def test_captcha_after_three_failures_then_the_right_answer_passes(web):
    ctx, url = web
    for _ in range(3):
        assert (await login(url, "101/anna", "wrong-pass-1"))[0] == 401
    status, body = await login(url, "101/anna", PW)
    assert status == 401 and body["error"]["code"] == "captcha_required" and "captcha" in body["error"]["fields"]
    async with WebClient(url) as c:
        ch = (await c.get("/api/v1/captcha")).json()
        img = await c.get(ch["image_url"])
        assert img.status_code == 200 and img.content[:8] == b"\x89PNG\r\n\x1a\n"
    answer = await ctx.redis.get(f"{ctx.redis_prefix}captcha:{ch['id']}")
    status, body = await login(url, "101/anna", PW, **{"X-Captcha-Id": ch["id"], "X-Captcha-Answer": "00000"})
    assert status == 401 and body["error"]["code"] == "captcha_wrong"
    # a challenge is single-use: the right answer to the spent one fails too
    assert (await login(url, "101/anna", PW, **{"X-Captcha-Id": ch["id"], "X-Captcha-Answer": answer}))[0] == 401
    async with WebClient(url) as c:
        ch = (await c.get("/api/v1/captcha")).json()
    answer = await ctx.redis.get(f"{ctx.redis_prefix}captcha:{ch['id']}")
    status, body = await login(url, "101/anna", PW, **{"X-Captcha-Id": ch["id"], "X-Captcha-Answer": answer})
    assert status == 200


async def test_login_form_shows_the_captcha_and_a_pbx_can_ask_for_it_always(web, world):
    ctx, url = web
    await update_pbx(ctx.store.db, world["p2"]["pbx_id"], {"captcha_always": True})
    async with WebClient(url, headers={"Accept-Language": "ru"}) as c:
        r = await c.post_form("/login", {"login": f"{world['p2']['pbx_id']}/petr", "password": "petr-pass-22"})
        assert r.status_code == 401 and "Цифры с картинки" in r.text and 'name="captcha_id"' in r.text
        cid = r.text.split('name="captcha_id" value="')[1].split('"')[0]
        answer = await ctx.redis.get(f"{ctx.redis_prefix}captcha:{cid}")
        r = await c.post_form("/login", {"login": f"{world['p2']['pbx_id']}/petr", "password": "petr-pass-22",
                                         "captcha_id": cid, "captcha": answer})
        assert r.status_code == 302
    # PBX 101 does not ask: no captcha on the first attempt
    assert (await login(url, "101/anna", PW))[0] == 200


async def test_platform_captcha_mode_always(web):
    ctx, url = web
    await save_platform_settings(ctx.store.db, {"captcha_mode": "always"})
    status, body = await login(url, "root", "operator-pass-1")
    assert status == 401 and body["error"]["code"] == "captcha_required"
    await save_platform_settings(ctx.store.db, {"captcha_mode": "off"})
    assert (await login(url, "root", "operator-pass-1"))[0] == 200


async def test_account_without_pbx_cannot_sign_in_yet(web, store):
    ctx, url = web
    acc = await create_account(store.db, "ИП Пустой", "empty@example.ru")
    admin = await create_account_admin(store, acc["account_id"], "empty@example.ru")
    await set_password(store, admin["_id"], "account-pass-2")
    status, body = await login(url, str(acc["account_id"]), "account-pass-2")
    assert status == 403 and body["error"]["code"] == "no_pbx"
