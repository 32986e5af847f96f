"""Operator integration keys (PRODUCT.md §10, issue 9 item 3): keys of the platform's own systems.

A tenant's API key acts for its PBX with a role; an *integration key* is made by an operator in
the operator console for a system of the platform (a bank-statement importer, the operator's
billing) and acts for no tenant: it can do exactly what its named capabilities open
(:data:`web.enforce.CAPABILITIES`; ``payments``: ``POST /api/v1/accounts/{id}/payments`` for any
account) and nothing else — every other API method refuses it with 403, the operator's API and
console included. Like a tenant's key it is sent as ``Authorization: Bearer pult_int_…``, works
only from its allowed addresses, is rate-limited (``PULT_API_RATE_LIMIT``), its secret is shown
once, and it can be revoked; what it does is in the action log as "API" with its name.

One use case (:class:`IntegrationKeyService`) serves the console page and the operator API.
"""
from __future__ import annotations

import secrets
from typing import Any, Literal

from pydantic import BaseModel, Field

from esl_control.routing.acl import WhitelistError, parse_whitelist
from pult import clock
from pult.errors import AppError
from pult.i18n import N_
from storage.repos.audit import audit
from storage.repos.base import Scope
from storage.repos.integration_keys import IntegrationKeys
from web.api_base import ApiHandler, Param, operation
from web.api_fields import WHITELIST_ENTRY_PATTERN, documented
from web.api_models import KeyOut
from web.enforce import CAPABILITIES, INTEGRATION_PREFIX, hash_secret
from web.operator.models import Strict, validate
from web.operator.pages import OperatorPage
from web.routes import route
from web.sections import Section, register_section

register_section(Section("op_integrations", N_("Integration keys"), "/operator/integration-keys", order=845,
                         audience="operator", icon="⚿"))

KEY_ID = "[0-9a-f]{12}"
INVALID = N_("Some fields are not filled in correctly.")


def _refuse(field: str, message: str) -> AppError:
    return AppError(422, "validation_error", INVALID, fields={field: message})


# --- the use case ---------------------------------------------------------------------------------
class IntegrationKeyService:
    """Create, list and revoke the platform's integration keys; every change in the action log
    (platform scope) with the operator as the actor. Validation happens before the first write."""

    def __init__(self, db, actor: dict):
        self.db = db
        self.actor = actor
        self.keys = IntegrationKeys(db, Scope.platform())

    async def list(self) -> list[dict]:
        return await self.keys.find({}, sort=[("created_at", -1)])

    async def get(self, key_id: str) -> dict:
        doc = await self.keys.find_one({"_id": key_id})
        if doc is None:
            raise AppError(404, "not_found", N_("No such integration key."))
        return doc

    @staticmethod
    def check(name: str, capabilities: list[str], whitelist: list[str]) -> tuple[str, list[str], list[str]]:
        """The cleaned (name, capabilities, whitelist), or 422 naming the first bad field."""
        name = " ".join((name or "").split())
        if not name:
            raise _refuse("name", N_("This field is required."))
        if len(name) > 100:
            raise _refuse("name", N_("This field is too long."))
        caps: list[str] = []
        for cap in capabilities:
            if cap not in CAPABILITIES:
                raise _refuse("capabilities", N_("This value is not supported."))
            if cap not in caps:
                caps.append(cap)
        if not caps:
            raise _refuse("capabilities", N_("Choose what the key may do."))
        try:
            entries = [e.text for e in parse_whitelist(whitelist)]
        except WhitelistError as exc:
            raise _refuse("whitelist" if exc.index is None else f"whitelist.{exc.index}", exc.message) from None
        return name, caps, entries

    async def create(self, name: str, capabilities: list[str], whitelist: list[str]) -> tuple[dict, str]:
        """A new key; returns (document, secret). Only the secret's hash is stored."""
        name, caps, entries = self.check(name, capabilities, whitelist)
        key_id = secrets.token_hex(6)
        secret = f"{INTEGRATION_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        doc = {"_id": key_id, "name": name, "capabilities": caps, "whitelist": entries,
               "secret_hash": hash_secret(secret), "created_at": clock.now(),
               "created_by": self.actor.get("login"), "last_used_at": None, "last_ip": None,
               "revoked_at": None, "revoked_by": None}
        await self.keys.insert_one(doc)
        await audit(self.db, Scope.platform(), actor=self.actor, section="integrations", operation="create",
                    object={"type": "integration_key", "id": key_id, "name": name}, before=None,
                    after=_state(doc))
        return doc, secret

    async def revoke(self, key_id: str) -> dict:
        """Revoke a key (it never authenticates again; it stays listed). Revoking twice is a no-op."""
        before = await self.get(key_id)
        after = await self.keys.revoke(before, self.actor.get("login"))
        if after is None:  # revoked already
            return await self.get(key_id)
        await audit(self.db, Scope.platform(), actor=self.actor, section="integrations", operation="revoke",
                    object={"type": "integration_key", "id": key_id, "name": after["name"]},
                    before=_state(before), after=_state(after))
        return after


def _state(doc: dict) -> dict:
    return {"name": doc.get("name"), "capabilities": list(doc.get("capabilities") or []),
            "whitelist": list(doc.get("whitelist") or []), "revoked": doc.get("revoked_at") is not None}


# --- API ------------------------------------------------------------------------------------------
Capability = Literal[tuple(CAPABILITIES)]  # type: ignore[valid-type]


