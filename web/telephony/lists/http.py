"""REST API of the black and white lists and the client-number rules.

- ``/api/v1/telephony/lists/entries`` — entries of both lists (``?list=black|white``);
- ``/api/v1/telephony/lists/mode`` — which list is active (black, white or none: the two are
  mutually exclusive), and whether callers with a hidden number pass;
- ``/api/v1/telephony/client-rules`` — forwarding by the caller's number, in priority order
  (``POST …/order`` sets the order).

Rights: section ``call_handling``.
"""
from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, Field, RootModel, StringConstraints, create_model

from esl_control.model.lists.schemas import LISTS
from esl_control.model.lists.services import ClientRuleService, ListService
from esl_control.routing.errors import RuleError
from esl_control.routing.lists import MAX_COMMENT_LENGTH, MAX_RING_TIME
from pult.i18n import N_
from web.api_base import Param, operation
from web.api_fields import Destination, Int, Phone, RefId, SipUri, choice
from web.api_models import Strict, UtcDatetime
from web.routes import route
from web.telephony.api_common import CollectionApi, ItemApi, Out, TelApi, crud, matches

SECTION = "call_handling"
TAG = "telephony: lists and client rules"


class _EntryBase(Strict):
    list: choice(LISTS)
    exact: bool | None = Field(None, description="Whole-number match (false: the value is a prefix)")
    comment: Annotated[str, StringConstraints(max_length=MAX_COMMENT_LENGTH)] | None = None


class PhoneEntryIn(_EntryBase):
    value: Phone = Field(description="A number, international, no + (the service also takes a range "
                                     "74952009000-74952009999 and a mask with # and *)")
    kind: Literal["phone"] | None = Field(None, description="Default: from the value")


class SipEntryIn(_EntryBase):
    value: SipUri
    kind: Literal["sip"] | None = Field(None, description="Default: from the value")


class EntryIn(RootModel[PhoneEntryIn | SipEntryIn]):
    """A black- or white-list entry: a number or a SIP address (``kind`` agrees with the value)."""


class EntryOut(Out):
    id: str
    list: str
    kind: str
    value: str
    exact: bool
    comment: str = ""
    created_at: UtcDatetime | None = None


class ModeIO(Strict):
    mode: choice(LISTS) | None = Field(None, description="null: no list is active")
    unknown_allowed: bool = Field(True, description="Whether callers with a hidden number pass")


class _RuleBase(Strict):
    exact: bool | None = None
    ring_time: Int(0, MAX_RING_TIME) | None = None
    active: bool | None = None
    comment: Annotated[str, StringConstraints(max_length=MAX_COMMENT_LENGTH)] | None = None


def _rule_variants():
    """One model per (caller entry kind, target kind): the fields of each depend on both."""
    entries = {"Phone": (Phone, Literal["phone"]), "Sip": (SipUri, Literal["sip"])}
    targets = {"Group": (Literal["group"], RefId, False), "Employee": (Literal["employee"], RefId, True),
               "External": (Literal["external"], Destination, False)}
    for en, (value_t, kind_t) in entries.items():
        for tn, (tk_t, target_t, method) in targets.items():
            fields = {"value": (value_t, Field(description="The caller's number or SIP address")),
                      "kind": (kind_t | None, None), "target_kind": (tk_t, ...),
                      "target": (target_t, Field(description="A group or employee id, or the external number"))}
            if method:
                fields["contact_method"] = (RefId | None, Field(None, description="One of the employee's "
                                                                                  "contact methods"))
            yield create_model(f"{en}To{tn}RuleIn", __base__=_RuleBase, **fields)


class RuleIn(RootModel[Union[tuple(_rule_variants())]]):  # noqa: UP007
    """A client-number rule: calls from ``value`` go to ``target``."""


class RuleOut(Out):
    id: str
    position: int
    value: str
    target_kind: str
    target: str
    active: bool
    created_at: UtcDatetime | None = None


class OrderIn(Strict):
    ids: list[str] = Field(description="Every rule id of the PBX, highest priority first")


class RuleList(BaseModel):
    items: list[RuleOut]
    total: int


class EntryCollection(CollectionApi):
    async def list_items(self):
        which = self.choice_arg("list", LISTS)
        q = self.text_arg("q")
        return [e for e in await self.svc().list(which) if matches(e, q, ("value", "comment"))]


class KindFromValueItem(ItemApi):
    """A PATCH that changes the value takes the kind from the new value (phone or SIP address)
    unless it names one: the stored kind belongs to the old value."""

    def patch_base(self, current: dict) -> dict:
        return {k: v for k, v in current.items() if k not in ("kind", "form")}


crud("/api/v1/telephony/lists/entries", "ListEntry", section=SECTION, tag=TAG, service_cls=ListService,
     in_model=EntryIn, out_model=EntryOut, id_name="Entry id", collection_base=EntryCollection,
     item_base=KindFromValueItem,
     list_params=[Param("list", schema={"type": "string", "enum": list(LISTS)}, description="Only this list"),
                  Param("q", description="Text to find in the value or comment")],
     summaries={"list": N_("Entries of the black and white lists"), "create": N_("Add an entry to a list"),
                "get": N_("One list entry"), "put": N_("Replace a list entry"),
                "patch": N_("Change some fields of a list entry"), "delete": N_("Delete a list entry")})


@route("/api/v1/telephony/lists/mode", access="tenant", section=SECTION)
class ListModeApi(TelApi):
    @operation(N_("Which list is active (black, white or none)"), response=ModeIO, tags=[TAG], errors=(401, 403))
    async def get(self) -> None:
        self.reply_model(ModeIO, await self.service(ListService).mode())

    @operation(N_("Activate the black or the white list, or neither"), request=ModeIO, response=ModeIO, tags=[TAG],
               errors=(400, 401, 403, 422))
    async def put(self) -> None:
        data = self.payload(ModeIO)
        self.reply_model(ModeIO, await self.service(ListService).set_mode(data.get("mode"),
                                                                           data.get("unknown_allowed", True)))


class RuleCollection(CollectionApi):
    async def filter_items(self, items):
        q = self.text_arg("q")
        target = self.text_arg("target")
        return [r for r in items if matches(r, q, ("value", "comment", "target"))
                and (not target or r.get("target") == target)]


crud("/api/v1/telephony/client-rules", "ClientRule", section=SECTION, tag=TAG, service_cls=ClientRuleService,
     in_model=RuleIn, out_model=RuleOut, id_name="Rule id", collection_base=RuleCollection,
     item_base=KindFromValueItem,
     list_params=[Param("q", description="Text to find in the value, comment or target"),
                  Param("target", description="Only rules forwarding to this group/employee id or number")],
     summaries={"list": N_("Client-number rules in priority order"), "create": N_("Add a client-number rule (last)"),
                "get": N_("One client-number rule"), "put": N_("Replace a client-number rule"),
                "patch": N_("Change some fields of a client-number rule"),
                "delete": N_("Delete a client-number rule")})


@route("/api/v1/telephony/client-rules/order", access="tenant", section=SECTION)
class ClientRuleOrderApi(TelApi):
    @operation(N_("Set the priority order of the client-number rules"), request=OrderIn, response=RuleList,
               tags=[TAG], errors=(400, 401, 403, 422))
    async def post(self) -> None:
        ids = self.payload(OrderIn).get("ids")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise RuleError("value.list", field="ids")
        rules = await self.service(ClientRuleService).reorder(ids)
        self.reply_model(RuleList, {"items": rules, "total": len(rules)})
