"""Edition quotas for the services that create things (PRODUCT.md §2: "creating beyond a quota is
refused with a clear message").

    from esl_control.model.quotas import check_quota
    await check_quota(db, pbx_id, "employees")            # before inserting an employee
    await check_quota(db, pbx_id, "numbers", adding=3)    # before connecting three numbers
    await check_quota(db, pbx_id, "ivr_levels", value=4)  # a value quota: the wanted depth

Raises :class:`QuotaExceeded` — an ``AppError`` (409, code ``quota_exceeded``) whose message names
the edition and the limit in the user's language, e.g. «Версия «Базовая» позволяет не больше 10
сотрудников.» — so a Tornado handler needs no extra code. Outside handlers read ``.problem``
(:class:`storage.repos.tenants.QuotaProblem`) or ``str(exc)`` (English).

Counted kinds and what is counted (documents of the PBX): employees → ``employees``, numbers →
``numbers`` (platform DIDs, passive and active SIP numbers alike), groups → ``ring_groups``,
schemes → ``schemes``. Value kinds (pass ``value=``): ``ivr_levels`` (the deepest voice menu of
a scheme, :func:`menu_depth`), ``conference_seats`` (the seats of one room), ``storage_mb`` (the
PBX's uploaded sound files after the upload, :func:`storage_after`). No edition or a ``None``
quota: unlimited.

The telephony services call :func:`check_creation` before their first write (after the input is
validated, so a bad form still gets its field messages first). Two creations racing past the
check at the same moment can exceed a counted quota by one; the quota is a commercial limit, not
a safety one, so no lock is taken for it.

Feature flags (PRODUCT.md §2, D §4.6.3.3) are checked the same way: ``await require_feature(db,
pbx_id, "fax", MESSAGE)`` raises :class:`FeatureMissing` (409 ``edition_feature``, the code the
access area uses for its roles and API packages) with the caller's message id when the PBX's
edition does not include the flag; a PBX without an edition (or without a stored document) has
every feature. :func:`pbx_has_feature` answers without raising.
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

from pult.errors import AppError
from pult.i18n import N_
from storage.repos.base import Scope, ScopedRepo
from storage.repos.tenants import QUOTA_KINDS, QuotaProblem, get_edition, get_pbx, has_feature, quota_problem

COUNTED = {"employees": "employees", "numbers": "numbers", "groups": "ring_groups", "schemes": "schemes"}

MESSAGES = {
    "employees": N_("Edition «%(edition)s» allows at most %(limit)s employees."),
    "numbers": N_("Edition «%(edition)s» allows at most %(limit)s numbers."),
    "groups": N_("Edition «%(edition)s» allows at most %(limit)s groups."),
    "schemes": N_("Edition «%(edition)s» allows at most %(limit)s schemes."),
    "ivr_levels": N_("Edition «%(edition)s» allows at most %(limit)s voice menu levels."),
    "conference_seats": N_("Edition «%(edition)s» allows at most %(limit)s conference participants."),
    "storage_mb": N_("Edition «%(edition)s» allows at most %(limit)s MB of storage."),
}


#: what the cabinet calls each edition quota and feature (the operator console, the account and
#: finance pages, the action log's changes)
QUOTA_LABELS = {"employees": N_("Employees"), "numbers": N_("Numbers"), "groups": N_("Groups"),
                "schemes": N_("Schemes"), "ivr_levels": N_("Voice menu levels"),
                "conference_seats": N_("Conference participants"), "storage_mb": N_("Storage, MB")}
FEATURE_LABELS = {"call_recording": N_("Call recording"), "fax": N_("Faxes"), "voice_menu": N_("Voice menu"),
                  "conferences": N_("Conferences"), "callback": N_("Callback"), "analytics": N_("Analytics"),
                  "api": N_("REST API"), "ldap": N_("LDAP synchronisation"),
                  "additional_roles": N_("Additional roles"), "widgets": N_("Site widgets")}

class QuotaExceeded(AppError):
    """Creation refused by the edition's quota (409 ``quota_exceeded``)."""

    def __init__(self, problem: QuotaProblem):
        super().__init__(409, "quota_exceeded", MESSAGES[problem.kind], edition=problem.edition,
                         limit=problem.limit)
        self.problem = problem

    def __str__(self) -> str:
        return MESSAGES[self.problem.kind] % {"edition": self.problem.edition, "limit": self.problem.limit}


class _Counter(ScopedRepo):
    """A bare PBX-scoped view of any collection (counting only)."""

    def __init__(self, db, collection: str, pbx_id: int):
        self.collection = collection  # type: ignore[misc]
        super().__init__(db, Scope.pbx(pbx_id))


