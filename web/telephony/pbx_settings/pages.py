"""Cabinet pages of the PBX-wide settings: call handling (section ``call_handling``), security
(section ``restrictions``), voice mail / fax / call recording (section ``pbx_settings``,
"Additional settings", three tabs) and what internal calls show (section ``sip``, a tab of the SIP
pages). Every field shows its default and says in one line what it does.

The forms are described by :data:`CALL_FIELDS` / :data:`SECURITY_FIELDS` (name, kind, title,
help, choices) and rendered by one template, so adding a setting is one line here.
"""
from __future__ import annotations

from typing import Any

from esl_control.model.common import DIAL_LONGEST_MIN, EXTENSION_MAX_DIGITS, EXTENSION_MIN_DIGITS
from esl_control.model.pbx_settings.schemas import (CALL_HANDLING_DEFAULTS, DELIVERY, FAX_DEFAULTS, RECORDING_DEFAULTS,
                                                    SECURITY_DEFAULTS, SIP_DISPLAY_DEFAULTS, VOICEMAIL_DEFAULTS)
from esl_control.model.pbx_settings.services import PbxSettingsService
from esl_control.prompts import PHRASES
from esl_control.routing.errors import RuleError
from pult.i18n import N_
from web.routes import route
from web.sections import Section, register_section
from web.telephony.pages_common import Choices, TelPage, int_or_raw

#: the hint of a length in digits, and the bounds it names (esl_control/model/common.py states them)
DIGITS = N_("%(min)s to %(max)s digits.")
HINT_VALUES = {"dial_extensions.min_length": {"min": EXTENSION_MIN_DIGITS, "max": EXTENSION_MAX_DIGITS},
               "dial_extensions.max_length": {"min": DIAL_LONGEST_MIN, "max": EXTENSION_MAX_DIGITS}}

#: (dotted name, kind: int | bool | choice | sound | text | list, title, one-line help, choices)
CALL_FIELDS: tuple[tuple, ...] = (
    ("default_ring_time", "int", N_("Default ring time, s"), N_("How long an employee's phone rings when nothing else says (5 to 3600)."), ()),
    ("unavailable_action", "choice", N_("When an employee does not answer"), N_("What the caller gets after every contact method rang out."),
     (("voicemail", N_("Voice mail")), ("busy", N_("Busy tone, hang up")), ("extension", N_("Transfer to an extension")))),
    ("unavailable_extension", "text", N_("Extension to transfer to"), N_("Used when the action above is a transfer."), ()),
    ("unavailable_message", "sound", N_("Message before voice mail"), N_("Played to the caller before the beep."), ()),
    ("menu_transfer_melody", "sound", N_("Ringback after a menu choice"), N_("What callers hear while a group chosen in a voice menu rings, unless the group has its own."), ()),
    ("transfer_melody", "sound", N_("Music during a transfer"), N_("What the caller hears while an employee transfers the call."), ()),
    ("password_prompt", "sound", N_("Password prompt"), N_("Played when a menu item asks for a password."), ()),
    ("exclude_seconds", "int", N_("Exclude a member who did not answer, s"), N_("A group member who missed a call is skipped for this long; 0: never."), ()),
    ("queue.enabled", "bool", N_("Queue callers while all group members are busy"), N_("The default of every group that uses the PBX queue settings."), ()),
    ("queue.max_wait", "int", N_("Longest wait in a queue, s"), N_("0: no limit."), ()),
    ("queue.max_length", "int", N_("Most callers in a queue"), N_("0: no limit."), ()),
    ("queue.entry_sound", "sound", N_("Message on entering a queue"), N_("E.g. «all operators are busy»."), ()),
    ("queue.hold_sound", "sound", N_("Music in a queue"), N_("Played in a loop while the caller waits."), ()),
    ("queue.overflow_sound", "sound", N_("Message when a queue is full"), N_("Played before the call goes on to the next step."), ()),
    ("dial_extensions.enabled", "bool", N_("Callers may dial extensions from a voice menu"), N_("A caller who knows an extension dials it during the greeting."), ()),
    ("dial_extensions.min_length", "int", N_("Shortest extension dialled from a menu"), DIGITS, ()),
    ("dial_extensions.max_length", "int", N_("Longest extension dialled from a menu"), DIGITS, ()),
    ("incoming_caller_id", "choice", N_("Number shown to employees on incoming calls"), N_("Which number an employee's phone shows for a call from outside."),
     (("auto", N_("Automatically: SIP phones the caller, other phones the PBX line")), ("caller", N_("The caller's number")),
      ("line", N_("The PBX number the call came to")))),
    ("adhoc_conference_limit", "int", N_("Seats in a conference made during a call"), N_("2 to 32 participants."), ()),
    ("home_area_codes", "list", N_("Local area codes"), N_("Calls to these codes count as local (separate with commas)."), ()),
    ("default_fax_email", "text", N_("E-mail for faxes"), N_("Received faxes go here when no employee's e-mail applies."), ()),
    ("announce_caller", "bool", N_("Announce the caller's number to the employee"), N_("The employee hears the caller's number before the call is connected."), ()),
    ("line_warnings", "bool", N_("Play a warning before the connection"), N_("Each number may then name its own uploaded warning (on the number's page)."), ()),
)
DELIVERY_CHOICES = (("cabinet_attachment", N_("In the cabinet and by e-mail as an attachment")),
                    ("cabinet", N_("In the cabinet only")), ("email_link", N_("By e-mail as a link to the cabinet")),
                    ("email_only", N_("By e-mail only, not kept in the cabinet")))
