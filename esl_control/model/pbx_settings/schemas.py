"""PBX settings sections and their defaults (inventory A §4.4.2.2, §4.4.3; D §4.6.3.1; PRODUCT.md §4.3-4.5).

``call_handling``:
- ``default_ring_time`` 120 s (how long an employee rings when nothing else says);
- ``unavailable_action`` voicemail (default) | busy | extension, ``unavailable_extension`` "100",
  ``unavailable_message`` «Абонент не отвечает…» (``None`` = no message);
- ``menu_transfer_melody`` «abba» (ringback from a menu when the group has none),
  ``transfer_melody`` «Бетховен», ``password_prompt`` «Введите пароль»;
- ``exclude_seconds`` 0 = never exclude an operator who did not answer;
- ``queue`` defaults of every group: on, 600 s (0 = no limit), length 0 (= no limit), entry
  message «все операторы заняты», hold music «Сиртаки» looped, overflow message none;
- ``dial_extensions``: callers may dial extensions from a menu (on), lengths min 2 (1-5),
  max 5 (3-5);
- ``incoming_caller_id``: auto (SIP phones see the caller, ordinary phones the PBX line) |
  caller | line; ``adhoc_conference_limit`` 16; ``home_area_codes`` (local calls) 495, 499;
  ``default_fax_email``.

``call_handling`` also: ``announce_caller`` off (A §4.4.1.2: say the caller's number to the
employee before connecting), ``line_warnings`` off (A §4.4.1.2: when on, each number may name an
uploaded warning played before the connection, ``numbers.warning_sound``).

``security``: ``allowed_directions`` ``None`` = all (else a list), ``transfer_external`` on,
``ignore_callee_dtmf`` off, ``blf_pickup`` off.

``sip_display`` (D §4.6.1.2, what an internal call shows on the callee's phone; the FreeSWITCH
directory's caller id of each SIP user): ``name`` employee (the employee's name) | extension |
login, ``number`` extension | login. A SIP account without an employee shows its login.

``voicemail`` (PRODUCT.md §7, D §4.6.5.1): ``max_length`` 180 s (3 min; 10-600),
``default_email`` "" = the account's registration e-mail, ``duplicate_to_default`` off,
``delivery`` cabinet_attachment (default; "message as attachment") | cabinet | email_link |
email_only, ``prompt`` «Оставьте ваше сообщение после сигнала» (``None`` = the beep only; the
beep always follows).

``fax`` (PRODUCT.md §7, D §4.6.5.2): ``in_call`` on (``#0``/``0`` during a call), ``auto_detect``
on (CNG at any time; off also disables the scheme's fax detection rule), ``copy_to_employee``
off, ``delivery`` as voice mail (default cabinet_attachment). The fax e-mail is
``call_handling.default_fax_email`` ("" = the registration e-mail).

``prompts`` (PRODUCT.md §5 "Prompts"): the tenant's own recordings of the phrases callers hear,
``{phrase id: sound file id}`` (phrase ids of :data:`esl_control.prompts.PHRASES`; a phrase left
out is said by the platform's prompt set; ``null`` in a change removes the replacement). Each
sound file must exist in the PBX (or be a built-in), and cannot be deleted while it replaces a
phrase.

``recording`` (PRODUCT.md §8): ``retention_days`` 365 (1-3650), ``channels`` mono | per_party,
``storage`` cabinet | cabinet_email | email_only.
"""
from __future__ import annotations

import copy
from typing import Any, Mapping

from esl_control.model.common import (DIAL_LONGEST_MIN, EXTENSION_MAX_DIGITS, EXTENSION_MIN_DIGITS, clean_bool,
                                      clean_choice, clean_emails, clean_extension, clean_int, clean_list,
                                      clean_mapping, clean_sound, dial_lengths_ok, field_error)
