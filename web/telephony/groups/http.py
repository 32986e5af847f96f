"""REST API of call groups (``/api/v1/telephony/groups``): the group with its members,
distribution strategy, queue settings and features, plus member endpoints.

Rights: section ``groups`` with its reach — a group leader (reach "supervised") sees and changes
only the supervised groups (members and distribution) and cannot create or delete groups. A
group referred to by a scheme or a client-number rule is not deleted (409 with the referrers).
"""
from __future__ import annotations

from pydantic import BaseModel, Field

from esl_control.model.groups.schemas import QUEUE_MODES, STRATEGIES
from esl_control.model.groups.services import GroupService
from esl_control.model.reach import MANAGE_GROUPS
from pult.errors import AppError
from pult.i18n import N_
from web.api_base import Param
from web.api_base import operation
from web.api_fields import Extension, Name, choice
from web.api_models import Strict, UtcDatetime
from web.routes import route
from web.telephony.api_common import OBJECT_ID, CollectionApi, ItemApi, Out, ReachedCrud, TelApi, crud, id_param

SECTION = "groups"
TAG = "telephony: groups"


class MemberIO(Strict):
    id: str | None = Field(None, description="Kept when given, new otherwise")
    kind: str = Field(description="employee | external")
    employee_id: str | None = None
    method: str | None = Field(None, description="employee: card (all their methods) or one contact method id")
    value: str | None = Field(None, description="external: a phone number or SIP address")
    lines: int | None = Field(None, description="external: simultaneous calls, 1-30")
    schedule_id: str | None = Field(None, description="external: rings only within this schedule")
    priority: int | None = Field(None, description="1-99, for the priority strategy")
    operator: bool | None = Field(None, description="employee: handles the group's calls in the contact centre "
                                                    "(default true)")
    supervisor: bool | None = Field(None, description="employee: operator rights plus monitoring of the group's "
                                                      "operators (default false; needs operator)")


class QueueIO(Strict):
    mode: choice(QUEUE_MODES) | None = Field(None, description="pbx (the PBX defaults) | special (the values below)")
    enabled: bool | None = None
    max_wait: int | None = Field(None, description="Seconds, 0 = no limit")
    max_length: int | None = Field(None, description="0 = no limit")
    entry_sound: str | None = None
    hold_sound: str | None = None
    overflow_sound: str | None = None
    announce_position: bool | None = None
    announce_ewt: bool | None = None


class GroupIn(Strict):
    name: Name
    extension: Extension = Field(description="Unique in the PBX (shared with employees and conference rooms)")
    strategy: choice(STRATEGIES) = "sequential"
    members: list[MemberIO] = Field(default_factory=list, description="In ringing order")
    ring_time: int | None = Field(None, description="Seconds; null = the PBX default")
    attempts: int | None = None
    attempt_pause: int | None = None
    pause_melody: str | None = None
    ringback: str | None = None
    announce_caller: bool | None = None
    caller_id: str | None = Field(None, description="caller | line")
    features: dict[str, bool] | None = Field(None, description="transfer, conference, fax")
    dtmf: dict[str, str] | None = Field(None, description="transfer, toggle, return, fax, record")
    queue: QueueIO | None = None
    exclusion: int | None = Field(None, description="Seconds; null = the PBX setting")
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
    members: list[MemberIO]


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


class GroupCollection(GroupReach, CollectionApi):
    pass


class GroupItem(GroupReach, ItemApi):
    pass


crud("/api/v1/telephony/groups", "Group", section=SECTION, tag=TAG, service_cls=GroupService,
     in_model=GroupIn, out_model=GroupOut, id_name="Group id",
     collection_base=GroupCollection, item_base=GroupItem,
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

    @operation(N_("Add a member to a call group (at the end)"), request=MemberIO, response=MembersOut, status=201,
               tags=[TAG], params=[id_param("id", "Group id")], errors=(400, 401, 403, 404, 422))
    async def post(self, id: str) -> None:
        await self.check_group(id)
        member = self.payload(MemberIO)
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