assert tuple(k for k, _t in DELIVERY_CHOICES) == DELIVERY
VOICEMAIL_FIELDS: tuple[tuple, ...] = (
    ("max_length", "int", N_("Longest voice message, s"), N_("10 to 600 seconds; the recording stops after it."), ()),
    ("default_email", "text", N_("Voice mail e-mail"), N_("Messages with no employee's address go here (separate several with ;). Empty: the account's registration e-mail."), ()),
    ("duplicate_to_default", "bool", N_("Send a copy of every message to this e-mail"), N_("Also messages that went to an employee."), ()),
    ("delivery", "choice", N_("What to do with a voice message"), N_("Where a new message goes."), DELIVERY_CHOICES),
    ("prompt", "sound", N_("Prompt before recording"), N_("Played before the beep; none: the beep only."), ()),
)
FAX_FIELDS: tuple[tuple, ...] = (
    ("in_call", "bool", N_("Receive a fax during a call with #0"), N_("An employee dials #0 (0 on some phones) to take a fax in the middle of a call."), ()),
    ("auto_detect", "bool", N_("Detect fax calls automatically"), N_("A fax tone at any moment starts fax reception; off also turns off a scheme's fax detection."), ()),
    ("copy_to_employee", "bool", N_("Send a copy to the employee who took the call"), N_("Besides the fax e-mail of the call-handling settings."), ()),
    ("delivery", "choice", N_("What to do with a received fax"), N_("Where a new fax goes."), DELIVERY_CHOICES),
)
RECORDING_FIELDS: tuple[tuple, ...] = (
    ("retention_days", "int", N_("Keep call recordings, days"), N_("1 to 3650; older recordings are deleted."), ()),
    ("channels", "choice", N_("Recording channels"), N_("One track for the whole call, or one per party."),
     (("mono", N_("One track")), ("per_party", N_("A track per party")))),
    ("storage", "choice", N_("Where recordings go"), N_("Kept in the cabinet, also e-mailed, or only e-mailed."),
     (("cabinet", N_("In the cabinet")), ("cabinet_email", N_("In the cabinet and by e-mail")),
      ("email_only", N_("By e-mail only")))),
)
SIP_DISPLAY_FIELDS: tuple[tuple, ...] = (
    ("name", "choice", N_("Name shown on internal calls"), N_("What the called phone shows as the caller's name."),
     (("employee", N_("The employee's name")), ("extension", N_("The extension")), ("login", N_("The SIP login")))),
    ("number", "choice", N_("Number shown on internal calls"), N_("What the called phone shows as the caller's number."),
     (("extension", N_("The extension")), ("login", N_("The SIP login")))),
)
MORE_TABS = (("voicemail", "/telephony/settings/voicemail", N_("Voice mail")), ("fax", "/telephony/settings/fax", N_("Fax")),
             ("recording", "/telephony/settings/recording", N_("Call recording")),
             ("prompts", "/telephony/settings/prompts", N_("Phrases")))