from esl_control.model.references import referrer
from esl_control.prompts import PHRASES
from esl_control.routing.directions import DEFAULT_HOME_AREA_CODES, parse_directions, validate_area_codes
from esl_control.routing.errors import RuleError

CALL_HANDLING_DEFAULTS: dict[str, Any] = {
    "default_ring_time": 120,
    "unavailable_action": "voicemail",
    "unavailable_extension": "100",
    "unavailable_message": "builtin:unavailable",
    "menu_transfer_melody": "builtin:abba",
    "transfer_melody": "builtin:beethoven",
    "password_prompt": "builtin:enter_password",
    "exclude_seconds": 0,
    "queue": {"enabled": True, "max_wait": 600, "max_length": 0, "entry_sound": "builtin:all_busy",
              "hold_sound": "builtin:sirtaki", "overflow_sound": None},
    "dial_extensions": {"enabled": True, "min_length": 2, "max_length": 5},
    "incoming_caller_id": "auto",
    "adhoc_conference_limit": 16,
    "home_area_codes": list(DEFAULT_HOME_AREA_CODES),
    "default_fax_email": "",
    "announce_caller": False,
    "line_warnings": False,
}
SECURITY_DEFAULTS: dict[str, Any] = {"allowed_directions": None, "transfer_external": True,
                                     "ignore_callee_dtmf": False, "blf_pickup": False}
LISTS_DEFAULTS: dict[str, Any] = {"mode": None, "unknown_allowed": True}
SIP_ACCESS_DEFAULTS: dict[str, Any] = {"mode": "free", "entries": []}
SIP_DISPLAY_DEFAULTS: dict[str, Any] = {"name": "employee", "number": "extension"}
DELIVERY = ("cabinet_attachment", "cabinet", "email_link", "email_only")
VOICEMAIL_DEFAULTS: dict[str, Any] = {"max_length": 180, "default_email": "", "duplicate_to_default": False,
                                      "delivery": "cabinet_attachment", "prompt": "builtin:voicemail_warning"}
VOICEMAIL_MAX_LENGTH = (10, 600)
# the choices and ranges of the sections (the API's request models document these very values)
UNAVAILABLE_ACTIONS = ("voicemail", "busy", "extension")
INCOMING_CALLER_IDS = ("auto", "caller", "line")
SIP_DISPLAY_NAMES = ("employee", "extension", "login")
SIP_DISPLAY_NUMBERS = ("extension", "login")
RECORDING_CHANNELS = ("mono", "per_party")
RECORDING_STORAGE = ("cabinet", "cabinet_email", "email_only")
DEFAULT_RING_TIME = (5, 3600)
EXCLUDE_SECONDS = (0, 86400)
QUEUE_MAX_WAIT = (0, 86400)
QUEUE_MAX_LENGTH = (0, 1000)
ADHOC_CONFERENCE_LIMIT = (2, 32)
RETENTION_DAYS = (1, 3650)
FAX_DEFAULTS: dict[str, Any] = {"in_call": True, "auto_detect": True, "copy_to_employee": False,
                                "delivery": "cabinet_attachment"}
RECORDING_DEFAULTS: dict[str, Any] = {"retention_days": 365, "channels": "mono", "storage": "cabinet"}
SOUND_FIELDS = ("unavailable_message", "menu_transfer_melody", "transfer_melody", "password_prompt")


def defaults() -> dict:
    return {"call_handling": copy.deepcopy(CALL_HANDLING_DEFAULTS), "security": copy.deepcopy(SECURITY_DEFAULTS),
            "lists": copy.deepcopy(LISTS_DEFAULTS), "sip_access": copy.deepcopy(SIP_ACCESS_DEFAULTS),
            "sip_display": copy.deepcopy(SIP_DISPLAY_DEFAULTS), "voicemail": copy.deepcopy(VOICEMAIL_DEFAULTS),
            "fax": copy.deepcopy(FAX_DEFAULTS), "recording": copy.deepcopy(RECORDING_DEFAULTS),
            "prompts": {}, "trunk_masks": []}


