"""The embedded document store: mongomock in memory, persisted to a data directory.

Used when ``MONGO_URL`` is unset (the embedded default, the demo, the tests). It offers the same
shapes as PyMongo — :class:`JournaledDatabase` like ``pymongo.database.Database`` for workers and
:class:`AsyncEmbeddedDatabase` like ``pymongo.asynchronous.database.AsyncDatabase`` for the server
— so no code above ``storage/`` knows which store it talks to.

Persistence: every write records the resulting state of the documents it touched ("put" the
whole document, or "del" its id) in an append-only BSON journal, under one lock, before the call
returns. At start the last snapshot is loaded and the journal segments after it replayed. A torn
record at the journal's tail (a crash in the middle of a write) is dropped with a warning;
everything before it is kept. One process owns a data directory at a time (an exclusive
``flock``).

Compaction never holds the lock beyond a rename: when the journal passes its size limit it is
closed as a numbered segment and writes go on in a fresh one, while a separate process
(:mod:`storage.compact`) merges the snapshot and the closed segments from the files into a new
snapshot (written atomically: temp file, fsync, rename). Closing the store merges what is left.

No store work on the event loop: the async face (:class:`AsyncEmbeddedDatabase`) hands every
operation to the engine's one store thread and awaits it, so a slow query delays only the request
that asked for it while the loop keeps answering ``/healthz``, xml_curl and ESL events. Operations
run one at a time in arrival order, urgent ones first (:mod:`storage.priority`: xml_curl lookups,
call flows), and an operation whose caller has given up before it started is skipped; the sync face (workers, CLI) takes the same lock from its own thread.
The outcomes go back to each event loop in batches (:class:`_Mailbox`: one wake-up of the loop for
all the outcomes that arrived while it was busy, not one each).

Limits (documented in the README): single process; no multi-document transactions (Pult does not
depend on them); aggregation stages that write (``$out``, ``$merge``) are refused.
"""
from __future__ import annotations

import asyncio
from contextlib import contextmanager
import copy
import fcntl
import functools
import logging
import os
import itertools
import queue
import subprocess
import sys
import threading
import time
import weakref
from concurrent.futures import Future
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

import bson
import mongomock
import mongomock.collection
from mongomock.filtering import filter_applies
from bson.codec_options import CodecOptions
from mongomock import helpers as mm_helpers
from pymongo import ReturnDocument
from pymongo.errors import OperationFailure
from pymongo.results import BulkWriteResult

from . import compact as compaction
from .ordered_index import OrderedIndex, planned_count, planned_ids
from .priority import is_urgent

log = logging.getLogger("pult.storage.embedded")

#: Journal and snapshot records decode to naive UTC datetimes: that is how mongomock keeps every
#: datetime inside the store (it converts on insert, update and in filters, and hands out aware
#: UTC on reads because the client is ``tz_aware``). Decoding them aware would put aware values
#: next to naive ones after a restart ("can't compare offset-naive and offset-aware datetimes").
_CODEC = CodecOptions(tz_aware=False)
_JOURNAL_COMPACT_BYTES = 64 * 1024 * 1024


class RWLock:
    """The store's lock: writes are exclusive (and reentrant: a write may call reads and writes),
    reads are shared, so an urgent lookup reads while a long cabinet query reads too.

    ``with lock:`` takes it for writing; ``with lock.read():`` for reading. A thread that holds
    it for writing may read without waiting."""

    def __init__(self):
        self._cond = threading.Condition(threading.Lock())
        self._readers: dict[int, int] = {}
        self._writer: int | None = None
        self._depth = 0

    def __enter__(self):
        me = threading.get_ident()
        with self._cond:
            if self._writer == me:
                self._depth += 1
                return self
            while self._writer is not None or any(t != me for t in self._readers):
                self._cond.wait()
            self._writer, self._depth = me, 1
        return self

    def __exit__(self, *exc) -> None:
        with self._cond:
            self._depth -= 1
            if self._depth == 0:
                self._writer = None
                self._cond.notify_all()

    @contextmanager
    def read(self):
        me = threading.get_ident()
        with self._cond:
            if self._writer == me:
                nested = True
            else:
                nested = False
                while self._writer is not None:
                    self._cond.wait()
                self._readers[me] = self._readers.get(me, 0) + 1
        try:
            yield
        finally:
            if not nested:
                with self._cond:
                    self._readers[me] -= 1
                    if not self._readers[me]:
                        del self._readers[me]
                    self._cond.notify_all()


class StoreThread:
    """The one thread that runs the embedded store's operations for the event loop.

    Operations are taken in arrival order, urgent ones (see :mod:`storage.priority`) before all
    ordinary ones; one whose caller gave up before it started (its future cancelled) is skipped.
    """

    def __init__(self, name: str = "pult-store"):
        self._queue: queue.PriorityQueue = queue.PriorityQueue()
        self._seq = itertools.count()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn, urgent: bool = False) -> Future:
        fut: Future = Future()
        self._queue.put((0 if urgent else 1, next(self._seq), fut, fn))
        return fut

    def submit_to(self, fn, fut: asyncio.Future, box: "_Mailbox") -> None:
        """Run ``fn`` for an event loop: its outcome goes to ``fut`` through the loop's ``box``."""
        self._queue.put((1, next(self._seq), (fut, box), fn))

    def _run(self) -> None:
        while True:
            _prio, _seq, fut, fn = self._queue.get()
            if fn is None:
                return
            if type(fut) is tuple:  # an event loop's operation (submit_to)
                afut, box = fut
                if afut.cancelled():  # its caller gave up before it started
                    continue
                try:
                    outcome = (True, fn())
                except BaseException as exc:  # handed to the awaiting caller
                    outcome = (False, exc)
                box.put(afut, *outcome)
                continue
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn())
            except BaseException as exc:  # handed to the awaiting caller
                fut.set_exception(exc)

    def shutdown(self) -> None:
        """Finish every queued operation, then stop."""
        if self._thread.is_alive():
            self._queue.put((2, next(self._seq), None, None))
            if threading.current_thread() is not self._thread:
                self._thread.join()