SECURITY_FIELDS: tuple[tuple, ...] = (
    ("transfer_external", "bool", N_("Employees may transfer calls to external numbers"), N_("Off: transfers only to extensions and groups."), ()),
    ("ignore_callee_dtmf", "bool", N_("Ignore tone commands of the called party"), N_("An external party cannot use transfer or other codes."), ()),
    ("blf_pickup", "bool", N_("Pick up a colleague's call from the phone's busy lamp"), N_("Phones with BLF keys can take a ringing call of the watched extension."), ()),
)
DIRECTIONS = (("local", N_("Local")), ("mobile", N_("Mobile")), ("long_distance", N_("Long distance")),
              ("international", N_("International")), ("service", N_("Service numbers")))

register_section(Section("tel_settings", N_("Call handling"), "/telephony/settings", order=180, audience="tenant",
                         right="call_handling.view", icon="⚙"))
register_section(Section("tel_more_settings", N_("Voice mail, fax, recording"), "/telephony/settings/voicemail", order=195,
                         audience="tenant", right="pbx_settings.view", icon="✉"))
register_section(Section("tel_security", N_("PBX security"), "/telephony/security", order=190, audience="tenant",
                         right="restrictions.view", icon="⊘"))


def _get(d: dict, dotted: str) -> Any:
    for part in dotted.split("."):
        d = (d or {}).get(part)
    return d


