"""One LDAP sync: the whole change set is computed from a complete read, then applied.

:func:`compute_plan` is pure: directory entries + the PBX's employees + the policy -> creates,
updates, deactivations and incidents. The rules (PRODUCT.md §11, inventory D §4.6.7.5):

- an entry is the same employee for good through its permanent id (``mapping.uid``: OpenLDAP
  ``entryUUID``, AD ``objectGUID``), stored on the card as ``ldap.uid``; a renamed or moved entry
  (modrdn) updates the card it already has. An entry with no linked card is matched once to an
  unlinked card with the same e-mail (case-insensitive), which then becomes LDAP-managed;
- **create new**: an entry with no card becomes a new employee (its extension from the directory
  when it is a free 1-5 digit extension, else the next free one from ``extension_start``);
- **update existing**: the directory wins field by field, except that an empty directory value
  never overwrites the card's value; ``mobile`` is a ``phone`` contact method of the card;
- **deactivate absent**: an LDAP-managed card whose entry is gone gets every contact method
  turned off (``ldap.absent``); it is never deleted (it may still be referenced by schemes);
- entries without an id or a name, and two entries with one id, are incidents, not changes;
- **the exclusion list** (``exclusions``: DN, permanent id or login): such an entry is left alone
  — no card is created, matched, updated or switched off for it (counter ``excluded``);
- **stop sync** of one card (its link's ``sync`` is False): the link stays, the card is neither
  updated nor switched off (counter ``stopped``);
- a created card gets ``defaults`` (outgoing number, reception mode) and, with ``auto_sip``, a
  SIP account ``ext<extension>`` in the PBX's own domain (an incident names it: the admin hands
  the password out from the SIP account's page).

:func:`apply_plan` writes through :class:`EmployeeService` (the cabinet's validation, quotas,
extension claims and action log); what one card refuses is an incident, the others still apply.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from esl_control.model.common import clean_extension, extension_format_error, next_free_extension, public
from esl_control.model.employees.services import EmployeeService
from esl_control.model.ldap.directory import DirectoryEntry
from esl_control.model.ldap.schemas import norm_dn
from esl_control.routing.errors import RuleError
from esl_control.routing.numbers import parse_destination
from pult import i18n
from pult.errors import AppError
from storage.repos.base import Scope

#: the card fields the directory fills as they are (empty directory value: the card keeps its own)
TEXT_FIELDS = ("name", "email", "position", "department")
LDAP_ACTOR = {"kind": "system", "login": "ldap", "ip": None, "name": "LDAP"}


def reason(exc: RuleError | AppError) -> dict[str, str]:
    """Why a card was refused, in both languages (an incident is read in either)."""
    if isinstance(exc, RuleError):
        return {lang: exc.message(lang) for lang in ("en", "ru")}
    return {lang: i18n.translate(lang, exc.message, **exc.values) for lang in ("en", "ru")}


@dataclass
class Incident:
    code: str
    params: dict[str, Any]
    dn: str = ""
    uid: str = ""

    def doc(self) -> dict:
        return {"code": self.code, "params": dict(self.params), "dn": self.dn, "uid": self.uid}


@dataclass
class Plan:
    creates: list[tuple[DirectoryEntry, dict, dict]] = field(default_factory=list)
    updates: list[tuple[str, DirectoryEntry, dict, dict]] = field(default_factory=list)  # id, entry, data, link
    deactivations: list[dict] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)
    unchanged: int = 0
    excluded: int = 0
    stopped: int = 0


def normalize_mobile(value: str) -> str:
    """A directory phone as the card stores it: digits only, a Russian 8XXXXXXXXXX as 7XXXXXXXXXX;
    raises :class:`RuleError` when it is no number."""
    digits = re.sub(r"[\s()+.-]", "", value)
    if len(digits) == 11 and digits.startswith("8"):
        digits = "7" + digits[1:]
    return parse_destination(digits).value


def _editable(emp: Mapping[str, Any]) -> dict:
    """The card as the employees' use case takes it (every field it cleans)."""
    return {k: emp.get(k) for k in ("name", "email", "department", "position", "extension", "reception_mode",
                                    "contact_methods", "outgoing_number", "directions")} | \
        {"contact_methods": [dict(c) for c in emp.get("contact_methods") or ()]}


def _valid_extension(value: str) -> str | None:
    try:
        return clean_extension(value) if value else None
    except RuleError:
        return None


