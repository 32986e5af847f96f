"""The PBX state banner on every cabinet page of a PBX user (web/handlers.py PageHandler +
base.html): the demo days left, a block by the operator with its reason, a negative balance —
in the user's language, read-only, once per page (the account panel shows its own, with the demo
conversion button). An active PBX and operators see no banner.
"""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from pult import clock
from storage.repos.tenants import DEMO_DAYS, create_account, create_pbx, update_pbx
from storage.repos.users import create_operator_admin, create_tenant_user
from tests.integration.harness import cheap_hashes  # noqa: F401  (autouse)
from web.testing import WebClient, web_stack

PASSWORD = "tenant-pass-1"
PAGES = ("/", "/calls", "/account/security", "/access/roles", "/telephony/employees", "/account")


@pytest.fixture
async def stack(settings, store):
    db = store.db
    acc = await create_account(db, "Acme", "acme@example.com")
    demo = await create_pbx(db, acc["account_id"], "Demo", settings.sip_base_domain, status="demo",
                            now=clock.now() - timedelta(days=3, hours=1))
    paid = await create_pbx(db, acc["account_id"], "Paid", settings.sip_base_domain)
    for pbx, lang in ((demo, "en"), (demo, "ru"), (paid, "en")):
        await create_tenant_user(store, pbx["pbx_id"], f"admin-{lang}", PASSWORD, language=lang,
                                 account_id=acc["account_id"])
    await create_operator_admin(store, "root", "operator-pass-1", "root@example.com", language="en")
    async with web_stack(settings, store) as (ctx, url):
        yield db, url, demo["pbx_id"], paid["pbx_id"], acc["account_id"]


def banners(html: str) -> list[str]:
    return [re.sub(r"<[^>]+>|\s+", " ", m).strip()
            for m in re.findall(r'<div class="banner banner-\w+" id="pbx-banner"[^>]*>(.*?)</div>', html, re.S)]


async def test_demo_days_left_on_every_page_in_the_users_language(stack):
    db, url, demo, paid, _ = stack
    async with WebClient(url) as en, WebClient(url) as ru, WebClient(url) as other:
        await en.login(f"{demo}/admin-en", PASSWORD)
        await ru.login(f"{demo}/admin-ru", PASSWORD)
        await other.login(f"{paid}/admin-en", PASSWORD)
        for path in PAGES:
            r = await en.get(path)
            assert r.status_code == 200, (path, r.status_code)
            found = banners(r.text)
            assert len(found) == 1 and found[0] == f"Demo version: {DEMO_DAYS - 3} day(s) left.", (path, found)
            assert 'class="banner banner-info"' in r.text
            assert banners((await ru.get(path)).text)[0].startswith(f"Демо-версия: осталось {DEMO_DAYS - 3} дн."), path
            assert banners((await other.get(path)).text) == [], path  # an active PBX: nothing to say


async def test_blocks_show_their_reason_and_operators_see_no_banner(stack):
    db, url, demo, paid, account_id = stack
    await update_pbx(db, paid, {"operator_block": {"reason": "Unpaid invoice 42", "until": None}})
    async with WebClient(url) as c, WebClient(url) as op:
        await c.login(f"{paid}/admin-en", PASSWORD)
        await op.login("root", "operator-pass-1")
        for path in ("/", "/calls", "/telephony/employees"):
            r = await c.get(path)
            assert banners(r.text) == ["The PBX is blocked by the operator. Reason: Unpaid invoice 42"], path
            assert 'class="banner banner-error"' in r.text
        assert banners((await op.get("/")).text) == []

        # a negative balance blocks every PBX of the account (the operator's block comes first)
        await update_pbx(db, paid, {"operator_block": None})
        await db["balances"].update_one({"account_id": account_id}, {"$set": {"balance": -1500}}, upsert=True)
        r = await c.get("/calls")
        assert banners(r.text) == ["The account balance is below zero: the services are blocked until the account is topped up."]
        await db["balances"].update_one({"account_id": account_id}, {"$set": {"balance": 0}})
        assert banners((await c.get("/calls")).text) == []


async def test_a_page_reads_its_pbx_once_for_the_time_zone_and_the_banner(stack, monkeypatch):
    """The base handler reads the PBX for the request's time zone; the banner's state reuses that
    document instead of reading it again (one PBX read per page, not two)."""
    import storage.repos.tenants as tenants

    db, url, demo, _, _ = stack
    reads = []
    real = tenants.get_pbx

    async def counting(db_, pbx_id):
        reads.append(pbx_id)
        return await real(db_, pbx_id)

    monkeypatch.setattr(tenants, "get_pbx", counting)
    async with WebClient(url) as c:
        await c.login(f"{demo}/admin-en", PASSWORD)
        for path in ("/calls", "/account/security"):
            reads.clear()
            r = await c.get(path)
            assert r.status_code == 200
            assert banners(r.text)[0] == f"Demo version: {DEMO_DAYS - 3} day(s) left."
            assert reads == [demo], (path, reads)
