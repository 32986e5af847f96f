"""Create-password and recovery (PRODUCT.md §6, inventory A §1.1–1.2, D §4.6.3.1a).

Employees (by e-mail or phone)::

    flow = await request_code(handler, "anna@example.com")   # always the same answer
    user = await confirm_code(handler, flow, "123456", "new-pass-123")   # signs in

A 6-digit code goes by e-mail or SMS (jobs), valid 3 minutes, at most 5 tries; after a successful
reset that e-mail/phone gets no new code for 1 hour. The answer to a request never depends on
whether the identifier is known: an unknown one gets a flow too (whose code nobody has), and
delivery runs in the background so the response time does not tell either. An identifier found
in several employee cards gets, instead of a code, a message *to that address* telling the person
to use the phone (or the e-mail) instead — so only its owner learns it is ambiguous.

Account administrators (by account number + registration e-mail)::

    await request_account_link(handler, "100001", "boss@example.com")   # same answer always
    user = await use_account_link(handler, token, "new-pass-123")        # single use, 24 h

The operator's console sends the same link to a new account (:func:`send_account_link`).
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from pult import i18n
from pult.errors import AppError
from pult.i18n import N_
from pult.passwords import describe_problems, password_problems
from storage.repos.audit import audit
from storage.repos.base import Scope
from storage.repos.tenants import get_account
from storage.repos.users import (UserError, find_login_candidates, get_account_admin, get_user,
                                 normalize_phone, parse_login, set_password)
from web.auth.codes import code_store

log = logging.getLogger("pult.web.auth")

_background: set[asyncio.Task] = set()
INVALID = N_("Some fields are not filled in correctly.")


def _spawn(coro) -> None:
    task = asyncio.get_running_loop().create_task(coro)
    _background.add(task)
    task.add_done_callback(_background.discard)


async def wait_deliveries() -> None:
    """Wait for background deliveries started so far (tests and graceful shutdown)."""
    while _background:
        await asyncio.gather(*list(_background), return_exceptions=True)


def parse_identifier(text: str) -> tuple[str, str]:
    """(kind, normalised value) of an e-mail or phone typed on the recovery form; AppError 422
    with a field message otherwise (a format check — says nothing about existence)."""
    text = (text or "").strip()
    if not text:
        raise AppError(422, "validation_error", INVALID,
                       fields={"identifier": N_("Enter the e-mail or the phone number from your employee card.")})
    phone = normalize_phone(text)
    if phone:
        return "phone", phone
    try:
        name = parse_login(text)
    except UserError:
        name = None
    if name is not None and name.kind == "email":
        return "email", name.login
    raise AppError(422, "validation_error", INVALID,
                   fields={"identifier": N_("Enter an e-mail address (name@example.com) or a phone number (+7 916 123-45-67).")})


def check_new_password(handler, new: str, repeat: str | None = None) -> None:
    """AppError 422 naming the field when the new password breaks the policy or the repeat differs."""
    problems = password_problems(new or "")
    if problems:
        raise AppError(422, "validation_error", INVALID,
                       fields={"new_password": describe_problems(problems, handler.lang)})
    if repeat is not None and new != repeat:
        raise AppError(422, "validation_error", INVALID,
                       fields={"new_password_repeat": N_("The passwords do not match.")})


async def _sync_job_settings(handler) -> None:
    """Workers apply the operator's SMTP/SMS overrides themselves at delivery
    (jobs.context.delivery_settings); make sure they read the current ones."""
    from jobs import context

    context.forget_overrides()


async def _deliver(handler, kind: str, to: str, lang: str, subject: str, text: str, key: str) -> None:
    try:
        await _sync_job_settings(handler)
        if kind == "email":
            from jobs.mail import send_mail_async

            await send_mail_async(to, i18n.translate(lang, subject), text=text, idempotency_key=key)
        else:
            from jobs.sms import send_sms_async

            await send_sms_async(to, text, idempotency_key=key)
    except Exception as exc:  # the person sees "if the address is known, a code was sent"
        log.error("could not queue the %s to %s: %s", kind, to, exc)


async def request_code(handler, identifier: str) -> str:
    """Start a create-password / recovery flow; returns the flow id (always, see module doc).

    Raises AppError 422 for a malformed identifier, 429 during the post-reset cooldown or when
    the identifier asked for too many codes this hour.
    """
    kind, ident = parse_identifier(identifier)
    codes = code_store(handler)
    left = await codes.cooldown_left(ident)
    if left:
        raise AppError(429, "reset_cooldown",
                       N_("The password for this address was changed less than an hour ago. Try again in %(minutes)s min."),
                       headers={"Retry-After": str(left)}, minutes=max(1, -(-left // 60)))
    if not await codes.take_request(ident):
        raise AppError(429, "too_many_codes", N_("Too many codes were requested for this address. Try again in an hour."))
    name = parse_login(ident)
    candidates = await find_login_candidates(handler.ctx.store, name)
    user = candidates[0] if len(candidates) == 1 else None
    flow, code = await codes.issue(ident, kind, user["_id"] if user else None)
    lang = (user or {}).get("language") or handler.lang
    if user is not None:
        if kind == "email":
            text = i18n.translate(lang, N_("Your confirmation code: %(code)s. It is valid for 3 minutes. If you did not ask for it, ignore this message."), code=code)
        else:
            text = i18n.translate(lang, N_("Pult code: %(code)s (valid 3 min)"), code=code)
        _spawn(_deliver(handler, kind, ident, lang, N_("Your confirmation code"), text, f"code:{flow}"))
    elif len(candidates) > 1:
        if kind == "email":
            text = i18n.translate(lang, N_("Someone asked for a password code for this e-mail. It is in several employee cards, so no code was sent: use your phone number instead, or ask your PBX administrator."))
        else:
            text = i18n.translate(lang, N_("This phone number is in several employee cards, so no code was sent: use your e-mail instead, or ask your PBX administrator."))
        _spawn(_deliver(handler, kind, ident, lang, N_("Your confirmation code"), text, f"ambiguous:{flow}"))
    return flow


CODE_ERRORS = {
    "expired": (410, "code_expired", N_("The code has expired. Request a new one.")),
    "exhausted": (410, "code_exhausted", N_("Too many wrong codes. Request a new one.")),
    "unknown": (410, "flow_expired", N_("This request is no longer valid. Request a new code.")),
}


async def confirm_code(handler, flow: str, code: str, new_password: str,
                       repeat: str | None = None) -> dict:
    """Check the code, set the new password, end the user's other sessions, start the post-reset
    cooldown and sign the user in; returns the user. The password policy is checked first, so a
    too-weak password does not use up a try."""
    check_new_password(handler, new_password, repeat)
    codes = code_store(handler)
    result = await codes.check(flow, code)
    if result.status in CODE_ERRORS:
        status, err, msg = CODE_ERRORS[result.status]
        raise AppError(status, err, msg)
    if result.status == "wrong":
        raise AppError(422, "wrong_code", N_("Wrong code. Attempts left: %(n)s."),
                       fields={"code": N_("Wrong code.")}, n=result.tries_left)
    user = await get_user(handler.ctx.store, result.user_id)
    if user is None or not user.get("active", True):
        raise AppError(410, "flow_expired", CODE_ERRORS["unknown"][2])
    updated = await _apply_new_password(handler, user, new_password, "code")
    await codes.start_cooldown(result.ident)
    return updated


async def _apply_new_password(handler, user: dict, new_password: str, how: str) -> dict:
    before = {"password_changed_at": user.get("password_changed_at")}
    updated = await set_password(handler.ctx.store, user["_id"], new_password)
    await handler.sessions.delete_for_user(user["_id"])
    scope = Scope.pbx(user["pbx_id"]) if user.get("pbx_id") else Scope.platform()
    await audit(handler.ctx.store.db, scope, actor={"kind": "user", "login": user.get("login"),
                                                    "ip": handler.request.remote_ip},
                section="security", operation="password_reset",
                object={"type": "user", "id": user["_id"], "name": user.get("login")},
                before=before, after={"password_changed_at": updated.get("password_changed_at"),
                                      "via": how})
    return updated


async def send_account_link(handler, account_id: int, lang: str | None = None) -> bool:
    """E-mail the account administrator a single-use 24-hour link to set the password; False
    when the account has no registration e-mail or no administrator."""
    db = handler.ctx.store.db
    account = await get_account(db, account_id)
    admin = await get_account_admin(handler.ctx.store, account_id)
    if not account or not admin or not account.get("email"):
        return False
    token = await code_store(handler).issue_link(admin["_id"], account_id)
    url = f"{handler.ctx.settings.public_url}/password/link/{token}"
    lang = lang or admin.get("language") or "ru"
    text = i18n.translate(lang, N_("To set a new password for account %(account)s, open this link within 24 hours (it works once): %(url)s If you did not ask for it, ignore this message."),
                          account=account_id, url=f"\n\n{url}\n\n")
    subject = i18n.translate(lang, N_("Password of account %(account)s"), account=account_id)
    _spawn(_deliver_subject(handler, account["email"], subject, text, f"link:{token[:16]}"))
    return True


async def _deliver_subject(handler, to: str, subject: str, text: str, key: str) -> None:
    try:
        await _sync_job_settings(handler)
        from jobs.mail import send_mail_async

        await send_mail_async(to, subject, text=text, idempotency_key=key)
    except Exception as exc:
        log.error("could not queue the e-mail to %s: %s", to, exc)


async def request_account_link(handler, account_number: str, email: str) -> None:
    """Account-number recovery: when the number and the registration e-mail match, e-mail the
    link. The answer is the same either way (only the format is checked)."""
    fields: dict[str, Any] = {}
    number = (account_number or "").strip()
    if not number.isdigit() or not 6 <= len(number) <= 9:
        fields["account"] = N_("Enter the account number: 6 to 9 digits, as in your contract.")
    email_norm = (email or "").strip().lower()
    try:
        if parse_login(email_norm).kind != "email":
            raise UserError("email", "")
    except UserError:
        fields["email"] = N_("Enter the e-mail address given at registration.")
    if fields:
        raise AppError(422, "validation_error", INVALID, fields=fields)
    codes = code_store(handler)
    if not await codes.take_request(f"account:{number}"):
        raise AppError(429, "too_many_codes", N_("Too many codes were requested for this address. Try again in an hour."))
    account = await get_account(handler.ctx.store.db, int(number))
    if account and (account.get("email_norm") or "") == email_norm:
        await send_account_link(handler, int(number))


async def link_user(handler, token: str) -> dict | None:
    """The user a still-valid link is for (the form page shows it), or None."""
    data = await code_store(handler).peek_link(token)
    if not data:
        return None
    return await get_user(handler.ctx.store, data["user_id"])


async def use_account_link(handler, token: str, new_password: str, repeat: str | None = None) -> dict:
    """Set the password through a link (single use) and sign the user in."""
    check_new_password(handler, new_password, repeat)
    data = await code_store(handler).use_link(token)
    user = await get_user(handler.ctx.store, data["user_id"]) if data else None
    if user is None:
        raise AppError(410, "link_expired", N_("This link has expired or was already used. Request a new one."))
    return await _apply_new_password(handler, user, new_password, "link")
