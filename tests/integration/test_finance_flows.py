"""Finance end to end: real Redis, a real Celery worker (embedded, bound to the test's store), a
real SMTP server (aiosmtpd), a local HTTP receiver standing in for the SMS gateway, the real
Tornado app.

Flows: a call record is rated by the job the CDR hook queues, its charge blocks the PBX and the
"blocked" notice goes out by e-mail and SMS; an operator's payment unblocks it with "funds
credited" and "unblocked"; retried notification jobs send nothing twice; documents are created,
rendered with progress, downloaded, read back and e-mailed; the critical-balance notice carries
an invoice and goes out once per 5 days; the monthly close charges fees and invoices once; the
sweeper rates what the hook missed. Plus tenant isolation, roles, and bad input.
"""
from __future__ import annotations

import asyncio
import hashlib
import io
import re
import time
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from pypdf import PdfReader

from jobs import client
from jobs.billing import documents as docs_mod
from jobs.billing import ledger
from jobs.billing import tasks
from jobs.billing.rating import BillingStep, Destination, Tariff
from jobs.runner import start_embedded
from jobs.testing import TEST_REDIS_URL, cleanup, configure_for_tests
from pult import clock
from pult.clock import FixedClock, use_clock
from storage.repos.api_keys import ApiKeys
from storage.repos.audit import AuditLog
from storage.repos.base import Scope
from storage.repos.billing import Tariffs
from storage.repos.calls import CallRecords, save_call_record
from storage.repos.tenants import create_account, create_pbx, load_pbx_state, save_platform_settings
from storage.repos.users import create_operator_admin, create_tenant_user
from tests.integration.harness import SmsGateway, cheap_hashes  # noqa: F401  (cheap_hashes: autouse)
from tests.integration.harness import wait_for as wait_until
from web.testing import WebClient, web_stack

MSK = ZoneInfo("Europe/Moscow")  # the PBXs' time zone (the default)
TARIFF = Tariff("default", "Базовый", (
    Destination("7", "long_distance"), Destination("7495", "local"), Destination("79", "mobile"),
    Destination("49", "international", country="DE", name="Германия")),
    {"local": 100, "mobile": 200, "long_distance": 300, "international": 1500}, step=BillingStep(60, 60))


@pytest.fixture(scope="module")
def sms():
    r = SmsGateway("/send")
    yield r
    r.stop()


@pytest.fixture
def fin_settings(settings, sink, sms):
    return settings.model_copy(update={"redis_url": TEST_REDIS_URL, "smtp_port": sink.port,
                                       "sms_gateway_url": sms.url, "sms_allow_private": True,  # a loopback receiver
                                       "mail_from": "Пульт <noreply@pult.example>",
                                       "log_level": "WARNING"})


@pytest.fixture
async def env(fin_settings, store, sink, sms):
    """Two accounts with a PBX each, users of several roles, the tariff, a worker bound to the store."""
    from pult.settings import set_settings

    set_settings(fin_settings)
    sink.reset()
    sms.reset()
    db = store.db
    await Tariffs(db, Scope.platform()).save(TARIFF.to_dict())
    await save_platform_settings(db, {"supplier": dict(docs_mod.DEMO_SUPPLIER)})  # invoices need them
    a = await create_account(db, "ООО «Ромашка»", "buh@romashka.example",
                             requisites={"inn": "7712345678", "kpp": "771201001", "legal_address": "г. Казань"})
    b = await create_account(db, "ООО «Василёк»", "buh@vasilek.example")
    pa = await create_pbx(db, a["account_id"], "Ромашка", "pult.local")
    pb = await create_pbx(db, b["account_id"], "Василёк", "pult.local")
    for login, role in (("buh", "accountant"), ("emp", "employee"), ("boss", "administrator")):
        await create_tenant_user(store, pa["pbx_id"], login, "tenant-pass-1", role=role, language="en")
    await create_tenant_user(store, pb["pbx_id"], "buh", "tenant-pass-1", role="accountant", language="en")
    await create_operator_admin(store, "root", "operator-pass-1", "root@example.com", language="en")
    prefix = configure_for_tests(fin_settings)
    loop = asyncio.get_running_loop()
    handle = await loop.run_in_executor(None, lambda: start_embedded(fin_settings, store=store, loop=loop, beat=False))
    try:
        async with web_stack(fin_settings, store) as (ctx, url):
            yield {"db": db, "store": store, "a": a["account_id"], "b": b["account_id"], "pa": pa["pbx_id"],
                   "pb": pb["pbx_id"], "url": url, "settings": fin_settings}
    finally:
        await handle.stop_async()
        cleanup(prefix)


