"""Groups of one PBX (PRODUCT.md §4.3, inventory B §5).

A group takes an extension of the PBX namespace (claim first, group second). Members must be
employees of this PBX; a member's ``method`` is ``card`` or one of that employee's contact
methods; external members' schedules and every melody must exist (built-ins included).
A group referred to by a scheme or a client-number rule cannot be deleted (B §5.0).

Queue announcements (position, estimated wait) need a queue: when the group's queue is off
(special settings with "queue when all busy" unticked, or the PBX settings with the PBX's queue
off) both are switched off on save (inventory B §5.6 "auto-disable"), so a stored group never
promises an announcement its calls cannot get.

Edition flags (PRODUCT.md §2, D §4.6.3.3): turning a group's ``record`` on needs
``call_recording``, turning its in-call fax (``features.fax``, taken with the ``dtmf.fax`` code)
on needs ``fax`` — 409 ``edition_feature`` before any write. A group that already has the flag on
keeps it (the PBX's edition changed since). In-call fax is on by default: when the edition has
no fax and the request does not ask for it, a new (or fax-off) group stores it off instead.
"""
from __future__ import annotations

from typing import Any, Mapping

from esl_control.model.groups.schemas import clean_group, refs_of_group
from esl_control.model.quotas import FeatureMissing, check_creation, pbx_has_feature, require_feature
from esl_control.model.reach import EVERYTHING, OUTSIDE_GROUPS, Reach, reached_groups
from esl_control.model.references import check_refs_exist
from esl_control.model.service import TenantService
from esl_control.routing.errors import RuleError
from pult.i18n import N_
from storage.repos.telephony import Employees, RingGroups

NO_RECORDING = N_("Call recording is not included in your PBX edition, so a group's calls cannot be recorded.")
NO_FAX = N_("Fax reception is not included in your PBX edition, so a group cannot receive a fax during a call.")


class GroupService(TenantService):
    repo_cls = RingGroups
    object_type = "group"
    section = "telephony.groups"
    owns_extension = True

    # --- role reach (esl_control.model.reach) ------------------------------------------------
    async def list_reached(self, reach: Reach = EVERYTHING, *, q: str = "", employee_id: str | None = None) -> list[dict]:
        """The groups ``reach`` covers, optionally only those ``employee_id`` is a member of and
        with ``q`` in the name or extension."""
        within = None
        if employee_id:
            within = {g["_id"] for g in await self.repo.find({"members.employee_id": employee_id}, projection={"_id": 1})}
        return await self._find_reached(await reached_groups(self.db, self.scope, reach), q, ("name", "extension"), within)

    async def get_reached(self, id: str, reach: Reach = EVERYTHING) -> dict:
        """One group; another PBX's id is not found, a group outside ``reach`` is refused (403)."""
        return await self._get_reached(id, await reached_groups(self.db, self.scope, reach), OUTSIDE_GROUPS)

    async def _queue_announcements(self, doc: dict) -> None:
        q = doc["queue"]
        if not (q["announce_position"] or q["announce_ewt"]):
            return
        if q["mode"] == "special":
            queued = q["enabled"]
        else:
            from esl_control.model.pbx_settings.services import PbxSettingsService
            queued = (await PbxSettingsService(self.db, self.pbx_id, self.actor).get())["call_handling"]["queue"]["enabled"]
        if not queued:
            q["announce_position"] = q["announce_ewt"] = False

    async def _resolve(self, doc: dict) -> None:
        await self._queue_announcements(doc)
        await check_refs_exist(self.db, self.scope, refs_of_group(doc))
        ids = [m["employee_id"] for m in doc["members"] if m["kind"] == "employee"]
        employees = {e["_id"]: e for e in await Employees(self.db, self.scope).find({"_id": {"$in": ids}})}
        for i, m in enumerate(doc["members"]):
            if m["kind"] == "employee" and m["method"] != "card":
                methods = {c["id"] for c in employees[m["employee_id"]].get("contact_methods", ())}
                if m["method"] not in methods:
                    raise RuleError("contact.unknown", field=f"members[{i}].method", id=m["method"])

    async def _check_features(self, data: Mapping[str, Any], doc: dict, before: Mapping[str, Any] | None) -> None:
        """Refuse turning on recording / in-call fax the edition lacks (see the module doc);
        ``data`` is the request (was in-call fax asked for, or only defaulted?)."""
        if doc["record"] and not (before or {}).get("record"):
            await require_feature(self.db, self.pbx_id, "call_recording", NO_RECORDING)
        if doc["features"]["fax"] and not ((before or {}).get("features") or {}).get("fax"):
            if await pbx_has_feature(self.db, self.pbx_id, "fax"):
                return
            asked = data.get("features") if isinstance(data, Mapping) else None
            if isinstance(asked, Mapping) and asked.get("fax") is not None:
                raise FeatureMissing("fax", NO_FAX)
            doc["features"]["fax"] = False

    cleaner = clean_group

    async def _check(self, data: Mapping[str, Any], doc: dict, before: Mapping[str, Any] | None) -> None:
        await self._resolve(doc)
        await self._check_features(data, doc, before)
        if before is None:
            await check_creation(self.db, self.pbx_id, "groups")
