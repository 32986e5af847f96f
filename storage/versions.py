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
write there changes nothing a switch is told. The accounts' balances (one document per account,
written by each ledger posting) are watched on counters of their own (:func:`account_key`), which
no directory answer depends on: only whether a PBX is blocked right now does.

**The counters in the process, so a kept answer needs no store read.** Every write also bumps
this process's copy of the counters (:class:`LocalVersions`, one per store: the server's async
face and the workers' sync face share it), before the write call returns. A reader asks
:func:`current_versions`, which answers from that copy, without a store read, when the copy is
known to be complete:

- the embedded store: one process owns the data directory (an exclusive ``flock``), so every
  write is made in this process and counted here (``exclusive``);
- MongoDB with several Pult processes: every process publishes the counters it bumps on Redis
  (:mod:`storage.change_feed`, channel ``pult:change_versions``) and applies what the others
  publish. While its subscription is live the copy is complete (the notices waiting on the socket
  are applied before each answer); while it is not (Redis down, not yet connected) the reader
  reads the store's counters as before, and a (re)subscription starts a new epoch, so nothing
  kept from before is served.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Iterable, NamedTuple

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
    # what a call does not tell the switch but decides on its path: which webhook events a PBX's
    # subscriptions want (kept with the call engine's PBX snapshot, so a call reads nothing)
    "webhook_subscriptions",
})

#: Collections watched on per-account counters (:func:`account_key`), which directory answers ignore.
WATCHED_BY_ACCOUNT = frozenset({"balances"})
#: The counter of a write to a per-account collection that names no account.
ANY_ACCOUNT = "account:*"


def account_key(account_id: Any) -> str:
    """The counter of one account's balance (whether its PBXs are blocked)."""
    return f"account:{account_id}"


_WRITES = frozenset({"insert_one", "insert_many", "update_one", "update_many", "replace_one", "delete_one",
                     "delete_many", "find_one_and_update", "find_one_and_replace", "find_one_and_delete",
                     "bulk_write", "drop"})


def _pbx_of_filter(flt: Any) -> Any:
    if isinstance(flt, dict):
        pbx = flt.get("pbx_id")
        if isinstance(pbx, int) and not isinstance(pbx, bool):
            return pbx
    return PLATFORM


def _account_of_filter(flt: Any) -> Any:
    if isinstance(flt, dict):
        acc = flt.get("account_id")
        if isinstance(acc, int) and not isinstance(acc, bool):
            return account_key(acc)
    return ANY_ACCOUNT


def _touched(method: str, args: tuple, kwargs: dict, by_account: bool = False) -> set:
    """The counters a write bumps, from its arguments (a PBX id, or the platform counter; for a
    per-account collection the account's counter, or :data:`ANY_ACCOUNT`)."""
    counter_of, every = (_account_of_filter, ANY_ACCOUNT) if by_account else (_pbx_of_filter, PLATFORM)
    if method == "insert_one":
        return {counter_of(args[0] if args else kwargs.get("document"))}
    if method == "insert_many":
        docs = list(args[0] if args else kwargs.get("documents") or ())
        return {counter_of(d) for d in docs} or {every}
    if method in ("bulk_write", "drop"):
        return {every}
    return {counter_of(args[0] if args else kwargs.get("filter"))}


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

    def __init__(self, db: "VersionedDatabase", coll: Any, by_account: bool = False):
        self._db = db
        self._coll = coll
        self._by_account = by_account

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._coll, name)
        if name not in _WRITES:
            return attr

        async def write(*args, **kwargs):
            args, kwargs = _materialized(name, args, kwargs)
            touched = _touched(name, args, kwargs, self._by_account)
            try:
                return await attr(*args, **kwargs)
            finally:  # a write that failed half-way may still have changed something
                counters = self._db.raw[COLLECTION]
                try:
                    for key in touched:
                        await counters.update_one(*_bump_update(key), upsert=True)
                finally:  # after the store's counters: a reader of those never sees less
                    self._db.local.bump(touched)

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
            touched = _touched(name, args, kwargs, self._by_account)
            try:
                return attr(*args, **kwargs)
            finally:
                counters = self._db.raw[COLLECTION]
                try:
                    for key in touched:
                        counters.update_one(*_bump_update(key), upsert=True)
                finally:
                    self._db.local.bump(touched)

        write.__name__ = name
        return write


