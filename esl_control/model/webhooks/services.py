"""Webhook use cases: subscriptions (the API and the cabinet page call these), emitting an event,
the delivery log, manual redelivery, "Send a test event", and what the delivery job records.

Emitting (:func:`emit`) writes one delivery per active subscription of the PBX to that event type
into ``webhook_deliveries`` (its id derived from the event id and the subscription, so emitting
the same event again stores nothing new) and hands the new deliveries to the *dispatcher*: the
function the jobs side registers with :func:`set_dispatcher` (``jobs.webhooks`` queues one
delivery job each). The call domain cannot import the jobs (they are a layer above), hence the
registration; a delivery whose job could not be queued stays ``pending`` and the jobs' sweeper
queues it later.

A subscription whose deliveries finally failed (after all retries) ``webhook_disable_after``
times in a row is switched off with the reason kept on it; the job then tells the PBX's
administrators by e-mail. A delivered event resets the count; switching the subscription on
again clears the reason.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any, Callable, Iterable, Mapping

from pymongo import DESCENDING
from pymongo.errors import DuplicateKeyError

from esl_control.model.common import NotFound, new_id, now, public
from esl_control.model.crypto import SecretBox
from esl_control.model.service import TenantService
from esl_control.model.webhooks import delivery, events
from esl_control.model.webhooks.schemas import clean_subscription, new_secret
from pult.settings import get_settings
from storage.priority import mark_ordinary
from storage.repos.base import Scope
from storage.repos.webhooks import WebhookDeliveries, WebhookSubscriptions

log = logging.getLogger("pult.webhooks")

STATUSES = ("pending", "retrying", "delivered", "failed", "cancelled")
#: a delivery in these is done (nothing will send it again unless redelivered by hand): prunable
FINISHED = ("delivered", "failed", "cancelled")
PRUNE_BATCH = 1000
LOG_LIMIT = 100

# --------------------------------------------------------------------------- the dispatcher
#: (delivery id, pbx id, round) -> None; must not block or raise (see the module docstring)
Dispatcher = Callable[[list[tuple[str, int, int]]], None]
_dispatcher: Dispatcher | None = None


def set_dispatcher(fn: Dispatcher | None) -> None:
    """Register what queues delivery jobs (``jobs.webhooks`` does at import); None: nothing."""
    global _dispatcher
    _dispatcher = fn


def dispatch(items: list[tuple[str, int, int]]) -> None:
    if not items or _dispatcher is None:
        return
    try:
        _dispatcher(items)
    except Exception as exc:  # noqa: BLE001 — the sweeper queues what was left pending
        log.warning("could not queue %d webhook deliveries (the sweeper will): %s", len(items), exc)


def delivery_id(event_id: str, subscription_id: str) -> str:
    return hashlib.sha256(f"{event_id}\n{subscription_id}".encode("utf-8")).hexdigest()[:24]


def _box() -> SecretBox:
    return SecretBox.from_settings()


def _owner(sub_id: str) -> str:
    return f"webhook:{sub_id}"


# --------------------------------------------------------------------------- emitting
async def emit(db, pbx_id: int, event_type: str, data: Mapping[str, Any], *, event_id: str,
               at=None) -> list[str]:
    """Store one delivery of this event per active subscription to it and queue them; returns
    the ids of the deliveries this call stored (none when the event was emitted before)."""
    if event_type not in events.EVENTS:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    scope = Scope.pbx(pbx_id)
    subs = await WebhookSubscriptions(db, scope).find({"active": True, "events": event_type})
    if not subs:
        return []
    at = at or now()
    body = events.envelope(event_id, event_type, pbx_id, dict(data), at)
    repo = WebhookDeliveries(db, scope)
    stored: list[str] = []
    for sub in subs:
        did = delivery_id(event_id, sub["_id"])
        doc = {"_id": did, "subscription_id": sub["_id"], "event_id": event_id, "event_type": event_type,
               "body": body, "status": "pending", "round": 0, "attempts": 0, "last_status_code": None,
               "last_error": None, "response_ms": None, "created_at": at, "updated_at": at, "delivered_at": None}
        try:
            await repo.insert_one(doc)
        except DuplicateKeyError:
            continue
        stored.append(did)
    dispatch([(d, pbx_id, 0) for d in stored])
    return stored


def emit_soon(db, pbx_id: int | None, event_type: str, data: Mapping[str, Any], *, event_id: str) -> None:
    """:func:`emit` from a code path that must not wait for it or fail because of it (the call
    engine): a task on the running loop, its failure only logged."""
    if not pbx_id:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return

    async def run():
        mark_ordinary()  # started by a call flow (urgent store reads): nobody waits on this one
        try:
            await emit(db, pbx_id, event_type, data, event_id=event_id)
        except Exception as exc:  # noqa: BLE001
            log.warning("webhook event %s of PBX %s not emitted: %s", event_type, pbx_id, exc)
    task = loop.create_task(run())
    _pending.add(task)
    task.add_done_callback(_pending.discard)


_pending: set = set()


# --------------------------------------------------------------------------- subscriptions
def _out(doc: Mapping, secret: str | None = None) -> dict:
    out = public(doc)
    out.pop("secret_enc", None)
    if secret is not None:
        out["secret"] = secret
    return out


class WebhookService(TenantService):
    repo_cls = WebhookSubscriptions
    object_type = "webhook"
    section = "integrations"

    def __init__(self, db, pbx_id: int, actor: Mapping[str, Any] | None = None, *, box: SecretBox | None = None,
                 allow_private: bool | None = None, timeout: float | None = None):
        super().__init__(db, pbx_id, actor, box=box)
        settings = get_settings()
        self.allow_private = settings.webhook_allow_private if allow_private is None else allow_private
        self.timeout = settings.webhook_timeout if timeout is None else timeout
        self.deliveries_repo = WebhookDeliveries(db, self.scope)

    def secret_of(self, doc: Mapping) -> str:
        return self.box.decrypt(doc["secret_enc"], _owner(doc["_id"]))

    async def list(self) -> list[dict]:
        return [_out(d) for d in await self.repo.find({}, sort=[("created_at", 1)])]

    async def get(self, id: str) -> dict:
        doc = await self._doc(id)
        return _out(doc, self.secret_of(doc))

    async def create(self, data: Mapping[str, Any]) -> dict:
        clean = clean_subscription(data, allow_private=self.allow_private)
        secret = clean.pop("secret") or new_secret()
        sid = new_id()
        doc = {**clean, "_id": sid, "secret_enc": self.box.encrypt(secret, _owner(sid)), "consecutive_failures": 0,
               "disabled_reason": None, "disabled_at": None, "created_at": now(), "updated_at": now()}
        await self.repo.insert_one(doc)
        await self._audit("create", None, {**doc, "name": doc["url"]})
        return _out(doc, secret)

    async def update(self, id: str, data: Mapping[str, Any]) -> dict:
        before = await self._doc(id)
        clean = clean_subscription(data, allow_private=self.allow_private)
        secret = clean.pop("secret")
        doc = {**before, **clean, "updated_at": now()}
        if secret is not None:
            doc["secret_enc"] = self.box.encrypt(secret, _owner(id))
        if doc["active"] and not before.get("active"):  # switched on again: a fresh start
            doc.update(consecutive_failures=0, disabled_reason=None, disabled_at=None)
        await self.repo.replace_one({"_id": id}, doc)
        await self._audit("update", {**before, "name": before["url"]}, {**doc, "name": doc["url"]})
        return _out(doc, self.secret_of(doc))

    async def rotate_secret(self, id: str) -> dict:
        before = await self._doc(id)
        secret = new_secret()
        await self.repo.update_one({"_id": id}, {"$set": {"secret_enc": self.box.encrypt(secret, _owner(id)),
                                                          "updated_at": now()}})
        await self._audit("rotate_secret", None, {"_id": id, "name": before["url"]})
        return _out({**before, "updated_at": now()}, secret)

    async def delete(self, id: str) -> None:
        doc = await self._doc(id)
        await self.repo.delete_one({"_id": id})
        await self.deliveries_repo.delete_many({"subscription_id": id})
        await self._audit("delete", {**doc, "name": doc["url"]}, None)

    # --- the delivery log
    async def deliveries(self, id: str, limit: int = LOG_LIMIT) -> list[dict]:
        await self._doc(id)
        docs = await self.deliveries_repo.find({"subscription_id": id}, sort=[("created_at", DESCENDING)],
                                               limit=limit)
        return [_delivery_out(d) for d in docs]

    async def delivery(self, id: str, delivery_id: str) -> dict:
        await self._doc(id)
        doc = await self.deliveries_repo.find_one({"_id": delivery_id, "subscription_id": id}) \
            if isinstance(delivery_id, str) else None
        if doc is None:
            raise NotFound("webhook_delivery", delivery_id)
        return _delivery_out(doc, body=True)

    async def redeliver(self, id: str, delivery_id: str) -> dict:
        """Send a logged delivery again (a new round of attempts with the same body and ids)."""
        sub = await self._doc(id)
        current = await self.delivery(id, delivery_id)
        if current["status"] in ("pending", "retrying"):
            return current  # already on its way
        rnd = int(current.get("round") or 0) + 1
        await self.deliveries_repo.update_one(
            {"_id": delivery_id, "subscription_id": id},
            {"$set": {"status": "pending", "round": rnd, "updated_at": now()}})
        await self._audit("redeliver", None, {"_id": id, "name": sub["url"], "delivery": delivery_id})
        dispatch([(delivery_id, self.pbx_id, rnd)])
        return await self.delivery(id, delivery_id)

    # --- "Send a test event"
    async def test(self, data: Mapping[str, Any], id: str | None = None) -> dict:
        """Deliver a ``webhook.test`` event now to the URL of ``data`` (not saved), signed with
        its secret (the stored one of subscription ``id`` when none is typed; a new one when
        neither): ``{ok, status_code, error, response_ms, secret}``. Nothing is stored."""
        base = {}
        if id is not None:
            doc = await self._doc(id)
            base = {"url": doc["url"], "events": doc["events"], "description": doc.get("description")}
        clean = clean_subscription({**base, **{k: v for k, v in dict(data).items() if v not in (None, "")},
                                    "events": (data.get("events") or base.get("events") or ["call.started"])},
                                   allow_private=self.allow_private)
        secret = clean["secret"] or (self.secret_of(doc) if id is not None else new_secret())
        event_id = f"{events.TEST_EVENT}:{new_id()}"
        body = events.envelope(event_id, events.TEST_EVENT, self.pbx_id,
                               {"message": "This is a test event from Pult", "events": clean["events"]}, now())
        attempt = await asyncio.to_thread(delivery.post, clean["url"], secret, body, event_id=event_id,
                                          delivery_id=event_id, event_type=events.TEST_EVENT,
                                          allow_private=self.allow_private, timeout=self.timeout)
        return {**attempt.as_dict(), "secret": secret, "event_id": event_id}


def _delivery_out(doc: Mapping, body: bool = False) -> dict:
    out = public(doc)
    if not body:
        out.pop("body", None)
    return out


# --------------------------------------------------------------------------- the job's side
async def attempt_context(db, pbx_id: int, delivery_id: str, box: SecretBox | None = None) -> dict | None:
    """What the delivery job needs: ``{delivery, subscription, secret}``; None when the delivery
    is gone. ``subscription`` is None when it was deleted."""
    scope = Scope.pbx(pbx_id)
    d = await WebhookDeliveries(db, scope).find_one({"_id": delivery_id})
    if d is None:
        return None
    sub = await WebhookSubscriptions(db, scope).find_one({"_id": d["subscription_id"]})
    secret = (box or _box()).decrypt(sub["secret_enc"], _owner(sub["_id"])) if sub else None
    return {"delivery": d, "subscription": sub, "secret": secret}


async def cancel(db, pbx_id: int, delivery_id: str, reason: str) -> None:
    await WebhookDeliveries(db, Scope.pbx(pbx_id)).update_one(
        {"_id": delivery_id}, {"$set": {"status": "cancelled", "last_error": reason, "updated_at": now()}})


async def record_attempt(db, pbx_id: int, delivery_id: str, attempt: Mapping[str, Any], *, final: bool,
                         disable_after: int) -> dict:
    """Log one attempt on the delivery; on success reset the subscription's failure count, on a
    final failure count it and switch the subscription off at ``disable_after`` in a row.
    Returns ``{status, disabled: bool, subscription}``."""
    scope = Scope.pbx(pbx_id)
    deliveries, subs = WebhookDeliveries(db, scope), WebhookSubscriptions(db, scope)
    status = "delivered" if attempt["ok"] else ("failed" if final else "retrying")
    fields = {"status": status, "last_status_code": attempt.get("status_code"), "last_error": attempt.get("error"),
              "response_ms": attempt.get("response_ms"), "updated_at": now()}
    if attempt["ok"]:
        fields["delivered_at"] = now()
    await deliveries.update_one({"_id": delivery_id}, {"$set": fields, "$inc": {"attempts": 1}})
    d = await deliveries.find_one({"_id": delivery_id})
    sub_id = (d or {}).get("subscription_id")
    out: dict[str, Any] = {"status": status, "disabled": False, "subscription": None}
    if sub_id is None:
        return out
    if attempt["ok"]:
        await subs.update_one({"_id": sub_id}, {"$set": {"consecutive_failures": 0}})
    elif final:
        await subs.update_one({"_id": sub_id}, {"$inc": {"consecutive_failures": 1}})
        # one guarded update: only the run that crosses the threshold switches it off (and tells)
        switched = await subs.update_one(
            {"_id": sub_id, "active": True, "consecutive_failures": {"$gte": disable_after}},
            {"$set": {"active": False, "disabled_at": now(),
                      "disabled_reason": attempt.get("error") or "delivery failed"}})
        if switched:
            sub = await subs.find_one({"_id": sub_id})
            out.update(disabled=True, subscription=_out(sub))
            from storage.repos.audit import audit

            await audit(db, scope, actor={"kind": "system", "name": "System"}, section="integrations",
                        operation="disable", object={"type": "webhook", "id": sub_id, "name": sub["url"]},
                        before=None, after={"reason": sub["disabled_reason"],
                                            "consecutive_failures": sub["consecutive_failures"]})
    return out


async def admin_emails(db, pbx_id: int) -> list[str]:
    """Whom to tell about the PBX's integrations: its administrators' e-mails, else the account's."""
    users = await db["users"].find({"pbx_id": pbx_id, "role": "administrator", "active": {"$ne": False},
                                    "email": {"$nin": [None, ""]}}).to_list(None)
    emails = sorted({u["email"] for u in users})
    if not emails:
        pbx = await db["pbxes"].find_one({"pbx_id": pbx_id})
        acc = await db["accounts"].find_one({"account_id": (pbx or {}).get("account_id")}) if pbx else None
        if acc and acc.get("email"):
            emails = [acc["email"]]
    return emails


