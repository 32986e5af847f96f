"""Fault injection, each case with a real process and a real part (issue 9):

- Redis stopped and restarted under a running server with its embedded worker: pages and the API
  answer 503 with a clear message meanwhile (login too), a document requested meanwhile is 503
  and stored as "failed" (nothing half-done), readiness says what is down; afterwards everything
  recovers without a restart (the supervisor restarts a worker that died), readiness is true
  again, and every job queued before, during or after runs exactly once.
- A Celery worker process killed (SIGKILL) in the middle of sending an e-mail: the job is
  redelivered to the next worker and the e-mail is sent once.
- The embedded store's process killed (SIGKILL) during concurrent writes and reopened: every
  write it confirmed is there, and the lists and jobs that read it still work.

Redis here is a private ``redis-server`` on a free port with an append-only file (so a restart
keeps the queued jobs, as a production Redis with persistence does).
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
import redis

from jobs.billing import documents as docs_mod
from jobs.testing import cleanup, configure_for_tests
from storage.repos.api_keys import ApiKeys
from storage.repos.base import Scope
from storage.repos.tenants import create_account, create_pbx, save_platform_settings
from storage.repos.users import create_tenant_user
from tests.integration.harness import cheap_hashes, stop_processes, wait_for  # noqa: F401  (cheap_hashes: autouse)
from pult.settings import load_settings, set_settings
from web.testing import WebClient, web_stack

ROOT = Path(__file__).resolve().parents[2]
OUTAGE_SECONDS = 3  # pages and the API are probed during it; the worker reconnects or is restarted
UNAVAILABLE = "The service is temporarily unavailable. Please try again in a minute."


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A private redis-server process (append-only file, fsync always) that can be stopped and
    started again on the same port and directory."""

    def __init__(self, directory: Path) -> None:
        self.port = _free_port()
        self.dir = directory
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.RedisError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        client.close()

    def stop(self) -> None:
        """Stop it the way a service manager does (SIGTERM: the append-only file is flushed)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


# --------------------------------------------------------------------------- Redis outage
@pytest.fixture
async def outage_env(tmp_path, sink):
    from jobs import health
    from jobs.runner import EmbeddedSupervisor
    from storage.client import open_store
    from web.context import make_redis

    server = RedisServer(tmp_path / "redis")
    server.start()
    settings = load_settings(data_dir=tmp_path / "data", http_port=8080, outbound_port=0,
                             redis_url=server.url, smtp_port=sink.port, log_level="WARNING")
    set_settings(settings)
    prefix = configure_for_tests(settings)
    store = open_store(settings)
    await store.start()
    sink.reset()
    db = store.db
    account = await create_account(db, "ООО «Ромашка»", "buh@romashka.example")
    pbx = await create_pbx(db, account["account_id"], "Ромашка", "pult.local")
    await create_tenant_user(store, pbx["pbx_id"], "anna", "tenant-pass-1", language="en",
                             account_id=account["account_id"])
    await save_platform_settings(db, {"supplier": dict(docs_mod.DEMO_SUPPLIER)})
    secret = "pult_fa17ed000001_" + "k" * 43
    await ApiKeys(db, Scope.pbx(pbx["pbx_id"])).insert_one({
        "_id": "fa17ed000001", "name": "1C", "role": "accountant", "whitelist": ["*"],
        "account_id": account["account_id"], "secret_hash": hashlib.sha256(secret.encode()).hexdigest(),
        "revoked_at": None, "created_at": datetime.now(timezone.utc)})
    loop = asyncio.get_running_loop()
    supervisor = EmbeddedSupervisor(settings, store=store, loop=loop, beat=False, concurrency=2,
                                    min_delay=0.2, max_delay=1.0, check_every=0.2)
    stop = asyncio.Event()
    supervised = asyncio.create_task(supervisor.run(stop))
    web_redis = make_redis(server.url)

    async def jobs_health():
        result = await health.check(timeout=1.0)
        result["embedded"] = supervisor.state
        return result

    try:
        async with web_stack(settings, store, redis=web_redis, jobs_health=jobs_health,
                             readiness_timeout=1.0) as (ctx, url):
            yield {"server": server, "url": url, "db": db, "sink": sink, "supervisor": supervisor,
                   "key": secret, "pbx": pbx["pbx_id"], "account": account["account_id"], "settings": settings}
    finally:
        stop.set()
        await supervised
        await store.close()
        if server.proc is None:
            server.start()
        cleanup(prefix, server.url)
        server.stop()
        set_settings(None)


async def _mail(n: int, tag: str) -> list[str]:
    from jobs.mail import send_mail_async

    return [await send_mail_async(f"{tag}{i}@example.com", f"{tag} {i}", "text",
                                  idempotency_key=f"fault-{tag}-{i}") for i in range(n)]


async def test_redis_stopped_and_restarted(outage_env):
    env = outage_env
    url, sink, server = env["url"], env["sink"], env["server"]
    async with httpx.AsyncClient(base_url=url, timeout=10) as probe:
        async def ready():
            r = await probe.get("/readyz")
            return r.status_code == 200 and r
        await wait_for(ready, 30, "readiness before the outage")
        async with WebClient(url, headers={"Accept-Language": "en"}) as anna, \
                WebClient(url, headers={"Authorization": f"Bearer {env['key']}"}) as key:
            await anna.login(f"{env['pbx']}/anna", "tenant-pass-1")
            await _mail(3, "before")
            sink.wait_for(3, timeout=20)

            server.stop()  # ------------------------------------------------ the outage
            r = await anna.get("/api/v1/me")
            assert r.status_code == 503 and r.json()["error"]["message"] == UNAVAILABLE
            assert r.headers["Retry-After"] == "30"
            page = await anna.get("/")
            assert page.status_code == 503 and "temporarily unavailable" in page.text
            async with WebClient(url, headers={"Accept-Language": "en"}) as late:
                r = await late.api("POST", "/api/v1/session", json={"login": f"{env['pbx']}/anna",
                                                                      "password": "tenant-pass-1"})
                assert r.status_code == 503 and r.json()["error"]["message"] == UNAVAILABLE
            r = await key.post("/api/v1/finance/documents", json={"kind": "invoice", "amount": "1000"})
            assert r.status_code == 503, r.text
            docs = await env["db"]["billing_documents"].find({"account_id": env["account"]}).to_list(None)
            assert [d["status"] for d in docs] == ["failed"]  # stored as failed, nothing half-done
            r = await probe.get("/readyz")
            assert r.status_code == 503 and "redis" in r.json()["failing"]
            assert r.json()["checks"]["workers"]["ok"] is False

            await asyncio.sleep(OUTAGE_SECONDS)
            server.start()  # ------------------------------------------------ recovery
            r = await wait_for(ready, 60, "readiness after Redis came back")
            assert r.json()["failing"] == [] and r.json()["checks"]["workers"]["ok"] is True

            async def supervised_running():  # the worker, and beat, restarted if the outage ended them
                return env["supervisor"].state["running"] is True
            await wait_for(supervised_running, 30, "the embedded worker and beat running again")
            assert (await anna.get("/api/v1/me")).status_code == 200  # the session survived
            await _mail(3, "after")
            sink.wait_for(6, timeout=30)
            r = await key.post("/api/v1/finance/documents", json={"kind": "invoice", "amount": "1000"})
            assert r.status_code == 202, r.text
            doc_id = r.json()["id"]

            async def rendered():
                d = (await key.get(f"/api/v1/finance/documents/{doc_id}")).json()
                return d["status"] in ("ready", "failed") and d
            assert (await wait_for(rendered, 60, "the document after the outage"))["status"] == "ready"
    await asyncio.sleep(0.5)
    subjects = sorted(m.message["Subject"] for m in sink.received)
    assert subjects == sorted([f"before {i}" for i in range(3)] + [f"after {i}" for i in range(3)])


async def test_the_supervisor_restarts_an_embedded_worker_and_beat_that_stopped(tmp_path, sink):
    """What was seen in a long Redis outage: Celery ends the embedded worker ("Unrecoverable
    error") and nothing started it again while jobs piled up. The worker's own stop path ends its
    thread here; the supervisor starts a new worker (and a new beat) and the queued job runs."""
    from jobs import health
    from jobs.mail import send_mail_async
    from jobs.runner import EmbeddedSupervisor
    from jobs.testing import TEST_REDIS_URL

    settings = load_settings(data_dir=tmp_path / "data", redis_url=TEST_REDIS_URL, smtp_port=sink.port,
                             log_level="WARNING")
    prefix = configure_for_tests(settings)
    sink.reset()
    supervisor = EmbeddedSupervisor(settings, beat=True, queues="mail", concurrency=1,
                                    min_delay=0.2, max_delay=1.0, check_every=0.2)
    stop = asyncio.Event()
    supervised = asyncio.create_task(supervisor.run(stop))
    try:
        async def running():
            return supervisor.state["running"] and bool(await health.workers())
        await wait_for(running, 30, "the embedded worker")
        first = supervisor.handle
        first.worker.stop(in_sighandler=False)  # the worker ends on its own (no one asked the handle)
        await wait_for(lambda: _gone(first), 20, "the worker to stop")
        await send_mail_async("after@example.com", "После сбоя", "text", idempotency_key="fault-sup-1")
        await wait_for(running, 30, "the restarted worker")
        assert supervisor.handle is not first and supervisor.restarts == 1
        sink.wait_for(1, timeout=30)
        supervisor.handle._beat._halt.set()  # beat's thread ends: replaced too
        await wait_for(lambda: _beat_back(supervisor), 20, "a new beat")
        assert supervisor.restarts == 2
    finally:
        stop.set()
        await supervised
        cleanup(prefix)
    assert supervisor.handle is None and await health.workers() == []


async def _gone(handle) -> bool:
    return not handle.alive


async def _beat_back(supervisor) -> bool:
    return supervisor.restarts == 2 and supervisor.handle.beat_alive is True


# --------------------------------------------------------------------------- worker SIGKILL
CLAIM_S = 3


def _worker_process(settings, prefix: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "REDIS_URL": settings.redis_url,
           "PULT_SMTP_PORT": str(settings.smtp_port), "PULT_DATA_DIR": str(settings.data_dir),
           "PULT_LOG_LEVEL": "WARNING"}
    # the killed run's idempotency claim blocks retries for CLAIM_S (15 min in production: longer
    # than a job may run, so a live sender is never doubled); its message is redelivered after 1 s
    return subprocess.Popen([sys.executable, "-m", "jobs.testing", "worker", "--prefix", prefix,
                             "--queues", "mail", "--visibility-timeout", "1", "--claim-ttl", str(CLAIM_S)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def test_a_worker_killed_mid_send_is_retried_once_and_mails_once(tmp_path, sink):
    from jobs import client, health
    from jobs.mail import send_mail_async
    from jobs.testing import TEST_REDIS_URL

    settings = load_settings(data_dir=tmp_path / "data", redis_url=TEST_REDIS_URL, smtp_port=sink.port,
                             log_level="WARNING")
    prefix = configure_for_tests(settings)
    sink.reset()
    in_smtp, killed = threading.Event(), threading.Event()

    def hold_first_rcpt(address):  # the first delivery is in the middle of its SMTP dialogue
        if not in_smtp.is_set():
            in_smtp.set()
            killed.wait(20)
        return None
    sink.on_rcpt = hold_first_rcpt
    doomed = _worker_process(settings, prefix)
    successor = None
    try:
        await wait_for(lambda: _alive(health, doomed.pid), 30, "the first worker")
        task_id = await send_mail_async("once@example.com", "Факс доставлен", "Отчёт",
                                        idempotency_key="fault-kill-1")
        await asyncio.get_running_loop().run_in_executor(None, in_smtp.wait, 20)
        assert in_smtp.is_set(), "the job did not start"
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait(10)
        killed.set()
        assert sink.received == []  # the killed delivery never completed
        successor = _worker_process(settings, prefix)
        sink.wait_for(1, timeout=40)
        result = await client.result(task_id, timeout=10)
        assert result["accepted"] == ["once@example.com"]
        await asyncio.sleep(1.5)  # a second delivery would show up here
        assert [m.rcpt_tos for m in sink.received] == [["once@example.com"]]
    finally:
        killed.set()
        stop_processes(doomed, successor)
        sink.reset()
        cleanup(prefix)


async def _alive(health, pid: int) -> bool:
    return any(w.get("pid") == pid for w in await health.workers())


# --------------------------------------------------------------------------- store SIGKILL
WRITER = textwrap.dedent("""
    import asyncio, sys
    from datetime import datetime, timezone
    from pult.settings import load_settings
    from storage.client import open_store
    from storage.repos.audit import audit
    from storage.repos.base import Scope
    from storage.repos.calls import save_call_record

    async def main(data_dir):
        store = open_store(load_settings(data_dir=data_dir, http_port=8080, outbound_port=0))
        await store.start()
        print("STARTED", flush=True)
        async def writer(w):
            n = 0
            while True:
                uuid = f"call-{w}-{n}"
                await save_call_record(store.db, {"uuid": uuid, "pbx_id": 101, "caller": "74950000000",
                                                  "callee": "74951111111", "billsec": n % 60,
                                                  "start": datetime.now(timezone.utc), "direction": "inbound"})
                await audit(store.db, Scope.pbx(101), actor={"kind": "system", "login": None, "ip": None},
                            section="pbx_settings", operation="update",
                            object={"type": "note", "id": uuid, "name": uuid}, before=None, after={"n": n})
                print("OK", uuid, flush=True)  # confirmed: both writes returned
                n += 1
        await asyncio.gather(*(writer(w) for w in range(6)))

    asyncio.run(main(sys.argv[1]))
""")


async def _kill_during_writes(data_dir: Path, cycles: int) -> list[str]:
    """Run the writer process ``cycles`` times, SIGKILLing it mid-write; returns every uuid it
    confirmed, after checking that each is present when the store is reopened."""
    from storage.client import open_store

    everything: list[str] = []
    for cycle in range(cycles):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(data_dir)], cwd=ROOT,
                                env={**os.environ, "PYTHONPATH": str(ROOT)},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "STARTED", proc.stderr.read()
        confirmed: list[str] = []
        deadline = time.monotonic() + 30
        while len(confirmed) < 150 + 150 * cycle:
            line = proc.stdout.readline()
            assert line and time.monotonic() < deadline, proc.stderr.read()
            if line.startswith("OK "):
                confirmed.append(line.split()[1])
        proc.send_signal(signal.SIGKILL)
        rest, _ = proc.communicate(timeout=10)
        confirmed += [ln.split()[1] for ln in rest.splitlines() if ln.startswith("OK ")]
        settings = load_settings(data_dir=data_dir, http_port=8080, outbound_port=0)
        store = open_store(settings)
        await store.start()
        try:
            calls = {d["uuid"] for d in await store.db["call_records"].find({}, {"uuid": 1}).to_list(None)}
            notes = {d["object"]["id"] for d in await store.db["audit_log"].find({}, {"object": 1}).to_list(None)}
            missing = [u for u in confirmed if u not in calls or u not in notes]
            assert not missing, f"{len(missing)} confirmed writes lost, e.g. {missing[:3]}"
        finally:
            await store.close()
        everything += confirmed
    return everything


async def test_the_store_killed_during_concurrent_writes_keeps_every_confirmed_write(tmp_path):
    confirmed = await _kill_during_writes(tmp_path / "data", cycles=2)
    assert len(confirmed) >= 450


async def test_after_the_store_was_killed_the_time_ordered_lists_and_jobs_work(tmp_path):
    from jobs.lifecycle import run_lifecycle
    from storage.client import open_store
    from storage.repos.calls import CallRecords, save_call_record
    from web.access import log as action_log

    data_dir = tmp_path / "data"
    await _kill_during_writes(data_dir, cycles=1)
    store = open_store(load_settings(data_dir=data_dir, http_port=8080, outbound_port=0))
    await store.start()
    try:
        await save_call_record(store.db, {"uuid": "after-restart", "pbx_id": 101, "caller": "1", "callee": "2",
                                          "billsec": 1, "start": datetime.now(timezone.utc), "direction": "inbound"})
        page = await CallRecords(store.db, Scope.pbx(101)).find({}, sort=[("start", -1)], limit=20)
        assert len(page) == 20 and page[0]["uuid"] == "after-restart"
        query = action_log.build_query({"from": "2000-01-01"}, timezone.utc)
        res, total = await action_log.find_entries(store.db, Scope.pbx(101), query, 1, 20)
        assert total >= 150 and len(res.docs) == 20
        await run_lifecycle(store.db)  # lifts expired operator blocks: filters by time
    finally:
        await store.close()
