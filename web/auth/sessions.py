"""Server-side sessions in Redis.

The browser holds only a random session id (32 bytes, in a signed HttpOnly cookie). Redis holds
the session under the SHA-256 of that id, so a Redis dump or the session list never reveals a
usable cookie value; the hash's first 32 hex digits are the session's public ``id`` (listed to its
owner and revocable).

Keys (``prefix`` keeps deployments and test runs apart)::

    {prefix}sess:{id}          hash: user_id, session_version, created, last_seen, expires, ip, ua
    {prefix}user-sess:{user}   set of the user's session ids (cleaned when listed)

Expiry: a session dies after ``idle`` without requests or ``absolute`` after login, whichever
comes first; the Redis TTL is always the smaller of the two, so dead sessions vanish by themselves.
A session also dies when the user's ``session_version`` moved on (password change).
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from pult import clock


@dataclass
class Session:
    """One live session as loaded for a request."""

    id: str              # public id (hash prefix), never the cookie value
    user_id: str
    session_version: int
    created: float       # unix seconds
    last_seen: float
    expires: float       # absolute expiry, unix seconds
    ip: str
    user_agent: str

    def public(self, current_id: str | None = None) -> dict:
        return {"id": self.id, "created": self.created, "last_seen": self.last_seen,
                "expires": self.expires, "ip": self.ip, "user_agent": self.user_agent,
                "current": self.id == current_id}


def session_id_of(token: str) -> str:
    """The public id of a cookie token."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]


class SessionStore:
    """Create, load, list and revoke sessions (redis.asyncio client with decode_responses=True)."""

    def __init__(self, redis, prefix: str, idle: timedelta, absolute: timedelta):
        self.redis = redis
        self.prefix = prefix
        self.idle = int(idle.total_seconds())
        self.absolute = int(absolute.total_seconds())
        if self.idle <= 0 or self.absolute <= 0:
            raise ValueError("session idle and absolute lifetimes must be positive")
        # don't rewrite last_seen on every request: once per this many seconds is enough
        self.touch_every = max(1, min(60, self.idle // 10))

    def _key(self, sid: str) -> str:
        return f"{self.prefix}sess:{sid}"

    def _user_key(self, user_id: str) -> str:
        return f"{self.prefix}user-sess:{user_id}"

    async def create(self, user: dict, ip: str, user_agent: str) -> tuple[str, Session]:
        """A new session for ``user``; returns (cookie token, session)."""
        token = secrets.token_urlsafe(32)
        sid = session_id_of(token)
        now = clock.timestamp()
        sess = Session(sid, user["_id"], int(user.get("session_version", 1)), now, now,
                       now + self.absolute, ip or "", (user_agent or "")[:300])
        key = self._key(sid)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"user_id": sess.user_id, "session_version": sess.session_version,
                                    "created": now, "last_seen": now, "expires": sess.expires,
                                    "ip": sess.ip, "ua": sess.user_agent})
            pipe.expire(key, min(self.idle, self.absolute))
            pipe.sadd(self._user_key(sess.user_id), sid)
            pipe.expire(self._user_key(sess.user_id), self.absolute)
            await pipe.execute()
        return token, sess

    def _parse(self, sid: str, data: dict) -> Session | None:
        try:
            return Session(sid, data["user_id"], int(data["session_version"]), float(data["created"]),
                           float(data["last_seen"]), float(data["expires"]), data.get("ip", ""),
                           data.get("ua", ""))
        except (KeyError, ValueError):
            return None

    async def load(self, token: str) -> Session | None:
        """The live session of a cookie token (touching its idle timer), or None."""
        if not token or len(token) > 200:
            return None
        sid = session_id_of(token)
        sess = self._parse(sid, await self.redis.hgetall(self._key(sid)))
        if sess is None:
            return None
        now = clock.timestamp()
        if now >= sess.expires or now - sess.last_seen >= self.idle:
            await self.delete(sid, sess.user_id)
            return None
        if now - sess.last_seen >= self.touch_every:
            ttl = int(min(self.idle, sess.expires - now)) + 1
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(self._key(sid), "last_seen", now)
                pipe.expire(self._key(sid), ttl)
                await pipe.execute()
            sess.last_seen = now
        return sess

    async def delete(self, sid: str, user_id: str | None = None) -> bool:
        """Revoke one session by public id; True if it existed."""
        if user_id is None:
            user_id = await self.redis.hget(self._key(sid), "user_id")
        deleted = await self.redis.delete(self._key(sid))
        if user_id:
            await self.redis.srem(self._user_key(user_id), sid)
        return bool(deleted)

    async def list_for_user(self, user_id: str) -> list[Session]:
        """The user's live sessions, newest first (forgetting ids whose session expired)."""
        sids = sorted(await self.redis.smembers(self._user_key(user_id)))
        if not sids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for sid in sids:
                pipe.hgetall(self._key(sid))
            rows = await pipe.execute()
        live, dead = [], []
        now = clock.timestamp()
        for sid, data in zip(sids, rows):
            sess = self._parse(sid, data)
            if sess is None or now >= sess.expires or now - sess.last_seen >= self.idle:
                dead.append(sid)
            else:
                live.append(sess)
        if dead:
            await self.redis.srem(self._user_key(user_id), *dead)
            await self.redis.delete(*[self._key(s) for s in dead])
        return sorted(live, key=lambda s: s.created, reverse=True)

    async def delete_for_user(self, user_id: str, keep: str | None = None) -> int:
        """Revoke every session of the user (except ``keep``); returns how many."""
        sids = [s for s in await self.redis.smembers(self._user_key(user_id)) if s != keep]
        if not sids:
            return 0
        n = await self.redis.delete(*[self._key(s) for s in sids])
        await self.redis.srem(self._user_key(user_id), *sids)
        return n
