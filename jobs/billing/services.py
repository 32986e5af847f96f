"""Billing services over the store: accounts of PBXs, rating stored call records, payments,
blocked/unblocked transitions and the monthly close.

These are coroutines over the *async* database (``store.db``): the web handlers await them, and
the Celery tasks in :mod:`jobs.billing.tasks` run them on the store's loop through
:func:`jobs.context.call_store`. Every step is idempotent (ledger keys, ``$exists`` guards,
unique document keys), so a retried job converges to the same state.

Call records and the PBX's point of view
----------------------------------------
A stored record is one call: the channel that started it (its ``direction`` is FreeSWITCH's,
``inbound`` = into FreeSWITCH) with the legs the switch originated from it in ``legs`` (see
``storage.repos.calls``). :func:`call_to_rate` turns a channel into the PBX's direction for rating:

* an explicit ``billing_direction`` on the record (or ``vars.pult_direction``) wins;
* a leg FreeSWITCH originated (``outbound``) to an external number — a gateway channel, or a
  destination of 10+ digits / ``+…`` / a service number that is not an extension of the PBX —
  is an **outbound** call to that number (``vars.pult_destination_number`` or ``callee``);
* a channel the dialplan handed to Pult says where it came from (``vars.pult_source``): a PBX
  phone (or Pult's own loopback) → **internal**, a PBX number or a customer's trunk → **inbound**;
* a leg into the tenant's own trunk is **outbound** and not charged (zone ``trunk``);
* a leg that came in from a gateway or from an external caller is **inbound**;
* anything else (phone-to-phone legs, the A-leg of an employee's outgoing call) is **internal**.

A call is rated once all of it is known: the legs its channel was bridged to (``bridge_uuid`` /
``last_bridge_to``) must be in ``legs`` — their records may arrive after the call's (a JSON CDR
the switch retries, an event behind a reconnect) — or :data:`LEG_WAIT` must have passed (then it is
rated with what is there). The call's channel is rated as above (ledger key ``call:<uuid>``, as for
every call); of its legs only those that leave the PBX are charged, each on its own (ledger key
``call:<uuid>/<leg uuid>``, so a retry never charges twice): a leg through the platform gateways is
an outbound call to its number, a leg into the tenant's own trunk is rated zone ``trunk`` at no
cost (``jobs.billing.rating``); legs to the PBX's phones are part of the call and cost nothing more.
The record's ``rated`` is the rating of its outbound leg that talked longest (else of its
channel) with ``cost`` the call's total and ``parts`` each charged piece.

The rating is written onto the record as ``rated: {zone, number, prefix, country,
destination_name, rated_seconds, free_seconds, price_per_minute, cost, direction, tariff,
account_id, at}``; a record that cannot be rated (no account, no tariff, an unpriced number) gets
``rating_error: {message, at}`` instead, so the sweeper does not retry it forever and the
operator can find it.
"""
from __future__ import annotations

import logging
import re
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from pymongo.errors import DuplicateKeyError

from esl_control.model import vocabulary as vocab
from jobs.billing import ledger
from jobs.billing.rating import (SERVICES, service_title, CallToRate, RatingError, Subscription, Tariff,
                                 monthly_fees)
from pult import clock
from storage.repos.audit import audit
from storage.repos.base import Scope
from storage.repos.billing import BillingPeriods, Tariffs
from storage.repos.calls import CallRecords
from storage.repos.tenants import Accounts, Pbxes

log = logging.getLogger("pult.billing")

SYSTEM = {"kind": "system", "login": None, "name": "System", "ip": None}
DEFAULT_TZ = "Europe/Moscow"
DEFAULT_TARIFF = "default"      # the tariff of PBXs that name none (platform data, ``tariffs``)
_EXTERNAL = re.compile(r"^\+?\d{10,15}$")