def _merge(emp: Mapping[str, Any], entry: DirectoryEntry, plan: Plan) -> tuple[dict, dict]:
    """(new card data, new link): the directory's non-empty values over the card's."""
    data = _editable(emp)
    link = dict(emp.get("ldap") or {})
    v = entry.values
    link.update(uid=v["uid"], dn=entry.dn, managed=True)
    for f in TEXT_FIELDS:
        if v.get(f):
            data[f] = v[f]
    if v.get("extension"):
        ext = _valid_extension(v["extension"])
        if ext:
            data["extension"] = ext
        elif v["extension"] != link.get("ignored_extension"):  # reported once, not at every sync
            link["ignored_extension"] = v["extension"]
            plan.incidents.append(Incident("ldap.field_ignored", {
                "employee": v.get("name") or emp.get("name"), "attribute": "extension", "value": v["extension"],
                "reason": reason(extension_format_error(None))}, entry.dn, v.get("uid", "")))
    if v.get("mobile"):
        try:
            mobile = normalize_mobile(v["mobile"])
        except RuleError as exc:
            mobile = None
            plan.incidents.append(Incident("ldap.field_ignored", {
                "employee": emp.get("name"), "attribute": "mobile", "value": v["mobile"], "reason": reason(exc)},
                entry.dn, v.get("uid", "")))
        if mobile:
            contacts = data["contact_methods"]
            phones = [c for c in contacts if c["kind"] == "phone"]
            if not any(c.get("value") == mobile for c in phones):
                old = next((c for c in phones if c.get("value") == link.get("mobile")), None)
                if old is not None:
                    old["value"] = mobile
                else:
                    contacts.append({"kind": "phone", "value": mobile, "active": True})
            link["mobile"] = mobile
    link.pop("absent", None)
    return data, link


def is_excluded(entry: DirectoryEntry, exclusions: set[str]) -> bool:
    """Whether the exclusion list (normalised with :func:`norm_dn`) names this entry."""
    v = entry.values
    return bool(exclusions) and any(k and norm_dn(k) in exclusions
                                    for k in (entry.dn, v.get("uid", ""), v.get("login", "")))


def sync_stopped(emp: Mapping[str, Any]) -> bool:
    return (emp.get("ldap") or {}).get("sync") is False


def compute_plan(entries: list[DirectoryEntry], employees: list[dict], settings: Mapping[str, Any]) -> Plan:
    plan = Plan()
    policy, mapping = settings["policy"], settings["mapping"]
    exclusions = {norm_dn(x) for x in settings.get("exclusions") or ()}
    defaults = settings.get("defaults") or {}
    by_uid: dict[str, DirectoryEntry] = {}
    duplicates: set[str] = set()
    kept: list[DirectoryEntry] = []
    for e in entries:
        if is_excluded(e, exclusions):
            plan.excluded += 1
            if e.values.get("uid"):
                by_uid.setdefault(e.values["uid"], e)  # present: its card (if any) is not "absent"
            continue
        kept.append(e)
    excluded_uids = set(by_uid)
    for e in kept:
        uid = e.values.get("uid", "")
        if not uid:
            plan.incidents.append(Incident("ldap.entry_no_uid", {"dn": e.dn, "attribute": mapping["uid"]}, e.dn))
            continue
        if uid in by_uid:
            if uid not in duplicates:
                plan.incidents.append(Incident("ldap.entry_duplicate", {"dn": by_uid[uid].dn, "other": e.dn}, e.dn, uid))
            duplicates.add(uid)
            continue
        by_uid[uid] = e
    linked = {emp["ldap"]["uid"]: emp for emp in employees if (emp.get("ldap") or {}).get("uid")}
    unlinked_by_email: dict[str, dict] = {}
    for emp in employees:
        if not (emp.get("ldap") or {}).get("uid") and emp.get("email"):
            unlinked_by_email.setdefault(emp["email"].lower(), emp)
    for uid, e in by_uid.items():
        if uid in duplicates or uid in excluded_uids:
            continue
        if not e.values.get("name"):
            plan.incidents.append(Incident("ldap.entry_no_name", {"dn": e.dn, "attribute": mapping["name"]}, e.dn, uid))
            continue
        emp = linked.get(uid)
        if emp is not None and sync_stopped(emp):
            plan.stopped += 1
            continue
        if emp is None and e.values.get("email"):
            emp = unlinked_by_email.pop(e.values["email"].lower(), None)
        if emp is None:
            if policy["create"]:
                data, link = _merge({"name": e.values["name"],
                                     "reception_mode": defaults.get("reception_mode") or "simultaneous",
                                     "outgoing_number": defaults.get("outgoing_number"), "contact_methods": []},
                                    e, plan)
                link["sync"] = True
                plan.creates.append((e, {**data, "extension": _valid_extension(e.values.get("extension", ""))}, link))
            else:
                plan.incidents.append(Incident("ldap.create_off", {"dn": e.dn}, e.dn, uid))
            continue
        if not policy["update"]:
            plan.unchanged += 1
            continue
        data, link = _merge(emp, e, plan)
        if data != _editable(emp) or link != (emp.get("ldap") or {}):
            plan.updates.append((emp["id"], e, data, link))
        else:
            plan.unchanged += 1
    if policy["deactivate"]:
        for uid, emp in linked.items():
            if uid in by_uid or sync_stopped(emp) or \
                    exclusions & {norm_dn(uid), norm_dn(emp["ldap"].get("dn", ""))}:
                continue
            if not emp["ldap"].get("absent"):  # once: an admin may turn a method back on by hand
                plan.deactivations.append(emp)
    return plan


