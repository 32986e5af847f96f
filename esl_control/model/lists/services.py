"""Black/white lists and client-number routing rules of one PBX (PRODUCT.md §3, inventory A §4.4.4-5).

The two lists are mutually exclusive: one ``mode`` (black | white | None) in the PBX settings
selects the active list, so enabling one disables the other by construction; both keep their
entries. Entries are documents (a list may hold thousands); the same entry twice in one list is
refused by a unique index. Client-number rules are ordered by ``position``; the first active
matching rule wins at call time (the rules' :func:`match_client_rule`).
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from pymongo.errors import DuplicateKeyError

from esl_control.model.common import clean_bool, clean_choice, public
from esl_control.model.lists.schemas import LISTS, clean_client_rule, clean_entry, refs_of_client_rule
from esl_control.model.pbx_settings.schemas import LISTS_DEFAULTS
from esl_control.model.references import check_refs_exist
from esl_control.model.service import TenantService
from esl_control.routing.errors import RuleError
from esl_control.routing.lists import BLACK, WHITE, ClientNumberRule, ListEntry, parse_entry
from esl_control.routing.numbers import DEFAULT_SHORT_PATTERN
from storage.repos.telephony import ClientRules, Employees, ListEntries, TelSettings


class ListService(TenantService):
    repo_cls = ListEntries
    object_type = "list_entry"
    section = "telephony.lists"
    name_field = "value"

    async def list(self, which: str | None = None) -> list[dict]:
        flt = {} if which is None else {"list": clean_choice(which, "list", LISTS)}
        return [public(d) for d in await self.repo.find(flt, sort=[("list", 1), ("value", 1)])]

    cleaner = clean_entry

    async def _write(self, doc: dict, before: Mapping[str, Any] | None) -> None:
        try:
            await self._insert_or_replace(doc, before is not None)
        except DuplicateKeyError:
            raise RuleError("list.duplicate", field="value", value=doc["value"]) from None

    async def _check_delete(self, doc: Mapping[str, Any]) -> None:
        """Nothing refers to a list entry."""

    async def mode(self) -> dict:
        doc = await TelSettings(self.db, self.scope).find_one({"_id": self.pbx_id})
        return {**LISTS_DEFAULTS, **((doc or {}).get("lists") or {})}

    async def set_mode(self, mode: str | None, unknown_allowed: Any = True) -> dict:
        """Activate the black or the white list (the other is off), or none (``None``)."""
        clean = {"mode": None if mode in (None, "") else clean_choice(mode, "mode", (BLACK, WHITE)),
                 "unknown_allowed": clean_bool(unknown_allowed, "unknown_allowed", default=True)}
        before = await self.mode()
        await TelSettings(self.db, self.scope).update_one({"_id": self.pbx_id}, {"$set": {"lists": clean}},
                                                          upsert=True)
        await self._audit("update", {"_id": self.pbx_id, "name": "lists", **before},
                          {"_id": self.pbx_id, "name": "lists", **clean}, object_type="settings")
        return clean

    async def active_entries(self) -> tuple[str | None, list[ListEntry], bool]:
        """What the call flow needs: (mode, entries of the active list, unknown allowed)."""
        m = await self.mode()
        if m["mode"] is None:
            return None, [], m["unknown_allowed"]
        docs = await self.repo.find({"list": m["mode"]})
        return m["mode"], [parse_entry(d["value"], kind=d["kind"], exact=d["exact"]) for d in docs], m["unknown_allowed"]


class ClientRuleService(TenantService):
    repo_cls = ClientRules
    object_type = "client_rule"
    section = "telephony.client_rules"
    name_field = "value"

    async def list(self) -> list[dict]:
        return [public(d) for d in await self.repo.find({}, sort=[("position", 1)])]

    async def _resolve(self, doc: dict) -> None:
        await check_refs_exist(self.db, self.scope, refs_of_client_rule(doc))
        if doc["target_kind"] == "employee" and doc["contact_method"]:
            emp = await Employees(self.db, self.scope).find_one({"_id": doc["target"]})
            if doc["contact_method"] not in {c["id"] for c in emp.get("contact_methods", ())}:
                raise RuleError("contact.unknown", field="contact_method", id=doc["contact_method"])

    async def _clean(self, data: Mapping[str, Any], before: Mapping[str, Any] | None) -> dict:
        return clean_client_rule(data, short_pattern=DEFAULT_SHORT_PATTERN)

    async def _check(self, data: Mapping[str, Any], doc: dict, before: Mapping[str, Any] | None) -> None:
        """References resolve; a new rule comes last."""
        await self._resolve(doc)
        if before is None:
            last = await self.repo.find({}, sort=[("position", -1)], limit=1)
            doc["position"] = (last[0]["position"] + 1) if last else 1

    async def _write(self, doc: dict, before: Mapping[str, Any] | None) -> None:
        await self._insert_or_replace(doc, before is not None)

    async def _check_delete(self, doc: Mapping[str, Any]) -> None:
        """Nothing refers to a client-number rule."""

    async def reorder(self, ids: Iterable[str]) -> list[dict]:
        """Set the order: ``ids`` lists every rule of the PBX, first = highest priority."""
        ids = list(ids)
        current = {d["_id"]: d for d in await self.repo.find()}
        if sorted(ids) != sorted(current):
            raise RuleError("ref.unknown", field="ids", id=", ".join(sorted(set(ids) ^ set(current))))
        for pos, i in enumerate(ids, start=1):
            if current[i]["position"] != pos:
                await self.repo.update_one({"_id": i}, {"$set": {"position": pos}})
        await self._audit("reorder", {"_id": None, "name": "client_rules", "order": sorted(current, key=lambda i: current[i]["position"])},
                          {"_id": None, "name": "client_rules", "order": ids})
        return await self.list()

    async def rules(self) -> list[ClientNumberRule]:
        """The rules as the call flow uses them, in order."""
        out = []
        for d in await self.repo.find({}, sort=[("position", 1)]):
            out.append(ClientNumberRule(parse_entry(d["value"], kind=d["kind"], exact=d["exact"]), d["target_kind"],
                                        d["target"], d.get("ring_time"), d.get("contact_method"), d["active"],
                                        d.get("comment", ""), d["_id"]))
        return out
