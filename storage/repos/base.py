"""Tenant scoping in one place.

A repository is built with a :class:`Scope` and adds it to every filter it runs and every
document it writes, so a handler cannot forget it: a user of PBX A asking for an id of PBX B
simply finds nothing. There is no way to build a tenant repository without a scope; the
operator's cross-tenant views ask for :meth:`Scope.platform` by name.

Each repository class declares its collection and indexes; :func:`all_indexes` collects them
for :func:`storage.indexes.ensure_indexes`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from pymongo import IndexModel

_REGISTRY: list[type["ScopedRepo"]] = []


class ScopeError(ValueError):
    """A repository was asked for without a valid scope."""


@dataclass(frozen=True)
class Scope:
    """Whose data a repository sees: one PBX, one account, or (explicitly) the whole platform."""

    field: str | None
    value: Any

    @classmethod
    def pbx(cls, pbx_id: int | None) -> "Scope":
        if pbx_id is None or isinstance(pbx_id, bool) or not isinstance(pbx_id, int) or pbx_id <= 0:
            raise ScopeError(f"a PBX scope needs a positive integer PBX id, got {pbx_id!r}")
        return cls("pbx_id", pbx_id)

    @classmethod
    def account(cls, account_id: int | None) -> "Scope":
        if account_id is None or isinstance(account_id, bool) or not isinstance(account_id, int) \
                or account_id <= 0:
            raise ScopeError(f"an account scope needs a positive integer account id, got {account_id!r}")
        return cls("account_id", account_id)

    @classmethod
    def platform(cls) -> "Scope":
        """Operator-level, cross-tenant access. Only operator handlers and system jobs use it."""
        return cls(None, None)

    @property
    def is_platform(self) -> bool:
        return self.field is None

    def filter(self, flt: dict | None = None) -> dict:
        flt = dict(flt or {})
        if self.field is None:
            return flt
        if self.field in flt and flt[self.field] != self.value:
            # an explicit other-tenant filter can never widen the scope
            return {"$and": [flt, {self.field: self.value}]}
        flt[self.field] = self.value
        return flt


class ScopedRepo:
    """Base of every repository. Subclasses set ``collection``, ``scopes`` and ``indexes``."""

    collection: ClassVar[str]
    scopes: ClassVar[tuple[str | None, ...]] = ("pbx_id", None)  # which scope kinds are allowed
    indexes: ClassVar[list[IndexModel]] = []

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if getattr(cls, "collection", None):
            _REGISTRY.append(cls)

    def __init__(self, db, scope: Scope):
        if not isinstance(scope, Scope):
            raise ScopeError(f"{type(self).__name__} needs a Scope, got {scope!r}")
        if scope.field not in self.scopes:
            raise ScopeError(f"{type(self).__name__} cannot be used with a {scope.field or 'platform'} scope")
        self.db = db
        self.scope = scope
        self.coll = db[self.collection]

    # --- reads
    async def find_one(self, flt: dict | None = None, projection: Any = None) -> dict | None:
        return await self.coll.find_one(self.scope.filter(flt), projection)

    async def find(self, flt: dict | None = None, *, sort: list | None = None, skip: int = 0,
                   limit: int = 0, projection: Any = None) -> list[dict]:
        cur = self.coll.find(self.scope.filter(flt), projection)
        if sort:
            cur = cur.sort(sort)
        if skip:
            cur = cur.skip(skip)
        if limit:
            cur = cur.limit(limit)
        return await cur.to_list(None)

    async def count(self, flt: dict | None = None) -> int:
        return await self.coll.count_documents(self.scope.filter(flt))

    # --- writes
    def _stamp(self, doc: dict) -> dict:
        if self.scope.field is not None:
            if doc.get(self.scope.field, self.scope.value) != self.scope.value:
                raise ScopeError(f"document of {self.scope.field}={doc[self.scope.field]!r} "
                                 f"written through a {self.scope.field}={self.scope.value!r} scope")
            doc[self.scope.field] = self.scope.value
        return doc

    async def insert_one(self, doc: dict) -> Any:
        res = await self.coll.insert_one(self._stamp(doc))
        return res.inserted_id

    async def update_one(self, flt: dict, update: dict, *, upsert: bool = False) -> bool:
        self._guard_update(update)
        res = await self.coll.update_one(self.scope.filter(flt), update, upsert=upsert)
        return bool(res.matched_count or res.upserted_id is not None)

    async def find_one_and_update(self, flt: dict, update: dict, **kw) -> dict | None:
        self._guard_update(update)
        return await self.coll.find_one_and_update(self.scope.filter(flt), update, **kw)

    async def replace_one(self, flt: dict, doc: dict) -> bool:
        """Replace one document of the scope; the new one is stamped with the scope (a document of
        another scope is refused), so a replace never moves a document out of its PBX."""
        res = await self.coll.replace_one(self.scope.filter(flt), self._stamp(doc))
        return res.matched_count == 1

    async def update_many(self, flt: dict, update: dict) -> int:
        """Update every document of the scope matching ``flt``; the number matched."""
        self._guard_update(update)
        res = await self.coll.update_many(self.scope.filter(flt), update)
        return res.matched_count

    async def delete_one(self, flt: dict) -> bool:
        res = await self.coll.delete_one(self.scope.filter(flt))
        return res.deleted_count == 1

    async def delete_many(self, flt: dict) -> int:
        res = await self.coll.delete_many(self.scope.filter(flt))
        return res.deleted_count

    def _guard_update(self, update: dict) -> None:
        field = self.scope.field
        if field is None:
            return
        for op, body in update.items():
            if isinstance(body, dict) and field in body and not (op == "$setOnInsert"
                                                                  and body[field] == self.scope.value):
                raise ScopeError(f"{field} cannot be changed through a scoped repository")


def all_indexes() -> dict[str, list[IndexModel]]:
    """Collection name → index models, from every repository class defined so far."""
    out: dict[str, list[IndexModel]] = {}
    for cls in _REGISTRY:
        out.setdefault(cls.collection, [])
        names = {m.document["name"] for m in out[cls.collection]}
        out[cls.collection].extend(m for m in cls.indexes if m.document["name"] not in names)
    return out