async def pending_deliveries(db, older_than, limit: int = 500) -> list[tuple[str, int, int]]:
    """Deliveries still waiting for their first attempt since before ``older_than`` (the sweeper)."""
    docs = await WebhookDeliveries(db, Scope.platform()).find(
        {"status": "pending", "updated_at": {"$lt": older_than}}, sort=[("updated_at", 1)], limit=limit)
    return [(d["_id"], d["pbx_id"], int(d.get("round") or 0)) for d in docs]


async def prune_deliveries(db, *, now, keep: int, max_age) -> dict:
    """The delivery log's retention (the daily job): remove the finished deliveries whose last
    activity (``updated_at``: stored, attempted or redelivered) is older than ``max_age``, and per
    subscription those beyond its ``keep`` newest (by ``created_at``). A delivery still on its way
    (``pending`` / ``retrying``) is never removed. Returns ``{"old": n, "over": n}``. In batches,
    through the indexes (status + updated_at; pbx + subscription + created_at)."""
    coll = db[WebhookDeliveries.collection]
    old_flt = {"status": {"$in": list(FINISHED)}, "updated_at": {"$lt": now - max_age}}
    old = 0
    while True:
        batch = [d["_id"] for d in await coll.find(old_flt, {"_id": 1}).limit(PRUNE_BATCH).to_list(None)]
        if not batch:
            break
        old += (await coll.delete_many({"_id": {"$in": batch}, **old_flt})).deleted_count
        if len(batch) < PRUNE_BATCH:
            break
    over = 0
    async for sub in db[WebhookSubscriptions.collection].find({}, {"_id": 1, "pbx_id": 1}):
        flt = {"pbx_id": sub.get("pbx_id"), "subscription_id": sub["_id"]}
        while True:  # what lies beyond the newest ``keep``: oldest first, a batch at a time
            beyond = await coll.find(flt, {"_id": 1, "status": 1}).sort([("created_at", DESCENDING)]) \
                .skip(keep).limit(PRUNE_BATCH).to_list(None)
            ids = [d["_id"] for d in beyond if d.get("status") in FINISHED]
            if ids:
                over += (await coll.delete_many({"_id": {"$in": ids}, "status": {"$in": list(FINISHED)}})).deleted_count
            if len(beyond) < PRUNE_BATCH or not ids:
                break
    return {"old": old, "over": over}


def event_types() -> Iterable[dict]:
    return [{"type": t, "description": d, "emitted": e} for t, (d, e) in events.EVENTS.items()]
