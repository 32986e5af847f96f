"""The store contract: persistence across restarts, scoping, idempotent call records,
migrations and media — run against the embedded store and, with MONGO_URL, a real MongoDB."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timezone

import pytest
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from storage import migrations
from storage.client import open_store
from storage.embedded import DataDirLocked
from storage.media import MediaNotFound
from storage.repos.base import Scope, ScopedRepo, ScopeError
from storage.repos.calls import CallRecords, save_call_record


class Widgets(ScopedRepo):
    collection = "test_widgets"


async def test_embedded_store_keeps_every_write_across_a_restart(settings):
    st = open_store(settings)
    await st.start()
    db = st.db
    await db.things.create_index([("code", 1)], unique=True, name="code_unique")
    await db.things.insert_many([{"code": i, "n": 0} for i in range(5)])
    await db.things.update_many({"code": {"$gte": 3}}, {"$inc": {"n": 10}})
    await db.things.delete_one({"code": 0})
    await db.things.update_one({"code": 99}, {"$set": {"n": 1}}, upsert=True)
    doc = await db.things.find_one_and_update({"code": 1}, {"$set": {"n": 7}},
                                              return_document=ReturnDocument.AFTER)
    assert doc["n"] == 7
    await db.things.replace_one({"code": 2}, {"code": 2, "replaced": True})
    await db.other.insert_one({"when": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)})
    await st.close()

    st2 = open_store(settings)
    await st2.start()
    docs = {d["code"]: d for d in await st2.db.things.find({}, {"_id": 0}).to_list(None)}
    assert sorted(docs) == [1, 2, 3, 4, 99]
    assert docs[1]["n"] == 7 and docs[3]["n"] == 10 and docs[99]["n"] == 1
    assert docs[2] == {"code": 2, "replaced": True}
    other = await st2.db.other.find_one()
    assert other["when"] == datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    with pytest.raises(DuplicateKeyError):  # the unique index came back too
        await st2.db.things.insert_one({"code": 4})
    await st2.close()


async def test_dates_written_before_and_after_a_restart_sort_together(settings):
    """Found by the real-switch tier: the call history answered 500 after Pult restarted (records
    replayed from the journal did not compare with records written after it)."""
    st = open_store(settings)
    await st.start()
    await st.db.other.insert_one({"n": 1, "when": datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)})
    await st.close()
    st2 = open_store(settings)
    await st2.start()
    await st2.db.other.insert_one({"n": 2, "when": datetime(2026, 1, 3, tzinfo=timezone.utc)})
    docs = await st2.db.other.find({}, sort=[("when", -1)]).to_list(None)
    assert [d["n"] for d in docs] == [2, 1]
    assert docs[1]["when"] == datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)
    await st2.close()


async def test_embedded_store_survives_a_crash_without_close(settings):
    """Writes are journaled before the call returns: a process killed without closing loses nothing."""
    script = (
        "import asyncio, os\n"
        "from pult.settings import load_settings\n"
        "from storage.client import open_store\n"
        "async def main():\n"
        f"    st = open_store(load_settings(data_dir={str(settings.data_dir)!r}))\n"
        "    await st.start()\n"
        "    for i in range(100):\n"
        "        await st.db.calls.insert_one({'i': i})\n"
        "    await st.db.calls.update_one({'i': 5}, {'$set': {'seen': True}})\n"
        "    os._exit(0)  # no close, no snapshot\n"
        "asyncio.run(main())\n")
    subprocess.run([sys.executable, "-c", script], check=True, cwd=os.getcwd())
    # and a torn record at the tail, as if the process died in the middle of a write
    with open(settings.data_dir / "store" / "journal.bson", "ab") as f:
        f.write(b"\x40\x00\x00\x00\x02o\x00")
    st = open_store(settings)
    await st.start()
    assert await st.db.calls.count_documents({}) == 100
    assert (await st.db.calls.find_one({"i": 5}))["seen"] is True
    await st.close()


def test_a_second_process_cannot_open_the_same_data_dir(settings):
    st = open_store(settings)
    script = ("from pult.settings import load_settings\nfrom storage.client import open_store\n"
              f"open_store(load_settings(data_dir={str(settings.data_dir)!r}))\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "is in use by pid" in proc.stderr and DataDirLocked.__name__ in proc.stderr
    import asyncio
    asyncio.run(st.close())


async def test_scoped_repository_never_crosses_tenants(store):
    a, b = Widgets(store.db, Scope.pbx(101)), Widgets(store.db, Scope.pbx(202))
    ida = await a.insert_one({"name": "A's widget"})
    await b.insert_one({"name": "B's widget"})
    assert [w["name"] for w in await a.find()] == ["A's widget"]
    assert await b.find_one({"_id": ida}) is None
    assert await b.find_one({"_id": ida, "pbx_id": 101}) is None  # cannot widen the scope
    assert await b.update_one({"_id": ida}, {"$set": {"name": "hacked"}}) is False
    assert await b.delete_one({"_id": ida}) is False
    assert (await a.find_one({"_id": ida}))["name"] == "A's widget"
    with pytest.raises(ScopeError):
        await a.update_one({"_id": ida}, {"$set": {"pbx_id": 202}})
    with pytest.raises(ScopeError):
        await a.insert_one({"name": "x", "pbx_id": 202})
    assert await Widgets(store.db, Scope.platform()).count() == 2


async def test_bulk_writes_and_replace_stay_in_the_scope(store):
    """The writes the services need (replace, update many, delete many) go through the scope too."""
    a, b = Widgets(store.db, Scope.pbx(101)), Widgets(store.db, Scope.pbx(202))
    ida = await a.insert_one({"name": "A1", "color": "red"})
    await a.insert_one({"name": "A2", "color": "red"})
    idb = await b.insert_one({"name": "B1", "color": "red"})
    assert await b.replace_one({"_id": ida}, {"_id": ida, "name": "hacked"}) is False
    assert await a.replace_one({"_id": ida}, {"_id": ida, "name": "A1 again"}) is True
    assert (await a.find_one({"_id": ida}))["pbx_id"] == 101  # stamped: a replace never leaves its PBX
    with pytest.raises(ScopeError):
        await a.replace_one({"_id": ida}, {"_id": ida, "name": "moved", "pbx_id": 202})
    assert await a.update_many({"color": "red"}, {"$set": {"color": "blue"}}) == 1  # A1 lost its color
    assert (await b.find_one({"_id": idb}))["color"] == "red"
    with pytest.raises(ScopeError):
        await a.update_many({}, {"$set": {"pbx_id": 202}})
    assert await a.delete_many({}) == 2
    assert [w["name"] for w in await b.find()] == ["B1"]


def test_a_repository_cannot_be_built_without_a_scope(store):
    for bad in (None, 0, -1, "101", True):
        with pytest.raises(ScopeError):
            Scope.pbx(bad)
    with pytest.raises(ScopeError):
        Widgets(store.db, None)
    with pytest.raises(ScopeError):
        Widgets(store.db, Scope.account(5))  # this repo is PBX-scoped


async def test_call_record_is_stored_exactly_once(store):
    rec = {"uuid": "c0ffee", "pbx_id": 101, "caller": "79161234567", "callee": "74951234567",
           "start": datetime(2026, 11, 1, 10, 0, tzinfo=timezone.utc), "billsec": 42}
    assert await save_call_record(store.db, rec) is True
    assert await save_call_record(store.db, {**rec, "billsec": 0}) is False
    records = await CallRecords(store.db, Scope.pbx(101)).find()
    assert len(records) == 1 and records[0]["billsec"] == 42
    assert await CallRecords(store.db, Scope.pbx(202)).count() == 0
    with pytest.raises(ValueError):
        await save_call_record(store.db, {"pbx_id": 101})


async def test_migrations_run_once_in_order_and_resume_after_a_failure(store, monkeypatch):
    ran = []
    monkeypatch.setattr(migrations, "MIGRATIONS", {})
    await store.db["_migrations"].delete_many({})  # start() ran the real ones; begin from zero

    @migrations.migration(1, "first")
    async def m1(db):
        ran.append(1)

    @migrations.migration(2, "second fails once")
    async def m2(db):
        ran.append(2)
        if ran.count(2) == 1:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await migrations.migrate(store.db)
    assert await migrations.current_version(store.db) == 1
    assert await migrations.migrate(store.db) == [2]
    assert await migrations.migrate(store.db) == []
    assert ran == [1, 2, 2]


async def test_media_is_streamed_and_owner_checked(store):
    data = os.urandom(600_000)
    fid = await store.media.put(101, "rec.wav", data, "audio/wav", {"call": "c0ffee"})
    info = await store.media.info(101, fid)
    assert info.length == len(data) and info.filename == "rec.wav" and info.metadata["call"] == "c0ffee"
    chunks = [c async for c in store.media.stream(101, fid)]
    assert len(chunks) > 1 and b"".join(chunks) == data
    with pytest.raises(MediaNotFound):
        await store.media.info(202, fid)
    with pytest.raises(MediaNotFound):
        await store.media.read(202, fid)
    assert await store.media.delete(202, fid) is False
    assert await store.media.delete(101, fid) is True
    with pytest.raises(MediaNotFound):
        await store.media.read(101, fid)


async def test_media_survives_restart_in_embedded_mode(settings):
    st = open_store(settings)
    await st.start()

    async def gen():
        for i in range(3):
            yield bytes([i]) * 1000
    fid = await st.media.put(7, "fax.tiff", gen(), "image/tiff")
    await st.close()
    st = open_store(settings)
    await st.start()
    assert await st.media.read(7, fid) == b"\x00" * 1000 + b"\x01" * 1000 + b"\x02" * 1000
    await st.close()


async def test_indexed_lookups_find_exactly_what_a_scan_finds(settings):
    """The embedded store narrows equality lookups with its hash index; results stay exact
    through inserts, in-place updates that move a document between keys, deletes and restarts."""
    st = open_store(settings)
    await st.start()
    coll = st.db.ledger
    await coll.create_index([("account_id", 1), ("at", 1)], name="acc_at")
    await coll.insert_many([{"account_id": i % 10, "n": i, "tags": ["t%d" % (i % 3)]}
                            for i in range(200)])
    assert await coll.count_documents({"account_id": 3}) == 20
    await coll.update_many({"account_id": 3, "n": {"$lt": 50}}, {"$set": {"account_id": 42}})
    assert await coll.count_documents({"account_id": 3}) == 15
    assert await coll.count_documents({"account_id": 42}) == 5
    assert await coll.count_documents({"account_id": {"$in": [3, 42]}}) == 20
    await coll.delete_many({"account_id": 42, "n": {"$gt": 20}})
    assert [d["n"] for d in await coll.find({"account_id": 42}).sort("n", 1).to_list(None)] == [3, 13]
    assert await coll.count_documents({"account_id": 3.0}) == 15  # numeric equality as in MongoDB
    assert await coll.count_documents({"missing": None}) == 197  # None also matches missing fields
    first = await coll.find_one({"account_id": 5})
    assert first["n"] == 5  # natural order preserved
    await coll.create_index([("key", 1)], unique=True, sparse=True, name="key_unique")
    await coll.update_one({"n": 1}, {"$set": {"key": "k1"}})
    await coll.update_one({"n": 2}, {"$set": {"key": "k2"}})
    with pytest.raises(DuplicateKeyError):  # an in-place update colliding on a unique key
        await coll.update_one({"n": 2}, {"$set": {"key": "k1"}})
    assert [d["n"] for d in await coll.find({"key": "k2"}).to_list(None)] == [2]  # reverted, found
    with pytest.raises(DuplicateKeyError):
        await coll.insert_one({"key": "k2"})
    assert await coll.count_documents({"key": "k2"}) == 1
    await st.close()
    st = open_store(settings)
    await st.start()
    assert await st.db.ledger.count_documents({"account_id": 3}) == 15
    assert await st.db.ledger.count_documents({"account_id": 42}) == 2
    await st.close()