class _Mailbox:
    """The outcomes of store operations for one event loop, handed over in batches: the loop is
    woken (``call_soon_threadsafe``: a write to its self-pipe, and for the store thread a GIL
    hand-off) once for every outcome that arrives while it has not yet taken the earlier ones,
    not once for each."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self._loop = weakref.ref(loop)  # (the engine keeps a mailbox per loop, not the loop)
        self._lock = threading.Lock()
        self._items: list = []
        self._scheduled = False

    def put(self, fut: asyncio.Future, ok: bool, value) -> None:
        with self._lock:
            self._items.append((fut, ok, value))
            if self._scheduled:
                return
            self._scheduled = True
        loop = self._loop()
        if loop is None:  # the loop is gone: nobody waits any more
            return
        try:
            loop.call_soon_threadsafe(self._drain)
        except RuntimeError:  # the loop is closed: likewise
            pass

    def _drain(self) -> None:
        with self._lock:
            items, self._items, self._scheduled = self._items, [], False
        for fut, ok, value in items:
            if fut.cancelled():
                continue
            if ok:
                fut.set_result(value)
            else:
                try:
                    fut.set_exception(value)
                except TypeError:  # StopIteration cannot be set on a future
                    fut.set_exception(RuntimeError(f"store operation raised {value!r}"))


class DataDirLocked(RuntimeError):
    """Another process holds the embedded store's data directory."""


class HashIndex:
    """Equality lookups for the top-level fields that lead a declared index, plus ``_id``.

    mongomock answers every query by scanning the whole collection; with this, a filter that
    has an equality (or ``$in``) on such a field scans only the candidate documents. It may
    return extra candidates (every candidate is still checked by mongomock's own filter), never
    fewer: values are indexed as stored, array elements one by one, and a query value that is
    not hashable (or ``None``, which also matches missing fields) does not use the index.
    """

    def __init__(self, store, fields: set[str]):
        self.store = store
        self.fields = set(fields)
        self.maps: dict[str, dict] = {f: {} for f in self.fields}
        self.keys_of: dict = {}  # _id -> [(field, value)]
        for doc in list(store._documents.values()):
            self.add(doc)

    @staticmethod
    def _values(doc: dict, field: str) -> list:
        if field not in doc:
            return []
        v = doc[field]
        vals = list(v) if isinstance(v, list) else [v]
        out = []
        for x in vals:
            try:
                hash(x)
            except TypeError:
                continue
            out.append(x)
        return out

    def add(self, doc: dict) -> None:
        _id = doc["_id"]
        keys = [(f, v) for f in self.fields for v in self._values(doc, f)]
        for f, v in keys:
            self.maps[f].setdefault(v, {})[_id] = None
        self.keys_of[_id] = keys

    def remove(self, _id) -> None:
        for f, v in self.keys_of.pop(_id, ()):
            bucket = self.maps[f].get(v)
            if bucket is not None:
                bucket.pop(_id, None)
                if not bucket:
                    del self.maps[f][v]

    def refresh(self, _id) -> None:
        self.remove(_id)
        if _id in self.store._documents:
            self.add(self.store._documents[_id])

    def candidates(self, flt) -> list | None:
        """Ids that may match ``flt`` (None: the index cannot narrow this filter)."""
        if not isinstance(flt, dict):
            return None
        best = None
        for field, cond in flt.items():
            if field != "_id" and field not in self.fields:
                continue
            if isinstance(cond, dict):
                if set(cond) == {"$eq"}:
                    wanted = [cond["$eq"]]
                elif set(cond) == {"$in"} and isinstance(cond["$in"], (list, tuple)):
                    wanted = list(cond["$in"])
                else:
                    continue
            else:
                wanted = [cond]
            try:
                if any(w is None or isinstance(w, (dict, list)) for w in wanted):
                    continue
                for w in wanted:
                    hash(w)
            except TypeError:
                continue
            if field == "_id":
                ids = {w: None for w in wanted if w in self.store._documents}
            else:
                ids = {}
                for w in wanted:
                    ids.update(self.maps[field].get(w, {}))
            if best is None or len(ids) < len(best):
                best = ids
        return None if best is None else list(best)


def _iter_documents_indexed(self, filter):
    """mongomock's ``Collection._iter_documents`` narrowed by the store's :class:`HashIndex`."""
    index = getattr(self._store, "pult_index", None)
    ids = index.candidates(filter) if index is not None else None
    if ids is None:
        return _original_iter_documents(self, filter)
    docs = self._store._documents
    if len(ids) > 1:  # keep natural (insertion) order, as a scan would
        order = {k: i for i, k in enumerate(ids)}
        if len(ids) * 4 < len(docs):
            ids.sort(key=lambda k: self._store.pult_seq.get(k, 0))
        else:
            ids = [k for k in docs if k in order]
    return (docs[i] for i in ids if i in docs and filter_applies(filter, docs[i]))


def _ensure_uniques_indexed(self, new_doc):
    """mongomock checks unique indexes after writing the document (inserted, or changed in
    place); bring the hash index up to date for it first so the check sees it."""
    index = getattr(self._store, "pult_index", None)
    if index is not None and "_id" in new_doc:
        index.refresh(new_doc["_id"])
    return _original_ensure_uniques(self, new_doc)


