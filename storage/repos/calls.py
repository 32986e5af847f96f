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
        # call history (newest first, with its date/reach filters), the dashboard's "calls today":
        # filter + order + tie-break of web.api.calls.NEWEST_FIRST, per PBX and platform-wide
        IndexModel([("pbx_id", ASCENDING), ("start", DESCENDING), ("uuid", DESCENDING)], name="pbx_start_uuid"),
        IndexModel([("start", DESCENDING), ("uuid", DESCENDING)], name="start_uuid"),
        # the "own calls" / "my groups" reach (esl_control.model.call_history): one index per $or
        # branch, so such a page walks only the user's calls, newest first
        *[IndexModel([("pbx_id", ASCENDING), (f, ASCENDING), ("start", DESCENDING), ("uuid", DESCENDING)],
                     name=f"pbx_{f.replace('.', '_')}_start") for f in
          ("caller", "callee", "vars.pult_employee_id", "vars.pult_group_id")],
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
