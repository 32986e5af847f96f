"""Communication expenses filters (inventory A §2.2): by months the report covers every PBX of the
account (choosing one PBX is refused with the reason), by destinations one PBX may be chosen;
a destination type filter; the «since last month» / «since the month before last» presets.
"""
from __future__ import annotations

from datetime import timedelta

from jobs.billing import services
from pult import clock
from pult.clock import FixedClock, use_clock
from storage.repos.tenants import create_pbx
from tests.integration.test_finance_flows import (MSK, call_record, cheap_hashes, env, fin_settings, signed_in,  # noqa: F401
                                                  sms)

BY_MONTHS_ONE_PBX = ("By months the report covers every PBX of the account; show it by destinations "
                     "to choose one PBX.")


async def test_expenses_by_pbx_zone_and_presets(env):
    """(At a fixed 12:00 at the PBX, so "today" holds the calls whatever hour the suite runs at.)"""
    with use_clock(FixedClock("2026-12-15T09:00:00Z")):
        await _expenses_by_pbx_zone_and_presets(env)


async def _expenses_by_pbx_zone_and_presets(env):
    db = env["db"]
    second = await create_pbx(db, env["a"], "Склад", "pult.local")
    start = clock.now().replace(microsecond=0) - timedelta(hours=2)
    for uuid, pbx, number, sec in (("e1", env["pa"], "74951234567", 60), ("e2", env["pa"], "79161234567", 60),
                                   ("e3", second["pbx_id"], "79161234567", 120)):
        await call_record(db, pbx, uuid, number, sec, start)
        assert (await services.rate_record(db, uuid))["status"] == "rated"
    today = clock.today(MSK)
    period = {"since": today.strftime("%d.%m.%Y"), "until": today.strftime("%d.%m.%Y")}
    async with signed_in(env["url"], f"{env['pa']}/buh") as c:
        async def report(**params):
            return await c.get("/api/v1/finance/expenses", params={**period, **params})

        whole = (await report(by="destinations")).json()
        assert whole["totals"]["calls"] == 3 and whole["totals"]["calls_cost"] == 100 + 200 + 400

        r = await report(by="months", pbx_id=str(env["pa"]))
        assert r.status_code == 422 and r.json()["error"]["fields"] == {"pbx_id": BY_MONTHS_ONE_PBX}
        one = (await report(by="destinations", pbx_id=str(second["pbx_id"]))).json()
        assert one["totals"]["calls"] == 1 and one["totals"]["calls_cost"] == 400 and one["pbx_id"] == second["pbx_id"]
        assert (await report(by="destinations", pbx_id=str(env["pb"]))).status_code == 404  # another account's

        mobile = (await report(by="destinations", zone="mobile")).json()
        assert mobile["totals"]["calls"] == 2 and mobile["totals"]["calls_cost"] == 600
        r = await report(zone="satellite")
        assert r.json()["error"]["fields"] == {"zone": "Choose the destination type from the list."}

        r = (await c.get("/api/v1/finance/expenses", params={"preset": "last_month"})).json()
        first_of_last = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
        assert r["since"] == first_of_last.isoformat() and r["until"] == today.isoformat()
        assert r["totals"]["calls"] == 3
        r = (await c.get("/api/v1/finance/expenses", params={"preset": "month_before_last"})).json()
        assert r["since"] == (first_of_last - timedelta(days=1)).replace(day=1).isoformat()
        r = await c.get("/api/v1/finance/expenses", params={"preset": "yesterday"})
        assert r.status_code == 422 and "preset" in r.json()["error"]["fields"]

        # the export takes the same filters, with the same refusal
        r = await c.api("POST", "/api/v1/finance/documents", json={"kind": "expenses", **period, "by": "months",
                                                                   "pbx_id": env["pa"]})
        assert r.status_code == 422 and r.json()["error"]["fields"] == {"pbx_id": BY_MONTHS_ONE_PBX}
        r = await c.api("POST", "/api/v1/finance/documents", json={"kind": "expenses", **period,
                                                                   "by": "destinations", "pbx_id": env["pa"]})
        assert r.status_code == 202 and r.json()["status"] == "queued"
        page = (await c.get("/finance")).text
        assert 'id="exp-pbx" name="pbx_id" disabled' in page and "Склад" in page and 'value="month_before_last"' in page
