"""The services behind the roles editor, users' roles, personal protection and API keys.

Each is built for one PBX with the acting user's :class:`~web.rights.Rights` and audit
actor; every change writes an action-log entry with before/after (``storage.repos.audit``).
Everything is validated before the first write, so a refused request changes nothing.

Rules beyond the shape of the input:

- nobody gives more than they have: a custom role, a role assignment or an API key's role that
  exceeds the actor's own rights in some section is refused, naming the section (no privilege
  escalation through the roles editor);
- a role's name is unique in the PBX (case-insensitive) and is not the name of a base role;
- deleting a custom role moves its users and API keys to Employee;
- a user's role is not changed by others when the user forbade it (personal protection of a
  Company head) — only the account administrator may; nobody changes their own role; the
  account administrator's role is the owner's and is not changed here.
"""
from __future__ import annotations

import secrets
from typing import Any, Mapping

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from pult import i18n
from pult import clock
from pult.errors import AppError
from pult.i18n import N_
from storage.repos.api_keys import ApiKeys
from storage.repos.audit import audit
from storage.repos.base import Scope
from storage.repos.roles import Roles, name_norm
from storage.repos.tenants import get_edition, get_pbx, has_feature
from storage.repos.users import (UserError, UserExists, Users, check_new_login, create_employee_login)
from web.enforce import KEY_PREFIX, hash_secret
from web.rights import (ASSIGNABLE, BASE_ROLES, FALLBACK_ROLE, SECTIONS_BY_KEY, RightsError,
                               RoleDef, Rights, normalize_sections, role_from_doc)
from esl_control.routing.acl import WhitelistError, parse_whitelist

INVALID = N_("Some fields are not filled in correctly.")
PROTECTION_KEYS = ("recordings", "recordings_api", "passwords", "role")


def invalid(field: str, message: str) -> AppError:
    return AppError(422, "validation_error", INVALID, fields={field: message})


def taken(field: str, message: str) -> AppError:
    """A well-formed value that clashes with what is stored (a name already used): 409."""
    return AppError(409, "conflict", INVALID, fields={field: message})


def _clean_name(name: str | None, field: str = "name") -> str:
    name = " ".join((name or "").split())
    if not name:
        raise invalid(field, N_("This field is required."))
    if len(name) > 100:
        raise invalid(field, N_("This field is too long."))
    return name


NO_ROLE_PACKAGE = N_("Custom roles come with the additional roles package, which your PBX edition does not include.")
NO_API = N_("The REST API is not included in your PBX edition, so API keys cannot be created.")


async def pbx_has_feature(db, pbx_id: int, flag: str) -> bool:
    """Whether the PBX's edition enables ``flag`` (a PBX with no edition set: everything is on)."""
    pbx = await get_pbx(db, pbx_id)
    code = (pbx or {}).get("edition")
    return has_feature(await get_edition(db, code) if code else None, flag)


async def drop_custom_roles_without_package(db, pbx_id: int, actor: Mapping[str, Any]) -> int:
    """Inventory D §4.6.3.3: when the PBX's edition no longer includes the additional roles
    package, every custom role is deleted and its users and API keys become Employee (each step
    in the action log). Returns how many roles were deleted (0 while the package is included)."""
    if await pbx_has_feature(db, pbx_id, "additional_roles"):
        return 0
    scope = Scope.pbx(pbx_id)
    roles, users, keys = Roles(db, scope), Users(db, scope), ApiKeys(db, scope)
    docs = await roles.find({})
    for doc in docs:
        for user in await users.find({"role": doc["_id"]}):
            await users.update_one({"_id": user["_id"]}, {"$set": {"role": FALLBACK_ROLE, "updated_at": clock.now()}})
            await audit(db, scope, actor=actor, section="access", operation="assign_role",
                        object={"type": "user", "id": user["_id"], "name": user.get("login")},
                        before={"role": doc["_id"], "role_name": doc["name"]}, after={"role": FALLBACK_ROLE})
        await keys.update_many({"role": doc["_id"]}, {"$set": {"role": FALLBACK_ROLE}})
        await roles.delete_one({"_id": doc["_id"]})
        await audit(db, scope, actor=actor, section="access", operation="delete",
                    object={"type": "role", "id": doc["_id"], "name": doc["name"]}, before=_role_state(doc), after=None)
    return len(docs)


_BASE_NAMES = {i18n.translate(lang, r.title).casefold() for r in BASE_ROLES.values() for lang in ("en", "ru")}


