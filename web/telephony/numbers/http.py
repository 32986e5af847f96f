"""REST API of the PBX's numbers (``/api/v1/telephony/numbers``): list with the live status,
assign a platform number from the pool, connect passive / active SIP numbers of other operators,
comment, bind a scheme, move numbers to another PBX of the same account, disconnect.

Rights: section ``numbers``. A number used elsewhere (an employee's outgoing number, a trunk's
default number) is not disconnected or moved: 409 with the referrers.

Live ``status`` of a number: ``blocked`` while the PBX is blocked (calls are refused);
otherwise ``active`` for platform and passive SIP numbers (nothing to register), and for active
SIP numbers the gateway's registration state that the ESL side writes
(:mod:`esl_control.gateway_status`): ``up`` (registered), ``down`` (``status_error`` says why)
or ``unknown`` (not reported yet); ``status_since``/``status_detail`` come along.
"""
from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from esl_control.model.common import NotFound
from esl_control.model.numbers.schemas import COMMENT_MAX, KINDS
from esl_control.model.numbers.services import DidPoolService, NumberService
from esl_control.model.schemes.services import SchemeService
from esl_control.routing.errors import RuleError
from pult.i18n import N_
from storage.repos.tenants import load_pbx_state
from web.api_base import PAGE_PARAMS, Param, operation, page_of
from esl_control.model.sip.schemas import SIP_LOGIN_PATTERN
from web.api_fields import HOST_PATTERN, Int, ObjectIdStr, Phone, RefId, SipUri, UploadedSoundId, choice
from web.api_models import Strict, UtcDatetime
from web.routes import route
from web.telephony.api_common import OBJECT_ID, CollectionApi, ItemApi, Out, TelApi, crud, id_param, matches

SECTION = "numbers"
TAG = "telephony: numbers"
STATUSES = ("active", "up", "down", "unknown", "blocked")
Comment = Annotated[str, StringConstraints(max_length=COMMENT_MAX)]
SipLogin = Annotated[str, StringConstraints(pattern=f"^({SIP_LOGIN_PATTERN})$")]


class GatewayIn(Strict):
    host: Annotated[str, StringConstraints(pattern=HOST_PATTERN)] = Field(
        description="The other operator's SIP server (host name or IPv4)")
    port: Int(1, 65535) | None = Field(None, description="Default 5060")
    login: Annotated[str, StringConstraints(pattern="^[\x21-\x7e]{1,64}$")]
    password: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="Write-only; on a change, left out keeps the stored one")
    sip_address: SipUri | None = Field(None, description="user@domain, when it differs from login@host")


class NumberIn(Strict):
    """What can be changed on a connected number (the kind never changes)."""

    comment: Comment | None = None
    kind: choice(KINDS) | None = Field(None, description="Must stay the number's kind if given (409 otherwise)")
    sip_user: SipLogin | None = Field(None, description="Passive SIP: the user part of our SIP address")
    sip_domain_id: RefId | None = Field(None, description="Passive SIP: one of the PBX's SIP domains")
    display_number: Phone | None = Field(None, description="Passive and active SIP: the number shown to employees")
    gateway: GatewayIn | None = Field(None, description="Active SIP: the registration at the other operator")
    warning_sound: UploadedSoundId | None = Field(None, description="An uploaded audio file played before the connection "
                                                        "(needs the call-handling setting line_warnings); "
                                                        "null = none")


class AssignIn(Strict):
    number: Phone = Field(description="A free number of the platform pool, international form without +")
    comment: Comment | None = None


class PassiveIn(Strict):
    number: Phone
    comment: Comment | None = None
    sip_user: SipLogin | None = Field(None, description="Default: 000<number>")
    sip_domain_id: RefId | None = Field(None, description="Default: the PBX's own domain")
    display_number: Phone | None = None


class ActiveIn(Strict):
    number: Phone
    comment: Comment | None = None
    gateway: GatewayIn
    display_number: Phone | None = None


class CommentIn(Strict):
    comment: Comment = Field(description="At most 100 characters; empty clears it")


class SchemeBindIn(Strict):
    scheme_id: str | None = Field(description="A scheme of the PBX; null leaves the number without one")