_original_iter_documents = mongomock.collection.Collection._iter_documents
_original_ensure_uniques = mongomock.collection.Collection._ensure_uniques
mongomock.collection.Collection._iter_documents = _iter_documents_indexed
mongomock.collection.Collection._ensure_uniques = _ensure_uniques_indexed


class EmbeddedEngine:
    """Owns the in-memory mongomock server, the journal file and the lock."""

    def __init__(self, data_dir: Path, fsync: bool = False):
        self.dir = Path(data_dir) / "store"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        self.lock = RWLock()
        self._lockfile = open(self.dir / "LOCK", "a+")
        try:
            fcntl.flock(self._lockfile, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lockfile.seek(0)
            owner = self._lockfile.read().strip() or "another process"
            self._lockfile.close()
            raise DataDirLocked(
                f"the data directory {self.dir.parent} is in use by {owner}; "
                "stop it or set PULT_DATA_DIR to another directory") from None
        self._lockfile.seek(0)
        self._lockfile.truncate()
        self._lockfile.write(f"pid {os.getpid()}")
        self._lockfile.flush()
        self.client = mongomock.MongoClient(tz_aware=True)
        self._journal = None
        self._segment_no = 0
        self.segment_bytes = _JOURNAL_COMPACT_BYTES
        self._compact_guard = threading.Lock()
        self._compactor: threading.Thread | None = None
        self._thread = StoreThread()
        self._urgent_thread = StoreThread("pult-store-urgent")
        #: one per event loop that awaits the store (the cabinet's, the FreeSWITCH port's, tests')
        self._mailboxes: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Mailbox]" = weakref.WeakKeyDictionary()
        self._mailbox_lock = threading.Lock()
        #: set in a store thread while it runs a batch (:meth:`run_together`): operations inline
        self._inline = threading.local()
        self._load()

    async def run(self, fn, *args, **kwargs):
        """``fn(*args, **kwargs)`` in the store thread, awaited (never on the event loop)."""
        """Urgent work (:mod:`storage.priority`) has a thread of its own: its reads run while an
        ordinary read runs (shared lock), never behind the queue of ordinary operations."""
        if getattr(self._inline, "active", False):  # inside a batch, in the store thread already
            return fn(*args, **kwargs)
        thread = self._urgent_thread if is_urgent() else self._thread
        loop = asyncio.get_running_loop()
        box = self._mailboxes.get(loop)
        if box is None:
            with self._mailbox_lock:  # loops of other threads may ask at once
                box = self._mailboxes.setdefault(loop, _Mailbox(loop))
        fut = loop.create_future()
        thread.submit_to(functools.partial(fn, *args, **kwargs), fut, box)
        return await fut

    async def run_together(self, fn):
        """``await fn()`` in one hand-off: ``fn`` is an async function whose every await is an
        operation of this store (a read model over ``store.db``); it runs in the store thread
        (the urgent one when marked), each of its operations inline, and its outcome comes back
        once. Each operation awaited one by one costs two thread hand-offs (and, while the
        process's other threads compute, up to a switch interval of waiting for the GIL at each):
        an xml_curl directory read of six queries waited tens of milliseconds for them under
        cabinet load. ``fn`` must not await anything else (RuntimeError, nothing kept of it)."""
        return await self.run(self._together, fn)

    def _together(self, fn):
        self._inline.active = True
        try:
            coro = fn()
            try:
                coro.send(None)
            except StopIteration as done:
                return done.value
            coro.close()
            raise RuntimeError(f"{getattr(fn, '__name__', fn)!r} awaited something other than the store's operations")
        finally:
            self._inline.active = False

    # --- files -----------------------------------------------------------------------------
    @property
    def snapshot_path(self) -> Path:
        return self.dir / compaction.SNAPSHOT

    @property
    def journal_path(self) -> Path:
        return self.dir / compaction.JOURNAL

    @staticmethod
    def _read_records(f, name: str) -> Iterable[dict]:
        """The records of an open journal or snapshot file, read one at a time (never the whole
        file in memory: reopening must not need much more than the store's own size)."""
        for raw in compaction.raw_records(f, name, log.warning):
            yield bson.decode(raw, codec_options=_CODEC)

    def _load(self) -> None:
        indexes: list[dict] = []
        stores: dict = {}
        n = 0
        # every file is opened before any is read: a merge left running by a killed server may
        # replace the snapshot and delete the segments it merged meanwhile (same data either way)
        files = []
        if self.snapshot_path.exists():
            files.append(open(self.snapshot_path, "rb", buffering=1 << 20))
        upto = compaction.snapshot_upto(files[0]) if files else -1
        for num, path in compaction.segments(self.dir):
            self._segment_no = max(self._segment_no, num)
            if num > upto:
                files.append(open(path, "rb", buffering=1 << 20))
        self._segment_no = max(self._segment_no, upto)
        if self.journal_path.exists():
            files.append(open(self.journal_path, "rb", buffering=1 << 20))
        try:
            for f in files:
                for rec in self._read_records(f, Path(f.name).name):
                    if rec["o"] == "meta":
                        continue
                    n += 1
                    self._apply(rec, indexes, stores)
                    if rec["o"] == "drop":
                        stores.clear()
        finally:
            for f in files:
                f.close()
        for idx in indexes:
            coll = self.client[idx["db"]][idx["c"]]
            try:
                coll.create_index([tuple(k) for k in idx["keys"]], **idx["kw"])
            except Exception as exc:  # an index that no longer fits the data must not stop start-up
                log.error("embedded store: cannot restore index %s on %s: %s", idx["kw"], idx["c"], exc)
        for db_name in self.client.list_database_names():
            for c in self.client[db_name].list_collection_names():
                self.index_for(self.client[db_name][c])
        with self.lock:
            self._journal = open(self.journal_path, "ab")
            if self._journal.tell() or len(files) > 1:  # anything to merge: in the background
                self._rotate()
                self.compact_in_background()
        log.info("embedded store loaded from %s (%d records replayed)", self.dir, n)

    def _apply(self, rec: dict, indexes: list[dict], stores: dict | None = None) -> None:
        op, db, c = rec["o"], rec["db"], rec["c"]
        store = stores.get((db, c)) if stores is not None else None
        if store is None:
            store = self.client[db][c]._store
            if stores is not None:
                stores[(db, c)] = store
        if op == "put":
            # stored as mongomock stores what it is given (naive UTC, milliseconds): _CODEC decodes
            # records that way already, so no second walk over every document is needed (aware
            # datetimes next to naive ones made the call history answer 500 after a restart)
            store[rec["d"]["_id"]] = rec["d"]
        elif op == "del":
            if rec["id"] in store:
                del store[rec["id"]]
        elif op == "idx":
            indexes[:] = [i for i in indexes if not (i["db"] == db and i["c"] == c
                                                     and i["kw"].get("name") == rec["kw"].get("name"))]
            indexes.append(rec)
        elif op == "dropidx":
            indexes[:] = [i for i in indexes if not (i["db"] == db and i["c"] == c
                                                     and i["kw"].get("name") == rec["name"])]
        elif op == "drop":
            self.client[db].drop_collection(c)
            indexes[:] = [i for i in indexes if not (i["db"] == db and i["c"] == c)]

    # --- compaction: never under the store's lock (storage/compact.py) ----------------------
    def _rotate(self) -> None:
        """Close the journal as the next numbered segment and start a fresh one (under the
        write lock: a rename, whatever the store's size)."""
        if self._journal is not None and not self._journal.closed:
            self._journal.flush()
            os.fsync(self._journal.fileno())
            size = self._journal.tell()
            self._journal.close()
            if size:
                self._segment_no += 1
                os.replace(self.journal_path, self.dir / compaction.segment_name(self._segment_no))
        self._journal = open(self.journal_path, "ab")
        self._journal.flush()
        os.fsync(self._journal.fileno())
        compaction._fsync_dir(self.dir)

    def compact_in_background(self, rotate: bool = False) -> threading.Thread | None:
        """Merge the snapshot and the closed segments (with ``rotate``: the journal too, closed
        now) into a new snapshot in a separate process (storage/compact.py); writers and readers
        go on meanwhile. None if one is running already (the segments closed meanwhile wait for
        the next one) or there is nothing to merge."""
        if rotate:  # lock before guard, as write() takes them
            with self.lock:
                self._rotate()
                return self.compact_in_background()
        with self._compact_guard:
            running = self._compactor
            if running is not None and running.is_alive():
                return None
            upto = self._segment_no
            if not any(n <= upto for n, _ in compaction.segments(self.dir)):
                return None
            thread = threading.Thread(target=self._compact_process, args=(upto,),
                                      name="pult-store-compact", daemon=True)
            self._compactor = thread
            thread.start()
            return thread

    def _compact_process(self, upto: int) -> None:
        started = time.monotonic()
        cmd = [sys.executable, compaction.__file__, str(self.dir), str(upto)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        except OSError as exc:
            log.error("embedded store: cannot start compaction: %s", exc)
            return
        for line in (proc.stderr or "").splitlines():
            log.warning("embedded store compaction: %s", line)
        if proc.returncode:
            log.error("embedded store: compaction up to segment %d failed (exit %d); the journal "
                      "segments are kept and replayed on the next start", upto, proc.returncode)
        else:
            log.info("embedded store: compacted up to segment %d in %.1f s (writes went on)",
                     upto, time.monotonic() - started)

    def wait_for_compaction(self) -> None:
        with self._compact_guard:
            running = self._compactor
        if running is not None:
            running.join()

    def compact(self) -> None:
        """Merge everything written so far into the snapshot now (in this thread; used when the
        store closes). Writers wait only for the journal's rotation."""
        self.wait_for_compaction()
        with self.lock:
            self._rotate()
            upto = self._segment_no
        compaction.merge(self.dir, upto, warn=log.warning)

    def write(self, records: list[dict]) -> None:
        if not records:
            return
        self._journal.write(b"".join(bson.encode(r) for r in records))
        self._journal.flush()
        if self.fsync:
            os.fsync(self._journal.fileno())
        if self._journal.tell() > self.segment_bytes:
            self._rotate()
            self.compact_in_background()

    def close(self) -> None:
        self._urgent_thread.shutdown()  # let queued operations finish first
        self._thread.shutdown()
        if self._journal and not self._journal.closed:
            self.compact()
        with self.lock:
            if self._journal and not self._journal.closed:
                self._journal.close()
            if not self._lockfile.closed:
                fcntl.flock(self._lockfile, fcntl.LOCK_UN)
                self._lockfile.close()

    def index_for(self, coll: mongomock.Collection) -> HashIndex:
        """The collection's hash index over ``_id`` and the leading fields of its indexes."""
        store = coll._store
        fields = {k for info in coll.index_information().values()
                  for k, _ in info["key"][:1] if k != "_id" and "." not in k}
        index = getattr(store, "pult_index", None)
        if index is None or index.fields != fields or index.store is not store:
            if not hasattr(store, "pult_seq"):
                store.pult_seq = {k: i for i, k in enumerate(store._documents)}
                store.pult_next = len(store.pult_seq)
            index = store.pult_index = HashIndex(store, fields)
        wanted = sorted((name, tuple(k for k, _ in info["key"] if k != "_id"), info.get("partialFilterExpression"))
                        for name, info in coll.index_information().items()
                        if name != "_id_" and all(isinstance(d, int) for _, d in info["key"])
                        and (len(info["key"]) >= 2 or not info.get("unique")))
        if getattr(store, "pult_ordered_sig", None) != wanted:
            # an index already built (kept up to date by every write since) is kept: a new
            # declaration (an upgrade's new index at start-up) builds that one alone; one a value
            # made unusable is built again
            built = {ix.signature: ix for ix in getattr(store, "pult_ordered", ()) if ix.usable}
            store.pult_ordered = [built.get(OrderedIndex.signature_of(name, keys, partial))
                                  or OrderedIndex(store, name, list(keys), partial)
                                  for name, keys, partial in wanted if keys]
            store.pult_ordered_sig = wanted
        return index

    def touched(self, coll: mongomock.Collection, ids: Iterable[Any]) -> None:
        """Bring the collection's index and insertion order up to date for these ids."""
        index = self.index_for(coll)
        store = coll._store
        for _id in ids:
            if _id in store._documents and _id not in store.pult_seq:
                store.pult_seq[_id] = store.pult_next
                store.pult_next += 1
            elif _id not in store._documents:
                store.pult_seq.pop(_id, None)
            index.refresh(_id)
            doc = store._documents.get(_id)
            for ordered in store.pult_ordered:
                ordered.refresh(_id, doc)

    def document_count(self) -> int:
        """Documents in every collection (cheap: no scan)."""
        n = 0
        for db_name in list(self.client._store._databases):
            db_store = self.client._store[db_name]
            for c in list(db_store._collections):
                n += len(db_store[c]._documents)
        return n

    def database(self, name: str) -> "JournaledDatabase":
        return JournaledDatabase(self, name)


class JournaledDatabase:
    """A ``pymongo.database.Database``-shaped view whose writes are journaled."""

    def __init__(self, engine: EmbeddedEngine, name: str):
        self._engine = engine
        self.name = name
        self._db = engine.client[name]
        self._colls: dict[str, mongomock.Collection] = {}

    def __getitem__(self, name: str) -> "JournaledCollection":
        coll = self._colls.get(name)
        if coll is None:  # mongomock hands out the same object every time: asked once per name
            coll = self._colls[name] = self._db[name]
        return JournaledCollection(self._engine, self.name, coll)

    def __getattr__(self, name: str) -> "JournaledCollection":
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def list_collection_names(self) -> list[str]:
        with self._engine.lock.read():
            return self._db.list_collection_names()

    def drop_collection(self, name: str) -> None:
        self[name].drop()

    def command(self, cmd: str | dict, **kw) -> dict:
        if cmd == "ping" or cmd == {"ping": 1}:
            return {"ok": 1.0}
        raise OperationFailure(f"command {cmd!r} is not available in the embedded store")


class JournaledCollection:
    """A ``pymongo.collection.Collection``-shaped wrapper that journals every write."""

    def __init__(self, engine: EmbeddedEngine, db_name: str, coll: mongomock.Collection):
        self._engine = engine
        self._dbn = db_name
        self._c = coll
        self.name = coll.name

    # --- journal helpers
    def _put(self, ids: Iterable[Any]) -> None:
        ids = list(ids)
        recs = []
        store = self._c._store
        for _id in ids:
            if _id in store:
                # "id" ahead of the document: compaction reads it without decoding the document
                recs.append({"o": "put", "db": self._dbn, "c": self.name, "id": _id, "d": store[_id]})
        self._engine.touched(self._c, ids)
        self._engine.write(recs)

    def _del(self, ids: Iterable[Any]) -> None:
        ids = list(ids)
        self._engine.touched(self._c, ids)
        self._engine.write([{"o": "del", "db": self._dbn, "c": self.name, "id": i} for i in ids])

    def _ids(self, flt, sort=None, one=False) -> list:
        if one:
            d = self._c.find_one(flt, {"_id": 1}, sort=sort)
            return [d["_id"]] if d else []
        return [d["_id"] for d in self._c.find(flt, {"_id": 1})]

    # --- reads
    def find(self, filter=None, projection=None, *args, **kwargs) -> "PlannedCursor":
        return PlannedCursor(self, filter, projection, args, kwargs)

    def find_one(self, filter=None, *args, **kwargs):
        if args == (None,) or (not args and "projection" in kwargs and kwargs["projection"] is None
                               and len(kwargs) == 1):
            # no projection, given as None (every repository's find_one): the same as none given
            args, kwargs = (), {}
        if kwargs.get("sort") and not args and set(kwargs) <= {"sort", "projection"}:
            for doc in self.find(filter, kwargs.get("projection"), sort=kwargs["sort"]).limit(1):
                return doc
            return None
        with self._engine.lock.read():
            if not args and not kwargs and isinstance(filter, dict) and self._c.codec_options.tz_aware:
                # mongomock's find_one copies every matching document and returns the first: the
                # first match is copied alone here, the way its find copies (see _read_copy)
                spec = mm_helpers.patch_datetime_awareness_in_document(filter)
                for doc in self._c._iter_documents(spec):
                    return _read_copy(doc)
                return None
            return self._c.find_one(filter, *args, **kwargs)

    def _ordered(self) -> list:
        # every change of the collection's indexes (create/drop index, drop, the load) rebuilds
        # them with index_for under the write lock: a read asks for them only the first time
        # (index_for reads mongomock's index_information twice: a tenth of a page's store time)
        ordered = getattr(self._c._store, "pult_ordered", None)
        if ordered is None:
            self._engine.index_for(self._c)
            ordered = self._c._store.pult_ordered
        return ordered

    def count_documents(self, flt, **kwargs) -> int:
        with self._engine.lock.read():
            if not kwargs and isinstance(flt, dict):
                n = planned_count(self._ordered(), self._c._store._documents, flt)
                if n is not None:
                    return n
            return self._c.count_documents(flt, **kwargs)

    def estimated_document_count(self, **kwargs) -> int:
        with self._engine.lock.read():
            return self._c.estimated_document_count(**kwargs)

    def distinct(self, key, flt=None, **kwargs):
        with self._engine.lock.read():
            return self._c.distinct(key, flt, **kwargs)

    def aggregate(self, pipeline, **kwargs):
        if any(("$out" in st or "$merge" in st) for st in pipeline):
            raise OperationFailure("$out/$merge are not supported by the embedded store")
        with self._engine.lock.read():
            return self._c.aggregate(pipeline, **kwargs)

    def index_information(self):
        return self._c.index_information()

    # --- writes
    def insert_one(self, doc, **kwargs):
        with self._engine.lock:
            doc.setdefault("_id", bson.ObjectId())
            try:
                res = self._c.insert_one(doc, **kwargs)
            finally:
                self._engine.touched(self._c, [doc["_id"]])
            self._put([res.inserted_id])
            return res

    def insert_many(self, docs, ordered: bool = True, **kwargs):
        docs = list(docs)
        for d in docs:
            d.setdefault("_id", bson.ObjectId())
        with self._engine.lock:
            try:
                return self._c.insert_many(docs, ordered=ordered, **kwargs)
            finally:
                self._put([d["_id"] for d in docs])  # the ones that made it in; re-indexes all

    def _update(self, method: str, flt, update, upsert=False, many=False, sort=None, **kwargs):
        with self._engine.lock:
            ids = self._ids(flt, sort=sort, one=not many)
            if sort is not None:
                kwargs["sort"] = sort
            try:
                res = getattr(self._c, method)(flt, update, upsert=upsert, **kwargs)
            finally:  # a refused update is reverted by mongomock: re-index what it touched
                self._engine.touched(self._c, ids)
            if res.upserted_id is not None:
                ids.append(res.upserted_id)
            self._put(ids)
            return res

    def update_one(self, flt, update, upsert=False, **kwargs):
        return self._update("update_one", flt, update, upsert=upsert, **kwargs)

    def update_many(self, flt, update, upsert=False, **kwargs):
        return self._update("update_many", flt, update, upsert=upsert, many=True, **kwargs)

    def replace_one(self, flt, replacement, upsert=False, **kwargs):
        return self._update("replace_one", flt, replacement, upsert=upsert, **kwargs)

    def delete_one(self, flt, **kwargs):
        with self._engine.lock:
            ids = self._ids(flt, one=True)
            res = self._c.delete_one(flt, **kwargs)
            if res.deleted_count:
                self._del(ids)
            return res

    def delete_many(self, flt, **kwargs):
        with self._engine.lock:
            ids = self._ids(flt)
            res = self._c.delete_many(flt, **kwargs)
            self._del(ids)
            return res

    def _find_one_and(self, method, flt, arg, projection=None, sort=None, upsert=False,
                      return_document=ReturnDocument.BEFORE, **kwargs):
        with self._engine.lock:
            before = self._c.find_one(flt, sort=sort)
            try:
                after = getattr(self._c, method)(flt, arg, sort=sort, upsert=upsert,
                                                 return_document=ReturnDocument.AFTER, **kwargs)
            finally:
                if before is not None:
                    self._engine.touched(self._c, [before["_id"]])
            if after is not None:
                self._put([after["_id"]])
            if return_document == ReturnDocument.AFTER:
                target = after
            else:
                target = before
            if target is None or projection is None:
                return copy.deepcopy(target)
            return self._c.find_one({"_id": target["_id"]}, projection) if target is after \
                else _project(before, projection)

    def find_one_and_update(self, flt, update, **kwargs):
        return self._find_one_and("find_one_and_update", flt, update, **kwargs)

    def find_one_and_replace(self, flt, replacement, **kwargs):
        return self._find_one_and("find_one_and_replace", flt, replacement, **kwargs)

    def find_one_and_delete(self, flt, projection=None, sort=None, **kwargs):
        with self._engine.lock:
            doc = self._c.find_one(flt, sort=sort)
            if doc is None:
                return None
            self._c.delete_one({"_id": doc["_id"]})
            self._del([doc["_id"]])
            return _project(doc, projection) if projection else doc

    def bulk_write(self, requests, ordered: bool = True, **kwargs) -> BulkWriteResult:
        counts = {"nInserted": 0, "nMatched": 0, "nModified": 0, "nRemoved": 0, "nUpserted": 0,
                  "upserted": []}
        with self._engine.lock:
            for i, req in enumerate(requests):
                kind = type(req).__name__
                doc = req._doc if hasattr(req, "_doc") else None
                if kind == "InsertOne":
                    self.insert_one(doc)
                    counts["nInserted"] += 1
                    continue
                if kind in ("DeleteOne", "DeleteMany"):
                    res = (self.delete_one if kind == "DeleteOne" else self.delete_many)(req._filter)
                    counts["nRemoved"] += res.deleted_count
                    continue
                method = {"UpdateOne": self.update_one, "UpdateMany": self.update_many,
                          "ReplaceOne": self.replace_one}[kind]
                res = method(req._filter, req._doc, upsert=bool(req._upsert))
                counts["nMatched"] += res.matched_count
                counts["nModified"] += res.modified_count
                if res.upserted_id is not None:
                    counts["nUpserted"] += 1
                    counts["upserted"].append({"index": i, "_id": res.upserted_id})
        return BulkWriteResult(counts, True)

    # --- indexes and drop
    def create_index(self, keys, **kwargs) -> str:
        with self._engine.lock:
            name = self._c.create_index(keys, **kwargs)
            self._engine.index_for(self._c)
            info = self._c.index_information()[name]
            kw = {k: v for k, v in info.items() if k not in ("key", "v", "ns")}
            self._engine.write([{"o": "idx", "db": self._dbn, "c": self.name,
                                 "keys": [list(k) for k in info["key"]], "kw": {"name": name, **kw}}])
            return name

    def create_indexes(self, models) -> list[str]:
        names = []
        for m in models:
            doc = dict(m.document)
            keys = list(doc.pop("key").items())
            names.append(self.create_index(keys, **doc))
        return names

    def drop_index(self, name: str) -> None:
        with self._engine.lock:
            self._c.drop_index(name)
            self._engine.index_for(self._c)
            self._engine.write([{"o": "dropidx", "db": self._dbn, "c": self.name, "name": name}])

    def drop(self) -> None:
        with self._engine.lock:
            self._c.drop()
            for attr in ("pult_index", "pult_seq", "pult_next", "pult_ordered", "pult_ordered_sig"):
                if hasattr(self._c._store, attr):
                    delattr(self._c._store, attr)
            self._engine.index_for(self._c)  # rebuilt here, under the write lock, not by a reader
            self._engine.write([{"o": "drop", "db": self._dbn, "c": self.name}])


class PlannedCursor:
    """A ``pymongo.cursor.Cursor``-shaped cursor: ``sort``/``skip``/``limit`` are collected, and
    on the first read the query is answered through an ordered index when one serves it (see
    :mod:`storage.ordered_index`), else by mongomock. Only the returned documents are copied."""

    def __init__(self, coll: JournaledCollection, flt, projection, args, kwargs):
        self._coll = coll
        self._filter = flt
        self._projection = projection
        self._sort = kwargs.pop("sort", None)
        self._skip = kwargs.pop("skip", 0) or 0
        self._limit = kwargs.pop("limit", 0) or 0
        self._args, self._kwargs = args, kwargs
        self._it = None

    def sort(self, key_or_list, direction=None):
        self._sort = mm_helpers.create_index_list(key_or_list, direction)
        return self

    def skip(self, n: int):
        self._skip = n
        return self

    def limit(self, n: int):
        self._limit = n
        return self

    def batch_size(self, n: int):
        return self

    def _fallback(self):
        cur = self._coll._c.find(self._filter, self._projection, *self._args, **self._kwargs)
        if self._sort:
            cur = cur.sort(self._sort)
        if self._skip:
            cur = cur.skip(self._skip)
        if self._limit:
            cur = cur.limit(self._limit)
        return cur

    def _run(self) -> list:
        coll = self._coll
        with coll._engine.lock.read():
            ids = None
            if not self._args and not self._kwargs and isinstance(self._filter, (dict, type(None))):
                ids = planned_ids(coll._ordered(), coll._c._store._documents, self._filter, self._sort,
                                  self._skip, abs(self._limit) or None)
            if ids is None:
                return list(self._fallback())
            if not ids:
                return []
            # the documents by id, copied as mongomock's find copies them (its projection, then
            # naive datetimes made aware UTC) — not through find({"_id": {"$in": ids}}), which
            # checked every candidate against the whole id list (0.1 ms a document)
            docs = coll._c._store._documents
            fields = self._projection_with_id()
            aware = coll._c.codec_options.tz_aware
            top = _top_level_inclusion(fields) if aware else None
            out = []
            for i in ids:
                doc = docs.get(i)
                if doc is None:
                    continue
                if fields is None:
                    out.append(_read_copy(doc) if aware else mongomock.collection._copy_field(doc, dict))
                    continue
                if top is not None:  # only the named fields are copied (a list reads a few of a record's)
                    d = {k: _read_copy(v) for k, v in doc.items() if k in top}
                    if "_id" in doc:
                        d["_id"] = doc["_id"]  # last, as mongomock puts it
                    out.append(d)
                    continue
                d = coll._c._copy_only_fields(doc, fields, dict)
                out.append(mm_helpers.make_datetime_timezone_aware_in_document(d) if aware else d)
            if self._projection is not None and not _keeps_id(self._projection):
                for d in out:
                    d.pop("_id", None)
            return out

    def _projection_with_id(self):
        if self._projection is None:
            return None
        if isinstance(self._projection, (list, tuple)):
            return list(self._projection)
        return {k: v for k, v in self._projection.items() if k != "_id"} or None

    def __iter__(self):
        if self._it is None:
            self._it = iter(self._run())
        return self._it

    def __next__(self):
        return next(iter(self))

    def close(self) -> None:
        self._it = iter(())

    def __getattr__(self, name):  # anything else PyMongo's cursor offers: mongomock's
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._fallback(), name)


