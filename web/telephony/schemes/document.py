"""The OpenAPI document of a scheme's tree (``blocks`` → ``steps`` → menus), stated level by level
from the rules of :mod:`esl_control.model.schemes.schemas` — which stay the judge and answer with
their own messages; where they take more (a menu's items as a list, a rule's ``null`` body, spaces
around ids) the document states the plain form.

- A step is one of its kinds (``oneOf`` with a discriminator on ``kind``), each with its own fields.
- A step list holds exactly one final step (``contains`` … ``maxContains: 1``), and it is the last
  one (``x-pult-last``: "last" is not a JSON Schema notion): ``hangup`` in a time block,
  ``hangup`` or ``return_to_main`` in a nested block (a menu item or a processing rule), which may
  also be empty (it then becomes ``[hangup]``).
- Menus nest at most :data:`MAX_MENU_LEVEL` deep: the schemas are per level (``SchemeSteps1`` …),
  so a level-4 menu has no menu inside and no processing rules.
- The last time block has no schedule (``x-pult-last`` again; earlier blocks may have none yet).

A reference to a stored object (a schedule, a sound file, a group, employee, trunk or extension)
that names nothing in the PBX is a 409 conflict, as is a menu or fax step the PBX's edition does
not include, or a menu deeper than its quota.
"""
from __future__ import annotations

from typing import Any

from esl_control.model.common import ID_MAX, NAME_MAX
from esl_control.model.schemes.schemas import FINAL_KINDS, MAX_BLOCKS, MAX_MENU_LEVEL
from esl_control.routing.lists import MAX_RING_TIME
from web.api_base import LAST_EXTENSION, component
from web.api_fields import ADDRESS_PATTERN, EMAILS_PATTERN, EXTENSION_PATTERN, PHONE_PATTERN, SIP_URI_PATTERN, VISIBLE_PATTERN

#: at most this many steps in one list and items in one menu (the rules' limit is 500 steps in all)
LIST_MAX = 20
MENU_ITEMS_MAX = 12

_REF = {"type": "string", "minLength": 1, "maxLength": ID_MAX, "pattern": VISIBLE_PATTERN}
#: an optional reference (a schedule, a sound file): none, or the id of a stored one (another: 409)
_OPT_REF = {"anyOf": [{"type": "null"}, {"const": ""}, _REF]}
_STEP_ID = {**_OPT_REF, "description": "The step's id (kept; a new step gets one)"}
_EMAILS = {"anyOf": [{"type": "null"},
                     {"type": "string", "pattern": EMAILS_PATTERN, "maxLength": 254},
                     {"type": "array", "maxItems": 10,
                      "items": {"type": "string", "maxLength": 254, "pattern": ADDRESS_PATTERN}}],
           "description": "E-mail addresses: a text separated by ; or , or a list"}


def _kind(kind: str, title: str, **props: Any) -> dict:
    return {"type": "object", "title": title, "additionalProperties": False, "required": ["kind"],
            "properties": {"id": _STEP_ID, "kind": {"const": kind}, **props}}


_TARGETS = {
    "group": {"type": "object", "additionalProperties": False, "required": ["type", "id"],
              "properties": {"type": {"const": "group"}, "id": _REF}},
    "trunk": {"type": "object", "additionalProperties": False, "required": ["type", "id"],
              "properties": {"type": {"const": "trunk"}, "id": _REF}},
    "employee": {"type": "object", "additionalProperties": False, "required": ["type", "id"],
                 "properties": {"type": {"const": "employee"}, "id": _REF,
                                "method": {**_OPT_REF, "description": "card (default: as in the employee's "
                                                                      "card) or the id of one of its contact "
                                                                      "methods"}}},
    "external": {"type": "object", "additionalProperties": False, "required": ["type", "value"],
                 "properties": {"type": {"const": "external"},
                                "value": {"type": "string", "pattern": f"({PHONE_PATTERN})|({SIP_URI_PATTERN})",
                                          "description": "A phone number or SIP address"}}},
    "extension": {"type": "object", "additionalProperties": False, "required": ["type", "value"],
                  "properties": {"type": {"const": "extension"},
                                 "value": {"type": "string", "pattern": EXTENSION_PATTERN}}},
}
_RING_TIME = {"anyOf": [{"type": "null"}, {"type": "integer", "minimum": 0, "maximum": MAX_RING_TIME}],
              "description": "Seconds (0: until the caller hangs up; null: the PBX's default)"}
