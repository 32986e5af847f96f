"""Shared fixtures.

- ``settings``: Settings with a fresh data directory (tmp) and loopback-only addresses.
- ``redis``: an asyncio client of the suite's test Redis (database 12; keys are the test's own).
- ``store``: an opened store, parametrised over the embedded store and — when ``MONGO_URL``
  is set — a real MongoDB (a fresh database per test); the MongoDB case is skipped and reported
  as skipped otherwise.
- ``embedded_store``: an opened embedded store in the test's own data directory, for the tests of
  the ESL side that need the embedded store only (not parametrised over MongoDB).
"""
from __future__ import annotations

import os
import uuid

import pytest
from hypothesis import settings as hypothesis_settings

from pult.settings import load_settings, set_settings

# No test depends on how fast the machine is: Hypothesis's per-example deadline (200 ms) is a
# timing assertion, and a loaded CI machine (or the first call that loads phone-number metadata)
# trips it. Speed is measured in tests/bench/, never asserted here.
hypothesis_settings.register_profile("pult", deadline=None)
hypothesis_settings.load_profile("pult")

pytest_plugins = ["tests.fsim.pytest_plugin"]

MONGO_URL = os.environ.get("MONGO_URL")


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.delenv("MONGO_URL", raising=False)
    s = load_settings(data_dir=tmp_path / "data", http_port=8080, outbound_port=0)
    set_settings(s)
    yield s
    set_settings(None)


@pytest.fixture
async def redis():
    import redis.asyncio as aioredis

    from jobs.testing import TEST_REDIS_BASE

    client = aioredis.from_url(f"{TEST_REDIS_BASE}/12", decode_responses=True)
    try:
        await client.ping()
    except Exception as exc:  # pragma: no cover - the suite's Redis is part of the set-up
        pytest.fail(f"test Redis not reachable at {TEST_REDIS_BASE}: {exc}")
    yield client
    await client.aclose()


@pytest.fixture(params=["embedded", "mongodb"])
async def store(request, settings):
    from storage.client import open_store

    if request.param == "mongodb":
        if not MONGO_URL:
            pytest.skip("MONGO_URL is not set: the MongoDB variant of this test needs a real MongoDB")
        settings = settings.model_copy(update={"mongo_url": MONGO_URL,
                                               "mongo_db": f"pult_test_{uuid.uuid4().hex[:10]}"})
    st = open_store(settings)
    await st.start()
    yield st
    if st.kind == "mongodb":
        await st.db.client.drop_database(settings.mongo_db)
    await st.close()


@pytest.fixture
async def embedded_store(tmp_path):
    from storage.client import open_store

    st = open_store(load_settings(data_dir=tmp_path / "data"))
    await st.start()
    yield st
    await st.close()