async def _make_sip_account(db, pbx_id: int, emp: dict, entry: DirectoryEntry, plan: Plan, box) -> None:
    """``auto_sip``: a SIP account ``ext<extension>`` (``ext<extension>-2``… when taken) in the
    PBX's own domain, the card's first contact method; what refuses it is an incident."""
    from esl_control.model.sip.schemas import generate_sip_password
    from esl_control.model.sip.services import SipAccountService

    accounts = SipAccountService(db, pbx_id, LDAP_ACTOR, box=box)
    base = f"ext{emp['extension']}"
    last: RuleError | AppError | None = None
    for n in range(1, 6):
        login = base if n == 1 else f"{base}-{n}"
        try:
            acc = await accounts.create({"login": login, "password": generate_sip_password(),
                                         "employee_id": emp["id"]})
        except RuleError as exc:
            last = exc
            if exc.code == "sip_account.taken":
                continue
            break
        except AppError as exc:
            last = exc
            break
        plan.incidents.append(Incident("ldap.sip_created", {"employee": emp["name"], "account": acc["address"]},
                                       entry.dn, entry.values["uid"]))
        return
    plan.incidents.append(Incident("ldap.sip_failed", {"employee": emp["name"], "reason": reason(last)},
                                   entry.dn, entry.values["uid"]))


async def apply_plan(db, pbx_id: int, plan: Plan, settings: Mapping[str, Any], *, box=None) -> dict:
    """Write the plan; returns the counters. Failures of single cards become incidents in ``plan``."""
    svc = EmployeeService(db, pbx_id, LDAP_ACTOR)
    counters = {"created": 0, "updated": 0, "deactivated": 0, "unchanged": plan.unchanged, "failed": 0,
                "excluded": plan.excluded, "stopped": plan.stopped}
    for entry, data, link in plan.creates:
        try:
            if not data["extension"]:
                data = {**data, "extension": await next_free_extension(db, Scope.pbx(pbx_id),
                                                                       settings.get("extension_start", 100))}
            emp = await svc.create(data, ldap=link)
            counters["created"] += 1
        except (RuleError, AppError) as exc:
            counters["failed"] += 1
            plan.incidents.append(Incident("ldap.create_failed", {"dn": entry.dn, "reason": reason(exc)},
                                           entry.dn, entry.values["uid"]))
            continue
        if settings.get("auto_sip"):
            await _make_sip_account(db, pbx_id, emp, entry, plan, box)
    for emp_id, entry, data, link in plan.updates:
        try:
            await svc.update(emp_id, data, ldap=link)
            counters["updated"] += 1
        except (RuleError, AppError) as exc:
            counters["failed"] += 1
            plan.incidents.append(Incident("ldap.update_failed", {"employee": data.get("name"), "dn": entry.dn,
                                                                  "reason": reason(exc)}, entry.dn, link["uid"]))
    for emp in plan.deactivations:
        data = _editable(emp)
        for c in data["contact_methods"]:
            c["active"] = False
        try:
            await svc.update(emp["id"], data, ldap={**emp["ldap"], "absent": True})
            counters["deactivated"] += 1
        except (RuleError, AppError) as exc:
            counters["failed"] += 1
            plan.incidents.append(Incident("ldap.deactivate_failed", {"employee": emp.get("name"),
                                                                      "reason": reason(exc)},
                                           emp["ldap"].get("dn", ""), emp["ldap"]["uid"]))
    return counters


async def current_employees(db, pbx_id: int) -> list[dict]:
    return [public(d) for d in await EmployeeService(db, pbx_id).repo.find({})]
