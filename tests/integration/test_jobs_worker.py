"""The job system itself: embedded worker and beat, health, crash recovery, Redis down."""
from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import redis

from jobs import client, health, schedules
from jobs.app import app, key_prefix
from jobs.mail import send_mail
from jobs.runner import start_embedded
from jobs.testing import TEST_REDIS_URL, cleanup, configure_for_tests
from pult.observability import JOB_QUEUE_LENGTH
from pult.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
ticks: list[float] = []


@app.task(name="jobs.testing_beat.tick")
def tick() -> None:
    ticks.append(time.monotonic())


@pytest.fixture(scope="module")
def settings(sink, tmp_path_factory):
    settings = load_settings(redis_url=TEST_REDIS_URL, data_dir=tmp_path_factory.mktemp("jobs"),
                             smtp_port=sink.port, log_level="WARNING")
    prefix = configure_for_tests(settings)
    yield settings
    cleanup(prefix)


def _redis():
    return redis.Redis.from_url(TEST_REDIS_URL)


async def test_health_without_worker_reports_queue_lengths_and_no_worker(settings, sink):
    sink.reset()
    task_id = send_mail("queued@example.com", "В очереди", "ждёт воркера")
    report = await health.check()
    assert report["redis"] is True and report["ok"] is False
    assert "no job worker" in report["error"]
    assert report["workers"] == []
    assert report["queues"]["mail"] == 1 and report["queues"]["sms"] == 0
    assert JOB_QUEUE_LENGTH.labels(queue="mail")._value.get() == 1

    # a worker that starts later picks the queued job up: nothing is lost
    handle = start_embedded(settings, beat=False, queues="mail,default")
    try:
        result = await client.result(task_id, timeout=10)
        assert result["accepted"] == ["queued@example.com"]
        report = await health.check()
        assert report["ok"] is True and report["error"] is None
        (alive,) = report["workers"]
        assert alive["hostname"] == handle.hostname and alive["embedded"] is True
        assert alive["pid"] == os.getpid() and alive["queues"] == ["default", "mail"]
        assert report["queues"]["mail"] == 0
    finally:
        handle.stop()
    # a clean stop removes the heartbeat at once
    assert await health.workers() == []
    assert not handle.alive


async def test_embedded_beat_runs_registered_schedules_and_stops_cleanly(settings):
    ticks.clear()
    schedules.register("test.tick", "jobs.testing_beat.tick", 0.2)
    try:
        assert app.conf.beat_schedule["test.tick"]["task"] == "jobs.testing_beat.tick"
        started = time.monotonic()
        handle = start_embedded(settings, beat=True)
        try:
            while len(ticks) < 3 and time.monotonic() - started < 10:
                await asyncio.sleep(0.05)
        finally:
            stop_started = time.monotonic()
            await handle.stop_async()
            stop_took = time.monotonic() - stop_started
    finally:
        schedules.unregister("test.tick")
    assert len(ticks) >= 3
    assert not handle.alive and stop_took < 5
    assert "test.tick" not in app.conf.beat_schedule
    assert any(p.name.startswith("celerybeat-schedule") for p in settings.data_dir.iterdir())


def _worker_process(settings, prefix: str, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "REDIS_URL": TEST_REDIS_URL, "PULT_SMTP_PORT": str(settings.smtp_port),
           "PULT_DATA_DIR": str(settings.data_dir), "PULT_LOG_LEVEL": "INFO",
           "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "jobs.testing", "worker", "--prefix", prefix,
                             "--queues", "mail", "--visibility-timeout", "1", *extra],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


async def _wait_for_worker(pid: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(w["pid"] == pid for w in await health.workers()):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"worker {pid} did not start")


