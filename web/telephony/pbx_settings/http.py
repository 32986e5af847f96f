"""REST API of the PBX's call-handling and security settings (``/api/v1/telephony/settings/…``).

Rights: call handling is part of the ``call_handling`` section (waiting settings, melodies, the
"if unavailable" rule); security — allowed call directions and tone commands — is the
``restrictions`` section (Security settings). ``PUT`` and ``PATCH`` both take any subset of the
fields: what the body leaves out keeps its current value (nested objects merge key by key).
"""
from __future__ import annotations

from pydantic import Field

from web.api.base import operation
from web.api.models import Strict
from web.routes import route
from web.sections import N_
from web.telephony.api_common import Out, TelApi
from web.telephony.pbx_settings.services import PbxSettingsService

TAG = "telephony: PBX settings"


class CallHandlingIn(Strict):
    default_ring_time: int | None = Field(None, description="Seconds an employee rings by default (5-3600)")
    unavailable_action: str | None = Field(None, description="voicemail | busy | extension")
    unavailable_extension: str | None = None
    unavailable_message: str | None = Field(None, description="Sound file id; null = no message")
    menu_transfer_melody: str | None = None
    transfer_melody: str | None = None
    password_prompt: str | None = None
    exclude_seconds: int | None = Field(None, description="Exclude an operator who did not answer (0 = never)")
    queue: dict | None = Field(None, description="enabled, max_wait, max_length, entry_sound, hold_sound, overflow_sound")
    dial_extensions: dict | None = Field(None, description="enabled, min_length (1-5), max_length (3-5)")
    incoming_caller_id: str | None = Field(None, description="auto | caller | line")
    adhoc_conference_limit: int | None = None
    home_area_codes: list[str] | None = None
    default_fax_email: str | None = None


class CallHandlingOut(Out):
    default_ring_time: int
    unavailable_action: str
    queue: dict
    dial_extensions: dict
    home_area_codes: list[str]


class SecurityIn(Strict):
    allowed_directions: list[str] | None = Field(None, description="local, mobile, long_distance, international, "
                                                                   "service; null = all")
    transfer_external: bool | None = None
    ignore_callee_dtmf: bool | None = None
    blf_pickup: bool | None = None


class SecurityOut(Out):
    allowed_directions: list[str] | None
    transfer_external: bool
    ignore_callee_dtmf: bool
    blf_pickup: bool


@route("/api/v1/telephony/settings/call-handling", access="tenant", section="call_handling")
class CallHandlingApi(TelApi):
    @operation(N_("Call-handling settings of the PBX"), response=CallHandlingOut, tags=[TAG], errors=(401, 403))
    async def get(self) -> None:
        self.reply_model(CallHandlingOut, (await self.service(PbxSettingsService).get())["call_handling"])

    @operation(N_("Change call-handling settings (fields left out keep their values)"), request=CallHandlingIn,
               response=CallHandlingOut, tags=[TAG], errors=(400, 401, 403, 422))
    async def put(self) -> None:
        data = self.payload(CallHandlingIn)
        self.reply_model(CallHandlingOut, await self.service(PbxSettingsService).update_call_handling(data))

    @operation(N_("Change some call-handling settings"), request=CallHandlingIn, response=CallHandlingOut,
               tags=[TAG], errors=(400, 401, 403, 422))
    async def patch(self) -> None:
        await self.put()


@route("/api/v1/telephony/settings/security", access="tenant", section="restrictions")
class SecuritySettingsApi(TelApi):
    @operation(N_("Security settings of the PBX: allowed directions and tone commands"), response=SecurityOut,
               tags=[TAG], errors=(401, 403))
    async def get(self) -> None:
        self.reply_model(SecurityOut, (await self.service(PbxSettingsService).get())["security"])

    @operation(N_("Change security settings (fields left out keep their values)"), request=SecurityIn,
               response=SecurityOut, tags=[TAG], errors=(400, 401, 403, 422))
    async def put(self) -> None:
        data = self.payload(SecurityIn)
        self.reply_model(SecurityOut, await self.service(PbxSettingsService).update_security(data))

    @operation(N_("Change some security settings"), request=SecurityIn, response=SecurityOut, tags=[TAG],
               errors=(400, 401, 403, 422))
    async def patch(self) -> None:
        await self.put()
