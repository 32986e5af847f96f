"""SIP domains, SIP accounts and the SIP IP whitelist of one PBX (inventory D §4.6.1).

Passwords: stored only encrypted (``password_enc``, :mod:`esl_control.model.crypto`) next to the
digest ``a1_hash`` = md5(login:domain:password) that the FreeSWITCH directory answers with;
neither ever leaves a service in ``list``/``get`` (``reveal_password`` is for the web layer to
call after checking the user's right and the owner's personal protection).

Write orders:

- account create with an employee: the account first, then the employee's contact methods
  (the account becomes the employee's first, active method, D §4.6.1.1.2); a crash in between
  leaves an account that is simply not yet a contact method;
- domain delete (``confirm=True`` when it has accounts): its accounts one by one, then the domain;
  a crash in between leaves the domain with fewer accounts, and the delete can be repeated;
- domain rename: see :meth:`SipDomainService.rename` (the domain first, keeping the old name
  reserved, then its accounts and passive numbers, then the reservation is released).
"""
from __future__ import annotations

from typing import Any, Mapping

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from esl_control.model.common import InUse, Reference, new_id, now, public
from esl_control.model.crypto import SecretBox, a1_hash
from esl_control.model.pbx_settings.schemas import defaults as settings_defaults
from esl_control.model.references import check_refs_exist, find_references
from esl_control.model.service import TenantService
from esl_control.model.sip.schemas import (MAX_DOMAINS, clean_domain_label, clean_sip_access,
                                           clean_sip_account, refs_of_sip_account)
from esl_control.routing.errors import RuleError
from storage.repos.base import Scope
from storage.repos.telephony import Employees, Numbers, SipAccounts, SipDomains, TelSettings
from storage.repos.tenants import Pbxes


def _account_public(doc: Mapping | None) -> dict | None:
    out = public(doc)
    if out is not None:
        out.pop("a1_hash", None)
        out["address"] = f"{doc['login']}@{doc['domain']}"
    return out


