"""Rights on the server for every request, and API-key authentication.

:class:`web.handlers.BaseHandler.prepare` calls :func:`authenticate_key` (requests to ``/api/``
carrying ``Authorization: Bearer …``) or loads the session, then :func:`enforce_rights`.

Which right a request needs (:func:`required_right`), first match wins:

1. the method's own declaration — ``@operation(..., level="view")`` on API methods, or
   :func:`web.rights.requires` on page methods;
2. the route's — ``@route(path, access="tenant", section="employees", level=None)``: the section,
   and ``view`` for GET/HEAD, ``edit`` for POST/PUT/PATCH/DELETE unless ``level`` is given
   (a read-only section's writes need its highest level, ``view``);
3. ``personal=True`` routes (the user's own profile, password, sessions): any signed-in user —
   but not an API key, which has no person behind it;
4. anything else is *undeclared* and needs every right (Administrator): fail closed, so a new
   endpoint is never open to a role it was not meant for. ``tests/integration/test_access_*``
   list undeclared routes as a failure.

Operators (platform staff) have every right; ``public``/``external``/``operator`` routes need no
section. A refusal is 403 ``forbidden`` naming the section, in the user's language.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import timedelta, timezone
from typing import Any

from pult import clock
from pult.errors import AppError
from pult.i18n import N_
from storage.repos.api_keys import ApiKeys, key_by_id
from storage.repos.base import Scope
from storage.repos.integration_keys import IntegrationKeys, integration_key_by_id
from storage.repos.roles import Roles, supervised_mode
from esl_control.model.reach import EVERYTHING, Reach
from web.rights import (BASE_ROLES, NO_CABINET, SECTIONS_BY_KEY, Rights, rights_for)
from esl_control.routing.acl import WhitelistError, allowed, parse_entry

log = logging.getLogger("pult.web.access")

PERSONAL = "personal"
UNDECLARED = "undeclared"
READ_METHODS = ("GET", "HEAD", "OPTIONS")
KEY_PREFIX = "pult_"
INTEGRATION_PREFIX = "pult_int_"  # an operator's integration key (tenant key ids are hex: no clash)
#: what an operator's integration key may be allowed to do (PRODUCT §10), by name; an API method
#: opens itself to a capability with :func:`integration`
CAPABILITIES = {"payments": N_("Record payments to any account")}
TOUCH_EVERY = timedelta(seconds=60)   # how often a key's "last used" is rewritten


def integration(capability: str):
    """Let an operator's integration key holding ``capability`` call this API method (decorate
    ``post``/``get``/…). Nothing else is open to such a key: every other method refuses it."""
    if capability not in CAPABILITIES:
        raise ValueError(f"unknown integration capability {capability!r}")

    def mark(fn):
        fn.__integration__ = capability
        return fn
    return mark


def integration_capability(handler_cls: type, method: str) -> str | None:
    """The capability that opens a handler's method to integration keys (None: closed to them)."""
    return getattr(getattr(handler_cls, method.lower(), None), "__integration__", None)


def required_right(handler_cls: type, method: str) -> tuple[str, str] | str:
    """``(section, level)``, :data:`PERSONAL` or :data:`UNDECLARED` for a handler's method."""
    method = method.upper()
    fn = getattr(handler_cls, method.lower(), None)
    m_section, m_level = getattr(fn, "__right__", (None, None))
    section = m_section or getattr(handler_cls, "rights_section", None)
    if section is None:
        if getattr(handler_cls, "personal", False):
            return PERSONAL
        return UNDECLARED
    level = m_level or getattr(handler_cls, "rights_level", None)
    if level is None:
        level = "view" if method in READ_METHODS else SECTIONS_BY_KEY[section].max_level
    return section, level


# --- rights of the request --------------------------------------------------------------------
async def load_rights(db, user: dict | None) -> Rights:
    """The rights of ``user``, reading the custom role and supervised groups when needed."""
    if not user or user.get("kind") == "operator":
        return rights_for(user)
    role_key = user.get("role") or ""
    custom = None
    if role_key not in BASE_ROLES and user.get("pbx_id"):
        doc = await Roles(db, Scope.pbx(user["pbx_id"])).find_one({"_id": role_key})
        custom = {role_key: doc} if doc else None
    rights = rights_for(user, custom)
    if rights.role.supervises:
        rights = rights_for(user, custom, await supervised_groups(db, user))
    return rights


