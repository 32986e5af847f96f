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

from esl_control.model.common import Reference, _claim_is_live
from esl_control.routing.errors import RuleError
from storage.repos.base import Scope
from storage.repos.telephony import (ClientRules, ConferenceRooms, DayGroups, Employees, Extensions, Numbers,
                                     RingGroups, Schedules, Schemes, SipAccounts, SipDomains,
                                     SoundFiles, TelSettings, Trunks)

REPOS: dict[str, type] = {
    "day_group": DayGroups, "schedule": Schedules, "employee": Employees, "group": RingGroups,
    "room": ConferenceRooms, "sip_domain": SipDomains, "sip_account": SipAccounts, "number": Numbers,
    "scheme": Schemes, "sound": SoundFiles, "trunk": Trunks, "client_rule": ClientRules,
}

Refs = Callable[[Mapping[str, Any]], Iterable[tuple[str, str, str]]]

#: the repository of each referring type
REFERRER_REPOS: dict[str, type] = {
    "schedule": Schedules, "employee": Employees, "group": RingGroups, "sip_account": SipAccounts,
    "number": Numbers, "scheme": Schemes, "trunk": Trunks, "client_rule": ClientRules, "settings": TelSettings,
}

#: referring type -> (repository, refs function); each area's ``schemas.py`` adds its function
#: with :func:`referrer` (the package :mod:`esl_control.model` imports every area, so the table is
#: complete before any service runs)
REFERRERS: dict[str, tuple[type, Refs]] = {}


def referrer(kind: str) -> Callable[[Refs], Refs]:
    """Declare ``refs(doc)`` as the references of the documents of ``kind``."""
    def register(refs: Refs) -> Refs:
        REFERRERS[kind] = (REFERRER_REPOS[kind], refs)
        return refs
    return register


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
