"""The Finance page in a real headless Chromium: an accountant issues an invoice, watches it being
generated (status and progress bar driven by the document job on a real worker), downloads it
from the link the page offers, and the PDF carries the operator's requisites, the amount with
VAT and the amount in words — with no console errors or CSP violations; then the tariff panel."""
from __future__ import annotations

import asyncio
import base64
import io
import os
import time

import pytest
from pypdf import PdfReader

from jobs.billing.tariffs import seed_default_tariff
from jobs.testing import running_worker
from pult.clock import FixedClock, use_clock
from storage.repos.tenants import create_account, create_pbx, save_platform_settings
from storage.repos.users import create_tenant_user
from web.testing import web_stack

from .harness import BROWSER_TEST, cheap_hashing, jobs_settings, sign_in

pytestmark = BROWSER_TEST

SHOTS = os.environ.get("PULT_SCREENSHOTS")  # a directory to keep the screenshots in (optional)


@pytest.fixture
def settings(tmp_path, monkeypatch):
    yield from jobs_settings(tmp_path, monkeypatch)


async def test_invoice_issued_followed_downloaded_and_read(settings, store, browser, tmp_path):
    # at 22:30 UTC it is already tomorrow at the PBX (Moscow): the list must still show the invoice
    with use_clock(FixedClock("2026-12-06T22:30:00Z")):
        await _invoice_issued_followed_downloaded_and_read(settings, store, browser, tmp_path)


async def _invoice_issued_followed_downloaded_and_read(settings, store, browser, tmp_path):
    db = store.db
    acc = await create_account(db, "ООО «Ромашка»", "buh@romashka.example",
                               requisites={"inn": "7712345678", "kpp": "771201001", "legal_address": "г. Казань"})
    pbx = await create_pbx(db, acc["account_id"], "Ромашка", "pult.local")
    await save_platform_settings(db, {"vat_rate": 20, "supplier": {
        "name": "ООО «Пульт Телеком»", "inn": "7707083893", "kpp": "773601001", "bank": "ПАО Сбербанк",
        "bik": "044525225", "account": "40702810900000000001", "corr_account": "30101810400000000225",
        "address": "г. Москва", "head": "Иванов И. И.", "accountant": "Петрова А. А."}})
    await seed_default_tariff(db)
    with cheap_hashing():
        await create_tenant_user(store, pbx["pbx_id"], "buh", "tenant-pass-1", display_name="Бухгалтер",
                                 language="ru", role="accountant", account_id=acc["account_id"])

    with running_worker(settings, store=store, loop=asyncio.get_running_loop(), queues="documents"):
        async with web_stack(settings, store) as (_ctx, url):
            b = browser
            await sign_in(b, url, f"{pbx['pbx_id']}/buh")
            await b.goto(f"{url}/finance")
            assert await b.eval("document.querySelector('.sidebar a.active').getAttribute('href')") == "/finance"
            text = await b.eval("document.body.innerText")
            assert "Выставить счёт" in text and "Базовый" in text  # RU page, the PBX's tariff shown
            assert await b.eval("!document.getElementById('tariff-form')")  # an accountant cannot change it

            form = "document.querySelector('form[data-kind=\"invoice\"]')"
            await b.eval(f"{form}.querySelector('#inv-amount').value = '1 100,50'; "
                         f"{form}.querySelector('button[type=submit]').click(); true")
            seen, deadline = [], time.monotonic() + 60
            while True:  # what the user sees while the job runs
                state = await b.eval(f"[{form}.querySelector('.fin-status').innerText, "
                                     f"!{form}.querySelector('progress').hidden]")
                if state not in seen:
                    seen.append(state)
                if await b.eval(f"!!{form}.querySelector('.fin-status a')"):
                    break
                assert time.monotonic() < deadline, seen
                await asyncio.sleep(0.05)
            # meanwhile the status said so and the progress bar was shown; at the end it is hidden
            assert any(text.startswith("Формируется") and bar for text, bar in seen), seen
            assert await b.eval(f"{form}.querySelector('progress').hidden")
            link = await b.eval(f"{form}.querySelector('.fin-status a').getAttribute('href')")
            assert link.startswith("/api/v1/finance/documents/") and link.endswith("/file")
            assert "Скачать" in await b.eval(f"{form}.querySelector('.fin-status a').innerText")
            await b.wait_for("document.querySelectorAll('#fin-docs tbody tr').length >= 1")
            row = await b.eval("document.querySelector('#fin-docs tbody tr').innerText")
            assert "Счёт на оплату №" in row and "Готов" in row
            assert "07.12.2026 01:30" in row  # created at the PBX's time, like every other page shows
            await b.eval("document.getElementById('inv-title').scrollIntoView(); true")
            await asyncio.sleep(0.3)  # let the scrolled page paint before the picture
            await b.screenshot((tmp_path if not SHOTS else __import__("pathlib").Path(SHOTS)) / "finance-invoice.png")
            await b.eval("window.scrollTo(0, 0); true")
            shot = await b.screenshot((tmp_path if not SHOTS else __import__("pathlib").Path(SHOTS)) / "finance.png")
            assert shot.stat().st_size > 10_000

            # download it the way the link does (same session), then read the PDF
            data = await b.eval(f"""fetch('{link}').then(function (r) {{
                if (!r.ok) {{ throw new Error('HTTP ' + r.status); }}
                return r.arrayBuffer(); }}).then(function (buf) {{
                var s = '', bytes = new Uint8Array(buf);
                for (var i = 0; i < bytes.length; i++) {{ s += String.fromCharCode(bytes[i]); }}
                return btoa(s); }})""")
            pdf = base64.b64decode(data)
            assert pdf.startswith(b"%PDF")
            text = " ".join("\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
                            .replace("\xa0", " ").split())
            assert "Одна тысяча сто рублей 50 копеек" in text
            assert "1 100,50" in text and "В том числе НДС (20%): 183,42" in text
            assert "ООО «Пульт Телеком»" in text and "7707083893" in text and "7712345678" in text
    assert b.console_problems() == []


