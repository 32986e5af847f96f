"""Login, sessions, rate limits, CSRF, password change and the language switch — through a real
Tornado server, real Redis (test DB, unique prefix) and the embedded store."""
from __future__ import annotations

import pytest

from storage.repos.users import create_operator_admin, create_tenant_user
from tests.integration.harness import cheap_hashes  # noqa: F401  (autouse)
from web.auth.ratelimit import LoginLimits
from web.testing import WebClient, web_stack

ANNA_PW = "tenant-pass-1"
ROOT_PW = "operator-pass-1"


@pytest.fixture
async def users(store):
    anna = await create_tenant_user(store, 101, "anna", ANNA_PW, "anna@example.com",
                                    display_name="Anna", language="en")
    boris = await create_tenant_user(store, 202, "boris", "tenant-pass-2", "boris@example.com")
    root = await create_operator_admin(store, "root", ROOT_PW, "root@example.com", language="en")
    return {"anna": anna, "boris": boris, "root": root}


@pytest.fixture
async def web(settings, store, users):
    limits = LoginLimits(per_login=3, per_ip=50, window=120)
    async with web_stack(settings, store, login_limits=limits) as (ctx, url):
        yield ctx, url


def client(url, **kw) -> WebClient:
    return WebClient(url, **kw)


async def test_login_form_signs_in_and_rotates_the_session_cookie(web):
    ctx, url = web
    async with client(url) as c:
        page = await c.get("/login")
        assert page.status_code == 200 and 'name="_xsrf"' in page.text
        r = await c.post_form("/login", {"login": "101/anna", "password": ANNA_PW, "next": "/calls"})
        assert r.status_code == 302 and r.headers["location"] == "/calls"
        set_cookie = r.headers["set-cookie"].lower()
        assert "pult_session=" in set_cookie and "httponly" in set_cookie and "samesite=lax" in set_cookie
        first = c.cookies.get("pult_session")
        assert (await c.get("/calls")).status_code == 200
        # signing in again (same browser) gives a new session id and kills the old one
        r = await c.post_form("/login", {"login": "101/anna", "password": ANNA_PW})
        second = c.cookies.get("pult_session")
        assert r.status_code == 302 and second != first
    async with client(url) as old:
        old.cookies.set("pult_session", first)
        assert (await old.get("/api/v1/me")).status_code == 401
    async with client(url) as new:
        new.cookies.set("pult_session", second)
        me = await new.get("/api/v1/me")
        assert me.status_code == 200 and me.json()["login"] == "anna" and me.json()["pbx_id"] == 101
        assert "password_hash" not in me.text


async def test_login_redirect_target_cannot_leave_the_site(web):
    ctx, url = web
    async with client(url) as c:
        r = await c.post_form("/login", {"login": "root", "password": ROOT_PW,
                                         "next": "//evil.example/steal"})
        assert r.status_code == 302 and r.headers["location"] == "/"


async def test_wrong_password_and_unknown_login_get_the_same_answer(web):
    ctx, url = web
    answers = []
    async with client(url, headers={"Accept-Language": "en"}) as c:
        for login, pw in (("101/anna", "wrong-pass-1"), ("101/nobody", "wrong-pass-1"),
                          ("nosuchop", "wrong-pass-1"), ("999/anna", ANNA_PW)):
            r = await c.api("POST", "/api/v1/session", json={"login": login, "password": pw})
            answers.append((r.status_code, r.json()))
        form = await c.post_form("/login", {"login": "101/nobody", "password": "x"})
    assert all(a == answers[0] for a in answers), answers
    assert answers[0][0] == 401
    assert answers[0][1]["error"] == {"code": "invalid_credentials",
                                      "message": "Wrong login or password.", "fields": {}}
    assert form.status_code == 401 and "Wrong login or password." in form.text
    assert 'value="101/nobody"' in form.text  # the login stays in the form, the password does not


