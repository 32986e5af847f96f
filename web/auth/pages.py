"""Pages and API of the ways into the cabinet beyond the login form itself: the captcha picture,
create-password / recovery by code, account-number recovery by link, and the offer acceptance of
an account administrator's first login. The logic lives in ``web.auth.recovery`` and
``web.auth.login``; these handlers only read forms and render answers."""
from __future__ import annotations

import asyncio


from pydantic import BaseModel, Field

from pult import clock
from pult.errors import AppError
from pult.i18n import N_
from pult.passwords import PASSWORD_PATTERN
from storage.repos.audit import audit
from storage.repos.base import Scope
from storage.repos.tenants import get_platform_settings, update_account
from storage.repos.users import get_user, public_user
from web.api_base import ApiHandler, Param, operation
from web.api_fields import ADDRESS_PATTERN, IDENTIFIER_PATTERN
from web.api_models import SessionState, UserOut
from web.auth import recovery
from web.auth.captcha import challenge_text, new_challenge, render_png
from web.auth.login import (OFFER_COOKIE, OFFER_TICKET_TTL, OfferPending, actor, create_offer_ticket,
                            drop_offer_ticket, offer_pending, offer_ticket_user)
from web.handlers import BaseHandler, PageHandler
from web.routes import route


# --- shared helpers -----------------------------------------------------------------------------
def set_offer_cookie(handler: BaseHandler, token: str) -> None:
    handler.set_signed_cookie(OFFER_COOKIE, token, expires_days=None, httponly=True, samesite="Lax",
                              secure=handler.ctx.settings.cookie_secure, path="/")


async def sign_in_after_reset(handler: BaseHandler, user: dict) -> str:
    """Start the session after a password was set (or go to the offer first); returns where the
    browser goes next."""
    if await offer_pending(handler, user):
        set_offer_cookie(handler, await create_offer_ticket(handler, user))
        return "/offer"
    if user.get("realm") == "account" and not user.get("pbx_id"):
        return "/login?notice=password_set"
    await handler.start_session(user)
    return "/"


def form_errors(handler: BaseHandler, exc: AppError) -> tuple[str | None, dict]:
    """(top message, {field: message}) of an AppError, in the user's language."""
    fields = {f: handler._(m) for f, m in exc.fields.items()}
    message = handler._(exc.message, **exc.values)
    return message, fields


# --- captcha ------------------------------------------------------------------------------------
@route("/captcha/{cid}.png", access="public", params={"cid": "[A-Za-z0-9_-]{10,40}"})
class CaptchaImage(BaseHandler):
    """The picture of a captcha challenge (the login form shows it)."""

    async def get(self, cid: str) -> None:
        text = await challenge_text(self.ctx.redis, self.ctx.redis_prefix, cid)
        if text is None:
            raise AppError(404, "not_found", N_("This picture has expired. Reload the page."))
        png = await asyncio.to_thread(render_png, text)  # ~20 ms of drawing: off the event loop
        self.set_header("Content-Type", "image/png")
        self.finish(png)


class CaptchaOut(BaseModel):
    id: str
    image_url: str


@route("/api/v1/captcha", access="public")
class CaptchaApi(ApiHandler):
    @operation(N_("A new captcha challenge"), response=CaptchaOut, tags=["session"], errors=(),
               description="Send its id and the digits from the picture as the `X-Captcha-Id` and "
                           "`X-Captcha-Answer` headers of `POST /api/v1/session` when it answers "
                           "`captcha_required`.")
    async def get(self) -> None:
        cid = await new_challenge(self.ctx.redis, self.ctx.redis_prefix)
        self.reply(CaptchaOut(id=cid, image_url=f"/captcha/{cid}.png"))


# --- create password / recovery by code ----------------------------------------------------------
@route("/password/reset", access="public", name="password_reset")
class ResetRequestPage(PageHandler):
    async def get(self) -> None:
        await self.show()

    async def show(self, identifier: str = "", error: str | None = None, errors: dict | None = None) -> None:
        platform = await get_platform_settings(self.ctx.store.db)
        self.render("auth/reset_request.html", identifier=identifier, error=error, errors=errors or {},
                    support=platform.get("support_contact"))

    async def post(self) -> None:
        identifier = self.get_body_argument("identifier", "").strip()[:200]
        try:
            flow = await recovery.request_code(self, identifier)
        except AppError as exc:
            self.set_status(exc.status_code)
            msg, fields = form_errors(self, exc)
            await self.show(identifier, None if fields else msg, fields)
            return
        self.redirect(f"/password/code/{flow}")


