"""Billing repositories: tariffs, the append-only ledger, cached balances, free-minute pools and
generated documents.

Every method works over **both** database shapes: the async one (``store.db``, the server) and
the sync one (``store.sync_db``, Celery workers). Methods are coroutines; over a sync database they
never suspend, so a worker drives them with :func:`run_sync` (no event loop needed), e.g.
``run_sync(post_entry(store.sync_db, ...))``.

Correctness never depends on multi-document transactions (DESIGN.md): each step is a
single-document atomic update or an insert guarded by a unique index, and every step is
idempotent, so a retried job converges to the same state.
"""
from __future__ import annotations

import inspect
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

from .base import Scope, ScopedRepo


async def aw(value: Any) -> Any:
    """Await ``value`` if it is awaitable (async db) or return it as is (sync db)."""
    if inspect.isawaitable(value):
        return await value
    return value


async def to_list(cursor: Any) -> list:
    """Materialise a cursor from either database shape."""
    cursor = await aw(cursor)  # async aggregate() returns an awaitable cursor
    if hasattr(cursor, "__aiter__"):
        return [doc async for doc in cursor]
    return list(cursor)


def run_sync(coro) -> Any:
    """Run a billing coroutine over a *sync* database to completion, without an event loop.

    Raises :class:`RuntimeError` if the coroutine really suspends (it was given an async db).
    """
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    coro.close()
    raise RuntimeError("run_sync() needs a sync database (store.sync_db); this coroutine awaited real I/O")


class _Repo(ScopedRepo):
    """ScopedRepo whose own helpers accept the sync database shape too."""

    async def get(self, flt: dict, projection: Any = None) -> dict | None:
        return await aw(self.coll.find_one(self.scope.filter(flt), projection))

    async def list(self, flt: dict | None = None, sort: list | None = None, limit: int = 0) -> list[dict]:
        cur = self.coll.find(self.scope.filter(flt))
        if sort:
            cur = cur.sort(sort)
        if limit:
            cur = cur.limit(limit)
        if hasattr(cur, "to_list") and inspect.iscoroutinefunction(cur.to_list):
            return await cur.to_list(None)
        return list(cur)

    async def aggregate(self, pipeline: list[dict]) -> list[dict]:
        return await to_list(self.coll.aggregate([{"$match": self.scope.filter({})}, *pipeline]))

    async def insert(self, doc: dict) -> Any:
        res = await aw(self.coll.insert_one(self._stamp(doc)))
        return res.inserted_id

    async def update(self, flt: dict, update: dict, *, upsert: bool = False) -> Any:
        self._guard_update(update)
        return await aw(self.coll.update_one(self.scope.filter(flt), update, upsert=upsert))

    async def fetch_update(self, flt: dict, update: dict, *, upsert: bool = False,
                           after: bool = True) -> dict | None:
        self._guard_update(update)
        return await aw(self.coll.find_one_and_update(
            self.scope.filter(flt), update, upsert=upsert,
            return_document=ReturnDocument.AFTER if after else ReturnDocument.BEFORE))


class Tariffs(_Repo):
    """Call tariffs (platform data; ``_id`` is the tariff id). See ``jobs.billing.rating.Tariff``."""

    collection = "tariffs"
    scopes = (None,)
    indexes = [IndexModel([("name", ASCENDING)], name="tariff_name")]

    async def save(self, doc: dict) -> None:
        await self.update({"_id": doc["_id"]}, {"$set": {k: v for k, v in doc.items() if k != "_id"}},
                          upsert=True)


class LedgerEntries(_Repo):
    """Append-only charges and payments of an account. Never updated except the ``applied`` mark
    and the notice bookkeeping (``transition``, ``notice_pending``; see jobs.billing.ledger)."""

    collection = "ledger_entries"
    scopes = ("account_id", None)
    indexes = [
        IndexModel([("account_id", ASCENDING), ("key", ASCENDING)], unique=True, name="account_key_unique"),
        # payments/expenses of a period in time order (jobs.billing.ledger.list_entries)
        IndexModel([("account_id", ASCENDING), ("created_at", ASCENDING), ("seq", ASCENDING)],
                   name="account_created_seq"),
        IndexModel([("applied", ASCENDING), ("created_at", ASCENDING)], name="unapplied"),
        # payments whose notices are not queued yet (jobs.billing.tasks.sweep_notices)
        IndexModel([("notice_pending", ASCENDING), ("created_at", ASCENDING)], name="notice_pending",
                   partialFilterExpression={"notice_pending": True}),
    ]


