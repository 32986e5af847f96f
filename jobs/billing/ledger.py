"""The account ledger: append-only entries, a cached balance, blocked/unblocked transitions.

Model
-----
* An **entry** is ``{account_id, key, kind, amount, ref, period, created_at, applied, seq,
  balance_after}``. ``amount`` is signed integer kopecks: payments and credits positive,
  charges negative. ``key`` is the idempotency key, unique per account (``call:<uuid>``,
  ``fee:2025-11:number:7495…``, ``payment:<bank doc id>``): posting the same key twice stores one
  entry and moves the balance once. Entries are never edited; a correction is a new
  ``adjustment`` entry.
* The **balance** document caches the sum of applied entries. Posting is two single-document
  steps, each idempotent, so no multi-document transaction is needed:

  1. insert the entry (``applied: false``) — the unique ``(account_id, key)`` index makes a replay
     a no-op;
  2. one atomic ``find_one_and_update`` on the balance: ``$inc`` balance and sequence and
     ``$push`` the key into ``recent_keys`` (the last :data:`RECENT_KEYS` keys), guarded by
     ``recent_keys: {$ne: key}`` — a replay after a crash between 2 and the final "applied" mark
     cannot add the amount twice;
  3. mark the entry applied (with its sequence number and the balance after it).

  :func:`apply_pending` finishes entries left unapplied by a crash between 1 and 2.
* **Notice bookkeeping** (the only other fields ever written after the insert): an entry whose
  posting changed the blocked state gets ``transition``; a payment is inserted with
  ``notice_pending: true`` and keeps it until its "funds credited" / "unblocked" notices were
  handed to the job queue (``jobs.billing.services.pending_notices``, swept by
  ``jobs.billing.tasks.sweep_notices``), so a Redis outage at payment time loses no notice.
* **Blocked state**: the account is blocked while its balance is below zero. Each posting that
  moves the balance computes the state it implies and writes it only if no later posting
  already wrote one (``state_seq`` guard), so concurrent postings cannot leave a stale state.
  The returned :class:`PostResult` carries ``transition`` = ``"blocked"`` / ``"unblocked"`` /
  ``None`` exactly once per real change, for the caller to notify and to block/unblock PBXs.

All functions are coroutines that work over ``store.db`` (await them) and over ``store.sync_db``
(``run_sync(...)`` in Celery workers).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from pult import clock
from pult.money import require_int
from storage.repos.billing import Balances, FreePools, LedgerEntries, Scope, run_sync  # noqa: F401

RECENT_KEYS = 1000

KINDS = {
    # kind: required sign of the amount (+1 credit, -1 debit, 0 either)
    "payment": +1,      # money received (operator, API, bank statement)
    "bonus": +1,        # promotional credit
    "call": -1,         # a rated call
    "fee": -1,          # monthly fee (edition, number, service)
    "service": -1,      # one-off service charge
    "refund": -1,       # money returned to the customer
    "adjustment": 0,    # operator correction, either sign
}


class LedgerError(ValueError):
    """A posting is refused; nothing was written."""


class IdempotencyConflict(LedgerError):
    """The key was already used for a different entry (different kind or amount)."""


@dataclass(frozen=True, slots=True)
class PostResult:
    entry: dict
    duplicate: bool               # the key had been posted before: nothing changed now
    balance_before: int | None    # None when unknown (duplicate / recovered entry)
    balance_after: int | None
    transition: str | None        # "blocked" | "unblocked" | None


def _check(kind: str, amount: int, key: str) -> None:
    if kind not in KINDS:
        raise LedgerError(f"unknown ledger entry kind {kind!r} (expected one of {', '.join(KINDS)})")
    require_int(amount, "ledger amount")
    sign = KINDS[kind]
    if (amount == 0 and kind != "call") or (sign > 0 and amount < 0) or (sign < 0 and amount > 0):
        what = {1: "positive", -1: "negative", 0: "non-zero"}[sign]
        raise LedgerError(f"a {kind} entry must have a {what} amount, got {amount}")
    if not isinstance(key, str) or not key or len(key) > 200:
        raise LedgerError("an idempotency key (1..200 characters) is required")


async def post_entry(db, account_id: int, key: str, kind: str, amount: int, *,
                     ref: dict | None = None, period: str | None = None, comment: str = "",
                     at: datetime | None = None, meta: dict | None = None,
                     notice_pending: bool = False) -> PostResult:
    """Post one signed entry idempotently and return the balance move and any state transition.

    ``notice_pending`` stores the entry with the mark the notice sweeper looks for (payments).

    ``call`` entries may have amount 0 (a call covered by free minutes is still recorded so its
    pool use is not repeated on a retry). Raises :class:`LedgerError` for a wrong kind/sign/key
    and :class:`IdempotencyConflict` if ``key`` was used for a different entry.
    """
    _check(kind, amount, key)
    scope = Scope.account(account_id)
    entries = LedgerEntries(db, scope)
    doc = {"key": key, "kind": kind, "amount": amount, "ref": ref or {}, "period": period,
           "comment": comment, "created_at": at or clock.now(), "applied": False, "meta": meta or {}}
    if notice_pending:
        doc["notice_pending"] = True
    try:
        doc["_id"] = await entries.insert(dict(doc))
    except DuplicateKeyError:
        existing = await entries.get({"key": key})
        if existing["kind"] != kind or existing["amount"] != amount:
            raise IdempotencyConflict(
                f"key {key!r} was already posted as {existing['kind']} {existing['amount']}, "
                f"not {kind} {amount}") from None
        if existing.get("applied"):
            return PostResult(existing, True, None, None, None)
        return await _apply(db, account_id, existing, duplicate=True)
    doc["account_id"] = account_id
    return await _apply(db, account_id, doc, duplicate=False)


async def _apply(db, account_id: int, entry: dict, *, duplicate: bool) -> PostResult:
    scope = Scope.account(account_id)
    balances = Balances(db, scope)
    await balances.ensure()
    key, amount = entry["key"], entry["amount"]
    after = await balances.fetch_update(
        {"recent_keys": {"$ne": key}},
        {"$inc": {"balance": amount, "seq": 1},
         "$push": {"recent_keys": {"$each": [key], "$slice": -RECENT_KEYS}},
         "$set": {"updated_at": clock.now()}})
    entries = LedgerEntries(db, scope)
    if after is None:  # already applied by an earlier attempt that crashed before marking it
        await entries.update({"key": key}, {"$set": {"applied": True}})
        entry = {**entry, "applied": True}
        return PostResult(entry, True, None, None, None)
    seq, bal_after = after["seq"], after["balance"]
    await entries.update({"key": key}, {"$set": {"applied": True, "seq": seq, "balance_after": bal_after}})
    entry = {**entry, "applied": True, "seq": seq, "balance_after": bal_after}
    transition = await _settle_state(balances, seq, bal_after < 0) if amount else None
    if transition:  # kept for the notice sweeper (a recovered entry's notice needs it too)
        await entries.update({"key": key}, {"$set": {"transition": transition}})
        entry = {**entry, "transition": transition}
    return PostResult(entry, duplicate, bal_after - amount, bal_after, transition)


async def _settle_state(balances: Balances, seq: int, blocked: bool) -> str | None:
    """Write the blocked state implied by posting ``seq`` unless a later posting already did."""
    before = await balances.fetch_update({"state_seq": {"$lt": seq}},
                                         {"$set": {"blocked": blocked, "state_seq": seq}}, after=False)
    if before is None or bool(before.get("blocked")) == blocked:
        return None
    return "blocked" if blocked else "unblocked"


# ---------------------------------------------------------------- convenience postings

async def record_payment(db, account_id: int, amount: int, *, key: str, source: str = "operator",
                         comment: str = "", at: datetime | None = None, ref: dict | None = None) -> PostResult:
    """A payment (positive kopecks) recorded by the operator or through the API.

    ``key`` identifies the payment in the payer's system (bank document number, API request id):
    recording it again changes nothing. The entry is stored with ``notice_pending`` (see the
    module docstring): its notices are owed until :func:`clear_notice` is called.
    """
    if require_int(amount, "payment amount") <= 0:
        raise LedgerError(f"a payment must be a positive amount of kopecks, got {amount}")
    return await post_entry(db, account_id, f"payment:{key}", "payment", amount, comment=comment,
                            at=at, ref=ref, meta={"source": source}, notice_pending=True)


async def charge(db, account_id: int, amount: int, *, key: str, kind: str = "service",
                 comment: str = "", ref: dict | None = None, period: str | None = None,
                 at: datetime | None = None, meta: dict | None = None) -> PostResult:
    """Charge a positive amount (stored negative) under ``key``."""
    if require_int(amount, "charge amount") < 0:
        raise LedgerError(f"a charge is a non-negative amount of kopecks, got {amount}")
    return await post_entry(db, account_id, key, kind, -amount, comment=comment, ref=ref,
                            period=period, at=at, meta=meta)


async def charge_fees(db, account_id: int, fees, *, at: datetime | None = None) -> list[PostResult]:
    """Post monthly fees (``rating.FeeCharge`` list); key ``fee:<period>:<item key>`` (once per month)."""
    out = []
    for fee in fees:
        if fee.amount:
            out.append(await charge(db, account_id, fee.amount, key=f"fee:{fee.period}:{fee.key}",
                                    kind="fee", comment=fee.title, period=fee.period, at=at,
                                    meta={"days": fee.days, "days_in_month": fee.days_in_month, "vat": fee.vat}))
    return out


async def rate_and_charge_call(db, account_id: int, call_uuid: str, call, tariff, *,
                               at: datetime | None = None):
    """Rate a finished call with the account's tariff, consume free minutes, post the charge.

    Idempotent on ``call_uuid``: a repeated call returns the earlier rating without touching the
    pool or the balance. Returns ``(RatedCall, PostResult | None)``; no entry is posted for a
    call that costs nothing and used no free minutes. (A crash between the pool reservation and
    the posting can waste at most that call's free seconds; it never charges twice.)
    """
    from jobs.billing.rating import RatedCall, month_key, rate_call

    scope = Scope.account(account_id)
    key = f"call:{call_uuid}"
    existing = await LedgerEntries(db, scope).get({"key": key})
    if existing is not None:
        rated = RatedCall(**existing["meta"]["rated"])
        if not existing.get("applied"):
            return rated, await _apply(db, account_id, existing, duplicate=True)
        return rated, PostResult(existing, True, None, None, None)
    rated = rate_call(call, tariff)
    moment = call.started_at or at or clock.now()
    if tariff.free_minutes and rated.zone in tariff.free_zones and rated.cost:
        granted = await FreePools(db, scope).consume(month_key(moment), tariff.free_minutes * 60,
                                                     rated.rated_seconds)
        if granted:
            rated = rate_call(call, tariff, free_seconds_left=granted)
    if rated.cost == 0 and rated.free_seconds == 0:
        return rated, None
    meta = {"rated": {f: getattr(rated, f) for f in RatedCall.__slots__}, "tariff": tariff.id}
    result = await post_entry(db, account_id, key, "call", -rated.cost, ref={"call": call_uuid},
                              period=month_key(moment), at=at or call.started_at, meta=meta)
    return rated, result


# ---------------------------------------------------------------- reads

async def get_balance(db, account_id: int) -> dict:
    """``{"balance": kopecks, "blocked": bool}`` of an account (0/unblocked if it has no entries)."""
    doc = await Balances(db, Scope.account(account_id)).get({})
    return {"balance": doc["balance"] if doc else 0, "blocked": bool(doc and doc.get("blocked"))}


async def ledger_sum(db, account_id: int) -> int:
    """Sum of the applied entries, by aggregation (the truth the cached balance must equal)."""
    rows = await LedgerEntries(db, Scope.account(account_id)).aggregate(
        [{"$match": {"applied": True}}, {"$group": {"_id": None, "total": {"$sum": "$amount"}}}])
    return int(rows[0]["total"]) if rows else 0


async def list_entries(db, account_id: int, since: datetime | None = None, until: datetime | None = None,
                       kinds: tuple[str, ...] | None = None) -> list[dict]:
    """Applied entries of ``[since, until)`` in time order."""
    flt: dict[str, Any] = {"applied": True}
    span = {}
    if since:
        span["$gte"] = since
    if until:
        span["$lt"] = until
    if span:
        flt["created_at"] = span
    if kinds:
        flt["kind"] = {"$in": list(kinds)}
    return await LedgerEntries(db, Scope.account(account_id)).list(flt, sort=[("created_at", 1), ("seq", 1)])


async def period_totals(db, account_id: int, since: datetime, until: datetime) -> dict:
    """Opening balance, debits, credits and closing balance of ``[since, until)`` (kopecks).

    ``debits`` is the positive total of charges, ``credits`` the total of payments/credits;
    ``closing == opening + credits - debits``.
    """
    repo = LedgerEntries(db, Scope.account(account_id))
    rows = await repo.aggregate([
        {"$match": {"applied": True, "created_at": {"$lt": until}}},
        {"$project": {"amount": 1, "before": {"$lt": ["$created_at", since]}}},
        {"$group": {"_id": "$before",
                    "credits": {"$sum": {"$cond": [{"$gt": ["$amount", 0]}, "$amount", 0]}},
                    "debits": {"$sum": {"$cond": [{"$lt": ["$amount", 0]}, "$amount", 0]}}}},
    ])
    opening = credits = debits = 0
    for row in rows:
        if row["_id"]:
            opening += int(row["credits"]) + int(row["debits"])
        else:
            credits, debits = int(row["credits"]), -int(row["debits"])
    return {"opening": opening, "debits": debits, "credits": credits,
            "closing": opening + credits - debits}


async def pending_notices(db, older_than: datetime, limit: int = 200) -> list[dict]:
    """Applied entries (any account) still owing their notices, stored before ``older_than``."""
    return await LedgerEntries(db, Scope.platform()).list(
        {"notice_pending": True, "applied": True, "created_at": {"$lt": older_than}},
        sort=[("created_at", 1)], limit=limit)


async def clear_notice(db, account_id: int, key: str) -> None:
    """The entry's notices are queued: drop its ``notice_pending`` mark."""
    await LedgerEntries(db, Scope.account(account_id)).update(
        {"key": key, "notice_pending": True}, {"$unset": {"notice_pending": ""}})


async def apply_pending(db, account_id: int | None = None) -> list[PostResult]:
    """Finish entries a crash left unapplied (run by a periodic job); idempotent."""
    scope = Scope.account(account_id) if account_id else Scope.platform()
    pending = await LedgerEntries(db, scope).list({"applied": False}, sort=[("created_at", 1)])
    return [await _apply(db, e["account_id"], e, duplicate=True) for e in pending]


__all__ = ["KINDS", "RECENT_KEYS", "LedgerError", "IdempotencyConflict", "PostResult", "post_entry",
           "record_payment", "charge", "charge_fees", "rate_and_charge_call", "get_balance",
           "ledger_sum", "list_entries", "period_totals", "apply_pending", "pending_notices", "clear_notice",
           "run_sync"]
