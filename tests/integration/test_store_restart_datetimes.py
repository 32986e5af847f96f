"""Issue 9 item 1: one datetime discipline in both stores, checked across a restart.

Every datetime read from the store is timezone-aware UTC, whether it was written before a restart
(and comes back from the embedded store's snapshot and journal) or after it. Each list and job
that filters or sorts by time is exercised with records written before the restart and records
written after it, on the real server: the action log (API, page, export), call history (API and
page), the finance payments/expenses/documents of a period, API keys, the dashboard, the lifecycle
job that lifts operator blocks that ran out, and the ledger.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import bson

from jobs.billing import ledger
from jobs.lifecycle import run_lifecycle
from storage.client import open_store
from storage.repos.audit import audit
from storage.repos.base import Scope
from storage.repos.billing import BillingDocuments
from storage.repos.calls import save_call_record
from storage.repos.tenants import create_account, create_pbx, get_pbx, update_pbx
from storage.repos.users import create_tenant_user
from tests.integration.harness import cheap_hashes  # noqa: F401  (autouse)
from web.testing import WebClient, web_stack

USER = {"kind": "user", "login": "boss", "ip": "127.0.0.1"}


def _aware_everywhere(value, path="doc") -> list[str]:
    """Paths of naive datetimes anywhere in ``value``."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _aware_everywhere(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _aware_everywhere(v, f"{path}[{i}]")]
    if isinstance(value, datetime) and (value.tzinfo is None or value.utcoffset() != timedelta(0)):
        return [path]
    return []


async def _write_generation(db, acc: int, pbx: int, tag: str, at: datetime) -> None:
    """One record of each time-ordered kind, created at ``at``."""
    await save_call_record(db, {"uuid": f"call-{tag}", "pbx_id": pbx, "direction": "internal",
                                "caller": "101", "callee": "102", "start": at, "answer": at,
                                "end": at + timedelta(seconds=30), "duration": 30, "billsec": 30,
                                "hangup_cause": "NORMAL_CLEARING"})
    await audit(db, Scope.pbx(pbx), actor=USER, section="integrations", operation="create",
                object={"type": "widget", "id": tag, "name": f"entry {tag}"}, after={"name": tag})
    await ledger.record_payment(db, acc, 1000, key=f"pay-{tag}", source="operator", at=at)
    await BillingDocuments(db, Scope.account(acc)).insert_one({
        "_id": f"doc-{tag}", "account_id": acc, "key": f"doc-{tag}", "kind": "payments",
        "title": f"payments {tag}", "status": "failed", "format": "pdf", "created_at": at,
        "since": (at - timedelta(days=1)).date().isoformat(), "until": at.date().isoformat()})
    await db["api_keys"].insert_one({"_id": f"key{tag}", "pbx_id": pbx, "name": f"key {tag}",
                                     "role": "administrator", "whitelist": ["*"], "secret_hash": "0" * 64,
                                     "created_at": at, "created_by": "boss", "last_used_at": None,
                                     "revoked_at": None})