#: values a read hands out as they are stored: immutable (mongomock's ``copy.copy`` of them is
#: the value itself, or an equal new ObjectId)
_SHARED = frozenset({str, int, float, bool, type(None), bson.ObjectId, bytes})


def _read_copy(value):
    """What mongomock's find returns for a stored value when the client is ``tz_aware``: a copy
    (``_copy_field``: dicts and lists copied, the rest ``copy.copy``) whose naive datetimes are
    made aware UTC (``make_datetime_timezone_aware_in_document``) — in one walk instead of two."""
    t = type(value)
    if t is dict:
        out = {}
        for k, v in value.items():  # the common leaves inline: most of a record's fields
            tv = type(v)
            if tv in _SHARED:
                out[k] = v
            elif tv is datetime:
                out[k] = v.replace(tzinfo=mm_helpers.utc)
            else:
                out[k] = _read_copy(v)
        return out
    if t in _SHARED:
        return value
    if t is datetime:
        return value.replace(tzinfo=mm_helpers.utc)
    if t is list:
        return [_read_copy(v) for v in value]
    return mm_helpers.make_datetime_timezone_aware_in_document(mongomock.collection._copy_field(value, dict))


def _top_level_inclusion(fields) -> frozenset | None:
    """The field names of a projection that only includes whole top-level fields (``{"a": 1, "b":
    True}`` or ``["a", "b"]``, ``_id`` already taken out), else None: such a projection is copied
    field by field, exactly as mongomock's ``_copy_only_fields`` would (the included fields in the
    document's order, then ``_id``); anything else (dotted paths, exclusions, operators) is left to
    mongomock."""
    if not fields:
        return None
    if isinstance(fields, (list, tuple)):
        names = fields
    elif isinstance(fields, dict):
        if any(v is not True and (type(v) is not int or v != 1) for v in fields.values()):
            return None
        names = fields.keys()
    else:
        return None
    if any(type(k) is not str or "." in k or k.startswith("$") for k in names):
        return None
    return frozenset(names) - {"_id"}


