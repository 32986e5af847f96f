"""REST API of the PBX's call-handling and security settings (``/api/v1/telephony/settings/…``).

Rights: call handling is part of the ``call_handling`` section (waiting settings, melodies, the
"if unavailable" rule); security — allowed call directions and tone commands — is the
``restrictions`` section (Security settings); voice mail, fax and call recording settings are the
``pbx_settings`` section (Additional settings), what internal calls show the ``sip`` section. ``PUT`` and ``PATCH`` both take any subset of the
fields: what the body leaves out keeps its current value (nested objects merge key by key).
"""
from __future__ import annotations

from pydantic import ConfigDict, Field, create_model

from esl_control.prompts import PHRASES

from esl_control.model.common import DIAL_LONGEST_MIN, EXTENSION_MAX_DIGITS, EXTENSION_MIN_DIGITS
from esl_control.model.pbx_settings.schemas import (ADHOC_CONFERENCE_LIMIT, DEFAULT_RING_TIME, DELIVERY,
                                                    EXCLUDE_SECONDS, INCOMING_CALLER_IDS, QUEUE_MAX_LENGTH,
                                                    QUEUE_MAX_WAIT, RECORDING_CHANNELS, RECORDING_STORAGE,
                                                    RETENTION_DAYS, SIP_DISPLAY_NAMES, SIP_DISPLAY_NUMBERS,
                                                    UNAVAILABLE_ACTIONS, VOICEMAIL_MAX_LENGTH)
from esl_control.model.pbx_settings.services import PbxSettingsService
from pult.i18n import N_
from web.api_base import operation
from web.api_fields import AreaCode, Direction, Emails, Extension, Int, Omit, RefId, choice, opt
from web.api_models import Strict
from web.routes import route
from web.telephony.api_common import Out, TelApi

TAG = "telephony: PBX settings"


class QueueSettingsIn(Strict):
    enabled: bool | Omit = opt()
    max_wait: Int(*QUEUE_MAX_WAIT) | Omit = opt(description="Seconds, 0 = no limit")
    max_length: Int(*QUEUE_MAX_LENGTH) | Omit = opt(description="Callers, 0 = no limit")
    entry_sound: RefId | None | Omit = opt(description="Sound file id; null = none")
    hold_sound: RefId | None | Omit = opt(description="Sound file id; null = none")
    overflow_sound: RefId | None | Omit = opt(description="Sound file id; null = none")


class DialExtensionsIn(Strict):
    enabled: bool | Omit = opt()
    # documented up to DIAL_LONGEST_MIN, the least max_length, so any value fits any max_length (the
    # server takes up to max_length)
    min_length: Int(EXTENSION_MIN_DIGITS, DIAL_LONGEST_MIN) | Omit = opt(
        "Shortest extension callers dial (not above max_length)")
    max_length: Int(DIAL_LONGEST_MIN, EXTENSION_MAX_DIGITS) | Omit = opt("Longest extension callers dial")


class CallHandlingIn(Strict):
    default_ring_time: Int(*DEFAULT_RING_TIME) | Omit = opt(description="Seconds an employee rings by default")
    unavailable_action: choice(UNAVAILABLE_ACTIONS) | Omit = opt()
    unavailable_extension: Extension | Omit = opt(description="unavailable_action=extension: where the call goes")
    unavailable_message: RefId | None | Omit = opt(description="Sound file id; null = no message")
    menu_transfer_melody: RefId | None | Omit = opt(description="Sound file id")
    transfer_melody: RefId | None | Omit = opt(description="Sound file id")
    password_prompt: RefId | None | Omit = opt(description="Sound file id")
    exclude_seconds: Int(*EXCLUDE_SECONDS) | Omit = opt(description="Exclude an operator who did not answer (0 = never)")
    queue: QueueSettingsIn | Omit = opt(description="Fields left out keep their values")
    dial_extensions: DialExtensionsIn | Omit = opt(description="Fields left out keep their values")
    incoming_caller_id: choice(INCOMING_CALLER_IDS) | Omit = opt()
    adhoc_conference_limit: Int(*ADHOC_CONFERENCE_LIMIT) | Omit = opt()
    home_area_codes: list[AreaCode] | Omit = opt(description="Codes of local calls, without the country code")
    default_fax_email: Emails | None | Omit = opt()
    announce_caller: bool | Omit = opt(description="Say the caller's number to the employee before connecting")
    line_warnings: bool | Omit = opt(description="Numbers may play their own warning before connecting")


class CallHandlingOut(Out):
    default_ring_time: int
    unavailable_action: str
    queue: dict
    dial_extensions: dict
    home_area_codes: list[str]


class SecurityIn(Strict):
    allowed_directions: list[Direction] | None | Omit = opt(description="null = all")
    transfer_external: bool | Omit = opt()
    ignore_callee_dtmf: bool | Omit = opt()
    blf_pickup: bool | Omit = opt()


class SecurityOut(Out):
    allowed_directions: list[str] | None
    transfer_external: bool
    ignore_callee_dtmf: bool
    blf_pickup: bool


class SipDisplayIn(Strict):
    name: choice(SIP_DISPLAY_NAMES) | Omit = opt(description="The name an internal call shows")
    number: choice(SIP_DISPLAY_NUMBERS) | Omit = opt(description="The number an internal call shows")


class SipDisplayOut(Out):
    name: str
    number: str


