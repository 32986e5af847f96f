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


def _winning_plans(node) -> list:
    """Every ``winningPlan`` of an explain answer, wherever the command puts it (an aggregate's
    is under its ``$cursor`` stage, or at the top when the whole pipeline was pushed down)."""
    if isinstance(node, dict):
        found = [node["winningPlan"]] if "winningPlan" in node else []
        return found + [p for k, v in node.items() if k != "winningPlan" for p in _winning_plans(v)]
    if isinstance(node, list):
        return [p for v in node for p in _winning_plans(v)]
    return []


def _plan_words(node) -> tuple[list, set]:
    """Every ``stage`` and ``indexName`` anywhere in a plan (find's, aggregate's, SBE's)."""
    stages, names = [], set()
    if isinstance(node, dict):
        if isinstance(node.get("stage"), str):
            stages.append(node["stage"])
        if isinstance(node.get("indexName"), str):
            names.add(node["indexName"])
        for v in node.values():
            s, n = _plan_words(v)
            stages += s
            names |= n
    elif isinstance(node, list):
        for v in node:
            s, n = _plan_words(v)
            stages += s
            names |= n
    return stages, names


async def test_the_answered_calls_of_today_are_counted_from_their_partial_index(store):
    """The operator dashboard's "answered today" (``CallHistory.summary``: the count of
    ``storage.repos.calls.ANSWERED`` since midnight) is counted from the partial index of the
    answered calls, as ``count_documents`` asks it (an aggregate): no collection scan, that index
    in the winning plan."""
    if store.kind != "mongodb":
        pytest.skip("explain plans are MongoDB's: set MONGO_URL")
    from storage.repos.calls import ANSWERED

    await store.db.call_records.insert_many(
        [{"uuid": f"explain-{i}", "pbx_id": 5, "start": NOW - timedelta(minutes=i), "billsec": 0 if i % 3 else 30}
         for i in range(60)])
    flt = {"start": {"$gte": NOW - DAY}, **ANSWERED}
    assert await store.db.call_records.count_documents(flt) == 20
    explained = await store.db.command({"explain": {"aggregate": "call_records", "cursor": {}, "pipeline": [
        {"$match": flt}, {"$group": {"_id": 1, "n": {"$sum": 1}}}]}, "verbosity": "queryPlanner"})
    plans = _winning_plans(explained)
    assert plans, explained
    stages, names = _plan_words(plans)
    assert "COLLSCAN" not in stages, stages
    assert "answered_start" in names, (stages, names)
