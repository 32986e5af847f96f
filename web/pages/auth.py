"""Login, logout and the language switch."""
from __future__ import annotations

from pult import i18n
from pult.errors import AppError
from pult.i18n import N_
from storage.repos.users import set_language
from web.access.selfaudit import audit_self
from web.auth.login import attempt_login
from web.handlers import PageHandler
from web.routes import route


@route("/login", access="public", name="login")
class LoginPage(PageHandler):
    """The sign-in form for every login kind (web/auth/login.py); shows a captcha when one is
    needed and sends an account administrator to the offer before the first session."""

    def get(self) -> None:
        if self.current_user:
            self.redirect(self.safe_next(self.get_query_argument("next", None)))
            return
        notice = self._("The password has been set. Sign in.") \
            if self.get_query_argument("notice", "") == "password_set" else None
        self.render("auth/login.html", error=None, notice=notice, login_value="", captcha_id=None,
                    captcha_error=None, next_value=self.safe_next(self.get_query_argument("next", None)))

    async def post(self) -> None:
        from web.auth.captcha import new_challenge
        from web.auth.login import OfferPending
        from web.auth.pages import set_offer_cookie

        login = self.get_body_argument("login", "").strip()[:200]
        password = self.get_body_argument("password", "")
        next_value = self.safe_next(self.get_body_argument("next", None))
        try:
            await attempt_login(self, login, password,
                                captcha_id=self.get_body_argument("captcha_id", "") or None,
                                captcha_answer=self.get_body_argument("captcha", "") or "",
                                allow_pending_offer=True)
        except OfferPending as pending:
            set_offer_cookie(self, pending.token)
            self.redirect("/offer?next=" + next_value)
            return
        except AppError as exc:
            if exc.status_code not in (401, 403, 409, 429):
                raise
            self.set_status(exc.status_code)
            for k, v in exc.headers.items():
                self.set_header(k, v)
            captcha_id = captcha_error = None
            if exc.code in ("captcha_required", "captcha_wrong") or (
                    exc.code == "invalid_credentials" and await self._captcha_next(login)):
                captcha_id = await new_challenge(self.ctx.redis, self.ctx.redis_prefix)
                if exc.code == "captcha_wrong":
                    captcha_error = self._(exc.message)
            error = None if exc.code in ("captcha_required", "captcha_wrong") else self._(exc.message, **exc.values)
            self.render("auth/login.html", error=error, notice=None, login_value=login,
                        captcha_id=captcha_id, captcha_error=captcha_error, next_value=next_value)
            return
        self.redirect(next_value)

    async def _captcha_next(self, login: str) -> bool:
        """Whether the next attempt of this login will need the captcha (show it right away)."""
        from storage.repos.tenants import get_platform_settings
        from web.auth.captcha import captcha_needed
        from web.auth.login import _parse

        return await captcha_needed(self.ctx, self.application.settings["login_limiter"], _parse(login),
                                    self.request.remote_ip or "",
                                    await get_platform_settings(self.ctx.store.db))


@route("/logout", access="user", name="logout", personal=True)
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
            before = self.current_user.get("language")
            await set_language(self.ctx.store, self.current_user["_id"], lang)
            if before != lang:
                await audit_self(self, "update", before={"language": before}, after={"language": lang})
        self.redirect(self.safe_next(self.get_body_argument("next", None)))
