"""Webhook delivery jobs (queue ``webhooks``): one job per delivery, retried with backoff,
idempotent, and the hooks that emit the events of finished calls.

- :func:`deliver` (``jobs.webhooks.deliver``) makes one attempt of a delivery stored by
  :func:`esl_control.model.webhooks.services.emit` and logs it on the delivery (status, attempts,
  last status code / error, response time). A failed attempt raises :class:`TransientError`, so
  :class:`jobs.app.PultTask` retries it with exponential backoff and jitter, at most
  ``settings.webhook_max_retries`` times; the last failure is final and counts against the
  subscription, which is switched off at ``settings.webhook_disable_after`` final failures in a
  row — and the PBX's administrators get an e-mail saying so. A refused address (SSRF guard) is
  final at once.
- The body runs under :func:`jobs.idempotency.once` keyed by ``<delivery id>:<round>``: a
  message redelivered after a worker died, or queued twice by the sweeper, sends nothing once the
  delivery is done (a manual redelivery is a new round, hence a new key). A worker killed between
  the receiver's answer and the ``done`` write may make the receiver see the delivery twice; the
  ``Pult-Delivery-Id`` header lets it drop the second (docs/webhooks.md).
- :func:`sweep` (beat, every minute) queues deliveries still ``pending`` a minute after they were
  stored or redelivered (the dispatcher could not reach Redis).
- :func:`on_call_record` is the call-record writer's hook (wired in :mod:`pult.cli`): it queues
  :func:`call_events`, which emits ``call.ended`` and, for an inbound call nobody answered,
  ``call.missed``. The spool import emits ``voicemail.received`` / ``fax.received``
  (:func:`media_received`).

Importing this module registers :func:`enqueue` as the domain's dispatcher.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from celery.schedules import crontab

from jobs import context, schedules
from jobs.app import TransientError, app
from jobs.client import publish_executor, publish_soon
from jobs.idempotency import idempotent
from pult import clock

from esl_control.model.webhooks import delivery, services

log = logging.getLogger("pult.webhooks")

#: a ceiling for PultTask; the job itself gives up after settings.webhook_max_retries
RETRY_CEILING = 20
SWEEP_EVERY = 60
SWEEP_AGE = timedelta(seconds=60)


class DeliveryFailed(TransientError):
    """One attempt failed and another is due (the receiver answered non-2xx or not at all)."""


def _call(fn) -> Any:
    """``await fn(store)`` on the store's loop; a store outage is transient (retried)."""
    try:
        return context.call_store(fn)
    except Exception as exc:
        from storage.client import StoreUnavailable

        if isinstance(exc, StoreUnavailable):
            raise TransientError(f"store unavailable: {exc}") from exc
        raise


def _key(delivery_id: str, rnd: int) -> str:
    return f"{delivery_id}:{int(rnd)}"


@app.task(bind=True, name="jobs.webhooks.deliver", max_retries=RETRY_CEILING)
@idempotent("webhook")
def deliver(self, delivery_id: str, pbx_id: int, round: int = 0) -> dict:  # noqa: A002
    """One attempt of a delivery (see the module docstring)."""
    settings = context.settings()
    ctx = _call(lambda st: services.attempt_context(st.db, pbx_id, delivery_id))
    if ctx is None:
        return {"delivery": delivery_id, "status": "gone"}
    d, sub = ctx["delivery"], ctx["subscription"]
    if int(d.get("round") or 0) != int(round):
        return {"delivery": delivery_id, "status": "superseded"}
    if d["status"] in ("delivered", "cancelled", "failed"):
        return {"delivery": delivery_id, "status": d["status"]}
    if sub is None or not sub.get("active"):
        reason = "the subscription was deleted" if sub is None else "the subscription is switched off"
        _call(lambda st: services.cancel(st.db, pbx_id, delivery_id, reason))
        return {"delivery": delivery_id, "status": "cancelled"}
    attempt = delivery.post(sub["url"], ctx["secret"], d["body"], event_id=d["event_id"], delivery_id=delivery_id,
                            event_type=d["event_type"], allow_private=settings.webhook_allow_private,
                            timeout=settings.webhook_timeout)
    retries = 0 if self.request.called_directly else int(self.request.retries or 0)
    final = attempt.ok or not attempt.retry or retries >= settings.webhook_max_retries
    res = _call(lambda st: services.record_attempt(st.db, pbx_id, delivery_id, attempt.as_dict(), final=final,
                                                   disable_after=settings.webhook_disable_after))
    if res["disabled"]:
        _notify_disabled(pbx_id, res["subscription"])
    if not final:
        raise DeliveryFailed(attempt.error or "delivery failed")
    return {"delivery": delivery_id, "status": res["status"], "status_code": attempt.status_code,
            "response_ms": attempt.response_ms, "error": attempt.error}


