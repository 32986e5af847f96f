"""The jobs' store hand-over: a store a job opened for itself (standalone style) and the server's
store bound later (embedded style) never deadlock the server's event loop."""
from __future__ import annotations

import asyncio
import threading

import pytest

from jobs import context
from storage.client import open_store

pytestmark = pytest.mark.timeout(30)


async def test_binding_the_servers_store_after_a_job_opened_its_own_does_not_block_the_loop(settings):
    context.use_settings(settings)
    try:
        async def count(store):
            return await store.db["probe"].count_documents({})

        # a job thread needs the store before the server bound one: a private store is opened
        got = await asyncio.to_thread(context.call_store, count)
        assert got == 0
        private_threads = [t for t in threading.enumerate() if t.name == "pult-jobs-store"]
        assert private_threads

        server_store = open_store(settings)
        await server_store.start()
        started = asyncio.get_running_loop().time()
        context.bind_store(server_store, asyncio.get_running_loop())  # on the loop thread itself
        await server_store.db["probe"].insert_one({"from": "server"})
        assert await asyncio.to_thread(context.call_store, count) == 1  # jobs now use the server's
        context.unbind_store()
        assert asyncio.get_running_loop().time() - started < 5
        assert not any(t.is_alive() for t in private_threads)  # the private loop thread ended
        await server_store.close()
    finally:
        context.unbind_store()
        context.use_settings(None)
