"""Issue 11: the operator's "calls today" reads today's calls, not the platform's history.

The dashboard's counts (today, answered today, every call) and its latest calls are answered by
the call records' platform-wide indexes (``start_uuid``, and ``answered_start``: the answered
calls alone): the embedded store never scans the collection for them and examines no record,
however long the history is; and each call stored today moves the counts as a user sees them."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
import storage.embedded as embedded
import storage.ordered_index as ordered
from pult import clock
from storage.repos.calls import save_call_record
from storage.repos.tenants import create_account, create_pbx
from storage.repos.users import create_operator_admin, create_tenant_user
from tests.integration.harness import cheap_hashes  # noqa: F401  (autouse)
from web.testing import WebClient, web_stack

NOW = datetime(2026, 6, 10, 12, 0, tzinfo=timezone.utc)  # 15:00 in Moscow (the operator's zone)


def _call(i: int, pbx: int, start: datetime, billsec: int) -> dict:
    return {"uuid": f"u{i:05d}", "pbx_id": pbx, "direction": "inbound", "caller": "79160000000",
            "callee": "101", "start": start, "end": start + timedelta(seconds=30), "duration": 30,
            "billsec": billsec, "hangup_cause": "NORMAL_CLEARING", "rating_pending": False}


async def test_calls_today_reads_only_todays_calls(settings, store, monkeypatch):
    if store.kind != "embedded":
        pytest.skip("MongoDB's plan is checked by test_mongo_explain")
    await create_operator_admin(store, "root", "operator-pass-1", "root@example.com", language="en")
    history = [_call(i, 100 + i % 7, NOW - timedelta(days=1 + i % 60, minutes=i % 600), i % 2 * 20)
               for i in range(3000)]
    today = [_call(5000 + i, 100 + i % 7, NOW - timedelta(minutes=5 * i + 1), 20 if i % 4 else 0)
             for i in range(40)]  # the last at 08:44 UTC, after midnight in Moscow (21:00 UTC)
    await store.db.call_records.insert_many(history + today)
    scanned: list[str] = []
    examined = {"n": 0}
    real_scan, real_matcher = embedded._original_iter_documents, ordered.matcher

    def scan(coll, flt):
        scanned.append(coll.name)
        return real_scan(coll, flt)

    def counting_matcher(flt):
        match = real_matcher(flt)

        def m(doc):
            if "uuid" in doc:
                examined["n"] += 1
            return match(doc)
        return m

    monkeypatch.setattr(embedded, "_original_iter_documents", scan)
    monkeypatch.setattr(ordered, "matcher", counting_matcher)
    with clock.use_clock(clock.FixedClock(NOW)):
        async with web_stack(settings, store) as (_ctx, url):
            async with WebClient(url, headers={"Accept-Language": "en"}) as op:
                await op.login("root", "operator-pass-1")
                scanned.clear()
                examined["n"] = 0
                page = (await op.get("/")).text
    today_card = page.split("Calls today", 1)[1]
    assert re.search(r'stat-value">(\d+)<', today_card).group(1) == "40"
    assert "answered: 30 · not answered: 10" in today_card
    assert re.search(r'Calls in history</h2>\s*<p class="stat-value">(\d+)<', page).group(1) == "3040"
    assert "call_records" not in scanned  # no full scan of the history
    # the three counts are bisections of indexes (today's answered calls: the partial index of the
    # answered calls) and the latest five are the first entries of one: no record is examined
    assert examined["n"] == 0, examined


def _operator_card(page: str) -> dict:
    """The operator dashboard's call figures, as the page shows them."""
    today = page.split("Calls today", 1)[1]
    shown = re.search(r"answered: (\d+) · not answered: (\d+)", today)
    return {"today": int(re.search(r'stat-value">(\d+)<', today).group(1)),
            "answered": int(shown.group(1)), "unanswered": int(shown.group(2)),
            "total": int(re.search(r'Calls in history</h2>\s*<p class="stat-value">(\d+)<', page).group(1))}


