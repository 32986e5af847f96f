"""One-time secrets in Redis: 6-digit confirmation codes, the post-reset cooldown, single-use
password links (PRODUCT.md §6, inventory A §1.1–1.2).

Nothing usable is stored in clear: a code is kept as an HMAC (keyed with the installation secret)
of the code and its flow id, a link token only as its SHA-256, so a Redis dump gives neither.

Time comes from an injected ``now()`` (unix seconds; the process clock ``pult.clock`` by default), so tests move the clock instead of
sleeping: each record stores its own deadline and is judged against ``now()``; the Redis TTLs
are only a generous clean-up bound in real time.

Keys (``prefix`` = the web layer's Redis prefix)::

    {prefix}code:{flow}            hash: ident, kind, user_id, mac, expires, tries, sent
    {prefix}code-cool:{sha(ident)} deadline of the post-reset cooldown (unix seconds)
    {prefix}code-req:{sha(ident)}  codes requested for an identifier in the last hour
    {prefix}link:{sha(token)}      hash: user_id, account_id, expires, purpose
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Callable

from pult import clock

CODE_TTL = 180              # a code is valid 3 minutes
CODE_TRIES = 5              # at most 5 attempts per code
RESET_COOLDOWN = 3600       # 1 h after a successful reset, no new code for that identifier
CODE_REQUESTS_PER_HOUR = 5  # codes one identifier may request per hour (SMS/e-mail flood guard)
LINK_TTL = 24 * 3600        # account-number recovery link: valid 24 h, single use
FLOW_KEEP = 3600            # how long a flow record lives in real time (clean-up bound)


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class CodeCheck:
    """The outcome of :meth:`CodeStore.check`: ``status`` is ok | wrong | expired | exhausted |
    unknown (no such flow); ``tries_left`` after a wrong code; the flow's user on success."""

    status: str
    tries_left: int = 0
    user_id: str | None = None
    ident: str | None = None
    kind: str | None = None


class CodeStore:
    def __init__(self, redis, prefix: str, secret: str, now: Callable[[], float] = clock.timestamp):
        self.redis = redis
        self.prefix = prefix
        self.secret = secret.encode()
        self.now = now

    def _mac(self, flow: str, code: str) -> str:
        return hmac.new(self.secret, f"{flow}:{code}".encode(), hashlib.sha256).hexdigest()

    # --- cooldown and request budget ------------------------------------------------------
    async def cooldown_left(self, ident: str) -> int:
        """Seconds until a new code may be requested for ``ident`` (0: now)."""
        raw = await self.redis.get(f"{self.prefix}code-cool:{_sha(ident)}")
        if not raw:
            return 0
        return max(0, int(float(raw) - self.now() + 0.999))

    async def start_cooldown(self, ident: str) -> None:
        await self.redis.set(f"{self.prefix}code-cool:{_sha(ident)}", self.now() + RESET_COOLDOWN,
                             ex=RESET_COOLDOWN * 2)

    async def take_request(self, ident: str) -> bool:
        """Count one code request for ``ident``; False when the hourly budget is spent."""
        key = f"{self.prefix}code-req:{_sha(ident)}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, 3600, nx=True)
            count, _ = await pipe.execute()
        return int(count) <= CODE_REQUESTS_PER_HOUR

    # --- codes ----------------------------------------------------------------------------
    async def issue(self, ident: str, kind: str, user_id: str | None) -> tuple[str, str]:
        """Start a flow for ``ident``; returns (flow id, code). An unknown identifier gets a flow
        too (``user_id`` None), so the caller answers the same either way."""
        flow = secrets.token_urlsafe(18)
        code = f"{secrets.randbelow(10 ** 6):06d}"
        await self.redis.hset(f"{self.prefix}code:{flow}", mapping={
            "ident": ident, "kind": kind, "user_id": user_id or "", "mac": self._mac(flow, code),
            "expires": self.now() + CODE_TTL, "tries": 0})
        await self.redis.expire(f"{self.prefix}code:{flow}", FLOW_KEEP)
        return flow, code

    async def peek(self, flow: str) -> dict | None:
        """The flow record (without the MAC), or None."""
        if not flow or len(flow) > 64:
            return None
        data = await self.redis.hgetall(f"{self.prefix}code:{flow}")
        if not data:
            return None
        data.pop("mac", None)
        return data

    async def check(self, flow: str, code: str) -> CodeCheck:
        """Judge ``code`` for ``flow``. A wrong code uses one try; the fifth wrong try, or any
        try after the deadline, ends the flow. A right code ends it too (single use)."""
        key = f"{self.prefix}code:{flow}"
        if not flow or len(flow) > 64:
            return CodeCheck("unknown")
        data = await self.redis.hgetall(key)
        if not data:
            return CodeCheck("unknown")
        if self.now() >= float(data["expires"]):
            await self.redis.delete(key)
            return CodeCheck("expired", ident=data["ident"], kind=data["kind"])
        tries = int(await self.redis.hincrby(key, "tries", 1))
        if tries > CODE_TRIES:
            await self.redis.delete(key)
            return CodeCheck("exhausted", ident=data["ident"], kind=data["kind"])
        code = (code or "").strip()
        ok = len(code) == 6 and code.isdigit() and hmac.compare_digest(self._mac(flow, code), data["mac"])
        if ok and data.get("user_id"):
            if await self.redis.delete(key) != 1:  # a parallel request used it first
                return CodeCheck("unknown")
            return CodeCheck("ok", 0, data["user_id"], data["ident"], data["kind"])
        if tries >= CODE_TRIES:
            await self.redis.delete(key)
            return CodeCheck("exhausted", ident=data["ident"], kind=data["kind"])
        return CodeCheck("wrong", CODE_TRIES - tries, ident=data["ident"], kind=data["kind"])

    # --- single-use links -----------------------------------------------------------------
    async def issue_link(self, user_id: str, account_id: int | None, purpose: str = "account") -> str:
        """A random token for a single-use link valid :data:`LINK_TTL` seconds."""
        token = secrets.token_urlsafe(32)
        key = f"{self.prefix}link:{_sha(token)}"
        await self.redis.hset(key, mapping={"user_id": user_id, "account_id": account_id or "",
                                            "purpose": purpose, "expires": self.now() + LINK_TTL})
        await self.redis.expire(key, LINK_TTL + 3600)
        return token

    async def peek_link(self, token: str) -> dict | None:
        """The link's record while it is valid (not used, not expired), else None."""
        if not token or len(token) > 100:
            return None
        data = await self.redis.hgetall(f"{self.prefix}link:{_sha(token)}")
        if not data or self.now() >= float(data["expires"]):
            return None
        return data

    async def use_link(self, token: str) -> dict | None:
        """Consume the link atomically (GETDEL semantics): the record, or None if it was used,
        expired or never existed. Two parallel uses: exactly one wins."""
        if not token or len(token) > 100:
            return None
        key = f"{self.prefix}link:{_sha(token)}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(key)
            pipe.delete(key)
            data, deleted = await pipe.execute()
        if not data or not deleted or self.now() >= float(data["expires"]):
            return None
        return data


def code_store(handler) -> CodeStore:
    """The code store of a request: the app's Redis and prefix, the installation secret, and the
    process clock (``pult.clock``, which tests set and move)."""
    ctx = handler.ctx
    return CodeStore(ctx.redis, ctx.redis_prefix, ctx.settings.cookie_secret())
