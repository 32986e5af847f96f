"""The change counters of several Pult processes on one MongoDB, kept current through Redis.

    feed = RedisChangeFeed(store.versions, settings.redis_url).attach()   # open_store does this

Every write to the configuration made in this process (its :class:`storage.versions.LocalVersions`
bumped) is published on :data:`CHANNEL` before the write call returns; every notice another
process published bumps this process's copy. A reader asks :meth:`poll` (through
``LocalVersions.complete``) before it trusts the copy: the notices waiting on the subscription's
socket are applied first, without waiting, so a write whose publication returned before a lookup
arrived is in that lookup's answer.

When the copy cannot be trusted, :meth:`poll` says so and the reader reads the store's counters
(one read, as without a feed): before the first subscription, and from a lost connection until
the subscription is back. A (re)subscription starts a new epoch of the copy (notices may have
been missed meanwhile), so nothing kept before it is served. A publication that fails (this
process's Redis connection down while the others' are up) is caught up by :meth:`reconcile`:
a thread compares the store's counters with the last ones it saw every ``reconcile_seconds`` and
bumps what moved, so such a write is in the others' answers within that time at worst.

Connecting and reconciling happen in the feed's own thread; the reader's path never waits on the
network (a non-blocking read of the socket).
"""
from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from typing import Any

import redis

from .versions import COLLECTION, LocalVersions

log = logging.getLogger("pult.storage.change_feed")

#: The channel of the change notices: ``[origin, [counter keys]]``.
CHANNEL = "pult:change_versions"


class RedisChangeFeed:
    """Publishes this process's writes and applies the others' (see the module docstring)."""

    def __init__(self, local: LocalVersions, redis_url: str, *, channel: str = CHANNEL,
                 sync_db: Any = None, reconcile_seconds: float = 5.0, retry_seconds: float = 1.0):
        self.local = local
        self.channel = channel
        self.origin = uuid.uuid4().hex
        self.sync_db = sync_db  # the raw synchronous database, for reconcile (optional)
        self.reconcile_seconds = reconcile_seconds
        self.retry_seconds = retry_seconds
        self._redis = redis.Redis.from_url(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5,
                                           health_check_interval=10)
        self._pubsub: Any = None  # live subscription (handed over by the thread), drained by poll
        self._poll_lock = threading.Lock()
        self._wanted = threading.Event()  # a reader asked: connect
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._seen: dict[Any, int] | None = None
        self._publish_down_until = 0.0
        self._reconnected = False

    # --- wiring -------------------------------------------------------------------------------
    def attach(self) -> "RedisChangeFeed":
        self.local.feed = self
        self.local.on_local_write.append(self.publish)
        return self

    def close(self) -> None:
        self._stop.set()
        self._wanted.set()
        if self.local.feed is self:
            self.local.feed = None
        if self.publish in self.local.on_local_write:
            self.local.on_local_write.remove(self.publish)
        if self._thread is not None:
            self._thread.join(2)
        self._drop()
        self._redis.close()

    # --- publishing ---------------------------------------------------------------------------
    def publish(self, keys: set) -> None:
        if time.monotonic() < self._publish_down_until:
            return  # Redis just failed: do not stall every write; reconcile catches the others up
        try:
            self._redis.publish(self.channel, json.dumps([self.origin, sorted(keys, key=str)]))
        except redis.RedisError as exc:
            self._publish_down_until = time.monotonic() + self.retry_seconds
            log.warning("change feed: could not publish %s (%s); the other processes see it when "
                        "they reconcile", sorted(keys, key=str), exc)

    # --- subscribing --------------------------------------------------------------------------
    @property
    def live(self) -> bool:
        return self._pubsub is not None

    def poll(self) -> bool:
        """Apply the notices waiting on the socket (never waits); True when the subscription is
        live, i.e. this process's copy of the counters is complete."""
        self._start()
        pubsub = self._pubsub
        if pubsub is None:
            return False
        with self._poll_lock:
            try:
                while True:
                    msg = pubsub.get_message(ignore_subscribe_messages=True, timeout=0)
                    if self._reconnected:  # redis-py reconnected on its own: notices were lost
                        raise redis.ConnectionError("the subscription's connection was re-established")
                    if msg is None:
                        return self._pubsub is pubsub
                    self._apply(msg)
            except (redis.RedisError, OSError, ValueError) as exc:
                log.warning("change feed: subscription lost (%s); reading the store's counters until "
                            "it is back", exc)
                self._drop()
                self._wanted.set()
                return False

    def _apply(self, msg: dict) -> None:
        if msg.get("type") != "message":
            return
        try:
            origin, keys = json.loads(msg["data"])
        except (TypeError, ValueError):
            return
        if origin != self.origin:
            self.local.bump((k for k in keys), remote=True)

    def _drop(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            try:
                pubsub.close()
            except Exception:  # closing a broken connection
                pass

    def _start(self) -> None:
        if self._thread is None:
            with self._poll_lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="pult-change-feed", daemon=True)
                    self._thread.start()

    def _subscribe(self) -> None:
        pubsub = self._redis.pubsub()
        pubsub.subscribe(self.channel)
        # the subscription is confirmed before anything published after it can be missed
        while True:
            msg = pubsub.get_message(timeout=self.retry_seconds)
            if msg is None:
                raise redis.ConnectionError("no subscription confirmation")
            if msg.get("type") == "subscribe":
                break
        # redis-py re-subscribes by itself after a lost connection, silently: notices published
        # meanwhile are lost, so such a reconnection ends this subscription (see poll)
        self._reconnected = False
        pubsub.connection.register_connect_callback(self._on_reconnect)
        self.local.new_epoch()  # notices may have been missed before: nothing kept is current
        self._pubsub = pubsub

    def _on_reconnect(self, connection: Any) -> None:
        self._reconnected = True

    def _run(self) -> None:
        next_reconcile = time.monotonic() + self.reconcile_seconds
        while not self._stop.is_set():
            if self._pubsub is None:
                try:
                    self._subscribe()
                except (redis.RedisError, OSError) as exc:
                    log.info("change feed: cannot subscribe (%s); retrying", exc)
            self._wanted.wait(self.retry_seconds if self._pubsub is None else
                              max(0.0, next_reconcile - time.monotonic()))
            self._wanted.clear()
            if time.monotonic() >= next_reconcile:
                next_reconcile = time.monotonic() + self.reconcile_seconds
                self.reconcile()

    def reconcile(self) -> None:
        """Bump the counters that moved in the store since the last look (a lost notice)."""
        if self.sync_db is None:
            return
        try:
            now = {d["_id"]: d.get("v", 0) for d in self.sync_db[COLLECTION].find({})}
        except Exception as exc:  # the store is unreachable: the readers will find out
            log.info("change feed: cannot reconcile (%s)", exc)
            return
        seen, self._seen = self._seen, now
        if seen is None:
            return
        moved = [k for k, v in now.items() if seen.get(k) != v]
        if moved:
            self.local.bump(moved, remote=True)
