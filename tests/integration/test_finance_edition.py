"""The tenant's edition change (inventory A §4.1.1, issue 5) through a real server: the account or
PBX administrator sees the editions offered with quotas, features and fees; an upgrade applies at
once and charges the fee difference for the rest of the month (once per PBX, month and edition);
a downgrade is free but refused while the PBX uses more than the target allows, every excess
listed (RU/EN); the agree box and a balance of zero or more are required; Accountants and
Employees may not change it, another tenant's PBX is 404; the Finance page shows it in RU and EN."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from jobs.billing import ledger
from jobs.billing.rating import prorate
from pult.money import format_rub
from storage.repos.audit import AuditLog
from storage.repos.base import Scope
from storage.repos.billing import LedgerEntries
from storage.repos.tenants import get_pbx
from storage.repos.users import create_tenant_user
from tests.integration.harness import cheap_hashes, operator_stack  # noqa: F401  (cheap_hashes: autouse)
from web.testing import WebClient

BASIC_FEE, BUSINESS_FEE = 99000, 249000  # the default editions' monthly fees, kopecks


@pytest.fixture
async def web(settings, store):
    async with operator_stack(settings, store) as stack:
        yield stack


async def account_with_pbx(op, edition: str, name: str = "Офис", account: int | None = None) -> tuple[int, int]:
    if account is None:
        r = await op.api("POST", "/api/v1/operator/accounts", json={
            "name": "ООО Ромашка", "email": f"boss{name.__hash__() & 0xffff}@romashka.ru", "send_link": False})
        assert r.status_code == 201, r.text
        account = r.json()["account_id"]
    r = await op.api("POST", "/api/v1/operator/pbxes", json={"account_id": account, "name": name, "edition": edition})
    assert r.status_code == 201, r.text
    return account, r.json()["pbx_id"]


async def close_this_month(db, pbx_id: int) -> str:
    """Mark this month's close (PBX time) as done, as the 1st-of-month beat would have."""
    pbx = await get_pbx(db, pbx_id)
    today = datetime.now(timezone.utc).astimezone(ZoneInfo(pbx.get("time_zone") or "Europe/Moscow")).date()
    period = f"{today.year:04d}-{today.month:02d}"
    await db["billing_periods"].update_one({"_id": period}, {"$set": {"state": "done"}}, upsert=True)
    return period



async def change_refused_for_funds(boss: WebClient, kind: str, target: str) -> None:
    """The account's balance is below zero: the finance page offers no change of the PBX's ``kind``
    (``edition`` or ``tariff``), and both the API and the page refuse a change to ``target``."""
    state = (await boss.get(f"/api/v1/finance/{kind}")).json()
    assert state["funds_sufficient"] is False and state["can_change"] is False
    page = (await boss.get("/finance")).text
    assert f'id="{kind}-funds"' in page and 'name="agree" value="1" disabled' in page
    r = await boss.api("POST", f"/api/v1/finance/{kind}", json={kind: target, "agree": True})
    assert r.status_code == 409 and r.json()["error"]["fields"] == {
        "agree": f"The account balance is below zero: top up the account before changing the {kind}."}
    r = await boss.post_form(f"/finance/{kind}", {kind: target, "agree": "1"})
    assert r.headers["location"] == f"/finance?{kind}_error=funds#{kind}"

