"""Notifications to accountants (inventory A §2.7; PRODUCT.md §10): settings and senders.

Settings (``billing_notifications``, one document per account; validated by the cabinet in
``web/finance/validation.py`` before :func:`save_settings`)::

    low_balance: {enabled, emails: [..], phones: [..], mode: manual|auto, threshold (kopecks),
                  attach_invoice, invoice_amount (kopecks, default 1 100 RUB)}
    block:       {enabled, emails, phones}     services blocked / unblocked
    credit:      {enabled, emails, phones}     funds credited
    language:    ru | en

Events (:data:`EVENTS`): ``low_balance``, ``blocked``, ``unblocked``, ``credited``. The billing
tasks queue ``jobs.billing.notify`` with an idempotency key naming the event (``credited:<ledger
key>``, ``blocked:<account>:<seq>``, ``low:<account>:<claim time>``); the task body
(:func:`deliver`) runs under :func:`jobs.idempotency.once` on that key and queues the e-mail
(``jobs.mail.send``) and SMS (``jobs.sms.send``) jobs with keys derived from it — so a retried or
redelivered job never sends twice, and the mail/SMS jobs retry transient failures themselves.
Each delivery is written to the action log as "System".

The critical-balance notice goes out at most once per :data:`LOW_BALANCE_EVERY` (5 days):
:func:`claim_low_balance` moves ``last_low_balance_at`` with one guarded atomic update, so only
one of any number of concurrent checks wins. The threshold is the set amount (``manual``,
default 100 RUB) or last week's spend (``auto``).
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from pult import clock
from pult.money import format_rub
from storage.repos.audit import audit
from storage.repos.base import Scope

log = logging.getLogger("pult.billing.notify")

EVENTS = ("low_balance", "blocked", "unblocked", "credited")
BLOCK_OF_EVENT = {"low_balance": "low_balance", "blocked": "block", "unblocked": "block", "credited": "credit"}
BLOCKS = ("low_balance", "block", "credit")
LOW_BALANCE_EVERY = timedelta(days=5)
DEFAULT_THRESHOLD = 100_00
DEFAULT_INVOICE = 1_100_00
SYSTEM = {"kind": "system", "login": None, "name": "System", "ip": None}


def defaults() -> dict:
    return {"language": "ru",
            "low_balance": {"enabled": False, "emails": [], "phones": [], "mode": "manual",
                            "threshold": DEFAULT_THRESHOLD, "attach_invoice": False,
                            "invoice_amount": DEFAULT_INVOICE},
            "block": {"enabled": False, "emails": [], "phones": []},
            "credit": {"enabled": False, "emails": [], "phones": []}}


def _merge(stored: dict | None) -> dict:
    out = defaults()
    for key, value in (stored or {}).items():
        if key in BLOCKS and isinstance(value, dict):
            out[key].update({k: v for k, v in value.items() if k in out[key]})
        elif key in ("language", "last_low_balance_at", "updated_at"):
            out[key] = value
    return out


async def get_settings(db, account_id: int) -> dict:
    """The account's notification settings over the defaults (everything off by default)."""
    from storage.repos.billing import BillingNotifications

    return _merge(await BillingNotifications(db, Scope.account(account_id)).get({}))


async def save_settings(db, account_id: int, values: dict, *, actor: dict) -> tuple[dict, dict]:
    """Store validated settings (the blocks and ``language``); logs the change; returns (before, after)."""
    from storage.repos.billing import BillingNotifications

    before = await get_settings(db, account_id)
    changes = {k: values[k] for k in (*BLOCKS, "language") if k in values}
    changes["updated_at"] = clock.now()
    await BillingNotifications(db, Scope.account(account_id)).update({}, {"$set": changes}, upsert=True)
    after = await get_settings(db, account_id)
    view = lambda s: {k: s[k] for k in (*BLOCKS, "language")}  # noqa: E731
    if view(before) != view(after):
        await audit(db, Scope.account(account_id), actor=actor, section="finance", operation="update",
                    object={"type": "notification_settings", "id": account_id, "name": None},
                    before=view(before), after=view(after))
    return before, after


