"""Monthly fees end to end with a fake clock: the operator sets the edition's fee (page, roubles),
a number's fee and the PBX's paid services (API, RU/EN field messages); a service connected on
the 10th is charged for the rest of that month at once; the monthly close on a real worker
(``close_month`` with ``today``) charges the next month in full — edition, number, services ×
quantity — exactly once; a service switched off is not
charged again."""
from __future__ import annotations

import asyncio
from datetime import date, datetime, timezone

import pytest

from jobs import client
from jobs.billing import ledger, tasks
from jobs.billing.rating import prorate
from jobs.runner import start_embedded
from jobs.testing import TEST_REDIS_URL, cleanup, configure_for_tests
from pult.clock import FixedClock, use_clock
from storage.repos.base import Scope
from storage.repos.telephony import Numbers
from storage.repos.tenants import get_pbx
from storage.repos.users import create_operator_admin
from tests.integration.harness import cheap_hashes  # noqa: F401  (autouse)
from web.testing import WebClient, web_stack

CONNECTED = datetime(2026, 3, 10, 9, 0, tzinfo=timezone.utc)  # 12:00 in Moscow


@pytest.fixture
async def env(settings, store):
    from pult.settings import set_settings

    s = settings.model_copy(update={"redis_url": TEST_REDIS_URL, "log_level": "WARNING"})
    set_settings(s)
    await create_operator_admin(store, "root", "operator-pass-1", "root@pult.test", language="en")
    prefix = configure_for_tests(s)
    loop = asyncio.get_running_loop()
    handle = await loop.run_in_executor(None, lambda: start_embedded(s, store=store, loop=loop, beat=False))
    try:
        async with web_stack(s, store) as (ctx, url):
            async with WebClient(url) as op:
                await op.login("root", "operator-pass-1")
                yield ctx, op
    finally:
        await handle.stop_async()
        cleanup(prefix)