async def test_failed_logins_are_rate_limited_per_login_with_the_retry_time(web):
    ctx, url = web
    async with client(url, headers={"Accept-Language": "en"}) as c:
        for _ in range(3):
            r = await c.api("POST", "/api/v1/session", json={"login": "101/anna", "password": "bad-pass-00"})
            assert r.status_code == 401
        # now even the right password is refused until the window passes
        r = await c.api("POST", "/api/v1/session", json={"login": "101/ANNA", "password": ANNA_PW})
        assert r.status_code == 429
        assert r.json()["error"]["code"] == "too_many_attempts"
        assert "Try again in 2 min." in r.json()["error"]["message"]
        assert 100 < int(r.headers["Retry-After"]) <= 120
        form = await c.post_form("/login", {"login": "101/anna", "password": ANNA_PW})
        assert form.status_code == 429 and "Too many failed attempts" in form.text
        # other logins from the same address are not blocked by anna's counter
        ok = await c.api("POST", "/api/v1/session", json={"login": "root", "password": ROOT_PW})
        assert ok.status_code == 200


async def test_failed_logins_are_rate_limited_per_address(settings, store, users):
    limits = LoginLimits(per_login=100, per_ip=4, window=60)
    async with web_stack(settings, store, login_limits=limits) as (ctx, url):
        async with client(url) as c:
            for i in range(4):
                r = await c.api("POST", "/api/v1/session", json={"login": f"guess{i}", "password": "x"})
                assert r.status_code == 401
            r = await c.api("POST", "/api/v1/session", json={"login": "root", "password": ROOT_PW})
            assert r.status_code == 429


async def test_logout_ends_the_session(web):
    ctx, url = web
    async with client(url) as c:
        await c.login("root", ROOT_PW)
        token = c.cookies.get("pult_session")
        r = await c.api("DELETE", "/api/v1/session")
        assert r.status_code == 204
        assert (await c.get("/api/v1/me")).status_code == 401
    async with client(url) as c:
        await c.login("101/anna", ANNA_PW)
        token = c.cookies.get("pult_session")
        r = await c.post_form("/logout", {})
        assert r.status_code == 302 and r.headers["location"] == "/login"
    async with client(url) as c:
        c.cookies.set("pult_session", token)
        assert (await c.get("/api/v1/me")).status_code == 401
        r = await c.get("/")
        assert r.status_code == 302 and r.headers["location"].startswith("/login")


async def test_password_change_logs_out_everywhere_else(web):
    ctx, url = web
    async with client(url) as a, client(url) as b:
        await a.login("101/anna", ANNA_PW)
        await b.login("101/anna", ANNA_PW)
        before = a.cookies.get("pult_session")
        weak = await a.api("POST", "/api/v1/me/password",
                           json={"current_password": ANNA_PW, "new_password": "короткий"})
        assert weak.status_code == 422
        msg = weak.json()["error"]["fields"]["new_password"]
        assert "at least 10 characters" in msg and "Cyrillic" in msg  # anna reads English
        wrong = await a.api("POST", "/api/v1/me/password",
                            json={"current_password": "not-it-000", "new_password": "brand-new-pass-2"})
        assert wrong.status_code == 422 and "current_password" in wrong.json()["error"]["fields"]
        assert (await b.get("/api/v1/me")).status_code == 200  # failures changed nothing

        r = await a.api("POST", "/api/v1/me/password",
                        json={"current_password": ANNA_PW, "new_password": "brand-new-pass-2"})
        assert r.status_code == 200 and r.json() == {"revoked_sessions": 1}
        assert a.cookies.get("pult_session") != before
        assert (await a.get("/api/v1/me")).status_code == 200
        assert (await b.get("/api/v1/me")).status_code == 401
    async with client(url) as c:
        old = await c.api("POST", "/api/v1/session", json={"login": "101/anna", "password": ANNA_PW})
        assert old.status_code == 401
        await c.login("101/anna", "brand-new-pass-2")


async def test_password_change_form_shows_the_policy_in_russian(settings, store, users):
    async with web_stack(settings, store) as (ctx, url):
        async with client(url) as c:
            await c.login("202/boris", "tenant-pass-2")  # boris's language: ru (the default)
            r = await c.post_form("/account/password", {
                "current_password": "tenant-pass-2", "new_password": "пароль123456",
                "new_password_repeat": "пароль123456"})
            assert r.status_code == 422
            assert "кириллических" in r.text and "латинскую" in r.text
            r = await c.post_form("/account/password", {
                "current_password": "tenant-pass-2", "new_password": "a-new-pass-9",
                "new_password_repeat": "a-new-pass-9"})
            assert r.status_code == 200 and "Пароль изменён" in r.text


