"""Schemes of one PBX: CRUD, copy, rename, activate on numbers.

A scheme is one document validated as a whole (:func:`clean_scheme`), so a save is one write and
a scheme is never half-saved. "One active scheme per number" holds by construction: the number
document holds ``scheme_id``; activating a scheme on a number sets it (one write per number). A
scheme bound to a number cannot be deleted.

A SIP trunk's "receive" numbers get a scheme like any number (D §5.3.2): the binding is stored on
the trunk's number entry (``trunks.numbers[i].scheme_id``), set by :meth:`SchemeService.set_trunk_numbers`;
the dialplan passes it as ``pult_scheme_id`` for a call identified as that trunk number.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from esl_control.model.common import clean_name, new_id, norm_name, now, public
from esl_control.model.quotas import check_creation, menu_depth, require_feature
from esl_control.model.references import check_refs_exist
from esl_control.model.schemes.schemas import all_steps, clean_scheme, refs_of_scheme
from esl_control.model.service import TenantService
from esl_control.routing.errors import RuleError
from pult.i18n import N_
from storage.repos.telephony import Employees, Numbers, Schemes, Trunks

NO_VOICE_MENU = N_("Voice menus are not included in your PBX edition, so a scheme cannot have a voice menu step.")
NO_FAX = N_("Fax reception is not included in your PBX edition, so a scheme cannot have a fax step or fax detection.")


class SchemeService(TenantService):
    repo_cls = Schemes
    object_type = "scheme"
    section = "telephony.schemes"

    async def _check_features(self, doc: Mapping[str, Any]) -> None:
        """The edition's flags (PRODUCT.md §2, D §4.6.3.3): a menu step needs ``voice_menu``; a
        fax step or a menu's fax detection rule needs ``fax``. Every save of such a scheme is
        refused (409 ``edition_feature``), so a PBX moved to a smaller edition removes the step
        before it can change the scheme again."""
        steps = list(all_steps(doc))
        if any(s["kind"] == "menu" for s in steps):
            await require_feature(self.db, self.pbx_id, "voice_menu", NO_VOICE_MENU)
        if any(s["kind"] == "fax" or (s["kind"] == "menu" and "fax_detect" in (s.get("rules") or {}))
               for s in steps):
            await require_feature(self.db, self.pbx_id, "fax", NO_FAX)

    async def _check_quotas(self, doc: Mapping[str, Any], adding: int) -> None:
        """The edition's scheme count (a new scheme) and voice-menu depth (esl_control.model.quotas)."""
        if adding:
            await check_creation(self.db, self.pbx_id, "schemes", adding=adding)
        depth = menu_depth(doc.get("blocks") or ())
        if depth:
            await check_creation(self.db, self.pbx_id, "ivr_levels", value=depth)

    async def _resolve(self, doc: Mapping[str, Any]) -> None:
        """Everything the tree refers to exists in this PBX; a forward to an employee by one
        contact method names a method of that employee (A §4.4.2.1: "as configured in the card,
        or a specific contact method"), as groups and client-number rules require."""
        await check_refs_exist(self.db, self.scope, refs_of_scheme(doc))
        wanted = [s for s in all_steps(doc) if s["kind"] == "forward" and s.get("target")
                  and s["target"]["type"] == "employee" and s["target"].get("method", "card") != "card"]
        if not wanted:
            return
        ids = list({s["target"]["id"] for s in wanted})
        methods = {e["_id"]: {c["id"] for c in e.get("contact_methods", ())}
                   for e in await Employees(self.db, self.scope).find({"_id": {"$in": ids}})}
        for s in wanted:
            if s["target"]["method"] not in methods.get(s["target"]["id"], ()):
                raise RuleError("contact.unknown", field="forward.target.method", id=s["target"]["method"])

    cleaner = clean_scheme

    async def _check(self, data: Mapping[str, Any], doc: dict, before: Mapping[str, Any] | None) -> None:
        await self._resolve(doc)
        await self._check_features(doc)
        await self._check_quotas(doc, adding=1 if before is None else 0)

    async def rename(self, id: str, name: str, description: str | None = None) -> dict:
        before = await self._doc(id)
        doc = {**before, "name": clean_name(name), "updated_at": now()}
        doc["name_norm"] = norm_name(doc["name"])
        if description is not None:
            doc["description"] = clean_scheme({"name": doc["name"], "description": description})["description"]
        await self._replace_named(id, doc)
        await self._audit("rename", before, doc)
        return public(doc)

    async def copy(self, id: str, name: str) -> dict:
        source = await self._doc(id)
        doc = clean_scheme({"name": name, "description": source.get("description"), "blocks": source["blocks"]})
        doc.update(_id=new_id(), created_at=now(), copied_from=id)
        await self._check_features(doc)
        await self._check_quotas(doc, adding=1)
        await self._insert_named(doc)
        await self._audit("copy", None, doc)
        return public(doc)

    async def numbers(self, id: str) -> list[dict]:
        await self._doc(id)
        return [public(n) for n in await Numbers(self.db, self.scope).find({"scheme_id": id}, sort=[("number", 1)])]

    async def activate(self, id: str, number_ids: Iterable[str]) -> list[dict]:
        """Make this the active scheme of each number (replacing its previous one)."""
        scheme = await self._doc(id)
        ids = list(dict.fromkeys(number_ids))
        numbers = Numbers(self.db, self.scope)
        found = {n["_id"]: n for n in await numbers.find({"_id": {"$in": ids}})}
        for i in ids:
            if i not in found:
                raise RuleError("ref.unknown", field="numbers", id=i)
        out = []
        for i in ids:
            before = found[i]
            await numbers.update_one({"_id": i}, {"$set": {"scheme_id": id}})
            after = {**before, "scheme_id": id}
            await self._audit("activate", before, after, object_type="number")
            out.append(public(after))
        return out

    async def trunk_numbers(self, scheme_id: str | None = None) -> list[dict]:
        """The "receive" numbers of the PBX's trunks — ``{trunk_id, trunk_name, number, scheme_id}``
        by trunk name and number — or only those bound to ``scheme_id``."""
        out = []
        for t in await Trunks(self.db, self.scope).find({}, sort=[("name_norm", 1)]):
            for n in t.get("numbers") or ():
                if n.get("receive") and (scheme_id is None or n.get("scheme_id") == scheme_id):
                    out.append({"trunk_id": t["_id"], "trunk_name": t["name"], "number": n["number"],
                                "scheme_id": n.get("scheme_id")})
        return out

    async def set_trunk_numbers(self, id: str, refs: Iterable[Mapping[str, Any]]) -> list[dict]:
        """Make this scheme the active one of exactly these trunk numbers (``{trunk_id, number}``):
        each gets it (replacing its previous scheme), and trunk numbers of this scheme left out
        are left without one. Only a trunk's "receive" numbers take a scheme
        (``trunk.number_receive``); everything is checked before the first write. One write per
        trunk whose entries change."""
        await self._doc(id)
        wanted: dict[str, set[str]] = {}
        for i, ref in enumerate(refs):
            if not isinstance(ref, Mapping) or not isinstance(ref.get("trunk_id"), str) \
                    or not isinstance(ref.get("number"), str):
                raise RuleError("value.object", field=f"trunk_numbers[{i}]")
            wanted.setdefault(ref["trunk_id"], set()).add(ref["number"])
        trunks = Trunks(self.db, self.scope)
        docs = {t["_id"]: t for t in await trunks.find({"$or": [{"_id": {"$in": list(wanted)}},
                                                                 {"numbers.scheme_id": id}]})}
        for trunk_id, numbers in wanted.items():
            trunk = docs.get(trunk_id)
            if trunk is None:
                raise RuleError("ref.unknown", field="trunk_numbers", id=trunk_id)
            entries = {n["number"]: n for n in trunk.get("numbers") or ()}
            for number in sorted(numbers):
                if number not in entries:
                    raise RuleError("trunk.number_unknown", field="trunk_numbers", number=number, trunk=trunk["name"])
                if not entries[number].get("receive"):
                    raise RuleError("trunk.number_receive", field="trunk_numbers", number=number, trunk=trunk["name"])
        for trunk_id, before in docs.items():
            mine = wanted.get(trunk_id, set())
            rows = []
            for n in before.get("numbers") or ():
                if n["number"] in mine:
                    n = {**n, "scheme_id": id}
                elif n.get("scheme_id") == id:
                    n = {**n, "scheme_id": None}
                rows.append(n)
            if rows != before.get("numbers"):
                await trunks.update_one({"_id": trunk_id}, {"$set": {"numbers": rows}})
                await self._audit("update", before, {**before, "numbers": rows}, object_type="trunk")
        return await self.trunk_numbers(id)

    async def deactivate(self, number_id: str) -> dict:
        """Leave a number without a scheme (its calls go to the default group, PRODUCT.md §4.1)."""
        numbers = Numbers(self.db, self.scope)
        before = await numbers.find_one({"_id": number_id})
        if before is None:
            raise RuleError("ref.unknown", field="number", id=number_id)
        await numbers.update_one({"_id": number_id}, {"$set": {"scheme_id": None}})
        after = {**before, "scheme_id": None}
        await self._audit("deactivate", before, after, object_type="number")
        return public(after)
