"""Action-log entries for a user's changes to their own things (password, sessions, language).

PRODUCT.md §6: every change made in the cabinet, the API or by the system is in the action log.
The user's own changes have no section of the rights matrix, so they are logged under the
``profile`` section, in the log the user belongs to: a tenant user's PBX, an account
administrator's account, an operator's platform log. Secrets never reach the log (the audit
repository masks them); a password change records only *that* and when it happened.
"""
from __future__ import annotations

from typing import Any

from storage.repos.audit import audit
from storage.repos.base import Scope

SECTION = "profile"


def user_scope(user: dict) -> Scope:
    """The action log a user's own changes go to."""
    if user.get("pbx_id"):
        return Scope.pbx(int(user["pbx_id"]))
    if user.get("account_id"):
        return Scope.account(int(user["account_id"]))
    return Scope.platform()


async def audit_self(handler, operation: str, *, object: dict | None = None,
                     before: Any = None, after: Any = None, user: dict | None = None) -> dict:
    """Write one entry for ``handler``'s signed-in user changing something of their own."""
    from web.enforce import audit_actor

    user = user or handler.current_user
    obj = object or {"type": "user", "id": user.get("_id"), "name": user.get("login")}
    return await audit(handler.ctx.store.db, user_scope(user), actor=audit_actor(handler),
                       section=SECTION, operation=operation, object=obj, before=before, after=after)
