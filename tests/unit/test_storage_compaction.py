"""Compaction of the embedded store never holds up its writers: the journal is closed as a segment
(a rename) and a separate process merges the snapshot and the closed segments from the files
(storage/compact.py). What it writes replays to exactly the store's state, documents' natural
order included, and a crash at any point of it loses nothing."""
from __future__ import annotations

import fcntl
import random
import shutil
import threading

import bson
from bson import ObjectId

from storage import compact as compaction
from storage.embedded import EmbeddedEngine


def _state(engine: EmbeddedEngine) -> dict:
    """Every collection's documents in natural order, and its indexes."""
    out = {}
    db = engine.database("pult")
    for name in sorted(db.list_collection_names()):
        coll = db[name]
        out[name] = ([d for d in coll._c.find({})],
                     sorted((k, tuple(v["key"])) for k, v in coll.index_information().items()))
    return out


def _churn(db, rnd: random.Random, steps: int) -> None:
    """Inserts, in-place updates, deletes, deletes followed by a re-insert of the same _id, index
    creation and removal, a dropped and re-created collection."""
    ids: list = []
    for step in range(steps):
        r = rnd.random()
        coll = db["calls" if rnd.random() < 0.8 else "other"]
        if r < 0.45 or not ids:
            _id = ObjectId()
            ids.append(_id)
            coll.insert_one({"_id": _id, "n": step, "pad": "x" * rnd.randrange(10, 300)})
        elif r < 0.7:
            db["calls"].update_one({"_id": rnd.choice(ids)}, {"$set": {"n": -step}})
        elif r < 0.85:
            _id = rnd.choice(ids)
            db["calls"].delete_one({"_id": _id})
            if rnd.random() < 0.5:  # written again: it moves to the end of the natural order
                db["calls"].insert_one({"_id": _id, "n": step, "again": True})
        elif r < 0.9:
            db["calls"].create_index([("n", 1)], name="by_n")
        elif r < 0.93:
            if "by_n" in db["calls"].index_information():
                db["calls"].drop_index("by_n")
        elif r < 0.94:
            db["other"].drop()
            db["other"].insert_one({"after_drop": step})


def test_writes_go_on_while_a_compaction_runs_and_the_result_replays_exactly(settings):
    store_dir = settings.data_dir / "store"
    engine = EmbeddedEngine(settings.data_dir)
    engine.segment_bytes = 20_000  # a segment every few dozen writes
    db = engine.database("pult")
    # hold the merge's lock: the compaction process starts but cannot finish until released
    store_dir.mkdir(parents=True, exist_ok=True)
    held = open(store_dir / compaction.COMPACT_LOCK, "a")
    fcntl.flock(held, fcntl.LOCK_EX)
    rnd = random.Random(11)
    _churn(db, rnd, 600)
    running = engine._compactor
    assert running is not None and running.is_alive()  # a compaction started and is waiting
    assert len(compaction.segments(store_dir)) >= 3    # segments keep closing meanwhile
    more = [ObjectId() for _ in range(50)]
    done = threading.Event()

    def writer():  # a writer and a reader on another thread finish while the merge is held
        for _id in more:
            db["calls"].insert_one({"_id": _id, "late": True})
        assert db["calls"].count_documents({"late": True}) == 50
        done.set()

    t = threading.Thread(target=writer)
    t.start()
    t.join(60)  # a guard against a hang, not a time measurement
    assert done.is_set() and running.is_alive()
    fcntl.flock(held, fcntl.LOCK_UN)
    held.close()
    engine.wait_for_compaction()
    with open(store_dir / compaction.SNAPSHOT, "rb") as f:
        merged_upto = compaction.snapshot_upto(f)
    assert merged_upto >= 1
    assert all(n > merged_upto for n, _ in compaction.segments(store_dir))  # merged segments gone
    _churn(db, rnd, 300)
    expected = _state(engine)
    # reopening from snapshot + the segments written after the merge + the journal
    crashed = settings.data_dir.parent / "crashed"
    shutil.copytree(settings.data_dir, crashed)
    (crashed / "store" / "LOCK").unlink()
    other = EmbeddedEngine(crashed)
    other.wait_for_compaction()
    assert _state(other) == expected
    other.close()
    engine.close()
    assert compaction.segments(store_dir) == []
    again = EmbeddedEngine(settings.data_dir)
    assert _state(again) == expected
    again.close()


