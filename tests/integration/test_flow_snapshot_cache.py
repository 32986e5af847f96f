"""The PBX snapshot a call reads is kept per PBX while the configuration is unchanged
(esl_control.model.effective.SnapshotCache): a call of a PBX whose configuration did not change
reads the change counters and the balance only, and any change — through any writer sharing the
store, the balance, the clock — is seen by the very next call."""
from __future__ import annotations

import asyncio
from datetime import timedelta

from esl_control.model.effective import SnapshotCache
from storage.versions import VersionedDatabase
from tests.integration.test_flow_fsim import apps, inbound, record_of, sound, stack, store  # noqa: F401 (fixtures)
from tests.unit.flow_data import PBX_ID, WORK_TIME


class CountingDb(VersionedDatabase):
    """The store's database, noting each collection a read or write goes to (the change
    counters are read on ``raw``, below this count)."""

    def __init__(self, db):
        super().__init__(db.raw)
        self.used: list[str] = []

    def __getitem__(self, name):
        self.used.append(name)
        return super().__getitem__(name)


async def test_a_kept_snapshot_costs_the_counters_and_the_balance_only(store):
    db = CountingDb(store.db)
    cache = SnapshotCache(db)
    first = await cache.get(PBX_ID, WORK_TIME)
    assert first is not None and cache.loads == 1
    assert len(db.used) >= 13  # the PBX, every configuration collection, the sounds, the balance
    db.used.clear()
    again = await cache.get(PBX_ID, WORK_TIME)
    assert cache.loads == 1 and db.used == ["balances"]
    assert again.scheme("s1") == first.scheme("s1") and not again.blocked


async def test_a_change_by_another_writer_is_seen_by_the_next_call(store):
    cache = SnapshotCache(store.db)
    assert (await cache.get(PBX_ID, WORK_TIME)).sound_name("snd_greet") == "Приветствие"
    # another Pult process sharing the store: the same counters, a database object of its own
    other = VersionedDatabase(store.db.raw)
    await other["sound_files"].update_one({"_id": "snd_greet", "pbx_id": PBX_ID}, {"$set": {"name": "Новое"}})
    assert (await cache.get(PBX_ID, WORK_TIME)).sound_name("snd_greet") == "Новое"
    assert cache.loads == 2


async def test_blocked_state_follows_the_balance_and_the_clock_with_a_kept_snapshot(store):
    cache = SnapshotCache(store.db)
    assert not (await cache.get(PBX_ID, WORK_TIME)).blocked
    await store.db["balances"].insert_one({"account_id": 1, "balance": -100})  # not a watched collection
    snap = await cache.get(PBX_ID, WORK_TIME)
    assert snap.blocked and snap.state.reasons == ("balance",)
    await store.db["balances"].update_one({"account_id": 1}, {"$set": {"balance": 500}})
    assert not (await cache.get(PBX_ID, WORK_TIME)).blocked
    # a demo PBX: blocked once its demo has ended, with no write in between
    await store.db["pbxes"].update_one({"pbx_id": PBX_ID}, {"$set": {
        "status": "demo", "demo": {"started_at": WORK_TIME - timedelta(days=13),
                                   "ends_at": WORK_TIME + timedelta(hours=1)}}})
    assert not (await cache.get(PBX_ID, WORK_TIME)).blocked
    loads = cache.loads
    later = await cache.get(PBX_ID, WORK_TIME + timedelta(hours=2))
    assert later.blocked and "demo_expired" in later.state.reasons and cache.loads == loads


async def test_calls_that_miss_together_share_one_load_and_a_deleted_pbx_is_none(store):
    cache = SnapshotCache(store.db)
    snaps = await asyncio.gather(*(cache.get(PBX_ID, WORK_TIME) for _ in range(20)))
    assert all(s is not None and s.pbx_id == PBX_ID for s in snaps) and cache.loads == 1
    await store.db["pbxes"].delete_one({"pbx_id": PBX_ID})
    assert await cache.get(PBX_ID, WORK_TIME) is None


async def test_a_scheme_changed_between_two_calls_is_played_by_the_second(stack):
    """End to end: the first call keeps the snapshot; the tenant changes the greeting of the
    scheme; the next call plays the new one (and the other PBX calls keep being served)."""
    sim, svc, policy, store = stack
    first = await inbound(sim)
    assert ("playback", sound("snd_greet")) in apps(sim, first)
    await store.db["schemes"].update_one({"_id": "s1", "pbx_id": PBX_ID},
                                         {"$set": {"blocks.0.steps.0.sound_id": "snd_sorry"}})
    second = await inbound(sim)
    assert ("playback", sound("snd_sorry")) in apps(sim, second)
    assert ("playback", sound("snd_greet")) not in apps(sim, second)
    assert svc._flow.snapshots.loads == 2


async def test_a_balance_below_zero_blocks_the_next_call_of_a_kept_pbx(stack):
    sim, svc, policy, store = stack
    first = await inbound(sim)
    assert ("playback", sound("snd_greet")) in apps(sim, first)
    await store.db["balances"].insert_one({"account_id": 1, "balance": -1})
    second = await inbound(sim)
    assert ("playback", "/prompts/ru/pbx_blocked.wav") in apps(sim, second)
    rec = await record_of(svc, store, second.uuid)
    assert rec["hangup_cause"] == "CALL_REJECTED"
    assert svc._flow.snapshots.loads == 1
