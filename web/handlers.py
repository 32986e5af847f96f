"""Base request handlers: session → user, access levels, CSRF, language, errors.

Every Pult handler derives from :class:`BaseHandler` (pages from :class:`PageHandler`, the JSON
API from :class:`web.api_base.ApiHandler`). What the base does for every request, in
``prepare``:

1. CSRF: a state-changing request (POST/PUT/PATCH/DELETE) must carry the ``_xsrf`` form field or
   the ``X-XSRFToken`` header matching the ``_xsrf`` cookie (Tornado's double-submit check);
   ``csrf_exempt`` handlers (API-key requests, later) skip it.
2. Session: the signed ``pult_session`` cookie → the Redis session → the user, whose
   ``session_version`` must still match (a password change ends older sessions) and whose role
   must still open the cabinet (a user switched to "No access" loses the session at once and the
   request is refused with 403 ``no_cabinet_access``).
3. Access: the handler's ``access`` (set by :func:`web.routes.route`) is enforced — anonymous
   visitors are sent to the login page (pages) or get 401 (API); the wrong kind of user gets 403.

Errors raised as :class:`AppError` carry a stable ``code`` and an English message id, rendered
in the user's language by ``write_error``.
"""
from __future__ import annotations

import asyncio
import binascii
import hashlib
import hmac
import json
import logging
import os
import time
from urllib.parse import quote, urlparse
from zoneinfo import ZoneInfo

import tornado.web
from redis.exceptions import RedisError
from tornado.log import gen_log
from tornado.web import HTTPError

from esl_control.model.common import EXTENSION_MAX_DIGITS, EXTENSION_MIN_DIGITS
from pult import i18n
from pult.errors import AppError
from pult.i18n import N_
from storage.repos.base import Scope
from storage.repos.users import get_user
from web.formats import format_local, iso
from web.sections import menu_for

log = logging.getLogger("pult.web")

SESSION_COOKIE = "pult_session"




STATUS_MESSAGES = {
    400: ("bad_request", N_("The request is not valid.")),
    401: ("unauthorized", N_("Please sign in.")),
    403: ("forbidden", N_("You do not have access to this page.")),
    404: ("not_found", N_("Nothing was found at this address.")),
    405: ("method_not_allowed", N_("This method is not allowed here.")),
    429: ("too_many_requests", N_("Too many requests. Please try again later.")),
    503: ("unavailable", N_("The service is temporarily unavailable. Please try again in a minute.")),
}


OUTAGE_RETRY_AFTER = 30  # seconds a client is asked to wait when Redis / the broker is down


def _is_outage(exc: BaseException) -> bool:
    """True for the errors of an unreachable Redis or job broker (not for bad input)."""
    from kombu.exceptions import OperationalError

    return isinstance(exc, (RedisError, OperationalError))


def _error_parts(status: int, exc: BaseException | None) -> tuple[str, str, dict, dict, dict]:
    """(code, message id, values, fields, headers) for any exception reaching write_error."""
    if isinstance(exc, AppError):
        return exc.code, exc.message, exc.values, exc.fields, exc.headers
    code, msg = STATUS_MESSAGES.get(status, ("error" if status >= 500 else "bad_request",
                                             N_("Something went wrong on our side. We are looking into it.")
                                             if status >= 500 else N_("The request is not valid.")))
    if isinstance(exc, HTTPError) and status == 403 and "xsrf" in (exc.log_message or "").lower():
        code, msg = "csrf", N_("The form has expired or was sent from another site. Reload the page and try again.")
    return code, msg, {}, {}, {}


