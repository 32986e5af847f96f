"""REST API of call-handling schemes (``/api/v1/telephony/schemes``).

A scheme is ONE tree document (time blocks → steps → menus with children and rules), read and
written as a whole: ``GET``/``PUT`` move the complete document, validated as one (a scheme is
never half-saved). Actions: copy, rename, activate on numbers (each number has one active
scheme), list the numbers a scheme is active on. Rights: section ``call_handling``. A scheme
active on a number is not deleted (409 with the numbers).
"""
from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from esl_control.model.schemes.schemas import all_steps
from esl_control.model.schemes.services import SchemeService
from esl_control.routing.errors import RuleError
from pult.i18n import N_
from web.api_base import Param, operation
from web.api_fields import Name, ObjectIdStr, stated
from web.api_models import Strict, UtcDatetime
from web.routes import route
from web.telephony.schemes import document
from web.telephony.api_common import OBJECT_ID, CollectionApi, Out, TelApi, crud, id_param, matches

SECTION = "call_handling"
TAG = "telephony: schemes"


class SchemeIn(Strict):
    """A scheme as one tree (web.telephony.schemes.document states it level by level; the rules of
    esl_control.model.schemes.schemas check it as a whole)."""

    model_config = ConfigDict(json_schema_extra={document.LAST_EXTENSION: document.LAST})

    name: str = Field(json_schema_extra=stated(document.NAME))
    description: str | None = Field(None, json_schema_extra=stated(document.DESCRIPTION))
    blocks: list[dict] = Field(default_factory=list, json_schema_extra=stated(document.BLOCKS))


class SchemeOut(Out):
    id: str
    name: str
    description: str = ""
    blocks: list[dict]
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None


class CopyIn(Strict):
    name: Name = Field(description="The name of the copy")


class RenameIn(Strict):
    name: Name
    description: Annotated[str, StringConstraints(max_length=500)] | None = None


class ActivateIn(Strict):
    numbers: list[ObjectIdStr] = Field(min_length=1, description="Ids of the PBX's numbers; the scheme replaces their active one")


class TrunkNumberRef(Strict):
    trunk_id: str
    number: str = Field(description="One of the trunk's numbers marked receive")


class TrunkNumbersIn(Strict):
    trunk_numbers: list[TrunkNumberRef] = Field(description="Exactly the trunk numbers the scheme is to be active on; "
                                                            "its other trunk numbers are left without a scheme")


class TrunkNumbersOut(BaseModel):
    items: list[dict] = Field(description="trunk_id, trunk_name, number, scheme_id")
    total: int


class SchemeNumbersOut(BaseModel):
    items: list[dict]
    total: int


class SchemeCollection(CollectionApi):
    async def filter_items(self, items):
        q = self.text_arg("q")
        uses = self.text_arg("uses")  # an id of a group/employee/schedule/sound/trunk the scheme refers to
        out = []
        for s in items:
            if not matches(s, q, ("name", "description")):
                continue
            if uses and not _refers(s, uses):
                continue
            out.append(s)
        return out


def _refers(scheme: dict, id: str) -> bool:
    if any(b.get("schedule_id") == id for b in scheme.get("blocks", ())):
        return True
    for step in all_steps(scheme):
        if step.get("sound_id") == id or (step.get("target") or {}).get("id") == id:
            return True
    return False


crud("/api/v1/telephony/schemes", "Scheme", section=SECTION, tag=TAG, service_cls=SchemeService,
     in_model=SchemeIn, out_model=SchemeOut, id_name="Scheme id", collection_base=SchemeCollection,
     list_params=[Param("q", description="Text to find in the name or description"),
                  Param("uses", description="Only schemes that refer to this object id (group, employee, "
                                            "schedule, sound file, trunk)")],
     summaries={"list": N_("Call-handling schemes of the PBX"), "create": N_("Create a scheme (the whole tree)"),
                "get": N_("One scheme as a tree document"),
                "put": N_("Save a scheme (the whole tree, validated as one document)"),
                "patch": N_("Change some top-level fields of a scheme (name, description or blocks)"),
                "delete": N_("Delete a scheme (refused while it is active on a number)")})