async def supervised_groups(db, user: dict) -> list[str]:
    """Ids of the call groups ``user`` supervises, by the PBX's "choice of supervised groups":
    ``list`` — the user's own ``supervised_groups``; ``all`` — every group of the PBX;
    ``member`` — the groups whose members include the user's employee (``employee_id``)."""
    scope = Scope.pbx(user["pbx_id"])
    mode = await supervised_mode(db, scope)
    if mode == "list":
        return [str(g) for g in user.get("supervised_groups") or []]
    from storage.repos.telephony import RingGroups

    flt: dict[str, Any] = {}
    if mode == "member":
        if not user.get("employee_id"):
            return []
        flt = {"members.employee_id": user["employee_id"]}
    return [str(d["_id"]) for d in await RingGroups(db, scope).find(flt, projection={"_id": 1})]


async def request_rights(handler) -> Rights:
    """The rights of the request's user (computed once per request)."""
    if getattr(handler, "rights", None) is None:
        handler.rights = await load_rights(handler.ctx.store.db, handler.current_user)
    return handler.rights


async def request_reach(handler, section: str) -> Reach:
    """How far the request's user reaches in ``section`` (an operator: everything), for the
    services that apply it (:mod:`esl_control.model.reach`)."""
    rights = await request_rights(handler)
    kind = rights.reach(section)
    if kind in (None, "all") or rights.operator:
        return EVERYTHING
    return Reach(kind, (handler.current_user or {}).get("employee_id"), frozenset(rights.supervised_groups))


async def enforce_rights(handler) -> None:
    """Refuse the request (403) unless the user's rights cover what the route needs. An
    operator's integration key passes only where its capability is declared (:func:`integration`)."""
    # first, so even a public route (e.g. the session) refuses it: it is nobody's user
    integration_key = getattr(handler, "integration_key", None)
    if integration_key is not None:
        capability = integration_capability(type(handler), handler.request.method)
        if capability is None or capability not in (integration_key.get("capabilities") or []):
            raise AppError(403, "forbidden", N_("This integration key may not make this request."))
        return
    if handler.access in ("public", "external", "operator") or handler.current_user is None:
        if handler.current_user is not None:
            await request_rights(handler)  # for the menu
        return
    rights = await request_rights(handler)
    need = required_right(type(handler), handler.request.method)
    by_key = getattr(handler, "api_key", None) is not None
    if need == PERSONAL:
        if by_key:
            raise AppError(403, "forbidden", N_("This request needs a signed-in user; an API key cannot make it."))
        return
    if rights.operator:
        return
    if not rights.cabinet:
        raise AppError(403, "no_cabinet_access", NO_CABINET)
    if need == UNDECLARED:
        if rights.full:
            return
        raise AppError(403, "forbidden", N_("Only an administrator may do this."))
    section, level = need
    if rights.can(section, level):
        return
    title = handler._(SECTIONS_BY_KEY[section].title)
    if level == "edit" and rights.can(section, "view"):
        raise AppError(403, "forbidden", N_("Your role only allows viewing the section «%(section)s»."),
                       section=title)
    raise AppError(403, "forbidden", N_("Your role does not give access to the section «%(section)s»."),
                   section=title)


# --- API keys ----------------------------------------------------------------------------------
def bearer_token(handler) -> str | None:
    """The ``Authorization: Bearer`` token of an API request (None for other requests)."""
    if not handler.request.path.startswith("/api/"):
        return None
    header = handler.request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip()


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def key_id_of(secret: str, prefix: str = KEY_PREFIX) -> str | None:
    """The key id inside a secret ``pult_<id>_<random>`` (``pult_int_<id>_<random>`` with
    :data:`INTEGRATION_PREFIX`); None when the shape is wrong."""
    if not secret.startswith(prefix) or len(secret) > 200:
        return None
    key_id, sep, rest = secret[len(prefix):].partition("_")
    return key_id if sep and key_id and rest else None


_BAD_KEY = N_("The API key is not valid or has been revoked.")


