"""Ledger invariants: balance == sum of entries, idempotent replays, block/unblock transitions."""
import itertools
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from jobs.billing import ledger
from jobs.billing.ledger import (
    IdempotencyConflict, LedgerError, charge, get_balance, ledger_sum, period_totals, post_entry,
    rate_and_charge_call, record_payment, run_sync,
)
from jobs.billing.rating import BillingStep, CallToRate, Destination, Tariff
from pult.settings import load_settings
from storage.client import open_store
from storage.repos.billing import FreePools, LedgerEntries, Scope


@pytest.fixture(scope="module")
def sync_db(tmp_path_factory):
    """One embedded store for the module; each test/example uses its own account id."""
    store = open_store(load_settings(data_dir=tmp_path_factory.mktemp("ledger")))
    import asyncio
    asyncio.run(store.start())
    yield store.sync_db
    asyncio.run(store.close())


_ids = itertools.count(1000)


def new_account() -> int:
    return next(_ids)


def test_payment_and_charge_move_balance(sync_db):
    acc = new_account()
    r = run_sync(record_payment(sync_db, acc, 50000, key="bank-1"))
    assert (r.balance_before, r.balance_after, r.transition, r.duplicate) == (0, 50000, None, False)
    r = run_sync(charge(sync_db, acc, 12345, key="svc-1"))
    assert r.balance_after == 37655 and r.entry["amount"] == -12345
    assert run_sync(get_balance(sync_db, acc)) == {"balance": 37655, "blocked": False}
    assert run_sync(ledger_sum(sync_db, acc)) == 37655


def test_replay_is_idempotent_and_conflicts_are_refused(sync_db):
    acc = new_account()
    first = run_sync(record_payment(sync_db, acc, 1000, key="p"))
    again = run_sync(record_payment(sync_db, acc, 1000, key="p"))
    assert again.duplicate and again.transition is None
    assert again.entry["_id"] == first.entry["_id"]
    assert run_sync(get_balance(sync_db, acc))["balance"] == 1000
    with pytest.raises(IdempotencyConflict, match="already posted"):
        run_sync(record_payment(sync_db, acc, 2000, key="p"))
    assert run_sync(get_balance(sync_db, acc))["balance"] == 1000


@pytest.mark.parametrize("kind,amount", [("payment", -5), ("call", 5), ("fee", 0), ("nonsense", 1)])
def test_bad_entries_refused(sync_db, kind, amount):
    acc = new_account()
    with pytest.raises(LedgerError):
        run_sync(post_entry(sync_db, acc, "k", kind, amount))
    assert run_sync(LedgerEntries(sync_db, Scope.account(acc)).list({})) == []


def test_float_amount_refused(sync_db):
    with pytest.raises(TypeError):
        run_sync(record_payment(sync_db, new_account(), 10.5, key="f"))


def test_blocked_and_unblocked_transitions_once(sync_db):
    acc = new_account()
    run_sync(record_payment(sync_db, acc, 100, key="p1"))
    r = run_sync(charge(sync_db, acc, 150, key="c1"))
    assert (r.balance_after, r.transition) == (-50, "blocked")
    r = run_sync(charge(sync_db, acc, 10, key="c2"))
    assert r.transition is None                           # already blocked
    assert run_sync(get_balance(sync_db, acc)) == {"balance": -60, "blocked": True}
    r = run_sync(record_payment(sync_db, acc, 30, key="p2"))
    assert (r.balance_after, r.transition) == (-30, None)  # still below zero
    r = run_sync(record_payment(sync_db, acc, 30, key="p3"))
    assert (r.balance_after, r.transition) == (0, "unblocked")   # back to >= 0
    assert run_sync(get_balance(sync_db, acc))["blocked"] is False


def test_crash_after_balance_update_is_recovered_without_double_count(sync_db):
    acc = new_account()
    run_sync(record_payment(sync_db, acc, 700, key="x"))
    # simulate a crash between the balance $inc and the "applied" mark
    LedgerEntries(sync_db, Scope.account(acc)).coll.update_one(
        {"account_id": acc, "key": "payment:x"}, {"$set": {"applied": False}})
    run_sync(ledger.apply_pending(sync_db, acc))
    again = run_sync(record_payment(sync_db, acc, 700, key="x"))
    assert again.duplicate
    assert run_sync(get_balance(sync_db, acc))["balance"] == 700 == run_sync(ledger_sum(sync_db, acc))


