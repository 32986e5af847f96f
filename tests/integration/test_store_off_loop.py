"""Issue 11: no store work on the event loop (embedded mode).

A query that takes long — here one whose filter value blocks its comparison until the test lets
it go, so "slow" does not depend on the machine — runs in the store thread: while it runs, the
server's loop still answers ``/healthz`` at once, and the query still returns its answer after.
"""
from __future__ import annotations

import asyncio
import threading
import time
import urllib.request

from web.testing import web_stack


class SlowValue:
    """A filter value whose every comparison waits until ``gate`` opens (a deliberately slow query)."""

    def __init__(self, gate: threading.Event, value):
        self.gate, self.value = gate, value
        self.compared = threading.Event()

    def __eq__(self, other):
        self.compared.set()
        self.gate.wait(30)
        return other == self.value

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = None


def _get(url: str) -> tuple[int, float]:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=20) as r:
        r.read()
        return r.status, time.perf_counter() - started


async def test_a_slow_query_does_not_delay_healthz(settings, store):
    if store.kind != "embedded":
        return  # MongoDB's driver is asynchronous already: nothing of the query runs on the loop
    await store.db.things.insert_many([{"n": i, "name": f"thing {i}"} for i in range(50)])
    gate = threading.Event()
    slow = SlowValue(gate, "thing 7")
    release = threading.Timer(10, gate.set)  # a safety net: never leave the store thread stuck
    release.start()
    try:
        async with web_stack(settings, store) as (_ctx, url):
            query = asyncio.ensure_future(store.db.things.find({"name": slow}).to_list())
            # the query is running (stuck in its first comparison) in the store thread
            assert await asyncio.to_thread(slow.compared.wait, 5)
            statuses = []
            for _ in range(5):
                status, took = await asyncio.to_thread(_get, f"{url}/healthz")
                statuses.append((status, took))
            assert not query.done(), "the slow query was meant to be still running"
            assert all(s == 200 for s, _ in statuses)
            assert max(t for _, t in statuses) < 2.0, statuses  # at once, not after the query (≥ 10 s)
            gate.set()
            found = await asyncio.wait_for(query, 20)
            assert [d["n"] for d in found] == [7]
    finally:
        gate.set()
        release.cancel()


async def test_urgent_store_work_goes_ahead_of_queued_cabinet_queries(settings, store):
    """An xml_curl lookup or a call flow (marked urgent) has its own store thread: its reads run
    beside a long cabinet read (a shared lock) and never behind the queue of cabinet queries."""
    from storage.priority import urgent

    if store.kind != "embedded":
        return
    await store.db.things.insert_many([{"n": i, "name": f"thing {i}"} for i in range(20)])
    running, queued = threading.Event(), threading.Event()
    first, second = SlowValue(running, "thing 1"), SlowValue(queued, "thing 2")
    release = threading.Timer(15, lambda: (running.set(), queued.set()))
    release.start()
    try:
        slow = asyncio.ensure_future(store.db.things.find({"name": first}).to_list())
        assert await asyncio.to_thread(first.compared.wait, 5)  # running, stuck
        behind = [asyncio.ensure_future(store.db.things.find({"name": second}).to_list()) for _ in range(3)]
        await asyncio.sleep(0.05)  # the ordinary queries are queued
        with urgent():
            lookup = asyncio.ensure_future(store.db.things.find_one({"n": 5}))
        # an urgent read runs beside the running read (shared lock), ahead of the queue
        doc = await asyncio.wait_for(lookup, 5)
        assert doc["n"] == 5
        assert not slow.done(), "the urgent lookup waited for the running query"
        assert not any(b.done() for b in behind), "the urgent lookup waited for the queued queries"
        running.set()
        queued.set()
        assert [d["n"] for d in await slow] == [1]
        for b in behind:
            assert [d["n"] for d in await asyncio.wait_for(b, 10)] == [2]
    finally:
        running.set()
        queued.set()
        release.cancel()


async def test_a_webhook_event_a_call_emits_does_not_take_the_urgent_path():
    """The call engine runs urgent (its reads go ahead of the cabinet's); the ``call.started``
    webhook event it emits runs in a task nobody waits on and must not compete with the next
    caller's reads: that task is ordinary."""
    import asyncio

    from esl_control.model.webhooks import services
    from storage.priority import is_urgent, mark_urgent

    seen: list[bool] = []

    async def emit(db, pbx_id, event_type, data, *, event_id):
        seen.append(is_urgent())
        return []

    original = services.emit
    services.emit = emit
    try:
        async def call_flow():
            mark_urgent()
            services.emit_soon(object(), 101, "call.started", {}, event_id="call.started:u1")
            assert is_urgent()  # the flow itself stays urgent
            await asyncio.sleep(0)
        await asyncio.create_task(call_flow())
        for _ in range(10):
            if seen:
                break
            await asyncio.sleep(0.01)
    finally:
        services.emit = original
    assert seen == [False]