# --------------------------------------------------------------------------- critical balance
async def low_balance_threshold(db, account_id: int, cfg: dict, now: datetime | None = None) -> int:
    """The critical balance: the set amount, or last week's spend in ``auto`` mode."""
    if cfg.get("mode") == "auto":
        from jobs.billing.services import week_spend

        return await week_spend(db, account_id, now)
    return int(cfg.get("threshold") or 0)


async def claim_low_balance(db, account_id: int, balance: int, now: datetime | None = None) -> dict | None:
    """If the critical-balance notice is due, claim it and return ``{key, threshold, balance}``.

    Due means: the block is on with an address, the balance is below the threshold, and the last
    notice was :data:`LOW_BALANCE_EVERY` ago or never. The claim is one atomic update guarded by
    the previous ``last_low_balance_at``: concurrent checks cannot both win.
    """
    from storage.repos.billing import BillingNotifications

    now = now or clock.now()
    stored = await BillingNotifications(db, Scope.account(account_id)).get({})
    if not stored:
        return None
    cfg = _merge(stored)["low_balance"]
    if not cfg["enabled"] or not (cfg["emails"] or cfg["phones"]):
        return None
    last = stored.get("last_low_balance_at")
    if last is not None and last.tzinfo is None:
        last = last.replace(tzinfo=timezone.utc)
    if last is not None and now - last < LOW_BALANCE_EVERY:
        return None
    threshold = await low_balance_threshold(db, account_id, cfg, now)
    if balance >= threshold:
        return None
    guard = {"last_low_balance_at": stored.get("last_low_balance_at")}
    won = await BillingNotifications(db, Scope.account(account_id)).fetch_update(
        guard, {"$set": {"last_low_balance_at": now}})
    if won is None:
        return None
    return {"key": f"low:{account_id}:{now.strftime('%Y%m%dT%H%M%S%f')}", "threshold": threshold,
            "balance": balance}


# --------------------------------------------------------------------------- texts
def rub(kopecks: int | None) -> str:
    return format_rub(int(kopecks or 0), sep=" ")


def compose(event: str, account_id: int, data: dict, lang: str = "ru") -> tuple[str, str, str]:
    """``(subject, e-mail text, SMS text)`` of an event in ``lang`` (ru or en)."""
    bal, thr, amount = rub(data.get("balance")), rub(data.get("threshold")), rub(data.get("amount"))
    if lang == "en":
        texts = {
            "low_balance": (f"Account {account_id}: funds are running out",
                            f"The balance of account {account_id} is {bal} RUB, below the critical "
                            f"balance of {thr} RUB. Please top up the account so that the services are not blocked.",
                            f"Account {account_id}: balance {bal} RUB is below {thr} RUB. Please top up."),
            "blocked": (f"Account {account_id}: services blocked",
                        f"The services of account {account_id} are blocked: the balance is {bal} RUB, "
                        "below zero. Top up the account to unblock them.",
                        f"Account {account_id}: services blocked, balance {bal} RUB."),
            "unblocked": (f"Account {account_id}: services unblocked",
                          f"The services of account {account_id} are unblocked. The balance is {bal} RUB.",
                          f"Account {account_id}: services unblocked, balance {bal} RUB."),
            "credited": (f"Account {account_id}: funds credited",
                         f"{amount} RUB has been credited to account {account_id}. The balance is {bal} RUB.",
                         f"Account {account_id}: {amount} RUB credited, balance {bal} RUB."),
        }
    else:
        texts = {
            "low_balance": (f"Лицевой счёт {account_id}: заканчиваются средства",
                            f"Баланс лицевого счёта {account_id} — {bal} руб., это ниже минимального "
                            f"остатка {thr} руб. Пополните счёт, чтобы услуги не были заблокированы.",
                            f"ЛС {account_id}: баланс {bal} руб. ниже {thr} руб. Пополните счёт."),
            "blocked": (f"Лицевой счёт {account_id}: услуги заблокированы",
                        f"Услуги по лицевому счёту {account_id} заблокированы: баланс {bal} руб., ниже "
                        "нуля. Пополните счёт, чтобы разблокировать услуги.",
                        f"ЛС {account_id}: услуги заблокированы, баланс {bal} руб."),
            "unblocked": (f"Лицевой счёт {account_id}: услуги разблокированы",
                          f"Услуги по лицевому счёту {account_id} разблокированы. Баланс {bal} руб.",
                          f"ЛС {account_id}: услуги разблокированы, баланс {bal} руб."),
            "credited": (f"Лицевой счёт {account_id}: средства зачислены",
                         f"На лицевой счёт {account_id} зачислено {amount} руб. Баланс {bal} руб.",
                         f"ЛС {account_id}: зачислено {amount} руб., баланс {bal} руб."),
        }
    if event not in texts:
        raise ValueError(f"unknown notification event {event!r} (expected one of {', '.join(EVENTS)})")
    return texts[event]