class IntegrationKeyIn(Strict):
    name: str = Field(min_length=1, max_length=100, pattern=r"\S")
    capabilities: list[Capability] = Field(min_length=1, max_length=len(CAPABILITIES),
                                    description="What the key may do: " + ", ".join(
                                        f"`{k}` ({v})" for k, v in CAPABILITIES.items()))
    whitelist: list[str] = Field(min_length=1, max_length=100,
                                 json_schema_extra=documented(items={"type": "string",
                                                                     "pattern": WHITELIST_ENTRY_PATTERN}),
                                 description="IPv4 entries the key works from: `192.168.1.5`, `192.168.1.16-32`, "
                                             "`192.168.*`, `*`")


class IntegrationKeyOut(KeyOut):
    capabilities: list[str]


class IntegrationKeyCreated(IntegrationKeyOut):
    secret: str = Field(description="Shown only now: send it as `Authorization: Bearer <secret>`")


class IntegrationKeyList(BaseModel):
    items: list[IntegrationKeyOut]
    total: int


def key_out(doc: dict) -> dict[str, Any]:
    return {"id": doc["_id"], "name": doc["name"], "capabilities": list(doc.get("capabilities") or []),
            "whitelist": list(doc.get("whitelist") or []), "prefix": f"{INTEGRATION_PREFIX}{doc['_id']}_…",
            "created_at": doc.get("created_at"), "created_by": doc.get("created_by"),
            "last_used_at": doc.get("last_used_at"), "last_ip": doc.get("last_ip"),
            "revoked_at": doc.get("revoked_at"), "active": doc.get("revoked_at") is None}


class IntegrationKeysApiBase(ApiHandler):
    def service(self) -> IntegrationKeyService:
        from web.auth.login import actor

        return IntegrationKeyService(self.ctx.store.db, actor(self))


@route("/api/v1/operator/integration-keys", access="operator")
class IntegrationKeysApi(IntegrationKeysApiBase):
    @operation(N_("The platform's integration keys"), response=IntegrationKeyList, tags=["operator"],
               errors=(401, 403))
    async def get(self) -> None:
        items = [key_out(d) for d in await self.service().list()]
        self.reply({"items": items, "total": len(items)})

    @operation(N_("Create an integration key (the secret is shown only in this answer)"),
               request=IntegrationKeyIn, response=IntegrationKeyCreated, status=201, tags=["operator"],
               errors=(400, 401, 403, 422))
    async def post(self) -> None:
        body = validate(IntegrationKeyIn, self.json_object())
        doc, secret = await self.service().create(body.name, body.capabilities, body.whitelist)
        self.reply({**key_out(doc), "secret": secret}, status=201)


@route("/api/v1/operator/integration-keys/{key_id}", access="operator", params={"key_id": KEY_ID})
class IntegrationKeyApi(IntegrationKeysApiBase):
    @operation(N_("One integration key"), response=IntegrationKeyOut, tags=["operator"], errors=(401, 403, 404),
               params=[Param("key_id", "path", description="Key id", required=True)])
    async def get(self, key_id: str) -> None:
        self.reply(key_out(await self.service().get(key_id)))

    @operation(N_("Revoke an integration key (it stays listed, revoked)"), response=IntegrationKeyOut,
               tags=["operator"], errors=(401, 403, 404),
               params=[Param("key_id", "path", description="Key id", required=True)])
    async def delete(self, key_id: str) -> None:
        self.reply(key_out(await self.service().revoke(key_id)))


# --- console page ---------------------------------------------------------------------------------
@route("/operator/integration-keys", access="operator", name="op_integrations")
class IntegrationKeysPage(OperatorPage):
    """The keys; a new key's secret is shown once, right after creation."""

    section = "op_integrations"

    async def get(self) -> None:
        done = self.get_query_argument("done", "")
        await self.show(notice=self._("The key has been revoked.") if done == "revoked" else None)

    async def show(self, form: dict | None = None, error: str | None = None, errors: dict | None = None,
                   created: tuple | None = None, notice: str | None = None) -> None:
        svc = IntegrationKeyService(self.ctx.store.db, self.actor)
        self.render("operator/integration_keys.html", keys=await svc.list(), capabilities=CAPABILITIES,
                    form=form or {"name": "", "capabilities": [], "whitelist": ""}, error=error,
                    errors=errors or {}, created=created, notice=notice, remote_ip=self.request.remote_ip)

    async def post(self) -> None:
        form = {"name": self.get_body_argument("name", ""),
                "capabilities": self.get_body_arguments("capabilities"),
                "whitelist": self.get_body_argument("whitelist", "")}
        entries = [line.strip() for line in form["whitelist"].replace(",", "\n").splitlines() if line.strip()]
        svc = IntegrationKeyService(self.ctx.store.db, self.actor)
        try:
            doc, secret = await svc.create(form["name"], form["capabilities"], entries)
        except AppError as exc:
            error, errors = self.refusal(exc)
            for field in [f for f in errors if f.startswith("whitelist.")]:
                errors["whitelist"] = f"{entries[int(field.split('.', 1)[1])]}: {errors.pop(field)}"
            await self.show(form, error, errors)
            return
        self.set_status(201)
        await self.show(created=(doc, secret))


@route("/operator/integration-keys/{key_id}/revoke", access="operator", params={"key_id": KEY_ID})
class IntegrationKeyRevokePage(OperatorPage):
    async def post(self, key_id: str) -> None:
        await IntegrationKeyService(self.ctx.store.db, self.actor).revoke(key_id)
        self.redirect("/operator/integration-keys?done=revoked")
