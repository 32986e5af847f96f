"""Issue 11 "lists cost what they show": call history and the action log page with a keyset
cursor (``next`` → ``after``): paging through while new records are being added returns every
record that existed once, none twice, in order; a cursor that is not one is refused clearly."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from storage.repos.audit import audit
from storage.repos.base import Scope
from storage.repos.calls import save_call_record
from storage.repos.tenants import create_account, create_pbx
from storage.repos.users import create_tenant_user
from tests.integration.harness import cheap_hashes  # noqa: F401  (autouse)
from web.testing import WebClient, web_stack

T0 = datetime(2026, 4, 1, 9, 0, tzinfo=timezone.utc)


def _call(pbx: int, uuid: str, start: datetime) -> dict:
    return {"uuid": uuid, "pbx_id": pbx, "direction": "internal", "caller": "101", "callee": "102",
            "start": start, "answer": start, "end": start + timedelta(seconds=5), "duration": 5, "billsec": 5,
            "hangup_cause": "NORMAL_CLEARING"}


async def _tenant(store) -> int:
    a = await create_account(store.db, "ООО «Ромашка»", "buh@romashka.example")
    p = await create_pbx(store.db, a["account_id"], "Ромашка", "pult.local")
    await create_tenant_user(store, p["pbx_id"], "boss", "tenant-pass-1", role="administrator", language="en")
    return p["pbx_id"]


async def test_call_history_pages_every_record_once_while_calls_arrive(settings, store):
    pbx = await _tenant(store)
    existing = []
    for i in range(45):  # pairs of calls share a start time: the uuid orders them
        uuid = f"c{i:03d}"
        await save_call_record(store.db, _call(pbx, uuid, T0 + timedelta(seconds=i // 2)))
        existing.append(uuid)
    async with web_stack(settings, store) as (_ctx, url):
        async with WebClient(url) as boss:
            await boss.login(f"{pbx}/boss", "tenant-pass-1")
            seen: list[dict] = []
            after, pages, added = None, 0, 0
            ties_before, ties_after = set(), set()
            while True:
                r = await boss.api("GET", "/api/v1/calls", params={"per_page": 10, **({"after": after} if after else {})})
                assert r.status_code == 200, r.text
                body = r.json()
                seen += body["items"]
                pages += 1
                if not body["next"]:
                    break
                after = body["next"]
                last = body["items"][-1]
                # calls keep arriving: newer ones, and ones with the very start time just shown, one
                # ordered before the last record shown (never shown now) and one after it (shown once)
                shown_at = datetime.fromisoformat(last["start"])
                before, after_it = last["uuid"] + "z", f"c{int(last['uuid'][1:]) - 1:03d}z"
                ties_before.add(before)
                ties_after.add(after_it)
                for uuid, start in ((f"new{added:02d}", T0 + timedelta(hours=1, seconds=added)),
                                    (before, shown_at), (after_it, shown_at)):
                    await save_call_record(store.db, _call(pbx, uuid, start))
                added += 1
            uuids = [c["uuid"] for c in seen]
            assert len(uuids) == len(set(uuids)), "a record was shown twice"
            assert set(existing) <= set(uuids), sorted(set(existing) - set(uuids))
            keys = [(c["start"], c["uuid"]) for c in seen]
            assert keys == sorted(keys, reverse=True)  # one order across every page
            assert pages >= 5
            assert not any(u.startswith("new") for u in uuids)  # newer than the first page: not in this walk
            assert not ties_before & set(uuids) and ties_after <= set(uuids)
            r = await boss.api("GET", "/api/v1/calls", params={"after": "not-a-cursor"})
            assert r.status_code == 400 and "after" in r.json()["error"]["fields"], r.text


async def test_action_log_pages_every_entry_once_while_entries_arrive(settings, store):
    pbx = await _tenant(store)
    actor = {"kind": "user", "login": "boss", "ip": "127.0.0.1"}

    async def entry(name):
        await audit(store.db, Scope.pbx(pbx), actor=actor, section="integrations", operation="create",
                    object={"type": "widget", "id": name, "name": name}, after={"name": name})

    for i in range(33):
        await entry(f"e{i:02d}")
    async with web_stack(settings, store) as (_ctx, url):
        async with WebClient(url) as boss:
            await boss.login(f"{pbx}/boss", "tenant-pass-1")
            names, after, k = [], None, 0
            while True:
                r = await boss.api("GET", "/api/v1/action-log", params={"per_page": 7, **({"after": after} if after else {})})
                assert r.status_code == 200, r.text
                body = r.json()
                names += [i["object"]["name"] for i in body["items"] if (i.get("object") or {}).get("type") == "widget"]
                if not body["next"]:
                    break
                after = body["next"]
                await entry(f"late{k}")
                k += 1
    assert len(names) == len(set(names))
    assert {f"e{i:02d}" for i in range(33)} <= set(names)
    assert [n for n in names if n.startswith("e")] == [f"e{i:02d}" for i in range(32, -1, -1)]