async def test_upgrade_is_immediate_and_charges_the_rest_of_the_month_once(web):
    ctx, url, op = web
    db = ctx.store.db
    acc, pbx = await account_with_pbx(op, "basic")
    await ledger.record_payment(db, acc, 10_000_00, key="pp-1")
    await create_tenant_user(ctx.store, pbx, "boss", "tenant-pass-1", role="administrator", language="en", account_id=acc)
    async with WebClient(url) as boss:
        await boss.login(f"{pbx}/boss", "tenant-pass-1")
        state = (await boss.get("/api/v1/finance/edition")).json()
        assert state["current"]["id"] == "basic" and state["can_change"] is True
        offered = {e["id"]: e for e in state["editions"]}
        assert list(offered) == ["basic", "business", "corporate"]  # cheapest first
        assert offered["basic"]["current"] and offered["basic"]["quotas"]["employees"] == 10
        assert offered["business"]["monthly_fee"] == BUSINESS_FEE and offered["business"]["monthly_fee_text"] == "2\xa0490,00"
        assert offered["business"]["features"]["api"] is True and offered["basic"]["features"]["api"] is False
        assert offered["business"]["upgrade_charge"] == 0  # this month's close has not run: it charges in full

        period = await close_this_month(db, pbx)
        assert (await boss.get("/api/v1/finance/edition")).json()["editions"][1]["upgrade_charge"] > 0
        r = await boss.api("POST", "/api/v1/finance/edition", json={"edition": "business"})
        assert r.status_code == 422 and r.json()["error"]["fields"] == {
            "agree": "Tick «I agree with the conditions of the edition change»."}
        r = await boss.api("POST", "/api/v1/finance/edition", json={"edition": "business", "agree": True})
        assert r.status_code == 200, r.text
        assert r.json()["current"]["id"] == "business" and (await get_pbx(db, pbx))["edition"] == "business"
        key = f"fee:{period}:{pbx}:edition-upgrade:business"
        (entry,) = await LedgerEntries(db, Scope.account(acc)).find({"key": key})
        day = entry["created_at"].replace(tzinfo=timezone.utc).astimezone(ZoneInfo("Europe/Moscow")).date()
        expected, days, _ = prorate(BUSINESS_FEE - BASIC_FEE, day.year, day.month, active_from=day)
        assert days >= 1 and -entry["amount"] == expected == r.json()["charged"] and entry["kind"] == "fee"
        assert (await ledger.get_balance(db, acc))["balance"] == 10_000_00 - expected

        # a downgrade is not refunded; upgrading again this month is not charged twice
        r = await boss.api("POST", "/api/v1/finance/edition", json={"edition": "basic", "agree": True})
        assert r.status_code == 200 and r.json()["charged"] == 0
        r = await boss.api("POST", "/api/v1/finance/edition", json={"edition": "business", "agree": True})
        assert r.status_code == 200 and r.json()["charged"] == 0
        assert (await ledger.get_balance(db, acc))["balance"] == 10_000_00 - expected
        r = await boss.api("POST", "/api/v1/finance/edition", json={"edition": "business", "agree": True})
        assert r.status_code == 409 and r.json()["error"]["fields"] == {"edition": "This is already your edition."}
        r = await boss.api("POST", "/api/v1/finance/edition", json={"edition": "nope", "agree": True})
        assert r.json()["error"]["fields"] == {"edition": "This edition is not offered; choose one from the list."}

        # the page's form: post/redirect/get with the charge named
        r = await boss.post_form("/finance/edition", {"edition": "corporate", "agree": "1"})
        assert r.status_code == 302 and r.headers["location"] == "/finance?edition_done=1#edition"
        page = (await boss.get(r.headers["location"])).text
        corp = -(await LedgerEntries(db, Scope.account(acc)).get({"key": f"fee:{period}:{pbx}:edition-upgrade:corporate"}))["amount"]
        assert "The edition has been changed. The difference for the rest of the month" in page
        assert f"{format_rub(corp)} RUB, has been charged." in page

    log = await AuditLog(db, Scope.pbx(pbx)).find({"operation": "edition_change"}, sort=[("at", 1)])
    assert [(e["before"]["edition"], e["after"]["edition"], e["after"]["charged"]) for e in log] == [
        ("basic", "business", expected), ("business", "basic", 0), ("basic", "business", 0), ("business", "corporate", corp)]
    assert log[0]["actor"]["login"] == f"{pbx}/boss" and log[0]["section"] == "finance"


async def test_downgrade_refused_with_every_exceeded_quota_listed(web):
    ctx, url, op = web
    db = ctx.store.db
    acc, pbx = await account_with_pbx(op, "business")
    await create_tenant_user(ctx.store, pbx, "boss", "tenant-pass-1", role="administrator", language="en", account_id=acc)
    await db["employees"].insert_many([{"_id": f"e{i}", "pbx_id": pbx, "name": f"E{i}"} for i in range(14)])
    await db["numbers"].insert_many([{"_id": f"n{i}", "pbx_id": pbx, "number": f"7495100000{i}"} for i in range(3)])
    await db["conference_rooms"].insert_one({"_id": "c1", "pbx_id": pbx, "name": "Room", "seats": 5})
    async with WebClient(url) as boss:
        await boss.login(f"{pbx}/boss", "tenant-pass-1")
        basic = (await boss.get("/api/v1/finance/edition")).json()["editions"][0]
        assert basic["id"] == "basic" and len(basic["problems"]) == 4
        r = await boss.api("POST", "/api/v1/finance/edition", json={"edition": "basic", "agree": True})
        assert r.status_code == 409 and r.json()["error"]["code"] == "edition_downgrade"
        message = r.json()["error"]["message"]
        for line in (  # the edition named as the English cabinet names it
                     "The PBX uses more than edition «Basic» allows.",
                     "Edition «Basic» allows at most 10 employees, you have 14.",
                     "Edition «Basic» allows at most 2 numbers, you have 3.",
                     "Edition «Basic» allows at most 0 conference participants, a room of yours has 5.",
                     "Edition «Basic» has no conferences, you have 1 conference rooms."):
            assert line in message
        assert "groups" not in message and (await get_pbx(db, pbx))["edition"] == "business"

        await boss.api("PATCH", "/api/v1/me", json={"language": "ru"})
        r = await boss.api("POST", "/api/v1/finance/edition", json={"edition": "basic", "agree": True})
        assert "В версии «Базовая» сотрудников можно не больше 10, у вас 14." in r.json()["error"]["message"]
        assert "номеров можно не больше 2, у вас 3." in r.json()["error"]["fields"]["edition"]
        r = await boss.post_form("/finance/edition", {"edition": "basic", "agree": "1"})
        assert r.headers["location"] == "/finance?edition_error=downgrade&target=basic#edition"
        page = (await boss.get(r.headers["location"])).text
        assert 'id="edition-error"' in page and "сотрудников можно не больше 10, у вас 14." in page

        # the excess removed, the downgrade goes through (no refund, nothing charged)
        await db["employees"].delete_many({"_id": {"$in": [f"e{i}" for i in range(4)]}})
        await db["numbers"].delete_one({"_id": "n0"})
        await db["conference_rooms"].delete_one({"_id": "c1"})
        r = await boss.api("POST", "/api/v1/finance/edition", json={"edition": "basic", "agree": True})
        assert r.status_code == 200 and r.json()["current"]["id"] == "basic" and r.json()["charged"] == 0


