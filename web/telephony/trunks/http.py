"""REST API of SIP trunks (``/api/v1/telephony/trunks``), the PBX's ordered mask list
(``…/trunks/masks``) and the route tester (``POST …/trunks/masks/test``).

The tester answers what the call flow would do with a dialled number, using the same pure rule
the call flow uses (:func:`esl_control.routing.outbound.choose_route`) over the PBX's stored
extensions, trunks, masks, security and call-handling settings — optionally as a given employee
(their extension, outgoing number and allowed directions). Rights: section ``trunks``; the tester
changes nothing and needs only *view*.
"""
from __future__ import annotations

from pydantic import BaseModel, Field

from esl_control.model.common import NotFound
from esl_control.model.employees.services import EmployeeService
from esl_control.model.numbers.schemas import clean_number
from esl_control.model.pbx_settings.services import PbxSettingsService
from esl_control.model.trunks.schemas import route_masks, route_trunks
from esl_control.model.trunks.services import TrunkService
from esl_control.routing.directions import effective_directions
from esl_control.routing.errors import RuleError
from esl_control.routing.outbound import choose_route
from pult.i18n import N_
from storage.repos.telephony import Extensions, Trunks
from storage.repos.tenants import load_pbx_state
from web.api.base import Param, operation
from web.api.models import Strict, UtcDatetime
from web.routes import route
from web.telephony.api_common import Out, TelApi, crud

SECTION = "trunks"
TAG = "telephony: trunks"

#: RouteDecision.reason -> what it means, in the user's language
REASONS = {
    "extension": N_("An extension of the PBX: an internal call."),
    "trunk_prefix": N_("The number starts with the trunk's prefix: the prefix is removed and the call goes into the trunk."),
    "trunk_mask": N_("The number matches a routing rule: it is transformed and goes into that rule's trunk."),
    "outgoing_number_trunk": N_("The employee's outgoing number belongs to the trunk: the call goes into it."),
    "platform": N_("No trunk applies: the call goes out through the platform."),
    "emergency": N_("An emergency number: it always goes through the platform."),
    "empty_number": N_("Nothing was dialled."),
    "invalid_number": N_("This is not a number that can be dialled."),
    "no_outgoing_number": N_("No outgoing number: calls to the public network are not allowed."),
    "direction_barred": N_("This call direction is not allowed."),
    "empty_transformation": N_("The matching routing rule turns the number into nothing: fix its transformation."),
    "pbx_blocked": N_("The PBX is blocked: only emergency and internal calls are possible."),
}


class TrunkNumberIO(Strict):
    number: str = Field(description="International form without +")
    receive: bool = True
    call: bool = True
    comment: str = Field("", description="At most 50 characters")
    scheme_id: str | None = Field(None, description="The scheme active on this receive number (read-only here: set it "
                                                    "with PUT /api/v1/telephony/schemes/{id}/trunk-numbers)")


class TrunkIn(Strict):
    name: str
    active: bool | None = Field(None, description="Default true; an inactive trunk is skipped by routing "
                                                  "(its prefix, the masks into it, its numbers as outgoing numbers)")
    host: str = Field(description="IPv4 address of the company's PBX")
    port: int | None = Field(None, description="Default 5060")
    prefix: str | None = Field(None, description="1-9999: dialled numbers starting with it go into this trunk")
    lines: int | None = Field(None, description="Simultaneous calls, 5-100 (default 5)")
    codecs: list[str] | None = Field(None, description="PCMA, PCMU, G729, G722, OPUS")
    dtmf_commands: bool | None = None
    dtmf_mode: str | None = Field(None, description="rfc2833 | inband")
    options_ping: bool | None = None
    numbers: list[TrunkNumberIO] = Field(default_factory=list)
    default_number: str | None = Field(None, description="A platform number of this PBX, for calls from the trunk")
    allow_number_change: bool | None = None


class TrunkOut(Out):
    id: str
    name: str
    active: bool = True
    host: str
    port: int
    prefix: str | None = None
    lines: int
    codecs: list[str]
    numbers: list[dict]
    default_number: str | None = None
    status: str = Field(description="unknown | up | down (OPTIONS pings, written by the ESL side)")
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None


class MaskIO(Strict):
    id: str | None = None
    mask: str = Field(description="\\d, \\d*, \\d+, \\d{n}, [0-9], [100-500], ( ), |")
    transformation: str = Field(description="$n inserts group n; + and digits are literal")
    trunk_id: str
    active: bool = True


class MasksIO(Strict):
    masks: list[MaskIO] = Field(description="In priority order: the first active match wins")


class MasksOut(BaseModel):
    masks: list[dict]