# --------------------------------------------------------------------------- delivery (job body)
def deliver(account_id: int, event: str, data: dict, key: str,
            call: Callable[[Callable], Any]) -> dict:
    """Queue the e-mail and SMS of one event for the account's configured addresses.

    Runs in a worker (``call`` = ``jobs.context.call_store``). Returns what was queued; a block
    that is off (or has no addresses) sends nothing. The e-mail carries the critical-balance
    invoice when configured (rendered here, stored as a document of the account).
    """
    from jobs.mail import send_mail
    from jobs.sms import SmsError, send_sms

    cfg_all = call(lambda st: get_settings(st.db, account_id))
    cfg = cfg_all[BLOCK_OF_EVENT[event]]
    out: dict[str, Any] = {"event": event, "emails": [], "phones": [], "mail_job": None, "sms_jobs": [],
                           "skipped": None, "invoice": None}
    if not cfg.get("enabled") or not (cfg.get("emails") or cfg.get("phones")):
        out["skipped"] = "disabled"
        return out
    lang = cfg_all.get("language") if cfg_all.get("language") in ("ru", "en") else "ru"
    subject, text, sms_text = compose(event, account_id, data, lang)
    attachments = []
    if event == "low_balance" and cfg.get("attach_invoice") and cfg.get("emails"):
        from reports.common import DocumentError

        try:
            attachments.append(_invoice_attachment(account_id, int(cfg.get("invoice_amount") or DEFAULT_INVOICE),
                                                   key, call, out))
        except DocumentError as exc:  # no supplier requisites yet: the notice goes without the invoice
            import logging

            logging.getLogger("pult.billing").error("low-balance notice of account %s without its invoice: %s",
                                                    account_id, exc.message_en)
            out["invoice_error"] = exc.message_en
    if cfg.get("emails"):
        out["emails"] = list(cfg["emails"])
        out["mail_job"] = send_mail(", ".join(cfg["emails"]), subject, text, attachments=attachments,
                                    idempotency_key=f"{key}:mail")
    for phone in cfg.get("phones") or []:
        try:
            out["sms_jobs"].append(send_sms(phone, sms_text, idempotency_key=f"{key}:sms:{phone}"))
            out["phones"].append(phone)
        except SmsError as exc:  # not configured / refused number: logged, the e-mail still goes
            out.setdefault("sms_errors", {})[phone] = str(exc)
    call(lambda st: audit(st.db, Scope.account(account_id), actor=SYSTEM, section="finance",
                          operation="notify", object={"type": "notification", "id": event, "name": subject},
                          before=None, after={k: out[k] for k in ("emails", "phones", "invoice")} |
                          {"key": key, "sms_errors": out.get("sms_errors")}))
    return out


def _invoice_attachment(account_id: int, amount: int, key: str, call, out: dict):
    from jobs.billing.documents import create_document, get_document, render_document
    from jobs.mail import Attachment

    doc = call(lambda st: create_document(st.db, account_id, "invoice", {"amount": amount, "with_vat": True},
                                          actor=SYSTEM, key=f"{key}:invoice"))
    result = render_document(account_id, doc["_id"], call)
    if result.get("status") != "ready":
        raise RuntimeError(f"the invoice for the critical-balance notice failed: {result.get('error')}")
    fresh = call(lambda st: get_document(st.db, account_id, doc["_id"]))
    out["invoice"] = {"id": doc["_id"], "number": doc.get("number")}
    return Attachment.from_media(account_id, result["file_id"], fresh["filename"], "application/pdf")


__all__ = ["EVENTS", "BLOCKS", "LOW_BALANCE_EVERY", "DEFAULT_THRESHOLD", "DEFAULT_INVOICE", "defaults",
           "get_settings", "save_settings", "claim_low_balance", "low_balance_threshold", "compose", "deliver"]
