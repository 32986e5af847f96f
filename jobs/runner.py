"""Running the job system: a worker, beat, or both inside the server process (embedded mode).

- :func:`run_worker` — ``pult worker``: a normal Celery worker in the foreground (prefork pool,
  signal handling, warm shutdown on SIGTERM); returns its exit code.
- :func:`run_beat` — ``pult beat``: the periodic scheduler in the foreground.
- :func:`start_embedded` — the embedded default (``pult demo``/``pult serve`` with
  ``settings.embedded_worker``): a worker (thread pool) and beat in background threads of the
  server process; ``handle.stop()`` shuts both down cleanly (running jobs finish first).

Every worker publishes a heartbeat in Redis (:class:`Heartbeat`, started by a worker bootstep)
that :mod:`jobs.health` reads to answer "is any worker alive?" without asking the workers.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import threading
import time
from typing import Any, Iterable

from celery import bootsteps
from celery.beat import Service
from celery.worker import state as worker_state

from jobs import context
from jobs.app import QUEUES, app, ensure_configured, key_prefix, redis_client
from pult import clock
from pult.settings import Settings

log = logging.getLogger(__name__)

#: Seconds between heartbeats; a worker is considered gone after HEARTBEAT_TTL without one.
HEARTBEAT_INTERVAL = 5.0
HEARTBEAT_TTL = 15.0


def workers_key() -> str:
    """ZSET of worker hostnames scored by their last heartbeat (unix time)."""
    return f"{key_prefix()}pult:workers"


def workers_info_key() -> str:
    """HASH hostname -> JSON details (pid, queues, started, embedded)."""
    return f"{key_prefix()}pult:workers:info"


class Heartbeat:
    """Refreshes this worker's entry in Redis every few seconds from a daemon thread.

    Redis being briefly unreachable only skips beats (logged once); the entry is removed on a
    clean stop so readiness reflects a shutdown at once, and expires by score otherwise.
    """

    def __init__(self, hostname: str, queues: Iterable[str], embedded: bool = False,
                 interval: float = HEARTBEAT_INTERVAL) -> None:
        self.hostname = hostname
        self.interval = interval
        self.info = json.dumps({"hostname": hostname, "pid": os.getpid(),
                                "queues": sorted(queues), "embedded": embedded,
                                "started": clock.timestamp()})
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False

    def beat(self) -> None:
        """Write one heartbeat (and prune entries of workers long gone)."""
        now = clock.timestamp()
        pipe = redis_client().pipeline(transaction=False)
        pipe.zadd(workers_key(), {self.hostname: now})
        pipe.hset(workers_info_key(), self.hostname, self.info)
        pipe.zremrangebyscore(workers_key(), 0, now - 24 * 3600)
        pipe.execute()

    def _run(self) -> None:
        while not self._halt.is_set():
            try:
                self.beat()
                if self._failing:
                    log.info("worker heartbeat restored")
                self._failing = False
            except Exception as exc:  # Redis down: keep trying, the worker itself reconnects
                if not self._failing:
                    log.warning("worker heartbeat failed: %s", exc)
                self._failing = True
            self._halt.wait(self.interval)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="pult-heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._halt.set()
        if self._thread is not None:
            self._thread.join(5)
        try:
            pipe = redis_client().pipeline(transaction=False)
            pipe.zrem(workers_key(), self.hostname)
            pipe.hdel(workers_info_key(), self.hostname)
            pipe.execute()
        except Exception as exc:
            log.warning("could not remove worker heartbeat: %s", exc)


class HeartbeatStep(bootsteps.StartStopStep):
    """Worker bootstep running a :class:`Heartbeat` for the worker's lifetime."""

    label = "Pult heartbeat"

    def create(self, worker: Any) -> Heartbeat:
        queues = list(worker.app.amqp.queues.consume_from or worker.app.amqp.queues)
        self.obj = Heartbeat(worker.hostname, queues,
                             embedded=bool(getattr(worker, "pult_embedded", False)))
        return self.obj



def _hostname(kind: str) -> str:
    return f"{kind}-{os.getpid()}@{socket.gethostname()}"


def _select_queues(queues: Iterable[str] | str | None) -> list[str]:
    if queues is None:
        return list(QUEUES)
    if isinstance(queues, str):
        queues = [q.strip() for q in queues.split(",")]
    chosen = [q for q in queues if q]
    unknown = sorted(set(chosen) - set(QUEUES))
    if unknown or not chosen:
        raise ValueError(f"unknown queue(s) {', '.join(unknown) or '(none given)'}; "
                         f"known: {', '.join(QUEUES)}")
    return chosen


