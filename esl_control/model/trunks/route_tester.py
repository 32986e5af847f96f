"""The outbound route tester, one use case for the cabinet page (``/telephony/trunks/routing``) and
``POST /api/v1/telephony/trunks/masks/test``.

It answers what the call flow would do with a dialled number, with the same pure rule
(:func:`esl_control.routing.outbound.choose_route`) over the PBX's stored extensions, trunks,
security and call-handling settings and state (a blocked PBX refuses all but emergency and
internal calls): the masks are the stored ones, or rows being edited (the page tests them before
saving). As an employee: their extension, outgoing number and allowed directions; without one:
the given outgoing number, else "any employee with an outgoing number". The home area codes are
the PBX's, as stored (an empty list means no local area). Changes nothing.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from esl_control.model.common import NotFound
from esl_control.model.employees.services import EmployeeService
from esl_control.model.numbers.schemas import clean_number
from esl_control.model.pbx_settings.services import PbxSettingsService
from esl_control.model.trunks.schemas import route_masks, route_trunks
from esl_control.model.trunks.services import TrunkService
from esl_control.routing.directions import effective_directions
from esl_control.routing.errors import RuleError
from esl_control.routing.outbound import RouteDecision, choose_route
from pult.i18n import N_
from storage.repos.telephony import Extensions, Trunks
from storage.repos.tenants import load_pbx_state

#: the outgoing number assumed without an employee or a number: "someone who may call out"
ANY_LINE = "any-line"

#: RouteDecision.reason -> what it means (English message ids; ``%(row)s``: the rule's row, from 1)
REASONS = {
    "extension": N_("An extension of the PBX: an internal call."),
    "trunk_prefix": N_("The number starts with the trunk's prefix: the prefix is removed and the call goes into the trunk."),
    "trunk_mask": N_("Routing rule no. %(row)s matched."),
    "outgoing_number_trunk": N_("The employee's outgoing number belongs to the trunk: the call goes into it."),
    "platform": N_("No trunk applies: the call goes out through the platform."),
    "emergency": N_("An emergency number: it always goes through the platform."),
    "empty_number": N_("Nothing was dialled."),
    "invalid_number": N_("This is not a number that can be dialled."),
    "no_outgoing_number": N_("No outgoing number: calls to the public network are not allowed."),
    "direction_barred": N_("This call direction is not allowed."),
    "empty_transformation": N_("Routing rule no. %(row)s matched, but its transformation leaves no number: the call fails."),
    "pbx_blocked": N_("The PBX is blocked: only emergency and internal calls are possible."),
}


@dataclass(frozen=True)
class RouteTest:
    decision: RouteDecision
    trunk_name: str | None
    mask_id: str | None
    row: int | None            # the matching rule's row, from 1
    caller_id: str | None      # None when the "any line" stand-in would be shown

    @property
    def reason(self) -> str:
        """The English message id of the reason (``%(row)s`` filled by :attr:`reason_values`)."""
        return REASONS.get(self.decision.reason, self.decision.reason)

    @property
    def reason_values(self) -> dict:
        return {"row": self.row} if "%(row)s" in self.reason else {}


async def run_route_test(db, pbx_id: int, number: Any, *, employee_id: Any = None, outgoing_number: Any = None,
                     masks: Iterable[Mapping[str, Any]] | None = None) -> RouteTest:
    """What the call flow would do with ``number`` (see the module docstring). Raises
    :class:`RuleError` for an empty number (field ``number``), an unknown employee
    (``employee_id``) or a malformed outgoing number (``outgoing_number``)."""
    if not isinstance(number, str) or not number.strip():
        raise RuleError("value.required", field="number")
    employees = EmployeeService(db, pbx_id)
    scope = employees.scope
    settings = await PbxSettingsService(db, pbx_id).get()
    extension, own_directions = None, None
    if employee_id not in (None, ""):
        try:
            emp = await employees.get(employee_id if isinstance(employee_id, str) else "")
        except NotFound:
            raise RuleError("ref.unknown", field="employee_id", id=employee_id) from None
        outgoing, extension, own_directions = emp.get("outgoing_number"), emp["extension"], emp.get("directions")
    elif outgoing_number not in (None, ""):
        outgoing = clean_number(outgoing_number, "outgoing_number")
    else:
        outgoing = ANY_LINE
    if masks is None:
        masks = await TrunkService(db, pbx_id).masks()
    masks = list(masks)
    trunk_docs = await Trunks(db, scope).find()
    extensions = {c["extension"] for c in await Extensions(db, scope).find({}, projection={"extension": 1})}
    state = await load_pbx_state(db, pbx_id)
    decision = choose_route(
        number.strip(), extensions=extensions, trunks=route_trunks(trunk_docs), masks=route_masks(masks),
        outgoing_number=outgoing, employee_extension=extension,
        allowed_directions=effective_directions(settings["security"].get("allowed_directions"), own_directions),
        home_area_codes=settings["call_handling"].get("home_area_codes") or (),
        pbx_blocked=bool(state and state.blocked))
    names = {t["_id"]: t["name"] for t in trunk_docs}
    index = decision.mask_index
    return RouteTest(decision, names.get(decision.trunk_id),
                     masks[index].get("id") if index is not None else None,
                     index + 1 if index is not None else None,
                     decision.caller_id if decision.caller_id != ANY_LINE else None)
