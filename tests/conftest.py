"""Shared fixtures.

- ``settings``: Settings with a fresh data directory (tmp) and loopback-only addresses.
- ``store``: an opened store, parametrised over the embedded store and — when ``MONGO_URL``
  is set — a real MongoDB (a fresh database per test); the MongoDB case is skipped and reported
  as skipped otherwise.
"""
from __future__ import annotations

import os
import uuid

import pytest

from pult.settings import load_settings, set_settings

pytest_plugins = ["tests.fsim.pytest_plugin"]

MONGO_URL = os.environ.get("MONGO_URL")


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.delenv("MONGO_URL", raising=False)
    s = load_settings(data_dir=tmp_path / "data", http_port=8080, outbound_port=0)
    set_settings(s)
    yield s
    set_settings(None)


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
