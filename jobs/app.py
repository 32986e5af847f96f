"""The Celery application of Pult: broker and results on Redis, named queues, retries.

Every Pult process shares this one app object (:data:`app`). It is configured from
:class:`pult.settings.Settings` by :func:`configure`, which runs once at import with the
process-wide settings and again whenever a process (CLI, tests) installs other settings before
it sends or runs jobs.

Choices, and why:

- Broker and result backend are the same Redis (``settings.redis_url``); JSON only, so a message
  never carries pickled objects and can be read by anything.
- ``acks_late`` + ``task_reject_on_worker_lost`` for every task: a message is removed from Redis
  only after its task finished, so a worker that dies mid-job does not lose it. The price is that
  a job can run twice; jobs with side effects guard themselves with :mod:`jobs.idempotency`.
  Redis redelivers an unacknowledged message after ``visibility_timeout``, which is therefore
  longer than the longest retry countdown.
- Queues per kind of work (:data:`QUEUES`) and routing by module: a task defined in
  ``jobs/mail.py`` is named ``jobs.mail.<name>`` and goes to queue ``mail``; workers can be
  scaled per queue (``pult worker -Q mail,sms``).
- Transient failures (a dependency that is down or answers "try later") raise
  :class:`TransientError`; :class:`PultTask` retries those with exponential backoff and full
  jitter. Anything else fails at once with its message.
- An optional key prefix isolates several Pult installations (or concurrent test sessions) on one
  Redis: every broker, result and Pult key starts with it.
"""
from __future__ import annotations

import logging
import random
import threading
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from celery import Celery, Task
from celery.backends.redis import RedisBackend
from kombu import Queue

from pult.settings import Settings, get_settings

log = logging.getLogger(__name__)

#: Queue names. A task's queue is chosen by the module that defines it (see :data:`ROUTES`).
QUEUES: tuple[str, ...] = ("default", "mail", "sms", "documents", "media", "fax", "billing",
                           "webhooks", "ldap")

#: Task-name patterns to queues: ``jobs.<module>.*`` goes to the queue of that module.
ROUTES: dict[str, dict[str, str]] = {
    "jobs.mail.*": {"queue": "mail"},
    "jobs.notify.*": {"queue": "mail"},
    "jobs.sms.*": {"queue": "sms"},
    "jobs.documents.*": {"queue": "documents"},
    "jobs.media.*": {"queue": "media"},
    "jobs.spool.*": {"queue": "media"},
    "jobs.fax.*": {"queue": "fax"},
    "jobs.billing.*": {"queue": "billing"},
    "jobs.webhooks.*": {"queue": "webhooks"},
    "jobs.ldap_sync.*": {"queue": "ldap"},
    "jobs.ldap.*": {"queue": "ldap"},
}

#: Modules of the ``jobs`` package that are infrastructure, not task definitions.
_NOT_TASK_MODULES = {"jobs.app", "jobs.client", "jobs.health", "jobs.runner", "jobs.schedules",
                     "jobs.idempotency", "jobs.testing", "jobs.context"}

# Retry policy of transient failures, per attempt n (0-based): a random delay in
# [0, min(max, base * 2**n)] ("full jitter"), at most ``max_retries`` times.
DEFAULT_RETRY_BASE = 5.0
DEFAULT_RETRY_MAX = 1800.0
DEFAULT_MAX_RETRIES = 10
#: Longer than the longest retry countdown, so Redis does not redeliver a message a worker holds
#: for a scheduled retry (it would only be deduplicated, but it costs a run).
VISIBILITY_TIMEOUT = 2 * 3600


class TransientError(Exception):
    """A failure worth retrying later: a dependency is down, timed out or said "try later".

    ``retry_after`` (seconds), when the failure knows it, is the earliest moment a retry can
    succeed (a claim that expires, a server's "try again in N s"): the retry waits at least that
    long, so the retries are not used up while the obstacle is certain to still be there.
    """

    #: False for an obstacle that ends by itself within a known time (another run's claim that
    #: expires): its retries are not counted against ``max_retries``, so they cannot run out while
    #: the obstacle is certain to still be there
    bounded: bool = True

    def __init__(self, *args: Any, retry_after: float | None = None) -> None:
        super().__init__(*args)
        self.retry_after = retry_after


class JobsUnavailable(RuntimeError):
    """The job system (Redis) cannot be reached, so a job could not be queued or read."""


