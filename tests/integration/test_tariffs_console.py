"""Tariffs and the operator's requisites through a real server: the supplier's requisites and the
VAT rate as validated platform settings (RU/EN field messages) printed on the invoice; tariff
tables created and edited through the API and the console pages (prices in roubles with kopecks,
per-field and per-line messages), the platform default tariff, a tariff assigned to a PBX and
used by rating; the tenant's tariff change — only the account/PBX administrator, with consent,
once per calendar month (RU/EN message with the next allowed day), effective immediately and
audited."""
from __future__ import annotations

import asyncio
import io
from datetime import date, datetime, timedelta, timezone

import pytest
from pypdf import PdfReader

from jobs.billing import documents as docs
from jobs.billing import services as billing
from jobs.billing.tariffs import DEFAULT_ID, change_pbx_tariff, seed_default_tariff
from jobs.billing.rating import TariffChangeError
from storage.repos.audit import AuditLog
from storage.repos.base import Scope
from storage.repos.calls import save_call_record
from storage.repos.tenants import get_pbx
from storage.repos.users import create_tenant_user
from tests.integration.harness import cheap_hashes, operator_stack  # noqa: F401  (cheap_hashes: autouse)
from tests.integration.test_finance_edition import change_refused_for_funds
from web.testing import WebClient

SUPPLIER = {"name": "ООО «Пульт Телеком»", "inn": "7707083893", "kpp": "773601001",
            "address": "г. Москва, ул. Вавилова, д. 19", "bank": "ПАО Сбербанк", "bik": "044525225",
            "account": "40702810900000000001", "corr_account": "30101810400000000225",
            "head": "Иванов И. И.", "accountant": "Петрова А. А."}
BUSINESS = {
    "code": "business", "name": "Бизнес", "step": "1/1", "free_minutes": 100, "free_zones": ["local", "mobile"],
    "prices": {"local": "0,90", "mobile": "1,90", "long_distance": "2,50", "international": "20",
               "international:DE": "9,90"},
    "destinations": [{"prefix": "7495", "zone": "local", "name": "Москва"},
                     {"prefix": "79", "zone": "mobile"}, {"prefix": "7", "zone": "long_distance"},
                     {"prefix": "49", "zone": "international", "country": "de", "name": "Германия"},
                     {"prefix": "7800", "zone": "free"}],
}


@pytest.fixture
async def web(settings, store):
    async with operator_stack(settings, store) as stack:
        yield stack


async def account_with_pbx(op) -> tuple[int, int]:
    r = await op.api("POST", "/api/v1/operator/accounts", json={
        "name": "ООО Ромашка", "email": "boss@romashka.ru", "requisites": {"inn": "7701234567"}, "send_link": False})
    assert r.status_code == 201, r.text
    acc = r.json()["account_id"]
    r = await op.api("POST", "/api/v1/operator/pbxes", json={"account_id": acc, "name": "Офис", "edition": "basic"})
    assert r.status_code == 201, r.text
    return acc, r.json()["pbx_id"]


