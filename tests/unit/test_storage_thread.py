"""The embedded store's thread hands its outcomes to the event loop in batches (one wake-up for
all that arrived meanwhile): each caller still gets its own result or error, a caller that gave
up before its operation started has it skipped, and other loops (the FreeSWITCH port's) are
served alike."""
from __future__ import annotations

import asyncio
import threading

import pytest

from storage.client import open_store


async def test_batched_outcomes_reach_their_own_callers_and_a_cancelled_one_is_skipped(settings):
    st = open_store(settings)
    await st.start()
    engine = st.engine
    gate = threading.Event()
    ran: list[int] = []

    def blocked():
        gate.wait(10)
        return "first"

    def op(i: int):
        ran.append(i)
        if i % 7 == 3:
            raise ValueError(f"bad {i}")
        return i * 10

    first = asyncio.ensure_future(engine.run(blocked))
    await asyncio.sleep(0.05)  # the store thread is held: everything below queues behind it
    tasks = [asyncio.ensure_future(engine.run(op, i)) for i in range(40)]
    await asyncio.sleep(0.05)
    tasks[5].cancel()  # its caller gives up before it started
    await asyncio.sleep(0)
    gate.set()
    assert await first == "first"
    for i, t in enumerate(tasks):
        if i == 5:
            with pytest.raises(asyncio.CancelledError):
                await t
        elif i % 7 == 3:
            with pytest.raises(ValueError, match=f"bad {i}"):
                await t
        else:
            assert await t == i * 10
    assert 5 not in ran and sorted(ran) == [i for i in range(40) if i != 5]

    # a loop of another thread (as the FreeSWITCH port's) awaits the same store
    def other_loop():
        async def main():
            return await asyncio.gather(*(engine.run(op, i) for i in (100, 102, 104)))
        return asyncio.run(main())

    assert await asyncio.to_thread(other_loop) == [1000, 1020, 1040]
    await st.close()