async def test_each_call_stored_today_changes_the_counts_each_user_sees(settings, store):
    """Calls stored through the call side's write path (``save_call_record``): an answered call
    of today adds one to "answered", an unanswered one to "not answered", a call of yesterday to
    the history alone; a call whose leg came first (a stub: no start, no billsec yet) is answered
    once its own record completes it. The operator sees every PBX's calls on the dashboard page;
    a PBX's administrator (``GET /api/v1/dashboard``) sees their PBX's only."""
    await create_operator_admin(store, "root", "operator-pass-1", "root@example.com", language="en")
    acc = await create_account(store.db, "ООО «Тест»", "boss@test.example")
    mine = (await create_pbx(store.db, acc["account_id"], "Mine", "pult.test"))["pbx_id"]
    other = (await create_pbx(store.db, acc["account_id"], "Other", "pult.test"))["pbx_id"]
    await create_tenant_user(store, mine, "admin", "tenant-pass-0", language="en")
    await store.db.call_records.insert_many(
        [_call(i, (mine, other)[i % 2], NOW - (timedelta(minutes=i) if i < 30 else timedelta(days=i - 29)),
               20 if i % 3 else 0) for i in range(60)])  # 30 today, a third of them not answered
    with clock.use_clock(clock.FixedClock(NOW)):
        async with web_stack(settings, store) as (_ctx, url):
            async with WebClient(url, headers={"Accept-Language": "en"}) as op, \
                    WebClient(url, headers={"Accept-Language": "en"}) as admin:
                await op.login("root", "operator-pass-1")
                await admin.login(f"{mine}/admin", "tenant-pass-0")

                async def seen() -> tuple[dict, dict]:
                    tenant = (await admin.get("/api/v1/dashboard")).json()
                    return (_operator_card((await op.get("/")).text),
                            {k: tenant[k] for k in ("today", "answered", "unanswered", "total")})

                def plus(before: dict, today=0, answered=0, unanswered=0, total=0) -> dict:
                    return {"today": before["today"] + today, "answered": before["answered"] + answered,
                            "unanswered": before["unanswered"] + unanswered, "total": before["total"] + total}

                op0, mine0 = await seen()
                # 12:00 UTC is 15:00 in Moscow (both zones): today began at 21:00 UTC yesterday
                assert op0 == {"today": 30, "answered": 20, "unanswered": 10, "total": 60}
                assert mine0 == {"today": 15, "answered": 10, "unanswered": 5, "total": 30}
                await save_call_record(store.db, _call(100, mine, NOW - timedelta(minutes=3), 42))
                assert await seen() == (plus(op0, 1, 1, 0, 1), plus(mine0, 1, 1, 0, 1))
                await save_call_record(store.db, _call(101, other, NOW - timedelta(minutes=2), 0))
                assert await seen() == (plus(op0, 2, 1, 1, 2), plus(mine0, 1, 1, 0, 1))
                # 20:59 UTC yesterday: 23:59 in Moscow, yesterday's call
                await save_call_record(store.db, _call(102, mine, NOW - timedelta(hours=15, minutes=1), 42))
                assert await seen() == (plus(op0, 2, 1, 1, 3), plus(mine0, 1, 1, 0, 2))
                # a leg first: a stub with no start (listed platform-wide until its call comes), then
                # the call's own record completes it: answered today
                await save_call_record(store.db, {**_call(103, mine, NOW, 30), "uuid": "leg-103", "leg_of": "u00104"})
                assert await seen() == (plus(op0, 2, 1, 1, 4), plus(mine0, 1, 1, 0, 2))
                await save_call_record(store.db, _call(104, mine, NOW - timedelta(minutes=1), 30))
                assert await seen() == (plus(op0, 3, 2, 1, 4), plus(mine0, 2, 2, 0, 3))