async def test_every_time_ordered_list_and_job_works_after_a_store_restart(settings):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    st = open_store(settings)
    await st.start()
    a = await create_account(st.db, "ООО «Ромашка»", "buh@romashka.example")
    acc = a["account_id"]
    p = await create_pbx(st.db, acc, "Ромашка", "pult.local")
    pbx = p["pbx_id"]
    await create_tenant_user(st, pbx, "boss", "tenant-pass-1", role="administrator", language="en")
    await _write_generation(st.db, acc, pbx, "old", now - timedelta(hours=2))
    # an operator block that ran out an hour ago: the lifecycle job must lift it after the restart
    await update_pbx(st.db, pbx, {"operator_block": {"until": now - timedelta(hours=1), "reason": "abuse",
                                                     "at": now - timedelta(days=1), "by": "root"}})
    await st.close()

    st = open_store(settings)  # the restart: everything above comes back from the snapshot/journal
    await st.start()
    try:
        db = st.db
        # reads of old records are aware UTC, like everything written from now on
        for coll in ("call_records", "audit_log", "ledger_entries", "billing_documents", "api_keys", "pbxes"):
            for doc in await db[coll].find({}).to_list():
                assert not _aware_everywhere(doc, coll), (coll, _aware_everywhere(doc, coll))
        # jobs that compare times: the operator block is lifted
        changed = await run_lifecycle(db, now)
        assert changed["unblocked"] == [pbx]
        assert (await get_pbx(db, pbx))["operator_block"] is None

        await _write_generation(db, acc, pbx, "new", now - timedelta(minutes=30))
        # the ledger: entries of a period, newest and oldest from both sides of the restart
        entries = await ledger.list_entries(db, acc, now - timedelta(days=1), now + timedelta(days=1),
                                            kinds=("payment",))
        assert [e["key"] for e in entries] == ["payment:pay-old", "payment:pay-new"]  # time order
        totals = await ledger.period_totals(db, acc, now - timedelta(days=1), now + timedelta(days=1))
        assert totals

        since = (now - timedelta(days=3)).date().isoformat()
        until = (now + timedelta(days=2)).date().isoformat()
        async with web_stack(settings, st) as (_ctx, url):
            async with WebClient(url) as boss:
                await boss.login(f"{pbx}/boss", "tenant-pass-1")

                r = await boss.api("GET", f"/api/v1/action-log?from={since}&to={until}")
                assert r.status_code == 200, r.text
                names = [i["object"]["name"] for i in r.json()["items"] if (i.get("object") or {}).get("type") == "widget"]
                assert names == ["entry new", "entry old"], names  # newest first, across the restart
                r = await boss.api("GET", f"/api/v1/action-log/export?from={since}&to={until}")
                assert r.status_code == 200, r.text[:300]
                r = await boss.get(f"/access/log?from={since}&to={until}")
                assert r.status_code == 200, r.text[:300]
                assert "entry new" in r.text and "entry old" in r.text

                r = await boss.api("GET", "/api/v1/calls")
                assert r.status_code == 200, r.text
                assert [c["uuid"] for c in r.json()["items"]] == ["call-new", "call-old"]
                r = await boss.get("/calls")
                assert r.status_code == 200, r.text[:300]

                r = await boss.api("GET", f"/api/v1/finance/payments?since={since}&until={until}")
                assert r.status_code == 200, r.text
                assert sorted(i["key"] for i in r.json()["items"]) == ["pay-new", "pay-old"]
                r = await boss.api("GET", f"/api/v1/finance/expenses?since={since}&until={until}")
                assert r.status_code == 200, r.text
                r = await boss.api("GET", f"/api/v1/finance/documents?since={since}&until={until}")
                assert r.status_code == 200, r.text
                assert [d["id"] for d in r.json()["items"]] == ["doc-new", "doc-old"]

                r = await boss.api("GET", "/api/v1/api-keys")
                assert r.status_code == 200, r.text
                assert [k["name"] for k in r.json()["items"]] == ["key new", "key old"]

                r = await boss.get("/")
                assert r.status_code == 200, r.text[:300]
                r = await boss.get("/finance")
                assert r.status_code == 200, r.text[:300]
    finally:
        await st.close()


async def test_snapshot_and_journal_records_come_back_as_stored(settings):
    """The low-level contract: equality, range, sort, aggregation and distinct over values
    written before and after a restart (aware and naive inputs alike are UTC)."""
    t0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
    st = open_store(settings)
    await st.start()
    await st.db.things.insert_one({"n": 1, "at": t0})
    await st.db.things.update_one({"n": 1}, {"$set": {"seen": [t0]}})
    await st.close()

    st = open_store(settings)
    await st.start()
    try:
        db = st.db
        await db.things.insert_one({"n": 2, "at": t0 + timedelta(hours=1)})
        await db.things.insert_one({"n": 3, "at": datetime(2026, 3, 1, 14, 0)})  # naive: taken as UTC
        got = await db.things.find({"at": {"$gte": t0}}).sort("at", -1).to_list()
        assert [d["n"] for d in got] == [3, 2, 1]
        assert all(d["at"].utcoffset() == timedelta(0) for d in got)
        assert (await db.things.find_one({"at": t0}))["n"] == 1
        assert (await db.things.find_one({"seen": t0}))["seen"][0] == t0
        agg = await (await db.things.aggregate([{"$match": {"at": {"$lt": t0 + timedelta(hours=2)}}},
                                                {"$sort": {"at": 1}}])).to_list()
        assert [d["n"] for d in agg] == [1, 2] and all(d["at"].tzinfo for d in agg)
        assert sorted(await db.things.distinct("at")) == [t0, t0 + timedelta(hours=1), t0 + timedelta(hours=2)]
        assert bson.decode(bson.encode({"at": got[0]["at"]}))["at"] == datetime(2026, 3, 1, 14, 0)
        assert date(2026, 3, 1) == got[0]["at"].date()
    finally:
        await st.close()
