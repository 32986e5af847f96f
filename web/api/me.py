"""The signed-in user: profile, language, password."""
from __future__ import annotations

import asyncio

from pult.errors import AppError
from pult.i18n import N_
from pult.passwords import describe_problems, password_problems, verify_password
from storage.repos.users import get_user, public_user, set_language, set_password
from web.access.selfaudit import audit_self
from web.api_base import ApiHandler, operation
from web.api_models import MePatch, PasswordChange, PasswordChanged, UserOut
from web.handlers import BaseHandler
from web.routes import route


async def change_password(handler: BaseHandler, current: str, new: str) -> int:
    """Check the current password and the policy, set the new one, end every other session and
    give this client a fresh session. Returns how many other sessions were ended.

    Raises AppError 422 with the failing field, or 429 after too many wrong current passwords.
    """
    user = handler.current_user
    limiter = handler.application.settings["login_limiter"]
    key = f"password:{user['_id']}"
    ip = handler.request.remote_ip or ""
    wait = await limiter.blocked(key, ip)
    if wait:
        raise AppError(429, "too_many_attempts",
                       N_("Too many failed attempts. Try again in %(minutes)s min."),
                       headers={"Retry-After": str(wait)}, minutes=max(1, -(-wait // 60)))
    if not await asyncio.to_thread(verify_password, user.get("password_hash"), current):
        await limiter.failed(key, ip)
        raise AppError(422, "validation_error", N_("Some fields are not filled in correctly."),
                       fields={"current_password": N_("The current password is wrong.")})
    problems = password_problems(new)
    if problems:
        raise AppError(422, "validation_error", N_("Some fields are not filled in correctly."),
                       fields={"new_password": describe_problems(problems, handler.lang)})
    if new == current:
        raise AppError(422, "validation_error", N_("Some fields are not filled in correctly."),
                       fields={"new_password": N_("The new password must differ from the current one.")})
    await limiter.succeeded(key, ip)
    updated = await set_password(handler.ctx.store, user["_id"], new)
    revoked = await handler.sessions.delete_for_user(user["_id"], keep=handler.session.id)
    await audit_self(handler, "password_change", user=user,
                     before={"password_changed_at": user.get("password_changed_at")},
                     after={"password_changed_at": updated.get("password_changed_at"),
                            "other_sessions_ended": revoked})
    await handler.start_session(updated)  # this client goes on with a new session
    return revoked


@route("/api/v1/me", access="user", personal=True)
class MeApi(ApiHandler):
    @operation(N_("The signed-in user"), response=UserOut, tags=["me"])
    async def get(self) -> None:
        self.reply(UserOut(**public_user(self.current_user)))

    @operation(N_("Change my settings"), request=MePatch, response=UserOut, tags=["me"],
               errors=(400, 401, 403, 422))
    async def patch(self) -> None:
        body = self.body(MePatch)
        before = self.current_user.get("language")
        await set_language(self.ctx.store, self.current_user["_id"], body.language)
        if before != body.language:
            await audit_self(self, "update", before={"language": before}, after={"language": body.language})
        user = await get_user(self.ctx.store, self.current_user["_id"])
        self.reply(UserOut(**public_user(user)))


@route("/api/v1/me/password", access="user", personal=True)
class PasswordApi(ApiHandler):
    @operation(N_("Change my password"), request=PasswordChange, response=PasswordChanged,
               tags=["me"], errors=(400, 401, 403, 422, 429),
               description="Ends every other session of the user; this client gets a new session "
                           "cookie.")
    async def post(self) -> None:
        body = self.body(PasswordChange)
        revoked = await change_password(self, body.current_password, body.new_password)
        self.reply(PasswordChanged(revoked_sessions=revoked))