def pdf_text(data: bytes) -> str:
    return " ".join("\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages).replace("\xa0", " ").split())


async def render(store, account_id, doc_id) -> bytes:
    """Run the render job's body in a thread, its store calls on this loop (as a worker does)."""
    loop = asyncio.get_running_loop()

    def call(fn):
        return asyncio.run_coroutine_threadsafe(fn(store), loop).result(60)

    res = await loop.run_in_executor(None, lambda: docs.render_document(account_id, doc_id, call))
    assert res["status"] == "ready", res
    return b"".join([chunk async for chunk in store.media.stream(account_id, res["file_id"])])


async def test_supplier_requisites_and_vat_are_validated_settings_printed_on_the_invoice(web):
    ctx, url, op = web
    bad = {"inn": "7712345678", "kpp": "7736", "bik": "04452522", "account": "4070281090000000000x",
           "corr_account": "301018104"}
    r = await op.api("PATCH", "/api/v1/operator/settings", json={"supplier": bad})
    assert r.status_code == 422
    assert r.json()["error"]["fields"] == {
        "supplier.inn": "This INN does not exist: its check digits do not match. Check the number.",
        "supplier.kpp": "The KPP has 9 digits.", "supplier.bik": "The BIK has 9 digits.",
        "supplier.account": "A bank account number has 20 digits.",
        "supplier.corr_account": "A bank account number has 20 digits."}
    r = await op.api("PATCH", "/api/v1/operator/settings", json={"supplier": {"inn": "12345"}})
    assert r.json()["error"]["fields"] == {"supplier.inn": "The INN has 10 digits (a company) or 12 digits (a person)."}
    # nothing was stored by the refused requests
    assert (await op.get("/api/v1/operator/settings")).json()["supplier"]["inn"] == ""

    r = await op.api("PATCH", "/api/v1/operator/settings", json={"supplier": SUPPLIER, "vat_rate": 10})
    assert r.status_code == 200, r.text
    assert r.json()["supplier"] == SUPPLIER and r.json()["vat_rate"] == 10
    r = await op.api("PATCH", "/api/v1/operator/settings", json={"supplier": {"head": "Сидоров С. С."}})
    assert r.json()["supplier"] == {**SUPPLIER, "head": "Сидоров С. С."}  # the other fields are kept
    entry = await ctx.store.db["audit_log"].find_one({"section": "operator.settings", "after.supplier.head": "Сидоров С. С."})
    assert entry["before"]["supplier"]["head"] == "Иванов И. И." and entry["actor"]["login"] == "root"

    # the page shows them and refuses a bad INN with the Russian message for a Russian operator
    page = (await op.get("/operator/settings")).text
    assert 'value="7707083893"' in page and 'value="Сидоров С. С."' in page
    await op.api("PATCH", "/api/v1/me", json={"language": "ru"})
    r = await op.post_form("/operator/settings", {"supplier.inn": "7707083894", "supplier.name": "X"})
    assert r.status_code == 422 and "Такого ИНН не существует: не сходятся контрольные цифры" in r.text
    assert (await op.get("/api/v1/operator/settings")).json()["supplier"]["inn"] == "7707083893"

    # an invoice reads them (and the VAT rate) through the effective platform settings
    acc, _ = await account_with_pbx(op)
    doc = await docs.create_document(ctx.store.db, acc, "invoice", {"amount": 110000, "with_vat": True})
    assert doc["params"]["vat_rate"] == 10
    text = pdf_text(await render(ctx.store, acc, doc["_id"]))
    for value in ("ООО «Пульт Телеком»", "7707083893", "773601001", "044525225", "40702810900000000001",
                  "30101810400000000225", "ПАО Сбербанк", "Сидоров С. С.", "Петрова А. А.",
                  "В том числе НДС (10%): 100,00", "Одна тысяча сто рублей 00 копеек"):
        assert value in text, value


async def test_tariff_tables_created_validated_assigned_and_used_by_rating(web):
    ctx, url, op = web
    db = ctx.store.db
    assert await seed_default_tariff(db) is True and await seed_default_tariff(db) is False
    listing = (await op.get("/api/v1/operator/tariffs")).json()
    (default,) = listing["items"]
    assert default["code"] == DEFAULT_ID and default["default"] is True and default["prices_text"]["mobile"] == "2,50"

    # specific messages per field
    cases = [
        ({"prices": {**BUSINESS["prices"], "mobile": "1,905"}}, "prices.mobile", "At most two digits after the comma (kopecks)."),
        ({"prices": {**BUSINESS["prices"], "local": "дёшево"}}, "prices.local", "Enter the price in roubles, e.g. 1,50 (0 for free)."),
        ({"prices": {**BUSINESS["prices"], "planet": "1"}}, "prices.planet",
         "Unknown zone: use local, mobile, long_distance, international, service or international:DE for a country."),
        ({"destinations": [{"prefix": "+7495", "zone": "local"}]}, "destinations.0.prefix",
         "A prefix is up to 15 digits, e.g. 7495 (no + or spaces)."),
        ({"destinations": [{"prefix": "7495", "zone": "local"}, {"prefix": "33", "zone": "international"}]},
         "destinations.1.country", "An international prefix needs its country: two Latin letters, e.g. DE."),
        ({"destinations": [{"prefix": "7495", "zone": "local"}, {"prefix": "7495", "zone": "mobile"}]},
         "destinations.1.prefix", "This prefix is already in the table."),
        ({"prices": {"local": "1"}}, "prices.mobile", "Set this zone's price: the destination table uses it."),
        ({"step": "minute"}, "step", "Enter the billing step as FIRST/STEP seconds, e.g. 60/60 or 1/1."),
        ({"code": "Бизнес"}, "code", "The code is 2-32 Latin letters, digits, _ or -, starting with a letter."),
    ]
    for change, field, message in cases:
        r = await op.api("POST", "/api/v1/operator/tariffs", json={**BUSINESS, **change})
        assert r.status_code == 422, (change, r.text)
        assert r.json()["error"]["fields"] == {field: message}, change
    r = await op.api("POST", "/api/v1/operator/tariffs", json=BUSINESS)
    assert r.status_code == 201, r.text
    t = r.json()
    assert t["prices"] == {"local": 90, "mobile": 190, "long_distance": 250, "international": 2000,
                           "international:DE": 990}
    assert t["prices_text"]["international:DE"] == "9,90" and t["step"] == "1/1" and t["default"] is False
    assert {"prefix": "49", "zone": "international", "country": "DE", "name": "Германия", "exact": False} in t["destinations"]
    assert (await op.api("POST", "/api/v1/operator/tariffs", json=BUSINESS)).status_code == 409

    # a PBX on the new tariff: its next call is rated by it (per second, the German price)
    acc, pbx = await account_with_pbx(op)
    r = await op.api("PATCH", f"/api/v1/operator/pbxes/{pbx}", json={"tariff": "nope"})  # names nothing stored
    assert r.status_code == 409 and r.json()["error"]["fields"] == {"tariff": "There is no such tariff."}
    assert (await op.api("PATCH", f"/api/v1/operator/pbxes/{pbx}", json={"tariff": "business"})).status_code == 200

    async def rate(uuid, callee, billsec):
        await save_call_record(db, {"uuid": uuid, "pbx_id": pbx, "direction": "outbound", "caller": "1001",
                                    "callee": callee, "channel": f"sofia/gateway/gw/{callee}", "billsec": billsec,
                                    "start": datetime.now(timezone.utc) - timedelta(minutes=5)})
        res = await billing.rate_record(db, uuid)
        assert res["status"] == "rated", res
        return (await db["call_records"].find_one({"uuid": uuid}))["rated"]

    rated = await rate("c-de", "+49 30 1234567", 61)
    assert rated["tariff"] == "business" and rated["zone"] == "international" and rated["cost"] == 1007  # 61 × 9,90 / 60
    # the PBX back on the platform default; the default then switched to «business»
    await op.api("PATCH", f"/api/v1/operator/pbxes/{pbx}", json={"tariff": ""})
    assert (await rate("c-mob", "89161234567", 61))["tariff"] == DEFAULT_ID  # 2 min × 2,50
    r = await op.api("PATCH", "/api/v1/operator/settings", json={"default_tariff": "nope"})
    assert r.status_code == 422 and r.json()["error"]["fields"] == {"default_tariff": "There is no such tariff."}
    assert (await op.api("PATCH", "/api/v1/operator/settings", json={"default_tariff": "business"})).status_code == 200
    assert (await rate("c-mob2", "89161234567", 61))["tariff"] == "business"
    assert (await op.get("/api/v1/operator/tariffs/business")).json()["default"] is True

    # editing replaces the table; the action log has the before/after
    r = await op.api("PUT", "/api/v1/operator/tariffs/business", json={**BUSINESS, "prices": {**BUSINESS["prices"], "local": "0,50"}})
    assert r.status_code == 200 and r.json()["prices"]["local"] == 50
    log = await AuditLog(db, Scope.platform()).find({"section": "operator.tariffs"})
    assert [(e["operation"], e["object"]["id"]) for e in log] == [("create", "business"), ("update", "business")]
    assert log[1]["before"]["prices"]["local"] == 90 and log[1]["after"]["prices"]["local"] == 50
    assert (await op.api("PUT", "/api/v1/operator/tariffs/missing", json=BUSINESS)).status_code == 404


async def test_tariff_pages_edit_the_table_as_text_with_line_messages(web):
    ctx, url, op = web
    await seed_default_tariff(ctx.store.db)
    page = (await op.get("/operator/tariffs")).text
    assert "Basic" in page and "Базовый" not in page and "platform default" in page and "2,50" in page
    page = (await op.get("/operator/tariffs/default")).text
    assert "7495; local; ; Москва" in page and "112; service; ; Единый номер экстренных служб; exact" in page
    assert "DE 12,00" in page

    form = {"code": "eco", "name": "Эконом", "step": "60/60", "free_minutes": "0", "public": "1",
            "price.local": "1,20", "price.mobile": "3", "price.long_distance": "4,00", "price.international": "30",
            "countries": "DE 15,50\nUS 8", "free_zone.local": "1",
            "destinations": "7495; local; ; Москва\n79; mobile\n7; long_distance\n49; international; DE; Германия\n1; international; US"}
    r = await op.post_form("/operator/tariffs/new", {**form, "destinations": "7495; local\n79 mobile"})
    assert r.status_code == 422 and "Line 2: write «prefix; zone; country; name»" in r.text
    r = await op.post_form("/operator/tariffs/new", {**form, "destinations": "7495; local\n\n33; international; ; Франция"})
    assert r.status_code == 422 and "Line 3: An international prefix needs its country" in r.text
    r = await op.post_form("/operator/tariffs/new", {**form, "countries": "DE 15,505"})
    assert r.status_code == 422 and "At most two digits after the comma (kopecks)." in r.text
    r = await op.post_form("/operator/tariffs/new", {**form, "price.mobile": ""})
    assert r.status_code == 422 and "Set this zone&#x27;s price" in r.text or "Set this zone's price" in r.text
    r = await op.post_form("/operator/tariffs/new", form)
    assert r.status_code == 302 and r.headers["location"] == "/operator/tariffs/eco?done=saved"
    t = (await op.get("/api/v1/operator/tariffs/eco")).json()
    assert t["prices"] == {"local": 120, "mobile": 300, "long_distance": 400, "international": 3000,
                           "international:DE": 1550, "international:US": 800}
    assert t["free_zones"] == ["local"] and t["public"] is True and len(t["destinations"]) == 5
    r = await op.post_form("/operator/tariffs/eco", {"action": "default"})
    assert r.status_code == 302
    assert "This is now the platform default tariff." in (await op.get(r.headers["location"])).text
    assert (await op.get("/api/v1/operator/settings")).json()["default_tariff"] == "eco"


async def test_tenant_changes_the_tariff_once_a_month_with_consent(web):
    ctx, url, op = web
    db = ctx.store.db
    await seed_default_tariff(db)
    assert (await op.api("POST", "/api/v1/operator/tariffs", json=BUSINESS)).status_code == 201
    hidden = {**BUSINESS, "code": "vip", "name": "VIP", "public": False}
    assert (await op.api("POST", "/api/v1/operator/tariffs", json=hidden)).status_code == 201
    acc, pbx = await account_with_pbx(op)
    for login, role in (("boss", "administrator"), ("buh", "accountant"), ("head", "company_head")):
        await create_tenant_user(ctx.store, pbx, login, "tenant-pass-1", role=role, language="en", account_id=acc)

    async with WebClient(url) as buh:
        await buh.login(f"{pbx}/buh", "tenant-pass-1")
        state = (await buh.get("/api/v1/finance/tariff")).json()
        assert state["current"]["id"] == DEFAULT_ID and state["can_change"] is False
        assert [t["id"] for t in state["tariffs"]] == ["default", "business"] or \
            sorted(t["id"] for t in state["tariffs"]) == ["business", "default"]
        r = await buh.api("POST", "/api/v1/finance/tariff", json={"tariff": "business", "agree": True})
        assert r.status_code == 403
        assert r.json()["error"]["message"] == "Only the account administrator or the PBX administrator may change the tariff."
    async with WebClient(url) as head:
        await head.login(f"{pbx}/head", "tenant-pass-1")
        assert (await head.get("/api/v1/finance/tariff")).status_code == 403

    async with WebClient(url) as boss:
        await boss.login(f"{pbx}/boss", "tenant-pass-1")
        assert (await boss.get("/api/v1/finance/tariff")).json()["can_change"] is True
        r = await boss.api("POST", "/api/v1/finance/tariff", json={"tariff": "business"})
        assert r.status_code == 422 and r.json()["error"]["fields"] == {
            "agree": "Tick «I agree with the conditions of the tariff change»."}
        r = await boss.api("POST", "/api/v1/finance/tariff", json={"tariff": "vip", "agree": True})
        assert r.status_code == 409 and r.json()["error"]["fields"] == {
            "tariff": "This tariff is not offered; choose one from the list."}
        r = await boss.api("POST", "/api/v1/finance/tariff", json={"tariff": "default", "agree": True})
        assert r.json()["error"]["fields"] == {"tariff": "This is already your tariff."}
        r = await boss.api("POST", "/api/v1/finance/tariff", json={"tariff": "business", "agree": True})
        assert r.status_code == 200, r.text
        assert r.json()["current"]["id"] == "business" and r.json()["can_change"] is False
        assert (await get_pbx(db, pbx))["tariff"] == "business"  # effective immediately
        today = datetime.now(timezone.utc).astimezone(__import__("zoneinfo").ZoneInfo("Europe/Moscow")).date()
        nxt = date(today.year + (today.month == 12), today.month % 12 + 1, 1).strftime("%d.%m.%Y")
        assert r.json()["next_change_from"] == nxt
        r = await boss.api("POST", "/api/v1/finance/tariff", json={"tariff": "default", "agree": True})
        assert r.status_code == 409 and r.json()["error"]["code"] == "tariff_change_limit"
        assert r.json()["error"]["message"].startswith("The tariff can be changed once per calendar month")
        assert f"The next change is possible from {nxt}." in r.json()["error"]["message"]
        # the page: the limit is explained, the form's refusal comes back as a message (RU)
        await boss.api("PATCH", "/api/v1/me", json={"language": "ru"})
        r = await boss.api("POST", "/api/v1/finance/tariff", json={"tariff": "default", "agree": True})
        assert r.json()["error"]["message"].startswith("Тариф можно менять не чаще одного раза в календарный месяц")
        r = await boss.post_form("/finance/tariff", {"tariff": "default", "agree": "1"})
        assert r.status_code == 302 and r.headers["location"] == "/finance?tariff_error=limit#tariff"
        page = (await boss.get("/finance?tariff_error=limit")).text
        assert f"Следующая смена тарифа возможна с {nxt}." in page and 'id="tariff-form"' not in page

    log = await AuditLog(db, Scope.pbx(pbx)).find({"operation": "tariff_change"})
    assert len(log) == 1 and log[0]["before"] == {"tariff": "default"} and log[0]["after"] == {"tariff": "business"}
    assert log[0]["actor"]["login"] == f"{pbx}/boss" and log[0]["section"] == "finance"
    # next month (fake clock) the change is allowed again; twice in that month is not
    pbx_doc = await get_pbx(db, pbx)
    later = pbx_doc["tariff_changed_at"].replace(tzinfo=timezone.utc) + timedelta(days=32)
    actor = {"kind": "user", "login": "boss"}
    await change_pbx_tariff(db, pbx, "default", actor, now=later)
    with pytest.raises(TariffChangeError) as exc:
        await change_pbx_tariff(db, pbx, "business", actor, now=later + timedelta(hours=1))
    assert exc.value.next_allowed.day == 1 and "Следующая смена тарифа возможна" in exc.value.message_ru


async def test_a_tariff_change_needs_a_balance_of_zero_or_more(web):
    """Inventory A §4.1.1: with insufficient funds the agree box is disabled and the change refused
    (insufficient = below zero, PRODUCT.md §2/§10)."""
    from jobs.billing import ledger

    ctx, url, op = web
    db = ctx.store.db
    await seed_default_tariff(db)
    assert (await op.api("POST", "/api/v1/operator/tariffs", json=BUSINESS)).status_code == 201
    acc, pbx = await account_with_pbx(op)
    await create_tenant_user(ctx.store, pbx, "boss", "tenant-pass-1", role="administrator", language="en",
                             account_id=acc)
    await ledger.charge(db, acc, 1, key="svc:1", comment="one kopeck too many")
    async with WebClient(url) as boss:
        await boss.login(f"{pbx}/boss", "tenant-pass-1")
        await change_refused_for_funds(boss, "tariff", "business")
        assert (await get_pbx(db, pbx)).get("tariff") in (None, DEFAULT_ID)
        await ledger.record_payment(db, acc, 1, key="pp-1")  # back to 0,00: enough
        assert (await boss.get("/api/v1/finance/tariff")).json()["can_change"] is True
        r = await boss.api("POST", "/api/v1/finance/tariff", json={"tariff": "business", "agree": True})
        assert r.status_code == 200 and r.json()["current"]["id"] == "business"
