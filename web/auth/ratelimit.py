"""Failed-login rate limits: fixed windows counted in Redis, per login and per client address.

Only failures count. Before checking a password the login handler asks :meth:`blocked`; after a
failure it calls :meth:`failed`; after a success :meth:`succeeded` clears that login's counter
(the address counter stays, so one address cannot try many logins). The same limits hold for
known and unknown logins, so the limiter itself does not reveal which logins exist. Counters
live in Redis, so every server instance shares them.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class LoginLimits:
    """How many failures are allowed in ``window`` seconds, per login and per address."""

    per_login: int = 5
    per_ip: int = 30
    window: int = 15 * 60


class LoginRateLimiter:
    def __init__(self, redis, prefix: str, limits: LoginLimits):
        self.redis = redis
        self.prefix = prefix
        self.limits = limits

    def _keys(self, login_norm: str, ip: str) -> tuple[str, str]:
        digest = hashlib.sha256(login_norm.encode()).hexdigest()[:32]  # no logins in key names
        return f"{self.prefix}rl:login:{digest}", f"{self.prefix}rl:ip:{ip}"

    async def blocked(self, login_norm: str, ip: str) -> int:
        """Seconds until another attempt is allowed (0: allowed now)."""
        lkey, ikey = self._keys(login_norm, ip)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(lkey)
            pipe.ttl(lkey)
            pipe.get(ikey)
            pipe.ttl(ikey)
            lcount, lttl, icount, ittl = await pipe.execute()
        wait = 0
        if lcount is not None and int(lcount) >= self.limits.per_login:
            wait = max(wait, lttl if lttl and lttl > 0 else self.limits.window)
        if icount is not None and int(icount) >= self.limits.per_ip:
            wait = max(wait, ittl if ittl and ittl > 0 else self.limits.window)
        return wait

    async def failures(self, login_norm: str, ip: str) -> tuple[int, int]:
        """(failures of this login, failures from this address) in the current windows."""
        lkey, ikey = self._keys(login_norm, ip)
        lcount, icount = await self.redis.mget(lkey, ikey)
        return int(lcount or 0), int(icount or 0)

    async def failed(self, login_norm: str, ip: str) -> None:
        """Count one failure (the window starts at the first failure)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in self._keys(login_norm, ip):
                pipe.incr(key)
                pipe.expire(key, self.limits.window, nx=True)
            await pipe.execute()

    async def succeeded(self, login_norm: str, ip: str) -> None:
        await self.redis.delete(self._keys(login_norm, ip)[0])