@route("/password/code/{flow}", access="public", params={"flow": "[A-Za-z0-9_-]{10,64}"})
class ResetCodePage(PageHandler):
    def get(self, flow: str) -> None:
        self.render("auth/reset_code.html", flow=flow, error=None, errors={})

    async def post(self, flow: str) -> None:
        try:
            user = await recovery.confirm_code(self, flow, self.get_body_argument("code", ""),
                                               self.get_body_argument("new_password", ""),
                                               self.get_body_argument("new_password_repeat", ""))
        except AppError as exc:
            self.set_status(exc.status_code)
            msg, fields = form_errors(self, exc)
            self.render("auth/reset_code.html", flow=flow, error=msg if exc.status_code != 422 or exc.code == "wrong_code" else None,
                        errors=fields)
            return
        self.redirect(await sign_in_after_reset(self, user))


# --- account number recovery by link -------------------------------------------------------------
@route("/password/account", access="public", name="password_account")
class AccountLinkPage(PageHandler):
    def get(self) -> None:
        self.render("auth/account_request.html", account="", email="", sent=False, error=None, errors={})

    async def post(self) -> None:
        account = self.get_body_argument("account", "").strip()[:20]
        email = self.get_body_argument("email", "").strip()[:254]
        try:
            await recovery.request_account_link(self, account, email)
        except AppError as exc:
            self.set_status(exc.status_code)
            msg, fields = form_errors(self, exc)
            self.render("auth/account_request.html", account=account, email=email, sent=False,
                        error=None if fields else msg, errors=fields)
            return
        self.render("auth/account_request.html", account="", email="", sent=True, error=None, errors={})


@route("/password/link/{token}", access="public", params={"token": "[A-Za-z0-9_-]{20,100}"})
class LinkPage(PageHandler):
    async def get(self, token: str) -> None:
        user = await recovery.link_user(self, token)
        if user is None:
            self.set_status(410)
        self.render("auth/link.html", token=token, valid=user is not None,
                    who=(user or {}).get("login"), error=None, errors={})

    async def post(self, token: str) -> None:
        try:
            user = await recovery.use_account_link(self, token, self.get_body_argument("new_password", ""),
                                                   self.get_body_argument("new_password_repeat", ""))
        except AppError as exc:
            self.set_status(exc.status_code)
            msg, fields = form_errors(self, exc)
            holder = await recovery.link_user(self, token)
            self.render("auth/link.html", token=token, valid=holder is not None,
                        who=(holder or {}).get("login"), error=None if fields else msg, errors=fields)
            return
        self.redirect(await sign_in_after_reset(self, user))


# --- offer acceptance ----------------------------------------------------------------------------
@route("/offer", access="public", name="offer")
class OfferPage(PageHandler):
    """The offer an account administrator accepts before the first session starts. The visitor
    holds only a pending-login ticket (signed ``pult_offer`` cookie): no session, no cabinet."""

    async def _ticket(self) -> tuple[str | None, dict | None]:
        raw = self.get_signed_cookie(OFFER_COOKIE, max_age_days=1)
        token = raw.decode() if raw else None
        user_id = await offer_ticket_user(self, token)
        user = await get_user(self.ctx.store, user_id) if user_id else None
        return token, user

    async def get(self) -> None:
        token, user = await self._ticket()
        if user is None:
            self.redirect("/login")
            return
        await self.show(None)

    async def show(self, error: str | None) -> None:
        platform = await get_platform_settings(self.ctx.store.db)
        self.render("auth/offer.html", version=platform["offer_version"], text=platform.get("offer_text"),
                    error=error, next_value=self.safe_next(self.get_argument("next", None)))

    async def post(self) -> None:
        token, user = await self._ticket()
        if user is None:
            self.redirect("/login")
            return
        if self.get_body_argument("action", "") != "accept":
            await drop_offer_ticket(self, token)
            self.clear_cookie(OFFER_COOKIE, path="/")
            self.redirect("/login")
            return
        if self.get_body_argument("agree", "") != "1":
            self.set_status(422)
            await self.show(self._("Tick «I agree» to accept the offer, or decline it."))
            return
        platform = await get_platform_settings(self.ctx.store.db)
        offer = {"version": str(platform["offer_version"]), "accepted_at": clock.now(),
                 "user_id": user["_id"], "ip": self.request.remote_ip}
        changed = await update_account(self.ctx.store.db, user["account_id"], {"offer": offer})
        if changed:
            await audit(self.ctx.store.db, Scope.account(user["account_id"]), actor=actor(self, user),
                        section="account", operation="offer_accept",
                        object={"type": "account", "id": user["account_id"], "name": str(user["account_id"])},
                        before={"offer": changed[0].get("offer")}, after={"offer": offer})
        await drop_offer_ticket(self, token)
        self.clear_cookie(OFFER_COOKIE, path="/")
        await self.start_session(user)
        self.redirect(self.safe_next(self.get_body_argument("next", None)))


