"""Top up (inventory A §2.4), the page the account panel's «Top up» opens: the «How much to
deposit?» block (spend over the last 7 and 30 days, shown from day 9 / day 32 of the account),
the company invoice and the individual's bank receipt (a PDF made by the documents job).
"""
from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

from pypdf import PdfReader

from jobs.billing import ledger
from pult import clock
from storage.repos.base import Scope
from storage.repos.tenants import Accounts
from tests.integration.test_finance_flows import (MSK, _ready, cheap_hashes, env, fin_settings, signed_in,  # noqa: F401
                                                  sms, wait_until)


async def _age_account(db, account_id, days):
    await Accounts(db, Scope.account(account_id)).update_one(
        {}, {"$set": {"created_at": datetime.now(timezone.utc) - timedelta(days=days)}})


async def test_how_much_to_deposit_appears_from_day_9_and_day_32(env):
    db, acc = env["db"], env["a"]
    now = datetime.now(timezone.utc)
    await ledger.record_payment(db, acc, 1_000_00, key="start")
    await ledger.charge(db, acc, 120_00, key="c-3d", at=now - timedelta(days=3))     # in the last 7 days
    await ledger.charge(db, acc, 45_50, key="c-20d", at=now - timedelta(days=20))    # in the last 30 only
    await ledger.charge(db, acc, 999_00, key="c-90d", at=now - timedelta(days=90))   # in neither
    async with signed_in(env["url"], f"{env['pa']}/buh") as c:
        r = (await c.get("/api/v1/finance/advice")).json()
        assert r["day"] == 1 and r["week"] is None and r["month"] is None
        page = await c.get("/finance/top-up")
        assert page.status_code == 200 and 'id="advice"' not in page.text
        assert 'data-kind="invoice"' in page.text and 'data-kind="receipt"' in page.text

        await _age_account(db, acc, 8)  # registered 8 days ago: today is day 9
        r = (await c.get("/api/v1/finance/advice")).json()
        assert r == {"account_id": acc, "day": 9, "week": 120_00, "month": None}
        page = (await c.get("/finance/top-up")).text
        assert 'id="advice-week"' in page and "120,00" in page and 'id="advice-month"' not in page

        await _age_account(db, acc, 31)  # day 32: both lines
        r = (await c.get("/api/v1/finance/advice")).json()
        assert r["week"] == 120_00 and r["month"] == 120_00 + 45_50
        assert 'id="advice-month"' in (await c.get("/finance/top-up")).text
    async with signed_in(env["url"], f"{env['pa']}/emp") as emp:
        assert (await emp.get("/finance/top-up")).status_code == 403
        assert (await emp.get("/api/v1/finance/advice")).status_code == 403


async def test_a_person_gets_a_bank_receipt_for_the_account(env):
    today = clock.today(MSK)  # the account's date: "the past" is judged there
    async with signed_in(env["url"], f"{env['pa']}/buh") as c:
        r = await c.api("POST", "/api/v1/finance/documents", json={
            "kind": "receipt", "payer_name": "  ", "payer_address": "", "amount": "12,345",
            "pay_date": (today - timedelta(days=1)).strftime("%d.%m.%Y")})
        assert r.status_code == 422
        assert r.json()["error"]["fields"] == {
            "payer_name": "Enter the payer's full name.", "payer_address": "Enter the payer's address.",
            "amount": "At most two digits after the decimal point (kopecks).",
            "pay_date": "The payment date cannot be in the past."}
        r = await c.api("POST", "/api/v1/finance/documents", json={
            "kind": "receipt", "payer_name": "Иванов Иван", "payer_address": "г. Казань", "amount": "100",
            "pay_date": (today + timedelta(days=400)).strftime("%d.%m.%Y")})
        assert r.json()["error"]["fields"] == {"pay_date": "The payment date is too far ahead: at most a year from today."}

        r = await c.api("POST", "/api/v1/finance/documents", json={
            "kind": "receipt", "payer_name": "Иванов  Иван Иванович", "payer_address": "г. Казань, ул. Баумана, д. 1",
            "amount": "1 500,50", "pay_date": today.strftime("%d.%m.%Y")})
        assert r.status_code == 202, r.text
        doc = r.json()
        assert doc["kind"] == "receipt" and doc["kind_title"] == "Payment receipt"
        doc = await wait_until(lambda: _ready(c, doc["id"]), what="the receipt")
        pdf = (await c.get(doc["download_url"])).content
    text = " ".join("\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).replace("\xa0", " ").split())
    assert "Иванов Иван Иванович" in text and "г. Казань, ул. Баумана, д. 1" in text
    assert "1 500,50" in text and "Одна тысяча пятьсот рублей 50 копеек" in text
    assert f"Оплата услуг связи по лицевому счёту № {env['a']}" in text and today.strftime("%d.%m.%Y") in text
    assert text.count("Квитанция") >= 2 and "Извещение" in text