async def test_worker_killed_after_sending_does_not_send_twice(settings, sink):
    """A worker dies right after the SMTP server accepted the mail, before acknowledging the
    job. Redis hands the job to the next worker, which must not send the mail again."""
    sink.reset()
    prefix = key_prefix()
    r = _redis()
    doomed = _worker_process(settings, prefix, "--die-after", "jobs.mail.send")
    try:
        await _wait_for_worker(doomed.pid)
        task_id = send_mail("once@example.com", "Факс доставлен", "Отчёт о доставке")
        out, _ = doomed.communicate(timeout=20)
        assert doomed.returncode == 17, out
        assert "dying after jobs.mail.send" in out
        assert len(sink.wait_for(1)) == 1
        assert r.hlen(f"{prefix}unacked") == 1  # delivered, never acknowledged
    finally:
        if doomed.poll() is None:
            doomed.kill()

    successor = _worker_process(settings, prefix)
    try:
        deadline = time.monotonic() + 20
        while r.hlen(f"{prefix}unacked") or r.llen(f"{prefix}mail"):
            assert time.monotonic() < deadline, "the abandoned job was not redelivered"
            await asyncio.sleep(0.1)
        # the stored result is the first run's; the successor ran it as a duplicate
        result = await client.result(task_id, timeout=5)
        assert result["accepted"] == ["once@example.com"]
    finally:
        successor.terminate()
        out, _ = successor.communicate(timeout=20)
    assert f"Task jobs.mail.send[{task_id}] succeeded" in out and "'duplicate': True" in out, out
    assert successor.returncode == 0, out  # warm shutdown on SIGTERM
    await asyncio.sleep(0.2)
    assert len(sink.received) == 1


def test_redis_down_gives_clear_errors_and_nothing_crashes(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    url = f"redis://:secret@127.0.0.1:{closed_port}/14"
    code = textwrap.dedent(f"""
        import asyncio, time
        from pult.settings import load_settings
        from jobs.app import configure, JobsUnavailable
        settings = load_settings(redis_url={url!r}, data_dir={str(tmp_path)!r})
        configure(settings)
        from jobs import client, health
        from jobs.mail import send_mail
        from jobs.runner import start_embedded
        t = time.monotonic()
        try:
            send_mail("a@example.com", "Тема", "текст")
        except JobsUnavailable as exc:
            print("SEND:", exc)
        print("SEND_SECONDS:", round(time.monotonic() - t, 1))
        report = asyncio.run(health.check(timeout=2))
        print("HEALTH:", report["ok"], report["redis"], report["error"])
        try:
            asyncio.run(client.status("x"))
        except JobsUnavailable as exc:
            print("STATUS:", exc)
        try:
            start_embedded(settings)
        except JobsUnavailable as exc:
            print("EMBEDDED:", exc)
        print("DONE")
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    out = proc.stdout
    assert proc.returncode == 0, proc.stderr
    where = f"redis://:***@127.0.0.1:{closed_port}/14"
    assert f"SEND: cannot queue the e-mail: the job queue (Redis at {where}) is unreachable" in out
    assert float(out.split("SEND_SECONDS:")[1].split()[0]) < 5
    assert f"HEALTH: False False Redis at {where} is unreachable" in out
    assert f"STATUS: cannot read job x: Redis at {where} is unreachable" in out
    assert f"EMBEDDED: cannot start the embedded worker: Redis at {where} is unreachable" in out
    assert "DONE" in out and "secret" not in out


def test_standalone_worker_opens_its_own_store_for_media(settings):
    """Without a bound server store (pult worker), jobs open one on a private loop thread."""
    from jobs import context
    from storage.client import open_store

    async def put():
        store = open_store(settings)
        await store.start()
        try:
            return await store.media.put(3, "факс.tiff", b"II*\x00tiff", "image/tiff")
        finally:
            await store.close()

    file_id = asyncio.run(put())
    context.unbind_store()

    async def read(store):
        info = await store.media.info(3, file_id)
        return info.filename, await store.media.read(3, file_id)

    try:
        assert context.call_store(read) == ("факс.tiff", b"II*\x00tiff")
        # the same private store serves the next job
        assert context.call_store(read)[0] == "факс.tiff"
    finally:
        context.unbind_store()