async def test_state_changing_requests_need_the_csrf_token(web):
    ctx, url = web
    async with client(url) as c:
        await c.get("/login")  # has the _xsrf cookie now, but sends no token below
        r = await c.post("/api/v1/session", json={"login": "root", "password": ROOT_PW})
        assert r.status_code == 403 and r.json()["error"]["code"] == "csrf"
        r = await c.post("/login", data={"login": "root", "password": ROOT_PW})
        assert r.status_code == 403 and "pult_session" not in c.cookies
        r = await c.post("/api/v1/session", json={"login": "root", "password": ROOT_PW},
                         headers={"X-XSRFToken": "2|00000000|" + "0" * 32 + "|1700000000"})
        assert r.status_code == 403
        await c.login("root", ROOT_PW)
        r = await c.delete("/api/v1/session")  # no header: refused, session survives
        assert r.status_code == 403
        assert (await c.get("/api/v1/me")).status_code == 200
        r = await c.post("/logout", data={})
        assert r.status_code == 403
        assert (await c.get("/api/v1/me")).status_code == 200


async def test_sessions_are_listed_and_revocable_only_by_their_owner(web):
    ctx, url = web
    async with client(url, headers={"User-Agent": "laptop"}) as a, \
            client(url, headers={"User-Agent": "phone"}) as b, client(url) as other:
        await a.login("101/anna", ANNA_PW)
        await b.login("101/anna", ANNA_PW)
        await other.login("202/boris", "tenant-pass-2")
        listed = (await a.get("/api/v1/sessions")).json()
        assert listed["total"] == 2
        by_agent = {s["user_agent"]: s for s in listed["items"]}
        assert by_agent["laptop"]["current"] is True and by_agent["phone"]["current"] is False
        assert by_agent["phone"]["created"].endswith("+00:00")
        phone_id = by_agent["phone"]["id"]
        assert phone_id not in b.cookies.get("pult_session")  # the public id is not the cookie
        # boris cannot end anna's session: it is not found for him
        r = await other.api("DELETE", f"/api/v1/sessions/{phone_id}")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        assert (await b.get("/api/v1/me")).status_code == 200
        r = await a.api("DELETE", f"/api/v1/sessions/{phone_id}")
        assert r.status_code == 204
        assert (await b.get("/api/v1/me")).status_code == 401
        assert (await a.get("/api/v1/sessions")).json()["total"] == 1
        page = await a.get("/account/security")
        assert page.status_code == 200 and "laptop" in page.text and "phone" not in page.text


