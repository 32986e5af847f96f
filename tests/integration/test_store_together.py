"""Reads of the embedded store in one hand-off (``storage.embedded.together``): what an xml_curl
directory miss does (six queries) runs in the store's thread in one go, with the same answers as
query by query, its errors reaching the caller, and the store usable after."""
from __future__ import annotations

import asyncio
import threading

import pytest

from storage.embedded import together
from storage.priority import urgent


async def _seed(db) -> None:
    await db.things.insert_many([{"_id": i, "n": i, "kind": "odd" if i % 2 else "even"} for i in range(20)])


def _reads(db, seen: list):
    async def reads():
        seen.append(threading.current_thread().name)
        one = await db.things.find_one({"n": 7})
        odd = await db.things.find({"kind": "odd"}).sort("n", -1).limit(3).to_list(None)
        count = await db.things.count_documents({"kind": "even"})
        seen.append(threading.current_thread().name)
        return one, [d["n"] for d in odd], count
    return reads


async def test_reads_together_answer_as_query_by_query_in_the_store_thread(store):
    await _seed(store.db)
    seen: list = []
    apart = await _reads(store.db, seen)()
    assert seen == ["MainThread", "MainThread"]
    seen.clear()
    assert await together(store.db, _reads(store.db, seen)) == apart == ({"_id": 7, "n": 7, "kind": "odd"},
                                                                          [19, 17, 15], 10)
    if store.kind == "embedded":  # nothing of it ran on the event loop's thread
        assert seen == ["pult-store", "pult-store"]
        seen.clear()
        with urgent():  # an xml_curl lookup: the urgent thread, not behind cabinet queries
            await together(store.db, _reads(store.db, seen))
        assert seen == ["pult-store-urgent", "pult-store-urgent"]


async def test_a_write_in_the_batch_is_stored_and_counted(store):
    async def write():
        await store.db.pbxes.insert_one({"pbx_id": 909, "name": "Together"})
        return await store.db.pbxes.find_one({"pbx_id": 909})

    from storage.versions import current_versions
    before = await current_versions(store.db, 909)
    assert (await together(store.db, write))["name"] == "Together"
    assert (await current_versions(store.db, 909)).config != before.config  # the counters moved


async def test_an_error_reaches_the_caller_and_the_store_goes_on(store):
    await _seed(store.db)

    async def fails():
        await store.db.things.find_one({"n": 1})
        raise LookupError("no such thing")

    with pytest.raises(LookupError, match="no such thing"):
        await together(store.db, fails)
    # the batch's inline mode ended with it: the next operation is handed off as usual
    assert (await store.db.things.find_one({"n": 3}))["n"] == 3


async def test_awaiting_anything_but_the_store_is_refused(store):
    if store.kind != "embedded":
        return  # with MongoDB the function just runs on the loop

    async def sleeps():
        await store.db.things.find_one({})
        await asyncio.sleep(0)

    with pytest.raises(RuntimeError, match="other than the store"):
        await together(store.db, sleeps)
    await _seed(store.db)
    assert await store.db.things.count_documents({}) == 20
