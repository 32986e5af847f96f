"""A webhook worker process killed (SIGKILL) in the middle of a delivery: the job is redelivered to
the next worker, and the receiver accepts the event once, signed, with the same delivery id
(like tests/integration/test_faults.py's killed mail worker).

The worker processes open the embedded store themselves (one process at a time holds it), so
the test sets the subscription up, closes its store, runs the workers, and reads the log after.
"""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from esl_control.model.webhooks import services
from jobs.testing import TEST_REDIS_URL, cleanup, configure_for_tests
from pult.settings import load_settings, set_settings
from storage.repos.tenants import create_account, create_pbx
from tests.integration.harness import stop_processes, wait_for
from tests.integration.test_webhooks import Receiver

ROOT = Path(__file__).resolve().parents[2]
CLAIM_S = 3


class HoldingReceiver(Receiver):
    """Verifies the signature; holds the first request until told the worker is dead, then drops
    it unanswered (the killed delivery never completed); accepts the next ones."""

    path = "/in"

    def __init__(self):
        self.held_ids: list[str] = []
        self.in_request, self.killed = threading.Event(), threading.Event()
        super().__init__()

    def take(self, request: BaseHTTPRequestHandler, body: bytes) -> None:
        if not self.in_request.is_set():
            self.held_ids.append(request.headers.get("Pult-Delivery-Id"))
            self.in_request.set()
            self.killed.wait(30)
            request.close_connection = True
            return  # no answer: the sender died waiting for it
        self.accepted.append({"id": request.headers.get("Pult-Delivery-Id"), "body": body})
        request.send_response(200)
        request.end_headers()

    def stop(self):
        self.killed.set()
        super().stop()


def _worker_process(settings, prefix: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "REDIS_URL": settings.redis_url,
           "PULT_DATA_DIR": str(settings.data_dir), "PULT_LOG_LEVEL": "WARNING",
           "PULT_WEBHOOK_ALLOW_PRIVATE": "true"}
    return subprocess.Popen([sys.executable, "-m", "jobs.testing", "worker", "--prefix", prefix,
                             "--queues", "webhooks", "--visibility-timeout", "1", "--claim-ttl", str(CLAIM_S)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def test_a_worker_killed_mid_delivery_is_redelivered_and_the_receiver_gets_it_once(tmp_path, monkeypatch):
    from jobs import client, health
    from jobs.webhooks import deliver
    from storage.client import open_store

    monkeypatch.delenv("MONGO_URL", raising=False)
    settings = load_settings(data_dir=tmp_path / "data", redis_url=TEST_REDIS_URL, log_level="WARNING",
                             http_port=8080, outbound_port=0, webhook_allow_private=True)
    set_settings(settings)
    prefix = configure_for_tests(settings)
    receiver = HoldingReceiver()
    store = open_store(settings)
    await store.start()
    previous = services._dispatcher
    services.set_dispatcher(None)  # queued by hand below, once the store is closed
    try:
        acc = await create_account(store.db, "Alpha", "owner@alpha.example")
        pbx = (await create_pbx(store.db, acc["account_id"], "Alpha", "pult.test"))["pbx_id"]
        sub = await services.WebhookService(store.db, pbx).create({"url": receiver.url, "events": ["call.ended"]})
        receiver.secret = sub["secret"]
        (did,) = await services.emit(store.db, pbx, "call.ended", {"call_id": "c-kill"}, event_id="call.ended:c-kill")
    finally:
        services.set_dispatcher(previous)
        await store.close()

    doomed = _worker_process(settings, prefix)
    successor = None
    try:
        await wait_for(lambda: _alive(health, doomed.pid), 60, "the first worker")
        task_id = client.submit(deliver, kwargs={"delivery_id": did, "pbx_id": pbx, "round": 0,
                                                 "idempotency_key": f"{did}:0"}, what="a webhook delivery")
        await asyncio.get_running_loop().run_in_executor(None, receiver.in_request.wait, 30)
        assert receiver.in_request.is_set(), "the delivery did not start"
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait(10)
        receiver.killed.set()
        assert receiver.accepted == []
        successor = _worker_process(settings, prefix)
        result = await client.result(task_id, timeout=60)
        assert result["status"] == "delivered" and result["status_code"] == 200
        await asyncio.sleep(1.5)  # a second delivery would show up here
        assert [a["id"] for a in receiver.accepted] == [did] == receiver.held_ids
    finally:
        receiver.killed.set()
        stop_processes(doomed, successor)
        receiver.stop()
        cleanup(prefix)
    store = open_store(settings)  # the workers are gone: the store is this process's again
    await store.start()
    try:
        (entry,) = await services.WebhookService(store.db, pbx).deliveries(sub["id"])
        assert entry["status"] == "delivered" and entry["attempts"] == 1  # the killed attempt left no trace
    finally:
        await store.close()
        set_settings(None)


async def _alive(health, pid: int) -> bool:
    return any(w.get("pid") == pid for w in await health.workers())