def _aware(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


# --------------------------------------------------------------------------- accounts and PBXs
async def pbx_doc(db, pbx_id: int) -> dict | None:
    if isinstance(pbx_id, bool) or not isinstance(pbx_id, int) or pbx_id <= 0:
        return None
    return await Pbxes(db, Scope.pbx(pbx_id)).find_one({})


async def account_of_pbx(db, pbx_id: int | None) -> int | None:
    """The account a PBX belongs to (None for an unknown PBX or one without an account)."""
    pbx = await pbx_doc(db, pbx_id) if pbx_id else None
    acc = (pbx or {}).get("account_id")
    return acc if isinstance(acc, int) and acc > 0 else None


async def account_pbxes(db, account_id: int) -> list[dict]:
    return await Pbxes(db, Scope.account(account_id)).find({}, sort=[("pbx_id", 1)])


async def account_doc(db, account_id: int) -> dict | None:
    return await Accounts(db, Scope.account(account_id)).find_one({})


async def account_tz(db, account_id: int, pbxes: list[dict] | None = None) -> ZoneInfo:
    """The account's time zone: its first PBX's, else Moscow (periods and the 1st-of-month rule)."""
    pbxes = pbxes if pbxes is not None else await account_pbxes(db, account_id)
    for p in pbxes:
        try:
            return ZoneInfo(p.get("time_zone") or DEFAULT_TZ)
        except (KeyError, ValueError):
            continue
    return ZoneInfo(DEFAULT_TZ)


def period_bounds(since: date, until: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """``[since 00:00, until+1 00:00)`` local time of ``tz``, as UTC datetimes."""
    start = datetime.combine(since, time.min, tzinfo=tz).astimezone(timezone.utc)
    end = datetime.combine(until + timedelta(days=1), time.min, tzinfo=tz).astimezone(timezone.utc)
    return start, end


async def tariff_for_pbx(db, pbx: dict) -> Tariff | None:
    """The PBX's tariff: ``pbx.tariff``, else the platform default (platform setting
    ``default_tariff``), else the tariff ``default``; None when none of them exists."""
    from jobs.billing.tariffs import default_tariff_id

    repo = Tariffs(db, Scope.platform())
    for tid in dict.fromkeys((pbx.get("tariff"), await default_tariff_id(db), DEFAULT_TARIFF)):
        if tid:
            doc = await repo.get({"_id": tid})
            if doc is not None:
                return Tariff.from_dict(doc)
    return None


# --------------------------------------------------------------------------- rating
def _is_external(number: str | None) -> bool:
    digits = re.sub(r"[\s\-()]", "", str(number or ""))
    return bool(_EXTERNAL.match(digits))


#: how long the rating of a call waits for the record of a leg it was bridged to
LEG_WAIT = timedelta(minutes=10)


def via_trunk(leg: dict) -> bool:
    """A leg into one of the tenant's trunks (the engine names the trunk on the leg; a gateway
    channel of a trunk's gateway says it too)."""
    variables = leg.get("vars") or {}
    return bool(variables.get(vocab.LEG_TRUNK)) or f"/gateway/{vocab.GATEWAY_TRUNK_PREFIX}" in str(leg.get("channel") or "")


def call_to_rate(rec: dict) -> CallToRate:
    """The PBX-side view of a stored channel (see the module docstring)."""
    variables = rec.get("vars") or {}
    started = _aware(rec.get("start") or rec.get("answer") or rec.get("end"))
    billsec = int(rec.get("billsec") or 0)
    callee = variables.get(vocab.DESTINATION_NUMBER) or rec.get("callee") or ""
    explicit = rec.get("billing_direction") or variables.get(vocab.DIRECTION)
    if explicit in ("outbound", "inbound", "internal"):
        target = callee if explicit == "outbound" else (rec.get("callee") or "")
        return CallToRate(explicit, str(target), billsec, started)
    channel = str(rec.get("channel") or "")
    via_gateway = "/gateway/" in channel or "/external/" in channel
    fs_dir = rec.get("direction")
    source = variables.get(vocab.SOURCE)  # what the dialplan said of a channel it handed to Pult
    if fs_dir == "inbound" and source in (vocab.SOURCE_SIP_USER, vocab.SOURCE_INTERNAL):
        return CallToRate("internal", str(callee), billsec, started)
    if fs_dir == "inbound" and source in (vocab.SOURCE_NUMBER, vocab.SOURCE_TRUNK):
        return CallToRate("inbound", str(rec.get("callee") or ""), billsec, started)
    if fs_dir == "outbound" and via_trunk(rec):
        return CallToRate("outbound", str(callee), billsec, started, via_trunk=True)
    if fs_dir == "outbound" and (via_gateway or _is_external(callee)):
        return CallToRate("outbound", str(callee), billsec, started)
    if fs_dir == "inbound" and (via_gateway or _is_external(rec.get("caller"))):
        return CallToRate("inbound", str(rec.get("callee") or ""), billsec, started)
    return CallToRate("internal", str(callee), billsec, started)


async def _mark_error(db, uuid: str, message: str) -> None:
    await CallRecords(db, Scope.platform()).update_one(
        {"uuid": uuid, "rated": {"$exists": False}},
        {"$set": {"rating_error": {"message": message, "at": clock.now()}},
         "$unset": {"rating_pending": ""}})


async def rate_record(db, uuid: str) -> dict:
    """Rate one stored call record and charge its account (idempotent on the uuid).

    Returns ``{"uuid", "status": rated|already|error|missing, "cost", "transition",
    "account_id", "balance"}``. The ledger posting is keyed ``call:<uuid>``, so a retry never
    charges twice; the rating is then written onto the record.
    """
    calls = CallRecords(db, Scope.platform())
    rec = await calls.find_one({"uuid": uuid})
    if rec is None:
        return {"uuid": uuid, "status": "missing"}
    if rec.get("rated") is not None:
        return {"uuid": uuid, "status": "already", "cost": rec["rated"].get("cost", 0),
                "account_id": rec["rated"].get("account_id"), "transition": None}
    if rec.get("stored_at") is None or (_legs_missing(rec) and _aware(rec["stored_at"]) > clock.now() - LEG_WAIT):
        # only a leg of the call so far, or a leg it was bridged to is not stored yet: the leg's
        # arrival (or the sweeper) rates it
        return {"uuid": uuid, "status": "waiting"}
    pbx = await pbx_doc(db, rec.get("pbx_id")) if rec.get("pbx_id") else None
    account_id = (pbx or {}).get("account_id")
    if not pbx or not isinstance(account_id, int):
        await _mark_error(db, uuid, "the call's PBX has no account")
        return {"uuid": uuid, "status": "error", "error": "no account"}
    tariff = await tariff_for_pbx(db, pbx)
    if tariff is None:
        await _mark_error(db, uuid, "no tariff for the PBX and no platform default tariff")
        return {"uuid": uuid, "status": "error", "error": "no tariff"}
    pieces: list[tuple[str | None, CallToRate]] = [(None, call_to_rate(rec))]
    for leg in rec.get("legs") or ():
        part = call_to_rate({**leg, "pbx_id": rec.get("pbx_id")})
        if part.direction == "outbound" and leg.get("uuid"):
            pieces.append((leg["uuid"], part))
    parts, results, charged = [], [], False
    try:
        for leg_uuid, call in pieces:
            key_uuid = uuid if leg_uuid is None else f"{uuid}/{leg_uuid}"
            rated, result = await ledger.rate_and_charge_call(db, account_id, key_uuid, call, tariff)
            parts.append((leg_uuid, call, rated))
            if result is not None:
                results.append(result)
                charged = charged or (not result.duplicate and bool(rated.cost))
    except RatingError as exc:
        await _mark_error(db, uuid, str(exc))
        return {"uuid": uuid, "status": "error", "error": str(exc)}
    legs = parts[1:]  # the outbound legs: the one that talked longest says what the call was
    leg_uuid, call, rated = max(legs, key=lambda p: p[1].billsec) if legs else parts[0]
    total = sum(p[2].cost for p in parts)
    doc = {f: getattr(rated, f) for f in rated.__slots__}
    doc.update(cost=total, direction=call.direction, tariff=tariff.id, account_id=account_id, at=clock.now())
    if leg_uuid is not None:
        doc["leg"] = leg_uuid
    if len(parts) > 1:
        doc["parts"] = [{"leg": p[0], "direction": p[1].direction, "zone": p[2].zone, "number": p[2].number,
                         "rated_seconds": p[2].rated_seconds, "free_seconds": p[2].free_seconds,
                         "cost": p[2].cost} for p in parts]
    await calls.update_one({"uuid": uuid, "rated": {"$exists": False}},
                           {"$set": {"rated": doc}, "$unset": {"rating_error": "", "rating_pending": ""}})
    last = results[-1] if results else None
    transition = next((r.transition for r in reversed(results) if r.transition), None)
    balance = last.balance_after if last is not None else None
    if transition:
        await apply_transition(db, account_id, transition, balance)
    return {"uuid": uuid, "status": "rated", "cost": total, "zone": rated.zone,
            "transition": transition, "account_id": account_id, "balance": balance,
            "seq": last.entry.get("seq") if last is not None else None,
            "charged": charged}


def _legs_missing(rec: dict) -> bool:
    """Whether a leg the call's channel was bridged to has no record in ``legs`` yet."""
    variables = rec.get("vars") or {}
    known = {leg.get("uuid") for leg in rec.get("legs") or ()}
    bridged = {variables.get("bridge_uuid"), variables.get("last_bridge_to")} - {None, ""}
    return bool(bridged - known)


async def unrated_uuids(db, older_than: timedelta = timedelta(seconds=30), limit: int = 500) -> list[str]:
    """Records stored more than ``older_than`` ago that are neither rated nor marked in error."""
    cutoff = clock.now() - older_than
    docs = await CallRecords(db, Scope.platform()).find(
        {"rating_pending": True, "stored_at": {"$lt": cutoff}},
        projection={"uuid": 1}, sort=[("stored_at", 1)], limit=limit)
    return [d["uuid"] for d in docs]


# --------------------------------------------------------------------------- blocking
async def apply_transition(db, account_id: int, transition: str, balance: int | None) -> list[int]:
    """Record a blocked/unblocked transition on every PBX of the account and log it as "System".

    The block itself is derived: ``storage.repos.tenants.pbx_state`` (what the call side and the
    cabinet read) reports reason ``balance`` while the ledger balance is below zero. Here each
    PBX gets ``balance_block: {blocked, at, balance}`` (when and at what balance it happened, for
    the cabinet and the operator) and an action-log entry. Returns the PBX ids.
    """
    blocked = transition == "blocked"
    now = clock.now()
    ids = []
    for pbx in await account_pbxes(db, account_id):
        pid = pbx["pbx_id"]
        ids.append(pid)
        before = (pbx.get("balance_block") or {}).get("blocked", not blocked)
        await Pbxes(db, Scope.platform()).update_one(
            {"pbx_id": pid}, {"$set": {"balance_block": {"blocked": blocked, "at": now, "balance": balance}}})
        await audit(db, Scope.pbx(pid), actor=SYSTEM, section="finance",
                    operation="block" if blocked else "unblock",
                    object={"type": "pbx", "id": pid, "name": pbx.get("name")},
                    before={"blocked": bool(before)}, after={"blocked": blocked, "balance": balance,
                                                             "reason": "balance"})
    log.info("account %s %s at balance %s (PBXs %s)", account_id, transition, balance, ids)
    return ids


# --------------------------------------------------------------------------- payments
async def record_payment(db, account_id: int, amount: int, *, key: str, source: str,
                         comment: str = "", actor: dict | None = None) -> ledger.PostResult:
    """Post a payment, log it, apply an unblock. Notifications are the caller's (tasks)."""
    result = await ledger.record_payment(db, account_id, amount, key=key, source=source,
                                         comment=comment, ref={"source": source})
    if not result.duplicate:
        await audit(db, Scope.account(account_id), actor=actor or SYSTEM, section="finance",
                    operation="payment", object={"type": "payment", "id": result.entry["key"],
                                                 "name": comment or None},
                    before={"balance": result.balance_before},
                    after={"balance": result.balance_after, "amount": amount, "source": source})
    if result.transition:
        await apply_transition(db, account_id, result.transition, result.balance_after)
    return result


async def week_spend(db, account_id: int, now: datetime | None = None) -> int:
    """Kopecks charged in the last 7 days (the automatic critical-balance threshold)."""
    now = now or clock.now()
    rows = await ledger.LedgerEntries(db, Scope.account(account_id)).aggregate([
        {"$match": {"applied": True, "created_at": {"$gte": now - timedelta(days=7)}, "amount": {"$lt": 0}}},
        {"$group": {"_id": None, "total": {"$sum": "$amount"}}}])
    return -int(rows[0]["total"]) if rows else 0


ADVICE_WEEK_FROM_DAY = 9     # inventory A §2.4: a new client sees the 7-day line from day 9 ...
ADVICE_MONTH_FROM_DAY = 32   # ... and the 30-day line from day 32


async def spend_between(db, account_id: int, start: datetime, end: datetime) -> int:
    """Kopecks charged (calls, fees, services) in ``[start, end)``, as a positive number."""
    rows = await ledger.LedgerEntries(db, Scope.account(account_id)).aggregate([
        {"$match": {"applied": True, "created_at": {"$gte": start, "$lt": end}, "amount": {"$lt": 0}}},
        {"$group": {"_id": None, "total": {"$sum": "$amount"}}}])
    return -int(rows[0]["total"]) if rows else 0


async def spend_advice(db, account_id: int, now: datetime | None = None) -> dict:
    """The «How much to deposit?» block of the top-up page (inventory A §2.4).

    ``{"day", "week", "month"}``: ``day`` is the account's day since registration (the day of
    registration is day 1); ``week`` / ``month`` are the kopecks spent over the last 7 / 30
    complete calendar days before today (account time zone), or None while the account is too
    new for that line (the 7-day line from day :data:`ADVICE_WEEK_FROM_DAY`, the 30-day line
    from day :data:`ADVICE_MONTH_FROM_DAY`; before day 9 there is no block at all).
    """
    now = _aware(now) or clock.now()
    tz = await account_tz(db, account_id)
    acc = await account_doc(db, account_id) or {}
    registered = (_aware(acc.get("created_at")) or now).astimezone(tz).date()
    today = now.astimezone(tz).date()
    day = (today - registered).days + 1
    out: dict[str, Any] = {"day": day, "week": None, "month": None}
    for key, days, from_day in (("week", 7, ADVICE_WEEK_FROM_DAY), ("month", 30, ADVICE_MONTH_FROM_DAY)):
        if day >= from_day:
            start, end = period_bounds(today - timedelta(days=days), today - timedelta(days=1), tz)
            out[key] = await spend_between(db, account_id, start, end)
    return out


# --------------------------------------------------------------------------- monthly fees
def _as_date(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


async def subscriptions(db, account_id: int) -> list[Subscription]:
    """What the account pays monthly: each PBX's edition, its numbers and its paid services.

    * edition: ``editions.monthly_fee`` (software licence, without VAT);
    * numbers: ``numbers.monthly_fee`` of each number of the PBX (kopecks; absent = free);
    * services: ``pbx.services`` — ``[{key, monthly_price, quantity, active_from, active_until}]``
      with keys of :data:`jobs.billing.rating.SERVICES` (set in the operator console; a service
      connected mid-month is charged for the rest of that month when it is connected, see
      ``web.operator.services._charge_new_services``).
    """
    from storage.repos.telephony import Numbers
    from storage.repos.tenants import get_edition

    subs: list[Subscription] = []
    for pbx in await account_pbxes(db, account_id):
        if pbx.get("status") in ("deleted", "archived", "demo"):
            continue
        pid = pbx["pbx_id"]
        edition = await get_edition(db, pbx.get("edition"))
        if edition and int(edition.get("monthly_fee") or 0) > 0:
            subs.append(Subscription(f"{pid}:edition", f"{service_title('edition')} «{edition.get('name')}», ВАТС {pid}",
                                     int(edition["monthly_fee"]), vat=SERVICES["edition"].vat))
        for num in await Numbers(db, Scope.pbx(pid)).find({}):
            fee = int(num.get("monthly_fee") or 0)
            if fee > 0:
                subs.append(Subscription(f"{pid}:number:{num.get('number')}",
                                         f"{service_title('number')} {num.get('number')}", fee,
                                         active_from=_as_date(num.get("created_at"))))
        for svc in pbx.get("services") or []:
            key = svc.get("key")
            if key not in SERVICES or int(svc.get("monthly_price") or 0) <= 0:
                continue
            subs.append(Subscription(f"{pid}:service:{key}", f"{service_title(key)}, ВАТС {pid}",
                                     int(svc["monthly_price"]), int(svc.get("quantity") or 1),
                                     vat=SERVICES[key].vat, active_from=_as_date(svc.get("active_from")),
                                     active_until=_as_date(svc.get("active_until"))))
    return subs


async def charge_month_fees(db, account_id: int, year: int, month: int) -> list[ledger.PostResult]:
    """Post the month's fees (keys ``fee:<YYYY-MM>:<item>``: once per month, whatever reruns)."""
    fees = monthly_fees(await subscriptions(db, account_id), year, month)
    results = await ledger.charge_fees(db, account_id, fees)
    for r in results:
        if r.transition:
            await apply_transition(db, account_id, r.transition, r.balance_after)
    return results


async def claim_period(db, period: str) -> bool:
    """Mark the monthly close of ``period`` as started; False if another run already did."""
    try:
        await BillingPeriods(db, Scope.platform()).insert({"_id": period, "state": "running",
                                                           "started_at": clock.now()})
        return True
    except DuplicateKeyError:
        doc = await BillingPeriods(db, Scope.platform()).get({"_id": period})
        return bool(doc and doc.get("state") != "done")


async def finish_period(db, period: str, accounts: int) -> None:
    await BillingPeriods(db, Scope.platform()).update(
        {"_id": period}, {"$set": {"state": "done", "finished_at": clock.now(), "accounts": accounts}})


async def all_account_ids(db) -> list[int]:
    docs = await Accounts(db, Scope.platform()).find({}, projection={"account_id": 1}, sort=[("account_id", 1)])
    return [d["account_id"] for d in docs if isinstance(d.get("account_id"), int)]


def previous_month(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


__all__ = ["SYSTEM", "call_to_rate", "rate_record", "unrated_uuids", "apply_transition",
           "record_payment", "week_spend", "spend_between", "spend_advice", "subscriptions", "charge_month_fees", "claim_period",
           "finish_period", "account_of_pbx", "account_pbxes", "account_doc", "account_tz",
           "period_bounds", "tariff_for_pbx", "all_account_ids", "previous_month"]