def test_crash_before_balance_update_is_finished_by_apply_pending(sync_db):
    acc = new_account()
    LedgerEntries(sync_db, Scope.account(acc)).coll.insert_one(
        {"account_id": acc, "key": "payment:y", "kind": "payment", "amount": 900, "applied": False,
         "created_at": datetime.now(timezone.utc), "meta": {}})
    results = run_sync(ledger.apply_pending(sync_db, acc))
    assert [r.balance_after for r in results] == [900]
    assert run_sync(get_balance(sync_db, acc))["balance"] == 900


def test_period_totals(sync_db):
    acc = new_account()
    d = lambda day: datetime(2025, 11, day, 12, tzinfo=timezone.utc)  # noqa: E731
    run_sync(record_payment(sync_db, acc, 10000, key="a", at=d(1)))
    run_sync(charge(sync_db, acc, 3000, key="b", at=d(2)))
    run_sync(record_payment(sync_db, acc, 5000, key="c", at=d(10)))
    run_sync(charge(sync_db, acc, 2500, key="d", at=d(12)))
    run_sync(charge(sync_db, acc, 100, key="e", at=d(25)))
    t = run_sync(period_totals(sync_db, acc, d(5), d(20)))
    assert t == {"opening": 7000, "debits": 2500, "credits": 5000, "closing": 9500}


TARIFF = Tariff("t", "T", (Destination("7495", "local"), Destination("79", "mobile")),
                {"local": 120, "mobile": 200}, step=BillingStep(60, 60), free_minutes=2)


def test_rate_and_charge_call_uses_pool_once_and_is_idempotent(sync_db):
    acc = new_account()
    at = datetime(2025, 11, 3, 10, tzinfo=timezone.utc)
    call = CallToRate("outbound", "+74951234567", 100, at)            # 2 rated minutes: all free
    rated, res = run_sync(rate_and_charge_call(sync_db, acc, "u1", call, TARIFF))
    assert (rated.free_seconds, rated.cost, res.entry["amount"]) == (120, 0, 0)
    rated2, res2 = run_sync(rate_and_charge_call(sync_db, acc, "u1", call, TARIFF))  # retry
    assert rated2 == rated and res2.duplicate
    assert run_sync(FreePools(sync_db, Scope.account(acc)).used("2025-11")) == 120
    rated3, res3 = run_sync(rate_and_charge_call(sync_db, acc, "u2", call, TARIFF))  # pool empty
    assert (rated3.free_seconds, rated3.cost) == (0, 240)
    assert run_sync(get_balance(sync_db, acc)) == {"balance": -240, "blocked": True}
    assert res3.transition == "blocked"
    free_call = CallToRate("internal", "101", 500, at)
    assert run_sync(rate_and_charge_call(sync_db, acc, "u3", free_call, TARIFF))[1] is None


async def test_async_db_same_behaviour(store):
    acc = new_account()
    r = await record_payment(store.db, acc, 500, key="a")
    r2 = await charge(store.db, acc, 800, key="b")
    assert (r.balance_after, r2.balance_after, r2.transition) == (500, -300, "blocked")
    assert await ledger_sum(store.db, acc) == -300 == (await get_balance(store.db, acc))["balance"]


_op = st.tuples(st.sampled_from(["payment", "charge", "adjustment"]),
                st.integers(1, 10**9), st.integers(0, 15))


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_op, max_size=40))
def test_balance_equals_sum_for_any_sequence_with_replays(sync_db, ops):
    acc = new_account()
    expected, seen, blocked = {}, {}, False
    transitions = []
    for kind, amount, key_no in ops:
        key = f"k{key_no}"
        signed = amount if kind == "payment" else -amount if kind == "charge" else amount * (-1) ** key_no
        entry_kind = {"charge": "service"}.get(kind, kind)
        if key in seen and seen[key] != (entry_kind, signed):
            with pytest.raises(IdempotencyConflict):
                run_sync(post_entry(sync_db, acc, key, entry_kind, signed))
            continue
        r = run_sync(post_entry(sync_db, acc, key, entry_kind, signed))
        assert r.duplicate == (key in seen)
        if key not in seen:
            seen[key] = (entry_kind, signed)
            expected[key] = signed
            assert type(r.balance_after) is int
            now_blocked = r.balance_after < 0
            if now_blocked != blocked:
                transitions.append("blocked" if now_blocked else "unblocked")
                assert r.transition == transitions[-1]
            else:
                assert r.transition is None
            blocked = now_blocked
    bal = run_sync(get_balance(sync_db, acc))
    assert bal["balance"] == sum(expected.values()) == run_sync(ledger_sum(sync_db, acc))
    assert bal["blocked"] == (bal["balance"] < 0)
    for e in run_sync(LedgerEntries(sync_db, Scope.account(acc)).list({})):
        assert type(e["amount"]) is int and type(e["balance_after"]) is int