async def test_refusals_roles_balance_and_other_tenants(web):
    ctx, url, op = web
    db = ctx.store.db
    acc, pbx = await account_with_pbx(op, "basic")
    _, sister = await account_with_pbx(op, "basic", name="Склад", account=acc)
    _, other = await account_with_pbx(op, "basic", name="Чужая")
    for login, role in (("boss", "administrator"), ("buh", "accountant"), ("emp", "employee")):
        await create_tenant_user(ctx.store, pbx, login, "tenant-pass-1", role=role, language="en", account_id=acc)
    await ledger.charge(db, acc, 1, key="svc:1", comment="one kopeck too many")
    async with WebClient(url) as emp:
        await emp.login(f"{pbx}/emp", "tenant-pass-1")
        assert (await emp.get("/api/v1/finance/edition")).status_code == 403
        assert (await emp.api("POST", "/api/v1/finance/edition", json={"edition": "business", "agree": True})).status_code == 403
    async with WebClient(url) as buh:
        await buh.login(f"{pbx}/buh", "tenant-pass-1")
        state = (await buh.get("/api/v1/finance/edition")).json()
        assert state["current"]["id"] == "basic" and state["may_change"] is False and state["can_change"] is False
        r = await buh.api("POST", "/api/v1/finance/edition", json={"edition": "business", "agree": True})
        assert r.status_code == 403
        assert r.json()["error"]["message"] == "Only the account administrator or the PBX administrator may change the edition."
    async with WebClient(url) as boss:
        await boss.login(f"{pbx}/boss", "tenant-pass-1")
        for target in (other, sister, 999999):  # another tenant's PBX; a PBX administrator is not the account's
            assert (await boss.get(f"/api/v1/finance/edition?pbx_id={target}")).status_code == 404
            r = await boss.api("POST", f"/api/v1/finance/edition?pbx_id={target}", json={"edition": "business", "agree": True})
            assert r.status_code == 404
        await change_refused_for_funds(boss, "edition", "business")
        r = await boss.post_form("/finance/edition", {"edition": "business"})
        assert r.headers["location"] == "/finance?edition_error=agree#edition"
        await ledger.record_payment(db, acc, 1, key="pp-1")  # back to 0,00: enough
        r = await boss.api("POST", "/api/v1/finance/edition", json={"edition": "business", "agree": True})
        assert r.status_code == 200 and r.json()["current"]["id"] == "business"
    assert [(await get_pbx(db, p))["edition"] for p in (pbx, sister, other)] == ["business", "basic", "basic"]


async def test_the_finance_page_shows_the_editions_in_english_and_russian(web):
    ctx, url, op = web
    acc, pbx = await account_with_pbx(op, "business")
    await create_tenant_user(ctx.store, pbx, "boss", "tenant-pass-1", role="administrator", language="en", account_id=acc)
    async with WebClient(url) as boss:
        await boss.login(f"{pbx}/boss", "tenant-pass-1")
        page = (await boss.get("/finance")).text
        assert "Бизнес" not in page  # the built-in edition's name in the cabinet's language
        for text in ("Product edition", 'id="edition-current">Business<', "— your edition", "2\xa0490,00 ₽ / month",
                     "A downgrade is not refunded", "I agree with the conditions of the edition change",
                     "Change the edition", 'value="corporate"', "Additional roles", "unlimited"):
            assert text in page, text
        await boss.api("PATCH", "/api/v1/me", json={"language": "ru"})
        page = (await boss.get("/finance")).text
        for text in ("Версия продукта", 'id="edition-current">Бизнес<', "— ваша версия", "₽ / мес.", "При переходе на версию дешевле деньги не возвращаются",
                     "Я согласен с условиями изменения версии продукта", "Изменить версию", "Сотрудники", "без ограничений"):
            assert text in page, text
