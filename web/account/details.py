"""Use cases of the account panel and the login settings, shared by the pages (web/account/pages.py)
and the API (web/account/http.py): one implementation each, so both refuse and audit alike.

- :func:`save_account_details` — the account's contacts or requisites (validated, audited);
- :func:`convert_own_demo` — the account administrator converts a demo PBX of the account;
- :func:`save_login_settings` — captcha always on and the ways employees may sign in.
"""
from __future__ import annotations

from typing import Any

from pult.errors import AppError
from pult.i18n import N_
from storage.repos.audit import audit
from storage.repos.base import Scope
from storage.repos.tenants import account_balance, get_edition, get_pbx, update_pbx

LOGIN_METHODS = ("email", "phone", "sip")
ACCOUNT_ADMIN_ONLY = N_("Only the account administrator can do this.")


async def account_of_user(db, user: dict) -> int:
    """The account of the user's PBX (the account administrator's own account); 404 without one."""
    pbx = await get_pbx(db, user.get("pbx_id")) or {} if user.get("pbx_id") else {}
    account_id = pbx.get("account_id") or user.get("account_id")
    if not isinstance(account_id, int):
        raise AppError(404, "not_found", N_("No such account."))
    return account_id


def _model(key: str):
    from web.account.models import AccountRequisitesIn
    from web.operator.models import Contacts

    return {"contacts": Contacts, "requisites": AccountRequisitesIn}[key]


async def account_details(db, user: dict, key: str) -> dict:
    """The stored ``contacts`` / ``requisites`` of the user's account, every field present."""
    from storage.repos.tenants import get_account

    account = await get_account(db, await account_of_user(db, user)) or {}
    model = _model(key)
    stored = account.get(key) or {}
    return {name: stored.get(name, [] if name in ("phones", "emails") else None) for name in model.model_fields}


async def save_account_details(db, user: dict, actor: dict, key: str, data: dict[str, Any]) -> dict:
    """Validate ``data`` as the account's ``contacts`` or ``requisites`` (422 naming each bad
    field, nothing saved), store it whole, audit before/after (section ``account``, operation
    ``key``); the stored value. The caller has checked the Finance role
    (:func:`web.finance.access.check_finance_role`)."""
    from storage.repos.tenants import update_account
    from web.operator.models import validate

    value = validate(_model(key), data).model_dump()
    account_id = await account_of_user(db, user)
    result = await update_account(db, account_id, {key: value})
    if result is None:
        raise AppError(404, "not_found", N_("No such account."))
    await audit(db, Scope.account(account_id), actor=actor, section="account", operation=key,
                object={"type": "account", "id": account_id, "name": result[1].get("name")},
                before={key: result[0].get(key)}, after={key: result[1].get(key)})
    return value


async def account_pbx(db, user: dict, pbx_id: int) -> dict:
    """A PBX of the account administrator's account (404 for any other, deleted ones included;
    403 for a user who is not the account administrator)."""
    if user.get("realm") != "account":
        raise AppError(403, "forbidden", ACCOUNT_ADMIN_ONLY)
    pbx = await get_pbx(db, pbx_id)
    if pbx is None or pbx.get("account_id") != user.get("account_id") or pbx.get("status") == "deleted":
        raise AppError(404, "not_found", N_("No such PBX."))
    return pbx


async def convert_own_demo(db, user: dict, actor: dict, pbx_id: int) -> dict:
    """The account administrator turns a demo PBX of the account into a paid one: refused (409)
    while the balance does not cover the edition's first month; the PBX as the operator sees it."""
    from web.operator.services import convert_demo

    pbx = await account_pbx(db, user, pbx_id)
    edition = await get_edition(db, pbx.get("edition"))
    if await account_balance(db, pbx["account_id"]) < int((edition or {}).get("monthly_fee") or 0):
        raise AppError(409, "insufficient_funds",
                       N_("The balance is not enough for the first month of the edition: top up the account first."))
    return await convert_demo(db, pbx_id, actor)


def login_settings_of(pbx: dict) -> dict:
    """``{"captcha_always": bool, "login_methods": {email, phone, sip: bool}}`` of a PBX (the
    ways not set are open, as the login checks read them)."""
    methods = pbx.get("login_methods") or {}
    return {"captcha_always": bool(pbx.get("captcha_always")),
            "login_methods": {m: bool(methods.get(m, True)) for m in LOGIN_METHODS}}


async def save_login_settings(db, pbx_id: int, actor: dict, captcha_always: bool,
                              login_methods: dict[str, bool]) -> dict:
    """Store the PBX's login settings (every way named; one left out stays as it is) and audit
    them (section ``restrictions``); the settings as stored."""
    pbx = await get_pbx(db, pbx_id)
    if pbx is None:
        raise AppError(404, "not_found", N_("No such PBX."))
    methods = {**login_settings_of(pbx)["login_methods"],
               **{m: bool(v) for m, v in login_methods.items() if m in LOGIN_METHODS}}
    changes = {"captcha_always": bool(captcha_always), "login_methods": methods}
    result = await update_pbx(db, pbx_id, changes)
    if result is None:
        raise AppError(404, "not_found", N_("No such PBX."))
    before, after = result
    await audit(db, Scope.pbx(pbx_id), actor=actor, section="restrictions", operation="login_settings",
                object={"type": "pbx", "id": pbx_id, "name": after.get("name")},
                before={k: before.get(k) for k in changes}, after={k: after.get(k) for k in changes})
    return login_settings_of(after)
