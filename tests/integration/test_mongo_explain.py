"""Issue 11: every time-ordered list is served by a MongoDB index that matches its filter and
order — checked with ``explain()`` on a real MongoDB (runs whenever ``MONGO_URL`` is set; the
embedded store's planner is checked in tests/unit/test_storage_ordered_index.py)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from bson import ObjectId

from storage.paging import after_filter
from web.access.log import NEWEST_FIRST as LOG_ORDER
from web.api.calls import NEWEST_FIRST as CALL_ORDER

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)
DAY = timedelta(days=1)
NEWER = [(f, -d) for f, d in CALL_ORDER]

# (collection, filter, sort, the index that must serve it)
LISTS = [
    ("call_records", {"pbx_id": 5}, CALL_ORDER, "pbx_start_uuid"),
    ("call_records", {"pbx_id": 5, "start": {"$gte": NOW - DAY}}, CALL_ORDER, "pbx_start_uuid"),
    ("call_records", after_filter({"pbx_id": 5}, CALL_ORDER, [NOW, "u1"]), CALL_ORDER, "pbx_start_uuid"),
    # the cabinet's «Newer» link: the same index walked the other way from the cursor
    ("call_records", after_filter({"pbx_id": 5}, NEWER, [NOW, "u1"]), NEWER, "pbx_start_uuid"),
    ("audit_log", after_filter({"pbx_id": 5}, [(f, -d) for f, d in LOG_ORDER], [NOW, ObjectId("0" * 24)]),
     [(f, -d) for f, d in LOG_ORDER], "pbx_at_id"),
    ("call_records", {"pbx_id": 5, "$or": [{"caller": {"$in": ["101"]}}, {"callee": {"$in": ["101"]}}]},
     CALL_ORDER, "pbx_start_uuid"),
    ("call_records", {"start": {"$gte": NOW - DAY}}, CALL_ORDER, "start_uuid"),
    ("call_records", {"pbx_id": {"$in": [5, 6]}, "start": {"$gte": NOW - DAY, "$lt": NOW}},
     [("start", 1), ("uuid", 1)], None),  # documents/expenses of a period: any index, no blocking sort
    ("audit_log", {"pbx_id": 5, "at": {"$gte": NOW - DAY, "$lt": NOW}}, LOG_ORDER, "pbx_at_id"),
    ("audit_log", {"account_id": 7}, LOG_ORDER, "account_at_id"),
    ("audit_log", {}, LOG_ORDER, "at_id"),
    ("ledger_entries", {"account_id": 7, "applied": True, "created_at": {"$gte": NOW - DAY, "$lt": NOW},
                        "kind": {"$in": ["payment"]}}, [("created_at", 1), ("seq", 1)], "account_created_seq"),
    ("billing_documents", {"account_id": 7, "created_at": {"$gte": NOW - DAY}}, [("created_at", -1)], "doc_created"),
    ("api_keys", {"pbx_id": 5}, [("created_at", -1)], "api_keys_pbx"),
]


def _stages(plan: dict) -> list[dict]:
    out = [plan]
    for key in ("inputStage", "queryPlan"):
        if isinstance(plan.get(key), dict):
            out += _stages(plan[key])
    for sub in plan.get("inputStages") or ():
        out += _stages(sub)
    return out


@pytest.mark.parametrize("coll,flt,sort,index", LISTS, ids=[f"{c}-{i}" for i, (c, *_r) in enumerate(LISTS)])
async def test_each_list_is_an_index_walk_without_a_blocking_sort(store, coll, flt, sort, index):
    if store.kind != "mongodb":
        pytest.skip("explain plans are MongoDB's: set MONGO_URL")
    await store.db[coll].insert_one({"_probe": True})
    plan = (await store.db[coll].find(flt).sort(sort).limit(50).explain())["queryPlanner"]["winningPlan"]
    stages = _stages(plan)
    names = [s.get("stage") for s in stages]
    assert "SORT" not in names, names
    assert "COLLSCAN" not in names, names
    if index:
        assert index in {s.get("indexName") for s in stages}, stages
