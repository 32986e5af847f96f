"""Compaction of the embedded store: merge the snapshot and the closed journal segments into a
new snapshot, from the files alone.

The embedded store (``storage/embedded.py``) appends every write to ``journal.bson``; when that
file grows past its size limit it is closed and renamed to a numbered segment
(``journal-000007.bson``, under the store's write lock: a rename) and writes go on in a fresh
``journal.bson``. Compaction then runs *in its own process* (``python storage/compact.py DIR N``)
and never looks at the live store: it streams the current snapshot and the closed segments up to
``N`` and writes the state they replay to, so the server's writers and readers never wait for it
and its CPU is not taken from the event loop (no shared GIL).

The result is exactly what replaying ``snapshot + segments`` gives, including the documents'
natural order (a document updated in place keeps its place; one deleted and written again moves
to the end, as in the store's dict). Records are copied as raw BSON; only the collection and the
``_id`` of each are read (a "put" carries it ahead of the document, which stays undecoded). Memory: the segments' records kept by id (a segment is at most the
journal limit, 64 MB), never the snapshot.

Files: the new snapshot starts with ``{"o": "meta", "upto": N}`` (it contains every segment
numbered ``N`` or below); it is written to a temporary file, fsynced and renamed over
``snapshot.bson``, then the merged segments are deleted. A crash at any point leaves a state
that replays to the same data (segments at or below the snapshot's ``upto`` are skipped on
load). ``COMPACT.lock`` (an ``flock``) lets one merge run at a time, even one left running by a
server that was killed while a new one starts.

The background merge runs at a lower CPU priority (:data:`NICE`): on a machine whose cores the
server needs — the call engine, the switch's lookups, the cabinet — they go first and the merge
takes what is left (on an idle machine it runs as fast as before). The merge done when the store
closes runs in the closing process, at its priority.

Only ``bson`` and the standard library are imported: the script runs outside the package.
"""
from __future__ import annotations

import fcntl
import os
import re
import struct
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Iterator

import bson
from bson.raw_bson import RawBSONDocument

#: how much lower than the server's the background merge's CPU priority is (``nice``)
NICE = 10
SNAPSHOT = "snapshot.bson"
JOURNAL = "journal.bson"
COMPACT_LOCK = "COMPACT.lock"
_SEGMENT = re.compile(r"^journal-(\d{6,})\.bson$")


def segment_name(n: int) -> str:
    return f"journal-{n:06d}.bson"


def segments(store_dir: Path) -> list[tuple[int, Path]]:
    """The closed journal segments in ``store_dir``, oldest first."""
    out = []
    for p in Path(store_dir).iterdir():
        m = _SEGMENT.match(p.name)
        if m:
            out.append((int(m.group(1)), p))
    return sorted(out)


def raw_records(f, name: str = "", warn=None) -> Iterator[bytes]:
    """The records of an open journal or snapshot file, as raw BSON, one at a time; a torn
    record at the end (a crash in the middle of a write) ends the stream."""
    while True:
        head = f.read(4)
        if not head:
            return
        (size,) = struct.unpack("<i", head) if len(head) == 4 else (0,)
        body = f.read(size - 4) if size >= 5 else b""
        if len(head) < 4 or size < 5 or len(body) < size - 4:
            if warn:
                warn("embedded store: dropping a torn record at the end of %s", name)
            return
        yield head + body


def snapshot_upto(f) -> int:
    """The segment number a snapshot covers (its first record); -1 for none. Leaves ``f`` at
    the start."""
    pos = f.tell()
    try:
        for raw in raw_records(f):
            rec = bson.decode(raw)
            return int(rec["upto"]) if rec.get("o") == "meta" else -1
        return -1
    finally:
        f.seek(pos)


def _put_id(rec: RawBSONDocument):
    """The ``_id`` of a "put" record: its ``id`` (written ahead of the document since this
    format, so the document is never decoded), else the document's own."""
    try:
        return rec["id"]
    except KeyError:
        return rec["d"]["_id"]


def _id_key(value) -> bytes:
    return bson.encode({"i": value})


