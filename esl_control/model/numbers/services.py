"""Numbers of one PBX, the operator's DID pool, and moving numbers between PBXs of one account.

Write orders (no multi-document transactions, PRODUCT/DESIGN):

- assign a platform DID: claim it in ``did_pool`` (one atomic ``free -> assigned`` update, so two
  PBXs cannot get the same number), then insert the number; if the insert fails the claim is
  given back. ``numbers.number`` is unique platform-wide as a second guard.
- release: the number document first (the PBX stops using it), then the pool entry is freed; a
  crash in between leaves a pool entry "assigned" with no number, which an operator sees and no
  tenant can use — never a number owned twice.
- transfer to another PBX of the same account: the scheme's skeleton copy is created in the target
  first (harmless if the move then fails: an unbound scheme), then the number document is moved
  in one update (``pbx_id`` and ``scheme_id`` together), then the pool entry's ``pbx_id`` follows.
  ``numbers`` is the authority on which PBX owns a number.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from pymongo.errors import DuplicateKeyError

from esl_control.model.common import (SYSTEM_ACTOR, InUse, clean_id, clean_mapping, new_id, norm_name, now,
                                      public)
from esl_control.model.numbers.schemas import (clean_comment, clean_gateway, clean_number, clean_passive)
from esl_control.model.quotas import check_creation
from esl_control.model.references import find_references
from esl_control.model.schemes.schemas import skeleton
from esl_control.model.service import TenantService
from esl_control.routing.errors import RuleError
from storage.repos.audit import audit
from storage.repos.base import Scope
from storage.repos.telephony import DidPool, Numbers, Schemes, SipAccounts, SipDomains, SoundFiles, TelSettings
from storage.repos.tenants import Pbxes


def _number_public(doc):
    out = public(doc)
    if out is not None:
        out["has_password"] = bool(doc.get("password_enc"))
    return out


class NumberService(TenantService):
    repo_cls = Numbers
    object_type = "number"
    section = "telephony.numbers"


    async def list(self) -> list[dict]:
        return [_number_public(d) for d in await self.repo.find({}, sort=[("number", 1)])]

    async def get(self, id: str) -> dict:
        return _number_public(await self._doc(id))

    async def _insert(self, doc: dict) -> None:
        try:
            await self.repo.insert_one(doc)
        except DuplicateKeyError as exc:
            if "sip_address" in str(exc) or (doc.get("sip_address") and not await Numbers(
                    self.db, Scope.platform()).find_one({"number": doc["number"]})):
                raise RuleError("sip_address.taken", field="sip_user", value=doc.get("sip_address")) from None
            raise RuleError("number.taken", field="number", number=doc["number"]) from None

    # --- platform DIDs
    async def assign_platform(self, number: Any, comment: Any = "") -> dict:
        """Take a free DID of the operator's pool for this PBX."""
        n = clean_number(number)
        comment = clean_comment(comment)
        await check_creation(self.db, self.pbx_id, "numbers")
        pool = DidPool(self.db, Scope.platform())
        claimed = await pool.find_one_and_update(
            {"_id": n, "status": "free"}, {"$set": {"status": "assigned", "pbx_id": self.pbx_id, "assigned_at": now()}})
        if claimed is None:
            raise RuleError("number.not_in_pool", field="number", number=n)
        doc = {"_id": new_id(), "number": n, "kind": "platform", "comment": comment, "scheme_id": None,
               "created_at": now()}
        try:
            await self._insert(doc)
        except BaseException:
            await pool.update_one({"_id": n, "pbx_id": self.pbx_id},
                                  {"$set": {"status": "free"}, "$unset": {"pbx_id": "", "assigned_at": ""}})
            raise
        await self._audit("assign", None, doc)
        return _number_public(doc)

    # --- other operators' numbers
    async def _passive_fields(self, data: Mapping[str, Any], number: str, current: dict | None = None) -> dict:
        p = clean_passive(data)
        domain_id = p["sip_domain_id"] or (current or {}).get("sip_domain_id")
        if domain_id:
            domain = await SipDomains(self.db, self.scope).find_one({"_id": domain_id})
            if domain is None:
                raise RuleError("ref.unknown", field="sip_domain_id", id=domain_id)
        else:
            from esl_control.model.sip.services import SipDomainService
            domain = await SipDomainService(self.db, self.pbx_id, self.actor).ensure_default()
        user = p["sip_user"] or (current or {}).get("sip_user") or f"000{number}"
        if await SipAccounts(self.db, self.scope).find_one({"domain_id": domain["_id"], "login": user}):
            raise RuleError("sip_address.taken", field="sip_user", value=f"{user}@{domain['name']}")
        return {"sip_user": user, "sip_domain_id": domain["_id"], "sip_address": f"{user}@{domain['name']}",
                "display_number": p["display_number"]}

    async def connect_passive(self, data: Mapping[str, Any]) -> dict:
        """Passive SIP: the other operator forwards calls to our SIP address (inbound only)."""
        data = clean_mapping(data, "body", optional=False)
        n = clean_number(data.get("number"))
        doc = {"_id": new_id(), "number": n, "kind": "passive_sip", "comment": clean_comment(data.get("comment")),
               "scheme_id": None, "created_at": now(), **await self._passive_fields(data, n)}
        await check_creation(self.db, self.pbx_id, "numbers")
        await self._insert(doc)
        await self._audit("connect", None, doc)
        return _number_public(doc)

    async def _warning_sound(self, value: Any) -> str | None:
        """A line's own warning played before the connection (A §4.4.1.2): ``None`` («Нет») or
        one of the PBX's uploaded files (built-in melodies are not offered), and only while the
        PBX setting ``call_handling.line_warnings`` is on ("unticked, the option is unavailable")."""
        sound = clean_id(value, "warning_sound", optional=True)
        if sound is None:
            return None
        settings = await TelSettings(self.db, self.scope).find_one({"_id": self.pbx_id}) or {}
        if not (settings.get("call_handling") or {}).get("line_warnings"):
            raise RuleError("number.warnings_off", field="warning_sound")
        if sound.startswith("builtin:"):
            raise RuleError("number.warning_sound", field="warning_sound")
        if await SoundFiles(self.db, self.scope).find_one({"_id": sound}) is None:
            raise RuleError("ref.unknown", field="warning_sound", id=sound)
        return sound

    async def connect_active(self, data: Mapping[str, Any]) -> dict:
        """Active SIP: we register to the other operator with its login and password (in and out)."""
        data = clean_mapping(data, "body", optional=False)
        n = clean_number(data.get("number"))
        gateway, password = clean_gateway(data.get("gateway"))
        if not password:
            raise RuleError("value.required", field="gateway.password")
        display = data.get("display_number")
        doc = {"_id": new_id(), "number": n, "kind": "active_sip", "comment": clean_comment(data.get("comment")),
               "scheme_id": None, "gateway": gateway, "status": "unknown", "created_at": now(),
               "display_number": None if display in (None, "") else clean_number(display, "display_number")}
        doc["password_enc"] = self.box.encrypt(password, f"number:{doc['_id']}")
        await check_creation(self.db, self.pbx_id, "numbers")
        await self._insert(doc)
        await self._audit("connect", None, doc)
        return _number_public(doc)

    async def update(self, id: str, data: Mapping[str, Any]) -> dict:
        """Comment of any number; SIP address / display number (passive); gateway (active)."""
        before = await self._doc(id)
        data = clean_mapping(data, "body", optional=False)
        if data.get("kind") not in (None, before["kind"]):
            raise RuleError("number.kind_change", field="kind")
        doc = {**before, "comment": clean_comment(data.get("comment", before.get("comment"))), "updated_at": now()}
        if before["kind"] == "passive_sip":
            doc.update(await self._passive_fields({**before, **data}, before["number"], before))
        elif before["kind"] == "active_sip":
            if "display_number" in data:  # A §4.2.2.2: active numbers have a displayed number too
                display = data["display_number"]
                doc["display_number"] = None if display in (None, "") else clean_number(display, "display_number")
            if data.get("gateway") is not None:
                gateway, password = clean_gateway({**before["gateway"], **clean_mapping(data["gateway"], "gateway")})
                doc["gateway"] = gateway
                if password:
                    doc["password_enc"] = self.box.encrypt(password, f"number:{id}")
        if "warning_sound" in data:
            doc["warning_sound"] = await self._warning_sound(data["warning_sound"])
        try:
            await self.repo.replace_one({"_id": id}, doc)
        except DuplicateKeyError:
            raise RuleError("sip_address.taken", field="sip_user", value=doc.get("sip_address")) from None
        await self._audit("update", before, doc)
        return _number_public(doc)

    async def set_comment(self, id: str, comment: Any) -> dict:
        return await self.update(id, {"comment": comment})

    async def delete(self, id: str) -> None:
        """Disconnect a number (platform DIDs go back to the pool)."""
        doc = await self._doc(id)
        await self._refuse_if_referenced(doc)
        await self.repo.delete_one({"_id": id})
        if doc["kind"] == "platform":
            await DidPool(self.db, Scope.platform()).update_one(
                {"_id": doc["number"], "pbx_id": self.pbx_id},
                {"$set": {"status": "free"}, "$unset": {"pbx_id": "", "assigned_at": ""}})
        await self._audit("release" if doc["kind"] == "platform" else "delete", doc, None)

    # --- transfer between PBXs of one account (inventory A §4.4.1.3)
    async def transfer(self, number_ids: Iterable[str], target_pbx_id: int) -> list[dict]:
        target_scope = Scope.pbx(target_pbx_id)
        source = await Pbxes(self.db, self.scope).find_one()
        target = await Pbxes(self.db, target_scope).find_one() if isinstance(target_pbx_id, int) else None
        if target_pbx_id == self.pbx_id:
            raise RuleError("number.transfer_same", field="target_pbx_id")
        if not source or not target or source.get("account_id") != target.get("account_id"):
            raise RuleError("number.transfer_account", field="target_pbx_id")
        if target.get("status", "active") != "active":
            raise RuleError("number.transfer_target", field="target_pbx_id")
        docs = [await self._doc(i) for i in dict.fromkeys(number_ids)]
        for doc in docs:  # everything checked before the first write
            refs = [r for r in await find_references(self.db, self.scope, "number", doc["_id"])]
            if refs:
                raise InUse(doc["number"], refs)
        await check_creation(self.db, target_pbx_id, "numbers", adding=len(docs))
        with_scheme = sum(1 for d in docs if d.get("scheme_id"))
        if with_scheme:
            await check_creation(self.db, target_pbx_id, "schemes", adding=with_scheme)
        target_domain = None
        if any(d["kind"] == "passive_sip" for d in docs):
            from esl_control.model.sip.services import SipDomainService
            target_domain = await SipDomainService(self.db, target_pbx_id, self.actor).ensure_default()
        moved = []
        for doc in docs:
            new_scheme_id = None
            if doc.get("scheme_id"):
                scheme = await Schemes(self.db, self.scope).find_one({"_id": doc["scheme_id"]})
                if scheme:
                    new_scheme_id = await self._copy_skeleton(scheme, target_scope, doc["number"])
            change: dict[str, Any] = {"pbx_id": target_pbx_id, "scheme_id": new_scheme_id, "updated_at": now()}
            if doc["kind"] == "passive_sip":
                change.update(sip_domain_id=target_domain["_id"],
                              sip_address=f"{doc['sip_user']}@{target_domain['name']}")
            try:
                ok = await Numbers(self.db, Scope.platform()).update_one(
                    {"_id": doc["_id"], "pbx_id": self.pbx_id}, {"$set": change})
            except DuplicateKeyError:
                raise RuleError("sip_address.taken", field="numbers", value=change.get("sip_address")) from None
            if not ok:
                continue  # moved or deleted by someone else meanwhile
            if doc["kind"] == "platform":
                await DidPool(self.db, Scope.platform()).update_one({"_id": doc["number"]},
                                                                    {"$set": {"pbx_id": target_pbx_id}})
            after = {**doc, **change}
            await self._audit("transfer_out", doc, after)
            await audit(self.db, target_scope, actor=self.actor, section=self.section, operation="transfer_in",
                        object={"type": "number", "id": doc["_id"], "name": doc["number"]},
                        before=None, after=public(after))
            moved.append(_number_public(after))
        return moved

    async def _copy_skeleton(self, scheme: dict, target_scope: Scope, number: str) -> str:
        copy = skeleton(scheme)
        repo = Schemes(self.db, target_scope)
        base = copy["name"]
        for attempt in range(20):
            name = base if attempt == 0 else f"{base} ({number})" if attempt == 1 else f"{base} ({number}-{attempt})"
            doc = {**copy, "_id": new_id(), "name": name, "name_norm": norm_name(name), "created_at": now(),
                   "copied_from": scheme["_id"]}
            try:
                await repo.insert_one(doc)
                return doc["_id"]
            except DuplicateKeyError:
                continue
        raise RuleError("name.taken", field="name", name=base)


class DidPoolService:
    """The operator's DID pool (platform scope): add numbers, list them."""

    def __init__(self, db, actor=None):
        self.db = db
        self.actor = actor or SYSTEM_ACTOR
        self.repo = DidPool(db, Scope.platform())

    async def add(self, numbers: Iterable[Any]) -> list[str]:
        cleaned = [clean_number(n, f"numbers[{i}]") for i, n in enumerate(numbers)]
        added = []
        for n in cleaned:
            res = await self.repo.update_one({"_id": n}, {"$setOnInsert": {"status": "free", "added_at": now()}},
                                             upsert=True)
            if res:
                added.append(n)
        await audit(self.db, Scope.platform(), actor=self.actor, section="operator.did_pool", operation="add",
                    object={"type": "did_pool", "id": None, "name": f"{len(cleaned)} numbers"},
                    before=None, after={"numbers": cleaned})
        return added

    async def list(self, status: str | None = None) -> list[dict]:
        flt = {} if status is None else {"status": status}
        return await self.repo.find(flt, sort=[("_id", 1)])