# --- the same flows over the API ----------------------------------------------------------------
class CodeRequestIn(BaseModel):
    # the pattern is documented only: the handler's own check answers with the form's message
    identifier: str = Field(min_length=1, max_length=254, description="E-mail or phone from the employee card",
                            json_schema_extra={"pattern": IDENTIFIER_PATTERN})


class CodeRequestOut(BaseModel):
    flow: str = Field(description="Pass it back with the code")
    message: str


class CodeConfirmIn(BaseModel):
    code: str = Field(min_length=1, max_length=10)
    new_password: str = Field(max_length=256, json_schema_extra={"pattern": PASSWORD_PATTERN})


class AccountLinkIn(BaseModel):
    account: str = Field(min_length=1, max_length=20, description="The account number: 6 to 9 digits",
                         json_schema_extra={"pattern": "^[0-9]{6,9}$"})
    email: str = Field(min_length=1, max_length=254, description="The registration e-mail",
                       json_schema_extra={"pattern": ADDRESS_PATTERN})


class LinkUseIn(BaseModel):
    new_password: str = Field(max_length=256, json_schema_extra={"pattern": PASSWORD_PATTERN})


class MessageOut(BaseModel):
    message: str


async def _api_sign_in(handler: ApiHandler, user: dict) -> None:
    if await offer_pending(handler, user):
        raise AppError(403, "offer_required", N_("Sign in through the cabinet and accept the offer first."))
    await handler.start_session(user)
    handler.reply(SessionState(authenticated=True, user=UserOut(**public_user(user)), session=None,
                               xsrf_token=handler.xsrf_token.decode()))


@route("/api/v1/password/codes", access="public")
class CodeRequestApi(ApiHandler):
    @operation(N_("Send a create-password / recovery code"), request=CodeRequestIn,
               response=CodeRequestOut, status=202, tags=["session"], errors=(400, 422, 429),
               description="The answer is the same whether or not the e-mail/phone is known.")
    async def post(self) -> None:
        body = self.body(CodeRequestIn)
        flow = await recovery.request_code(self, body.identifier)
        self.reply(CodeRequestOut(flow=flow, message=self._(
            "If the address is known, we have sent a code to it. The code is valid for 3 minutes.")), 202)


@route("/api/v1/password/codes/{flow}", access="public", params={"flow": "[A-Za-z0-9_-]{10,64}"})
class CodeConfirmApi(ApiHandler):
    @operation(N_("Set a new password with the code and sign in"), request=CodeConfirmIn,
               response=SessionState, tags=["session"], errors=(400, 403, 410, 422),
               params=[Param("flow", "path", required=True)])
    async def post(self, flow: str) -> None:
        body = self.body(CodeConfirmIn)
        user = await recovery.confirm_code(self, flow, body.code, body.new_password)
        await _api_sign_in(self, user)


@route("/api/v1/password/account-links", access="public")
class AccountLinkRequestApi(ApiHandler):
    @operation(N_("E-mail an account password link"), request=AccountLinkIn, response=MessageOut,
               status=202, tags=["session"], errors=(400, 422, 429))
    async def post(self) -> None:
        body = self.body(AccountLinkIn)
        await recovery.request_account_link(self, body.account, body.email)
        self.reply(MessageOut(message=self._(
            "If the account number and the e-mail match, we have sent a link to that e-mail. It is valid for 24 hours and works once.")), 202)


@route("/api/v1/password/links/{token}", access="public", params={"token": "[A-Za-z0-9_-]{20,100}"})
class LinkUseApi(ApiHandler):
    @operation(N_("Set a new password through a link and sign in"), request=LinkUseIn,
               response=SessionState, tags=["session"], errors=(400, 403, 410, 422),
               params=[Param("token", "path", required=True)])
    async def post(self, token: str) -> None:
        body = self.body(LinkUseIn)
        user = await recovery.use_account_link(self, token, body.new_password)
        await _api_sign_in(self, user)


__all__ = ["OfferPending", "OFFER_TICKET_TTL", "set_offer_cookie", "sign_in_after_reset"]
