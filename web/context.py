"""What the web application needs from the rest of Pult, in one object.

The CLI builds an :class:`AppContext` with the real parts and hands it to
:func:`web.app.make_app`; tests build one with the embedded store, a real Redis and, where a
part is not under test, a small fake provider. Optional providers may be None: the pages and
``/readyz`` then say "not configured" instead of failing.

Providers (duck-typed, so this module imports none of their packages):

- ``nodes``: an object with ``snapshot() -> list[dict]`` — one dict per FreeSWITCH node with at
  least ``name``, ``host``, ``port``, ``state`` (connecting | up | down | auth_failed), and
  optionally ``error``, ``since`` (datetime or unix seconds), ``reconnects``, ``calls``.
  ``snapshot`` may be a plain or an async method.
- ``jobs_health``: ``async () -> dict`` — worker liveness and queue lengths, reported as is.
- ``extra_routes``: Tornado URL specs mounted as they are (e.g. ``fs_config.routes(...)``).
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Awaitable, Callable, Protocol

from pult.settings import Settings
from web.auth.ratelimit import LoginLimits


class NodesProvider(Protocol):
    def snapshot(self) -> list[dict]: ...


@dataclass
class AppContext:
    settings: Settings
    store: Any                                   # storage.client.Store (started)
    redis: Any                                   # redis.asyncio.Redis, decode_responses=True
    nodes: NodesProvider | None = None
    jobs_health: Callable[[], Awaitable[dict]] | None = None
    extra_routes: list = field(default_factory=list)
    redis_prefix: str = "pult:web:"              # every Redis key the web layer writes starts so
    session_idle: timedelta = timedelta(hours=2)
    session_absolute: timedelta = timedelta(hours=12)
    login_limits: LoginLimits = field(default_factory=LoginLimits)
    metrics_allow: str | None = None             # CIDRs for /metrics; None: settings or loopback
    readiness_timeout: float = 2.0               # seconds per dependency check in /readyz
    debug: bool = False

    @classmethod
    def create(cls, settings: Settings, store: Any, **kw: Any) -> "AppContext":
        """A context with a Redis client built from ``settings.redis_url`` (short timeouts)."""
        return cls(settings=settings, store=store, redis=make_redis(settings.redis_url), **kw)

    async def node_snapshot(self) -> list[dict] | None:
        """The nodes provider's snapshot (None when no provider is configured)."""
        if self.nodes is None:
            return None
        result = self.nodes.snapshot()
        if inspect.isawaitable(result):
            result = await result
        return [_normalise_node(n) for n in result]

    async def close(self) -> None:
        """Close what :meth:`create` opened (the Redis pool); the store belongs to the caller."""
        await self.redis.aclose()


def _normalise_node(node: dict) -> dict:
    """The web's view of a node: ``since`` as a datetime, ``error`` and ``calls`` whatever the
    provider calls them (esl_control's NodeManager says ``last_error``/``calls_in_progress``)."""
    out = dict(node)
    since = out.get("since")
    if isinstance(since, str):
        try:
            out["since"] = datetime.fromisoformat(since)
        except ValueError:
            out["since"] = None
    out.setdefault("error", out.get("last_error"))
    out.setdefault("calls", out.get("calls_in_progress"))
    return out


#: connections the web layer's Redis pool opens at most, and how long a request waits for a free
#: one before it gives up (503): a burst of requests waits its turn instead of failing at once
REDIS_MAX_CONNECTIONS = 100
REDIS_POOL_TIMEOUT = 5.0


def make_redis(url: str, max_connections: int = REDIS_MAX_CONNECTIONS, pool_timeout: float = REDIS_POOL_TIMEOUT):
    """A redis.asyncio client for the web layer: text replies, fail fast when Redis is down, and a
    pool that waits up to ``pool_timeout`` seconds for a free connection when all
    ``max_connections`` are busy (redis-py's default pool refuses at once: "Too many connections")."""
    import redis.asyncio as aioredis

    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=pool_timeout, decode_responses=True,
        socket_connect_timeout=2, socket_timeout=5, health_check_interval=30)
    return aioredis.Redis.from_pool(pool)