class TransferIn(Strict):
    numbers: list[ObjectIdStr] = Field(min_length=1, description="Ids of numbers of this PBX")
    target_pbx_id: Int(1) = Field(description="Another PBX of the same account")


class NumberOut(Out):
    id: str
    number: str
    kind: str = Field(description="platform | passive_sip | active_sip")
    comment: str = ""
    scheme_id: str | None = None
    status: str = Field(description="Live status: active | up | down | unknown | blocked")
    status_error: str | None = Field(None, description="Active SIP: why the registration is down")
    has_password: bool = False
    sip_address: str | None = None
    display_number: str | None = None
    gateway: dict | None = None
    warning_sound: str | None = None
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None


class NumberList(BaseModel):
    items: list[NumberOut]
    total: int


class PoolNumberOut(BaseModel):
    number: str


def live_status(doc: dict, blocked: bool) -> str:
    if blocked:
        return "blocked"
    if doc.get("kind") == "active_sip":
        status = doc.get("status") or "unknown"
        return status if status in STATUSES else "unknown"
    return "active"


class NumbersMixin:
    async def blocked(self) -> bool:
        state = await load_pbx_state(self.db, self.pbx_id)
        return bool(state and state.blocked)

    async def out(self, doc: dict, blocked: bool | None = None) -> dict:
        if blocked is None:
            blocked = await self.blocked()
        return {**doc, "status": live_status(doc, blocked)}


class NumberCollection(NumbersMixin, CollectionApi):
    async def filter_items(self, items):
        kind = self.choice_arg("kind", KINDS)
        status = self.choice_arg("status", STATUSES)
        scheme_id = self.text_arg("scheme_id")
        q = self.text_arg("q")
        blocked = await self.blocked()
        out = []
        for doc in items:
            doc = await self.out(doc, blocked)
            if kind and doc["kind"] != kind or status and doc["status"] != status:
                continue
            if scheme_id and doc.get("scheme_id") != scheme_id:
                continue
            if matches(doc, q, ("number", "comment", "sip_address", "display_number")):
                out.append(doc)
        return out


class NumberItem(NumbersMixin, ItemApi):
    def service_kwargs(self):
        return {"box": self.secret_box()}

    async def do_get(self, id):
        return await self.out(await self.svc().get(id))

    async def do_update(self, id, data):
        return await self.out(await self.svc().update(id, data))

    def patch_base(self, current):
        return {}  # the service keeps what the body leaves out


crud("/api/v1/telephony/numbers", "Number", section=SECTION, tag=TAG, service_cls=NumberService,
     in_model=NumberIn, out_model=NumberOut, id_name="Number id",
     collection_base=NumberCollection, item_base=NumberItem,
     methods=("list", "get", "put", "patch", "delete"),
     list_params=[Param("q", description="Text to find in the number, comment or SIP address"),
                  Param("kind", schema={"type": "string", "enum": list(KINDS)}, description="Connection type"),
                  Param("status", schema={"type": "string", "enum": list(STATUSES)}, description="Live status"),
                  Param("scheme_id", description="Only numbers with this active scheme")],
     summaries={"list": N_("Numbers of the PBX with their live status"), "get": N_("One number"),
                "put": N_("Change a number (comment, SIP address, gateway)"),
                "patch": N_("Change some fields of a number"),
                "delete": N_("Disconnect a number (platform numbers go back to the pool)")})


class NumberAction(NumbersMixin, TelApi):
    def svc(self) -> NumberService:
        return self.service(NumberService, box=self.secret_box())


@route("/api/v1/telephony/numbers/pool", access="tenant", section=SECTION)
class NumberPoolApi(NumberAction):
    @operation(N_("Free platform numbers that can be assigned"), response=page_of(PoolNumberOut), tags=[TAG],
               params=[*PAGE_PARAMS, Param("q", description="Digits the number contains")], errors=(400, 401, 403))
    async def get(self) -> None:
        q = self.text_arg("q")
        free = [{"number": d["_id"]} for d in await DidPoolService(self.db).list(status="free")
                if q in d["_id"]]
        self.reply_list(free)