def run_worker(settings: Settings, queues: Iterable[str] | str | None = None, *,
               concurrency: int | None = None, pool: str = "prefork",
               hostname: str | None = None) -> int:
    """Run a Celery worker in the foreground until SIGTERM/SIGINT; returns the exit code.

    ``queues``: names (or a comma-separated string) out of :data:`jobs.app.QUEUES`; all by
    default. ``concurrency`` defaults to the number of CPUs.
    """
    chosen = _select_queues(queues)
    ensure_configured(settings)
    context.use_settings(settings)
    worker = app.Worker(queues=chosen, concurrency=concurrency, pool=pool,
                        hostname=hostname or _hostname("worker"), loglevel=settings.log_level,
                        quiet=True, redirect_stdouts=False, without_gossip=True,
                        without_mingle=True)
    worker.start()
    return worker.exitcode or 0


def run_beat(settings: Settings) -> None:
    """Run the periodic scheduler in the foreground until SIGTERM/SIGINT.

    The schedule state (last run times) is kept in ``<data_dir>/celerybeat-schedule``. Run
    exactly one beat per installation.
    """
    ensure_configured(settings)
    context.use_settings(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app.Beat(schedule=str(settings.data_dir / "celerybeat-schedule"), quiet=True,
             loglevel=settings.log_level, redirect_stdouts=False).run()


class _BeatThread(threading.Thread):
    """Beat's scheduling loop in a thread, waiting on an Event so that stop() is immediate."""

    def __init__(self, schedule_filename: str, max_interval: float = 30.0) -> None:
        super().__init__(name="pult-beat", daemon=True)
        self.service = Service(app, schedule_filename=schedule_filename, max_interval=max_interval)
        self._halt = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        scheduler = None
        try:
            scheduler = self.service.scheduler
            while not self._halt.is_set():
                interval = scheduler.tick()
                self._halt.wait(interval if interval and interval > 0 else 0.1)
                if scheduler.should_sync():
                    scheduler.sync()
        except BaseException as exc:  # keep the server up; the error is reported by stop()
            self.error = exc
            log.exception("embedded beat stopped with an error")
        finally:
            if scheduler is not None:
                try:
                    scheduler.close()
                except Exception:
                    log.exception("embedded beat: could not save its schedule")

    def stop(self, timeout: float = 10.0) -> None:
        self._halt.set()
        self.join(timeout)


class EmbeddedJobs:
    """Handle of the in-process worker and beat started by :func:`start_embedded`."""

    def __init__(self, worker: Any, worker_thread: threading.Thread,
                 beat: _BeatThread | None) -> None:
        self.worker = worker
        self.hostname: str = worker.hostname
        self._worker_thread = worker_thread
        self._beat = beat
        self._stopped = False

    @property
    def alive(self) -> bool:
        return self._worker_thread.is_alive()

    @property
    def beat_alive(self) -> bool | None:
        """None without beat; False once beat's thread has ended on its own."""
        return None if self._beat is None else self._beat.is_alive()

    def restart_beat(self) -> None:
        """Start a new beat thread in place of one that stopped with an error."""
        if self._beat is None or self._beat.is_alive() or self._stopped:
            return
        filename = self._beat.service.schedule_filename
        self._beat = _BeatThread(filename)
        self._beat.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop beat, then the worker (jobs running now finish, queued ones stay in Redis)."""
        if self._stopped:
            return
        self._stopped = True
        if self._beat is not None:
            self._beat.stop()
        worker_state.should_stop = 0  # the worker's loop checks this at least every 2 s
        self._worker_thread.join(timeout)
        if self._worker_thread.is_alive():
            log.error("embedded worker did not stop within %.0fs; forcing", timeout)
            worker_state.should_terminate = 0
            self._worker_thread.join(5)
        worker_state.should_stop = None
        worker_state.should_terminate = None
        context.unbind_store()

    async def stop_async(self, timeout: float = 30.0) -> None:
        """:meth:`stop` from the event loop (the waiting happens in a thread)."""
        await asyncio.get_running_loop().run_in_executor(None, self.stop, timeout)


def start_embedded(settings: Settings, *, store: Any = None,
                   loop: asyncio.AbstractEventLoop | None = None,
                   queues: Iterable[str] | str | None = None, concurrency: int = 4,
                   beat: bool = True, ready_timeout: float = 30.0) -> EmbeddedJobs:
    """Start a worker (thread pool) and beat as threads of this process; returns a handle.

    ``store``/``loop``: the server's started store and its event loop, handed to jobs so the
    embedded data directory has one writer (see :mod:`jobs.context`). Blocks until the worker
    consumes (at most ``ready_timeout`` s); raises :class:`jobs.app.JobsUnavailable` if Redis
    cannot be reached, without leaving threads behind.
    """
    from celery.worker import WorkController

    from jobs.app import JobsUnavailable, redact_url

    chosen = _select_queues(queues)
    ensure_configured(settings)
    context.use_settings(settings)
    if store is not None and loop is not None:
        context.bind_store(store, loop)
    try:
        redis_client().ping()
    except Exception as exc:
        raise JobsUnavailable(f"cannot start the embedded worker: Redis at "
                              f"{redact_url(settings.redis_url)} is unreachable: {exc}") from None

    ready = threading.Event()

    class _Worker(WorkController):
        pult_embedded = True

        def on_consumer_ready(self, consumer: Any) -> None:
            super().on_consumer_ready(consumer)
            ready.set()

    worker_state.should_stop = None
    worker_state.should_terminate = None
    worker = _Worker(app=app, queues=chosen, concurrency=concurrency, pool="threads",
                     hostname=_hostname("embedded"), loglevel=settings.log_level,
                     without_heartbeat=True, without_mingle=True, without_gossip=True,
                     ready_callback=None)
    thread = threading.Thread(target=worker.start, name="pult-worker", daemon=True)
    thread.start()
    if not ready.wait(ready_timeout):
        worker_state.should_stop = 0
        thread.join(10)
        worker_state.should_stop = None
        raise JobsUnavailable(f"the embedded worker did not start within {ready_timeout:g}s")
    beat_thread = None
    if beat:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        beat_thread = _BeatThread(str(settings.data_dir / "celerybeat-schedule"))
        beat_thread.start()
    log.info("embedded worker %s consuming %s%s", worker.hostname, ",".join(chosen),
             " with beat" if beat else "")
    return EmbeddedJobs(worker, thread, beat_thread)


class EmbeddedSupervisor:
    """Keeps the in-process worker and beat of ``pult serve`` running.

    :meth:`run` starts them (:func:`start_embedded`) and then checks every ``check_every``
    seconds: a worker whose thread has ended (Celery gives up on an "unrecoverable error", e.g.
    during a Redis outage) is cleaned up and started again; a beat thread that died is replaced.
    Failed starts (Redis unreachable) are retried with exponential backoff from ``min_delay`` to
    ``max_delay`` seconds; the backoff is reset once a worker has run for ``stable_after``
    seconds. :attr:`state` tells readiness what is going on. Jobs are never lost meanwhile:
    queued messages wait in Redis (late acknowledgement) and run once a worker is back.
    """

    def __init__(self, settings: Settings, *, store: Any = None, loop: asyncio.AbstractEventLoop | None = None,
                 min_delay: float = 1.0, max_delay: float = 30.0, check_every: float = 1.0,
                 stable_after: float = 60.0, **start_kw: Any) -> None:
        self.settings = settings
        self.store = store
        self.loop = loop
        self.min_delay, self.max_delay = min_delay, max_delay
        self.check_every = check_every
        self.stable_after = stable_after
        self.start_kw = start_kw
        self.handle: EmbeddedJobs | None = None
        self.restarts = 0
        self.last_error: str | None = None

    @property
    def state(self) -> dict[str, Any]:
        """``{"running", "restarts", "error"}`` — running: the worker (and beat) threads are up."""
        h = self.handle
        running = bool(h is not None and h.alive and h.beat_alive is not False)
        return {"running": running, "restarts": self.restarts, "error": None if running else self.last_error}

    async def _start(self, loop: asyncio.AbstractEventLoop) -> EmbeddedJobs:
        return await loop.run_in_executor(
            None, lambda: start_embedded(self.settings, store=self.store, loop=self.loop or loop, **self.start_kw))

    async def run(self, stop: asyncio.Event) -> None:
        """Supervise until ``stop`` is set, then stop the worker and beat."""
        from jobs.app import JobsUnavailable

        loop = asyncio.get_running_loop()
        delay, started = self.min_delay, 0.0
        try:
            while not stop.is_set():
                h = self.handle
                if h is not None and not h.alive:
                    self.last_error = "the embedded worker stopped; restarting it"
                    log.error("embedded worker %s stopped on its own; restarting it", h.hostname)
                    await h.stop_async(timeout=5)
                    self.handle, h = None, None
                    self.restarts += 1
                elif h is not None and h.beat_alive is False:
                    log.error("embedded beat stopped on its own; restarting it")
                    await loop.run_in_executor(None, h.restart_beat)
                    self.restarts += 1
                wait = self.check_every
                if self.handle is None:
                    try:
                        self.handle = await self._start(loop)
                        self.last_error, started = None, time.monotonic()
                    except JobsUnavailable as exc:
                        self.last_error = str(exc)
                        log.error("embedded worker not started (retry in %.0f s): %s", delay, exc)
                        wait, delay = delay, min(delay * 2, self.max_delay)
                elif time.monotonic() - started >= self.stable_after:
                    delay = self.min_delay
                try:
                    await asyncio.wait_for(stop.wait(), wait)
                except asyncio.TimeoutError:
                    pass
        finally:
            if self.handle is not None:
                await self.handle.stop_async()
                self.handle = None