class Balances(_Repo):
    """One document per account: cached balance, posting sequence, recent keys, blocked state."""

    collection = "balances"
    scopes = ("account_id", None)
    indexes = [IndexModel([("account_id", ASCENDING)], unique=True, name="balance_account_unique")]

    async def ensure(self) -> None:
        try:
            await self.update({}, {"$setOnInsert": {"balance": 0, "seq": 0, "recent_keys": [],
                                                    "blocked": False, "state_seq": 0}}, upsert=True)
        except DuplicateKeyError:  # created concurrently: fine
            pass


class FreePools(_Repo):
    """Monthly free-minute pools: ``used`` seconds per (account, period, pool name)."""

    collection = "free_pools"
    scopes = ("account_id", None)
    indexes = [IndexModel([("account_id", ASCENDING), ("period", ASCENDING), ("pool", ASCENDING)],
                          unique=True, name="pool_unique")]

    async def consume(self, period: str, pool_seconds: int, wanted: int, pool: str = "calls") -> int:
        """Reserve up to ``wanted`` seconds from the pool; return the seconds granted.

        One atomic ``$inc``: each caller owns the interval ``[after - wanted, after)`` of the
        counter, and is granted the part of it below ``pool_seconds``. Concurrent callers never
        get the same free second.
        """
        if wanted <= 0 or pool_seconds <= 0:
            return 0
        flt = {"period": period, "pool": pool}
        try:
            doc = await self.fetch_update(flt, {"$inc": {"used": wanted}}, upsert=True)
        except DuplicateKeyError:  # two first consumers raced on the upsert: the document exists now
            doc = await self.fetch_update(flt, {"$inc": {"used": wanted}})
        before = doc["used"] - wanted
        return max(0, min(wanted, pool_seconds - before))

    async def used(self, period: str, pool: str = "calls") -> int:
        doc = await self.get({"period": period, "pool": pool})
        return doc["used"] if doc else 0


class BillingDocuments(_Repo):
    """Generated accounting documents: metadata here, the file in ``store.media``."""

    collection = "billing_documents"
    scopes = ("account_id", None)
    indexes = [
        IndexModel([("account_id", ASCENDING), ("key", ASCENDING)], unique=True, name="doc_key_unique"),
        IndexModel([("account_id", ASCENDING), ("created_at", DESCENDING)], name="doc_created"),
    ]


class BillingNotifications(_Repo):
    """Notification settings of an account (inventory A §2.7), one document per account::

        {account_id, language, low_balance: {enabled, emails, phones, mode: manual|auto,
         threshold (kopecks), attach_invoice, invoice_amount (kopecks)},
         block: {enabled, emails, phones}, credit: {enabled, emails, phones},
         last_low_balance_at, updated_at}

    ``last_low_balance_at`` is claimed atomically (``fetch_update`` guarded by its old value), so
    the critical-balance notice goes out at most once per 5 days however many workers check.
    """

    collection = "billing_notifications"
    scopes = ("account_id", None)
    indexes = [IndexModel([("account_id", ASCENDING)], unique=True, name="notify_account_unique")]


class BillingPeriods(_Repo):
    """Monthly close bookkeeping (platform scope): ``{_id: "YYYY-MM", state, started_at,
    finished_at, accounts}`` — one document per closed period, so a second beat run is a no-op."""

    collection = "billing_periods"
    scopes = (None,)
    indexes = []


async def next_number(db, name: str) -> int:
    """Next value (1, 2, …) of a named document-number counter (e.g. ``invoice:2025``)."""
    doc = await aw(db["counters"].find_one_and_update(
        {"_id": name}, {"$inc": {"value": 1}}, upsert=True, return_document=ReturnDocument.AFTER))
    return doc["value"]


__all__ = ["aw", "to_list", "run_sync", "Tariffs", "LedgerEntries", "Balances", "FreePools",
           "BillingDocuments", "BillingNotifications", "BillingPeriods", "next_number", "Scope"]