async def test_edition_number_and_service_fees_are_charged_by_the_monthly_close(env):
    ctx, op = env
    db = ctx.store.db
    # the edition's fee in roubles with kopecks, through the console page (no float on the way)
    r = await op.post_form("/operator/editions/basic", {"name": "Базовая", "monthly_fee": "1 234,56", "active": "1"})
    assert r.status_code == 302, r.text
    assert (await op.get("/api/v1/operator/editions")).json()["items"][0]["monthly_fee"] == 123456

    acc = (await op.api("POST", "/api/v1/operator/accounts", json={
        "name": "ООО Ромашка", "email": "boss@romashka.ru", "send_link": False})).json()["account_id"]
    pbx = (await op.api("POST", "/api/v1/operator/pbxes", json={
        "account_id": acc, "name": "Офис", "edition": "basic"})).json()["pbx_id"]
    other = (await op.api("POST", "/api/v1/operator/pbxes", json={
        "account_id": acc, "name": "Склад", "edition": "basic", "demo": True})).json()["pbx_id"]
    await Numbers(db, Scope.pbx(pbx)).insert_one({"number": "74950001122", "kind": "platform",
                                                  "created_at": datetime(2026, 1, 5, tzinfo=timezone.utc)})
    await Numbers(db, Scope.pbx(other)).insert_one({"number": "74950003344", "kind": "platform",
                                                    "created_at": datetime(2026, 1, 5, tzinfo=timezone.utc)})

    # bad input: a message per field, nothing saved
    bad = [({"services": [{"key": "teleport", "monthly_price": "1"}]}, "services.0.key", "There is no such paid service."),
           ({"services": [{"key": "blacklist", "monthly_price": "1,505"}]}, "services.0.monthly_price",
            "At most two digits after the comma (kopecks)."),
           ({"services": [{"key": "blacklist", "monthly_price": "150", "quantity": 0}]}, "services.0.quantity", None),
           # another PBX's number: a clash with what is stored (409), the same message
           ({"number_fees": {"74950003344": "300"}}, "number_fees.74950003344", "This number is not connected to the PBX."),
           ({"number_fees": {"74950001122": "три сотни"}}, "number_fees.74950001122",
            "Enter the price in roubles, e.g. 990 or 990,50.")]
    for body, field, message in bad:
        r = await op.api("PATCH", f"/api/v1/operator/pbxes/{pbx}", json=body)
        assert r.status_code == (409 if "74950003344" in str(body) else 422), (body, r.text)
        fields = r.json()["error"]["fields"]
        assert field in fields and (message is None or fields[field] == message), (body, fields)
    assert (await get_pbx(db, pbx)).get("services") in (None, [])

    # connected on 10 March (the process clock set to it): charged 22/31 of a month at once
    with use_clock(FixedClock(CONNECTED)):
        r = await op.api("PATCH", f"/api/v1/operator/pbxes/{pbx}", json={
            "number_fees": {"74950001122": "300"},
            "services": [{"key": "blacklist", "monthly_price": "150,00"},
                         {"key": "extra_roles", "monthly_price": "99", "quantity": 3}]})
        assert r.status_code == 200, r.text
        assert [(s["key"], s["monthly_price"], s["quantity"], s["active_from"]) for s in r.json()["services"]] == [
            ("blacklist", 15000, 1, "2026-03-10"), ("extra_roles", 9900, 3, "2026-03-10")]
        assert (await Numbers(db, Scope.pbx(pbx)).find_one({"number": "74950001122"}))["monthly_fee"] == 30000
        march = await ledger.list_entries(db, acc, kinds=("fee",))
        part = {e["key"]: -e["amount"] for e in march}
        assert part == {f"fee:2026-03:{pbx}:service:blacklist": prorate(15000, 2026, 3, date(2026, 3, 10))[0],
                        f"fee:2026-03:{pbx}:service:extra_roles": prorate(29700, 2026, 3, date(2026, 3, 10))[0]}
        assert part[f"fee:2026-03:{pbx}:service:blacklist"] == 10645  # 150,00 × 22 / 31, half up
        # saving the same list again charges nothing more; the page shows the panel
        await op.api("PATCH", f"/api/v1/operator/pbxes/{pbx}", json={
            "services": [{"key": "blacklist", "monthly_price": "150"}, {"key": "extra_roles", "monthly_price": "99", "quantity": 3}]})
        assert len(await ledger.list_entries(db, acc, kinds=("fee",))) == 2
        page = (await op.get(f"/operator/pbxes/{pbx}")).text
        assert 'name="service.blacklist" value="1" checked' in page and 'value="300,00"' in page and "2026-03-10" in page
        r = await op.post_form(f"/operator/pbxes/{pbx}", {"action": "fees", "service.recording": "1",
                                                          "service.recording.price": "abc"})
        assert r.status_code == 422 and "Enter the price in roubles, e.g. 990 or 990,50." in r.text

        # the close on 1 April (a real worker): April in full, once; the demo PBX pays nothing
        first = await client.result(client.submit(tasks.close_month, kwargs={"today": "2026-04-01"}), timeout=60)
        assert first["status"] == "closed" and first["fees"] == 4, first
        again = await client.result(client.submit(tasks.close_month, kwargs={"today": "2026-04-01"}), timeout=60)
        assert again["status"] == "closed before"
        april = {e["key"]: -e["amount"] for e in await ledger.list_entries(db, acc, kinds=("fee",)) if e["period"] == "2026-04"}
        assert april == {f"fee:2026-04:{pbx}:edition": 123456, f"fee:2026-04:{pbx}:number:74950001122": 30000,
                         f"fee:2026-04:{pbx}:service:blacklist": 15000, f"fee:2026-04:{pbx}:service:extra_roles": 29700}
        balance = (await ledger.get_balance(db, acc))["balance"]
        assert balance == -(sum(april.values()) + sum(part.values())) and balance == await ledger.ledger_sum(db, acc)
        fee_entry = next(e for e in await ledger.list_entries(db, acc, kinds=("fee",)) if e["key"].endswith(":edition"))
        assert fee_entry["meta"]["vat"] is False and "Базовая" in fee_entry["comment"]  # the licence has no VAT

        # blacklist switched off in April: May charges the rest only
        await op.api("PATCH", f"/api/v1/operator/pbxes/{pbx}", json={
            "services": [{"key": "extra_roles", "monthly_price": "99", "quantity": 3}]})
        assert [s["key"] for s in (await get_pbx(db, pbx))["services"]] == ["extra_roles"]
        may = await client.result(client.submit(tasks.close_month, kwargs={"today": "2026-05-01"}), timeout=60)
        assert may["fees"] == 3
        keys = {e["key"] for e in await ledger.list_entries(db, acc, kinds=("fee",)) if e["period"] == "2026-05"}
        assert f"fee:2026-05:{pbx}:service:blacklist" not in keys and f"fee:2026-05:{pbx}:service:extra_roles" in keys
        log = await db["audit_log"].find({"operation": "number_fee"}).to_list(None)
        assert len(log) == 1 and log[0]["after"] == {"monthly_fee": 30000}
