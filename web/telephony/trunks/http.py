"""REST API of SIP trunks (``/api/v1/telephony/trunks``), the PBX's ordered mask list
(``…/trunks/masks``) and the route tester (``POST …/trunks/masks/test``).

The tester is the use case :mod:`esl_control.model.trunks.route_tester`, the same as the
cabinet page's: what the call flow would do with a dialled number, over the PBX's stored
extensions, trunks, masks, settings and state — optionally as a given employee. Rights: section ``trunks``; the tester
changes nothing and needs only *view*.
"""
from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from esl_control.model.trunks.route_tester import run_route_test
from esl_control.model.trunks.services import TrunkService
from pult.i18n import N_
from web.api_base import Param, operation
from esl_control.model.trunks.schemas import CODECS, DTMF_MODES
from esl_control.routing.masks import MAX_REPEAT
from esl_control.routing.outbound import MAX_TRUNK_LINES, MIN_TRUNK_LINES
from web.api_fields import Int, IPv4, Name, Omit, Phone, RefId, choice, opt
from web.api_models import Strict, UtcDatetime
from web.routes import route
from web.telephony.api_common import Out, TelApi, crud

SECTION = "trunks"
TAG = "telephony: trunks"



class TrunkNumberIO(Strict):
    number: Phone = Field(description="International form without +")
    receive: bool = True
    call: bool = True
    comment: Annotated[str, StringConstraints(max_length=50)] = ""
    scheme_id: str | None = Field(None, description="The scheme active on this receive number (read-only here: set it "
                                                    "with PUT /api/v1/telephony/schemes/{id}/trunk-numbers)")


class TrunkIn(Strict):
    name: Name
    active: bool | Omit = opt(description="Default true; an inactive trunk is skipped by routing "
                                                  "(its prefix, the masks into it, its numbers as outgoing numbers)")
    host: IPv4 = Field(description="IPv4 address of the company's PBX")
    port: Int(1, 65535) | None = Field(None, description="Default 5060")
    prefix: Annotated[str, StringConstraints(pattern="^[1-9][0-9]{0,3}$")] | None = Field(
        None, description="1-9999: dialled numbers starting with it go into this trunk")
    lines: Int(MIN_TRUNK_LINES, MAX_TRUNK_LINES) | Omit = opt(description="Simultaneous calls (default 5)")
    codecs: list[choice(CODECS)] | None = Field(None, min_length=1, description="Default PCMA, PCMU")
    dtmf_commands: bool | None = None
    dtmf_mode: choice(DTMF_MODES) | None = None
    options_ping: bool | None = None
    numbers: list[TrunkNumberIO] = Field(default_factory=list)
    default_number: Phone | None = Field(None, description="A platform number of this PBX, for calls from the trunk")
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


#: the routing masks the document describes (esl_control.routing.masks takes a richer grammar)
MASK_PATTERN = rf"^[0-9]{{1,15}}(\\d\{{([1-9]|[12][0-9]|3[0-2])\}}|\\d\*|\\d\+)?$"
assert MAX_REPEAT == 32


class MaskIO(Strict):
    id: RefId | None = None
    mask: Annotated[str, StringConstraints(pattern=MASK_PATTERN)] = Field(
        description="Digits, \\d, \\d*, \\d+, \\d{n}, [0-9], [100-500], ( ), | (documented: digits and one \\d, "
                    "\\d*, \\d+ or \\d{n} at the end)")
    transformation: Annotated[str, StringConstraints(pattern=r"^\+?[0-9]{1,15}$")] = Field(
        description="$n inserts group n; + and digits are literal (documented: + and digits)")
    trunk_id: RefId
    active: bool = True


class MasksIO(Strict):
    masks: list[MaskIO] = Field(description="In priority order: the first active match wins")


class MasksOut(BaseModel):
    masks: list[dict]


class RouteTestIn(Strict):
    number: Annotated[str, StringConstraints(pattern=r"^\+?[0-9*#]{1,20}$")] = Field(
        description="The dialled number, as an employee would dial it")
    employee_id: RefId | None = Field(None, description="Decide as this employee (extension, outgoing number, "
                                                        "allowed directions)")
    outgoing_number: Phone | None = Field(None, description="Without an employee: the outgoing number to assume "
                                                            "(none: any employee with an outgoing number)")


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
        t = await run_route_test(self.db, self.pbx_id, data.get("number"), employee_id=data.get("employee_id"),
                                 outgoing_number=data.get("outgoing_number"))
        d = t.decision
        self.reply_model(RouteTestOut, {
            "kind": d.kind, "allowed": d.allowed, "number": d.number,
            "reason": d.reason, "reason_text": self._(t.reason, **t.reason_values),
            "trunk_id": d.trunk_id, "trunk_name": t.trunk_name, "caller_id": t.caller_id,
            "direction": d.direction.value if d.direction is not None else None,
            "mask_index": d.mask_index, "mask_id": t.mask_id})
