"""«Change the main administrator's password» from the tenant side (inventory D §4.6.3.1a).

A user with the access-settings right (section ``access`` at ``edit``) asks Pult to e-mail the
account administrator — the owner of the account the PBX belongs to — the same single-use,
24-hour link the operator console and the account-number recovery send
(:func:`web.auth.recovery.send_account_link`). The link goes only to the account's registration
e-mail, never to an address typed by the requester, so the button cannot be used to take the
account over; the page only says where it went, with the address masked.

At most one link per account every :data:`COOLDOWN` seconds (10 minutes), so the button cannot
flood the owner's mailbox. The deadline lives in Redis under ``{prefix}admin-link:{account}`` and
is judged against the process clock (``pult.clock``), which tests move instead of sleeping.
Each link sent is written to the action log (operation ``admin_password_link``).
"""
from __future__ import annotations

import math

from pult import clock
from pult.errors import AppError
from pult.i18n import N_
from storage.repos.audit import audit
from storage.repos.base import Scope
from storage.repos.tenants import get_account, get_pbx
from storage.repos.users import get_account_admin

COOLDOWN = 600  # seconds between two links of one account

NO_EMAIL = N_("The account has no registration e-mail or no main administrator; ask your operator to set it.")
TOO_SOON = N_("A link was sent less than 10 minutes ago. You can send another in %(minutes)s min.")


def mask_email(email: str) -> str:
    """``boss@romashka.ru`` → ``b***@r***.ru``: enough for the owner to recognise the address,
    not enough to read it off the screen."""
    local, _, domain = (email or "").partition("@")
    host, dot, tld = domain.rpartition(".")
    if not host:
        host, dot, tld = domain, "", ""
    return f"{local[:1]}***@{host[:1]}***{dot}{tld}"


async def registration_email(db, pbx_id: int) -> str | None:
    """The masked registration e-mail of the PBX's account (for the page), or None."""
    pbx = await get_pbx(db, pbx_id)
    account = await get_account(db, pbx["account_id"]) if pbx and pbx.get("account_id") else None
    return mask_email(account["email"]) if account and account.get("email") else None


async def _take_slot(handler, account_id: int) -> None:
    """Claim the account's 10-minute slot or raise 429 with the minutes left."""
    ctx = handler.ctx
    now = clock.timestamp()
    key = f"{ctx.redis_prefix}admin-link:{account_id}"
    deadline = now + COOLDOWN
    if await ctx.redis.set(key, deadline, nx=True, ex=COOLDOWN + 60):
        return
    current = float(await ctx.redis.get(key) or 0)
    if now < current:
        minutes = max(1, math.ceil((current - now) / 60))
        raise AppError(429, "too_many_requests", TOO_SOON, headers={"Retry-After": str(int(current - now) + 1)},
                       minutes=minutes)
    await ctx.redis.set(key, deadline, ex=COOLDOWN + 60)  # only a moved test clock gets here


async def send_admin_password_link(handler, pbx_id: int) -> str:
    """E-mail the account administrator of ``pbx_id``'s account the password link; returns the
    masked address it went to. 409 when there is nowhere to send it, 429 within the cooldown."""
    db = handler.ctx.store.db
    pbx = await get_pbx(db, pbx_id)
    account_id = (pbx or {}).get("account_id")
    account = await get_account(db, account_id) if isinstance(account_id, int) else None
    if not account or not account.get("email") or not await get_account_admin(handler.ctx.store, account_id):
        raise AppError(409, "no_registration_email", NO_EMAIL)
    await _take_slot(handler, account_id)
    from web.auth.recovery import send_account_link

    if not await send_account_link(handler, account_id):
        raise AppError(409, "no_registration_email", NO_EMAIL)
    masked = mask_email(account["email"])
    await audit(db, Scope.pbx(pbx_id), actor=handler.audit_actor(), section="access",
                operation="admin_password_link",
                object={"type": "account", "id": account_id, "name": account.get("name")},
                before=None, after={"sent_to": masked})
    return masked
