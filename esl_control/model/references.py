"""Who refers to what, computed from the documents themselves.

Each referring area declares a pure function ``refs(doc) -> [(type, id, field), ...]`` in its
``schemas.py``; the same functions serve two checks, so they can never disagree:

- :func:`find_references` — before a delete: every object of the PBX that refers to
  ``(type, id)``, as :class:`Reference` (type, id, name, field);
- :func:`check_refs_exist` — before a create/update: every id a document refers to exists in
  this PBX (built-in sound files count as existing everywhere).

Extensions are referred to by value (``("extension", "201", field)``: a scheme's forward to an
extension, the "if unavailable: transfer to extension" setting); one exists while an employee,
group or room holds its claim, and its owner cannot be deleted or renumbered while referred to.

A PBX holds tens to a few hundred configuration objects, so scanning the referring collections
of one PBX is cheap and needs no reverse index to keep in sync.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

from esl_control.routing.errors import RuleError
from storage.repos.base import Scope
from storage.repos.telephony import (ClientRules, ConferenceRooms, DayGroups, Employees, Extensions, Numbers,
                                     RingGroups, Schedules, Schemes, SipAccounts, SipDomains,
                                     SoundFiles, TelSettings, Trunks)
from esl_control.model.calendars.schemas import refs_of_schedule
from esl_control.model.common import Reference
from esl_control.model.employees.schemas import refs_of_employee
from esl_control.model.groups.schemas import refs_of_group
from esl_control.model.lists.schemas import refs_of_client_rule
from esl_control.model.numbers.schemas import refs_of_number
from esl_control.model.pbx_settings.schemas import refs_of_settings
from esl_control.model.schemes.schemas import refs_of_scheme
from esl_control.model.sip.schemas import refs_of_sip_account
from esl_control.model.trunks.schemas import refs_of_trunk

REPOS: dict[str, type] = {
    "day_group": DayGroups, "schedule": Schedules, "employee": Employees, "group": RingGroups,
    "room": ConferenceRooms, "sip_domain": SipDomains, "sip_account": SipAccounts, "number": Numbers,
    "scheme": Schemes, "sound": SoundFiles, "trunk": Trunks, "client_rule": ClientRules,
}

Refs = Callable[[Mapping[str, Any]], Iterable[tuple[str, str, str]]]

#: referring type -> (repository, refs function)
REFERRERS: dict[str, tuple[type, Refs]] = {
    "schedule": (Schedules, refs_of_schedule),
    "employee": (Employees, refs_of_employee),
    "group": (RingGroups, refs_of_group),
    "sip_account": (SipAccounts, refs_of_sip_account),
    "number": (Numbers, refs_of_number),
    "scheme": (Schemes, refs_of_scheme),
    "trunk": (Trunks, refs_of_trunk),
    "client_rule": (ClientRules, refs_of_client_rule),
    "settings": (TelSettings, refs_of_settings),
}

#: which referring types can point at each type (saves scanning collections that never do)
_SAMPLE_FIELDS = {
    "day_group": {"schedule"}, "schedule": {"employee", "group", "scheme"},
    "sound": {"group", "scheme", "settings", "number"}, "employee": {"group", "scheme", "client_rule", "sip_account"},
    "group": {"scheme", "client_rule"}, "sip_account": {"employee", "sip_account"},
    "sip_domain": {"sip_account", "number"}, "number": {"employee", "trunk"}, "scheme": {"number", "trunk"},
    "trunk": {"scheme", "employee", "settings"}, "extension": {"scheme", "settings"},
}


def _name(kind: str, doc: Mapping[str, Any], field: str) -> str:
    if kind == "settings":
        return field.split(".")[0]
    if kind == "client_rule":
        return doc.get("value", "")
    if kind == "sip_account":
        return f"{doc.get('login')}@{doc.get('domain')}"
    return str(doc.get("name") or doc.get("number") or doc.get("_id"))


async def _live_extension(db, scope: Scope, extension: str):
    from esl_control.model.common import _claim_is_live

    claim = await Extensions(db, scope).find_one({"extension": extension})
    return None if claim is None else await _claim_is_live(db, scope, claim)


async def find_references(db, scope: Scope, type: str, id: str) -> list[Reference]:
    """Every object of this scope that refers to ``(type, id)`` (self-references excluded)."""
    out: list[Reference] = []
    for kind in sorted(_SAMPLE_FIELDS.get(type, REFERRERS.keys())):
        repo_cls, refs = REFERRERS[kind]
        for doc in await repo_cls(db, scope).find():
            if kind == type and doc["_id"] == id:
                continue
            fields = [f for (t, i, f) in refs(doc) if t == type and i == id]
            if fields:
                out.append(Reference(kind, str(doc["_id"]), _name(kind, doc, fields[0]), fields[0]))
    return out


async def check_refs_exist(db, scope: Scope, refs: Iterable[tuple[str, str, str]]) -> None:
    """Refuse (``ref.unknown`` on the field) an id that is not an object of this PBX."""
    wanted: dict[str, dict[str, str]] = {}
    for t, i, f in refs:
        wanted.setdefault(t, {}).setdefault(i, f)
    for t, ids in wanted.items():
        if t == "extension":
            for ext, f in ids.items():
                if await _live_extension(db, scope, ext) is None:
                    raise RuleError("extension.unknown", field=f, extension=ext)
            continue
        found = {d["_id"] for d in await REPOS[t](db, scope).find({"_id": {"$in": list(ids)}},
                                                                   projection={"_id": 1})}
        if t == "sound":
            found |= {d["_id"] for d in await SoundFiles(db, Scope.platform()).find(
                {"_id": {"$in": list(ids)}, "builtin": True}, projection={"_id": 1})}
        for i, f in ids.items():
            if i not in found:
                raise RuleError("ref.unknown", field=f, id=i)
