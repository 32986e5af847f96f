"""Live Pult instances in Redis: what the dialplan answer names (esl_control/instances.py)."""
from __future__ import annotations

import uuid

import pytest
import redis.asyncio as aioredis

from esl_control.instances import OutboundInstances


async def test_each_instance_names_itself_first_then_the_live_others(redis):
    key = f"test:outbound:{uuid.uuid4().hex}"
    clock = [1000.0]
    a = OutboundInstances(redis, lambda: ("10.0.0.1", 8084), key=key, ttl=10, interval=3, now=lambda: clock[0])
    b = OutboundInstances(redis, lambda: ("10.0.0.2", 8084), key=key, ttl=10, interval=3, now=lambda: clock[0])
    assert a.addresses() == [("10.0.0.1", 8084)]  # before any beat: itself only
    await a.beat()
    await b.beat()
    await a.beat()
    assert a.addresses() == [("10.0.0.1", 8084), ("10.0.0.2", 8084)]
    assert b.addresses() == [("10.0.0.2", 8084), ("10.0.0.1", 8084)]
    # b stops cleanly: out of a's answers at its next beat
    await b.leave()
    await a.beat()
    assert a.addresses() == [("10.0.0.1", 8084)]
    # b comes back, then dies without a word: out once its last beat is older than the ttl
    await b.beat()
    await a.beat()
    assert ("10.0.0.2", 8084) in a.addresses()
    clock[0] += 9
    await a.beat()
    assert ("10.0.0.2", 8084) in a.addresses()
    clock[0] += 2
    await a.beat()
    assert a.addresses() == [("10.0.0.1", 8084)]
    assert await redis.zrange(key, 0, -1) == ["10.0.0.1:8084"]
    await redis.delete(key)


async def test_an_instance_without_its_outbound_server_is_not_named(redis):
    key = f"test:outbound:{uuid.uuid4().hex}"
    own = [None]
    a = OutboundInstances(redis, lambda: own[0], key=key)
    b = OutboundInstances(redis, lambda: ("10.0.0.2", 8084), key=key)
    await b.beat()
    await a.beat()
    assert a.addresses() == [("10.0.0.2", 8084)]  # it sends its calls to a live one
    await b.leave()
    await a.beat()
    assert a.addresses() is None  # nobody: the dialplan answers "not found" and logs it
    await redis.delete(key)


async def test_without_redis_an_instance_names_only_itself():
    down = aioredis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    a = OutboundInstances(down, lambda: ("10.0.0.1", 8084))
    a._others = [("10.0.0.2", 8084)]  # known before Redis went away
    await a.beat()
    assert a.addresses() == [("10.0.0.1", 8084)]
    await a.leave()  # logged, not raised
    await down.aclose()


def test_the_heartbeat_must_be_shorter_than_the_ttl():
    with pytest.raises(ValueError):
        OutboundInstances(None, lambda: None, ttl=3, interval=3)


async def test_a_stopping_instance_asks_redis_who_is_left_after_it_left(redis):
    key = f"test:outbound:{uuid.uuid4().hex}"
    clock = [1000.0]
    a = OutboundInstances(redis, lambda: ("10.0.0.1", 8084), key=key, ttl=10, interval=3, now=lambda: clock[0])
    b = OutboundInstances(redis, lambda: ("10.0.0.2", 8084), key=key, ttl=10, interval=3, now=lambda: clock[0])
    await a.beat()
    await a.leave()
    assert await a.live_others() == []  # nobody to hand the calls to: the callers hear the goodbye
    await b.beat()
    await a.beat()
    await a.leave()
    assert await a.live_others() == [("10.0.0.2", 8084)]
    clock[0] += 11  # b's last beat is stale: it died
    assert await a.live_others() == []
    await redis.delete(key)