class VersionedDatabase:
    """A database (PyMongo shape, async or sync) whose watched collections bump the counters."""

    #: read on the class by :func:`is_versioned` (any attribute of a database is a collection)
    counts_changes = True

    def __init__(self, raw: Any, *, sync: bool = False, local: "LocalVersions | None" = None):
        self.raw = raw
        self.sync = sync
        self.name = getattr(raw, "name", None)
        #: this process's copy of the counters (a private, never complete one when not given)
        self.local = local if local is not None else LocalVersions()

    def __getitem__(self, name: str) -> Any:
        coll = self.raw[name]
        if name in WATCHED:
            return (_SyncCollection if self.sync else _AsyncCollection)(self, coll)
        if name in WATCHED_BY_ACCOUNT:
            return (_SyncCollection if self.sync else _AsyncCollection)(self, coll, by_account=True)
        return coll

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in WATCHED or name in WATCHED_BY_ACCOUNT:  # db.pbxes: the collection
            return self[name]
        return getattr(self.raw, name)


def versioned(raw: Any, *, sync: bool = False, local: "LocalVersions | None" = None) -> Any:
    """``raw`` with counting writes (a database already counting is returned as it is)."""
    return raw if is_versioned(raw) else VersionedDatabase(raw, sync=sync, local=local)


def is_versioned(db: Any) -> bool:
    return bool(getattr(type(db), "counts_changes", False))


async def change_versions(db: Any, pbx_id: Any) -> tuple[int, int]:
    """``(the PBX's counter, the platform counter)``, read in one query (0 = never written)."""
    raw = db.raw if is_versioned(db) else db
    found = {d["_id"]: d.get("v", 0)
             for d in await raw[COLLECTION].find({"_id": {"$in": [pbx_id, PLATFORM]}}).to_list(None)}
    return found.get(pbx_id, 0), found.get(PLATFORM, 0)


# --- the counters in the process ----------------------------------------------------------------
class LocalVersions:
    """This process's copy of the change counters of one store (thread-safe: workers write from
    their own threads).

    ``exclusive``: every write to the store is made in this process (the embedded store), so the
    copy is complete. Otherwise a ``feed`` (:class:`storage.change_feed.RedisChangeFeed`) makes it
    complete while :meth:`complete` says so. ``epoch`` grows whenever the copy may have missed
    writes (a (re)subscription), so nothing kept with an older epoch is current."""

    def __init__(self, exclusive: bool = False):
        self.exclusive = exclusive
        self.epoch = 0
        self.feed: Any = None
        self._v: dict[Any, int] = {}
        self._lock = threading.Lock()
        #: called with the keys of every write made in this process (the feed publishes them)
        self.on_local_write: list[Callable[[set], None]] = []

    def bump(self, keys: Iterable[Any], *, remote: bool = False) -> None:
        keys = set(keys)
        with self._lock:
            for key in keys:
                self._v[key] = self._v.get(key, 0) + 1
        if not remote:
            for notify in list(self.on_local_write):
                notify(keys)

    def new_epoch(self) -> None:
        with self._lock:
            self.epoch += 1

    def get(self, keys: Iterable[Any]) -> tuple:
        with self._lock:
            return (self.epoch, *(self._v.get(k, 0) for k in keys))

    def complete(self) -> bool:
        """Whether every write to the store so far is counted here (a live feed's waiting notices
        are applied first, without waiting)."""
        if self.exclusive:
            return True
        return self.feed is not None and self.feed.poll()


_local: dict[str, LocalVersions] = {}
_local_lock = threading.Lock()


def local_versions(identity: str, *, exclusive: bool) -> LocalVersions:
    """The one copy of the counters of the store named ``identity`` in this process (the server's
    and the workers' store objects of one store share it)."""
    with _local_lock:
        found = _local.get(identity)
        if found is None or found.exclusive != exclusive:
            found = _local[identity] = LocalVersions(exclusive)
        return found


class Versions(NamedTuple):
    """What a reader keeps with what it built: ``config`` (the PBX's and the platform's counters)
    for anything built from the configuration; ``state`` adds the account's balance counters
    (whether the PBX is blocked). Compared whole: a kept value is current while it is equal."""

    config: tuple
    state: tuple


async def current_versions(db: Any, pbx_id: Any, account_id: Any = None) -> Versions:
    """The counters of ``pbx_id`` (and of ``account_id``'s balance) now: from this process's copy
    when it is complete (no store read), else one read of the store's counters."""
    acc = account_key(account_id) if account_id is not None else ANY_ACCOUNT
    keys = (pbx_id, PLATFORM, acc, ANY_ACCOUNT)
    local = db.local if is_versioned(db) else None
    if local is not None and local.complete():
        epoch, *v = local.get(keys)
        values = ("local", epoch, *v)
    else:
        raw = db.raw if is_versioned(db) else db
        found = {d["_id"]: d.get("v", 0)
                 for d in await raw[COLLECTION].find({"_id": {"$in": list(keys)}}).to_list(None)}
        values = ("store", 0, *(found.get(k, 0) for k in keys))
    return Versions(values[:4], values)
