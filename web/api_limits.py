"""Request rate limits per API key (issue 13): ``PULT_API_RATE_LIMIT`` requests per window.

Every request authenticated by a key — a PBX's API key or an operator's integration key — counts
against that key's quota, kept in Redis by the :pypi:`limits` library (a fixed window that
starts with the key's first request of the window), so every Pult process shares it. Session
requests (the cabinet) are not counted here: their abuse is bounded by the login limits.

Each answer to a key carries the quota in the headers of the IETF draft
(draft-ietf-httpapi-ratelimit-headers)::

    RateLimit-Limit: 600          requests allowed in the window
    RateLimit-Remaining: 598      left in the current window
    RateLimit-Reset: 41           seconds until the window starts again
    RateLimit-Policy: 600;w=60    the policy: quota;w=window seconds

and a request over the quota is answered 429 ``rate_limited`` with ``Retry-After`` (seconds) and
the same headers, before the handler runs: nothing is changed. Keys are counted independently,
so one key exhausting its quota does not touch another's (nor another PBX's). While Redis is
unreachable the limit fails open: the request goes on uncounted and without the headers (a key
needs no Redis to authenticate; what does need Redis answers 503 by itself).
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.errors import StorageError
from redis.exceptions import RedisError
from limits.aio.storage import RedisStorage
from limits.aio.strategies import FixedWindowRateLimiter

from pult.errors import AppError
from pult.i18n import N_

log = logging.getLogger("pult.web.access")

DEFAULT_LIMIT = "600/minute"
RATE_LIMITED = N_("Too many requests with this API key: at most %(limit)s in %(window)s s. Try again in %(seconds)s s.")


def parse_limit(text: str) -> RateLimitItem:
    """``"600/minute"``, ``"10 per second"``, ``"1000/hour"``… (the :pypi:`limits` notation);
    ValueError for anything else, or a quota below 1."""
    try:
        item = parse(text)
    except ValueError as exc:
        raise ValueError(f"not a rate limit (e.g. 600/minute): {text!r}") from exc
    if item.amount < 1:
        raise ValueError(f"a rate limit allows at least 1 request: {text!r}")
    return item


@dataclass(frozen=True)
class Quota:
    """A key's quota after one request."""

    allowed: bool
    limit: int
    remaining: int
    reset: int      # seconds until the window starts again
    window: int     # seconds of the window

    def headers(self) -> dict[str, str]:
        return {"RateLimit-Limit": str(self.limit), "RateLimit-Remaining": str(self.remaining),
                "RateLimit-Reset": str(self.reset), "RateLimit-Policy": f"{self.limit};w={self.window}"}


class ApiRateLimiter:
    """One quota per key, shared through Redis (the web layer's pool, under its key prefix)."""

    def __init__(self, redis, prefix: str, limit: str = DEFAULT_LIMIT):
        self.item = parse_limit(limit)
        self._redis = redis
        self._prefix = prefix
        self._limiter: FixedWindowRateLimiter | None = None

    def _strategy(self) -> FixedWindowRateLimiter:
        if self._limiter is None:  # built on first use: the pool belongs to the running loop
            storage = RedisStorage("async+redis://", implementation="redispy",
                                   key_prefix=f"{self._prefix}ratelimit",
                                   connection_pool=self._redis.connection_pool)
            self._limiter = FixedWindowRateLimiter(storage)
        return self._limiter

    async def hit(self, kind: str, key_id: str) -> Quota:
        """Count one request of the key ``kind``/``key_id`` and tell its quota."""
        limiter = self._strategy()
        allowed = await limiter.hit(self.item, kind, key_id)
        stats = await limiter.get_window_stats(self.item, kind, key_id)
        # the window's end is the counter's TTL in Redis, told by limits as a wall-clock time
        reset = max(0, math.ceil(stats.reset_time - time.time()))
        window = self.item.get_expiry()
        return Quota(allowed, self.item.amount, max(0, stats.remaining), min(reset, window), window)


async def limit_key_request(handler, kind: str, key_id: str) -> None:
    """Count a key's request; remember the headers for every answer of the request (errors too,
    ``BaseHandler.set_default_headers``); 429 when the quota is used up."""
    limiter: ApiRateLimiter | None = handler.application.settings.get("api_limiter")
    if limiter is None:
        return
    try:
        quota = await limiter.hit(kind, key_id)
    except (RedisError, StorageError) as exc:
        # fail open: a key needs no Redis to authenticate, and a Redis outage must not take the
        # API down with it (whatever needs Redis answers 503 by itself; README "Limits")
        log.warning("API rate limit not counted for %s %s (Redis unavailable): %s", kind, key_id, exc)
        return
    handler.rate_limit_headers = quota.headers()
    for name, value in handler.rate_limit_headers.items():
        handler.set_header(name, value)
    if not quota.allowed:
        wait = max(1, quota.reset)
        raise AppError(429, "rate_limited", RATE_LIMITED, headers={"Retry-After": str(wait)},
                       limit=quota.limit, window=quota.window, seconds=wait)