async def test_bad_login_body_gets_the_error_envelope_with_field_messages(web):
    ctx, url = web
    async with client(url, headers={"Accept-Language": "en-US,en;q=0.9"}) as c:
        r = await c.api("POST", "/api/v1/session", json={"login": ""})
        assert r.status_code == 422
        assert r.json() == {"error": {
            "code": "validation_error", "message": "Some fields are not filled in correctly.",
            "fields": {"login": "This field is too short.", "password": "This field is required."}}}
        r = await c.api("POST", "/api/v1/session", content=b"{not json",
                        headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"
    async with client(url) as c:  # no preference: the default language (ru)
        r = await c.api("POST", "/api/v1/session", json={"password": "x", "extra": 1})
        fields = r.json()["error"]["fields"]
        assert fields == {"login": "Обязательное поле.", "extra": "Неизвестное поле."}
        assert r.json()["error"]["message"] == "Некоторые поля заполнены неверно."


async def test_language_switch_changes_the_page_text(web):
    ctx, url = web
    async with client(url) as c:
        assert "Вход в личный кабинет" in (await c.get("/login")).text
        r = await c.post_form("/language", {"lang": "en", "next": "/login"})
        assert r.status_code == 302 and r.headers["location"] == "/login"
        page = await c.get("/login")
        assert "Sign in to the cabinet" in page.text and '<html lang="en">' in page.text
    async with client(url, headers={"Accept-Language": "en-GB,en;q=0.8"}) as c:
        assert "Sign in to the cabinet" in (await c.get("/login")).text
    async with client(url) as c:
        await c.login("202/boris", "tenant-pass-2")  # stored language: ru
        assert "Звонков сегодня" in (await c.get("/")).text
        await c.post_form("/language", {"lang": "en", "next": "/"})
        assert "Calls today" in (await c.get("/")).text
        assert (await c.get("/api/v1/me")).json()["language"] == "en"
        r = await c.api("PATCH", "/api/v1/me", json={"language": "ru"})
        assert r.status_code == 200 and r.json()["language"] == "ru"
        assert "Звонков сегодня" in (await c.get("/")).text
        bad = await c.api("PATCH", "/api/v1/me", json={"language": "de"})
        assert bad.status_code == 422 and "language" in bad.json()["error"]["fields"]


async def test_secure_cookies_when_configured(settings, store, users):
    secure = settings.model_copy(update={"cookie_secure": True})
    async with web_stack(secure, store) as (ctx, url):
        async with client(url) as c:
            r = await c.get("/api/v1/session")
            assert "secure" in r.headers["set-cookie"].lower()
            token = r.json()["xsrf_token"]
            r = await c.post("/api/v1/session", json={"login": "root", "password": ROOT_PW},
                             headers={"X-XSRFToken": token, "Cookie": f"_xsrf={token}"})
            assert r.status_code == 200
            assert "; secure" in r.headers["set-cookie"].lower()
            assert r.headers["Strict-Transport-Security"].startswith("max-age=")


async def test_the_csrf_token_is_bound_to_the_session(web):
    """Double-submit alone trusts whatever sits in the ``_xsrf`` cookie; once signed in the token
    must belong to this session: a planted cookie+token pair, another session's token and the
    token from before sign-in are all refused, the session's own token works."""
    ctx, url = web
    async with client(url) as a, client(url) as b, client(url) as attacker:
        anonymous = await a.ensure_xsrf()
        await a.login("root", ROOT_PW)
        await b.login("root", ROOT_PW)
        own = a.xsrf_cookie()
        assert own != anonymous
        planted = await attacker.ensure_xsrf()  # a valid anonymous token the attacker knows
        for token in (planted, anonymous, b.xsrf_cookie()):
            r = await a.patch("/api/v1/me", json={"language": "ru"},
                              headers={"X-XSRFToken": token, "Cookie": f"_xsrf={token}; "
                                       f"pult_session={a.cookies.get('pult_session')}"})
            assert r.status_code == 403 and r.json()["error"]["code"] == "csrf", (token, r.text)
        assert (await a.get("/api/v1/me")).json()["language"] == "en"  # nothing changed
        r = await a.api("PATCH", "/api/v1/me", json={"language": "ru"})
        assert r.status_code == 200 and r.json()["language"] == "ru"
        page = await a.get("/")  # the page's token is the session's too
        assert f'content="' in page.text
        r = await a.api("DELETE", "/api/v1/session")
        assert r.status_code == 204
        r = await a.patch("/api/v1/me", json={"language": "en"}, headers={"X-XSRFToken": own})
        assert r.status_code in (401, 403)


async def test_failures_from_one_address_do_not_lock_the_user_out_elsewhere(web):
    """Five wrong passwords from an attacker's address lock that address out of the login (and
    bring the captcha for the login everywhere), never the user at their own address."""
    from web.auth.captcha import captcha_needed
    from web.auth.ratelimit import LoginRateLimiter
    from storage.repos.users import parse_login

    ctx, url = web
    limiter = LoginRateLimiter(ctx.redis, ctx.redis_prefix + "lockout:", LoginLimits(per_login=5, per_ip=30, window=60))
    name = parse_login("101/anna")
    for _ in range(5):
        assert await limiter.blocked(name.norm, "203.0.113.7") == 0
        await limiter.failed(name.norm, "203.0.113.7")
    assert 0 < await limiter.blocked(name.norm, "203.0.113.7") <= 60  # the source is locked
    assert await limiter.blocked(name.norm, "198.51.100.20") == 0      # the user is not
    assert await captcha_needed(ctx, limiter, name, "198.51.100.20", {"captcha_after": 3})
    await limiter.succeeded(name.norm, "198.51.100.20")  # the user signs in (with the captcha)
    assert not await captcha_needed(ctx, limiter, name, "198.51.100.20", {"captcha_after": 3})
    assert 0 < await limiter.blocked(name.norm, "203.0.113.7")  # the attacker stays locked
