"""Accounts («лицевой счёт») and PBXs («ВАТС») — the tenancy roots (PRODUCT.md §2).

These are operator-level aggregates: they are read and written through the platform scope by
operator handlers and system jobs, and a tenant reads its own PBX through ``Scope.pbx`` (the PBX
document carries its own id in ``pbx_id``). Numeric ids come from the ``counters`` collection
(atomic ``$inc``), so they are unique across Pult instances.
"""
from __future__ import annotations

from datetime import datetime, timezone

from pymongo import ASCENDING, IndexModel, ReturnDocument

from .base import Scope, ScopedRepo


async def next_id(db, name: str, start: int) -> int:
    """The next value of a named counter (first value ``start``)."""
    doc = await db["counters"].find_one_and_update(
        {"_id": name}, {"$inc": {"value": 1}}, upsert=True, return_document=ReturnDocument.AFTER)
    return start + doc["value"] - 1


class Accounts(ScopedRepo):
    collection = "accounts"
    scopes = ("account_id", None)
    indexes = [IndexModel([("account_id", ASCENDING)], unique=True, name="account_id_unique")]


class Pbxes(ScopedRepo):
    collection = "pbxes"
    scopes = ("pbx_id", "account_id", None)
    indexes = [IndexModel([("pbx_id", ASCENDING)], unique=True, name="pbx_id_unique"),
               IndexModel([("account_id", ASCENDING)], name="account"),
               IndexModel([("sip_domain", ASCENDING)], unique=True, name="sip_domain_unique")]


async def create_account(db, name: str, email: str, **fields) -> dict:
    account_id = await next_id(db, "account_id", 100001)
    doc = {"account_id": account_id, "name": name, "email": email,
           "created_at": datetime.now(timezone.utc), **fields}
    await Accounts(db, Scope.platform()).insert_one(doc)
    return doc


async def create_pbx(db, account_id: int, name: str, sip_base_domain: str, *,
                     time_zone: str = "Europe/Moscow", status: str = "active", **fields) -> dict:
    """Create a PBX with its numeric id and its own SIP domain ``vpbx<id>.<base domain>``."""
    pbx_id = await next_id(db, "pbx_id", 101)
    doc = {"pbx_id": pbx_id, "account_id": account_id, "name": name, "status": status,
           "time_zone": time_zone, "sip_domain": f"vpbx{pbx_id}.{sip_base_domain}",
           "created_at": datetime.now(timezone.utc), **fields}
    await Pbxes(db, Scope.platform()).insert_one(doc)
    return doc
