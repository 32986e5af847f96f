"""REST API of call groups (``/api/v1/telephony/groups``): the group with its members,
distribution strategy, queue settings and features, plus member endpoints.

Rights: section ``groups`` with its reach — a group leader (reach "supervised") sees and changes
only the supervised groups (members and distribution) and cannot create or delete groups. A
group referred to by a scheme or a client-number rule is not deleted (409 with the referrers).
"""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, StringConstraints

from esl_control.model.groups.schemas import (ATTEMPT_PAUSE, ATTEMPTS, CALLER_ID, DTMF_DEFAULTS, DTMF_PATTERN, EXCLUSION,
                                             FEATURE_DEFAULTS, MAX_LINES, MAX_MEMBERS, QUEUE_MODES, STRATEGIES)
from esl_control.model.pbx_settings.schemas import QUEUE_MAX_LENGTH, QUEUE_MAX_WAIT
from esl_control.routing.lists import MAX_RING_TIME
from esl_control.model.groups.services import GroupService
from esl_control.model.reach import MANAGE_GROUPS
from pult.errors import AppError
from pult.i18n import N_
from web.api_base import Param
from web.api_base import operation
from web.api_fields import (DISTINCT_EXTENSION, UNIQUE_EXTENSION, Destination, Extension, Int, Name, Omit, RefId,
                            choice, opt)
from web.api_models import Strict, UtcDatetime
from web.routes import route
from web.telephony.api_common import OBJECT_ID, Out, ReachedCrud, TelApi, crud, id_param

SECTION = "groups"
TAG = "telephony: groups"


class _MemberBase(Strict):
    id: RefId | None = Field(None, description="Kept when given, new otherwise")
    priority: Int(1, 99) | None = Field(None, description="For the priority strategy (default 1)")


class EmployeeMemberIO(_MemberBase):
    """An employee who handles the group's calls in the contact centre (an operator, the default)."""

    kind: Literal["employee"]
    employee_id: RefId
    method: RefId | None = Field(None, description="card (all their methods, the default) or one contact method id")
    operator: Literal[True] | Omit = opt("Handles the group's calls in the contact centre (default true)")
    supervisor: bool | None = Field(None, description="Operator rights plus monitoring of the group's operators "
                                                      "(default false)")


class NonOperatorMemberIO(_MemberBase):
    """An employee who is rung but is no contact-centre operator (so no supervisor either)."""

    kind: Literal["employee"]
    employee_id: RefId
    method: RefId | None = Field(None, description="card (all their methods, the default) or one contact method id")
    operator: Literal[False]
    supervisor: Literal[False] | None = None


class ExternalMemberIO(_MemberBase):
    kind: Literal["external"]
    value: Destination = Field(description="A phone number or SIP address")
    lines: Int(1, MAX_LINES) | None = Field(None, description="Simultaneous calls (default 1)")
    schedule_id: RefId | None = Field(None, description="Rings only within this schedule")


#: a member of a group: an employee (an operator or not) or an external number
MemberIO = EmployeeMemberIO | NonOperatorMemberIO | ExternalMemberIO


class MemberIn(RootModel[MemberIO]):
    """One member to add (the body of POST …/members)."""


class QueueIO(Strict):
    mode: choice(QUEUE_MODES) | None = Field(None, description="pbx (the PBX defaults) | special (the values below)")
    enabled: bool | None = None
    max_wait: Int(*QUEUE_MAX_WAIT) | None = Field(None, description="Seconds, 0 = no limit")
    max_length: Int(*QUEUE_MAX_LENGTH) | None = Field(None, description="0 = no limit")
    entry_sound: RefId | None = None
    hold_sound: RefId | None = None
    overflow_sound: RefId | None = None
    announce_position: bool | None = None
    announce_ewt: bool | None = None


class FeaturesIO(Strict):
    transfer: bool | None = None
    conference: bool | None = None
    fax: bool | None = None


#: a tone command: 1 to 4 of 0-9, * and #
Dtmf = Annotated[str, StringConstraints(pattern=f"^{DTMF_PATTERN}$")]


class DtmfIO(Strict):
    """Tone commands; each differs from the others (given or default: {defaults})."""

    transfer: Dtmf | Omit = opt()
    toggle: Dtmf | Omit = opt()
    # "return" is a Python keyword: the field's name in JSON is "return"
    return_: Dtmf | Omit = Field(None, alias="return", json_schema_extra=lambda s: s.pop("default", None))
    fax: Dtmf | Omit = opt()
    record: Dtmf | Omit = opt()


DtmfIO.__doc__ = DtmfIO.__doc__.format(defaults=DTMF_DEFAULTS)
assert set(DTMF_DEFAULTS) == {"transfer", "toggle", "return", "fax", "record"}
assert set(FEATURE_DEFAULTS) == set(FeaturesIO.model_fields)