class SipDomainService(TenantService):
    repo_cls = SipDomains
    object_type = "sip_domain"
    section = "telephony.sip"

    def __init__(self, db, pbx_id: int, actor=None, *, base_domain: str | None = None, box: SecretBox | None = None):
        super().__init__(db, pbx_id, actor, box=box)  # the accounts' password box, needed only by a rename
        if base_domain is None:
            from pult.settings import get_settings
            base_domain = get_settings().sip_base_domain
        self.base_domain = base_domain

    async def ensure_default(self) -> dict:
        """The PBX's own domain ``vpbx<id>.<base>`` as a domain document (slot 0; idempotent)."""
        doc = await self.repo.find_one({"default": True})
        if doc:
            return doc
        pbx = await Pbxes(self.db, self.scope).find_one({})
        name = (pbx or {}).get("sip_domain") or f"vpbx{self.pbx_id}.{self.base_domain}"
        doc = {"_id": new_id(), "name": name, "default": True, "slot": 0, "created_at": now()}
        try:
            await self.repo.insert_one(doc)
        except DuplicateKeyError:
            return await self.repo.find_one({"default": True})
        return doc

    async def list(self) -> list[dict]:
        await self.ensure_default()
        return [public(d) for d in await self.repo.find({}, sort=[("slot", 1)])]

    async def create(self, data: Mapping[str, Any]) -> dict:
        await self.ensure_default()
        label = clean_domain_label((data or {}).get("name"))
        name = f"{label}.{self.base_domain}"
        if await self._name_taken(name):
            raise RuleError("sip_domain.taken", field="name", name=name)
        for _ in range(MAX_DOMAINS):
            used = {d["slot"] for d in await self.repo.find({}, projection={"slot": 1})}
            free = [s for s in range(MAX_DOMAINS) if s not in used]
            if not free:
                break
            doc = {"_id": new_id(), "name": name, "default": False, "slot": free[0], "created_at": now()}
            try:
                await self.repo.insert_one(doc)
            except DuplicateKeyError:
                if await SipDomains(self.db, Scope.platform()).find_one({"name": name}):
                    raise RuleError("sip_domain.taken", field="name", name=name) from None
                continue  # another create took the slot at the same moment: look again
            await self._audit("create", None, doc)
            return public(doc)
        raise RuleError("sip_domain.limit", field="name", max=MAX_DOMAINS)

    async def _name_taken(self, name: str, own_id: str | None = None) -> bool:
        """Whether ``name`` is a domain of anyone else, or the old name of a domain being renamed."""
        found = await SipDomains(self.db, Scope.platform()).find_one(
            {"$or": [{"name": name}, {"renaming_from": name}]}, projection={"_id": 1})
        return found is not None and found["_id"] != own_id

    async def update(self, id: str, data: Mapping[str, Any]) -> dict:
        """The API's PUT / PATCH of a domain: only its name changes (:meth:`rename`)."""
        return await self.rename(id, (data or {}).get("name"))

    async def rename(self, id: str, new_label: Any) -> dict:
        """Rename a SIP domain (D §4.6.1.1.1): ``<label>.<base>``, unique platform-wide; the
        default ``vpbx<id>.<base>`` is never renamed. Its SIP accounts move with it (``domain`` and
        the digest ``a1_hash`` = md5(login:domain:password), recomputed from the decrypted
        password), and so do the SIP addresses of its passive numbers (``user@domain``).

        Write order, so that a crash leaves a consistent state that the same call repairs:

        1. the domain document gets the new name and ``renaming_from`` = the old name (one
           atomic write; the unique index on ``name`` settles a race for the new name, and the
           old name stays reserved so nobody else can take it while accounts still carry it);
        2. each account still under another name gets ``domain`` + ``a1_hash`` in one write
           (an account is always either wholly old or wholly new, never a new name with an old
           hash);
        3. each passive number of the domain gets its new ``sip_address``;
        4. ``renaming_from`` is removed.

        A crash after 1 leaves some accounts and numbers under the old name (they answer again
        once repaired); calling ``rename`` again with the same name finds the domain already
        named so, skips step 1 and finishes 2-4, which only touch what is not yet renamed.
        Calling it with the current name of a finished rename changes nothing.
        """
        doc = await self._doc(id)
        if doc.get("default"):
            raise RuleError("sip_domain.default_rename", field="name", name=doc["name"])
        label = new_label.strip().lower() if isinstance(new_label, str) else new_label
        suffix = f".{self.base_domain}"
        if isinstance(label, str) and label.endswith(suffix):
            label = label[: -len(suffix)]
        name = f"{clean_domain_label(label)}{suffix}"
        old = doc.get("renaming_from") or doc["name"]
        if name != doc["name"]:
            if await self._name_taken(name, id):
                raise RuleError("sip_domain.taken", field="name", name=name)
            if doc.get("renaming_from"):  # an unfinished rename to a third name: finish it first
                await self._finish_rename(doc)
                old = doc["name"]
            try:
                await self.repo.update_one({"_id": id}, {"$set": {"name": name, "renaming_from": old,
                                                                 "updated_at": now()}})
            except DuplicateKeyError:
                raise RuleError("sip_domain.taken", field="name", name=name) from None
        after = {**doc, "name": name, "renaming_from": old}
        await self._finish_rename(after)
        after.pop("renaming_from", None)
        if name != doc["name"]:
            await self._audit("update", doc, after)
        return public(after)

    async def _finish_rename(self, doc: Mapping[str, Any]) -> None:
        """Steps 2-4 of :meth:`rename`: bring the accounts and passive numbers of ``doc`` under its
        current name, then release the old one. Idempotent."""
        name, id = doc["name"], doc["_id"]
        box = self.box
        accounts = SipAccounts(self.db, self.scope)
        for acc in await accounts.find({"domain_id": id, "domain": {"$ne": name}}):
            password = box.decrypt(acc["password_enc"], f"sip_account:{acc['_id']}")
            try:
                await accounts.update_one({"_id": acc["_id"], "domain": acc["domain"]}, {"$set": {
                    "domain": name, "a1_hash": a1_hash(acc["login"], name, password), "updated_at": now()}})
            except DuplicateKeyError:  # cannot happen while the new name is ours alone; say so if it does
                raise RuleError("sip_account.taken", field="name", login=acc["login"], domain=name) from None
        numbers = Numbers(self.db, self.scope)
        for n in await numbers.find({"sip_domain_id": id, "kind": "passive_sip"}):
            address = f"{n['sip_user']}@{name}"
            if n.get("sip_address") != address:
                await numbers.update_one({"_id": n["_id"]}, {"$set": {"sip_address": address, "updated_at": now()}})
        await self.repo.update_one({"_id": id, "name": name}, {"$unset": {"renaming_from": ""}})

    async def delete(self, id: str, *, confirm: bool = False) -> None:
        doc = await self._doc(id)
        if doc.get("default"):
            raise RuleError("sip_domain.default", name=doc["name"])
        accounts = await SipAccounts(self.db, self.scope).find({"domain_id": id})
        refs: list[Reference] = [Reference("number", n["_id"], n["number"], "sip_domain_id")
                                 for n in await Numbers(self.db, self.scope).find({"sip_domain_id": id})]
        account_ids = {a["_id"] for a in accounts}
        for acc in accounts:
            refs += [r for r in await find_references(self.db, self.scope, "sip_account", acc["_id"])
                     if not (r.type == "sip_account" and r.id in account_ids)]
        if refs:
            raise InUse(doc["name"], refs)
        if accounts and not confirm:
            raise RuleError("confirm.required", field="confirm", name=doc["name"], count=len(accounts))
        for acc in accounts:
            await SipAccounts(self.db, self.scope).delete_one({"_id": acc["_id"]})
        await self.repo.delete_one({"_id": id})
        await self._audit("delete", {**doc, "accounts": [f"{a['login']}@{a['domain']}" for a in accounts]}, None)


