"""Payment notices survive a Redis outage: the payment is recorded, its ledger entry keeps a
``notice_pending`` mark, and the beat sweeper (``jobs.billing.sweep_notices``) queues "funds
credited" and "unblocked" once Redis is reachable again — exactly once, however often it runs.

Same stack as test_finance_flows: real Redis, an embedded worker, an SMTP sink, the real app.
"""
from __future__ import annotations

import pytest
from kombu.exceptions import OperationalError

from jobs import client
from jobs.billing import ledger, tasks
from storage.repos.base import Scope
from storage.repos.billing import LedgerEntries
from storage.repos.tenants import load_pbx_state
from tests.integration.test_finance_flows import (cheap_hashes, env, fin_settings, put_notifications,  # noqa: F401
                                                  signed_in, sms, wait_mail)


async def test_payment_notice_queued_by_the_sweeper_after_redis_was_unreachable(env, sink, monkeypatch):
    db, url, acc = env["db"], env["url"], env["a"]
    async with signed_in(url, f"{env['pa']}/buh") as c:
        await put_notifications(c, block={"enabled": True, "emails": "buh@romashka.example"},
                                credit={"enabled": True, "emails": "buh@romashka.example"})
    blocked = await ledger.charge(db, acc, 500, key="svc:test-1", kind="service", comment="услуга")
    assert blocked.transition == "blocked"
    assert (await load_pbx_state(db, env["pa"])).blocked

    def redis_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    with monkeypatch.context() as m:  # every publish of a notice fails as with Redis down
        m.setattr(tasks.notify_task, "apply_async", redis_down)
        async with signed_in(url, "root", "operator-pass-1") as op:
            r = await op.api("POST", f"/api/v1/accounts/{acc}/payments", json={"amount": "1000", "key": "pp-77"})
    assert r.status_code == 201, r.text  # the payment itself is recorded
    assert r.json()["balance"] == 100000 - 500 and r.json()["blocked"] is False
    entry = await LedgerEntries(db, Scope.account(acc)).get({"key": "payment:pp-77"})
    assert entry["notice_pending"] is True and entry["transition"] == "unblocked"
    assert sink.received == []

    # the sweeper leaves a fresh payment to its own request (default age 30 s)...
    fresh = await client.result(client.submit(tasks.sweep_notices, kwargs={}), timeout=30)
    assert fresh["entries"] == 0
    # ...and queues an older one's notices once Redis answers
    swept = await client.result(client.submit(tasks.sweep_notices, kwargs={"min_age_seconds": 0}), timeout=30)
    assert swept["entries"] == 1
    assert sorted(swept["queued"]) == sorted([f"credited:{acc}:payment:pp-77", f"unblocked:{acc}:{entry['seq']}"])
    mails = await wait_mail(sink, 2)
    assert sorted(m.message["Subject"] for m in mails) == [f"Account {acc}: funds credited",
                                                          f"Account {acc}: services unblocked"]
    entry = await LedgerEntries(db, Scope.account(acc)).get({"key": "payment:pp-77"})
    assert "notice_pending" not in entry

    # sweeping again, re-sending the payment and re-queuing the same keys send nothing more
    again = await client.result(client.submit(tasks.sweep_notices, kwargs={"min_age_seconds": 0}), timeout=30)
    assert again["entries"] == 0
    async with signed_in(url, "root", "operator-pass-1") as op:
        dup = await op.api("POST", f"/api/v1/accounts/{acc}/payments", json={"amount": "1000", "key": "pp-77"})
    assert dup.status_code == 200 and dup.json()["duplicate"] is True
    job = client.submit(tasks.notify_task, kwargs={"account_id": acc, "event": "credited",
                                                   "data": {"amount": 100000, "balance": 99500},
                                                   "idempotency_key": f"credited:{acc}:payment:pp-77"})
    assert (await client.result(job, timeout=20))["duplicate"] is True
    assert len(sink.received) == 2


async def test_a_payment_with_redis_up_clears_its_mark_at_once(env, sink):
    db, acc = env["db"], env["a"]
    async with signed_in(env["url"], f"{env['pa']}/buh") as c:
        await put_notifications(c, credit={"enabled": True, "emails": "buh@romashka.example"})
    async with signed_in(env["url"], "root", "operator-pass-1") as op:
        r = await op.api("POST", f"/api/v1/accounts/{acc}/payments", json={"amount": "10", "key": "pp-1"})
    assert r.status_code == 201
    entry = await LedgerEntries(db, Scope.account(acc)).get({"key": "payment:pp-1"})
    assert "notice_pending" not in entry and "transition" not in entry
    (mail,) = await wait_mail(sink, 1)
    assert mail.message["Subject"] == f"Account {acc}: funds credited"
    swept = await client.result(client.submit(tasks.sweep_notices, kwargs={"min_age_seconds": 0}), timeout=30)
    assert swept["entries"] == 0


async def test_automatic_critical_balance_shows_last_weeks_spend_in_a_disabled_field(env):
    from datetime import datetime, timedelta, timezone

    db, acc = env["db"], env["a"]
    now = datetime.now(timezone.utc)
    await ledger.charge(db, acc, 250_75, key="w-1", at=now - timedelta(days=2))
    await ledger.charge(db, acc, 10_000_00, key="old-1", at=now - timedelta(days=10))  # not last week
    async with signed_in(env["url"], f"{env['pa']}/buh") as c:
        saved = await put_notifications(c, low_balance={"enabled": True, "phones": "+79161234567", "mode": "auto",
                                                        "threshold": "300"})
        assert saved["low_balance"]["computed_threshold"] == "250,75"
        assert saved["low_balance"]["threshold"] == "100,00"  # the manual amount is not taken in auto mode
        page = (await c.get("/finance")).text
        assert 'id="lb-threshold" name="low_balance.threshold" value="250,75" data-manual="100,00"' in page
        assert 'inputmode="decimal" disabled>' in page and "SMS is recommended" in page
        saved = await put_notifications(c, low_balance={"enabled": True, "phones": "+79161234567", "mode": "manual",
                                                        "threshold": "300"})
        assert saved["low_balance"]["computed_threshold"] is None and saved["low_balance"]["threshold"] == "300,00"
        page = (await c.get("/finance")).text
        assert 'value="300,00" data-manual="300,00" inputmode="decimal">' in page
