"""Issue 11 "lists cost what they show": call history and the action log page with a keyset
cursor (``next`` → ``after``), and so do their cabinet pages («Older» / «Newer» links): paging
through while new records are being added returns every record that existed once, none twice, in
order; a cursor that is not one is refused clearly."""
from __future__ import annotations

import html
import re
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


def _rows(page_html: str) -> list[str]:
    """The dialled numbers of the call history page's rows, top to bottom."""
    body = page_html.split("<tbody>")[1].split("</tbody>")[0]
    return re.findall(r'<td class="mono">[^<]*</td>\s*<td class="mono">([^<]*)</td>', body)


def _link(page_html: str, rel: str) -> str | None:
    m = re.search(rf'href="([^"]+)" rel="{rel}"', page_html)
    return html.unescape(m.group(1)) if m else None


async def test_the_call_history_page_walks_older_and_newer_by_links_while_calls_arrive(settings, store):
    """The cabinet's /calls pages by keyset too (the API's use case): «Older» continues after the
    last row shown, «Newer» goes back to exactly the page before, calls arriving meanwhile never
    shift a page; the newest page is always full; a forged link is refused clearly."""
    pbx = await _tenant(store)

    async def call(n: int, start: datetime) -> None:
        await save_call_record(store.db, {**_call(pbx, f"c{n:03d}", start), "callee": f"7916{n:07d}"})

    for i in range(60):  # newest first: c059 … c000
        await call(i, T0 + timedelta(minutes=i))
    numbers = [f"7916{i:07d}" for i in range(59, -1, -1)]
    async with web_stack(settings, store) as (_ctx, url):
        async with WebClient(url, headers={"Accept-Language": "en"}) as boss:
            await boss.login(f"{pbx}/boss", "tenant-pass-1")
            p1 = (await boss.get("/calls")).text
            assert _rows(p1) == numbers[:25] and _link(p1, "prev") is None
            for k in range(3):  # new calls arrive while the user reads the first page
                await call(100 + k, T0 + timedelta(days=1, minutes=k))
            p2 = (await boss.get(_link(p1, "next"))).text
            assert _rows(p2) == numbers[25:50]
            p3 = (await boss.get(_link(p2, "next"))).text
            assert _rows(p3) == numbers[50:] and _link(p3, "next") is None
            back2 = (await boss.get(_link(p3, "prev"))).text
            assert _rows(back2) == numbers[25:50]
            back1 = (await boss.get(_link(back2, "prev"))).text
            assert _rows(back1) == numbers[:25]  # exactly the page before, though newer calls exist
            assert _link(back1, "next") == _link(p1, "next")
            top = (await boss.get(_link(back1, "prev"))).text  # only 3 newer: the newest page, full
            assert _rows(top) == [f"7916{n:07d}" for n in (102, 101, 100)] + numbers[:22]
            assert _link(top, "prev") is None
            for bad in ("/calls?after=not-a-cursor", "/calls?before=AAAA",
                        f"/calls?after={_link(p1, 'next').split('=', 1)[1]}&before=x"):
                r = await boss.get(bad)
                assert r.status_code == 400 and "This page link is not valid" in r.text, bad


async def test_the_action_log_page_walks_older_and_newer_by_links_with_its_filters(settings, store):
    pbx = await _tenant(store)
    actor = {"kind": "user", "login": "boss", "ip": "127.0.0.1"}
    for i in range(120):
        await audit(store.db, Scope.pbx(pbx), actor=actor, section="integrations", operation="create",
                    object={"type": "widget", "id": f"w{i:03d}", "name": f"w{i:03d}" if i % 2 else f"x{i:03d}"})
    async with web_stack(settings, store) as (_ctx, url):
        async with WebClient(url, headers={"Accept-Language": "en"}) as boss:
            await boss.login(f"{pbx}/boss", "tenant-pass-1")
            names: list[str] = []
            page = (await boss.get("/access/log", params={"q": "w"})).text
            pages = 0
            while True:  # the filter (60 entries match) travels with the links
                names += re.findall(r"<td>(w\d{3})</td>", page)
                pages += 1
                older = _link(page, "next")
                if older is None:
                    break
                assert "q=w" in older
                page = (await boss.get(older)).text
            assert pages == 2 and names == [f"w{i:03d}" for i in range(119, 0, -2)]
            newer = _link(page, "prev")
            assert "q=w" in newer
            first = (await boss.get(newer)).text
            assert re.findall(r"<td>(w\d{3})</td>", first) == names[:50]
