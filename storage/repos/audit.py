"""The action log («Журнал действий», PRODUCT.md §6, inventory D §4.6.3.2): one entry per change.

Every change made in the cabinet, the API or by the system is written here by the service that
made it, right after its own write::

    await audit(db, Scope.pbx(101), actor={"kind": "user", "login": "101/admin", "ip": "10.0.0.5"},
                section="telephony.groups", operation="update",
                object={"type": "group", "id": gid, "name": "Sales"}, before=old, after=new)

An entry: ``{_id, pbx_id | account_id, at, actor: {kind, login, ip}, section, operation,
object: {type, id, name}, before, after}``. ``actor.kind`` is ``user``, ``system`` or ``api``
(the cabinet shows "System" and "API" for the last two). Secrets never reach the log: values of
keys that name a password, hash or secret are replaced by ``"***"`` at any depth, so a SIP
password change shows *that* it changed, never the value. The access issue adds search/export.
"""
from __future__ import annotations

from typing import Any, Mapping

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, IndexModel

from pult import clock

from .base import Scope, ScopedRepo

ACTOR_KINDS = ("user", "system", "api")
MASK = "***"
_SECRET_WORDS = ("password", "a1_hash", "secret", "pin_hash", "token")


class AuditLog(ScopedRepo):
    """Action-log entries of one PBX or account (or all of them: operator views, platform scope)."""

    collection = "audit_log"
    scopes = ("pbx_id", "account_id", None)
    indexes = [
        # the action log, newest first (web.access.log.NEWEST_FIRST: at, then _id), per PBX, per
        # account and platform-wide (operator)
        IndexModel([("pbx_id", ASCENDING), ("at", DESCENDING), ("_id", DESCENDING)], name="pbx_at_id"),
        IndexModel([("account_id", ASCENDING), ("at", DESCENDING), ("_id", DESCENDING)], name="account_at_id"),
        IndexModel([("at", DESCENDING), ("_id", DESCENDING)], name="at_id"),
        IndexModel([("object.type", ASCENDING), ("object.id", ASCENDING)], name="object"),
    ]


def _secret_key(key: str) -> bool:
    low = key.lower()
    return any(word in low for word in _SECRET_WORDS)


def redact(value: Any) -> Any:
    """A copy of ``value`` with every secret-looking key's value replaced by ``"***"``."""
    if isinstance(value, Mapping):
        return {k: (MASK if _secret_key(str(k)) and v not in (None, "") else redact(v))
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value


def normalize_actor(actor: Mapping[str, Any] | None) -> dict:
    """``{kind, login, ip, name}`` with ``kind`` one of user/system/api (``"System"``/``"API"`` accepted)."""
    actor = dict(actor or {"kind": "system"})
    kind = str(actor.get("kind") or "user").strip().lower()
    if kind not in ACTOR_KINDS:
        raise ValueError(f"audit actor kind must be one of {ACTOR_KINDS}, got {actor.get('kind')!r}")
    return {"kind": kind, "login": actor.get("login"), "ip": actor.get("ip"), "name": actor.get("name")}


async def audit(db, scope: Scope, *, actor: Mapping[str, Any] | None, section: str, operation: str,
                object: Mapping[str, Any], before: Any = None, after: Any = None) -> dict:
    """Write one action-log entry (see the module docstring); returns the stored entry."""
    if not section or not operation:
        raise ValueError("an audit entry needs a section and an operation")
    obj = {"type": object.get("type"), "id": None if object.get("id") is None else str(object.get("id")),
           "name": object.get("name")}
    entry = {"_id": str(ObjectId()), "at": clock.now(), "actor": normalize_actor(actor),
             "section": section, "operation": operation, "object": obj,
             "before": redact(before), "after": redact(after)}
    await AuditLog(db, scope).insert_one(entry)
    return entry