def _notify_disabled(pbx_id: int, sub: dict) -> None:
    """E-mail the PBX's administrators that a subscription was switched off (once per switch-off)."""
    from jobs.mail import MailError, send_mail

    emails = _call(lambda st: services.admin_emails(st.db, pbx_id))
    if not emails:
        log.warning("webhook %s of PBX %s switched off; nobody to tell by e-mail", sub["id"], pbx_id)
        return
    subject = f"Вебхук отключён / Webhook disabled: PBX {pbx_id}"
    text = (f"Доставка событий на адрес {sub['url']} не удалась {sub.get('consecutive_failures')} раз подряд, "
            f"подписка отключена. Последняя ошибка: {sub.get('disabled_reason')}\n"
            f"Проверьте получателя и включите подписку снова в кабинете: Интеграции → Вебхуки.\n\n"
            f"Deliveries to {sub['url']} failed {sub.get('consecutive_failures')} times in a row, so the "
            f"subscription was switched off. Last error: {sub.get('disabled_reason')}\n"
            f"Check the receiver and switch the subscription on again in the cabinet: Integrations → Webhooks.\n")
    disabled_at = sub.get("disabled_at")
    stamp = disabled_at.isoformat() if hasattr(disabled_at, "isoformat") else str(disabled_at)
    try:
        send_mail(emails, subject, text, idempotency_key=f"webhook-disabled:{sub['id']}:{stamp}")
    except MailError as exc:
        log.warning("webhook %s switched off; the notice could not be queued: %s", sub["id"], exc)


# --------------------------------------------------------------------------- queueing
def _submit(items: list[tuple[str, int, int]]) -> None:
    from jobs.client import submit

    for did, pbx_id, rnd in items:
        try:
            submit(deliver, kwargs={"delivery_id": did, "pbx_id": pbx_id, "round": rnd,
                                    "idempotency_key": _key(did, rnd)}, what="a webhook delivery")
        except Exception as exc:  # noqa: BLE001 — Redis down: the sweeper queues it later
            log.warning("could not queue webhook delivery %s (the sweeper will): %s", did, exc)


