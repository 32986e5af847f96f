"""Change counters: every write to the tenants' configuration bumps a counter in the store.

    db = versioned(raw_db)                       # open_store does this for store.db and sync_db
    await db["sip_accounts"].update_one(...)      # the write, then {_id: pbx_id, v: +1}
    await change_versions(db, pbx_id)            # (that PBX's counter, the platform counter)

A reader that keeps something built from the configuration (the xml_curl directory cache) reads
the counters BEFORE it reads the documents and keeps the pair with what it built; what it kept is
current while the counters are unchanged. The counters live in the store (collection
:data:`COLLECTION`), so every process that shares the store — several Pult servers and workers on
one MongoDB — sees a write made by any of them on its very next read; nothing is sent between
processes and nothing can be missed.

Which writes count: every write method of a collection in :data:`WATCHED` (the telephony
configuration, the PBXs and accounts that own it), whoever makes it — a service through a scoped
repository, a job through a raw collection. The counter bumped is the PBX's when the write names
one PBX (``pbx_id`` in the filter, or in every inserted document), else the platform counter
(:data:`PLATFORM`), which every reader also checks. The bump follows the write, so a reader that
sees the new counter also sees the new documents; a reader that read the counters before a write
keeps the old counters with what it built and rebuilds on its next read.

High-volume collections (call records, the action log, the ledger, sessions) are not watched: a
write there changes nothing a switch is told.
"""
from __future__ import annotations

from typing import Any

#: The counters: ``{_id: <pbx id> | "*", v: <int>}``.
COLLECTION = "change_versions"
#: The counter of writes that do not name one PBX.
PLATFORM = "*"
#: Collections whose writes bump a counter: what FreeSWITCH is told is built from these.
WATCHED = frozenset({
    "accounts", "pbxes", "editions", "platform_settings",
    "sip_domains", "sip_accounts", "employees", "extensions", "tel_settings", "numbers", "did_pool",
    "trunks", "conference_rooms", "ring_groups", "schemes", "day_groups", "schedules", "sound_files",
    "list_entries", "client_rules",
})

_WRITES = frozenset({"insert_one", "insert_many", "update_one", "update_many", "replace_one", "delete_one",
                     "delete_many", "find_one_and_update", "find_one_and_replace", "find_one_and_delete",
                     "bulk_write", "drop"})


def _pbx_of_filter(flt: Any) -> Any:
    if isinstance(flt, dict):
        pbx = flt.get("pbx_id")
        if isinstance(pbx, int) and not isinstance(pbx, bool):
            return pbx
    return PLATFORM


def _touched(method: str, args: tuple, kwargs: dict) -> set:
    """The counters a write bumps, from its arguments (a PBX id, or the platform counter)."""
    if method == "insert_one":
        doc = args[0] if args else kwargs.get("document")
        return {_pbx_of_filter(doc)}
    if method == "insert_many":
        docs = list(args[0] if args else kwargs.get("documents") or ())
        return {_pbx_of_filter(d) for d in docs} or {PLATFORM}
    if method in ("bulk_write", "drop"):
        return {PLATFORM}
    flt = args[0] if args else kwargs.get("filter")
    return {_pbx_of_filter(flt)}


def _materialized(method: str, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """insert_many's documents as a list (they are read twice: for the counters and the write)."""
    if method == "insert_many":
        if args:
            args = (list(args[0]),) + tuple(args[1:])
        elif "documents" in kwargs:
            kwargs = {**kwargs, "documents": list(kwargs["documents"])}
    return args, kwargs


def _bump_update(key: Any) -> tuple[dict, dict]:
    return {"_id": key}, {"$inc": {"v": 1}}


class _AsyncCollection:
    """A collection whose writes bump the change counters (async face)."""

    def __init__(self, db: "VersionedDatabase", coll: Any):
        self._db = db
        self._coll = coll

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._coll, name)
        if name not in _WRITES:
            return attr

        async def write(*args, **kwargs):
            args, kwargs = _materialized(name, args, kwargs)
            touched = _touched(name, args, kwargs)
            try:
                return await attr(*args, **kwargs)
            finally:  # a write that failed half-way may still have changed something
                counters = self._db.raw[COLLECTION]
                for key in touched:
                    await counters.update_one(*_bump_update(key), upsert=True)

        write.__name__ = name
        return write


class _SyncCollection(_AsyncCollection):
    """The same for the synchronous face (workers)."""

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._coll, name)
        if name not in _WRITES:
            return attr

        def write(*args, **kwargs):
            args, kwargs = _materialized(name, args, kwargs)
            touched = _touched(name, args, kwargs)
            try:
                return attr(*args, **kwargs)
            finally:
                counters = self._db.raw[COLLECTION]
                for key in touched:
                    counters.update_one(*_bump_update(key), upsert=True)

        write.__name__ = name
        return write


class VersionedDatabase:
    """A database (PyMongo shape, async or sync) whose watched collections bump the counters."""

    #: read on the class by :func:`is_versioned` (any attribute of a database is a collection)
    counts_changes = True

    def __init__(self, raw: Any, *, sync: bool = False):
        self.raw = raw
        self.sync = sync
        self.name = getattr(raw, "name", None)

    def __getitem__(self, name: str) -> Any:
        coll = self.raw[name]
        if name not in WATCHED:
            return coll
        return (_SyncCollection if self.sync else _AsyncCollection)(self, coll)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in WATCHED:  # db.pbxes: the collection
            return self[name]
        return getattr(self.raw, name)


def versioned(raw: Any, *, sync: bool = False) -> Any:
    """``raw`` with counting writes (a database already counting is returned as it is)."""
    return raw if is_versioned(raw) else VersionedDatabase(raw, sync=sync)


def is_versioned(db: Any) -> bool:
    return bool(getattr(type(db), "counts_changes", False))


async def change_versions(db: Any, pbx_id: Any) -> tuple[int, int]:
    """``(the PBX's counter, the platform counter)``, read in one query (0 = never written)."""
    raw = db.raw if is_versioned(db) else db
    found = {d["_id"]: d.get("v", 0)
             for d in await raw[COLLECTION].find({"_id": {"$in": [pbx_id, PLATFORM]}}).to_list(None)}
    return found.get(pbx_id, 0), found.get(PLATFORM, 0)