class SipAccountService(TenantService):
    repo_cls = SipAccounts
    object_type = "sip_account"
    section = "telephony.sip"

    async def list(self) -> list[dict]:
        return [_account_public(d) for d in await self.repo.find({}, sort=[("domain", 1), ("login", 1)])]

    async def get(self, id: str) -> dict:
        return _account_public(await self._doc(id))

    async def reveal_password(self, id: str) -> str:
        """The clear password, for a user with the right to see it (the web layer checks)."""
        doc = await self._doc(id)
        return self.box.decrypt(doc["password_enc"], f"sip_account:{doc['_id']}")

    async def _domain(self, domain_id: str | None) -> dict:
        domains = SipDomainService(self.db, self.pbx_id, self.actor)
        if domain_id is None:
            return await domains.ensure_default()
        doc = await SipDomains(self.db, self.scope).find_one({"_id": domain_id})
        if doc is None:
            raise RuleError("ref.unknown", field="domain_id", id=domain_id)
        return doc

    async def create(self, data: Mapping[str, Any]) -> dict:
        clean = clean_sip_account(data, password_required=True)
        password = clean.pop("password")
        domain = await self._domain(clean["domain_id"])
        doc = {**clean, "_id": new_id(), "domain_id": domain["_id"], "domain": domain["name"], "created_at": now()}
        await check_refs_exist(self.db, self.scope, [r for r in refs_of_sip_account(doc) if r[0] != "sip_domain"])
        self._set_secret(doc, password)
        try:
            await self.repo.insert_one(doc)
        except DuplicateKeyError:
            raise RuleError("sip_account.taken", field="login", login=doc["login"], domain=doc["domain"]) from None
        await self._audit("create", None, doc)
        if doc.get("employee_id"):
            await self._make_contact(doc)
        return _account_public(doc)

    def _set_secret(self, doc: dict, password: str) -> None:
        doc["password_enc"] = self.box.encrypt(password, f"sip_account:{doc['_id']}")
        doc["a1_hash"] = a1_hash(doc["login"], doc["domain"], password)

    async def _make_contact(self, doc: dict) -> None:
        employees = Employees(self.db, self.scope)
        before = await employees.find_one({"_id": doc["employee_id"]})
        if before is None or any(c.get("account_id") == doc["_id"] for c in before.get("contact_methods", ())):
            return
        method = {"id": new_id(), "kind": "sip_account", "account_id": doc["_id"], "active": True,
                  "ring_time": None, "schedule_id": None}
        after = await employees.find_one_and_update(
            {"_id": doc["employee_id"]}, {"$push": {"contact_methods": {"$each": [method], "$position": 0}}},
            return_document=ReturnDocument.AFTER)
        await self._audit("update", before, after, object_type="employee")

    async def update(self, id: str, data: Mapping[str, Any]) -> dict:
        before = await self._doc(id)
        clean = clean_sip_account(data, password_required=False)
        password = clean.pop("password")
        domain = await self._domain(clean["domain_id"] or before["domain_id"])
        doc = {**before, **clean, "domain_id": domain["_id"], "domain": domain["name"], "updated_at": now()}
        if doc.get("forward_to") == id:
            raise RuleError("sip_account.forward_self", field="forward_to")
        await check_refs_exist(self.db, self.scope, [r for r in refs_of_sip_account(doc) if r[0] != "sip_domain"])
        if doc.get("employee_id") != before.get("employee_id") and before.get("employee_id"):
            owner = await Employees(self.db, self.scope).find_one(
                {"_id": before["employee_id"], "contact_methods.account_id": id})
            if owner:
                raise RuleError("sip_account.employee_locked", field="employee_id", employee=owner["name"])
        if password is None and (doc["login"], doc["domain"]) != (before["login"], before["domain"]):
            password = self.box.decrypt(before["password_enc"], f"sip_account:{id}")  # digest realm changed
        if password is not None:
            self._set_secret(doc, password)
        try:
            await self.repo.replace_one({"_id": id}, doc)
        except DuplicateKeyError:
            raise RuleError("sip_account.taken", field="login", login=doc["login"], domain=doc["domain"]) from None
        await self._audit("update", before, doc)
        if doc.get("employee_id") and doc.get("employee_id") != before.get("employee_id"):
            await self._make_contact(doc)
        return _account_public(doc)


class SipAccessService(TenantService):
    """The SIP IP whitelist (free access, or restricted to the listed entries)."""

    repo_cls = TelSettings
    object_type = "settings"
    section = "telephony.sip"

    async def get(self) -> dict:
        doc = await self.repo.find_one({"_id": self.pbx_id})
        return (doc or {}).get("sip_access") or settings_defaults()["sip_access"]

    async def update(self, data: Mapping[str, Any]) -> dict:
        clean = clean_sip_access(data)
        before = await self.get()
        await self.repo.update_one({"_id": self.pbx_id}, {"$set": {"sip_access": clean}}, upsert=True)
        await self._audit("update", {"_id": self.pbx_id, "name": "sip_access", **before},
                          {"_id": self.pbx_id, "name": "sip_access", **clean})
        return clean
