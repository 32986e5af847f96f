"""Which Pult instances are alive to take calls: their outbound socket addresses, in Redis.

Every Pult process that runs an outbound ESL server beats every :attr:`OutboundInstances.interval`
seconds: it writes its address (``host:port``, as FreeSWITCH reaches it: ``PULT_OUTBOUND_HOST``)
into one Redis sorted set with the time as score, drops addresses whose last beat is older than
:attr:`OutboundInstances.ttl`, and keeps the live ones in memory. The xml_curl dialplan answer
reads that memory (no Redis round trip on a lookup) and names this instance first, then the other
live ones: ``socket host1:port1|host2:port2 async full`` — mod_event_socket's ``socket``
application tries the hosts in order and takes the first that accepts (``socket_function`` in
mod_event_socket.c, up to 50), so a call still finds Pult when the first one died after the answer.

An instance that stops cleanly removes its address at once; one that dies stops beating and is
left out of every answer after ``ttl`` seconds. While Redis is unreachable an instance names only
itself (and logs it): it never names an address it cannot vouch for.

    instances = OutboundInstances(redis, own=lambda: (host, port))
    task = asyncio.create_task(instances.run(stop_event))
    instances.addresses()   # [(host, port), ...] own first: what the dialplan answer names
    await instances.leave()
    await hand_off_calls(instances, outbound_server)   # a clean stop: the callers go on elsewhere
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

from pult import clock

log = logging.getLogger(__name__)

__all__ = ["OutboundInstances", "MAX_NAMED", "hand_off_calls", "HANDOFF_TIMEOUT"]

#: a clean stop hands its callers on within this many seconds
HANDOFF_TIMEOUT = 5.0

#: at most this many addresses in one answer (FreeSWITCH takes up to 50)
MAX_NAMED = 8


def _member(address: tuple[str, int]) -> str:
    return f"{address[0]}:{int(address[1])}"


def _parse(member: str) -> tuple[str, int] | None:
    host, _, port = member.rpartition(":")
    return (host, int(port)) if host and port.isdigit() else None


class OutboundInstances:
    """The live instances' outbound addresses (see the module docstring)."""

    def __init__(self, redis: Any, own: Callable[[], tuple[str, int] | None], *, key: str = "pult:outbound",
                 ttl: float = 10.0, interval: float = 3.0, now: Callable[[], float] = clock.timestamp) -> None:
        if not 0 < interval < ttl:
            raise ValueError(f"heartbeat interval {interval} must be shorter than the ttl {ttl}")
        self.redis = redis
        self.own = own
        self.key = key
        self.ttl = ttl
        self.interval = interval
        self.now = now
        self._others: list[tuple[str, int]] = []
        self._known_at_leave: list[tuple[str, int]] = []

    async def beat(self) -> None:
        """Say this instance is alive and learn which others are."""
        own = self.own()
        now = self.now()
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                if own is not None:
                    pipe.zadd(self.key, {_member(own): now})
                pipe.zremrangebyscore(self.key, "-inf", now - self.ttl)
                pipe.zrangebyscore(self.key, now - self.ttl, "+inf")
                res = await pipe.execute()
        except Exception as exc:
            if self._others:
                log.warning("live Pult instances unknown (Redis: %s): naming this one only", exc)
            self._others = []
            return
        members = res[-1]
        found = []
        for m in members:
            address = _parse(m.decode() if isinstance(m, bytes) else m)
            if address is not None and address != own:
                found.append(address)
        self._others = sorted(found)

    async def leave(self) -> None:
        """This instance takes no new calls (a clean stop): out of every answer at once."""
        own = self.own()
        self._known_at_leave = list(self._others) or self._known_at_leave
        self._others = []
        if own is None:
            return
        try:
            await self.redis.zrem(self.key, _member(own))
        except Exception as exc:
            log.warning("could not remove this instance from the live ones (Redis: %s); it expires "
                        "after %s s", exc, self.ttl)

    async def live_others(self) -> list[tuple[str, int]]:
        """The other instances live now, read from Redis (a stopping instance asks before it
        hands its calls on); while Redis is unreachable, the ones known at the last beat."""
        own = self.own()
        now = self.now()
        try:
            members = await self.redis.zrangebyscore(self.key, now - self.ttl, "+inf")
        except Exception as exc:
            log.warning("live Pult instances unknown (Redis: %s): taking the last known", exc)
            return list(self._others or self._known_at_leave)
        found = []
        for m in members:
            address = _parse(m.decode() if isinstance(m, bytes) else m)
            if address is not None and address != own:
                found.append(address)
        return sorted(found)

    async def run(self, stop: asyncio.Event) -> None:
        """Beat until ``stop`` is set, then leave."""
        try:
            while not stop.is_set():
                await self.beat()
                try:
                    await asyncio.wait_for(stop.wait(), self.interval)
                except asyncio.TimeoutError:
                    pass
        finally:
            await self.leave()

    def addresses(self) -> list[tuple[str, int]] | None:
        """What a dialplan answer names now: this instance first (when its outbound server
        runs), then the other live ones; ``None`` when there is none."""
        own = self.own()
        named = ([own] if own is not None else []) + [a for a in self._others if a != own]
        return named[:MAX_NAMED] or None


async def hand_off_calls(instances: OutboundInstances, outbound: Any, *,
                         timeout: float = HANDOFF_TIMEOUT) -> dict[str, int]:
    """A clean stop, once this instance has left (:meth:`OutboundInstances.leave`): ask Redis
    whether another instance is live, then let the outbound server
    (:meth:`esl_control.outbound_server.OutboundServer.hand_off`) send each caller not yet
    talking back through the dialplan to it — or, with none left, to the switch's "please call
    later" and a hang-up. Bounded by ``timeout`` seconds."""
    try:
        others = await asyncio.wait_for(instances.live_others(), min(1.0, timeout / 2))
    except Exception as exc:
        log.warning("live Pult instances unknown at stop (%s): the callers hear the goodbye", exc)
        others = []
    return await outbound.hand_off(bool(others), timeout=timeout)