_QUEUE = {"type": "object", "additionalProperties": False,
          "properties": {"enabled": {"type": "boolean", "default": True},
                         "max_wait": {"type": "integer", "minimum": 0, "maximum": 86400, "default": 600}}}

GREETING = component("SchemeGreetingStep", _kind(
    "greeting", "Play a sound file", sound_id={**_OPT_REF, "description": "A sound file of the PBX (none: silence)"},
    wait_end={"type": "boolean", "default": False, "description": "Wait until it has played"}))
FORWARD = component("SchemeForwardStep", {"title": "Forward the call", "oneOf": [
    _kind("forward", "Forward to a group (its queue may be overridden)",
          target=component("SchemeTargetGroup", _TARGETS["group"]), ring_time=_RING_TIME,
          queue={"anyOf": [{"type": "null"}, _QUEUE], "description": "The group's queue for this step"}),
    _kind("forward", "Forward to an employee, trunk, number or extension (or not set yet)",
          target={"anyOf": [{"type": "null"}, *(component(f"SchemeTarget{t.capitalize()}", _TARGETS[t])
                                                for t in ("employee", "trunk", "external", "extension"))],
                  "description": "null: not set yet (skipped when a call comes)"},
          ring_time=_RING_TIME, queue={"type": "null"}),
]})
VOICEMAIL = component("SchemeVoicemailStep", _kind("voicemail", "Voice mail", emails=_EMAILS))
FAX = component("SchemeFaxStep", _kind("fax", "Receive a fax (the edition must include fax)", emails=_EMAILS))
HANGUP = component("SchemeHangupStep", _kind("hangup", "Hang up (ends a block)"))
RETURN = component("SchemeReturnToMainStep", _kind("return_to_main", "Back to the main menu (ends a nested block)"))


def _steps(level: int, nested: bool) -> dict:
    """The step list of a time block (level 0) or of a nested block at menu ``level``."""
    kinds = {"greeting": GREETING, "forward": FORWARD, "voicemail": VOICEMAIL, "fax": FAX, "hangup": HANGUP}
    if level + 1 <= MAX_MENU_LEVEL:
        kinds["menu"] = _menu(level + 1)
    if nested:
        kinds["return_to_main"] = RETURN
    finals = [k for k in FINAL_KINDS if k in kinds]
    ending = {"type": "array", "minItems": 1, "maxItems": LIST_MAX,
              "items": {"oneOf": list(kinds.values()),
                        "discriminator": {"propertyName": "kind",
                                          "mapping": {k: v["$ref"] for k, v in kinds.items()}}},
              "contains": {"type": "object", "required": ["kind"], "properties": {"kind": {"enum": finals}}},
              "minContains": 1, "maxContains": 1}
    if not nested:
        schema = {**ending, "description": "Steps in order, the last one hangup"}
        return component("SchemeSteps", schema)
    schema = {"anyOf": [{"type": "array", "maxItems": 0}, ending],
              "description": f"Steps in order, the last one {' or '.join(finals)} (empty: hang up)"}
    return component(f"SchemeSteps{level}", schema)


