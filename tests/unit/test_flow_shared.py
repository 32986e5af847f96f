"""Calls per PBX and the idle clock shared by Pult instances through Redis (and in memory)."""
from __future__ import annotations

import uuid

import redis.asyncio as aioredis

from esl_control.flow.shared import STALE_AFTER, LocalCallState, RedisCallState


async def test_two_instances_see_each_others_calls_and_idle_times(redis):
    prefix = f"test:{uuid.uuid4().hex}"
    clock = [1000.0]
    a = RedisCallState(redis, prefix=prefix, now=lambda: clock[0])
    b = RedisCallState(redis, prefix=prefix, now=lambda: clock[0])
    assert await a.enter(101, "call-1") == 1
    assert await b.enter(101, "call-2") == 2
    assert await b.enter(102, "call-3") == 1  # another PBX counts apart
    await a.leave(101, "call-1")
    assert await a.enter(101, "call-4") == 2
    await a.finished(101, "employee:e1")
    clock[0] = 1010.0
    await b.finished(101, "external:7916")
    assert await b.idle_since(101, ["employee:e1", "external:7916", "employee:never"]) == {
        "employee:e1": 1000.0, "external:7916": 1010.0, "employee:never": 0.0}
    # a call counted by an instance that died is dropped after STALE_AFTER
    clock[0] += STALE_AFTER + 1
    assert await a.enter(101, "call-5") == 1


async def test_a_call_counts_into_its_pbx_and_trunk_together(redis):
    """A call from a customer's trunk is counted against the PBX and the trunk's lines at once
    (one Redis round trip); another instance sees both, and both are counted out together."""
    prefix = f"test:{uuid.uuid4().hex}"
    a, b = RedisCallState(redis, prefix=prefix), RedisCallState(redis, prefix=prefix)
    assert await a.enter_all([101, "trunk:t1"], "call-1") == [1, 1]
    assert await b.enter_all([101, "trunk:t1"], "call-2") == [2, 2]
    assert await b.enter(101, "call-3") == 3  # not through the trunk
    await a.leave_all([101, "trunk:t1"], "call-1")
    assert await b.enter_all([101, "trunk:t1"], "call-4") == [3, 2]
    local = LocalCallState()
    assert await local.enter_all([101, "trunk:t1"], "c1") == [1, 1]
    await local.leave_all([101, "trunk:t1"], "c1")
    assert local.calls == {}


async def test_redis_down_never_stops_a_call():
    down = RedisCallState(aioredis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2))
    assert await down.enter(101, "c") is None  # unknown: the limit is not applied
    assert await down.enter_all([101, "trunk:t1"], "c") == [None, None]
    await down.leave_all([101, "trunk:t1"], "c")
    await down.leave(101, "c")
    assert await down.idle_since(101, ["a", "b"]) == {"a": 0.0, "b": 0.0}


async def test_local_state_counts_per_pbx():
    s = LocalCallState()
    assert [await s.enter(1, "a"), await s.enter(1, "b"), await s.enter(2, "c")] == [1, 2, 1]
    await s.leave(1, "a")
    assert await s.enter(1, "d") == 2


async def test_a_finished_call_leaves_its_pbx_and_every_trunk_line_in_one_round_trip(redis):
    """The call-record hook counts an ended call out of its PBX, the trunk it came in through and
    the lines it rang out through (as itself and as "<uuid>/out") in one pipeline."""
    prefix = f"test:{uuid.uuid4().hex}"
    state = RedisCallState(redis, prefix=prefix)
    await state.enter_all([101, "trunk:in"], "c1")
    await state.enter_all(["trunk:out"], "c1")
    await state.enter_all(["trunk:in"], "c1/out")
    await state.enter(101, "c2")
    executed = []
    real_pipeline = redis.pipeline

    def counting_pipeline(*a, **kw):
        pipe = real_pipeline(*a, **kw)
        real_execute = pipe.execute

        async def execute(*ea, **ekw):
            executed.append(len(pipe.command_stack))
            return await real_execute(*ea, **ekw)
        pipe.execute = execute
        return pipe

    redis.pipeline = counting_pipeline
    try:
        await state.leave_each([(101, "c1"), ("trunk:in", "c1"), ("trunk:in", "c1/out"),
                                ("trunk:out", "c1"), ("trunk:out", "c1/out")])
    finally:
        redis.pipeline = real_pipeline
    assert executed == [5]  # one round trip for all five
    assert await state.enter_all([101, "trunk:in", "trunk:out"], "c3") == [2, 1, 1]  # only c2 and c3 left
    local = LocalCallState()
    await local.enter_all([101, "trunk:in"], "c1")
    await local.leave_each([(101, "c1"), ("trunk:in", "c1")])
    assert local.calls == {}
