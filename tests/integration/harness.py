"""Set-up shared by the integration tests that drive a real server as the platform operator.

- :func:`cheap_hashes`: an autouse fixture to import into a test module (``from
  tests.integration.harness import cheap_hashes  # noqa: F401``); it switches password hashing to
  the cheapest profile for the module's tests and back afterwards, so signing in costs
  milliseconds instead of the production hash's hundreds.
- :func:`operator_stack`: creates the operator administrator ``root`` (:data:`OPERATOR_PASSWORD`),
  starts the server and yields ``(ctx, url, op)`` with ``op`` a client signed in as ``root``.
- :func:`new_account_pbx`: an account and one PBX in it, created through the operator API.

Kept in one place so that every operator-console test starts from the same, documented state.
"""
from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator

import pytest

from storage.repos.users import create_operator_admin
from web.auth.passwords import set_hash_profile
from web.testing import WebClient, web_stack

OPERATOR_LOGIN = "root"
OPERATOR_PASSWORD = "operator-pass-1"


@pytest.fixture(autouse=True)
def cheap_hashes():
    """Cheapest password hashing for the test, the default profile restored afterwards."""
    set_hash_profile("cheapest")
    yield
    set_hash_profile("default")


@asynccontextmanager
async def operator_stack(settings, store) -> AsyncIterator[tuple[object, str, WebClient]]:
    """The operator ``root`` (English), a running server and ``op``, a client signed in as
    ``root``; yields ``(ctx, url, op)``."""
    await create_operator_admin(store, OPERATOR_LOGIN, OPERATOR_PASSWORD, "root@pult.test", language="en")
    async with web_stack(settings, store) as (ctx, url):
        async with WebClient(url) as op:
            await op.login(OPERATOR_LOGIN, OPERATOR_PASSWORD)
            yield ctx, url, op


async def new_account_pbx(op: WebClient, account_name: str, email: str, edition: str,
                          pbx_name: str = "Офис") -> tuple[int, int]:
    """An account (no invitation link sent) and a PBX of ``edition`` in it, created through the
    operator API by ``op``; returns ``(account_id, pbx_id)``."""
    r = await op.api("POST", "/api/v1/operator/accounts", json={
        "name": account_name, "email": email, "send_link": False})
    assert r.status_code == 201, r.text
    account_id = r.json()["account_id"]
    r = await op.api("POST", "/api/v1/operator/pbxes", json={
        "account_id": account_id, "name": pbx_name, "edition": edition})
    assert r.status_code == 201, r.text
    return account_id, r.json()["pbx_id"]