class RouteTestIn(Strict):
    number: str = Field(description="The dialled number, as an employee would dial it")
    employee_id: str | None = Field(None, description="Decide as this employee (extension, outgoing number, "
                                                      "allowed directions)")
    outgoing_number: str | None = Field(None, description="Without an employee: the outgoing number to assume")


class RouteTestOut(BaseModel):
    kind: str = Field(description="internal | trunk | platform | refused")
    allowed: bool
    number: str = Field(description="What is sent (the extension, the number into the trunk, or to the network)")
    reason: str
    reason_text: str = Field(description="The reason in the user's language")
    trunk_id: str | None = None
    trunk_name: str | None = None
    caller_id: str | None = None
    direction: str | None = None
    mask_index: int | None = Field(None, description="Position of the matching rule in the list (0-based)")
    mask_id: str | None = None


crud("/api/v1/telephony/trunks", "Trunk", section=SECTION, tag=TAG, service_cls=TrunkService,
     in_model=TrunkIn, out_model=TrunkOut, id_name="Trunk id",
     list_params=[Param("q", description="Text to find in the name")],
     summaries={"list": N_("SIP trunks of the PBX"), "create": N_("Create a SIP trunk"),
                "get": N_("One SIP trunk"), "put": N_("Replace a SIP trunk"),
                "patch": N_("Change some fields of a SIP trunk"),
                "delete": N_("Delete a SIP trunk (refused while a scheme, an employee or a routing rule uses it)")})


@route("/api/v1/telephony/trunks/masks", access="tenant", section=SECTION)
class TrunkMasksApi(TelApi):
    @operation(N_("The PBX's ordered list of routing rules (masks) into trunks"), response=MasksOut, tags=[TAG],
               errors=(401, 403))
    async def get(self) -> None:
        self.reply_model(MasksOut, {"masks": await self.service(TrunkService).masks()})

    @operation(N_("Replace the list of routing rules (order = priority)"), request=MasksIO, response=MasksOut,
               tags=[TAG], errors=(400, 401, 403, 422))
    async def put(self) -> None:
        data = self.payload(MasksIO)
        self.reply_model(MasksOut, {"masks": await self.service(TrunkService).set_masks(data.get("masks"))})


@route("/api/v1/telephony/trunks/masks/test", access="tenant", section=SECTION)
class RouteTestApi(TelApi):
    @operation(N_("Test a dialled number against the extensions, trunk prefixes and routing rules"),
               request=RouteTestIn, response=RouteTestOut, tags=[TAG], level="view", errors=(400, 401, 403, 422))
    async def post(self) -> None:
        data = self.payload(RouteTestIn)
        number = data.get("number")
        if not isinstance(number, str) or not number.strip():
            raise RuleError("value.required", field="number")
        trunk_svc = self.service(TrunkService)
        scope = trunk_svc.scope
        settings = await self.service(PbxSettingsService).get()
        outgoing, extension, own_directions = None, None, None
        employee_id = data.get("employee_id")
        if employee_id not in (None, ""):
            try:
                emp = await self.service(EmployeeService).get(employee_id if isinstance(employee_id, str) else "")
            except NotFound:
                raise RuleError("ref.unknown", field="employee_id", id=employee_id) from None
            outgoing, extension, own_directions = emp.get("outgoing_number"), emp["extension"], emp.get("directions")
        elif data.get("outgoing_number") not in (None, ""):
            outgoing = clean_number(data["outgoing_number"], "outgoing_number")
        trunk_docs = await Trunks(self.db, scope).find()
        trunks = route_trunks(trunk_docs)
        masks = route_masks(settings.get("trunk_masks") or [])
        extensions = {c["extension"] for c in await Extensions(self.db, scope).find({}, projection={"extension": 1})}
        state = await load_pbx_state(self.db, self.pbx_id)
        decision = choose_route(
            number.strip(), extensions=extensions, trunks=trunks, masks=masks, outgoing_number=outgoing,
            employee_extension=extension,
            allowed_directions=effective_directions(settings["security"].get("allowed_directions"), own_directions),
            home_area_codes=settings["call_handling"].get("home_area_codes") or (),
            pbx_blocked=bool(state and state.blocked))
        names = {t["_id"]: t["name"] for t in trunk_docs}
        mask_id = masks[decision.mask_index].id if decision.mask_index is not None else None
        self.reply_model(RouteTestOut, {
            "kind": decision.kind, "allowed": decision.allowed, "number": decision.number,
            "reason": decision.reason, "reason_text": self._(REASONS.get(decision.reason, decision.reason)),
            "trunk_id": decision.trunk_id, "trunk_name": names.get(decision.trunk_id),
            "caller_id": decision.caller_id,
            "direction": decision.direction.value if decision.direction is not None else None,
            "mask_index": decision.mask_index, "mask_id": mask_id})
