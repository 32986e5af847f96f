"""Login, logout and the language switch."""
from __future__ import annotations

from storage.repos.users import set_language
from web import i18n
from web.auth.login import attempt_login
from web.handlers import AppError, PageHandler
from web.routes import route
from web.sections import N_


@route("/login", access="public", name="login")
class LoginPage(PageHandler):
    """The sign-in form: operator login, or ``<pbx id>/<login>`` for PBX users."""

    def get(self) -> None:
        if self.current_user:
            self.redirect(self.safe_next(self.get_query_argument("next", None)))
            return
        self.render("login.html", error=None, login_value="",
                    next_value=self.safe_next(self.get_query_argument("next", None)))

    async def post(self) -> None:
        login = self.get_body_argument("login", "").strip()
        password = self.get_body_argument("password", "")
        next_value = self.safe_next(self.get_body_argument("next", None))
        try:
            await attempt_login(self, login, password)
        except AppError as exc:
            if exc.status_code not in (401, 429):
                raise
            self.set_status(exc.status_code)
            for k, v in exc.headers.items():
                self.set_header(k, v)
            self.render("login.html", error=self._(exc.message, **exc.values), login_value=login,
                        next_value=next_value)
            return
        self.redirect(next_value)


@route("/logout", access="user", name="logout")
class LogoutPage(PageHandler):
    async def post(self) -> None:
        await self.end_session()
        self.redirect("/login")


@route("/language", access="public", name="language")
class LanguageSwitch(PageHandler):
    """Switch the cabinet language: remembered on the user, and in a cookie for the login page."""

    async def post(self) -> None:
        lang = self.get_body_argument("lang", "")
        if lang not in i18n.LANGUAGES:
            raise AppError(400, "bad_request", N_("Unsupported language."))
        self.set_cookie(i18n.LANG_COOKIE, lang, expires_days=365, samesite="Lax", httponly=True,
                        secure=self.ctx.settings.cookie_secure, path="/")
        if self.current_user:
            await set_language(self.ctx.store, self.current_user["_id"], lang)
        self.redirect(self.safe_next(self.get_body_argument("next", None)))