def _set(d: dict, dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    for p in parts[:-1]:
        d = d.setdefault(p, {})
    d[parts[-1]] = value


class SettingsPage(TelPage):
    section = "tel_settings"
    rights_key = "call_handling"
    part = "call_handling"
    fields_spec = CALL_FIELDS
    defaults = CALL_HANDLING_DEFAULTS
    title = N_("Call handling")
    intro = N_("How the PBX treats calls when nothing more specific is set in a scheme, a group or an employee card.")
    none_label = N_("None")

    async def get(self) -> None:
        await self.page((await self.service(PbxSettingsService).get())[self.part])

    async def page(self, values: dict, errors: dict | None = None, status: int = 200) -> None:
        sounds = await Choices(self).sounds()
        names = dict(sounds)
        self.show("telephony/settings.html", status, values=values, errors=errors or {}, spec=self.fields_spec,
                  get=_get, default_text=lambda f: self.default_text(f, names), help_text=self.help_text,
                  sounds=sounds, title=self.title,
                  intro=self.intro, action=self.request.path, part=self.part, directions=DIRECTIONS,
                  readonly=not self.can_edit(), none_label=self.none_label)

    def help_text(self, f: tuple) -> str:
        """The field's hint in the user's language (a bound it names filled in)."""
        values = HINT_VALUES.get(f[0])
        return self._(f[3]) % values if values else self._(f[3])

    def default_text(self, f: tuple, sound_names: dict) -> str:
        name, kind, _t, _h, choices = f
        value = _get(self.defaults, name)
        if kind == "bool":
            return self._("on") if value else self._("off")
        if kind == "choice":
            return self._(dict(choices).get(value, str(value)))
        if kind == "sound":
            return sound_names.get(value, value) if value else self._("none")
        if kind == "list":
            return ", ".join(value)
        return str(value) if value not in (None, "") else self._("none")

    def form_values(self) -> dict:
        out: dict = {}
        for name, kind, *_rest in self.fields_spec:
            raw = self.field(name)
            if kind == "bool":
                value: Any = self.checked(name)
            elif kind == "int":
                value = int_or_raw(raw)
            elif kind == "sound":
                value = raw or None
            elif kind == "list":
                value = [x.strip() for x in raw.replace(";", ",").split(",") if x.strip()]
            else:
                value = raw.strip()
            _set(out, name, value)
        return out

    async def post(self) -> None:
        data = self.form_values()
        svc = self.service(PbxSettingsService)
        try:
            if self.part == "call_handling":
                await svc.update_call_handling(data)
            elif self.part == "security":
                await svc.update_security(data)
            else:
                await svc.update_section(self.part, data)
        except RuleError as exc:
            current = (await svc.get())[self.part]
            for k, v in data.items():
                current[k] = {**current[k], **v} if isinstance(v, dict) and isinstance(current.get(k), dict) else v
            await self.page(current, self.rule_errors(exc), 422)
            return
        self.redirect(f"{self.request.path}?done=saved")


route("/telephony/settings", access="tenant", section="call_handling", name="tel_settings")(SettingsPage)


@route("/telephony/security", access="tenant", section="restrictions", name="tel_security")
class SecurityPage(SettingsPage):
    section = "tel_security"
    rights_key = "restrictions"
    part = "security"
    fields_spec = SECURITY_FIELDS
    defaults = SECURITY_DEFAULTS
    title = N_("PBX security")
    intro = N_("Limits that protect the PBX from costly or unwanted calls.")

    def form_values(self) -> dict:
        out = super().form_values()
        out["allowed_directions"] = self.fields("allowed_directions") if self.field("directions_mode") == "own" else None
        return out


class MoreSettingsPage(SettingsPage):
    """One tab of "Voice mail, fax, recording" (rights section ``pbx_settings``)."""

    section = "tel_more_settings"
    rights_key = "pbx_settings"
    tabs = MORE_TABS


@route("/telephony/settings/voicemail", access="tenant", section="pbx_settings", name="tel_settings_voicemail")
class VoicemailPage(MoreSettingsPage):
    part = tab = "voicemail"
    fields_spec = VOICEMAIL_FIELDS
    defaults = VOICEMAIL_DEFAULTS
    title = N_("Voice mail")
    intro = N_("How callers leave messages and where the messages go.")

    def default_text(self, f: tuple, sound_names: dict) -> str:
        if f[0] == "default_email":
            return self._("the registration e-mail")
        return super().default_text(f, sound_names)


@route("/telephony/settings/fax", access="tenant", section="pbx_settings", name="tel_settings_fax")
class FaxPage(MoreSettingsPage):
    part = tab = "fax"
    fields_spec = FAX_FIELDS
    defaults = FAX_DEFAULTS
    title = N_("Fax")
    intro = N_("How the PBX receives faxes and where they go.")


@route("/telephony/settings/recording", access="tenant", section="pbx_settings", name="tel_settings_recording")
class RecordingPage(MoreSettingsPage):
    part = tab = "recording"
    fields_spec = RECORDING_FIELDS
    defaults = RECORDING_DEFAULTS
    title = N_("Call recording")
    intro = N_("How call recordings are made and how long they are kept.")


@route("/telephony/settings/prompts", access="tenant", section="pbx_settings", name="tel_settings_prompts")
class PromptsPage(MoreSettingsPage):
    """The PBX's own recordings of what callers hear: one sound file per phrase, or the platform's
    prompt (PRODUCT.md §5 "Prompts"; the API is ``/api/v1/telephony/settings/prompts``)."""

    part = tab = "prompts"
    defaults: dict = {}
    title = N_("Phrases callers hear")
    intro = N_("Replace any phrase of the platform's voice with your own sound file: pick one of the PBX's files for the phrase; leave it empty for the platform's prompt in the PBX's language.")
    none_label = N_("The platform's prompt")

    @property
    def fields_spec(self) -> tuple:  # one sound field per phrase, titled with its text in the user's language
        lang = self.lang if self.lang in ("ru", "en") else "en"
        return tuple((pid, "sound", PHRASES[pid][lang], pid, ()) for pid in PHRASES)

    def default_text(self, f: tuple, sound_names: dict) -> str:
        return self._("the platform's prompt")

    def rule_errors(self, exc: RuleError, more=()) -> dict[str, str]:
        return {k.removeprefix("prompts."): v for k, v in super().rule_errors(exc, more).items()}


@route("/telephony/sip/display", access="tenant", section="sip", name="tel_sip_display")
class SipDisplayPage(SettingsPage):
    """What an internal call shows on the called phone (D §4.6.1.2): a tab of the SIP pages."""

    section = "tel_sip"
    rights_key = "sip"
    part = "sip_display"
    fields_spec = SIP_DISPLAY_FIELDS
    defaults = SIP_DISPLAY_DEFAULTS
    title = N_("What internal calls show")
    intro = N_("The name and number a colleague's phone shows when an employee calls an extension.")

    @property
    def tabs(self) -> tuple:  # the SIP area's tabs (imported late: that module registers its own pages)
        from web.telephony.sip.pages import TABS

        return TABS

    tab = "display"