class BaseHandler(tornado.web.RequestHandler):
    """Common ground of pages and API handlers (see the module docstring)."""

    access = "public"
    csrf_exempt = False
    session = None  # web.auth.sessions.Session of this request, when signed in
    rights = None   # web.rights.Rights of the request's user (set in prepare)
    api_key = None  # the API key document when the request was authenticated by a key
    integration_key = None  # an operator's integration key document (web/enforce.py), likewise
    cabinet_refused = False  # the session was ended because the user's role closes the cabinet

    def initialize(self, **kwargs) -> None:
        self.ctx = self.application.settings["ctx"]
        self.sessions = self.application.settings["sessions"]

    # --- request set-up -----------------------------------------------------------------------
    async def prepare(self) -> None:
        from web import enforce  # rights and API keys (web/enforce.py)

        by_key = enforce.bearer_token(self) is not None  # API keys: no cookies, so no CSRF
        try:
            if by_key:
                await enforce.authenticate_key(self)
            else:
                await self._load_session()
        except RedisError as exc:
            log.error("session store unavailable: %s", exc)
            raise AppError(503, "unavailable", STATUS_MESSAGES[503][1],
                           headers={"Retry-After": str(OUTAGE_RETRY_AFTER)}) from None
        if self.request.method not in ("GET", "HEAD", "OPTIONS") and not self.csrf_exempt \
                and not by_key:
            self.check_xsrf_cookie()  # after the session is known: signed-in tokens are bound to it
        self._enforce_access()
        await enforce.enforce_rights(self)
        await self._load_time_zone()

    async def _load_time_zone(self) -> None:
        """Remember the time zone of the user's place (see :meth:`tz`): read once per request."""
        user = self.current_user
        if not user or user.get("kind") == "operator":
            return
        from storage.repos.tenants import get_pbx

        name = None
        pbx_id = user.get("pbx_id")
        if isinstance(pbx_id, int) and not isinstance(pbx_id, bool):
            read = self._pbx_read_with_user
            if read is not None and read[0] == pbx_id and type(read[0]) is int:
                self._pbx_doc = read[1]  # read beside the user: the PBX the user is of
            else:
                self._pbx_doc = await get_pbx(self.ctx.store.db, pbx_id)  # kept for pbx_state()
            name = (self._pbx_doc or {}).get("time_zone")
        elif isinstance(user.get("account_id"), int):
            from jobs.billing.services import account_tz

            name = str(await account_tz(self.ctx.store.db, user["account_id"]))
        if name:
            self._place_tz = _zone(name)

    async def _load_session(self) -> None:
        self.current_user = None
        token = self.get_signed_cookie(SESSION_COOKIE, max_age_days=31)
        if not token:
            return
        sess = await self.sessions.load(token.decode())
        if sess is None:
            self.clear_session_cookie()
            return
        user = await self._read_user(sess.user_id)
        if (user is None or not user.get("active", True)
                or int(user.get("session_version", 1)) != sess.session_version):
            await self.sessions.delete(sess.id, sess.user_id)
            self.clear_session_cookie()
            return
        from web.rights import cabinet_closed

        if cabinet_closed(user):  # the role became "No access" after sign-in: end every session
            await self.sessions.delete_for_user(user["_id"])
            self.clear_session_cookie()
            self.cabinet_refused = True
            return
        self.session = sess
        self.current_user = user

    #: (pbx id, its document) read beside the session's user (see _read_user), or None
    _pbx_read_with_user: tuple | None = None
    #: the most user ids whose PBX is remembered (a hint: past that, the memory starts afresh)
    PBX_HINTS = 10_000

    async def _read_user(self, user_id: str) -> dict | None:
        """The session's user, and with it the PBX they were of on their last request, asked of
        the store together (one trip to the embedded store's thread instead of two, one after the
        other). The PBX read so is a guess: :meth:`_load_time_zone` takes it only when it is the
        PBX the user read now is of, and reads that one otherwise."""
        from storage.repos.tenants import get_pbx

        hints = self.application.__dict__.setdefault("_pult_pbx_of_user", {})
        guess = hints.get(user_id)
        if guess is None:
            user = await get_user(self.ctx.store, user_id)
        else:
            user, pbx = await asyncio.gather(get_user(self.ctx.store, user_id), get_pbx(self.ctx.store.db, guess))
            self._pbx_read_with_user = (guess, pbx)
        pbx_id = (user or {}).get("pbx_id")
        if type(pbx_id) is int and pbx_id != guess:
            if len(hints) >= self.PBX_HINTS:
                hints.clear()
            hints[user_id] = pbx_id
        elif guess is not None and type(pbx_id) is not int:
            hints.pop(user_id, None)
        return user

    def _enforce_access(self) -> None:
        access = self.access
        if access in ("public", "external"):
            return
        user = self.current_user
        if user is None:
            if self.cabinet_refused:
                from web.rights import NO_CABINET

                raise AppError(403, "no_cabinet_access", NO_CABINET)
            self.on_unauthenticated()
            return
        if access == "operator" and user["kind"] != "operator":
            raise AppError(403, "forbidden", N_("This section is for platform operators only."))
        if access == "tenant" and user["kind"] != "tenant":
            raise AppError(403, "forbidden", N_("This section is for PBX users only."))

    def on_unauthenticated(self) -> None:
        raise AppError(401, "unauthorized", STATUS_MESSAGES[401][1])

    # --- CSRF ---------------------------------------------------------------------------------
    # Anonymous forms (login, recovery) use Tornado's double-submit token. Once signed in, the
    # token is bound to the session: its raw value is an HMAC of the session id under the cookie
    # secret, so a token planted in the ``_xsrf`` cookie (a sibling subdomain, a captured
    # anonymous token) or one of another session is refused, and signing in or out changes it.
    def _session_xsrf_raw(self) -> bytes:
        secret = self.application.settings["cookie_secret"]
        key = secret.encode() if isinstance(secret, str) else secret
        return hmac.new(key, b"pult-xsrf|" + self.session.id.encode(), hashlib.sha256).digest()[:16]

    @property
    def xsrf_token(self) -> bytes:
        if self.session is None:
            return super().xsrf_token
        bound = getattr(self, "_bound_xsrf", None)
        if bound is None or bound[0] != self.session.id:
            mask = os.urandom(4)
            masked = bytes(b ^ mask[i % 4] for i, b in enumerate(self._session_xsrf_raw()))
            token = b"|".join([b"2", binascii.b2a_hex(mask), binascii.b2a_hex(masked),
                               str(int(time.time())).encode()])
            self.set_cookie("_xsrf", token, **(self.settings.get("xsrf_cookie_kwargs") or {}))
            bound = self._bound_xsrf = (self.session.id, token)
        return bound[1]

    def check_xsrf_cookie(self) -> None:
        if self.session is None:
            return super().check_xsrf_cookie()
        token = (self.get_argument("_xsrf", None) or self.request.headers.get("X-Xsrftoken")
                 or self.request.headers.get("X-Csrftoken"))
        if not token:
            raise HTTPError(403, "'_xsrf' argument missing from POST")
        _, raw, _ = self._decode_xsrf_token(token)
        if not raw or not hmac.compare_digest(raw, self._session_xsrf_raw()):
            raise HTTPError(403, "XSRF token does not belong to this session")

    # --- sessions -----------------------------------------------------------------------------
    def set_session_cookie(self, token: str) -> None:
        self.set_signed_cookie(SESSION_COOKIE, token, expires_days=None, httponly=True,
                               samesite="Lax", secure=self.ctx.settings.cookie_secure, path="/")

    def clear_session_cookie(self) -> None:
        self.clear_cookie(SESSION_COOKIE, path="/")

    async def start_session(self, user: dict) -> None:
        """Sign ``user`` in: drop the session this browser had (no fixation), make a new one.

        A user whose role closes the cabinet ("No access") gets no session: 403
        ``no_cabinet_access`` (the login form, the API and the password-reset flows all end here).
        """
        from web.rights import NO_CABINET, cabinet_closed

        if cabinet_closed(user):
            raise AppError(403, "no_cabinet_access", NO_CABINET)
        if self.session is not None:
            await self.sessions.delete(self.session.id, self.session.user_id)
        token, sess = await self.sessions.create(user, self.request.remote_ip,
                                                 self.request.headers.get("User-Agent", ""))
        self.set_session_cookie(token)
        self.session = sess
        self.current_user = user
        self._locale = i18n.get_locale(user.get("language") or self.ctx.settings.default_language)

    async def end_session(self) -> None:
        if self.session is not None:
            await self.sessions.delete(self.session.id, self.session.user_id)
        self.session = None
        self.current_user = None
        self.clear_session_cookie()

    # --- who and where ------------------------------------------------------------------------
    def scope(self) -> Scope:
        """The data scope of the signed-in user: their PBX, or the platform for operators."""
        user = self.current_user
        if user is None:
            raise AppError(401, "unauthorized", STATUS_MESSAGES[401][1])
        if user["kind"] == "operator":
            return Scope.platform()
        return Scope.pbx(user["pbx_id"])

    def audit_actor(self) -> dict:
        """Who made this request, for the action log (``api`` for API-key requests)."""
        from web.enforce import audit_actor

        return audit_actor(self)

    @property
    def is_operator(self) -> bool:
        return bool(self.current_user and self.current_user["kind"] == "operator")

    def get_user_locale(self):
        user = self.current_user if hasattr(self, "_current_user") else None
        if user and user.get("language") in i18n.LANGUAGES:
            return i18n.get_locale(user["language"])
        cookie = self.get_cookie(i18n.LANG_COOKIE)
        if cookie in i18n.LANGUAGES:
            return i18n.get_locale(cookie)
        lang = i18n.parse_accept_language(self.request.headers.get("Accept-Language"))
        return i18n.get_locale(lang or self.ctx.settings.default_language)

    @property
    def lang(self) -> str:
        return i18n.language_of(self.locale)

    def _(self, message: str, **values) -> str:
        """Translate a message id into the request's language."""
        text = self.locale.translate(message)
        return text % i18n.in_language(values, self.lang) if values else text

    _place_tz: ZoneInfo | None = None

    def tz(self) -> ZoneInfo:
        """The time zone every date of this request is shown and typed in: the PBX's for a PBX
        user (and an API key), the account's for an account user without a PBX; an operator's own
        (``timezone``, Moscow by default). Never the server's."""
        if self._place_tz is not None:
            return self._place_tz
        return _zone((self.current_user or {}).get("timezone") or DEFAULT_TIME_ZONE)

    def use_time_zone(self, name: str | None) -> None:
        """Show and read this request's dates in the zone ``name`` (e.g. an operator on one PBX's page
        works in that PBX's time); an unknown name is UTC, None keeps the zone."""
        if name:
            self._place_tz = _zone(name)

    def fmt_dt(self, dt, with_seconds: bool = False, tz: ZoneInfo | None = None) -> str:
        """A date-time in the user's time zone (or ``tz``) and language conventions."""
        return format_local(dt, tz or self.tz(), self.lang, with_seconds)

    def safe_next(self, value: str | None, default: str = "/") -> str:
        """A same-site path to return to after login (never another host)."""
        if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
            return default
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):  # control characters: refuse
            return default
        parsed = urlparse(value)
        if parsed.scheme or parsed.netloc:
            return default
        return value

    rate_limit_headers: dict | None = None  # a key's quota (web/api_limits.py), on every answer

    def set_default_headers(self) -> None:
        self.set_header("Cache-Control", "no-store")
        for name, value in (self.rate_limit_headers or {}).items():  # kept when an error clears
            self.set_header(name, value)

    def _handle_request_exception(self, e: BaseException) -> None:
        """A dependency outage anywhere in a request (Redis: sessions, rate limits, captcha, the
        job broker) is 503 with a clear message and ``Retry-After``, never a 500. An
        :class:`AppError` (the kernel's, Tornado-free) is answered like Tornado's own
        ``HTTPError``: logged as a refusal, answered with its status by :meth:`write_error`."""
        if _is_outage(e):
            log.error("%s %s: a dependency is unavailable: %s", self.request.method, self.request.path, e)
            e = AppError(503, "unavailable", STATUS_MESSAGES[503][1],
                         headers={"Retry-After": str(OUTAGE_RETRY_AFTER)})
        if not isinstance(e, AppError):
            return super()._handle_request_exception(e)
        self.log_exception(type(e), e, e.__traceback__)
        if self._finished:
            return
        self.send_error(e.status_code, exc_info=(type(e), e, e.__traceback__))

    def log_exception(self, typ, value, tb) -> None:
        if isinstance(value, AppError):
            gen_log.warning("%d %s: %s", value.status_code, self._request_summary(), value.log_message)
            return
        super().log_exception(typ, value, tb)

    def allowed_methods(self) -> list[str]:
        """The HTTP methods this handler implements (for ``Allow`` on 405)."""
        base = tornado.web.RequestHandler
        return [m for m in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
                if getattr(type(self), m.lower(), None) is not getattr(base, m.lower(), None)]

    def write_error(self, status_code: int, **kwargs) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        code, message, values, fields, headers = _error_parts(status_code, exc)
        if status_code == 405:
            self.set_header("Allow", ", ".join(self.allowed_methods()))
        for k, v in headers.items():
            self.set_header(k, v)
        self.render_error(status_code, code, self._(message, **values),
                          {f: self._(m) for f, m in fields.items()})

    def render_error(self, status: int, code: str, message: str, fields: dict) -> None:
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps({"error": {"code": code, "message": message, "fields": fields}},
                               ensure_ascii=False))


