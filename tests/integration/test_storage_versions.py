"""The change counters (storage.versions): which writes bump which counter, in both faces."""
from __future__ import annotations

import pytest
from pymongo.errors import DuplicateKeyError

from storage.versions import COLLECTION, change_versions, is_versioned


async def counters(store) -> dict:
    return {d["_id"]: d["v"] for d in await store.db.raw[COLLECTION].find({}).to_list(None)}


async def test_writes_bump_the_counter_of_the_pbx_they_name(store):
    db = store.db
    assert is_versioned(db) and is_versioned(store.sync_db)
    _, p = await change_versions(db, 7)  # start-up (migrations, defaults) wrote platform documents
    assert await change_versions(db, 7) == (0, p)
    await db["employees"].insert_one({"_id": "e1", "pbx_id": 7, "name": "A"})
    await db["employees"].update_one({"_id": "e1", "pbx_id": 7}, {"$set": {"name": "B"}})
    assert await change_versions(db, 7) == (2, p)
    assert await change_versions(db, 8) == (0, p)  # another PBX's kept answers stay
    await db["employees"].update_one({"_id": "e1"}, {"$set": {"name": "C"}})  # no PBX named: the platform's
    await db["employees"].delete_many({})
    assert await change_versions(db, 7) == (2, p + 2)
    assert await change_versions(db, 8) == (0, p + 2)


async def test_every_write_method_counts_and_unwatched_collections_do_not(store):
    db = store.db
    await db["sip_accounts"].insert_many(({"_id": f"a{i}", "pbx_id": 3, "login": f"l{i}", "domain": "d"} for i in range(2)))  # a generator
    assert await db["sip_accounts"].count_documents({}) == 2  # the documents were not consumed by counting
    await db["sip_accounts"].replace_one({"_id": "a0", "pbx_id": 3}, {"pbx_id": 3, "login": "x", "domain": "d"})
    await db["sip_accounts"].find_one_and_update({"_id": "a1", "pbx_id": 3}, {"$set": {"login": "y"}})
    await db["sip_accounts"].find_one_and_delete({"_id": "a1", "pbx_id": 3})
    assert (await counters(store))[3] == 4
    before = await counters(store)
    await db["call_records"].insert_one({"pbx_id": 3, "uuid": "u"})
    await db["audit_log"].insert_one({"pbx_id": 3})
    assert await counters(store) == before


async def test_a_refused_write_still_bumps(store):
    """A write that fails half-way (a duplicate in insert_many) may have changed documents."""
    db = store.db
    await db["numbers"].insert_one({"_id": "n1", "pbx_id": 5})
    with pytest.raises(Exception):
        await db["numbers"].insert_many([{"_id": "n2", "pbx_id": 5}, {"_id": "n1", "pbx_id": 5}])
    assert (await counters(store))[5] == 2


async def test_the_synchronous_face_of_workers_counts_too(store):
    store.sync_db["pbxes"].update_one({"pbx_id": 9}, {"$set": {"status": "blocked"}}, upsert=True)
    store.sync_db.pbxes.update_one({"pbx_id": 9}, {"$set": {"status": "active"}})
    _, p = await change_versions(store.db, 9)
    assert await change_versions(store.db, 9) == (2, p)
    with pytest.raises(DuplicateKeyError):
        store.sync_db["sip_domains"].insert_one({"_id": "d", "name": "x.example", "pbx_id": 9})
        store.sync_db["sip_domains"].insert_one({"_id": "d", "name": "x.example", "pbx_id": 9})
    assert await change_versions(store.db, 9) == (4, p)  # the platform counter did not move


async def test_the_process_copy_counts_every_write_of_both_faces(store):
    """The embedded store is owned by one process: its copy of the counters is complete, so a
    reader asks no store read; the server's and the workers' faces bump the same copy."""
    import asyncio

    from storage.versions import current_versions

    if store.kind != "embedded":
        pytest.skip("MongoDB: the copy is complete only with a live Redis feed (test_xml_curl_reads)")
    db = store.db
    assert store.versions.complete() and db.local is store.sync_db.local is store.versions
    before = await current_versions(db, 7, 70)
    assert before.config[0] == "local"
    await db["employees"].insert_one({"_id": "e1", "pbx_id": 7, "name": "A"})
    await asyncio.to_thread(store.sync_db["employees"].update_one, {"_id": "e1", "pbx_id": 7}, {"$set": {"name": "B"}})
    after = await current_versions(db, 7, 70)
    assert after.config[2] == before.config[2] + 2 and after.config[3] == before.config[3]

    # a balance write moves the account's counter only: no directory answer is renewed by it
    await db["balances"].update_one({"account_id": 70}, {"$set": {"balance": -1}}, upsert=True)
    moved = await current_versions(db, 7, 70)
    assert moved.config == after.config and moved.state != after.state
    assert (await current_versions(db, 7, 71)).state[4] == 0  # another account's counter
    assert (await counters(store))["account:70"] == 1


async def test_a_store_opened_again_in_the_process_shares_the_copy(store):
    from storage.client import open_store

    other = open_store(store.settings)
    try:
        assert other.versions is store.versions
    finally:
        await other.close()


async def test_a_mongodb_store_keeps_its_copy_current_through_redis(settings):
    """With MongoDB (several processes) the copy is not complete by itself: the store attaches
    the Redis feed (storage.change_feed), which its close detaches."""
    from storage.client import Store

    mongo = settings.model_copy(update={"mongo_url": "mongodb://127.0.0.1:1", "mongo_db": "pult_versions_test"})
    store = Store(mongo, None, None, None, "mongodb")
    try:
        assert not store.versions.exclusive and store.versions.feed is not None
        assert store.versions.feed.channel == "pult:change_versions"
    finally:
        await store.close()
    assert store.versions.feed is None
