"""A signed-in request reads its user and the PBX the user was of last time together (one trip to
the embedded store, web/handlers.py ``_read_user``): the PBX so read is only a guess, so whatever
changes between requests — the PBX's time zone, or the user's PBX itself — the next request
answers from the PBX the user is of now, and sees that PBX's calls only."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pult.clock import FixedClock, use_clock
from storage.repos.calls import save_call_record
from storage.repos.tenants import create_account, create_pbx, update_pbx
from storage.repos.users import create_tenant_user
from tests.integration.harness import cheap_hashes  # noqa: F401  (autouse)
from web.testing import WebClient, web_stack

NOW = "2026-12-06T22:30:00Z"


def _call(uuid: str, pbx: int, start: datetime) -> dict:
    return {"uuid": uuid, "pbx_id": pbx, "node": "fs1", "direction": "outbound", "caller": "2001",
            "callee": "79161234567", "start": start, "answer": start, "end": start + timedelta(seconds=60),
            "duration": 60, "billsec": 55, "hangup_cause": "NORMAL_CLEARING"}


async def test_each_request_answers_from_the_pbx_the_user_is_of_now(settings, store):
    db = store.db
    acc = await create_account(db, "ООО «Восток»", "boss@vostok.example")
    east = (await create_pbx(db, acc["account_id"], "Восток", "pult.test", time_zone="Asia/Vladivostok"))["pbx_id"]
    west = (await create_pbx(db, acc["account_id"], "Запад", "pult.test", time_zone="Europe/London"))["pbx_id"]
    user = await create_tenant_user(store, east, "admin", "tenant-pass-0", language="en")
    t0 = datetime(2026, 12, 6, 20, 0, tzinfo=timezone.utc)
    for i in range(3):
        await save_call_record(db, _call(f"east-{i}", east, t0 + timedelta(minutes=i)))
    await save_call_record(db, _call("west-0", west, t0))
    with use_clock(FixedClock(NOW)):
        async with web_stack(settings, store) as (_ctx, url):
            async with WebClient(url, headers={"Accept-Language": "en"}) as c:
                await c.login(f"{east}/admin", "tenant-pass-0")

                async def seen() -> tuple[str, list[str]]:
                    since = (await c.get("/api/v1/dashboard")).json()["since"]
                    calls = (await c.get("/api/v1/calls")).json()["items"]
                    return since, sorted(x["uuid"] for x in calls)

                # 22:30 UTC is 7 December in Vladivostok (UTC+10): its midnight is 14:00 UTC on the 6th
                for _ in range(3):  # the first request and those that read the PBX beside the user
                    assert await seen() == ("2026-12-06T14:00:00+00:00", ["east-0", "east-1", "east-2"])
                await update_pbx(db, east, {"time_zone": "Asia/Tokyo"})  # UTC+9
                assert await seen() == ("2026-12-06T15:00:00+00:00", ["east-0", "east-1", "east-2"])
                # the user moves to the other PBX: its zone (London, UTC+0 in December) and its calls
                await db["users"].update_one({"_id": user["_id"]}, {"$set": {"pbx_id": west}})
                for _ in range(2):
                    assert await seen() == ("2026-12-06T00:00:00+00:00", ["west-0"])
