"""API keys of a PBX (PRODUCT.md §1 "Integrators", §6; inventory D §4.6.7.3).

A key document::

    {_id: str (the key id, also the secret's visible prefix), pbx_id, name, role, whitelist: [str],
     secret_hash: sha256 hex of the whole secret, created_at, created_by, last_used_at, last_ip,
     revoked_at, revoked_by}

The secret itself (``pult_<id>_<43 random characters>``) is shown once at creation and never
stored: only its SHA-256 is (a random 256-bit secret needs no slow hash — nobody can guess it,
so there is nothing to brute-force offline). Authentication looks the key up by the id in the
secret — across PBXs, like sessions resolve their user — and compares hashes in constant time.
A revoked key stays listed (who revoked it and when) but never authenticates again.
"""
from __future__ import annotations

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument

from pult import clock

from .base import Scope, ScopedRepo


class RevocableKeys(ScopedRepo):
    """Keys that are revoked, never deleted (a tenant's API keys, the platform's integration keys)."""

    async def revoke(self, key: dict, by: str | None) -> dict | None:
        """Mark ``key`` revoked now by ``by``: the key as revoked, or None when it already was
        (before, or by someone else in between)."""
        if key.get("revoked_at") is not None:
            return None
        return await self.find_one_and_update({"_id": key["_id"], "revoked_at": None},
                                              {"$set": {"revoked_at": clock.now(), "revoked_by": by}},
                                              return_document=ReturnDocument.AFTER)


class ApiKeys(RevocableKeys):
    collection = "api_keys"
    indexes = [IndexModel([("pbx_id", ASCENDING), ("created_at", DESCENDING)], name="api_keys_pbx")]


async def key_by_id(db, key_id: str) -> dict | None:
    """A key by id in any PBX (authentication only: the id comes from the presented secret)."""
    if not isinstance(key_id, str) or not key_id:
        return None
    return await ApiKeys(db, Scope.platform()).find_one({"_id": key_id})
