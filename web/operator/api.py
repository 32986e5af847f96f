"""The operator console's JSON API (``/api/v1/operator/...``, platform operators only): accounts,
PBXs and their lifecycle, editions, platform settings, the DID pool. Thin: the logic is in
:mod:`web.operator.services`."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from esl_control.model import node_sip, platform_gateways
from esl_control.registrations import flush_registrations
from pult.errors import AppError
from pult.i18n import N_
from storage.repos.tenants import SECRET_KEYS, get_platform_settings, list_editions
from web.pbx_state import state_out
from web.api_base import PAGE_PARAMS, ApiHandler, Param, future, list_of, operation, page_of
from web.auth.login import actor
from web.operator import services
from web.operator.models import (AccountIn, AccountPatch, BlockIn, ConvertIn, DidAddIn, DidAssignIn,
                                 DidReleaseIn, EditionIn, EditionPatch, NodeSipIn, NodeSipOut, PbxIn,
                                 PlatformGatewaysIn, PlatformGatewaysOut,
                                 PbxPatch, SettingsIn, validate)
from web.routes import route

TAGS = ["operator"]
ERRORS = (400, 401, 403, 404, 422)


class Loose(BaseModel):
    """Output documents (fields as stored; see the module docstrings of storage.repos.tenants)."""

    model_config = ConfigDict(extra="allow")


class AccountOut(Loose):
    account_id: int
    name: str
    email: str | None = None
    balance: int = 0


class PbxOut(Loose):
    pbx_id: int
    account_id: int
    name: str
    status: str
    sip_domain: str


class EditionOut(Loose):
    code: str
    name: str


class DidOut(Loose):
    number: str
    status: str


class AddedOut(BaseModel):
    added: list[str]


def _clean(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k not in ("_id", "email_norm", "status_before_archive")}


def account_out(doc: dict) -> dict:
    return _clean(doc)


def pbx_out(handler, doc: dict) -> dict:
    out = _clean(doc)
    if "state" in doc:
        out["state"] = state_out(handler, doc["state"])
    return out


def edition_out(doc: dict) -> dict:
    return {"code": doc["_id"], **{k: v for k, v in doc.items() if k != "_id"}}


def settings_out(doc: dict) -> dict:
    return {k: ("***" if k in SECRET_KEYS and v else v) for k, v in doc.items()}


class OperatorApi(ApiHandler):
    """Operator API base: bodies validated with field-specific messages."""

    def body(self, model):  # type: ignore[override]
        return validate(model, self.json_object())

    @property
    def actor(self) -> dict:
        return actor(self)


ID = {"account_id": "[^/]{1,40}"}
PID = {"pbx_id": "[^/]{1,40}"}


def int_id(value: str) -> int:
    """A numeric id from the path (anything else is simply not found)."""
    if not value.isdigit() or len(value) > 12:
        raise AppError(404, "not_found", N_("Nothing was found at this address."))
    return int(value)


@route("/api/v1/operator/accounts", access="operator")
class OperatorAccountsApi(OperatorApi):
    @operation(N_("Accounts"), response=page_of(AccountOut), tags=TAGS, errors=(401, 403),
               params=[Param("q", description="Number, name or e-mail"), *PAGE_PARAMS])
    async def get(self) -> None:
        page, per_page = self.pagination()
        items, total = await services.list_accounts(self.ctx.store.db, self.get_query_argument("q", ""),
                                                    page, per_page)
        self.reply_page([account_out(d) for d in items], page, per_page, total)

    @operation(N_("Create an account"), request=AccountIn, response=AccountOut, status=201, tags=TAGS,
               errors=ERRORS)
    async def post(self) -> None:
        body = self.body(AccountIn)
        doc = await services.create_account(self.ctx.store.db, body, self.actor)
        if body.send_link:
            from web.auth.recovery import send_account_link

            await send_account_link(self, doc["account_id"])
        self.reply(account_out(await services.account_view(self.ctx.store.db, doc["account_id"])), 201)


@route("/api/v1/operator/accounts/{account_id}", access="operator", params=ID)
class OperatorAccountApi(OperatorApi):
    @operation(N_("One account"), response=AccountOut, tags=TAGS, errors=(401, 403, 404),
               params=[Param("account_id", "path", {"type": "integer"}, required=True)])
    async def get(self, account_id: str) -> None:
        self.reply(account_out(await services.account_view(self.ctx.store.db, int_id(account_id))))

    @operation(N_("Change an account"), request=AccountPatch, response=AccountOut, tags=TAGS, errors=ERRORS,
               params=[Param("account_id", "path", {"type": "integer"}, required=True)])
    async def patch(self, account_id: str) -> None:
        body = self.body(AccountPatch)
        self.reply(account_out(await services.update_account(self.ctx.store.db, int_id(account_id), body, self.actor)))


@route("/api/v1/operator/accounts/{account_id}/password-link", access="operator", params=ID)
class OperatorAccountLinkApi(OperatorApi):
    @operation(N_("E-mail the account administrator a password link"), status=202, tags=TAGS,
               errors=(401, 403, 404, 409), params=[Param("account_id", "path", {"type": "integer"}, required=True)])
    async def post(self, account_id: str) -> None:
        from web.auth.recovery import send_account_link

        await services.account_view(self.ctx.store.db, int_id(account_id))
        if not await send_account_link(self, int_id(account_id)):
            raise AppError(409, "no_email", N_("The account has no registration e-mail."))
        self.reply({"sent": True}, 202)


@route("/api/v1/operator/pbxes", access="operator")
class OperatorPbxesApi(OperatorApi):
    @operation(N_("PBXs with their state"), response=page_of(PbxOut), tags=TAGS, errors=(401, 403),
               params=[Param("account_id", schema={"type": "integer", "minimum": 1}), Param("q"), *PAGE_PARAMS])
    async def get(self) -> None:
        page, per_page = self.pagination()
        account = self.int_arg("account_id", 0, minimum=0)
        items, total = await services.list_pbxes(self.ctx.store.db, account_id=account or None,
                                                 q=self.get_query_argument("q", ""), page=page, per_page=per_page)
        self.reply_page([pbx_out(self, d) for d in items], page, per_page, total)

    @operation(N_("Create a PBX"), request=PbxIn, response=PbxOut, status=201, tags=TAGS, errors=(*ERRORS, 409))
    async def post(self) -> None:
        body = self.body(PbxIn)
        doc = await services.create_pbx(self.ctx.store.db, self.ctx.settings, body, self.actor)
        self.reply(pbx_out(self, await services.pbx_view(self.ctx.store.db, doc["pbx_id"])), 201)


def _pid_param():
    return [Param("pbx_id", "path", {"type": "integer"}, required=True)]


@route("/api/v1/operator/pbxes/{pbx_id}", access="operator", params=PID)
class OperatorPbxApi(OperatorApi):
    @operation(N_("One PBX"), response=PbxOut, tags=TAGS, errors=(401, 403, 404), params=_pid_param())
    async def get(self, pbx_id: str) -> None:
        self.reply(pbx_out(self, await services.pbx_view(self.ctx.store.db, int_id(pbx_id))))

    @operation(N_("Change a PBX"), request=PbxPatch, response=PbxOut, tags=TAGS, errors=(*ERRORS, 409),
               params=_pid_param())
    async def patch(self, pbx_id: str) -> None:
        body = self.body(PbxPatch)
        self.reply(pbx_out(self, await services.update_pbx_fields(self.ctx.store.db, int_id(pbx_id), body, self.actor)))


class _PbxActionApi(OperatorApi):
    """One action on a PBX, at its own address (``…/pbxes/{pbx_id}/<action>``) so the document
    states its own body: ``block`` takes ``{until, reason}``, ``convert`` ``{edition}`` (optional),
    the others none."""

    action = ""

    async def act(self, pbx_id: str) -> None:
        db, pid, action = self.ctx.store.db, int_id(pbx_id), self.action
        if action == "block":
            doc = await services.block_pbx(db, pid, self.body(BlockIn), self.actor)
        elif action == "unblock":
            doc = await services.unblock_pbx(db, pid, self.actor)
        elif action == "convert":
            body = self.body(ConvertIn) if (self.request.body or b"").strip() else ConvertIn()
            doc = await services.convert_demo(db, pid, self.actor, body.edition)
        else:
            doc = await services.archive_pbx(db, pid, self.actor, archived=action == "archive")
        if action in ("block", "archive"):  # its phones stop at once, not when they re-register
            await flush_registrations(self.ctx.nodes, await services.pbx_sip_domains(db, pid))
        self.reply(pbx_out(self, doc))


def _pbx_action(action: str, summary: str, request=None, description: str | None = None,
                extensions: dict | None = None) -> type:
    async def post(self, pbx_id: str) -> None:
        await self.act(pbx_id)

    cls = type(f"OperatorPbx{action.capitalize()}Api", (_PbxActionApi,), {
        "action": action, "__module__": __name__,
        "post": operation(summary, request=request, response=PbxOut, tags=TAGS, params=_pid_param(),
                          errors=(400, 401, 403, 404, 409, 422), description=description,
                          extensions=extensions)(post)})
    cls.__qualname__ = cls.__name__
    return route(f"/api/v1/operator/pbxes/{{pbx_id}}/{action}", access="operator", params=PID)(cls)


OperatorPbxBlockApi = _pbx_action("block", N_("Block a PBX (until a time, or until unblocked)"), BlockIn,
                                  "`until` empty: until unblocked, else later than now (x-pult-future); its "
                                  "phones stop at once.", future("until"))
OperatorPbxUnblockApi = _pbx_action("unblock", N_("Unblock a PBX"))
OperatorPbxConvertApi = _pbx_action("convert", N_("Convert a demo PBX into a paid one"), ConvertIn,
                                    "The body is optional: `edition` left out keeps the current one.")
OperatorPbxArchiveApi = _pbx_action("archive", N_("Archive a PBX"))
OperatorPbxRestoreApi = _pbx_action("restore", N_("Restore an archived PBX"))


@route("/api/v1/operator/editions", access="operator")
class OperatorEditionsApi(OperatorApi):
    @operation(N_("Editions with quotas and feature flags"), response=list_of(EditionOut), tags=TAGS, errors=(401, 403))
    async def get(self) -> None:
        items = [edition_out(d) for d in await list_editions(self.ctx.store.db)]
        self.reply({"items": items, "total": len(items)})

    @operation(N_("Create an edition"), request=EditionIn, response=EditionOut, status=201, tags=TAGS,
               errors=(*ERRORS, 409))
    async def post(self) -> None:
        doc = await services.create_edition(self.ctx.store.db, self.body(EditionIn), self.actor)
        self.reply(edition_out(doc), 201)


@route("/api/v1/operator/editions/{code}", access="operator", params={"code": "[^/]{1,40}"})
class OperatorEditionApi(OperatorApi):
    @operation(N_("Change an edition"), request=EditionPatch, response=EditionOut, tags=TAGS, errors=ERRORS,
               params=[Param("code", "path", required=True)])
    async def patch(self, code: str) -> None:
        self.reply(edition_out(await services.update_edition(self.ctx.store.db, code, self.body(EditionPatch),
                                                             self.actor)))


@route("/api/v1/operator/settings", access="operator")
class OperatorSettingsApi(OperatorApi):
    @operation(N_("Platform settings"), tags=TAGS, errors=(401, 403),
               description="Secrets are shown as `***` when set. A value stored here wins over the "
                           "environment setting of the same name; empty: the environment applies.")
    async def get(self) -> None:
        self.reply(settings_out(await get_platform_settings(self.ctx.store.db)))

    @operation(N_("Change platform settings"), request=SettingsIn, tags=TAGS, errors=ERRORS)
    async def patch(self) -> None:
        after = await services.save_settings(self.ctx.store.db, self.ctx.settings, self.body(SettingsIn), self.actor)
        self.reply(settings_out(after))


@route("/api/v1/operator/did-pool", access="operator")
class OperatorDidPoolApi(OperatorApi):
    @operation(N_("The DID pool"), response=page_of(DidOut), tags=TAGS, errors=(401, 403),
               params=[Param("status", schema={"type": "string", "enum": ["free", "assigned"]}), Param("q"),
                       *PAGE_PARAMS])
    async def get(self) -> None:
        page, per_page = self.pagination()
        items, total = await services.did_list(self.ctx.store.db, self.get_query_argument("status", None),
                                               self.get_query_argument("q", ""), page, per_page)
        self.reply_page([{"number": d["_id"], **{k: v for k, v in d.items() if k != "_id"}} for d in items],
                        page, per_page, total)

    @operation(N_("Add numbers or ranges to the pool"), request=DidAddIn, response=AddedOut, status=201,
               tags=TAGS, errors=ERRORS)
    async def post(self) -> None:
        added = await services.did_add(self.ctx.store.db, self.body(DidAddIn).numbers, self.actor, self.lang)
        self.reply({"added": added}, 201)


@route("/api/v1/operator/did-pool/assign", access="operator")
class OperatorDidAssignApi(OperatorApi):
    @operation(N_("Assign a pool number to a PBX"), request=DidAssignIn, tags=TAGS, errors=(*ERRORS, 409))
    async def post(self) -> None:
        body = self.body(DidAssignIn)
        self.reply(await services.did_assign(self.ctx.store.db, body.number, body.pbx_id, self.actor, self.lang))


@route("/api/v1/operator/did-pool/release", access="operator")
class OperatorDidReleaseApi(OperatorApi):
    @operation(N_("Release a number back to the pool"), request=DidReleaseIn, tags=TAGS, errors=(*ERRORS, 409))
    async def post(self) -> None:
        body = self.body(DidReleaseIn)
        await services.did_release(self.ctx.store.db, body.number, self.actor, self.lang)
        self.reply({"released": body.number})


NODE = {"node": "[^/]{1,64}"}
NODE_SIP_EFFECT = ("Addresses and ports take effect when the node restarts its SIP profiles (`sofia profile "
                   "internal restart`, `sofia profile external restart`: calls on the profile drop) or "
                   "itself; the RTP range only when FreeSWITCH starts (post_load_switch.conf is read once).")


@route("/api/v1/operator/nodes/{node}/sip", access="operator", params=NODE)
class OperatorNodeSipApi(OperatorApi):
    @operation(N_("SIP settings of a FreeSWITCH node"), response=NodeSipOut, tags=TAGS, errors=(401, 403, 404),
               params=[Param("node", "path", {"type": "string"}, required=True)])
    async def get(self, node: str) -> None:
        found = node_sip.find_node(self.ctx.settings, node)
        self.reply(await node_sip.node_sip_view(self.ctx.store.db, found))

    @operation(N_("Change the SIP settings of a FreeSWITCH node"), request=NodeSipIn, response=NodeSipOut,
               tags=TAGS, errors=ERRORS, params=[Param("node", "path", {"type": "string"}, required=True)],
               description="Replaces what the console stored for the node: a field left out or empty takes "
                           "the node's value in FREESWITCH_ESL again. " + NODE_SIP_EFFECT)
    async def put(self, node: str) -> None:
        found = node_sip.find_node(self.ctx.settings, node)
        self.reply(await node_sip.save_node_sip(self.ctx.store.db, found, self.json_object(), self.actor))


@route("/api/v1/operator/platform-gateways", access="operator")
class OperatorPlatformGatewaysApi(OperatorApi):
    @operation(N_("Platform gateways (the upstream carriers external numbers are dialled through)"),
               response=PlatformGatewaysOut, tags=TAGS, errors=(401, 403))
    async def get(self) -> None:
        self.reply(await platform_gateways.platform_gateways_view(self.ctx.store.db))

    @operation(N_("Replace the platform gateways"), request=PlatformGatewaysIn, response=PlatformGatewaysOut,
               tags=TAGS, errors=ERRORS,
               description="The whole ordered list: the engine dials external numbers through the enabled "
                           "gateways in this order, the next when one fails. A gateway left out is deleted; "
                           "an empty password keeps the stored one. The nodes take the change at the next "
                           "gateway reconcile (sofia profile external rescan / killgw).")
    async def put(self) -> None:
        body = self.json_object()
        self.reply(await platform_gateways.save_platform_gateways(self.ctx.store.db, body.get("gateways"),
                                                                  self.actor))