DEFAULT_TIME_ZONE = "Europe/Moscow"


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


DIRECTION_LABELS = {"inbound": N_("Incoming"), "outbound": N_("Outgoing"), "internal": N_("Internal")}


class PageHandler(BaseHandler):
    """A server-rendered cabinet page (templates in web/templates/).

    For a PBX user every page carries the PBX state banner (blocked and why, or the demo days
    left; ``storage.repos.tenants.pbx_state``, the same function the call side uses) above the
    content: ``prepare`` reads the state once per request (:meth:`pbx_state`) and base.html shows
    ``pbx_banner``. A page that shows the banner itself (the account panel, with its actions)
    sets ``global_banner = False``.
    """

    section: str | None = None  # key of the menu section this page belongs to
    global_banner = True
    pbx_banner: dict | None = None  # {"level": info|warn|error, "text": ...} of this request

    async def prepare(self) -> None:
        await super().prepare()
        if self._finished or not self.global_banner:
            return
        user = self.current_user
        if user and user.get("kind") == "tenant" and user.get("pbx_id"):
            state = await self.pbx_state()
            if state is not None and state.banner is not None:
                from web.pbx_state import banner_text

                self.pbx_banner = {"level": state.banner.level, "text": banner_text(self, state)}

    def page_cursors(self, sort: list) -> tuple[list | None, list | None]:
        """The decoded ``after`` / ``before`` cursors of a list page's «Older» / «Newer» links
        (``storage.paging.keyset_page``); (None, None): the newest page. A link that is not one
        of ours is refused with a clear message (400), nothing else is read."""
        from storage.paging import BadCursor, decode_cursor

        out = []
        for name in ("after", "before"):
            raw = self.get_query_argument(name, "")
            try:
                out.append(decode_cursor(raw, sort) if raw else None)
            except BadCursor:
                raise AppError(400, "validation_error",
                               N_("This page link is not valid: open the list from its newest page.")) from None
        if out[0] is not None and out[1] is not None:
            raise AppError(400, "validation_error",
                           N_("This page link is not valid: open the list from its newest page."))
        return out[0], out[1]

    async def pbx_state(self):
        """The request's PBX state (:class:`storage.repos.tenants.PbxState`, None without a PBX),
        read at most once per request; the PBX document read for the time zone is not read again."""
        if not hasattr(self, "_pbx_state"):
            from storage.repos.tenants import load_pbx_state, state_of_pbx

            pbx_id = (self.current_user or {}).get("pbx_id")
            if not pbx_id:
                self._pbx_state = None
            elif getattr(self, "_pbx_doc", None) is not None and self._pbx_doc.get("pbx_id") == int(pbx_id):
                self._pbx_state = await state_of_pbx(self.ctx.store.db, self._pbx_doc)
            else:
                self._pbx_state = await load_pbx_state(self.ctx.store.db, int(pbx_id))
        return self._pbx_state

    def on_unauthenticated(self) -> None:
        if self.request.method in ("GET", "HEAD"):
            self.redirect("/login?next=" + quote(self.request.uri, safe="/?=&"))
            return
        raise AppError(401, "unauthorized", STATUS_MESSAGES[401][1])

    def get_template_namespace(self) -> dict:
        ns = super().get_template_namespace()
        user = self.current_user
        ns.update(
            lang=self.lang, user=user, active_section=self.section,
            menu=menu_for(user, has_right=self.menu_right()),
            is_operator=self.is_operator, fmt_dt=self.fmt_dt, fmt_duration=fmt_duration,
            localized=lambda doc, field: i18n.localized(doc, field, self.lang), tz_name=str(self.tz()),
            next_url=self.request.uri, direction_labels=DIRECTION_LABELS, pbx_banner=self.pbx_banner,
            extension_min_digits=EXTENSION_MIN_DIGITS, extension_max_digits=EXTENSION_MAX_DIGITS,
        )
        return ns

    def menu_right(self):
        """The menu's rights check (sections whose ``right`` the user lacks are hidden)."""
        if self.rights is None:
            return None
        from web.rights import has_right

        return has_right(self.rights)

    def render_error(self, status: int, code: str, message: str, fields: dict) -> None:
        if self._finished:
            return
        self.render("error.html", status=status, code=code, message=message)


def fmt_duration(seconds) -> str:
    """``75`` → ``1:15``; ``3725`` → ``1:02:05``."""
    try:
        s = int(seconds or 0)
    except (TypeError, ValueError):
        return "—"
    h, rem = divmod(max(s, 0), 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"