def test_merged_segments_left_behind_by_a_crash_are_not_replayed_twice(settings):
    """A crash between the new snapshot's rename and the deletion of the segments it merged
    leaves those segments: they are skipped on load (the snapshot says it covers them); a crash
    in the middle of a merge leaves a temporary file, removed by the next merge."""
    store_dir = settings.data_dir / "store"
    engine = EmbeddedEngine(settings.data_dir)
    engine.segment_bytes = 2_000
    db = engine.database("pult")
    for i in range(100):
        db["calls"].insert_one({"i": i, "pad": "y" * 100})
    engine.wait_for_compaction()
    engine.close()
    with open(store_dir / compaction.SNAPSHOT, "rb") as f:
        upto = compaction.snapshot_upto(f)
    # a stale segment the snapshot covers, saying things that are no longer true
    stale = store_dir / compaction.segment_name(upto)
    stale.write_bytes(bson.encode({"o": "put", "db": "pult", "c": "calls", "d": {"_id": "ghost"}})
                      + bson.encode({"o": "drop", "db": "pult", "c": "calls"}))
    (store_dir / "snapshot.4242.tmp").write_bytes(b"half a snapshot")  # and a merge that died
    engine = EmbeddedEngine(settings.data_dir)
    db = engine.database("pult")
    assert db["calls"].count_documents({}) == 100
    assert db["calls"].find_one({"_id": "ghost"}) is None
    engine.close()
    assert not stale.exists() and not (store_dir / "snapshot.4242.tmp").exists()


def test_a_store_written_by_the_previous_format_opens_and_compacts(settings):
    """A data directory from before segments (snapshot without a header, journal.bson) opens
    with every record, and its first compaction writes the new format."""
    store_dir = settings.data_dir / "store"
    store_dir.mkdir(parents=True)
    ids = [ObjectId() for _ in range(5)]
    (store_dir / "snapshot.bson").write_bytes(b"".join(
        bson.encode({"o": "put", "db": "pult", "c": "calls", "d": {"_id": i, "n": k}}) for k, i in enumerate(ids)))
    (store_dir / "journal.bson").write_bytes(
        bson.encode({"o": "del", "db": "pult", "c": "calls", "id": ids[0]})
        + bson.encode({"o": "put", "db": "pult", "c": "calls", "d": {"_id": ids[1], "n": 10}}))
    engine = EmbeddedEngine(settings.data_dir)
    engine.wait_for_compaction()
    db = engine.database("pult")
    assert [d["n"] for d in db["calls"].find({})] == [10, 2, 3, 4]
    engine.close()
    with open(store_dir / "snapshot.bson", "rb") as f:
        assert compaction.snapshot_upto(f) >= 1
    engine = EmbeddedEngine(settings.data_dir)
    assert [d["n"] for d in engine.database("pult")["calls"].find({})] == [10, 2, 3, 4]
    engine.close()


def test_a_compaction_asked_for_takes_the_journal_written_so_far(settings):
    store_dir = settings.data_dir / "store"
    engine = EmbeddedEngine(settings.data_dir)
    db = engine.database("pult")
    db["calls"].insert_many([{"i": i} for i in range(30)])
    engine.compact_in_background(rotate=True).join()
    assert (store_dir / compaction.JOURNAL).stat().st_size == 0
    assert compaction.segments(store_dir) == []
    db["calls"].insert_one({"i": 30})
    shutil.copytree(settings.data_dir, settings.data_dir.parent / "copy")
    (settings.data_dir.parent / "copy" / "store" / "LOCK").unlink()
    other = EmbeddedEngine(settings.data_dir.parent / "copy")
    assert [d["i"] for d in other.database("pult")["calls"].find({})] == list(range(31))
    other.close()
    engine.close()


def test_the_background_merge_gives_the_server_the_cpu_first():
    """The merge's process lowers its own CPU priority before it starts (storage/compact.py run
    as a script): the server's threads win the cores whenever both want them."""
    import os
    import subprocess
    import sys

    mine = os.nice(0)
    out = subprocess.run([sys.executable, "-c", "from storage import compact; print(compact.yield_cpu_to_the_server())"],
                         capture_output=True, text=True, check=True, cwd=os.getcwd())
    assert int(out.stdout) == min(19, mine + compaction.NICE)
