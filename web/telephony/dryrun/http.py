"""``POST /api/v1/telephony/dry-run``: what a call would do, step by step (issue 12).

The same engine that runs live calls walks the PBX's configuration over the recording fake
channel (:mod:`esl_control.flow.dryrun`): which list rule matched, which client rule, which time
block, which menu item, who rings in which order for how long, what the caller hears, where it
ends. Nothing is dialled and nothing is stored. Rights: section ``call_handling``.
"""
from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints, WithJsonSchema

from pult.i18n import N_
from web.api_base import operation
from esl_control.flow.dryrun import INPUT_PATTERN, RESULTS
from web.api_fields import choice
from web.api_models import Strict
from web.routes import route
from web.telephony.api_common import Out, TelApi
from web.telephony.dryrun.check import check_call

TAG = "telephony: schemes"


class DryRunIn(Strict):
    number: Annotated[str, StringConstraints(pattern="^[0-9]{1,15}$")] = Field(
        description="The number called (one of the PBX's numbers: another is a 409), or an extension with internal")
    caller: Annotated[str, StringConstraints(max_length=64, pattern="^[^\\n]*$")] | None = Field(
        None, description="The caller's number (none: a hidden number)")
    at: Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})] | None = Field(
        None, description="When (ISO 8601); none: now. Naive times are PBX-local")
    digits: list[Annotated[str, StringConstraints(pattern=f"^(fax|{INPUT_PATTERN})$")] | None] = Field(
        default_factory=list, max_length=20, description="What the caller presses, in order: "
        "\"1\", \"123#\", \"\" (nothing), \"fax\" (a fax tone), \"!1\" (during a greeting)")
    answers: dict[str, choice(RESULTS) | Annotated[list[choice(RESULTS)], Field(max_length=10)]] = Field(
        default_factory=dict, max_length=200, description="Who answers: target → answered | no_answer | busy | "
                                                          "failed, or a list of those by attempt")
    internal: bool = Field(False, description="A call from a tenant phone to the extension in number")


class DryRunOut(Out):
    path: list[dict] = Field(description="The decision path, step by step (as the call record keeps it)")
    actions: list[dict] = Field(description="What the call was told: answer, play, collect, ring, record, hangup")
    ended: dict | None = Field(description="How the call ends: {cause, by}")


@route("/api/v1/telephony/dry-run", access="tenant", section="call_handling")
class DryRunApi(TelApi):
    @operation(N_("Check a call: what a call to a number would do, step by step"), request=DryRunIn,
               response=DryRunOut, tags=[TAG], errors=(400, 401, 403, 422))
    async def post(self) -> None:
        body = self.payload(DryRunIn)
        _snapshot, result = await check_call(self.db, self.pbx_id, body)
        self.reply_model(DryRunOut, result)