def merged(current: Mapping[str, Any] | None, change: Mapping[str, Any]) -> dict:
    """``change`` laid over ``current`` one level deep (nested sections merge key by key)."""
    out = copy.deepcopy(dict(current or {}))
    for k, v in clean_mapping(change, "body", optional=False).items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = {**out[k], **v}
        else:
            out[k] = v
    return out


def clean_call_handling(data: Mapping[str, Any]) -> dict:
    d = merged(CALL_HANDLING_DEFAULTS, data)
    q = clean_mapping(d["queue"], "queue", optional=False)
    de = clean_mapping(d["dial_extensions"], "dial_extensions", optional=False)
    lo = clean_int(de.get("min_length"), "dial_extensions.min_length", EXTENSION_MIN_DIGITS, EXTENSION_MAX_DIGITS)
    hi = clean_int(de.get("max_length"), "dial_extensions.max_length", DIAL_LONGEST_MIN, EXTENSION_MAX_DIGITS)
    if not dial_lengths_ok(lo, hi):
        raise RuleError("value.range", field="dial_extensions.min_length", min=EXTENSION_MIN_DIGITS, max=hi)
    action = clean_choice(d["unavailable_action"], "unavailable_action", UNAVAILABLE_ACTIONS)
    emails = clean_emails(d.get("default_fax_email"), "default_fax_email")
    return {
        "default_ring_time": clean_int(d["default_ring_time"], "default_ring_time", *DEFAULT_RING_TIME),
        "unavailable_action": action,
        "unavailable_extension": clean_extension(d["unavailable_extension"], "unavailable_extension"),
        **{f: clean_sound(d[f], f) for f in SOUND_FIELDS},
        "exclude_seconds": clean_int(d["exclude_seconds"], "exclude_seconds", *EXCLUDE_SECONDS),
        "queue": {"enabled": clean_bool(q.get("enabled"), "queue.enabled"),
                  "max_wait": clean_int(q.get("max_wait"), "queue.max_wait", *QUEUE_MAX_WAIT),
                  "max_length": clean_int(q.get("max_length"), "queue.max_length", *QUEUE_MAX_LENGTH),
                  "entry_sound": clean_sound(q.get("entry_sound"), "queue.entry_sound"),
                  "hold_sound": clean_sound(q.get("hold_sound"), "queue.hold_sound"),
                  "overflow_sound": clean_sound(q.get("overflow_sound"), "queue.overflow_sound")},
        "dial_extensions": {"enabled": clean_bool(de.get("enabled"), "dial_extensions.enabled"),
                            "min_length": lo, "max_length": hi},
        "incoming_caller_id": clean_choice(d["incoming_caller_id"], "incoming_caller_id", INCOMING_CALLER_IDS),
        "adhoc_conference_limit": clean_int(d["adhoc_conference_limit"], "adhoc_conference_limit", *ADHOC_CONFERENCE_LIMIT),
        "home_area_codes": list(field_error(validate_area_codes, clean_list(d["home_area_codes"], "home_area_codes"),
                                            "home_area_codes")),
        "default_fax_email": ", ".join(emails),
        "announce_caller": clean_bool(d["announce_caller"], "announce_caller"),
        "line_warnings": clean_bool(d["line_warnings"], "line_warnings"),
    }


def clean_security(data: Mapping[str, Any]) -> dict:
    d = merged(SECURITY_DEFAULTS, data)
    directions = d["allowed_directions"]
    if directions is not None:
        try:
            directions = sorted(x.value for x in parse_directions(clean_list(directions, "allowed_directions")))
        except RuleError as exc:  # the rule names its own form's field ("directions")
            exc.field = "allowed_directions"
            raise
    return {"allowed_directions": directions,
            "transfer_external": clean_bool(d["transfer_external"], "transfer_external"),
            "ignore_callee_dtmf": clean_bool(d["ignore_callee_dtmf"], "ignore_callee_dtmf"),
            "blf_pickup": clean_bool(d["blf_pickup"], "blf_pickup")}