def redact_url(url: str) -> str:
    """``redis://:secret@host:6379/0`` -> ``redis://:***@host:6379/0`` for messages and logs."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def backoff_delay(attempt: int, base: float, maximum: float) -> float:
    """Exponential backoff with full jitter: uniform in ``[0, min(maximum, base * 2**attempt)]``.

    Full jitter spreads retries of many jobs that failed together (an SMTP outage) instead of
    sending them back in waves. The delay is never below a tenth of the ceiling, so a retry never
    hammers a dependency immediately.
    """
    ceiling = min(maximum, base * (2 ** max(0, attempt)))
    return random.uniform(ceiling / 10, ceiling)


class PultTask(Task):
    """Base task: retries :class:`TransientError` with backoff and jitter, fails on the rest.

    The retry parameters are read at run time from the app configuration
    (``pult_retry_base``, ``pult_retry_max``, ``pult_max_retries``), so tests can shorten them
    and operators can tune them without touching each task. A task may override
    ``max_retries`` by setting it on its decorator.
    """

    #: exceptions retried with backoff (subclasses may extend)
    transient_errors: tuple[type[BaseException], ...] = (TransientError,)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except self.transient_errors as exc:
            if self.request.called_directly:
                raise
            conf = self.app.conf
            max_retries = self.max_retries if self.max_retries is not None else \
                conf.get("pult_max_retries", DEFAULT_MAX_RETRIES)
            countdown = backoff_delay(self.request.retries,
                                      conf.get("pult_retry_base", DEFAULT_RETRY_BASE),
                                      conf.get("pult_retry_max", DEFAULT_RETRY_MAX))
            retry_after = getattr(exc, "retry_after", None)
            if retry_after:
                countdown = max(countdown, float(retry_after))
            log.warning("job %s[%s] failed transiently (attempt %d/%d), retry in %.1fs: %s",
                        self.name, self.request.id, self.request.retries + 1, max_retries + 1,
                        countdown, exc)
            if not getattr(exc, "bounded", True):
                max_retries = self.request.retries + 1  # this retry never exhausts the budget
            # retry() raises Retry, or re-raises exc once max_retries is exhausted
            raise self.retry(exc=exc, countdown=countdown, max_retries=max_retries)


class PollingRedisBackend(RedisBackend):
    """Celery's Redis result backend without the pub/sub subscription made at every send.

    The stock backend subscribes to a job's result channel when the job is *sent* (so that a
    later ``AsyncResult.get()`` is fast). Pult's callers read results by polling
    (:func:`jobs.client.result`), and that eager subscription makes sending fail, and stay
    broken until restart ("Retry limit exceeded ... must be restarted"), after a Redis outage.
    ``AsyncResult.get()`` still works: it subscribes when it is called.
    """

    def on_task_call(self, producer: Any, task_id: str) -> None:
        return None


app = Celery("pult", task_cls=PultTask, set_as_current=True)
# the default app too: worker pool threads have no "current" app of their own and would
# otherwise run tasks looked up in Celery's unconfigured fallback app
app.set_default()
# max_retries=None on the class means "use pult_max_retries" (see PultTask.__call__)
PultTask.max_retries = None
# every worker (pult worker, embedded, `celery -A jobs.app worker`) publishes a heartbeat
app.steps["worker"].add("jobs.runner:HeartbeatStep")

_configure_lock = threading.Lock()
_last: dict[str, Any] = {}


def celery_config(settings: Settings, key_prefix: str = "") -> dict[str, Any]:
    """The Celery configuration for these settings (a plain dict, easy to inspect in tests)."""
    transport = {
        "visibility_timeout": VISIBILITY_TIMEOUT,
        "socket_connect_timeout": 3,
        "socket_timeout": 10,
        "health_check_interval": 25,
        "global_keyprefix": key_prefix,
    }
    return {
        "broker_url": settings.redis_url,
        "result_backend": f"jobs.app:PollingRedisBackend+{settings.redis_url}",
        "broker_transport_options": transport,
        "result_backend_transport_options": {"global_keyprefix": key_prefix,
                                             "retry_policy": {"max_retries": 3}},
        "broker_connection_retry_on_startup": True,
        "broker_connection_timeout": 3,
        # a caller (the web server) learns quickly that Redis is down instead of hanging
        "task_publish_retry_policy": {"max_retries": 2, "interval_start": 0,
                                      "interval_step": 0.2, "interval_max": 0.5},
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "timezone": "UTC",
        "enable_utc": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_queues": [Queue(name) for name in QUEUES],
        "task_default_queue": "default",
        "task_routes": ROUTES,
        "task_soft_time_limit": 300,
        "task_time_limit": 360,
        "task_track_started": True,
        "result_expires": 24 * 3600,
        "result_extended": True,
        "worker_hijack_root_logger": False,
        "worker_send_task_events": False,
        "task_always_eager": settings.celery_always_eager,
        "task_eager_propagates": True,
        "beat_schedule_filename": str(settings.data_dir / "celerybeat-schedule"),
        "pult_key_prefix": key_prefix,
        "pult_retry_base": DEFAULT_RETRY_BASE,
        "pult_retry_max": DEFAULT_RETRY_MAX,
        "pult_max_retries": DEFAULT_MAX_RETRIES,
    }


def configure(settings: Settings | None = None, *, key_prefix: str = "",
              **overrides: Any) -> Celery:
    """(Re)configure :data:`app` for ``settings``; ``overrides`` are extra Celery/pult settings.

    Safe to call again (tests, CLI start-up): cached broker pools and result backends are dropped
    so the next use connects with the new configuration. Call it before starting a worker.
    """
    settings = settings or get_settings()
    config = celery_config(settings, key_prefix)
    config.update(overrides)
    with _configure_lock:
        _last.update(settings=settings, key_prefix=key_prefix, overrides=dict(overrides))
        app.conf.update(config)
        app.conf.include = task_modules()
        app.conf.pult_settings_data_dir = str(settings.data_dir)
        # forget connections made with the previous configuration
        app._pool = None
        app.amqp._producer_pool = None
        app._backend_cache = None
        app._local = threading.local()
        from jobs import schedules
        schedules.apply(app)
    return app


def ensure_configured(settings: Settings) -> Celery:
    """Configure for ``settings`` unless already configured for them (runners call this).

    Keeps the key prefix and overrides of the last :func:`configure` call, so a test or an
    operator tool that configured the app first is not undone when a worker starts.
    """
    if _last.get("settings") is settings:
        return app
    return configure(settings, key_prefix=_last.get("key_prefix", ""),
                     **_last.get("overrides", {}))


def task_modules() -> list[str]:
    """All modules of the ``jobs`` package that may define tasks (found on disk, none imported).

    Workers import these at start, which registers their tasks and their beat schedules; a new
    module (``jobs/fax.py``, ``jobs/billing/close.py``) is picked up without editing this file.
    """
    from pathlib import Path

    root = Path(__file__).resolve().parent
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if any(part.startswith((".", "_")) for part in rel.parts[:-1]) or \
                not all((root / Path(*rel.parts[:i]) / "__init__.py").exists()
                        for i in range(1, len(rel.parts))):
            continue
        if rel.name == "__init__.py":
            name = ".".join(("jobs", *rel.parts[:-1]))
        elif rel.name.startswith("_"):
            continue
        else:
            name = ".".join(("jobs", *rel.parts[:-1], rel.stem))
        if name != "jobs" and name not in _NOT_TASK_MODULES:
            found.append(name)
    return found


def key_prefix() -> str:
    """The Redis key prefix of this installation ('' unless configured)."""
    return app.conf.get("pult_key_prefix", "") or ""


def queue_for(task_name: str) -> str:
    """The queue a task of this name is routed to (``default`` if no route matches)."""
    route = app.amqp.router.route({}, task_name)
    queue = route.get("queue")
    return getattr(queue, "name", queue) or app.conf.task_default_queue


configure()


_redis_clients: dict[tuple[str, int], Any] = {}


def redis_client():
    """A synchronous redis-py client for the configured Redis (one per URL and process).

    Used by jobs for their own keys (idempotency claims, heartbeats). Keyed by pid too, so a
    forked worker child never shares its parent's sockets. Keys must be prefixed with
    :func:`key_prefix` by the caller.
    """
    import os

    import redis

    url = app.conf.broker_url
    ident = (url, os.getpid())
    client = _redis_clients.get(ident)
    if client is None:
        # worker threads share it: a pool that waits for a free connection instead of failing
        client = redis.Redis(connection_pool=redis.BlockingConnectionPool.from_url(
            url, max_connections=50, timeout=10, socket_connect_timeout=3, socket_timeout=10,
            health_check_interval=25))
        _redis_clients[ident] = client
    return client