class AccessService:
    """Roles, users' roles and API keys of one PBX, acted on by one user."""

    def __init__(self, db, pbx_id: int, rights: Rights, actor: Mapping[str, Any],
                 user_id: str | None = None):
        self.db = db
        self.pbx_id = pbx_id
        self.scope = Scope.pbx(pbx_id)
        self.rights = rights
        self.actor = dict(actor)
        self.user_id = user_id
        self.roles = Roles(db, self.scope)
        self.users = Users(db, self.scope)
        self.keys = ApiKeys(db, self.scope)

    async def _audit(self, section: str, operation: str, obj: Mapping, before: Any, after: Any) -> None:
        await audit(self.db, self.scope, actor=self.actor, section=section, operation=operation,
                    object=obj, before=before, after=after)

    # --- roles ----------------------------------------------------------------------------------
    async def custom_roles(self) -> list[dict]:
        return await self.roles.find({}, sort=[("name_norm", 1)])

    async def role_users(self) -> dict[str, int]:
        """How many users hold each role key."""
        counts: dict[str, int] = {}
        for u in await self.users.find({"kind": "tenant"}, projection={"role": 1}):
            key = u.get("role") or FALLBACK_ROLE
            counts[key] = counts.get(key, 0) + 1
        return counts

    async def role_doc(self, role_id: str) -> dict:
        doc = await self.roles.find_one({"_id": role_id}) if ObjectId.is_valid(role_id) else None
        if doc is None:
            raise AppError(404, "not_found", N_("No such role."))
        return doc

    async def resolve_role(self, key: str, field: str = "role") -> RoleDef:
        """A role key as given in input (base key or custom id of this PBX) → RoleDef; 422 else."""
        if key in BASE_ROLES:
            if key not in ASSIGNABLE:
                raise invalid(field, N_("This role cannot be given here."))
            return BASE_ROLES[key]
        if not ObjectId.is_valid(key):
            raise invalid(field, N_("No such role."))
        doc = await self.roles.find_one({"_id": key})
        if doc is None:  # a well-formed id that names no role of the PBX: a conflict with its state
            raise AppError(409, "conflict", N_("No such role."), fields={field: N_("No such role.")})
        return role_from_doc(doc)

    def _check_grants(self, role: RoleDef, field_prefix: str = "sections") -> None:
        over = self.rights.exceeding(role)
        if over:
            field = f"{field_prefix}.{over[0]}" if field_prefix else "role"
            raise invalid(field, N_("You cannot give more rights than you have yourself."))

    async def _check_name(self, name: str, exclude_id: str | None = None) -> str:
        if name.casefold() in _BASE_NAMES:
            raise invalid("name", N_("This is the name of a base role; choose another."))
        flt: dict = {"name_norm": name_norm(name)}
        if exclude_id:
            flt["_id"] = {"$ne": exclude_id}
        if await self.roles.count(flt):
            raise taken("name", N_("A role with this name already exists."))
        return name

    def _sections(self, raw: Mapping | None, base: str) -> dict:
        try:
            return normalize_sections({k: (v.model_dump() if hasattr(v, "model_dump") else v)
                                       for k, v in (raw or {}).items()}, base)
        except RightsError as exc:
            raise invalid(exc.field, str(exc)) from None

    async def _require_feature(self, flag: str, message: str) -> None:
        """Refuse (409 ``edition_feature``) unless the PBX's edition includes ``flag``."""
        if not await pbx_has_feature(self.db, self.pbx_id, flag):
            raise AppError(409, "edition_feature", message)

    async def create_role(self, name: str, description: str, base: str, sections: Mapping | None) -> dict:
        await self._require_feature("additional_roles", NO_ROLE_PACKAGE)
        name = await self._check_name(_clean_name(name))
        if base not in BASE_ROLES:
            raise invalid("base", N_("Choose one of the base roles."))
        table = self._sections(sections, base)
        now = clock.now()
        doc = {"_id": str(ObjectId()), "name": name, "name_norm": name_norm(name),
               "description": (description or "").strip()[:500], "base": base, "sections": table,
               "created_at": now, "updated_at": now}
        self._check_grants(role_from_doc(doc))
        try:
            await self.roles.insert_one(doc)
        except DuplicateKeyError:
            raise taken("name", N_("A role with this name already exists.")) from None
        await self._audit("access", "create", {"type": "role", "id": doc["_id"], "name": name},
                          None, _role_state(doc))
        return doc

    async def copy_role(self, role_id: str, name_pattern: str = "Copy of %(name)s") -> dict:
        """Copy a custom role (inventory D §4.6.3): same base role, description and section
        toggles, under the first free name of ``name_pattern`` («Копия …» / "Copy of …", then
        "… (2)", "… (3)"…). Refused like :meth:`create_role` without the edition's additional
        roles package, and like any grant when the role exceeds the actor's own rights."""
        await self._require_feature("additional_roles", NO_ROLE_PACKAGE)
        if role_id in BASE_ROLES:
            raise AppError(409, "base_role", N_("Base roles cannot be copied; create a role derived from it."))
        source = await self.role_doc(role_id)
        self._check_grants(role_from_doc(source), field_prefix="")
        # "Copy of " and a long name may together exceed the limit: the copy's name is cut to it
        first = _clean_name(" ".join((name_pattern % {"name": source["name"]}).split())[:100])
        for n in range(1, 100):
            suffix = "" if n == 1 else f" ({n})"
            name = first[:100 - len(suffix)] + suffix
            if name.casefold() not in _BASE_NAMES and not await self.roles.count({"name_norm": name_norm(name)}):
                break
        else:
            raise taken("name", N_("A role with this name already exists."))
        now = clock.now()
        doc = {"_id": str(ObjectId()), "name": name, "name_norm": name_norm(name),
               "description": source.get("description") or "", "base": source["base"],
               "sections": {k: dict(v) for k, v in (source.get("sections") or {}).items()},
               "created_at": now, "updated_at": now}
        try:
            await self.roles.insert_one(doc)
        except DuplicateKeyError:  # a parallel copy took the same name: the user retries
            raise taken("name", N_("A role with this name already exists.")) from None
        await self._audit("access", "copy", {"type": "role", "id": doc["_id"], "name": name},
                          {"copied_from": source["_id"], "name": source["name"]}, _role_state(doc))
        return doc

    async def update_role(self, role_id: str, *, name: str | None = None, description: str | None = None,
                          sections: Mapping | None = None) -> dict:
        if role_id in BASE_ROLES:
            raise AppError(409, "base_role", N_("Base roles cannot be changed; create a role derived from it."))
        before = await self.role_doc(role_id)
        update: dict = {}
        if name is not None:
            update["name"] = await self._check_name(_clean_name(name), exclude_id=role_id)
            update["name_norm"] = name_norm(update["name"])
        if description is not None:
            update["description"] = description.strip()[:500]
        if sections is not None:
            merged = {**before.get("sections", {}),
                      **{k: (v.model_dump() if hasattr(v, "model_dump") else v) for k, v in sections.items()}}
            update["sections"] = self._sections(merged, before["base"])
        candidate = {**before, **update}
        self._check_grants(role_from_doc(candidate))
        if not update:
            return before
        update["updated_at"] = clock.now()
        try:
            after = await self.roles.find_one_and_update({"_id": role_id}, {"$set": update},
                                                         return_document=ReturnDocument.AFTER)
        except DuplicateKeyError:
            raise taken("name", N_("A role with this name already exists.")) from None
        if after is None:
            raise AppError(404, "not_found", N_("No such role."))
        await self._audit("access", "update", {"type": "role", "id": role_id, "name": after["name"]},
                          _role_state(before), _role_state(after))
        return after

    async def delete_role(self, role_id: str) -> int:
        """Delete a custom role; its users and keys become Employee. Returns how many users moved."""
        if role_id in BASE_ROLES:
            raise AppError(409, "base_role", N_("Base roles cannot be deleted."))
        doc = await self.role_doc(role_id)
        self._check_grants(role_from_doc(doc))
        moved = await self.users.update_many({"role": role_id}, {"$set": {"role": FALLBACK_ROLE, "updated_at": clock.now()}})
        await self.keys.update_many({"role": role_id}, {"$set": {"role": FALLBACK_ROLE}})
        await self.roles.delete_one({"_id": role_id})
        await self._audit("access", "delete", {"type": "role", "id": role_id, "name": doc["name"]},
                          _role_state(doc), None)
        return moved

    # --- users' roles ---------------------------------------------------------------------------
    async def list_users(self) -> list[dict]:
        return await self.users.find({"kind": "tenant"}, sort=[("login_norm", 1)])

    async def user_doc(self, user_id: str) -> dict:
        doc = await self.users.find_one({"_id": user_id, "kind": "tenant"})
        if doc is None:
            raise AppError(404, "not_found", N_("No such user."))
        return doc

    async def assign(self, user_id: str, role: str | None = None,
                     supervised_groups: list[str] | None = None) -> dict:
        """Change a user's role and/or their individual list of supervised groups."""
        target = await self.user_doc(user_id)
        update: dict = {}
        if role is not None and role != (target.get("role") or FALLBACK_ROLE):
            if target["_id"] == self.user_id:
                raise invalid("role", N_("You cannot change your own role."))
            if target.get("role") == "account_admin":
                raise invalid("role", N_("The account administrator's role cannot be changed."))
            protected = (target.get("protection") or {}).get("role")
            if protected and self.rights.role.key != "account_admin" and not self.rights.operator:
                raise AppError(403, "protected", N_("This user has forbidden others to change their role."))
            current = await self._role_or_fallback(target.get("role"))
            if self.rights.exceeding(current):
                raise invalid("role", N_("You cannot change the role of a user who has more rights than you."))
            new_role = await self.resolve_role(role)
            self._check_grants(new_role, field_prefix="")
            update["role"] = role
        if supervised_groups is not None:
            groups = await self._check_groups(supervised_groups)
            if groups != list(target.get("supervised_groups") or []):
                update["supervised_groups"] = groups
        if not update:
            return target
        update["updated_at"] = clock.now()
        after = await self.users.find_one_and_update({"_id": user_id}, {"$set": update},
                                                     return_document=ReturnDocument.AFTER)
        keys = [k for k in update if k != "updated_at"]
        await self._audit("access", "assign_role" if "role" in update else "update",
                          {"type": "user", "id": user_id, "name": target.get("display_name") or target["login"]},
                          {k: target.get(k) for k in keys}, {k: after.get(k) for k in keys})
        return after

    # --- cabinet logins of employees (the new-employee wizard, inventory B §1.3 step 3) -----------
    async def check_login(self, login: str, role: str) -> RoleDef:
        """Validate a new employee's cabinet login and role before anything is written: the actor
        may change access settings, the login is well-formed and free in the PBX, the role exists,
        may be given, and gives no more than the actor has. Returns the role."""
        if not self.rights.can("access", "edit"):
            raise AppError(403, "forbidden",
                           N_("Creating a cabinet login needs the right to change access settings."))
        try:
            check_new_login(login)
        except UserError:
            raise invalid("login", N_("Use 1 to 64 Latin letters, digits and . _ @ - (starting with a letter or digit).")) from None
        if await self.users.find_one({"kind": "tenant", "login_norm": login.lower()}):
            raise taken("login", N_("This login is already taken in the PBX."))
        role_def = await self.resolve_role(role)
        self._check_grants(role_def, field_prefix="")
        return role_def

    async def create_login(self, employee: Mapping[str, Any], login: str, role: str, *, language: str,
                           account_id: int | None = None) -> dict:
        """Create the cabinet user of ``employee`` without a password (it is set through the
        e-mailed link or a code); call :meth:`check_login` first. Writes the action log."""
        try:
            user = await create_employee_login(self.db, self.pbx_id, login, dict(employee), role=role,
                                               language=language, account_id=account_id)
        except UserExists:  # taken between the check and the write
            raise taken("login", N_("This login is already taken in the PBX.")) from None
        await self._audit("access", "create_user",
                          {"type": "user", "id": user["_id"], "name": user.get("display_name") or login},
                          None, {"login": login, "role": role, "employee_id": user.get("employee_id"),
                                 "email": user.get("email"), "phone": user.get("phone")})
        return user

    async def _role_or_fallback(self, key: str | None) -> RoleDef:
        key = key or FALLBACK_ROLE
        if key in BASE_ROLES:
            return BASE_ROLES[key]
        doc = await self.roles.find_one({"_id": key}) if ObjectId.is_valid(key) else None
        return role_from_doc(doc) if doc else BASE_ROLES[FALLBACK_ROLE]

    async def _check_groups(self, ids: list[str]) -> list[str]:
        from storage.repos.telephony import RingGroups

        out: list[str] = []
        for gid in ids:
            if not isinstance(gid, str) or not gid.strip():
                raise invalid("supervised_groups", N_("No such group."))
            if gid not in out:
                out.append(gid)
        if out:
            found = {d["_id"] for d in await RingGroups(self.db, self.scope).find({"_id": {"$in": out}},
                                                                                  projection={"_id": 1})}
            if set(out) - found:
                raise invalid("supervised_groups", N_("No such group."))
        return out

    # --- personal protection ------------------------------------------------------------------
    async def set_protection(self, user: dict, values: Mapping[str, bool]) -> dict:
        if not self.rights.role.protection:
            raise AppError(403, "forbidden",
                           N_("Personal protection is for the Company head role and roles derived from it."))
        before = {k: bool((user.get("protection") or {}).get(k)) for k in PROTECTION_KEYS}
        after = {k: bool(values.get(k)) for k in PROTECTION_KEYS}
        if before != after:
            await self.users.update_one({"_id": user["_id"]},
                                        {"$set": {"protection": after, "updated_at": clock.now()}})
            await self._audit("access", "update",
                              {"type": "protection", "id": user["_id"], "name": user.get("display_name")},
                              before, after)
        return after

    # --- API keys -------------------------------------------------------------------------------
    def _whitelist(self, entries: list[str]) -> list[str]:
        try:
            return [e.text for e in parse_whitelist(entries)]
        except WhitelistError as exc:
            field = "whitelist" if exc.index is None else f"whitelist.{exc.index}"
            raise invalid(field, exc.message) from None

    async def _key_role(self, role: str) -> str:
        if role == "no_access":
            raise invalid("role", N_("A key with the role No access could do nothing; choose another role."))
        self._check_grants(await self.resolve_role(role), field_prefix="")
        return role

    async def list_keys(self) -> list[dict]:
        return await self.keys.find({}, sort=[("created_at", -1)])

    async def key_doc(self, key_id: str) -> dict:
        doc = await self.keys.find_one({"_id": key_id})
        if doc is None:
            raise AppError(404, "not_found", N_("No such API key."))
        return doc

    async def create_key(self, name: str, role: str, whitelist: list[str]) -> tuple[dict, str]:
        """Create a key; returns (document, secret). The secret is not stored, only its hash."""
        await self._require_feature("api", NO_API)
        name = _clean_name(name)
        role = await self._key_role(role)
        entries = self._whitelist(whitelist)
        key_id = secrets.token_hex(6)
        secret = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        doc = {"_id": key_id, "name": name, "role": role, "whitelist": entries,
               "secret_hash": hash_secret(secret), "created_at": clock.now(),
               "created_by": self.actor.get("login"), "last_used_at": None, "last_ip": None,
               "revoked_at": None, "revoked_by": None}
        await self.keys.insert_one(doc)
        await self._audit("integrations", "create", {"type": "api_key", "id": key_id, "name": name},
                          None, _key_state(doc))
        return doc, secret

    async def update_key(self, key_id: str, *, name: str | None = None, role: str | None = None,
                         whitelist: list[str] | None = None) -> dict:
        before = await self.key_doc(key_id)
        if before.get("revoked_at") is not None:
            raise AppError(409, "revoked", N_("This API key has been revoked and cannot be changed."))
        update: dict = {}
        if name is not None:
            update["name"] = _clean_name(name)
        if role is not None:
            update["role"] = await self._key_role(role)
        if whitelist is not None:
            update["whitelist"] = self._whitelist(whitelist)
        if not update:
            return before
        after = await self.keys.find_one_and_update({"_id": key_id}, {"$set": update},
                                                    return_document=ReturnDocument.AFTER)
        await self._audit("integrations", "update", {"type": "api_key", "id": key_id, "name": after["name"]},
                          _key_state(before), _key_state(after))
        return after

    async def revoke_key(self, key_id: str) -> dict:
        before = await self.key_doc(key_id)
        after = await self.keys.revoke(before, self.actor.get("login"))
        if after is None:  # revoked already
            return await self.key_doc(key_id)
        await self._audit("integrations", "revoke", {"type": "api_key", "id": key_id, "name": after["name"]},
                          _key_state(before), _key_state(after))
        return after


def _role_state(doc: Mapping) -> dict:
    return {"name": doc.get("name"), "description": doc.get("description"), "base": doc.get("base"),
            "sections": {k: dict(v) for k, v in (doc.get("sections") or {}).items()
                         if k in SECTIONS_BY_KEY}}


def _key_state(doc: Mapping) -> dict:
    return {"name": doc.get("name"), "role": doc.get("role"), "whitelist": list(doc.get("whitelist") or []),
            "revoked": doc.get("revoked_at") is not None}
