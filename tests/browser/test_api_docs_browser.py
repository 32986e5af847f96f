"""The API reference page in a real headless Chromium: it renders with its stylesheet, links
every operation from its contents, and the browser asks no other host for anything (every request
it makes goes to Pult itself), with no console errors or CSP violations."""
from __future__ import annotations

from urllib.parse import urlparse

from web.testing import web_stack

from .harness import BROWSER_TEST

pytestmark = BROWSER_TEST


async def test_the_reference_page_loads_only_from_pult(settings, store, browser, shots):
    async with web_stack(settings.model_copy(update={"default_language": "en"}), store) as (ctx, url):
        b = browser
        await b.send("Network.enable")
        await b.goto(f"{url}/api/v1/docs#AccountPaymentsApi_post")
        requested = [e["params"]["request"]["url"] for e in b.events
                     if e.get("method") == "Network.requestWillBeSent"]
        assert any(u.endswith("/api/v1/docs#AccountPaymentsApi_post") or "/api/v1/docs" in u for u in requested)
        assert any("/static/css/api-docs.css" in u for u in requested)
        own = urlparse(url).netloc
        assert all(urlparse(u).netloc == own for u in requested if not u.startswith("data:")), requested
        # the stylesheet applies (the method badge is coloured, the contents are a side column)
        assert await b.eval("getComputedStyle(document.querySelector('#AccountPaymentsApi_post .m-post'))"
                            ".backgroundColor") == "rgb(31, 111, 235)"
        assert await b.eval("getComputedStyle(document.querySelector('.doc-nav')).position") == "sticky"
        ops = await b.eval("document.querySelectorAll('article.op').length")
        links = await b.eval("document.querySelectorAll('.doc-nav a[href^=\"#\"]').length")
        assert ops > 150 and links >= ops
        text = await b.eval("document.getElementById('AccountPaymentsApi_post').innerText")
        assert "POST /api/v1/accounts/{account_id}/payments" in text and "integrationKey" in text
        await b.screenshot(shots / "api-docs-en.png")
        assert b.console_problems() == []