def enqueue(items: list[tuple[str, int, int]]) -> None:
    """The dispatcher: queue delivery jobs without blocking an event loop; never raises."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is not None:
        loop.run_in_executor(publish_executor(), _submit, list(items))
    else:
        _submit(list(items))


services.set_dispatcher(enqueue)


@app.task(bind=True, name="jobs.webhooks.sweep")
def sweep(self, limit: int = 500) -> dict:
    """Queue deliveries left ``pending`` (their job could not be queued)."""
    items = _call(lambda st: services.pending_deliveries(st.db, clock.now() - SWEEP_AGE, limit))
    _submit(items)
    return {"queued": len(items)}


schedules.register("webhooks.sweep", "jobs.webhooks.sweep", SWEEP_EVERY)


@app.task(bind=True, name="jobs.webhooks.prune")
def prune(self) -> dict:
    """The delivery log's retention (:func:`services.prune_deliveries`): per subscription the newest
    ``settings.webhook_log_keep`` finished deliveries, none older than ``webhook_log_days``."""
    settings = context.settings()
    res = _call(lambda st: services.prune_deliveries(st.db, now=clock.now(), keep=settings.webhook_log_keep,
                                                     max_age=timedelta(days=settings.webhook_log_days)))
    if res["old"] or res["over"]:
        log.info("webhook delivery log: removed %d deliveries older than %d days and %d beyond the newest %d",
                 res["old"], settings.webhook_log_days, res["over"], settings.webhook_log_keep)
    return res


schedules.register("webhooks.prune", "jobs.webhooks.prune", crontab(minute=50, hour=2))


# --------------------------------------------------------------------------- call events
def call_data(record: dict) -> dict:
    """What a call event tells about a call (from its stored record)."""
    v = record.get("vars") or {}
    start = record.get("start")
    return {"call_id": record.get("uuid"), "direction": record.get("direction"), "caller": record.get("caller"),
            "callee": record.get("callee"), "started_at": start, "answered": bool(record.get("billsec")),
            "duration": record.get("duration"), "billsec": record.get("billsec"),
            "hangup_cause": record.get("hangup_cause"), "employee_id": v.get("pult_employee_id"),
            "group_id": v.get("pult_group_id")}


def is_missed(record: dict) -> bool:
    """An inbound call that ended without being answered."""
    return record.get("direction") == "inbound" and not record.get("billsec")


@app.task(bind=True, name="jobs.webhooks.call_events")
def call_events(self, uuid: str) -> dict:
    """Emit ``call.ended`` (and ``call.missed``) for a stored call record (safe to run twice:
    the event ids are the call's)."""
    from storage.repos.calls import find_call

    record = _call(lambda st: find_call(st.db, uuid))
    if not record or not record.get("pbx_id"):
        return {"uuid": uuid, "emitted": []}
    data = call_data(record)
    pbx_id = int(record["pbx_id"])
    emitted = []
    types = ["call.ended"] + (["call.missed"] if is_missed(record) else [])
    for t in types:
        ids = _call(lambda st, t=t: services.emit(st.db, pbx_id, t, data, event_id=f"{t}:{uuid}"))
        emitted += ids
    return {"uuid": uuid, "emitted": emitted}


def _queue_call_events(uuid: str) -> None:
    from jobs.client import submit

    try:
        submit(call_events, args=(uuid,), what="the webhook events of a call")
    except Exception as exc:  # noqa: BLE001
        log.warning("could not queue the webhook events of call %s: %s", uuid, exc)


def on_call_record(record: dict) -> None:
    """The call-record writer's hook: queue the call's webhook events; never blocks or raises."""
    try:
        uuid = record.get("uuid")
        if not uuid or not record.get("pbx_id"):
            return
        publish_soon(_queue_call_events, uuid)
    except Exception as exc:  # noqa: BLE001 — the call side must never fail because of webhooks
        log.warning("webhook hook failed for a call record: %s", exc)


def media_received(pbx_id: int, kind: str, uuid: str, file_id: str, extra: dict) -> None:
    """Emit ``voicemail.received`` / ``fax.received`` for a spool file just linked to its call
    (called by the spool import in a worker; a failure is logged, the import stands)."""
    from storage.repos.calls import find_call

    event_type = {"voicemail": "voicemail.received", "fax": "fax.received"}.get(kind)
    if event_type is None:
        return
    try:
        record = _call(lambda st: find_call(st.db, uuid)) or {}
        data = {**call_data(record), "call_id": uuid, "file_id": file_id, **extra}
        _call(lambda st: services.emit(st.db, pbx_id, event_type, data, event_id=f"{event_type}:{file_id}"))
    except Exception as exc:  # noqa: BLE001
        log.warning("webhook event %s of call %s not emitted: %s", event_type, uuid, exc)
