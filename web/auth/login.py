"""The one login procedure behind the login form and ``POST /api/v1/session``.

Order matters:

1. the rate limit (per login and per address) is checked before anything else — a blocked login
   costs no hash and tells nothing;
2. the captcha, when one is needed (``web.auth.captcha.captcha_needed``: after 3 failures, or
   always for a PBX that asks for it); the API passes it in the ``X-Captcha-Id`` /
   ``X-Captcha-Answer`` headers, the form in ``captcha_id`` / ``captcha``;
3. the credentials, for every login kind (``storage.repos.users.parse_login``): one hash check
   whether or not the login exists, the same message for a wrong login and a wrong password, and
   the failure counted for unknown and known logins alike;
4. an account administrator who has not accepted the current offer gets no session yet: the form
   continues on ``/offer`` (:class:`OfferPending`), the API answers 403 ``offer_required``.

Sign-in by LDAP bind (PRODUCT.md §11): when the stored password does not match a
``<pbx>/<login>`` login and that PBX allows it, the directory is asked: ``login`` is the directory
login (``mapping.login``) and the password the directory's; a bind that succeeds signs in the one
active cabinet user linked to the LDAP-managed employee of that entry. A failure counts like any.
"""
from __future__ import annotations

import hashlib
import math
import secrets

from pult.errors import AppError
from pult.i18n import N_
from storage.repos.tenants import get_account, get_platform_settings
from storage.repos.users import UserError, authenticate_login, parse_login
from web.auth.captcha import captcha_needed, check_answer
from web.handlers import BaseHandler

BAD_CREDENTIALS = N_("Wrong login or password.")
CAPTCHA_NEEDED = N_("Enter the digits from the picture.")
OFFER_COOKIE = "pult_offer"
OFFER_TICKET_TTL = 15 * 60


class OfferPending(Exception):
    """The account administrator's password was right, but the offer must be accepted first;
    ``token`` is the pending-login ticket (kept in the signed ``pult_offer`` cookie)."""

    def __init__(self, token: str, user: dict):
        message = "offer acceptance pending"
        super().__init__(message)
        self.token = token
        self.user = user


def _parse(login_text: str):
    try:
        return parse_login(login_text)
    except UserError:
        return None


def actor(handler: BaseHandler, user: dict | None = None) -> dict:
    """The action-log actor of a request: ``{kind: user, login, ip}`` (``101/anna`` style for PBX
    users, the account number for account administrators, the login for operators)."""
    user = user or handler.current_user or {}
    login = user.get("login")
    if user.get("kind") == "tenant" and user.get("realm") != "account" and user.get("pbx_id"):
        login = f"{user['pbx_id']}/{login}"
    return {"kind": "user", "login": login, "ip": handler.request.remote_ip}


async def offer_pending(handler: BaseHandler, user: dict) -> bool:
    """True when ``user`` is an account administrator whose account has not accepted the current
    offer version."""
    if user.get("realm") != "account" or not user.get("account_id"):
        return False
    platform = await get_platform_settings(handler.ctx.store.db)
    account = await get_account(handler.ctx.store.db, user["account_id"])
    accepted = (account or {}).get("offer") or {}
    return str(accepted.get("version")) != str(platform.get("offer_version"))


def _ticket_key(handler: BaseHandler, token: str) -> str:
    return f"{handler.ctx.redis_prefix}offer-ticket:{hashlib.sha256(token.encode()).hexdigest()}"


async def create_offer_ticket(handler: BaseHandler, user: dict) -> str:
    token = secrets.token_urlsafe(32)
    await handler.ctx.redis.set(_ticket_key(handler, token), user["_id"], ex=OFFER_TICKET_TTL)
    return token


async def offer_ticket_user(handler: BaseHandler, token: str | None) -> str | None:
    if not token or len(token) > 100:
        return None
    return await handler.ctx.redis.get(_ticket_key(handler, token))


async def drop_offer_ticket(handler: BaseHandler, token: str | None) -> None:
    if token:
        await handler.ctx.redis.delete(_ticket_key(handler, token))


async def ldap_user(handler: BaseHandler, name, password: str) -> dict | None:
    """The cabinet user a directory bind signs in (see the module docstring), or None."""
    if name is None or name.kind != "tenant" or not password:
        return None
    from esl_control.model.crypto import SecretBox
    from esl_control.model.ldap.services import LdapService

    db = handler.ctx.store.db
    employee = await LdapService(db, name.pbx_id, box=SecretBox.from_settings(handler.ctx.settings)
                                 ).login_entry(name.login, password)
    if employee is None:
        return None
    users = await db["users"].find({"kind": "tenant", "pbx_id": name.pbx_id, "employee_id": employee["id"],
                                    "active": {"$ne": False}}).to_list(2)
    return users[0] if len(users) == 1 else None


async def attempt_login(handler: BaseHandler, login_text: str, password: str, *,
                        captcha_id: str | None = None, captcha_answer: str | None = None,
                        allow_pending_offer: bool = False) -> dict:
    """Check the credentials and start a new session; raise :class:`AppError` (401/403/409/429)
    otherwise, or :class:`OfferPending` (only with ``allow_pending_offer``)."""
    limiter = handler.application.settings["login_limiter"]
    name = _parse(login_text)
    key = name.norm if name else ""
    ip = handler.request.remote_ip or ""
    wait = await limiter.blocked(key, ip)
    if wait:
        minutes = max(1, math.ceil(wait / 60))
        raise AppError(429, "too_many_attempts",
                       N_("Too many failed attempts. Try again in %(minutes)s min."),
                       headers={"Retry-After": str(wait)}, minutes=minutes)
    db = handler.ctx.store.db
    platform = await get_platform_settings(db)
    if await captcha_needed(handler.ctx, limiter, name, ip, platform):
        if captcha_id is None and captcha_answer is None:
            captcha_id = handler.request.headers.get("X-Captcha-Id")
            captcha_answer = handler.request.headers.get("X-Captcha-Answer")
        if not captcha_answer:
            raise AppError(401, "captcha_required", CAPTCHA_NEEDED, fields={"captcha": CAPTCHA_NEEDED})
        if not await check_answer(handler.ctx.redis, handler.ctx.redis_prefix, captcha_id, captcha_answer):
            await limiter.failed(key, ip)
            raise AppError(401, "captcha_wrong", N_("The digits from the picture do not match. Try the new picture."),
                           fields={"captcha": N_("The digits from the picture do not match. Try the new picture.")})
    result = await authenticate_login(handler.ctx.store, login_text, password)
    user = result.user
    if user is None and not result.ambiguous:
        user = await ldap_user(handler, name, password)
    if user is None:
        if result.ambiguous:
            # only reachable with a right password: tells nothing to someone guessing
            raise AppError(409, "ambiguous_login",
                           N_("This e-mail or phone number belongs to several employees. Sign in with your phone number, e-mail or <PBX number>/<login> instead."))
        await limiter.failed(key, ip)
        raise AppError(401, "invalid_credentials", BAD_CREDENTIALS)
    await limiter.succeeded(key, ip)
    if user.get("realm") == "account" and not user.get("pbx_id"):
        raise AppError(403, "no_pbx", N_("The account has no PBX yet. Please contact your operator."))
    if await offer_pending(handler, user):
        if not allow_pending_offer:
            raise AppError(403, "offer_required",
                           N_("Sign in through the cabinet and accept the offer first."))
        raise OfferPending(await create_offer_ticket(handler, user), user)
    await handler.start_session(user)
    return user