@route("/api/v1/telephony/numbers/assign", access="tenant", section=SECTION)
class NumberAssignApi(NumberAction):
    @operation(N_("Assign a free platform number from the pool"), request=AssignIn, response=NumberOut, status=201,
               tags=[TAG], errors=(400, 401, 403, 422))
    async def post(self) -> None:
        data = self.payload(AssignIn)
        doc = await self.svc().assign_platform(data.get("number"), data.get("comment"))
        self.reply_model(NumberOut, await self.out(doc), status=201)


@route("/api/v1/telephony/numbers/passive-sip", access="tenant", section=SECTION)
class NumberPassiveApi(NumberAction):
    @operation(N_("Connect a number of another operator that forwards calls to our SIP address (passive SIP)"),
               request=PassiveIn, response=NumberOut, status=201, tags=[TAG], errors=(400, 401, 403, 422))
    async def post(self) -> None:
        doc = await self.svc().connect_passive(self.payload(PassiveIn))
        self.reply_model(NumberOut, await self.out(doc), status=201)


@route("/api/v1/telephony/numbers/active-sip", access="tenant", section=SECTION)
class NumberActiveApi(NumberAction):
    @operation(N_("Connect a number of another operator that the PBX registers to (active SIP)"),
               request=ActiveIn, response=NumberOut, status=201, tags=[TAG], errors=(400, 401, 403, 422))
    async def post(self) -> None:
        doc = await self.svc().connect_active(self.payload(ActiveIn))
        self.reply_model(NumberOut, await self.out(doc), status=201)


@route("/api/v1/telephony/numbers/{id}/comment", access="tenant", section=SECTION, params={"id": OBJECT_ID})
class NumberCommentApi(NumberAction):
    @operation(N_("Change the comment of a number"), request=CommentIn, response=NumberOut, tags=[TAG],
               params=[id_param("id", "Number id")], errors=(400, 401, 403, 404, 422))
    async def put(self, id: str) -> None:
        data = self.payload(CommentIn)
        doc = await self.svc().set_comment(id, data.get("comment"))
        self.reply_model(NumberOut, await self.out(doc))


@route("/api/v1/telephony/numbers/{id}/scheme", access="tenant", section=SECTION, params={"id": OBJECT_ID})
class NumberSchemeApi(NumberAction):
    @operation(N_("Bind a scheme to a number (or leave it without one)"), request=SchemeBindIn, response=NumberOut,
               tags=[TAG], params=[id_param("id", "Number id")], errors=(400, 401, 403, 404, 422))
    async def put(self, id: str) -> None:
        data = self.payload(SchemeBindIn)
        await self.svc().get(id)  # another PBX's number: 404 before anything else
        schemes = self.service(SchemeService)
        scheme_id = data.get("scheme_id")
        if scheme_id in (None, ""):
            await schemes.deactivate(id)
        else:
            try:
                await schemes.get(scheme_id if isinstance(scheme_id, str) else "")
            except NotFound:
                raise RuleError("ref.unknown", field="scheme_id", id=scheme_id) from None
            await schemes.activate(scheme_id, [id])
        self.reply_model(NumberOut, await self.out(await self.svc().get(id)))


@route("/api/v1/telephony/numbers/transfer", access="tenant", section=SECTION)
class NumberTransferApi(NumberAction):
    @operation(N_("Move numbers to another PBX of the same account (their schemes are copied without settings)"),
               request=TransferIn, response=NumberList, tags=[TAG], errors=(400, 401, 403, 404, 409, 422),
               description="Each number's scheme is copied into the target PBX with its call-handling items "
                           "kept but fields that point into this PBX cleared.")
    async def post(self) -> None:
        data = self.payload(TransferIn)
        ids = data.get("numbers")
        target = data.get("target_pbx_id")
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            raise RuleError("value.list", field="numbers")
        if isinstance(target, bool) or not isinstance(target, int) or target <= 0:
            raise RuleError("value.required", field="target_pbx_id")
        moved = await self.svc().transfer(ids, target)
        self.reply_model(NumberList, {"items": [{**m, "status": live_status(m, False)} for m in moved],
                                      "total": len(moved)})