@asynccontextmanager
async def signed_in(url, login, password="tenant-pass-1", lang="en"):
    async with WebClient(url, headers={"Accept-Language": lang}) as c:
        await c.login(login, password)
        yield c


async def wait_mail(sink, count, timeout=20.0):
    await wait_until(lambda: len(sink.received) >= count, timeout, f"{count} e-mail(s)")
    return list(sink.received)


def subjects(sink):
    return sorted(m.message["Subject"] for m in sink.received)


async def call_record(db, pbx_id, uuid, callee, billsec, start=None):
    rec = {"uuid": uuid, "pbx_id": pbx_id, "direction": "outbound", "caller": "1001", "callee": callee,
           "channel": f"sofia/gateway/gw1/{callee}",
           "start": start or datetime.now(timezone.utc) - timedelta(hours=1), "billsec": billsec}
    assert await save_call_record(db, rec)
    return rec


async def rated(db, uuid):
    rec = await CallRecords(db, Scope.platform()).find_one({"uuid": uuid})
    return rec if rec and (rec.get("rated") or rec.get("rating_error")) else None


async def put_notifications(c, **blocks):
    body = {"language": "en", **blocks}
    r = await c.api("PUT", "/api/v1/finance/notifications", json=body)
    assert r.status_code == 200, r.text
    return r.json()


# ------------------------------------------------------------------------------- flows
async def test_call_rated_blocks_then_payment_unblocks_with_notices_sent_once(env, sink, sms):
    db, url = env["db"], env["url"]
    async with signed_in(url, f"{env['pa']}/buh") as c:
        saved = await put_notifications(
            c, block={"enabled": True, "emails": "buh@romashka.example, boss@romashka.example",
                      "phones": "+7 916 123-45-67"},
            credit={"enabled": True, "emails": "buh@romashka.example"})
        assert saved["block"]["phones"] == "+79161234567"

    # the CDR writer's hook, called on the event loop: it must return at once and queue the rating
    rec = await call_record(db, env["pa"], "call-1", "89161234567", 65)
    started = time.perf_counter()
    tasks.on_call_record(rec)
    assert time.perf_counter() - started < 0.05
    done = await wait_until(lambda: rated(db, "call-1"), what="the call to be rated")
    assert done["rated"]["zone"] == "mobile" and done["rated"]["rated_seconds"] == 120
    assert done["rated"]["cost"] == 400 and done["rated"]["direction"] == "outbound"

    state = await load_pbx_state(db, env["pa"])
    assert state.blocked and state.reasons == ("balance",)
    mails = await wait_mail(sink, 1)
    msg = mails[0].message
    assert msg["Subject"] == f"Account {env['a']}: services blocked"
    assert sorted(mails[0].rcpt_tos) == ["boss@romashka.example", "buh@romashka.example"]
    assert "-4,00 RUB" in msg.get_body(("plain",)).get_content()
    await wait_until(lambda: len(sms.messages) == 1, what="the SMS")
    assert sms.messages[0]["to"] == "+79161234567" and "blocked" in sms.messages[0]["text"]

    # the operator records a payment: funds credited + unblocked
    async with signed_in(url, "root", "operator-pass-1") as op:
        r = await op.api("POST", f"/api/v1/accounts/{env['a']}/payments",
                         json={"amount": "1 000,50", "key": "pp-15", "comment": "п/п № 15"})
        assert r.status_code == 201, r.text
        assert r.json()["balance"] == 100050 - 400 and r.json()["blocked"] is False
        again = await op.api("POST", f"/api/v1/accounts/{env['a']}/payments",
                             json={"amount": "1000.50", "key": "pp-15"})
        assert again.status_code == 200 and again.json()["duplicate"] is True
    assert not (await load_pbx_state(db, env["pa"])).blocked
    await wait_mail(sink, 3)
    assert subjects(sink) == sorted([f"Account {env['a']}: services blocked",
                                     f"Account {env['a']}: funds credited",
                                     f"Account {env['a']}: services unblocked"])
    credited = next(m.message for m in sink.received if "credited" in m.message["Subject"])
    assert "1 000,50 RUB has been credited" in credited.get_body(("plain",)).get_content()

    # a retried notification job (same idempotency key) sends nothing again
    key = f"credited:{env['a']}:payment:pp-15"
    job = client.submit(tasks.notify_task, kwargs={"account_id": env["a"], "event": "credited",
                                                   "data": {"amount": 100050, "balance": 99650},
                                                   "idempotency_key": key})
    result = await client.result(job, timeout=20)
    assert result["duplicate"] is True
    rerate = client.submit(tasks.rate_call, kwargs={"uuid": "call-1"})
    assert (await client.result(rerate, timeout=20))["status"] == "already"
    assert len(sink.received) == 3 and len(sms.messages) == 2  # blocked + unblocked SMS only

    # every notice is in the action log as System
    log = await AuditLog(db, Scope.account(env["a"])).find({"operation": "notify"})
    assert sorted(e["object"]["id"] for e in log) == ["blocked", "credited", "unblocked"]
    assert {e["actor"]["kind"] for e in log} == {"system"}
    blocks = await AuditLog(db, Scope.pbx(env["pa"])).find({"section": "finance"})
    assert [e["operation"] for e in sorted(blocks, key=lambda e: e["at"])] == ["block", "unblock"]


