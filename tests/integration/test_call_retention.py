"""Issue 11: call-record retention per installation. Default: everything is kept. With N months
set by the operator, the job removes exactly the records older than N months — and nothing that an
open period (its invoice/act/statistics), a document being made or billing still needs."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from jobs.retention import run_retention
from storage.repos.calls import save_call_record
from tests.integration.harness import cheap_hashes, operator_stack  # noqa: F401  (cheap_hashes: autouse)

NOW = datetime(2026, 7, 15, 12, 0, tzinfo=timezone.utc)  # a fixed clock: July 2026


async def _calls(db, specs: dict[str, tuple[datetime, bool]]) -> None:
    for uuid, (start, pending) in specs.items():
        await save_call_record(db, {"uuid": uuid, "pbx_id": 1, "start": start, "rating_pending": pending})


async def _left(db) -> set[str]:
    return {d["uuid"] for d in await db.call_records.find({}, {"uuid": 1}).to_list(None)}


async def test_retention_removes_exactly_what_it_should(settings, store):
    db = store.db
    at = lambda y, m, d, h=12: datetime(y, m, d, h, tzinfo=timezone.utc)  # noqa: E731
    await _calls(db, {
        "2025-12": (at(2025, 12, 20), False),       # 7 months back: goes when N = 6
        "2026-01-early": (at(2026, 1, 1, 1), False),  # inside the first kept month (N = 6): stays
        "2025-11-unrated": (at(2025, 11, 3), True),   # still waiting for rating: stays
        "2026-04": (at(2026, 4, 10), False),
        "2026-06": (at(2026, 6, 10), False),          # the previous month, not closed yet
        "2026-07": (at(2026, 7, 1), False),
    })
    # default: keep everything
    assert await run_retention(db, NOW) == {"cutoff": None, "removed": 0}
    assert len(await _left(db)) == 6

    async with operator_stack(settings, store) as (_ctx, _url, op):
        r = await op.api("PATCH", "/api/v1/operator/settings", json={"call_retention_months": 0})
        assert r.status_code == 422 and "call_retention_months" in r.json()["error"]["fields"], r.text
        assert len(await _left(db)) == 6
        r = await op.api("PATCH", "/api/v1/operator/settings", json={"call_retention_months": 6})
        assert r.status_code == 200 and r.json()["call_retention_months"] == 6, r.text

    res = await run_retention(db, NOW)
    assert res["removed"] == 1 and res["cutoff"] == "2026-01-01T00:00:00+00:00"
    assert await _left(db) == {"2026-01-early", "2025-11-unrated", "2026-04", "2026-06", "2026-07"}

    # one month: June is still an open period (not closed) → only April goes
    await db.platform_settings.update_one({"_id": "platform"}, {"$set": {"call_retention_months": 1}})
    # ... and a document being made for March–April holds April back too
    await db.billing_documents.insert_one({"_id": "d1", "account_id": 1, "key": "k1", "kind": "call_detail",
                                           "status": "rendering", "since": "2026-03-01", "until": "2026-04-30",
                                           "created_at": NOW})
    assert (await run_retention(db, NOW))["removed"] == 1  # only 2026-01-early
    assert await _left(db) == {"2025-11-unrated", "2026-04", "2026-06", "2026-07"}
    await db.billing_documents.update_one({"_id": "d1"}, {"$set": {"status": "ready"}})
    assert (await run_retention(db, NOW))["removed"] == 1  # April now
    assert await _left(db) == {"2025-11-unrated", "2026-06", "2026-07"}
    # a monthly close of May that started and never finished: May is still an open period
    await _calls(db, {"2026-05": (at(2026, 5, 10), False)})
    await db.billing_periods.insert_one({"_id": "2026-05", "state": "running"})
    assert (await run_retention(db, NOW))["removed"] == 0
    await db.billing_periods.update_one({"_id": "2026-05"}, {"$set": {"state": "done"}})
    await db.billing_periods.insert_one({"_id": "2026-06", "state": "done"})
    assert (await run_retention(db, NOW))["removed"] == 1  # May; June is within the month kept
    assert await _left(db) == {"2025-11-unrated", "2026-06", "2026-07"}
    # rated at last: the old unrated record goes on the next pass
    await db.call_records.update_one({"uuid": "2025-11-unrated"}, {"$set": {"rating_pending": False}})
    assert (await run_retention(db, NOW))["removed"] == 1
    assert await _left(db) == {"2026-06", "2026-07"}


async def test_retention_removes_in_batches(settings, store, monkeypatch):
    import jobs.retention as retention

    monkeypatch.setattr(retention, "BATCH", 7)
    db = store.db
    old = NOW - timedelta(days=400)
    await _calls(db, {f"old{i:03d}": (old + timedelta(minutes=i), False) for i in range(30)})
    await _calls(db, {"new": (NOW - timedelta(days=3), False)})
    await db.platform_settings.update_one({"_id": "platform"}, {"$set": {"call_retention_months": 3}}, upsert=True)
    assert (await run_retention(db, NOW))["removed"] == 30
    assert await _left(db) == {"new"}


async def test_stubs_of_legs_whose_call_never_came_are_removed_a_day_later(store):
    """A leg that ends before its call leaves a stub (no PBX, no start); if the call never comes,
    the daily job removes the stub a day after the leg came — whatever the retention setting —
    and leaves the stubs still young, the calls that completed their stubs, and every call."""
    from pult import clock
    from jobs.retention import run_all

    db = store.db

    def leg(uuid: str, call: str) -> dict:
        return {"uuid": uuid, "leg_of": call, "callee": "79160000101", "billsec": 0, "hangup_cause": "NO_ANSWER",
                "start": clock.now(), "end": clock.now()}

    with clock.use_clock(clock.FixedClock(NOW - timedelta(days=2))):
        assert await save_call_record(db, leg("L-orphan", "A-never"))       # its call never comes
        assert await save_call_record(db, leg("L-early", "A-late"))         # its call comes later
        assert await save_call_record(db, {"uuid": "A-old", "pbx_id": 1, "start": clock.now(),
                                           "rating_pending": False})  # an ordinary call of that day
    with clock.use_clock(clock.FixedClock(NOW - timedelta(hours=2))):
        assert await save_call_record(db, leg("L-young", "A-soon"))         # a stub two hours old
        assert await save_call_record(db, {"uuid": "A-late", "pbx_id": 1, "start": NOW - timedelta(days=2),
                                           "rating_pending": False})
    completed = await db.call_records.find_one({"uuid": "A-late"})
    assert [lg["uuid"] for lg in completed["legs"]] == ["L-early"] and "stub_since" not in completed

    # no retention months set: every call is kept, only the stale stub goes
    res = await run_all(db, NOW)
    assert res == {"cutoff": None, "removed": 0, "stubs_removed": 1}
    assert await _left(db) == {"A-late", "A-old", "A-soon"}
    assert (await db.call_records.find_one({"uuid": "A-soon"}))["legs"][0]["uuid"] == "L-young"
    # a day later the young stub is stale too; and its call arriving after the sweep is stored as usual
    assert (await run_all(db, NOW + timedelta(days=1)))["stubs_removed"] == 1
    assert await _left(db) == {"A-late", "A-old"}
    assert await save_call_record(db, {"uuid": "A-never", "pbx_id": 1, "start": NOW, "rating_pending": False})
    assert (await db.call_records.find_one({"uuid": "A-never"}))["legs"] == []
    assert (await run_all(db, NOW + timedelta(days=5)))["stubs_removed"] == 0
