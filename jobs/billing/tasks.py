"""Celery tasks of billing: rating on call end, the sweeper, document rendering, notifications,
the monthly close.

Tasks are named ``jobs.billing.<name>`` and so go to the ``billing`` queue (``jobs.app.ROUTES``),
except :func:`render_document`, which is sent to the ``documents`` queue (long PDF work must not
hold up rating). Every task is safe to run twice: rating and fees are keyed in the ledger,
documents by their entry, notifications by their idempotency key (:mod:`jobs.billing.notify`).

The CDR hook
------------
:func:`on_call_record` is what the call-record writer calls right after a record was stored for
the first time (``save_call_record`` returned True)::

    from jobs.billing.tasks import on_call_record
    inserted = await save_call_record(db, record)
    if inserted:
        on_call_record(record)

It never blocks the caller and never raises: on an event loop the publish runs in the loop's
default executor; a failed publish is only logged, because :func:`sweep_unrated` (beat, every
minute) rates any record left unrated.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import date, timedelta
from typing import Any, Callable

from celery.schedules import crontab

from jobs import context, schedules
from jobs.app import TransientError, app
from jobs.billing import documents, notify, services
from jobs.client import publish_executor, publish_soon
from jobs.idempotency import idempotent
from pult import clock

log = logging.getLogger("pult.billing.tasks")

SWEEP_EVERY = 60            # seconds between sweeps for unrated records
SWEEP_AGE = timedelta(seconds=30)
DOCUMENTS_QUEUE = "documents"  # rendering is long: its own queue, so rating never waits behind it


def call(fn: Callable) -> Any:
    """``await fn(store)`` on the store's loop; store outages become transient (retried)."""
    try:
        return context.call_store(fn)
    except Exception as exc:
        from storage.client import StoreUnavailable

        if isinstance(exc, StoreUnavailable) or type(exc).__module__.startswith("pymongo.errors") and \
                type(exc).__name__ in ("AutoReconnect", "ServerSelectionTimeoutError", "NetworkTimeout",
                                       "ConnectionFailure", "NotPrimaryError"):
            raise TransientError(f"store unavailable: {exc}") from exc
        raise


def _submit(task, *, kwargs: dict, what: str, **options) -> str | None:
    from jobs.client import submit

    return submit(task, kwargs=kwargs, what=what, **options)


# --------------------------------------------------------------------------- after a posting
def after_posting(account_id: int, *, transition: str | None, balance: int | None, seq: int | None,
                  credited: int | None = None, credit_key: str | None = None) -> list[str]:
    """Queue the notifications a posting implies; returns their keys.

    ``transition`` → blocked/unblocked (key ``<transition>:<account>:<seq>``); ``credited`` →
    funds credited (key ``credited:<ledger key>``); a debit may make the critical-balance notice
    due (claimed at most once per 5 days).
    """
    keys = []
    if credited:
        key = f"credited:{account_id}:{credit_key}"
        _submit(notify_task, kwargs={"account_id": account_id, "event": "credited", "idempotency_key": key,
                                     "data": {"amount": credited, "balance": balance}}, what="a notification")
        keys.append(key)
    if transition:
        key = f"{transition}:{account_id}:{seq}"
        _submit(notify_task, kwargs={"account_id": account_id, "event": transition, "idempotency_key": key,
                                     "data": {"balance": balance}}, what="a notification")
        keys.append(key)
    if balance is not None and not credited:
        claim = call(lambda st: notify.claim_low_balance(st.db, account_id, balance))
        if claim:
            _submit(notify_task, kwargs={"account_id": account_id, "event": "low_balance",
                                         "idempotency_key": claim["key"],
                                         "data": {"balance": balance, "threshold": claim["threshold"]}},
                    what="a notification")
            keys.append(claim["key"])
    return keys


# --------------------------------------------------------------------------- rating
def _rate(uuid: str) -> dict:
    res = call(lambda st: services.rate_record(st.db, uuid))
    if res.get("status") == "rated" and res.get("account_id") and res.get("charged"):
        res["notifications"] = after_posting(res["account_id"], transition=res.get("transition"),
                                             balance=res.get("balance"), seq=res.get("seq"))
    return res


@app.task(bind=True, name="jobs.billing.rate_call")
def rate_call(self, uuid: str) -> dict:
    """Rate one stored call record and charge its account (idempotent on the uuid)."""
    return _rate(uuid)