def _keeps_id(projection) -> bool:
    if isinstance(projection, (list, tuple)):
        return True
    return bool(projection.get("_id", 1))


def _project(doc: dict, projection) -> dict:
    if isinstance(projection, (list, tuple)):
        projection = {k: 1 for k in projection}
    include = {k for k, v in projection.items() if v and k != "_id"}
    out = {k: copy.deepcopy(v) for k, v in doc.items()
           if (k in include if include else projection.get(k, 1))}
    if projection.get("_id", 1) and "_id" in doc:
        out["_id"] = doc["_id"]
    else:
        out.pop("_id", None)
    return out


# --- the async face --------------------------------------------------------------------------
class AsyncEmbeddedCursor:
    """``AsyncCursor``-shaped: chain sort/skip/limit/projection, then ``to_list`` or ``async for``."""

    def __init__(self, engine: EmbeddedEngine, cursor):
        self._engine = engine
        self._cursor = cursor
        self._items: list | None = None

    def sort(self, *args, **kwargs):
        self._cursor.sort(*args, **kwargs)
        return self

    def skip(self, n: int):
        self._cursor.skip(n)
        return self

    def limit(self, n: int):
        self._cursor.limit(n)
        return self

    def batch_size(self, n: int):
        return self

    async def _materialize(self) -> list:
        if self._items is None:
            self._items = await self._engine.run(list, self._cursor)
        return self._items

    async def to_list(self, length: int | None = None) -> list:
        items = await self._materialize()
        out = items if length is None else items[:length]
        self._items = [] if length is None else items[length:]
        return out

    def __aiter__(self):
        return self

    async def __anext__(self):
        items = await self._materialize()
        if not items:
            raise StopAsyncIteration
        return items.pop(0)

    async def close(self) -> None:
        self._items = []