async def usage(db, pbx_id: int, kind: str) -> int:
    """How many ``kind`` objects the PBX has now (counted kinds only)."""
    return await _Counter(db, COUNTED[kind], pbx_id).count({})


async def check_quota(db, pbx: int | dict, kind: str, *, adding: int = 1, value: int | None = None) -> None:
    """Raise :class:`QuotaExceeded` when the PBX's edition does not allow it (see the module doc)."""
    if kind not in QUOTA_KINDS:
        raise ValueError(f"unknown quota kind {kind!r}: expected one of {QUOTA_KINDS}")
    doc = pbx if isinstance(pbx, dict) else await get_pbx(db, pbx)
    if doc is None:
        raise AppError(404, "not_found", N_("No such PBX."))
    edition = await get_edition(db, doc.get("edition"))
    if kind in COUNTED:
        problem = quota_problem(edition, kind, await usage(db, doc["pbx_id"], kind), adding)
    else:
        if value is None:
            raise ValueError(f"quota {kind!r} is a value quota: pass value=")
        problem = quota_problem(edition, kind, int(value), 0)
    if problem is not None:
        raise QuotaExceeded(problem)


async def check_creation(db, pbx_id: int, kind: str, *, adding: int = 1, value: int | None = None) -> None:
    """:func:`check_quota` for the telephony services: a PBX without a stored document (a service
    used before its PBX is registered, e.g. by tools and tests) has no edition, so no limit."""
    pbx = await get_pbx(db, pbx_id)
    if pbx is None or not pbx.get("edition"):
        return
    await check_quota(db, pbx, kind, adding=adding, value=value)


class FeatureMissing(AppError):
    """An action refused because the PBX's edition lacks a feature (409 ``edition_feature``)."""

    def __init__(self, flag: str, message: str):
        super().__init__(409, "edition_feature", message)
        self.flag = flag


async def pbx_has_feature(db, pbx_id: int, flag: str) -> bool:
    """Whether the PBX's edition includes feature ``flag``: a PBX with no stored document or no
    edition has every feature (like :func:`check_creation`); an unknown flag is a ValueError."""
    pbx = await get_pbx(db, pbx_id)
    code = (pbx or {}).get("edition")
    return has_feature(await get_edition(db, code) if code else None, flag)


async def require_feature(db, pbx_id: int, flag: str, message: str) -> None:
    """Raise :class:`FeatureMissing` with ``message`` (an ``N_`` message id saying what was refused
    and why) unless the PBX's edition includes ``flag``. Call it before the first write."""
    if not await pbx_has_feature(db, pbx_id, flag):
        raise FeatureMissing(flag, message)


def menu_depth(blocks: Iterable[Mapping[str, Any]]) -> int:
    """How many voice-menu levels a scheme tree has (0: no menu; a menu inside a menu item: 2).

    Walks the stored shape of ``esl_control.model.schemes.schemas`` (menus' ``children`` and ``rules``
    hold nested step lists)."""
    def depth(steps, level: int) -> int:
        deepest = level
        for step in steps or ():
            if not isinstance(step, Mapping) or step.get("kind") != "menu":
                continue
            inner = [c.get("steps") for c in (step.get("children") or {}).values() if isinstance(c, Mapping)]
            inner += [r.get("steps") for r in (step.get("rules") or {}).values() if isinstance(r, Mapping)]
            deepest = max([deepest, level + 1, *(depth(s, level + 1) for s in inner)])
        return deepest
    return max([0, *(depth(b.get("steps"), 0) for b in blocks or () if isinstance(b, Mapping))])


MB = 1024 * 1024


async def storage_after(db, pbx_id: int, adding_bytes: int) -> int:
    """The PBX's sound storage in whole MB (rounded up) once ``adding_bytes`` more are stored:
    the uploaded files' sizes (built-in melodies and converted variants are not counted)."""
    docs = await _Counter(db, "sound_files", pbx_id).find({"builtin": {"$ne": True}}, projection={"size": 1})
    used = sum(int(d.get("size") or 0) for d in docs)
    return math.ceil((used + max(0, int(adding_bytes))) / MB)


async def quota_overview(db, pbx: dict) -> list[dict]:
    """Each quota of the PBX's edition with its current use (the account panel shows it)."""
    edition = await get_edition(db, pbx.get("edition"))
    out = []
    for kind in QUOTA_KINDS:
        limit = ((edition or {}).get("quotas") or {}).get(kind)
        if kind in COUNTED:
            used = await usage(db, pbx["pbx_id"], kind)
        elif kind == "storage_mb":
            used = await storage_after(db, pbx["pbx_id"], 0)
        else:  # per-object values (menu depth of a scheme, seats of a room): no single figure
            used = None
        out.append({"kind": kind, "limit": limit, "used": used})
    return out