@app.task(bind=True, name="jobs.billing.sweep_unrated")
def sweep_unrated(self, limit: int = 500) -> dict:
    """Rate records the hook missed (stored > 30 s ago, neither rated nor in error)."""
    uuids = call(lambda st: services.unrated_uuids(st.db, SWEEP_AGE, limit))
    rated = errors = 0
    for uuid in uuids:
        res = _rate(uuid)
        rated += res.get("status") == "rated"
        errors += res.get("status") == "error"
    if uuids:
        log.info("sweeper: %d unrated record(s): %d rated, %d in error", len(uuids), rated, errors)
    return {"found": len(uuids), "rated": rated, "errors": errors}


def _enqueue_rating(uuid: str) -> None:
    try:
        _submit(rate_call, kwargs={"uuid": uuid}, what="the rating of a call")
    except Exception as exc:  # Redis down: the sweeper rates it later
        log.warning("could not queue the rating of call %s (the sweeper will): %s", uuid, exc)


def on_call_record(record: dict) -> None:
    """The CDR writer's hook (see the module docstring): queue the rating; never blocks or raises."""
    try:
        uuid = record.get("leg_of") or record.get("uuid")  # a leg: its call is rated
        if not uuid or not (record.get("pbx_id") or record.get("leg_of")):
            return
        publish_soon(_enqueue_rating, uuid)
    except Exception as exc:  # noqa: BLE001 — the call side must never fail because of billing
        log.warning("billing hook failed for a call record: %s", exc)


# --------------------------------------------------------------------------- documents
@app.task(bind=True, name="jobs.billing.render_document", soft_time_limit=900, time_limit=960)
def render_document(self, account_id: int, doc_id: str) -> dict:
    """Render a queued document (see :mod:`jobs.billing.documents`)."""
    return documents.render_document(account_id, doc_id, call)


async def queue_render(account_id: int, doc_id: str) -> str:
    """Queue the rendering of a created document from the event loop; returns the job id."""
    from jobs.client import submit_async

    return await submit_async(render_document, kwargs={"account_id": account_id, "doc_id": doc_id},
                              what="the document", queue=DOCUMENTS_QUEUE)


# --------------------------------------------------------------------------- notifications
@app.task(bind=True, name="jobs.billing.notify")
@idempotent("billing-notify")
def notify_task(self, account_id: int, event: str, data: dict) -> dict:
    """Send one notification event once per idempotency key (see :mod:`jobs.billing.notify`)."""
    return notify.deliver(account_id, event, data, self.request.kwargs.get("idempotency_key") or self.request.id,
                          call)


def queue_payment_notices(entry: dict) -> list[str]:
    """Queue the notices a payment entry owes: "funds credited" and, when the payment lifted the
    block, "unblocked". Keys derive from the entry (``credited:<account>:<ledger key>``,
    ``unblocked:<account>:<seq>``), so queueing them again sends nothing twice.
    Raises :class:`jobs.app.JobsUnavailable` when Redis is unreachable."""
    return after_posting(entry["account_id"], transition=entry.get("transition"), balance=entry.get("balance_after"),
                         seq=entry.get("seq"), credited=entry["amount"], credit_key=entry["key"])


async def after_payment_async(db, account_id: int, result) -> list[str]:
    """Queue "funds credited" (and "unblocked") after a payment, from the event loop, then drop
    the entry's ``notice_pending`` mark. If Redis is unreachable this raises
    :class:`jobs.app.JobsUnavailable` and the mark stays: :func:`sweep_notices` queues the
    notices once Redis is back (a duplicate submit is harmless: the keys are idempotent)."""
    if result.duplicate and not result.entry.get("notice_pending"):
        return []
    entry = {**result.entry, "account_id": account_id}
    loop = asyncio.get_running_loop()
    keys = await loop.run_in_executor(publish_executor(), lambda: queue_payment_notices(entry))
    from jobs.billing import ledger

    await ledger.clear_notice(db, account_id, entry["key"])
    return keys


NOTICE_SWEEP_EVERY = 60          # seconds between sweeps for payments whose notices are owed
NOTICE_SWEEP_AGE = timedelta(seconds=30)  # leave a fresh payment to its own request


