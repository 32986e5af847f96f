"""Sessions over the API: sign in/out with the session cookie, list and revoke sessions."""
from __future__ import annotations

from pult.errors import AppError
from pult.i18n import N_
from storage.repos.users import public_user
from web.access.selfaudit import audit_self
from web.api_base import ApiHandler, Param, operation
from web.api_models import LoginIn, SessionList, SessionOut, SessionState, UserOut
from web.auth.login import attempt_login
from web.routes import route


def session_out(sess, current_id: str | None) -> SessionOut:
    return SessionOut(**sess.public(current_id))


@route("/api/v1/session", access="public")
class SessionApi(ApiHandler):
    @operation(N_("Current session and the CSRF token"), response=SessionState, tags=["session"],
               errors=(), description="Also sets the `_xsrf` cookie used by the double-submit check.")
    async def get(self) -> None:
        user = self.current_user
        self.reply(SessionState(
            authenticated=user is not None,
            user=UserOut(**public_user(user)) if user else None,
            session=session_out(self.session, self.session.id) if self.session else None,
            xsrf_token=self.xsrf_token.decode()))

    @operation(N_("Sign in"), request=LoginIn, response=SessionState, tags=["session"],
               errors=(400, 401, 403, 422, 429),
               description="Starts a new session (any session this client had is ended) and sets "
                           "the `pult_session` cookie. Failed attempts are rate-limited per login "
                           "and per address.")
    async def post(self) -> None:
        body = self.body(LoginIn)
        user = await attempt_login(self, body.login, body.password)
        self.reply(SessionState(authenticated=True, user=UserOut(**public_user(user)),
                                session=session_out(self.session, self.session.id),
                                xsrf_token=self.xsrf_token.decode()))

    @operation(N_("Sign out"), status=204, tags=["session"], errors=(401, 403))
    async def delete(self) -> None:
        if self.current_user is None:
            raise AppError(401, "unauthorized", N_("Please sign in."))
        await self.end_session()
        self.no_content()


@route("/api/v1/sessions", access="user", personal=True)
class SessionsApi(ApiHandler):
    @operation(N_("My sessions"), response=SessionList, tags=["session"])
    async def get(self) -> None:
        items = await self.sessions.list_for_user(self.current_user["_id"])
        self.reply(SessionList(items=[session_out(s, self.session.id) for s in items],
                               total=len(items)))


@route("/api/v1/sessions/{session_id}", access="user", personal=True, params={"session_id": "[0-9a-f]{1,64}"})
class SessionItemApi(ApiHandler):
    @operation(N_("End one of my sessions"), status=204, tags=["session"], errors=(401, 403, 404),
               params=[Param("session_id", "path", description="Public session id", required=True)])
    async def delete(self, session_id: str) -> None:
        mine = {s.id: s for s in await self.sessions.list_for_user(self.current_user["_id"])}
        if session_id not in mine:
            raise AppError(404, "not_found", N_("No such session."))
        await self.sessions.delete(session_id, self.current_user["_id"])
        await audit_self(self, "revoke", object={"type": "session", "id": session_id, "name": None})
        if self.session is not None and session_id == self.session.id:
            self.session = None
            self.clear_session_cookie()
        self.no_content()
