"""Submitting jobs and reading their results, from synchronous code and from the Tornado loop.

- :func:`submit` / :func:`submit_async` queue a task and turn "Redis is down" into one clear
  :class:`~jobs.app.JobsUnavailable` (instead of a kombu stack trace); the async one publishes
  in a thread so the event loop never waits on Redis. That thread comes from a small pool of its
  own (:func:`publish_executor`), not the loop's default executor: while Redis is unreachable a
  publish can take seconds (connect time-outs and retries), and a burst of them must not starve
  everything else that runs there (``asyncio.to_thread``: password hashing at login, media files).
- :func:`result` awaits a job's outcome by polling its result key with ``redis.asyncio``
  (cheap, never blocks the loop): the return value, or :class:`JobFailed` with the job's error.
- :func:`status` reads the state without waiting.
"""
from __future__ import annotations

import asyncio
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from celery import states
from kombu.exceptions import OperationalError

from jobs.app import JobsUnavailable, app, key_prefix, redact_url


class JobFailed(Exception):
    """A job ended in failure; ``exc_type`` is the job's exception class name."""

    def __init__(self, message: str, exc_type: str = "", task_id: str = "") -> None:
        super().__init__(message)
        self.exc_type = exc_type
        self.task_id = task_id


class JobTimeout(TimeoutError):
    """The job did not finish within the time the caller was ready to wait."""


@dataclass(frozen=True)
class JobStatus:
    """A job's state as stored in the result backend."""

    task_id: str
    state: str  # PENDING (unknown or waiting), STARTED, RETRY, SUCCESS, FAILURE
    result: Any = None
    error: str | None = None
    exc_type: str | None = None

    @property
    def ready(self) -> bool:
        return self.state in states.READY_STATES


def _unavailable(what: str, exc: BaseException) -> JobsUnavailable:
    return JobsUnavailable(f"cannot queue {what}: the job queue (Redis at "
                           f"{redact_url(app.conf.broker_url)}) is unreachable: {exc}")


def submit(task, *, args: tuple = (), kwargs: dict | None = None, countdown: float | None = None,
           what: str | None = None, **options: Any) -> str:
    """Queue ``task`` and return its id; :class:`JobsUnavailable` when Redis is unreachable."""
    try:
        return task.apply_async(args=args, kwargs=kwargs or {}, countdown=countdown,
                                **options).id
    except (OperationalError, ConnectionError, OSError) as exc:
        raise _unavailable(what or f"job {task.name}", exc) from None


#: threads that publish jobs for the event loop (see the module docstring)
PUBLISH_THREADS = 4
_publisher: ThreadPoolExecutor | None = None
_publisher_lock = threading.Lock()


def publish_executor() -> ThreadPoolExecutor:
    """The thread pool job publishes from the event loop run in (created on first use)."""
    global _publisher
    with _publisher_lock:
        if _publisher is None:
            _publisher = ThreadPoolExecutor(PUBLISH_THREADS, thread_name_prefix="pult-publish")
        return _publisher


def publish_soon(fn, *args: Any) -> None:
    """Run ``fn(*args)`` (a job publish) without blocking the caller's event loop: on
    :func:`publish_executor` when called from a loop (the result is not awaited), else right here.
    The call-record hooks queue their jobs with it."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is not None:
        loop.run_in_executor(publish_executor(), fn, *args)
    else:
        fn(*args)


async def submit_async(task, **kw: Any) -> str:
    """:func:`submit` without blocking the event loop (the publish runs in
    :func:`publish_executor`, so a Redis outage never ties up the loop's default executor)."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(publish_executor(), lambda: submit(task, **kw))


# one asyncio Redis client per event loop and URL (a client must not cross loops)
_clients: dict[tuple[int, str], aioredis.Redis] = {}


def async_redis() -> aioredis.Redis:
    """A ``redis.asyncio`` client for the job Redis, bound to the running loop."""
    loop = asyncio.get_running_loop()
    url = app.conf.broker_url
    key = (id(loop), url)
    client = _clients.get(key)
    if client is None:
        for (loop_id, _), stale in list(_clients.items()):  # drop clients of closed loops
            if loop_id != id(loop):
                _clients.pop((loop_id, _), None)
        # a pool that waits for a free connection (up to 5 s) instead of refusing a burst at once
        client = aioredis.Redis.from_pool(aioredis.BlockingConnectionPool.from_url(
            url, max_connections=100, timeout=5, socket_connect_timeout=2, socket_timeout=5))
        _clients[key] = client
    return client


def _meta_key(task_id: str) -> str:
    return f"{key_prefix()}celery-task-meta-{task_id}"


def _parse(task_id: str, raw: bytes | None) -> JobStatus:
    if raw is None:
        return JobStatus(task_id, states.PENDING)
    meta = json.loads(raw)
    state, value = meta.get("status", states.PENDING), meta.get("result")
    if state in states.PROPAGATE_STATES or state == states.RETRY:
        exc_type, error = None, None
        if isinstance(value, dict) and "exc_type" in value:
            exc_type = value.get("exc_type")
            message = value.get("exc_message")
            if isinstance(message, (list, tuple)):
                message = " ".join(str(m) for m in message)
            error = str(message)
        return JobStatus(task_id, state, None, error, exc_type)
    return JobStatus(task_id, state, value)


async def status(task_id: str) -> JobStatus:
    """The job's current state (no waiting); :class:`JobsUnavailable` when Redis is down."""
    try:
        raw = await async_redis().get(_meta_key(task_id))
    except (aioredis.ConnectionError, aioredis.TimeoutError, OSError) as exc:
        raise JobsUnavailable(f"cannot read job {task_id}: Redis at "
                              f"{redact_url(app.conf.broker_url)} is unreachable: {exc}") from None
    return _parse(task_id, raw)


async def result(task_id: str, timeout: float = 30.0, *, poll: float = 0.05) -> Any:
    """Wait (without blocking the loop) for a job and return its result.

    Raises :class:`JobFailed` with the job's error message if it failed, :class:`JobTimeout`
    if it is not finished after ``timeout`` seconds (it may still finish later).
    """
    deadline = time.monotonic() + timeout
    delay = poll
    while True:
        st = await status(task_id)
        if st.state == states.SUCCESS:
            return st.result
        if st.state in states.PROPAGATE_STATES:
            raise JobFailed(st.error or st.state, st.exc_type or "", task_id)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise JobTimeout(f"job {task_id} not finished after {timeout:g}s (state {st.state})")
        await asyncio.sleep(min(delay, remaining))
        delay = min(delay * 1.5, 0.5)
