"""Group input -> stored document (PRODUCT.md §4.3, inventory B §5, seed 000 §3.4).

Stored::

    {name, name_norm, extension, strategy, members: [
        {id, kind: "employee", employee_id, method: "card" | <contact method id>, priority,
         operator, supervisor} |
        {id, kind: "external", value, lines, schedule_id, priority}],
     ring_time, attempts, attempt_pause, pause_melody, ringback, announce_caller, caller_id,
     features: {transfer, conference, fax}, dtmf: {transfer, toggle, return, fax, record},
     queue: {mode: "pbx" | "special", enabled, max_wait, max_length, entry_sound, hold_sound,
             overflow_sound, announce_position, announce_ewt},
     exclusion, sticky_agent, auto_callback, record}

Defaults (PRODUCT.md §4.3): ring time ``None`` = the PBX default answer time (120 s); one attempt,
no pause; ringback ``None`` = the PBX default ("abba" from a menu); caller id = the caller's
number; DTMF ``##`` transfer, ``*`` toggle, ``#`` return / merge, ``0`` fax, ``#5`` record;
queue = the PBX defaults (``mode: pbx``; the special values start from PRODUCT's: on, 600 s,
no length limit). ``exclusion`` ``None`` = the PBX setting, else seconds for this group.
Sound fields hold sound file ids (built-in ids like ``builtin:abba`` included).

Contact-centre flags of an employee member (inventory B §4.1): ``operator`` (default on: handles
the calls distributed to the group) and ``supervisor`` (default off: operator rights plus
monitoring of the group's operators, so a supervisor is always an operator too —
``group.supervisor_operator``). External numbers are not people with a cabinet: they take
neither flag (``group.cc_flags_external``). A member stored before the flags existed reads as
an operator, not a supervisor.

:func:`clean_group` stops at the first broken rule (the services); :func:`group_errors` runs the
same rules and returns every broken one (the cabinet form shows them all; see
:class:`esl_control.model.employees.schemas.Rules`).
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from esl_control.model.common import (clean_bool, clean_choice, clean_extension, clean_id, clean_int,
                                      clean_list, clean_mapping, clean_name, clean_sound, field_error, new_id,
                                      norm_name)
from esl_control.model.employees.schemas import STRICT, Rules, clean_ring_time
from esl_control.model.pbx_settings.schemas import QUEUE_MAX_LENGTH, QUEUE_MAX_WAIT
from esl_control.model.references import referrer
from esl_control.routing.errors import RuleError
from esl_control.routing.numbers import parse_destination

STRATEGIES = ("sequential", "random", "priority", "simultaneous", "uniform")
CALLER_ID = ("caller", "line")
QUEUE_MODES = ("pbx", "special")
DTMF_DEFAULTS = {"transfer": "##", "toggle": "*", "return": "#", "fax": "0", "record": "#5"}
FEATURE_DEFAULTS = {"transfer": True, "conference": True, "fax": True}
MAX_MEMBERS = 200
MAX_LINES = 30
DTMF_PATTERN = r"[0-9*#]{1,4}"
_DTMF_CHARS = set("0123456789*#")
ATTEMPTS = (1, 10)
ATTEMPT_PAUSE = (0, 600)
EXCLUSION = (0, 86400)


def clean_dtmf(value: Any, field: str) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not 1 <= len(text) <= 4 or set(text) - _DTMF_CHARS:
        raise RuleError("dtmf.code", field=field, value=value)
    return text


def clean_queue(data: Any, field: str = "queue", rules: Rules = STRICT) -> dict:
    q = rules(clean_mapping, data, field) or {}
    return {"mode": rules(clean_choice, q.get("mode"), f"{field}.mode", QUEUE_MODES, default="pbx"),
            "enabled": rules(clean_bool, q.get("enabled"), f"{field}.enabled", default=True),
            "max_wait": rules(clean_int, q.get("max_wait"), f"{field}.max_wait", *QUEUE_MAX_WAIT, default=600),
            "max_length": rules(clean_int, q.get("max_length"), f"{field}.max_length", *QUEUE_MAX_LENGTH, default=0),
            "entry_sound": rules(clean_sound, q.get("entry_sound"), f"{field}.entry_sound"),
            "hold_sound": rules(clean_sound, q.get("hold_sound"), f"{field}.hold_sound"),
            "overflow_sound": rules(clean_sound, q.get("overflow_sound"), f"{field}.overflow_sound"),
            "announce_position": rules(clean_bool, q.get("announce_position"), f"{field}.announce_position",
                                       default=False),
            "announce_ewt": rules(clean_bool, q.get("announce_ewt"), f"{field}.announce_ewt", default=False)}


def clean_member(item: Any, index: int) -> dict:
    where = f"members[{index}]"
    item = clean_mapping(item, where, optional=False)
    kind = clean_choice(item.get("kind"), f"{where}.kind", ("employee", "external"))
    out: dict[str, Any] = {"id": clean_id(item.get("id"), f"{where}.id", optional=True) or new_id(),
                           "kind": kind,
                           "priority": clean_int(item.get("priority"), f"{where}.priority", 1, 99, default=1)}
    if kind == "employee":
        out["employee_id"] = clean_id(item.get("employee_id"), f"{where}.employee_id")
        out["method"] = clean_id(item.get("method"), f"{where}.method", optional=True) or "card"
        out["operator"] = clean_bool(item.get("operator"), f"{where}.operator", default=True)
        out["supervisor"] = clean_bool(item.get("supervisor"), f"{where}.supervisor", default=False)
        if out["supervisor"] and not out["operator"]:
            raise RuleError("group.supervisor_operator", field=f"{where}.operator")
    else:
        for flag in ("operator", "supervisor"):
            if item.get(flag):
                raise RuleError("group.cc_flags_external", field=f"{where}.{flag}")
        out["value"] = field_error(lambda v: parse_destination(str(v or "")).value, item.get("value"),
                                   f"{where}.value")
        out["lines"] = clean_int(item.get("lines"), f"{where}.lines", 1, MAX_LINES, default=1)
        out["schedule_id"] = clean_id(item.get("schedule_id"), f"{where}.schedule_id", optional=True)
    return out


def _clean_members(value: Any, rules: Rules) -> list[dict]:
    """Every row checked on its own (each broken row reports), then duplicates across rows."""
    raw = rules(clean_list, value, "members") or []
    if len(raw) > MAX_MEMBERS:
        rules.fail(RuleError("value.range", field="members", min=0, max=MAX_MEMBERS))
        return []
    members, seen = [], set()
    for i, item in enumerate(raw):
        m = rules(clean_member, item, i)
        if m is None:
            continue
        key = m.get("employee_id") or m.get("value")
        if key in seen:
            rules.fail(RuleError("group.member_duplicate", field=f"members[{i}]", value=key))
            continue
        seen.add(key)
        members.append(m)
    return members


def _clean_dtmf_codes(value: Any, rules: Rules) -> dict:
    dtmf_in = rules(clean_mapping, value, "dtmf") or {}
    dtmf = {k: rules(clean_dtmf, dtmf_in.get(k, v), f"dtmf.{k}") for k, v in DTMF_DEFAULTS.items()}
    used: dict[str, str] = {}
    for k, code in dtmf.items():
        if code is None:
            continue
        if code in used:
            rules.fail(RuleError("dtmf.duplicate", field=f"dtmf.{k}", value=code))
        used[code] = k
    return dtmf


def clean_group(data: Mapping[str, Any], rules: Rules = STRICT) -> dict:
    data = clean_mapping(data, "body", optional=False)
    name = rules(clean_name, data.get("name"))
    members = _clean_members(data.get("members"), rules)
    features_in = rules(clean_mapping, data.get("features"), "features") or {}
    features = {k: rules(clean_bool, features_in.get(k), f"features.{k}", default=v)
                for k, v in FEATURE_DEFAULTS.items()}
    dtmf = _clean_dtmf_codes(data.get("dtmf"), rules)
    exclusion = data.get("exclusion")
    return {
        "name": name, "name_norm": norm_name(name or ""),
        "extension": rules(clean_extension, data.get("extension")),
        "strategy": rules(clean_choice, data.get("strategy"), "strategy", STRATEGIES, default="sequential"),
        "members": members,
        "ring_time": rules(clean_ring_time, data.get("ring_time")),
        "attempts": rules(clean_int, data.get("attempts"), "attempts", *ATTEMPTS, default=1),
        "attempt_pause": rules(clean_int, data.get("attempt_pause"), "attempt_pause", *ATTEMPT_PAUSE, default=0),
        "pause_melody": rules(clean_sound, data.get("pause_melody"), "pause_melody"),
        "ringback": rules(clean_sound, data.get("ringback"), "ringback"),
        "announce_caller": rules(clean_bool, data.get("announce_caller"), "announce_caller", default=False),
        "caller_id": rules(clean_choice, data.get("caller_id"), "caller_id", CALLER_ID, default="caller"),
        "features": features, "dtmf": dtmf,
        "queue": clean_queue(data.get("queue"), rules=rules),
        "exclusion": None if exclusion is None else rules(clean_int, exclusion, "exclusion", *EXCLUSION),
        "sticky_agent": rules(clean_bool, data.get("sticky_agent"), "sticky_agent", default=False),
        "auto_callback": rules(clean_bool, data.get("auto_callback"), "auto_callback", default=False),
        "record": rules(clean_bool, data.get("record"), "record", default=False),
    }


def group_errors(data: Any) -> list[RuleError]:
    """Every rule ``data`` breaks (empty: :func:`clean_group` accepts it), in the service's order."""
    return Rules(strict=False).collect(clean_group, data)


def sounds_of_group(doc: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    for f in ("pause_melody", "ringback"):
        if doc.get(f):
            yield doc[f], f
    for f in ("entry_sound", "hold_sound", "overflow_sound"):
        if doc.get("queue", {}).get(f):
            yield doc["queue"][f], f"queue.{f}"


@referrer("group")
def refs_of_group(doc: Mapping[str, Any]) -> Iterable[tuple[str, str, str]]:
    for m in doc.get("members", ()):
        if m.get("employee_id"):
            yield ("employee", m["employee_id"], "members")
        if m.get("schedule_id"):
            yield ("schedule", m["schedule_id"], "members")
    for sid, field in sounds_of_group(doc):
        yield ("sound", sid, field)