def clean_sip_display(data: Mapping[str, Any]) -> dict:
    d = merged(SIP_DISPLAY_DEFAULTS, data)
    return {"name": clean_choice(d["name"], "name", SIP_DISPLAY_NAMES),
            "number": clean_choice(d["number"], "number", SIP_DISPLAY_NUMBERS)}


def clean_voicemail(data: Mapping[str, Any]) -> dict:
    d = merged(VOICEMAIL_DEFAULTS, data)
    return {"max_length": clean_int(d["max_length"], "max_length", *VOICEMAIL_MAX_LENGTH),
            "default_email": ", ".join(clean_emails(d["default_email"], "default_email")),
            "duplicate_to_default": clean_bool(d["duplicate_to_default"], "duplicate_to_default"),
            "delivery": clean_choice(d["delivery"], "delivery", DELIVERY),
            "prompt": clean_sound(d["prompt"], "prompt")}


def clean_fax(data: Mapping[str, Any]) -> dict:
    d = merged(FAX_DEFAULTS, data)
    return {"in_call": clean_bool(d["in_call"], "in_call"), "auto_detect": clean_bool(d["auto_detect"], "auto_detect"),
            "copy_to_employee": clean_bool(d["copy_to_employee"], "copy_to_employee"),
            "delivery": clean_choice(d["delivery"], "delivery", DELIVERY)}


def clean_recording(data: Mapping[str, Any]) -> dict:
    d = merged(RECORDING_DEFAULTS, data)
    return {"retention_days": clean_int(d["retention_days"], "retention_days", *RETENTION_DAYS),
            "channels": clean_choice(d["channels"], "channels", RECORDING_CHANNELS),
            "storage": clean_choice(d["storage"], "storage", RECORDING_STORAGE)}


def clean_prompts(data: Mapping[str, Any]) -> dict:
    """``{phrase id: sound file id}``; ``null`` drops a phrase's replacement."""
    out = {}
    for phrase_id, sound_id in clean_mapping(data, "prompts", optional=False).items():
        if phrase_id not in PHRASES:
            raise RuleError("prompt.unknown", field=f"prompts.{phrase_id}", phrase=str(phrase_id)[:64])
        sound = clean_sound(sound_id, f"prompts.{phrase_id}")
        if sound is not None:
            out[phrase_id] = sound
    return dict(sorted(out.items()))


SECTION_CLEANERS = {"call_handling": clean_call_handling, "security": clean_security, "sip_display": clean_sip_display,
                    "voicemail": clean_voicemail, "fax": clean_fax, "recording": clean_recording,
                    "prompts": clean_prompts}


@referrer("settings")
def refs_of_settings(doc: Mapping[str, Any]):
    ch = doc.get("call_handling") or {}
    if ch.get("unavailable_action") == "extension" and ch.get("unavailable_extension"):
        yield ("extension", ch["unavailable_extension"], "call_handling.unavailable_extension")
    for f in SOUND_FIELDS:
        if ch.get(f):
            yield ("sound", ch[f], f"call_handling.{f}")
    for f in ("entry_sound", "hold_sound", "overflow_sound"):
        if (ch.get("queue") or {}).get(f):
            yield ("sound", ch["queue"][f], f"call_handling.queue.{f}")
    if (doc.get("voicemail") or {}).get("prompt"):
        yield ("sound", doc["voicemail"]["prompt"], "voicemail.prompt")
    for phrase_id, sound_id in (doc.get("prompts") or {}).items():
        if sound_id:
            yield ("sound", sound_id, f"prompts.{phrase_id}")
    for m in doc.get("trunk_masks") or ():
        yield ("trunk", m["trunk_id"], "trunk_masks")
