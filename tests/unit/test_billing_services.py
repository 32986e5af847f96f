"""Billing services without a worker: the PBX-side direction of stored legs, notification texts,
and rating a stored record into the ledger (idempotent, blocked transition logged as System)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from jobs.billing import ledger, notify, services
from jobs.billing.rating import Destination, Tariff
from storage.repos.audit import AuditLog
from storage.repos.base import Scope
from storage.repos.billing import Tariffs
from storage.repos.calls import CallRecords, save_call_record
from storage.repos.tenants import create_account, create_pbx, load_pbx_state

T0 = datetime(2025, 11, 3, 10, tzinfo=timezone.utc)


def leg(**kw):
    return {"uuid": "u", "start": T0, "billsec": 30, **kw}


def test_direction_of_stored_legs():
    c = services.call_to_rate(leg(direction="outbound", caller="1001", callee="89161234567"))
    assert (c.direction, c.destination, c.billsec) == ("outbound", "89161234567", 30)
    c = services.call_to_rate(leg(direction="outbound", callee="112", channel="sofia/gateway/gw/112"))
    assert c.direction == "outbound"
    assert services.call_to_rate(leg(direction="outbound", callee="1002")).direction == "internal"
    assert services.call_to_rate(leg(direction="inbound", caller="1001", callee="79161234567")).direction == "internal"
    assert services.call_to_rate(leg(direction="inbound", caller="+74951234567", callee="74950001122")).direction == "inbound"
    c = services.call_to_rate(leg(direction="inbound", caller="1001", callee="9",
                                  vars={"pult_direction": "outbound", "pult_destination_number": "74951112233"}))
    assert (c.direction, c.destination) == ("outbound", "74951112233")


def test_notice_texts_in_both_languages():
    subject, text, sms = notify.compose("credited", 100001, {"amount": 110050, "balance": -5}, "ru")
    assert subject == "Лицевой счёт 100001: средства зачислены"
    assert "зачислено 1 100,50 руб." in text and "Баланс -0,05 руб." in text and len(sms) <= 160
    subject, text, _ = notify.compose("low_balance", 7, {"balance": 5000, "threshold": 10000}, "en")
    assert subject == "Account 7: funds are running out" and "below the critical balance of 100,00 RUB" in text


async def test_rating_a_stored_record_charges_once_and_blocks(store):
    db = store.db
    acc = (await create_account(db, "ООО «Ромашка»", "a@x.example"))["account_id"]
    pbx = (await create_pbx(db, acc, "Офис", "pult.local"))["pbx_id"]
    tariff = Tariff("default", "Базовый", (Destination("7", "long_distance"), Destination("79", "mobile")),
                    {"long_distance": 300, "mobile": 200})
    await Tariffs(db, Scope.platform()).save(tariff.to_dict())
    await save_call_record(db, {"uuid": "c1", "pbx_id": pbx, "direction": "outbound", "callee": "+79161234567",
                                "caller": "1001", "start": T0, "billsec": 61})
    first = await services.rate_record(db, "c1")
    assert first["status"] == "rated" and first["cost"] == 400 and first["transition"] == "blocked"
    again = await services.rate_record(db, "c1")
    assert again["status"] == "already" and (await ledger.get_balance(db, acc))["balance"] == -400
    rec = await CallRecords(db, Scope.platform()).find_one({"uuid": "c1"})
    assert rec["rated"]["zone"] == "mobile" and rec["rated"]["rated_seconds"] == 120
    assert (await load_pbx_state(db, pbx, T0 + timedelta(days=1))).reasons == ("balance",)
    (entry,) = await AuditLog(db, Scope.pbx(pbx)).find({"section": "finance"})
    assert entry["actor"]["kind"] == "system" and entry["operation"] == "block"
    # an unpriced destination is marked, not silently free, and the sweeper skips it
    await save_call_record(db, {"uuid": "c2", "pbx_id": pbx, "direction": "outbound", "callee": "+4930123456",
                                "start": T0, "billsec": 10, "stored_at": T0})
    assert (await services.rate_record(db, "c2"))["status"] == "error"
    assert "c2" not in await services.unrated_uuids(db, timedelta(0))
    paid = await services.record_payment(db, acc, 1000, key="pp-1", source="operator")
    assert paid.transition == "unblocked" and paid.balance_after == 600
