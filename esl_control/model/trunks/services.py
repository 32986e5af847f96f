"""SIP trunks of one PBX and the PBX's ordered trunk-mask list (inventory D §5.3, PRODUCT.md §4.5).

- prefix unique per PBX: checked with the rules' :func:`check_prefix_unique` for a clear message,
  and guarded by a partial unique index (pbx_id, prefix) against concurrent saves;
- host:port unique platform-wide (the source address tells whose trunk an INVITE comes from);
- a trunk's numbers cannot be another PBX line or another trunk's number;
- the default outgoing number must be a platform DID of this PBX;
- delete refused while a scheme forwards to it, an employee's outgoing number is one of its
  numbers, or a mask routes to it.
- ``status`` is written by ESL (:func:`set_trunk_status`), never by the form;
- a number's scheme (``numbers[i].scheme_id``, D §5.3.2) is set from the schemes
  (``SchemeService.set_trunk_numbers``), not by the trunk form: an edit keeps it for the numbers
  that stay and still receive calls, and drops it for a number that no longer receives.
"""
from __future__ import annotations

from typing import Any, Mapping

from pymongo.errors import DuplicateKeyError

from esl_control.model.common import InUse, Reference, now, public
from esl_control.model.service import TenantService
from esl_control.model.trunks.schemas import STATUSES, clean_masks, clean_trunk
from esl_control.routing.errors import RuleError
from esl_control.routing.outbound import Trunk, check_prefix_unique
from storage.repos.base import Scope
from storage.repos.telephony import Employees, Numbers, TelSettings, Trunks


class TrunkService(TenantService):
    repo_cls = Trunks
    object_type = "trunk"
    section = "telephony.trunks"

    async def _resolve(self, doc: dict) -> None:
        others = [t for t in await self.repo.find() if t["_id"] != doc["_id"]]
        check_prefix_unique(doc.get("prefix"), [Trunk(t["_id"], t["name"], prefix=t.get("prefix")) for t in others],
                            self_id=doc["_id"])
        same = await Trunks(self.db, Scope.platform()).find_one({"host": doc["host"], "port": doc["port"],
                                                                  "_id": {"$ne": doc["_id"]}})
        if same:  # another PBX's trunk is never named, nor is it said to be another PBX's
            if same.get("pbx_id") == self.pbx_id:
                raise RuleError("trunk.address_own", field="host", host=doc["host"], port=doc["port"],
                                trunk=same["name"])
            raise RuleError("trunk.address_taken", field="host", host=doc["host"], port=doc["port"])
        for i, n in enumerate(doc["numbers"]):
            if await Numbers(self.db, Scope.platform()).find_one({"number": n["number"]}) or \
                    await Trunks(self.db, Scope.platform()).find_one({"numbers.number": n["number"],
                                                                       "_id": {"$ne": doc["_id"]}}):
                raise RuleError("trunk.number_taken", field=f"numbers[{i}].number", number=n["number"])
        doc["default_number_id"] = None
        if doc["default_number"]:
            own = await Numbers(self.db, self.scope).find_one({"number": doc["default_number"], "kind": "platform"})
            if own is None:
                raise RuleError("trunk.default_number", field="default_number")
            doc["default_number_id"] = own["_id"]

    async def _clean(self, data: Mapping[str, Any], before: Mapping[str, Any] | None) -> dict:
        doc = clean_trunk(data)
        if before is None:
            doc["status"] = "unknown"
        return doc

    async def _check(self, data: Mapping[str, Any], doc: dict, before: Mapping[str, Any] | None) -> None:
        await self._resolve(doc)

    async def _write(self, doc: dict, before: Mapping[str, Any] | None) -> None:
        try:
            await self._insert_or_replace(doc, before is not None)
        except DuplicateKeyError:  # a concurrent save took the name, the prefix or the address
            for t in await self.repo.find({"_id": {"$ne": doc["_id"]}}):
                if t.get("name_norm") == doc["name_norm"]:
                    raise RuleError("name.taken", field="name", name=doc["name"]) from None
                if doc.get("prefix") and t.get("prefix") == doc["prefix"]:
                    raise RuleError("trunk.prefix_taken", field="prefix", prefix=doc["prefix"], trunk=t["name"]) from None
                if (t.get("host"), t.get("port")) == (doc["host"], doc["port"]):
                    raise RuleError("trunk.address_own", field="host", host=doc["host"], port=doc["port"],
                                    trunk=t["name"]) from None
            raise RuleError("trunk.address_taken", field="host", host=doc["host"], port=doc["port"]) from None

    async def update(self, id: str, data: Mapping[str, Any]) -> dict:
        """As every update, but a prefix not given is removed, the numbers keep their schemes and
        a number still somebody's outgoing number stays."""
        before = await self._doc(id)
        doc = {k: v for k, v in before.items() if k != "prefix"}
        doc.update(await self._clean(data, before), updated_at=now())
        schemes = {n["number"]: n.get("scheme_id") for n in before["numbers"]}
        for n in doc["numbers"]:
            n["scheme_id"] = schemes.get(n["number"]) if n["receive"] else None
        await self._check(data, doc, before)
        removed = {n["number"] for n in before["numbers"]} - {n["number"] for n in doc["numbers"]}
        users = await Employees(self.db, self.scope).find({"outgoing_number": {"$in": list(removed)}}) if removed else []
        if users:  # D §5.3.2: a number used as somebody's outgoing number cannot be removed
            raise InUse(", ".join(sorted(removed)), [Reference("employee", e["_id"], e["name"], "outgoing_number")
                                                       for e in users])
        await self._write(doc, before)
        await self._audit("update", before, doc)
        return public(doc)

    # --- the PBX's one ordered mask list
    async def masks(self) -> list[dict]:
        doc = await TelSettings(self.db, self.scope).find_one({"_id": self.pbx_id})
        return list((doc or {}).get("trunk_masks") or [])

    async def set_masks(self, rows: Any) -> list[dict]:
        """Replace the ordered list (order = priority, first active match wins)."""
        trunk_ids = [t["_id"] for t in await self.repo.find({}, projection={"_id": 1})]
        clean = clean_masks(rows, trunk_ids)
        before = await self.masks()
        await TelSettings(self.db, self.scope).update_one({"_id": self.pbx_id}, {"$set": {"trunk_masks": clean}},
                                                          upsert=True)
        await self._audit("update", {"_id": self.pbx_id, "name": "trunk_masks", "masks": before},
                          {"_id": self.pbx_id, "name": "trunk_masks", "masks": clean}, object_type="trunk_mask")
        return clean


async def set_trunk_status(db, trunk_id: str, status: str) -> bool:
    """ESL side: record a trunk's reachability (OPTIONS answered or not). Platform scope."""
    if status not in STATUSES:
        raise ValueError(f"trunk status must be one of {STATUSES}")
    return await Trunks(db, Scope.platform()).update_one({"_id": trunk_id},
                                                         {"$set": {"status": status, "status_at": now()}})