class AsyncEmbeddedCollection:
    """``AsyncCollection``-shaped wrapper over :class:`JournaledCollection`."""

    _ASYNC = {"find_one", "count_documents", "estimated_document_count", "distinct", "insert_one",
              "insert_many", "update_one", "update_many", "replace_one", "delete_one",
              "delete_many", "find_one_and_update", "find_one_and_replace",
              "find_one_and_delete", "bulk_write", "create_index", "create_indexes", "drop_index",
              "drop", "index_information"}

    def __init__(self, engine: EmbeddedEngine, sync: JournaledCollection):
        self._engine = engine
        self._sync = sync
        self.name = sync.name

    def __getattr__(self, name: str):
        if name not in self._ASYNC:
            raise AttributeError(f"{name} is not available in the embedded store")
        method = getattr(self._sync, name)

        async def call(*args, **kwargs):
            return await self._engine.run(method, *args, **kwargs)

        call.__name__ = name
        return call

    def find(self, *args, **kwargs) -> AsyncEmbeddedCursor:
        return AsyncEmbeddedCursor(self._engine, self._sync.find(*args, **kwargs))

    async def aggregate(self, pipeline, **kwargs) -> AsyncEmbeddedCursor:
        rows = await self._engine.run(lambda: list(self._sync.aggregate(pipeline, **kwargs)))
        return AsyncEmbeddedCursor(self._engine, iter(rows))