class SchemeAction(TelApi):
    def svc(self) -> SchemeService:
        return self.service(SchemeService)


@route("/api/v1/telephony/schemes/{id}/copy", access="tenant", section=SECTION, params={"id": OBJECT_ID})
class SchemeCopyApi(SchemeAction):
    @operation(N_("Copy a scheme under a new name"), request=CopyIn, response=SchemeOut, status=201, tags=[TAG],
               params=[id_param("id", "Scheme id")], errors=(400, 401, 403, 404, 422))
    async def post(self, id: str) -> None:
        data = self.payload(CopyIn)
        self.reply_model(SchemeOut, await self.svc().copy(id, data.get("name")), status=201)


@route("/api/v1/telephony/schemes/{id}/rename", access="tenant", section=SECTION, params={"id": OBJECT_ID})
class SchemeRenameApi(SchemeAction):
    @operation(N_("Rename a scheme (and change its description)"), request=RenameIn, response=SchemeOut,
               tags=[TAG], params=[id_param("id", "Scheme id")], errors=(400, 401, 403, 404, 422))
    async def post(self, id: str) -> None:
        data = self.payload(RenameIn)
        self.reply_model(SchemeOut, await self.svc().rename(id, data.get("name"), data.get("description")))


@route("/api/v1/telephony/schemes/{id}/activate", access="tenant", section=SECTION, params={"id": OBJECT_ID})
class SchemeActivateApi(SchemeAction):
    @operation(N_("Make the scheme active on numbers (replacing their previous scheme)"), request=ActivateIn,
               response=SchemeNumbersOut, tags=[TAG], params=[id_param("id", "Scheme id")],
               errors=(400, 401, 403, 404, 422))
    async def post(self, id: str) -> None:
        data = self.payload(ActivateIn)
        ids = data.get("numbers")
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
            raise RuleError("value.list", field="numbers")
        done = await self.svc().activate(id, ids)
        self.reply_model(SchemeNumbersOut, {"items": done, "total": len(done)})


@route("/api/v1/telephony/schemes/{id}/numbers", access="tenant", section=SECTION, params={"id": OBJECT_ID})
class SchemeNumbersApi(SchemeAction):
    @operation(N_("Numbers the scheme is active on"), response=SchemeNumbersOut, tags=[TAG],
               params=[id_param("id", "Scheme id")], errors=(401, 403, 404))
    async def get(self, id: str) -> None:
        numbers = await self.svc().numbers(id)
        self.reply_model(SchemeNumbersOut, {"items": numbers, "total": len(numbers)})


@route("/api/v1/telephony/schemes/{id}/trunk-numbers", access="tenant", section=SECTION, params={"id": OBJECT_ID})
class SchemeTrunkNumbersApi(SchemeAction):
    """A trunk's "receive" numbers get a scheme like any number (D §5.3.2)."""

    @operation(N_("Trunk numbers the scheme is active on"), response=TrunkNumbersOut, tags=[TAG],
               params=[id_param("id", "Scheme id")], errors=(401, 403, 404))
    async def get(self, id: str) -> None:
        await self.svc().get(id)
        items = await self.svc().trunk_numbers(id)
        self.reply_model(TrunkNumbersOut, {"items": items, "total": len(items)})

    @operation(N_("Make the scheme active on exactly these trunk numbers"), request=TrunkNumbersIn,
               response=TrunkNumbersOut, tags=[TAG], params=[id_param("id", "Scheme id")],
               errors=(400, 401, 403, 404, 422))
    async def put(self, id: str) -> None:
        data = self.payload(TrunkNumbersIn)
        items = await self.svc().set_trunk_numbers(id, data.get("trunk_numbers") or [])
        self.reply_model(TrunkNumbersOut, {"items": items, "total": len(items)})
