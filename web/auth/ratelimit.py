"""Failed-login rate limits: fixed windows counted in Redis.

Three counters per failure: the login (from anywhere), the login from this address, and the
address. What *locks* is the source: the login from that address after ``per_login`` failures,
and the address after ``per_ip`` failures (whatever logins it tries). The login's own counter
never locks — otherwise anyone could lock a user out with five wrong passwords — it only asks
for the captcha (``web.auth.captcha.captcha_needed``), which the real user can solve.

Only failures count. Before checking a password the login handler asks :meth:`blocked`; after a
failure it calls :meth:`failed`; after a success :meth:`succeeded` clears that login's counters
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

    per_login: int = 5   # failures of one login from one address before that pair is locked
    per_ip: int = 30     # failures from one address (any logins) before the address is locked
    window: int = 15 * 60


class LoginRateLimiter:
    def __init__(self, redis, prefix: str, limits: LoginLimits):
        self.redis = redis
        self.prefix = prefix
        self.limits = limits

    def _keys(self, login_norm: str, ip: str) -> tuple[str, str, str]:
        """(the login's key, the login-from-this-address key, the address's key)."""
        digest = hashlib.sha256(login_norm.encode()).hexdigest()[:32]  # no logins in key names
        pair = hashlib.sha256(f"{login_norm}\x00{ip}".encode()).hexdigest()[:32]
        return f"{self.prefix}rl:login:{digest}", f"{self.prefix}rl:src:{pair}", f"{self.prefix}rl:ip:{ip}"

    async def blocked(self, login_norm: str, ip: str) -> int:
        """Seconds until another attempt from ``ip`` is allowed (0: allowed now). Failures of the
        login from other addresses do not lock this one out (they bring the captcha)."""
        _lkey, pkey, ikey = self._keys(login_norm, ip)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(pkey)
            pipe.ttl(pkey)
            pipe.get(ikey)
            pipe.ttl(ikey)
            pcount, pttl, icount, ittl = await pipe.execute()
        wait = 0
        if pcount is not None and int(pcount) >= self.limits.per_login:
            wait = max(wait, pttl if pttl and pttl > 0 else self.limits.window)
        if icount is not None and int(icount) >= self.limits.per_ip:
            wait = max(wait, ittl if ittl and ittl > 0 else self.limits.window)
        return wait

    async def failures(self, login_norm: str, ip: str) -> tuple[int, int]:
        """(failures of this login, failures from this address) in the current windows."""
        lkey, _pkey, ikey = self._keys(login_norm, ip)
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
        await self.redis.delete(*self._keys(login_norm, ip)[:2])
