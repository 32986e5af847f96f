"""The one login procedure behind the login form and ``POST /api/v1/session``.

Order matters: the rate limit is checked before the password (a blocked login costs no hash and
tells nothing), the failure is counted for unknown and known logins alike, and the message for
a wrong login and a wrong password is the same.
"""
from __future__ import annotations

import math

from storage.repos.users import UserError, authenticate, parse_login
from web.handlers import AppError, BaseHandler
from web.sections import N_

BAD_CREDENTIALS = N_("Wrong login or password.")


def _login_key(login_text: str) -> str:
    try:
        return parse_login(login_text).norm
    except UserError:
        return ""


async def attempt_login(handler: BaseHandler, login_text: str, password: str) -> dict:
    """Check the credentials and start a new session; raise :class:`AppError` (401/429) otherwise."""
    limiter = handler.application.settings["login_limiter"]
    key = _login_key(login_text)
    ip = handler.request.remote_ip or ""
    wait = await limiter.blocked(key, ip)
    if wait:
        minutes = max(1, math.ceil(wait / 60))
        raise AppError(429, "too_many_attempts",
                       N_("Too many failed attempts. Try again in %(minutes)s min."),
                       headers={"Retry-After": str(wait)}, minutes=minutes)
    user = await authenticate(handler.ctx.store, login_text, password)
    if user is None:
        await limiter.failed(key, ip)
        raise AppError(401, "invalid_credentials", BAD_CREDENTIALS)
    await limiter.succeeded(key, ip)
    await handler.start_session(user)
    return user