class VoicemailIn(Strict):
    max_length: Int(*VOICEMAIL_MAX_LENGTH) | Omit = opt(description="Longest message, s")
    default_email: Emails | None | Omit = opt(description="Default address(es), ; or , separated; empty = the "
                                                          "account's registration e-mail")
    duplicate_to_default: bool | Omit = opt()
    delivery: choice(DELIVERY) | Omit = opt()
    prompt: RefId | None | Omit = opt(description="Sound file id played before the beep; null = the beep only")


class VoicemailOut(Out):
    max_length: int
    default_email: str
    duplicate_to_default: bool
    delivery: str
    prompt: str | None = None


class FaxIn(Strict):
    in_call: bool | Omit = opt(description="Receive a fax during a call with #0 / 0")
    auto_detect: bool | Omit = opt(description="Detect fax calls (CNG) at any time")
    copy_to_employee: bool | Omit = opt()
    delivery: choice(DELIVERY) | Omit = opt()


class FaxOut(Out):
    in_call: bool
    auto_detect: bool
    copy_to_employee: bool
    delivery: str


class RecordingIn(Strict):
    retention_days: Int(*RETENTION_DAYS) | Omit = opt(description="Days recordings are kept")
    channels: choice(RECORDING_CHANNELS) | Omit = opt()
    storage: choice(RECORDING_STORAGE) | Omit = opt()


class RecordingOut(Out):
    retention_days: int
    channels: str
    storage: str


#: one optional field per phrase id (another key is refused: there is no such phrase)
PromptsIn = create_model(
    "PromptsIn", __config__=ConfigDict(extra="forbid"),
    **{pid: (RefId | None | Omit, opt(description=f"Sound file id replacing «{t['ru']}» / \"{t['en']}\"; "
                                                 "null = the platform's prompt again"))
       for pid, t in PHRASES.items()})
PromptsOut = create_model("PromptsOut", __base__=Out)


def _section_api(path: str, rights: str, key: str, in_model, out_model, summaries: tuple[str, str, str],
                 name: str | None = None):
    """GET / PUT / PATCH of one settings section (fields left out keep their values); ``name``: the
    handler's class name, which the operation ids carry (default ``<Key>SettingsApi``)."""
    get_summary, put_summary, patch_summary = summaries

    class SectionApi(TelApi):
        @operation(get_summary, response=out_model, tags=[TAG], errors=(401, 403))
        async def get(self) -> None:
            self.reply_model(out_model, (await self.service(PbxSettingsService).get())[key])

        @operation(put_summary, request=in_model, response=out_model, tags=[TAG], errors=(400, 401, 403, 422))
        async def put(self) -> None:
            data = self.payload(in_model)
            self.reply_model(out_model, await self.service(PbxSettingsService).update_section(key, data))

        @operation(patch_summary, request=in_model, response=out_model, tags=[TAG], errors=(400, 401, 403, 422))
        async def patch(self) -> None:
            await self.put()

    SectionApi.__name__ = SectionApi.__qualname__ = name or f"{key.title().replace('_', '')}SettingsApi"
    return route(path, access="tenant", section=rights)(SectionApi)


CallHandlingApi = _section_api("/api/v1/telephony/settings/call-handling", "call_handling", "call_handling",
                               CallHandlingIn, CallHandlingOut, (
    N_("Call-handling settings of the PBX"), N_("Change call-handling settings (fields left out keep their values)"),
    N_("Change some call-handling settings")), name="CallHandlingApi")
SecuritySettingsApi = _section_api("/api/v1/telephony/settings/security", "restrictions", "security", SecurityIn,
                                   SecurityOut, (
    N_("Security settings of the PBX: allowed directions and tone commands"),
    N_("Change security settings (fields left out keep their values)"), N_("Change some security settings")))
SipDisplayApi = _section_api("/api/v1/telephony/settings/sip-display", "sip", "sip_display", SipDisplayIn, SipDisplayOut, (
    N_("What internal calls show on the called phone"), N_("Change what internal calls show (fields left out keep their values)"),
    N_("Change some of what internal calls show")))
VoicemailSettingsApi = _section_api("/api/v1/telephony/settings/voicemail", "pbx_settings", "voicemail", VoicemailIn,
                                    VoicemailOut, (
    N_("Voice mail settings of the PBX"), N_("Change voice mail settings (fields left out keep their values)"),
    N_("Change some voice mail settings")))
FaxSettingsApi = _section_api("/api/v1/telephony/settings/fax", "pbx_settings", "fax", FaxIn, FaxOut, (
    N_("Fax settings of the PBX"), N_("Change fax settings (fields left out keep their values)"),
    N_("Change some fax settings")))
RecordingSettingsApi = _section_api("/api/v1/telephony/settings/recording", "pbx_settings", "recording", RecordingIn,
                                    RecordingOut, (
    N_("Call recording settings of the PBX"), N_("Change call recording settings (fields left out keep their values)"),
    N_("Change some call recording settings")))
PromptsSettingsApi = _section_api("/api/v1/telephony/settings/prompts", "pbx_settings", "prompts", PromptsIn,
                                  PromptsOut, (
    N_("The PBX's own recordings of the phrases callers hear (phrase id → sound file id)"),
    N_("Replace phrases with the PBX's sound files (phrases left out keep their values; null = the platform's prompt)"),
    N_("Replace some phrases with the PBX's sound files")))
