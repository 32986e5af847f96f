"""The base of the per-area telephony services: scope, repository, not-found, audit, the
extension-owning create/update/delete and the "still referenced" refusals (see the conventions in
:mod:`esl_control.model.common`)."""
from __future__ import annotations

import re
from typing import Any, Callable, ClassVar, Mapping

from pymongo.errors import DuplicateKeyError

from esl_control.model.common import (SYSTEM_ACTOR, InUse, NotFound, check_extension_free, claim_extension,
                                      new_id, now, public, release_extension)
from esl_control.model.crypto import SecretBox
from esl_control.model.references import find_references
from esl_control.routing.errors import RuleError
from pult.errors import AppError
from storage.repos.audit import audit, normalize_actor
from storage.repos.base import Scope


# --- the service base ---------------------------------------------------------------------------
class TenantService:
    """Base of the per-area services: scope, repository, not-found, audit."""

    repo_cls: ClassVar[type]
    object_type: ClassVar[str]
    section: ClassVar[str]
    #: the object owns an extension of the PBX namespace (employees, groups, rooms)
    owns_extension: ClassVar[bool] = False
    #: the field logged as the object's name when it has no ``name`` (a list entry's value, a URL)
    name_field: ClassVar[str | None] = None

    def __init__(self, db, pbx_id: int, actor: Mapping[str, Any] | None = None, *, box: SecretBox | None = None):
        self.db = db
        self.pbx_id = pbx_id
        self.scope = Scope.pbx(pbx_id)
        self.actor = normalize_actor(actor or SYSTEM_ACTOR)
        self.repo = self.repo_cls(db, self.scope)
        self._box = box

    @property
    def box(self) -> SecretBox:
        """The box of the area's stored secrets (passwords, signing keys): the one given, else the
        installation's (read when first needed)."""
        if self._box is None:
            self._box = SecretBox.from_settings()
        return self._box

    async def _doc(self, id: Any) -> dict:
        doc = await self.repo.find_one({"_id": id}) if isinstance(id, str) else None
        if doc is None:
            raise NotFound(self.object_type, id)
        return doc

    def _named(self, doc: Mapping | None) -> Mapping | None:
        """``doc`` as audited: with ``name_field`` set, its value is the logged ``name``."""
        if doc is None or self.name_field is None or self.name_field not in doc:
            return doc
        return {**doc, "name": doc[self.name_field]}

    async def _audit(self, operation: str, before: Mapping | None, after: Mapping | None, *,
                     object_type: str | None = None) -> None:
        before, after = self._named(before), self._named(after)
        ref = after or before or {}
        await audit(self.db, self.scope, actor=self.actor, section=self.section, operation=operation,
                    object={"type": object_type or self.object_type, "id": ref.get("_id"),
                            "name": ref.get("name") or ref.get("number") or ref.get("login")},
                    before=public(before) if before else None, after=public(after) if after else None)

    async def _refuse_if_referenced(self, doc: Mapping, type: str | None = None) -> None:
        """Raise :class:`InUse` listing every object of this PBX that refers to ``doc``."""
        refs = await find_references(self.db, self.scope, type or self.object_type, doc["_id"])
        if refs:
            raise InUse(doc.get("name") or doc.get("number") or doc.get("login") or str(doc["_id"]), refs)

    async def list(self) -> list[dict]:
        return [public(d) for d in await self.repo.find({}, sort=[("name_norm", 1)])]

    # --- the lifecycle of one object: clean → check against the PBX → write → audit → after ------
    # An area states what differs in the hooks below; create/update/delete stay one shape.
    #: the area's validator of a document (``clean_group``, …): ``data`` → its validated fields.
    #: An area whose cleaning needs the stored object or the PBX overrides :meth:`_clean` instead.
    cleaner: ClassVar[Callable[[Mapping[str, Any]], dict]]

    async def _clean(self, data: Mapping[str, Any], before: Mapping[str, Any] | None) -> dict:
        """The validated fields of ``data`` (``before``: the stored object on update, else None)."""
        return type(self).cleaner(data)

    async def _check(self, data: Mapping[str, Any], doc: dict, before: Mapping[str, Any] | None) -> None:
        """What needs the rest of the PBX (references, edition flags, quotas; ``before`` None: a
        new object), before any write; may complete ``doc``."""

    async def _write(self, doc: dict, before: Mapping[str, Any] | None) -> None:
        """Store ``doc`` (new when ``before`` is None): an extension owner claims its extension
        first; a duplicate name is ``name.taken``."""
        if self.owns_extension:
            if before is None:
                await self._create_with_extension(doc)
            else:
                await self._update_with_extension(before, doc)
        elif before is None:
            await self._insert_named(doc)
        else:
            await self._replace_named(doc["_id"], doc)

    async def _check_delete(self, doc: Mapping[str, Any]) -> None:
        """Refuse deleting ``doc`` while anything of the PBX refers to it."""
        await self._refuse_if_referenced(doc)

    async def _remove(self, doc: Mapping[str, Any]) -> None:
        if self.owns_extension:
            await self._delete_with_extension(doc)
        else:
            await self.repo.delete_one({"_id": doc["_id"]})

    async def _after(self, operation: str, before: Mapping[str, Any] | None, doc: Mapping[str, Any] | None) -> None:
        """What follows an audited change (other stores kept in step)."""

    async def create(self, data: Mapping[str, Any], *, extra: Mapping[str, Any] | None = None) -> dict:
        """A new object from ``data``; ``extra``: fields a trusted caller sets as given (not input)."""
        doc = {**await self._clean(data, None), **(extra or {})}
        doc.update(_id=new_id(), created_at=now())
        await self._check(data, doc, None)
        await self._write(doc, None)
        await self._audit("create", None, doc)
        await self._after("create", None, doc)
        return public(doc)

    async def update(self, id: str, data: Mapping[str, Any], *, extra: Mapping[str, Any] | None = None) -> dict:
        """The object ``id`` with the fields of ``data`` (and ``extra``, as for :meth:`create`)."""
        before = await self._doc(id)
        doc = {**before, **await self._clean(data, before), **(extra or {}), "updated_at": now()}
        await self._check(data, doc, before)
        await self._write(doc, before)
        await self._audit("update", before, doc)
        await self._after("update", before, doc)
        return public(doc)

    async def delete(self, id: str) -> None:
        """Delete one object, refused while anything of the PBX refers to it; audited."""
        doc = await self._doc(id)
        await self._check_delete(doc)
        await self._remove(doc)
        await self._audit("delete", doc, None)
        await self._after("delete", doc, None)

    async def _insert_or_replace(self, doc: dict, replace: bool) -> None:
        """Write ``doc`` (new, or replacing the stored one of the same id) through the scope."""
        if replace:
            await self.repo.replace_one({"_id": doc["_id"]}, doc)
        else:
            await self.repo.insert_one(doc)

    async def _get_reached(self, id: str, ids: set[str] | None, outside: str) -> dict:
        """One object; another PBX's id is not found, one outside ``ids`` (a role's reach, None:
        everything) is refused with 403 and the message id ``outside``."""
        doc = await self.get(id)
        if ids is not None and id not in ids:
            raise AppError(403, "forbidden", outside)
        return doc

    async def _find_reached(self, ids: set[str] | None, q: str, fields: tuple[str, ...],
                            within: set[str] | None = None) -> list[dict]:
        """The objects whose id is in ``ids`` and ``within`` (None: no limit) with ``q`` in one of
        ``fields`` (case-insensitive), by name — read with one query, nothing filtered after."""
        if within is not None:
            ids = within if ids is None else ids & within
        flt: dict[str, Any] = {}
        if ids is not None:
            flt["_id"] = {"$in": sorted(ids)}
        if q:
            rx = {"$regex": re.escape(q), "$options": "i"}
            flt["$or"] = [{f: rx} for f in fields]
        return [public(d) for d in await self.repo.find(flt, sort=[("name_norm", 1)])]

    async def get(self, id: str) -> dict:
        return public(await self._doc(id))

    async def _insert_named(self, doc: dict) -> None:
        """Insert a document with a per-PBX unique name; a duplicate becomes ``name.taken``."""
        try:
            await self.repo.insert_one(doc)
        except DuplicateKeyError:
            raise RuleError("name.taken", field="name", name=doc.get("name")) from None

    # --- owners of an extension (employees, groups, rooms): the claim is written first, the owner
    # second; a crash in between leaves a claim whose owner does not hold that extension, which
    # claim_extension() treats as stale and takes over. The old claim is released last.
    async def _refuse_if_extension_referenced(self, doc: Mapping) -> None:
        """An owner's extension that a scheme forwards to, or the "if unavailable" setting transfers
        to, stays while they do: deleting or renumbering its owner is refused, listing them."""
        ext = doc.get("extension")
        refs = await find_references(self.db, self.scope, "extension", ext) if ext else []
        if refs:
            err = InUse(doc.get("name") or ext, refs, code="extension.in_use", extension=ext)
            err.field = "extension"
            raise err

    async def _create_with_extension(self, doc: dict) -> None:
        await check_extension_free(self.db, self.scope, doc["extension"], doc["_id"])
        await claim_extension(self.db, self.scope, doc["extension"], self.object_type, doc["_id"])
        try:
            await self._insert_named(doc)
        except BaseException:
            await release_extension(self.db, self.scope, doc["extension"], doc["_id"])
            raise

    async def _update_with_extension(self, before: dict, doc: dict) -> None:
        old, new = before.get("extension"), doc["extension"]
        if new != old:
            await self._refuse_if_extension_referenced(before)
            await check_extension_free(self.db, self.scope, new, doc["_id"])
            await claim_extension(self.db, self.scope, new, self.object_type, doc["_id"])
        try:
            await self._replace_named(doc["_id"], doc)
        except BaseException:
            if new != old:
                await release_extension(self.db, self.scope, new, doc["_id"])
            raise
        if new != old:
            await release_extension(self.db, self.scope, old, doc["_id"])

    async def _delete_with_extension(self, doc: dict) -> None:
        await self._refuse_if_extension_referenced(doc)
        await self.repo.delete_one({"_id": doc["_id"]})
        await release_extension(self.db, self.scope, doc.get("extension"), doc["_id"])

    async def _replace_named(self, id: str, doc: dict) -> None:
        doc["pbx_id"] = self.pbx_id
        try:
            await self.repo.replace_one({"_id": id}, doc)
        except DuplicateKeyError:
            raise RuleError("name.taken", field="name", name=doc.get("name")) from None