@app.task(bind=True, name="jobs.billing.sweep_notices")
def sweep_notices(self, min_age_seconds: float | None = None, limit: int = 200) -> dict:
    """Queue the notices of payments recorded while Redis was unreachable (beat, every minute).

    Finds ledger entries still marked ``notice_pending`` (older than ``min_age_seconds``, default
    30 s), queues their notices with the same idempotency keys the payment request used, and
    clears the mark. Redis down again: the task fails and the next sweep tries again.
    """
    from jobs.billing import ledger

    age = NOTICE_SWEEP_AGE if min_age_seconds is None else timedelta(seconds=min_age_seconds)
    cutoff = clock.now() - age
    entries = call(lambda st: ledger.pending_notices(st.db, cutoff, limit))
    queued = []
    for entry in entries:
        queued.extend(queue_payment_notices(entry))
        call(lambda st, e=entry: ledger.clear_notice(st.db, e["account_id"], e["key"]))
    if entries:
        log.info("notice sweeper: queued %d notice(s) of %d payment(s)", len(queued), len(entries))
    return {"entries": len(entries), "queued": queued}


# --------------------------------------------------------------------------- monthly close
def close_month_body(today: date) -> dict:
    """Charges of the month, invoices for the previous month, once per period."""
    year, month = today.year, today.month
    py, pm = services.previous_month(year, month)
    period = f"{py:04d}-{pm:02d}"
    if not call(lambda st: services.claim_period(st.db, period)):
        return {"period": period, "status": "closed before"}
    accounts = call(lambda st: services.all_account_ids(st.db))
    fees = invoices = 0
    for account_id in accounts:
        results = call(lambda st, a=account_id: services.charge_month_fees(st.db, a, year, month))
        fresh = [r for r in results if not r.duplicate]
        fees += len(fresh)
        for r in fresh:
            if r.transition:
                after_posting(account_id, transition=r.transition, balance=r.balance_after, seq=r.entry.get("seq"))
        if fresh:
            after_posting(account_id, transition=None, balance=fresh[-1].balance_after, seq=None)
        invoices += _period_invoice(account_id, py, pm)
    call(lambda st: services.finish_period(st.db, period, len(accounts)))
    return {"period": period, "status": "closed", "accounts": len(accounts), "fees": fees, "invoices": invoices}


def _period_invoice(account_id: int, year: int, month: int) -> int:
    """An invoice (with VAT) for what the account was charged in ``year-month`` (0 if nothing)."""
    from calendar import monthrange

    from jobs.billing import ledger

    async def charged(st):
        tz = await services.account_tz(st.db, account_id)
        start, end = services.period_bounds(date(year, month, 1), date(year, month, monthrange(year, month)[1]), tz)
        return (await ledger.period_totals(st.db, account_id, start, end))["debits"]

    debits = call(charged)
    if debits <= 0:
        return 0
    from reports.common import DocumentError

    try:
        doc = call(lambda st: documents.create_document(
            st.db, account_id, "invoice", {"amount": debits, "with_vat": True}, actor=services.SYSTEM,
            key=f"close:invoice:{year:04d}-{month:02d}"))
    except DocumentError as exc:  # no supplier requisites: no blank invoice; a later close run issues it
        log.error("month close: no invoice for account %s (%04d-%02d): %s", account_id, year, month,
                  exc.message_en)
        return 0
    documents.render_document(account_id, doc["_id"], call)
    return 1


@app.task(bind=True, name="jobs.billing.close_month", soft_time_limit=3000, time_limit=3300)
def close_month(self, today: str | None = None) -> dict:
    """The monthly close (beat, 1st of the month); ``today`` (ISO date) for a manual run."""
    day = date.fromisoformat(today) if today else clock.now().date()
    return close_month_body(day)


@app.task(bind=True, name="jobs.billing.apply_pending")
def apply_pending(self) -> dict:
    """Finish ledger entries a crash left unapplied."""
    from jobs.billing import ledger

    done = call(lambda st: ledger.apply_pending(st.db))
    return {"applied": len(done)}


schedules.register("billing.sweep-unrated", "jobs.billing.sweep_unrated", SWEEP_EVERY)
schedules.register("billing.apply-pending", "jobs.billing.apply_pending", 300)
schedules.register("billing.sweep-notices", "jobs.billing.sweep_notices", NOTICE_SWEEP_EVERY)
# 00:05 UTC on the 1st (03:05 Moscow): the previous month is complete in every Russian time zone
# west of UTC+3 shortly after; call detail stays refused on the 1st (local time) meanwhile.
schedules.register("billing.monthly-close", "jobs.billing.close_month", crontab(minute=5, hour=0, day_of_month=1))


__all__ = ["on_call_record", "rate_call", "sweep_unrated", "render_document", "queue_render", "notify_task",
           "after_posting", "after_payment_async", "queue_payment_notices", "sweep_notices", "close_month", "close_month_body", "apply_pending"]