async def test_documents_rendered_downloaded_emailed_and_scoped(env, sink):
    """(On the 5th, 10:00 at the PBX: not the 1st, when call detail is refused.)"""
    with use_clock(FixedClock(datetime(2026, 11, 5, 10, tzinfo=MSK))):
        db, url = env["db"], env["url"]
        start = clock.now().replace(microsecond=0) - timedelta(days=2)
        for i, (num, sec) in enumerate([("74951234567", 30), ("79161234567", 61), ("4930123456", 125)]):
            await call_record(db, env["pa"], f"doc-call-{i}", num, sec, start + timedelta(minutes=i))
            tasks.on_call_record({"uuid": f"doc-call-{i}", "pbx_id": env["pa"]})
        for i in range(3):
            await wait_until(lambda i=i: rated(db, f"doc-call-{i}"), what="rating")
        today = clock.today(MSK)
        period = {"since": (today - timedelta(days=5)).strftime("%d.%m.%Y"), "until": today.strftime("%d.%m.%Y")}

        async with signed_in(url, f"{env['pa']}/buh") as c:
            r = await c.api("POST", "/api/v1/finance/documents", json={"kind": "call_detail", "format": "xlsx", **period})
            assert r.status_code == 202, r.text
            doc = r.json()
            assert doc["status"] == "queued" and doc["download_url"] is None
            seen = set()

            async def ready():
                d = (await c.get(f"/api/v1/finance/documents/{doc['id']}")).json()
                seen.add(d["status"])
                return d if d["status"] in ("ready", "failed") else None
            d = await wait_until(ready, what="the call detail")
            assert d["status"] == "ready" and d["progress"] == 100, d
            f = await c.get(d["download_url"])
            assert f.status_code == 200
            assert f.headers["content-type"].startswith("application/vnd.openxmlformats")
            assert "filename*=UTF-8''" in f.headers["content-disposition"]
            ws = openpyxl.load_workbook(io.BytesIO(f.content), data_only=True).active  # cached SUM values
            values = [[c.value for c in row] for row in ws.iter_rows()]
            total = values[-1]
            assert total[0] == "Итого"
            # 30 s local 1,00 + 61 s mobile 2 min 4,00 + 125 s Germany 3 min 45,00
            assert total[4] == 30 + 61 + 125 and total[5] == 60 + 120 + 180 and total[6] == 50.0
            assert any("Германия" in str(v) for row in values for v in row)
            calls = [row for row in values if isinstance(row[5], int) and row is not total]
            assert len(calls) == 3 and sum(row[6] for row in calls) == total[6]

            # invoice PDF with the account's requisites and VAT
            r = await c.api("POST", "/api/v1/finance/documents", json={"kind": "invoice", "amount": "1100", "with_vat": True})
            inv = r.json()
            inv = await wait_until(lambda: _ready(c, inv["id"]), what="the invoice")
            pdf = (await c.get(inv["download_url"])).content
            text = " ".join("\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).replace("\xa0", " ").split())
            assert f"Счёт на оплату № {inv['number']}" in text and "1 100,00" in text
            assert "В том числе НДС (20%): 183,33" in text and "7712345678" in text

            listed = (await c.get("/api/v1/finance/documents", params=period)).json()
            assert {i["id"] for i in listed["items"]} == {doc["id"], inv["id"]}

            r = await c.api("POST", f"/api/v1/finance/documents/{inv['id']}/email",
                            json={"to": "chief@romashka.example", "request_id": "req-1"})
            assert r.status_code == 202, r.text
            (mail,) = await wait_mail(sink, 1)
            att = {p.get_filename(): p.get_payload(decode=True) for p in mail.message.iter_attachments()}
            assert att == {inv["filename"]: pdf}
            bad = await c.api("POST", f"/api/v1/finance/documents/{inv['id']}/email", json={"to": "not an address"})
            assert bad.status_code == 422 and "to" in bad.json()["error"]["fields"]

        # another account's accountant: every document endpoint says 404; an Employee gets 403
        async with signed_in(url, f"{env['pb']}/buh") as other:
            for method, path, body in (("GET", f"/api/v1/finance/documents/{inv['id']}", None),
                                       ("GET", f"/api/v1/finance/documents/{inv['id']}/file", None),
                                       ("POST", f"/api/v1/finance/documents/{inv['id']}/email", {"to": "x@evil.example"})):
                r = await other.api(method, path, json=body)
                assert r.status_code == 404, (path, r.text)
            assert (await other.get("/api/v1/finance/documents", params=period)).json()["items"] == []
        async with signed_in(url, f"{env['pa']}/emp") as emp:
            for path in ("/api/v1/finance/balance", "/api/v1/finance/documents", f"/api/v1/finance/documents/{inv['id']}",
                         f"/api/v1/finance/documents/{inv['id']}/file", "/api/v1/finance/notifications", "/finance"):
                assert (await emp.get(path)).status_code == 403, path
            assert (await emp.api("POST", "/api/v1/finance/documents", json={"kind": "invoice", "amount": "5"})).status_code == 403
        assert len(sink.received) == 1


async def test_documents_list_at_22_30_utc_is_on_the_pbx_day_and_time(env):
    """22:30 UTC is already 01:30 of the next day in Moscow, the PBX's time zone: the Finance page's
    period opens on the PBX's date (not the server's UTC date), so an invoice issued a moment ago is
    listed, dated that day, with its time shown in PBX time."""
    with use_clock(FixedClock("2026-12-06T22:30:00Z")):
        async with signed_in(env["url"], f"{env['pa']}/buh") as c:
            page = (await c.get("/finance")).text
            since = re.search(r'id="docs-since" name="since" value="([^"]*)"', page).group(1)
            until = re.search(r'id="docs-until" name="until" value="([^"]*)"', page).group(1)
            assert (since, until) == ("01.12.2026", "07.12.2026")
            r = await c.api("POST", "/api/v1/finance/documents", json={"kind": "invoice", "amount": "500"})
            assert r.status_code == 202, r.text
            listed = (await c.get("/api/v1/finance/documents", params={"since": since, "until": until})).json()
            assert [d["id"] for d in listed["items"]] == [r.json()["id"]]
            doc = listed["items"][0]
            assert doc["created_at"] == "2026-12-06T22:30:00+00:00"  # the API's instant stays UTC
            assert doc["created_local"] == "2026-12-07 01:30"        # what the list shows: PBX time
            assert doc["since"] == doc["until"] == "2026-12-07"       # the invoice is of the PBX's day
        await create_tenant_user(env["store"], env["pa"], "buh-ru", "tenant-pass-1", role="accountant", language="ru")
        async with signed_in(env["url"], f"{env['pa']}/buh-ru", lang="ru") as c:
            ru = (await c.get("/api/v1/finance/documents", params={"since": since, "until": until})).json()
            assert ru["items"][0]["created_local"] == "07.12.2026 01:30"
            # the list of the day before (the server's UTC date) does not have it
            before = (await c.get("/api/v1/finance/documents", params={"since": "06.12.2026", "until": "06.12.2026"}))
            assert before.json()["items"] == []


async def _ready(c, doc_id):
    d = (await c.get(f"/api/v1/finance/documents/{doc_id}")).json()
    return d if d["status"] == "ready" else None


async def test_call_detail_refused_on_the_first_with_a_message(env):
    with use_clock(FixedClock(datetime(2026, 12, 1, 15, 0, tzinfo=MSK))):  # the 1st, 15:00 at the PBX
        body = {"kind": "call_detail", "since": "01.11.2026", "until": "30.11.2026"}
        async with signed_in(env["url"], f"{env['pa']}/buh", lang="ru") as c:
            await c.api("POST", "/api/v1/language", json={"language": "ru"})
            r = await c.api("POST", "/api/v1/finance/documents", json=body, headers={"Accept-Language": "ru"})
        assert r.status_code == 422
        msg = r.json()["error"]["message"]
        assert ("Детализация недоступна 1-го числа" in msg and "02.12.2026" in msg) or \
            ("not available on the 1st" in msg and "02.12.2026" in msg)
        async with signed_in(env["url"], f"{env['pa']}/buh") as c:
            r = await c.api("POST", "/api/v1/finance/documents", json=body)
        assert r.status_code == 422 and "Call detail is not available on the 1st of the month" in r.json()["error"]["message"]


async def test_low_balance_notice_with_invoice_at_most_once_per_five_days(env, sink):
    db, url = env["db"], env["url"]
    async with signed_in(url, f"{env['pa']}/buh") as c:
        await put_notifications(c, low_balance={"enabled": True, "emails": "buh@romashka.example",
                                                "mode": "manual", "threshold": "100", "attach_invoice": True})
        got = (await c.get("/api/v1/finance/notifications")).json()["low_balance"]
        assert got["threshold"] == "100,00" and got["invoice_amount"] == "1100,00"
    async with signed_in(url, "root", "operator-pass-1") as op:
        r = await op.api("POST", f"/api/v1/accounts/{env['a']}/payments", json={"amount": "105", "key": "p1"})
        assert r.status_code == 201
    for i in range(2):  # 105,00 - 20,00 = 85,00 < 100: notice; the second call: within 5 days, none
        await call_record(db, env["pa"], f"low-{i}", "74951234567", 1200)
        job = client.submit(tasks.rate_call, kwargs={"uuid": f"low-{i}"})
        res = await client.result(job, timeout=30)
        assert res["status"] == "rated"
    (mail,) = await wait_mail(sink, 1)
    assert mail.message["Subject"] == f"Account {env['a']}: funds are running out"
    (att,) = list(mail.message.iter_attachments())
    text = " ".join(PdfReader(io.BytesIO(att.get_payload(decode=True))).pages[0].extract_text().replace("\xa0", " ").split())
    assert "1 100,00" in text and "Предоплата за телекоммуникационные услуги" in text
    # a third charge: still only one notice, and no second invoice was made
    await call_record(db, env["pa"], "low-2", "74951234567", 60)
    await client.result(client.submit(tasks.rate_call, kwargs={"uuid": "low-2"}), timeout=30)
    assert len(sink.received) == 1
    async with signed_in(url, f"{env['pa']}/buh") as c:
        items = (await c.get("/api/v1/finance/documents")).json()["items"]
    assert [i["kind"] for i in items] == ["invoice"]


async def test_monthly_close_is_idempotent_and_sweeper_rates_missed_records(env):
    db = env["db"]
    from storage.repos.tenants import update_pbx
    await update_pbx(db, env["pa"], {"edition": "basic"})
    # a call last month, stored without the hook (the enqueue "failed"), older than the sweep age
    last_month = (clock.today(MSK).replace(day=1) - timedelta(days=1)).replace(day=10)
    start = datetime(last_month.year, last_month.month, 10, 9, tzinfo=timezone.utc)
    await call_record(db, env["pa"], "missed-1", "74951234567", 90, start)
    await CallRecords(db, Scope.platform()).update_one({"uuid": "missed-1"},
                                                       {"$set": {"stored_at": start}})
    swept = await client.result(client.submit(tasks.sweep_unrated, kwargs={}), timeout=30)
    assert swept["found"] >= 1 and swept["rated"] >= 1
    assert (await rated(db, "missed-1"))["rated"]["cost"] == 200

    today = clock.today(MSK).replace(day=1).isoformat()
    first = await client.result(client.submit(tasks.close_month, kwargs={"today": today}), timeout=60)
    assert first["status"] == "closed" and first["fees"] >= 1 and first["invoices"] >= 1
    second = await client.result(client.submit(tasks.close_month, kwargs={"today": today}), timeout=60)
    assert second["status"] == "closed before"
    from jobs.billing import ledger
    entries = await ledger.list_entries(db, env["a"], kinds=("fee",))
    assert len(entries) == 1 and entries[0]["amount"] == -99000
    bal = await ledger.get_balance(db, env["a"])
    assert bal["balance"] == -99000 - 200
    from storage.repos.billing import BillingDocuments
    invoices = await BillingDocuments(db, Scope.account(env["a"])).list({"kind": "invoice"})
    assert len(invoices) == 1 and invoices[0]["params"]["amount"] == 200 and invoices[0]["status"] == "ready"


async def test_payments_api_input_roles_and_api_keys(env):
    url, db = env["url"], env["db"]
    async with signed_in(url, "root", "operator-pass-1") as op:
        for amount, expected in (("12,50", 1250), ("12.50", 1250), (7, 700)):
            r = await op.api("POST", f"/api/v1/accounts/{env['a']}/payments", json={"amount": amount})
            assert r.status_code == 201 and r.json()["amount"] == expected, r.text
        for amount, message in (("-5", "The amount must be greater than zero."),
                                ("0", "The amount must be greater than zero."),
                                ("12.505", "At most two digits after the decimal point (kopecks)."),
                                ("12.5051", "At most two digits after the decimal point (kopecks)."),
                                ("12 руб", "Enter the amount in roubles as digits, e.g. 1100 or 1100,50."),
                                ("", "Enter the amount.")):
            r = await op.api("POST", f"/api/v1/accounts/{env['a']}/payments", json={"amount": amount})
            assert r.status_code == 422 and r.json()["error"]["fields"] == {"amount": message}, (amount, r.text)
        assert (await op.api("POST", "/api/v1/accounts/999999/payments", json={"amount": "1"})).status_code == 404
        # operators open any account's finance page; a bad period is refused with a specific message
        assert (await op.get(f"/finance?account_id={env['b']}")).status_code == 200
        r = await op.get("/api/v1/finance/payments", params={"account_id": env["a"], "since": "31.02.2026",
                                                             "until": "bad"})
        assert r.status_code == 422 and r.json()["error"]["fields"] == {
            "since": "There is no such date.", "until": "Enter the date as dd.mm.yyyy."}
        r = await op.get("/api/v1/finance/payments", params={"account_id": env["a"],
                                                             "since": clock.today(MSK).strftime("%d.%m.%Y"),
                                                             "until": clock.today(MSK).strftime("%d.%m.%Y")})
        assert r.json()["totals"] == {"amount": 1250 + 1250 + 700, "count": 3}
        for it in r.json()["items"]:  # the list shows the payment's time in the account's zone, not UTC
            assert it["at_local"] == datetime.fromisoformat(it["at"]).astimezone(MSK).strftime("%Y-%m-%d %H:%M")
    async with signed_in(url, f"{env['pa']}/boss") as boss:  # a cabinet user cannot credit their own account
        r = await boss.api("POST", f"/api/v1/accounts/{env['a']}/payments", json={"amount": "100"})
        assert r.status_code == 403
        r = await boss.api("PUT", "/api/v1/finance/notifications",
                           json={"credit": {"enabled": True, "emails": "a@b.example, nope", "phones": "+74951234567"}})
        fields = r.json()["error"]["fields"]
        assert r.status_code == 422 and fields["credit.emails"] == "Not a valid e-mail address: nope"
        assert fields["credit.phones"].startswith("SMS goes only to Russian mobile numbers in the form +79")
    secret = "pult_abcdef123456_" + "s" * 43
    await ApiKeys(db, Scope.pbx(env["pa"])).insert_one({
        "_id": "abcdef123456", "name": "1C", "role": "accountant", "whitelist": ["*"], "account_id": env["a"],
        "secret_hash": hashlib.sha256(secret.encode()).hexdigest(), "revoked_at": None,
        "created_at": datetime.now(timezone.utc)})
    balance_before = (await ledger.get_balance(db, env["a"]))["balance"]
    async with WebClient(url, headers={"Authorization": f"Bearer {secret}"}) as key:
        # a tenant's own key (even the accountant's, Finance edit) cannot credit its own account:
        # recording a payment is the operator's act (issue 9 item 3)
        r = await key.post(f"/api/v1/accounts/{env['a']}/payments", json={"amount": "5000", "key": "bank-77"})
        assert r.status_code == 403, r.text
        assert r.json()["error"]["message"] == "Платежи записывает оператор платформы."
        r = await key.post(f"/api/v1/accounts/{env['b']}/payments", json={"amount": "300"})
        assert r.status_code == 403
    assert (await ledger.get_balance(db, env["a"]))["balance"] == balance_before
    log = await AuditLog(db, Scope.account(env["a"])).find({"operation": "payment"})
    assert {e["actor"]["kind"] for e in log} == {"user"}


async def test_no_document_with_a_blank_supplier_block(env):
    """Without the operator's requisites an invoice, an act or a receipt would print a blank
    supplier (no name, INN, bank): refused with a message saying what is missing and where the
    operator enters it; nothing is stored; once entered, the same request is accepted. The body is
    valid in itself: what is stored cannot serve it, so the answer is a 409 conflict (not a 422
    "fix your input"), as the OpenAPI document says."""
    url, db = env["url"], env["db"]
    blank = {k: "" for k in docs_mod.DEMO_SUPPLIER}
    async with signed_in(url, "root", "operator-pass-1") as op:
        assert (await op.api("PATCH", "/api/v1/operator/settings", json={"supplier": blank})).status_code == 200
    today = clock.today(MSK).strftime("%d.%m.%Y")
    async with signed_in(url, f"{env['pa']}/buh") as buh:
        before = (await buh.get("/api/v1/finance/documents")).json()["total"]
        for body in ({"kind": "invoice", "amount": "1000"},
                     {"kind": "reconciliation", "since": today, "until": today},
                     {"kind": "receipt", "amount": "100", "payer_name": "Иванов Иван", "payer_address": "Казань",
                      "pay_date": today}):
            r = await buh.api("POST", "/api/v1/finance/documents", json=body)
            assert r.status_code == 409, (body, r.text)
            assert r.json()["error"]["code"] == "requisites_missing"
            message = r.json()["error"]["message"]
            assert "the supplier's requisites are not filled in" in message, message
            assert "full name, INN, legal address, bank, BIK, settlement account" in message
            assert "«Platform settings» → «The operator's requisites»" in message
        with pytest.raises(docs_mod.DocumentError) as refused:
            await docs_mod.check_supplier(db)
        assert "не заполнены реквизиты поставщика (нет: полное наименование, ИНН" in refused.value.message_ru
        assert "«Настройки платформы» → «Реквизиты оператора»" in refused.value.message_ru
        assert (await buh.get("/api/v1/finance/documents")).json()["total"] == before
        async with signed_in(url, "root", "operator-pass-1") as op:
            r = await op.api("PATCH", "/api/v1/operator/settings", json={"supplier": dict(docs_mod.DEMO_SUPPLIER)})
            assert r.status_code == 200, r.text
        r = await buh.api("POST", "/api/v1/finance/documents", json={"kind": "invoice", "amount": "1000"})
        assert r.status_code == 202, r.text