class AsyncEmbeddedDatabase:
    """``AsyncDatabase``-shaped view of the embedded store."""

    def __init__(self, engine: EmbeddedEngine, name: str):
        self._engine = engine
        self._sync = JournaledDatabase(engine, name)
        self.name = name

    def __getitem__(self, name: str) -> AsyncEmbeddedCollection:
        return AsyncEmbeddedCollection(self._engine, self._sync[name])

    def __getattr__(self, name: str) -> AsyncEmbeddedCollection:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    async def list_collection_names(self) -> list[str]:
        return await self._engine.run(self._sync.list_collection_names)

    async def drop_collection(self, name: str) -> None:
        await self._engine.run(self._sync.drop_collection, name)

    async def command(self, cmd, **kw) -> dict:
        """``ping`` goes through the store thread too: it answers when the store can serve."""
        return await self._engine.run(self._sync.command, cmd, **kw)


async def together(db, fn):
    """``await fn()`` — reads (or writes) of ``db`` only — in one hand-off to the embedded store's
    thread when ``db`` is the embedded store (:meth:`EmbeddedEngine.run_together`), else as it is
    (MongoDB's driver has no thread to hand off to; a wrapped database that hides its engine, as
    the tests' read counters do, runs it as it is too)."""
    engine = _engine_of(db)
    return await (engine.run_together(fn) if engine is not None else fn())


def _engine_of(db) -> "EmbeddedEngine | None":
    from storage.versions import VersionedDatabase

    if isinstance(db, VersionedDatabase):  # the counting face over the store's async face
        db = db.raw
    return db._engine if isinstance(db, AsyncEmbeddedDatabase) else None
