"""Call records: one document per call, keyed by the uuid of the channel that started it (the
A-leg), with the legs the switch originated from it (the bridged B-legs: who was rung, for how
long, with what result) in its ``legs`` list.

:func:`save_call_record` is the single write path for records coming off ESL and mod_json_cdr. It
is idempotent and order-free: the same CHANNEL_HANGUP_COMPLETE seen on the inbound connection,
again on the outbound lingering socket, again after a reconnect or as a JSON CDR, stores once; a
leg (a record with ``leg_of``) that ends before its call is kept in a stub document that the
A-leg's record completes, and one that ends after it is added to it. Both writes are single-
document upserts guarded by the unique ``uuid`` (no transactions: MongoDB and the embedded store
alike): the A-leg's only when the document has no ``stored_at`` yet, a leg's only when the list
does not name its uuid yet; a lost race is the unique index's DuplicateKeyError, i.e. "stored".

A stub carries ``stub_since`` (when its first leg came) until the A-leg's record completes it; a
stub whose call never comes (its A-leg's record was lost, or the leg named a channel that was no
call) is removed by :func:`remove_stale_stubs` (the daily retention job) a day later.
"""
from __future__ import annotations


from datetime import datetime, timedelta

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from pult import clock

from .base import ScopedRepo


#: what makes a call "answered" on the dashboards (some seconds of conversation): the filter of
#: the partial index ``answered_start``, which a count serves only when it states this condition
#: exactly as it is written here (see storage.ordered_index)
ANSWERED = {"billsec": {"$gt": 0}}


class CallRecords(ScopedRepo):
    """A tenant's call history (scope: PBX), or every call (platform scope, operator only)."""

    collection = "call_records"
    indexes = [
        IndexModel([("uuid", ASCENDING)], unique=True, name="uuid_unique"),
        # call history (newest first, with its date/reach filters), the dashboard's "calls today":
        # filter + order + tie-break of web.api.calls.NEWEST_FIRST, per PBX and platform-wide
        IndexModel([("pbx_id", ASCENDING), ("start", DESCENDING), ("uuid", DESCENDING)], name="pbx_start_uuid"),
        IndexModel([("start", DESCENDING), ("uuid", DESCENDING)], name="start_uuid"),
        # the "own calls" / "my groups" reach (esl_control.model.call_history): one index per $or
        # branch, so such a page walks only the user's calls, newest first
        *[IndexModel([("pbx_id", ASCENDING), (f, ASCENDING), ("start", DESCENDING), ("uuid", DESCENDING)],
                     name=f"pbx_{f.replace('.', '_')}_start") for f in
          ("caller", "callee", "vars.pult_employee_id", "vars.pult_group_id")],
        # the operator dashboard's "answered today" (CallHistory.summary): the answered calls
        # alone, counted over a range of their start (MongoDB: billsec in the keys, so that the
        # count needs no document)
        IndexModel([("start", DESCENDING), ("billsec", ASCENDING)], partialFilterExpression=ANSWERED,
                   name="answered_start"),
        IndexModel([("node", ASCENDING), ("start", DESCENDING)], name="node_start"),
        # only records still waiting for rating carry the flag: the billing sweeper's lookup
        IndexModel([("rating_pending", ASCENDING), ("stored_at", ASCENDING)], sparse=True,
                   name="rating_pending"),
        # only stubs (legs whose call has not come yet) carry it: the stale-stub sweep's lookup
        IndexModel([("stub_since", ASCENDING)], sparse=True, name="stub_since"),
    ]


#: what a leg keeps of its channel's record (the call's record has the rest)
LEG_FIELDS = ("uuid", "node", "direction", "caller", "caller_name", "callee", "channel", "start", "answer",
              "end", "duration", "billsec", "hangup_cause", "vars")


def leg_entry(record: dict) -> dict:
    """The ``legs`` entry of a leg's record (see :data:`LEG_FIELDS`)."""
    return {k: record.get(k) for k in LEG_FIELDS if record.get(k) is not None}


