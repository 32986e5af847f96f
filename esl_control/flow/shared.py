"""What one call needs to know of the other calls, shared by every Pult instance (PRODUCT.md §5).

- current calls per PBX (the concurrent-call limit) and per trunk (its lines): a Redis sorted
  set per PBX / trunk, member = call uuid, score = when it started; an entry older than :data:`STALE_AFTER` is dropped (a Pult
  instance that died mid-call cannot hold a PBX's lines for ever);
- the "longest idle" clock of the uniform group strategy: a Redis hash per PBX, member key →
  when that member last finished a call.

:class:`LocalCallState` is the same in this process's memory (tests, a single instance without
Redis). A Redis failure never stops a call: the limit is then not enforced for that call and
the idle order falls back to the list order; the failure is logged.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Iterable

from pult import clock

log = logging.getLogger(__name__)

__all__ = ["LocalCallState", "RedisCallState", "STALE_AFTER"]

#: a call counted longer than this is taken as left behind by a crashed instance (seconds)
STALE_AFTER = 6 * 3600


class _Leaving:
    """What both states share: counting one call out of several counters at once, through the
    state's own ``leave_each`` (pairs of counter and member)."""

    async def leave_all(self, keys: list[int | str], uuid: str) -> None:
        """:meth:`leave` of one call for several counters (its PBX and its trunk)."""
        await self.leave_each([(key, uuid) for key in keys])  # type: ignore[attr-defined]


class LocalCallState(_Leaving):
    """Current calls per PBX and idle times, in memory."""

    def __init__(self, now: Callable[[], float] = clock.timestamp) -> None:
        self.now = now
        self.calls: dict[int | str, dict[str, float]] = {}
        self.idle: dict[tuple[int, str], float] = {}

    async def enter(self, pbx_id: int | str, uuid: str) -> int | None:
        """Count the call in; the PBX's current number of calls (``None``: unknown). A string
        names another counter, e.g. ``"trunk:<id>"`` (a trunk's lines)."""
        self.calls.setdefault(pbx_id, {})[uuid] = self.now()
        return len(self.calls[pbx_id])

    async def enter_all(self, keys: list[int | str], uuid: str) -> list[int | None]:
        """:meth:`enter` for several counters at once (a call's PBX and its trunk)."""
        return [await self.enter(key, uuid) for key in keys]

    async def leave_each(self, pairs: list[tuple[int | str, str]]) -> None:
        """:meth:`leave` for each (counter, member) pair."""
        for key, member in pairs:
            await self.leave(key, member)

    async def leave(self, pbx_id: int | str, uuid: str) -> None:
        calls = self.calls.get(pbx_id, {})
        calls.pop(uuid, None)
        if not calls:
            self.calls.pop(pbx_id, None)

    async def idle_since(self, pbx_id: int, keys: Iterable[str]) -> dict[str, float]:
        return {k: self.idle.get((pbx_id, k), 0.0) for k in keys}

    async def finished(self, pbx_id: int, key: str) -> None:
        self.idle[(pbx_id, key)] = self.now()


class RedisCallState(_Leaving):
    """The same over Redis (``redis.asyncio`` client), shared by every Pult instance."""

    def __init__(self, redis: Any, *, prefix: str = "pult:calls", now: Callable[[], float] = clock.timestamp) -> None:
        self.redis = redis
        self.prefix = prefix
        self.now = now

    def _calls(self, pbx_id: int | str) -> str:
        return f"{self.prefix}:{pbx_id}" if isinstance(pbx_id, str) else f"{self.prefix}:pbx:{int(pbx_id)}"

    def _idle(self, pbx_id: int) -> str:
        return f"{self.prefix}:idle:{int(pbx_id)}"

    async def enter(self, pbx_id: int | str, uuid: str) -> int | None:
        return (await self.enter_all([pbx_id], uuid))[0]

    async def enter_all(self, keys: list[int | str], uuid: str) -> list[int | None]:
        """:meth:`enter` for several counters (a call's PBX and its trunk) in one round trip."""
        if not keys:
            return []
        now = self.now()
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                for key in keys:
                    name = self._calls(key)
                    pipe.zremrangebyscore(name, "-inf", now - STALE_AFTER)
                    pipe.zadd(name, {uuid: now})
                    pipe.zcard(name)
                    pipe.expire(name, STALE_AFTER)
                res = await pipe.execute()
            return [int(res[4 * i + 2]) for i in range(len(keys))]
        except Exception as exc:
            log.warning("current calls of %s unknown (Redis: %s): the limit is not applied",
                        ", ".join(map(str, keys)), exc)
            return [None] * len(keys)

    async def leave(self, pbx_id: int | str, uuid: str) -> None:
        await self.leave_all([pbx_id], uuid)

    async def leave_each(self, pairs: list[tuple[int | str, str]]) -> None:
        """:meth:`leave` for each (counter, member) pair, in one round trip."""
        if not pairs:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key, member in pairs:
                    pipe.zrem(self._calls(key), member)
                await pipe.execute()
        except Exception as exc:
            log.warning("%s not counted out (Redis: %s); they expire by themselves",
                        ", ".join(f"{member} of {key}" for key, member in pairs), exc)

    async def idle_since(self, pbx_id: int, keys: Iterable[str]) -> dict[str, float]:
        keys = list(keys)
        if not keys:
            return {}
        try:
            values = await self.redis.hmget(self._idle(pbx_id), keys)
        except Exception as exc:
            log.warning("idle times of PBX %s unknown (Redis: %s): list order", pbx_id, exc)
            return {k: 0.0 for k in keys}
        return {k: float(v) if v else 0.0 for k, v in zip(keys, values)}

    async def finished(self, pbx_id: int, key: str) -> None:
        try:
            await self.redis.hset(self._idle(pbx_id), key, str(self.now()))
        except Exception as exc:
            log.warning("idle time of %s not kept (Redis: %s)", key, exc)
