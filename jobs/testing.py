"""Helpers for tests that run real jobs: isolated Redis keys, a real worker, a real SMTP server.

Several test sessions share one Redis, so each session works in its own database number and
key prefix (:func:`isolated_prefix`), which :func:`configure_for_tests` applies to broker,
results and Pult's own keys::

    settings = load_settings(redis_url=TEST_REDIS_URL, data_dir=tmp_path, smtp_port=sink.port)
    prefix = configure_for_tests(settings)
    with running_worker(settings):
        task_id = send_mail("a@example.com", "Тема", "text")
    cleanup(prefix)

Also runnable as a worker process for crash tests:
``python -m jobs.testing worker --prefix P [--die-after TASK] [--visibility-timeout S]``
(settings from the environment), which exits abruptly right after ``TASK`` succeeded and before
its message is acknowledged, as a worker killed at the worst moment would.
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, Callable, Iterator

from jobs.app import configure
from pult.settings import Settings

#: The Redis server tests use (``PULT_TEST_REDIS``, e.g. ``redis://127.0.0.1:6390``, lets two test
#: runs on one machine each have their own server).
TEST_REDIS_BASE = os.environ.get("PULT_TEST_REDIS", "redis://127.0.0.1:6379").rstrip("/")
#: Redis database for job tests (separate from the default 0 a developer's Pult uses).
TEST_REDIS_URL = os.environ.get("PULT_TEST_REDIS_URL", f"{TEST_REDIS_BASE}/14")


def isolated_prefix() -> str:
    """A key prefix unique to this test session."""
    return f"test-{uuid.uuid4().hex[:12]}:"


def configure_for_tests(settings: Settings, prefix: str | None = None,
                        **overrides: Any) -> str:
    """Configure the jobs app for tests: own key prefix, quick retries; returns the prefix."""
    from jobs import context

    prefix = prefix or isolated_prefix()
    options = {"pult_retry_base": 0.2, "pult_retry_max": 1.0, "pult_max_retries": 5}
    options.update(overrides)
    configure(settings, key_prefix=prefix, **options)
    context.use_settings(settings)
    return prefix


def cleanup(prefix: str, url: str = TEST_REDIS_URL) -> int:
    """Delete every Redis key of a test prefix; returns how many."""
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()
    return len(keys)


@contextmanager
def running_worker(settings: Settings, **kwargs: Any) -> Iterator[Any]:
    """An embedded worker (threads, no beat) for the duration of the block."""
    from jobs.runner import start_embedded

    kwargs.setdefault("beat", False)
    handle = start_embedded(settings, **kwargs)
    try:
        yield handle
    finally:
        handle.stop()


# ------------------------------------------------------------------------------ SMTP sink
@dataclass
class Received:
    """One message the sink accepted."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.data, policy=policy.default)  # type: ignore[return-value]


@dataclass
class SmtpSink:
    """A real SMTP server (aiosmtpd) on a free loopback port that records what it accepts.

    ``on_rcpt``/``on_data``: optional callables returning an SMTP reply string (``"451 ..."``,
    ``"550 ..."``) to refuse, or None to accept; they let tests script failures.
    """

    host: str = "127.0.0.1"
    port: int = 0
    received: list[Received] = field(default_factory=list)
    on_rcpt: Callable[[str], str | None] | None = None
    on_data: Callable[[Received], str | None] | None = None
    attempts: int = 0
    _controller: Any = None
    _got: threading.Condition = field(default_factory=threading.Condition)

    def start(self) -> "SmtpSink":
        import socket

        from aiosmtpd.controller import Controller

        with socket.socket() as s:  # aiosmtpd needs a concrete port: take a free one
            s.bind((self.host, 0))
            self.port = s.getsockname()[1]
        self._controller = Controller(self, hostname=self.host, port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        reply = self.on_rcpt(address) if self.on_rcpt else None
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        item = Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content))
        with self._got:
            self.attempts += 1
        reply = self.on_data(item) if self.on_data else None
        if reply:
            return reply
        with self._got:
            self.received.append(item)
            self._got.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Wait until ``count`` messages were accepted; returns them (fails on timeout)."""
        with self._got:
            if not self._got.wait_for(lambda: len(self.received) >= count, timeout):
                raise AssertionError(f"SMTP sink got {len(self.received)} message(s), "
                                     f"expected {count} within {timeout}s")
            return list(self.received)

    def reset(self) -> None:
        with self._got:
            self.received.clear()
            self.attempts = 0
        self.on_rcpt = self.on_data = None


# ------------------------------------------------------------------------------ crash worker
def _main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.testing")
    sub = parser.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("worker", help="run a solo worker for crash tests")
    w.add_argument("--prefix", required=True)
    w.add_argument("--queues", default=None)
    w.add_argument("--die-after", default=None, help="exit abruptly after this task succeeds")
    w.add_argument("--visibility-timeout", type=float, default=None)
    w.add_argument("--claim-ttl", type=int, default=None,
                   help="seconds an idempotency claim of a run that died blocks its retries")
    args = parser.parse_args(argv)

    import logging

    from celery import signals

    from jobs.runner import run_worker

    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    from pult.settings import load_settings

    settings = load_settings()
    overrides: dict[str, Any] = {}
    if args.visibility_timeout is not None:
        from jobs.app import celery_config

        transport = dict(celery_config(settings, args.prefix)["broker_transport_options"])
        transport.update(visibility_timeout=args.visibility_timeout, unacked_restore_interval=1,
                         unacked_restore_throttle=1)
        overrides["broker_transport_options"] = transport
    if args.claim_ttl is not None:
        overrides["pult_claim_ttl"] = args.claim_ttl
    configure_for_tests(settings, args.prefix, **overrides)
    if args.die_after:
        @signals.task_success.connect(weak=False)
        def _die(sender=None, **_: Any) -> None:
            if sender is not None and sender.name == args.die_after:
                sys.stdout.write(f"dying after {sender.name}\n")
                sys.stdout.flush()
                os._exit(17)  # before the ack: the message stays unacknowledged in Redis
    return run_worker(settings, args.queues, pool="solo", concurrency=1)


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