def merge(store_dir: Path, upto: int, warn=None) -> int:
    """Merge ``snapshot.bson`` and the segments numbered ``<= upto`` into a new snapshot;
    returns the number of records written. Takes ``COMPACT.lock`` for the duration."""
    store_dir = Path(store_dir)
    with open(store_dir / COMPACT_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _merge_locked(store_dir, upto, warn)


def _merge_locked(store_dir: Path, upto: int, warn) -> int:
    for stale in store_dir.glob("snapshot*.tmp"):  # a merge that died (none runs: we hold the lock)
        stale.unlink(missing_ok=True)
    snap_path = store_dir / SNAPSHOT
    base = open(snap_path, "rb", buffering=1 << 20) if snap_path.exists() else None
    try:
        base_upto = snapshot_upto(base) if base else -1
        todo = [(n, p) for n, p in segments(store_dir) if base_upto < n <= upto]
        done = [p for n, p in segments(store_dir) if n <= base_upto]
        if not todo:
            for p in done:  # left by a crash between the rename and the deletes
                p.unlink(missing_ok=True)
            return 0
        # 1. the segments, in order: the last state of each document they touch, and where it goes
        tail: OrderedDict = OrderedDict()   # key -> raw put, in the order a replay would append
        deleted: set = set()                 # keys deleted at some point (their base copy is gone)
        dropped: set = set()                 # collections dropped at some point
        index_ops: list = []                 # ("idx", key, raw) / ("dropidx", key) / ("drop", coll)
        for _n, path in todo:
            with open(path, "rb", buffering=1 << 20) as f:
                for raw in raw_records(f, path.name, warn):
                    rec = RawBSONDocument(raw)
                    op, coll = rec["o"], (rec["db"], rec["c"])
                    if op == "put":
                        key = (coll, _id_key(_put_id(rec)))
                        tail[key] = raw  # an existing key keeps its place, a new one goes last
                    elif op == "del":
                        key = (coll, _id_key(rec["id"]))
                        tail.pop(key, None)
                        deleted.add(key)
                    elif op == "idx":
                        index_ops.append(("idx", (coll, rec["kw"].get("name")), raw))
                    elif op == "dropidx":
                        index_ops.append(("dropidx", (coll, rec["name"]), None))
                    elif op == "drop":
                        for key in [k for k in tail if k[0] == coll]:
                            del tail[key]
                        dropped.add(coll)
                        index_ops.append(("drop", coll, None))
        # 2. the base snapshot streamed through, then what the segments added, then the indexes
        tmp = store_dir / f"snapshot.{os.getpid()}.tmp"
        written = 0
        indexes: list = []  # [(key, raw)]
        with open(tmp, "wb", buffering=1 << 20) as out:
            out.write(bson.encode({"o": "meta", "upto": upto}))
            if base:
                for raw in raw_records(base, SNAPSHOT, warn):
                    rec = RawBSONDocument(raw)
                    op = rec["o"]
                    if op == "meta":
                        continue
                    coll = (rec["db"], rec["c"])
                    if op == "idx":
                        if coll not in dropped:
                            indexes.append(((coll, rec["kw"].get("name")), raw))
                        continue
                    if op != "put" or coll in dropped:
                        continue
                    key = (coll, _id_key(_put_id(rec)))
                    if key in deleted:
                        continue
                    out.write(tail.pop(key, raw))
                    written += 1
            for raw in tail.values():
                out.write(raw)
                written += 1
            for kind, key, raw in index_ops:
                if kind == "drop":
                    indexes = [(k, r) for k, r in indexes if k[0] != key]
                else:
                    indexes = [(k, r) for k, r in indexes if k != key]
                    if kind == "idx":
                        indexes.append((key, raw))
            for _key, raw in indexes:
                out.write(raw)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, snap_path)
        _fsync_dir(store_dir)
        for p in done + [p for _n, p in todo]:
            p.unlink(missing_ok=True)
        return written
    finally:
        if base:
            base.close()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def yield_cpu_to_the_server() -> int:
    """Lower this process's CPU priority by :data:`NICE` (the background merge's first step);
    returns the niceness now. A system that refuses leaves it as it was."""
    try:
        return os.nice(NICE)
    except OSError:
        return os.nice(0)


if __name__ == "__main__":  # python storage/compact.py STORE_DIR UPTO
    import logging

    yield_cpu_to_the_server()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    merge(Path(sys.argv[1]), int(sys.argv[2]), warn=logging.getLogger("pult.storage.compact").warning)
