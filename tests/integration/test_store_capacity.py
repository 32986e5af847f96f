"""Issue 11: the embedded store knows its limits — /readyz and the operator's dashboard warn from
80 % of the configured capacity (``store_capacity_documents``) on, and say what to do."""
from __future__ import annotations

from tests.integration.harness import cheap_hashes, operator_stack  # noqa: F401  (cheap_hashes: autouse)
from web.testing import WebClient


async def test_readyz_and_the_operator_console_warn_at_80_percent(settings, store):
    if store.kind != "embedded":
        return
    store.settings = settings.model_copy(update={"store_capacity_documents": 1000})
    async with operator_stack(settings, store) as (_ctx, url, op):
        async with WebClient(url) as anon:
            r = await anon.get("/readyz")
            assert r.status_code == 200, r.text
            usage = r.json()["checks"]["store"]["capacity"]
            assert usage["capacity"] == 1000 and not usage["warning"] and "warnings" not in r.json()
            before = usage["documents"]
            page = (await op.get("/")).text
            assert 'id="store-capacity"' in page and "nearly full" not in page

            await store.db.things.insert_many([{"n": i} for i in range(800 - before)])
            r = await anon.get("/readyz")
            assert r.status_code == 200  # still ready: a warning, not an outage
            body = r.json()
            assert body["checks"]["store"]["capacity"]["documents"] == 800
            assert body["checks"]["store"]["capacity"]["warning"] is True
            assert "80%" in body["warnings"][0] and "pult store export" in body["warnings"][0]
            page = (await op.get("/")).text
            assert "The embedded store is nearly full" in page
