"""Set-up shared by the integration tests that drive a real server as the platform operator.

- :func:`cheap_hashes`: an autouse fixture to import into a test module (``from
  tests.integration.harness import cheap_hashes  # noqa: F401``); it switches password hashing to
  the cheapest profile for the module's tests and back afterwards, so signing in costs
  milliseconds instead of the production hash's hundreds.
- :func:`operator_stack`: creates the operator administrator ``root`` (:data:`OPERATOR_PASSWORD`),
  starts the server and yields ``(ctx, url, op)`` with ``op`` a client signed in as ``root``.
- :func:`new_account_pbx`: an account and one PBX in it, created through the operator API.
- :class:`SmsGateway`: a local HTTP SMS gateway (the protocol of ``jobs/sms.py``) recording what
  it is asked to send, with scripted answers for the retry tests.
- Time: tests set the process clock (``pult.clock.use_clock(FixedClock(...))``) and move it
  (``advance``) for expiry and cooldown checks instead of sleeping.

Kept in one place so that every operator-console test starts from the same, documented state.
"""
from __future__ import annotations

import asyncio
import json
import subprocess
import threading
import time
from contextlib import asynccontextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import AsyncIterator

import pytest

from jobs.testing import TEST_REDIS_URL, cleanup, configure_for_tests
from pult.passwords import set_hash_profile
from pult.settings import load_settings
from storage.repos.users import create_operator_admin
from web.testing import WebClient, web_stack

OPERATOR_LOGIN = "root"
OPERATOR_PASSWORD = "operator-pass-1"


@pytest.fixture(autouse=True)
def cheap_hashes():
    """Cheapest password hashing for the test, the default profile restored afterwards."""
    set_hash_profile("cheapest")
    yield
    set_hash_profile("default")


@pytest.fixture(scope="module")
def jobs_prefix():
    """A key prefix of the module's own in the jobs' test Redis (queues, results), removed after."""
    s = load_settings(redis_url=TEST_REDIS_URL, log_level="WARNING")
    prefix = configure_for_tests(s)
    yield prefix
    cleanup(prefix, TEST_REDIS_URL)


def stop_processes(*procs: subprocess.Popen | None) -> None:
    """Stop the child processes still running (SIGTERM; SIGKILL after 20 s); None is skipped."""
    for proc in procs:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


async def wait_for(check, timeout: float = 30.0, what: str = "condition", every: float = 0.1):
    """Call ``check()`` (sync or async) until it is truthy and return that value; fail naming
    ``what`` after ``timeout`` seconds (what a worker or a server does happens in its own time)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(every)


async def acme_pbx(db, settings) -> int:
    """The id of a new PBX "Acme" of a new account "Acme" (the PBX defaults as a new PBX gets them)."""
    from storage.repos.tenants import create_account, create_pbx

    acc = await create_account(db, "Acme", "acme@example.com")
    return (await create_pbx(db, acc["account_id"], "Acme", settings.sip_base_domain))["pbx_id"]


async def two_pbxes(db) -> None:
    """PBXs 101 and 202 of two accounts, active, with the PBX defaults (SIP domain
    ``vpbx<id>.pult.local``) — what the provisioning tests answer FreeSWITCH about."""
    from esl_control.model.bootstrap import ensure_pbx_defaults
    from storage.repos.base import Scope
    from storage.repos.tenants import Pbxes, create_account

    for pbx_id in (101, 202):
        account = await create_account(db, f"Account {pbx_id}", f"a{pbx_id}@example.com")
        await Pbxes(db, Scope.platform()).insert_one({"pbx_id": pbx_id, "account_id": account["account_id"],
                                                      "name": f"PBX {pbx_id}", "status": "active",
                                                      "sip_domain": f"vpbx{pbx_id}.pult.local"})
        await ensure_pbx_defaults(db, pbx_id, base_domain="pult.local")


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


class SmsGateway:
    """A local SMS gateway on a free loopback port, serving ``url`` (ending in ``path``).

    Every POST is recorded in :attr:`requests` as ``{"path", "headers", "json"}``; it is answered
    with the next ``(status, body)`` pair of :attr:`script`, or, when the script is empty, 200
    and ``{"id": "msg-<n>"}`` with n the request's number. Call :meth:`stop` when done."""

    def __init__(self, path: str = "/sms") -> None:
        self.requests: list[dict] = []
        self.script: list[tuple[int, dict]] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                gateway.requests.append({"path": self.path, "headers": dict(self.headers),
                                         "json": json.loads(body)})
                status, answer = (gateway.script.pop(0) if gateway.script
                                  else (200, {"id": f"msg-{len(gateway.requests)}"}))
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{path}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def messages(self) -> list[dict]:
        """The JSON bodies received so far (``to``, ``text``, ...), oldest first."""
        return [r["json"] for r in self.requests]

    def reset(self) -> None:
        """Forget the requests received and any answers still scripted."""
        self.requests.clear()
        self.script.clear()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