def _menu(level: int) -> dict:
    item = component(f"SchemeMenuItem{level}", {
        "type": "object", "additionalProperties": False,
        "properties": {"password": {"anyOf": [{"type": "null"}, {"type": "string", "pattern": "^([0-9]{1,10})?$"}],
                                    "description": "Digits the caller must enter first (none: no password)"},
                       "steps": _steps(level, nested=True)}})
    props: dict[str, Any] = {
        "children": {"type": "object", "minProperties": 1, "maxProperties": MENU_ITEMS_MAX,
                     "propertyNames": {"pattern": "^[0-9]{1,4}$"}, "additionalProperties": item,
                     "description": "The menu's items by the digits pressed (1-4 digits)"}}
    if level < MAX_MENU_LEVEL:
        props["rules"] = _rules(level)
    else:
        props["rules"] = {"anyOf": [{"type": "null"}, {"type": "object", "maxProperties": 0}],
                          "description": f"A level-{MAX_MENU_LEVEL} menu has no processing rules"}
    schema = _kind("menu", f"Voice menu, level {level} (the edition must include voice menus)", **props)
    schema["required"] = ["kind", "children"]
    return component(f"SchemeMenuStep{level}", schema)


def _rules(level: int) -> dict:
    schedule = {**_OPT_REF, "description": "Only while this schedule is in effect (none: at any time)"}
    steps = _steps(level, nested=True)

    def rule(**props: Any) -> dict:
        return {"type": "object", "additionalProperties": False, "properties": {**props, "schedule_id": schedule}}

    # "dial an extension": 1-5 digits at least, 3-5 at most, the first no larger (max defaults to 5)
    disa = {"anyOf": [
        rule(min_length={"type": "integer", "minimum": 1, "maximum": 5, "default": 2},
             max_length={"const": 5}),
        *({**rule(min_length={"type": "integer", "minimum": 1, "maximum": hi},
                  max_length={"const": hi}), "required": ["max_length"]} for hi in (3, 4))],
        "description": "The caller dials an extension: its shortest and longest length"}
    return component(f"SchemeMenuRules{level}", {
        "type": "object", "additionalProperties": False,
        "description": "Processing rules of the menu",
        "properties": {
            "disa": disa,
            "fax_detect": {**rule(emails=_EMAILS), "description": "Fax detection (the edition must include fax)"},
            "no_input": rule(timeout={"type": "integer", "minimum": 1, "maximum": 60, "default": 5}, steps=steps),
            "other_input": rule(steps=steps),
            "wrong_input": rule(count={"type": "integer", "minimum": 1, "maximum": 10, "default": 3}, steps=steps),
            "wrong_password": rule(count={"type": "integer", "minimum": 1, "maximum": 10, "default": 3}, steps=steps),
        }})


BLOCK = component("SchemeBlock", {
    "type": "object", "additionalProperties": False, "required": ["schedule_id", "steps"],
    "properties": {"schedule_id": {**_OPT_REF, "description": "The schedule of this time block; the last block has "
                                                              "none (\"at any other time\")"},
                   "steps": _steps(0, nested=False)}})

#: the ``blocks`` of a scheme: none (one block that hangs up), or at most MAX_BLOCKS, the last one without
#: a schedule
BLOCKS = {"type": "array", "maxItems": MAX_BLOCKS, "items": BLOCK, "default": [],
          "anyOf": [{"maxItems": 0},
                    {"contains": {"type": "object", "properties": {"schedule_id": {"anyOf": [{"type": "null"},
                                                                                             {"const": ""}]}}}}],
          "description": "Time blocks, the last one without a schedule (none: a block that hangs up)"}
#: ``x-pult-last`` of a scheme body
LAST = {"blocks": {"schedule_id": [None, ""]}, "steps": {"kind": list(FINAL_KINDS)}}
NAME = {"type": "string", "minLength": 1, "maxLength": NAME_MAX, "pattern": VISIBLE_PATTERN}
DESCRIPTION = {"anyOf": [{"type": "null"}, {"type": "string", "maxLength": 500}]}
__all__ = ["BLOCKS", "LAST", "LAST_EXTENSION", "NAME", "DESCRIPTION"]
