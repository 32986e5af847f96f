"""The PBX snapshot a call reads is kept per PBX while the configuration is unchanged
(esl_control.model.effective.SnapshotCache): a call of a PBX whose configuration did not change
reads nothing from the store (the embedded store: this process's copy of the change counters
is complete), and any change — through any writer sharing the
store, the balance, the clock — is seen by the very next call."""
from __future__ import annotations

import asyncio
from datetime import timedelta

from esl_control.model.effective import SnapshotCache
from storage.versions import VersionedDatabase
from tests.integration.test_flow_fsim import apps, inbound, record_of, sound, stack, store  # noqa: F401 (fixtures)
from tests.unit.flow_data import PBX_ID, WORK_TIME


class CountingRaw:
    """The store's raw database, noting each collection read or written (the change counters too)."""

    def __init__(self, raw):
        self._raw = raw
        self.used: list[str] = []

    def __getitem__(self, name):
        self.used.append(name)
        return self._raw[name]

    def __getattr__(self, name):
        return getattr(self._raw, name)


def counting(store) -> tuple[VersionedDatabase, CountingRaw]:
    """The store's database (its copy of the counters too), counting what it touches."""
    raw = CountingRaw(store.db.raw)
    return VersionedDatabase(raw, local=store.db.local), raw


async def test_a_kept_snapshot_costs_no_store_read(store):
    db, raw = counting(store)
    cache = SnapshotCache(db)
    first = await cache.get(PBX_ID, WORK_TIME)
    assert first is not None and cache.loads == 1
    assert len(raw.used) >= 13  # the PBX, every configuration collection, the sounds, the balance
    raw.used.clear()
    again = await cache.get(PBX_ID, WORK_TIME)
    # the embedded store: this process makes every write, so its copy of the counters is complete
    assert cache.loads == 1 and raw.used == []
    assert again.scheme("s1") == first.scheme("s1") and not again.blocked
    # only the balance moved: it alone is read again
    await store.db["balances"].insert_one({"account_id": 1, "balance": 300})
    raw.used.clear()
    await cache.get(PBX_ID, WORK_TIME)
    assert cache.loads == 1 and raw.used == ["balances"]


async def test_a_store_whose_counters_are_not_all_known_here_reads_them(store):
    """MongoDB without a live change feed: the counters are read from the store (one read)."""
    raw = CountingRaw(store.db.raw)
    db = VersionedDatabase(raw)  # a private copy of the counters: never complete
    cache = SnapshotCache(db)
    await cache.get(PBX_ID, WORK_TIME)
    raw.used.clear()
    await cache.get(PBX_ID, WORK_TIME)
    assert cache.loads == 1 and raw.used == ["change_versions"]


async def test_a_change_by_a_worker_is_seen_by_the_next_call(store):
    cache = SnapshotCache(store.db)
    assert (await cache.get(PBX_ID, WORK_TIME)).sound_name("snd_greet") == "Приветствие"
    # a job in a worker thread writes through the store's synchronous face (same counters)
    await asyncio.to_thread(store.sync_db["sound_files"].update_one, {"_id": "snd_greet", "pbx_id": PBX_ID},
                            {"$set": {"name": "Новое"}})
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


async def test_the_operators_platform_gateways_changed_are_seen_by_the_next_call(store):
    """The platform gateways are platform data in a PBX's snapshot: the operator's change (the
    platform counter) makes the next call of every PBX dial through the new list."""
    from esl_control.model.platform_gateways import save_platform_gateways

    cache = SnapshotCache(store.db)
    assert (await cache.get(PBX_ID, WORK_TIME)).platform_gateways == ("pult_platform_main",)
    view = await save_platform_gateways(store.db, [{"name": "New carrier", "proxy": "sip.new.test"}],
                                        {"login": "root"})
    snap = await cache.get(PBX_ID, WORK_TIME)
    assert snap.platform_gateways == (view["gateways"][0]["gateway"],) and cache.loads == 2