async def save_call_record(db, record: dict) -> bool:
    """Store a call record once; returns True when this call stored it, False if it existed.

    A record with ``leg_of`` is stored as a leg of that call (see the module docstring)."""
    if not record.get("uuid"):
        raise ValueError("a call record needs the channel uuid")
    if record.get("leg_of"):
        return await _save_leg(db, record["leg_of"], leg_entry(record))
    doc = {k: v for k, v in record.items() if k not in ("_id", "legs")}
    doc.setdefault("stored_at", clock.now())
    doc.setdefault("rating_pending", True)  # cleared by billing once rated or marked in error
    try:
        res = await db[CallRecords.collection].update_one(
            {"uuid": doc["uuid"], "stored_at": {"$exists": False}},
            {"$set": doc, "$setOnInsert": {"legs": []}, "$unset": {"stub_since": ""}}, upsert=True)
    except DuplicateKeyError:  # stored before, or two writers raced: the other one stored it
        return False
    return res.upserted_id is not None or res.modified_count == 1


async def _save_leg(db, call_uuid: str, leg: dict) -> bool:
    try:
        res = await db[CallRecords.collection].update_one(
            {"uuid": call_uuid, "legs.uuid": {"$ne": leg["uuid"]}},
            {"$push": {"legs": leg}, "$setOnInsert": {"stub_since": clock.now()}}, upsert=True)
    except DuplicateKeyError:  # the call's record already lists this leg
        return False
    return res.upserted_id is not None or res.modified_count == 1


#: a stub whose call has not come this long after its first leg is removed
STUB_MAX_AGE = timedelta(days=1)
STUB_BATCH = 1000


async def remove_stale_stubs(db, now: datetime | None = None, max_age: timedelta = STUB_MAX_AGE) -> int:
    """Remove the stubs (legs whose call never came) older than ``max_age``; returns how many.
    A document the A-leg's record completed meanwhile is not a stub any more (``stored_at``) and
    stays, even if it raced with this sweep. Through the sparse ``stub_since`` index, in batches."""
    cutoff = (now or clock.now()) - max_age
    flt = {"stub_since": {"$lt": cutoff}, "stored_at": {"$exists": False}}
    removed = 0
    while True:
        batch = await db[CallRecords.collection].find(flt, {"_id": 1}).sort([("stub_since", 1)]) \
            .limit(STUB_BATCH).to_list(None)
        if not batch:
            return removed
        res = await db[CallRecords.collection].delete_many(
            {"_id": {"$in": [d["_id"] for d in batch]}, "stored_at": {"$exists": False}})
        removed += res.deleted_count
        if len(batch) < STUB_BATCH:
            return removed


# --- media recorded during a call (voice mail, faxes), linked once each ------------------------
#: a media item's kind -> the record's list of its file ids (the inboxes read these)
MEDIA_ID_FIELDS = {"voicemail": "voicemail_ids", "fax": "fax_ids"}


async def find_call(db, uuid: str) -> dict | None:
    """The stored record of a call (any tenant: the spool import finds the owner this way)."""
    return await db[CallRecords.collection].find_one({"uuid": uuid})


async def link_media(db, uuid: str, entry: dict) -> bool:
    """Add ``entry`` (``{"kind", "id", "spool", …}``) to the record's ``media`` list and its id to
    ``voicemail_ids``/``fax_ids``, once per spool file name. Returns True when this call linked
    it; False when the record already names that spool file, or no record has this uuid."""
    kind = entry["kind"]
    if kind not in MEDIA_ID_FIELDS:
        raise ValueError(f"unknown media kind {kind!r}")
    res = await db[CallRecords.collection].update_one(
        {"uuid": uuid, "media.spool": {"$ne": entry["spool"]}},
        {"$push": {"media": entry}, "$addToSet": {MEDIA_ID_FIELDS[kind]: entry["id"]}})
    return res.modified_count == 1


class _SpoolMediaFiles(ScopedRepo):
    """Index only: the media store looks spool imports up by ``metadata.spool`` (directory store)."""

    collection = "media_files"
    indexes = [IndexModel([("metadata.spool", ASCENDING)], sparse=True, name="spool")]


class _SpoolMediaGridFS(ScopedRepo):
    """Index only: the same lookup in GridFS's files collection (MongoDB)."""

    collection = "media.files"
    indexes = [IndexModel([("metadata.spool", ASCENDING)], sparse=True, name="spool")]