class GroupIn(Strict):
    # rules of the document outside JSON Schema (read by the property-based run): the members are
    # distinct (by employee or number), the tone commands differ from each other and the defaults
    model_config = ConfigDict(extra="forbid", regex_engine="python-re", json_schema_extra={
        UNIQUE_EXTENSION: {"members": ["employee_id", "value"]}, DISTINCT_EXTENSION: {"dtmf": DTMF_DEFAULTS}})

    name: Name
    extension: Extension = Field(description="Unique in the PBX (shared with employees and conference rooms)")
    strategy: choice(STRATEGIES) = "sequential"
    members: list[MemberIO] = Field(default_factory=list, max_length=MAX_MEMBERS, description="In ringing order")
    ring_time: Int(0, MAX_RING_TIME) | None = Field(None, description="Seconds; null = the PBX default")
    attempts: Int(*ATTEMPTS) | None = None
    attempt_pause: Int(*ATTEMPT_PAUSE) | None = None
    pause_melody: RefId | None = None
    ringback: RefId | None = None
    announce_caller: bool | None = None
    caller_id: choice(CALLER_ID) | None = None
    features: FeaturesIO | None = None
    dtmf: DtmfIO | None = None
    queue: QueueIO | None = None
    exclusion: Int(*EXCLUSION) | None = Field(None, description="Seconds; null = the PBX setting")
    sticky_agent: bool | None = None
    auto_callback: bool | None = None
    record: bool | None = None


class GroupOut(Out):
    id: str
    name: str
    extension: str
    strategy: str
    members: list[dict]
    queue: dict
    features: dict
    dtmf: dict
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None


class MembersIO(Strict):
    members: list[MemberIO] = Field(max_length=MAX_MEMBERS)


class MembersOut(BaseModel):
    items: list[dict]
    total: int


class GroupReach(ReachedCrud):
    """The reach of the user's role in ``groups``, applied by the service (page and API alike)."""

    reach_section = SECTION
    manage_message = MANAGE_GROUPS
    list_filters = ("employee_id",)

    async def check_group(self, id: str) -> None:
        await self.service(GroupService).get_reached(id, await self.reach())


crud("/api/v1/telephony/groups", "Group", section=SECTION, tag=TAG, service_cls=GroupService,
     in_model=GroupIn, out_model=GroupOut, id_name="Group id",
     mixin=GroupReach,
     list_params=[Param("q", description="Text to find in the name or extension"),
                  Param("employee_id", description="Only groups this employee is a member of")],
     summaries={"list": N_("Call groups of the PBX"), "create": N_("Create a call group"),
                "get": N_("One call group with its members and settings"), "put": N_("Replace a call group"),
                "patch": N_("Change some settings of a call group"),
                "delete": N_("Delete a call group (refused while a scheme or a client-number rule uses it)")})


class MembersBase(GroupReach, TelApi):
    async def save_members(self, id: str, members, status: int = 200) -> None:
        svc = self.service(GroupService)
        group = await svc.get(id)
        after = await svc.update(id, {**group, "members": members})
        self.reply_model(MembersOut, {"items": after["members"], "total": len(after["members"])}, status=status)


@route("/api/v1/telephony/groups/{id}/members", access="tenant", section=SECTION, params={"id": OBJECT_ID})
class GroupMembersApi(MembersBase):
    @operation(N_("Members of a call group, in ringing order"), response=MembersOut, tags=[TAG],
               params=[id_param("id", "Group id")], errors=(401, 403, 404))
    async def get(self, id: str) -> None:
        await self.check_group(id)
        members = (await self.service(GroupService).get(id))["members"]
        self.reply_model(MembersOut, {"items": members, "total": len(members)})

    @operation(N_("Replace the members of a call group (the order is the ringing order)"), request=MembersIO,
               response=MembersOut, tags=[TAG], params=[id_param("id", "Group id")],
               errors=(400, 401, 403, 404, 422))
    async def put(self, id: str) -> None:
        await self.check_group(id)
        data = self.payload(MembersIO)
        await self.save_members(id, data.get("members"))

    @operation(N_("Add a member to a call group (at the end)"), request=MemberIn, response=MembersOut, status=201,
               tags=[TAG], params=[id_param("id", "Group id")], errors=(400, 401, 403, 404, 422))
    async def post(self, id: str) -> None:
        await self.check_group(id)
        member = self.payload(MemberIn)
        current = (await self.service(GroupService).get(id))["members"]
        await self.save_members(id, [*current, member], status=201)


@route("/api/v1/telephony/groups/{id}/members/{member_id}", access="tenant", section=SECTION,
       params={"id": OBJECT_ID, "member_id": OBJECT_ID})
class GroupMemberApi(MembersBase):
    @operation(N_("Remove a member from a call group"), response=MembersOut, tags=[TAG],
               params=[id_param("id", "Group id"), id_param("member_id", "Member id (from the group's members)")],
               errors=(401, 403, 404))
    async def delete(self, id: str, member_id: str) -> None:
        await self.check_group(id)
        current = (await self.service(GroupService).get(id))["members"]
        rest = [m for m in current if m.get("id") != member_id]
        if len(rest) == len(current):
            raise AppError(404, "not_found", N_("This group has no such member."))
        await self.save_members(id, rest)