async def test_notification_settings_form_rules_in_the_browser(settings, store, browser):
    """Inventory A §2.7 on the page: a block switched on with no address cannot be saved (Save is
    disabled, with the reason); «calculate automatically» disables the amount; an address typed
    in one block is suggested in the others; «Cancel» returns to the last saved state."""
    db = store.db
    acc = await create_account(db, "ООО «Ромашка»", "buh@romashka.example")
    pbx = await create_pbx(db, acc["account_id"], "Ромашка", "pult.local")
    with cheap_hashing():
        await create_tenant_user(store, pbx["pbx_id"], "buh", "tenant-pass-1", language="en", role="accountant",
                                 account_id=acc["account_id"])
    async with web_stack(settings, store) as (_ctx, url):
        b = browser
        await sign_in(b, url, f"{pbx['pbx_id']}/buh")
        await b.goto(f"{url}/finance")
        f = "document.querySelector('form[data-action=\"notifications\"]')"
        save = f"{f}.querySelector('button[type=submit]')"

        def typed(name, value):  # set a field and fire the event a user's typing fires
            return (f"(function () {{ var el = {f}.elements['{name}']; el.value = {value!r}; "
                    "el.dispatchEvent(new Event('input', {bubbles: true})); return true; })()")

        def clicked(selector):
            return f"{f}.querySelector('{selector}').click(); true"

        assert await b.eval(f"!{save}.disabled")
        await b.eval(clicked('input[name="credit.enabled"]'))
        assert await b.eval(f"{save}.disabled")
        assert await b.eval(f"!{f}.querySelector('[data-role=need-address]').hidden")
        await b.eval(typed("credit.emails", "buh@romashka.example"))
        assert await b.eval(f"!{save}.disabled")
        # the address is offered in the empty e-mail fields of the other blocks
        assert await b.eval("Array.from(document.querySelectorAll('#fin-emails-seen option')).map(o => o.value)") \
            == ["buh@romashka.example"]
        assert await b.eval(f"{f}.elements['block.emails'].getAttribute('list')") == "fin-emails-seen"

        await b.eval(clicked('input[name="low_balance.mode"][value="auto"]'))
        assert await b.eval(f"{f}.elements['low_balance.threshold'].disabled")
        await b.eval(clicked('input[name="low_balance.mode"][value="manual"]'))
        assert await b.eval(f"!{f}.elements['low_balance.threshold'].disabled")
        assert await b.eval(f"{f}.elements['low_balance.threshold'].value") == "100,00"

        await b.eval(f"{save}.click(); true")
        await b.wait_for(f"{f}.querySelector('.fin-status').innerText === 'Saved.'")
        # change things, then «Cancel»: back to what was saved
        await b.eval(clicked('input[name="block.enabled"]'))
        await b.eval(typed("credit.emails", "other@romashka.example"))
        await b.eval(clicked('[data-role="cancel"]'))
        assert await b.eval(f"{f}.elements['credit.emails'].value") == "buh@romashka.example"
        assert await b.eval(f"{f}.elements['credit.enabled'].checked && !{f}.elements['block.enabled'].checked")
        assert await b.eval(f"!{save}.disabled")
    assert b.console_problems() == []