async def authenticate_key(handler) -> None:
    """Authenticate an API request by its key: 401 for an unknown/revoked key, 403 from an
    address outside the key's whitelist. Sets ``handler.api_key`` and a ``current_user`` that
    acts as the key (its PBX and role; its audit actor is "API"); an operator's integration key
    (``pult_int_…``) sets ``handler.integration_key`` instead (:func:`enforce_rights` lets it do
    only what its capabilities name). Counts the request against the key's rate limit."""
    from web.api_limits import limit_key_request

    handler.current_user = None
    token = bearer_token(handler) or ""
    db = handler.ctx.store.db
    integration = token.startswith(INTEGRATION_PREFIX)
    if integration:
        key_id = key_id_of(token, INTEGRATION_PREFIX)
        doc = await integration_key_by_id(db, key_id) if key_id else None
    else:
        key_id = key_id_of(token)
        doc = await key_by_id(db, key_id) if key_id else None
    challenge = {"WWW-Authenticate": 'Bearer realm="pult"'}
    if doc is None or doc.get("revoked_at") is not None or \
            not hmac.compare_digest(doc.get("secret_hash", ""), hash_secret(token)):
        raise AppError(401, "invalid_api_key", _BAD_KEY, headers=challenge)
    ip = handler.request.remote_ip or ""
    entries = []
    for text in doc.get("whitelist") or []:  # a stored entry the syntax no longer accepts allows nothing
        try:
            entries.append(parse_entry(text))
        except WhitelistError:
            log.warning("API key %s: whitelist entry %r is not valid; ignored", doc["_id"], text)
    if not allowed(ip, entries):
        log.warning("API key %s used from %s, outside its whitelist", doc["_id"], ip)
        raise AppError(403, "ip_not_allowed", N_("Requests with this API key are not allowed from %(ip)s."),
                       ip=ip)
    if integration:
        handler.integration_key = doc
        handler.current_user = integration_user(doc)
        repo = IntegrationKeys(db, Scope.platform())
    else:
        handler.api_key = doc
        handler.current_user = key_user(doc)
        repo = ApiKeys(db, Scope.pbx(doc["pbx_id"]))
    await limit_key_request(handler, "integration" if integration else "api_key", doc["_id"])
    now = clock.now()
    last = doc.get("last_used_at")
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=timezone.utc)
    if last is None or now - last >= TOUCH_EVERY or doc.get("last_ip") != ip:
        await repo.update_one({"_id": doc["_id"]}, {"$set": {"last_used_at": now, "last_ip": ip}})


def integration_user(doc: dict) -> dict:
    """The request's "user" when an operator's integration key authenticated it: no PBX, no
    account, no role (rights of "No access"): only its capabilities open anything."""
    return {"_id": f"integration:{doc['_id']}", "kind": "integration", "pbx_id": None, "account_id": None,
            "login": f"integration:{doc['_id']}", "display_name": doc.get("name") or "Integration",
            "role": "no_access", "language": None, "active": True, "integration_key_id": doc["_id"]}


def key_user(doc: dict) -> dict:
    """The request's "user" when a key authenticated it: the key's PBX and role."""
    return {"_id": f"apikey:{doc['_id']}", "kind": "tenant", "pbx_id": doc["pbx_id"],
            "account_id": doc.get("account_id"), "login": f"api:{doc['_id']}",
            "display_name": doc.get("name") or "API", "role": doc.get("role"), "language": None,
            "active": True, "api_key_id": doc["_id"]}


def audit_actor(handler) -> dict:
    """The action-log actor of a request: ``api`` for key requests, else the signed-in user."""
    ip = handler.request.remote_ip
    key = getattr(handler, "api_key", None)
    if key is not None:
        return {"kind": "api", "login": f"api:{key['_id']}", "name": key.get("name"), "ip": ip}
    key = getattr(handler, "integration_key", None)
    if key is not None:
        return {"kind": "api", "login": f"integration:{key['_id']}", "name": key.get("name"), "ip": ip}
    user = handler.current_user or {}
    if not user:
        return {"kind": "system", "login": None, "ip": ip}
    login = user.get("login")
    if user.get("kind") == "tenant" and login and user.get("pbx_id"):
        login = f"{user['pbx_id']}/{login}"
    return {"kind": "user", "login": login, "name": user.get("display_name"), "ip": ip,
            "user_id": user.get("_id")}
