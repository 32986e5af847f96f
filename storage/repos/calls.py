"""Call records: one document per call leg, keyed by the FreeSWITCH channel uuid.

:func:`save_call_record` is the single write path for records coming off ESL. It is idempotent:
the same CHANNEL_HANGUP_COMPLETE seen on the inbound connection, again on the outbound lingering
socket, or again after a reconnect, stores one record. It upserts with ``$setOnInsert`` on the
unique ``uuid`` so both MongoDB and the embedded store honour it without transactions.
"""
from __future__ import annotations


from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from pult import clock

from .base import ScopedRepo


class CallRecords(ScopedRepo):
    """A tenant's call history (scope: PBX), or every call (platform scope, operator only)."""

    collection = "call_records"
    indexes = [
        IndexModel([("uuid", ASCENDING)], unique=True, name="uuid_unique"),
        IndexModel([("pbx_id", ASCENDING), ("start", DESCENDING)], name="pbx_start"),
        IndexModel([("node", ASCENDING), ("start", DESCENDING)], name="node_start"),
        # only records still waiting for rating carry the flag: the billing sweeper's lookup
        IndexModel([("rating_pending", ASCENDING), ("stored_at", ASCENDING)], sparse=True,
                   name="rating_pending"),
    ]


async def save_call_record(db, record: dict) -> bool:
    """Store a call record once; returns True when this call stored it, False if it existed."""
    if not record.get("uuid"):
        raise ValueError("a call record needs the channel uuid")
    doc = dict(record)
    doc.setdefault("stored_at", clock.now())
    doc.setdefault("rating_pending", True)  # cleared by billing once rated or marked in error
    try:
        res = await db[CallRecords.collection].update_one(
            {"uuid": doc["uuid"]}, {"$setOnInsert": doc}, upsert=True)
    except DuplicateKeyError:  # two writers raced on the same uuid: the other one stored it
        return False
    return res.upserted_id is not None
