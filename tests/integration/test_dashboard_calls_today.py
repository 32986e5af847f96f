"""Issue 11: the operator's "calls today" reads today's calls, not the platform's history.

The dashboard's counts (today, answered today, every call) and its latest calls are answered by
the call records' platform-wide ``start_uuid`` index: the embedded store never scans the
collection for them and examines only today's records, however long the history is."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
import storage.embedded as embedded
import storage.ordered_index as ordered
from pult import clock
from storage.repos.users import create_operator_admin
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
    assert examined["n"] <= 40 + 10, examined  # today's calls (answered?) and the latest five
